#pragma once

// The building blocks of diffusers' UNet2DConditionModel (the SD 1.x block types) and AutoencoderKL, with
// diffusers' semantics and state-dict names, so that diffusers folders load name for name.

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lethe::nn {

/// How attention is computed: the whole score matrix at once, or in chunks of queries so that it never exists
/// in full (same results within float tolerance, far less memory at 64×64 latents).
enum class AttentionBackend { Standard, MemoryEfficient };

/// "standard" or "memory_efficient".
std::string attentionBackendName(AttentionBackend backend);
/// Parses attentionBackendName's spelling; nullopt for anything else.
std::optional<AttentionBackend> attentionBackendFromName(const std::string& name);

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

    Transformer2DModelOptions options;
    torch::nn::GroupNorm norm { nullptr };
    /// Exactly one of the pair proj_in_conv / proj_in_linear is set, registered as "proj_in"; the same for proj_out.
    torch::nn::Conv2d proj_in_conv { nullptr };
    torch::nn::Linear proj_in_linear { nullptr };
    torch::nn::ModuleList transformer_blocks { nullptr };
    torch::nn::Conv2d proj_out_conv { nullptr };
    torch::nn::Linear proj_out_linear { nullptr };
};
TORCH_MODULE(Transformer2DModel);

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

/// diffusers' get_timestep_embedding: [sin, cos] (or [cos, sin] when flipped) of t·exp(−ln(10⁴)·i / (half −
/// freq_shift)), for t [N] (any floating or integer type); returns float32 [N, dim].
torch::Tensor timestepEmbedding(const torch::Tensor& timesteps, std::int64_t dim, bool flip_sin_to_cos,
    double freq_shift, double max_period = 10000.0);

/// diffusers' TimestepEmbedding: linear_1, SiLU, linear_2.
class TimestepEmbeddingImpl : public torch::nn::Cloneable<TimestepEmbeddingImpl> {
public:
    TimestepEmbeddingImpl(std::int64_t in_channels, std::int64_t time_embed_dim);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    std::int64_t in_channels = 0;
    std::int64_t time_embed_dim = 0;
    torch::nn::Linear linear_1 { nullptr };
    torch::nn::Linear linear_2 { nullptr };
};
TORCH_MODULE(TimestepEmbedding);

} // namespace lethe::nn
