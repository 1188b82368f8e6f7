#include "attention.h"

#include "layer_support.h"

#include "core/error.h"
#include "core/nn/checkpoint.h"
#include "core/torch_version.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lethe::models::sd {

using detail::child;
using detail::conv;
using detail::groupNorm;
using detail::linear;
using detail::normed;
using detail::requirePositive;

namespace {

/// softmax(q·kᵀ·scale), in float32 for half types (the scores too with `upcast`), else in q's type.
torch::Tensor probabilities(const torch::Tensor& q, const torch::Tensor& k, double scale, bool upcast)
{
    const bool half = q.scalar_type() == torch::kHalf || q.scalar_type() == torch::kBFloat16;
    torch::Tensor scores = upcast && half ? torch::matmul(q.to(torch::kFloat32), k.to(torch::kFloat32).transpose(1, 2))
                                          : torch::matmul(q, k.transpose(1, 2));
    scores.mul_(scale);
    return half ? torch::softmax(scores, -1, torch::kFloat32) : torch::softmax(scores, -1);
}

torch::Tensor attendChunk(
    const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale, bool upcast)
{
    return torch::matmul(probabilities(q, k, scale, upcast).to(v.scalar_type()), v);
}

/// attendChunk over chunks of `chunk` queries. Each chunk's softmax covers all keys, so the rows are exactly the
/// standard backend's; only the [B, chunk, Lk] score block exists at a time.
torch::Tensor chunkedForward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale,
    std::int64_t chunk, bool upcast)
{
    const std::int64_t queries = q.size(1);
    torch::Tensor out = torch::empty({ q.size(0), queries, v.size(2) }, v.options());
    for (std::int64_t start = 0; start < queries; start += chunk) {
        const std::int64_t n = std::min(queries, start + chunk) - start;
        out.narrow(1, start, n).copy_(attendChunk(q.narrow(1, start, n), k, v, scale, upcast));
    }
    return out;
}

/// The memory-efficient backend while gradients are recorded: the forward pass keeps q, k, v and the output, not
/// the [B, Lq, Lk] probabilities that autograd would keep for each chunk, and the backward pass recomputes each
/// chunk's probabilities P to get, with D = rowsum(dO ⊙ O):
///   dV = Σ Pᵀ·dO,   dS = P ⊙ (dO·Vᵀ − D),   dQ = scale · dS·K,   dK = Σ scale · dSᵀ·Q.
class ChunkedAttention : public torch::autograd::Function<ChunkedAttention> {
public:
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
        const torch::Tensor& v, double scale, std::int64_t chunk, bool upcast)
    {
        const torch::Tensor out = chunkedForward(q, k, v, scale, chunk, upcast);
        ctx->save_for_backward({ q, k, v, out });
        ctx->saved_data["scale"] = scale;
        ctx->saved_data["chunk"] = chunk;
        ctx->saved_data["upcast"] = upcast;
        return out;
    }

    static torch::autograd::variable_list backward(
        torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads)
    {
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3];
        const double scale = ctx->saved_data["scale"].toDouble();
        const std::int64_t chunk = ctx->saved_data["chunk"].toInt();
        const bool upcast = ctx->saved_data["upcast"].toBool();
        const torch::Tensor dOut = grads[0].to(v.scalar_type());
        torch::Tensor dq = torch::empty_like(q);
        torch::Tensor dk = torch::zeros_like(k);
        torch::Tensor dv = torch::zeros_like(v);
        const std::int64_t queries = q.size(1);
        for (std::int64_t start = 0; start < queries; start += chunk) {
            const std::int64_t n = std::min(queries, start + chunk) - start;
            const torch::Tensor qc = q.narrow(1, start, n);
            const torch::Tensor dOc = dOut.narrow(1, start, n);
            const torch::Tensor p = probabilities(qc, k, scale, upcast).to(v.scalar_type());
            dv.add_(torch::matmul(p.transpose(1, 2), dOc));
            const torch::Tensor rowDot = (dOc * out.narrow(1, start, n)).sum(-1, /*keepdim=*/true);
            const torch::Tensor dScores = p * (torch::matmul(dOc, v.transpose(1, 2)) - rowDot) * scale;
            dq.narrow(1, start, n).copy_(torch::matmul(dScores, k));
            dk.add_(torch::matmul(dScores.transpose(1, 2), qc));
        }
        return { dq, dk, dv, torch::Tensor(), torch::Tensor(), torch::Tensor() };
    }
};

} // namespace

const EnumNames<AttentionBackend>& enumNames(AttentionBackend)
{
    static const EnumNames<AttentionBackend> table
        = { { AttentionBackend::Standard, "standard" }, { AttentionBackend::MemoryEfficient, "memory_efficient" } };
    return table;
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, double scale,
    AttentionBackend backend, std::int64_t query_chunk_size, bool upcast)
{
    if (backend == AttentionBackend::MemoryEfficient && torch::GradMode::is_enabled()
        && (q.requires_grad() || k.requires_grad() || v.requires_grad())) {
#if LETHE_TORCH_HAS_SDPA
        // LibTorch's fused kernels keep no score matrix for the backward pass either; their scale is 1/√d, ours.
        if (!upcast && std::abs(scale * std::sqrt(static_cast<double>(q.size(2))) - 1.0) < 1e-12)
            return torch::scaled_dot_product_attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)).squeeze(0);
#endif
        requirePositive("attend", "query_chunk_size", query_chunk_size);
        return ChunkedAttention::apply(q, k, v, scale, query_chunk_size, upcast);
    }
    if (backend == AttentionBackend::Standard || q.size(1) <= query_chunk_size)
        return attendChunk(q, k, v, scale, upcast);
    requirePositive("attend", "query_chunk_size", query_chunk_size);
    return chunkedForward(q, k, v, scale, query_chunk_size, upcast);
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
        h = normed(*group_norm, h.transpose(1, 2)).transpose(1, 2);
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
    torch::Tensor h = attn1->forward(normed(*norm1, x)) + x;
    h = attn2->forward(normed(*norm2, h), options.cross_attention_dim() ? context : torch::Tensor()) + h;
    return ff->forward(normed(*norm3, h)) + h;
}

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
    if (gradient_checkpointing && torch::GradMode::is_enabled())
        return nn::checkpoint([this](const std::vector<torch::Tensor>& in) { return compute(in[0], in[1]); },
            { x, context }, nn::trainedParameters(*this));
    return compute(x, context);
}

torch::Tensor Transformer2DModelImpl::compute(const torch::Tensor& x, const torch::Tensor& context)
{
    const std::int64_t n = x.size(0), height = x.size(2), width = x.size(3);
    torch::Tensor h = normed(*norm, x);
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
