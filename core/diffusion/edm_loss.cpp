#include "edm_loss.h"

#include "core/describe.h"
#include "core/error.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace lethe::diffusion {

namespace {

void checkOptions(const EdmLossOptions& options)
{
    if (!std::isfinite(options.pMean) || !std::isfinite(options.pStd) || options.pStd < 0)
        throw Error("edmLoss: pMean must be finite and pStd finite and non-negative, found pMean "
            + formatNumber(options.pMean) + ", pStd " + formatNumber(options.pStd));
    if (!std::isfinite(options.sigmaData) || options.sigmaData <= 0)
        throw Error("edmLoss: sigmaData must be positive, found " + formatNumber(options.sigmaData));
    if (options.alpha && !(*options.alpha > 0))
        throw Error("edmLoss: alpha must be positive, found " + formatNumber(*options.alpha));
}

} // namespace

EdmLossResult edmLoss(const Denoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options, std::optional<at::Generator> generator)
{
    checkOptions(options);
    if (!images.defined() || images.dim() != 4 || !at::isFloatingType(images.scalar_type()))
        throw Error("edmLoss: images must be a float N×C×H×W tensor, found " + describeTensor(images));
    const std::int64_t batch = images.size(0);
    if (batch == 0)
        throw Error("edmLoss: the batch is empty");
    if (labels.defined() && (labels.dim() != 2 || labels.size(0) != batch))
        throw Error("edmLoss: labels must be N×K one-hot rows for " + std::to_string(batch) + " images, found "
            + describeTensor(labels));

    // Same draw order as EDM's EDMLoss (first n for σ, then ε), so one seed gives the same batch there.
    const auto options32 = images.options().dtype(torch::kFloat32);
    const torch::Tensor normal = normalNoise({ batch, 1, 1, 1 }, generator, options32);
    const torch::Tensor sigma = (normal * options.pStd + options.pMean).exp();
    const double sigmaData2 = options.sigmaData * options.sigmaData;
    const torch::Tensor weight = (sigma.square() + sigmaData2) / (sigma * options.sigmaData).square();
    const torch::Tensor epsilon = normalNoise(images.sizes(), generator, images.options());

    const torch::Tensor noisy = images + epsilon * sigma;
    const torch::Tensor denoised = evaluateDenoiser(denoiser, noisy, sigma.view({ batch }), labels, "edmLoss");
    torch::Tensor squared = (denoised - images).square();
    // clamp_max passes no gradient where it clamps, so elements already past α stop pushing the ascent.
    if (options.alpha)
        squared = squared.clamp_max(*options.alpha);
    const torch::Tensor perImage = (weight * squared).flatten(1).sum(1);
    return { perImage.sum() / static_cast<double>(batch), perImage, sigma.view({ batch }) };
}

EdmLossResult edmLoss(const Denoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options, std::uint64_t seed)
{
    return edmLoss(denoiser, images, labels, options, cpuGenerator(seed));
}

} // namespace lethe::diffusion
