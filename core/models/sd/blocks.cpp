#include "blocks.h"

#include "attention.h"
#include "layer_support.h"
#include "resnet.h"

#include "core/error.h"

#include <torch/torch.h>

#include <string>
#include <utility>

namespace lethe::models::sd {

using detail::child;
using detail::requirePositive;

UNetBlock2DOptions::UNetBlock2DOptions(std::int64_t in_channels, std::int64_t out_channels)
    : in_channels_(in_channels)
    , out_channels_(out_channels)
{
}

namespace {

ResnetBlock2D resnet(const UNetBlock2DOptions& o, std::int64_t in, std::int64_t out)
{
    return ResnetBlock2D(ResnetBlock2DOptions(in, out)
                             .temb_channels(o.temb_channels())
                             .groups(o.resnet_groups())
                             .eps(o.resnet_eps())
                             .dropout(o.dropout())
                             .output_scale_factor(o.output_scale_factor()));
}

Transformer2DModel transformer(const UNetBlock2DOptions& o, std::int64_t channels)
{
    const std::int64_t heads = o.num_attention_heads();
    requirePositive("Transformer2DModel", "num_attention_heads", heads);
    if (channels % heads != 0)
        throw Error("Transformer2DModel: " + std::to_string(channels) + " channels cannot be split into "
            + std::to_string(heads) + " attention heads");
    return Transformer2DModel(Transformer2DModelOptions(heads, channels / heads, channels)
                                  .num_layers(o.transformer_layers_per_block())
                                  .cross_attention_dim(o.cross_attention_dim())
                                  .norm_num_groups(o.resnet_groups())
                                  .use_linear_projection(o.use_linear_projection())
                                  .upcast_attention(o.upcast_attention()));
}

void checkLayers(const char* block, const UNetBlock2DOptions& o)
{
    requirePositive(block, "num_layers", o.num_layers());
}

/// The up blocks' resnet j: input from below (or the previous resnet) plus a skip of the matching down level.
std::pair<std::int64_t, std::int64_t> upResnetChannels(const UNetBlock2DOptions& o, std::int64_t j)
{
    const std::int64_t skip = j == o.num_layers() - 1 ? o.in_channels() : o.out_channels();
    const std::int64_t in = j == 0 ? o.prev_output_channel() : o.out_channels();
    return { in + skip, o.out_channels() };
}

torch::Tensor popSkip(std::vector<torch::Tensor>& skips, const char* block)
{
    if (skips.empty())
        throw Error(std::string(block) + ": ran out of skip tensors");
    torch::Tensor skip = std::move(skips.back());
    skips.pop_back();
    return skip;
}

/// resnets.j of a block without skips: in_channels → out_channels, then out_channels → out_channels.
torch::nn::ModuleList chainedResnets(const UNetBlock2DOptions& o)
{
    torch::nn::ModuleList resnets;
    for (std::int64_t j = 0; j < o.num_layers(); ++j)
        resnets->push_back(resnet(o, j == 0 ? o.in_channels() : o.out_channels(), o.out_channels()));
    return resnets;
}

/// Registers downsamplers.0 on `block` when the options ask for a resample; null otherwise.
torch::nn::ModuleList registerDownsamplers(torch::nn::Module& block, const UNetBlock2DOptions& o)
{
    if (!o.add_resample())
        return nullptr;
    return block.register_module(
        "downsamplers", torch::nn::ModuleList(Downsample2D(o.out_channels(), o.downsample_padding())));
}

/// Registers upsamplers.0 on `block` when the options ask for a resample; null otherwise.
torch::nn::ModuleList registerUpsamplers(torch::nn::Module& block, const UNetBlock2DOptions& o)
{
    if (!o.add_resample())
        return nullptr;
    return block.register_module("upsamplers", torch::nn::ModuleList(Upsample2D(o.out_channels())));
}

/// The VAE blocks' pass: each resnet in turn without time embedding, then the resampler if there is one.
template <typename Resample>
torch::Tensor resnetsThenResample(
    torch::nn::ModuleListImpl& resnets, torch::nn::ModuleList resamplers, const torch::Tensor& x)
{
    torch::Tensor h = x;
    for (std::size_t j = 0; j < resnets.size(); ++j)
        h = child<ResnetBlock2DImpl>(resnets, j).forward(h);
    if (resamplers)
        h = child<Resample>(*resamplers, 0).forward(h);
    return h;
}

} // namespace

CrossAttnDownBlock2DImpl::CrossAttnDownBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void CrossAttnDownBlock2DImpl::reset()
{
    checkLayers("CrossAttnDownBlock2D", options);
    resnets = register_module("resnets", torch::nn::ModuleList());
    attentions = register_module("attentions", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j) {
        resnets->push_back(
            resnet(options, j == 0 ? options.in_channels() : options.out_channels(), options.out_channels()));
        attentions->push_back(transformer(options, options.out_channels()));
    }
    downsamplers = registerDownsamplers(*this, options);
}

DownBlockOutput CrossAttnDownBlock2DImpl::forward(
    const torch::Tensor& x, const torch::Tensor& temb, const torch::Tensor& context)
{
    DownBlockOutput out { x, {} };
    for (std::size_t j = 0; j < resnets->size(); ++j) {
        out.hidden = child<ResnetBlock2DImpl>(*resnets, j).forward(out.hidden, temb);
        out.hidden = child<Transformer2DModelImpl>(*attentions, j).forward(out.hidden, context);
        out.skips.push_back(out.hidden);
    }
    if (downsamplers) {
        out.hidden = child<Downsample2DImpl>(*downsamplers, 0).forward(out.hidden);
        out.skips.push_back(out.hidden);
    }
    return out;
}

DownBlock2DImpl::DownBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void DownBlock2DImpl::reset()
{
    checkLayers("DownBlock2D", options);
    resnets = register_module("resnets", chainedResnets(options));
    downsamplers = registerDownsamplers(*this, options);
}

DownBlockOutput DownBlock2DImpl::forward(const torch::Tensor& x, const torch::Tensor& temb)
{
    DownBlockOutput out { x, {} };
    for (std::size_t j = 0; j < resnets->size(); ++j) {
        out.hidden = child<ResnetBlock2DImpl>(*resnets, j).forward(out.hidden, temb);
        out.skips.push_back(out.hidden);
    }
    if (downsamplers) {
        out.hidden = child<Downsample2DImpl>(*downsamplers, 0).forward(out.hidden);
        out.skips.push_back(out.hidden);
    }
    return out;
}

UNetMidBlock2DCrossAttnImpl::UNetMidBlock2DCrossAttnImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void UNetMidBlock2DCrossAttnImpl::reset()
{
    checkLayers("UNetMidBlock2DCrossAttn", options);
    const std::int64_t channels = options.in_channels();
    resnets = register_module("resnets", torch::nn::ModuleList(resnet(options, channels, channels)));
    attentions = register_module("attentions", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j) {
        attentions->push_back(transformer(options, channels));
        resnets->push_back(resnet(options, channels, channels));
    }
}

torch::Tensor UNetMidBlock2DCrossAttnImpl::forward(
    const torch::Tensor& x, const torch::Tensor& temb, const torch::Tensor& context)
{
    torch::Tensor h = child<ResnetBlock2DImpl>(*resnets, 0).forward(x, temb);
    for (std::size_t j = 0; j < attentions->size(); ++j) {
        h = child<Transformer2DModelImpl>(*attentions, j).forward(h, context);
        h = child<ResnetBlock2DImpl>(*resnets, j + 1).forward(h, temb);
    }
    return h;
}

UpBlock2DImpl::UpBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void UpBlock2DImpl::reset()
{
    checkLayers("UpBlock2D", options);
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j) {
        const auto [in, out] = upResnetChannels(options, j);
        resnets->push_back(resnet(options, in, out));
    }
    upsamplers = registerUpsamplers(*this, options);
}

torch::Tensor UpBlock2DImpl::forward(const torch::Tensor& x, std::vector<torch::Tensor>& skips,
    const torch::Tensor& temb, const std::vector<std::int64_t>& upsample_size)
{
    torch::Tensor h = x;
    for (std::size_t j = 0; j < resnets->size(); ++j)
        h = child<ResnetBlock2DImpl>(*resnets, j).forward(torch::cat({ h, popSkip(skips, "UpBlock2D") }, 1), temb);
    if (upsamplers)
        h = child<Upsample2DImpl>(*upsamplers, 0).forward(h, upsample_size);
    return h;
}

CrossAttnUpBlock2DImpl::CrossAttnUpBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void CrossAttnUpBlock2DImpl::reset()
{
    checkLayers("CrossAttnUpBlock2D", options);
    resnets = register_module("resnets", torch::nn::ModuleList());
    attentions = register_module("attentions", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j) {
        const auto [in, out] = upResnetChannels(options, j);
        resnets->push_back(resnet(options, in, out));
        attentions->push_back(transformer(options, out));
    }
    upsamplers = registerUpsamplers(*this, options);
}

torch::Tensor CrossAttnUpBlock2DImpl::forward(const torch::Tensor& x, std::vector<torch::Tensor>& skips,
    const torch::Tensor& temb, const torch::Tensor& context, const std::vector<std::int64_t>& upsample_size)
{
    torch::Tensor h = x;
    for (std::size_t j = 0; j < resnets->size(); ++j) {
        h = child<ResnetBlock2DImpl>(*resnets, j)
                .forward(torch::cat({ h, popSkip(skips, "CrossAttnUpBlock2D") }, 1), temb);
        h = child<Transformer2DModelImpl>(*attentions, j).forward(h, context);
    }
    if (upsamplers)
        h = child<Upsample2DImpl>(*upsamplers, 0).forward(h, upsample_size);
    return h;
}

// ---------------------------------------------------------------------------------------------------------------

DownEncoderBlock2DImpl::DownEncoderBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void DownEncoderBlock2DImpl::reset()
{
    checkLayers("DownEncoderBlock2D", options);
    resnets = register_module("resnets", chainedResnets(options));
    downsamplers = registerDownsamplers(*this, options);
}

torch::Tensor DownEncoderBlock2DImpl::forward(const torch::Tensor& x)
{
    return resnetsThenResample<Downsample2DImpl>(*resnets, downsamplers, x);
}

UpDecoderBlock2DImpl::UpDecoderBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void UpDecoderBlock2DImpl::reset()
{
    checkLayers("UpDecoderBlock2D", options);
    resnets = register_module("resnets", chainedResnets(options));
    upsamplers = registerUpsamplers(*this, options);
}

torch::Tensor UpDecoderBlock2DImpl::forward(const torch::Tensor& x)
{
    return resnetsThenResample<Upsample2DImpl>(*resnets, upsamplers, x);
}

UNetMidBlock2DImpl::UNetMidBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void UNetMidBlock2DImpl::reset()
{
    checkLayers("UNetMidBlock2D", options);
    const std::int64_t channels = options.in_channels();
    resnets = register_module("resnets", torch::nn::ModuleList(resnet(options, channels, channels)));
    attentions = register_module("attentions", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j) {
        attentions->push_back(Attention(AttentionOptions(channels, 1, channels)
                                            .qkv_bias(true)
                                            .norm_num_groups(options.resnet_groups())
                                            .norm_eps(options.resnet_eps())
                                            .residual_connection(true)));
        resnets->push_back(resnet(options, channels, channels));
    }
}

torch::Tensor UNetMidBlock2DImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = child<ResnetBlock2DImpl>(*resnets, 0).forward(x);
    for (std::size_t j = 0; j < attentions->size(); ++j) {
        h = child<AttentionImpl>(*attentions, j).forward(h);
        h = child<ResnetBlock2DImpl>(*resnets, j + 1).forward(h);
    }
    return h;
}

} // namespace lethe::models::sd
