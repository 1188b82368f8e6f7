// `pretrain-t2i`: train the built-in kind of text-to-image model (pixel space, captioned recoloured
// Fashion-MNIST) into a diffusers folder.
#include "cli_support.h"
#include "commands.h"

#include "core/data/datasets.h"
#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/runtime.h"
#include "core/store/model_file.h"
#include "core/train/t2i_trainer.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <iostream>
#include <memory>

namespace lethe::cli {

namespace {

struct T2iOptions {
    std::string data = "fashion-mnist";
    std::string configFile;
    std::string out;
    std::string device = "auto";
    bool resume = false;
    train::T2iPretrainConfig config;
};

void runPretrainT2i(const T2iOptions& options, const GlobalOptions& global)
{
    train::T2iPretrainConfig config = options.config;
    if (!options.configFile.empty()) {
        const nlohmann::json file = io::readJsonObjectFile(options.configFile);
        const io::JsonFields fields(file, options.configFile);
        for (const auto& [key, value] : file.items())
            if (key != "unet" && key != "text_encoder")
                fields.fail(key, "unknown key (a network config holds \"unet\" and/or \"text_encoder\")");
        if (file.contains("unet"))
            config.unet = file.at("unet");
        if (file.contains("text_encoder"))
            config.textEncoder = file.at("text_encoder");
    }
    const torch::Device device = resolveDevice(options.device);
    data::ImageSet train = data::loadDataset(data::resolveDataset(options.data), data::Split::Train);
    std::cerr << "training on " << train.source << ": " << train.size() << " images, recoloured and captioned; device "
              << device.str() << "\n";
    train::T2iPretrainer trainer(
        config, std::move(train), device, options.out, store::commandLine(global.argc, global.argv));
    if (options.resume) {
        if (std::filesystem::exists(train::T2iPretrainer::statePath(options.out)))
            trainer.resume();
        else
            std::cerr << "no training state at " << train::T2iPretrainer::statePath(options.out).string()
                      << ": starting from scratch\n";
    } else if (std::filesystem::exists(options.out)) {
        throw Error(options.out + " exists: pass --resume to continue its training, or choose another --out");
    }
    std::cerr << "networks: UNet " << trainer.unetParameters() << ", text encoder " << trainer.textEncoderParameters()
              << " parameters; step " << trainer.step() << " of " << config.steps << "\n";

    if (runTrainingWithProgress([&](const auto& observer, const auto* cancel) { trainer.run(observer, cancel); }))
        std::cerr << "interrupted at step " << trainer.step() << "; checkpoint written, continue with --resume\n";
    std::cout << "wrote " << options.out << " (a diffusers folder of the EMA networks, step " << trainer.step()
              << ") and " << train::T2iPretrainer::statePath(options.out).string() << '\n';
}

} // namespace

void addT2iCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<T2iOptions>();
    CLI::App* pre = app.add_subcommand("pretrain-t2i",
        "Train a small pixel-space text-to-image model on recoloured, captioned Fashion-MNIST (a diffusers folder)");
    pre->add_option("--data", o->data, "Grayscale 10-class data set: 'fashion-mnist' or a folder")
        ->capture_default_str();
    pre->add_option("--config", o->configFile,
           "JSON with \"unet\" (diffusers unet/config.json) and/or \"text_encoder\" (CLIPTextConfig); default: "
           "the built-in networks")
        ->check(CLI::ExistingFile);
    pre->add_option("--out", o->out, "Diffusers folder to write (state and tokenizer files go beside it)")->required();
    pre->add_option("--steps", o->config.steps, "Training steps")->capture_default_str()->check(CLI::PositiveNumber);
    pre->add_option("--batch", o->config.batch, "Images per step")->capture_default_str()->check(CLI::PositiveNumber);
    pre->add_option("--lr", o->config.lr, "Adam learning rate")->capture_default_str()->check(CLI::PositiveNumber);
    pre->add_option("--lr-rampup", o->config.lrRampupImages, "Images over which the lr ramps up linearly")
        ->capture_default_str();
    pre->add_option("--ema-half-life", o->config.emaHalfLifeImages, "EMA half-life in images")->capture_default_str();
    pre->add_option("--caption-dropout", o->config.captionDropout,
           "Probability of training on the empty caption (for classifier-free guidance)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.99));
    pre->add_option("--seed", o->config.seed, "Random seed")->capture_default_str();
    pre->add_option("--checkpoint-every", o->config.checkpointEvery, "Steps between checkpoints (0 = end only)")
        ->capture_default_str();
    pre->add_flag("--resume", o->resume, "Continue from the training state beside --out");
    pre->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    pre->callback([o, &global] { runCommand(global, [&] { runPretrainT2i(*o, global); }); });
}

} // namespace lethe::cli
