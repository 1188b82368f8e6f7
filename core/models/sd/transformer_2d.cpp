#include "transformer_2d.h"

#include "attention.h"
#include "layer_support.h"

#include <torch/torch.h>

namespace lethe::models::sd {

using detail::child;
using detail::conv;
using detail::groupNorm;
using detail::linear;
using detail::requirePositive;

Transformer2DModelOptions::Transformer2DModelOptions(
    std::int64_t heads, std::int64_t dim_head, std::int64_t in_channels)
    : heads_(heads)
    , dim_head_(dim_head)
    , in_channels_(in_channels)
{
}

Transformer2DModelImpl::Transformer2DModelImpl(Transformer2DModelOptions options)
    : options(std::move(options))
{
    reset();
}

void Transformer2DModelImpl::reset()
{
    const std::int64_t in = options.in_channels();
    const std::int64_t inner = options.heads() * options.dim_head();
    requirePositive("Transformer2DModel", "in_channels", in);
    requirePositive("Transformer2DModel", "num_layers", options.num_layers());
    norm = register_module("norm", groupNorm(options.norm_num_groups(), in, 1e-6));
    proj_in_conv = nullptr;
    proj_in_linear = nullptr;
    proj_out_conv = nullptr;
    proj_out_linear = nullptr;
    if (options.use_linear_projection())
        proj_in_linear = register_module("proj_in", linear(in, inner));
    else
        proj_in_conv = register_module("proj_in", conv(in, inner, 1));
    transformer_blocks = register_module("transformer_blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < options.num_layers(); ++i)
        transformer_blocks->push_back(
            BasicTransformerBlock(BasicTransformerBlockOptions(inner, options.heads(), options.dim_head())
                                      .cross_attention_dim(options.cross_attention_dim())
                                      .upcast_attention(options.upcast_attention())));
    if (options.use_linear_projection())
        proj_out_linear = register_module("proj_out", linear(inner, in));
    else
        proj_out_conv = register_module("proj_out", conv(inner, in, 1));
}

torch::Tensor Transformer2DModelImpl::forward(const torch::Tensor& x, const torch::Tensor& context)
{
    const std::int64_t n = x.size(0), height = x.size(2), width = x.size(3);
    torch::Tensor h = norm->forward(x);
    const auto toTokens = [](const torch::Tensor& t) { return t.flatten(2).transpose(1, 2); };
    h = proj_in_conv ? toTokens(proj_in_conv->forward(h)) : proj_in_linear->forward(toTokens(h));
    for (std::size_t i = 0; i < transformer_blocks->size(); ++i)
        h = child<BasicTransformerBlockImpl>(*transformer_blocks, i).forward(h, context);
    const auto toMap = [&](const torch::Tensor& t) {
        return t.transpose(1, 2).reshape({ n, t.size(2), height, width });
    };
    h = proj_out_conv ? proj_out_conv->forward(toMap(h)) : toMap(proj_out_linear->forward(h));
    return h + x;
}

} // namespace lethe::models::sd
