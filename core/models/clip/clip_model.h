#pragma once

// transformers' CLIPModel: a text tower and a vision tower projected into one embedding space, read from a
// Hugging Face model folder (config.json with "text_config" and "vision_config", model.safetensors, the
// tokenizer's vocab.json and merges.txt, and optionally preprocessor_config.json).

#include "core/io/safetensors.h"
#include "core/models/clip/clip_image_processor.h"
#include "core/models/clip/clip_vision.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/clip_tokenizer.h"
#include "core/nn/state_dict.h"

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>

namespace lethe::models::clip {

/// CLIPConfig's fields that shape the network.
struct ClipModelOptions {
    /// text_config. Default: CLIPTextConfig's defaults.
    TORCH_ARG(sd::ClipTextOptions, text) = {};
    /// vision_config. Default: CLIPVisionConfig's defaults.
    TORCH_ARG(ClipVisionOptions, vision) = {};
    /// Width of the shared embedding space. Default 512.
    TORCH_ARG(std::int64_t, projection_dim) = 512;
};

/// CLIPModel: "text_model", "vision_model", "visual_projection", "text_projection" (linear, no bias) and the
/// scalar "logit_scale", under transformers' state-dict names.
class ClipModelImpl : public torch::nn::Module {
public:
    explicit ClipModelImpl(const ClipModelOptions& options);
    /// get_image_features: visual_projection of the vision model's pooled output, [N, projection_dim].
    torch::Tensor imageFeatures(const torch::Tensor& pixels);
    /// get_text_features: text_projection of the text model's pooled (EOS) output, [N, projection_dim].
    torch::Tensor textFeatures(const torch::Tensor& ids);

    ClipModelOptions options;
    torch::Tensor logit_scale;
    sd::ClipTextTransformer text_model { nullptr };
    ClipVisionTransformer vision_model { nullptr };
    torch::nn::Linear visual_projection { nullptr };
    torch::nn::Linear text_projection { nullptr };
};
TORCH_MODULE(ClipModel);

/// Parses a CLIPModel config.json object. "text_config" and "vision_config" must be objects; their
/// "text_config_dict" and "vision_config_dict" (older files), when objects, override them key by key as
/// transformers does. Keys that do not shape the network are ignored. Throws FormatError(file, key) for a missing
/// tower, a model_type other than "clip", and the errors of the towers' keys (the file then reads "FILE
/// (text_config)" or "FILE (vision_config)").
ClipModelOptions clipModelOptionsFromJson(const nlohmann::json& config, const std::string& file);

/// Loads a CLIPModel's weights under transformers' names, strictly: every tensor is checked (present, shape,
/// dtype) before any is copied, and messages name the file and the tensor. The position-ids buffers older files
/// carry are skipped. Floating tensors are converted to the model's dtype and device.
nn::LoadReport loadClipModelWeights(torch::nn::Module& model, const io::SafetensorsFile& file);

/// A CLIP model with what it needs to read prompts and images.
struct LoadedClip {
    ClipModel model { nullptr };
    sd::ClipTokenizer tokenizer;
    ClipImageProcessing processing;
    std::filesystem::path folder;
};

/// Reads a Hugging Face CLIPModel folder: config.json, model.safetensors, the tokenizer files and, when present,
/// preprocessor_config.json. The model is returned in eval mode, float32, on `device`. Pickled weights
/// (pytorch_model.bin) are refused. Throws FormatError naming the file and key or tensor.
LoadedClip loadClip(const std::filesystem::path& folder, torch::Device device = torch::kCPU);

} // namespace lethe::models::clip
