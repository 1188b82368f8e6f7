#include "clip_vision.h"

#include "core/error.h"
#include "core/nn/state_dict.h"

namespace lethe::models::clip {

namespace {

std::int64_t patchesPerSide(const ClipVisionOptions& options)
{
    if (options.patch_size() <= 0 || options.image_size() % options.patch_size() != 0)
        throw Error("CLIP vision model: patch_size " + std::to_string(options.patch_size())
            + " does not divide image_size " + std::to_string(options.image_size()));
    return options.image_size() / options.patch_size();
}

} // namespace

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionOptions& options_)
    : options(options_)
{
    const std::int64_t side = patchesPerSide(options);
    class_embedding = register_parameter("class_embedding", torch::randn({ options.hidden_size() }));
    patch_embedding = register_module("patch_embedding",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(options.num_channels(), options.hidden_size(), options.patch_size())
                              .stride(options.patch_size())
                              .bias(false)));
    position_embedding
        = register_module("position_embedding", torch::nn::Embedding(side * side + 1, options.hidden_size()));
}

torch::Tensor ClipVisionEmbeddingsImpl::forward(const torch::Tensor& pixels)
{
    const std::vector<std::int64_t> expected = { options.num_channels(), options.image_size(), options.image_size() };
    if (pixels.dim() != 4 || pixels.sizes().slice(1).vec() != expected)
        throw Error("CLIP vision model: expected images [N, " + std::to_string(expected[0]) + ", "
            + std::to_string(expected[1]) + ", " + std::to_string(expected[2]) + "], found "
            + nn::shapeText(pixels.sizes().vec()));
    const torch::Tensor patches = patch_embedding(pixels.to(class_embedding.scalar_type())).flatten(2).transpose(1, 2);
    const torch::Tensor classToken = class_embedding.view({ 1, 1, -1 }).expand({ pixels.size(0), 1, -1 });
    return torch::cat({ classToken, patches }, 1) + position_embedding->weight.unsqueeze(0);
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionOptions& options_)
    : options(options_)
{
    const auto norm = torch::nn::LayerNormOptions({ options.hidden_size() }).eps(options.layer_norm_eps());
    embeddings = register_module("embeddings", ClipVisionEmbeddings(options));
    pre_layrnorm = register_module("pre_layrnorm", torch::nn::LayerNorm(norm));
    encoder = register_module("encoder", sd::ClipEncoder(sd::clipEncoderOptions(options)));
    post_layernorm = register_module("post_layernorm", torch::nn::LayerNorm(norm));
}

ClipVisionOutput ClipVisionTransformerImpl::forward(const torch::Tensor& pixels)
{
    const torch::Tensor hidden = encoder(pre_layrnorm(embeddings(pixels)), torch::Tensor());
    return { hidden, post_layernorm(hidden.select(1, 0)) };
}

} // namespace lethe::models::clip
