#pragma once

// A tiny Stable Diffusion with random weights, written in the real diffusers layout, for the tests that load,
// generate from, convert and run lethe-cli on text-to-image models.
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/unet_2d_condition.h"
#include "core/nn/state_dict.h"
#include "test_support.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace lethe::test {

/// model_index.json of runwayml/stable-diffusion-v1-5.
inline const char* const kIndex = R"({
  "_class_name": "StableDiffusionPipeline",
  "_diffusers_version": "0.21.4",
  "feature_extractor": ["transformers", "CLIPImageProcessor"],
  "requires_safety_checker": true,
  "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
  "scheduler": ["diffusers", "PNDMScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"]
})";

/// A two-level UNet (32 and 64 channels, cross-attention in the outer level) over 16-wide text states.
inline models::sd::UNet2DConditionOptions tinyUNetOptions()
{
    return models::sd::UNet2DConditionOptions()
        .sample_size(16)
        .block_out_channels({ 32, 64 })
        .down_block_types({ "CrossAttnDownBlock2D", "DownBlock2D" })
        .up_block_types({ "UpBlock2D", "CrossAttnUpBlock2D" })
        .layers_per_block({ 1, 1 })
        .attention_head_dim({ 8, 8 })
        .transformer_layers_per_block({ 1, 1 })
        .cross_attention_dim(16)
        .norm_num_groups(8);
}

/// tinyUNetOptions() in SDXL's form: no attention in the outer level, two transformer blocks in the inner one,
/// linear projections, and the "text_time" added embedding of a 12-wide pooled embedding and six 4-wide time ids.
inline models::sd::UNet2DConditionOptions tinyXlUNetOptions()
{
    return tinyUNetOptions()
        .down_block_types({ "DownBlock2D", "CrossAttnDownBlock2D" })
        .up_block_types({ "CrossAttnUpBlock2D", "UpBlock2D" })
        .transformer_layers_per_block({ 1, 2 })
        .attention_head_dim({ 4, 8 })
        .use_linear_projection(true)
        .addition_embed_type("text_time")
        .addition_time_embed_dim(4)
        .projection_class_embeddings_input_dim(12 + 6 * 4);
}

/// A two-level VAE (latents at half the image size).
inline models::sd::AutoencoderKLOptions tinyVaeOptions()
{
    return models::sd::AutoencoderKLOptions()
        .block_out_channels({ 32, 64 })
        .layers_per_block(1)
        .norm_num_groups(8)
        .sample_size(32)
        .scaling_factor(0.13025);
}

/// A tokenizer folder over a vocabulary of single letters (and "!" when `padWithBang`, SDXL's tokenizer_2 pad
/// token), 16 tokens long.
inline void writeTinyTokenizer(const std::filesystem::path& folder, bool padWithBang = false)
{
    nlohmann::json vocab = { { "<|startoftext|>", 0 }, { "<|endoftext|>", 1 } };
    for (char c = 'a'; c <= 'z'; ++c) {
        vocab[std::string(1, c)] = vocab.size();
        vocab[std::string(1, c) + "</w>"] = vocab.size();
    }
    if (padWithBang) {
        vocab["!"] = vocab.size();
        writeBytes(folder / "special_tokens_map.json", R"({"pad_token": "!"})");
    }
    writeBytes(folder / "vocab.json", vocab.dump());
    writeBytes(folder / "merges.txt", "#version: 0.2\n");
    writeBytes(folder / "tokenizer_config.json", R"({"model_max_length": 16})");
}

/// The tiny text encoder's shape: 16 wide, two layers, 60 ids.
inline models::sd::ClipTextOptions tinyTextOptions()
{
    return models::sd::ClipTextOptions()
        .vocab_size(60)
        .hidden_size(16)
        .intermediate_size(24)
        .num_hidden_layers(2)
        .num_attention_heads(4)
        .max_position_embeddings(16)
        .bos_token_id(0)
        .eos_token_id(1)
        .pad_token_id(1);
}

/// A tiny Stable Diffusion in the real diffusers layout, random weights: CLIP text (16 wide) over a vocabulary
/// of single letters, a two-level UNet and a two-level VAE (latents at half the image size).
inline void writeTinyDiffusersFolder(const std::filesystem::path& root, bool withVae)
{
    writeTinyTokenizer(root / "tokenizer");
    torch::manual_seed(1);
    const auto textOptions = tinyTextOptions();
    models::sd::ClipTextModel text(textOptions);
    writeBytes(root / "text_encoder" / "config.json", models::sd::toJson(textOptions).dump());
    nn::saveStateDict(root / "text_encoder" / "model.safetensors", *text);
    const auto unetOptions
        = tinyUNetOptions().sample_size(8).in_channels(withVae ? 4 : 3).out_channels(withVae ? 4 : 3);
    auto unet = models::sd::buildUNet2DCondition(unetOptions);
    writeBytes(root / "unet" / "config.json", models::sd::unetConfigJson(unetOptions).dump());
    nn::saveStateDict(root / "unet" / "diffusion_pytorch_model.safetensors", *unet);
    std::string index = kIndex;
    if (withVae) {
        const auto vaeOptions = tinyVaeOptions().sample_size(16).scaling_factor(0.18215);
        auto vae = models::sd::buildAutoencoderKL(vaeOptions);
        writeBytes(root / "vae" / "config.json", models::sd::vaeConfigJson(vaeOptions).dump());
        nn::saveStateDict(root / "vae" / "diffusion_pytorch_model.safetensors", *vae);
    } else {
        index.replace(index.find(R"(["diffusers", "AutoencoderKL"])"),
            std::string(R"(["diffusers", "AutoencoderKL"])").size(), "[null, null]");
    }
    writeBytes(root / "scheduler" / "scheduler_config.json",
        R"({"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps_offset": 1})");
    writeBytes(root / "model_index.json", index);
}

/// model_index.json of stabilityai/stable-diffusion-xl-base-1.0.
inline const char* const kXlIndex = R"({
  "_class_name": "StableDiffusionXLPipeline",
  "_diffusers_version": "0.19.0.dev0",
  "force_zeros_for_empty_prompt": true,
  "add_watermarker": null,
  "scheduler": ["diffusers", "EulerDiscreteScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "tokenizer_2": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"]
})";

/// A tiny SDXL in the real diffusers layout, random weights: text_encoder (CLIPTextModel, 16 wide) and
/// text_encoder_2 (CLIPTextModelWithProjection, 16 wide, projected to 12), each with its tokenizer (tokenizer_2
/// padding with "!"), a "text_time" UNet over their 32-wide concatenated states (tinyXlUNetOptions), SDXL's VAE
/// scaling factor and scheduler config.
inline void writeTinyXlDiffusersFolder(const std::filesystem::path& root)
{
    writeTinyTokenizer(root / "tokenizer");
    writeTinyTokenizer(root / "tokenizer_2", true);
    torch::manual_seed(2);
    const auto textOptions = tinyTextOptions().eos_token_id(2).projection_dim(16);
    models::sd::ClipTextModel text(textOptions);
    writeBytes(root / "text_encoder" / "config.json", models::sd::toJson(textOptions).dump());
    nn::saveStateDict(root / "text_encoder" / "model.safetensors", *text);
    const auto text2Options = tinyTextOptions()
                                  .eos_token_id(2)
                                  .hidden_act(models::sd::ClipActivation::Gelu)
                                  .num_hidden_layers(3)
                                  .projection_dim(12);
    models::sd::ClipTextModelWithProjection text2(text2Options);
    writeBytes(root / "text_encoder_2" / "config.json",
        models::sd::toJson(text2Options, "CLIPTextModelWithProjection").dump());
    nn::saveStateDict(root / "text_encoder_2" / "model.safetensors", *text2);
    const auto unetOptions = tinyXlUNetOptions().sample_size(8).cross_attention_dim(32);
    auto unet = models::sd::buildUNet2DCondition(unetOptions);
    writeBytes(root / "unet" / "config.json", models::sd::unetConfigJson(unetOptions).dump());
    nn::saveStateDict(root / "unet" / "diffusion_pytorch_model.safetensors", *unet);
    const auto vaeOptions = tinyVaeOptions().sample_size(16).scaling_factor(0.13025);
    auto vae = models::sd::buildAutoencoderKL(vaeOptions);
    writeBytes(root / "vae" / "config.json", models::sd::vaeConfigJson(vaeOptions).dump());
    nn::saveStateDict(root / "vae" / "diffusion_pytorch_model.safetensors", *vae);
    writeBytes(root / "scheduler" / "scheduler_config.json",
        R"({"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false, "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": null, "use_karras_sigmas": false})");
    writeBytes(root / "model_index.json", kXlIndex);
}

} // namespace lethe::test
