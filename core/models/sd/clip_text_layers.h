#pragma once

// The parts of transformers' CLIPTextModel (models/clip/modeling_clip.py), registered under its state-dict
// names, so that diffusers text encoders load name for name.

#include "core/enum_names.h"

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace lethe::io {
class JsonFields;
} // namespace lethe::io

namespace lethe::models::sd {

/// The MLP's activation (config.json "hidden_act").
enum class ClipActivation {
    QuickGelu, ///< "quick_gelu": x · sigmoid(1.702 x), OpenAI CLIP's.
    Gelu, ///< "gelu": the exact GELU.
    GeluTanh, ///< "gelu_new" or "gelu_pytorch_tanh": GELU's tanh approximation.
};

/// transformers' spellings, for enumName and enumFromName (core/enum_names.h): "quick_gelu", "gelu", "gelu_new" (also
/// read as "gelu_pytorch_tanh").
const EnumNames<ClipActivation>& enumNames(ClipActivation);
/// Applies the activation.
torch::Tensor clipActivation(const torch::Tensor& x, ClipActivation activation);

/// CLIPTextConfig's fields that shape the network. Defaults are transformers' CLIPTextConfig defaults.
struct ClipTextOptions {
    /// Default 49408.
    TORCH_ARG(std::int64_t, vocab_size) = 49408;
    /// Width of the residual stream. Default 512.
    TORCH_ARG(std::int64_t, hidden_size) = 512;
    /// Width of the MLP. Default 2048.
    TORCH_ARG(std::int64_t, intermediate_size) = 2048;
    /// Default 12.
    TORCH_ARG(std::int64_t, num_hidden_layers) = 12;
    /// Must divide hidden_size. Default 8.
    TORCH_ARG(std::int64_t, num_attention_heads) = 8;
    /// The longest token sequence. Default 77.
    TORCH_ARG(std::int64_t, max_position_embeddings) = 77;
    /// Default quick_gelu.
    TORCH_ARG(ClipActivation, hidden_act) = ClipActivation::QuickGelu;
    /// Default 1e-5.
    TORCH_ARG(double, layer_norm_eps) = 1e-5;
    /// Default 49406.
    TORCH_ARG(std::int64_t, bos_token_id) = 49406;
    /// The pooled output is taken at this token; 2 (legacy configs) means "at the largest id". Default 49407.
    TORCH_ARG(std::int64_t, eos_token_id) = 49407;
    /// Default 1.
    TORCH_ARG(std::int64_t, pad_token_id) = 1;
    /// Width of text_projection in CLIPTextModelWithProjection (unused by CLIPTextModel). Default 512.
    TORCH_ARG(std::int64_t, projection_dim) = 512;
};

/// The text encoder of Stable Diffusion 1.x (OpenAI CLIP ViT-L/14's), as its text_encoder/config.json says.
ClipTextOptions clipTextSd1Options();
/// SDXL's second text encoder (OpenCLIP ViT-bigG/14 as CLIPTextModelWithProjection), as its
/// text_encoder_2/config.json says. SDXL's first is clipTextSd1Options().
ClipTextOptions clipTextSdxl2Options();

/// The shape of a transformer encoder, shared by CLIP's text and vision towers. Defaults are CLIPTextConfig's.
struct ClipEncoderOptions {
    /// Width of the residual stream. Default 512.
    TORCH_ARG(std::int64_t, hidden_size) = 512;
    /// Width of the MLP. Default 2048.
    TORCH_ARG(std::int64_t, intermediate_size) = 2048;
    /// Default 12.
    TORCH_ARG(std::int64_t, num_hidden_layers) = 12;
    /// Must divide hidden_size. Default 8.
    TORCH_ARG(std::int64_t, num_attention_heads) = 8;
    /// Default quick_gelu.
    TORCH_ARG(ClipActivation, hidden_act) = ClipActivation::QuickGelu;
    /// Default 1e-5.
    TORCH_ARG(double, layer_norm_eps) = 1e-5;
};

/// The encoder part of a tower's options (ClipTextOptions or clip::ClipVisionOptions, which name these fields
/// alike). A template, so in the header.
template <typename TowerOptions> ClipEncoderOptions clipEncoderOptions(const TowerOptions& options)
{
    return ClipEncoderOptions()
        .hidden_size(options.hidden_size())
        .intermediate_size(options.intermediate_size())
        .num_hidden_layers(options.num_hidden_layers())
        .num_attention_heads(options.num_attention_heads())
        .hidden_act(options.hidden_act())
        .layer_norm_eps(options.layer_norm_eps());
}

/// Sets a tower's encoder fields from `encoder`.
template <typename TowerOptions> void setEncoderOptions(TowerOptions& options, const ClipEncoderOptions& encoder)
{
    options.hidden_size(encoder.hidden_size())
        .intermediate_size(encoder.intermediate_size())
        .num_hidden_layers(encoder.num_hidden_layers())
        .num_attention_heads(encoder.num_attention_heads())
        .hidden_act(encoder.hidden_act())
        .layer_norm_eps(encoder.layer_norm_eps());
}

/// A positive integer under `key`, `fallback` when absent. Throws FormatError(file, key) otherwise.
std::int64_t readPositiveInt(const io::JsonFields& fields, const std::string& key, std::int64_t fallback);

/// Reads the encoder keys of a CLIP text or vision config (hidden_size, intermediate_size, num_hidden_layers,
/// num_attention_heads, hidden_act, layer_norm_eps); absent keys keep `defaults`. Throws FormatError(file, key)
/// for a value of the wrong type, a size that is not positive, heads that do not divide hidden_size or an
/// unknown hidden_act.
ClipEncoderOptions readClipEncoderFields(const io::JsonFields& fields, ClipEncoderOptions defaults);

/// Token and learned position embeddings: "token_embedding.weight" [vocab, H], "position_embedding.weight" [P, H].
class ClipTextEmbeddingsImpl : public torch::nn::Module {
public:
    explicit ClipTextEmbeddingsImpl(const ClipTextOptions& options);
    /// ids [N, L] (L ≤ max_position_embeddings) → [N, L, H].
    torch::Tensor forward(const torch::Tensor& ids);

    torch::nn::Embedding token_embedding { nullptr };
    torch::nn::Embedding position_embedding { nullptr };
};
TORCH_MODULE(ClipTextEmbeddings);

/// Multi-head self-attention with "k_proj", "v_proj", "q_proj" and "out_proj" linear layers.
class ClipAttentionImpl : public torch::nn::Module {
public:
    explicit ClipAttentionImpl(const ClipEncoderOptions& options);
    /// x [N, L, H]; mask [L, L] added to the attention logits (undefined: none).
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

    std::int64_t heads;
    std::int64_t headDim;
    double scale;
    torch::nn::Linear k_proj { nullptr };
    torch::nn::Linear v_proj { nullptr };
    torch::nn::Linear q_proj { nullptr };
    torch::nn::Linear out_proj { nullptr };
};
TORCH_MODULE(ClipAttention);

/// fc1, activation, fc2.
class ClipMlpImpl : public torch::nn::Module {
public:
    explicit ClipMlpImpl(const ClipEncoderOptions& options);
    torch::Tensor forward(const torch::Tensor& x);

    ClipActivation activation;
    torch::nn::Linear fc1 { nullptr };
    torch::nn::Linear fc2 { nullptr };
};
TORCH_MODULE(ClipMlp);

/// A pre-norm transformer block: x + attn(layer_norm1(x)), then x + mlp(layer_norm2(x)).
class ClipEncoderLayerImpl : public torch::nn::Module {
public:
    explicit ClipEncoderLayerImpl(const ClipEncoderOptions& options);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

    ClipAttention self_attn { nullptr };
    torch::nn::LayerNorm layer_norm1 { nullptr };
    ClipMlp mlp { nullptr };
    torch::nn::LayerNorm layer_norm2 { nullptr };
};
TORCH_MODULE(ClipEncoderLayer);

/// num_hidden_layers blocks under "layers.{i}".
class ClipEncoderImpl : public torch::nn::Module {
public:
    explicit ClipEncoderImpl(const ClipEncoderOptions& options);
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask);

    torch::nn::ModuleList layers { nullptr };
};
TORCH_MODULE(ClipEncoder);

} // namespace lethe::models::sd
