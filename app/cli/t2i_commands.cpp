// `pretrain-t2i`: train the built-in kind of text-to-image model (pixel space, captioned recoloured
// Fashion-MNIST) into a diffusers folder; `eval-t2i`: measure what such a model draws per prompt;
// `clip-score`: the CLIP alignment score of a folder of images.
#include "cli_support.h"
#include "commands.h"

#include "core/concept/prompt_set.h"
#include "core/data/captioned_fashion.h"
#include "core/data/datasets.h"
#include "core/diffusion/class_sampling.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/eval/clip_score.h"
#include "core/eval/fashion_measures.h"
#include "core/imaging/image_file.h"
#include "core/io/atomic_file.h"
#include "core/io/json_fields.h"
#include "core/io/json_text.h"
#include "core/io/model_file.h"
#include "core/io/sha256.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"
#include "core/train/t2i_trainer.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

namespace lethe::cli {

namespace {

struct T2iOptions {
    std::string data = "fashion-mnist";
    std::string configFile;
    std::string out;
    std::string device = "auto";
    bool resume = false;
    std::string init;
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
        config, std::move(train), device, options.out, io::commandLine(global.argc, global.argv));
    if (options.resume) {
        if (std::filesystem::exists(train::T2iPretrainer::statePath(options.out)))
            trainer.resume();
        else
            std::cerr << "no training state at " << train::T2iPretrainer::statePath(options.out).string()
                      << ": starting from scratch\n";
    } else if (std::filesystem::exists(options.out)) {
        throw Error(options.out + " exists: pass --resume to continue its training, or choose another --out");
    }
    if (!options.init.empty() && trainer.step() == 0)
        trainer.initialiseFrom(options.init);
    std::cerr << "networks: UNet " << trainer.unetParameters() << ", text encoder " << trainer.textEncoderParameters()
              << " parameters; step " << trainer.step() << " of " << config.steps << "\n";

    if (runTrainingWithProgress([&](const auto& observer, const auto* cancel) { trainer.run(observer, cancel); }))
        std::cerr << "interrupted at step " << trainer.step() << "; checkpoint written, continue with --resume\n";
    std::cout << "wrote " << options.out << " (a diffusers folder of the EMA networks, step " << trainer.step()
              << ") and " << train::T2iPretrainer::statePath(options.out).string() << '\n';
}

/// `eval-t2i`: what a Fashion-style text-to-image model draws for each prompt, measured.
struct EvalT2iOptions {
    std::string model;
    std::string components;
    std::vector<std::string> prompts;
    std::string promptFile;
    std::string classifier;
    std::string seeds = "0-19";
    int steps = 30;
    double guidance = 3.0;
    std::string device = "auto";
    std::string jsonOut;
    std::string clip;
    std::string run;
    int clipPrompts = 20;
    /// Given on the command line (else --run takes the run's own drawing settings).
    CLI::Option* seedsFlag = nullptr;
    CLI::Option* stepsFlag = nullptr;
    CLI::Option* guidanceFlag = nullptr;
};

/// `eval-t2i --run DIR --clip CLIP`: the CLIP alignment of a finished concept run's D_f, D_r,train and D_r,test,
/// before (the run's base model) and after (its unlearned model), as unlearn-concept --clip measures it.
void runEvalT2iOnRun(const EvalT2iOptions& o)
{
    if (o.clip.empty())
        throw Error(
            "eval-t2i --run measures the CLIP alignment of the run's prompt sets before and after: give --clip");
    if (!o.prompts.empty() || !o.promptFile.empty())
        throw Error("eval-t2i --run draws the run's own prompt sets: --prompt and --prompts go without --run");
    const std::filesystem::path dir = o.run;
    if (!std::filesystem::exists(dir / "run.json"))
        throw Error(dir.string() + " is not a concept run folder (it has no run.json)");
    const nlohmann::json manifest = io::readJsonObjectFile(dir / "run.json");
    const io::JsonFields fields(manifest, (dir / "run.json").string());
    if (fields.get<std::string>("kind", "") != "concept")
        throw Error((dir / "run.json").string() + " is not a text-to-image run's (kind '"
            + fields.get<std::string>("kind", "") + "'); eval-t2i --run reads unlearn-concept's run folders");
    std::string basePath = o.model;
    if (basePath.empty()) {
        basePath = fields.require<std::string>("parent_model");
        if (!std::filesystem::exists(basePath))
            throw Error("the run's base model " + basePath
                + " (run.json's parent_model) is not there; give it with "
                  "--model");
    }
    const std::string parentSha = fields.get<std::string>("parent_sha256", "");
    if (!parentSha.empty() && std::filesystem::is_regular_file(basePath) && io::sha256File(basePath) != parentSha)
        throw Error(basePath + " is not the run's base model: its SHA-256 differs from run.json's parent_sha256");

    const torch::Device device = resolveDevice(o.device);
    models::sd::SdLoadOptions loadOptions;
    loadOptions.device = device;
    loadOptions.components = o.components;
    models::clip::LoadedClip clip = models::clip::loadClip(o.clip, device);
    const models::sd::StableDiffusion base = models::sd::loadStableDiffusion(basePath, loadOptions);
    models::sd::SdLoadOptions unlearnedOptions;
    unlearnedOptions.device = device;
    const models::sd::StableDiffusion unlearned = models::sd::loadStableDiffusion(dir / "model", unlearnedOptions);

    // The run's drawing settings, unless given.
    diffusion::TextToImageRequest drawing;
    drawing.height = drawing.width = base.defaultImageSize();
    drawing.sampler.steps = o.stepsFlag->count() > 0 ? o.steps : fields.require<int>("image_steps");
    drawing.guidance = o.guidanceFlag->count() > 0 ? o.guidance : fields.require<double>("image_guidance");
    drawing.negativePrompt = fields.get<std::string>("negative_prompt", "");
    drawing.batch = fields.get<std::int64_t>("image_batch", 4);
    std::vector<std::int64_t> seeds;
    if (o.seedsFlag->count() > 0)
        seeds = diffusion::parseSeedList(o.seeds);
    else if (fields.has("preview_seeds"))
        seeds = fields.intList("preview_seeds", {});
    else
        throw Error((dir / "run.json").string() + " names no preview seeds (a run of an older version): give --seeds");

    const auto texts = [&](const char* file) {
        std::vector<std::string> out;
        if (std::filesystem::exists(dir / file))
            for (const concepts::Prompt& p : concepts::loadPromptSet(dir / file))
                out.push_back(p.text);
        return out;
    };
    std::vector<eval::ClipAlignmentSet> sets
        = eval::clipAlignmentSets({ { "forget", texts("forget.json") }, { "remain_train", texts("remain.json") },
                                      { "remain_test", texts("remain-test.json") } },
            drawing, seeds, static_cast<std::size_t>(o.clipPrompts));
    if (sets.empty())
        throw Error(dir.string() + " holds none of the prompt sets forget.json, remain.json, remain-test.json");
    std::cout << "run         " << dir.string() << "\nbefore      " << basePath << "\nafter       "
              << (dir / "model").string() << "\nCLIP        " << o.clip << "\nimages      " << seeds.size()
              << " seeds per prompt, DDIM " << drawing.sampler.steps << " steps, guidance " << drawing.guidance
              << "\n\n";
    CancelOnInterrupt interrupt;
    scoreClipAlignmentSets(base.model(), clip, sets, false);
    scoreClipAlignmentSets(unlearned.model(), clip, sets, true);
    nlohmann::json record = eval::clipAlignmentRecord(sets, o.clip, seeds);
    record.update({ { "run", dir.string() }, { "base_model", basePath }, { "steps", drawing.sampler.steps },
        { "guidance", drawing.guidance } });
    std::cout << eval::clipAlignmentTable(record);
    io::writeFileAtomically(dir / "clip-alignment.json", io::jsonText(record, 2));
    if (!o.jsonOut.empty())
        io::writeFileAtomically(o.jsonOut, io::jsonText(record, 2));
    std::cout << "wrote " << (dir / "clip-alignment.json").string() << (o.jsonOut.empty() ? "" : " and " + o.jsonOut)
              << '\n';
}

void runEvalT2i(const EvalT2iOptions& given)
{
    if (!given.run.empty())
        return runEvalT2iOnRun(given);
    EvalT2iOptions o = given;
    if (o.model.empty())
        o.model = resourceFile(std::string("models/") + kBuiltinT2iModel).string();
    std::vector<std::string> prompts = o.prompts;
    if (!o.promptFile.empty())
        for (const concepts::Prompt& p : concepts::loadPromptSet(o.promptFile))
            prompts.push_back(p.text);
    if (prompts.empty())
        throw Error("eval-t2i: give prompts with --prompt or --prompts FILE");
    const torch::Device device = resolveDevice(o.device);
    models::sd::SdLoadOptions loadOptions;
    loadOptions.device = device;
    loadOptions.components = o.components;
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(o.model, loadOptions);
    const std::string classifierPath
        = o.classifier.empty() ? resourceFile(std::string("models/") + kBuiltinClassifier).string() : o.classifier;
    models::LoadedClassifier classifier = models::loadClassifier(classifierPath, device);
    std::optional<models::clip::LoadedClip> clip;
    if (!o.clip.empty())
        clip = models::clip::loadClip(o.clip, device);

    diffusion::TextToImageRequest request;
    request.seeds = diffusion::parseSeedList(o.seeds);
    request.height = request.width = sd.defaultImageSize();
    request.sampler.steps = o.steps;
    request.guidance = o.guidance;
    request.batch = static_cast<std::int64_t>(request.seeds.size());
    std::cout << "model       " << o.model << "\nclassifier  " << classifierPath << "\nimages      "
              << request.seeds.size() << " per prompt (seeds " << o.seeds << "), DDIM " << o.steps
              << " steps, guidance " << o.guidance << "\n";
    if (clip)
        std::cout << "CLIP        " << o.clip << " (alignment: cosine of image and prompt embeddings)\n";
    std::cout << "\ngarment     rate     colour   rate     " << (clip ? "CLIP     " : "") << "prompt\n";
    nlohmann::json rows = nlohmann::json::array();
    std::vector<double> allScores;
    CancelOnInterrupt interrupt;
    for (const std::string& prompt : prompts) {
        request.prompts = { prompt };
        const auto images = diffusion::generate(
            sd.model(), request, [](std::int64_t, std::int64_t) { return !CancelOnInterrupt::requested(); });
        if (!images)
            throw Error("evaluation interrupted");
        const eval::FashionTargets targets = eval::fashionTargets(prompt);
        const eval::FashionMeasure measure = eval::measureFashionImages(classifier.model, *images, device);
        const auto name = [](int index, const auto& list, auto get) {
            return index < 0 ? std::string("-") : get(list[static_cast<std::size_t>(index)]);
        };
        const std::string garment
            = name(targets.garment, data::fashionMnistClassNames(), [](const std::string& c) { return c; });
        const std::string colour = name(targets.colour, data::fashionPalette(), [](const auto& c) { return c.name; });
        char line[160];
        std::snprintf(line, sizeof line, "%-11s %5.1f %%  %-8s %5.1f %%  ", garment.c_str(),
            100.0 * measure.garmentRate(targets.garment), colour.c_str(), 100.0 * measure.colourRate(targets.colour));
        std::cout << line;
        nlohmann::json row = { { "prompt", prompt }, { "garment", targets.garment }, { "colour", targets.colour },
            { "images", measure.images }, { "garment_rate", measure.garmentRate(targets.garment) },
            { "colour_rate", measure.colourRate(targets.colour) }, { "garment_counts", measure.garmentCounts },
            { "no_garment", measure.blank }, { "colour_counts", measure.colourCounts } };
        if (clip) {
            const std::vector<double> scores = eval::clipAlignment(
                *clip, *images, std::vector<std::string>(static_cast<std::size_t>(images->size(0)), prompt));
            allScores.insert(allScores.end(), scores.begin(), scores.end());
            const double mean = eval::meanClipAlignment(scores);
            std::snprintf(line, sizeof line, "%7.4f  ", mean);
            std::cout << line;
            row["clip_alignment"] = mean;
            row["clip_alignment_per_image"] = scores;
        }
        std::cout << prompt << '\n';
        rows.push_back(row);
    }
    nlohmann::json report { { "model", o.model }, { "seeds", request.seeds }, { "steps", o.steps },
        { "guidance", o.guidance }, { "prompts", rows } };
    if (clip) {
        const double mean = eval::meanClipAlignment(allScores);
        std::printf("\nCLIP alignment over all %zu images: %.4f\n", allScores.size(), mean);
        std::fflush(stdout);
        report["clip_model"] = o.clip;
        report["clip_alignment"] = mean;
    }
    if (!o.jsonOut.empty())
        io::writeFileAtomically(o.jsonOut, io::jsonText(report, 2));
}

/// `clip-score`: the CLIP alignment score of images already drawn.
struct ClipScoreCliOptions {
    std::string clip;
    std::string images;
    std::string promptFile;
    std::string device = "auto";
    std::int64_t batch = 32;
    std::string jsonOut;
};

void runClipScore(const ClipScoreCliOptions& o)
{
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(o.images)) {
        std::string ext = entry.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
        if (entry.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg"))
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    if (files.empty())
        throw Error(o.images + ": no PNG or JPEG images");

    std::vector<std::string> prompts;
    if (!o.promptFile.empty()) {
        for (const concepts::Prompt& p : concepts::loadPromptSet(o.promptFile))
            prompts.push_back(p.text);
        if (prompts.size() != files.size())
            throw Error(o.promptFile + ": " + std::to_string(prompts.size()) + " prompts for "
                + std::to_string(files.size()) + " images in " + o.images
                + " (the prompts pair with the images in file-name order)");
    } else {
        for (const auto& file : files) {
            std::filesystem::path caption = file;
            caption.replace_extension(".txt");
            if (!std::filesystem::is_regular_file(caption))
                throw Error(file.string() + ": no caption " + caption.filename().string()
                    + " beside it; give the prompts with --prompts FILE instead");
            std::string text = io::readFile(caption);
            const auto first = text.find_first_not_of(" \t\r\n");
            const auto last = text.find_last_not_of(" \t\r\n");
            prompts.push_back(first == std::string::npos ? std::string() : text.substr(first, last - first + 1));
        }
    }

    const torch::Device device = resolveDevice(o.device);
    models::clip::LoadedClip clip = models::clip::loadClip(o.clip, device);
    const int side = static_cast<int>(std::max(clip.processing.cropHeight, clip.processing.cropWidth));
    std::vector<torch::Tensor> decoded;
    for (const auto& file : files)
        decoded.push_back(imaging::readImageFile(file, 3, side));
    eval::ClipScoreOptions scoreOptions;
    scoreOptions.batch = o.batch;
    const std::vector<double> scores = eval::clipAlignment(clip, torch::stack(decoded), prompts, scoreOptions);

    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < files.size(); ++i) {
        std::printf("%7.4f  %s  %s\n", scores[i], files[i].filename().string().c_str(), prompts[i].c_str());
        rows.push_back(
            { { "image", files[i].filename().string() }, { "prompt", prompts[i] }, { "clip_alignment", scores[i] } });
    }
    const double mean = eval::meanClipAlignment(scores);
    std::printf("mean CLIP alignment over %zu images: %.4f\n", scores.size(), mean);
    std::fflush(stdout);
    if (!o.jsonOut.empty())
        io::writeFileAtomically(o.jsonOut,
            nlohmann::json {
                { "clip_model", o.clip }, { "images", o.images }, { "clip_alignment", mean }, { "per_image", rows } }
                    .dump(2)
                + "\n");
}

} // namespace

void addT2iCommands(CLI::App& app, GlobalOptions& global)
{
    auto e = std::make_shared<EvalT2iOptions>();
    CLI::App* ev = app.add_subcommand("eval-t2i",
        "Per prompt: the share of images the classifier reads as the garment the prompt names, and showing its "
        "colour (the built-in text-to-image model's measures); with --run and --clip, a concept run's CLIP alignment "
        "on D_f, D_r,train and D_r,test before and after");
    ev->add_option("--model", e->model,
        "diffusers folder or CompVis single file (default: the built-in Fashion text-to-image model)");
    ev->add_option("--components", e->components, "For a CompVis single file: the folder with its tokenizer");
    ev->add_option("--prompt", e->prompts, "Prompt (repeatable)");
    ev->add_option("--prompts", e->promptFile, "Prompt set: JSON list or CSV with a prompt column")
        ->check(CLI::ExistingFile);
    ev->add_option("--classifier", e->classifier, "Grayscale 10-class classifier (default: the built-in one)");
    e->seedsFlag = ev->add_option("--seeds", e->seeds, "Seeds of each prompt's images (--run: the run's preview seeds)")
                       ->capture_default_str();
    e->stepsFlag = ev->add_option("--steps", e->steps, "DDIM steps (--run: the run's)")
                       ->capture_default_str()
                       ->check(CLI::Range(1, 1000));
    e->guidanceFlag = ev->add_option("--guidance", e->guidance, "Classifier-free guidance scale (--run: the run's)")
                          ->capture_default_str();
    ev->add_option("--device", e->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    ev->add_option("--json", e->jsonOut, "Also write the figures as JSON");
    ev->add_option("--clip", e->clip,
          "Also the CLIP alignment score (cosine of image and prompt embeddings, per prompt and overall): a Hugging "
          "Face CLIPModel folder (config.json, model.safetensors, vocab.json, merges.txt)")
        ->check(CLI::ExistingDirectory);
    ev->add_option("--run", e->run,
          "A concept run folder (unlearn-concept --out): with --clip, the CLIP alignment of its D_f, D_r,train and "
          "D_r,test before (its base model, or --model) and after (its model/), drawn as the run draws them; into "
          "DIR/clip-alignment.json")
        ->check(CLI::ExistingDirectory);
    ev->add_option("--clip-prompts", e->clipPrompts, "With --run: the first N prompts of each set (0 = all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    ev->callback([e, &global] { runCommand(global, [&] { runEvalT2i(*e); }); });

    auto c = std::make_shared<ClipScoreCliOptions>();
    CLI::App* cs = app.add_subcommand("clip-score",
        "The CLIP alignment score of images already drawn: the cosine between each image's CLIP embedding and its "
        "prompt's, per image and averaged");
    cs->add_option("--clip", c->clip,
          "Hugging Face CLIPModel folder (config.json, model.safetensors, vocab.json, merges.txt), e.g. "
          "openai/clip-vit-large-patch14")
        ->required()
        ->check(CLI::ExistingDirectory);
    cs->add_option("--images", c->images,
          "Folder of PNG or JPEG images; each one's prompt is the .txt file of the same name beside it, unless "
          "--prompts is given")
        ->required()
        ->check(CLI::ExistingDirectory);
    cs->add_option("--prompts", c->promptFile,
          "Prompt set (JSON list or CSV with a prompt column): prompt i belongs to image i in file-name order")
        ->check(CLI::ExistingFile);
    cs->add_option("--batch", c->batch, "Images per CLIP forward pass")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cs->add_option("--device", c->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    cs->add_option("--json", c->jsonOut, "Also write the scores as JSON");
    cs->callback([c, &global] { runCommand(global, [&] { runClipScore(*c); }); });

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
    pre->add_option("--init", o->init,
        "Start from the text encoder and UNet of a model this command wrote (a diffusers folder; same networks)");
    pre->add_option("--beta-schedule", o->config.betaSchedule,
           "Noise schedule: linear (DDPM, for pixel space) or scaled_linear (Stable Diffusion's, for latents)")
        ->capture_default_str()
        ->check(CLI::IsMember({ "linear", "scaled_linear" }));
    pre->add_option("--noise-offset", o->config.noiseOffset,
           "Offset noise: std of a per-image, per-channel constant added to the training noise (0 = off; 0.1 "
           "teaches the model the mean colour, e.g. when fine-tuning from a scaled_linear model)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    pre->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    pre->callback([o, &global] { runCommand(global, [&] { runPretrainT2i(*o, global); }); });
}

} // namespace lethe::cli
