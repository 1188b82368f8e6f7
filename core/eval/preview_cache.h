#pragma once

// A class-conditional model's preview images (a run's "before" grid) kept in the measure cache, so that a run from
// the same model with the same preview settings shows them without sampling them again: the built-in model's 40
// preview images take a minute on a busy CPU, on every first Start after the program starts. The key holds
// everything that changes the pixels; the images are stored losslessly (uint8, as drawn).

#include "core/diffusion/class_sampling.h"
#include "core/eval/measure_cache.h"
#include "core/models/edm/edm_precond.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <optional>
#include <string>

namespace lethe::eval {

/// Bumped whenever a change to sampling changes the images drawn: cached images of older versions are not used.
inline constexpr int kPreviewVersion = 1;

/// Every setting of `sampler` as JSON (the measure cache's keys).
nlohmann::json samplerKey(const diffusion::SamplerOptions& sampler);

/// The measure-cache key of `request`'s images of the model with SHA-256 `modelSha256` drawn on `device`: the
/// classes, seeds, batch, every sampler setting, the device type and, on CUDA, whether TF32 is allowed.
nlohmann::json classImagesKey(
    const std::string& modelSha256, const diffusion::ClassSamplingRequest& request, torch::Device device);

/// The images of `request` (as sampleClasses draws them with `net`, the model with SHA-256 `modelSha256`) when
/// `cache` holds them, else nullopt; a file that does not hold them is ignored with a warning.
std::optional<torch::Tensor> cachedClassImages(const MeasureCache& cache, const std::string& modelSha256,
    models::EDMPrecond& net, const diffusion::ClassSamplingRequest& request, torch::Device device);

/// cachedClassImages, else sampleClasses's images, stored in `cache`; nullopt when `progress` cancels.
std::optional<torch::Tensor> sampleClassesCached(const MeasureCache& cache, const std::string& modelSha256,
    models::EDMPrecond& net, const diffusion::ClassSamplingRequest& request, torch::Device device,
    const diffusion::ImageProgress& progress = {});

} // namespace lethe::eval
