#pragma once

// What an unlearning run leaves behind: the step table, the unlearned model file and the comparison grid.
#include "core/models/edm/edm_precond.h"
#include "core/store/model_file.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/session.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace lethe::unlearn {

/// The header of steps.csv.
inline constexpr const char* kStepsCsvHeader
    = "step,forget_loss,remain_loss,ascent_norm,remain_norm,cosine,projected,lr,alpha,lambda,seconds";

/// One steps.csv row (no newline), numbers at full precision.
std::string stepsCsvRow(const StepReport& report);

/// The description of an unlearned model: the parent's architecture, classes and data set, with provenance
/// naming the parent's SHA-256, the method, every hyperparameter and the forgotten class.
store::ModelInfo unlearnedModelInfo(const store::ModelInfo& parent, const std::string& parentSha256,
    const RunConfig& config, int forgetClass, const RunResult& result, const std::string& command);

/// Writes the network's state dict under EDM's own tensor names (so EDM's code can load it back) with `info`.
void writeEdmModel(const std::filesystem::path& path, const models::EDMPrecond& net, const store::ModelInfo& info);

/// Everything an unlearning run folder holds besides the model: run.json's content, the steps and the grids.
struct RunFiles {
    nlohmann::json manifest = nlohmann::json::object(); ///< run.json.
    const std::vector<StepReport>* steps = nullptr; ///< steps.csv; null leaves steps.csv alone.
    torch::Tensor before; ///< uint8 class-major preview images of the base model.
    torch::Tensor after; ///< The same seeds from the unlearned model (undefined: no after/compare grid).
    int columns = 4; ///< Preview seeds per class.
    int forgetClass = -1;
};

/// Writes model.safetensors, run.json, steps.csv, before.png, after.png and compare.png into `dir`, each
/// atomically. A folder that does not exist yet is filled under a temporary name and renamed at the end, so
/// it never appears half-written.
void writeRunFolder(const std::filesystem::path& dir, const RunFiles& files, const models::EDMPrecond& net,
    const store::ModelInfo& info);

/// Before | after | amplified difference, one row per class and one column per seed, the forgotten class's
/// row framed in red. `before` and `after` are uint8 class-major images of the same seeds.
torch::Tensor compareGrid(const torch::Tensor& before, const torch::Tensor& after, int columns, int forgetClass);

} // namespace lethe::unlearn
