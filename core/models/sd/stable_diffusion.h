#pragma once

// A Stable Diffusion 1.x model (or a smaller one of the same design, such as the built-in pixel-space
// text-to-image model) loaded from a diffusers folder or a CompVis single file, ready to generate; or an SDXL
// model (two text encoders, a "text_time" UNet) from a diffusers folder or an SDXL single file.

#include "core/diffusion/text_to_image.h"
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/clip_tokenizer.h"
#include "core/models/sd/unet_2d_condition.h"

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace lethe::models::sd {

/// How to load: the compute dtype and device, whatever the files store, and the attention path.
struct SdLoadOptions {
    /// float32, float16 or bfloat16.
    torch::Dtype dtype = torch::kFloat32;
    torch::Device device = torch::kCPU;
    /// Attention computed in query chunks, never holding the full attention matrix (large images on GPUs).
    bool memoryEfficientAttention = false;
    /// For a CompVis single file: a folder that supplies what such a file lacks, the tokenizer (its
    /// `tokenizer/` folder, or the folder itself holding vocab.json and merges.txt) and, where the file's own
    /// metadata has none, the component configs (`unet/config.json`, `vae/config.json`,
    /// `text_encoder/config.json`, `scheduler/scheduler_config.json`), typically the diffusers folder of the
    /// same model family. Configs found in neither place are SD 1.x's, except for an SD 2.x file (OpenCLIP text
    /// encoder), whose UNet, text encoder and scheduler configs must be found, and an SDXL file
    /// (`conditioner.embedders.*`), all of whose configs (also `text_encoder_2/config.json`) must be found and which
    /// also needs `tokenizer_2/` (force_zeros_for_empty_prompt from the metadata, else the folder's
    /// model_index.json, else true). Unused for diffusers folders.
    std::filesystem::path components;
};

/// The components of a loaded model. Holds the networks; model() hands out functions bound to them.
class StableDiffusion {
public:
    struct Impl;
    explicit StableDiffusion(std::shared_ptr<Impl> impl);

    /// A model from networks in memory (a training run's), with the tokenizer read from `tokenizerFolder`.
    /// `vae` may be null (pixel space). The networks are shared, not copied.
    static StableDiffusion fromComponents(const std::filesystem::path& tokenizerFolder, ClipTextModel text,
        UNet2DConditionModel unet, AutoencoderKL vae, const diffusion::DdpmSchedule& schedule,
        const SdLoadOptions& options = {});

    /// This model with `unet` in place of its UNet (same options and shape); everything else is shared.
    StableDiffusion withUNet(UNet2DConditionModel unet) const;

    /// The networks themselves (shared with this object), for fine-tuning and unlearning.
    ClipTextModel textEncoder() const;
    /// SDXL's second text encoder; null for SD 1.x and 2.x.
    ClipTextModelWithProjection textEncoder2() const;
    /// Whether this is an SDXL model: a second text encoder and a UNet with the "text_time" added embedding.
    bool isXl() const;
    /// "SDXL" (isXl), "SD 2.x" (a text encoder with the exact GELU: OpenCLIP's) or "SD 1.x" (OpenAI CLIP's; also
    /// the built-in model, of SD 1.x's design): what the front ends name when a model opens.
    std::string family() const;
    UNet2DConditionModel unet() const;
    /// Null for a pixel-space model.
    AutoencoderKL vae() const;
    const ClipTokenizer& tokenizer() const;
    const diffusion::DdpmSchedule& schedule() const;

    /// The networks as a TextToImageModel for diffusion::generate(). For SDXL the context it encodes is packed
    /// (see packXlContext) and its predictor passes the time ids of the image size it is given.
    diffusion::TextToImageModel model() const;
    /// The image side the UNet was trained for (sample_size × the VAE's scale).
    std::int64_t defaultImageSize() const;
    /// Parameters of the UNet, the text encoder(s: SDXL's two together) and the VAE (0 without one).
    std::int64_t unetParameters() const;
    std::int64_t textEncoderParameters() const;
    std::int64_t vaeParameters() const;
    /// "diffusers folder" or "CompVis single file".
    std::string sourceKind() const;
    /// Where the component configs came from: "the diffusers folder", "file metadata", "components
    /// folder", "SD 1.x defaults", or a mix ("unet: file metadata, vae: SD 1.x defaults, ...").
    std::string configSource() const;

    /// Writes the model as a CompVis single .safetensors file, atomically: UNet under
    /// `model.diffusion_model.`, VAE under `first_stage_model.` (mid-block attention as 1×1 convolutions),
    /// text encoder under `cond_stage_model.transformer.` (SD 1.x), or for a text encoder with the exact GELU
    /// under `cond_stage_model.model.` in OpenCLIP's names (SD 2.x; openClipTextTensors, with the tensors a loaded
    /// SD 2.x file had beyond the diffusers model: its dropped resblock, text_projection, logit_scale), in the dtype
    /// the model computes in. SDXL in Stability's layout: text_encoder under `conditioner.embedders.0.transformer.`
    /// in transformers' names, text_encoder_2 under `conditioner.embedders.1.model.` in OpenCLIP's (text_projection
    /// transposed), with the tensors a loaded SDXL file had beyond the networks, add_embedding as `label_emb.0.*`;
    /// lethe.text_encoder_2_config and lethe.force_zeros_for_empty_prompt join the configs. The component
    /// configs go into the metadata (lethe.unet_config, ...), so that Lethe reloads the file without a
    /// components folder except for the tokenizer; `metadata` is added to them.
    /// Writes the model as a diffusers folder: model_index.json, unet/, text_encoder/, vae/ (when the model
    /// has one), scheduler/ (a DDIMScheduler config) and a copy of the tokenizer files (for SDXL also
    /// text_encoder_2/ and tokenizer_2/, and force_zeros_for_empty_prompt in the index), with the weights in the
    /// dtype the model computes in. `folder` must not exist unless `replace` is set; it is assembled next to it
    /// under a temporary name and renamed into place complete (a replaced folder is swapped out only then).
    /// `manifest` (when not empty) is written as lethe-manifest.json.
    void saveDiffusersFolder(
        const std::filesystem::path& folder, const std::string& manifest = {}, bool replace = false) const;

    void saveCompvisSingleFile(
        const std::filesystem::path& path, const std::map<std::string, std::string>& metadata = {}) const;

private:
    std::shared_ptr<Impl> m_impl;
};

/// SDXL's conditioning as one tensor, so that generation, guidance and the training losses pass it on (batch,
/// concatenate, expand) as they pass SD 1.x's context: hidden [N, L, D] (both encoders' penultimate hidden states,
/// concatenated) followed by one row holding pooled [N, P] (text_encoder_2's projected pooled output), zero-padded
/// to D: [N, L + 1, D]. Throws Error when P > D.
torch::Tensor packXlContext(const torch::Tensor& hidden, const torch::Tensor& pooled);

/// The UNet's prediction for a context as model().encodePrompts gives it. A "text_time" UNet (SDXL) gets the
/// packed context split into hidden states and pooled embedding, and the time ids (H, W, 0, 0, H, W) of the image
/// size x stands for at `latentScale` pixels per latent pixel: original size, crop top-left (0, 0) and target
/// size, as diffusers' SDXL pipeline passes them by default. Any other UNet gets the context as it is.
torch::Tensor conditionedUNetForward(UNet2DConditionModelImpl& unet, const torch::Tensor& x, const torch::Tensor& t,
    const torch::Tensor& context, std::int64_t latentScale);

/// Loads a diffusers folder (model_index.json) or a CompVis single .safetensors file (see
/// SdLoadOptions::components). Pickles are refused with conversion instructions; errors name the file and the
/// tensor or key. Every tensor must match: a missing, unexpected or mis-shaped one is an error.
StableDiffusion loadStableDiffusion(const std::filesystem::path& path, const SdLoadOptions& options);

/// "float32", "float16" / "fp16", "bfloat16" / "bf16" → the dtype; throws Error for anything else.
torch::Dtype computeDtypeFromName(const std::string& name);

} // namespace lethe::models::sd
