#include "denoiser.h"

#include "core/describe.h"
#include "core/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace lethe::diffusion {

torch::Tensor oneHot(const torch::Tensor& labels, int classes)
{
    if (classes < 1)
        throw Error("oneHot: the class count must be at least 1, found " + std::to_string(classes));
    if (!labels.defined() || labels.dim() != 1 || !at::isIntegralType(labels.scalar_type(), /*includeBool=*/false))
        throw Error("oneHot: labels must be an integer vector, found " + describeTensor(labels));
    torch::Tensor rows = torch::zeros({ labels.size(0), classes }, labels.options().dtype(torch::kFloat32));
    if (labels.numel() == 0)
        return rows;
    const auto low = labels.min().item<std::int64_t>();
    const auto high = labels.max().item<std::int64_t>();
    if (low < 0 || high >= classes)
        throw Error("oneHot: labels span " + std::to_string(low) + "–" + std::to_string(high) + " but there are "
            + std::to_string(classes) + " classes");
    return rows.scatter_(1, labels.to(torch::kInt64).unsqueeze(1), 1.0);
}

at::Generator cpuGenerator(std::uint64_t seed)
{
    return at::detail::createCPUGenerator(seed);
}

torch::Tensor normalNoise(
    at::IntArrayRef sizes, const std::optional<at::Generator>& generator, const torch::TensorOptions& options)
{
    if (!generator)
        return torch::randn(sizes, options);
    const torch::Device target = options.device();
    if (generator->device() == target)
        return torch::randn(sizes, *generator, options);
    return torch::randn(sizes, *generator, options.device(generator->device())).to(target);
}

torch::Tensor evaluateDenoiser(const Denoiser& denoiser, const torch::Tensor& x, const torch::Tensor& sigma,
    const torch::Tensor& classLabels, const char* caller)
{
    torch::Tensor denoised = denoiser(x, sigma, classLabels);
    if (!denoised.defined() || denoised.sizes() != x.sizes())
        throw Error(std::string(caller) + ": the denoiser returned " + describeTensor(denoised) + " for input "
            + describeTensor(x));
    return denoised;
}

} // namespace lethe::diffusion
