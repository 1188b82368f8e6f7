#pragma once

// The measures published results are made with (docs/method.md §4): UA and RA by zero-shot CLIP, and FID with
// Inception-v3 against reference statistics — on the same generated images as Lethe's own classifier measures.

#include "core/eval/accuracy.h"
#include "core/eval/fid.h"
#include "core/eval/zero_shot_clip.h"

#include <nlohmann/json.hpp>

#include <optional>

namespace lethe::eval {

/// The instruments a measurement uses; either may be absent.
struct LiteratureInstruments {
    std::optional<ZeroShotClip> clip;
    std::optional<FidInstrument> fid;

    bool empty() const { return !clip && !fid; }
    /// What identifies the instruments' figures, wherever their files lie: SHA-256s, prompts, resize rule
    /// ({"clip": {model_sha256, prompts}, "fid": {inception_sha256, resize, reference_sha256}} for those present).
    /// Measure-cache keys and sweep.json hold it.
    nlohmann::json identity() const;
    /// identity() with the files' paths (clip.folder, fid.inception, fid.reference), for run records.
    nlohmann::json describe() const;
};

/// Zero-shot CLIP's reading of the images.
struct ZeroShotMeasure {
    ClassAccuracy accuracy; ///< Per class the images were generated for: the share read as that class.
    std::vector<std::int64_t> noise; ///< Per class: images read as kNoiseLabel.
    std::optional<UnlearningScores> unlearning; ///< UA and RA by CLIP (with a forgotten class).
};

/// FID of the generated images against the reference statistics.
struct FidMeasure {
    double all = 0.0; ///< All generated images.
    std::optional<double> remain; ///< The images of the classes kept (the paper's FID), with a forgotten class.
    std::optional<double> forget; ///< The forgotten class's images alone.
    std::int64_t remainImages = 0;
    std::int64_t forgetImages = 0;
};

struct LiteratureMeasures {
    std::optional<ZeroShotMeasure> clip;
    std::optional<FidMeasure> fid;
};

/// Measures uint8 images [N, C, H, W] generated for `generatedFor` (int64 [N], labels in [0, classCount)) with
/// every instrument present. FID of a part needs at least 2 of its images (else that figure is left out).
LiteratureMeasures measureLiterature(LiteratureInstruments& instruments, const torch::Tensor& images,
    const torch::Tensor& generatedFor, int classCount, std::optional<int> forgottenClass, std::int64_t batch = 64);

/// {"clip_zero_shot": {...}, "FID": {...}} for the measures present (class names label per-class entries).
nlohmann::json toJson(const LiteratureMeasures& measures, const std::vector<std::string>& classNames);
/// Reads toJson's output back (the figures; the JSON of a measure cache). Throws Error for malformed input.
LiteratureMeasures literatureMeasuresFromJson(const nlohmann::json& json);

} // namespace lethe::eval
