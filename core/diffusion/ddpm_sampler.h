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

/// Which timesteps a sampler visits (diffusers' timestep_spacing).
enum class TimestepSpacing {
    Leading, ///< i · ⌊trainSteps/steps⌋ + stepsOffset for i = steps − 1 … 0 (DDIM's default).
    Linspace, ///< trainSteps − 1 … 0 evenly spaced; DDIM rounds them to integers (Euler's default).
    Trailing, ///< round(trainSteps − i · trainSteps/steps) − 1 for i = 0 … steps − 1.
};

/// diffusers' spellings ("linear", "scaled_linear"), for enumName and enumFromName (core/enum_names.h).
const EnumNames<BetaSchedule>& enumNames(BetaSchedule);
/// diffusers' spellings ("epsilon", "v_prediction").
const EnumNames<PredictionType>& enumNames(PredictionType);
/// diffusers' spellings ("leading", "linspace", "trailing").
const EnumNames<TimestepSpacing>& enumNames(TimestepSpacing);

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
    /// timestep_spacing; unset, each sampler keeps diffusers' default for its scheduler class (DDIMScheduler:
    /// "leading", EulerDiscreteScheduler: "linspace"), as when a diffusers folder's config names none.
    std::optional<TimestepSpacing> timestepSpacing;
};

/// Reads a diffusers scheduler_config.json; missing keys keep the defaults above. Every key of diffusers'
/// DDPMScheduler, DDIMScheduler, PNDMScheduler and EulerDiscreteScheduler is either read, accepted because its value
/// does not change what Lethe computes (skip_prk_steps, thresholding: false, ...) or refused: throws FormatError
/// naming `file`, the key and the value for a wrong type or a value Lethe does not implement, and what it
/// implements. Keys outside that list are logged as a warning and ignored, as diffusers does.
DdpmSchedule ddpmScheduleFromJson(const nlohmann::json& json, const std::string& file);

/// The schedule as scheduler_config.json keys.
nlohmann::json toJson(const DdpmSchedule& schedule);

/// ᾱ_t = Π_{s ≤ t} (1 − β_s) for t = 0 … trainSteps − 1, in double. Throws Error on a bad schedule.
std::vector<double> alphasCumprod(const DdpmSchedule& schedule);

/// Sampler of a DDPM-schedule model.
enum class DdpmSamplerMethod {
    Ddim, ///< DDIM with η = 0: deterministic; "leading" timesteps plus stepsOffset unless the schedule says otherwise.
    Euler, ///< Euler on the σ = √((1 − ᾱ)/ᾱ) ODE; "linspace" timesteps unless the schedule says otherwise.
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

/// The timesteps the sampler visits, first to last, as diffusers' set_timesteps gives them for the schedule's
/// timestep_spacing (unset: DDIM "leading", Euler "linspace"); DDIM's are integers, Euler's "linspace" ones
/// fractional. Throws Error when steps is outside [1, trainSteps], and for "trailing" at the step counts where
/// diffusers' numpy.arange makes one timestep more than asked (a last one of −1).
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
