#pragma once

// The argument checks and layer factories that attention, resnet, embeddings and blocks share;
// internal to those files, hence the detail namespace.

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <cstddef>
#include <cstdint>

namespace lethe::models::sd::detail {

/// Throws Error "<layer>: <what> must be positive, got <value>" when value < 1.
void requirePositive(const char* layer, const char* what, std::int64_t value);

/// A GroupNorm with affine parameters, after checking that the groups divide the channels.
torch::nn::GroupNorm groupNorm(std::int64_t groups, std::int64_t channels, double eps);

/// A biased Conv2d with a square kernel.
torch::nn::Conv2d conv(
    std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1, std::int64_t padding = 0);

/// A Linear, biased unless told otherwise.
torch::nn::Linear linear(std::int64_t in, std::int64_t out, bool bias = true);

/// `norm`(x) with x in the norm's own type. Under the CPU's autocast, products come out in bfloat16, and LibTorch's
/// CPU normalisations need their input in their weights' type; autocast on CUDA casts them to float32 itself, as
/// this does. Without autocast the input is already in that type and nothing is cast.
torch::Tensor normed(torch::nn::GroupNormImpl& norm, const torch::Tensor& x);
torch::Tensor normed(torch::nn::LayerNormImpl& norm, const torch::Tensor& x);

/// The index-th module of a ModuleList as its concrete type.
template <typename T> T& child(torch::nn::ModuleListImpl& list, std::size_t index)
{
    return *list[index]->as<T>();
}

} // namespace lethe::models::sd::detail
