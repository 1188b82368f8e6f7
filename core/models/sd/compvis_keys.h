#pragma once

// Tensor names of CompVis single-file Stable Diffusion 1.x and 2.x checkpoints against the diffusers and
// transformers names Lethe's modules use, in both directions (loading a single file, exporting one), following the
// rules of diffusers' conversion scripts.

#include "core/io/safetensors.h"
#include "core/models/sd/clip_text_model.h"
#include "core/nn/state_dict.h"

#include <optional>
#include <string>
#include <vector>

namespace lethe::models::sd {

/// The prefixes of a CompVis single file's UNet, VAE and SD 1.x CLIP text encoder tensors.
inline constexpr const char* kCompvisUNetPrefix = "model.diffusion_model.";
inline constexpr const char* kCompvisVaePrefix = "first_stage_model.";
inline constexpr const char* kCompvisTextEncoderPrefix = "cond_stage_model.transformer.";
/// The prefix of an SD 2.x single file's OpenCLIP text encoder (FrozenOpenCLIPEmbedder's `model.`).
inline constexpr const char* kCompvisOpenClipPrefix = "cond_stage_model.model.";
/// The prefixes of an SDXL single file's (Stability's generative-models layout) text encoders: text_encoder in
/// transformers' CLIP names (as SD 1.x's), text_encoder_2 in OpenCLIP's (as SD 2.x's, with text_projection).
inline constexpr const char* kSgmTextEncoderPrefix = "conditioner.embedders.0.transformer.";
inline constexpr const char* kSgmOpenClipPrefix = "conditioner.embedders.1.model.";

/// What the UNet name mapping needs of a UNet2DConditionModel config; defaults are SD 1.x's.
struct UNetLayout {
    /// len(block_out_channels): down blocks, and as many up blocks.
    int blocks = 4;
    /// layers_per_block: resnets per down block; each up block has one more.
    int layersPerBlock = 2;
    /// Per down block, whether it is a CrossAttnDownBlock2D.
    std::vector<bool> downHasAttention { true, true, true, false };
    /// Per up block, whether it is a CrossAttnUpBlock2D. The mid block always has attention in SD 1.x.
    std::vector<bool> upHasAttention { false, true, true, true };
    /// Whether the UNet has an added embedding (SDXL's "text_time" add_embedding, `label_emb.0.0` / `label_emb.0.2`
    /// in the file).
    bool addedEmbedding = false;
};

/// What the VAE name mapping needs of an AutoencoderKL config; defaults are SD 1.x's.
struct VaeLayout {
    /// len(block_out_channels).
    int blocks = 4;
    /// layers_per_block: resnets per encoder down block; each decoder up block has one more.
    int layersPerBlock = 2;
};

/// The diffusers name of a CompVis UNet tensor named without `model.diffusion_model.`; nullopt when unknown.
/// Throws lethe::Error for an inconsistent layout.
std::optional<std::string> compvisToDiffusersUNet(const std::string& compvisName, const UNetLayout& layout);

/// The CompVis name (without `model.diffusion_model.`) of a diffusers UNet tensor; nullopt when unknown.
std::optional<std::string> diffusersToCompvisUNet(const std::string& diffusersName, const UNetLayout& layout);

/// The diffusers name of a CompVis VAE tensor named without `first_stage_model.`; nullopt when unknown.
/// The mid-block attention's q, k, v and proj_out are 1×1 convolutions in CompVis files and linear layers in
/// diffusers: only the names are mapped here (see LoadOptions::acceptTrailingUnitDims).
std::optional<std::string> compvisToDiffusersVae(const std::string& compvisName, const VaeLayout& layout);

/// The CompVis name (without `first_stage_model.`) of a diffusers VAE tensor; nullopt when unknown.
std::optional<std::string> diffusersToCompvisVae(const std::string& diffusersName, const VaeLayout& layout);

/// The transformers name of a CompVis SD 1.x text encoder tensor named without `cond_stage_model.transformer.`,
/// adding the `text_model.` level files from older transformers lack; nullopt for `embeddings.position_ids` (a
/// buffer transformers recomputes) and for unknown names.
std::optional<std::string> compvisToDiffusersTextEncoder(const std::string& compvisName);

/// The CompVis name (without `cond_stage_model.transformer.`, with `text_model.`) of a transformers CLIP text
/// encoder tensor; nullopt when unknown.
std::optional<std::string> diffusersToCompvisTextEncoder(const std::string& diffusersName);

/// A whole single file's names onto a UNet2DConditionModel's: `model.diffusion_model.*` is renamed, every other
/// tensor (VAE, text encoder, `model_ema.*`, `alphas_cumprod`, ...) skipped. A UNet tensor without a diffusers
/// name keeps its file name, so that loadStateDict reports it as unexpected instead of dropping it.
nn::KeyMapping compvisUNetMapping(const UNetLayout& layout);

/// A whole single file's names onto an AutoencoderKL's (`first_stage_model.*`), as compvisUNetMapping.
nn::KeyMapping compvisVaeMapping(const VaeLayout& layout);

/// A whole single file's names onto a CLIPTextModel's (`cond_stage_model.transformer.*`, or another `prefix` such
/// as SDXL's kSgmTextEncoderPrefix), as compvisUNetMapping; `embeddings.position_ids` is skipped.
nn::KeyMapping compvisTextEncoderMapping(const std::string& prefix = kCompvisTextEncoderPrefix);

/// Loads an SD 2.x single file's OpenCLIP text encoder (`cond_stage_model.model.*`) into `model`, as diffusers'
/// convert_open_clip_checkpoint does: token_embedding, positional_embedding, ln_final and, per layer N below the
/// model's num_hidden_layers, transformer.resblocks.N.{ln_1, ln_2, attn.out_proj, mlp.c_fc, mlp.c_proj} and
/// attn.in_proj_weight / in_proj_bias, whose rows are q, k and v stacked. The resblock numbered num_hidden_layers
/// (SD 2's 24th, whose output the diffusers export drops, so that the last layer's output is OpenCLIP's
/// penultimate), text_projection and logit_scale are accepted and skipped. Everything is checked before anything
/// is copied; throws FormatError naming the file and the tensor for a missing, unexpected, mis-shaped or
/// non-floating one. Floating tensors are converted to the model's dtype and device. Returns the skipped tensors as
/// the file holds them (CPU), named without the prefix, so that the file can be written back whole.
std::vector<io::NamedTensor> loadOpenClipTextWeights(ClipTextModelImpl& model, const io::SafetensorsFile& file);

/// loadOpenClipTextWeights for SDXL's text_encoder_2 under kSgmOpenClipPrefix: text_projection, a [width,
/// projection_dim] matrix OpenCLIP applies as x @ text_projection, is loaded transposed into the Linear weight
/// (as diffusers' convert_open_clip_checkpoint does); logit_scale and a resblock numbered num_hidden_layers are
/// skipped and returned as there.
std::vector<io::NamedTensor> loadOpenClipTextWeights(
    ClipTextModelWithProjectionImpl& model, const io::SafetensorsFile& file, const std::string& prefix);

/// The tensors of `model` in OpenCLIP's layout, named without `cond_stage_model.model.` (in_proj_weight and
/// in_proj_bias stacked from q, k and v), for an SD 2.x single file. The resblock the diffusers export dropped,
/// text_projection and logit_scale are not in a CLIPTextModel: `extras` (what loadOpenClipTextWeights skipped, when
/// the model came from such a file) follow, converted to the model's dtype where floating.
std::vector<io::NamedTensor> openClipTextTensors(
    const ClipTextModelImpl& model, const std::vector<io::NamedTensor>& extras = {});

/// openClipTextTensors for SDXL's text_encoder_2: text_projection written transposed, as OpenCLIP holds it.
std::vector<io::NamedTensor> openClipTextTensors(
    const ClipTextModelWithProjectionImpl& model, const std::vector<io::NamedTensor>& extras = {});

} // namespace lethe::models::sd
