// Lethe on CUDA against the same computation on the CPU: an EDM network's forward pass and training step, a tiny
// text-to-image generation and a concept-unlearning RGD step, plus resolveDevice. Every case skips itself when
// this LibTorch has no CUDA or no GPU is visible, so the test builds and passes on CPU-only machines; it carries
// the label 'cuda' (not 'fast'), the default test presets leave it out, and `scripts/lethe gpu-check` runs it on
// GPU machines.
//
// GPU results differ from the CPU's by rounding (other summation orders, and TF32 convolutions, which LibTorch
// allows on Ampere and newer by default), so the comparisons use relative tolerances around 1e-2 rather than
// exact equality; a wrong device placement, a missing synchronisation or a kernel bug shows up as far larger
// differences or non-finite values.
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/models/edm/edm_config.h"
#include "core/models/edm/edm_precond.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"
#include "core/torch_version.h"
#include "core/train/adam.h"
#include "core/unlearn/concept_session.h"
#include "run_fixtures.h"
#include "test_support.h"
#include "tiny_edm.h"
#include "tiny_sd.h"

#include <torch/torch.h>

#include <QtTest>

#include <cmath>
#include <optional>

using namespace lethe;
using lethe::test::ScratchDir;

namespace {

/// ‖a − b‖ / ‖b‖ with both on the CPU in float64: one number that says how far a GPU result is from the CPU's.
double relativeError(const torch::Tensor& a, const torch::Tensor& b)
{
    const torch::Tensor x = a.detach().to(torch::kCPU, torch::kFloat64);
    const torch::Tensor y = b.detach().to(torch::kCPU, torch::kFloat64);
    const double denominator = std::max(y.norm().item<double>(), 1e-12);
    return (x - y).norm().item<double>() / denominator;
}

bool allFinite(const torch::Tensor& t)
{
    return torch::isfinite(t.detach().to(torch::kFloat32)).all().item<bool>();
}

/// Named parameters of a module as a list for train::Adam.
std::vector<std::pair<std::string, torch::Tensor>> namedParameters(const torch::nn::Module& module)
{
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : module.named_parameters())
        out.emplace_back(item.key(), item.value());
    return out;
}

/// Runs one step of `session` and returns its report.
unlearn::StepReport oneStep(unlearn::ConceptSession& session)
{
    struct Hook : unlearn::RunObserver {
        unlearn::StepReport report;
        unlearn::RunControl* control = nullptr;
        void onStep(const unlearn::StepReport& r) override
        {
            report = r;
            control->requestStop();
        }
    };
    unlearn::RunControl control;
    Hook hook;
    hook.control = &control;
    session.run(hook, control);
    return hook.report;
}

diffusion::TextToImageRequest tinyRequest()
{
    return test::tinyTextToImageRequest({ "a cat", "a dog" });
}

} // namespace

class TestCuda : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void resolveDeviceFindsTheGpu();
    void edmForwardMatchesTheCpu();
    void edmTrainingStepMatchesTheCpu();
    void textToImageMatchesTheCpu();
    void conceptRgdStepMatchesTheCpu();

private:
    ScratchDir m_dir;
    bool m_cuda = false;
    /// The device compared with the CPU: CUDA, or the CPU itself under LETHE_TEST_CUDA_ON_CPU.
    torch::Device m_device = torch::kCUDA;
};

void TestCuda::initTestCase()
{
    m_cuda = torch::cuda::is_available();
    qInfo("LibTorch %s, CUDA %s, %d GPU(s)", LETHE_TORCH_VERSION_STRING, m_cuda ? "available" : "not available",
        m_cuda ? static_cast<int>(torch::cuda::device_count()) : 0);
    // LETHE_TEST_CUDA_ON_CPU runs the comparisons with the CPU in CUDA's place, so that the test's own code (the
    // fixtures, the calls, the comparisons) can be checked on a machine without a GPU before device time is spent.
    if (!m_cuda && qEnvironmentVariableIsSet("LETHE_TEST_CUDA_ON_CPU")) {
        qInfo("LETHE_TEST_CUDA_ON_CPU: comparing the CPU with itself");
        m_device = torch::kCPU;
    }
    if (m_cuda || m_device.is_cpu()) {
        lethe::test::writeTinyDiffusersFolder(m_dir / "pixel", false);
        lethe::test::writeTinyDiffusersFolder(m_dir / "latent", true);
    }
}

void TestCuda::init()
{
    // QSKIP in init() skips the test function about to run, so every case below needs a GPU. On a GPU machine
    // `scripts/lethe gpu-check` sets LETHE_TEST_REQUIRE_CUDA, so that a build that cannot see the GPU fails there
    // instead of passing with every case skipped.
    if (!m_cuda && qEnvironmentVariableIsSet("LETHE_TEST_REQUIRE_CUDA"))
        QFAIL("LETHE_TEST_REQUIRE_CUDA is set, but CUDA is not available to this LibTorch");
    if (!m_cuda && !m_device.is_cpu())
        QSKIP("CUDA is not available (this LibTorch has no CUDA support or no GPU is visible); these cases run "
              "on GPU machines through `scripts/lethe gpu-check`");
}

void TestCuda::resolveDeviceFindsTheGpu()
{
    if (!m_cuda)
        QSKIP("resolveDevice(\"cuda\") needs a GPU");
    const torch::Device device = resolveDevice("cuda");
    QVERIFY(device.is_cuda());
    QCOMPARE(static_cast<int>(device.index()), 0);
    QVERIFY(resolveDevice("auto").is_cuda());
    QVERIFY(resolveDevice("cuda:0").is_cuda());
    const auto count = static_cast<int>(torch::cuda::device_count());
    QVERIFY_THROWS_EXCEPTION(Error, resolveDevice("cuda:" + std::to_string(count)));
}

void TestCuda::edmForwardMatchesTheCpu()
{
    torch::manual_seed(1);
    models::EDMPrecond cpu = models::makeEdmPrecond(models::toJson(lethe::test::tinyCifarOptions()));
    cpu->eval();
    auto gpu = std::dynamic_pointer_cast<models::EDMPrecondImpl>(cpu->clone(m_device));
    QVERIFY(gpu);
    at::Generator generator = diffusion::cpuGenerator(5);
    const torch::Tensor x = torch::randn({ 4, 3, 32, 32 }, generator);
    const torch::Tensor sigma = torch::tensor({ 0.02f, 0.5f, 2.0f, 40.0f });
    const torch::Tensor labels = torch::eye(10).slice(0, 0, 4);
    torch::NoGradGuard noGrad;
    const torch::Tensor expected = cpu->forward(x, sigma, labels);
    const torch::Tensor actual = gpu->forward(x.to(m_device), sigma.to(m_device), labels.to(m_device));
    QVERIFY(actual.device() == m_device);
    QVERIFY(allFinite(actual));
    const double error = relativeError(actual, expected);
    qInfo("EDM forward: relative error %.3g", error);
    QVERIFY2(error < 1e-2, qPrintable(QStringLiteral("relative error %1").arg(error)));
}

void TestCuda::edmTrainingStepMatchesTheCpu()
{
    torch::manual_seed(2);
    models::EDMPrecond cpu = models::makeEdmPrecond(models::toJson(lethe::test::tinyCifarOptions()));
    auto gpu = std::dynamic_pointer_cast<models::EDMPrecondImpl>(cpu->clone(m_device));
    QVERIFY(gpu);
    at::Generator generator = diffusion::cpuGenerator(6);
    const torch::Tensor images = torch::rand({ 4, 3, 32, 32 }, generator) * 2 - 1;
    const torch::Tensor labels = torch::eye(10).slice(0, 2, 6);

    // All parameters as one vector (weights or gradients): a single tensor's gradient can be close to zero, and
    // then rounding alone makes its relative error large.
    const auto flat = [](const std::shared_ptr<models::EDMPrecondImpl>& net, bool gradients) {
        std::vector<torch::Tensor> parts;
        for (const auto& p : net->parameters()) {
            // A parameter the loss does not reach (no gradient) counts as a zero gradient.
            const torch::Tensor t = !gradients ? p : p.grad().defined() ? p.grad() : torch::zeros_like(p);
            parts.push_back(t.detach().to(torch::kCPU, torch::kFloat64).flatten());
        }
        return torch::cat(parts);
    };
    const torch::Tensor before = flat(cpu.ptr(), false);

    // One training step on each device: the EDM loss with noise from the same seed (drawn on the CPU on both),
    // its gradient and one Adam update.
    const auto step = [&](const std::shared_ptr<models::EDMPrecondImpl>& net, torch::Device device) {
        train::Adam adam(namedParameters(*net), { 1e-3 });
        const diffusion::Denoiser denoiser
            = [&](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& classLabels) {
                  return net->forward(x, sigma, classLabels);
              };
        adam.zeroGrad();
        const diffusion::EdmLossResult result
            = diffusion::edmLoss(denoiser, images.to(device), labels.to(device), {}, std::uint64_t { 11 });
        result.loss.backward();
        adam.step();
        return result.loss.detach().to(torch::kCPU);
    };
    const torch::Tensor cpuLoss = step(cpu.ptr(), torch::kCPU);
    const torch::Tensor gpuLoss = step(gpu, m_device);
    QVERIFY(allFinite(gpuLoss));
    const double lossError = relativeError(gpuLoss, cpuLoss);
    qInfo("EDM training step: loss %.6g on the CPU, %.6g on CUDA (relative error %.3g)", cpuLoss.item<double>(),
        gpuLoss.item<double>(), lossError);
    QVERIFY2(lossError < 1e-2, qPrintable(QStringLiteral("loss relative error %1").arg(lossError)));

    const torch::Tensor gpuGradients = flat(gpu, true);
    QVERIFY(allFinite(gpuGradients));
    const double gradientError = relativeError(gpuGradients, flat(cpu.ptr(), true));
    QVERIFY2(gradientError < 2e-2, qPrintable(QStringLiteral("gradients' relative error %1").arg(gradientError)));

    // Adam's first step moves each weight by about lr times the sign of its gradient, whatever the gradient's
    // size, so weights whose gradient is rounding noise move either way, even between two runs on the CPU. The
    // updates are compared where the gradient stands clear of that noise, and as a whole by their size.
    const torch::Tensor gpuUpdate = flat(gpu, false) - before;
    const torch::Tensor cpuUpdate = flat(cpu.ptr(), false) - before;
    QVERIFY(allFinite(gpuUpdate));
    const torch::Tensor cpuGradients = flat(cpu.ptr(), true);
    const torch::Tensor clear = cpuGradients.abs() > 1e-2 * cpuGradients.pow(2).mean().sqrt();
    const double updateError = relativeError(gpuUpdate.masked_select(clear), cpuUpdate.masked_select(clear));
    const double sizeRatio = gpuUpdate.abs().mean().item<double>() / cpuUpdate.abs().mean().item<double>();
    qInfo("EDM training step: gradients' relative error %.3g; Adam updates' relative error %.3g (%lld of %lld "
          "weights), size ratio %.4f",
        gradientError, updateError, static_cast<long long>(clear.sum().item<std::int64_t>()),
        static_cast<long long>(clear.numel()), sizeRatio);
    QVERIFY2(updateError < 2e-2, qPrintable(QStringLiteral("updates' relative error %1").arg(updateError)));
    QVERIFY2(std::abs(sizeRatio - 1) < 0.1, qPrintable(QStringLiteral("update size ratio %1").arg(sizeRatio)));
}

void TestCuda::textToImageMatchesTheCpu()
{
    for (const char* folder : { "pixel", "latent" }) {
        models::sd::SdLoadOptions cpuOptions;
        models::sd::SdLoadOptions gpuOptions;
        gpuOptions.device = m_device;
        const auto cpu = models::sd::loadStableDiffusion(m_dir / folder, cpuOptions);
        const auto gpu = models::sd::loadStableDiffusion(m_dir / folder, gpuOptions);
        QVERIFY(gpu.unet()->parameters().front().device() == m_device);
        const auto expected = diffusion::generate(cpu.model(), tinyRequest());
        const auto actual = diffusion::generate(gpu.model(), tinyRequest());
        QVERIFY(expected && actual);
        QCOMPARE(actual->sizes(), expected->sizes());
        QCOMPARE(actual->scalar_type(), torch::kUInt8);
        // uint8 images: rounding moves a pixel across a level now and then, never by much.
        const torch::Tensor difference
            = (actual->to(torch::kInt32) - expected->to(torch::kInt32)).abs().to(torch::kFloat32);
        const double mean = difference.mean().item<double>();
        const double max = difference.max().item<double>();
        qInfo("text-to-image (%s): mean |difference| %.3g, max %.0g levels of 255", folder, mean, max);
        QVERIFY2(mean < 1.0 && max <= 8.0,
            qPrintable(QStringLiteral("%1: mean %2, max %3").arg(QLatin1String(folder)).arg(mean).arg(max)));
    }
}

void TestCuda::conceptRgdStepMatchesTheCpu()
{
    const auto run = [&](torch::Device device) {
        models::sd::SdLoadOptions options;
        options.device = device;
        const auto model = models::sd::loadStableDiffusion(m_dir / "pixel", options);
        unlearn::ConceptSession session(model, lethe::test::conceptPairs("forget", 3, 1),
            lethe::test::conceptPairs("remain", 4, 2), lethe::test::tinyConceptConfig(unlearn::ConceptMethod::RGD));
        const unlearn::StepReport report = oneStep(session);
        return std::make_pair(report, session.model().unet()->parameters().front().device());
    };
    const auto [cpu, cpuDevice] = run(torch::kCPU);
    const auto [gpu, gpuDevice] = run(m_device);
    QVERIFY(cpuDevice.is_cpu());
    QVERIFY(gpuDevice == m_device);
    QCOMPARE(gpu.step, std::int64_t { 1 });
    QVERIFY(std::isfinite(gpu.forgetLoss) && gpu.forgetLoss > 0);
    QVERIFY(std::isfinite(gpu.remainLoss) && gpu.remainLoss > 0);
    QVERIFY(std::isfinite(gpu.cosine));
    qInfo("concept RGD step: forget loss %.6g (CPU) / %.6g (CUDA), remain loss %.6g / %.6g", cpu.forgetLoss,
        gpu.forgetLoss, cpu.remainLoss, gpu.remainLoss);
    QVERIFY(std::abs(gpu.forgetLoss - cpu.forgetLoss) <= 1e-2 * std::abs(cpu.forgetLoss));
    QVERIFY(std::abs(gpu.remainLoss - cpu.remainLoss) <= 1e-2 * std::abs(cpu.remainLoss));
    // The cosine between the forget and remain gradients agrees; whether RGD projected follows its sign, which
    // rounding can flip only when the cosine is close to zero.
    QVERIFY2(std::abs(gpu.cosine - cpu.cosine) < 2e-2,
        qPrintable(QStringLiteral("cosine %1 (CPU) / %2 (CUDA)").arg(cpu.cosine).arg(gpu.cosine)));
    if (std::abs(cpu.cosine) > 2e-2)
        QCOMPARE(gpu.projected, cpu.projected);
}

QTEST_APPLESS_MAIN(TestCuda)
#include "test_cuda.moc"
