#pragma once

// Samplers for models trained on a discrete DDPM schedule (Stable Diffusion 1.x and the built-in
// text-to-image model): the schedule itself, DDIM (η = 0) and Euler, as diffusers' DDIMScheduler and
// EulerDiscreteScheduler compute them.

#include "edm_sampler.h"

#include "core/enum_names.h"

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lethe::diffusion {

/// How β_t grows over the training steps.
enum class BetaSchedule {
    Linear, ///< β linear from betaStart to betaEnd.
    ScaledLinear, ///< √β linear from √betaStart to √betaEnd, then squared (Stable Diffusion).
};

/// What the network predicts.
enum class PredictionType {
    Epsilon, ///< The noise ε (Stable Diffusion 1.x).
    VPrediction, ///< v = √ᾱ·ε − √(1 − ᾱ)·x₀ (Stable Diffusion 2.x at 768 px).
};

/// diffusers' spellings ("linear", "scaled_linear"), for enumName and enumFromName (core/enum_names.h).
const EnumNames<BetaSchedule>& enumNames(BetaSchedule);
/// diffusers' spellings ("epsilon", "v_prediction").
const EnumNames<PredictionType>& enumNames(PredictionType);

/// The discrete training schedule, with diffusers' scheduler_config.json names in the comments.
struct DdpmSchedule {
    /// num_train_timesteps.
    int trainSteps = 1000;
    /// beta_start.
    double betaStart = 0.00085;
    /// beta_end.
    double betaEnd = 0.012;
    /// beta_schedule ("linear" or "scaled_linear").
    BetaSchedule betaSchedule = BetaSchedule::ScaledLinear;
    /// steps_offset: added to DDIM's "leading" timesteps (1 for Stable Diffusion).
    int stepsOffset = 1;
    /// set_alpha_to_one: ᾱ after the last DDIM step is 1 (true) or ᾱ_0 (false, Stable Diffusion).
    bool setAlphaToOne = false;
    /// prediction_type ("epsilon" or "v_prediction").
    PredictionType prediction = PredictionType::Epsilon;
    /// clip_sample: DDIM clamps each step's predicted x₀ to ±clipSampleRange (pixel-space models, whose data lie
    /// in [−1, 1]: at the first steps x₀ = (x − √(1 − ᾱ)·ε)/√ᾱ divides the network's error by √ᾱ ≈ 0.006).
    bool clipSample = false;
    /// clip_sample_range.
    double clipSampleRange = 1.0;
};

/// Reads a diffusers scheduler_config.json; missing keys keep the defaults above. Throws FormatError naming
/// `file` and the key for a wrong type or an unsupported value.
DdpmSchedule ddpmScheduleFromJson(const nlohmann::json& json, const std::string& file);

/// The schedule as scheduler_config.json keys.
nlohmann::json toJson(const DdpmSchedule& schedule);

/// ᾱ_t = Π_{s ≤ t} (1 − β_s) for t = 0 … trainSteps − 1, in double. Throws Error on a bad schedule.
std::vector<double> alphasCumprod(const DdpmSchedule& schedule);

/// Sampler of a DDPM-schedule model.
enum class DdpmSamplerMethod {
    Ddim, ///< DDIM with η = 0: deterministic, "leading" timesteps plus stepsOffset.
    Euler, ///< Euler on the σ = √((1 − ᾱ)/ᾱ) ODE, "linspace" timesteps (diffusers' default).
};

/// "ddim" or "euler"; nullopt for anything else.
std::optional<DdpmSamplerMethod> ddpmSamplerFromName(const std::string& name);

/// Settings of one sampling run.
struct DdpmSamplerOptions {
    /// Number of network evaluations (per guidance branch).
    int steps = 50;
    /// Integration method.
    DdpmSamplerMethod method = DdpmSamplerMethod::Ddim;
};

/// The timesteps the sampler visits, first to last. DDIM: (i · trainSteps/steps) + stepsOffset for
/// i = steps − 1 … 0 (integers); Euler: trainSteps − 1 … 0 evenly spaced (fractional). Throws Error when
/// steps is outside [1, trainSteps].
std::vector<double> samplerTimesteps(const DdpmSchedule& schedule, const DdpmSamplerOptions& options);

/// The network: its prediction (ε or v, as the schedule says) for the model input x at timestep t. For Euler,
/// x is already scaled by 1/√(σ² + 1) as diffusers' scale_model_input does; t may be fractional.
using NoisePredictor = std::function<torch::Tensor(const torch::Tensor& x, double timestep)>;

/// Runs the sampler from `noise` (standard normal, any shape; Euler scales it to its first σ itself) under
/// NoGradGuard and returns x₀ in the noise's dtype and device; nullopt when `progress` cancelled (it is
/// called with (steps done, total) before the first step and after each).
std::optional<torch::Tensor> sampleDdpm(const NoisePredictor& predictor, const torch::Tensor& noise,
    const DdpmSchedule& schedule, const DdpmSamplerOptions& options, const SamplerProgress& progress = {});

} // namespace lethe::diffusion
