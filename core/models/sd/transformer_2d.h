#pragma once

// diffusers' Transformer2DModel for continuous inputs (the UNet's cross-attention stacks), under diffusers'
// state-dict names.

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

namespace lethe::models::sd {

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

} // namespace lethe::models::sd
