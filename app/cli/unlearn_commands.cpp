// unlearn, export and bench unlearn: forgetting one class of a class-conditional model headless, into a run
// folder; exporting the run's model or any kept snapshot; timing the methods' steps.
#include "cli_support.h"
#include "commands.h"
#include "measure_flags.h"
#include "unlearn_support.h"

#include "core/data/datasets.h"
#include "core/error.h"
#include "core/eval/benchmark.h"
#include "core/eval/profile_trace.h"
#include "core/imaging/grid.h"
#include "core/imaging/image_file.h"
#include "core/io/atomic_file.h"
#include "core/nn/state_dict.h"
#include "core/runtime.h"
#include "core/unlearn/restricted_gradient.h"
#include "core/unlearn/run_record.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

namespace lethe::cli {

// ---- shared with sweep (unlearn_support.h) ----------------------------------------------------------------

namespace {

std::string builtinModel(const std::string& given, const char* builtin)
{
    return given.empty() ? resourceFile(std::string("models/") + builtin).string() : given;
}

} // namespace

void addRunConfigFlags(CLI::App* cmd, RunConfigFlags& flags, bool withAlphaLambda)
{
    cmd->add_option("--preset", flags.preset, "Defaults: cpu-fast (built-in model on a CPU) or paper (docs/method.md)")
        ->capture_default_str()
        ->check(CLI::IsMember(unlearn::runPresetNames()));
    cmd->add_option("--config", flags.configFile, "Run config JSON (overrides the preset; flags override it)")
        ->check(CLI::ExistingFile);
    if (withAlphaLambda) {
        flags.add(cmd, "--alpha", &unlearn::RunConfig::alpha, "α: truncation of the forget loss");
        flags.add(cmd, "--lambda", &unlearn::RunConfig::lambda, "λ: weight of the remain direction");
    }
    flags.add(cmd, "--lr", &unlearn::RunConfig::lr, "Learning rate (constant)");
    flags.add(cmd, "--optimizer", &unlearn::RunConfig::optimizer, "adam or sgd");
    flags.add(cmd, "--steps", &unlearn::RunConfig::steps, "Steps");
    flags.add(cmd, "--forget-batch", &unlearn::RunConfig::forgetBatch, "Forget images per step");
    flags.add(cmd, "--remain-per-class", &unlearn::RunConfig::remainPerClass, "Remain set: images of each other class");
    flags.add(cmd, "--remain-batch", &unlearn::RunConfig::remainBatch,
        "Remain batch (RGD: chunk of its full pass over the remain set)");
    flags.add(cmd, "--saliency", &unlearn::RunConfig::saliencyFraction, "SalUn: fraction of weights kept");
    flags.add(cmd, "--trainable", &unlearn::RunConfig::trainable,
        "Regular expression of the parameter names to train (default: all)");
    flags.add(cmd, "--seed", &unlearn::RunConfig::seed, "Seed of batches, noise, dropout and the remain set");
    flags.add(cmd, "--snapshot-every", &unlearn::RunConfig::snapshotEvery, "Steps between rollback snapshots");
    flags.add(cmd, "--eval-per-class", &unlearn::RunConfig::evalImagesPerClass,
        "Images per class for UA, RA, FD_cls, KID_cls");
    flags.add(cmd, "--preview-seeds", &unlearn::RunConfig::previewSeeds, "Seeds of the before/after grids")
        ->delimiter(',');
    flags.addEnum(cmd, "--remain-averaging", &unlearn::RunConfig::remainAveraging,
        "RGD's pass over the remain set: the exact mean, or the paper's sum / (remain batch · batches)");
    flags.add(cmd, "--augment-p", &unlearn::RunConfig::augmentP,
        "Probability of EDM's augmentation (models with augment_dim 9 only; paper preset 0.12)");
    flags.addSwitch(cmd, "--allow-tf32", &unlearn::RunConfig::allowTf32,
        "CUDA: let matrix products and convolutions use TF32 (off by default, as the paper's code)");
    flags.addEnum(cmd, "--precision", &unlearn::RunConfig::precision,
        "Arithmetic of the steps' passes: float32, or autocast to bfloat16 (CPU and CUDA) or float16 (CUDA); "
        "weights, gradients and Adam stay float32 (default float32)");
    cmd->add_option("--on-nan", flags.onNan, "After a rollback: stop (default) or halve-lr")
        ->check(CLI::IsMember({ "stop", "halve-lr" }));
    cmd->add_flag("--no-eval", flags.noEval, "Skip the metrics (UA, RA, FD_cls, KID_cls)");
}

unlearn::RunConfig buildRunConfig(const RunConfigFlags& flags)
{
    unlearn::RunConfig config = unlearn::runPreset(flags.preset);
    if (!flags.configFile.empty()) {
        std::ifstream in(flags.configFile);
        if (!in)
            throw Error(flags.configFile + ": cannot open the run config");
        nlohmann::json j;
        try {
            in >> j;
        } catch (const nlohmann::json::exception& e) {
            throw Error(flags.configFile + ": invalid JSON: " + e.what());
        }
        if (!j.is_object())
            throw Error(flags.configFile + ": run config: expected a JSON object");
        // The file's keys override the preset; absent keys keep the preset's values.
        nlohmann::json merged = io::configToJson(config);
        for (const auto& item : j.items())
            merged[item.key()] = item.value();
        try {
            config = io::configFromJson<unlearn::RunConfig>(merged);
        } catch (const Error& e) {
            throw Error(flags.configFile + ": " + e.what());
        }
    }
    flags.applyGiven(config);
    if (flags.onNan == "halve-lr")
        config.onNan = unlearn::NanPolicy::HalveLr;
    else if (flags.onNan == "stop")
        config.onNan = unlearn::NanPolicy::Stop;
    if (flags.noEval)
        config.evaluate = false;
    config.validate();
    return config;
}

std::string UnlearnInputs::className(int label) const
{
    return label >= 0 && static_cast<std::size_t>(label) < model.info.classes.size()
        ? model.info.classes[static_cast<std::size_t>(label)]
        : std::to_string(label);
}

UnlearnInputs loadUnlearnInputs(const std::string& model, const std::string& data, const std::string& classifier,
    bool evaluate, const std::vector<int>& forgetClasses, torch::Device device)
{
    UnlearnInputs in;
    in.modelPath = builtinModel(model, kBuiltinEdmModel);
    in.model = store::loadEdmModel(in.modelPath, device);
    if (in.model.classCount() < 2)
        throw Error(in.modelPath + " is not class-conditional (label_dim " + std::to_string(in.model.classCount())
            + "): class unlearning needs a model with class labels");
    for (const int c : forgetClasses)
        if (c < 0 || c >= in.model.classCount())
            throw Error("forget class " + std::to_string(c) + " is outside 0–"
                + std::to_string(in.model.classCount() - 1) + " (" + in.modelPath + " has "
                + std::to_string(in.model.classCount()) + " classes)");
    const data::DatasetSpec spec = data::resolveDataset(data);
    in.train = data::loadDataset(spec, data::Split::Train);
    if (evaluate) {
        in.classifier = models::loadClassifier(builtinModel(classifier, kBuiltinClassifier), device);
        in.real = eval::realFeatures(in.classifier->model, data::loadDataset(spec, data::Split::Test), device);
    }
    return in;
}

void addInputFlags(CLI::App* cmd, std::string& model, std::string& data, std::string& classifier)
{
    cmd->add_option("--model", model, "EDM model file (default: the built-in Fashion-MNIST model)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--data", data, "Data set the model was trained on")->capture_default_str();
    cmd->add_option("--classifier", classifier, "Classifier for the metrics (default: the built-in one)")
        ->check(CLI::ExistingFile);
}

// ---- unlearn ----------------------------------------------------------------------------------------------

namespace {

struct UnlearnOptions {
    std::string model; ///< Empty: the built-in model.
    std::string classifier; ///< Empty: the built-in classifier.
    std::string data = "fashion-mnist";
    int forgetClass = -1;
    std::string method;
    std::string out;
    std::string device = "auto";
    bool force = false;
    bool resume = false;
    bool keepSnapshots = false;
    RunConfigFlags flags;
    MeasureFlags measures;
};

/// An interrupted unlearn run's state, rewritten at every snapshot and at a stop, and removed once the run folder is
/// complete.
constexpr const char* kUnlearnCheckpoint = "checkpoint.safetensors";

void printMetrics(const char* label, const eval::GenerationEval& e)
{
    std::cout << std::left << std::setw(8) << label << std::right << std::fixed << std::setprecision(3) << "UA "
              << e.unlearning->ua << "   RA " << e.unlearning->ra << "   " << eval::kFrechetName << " "
              << std::setprecision(2) << e.frechet << "   " << eval::kKidName << " " << std::setprecision(4)
              << e.kid.mean << std::defaultfloat << '\n';
    if (const std::string summary = literatureSummary(e); !summary.empty())
        std::cout << std::setw(8) << "" << summary << '\n';
}

void runUnlearn(const UnlearnOptions& o, const GlobalOptions& global)
{
    unlearn::RunConfig config = buildRunConfig(o.flags);
    if (!o.method.empty())
        config.method = unlearn::methodFromName(o.method);
    config.forgetClass = o.forgetClass;
    const std::filesystem::path dir(o.out);
    const std::filesystem::path checkpoint = dir / kUnlearnCheckpoint;
    // A run stopped with Ctrl+C wrote its folder and kept its checkpoint: --resume goes on from there.
    const bool resuming = o.resume && !o.force && std::filesystem::exists(checkpoint);
    if (std::filesystem::exists(dir / "model.safetensors") && !o.force && !resuming)
        throw Error(dir.string() + " already holds a run (model.safetensors): choose another --out or pass --force");
    if (std::filesystem::exists(checkpoint) && !o.resume && !o.force)
        throw Error(dir.string() + " holds an interrupted run (" + kUnlearnCheckpoint
            + "): pass --resume to continue it, or --force to start over");

    const torch::Device device = resolveDevice(o.device);
    UnlearnInputs in = loadUnlearnInputs(o.model, o.data, o.classifier, config.evaluate, { o.forgetClass }, device);
    std::filesystem::create_directories(dir);
    if (o.force)
        std::filesystem::remove_all(dir / "snapshots");
    if (o.force)
        std::filesystem::remove(checkpoint);

    eval::LiteratureInstruments instruments = loadInstruments(o.measures, in.model.info, config.evaluate, device);
    unlearn::UnlearnSession session(in.model.net, in.train, config, device);
    if (config.evaluate) {
        session.setEvaluator(in.classifier->model, *in.real);
        session.setLiteratureInstruments(&instruments);
    }
    std::int64_t resumedStep = 0;
    if (resuming) {
        resumedStep = session.resumeFrom(checkpoint);
        std::cerr << "resuming from " << checkpoint.string() << " at step " << resumedStep << '\n';
    } else if (o.resume) {
        std::cerr << "no checkpoint in " << dir.string() << ": starting from the beginning\n";
    }
    const std::string command = io::commandLine(global.argc, global.argv);
    const std::string forgetName = in.className(o.forgetClass);
    std::cerr << "unlearning class " << o.forgetClass << " (" << forgetName << ") from " << in.modelPath << " with "
              << unlearn::methodName(config.method) << ": α " << config.alpha << ", λ " << config.lambda << ", lr "
              << config.lr << ", " << config.steps << " steps, forget batch " << config.forgetBatch << ", remain set "
              << session.remainIndices().size() << " images, " << session.trainableNames().size()
              << " trainable tensors, device " << device.str() << ", " << torch::get_num_threads() << " threads\n";

    CancelOnInterrupt interrupt;
    const int columns = static_cast<int>(config.previewSeeds.size());
    const unlearn::RunRecord record { "class", io::configToJson(config), {}, in.modelPath, in.model.sha256,
        device.str(), command, io::utcNow() };
    nlohmann::json run = { { "forget_class", o.forgetClass }, { "forget_class_name", forgetName },
        { "data", in.train.source }, { "resumed_from_step", resumedStep } };

    // "Before": the base model's previews and metrics, from the same seeds as "after".
    std::cerr << "sampling the base model's preview (" << columns << " seeds per class)\n";
    const torch::Tensor before = session.preview().value();
    imaging::writePng(dir / "before.png", imaging::makeGrid(before, columns));
    std::optional<eval::GenerationEval> beforeEval;
    if (config.evaluate) {
        ProgressLine progress;
        eval::GenerationEvalOptions options;
        options.imagesPerClass = config.evalImagesPerClass;
        options.forgottenClass = o.forgetClass;
        options.literature = &instruments;
        const auto cached = eval::evaluateGenerationCached(measureCache(o.measures), in.model.sha256, in.model.net,
            *in.classifier, *in.real, options, device, imageProgress(progress));
        progress.clear();
        if (!cached)
            throw Error("interrupted while measuring the base model; nothing but before.png was written");
        reportCache(*cached, "the base model");
        beforeEval = cached->eval;
        run["metrics_before"] = eval::toJson(*beforeEval, in.model.info.classes);
        run["metrics_before_from_cache"] = cached->fromCache;
        if (!instruments.empty())
            run["instruments"] = instruments.describe();
    }

    // The run, with control through Ctrl+C (stop after the current step, then write what there is).
    if (resuming)
        truncateStepsCsv(dir / "steps.csv", resumedStep);
    CliObserver observer(dir / "steps.csv", config.steps, resuming);
    observer.writeCheckpoints([&] { session.writeCheckpoint(checkpoint); });
    const auto started = std::chrono::steady_clock::now();
    if (o.keepSnapshots)
        observer.keepSnapshots(dir / "snapshots", [&](const std::filesystem::path& path, std::int64_t step) {
            unlearn::RunResult sofar;
            sofar.steps = step;
            sofar.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            unlearn::writeEdmModel(path, session.model(),
                unlearn::unlearnedModelInfo(in.model.info, in.model.sha256, session.config(), sofar, command));
        });
    unlearn::RunResult result = runUntilInterrupted(session, observer);
    observer.finish();
    // A stop (or a signal during the measures at the end) leaves the checkpoint at the step the run stopped at, so
    // that --resume goes on from there rather than from the last snapshot.
    const bool measuresCut = result.outcome == unlearn::RunOutcome::Finished && config.evaluate && !result.evaluation
        && CancelOnInterrupt::requested();
    if (result.outcome == unlearn::RunOutcome::Stopped || measuresCut) {
        session.snapshotCurrentStep();
        session.writeCheckpoint(checkpoint);
    }
    // SIGTERM or SIGUSR1 (scancel, a cluster's time limit): the checkpoint is all there is time for.
    if (CancelOnInterrupt::checkpointRequested() && (result.outcome == unlearn::RunOutcome::Stopped || measuresCut)) {
        std::cerr << CancelOnInterrupt::signalName() << ": the run stopped after step " << result.steps << " of "
                  << config.steps << " and wrote its checkpoint " << checkpoint.string() << " (exit code "
                  << kExitCheckpointed << ")\nresume it with: " << resumeCommand(global.argc, global.argv, "--resume")
                  << '\n';
        return;
    }

    const char* outcome = unlearn::outcomeName(result.outcome);
    unlearn::RunRecord finalRecord = record;
    finalRecord.finalConfig = io::configToJson(session.config());
    nlohmann::json manifest = unlearn::runManifest(finalRecord, result);
    manifest.update(run);
    if (result.evaluation)
        manifest["metrics_after"] = eval::toJson(*result.evaluation, in.model.info.classes);
    unlearn::RunFiles files;
    files.manifest = manifest;
    files.before = before;
    files.after = session.preview().value();
    files.columns = columns;
    files.forgetClass = o.forgetClass;
    unlearn::writeRunFolder(dir, files, session.model(),
        unlearn::unlearnedModelInfo(in.model.info, in.model.sha256, session.config(), result, command));
    if (result.outcome == unlearn::RunOutcome::Finished)
        std::filesystem::remove(checkpoint); // The run folder is complete: nothing to resume.

    std::cout << "\n"
              << outcome << " after " << result.steps << " steps in " << duration(result.seconds) << " ("
              << std::setprecision(3) << manifest["steps_per_second"].get<double>() << " steps/s)";
    if (result.rollbacks > 0)
        std::cout << ", " << result.rollbacks << " rollback(s)";
    std::cout << '\n';
    if (!result.message.empty())
        std::cout << result.message << '\n';
    if (beforeEval)
        printMetrics("before", *beforeEval);
    if (result.evaluation)
        printMetrics("after", *result.evaluation);
    std::cout << "wrote " << (dir / "model.safetensors").string() << ", run.json, steps.csv, before.png, after.png, "
              << "compare.png" << (o.keepSnapshots ? ", snapshots/" : "") << " in " << dir.string() << '\n';
    if (result.outcome == unlearn::RunOutcome::Failed)
        throw Error("the run failed: " + result.message);
}

// ---- export -----------------------------------------------------------------------------------------------

struct ExportOptions {
    std::string source; ///< A run folder or a model file.
    std::int64_t step = -1; ///< A kept snapshot's step; -1: the run's final model.
    bool list = false;
    std::string out;
    bool force = false;
};

/// step → file of the snapshots a run kept.
std::map<std::int64_t, std::filesystem::path> keptSnapshots(const std::filesystem::path& run)
{
    std::map<std::int64_t, std::filesystem::path> found;
    const auto folder = run / "snapshots";
    if (!std::filesystem::is_directory(folder))
        return found;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
        const std::string name = entry.path().filename().string();
        long long step = 0;
        char tail[32] = {};
        if (std::sscanf(name.c_str(), "step-%lld.%31s", &step, tail) == 2 && std::string(tail) == "safetensors")
            found[step] = entry.path();
    }
    return found;
}

void runExport(const ExportOptions& o)
{
    const std::filesystem::path source(o.source);
    std::filesystem::path file = source;
    if (std::filesystem::is_directory(source)) {
        const auto snapshots = keptSnapshots(source);
        if (o.list) {
            std::cout << "final  " << (source / "model.safetensors").string()
                      << (std::filesystem::exists(source / "model.safetensors") ? "" : "  (missing)") << '\n';
            for (const auto& [step, path] : snapshots)
                std::cout << "step " << step << "  " << path.string() << '\n';
            if (snapshots.empty())
                std::cout << "(no snapshots kept: run `lethe-cli unlearn` with --keep-snapshots to keep them)\n";
            return;
        }
        if (o.step >= 0) {
            const auto it = snapshots.find(o.step);
            if (it == snapshots.end()) {
                std::string have;
                for (const auto& item : snapshots)
                    have += (have.empty() ? "" : ", ") + std::to_string(item.first);
                throw Error(source.string() + " kept no snapshot of step " + std::to_string(o.step)
                    + " (kept: " + (have.empty() ? "none; run with --keep-snapshots" : have) + ")");
            }
            file = it->second;
        } else {
            file = source / "model.safetensors";
        }
    } else if (o.step >= 0 || o.list) {
        throw Error("--step and --list need a run folder; " + source.string() + " is a file");
    }
    if (o.out.empty())
        throw Error("--out is required unless --list is given");
    if (std::filesystem::exists(o.out) && !o.force)
        throw Error(o.out + " exists: choose another --out or pass --force");
    // Loading checks every tensor against the architecture; the copy keeps EDM's names and the metadata.
    const store::EdmModel model = store::loadEdmModel(file, torch::kCPU);
    unlearn::writeEdmModel(o.out, model.net, model.info);
    std::cout << "exported " << file.string() << " (" << model.info.provenance.method << ", step "
              << model.info.provenance.steps << ") to " << o.out << "\ntensor names are EDM's own: load it in EDM "
              << "with scripts/safetensors_to_edm_pkl.py\n";
}

// ---- bench unlearn ----------------------------------------------------------------------------------------

struct BenchUnlearnOptions {
    std::string model;
    std::string data = "fashion-mnist";
    std::string method = "rgd";
    int forgetClass = 0;
    int runs = 5;
    int warmup = 1;
    std::string device = "auto";
    std::string profile;
    RunConfigFlags flags;
};

/// Collects each step's wall time; with a profile path, traces the steps after the warmup (the trace starts when
/// the last warmup step reports, on the thread that runs the steps, and is written when the observer goes).
struct StepTimes : unlearn::RunObserver {
    int warmup = 0;
    std::string profilePath;
    std::vector<double> ms;
    std::unique_ptr<eval::ProfileTrace> trace;
    void onStep(const unlearn::StepReport& r) override
    {
        ms.push_back(r.seconds * 1000.0);
        if (!profilePath.empty() && static_cast<int>(ms.size()) == warmup)
            trace = std::make_unique<eval::ProfileTrace>(profilePath);
    }
};

/// Times `warmup + runs` steps of `method` and reports the median of the last `runs`; traces them into
/// `profilePath` when it is not empty.
eval::BenchResult timeSteps(const UnlearnInputs& in, unlearn::RunConfig config, unlearn::Method method, int forgetClass,
    int warmup, int runs, torch::Device device, const std::string& profilePath = {})
{
    config.method = method;
    config.steps = warmup + runs;
    config.snapshotEvery = config.steps + 1;
    config.evaluate = false;
    config.forgetClass = forgetClass;
    unlearn::UnlearnSession session(in.model.net, in.train, config, device);
    StepTimes times;
    times.warmup = warmup;
    times.profilePath = profilePath;
    if (!profilePath.empty() && warmup == 0)
        times.trace = std::make_unique<eval::ProfileTrace>(profilePath);
    unlearn::RunControl control;
    eval::resetPeakRss();
    const unlearn::RunResult result = session.run(times, control);
    times.trace.reset();
    if (result.outcome != unlearn::RunOutcome::Finished)
        throw Error("the benchmark run did not finish: " + result.message);
    eval::BenchResult r;
    r.name = unlearn::methodName(method);
    r.milliseconds.assign(times.ms.begin() + warmup, times.ms.end());
    r.medianMs = eval::median(r.milliseconds);
    r.minMs = *std::min_element(r.milliseconds.begin(), r.milliseconds.end());
    r.maxMs = *std::max_element(r.milliseconds.begin(), r.milliseconds.end());
    r.peakRssBytes = eval::peakRssBytes();
    return r;
}

void printStepBench(const eval::BenchResult& r, const std::string& what)
{
    std::cout << std::fixed << std::setprecision(1) << std::left << std::setw(9) << r.name << std::right << "median "
              << r.medianMs << " ms/step (min " << r.minMs << ", max " << r.maxMs << ", " << r.milliseconds.size()
              << " steps), peak RSS " << eval::formatBytes(r.peakRssBytes) << "  " << what << std::defaultfloat << '\n';
}

void runBenchUnlearn(const BenchUnlearnOptions& o)
{
    unlearn::RunConfig config = buildRunConfig(o.flags);
    const unlearn::Method method = unlearn::methodFromName(o.method);
    const torch::Device device = resolveDevice(o.device);
    const UnlearnInputs in = loadUnlearnInputs(o.model, o.data, "", false, { o.forgetClass }, device);
    const std::int64_t remain = config.remainPerClass * (in.model.classCount() - 1);
    std::cout << "bench unlearn  " << in.modelPath << ", " << nn::parameterCount(*in.model.net)
              << " parameters, forget "
              << "batch " << config.forgetBatch << ", remain batch " << config.remainBatch << ", remain set " << remain
              << " images, device " << device.str() << ", " << torch::get_num_threads() << " threads\n";
    const auto describe = [&](unlearn::Method m) {
        const std::int64_t chunks = (remain + config.remainBatch - 1) / config.remainBatch;
        return m == unlearn::Method::RGD
            ? "(forget batch + full remain pass: " + std::to_string(chunks) + " chunks)"
            : std::string(m == unlearn::Method::GA ? "(forget batch)" : "(forget batch + one remain batch)");
    };
    const eval::BenchResult chosen = timeSteps(in, config, method, o.forgetClass, o.warmup, o.runs, device, o.profile);
    printStepBench(chosen, describe(method));
    printProfileSummary(o.profile);

    // The projection's own cost: RG against GradDiff on the same batches (same seed, same draws), and the
    // combination alone on gradients the size of the model.
    if (method == unlearn::Method::RG || method == unlearn::Method::RGD) {
        const eval::BenchResult gd
            = timeSteps(in, config, unlearn::Method::GradDiff, o.forgetClass, o.warmup, o.runs, device);
        const eval::BenchResult rg = method == unlearn::Method::RG
            ? chosen
            : timeSteps(in, config, unlearn::Method::RG, o.forgetClass, o.warmup, o.runs, device);
        if (method != unlearn::Method::RG)
            printStepBench(rg, describe(unlearn::Method::RG));
        printStepBench(gd, describe(unlearn::Method::GradDiff));
        std::vector<torch::Tensor> ascent, remainGrad;
        for (const auto& p : in.model.net->parameters()) {
            ascent.push_back(torch::randn_like(p));
            remainGrad.push_back(torch::randn_like(p));
        }
        for (auto& a : ascent) // Conflicting on purpose, so the projection fires.
            a.neg_();
        std::vector<torch::Tensor> work;
        const auto project = eval::benchmark(
            "projection",
            [&] {
                work.clear();
                for (const auto& d : remainGrad)
                    work.push_back(d.clone());
                unlearn::combineRestricted(ascent, work, config.lambda, true);
            },
            1, 20);
        const auto plain = eval::benchmark(
            "sum",
            [&] {
                work.clear();
                for (const auto& d : remainGrad)
                    work.push_back(d.clone());
                for (std::size_t i = 0; i < work.size(); ++i)
                    work[i].mul_(config.lambda).add_(ascent[i]);
            },
            1, 20);
        std::cout << std::fixed << std::setprecision(2) << "projection alone: median " << project.medianMs
                  << " ms (dot products, norms, a' + λd') vs " << plain.medianMs
                  << " ms for a plain a + λd (both include copying d); RG step / GradDiff step = "
                  << std::setprecision(3) << rg.medianMs / gd.medianMs << std::defaultfloat << '\n';
    }
}

} // namespace

void addUnlearnCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<UnlearnOptions>();
    CLI::App* cmd
        = app.add_subcommand("unlearn", "Make a class-conditional model forget one class (into a run folder)");
    addInputFlags(cmd, o->model, o->data, o->classifier);
    cmd->add_option("--forget-class", o->forgetClass, "Class index to forget")->required();
    cmd->add_option("--out", o->out, "Run folder: model.safetensors, run.json, steps.csv, before/after/compare.png")
        ->required();
    cmd->add_option("--method", o->method, "ga, graddiff, rg, rgd or salun (default rgd)")
        ->check(CLI::IsMember(unlearn::methodNames(), CLI::ignore_case));
    addRunConfigFlags(cmd, o->flags, true);
    addMeasureFlags(cmd, o->measures);
    cmd->add_flag("--keep-snapshots", o->keepSnapshots,
        "Also write every rollback snapshot to snapshots/step-N.safetensors (for lethe-cli export)");
    cmd->add_flag("--force", o->force, "Overwrite a run already in --out");
    cmd->add_flag("--resume", o->resume,
        "Continue an interrupted run in --out from its checkpoint (written at every snapshot and where Ctrl+C, "
        "SIGTERM or SIGUSR1 stopped it), with the same settings");
    cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    cmd->callback([o, &global] {
        global.resumable = true;
        runCommand(global, [&] { runUnlearn(*o, global); });
    });

    auto e = std::make_shared<ExportOptions>();
    CLI::App* ex = app.add_subcommand("export", "Export an unlearning run's model or one of its kept snapshots");
    ex->add_option("source", e->source, "Run folder (or a model file)")->required();
    ex->add_option("--step", e->step, "Step of a snapshot kept with --keep-snapshots (default: the final model)");
    ex->add_flag("--list", e->list, "List the run's final model and kept snapshots");
    ex->add_option("--out", e->out, "Model file to write (safetensors, EDM tensor names)");
    ex->add_flag("--force", e->force, "Overwrite --out");
    ex->callback([e, &global] { runCommand(global, [&] { runExport(*e); }); });

    CLI::App* bench = app.get_subcommand("bench");
    auto b = std::make_shared<BenchUnlearnOptions>();
    CLI::App* bu = bench->add_subcommand(
        "unlearn", "Unlearning steps of one method (RG and RGD: also GradDiff and the projection on the same batches)");
    bu->add_option("--model", b->model, "EDM model file (default: the built-in Fashion-MNIST model)")
        ->check(CLI::ExistingFile);
    bu->add_option("--data", b->data, "Data set the model was trained on")->capture_default_str();
    bu->add_option("--method", b->method, "ga, graddiff, rg, rgd or salun")
        ->capture_default_str()
        ->check(CLI::IsMember(unlearn::methodNames(), CLI::ignore_case));
    bu->add_option("--forget-class", b->forgetClass, "Class to forget")->capture_default_str();
    bu->add_option("--runs", b->runs, "Measured steps (the median is reported)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    bu->add_option("--warmup", b->warmup, "Unmeasured steps first")->capture_default_str();
    addRunConfigFlags(bu, b->flags, true);
    bu->add_option("--device", b->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    addProfileOption(bu, b->profile);
    bu->callback([b, &global] { runCommand(global, [&] { runBenchUnlearn(*b); }); });
}

} // namespace lethe::cli
