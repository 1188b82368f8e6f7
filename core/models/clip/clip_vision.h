#pragma once

// transformers' CLIPVisionTransformer (models/clip/modeling_clip.py), registered under its state-dict names
// ("embeddings", "pre_layrnorm" as transformers spells it, "encoder", "post_layernorm"). The encoder layers
// are the text model's: both towers of CLIP are the same pre-norm transformer.

#include "core/models/sd/clip_text_layers.h"

#include <torch/nn/modules/conv.h>

namespace lethe::models::clip {

/// CLIPVisionConfig's fields that shape the network. Defaults are transformers' CLIPVisionConfig defaults.
struct ClipVisionOptions {
    /// Width of the residual stream. Default 768.
    TORCH_ARG(std::int64_t, hidden_size) = 768;
    /// Width of the MLP. Default 3072.
    TORCH_ARG(std::int64_t, intermediate_size) = 3072;
    /// Default 12.
    TORCH_ARG(std::int64_t, num_hidden_layers) = 12;
    /// Must divide hidden_size. Default 12.
    TORCH_ARG(std::int64_t, num_attention_heads) = 12;
    /// Default 3.
    TORCH_ARG(std::int64_t, num_channels) = 3;
    /// The side of the square input image. Default 224.
    TORCH_ARG(std::int64_t, image_size) = 224;
    /// The side of a patch; must divide image_size. Default 32.
    TORCH_ARG(std::int64_t, patch_size) = 32;
    /// Default quick_gelu.
    TORCH_ARG(sd::ClipActivation, hidden_act) = sd::ClipActivation::QuickGelu;
    /// Default 1e-5.
    TORCH_ARG(double, layer_norm_eps) = 1e-5;
};

/// Patches and a class token with learned positions: "class_embedding" [H], "patch_embedding.weight"
/// [H, C, P, P] (a convolution without bias), "position_embedding.weight" [(S/P)² + 1, H].
class ClipVisionEmbeddingsImpl : public torch::nn::Module {
public:
    explicit ClipVisionEmbeddingsImpl(const ClipVisionOptions& options);
    /// pixels [N, C, S, S] → [N, (S/P)² + 1, H], the class token first.
    torch::Tensor forward(const torch::Tensor& pixels);

    ClipVisionOptions options;
    torch::Tensor class_embedding;
    torch::nn::Conv2d patch_embedding { nullptr };
    torch::nn::Embedding position_embedding { nullptr };
};
TORCH_MODULE(ClipVisionEmbeddings);

/// What the vision model returns.
struct ClipVisionOutput {
    /// [N, T, H]: the encoder's output for the class token and every patch.
    torch::Tensor last_hidden_state;
    /// [N, H]: post_layernorm of the class token's output.
    torch::Tensor pooler_output;
};

/// CLIPVisionTransformer: embeddings, pre_layrnorm, encoder (no attention mask), post_layernorm on the class token.
class ClipVisionTransformerImpl : public torch::nn::Module {
public:
    explicit ClipVisionTransformerImpl(const ClipVisionOptions& options);
    /// pixels [N, num_channels, image_size, image_size], normalised as CLIPImageProcessor does.
    ClipVisionOutput forward(const torch::Tensor& pixels);

    ClipVisionOptions options;
    ClipVisionEmbeddings embeddings { nullptr };
    torch::nn::LayerNorm pre_layrnorm { nullptr };
    sd::ClipEncoder encoder { nullptr };
    torch::nn::LayerNorm post_layernorm { nullptr };
};
TORCH_MODULE(ClipVisionTransformer);

} // namespace lethe::models::clip
