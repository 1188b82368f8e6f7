// `generate` and `bench generate`: text-to-image models (Stable Diffusion 1.x layouts).
#include "cli_support.h"
#include "commands.h"

#include "core/diffusion/class_sampling.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/eval/benchmark.h"
#include "core/imaging/grid.h"
#include "core/imaging/image_file.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"
#include "core/io/model_file.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>

namespace lethe::cli {

namespace {

/// The flags `generate` and `bench generate` share.
struct GenerateOptions {
    std::string model;
    std::string components;
    std::vector<std::string> prompts;
    std::string negativePrompt;
    std::string seeds = "0";
    int steps = 50;
    double guidance = 7.5;
    std::string sampler = "ddim";
    std::int64_t height = 0;
    std::int64_t width = 0;
    std::int64_t batch = 1;
    std::string dtype = "float32";
    std::string device = "auto";
    std::string attention = "standard";
    std::string out;
    bool force = false;
    int gridColumns = 0; ///< > 0: also write grid.png with this many images per row.
    int gridScale = 1;
    int runs = 3;
    int warmup = 1;
};

void addModelFlags(CLI::App* command, GenerateOptions& o)
{
    command->add_option("--model", o.model, "diffusers folder (model_index.json) or CompVis single .safetensors file")
        ->required();
    command->add_option("--components", o.components,
        "For a CompVis single file: a folder with its tokenizer (tokenizer/ or vocab.json and merges.txt) and, "
        "if the file carries none, its component configs, e.g. the diffusers folder of the same model family");
    command->add_option("--negative-prompt", o.negativePrompt, "Prompt of the unconditional branch under guidance");
    command->add_option("--steps", o.steps, "Sampler steps")->capture_default_str()->check(CLI::Range(1, 1000));
    command->add_option("--guidance", o.guidance, "Classifier-free guidance scale (1 = off)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    command->add_option("--sampler", o.sampler, "ddim (η = 0) or euler")
        ->capture_default_str()
        ->check(CLI::IsMember({ "ddim", "euler" }));
    command->add_option("--height", o.height, "Image height in pixels (default: the model's own size)")
        ->check(CLI::PositiveNumber);
    command->add_option("--width", o.width, "Image width in pixels (default: the model's own size)")
        ->check(CLI::PositiveNumber);
    command->add_option("--batch", o.batch, "Images per network batch")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_option("--dtype", o.dtype, "Compute precision: float32, float16 or bfloat16 (GPU)")
        ->capture_default_str()
        ->check(CLI::IsMember({ "float32", "float16", "fp16", "bfloat16", "bf16" }));
    command->add_option("--device", o.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    command->add_option("--attention", o.attention, "standard or memory-efficient (chunked; for large images)")
        ->capture_default_str()
        ->check(CLI::IsMember({ "standard", "memory-efficient" }));
}

struct Loaded {
    models::sd::StableDiffusion sd;
    diffusion::TextToImageRequest request;
};

Loaded load(const GenerateOptions& o)
{
    models::sd::SdLoadOptions loadOptions;
    loadOptions.dtype = models::sd::computeDtypeFromName(o.dtype);
    loadOptions.device = resolveDevice(o.device);
    loadOptions.memoryEfficientAttention = o.attention == "memory-efficient";
    loadOptions.components = o.components;
    const auto started = std::chrono::steady_clock::now();
    models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(o.model, loadOptions);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << "loaded " << (sd.isXl() ? "SDXL " : "") << sd.sourceKind() << ' ' << o.model << " in " << std::fixed
              << std::setprecision(1) << seconds << " s: UNet " << sd.unetParameters()
              << (sd.isXl() ? ", text encoders " : ", text encoder ") << sd.textEncoderParameters() << ", VAE "
              << sd.vaeParameters() << " parameters; configs from " << sd.configSource() << "; " << o.dtype << " on "
              << loadOptions.device.str() << '\n';

    diffusion::TextToImageRequest request;
    request.prompts = o.prompts;
    request.negativePrompt = o.negativePrompt;
    request.seeds = diffusion::parseSeedList(o.seeds);
    request.height = o.height > 0 ? o.height : sd.defaultImageSize();
    request.width = o.width > 0 ? o.width : sd.defaultImageSize();
    request.guidance = o.guidance;
    request.sampler.steps = o.steps;
    request.sampler.method = *diffusion::ddpmSamplerFromName(o.sampler);
    request.batch = o.batch;
    diffusion::validate(sd.model(), request);
    return { std::move(sd), std::move(request) };
}

void runGenerate(const GenerateOptions& o, const GlobalOptions& global)
{
    const std::filesystem::path out = o.out;
    if (std::filesystem::exists(out / "generate.json") && !o.force)
        throw Error(
            out.string() + " already holds generated images (generate.json); choose another --out or pass --force");
    Loaded loaded = load(o);
    const diffusion::TextToImageRequest& request = loaded.request;
    std::filesystem::create_directories(out);

    CancelOnInterrupt interrupt;
    ProgressLine line;
    const auto started = std::chrono::steady_clock::now();
    const auto images = diffusion::generate(loaded.sd.model(), request, [&](std::int64_t done, std::int64_t total) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : -1.0;
        line.update("generating: step " + std::to_string(done) + "/" + std::to_string(total) + "  ETA "
                + (eta >= 0 ? duration(eta) : std::string("--:--")),
            done == total);
        return !CancelOnInterrupt::requested();
    });
    line.clear();
    if (!images)
        throw Error("generation interrupted; nothing was written");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    nlohmann::json files = nlohmann::json::array();
    for (std::int64_t i = 0; i < images->size(0); ++i) {
        const std::int64_t seed = request.seeds[static_cast<std::size_t>(i)];
        const std::string name = "image-" + std::to_string(i) + "-seed-" + std::to_string(seed) + ".png";
        imaging::writePng(out / name, (*images)[i]);
        files.push_back({ { "file", name }, { "seed", seed },
            { "prompt",
                request.prompts.size() == 1 ? request.prompts.front()
                                            : request.prompts[static_cast<std::size_t>(i)] } });
    }
    const nlohmann::json record = { { "model", o.model }, { "negative_prompt", request.negativePrompt },
        { "steps", request.sampler.steps }, { "sampler", o.sampler }, { "guidance", request.guidance },
        { "height", request.height }, { "width", request.width }, { "dtype", o.dtype }, { "device", o.device },
        { "seconds", seconds }, { "command", io::commandLine(global.argc, global.argv) }, { "created", io::utcNow() },
        { "images", files } };
    io::writeFileAtomically(out / "generate.json", io::jsonText(record, 2));
    if (o.gridColumns > 0) {
        torch::Tensor grid = imaging::makeGrid(*images, o.gridColumns);
        if (o.gridScale > 1)
            grid = grid.repeat_interleave(o.gridScale, 1).repeat_interleave(o.gridScale, 2);
        imaging::writePng(out / "grid.png", grid);
    }
    std::cout << "wrote " << images->size(0) << " images of " << request.width << "×" << request.height << " to "
              << out.string() << " in " << std::fixed << std::setprecision(1) << seconds << " s ("
              << std::setprecision(2) << seconds / static_cast<double>(images->size(0)) << " s/image)\n";
}

void runBenchGenerate(const GenerateOptions& o)
{
    Loaded loaded = load(o);
    const diffusion::TextToImageModel model = loaded.sd.model();
    std::cout << "generate  " << o.model << ", " << loaded.request.width << "×" << loaded.request.height << ", "
              << loaded.request.seeds.size() << " image(s) per run, " << o.sampler << ' ' << o.steps
              << " steps, guidance " << o.guidance << ", " << o.dtype << ", device " << model.device.str() << ", "
              << torch::get_num_threads() << " threads\n";
    const auto result = eval::benchmark(
        "generate", [&] { diffusion::generate(model, loaded.request); }, o.warmup, o.runs);
    const auto images = static_cast<double>(loaded.request.seeds.size());
    std::cout << std::fixed << std::setprecision(3) << "generate: median " << result.medianMs / 1000.0 / images
              << " s/image (min " << result.minMs / 1000.0 / images << ", max " << result.maxMs / 1000.0 / images
              << ", " << result.milliseconds.size() << " runs), peak RSS " << eval::formatBytes(result.peakRssBytes)
              << '\n';
}

/// `convert-sd`: a diffusers folder or CompVis single file to the other layout (or the same one, in another dtype).
struct ConvertOptions {
    std::string model;
    std::string components;
    std::string out;
    std::string dtype = "float32";
};

void runConvert(const ConvertOptions& o, const GlobalOptions& global)
{
    models::sd::SdLoadOptions loadOptions;
    loadOptions.dtype = models::sd::computeDtypeFromName(o.dtype);
    loadOptions.components = o.components;
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(o.model, loadOptions);
    const std::filesystem::path out = o.out;
    const nlohmann::json manifest = { { "converted_from", o.model }, { "source_kind", sd.sourceKind() },
        { "dtype", o.dtype }, { "command", io::commandLine(global.argc, global.argv) }, { "created", io::utcNow() } };
    if (out.extension() == ".safetensors") {
        if (std::filesystem::exists(out))
            throw Error(out.string() + " already exists; choose another --out");
        sd.saveCompvisSingleFile(out, { { "lethe.manifest", io::jsonText(manifest) } });
        std::cout << "wrote the CompVis single file " << out.string() << " (" << sd.sourceKind() << " → single file, "
                  << o.dtype << "); load it with --components " << (o.components.empty() ? o.model : o.components)
                  << (sd.isXl() ? " for its tokenizers (tokenizer/, tokenizer_2/)\n" : " for its tokenizer\n");
    } else {
        sd.saveDiffusersFolder(out, io::jsonText(manifest, 2));
        std::cout << "wrote the diffusers folder " << out.string() << " (" << sd.sourceKind() << " → folder, "
                  << o.dtype << ")\n";
    }
}

} // namespace

void addGenerateCommands(CLI::App& app, GlobalOptions& global)
{
    auto g = std::make_shared<GenerateOptions>();
    CLI::App* gen
        = app.add_subcommand("generate", "Text-to-image: one PNG per seed from a Stable Diffusion-style model");
    addModelFlags(gen, *g);
    gen->add_option("--prompt", g->prompts, "Prompt (one for every seed, or repeated once per seed)")->required();
    gen->add_option("--seed,--seeds", g->seeds, "Seed of each image: 42, 0-3 or 1,5,9")->capture_default_str();
    gen->add_option("--out", g->out, "Folder for the PNGs and generate.json")->required();
    gen->add_flag("--force", g->force, "Overwrite images in --out");
    gen->add_option("--grid", g->gridColumns, "Also write grid.png: all images, this many per row")
        ->check(CLI::Range(1, 1000));
    gen->add_option("--grid-scale", g->gridScale, "Enlarge grid.png by this factor (nearest neighbour)")
        ->capture_default_str()
        ->check(CLI::Range(1, 16));
    gen->callback([g, &global] { runCommand(global, [&] { runGenerate(*g, global); }); });

    auto c = std::make_shared<ConvertOptions>();
    CLI::App* convert = app.add_subcommand(
        "convert-sd", "Text-to-image models: a diffusers folder to a CompVis single .safetensors file, or back");
    convert->add_option("--model", c->model, "diffusers folder (model_index.json) or CompVis single .safetensors file")
        ->required();
    convert->add_option("--components", c->components,
        "For a CompVis single file: the folder with its tokenizer (and configs), as for generate");
    convert->add_option("--out", c->out, "A .safetensors path for a CompVis single file, else a new diffusers folder")
        ->required();
    convert->add_option("--dtype", c->dtype, "Precision of the written weights: float32, float16 or bfloat16")
        ->capture_default_str()
        ->check(CLI::IsMember({ "float32", "float16", "fp16", "bfloat16", "bf16" }));
    convert->callback([c, &global] { runCommand(global, [&] { runConvert(*c, global); }); });

    CLI::App* bench = app.get_subcommand("bench");
    auto b = std::make_shared<GenerateOptions>();
    b->steps = 20;
    CLI::App* bg = bench->add_subcommand("generate", "Text-to-image generation: median seconds per image");
    addModelFlags(bg, *b);
    bg->add_option("--prompt", b->prompts, "Prompt")
        ->default_val(std::vector<std::string> { "a photo of an astronaut riding a horse" });
    bg->add_option("--seeds", b->seeds, "Seeds of the images of one run: 0, 0-3, …")->capture_default_str();
    bg->add_option("--runs", b->runs, "Measured runs (the median is reported)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    bg->add_option("--warmup", b->warmup, "Unmeasured runs first")->capture_default_str();
    bg->callback([b, &global] { runCommand(global, [&] { runBenchGenerate(*b); }); });
}

} // namespace lethe::cli
