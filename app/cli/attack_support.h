#pragma once

// The attack flags and the class attack on one run, shared by `attack` and `sweep --attack`.
#include "core/attack/attack_run.h"
#include "core/store/edm_model.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace lethe::cli {

/// The attack's own settings.
struct AttackFlags {
    attack::PromptAttackOptions prompt;
    attack::ClassAttackOptions classAttack;
    int steps = 0; ///< --attack-steps; 0 = each attack's default.
    double lr = 0.0; ///< --attack-lr; 0 = each attack's default.
    std::uint64_t seed = 0;
    std::string placement = "prefix"; ///< --attack-placement.

    /// The prompt attacks' settings with --attack-steps, --attack-lr and --attack-seed applied.
    attack::PromptAttackOptions promptOptions() const;
    /// The class attack's.
    attack::ClassAttackOptions classOptions() const;
};

/// Adds --attack-tokens, --attack-steps, --attack-lr, --attack-weight-decay, --attack-timesteps, --attack-batch and
/// --attack-seed. --attack-steps and --attack-lr default to each attack's own (prompts: 40 steps, lr 0.01, as
/// UnlearnDiffAtk; class: 100 steps, lr 0.05).
void addAttackFlags(CLI::App* cmd, AttackFlags& flags);

/// A class attack's setup and judge.
struct ClassAttackSettings {
    attack::ClassAttackSetup setup;
    std::string classifier; ///< Empty: the built-in one.
    std::string clip; ///< Judge with zero-shot CLIP instead (a CLIPModel folder).
    std::string clipNames; ///< Comma-separated, else the model file's zero_shot_names.
};

/// The class attack of `unlearned` for class `forgotten`, targets drawn by `base`, judged by the classifier (or
/// zero-shot CLIP); with `verbose`, a header and a progress line on the terminal. nullopt when Ctrl+C interrupted it.
std::optional<attack::AttackOutcome> runClassAttackOn(store::EdmModel& unlearned, store::EdmModel& base, int forgotten,
    ClassAttackSettings settings, torch::Device device, bool verbose);

} // namespace lethe::cli
