#pragma once

// diffusers' UNet2DConditionModel with the block types of SD 1.x, 2.x and SDXL (whose "text_time" added
// embedding conditions on the pooled text embedding and six size/crop ids), built from unet/config.json and
// loaded from diffusion_pytorch_model.safetensors under diffusers' names.

#include "core/io/safetensors.h"
#include "core/models/sd/attention.h"
#include "core/models/sd/blocks.h"
#include "core/models/sd/embeddings.h"
#include "core/nn/state_dict.h"

#include <nlohmann/json_fwd.hpp>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lethe::models::sd {

/// UNet2DConditionModel's configuration, with diffusers' key names; the defaults are SD 1.x's unet/config.json.
struct UNet2DConditionOptions {
    /// Default 4.
    TORCH_ARG(std::int64_t, in_channels) = 4;
    /// Default 4.
    TORCH_ARG(std::int64_t, out_channels) = 4;
    /// Latent height and width the model was trained at. Default 64.
    TORCH_ARG(std::int64_t, sample_size) = 64;
    /// Default {320, 640, 1280, 1280}.
    TORCH_ARG(std::vector<std::int64_t>, block_out_channels) = std::vector<std::int64_t> { 320, 640, 1280, 1280 };
    /// "CrossAttnDownBlock2D" or "DownBlock2D" per level. Default three CrossAttnDownBlock2D, then DownBlock2D.
    TORCH_ARG(std::vector<std::string>, down_block_types) = std::vector<std::string> { "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" };
    /// "UpBlock2D" or "CrossAttnUpBlock2D" per level, deepest first. Default UpBlock2D, then three CrossAttnUpBlock2D.
    TORCH_ARG(std::vector<std::string>, up_block_types)
        = std::vector<std::string> { "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" };
    /// Resnets per down block (up blocks have one more); one entry per level. Default {2, 2, 2, 2}.
    TORCH_ARG(std::vector<std::int64_t>, layers_per_block) = std::vector<std::int64_t> { 2, 2, 2, 2 };
    /// Attention heads per level (diffusers' attention_head_dim means heads for these blocks). Default {8, 8, 8, 8}.
    TORCH_ARG(std::vector<std::int64_t>, attention_head_dim) = std::vector<std::int64_t> { 8, 8, 8, 8 };
    /// Transformer blocks per Transformer2DModel, per level. Default {1, 1, 1, 1}.
    TORCH_ARG(std::vector<std::int64_t>, transformer_layers_per_block) = std::vector<std::int64_t> { 1, 1, 1, 1 };
    /// Width of the text encoder's hidden states. Default 768.
    TORCH_ARG(std::int64_t, cross_attention_dim) = 768;
    /// Default 32.
    TORCH_ARG(std::int64_t, norm_num_groups) = 32;
    /// Default 1e-5.
    TORCH_ARG(double, norm_eps) = 1e-5;
    /// Default true.
    TORCH_ARG(bool, flip_sin_to_cos) = true;
    /// Default 0.
    TORCH_ARG(double, freq_shift) = 0.0;
    /// Linear proj_in/proj_out (SD 2.x) instead of 1×1 convolutions. Default false.
    TORCH_ARG(bool, use_linear_projection) = false;
    /// Attention scores in float32 (SD 2.1). Default false.
    TORCH_ARG(bool, upcast_attention) = false;
    /// Default 1.
    TORCH_ARG(std::int64_t, downsample_padding) = 1;
    /// Residual divisor of the mid block's resnets. Default 1.
    TORCH_ARG(double, mid_block_scale_factor) = 1.0;
    /// Width of the time embedding; unset means 4 · block_out_channels[0]. Default unset.
    TORCH_ARG(std::optional<std::int64_t>, time_embedding_dim) = std::nullopt;
    /// "" (none) or "text_time" (SDXL: add_embedding of the pooled text embedding and the sinusoidal embeddings
    /// of the time ids, added to the time embedding). Default "".
    TORCH_ARG(std::string, addition_embed_type) = "";
    /// Width of each time id's sinusoidal embedding under "text_time" (SDXL: 256). Default 256.
    TORCH_ARG(std::int64_t, addition_time_embed_dim) = 256;
    /// add_embedding's input width under "text_time": pooled width + time ids × addition_time_embed_dim
    /// (SDXL: 1280 + 6 × 256 = 2816). Default 2816.
    TORCH_ARG(std::int64_t, projection_class_embeddings_input_dim) = 2816;
    /// Default 0.
    TORCH_ARG(double, dropout) = 0.0;
    /// Default standard.
    TORCH_ARG(AttentionBackend, attention_backend) = AttentionBackend::Standard;
    /// Queries per chunk of the memory-efficient backend. Default kDefaultQueryChunkSize.
    TORCH_ARG(std::int64_t, attention_query_chunk_size) = kDefaultQueryChunkSize;
};

/// The configuration of SD 1.x's unet/config.json (runwayml/stable-diffusion-v1-5, CompVis v1-4).
UNet2DConditionOptions stableDiffusion1UNetOptions();
/// The configuration of SDXL base 1.0's unet/config.json (stabilityai/stable-diffusion-xl-base-1.0).
UNet2DConditionOptions stableDiffusionXlUNetOptions();

/// SDXL's added conditioning (diffusers' added_cond_kwargs) for a "text_time" UNet.
struct UNetAddedConditions {
    /// [N, P]: the pooled, projected text embedding (text_encoder_2's text_embeds).
    torch::Tensor text_embeds;
    /// [N, K]: the size and crop ids (original H, W, crop top, left, target H, W), as numbers of pixels.
    torch::Tensor time_ids;
};

/// Reads a diffusers unet/config.json object; `file` names it in messages. Absent keys take diffusers' defaults.
/// Keys this implementation does not support with the value found (other block types, class embeddings,
/// addition embeddings other than "text_time", ...) give a FormatError naming the key.
UNet2DConditionOptions unetOptionsFromConfig(const nlohmann::json& config, const std::string& file);
/// The options as a diffusers unet/config.json object (`_class_name` UNet2DConditionModel).
nlohmann::json unetConfigJson(const UNet2DConditionOptions& options);

/// diffusers' UNet2DConditionModel. Children conv_in, time_embedding, add_embedding (under "text_time" only),
/// down_blocks, up_blocks, mid_block, conv_norm_out and conv_out, registered in diffusers' order so that the state
/// dict lists them as diffusers does.
class UNet2DConditionModelImpl : public torch::nn::Cloneable<UNet2DConditionModelImpl> {
public:
    explicit UNet2DConditionModelImpl(UNet2DConditionOptions options);
    void reset() override;
    /// sample [N, in_channels, H, W]; timestep a scalar or [N] tensor (integer or fractional);
    /// encoder_hidden_states [N, L, cross_attention_dim]. Returns the prediction [N, out_channels, H, W].
    /// A "text_time" UNet needs the added conditions: this overload throws Error for one.
    torch::Tensor forward(
        const torch::Tensor& sample, const torch::Tensor& timestep, const torch::Tensor& encoder_hidden_states);
    /// forward() with SDXL's added conditions, which a "text_time" UNet requires and any other refuses.
    torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timestep,
        const torch::Tensor& encoder_hidden_states, const UNetAddedConditions& added);
    /// Sets the attention backend of every attention layer (and the options).
    void setAttentionBackend(AttentionBackend backend, std::int64_t query_chunk_size = kDefaultQueryChunkSize);
    /// Gradient checkpointing of every resnet and transformer block (nn/checkpoint.h), as diffusers'
    /// enable_gradient_checkpointing(): it acts only while gradients are recorded.
    void setGradientCheckpointing(bool on);

    UNet2DConditionOptions options;
    torch::nn::Conv2d conv_in { nullptr };
    TimestepEmbedding time_embedding { nullptr };
    /// Under "text_time" only.
    TimestepEmbedding add_embedding { nullptr };
    torch::nn::ModuleList down_blocks { nullptr };
    torch::nn::ModuleList up_blocks { nullptr };
    UNetMidBlock2DCrossAttn mid_block { nullptr };
    torch::nn::GroupNorm conv_norm_out { nullptr };
    torch::nn::Conv2d conv_out { nullptr };

private:
    /// add_embedding's input [n, projection_class_embeddings_input_dim] in float32: text_embeds, then the
    /// sinusoidal embeddings of the time ids. Throws Error for missing or mis-shaped conditions.
    torch::Tensor addedEmbedding(const UNetAddedConditions& added, std::int64_t n) const;
};
TORCH_MODULE(UNet2DConditionModel);

/// The parameter count of the UNet `options` describe, from its shapes alone (nothing allocated: SDXL's UNet
/// would take 10 GB in float32). Throws Error for options buildUNet2DCondition refuses for their level counts.
std::int64_t unetParameterCount(const UNet2DConditionOptions& options);

/// A freshly initialised UNet on the CPU in float32, in eval mode. Throws lethe::Error for inconsistent options.
UNet2DConditionModel buildUNet2DCondition(const UNet2DConditionOptions& options);

/// Copies a safetensors state dict into the UNet (converting floating dtypes); `options.mapping` renames foreign
/// keys (CompVis single files) onto diffusers' names. Strict by default: see nn::loadStateDict.
nn::LoadReport loadUNetWeights(
    UNet2DConditionModel& unet, const io::SafetensorsFile& file, const nn::LoadOptions& options = {});

/// Builds the UNet a diffusers unet/ folder describes (config.json) and loads its weights
/// (diffusion_pytorch_model.safetensors, else diffusion_pytorch_model.fp16.safetensors), moved to `dtype` and
/// `device`, in eval mode. Refuses pickled .bin and .ckpt files (see componentWeights in diffusers_folder.h).
UNet2DConditionModel loadUNet2DCondition(const std::filesystem::path& folder, torch::Dtype dtype = torch::kFloat32,
    torch::Device device = torch::kCPU, AttentionBackend backend = AttentionBackend::Standard);

} // namespace lethe::models::sd
