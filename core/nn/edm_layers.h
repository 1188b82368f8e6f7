#pragma once

// The building blocks of NVlabs EDM's networks (training/networks.py), with EDM's semantics, initialisation
// order and state-dict names, so that converted EDM checkpoints load name for name.

#include "core/enum_names.h"

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lethe::nn {

/// EDM's weight initialisation schemes (weight_init in training/networks.py).
enum class InitMode { KaimingUniform, KaimingNormal, XavierUniform, XavierNormal };

/// EDM's spellings of the init modes ("kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal"), for
/// enumName (core/enum_names.h).
const EnumNames<InitMode>& enumNames(InitMode);
/// Parses EDM's spelling; throws lethe::Error listing the valid names.
InitMode initModeFromName(const std::string& name);

/// A tensor of `shape` drawn like EDM's weight_init, from the global generator (same draws as EDM's Python).
torch::Tensor weightInit(torch::IntArrayRef shape, InitMode mode, std::int64_t fanIn, std::int64_t fanOut);

/// How a layer initialises itself: weight = weight_init(mode) · weight, bias = weight_init(mode) · bias.
struct WeightInit {
    InitMode mode = InitMode::KaimingNormal;
    double weight = 1.0;
    double bias = 0.0;
};

/// Options of EDM's fully connected layer.
struct LinearOptions {
    LinearOptions(std::int64_t in_features, std::int64_t out_features);
    /// Sets init_mode, init_weight and init_bias at once.
    LinearOptions& init(const WeightInit& init);

    TORCH_ARG(std::int64_t, in_features);
    TORCH_ARG(std::int64_t, out_features);
    /// Whether the layer has a bias. Default true.
    TORCH_ARG(bool, bias) = true;
    /// Default kaiming_normal.
    TORCH_ARG(InitMode, init_mode) = InitMode::KaimingNormal;
    /// Scale of the initial weight. Default 1.
    TORCH_ARG(double, init_weight) = 1.0;
    /// Scale of the initial bias. Default 0.
    TORCH_ARG(double, init_bias) = 0.0;
};

/// EDM's Linear: x · weightᵀ + bias. Parameters "weight" [out, in] and "bias" [out].
class LinearImpl : public torch::nn::Cloneable<LinearImpl> {
public:
    explicit LinearImpl(LinearOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    LinearOptions options;
    torch::Tensor weight;
    torch::Tensor bias;
};
TORCH_MODULE(Linear);

/// Options of EDM's convolution with optional 2× up- or downsampling.
struct Conv2dOptions {
    /// kernel 0 makes a pure resampling layer without weights.
    Conv2dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel);
    /// Sets init_mode, init_weight and init_bias at once.
    Conv2dOptions& init(const WeightInit& init);

    TORCH_ARG(std::int64_t, in_channels);
    TORCH_ARG(std::int64_t, out_channels);
    TORCH_ARG(std::int64_t, kernel);
    /// Whether the layer has a bias (only when kernel > 0). Default true.
    TORCH_ARG(bool, bias) = true;
    /// Upsample 2× before the convolution. Default false.
    TORCH_ARG(bool, up) = false;
    /// Downsample 2× before the convolution. Default false.
    TORCH_ARG(bool, down) = false;
    /// 1-D taps of the separable resampling filter. Default {1, 1}.
    TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double> { 1.0, 1.0 };
    /// Resample and convolve in one padded step (NCSN++'s residual encoder, downsampling). Fused upsampling keeps
    /// EDM's arithmetic, which returns 2·H − 2·(kernel − 1) pixels; SongUNet never uses it. Default false.
    TORCH_ARG(bool, fused_resample) = false;
    /// Default kaiming_normal.
    TORCH_ARG(InitMode, init_mode) = InitMode::KaimingNormal;
    /// Default 1.
    TORCH_ARG(double, init_weight) = 1.0;
    /// Default 0.
    TORCH_ARG(double, init_bias) = 0.0;
};

/// EDM's Conv2d. Tensors "weight", "bias" and, only when resampling, the buffer "resample_filter" [1, 1, k, k].
class Conv2dImpl : public torch::nn::Cloneable<Conv2dImpl> {
public:
    explicit Conv2dImpl(Conv2dOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    Conv2dOptions options;
    torch::Tensor weight;
    torch::Tensor bias;
    torch::Tensor resample_filter;
};
TORCH_MODULE(Conv2d);

/// Options of EDM's group normalisation.
struct GroupNormOptions {
    explicit GroupNormOptions(std::int64_t num_channels);

    TORCH_ARG(std::int64_t, num_channels);
    /// Upper bound on the number of groups. Default 32.
    TORCH_ARG(std::int64_t, num_groups) = 32;
    /// The groups are reduced until each has at least this many channels. Default 4.
    TORCH_ARG(std::int64_t, min_channels_per_group) = 4;
    /// Default 1e-5.
    TORCH_ARG(double, eps) = 1e-5;
};

/// EDM's GroupNorm with min(num_groups, C / min_channels_per_group) groups. Parameters "weight", "bias".
class GroupNormImpl : public torch::nn::Cloneable<GroupNormImpl> {
public:
    explicit GroupNormImpl(GroupNormOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    GroupNormOptions options;
    std::int64_t num_groups = 0;
    torch::Tensor weight;
    torch::Tensor bias;
};
TORCH_MODULE(GroupNorm);

/// EDM's AttentionOp: softmax over keys of qᵀk / √c for q [n, c, q], k [n, c, k], computed in float32 and
/// returned in q's dtype as [n, q, k].
torch::Tensor attentionWeights(const torch::Tensor& q, const torch::Tensor& k);

/// Options of EDM's U-Net block (the union of DDPM++, NCSN++ and ADM blocks).
struct UNetBlockOptions {
    UNetBlockOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t emb_channels);

    TORCH_ARG(std::int64_t, in_channels);
    TORCH_ARG(std::int64_t, out_channels);
    TORCH_ARG(std::int64_t, emb_channels);
    /// Upsample 2×. Default false.
    TORCH_ARG(bool, up) = false;
    /// Downsample 2×. Default false.
    TORCH_ARG(bool, down) = false;
    /// Self-attention after the residual part. Default false.
    TORCH_ARG(bool, attention) = false;
    /// Attention heads; unset means out_channels / channels_per_head. Default unset.
    TORCH_ARG(std::optional<std::int64_t>, num_heads) = std::nullopt;
    /// Default 64.
    TORCH_ARG(std::int64_t, channels_per_head) = 64;
    /// Dropout probability before conv1. Default 0.
    TORCH_ARG(double, dropout) = 0.0;
    /// Factor applied after each residual sum. Default 1.
    TORCH_ARG(double, skip_scale) = 1.0;
    /// Group-norm epsilon. Default 1e-5.
    TORCH_ARG(double, eps) = 1e-5;
    /// Default {1, 1}.
    TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double> { 1.0, 1.0 };
    /// Give the resampling skip path a 1×1 convolution even when the channels match. Default false.
    TORCH_ARG(bool, resample_proj) = false;
    /// The embedding predicts a scale and a shift (true) or only a shift (false). Default true.
    TORCH_ARG(bool, adaptive_scale) = true;
    /// Initialisation of conv0, affine and skip. Default kaiming_normal, weight 1, bias 0.
    TORCH_ARG(WeightInit, init) = WeightInit {};
    /// Initialisation of conv1 and proj. Default kaiming_normal, weight 0, bias 0.
    TORCH_ARG(WeightInit, init_zero) = (WeightInit { InitMode::KaimingNormal, 0.0, 0.0 });
    /// Initialisation of qkv; unset means `init`. Default unset.
    TORCH_ARG(std::optional<WeightInit>, init_attn) = std::nullopt;
};

/// EDM's UNetBlock. Children norm0, conv0, affine, norm1, conv1, skip (when the shape changes) and, with
/// attention, norm2, qkv, proj.
class UNetBlockImpl : public torch::nn::Cloneable<UNetBlockImpl> {
public:
    explicit UNetBlockImpl(UNetBlockOptions options);
    void reset() override;
    /// x [N, in, H, W], emb [N or 1, emb_channels].
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);

    UNetBlockOptions options;
    std::int64_t num_heads = 0;
    GroupNorm norm0 { nullptr };
    Conv2d conv0 { nullptr };
    Linear affine { nullptr };
    GroupNorm norm1 { nullptr };
    Conv2d conv1 { nullptr };
    Conv2d skip { nullptr };
    GroupNorm norm2 { nullptr };
    Conv2d qkv { nullptr };
    Conv2d proj { nullptr };
};
TORCH_MODULE(UNetBlock);

/// Options of the sinusoidal timestep embedding of DDPM++ and ADM.
struct PositionalEmbeddingOptions {
    explicit PositionalEmbeddingOptions(std::int64_t num_channels);

    TORCH_ARG(std::int64_t, num_channels);
    /// Default 10000.
    TORCH_ARG(std::int64_t, max_positions) = 10000;
    /// Whether the frequencies reach 1 / max_positions exactly (SongUNet sets it). Default false.
    TORCH_ARG(bool, endpoint) = false;
};

/// EDM's PositionalEmbedding: [cos(x·f), sin(x·f)] for x [N]; it holds no tensors.
class PositionalEmbeddingImpl : public torch::nn::Cloneable<PositionalEmbeddingImpl> {
public:
    explicit PositionalEmbeddingImpl(PositionalEmbeddingOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    PositionalEmbeddingOptions options;
};
TORCH_MODULE(PositionalEmbedding);

/// Options of NCSN++'s random Fourier timestep embedding.
struct FourierEmbeddingOptions {
    explicit FourierEmbeddingOptions(std::int64_t num_channels);

    TORCH_ARG(std::int64_t, num_channels);
    /// Standard deviation of the random frequencies. Default 16.
    TORCH_ARG(double, scale) = 16.0;
};

/// EDM's FourierEmbedding: [cos(2π x·f), sin(2π x·f)] with the persistent buffer "freqs" [num_channels / 2].
class FourierEmbeddingImpl : public torch::nn::Cloneable<FourierEmbeddingImpl> {
public:
    explicit FourierEmbeddingImpl(FourierEmbeddingOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    FourierEmbeddingOptions options;
    torch::Tensor freqs;
};
TORCH_MODULE(FourierEmbedding);

} // namespace lethe::nn
