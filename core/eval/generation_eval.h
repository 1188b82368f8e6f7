#pragma once

#include "core/data/image_set.h"
#include "core/diffusion/class_sampling.h"
#include "core/eval/accuracy.h"
#include "core/eval/frechet.h"
#include "core/eval/literature_measures.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_precond.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace lethe::eval {

/// How to evaluate a class-conditional generator (`lethe-cli eval`, the end of an unlearning run).
struct GenerationEvalOptions {
    std::int64_t imagesPerClass = 100;
    std::int64_t firstSeed = 0; ///< Class c's image i uses seed firstSeed + i: before/after pairs share seeds.
    diffusion::SamplerOptions sampler; ///< Heun, 18 steps by default.
    std::int64_t batch = 100;
    std::int64_t kidSubsetSize = 1000;
    int kidSubsets = 100;
    std::optional<int> forgottenClass; ///< When set, UA and RA are reported too.
    /// Zero-shot CLIP and FID on the same images, with the instruments present (not owned; nullptr: none).
    LiteratureInstruments* literature = nullptr;
};

/// What an evaluation measured.
struct GenerationEval {
    ClassAccuracy accuracy; ///< Of generated images against the class they were generated for.
    double frechet = 0.0; ///< FD_cls against the real images.
    KidResult kid; ///< KID_cls against the real images.
    std::optional<UnlearningScores> unlearning;
    std::optional<LiteratureMeasures> literature; ///< With options.literature.
    torch::Tensor images; ///< uint8, class-major (all seeds of class 0, then class 1, ...).
    torch::Tensor generatedFor; ///< int64 labels the images were generated for.
    torch::Tensor predicted; ///< int64 classifier predictions.
    double seconds = 0.0;
};

/// Real-image features for FD_cls / KID_cls, computed once and reused across evaluations.
struct RealFeatures {
    torch::Tensor features;
    FeatureStatistics statistics;
    std::string source;
};

RealFeatures realFeatures(
    models::ResNetClassifier& classifier, const data::ImageSet& real, torch::Device device, std::int64_t batch = 256);

/// Samples imagesPerClass images of every class, classifies them, and measures accuracy, FD_cls and KID_cls
/// against `real`. std::nullopt when `progress` cancelled.
std::optional<GenerationEval> evaluateGeneration(models::EDMPrecond& net, models::ResNetClassifier& classifier,
    const RealFeatures& real, const GenerationEvalOptions& options, torch::Device device,
    const diffusion::ImageProgress& progress = {});

/// The figures (not the images) as JSON, with class names.
nlohmann::json toJson(const GenerationEval& result, const std::vector<std::string>& classNames);

/// Reads toJson's figures back (a measure cache's entry): no images or predictions. Throws Error when malformed.
GenerationEval generationEvalFromJson(const nlohmann::json& json);

/// evaluateGeneration on a base model through a measure cache: the figures stored for the same key when there are
/// some (fromCache; no images or predictions then), else measured and stored. std::nullopt when cancelled.
struct CachedGenerationEval {
    GenerationEval eval;
    bool fromCache = false;
    std::filesystem::path file; ///< The cache entry read or written; empty with a disabled cache.
};
class MeasureCache;
std::optional<CachedGenerationEval> evaluateGenerationCached(const MeasureCache& cache, const std::string& modelSha256,
    models::EDMPrecond& net, const models::LoadedClassifier& classifier, const RealFeatures& real,
    const GenerationEvalOptions& options, torch::Device device, const diffusion::ImageProgress& progress = {});

/// Bumped whenever a change to the measures changes their figures: cached figures of older versions are not used.
inline constexpr int kMeasureVersion = 1;

/// The measure-cache key (eval/measure_cache.h) of evaluateGeneration on the model with SHA-256 `modelSha256`:
/// every option that changes the figures, the classifier's SHA-256, the real images' source and count, the
/// literature instruments' SHA-256s and settings, and the device type.
nlohmann::json generationEvalKey(const std::string& modelSha256, const GenerationEvalOptions& options,
    const std::string& classifierSha256, const RealFeatures& real, torch::Device device);

} // namespace lethe::eval
