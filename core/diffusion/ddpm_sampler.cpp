#include "ddpm_sampler.h"

#include "core/error.h"
#include "core/io/json_fields.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace lethe::diffusion {

using nlohmann::json;

namespace {

/// An enum read by its diffusers name (`fallback` when the key is absent), or a failure listing the names.
template <typename Enum> Enum enumField(const io::JsonFields& fields, const char* key, Enum fallback)
{
    const std::string name = fields.get<std::string>(key, enumName(fallback));
    const std::optional<Enum> value = enumFromName<Enum>(name);
    if (!value)
        fields.fail(key, "expected " + enumNameList(fallback, "\"") + ", found \"" + name + "\"");
    return *value;
}

/// A string key whose implemented values are `implemented`; anything else is refused, naming key and value.
void requireOneOf(const io::JsonFields& fields, const char* key, const std::vector<std::string>& implemented,
    const std::string& why = {})
{
    if (!fields.has(key))
        return;
    const std::string value = fields.get<std::string>(key, {});
    if (std::find(implemented.begin(), implemented.end(), value) != implemented.end())
        return;
    std::string list;
    for (std::size_t i = 0; i < implemented.size(); ++i)
        list += (i == 0 ? "" : i + 1 == implemented.size() ? " and " : ", ") + ("\"" + implemented[i] + "\"");
    fields.fail(key, "\"" + value + "\" is not implemented (Lethe implements " + list + why + ")");
}

/// A true/false key of which Lethe implements only `implemented`.
void requireFlag(const io::JsonFields& fields, const char* key, bool implemented, const std::string& why)
{
    const auto name = [](bool value) { return std::string(value ? "true" : "false"); };
    if (fields.get<bool>(key, implemented) != implemented)
        fields.fail(
            key, name(!implemented) + " is not implemented (Lethe implements " + name(implemented) + ": " + why + ")");
}

/// Every key of diffusers' DDPMScheduler, DDIMScheduler, PNDMScheduler and EulerDiscreteScheduler, plus the two
/// ConfigMixin writes.
const std::set<std::string>& diffusersSchedulerKeys()
{
    static const std::set<std::string> keys { "_class_name", "_diffusers_version", "num_train_timesteps", "beta_start",
        "beta_end", "beta_schedule", "trained_betas", "variance_type", "clip_sample", "clip_sample_range",
        "set_alpha_to_one", "steps_offset", "prediction_type", "thresholding", "dynamic_thresholding_ratio",
        "sample_max_value", "timestep_spacing", "rescale_betas_zero_snr", "skip_prk_steps", "interpolation_type",
        "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "sigma_min", "sigma_max", "timestep_type",
        "final_sigmas_type" };
    return keys;
}

/// The keys Lethe does not compute with: accepted where their value leaves its samplers unchanged, refused where
/// it would change them.
void checkOtherSchedulerKeys(const io::JsonFields& fields)
{
    // Only read for their type: the class diffusers would build (Lethe's sampler is chosen by the caller), PNDM's
    // Runge-Kutta warm-up (Lethe has no PNDM sampler), and thresholding's and the σ-schedules' parameters, which
    // nothing uses while thresholding and the σ-schedules below are off.
    fields.get<std::string>("_class_name", {});
    fields.get<std::string>("_diffusers_version", {});
    fields.get<bool>("skip_prk_steps", true);
    for (const char* key : { "dynamic_thresholding_ratio", "sample_max_value", "sigma_min", "sigma_max" })
        fields.get<double>(key, 0.0);
    if (fields.has("trained_betas"))
        fields.fail("trained_betas",
            "a list of betas is not implemented (Lethe implements null: β from beta_start, beta_end and "
            "beta_schedule)");
    // DDPMScheduler's ancestral step draws noise of this variance; DDIM (η = 0) and Euler draw none. "learned"
    // and "learned_range" mean a network that also predicts the variance, which Lethe's networks do not.
    requireOneOf(fields, "variance_type", { "fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log" },
        ", which its deterministic samplers never draw; its networks predict ε or v, not a variance");
    requireFlag(fields, "thresholding", false, "clip_sample clamps the predicted x₀");
    requireFlag(fields, "rescale_betas_zero_snr", false, "β as beta_schedule gives them");
    requireOneOf(fields, "interpolation_type", { "linear" });
    requireFlag(fields, "use_karras_sigmas", false, "σ from the training schedule at the sampler's timesteps");
    requireFlag(fields, "use_exponential_sigmas", false, "σ from the training schedule at the sampler's timesteps");
    requireFlag(fields, "use_beta_sigmas", false, "σ from the training schedule at the sampler's timesteps");
    requireOneOf(fields, "timestep_type", { "discrete" });
    requireOneOf(fields, "final_sigmas_type", { "zero" });
    // diffusers warns about keys its class does not take and ignores them (ConfigMixin.extract_init_dict), and
    // folders routinely carry another scheduler class's keys (a DPMSolverMultistepScheduler's solver_order): refusing
    // them would turn away folders diffusers loads. A warning names them instead.
    for (auto it = fields.object().begin(); it != fields.object().end(); ++it)
        if (!diffusersSchedulerKeys().count(it.key()))
            spdlog::warn("{}: key '{}' is not a key of diffusers' DDPM, DDIM, PNDM or Euler scheduler; ignored",
                fields.file(), it.key());
}

/// numpy's round(): halves to even, as the default floating-point rounding mode does.
double roundHalfEven(double value)
{
    return std::nearbyint(value);
}

/// diffusers' set_timesteps for DDIMScheduler (`integers`) or EulerDiscreteScheduler.
std::vector<double> spacedTimesteps(const DdpmSchedule& schedule, TimestepSpacing spacing, int steps, bool integers)
{
    const int n = schedule.trainSteps;
    std::vector<double> t;
    switch (spacing) {
    case TimestepSpacing::Leading: {
        // Every ⌊n / steps⌋-th step from 0, reversed, plus the offset.
        const int ratio = n / steps;
        for (int i = steps - 1; i >= 0; --i)
            t.push_back(static_cast<double>(i * ratio + schedule.stepsOffset));
        return t;
    }
    case TimestepSpacing::Linspace: {
        const double last = n - 1;
        if (!integers) {
            for (int i = 0; i < steps; ++i)
                t.push_back(steps == 1 ? last : last * (1.0 - static_cast<double>(i) / (steps - 1)));
            return t;
        }
        // np.linspace(0, n − 1, steps).round()[::-1]: i · step, the last value n − 1 exactly (0 alone for 1 step).
        const double step = steps > 1 ? last / (steps - 1) : 0.0;
        for (int i = steps - 1; i >= 0; --i)
            t.push_back(steps > 1 && i == steps - 1 ? last : roundHalfEven(i * step));
        return t;
    }
    case TimestepSpacing::Trailing: {
        // np.round(np.arange(n, 0, −n/steps)) − 1. numpy's arange has ⌈(0 − n)/(−n/steps)⌉ values, start + i·δ
        // with δ = (start − n/steps) − start; for some step counts (61 of 1000) that is steps + 1, the last ≈ 0.
        const double ratio = static_cast<double>(n) / steps;
        const auto count = static_cast<long long>(std::ceil((0.0 - n) / -ratio));
        if (count != steps)
            throw Error("timestep_spacing \"trailing\" with " + std::to_string(steps) + " steps: diffusers makes "
                + std::to_string(count) + " timesteps of it (numpy.arange's rounding adds a last one, −1), which Lethe "
                + "does not copy; choose another number of steps");
        const double start = n;
        const double delta = (start - ratio) - start;
        for (int i = 0; i < steps; ++i)
            t.push_back(roundHalfEven(i == 0 ? start : start + i * delta) - 1.0);
        return t;
    }
    }
    return t;
}

// σ(t) = √((1 − ᾱ)/ᾱ), linearly interpolated between integer timesteps as numpy.interp does.
double sigmaAt(const std::vector<double>& alphaBar, double t)
{
    const auto sigma = [&](std::size_t i) { return std::sqrt((1.0 - alphaBar[i]) / alphaBar[i]); };
    const auto low = static_cast<std::size_t>(std::floor(t));
    if (low + 1 >= alphaBar.size())
        return sigma(alphaBar.size() - 1);
    const double w = t - static_cast<double>(low);
    return (1.0 - w) * sigma(low) + w * sigma(low + 1);
}

bool report(const SamplerProgress& progress, int done, int total)
{
    return !progress || progress(done, total);
}

} // namespace

DdpmSchedule ddpmScheduleFromJson(const json& object, const std::string& file)
{
    const io::JsonFields fields(object, file);
    DdpmSchedule s;
    s.trainSteps = fields.get<int>("num_train_timesteps", s.trainSteps);
    s.betaStart = fields.get<double>("beta_start", s.betaStart);
    s.betaEnd = fields.get<double>("beta_end", s.betaEnd);
    s.stepsOffset = fields.get<int>("steps_offset", s.stepsOffset);
    s.setAlphaToOne = fields.get<bool>("set_alpha_to_one", s.setAlphaToOne);
    s.clipSample = fields.get<bool>("clip_sample", s.clipSample);
    s.clipSampleRange = fields.get<double>("clip_sample_range", s.clipSampleRange);
    s.betaSchedule = enumField(fields, "beta_schedule", BetaSchedule::ScaledLinear);
    s.prediction = enumField(fields, "prediction_type", PredictionType::Epsilon);
    if (s.trainSteps < 2)
        fields.fail("num_train_timesteps", "expected at least 2, found " + std::to_string(s.trainSteps));
    if (!(s.betaStart > 0.0 && s.betaStart <= s.betaEnd && s.betaEnd < 1.0))
        fields.fail("beta_start",
            "expected 0 < beta_start ≤ beta_end < 1, found " + std::to_string(s.betaStart) + " and "
                + std::to_string(s.betaEnd));
    if (!(s.clipSampleRange > 0.0))
        fields.fail("clip_sample_range", "expected a positive number, found " + std::to_string(s.clipSampleRange));
    if (s.stepsOffset < 0 || s.stepsOffset >= s.trainSteps)
        fields.fail("steps_offset", "expected 0 … num_train_timesteps − 1, found " + std::to_string(s.stepsOffset));
    if (fields.has("timestep_spacing")) {
        requireOneOf(fields, "timestep_spacing", { "leading", "linspace", "trailing" });
        s.timestepSpacing = enumFromName<TimestepSpacing>(fields.get<std::string>("timestep_spacing", {}));
    }
    checkOtherSchedulerKeys(fields);
    return s;
}

const EnumNames<BetaSchedule>& enumNames(BetaSchedule)
{
    static const EnumNames<BetaSchedule> table
        = { { BetaSchedule::Linear, "linear" }, { BetaSchedule::ScaledLinear, "scaled_linear" } };
    return table;
}

const EnumNames<PredictionType>& enumNames(PredictionType)
{
    static const EnumNames<PredictionType> table
        = { { PredictionType::Epsilon, "epsilon" }, { PredictionType::VPrediction, "v_prediction" } };
    return table;
}

const EnumNames<TimestepSpacing>& enumNames(TimestepSpacing)
{
    static const EnumNames<TimestepSpacing> table = { { TimestepSpacing::Leading, "leading" },
        { TimestepSpacing::Linspace, "linspace" }, { TimestepSpacing::Trailing, "trailing" } };
    return table;
}

json toJson(const DdpmSchedule& s)
{
    json out = { { "num_train_timesteps", s.trainSteps }, { "beta_start", s.betaStart }, { "beta_end", s.betaEnd },
        { "beta_schedule", enumName(s.betaSchedule) }, { "steps_offset", s.stepsOffset },
        { "set_alpha_to_one", s.setAlphaToOne }, { "prediction_type", enumName(s.prediction) },
        { "clip_sample", s.clipSample }, { "clip_sample_range", s.clipSampleRange } };
    if (s.timestepSpacing)
        out["timestep_spacing"] = enumName(*s.timestepSpacing);
    return out;
}

std::vector<double> alphasCumprod(const DdpmSchedule& s)
{
    if (s.trainSteps < 2 || !(s.betaStart > 0.0 && s.betaStart <= s.betaEnd && s.betaEnd < 1.0))
        throw Error("DDPM schedule: need at least 2 steps and 0 < beta_start ≤ beta_end < 1");
    std::vector<double> alphaBar(static_cast<std::size_t>(s.trainSteps));
    double product = 1.0;
    const double n = s.trainSteps - 1;
    for (int t = 0; t < s.trainSteps; ++t) {
        double beta = 0.0;
        if (s.betaSchedule == BetaSchedule::Linear) {
            beta = s.betaStart + (s.betaEnd - s.betaStart) * t / n;
        } else {
            const double root = std::sqrt(s.betaStart) + (std::sqrt(s.betaEnd) - std::sqrt(s.betaStart)) * t / n;
            beta = root * root;
        }
        product *= 1.0 - beta;
        alphaBar[static_cast<std::size_t>(t)] = product;
    }
    return alphaBar;
}

std::optional<DdpmSamplerMethod> ddpmSamplerFromName(const std::string& name)
{
    if (name == "ddim")
        return DdpmSamplerMethod::Ddim;
    if (name == "euler")
        return DdpmSamplerMethod::Euler;
    return std::nullopt;
}

std::vector<double> samplerTimesteps(const DdpmSchedule& schedule, const DdpmSamplerOptions& options)
{
    if (options.steps < 1 || options.steps > schedule.trainSteps)
        throw Error("sampler steps must be 1 … " + std::to_string(schedule.trainSteps) + ", found "
            + std::to_string(options.steps));
    const bool ddim = options.method == DdpmSamplerMethod::Ddim;
    const TimestepSpacing spacing
        = schedule.timestepSpacing.value_or(ddim ? TimestepSpacing::Leading : TimestepSpacing::Linspace);
    return spacedTimesteps(schedule, spacing, options.steps, ddim);
}

std::optional<torch::Tensor> sampleDdpm(const NoisePredictor& predictor, const torch::Tensor& noise,
    const DdpmSchedule& schedule, const DdpmSamplerOptions& options, const SamplerProgress& progress)
{
    torch::NoGradGuard noGrad;
    const std::vector<double> alphaBar = alphasCumprod(schedule);
    const std::vector<double> timesteps = samplerTimesteps(schedule, options);
    const int total = static_cast<int>(timesteps.size());
    if (!report(progress, 0, total))
        return std::nullopt;
    // The arithmetic runs in float32 at least, whatever the network computes in.
    const auto work = noise.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    const auto predict
        = [&](const torch::Tensor& x, double t) { return predictor(x.to(noise.scalar_type()), t).to(work); };
    torch::Tensor x = noise.to(work);

    if (options.method == DdpmSamplerMethod::Ddim) {
        const int ratio = schedule.trainSteps / options.steps;
        const double finalAlphaBar = schedule.setAlphaToOne ? 1.0 : alphaBar.front();
        for (int i = 0; i < total; ++i) {
            const auto t = static_cast<int>(timesteps[static_cast<std::size_t>(i)]);
            const double a = alphaBar[static_cast<std::size_t>(std::min(t, schedule.trainSteps - 1))];
            const int previous = t - ratio;
            const double aPrev = previous >= 0 ? alphaBar[static_cast<std::size_t>(previous)] : finalAlphaBar;
            const torch::Tensor out = predict(x, t);
            torch::Tensor x0;
            torch::Tensor eps;
            if (schedule.prediction == PredictionType::Epsilon) {
                eps = out;
                x0 = (x - std::sqrt(1.0 - a) * eps) / std::sqrt(a);
            } else {
                x0 = std::sqrt(a) * x - std::sqrt(1.0 - a) * out;
                eps = std::sqrt(a) * out + std::sqrt(1.0 - a) * x;
            }
            if (schedule.clipSample) {
                // x₀ is clamped and ε re-derived from it, so the step stays consistent (OpenAI's DDIM with
                // clip_denoised; diffusers' DDIMScheduler.step with use_clipped_model_output). Keeping the raw ε
                // instead leaves the clamped-off part of x₀ in ε, which shows as coloured noise in pixel space.
                x0 = x0.clamp(-schedule.clipSampleRange, schedule.clipSampleRange);
                eps = (x - std::sqrt(a) * x0) / std::sqrt(1.0 - a);
            }
            x = std::sqrt(aPrev) * x0 + std::sqrt(1.0 - aPrev) * eps;
            if (!report(progress, i + 1, total))
                return std::nullopt;
        }
        return x.to(noise.scalar_type());
    }

    std::vector<double> sigmas;
    for (double t : timesteps)
        sigmas.push_back(sigmaAt(alphaBar, t));
    sigmas.push_back(0.0);
    x = x * std::sqrt(sigmas.front() * sigmas.front() + 1.0);
    for (int i = 0; i < total; ++i) {
        const double sigma = sigmas[static_cast<std::size_t>(i)];
        const double scale = 1.0 / std::sqrt(sigma * sigma + 1.0);
        const torch::Tensor out = predict(x * scale, timesteps[static_cast<std::size_t>(i)]);
        const torch::Tensor denoised = schedule.prediction == PredictionType::Epsilon
            ? x - sigma * out
            : out * (-sigma * scale) + x * (scale * scale);
        x = x + (x - denoised) / sigma * (sigmas[static_cast<std::size_t>(i) + 1] - sigma);
        if (!report(progress, i + 1, total))
            return std::nullopt;
    }
    return x.to(noise.scalar_type());
}

} // namespace lethe::diffusion
