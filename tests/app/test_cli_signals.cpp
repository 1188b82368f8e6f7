// lethe-cli stopped by SIGTERM (scancel, a cluster's time limit) or SIGUSR1 (Slurm's --signal ahead of the limit):
// the run in progress writes its checkpoint at the step it stopped at and exits with code 75, and running the
// command again goes on from that step to the model, steps.csv and figures of a run that was never interrupted.
// The tiny CIFAR model of test_cli and the tiny Stable Diffusion of test_cli_t2i keep each run to seconds.
#include "core/io/safetensors.h"

#include "cli_runner.h"
#include "test_support.h"
#include "tiny_edm.h"
#include "tiny_sd.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QElapsedTimer>
#include <QProcess>
#include <QtTest>

#include <csignal>
#include <functional>
#include <set>
#include <string>

using namespace lethe;
using namespace lethe::test;

namespace {

constexpr int kExitCheckpointed = 75;

/// steps.csv's rows without the seconds each step took (the last column), the only one that differs between runs.
std::vector<std::string> rowsWithoutSeconds(const std::filesystem::path& csv)
{
    std::vector<std::string> out;
    for (const auto& line : lines(csv))
        out.push_back(line.substr(0, line.rfind(',')));
    return out;
}

/// results.csv's rows without run_seconds and eval_seconds (the last two columns).
std::vector<std::string> rowsWithoutTimes(const std::filesystem::path& csv)
{
    std::vector<std::string> out;
    for (const auto& line : lines(csv)) {
        const auto evalComma = line.rfind(',');
        out.push_back(line.substr(0, line.rfind(',', evalComma - 1)));
    }
    return out;
}

/// The step numbers of steps.csv's rows, in order.
std::vector<std::int64_t> stepNumbers(const std::filesystem::path& csv)
{
    std::vector<std::int64_t> steps;
    const std::vector<std::string> rows = lines(csv);
    for (std::size_t i = 1; i < rows.size(); ++i)
        steps.push_back(std::stoll(rows[i]));
    return steps;
}

std::vector<std::int64_t> oneTo(std::int64_t n)
{
    std::vector<std::int64_t> steps;
    for (std::int64_t i = 1; i <= n; ++i)
        steps.push_back(i);
    return steps;
}

/// Whether `text` ends with `tail`.
bool endsWith(const std::string& text, const std::string& tail)
{
    return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

/// Every tensor of two model files is equal.
void compareModels(const std::filesystem::path& expected, const std::filesystem::path& actual)
{
    const io::SafetensorsFile a(expected);
    const io::SafetensorsFile b(actual);
    QCOMPARE(a.entries().size(), b.entries().size());
    for (const auto& entry : a.entries())
        QVERIFY2(torch::equal(a.tensor(entry.name), b.tensor(entry.name)), entry.name.c_str());
}

/// lethe-cli's command line as the test starts it, as the resume message writes it.
std::string commandLine(const Args& arguments)
{
    std::string line = std::string(LETHE_CLI_PATH) + " --threads 1";
    for (const auto& a : arguments)
        line += " " + a;
    return line;
}

/// Runs the resume command `args` of the run stopped at `step` in `dir`: it says so, goes on to `steps`, removes the
/// checkpoint, and ends with the rows and model (model.safetensors) of the uninterrupted run in `straight`.
void resumeToTheStraightRun(const Args& args, const std::filesystem::path& dir, const std::filesystem::path& straight,
    std::int64_t step, std::int64_t steps)
{
    const auto checkpoint = dir / "checkpoint.safetensors";
    const Result resumed = runCli(args);
    QVERIFY2(resumed.exitCode == 0, resumed.err.c_str());
    QVERIFY2(resumed.err.find("resuming from " + checkpoint.string() + " at step " + std::to_string(step) + "\n")
            != std::string::npos,
        resumed.err.c_str());
    QVERIFY(!std::filesystem::exists(checkpoint));
    QCOMPARE(stepNumbers(dir / "steps.csv"), oneTo(steps));
    QCOMPARE(rowsWithoutSeconds(dir / "steps.csv"), rowsWithoutSeconds(straight / "steps.csv"));
    compareModels(straight / "model.safetensors", dir / "model.safetensors");
}

struct Stopped {
    int exitCode = -1;
    bool normalExit = false;
    std::string err;
};

/// Starts lethe-cli with `arguments`, waits until `ready` holds, calls `signal` with the process and waits for it.
Stopped startAndSignal(
    const Args& arguments, const std::function<bool()>& ready, const std::function<void(QProcess&)>& signal)
{
    QStringList list { QStringLiteral("--threads"), QStringLiteral("1") };
    for (const auto& a : arguments)
        list << QString::fromStdString(a);
    QProcess process;
    process.start(QStringLiteral(LETHE_CLI_PATH), list);
    if (!process.waitForStarted())
        qFatal("lethe-cli did not start");
    QElapsedTimer waited;
    waited.start();
    while (!ready() && process.state() == QProcess::Running && waited.elapsed() < 120000)
        QTest::qWait(5);
    if (process.state() == QProcess::Running)
        signal(process);
    if (!process.waitForFinished(60000))
        qFatal("lethe-cli did not stop after the signal");
    return { process.exitCode(), process.exitStatus() == QProcess::NormalExit,
        process.readAllStandardError().toStdString() };
}

} // namespace

class TestCliSignals : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void unlearnStoppedBySigtermResumesInsideTheRun();
    void sweepStoppedBySigusr1ResumesTheRunInProgress();
    void unlearnConceptStoppedBySigtermResumesInsideTheRun_data();
    void unlearnConceptStoppedBySigtermResumesInsideTheRun();

private:
    test::ScratchDir m_dir;
    std::filesystem::path m_model;
    std::filesystem::path m_data;
    std::filesystem::path m_classifier;
};

void TestCliSignals::initTestCase()
{
    m_data = m_dir / "cifar";
    test::writeCifarFolder(m_data, 20); // 100 training images, 10 per class.
    m_model = m_dir / "base.safetensors";
    test::writeTinyCifarModel(m_model);
    m_classifier = m_dir / "classifier.safetensors";
    test::writeTinyCifarClassifier(m_classifier);
}

void TestCliSignals::unlearnStoppedBySigtermResumesInsideTheRun()
{
    const std::int64_t steps = 60;
    // Snapshots every 4 steps flush steps.csv; the stop comes between two of them.
    const Args common = Args { "unlearn", "--forget-class", "3", "--steps", std::to_string(steps), "--snapshot-every",
        "4", "--model", q(m_model), "--data", q(m_data), "--forget-batch", "2", "--remain-per-class", "2",
        "--remain-batch", "4", "--preview-seeds", "0,1", "--no-eval" };
    const auto straight = m_dir / "unlearn-straight";
    const Result whole = runCli(common + Args { "--out", q(straight) });
    QVERIFY2(whole.exitCode == 0, whole.err.c_str());

    const auto dir = m_dir / "unlearn-stopped";
    const Args args = common + Args { "--out", q(dir) };
    const auto csv = dir / "steps.csv";
    // Two SIGTERMs at once: the second arrives while the first is being handled and changes nothing.
    const Stopped stopped = startAndSignal(
        args, [&] { return std::filesystem::exists(csv) && lines(csv).size() > 5; },
        [](QProcess& process) {
            process.terminate();
            process.terminate();
        });
    QVERIFY2(stopped.normalExit, stopped.err.c_str());
    QCOMPARE(stopped.exitCode, kExitCheckpointed);
    const auto checkpoint = dir / "checkpoint.safetensors";
    QVERIFY2(std::filesystem::exists(checkpoint), stopped.err.c_str());
    const std::int64_t step = io::SafetensorsFile(checkpoint).tensor("run.step").item<std::int64_t>();
    QVERIFY2(step >= 4 && step < steps, std::to_string(step).c_str());
    // The checkpoint is at the step the run stopped at, not at the last snapshot: steps.csv ends there.
    QCOMPARE(stepNumbers(csv), oneTo(step));
    QVERIFY(!std::filesystem::exists(dir / "model.safetensors"));
    const std::string message = "SIGTERM: the run stopped after step " + std::to_string(step) + " of "
        + std::to_string(steps) + " and wrote its checkpoint " + checkpoint.string()
        + " (exit code 75)\nresume it with: " + commandLine(args) + " --resume\n";
    QVERIFY2(stopped.err.size() >= message.size()
            && stopped.err.compare(stopped.err.size() - message.size(), message.size(), message) == 0,
        stopped.err.c_str());

    // The printed command goes on from that step to the uninterrupted run's model and rows.
    resumeToTheStraightRun(args + Args { "--resume" }, dir, straight, step, steps);
}

void TestCliSignals::sweepStoppedBySigusr1ResumesTheRunInProgress()
{
    // Two measured runs (graddiff λ 1 and 5); SIGUSR1 stops the second one.
    const std::int64_t steps = 200;
    const Args grid { "sweep", "--forget-classes", "2", "--methods", "graddiff", "--lambdas", "1,5", "--steps",
        std::to_string(steps), "--model", q(m_model), "--data", q(m_data), "--classifier", q(m_classifier),
        "--eval-per-class", "2", "--forget-batch", "2", "--remain-per-class", "2", "--remain-batch", "4",
        "--preview-seeds", "0,1", "--keep-models" };
    const auto straight = m_dir / "sweep-straight";
    const Result whole = runCli(grid + Args { "--out", q(straight) });
    QVERIFY2(whole.exitCode == 0, whole.err.c_str());

    const auto dir = m_dir / "sweep-stopped";
    const Args args = grid + Args { "--out", q(dir) };
    // The first run is recorded once results.csv has the base model's row and its own.
    const Stopped stopped = startAndSignal(
        args, [&] { return std::filesystem::exists(dir / "results.csv") && lines(dir / "results.csv").size() == 3; },
        [](QProcess& process) {
            QTest::qWait(500); // Into the second run's steps.
            ::kill(static_cast<pid_t>(process.processId()), SIGUSR1);
        });
    QVERIFY2(stopped.normalExit, stopped.err.c_str());
    QCOMPARE(stopped.exitCode, kExitCheckpointed);
    // The second run's checkpoint, named as its kept model will be: graddiff-class2-a0.1-l5.
    const auto checkpoint = dir / "checkpoints" / "graddiff-class2-a0.1-l5.safetensors";
    QVERIFY2(std::filesystem::exists(checkpoint), stopped.err.c_str());
    QCOMPARE(std::distance(std::filesystem::directory_iterator(dir / "checkpoints"), {}), std::ptrdiff_t { 1 });
    const std::int64_t step = io::SafetensorsFile(checkpoint).tensor("run.step").item<std::int64_t>();
    QVERIFY2(step > 0 && step < steps, std::to_string(step).c_str());
    const std::string message = "SIGUSR1: this run stopped after step " + std::to_string(step) + " of "
        + std::to_string(steps) + " and wrote its checkpoint " + checkpoint.string()
        + " (exit code 75)\nresume it with: " + commandLine(args) + "\n";
    QVERIFY2(stopped.err.size() >= message.size()
            && stopped.err.compare(stopped.err.size() - message.size(), message.size(), message) == 0,
        stopped.err.c_str());
    QCOMPARE(lines(dir / "results.csv").size(), std::size_t { 3 }); // The stopped run is not recorded.

    // The same command resumes the second run from its checkpoint, to the uninterrupted sweep's figures and models.
    const Result resumed = runCli(args);
    QVERIFY2(resumed.exitCode == 0, resumed.err.c_str());
    QVERIFY2(resumed.err.find("1 already done, 1 to run") != std::string::npos, resumed.err.c_str());
    QVERIFY2(resumed.err.find("    resuming from " + checkpoint.string() + " at step " + std::to_string(step) + "\n")
            != std::string::npos,
        resumed.err.c_str());
    QVERIFY(!std::filesystem::exists(dir / "checkpoints"));
    QCOMPARE(rowsWithoutTimes(dir / "results.csv"), rowsWithoutTimes(straight / "results.csv"));
    for (const char* name : { "graddiff-class2-a0.1-l1.safetensors", "graddiff-class2-a0.1-l5.safetensors" })
        compareModels(straight / "models" / name, dir / "models" / name);
}

void TestCliSignals::unlearnConceptStoppedBySigtermResumesInsideTheRun_data()
{
    QTest::addColumn<QString>("method");
    QTest::newRow("rgd") << QStringLiteral("rgd"); // Every UNet parameter.
    // ESD's teacher is the base UNet's trained parameters as they were before the first step, kept beside the run;
    // ESD-x trains only the cross-attention.
    QTest::newRow("esd-x") << QStringLiteral("esd-x");
    // SalUn's saliency mask comes from the base weights, before the checkpoint's are loaded.
    QTest::newRow("salun") << QStringLiteral("salun");
}

void TestCliSignals::unlearnConceptStoppedBySigtermResumesInsideTheRun()
{
    QFETCH(QString, method);
    const std::string name = "concept-" + method.toStdString();
    const std::filesystem::path model = m_dir / "tiny-sd";
    if (!std::filesystem::exists(model)) {
        test::writeTinyDiffusersFolder(model, false);
        test::writeBytes(m_dir / "concept-forget.json", R"(["a red shoe", "a blue shoe", "a red hat"])");
        test::writeBytes(m_dir / "concept-remain.json", R"(["a green bag", "a blue bag", "a green cap"])");
    }
    const std::int64_t steps = 100;
    // Snapshots every 4 steps flush steps.csv; the stop comes between two of them. The images are drawn once, into
    // a cache every run of the test shares.
    const Args common = Args { "unlearn-concept", "--model", q(model), "--forget", q(m_dir / "concept-forget.json"),
        "--remain", q(m_dir / "concept-remain.json"), "--method", method.toStdString(), "--steps",
        std::to_string(steps), "--snapshot-every", "4", "--lr", "1e-3", "--forget-batch", "2", "--remain-batch", "2",
        "--gen-steps", "1", "--preview-prompts", "1", "--preview-seeds", "0", "--images", q(m_dir / "concept-images") };
    const auto straight = m_dir / (name + "-straight");
    const Result whole = runCli(common + Args { "--out", q(straight) });
    QVERIFY2(whole.exitCode == 0, whole.err.c_str());

    const auto dir = m_dir / (name + "-stopped");
    const Args args = common + Args { "--out", q(dir) };
    const auto csv = dir / "steps.csv";
    const Stopped stopped = startAndSignal(
        args, [&] { return std::filesystem::exists(csv) && lines(csv).size() > 5; },
        [](QProcess& process) { process.terminate(); });
    QVERIFY2(stopped.normalExit, stopped.err.c_str());
    QCOMPARE(stopped.exitCode, kExitCheckpointed);
    const auto checkpoint = dir / "checkpoint.safetensors";
    QVERIFY2(std::filesystem::exists(checkpoint), stopped.err.c_str());
    const io::SafetensorsFile saved(checkpoint);
    const std::int64_t step = saved.tensor("run.step").item<std::int64_t>();
    QVERIFY2(step >= 4 && step < steps, std::to_string(step).c_str());
    // The trained parameters and their Adam moments, none other of the UNet.
    std::set<std::string> names;
    for (const auto& entry : saved.entries())
        names.insert(entry.name);
    const bool crossAttention = method == QStringLiteral("esd-x");
    const std::string probe
        = crossAttention ? "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight" : "conv_in.weight";
    QVERIFY(names.count("unet." + probe) == 1 && names.count("adam.exp_avg." + probe) == 1);
    QVERIFY(names.count("adam.step") == 1 && names.count("run.noise_rng") == 1);
    for (const auto& n : names)
        if (crossAttention && n.rfind("unet.", 0) == 0)
            QVERIFY2(n.find("attn2") != std::string::npos, n.c_str());
    QCOMPARE(stepNumbers(csv), oneTo(step));
    QVERIFY(!std::filesystem::exists(dir / "run.json"));
    const std::string message = "SIGTERM: the run stopped after step " + std::to_string(step) + " of "
        + std::to_string(steps) + " and wrote its checkpoint " + checkpoint.string()
        + " (exit code 75)\nresume it with: " + commandLine(args) + " --resume\n";
    QVERIFY2(endsWith(stopped.err, message), stopped.err.c_str());

    // The same command without --resume neither resumes nor starts over.
    const Result again = runCli(args);
    QCOMPARE(again.exitCode, 1);
    LETHE_COMPARE_STR(again.err,
        "error: " + q(dir)
            + " holds an interrupted concept run (checkpoint.safetensors): pass --resume to continue it, or --force "
              "to start over\n");

    // A checkpoint is resumed only by the run that wrote it: other settings, prompts or model are refused, naming the
    // first that differs; another file is not a concept checkpoint. Checked once: the same for every method.
    if (method == QStringLiteral("rgd")) {
        const nlohmann::json identity = nlohmann::json::parse(saved.metadata().at("lethe.concept_checkpoint"));
        const auto refused = [&](const std::string& label, const Args& changed) {
            const auto other = m_dir / (name + "-" + label);
            std::filesystem::create_directories(other);
            std::filesystem::copy_file(checkpoint, other / "checkpoint.safetensors");
            const Result r = runCli(changed + Args { "--out", q(other), "--resume" });
            if (r.exitCode != 1)
                qFatal("%s: exit code %d: %s", label.c_str(), r.exitCode, r.err.c_str());
            // The refusal comes once the model is loaded and the training images are at hand: what it printed before
            // is the usual.
            return std::make_pair(q(other / "checkpoint.safetensors"), r.err.substr(r.err.rfind("error: ")));
        };
        const auto [seedFile, seedErr] = refused("seed", common + Args { "--seed", "7" });
        LETHE_COMPARE_STR(seedErr,
            "error: " + seedFile + ": __metadata__ 'seed': the checkpoint's run used " + identity["seed"].dump()
                + ", this run 7\n");
        test::writeBytes(m_dir / (name + "-remain2.json"), R"(["a green bag", "a blue bag", "a pink cap"])");
        Args otherRemain = common;
        otherRemain[6] = q(m_dir / (name + "-remain2.json"));
        const auto [promptFile, promptErr] = refused("prompts", otherRemain);
        const std::string promptMessage = "error: " + promptFile
            + ": __metadata__ 'remain_prompts': the checkpoint's run used " + identity["remain_prompts"].dump()
            + ", this run \"";
        QVERIFY2(promptErr.rfind(promptMessage, 0) == 0 && promptErr.size() == promptMessage.size() + 64 + 2,
            promptErr.c_str());
        // The same weights in another folder whose model_index.json differs by a line break.
        const auto otherModel = m_dir / (name + "-model");
        std::filesystem::copy(model, otherModel, std::filesystem::copy_options::recursive);
        test::writeBytes(otherModel / "model_index.json", test::readBytes(model / "model_index.json") + "\n");
        Args modelChanged = common;
        modelChanged[2] = q(otherModel);
        const auto [modelFile, modelErr] = refused("model", modelChanged);
        const std::string modelMessage = "error: " + modelFile
            + ": __metadata__ 'model_sha256': the checkpoint's run used " + identity["model_sha256"].dump()
            + ", this run \"";
        QVERIFY2(
            modelErr.rfind(modelMessage, 0) == 0 && modelErr.size() == modelMessage.size() + 64 + 2, modelErr.c_str());
        const auto foreign = m_dir / (name + "-foreign");
        std::filesystem::create_directories(foreign);
        io::writeSafetensors(
            foreign / "checkpoint.safetensors", { { "run.step", torch::tensor({ 1 }, torch::kInt64) } });
        const Result notOurs = runCli(common + Args { "--out", q(foreign), "--resume" });
        QCOMPARE(notOurs.exitCode, 1);
        LETHE_COMPARE_STR(notOurs.err.substr(notOurs.err.rfind("error: ")),
            "error: " + q(foreign / "checkpoint.safetensors") + ": __metadata__: not a Lethe concept unlearning "
                + "checkpoint\n");
    }

    // The printed command goes on from that step to the uninterrupted run's rows, weights and images.
    resumeToTheStraightRun(args + Args { "--resume" }, dir, straight, step, steps);
    if (QTest::currentTestFailed())
        return;
    QVERIFY(test::readBytes(straight / "after.png") == test::readBytes(dir / "after.png"));
    QCOMPARE(nlohmann::json::parse(test::readBytes(dir / "run.json"))["resumed_from_step"].get<std::int64_t>(), step);
}

QTEST_APPLESS_MAIN(TestCliSignals)
#include "test_cli_signals.moc"
