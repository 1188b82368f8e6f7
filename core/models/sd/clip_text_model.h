#pragma once

// transformers' CLIPTextModel (the text encoder of Stable Diffusion 1.x and SDXL's first) and
// CLIPTextModelWithProjection (SDXL's second, OpenCLIP ViT-bigG), read from a diffusers `text_encoder/` or
// `text_encoder_2/` folder (config.json and model.safetensors).

#include "core/io/safetensors.h"
#include "core/models/sd/clip_text_layers.h"
#include "core/nn/state_dict.h"

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>

namespace lethe::models::sd {

/// What the text model returns.
struct ClipTextOutput {
    /// [N, L, H]: the final layer norm's output for every token.
    torch::Tensor last_hidden_state;
    /// [N, H]: last_hidden_state at each prompt's EOS token.
    torch::Tensor pooler_output;
    /// [N, L, H]: the input of the last encoder layer, without the final layer norm (transformers'
    /// hidden_states[-2], which SDXL conditions on).
    torch::Tensor penultimate_hidden_state;
};

/// CLIPTextTransformer: "embeddings", "encoder", "final_layer_norm", with a causal attention mask.
class ClipTextTransformerImpl : public torch::nn::Module {
public:
    explicit ClipTextTransformerImpl(const ClipTextOptions& options);
    /// ids [N, L] of an integer type, L ≤ max_position_embeddings.
    ClipTextOutput forward(const torch::Tensor& ids);
    /// forward() with the token embeddings given ([N, L, H], e.g. with some rows optimised by an adversarial prompt
    /// attack) instead of looked up; `ids` [N, L] still place the EOS token the output pools at.
    ClipTextOutput forwardEmbeddings(const torch::Tensor& tokenEmbeddings, const torch::Tensor& ids);

    ClipTextOptions options;
    ClipTextEmbeddings embeddings { nullptr };
    ClipEncoder encoder { nullptr };
    torch::nn::LayerNorm final_layer_norm { nullptr };
};
TORCH_MODULE(ClipTextTransformer);

/// CLIPTextModel: everything under "text_model.", initialised as transformers initialises it.
class ClipTextModelImpl : public torch::nn::Module {
public:
    explicit ClipTextModelImpl(const ClipTextOptions& options);
    /// See ClipTextTransformerImpl::forward.
    ClipTextOutput forward(const torch::Tensor& ids);

    ClipTextTransformer text_model { nullptr };
};
TORCH_MODULE(ClipTextModel);

/// CLIPTextModelWithProjection: "text_model." as in CLIPTextModel and "text_projection.weight" [projection_dim, H]
/// (no bias), applied to the pooled output.
class ClipTextModelWithProjectionImpl : public torch::nn::Module {
public:
    explicit ClipTextModelWithProjectionImpl(const ClipTextOptions& options);
    /// See ClipTextTransformerImpl::forward; text_embeds is the projected pooler_output.
    ClipTextOutput forward(const torch::Tensor& ids);
    /// text_projection(pooler_output): [N, projection_dim] (transformers' text_embeds).
    torch::Tensor project(const ClipTextOutput& output);

    ClipTextTransformer text_model { nullptr };
    torch::nn::Linear text_projection { nullptr };
};
TORCH_MODULE(ClipTextModelWithProjection);

/// Parses a text_encoder/config.json object. Absent keys take CLIPTextConfig's defaults; keys that do not shape
/// the network (projection_dim, dropout, initializer_range, ...) are ignored. Throws FormatError(file, key) for a
/// value of the wrong type, a size that is not positive, heads that do not divide hidden_size, an unknown
/// hidden_act, or a model_type other than "clip_text_model".
ClipTextOptions clipTextOptionsFromJson(const nlohmann::json& config, const std::string& file);

/// The config.json transformers writes for these options (with "architectures" and "model_type");
/// `architecture` is "CLIPTextModel" or "CLIPTextModelWithProjection".
nlohmann::json toJson(const ClipTextOptions& options, const std::string& architecture = "CLIPTextModel");

/// The name of the position-ids buffer some files carry; it is skipped when loading.
extern const char* const kClipPositionIdsName;

/// Loads a text model's weights under transformers' names. `options.mapping` (when set) renames the file's
/// tensors first, e.g. CompVis' "cond_stage_model.transformer.text_model.…"; a tensor that maps onto
/// kClipPositionIdsName is skipped. Floating tensors are converted to the model's dtype and device.
nn::LoadReport loadClipTextWeights(
    torch::nn::Module& model, const io::SafetensorsFile& file, nn::LoadOptions options = {});

/// Throws FormatError for a transformers folder whose weights are pickled (pytorch_model.bin or
/// pytorch_model.fp16.bin), saying how to convert them with `className` (e.g. "CLIPTextModel"); returns otherwise.
void refusePickledWeights(const std::filesystem::path& folder, const std::string& className);

/// Reads a diffusers text_encoder folder: config.json and model.safetensors, or model.fp16.safetensors when
/// only that exists. The model is returned in eval mode with parameters of `dtype` on `device`. A folder with only
/// pickled weights (pytorch_model.bin) is refused with a message that says how to convert them.
ClipTextModel loadClipTextModel(
    const std::filesystem::path& folder, torch::Dtype dtype = torch::kFloat32, torch::Device device = torch::kCPU);
/// loadClipTextModel() for a CLIPTextModelWithProjection folder (SDXL's text_encoder_2).
ClipTextModelWithProjection loadClipTextModelWithProjection(
    const std::filesystem::path& folder, torch::Dtype dtype = torch::kFloat32, torch::Device device = torch::kCPU);

/// The parameter count of the network `options` describe, from its shapes alone (nothing allocated);
/// `withProjection` adds CLIPTextModelWithProjection's text_projection.
std::int64_t clipTextParameterCount(const ClipTextOptions& options, bool withProjection = false);

} // namespace lethe::models::sd
