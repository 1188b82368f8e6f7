// `init-t2i`: a Stable Diffusion-style model with random weights, built from diffusers' component configs and
// written as a diffusers folder. Real weights cannot always be had (no network, no diffusers), yet the memory and
// speed of unlearning at full size depend only on the shapes, which the configs fix.
#include "commands.h"

#include "core/data/captioned_fashion.h"
#include "core/diffusion/ddpm_sampler.h"
#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/io/json_text.h"
#include "core/io/model_file.h"
#include "core/models/sd/bpe_trainer.h"
#include "core/models/sd/stable_diffusion.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <unistd.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>

namespace lethe::cli {

namespace {

namespace fs = std::filesystem;
namespace sd = models::sd;

struct InitT2iOptions {
    std::string configs;
    std::string out;
    std::string tokenizer;
    std::int64_t seed = 0;
};

/// One component config under --configs, where a diffusers folder keeps it. A missing file is named together
/// with all four the command reads, so that one error says what the folder must hold.
nlohmann::json readComponentConfig(const fs::path& configs, const std::string& relative)
{
    const fs::path path = configs / relative;
    if (!fs::is_regular_file(path))
        throw Error(path.string()
            + ": file not found; init-t2i reads unet/config.json, text_encoder/config.json, vae/config.json and "
              "scheduler/scheduler_config.json under --configs, as a diffusers folder holds them");
    return io::readJsonObjectFile(path);
}

/// Refuses an --out that holds anything: a model written over another one's files would mix the two.
void requireNewOrEmptyFolder(const fs::path& out)
{
    if (!fs::exists(out))
        return;
    if (!fs::is_directory(out))
        throw Error(out.string() + " exists and is not a folder; choose a new --out");
    if (!fs::is_empty(out))
        throw Error(out.string() + " is not empty; choose a new or empty --out (init-t2i never overwrites a model)");
}

/// A folder under the system's temporary directory, removed with everything in it when this goes out of scope.
class ScratchFolder {
public:
    ScratchFolder()
        : m_path(fs::temp_directory_path() / ("lethe-init-t2i-" + std::to_string(::getpid())))
    {
        fs::remove_all(m_path);
        fs::create_directories(m_path);
    }
    ~ScratchFolder()
    {
        std::error_code ignored;
        fs::remove_all(m_path, ignored);
    }
    ScratchFolder(const ScratchFolder&) = delete;
    ScratchFolder& operator=(const ScratchFolder&) = delete;
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

/// Seconds since `start`, for the progress lines.
double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void runInitT2i(const InitT2iOptions& o, const GlobalOptions& global)
{
    const fs::path configs = o.configs;
    const fs::path out = o.out;
    requireNewOrEmptyFolder(out);

    // Every config is read and checked before any network is built: a mistake in the last one should not cost
    // the minutes a full-size UNet takes.
    const std::string unetFile = (configs / "unet" / "config.json").string();
    const std::string textFile = (configs / "text_encoder" / "config.json").string();
    const std::string vaeFile = (configs / "vae" / "config.json").string();
    const std::string schedulerFile = (configs / "scheduler" / "scheduler_config.json").string();
    const sd::UNet2DConditionOptions unetOptions
        = sd::unetOptionsFromConfig(readComponentConfig(configs, "unet/config.json"), unetFile);
    const sd::ClipTextOptions textOptions
        = sd::clipTextOptionsFromJson(readComponentConfig(configs, "text_encoder/config.json"), textFile);
    const sd::AutoencoderKLOptions vaeOptions
        = sd::vaeOptionsFromConfig(readComponentConfig(configs, "vae/config.json"), vaeFile);
    const diffusion::DdpmSchedule schedule = diffusion::ddpmScheduleFromJson(
        readComponentConfig(configs, "scheduler/scheduler_config.json"), schedulerFile);
    if (unetOptions.cross_attention_dim() != textOptions.hidden_size())
        throw FormatError(unetFile, "key 'cross_attention_dim'",
            "expected the text encoder's hidden_size, " + std::to_string(textOptions.hidden_size()) + " (" + textFile
                + "), found " + std::to_string(unetOptions.cross_attention_dim()));
    for (const auto& [key, channels] : { std::pair { "in_channels", unetOptions.in_channels() },
             std::pair { "out_channels", unetOptions.out_channels() } })
        if (channels != vaeOptions.latent_channels())
            throw FormatError(unetFile, std::string("key '") + key + "'",
                "expected the VAE's latent_channels, " + std::to_string(vaeOptions.latent_channels()) + " (" + vaeFile
                    + "), found " + std::to_string(channels));

    // The tokenizer: the one given, else the built-in text-to-image model's vocabulary (learnt from the Fashion
    // captions by the same trainer, so the two agree) padded to the text encoder's full length, as SD pads
    // every prompt to 77 tokens; the cost of cross-attention depends on that length.
    ScratchFolder scratch;
    fs::path tokenizerFolder = o.tokenizer;
    std::string tokenizerSource = o.tokenizer;
    if (tokenizerFolder.empty()) {
        tokenizerFolder = scratch.path() / "tokenizer";
        sd::writeClipTokenizerFolder(tokenizerFolder, sd::learnBpe(data::allFashionCaptions()),
            static_cast<int>(textOptions.max_position_embeddings()));
        tokenizerSource = "the built-in captions' vocabulary";
    } else if (fs::is_regular_file(tokenizerFolder / "tokenizer" / "vocab.json")) {
        tokenizerFolder /= "tokenizer";
    }
    const sd::ClipTokenizer tokenizer(tokenizerFolder);
    if (tokenizer.vocabSize() > textOptions.vocab_size())
        throw FormatError(textFile, "key 'vocab_size'",
            "expected at least " + std::to_string(tokenizer.vocabSize()) + ", the size of the vocabulary of "
                + tokenizerSource + ", found " + std::to_string(textOptions.vocab_size()));
    if (tokenizer.maxLength() > textOptions.max_position_embeddings())
        throw FormatError(textFile, "key 'max_position_embeddings'",
            "expected at least " + std::to_string(tokenizer.maxLength()) + ", the model_max_length of "
                + tokenizerSource + ", found " + std::to_string(textOptions.max_position_embeddings()));
    std::cerr << "tokenizer: " << tokenizerSource << ", " << tokenizer.vocabSize() << " tokens, model_max_length "
              << tokenizer.maxLength() << '\n';

    // One seed before the three networks, built in a fixed order: the same configs and seed give the same files.
    torch::manual_seed(o.seed);
    auto started = std::chrono::steady_clock::now();
    std::cerr << "building the text encoder from " << textFile << " (seed " << o.seed << ")\n";
    sd::ClipTextModel text(textOptions);
    text->eval();
    std::cerr << "building the UNet from " << unetFile << '\n';
    sd::UNet2DConditionModel unet = sd::buildUNet2DCondition(unetOptions);
    std::cerr << "building the VAE from " << vaeFile << '\n';
    sd::AutoencoderKL vae = sd::buildAutoencoderKL(vaeOptions);
    std::cerr << std::fixed << std::setprecision(1) << "built in " << secondsSince(started) << " s\n";

    const sd::StableDiffusion model
        = sd::StableDiffusion::fromComponents(tokenizerFolder, std::move(text), unet, vae, schedule);
    std::cout << "UNet          " << model.unetParameters() << " parameters\n"
              << "text encoder  " << model.textEncoderParameters() << " parameters\n"
              << "VAE           " << model.vaeParameters() << " parameters" << std::endl;

    const nlohmann::json manifest = { { "format", "lethe.text-to-image" }, { "method", "init-t2i" },
        { "weights", "random" }, { "seed", o.seed }, { "configs", configs.string() }, { "tokenizer", tokenizerSource },
        { "command", io::commandLine(global.argc, global.argv) }, { "created", io::utcNow() } };
    started = std::chrono::steady_clock::now();
    std::cerr << "writing " << out.string() << '\n';
    // An empty --out is replaced; requireNewOrEmptyFolder has refused anything else.
    model.saveDiffusersFolder(out, io::jsonText(manifest, 2), fs::exists(out));
    std::cerr << "written in " << secondsSince(started) << " s\n";
    std::cout << "wrote the diffusers folder " << out.string() << " (random weights, seed " << o.seed << ")\n";
}

} // namespace

void addInitCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<InitT2iOptions>();
    CLI::App* init = app.add_subcommand("init-t2i",
        "A text-to-image model with random weights from diffusers component configs, written as a diffusers folder "
        "(for measuring memory and speed at a real model's size without its weights)");
    init->add_option("--configs", o->configs,
            "Folder with unet/config.json, text_encoder/config.json, vae/config.json and "
            "scheduler/scheduler_config.json, as in a diffusers folder")
        ->required()
        ->check(CLI::ExistingDirectory);
    init->add_option("--out", o->out, "Diffusers folder to write (new or empty)")->required();
    init->add_option("--seed", o->seed, "Seed of the random initialisation")->capture_default_str();
    init->add_option("--tokenizer", o->tokenizer,
            "Folder with vocab.json and merges.txt (or a model folder with tokenizer/); default: the built-in "
            "model's vocabulary, padded to the text encoder's max_position_embeddings")
        ->check(CLI::ExistingDirectory);
    init->callback([o, &global] { runCommand(global, [&] { runInitT2i(*o, global); }); });
}

} // namespace lethe::cli
