#include "sweep_plan.h"

#include "core/diffusion/edm_sampler.h"
#include "core/unlearn/saliency.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <numeric>

namespace lethe::cli {

namespace {

/// A forward and a backward pass of one image.
constexpr std::int64_t kTrainingPass = 3;

/// Denoiser calls per image of the measures' sampler (eval::GenerationEvalOptions' default: Heun, 18 steps).
std::int64_t measureEvaluations()
{
    return diffusion::denoiserEvaluations(diffusion::SamplerOptions {});
}

} // namespace

std::int64_t stepUnits(const unlearn::RunConfig& config, std::int64_t remainImages)
{
    const std::int64_t forget = kTrainingPass * config.forgetBatch;
    switch (config.method) {
    case unlearn::Method::RGD:
        return forget + kTrainingPass * remainImages; // The full pass over D_r, every step.
    case unlearn::Method::GA:
        return forget + config.remainBatch; // The remain loss is only reported: forward, no backward.
    default:
        return forget + kTrainingPass * config.remainBatch;
    }
}

RunCost runCost(const unlearn::RunConfig& config, int classCount, const AttackWork* attack)
{
    RunCost cost;
    cost.training = config.steps * stepUnits(config, config.remainPerClass * (classCount - 1));
    if (config.method == unlearn::Method::SalUn)
        cost.training += unlearn::kSaliencyBatches * kTrainingPass * config.forgetBatch;
    if (config.previewEvery > 0 && config.steps > 1) {
        // A preview after every previewEvery-th step but the last (unlearn_run.cpp), every class × every seed.
        diffusion::SamplerOptions preview;
        preview.steps = config.previewSamplerSteps;
        cost.sampling += (config.steps - 1) / config.previewEvery * classCount
            * static_cast<std::int64_t>(config.previewSeeds.size()) * diffusion::denoiserEvaluations(preview);
    }
    if (config.evaluate)
        cost.sampling += classCount * config.evalImagesPerClass * measureEvaluations();
    if (attack != nullptr) {
        cost.training += attack->steps * attack->batch * kTrainingPass;
        cost.sampling += (attack->targetSeeds + 2 * attack->seeds) * attack->samplerEvaluations;
    }
    return cost;
}

RunCost baseMeasurementCost(const unlearn::RunConfig& config, int classCount, int measurements)
{
    RunCost cost;
    if (config.evaluate)
        cost.sampling = measurements * classCount * config.evalImagesPerClass * measureEvaluations();
    return cost;
}

std::vector<TaskAssignment> assignRuns(const std::vector<std::int64_t>& costs, std::int64_t baseCost, int taskCount)
{
    std::vector<TaskAssignment> tasks(static_cast<std::size_t>(taskCount));
    for (int i = 0; i < taskCount; ++i)
        tasks[static_cast<std::size_t>(i)].index = i;
    if (tasks.empty())
        return tasks;
    tasks[0].baseCost = baseCost;
    tasks[0].cost = baseCost;
    std::vector<std::size_t> order(costs.size());
    std::iota(order.begin(), order.end(), std::size_t { 0 });
    std::stable_sort(
        order.begin(), order.end(), [&costs](std::size_t a, std::size_t b) { return costs[a] > costs[b]; });
    for (const std::size_t run : order) {
        // min_element keeps the first of equal loads: the lowest index.
        TaskAssignment& least = *std::min_element(tasks.begin(), tasks.end(),
            [](const TaskAssignment& a, const TaskAssignment& b) { return a.cost < b.cost; });
        least.runs.push_back(run);
        least.cost += costs[run];
    }
    for (TaskAssignment& t : tasks)
        std::sort(t.runs.begin(), t.runs.end());
    return tasks;
}

nlohmann::json assignmentJson(const std::vector<TaskAssignment>& tasks, const std::vector<std::string>& names,
    const std::vector<std::int64_t>& costs)
{
    nlohmann::json out = nlohmann::json::array();
    for (const TaskAssignment& t : tasks) {
        nlohmann::json runs = nlohmann::json::array();
        nlohmann::json runCosts = nlohmann::json::array();
        for (const std::size_t run : t.runs) {
            runs.push_back(names[run]);
            runCosts.push_back(costs[run]);
        }
        out.push_back({ { "index", t.index }, { "runs", runs }, { "run_costs", runCosts }, { "base_cost", t.baseCost },
            { "cost", t.cost } });
    }
    return out;
}

} // namespace lethe::cli
