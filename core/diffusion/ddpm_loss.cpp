#include "ddpm_loss.h"

#include "core/error.h"

#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

namespace lethe::diffusion {

DdpmDraw drawDdpm(const torch::Tensor& x0, const DdpmSchedule& schedule, at::Generator& generator, double noiseOffset)
{
    if (!(noiseOffset >= 0.0 && std::isfinite(noiseOffset)))
        throw Error("noise offset must be a finite number ≥ 0, found " + std::to_string(noiseOffset));
    DdpmDraw draw;
    const auto options = torch::TensorOptions().dtype(torch::kInt64);
    draw.timesteps = torch::randint(schedule.trainSteps, { x0.size(0) }, generator, options);
    const auto real = torch::TensorOptions().dtype(torch::kFloat32);
    draw.noise = torch::randn(x0.sizes(), generator, real);
    if (noiseOffset > 0.0 && x0.dim() >= 2) {
        std::vector<std::int64_t> perChannel { x0.size(0), x0.size(1) };
        perChannel.resize(static_cast<std::size_t>(x0.dim()), 1);
        draw.noise += noiseOffset * torch::randn(perChannel, generator, real);
    }
    return draw;
}

torch::Tensor ddpmTarget(
    const torch::Tensor& x0, const torch::Tensor& noise, const torch::Tensor& alphaBar, PredictionType prediction)
{
    const torch::Tensor epsilon = noise.to(x0.device(), torch::kFloat32);
    if (prediction == PredictionType::Epsilon)
        return epsilon;
    // diffusers' get_velocity: v = √ᾱ·ε − √(1 − ᾱ)·x0.
    const torch::Tensor a = alphaBar.to(x0.device(), torch::kFloat32);
    return a.sqrt() * epsilon - (1 - a).sqrt() * x0.to(torch::kFloat32);
}

torch::Tensor ddpmLossPerImage(const ConditionalNoisePredictor& predict, const torch::Tensor& x0,
    const torch::Tensor& context, const DdpmSchedule& schedule, const DdpmDraw& draw)
{
    const torch::Tensor alphaBar
        = torch::tensor(alphasCumprod(schedule), torch::kFloat64).to(torch::kFloat32).to(x0.device());
    const torch::Tensor t = draw.timesteps.to(x0.device());
    const torch::Tensor a = alphaBar.index_select(0, t).view({ -1, 1, 1, 1 });
    const torch::Tensor noise = draw.noise.to(x0.device(), x0.scalar_type());
    const torch::Tensor xt = a.sqrt().to(x0.scalar_type()) * x0 + (1 - a).sqrt().to(x0.scalar_type()) * noise;
    const torch::Tensor predicted = predict(xt, t, context);
    return (predicted.to(torch::kFloat32) - ddpmTarget(x0, draw.noise, a, schedule.prediction))
        .pow(2)
        .mean({ 1, 2, 3 });
}

} // namespace lethe::diffusion
