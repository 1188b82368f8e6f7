#include "edm_sampler.h"

#include "core/describe.h"
#include "core/error.h"
#include "pixels.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>

namespace lethe::diffusion {

namespace {

/// One CPU generator per image, like EDM's StackedRandomGenerator, so every draw for image i comes from
/// image i's seed alone.
class SeedGenerators {
public:
    explicit SeedGenerators(const std::vector<std::int64_t>& seeds)
    {
        m_generators.reserve(seeds.size());
        constexpr std::int64_t period = std::int64_t { 1 } << 32;
        for (const std::int64_t seed : seeds)
            m_generators.push_back(cpuGenerator(static_cast<std::uint64_t>(((seed % period) + period) % period)));
    }

    /// N×(imageSizes) standard normal values on the CPU, row i from generator i.
    torch::Tensor normal(at::IntArrayRef imageSizes, torch::ScalarType dtype)
    {
        std::vector<torch::Tensor> rows;
        rows.reserve(m_generators.size());
        for (auto& generator : m_generators)
            rows.push_back(torch::randn(imageSizes, generator, torch::TensorOptions().dtype(dtype)));
        return torch::stack(rows);
    }

    /// Advances every generator past one class-label draw in 0…classes−1, as generate.py does.
    void skipLabelDraw(std::int64_t classes)
    {
        for (auto& generator : m_generators)
            torch::randint(classes, {}, generator, torch::TensorOptions().dtype(torch::kInt64));
    }

private:
    std::vector<at::Generator> m_generators;
};

std::vector<double> checkedSchedule(const char* caller, int steps, double sigmaMin, double sigmaMax, double rho)
{
    const std::string prefix = std::string(caller) + ": ";
    if (steps < 1)
        throw Error(prefix + "steps must be at least 1, found " + std::to_string(steps));
    if (!(sigmaMin > 0) || !(sigmaMax >= sigmaMin) || !std::isfinite(sigmaMax))
        throw Error(prefix + "noise levels must satisfy 0 < sigmaMin <= sigmaMax < inf, found sigmaMin "
            + formatNumber(sigmaMin) + ", sigmaMax " + formatNumber(sigmaMax));
    if (!(rho > 0) || !std::isfinite(rho))
        throw Error(prefix + "rho must be positive, found " + formatNumber(rho));
    const double maxRoot = std::pow(sigmaMax, 1.0 / rho);
    const double minRoot = std::pow(sigmaMin, 1.0 / rho);
    std::vector<double> sigmas;
    sigmas.reserve(static_cast<std::size_t>(steps) + 1);
    for (int i = 0; i < steps; ++i) {
        // With one step EDM's i/(N−1) is 0/0; starting at σmax is what the formula means there.
        const double fraction = steps > 1 ? static_cast<double>(i) / (steps - 1) : 0.0;
        sigmas.push_back(std::pow(maxRoot + fraction * (minRoot - maxRoot), rho));
    }
    sigmas.push_back(0.0);
    return sigmas;
}

/// The sampler proper, in float64 like EDM's edm_sampler; std::nullopt when cancelled.
std::optional<torch::Tensor> runSampler(const char* caller, const Denoiser& denoiser,
    const std::vector<std::int64_t>& seeds, const torch::Tensor& classLabels, std::int64_t channels,
    std::int64_t height, std::int64_t width, const SamplerOptions& options, const torch::Device& device,
    const SamplerProgress& progress)
{
    const std::string prefix = std::string(caller) + ": ";
    const std::vector<double> sigmas
        = checkedSchedule(caller, options.steps, options.sigmaMin, options.sigmaMax, options.rho);
    if (!std::isfinite(options.sChurn) || options.sChurn < 0 || !std::isfinite(options.sNoise))
        throw Error(prefix + "sChurn must be finite and non-negative and sNoise finite, found sChurn "
            + formatNumber(options.sChurn) + ", sNoise " + formatNumber(options.sNoise));
    if (!std::isfinite(options.guidance))
        throw Error(prefix + "the guidance scale must be finite, found " + formatNumber(options.guidance));
    if (seeds.empty())
        throw Error(prefix + "no seeds given");
    if (channels < 1 || height < 1 || width < 1)
        throw Error(prefix + "image size must be positive, found " + std::to_string(channels) + "×"
            + std::to_string(height) + "×" + std::to_string(width) + " (C×H×W)");
    const auto count = static_cast<std::int64_t>(seeds.size());
    if (classLabels.defined() && (classLabels.dim() != 2 || classLabels.size(0) != count))
        throw Error(prefix + "classLabels must be N×K one-hot rows for " + std::to_string(count) + " seeds, found "
            + describeTensor(classLabels));

    torch::NoGradGuard noGrad;
    const int steps = options.steps;
    const bool churn = options.sChurn > 0;
    const bool heun = options.method == SamplerMethod::Heun;
    const auto floatOptions = torch::TensorOptions().dtype(torch::kFloat32).device(device);
    const torch::Tensor labels = classLabels.defined() ? classLabels.to(floatOptions) : torch::Tensor();
    const bool guided = labels.defined() && options.guidance != 1.0;
    // Guidance evaluates conditional and unconditional halves in one batch: one network call per step.
    const torch::Tensor guidedLabels = guided ? torch::cat({ labels, torch::zeros_like(labels) }) : torch::Tensor();

    auto denoise = [&](const torch::Tensor& x, double sigma) {
        const torch::Tensor x32 = x.to(torch::kFloat32);
        if (!guided) {
            const torch::Tensor sigmas32 = torch::full({ count }, sigma, floatOptions);
            return evaluateDenoiser(denoiser, x32, sigmas32, labels, caller).to(torch::kFloat64);
        }
        const torch::Tensor both = evaluateDenoiser(
            denoiser, torch::cat({ x32, x32 }), torch::full({ 2 * count }, sigma, floatOptions), guidedLabels, caller)
                                       .to(torch::kFloat64);
        const torch::Tensor conditional = both.narrow(0, 0, count);
        const torch::Tensor unconditional = both.narrow(0, count, count);
        return unconditional + options.guidance * (conditional - unconditional);
    };

    SeedGenerators generators(seeds);
    const torch::Tensor latents = generators.normal({ channels, height, width }, torch::kFloat32);
    // generate.py draws a random label from each generator after the latents (even when a class is
    // forced); churn noise comes later from the same generators, so skipping that draw would change it.
    if (labels.defined() && churn)
        generators.skipLabelDraw(labels.size(1));

    if (progress && !progress(0, steps))
        return std::nullopt;
    torch::Tensor x = latents.to(device, torch::kFloat64) * sigmas[0];
    const double maxGamma = std::sqrt(2.0) - 1.0;
    for (int i = 0; i < steps; ++i) {
        const double tCur = sigmas[static_cast<std::size_t>(i)];
        const double tNext = sigmas[static_cast<std::size_t>(i) + 1];

        // Temporarily raise the noise level (churn). EDM draws the extra noise at every step once churn is
        // on, inside [sMin, sMax] or not, and so must we to keep each generator's sequence identical.
        double tHat = tCur;
        torch::Tensor xHat = x;
        if (churn) {
            const double gamma
                = (options.sMin <= tCur && tCur <= options.sMax) ? std::min(options.sChurn / steps, maxGamma) : 0.0;
            tHat = tCur + gamma * tCur;
            const torch::Tensor noise = generators.normal({ channels, height, width }, torch::kFloat64).to(device);
            xHat = x + std::sqrt(tHat * tHat - tCur * tCur) * options.sNoise * noise;
        }

        const torch::Tensor dCur = (xHat - denoise(xHat, tHat)) / tHat;
        torch::Tensor xNext = xHat + (tNext - tHat) * dCur;
        if (heun && i < steps - 1) {
            const torch::Tensor dPrime = (xNext - denoise(xNext, tNext)) / tNext;
            xNext = xHat + (tNext - tHat) * (0.5 * dCur + 0.5 * dPrime);
        }
        x = xNext;
        if (progress && !progress(i + 1, steps))
            return std::nullopt;
    }
    return x;
}

} // namespace

std::vector<double> edmSigmaSchedule(int steps, double sigmaMin, double sigmaMax, double rho)
{
    return checkedSchedule("edmSigmaSchedule", steps, sigmaMin, sigmaMax, rho);
}

int denoiserEvaluations(const SamplerOptions& options)
{
    if (options.steps < 1)
        return 0;
    return options.method == SamplerMethod::Heun ? 2 * options.steps - 1 : options.steps;
}

torch::Tensor seededNoise(
    const std::vector<std::int64_t>& seeds, std::int64_t channels, std::int64_t height, std::int64_t width)
{
    if (seeds.empty())
        throw Error("seededNoise: no seeds given");
    if (channels < 1 || height < 1 || width < 1)
        throw Error("seededNoise: image size must be positive, found " + std::to_string(channels) + "×"
            + std::to_string(height) + "×" + std::to_string(width) + " (C×H×W)");
    SeedGenerators generators(seeds);
    return generators.normal({ channels, height, width }, torch::kFloat32);
}

std::optional<torch::Tensor> sample(const Denoiser& denoiser, const std::vector<std::int64_t>& seeds,
    const torch::Tensor& classLabels, std::int64_t channels, std::int64_t height, std::int64_t width,
    const SamplerOptions& options, const torch::Device& device, const SamplerProgress& progress)
{
    std::optional<torch::Tensor> images
        = runSampler("sample", denoiser, seeds, classLabels, channels, height, width, options, device, progress);
    if (images)
        *images = images->to(torch::kFloat32);
    return images;
}

std::optional<torch::Tensor> sampleUint8(const Denoiser& denoiser, const std::vector<std::int64_t>& seeds,
    const torch::Tensor& classLabels, std::int64_t channels, std::int64_t height, std::int64_t width,
    const SamplerOptions& options, const torch::Device& device, const SamplerProgress& progress)
{
    // Converted from float64, as EDM does, so a pixel sitting on a rounding edge lands where EDM puts it.
    std::optional<torch::Tensor> images
        = runSampler("sampleUint8", denoiser, seeds, classLabels, channels, height, width, options, device, progress);
    if (images)
        *images = floatToPixels(*images);
    return images;
}

} // namespace lethe::diffusion
