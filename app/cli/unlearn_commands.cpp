// unlearn: make a class-conditional model forget one class, headless, into a run folder.
#include "cli_support.h"
#include "commands.h"

#include "core/data/datasets.h"
#include "core/diffusion/class_sampling.h"
#include "core/error.h"
#include "core/eval/generation_eval.h"
#include "core/imaging/grid.h"
#include "core/imaging/image_file.h"
#include "core/io/atomic_file.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_record.h"
#include "core/unlearn/session.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

namespace lethe::cli {

namespace {

struct UnlearnOptions {
    std::string model; ///< Empty: the built-in model.
    std::string classifier; ///< Empty: the built-in classifier.
    std::string data = "fashion-mnist";
    int forgetClass = -1;
    std::string preset = "cpu-fast";
    std::string configFile;
    std::string method;
    std::string out;
    std::string device = "auto";
    std::string onNan;
    bool noEval = false;
    bool force = false;
    unlearn::RunConfig flags; ///< Values of the flags below; only those given on the command line apply.
    std::vector<std::pair<CLI::Option*, std::function<void(unlearn::RunConfig&)>>> given;
};

/// Writes steps.csv as the run goes and shows the live progress line.
class CliObserver : public unlearn::UnlearnObserver {
public:
    CliObserver(const std::filesystem::path& csv, std::int64_t totalSteps)
        : m_csv(csv)
        , m_total(totalSteps)
        , m_started(std::chrono::steady_clock::now())
    {
        if (!m_csv)
            throw Error(csv.string() + ": cannot open for writing");
        m_csv << unlearn::kStepsCsvHeader << '\n';
    }

    void onStep(const unlearn::StepReport& r) override
    {
        m_csv << unlearn::stepsCsvRow(r) << '\n';
        ++m_done;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count();
        const double rate = static_cast<double>(m_done) / std::max(elapsed, 1e-9);
        char text[256];
        std::snprintf(text, sizeof text, "step %lld/%lld  L_f %.4g  L_r %.4g  cos %+.3f%s  %.2f steps/s  ETA %s",
            static_cast<long long>(r.step), static_cast<long long>(m_total), r.forgetLoss, r.remainLoss, r.cosine,
            r.projected ? " (projected)" : "", rate, duration(static_cast<double>(m_total - r.step) / rate).c_str());
        m_progress.update(text, r.step == m_total);
    }

    void onRollback(std::int64_t failed, std::int64_t restored, const std::string& why) override
    {
        m_progress.clear();
        std::cerr << "step " << failed << ": " << why << "; weights restored to step " << restored << '\n';
    }

    void finish()
    {
        m_progress.clear();
        m_csv.flush();
    }

    ProgressLine& progress() { return m_progress; }

private:
    std::ofstream m_csv;
    std::int64_t m_total;
    std::int64_t m_done = 0;
    std::chrono::steady_clock::time_point m_started;
    ProgressLine m_progress;
};

unlearn::RunConfig buildConfig(const UnlearnOptions& o)
{
    unlearn::RunConfig config = unlearn::runPreset(o.preset);
    if (!o.configFile.empty()) {
        std::ifstream in(o.configFile);
        if (!in)
            throw Error(o.configFile + ": cannot open the run config");
        nlohmann::json j;
        try {
            in >> j;
        } catch (const nlohmann::json::exception& e) {
            throw Error(o.configFile + ": invalid JSON: " + e.what());
        }
        // The file's keys override the preset; absent keys keep the preset's values.
        nlohmann::json merged = unlearn::toJson(config);
        if (!j.is_object())
            throw Error(o.configFile + ": run config: expected a JSON object");
        for (const auto& item : j.items())
            merged[item.key()] = item.value();
        try {
            config = unlearn::runConfigFromJson(merged);
        } catch (const Error& e) {
            throw Error(o.configFile + ": " + e.what());
        }
    }
    if (!o.method.empty())
        config.method = unlearn::methodFromName(o.method);
    for (const auto& [option, apply] : o.given)
        if (option->count() > 0)
            apply(config);
    if (o.onNan == "halve-lr")
        config.onNan = unlearn::NanPolicy::HalveLr;
    else if (o.onNan == "stop")
        config.onNan = unlearn::NanPolicy::Stop;
    if (o.noEval)
        config.evaluate = false;
    config.validate();
    return config;
}

void printMetrics(const char* label, const eval::GenerationEval& e)
{
    std::cout << std::left << std::setw(8) << label << std::right << std::fixed << std::setprecision(3) << "UA "
              << e.unlearning->ua << "   RA " << e.unlearning->ra << "   " << eval::kFrechetName << " "
              << std::setprecision(2) << e.frechet << "   " << eval::kKidName << " " << std::setprecision(4)
              << e.kid.mean << std::defaultfloat << '\n';
}

void runUnlearn(const UnlearnOptions& o, const GlobalOptions& global)
{
    const unlearn::RunConfig config = buildConfig(o);
    const std::filesystem::path dir(o.out);
    if (std::filesystem::exists(dir / "model.safetensors") && !o.force)
        throw Error(dir.string() + " already holds a run (model.safetensors): choose another --out or pass --force");
    std::filesystem::create_directories(dir);

    const torch::Device device = resolveDevice(o.device);
    const std::string modelPath
        = o.model.empty() ? resourceFile(std::string("models/") + kBuiltinEdmModel).string() : o.model;
    store::EdmModel model = store::loadEdmModel(modelPath, device);
    if (o.forgetClass < 0 || o.forgetClass >= model.classCount())
        throw Error("--forget-class " + std::to_string(o.forgetClass) + " is outside 0–"
            + std::to_string(model.classCount() - 1) + " (" + modelPath + " has " + std::to_string(model.classCount())
            + " classes)");
    const data::DatasetSpec spec = data::resolveDataset(o.data);
    const data::ImageSet train = data::loadDataset(spec, data::Split::Train);

    unlearn::UnlearnSession session(model.net, train, o.forgetClass, config, device);
    std::optional<models::LoadedClassifier> classifier;
    std::optional<eval::RealFeatures> real;
    if (config.evaluate) {
        const std::string classifierPath
            = o.classifier.empty() ? resourceFile(std::string("models/") + kBuiltinClassifier).string() : o.classifier;
        classifier = models::loadClassifier(classifierPath, device);
        const data::ImageSet test = data::loadDataset(spec, data::Split::Test);
        real = eval::realFeatures(classifier->model, test, device);
        session.setEvaluator(classifier->model, *real);
    }
    const std::string forgetName = model.info.classes.empty()
        ? std::to_string(o.forgetClass)
        : model.info.classes[static_cast<std::size_t>(o.forgetClass)];
    std::cerr << "unlearning class " << o.forgetClass << " (" << forgetName << ") from " << modelPath << " with "
              << unlearn::methodName(config.method) << ": α " << config.alpha << ", λ " << config.lambda << ", lr "
              << config.lr << ", " << config.steps << " steps, forget batch " << config.forgetBatch << ", remain set "
              << session.remainIndices().size() << " images, " << session.trainableNames().size()
              << " trainable tensors, device " << device.str() << ", " << torch::get_num_threads() << " threads\n";

    CancelOnInterrupt interrupt;
    const int columns = static_cast<int>(config.previewSeeds.size());
    nlohmann::json run = { { "config", unlearn::toJson(config) }, { "forget_class", o.forgetClass },
        { "forget_class_name", forgetName }, { "model", modelPath }, { "model_sha256", model.sha256 },
        { "data", train.source }, { "device", device.str() }, { "threads", torch::get_num_threads() },
        { "command", store::commandLine(global.argc, global.argv) }, { "started", store::utcNow() } };

    // "Before": the base model's previews and metrics, from the same seeds as "after".
    std::cerr << "sampling the base model's preview (" << columns << " seeds per class)\n";
    const torch::Tensor before = session.preview();
    imaging::writePng(dir / "before.png", imaging::makeGrid(before, columns));
    std::optional<eval::GenerationEval> beforeEval;
    if (config.evaluate) {
        ProgressLine progress;
        eval::GenerationEvalOptions options;
        options.imagesPerClass = config.evalImagesPerClass;
        options.forgottenClass = o.forgetClass;
        beforeEval
            = eval::evaluateGeneration(model.net, classifier->model, *real, options, device, imageProgress(progress));
        progress.clear();
        if (!beforeEval)
            throw Error("interrupted while measuring the base model; nothing but before.png was written");
        run["metrics_before"] = eval::toJson(*beforeEval, model.info.classes);
    }

    // The run, with control through Ctrl+C (stop after the current step, then write what there is).
    CliObserver observer(dir / "steps.csv", config.steps);
    unlearn::RunControl control;
    std::thread watcher([&control] {
        while (!control.stopRequested()) {
            if (CancelOnInterrupt::requested()) {
                control.requestStop();
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    unlearn::RunResult result = session.run(observer, control);
    control.requestStop();
    watcher.join();
    observer.finish();

    const char* outcome = result.outcome == unlearn::RunOutcome::Finished ? "finished"
        : result.outcome == unlearn::RunOutcome::Stopped                  ? "stopped"
                                                                          : "failed";
    run["outcome"] = outcome;
    run["message"] = result.message;
    run["steps"] = result.steps;
    run["rollbacks"] = result.rollbacks;
    run["seconds"] = result.seconds;
    run["steps_per_second"] = result.seconds > 0 ? static_cast<double>(result.steps) / result.seconds : 0.0;
    run["final_config"] = unlearn::toJson(session.config());

    const torch::Tensor after = session.preview();
    imaging::writePng(dir / "after.png", imaging::makeGrid(after, columns));
    imaging::writePng(dir / "compare.png", unlearn::compareGrid(before, after, columns, o.forgetClass));
    if (result.evaluation)
        run["metrics_after"] = eval::toJson(*result.evaluation, model.info.classes);

    const store::ModelInfo info = unlearn::unlearnedModelInfo(model.info, model.sha256, session.config(), o.forgetClass,
        result, store::commandLine(global.argc, global.argv));
    unlearn::writeEdmModel(dir / "model.safetensors", session.model(), info);
    run["finished"] = store::utcNow();
    io::writeFileAtomically(dir / "run.json", run.dump(2) + "\n");

    std::cout << "\n"
              << outcome << " after " << result.steps << " steps in " << duration(result.seconds) << " ("
              << std::setprecision(3) << run["steps_per_second"].get<double>() << " steps/s)";
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
              << "compare.png in " << dir.string() << '\n';
    if (result.outcome == unlearn::RunOutcome::Failed)
        throw Error("the run failed: " + result.message);
}

template <typename T>
void addRunFlag(
    CLI::App* cmd, UnlearnOptions& o, const std::string& name, T unlearn::RunConfig::*field, const std::string& help)
{
    CLI::Option* option = cmd->add_option(name, o.flags.*field, help);
    o.given.emplace_back(option, [&o, field](unlearn::RunConfig& c) { c.*field = o.flags.*field; });
}

} // namespace

void addUnlearnCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<UnlearnOptions>();
    CLI::App* cmd
        = app.add_subcommand("unlearn", "Make a class-conditional model forget one class (into a run folder)");
    cmd->add_option("--model", o->model, "EDM model file (default: the built-in Fashion-MNIST model)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--data", o->data, "Data set the model was trained on")->capture_default_str();
    cmd->add_option("--forget-class", o->forgetClass, "Class index to forget")->required();
    cmd->add_option("--out", o->out, "Run folder: model.safetensors, run.json, steps.csv, before/after/compare.png")
        ->required();
    cmd->add_option("--preset", o->preset, "Defaults: cpu-fast (built-in model on a CPU) or paper (METHOD.md)")
        ->capture_default_str()
        ->check(CLI::IsMember(unlearn::runPresetNames()));
    cmd->add_option("--config", o->configFile, "Run config JSON (overrides the preset; flags override it)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--method", o->method, "ga, graddiff, rg, rgd or salun (default rgd)")
        ->check(CLI::IsMember(unlearn::methodNames(), CLI::ignore_case));
    addRunFlag(cmd, *o, "--alpha", &unlearn::RunConfig::alpha, "α: truncation of the forget loss");
    addRunFlag(cmd, *o, "--lambda", &unlearn::RunConfig::lambda, "λ: weight of the remain direction");
    addRunFlag(cmd, *o, "--lr", &unlearn::RunConfig::lr, "Learning rate (constant)");
    addRunFlag(cmd, *o, "--optimizer", &unlearn::RunConfig::optimizer, "adam or sgd");
    addRunFlag(cmd, *o, "--steps", &unlearn::RunConfig::steps, "Steps");
    addRunFlag(cmd, *o, "--forget-batch", &unlearn::RunConfig::forgetBatch, "Forget images per step");
    addRunFlag(
        cmd, *o, "--remain-per-class", &unlearn::RunConfig::remainPerClass, "Remain set: images of each other class");
    addRunFlag(cmd, *o, "--remain-batch", &unlearn::RunConfig::remainBatch,
        "Remain batch (RGD: chunk of its full pass over the remain set)");
    addRunFlag(cmd, *o, "--saliency", &unlearn::RunConfig::saliencyFraction, "SalUn: fraction of weights kept");
    addRunFlag(cmd, *o, "--trainable", &unlearn::RunConfig::trainable,
        "Regular expression of the parameter names to train (default: all)");
    addRunFlag(cmd, *o, "--seed", &unlearn::RunConfig::seed, "Seed of batches, noise, dropout and the remain set");
    addRunFlag(cmd, *o, "--snapshot-every", &unlearn::RunConfig::snapshotEvery, "Steps between rollback snapshots");
    addRunFlag(cmd, *o, "--eval-per-class", &unlearn::RunConfig::evalImagesPerClass,
        "Images per class for UA, RA, FD_cls, KID_cls");
    CLI::Option* seeds
        = cmd->add_option("--preview-seeds", o->flags.previewSeeds, "Seeds of the before/after grids")->delimiter(',');
    o->given.emplace_back(seeds, [o](unlearn::RunConfig& c) { c.previewSeeds = o->flags.previewSeeds; });
    cmd->add_option("--on-nan", o->onNan, "After a rollback: stop (default) or halve-lr")
        ->check(CLI::IsMember({ "stop", "halve-lr" }));
    cmd->add_option("--classifier", o->classifier, "Classifier for the metrics (default: the built-in one)")
        ->check(CLI::ExistingFile);
    cmd->add_flag("--no-eval", o->noEval, "Skip the metrics before and after");
    cmd->add_flag("--force", o->force, "Overwrite a run already in --out");
    cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    cmd->callback([o, &global] { runCommand(global, [&] { runUnlearn(*o, global); }); });
}

} // namespace lethe::cli
