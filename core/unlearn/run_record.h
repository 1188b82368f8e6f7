#pragma once

// What an unlearning run leaves behind: the step table, the manifest (run.json), the unlearned model file and the
// comparison grid. Written here, in core, for both kinds of run: front ends add only what they alone know.
#include "core/io/model_file.h"
#include "core/models/edm/edm_precond.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/session.h"
#include "core/unlearn/unlearn_run.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace lethe::unlearn {

/// The header of steps.csv, for class and concept runs alike.
inline constexpr const char* kStepsCsvHeader
    = "step,forget_loss,remain_loss,ascent_norm,remain_norm,cosine,projected,truncated,lr,alpha,lambda,seconds";

/// One steps.csv row (no newline), numbers to 9 significant digits.
std::string stepsCsvRow(const StepReport& report);

/// The whole steps.csv of `reports`, header included.
std::string stepsCsv(const std::vector<StepReport>& reports);

/// What every run's manifest says, whatever its kind.
struct RunRecord {
    std::string kind; ///< "class" or "concept".
    nlohmann::json config; ///< The config the run started with (io::configToJson).
    nlohmann::json finalConfig; ///< The config with the live changes it ended with.
    std::string parentModel; ///< The base model's path.
    std::string parentSha256; ///< Its SHA-256 (empty when it is a folder).
    std::string device;
    std::string command; ///< The command line, or "lethe (GUI)".
    std::string started; ///< UTC time, io::utcNow().
};

/// run.json's common part: `format` ("lethe.unlearning-run"), `kind`, `method`, `config`, `final_config`,
/// `parent_model`, `parent_sha256`, `device`, `threads`, `command`, `started`, `finished`, `outcome`, `message`,
/// `steps`, `rollbacks`, `truncated_steps`, `projected_steps`, `seconds`, `steps_per_second`. Class runs add
/// `forget_class`, `forget_class_name`, `data` and the measures; concept runs `concept` and their pairs.
nlohmann::json runManifest(const RunRecord& record, const RunResult& result);

/// The description of an unlearned model: the parent's architecture, classes and data set, with provenance
/// naming the parent's SHA-256, the method, every hyperparameter and the forgotten class.
io::ModelInfo unlearnedModelInfo(const io::ModelInfo& parent, const std::string& parentSha256, const RunConfig& config,
    const RunResult& result, const std::string& command);

/// Writes the network's state dict under EDM's own tensor names (so EDM's code can load it back) with `info`.
void writeEdmModel(const std::filesystem::path& path, const models::EDMPrecond& net, const io::ModelInfo& info);

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
void writeRunFolder(
    const std::filesystem::path& dir, const RunFiles& files, const models::EDMPrecond& net, const io::ModelInfo& info);

/// Before | after | amplified difference, one row per class and one column per seed, the forgotten class's
/// row framed in red. `before` and `after` are uint8 class-major images of the same seeds.
torch::Tensor compareGrid(const torch::Tensor& before, const torch::Tensor& after, int columns, int forgetClass);

} // namespace lethe::unlearn
