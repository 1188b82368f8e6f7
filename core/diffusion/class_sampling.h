#pragma once

#include "core/diffusion/edm_sampler.h"
#include "core/models/edm/edm_precond.h"

#include <functional>
#include <optional>
#include <vector>

namespace lethe::diffusion {

/// Which images to draw from a class-conditional model: every class × every seed.
struct ClassSamplingRequest {
    std::vector<int> classes;           ///< Empty = unconditional model.
    std::vector<std::int64_t> seeds;    ///< The same seeds for every class, so rows are comparable.
    SamplerOptions sampler;
    std::int64_t batch = 100;           ///< Images per network batch.
};

/// Progress in images done out of total; returning false cancels.
using ImageProgress = std::function<bool(std::int64_t done, std::int64_t total)>;

/// Draws the requested images (class-major: all seeds of classes[0], then classes[1], ...) as uint8
/// N×C×H×W on the CPU; std::nullopt when cancelled. The network is put in eval mode for the duration.
std::optional<torch::Tensor> sampleClasses(models::EDMPrecond& net, const ClassSamplingRequest& request,
                                           const torch::Device& device, const ImageProgress& progress = {});

/// A Denoiser view of an EDMPrecond (augment labels zero when the network has them).
Denoiser denoiserOf(models::EDMPrecond& net);

/// Parses "0-9", "0,5,7" or "3" into a list of seeds; throws Error on anything else.
std::vector<std::int64_t> parseSeedList(const std::string& text);

} // namespace lethe::diffusion
