// sweep: unlearning runs over α × λ × methods × forget classes into one CSV, resumable, with a summary; or one
// task's share of a sweep split over a cluster's job array (sweep_merge_commands.cpp joins the tasks' folders).
#include "attack_support.h"
#include "cli_support.h"
#include "commands.h"
#include "measure_flags.h"
#include "sweep_plan.h"
#include "sweep_support.h"
#include "unlearn_support.h"

#include "core/diffusion/class_sampling.h"
#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/eval/benchmark.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"
#include "core/runtime.h"
#include "core/unlearn/run_record.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace lethe::cli {

namespace {

struct SweepOptions {
    std::string model;
    std::string classifier;
    std::string data = "fashion-mnist";
    std::vector<int> forgetClasses;
    std::vector<std::string> methods = { "rgd" };
    std::vector<double> alphas;
    std::vector<double> lambdas;
    std::string out;
    bool keepModels = false;
    std::string device = "auto";
    RunConfigFlags flags;
    MeasureFlags measures;
    /// Attack every run's model (the class attack) into attacks.csv.
    bool attack = false;
    AttackFlags attackFlags;
    std::string attackSeeds = "0-15";
    /// A number, "slurm" (the job array's task) or empty (the whole grid).
    std::string taskIndex;
    /// 0: not given.
    int taskCount = 0;
    /// Print the plan (grid, costs, tasks, estimated minutes and memory) and run nothing.
    bool plan = false;
    /// Also (or, with "-", only) the plan as JSON into this file; implies plan.
    std::string planJson;
    /// The plan's seconds per image pass, recorded in sweep.json for sweep-status; 0: not given.
    double secondsPerUnit = 0.0;
};

struct Combination {
    unlearn::Method method;
    int forgetClass;
    double alpha;
    double lambda;
    std::string alphaText;
    std::string lambdaText;
};

/// A whole number from the environment variable `name`; empty when it is not set.
std::optional<int> environmentNumber(const char* name)
{
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        return std::nullopt;
    try {
        std::size_t used = 0;
        const int number = std::stoi(value, &used);
        if (used == std::strlen(value))
            return number;
    } catch (const std::exception&) {
    }
    throw Error(std::string(name) + " is '" + value + "', not a whole number");
}

/// --task-index and --task-count, or with "--task-index slurm" the task of the Slurm job array this runs in.
TaskShare resolveTaskShare(const std::string& indexText, int countGiven)
{
    if (indexText.empty()) {
        if (countGiven > 0)
            throw Error("--task-count needs --task-index (a number, or 'slurm' inside a Slurm job array)");
        return {};
    }
    TaskShare share;
    if (indexText == "slurm") {
        // The array index is the task index, so that one task can be resubmitted alone (--array=2 with
        // --task-count 4). Without --task-count the array must be exactly 0..N-1.
        const auto id = environmentNumber("SLURM_ARRAY_TASK_ID");
        if (!id)
            throw Error("--task-index slurm: SLURM_ARRAY_TASK_ID is not set; run it as a task of a Slurm job array "
                        "(sbatch --array=0-3) or give --task-index and --task-count");
        share.index = *id;
        if (countGiven > 0) {
            share.count = countGiven;
        } else {
            const auto count = environmentNumber("SLURM_ARRAY_TASK_COUNT");
            const auto min = environmentNumber("SLURM_ARRAY_TASK_MIN");
            const auto max = environmentNumber("SLURM_ARRAY_TASK_MAX");
            if (!count || !min || !max)
                throw Error("--task-index slurm: SLURM_ARRAY_TASK_COUNT, _MIN or _MAX is not set; give --task-count");
            if (*min != 0 || *max != *count - 1)
                throw Error("--task-index slurm: the job array's task ids are not 0–" + std::to_string(*count - 1)
                    + " (SLURM_ARRAY_TASK_MIN " + std::to_string(*min) + ", SLURM_ARRAY_TASK_MAX "
                    + std::to_string(*max) + ", SLURM_ARRAY_TASK_COUNT " + std::to_string(*count)
                    + "): give --task-count, the number of tasks the sweep is split into");
            share.count = *count;
        }
        if (share.index < 0 || share.index >= share.count)
            throw Error("--task-index slurm: SLURM_ARRAY_TASK_ID " + std::to_string(share.index) + " is outside 0–"
                + std::to_string(share.count - 1) + " (--task-count " + std::to_string(share.count) + ")");
        return share;
    }
    try {
        std::size_t used = 0;
        share.index = std::stoi(indexText, &used);
        if (used != indexText.size())
            throw std::invalid_argument(indexText);
    } catch (const std::exception&) {
        throw Error("--task-index must be a whole number or 'slurm', found '" + indexText + "'");
    }
    if (countGiven <= 0)
        throw Error("--task-index needs --task-count, the number of tasks the sweep is split into");
    if (share.index < 0 || share.index >= countGiven)
        throw Error("--task-index " + indexText + " is outside 0–" + std::to_string(countGiven - 1) + " (--task-count "
            + std::to_string(countGiven) + ")");
    share.count = countGiven;
    return share;
}

/// The literature's figures of one measurement into the row (those it has).
void setLiterature(SweepRow& r, const eval::GenerationEval& e)
{
    if (!e.literature)
        return;
    if (e.literature->clip && e.literature->clip->unlearning) {
        r.clipUa = e.literature->clip->unlearning->ua;
        r.clipRa = e.literature->clip->unlearning->ra;
    }
    if (const auto& fid = e.literature->fid) {
        r.fidRemain = fid->remain.value_or(NAN);
        r.fidForget = fid->forget.value_or(NAN);
    }
}

nlohmann::json gridJson(const std::vector<Combination>& combinations)
{
    nlohmann::json grid = nlohmann::json::array();
    for (const auto& c : combinations)
        grid.push_back({ { "method", unlearn::methodName(c.method) }, { "forget_class", c.forgetClass },
            { "alpha", c.alphaText }, { "lambda", c.lambdaText } });
    return grid;
}

/// Adds a run's attack figures to attacks.csv (written with its header first).
void appendAttackRow(const std::filesystem::path& path, const SweepRow& r, const attack::AttackReport& report)
{
    std::string text = std::filesystem::exists(path) ? io::readFile(path) : std::string(kAttacksHeader) + "\n";
    text += csvField(r.method) + "," + std::to_string(r.forgetClass) + "," + csvField(r.className) + "," + r.alpha + ","
        + r.lambda + "," + number(report.preAsr()) + "," + number(report.postAsr()) + "," + number(report.seconds)
        + "\n";
    io::writeFileAtomically(path, text);
}

/// The sweep's forget classes (each once) and its runs in the order a local sweep runs them: forget class, then
/// method, then α, then λ.
struct Grid {
    std::vector<int> classes;
    std::vector<Combination> runs;
};

Grid buildGrid(const SweepOptions& o, const unlearn::RunConfig& base)
{
    const std::vector<double> alphas = o.alphas.empty() ? std::vector<double> { base.alpha } : o.alphas;
    const std::vector<double> lambdas = o.lambdas.empty() ? std::vector<double> { base.lambda } : o.lambdas;
    Grid grid;
    // A value given twice would run twice and record the same run twice.
    for (const int c : o.forgetClasses)
        if (std::find(grid.classes.begin(), grid.classes.end(), c) == grid.classes.end())
            grid.classes.push_back(c);
    std::set<std::string> seen;
    for (const int c : grid.classes)
        for (const auto& name : o.methods) {
            const unlearn::Method method = unlearn::methodFromName(name);
            // GA ignores λ and SalUn α: one run stands for all their values.
            const bool usesAlpha = method != unlearn::Method::SalUn;
            const bool usesLambda = method != unlearn::Method::GA;
            for (std::size_t i = 0; i < (usesAlpha ? alphas.size() : 1); ++i)
                for (std::size_t j = 0; j < (usesLambda ? lambdas.size() : 1); ++j) {
                    Combination combination { method, c, usesAlpha ? alphas[i] : base.alpha,
                        usesLambda ? lambdas[j] : base.lambda, usesAlpha ? number(alphas[i]) : "",
                        usesLambda ? number(lambdas[j]) : "" };
                    const std::string key
                        = runKey(unlearn::methodName(method), c, combination.alphaText, combination.lambdaText).key();
                    if (seen.insert(key).second)
                        grid.runs.push_back(combination);
                }
        }
    return grid;
}

/// The row key of a run of the grid.
SweepRow rowOf(const Combination& c)
{
    return runKey(unlearn::methodName(c.method), c.forgetClass, c.alphaText, c.lambdaText);
}

/// A run's settings: the sweep's with the run's method, α and λ.
unlearn::RunConfig configOf(const unlearn::RunConfig& base, const Combination& c)
{
    unlearn::RunConfig config = base;
    config.method = c.method;
    config.alpha = c.alpha;
    config.lambda = c.lambda;
    config.forgetClass = c.forgetClass;
    return config;
}

/// What the plan knows of a sweep: every run's cost (sweep_plan.h) and the tasks' shares.
struct SweepCosts {
    std::vector<std::string> names;
    std::vector<RunCost> runs;
    std::vector<std::int64_t> totals;
    RunCost base;
    std::vector<TaskAssignment> tasks;
};

SweepCosts sweepCosts(
    const SweepOptions& o, const unlearn::RunConfig& base, const Grid& grid, int classCount, int taskCount)
{
    SweepCosts costs;
    AttackWork attack;
    if (o.attack) {
        const attack::ClassAttackOptions a = o.attackFlags.classOptions();
        attack.steps = a.steps;
        attack.batch = a.batch;
        attack.seeds = static_cast<std::int64_t>(diffusion::parseSeedList(o.attackSeeds).size());
        attack.targetSeeds = attack.seeds; // The sweep draws its targets with the same seeds.
        attack.samplerEvaluations = diffusion::denoiserEvaluations(attack::ClassAttackSetup {}.sampler);
    }
    for (const Combination& c : grid.runs) {
        costs.names.push_back(runFileName(rowOf(c)));
        costs.runs.push_back(runCost(configOf(base, c), classCount, o.attack ? &attack : nullptr));
        costs.totals.push_back(costs.runs.back().total());
    }
    // With the literature's instruments the base model is measured once per forget class.
    costs.base = baseMeasurementCost(base, classCount, o.measures.given() ? static_cast<int>(grid.classes.size()) : 1);
    costs.tasks = assignRuns(costs.totals, costs.base.total(), taskCount);
    return costs;
}

/// Minutes for `cost` image passes at `secondsPerUnit`.
double minutesOf(std::int64_t cost, double secondsPerUnit)
{
    return static_cast<double>(cost) * secondsPerUnit / 60.0;
}

std::string fixedText(double value, int precision)
{
    std::ostringstream text;
    text << std::fixed << std::setprecision(precision) << value;
    return text.str();
}

/// `sweep --plan`: the grid, every run's cost, the tasks' shares, and minutes and memory from a few timed steps of
/// the real model and data on this machine. Runs nothing else and writes nothing but --plan-json's file.
void planSweep(const SweepOptions& o)
{
    const int taskCount = o.taskCount > 0 ? o.taskCount : 1;
    const unlearn::RunConfig base = buildRunConfig(o.flags);
    const Grid grid = buildGrid(o, base);
    const torch::Device device = resolveDevice(o.device);
    eval::resetPeakRss();
    UnlearnInputs in = loadUnlearnInputs(o.model, o.data, o.classifier, base.evaluate, o.forgetClasses, device);
    // Loaded for the memory they take in every task; the plan measures nothing with them.
    const eval::LiteratureInstruments instruments = loadInstruments(o.measures, in.model.info, base.evaluate, device);
    const int classCount = in.model.classCount();
    const SweepCosts costs = sweepCosts(o, base, grid, classCount, taskCount);
    RunCost total = costs.base;
    for (const RunCost& c : costs.runs)
        total += c;

    // Seconds per image pass: a few training steps of the method with the costliest step in the grid (after one
    // untimed step), and one batch of single denoiser calls as the measures' sampler makes them.
    unlearn::RunConfig timed = configOf(base, grid.runs.front());
    for (const Combination& c : grid.runs) {
        const unlearn::RunConfig config = configOf(base, c);
        const std::int64_t remain = config.remainPerClass * (classCount - 1);
        if (stepUnits(config, remain) > stepUnits(timed, remain))
            timed = config;
    }
    constexpr int kTimedSteps = 2;
    timed.steps = 1 + kTimedSteps;
    timed.snapshotEvery = timed.steps + 1;
    timed.previewEvery = 0;
    timed.evaluate = false;
    const int threads = torch::get_num_threads();
    std::cerr << "plan: timing " << kTimedSteps << " steps of " << unlearn::methodName(timed.method)
              << " after an untimed one, on " << device.str() << " with " << threads << " thread"
              << (threads == 1 ? "" : "s") << '\n';
    struct StepSeconds : unlearn::RunObserver {
        std::vector<double> seconds;
        void onStep(const unlearn::StepReport& r) override { seconds.push_back(r.seconds); }
    } steps;
    unlearn::UnlearnSession session(in.model.net, in.train, timed, device);
    unlearn::RunControl control;
    const unlearn::RunResult result = session.run(steps, control);
    if (result.outcome != unlearn::RunOutcome::Finished
        || steps.seconds.size() != static_cast<std::size_t>(timed.steps))
        throw Error("plan: the timed steps did not finish: " + result.message);
    const double stepSeconds = (steps.seconds[1] + steps.seconds[2]) / kTimedSteps;
    const double trainingSecondsPerUnit = stepSeconds
        / static_cast<double>(stepUnits(timed, static_cast<std::int64_t>(session.remainIndices().size())));
    double samplingSecondsPerUnit = trainingSecondsPerUnit;
    bool samplingTimed = false;
    if (total.sampling > 0) {
        diffusion::ClassSamplingRequest request;
        request.classes = { grid.classes.front() };
        request.sampler.method = diffusion::SamplerMethod::Euler;
        request.sampler.steps = 1; // One denoiser call per image.
        const std::int64_t images
            = std::min<std::int64_t>(100, classCount * std::max<std::int64_t>(1, base.evalImagesPerClass));
        for (std::int64_t i = 0; i < images; ++i)
            request.seeds.push_back(i);
        request.batch = images; // The measures' batch (100), or all their images when fewer.
        diffusion::sampleClasses(in.model.net, request, device); // Untimed.
        const auto start = std::chrono::steady_clock::now();
        diffusion::sampleClasses(in.model.net, request, device);
        samplingSecondsPerUnit = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            / static_cast<double>(images);
        samplingTimed = true;
    }
    const double measured = total.total() > 0 ? (static_cast<double>(total.training) * trainingSecondsPerUnit
                                                    + static_cast<double>(total.sampling) * samplingSecondsPerUnit)
            / static_cast<double>(total.total())
                                              : trainingSecondsPerUnit;
    const bool given = o.secondsPerUnit > 0.0;
    const double secondsPerUnit = given ? o.secondsPerUnit : measured;

    // Memory: the process's peak while it held the inputs and took those steps (weights, gradients, the forget
    // direction, Adam's moments, the batches' activations, the sampling batch), plus what a run adds that the timing
    // did not hold: the rollback snapshot (weights and Adam's two moments), the checkpoint being written (as much
    // again), SalUn's mask, and a kept model's copy.
    const std::int64_t measuredPeak = eval::peakRssBytes();
    std::int64_t parameterBytes = 0;
    for (const auto& p : in.model.net->parameters())
        parameterBytes += p.numel() * static_cast<std::int64_t>(p.element_size());
    const bool salun = std::any_of(
        grid.runs.begin(), grid.runs.end(), [](const Combination& c) { return c.method == unlearn::Method::SalUn; });
    const std::int64_t added = parameterBytes * (3 + 3 + (salun ? 1 : 0) + (o.keepModels ? 1 : 0));
    const std::int64_t peakMib = (measuredPeak + added + (1 << 20) - 1) >> 20;

    double longest = 0.0;
    nlohmann::json tasks = nlohmann::json::array();
    for (const TaskAssignment& t : costs.tasks) {
        nlohmann::json runs = nlohmann::json::array();
        nlohmann::json runCosts = nlohmann::json::array();
        for (const std::size_t run : t.runs) {
            runs.push_back(costs.names[run]);
            runCosts.push_back(costs.totals[run]);
        }
        const double minutes = minutesOf(t.cost, secondsPerUnit);
        longest = std::max(longest, minutes);
        tasks.push_back({ { "index", t.index }, { "runs", runs }, { "run_costs", runCosts },
            { "base_cost", t.baseCost }, { "cost", t.cost }, { "estimated_minutes", minutes } });
    }
    const nlohmann::json json = { { "task_count", taskCount }, { "threads", threads }, { "device", device.str() },
        { "seconds_per_unit", secondsPerUnit }, { "seconds_per_unit_source", given ? "given" : "measured" },
        { "seconds_per_training_unit", trainingSecondsPerUnit },
        { "seconds_per_sampling_unit", samplingTimed ? nlohmann::json(samplingSecondsPerUnit) : nlohmann::json() },
        { "estimated_peak_memory_mib", peakMib }, { "measured_peak_rss_mib", measuredPeak >> 20 },
        { "added_memory_mib", added >> 20 }, { "runs", grid.runs.size() }, { "grid", costs.names },
        { "cost", total.total() }, { "tasks", tasks }, { "estimated_minutes_max", longest } };
    if (!o.planJson.empty() && o.planJson != "-")
        io::writeFileAtomically(o.planJson, io::jsonText(json, 2));
    if (o.planJson == "-") {
        std::cout << io::jsonText(json, 2);
        return;
    }

    std::cout << "plan of " << grid.runs.size() << " run" << (grid.runs.size() == 1 ? "" : "s") << " over " << taskCount
              << " task" << (taskCount == 1 ? "" : "s")
              << ": the costliest run first, each to the task with the least work so far\n"
              << "cost in image passes (one image through the network forward; a backward pass counts two more)\n"
              << "timed on this machine (" << device.str() << ", " << threads << " thread" << (threads == 1 ? "" : "s")
              << "; a compute node may differ): " << fixedText(trainingSecondsPerUnit * 1000.0, 3)
              << " ms per image pass in training steps";
    if (samplingTimed)
        std::cout << ", " << fixedText(samplingSecondsPerUnit * 1000.0, 3) << " ms in sampling";
    std::cout << "; " << fixedText(measured * 1000.0, 3) << " ms for this grid's mix\n";
    if (given)
        std::cout << "minutes below at the given --seconds-per-unit " << number(secondsPerUnit) << " ("
                  << fixedText(secondsPerUnit * 1000.0, 3) << " ms per image pass)\n";
    std::cout << "estimated peak memory of a task: " << peakMib << " MiB (peak RSS of this timing "
              << (measuredPeak >> 20) << " MiB + " << (added >> 20)
              << " MiB for the rollback snapshot, the checkpoint being written" << (salun ? ", SalUn's mask" : "")
              << (o.keepModels ? ", the kept model" : "") << ")\n\n";
    std::cout << std::left << std::setw(6) << "task" << std::right << std::setw(14) << "cost" << std::setw(10)
              << "minutes"
              << "  runs\n";
    for (const TaskAssignment& t : costs.tasks) {
        std::string runs = t.baseCost > 0 ? "base" : "";
        for (const std::size_t run : t.runs)
            runs += (runs.empty() ? "" : ", ") + costs.names[run];
        std::cout << std::left << std::setw(6) << t.index << std::right << std::setw(14) << t.cost << std::setw(10)
                  << fixedText(minutesOf(t.cost, secondsPerUnit), 1) << "  " << (runs.empty() ? "—" : runs) << '\n';
    }
    std::cout << "\nlongest task: " << fixedText(longest, 1)
              << " minutes; all tasks together: " << fixedText(minutesOf(total.total(), secondsPerUnit), 1)
              << " minutes\n";
    if (!o.planJson.empty())
        std::cout << "wrote " << o.planJson << '\n';
}

void runSweep(const SweepOptions& o, const GlobalOptions& global)
{
    if (o.plan || !o.planJson.empty()) {
        planSweep(o);
        return;
    }
    const TaskShare share = resolveTaskShare(o.taskIndex, o.taskCount);
    const unlearn::RunConfig base = buildRunConfig(o.flags);
    const Grid grid = buildGrid(o, base);
    const std::vector<int>& classes = grid.classes;
    const std::vector<Combination>& combinations = grid.runs;

    // A task of a split sweep works in its own subfolder, so that all tasks can share one --out.
    const std::filesystem::path dir = share.split()
        ? std::filesystem::path(o.out) / taskFolderName(share.index, share.count)
        : std::filesystem::path(o.out);
    std::filesystem::create_directories(dir);
    const torch::Device device = resolveDevice(o.device);
    UnlearnInputs in = loadUnlearnInputs(o.model, o.data, o.classifier, base.evaluate, o.forgetClasses, device);
    eval::LiteratureInstruments instruments = loadInstruments(o.measures, in.model.info, base.evaluate, device);

    // A sweep resumes only with the same model and settings; its grid may grow.
    nlohmann::json settings = io::configToJson(base);
    settings.erase("method");
    settings.erase("alpha");
    settings.erase("lambda");
    nlohmann::json identity
        = { { "model_sha256", in.model.sha256 }, { "data", in.train.source }, { "config", settings } };
    if (!instruments.empty())
        identity["instruments"] = instruments.identity(); // Not their paths: tasks may read them elsewhere.
    ClassAttackSettings attackSettings;
    if (o.attack) {
        attackSettings.setup.attack = o.attackFlags.classOptions();
        attackSettings.setup.seeds = diffusion::parseSeedList(o.attackSeeds);
        attackSettings.setup.targetSeeds = attackSettings.setup.seeds;
        attackSettings.classifier = o.classifier;
        const attack::ClassAttackOptions& a = attackSettings.setup.attack;
        identity["attack"] = { { "kind", "class" }, { "steps", a.steps }, { "lr", a.lr }, { "batch", a.batch },
            { "seed", a.seed }, { "seeds", attackSettings.setup.seeds } };
    }
    // A task's share depends on the whole grid, so a task folder records the grid and every task's runs with their
    // costs (sweep_plan.h), and its grid cannot grow.
    std::vector<bool> owned(combinations.size(), !share.split());
    if (share.split()) {
        const SweepCosts costs = sweepCosts(o, base, grid, in.model.classCount(), share.count);
        for (const std::size_t run : costs.tasks[static_cast<std::size_t>(share.index)].runs)
            owned[run] = true;
        identity["split"] = { { "task_index", share.index }, { "task_count", share.count },
            { "grid", gridJson(combinations) }, { "tasks", assignmentJson(costs.tasks, costs.names, costs.totals) } };
    }
    // The plan's seconds per image pass, for sweep-status's estimate: not part of what the sweep is.
    nlohmann::json written = identity;
    if (o.secondsPerUnit > 0.0)
        written["seconds_per_unit"] = o.secondsPerUnit;
    const auto identityPath = dir / "sweep.json";
    if (std::filesystem::exists(identityPath)) {
        nlohmann::json saved = readJsonFile(identityPath);
        const nlohmann::json savedWritten = saved;
        if (saved.is_object()) {
            if (o.secondsPerUnit <= 0.0 && saved.contains("seconds_per_unit"))
                written["seconds_per_unit"] = saved["seconds_per_unit"];
            saved.erase("seconds_per_unit");
        }
        if (share.split() && saved.is_object() && saved.contains("split") && saved["split"].is_object()
            && saved["split"].contains("grid")) {
            if (!saved["split"].contains("tasks"))
                throw Error(dir.string() + " holds " + share.name()
                    + " of a sweep split by an earlier version of Lethe (run i to task i mod N; its sweep.json has no "
                      "split.tasks): finish it with that version, or choose another --out");
            nlohmann::json savedWithoutGrid = saved;
            savedWithoutGrid["split"].erase("grid");
            savedWithoutGrid["split"].erase("tasks");
            nlohmann::json identityWithoutGrid = identity;
            identityWithoutGrid["split"].erase("grid");
            identityWithoutGrid["split"].erase("tasks");
            if (savedWithoutGrid == identityWithoutGrid && saved["split"]["grid"] != identity["split"]["grid"])
                throw Error(dir.string() + " holds " + share.name()
                    + " of a sweep over another grid (see sweep.json): the grid of a split sweep cannot change, "
                      "since it decides which task runs which run; choose another --out for the new grid");
            if (savedWithoutGrid == identityWithoutGrid && saved != identity)
                throw Error(dir.string() + " holds " + share.name()
                    + " of a sweep whose runs were assigned to tasks otherwise (see split.tasks in sweep.json; "
                      "another version of Lethe's cost model): finish it with that version, or choose another --out");
        }
        if (saved != identity)
            throw Error(dir.string()
                + " holds a sweep of another model or other settings (see sweep.json): choose "
                  "another --out to start a new sweep");
        if (written != savedWritten)
            io::writeFileAtomically(identityPath, io::jsonText(written, 2));
    } else {
        io::writeFileAtomically(identityPath, io::jsonText(written, 2));
    }
    const auto resultsPath = dir / "results.csv";
    std::vector<SweepRow> rows = readResults(resultsPath);
    std::map<std::string, std::size_t> done;
    for (std::size_t i = 0; i < rows.size(); ++i)
        done[rows[i].key()] = i;

    CancelOnInterrupt interrupt;
    std::size_t mine = 0;
    std::size_t todo = 0;
    for (std::size_t i = 0; i < combinations.size(); ++i) {
        if (!owned[i])
            continue;
        const Combination& c = combinations[i];
        ++mine;
        todo += done.count(runKey(unlearn::methodName(c.method), c.forgetClass, c.alphaText, c.lambdaText).key()) ? 0
                                                                                                                  : 1;
    }
    if (share.split())
        std::cerr << share.name() << ": " << mine << " of the sweep's " << combinations.size() << " runs into "
                  << resultsPath.string() << ": " << mine - todo << " already done, " << todo << " to run"
                  << (base.evaluate && share.index == 0 ? " (and the base model's figures)" : "") << '\n';
    else
        std::cerr << "sweep of " << combinations.size() << " runs into " << resultsPath.string() << ": "
                  << combinations.size() - todo << " already done, " << todo << " to run\n";

    // The base model's figures for each forget class, from one evaluation; task 0 measures them for a split sweep.
    if (base.evaluate && (!share.split() || share.index == 0)) {
        std::vector<int> missing;
        for (const int c : classes)
            if (!done.count("base|" + std::to_string(c) + "||"))
                missing.push_back(c);
        if (!missing.empty()) {
            // The classifier's figures of every forget class come from one measurement; the literature's FID of the
            // remaining classes and UA/RA by CLIP are per forget class, so with instruments each class is measured
            // (or read from the measure cache) on its own.
            const eval::MeasureCache cache = measureCache(o.measures);
            const auto measureBase = [&](std::optional<int> forgotten) {
                std::cerr << "measuring the base model (" << base.evalImagesPerClass << " images per class"
                          << (forgotten ? ", forget class " + std::to_string(*forgotten) : std::string()) << ")\n";
                ProgressLine progress;
                eval::GenerationEvalOptions options;
                options.imagesPerClass = base.evalImagesPerClass;
                options.forgottenClass = forgotten;
                options.literature = instruments.empty() ? nullptr : &instruments;
                const auto cached = eval::evaluateGenerationCached(cache, in.model.sha256, in.model.net, *in.classifier,
                    *in.real, options, device, imageProgress(progress));
                progress.clear();
                if (!cached)
                    throw Error("interrupted while measuring the base model; rerun the same command to resume");
                reportCache(*cached, "the base model");
                return *cached;
            };
            std::optional<eval::CachedGenerationEval> shared;
            if (instruments.empty())
                shared = measureBase(std::nullopt);
            for (const int c : missing) {
                const eval::CachedGenerationEval e = shared ? *shared : measureBase(c);
                const eval::UnlearningScores scores = eval::unlearningScores(e.eval.accuracy, c);
                SweepRow r;
                r.method = "base";
                r.forgetClass = c;
                r.className = in.className(c);
                r.outcome = "measured";
                r.ua = scores.ua;
                r.ra = scores.ra;
                r.raClassMean = scores.raClassMean;
                r.fd = e.eval.frechet;
                r.kid = e.eval.kid.mean;
                setLiterature(r, e.eval);
                r.evalSeconds = e.fromCache ? 0.0 : e.eval.seconds;
                done[r.key()] = rows.size();
                rows.push_back(r);
            }
            writeResults(resultsPath, rows);
        }
    }

    std::size_t index = 0;
    for (std::size_t i = 0; i < combinations.size(); ++i) {
        if (!owned[i])
            continue;
        const Combination& c = combinations[i];
        SweepRow r;
        r.method = unlearn::methodName(c.method);
        r.forgetClass = c.forgetClass;
        r.className = in.className(c.forgetClass);
        r.alpha = c.alphaText;
        r.lambda = c.lambdaText;
        if (done.count(r.key()))
            continue;
        ++index;
        unlearn::RunConfig config = configOf(base, c);
        std::cerr << "[" << index << "/" << todo << "] " << r.method << ", forget " << c.forgetClass << " ("
                  << r.className << "), α " << (r.alpha.empty() ? "—" : r.alpha) << ", λ "
                  << (r.lambda.empty() ? "—" : r.lambda) << '\n';
        unlearn::UnlearnSession session(in.model.net, in.train, config, device);
        if (config.evaluate) {
            session.setEvaluator(in.classifier->model, *in.real);
            session.setLiteratureInstruments(&instruments);
        }
        // A run that a stop interrupted left its checkpoint: it goes on from there.
        const std::filesystem::path checkpoint = dir / "checkpoints" / (runFileName(r) + ".safetensors");
        if (std::filesystem::exists(checkpoint))
            std::cerr << "    resuming from " << checkpoint.string() << " at step " << session.resumeFrom(checkpoint)
                      << '\n';
        // Keeps the run's state at the step it stopped at (or after its last step, when the measures or the attack
        // were cut short), so that the next run of the command resumes it.
        const auto keepCheckpoint = [&](const unlearn::RunResult& stopped, const char* during) {
            session.snapshotCurrentStep();
            std::filesystem::create_directories(checkpoint.parent_path());
            session.writeCheckpoint(checkpoint);
            if (CancelOnInterrupt::checkpointRequested())
                std::cerr << CancelOnInterrupt::signalName() << during << ": this run stopped after step "
                          << stopped.steps << " of " << config.steps << " and wrote its checkpoint "
                          << checkpoint.string() << " (exit code " << kExitCheckpointed
                          << ")\nresume it with: " << resumeCommand(global.argc, global.argv, "") << '\n';
            else
                std::cerr << "interrupted" << during << ": this run is not recorded yet; its checkpoint at step "
                          << stopped.steps << " is " << checkpoint.string()
                          << ": rerun the same command to resume it\n";
        };
        struct Progress : unlearn::RunObserver {
            ProgressLine line;
            std::int64_t total = 0;
            void onStep(const unlearn::StepReport& s) override
            {
                char text[160];
                std::snprintf(text, sizeof text, "step %lld/%lld  L_f %.4g  L_r %.4g  cos %+.3f",
                    static_cast<long long>(s.step), static_cast<long long>(total), s.forgetLoss, s.remainLoss,
                    s.cosine);
                line.update(text, s.step == total);
            }
        } progress;
        progress.total = config.steps;
        const unlearn::RunResult result = runUntilInterrupted(session, progress);
        progress.line.clear();
        if (result.outcome == unlearn::RunOutcome::Stopped || CancelOnInterrupt::requested()) {
            if (result.outcome != unlearn::RunOutcome::Failed)
                keepCheckpoint(result, "");
            else
                std::cerr << "interrupted: this run is not recorded; rerun the same command to resume\n";
            break;
        }
        r.steps = result.steps;
        r.outcome = unlearn::outcomeName(result.outcome);
        r.runSeconds = result.seconds;
        if (result.evaluation) {
            r.ua = result.evaluation->unlearning->ua;
            r.ra = result.evaluation->unlearning->ra;
            r.raClassMean = result.evaluation->unlearning->raClassMean;
            r.fd = result.evaluation->frechet;
            r.kid = result.evaluation->kid.mean;
            r.evalSeconds = result.evaluation->seconds;
            setLiterature(r, *result.evaluation);
        }
        if (o.attack && result.outcome == unlearn::RunOutcome::Finished) {
            store::EdmModel attacked = in.model;
            attacked.net = session.model();
            attacked.path = "this run's model";
            const auto outcome = runClassAttackOn(attacked, in.model, c.forgetClass, attackSettings, device, false);
            if (!outcome) {
                keepCheckpoint(result, " during the attack");
                break;
            }
            appendAttackRow(dir / "attacks.csv", r, outcome->report);
            std::cerr << "    class attack: Pre-ASR " << number(outcome->report.preAsr()) << " → Post-ASR "
                      << number(outcome->report.postAsr()) << " in " << duration(outcome->report.seconds) << '\n';
        }
        if (o.keepModels) {
            std::filesystem::create_directories(dir / "models");
            unlearn::writeEdmModel(dir / "models" / (runFileName(r) + ".safetensors"), session.model(),
                unlearn::unlearnedModelInfo(
                    in.model.info, in.model.sha256, session.config(), result, "lethe-cli sweep"));
        }
        std::cerr << "    " << r.outcome << " in " << duration(r.runSeconds) << ": UA " << number(r.ua) << ", RA "
                  << number(r.ra) << ", FD_cls " << number(r.fd);
        if (result.evaluation)
            if (const std::string figures = literatureSummary(*result.evaluation); !figures.empty())
                std::cerr << "; " << figures;
        std::cerr << '\n';
        rows.push_back(r);
        writeResults(resultsPath, rows);
        std::error_code ignored;
        std::filesystem::remove(checkpoint, ignored);
        std::filesystem::remove(checkpoint.parent_path(), ignored); // Only when no other run's checkpoint is left.
    }

    const std::string summary = summaryText(rows);
    io::writeFileAtomically(dir / "summary.txt", summary);
    std::cout << summary << "wrote " << resultsPath.string() << " and summary.txt\n";
    if (share.split())
        std::cout << "every task's progress: lethe-cli sweep-status " << o.out << "\nwhen all " << share.count
                  << " tasks have finished: lethe-cli sweep-merge --out " << o.out << ' '
                  << (std::filesystem::path(o.out) / ("task-*-of-" + std::to_string(share.count))).string() << '\n';
}

} // namespace

void addSweepCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<SweepOptions>();
    CLI::App* cmd = app.add_subcommand(
        "sweep", "Unlearning runs over α × λ × methods × forget classes into one CSV (an interrupted sweep resumes)");
    addInputFlags(cmd, o->model, o->data, o->classifier);
    cmd->add_option("--forget-classes", o->forgetClasses, "Classes to forget, one run each (e.g. 1,7,9)")
        ->required()
        ->delimiter(',');
    cmd->add_option("--methods", o->methods, "Methods (ga, graddiff, rg, rgd, salun)")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::IsMember(unlearn::methodNames(), CLI::ignore_case));
    cmd->add_option("--alphas", o->alphas, "α values (default: the preset's)")->delimiter(',');
    cmd->add_option("--lambdas", o->lambdas, "λ values (default: the preset's)")->delimiter(',');
    cmd->add_option("--out", o->out, "Sweep folder: results.csv, summary.txt, sweep.json")->required();
    addRunConfigFlags(cmd, o->flags, false);
    addMeasureFlags(cmd, o->measures);
    cmd->add_flag("--keep-models", o->keepModels, "Write every run's model to models/");
    cmd->add_flag("--attack", o->attack,
        "Attack every run's model with the class attack (a label vector optimised to draw the forgotten class again) "
        "and write Pre-ASR and Post-ASR to attacks.csv");
    cmd->add_option("--attack-seeds", o->attackSeeds, "With --attack: seeds of the target and judged images")
        ->capture_default_str();
    addAttackFlags(cmd, o->attackFlags);
    cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    cmd->add_option("--task-index", o->taskIndex,
        "Run only this task's share of the grid (0-based; 'slurm': SLURM_ARRAY_TASK_ID), into OUT/task-I-of-N; "
        "sweep-merge joins the tasks");
    cmd->add_option("--task-count", o->taskCount,
           "Number of tasks the grid is split into, each run to one task by its estimated cost so that the tasks "
           "take about equally long (with 'slurm', default: the job array's size, when its ids are 0..N-1)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_flag("--plan", o->plan,
        "Print the split (every task's runs, estimated cost, minutes and peak memory, from a few steps timed here) "
        "and run nothing");
    cmd->add_option(
        "--plan-json", o->planJson, "Write the plan as JSON into this file ('-': stdout only); implies --plan");
    cmd->add_option("--seconds-per-unit", o->secondsPerUnit,
           "Seconds per image pass (the plan's seconds_per_unit): with --plan, used for the minutes; with a run, "
           "recorded in sweep.json for sweep-status's estimated minutes")
        ->check(CLI::PositiveNumber);
    cmd->callback([o, &global] {
        global.resumable = true;
        runCommand(global, [&] { runSweep(*o, global); });
    });
}

} // namespace lethe::cli
