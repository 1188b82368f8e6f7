#pragma once

// diffusers' Attention (with its memory-efficient backend), GEGLU, FeedForward, BasicTransformerBlock and the
// Transformer2DModel that stacks them for the UNet's cross-attention, with diffusers' semantics and state-dict
// names, so that diffusers folders load name for name.

#include "core/enum_names.h"

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace lethe::models::sd {

/// How attention is computed: the whole score matrix at once, or in chunks of queries so that it never exists
/// in full (same results within float tolerance, far less memory at 64×64 latents).
enum class AttentionBackend { Standard, MemoryEfficient };

/// "standard" or "memory_efficient", for enumName and enumFromName (core/enum_names.h).
const EnumNames<AttentionBackend>& enumNames(AttentionBackend);

/// Queries per chunk of the memory-efficient backend unless set otherwise.
inline constexpr std::int64_t kDefaultQueryChunkSize = 1024;

/// softmax(q·kᵀ·scale)·v for q [B, Lq, d], k and v [B, Lk, d]. `upcast` computes the scores in float32 (the
/// softmax always runs in float32 for half types, as diffusers' upcast_softmax does).
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale,
    AttentionBackend backend, std::int64_t query_chunk_size = kDefaultQueryChunkSize, bool upcast = false);

/// Options of diffusers' Attention (the subset SD 1.x UNets and VAEs use).
struct AttentionOptions {
    AttentionOptions(std::int64_t query_dim, std::int64_t heads, std::int64_t dim_head);

    TORCH_ARG(std::int64_t, query_dim);
    TORCH_ARG(std::int64_t, heads);
    TORCH_ARG(std::int64_t, dim_head);
    /// Width of the context for cross-attention; unset means self-attention. Default unset.
    TORCH_ARG(std::optional<std::int64_t>, cross_attention_dim) = std::nullopt;
    /// Biases on to_q, to_k and to_v (the VAE's attention has them, the UNet's not). Default false.
    TORCH_ARG(bool, qkv_bias) = false;
    /// Groups of a "group_norm" applied first (the VAE's attention); unset means none. Default unset.
    TORCH_ARG(std::optional<std::int64_t>, norm_num_groups) = std::nullopt;
    /// Epsilon of group_norm. Default 1e-5.
    TORCH_ARG(double, norm_eps) = 1e-5;
    /// Add the input to the output (the VAE's attention). Default false.
    TORCH_ARG(bool, residual_connection) = false;
    /// Scores in float32 (diffusers' upcast_attention). Default false.
    TORCH_ARG(bool, upcast) = false;
    /// Default standard.
    TORCH_ARG(AttentionBackend, backend) = AttentionBackend::Standard;
    /// Queries per chunk with the memory-efficient backend. Default kDefaultQueryChunkSize.
    TORCH_ARG(std::int64_t, query_chunk_size) = kDefaultQueryChunkSize;
};

/// diffusers' Attention with AttnProcessor. Children group_norm (optional), to_q, to_k, to_v and the ModuleList
/// to_out (0: Linear with bias, 1: Dropout).
class AttentionImpl : public torch::nn::Cloneable<AttentionImpl> {
public:
    explicit AttentionImpl(AttentionOptions options);
    void reset() override;
    /// x [B, L, query_dim] or [B, query_dim, H, W] (returned in the same layout); context [B, Lc,
    /// cross_attention_dim] for cross-attention, undefined for self-attention.
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

    AttentionOptions options;
    torch::nn::GroupNorm group_norm { nullptr };
    torch::nn::Linear to_q { nullptr };
    torch::nn::Linear to_k { nullptr };
    torch::nn::Linear to_v { nullptr };
    torch::nn::ModuleList to_out { nullptr };
};
TORCH_MODULE(Attention);

/// Sets the backend (and chunk size) of every Attention inside `module`.
void setAttentionBackend(
    torch::nn::Module& module, AttentionBackend backend, std::int64_t query_chunk_size = kDefaultQueryChunkSize);

/// diffusers' GEGLU: proj (Linear dim → 2·inner), then hidden · GELU(gate). Child proj.
class GEGLUImpl : public torch::nn::Cloneable<GEGLUImpl> {
public:
    GEGLUImpl(std::int64_t dim_in, std::int64_t dim_out);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    std::int64_t dim_in = 0;
    std::int64_t dim_out = 0;
    torch::nn::Linear proj { nullptr };
};
TORCH_MODULE(GEGLU);

/// diffusers' FeedForward with GEGLU: the ModuleList net (0: GEGLU dim → 4·dim, 1: Dropout, 2: Linear 4·dim → dim).
class FeedForwardImpl : public torch::nn::Cloneable<FeedForwardImpl> {
public:
    explicit FeedForwardImpl(std::int64_t dim);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    std::int64_t dim = 0;
    torch::nn::ModuleList net { nullptr };
};
TORCH_MODULE(FeedForward);

/// Options of diffusers' BasicTransformerBlock (layer norms, GEGLU feed-forward, SD 1.x).
struct BasicTransformerBlockOptions {
    BasicTransformerBlockOptions(std::int64_t dim, std::int64_t heads, std::int64_t dim_head);

    TORCH_ARG(std::int64_t, dim);
    TORCH_ARG(std::int64_t, heads);
    TORCH_ARG(std::int64_t, dim_head);
    /// Width of the context of attn2; unset makes attn2 a second self-attention. Default unset.
    TORCH_ARG(std::optional<std::int64_t>, cross_attention_dim) = std::nullopt;
    /// Default false.
    TORCH_ARG(bool, upcast_attention) = false;
};

/// diffusers' BasicTransformerBlock. Children norm1, attn1 (self), norm2, attn2 (cross), norm3 and ff, so names
/// read "attn1.to_q.weight", "ff.net.0.proj.weight", "ff.net.2.bias".
class BasicTransformerBlockImpl : public torch::nn::Cloneable<BasicTransformerBlockImpl> {
public:
    explicit BasicTransformerBlockImpl(BasicTransformerBlockOptions options);
    void reset() override;
    /// x [B, L, dim], context [B, Lc, cross_attention_dim].
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

    BasicTransformerBlockOptions options;
    torch::nn::LayerNorm norm1 { nullptr };
    Attention attn1 { nullptr };
    torch::nn::LayerNorm norm2 { nullptr };
    Attention attn2 { nullptr };
    torch::nn::LayerNorm norm3 { nullptr };
    FeedForward ff { nullptr };
};
TORCH_MODULE(BasicTransformerBlock);

/// Options of diffusers' Transformer2DModel for continuous inputs.
struct Transformer2DModelOptions {
    Transformer2DModelOptions(std::int64_t heads, std::int64_t dim_head, std::int64_t in_channels);

    TORCH_ARG(std::int64_t, heads);
    TORCH_ARG(std::int64_t, dim_head);
    TORCH_ARG(std::int64_t, in_channels);
    /// Number of transformer_blocks. Default 1.
    TORCH_ARG(std::int64_t, num_layers) = 1;
    /// Default unset (self-attention only).
    TORCH_ARG(std::optional<std::int64_t>, cross_attention_dim) = std::nullopt;
    /// Groups of norm (its epsilon is always 1e-6). Default 32.
    TORCH_ARG(std::int64_t, norm_num_groups) = 32;
    /// proj_in and proj_out as Linear (SD 2.x) instead of 1×1 convolutions (SD 1.x). Default false.
    TORCH_ARG(bool, use_linear_projection) = false;
    /// Default false.
    TORCH_ARG(bool, upcast_attention) = false;
};

/// diffusers' Transformer2DModel. Children norm, proj_in, transformer_blocks, proj_out; adds the input.
class Transformer2DModelImpl : public torch::nn::Cloneable<Transformer2DModelImpl> {
public:
    explicit Transformer2DModelImpl(Transformer2DModelOptions options);
    void reset() override;
    /// x [N, in_channels, H, W], context [N, L, cross_attention_dim].
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);
    /// forward() itself, without checkpointing.
    torch::Tensor compute(const torch::Tensor& x, const torch::Tensor& context);

    Transformer2DModelOptions options;
    /// Recompute the activations in the backward pass (nn/checkpoint.h) when gradients are being recorded.
    bool gradient_checkpointing = false;
    torch::nn::GroupNorm norm { nullptr };
    /// Exactly one of the pair proj_in_conv / proj_in_linear is set, registered as "proj_in"; the same for proj_out.
    torch::nn::Conv2d proj_in_conv { nullptr };
    torch::nn::Linear proj_in_linear { nullptr };
    torch::nn::ModuleList transformer_blocks { nullptr };
    torch::nn::Conv2d proj_out_conv { nullptr };
    torch::nn::Linear proj_out_linear { nullptr };
};
TORCH_MODULE(Transformer2DModel);

} // namespace lethe::models::sd
