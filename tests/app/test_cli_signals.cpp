// lethe-cli stopped by SIGTERM (scancel, a cluster's time limit) or SIGUSR1 (Slurm's --signal ahead of the limit):
// the run in progress writes its checkpoint at the step it stopped at and exits with code 75, and running the
// command again goes on from that step to the model, steps.csv and figures of a run that was never interrupted.
// The tiny CIFAR model of test_cli keeps each run to seconds.
#include "core/io/safetensors.h"

#include "cli_runner.h"
#include "test_support.h"
#include "tiny_edm.h"

#include <torch/torch.h>

#include <QElapsedTimer>
#include <QProcess>
#include <QtTest>

#include <csignal>
#include <functional>
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
    const Result resumed = runCli(args + Args { "--resume" });
    QVERIFY2(resumed.exitCode == 0, resumed.err.c_str());
    QVERIFY2(resumed.err.find("resuming from " + checkpoint.string() + " at step " + std::to_string(step) + "\n")
            != std::string::npos,
        resumed.err.c_str());
    QVERIFY(!std::filesystem::exists(checkpoint));
    QCOMPARE(stepNumbers(csv), oneTo(steps));
    QCOMPARE(rowsWithoutSeconds(csv), rowsWithoutSeconds(straight / "steps.csv"));
    compareModels(straight / "model.safetensors", dir / "model.safetensors");
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

QTEST_APPLESS_MAIN(TestCliSignals)
#include "test_cli_signals.moc"
