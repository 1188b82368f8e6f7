#include "embeddings.h"

#include "layer_support.h"

#include "core/error.h"

#include <torch/torch.h>

#include <cmath>

namespace lethe::models::sd {

using detail::linear;
using detail::requirePositive;

torch::Tensor timestepEmbedding(
    const torch::Tensor& timesteps, std::int64_t dim, bool flip_sin_to_cos, double freq_shift, double max_period)
{
    requirePositive("timestepEmbedding", "dim", dim);
    if (timesteps.dim() != 1)
        throw Error(
            "timestepEmbedding: expected timesteps [N], got " + std::to_string(timesteps.dim()) + " dimensions");
    const std::int64_t half = dim / 2;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(timesteps.device());
    const torch::Tensor exponent = torch::arange(0, half, f32) * (-std::log(max_period)) / (half - freq_shift);
    const torch::Tensor angles = timesteps.to(torch::kFloat32).unsqueeze(1) * torch::exp(exponent).unsqueeze(0);
    torch::Tensor emb = flip_sin_to_cos ? torch::cat({ torch::cos(angles), torch::sin(angles) }, -1)
                                        : torch::cat({ torch::sin(angles), torch::cos(angles) }, -1);
    if (dim % 2 == 1)
        emb = torch::constant_pad_nd(emb, { 0, 1 }, 0);
    return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(std::int64_t in_channels, std::int64_t time_embed_dim)
    : in_channels(in_channels)
    , time_embed_dim(time_embed_dim)
{
    reset();
}

void TimestepEmbeddingImpl::reset()
{
    requirePositive("TimestepEmbedding", "in_channels", in_channels);
    requirePositive("TimestepEmbedding", "time_embed_dim", time_embed_dim);
    linear_1 = register_module("linear_1", linear(in_channels, time_embed_dim));
    linear_2 = register_module("linear_2", linear(time_embed_dim, time_embed_dim));
}

torch::Tensor TimestepEmbeddingImpl::forward(const torch::Tensor& x)
{
    return linear_2->forward(torch::silu(linear_1->forward(x)));
}

} // namespace lethe::models::sd
