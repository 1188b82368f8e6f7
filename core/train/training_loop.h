#pragma once

// The parts every Lethe training loop shares (EDM pretraining, text-to-image pretraining): their common settings,
// the loop itself with its resumable state, and its pieces: the epoch order, the learning-rate warm-up, EDM's EMA
// rule, a moving loss average and the progress clock.

#include "core/data/image_set.h"
#include "core/io/safetensors.h"

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lethe::train {

/// The settings of the training loop (TrainingRunState::runSteps) that every pretraining config has: the batch, the
/// learning rate and its warm-up and the EMA of EDM's training loop (scaled down for small models), the seed and the
/// checkpoints.
struct TrainingLoopConfig {
    std::int64_t batch = 64;
    double lr = 5e-4;
    std::int64_t lrRampupImages = 32000; ///< Linear warm-up over this many images.
    std::int64_t steps = 10000;
    double emaHalfLifeImages = 50000; ///< EMA half-life in images ...
    double emaRampupRatio = 0.05; ///< ... but at most this fraction of the images seen so far.
    std::uint64_t seed = 1;
    std::int64_t checkpointEvery = 250; ///< Steps between atomic checkpoints (0 = only at the end).

    /// These keys' part of a pretraining config's field table (io/config_json.h).
    template <typename Self, typename Visit> static void fields(Self& c, Visit&& visit)
    {
        visit("batch", c.batch);
        visit("lr", c.lr);
        visit("lr_rampup_images", c.lrRampupImages);
        visit("steps", c.steps);
        visit("ema_half_life_images", c.emaHalfLifeImages);
        visit("ema_rampup_ratio", c.emaRampupRatio);
        visit("seed", c.seed);
        visit("checkpoint_every", c.checkpointEvery);
    }
};

/// Progress of a pretraining run, reported after every step.
struct PretrainProgress {
    std::int64_t step = 0;
    std::int64_t totalSteps = 0;
    double loss = 0.0; ///< This step's batch loss.
    double averageLoss = 0.0; ///< Mean over the last 100 steps.
    double lr = 0.0;
    double imagesPerSecond = 0.0;
    double etaSeconds = 0.0;
    bool checkpointWritten = false;
};

using PretrainObserver = std::function<void(const PretrainProgress&)>;

/// The images of training step `step`: each epoch visits all n images in a permutation fixed by (seed, epoch),
/// so any step's batch can be recomputed after a resume.
class EpochOrder {
public:
    EpochOrder(std::int64_t imageCount, std::uint64_t seed);
    std::vector<std::int64_t> batch(std::int64_t step, std::int64_t batchSize);

private:
    std::int64_t m_count;
    std::uint64_t m_seed;
    std::int64_t m_epoch = -1;
    std::vector<std::int64_t> m_order;
};

/// The learning rate after `imagesSeen` images with a linear warm-up over `rampupImages`.
double warmedUpLr(double lr, double imagesSeen, double rampupImages);

/// EDM's EMA step: after `step` steps of `batch` images, ema ← lerp towards net with a half-life of
/// min(halfLifeImages, images seen × rampupRatio) images. The modules must have the same state-dict layout.
void updateEma(torch::nn::Module& net, torch::nn::Module& ema, std::int64_t step, std::int64_t batch,
    double halfLifeImages, double rampupRatio);

/// Replaces NaN and infinite gradients (NaN → 0, ±∞ → ±1e5) so that one bad batch cannot poison Adam's moments.
void sanitizeGradients(torch::nn::Module& module);

/// Copies every parameter and buffer of `from` into `to` (same layout).
void copyState(torch::nn::Module& from, torch::nn::Module& to);

class Adam;

/// The loss of one training batch, the images at `indices` of the training set: a scalar to descend on.
using BatchLoss = std::function<torch::Tensor(const std::vector<std::int64_t>& indices)>;

/// What every pretraining run holds besides its config and its networks: the images, where it runs and writes, its
/// noise generator, its optimiser and its counters; and the parts of the run that do not depend on the networks.
struct TrainingRunState {
    /// Validates the images, the batch and the step count; `what` names the training in messages ("pretraining").
    TrainingRunState(std::string what, data::ImageSet images, torch::Device device, std::filesystem::path output,
        std::string command, const TrainingLoopConfig& loop);
    ~TrainingRunState();

    std::string what;
    data::ImageSet train;
    torch::Device device;
    std::filesystem::path output;
    std::string command;
    at::Generator noise;
    std::unique_ptr<Adam> adam; ///< Over the trained network's parameters (prepareNetworks).
    std::int64_t step = 0;
    std::int64_t checkpointStep = -1; ///< The step the files on disk hold.
    double wallSeconds = 0.0; ///< Training time over all sessions, for provenance.

    /// Writes the resumable state to trainingStatePath(output), atomically: `net.*` and `ema.*` (the modules' state
    /// dicts), Adam's moments, the step, the wall time, the noise generator's state, and `metadata`.
    void writeState(torch::nn::Module& net, torch::nn::Module& ema, const io::Metadata& metadata);
    /// Continues from what writeState() wrote; throws FormatError naming the file and the tensor for a missing or
    /// mis-shaped one. The caller checks first that the file's run had this run's settings.
    void readState(const io::SafetensorsFile& file, torch::nn::Module& net, torch::nn::Module& ema);
    /// Trains `net` from `step` until loop.steps, or until `cancel` becomes true. Each step seeds the global
    /// generator with seed + step (dropout draws from it: a resumed run is then bit-identical to one that never
    /// stopped), takes its images from EpochOrder, descends on `batchLoss` at the warmed-up learning rate with
    /// sanitised gradients, moves `ema` by EDM's rule and reports to `observer`. `checkpoint` writes the files: it
    /// is called every checkpointEvery steps, after the last step and when cancelled.
    void runSteps(const TrainingLoopConfig& loop, torch::nn::Module& net, torch::nn::Module& ema,
        const BatchLoss& batchLoss, const std::function<void()>& checkpoint, const PretrainObserver& observer,
        const std::atomic<bool>* cancel);
};

/// Moves the network and its EMA copy to `device`, makes the EMA equal to the network (in eval mode), and
/// returns Adam (PyTorch's defaults, learning rate `lr`) over the network's named parameters.
std::unique_ptr<Adam> prepareNetworks(torch::nn::Module& net, torch::nn::Module& ema, torch::Device device, double lr);

/// `output` + ".state.safetensors": where a run's resumable state goes.
std::filesystem::path trainingStatePath(const std::filesystem::path& output);

/// The mean of the last `window` losses.
class LossWindow {
public:
    explicit LossWindow(std::size_t window = 100);
    void add(double loss);
    double mean() const;

private:
    std::size_t m_window;
    std::deque<double> m_recent;
    double m_sum = 0.0;
};

/// Wall time of a training session, accumulated into the run's total, and this session's rate.
class SessionClock {
public:
    /// `firstStep`: the step the session starts at; `totalWallSeconds`: the run's time so far, updated by tick().
    SessionClock(std::int64_t firstStep, double& totalWallSeconds);
    /// Marks the end of step `step`; returns the seconds since the previous tick (this step's time).
    double tick();
    /// The time left for `stepsLeft` at this session's average step time.
    double etaSeconds(std::int64_t step, std::int64_t stepsLeft) const;

private:
    std::chrono::steady_clock::time_point m_start;
    std::chrono::steady_clock::time_point m_last;
    std::int64_t m_firstStep;
    double& m_total;
};

/// Turns finished steps into progress reports: the loss window, the clock, the checkpoint schedule.
class StepReporter {
public:
    /// `what` names the training in the divergence message ("pretraining").
    StepReporter(std::string what, std::int64_t firstStep, std::int64_t totalSteps, std::int64_t checkpointEvery,
        std::int64_t batch, double& totalWallSeconds);
    /// The report for step `step` (1-based, just finished); checkpointWritten says whether the caller is to write
    /// a checkpoint now (every checkpointEvery steps and at the last). Throws Error for a loss that is not finite.
    PretrainProgress stepDone(std::int64_t step, double loss, double lr);

private:
    std::string m_what;
    std::int64_t m_totalSteps;
    std::int64_t m_checkpointEvery;
    std::int64_t m_batch;
    LossWindow m_recent;
    SessionClock m_clock;
};

} // namespace lethe::train
