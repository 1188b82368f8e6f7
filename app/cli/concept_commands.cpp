// `unlearn-concept`: make a text-to-image model forget a concept (RGD, GradDiff, GA, ESD) into a run folder.
#include "cli_support.h"
#include "commands.h"
#include "config_flags.h"
#include "run_observer.h"

#include "core/concept/diversity_builder.h"
#include "core/concept/diversity_preset.h"
#include "core/concept/prompt_set.h"
#include "core/describe.h"
#include "core/diffusion/class_sampling.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/eval/benchmark.h"
#include "core/eval/clip_score.h"
#include "core/eval/fashion_measures.h"
#include "core/imaging/grid.h"
#include "core/imaging/image_file.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"
#include "core/io/model_file.h"
#include "core/io/sha256.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"
#include "core/unlearn/concept_images.h"
#include "core/unlearn/concept_session.h"
#include "core/unlearn/memory_estimate.h"
#include "core/unlearn/run_record.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

namespace lethe::cli {

namespace {

struct ConceptOptions {
    std::string onNan = "stop";
    std::string model;
    std::string components;
    std::string forget;
    std::string remain;
    std::string remainTest;
    std::string preset;
    std::string forgetConcept;
    std::string conceptDimension;
    std::string forgetImages;
    std::string remainImages;
    std::string images;
    std::string method; ///< Empty: the run preset's.
    std::string params;
    int genSteps = 50;
    double guidance = 7.5;
    std::string negativePrompt;
    std::int64_t genBatch = 4;
    int previewPrompts = 2;
    std::string previewSeeds = "0-1";
    std::string device = "auto";
    std::string out;
    bool force = false;
    bool resume = false;
    bool fashionMeasures = false;
    std::string clip;
    int clipPrompts = 20;
    bool estimateOnly = false;
    bool noMemoryCheck = false;
};

/// The hyperparameters: a preset underneath, the flags given on the command line on top.
struct ConceptFlags : ConfigFlags<unlearn::ConceptConfig> {
    std::string runPreset; ///< Empty: the preset the model recommends, else sd.
    CLI::Option* remainPairing = nullptr; ///< Given: "twins" without twins is an error, not a fallback.
    CLI::Option* ucePreserve = nullptr; ///< Not given: a preset's other concept values.
};

std::vector<std::string> methodChoices();

/// A request with the run's drawing settings (size, guidance, steps, batch) and no prompts yet.
diffusion::TextToImageRequest drawingRequest(const ConceptOptions& o, std::int64_t size)
{
    diffusion::TextToImageRequest request;
    request.height = size;
    request.width = size;
    request.guidance = o.guidance;
    request.negativePrompt = o.negativePrompt;
    request.sampler.steps = o.genSteps;
    request.batch = o.genBatch;
    return request;
}

/// The prompts of a run: from prompt files or from a diversity preset.
struct RunPrompts {
    std::vector<concepts::Prompt> forget;
    std::vector<concepts::Prompt> remain;
    std::vector<concepts::Prompt> remainTest;
    /// The forget prompts' twins, when a preset built the sets.
    std::vector<concepts::Prompt> twins;
    nlohmann::json conceptSpec;
    std::optional<concepts::DiversitySpec> spec; ///< The preset that built the sets, with the run's concept words.
};

RunPrompts loadPrompts(const ConceptOptions& o)
{
    RunPrompts p;
    if (!o.preset.empty()) {
        if (!o.forget.empty() || !o.remain.empty() || !o.remainTest.empty())
            throw Error("unlearn-concept: give either --preset or --forget and --remain, not both");
        concepts::DiversitySpec spec = concepts::loadDiversityPreset(o.preset);
        if (!o.forgetConcept.empty())
            spec.forgetConcept.words = unlearn::conceptWords(o.forgetConcept);
        if (!o.conceptDimension.empty())
            spec.forgetConcept.dimension = o.conceptDimension;
        concepts::DiversePrompts built = concepts::buildDiversePrompts(spec);
        p.forget = std::move(built.forget);
        p.remain = std::move(built.remainTrain);
        p.remainTest = std::move(built.remainTest);
        p.twins = std::move(built.twins);
        p.conceptSpec = { { "preset", o.preset }, { "words", spec.forgetConcept.words },
            { "dimension", spec.forgetConcept.dimension } };
        p.spec = spec;
        return p;
    }
    if (!o.conceptDimension.empty() || (!o.forgetConcept.empty() && (!o.forget.empty() || !o.forgetImages.empty())))
        throw Error("unlearn-concept: --concept and --concept-dimension change a --preset; with prompt files the "
                    "concept is what the forget prompts show");
    if (!o.forgetConcept.empty()) {
        // The concept word as the only forget prompt, as ESD's authors train (train-esd.py --prompt); one per concept.
        for (const std::string& word : unlearn::conceptWords(o.forgetConcept))
            p.forget.push_back({ word, std::nullopt, std::nullopt });
        if (!o.remain.empty())
            p.remain = concepts::loadPromptSet(o.remain);
        if (!o.remainTest.empty())
            p.remainTest = concepts::loadPromptSet(o.remainTest);
        p.conceptSpec = { { "words", unlearn::conceptWords(o.forgetConcept) }, { "forget_prompts", "concept" } };
        return p;
    }
    if (o.forget.empty() && o.forgetImages.empty())
        throw Error("unlearn-concept: give the forget prompts (--forget FILE, --forget-images DIR or --concept WORD) "
                    "or --preset");
    if (!o.forget.empty())
        p.forget = concepts::loadPromptSet(o.forget);
    if (!o.remain.empty())
        p.remain = concepts::loadPromptSet(o.remain);
    if (!o.remainTest.empty())
        p.remainTest = concepts::loadPromptSet(o.remainTest);
    p.conceptSpec = { { "forget_prompts", o.forget.empty() ? o.forgetImages : o.forget } };
    return p;
}

/// Settles the remain pairing (docs/method.md §3): "twins" takes the forget prompts' twins as the remain set, which
/// only a preset builds (and only while both sets' images are drawn from its prompts). Without twins, a "twins" the
/// user asked for is an error; one that came from the run preset falls back to "independent", and says so.
void settleRemainPairing(
    unlearn::ConceptConfig& config, RunPrompts& prompts, const ConceptOptions& o, const ConceptFlags& flags)
{
    if (config.remainPairing != unlearn::RemainPairing::Twins)
        return;
    if (!prompts.twins.empty() && o.forgetImages.empty() && o.remainImages.empty()) {
        prompts.remain = prompts.twins; // D_r,train: the twins; the preset's remain_train count is unused.
        std::cerr << "remain pairing: twins (each step's remain batch is its forget batch without the concept; "
                  << prompts.remain.size() << " twin prompts)\n";
        return;
    }
    if (prompts.remain.empty() && o.remainImages.empty())
        return; // No remain set (ESD): nothing is paired.
    const std::string why = !o.remainImages.empty() ? "the remain pairs come from --remain-images"
        : !o.forgetImages.empty()                   ? "the forget pairs come from --forget-images"
                                                    : "the remain prompts come from --remain " + o.remain;
    if (flags.remainPairing && flags.remainPairing->count() > 0)
        throw Error("unlearn-concept: --remain-pairing twins pairs each forget prompt with its twin (the same prompt "
                    "without the concept), which unlearn-concept builds from --preset; here "
            + why + ", whose prompts are not the forget prompts' twins: use --preset, or --remain-pairing independent");
    config.remainPairing = unlearn::RemainPairing::Independent;
    std::cerr << "remain pairing: independent (" << why << ", not the forget prompts' twins; twins need --preset)\n";
}

/// The images and prompts of one set as pairs in the model's input space, drawn and cached or read from a folder.
std::vector<unlearn::ConceptPair> pairsOf(const models::sd::StableDiffusion& sd, std::vector<concepts::Prompt>& prompts,
    const std::string& captionedFolder, const std::filesystem::path& cache, const unlearn::ConceptImageOptions& options,
    const char* what)
{
    torch::Tensor pixels;
    if (!captionedFolder.empty()) {
        const std::int64_t side = options.size > 0 ? options.size : sd.defaultImageSize();
        unlearn::CaptionedImages read = unlearn::readCaptionedImages(captionedFolder,
            static_cast<int>(sd.vae() ? sd.vae()->options.in_channels() : sd.unet()->options.in_channels()),
            static_cast<int>(side));
        prompts.clear();
        for (const auto& text : read.prompts)
            prompts.push_back({ text, std::nullopt, std::nullopt });
        pixels = read.images;
        std::cerr << "read " << prompts.size() << ' ' << what << " pairs from " << captionedFolder << '\n';
    } else if (!prompts.empty()) {
        ProgressLine line;
        std::int64_t imagesDone = 0;
        std::int64_t imagesTotal = 0;
        const auto show = [&](const std::string& step, bool final) {
            line.update(std::string("drawing the ") + what + " images: " + std::to_string(imagesDone) + "/"
                    + std::to_string(imagesTotal) + step,
                final);
            return !CancelOnInterrupt::requested();
        };
        const auto drawn = unlearn::conceptImages(
            sd, prompts, cache, options,
            [&](std::int64_t done, std::int64_t total) {
                imagesDone = done;
                imagesTotal = total;
                return show("", done == total);
            },
            [&](std::int64_t step, std::int64_t steps) {
                return show(", sampler step " + std::to_string(step) + "/" + std::to_string(steps), false);
            });
        line.clear();
        if (!drawn)
            throw Error(std::string("interrupted while drawing the ") + what + " images; those drawn are kept in "
                + cache.string());
        pixels = *drawn;
    } else {
        return {};
    }
    std::vector<std::string> texts;
    for (const auto& prompt : prompts)
        texts.push_back(prompt.text);
    return unlearn::conceptPairsOf(sd, texts, pixels, options.batch);
}

/// An interrupted concept run's state, written where Ctrl+C, SIGTERM or SIGUSR1 stopped it and removed once the run
/// folder is complete.
constexpr const char* kConceptCheckpoint = "checkpoint.safetensors";

/// The SHA-256 a checkpoint names its model by: a single file's own; for a folder, that of the list of its files'
/// (relative path and SHA-256, in path order).
std::string modelSha256(const std::filesystem::path& model)
{
    if (!std::filesystem::is_directory(model))
        return io::sha256File(model);
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(model))
        if (entry.is_regular_file())
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    std::string list;
    for (const auto& file : files)
        list += file.lexically_relative(model).generic_string() + ' ' + io::sha256File(file) + '\n';
    return io::sha256Hex(list);
}

void runUnlearnConcept(const ConceptOptions& given, const ConceptFlags& flags, GlobalOptions& global)
{
    ConceptOptions o = given;
    if (o.model.empty())
        o.model = resourceFile(std::string("models/") + kBuiltinT2iModel).string();
    const std::filesystem::path dir(o.out);
    const std::filesystem::path checkpoint = dir / kConceptCheckpoint;
    // A run that Ctrl+C, SIGTERM or SIGUSR1 stopped kept its checkpoint: --resume goes on from there.
    const bool resuming = o.resume && !o.force && std::filesystem::exists(checkpoint);
    if (std::filesystem::exists(dir / "run.json") && !o.force && !resuming)
        throw Error(dir.string() + " already holds a concept run (run.json): choose another --out or pass --force");
    if (std::filesystem::exists(checkpoint) && !o.resume && !o.force)
        throw Error(dir.string() + " holds an interrupted concept run (" + kConceptCheckpoint
            + "): pass --resume to continue it, or --force to start over");

    const std::optional<std::string> recommended = unlearn::recommendedConceptPreset(o.model);
    const std::string presetName = !flags.runPreset.empty() ? flags.runPreset : recommended.value_or("sd");
    unlearn::ConceptConfig config = unlearn::conceptPreset(presetName);
    flags.applyGiven(config);
    config.onNan = o.onNan == "halve-lr" ? unlearn::NanPolicy::HalveLr : unlearn::NanPolicy::Stop;
    std::string group = o.params;
    if (o.method == "esd-u" || o.method == "esd-x") {
        const std::string implied = o.method == "esd-u" ? "esd-u" : "cross-attn";
        if (!group.empty() && group != implied)
            throw Error("unlearn-concept: --method " + o.method + " trains " + implied + " parameters; --params "
                + group + " contradicts it");
        group = implied;
        config.method = unlearn::ConceptMethod::ESD;
    } else if (!o.method.empty()) {
        const auto method = unlearn::conceptMethodFromName(o.method);
        if (!method)
            throw Error(
                "unlearn-concept: unknown method '" + o.method + "' (" + unlearn::conceptText(methodChoices()) + ")");
        config.method = *method;
    }
    if (!group.empty()) {
        const auto parsed = unlearn::parameterGroupFromName(group);
        if (!parsed)
            throw Error(
                "unlearn-concept: unknown parameter group '" + group + "' (all, cross-attn, no-cross-attn, esd-u)");
        config.parameters = *parsed;
    }
    if (o.method.empty()) // The run preset's method, named as --method would name it.
        o.method = config.method != unlearn::ConceptMethod::ESD            ? unlearn::conceptMethodName(config.method)
            : config.parameters == unlearn::ParameterGroup::EsdU           ? "esd-u"
            : config.parameters == unlearn::ParameterGroup::CrossAttention ? "esd-x"
                                                                           : "esd";
    config.validate();
    const std::vector<std::int64_t> previewSeeds = diffusion::parseSeedList(o.previewSeeds);
    RunPrompts prompts = loadPrompts(o);
    if (config.method == unlearn::ConceptMethod::RG && prompts.spec && o.remainImages.empty()) {
        // RG, the paper's ablation: the restricted gradient with a plain remain set, every dimension but the
        // concept's at its first value. Its prompts are not the forget prompts' twins.
        const concepts::DiversitySpec plain = concepts::plainRemainSpec(*prompts.spec);
        prompts.remain = concepts::buildPromptSplit(plain, concepts::PromptSplit::RemainTrain);
        prompts.twins.clear();
        prompts.conceptSpec["remain"] = "plain";
        if (config.remainPairing == unlearn::RemainPairing::Twins) {
            if (flags.remainPairing && flags.remainPairing->count() > 0)
                throw Error("unlearn-concept: rg trains on a plain remain set, whose prompts are not the forget "
                            "prompts' twins: use --remain-pairing independent");
            config.remainPairing = unlearn::RemainPairing::Independent;
        }
        std::cerr << "rg: a plain remain set of " << prompts.remain.size() << " prompts ("
                  << concepts::combinationCount(concepts::templateSlots(plain, concepts::PromptSplit::RemainTrain))
                  << " distinct: every dimension but the concept's at its first value; remain pairing independent)\n";
    }
    settleRemainPairing(config, prompts, o, flags);
    if (prompts.conceptSpec.contains("words")) {
        config.forgetConcept = unlearn::conceptText(prompts.conceptSpec["words"].get<std::vector<std::string>>());
    }
    if (config.method == unlearn::ConceptMethod::UCE) {
        if (unlearn::conceptWords(config.forgetConcept).empty())
            throw Error("unlearn-concept: UCE edits the embeddings of the concept's words: give --concept WORD[,WORD] "
                        "or --preset (prompt files name no concept)");
        if (!flags.ucePreserve || flags.ucePreserve->count() == 0) {
            // The authors' preserved concepts are the concept's neighbours: here the preset's other values.
            config.ucePreserve
                = prompts.spec ? concepts::otherConceptValues(*prompts.spec) : std::vector<std::string> {};
        }
        std::cerr << "uce: erasing " << config.forgetConcept << " towards \"" << config.uceGuide << "\", preserving "
                  << (config.ucePreserve.empty() ? std::string("nothing") : unlearn::conceptText(config.ucePreserve))
                  << " (scale " << unlearn::effectivePreserveScale(config.ucePreserveScale, config.ucePreserve.size())
                  << "), regularisation " << config.uceRegularisation << "\n";
        config.steps = 1; // The closed form is one step.
    }
    // Checked before any image is drawn, with the message the session would give.
    if (prompts.remain.empty() && o.remainImages.empty() && !unlearn::conceptMethodWithoutRemain(config.method))
        throw Error("concept unlearning: the remain set is empty (" + unlearn::conceptMethodName(config.method)
            + " needs remain pairs)");

    models::sd::SdLoadOptions loadOptions;
    loadOptions.device = resolveDevice(o.device);
    loadOptions.components = o.components;
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(o.model, loadOptions);
    std::cerr << "loaded " << sd.sourceKind() << ' ' << o.model << ": UNet " << sd.unetParameters()
              << " parameters; configs from " << sd.configSource() << "; on " << loadOptions.device.str() << '\n';
    std::cerr << "hyperparameters: " << presetName << " preset"
              << (!flags.runPreset.empty() ? ""
                         : recommended     ? " (the model's recommendation)"
                                           : " (the default)")
              << " and the flags given: α " << config.alpha << ", λ " << config.lambda << ", lr " << config.lr
              << ", steps " << config.steps << ", batches " << config.forgetBatch << " + " << config.remainBatch
              << '\n';
    {
        // Known before anything is drawn: what the run will hold, against what the device has free.
        const std::int64_t side = sd.defaultImageSize() / sd.model().latentScale;
        const std::int64_t pairs = static_cast<std::int64_t>(prompts.forget.size() + prompts.remain.size());
        const unlearn::MemoryQuery query
            = unlearn::memoryQuery(sd, config, unlearn::BaseUse::TrainInPlace, side, pairs);
        std::cerr << unlearn::estimateMemory(query).describe() << '\n';
        if (o.estimateOnly)
            return;
        const std::optional<std::int64_t> available = unlearn::freeMemory(loadOptions.device);
        if (available && !o.noMemoryCheck)
            if (const auto refusal = unlearn::memoryRefusal(query, *available))
                throw Error("unlearn-concept: " + *refusal + " (--no-memory-check starts anyway)");
    }
    // Loaded before any image is drawn, so that a bad folder fails at once.
    std::optional<models::clip::LoadedClip> clip;
    if (!o.clip.empty())
        clip = models::clip::loadClip(o.clip, loadOptions.device);
    std::filesystem::create_directories(dir);

    CancelOnInterrupt interrupt;
    unlearn::ConceptImageOptions imageOptions;
    imageOptions.guidance = o.guidance;
    imageOptions.samplerSteps = o.genSteps;
    imageOptions.negativePrompt = o.negativePrompt;
    imageOptions.batch = o.genBatch;
    imageOptions.modelId = std::filesystem::absolute(o.model).lexically_normal().string();
    const std::filesystem::path cache = o.images.empty() ? dir / "images" : std::filesystem::path(o.images);
    std::vector<unlearn::ConceptPair> forget;
    if (config.method == unlearn::ConceptMethod::ESD && config.esdSamplingSteps > 0 && o.forgetImages.empty()) {
        // ESD samples its own states from the prompts: the forget images would go unused, only their shape counts.
        const diffusion::TextToImageModel t2i = sd.model();
        const std::int64_t side = sd.defaultImageSize() / t2i.latentScale;
        for (const auto& prompt : prompts.forget)
            forget.push_back({ prompt.text, torch::zeros({ sd.unet()->options.in_channels(), side, side }) });
    } else {
        forget = pairsOf(sd, prompts.forget, o.forgetImages, cache / "forget", imageOptions, "forget");
    }
    imageOptions.seedBase = 1000000; // Remain prompts without seeds of their own draw other noise than forget ones.
    std::vector<unlearn::ConceptPair> remain
        = pairsOf(sd, prompts.remain, o.remainImages, cache / "remain", imageOptions, "remain");
    concepts::savePromptSet(dir / "forget.json", prompts.forget);
    if (!prompts.remain.empty())
        concepts::savePromptSet(dir / "remain.json", prompts.remain);
    if (!prompts.remainTest.empty())
        concepts::savePromptSet(dir / "remain-test.json", prompts.remainTest);

    // The run trains the loaded UNet itself: the "before" images below are drawn before the first step, and nothing
    // after the run needs the original weights.
    unlearn::ConceptSession session(sd, std::move(forget), std::move(remain), config, unlearn::BaseUse::TrainInPlace);
    // The model's SHA-256 names it in the checkpoint; hashed only when a checkpoint is written or read (on disk the
    // model does not change while its UNet trains in memory).
    std::optional<std::string> sha256;
    const auto modelSha = [&] { return sha256 ? *sha256 : *(sha256 = modelSha256(o.model)); };
    if (o.force)
        std::filesystem::remove(checkpoint);
    if (resuming) // Checked at once; loaded after the "before" images, which the base weights draw.
        session.checkCheckpoint(checkpoint, modelSha());
    else if (o.resume)
        std::cerr << "no checkpoint in " << dir.string() << ": starting from the beginning\n";
    const std::string command = io::commandLine(global.argc, global.argv);
    std::cerr << "unlearning with " << o.method << ": α " << config.alpha << ", λ " << config.lambda << ", lr "
              << config.lr << ", " << config.steps << " steps, batches " << config.forgetBatch << "/"
              << config.remainBatch << ", " << prompts.forget.size() << " forget and " << prompts.remain.size()
              << " remain pairs, " << session.trainableNames().size() << " trainable tensors ("
              << unlearn::parameterGroupName(config.parameters) << ")\n";

    // "Before" and "after" from the same seeds: the first forget prompts, then the first held-out remain prompts
    // (the training ones without a held-out set).
    diffusion::TextToImageRequest preview = drawingRequest(o, sd.defaultImageSize());
    const auto& remainForPreview = prompts.remainTest.empty() ? prompts.remain : prompts.remainTest;
    nlohmann::json previewList = nlohmann::json::array();
    for (const std::vector<concepts::Prompt>* set :
        { static_cast<const std::vector<concepts::Prompt>*>(&prompts.forget), &remainForPreview })
        for (std::size_t i = 0; i < set->size() && i < static_cast<std::size_t>(o.previewPrompts); ++i)
            for (const std::int64_t seed : previewSeeds) {
                preview.prompts.push_back((*set)[i].text);
                preview.seeds.push_back(seed);
                previewList.push_back({ { "set", std::string(set == &prompts.forget ? "forget" : "remain") },
                    { "prompt", (*set)[i].text }, { "seed", seed } });
            }
    const auto writePreview = [&](const models::sd::StableDiffusion& model, const std::string& name) -> torch::Tensor {
        const auto images = diffusion::generate(model.model(), preview);
        if (!images)
            throw Error("interrupted while drawing the " + name + " images");
        std::filesystem::create_directories(dir / name);
        for (std::int64_t i = 0; i < images->size(0); ++i) {
            const auto& entry = previewList[static_cast<std::size_t>(i)];
            char file[64];
            std::snprintf(file, sizeof file, "%02lld-%s-seed-%lld.png", static_cast<long long>(i),
                entry["set"].get<std::string>().c_str(), static_cast<long long>(entry["seed"].get<std::int64_t>()));
            imaging::writePng(dir / name / file, (*images)[i]);
        }
        imaging::writePng(dir / (name + ".png"),
            imaging::makeGrid(*images, static_cast<int>(std::max<std::size_t>(1, previewSeeds.size()))));
        return *images;
    };
    torch::Tensor beforeImages;
    if (!preview.prompts.empty())
        beforeImages = writePreview(sd, "before");

    // CLIP alignment of D_f, D_r,train and D_r,test, before and after, from the preview seeds.
    std::vector<eval::ClipAlignmentSet> clipSets;
    if (clip) {
        const auto texts = [](const std::vector<concepts::Prompt>& set) {
            std::vector<std::string> out;
            for (const concepts::Prompt& p : set)
                out.push_back(p.text);
            return out;
        };
        std::vector<eval::NamedPromptSet> named { { "forget", texts(prompts.forget) } };
        // Several concepts: each one's forget prompts as a set of its own, "forget: WORD".
        const std::vector<std::string> words = unlearn::conceptWords(config.forgetConcept);
        if (words.size() > 1)
            for (const std::string& word : words) {
                std::vector<std::string> naming;
                for (const std::string& text : texts(prompts.forget))
                    if (concepts::containsWord(text, word))
                        naming.push_back(text);
                named.push_back({ "forget: " + word, naming });
            }
        named.push_back({ "remain_train", texts(prompts.remain) });
        named.push_back({ "remain_test", texts(prompts.remainTest) });
        clipSets = eval::clipAlignmentSets(
            named, drawingRequest(o, sd.defaultImageSize()), previewSeeds, static_cast<std::size_t>(o.clipPrompts));
        scoreClipAlignmentSets(sd.model(), *clip, clipSets, false);
    }

    // The run, with Ctrl+C stopping it after the current step (then what there is is written). A non-finite step
    // rolls back to the last snapshot and ends the run as failed; the weights written are those of the snapshot.
    std::int64_t resumedStep = 0;
    if (resuming) {
        resumedStep = session.resumeFrom(checkpoint, modelSha());
        std::cerr << "resuming from " << checkpoint.string() << " at step " << resumedStep << '\n';
        truncateStepsCsv(dir / "steps.csv", resumedStep);
    }
    CliObserver observer(dir / "steps.csv", config.steps, resuming);
    const unlearn::RunRecord record { "concept", io::configToJson(config), {}, o.model,
        std::filesystem::is_regular_file(o.model) ? modelSha() : std::string(), loadOptions.device.str(), command,
        io::utcNow() };
    const unlearn::RunResult result = runUntilInterrupted(session, observer);
    observer.finish();
    // A stop leaves the checkpoint at the step the run stopped at; so does SIGTERM or SIGUSR1 after the last step,
    // before the images and measures at the end, which may take longer than a cluster waits.
    const bool signalled = CancelOnInterrupt::checkpointRequested();
    if (result.outcome == unlearn::RunOutcome::Stopped
        || (result.outcome == unlearn::RunOutcome::Finished && signalled)) {
        session.snapshotCurrentStep();
        session.writeCheckpoint(checkpoint, modelSha());
        if (signalled) {
            std::cerr << CancelOnInterrupt::signalName() << ": the run stopped after step " << result.steps << " of "
                      << config.steps << " and wrote its checkpoint " << checkpoint.string() << " (exit code "
                      << kExitCheckpointed
                      << ")\nresume it with: " << resumeCommand(global.argc, global.argv, "--resume") << '\n';
            return;
        }
        std::cerr << "stopped after step " << result.steps << ": its checkpoint " << checkpoint.string()
                  << " is kept; --resume goes on from there\n";
    }
    unlearn::RunRecord finalRecord = record;
    finalRecord.finalConfig = io::configToJson(session.config());
    nlohmann::json manifest = unlearn::runManifest(finalRecord, result);
    manifest.update({ { "resumed_from_step", resumedStep }, { "method", o.method }, { "concept", prompts.conceptSpec },
        { "parent_kind", sd.sourceKind() }, { "forget_pairs", prompts.forget.size() },
        { "remain_pairs", prompts.remain.size() }, { "image_guidance", o.guidance }, { "image_steps", o.genSteps },
        { "image_batch", o.genBatch }, { "negative_prompt", o.negativePrompt }, { "preview_seeds", previewSeeds },
        { "previews", previewList } });
    torch::Tensor afterImages;
    if (!preview.prompts.empty())
        afterImages = writePreview(session.model(), "after");
    if (o.fashionMeasures && beforeImages.defined()) {
        // The built-in model's measures on the before/after images: per set, the share showing the garment and
        // the colour their prompts name.
        models::LoadedClassifier classifier
            = models::loadClassifier(resourceFile(std::string("models/") + kBuiltinClassifier), torch::kCPU);
        // `word` non-empty: only the prompts that name it (one concept's figures in a run of several).
        const auto measure = [&](const torch::Tensor& images, const std::string& set, const std::string& word) {
            std::int64_t garmentAsked = 0, garmentShown = 0, colourAsked = 0, colourShown = 0;
            const eval::FashionReadings read = eval::readFashionImages(classifier.model, images);
            const torch::Tensor& labels = read.garments;
            const torch::Tensor& colours = read.colours;
            for (std::size_t i = 0; i < previewList.size(); ++i) {
                if (previewList[i]["set"] != set
                    || (!word.empty() && !concepts::containsWord(previewList[i]["prompt"].get<std::string>(), word)))
                    continue;
                const eval::FashionTargets t = eval::fashionTargets(previewList[i]["prompt"].get<std::string>());
                const auto k = static_cast<std::int64_t>(i);
                if (t.garment >= 0) {
                    ++garmentAsked;
                    garmentShown += labels[k].item<std::int64_t>() == t.garment;
                }
                if (t.colour >= 0) {
                    ++colourAsked;
                    colourShown += colours[k].item<std::int64_t>() == t.colour;
                }
            }
            const auto rate = [](std::int64_t shown, std::int64_t asked) {
                return asked > 0 ? nlohmann::json(static_cast<double>(shown) / static_cast<double>(asked))
                                 : nlohmann::json(nullptr);
            };
            return nlohmann::json { { "garment_rate", rate(garmentShown, garmentAsked) },
                { "garment_images", garmentAsked }, { "colour_rate", rate(colourShown, colourAsked) },
                { "colour_images", colourAsked } };
        };
        nlohmann::json measures;
        for (const char* set : { "forget", "remain" })
            measures[set]
                = { { "before", measure(beforeImages, set, {}) }, { "after", measure(afterImages, set, {}) } };
        const std::vector<std::string> words = unlearn::conceptWords(config.forgetConcept);
        if (words.size() > 1)
            for (const std::string& word : words)
                measures["concepts"][word] = { { "before", measure(beforeImages, "forget", word) },
                    { "after", measure(afterImages, "forget", word) } };
        manifest["fashion_measures"] = measures;
        const auto shown
            = [](const nlohmann::json& v) { return v.is_null() ? std::string("-") : percent(v.get<double>()); };
        std::cout << "fashion measures on the before/after images (share showing the garment / colour the prompt "
                     "names):\n";
        for (const char* set : { "forget", "remain" })
            std::cout << "  " << set << "  garment " << shown(measures[set]["before"]["garment_rate"]) << " → "
                      << shown(measures[set]["after"]["garment_rate"]) << "   colour "
                      << shown(measures[set]["before"]["colour_rate"]) << " → "
                      << shown(measures[set]["after"]["colour_rate"]) << '\n';
        if (measures.contains("concepts"))
            for (const auto& [word, figures] : measures["concepts"].items())
                std::cout << "  forget prompts naming " << word << ": garment "
                          << shown(figures["before"]["garment_rate"]) << " → "
                          << shown(figures["after"]["garment_rate"]) << " ("
                          << figures["before"]["garment_images"].get<std::int64_t>() << " images)\n";
    }
    if (clip) {
        scoreClipAlignmentSets(session.model().model(), *clip, clipSets, true);
        manifest["clip_alignment"] = eval::clipAlignmentRecord(clipSets, o.clip, previewSeeds);
        std::cout << eval::clipAlignmentTable(manifest["clip_alignment"]);
    }
    session.model().saveDiffusersFolder(dir / "model", io::jsonText(manifest, 2), o.force || resuming);
    session.model().saveCompvisSingleFile(dir / "model.safetensors", { { "lethe.manifest", io::jsonText(manifest) } });
    io::writeFileAtomically(dir / "run.json", io::jsonText(manifest, 2));
    if (result.outcome == unlearn::RunOutcome::Finished) {
        std::filesystem::remove(checkpoint); // The run folder is complete: nothing to resume.
        global.resumable = false; // A signal during the images at the end changed nothing: the run is done.
    }

    if (result.outcome == unlearn::RunOutcome::Failed)
        throw Error("the run failed: " + result.message + "; the model after step " + std::to_string(result.steps)
            + " was written to " + dir.string());
    std::cout << unlearn::outcomeName(result.outcome) << " after " << result.steps << " steps in "
              << duration(result.seconds) << " (" << result.truncatedSteps << " truncated, " << result.projectedSteps
              << " projected)\n"
              << "wrote model/ (diffusers), model.safetensors (CompVis), run.json, steps.csv"
              << (preview.prompts.empty() ? "" : ", before/, after/") << " in " << dir.string() << '\n';
}

} // namespace

namespace {

/// The names of an enum's table in core, in its order: the choices a flag offers.
template <typename Enum> std::vector<std::string> namesOf(Enum tag)
{
    std::vector<std::string> names;
    for (const auto& entry : unlearn::enumNames(tag))
        names.push_back(entry.second);
    return names;
}

/// Core's concept methods, then ESD's two parameter groups as methods of their own (as ESD's authors name them).
std::vector<std::string> methodChoices()
{
    std::vector<std::string> names = namesOf(unlearn::ConceptMethod {});
    names.insert(names.end(), { "esd-u", "esd-x" });
    return names;
}

} // namespace

/// --precision, --gradient-checkpointing, --memory-efficient-attention and --esd-teacher-on-host, for
/// unlearn-concept and its bench.
void addMemoryFlags(CLI::App* cmd, ConceptFlags& flags)
{
    flags.addEnum(cmd, "--precision", &unlearn::ConceptConfig::precision,
        "Arithmetic of the steps' passes: float32, or autocast to bfloat16 (CPU and CUDA) or float16 (CUDA); weights, "
        "gradients and Adam stay float32 (default float32)");
    flags.addSwitch(cmd, "--gradient-checkpointing", &unlearn::ConceptConfig::gradientCheckpointing,
        "Recompute the UNet blocks' activations in the backward pass instead of keeping them: far less memory for "
        "about a third more time per step");
    flags.addSwitch(cmd, "--memory-efficient-attention", &unlearn::ConceptConfig::memoryEfficientAttention,
        "Attention without the whole score matrix (chunks of queries recomputed in the backward pass; LibTorch 2.x: "
        "scaled_dot_product_attention)");
    flags.addSwitch(cmd, "--esd-teacher-on-host", &unlearn::ConceptConfig::esdTeacherOnHost,
        "ESD: keep the teacher's values of the trained parameters in the computer's memory and copy them in for each "
        "teacher pass, instead of a second copy on the GPU");
}

/// `bench unlearn-concept`: steps of a concept run on pairs of random UNet inputs, with the memory estimate beside
/// the measured peak.
struct ConceptBenchOptions {
    std::string model;
    std::string method = "rgd";
    std::string params = "all";
    std::int64_t batch = 1;
    std::int64_t steps = 2;
    std::int64_t size = 0;
    std::string device = "auto";
    bool estimateOnly = false;
};

void runBenchUnlearnConcept(const ConceptBenchOptions& o, const ConceptFlags& flags)
{
    unlearn::ConceptConfig config = unlearn::conceptPreset("sd");
    flags.applyGiven(config);
    const auto method = unlearn::conceptMethodFromName(o.method);
    if (!method)
        throw Error("bench unlearn-concept: unknown method '" + o.method + "'");
    config.method = *method;
    const auto group = unlearn::parameterGroupFromName(o.params);
    if (!group)
        throw Error("bench unlearn-concept: unknown parameter group '" + o.params + "'");
    config.parameters = *group;
    config.steps = o.steps;
    config.forgetBatch = config.remainBatch = o.batch;
    config.remainPairing = unlearn::RemainPairing::Independent;
    config.latents = unlearn::LatentMode::Mean; // Random inputs have no posterior to draw from.
    config.alpha = 1e9; // Every step takes the forget direction: the most memory.
    config.validate();

    models::sd::SdLoadOptions loadOptions;
    loadOptions.device = resolveDevice(o.device);
    const std::string path
        = o.model.empty() ? resourceFile(std::string("models/") + kBuiltinT2iModel).string() : o.model;
    const auto loadStart = std::chrono::steady_clock::now();
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(path, loadOptions);
    const double loadSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loadStart).count();
    const std::int64_t side = (o.size > 0 ? o.size : sd.defaultImageSize()) / sd.model().latentScale;
    const std::int64_t channels = sd.unet()->options.in_channels();
    std::cout << "bench unlearn-concept: " << path << " (UNet " << sd.unetParameters() << ", text encoder "
              << sd.textEncoderParameters() << ", VAE " << (sd.vae() ? sd.vaeParameters() : 0)
              << " parameters) loaded in " << formatNumber(loadSeconds) << " s on " << loadOptions.device.str() << "; "
              << o.method << ", " << o.params << ", batch " << o.batch << ", input " << channels << "×" << side << "×"
              << side << ", precision " << enumName(config.precision) << ", checkpointing "
              << (config.gradientCheckpointing ? "on" : "off") << ", memory-efficient attention "
              << (config.memoryEfficientAttention ? "on" : "off") << '\n';

    at::Generator generator = diffusion::cpuGenerator(config.seed);
    const auto pairsOf = [&](const std::string& prompt, std::int64_t count) {
        std::vector<unlearn::ConceptPair> pairs;
        for (std::int64_t i = 0; i < count; ++i)
            pairs.push_back({ prompt + " " + std::to_string(i),
                torch::randn({ channels, side, side }, generator, torch::TensorOptions().dtype(torch::kFloat32)) });
        return pairs;
    };
    std::vector<unlearn::ConceptPair> forget = pairsOf("a photo of a sneaker", o.batch);
    std::vector<unlearn::ConceptPair> remain = unlearn::conceptMethodWithoutRemain(config.method)
        ? std::vector<unlearn::ConceptPair> {}
        : pairsOf("a photo of a bag", o.batch);
    const unlearn::MemoryQuery query
        = unlearn::memoryQuery(sd, config, unlearn::BaseUse::TrainInPlace, side, 2 * o.batch);
    const unlearn::MemoryEstimate estimate = unlearn::estimateMemory(query);
    std::cout << estimate.describe() << '\n';
    // The two peaks in GiB and in bytes (for scripts/sd-memory-table.py).
    const std::string estimated = "estimate: first step " + eval::formatBytes(estimate.firstStepPeak()) + " ("
        + std::to_string(estimate.firstStepPeak()) + " bytes), later steps " + eval::formatBytes(estimate.devicePeak())
        + " (" + std::to_string(estimate.devicePeak()) + " bytes)";
    if (o.estimateOnly) {
        std::cout << estimated << '\n';
        return;
    }

    eval::resetPeakRss(); // The peak of the run, not of loading the files.
    unlearn::ConceptSession session(sd, std::move(forget), std::move(remain), config, unlearn::BaseUse::TrainInPlace);
    struct Timings : unlearn::RunObserver {
        std::vector<double> seconds;
        std::int64_t lowestFree = -1;
        torch::Device device = torch::kCPU;
        void onStep(const unlearn::StepReport& r) override
        {
            seconds.push_back(r.seconds);
            std::cout << "step " << r.step << ": " << formatNumber(r.seconds) << " s, peak RSS so far "
                      << eval::formatBytes(eval::peakRssBytes()) << std::endl;
            if (device.is_cuda())
                if (const auto free = unlearn::freeMemory(device))
                    lowestFree = lowestFree < 0 ? *free : std::min(lowestFree, *free);
        }
    } timings;
    timings.device = loadOptions.device;
    unlearn::RunControl control;
    const unlearn::RunResult result = session.run(timings, control);
    if (result.outcome == unlearn::RunOutcome::Failed)
        throw Error("bench unlearn-concept: the run failed: " + result.message);
    std::vector<double> later(timings.seconds.begin() + (timings.seconds.size() > 1 ? 1 : 0), timings.seconds.end());
    std::cout << "seconds per step: first " << formatNumber(timings.seconds.front()) << ", median of the others "
              << formatNumber(later.empty() ? timings.seconds.front() : eval::median(later)) << '\n';
    std::cout << "peak RSS " << eval::formatBytes(eval::peakRssBytes()) << " (" << eval::peakRssBytes() << " bytes); "
              << estimated << '\n';
    if (loadOptions.device.is_cuda() && timings.lowestFree >= 0)
        std::cout << "GPU: lowest free memory after a step " << eval::formatBytes(timings.lowestFree) << '\n';
}

void addConceptCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<ConceptOptions>();
    auto flags = std::make_shared<ConceptFlags>();
    CLI::App* cmd = app.add_subcommand("unlearn-concept",
        "Make a text-to-image model forget a concept (into a run folder: model/, model.safetensors, run.json, "
        "steps.csv, before/, after/)");
    cmd->add_option("--model", o->model,
        "diffusers folder (model_index.json) or CompVis single .safetensors file (default: the built-in Fashion "
        "text-to-image model)");
    cmd->add_option("--components", o->components,
        "For a CompVis single file: a folder with its tokenizer and, if the file carries none, its configs");
    cmd->add_option("--forget", o->forget, "Forget prompts (JSON list or CSV)");
    cmd->add_option("--remain", o->remain, "Remain prompts (JSON list or CSV)");
    cmd->add_option("--remain-test", o->remainTest,
        "Held-out remain prompts (D_r,test; JSON list or CSV): never trained on, drawn in the previews and measured "
        "by --clip");
    cmd->add_option("--preset", o->preset,
        "Diversity preset (e.g. resources/presets/fashion-colours.json): builds D_f, D_r,train and D_r,test");
    cmd->add_option("--concept", o->forgetConcept,
        "The concept words to forget, several separated by commas (\"sneaker,bag\"): with --preset they replace the "
        "preset's; alone, each word is a forget prompt");
    cmd->add_option("--concept-dimension", o->conceptDimension,
        "With --preset: the dimension the concept word is a value of (removed from remain prompts)");
    cmd->add_option("--forget-images", o->forgetImages,
        "Folder of captioned forget images (x.png with x.txt) instead of drawing them from --forget");
    cmd->add_option("--remain-images", o->remainImages, "Folder of captioned remain images instead of drawing them");
    cmd->add_option(
        "--images", o->images, "Cache of the drawn training images, reused across runs (default RUN/images)");
    cmd->add_option("--method", o->method,
           "rgd, graddiff, ga, esd, rg (RGD's update with a plain remain set: with --preset every dimension but the "
           "concept's at its first value), salun (saliency-masked descent on forget images relabelled with remain "
           "prompts), uce (closed-form edit of the cross-attention keys and values: one step), esd-u (ESD's authors' "
           "group: all but cross-attention, time embedding and output layers) or esd-x (cross-attention) (default: "
           "the run preset's)")
        ->check(CLI::IsMember(methodChoices()));
    cmd->add_option("--run-preset", flags->runPreset,
           "Hyperparameter defaults: sd (the paper's Stable Diffusion values), fmnist-t2i (the built-in model's) or "
           "esd-paper (ESD as its authors run it: esd-u, 1,000 steps of batch 1, sampled states with bucket "
           "timesteps; with --concept WORD alone the word is the only forget prompt); default: the one the model's "
           "lethe-manifest.json recommends, else sd. The flags below override it")
        ->check(CLI::IsMember(unlearn::conceptPresetNames()));
    flags->add(cmd, "--alpha", &unlearn::ConceptConfig::alpha,
        "Forget-loss truncation α: a step with L_f > α is remain-only (default: the run preset's)");
    flags->add(cmd, "--lambda", &unlearn::ConceptConfig::lambda, "Weight λ of the remain direction (preset's)");
    flags->add(cmd, "--lr", &unlearn::ConceptConfig::lr, "Adam's learning rate (preset's)");
    flags->add(cmd, "--steps", &unlearn::ConceptConfig::steps, "Steps (preset's)");
    flags->add(cmd, "--forget-batch", &unlearn::ConceptConfig::forgetBatch, "Forget pairs per step (preset's)");
    flags->add(cmd, "--remain-batch", &unlearn::ConceptConfig::remainBatch, "Remain pairs per step (preset's)");
    flags->add(cmd, "--eta", &unlearn::ConceptConfig::eta, "ESD's negative guidance η (preset's)");
    flags->add(cmd, "--saliency-fraction", &unlearn::ConceptConfig::saliencyFraction,
        "SalUn: the fraction of weight entries its saliency mask keeps (default 0.5, the authors')");
    flags->add(cmd, "--uce-guide", &unlearn::ConceptConfig::uceGuide,
        "UCE: what the concepts are mapped to (default: the empty prompt)");
    flags->ucePreserve = flags
                             ->add(cmd, "--uce-preserve", &unlearn::ConceptConfig::ucePreserve,
                                 "UCE: concepts whose mappings are kept, separated by commas (default: with "
                                 "--preset, the concept dimension's other values; else none)")
                             ->delimiter(',');
    flags->add(cmd, "--uce-regularisation", &unlearn::ConceptConfig::uceRegularisation,
        "UCE: the weight of ‖W − W_old‖² (default 0.1, the authors')");
    flags->add(cmd, "--uce-erase-scale", &unlearn::ConceptConfig::uceEraseScale,
        "UCE: the weight of the erased concepts' term (default 1)");
    flags->add(cmd, "--uce-preserve-scale", &unlearn::ConceptConfig::ucePreserveScale,
        "UCE: the weight of the preserved concepts' term (default 0: the authors' max(0.1, 1/N))");
    flags->add(cmd, "--esd-sampling-steps", &unlearn::ConceptConfig::esdSamplingSteps,
        "ESD's states: 0 = forget images noised at a random t; N = partial DDIM sampling of the prompt over N steps "
        "with the model being trained, as ESD's authors do (their 50) (preset's)");
    flags->add(
        cmd, "--esd-guidance", &unlearn::ConceptConfig::esdGuidance, "Guidance of ESD's sampled states (preset's)");
    flags->addEnum(cmd, "--esd-timestep", &unlearn::ConceptConfig::esdTimestep,
        "t of ESD's sampled states: reached (the timestep the sampler reached) or bucket (ESD's authors: t uniform "
        "in the bucket of the drawn step count) (preset's)");
    flags->addEnum(cmd, "--latents", &unlearn::ConceptConfig::latents,
        "Latent models' x₀: sample (a fresh draw from the VAE posterior at every use, as the paper's code) or mean "
        "(the posterior mean) (preset's)");
    flags->addSwitch(cmd, "--allow-tf32", &unlearn::ConceptConfig::allowTf32,
        "CUDA: let matrix products and convolutions use TF32 (off by default, as the paper's code)");
    addMemoryFlags(cmd, *flags);
    cmd->add_flag("--estimate-only", o->estimateOnly,
        "Print the memory estimate (from the model, method, parameters, batches, resolution and settings) and stop");
    cmd->add_flag("--no-memory-check", o->noMemoryCheck,
        "Start even when the memory estimate exceeds the free memory of the device");
    flags->remainPairing = flags->addEnum(cmd, "--remain-pairing", &unlearn::ConceptConfig::remainPairing,
        "twins: each step's remain batch is its forget batch's twins, the same prompts without the concept (built "
        "from --preset; with prompt files the run preset's twins fall back to independent, a twins given here is an "
        "error); independent: remain batches of --remain-batch drawn on their own (preset's: twins)");
    flags->add(cmd, "--seed", &unlearn::ConceptConfig::seed,
        "Seed of the batches, timesteps, noise and posterior draws (preset's)");
    flags->add(cmd, "--snapshot-every", &unlearn::ConceptConfig::snapshotEvery,
        "Steps between snapshots, the rollback point (preset's)");
    cmd->add_option("--on-nan", o->onNan, "After a rollback: stop (default) or halve-lr")
        ->check(CLI::IsMember(namesOf(unlearn::NanPolicy {})));
    cmd->add_option("--params", o->params,
           "UNet parameters trained: all, cross-attn, no-cross-attn or esd-u (ESD's authors' ESD-u: no-cross-attn less "
           "time_embedding.* and conv_norm_out/conv_out) (default: the run preset's)")
        ->check(CLI::IsMember(namesOf(unlearn::ParameterGroup {})));
    cmd->add_option("--gen-steps", o->genSteps, "DDIM steps for the training and preview images")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    cmd->add_option("--guidance", o->guidance, "Guidance scale for the training and preview images")
        ->capture_default_str();
    cmd->add_option("--negative-prompt", o->negativePrompt, "Unconditional prompt under guidance");
    cmd->add_flag("--fashion-measures", o->fashionMeasures,
        "Measure the before/after images as the built-in text-to-image model's are: the share the built-in "
        "classifier reads as the garment each prompt names, and the share showing its colour (run.json)");
    cmd->add_option("--clip", o->clip,
           "Measure the CLIP alignment score (cosine of image and prompt embeddings) of D_f, D_r,train and D_r,test "
           "images drawn before and after from the preview seeds (run.json and the summary): a Hugging Face "
           "CLIPModel folder (config.json, model.safetensors, vocab.json, merges.txt)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--clip-prompts", o->clipPrompts,
           "With --clip: the first N prompts of each set are drawn, at every preview seed (0 = all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--gen-batch", o->genBatch, "Images per network batch when drawing")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--preview-prompts", o->previewPrompts, "Forget and remain prompts drawn before and after")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--preview-seeds", o->previewSeeds, "Seeds of the before/after images (e.g. 0-3 or 1,5)")
        ->capture_default_str();
    cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    cmd->add_option("--out", o->out, "Run folder")->required();
    cmd->add_flag("--force", o->force, "Overwrite a run already in --out");
    cmd->add_flag("--resume", o->resume,
        "Continue an interrupted run in --out from its checkpoint (written where Ctrl+C, SIGTERM or SIGUSR1 stopped "
        "it), with the same model, prompts, images and settings");
    cmd->callback([o, flags, &global] {
        global.resumable = true;
        runCommand(global, [&] { runUnlearnConcept(*o, *flags, global); });
    });

    CLI::App* bench = app.get_subcommand("bench");
    auto b = std::make_shared<ConceptBenchOptions>();
    auto bf = std::make_shared<ConceptFlags>();
    CLI::App* bc = bench->add_subcommand("unlearn-concept",
        "Concept unlearning steps on random UNet inputs: seconds per step and peak memory beside the estimate");
    bc->add_option("--model", b->model, "diffusers folder or single file (default: the built-in text-to-image model)");
    bc->add_option("--method", b->method, "rgd, graddiff, ga, esd, rg, salun or uce")->capture_default_str();
    bc->add_option("--params", b->params, "UNet parameters trained: all, cross-attn, no-cross-attn or esd-u")
        ->capture_default_str();
    bc->add_option("--batch", b->batch, "Forget and remain pairs per step")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    bc->add_option("--steps", b->steps, "Steps (the first creates Adam's moments; later ones are the steady state)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    bc->add_option("--size", b->size, "Image side in pixels (default: the model's)")->check(CLI::NonNegativeNumber);
    addMemoryFlags(bc, *bf);
    bf->add(bc, "--snapshot-every", &unlearn::ConceptConfig::snapshotEvery, "Steps between snapshots (default 25)");
    bc->add_option("--device", b->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    bc->add_flag("--estimate-only", b->estimateOnly, "Print the memory estimate and stop (no steps)");
    bc->callback([b, bf, &global] { runCommand(global, [&] { runBenchUnlearnConcept(*b, *bf); }); });
}

} // namespace lethe::cli
