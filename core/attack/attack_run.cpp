#include "attack_run.h"

#include "core/diffusion/class_sampling.h"
#include "core/enum_names.h"
#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/eval/accuracy_json.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

namespace lethe::attack {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<bool> toBools(const torch::Tensor& found)
{
    const torch::Tensor flags = found.to(torch::kCPU, torch::kBool).contiguous();
    std::vector<bool> out;
    for (std::int64_t i = 0; i < flags.numel(); ++i)
        out.push_back(flags[i].item<bool>());
    return out;
}

double share(const std::vector<AttackRecord>& records, std::vector<bool> AttackRecord::*flags, bool perPrompt)
{
    std::int64_t found = 0;
    std::int64_t total = 0;
    for (const AttackRecord& r : records) {
        const auto& f = r.*flags;
        if (perPrompt) {
            found += std::find(f.begin(), f.end(), true) != f.end() ? 1 : 0;
            total += 1;
        } else {
            for (const bool b : f)
                found += b ? 1 : 0;
            total += static_cast<std::int64_t>(f.size());
        }
    }
    return total == 0 ? std::numeric_limits<double>::quiet_NaN()
                      : static_cast<double>(found) / static_cast<double>(total);
}

double rateOf(const std::vector<bool>& flags)
{
    if (flags.empty())
        return std::numeric_limits<double>::quiet_NaN();
    return static_cast<double>(std::count(flags.begin(), flags.end(), true)) / static_cast<double>(flags.size());
}

} // namespace

Judge fashionJudge(models::ResNetClassifier classifier, const std::string& concept, torch::Device device)
{
    const eval::FashionTargets target = eval::fashionTargets(concept);
    if (target.garment < 0 && target.colour < 0)
        throw Error("attack: '" + concept
            + "' names neither a garment nor a colour of the built-in text-to-image model, so its classifier cannot "
              "judge it; give --clip DIR to judge with zero-shot CLIP");
    std::string what
        = target.garment >= 0 ? "reads the garment '" + concept + "'" : "finds the colour '" + concept + "'";
    return Judge { "the built-in classifier " + what,
        [classifier, target, device](const torch::Tensor& images) mutable {
            const eval::FashionReadings read = eval::readFashionImages(classifier, images.to(torch::kCPU), device);
            return target.garment >= 0 ? read.garments.eq(target.garment) : read.colours.eq(target.colour);
        } };
}

Judge classifierJudge(
    models::ResNetClassifier classifier, int forgotten, const std::string& className, torch::Device device)
{
    return Judge { "the classifier reads class " + std::to_string(forgotten) + " (" + className + ")",
        [classifier, forgotten, device](const torch::Tensor& images) mutable {
            return eval::classify(classifier, images.to(device), 256, device).labels.eq(forgotten);
        } };
}

Judge zeroShotClipJudge(std::shared_ptr<eval::ZeroShotClip> clip, int index)
{
    if (index < 0 || index >= static_cast<int>(clip->labels.size()))
        throw Error("attack: zero-shot CLIP has no label " + std::to_string(index));
    return Judge { "zero-shot CLIP reads \"" + clip->prompts[static_cast<std::size_t>(index)] + "\"",
        [clip, index](const torch::Tensor& images) { return eval::zeroShotClassify(*clip, images).eq(index); } };
}

std::string withoutConcept(const std::string& prompt, const std::string& concept)
{
    const auto lower = [](std::string text) {
        for (char& c : text)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return text;
    };
    const auto isWordChar = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; };
    const std::string low = lower(prompt);
    const std::string word = lower(concept);
    std::string kept;
    std::size_t i = 0;
    while (i < prompt.size()) {
        bool removed = false;
        if (!word.empty() && low.compare(i, word.size(), word) == 0 && (i == 0 || !isWordChar(low[i - 1]))) {
            for (const std::string suffix : { "", "s", "es" }) {
                const std::size_t end = i + word.size() + suffix.size();
                if (low.compare(i + word.size(), suffix.size(), suffix) == 0
                    && (end == low.size() || !isWordChar(low[end]))) {
                    i = end;
                    removed = true;
                    break;
                }
            }
        }
        if (!removed)
            kept += prompt[i++];
    }
    std::string out;
    for (const char c : kept)
        if (!(c == ' ' && (out.empty() || out.back() == ' ')))
            out += c;
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

const std::vector<std::pair<AttackKind, std::string>>& enumNames(AttackKind)
{
    static const EnumNames<AttackKind> names { { AttackKind::Hard, "unlearndiffatk" },
        { AttackKind::Soft, "soft-prompt" }, { AttackKind::Class, "class" } };
    return names;
}

double AttackRecord::preRate() const
{
    return rateOf(before);
}
double AttackRecord::postRate() const
{
    return rateOf(after);
}

double AttackReport::preAsr() const
{
    return share(records, &AttackRecord::before, false);
}
double AttackReport::postAsr() const
{
    return share(records, &AttackRecord::after, false);
}
double AttackReport::prePromptRate() const
{
    return share(records, &AttackRecord::before, true);
}
double AttackReport::postPromptRate() const
{
    return share(records, &AttackRecord::after, true);
}

nlohmann::json toJson(const AttackReport& report)
{
    nlohmann::json perPrompt = nlohmann::json::array();
    for (const AttackRecord& r : report.records) {
        nlohmann::json losses = nlohmann::json::array();
        for (const double l : r.losses)
            losses.push_back(eval::jsonFigure(l));
        nlohmann::json item { { "prompt", r.prompt }, { "target_prompt", r.targetPrompt },
            { "adversarial_prompt", r.adversarialPrompt } };
        if (!r.tokenIds.empty())
            item["token_ids"] = r.tokenIds;
        if (!r.label.empty()) {
            nlohmann::json label = nlohmann::json::array();
            for (const double v : r.label)
                label.push_back(eval::jsonFigure(v));
            item["label"] = label;
        }
        item["losses"] = losses;
        item["before"] = r.before;
        item["after"] = r.after;
        item["pre_rate"] = eval::jsonFigure(r.preRate());
        item["post_rate"] = eval::jsonFigure(r.postRate());
        item["seconds"] = eval::jsonFigure(r.seconds);
        perPrompt.push_back(item);
    }
    return nlohmann::json { { "kind", enumName(report.kind) }, { "judge", report.judge }, { "seeds", report.seeds },
        { "target_seeds", report.targetSeeds },
        { "settings",
            report.settingsJson.empty() ? nlohmann::json::object() : nlohmann::json::parse(report.settingsJson) },
        { "pre_asr", eval::jsonFigure(report.preAsr()) }, { "post_asr", eval::jsonFigure(report.postAsr()) },
        { "pre_prompt_rate", eval::jsonFigure(report.prePromptRate()) },
        { "post_prompt_rate", eval::jsonFigure(report.postPromptRate()) }, { "per_prompt", perPrompt },
        { "seconds", eval::jsonFigure(report.seconds) } };
}

namespace {

/// Draws `prompt` at every seed; nullopt when cancelled. Reports (phase, prompt, image steps done, total).
std::optional<torch::Tensor> draw(const diffusion::TextToImageModel& model, const std::string& prompt,
    const std::vector<std::int64_t>& seeds, std::int64_t size, const ConceptAttackSetup& setup,
    const std::string& phase, int index, const AttackProgress& progress)
{
    diffusion::TextToImageRequest request;
    request.prompts = { prompt };
    request.negativePrompt = setup.negativePrompt;
    request.seeds = seeds;
    request.height = size;
    request.width = size;
    request.guidance = setup.guidance;
    request.sampler.steps = setup.samplerSteps;
    request.batch = setup.batch;
    const auto prompts = static_cast<int>(setup.prompts.size());
    return diffusion::generate(model, request, [&](std::int64_t done, std::int64_t total) {
        return !progress || progress({ phase, index, prompts, done, total, std::numeric_limits<double>::quiet_NaN() });
    });
}

/// Adds a finished record and its images to the outcome.
void keep(AttackOutcome& out, AttackRecord record, const torch::Tensor& targets, const torch::Tensor& before,
    const torch::Tensor& after)
{
    out.report.records.push_back(std::move(record));
    out.images.targets.push_back(targets);
    out.images.before.push_back(before);
    out.images.after.push_back(after);
}

std::string settingsOf(const PromptAttackOptions& a, const ConceptAttackSetup& s)
{
    return nlohmann::json {
        { "attack", enumName(a.kind) }, { "tokens", a.tokens }, { "placement", enumName(a.placement) },
        { "steps", a.steps }, { "lr", a.lr }, { "weight_decay", a.weightDecay },
        { "timesteps_per_step", a.timestepsPerStep }, { "seed", a.seed }, { "guidance", s.guidance },
        { "sampler_steps", s.samplerSteps }, { "negative_prompt", s.negativePrompt }, { "batch", s.batch }
    }.dump();
}

} // namespace

std::optional<AttackOutcome> runConceptAttack(const models::sd::StableDiffusion& unlearned,
    const models::sd::StableDiffusion& base, const ConceptAttackSetup& setup, const Judge& judge,
    const AttackProgress& progress)
{
    setup.attack.validate();
    if (setup.prompts.empty())
        throw Error("attack: no prompts to attack");
    if (!setup.targetPrompts.empty() && setup.targetPrompts.size() != setup.prompts.size())
        throw Error("attack: " + std::to_string(setup.targetPrompts.size()) + " target prompts for "
            + std::to_string(setup.prompts.size()) + " prompts");
    if (setup.seeds.empty() || setup.targetSeeds.empty())
        throw Error("attack: no seeds to draw the judged images or the targets with");
    if (unlearned.defaultImageSize() != base.defaultImageSize())
        throw Error("attack: the unlearned model draws " + std::to_string(unlearned.defaultImageSize())
            + " px images and the base model " + std::to_string(base.defaultImageSize()) + " px");
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t size = unlearned.defaultImageSize();
    AttackOutcome out;
    AttackReport& report = out.report;
    report.kind = setup.attack.kind == PromptAttackKind::Hard ? AttackKind::Hard : AttackKind::Soft;
    report.judge = judge.description;
    report.seeds = setup.seeds;
    report.targetSeeds = setup.targetSeeds;
    report.settingsJson = settingsOf(setup.attack, setup);
    const auto prompts = static_cast<int>(setup.prompts.size());
    for (int i = 0; i < prompts; ++i) {
        const auto promptStart = std::chrono::steady_clock::now();
        AttackRecord record;
        record.prompt = setup.prompts[static_cast<std::size_t>(i)];
        record.targetPrompt
            = setup.targetPrompts.empty() ? record.prompt : setup.targetPrompts[static_cast<std::size_t>(i)];
        const auto targets
            = draw(base.model(), record.targetPrompt, setup.targetSeeds, size, setup, "targets", i, progress);
        if (!targets)
            return std::nullopt;
        const auto before = draw(unlearned.model(), record.prompt, setup.seeds, size, setup, "before", i, progress);
        if (!before)
            return std::nullopt;
        record.before = toBools(judge.found(*before));

        PromptAttackOptions options = setup.attack;
        options.seed = setup.attack.seed + static_cast<std::uint64_t>(i);
        const auto found
            = attackPrompt(unlearned, record.prompt, *targets, options, [&](int step, int steps, double loss) {
                  return !progress || progress({ "attack", i, prompts, step, steps, loss });
              });
        if (!found)
            return std::nullopt;
        record.adversarialPrompt = found->promptText;
        record.tokenIds = found->tokenIds;
        record.losses = found->losses;
        const auto after = draw(withPromptContext(unlearned, found->promptText, found->context), found->promptText,
            setup.seeds, size, setup, "after", i, progress);
        if (!after)
            return std::nullopt;
        record.after = toBools(judge.found(*after));
        record.seconds = secondsSince(promptStart);
        keep(out, std::move(record), *targets, *before, *after);
    }
    report.seconds = secondsSince(start);
    return out;
}

std::optional<AttackOutcome> runClassAttack(models::EDMPrecond unlearned, models::EDMPrecond base,
    const ClassAttackSetup& setup, const Judge& judge, torch::Device device, const AttackProgress& progress)
{
    setup.attack.validate();
    if (setup.seeds.empty() || setup.targetSeeds.empty())
        throw Error("attack: no seeds to draw the judged images or the targets with");
    const std::int64_t classes = unlearned->options.label_dim();
    if (classes < 1 || base->options.label_dim() != classes)
        throw Error("attack: the class attack needs two class-conditional models with the same classes");
    if (setup.forgotten < 0 || setup.forgotten >= classes)
        throw Error("attack: class " + std::to_string(setup.forgotten) + " is not one of the model's classes 0–"
            + std::to_string(classes - 1));
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t channels = unlearned->options.img_channels();
    const std::int64_t resolution = unlearned->options.img_resolution();
    const auto drawWith
        = [&](models::EDMPrecond& net, const torch::Tensor& label, const std::vector<std::int64_t>& seeds,
              const std::string& phase) -> std::optional<torch::Tensor> {
        torch::NoGradGuard noGrad;
        const bool wasTraining = net->is_training();
        net->eval();
        const torch::Tensor labels
            = label.to(device, torch::kFloat32).unsqueeze(0).expand({ static_cast<std::int64_t>(seeds.size()), -1 });
        auto images = diffusion::sampleUint8(diffusion::denoiserOf(net), seeds, labels, channels, resolution,
            resolution, setup.sampler, device, [&](int step, int total) {
                return !progress || progress({ phase, 0, 1, step, total, std::numeric_limits<double>::quiet_NaN() });
            });
        if (wasTraining)
            net->train();
        if (!images)
            return std::nullopt;
        return images->to(torch::kCPU);
    };

    torch::Tensor oneHot = torch::zeros({ classes }, torch::kFloat32);
    oneHot[setup.forgotten] = 1.0F;
    AttackOutcome out;
    AttackReport& report = out.report;
    report.kind = AttackKind::Class;
    report.judge = judge.description;
    report.seeds = setup.seeds;
    report.targetSeeds = setup.targetSeeds;
    const ClassAttackOptions& a = setup.attack;
    report.settingsJson = nlohmann::json {
        { "attack", "class" }, { "steps", a.steps }, { "lr", a.lr }, { "batch", a.batch }, { "seed", a.seed },
        { "sampler_steps", setup.sampler.steps }
    }.dump();
    AttackRecord record;
    record.prompt = "class " + std::to_string(setup.forgotten) + " (" + setup.className + ")";
    record.targetPrompt = record.prompt;
    const auto targets = drawWith(base, oneHot, setup.targetSeeds, "targets");
    if (!targets)
        return std::nullopt;
    const auto before = drawWith(unlearned, oneHot, setup.seeds, "before");
    if (!before)
        return std::nullopt;
    record.before = toBools(judge.found(*before));
    const auto found
        = attackClass(unlearned, setup.forgotten, *targets, a, device, [&](int step, int steps, double loss) {
              return !progress || progress({ "attack", 0, 1, step, steps, loss });
          });
    if (!found)
        return std::nullopt;
    record.losses = found->losses;
    std::ostringstream text;
    text << "[";
    for (std::int64_t k = 0; k < found->label.numel(); ++k) {
        record.label.push_back(found->label[k].item<double>());
        text << (k ? ", " : "") << eval::jsonFigure(record.label.back()).dump();
    }
    text << "]";
    record.adversarialPrompt = text.str();
    const auto after = drawWith(unlearned, found->label, setup.seeds, "after");
    if (!after)
        return std::nullopt;
    record.after = toBools(judge.found(*after));
    record.seconds = secondsSince(start);
    keep(out, std::move(record), *targets, *before, *after);
    report.seconds = secondsSince(start);
    return out;
}

} // namespace lethe::attack
