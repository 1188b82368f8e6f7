#pragma once

// The images of concept unlearning's (prompt, image) pairs: drawn by the base model from the prompts (docs/method.md
// §3: "the images are generated from those prompts by the original model"), cached in a folder so that an
// interrupted or repeated run draws each image once, or read from a folder of captioned images.

#include "core/concept/prompt_set.h"
#include "core/models/sd/stable_diffusion.h"

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lethe::unlearn {

/// How the base model draws the training images.
struct ConceptImageOptions {
    /// Classifier-free guidance scale.
    double guidance = 7.5;
    /// DDIM steps.
    int samplerSteps = 50;
    /// Image side in pixels; 0 = the model's own size.
    std::int64_t size = 0;
    /// Images per network batch.
    std::int64_t batch = 4;
    std::string negativePrompt;
    /// The seed of a prompt without one of its own: seedBase + its index in the set (counted from 0).
    std::int64_t seedBase = 0;
    /// Names the model in the cache key (the CLI uses its absolute path), so that a cache folder shared by runs
    /// of different models never hands one model's images to another.
    std::string modelId;
};

/// Progress in images: (done, total) before the first and after every batch; returning false cancels.
using ImageProgress = std::function<bool(std::int64_t done, std::int64_t total)>;
/// Progress inside the batch being drawn, in sampler steps: (0, total) first, then after every step (with
/// guidance a step is one network pass over the batch and its unconditional twin); returning false cancels.
using SamplerProgress = std::function<bool(std::int64_t step, std::int64_t steps)>;

/// The cache file of prompt `index` (from 0): "NNNNN-HASH.safetensors", where HASH is the start of the SHA-256 of
/// the prompt, its seed, the drawing settings and the model id, so a changed prompt, setting or model is drawn anew.
std::string conceptImageFileName(std::int64_t index, const concepts::Prompt& prompt, std::int64_t seed,
    const ConceptImageOptions& options, std::int64_t size);

/// The images of `prompts` (uint8 [N, C, H, W], prompt order) drawn by `sd` with each prompt's seed (its own,
/// else seedBase + index), guided as `options` say. Each image is cached in `folder` as a safetensors file (tensor
/// "image", metadata prompt and seed) with a PNG of it beside for looking at; images already there are read, not
/// drawn again. nullopt when `progress` cancelled (what was drawn so far stays cached).
std::optional<torch::Tensor> conceptImages(const models::sd::StableDiffusion& sd,
    const std::vector<concepts::Prompt>& prompts, const std::filesystem::path& folder,
    const ConceptImageOptions& options, const ImageProgress& progress = {}, const SamplerProgress& sampler = {});

/// Images read with their captions.
struct CaptionedImages {
    std::vector<std::string> prompts;
    torch::Tensor images; ///< uint8 [N, C, size, size].
};

/// Pairs from a folder of captioned images: every PNG or JPEG file with a .txt file of the same stem beside it
/// (the caption, surrounding white space removed), in sorted file-name order, scaled and centre-cropped to
/// `size` × `size` with `channels` channels. Throws Error when the folder has no such pair, FormatError naming a
/// caption file that is empty or an image that cannot be decoded.
CaptionedImages readCaptionedImages(const std::filesystem::path& folder, int channels, int size);

} // namespace lethe::unlearn
