#pragma once

#include "core/models/classifier/resnet_classifier.h"

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace lethe::eval {

/// Predictions of a classifier over a set of images.
struct Classification {
    torch::Tensor labels; ///< int64 N, on the CPU.
    torch::Tensor features; ///< float32 N×featureDim on the CPU; undefined unless asked for.
};

/// Classifies uint8 images (N×C×H×W) in batches on `device`, where the model must already be. Runs in eval
/// mode without gradients and restores the model's training mode afterwards. Throws Error when the images
/// do not fit the model or the model is on another device.
Classification classify(models::ResNetClassifier& model, const torch::Tensor& images, std::int64_t batchSize,
    torch::Device device, bool withFeatures = false);

/// Accuracy of predictions against target labels, per class and overall.
struct ClassAccuracy {
    std::vector<std::int64_t> total; ///< Items per target class.
    std::vector<std::int64_t> correct; ///< Correctly predicted items per target class.
    std::vector<double> accuracy; ///< correct / total per class; NaN for a class without items.
    double overall = 0.0; ///< Pooled over all items; NaN when there are none.
    double classMean = 0.0; ///< Mean of the defined per-class accuracies; NaN when none is.
};

/// Per-class accuracy of `predicted` against `target` (int64 N each, labels in [0, classCount)). For generated
/// images, `target` is the class each image was generated for. Throws Error on mismatched sizes or labels.
ClassAccuracy perClassAccuracy(const torch::Tensor& predicted, const torch::Tensor& target, int classCount);

/// UA and RA of one unlearning run (docs/method.md §4).
struct UnlearningScores {
    std::int64_t forgottenClass = 0;
    /// 1 − fraction of images generated for the forgotten class that the classifier assigns to it.
    double ua = 0.0;
    /// Accuracy on images generated for the other classes, pooled.
    double ra = 0.0;
    /// Mean of the other classes' accuracies (equals `ra` for balanced generation).
    double raClassMean = 0.0;
    /// Per-class accuracy of every class; the forgotten class's entry is its 1 − UA.
    ClassAccuracy classes;
};

/// Scores one run whose model was asked to forget `forgottenClass`. Throws Error when no image was
/// generated for the forgotten class or none for the others.
UnlearningScores unlearningScores(
    const torch::Tensor& predicted, const torch::Tensor& generatedFor, std::int64_t forgottenClass, int classCount);
/// The same scores from the per-class counts of a measurement (a measure cache's figures keep no predictions).
UnlearningScores unlearningScores(const ClassAccuracy& classes, std::int64_t forgottenClass);

/// UA and RA over several runs (one forgotten class each), as the paper's per-class tables report them.
struct UnlearningSummary {
    std::vector<UnlearningScores> runs;
    double meanUa = 0.0;
    double meanRa = 0.0;
};

/// Averages runs; NaN means for an empty list.
UnlearningSummary summarize(std::vector<UnlearningScores> runs);

} // namespace lethe::eval
