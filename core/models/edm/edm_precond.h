#pragma once

#include "core/models/edm/song_unet.h"

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <limits>

namespace lethe::models {

/// EDMPrecond's constructor arguments with EDM's names and defaults; `model` carries SongUNet's own.
struct EDMPrecondOptions {
    EDMPrecondOptions(std::int64_t img_resolution, std::int64_t img_channels);

    /// Image resolution.
    TORCH_ARG(std::int64_t, img_resolution);
    /// Colour channels of the images (the network's input and output channels).
    TORCH_ARG(std::int64_t, img_channels);
    /// Number of class labels; 0 = unconditional. Default 0.
    TORCH_ARG(std::int64_t, label_dim) = 0;
    /// Smallest supported noise level (informational, as in EDM). Default 0.
    TORCH_ARG(double, sigma_min) = 0.0;
    /// Largest supported noise level (informational, as in EDM). Default infinity.
    TORCH_ARG(double, sigma_max) = std::numeric_limits<double>::infinity();
    /// Expected standard deviation of the training data. Default 0.5.
    TORCH_ARG(double, sigma_data) = 0.5;
    /// SongUNet's arguments. Its img_resolution, in_channels, out_channels and label_dim are overwritten from
    /// the fields above when the network is built, as EDM passes them.
    TORCH_ARG(SongUNetOptions, model);
};

/// The four preconditioning factors of EDM for a noise level σ, each shaped like σ.
struct PrecondCoefficients {
    torch::Tensor cSkip;   ///< σ_d² / (σ² + σ_d²)
    torch::Tensor cOut;    ///< σ·σ_d / √(σ² + σ_d²)
    torch::Tensor cIn;     ///< 1 / √(σ_d² + σ²)
    torch::Tensor cNoise;  ///< ln(σ) / 4
};

/// EDM's preconditioning factors for σ (any shape, computed in float32).
PrecondCoefficients edmCoefficients(const torch::Tensor& sigma, double sigmaData);

/// EDM's EDMPrecond around a SongUNet registered as "model": D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise).
/// Computes in float32 throughout (EDM's use_fp16 is not supported).
class EDMPrecondImpl : public torch::nn::Cloneable<EDMPrecondImpl> {
public:
    explicit EDMPrecondImpl(EDMPrecondOptions options);
    void reset() override;
    /// x [N, C, R, R]; sigma a scalar, [1] or [N]; class_labels [N, label_dim] (zeros when omitted and
    /// label_dim > 0); augment_labels [N, augment_dim] or undefined. Returns the denoised images [N, C, R, R].
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& class_labels = {},
                          const torch::Tensor& augment_labels = {});
    /// edmCoefficients with this network's σ_data.
    PrecondCoefficients coefficients(const torch::Tensor& sigma) const;

    EDMPrecondOptions options;
    SongUNet model{nullptr};
};
TORCH_MODULE(EDMPrecond);

} // namespace lethe::models
