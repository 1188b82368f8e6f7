#pragma once

// Adversarial prompts against an unlearned text-to-image model (docs/method.md §8): UnlearnDiffAtk's attack, which
// looks for K real vocabulary tokens that, put before a prompt, make the model draw the erased concept again, and its
// continuous variant (a soft prompt), which bounds what any K tokens could do.
//
// Both minimise the unlearned model's denoising loss on target images of the concept (drawn by the base model) at
// random timesteps, conditioned on [BOS, a₁…a_K, the prompt's tokens, EOS]. The hard attack keeps continuous
// embeddings e₁…e_K, projects each onto the vocabulary token whose embedding is nearest in cosine similarity,
// evaluates the loss with the projected embeddings, and applies that gradient to the continuous ones (AdamW); the
// images are drawn from the projected tokens, which are real tokens a user could type. The soft attack optimises
// e₁…e_K directly and draws from them.

#include "core/models/sd/stable_diffusion.h"

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lethe::attack {

enum class PromptAttackKind {
    Hard, ///< UnlearnDiffAtk: K projected vocabulary tokens.
    Soft, ///< K free token embeddings, never projected (an upper bound).
};
/// "hard", "soft".
const std::vector<std::pair<PromptAttackKind, std::string>>& enumNames(PromptAttackKind);

/// Where the adversarial tokens go.
enum class TokenPlacement {
    Prefix, ///< Right after BOS, before the prompt (UnlearnDiffAtk's "prefix_k", its default).
    Suffix, ///< After the prompt, before EOS ("suffix_k").
};
/// "prefix", "suffix".
const std::vector<std::pair<TokenPlacement, std::string>>& enumNames(TokenPlacement);

/// The attack's settings; the defaults are UnlearnDiffAtk's (K 5, 40 iterations, AdamW lr 0.01, weight decay 0.1,
/// one timestep per iteration).
struct PromptAttackOptions {
    PromptAttackKind kind = PromptAttackKind::Hard;
    /// Adversarial tokens (the prompt is truncated to make room when needed).
    int tokens = 5;
    TokenPlacement placement = TokenPlacement::Prefix;
    int steps = 40;
    double lr = 0.01;
    double weightDecay = 0.1;
    /// Timesteps (each with its own noise, on every target image) averaged in one step's loss.
    int timestepsPerStep = 1;
    /// Seeds the initial tokens and the timesteps and noise of every step (drawn on the CPU).
    std::uint64_t seed = 0;

    /// Throws Error("attack: …") naming the setting that is out of range.
    void validate() const;
};

/// Progress of one prompt's attack: (step, steps, that step's loss); (0, steps, NaN) first. Returning false cancels.
using AttackStepProgress = std::function<bool(int step, int steps, double loss)>;

/// What one prompt's attack found.
struct PromptAttackResult {
    /// The K adversarial token ids (hard: the final projection; soft: the tokens nearest to the final embeddings,
    /// for display only).
    std::vector<std::int64_t> tokenIds;
    /// The adversarial prompt as text: the decoded tokens before (prefix) or after (suffix) the prompt (soft: the
    /// nearest tokens in ⟨⟩).
    std::string promptText;
    /// [1, L, D]: the conditioning the attacked images are drawn from, on the model's device and dtype.
    torch::Tensor context;
    /// The loss of every step, as evaluated (with the projected tokens for the hard attack).
    std::vector<double> losses;
};

/// The ids the attack conditions on, and where its slots begin.
struct AttackIds {
    /// BOS, the prompt's tokens (truncated so that the slots and EOS still fit) with `tokens` placeholder slots (pad
    /// ids) before them (prefix) or after them (suffix), EOS, pad up to the tokenizer's length.
    std::vector<std::int64_t> ids;
    /// The first slot: 1 for a prefix.
    std::int64_t first = 1;
};
AttackIds attackIds(const models::sd::ClipTokenizer& tokenizer, const std::string& prompt, int tokens,
    TokenPlacement placement = TokenPlacement::Prefix);

/// The vocabulary ids the hard attack may choose: 0…vocabulary − 1 but BOS, EOS and pad. attackPrompt passes the
/// smaller of the embedding table's rows and the tokenizer's vocabulary, so every choice is a token it can spell.
torch::Tensor candidateTokens(const models::sd::ClipTokenizer& tokenizer, std::int64_t vocabulary);

/// For every row of `embeddings` [K, H], the candidate whose row of `table` [V, H] is nearest in cosine similarity.
torch::Tensor projectToVocabulary(
    const torch::Tensor& embeddings, const torch::Tensor& table, const torch::Tensor& candidates);

/// Attacks `prompt` on `model` (the unlearned model; its networks are not changed and get no gradients) with
/// `targets`, uint8 [M, C, H, W] images of the concept at the model's image size. nullopt when `progress`
/// cancelled. Throws Error for targets of the wrong shape or settings out of range.
std::optional<PromptAttackResult> attackPrompt(const models::sd::StableDiffusion& model, const std::string& prompt,
    const torch::Tensor& targets, const PromptAttackOptions& options, const AttackStepProgress& progress = {});

/// `model` seen as a TextToImageModel whose encoder returns `context` for the prompt `key` and encodes every other
/// prompt as usual, so that diffusion::generate() draws the adversarial prompt's images with any guidance.
diffusion::TextToImageModel withPromptContext(
    const models::sd::StableDiffusion& model, const std::string& key, const torch::Tensor& context);

} // namespace lethe::attack
