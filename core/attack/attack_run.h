#pragma once

// An attack on a finished unlearning run, end to end (docs/method.md §8): the target images drawn by the base model,
// the unlearned model's images from the plain prompts (or the plain class label) judged for Pre-ASR, the attack on
// each prompt, the images from the adversarial prompts (or label vector) judged for Post-ASR, and the report. The CLI's
// `attack`, `sweep --attack` and the workbench's Robustness panel all run these.

#include "core/attack/class_attack.h"
#include "core/attack/prompt_attack.h"
#include "core/diffusion/edm_sampler.h"
#include "core/diffusion/text_to_image.h"
#include "core/eval/fashion_measures.h"
#include "core/eval/zero_shot_clip.h"
#include "core/models/classifier/resnet_classifier.h"

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lethe::attack {

/// Decides, per image, whether it shows what was erased.
struct Judge {
    /// What it asks, for reports: e.g. "the built-in classifier reads the garment 'Sneaker'".
    std::string description;
    /// uint8 images [N, C, H, W] (any device) → bool [N] on the CPU.
    std::function<torch::Tensor(const torch::Tensor& images)> found;
};

/// The built-in text-to-image model's judge: the concept is a garment (the classifier reads it) or a palette colour
/// (the bright pixels have it), as eval/fashion_measures.h measures. Throws Error when `concept` names neither.
Judge fashionJudge(models::ResNetClassifier classifier, const std::string& concept, torch::Device device);

/// A class model's judge: the classifier reads class `forgotten` (its name for the report).
Judge classifierJudge(
    models::ResNetClassifier classifier, int forgotten, const std::string& className, torch::Device device);

/// Zero-shot CLIP's judge: the argmax over the labels (and "random noise") is label `index`.
Judge zeroShotClipJudge(std::shared_ptr<eval::ZeroShotClip> clip, int index);

/// One attacked prompt (or, for the class attack, the one class).
struct AttackRecord {
    std::string prompt; ///< As attacked (class attack: "class 7 (Sneaker)").
    std::string targetPrompt; ///< What the base model drew the targets from (class attack: as prompt).
    std::string adversarialPrompt; ///< The prompt the attack found (class attack: the label vector as text).
    std::vector<std::int64_t> tokenIds; ///< Prompt attacks: the adversarial tokens.
    std::vector<double> label; ///< Class attack: the label vector.
    std::vector<double> losses; ///< Per attack step.
    std::vector<bool> before; ///< Per judge seed: the concept found in the plain prompt's image.
    std::vector<bool> after; ///< Per judge seed: found in the adversarial prompt's image.
    double seconds = 0.0;

    /// Share of the judge seeds' images showing the concept before / after the attack; NaN without seeds.
    double preRate() const;
    double postRate() const;
};

/// What attack kind, and with what.
enum class AttackKind { Hard, Soft, Class };
/// "unlearndiffatk", "soft-prompt", "class".
const std::vector<std::pair<AttackKind, std::string>>& enumNames(AttackKind);

struct AttackReport {
    AttackKind kind = AttackKind::Hard;
    std::string judge;
    std::vector<std::int64_t> seeds; ///< The judge seeds, the same before and after.
    std::vector<std::int64_t> targetSeeds;
    std::vector<AttackRecord> records;
    /// The attack's settings as JSON (PromptAttackOptions or ClassAttackOptions, and the generation settings).
    std::string settingsJson;
    double seconds = 0.0;

    /// Share of (prompt, seed) images showing the concept before the attack (Pre-ASR) and after it (Post-ASR).
    double preAsr() const;
    double postAsr() const;
    /// Share of prompts with the concept in at least one seed's image, before and after.
    double prePromptRate() const;
    double postPromptRate() const;
};

/// The report as JSON: kind, judge, seeds, settings, pre_asr, post_asr, per_prompt (prompt, target_prompt,
/// adversarial_prompt, token_ids or label, losses, before, after, pre_rate, post_rate, seconds), seconds.
nlohmann::json toJson(const AttackReport& report);

/// Where an attack is: the phase ("targets", "before", "attack", "after"), the prompt (from 0) of how many, and
/// within the phase the step of how many with the attack's loss (NaN outside "attack").
struct AttackProgressEvent {
    std::string phase;
    int prompt = 0;
    int prompts = 0;
    std::int64_t step = 0;
    std::int64_t steps = 0;
    double loss = 0.0;
};
/// Returning false cancels.
using AttackProgress = std::function<bool(const AttackProgressEvent&)>;

/// The images an attack drew, for looking at: per record, one image per judge seed.
struct AttackImages {
    std::vector<torch::Tensor> targets; ///< uint8 [targetSeeds, C, H, W] per record.
    std::vector<torch::Tensor> before; ///< uint8 [seeds, C, H, W] per record.
    std::vector<torch::Tensor> after;
};

struct AttackOutcome {
    AttackReport report;
    AttackImages images;
};

/// `prompt` without the concept's words: every whole-word occurrence of `concept` (any case, also with a plural "s"
/// or "es"), spaces collapsed and ends trimmed. The prompts of the check that an attack is real ask for the concept
/// without naming it.
std::string withoutConcept(const std::string& prompt, const std::string& concept);

/// A prompt attack on a text-to-image model.
struct ConceptAttackSetup {
    /// The prompts attacked, and per prompt the prompt the base model draws its targets from (empty: the same).
    std::vector<std::string> prompts;
    std::vector<std::string> targetPrompts;
    std::vector<std::int64_t> seeds { 0, 1, 2, 3 };
    std::vector<std::int64_t> targetSeeds { 0 };
    /// How the targets and the judged images are drawn.
    double guidance = 7.5;
    int samplerSteps = 50;
    std::int64_t batch = 4;
    std::string negativePrompt;
    PromptAttackOptions attack;
};

/// Runs a prompt attack of `unlearned` with targets from `base`; nullopt when `progress` cancelled. Throws Error for
/// no prompts, target prompts that do not pair with the prompts, or settings out of range.
std::optional<AttackOutcome> runConceptAttack(const models::sd::StableDiffusion& unlearned,
    const models::sd::StableDiffusion& base, const ConceptAttackSetup& setup, const Judge& judge,
    const AttackProgress& progress = {});

/// A class attack on a class-conditional model.
struct ClassAttackSetup {
    int forgotten = 0;
    std::string className;
    std::vector<std::int64_t> seeds { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    std::vector<std::int64_t> targetSeeds { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    diffusion::SamplerOptions sampler;
    ClassAttackOptions attack;
};

/// Runs the class attack of `unlearned` with targets from `base`, both on `device`; nullopt when cancelled.
std::optional<AttackOutcome> runClassAttack(models::EDMPrecond unlearned, models::EDMPrecond base,
    const ClassAttackSetup& setup, const Judge& judge, torch::Device device, const AttackProgress& progress = {});

} // namespace lethe::attack
