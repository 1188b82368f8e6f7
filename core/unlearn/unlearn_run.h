#pragma once

// The run contract (docs/architecture.md, "The run contract"): every unlearning run — a class of a
// class-conditional model or a concept of a text-to-image model, any method — is one loop with the run's own step
// plugged in. The loop is written once here: stop and pause, live α/λ/lr, the NaN/Inf guard with its rollback,
// snapshots, previews, the measures at the end and the events a front end sees.
#include "core/error.h"
#include "core/eval/generation_eval.h"
#include "core/io/safetensors.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/run_control.h"

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lethe::train {
class Adam;
}

namespace lethe::unlearn {

/// What one step did, the same for every kind of run. A plain value, copied across threads.
struct StepReport {
    std::int64_t step = 0; ///< 1-based.
    std::int64_t totalSteps = 0;
    /// L_f on this step's forget batch (truncated by α; SalUn: the relabelled loss; ESD: the distance to its
    /// negatively guided target).
    double forgetLoss = 0.0;
    double remainLoss = 0.0; ///< L_r on this step's remain data (GA, ESD: measured, not descended on).
    double ascentNorm = 0.0; ///< ‖a‖ (0 when truncated).
    double remainNorm = 0.0; ///< ‖d‖.
    double cosine = 0.0; ///< cos(a, d).
    bool projected = false; ///< The restricted-gradient projection fired (s < 0).
    bool truncated = false; ///< L_f > α on a concept run's batch: the forget term had weight 0 (class runs truncate
                            ///< per element and never set it).
    double lr = 0.0; ///< The hyperparameters in force for this step.
    double alpha = 0.0;
    double lambda = 0.0;
    double seconds = 0.0; ///< Wall time of this step.
    /// The method's own figures (name, value), in a fixed order per method; empty for most.
    std::vector<std::pair<std::string, double>> extras;
};

/// How a run ended.
enum class RunOutcome { Finished, Stopped, Failed };

/// "finished", "stopped" or "failed".
const char* outcomeName(RunOutcome outcome);

struct RunResult {
    RunOutcome outcome = RunOutcome::Finished;
    std::int64_t steps = 0; ///< Steps completed (rolled-back steps not counted).
    int rollbacks = 0;
    double seconds = 0.0; ///< Training wall time, measures excluded; a resumed run's counts its earlier parts too.
    std::string message; ///< Why it failed or what the last rollback restored.
    std::int64_t truncatedSteps = 0; ///< Steps whose report said `truncated`.
    std::int64_t projectedSteps = 0; ///< Steps whose report said `projected`.
    std::optional<eval::GenerationEval> evaluation; ///< The measures at the end (class runs with an evaluator).
};

/// Receives a run's events on the run's thread. Every method has an empty default.
class RunObserver {
public:
    virtual ~RunObserver() = default;
    virtual void onStep(const StepReport&) { }
    /// The in-memory rollback point moved to `step` (the current weights).
    virtual void onSnapshot(std::int64_t /*step*/) { }
    /// Preview images of the current weights: uint8 [N, C, H, W] in the run's preview order (class runs:
    /// class-major, every preview seed of class 0, then class 1, ...; concept runs: prompt-major).
    virtual void onPreview(std::int64_t /*step*/, const torch::Tensor& /*images*/) { }
    /// A non-finite loss, gradient or weight at `failedStep`: the weights are back at `restoredStep`.
    virtual void onRollback(std::int64_t /*failedStep*/, std::int64_t /*restoredStep*/, const std::string& /*why*/) { }
    /// Long work inside the run (previews, measures): `what` and (done, total) in its own units.
    virtual void onProgress(const std::string& /*what*/, std::int64_t /*done*/, std::int64_t /*total*/) { }
    virtual void onEvaluation(const eval::GenerationEval&) { }
    virtual void onFinished(const RunResult&) { }
    virtual void onFailed(const std::string& /*message*/) { }
};

/// Logs that a live change was refused, and why.
void warnIgnoredChange(const std::string& why);

/// `config` with the α / λ / lr that `changes` holds; throws Error when that config does not validate.
template <typename Config> Config withLiveChanges(Config config, const LiveChanges& changes)
{
    config.alpha = changes.alpha.value_or(config.alpha);
    config.lambda = changes.lambda.value_or(config.lambda);
    config.lr = changes.lr.value_or(config.lr);
    config.validate();
    return config;
}

/// Applies the live α / λ / lr `changes` to `config` (any config with alpha, lambda, lr and validate()) when the
/// changed config validates; otherwise logs a warning and keeps `config`. Returns true when something changed.
/// The one place both kinds of run take their live changes.
template <typename Config> bool applyLiveChanges(const LiveChanges& changes, Config& config)
{
    if (!changes.alpha && !changes.lambda && !changes.lr)
        return false;
    try {
        config = withLiveChanges(config, changes);
    } catch (const Error& e) {
        warnIgnoredChange(e.what());
        return false;
    }
    return true;
}

/// One unlearning run. Subclasses supply the step, the previews and the measures; run() is the shared loop.
/// Deterministic for a seed on the CPU.
class UnlearnRun {
public:
    virtual ~UnlearnRun();
    UnlearnRun(const UnlearnRun&) = delete;
    UnlearnRun& operator=(const UnlearnRun&) = delete;

    /// Runs the steps left until the configured number, or until stopped; reports through `observer`, steered by
    /// `control` (stop and pause take effect within one step, live α / λ / lr at the next one). A non-finite loss,
    /// gradient or weight rolls the weights back to the last snapshot (then stops, or halves lr and goes on, as the
    /// config's on_nan says). Exceptions inside the loop are reported to onFailed and returned as Failed.
    RunResult run(RunObserver& observer, RunControl& control);

    /// Steps done so far (0 before the first run, the checkpoint's step after a resume).
    std::int64_t stepsDone() const { return m_step; }
    /// Names of the parameters the run changes.
    std::vector<std::string> trainableNames() const;
    /// Makes the current weights, optimizer state, noise generator and step the rollback point. After a stop, so that
    /// a checkpoint written then goes on from the step the run stopped at, not from the last scheduled snapshot.
    void snapshotCurrentStep();
    /// Draws the preview images of the current weights (nullopt when `progress` returned false, or when the run
    /// has no previews).
    virtual std::optional<torch::Tensor> preview(const std::function<bool(std::int64_t, std::int64_t)>& progress = {})
        = 0;

protected:
    UnlearnRun();

    /// What the loop needs of the config.
    struct Schedule {
        std::int64_t steps = 0;
        std::int64_t snapshotEvery = 1;
        std::int64_t previewEvery = 0;
        NanPolicy onNan = NanPolicy::Stop;
        bool allowTf32 = false; ///< Set for the process when run() starts (runtime.h setTf32Allowed).
        Precision precision = Precision::Float32; ///< Autocast around every step (nn/autocast.h).
    };
    /// The tensors the run changes, its optimizer (may be null: SGD) and its noise generator.
    struct TrainState {
        std::vector<std::pair<std::string, torch::Tensor>>* trainable = nullptr;
        train::Adam* adam = nullptr;
        at::Generator* noise = nullptr;
    };
    /// The last rollback point.
    struct Snapshot {
        std::vector<torch::Tensor> weights;
        std::vector<io::NamedTensor> adam;
        std::int64_t step = -1;
        torch::Tensor noise; ///< The noise generator's state.
        /// Training seconds up to the snapshot, over every part of a resumed run.
        double seconds = 0.0;
    };

    virtual Schedule schedule() const = 0;
    virtual TrainState trainState() = 0;
    /// Takes α / λ / lr from `changes` (through applyLiveChanges); also how NanPolicy::HalveLr halves lr.
    virtual void applyLive(const LiveChanges& changes) = 0;
    /// Once before the first step of every run() (SalUn's mask).
    virtual void prepare() { }
    /// Step number `index` (0-based): computes the gradients and, when they are finite, updates the weights.
    /// Fills the report's losses, norms, flags and hyperparameters, or sets `problem` (and leaves the weights
    /// alone) for a non-finite loss or gradient.
    virtual StepReport takeStep(std::int64_t index, std::string& problem) = 0;
    virtual bool hasPreview() const = 0;
    /// After a finished run: the measures (set result.evaluation and call observer.onEvaluation).
    virtual void evaluate(RunResult& /*result*/, RunObserver& /*observer*/, RunControl& /*control*/) { }
    /// At the end of every run(): gradients cleared, the network back in its resting mode.
    virtual void finishRun() { }

    /// The Schedule of a config with steps, snapshotEvery, previewEvery, onNan, allowTf32 and precision.
    template <typename Config> static Schedule scheduleOf(const Config& c)
    {
        return { c.steps, c.snapshotEvery, c.previewEvery, c.onNan, c.allowTf32, c.precision };
    }

    const Snapshot& snapshot() const { return m_snapshot; }
    /// Writes the last snapshot to `path` as a checkpoint, atomically: the trained tensors (each under `prefix` and
    /// its name), Adam's moments and step count, "run.step", "run.noise_rng" (the noise generator's state) and
    /// "run.seconds" (the training seconds so far, float64); in its metadata the run's `identity` under
    /// `identityKey` and the live α / λ / lr under "lethe.live". Throws Error ("`what`: no snapshot taken yet")
    /// before the first snapshot.
    void writeSnapshotFile(const std::filesystem::path& path, const std::string& what, const std::string& prefix,
        const std::string& identityKey, const nlohmann::json& identity, const LiveChanges& live) const;
    /// The live α / λ / lr of the checkpoint `file`, once it is known to be one of this run: FormatError(file,
    /// "__metadata__", "not a Lethe `what`") without `identityKey` or "lethe.live" in its metadata;
    /// FormatError(file, "__metadata__ 'KEY'", "the checkpoint's run used X, this run Y") for the first key of
    /// `ours` whose saved value differs (a key the checkpoint lacks has its value in `defaults`: written before the
    /// setting existed).
    static LiveChanges checkedCheckpointLive(const io::SafetensorsFile& file, const std::string& what,
        const std::string& identityKey, const nlohmann::json& ours, const nlohmann::json& defaults);
    /// Loads what writeSnapshotFile wrote into the trained tensors, Adam and the noise generator, and makes its step
    /// the run's, and its training seconds the time the run has taken before (a checkpoint without "run.seconds":
    /// none); returns the step. Throws FormatError naming the file and the tensor for a missing or mis-shaped tensor,
    /// or a step outside 0…steps.
    std::int64_t loadSnapshotFile(const io::SafetensorsFile& file, const std::string& prefix);
    void takeSnapshot(std::int64_t step);
    /// Weights and optimizer back to the snapshot; the step count too.
    void restoreSnapshot();
    void zeroGrad();

    std::int64_t m_step = 0;

private:
    Snapshot m_snapshot;
    /// Training seconds of the parts of a resumed run before this one (from its checkpoint).
    double m_secondsBefore = 0.0;
    /// When the current run() began: the snapshots' seconds count from it.
    std::chrono::steady_clock::time_point m_runStarted = std::chrono::steady_clock::now();
};

} // namespace lethe::unlearn
