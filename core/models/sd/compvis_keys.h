#pragma once

// Tensor names of CompVis single-file Stable Diffusion 1.x checkpoints against the diffusers and transformers
// names Lethe's modules use, in both directions (loading a single file, exporting one), following the rules of
// diffusers' conversion scripts.

#include "core/nn/state_dict.h"

#include <optional>
#include <string>
#include <vector>

namespace lethe::models::sd {

/// The prefixes of a CompVis single file's UNet, VAE and SD 1.x CLIP text encoder tensors.
inline constexpr const char* kCompvisUNetPrefix = "model.diffusion_model.";
inline constexpr const char* kCompvisVaePrefix = "first_stage_model.";
inline constexpr const char* kCompvisTextEncoderPrefix = "cond_stage_model.transformer.";

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

/// A whole single file's names onto a CLIPTextModel's (`cond_stage_model.transformer.*`), as compvisUNetMapping;
/// `embeddings.position_ids` is skipped.
nn::KeyMapping compvisTextEncoderMapping();

} // namespace lethe::models::sd
