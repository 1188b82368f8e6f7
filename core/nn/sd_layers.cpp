#include "sd_layers.h"

#include "core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lethe::nn {

namespace {

void requirePositive(const char* layer, const char* what, std::int64_t value)
{
    if (value < 1)
        throw Error(std::string(layer) + ": " + what + " must be positive, got " + std::to_string(value));
}

void requireDivisible(const char* layer, const char* what, std::int64_t channels, std::int64_t groups)
{
    requirePositive(layer, what, groups);
    if (channels % groups != 0)
        throw Error(std::string(layer) + ": " + std::to_string(channels) + " channels cannot be split into "
            + std::to_string(groups) + " " + what);
}

torch::nn::GroupNorm groupNorm(std::int64_t groups, std::int64_t channels, double eps)
{
    requireDivisible("GroupNorm", "groups", channels, groups);
    return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(eps));
}

torch::nn::Conv2d conv(
    std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1, std::int64_t padding = 0)
{
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

torch::nn::Linear linear(std::int64_t in, std::int64_t out, bool bias = true)
{
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

template <typename T> T& child(torch::nn::ModuleListImpl& list, std::size_t index)
{
    return *list[index]->as<T>();
}

/// Nearest-neighbour resizing; bfloat16 goes through float32 as in diffusers, since not every backend has it.
torch::Tensor nearest(const torch::Tensor& x, std::vector<std::int64_t> size)
{
    if (x.scalar_type() == torch::kBFloat16)
        return torch::upsample_nearest2d(x.to(torch::kFloat32), size).to(torch::kBFloat16);
    return torch::upsample_nearest2d(x, size);
}

torch::Tensor attendChunk(
    const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale, bool upcast)
{
    const bool half = q.scalar_type() == torch::kHalf || q.scalar_type() == torch::kBFloat16;
    torch::Tensor scores = upcast && half ? torch::matmul(q.to(torch::kFloat32), k.to(torch::kFloat32).transpose(1, 2))
                                          : torch::matmul(q, k.transpose(1, 2));
    scores.mul_(scale);
    const torch::Tensor weights
        = half ? torch::softmax(scores, -1, torch::kFloat32).to(v.scalar_type()) : torch::softmax(scores, -1);
    return torch::matmul(weights, v);
}

} // namespace

std::string attentionBackendName(AttentionBackend backend)
{
    switch (backend) {
    case AttentionBackend::Standard:
        return "standard";
    case AttentionBackend::MemoryEfficient:
        return "memory_efficient";
    }
    throw Error("unknown attention backend " + std::to_string(static_cast<int>(backend)));
}

std::optional<AttentionBackend> attentionBackendFromName(const std::string& name)
{
    for (AttentionBackend backend : { AttentionBackend::Standard, AttentionBackend::MemoryEfficient })
        if (attentionBackendName(backend) == name)
            return backend;
    return std::nullopt;
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale,
    AttentionBackend backend, std::int64_t query_chunk_size, bool upcast)
{
    const std::int64_t queries = q.size(1);
    if (backend == AttentionBackend::Standard || queries <= query_chunk_size)
        return attendChunk(q, k, v, scale, upcast);
    requirePositive("attend", "query_chunk_size", query_chunk_size);
    // Each chunk's softmax covers all keys, so the rows are exactly the standard backend's; only the
    // [B, chunk, Lk] score block exists at a time.
    torch::Tensor out = torch::empty({ q.size(0), queries, v.size(2) }, v.options());
    for (std::int64_t start = 0; start < queries; start += query_chunk_size) {
        const std::int64_t end = std::min(queries, start + query_chunk_size);
        out.narrow(1, start, end - start).copy_(attendChunk(q.narrow(1, start, end - start), k, v, scale, upcast));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------------

AttentionOptions::AttentionOptions(std::int64_t query_dim, std::int64_t heads, std::int64_t dim_head)
    : query_dim_(query_dim)
    , heads_(heads)
    , dim_head_(dim_head)
{
}

AttentionImpl::AttentionImpl(AttentionOptions options)
    : options(std::move(options))
{
    reset();
}

void AttentionImpl::reset()
{
    const std::int64_t dim = options.query_dim();
    requirePositive("Attention", "query_dim", dim);
    requirePositive("Attention", "heads", options.heads());
    requirePositive("Attention", "dim_head", options.dim_head());
    const std::int64_t inner = options.heads() * options.dim_head();
    const std::int64_t contextDim = options.cross_attention_dim().value_or(dim);
    requirePositive("Attention", "cross_attention_dim", contextDim);
    group_norm = nullptr;
    if (options.norm_num_groups())
        group_norm = register_module("group_norm", groupNorm(*options.norm_num_groups(), dim, options.norm_eps()));
    to_q = register_module("to_q", linear(dim, inner, options.qkv_bias()));
    to_k = register_module("to_k", linear(contextDim, inner, options.qkv_bias()));
    to_v = register_module("to_v", linear(contextDim, inner, options.qkv_bias()));
    to_out = register_module("to_out", torch::nn::ModuleList(linear(inner, dim), torch::nn::Dropout(0.0)));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context)
{
    const bool spatial = x.dim() == 4;
    torch::Tensor h = spatial ? x.flatten(2).transpose(1, 2) : x; // [B, L, C]
    if (group_norm)
        h = group_norm->forward(h.transpose(1, 2)).transpose(1, 2);
    const torch::Tensor& source = context.defined() ? context : h;
    const std::int64_t batch = h.size(0);
    const std::int64_t heads = options.heads();
    const std::int64_t dimHead = options.dim_head();
    // [B, L, heads·d] → [B·heads, L, d], as diffusers' head_to_batch_dim.
    const auto split = [&](const torch::Tensor& t) {
        return t.reshape({ batch, t.size(1), heads, dimHead })
            .permute({ 0, 2, 1, 3 })
            .reshape({ batch * heads, t.size(1), dimHead });
    };
    const torch::Tensor q = split(to_q->forward(h));
    const torch::Tensor k = split(to_k->forward(source));
    const torch::Tensor v = split(to_v->forward(source));
    torch::Tensor out = attend(q, k, v, 1.0 / std::sqrt(static_cast<double>(dimHead)), options.backend(),
        options.query_chunk_size(), options.upcast());
    out = out.reshape({ batch, heads, q.size(1), dimHead })
              .permute({ 0, 2, 1, 3 })
              .reshape({ batch, q.size(1), heads * dimHead });
    out = child<torch::nn::LinearImpl>(*to_out, 0).forward(out);
    out = child<torch::nn::DropoutImpl>(*to_out, 1).forward(out);
    if (spatial)
        out = out.transpose(1, 2).reshape(x.sizes());
    if (options.residual_connection())
        out = out + x;
    return out;
}

void setAttentionBackend(torch::nn::Module& module, AttentionBackend backend, std::int64_t query_chunk_size)
{
    requirePositive("setAttentionBackend", "query_chunk_size", query_chunk_size);
    for (const auto& m : module.modules(/*include_self=*/true))
        if (auto* attention = m->as<AttentionImpl>()) {
            attention->options.backend(backend);
            attention->options.query_chunk_size(query_chunk_size);
        }
}

// ---------------------------------------------------------------------------------------------------------------

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
    torch::Tensor h = conv1->forward(torch::silu(norm1->forward(x)));
    if (time_emb_proj) {
        if (!temb.defined())
            throw Error("ResnetBlock2D: this block needs a time embedding");
        h = h + time_emb_proj->forward(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);
    }
    h = conv2->forward(dropout->forward(torch::silu(norm2->forward(h))));
    const torch::Tensor shortcut = conv_shortcut ? conv_shortcut->forward(x) : x;
    torch::Tensor out = shortcut + h;
    if (options.output_scale_factor() != 1.0)
        out = out / options.output_scale_factor();
    return out;
}

// ---------------------------------------------------------------------------------------------------------------

GEGLUImpl::GEGLUImpl(std::int64_t dim_in, std::int64_t dim_out)
    : dim_in(dim_in)
    , dim_out(dim_out)
{
    reset();
}

void GEGLUImpl::reset()
{
    proj = register_module("proj", linear(dim_in, dim_out * 2));
}

torch::Tensor GEGLUImpl::forward(const torch::Tensor& x)
{
    const auto parts = proj->forward(x).chunk(2, -1);
    return parts[0] * torch::gelu(parts[1]);
}

FeedForwardImpl::FeedForwardImpl(std::int64_t dim)
    : dim(dim)
{
    reset();
}

void FeedForwardImpl::reset()
{
    requirePositive("FeedForward", "dim", dim);
    net = register_module(
        "net", torch::nn::ModuleList(GEGLU(dim, dim * 4), torch::nn::Dropout(0.0), linear(dim * 4, dim)));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = child<GEGLUImpl>(*net, 0).forward(x);
    h = child<torch::nn::DropoutImpl>(*net, 1).forward(h);
    return child<torch::nn::LinearImpl>(*net, 2).forward(h);
}

BasicTransformerBlockOptions::BasicTransformerBlockOptions(std::int64_t dim, std::int64_t heads, std::int64_t dim_head)
    : dim_(dim)
    , heads_(heads)
    , dim_head_(dim_head)
{
}

BasicTransformerBlockImpl::BasicTransformerBlockImpl(BasicTransformerBlockOptions options)
    : options(std::move(options))
{
    reset();
}

void BasicTransformerBlockImpl::reset()
{
    const std::int64_t dim = options.dim();
    const auto layerNorm = [dim] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({ dim }).eps(1e-5)); };
    const auto attention = [&](std::optional<std::int64_t> context) {
        return Attention(AttentionOptions(dim, options.heads(), options.dim_head())
                             .cross_attention_dim(context)
                             .upcast(options.upcast_attention()));
    };
    norm1 = register_module("norm1", layerNorm());
    attn1 = register_module("attn1", attention(std::nullopt));
    norm2 = register_module("norm2", layerNorm());
    attn2 = register_module("attn2", attention(options.cross_attention_dim()));
    norm3 = register_module("norm3", layerNorm());
    ff = register_module("ff", FeedForward(dim));
}

torch::Tensor BasicTransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context)
{
    torch::Tensor h = attn1->forward(norm1->forward(x)) + x;
    h = attn2->forward(norm2->forward(h), options.cross_attention_dim() ? context : torch::Tensor()) + h;
    return ff->forward(norm3->forward(h)) + h;
}

// ---------------------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------------------

Downsample2DImpl::Downsample2DImpl(std::int64_t channels, std::int64_t padding)
    : channels(channels)
    , padding(padding)
{
    reset();
}

void Downsample2DImpl::reset()
{
    requirePositive("Downsample2D", "channels", channels);
    conv = register_module("conv", lethe::nn::conv(channels, channels, 3, 2, padding));
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
    conv = register_module("conv", lethe::nn::conv(channels, channels, 3, 1, 1));
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x, const std::vector<std::int64_t>& size)
{
    const std::vector<std::int64_t> target
        = size.empty() ? std::vector<std::int64_t> { x.size(2) * 2, x.size(3) * 2 } : size;
    return conv->forward(nearest(x, target));
}

// ---------------------------------------------------------------------------------------------------------------

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
    downsamplers = nullptr;
    if (options.add_resample())
        downsamplers = register_module(
            "downsamplers", torch::nn::ModuleList(Downsample2D(options.out_channels(), options.downsample_padding())));
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
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j)
        resnets->push_back(
            resnet(options, j == 0 ? options.in_channels() : options.out_channels(), options.out_channels()));
    downsamplers = nullptr;
    if (options.add_resample())
        downsamplers = register_module(
            "downsamplers", torch::nn::ModuleList(Downsample2D(options.out_channels(), options.downsample_padding())));
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
    upsamplers = nullptr;
    if (options.add_resample())
        upsamplers = register_module("upsamplers", torch::nn::ModuleList(Upsample2D(options.out_channels())));
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
    upsamplers = nullptr;
    if (options.add_resample())
        upsamplers = register_module("upsamplers", torch::nn::ModuleList(Upsample2D(options.out_channels())));
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
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j)
        resnets->push_back(
            resnet(options, j == 0 ? options.in_channels() : options.out_channels(), options.out_channels()));
    downsamplers = nullptr;
    if (options.add_resample())
        downsamplers = register_module(
            "downsamplers", torch::nn::ModuleList(Downsample2D(options.out_channels(), options.downsample_padding())));
}

torch::Tensor DownEncoderBlock2DImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = x;
    for (std::size_t j = 0; j < resnets->size(); ++j)
        h = child<ResnetBlock2DImpl>(*resnets, j).forward(h);
    if (downsamplers)
        h = child<Downsample2DImpl>(*downsamplers, 0).forward(h);
    return h;
}

UpDecoderBlock2DImpl::UpDecoderBlock2DImpl(UNetBlock2DOptions options)
    : options(std::move(options))
{
    reset();
}

void UpDecoderBlock2DImpl::reset()
{
    checkLayers("UpDecoderBlock2D", options);
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (std::int64_t j = 0; j < options.num_layers(); ++j)
        resnets->push_back(
            resnet(options, j == 0 ? options.in_channels() : options.out_channels(), options.out_channels()));
    upsamplers = nullptr;
    if (options.add_resample())
        upsamplers = register_module("upsamplers", torch::nn::ModuleList(Upsample2D(options.out_channels())));
}

torch::Tensor UpDecoderBlock2DImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = x;
    for (std::size_t j = 0; j < resnets->size(); ++j)
        h = child<ResnetBlock2DImpl>(*resnets, j).forward(h);
    if (upsamplers)
        h = child<Upsample2DImpl>(*upsamplers, 0).forward(h);
    return h;
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

// ---------------------------------------------------------------------------------------------------------------

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

} // namespace lethe::nn
