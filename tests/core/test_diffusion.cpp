// EDM loss, noise schedule and sampler; pixel conversion, sample grids. The DDPM-schedule samplers and
// text-to-image generation are tested in test_ddpm.cpp.
#include "core/diffusion/denoiser.h"
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/edm_sampler.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"
#include "core/imaging/grid.h"
#include "tensor_compare.h"
#include "test_support.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>

using namespace lethe;
using namespace lethe::diffusion;
using lethe::test::bitIdentical;
using lethe::test::errorMessage;
using lethe::test::maxAbsDifference;

namespace {

/// A nonlinear, label-dependent stand-in for a network that treats every image independently.
torch::Tensor fakeNetwork(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels)
{
    const torch::Tensor s = sigma.view({ -1, 1, 1, 1 });
    torch::Tensor out = torch::tanh(x / (s * s + 0.25).sqrt()) * 0.9;
    if (labels.defined()) {
        const torch::Tensor classValue = torch::arange(labels.size(1), labels.options()) * 0.1;
        out = out + (labels * classValue).sum(1).view({ -1, 1, 1, 1 });
    }
    return out;
}

/// The ideal denoiser for data distributed as N(0, σ_d²) per pixel: E[y | y + σε] = x·σ_d²/(σ² + σ_d²).
Denoiser gaussianDenoiser(double sigmaData, int* calls = nullptr)
{
    return [sigmaData, calls](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor&) {
        if (calls)
            ++*calls;
        const torch::Tensor s2 = sigma.view({ -1, 1, 1, 1 }).square();
        return x * (sigmaData * sigmaData) / (s2 + sigmaData * sigmaData);
    };
}

/// The same sampler for that denoiser, on one scalar in double: the map from unit noise to the sample is
/// linear, so this factor k predicts every pixel (sample = k · noise). Written from docs/method.md §2 and
/// Karras et al. Algorithm 1, independently of the library's tensor code.
double scalarGaussianFactor(int steps, bool heun, double sigmaData)
{
    const double sigmaMin = 0.002, sigmaMax = 80.0, rho = 7.0;
    std::vector<double> t;
    for (int i = 0; i < steps; ++i)
        t.push_back(std::pow(std::pow(sigmaMax, 1 / rho)
                + double(i) / (steps - 1) * (std::pow(sigmaMin, 1 / rho) - std::pow(sigmaMax, 1 / rho)),
            rho));
    t.push_back(0.0);
    auto slope
        = [&](double x, double s) { return (x - x * sigmaData * sigmaData / (s * s + sigmaData * sigmaData)) / s; };
    double x = sigmaMax;
    for (int i = 0; i < steps; ++i) {
        const double d = slope(x, t[i]);
        double next = x + (t[i + 1] - t[i]) * d;
        if (heun && i < steps - 1)
            next = x + (t[i + 1] - t[i]) * (0.5 * d + 0.5 * slope(next, t[i + 1]));
        x = next;
    }
    return x;
}

std::vector<std::int64_t> seedRange(std::int64_t first, std::int64_t count)
{
    std::vector<std::int64_t> seeds;
    for (std::int64_t i = 0; i < count; ++i)
        seeds.push_back(first + i);
    return seeds;
}

torch::Tensor sampleOrFail(const Denoiser& denoiser, const std::vector<std::int64_t>& seeds,
    const torch::Tensor& labels, std::int64_t c, std::int64_t h, std::int64_t w, const SamplerOptions& options,
    const torch::Device& device = torch::kCPU)
{
    const std::optional<torch::Tensor> images = sample(denoiser, seeds, labels, c, h, w, options, device);
    if (!images)
        throw std::runtime_error("sampling was cancelled without a progress callback");
    return *images;
}

/// Calls that must throw, by row name; badInputs_data() gives each its exact message.
const std::map<std::string, std::function<void()>>& badCalls()
{
    static const std::map<std::string, std::function<void()>> calls = [] {
        const Denoiser identity = [](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) { return x; };
        const torch::Tensor images = torch::zeros({ 2, 1, 4, 4 });
        std::map<std::string, std::function<void()>> m;
        m["loss: 3-D images"] = [=] { edmLoss(identity, torch::zeros({ 1, 4, 4 }), {}, {}, 1); };
        m["loss: uint8 images"] = [=] { edmLoss(identity, torch::zeros({ 2, 1, 4, 4 }, torch::kUInt8), {}, {}, 1); };
        m["loss: empty batch"] = [=] { edmLoss(identity, torch::zeros({ 0, 1, 4, 4 }), {}, {}, 1); };
        m["loss: labels count"] = [=] { edmLoss(identity, images, torch::zeros({ 3, 10 }), {}, 1); };
        m["loss: alpha zero"] = [=] { edmLoss(identity, images, {}, EdmLossOptions { -1.2, 1.2, 0.5, 0.0 }, 1); };
        m["loss: sigmaData"] = [=] { edmLoss(identity, images, {}, EdmLossOptions { -1.2, 1.2, 0.0, {} }, 1); };
        m["loss: denoiser shape"] = [=] {
            edmLoss([](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) { return x.sum(1); }, images,
                {}, {}, 1);
        };
        m["sample: labels count"] = [=] {
            sample(identity, { 1, 2, 3 }, torch::zeros({ 2, 10 }), 1, 4, 4, {}, torch::kCPU);
        };
        m["sample: labels dims"] = [=] { sample(identity, { 1, 2 }, torch::zeros({ 2 }), 1, 4, 4, {}, torch::kCPU); };
        m["sample: no seeds"] = [=] { sample(identity, {}, {}, 1, 4, 4, {}, torch::kCPU); };
        m["sample: zero steps"] = [=] {
            SamplerOptions options;
            options.steps = 0;
            sample(identity, { 1 }, {}, 1, 4, 4, options, torch::kCPU);
        };
        m["sample: image size"] = [=] { sample(identity, { 1 }, {}, 3, 0, 32, {}, torch::kCPU); };
        m["sample: negative churn"] = [=] {
            SamplerOptions options;
            options.sChurn = -1;
            sample(identity, { 1 }, {}, 1, 4, 4, options, torch::kCPU);
        };
        m["sample: denoiser shape"] = [=] {
            sample([](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) { return x[0]; }, { 1, 2 },
                {}, 1, 4, 4, {}, torch::kCPU);
        };
        m["sampleUint8: zero steps"] = [=] {
            SamplerOptions options;
            options.steps = 0;
            sampleUint8(identity, { 1 }, {}, 1, 4, 4, options, torch::kCPU);
        };
        m["schedule: zero steps"] = [] { edmSigmaSchedule(0, 0.002, 80, 7); };
        m["schedule: sigma range"] = [] { edmSigmaSchedule(18, 1.0, 0.5, 7); };
        m["schedule: rho"] = [] { edmSigmaSchedule(18, 0.002, 80, 0); };
        m["seededNoise: no seeds"] = [] { seededNoise({}, 3, 32, 32); };
        m["oneHot: out of range"] = [] { oneHot(torch::tensor({ 0, 12, 3 }), 10); };
        m["oneHot: float labels"] = [] { oneHot(torch::zeros({ 3 }), 10); };
        m["pixels: float input"] = [] { pixelsToFloat(torch::zeros({ 1, 1, 2, 2 })); };
        m["pixels: uint8 output input"] = [] { floatToPixels(torch::zeros({ 2 }, torch::kUInt8)); };
        m["grid: 3-D images"] = [] { imaging::makeGrid(torch::zeros({ 3, 4, 4 }, torch::kUInt8), 2); };
        m["grid: float images"] = [] { imaging::makeGrid(torch::zeros({ 1, 3, 4, 4 }), 2); };
        m["grid: zero columns"] = [] { imaging::makeGrid(torch::zeros({ 2, 3, 4, 4 }, torch::kUInt8), 0); };
        m["grid: pad value"] = [] { imaging::makeGrid(torch::zeros({ 2, 3, 4, 4 }, torch::kUInt8), 2, 2, 256); };
        m["grid: no images"] = [] { imaging::makeGrid(torch::zeros({ 0, 3, 4, 4 }, torch::kUInt8), 2); };
        m["frame: row outside"] = [] {
            imaging::makeFramedGrid(torch::zeros({ 4, 3, 4, 4 }, torch::kUInt8), 2, { 2 }, { 255, 0, 0 });
        };
        m["frame: no padding"] = [] {
            imaging::makeFramedGrid(torch::zeros({ 4, 3, 4, 4 }, torch::kUInt8), 2, { 0 }, { 255, 0, 0 }, 0);
        };
        m["frame: four channels"] = [] {
            imaging::makeFramedGrid(torch::zeros({ 4, 4, 4, 4 }, torch::kUInt8), 2, { 0 }, { 255, 0, 0 });
        };
        m["difference: shapes"] = [] {
            imaging::absoluteDifference(
                torch::zeros({ 2, 3, 4, 4 }, torch::kUInt8), torch::zeros({ 2, 3, 4, 5 }, torch::kUInt8));
        };
        m["difference: amplify"] = [] {
            imaging::absoluteDifference(torch::zeros({ 1 }, torch::kUInt8), torch::zeros({ 1 }, torch::kUInt8), 0.0);
        };
        return m;
    }();
    return calls;
}

} // namespace

class TestDiffusion : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void sigmaScheduleMatchesEdm();
    void lossMatchesHandComputation_data();
    void lossMatchesHandComputation();
    void lossDrawsNoiseInEdmOrder();
    void truncationStopsGradientAboveAlpha();
    void truncationTieHalvesTheGradientAsThePapersMinimum();
    void seededNoiseFollowsEdmConvention();
    void sameSeedsGiveBitIdenticalSamples_data();
    void sameSeedsGiveBitIdenticalSamples();
    void sampleDoesNotDependOnBatch();
    void gaussianDataIsReproduced();
    void countsDenoiserEvaluations_data();
    void countsDenoiserEvaluations();
    void guidanceMixesConditionalAndUnconditional_data();
    void guidanceMixesConditionalAndUnconditional();
    void progressCancels_data();
    void progressCancels();
    void cudaMatchesCpu();
    void pixelsRoundTrip();
    void oneHotRows();
    void gridPlacesCells();
    void framedGridDrawsFrames();
    void differenceImage();
    void badInputs_data();
    void badInputs();
};

void TestDiffusion::sigmaScheduleMatchesEdm()
{
    const std::vector<double> sigmas = edmSigmaSchedule(18, 0.002, 80.0, 7.0);
    QCOMPARE(sigmas.size(), std::size_t { 19 });
    QVERIFY(std::abs(sigmas.front() - 80.0) < 1e-9);
    QVERIFY(std::abs(sigmas[17] - 0.002) < 1e-12);
    QCOMPARE(sigmas.back(), 0.0);
    for (std::size_t i = 1; i < sigmas.size(); ++i)
        QVERIFY2(sigmas[i] < sigmas[i - 1], qPrintable(QStringLiteral("not decreasing at %1").arg(i)));
    // σ_9 from docs/method.md's formula, and the value EDM's edm_sampler prints for it.
    const double a = std::pow(80.0, 1.0 / 7.0);
    const double b = std::pow(0.002, 1.0 / 7.0);
    const double expected = std::pow(a + 9.0 / 17.0 * (b - a), 7.0);
    QVERIFY(std::abs(sigmas[9] - expected) < 1e-6);
    QVERIFY(std::abs(sigmas[9] - 1.92333983704) < 1e-6);

    const std::vector<double> single = edmSigmaSchedule(1, 0.002, 80.0, 7.0);
    QCOMPARE(single.size(), std::size_t { 2 });
    QVERIFY(std::abs(single[0] - 80.0) < 1e-9);
    QCOMPARE(single[1], 0.0);
}

void TestDiffusion::lossMatchesHandComputation_data()
{
    QTest::addColumn<double>("sigmaData");
    QTest::addColumn<double>("alpha"); // 0 = no truncation
    QTest::addColumn<bool>("withLabels");
    QTest::newRow("edm defaults") << 0.5 << 0.0 << true;
    QTest::newRow("sigma_data 1, unconditional") << 1.0 << 0.0 << false;
    QTest::newRow("truncated at 0.3") << 0.5 << 0.3 << true;
}

void TestDiffusion::lossMatchesHandComputation()
{
    QFETCH(double, sigmaData);
    QFETCH(double, alpha);
    QFETCH(bool, withLabels);
    // A fixed denoiser that records what it was given: the loss is then checked element by element in double.
    torch::Tensor seenX, seenSigma, seenLabels;
    const Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) {
        seenX = x.clone();
        seenSigma = sigma.clone();
        seenLabels = labels;
        return 0.3 * x - 0.1;
    };
    const torch::Tensor images = torch::linspace(-1, 1, 3 * 2 * 3 * 3).view({ 3, 2, 3, 3 });
    const torch::Tensor labels = withLabels ? oneHot(torch::tensor({ 2, 0, 1 }), 3) : torch::Tensor();
    EdmLossOptions options;
    options.sigmaData = sigmaData;
    if (alpha > 0)
        options.alpha = alpha;
    const EdmLossResult result = edmLoss(denoiser, images, labels, options, 1234);

    QCOMPARE(seenSigma.sizes(), torch::IntArrayRef({ 3 }));
    QVERIFY(bitIdentical(seenSigma, result.sigma));
    QCOMPARE(seenLabels.defined(), withLabels);
    if (withLabels)
        QVERIFY(bitIdentical(seenLabels, labels));
    QCOMPARE(result.loss.dim(), 0);
    QCOMPARE(result.perImage.sizes(), torch::IntArrayRef({ 3 }));

    const auto x = seenX.accessor<float, 4>();
    const auto y = images.accessor<float, 4>();
    double total = 0;
    for (int n = 0; n < 3; ++n) {
        const double s = seenSigma[n].item<double>();
        const double weight = (s * s + sigmaData * sigmaData) / ((s * sigmaData) * (s * sigmaData));
        double perImage = 0;
        for (int c = 0; c < 2; ++c)
            for (int h = 0; h < 3; ++h)
                for (int w = 0; w < 3; ++w) {
                    double squared = std::pow(0.3 * x[n][c][h][w] - 0.1 - y[n][c][h][w], 2);
                    if (alpha > 0)
                        squared = std::min(squared, alpha);
                    perImage += weight * squared;
                }
        QVERIFY2(std::abs(result.perImage[n].item<double>() - perImage) <= 1e-5 * perImage,
            qPrintable(
                QStringLiteral("image %1: %2 vs %3").arg(n).arg(result.perImage[n].item<double>()).arg(perImage)));
        total += perImage;
    }
    QVERIFY(std::abs(result.loss.item<double>() - total / 3) <= 1e-5 * total);
}

void TestDiffusion::lossDrawsNoiseInEdmOrder()
{
    // EDMLoss draws n (N×1×1×1) first, then ε shaped like the images; σ = exp(P_mean + P_std·n).
    torch::Tensor seenX;
    const Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) {
        seenX = x.clone();
        return x;
    };
    const torch::Tensor images = torch::full({ 4, 3, 2, 2 }, 0.25f);
    const EdmLossResult result = edmLoss(denoiser, images, {}, {}, 99);
    at::Generator generator = cpuGenerator(99);
    const torch::Tensor n = torch::randn({ 4, 1, 1, 1 }, generator);
    const torch::Tensor epsilon = torch::randn({ 4, 3, 2, 2 }, generator);
    QVERIFY(maxAbsDifference(result.sigma, (n * 1.2 - 1.2).exp().view({ 4 })) < 1e-6);
    QVERIFY(maxAbsDifference(seenX, images + epsilon * result.sigma.view({ 4, 1, 1, 1 })) < 1e-5);

    // A generator passed in gives the same draw as the seed overload.
    const EdmLossResult again = edmLoss(denoiser, images, {}, {}, cpuGenerator(99));
    QVERIFY(bitIdentical(again.loss, result.loss));

    // σ fixed by pStd = 0: exp(ln 2) = 2, weight (4 + 0.25)/(2·0.5)² = 4.25; D = y + σε, so the loss is
    // 4.25·σ²·Σε² / N.
    EdmLossOptions fixed;
    fixed.pMean = std::log(2.0);
    fixed.pStd = 0;
    const EdmLossResult atTwo = edmLoss(denoiser, images, {}, fixed, 7);
    at::Generator g7 = cpuGenerator(7);
    torch::randn({ 4, 1, 1, 1 }, g7);
    const double sumSquares = torch::randn({ 4, 3, 2, 2 }, g7).square().sum().item<double>();
    QVERIFY(std::abs(atTwo.sigma[0].item<double>() - 2.0) < 1e-6);
    QVERIFY(std::abs(atTwo.loss.item<double>() - 4.25 * 4.0 * sumSquares / 4) < 1e-4 * sumSquares);
}

void TestDiffusion::truncationStopsGradientAboveAlpha()
{
    // D ignores its input and returns a learnable tensor, so (D − y)² is known element by element.
    const torch::Tensor images = torch::zeros({ 2, 1, 2, 2 });
    const torch::Tensor offsets
        = torch::tensor({ 0.1f, 0.5f, -0.2f, 0.9f, -0.05f, 0.31f, 0.29f, -1.0f }).view({ 2, 1, 2, 2 });
    torch::Tensor parameter = offsets.clone().set_requires_grad(true);
    const Denoiser denoiser
        = [&](const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) { return parameter; };
    EdmLossOptions options;
    options.pMean = 0; // σ = 1, weight (1 + 0.25)/0.25 = 5
    options.pStd = 0;
    options.alpha = 0.09; // (D − y)² above 0.09 ⇔ |offset| > 0.3
    const EdmLossResult result = edmLoss(denoiser, images, {}, options, 3);
    result.loss.backward();

    const torch::Tensor gradient = parameter.grad().flatten();
    const torch::Tensor flat = offsets.flatten();
    double expectedLoss = 0;
    for (int i = 0; i < 8; ++i) {
        const double offset = flat[i].item<double>();
        const double g = gradient[i].item<double>();
        if (offset * offset > 0.09) {
            QVERIFY2(g == 0.0,
                qPrintable(QStringLiteral("element %1 (offset %2) has gradient %3").arg(i).arg(offset).arg(g)));
            expectedLoss += 5 * 0.09;
        } else {
            // d/dD of 5·(D − y)² / N with N = 2.
            QVERIFY2(g != 0.0 && std::abs(g - 5.0 * offset) < 1e-5,
                qPrintable(QStringLiteral("element %1 (offset %2) has gradient %3").arg(i).arg(offset).arg(g)));
            expectedLoss += 5 * offset * offset;
        }
    }
    QVERIFY(std::abs(result.loss.item<double>() - expectedLoss / 2) < 1e-5);

    // Without α every element pulls.
    parameter.mutable_grad() = torch::Tensor();
    options.alpha.reset();
    edmLoss(denoiser, images, {}, options, 3).loss.backward();
    QVERIFY(parameter.grad().ne(0).all().item<bool>());
}

void TestDiffusion::truncationTieHalvesTheGradientAsThePapersMinimum()
{
    // The paper's torch.minimum((D − y)², α) passes half the gradient where (D − y)² equals α exactly (0.5² = 0.25
    // in float); clamp_max would pass all of it. Below α the whole gradient, above it none.
    const torch::Tensor images = torch::zeros({ 2, 1, 1, 1 });
    const torch::Tensor offsets = torch::tensor({ 0.5f, 0.25f }).view({ 2, 1, 1, 1 });
    torch::Tensor parameter = offsets.clone().set_requires_grad(true);
    const Denoiser denoiser
        = [&](const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) { return parameter; };
    EdmLossOptions options;
    options.pMean = 0; // σ = 1, weight 5
    options.pStd = 0;
    options.alpha = 0.25;
    edmLoss(denoiser, images, {}, options, 3).loss.backward();
    // d/dD of 5·(D − y)² / N, N = 2: 5·D; half of it at the tie.
    const torch::Tensor gradient = parameter.grad().flatten();
    QCOMPARE(gradient[0].item<double>(), 0.5 * 5.0 * 0.5);
    QCOMPARE(gradient[1].item<double>(), 5.0 * 0.25);

    parameter.mutable_grad() = torch::Tensor();
    options.alpha = 0.2; // 0.5² is now above α: no gradient
    edmLoss(denoiser, images, {}, options, 3).loss.backward();
    QCOMPARE(parameter.grad().flatten()[0].item<double>(), 0.0);
}

void TestDiffusion::seededNoiseFollowsEdmConvention()
{
    // Python: torch.randn([1, 1, 2], generator=torch.Generator().manual_seed(0)) = [[[1.5410, -0.2934]]].
    const torch::Tensor zero = seededNoise({ 0 }, 1, 1, 2);
    QCOMPARE(zero.sizes(), torch::IntArrayRef({ 1, 1, 1, 2 }));
    QCOMPARE(zero.scalar_type(), torch::kFloat32);
    QVERIFY(std::abs(zero.flatten()[0].item<double>() - 1.5410) < 1e-4);
    QVERIFY(std::abs(zero.flatten()[1].item<double>() + 0.2934) < 1e-4);

    // Seeds are taken modulo 2³², as generate.py does with int(seed) % (1 << 32).
    const std::int64_t period = std::int64_t { 1 } << 32;
    QVERIFY(bitIdentical(seededNoise({ 5 + period }, 3, 8, 8), seededNoise({ 5 }, 3, 8, 8)));
    QVERIFY(bitIdentical(seededNoise({ -1 }, 3, 8, 8), seededNoise({ period - 1 }, 3, 8, 8)));

    // Row i depends on seed i only.
    const torch::Tensor batch = seededNoise({ 11, 12, 13 }, 3, 8, 8);
    QVERIFY(bitIdentical(batch[1], seededNoise({ 12 }, 3, 8, 8)[0]));
    QVERIFY(!bitIdentical(batch[0], batch[2]));
}

void TestDiffusion::sameSeedsGiveBitIdenticalSamples_data()
{
    QTest::addColumn<int>("method");
    QTest::addColumn<double>("churn");
    QTest::newRow("heun") << int(SamplerMethod::Heun) << 0.0;
    QTest::newRow("heun with churn") << int(SamplerMethod::Heun) << 30.0;
    QTest::newRow("euler") << int(SamplerMethod::Euler) << 0.0;
}

void TestDiffusion::sameSeedsGiveBitIdenticalSamples()
{
    QFETCH(int, method);
    QFETCH(double, churn);
    SamplerOptions options;
    options.method = static_cast<SamplerMethod>(method);
    options.sChurn = churn;
    options.sMin = 0.05;
    options.sMax = 50;
    const torch::Tensor labels = oneHot(torch::tensor({ 3, 1, 4, 1 }), 10);
    const torch::Tensor first = sampleOrFail(fakeNetwork, { 7, 8, 9, 10 }, labels, 3, 8, 8, options);
    const torch::Tensor second = sampleOrFail(fakeNetwork, { 7, 8, 9, 10 }, labels, 3, 8, 8, options);
    QCOMPARE(first.sizes(), torch::IntArrayRef({ 4, 3, 8, 8 }));
    QCOMPARE(first.scalar_type(), torch::kFloat32);
    QVERIFY(torch::isfinite(first).all().item<bool>());
    QVERIFY(bitIdentical(first, second));
    const torch::Tensor other = sampleOrFail(fakeNetwork, { 7, 8, 9, 11 }, labels, 3, 8, 8, options);
    QVERIFY(bitIdentical(first.narrow(0, 0, 3), other.narrow(0, 0, 3)));
    QVERIFY(!bitIdentical(first[3], other[3]));

    const std::optional<torch::Tensor> pixels
        = sampleUint8(fakeNetwork, { 7, 8, 9, 10 }, labels, 3, 8, 8, options, torch::kCPU);
    QVERIFY(pixels.has_value());
    QCOMPARE(pixels->scalar_type(), torch::kUInt8);
    QVERIFY(maxAbsDifference(*pixels, floatToPixels(first)) <= 1.0);
}

void TestDiffusion::sampleDoesNotDependOnBatch()
{
    SamplerOptions options;
    options.steps = 10;
    options.sChurn = 20; // churn noise must come from the image's own generator too
    const torch::Tensor labels = oneHot(torch::tensor({ 0, 5, 9 }), 10);
    const torch::Tensor batch = sampleOrFail(fakeNetwork, { 100, 200, 300 }, labels, 3, 6, 6, options);
    const torch::Tensor alone = sampleOrFail(fakeNetwork, { 200 }, labels.narrow(0, 1, 1), 3, 6, 6, options);
    QVERIFY(bitIdentical(batch[1], alone[0]));
    const torch::Tensor reordered
        = sampleOrFail(fakeNetwork, { 300, 100 }, torch::stack({ labels[2], labels[0] }), 3, 6, 6, options);
    QVERIFY(bitIdentical(batch[2], reordered[0]));
    QVERIFY(bitIdentical(batch[0], reordered[1]));
}

void TestDiffusion::gaussianDataIsReproduced()
{
    // With the exact denoiser of N(0, σ_d²) data the probability-flow ODE maps N(0, σ_max²) noise onto
    // N(0, σ_d²), and every step is linear in x, so sample = k·noise with k from the scalar recursion.
    const double sigmaData = 0.5;
    const std::vector<std::int64_t> seeds = seedRange(1000, 64);
    const torch::Tensor noise = seededNoise(seeds, 3, 32, 32).to(torch::kFloat64);
    // 196 608 pixels: the sample standard deviation of unit noise has relative standard error
    // 1/√(2n) ≈ 0.16 %, so 5 standard errors are 0.8 %.
    const double noiseStd = noise.std().item<double>();
    QVERIFY(std::abs(noiseStd - 1.0) < 0.008);

    struct Case {
        SamplerMethod method;
        int steps;
        double tolerance; // relative, against σ_d
    };
    // Discretisation error of k (from scalarGaussianFactor): Heun 18 steps +5.5 %, Heun 100 steps +0.14 %,
    // Euler 18 steps −15.4 %. The tolerances add the 0.8 % sampling margin to those.
    for (const Case c : { Case { SamplerMethod::Heun, 18, 0.064 }, Case { SamplerMethod::Heun, 100, 0.01 },
             Case { SamplerMethod::Euler, 18, 0.163 } }) {
        SamplerOptions options;
        options.method = c.method;
        options.steps = c.steps;
        const torch::Tensor images = sampleOrFail(gaussianDenoiser(sigmaData), seeds, {}, 3, 32, 32, options);
        const double k = scalarGaussianFactor(c.steps, c.method == SamplerMethod::Heun, sigmaData);
        // The tensor sampler agrees with the scalar one pixel by pixel (float32 denoiser inputs: ~1e-7 relative).
        QVERIFY2(maxAbsDifference(images, noise * k) < 1e-5, qPrintable(QStringLiteral("steps %1").arg(c.steps)));
        const double std = images.to(torch::kFloat64).std().item<double>();
        QVERIFY2(std::abs(std / sigmaData - 1.0) < c.tolerance,
            qPrintable(QStringLiteral("steps %1: std %2, k %3").arg(c.steps).arg(std).arg(k)));
        QVERIFY(std::abs(images.mean().item<double>()) < 0.01);
    }
    // Heun is the better integrator: its 18-step error is a third of Euler's.
    QVERIFY(std::abs(scalarGaussianFactor(18, true, sigmaData) - sigmaData)
        < std::abs(scalarGaussianFactor(18, false, sigmaData) - sigmaData) / 2);
}

void TestDiffusion::countsDenoiserEvaluations_data()
{
    QTest::addColumn<int>("method");
    QTest::addColumn<int>("steps");
    QTest::addColumn<double>("guidance");
    QTest::addColumn<int>("calls");
    QTest::newRow("heun 18") << int(SamplerMethod::Heun) << 18 << 1.0 << 35;
    QTest::newRow("euler 18") << int(SamplerMethod::Euler) << 18 << 1.0 << 18;
    QTest::newRow("heun 1") << int(SamplerMethod::Heun) << 1 << 1.0 << 1;
    QTest::newRow("euler 5") << int(SamplerMethod::Euler) << 5 << 1.0 << 5;
    QTest::newRow("heun 18 guided") << int(SamplerMethod::Heun) << 18 << 2.0 << 35;
}

void TestDiffusion::countsDenoiserEvaluations()
{
    QFETCH(int, method);
    QFETCH(int, steps);
    QFETCH(double, guidance);
    QFETCH(int, calls);
    SamplerOptions options;
    options.method = static_cast<SamplerMethod>(method);
    options.steps = steps;
    options.guidance = guidance;
    int counted = 0;
    std::int64_t batch = 0;
    const Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) {
        ++counted;
        batch = x.size(0);
        return fakeNetwork(x, sigma, labels);
    };
    sampleOrFail(denoiser, { 1, 2 }, oneHot(torch::tensor({ 0, 1 }), 2), 1, 4, 4, options);
    QCOMPARE(counted, calls);
    QCOMPARE(denoiserEvaluations(options), calls);
    QCOMPARE(batch, guidance == 1.0 ? std::int64_t { 2 } : std::int64_t { 4 });
}

void TestDiffusion::guidanceMixesConditionalAndUnconditional_data()
{
    QTest::addColumn<double>("guidance");
    QTest::addColumn<bool>("withLabels");
    QTest::newRow("off") << 1.0 << true;
    QTest::newRow("w = 3") << 3.0 << true;
    QTest::newRow("w = 0, unconditional only") << 0.0 << true;
    QTest::newRow("w = 3 without labels is ignored") << 3.0 << false;
}

void TestDiffusion::guidanceMixesConditionalAndUnconditional()
{
    QFETCH(double, guidance);
    QFETCH(bool, withLabels);
    // D = 0.1 + value of the class (0.5, 1.5, 2.5); with all-zero labels D_uncond = 0.1.
    std::vector<torch::Tensor> seenLabels;
    const Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor& labels) {
        seenLabels.push_back(labels);
        torch::Tensor value = torch::full({ x.size(0) }, 0.1f);
        if (labels.defined())
            value = value + (labels * torch::tensor({ 0.5f, 1.5f, 2.5f })).sum(1);
        return value.view({ -1, 1, 1, 1 }).expand_as(x).clone();
    };
    SamplerOptions options;
    options.steps = 1; // one Euler step from σ_max to 0 returns D itself
    options.guidance = guidance;
    const torch::Tensor labels = withLabels ? oneHot(torch::tensor({ 2, 0 }), 3) : torch::Tensor();
    const torch::Tensor images = sampleOrFail(denoiser, { 4, 5 }, labels, 1, 2, 2, options);

    const bool guided = withLabels && guidance != 1.0;
    QCOMPARE(seenLabels.size(), std::size_t { 1 });
    if (guided) {
        QCOMPARE(seenLabels[0].sizes(), torch::IntArrayRef({ 4, 3 }));
        QVERIFY(bitIdentical(seenLabels[0].narrow(0, 0, 2), labels));
        QVERIFY(seenLabels[0].narrow(0, 2, 2).eq(0).all().item<bool>());
    }
    const double classValue[2] = { 2.5, 0.5 };
    for (int n = 0; n < 2; ++n) {
        const double conditional = withLabels ? 0.1 + classValue[n] : 0.1;
        const double expected = guided ? 0.1 + guidance * (conditional - 0.1) : conditional;
        QVERIFY2(images[n].sub(expected).abs().max().item<double>() < 1e-5,
            qPrintable(QStringLiteral("image %1: %2, expected %3")
                           .arg(n)
                           .arg(images[n][0][0][0].item<double>())
                           .arg(expected)));
    }
}

void TestDiffusion::progressCancels_data()
{
    QTest::addColumn<int>("cancelAt"); // -1: never
    QTest::addColumn<int>("calls");
    QTest::newRow("before the first step") << 0 << 0;
    QTest::newRow("after step 3") << 3 << 6;
    QTest::newRow("never") << -1 << 19;
}

void TestDiffusion::progressCancels()
{
    QFETCH(int, cancelAt);
    QFETCH(int, calls);
    SamplerOptions options;
    options.steps = 10;
    int counted = 0;
    const Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) {
        ++counted;
        return fakeNetwork(x, sigma, labels);
    };
    std::vector<int> reported;
    const SamplerProgress progress = [&](int step, int total) {
        reported.push_back(step);
        return total == 10 && step != cancelAt;
    };
    const std::optional<torch::Tensor> images = sample(denoiser, { 1 }, {}, 1, 4, 4, options, torch::kCPU, progress);
    QCOMPARE(images.has_value(), cancelAt < 0);
    QCOMPARE(counted, calls);
    const int last = cancelAt < 0 ? 10 : cancelAt;
    QCOMPARE(reported.size(), std::size_t(last + 1));
    for (int i = 0; i <= last; ++i)
        QCOMPARE(reported[std::size_t(i)], i);
}

void TestDiffusion::cudaMatchesCpu()
{
    if (!torch::cuda::is_available())
        QSKIP("no CUDA device");
    SamplerOptions options;
    options.sChurn = 10;
    const torch::Tensor labels = oneHot(torch::tensor({ 1, 2 }), 3);
    const torch::Tensor cpu = sampleOrFail(fakeNetwork, { 21, 22 }, labels, 3, 16, 16, options, torch::kCPU);
    const torch::Tensor cuda = sampleOrFail(fakeNetwork, { 21, 22 }, labels, 3, 16, 16, options, torch::kCUDA);
    QVERIFY(cuda.is_cuda());
    // Same noise (drawn on the CPU); only the arithmetic differs between the devices.
    QVERIFY(maxAbsDifference(cpu, cuda) < 1e-4);

    const torch::Tensor images = torch::rand({ 3, 1, 4, 4 }, torch::TensorOptions().device(torch::kCUDA)) * 2 - 1;
    const Denoiser network = [](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& l) {
        return fakeNetwork(x, sigma, l);
    };
    const EdmLossResult onCuda = edmLoss(network, images, {}, {}, 5);
    const EdmLossResult onCpu = edmLoss(network, images.cpu(), {}, {}, 5);
    QVERIFY(onCuda.loss.is_cuda());
    QVERIFY(std::abs(onCuda.loss.item<double>() - onCpu.loss.item<double>()) < 1e-3 * onCpu.loss.item<double>());
}

void TestDiffusion::pixelsRoundTrip()
{
    const torch::Tensor all = torch::arange(256, torch::kInt32).to(torch::kUInt8).view({ 1, 1, 16, 16 });
    const torch::Tensor values = pixelsToFloat(all);
    QCOMPARE(values.scalar_type(), torch::kFloat32);
    QCOMPARE(values.min().item<float>(), -1.0f);
    QCOMPARE(values.max().item<float>(), 1.0f);
    QVERIFY(bitIdentical(floatToPixels(values), all));
    QVERIFY(bitIdentical(floatToPixels(values.to(torch::kFloat64)), all));

    // EDM's (x·127.5 + 128) clipped and truncated: 0 → 128, out-of-range values clip, NaN → 0.
    const torch::Tensor edges = torch::tensor({ -3.0, -1.0, 0.0, 1.0, 2.5, 0.5, std::nan("") });
    const torch::Tensor pixels = floatToPixels(edges);
    const std::vector<int> expected = { 0, 0, 128, 255, 255, 191, 0 };
    for (std::size_t i = 0; i < expected.size(); ++i)
        QCOMPARE(int(pixels[std::int64_t(i)].item<std::uint8_t>()), expected[i]);
}

void TestDiffusion::oneHotRows()
{
    const torch::Tensor rows = oneHot(torch::tensor({ 2, 0, 2 }), 4);
    QCOMPARE(rows.scalar_type(), torch::kFloat32);
    QVERIFY(bitIdentical(
        rows, torch::tensor({ 0.f, 0.f, 1.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.f }).view({ 3, 4 })));
    QCOMPARE(oneHot(torch::zeros({ 0 }, torch::kInt64), 3).sizes(), torch::IntArrayRef({ 0, 3 }));
}

void TestDiffusion::gridPlacesCells()
{
    // Five 1×2×3 images, image i filled with 10·(i + 1), three columns, padding 1, pad value 7.
    const torch::Tensor images
        = (torch::arange(1, 6, torch::kInt32) * 10).to(torch::kUInt8).view({ 5, 1, 1, 1 }).expand({ 5, 1, 2, 3 });
    const torch::Tensor grid = imaging::makeGrid(images, 3, 1, 7);
    QCOMPARE(grid.sizes(), torch::IntArrayRef({ 1, 2 * 3 + 1, 3 * 4 + 1 }));
    QCOMPARE(grid.scalar_type(), torch::kUInt8);
    torch::Tensor expected = torch::full({ 1, 7, 13 }, 7, torch::kUInt8);
    for (int i = 0; i < 5; ++i) {
        const int top = 1 + (i / 3) * 3;
        const int left = 1 + (i % 3) * 4;
        QCOMPARE(int(grid[0][top][left].item<std::uint8_t>()), 10 * (i + 1));
        QCOMPARE(int(grid[0][top + 1][left + 2].item<std::uint8_t>()), 10 * (i + 1));
        expected.narrow(1, top, 2).narrow(2, left, 3).fill_(10 * (i + 1));
    }
    QVERIFY(bitIdentical(grid, expected)); // everything else, the empty sixth cell included, is padding

    // Fewer images than columns: the grid is only as wide as the images.
    QCOMPARE(imaging::makeGrid(images.narrow(0, 0, 2), 8, 2, 0).sizes(), torch::IntArrayRef({ 1, 2 + 4, 2 * 5 + 2 }));
    QVERIFY(bitIdentical(imaging::makeGrid(images.narrow(0, 0, 1), 4, 0), images[0]));
}

void TestDiffusion::framedGridDrawsFrames()
{
    // Four grey 1×3×3 images at 100, two per row, padding 2, pad 0; frame grid row 1 in red.
    const torch::Tensor images = torch::full({ 4, 1, 3, 3 }, 100, torch::kUInt8);
    const torch::Tensor grid = imaging::makeFramedGrid(images, 2, { 1 }, { 255, 0, 0 }, 2, 0);
    QCOMPARE(grid.sizes(), torch::IntArrayRef({ 3, 2 * 5 + 2, 2 * 5 + 2 }));
    const torch::Tensor red = torch::tensor({ 255, 0, 0 }, torch::kInt32).to(torch::kUInt8);
    const torch::Tensor black = torch::zeros({ 3 }, torch::kUInt8);
    auto pixel = [&](int y, int x) { return grid.select(1, y).select(1, x); };
    // Row 1's band is y 5…11: its top (5, 6) and bottom (10, 11) stripes and the outer columns are red.
    for (int x = 0; x < 12; ++x) {
        QVERIFY(bitIdentical(pixel(5, x), red));
        QVERIFY(bitIdentical(pixel(6, x), red));
        QVERIFY(bitIdentical(pixel(10, x), red));
        QVERIFY(bitIdentical(pixel(11, x), red));
    }
    for (int y = 5; y < 12; ++y) {
        QVERIFY(bitIdentical(pixel(y, 0), red));
        QVERIFY(bitIdentical(pixel(y, 1), red));
        QVERIFY(bitIdentical(pixel(y, 10), red));
        QVERIFY(bitIdentical(pixel(y, 11), red));
    }
    // Grey images became RGB with equal channels; row 0 and the gap between the row's cells are untouched.
    QVERIFY(bitIdentical(pixel(7, 2), torch::full({ 3 }, 100, torch::kUInt8)));
    QVERIFY(bitIdentical(pixel(8, 5), black));
    QVERIFY(bitIdentical(pixel(0, 0), black));
    QVERIFY(bitIdentical(pixel(4, 0), black));
    QVERIFY(bitIdentical(pixel(2, 2), torch::full({ 3 }, 100, torch::kUInt8)));

    // A grey frame on grey images keeps one channel.
    const torch::Tensor greyFramed = imaging::makeFramedGrid(images, 2, { 0 }, { 200, 200, 200 }, 1, 0);
    QCOMPARE(greyFramed.size(0), std::int64_t { 1 });
    QCOMPARE(int(greyFramed[0][0][0].item<std::uint8_t>()), 200);
    QCOMPARE(int(greyFramed[0][4][3].item<std::uint8_t>()), 200); // bottom stripe of row 0 (y = 4)
    QCOMPARE(int(greyFramed[0][5][5].item<std::uint8_t>()), 100); // row 1's image, not framed
    // Frames of no rows leave makeGrid's picture.
    QVERIFY(bitIdentical(
        imaging::makeFramedGrid(images, 2, {}, { 200, 200, 200 }, 1, 9), imaging::makeGrid(images, 2, 1, 9)));
}

void TestDiffusion::differenceImage()
{
    const torch::Tensor a = torch::tensor({ 0, 10, 200, 255 }, torch::kInt32).to(torch::kUInt8);
    const torch::Tensor b = torch::tensor({ 5, 10, 100, 0 }, torch::kInt32).to(torch::kUInt8);
    const torch::Tensor plain = imaging::absoluteDifference(a, b);
    QVERIFY(bitIdentical(plain, torch::tensor({ 5, 0, 100, 255 }, torch::kInt32).to(torch::kUInt8)));
    const torch::Tensor amplified = imaging::absoluteDifference(a, b, 2.5);
    QVERIFY(bitIdentical(amplified, torch::tensor({ 12, 0, 250, 255 }, torch::kInt32).to(torch::kUInt8)));
}

void TestDiffusion::badInputs_data()
{
    QTest::addColumn<QString>("message");
    auto row = [](const char* name, const char* message) { QTest::newRow(name) << QString::fromUtf8(message); };
    row("loss: 3-D images", "edmLoss: images must be a float N×C×H×W tensor, found Float [1, 4, 4]");
    row("loss: uint8 images", "edmLoss: images must be a float N×C×H×W tensor, found Byte [2, 1, 4, 4]");
    row("loss: empty batch", "edmLoss: the batch is empty");
    row("loss: labels count", "edmLoss: labels must be N×K one-hot rows for 2 images, found Float [3, 10]");
    row("loss: alpha zero", "edmLoss: alpha must be positive, found 0");
    row("loss: sigmaData", "edmLoss: sigmaData must be positive, found 0");
    row("loss: denoiser shape", "edmLoss: the denoiser returned Float [2, 4, 4] for input Float [2, 1, 4, 4]");
    row("sample: labels count", "sample: classLabels must be N×K one-hot rows for 3 seeds, found Float [2, 10]");
    row("sample: labels dims", "sample: classLabels must be N×K one-hot rows for 2 seeds, found Float [2]");
    row("sample: no seeds", "sample: no seeds given");
    row("sample: zero steps", "sample: steps must be at least 1, found 0");
    row("sample: image size", "sample: image size must be positive, found 3×0×32 (C×H×W)");
    row("sample: negative churn",
        "sample: sChurn must be finite and non-negative and sNoise finite, found sChurn -1, sNoise 1");
    row("sample: denoiser shape", "sample: the denoiser returned Float [1, 4, 4] for input Float [2, 1, 4, 4]");
    row("sampleUint8: zero steps", "sampleUint8: steps must be at least 1, found 0");
    row("schedule: zero steps", "edmSigmaSchedule: steps must be at least 1, found 0");
    row("schedule: sigma range",
        "edmSigmaSchedule: noise levels must satisfy 0 < sigmaMin <= sigmaMax < inf, found "
        "sigmaMin 1, sigmaMax 0.5");
    row("schedule: rho", "edmSigmaSchedule: rho must be positive, found 0");
    row("seededNoise: no seeds", "seededNoise: no seeds given");
    row("oneHot: out of range", "oneHot: labels span 0–12 but there are 10 classes");
    row("oneHot: float labels", "oneHot: labels must be an integer vector, found Float [3]");
    row("pixels: float input", "pixelsToFloat: expected a uint8 tensor, found Float [1, 1, 2, 2]");
    row("pixels: uint8 output input", "floatToPixels: expected a floating-point tensor, found Byte [2]");
    row("grid: 3-D images", "makeGrid: images must be a uint8 N×C×H×W tensor, found Byte [3, 4, 4]");
    row("grid: float images", "makeGrid: images must be a uint8 N×C×H×W tensor, found Float [1, 3, 4, 4]");
    row("grid: zero columns", "makeGrid: columns must be at least 1, found 0");
    row("grid: pad value", "makeGrid: the pad value must be in 0–255, found 256");
    row("grid: no images", "makeGrid: there are no images to tile");
    row("frame: row outside", "makeFramedGrid: row 2 is outside the grid's rows 0–1");
    row("frame: no padding", "makeFramedGrid: padding must be at least 1 to leave room for a frame, found 0");
    row("frame: four channels", "makeFramedGrid: frames need grey or RGB images (1 or 3 channels), found 4 channels");
    row("difference: shapes",
        "absoluteDifference: expected two uint8 tensors of the same shape, found Byte [2, 3, 4, 4] and Byte [2, 3, 4, "
        "5]");
    row("difference: amplify", "absoluteDifference: amplify must be positive, found 0");
}

void TestDiffusion::badInputs()
{
    QFETCH(QString, message);
    const auto& calls = badCalls();
    const auto call = calls.find(QTest::currentDataTag());
    QVERIFY2(call != calls.end(), QTest::currentDataTag());
    std::string thrownType = "none";
    const std::string actual = errorMessage([&] {
        try {
            call->second();
        } catch (const Error&) {
            thrownType = "lethe::Error";
            throw;
        }
    });
    LETHE_COMPARE_STR(thrownType, "lethe::Error");
    LETHE_COMPARE_STR(actual, message.toStdString());
}

QTEST_APPLESS_MAIN(TestDiffusion)
#include "test_diffusion.moc"
