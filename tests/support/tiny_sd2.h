#pragma once

// A tiny Stable Diffusion 2.x with random weights, written in the real diffusers layout: what sets SD 2.x apart
// from SD 1.x at a size a test runs in seconds. An OpenCLIP-style text encoder (exact GELU), a UNet with linear
// transformer projections, a different head count per level and upcast attention, and a v-prediction scheduler.
#include "tiny_sd.h"

#include <filesystem>
#include <string>

namespace lethe::test {

/// model_index.json of stabilityai/stable-diffusion-2-1.
inline const char* const kSd2Index = R"({
  "_class_name": "StableDiffusionPipeline",
  "_diffusers_version": "0.10.0.dev0",
  "feature_extractor": ["transformers", "CLIPFeatureExtractor"],
  "requires_safety_checker": false,
  "safety_checker": [null, null],
  "scheduler": ["diffusers", "DDIMScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"]
})";

/// scheduler/scheduler_config.json of stabilityai/stable-diffusion-2-1 (768 px, v-prediction).
inline const char* const kSd2Scheduler = R"({
  "_class_name": "DDIMScheduler",
  "_diffusers_version": "0.8.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "num_train_timesteps": 1000,
  "prediction_type": "v_prediction",
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null
})";

/// The text encoder: SD 2.x's OpenCLIP design (exact GELU, pad token 1) at 16 wide, 3 layers.
inline models::sd::ClipTextOptions tinySd2TextOptions()
{
    return models::sd::ClipTextOptions()
        .vocab_size(60)
        .hidden_size(16)
        .intermediate_size(24)
        .num_hidden_layers(3)
        .num_attention_heads(4)
        .max_position_embeddings(16)
        .hidden_act(models::sd::ClipActivation::Gelu)
        .bos_token_id(0)
        .eos_token_id(1)
        .pad_token_id(1)
        .projection_dim(8);
}

/// A three-level UNet with attention in two levels, 2 and 4 heads there (SD 2's per-level attention_head_dim),
/// linear proj_in / proj_out and upcast attention, over 16-wide text states and 4 latent channels.
inline models::sd::UNet2DConditionOptions tinySd2UNetOptions()
{
    return models::sd::UNet2DConditionOptions()
        .sample_size(8)
        .in_channels(4)
        .out_channels(4)
        .block_out_channels({ 32, 64, 64 })
        .down_block_types({ "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" })
        .up_block_types({ "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" })
        .layers_per_block({ 1, 1, 1 })
        .attention_head_dim({ 2, 4, 4 })
        .transformer_layers_per_block({ 1, 1, 1 })
        .cross_attention_dim(16)
        .norm_num_groups(8)
        .use_linear_projection(true)
        .upcast_attention(true);
}

/// The tiny SD 2.x as a diffusers folder (the vocabulary of single letters of writeTinyDiffusersFolder), random
/// weights drawn from `seed`.
inline void writeTinySd2DiffusersFolder(const std::filesystem::path& root, std::uint64_t seed = 2)
{
    nlohmann::json vocab = { { "<|startoftext|>", 0 }, { "<|endoftext|>", 1 } };
    for (char c = 'a'; c <= 'z'; ++c) {
        vocab[std::string(1, c)] = vocab.size();
        vocab[std::string(1, c) + "</w>"] = vocab.size();
    }
    writeBytes(root / "tokenizer" / "vocab.json", vocab.dump());
    writeBytes(root / "tokenizer" / "merges.txt", "#version: 0.2\n");
    writeBytes(root / "tokenizer" / "tokenizer_config.json", R"({"model_max_length": 16})");
    torch::manual_seed(seed);
    const models::sd::ClipTextOptions textOptions = tinySd2TextOptions();
    models::sd::ClipTextModel text(textOptions);
    writeBytes(root / "text_encoder" / "config.json", models::sd::toJson(textOptions).dump());
    nn::saveStateDict(root / "text_encoder" / "model.safetensors", *text);
    const models::sd::UNet2DConditionOptions unetOptions = tinySd2UNetOptions();
    auto unet = models::sd::buildUNet2DCondition(unetOptions);
    writeBytes(root / "unet" / "config.json", models::sd::unetConfigJson(unetOptions).dump());
    nn::saveStateDict(root / "unet" / "diffusion_pytorch_model.safetensors", *unet);
    const auto vaeOptions = tinyVaeOptions().sample_size(16).scaling_factor(0.18215);
    auto vae = models::sd::buildAutoencoderKL(vaeOptions);
    writeBytes(root / "vae" / "config.json", models::sd::vaeConfigJson(vaeOptions).dump());
    nn::saveStateDict(root / "vae" / "diffusion_pytorch_model.safetensors", *vae);
    writeBytes(root / "scheduler" / "scheduler_config.json", kSd2Scheduler);
    writeBytes(root / "model_index.json", kSd2Index);
}

} // namespace lethe::test
