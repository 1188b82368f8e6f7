#pragma once

// Zero-shot CLIP classification of generated class images, as the RGD paper measures UA and RA on CIFAR-10
// (CIFAR/predictor.py of its code): a prompt "a photo of a {name}" for every class plus one for "random noise",
// CLIP's image preprocessing, and the argmax of the image–text logits. An image read as "random noise" counts for
// no class: it lowers RA and, for the forgotten class, raises UA.

#include "core/models/clip/clip_model.h"

#include <torch/types.h>

#include <string>
#include <vector>

namespace lethe::eval {

/// The extra label the paper's classifier has beside the classes.
inline constexpr const char* kNoiseLabel = "random noise";

/// A CLIP model with the text embeddings of its labels computed once.
struct ZeroShotClip {
    models::clip::LoadedClip clip;
    std::vector<std::string> labels; ///< The class names, then kNoiseLabel.
    std::vector<std::string> prompts; ///< "a photo of a {label}", by label.
    torch::Tensor textEmbeddings; ///< float32 [labels, D], L2-normalised, on the model's device.
    std::string sha256; ///< Of the CLIP folder's model.safetensors (what the measures were made with).
};

/// Prepares zero-shot classification into `classNames` (plus kNoiseLabel). Throws Error for no names, or an
/// empty name.
ZeroShotClip makeZeroShotClip(models::clip::LoadedClip clip, const std::vector<std::string>& classNames);

/// logits_per_image: exp(logit_scale) · cos(image, label prompt), float32 [N, labels] on the CPU. `images` are
/// uint8 [N, 3, H, W] or [N, 1, H, W] (grey is repeated as RGB, as the paper's scripts do), on any device.
torch::Tensor zeroShotLogits(ZeroShotClip& zeroShot, const torch::Tensor& images, std::int64_t batch = 64);

/// The argmax of zeroShotLogits: int64 [N] in [0, classes] (classes = the noise label), on the CPU.
torch::Tensor zeroShotClassify(ZeroShotClip& zeroShot, const torch::Tensor& images, std::int64_t batch = 64);

} // namespace lethe::eval
