#pragma once

// diffusers' ResnetBlock2D, Downsample2D and Upsample2D, shared by the UNet and the VAE, under diffusers'
// state-dict names.

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace lethe::models::sd {

/// Options of diffusers' ResnetBlock2D (time_embedding_norm "default", SiLU).
struct ResnetBlock2DOptions {
    ResnetBlock2DOptions(std::int64_t in_channels, std::int64_t out_channels);

    TORCH_ARG(std::int64_t, in_channels);
    TORCH_ARG(std::int64_t, out_channels);
    /// Width of the time embedding; unset means no time_emb_proj (the VAE's blocks). Default unset.
    TORCH_ARG(std::optional<std::int64_t>, temb_channels) = std::nullopt;
    /// Groups of norm1 and norm2. Default 32.
    TORCH_ARG(std::int64_t, groups) = 32;
    /// Default 1e-5 (the VAE uses 1e-6).
    TORCH_ARG(double, eps) = 1e-5;
    /// Default 0.
    TORCH_ARG(double, dropout) = 0.0;
    /// The residual sum is divided by this. Default 1.
    TORCH_ARG(double, output_scale_factor) = 1.0;
};

/// diffusers' ResnetBlock2D. Children norm1, conv1, time_emb_proj (optional), norm2, dropout, conv2 and
/// conv_shortcut (a 1×1 convolution, only when the channels change).
class ResnetBlock2DImpl : public torch::nn::Cloneable<ResnetBlock2DImpl> {
public:
    explicit ResnetBlock2DImpl(ResnetBlock2DOptions options);
    void reset() override;
    /// x [N, in, H, W]; temb [N, temb_channels], undefined when the block has no time_emb_proj.
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb = {});
    /// forward() itself, without checkpointing.
    torch::Tensor compute(const torch::Tensor& x, const torch::Tensor& temb);

    /// Recompute the activations in the backward pass (nn/checkpoint.h) when gradients are being recorded.
    bool gradient_checkpointing = false;

    ResnetBlock2DOptions options;
    torch::nn::GroupNorm norm1 { nullptr };
    torch::nn::Conv2d conv1 { nullptr };
    torch::nn::Linear time_emb_proj { nullptr };
    torch::nn::GroupNorm norm2 { nullptr };
    torch::nn::Dropout dropout { nullptr };
    torch::nn::Conv2d conv2 { nullptr };
    torch::nn::Conv2d conv_shortcut { nullptr };
};
TORCH_MODULE(ResnetBlock2D);

/// diffusers' Downsample2D with a convolution: child conv (3×3, stride 2). padding 1 in UNets; padding 0 in the
/// VAE, which pads right and bottom by one first.
class Downsample2DImpl : public torch::nn::Cloneable<Downsample2DImpl> {
public:
    Downsample2DImpl(std::int64_t channels, std::int64_t padding);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    std::int64_t channels = 0;
    std::int64_t padding = 1;
    torch::nn::Conv2d conv { nullptr };
};
TORCH_MODULE(Downsample2D);

/// diffusers' Upsample2D with a convolution: nearest-neighbour ×2 (or to `size`), then conv (3×3).
class Upsample2DImpl : public torch::nn::Cloneable<Upsample2DImpl> {
public:
    explicit Upsample2DImpl(std::int64_t channels);
    void reset() override;
    /// `size` [H, W] replaces ×2 when the UNet's input is not a multiple of its total downsampling.
    torch::Tensor forward(const torch::Tensor& x, const std::vector<std::int64_t>& size = {});

    std::int64_t channels = 0;
    torch::nn::Conv2d conv { nullptr };
};
TORCH_MODULE(Upsample2D);

} // namespace lethe::models::sd
