#pragma once

// diffusers' sinusoidal timestep embedding and the TimestepEmbedding MLP that follows it in the UNet.

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace lethe::models::sd {

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

} // namespace lethe::models::sd
