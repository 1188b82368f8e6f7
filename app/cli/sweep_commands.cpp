// sweep: unlearning runs over α × λ × methods × forget classes into one CSV, resumable, with a summary; or one
// task's share of a sweep split over a cluster's job array (sweep_merge_commands.cpp joins the tasks' folders).
#include "attack_support.h"
#include "cli_support.h"
#include "commands.h"
#include "measure_flags.h"
#include "sweep_support.h"
#include "unlearn_support.h"

#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"
#include "core/runtime.h"
#include "core/unlearn/run_record.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
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

/// A run's files in the sweep folder (models/NAME.safetensors, checkpoints/NAME.safetensors): "rgd-class3-a0.1-l1".
std::string runFileName(const SweepRow& r)
{
    return r.method + "-class" + std::to_string(r.forgetClass) + (r.alpha.empty() ? "" : "-a" + r.alpha)
        + (r.lambda.empty() ? "" : "-l" + r.lambda);
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

void runSweep(const SweepOptions& o, const GlobalOptions& global)
{
    const TaskShare share = resolveTaskShare(o.taskIndex, o.taskCount);
    const unlearn::RunConfig base = buildRunConfig(o.flags);
    const std::vector<double> alphas = o.alphas.empty() ? std::vector<double> { base.alpha } : o.alphas;
    const std::vector<double> lambdas = o.lambdas.empty() ? std::vector<double> { base.lambda } : o.lambdas;
    // A value given twice would run twice and record the same run twice.
    std::vector<int> classes;
    for (const int c : o.forgetClasses)
        if (std::find(classes.begin(), classes.end(), c) == classes.end())
            classes.push_back(c);
    std::vector<Combination> combinations;
    std::set<std::string> seen;
    for (const int c : classes)
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
                        combinations.push_back(combination);
                }
        }

    // A task of a split sweep works in its own subfolder, so that all tasks can share one --out.
    const std::filesystem::path dir = share.split()
        ? std::filesystem::path(o.out) / ("task-" + std::to_string(share.index) + "-of-" + std::to_string(share.count))
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
    // A task's share depends on the whole grid, so a task folder records it and its grid cannot grow.
    if (share.split())
        identity["split"]
            = { { "task_index", share.index }, { "task_count", share.count }, { "grid", gridJson(combinations) } };
    const auto identityPath = dir / "sweep.json";
    if (std::filesystem::exists(identityPath)) {
        nlohmann::json saved = readJsonFile(identityPath);
        if (share.split() && saved.is_object() && saved.contains("split") && saved["split"].is_object()
            && saved["split"].contains("grid")) {
            nlohmann::json savedWithoutGrid = saved;
            savedWithoutGrid["split"].erase("grid");
            nlohmann::json identityWithoutGrid = identity;
            identityWithoutGrid["split"].erase("grid");
            if (savedWithoutGrid == identityWithoutGrid && saved != identity)
                throw Error(dir.string() + " holds " + share.name()
                    + " of a sweep over another grid (see sweep.json): the grid of a split sweep cannot change, "
                      "since it decides which task runs which run; choose another --out for the new grid");
        }
        if (saved != identity)
            throw Error(dir.string()
                + " holds a sweep of another model or other settings (see sweep.json): choose "
                  "another --out to start a new sweep");
    } else {
        io::writeFileAtomically(identityPath, io::jsonText(identity, 2));
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
        if (!share.owns(i))
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
        if (!share.owns(i))
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
        unlearn::RunConfig config = base;
        config.method = c.method;
        config.alpha = c.alpha;
        config.lambda = c.lambda;
        std::cerr << "[" << index << "/" << todo << "] " << r.method << ", forget " << c.forgetClass << " ("
                  << r.className << "), α " << (r.alpha.empty() ? "—" : r.alpha) << ", λ "
                  << (r.lambda.empty() ? "—" : r.lambda) << '\n';
        config.forgetClass = c.forgetClass;
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
        std::cout << "when all " << share.count << " tasks have finished: lethe-cli sweep-merge --out " << o.out << ' '
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
           "Number of tasks the grid is split into: run i of the grid goes to task i mod N (with 'slurm', "
           "default: the job array's size, when its ids are 0..N-1)")
        ->check(CLI::Range(1, 1000000));
    cmd->callback([o, &global] {
        global.resumable = true;
        runCommand(global, [&] { runSweep(*o, global); });
    });
}

} // namespace lethe::cli
