// lethe-cli as a user runs it: unlearn into a run folder, export a snapshot, sweep and resume, split a sweep
// into tasks and merge them, and the messages of the ways these go wrong. A tiny model on a tiny CIFAR-10
// folder keeps each run to seconds.
#include "core/concept/prompt_set.h"
#include "core/imaging/image_file.h"
#include "core/io/safetensors.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_config.h"
#include "core/models/edm/edm_precond.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_record.h"

#include "test_support.h"
#include "tiny_clip.h"
#include "tiny_edm.h"
#include "tiny_sd.h"

#include <torch/torch.h>

#include <QProcess>
#include <QProcessEnvironment>
#include <QtTest>

#include <map>
#include <regex>
#include <set>

using namespace lethe;

namespace {

/// The keys every run.json has, class or concept (core's runManifest).
const char* const kCommonManifestKeys[] = { "format", "kind", "method", "config", "final_config", "parent_model",
    "parent_sha256", "device", "threads", "command", "started", "finished", "outcome", "message", "steps",
    "rollbacks", "truncated_steps", "projected_steps", "seconds", "steps_per_second" };

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

/// Runs lethe-cli with `environment` added to this process's, less any Slurm job-array variables.
Result runCli(const Args& arguments, const std::map<std::string, std::string>& environment = {})
{
    QStringList list { QStringLiteral("--threads"), QStringLiteral("1") };
    for (const auto& a : arguments)
        list << QString::fromStdString(a);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char* name :
        { "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX" })
        env.remove(QString::fromLatin1(name));
    for (const auto& [name, value] : environment)
        env.insert(QString::fromStdString(name), QString::fromStdString(value));
    QProcess process;
    process.setProcessEnvironment(env);
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

/// The rows of a results.csv without the wall-time columns run_seconds and eval_seconds (the last two), the
/// only ones that differ between two sweeps of the same grid.
std::vector<std::string> rowsWithoutTimes(const std::filesystem::path& path)
{
    std::vector<std::string> rows;
    for (const auto& line : lines(path)) {
        const auto evalComma = line.rfind(',');
        rows.push_back(line.substr(0, line.rfind(',', evalComma - 1)));
    }
    return rows;
}

/// summary.txt with its minutes (the run time) blanked: a row's before the outcome, a mean's before "min".
std::string summaryWithoutTimes(const std::filesystem::path& path)
{
    static const std::regex minutes(R"(\d+\.\d(  (finished|stopped|failed|measured)\n| min))");
    return std::regex_replace(test::readBytes(path), minutes, "#$1");
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
    void sweepSplitIntoTasksMergesToTheLocalTable();
    void sweepMergeRefusesMissingMixedAndUnfinishedTasks();
    void sweepRejectsABadTaskIndex();
    void generateConvertAndBenchATextToImageModel();
    void killedWhileWritingCheckpointsLeavesCompleteFiles();
    void killedUnlearnResumesToTheSameModel();
    void unlearnConceptWritesAReloadableRun();
    void clipAlignmentInEvalT2iUnlearnConceptAndClipScore();

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
    LETHE_COMPARE_STR(json.at("kind").get<std::string>(), "class");
    QCOMPARE(json.at("config").at("forget_class").get<int>(), 3);
    for (const char* key : kCommonManifestKeys)
        QVERIFY2(json.contains(key), key);

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

void TestCli::sweepSplitIntoTasksMergesToTheLocalTable()
{
    // Measured, so that the table has the base model's rows and UA, RA, FD_cls and KID_cls to compare.
    const auto classifierPath = m_dir / "classifier.safetensors";
    torch::manual_seed(3);
    io::ModelInfo info;
    info.classes = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };
    info.dataset = { { "name", "tiny cifar" }, { "resolution", 32 }, { "channels", 3 } };
    info.provenance.method = "train-classifier";
    models::saveClassifier(
        classifierPath, models::ResNetClassifier(models::ResNetClassifierOptions(3, 10).width(4).blocks({ 1 })), info);
    const Args grid { "sweep", "--forget-classes", "1,4", "--methods", "ga,graddiff", "--lambdas", "1,5", "--steps",
        "1", "--model", q(m_model), "--data", q(m_data), "--classifier", q(classifierPath), "--eval-per-class", "2",
        "--forget-batch", "2", "--remain-per-class", "2", "--remain-batch", "4", "--preview-seeds", "0,1" };
    const auto local = m_dir / "split-local";
    const Result whole = runCli(grid + Args { "--out", q(local) });
    QVERIFY2(whole.exitCode == 0, whole.err.c_str());

    // Four tasks, two numbered by hand and two by a Slurm job array's variables. The grid's six runs in
    // order (class 1: ga, graddiff λ 1, graddiff λ 5; then class 4) go to task i mod 4.
    const auto split = m_dir / "split";
    for (const int task : { 0, 2 }) {
        const Result r
            = runCli(grid + Args { "--out", q(split), "--task-index", std::to_string(task), "--task-count", "4" });
        QVERIFY2(r.exitCode == 0, r.err.c_str());
    }
    for (const int task : { 1, 3 }) {
        const Result r = runCli(grid + Args { "--out", q(split), "--task-index", "slurm" },
            { { "SLURM_ARRAY_TASK_ID", std::to_string(task) }, { "SLURM_ARRAY_TASK_COUNT", "4" },
                { "SLURM_ARRAY_TASK_MIN", "0" }, { "SLURM_ARRAY_TASK_MAX", "3" } });
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        if (task == 1)
            QVERIFY2(r.err.find("task 1 of 4: 2 of the sweep's 6 runs into " + q(split / "task-1-of-4" / "results.csv")
                         + ": 0 already done, 2 to run\n")
                    != std::string::npos,
                r.err.c_str());
    }
    // Task 0 measures the base model; the others only their runs.
    QCOMPARE(lines(split / "task-0-of-4" / "results.csv").size(), std::size_t { 1 + 2 + 2 });
    QCOMPARE(lines(split / "task-1-of-4" / "results.csv").size(), std::size_t { 1 + 2 });
    QCOMPARE(lines(split / "task-3-of-4" / "results.csv").size(), std::size_t { 1 + 1 });

    const Result merge = runCli({ "sweep-merge", "--out", q(split), q(split / "task-3-of-4"), q(split / "task-1-of-4"),
        q(split / "task-0-of-4"), q(split / "task-2-of-4") });
    QVERIFY2(merge.exitCode == 0, merge.err.c_str());
    QVERIFY2(merge.out.find("merged 4 tasks (8 rows): wrote " + q(split / "results.csv")) != std::string::npos,
        merge.out.c_str());

    // The same table as the local sweep's, row for row, but for the wall times.
    const auto merged = rowsWithoutTimes(split / "results.csv");
    const auto expected = rowsWithoutTimes(local / "results.csv");
    QCOMPARE(merged.size(), std::size_t { 1 + 2 + 6 });
    QVERIFY(merged[1].rfind("base,1,automobile,,,0,measured,", 0) == 0);
    QVERIFY(merged[3].rfind("ga,1,automobile,0.1,,1,finished,", 0) == 0);
    for (std::size_t i = 0; i < expected.size(); ++i)
        LETHE_COMPARE_STR(merged[i], expected[i]);
    LETHE_COMPARE_STR(summaryWithoutTimes(split / "summary.txt"), summaryWithoutTimes(local / "summary.txt"));
    LETHE_COMPARE_STR(test::readBytes(split / "sweep.json"), test::readBytes(local / "sweep.json"));

    // The merged folder is a local sweep's: the same command finds every run done.
    const Result again = runCli(grid + Args { "--out", q(split) });
    QVERIFY2(again.exitCode == 0, again.err.c_str());
    QVERIFY2(again.err.find("sweep of 6 runs into " + q(split / "results.csv") + ": 6 already done, 0 to run")
            != std::string::npos,
        again.err.c_str());
}

void TestCli::sweepMergeRefusesMissingMixedAndUnfinishedTasks()
{
    // Three runs (GA, GradDiff λ 1 and 5), one per task.
    const auto dir = m_dir / "merge-errors";
    const Args sweep
        = Args { "sweep", "--forget-classes", "2", "--methods", "ga,graddiff", "--lambdas", "1,5" } + m_small;
    const Args grid = sweep + Args { "--steps", "1", "--task-count", "3" };
    const auto task = [&dir](int i) { return dir / ("task-" + std::to_string(i) + "-of-3"); };
    for (const int i : { 0, 1, 2 })
        QCOMPARE(runCli(grid + Args { "--out", q(dir), "--task-index", std::to_string(i) }).exitCode, 0);
    const auto out = m_dir / "merged-errors";
    const auto merge = [&out](const std::vector<std::filesystem::path>& folders) {
        Args args { "sweep-merge", "--out", q(out) };
        for (const auto& f : folders)
            args.push_back(q(f));
        return runCli(args);
    };

    const Result missing = merge({ task(0), task(2) });
    QCOMPARE(missing.exitCode, 1);
    LETHE_COMPARE_STR(missing.err, "error: task 1 of 3 is missing: the folders given hold tasks 0, 2\n");
    LETHE_COMPARE_STR(merge({ task(0), task(1), task(1) }).err,
        "error: task 1 of 3 is given twice: " + q(task(1)) + " and " + q(task(1)) + "\n");

    // Task 1 of the same grid with other settings.
    const auto other = m_dir / "merge-errors-other";
    QCOMPARE(
        runCli(sweep + Args { "--out", q(other), "--task-index", "1", "--task-count", "3", "--steps", "2" }).exitCode,
        0);
    const Result mixed = merge({ task(0), other / "task-1-of-3", task(2) });
    QCOMPARE(mixed.exitCode, 1);
    LETHE_COMPARE_STR(mixed.err,
        "error: " + q(other / "task-1-of-3") + " is not a task of the same sweep as " + q(task(0))
            + " (another model, data set or settings): config.steps is 2 in " + q(other / "task-1-of-3") + ", 1 in "
            + q(task(0)) + "\n");
    // A task of a sweep split in two.
    QCOMPARE(
        runCli(sweep + Args { "--out", q(other), "--task-index", "0", "--task-count", "2", "--steps", "1" }).exitCode,
        0);
    LETHE_COMPARE_STR(merge({ task(0), task(1), other / "task-0-of-2" }).err,
        "error: " + q(other / "task-0-of-2") + " is task 0 of 2, but " + q(task(0))
            + " is task 0 of 3: give the task folders of one split sweep\n");

    // A run recorded twice: task 0's GA run also in task 1's results.csv.
    const std::string task1 = test::readBytes(task(1) / "results.csv");
    test::writeBytes(task(1) / "results.csv", task1 + lines(task(0) / "results.csv")[1] + "\n");
    LETHE_COMPARE_STR(merge({ task(0), task(1), task(2) }).err,
        "error: " + q(task(1) / "results.csv")
            + " holds ga, forget class 2, α 0.1, λ —, which is task 0's run, not task 1 of 3's: " + q(task(0))
            + " should hold it\n");
    test::writeBytes(task(1) / "results.csv", task1);

    // An unfinished task (its run not recorded, as after a time limit): named with the run it lacks, and
    // the same command finishes it.
    const std::string task2 = test::readBytes(task(2) / "results.csv");
    test::writeBytes(task(2) / "results.csv", lines(task(2) / "results.csv")[0] + "\n");
    const Result unfinished = merge({ task(0), task(1), task(2) });
    QCOMPARE(unfinished.exitCode, 1);
    LETHE_COMPARE_STR(unfinished.err,
        "error: the sweep is not complete; rerun that task with the same command (a task resumes where it stopped), "
        "then merge again:\n  "
            + q(task(2)) + " (task 2 of 3) lacks 1 of its 1 runs: graddiff, forget class 2, α 0.1, λ 5\n");
    QVERIFY(!std::filesystem::exists(out / "results.csv"));
    const Result resumed = runCli(grid + Args { "--out", q(dir), "--task-index", "2" });
    QVERIFY2(resumed.err.find("task 2 of 3: 1 of the sweep's 3 runs into " + q(task(2) / "results.csv")
                 + ": 0 already done, 1 to run")
            != std::string::npos,
        resumed.err.c_str());

    const Result done = merge({ task(0), task(1), task(2) });
    QVERIFY2(done.exitCode == 0, done.err.c_str());
    QCOMPARE(lines(out / "results.csv").size(), std::size_t { 4 });
    LETHE_COMPARE_STR(merge({ task(0), task(1), task(2) }).err,
        "error: " + q(out)
            + " already holds a sweep (results.csv): choose another --out or pass --force to replace it\n");

    // The merged folder is a whole sweep, not a task.
    LETHE_COMPARE_STR(merge({ out }).err,
        "error: " + q(out)
            + " holds a whole sweep, not one task of a split sweep (its sweep.json has no \"split\"): there is "
              "nothing to merge\n");

    // A split sweep's grid is fixed: growing it would move runs between tasks.
    const Result grown = runCli(withLambdas(grid, "1,5,9") + Args { "--out", q(dir), "--task-index", "0" });
    QCOMPARE(grown.exitCode, 1);
    LETHE_COMPARE_STR(grown.err,
        "error: " + q(task(0))
            + " holds task 0 of 3 of a sweep over another grid (see sweep.json): the grid of a split sweep cannot "
              "change, since it decides which task runs which run; choose another --out for the new grid\n");
}

void TestCli::sweepRejectsABadTaskIndex()
{
    const Args grid
        = Args { "sweep", "--forget-classes", "2", "--methods", "ga", "--steps", "1", "--out", q(m_dir / "bad-task") }
        + m_small;
    LETHE_COMPARE_STR(runCli(grid + Args { "--task-index", "4", "--task-count", "4" }).err,
        "error: --task-index 4 is outside 0–3 (--task-count 4)\n");
    LETHE_COMPARE_STR(runCli(grid + Args { "--task-index", "1" }).err,
        "error: --task-index needs --task-count, the number of tasks the sweep is split into\n");
    LETHE_COMPARE_STR(runCli(grid + Args { "--task-index", "slurm" }).err,
        "error: --task-index slurm: SLURM_ARRAY_TASK_ID is not set; run it as a task of a Slurm job array (sbatch "
        "--array=0-3) or give --task-index and --task-count\n");
    // A resubmitted task (--array=2) has a one-task array: its count must be given.
    const std::map<std::string, std::string> resubmitted { { "SLURM_ARRAY_TASK_ID", "2" },
        { "SLURM_ARRAY_TASK_COUNT", "1" }, { "SLURM_ARRAY_TASK_MIN", "2" }, { "SLURM_ARRAY_TASK_MAX", "2" } };
    LETHE_COMPARE_STR(runCli(grid + Args { "--task-index", "slurm" }, resubmitted).err,
        "error: --task-index slurm: the job array's task ids are not 0–0 (SLURM_ARRAY_TASK_MIN 2, "
        "SLURM_ARRAY_TASK_MAX 2, SLURM_ARRAY_TASK_COUNT 1): give --task-count, the number of tasks the sweep is "
        "split into\n");
    const Result counted = runCli(grid + Args { "--task-index", "slurm", "--task-count", "4" }, resubmitted);
    QVERIFY2(counted.exitCode == 0, counted.err.c_str());
    QVERIFY(std::filesystem::exists(m_dir / "bad-task" / "task-2-of-4" / "sweep.json"));
    QVERIFY(!std::filesystem::exists(m_dir / "bad-task" / "results.csv"));
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
    const Result fromSingle = runCli(Args { "generate", "--model", q(single), "--components", q(folder), "--out",
                                         q(m_dir / "gen2"), "--grid", "2", "--grid-scale", "3" }
        + prompt);
    QCOMPARE(fromSingle.exitCode, 0);
    // The grid: two 16-pixel images side by side with 2-pixel gaps, enlarged 3 times.
    const std::string grid = test::readBytes(m_dir / "gen2" / "grid.png");
    const auto be32 = [&](std::size_t at) {
        return (std::uint32_t(std::uint8_t(grid[at])) << 24) | (std::uint32_t(std::uint8_t(grid[at + 1])) << 16)
            | (std::uint32_t(std::uint8_t(grid[at + 2])) << 8) | std::uint32_t(std::uint8_t(grid[at + 3]));
    };
    QCOMPARE(be32(16), std::uint32_t { 3 * (2 + 2 * 18) }); // IHDR width
    QCOMPARE(be32(20), std::uint32_t { 3 * (2 + 18) }); // IHDR height
    QVERIFY(test::readBytes(m_dir / "gen2" / "image-1-seed-5.png") == png);

    const Result bench = runCli(
        { "bench", "generate", "--model", q(single), "--components", q(folder), "--steps", "2", "--runs", "2" });
    QCOMPARE(bench.exitCode, 0);
    QVERIFY2(bench.out.find("generate: median ") != std::string::npos
            && bench.out.find(" s/image (min ") != std::string::npos
            && bench.out.find("2 runs), peak RSS ") != std::string::npos,
        bench.out.c_str());
}

void TestCli::killedWhileWritingCheckpointsLeavesCompleteFiles()
{
    // pretrain writes both files at every step; it is killed (SIGKILL, no chance to clean up) at times spread
    // over the writes. Each time, whatever stands under the final names must be a complete file that loads, and
    // the run resumes from it to the end.
    const std::filesystem::path dir = m_dir / "killed";
    std::filesystem::create_directories(dir);
    test::writeBytes(dir / "net.json", models::toJson(test::tinyCifarOptions()).dump());
    const std::filesystem::path model = dir / "model.safetensors";
    const std::filesystem::path state = dir / "model.safetensors.state.safetensors";
    const Args args { "pretrain", "--data", q(m_data), "--config", q(dir / "net.json"), "--out", q(model), "--steps",
        "400", "--batch", "2", "--checkpoint-every", "1", "--resume" };
    QStringList list { QStringLiteral("--threads"), QStringLiteral("1") };
    for (const auto& a : args)
        list << QString::fromStdString(a);
    int killedWithFiles = 0;
    std::set<std::filesystem::path> leftovers; // Temporary files earlier kills left.
    for (int round = 0; round < 6; ++round) {
        QProcess process;
        // Every write pauses 30 ms between its last byte and its rename, so that most kills land inside one.
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QStringLiteral("LETHE_TEST_COMMIT_PAUSE_MS"), QStringLiteral("30"));
        process.setProcessEnvironment(environment);
        process.start(QStringLiteral(LETHE_CLI_PATH), list);
        QVERIFY(process.waitForStarted());
        // Once checkpoints are being written (one per step): even rounds kill while a temporary file exists (inside
        // a write, before its rename), odd rounds at a time that moves through the step.
        QTRY_VERIFY_WITH_TIMEOUT(std::filesystem::exists(state) || process.state() == QProcess::NotRunning, 120000);
        const auto writing = [&] {
            for (const auto& entry : std::filesystem::directory_iterator(dir))
                if (entry.path().filename().string().find(".lethe-tmp-") != std::string::npos
                    && !leftovers.count(entry.path()))
                    return true;
            return false;
        };
        if (round % 2 == 0)
            for (int polls = 0; polls < 20000 && !writing(); ++polls)
                QTest::qWait(1);
        else
            QTest::qWait(37 + 61 * round);
        process.kill();
        QVERIFY(process.waitForFinished(30000));
        for (const auto& entry : std::filesystem::directory_iterator(dir))
            if (entry.path().filename().string().find(".lethe-tmp-") != std::string::npos)
                leftovers.insert(entry.path());
        if (!std::filesystem::exists(state))
            continue;
        ++killedWithFiles;
        const io::SafetensorsFile stateFile(state); // Throws, failing the test, for a partial file.
        const auto step = stateFile.tensor("train.step").item<std::int64_t>();
        QVERIFY(step >= 1 && step < 400);
        const store::EdmModel loaded = store::loadEdmModel(model, torch::kCPU);
        // The model is written first: it is at the state's step or one ahead.
        QVERIFY(loaded.info.provenance.steps == step || loaded.info.provenance.steps == step + 1);
        for (const auto& entry : std::filesystem::directory_iterator(dir))
            QVERIFY2(entry.path().filename().string().rfind("model.safetensors", 0) != 0 || entry.path() == model
                    || entry.path() == state || entry.path().filename().string().find(".tmp") != std::string::npos,
                entry.path().string().c_str());
    }
    QVERIFY2(killedWithFiles >= 3, "the runs were killed before their first checkpoint");
    const auto interruptedWrites = static_cast<int>(leftovers.size()); // Each is a kill inside a write.
    qInfo("%d of 6 kills left checkpoints behind; %d landed inside a write", killedWithFiles, interruptedWrites);
    QVERIFY2(interruptedWrites >= 3, "too few kills landed inside a write to show anything");
    const Result finished = runCli(args);
    QCOMPARE(finished.exitCode, 0);
    QCOMPARE(io::SafetensorsFile(state).tensor("train.step").item<std::int64_t>(), std::int64_t { 400 });

    // Without --resume the finished model is never overwritten.
    Args again = args;
    again.pop_back();
    const Result refused = runCli(again);
    QCOMPARE(refused.exitCode, 1);
    LETHE_COMPARE_STR(refused.err.substr(refused.err.find("error: ")),
        "error: " + q(model) + " exists: pass --resume to continue its training, or choose another --out\n");
}

void TestCli::clipAlignmentInEvalT2iUnlearnConceptAndClipScore()
{
    const std::filesystem::path folder = m_dir / "clip-pixel-sd";
    test::writeTinyDiffusersFolder(folder, false); // Draws 8×8 images, the tiny CLIP's size.
    const std::filesystem::path clip = m_dir / "tiny-clip";
    test::writeTinyClipFolder(clip);

    // eval-t2i: a CLIP column per prompt and the mean over all images, in the table and the JSON.
    const Result eval = runCli({ "eval-t2i", "--model", q(folder), "--prompt", "a red shirt", "--prompt",
        "a blue dress", "--seeds", "0-2", "--steps", "1", "--clip", q(clip), "--json", q(m_dir / "eval-clip.json") });
    QVERIFY2(eval.exitCode == 0, eval.err.c_str());
    QVERIFY2(eval.out.find("CLIP     prompt") != std::string::npos, eval.out.c_str());
    QVERIFY2(eval.out.find("CLIP alignment over all 6 images: ") != std::string::npos, eval.out.c_str());
    const auto evalJson = nlohmann::json::parse(test::readBytes(m_dir / "eval-clip.json"));
    QCOMPARE(evalJson["prompts"][0]["clip_alignment_per_image"].size(), std::size_t { 3 });
    const double evalMean = evalJson["clip_alignment"].get<double>();
    QCOMPARE(evalMean,
        (evalJson["prompts"][0]["clip_alignment"].get<double>()
            + evalJson["prompts"][1]["clip_alignment"].get<double>())
            / 2.0);
    QVERIFY(evalMean >= -1.0 && evalMean <= 1.0);

    // unlearn-concept: before/after scores of D_f, D_r,train and D_r,test from the preview seeds.
    test::writeBytes(m_dir / "clip-preset.json", R"({
      "dimensions": {"colour": {"train": ["red", "blue", "green"], "test": ["pink"]}, "object": {"train": ["shoe", "hat"]}},
      "remain_template": "a {colour} {object}", "concept": {"words": ["red"], "dimension": "colour"},
      "counts": {"forget": 3, "remain_train": 4, "remain_test": 2}})");
    const std::filesystem::path run = m_dir / "clip-run";
    const Result r = runCli({ "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "clip-preset.json"),
        "--method", "ga", "--steps", "2", "--lr", "1e-2", "--gen-steps", "1", "--preview-prompts", "1",
        "--preview-seeds", "0-1", "--clip", q(clip), "--clip-prompts", "2", "--out", q(run) });
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.out.find("CLIP alignment (cosine of image and prompt embeddings), before → after:\n  forget ")
            != std::string::npos,
        r.out.c_str());
    QVERIFY2(r.out.find("(D_r,train and D_r,test together)") != std::string::npos, r.out.c_str());
    const auto manifest = nlohmann::json::parse(test::readBytes(run / "run.json"));
    const auto& record = manifest["clip_alignment"];
    LETHE_COMPARE_STR(record["clip_model"].get<std::string>(), q(clip));
    std::vector<double> remainBefore;
    for (const char* set : { "forget", "remain_train", "remain_test" }) {
        QCOMPARE(record["sets"][set]["prompts"].get<int>(), 2);
        QCOMPARE(record["sets"][set]["before_per_image"].size(), std::size_t { 4 });
        QCOMPARE(record["sets"][set]["after_per_image"].size(), std::size_t { 4 });
        if (std::string(set) != "forget")
            for (const auto& v : record["sets"][set]["before_per_image"])
                remainBefore.push_back(v.get<double>());
    }
    // Gradient ascent on the forget set changed the model, so its images and scores.
    QVERIFY(record["sets"]["forget"]["before"] != record["sets"]["forget"]["after"]);
    double sum = 0;
    for (const double v : remainBefore)
        sum += v;
    QVERIFY(std::abs(record["remain"]["before"].get<double>() - sum / 8.0) < 1e-12);

    // clip-score on the "before" preview of the first forget prompt at seed 0 (the same prompt, seed and settings
    // as the first CLIP image of the forget set) gives the same score.
    if (!imaging::canDecodeImages())
        QSKIP("this build cannot decode PNG files (no OpenCV)");
    const std::filesystem::path images = m_dir / "clip-images";
    std::filesystem::create_directories(images);
    std::filesystem::copy_file(run / "before" / "00-forget-seed-0.png", images / "a.png");
    test::writeBytes(images / "a.txt", manifest["previews"][0]["prompt"].get<std::string>() + "\n");
    const Result score
        = runCli({ "clip-score", "--clip", q(clip), "--images", q(images), "--json", q(m_dir / "clip-score.json") });
    QVERIFY2(score.exitCode == 0, score.err.c_str());
    const auto scoreJson = nlohmann::json::parse(test::readBytes(m_dir / "clip-score.json"));
    QVERIFY(std::abs(scoreJson["clip_alignment"].get<double>()
                - record["sets"]["forget"]["before_per_image"][0].get<double>())
        < 1e-6);
    QVERIFY2(score.out.find("mean CLIP alignment over 1 images: ") != std::string::npos, score.out.c_str());
    test::writeBytes(m_dir / "clip-prompts.json", R"(["a red shirt", "a blue dress"])");
    const Result mismatch = runCli(
        { "clip-score", "--clip", q(clip), "--images", q(images), "--prompts", q(m_dir / "clip-prompts.json") });
    QCOMPARE(mismatch.exitCode, 1);
    LETHE_COMPARE_STR(mismatch.err,
        "error: " + q(m_dir / "clip-prompts.json") + ": 2 prompts for 1 images in " + q(images)
            + " (the prompts pair with the images in file-name order)\n");
}

void TestCli::killedUnlearnResumesToTheSameModel()
{
    // An unlearn run killed (SIGKILL) several times resumes each time from its last checkpoint and ends with the
    // model and steps.csv of the run that was never interrupted.
    const Args common = Args { "unlearn", "--forget-class", "3", "--steps", "120", "--snapshot-every", "4" } + m_small;
    const auto straight = m_dir / "unlearn-straight";
    QCOMPARE(runCli(common + Args { "--out", q(straight) }).exitCode, 0);
    QVERIFY(!std::filesystem::exists(straight / "checkpoint.safetensors")); // A finished run keeps none.

    const auto killed = m_dir / "unlearn-killed";
    const Args resumed = common + Args { "--out", q(killed), "--resume" };
    QStringList list { QStringLiteral("--threads"), QStringLiteral("1") };
    for (const auto& a : resumed)
        list << QString::fromStdString(a);
    std::set<std::int64_t> resumedFrom;
    for (int round = 0; round < 3; ++round) {
        QProcess process;
        process.start(QStringLiteral(LETHE_CLI_PATH), list);
        QVERIFY(process.waitForStarted());
        const auto checkpoint = killed / "checkpoint.safetensors";
        const std::int64_t before = std::filesystem::exists(checkpoint)
            ? io::SafetensorsFile(checkpoint).tensor("run.step").item<std::int64_t>()
            : 0;
        // Kill once the run has written a checkpoint beyond the one it started from.
        QTRY_VERIFY_WITH_TIMEOUT(process.state() == QProcess::NotRunning
                || (std::filesystem::exists(checkpoint)
                    && io::SafetensorsFile(checkpoint).tensor("run.step").item<std::int64_t>() > before),
            120000);
        QTest::qWait(23 * round);
        process.kill();
        QVERIFY(process.waitForFinished(30000));
        QVERIFY2(std::filesystem::exists(checkpoint), "the run finished before it could be killed");
        const std::int64_t step = io::SafetensorsFile(checkpoint).tensor("run.step").item<std::int64_t>();
        QVERIFY(step > before && step < 120);
        resumedFrom.insert(step);
        QVERIFY(!std::filesystem::exists(killed / "model.safetensors"));
    }
    QCOMPARE(resumedFrom.size(), std::size_t { 3 });
    const Result finished = runCli(resumed);
    QVERIFY2(finished.exitCode == 0, finished.err.c_str());
    QVERIFY2(finished.err.find("resuming from ") != std::string::npos, finished.err.c_str());
    QVERIFY(!std::filesystem::exists(killed / "checkpoint.safetensors"));

    const io::SafetensorsFile a(straight / "model.safetensors");
    const io::SafetensorsFile b(killed / "model.safetensors");
    QCOMPARE(a.entries().size(), b.entries().size());
    for (const auto& entry : a.entries())
        QVERIFY2(torch::equal(a.tensor(entry.name), b.tensor(entry.name)), entry.name.c_str());
    // steps.csv: the same rows but for the seconds each step took (the last column).
    const auto rows = [](const std::filesystem::path& csv) {
        std::vector<std::string> out;
        for (const auto& line : lines(csv))
            out.push_back(line.substr(0, line.rfind(',')));
        return out;
    };
    QCOMPARE(rows(killed / "steps.csv"), rows(straight / "steps.csv"));
    QCOMPARE(rows(straight / "steps.csv").size(), std::size_t { 121 });

    // Without --resume an interrupted run is neither overwritten nor silently restarted.
    test::writeBytes(killed / "checkpoint.safetensors", test::readBytes(m_dir / "base.safetensors"));
    std::filesystem::remove(killed / "model.safetensors");
    const Result refused = runCli(common + Args { "--out", q(killed) });
    QCOMPARE(refused.exitCode, 1);
    LETHE_COMPARE_STR(refused.err,
        "error: " + killed.string()
            + " holds an interrupted run (checkpoint.safetensors): pass --resume to continue it, or --force to start "
              "over\n");
    // A file that is not an unlearning checkpoint is refused by --resume, naming it.
    const Result wrong = runCli(resumed);
    QCOMPARE(wrong.exitCode, 1);
    LETHE_COMPARE_STR(wrong.err.substr(wrong.err.find("error: ")),
        "error: " + (killed / "checkpoint.safetensors").string()
            + ": __metadata__: not a Lethe unlearning checkpoint\n");
}

void TestCli::unlearnConceptWritesAReloadableRun()
{
    const std::filesystem::path folder = m_dir / "tiny-pixel-sd";
    test::writeTinyDiffusersFolder(folder, false);
    test::writeBytes(m_dir / "forget.json", R"(["a red shoe", {"prompt": "a red hat", "seed": 5}])");
    test::writeBytes(m_dir / "remain.json", R"(["a blue shoe", "a green hat", "a blue bag"])");
    const std::filesystem::path run = m_dir / "concept-run";
    const Args args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"), "--remain",
        q(m_dir / "remain.json"), "--steps", "2", "--lr", "1e-3", "--forget-batch", "2", "--remain-batch", "2",
        "--gen-steps", "2", "--preview-prompts", "1", "--preview-seeds", "0-1", "--out", q(run) };
    const Result r = runCli(args);
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.out.find("finished after 2 steps") == 0, r.out.c_str());
    const auto csv = lines(run / "steps.csv");
    QCOMPARE(csv.size(), std::size_t { 3 });
    LETHE_COMPARE_STR(csv[0],
        "step,forget_loss,remain_loss,ascent_norm,remain_norm,cosine,projected,truncated,lr,alpha,lambda,seconds");
    QVERIFY(csv[2].rfind("2,", 0) == 0);
    const auto manifest = nlohmann::json::parse(test::readBytes(run / "run.json"));
    LETHE_COMPARE_STR(manifest["method"].get<std::string>(), "rgd");
    QCOMPARE(manifest["config"]["steps"].get<int>(), 2);
    QCOMPARE(manifest["config"]["lr"].get<double>(), 1e-3);
    LETHE_COMPARE_STR(manifest["parent_model"].get<std::string>(), q(folder));
    LETHE_COMPARE_STR(manifest["outcome"].get<std::string>(), "finished");
    LETHE_COMPARE_STR(manifest["kind"].get<std::string>(), "concept");
    for (const char* key : kCommonManifestKeys)
        QVERIFY2(manifest.contains(key), key);
    QVERIFY(manifest["command"].get<std::string>().find("unlearn-concept --model") != std::string::npos);
    QCOMPARE(nlohmann::json::parse(test::readBytes(run / "model" / "lethe-manifest.json")), manifest);
    QCOMPARE(lines(run / "forget.json").size(), std::size_t { 4 }); // [, two prompts, ]
    QVERIFY(std::filesystem::exists(run / "before" / "00-forget-seed-0.png"));
    QVERIFY(std::filesystem::exists(run / "before" / "03-remain-seed-1.png"));
    QVERIFY(test::readBytes(run / "before" / "00-forget-seed-0.png")
        != test::readBytes(run / "after" / "00-forget-seed-0.png"));

    // Both exported layouts draw the "after" images again, byte for byte.
    const Args prompt { "--prompt", "a red shoe", "--seed", "0-1", "--steps", "2" };
    QCOMPARE(
        runCli(Args { "generate", "--model", q(run / "model"), "--out", q(m_dir / "concept-gen") } + prompt).exitCode,
        0);
    QVERIFY(test::readBytes(m_dir / "concept-gen" / "image-1-seed-1.png")
        == test::readBytes(run / "after" / "01-forget-seed-1.png"));
    QCOMPARE(runCli(Args { "generate", "--model", q(run / "model.safetensors"), "--components", q(folder), "--out",
                        q(m_dir / "concept-gen2") }
                 + prompt)
                 .exitCode,
        0);
    QVERIFY(test::readBytes(m_dir / "concept-gen2" / "image-0-seed-0.png")
        == test::readBytes(run / "after" / "00-forget-seed-0.png"));

    // From a diversity preset, its concept replaced: the forget prompts show it, the remain prompts never do, and
    // the "after" remain images use the held-out prompts.
    test::writeBytes(m_dir / "preset.json", R"({
      "dimensions": {"colour": {"train": ["red", "blue", "green"], "test": ["pink"]}, "object": {"train": ["shoe", "hat"]}},
      "remain_template": "a {colour} {object}", "concept": {"words": ["shoe"], "dimension": "object"},
      "counts": {"forget": 4, "remain_train": 4, "remain_test": 2}})");
    const std::filesystem::path presetRun = m_dir / "preset-run";
    const Result fromPreset = runCli({ "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "preset.json"),
        "--concept", "red", "--concept-dimension", "colour", "--method", "ga", "--steps", "1", "--gen-steps", "1",
        "--preview-prompts", "1", "--preview-seeds", "0", "--out", q(presetRun) });
    QVERIFY2(fromPreset.exitCode == 0, fromPreset.err.c_str());
    const auto forgetPrompts = concepts::loadPromptSet(presetRun / "forget.json");
    const auto remainPrompts = concepts::loadPromptSet(presetRun / "remain.json");
    QCOMPARE(forgetPrompts.size(), std::size_t { 4 });
    QCOMPARE(remainPrompts.size(), std::size_t { 4 });
    for (const auto& p : forgetPrompts)
        QVERIFY2(p.text.rfind("a red ", 0) == 0, p.text.c_str());
    for (const auto& p : remainPrompts)
        QVERIFY2(p.text.find("red") == std::string::npos, p.text.c_str());
    const auto presetManifest = nlohmann::json::parse(test::readBytes(presetRun / "run.json"));
    QCOMPARE(presetManifest["concept"]["words"], nlohmann::json::array({ "red" }));
    LETHE_COMPARE_STR(presetManifest["concept"]["dimension"].get<std::string>(), "colour");
    QVERIFY(presetManifest["previews"][1]["prompt"].get<std::string>().rfind("a pink ", 0) == 0);
    QCOMPARE(concepts::loadPromptSet(presetRun / "remain-test.json").size(), std::size_t { 2 });

    // A run is not overwritten; contradicting flags and bad values are named.
    const Result again = runCli(args);
    QCOMPARE(again.exitCode, 1);
    LETHE_COMPARE_STR(again.err,
        "error: " + q(run) + " already holds a concept run (run.json): choose another --out or pass --force\n");
    const Result esd = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--method", "esd-u", "--params", "all", "--out", q(m_dir / "esd-run") });
    QCOMPARE(esd.exitCode, 1);
    LETHE_COMPARE_STR(esd.err,
        "error: unlearn-concept: --method esd-u trains no-cross-attn parameters; --params all contradicts it\n");
    const Result alpha = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--remain", q(m_dir / "remain.json"), "--alpha", "-1", "--out", q(m_dir / "alpha-run") });
    QCOMPARE(alpha.exitCode, 1);
    LETHE_COMPARE_STR(alpha.err, "error: concept unlearning: alpha must be greater than 0, found -1\n");
    const Result noRemain = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--steps", "1", "--gen-steps", "1", "--out", q(m_dir / "no-remain") });
    QCOMPARE(noRemain.exitCode, 1);
    LETHE_COMPARE_STR(noRemain.err, "error: concept unlearning: the remain set is empty (rgd needs remain pairs)\n");
    QVERIFY(!std::filesystem::exists(m_dir / "no-remain")); // Refused before drawing anything.
    test::writeBytes(m_dir / "empty.json", "[]");
    const Result empty = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "empty.json"),
        "--remain", q(m_dir / "remain.json"), "--out", q(m_dir / "empty-run") });
    QCOMPARE(empty.exitCode, 1);
    LETHE_COMPARE_STR(empty.err,
        "error: " + q(m_dir / "empty.json") + ": top level: the prompt set is empty: expected at least one prompt\n");
    const Result noForget = runCli(Args { "unlearn-concept", "--model", q(folder), "--remain", q(m_dir / "remain.json"),
        "--out", q(m_dir / "no-forget") });
    QCOMPARE(noForget.exitCode, 1);
    LETHE_COMPARE_STR(noForget.err,
        "error: unlearn-concept: give the forget prompts (--forget FILE or --forget-images DIR) or --preset\n");
    const Result both = runCli(Args { "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "preset.json"),
        "--forget", q(m_dir / "forget.json"), "--out", q(m_dir / "both") });
    QCOMPARE(both.exitCode, 1);
    LETHE_COMPARE_STR(both.err, "error: unlearn-concept: give either --preset or --forget and --remain, not both\n");
    // A run whose loss stops being finite rolls back to its last snapshot (here the start), writes that model and
    // says so, as a class run does.
    const std::filesystem::path failed = m_dir / "failed-run";
    const Result blowUp = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--remain", q(m_dir / "remain.json"), "--method", "ga", "--lr", "1e30", "--alpha", "1e30", "--steps", "4",
        "--gen-steps", "1", "--out", q(failed) });
    QCOMPARE(blowUp.exitCode, 1);
    QVERIFY2(blowUp.err.find("\nerror: the run failed: non-finite loss (L_f ") != std::string::npos, blowUp.err.c_str());
    QVERIFY2(blowUp.err.find(") at step 2; weights restored to step 0; the model after step 0 was written to "
                 + q(failed) + "\n")
            != std::string::npos,
        blowUp.err.c_str());
    const auto failedManifest = nlohmann::json::parse(test::readBytes(failed / "run.json"));
    LETHE_COMPARE_STR(failedManifest["outcome"].get<std::string>(), "failed");
    LETHE_COMPARE_STR(failedManifest["kind"].get<std::string>(), "concept");
    QCOMPARE(failedManifest["steps"].get<int>(), 0);
    QCOMPARE(failedManifest["rollbacks"].get<int>(), 1);
    QVERIFY(std::filesystem::exists(failed / "model.safetensors"));
    QCOMPARE(lines(failed / "steps.csv").size(), std::size_t { 2 });

    const Result method = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--method", "salun", "--out", q(m_dir / "salun") });
    QVERIFY(method.exitCode != 0);
    QVERIFY2(method.err.find("--method: salun not in {rgd,graddiff,ga,esd,esd-u,esd-x}") != std::string::npos,
        method.err.c_str());
}

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
