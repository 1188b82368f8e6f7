#include "ddpm_sampler.h"

#include "core/error.h"
#include "core/io/json_fields.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>

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

// diffusers' DDIM "leading" spacing: every (trainSteps / steps)-th step from 0, reversed, plus the offset.
std::vector<double> ddimTimesteps(const DdpmSchedule& schedule, int steps)
{
    const int ratio = schedule.trainSteps / steps;
    std::vector<double> t;
    for (int i = steps - 1; i >= 0; --i)
        t.push_back(static_cast<double>(i * ratio + schedule.stepsOffset));
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

json toJson(const DdpmSchedule& s)
{
    return { { "num_train_timesteps", s.trainSteps }, { "beta_start", s.betaStart }, { "beta_end", s.betaEnd },
        { "beta_schedule", enumName(s.betaSchedule) }, { "steps_offset", s.stepsOffset },
        { "set_alpha_to_one", s.setAlphaToOne }, { "prediction_type", enumName(s.prediction) },
        { "clip_sample", s.clipSample }, { "clip_sample_range", s.clipSampleRange } };
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
    if (options.method == DdpmSamplerMethod::Ddim)
        return ddimTimesteps(schedule, options.steps);
    std::vector<double> t;
    const double last = schedule.trainSteps - 1;
    for (int i = 0; i < options.steps; ++i)
        t.push_back(options.steps == 1 ? last : last * (1.0 - static_cast<double>(i) / (options.steps - 1)));
    return t;
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
