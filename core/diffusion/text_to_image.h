#pragma once

// Text-to-image generation on a DDPM-schedule model, independent of the networks behind it: a text
// encoder, a noise predictor conditioned on its output, and an optional latent decoder. Stable Diffusion
// plugs in CLIP, its UNet and its VAE; the built-in pixel-space model has no decoder.

#include "ddpm_sampler.h"

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lethe::diffusion {

/// The networks of a text-to-image model, as functions.
struct TextToImageModel {
    /// Prompts → context [N, L, D] for the noise predictor (CLIP's last hidden state).
    std::function<torch::Tensor(const std::vector<std::string>& prompts)> encodePrompts;
    /// (x [N, C, h, w], timesteps [N] float, context [N, L, D]) → ε or v as the schedule says.
    std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& timesteps, const torch::Tensor& context)>
        predictNoise;
    /// Latents → images in [−1, 1]; empty for a pixel-space model (the sample is the image).
    std::function<torch::Tensor(const torch::Tensor& latents)> decode;
    DdpmSchedule schedule;
    std::int64_t latentChannels = 4;
    /// Image pixels per latent pixel along each side (8 for Stable Diffusion's VAE, 1 without a VAE).
    std::int64_t latentScale = 8;
    /// Under guidance, an empty negative prompt's context is zeros instead of the encoded "" (diffusers' SDXL
    /// pipelines with force_zeros_for_empty_prompt).
    bool zeroEmptyNegativePrompt = false;
    /// The predictor's float type (float32, float16 or bfloat16) and device.
    torch::Dtype dtype = torch::kFloat32;
    torch::Device device = torch::kCPU;
};

/// What to draw.
struct TextToImageRequest {
    /// One prompt per seed, or a single prompt for every seed.
    std::vector<std::string> prompts;
    /// The unconditional branch's prompt under guidance ("" = unconditional).
    std::string negativePrompt;
    /// One image per seed; image i's initial noise comes from its own generator seeded with seeds[i]
    /// (seededNoise), so it does not depend on the batch or the device.
    std::vector<std::int64_t> seeds;
    /// Image size in pixels; multiples of latentScale.
    std::int64_t height = 512;
    std::int64_t width = 512;
    /// ε = ε_neg + g·(ε_cond − ε_neg); 1 turns guidance off (one network call per step).
    double guidance = 7.5;
    DdpmSamplerOptions sampler;
    /// Images per network batch (a guided batch evaluates twice as many).
    std::int64_t batch = 4;
};

/// Progress of generate() in sampler steps over all batches: (0, total) first, then after every step;
/// returning false cancels.
using GenerationProgress = std::function<bool(std::int64_t stepsDone, std::int64_t stepsTotal)>;

/// Checks a request against a model; throws Error saying what is wrong (no seeds, prompt count, size).
void validate(const TextToImageModel& model, const TextToImageRequest& request);

/// Draws the requested images under NoGradGuard: uint8 [N, C, H, W] on the CPU, or nullopt when
/// `progress` cancelled.
std::optional<torch::Tensor> generate(
    const TextToImageModel& model, const TextToImageRequest& request, const GenerationProgress& progress = {});

} // namespace lethe::diffusion
