#include "clip_text_layers.h"

#include "core/error.h"
#include "core/io/json_fields.h"

#include <cmath>
#include <sstream>

namespace lethe::models::sd {

const EnumNames<ClipActivation>& enumNames(ClipActivation)
{
    static const EnumNames<ClipActivation> table
        = { { ClipActivation::QuickGelu, "quick_gelu" }, { ClipActivation::Gelu, "gelu" },
              { ClipActivation::GeluTanh, "gelu_new" }, { ClipActivation::GeluTanh, "gelu_pytorch_tanh" } };
    return table;
}

torch::Tensor clipActivation(const torch::Tensor& x, ClipActivation activation)
{
    switch (activation) {
    case ClipActivation::QuickGelu:
        return x * torch::sigmoid(1.702 * x);
    case ClipActivation::Gelu:
        return torch::gelu(x);
    case ClipActivation::GeluTanh:
        return torch::gelu(x, "tanh");
    }
    return x;
}

ClipTextOptions clipTextSd1Options()
{
    return ClipTextOptions()
        .vocab_size(49408)
        .hidden_size(768)
        .intermediate_size(3072)
        .num_hidden_layers(12)
        .num_attention_heads(12)
        .max_position_embeddings(77)
        .hidden_act(ClipActivation::QuickGelu)
        .layer_norm_eps(1e-5)
        .bos_token_id(0)
        .eos_token_id(2)
        .pad_token_id(1)
        .projection_dim(768);
}

ClipTextOptions clipTextSdxl2Options()
{
    return ClipTextOptions()
        .vocab_size(49408)
        .hidden_size(1280)
        .intermediate_size(5120)
        .num_hidden_layers(32)
        .num_attention_heads(20)
        .max_position_embeddings(77)
        .hidden_act(ClipActivation::Gelu)
        .layer_norm_eps(1e-5)
        .bos_token_id(0)
        .eos_token_id(2)
        .pad_token_id(1)
        .projection_dim(1280);
}

std::int64_t readPositiveInt(const io::JsonFields& fields, const std::string& key, std::int64_t fallback)
{
    const auto value = fields.get<std::int64_t>(key, fallback);
    if (value <= 0)
        fields.fail(key, "expected a positive integer, found " + std::to_string(value));
    return value;
}

ClipEncoderOptions readClipEncoderFields(const io::JsonFields& fields, ClipEncoderOptions options)
{
    options.hidden_size(readPositiveInt(fields, "hidden_size", options.hidden_size()));
    options.intermediate_size(readPositiveInt(fields, "intermediate_size", options.intermediate_size()));
    options.num_hidden_layers(readPositiveInt(fields, "num_hidden_layers", options.num_hidden_layers()));
    options.num_attention_heads(readPositiveInt(fields, "num_attention_heads", options.num_attention_heads()));
    if (options.hidden_size() % options.num_attention_heads() != 0)
        fields.fail("num_attention_heads",
            "expected a divisor of hidden_size (" + std::to_string(options.hidden_size()) + "), found "
                + std::to_string(options.num_attention_heads()));

    const std::string activation = fields.get<std::string>("hidden_act", enumName(options.hidden_act()));
    const auto parsed = enumFromName<ClipActivation>(activation);
    if (!parsed)
        fields.fail(
            "hidden_act", "expected " + enumNameList(ClipActivation {}, "\"") + ", found \"" + activation + "\"");
    options.hidden_act(*parsed);

    options.layer_norm_eps(fields.get<double>("layer_norm_eps", options.layer_norm_eps()));
    if (!(options.layer_norm_eps() > 0.0)) {
        std::ostringstream shown;
        shown << options.layer_norm_eps();
        fields.fail("layer_norm_eps", "expected a positive number, found " + shown.str());
    }
    return options;
}

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextOptions& options)
{
    token_embedding
        = register_module("token_embedding", torch::nn::Embedding(options.vocab_size(), options.hidden_size()));
    position_embedding = register_module(
        "position_embedding", torch::nn::Embedding(options.max_position_embeddings(), options.hidden_size()));
}

torch::Tensor ClipTextEmbeddingsImpl::forward(const torch::Tensor& ids)
{
    const std::int64_t length = ids.size(1);
    const std::int64_t positions = position_embedding->weight.size(0);
    if (length > positions)
        throw Error("CLIP text model: " + std::to_string(length) + " tokens, but the model has only "
            + std::to_string(positions) + " positions");
    return token_embedding(ids) + position_embedding->weight.narrow(0, 0, length).unsqueeze(0);
}

namespace {

std::int64_t headWidth(const ClipEncoderOptions& options)
{
    if (options.num_attention_heads() <= 0 || options.hidden_size() % options.num_attention_heads() != 0)
        throw Error("CLIP attention: hidden_size " + std::to_string(options.hidden_size())
            + " is not a positive multiple of num_attention_heads " + std::to_string(options.num_attention_heads()));
    return options.hidden_size() / options.num_attention_heads();
}

} // namespace

ClipAttentionImpl::ClipAttentionImpl(const ClipEncoderOptions& options)
    : heads(options.num_attention_heads())
    , headDim(headWidth(options))
    , scale(1.0 / std::sqrt(static_cast<double>(headDim)))
{
    const std::int64_t width = options.hidden_size();
    // transformers registers them in this order, which fixes the state dict's order.
    k_proj = register_module("k_proj", torch::nn::Linear(width, width));
    v_proj = register_module("v_proj", torch::nn::Linear(width, width));
    q_proj = register_module("q_proj", torch::nn::Linear(width, width));
    out_proj = register_module("out_proj", torch::nn::Linear(width, width));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask)
{
    const std::int64_t batch = x.size(0);
    const std::int64_t length = x.size(1);
    const auto split = [&](const torch::Tensor& t) {
        return t.view({ batch, length, heads, headDim }).transpose(1, 2);
    };
    const torch::Tensor q = split(q_proj(x) * scale);
    const torch::Tensor k = split(k_proj(x));
    const torch::Tensor v = split(v_proj(x));
    torch::Tensor logits = torch::matmul(q, k.transpose(-1, -2));
    if (mask.defined())
        logits = logits + mask;
    // Softmax in float32 as transformers does, so half-precision runs do not lose the small weights.
    const torch::Tensor weights = torch::softmax(logits, -1, torch::kFloat32).to(x.scalar_type());
    const torch::Tensor attended
        = torch::matmul(weights, v).transpose(1, 2).reshape({ batch, length, heads * headDim });
    return out_proj(attended);
}

ClipMlpImpl::ClipMlpImpl(const ClipEncoderOptions& options)
    : activation(options.hidden_act())
{
    fc1 = register_module("fc1", torch::nn::Linear(options.hidden_size(), options.intermediate_size()));
    fc2 = register_module("fc2", torch::nn::Linear(options.intermediate_size(), options.hidden_size()));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x)
{
    return fc2(clipActivation(fc1(x), activation));
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipEncoderOptions& options)
{
    const auto norm = torch::nn::LayerNormOptions({ options.hidden_size() }).eps(options.layer_norm_eps());
    self_attn = register_module("self_attn", ClipAttention(options));
    layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(norm));
    mlp = register_module("mlp", ClipMlp(options));
    layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(norm));
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask)
{
    const torch::Tensor h = x + self_attn(layer_norm1(x), mask);
    return h + mlp(layer_norm2(h));
}

ClipEncoderImpl::ClipEncoderImpl(const ClipEncoderOptions& options)
{
    layers = register_module("layers", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < options.num_hidden_layers(); ++i)
        layers->push_back(ClipEncoderLayer(options));
}

torch::Tensor ClipEncoderImpl::forward(torch::Tensor x, const torch::Tensor& mask)
{
    for (const auto& layer : *layers)
        x = layer->as<ClipEncoderLayer>()->forward(x, mask);
    return x;
}

} // namespace lethe::models::sd
