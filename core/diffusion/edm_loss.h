#pragma once

#include "denoiser.h"

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <optional>

namespace lethe::diffusion {

struct AugmentOptions;

/// A denoiser that also takes EDM's augmentation labels (N×augment_dim): EDMPrecond's forward.
using AugmentedDenoiser = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& sigma,
    const torch::Tensor& labels, const torch::Tensor& augmentLabels)>;

/// Hyperparameters of the EDM training loss (Karras et al. 2022, docs/method.md §2).
struct EdmLossOptions {
    /// Mean of ln σ.
    double pMean = -1.2;
    /// Standard deviation of ln σ.
    double pStd = 1.2;
    /// Standard deviation of the data, σ_data.
    double sigmaData = 0.5;
    /// Truncation α of the forget loss: each element contributes w · min((D − y)², α). Unset = plain EDM loss.
    std::optional<double> alpha = std::nullopt;
};

/// What one evaluation of the EDM loss produced; all three stay on the images' device.
struct EdmLossResult {
    /// Scalar batch loss: the sum over all elements divided by the batch size (differentiable).
    torch::Tensor loss;
    /// N: each image's sum over its elements (differentiable); loss == perImage.sum() / N.
    torch::Tensor perImage;
    /// N: the noise level drawn for each image.
    torch::Tensor sigma;
};

/// EDM loss of `denoiser` on float images y (N×C×H×W in [−1, 1]) with one-hot labels (N×K, or undefined):
/// σ = exp(pMean + pStd·n), weight (σ² + σ_d²)/(σ·σ_d)², per element w · (D(y + σε, σ, labels) − y)².
/// n and ε come from `generator` when given (a CPU generator also serves images on another device: the
/// noise is drawn on the CPU and moved), else from the default generator of the images' device.
EdmLossResult edmLoss(const Denoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options = {}, std::optional<at::Generator> generator = std::nullopt);

/// edmLoss on images augmented by EDM's pipeline (edm_augment.h) as EDM's EDMLoss does it: σ is drawn, then the
/// augmentation, then ε, all from `generator` (a CPU generator); D sees the augmented images with their augmentation
/// labels and is compared with the augmented images.
EdmLossResult edmLoss(const AugmentedDenoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options, const AugmentOptions& augment, at::Generator& generator);

/// edmLoss with its noise from a fresh CPU generator seeded with `seed`: the same seed gives the same σ
/// and ε on every device.
EdmLossResult edmLoss(const Denoiser& denoiser, const torch::Tensor& images, const torch::Tensor& labels,
    const EdmLossOptions& options, std::uint64_t seed);

} // namespace lethe::diffusion
