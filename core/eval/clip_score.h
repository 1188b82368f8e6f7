#pragma once

// The CLIP alignment score of docs/method.md §4: the cosine similarity between the CLIP image embedding of each
// generated image and the CLIP text embedding of its prompt (plain cosine, so SD 1.x scores about 0.35).

#include "core/models/clip/clip_model.h"

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lethe::eval {

/// How clipAlignment runs.
struct ClipScoreOptions {
    /// Images (and prompts) per forward pass. Default 32.
    std::int64_t batch = 32;
};

/// The cosine between each image's and its prompt's CLIP embeddings, on the model's device. `images` are uint8
/// [N, 3, H, W] (or [N, 1, H, W]) on any device, preprocessed as clip.processing says; prompts[i] belongs to
/// image i. Throws lethe::Error when the counts differ or the images have another shape or dtype.
std::vector<double> clipAlignment(models::clip::LoadedClip& clip, const torch::Tensor& images,
    const std::vector<std::string>& prompts, const ClipScoreOptions& options = {});

/// The mean of scores; throws lethe::Error for none.
double meanClipAlignment(const std::vector<double>& scores);

} // namespace lethe::eval
