#pragma once

// The unlearning session: the loop that changes a copy of a class-conditional EDM model so that it forgets
// one class while keeping the others (METHOD.md §1–2).
#include "core/data/image_set.h"
#include "core/eval/generation_eval.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_precond.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/run_control.h"

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace lethe::unlearn {

/// What one step did. A plain value, copied across threads.
struct StepReport {
    std::int64_t step = 0; ///< 1-based.
    std::int64_t totalSteps = 0;
    double forgetLoss = 0.0; ///< L_f on this step's forget batch (truncated by α; SalUn: relabelled loss).
    double remainLoss = 0.0; ///< L_r on this step's remain data.
    double ascentNorm = 0.0; ///< ‖a‖.
    double remainNorm = 0.0; ///< ‖d‖.
    double cosine = 0.0; ///< cos(a, d).
    bool projected = false; ///< The restricted-gradient projection fired (s < 0).
    double lr = 0.0;
    double alpha = 0.0;
    double lambda = 0.0;
    double seconds = 0.0; ///< Wall time of this step.
};

/// How a run ended.
enum class RunOutcome { Finished, Stopped, Failed };

struct RunResult {
    RunOutcome outcome = RunOutcome::Finished;
    std::int64_t steps = 0; ///< Steps completed (rolled-back steps not counted).
    int rollbacks = 0;
    double seconds = 0.0; ///< Training wall time, evaluation excluded.
    std::string message; ///< Why it failed or what the last rollback restored.
    std::optional<eval::GenerationEval> evaluation;
};

/// Receives a session's reports on the session's thread. Every method has an empty default.
class UnlearnObserver {
public:
    virtual ~UnlearnObserver() = default;
    virtual void onStep(const StepReport&) { }
    virtual void onSnapshot(std::int64_t /*step*/) { }
    /// A preview grid's images: uint8, class-major (all preview seeds of class 0, then class 1, ...).
    virtual void onPreview(std::int64_t /*step*/, const torch::Tensor& /*images*/) { }
    /// A non-finite loss or weight at `failedStep`: the weights are back at `restoredStep`.
    virtual void onRollback(std::int64_t /*failedStep*/, std::int64_t /*restoredStep*/, const std::string& /*why*/) { }
    virtual void onEvaluation(const eval::GenerationEval&) { }
    virtual void onFinished(const RunResult&) { }
    virtual void onFailed(const std::string& /*message*/) { }
};

/// One unlearning run of a class-conditional EDM model. Owns the copy it changes; the base model given to
/// the constructor is never modified. Deterministic for a seed on the CPU.
class UnlearnSession {
public:
    /// `train` is the data set's training split (uint8, the model's resolution); the forget set is every
    /// image of `forgetClass`, the remain set `config.remainPerClass` images of each other class.
    UnlearnSession(const models::EDMPrecond& base, const data::ImageSet& train, int forgetClass, RunConfig config,
        torch::Device device);
    ~UnlearnSession();
    UnlearnSession(const UnlearnSession&) = delete;
    UnlearnSession& operator=(const UnlearnSession&) = delete;

    /// Enables the evaluation at the end of run() (UA, RA, FD_cls, KID_cls against `real`).
    void setEvaluator(models::ResNetClassifier classifier, eval::RealFeatures real);

    /// Runs config.steps steps, or until stopped; reports through `observer`, steered by `control`.
    /// Exceptions inside the loop are reported to onFailed and returned as RunOutcome::Failed.
    RunResult run(UnlearnObserver& observer, RunControl& control);

    /// Writes what run() needs to go on from the last rollback snapshot (the weights it changes and Adam's moments as
    /// they were then, its step, the noise generator's state, and α, λ and lr with the live changes so far) to
    /// `path`, atomically. Meant for UnlearnObserver::onSnapshot, when the snapshot is the current state.
    void writeCheckpoint(const std::filesystem::path& path) const;
    /// Loads a checkpoint of this same run (method, forget class, seed, batch sizes, remain set and trainable
    /// tensors must match; steps may differ): run() then continues from its step, drawing the same batches and
    /// noise as the run that wrote it would have. Returns the step. Throws FormatError naming the file and what
    /// differs.
    std::int64_t resumeFrom(const std::filesystem::path& path);

    /// Draws the preview grid of the current weights (config.previewSeeds for every class).
    torch::Tensor preview();

    /// The network being changed (its weights are the current state of the run).
    models::EDMPrecond model() const;
    /// The configuration with live changes applied so far.
    const RunConfig& config() const;
    /// Names of the parameters the run changes.
    std::vector<std::string> trainableNames() const;
    /// Indices into `train` of the forget set and the remain set.
    const std::vector<std::int64_t>& forgetIndices() const;
    const std::vector<std::int64_t>& remainIndices() const;

private:
    struct State;
    std::unique_ptr<State> m_state;
};

} // namespace lethe::unlearn
