#include "layer_support.h"

#include "core/error.h"

#include <torch/torch.h>

#include <string>

namespace lethe::models::sd::detail {

void requirePositive(const char* layer, const char* what, std::int64_t value)
{
    if (value < 1)
        throw Error(std::string(layer) + ": " + what + " must be positive, got " + std::to_string(value));
}

namespace {

void requireDivisible(const char* layer, const char* what, std::int64_t channels, std::int64_t groups)
{
    requirePositive(layer, what, groups);
    if (channels % groups != 0)
        throw Error(std::string(layer) + ": " + std::to_string(channels) + " channels cannot be split into "
            + std::to_string(groups) + " " + what);
}

} // namespace

torch::nn::GroupNorm groupNorm(std::int64_t groups, std::int64_t channels, double eps)
{
    requireDivisible("GroupNorm", "groups", channels, groups);
    return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(eps));
}

torch::nn::Conv2d conv(
    std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride, std::int64_t padding)
{
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

namespace {

torch::Tensor inTypeOf(const torch::Tensor& weight, const torch::Tensor& x)
{
    return weight.defined() && x.scalar_type() != weight.scalar_type() ? x.to(weight.scalar_type()) : x;
}

} // namespace

torch::Tensor normed(torch::nn::GroupNormImpl& norm, const torch::Tensor& x)
{
    return norm.forward(inTypeOf(norm.weight, x));
}

torch::Tensor normed(torch::nn::LayerNormImpl& norm, const torch::Tensor& x)
{
    return norm.forward(inTypeOf(norm.weight, x));
}

torch::nn::Linear linear(std::int64_t in, std::int64_t out, bool bias)
{
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

} // namespace lethe::models::sd::detail
