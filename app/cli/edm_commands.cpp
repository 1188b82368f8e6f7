// pretrain and sample: EDM diffusion models.
#include "cli_support.h"
#include "commands.h"

#include "core/data/datasets.h"
#include "core/diffusion/class_sampling.h"
#include "core/error.h"
#include "core/imaging/grid.h"
#include "core/imaging/image_file.h"
#include "core/io/model_file.h"
#include "core/io/safetensors.h"
#include "core/models/edm/edm_config.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"
#include "core/train/edm_trainer.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

namespace lethe::cli {

namespace {

struct PretrainOptions {
    std::string data = "fashion-mnist";
    std::string preset = "fmnist-ddpmpp-small";
    std::string configFile;
    std::string out;
    std::string device = "auto";
    bool resume = false;
    std::string init;
    double labelDropout = -1.0; ///< When ≥ 0, replaces the network's label_dropout.
    std::int64_t images = 0; ///< When set, the number of training images, in place of --steps.
    train::PretrainConfig config;
};

void runPretrain(const PretrainOptions& options, const GlobalOptions& global)
{
    train::PretrainConfig config = options.config;
    if (!options.configFile.empty()) {
        std::ifstream in(options.configFile);
        if (!in)
            throw Error(options.configFile + ": cannot open the network config");
        nlohmann::json architecture;
        try {
            in >> architecture;
        } catch (const nlohmann::json::exception& e) {
            throw Error(options.configFile + ": invalid JSON: " + e.what());
        }
        models::edmOptionsFromJson(architecture); // Reject a bad config before loading any data.
        config.architecture = architecture;
    }
    config.preset = options.preset;
    if (!options.init.empty() && options.configFile.empty())
        config.architecture = store::loadEdmModel(options.init, torch::kCPU).info.architecture;
    if (options.labelDropout >= 0.0) {
        if (config.architecture.is_null())
            config.architecture = models::toJson(models::edmPreset(options.preset));
        config.architecture["label_dropout"] = options.labelDropout;
    }
    config.dataset = options.data;
    if (options.images > 0)
        config.steps = (options.images + config.batch - 1) / config.batch;
    const torch::Device device = resolveDevice(options.device);
    const data::DatasetSpec spec = data::resolveDataset(options.data);
    data::ImageSet train = data::loadDataset(spec, data::Split::Train);
    std::cerr << "training on " << train.source << ": " << train.size() << " images, device " << device.str() << "\n";

    train::EdmPretrainer trainer(
        config, std::move(train), device, options.out, io::commandLine(global.argc, global.argv));
    if (options.resume) {
        if (std::filesystem::exists(train::EdmPretrainer::statePath(options.out)))
            trainer.resume();
        else
            std::cerr << "no training state at " << train::EdmPretrainer::statePath(options.out).string()
                      << ": starting from scratch\n";
    } else if (std::filesystem::exists(options.out)) {
        throw Error(options.out + " exists: pass --resume to continue its training, or choose another --out");
    }
    if (!options.init.empty() && trainer.step() == 0)
        trainer.initialiseFrom(options.init);
    std::cerr << "network: " << trainer.parameterCount() << " parameters; step " << trainer.step() << " of "
              << config.steps << "\n";

    if (runTrainingWithProgress([&](const auto& observer, const auto* cancel) { trainer.run(observer, cancel); }))
        std::cerr << "interrupted at step " << trainer.step() << "; checkpoint written, continue with --resume\n";
    std::cout << "wrote " << options.out << " (EMA weights, step " << trainer.step() << ") and "
              << train::EdmPretrainer::statePath(options.out).string() << '\n';
}

struct SampleOptions {
    std::string model;
    std::vector<int> classes;
    bool allClasses = false;
    std::string seeds = "0-9";
    int steps = 18;
    std::string sampler = "heun";
    double guidance = 1.0;
    std::string out;
    std::string tensorsOut;
    std::int64_t batch = 100;
    std::string device = "auto";
};

void runSample(const SampleOptions& options)
{
    if (options.out.empty() && options.tensorsOut.empty())
        throw Error("nothing to write: give --out (PNG grid) and/or --tensors (safetensors of the images)");
    const torch::Device device = resolveDevice(options.device);
    const std::string path
        = options.model.empty() ? resourceFile(std::string("models/") + kBuiltinEdmModel).string() : options.model;
    store::EdmModel model = store::loadEdmModel(path, device);
    diffusion::ClassSamplingRequest request;
    request.seeds = diffusion::parseSeedList(options.seeds);
    request.sampler.steps = options.steps;
    request.sampler.method
        = options.sampler == "euler" ? diffusion::SamplerMethod::Euler : diffusion::SamplerMethod::Heun;
    request.sampler.guidance = options.guidance;
    request.batch = options.batch;
    if (model.classCount() > 0) {
        if (options.allClasses || options.classes.empty())
            for (int c = 0; c < model.classCount(); ++c)
                request.classes.push_back(c);
        else
            request.classes = options.classes;
    }
    CancelOnInterrupt interrupt;
    ProgressLine progress;
    const auto started = std::chrono::steady_clock::now();
    const auto images = diffusion::sampleClasses(model.net, request, device, imageProgress(progress));
    progress.clear();
    if (!images)
        throw Error("sampling cancelled; nothing written");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto columns = static_cast<int>(request.seeds.size());
    if (!options.out.empty()) {
        imaging::writePng(options.out, imaging::makeGrid(*images, columns, 2, 0));
        std::cout << "wrote " << options.out << ": " << std::max<std::size_t>(1, request.classes.size()) << " row(s) × "
                  << columns << " seeds\n";
    }
    if (!options.tensorsOut.empty()) {
        std::vector<std::int64_t> labels;
        std::vector<std::int64_t> seeds;
        for (int c : request.classes.empty() ? std::vector<int> { -1 } : request.classes)
            for (auto seed : request.seeds) {
                labels.push_back(c);
                seeds.push_back(seed);
            }
        io::writeSafetensors(options.tensorsOut,
            { { "images", *images }, { "labels", torch::tensor(labels) }, { "seeds", torch::tensor(seeds) } },
            { { "model", path }, { "model_sha256", model.sha256 }, { "sampler", options.sampler },
                { "steps", std::to_string(options.steps) } });
        std::cout << "wrote " << options.tensorsOut << '\n';
    }
    std::cout << images->size(0) << " images in " << std::fixed << std::setprecision(1) << seconds << " s ("
              << std::setprecision(2) << static_cast<double>(images->size(0)) / seconds << " images/s)\n";
}

} // namespace

void addEdmCommands(CLI::App& app, GlobalOptions& global)
{
    auto pretrain = std::make_shared<PretrainOptions>();
    CLI::App* pre = app.add_subcommand("pretrain", "Train a class-conditional EDM diffusion model on a data set");
    pre->add_option("--data", pretrain->data, "Data set: 'fashion-mnist' or a folder")->capture_default_str();
    pre->add_option(
           "--preset", pretrain->preset,
           "Network preset: " +
               [] {
                   std::string names;
                   for (const auto& n : models::edmPresetNames())
                       names += (names.empty() ? "" : ", ") + n;
                   return names;
               }())
        ->capture_default_str();
    pre->add_option("--config", pretrain->configFile, "Network as EDM init_kwargs JSON (overrides --preset)")
        ->check(CLI::ExistingFile);
    pre->add_option("--out", pretrain->out, "Model file to write (a .state.safetensors file goes beside it)")
        ->required();
    CLI::Option* steps = pre->add_option("--steps", pretrain->config.steps, "Training steps")
                             ->capture_default_str()
                             ->check(CLI::PositiveNumber);
    pre->add_option("--images", pretrain->images, "Training length in images seen (sets --steps to images / batch)")
        ->check(CLI::PositiveNumber)
        ->excludes(steps);
    pre->add_option("--batch", pretrain->config.batch, "Images per step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    pre->add_option("--lr", pretrain->config.lr, "Adam learning rate")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    pre->add_option("--lr-rampup", pretrain->config.lrRampupImages, "Images over which the lr ramps up linearly")
        ->capture_default_str();
    pre->add_option("--ema-half-life", pretrain->config.emaHalfLifeImages, "EMA half-life in images")
        ->capture_default_str();
    pre->add_option("--augment-p", pretrain->config.augmentP,
           "Probability of EDM's augmentation (networks with augment_dim 9 only; others never get it)")
        ->capture_default_str();
    pre->add_option("--seed", pretrain->config.seed, "Random seed")->capture_default_str();
    pre->add_option("--checkpoint-every", pretrain->config.checkpointEvery, "Steps between checkpoints (0 = end only)")
        ->capture_default_str();
    pre->add_flag("--resume", pretrain->resume, "Continue from the training state beside --out");
    pre->add_option("--init", pretrain->init,
           "Start from this Lethe model's weights (fine-tuning; its architecture unless --config is given)")
        ->check(CLI::ExistingFile);
    pre->add_option("--label-dropout", pretrain->labelDropout,
           "Probability of training a step's image without its label, for classifier-free guidance (default: the "
           "network's)")
        ->check(CLI::Range(0.0, 1.0));
    pre->add_option("--device", pretrain->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    pre->callback([pretrain, &global] { runCommand(global, [&] { runPretrain(*pretrain, global); }); });

    auto sample = std::make_shared<SampleOptions>();
    CLI::App* smp = app.add_subcommand("sample", "Draw images from a model: one row per class, one column per seed");
    smp->add_option("--model", sample->model, "Lethe model file (default: the built-in Fashion-MNIST model)")
        ->check(CLI::ExistingFile);
    smp->add_option("--class", sample->classes, "Class index (repeatable); default: all classes");
    smp->add_flag("--all-classes", sample->allClasses, "One row for every class");
    smp->add_option("--seeds", sample->seeds, "Seeds, e.g. 0-9 or 1,5,9 (EDM's per-image seed convention)")
        ->capture_default_str();
    smp->add_option("--steps", sample->steps, "Sampler steps")->capture_default_str()->check(CLI::Range(1, 1000));
    smp->add_option("--sampler", sample->sampler, "heun (EDM, 2 evaluations per step) or euler (cheaper preview)")
        ->capture_default_str()
        ->check(CLI::IsMember({ "heun", "euler" }));
    smp->add_option("--guidance", sample->guidance, "Classifier-free guidance scale (1 = off)")->capture_default_str();
    smp->add_option("--out", sample->out, "PNG grid to write");
    smp->add_option("--tensors", sample->tensorsOut, "safetensors file to write the uint8 images, labels and seeds to");
    smp->add_option("--batch", sample->batch, "Images per network batch")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    smp->add_option("--device", sample->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    smp->callback([sample, &global] { runCommand(global, [&] { runSample(*sample); }); });
}

} // namespace lethe::cli
