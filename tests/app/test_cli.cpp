// lethe-cli as a user runs it: unlearn into a run folder, export a snapshot, sweep and resume, and the
// messages of the ways these go wrong. A tiny model on a tiny CIFAR-10 folder keeps each run to seconds.
#include "core/models/edm/edm_config.h"
#include "core/models/edm/edm_precond.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_record.h"

#include "test_support.h"
#include "tiny_edm.h"
#include "tiny_sd.h"

#include <torch/torch.h>

#include <QProcess>
#include <QtTest>

using namespace lethe;

namespace {

struct Result {
    int exitCode = -1;
    std::string out;
    std::string err;
};

using Args = std::vector<std::string>;

Args operator+(Args a, const Args& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

Result runCli(const Args& arguments)
{
    QStringList list { QStringLiteral("--threads"), QStringLiteral("1") };
    for (const auto& a : arguments)
        list << QString::fromStdString(a);
    QProcess process;
    process.start(QStringLiteral(LETHE_CLI_PATH), list);
    if (!process.waitForFinished(300000))
        qFatal("lethe-cli did not finish");
    return { process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
        process.readAllStandardOutput().toStdString(), process.readAllStandardError().toStdString() };
}

std::string q(const std::filesystem::path& path)
{
    return path.string();
}

std::vector<std::string> lines(const std::filesystem::path& path)
{
    std::vector<std::string> out;
    std::istringstream in(test::readBytes(path));
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

/// `args` with the value of --lambdas replaced.
Args withLambdas(Args args, const std::string& lambdas)
{
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--lambdas")
            args[i + 1] = lambdas;
    return args;
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void unlearnWritesTheRunFolder();
    void unlearnRefusesToOverwriteARun();
    void unlearnRejectsAClassOutsideTheModel();
    void exportNamesTheStepsItHas();
    void sweepRecordsEveryRunAndResumes();
    void sweepRefusesOtherSettingsInItsFolder();
    void sweepReportsACorruptResultsFile();
    void generateConvertAndBenchATextToImageModel();

private:
    test::ScratchDir m_dir;
    std::filesystem::path m_model;
    std::filesystem::path m_data;
    Args m_small;
};

void TestCli::initTestCase()
{
    m_data = m_dir / "cifar";
    test::writeCifarFolder(m_data, 20); // 100 training images, 10 per class.
    m_model = m_dir / "base.safetensors";
    test::writeTinyCifarModel(m_model);
    m_small = { "--model", q(m_model), "--data", q(m_data), "--forget-batch", "2", "--remain-per-class", "2",
        "--remain-batch", "4", "--preview-seeds", "0,1", "--no-eval" };
}

void TestCli::unlearnWritesTheRunFolder()
{
    const auto run = m_dir / "run";
    const Result r = runCli(Args { "unlearn", "--forget-class", "3", "--steps", "4", "--snapshot-every", "2",
                                "--keep-snapshots", "--out", q(run) }
        + m_small);
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.out.find("finished after 4 steps") != std::string::npos, r.out.c_str());
    for (const char* name : { "model.safetensors", "run.json", "steps.csv", "before.png", "after.png", "compare.png",
             "snapshots/step-000002.safetensors", "snapshots/step-000004.safetensors" })
        QVERIFY2(std::filesystem::exists(run / name), name);
    const auto csv = lines(run / "steps.csv");
    QCOMPARE(csv.size(), std::size_t { 5 });
    LETHE_COMPARE_STR(csv[0], unlearn::kStepsCsvHeader);
    QVERIFY(csv[4].rfind("4,", 0) == 0);

    const store::EdmModel model = store::loadEdmModel(run / "model.safetensors", torch::kCPU);
    LETHE_COMPARE_STR(model.info.provenance.method, "unlearn rgd");
    LETHE_COMPARE_STR(model.info.provenance.parentSha256, store::loadEdmModel(m_model, torch::kCPU).sha256);
    QCOMPARE(model.info.provenance.steps, std::int64_t { 4 });
    QCOMPARE(model.info.provenance.hyperparameters.at("forget_class").get<int>(), 3);
    QVERIFY(model.info.provenance.command.find("unlearn --forget-class 3") != std::string::npos);
    const auto json = nlohmann::json::parse(test::readBytes(run / "run.json"));
    LETHE_COMPARE_STR(json.at("outcome").get<std::string>(), "finished");
    LETHE_COMPARE_STR(json.at("forget_class_name").get<std::string>(), "cat");
    QCOMPARE(json.at("steps").get<int>(), 4);

    // A kept snapshot exports to a model that loads, with the step it was taken at.
    const auto exported = m_dir / "step2.safetensors";
    const Result e = runCli({ "export", q(run), "--step", "2", "--out", q(exported) });
    QVERIFY2(e.exitCode == 0, e.err.c_str());
    QCOMPARE(store::loadEdmModel(exported, torch::kCPU).info.provenance.steps, std::int64_t { 2 });
    const Result list = runCli({ "export", q(run), "--list" });
    QVERIFY2(list.out.find("step 2 ") != std::string::npos && list.out.find("step 4 ") != std::string::npos,
        list.out.c_str());
}

void TestCli::unlearnRefusesToOverwriteARun()
{
    const auto run = m_dir / "once";
    QCOMPARE(runCli(Args { "unlearn", "--forget-class", "1", "--steps", "1", "--out", q(run) } + m_small).exitCode, 0);
    const std::string before = test::readBytes(run / "model.safetensors");
    const Result again = runCli(Args { "unlearn", "--forget-class", "2", "--steps", "1", "--out", q(run) } + m_small);
    QCOMPARE(again.exitCode, 1);
    LETHE_COMPARE_STR(again.err,
        "error: " + run.string() + " already holds a run (model.safetensors): choose another --out or pass --force\n");
    QVERIFY(test::readBytes(run / "model.safetensors") == before);
}

void TestCli::unlearnRejectsAClassOutsideTheModel()
{
    const Result r = runCli(Args { "unlearn", "--forget-class", "10", "--out", q(m_dir / "bad-class") } + m_small);
    QCOMPARE(r.exitCode, 1);
    LETHE_COMPARE_STR(r.err, "error: forget class 10 is outside 0–9 (" + m_model.string() + " has 10 classes)\n");
    QVERIFY(!std::filesystem::exists(m_dir / "bad-class"));
}

void TestCli::exportNamesTheStepsItHas()
{
    const auto run = m_dir / "no-snapshots";
    QCOMPARE(runCli(Args { "unlearn", "--forget-class", "1", "--steps", "1", "--out", q(run) } + m_small).exitCode, 0);
    const Result r = runCli({ "export", q(run), "--step", "7", "--out", q(m_dir / "x.safetensors") });
    QCOMPARE(r.exitCode, 1);
    LETHE_COMPARE_STR(
        r.err, "error: " + run.string() + " kept no snapshot of step 7 (kept: none; run with --keep-snapshots)\n");
    const Result file = runCli({ "export", q(run / "model.safetensors"), "--step", "1", "--out", q(m_dir / "y") });
    LETHE_COMPARE_STR(file.err,
        "error: --step and --list need a run folder; " + (run / "model.safetensors").string() + " is a file\n");
}

void TestCli::sweepRecordsEveryRunAndResumes()
{
    const auto dir = m_dir / "sweep";
    const Args args = Args { "sweep", "--forget-classes", "1,4", "--methods", "ga,graddiff", "--lambdas", "1,5",
        "--steps", "1", "--out", q(dir) }
        + m_small;
    const Result first = runCli(args);
    QVERIFY2(first.exitCode == 0, first.err.c_str());
    // GA ignores λ: per class one GA run and two GradDiff runs.
    QVERIFY2(first.err.find("sweep of 6 runs") != std::string::npos
            && first.err.find("0 already done, 6 to run") != std::string::npos,
        first.err.c_str());
    const auto rows = lines(dir / "results.csv");
    QCOMPARE(rows.size(), std::size_t { 7 });
    QVERIFY(rows[1].rfind("ga,1,automobile,0.1,,1,finished", 0) == 0);
    QVERIFY(rows[2].rfind("graddiff,1,automobile,0.1,1,1,finished", 0) == 0);
    QVERIFY(std::filesystem::exists(dir / "summary.txt"));
    QVERIFY(first.out.find("means over forget classes") != std::string::npos);

    // Run again with a larger grid: only the new runs happen.
    const Result second = runCli(withLambdas(args, "1,5,9"));
    QVERIFY2(second.exitCode == 0, second.err.c_str());
    QVERIFY2(second.err.find("6 already done, 2 to run") != std::string::npos, second.err.c_str());
    QCOMPARE(lines(dir / "results.csv").size(), std::size_t { 9 });
}

void TestCli::sweepRefusesOtherSettingsInItsFolder()
{
    const auto dir = m_dir / "sweep-settings";
    const Args args = Args { "sweep", "--forget-classes", "2", "--methods", "ga", "--out", q(dir) } + m_small;
    QCOMPARE(runCli(args + Args { "--steps", "1" }).exitCode, 0);
    const Result other = runCli(args + Args { "--steps", "2" });
    QCOMPARE(other.exitCode, 1);
    LETHE_COMPARE_STR(other.err,
        "error: " + dir.string()
            + " holds a sweep of another model or other settings (see sweep.json): choose another --out to start a "
              "new sweep\n");
}

void TestCli::sweepReportsACorruptResultsFile()
{
    const auto dir = m_dir / "sweep-corrupt";
    const Args args
        = Args { "sweep", "--forget-classes", "2", "--methods", "ga", "--steps", "1", "--out", q(dir) } + m_small;
    QCOMPARE(runCli(args).exitCode, 0);
    const std::string good = test::readBytes(dir / "results.csv");
    test::writeBytes(dir / "results.csv", good + "ga,3,cat,0.1\n");
    const Result truncated = runCli(args);
    QCOMPARE(truncated.exitCode, 1);
    LETHE_COMPARE_STR(
        truncated.err, "error: " + (dir / "results.csv").string() + ": line 3: expected 14 fields, found 4\n");
    test::writeBytes(dir / "results.csv", "step,loss\n");
    LETHE_COMPARE_STR(runCli(args).err,
        "error: " + (dir / "results.csv").string() + ": line 1 is not the results header this version writes\n");
}

void TestCli::generateConvertAndBenchATextToImageModel()
{
    const std::filesystem::path folder = m_dir / "tiny-sd";
    test::writeTinyDiffusersFolder(folder, true);
    const Args prompt { "--prompt", "a red sneaker", "--seed", "4-5", "--steps", "3" };
    const Result r = runCli(Args { "generate", "--model", q(folder), "--out", q(m_dir / "gen") } + prompt);
    QCOMPARE(r.exitCode, 0);
    LETHE_COMPARE_STR(r.out.substr(0, r.out.find(" in ")), "wrote 2 images of 16×16 to " + q(m_dir / "gen"));
    QVERIFY(r.err.find("loaded diffusers folder " + q(folder)) != std::string::npos);
    const auto record = nlohmann::json::parse(test::readBytes(m_dir / "gen" / "generate.json"));
    QCOMPARE(record["images"].size(), std::size_t { 2 });
    LETHE_COMPARE_STR(record["images"][1]["file"].get<std::string>(), "image-1-seed-5.png");
    const std::string png = test::readBytes(m_dir / "gen" / "image-1-seed-5.png");
    QVERIFY(png.rfind("\x89PNG", 0) == 0);

    // The folder is not overwritten without --force.
    const Result again = runCli(Args { "generate", "--model", q(folder), "--out", q(m_dir / "gen") } + prompt);
    QCOMPARE(again.exitCode, 1);
    LETHE_COMPARE_STR(again.err,
        "error: " + q(m_dir / "gen")
            + " already holds generated images (generate.json); choose another --out or pass --force\n");

    // As a CompVis single file, which needs the folder for its tokenizer: the same image, byte for byte.
    const std::filesystem::path single = m_dir / "tiny-sd.safetensors";
    QCOMPARE(runCli({ "convert-sd", "--model", q(folder), "--out", q(single) }).exitCode, 0);
    const Result noTokenizer = runCli(Args { "generate", "--model", q(single), "--out", q(m_dir / "gen2") } + prompt);
    QCOMPARE(noTokenizer.exitCode, 1);
    QVERIFY(noTokenizer.err.find("a CompVis single file carries no tokenizer") != std::string::npos);
    QVERIFY(!std::filesystem::exists(m_dir / "gen2" / "generate.json"));
    const Result fromSingle = runCli(
        Args { "generate", "--model", q(single), "--components", q(folder), "--out", q(m_dir / "gen2") } + prompt);
    QCOMPARE(fromSingle.exitCode, 0);
    QVERIFY(test::readBytes(m_dir / "gen2" / "image-1-seed-5.png") == png);

    const Result bench = runCli(
        { "bench", "generate", "--model", q(single), "--components", q(folder), "--steps", "2", "--runs", "2" });
    QCOMPARE(bench.exitCode, 0);
    QVERIFY2(bench.out.find("generate: median ") != std::string::npos
            && bench.out.find(" s/image (min ") != std::string::npos
            && bench.out.find("2 runs), peak RSS ") != std::string::npos,
        bench.out.c_str());
}

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
