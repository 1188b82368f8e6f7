#pragma once

#include "denoiser.h"

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

namespace lethe::diffusion {

/// How the sampler integrates the probability-flow ODE.
enum class SamplerMethod {
    Heun, ///< EDM's 2nd-order sampler: 2N − 1 denoiser evaluations for N steps.
    Euler, ///< 1st order, N evaluations: a cheaper, rougher preview.
};

/// Settings of the EDM sampler (Karras et al. 2022, Algorithm 2; docs/method.md §2).
struct SamplerOptions {
    /// Number of steps N (noise levels before the final σ = 0).
    int steps = 18;
    /// Lowest non-zero noise level.
    double sigmaMin = 0.002;
    /// Highest noise level, where sampling starts.
    double sigmaMax = 80.0;
    /// Exponent ρ of the noise-level spacing.
    double rho = 7.0;
    /// Stochasticity strength S_churn (0 = deterministic ODE sampler).
    double sChurn = 0.0;
    /// Churn applies only to noise levels in [sMin, sMax].
    double sMin = 0.0;
    /// Upper end of the churn range.
    double sMax = std::numeric_limits<double>::infinity();
    /// Inflation of the churn noise S_noise.
    double sNoise = 1.0;
    /// Integration method.
    SamplerMethod method = SamplerMethod::Heun;
    /// Classifier-free guidance scale w: D = D_uncond + w·(D_cond − D_uncond), D_uncond with all-zero
    /// labels. 1 = off; ignored for unconditional sampling (no labels).
    double guidance = 1.0;
};

/// Called with (steps done, total steps), once before the first step and after every step; returning
/// false cancels sampling.
using SamplerProgress = std::function<bool(int step, int total)>;

/// EDM noise levels σ_0 … σ_N: σ_i = (σmax^(1/ρ) + i/(N−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ, then σ_N = 0.
/// N + 1 values; for N = 1 it is {σmax, 0}. Throws Error on steps < 1 or a bad range.
std::vector<double> edmSigmaSchedule(int steps, double sigmaMin, double sigmaMax, double rho);

/// Denoiser calls one sample() makes: 2N − 1 for Heun, N for Euler.
int denoiserEvaluations(const SamplerOptions& options);

/// Float32 N×C×H×W standard normal noise on the CPU, image i drawn from its own CPU generator seeded with
/// seeds[i] mod 2³² (EDM generate.py's convention), so an image's noise does not depend on its batch.
torch::Tensor seededNoise(
    const std::vector<std::int64_t>& seeds, std::int64_t channels, std::int64_t height, std::int64_t width);

/// Draws one image per seed with the EDM sampler, under NoGradGuard, on `device`. classLabels: N×K one-hot
/// rows (moved to `device`) or undefined for an unconditional model. Initial and churn noise come from the
/// per-image CPU generators, so a seed gives the same image on every device and in every batch. Returns
/// float32 N×C×H×W, nominally in [−1, 1] but not clipped; std::nullopt when `progress` cancelled.
std::optional<torch::Tensor> sample(const Denoiser& denoiser, const std::vector<std::int64_t>& seeds,
    const torch::Tensor& classLabels, std::int64_t channels, std::int64_t height, std::int64_t width,
    const SamplerOptions& options, const torch::Device& device, const SamplerProgress& progress = {});

/// sample() converted to uint8 [0, 255] pixels (floatToPixels), still on `device`.
std::optional<torch::Tensor> sampleUint8(const Denoiser& denoiser, const std::vector<std::int64_t>& seeds,
    const torch::Tensor& classLabels, std::int64_t channels, std::int64_t height, std::int64_t width,
    const SamplerOptions& options, const torch::Device& device, const SamplerProgress& progress = {});

} // namespace lethe::diffusion
