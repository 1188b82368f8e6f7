#pragma once

// The training loss of discrete-time (DDPM) diffusion models such as Stable Diffusion: the MSE of the ε or v
// prediction at a timestep drawn uniformly from the training schedule (docs/method.md §3).

#include "core/diffusion/ddpm_sampler.h"

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <functional>

namespace lethe::diffusion {

/// (x_t [N, C, H, W], timesteps [N] int64, context [N, L, D]) → the predicted noise.
using ConditionalNoisePredictor
    = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context)>;

/// The random part of one loss evaluation, drawn on the CPU so that runs repeat on any device.
struct DdpmDraw {
    torch::Tensor timesteps; ///< int64 [N], uniform in {0, …, trainSteps − 1}.
    torch::Tensor noise; ///< float32, the shape of x0.
};

/// Draws timesteps and noise for `x0` from `generator` (a CPU generator). With `noiseOffset` > 0 each image's
/// noise also gets one constant per channel, drawn from N(0, noiseOffset²) after the per-pixel noise ("offset
/// noise", kohya's and diffusers' --noise_offset). A pixel-space model trains its ε prediction on the mean colour
/// that way: plain noise of a 32×32 image has a per-channel mean of only about ±0.03, so that part of the loss is
/// faint. With 0 nothing more is drawn.
DdpmDraw drawDdpm(
    const torch::Tensor& x0, const DdpmSchedule& schedule, at::Generator& generator, double noiseOffset = 0.0);

/// What a model of `prediction` type should output for x_t = √ᾱ·x0 + √(1 − ᾱ)·ε, in float32 on x0's device: ε, or
/// v = √ᾱ·ε − √(1 − ᾱ)·x0 (diffusers' get_velocity). `alphaBar` broadcasts against x0 ([N, 1, 1, 1] or a scalar).
torch::Tensor ddpmTarget(
    const torch::Tensor& x0, const torch::Tensor& noise, const torch::Tensor& alphaBar, PredictionType prediction);

/// Per-image losses [N]: mean over C, H, W of (f_θ(√ᾱ_t·x0 + √(1 − ᾱ_t)·ε, t, context) − target)², in float32, the
/// target ε or v as the schedule's prediction type says (ddpmTarget). x0 and context on the model's device; the draw
/// is moved there.
torch::Tensor ddpmLossPerImage(const ConditionalNoisePredictor& predict, const torch::Tensor& x0,
    const torch::Tensor& context, const DdpmSchedule& schedule, const DdpmDraw& draw);

} // namespace lethe::diffusion
