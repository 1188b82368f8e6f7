#pragma once

// diffusers' down, mid and up blocks of UNet2DConditionModel (the SD 1.x block types) and of AutoencoderKL's
// encoder and decoder, under diffusers' state-dict names.

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace lethe::models::sd {

/// Options shared by the UNet's and the VAE's down, mid and up blocks; each block reads the fields it needs.
struct UNetBlock2DOptions {
    UNetBlock2DOptions(std::int64_t in_channels, std::int64_t out_channels);

    TORCH_ARG(std::int64_t, in_channels);
    TORCH_ARG(std::int64_t, out_channels);
    /// Up blocks: channels coming from the block below (the first resnet's input). Default 0.
    TORCH_ARG(std::int64_t, prev_output_channel) = 0;
    /// Width of the time embedding; unset for the VAE. Default unset.
    TORCH_ARG(std::optional<std::int64_t>, temb_channels) = std::nullopt;
    /// Resnets (down and VAE blocks: layers_per_block; UNet up blocks: layers_per_block + 1). Default 1.
    TORCH_ARG(std::int64_t, num_layers) = 1;
    /// Default 1e-5.
    TORCH_ARG(double, resnet_eps) = 1e-5;
    /// Default 32.
    TORCH_ARG(std::int64_t, resnet_groups) = 32;
    /// Default 0.
    TORCH_ARG(double, dropout) = 0.0;
    /// Mid blocks: residual divisor of the resnets. Default 1.
    TORCH_ARG(double, output_scale_factor) = 1.0;
    /// Down blocks: end with downsamplers.0; up blocks: end with upsamplers.0. Default true.
    TORCH_ARG(bool, add_resample) = true;
    /// Default 1 (the VAE uses 0).
    TORCH_ARG(std::int64_t, downsample_padding) = 1;
    /// Cross-attention blocks: attention heads (dim_head = out_channels / heads). Default 8.
    TORCH_ARG(std::int64_t, num_attention_heads) = 8;
    /// Cross-attention blocks: context width. Default 768.
    TORCH_ARG(std::int64_t, cross_attention_dim) = 768;
    /// Cross-attention blocks: transformer blocks per Transformer2DModel. Default 1.
    TORCH_ARG(std::int64_t, transformer_layers_per_block) = 1;
    /// Default false.
    TORCH_ARG(bool, use_linear_projection) = false;
    /// Default false.
    TORCH_ARG(bool, upcast_attention) = false;
};

/// The output of a down block and the skip tensors it hands to the up blocks.
struct DownBlockOutput {
    torch::Tensor hidden;
    std::vector<torch::Tensor> skips;
};

/// diffusers' CrossAttnDownBlock2D: resnets.j, attentions.j (Transformer2DModel), downsamplers.0.
class CrossAttnDownBlock2DImpl : public torch::nn::Cloneable<CrossAttnDownBlock2DImpl> {
public:
    explicit CrossAttnDownBlock2DImpl(UNetBlock2DOptions options);
    void reset() override;
    DownBlockOutput forward(const torch::Tensor& x, const torch::Tensor& temb, const torch::Tensor& context);

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList attentions { nullptr };
    torch::nn::ModuleList downsamplers { nullptr };
};
TORCH_MODULE(CrossAttnDownBlock2D);

/// diffusers' DownBlock2D: resnets.j, downsamplers.0.
class DownBlock2DImpl : public torch::nn::Cloneable<DownBlock2DImpl> {
public:
    explicit DownBlock2DImpl(UNetBlock2DOptions options);
    void reset() override;
    DownBlockOutput forward(const torch::Tensor& x, const torch::Tensor& temb);

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList downsamplers { nullptr };
};
TORCH_MODULE(DownBlock2D);

/// diffusers' UNetMidBlock2DCrossAttn: resnets.0, then attentions.j and resnets.j+1 (in_channels is used).
class UNetMidBlock2DCrossAttnImpl : public torch::nn::Cloneable<UNetMidBlock2DCrossAttnImpl> {
public:
    explicit UNetMidBlock2DCrossAttnImpl(UNetBlock2DOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb, const torch::Tensor& context);

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList attentions { nullptr };
};
TORCH_MODULE(UNetMidBlock2DCrossAttn);

/// diffusers' UpBlock2D: resnets.j (each takes a skip tensor, concatenated on channels), upsamplers.0.
class UpBlock2DImpl : public torch::nn::Cloneable<UpBlock2DImpl> {
public:
    explicit UpBlock2DImpl(UNetBlock2DOptions options);
    void reset() override;
    /// Pops num_layers skip tensors from the back of `skips`.
    torch::Tensor forward(const torch::Tensor& x, std::vector<torch::Tensor>& skips, const torch::Tensor& temb,
        const std::vector<std::int64_t>& upsample_size = {});

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList upsamplers { nullptr };
};
TORCH_MODULE(UpBlock2D);

/// diffusers' CrossAttnUpBlock2D: resnets.j, attentions.j, upsamplers.0.
class CrossAttnUpBlock2DImpl : public torch::nn::Cloneable<CrossAttnUpBlock2DImpl> {
public:
    explicit CrossAttnUpBlock2DImpl(UNetBlock2DOptions options);
    void reset() override;
    /// Pops num_layers skip tensors from the back of `skips`.
    torch::Tensor forward(const torch::Tensor& x, std::vector<torch::Tensor>& skips, const torch::Tensor& temb,
        const torch::Tensor& context, const std::vector<std::int64_t>& upsample_size = {});

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList attentions { nullptr };
    torch::nn::ModuleList upsamplers { nullptr };
};
TORCH_MODULE(CrossAttnUpBlock2D);

/// diffusers' DownEncoderBlock2D (VAE): resnets.j without time embedding, downsamplers.0 (padding from options).
class DownEncoderBlock2DImpl : public torch::nn::Cloneable<DownEncoderBlock2DImpl> {
public:
    explicit DownEncoderBlock2DImpl(UNetBlock2DOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList downsamplers { nullptr };
};
TORCH_MODULE(DownEncoderBlock2D);

/// diffusers' UpDecoderBlock2D (VAE): resnets.j without time embedding or skips, upsamplers.0.
class UpDecoderBlock2DImpl : public torch::nn::Cloneable<UpDecoderBlock2DImpl> {
public:
    explicit UpDecoderBlock2DImpl(UNetBlock2DOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList upsamplers { nullptr };
};
TORCH_MODULE(UpDecoderBlock2D);

/// diffusers' UNetMidBlock2D as the VAE uses it: resnets.0, then attentions.j (single-head Attention with
/// group_norm, biases and a residual) and resnets.j+1; no time embedding.
class UNetMidBlock2DImpl : public torch::nn::Cloneable<UNetMidBlock2DImpl> {
public:
    explicit UNetMidBlock2DImpl(UNetBlock2DOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    UNetBlock2DOptions options;
    torch::nn::ModuleList resnets { nullptr };
    torch::nn::ModuleList attentions { nullptr };
};
TORCH_MODULE(UNetMidBlock2D);

} // namespace lethe::models::sd
