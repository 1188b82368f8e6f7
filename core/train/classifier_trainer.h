#pragma once

#include "core/data/image_set.h"
#include "core/io/config_json.h"
#include "core/models/classifier/resnet_classifier.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace lethe::train {

/// Optimizers the classifier trainer offers.
enum class ClassifierOptimizer { Sgd, Adam };
/// Learning-rate schedules: cosine decay to zero over all steps, or a step decay every few epochs.
enum class ClassifierSchedule { Cosine, Step };

/// How to train an evaluation classifier. Every field has its default here; GUI, CLI and files share them.
/// The thread count is not part of it: the caller configures LibTorch's threads.
struct ClassifierTrainConfig {
    static constexpr const char* kJsonName = "classifier training config";

    int epochs = 10;
    std::int64_t batchSize = 128;
    double learningRate = 0.05;
    double weightDecay = 5e-4;
    ClassifierOptimizer optimizer = ClassifierOptimizer::Sgd;
    double momentum = 0.9; ///< SGD only (Nesterov).
    ClassifierSchedule schedule = ClassifierSchedule::Cosine;
    int stepEpochs = 5; ///< Step schedule: epochs between decays.
    double stepGamma = 0.1; ///< Step schedule: factor applied at each decay.
    std::uint64_t seed = 0;
    int cropPadding = 2; ///< Random crop after zero-padding by this many pixels (0 = no crop).
    bool horizontalFlip = true; ///< Random left-right flips.
    double labelSmoothing = 0.0;
    std::int64_t evalBatchSize = 500;

    /// The field table that io::configToJson and io::configFromJson walk (JSON key, member).
    template <typename Self, typename Visit> static void fields(Self& c, Visit&& visit)
    {
        visit("epochs", c.epochs);
        visit("batch_size", c.batchSize);
        visit("learning_rate", c.learningRate);
        visit("weight_decay", c.weightDecay);
        visit("optimizer", c.optimizer);
        visit("momentum", c.momentum);
        visit("schedule", c.schedule);
        visit("step_epochs", c.stepEpochs);
        visit("step_gamma", c.stepGamma);
        visit("seed", c.seed);
        visit("crop_padding", c.cropPadding);
        visit("horizontal_flip", c.horizontalFlip);
        visit("label_smoothing", c.labelSmoothing);
        visit("eval_batch_size", c.evalBatchSize);
    }
};

/// The names of the enums, for io::configToJson.
const std::vector<std::pair<ClassifierOptimizer, std::string>>& enumNames(ClassifierOptimizer);
const std::vector<std::pair<ClassifierSchedule, std::string>>& enumNames(ClassifierSchedule);
/// "sgd" / "adam".
std::string optimizerName(ClassifierOptimizer optimizer);
/// "cosine" / "step".
std::string scheduleName(ClassifierSchedule schedule);

/// Progress after one optimiser step.
struct ClassifierTrainProgress {
    std::int64_t step = 0; ///< Steps done, 1-based.
    std::int64_t totalSteps = 0;
    int epoch = 0; ///< 1-based.
    int epochs = 0;
    double loss = 0.0; ///< This step's training loss.
    double learningRate = 0.0; ///< The rate this step used.
    double imagesPerSecond = 0.0; ///< Training throughput so far.
    double etaSeconds = 0.0; ///< Estimated time left, evaluation included.
};

/// What one epoch achieved.
struct ClassifierEpochRecord {
    int epoch = 0; ///< 1-based.
    double loss = 0.0; ///< Mean training loss over the epoch.
    double trainAccuracy = 0.0; ///< On the augmented training batches, in training mode.
    double testAccuracy = 0.0; ///< On the test set, in eval mode; NaN without a test set.
    double seconds = 0.0; ///< Wall time of the epoch, evaluation included.
};

/// Callbacks the trainer calls on its own thread; either may be empty.
struct ClassifierTrainObserver {
    std::function<void(const ClassifierTrainProgress&)> onStep;
    std::function<void(const ClassifierEpochRecord&)> onEpoch;
};

/// A trained (or cancelled) classifier and its history.
struct ClassifierTrainResult {
    models::ResNetClassifier model { nullptr }; ///< On the training device, in eval mode.
    std::vector<ClassifierEpochRecord> history;
    bool cancelled = false; ///< True when `cancel` stopped the run before the end.
    std::int64_t steps = 0;
    std::int64_t imagesSeen = 0;
    double wallSeconds = 0.0;
};

/// Trains a ResNetClassifier on `train` (uint8 images) and measures `test` (may be empty) after every epoch.
/// Deterministic on CPU for a seed and thread count: the seed drives the initial weights (torch) and the
/// shuffles and augmentation (mt19937_64). `cancel` is checked between steps. Throws Error when the options
/// disagree with the data or the config is out of range.
ClassifierTrainResult trainClassifier(const data::ImageSet& train, const data::ImageSet& test,
    const models::ResNetClassifierOptions& options, const ClassifierTrainConfig& config, torch::Device device,
    const ClassifierTrainObserver& observer = {}, const std::atomic<bool>* cancel = nullptr);

/// The learning rate of step `step` (0-based) of `totalSteps`, `stepsPerEpoch` per epoch.
double scheduledLearningRate(
    const ClassifierTrainConfig& config, std::int64_t step, std::int64_t totalSteps, std::int64_t stepsPerEpoch);

} // namespace lethe::train
