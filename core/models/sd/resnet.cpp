#include "resnet.h"

#include "layer_support.h"

#include "core/error.h"
#include "core/nn/checkpoint.h"

#include <torch/torch.h>

namespace lethe::models::sd {

using detail::conv;
using detail::groupNorm;
using detail::linear;
using detail::requirePositive;

ResnetBlock2DOptions::ResnetBlock2DOptions(std::int64_t in_channels, std::int64_t out_channels)
    : in_channels_(in_channels)
    , out_channels_(out_channels)
{
}

ResnetBlock2DImpl::ResnetBlock2DImpl(ResnetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void ResnetBlock2DImpl::reset()
{
    const std::int64_t in = options.in_channels();
    const std::int64_t out = options.out_channels();
    requirePositive("ResnetBlock2D", "in_channels", in);
    requirePositive("ResnetBlock2D", "out_channels", out);
    norm1 = register_module("norm1", groupNorm(options.groups(), in, options.eps()));
    conv1 = register_module("conv1", conv(in, out, 3, 1, 1));
    time_emb_proj = nullptr;
    if (options.temb_channels()) {
        requirePositive("ResnetBlock2D", "temb_channels", *options.temb_channels());
        time_emb_proj = register_module("time_emb_proj", linear(*options.temb_channels(), out));
    }
    norm2 = register_module("norm2", groupNorm(options.groups(), out, options.eps()));
    dropout = register_module("dropout", torch::nn::Dropout(options.dropout()));
    conv2 = register_module("conv2", conv(out, out, 3, 1, 1));
    conv_shortcut = nullptr;
    if (in != out)
        conv_shortcut = register_module("conv_shortcut", conv(in, out, 1));
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& x, const torch::Tensor& temb)
{
    if (gradient_checkpointing && torch::GradMode::is_enabled())
        return nn::checkpoint([this](const std::vector<torch::Tensor>& in) { return compute(in[0], in[1]); },
            { x, temb }, nn::trainedParameters(*this));
    return compute(x, temb);
}

torch::Tensor ResnetBlock2DImpl::compute(const torch::Tensor& x, const torch::Tensor& temb)
{
    torch::Tensor h = conv1->forward(torch::silu(detail::normed(*norm1, x)));
    if (time_emb_proj) {
        if (!temb.defined())
            throw Error("ResnetBlock2D: this block needs a time embedding");
        h = h + time_emb_proj->forward(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);
    }
    h = conv2->forward(dropout->forward(torch::silu(detail::normed(*norm2, h))));
    const torch::Tensor shortcut = conv_shortcut ? conv_shortcut->forward(x) : x;
    torch::Tensor out = shortcut + h;
    if (options.output_scale_factor() != 1.0)
        out = out / options.output_scale_factor();
    return out;
}

// ---------------------------------------------------------------------------------------------------------------

namespace {

/// Nearest-neighbour resizing; bfloat16 goes through float32 as in diffusers, since not every backend has it.
torch::Tensor nearest(const torch::Tensor& x, std::vector<std::int64_t> size)
{
    if (x.scalar_type() == torch::kBFloat16)
        return torch::upsample_nearest2d(x.to(torch::kFloat32), size).to(torch::kBFloat16);
    return torch::upsample_nearest2d(x, size);
}

} // namespace

Downsample2DImpl::Downsample2DImpl(std::int64_t channels, std::int64_t padding)
    : channels(channels)
    , padding(padding)
{
    reset();
}

void Downsample2DImpl::reset()
{
    requirePositive("Downsample2D", "channels", channels);
    conv = register_module("conv", detail::conv(channels, channels, 3, 2, padding));
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x)
{
    if (padding == 0)
        return conv->forward(torch::constant_pad_nd(x, { 0, 1, 0, 1 }, 0));
    return conv->forward(x);
}

Upsample2DImpl::Upsample2DImpl(std::int64_t channels)
    : channels(channels)
{
    reset();
}

void Upsample2DImpl::reset()
{
    requirePositive("Upsample2D", "channels", channels);
    conv = register_module("conv", detail::conv(channels, channels, 3, 1, 1));
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x, const std::vector<std::int64_t>& size)
{
    const std::vector<std::int64_t> target
        = size.empty() ? std::vector<std::int64_t> { x.size(2) * 2, x.size(3) * 2 } : size;
    return conv->forward(nearest(x, target));
}

} // namespace lethe::models::sd
