#pragma once

// A tiny CLIPModel with random weights, written as a Hugging Face model folder (config.json, model.safetensors,
// the tokenizer files), for the tests of the CLIP alignment score and of the commands that report it.
#include "core/io/safetensors.h"
#include "core/models/clip/clip_model.h"
#include "core/models/sd/bpe_trainer.h"
#include "test_support.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace lethe::test {

/// The tiny model's sizes: both towers 16 wide, 2 layers, 4 heads; 8×8 images in 4×4 patches; 8-wide embeddings.
constexpr std::int64_t kClipWidth = 16;
constexpr std::int64_t kClipMlp = 24;
constexpr std::int64_t kClipLayers = 2;
constexpr std::int64_t kClipImage = 8;
constexpr std::int64_t kClipPatch = 4;
constexpr std::int64_t kClipProjection = 8;
constexpr std::int64_t kClipMaxLength = 16;

/// Words the tiny tokenizer learns (others still encode, byte by byte).
inline std::vector<std::string> tinyClipTexts()
{
    return { "a red shirt", "a blue dress", "a green bag", "a photo of a cat" };
}

/// config.json of the tiny model: OpenAI's layout, quick_gelu text tower and a GELU vision tower, for a
/// vocabulary of `vocab` entries whose last two are <|startoftext|> and <|endoftext|>, and images `imageSize` pixels
/// square (a multiple of kClipPatch).
inline nlohmann::json tinyClipConfig(std::int64_t vocab, std::int64_t imageSize = kClipImage)
{
    const auto tower = [](const char* type, const char* act) {
        return nlohmann::json { { "model_type", type }, { "hidden_size", kClipWidth },
            { "intermediate_size", kClipMlp }, { "num_hidden_layers", kClipLayers }, { "num_attention_heads", 4 },
            { "hidden_act", act }, { "layer_norm_eps", 1e-5 }, { "projection_dim", kClipProjection } };
    };
    nlohmann::json text = tower("clip_text_model", "quick_gelu");
    text["vocab_size"] = vocab;
    text["max_position_embeddings"] = kClipMaxLength;
    text["bos_token_id"] = vocab - 2;
    text["eos_token_id"] = vocab - 1;
    text["pad_token_id"] = vocab - 1;
    nlohmann::json vision = tower("clip_vision_model", "gelu");
    vision["image_size"] = imageSize;
    vision["patch_size"] = kClipPatch;
    vision["num_channels"] = 3;
    return { { "architectures", { "CLIPModel" } }, { "model_type", "clip" }, { "projection_dim", kClipProjection },
        { "logit_scale_init_value", 2.6592 }, { "text_config", text }, { "vision_config", vision } };
}

/// transformers' state-dict names and shapes for the tiny model, written out independently of Lethe's modules.
inline std::vector<std::pair<std::string, std::vector<std::int64_t>>> tinyClipShapes(
    std::int64_t vocab, std::int64_t imageSize = kClipImage)
{
    const std::int64_t w = kClipWidth;
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes;
    const auto layers = [&](const std::string& tower) {
        for (std::int64_t i = 0; i < kClipLayers; ++i) {
            const std::string layer = tower + ".encoder.layers." + std::to_string(i) + ".";
            for (const char* proj : { "k_proj", "v_proj", "q_proj", "out_proj" }) {
                shapes.push_back({ layer + "self_attn." + proj + ".weight", { w, w } });
                shapes.push_back({ layer + "self_attn." + proj + ".bias", { w } });
            }
            shapes.push_back({ layer + "layer_norm1.weight", { w } });
            shapes.push_back({ layer + "layer_norm1.bias", { w } });
            shapes.push_back({ layer + "mlp.fc1.weight", { kClipMlp, w } });
            shapes.push_back({ layer + "mlp.fc1.bias", { kClipMlp } });
            shapes.push_back({ layer + "mlp.fc2.weight", { w, kClipMlp } });
            shapes.push_back({ layer + "mlp.fc2.bias", { w } });
            shapes.push_back({ layer + "layer_norm2.weight", { w } });
            shapes.push_back({ layer + "layer_norm2.bias", { w } });
        }
    };
    shapes.push_back({ "text_model.embeddings.token_embedding.weight", { vocab, w } });
    shapes.push_back({ "text_model.embeddings.position_embedding.weight", { kClipMaxLength, w } });
    layers("text_model");
    shapes.push_back({ "text_model.final_layer_norm.weight", { w } });
    shapes.push_back({ "text_model.final_layer_norm.bias", { w } });
    const std::int64_t patches = (imageSize / kClipPatch) * (imageSize / kClipPatch);
    shapes.push_back({ "vision_model.embeddings.class_embedding", { w } });
    shapes.push_back({ "vision_model.embeddings.patch_embedding.weight", { w, 3, kClipPatch, kClipPatch } });
    shapes.push_back({ "vision_model.embeddings.position_embedding.weight", { patches + 1, w } });
    shapes.push_back({ "vision_model.pre_layrnorm.weight", { w } });
    shapes.push_back({ "vision_model.pre_layrnorm.bias", { w } });
    layers("vision_model");
    shapes.push_back({ "vision_model.post_layernorm.weight", { w } });
    shapes.push_back({ "vision_model.post_layernorm.bias", { w } });
    shapes.push_back({ "visual_projection.weight", { kClipProjection, w } });
    shapes.push_back({ "text_projection.weight", { kClipProjection, w } });
    shapes.push_back({ "logit_scale", {} });
    return shapes;
}

/// The tensors of a tiny CLIP folder, by name.
using ClipTensors = std::map<std::string, torch::Tensor>;

/// Writes a tiny CLIPModel folder: tokenizer learnt from tinyClipTexts(), config.json, and model.safetensors with
/// weights drawn from a generator seeded with `seed` (norm weights near 1), plus the position-ids buffers older
/// transformers saved. `edit` may change the tensor list before it is written. Images are `imageSize` pixels square.
/// Returns the tensors written.
inline ClipTensors writeTinyClipFolder(const std::filesystem::path& folder, std::uint64_t seed = 3,
    const std::function<void(std::vector<io::NamedTensor>&)>& edit = {}, std::int64_t imageSize = kClipImage)
{
    const models::sd::BpeVocabulary vocabulary = models::sd::learnBpe(tinyClipTexts());
    models::sd::writeClipTokenizerFolder(folder, vocabulary, static_cast<int>(kClipMaxLength));
    const auto vocab = static_cast<std::int64_t>(vocabulary.tokens.size());
    writeBytes(folder / "config.json", tinyClipConfig(vocab, imageSize).dump(2));

    torch::manual_seed(seed);
    std::vector<io::NamedTensor> tensors;
    for (const auto& [name, shape] : tinyClipShapes(vocab, imageSize)) {
        torch::Tensor t = 0.3 * torch::randn(shape);
        if (name.find("norm") != std::string::npos && name.find(".weight") != std::string::npos)
            t = t + 1.0;
        tensors.push_back({ name, t });
    }
    tensors.push_back({ "text_model.embeddings.position_ids", torch::arange(kClipMaxLength).unsqueeze(0) });
    tensors.push_back({ "vision_model.embeddings.position_ids",
        torch::arange((imageSize / kClipPatch) * (imageSize / kClipPatch) + 1).unsqueeze(0) });
    if (edit)
        edit(tensors);
    io::writeSafetensors(folder / "model.safetensors", tensors);
    ClipTensors byName;
    for (const auto& t : tensors)
        byName[t.name] = t.tensor;
    return byName;
}

/// Writes a tiny CLIP folder without its model.safetensors (a download cut short), and returns the message
/// loadClip gives for it.
inline std::string writeTinyClipFolderWithoutWeights(const std::filesystem::path& folder)
{
    writeTinyClipFolder(folder);
    std::filesystem::remove(folder / "model.safetensors");
    try {
        models::clip::loadClip(folder);
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

} // namespace lethe::test
