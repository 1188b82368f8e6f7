// `attack` and `bench attack`: does an unlearned model stay forgotten under an adversarial prompt (UnlearnDiffAtk, a
// soft prompt) or label vector (the class attack)?
#include "attack_support.h"
#include "cli_support.h"
#include "commands.h"
#include "measure_flags.h"

#include "core/attack/attack_run.h"
#include "core/concept/prompt_set.h"
#include "core/diffusion/class_sampling.h"
#include "core/enum_names.h"
#include "core/error.h"
#include "core/eval/benchmark.h"
#include "core/imaging/grid.h"
#include "core/imaging/image_file.h"
#include "core/io/atomic_file.h"
#include "core/io/json_fields.h"
#include "core/io/json_text.h"
#include "core/io/sha256.h"
#include "core/models/clip/clip_model.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace lethe::cli {

namespace {

struct AttackOptions {
    std::string run;
    std::string model; ///< The attacked (unlearned) model; default the run's.
    std::string base; ///< The model the targets come from; default the run's parent, else the built-in model.
    std::string components;
    std::string attack; ///< unlearndiffatk, soft or class; default by the run's kind.
    std::string concept;
    std::string promptFile;
    int prompts = 10;
    bool stripConcept = false;
    int forgetClass = -1;
    std::string classifier;
    std::string clip;
    std::string clipNames;
    std::string seeds; ///< Empty: 0-3 for prompt attacks, 0-15 for the class attack.
    std::string targetSeeds;
    int steps = 0;
    double guidance = std::nan("");
    AttackFlags flags;
    std::string out;
    std::string jsonOut;
    std::string device = "auto";
    bool force = false;
    // bench attack
    int runs = 3;
    int warmup = 1;
};

/// What a run folder says, when one is given.
struct RunFacts {
    std::string kind; ///< "class", "concept" or empty (no run).
    nlohmann::json manifest;
};

RunFacts readRun(const std::string& run)
{
    if (run.empty())
        return {};
    const std::filesystem::path dir = run;
    if (!std::filesystem::exists(dir / "run.json"))
        throw Error(dir.string() + " is not a run folder (it has no run.json)");
    RunFacts facts;
    facts.manifest = io::readJsonObjectFile(dir / "run.json");
    facts.kind = io::JsonFields(facts.manifest, (dir / "run.json").string()).require<std::string>("kind");
    if (facts.kind != "class" && facts.kind != "concept")
        throw Error((dir / "run.json").string() + " has kind '" + facts.kind + "', neither 'class' nor 'concept'");
    return facts;
}

std::string parentOf(const RunFacts& facts, const std::string& run)
{
    const io::JsonFields fields(facts.manifest, (std::filesystem::path(run) / "run.json").string());
    const std::string parent = fields.require<std::string>("parent_model");
    if (!std::filesystem::exists(parent))
        throw Error("the run's base model " + parent + " (run.json's parent_model) is not there; give it with --base");
    return parent;
}

/// Writes the report and the images into `out`, and its figures into the run's run.json under "attacks".
void writeOutcome(const attack::AttackOutcome& outcome, const std::filesystem::path& out, const std::string& run,
    nlohmann::json record, const std::string& jsonOut)
{
    std::filesystem::create_directories(out);
    record.update(attack::toJson(outcome.report));
    io::writeFileAtomically(out / "attack.json", io::jsonText(record, 2));
    // One row per prompt: its targets, its images before the attack, after it.
    std::vector<torch::Tensor> rows;
    std::int64_t columns = 0;
    for (std::size_t i = 0; i < outcome.images.before.size(); ++i) {
        const torch::Tensor row = torch::cat({ outcome.images.targets[i].to(torch::kCPU),
            outcome.images.before[i].to(torch::kCPU), outcome.images.after[i].to(torch::kCPU) });
        columns = row.size(0);
        rows.push_back(row);
        imaging::writePng(out / ("before-" + std::to_string(i) + ".png"),
            imaging::makeGrid(outcome.images.before[i].to(torch::kCPU), outcome.images.before[i].size(0)));
        imaging::writePng(out / ("after-" + std::to_string(i) + ".png"),
            imaging::makeGrid(outcome.images.after[i].to(torch::kCPU), outcome.images.after[i].size(0)));
    }
    if (!rows.empty())
        imaging::writePng(out / "images.png", imaging::makeGrid(torch::cat(rows), columns));
    if (!jsonOut.empty())
        io::writeFileAtomically(jsonOut, io::jsonText(record, 2));
    if (!run.empty()) {
        const std::filesystem::path manifestPath = std::filesystem::path(run) / "run.json";
        nlohmann::json manifest = io::readJsonObjectFile(manifestPath);
        const nlohmann::json full = attack::toJson(outcome.report);
        // Keyed by the folder's name after "attack-" when it lies in the run (attack-unlearndiffatk-suffix), else by
        // kind.
        const std::string folder = out.filename().string();
        const bool inRun = std::filesystem::equivalent(out.parent_path(), run) && folder.rfind("attack-", 0) == 0;
        manifest["attacks"][inRun ? folder.substr(7) : full.at("kind").get<std::string>()]
            = { { "pre_asr", full.at("pre_asr") }, { "post_asr", full.at("post_asr") }, { "judge", full.at("judge") },
                  { "prompts", outcome.report.records.size() }, { "seeds", outcome.report.seeds },
                  { "file", std::filesystem::relative(out / "attack.json", run).string() } };
        io::writeFileAtomically(manifestPath, io::jsonText(manifest, 2));
    }
}

void printReport(const attack::AttackReport& report)
{
    std::cout << "\n#   pre       post      prompt → adversarial prompt\n";
    for (std::size_t i = 0; i < report.records.size(); ++i) {
        const attack::AttackRecord& r = report.records[i];
        std::cout << std::left << std::setw(4) << i << std::setw(10) << percent(r.preRate()) << std::setw(10)
                  << percent(r.postRate()) << r.prompt << "  →  " << r.adversarialPrompt << '\n'
                  << std::right;
        if (!r.losses.empty())
            std::cout << "                        loss " << std::setprecision(4) << r.losses.front() << " → "
                      << r.losses.back() << " over " << r.losses.size() << " steps, " << duration(r.seconds) << '\n';
    }
    std::cout << "\nPre-ASR  " << percent(report.preAsr()) << "   Post-ASR  " << percent(report.postAsr()) << "   ("
              << report.records.size() << " prompt(s) × " << report.seeds.size()
              << " seed(s); prompts with the concept "
              << "in any image: " << percent(report.prePromptRate()) << " → " << percent(report.postPromptRate())
              << ")\njudge    " << report.judge << "\n";
}

/// The progress line of an attack: the phase, the prompt and, while attacking, the step and its loss.
attack::AttackProgress attackProgress(ProgressLine& line)
{
    return [&line](const attack::AttackProgressEvent& e) {
        std::ostringstream text;
        text << "prompt " << e.prompt + 1 << "/" << e.prompts << "  ";
        if (e.phase == "attack") {
            text << "attack step " << e.step << "/" << e.steps;
            if (std::isfinite(e.loss))
                text << "  loss " << std::setprecision(4) << e.loss;
        } else {
            text << "drawing the " << e.phase << (e.phase == "targets" ? "" : " images") << ": step " << e.step << "/"
                 << e.steps;
        }
        line.update(text.str(), e.step == e.steps);
        return !CancelOnInterrupt::requested();
    };
}

/// The concept attack's inputs from the flags and the run.
struct ConceptInputs {
    models::sd::StableDiffusion unlearned;
    models::sd::StableDiffusion base;
    attack::ConceptAttackSetup setup;
    std::string concept;
    std::string unlearnedPath;
    std::string basePath;
};

ConceptInputs conceptInputs(const AttackOptions& o, const RunFacts& facts, torch::Device device)
{
    const std::filesystem::path dir = o.run;
    std::string unlearnedPath = o.model;
    std::string basePath = o.base;
    std::string concept = o.concept;
    attack::ConceptAttackSetup setup;
    std::vector<std::string> prompts;
    if (!facts.kind.empty()) {
        const io::JsonFields fields(facts.manifest, (dir / "run.json").string());
        if (unlearnedPath.empty())
            unlearnedPath = (dir / "model").string();
        if (basePath.empty())
            basePath = parentOf(facts, o.run);
        if (concept.empty())
        concept = facts.manifest.at("config").value("concept", std::string());
        setup.guidance = fields.get<double>("image_guidance", setup.guidance);
        setup.samplerSteps = fields.get<int>("image_steps", setup.samplerSteps);
        setup.negativePrompt = fields.get<std::string>("negative_prompt", "");
        setup.batch = fields.get<std::int64_t>("image_batch", setup.batch);
        if (o.promptFile.empty())
            for (const concepts::Prompt& p : concepts::loadPromptSet(dir / "forget.json"))
                prompts.push_back(p.text);
    } else {
        if (unlearnedPath.empty())
            throw Error("attack: give --run DIR (a run folder) or --model MODEL (the model to attack)");
        if (basePath.empty())
            basePath = resourceFile(std::string("models/") + kBuiltinT2iModel).string();
    }
    if (!o.promptFile.empty())
        for (const concepts::Prompt& p : concepts::loadPromptSet(o.promptFile))
            prompts.push_back(p.text);
    if (prompts.empty())
        throw Error("attack: no prompts to attack: give --prompt-file FILE (or --run DIR of a concept run)");
    if (concept.empty())
        throw Error("attack: name the erased concept with --concept WORD (the judge looks for it)");
    // Distinct prompts, in order, up to --prompts.
    std::vector<std::string> chosen;
    for (const std::string& p : prompts)
        if (std::find(chosen.begin(), chosen.end(), p) == chosen.end()
            && (o.prompts == 0 || static_cast<int>(chosen.size()) < o.prompts))
            chosen.push_back(p);
    for (const std::string& p : chosen) {
        setup.targetPrompts.push_back(p);
        setup.prompts.push_back(o.stripConcept ? attack::withoutConcept(p, concept) : p);
        if (setup.prompts.back().empty())
            throw Error("attack: the prompt '" + p + "' is only the concept word; --strip-concept leaves nothing");
    }
    if (o.steps > 0)
        setup.samplerSteps = o.steps;
    if (std::isfinite(o.guidance))
        setup.guidance = o.guidance;
    setup.seeds = diffusion::parseSeedList(o.seeds.empty() ? "0-3" : o.seeds);
    setup.targetSeeds = diffusion::parseSeedList(o.targetSeeds.empty() ? "0" : o.targetSeeds);
    setup.attack = o.flags.promptOptions();
    setup.attack.kind = o.attack == "soft" ? attack::PromptAttackKind::Soft : attack::PromptAttackKind::Hard;
    setup.attack.validate();

    models::sd::SdLoadOptions loadOptions;
    loadOptions.device = device;
    loadOptions.components = o.components;
    models::sd::StableDiffusion base = models::sd::loadStableDiffusion(basePath, loadOptions);
    models::sd::StableDiffusion unlearned = models::sd::loadStableDiffusion(unlearnedPath, loadOptions);
    return { unlearned, base, setup, concept, unlearnedPath, basePath };
}

attack::Judge conceptJudge(const AttackOptions& o, const std::string& concept, torch::Device device)
{
    if (!o.clip.empty()) {
        std::vector<std::string> names { concept };
        for (const std::string& n : splitNames(o.clipNames))
            names.push_back(n);
        if (names.size() < 2)
            throw Error("attack: zero-shot CLIP judges the concept against other labels: give them with --clip-names "
                        "(e.g. --clip-names \"bag,dress,coat\")");
        return attack::zeroShotClipJudge(
            std::make_shared<eval::ZeroShotClip>(eval::makeZeroShotClip(models::clip::loadClip(o.clip, device), names)),
            0);
    }
    models::LoadedClassifier classifier
        = models::loadClassifier(o.classifier.empty() ? resourceFile(std::string("models/") + kBuiltinClassifier)
                                                      : std::filesystem::path(o.classifier),
            device);
    return attack::fashionJudge(classifier.model, concept, device);
}

void runConceptAttackCommand(const AttackOptions& o, const RunFacts& facts, const GlobalOptions& global)
{
    const torch::Device device = resolveDevice(o.device);
    ConceptInputs in = conceptInputs(o, facts, device);
    const attack::Judge judge = conceptJudge(o, in.concept, device);
    const std::string kindName = o.attack == "soft" ? "soft-prompt" : "unlearndiffatk";
    const std::string folderName
        = "attack-" + kindName + (in.setup.attack.placement == attack::TokenPlacement::Suffix ? "-suffix" : "");
    const std::filesystem::path out = !o.out.empty() ? std::filesystem::path(o.out)
        : !o.run.empty()                             ? std::filesystem::path(o.run) / folderName
                         : throw Error("attack: give --out DIR (there is no --run to write into)");
    if (std::filesystem::exists(out / "attack.json") && !o.force)
        throw Error(out.string() + " already holds an attack (attack.json); give --force to replace it, or --out");
    std::cout << "attack      " << kindName << " (K " << in.setup.attack.tokens << " "
              << enumName(in.setup.attack.placement) << ", " << in.setup.attack.steps << " steps, lr "
              << in.setup.attack.lr << ", " << in.setup.attack.timestepsPerStep << " timestep(s) a step)\nmodel       "
              << in.unlearnedPath << "\ntargets     " << in.basePath << ", " << in.setup.targetSeeds.size()
              << " image(s) per prompt\nconcept     " << in.concept
              << (o.stripConcept ? " (removed from the attacked prompts)" : "") << "\njudge       " << judge.description
              << "\nimages      " << in.setup.seeds.size() << " seed(s) per prompt, DDIM " << in.setup.samplerSteps
              << " steps, guidance " << in.setup.guidance << "\nprompts     " << in.setup.prompts.size() << "\n";
    CancelOnInterrupt interrupt;
    ProgressLine line;
    const auto outcome = attack::runConceptAttack(in.unlearned, in.base, in.setup, judge, attackProgress(line));
    line.clear();
    if (!outcome)
        throw Error("attack: interrupted; nothing written");
    printReport(outcome->report);
    nlohmann::json record { { "model", in.unlearnedPath }, { "base_model", in.basePath }, { "concept", in.concept },
        { "strip_concept", o.stripConcept }, { "run", o.run }, { "command", io::commandLine(global.argc, global.argv) },
        { "created", io::utcNow() } };
    writeOutcome(*outcome, out, o.run, record, o.jsonOut);
    std::cout << "wrote " << (out / "attack.json").string() << " and images.png (per prompt: targets, before, after)"
              << (o.run.empty() ? "" : "; run.json's attacks") << '\n';
}

void runClassAttackCommand(const AttackOptions& o, const RunFacts& facts, const GlobalOptions& global)
{
    const torch::Device device = resolveDevice(o.device);
    std::string unlearnedPath = o.model;
    std::string basePath = o.base;
    int forgotten = o.forgetClass;
    if (!facts.kind.empty()) {
        if (unlearnedPath.empty())
            unlearnedPath = (std::filesystem::path(o.run) / "model.safetensors").string();
        if (basePath.empty())
            basePath = parentOf(facts, o.run);
        if (forgotten < 0)
            forgotten = facts.manifest.at("forget_class").get<int>();
    } else {
        if (unlearnedPath.empty())
            throw Error("attack: give --run DIR (a run folder) or --model MODEL (the model to attack)");
        if (basePath.empty())
            basePath = resourceFile(std::string("models/") + kBuiltinEdmModel).string();
        if (forgotten < 0)
            throw Error("attack: name the forgotten class with --forget-class N");
    }
    store::EdmModel unlearned = store::loadEdmModel(unlearnedPath, device);
    store::EdmModel base = store::loadEdmModel(basePath, device);
    ClassAttackSettings settings;
    if (!o.seeds.empty())
        settings.setup.seeds = diffusion::parseSeedList(o.seeds);
    if (!o.targetSeeds.empty())
        settings.setup.targetSeeds = diffusion::parseSeedList(o.targetSeeds);
    settings.setup.attack = o.flags.classOptions();
    if (o.steps > 0)
        settings.setup.sampler.steps = o.steps;
    settings.classifier = o.classifier;
    settings.clip = o.clip;
    settings.clipNames = o.clipNames;
    const std::filesystem::path out = !o.out.empty() ? std::filesystem::path(o.out)
        : !o.run.empty()                             ? std::filesystem::path(o.run) / "attack-class"
                         : throw Error("attack: give --out DIR (there is no --run to write into)");
    if (std::filesystem::exists(out / "attack.json") && !o.force)
        throw Error(out.string() + " already holds an attack (attack.json); give --force to replace it, or --out");
    const auto outcome = runClassAttackOn(unlearned, base, forgotten, settings, device, true);
    if (!outcome)
        throw Error("attack: interrupted; nothing written");
    printReport(outcome->report);
    nlohmann::json record { { "model", unlearnedPath }, { "base_model", basePath }, { "forget_class", forgotten },
        { "run", o.run }, { "command", io::commandLine(global.argc, global.argv) }, { "created", io::utcNow() } };
    writeOutcome(*outcome, out, o.run, record, o.jsonOut);
    std::cout << "wrote " << (out / "attack.json").string() << " and images.png (targets, before, after in one row)"
              << (o.run.empty() ? "" : "; run.json's attacks") << '\n';
}

bool isClassAttack(const AttackOptions& o, const RunFacts& facts)
{
    if (!o.attack.empty())
        return o.attack == "class";
    if (!facts.kind.empty())
        return facts.kind == "class";
    return o.forgetClass >= 0;
}

void runAttack(const AttackOptions& o, const GlobalOptions& global)
{
    const RunFacts facts = readRun(o.run);
    const bool classAttack = isClassAttack(o, facts);
    if (classAttack && facts.kind == "concept")
        throw Error(
            "attack: --attack class attacks class runs; " + o.run + " is a concept run (unlearndiffatk or soft)");
    if (!classAttack && facts.kind == "class")
        throw Error("attack: --attack " + o.attack + " attacks text-to-image runs; " + o.run
            + " is a class run (--attack class)");
    if (classAttack)
        runClassAttackCommand(o, facts, global);
    else
        runConceptAttackCommand(o, facts, global);
}

/// `bench attack`: the seconds of one attack step and the peak memory, on the built-in text-to-image model (or
/// --model), one prompt and its target.
void runBenchAttack(const AttackOptions& o)
{
    const torch::Device device = resolveDevice(o.device);
    const bool classAttack = o.attack == "class";
    if (classAttack) {
        const std::string path
            = o.model.empty() ? resourceFile(std::string("models/") + kBuiltinEdmModel).string() : o.model;
        store::EdmModel net = store::loadEdmModel(path, device);
        const int forgotten = std::max(0, o.forgetClass);
        attack::ClassAttackOptions options = o.flags.classOptions();
        const torch::Tensor targets = torch::randint(0, 256,
            { options.batch, net.channels(), net.resolution(), net.resolution() }, torch::TensorOptions(torch::kUInt8));
        std::cout << "attack    class, " << path << ", batch " << options.batch << ", " << options.steps
                  << " steps a run, device " << device.str() << ", " << torch::get_num_threads() << " threads\n";
        const auto result = eval::benchmark(
            "attack", [&] { attack::attackClass(net.net, forgotten, targets, options, device); }, o.warmup, o.runs);
        std::cout << std::fixed << std::setprecision(4) << "attack: median " << result.medianMs / 1000.0 / options.steps
                  << " s/step (min " << result.minMs / 1000.0 / options.steps << ", max "
                  << result.maxMs / 1000.0 / options.steps << ", " << result.milliseconds.size() << " runs), peak RSS "
                  << eval::formatBytes(result.peakRssBytes) << '\n';
        return;
    }
    const std::string path
        = o.model.empty() ? resourceFile(std::string("models/") + kBuiltinT2iModel).string() : o.model;
    models::sd::SdLoadOptions loadOptions;
    loadOptions.device = device;
    loadOptions.components = o.components;
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(path, loadOptions);
    attack::PromptAttackOptions options = o.flags.promptOptions();
    options.kind = o.attack == "soft" ? attack::PromptAttackKind::Soft : attack::PromptAttackKind::Hard;
    const std::int64_t size = sd.defaultImageSize();
    const std::int64_t channels = sd.vae() ? 3 : sd.unet()->options.in_channels();
    const torch::Tensor targets
        = torch::randint(0, 256, { 1, channels, size, size }, torch::TensorOptions(torch::kUInt8));
    const std::string prompt = o.concept.empty() ? "a photo of a red sneaker" : o.concept;
    std::cout << "attack    " << (options.kind == attack::PromptAttackKind::Soft ? "soft-prompt" : "unlearndiffatk")
              << ", " << path << ", " << size << "×" << size << ", K " << options.tokens << ", "
              << options.timestepsPerStep << " timestep(s) a step, " << options.steps << " steps a run, device "
              << device.str() << ", " << torch::get_num_threads() << " threads\n";
    const auto result = eval::benchmark(
        "attack", [&] { attack::attackPrompt(sd, prompt, targets, options); }, o.warmup, o.runs);
    std::cout << std::fixed << std::setprecision(4) << "attack: median " << result.medianMs / 1000.0 / options.steps
              << " s/step (min " << result.minMs / 1000.0 / options.steps << ", max "
              << result.maxMs / 1000.0 / options.steps << ", " << result.milliseconds.size() << " runs), peak RSS "
              << eval::formatBytes(result.peakRssBytes) << '\n';
}

} // namespace

void addAttackCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<AttackOptions>();
    CLI::App* cmd = app.add_subcommand("attack",
        "Does it stay forgotten? Attack an unlearned model (UnlearnDiffAtk, a soft prompt, or the class attack) and "
        "report Pre-ASR and Post-ASR (into the run folder: attack-KIND/attack.json, images.png, run.json's attacks)");
    cmd->add_option("--run", o->run,
        "A run folder (unlearn or unlearn-concept --out): its model, base model, concept "
        "or class and prompts");
    cmd->add_option("--attack", o->attack,
           "unlearndiffatk (K real tokens before each prompt), soft (K free token embeddings: an upper bound) or "
           "class (a label vector; class runs); default: class for class runs, else unlearndiffatk")
        ->check(CLI::IsMember({ "unlearndiffatk", "soft", "class" }));
    cmd->add_option("--model", o->model, "The model attacked (default: the run's unlearned model)");
    cmd->add_option("--base", o->base,
        "The model that draws the target images of the concept (default: the run's base model, else the built-in "
        "one)");
    cmd->add_option("--components", o->components, "For CompVis single files: the folder with their tokenizer");
    cmd->add_option("--concept", o->concept, "The erased concept the judge looks for (default: the run's)");
    cmd->add_option(
        "--prompt-file", o->promptFile, "Prompts to attack (JSON list or CSV; default: the run's forget.json)");
    cmd->add_option("--prompts", o->prompts, "Attack the first N distinct prompts (0 = all)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("--strip-concept", o->stripConcept,
        "Remove the concept's word from the attacked prompts (the targets still come from the full prompts): "
        "checks that the attack is real on a model that never forgot");
    cmd->add_option("--forget-class", o->forgetClass, "Class attack without --run: the forgotten class");
    cmd->add_option("--classifier", o->classifier, "Judge: the classifier (default: the built-in one)");
    cmd->add_option("--clip", o->clip, "Judge with zero-shot CLIP instead: a Hugging Face CLIPModel folder");
    cmd->add_option("--clip-names", o->clipNames,
        "With --clip: comma-separated labels (concept attacks: the labels besides the concept; class attacks: every "
        "class's name, default the model file's)");
    cmd->add_option("--seeds", o->seeds,
        "Seeds of the judged images of each prompt, the same before and after (default: 0-3 for prompt attacks, "
        "0-15 for the class attack)");
    cmd->add_option("--target-seeds", o->targetSeeds,
        "Seeds of the base model's target images (default: 0 for prompts, 0-15 for the class attack)");
    cmd->add_option("--steps", o->steps, "Sampler steps of the images (default: the run's; class: 18 Heun)");
    cmd->add_option("--guidance", o->guidance, "Guidance of the text-to-image images (default: the run's)");
    addAttackFlags(cmd, o->flags);
    cmd->add_option("--out", o->out, "Folder for attack.json and the images (default RUN/attack-KIND)");
    cmd->add_option("--json", o->jsonOut, "Also write attack.json here");
    cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    cmd->add_flag("--force", o->force, "Replace an attack already in the folder");
    cmd->callback([o, &global] { runCommand(global, [&] { runAttack(*o, global); }); });

    CLI::App* bench = app.get_subcommand("bench");
    auto b = std::make_shared<AttackOptions>();
    CLI::App* ba = bench->add_subcommand("attack", "Attack steps: median seconds per step and peak memory");
    ba->add_option("--attack", b->attack, "unlearndiffatk, soft or class")
        ->default_val("unlearndiffatk")
        ->check(CLI::IsMember({ "unlearndiffatk", "soft", "class" }));
    ba->add_option("--model", b->model, "Text-to-image model (default: the built-in one); class: an EDM model file");
    ba->add_option("--components", b->components, "For CompVis single files: the folder with their tokenizer");
    ba->add_option("--prompt", b->concept, "The prompt attacked")->default_val("a photo of a red sneaker");
    ba->add_option("--forget-class", b->forgetClass, "Class attack: the class")->default_val(7);
    addAttackFlags(ba, b->flags);
    b->flags.steps = 5;
    ba->add_option("--runs", b->runs, "Measured runs (the median is reported)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    ba->add_option("--warmup", b->warmup, "Unmeasured runs first")->capture_default_str();
    ba->add_option("--device", b->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    ba->callback([b, &global] { runCommand(global, [&] { runBenchAttack(*b); }); });
}

} // namespace lethe::cli
