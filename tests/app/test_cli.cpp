// lethe-cli as a user runs it: unlearn into a run folder, export a snapshot, sweep and resume, split a sweep
// into tasks and merge them, and the messages of the ways these go wrong. A tiny model on a tiny CIFAR-10
// folder keeps each run to seconds. The text-to-image commands are tested in test_cli_t2i.cpp.
#include "core/io/safetensors.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_config.h"
#include "core/models/edm/edm_precond.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_record.h"

#include "cli_runner.h"
#include "test_support.h"
#include "tiny_clip.h"
#include "tiny_edm.h"
#include "tiny_inception.h"

#include <torch/torch.h>

#include <QProcess>
#include <QProcessEnvironment>
#include <QtTest>

#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace lethe;
using namespace lethe::test;

namespace {

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
    void sweepSplitBalancesRunsByCost();
    void sweepPlanPrintsAndWritesNothing();
    void sweepStatusReportsEveryTask();
    void sweepMergeRefusesAnotherAssignment();
    void killedWhileWritingCheckpointsLeavesCompleteFiles();
    void killedUnlearnResumesToTheSameModel();
    void literatureMeasuresEndToEndAndCached();
    void literatureMeasuresOnTheBuiltInModel();
    void attackClassRunAndSweep();

private:
    test::ScratchDir m_dir;
    /// A random 10-class classifier for the tiny CIFAR model's measures (written once).
    std::filesystem::path tinyClassifier();

    std::filesystem::path m_model;
    std::filesystem::path m_data;
    Args m_small;
};

std::filesystem::path TestCli::tinyClassifier()
{
    const auto path = m_dir / "classifier.safetensors";
    if (!std::filesystem::exists(path))
        test::writeTinyCifarClassifier(path);
    return path;
}

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
    const Result r
        = runCli(Args { "unlearn", "--forget-class", "3", "--steps", "4", "--snapshot-every", "2", "--keep-snapshots",
                     "--remain-averaging", "nominal-batch", "--augment-p", "0.12", "--allow-tf32", "--out", q(run) }
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
    // The training settings are recorded as given; the model takes no augmentation labels, so the run ran without.
    LETHE_COMPARE_STR(json.at("config").at("remain_averaging").get<std::string>(), "nominal-batch");
    QCOMPARE(json.at("config").at("allow_tf32").get<bool>(), true);
    QCOMPARE(json.at("config").at("augment_p").get<double>(), 0.12);
    QCOMPARE(json.at("final_config").at("augment_p").get<double>(), 0.0);
    LETHE_COMPARE_STR(model.info.provenance.hyperparameters.at("remain_averaging").get<std::string>(), "nominal-batch");
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
    // An enum flag takes its names only, and says which.
    const Result averaging
        = runCli(Args { "unlearn", "--forget-class", "1", "--remain-averaging", "1", "--out", q(m_dir / "bad-class") }
            + m_small);
    QVERIFY(averaging.exitCode != 0);
    QVERIFY2(averaging.err.find("--remain-averaging: 1 not in {mean,nominal-batch}") != std::string::npos,
        averaging.err.c_str());
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
        truncated.err, "error: " + (dir / "results.csv").string() + ": line 3: expected 18 fields, found 4\n");
    // A results.csv of the version before the literature's columns resumes; the next run rewrites it in today's
    // layout.
    test::writeBytes(dir / "results.csv", good);
    const std::vector<std::string> goodRows = lines(dir / "results.csv");
    std::string before;
    for (std::string line : goodRows) {
        for (int column = 0; column < 4; ++column) {
            std::size_t comma = 0;
            for (int i = 0; i < 12; ++i)
                comma = line.find(',', comma) + 1;
            line.erase(comma, line.find(',', comma) + 1 - comma);
        }
        before += line + "\n";
    }
    QVERIFY2(before.rfind("method,forget_class,forget_class_name,alpha,lambda,steps,outcome,ua,ra,ra_class_mean,fd_cls,"
                          "kid_cls,run_seconds,eval_seconds\n",
                 0)
            == 0,
        before.c_str());
    test::writeBytes(dir / "results.csv", before);
    Args grown = args;
    for (std::size_t i = 0; i + 1 < grown.size(); ++i)
        if (grown[i] == "--forget-classes")
            grown[i + 1] = "2,3";
    const Result resumed = runCli(grown);
    QVERIFY2(resumed.exitCode == 0 && resumed.err.find("1 already done, 1 to run") != std::string::npos,
        resumed.err.c_str());
    const std::vector<std::string> after = lines(dir / "results.csv");
    QCOMPARE(after.size(), std::size_t { 3 });
    LETHE_COMPARE_STR(after[0], goodRows[0]);
    LETHE_COMPARE_STR(after[1], goodRows[1]);
    test::writeBytes(dir / "results.csv", "step,loss\n");
    LETHE_COMPARE_STR(runCli(args).err,
        "error: " + (dir / "results.csv").string() + ": line 1 is not the results header this version writes\n");
}

void TestCli::sweepSplitIntoTasksMergesToTheLocalTable()
{
    // Measured, so that the table has the base model's rows and UA, RA, FD_cls and KID_cls to compare.
    const auto classifierPath = tinyClassifier();
    const Args grid { "sweep", "--forget-classes", "1,4", "--methods", "ga,graddiff", "--lambdas", "1,5", "--steps",
        "1", "--model", q(m_model), "--data", q(m_data), "--classifier", q(classifierPath), "--eval-per-class", "2",
        "--forget-batch", "2", "--remain-per-class", "2", "--remain-batch", "4", "--preview-seeds", "0,1" };
    const auto local = m_dir / "split-local";
    const Result whole = runCli(grid + Args { "--out", q(local) });
    QVERIFY2(whole.exitCode == 0, whole.err.c_str());

    // Four tasks, two numbered by hand and two by a Slurm job array's variables. The grid's six runs (class 1: ga,
    // graddiff λ 1, graddiff λ 5; then class 4) go by cost: each of them and the base model's measurement cost
    // 700 image passes of sampling; a GradDiff step 18 passes, a GA step 10. The four GradDiff runs go to tasks 1, 2,
    // 3 and 0 (which has the base model's), then the GA runs to tasks 1 and 2.
    const auto split = m_dir / "split";
    for (const int task : { 0, 2 }) {
        // The plan's seconds per image pass is recorded for sweep-status, and is no part of the merged sweep.
        const Result r = runCli(grid
            + Args { "--out", q(split), "--task-index", std::to_string(task), "--task-count", "4", "--seconds-per-unit",
                "0.25" });
        QVERIFY2(r.exitCode == 0, r.err.c_str());
    }
    QCOMPARE(nlohmann::json::parse(test::readBytes(split / "task-0-of-4" / "sweep.json"))
                 .at("seconds_per_unit")
                 .get<double>(),
        0.25);
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
    QCOMPARE(lines(split / "task-0-of-4" / "results.csv").size(), std::size_t { 1 + 2 + 1 });
    QVERIFY(lines(split / "task-0-of-4" / "results.csv")[3].rfind("graddiff,4,deer,0.1,5,", 0) == 0);
    QCOMPARE(lines(split / "task-1-of-4" / "results.csv").size(), std::size_t { 1 + 2 });
    QVERIFY(lines(split / "task-1-of-4" / "results.csv")[1].rfind("ga,1,automobile,0.1,,", 0) == 0);
    QVERIFY(lines(split / "task-1-of-4" / "results.csv")[2].rfind("graddiff,1,automobile,0.1,1,", 0) == 0);
    QCOMPARE(lines(split / "task-2-of-4" / "results.csv").size(), std::size_t { 1 + 2 });
    QCOMPARE(lines(split / "task-3-of-4" / "results.csv").size(), std::size_t { 1 + 1 });
    const auto tasks
        = nlohmann::json::parse(test::readBytes(split / "task-3-of-4" / "sweep.json")).at("split").at("tasks");
    LETHE_COMPARE_STR(tasks.dump(),
        R"([{"base_cost":700,"cost":1418,"index":0,"run_costs":[718],"runs":["graddiff-class4-a0.1-l5"]},)"
        R"({"base_cost":0,"cost":1428,"index":1,"run_costs":[710,718],"runs":["ga-class1-a0.1","graddiff-class1-a0.1-l1"]},)"
        R"({"base_cost":0,"cost":1428,"index":2,"run_costs":[718,710],"runs":["graddiff-class1-a0.1-l5","ga-class4-a0.1"]},)"
        R"({"base_cost":0,"cost":718,"index":3,"run_costs":[718],"runs":["graddiff-class4-a0.1-l1"]}])");

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

    // sweep-status: every task done; the minutes estimated at the rate tasks 0 and 2 were started with (tasks 1 and
    // 3 were not), the measured ones from results.csv, where the base model's one measurement counts once though
    // each of its rows records its seconds.
    const Result status = runCli({ "sweep-status", q(split), "--json" });
    QVERIFY2(status.exitCode == 0, status.err.c_str());
    const auto report = nlohmann::json::parse(status.out);
    QCOMPARE(report.at("all_done").get<bool>(), true);
    const auto seconds = [](const std::string& row) {
        const auto last = row.rfind(',');
        const auto before = row.rfind(',', last - 1);
        return std::stod(row.substr(before + 1, last - before - 1)) + std::stod(row.substr(last + 1));
    };
    const auto task0 = lines(split / "task-0-of-4" / "results.csv");
    QCOMPARE(seconds(task0[1]), seconds(task0[2]));
    QCOMPARE(
        report.at("tasks").at(0).at("measured_minutes").get<double>(), (seconds(task0[1]) + seconds(task0[3])) / 60.0);
    LETHE_COMPARE_STR(report.at("tasks").at(0).at("base").get<std::string>(), "measured");
    QCOMPARE(report.at("tasks").at(0).at("estimated_minutes").get<double>(), 1418 * 0.25 / 60.0);
    QCOMPARE(report.at("tasks").at(1).at("estimated_minutes").get<double>(), 1428 * 0.25 / 60.0);
    const auto task1 = lines(split / "task-1-of-4" / "results.csv");
    QCOMPARE(
        report.at("tasks").at(1).at("measured_minutes").get<double>(), (seconds(task1[1]) + seconds(task1[2])) / 60.0);

    // The merged folder is a local sweep's: the same command finds every run done.
    const Result again = runCli(grid + Args { "--out", q(split) });
    QVERIFY2(again.exitCode == 0, again.err.c_str());
    QVERIFY2(again.err.find("sweep of 6 runs into " + q(split / "results.csv") + ": 6 already done, 0 to run")
            != std::string::npos,
        again.err.c_str());
}

void TestCli::sweepMergeRefusesMissingMixedAndUnfinishedTasks()
{
    // Three runs, one per task: GradDiff λ 1 (18 image passes a step) to task 0, λ 5 to task 1, GA (10) to task 2.
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

    // A run recorded twice: task 0's run also in task 1's results.csv.
    const std::string task1 = test::readBytes(task(1) / "results.csv");
    test::writeBytes(task(1) / "results.csv", task1 + lines(task(0) / "results.csv")[1] + "\n");
    LETHE_COMPARE_STR(merge({ task(0), task(1), task(2) }).err,
        "error: " + q(task(1) / "results.csv")
            + " holds graddiff, forget class 2, α 0.1, λ 1, which is task 0's run, not task 1 of 3's: " + q(task(0))
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
            + q(task(2)) + " (task 2 of 3) lacks 1 of its 1 runs: ga, forget class 2, α 0.1, λ —\n");
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

void TestCli::sweepSplitBalancesRunsByCost()
{
    // The issue's case: RGD and GA over two classes in two tasks. Dealt round-robin, both RGD runs (grid runs 0 and 2)
    // went to task 0; by cost each task gets one.
    const Args issue = Args {
        "sweep", "--forget-classes", "1,4", "--methods", "rgd,ga", "--steps", "1", "--out", q(m_dir / "balanced")
    } + m_small;
    const Result plan = runCli(issue + Args { "--task-count", "2", "--plan-json", "-" });
    QVERIFY2(plan.exitCode == 0, plan.err.c_str());
    const auto json = nlohmann::json::parse(plan.out);
    QCOMPARE(json.at("tasks").size(), std::size_t { 2 });
    for (const auto& task : json.at("tasks")) {
        const auto runs = task.at("runs").get<std::vector<std::string>>();
        QCOMPARE(runs.size(), std::size_t { 2 });
        QCOMPARE(std::count_if(runs.begin(), runs.end(), [](const std::string& r) { return r.rfind("rgd-", 0) == 0; }),
            std::ptrdiff_t { 1 });
    }
    // Deterministic: the plan again, and the split a task records when it runs, are the same assignment.
    const Result again = runCli(issue + Args { "--task-count", "2", "--plan-json", "-" });
    QVERIFY2(again.exitCode == 0, again.err.c_str());
    for (std::size_t t = 0; t < 2; ++t)
        for (const char* key : { "runs", "run_costs", "cost" })
            LETHE_COMPARE_STR(nlohmann::json::parse(again.out).at("tasks").at(t).at(key).dump(),
                json.at("tasks").at(t).at(key).dump());
    const Result task1 = runCli(issue + Args { "--task-index", "1", "--task-count", "2" });
    QVERIFY2(task1.exitCode == 0, task1.err.c_str());
    const auto recorded
        = nlohmann::json::parse(test::readBytes(m_dir / "balanced" / "task-1-of-2" / "sweep.json")).at("split");
    for (std::size_t t = 0; t < 2; ++t)
        for (const char* key : { "runs", "run_costs", "cost" })
            LETHE_COMPARE_STR(recorded.at("tasks").at(t).at(key).dump(), json.at("tasks").at(t).at(key).dump());
    const auto rows = lines(m_dir / "balanced" / "task-1-of-2" / "results.csv");
    QCOMPARE(rows.size(), std::size_t { 3 });
    QVERIFY2(rows[1].rfind("rgd,", 0) == 0 || rows[2].rfind("rgd,", 0) == 0, rows[1].c_str());

    // Three methods × three classes over four tasks: the longest task is no longer than round-robin's. Per step an
    // RGD run costs 60 image passes (a forget batch of 2 and the remain set of 18, forward and backward), GradDiff 18,
    // GA 10; round-robin gives task 0 GA, GradDiff and RGD (88), the costliest-first assignment at most 70.
    const Args nine = Args { "sweep", "--forget-classes", "1,4,7", "--methods", "ga,graddiff,rgd", "--steps", "1",
        "--out", q(m_dir / "nine"), "--task-count", "4", "--plan-json", "-" }
        + m_small;
    const Result lpt = runCli(nine);
    QVERIFY2(lpt.exitCode == 0, lpt.err.c_str());
    const auto planned = nlohmann::json::parse(lpt.out);
    std::map<std::string, std::int64_t> costs;
    std::int64_t longest = 0;
    for (const auto& task : planned.at("tasks")) {
        longest = std::max(longest, task.at("cost").get<std::int64_t>());
        std::int64_t sum = 0;
        for (std::size_t i = 0; i < task.at("runs").size(); ++i) {
            costs[task.at("runs").at(i).get<std::string>()] = task.at("run_costs").at(i).get<std::int64_t>();
            sum += task.at("run_costs").at(i).get<std::int64_t>();
        }
        QCOMPARE(task.at("cost").get<std::int64_t>(), sum);
    }
    QCOMPARE(costs.size(), std::size_t { 9 });
    QCOMPARE(costs.at("rgd-class1-a0.1-l2"), std::int64_t { 60 });
    QCOMPARE(costs.at("graddiff-class4-a0.1-l2"), std::int64_t { 18 });
    QCOMPARE(costs.at("ga-class7-a0.1"), std::int64_t { 10 });
    const auto grid = planned.at("grid").get<std::vector<std::string>>();
    QCOMPARE(grid.size(), std::size_t { 9 });
    std::vector<std::int64_t> roundRobin(4, 0);
    for (std::size_t i = 0; i < grid.size(); ++i)
        roundRobin[i % 4] += costs.at(grid[i]);
    const std::int64_t roundRobinLongest = *std::max_element(roundRobin.begin(), roundRobin.end());
    QCOMPARE(roundRobinLongest, std::int64_t { 88 });
    QVERIFY2(longest <= roundRobinLongest, lpt.out.c_str());
    QCOMPARE(longest, std::int64_t { 70 });
}

void TestCli::sweepPlanPrintsAndWritesNothing()
{
    const auto out = m_dir / "planned";
    const Args grid = Args { "sweep", "--forget-classes", "1,4", "--methods", "ga,graddiff", "--steps", "3", "--out",
        q(out), "--task-count", "2" }
        + m_small;
    const Result plan = runCli(grid + Args { "--plan" });
    QVERIFY2(plan.exitCode == 0, plan.err.c_str());
    for (const char* text : { "plan of 4 runs over 2 tasks: the costliest run first, each to the task with the least "
                              "work so far\n",
             "timed on this machine (cpu, 1 thread; a compute node may differ): ", "estimated peak memory of a task: ",
             "task            cost   minutes  runs\n", "longest task: " })
        QVERIFY2(plan.out.find(text) != std::string::npos, plan.out.c_str());
    // Per task: its runs by name (GradDiff: 3 steps × 18 passes, GA 3 × 10).
    QVERIFY2(
        std::regex_search(plan.out, std::regex(R"(\n0 +84 +\d+\.\d  ga-class1-a0\.1, graddiff-class1-a0\.1-l2\n)")),
        plan.out.c_str());
    QVERIFY2(
        std::regex_search(plan.out, std::regex(R"(\n1 +84 +\d+\.\d  ga-class4-a0\.1, graddiff-class4-a0\.1-l2\n)")),
        plan.out.c_str());
    QVERIFY(!std::filesystem::exists(out));

    // --plan-json: the same as JSON, into a file (the table still printed) or alone on stdout.
    const auto file = m_dir / "plan.json";
    const Result toFile = runCli(grid + Args { "--plan-json", q(file), "--seconds-per-unit", "0.5" });
    QVERIFY2(toFile.exitCode == 0, toFile.err.c_str());
    QVERIFY2(toFile.out.find("wrote " + q(file)) != std::string::npos, toFile.out.c_str());
    QVERIFY(!std::filesystem::exists(out));
    const auto json = nlohmann::json::parse(test::readBytes(file));
    for (const char* key :
        { "task_count", "threads", "seconds_per_unit", "estimated_peak_memory_mib", "tasks", "estimated_minutes_max" })
        QVERIFY2(json.contains(key), key);
    QCOMPARE(json.at("task_count").get<int>(), 2);
    QCOMPARE(json.at("threads").get<int>(), 1);
    QCOMPARE(json.at("seconds_per_unit").get<double>(), 0.5);
    LETHE_COMPARE_STR(json.at("seconds_per_unit_source").get<std::string>(), "given");
    QVERIFY(json.at("seconds_per_training_unit").get<double>() > 0.0);
    QVERIFY(json.at("estimated_peak_memory_mib").get<std::int64_t>()
        > json.at("measured_peak_rss_mib").get<std::int64_t>());
    double longest = 0.0;
    for (const auto& task : json.at("tasks")) {
        for (const char* key : { "index", "runs", "cost", "estimated_minutes" })
            QVERIFY2(task.contains(key), key);
        QCOMPARE(task.at("cost").get<std::int64_t>(), std::int64_t { 84 });
        QCOMPARE(task.at("estimated_minutes").get<double>(), 84 * 0.5 / 60.0);
        longest = std::max(longest, task.at("estimated_minutes").get<double>());
    }
    QCOMPARE(json.at("estimated_minutes_max").get<double>(), longest);
    const Result toStdout = runCli(grid + Args { "--plan-json", "-" });
    QVERIFY2(toStdout.exitCode == 0, toStdout.err.c_str());
    const auto measured = nlohmann::json::parse(toStdout.out); // Nothing but the JSON.
    LETHE_COMPARE_STR(measured.at("seconds_per_unit_source").get<std::string>(), "measured");
    QVERIFY(measured.at("seconds_per_unit").get<double>() > 0.0);
    QVERIFY(!std::filesystem::exists(out));
}

void TestCli::sweepStatusReportsEveryTask()
{
    // Three runs, one per task: GradDiff λ 1 to task 0, λ 5 to task 1, GA to task 2.
    const auto dir = m_dir / "status";
    const auto task = [&dir](int i) { return dir / ("task-" + std::to_string(i) + "-of-3"); };
    const Args grid = Args { "sweep", "--forget-classes", "2", "--methods", "ga,graddiff", "--lambdas", "1,5",
        "--steps", "1", "--out", q(dir), "--task-count", "3" }
        + m_small;
    const auto status = [&dir](const Args& more = {}) { return runCli(Args { "sweep-status", q(dir) } + more); };

    const Result missing = status();
    QCOMPARE(missing.exitCode, 2);
    LETHE_COMPARE_STR(
        missing.err, "error: " + q(dir) + " is not a folder (sweep-status takes the --out of a split sweep)\n");
    std::filesystem::create_directories(dir);
    const Result empty = status();
    QCOMPARE(empty.exitCode, 2);
    LETHE_COMPARE_STR(empty.err,
        "error: " + q(dir)
            + " holds no task folder of a split sweep (task-I-of-N with a sweep.json): give --task-count N when no "
              "task has started yet\n");
    const Result nothing = status({ "--task-count", "3" });
    QCOMPARE(nothing.exitCode, 3);
    QVERIFY2(nothing.out.find("sweep " + q(dir) + ": 3 tasks, 0 done, 0 partial, 3 not started\n") == 0,
        nothing.out.c_str());

    // Task 0 done (started with the plan's seconds per image pass), the others not started.
    QCOMPARE(runCli(grid + Args { "--task-index", "0", "--seconds-per-unit", "0.5" }).exitCode, 0);
    const Result one = status({ "--json" });
    QCOMPARE(one.exitCode, 3);
    auto json = nlohmann::json::parse(one.out);
    QCOMPARE(json.at("task_count").get<int>(), 3);
    QCOMPARE(json.at("seconds_per_unit").get<double>(), 0.5);
    QCOMPARE(json.at("all_done").get<bool>(), false);
    const auto& t0 = json.at("tasks").at(0);
    LETHE_COMPARE_STR(t0.at("state").get<std::string>(), "done");
    LETHE_COMPARE_STR(t0.at("folder").get<std::string>(), q(task(0)));
    QCOMPARE(t0.at("runs").get<int>(), 1);
    QCOMPARE(t0.at("runs_done").get<int>(), 1);
    QCOMPARE(t0.at("cost").get<std::int64_t>(), std::int64_t { 18 });
    QCOMPARE(t0.at("estimated_minutes").get<double>(), 18 * 0.5 / 60.0);
    const auto row = lines(task(0) / "results.csv").at(1);
    const double runSeconds = std::stod(row.substr(row.rfind(',', row.rfind(',') - 1) + 1));
    QCOMPARE(t0.at("measured_minutes").get<double>(), runSeconds / 60.0);
    QVERIFY(t0.at("base").is_null() && t0.at("in_progress").is_null());
    const auto& t2 = json.at("tasks").at(2);
    LETHE_COMPARE_STR(t2.at("state").get<std::string>(), "not started");
    LETHE_COMPARE_STR(t2.at("missing").dump(), R"(["ga-class2-a0.1"])");
    QVERIFY(t2.at("measured_minutes").is_null());

    // Task 1 stopped inside its run (its results without the run, the run's checkpoint at step 3); task 2 done.
    QCOMPARE(runCli(grid + Args { "--task-index", "1" }).exitCode, 0);
    QCOMPARE(runCli(grid + Args { "--task-index", "2" }).exitCode, 0);
    const std::string task1 = test::readBytes(task(1) / "results.csv");
    test::writeBytes(task(1) / "results.csv", lines(task(1) / "results.csv")[0] + "\n");
    std::filesystem::create_directories(task(1) / "checkpoints");
    io::writeSafetensors(task(1) / "checkpoints" / "graddiff-class2-a0.1-l5.safetensors",
        { { "run.step", torch::tensor({ std::int64_t { 3 } }, torch::kInt64) } });
    const Result partial = status();
    QCOMPARE(partial.exitCode, 3);
    QVERIFY2(partial.out.find("sweep " + q(dir) + ": 3 tasks, 2 done, 1 partial, 0 not started\n") == 0,
        partial.out.c_str());
    QVERIFY2(partial.out.find("estimated minutes at 0.5 s per image pass") != std::string::npos, partial.out.c_str());
    QVERIFY2(
        std::regex_search(partial.out,
            std::regex(R"(\n1     partial          0/1 +\d+\.\d       0\.0  in progress: graddiff-class2-a0\.1-l5 )"
                       R"(\(checkpoint at step 3\); missing 1: graddiff-class2-a0\.1-l5\n)")),
        partial.out.c_str());
    json = nlohmann::json::parse(status({ "--json" }).out);
    LETHE_COMPARE_STR(
        json.at("tasks").at(1).at("in_progress").dump(), R"({"checkpoint_step":3,"run":"graddiff-class2-a0.1-l5"})");
    LETHE_COMPARE_STR(json.at("tasks").at(1).at("state").get<std::string>(), "partial");
    // Another seconds per image pass for the estimate.
    json = nlohmann::json::parse(status({ "--json", "--seconds-per-unit", "2" }).out);
    QCOMPARE(json.at("tasks").at(1).at("estimated_minutes").get<double>(), 18 * 2 / 60.0);

    test::writeBytes(task(1) / "results.csv", task1);
    std::filesystem::remove_all(task(1) / "checkpoints");
    const Result all = status();
    QCOMPARE(all.exitCode, 0);
    QVERIFY2(all.out.find(": 3 tasks, 3 done, 0 partial, 0 not started\n") != std::string::npos, all.out.c_str());

    // Bad input: a corrupt sweep.json, one of another shape, folders of two splits.
    const std::string saved = test::readBytes(task(2) / "sweep.json");
    test::writeBytes(task(2) / "sweep.json", "[]");
    const Result shape = status();
    QCOMPARE(shape.exitCode, 2);
    LETHE_COMPARE_STR(shape.err,
        "error: " + q(task(2) / "sweep.json")
            + ": \"split\" must hold task_index 2, task_count 3, the grid and tasks (every task's runs and cost), as "
              "sweep --task-index 2 --task-count 3 writes it\n");
    test::writeBytes(task(2) / "sweep.json", "{");
    const Result corrupt = status();
    QCOMPARE(corrupt.exitCode, 2);
    LETHE_COMPARE_STR(corrupt.err,
        "error: " + q(task(2) / "sweep.json")
            + ": invalid JSON: [json.exception.parse_error.101] parse error at line 1, column 2: syntax error while "
              "parsing object key - unexpected end of input; expected string literal\n");
    test::writeBytes(task(2) / "sweep.json", saved);
    std::filesystem::create_directories(dir / "task-0-of-2");
    test::writeBytes(dir / "task-0-of-2" / "sweep.json", saved);
    const Result two = status();
    QCOMPARE(two.exitCode, 2);
    LETHE_COMPARE_STR(two.err,
        "error: " + q(dir)
            + " holds task folders of splits into 2 and 3 tasks: give --task-count N for the split to "
              "report\n");
    QCOMPARE(status({ "--task-count", "3" }).exitCode, 0);
}

void TestCli::sweepMergeRefusesAnotherAssignment()
{
    const auto dir = m_dir / "assigned";
    const auto task = [&dir](int i) { return dir / ("task-" + std::to_string(i) + "-of-3"); };
    const Args grid = Args { "sweep", "--forget-classes", "2", "--methods", "ga,graddiff", "--lambdas", "1,5",
        "--steps", "1", "--out", q(dir), "--task-count", "3" }
        + m_small;
    for (const int i : { 0, 1, 2 })
        QCOMPARE(runCli(grid + Args { "--task-index", std::to_string(i) }).exitCode, 0);
    const Args merge { "sweep-merge", "--out", q(m_dir / "assigned-merged"), q(task(0)), q(task(1)), q(task(2)) };

    // Task 2's sweep.json with tasks 1 and 2 swapped, as another cost model could have assigned them.
    const std::string saved = test::readBytes(task(2) / "sweep.json");
    auto swapped = nlohmann::json::parse(saved);
    auto& tasks = swapped.at("split").at("tasks");
    std::swap(tasks[1]["runs"], tasks[2]["runs"]);
    std::swap(tasks[1]["run_costs"], tasks[2]["run_costs"]);
    std::swap(tasks[1]["cost"], tasks[2]["cost"]);
    test::writeBytes(task(2) / "sweep.json", swapped.dump(2));
    const Result other = runCli(merge);
    QCOMPARE(other.exitCode, 1);
    LETHE_COMPARE_STR(other.err,
        "error: " + q(task(2)) + " assigns the grid's runs to the tasks otherwise than " + q(task(0))
            + " (see split.tasks in their sweep.json; another version of Lethe's cost model): give the task folders "
              "of one split sweep\n");
    // The same task resumed by this version refuses the folder too.
    const Result resumed = runCli(grid + Args { "--task-index", "2" });
    QCOMPARE(resumed.exitCode, 1);
    LETHE_COMPARE_STR(resumed.err,
        "error: " + q(task(2))
            + " holds task 2 of 3 of a sweep whose runs were assigned to tasks otherwise (see split.tasks in "
              "sweep.json; another version of Lethe's cost model): finish it with that version, or choose another "
              "--out\n");

    // A task folder of the version that dealt the runs out round-robin (no split.tasks).
    auto earlier = nlohmann::json::parse(saved);
    earlier.at("split").erase("tasks");
    test::writeBytes(task(2) / "sweep.json", earlier.dump(2));
    LETHE_COMPARE_STR(runCli(merge).err,
        "error: " + q(task(2))
            + " was split by an earlier version of Lethe (run i to task i mod N; its sweep.json has no split.tasks): "
              "merge it with that version\n");
    LETHE_COMPARE_STR(runCli(grid + Args { "--task-index", "2" }).err,
        "error: " + q(task(2))
            + " holds task 2 of 3 of a sweep split by an earlier version of Lethe (run i to task i mod N; its "
              "sweep.json has no split.tasks): finish it with that version, or choose another --out\n");

    // An assignment that leaves a run out, in every folder alike.
    auto incomplete = nlohmann::json::parse(saved);
    incomplete.at("split").at("tasks")[2]["runs"] = nlohmann::json::array();
    for (const int i : { 0, 1, 2 }) {
        auto j = incomplete;
        j["split"]["task_index"] = i;
        test::writeBytes(task(i) / "sweep.json", j.dump(2));
    }
    LETHE_COMPARE_STR(runCli(merge).err,
        "error: " + q(task(0) / "sweep.json")
            + ": split.tasks does not assign every run of the grid to exactly one of the 3 tasks\n");
    for (const int i : { 0, 1, 2 }) {
        auto j = nlohmann::json::parse(saved);
        j["split"]["task_index"] = i;
        test::writeBytes(task(i) / "sweep.json", j.dump(2));
    }
    const Result merged = runCli(merge);
    QVERIFY2(merged.exitCode == 0, merged.err.c_str());
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

void TestCli::literatureMeasuresEndToEndAndCached()
{
    // A tiny random CLIP and a random Inception (weights made here), reference statistics made by fid-ref.
    const auto clip = m_dir / "clip";
    test::writeTinyClipFolder(clip);
    const auto inception = m_dir / "inception.safetensors";
    test::writeRandomInception(inception);
    const auto reference = m_dir / "class0.npz";
    const Result ref = runCli(
        { "fid-ref", "--data", q(m_data), "--class", "0", "--inception", q(inception), "--out", q(reference) });
    QVERIFY2(ref.exitCode == 0, ref.err.c_str());
    QVERIFY2(ref.out.find("wrote " + reference.string() + ": mu [2048], sigma [2048, 2048] of 10 images") == 0,
        ref.out.c_str());

    const std::map<std::string, std::string> env { { "LETHE_CACHE_DIR", (m_dir / "cache").string() } };
    const Args measures { "--classifier", q(tinyClassifier()), "--clip", q(clip), "--inception", q(inception),
        "--fid-ref", q(reference) };
    const auto figures = [](const std::filesystem::path& file) {
        nlohmann::json j = nlohmann::json::parse(test::readBytes(file));
        for (const char* key : { "from_measure_cache", "seconds" })
            j.erase(key);
        return j;
    };
    const Args eval = Args {
        "eval", "--model", q(m_model), "--data", q(m_data), "--per-class", "2", "--steps", "2", "--forget-class", "3"
    } + measures;
    const Result first = runCli(eval + Args { "--json", q(m_dir / "eval1.json") }, env);
    QVERIFY2(first.exitCode == 0, first.err.c_str());
    QVERIFY2(first.out.find("CLIP-UA ") != std::string::npos, first.out.c_str());
    QVERIFY2(first.out.find("FID ") != std::string::npos, first.out.c_str());
    QVERIFY2(first.err.find("eval: figures stored in the measure cache") != std::string::npos, first.err.c_str());
    const nlohmann::json one = figures(m_dir / "eval1.json");
    QVERIFY(one.at("clip_zero_shot").at("unlearning").at("UA").is_number());
    QCOMPARE(one.at("FID").at("remain_images").get<int>(), 18);
    QVERIFY(one.at("FID").at("forget").is_number());
    // The second run reads the cache and says so; the figures are the same, and so are those measured anew.
    const Result second = runCli(eval + Args { "--json", q(m_dir / "eval2.json") }, env);
    QVERIFY2(second.exitCode == 0, second.err.c_str());
    QVERIFY2(second.err.find("eval: figures read from the measure cache") != std::string::npos, second.err.c_str());
    QCOMPARE(figures(m_dir / "eval2.json"), one);
    const Result fresh = runCli(eval + Args { "--json", q(m_dir / "eval3.json"), "--no-cache" }, env);
    QVERIFY2(fresh.exitCode == 0 && fresh.err.find("measure cache") == std::string::npos, fresh.err.c_str());
    QCOMPARE(figures(m_dir / "eval3.json"), one);

    // unlearn: the base model measured once, read back by the next run; the unlearned model measured with both.
    const Args unlearn = Args { "unlearn", "--forget-class", "3", "--steps", "1", "--eval-per-class", "2", "--model",
        q(m_model), "--data", q(m_data), "--forget-batch", "2", "--remain-per-class", "2", "--remain-batch", "4",
        "--preview-seeds", "0,1", "--force" }
        + measures;
    const Result u1 = runCli(unlearn + Args { "--out", q(m_dir / "lit1") }, env);
    QVERIFY2(u1.exitCode == 0, u1.err.c_str());
    QVERIFY2(u1.err.find("the base model: figures stored in the measure cache") != std::string::npos, u1.err.c_str());
    const Result u2 = runCli(unlearn + Args { "--out", q(m_dir / "lit2") }, env);
    QVERIFY2(u2.exitCode == 0, u2.err.c_str());
    QVERIFY2(u2.err.find("the base model: figures read from the measure cache") != std::string::npos, u2.err.c_str());
    const auto run1 = nlohmann::json::parse(test::readBytes(m_dir / "lit1" / "run.json"));
    const auto run2 = nlohmann::json::parse(test::readBytes(m_dir / "lit2" / "run.json"));
    QCOMPARE(run2.at("metrics_before"), run1.at("metrics_before"));
    QCOMPARE(run2.at("metrics_before_from_cache").get<bool>(), true);
    QVERIFY(run1.at("metrics_after").at("clip_zero_shot").at("unlearning").at("RA").is_number());
    QVERIFY(run1.at("metrics_after").at("FID").at("remain").is_number());
    LETHE_COMPARE_STR(run1.at("instruments").at("fid").at("resize").get<std::string>(), "edm");
    QVERIFY2(u2.out.find("CLIP-UA") != std::string::npos, u2.out.c_str());

    // sweep: the literature's columns in results.csv and summary.txt. Its base row of class 3 is unlearn's
    // "before" (read from the cache), its RGD run of class 3 is u1's run, so their figures are u1's.
    const auto sweepDir = m_dir / "lit-sweep";
    const Args sweep = Args { "sweep", "--forget-classes", "3", "--steps", "1", "--eval-per-class", "2", "--model",
        q(m_model), "--data", q(m_data), "--forget-batch", "2", "--remain-per-class", "2", "--remain-batch", "4",
        "--preview-seeds", "0,1", "--out", q(sweepDir) }
        + measures;
    const Result s = runCli(sweep, env);
    QVERIFY2(s.exitCode == 0, s.err.c_str());
    QVERIFY2(s.err.find("the base model: figures read from the measure cache") != std::string::npos, s.err.c_str());
    const auto rows = lines(sweepDir / "results.csv");
    QCOMPARE(rows.size(), std::size_t { 3 });
    LETHE_COMPARE_STR(rows[0],
        "method,forget_class,forget_class_name,alpha,lambda,steps,outcome,ua,ra,ra_class_mean,fd_cls,kid_cls,clip_ua,"
        "clip_ra,fid_remain,fid_forget,run_seconds,eval_seconds");
    const auto field = [](const std::string& row, int index) {
        std::stringstream in(row);
        std::string value;
        for (int i = 0; i <= index; ++i)
            std::getline(in, value, ',');
        return std::stod(value);
    };
    const auto close = [](double a, double b) { return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b)); };
    const std::pair<const std::string*, const nlohmann::json*> expected[]
        = { { &rows[1], &run1.at("metrics_before") }, { &rows[2], &run1.at("metrics_after") } };
    for (const auto& [row, metrics] : expected) {
        QVERIFY2(close(field(*row, 12), metrics->at("clip_zero_shot").at("unlearning").at("UA").get<double>()),
            row->c_str());
        QVERIFY2(close(field(*row, 13), metrics->at("clip_zero_shot").at("unlearning").at("RA").get<double>()),
            row->c_str());
        QVERIFY2(close(field(*row, 14), metrics->at("FID").at("remain").get<double>()), row->c_str());
        QVERIFY2(close(field(*row, 15), metrics->at("FID").at("forget").get<double>()), row->c_str());
    }
    QVERIFY2(
        test::readBytes(sweepDir / "summary.txt").find("CLIP-UA  CLIP-RA      FID FID forget") != std::string::npos,
        test::readBytes(sweepDir / "summary.txt").c_str());
    // Other instruments are another sweep; and no instrument goes without the measurements.
    const Result other = runCli(Args { sweep.begin(), sweep.end() - 4 }, env);
    QCOMPARE(other.exitCode, 1);
    QVERIFY2(
        other.err.find("holds a sweep of another model or other settings") != std::string::npos, other.err.c_str());
    const Result noEval = runCli(sweep + Args { "--no-eval" }, env);
    QCOMPARE(noEval.exitCode, 1);
    LETHE_COMPARE_STR(noEval.err,
        "error: --clip, --inception and --fid-ref add to the measurements: they cannot go with --no-eval\n");

    // FID needs both the detector and the statistics.
    const Result half = runCli(Args { "eval", "--model", q(m_model), "--data", q(m_data), "--classifier",
        q(tinyClassifier()), "--inception", q(inception) });
    QCOMPARE(half.exitCode, 1);
    QVERIFY2(half.err.find("--inception and --fid-ref go together: FID needs the detector and the reference "
                           "statistics")
            != std::string::npos,
        half.err.c_str());
}

void TestCli::literatureMeasuresOnTheBuiltInModel()
{
    // The built-in model, its Fashion-MNIST data and classifier, with a tiny random CLIP, a random Inception and
    // reference statistics of mean 0 and covariance I (made here; nothing downloaded).
    const auto clip = m_dir / "builtin-clip";
    test::writeTinyClipFolder(clip);
    const auto inception = m_dir / "builtin-inception.safetensors";
    test::writeRandomInception(inception, 3);
    const auto reference = m_dir / "builtin-reference.npz";
    test::writeStandardFidReference(reference);
    const std::map<std::string, std::string> env { { "LETHE_CACHE_DIR", (m_dir / "builtin-cache").string() } };
    const Args measures { "--clip", q(clip), "--inception", q(inception), "--fid-ref", q(reference) };

    const Args eval = Args { "eval", "--per-class", "2", "--forget-class", "7" } + measures;
    const Result first = runCli(eval + Args { "--json", q(m_dir / "builtin-eval1.json") }, env);
    QVERIFY2(first.exitCode == 0, first.err.c_str());
    qInfo("eval (measured):\n%s", first.out.c_str());
    QVERIFY2(first.out.find("CLIP-UA ") != std::string::npos && first.out.find("FID ") != std::string::npos,
        first.out.c_str());
    QVERIFY2(first.err.find("eval: figures stored in the measure cache") != std::string::npos, first.err.c_str());
    const Result second = runCli(eval + Args { "--json", q(m_dir / "builtin-eval2.json") }, env);
    QVERIFY2(second.exitCode == 0, second.err.c_str());
    QVERIFY2(second.err.find("eval: figures read from the measure cache") != std::string::npos, second.err.c_str());
    auto one = nlohmann::json::parse(test::readBytes(m_dir / "builtin-eval1.json"));
    auto two = nlohmann::json::parse(test::readBytes(m_dir / "builtin-eval2.json"));
    for (nlohmann::json* j : { &one, &two })
        for (const char* key : { "from_measure_cache", "seconds" })
            j->erase(key);
    QCOMPARE(two, one);
    LETHE_COMPARE_STR(one.at("clip_zero_shot").at("per_class").at(7).at("name").get<std::string>(), "Sneaker");
    QCOMPARE(one.at("FID").at("remain_images").get<int>(), 18);
    QCOMPARE(one.at("FID").at("forget_images").get<int>(), 2);

    // unlearn on the built-in model: its "before" is the measurement eval stored (same model, images, instruments).
    const Result run = runCli(Args { "unlearn", "--forget-class", "7", "--steps", "1", "--eval-per-class", "2",
                                  "--preview-seeds", "0", "--out", q(m_dir / "builtin-run") }
            + measures,
        env);
    QVERIFY2(run.exitCode == 0, run.err.c_str());
    qInfo("unlearn:\n%s", run.out.c_str());
    QVERIFY2(run.err.find("the base model: figures read from the measure cache") != std::string::npos, run.err.c_str());
    const auto manifest = nlohmann::json::parse(test::readBytes(m_dir / "builtin-run" / "run.json"));
    QCOMPARE(manifest.at("metrics_before").at("clip_zero_shot"), one.at("clip_zero_shot"));
    QCOMPARE(manifest.at("metrics_before").at("FID"), one.at("FID"));
    QVERIFY(manifest.at("metrics_after").at("clip_zero_shot").at("unlearning").at("UA").is_number());
    QVERIFY(manifest.at("metrics_after").at("FID").at("remain").is_number());
}

void TestCli::attackClassRunAndSweep()
{
    const auto classifierPath = tinyClassifier();
    const auto run = m_dir / "attacked-run";
    const Result made = runCli(Args { "unlearn", "--forget-class", "2", "--steps", "1", "--out", q(run) } + m_small);
    QVERIFY2(made.exitCode == 0, made.err.c_str());
    const Args attack { "attack", "--run", q(run), "--classifier", q(classifierPath), "--seeds", "0-2",
        "--target-seeds", "0-1", "--steps", "2", "--attack-steps", "3", "--attack-batch", "2" };
    const Result r = runCli(attack);
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.out.find("Pre-ASR ") != std::string::npos && r.out.find("Post-ASR ") != std::string::npos
            && r.out.find("class 2 (bird)") != std::string::npos,
        r.out.c_str());
    const auto report = nlohmann::json::parse(test::readBytes(run / "attack-class" / "attack.json"));
    LETHE_COMPARE_STR(report.at("kind").get<std::string>(), "class");
    QCOMPARE(report.at("seeds").size(), std::size_t { 3 });
    QCOMPARE(report.at("per_prompt")[0].at("losses").size(), std::size_t { 3 });
    QCOMPARE(report.at("per_prompt")[0].at("label").size(), std::size_t { 10 });
    QCOMPARE(report.at("settings").at("batch").get<int>(), 2);
    QVERIFY(std::filesystem::exists(run / "attack-class" / "images.png"));
    // The figures join the run's manifest.
    const auto manifest = nlohmann::json::parse(test::readBytes(run / "run.json"));
    QCOMPARE(manifest.at("attacks").at("class").at("post_asr"), report.at("post_asr"));
    LETHE_COMPARE_STR(manifest.at("attacks").at("class").at("file").get<std::string>(), "attack-class/attack.json");

    // Nothing is overwritten without --force; a prompt attack is refused on a class run.
    const Result again = runCli(attack);
    QCOMPARE(again.exitCode, 1);
    LETHE_COMPARE_STR(again.err,
        "error: " + (run / "attack-class").string()
            + " already holds an attack (attack.json); give --force to replace it, or --out\n");
    const Result soft = runCli(Args { "attack", "--run", q(run), "--attack", "soft" });
    QCOMPARE(soft.exitCode, 1);
    LETHE_COMPARE_STR(soft.err,
        "error: attack: --attack soft attacks text-to-image runs; " + run.string()
            + " is a class run (--attack class)\n");
    const Result noRun = runCli(Args { "attack", "--run", q(m_dir / "no-such-run") });
    QCOMPARE(noRun.exitCode, 1);
    LETHE_COMPARE_STR(
        noRun.err, "error: " + (m_dir / "no-such-run").string() + " is not a run folder (it has no run.json)\n");

    // sweep --attack: one attacks.csv row per run.
    const auto sweep = m_dir / "sweep-attack";
    const Result swept = runCli(Args { "sweep", "--forget-classes", "1", "--methods", "ga,rgd", "--steps", "1",
                                    "--classifier", q(classifierPath), "--attack", "--attack-seeds", "0-1",
                                    "--attack-steps", "2", "--attack-batch", "2", "--out", q(sweep) }
        + m_small);
    QVERIFY2(swept.exitCode == 0, swept.err.c_str());
    QVERIFY2(swept.err.find("class attack: Pre-ASR ") != std::string::npos, swept.err.c_str());
    const auto rows = lines(sweep / "attacks.csv");
    QCOMPARE(rows.size(), std::size_t { 3 });
    LETHE_COMPARE_STR(rows[0], "method,forget_class,forget_class_name,alpha,lambda,pre_asr,post_asr,attack_seconds");
    QVERIFY2(rows[1].rfind("ga,1,automobile,0.1,,", 0) == 0, rows[1].c_str());
    QVERIFY2(rows[2].rfind("rgd,1,automobile,", 0) == 0, rows[2].c_str());
    const auto identity = nlohmann::json::parse(test::readBytes(sweep / "sweep.json"));
    QCOMPARE(identity.at("attack").at("steps").get<int>(), 2);
}

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
