// EDM loss, noise schedule and sampler; DDPM-schedule samplers (DDIM, Euler); pixel conversion, sample grids.
#include "core/diffusion/ddpm_sampler.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/edm_sampler.h"
#include "core/diffusion/pixels.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/imaging/grid.h"
#include "test_support.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

using namespace lethe;
using namespace lethe::diffusion;
using lethe::test::errorMessage;

namespace {

bool bitIdentical(const torch::Tensor& a, const torch::Tensor& b)
{
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes())
        return false;
    const auto ca = a.cpu().contiguous();
    const auto cb = b.cpu().contiguous();
    return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

double maxAbsDifference(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kFloat64).cpu() - b.to(torch::kFloat64).cpu()).abs().max().item<double>();
}

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
    void ddpmScheduleMatchesStableDiffusion();
    void ddpmTimestepsFollowDiffusers();
    void ddpmSamplersReproduceGaussianData_data();
    void ddpmSamplersReproduceGaussianData();
    void ddpmSamplerCancels();
    void ddimClipSampleClampsThePredictedImage();
    void ddpmScheduleConfigErrors_data();
    void ddpmScheduleConfigErrors();
    void textToImageGuidanceMixesPromptAndNegative();
    void textToImageSeedsDoNotDependOnBatch();
    void textToImageDecodesLatentsAndReportsProgress();
    void textToImageRejectsBadRequests_data();
    void textToImageRejectsBadRequests();
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

namespace {

/// The exact ε-prediction for data distributed as N(μ, s²) per element: with x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε,
/// E[ε | x_t] = √(1 − ᾱ)·(x_t − √ᾱ·μ)/(ᾱ·s² + 1 − ᾱ). For Euler the input arrives scaled by 1/√(σ² + 1),
/// which is exactly √ᾱ·x_σ, i.e. x_t again.
NoisePredictor gaussianEpsilon(const DdpmSchedule& schedule, double mu, double s, bool vPrediction, int* calls)
{
    const std::vector<double> alphaBar = alphasCumprod(schedule);
    return [alphaBar, mu, s, vPrediction, calls](const torch::Tensor& x, double t) {
        if (calls)
            ++*calls;
        // Fractional (Euler) timesteps: interpolate σ as the sampler does, then ᾱ = 1/(σ² + 1).
        const auto low = static_cast<std::size_t>(std::floor(t));
        const double w = t - static_cast<double>(low);
        const auto sigmaOf = [&](std::size_t i) { return std::sqrt((1 - alphaBar[i]) / alphaBar[i]); };
        const double sigma
            = low + 1 < alphaBar.size() ? (1 - w) * sigmaOf(low) + w * sigmaOf(low + 1) : sigmaOf(alphaBar.size() - 1);
        const double a = 1.0 / (sigma * sigma + 1.0);
        const torch::Tensor eps = (x - std::sqrt(a) * mu) * (std::sqrt(1 - a) / (a * s * s + 1 - a));
        if (!vPrediction)
            return eps;
        const torch::Tensor x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
        return std::sqrt(a) * eps - std::sqrt(1 - a) * x0;
    };
}

} // namespace

void TestDiffusion::ddpmScheduleMatchesStableDiffusion()
{
    const std::vector<double> alphaBar = alphasCumprod(DdpmSchedule {});
    QCOMPARE(alphaBar.size(), std::size_t { 1000 });
    // Reference values from the scaled_linear formula evaluated independently in Python (math module).
    QVERIFY(std::abs(alphaBar[0] - 0.99915) < 1e-12);
    QVERIFY(std::abs(alphaBar[500] - 0.2763326838229746) < 1e-12);
    QVERIFY(std::abs(alphaBar[999] - 0.004660098513077234) < 1e-12);
    // σ_max of Stable Diffusion's Euler sampler, as k-diffusion and diffusers print it.
    QVERIFY(std::abs(std::sqrt((1 - alphaBar[999]) / alphaBar[999]) - 14.614641229333646) < 1e-9);
    DdpmSchedule linear;
    linear.betaSchedule = BetaSchedule::Linear;
    linear.betaStart = 0.0001;
    linear.betaEnd = 0.02;
    const std::vector<double> ddpm = alphasCumprod(linear);
    QVERIFY(std::abs(ddpm[0] - 0.9999) < 1e-12);
    QVERIFY(std::abs(ddpm[1] - 0.9999 * (1 - (0.0001 + 0.0199 / 999))) < 1e-12);
    const nlohmann::json json = toJson(DdpmSchedule {});
    QCOMPARE(json.at("beta_schedule").get<std::string>(), std::string("scaled_linear"));
    const DdpmSchedule back = ddpmScheduleFromJson(json, "scheduler_config.json");
    QCOMPARE(back.trainSteps, 1000);
    QCOMPARE(back.stepsOffset, 1);
    QCOMPARE(back.setAlphaToOne, false);
    QVERIFY(back.betaSchedule == BetaSchedule::ScaledLinear && back.prediction == PredictionType::Epsilon);
}

void TestDiffusion::ddpmTimestepsFollowDiffusers()
{
    const DdpmSchedule schedule;
    DdpmSamplerOptions options;
    const std::vector<double> ddim = samplerTimesteps(schedule, options);
    QCOMPARE(ddim.size(), std::size_t { 50 });
    QCOMPARE(ddim.front(), 981.0); // DDIMScheduler.set_timesteps(50) with steps_offset 1: 981, 961, … 1.
    QCOMPARE(ddim[1], 961.0);
    QCOMPARE(ddim.back(), 1.0);
    options.method = DdpmSamplerMethod::Euler;
    options.steps = 4;
    const std::vector<double> euler = samplerTimesteps(schedule, options);
    const std::vector<double> expected { 999.0, 666.0, 333.0, 0.0 }; // np.linspace(0, 999, 4)[::-1]
    QCOMPARE(euler.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        QVERIFY2(std::abs(euler[i] - expected[i]) < 1e-9, qPrintable(QString::number(euler[i], 'g', 17)));
    options.steps = 0;
    QCOMPARE(errorMessage([&] { samplerTimesteps(schedule, options); }),
        std::string("sampler steps must be 1 … 1000, found 0"));
    QVERIFY(ddpmSamplerFromName("ddim") == DdpmSamplerMethod::Ddim);
    QVERIFY(ddpmSamplerFromName("euler") == DdpmSamplerMethod::Euler);
    QVERIFY(!ddpmSamplerFromName("pndm"));
}

void TestDiffusion::ddpmSamplersReproduceGaussianData_data()
{
    // With the exact ε of N(0.3, 0.5²) data each sampler is an affine map of the noise. The expected
    // images of the noise values −1, 0 and 1 come from diffusers' DDIMScheduler.step and
    // EulerDiscreteScheduler.step rules evaluated independently in double precision (Python, math
    // module). Both stop short of N(0.3, 0.5²) by their discretisation error (spread 0.479 and 0.475 at
    // 50 steps), and a wrong coefficient anywhere moves these values by far more than the tolerance.
    QTest::addColumn<int>("method");
    QTest::addColumn<bool>("vPrediction");
    QTest::addColumn<std::vector<double>>("expected");
    const std::vector<double> ddim { -0.18961195231940223, 0.2889614709979521, 0.7675348943153062 };
    const std::vector<double> euler { -0.18444383648751755, 0.290277947442891, 0.7649997313732994 };
    QTest::newRow("DDIM 50, ε") << int(DdpmSamplerMethod::Ddim) << false << ddim;
    QTest::newRow("DDIM 50, v") << int(DdpmSamplerMethod::Ddim) << true << ddim;
    QTest::newRow("Euler 50, ε") << int(DdpmSamplerMethod::Euler) << false << euler;
    QTest::newRow("Euler 50, v") << int(DdpmSamplerMethod::Euler) << true << euler;
}

void TestDiffusion::ddpmSamplersReproduceGaussianData()
{
    QFETCH(int, method);
    QFETCH(bool, vPrediction);
    QFETCH(std::vector<double>, expected);
    DdpmSchedule schedule;
    schedule.prediction = vPrediction ? PredictionType::VPrediction : PredictionType::Epsilon;
    DdpmSamplerOptions options;
    options.method = static_cast<DdpmSamplerMethod>(method);
    options.steps = 50;
    int calls = 0;
    const torch::Tensor noise = torch::tensor({ -1.0F, 0.0F, 1.0F }).reshape({ 1, 1, 1, 3 });
    const auto x = sampleDdpm(gaussianEpsilon(schedule, 0.3, 0.5, vPrediction, &calls), noise, schedule, options);
    QVERIFY(x.has_value());
    QCOMPARE(calls, 50);
    QCOMPARE(x->scalar_type(), torch::kFloat32);
    QCOMPARE(x->sizes(), noise.sizes());
    for (int i = 0; i < 3; ++i) {
        const double got = x->flatten()[i].item<double>();
        QVERIFY2(std::abs(got - expected[static_cast<std::size_t>(i)]) < 1e-4,
            qPrintable(QStringLiteral("noise %1 → %2, expected %3")
                           .arg(i - 1)
                           .arg(got, 0, 'g', 9)
                           .arg(expected[static_cast<std::size_t>(i)], 0, 'g', 9)));
    }
}

void TestDiffusion::ddpmSamplerCancels()
{
    const DdpmSchedule schedule;
    int calls = 0;
    const auto x = sampleDdpm(gaussianEpsilon(schedule, 0, 1, false, &calls), torch::randn({ 1, 1, 2, 2 }), schedule,
        DdpmSamplerOptions {}, [](int done, int) { return done < 3; });
    QVERIFY(!x.has_value());
    QCOMPARE(calls, 3);
}

void TestDiffusion::ddimClipSampleClampsThePredictedImage()
{
    // A network that always predicts ε = 3 (far from any noise the data could hold): DDIM's first x₀ is then
    // (x − 3√(1 − ᾱ))/√ᾱ, hundreds in size. With clip_sample each x₀ is clamped to ±range and ε re-derived from
    // it, so the result stays near the range; without it the image runs off.
    DdpmSchedule schedule = ddpmScheduleFromJson(
        nlohmann::json::parse(R"({"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
            "clip_sample": true, "clip_sample_range": 0.5})"),
        "scheduler_config.json");
    QVERIFY(schedule.clipSample);
    QCOMPARE(schedule.clipSampleRange, 0.5);
    QCOMPARE(toJson(schedule).at("clip_sample").get<bool>(), true);
    QCOMPARE(toJson(schedule).at("clip_sample_range").get<double>(), 0.5);
    const NoisePredictor constant = [](const torch::Tensor& x, double) { return torch::full_like(x, 3.0); };
    DdpmSamplerOptions options;
    options.steps = 10;
    const torch::Tensor noise = torch::tensor({ -2.0F, 0.0F, 2.0F }).reshape({ 1, 1, 1, 3 });
    const auto clipped = sampleDdpm(constant, noise, schedule, options);
    QVERIFY(clipped.has_value());
    const double bound = 0.5 * 1.05; // The last step adds √(1 − ᾱ_0)·ε to the clamped x₀.
    QVERIFY2(
        clipped->abs().max().item<double>() <= bound, qPrintable(QString::number(clipped->abs().max().item<double>())));
    schedule.clipSample = false;
    const auto free = sampleDdpm(constant, noise, schedule, options);
    QVERIFY2(free->abs().max().item<double>() > 10.0, qPrintable(QString::number(free->abs().max().item<double>())));
    QCOMPARE(ddpmScheduleFromJson(nlohmann::json::object(), "s").clipSample, false);
}

void TestDiffusion::ddpmScheduleConfigErrors_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("not an object") << "[1]"
                                   << "scheduler_config.json: top level: expected a JSON object, found array";
    QTest::newRow("beta schedule") << R"({"beta_schedule": "squaredcos_cap_v2"})"
                                   << "scheduler_config.json: key 'beta_schedule': expected \"linear\" or "
                                      "\"scaled_linear\", found \"squaredcos_cap_v2\"";
    QTest::newRow("prediction") << R"({"prediction_type": "sample"})"
                                << "scheduler_config.json: key 'prediction_type': expected \"epsilon\" or "
                                   "\"v_prediction\", found \"sample\"";
    QTest::newRow("steps type") << R"({"num_train_timesteps": "1000"})"
                                << "scheduler_config.json: key 'num_train_timesteps': expected an integer, found "
                                   "\"1000\"";
    QTest::newRow("betas") << R"({"beta_start": 0.02, "beta_end": 0.01})"
                           << "scheduler_config.json: key 'beta_start': expected 0 < beta_start ≤ beta_end < 1, "
                              "found 0.020000 and 0.010000";
    QTest::newRow("clip range") << R"({"clip_sample_range": 0})"
                                << "scheduler_config.json: key 'clip_sample_range': expected a positive number, "
                                   "found 0.000000";
    QTest::newRow("offset") << R"({"steps_offset": 1000})"
                            << "scheduler_config.json: key 'steps_offset': expected 0 … num_train_timesteps − 1, "
                               "found 1000";
}

void TestDiffusion::ddpmScheduleConfigErrors()
{
    QFETCH(QString, json);
    QFETCH(QString, message);
    const auto parsed = nlohmann::json::parse(json.toStdString());
    QCOMPARE(
        QString::fromStdString(errorMessage([&] { ddpmScheduleFromJson(parsed, "scheduler_config.json"); })), message);
}

namespace {

/// A text-to-image model whose "text encoder" maps a prompt to one number (its length) and whose noise
/// prediction is that number everywhere, so guidance is plain arithmetic on the prompts' lengths.
TextToImageModel lengthModel(int* contextsSeen = nullptr)
{
    TextToImageModel model;
    model.encodePrompts = [contextsSeen](const std::vector<std::string>& prompts) {
        if (contextsSeen)
            *contextsSeen += static_cast<int>(prompts.size());
        std::vector<float> lengths;
        for (const auto& p : prompts)
            lengths.push_back(static_cast<float>(p.size()) / 10.0F);
        return torch::tensor(lengths).reshape({ -1, 1, 1 });
    };
    model.predictNoise = [](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context) {
        if (t.dim() != 1 || t.size(0) != x.size(0) || context.size(0) != x.size(0))
            throw Error("predictNoise: batch sizes disagree");
        return (x * 0.99 + 0.05 * context.reshape({ -1, 1, 1, 1 })).expand_as(x).contiguous();
    };
    model.latentChannels = 1;
    model.latentScale = 1;
    return model;
}

TextToImageRequest smallRequest()
{
    TextToImageRequest request;
    request.prompts = { "a red sneaker" };
    request.seeds = { 0, 1, 2 };
    request.height = 4;
    request.width = 4;
    request.sampler.steps = 5;
    request.batch = 2;
    return request;
}

} // namespace

void TestDiffusion::textToImageGuidanceMixesPromptAndNegative()
{
    // With ε = 0.99·x + c/20, guidance g with contexts c₊ and c₋ gives 0.99·x + (c₋ + g·(c₊ − c₋))/20: as no
    // guidance with a context of c₋ + g·(c₊ − c₋).
    const TextToImageModel model = lengthModel();
    TextToImageRequest guided = smallRequest();
    guided.guidance = 3.0;
    guided.negativePrompt = "blurry";
    const auto a = generate(model, guided);
    QVERIFY(a.has_value());
    QCOMPARE(a->sizes(), (std::vector<std::int64_t> { 3, 1, 4, 4 }));
    QCOMPARE(a->scalar_type(), torch::kUInt8);

    TextToImageModel mixed = lengthModel();
    mixed.encodePrompts = [](const std::vector<std::string>& prompts) {
        const float plus = 1.3F; // "a red sneaker"
        const float minus = 0.6F; // "blurry"
        return torch::full({ static_cast<std::int64_t>(prompts.size()), 1, 1 }, minus + 3.0F * (plus - minus));
    };
    TextToImageRequest plain = smallRequest();
    plain.guidance = 1.0;
    const auto b = generate(mixed, plain);
    QVERIFY(b.has_value());
    QVERIFY((a->to(torch::kInt32) - b->to(torch::kInt32)).abs().max().item<int>() <= 1);

    // Another negative prompt changes the images; guidance 1 ignores it and encodes no negative prompt.
    guided.negativePrompt = "a photo";
    QVERIFY(!torch::equal(*generate(model, guided), *a));
    int encoded = 0;
    const TextToImageModel counting = lengthModel(&encoded);
    QVERIFY(generate(counting, plain).has_value());
    QCOMPARE(encoded, 3);
}

void TestDiffusion::textToImageSeedsDoNotDependOnBatch()
{
    const TextToImageModel model = lengthModel();
    TextToImageRequest request = smallRequest();
    request.guidance = 2.0;
    request.batch = 1;
    const torch::Tensor one = *generate(model, request);
    request.batch = 3;
    const torch::Tensor three = *generate(model, request);
    QVERIFY(torch::equal(one, three));
    QVERIFY(!torch::equal(one[0], one[1])); // different seeds, different images
    request.seeds = { 2 };
    QVERIFY(torch::equal(*generate(model, request), three.slice(0, 2, 3)));
    // One prompt per seed.
    request.seeds = { 5, 5 };
    request.prompts = { "a sneaker", "a very long prompt about a sneaker" };
    const torch::Tensor perPrompt = *generate(model, request);
    QVERIFY(!torch::equal(perPrompt[0], perPrompt[1]));
}

void TestDiffusion::textToImageDecodesLatentsAndReportsProgress()
{
    TextToImageModel model = lengthModel();
    model.latentChannels = 2;
    model.latentScale = 2;
    int decoded = 0;
    model.decode = [&decoded](const torch::Tensor& latents) {
        decoded += static_cast<int>(latents.size(0));
        const torch::Tensor rgb = torch::cat({ latents, latents.slice(1, 0, 1) }, 1);
        return torch::upsample_nearest2d(rgb, { latents.size(2) * 2, latents.size(3) * 2 }).clamp(-1, 1);
    };
    TextToImageRequest request = smallRequest();
    std::vector<std::pair<std::int64_t, std::int64_t>> reports;
    const auto images = generate(model, request, [&](std::int64_t done, std::int64_t total) {
        reports.emplace_back(done, total);
        return true;
    });
    QVERIFY(images.has_value());
    QCOMPARE(images->sizes(), (std::vector<std::int64_t> { 3, 3, 4, 4 }));
    QCOMPARE(decoded, 3);
    // Two batches of five steps: 0 first, then 1 … 10, never going back.
    QCOMPARE(reports.front(), (std::pair<std::int64_t, std::int64_t> { 0, 10 }));
    QCOMPARE(reports.back(), (std::pair<std::int64_t, std::int64_t> { 10, 10 }));
    for (std::size_t i = 1; i < reports.size(); ++i)
        QVERIFY(reports[i].first >= reports[i - 1].first);
    decoded = 0;
    const auto cancelled = generate(model, request, [](std::int64_t done, std::int64_t) { return done < 7; });
    QVERIFY(!cancelled.has_value());
    QCOMPARE(decoded, 2); // the first batch finished, the second was cancelled
}

void TestDiffusion::textToImageRejectsBadRequests_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("message");
    QTest::newRow("no seeds") << 0 << "generate: no seeds given (one image is drawn per seed)";
    QTest::newRow("prompts") << 1 << "generate: 2 prompts for 3 seeds (give one prompt, or one per seed)";
    QTest::newRow("size") << 2 << "generate: the image size must be a positive multiple of 8 pixels, found 500×512";
    QTest::newRow("no prompt") << 3 << "generate: no prompt given";
    QTest::newRow("guidance") << 4 << "generate: the guidance scale must be 0 or more, found -1.000000";
}

void TestDiffusion::textToImageRejectsBadRequests()
{
    QFETCH(int, which);
    QFETCH(QString, message);
    TextToImageModel model = lengthModel();
    model.latentScale = 8;
    TextToImageRequest request = smallRequest();
    request.height = 512;
    request.width = 512;
    switch (which) {
    case 0:
        request.seeds.clear();
        break;
    case 1:
        request.prompts = { "a", "b" };
        break;
    case 2:
        request.width = 500;
        break;
    case 3:
        request.prompts.clear();
        break;
    default:
        request.guidance = -1.0;
        break;
    }
    QCOMPARE(QString::fromStdString(errorMessage([&] { generate(model, request); })), message);
}

QTEST_APPLESS_MAIN(TestDiffusion)
#include "test_diffusion.moc"
