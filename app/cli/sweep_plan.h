#pragma once

// How a split sweep shares its grid among the tasks of a job array: what each run costs, by a model of its work that
// every task on every node computes alike from the grid and the settings, and which task runs it (the costliest runs
// first, each to the task with the least work so far), so that the tasks end at about the same time.
#include "core/unlearn/run_config.h"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lethe::cli {

/// A run's work in image passes: one image through the diffusion network forward; a backward pass counts two more
/// (so a training step over a batch of B images is 3B). Training: the unlearning steps and the attack's optimisation;
/// sampling: the measures, the previews and the attack's images, forward only.
struct RunCost {
    std::int64_t training = 0;
    std::int64_t sampling = 0;

    std::int64_t total() const { return training + sampling; }
    RunCost& operator+=(const RunCost& other)
    {
        training += other.training;
        sampling += other.sampling;
        return *this;
    }
};

/// The class attack of `sweep --attack`, as far as its cost goes.
struct AttackWork {
    std::int64_t steps = 0;
    std::int64_t batch = 0;
    std::int64_t seeds = 0; ///< Judged images, drawn before and after the attack.
    std::int64_t targetSeeds = 0; ///< Target images drawn from the base model.
    std::int64_t samplerEvaluations = 0; ///< Denoiser calls per image (Heun: 2N − 1).
};

/// The work of one unlearning run of `config` (its method, steps, batches, previews and measures) on a model of
/// `classCount` classes, plus the class attack when `attack` is given.
RunCost runCost(const unlearn::RunConfig& config, int classCount, const AttackWork* attack);

/// The work of measuring the base model: once for every forget class together, or once per forget class
/// (`measurements`) with the literature's instruments. Nothing without measures.
RunCost baseMeasurementCost(const unlearn::RunConfig& config, int classCount, int measurements);

/// Image passes of one training step of `config`'s method with a remain set of `remainImages` (RGD's full pass).
std::int64_t stepUnits(const unlearn::RunConfig& config, std::int64_t remainImages);

/// One task's share of a split sweep.
struct TaskAssignment {
    int index = 0;
    std::vector<std::size_t> runs; ///< Indices into the grid, in grid order (the order the task runs them).
    std::int64_t baseCost = 0; ///< The base model's measurement (task 0 only).
    std::int64_t cost = 0; ///< The runs' costs and baseCost.
};

/// Assigns the grid's runs (their costs in grid order) to `taskCount` tasks: the costliest first (ties: the earlier
/// run), each to the task with the least cost so far (ties: the lowest index); task 0 starts with `baseCost`.
std::vector<TaskAssignment> assignRuns(const std::vector<std::int64_t>& costs, std::int64_t baseCost, int taskCount);

/// sweep.json's "split"."tasks": per task its index, its runs by name (`names`: the grid's, in grid order), their
/// costs, the base measurement's cost and the total.
nlohmann::json assignmentJson(const std::vector<TaskAssignment>& tasks, const std::vector<std::string>& names,
    const std::vector<std::int64_t>& costs);

} // namespace lethe::cli
