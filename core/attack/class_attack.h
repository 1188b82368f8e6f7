#pragma once

// The class attack (docs/method.md §8): does a class-conditional model that unlearning made forget a class draw it
// again for some other label vector? It optimises a continuous label vector, started at the forgotten class's one-hot
// row, to minimise the unlearned model's EDM loss on target images of that class (drawn by the base model); the
// images drawn with the optimised vector are then judged by the classifier.

#include "core/attack/prompt_attack.h"
#include "core/models/edm/edm_precond.h"

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace lethe::attack {

struct ClassAttackOptions {
    int steps = 100;
    double lr = 0.05;
    /// Target images per step, drawn without replacement from the targets in a seeded order.
    int batch = 16;
    /// Seeds the batches and EDM's noise levels and noise (drawn on the CPU).
    std::uint64_t seed = 0;

    /// Throws Error("attack: …") naming the setting that is out of range.
    void validate() const;
};

struct ClassAttackResult {
    /// float32 [classes] on the CPU: the label vector the attack found.
    torch::Tensor label;
    /// The EDM loss of every step.
    std::vector<double> losses;
};

/// Attacks `net` (its parameters are not changed and get no gradients) for class `forgotten` with `targets`, uint8
/// [M, C, R, R] images of that class on any device. nullopt when `progress` cancelled. Throws Error for an
/// unconditional network, a class outside it, or targets of the wrong shape.
std::optional<ClassAttackResult> attackClass(models::EDMPrecond& net, int forgotten, const torch::Tensor& targets,
    const ClassAttackOptions& options, torch::Device device, const AttackStepProgress& progress = {});

} // namespace lethe::attack
