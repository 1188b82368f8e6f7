#include "edm_loss.h"

#include "core/describe.h"
#include "core/error.h"
#include "edm_augment.h"

#include <torch/torch.h>

#include <cmath>
#include <functional>
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

/// The loss of either edmLoss: `evaluate` runs the network on (noisy, σ, augmentation labels or undefined).
EdmLossResult lossOf(
    const std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>& evaluate,
    const torch::Tensor& images, const torch::Tensor& labels, const EdmLossOptions& options,
    const AugmentOptions* augment, std::optional<at::Generator> generator)
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

    // Same draw order as EDM's EDMLoss (first n for σ, then the augmentation, then ε), so one seed gives the same
    // batch there.
    const auto options32 = images.options().dtype(torch::kFloat32);
    const torch::Tensor normal = normalNoise({ batch, 1, 1, 1 }, generator, options32);
    const torch::Tensor sigma = (normal * options.pStd + options.pMean).exp();
    const double sigmaData2 = options.sigmaData * options.sigmaData;
    const torch::Tensor weight = (sigma.square() + sigmaData2) / (sigma * options.sigmaData).square();
    torch::Tensor y = images;
    torch::Tensor augmentLabels;
    if (augment) {
        AugmentResult augmented = augmentImages(images, *augment, *generator);
        y = augmented.images;
        augmentLabels = augmented.labels;
    }
    const torch::Tensor epsilon = normalNoise(y.sizes(), generator, y.options());

    const torch::Tensor noisy = y + epsilon * sigma;
    torch::Tensor denoised = evaluate(noisy, sigma.view({ batch }), augmentLabels);
    if (!denoised.defined() || denoised.sizes() != noisy.sizes())
        throw Error(
            "edmLoss: the denoiser returned " + describeTensor(denoised) + " for input " + describeTensor(noisy));
    torch::Tensor squared = (denoised - y).square();
    // min(·, α) passes no gradient where it clips, so elements already past α stop pushing the ascent. torch::minimum,
    // as the paper's code, not clamp_max: at an element exactly equal to α it passes half the gradient, not all.
    if (options.alpha)
        squared = torch::minimum(squared, torch::scalar_tensor(*options.alpha, squared.options()));
    const torch::Tensor perImage = (weight * squared).flatten(1).sum(1);
    return { perImage.sum() / static_cast<double>(batch), perImage, sigma.view({ batch }) };
}

} // namespace

EdmLossResult edmLoss(const Denoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options, std::optional<at::Generator> generator)
{
    const auto evaluate = [&](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor&) {
        return denoiser(x, sigma, labels);
    };
    return lossOf(evaluate, images, labels, options, nullptr, std::move(generator));
}

EdmLossResult edmLoss(const AugmentedDenoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options, const AugmentOptions& augment, at::Generator& generator)
{
    augment.validate();
    const auto evaluate = [&](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& augmentLabels) {
        return denoiser(x, sigma, labels, augmentLabels);
    };
    return lossOf(evaluate, images, labels, options, &augment, generator);
}

EdmLossResult edmLoss(const Denoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options, std::uint64_t seed)
{
    return edmLoss(denoiser, images, labels, options, cpuGenerator(seed));
}

} // namespace lethe::diffusion
