#include "preview_cache.h"

#include "core/runtime.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>

namespace lethe::eval {

namespace {

std::vector<std::int64_t> imageSizes(models::EDMPrecond& net, const diffusion::ClassSamplingRequest& request)
{
    const auto classes = static_cast<std::int64_t>(std::max<std::size_t>(request.classes.size(), 1));
    const std::int64_t resolution = net->options.img_resolution();
    return { classes * static_cast<std::int64_t>(request.seeds.size()), net->options.img_channels(), resolution,
        resolution };
}

} // namespace

nlohmann::json samplerKey(const diffusion::SamplerOptions& s)
{
    return { { "method", s.method == diffusion::SamplerMethod::Heun ? "heun" : "euler" }, { "steps", s.steps },
        { "sigma_min", s.sigmaMin }, { "sigma_max", s.sigmaMax }, { "rho", s.rho }, { "s_churn", s.sChurn },
        { "s_min", s.sMin }, { "s_max", std::isfinite(s.sMax) ? nlohmann::json(s.sMax) : nlohmann::json("inf") },
        { "s_noise", s.sNoise }, { "guidance", s.guidance } };
}

nlohmann::json classImagesKey(
    const std::string& modelSha256, const diffusion::ClassSamplingRequest& request, torch::Device device)
{
    nlohmann::json key
        = { { "images", "class samples" }, { "version", kPreviewVersion }, { "model_sha256", modelSha256 },
              { "classes", request.classes }, { "seeds", request.seeds }, { "batch", request.batch },
              { "sampler", samplerKey(request.sampler) }, { "device", c10::DeviceTypeName(device.type(), true) } };
    if (device.is_cuda())
        key["allow_tf32"] = tf32Allowed();
    return key;
}

std::optional<torch::Tensor> cachedClassImages(const MeasureCache& cache, const std::string& modelSha256,
    models::EDMPrecond& net, const diffusion::ClassSamplingRequest& request, torch::Device device)
{
    return cache.readImages(classImagesKey(modelSha256, request, device), imageSizes(net, request));
}

std::optional<torch::Tensor> sampleClassesCached(const MeasureCache& cache, const std::string& modelSha256,
    models::EDMPrecond& net, const diffusion::ClassSamplingRequest& request, torch::Device device,
    const diffusion::ImageProgress& progress)
{
    const nlohmann::json key = classImagesKey(modelSha256, request, device);
    if (auto images = cache.readImages(key, imageSizes(net, request))) {
        spdlog::info("sampled images read from the measure cache {}", cache.imagesFileFor(key).string());
        return images;
    }
    auto images = diffusion::sampleClasses(net, request, device, progress);
    if (images)
        cache.writeImages(key, *images);
    return images;
}

} // namespace lethe::eval
