// Memory at real scale (docs/performance.md): gradient checkpointing and the memory-efficient attention give the
// gradients of the plain passes, autocast trains float32 weights, Adam's moments appear with the first update,
// a run can train the base UNet in place with the same results as on a copy, and the memory estimate counts what a
// run holds and refuses what cannot fit; freed feature maps are reused without the kernel faulting their pages in
// again.

#include "core/error.h"
#include "core/models/sd/attention.h"
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/models/sd/unet_2d_condition.h"
#include "core/nn/autocast.h"
#include "core/nn/checkpoint.h"
#include "core/nn/edm_layers.h"
#include "core/nn/state_dict.h"
#include "core/runtime.h"
#include "core/train/adam.h"
#include "core/unlearn/concept_session.h"
#include "core/unlearn/memory_estimate.h"
#include "run_fixtures.h"
#include "sdxl_configs.h"
#include "test_support.h"
#include "tiny_sd.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QtTest>

#include <malloc.h>
#include <sys/resource.h>

#include <cstdlib>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::parametersOf;
using lethe::test::ScratchDir;
using lethe::unlearn::BaseUse;
using lethe::unlearn::ConceptConfig;
using lethe::unlearn::ConceptMethod;
using lethe::unlearn::ConceptSession;
using lethe::unlearn::StepReport;

namespace {

/// The losses of every step of a run to its end.
std::vector<std::pair<double, double>> lossesOf(ConceptSession& session)
{
    struct Losses : unlearn::RunObserver {
        std::vector<std::pair<double, double>> values;
        void onStep(const StepReport& r) override { values.emplace_back(r.forgetLoss, r.remainLoss); }
    } losses;
    unlearn::RunControl control;
    const unlearn::RunResult result = session.run(losses, control);
    if (result.outcome != unlearn::RunOutcome::Finished)
        throw Error("the run did not finish: " + result.message);
    return losses.values;
}

/// The gradients of every parameter of `unet` after one ε-loss-like backward pass on fixed inputs.
std::map<std::string, torch::Tensor> gradientsOf(
    models::sd::UNet2DConditionModel unet, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context)
{
    for (auto& p : unet->parameters())
        if (p.grad().defined())
            p.mutable_grad() = torch::Tensor();
    unet->forward(x, t, context).pow(2).mean().backward();
    std::map<std::string, torch::Tensor> out;
    for (const auto& item : unet->named_parameters())
        out[item.key()] = item.value().grad().defined() ? item.value().grad().clone() : torch::Tensor();
    return out;
}

bool close(
    const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b, double tolerance)
{
    if (a.size() != b.size())
        return false;
    for (const auto& [name, grad] : a) {
        const torch::Tensor& other = b.at(name);
        if (grad.defined() != other.defined())
            return false;
        if (grad.defined() && !torch::allclose(grad, other, tolerance, tolerance))
            return false;
    }
    return true;
}

} // namespace

class TestMemory : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void checkpointingGivesTheSameGradients();
    void checkpointingTrainsBlocksWhoseInputsNeedNoGradient();
    void chunkedAttentionGivesTheSameGradients();
    void autocastRunsProductsInBfloat16AndRestores();
    void adamCreatesItsMomentsWithTheFirstUpdate();
    void inPlaceTrainsTheBaseUNetAsACopyWould_data();
    void inPlaceTrainsTheBaseUNetAsACopyWould();
    void memorySettingsKeepTheRunsLosses();
    void bfloat16RunKeepsFloat32Weights();
    void estimateCountsWhatARunHolds();
    void estimateRefusesWhatCannotFit();
    void freedFeatureMapsAreReusedWithoutPageFaults();
    void sdxlRgdStepEstimate();

private:
    ScratchDir m_dir;
    std::optional<models::sd::StableDiffusion> m_pixel;
};

void TestMemory::initTestCase()
{
    torch::set_num_threads(1);
    test::writeTinyDiffusersFolder(m_dir / "pixel", false);
    m_pixel.emplace(models::sd::loadStableDiffusion(m_dir / "pixel", {}));
}

void TestMemory::checkpointingGivesTheSameGradients()
{
    torch::manual_seed(1);
    models::sd::UNet2DConditionModel unet = models::sd::buildUNet2DCondition(test::tinyUNetOptions().sample_size(8));
    unet->train();
    const torch::Tensor x = torch::randn({ 2, 4, 8, 8 });
    const torch::Tensor t = torch::tensor({ 10.0, 500.0 });
    const torch::Tensor context = torch::randn({ 2, 5, unet->options.cross_attention_dim() });
    const auto plain = gradientsOf(unet, x, t, context);
    unet->setGradientCheckpointing(true);
    const auto checkpointed = gradientsOf(unet, x, t, context);
    QVERIFY(close(plain, checkpointed, 1e-5));
    // Under bfloat16 autocast too: the first pass must not leave the recomputation cached weight copies that have no
    // path back to the float32 weights.
    {
        const nn::AutocastGuard autocast(torch::kCPU, torch::kBFloat16);
        unet->setGradientCheckpointing(false);
        const auto reduced = gradientsOf(unet, x, t, context);
        unet->setGradientCheckpointing(true);
        const auto reducedCheckpointed = gradientsOf(unet, x, t, context);
        for (const auto& [name, grad] : reduced) {
            QVERIFY2(reducedCheckpointed.at(name).defined(), name.c_str());
            QVERIFY2(torch::allclose(grad, reducedCheckpointed.at(name), 1e-2, 1e-3), name.c_str());
        }
    }
    // Without gradients being recorded it is the plain forward pass.
    torch::NoGradGuard noGrad;
    QVERIFY(torch::equal(unet->forward(x, t, context), [&] {
        unet->setGradientCheckpointing(false);
        return unet->forward(x, t, context);
    }()));
}

void TestMemory::checkpointingTrainsBlocksWhoseInputsNeedNoGradient()
{
    // Cross-attention only: the first transformer's input comes from frozen layers, yet its attn2 must get a
    // gradient through the checkpoint.
    torch::manual_seed(2);
    models::sd::UNet2DConditionModel unet = models::sd::buildUNet2DCondition(test::tinyUNetOptions().sample_size(8));
    unet->train();
    for (const auto& item : unet->named_parameters())
        item.value().set_requires_grad(item.key().find("attn2") != std::string::npos);
    const torch::Tensor x = torch::randn({ 1, 4, 8, 8 });
    const torch::Tensor t = torch::tensor({ 100.0 });
    const torch::Tensor context = torch::randn({ 1, 5, unet->options.cross_attention_dim() });
    const auto plain = gradientsOf(unet, x, t, context);
    unet->setGradientCheckpointing(true);
    const auto checkpointed = gradientsOf(unet, x, t, context);
    QVERIFY(close(plain, checkpointed, 1e-5));
    const torch::Tensor first = checkpointed.at("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight");
    QVERIFY(first.defined());
    QVERIFY(first.abs().sum().item<double>() > 0);
}

void TestMemory::chunkedAttentionGivesTheSameGradients()
{
    torch::manual_seed(3);
    const auto options = torch::TensorOptions().dtype(torch::kFloat64);
    const torch::Tensor q0 = torch::randn({ 2, 37, 4 }, options);
    const torch::Tensor k0 = torch::randn({ 2, 11, 4 }, options);
    const torch::Tensor v0 = torch::randn({ 2, 11, 4 }, options);
    const torch::Tensor weights = torch::randn({ 2, 37, 4 }, options);
    const auto gradients = [&](models::sd::AttentionBackend backend) {
        torch::Tensor q = q0.clone().requires_grad_(true);
        torch::Tensor k = k0.clone().requires_grad_(true);
        torch::Tensor v = v0.clone().requires_grad_(true);
        const torch::Tensor out = models::sd::attend(q, k, v, 0.5, backend, /*query_chunk_size=*/8);
        (out * weights).sum().backward();
        return std::vector<torch::Tensor> { out.detach(), q.grad(), k.grad(), v.grad() };
    };
    const auto plain = gradients(models::sd::AttentionBackend::Standard);
    const auto chunked = gradients(models::sd::AttentionBackend::MemoryEfficient);
    for (std::size_t i = 0; i < plain.size(); ++i)
        QVERIFY2(torch::allclose(plain[i], chunked[i], 1e-12, 1e-12), std::to_string(i).c_str());
}

void TestMemory::autocastRunsProductsInBfloat16AndRestores()
{
    const torch::Tensor a = torch::randn({ 4, 4 });
    {
        const nn::AutocastGuard guard(torch::kCPU, torch::kBFloat16);
        QVERIFY(guard.active());
        QCOMPARE(nn::autocastType(torch::kCPU), torch::kBFloat16);
        QCOMPARE(torch::matmul(a, a).scalar_type(), torch::kBFloat16);
    }
    QCOMPARE(nn::autocastType(torch::kCPU), torch::kFloat32);
    QCOMPARE(torch::matmul(a, a).scalar_type(), torch::kFloat32);
    {
        // EDM's group norm normalises in its float32 weights' type under autocast, as CUDA's autocast would
        // (the CPU's would leave a bfloat16 input in bfloat16), and so hands float32 to the next layer.
        nn::GroupNorm norm(nn::GroupNormOptions(32));
        torch::NoGradGuard noGrad;
        norm->weight.uniform_(0.5, 1.5);
        norm->bias.uniform_(-0.5, 0.5);
        const torch::Tensor x = torch::randn({ 2, 32, 4, 4 }).to(torch::kBFloat16);
        const nn::AutocastGuard guard(torch::kCPU, torch::kBFloat16);
        const torch::Tensor y = norm(x);
        QCOMPARE(y.scalar_type(), torch::kFloat32);
        QVERIFY(torch::equal(y, torch::group_norm(x.to(torch::kFloat32), 8, norm->weight, norm->bias, 1e-5)));
    }
    {
        const nn::AutocastGuard off(torch::kCPU, torch::kFloat32);
        QVERIFY(!off.active());
    }
    LETHE_COMPARE_STR(errorMessage([] { nn::AutocastGuard guard(torch::kCPU, torch::kInt64); }),
        "mixed precision: autocast runs in bfloat16 or float16, not Long");
#if TORCH_VERSION_MAJOR < 2
    LETHE_COMPARE_STR(errorMessage([] { nn::AutocastGuard guard(torch::kCPU, torch::kFloat16); }),
        "mixed precision: float16 autocast needs CUDA (this LibTorch's CPU autocast knows only bfloat16); use "
        "bfloat16 on the CPU");
#endif
}

void TestMemory::adamCreatesItsMomentsWithTheFirstUpdate()
{
    torch::Tensor used = torch::ones({ 3 }).requires_grad_(true);
    torch::Tensor unused = torch::ones({ 2 }).requires_grad_(true);
    train::Adam adam({ { "used", used }, { "unused", unused } }, {});
    QCOMPARE(adam.state().size(), std::size_t(1)); // Only the step count: no moments before an update.
    (used * 2).sum().backward();
    adam.step();
    const auto state = adam.state();
    QCOMPARE(state.size(), std::size_t(3)); // The used parameter's two moments; the unused one still has none.
    LETHE_COMPARE_STR(state[0].name, "adam.exp_avg.used");
    // A snapshot from before the first update brings back an optimizer without moments.
    train::Adam fresh({ { "used", used }, { "unused", unused } }, {});
    adam.loadState(fresh.state());
    QCOMPARE(adam.state().size(), std::size_t(1));
    QCOMPARE(adam.stepCount(), std::int64_t(0));
}

void TestMemory::inPlaceTrainsTheBaseUNetAsACopyWould_data()
{
    QTest::addColumn<int>("method");
    QTest::addColumn<bool>("teacherOnHost");
    QTest::newRow("rgd") << static_cast<int>(ConceptMethod::RGD) << false;
    QTest::newRow("esd") << static_cast<int>(ConceptMethod::ESD) << false;
    QTest::newRow("esd, teacher on the host") << static_cast<int>(ConceptMethod::ESD) << true;
    QTest::newRow("salun") << static_cast<int>(ConceptMethod::SalUn) << false;
}

void TestMemory::inPlaceTrainsTheBaseUNetAsACopyWould()
{
    QFETCH(int, method);
    QFETCH(bool, teacherOnHost);
    ConceptConfig config = test::tinyConceptConfig(static_cast<ConceptMethod>(method));
    config.esdTeacherOnHost = teacherOnHost; // Copied in for each teacher pass: the same values as swapped in.
    const auto base = parametersOf(m_pixel->unet());
    ConceptSession copy(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    const auto copyLosses = lossesOf(copy);
    QVERIFY(copy.model().unet().get() != m_pixel->unet().get());
    for (const auto& [name, tensor] : parametersOf(m_pixel->unet()))
        QVERIFY2(torch::equal(tensor, base.at(name)), name.c_str()); // A copy's run leaves the base alone.

    const models::sd::StableDiffusion own = models::sd::loadStableDiffusion(m_dir / "pixel", {});
    ConceptSession inPlace(
        own, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config, BaseUse::TrainInPlace);
    QVERIFY(inPlace.model().unet().get() == own.unet().get());
    QVERIFY(inPlace.frozenUNet().is_empty());
    const auto inPlaceLosses = lossesOf(inPlace);
    QCOMPARE(inPlaceLosses.size(), copyLosses.size());
    for (std::size_t i = 0; i < copyLosses.size(); ++i) {
        QCOMPARE(inPlaceLosses[i].first, copyLosses[i].first);
        QCOMPARE(inPlaceLosses[i].second, copyLosses[i].second);
    }
    const auto trainedInPlace = parametersOf(own.unet());
    for (const auto& [name, tensor] : parametersOf(copy.model().unet()))
        QVERIFY2(torch::equal(tensor, trainedInPlace.at(name)), name.c_str());
}

void TestMemory::memorySettingsKeepTheRunsLosses()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::RGD);
    ConceptSession plain(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    const auto expected = lossesOf(plain);
    config.gradientCheckpointing = true;
    config.memoryEfficientAttention = true;
    ConceptSession saving(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    const auto found = lossesOf(saving);
    QCOMPARE(found.size(), expected.size());
    for (std::size_t i = 0; i < found.size(); ++i) {
        QVERIFY(std::abs(found[i].first - expected[i].first) < 1e-5 * std::abs(expected[i].first) + 1e-7);
        QVERIFY(std::abs(found[i].second - expected[i].second) < 1e-5 * std::abs(expected[i].second) + 1e-7);
    }
}

void TestMemory::bfloat16RunKeepsFloat32Weights()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::RGD);
    ConceptSession plain(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    const auto expected = lossesOf(plain);
    config.precision = unlearn::Precision::BFloat16;
    ConceptSession reduced(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    const auto found = lossesOf(reduced);
    QCOMPARE(found.size(), expected.size());
    // bfloat16 keeps about 3 significant digits: the losses agree to a few per cent, and differ (autocast was on).
    bool differs = false;
    for (std::size_t i = 0; i < found.size(); ++i) {
        QVERIFY(std::abs(found[i].first - expected[i].first) < 0.05 * expected[i].first);
        differs = differs || found[i].first != expected[i].first;
    }
    QVERIFY(differs);
    for (const auto& p : reduced.model().unet()->parameters())
        QCOMPARE(p.scalar_type(), torch::kFloat32);
    QCOMPARE(nn::autocastType(torch::kCPU), torch::kFloat32); // Nothing left switched on after the run.
}

void TestMemory::estimateCountsWhatARunHolds()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::RGD);
    const auto query = unlearn::memoryQuery(*m_pixel, config, BaseUse::Copy, 8, 7);
    const auto unet = m_pixel->unetParameters() * 4;
    const unlearn::MemoryEstimate copy = unlearn::estimateMemory(query);
    QCOMPARE(copy.runCopy, unet);
    QCOMPARE(copy.gradients, unet); // All parameters are trained.
    QCOMPARE(copy.forgetDirection, unet);
    QCOMPARE(copy.optimizer, 2 * unet);
    QCOMPARE(copy.weights, (m_pixel->unetParameters() + m_pixel->textEncoderParameters()) * 4);
    QVERIFY(copy.activations > 0);
    QVERIFY(copy.firstStepPeak() < copy.devicePeak());

    auto inPlace = query;
    inPlace.use = BaseUse::TrainInPlace;
    QCOMPARE(unlearn::estimateMemory(inPlace).runCopy, std::int64_t(0));

    // ESD in place keeps the trained parameters' original values: on the device, or with esdTeacherOnHost on the
    // host with the trained values waiting beside them during a teacher pass.
    inPlace.config.method = ConceptMethod::ESD;
    inPlace.device = torch::Device(torch::kCUDA);
    const unlearn::MemoryEstimate onDevice = unlearn::estimateMemory(inPlace);
    QCOMPARE(onDevice.methodState, unet);
    QCOMPARE(onDevice.hostMethodState, std::int64_t(0));
    inPlace.config.esdTeacherOnHost = true;
    const unlearn::MemoryEstimate onHost = unlearn::estimateMemory(inPlace);
    QCOMPARE(onHost.methodState, std::int64_t(0));
    QCOMPARE(onHost.hostMethodState, 2 * unet);
    QCOMPARE(onHost.devicePeak(), onDevice.devicePeak() - unet);
    QVERIFY(onHost.describe().find("; on the host: ") != std::string::npos);
    QVERIFY(onHost.describe().find("ESD's teacher values ") != std::string::npos);

    // Each memory setting lowers the activations; all together the most.
    const auto activations = [&](bool checkpointing, bool efficient, unlearn::Precision precision) {
        auto q = query;
        q.config.gradientCheckpointing = checkpointing;
        q.config.memoryEfficientAttention = efficient;
        q.config.precision = precision;
        q.latentSide = 64;
        q.unet = models::sd::UNet2DConditionOptions(); // SD 1.x's UNet at 512 × 512.
        return unlearn::estimateMemory(q).activations;
    };
    const auto none = activations(false, false, unlearn::Precision::Float32);
    QVERIFY(activations(true, false, unlearn::Precision::Float32) < none);
    QVERIFY(activations(false, true, unlearn::Precision::Float32) < none);
    // bfloat16 autocast keeps copies in both types: more activation memory than float32, as measured.
    QVERIFY(activations(false, false, unlearn::Precision::BFloat16) > none);

    // UCE solves: no gradients, no Adam, no activations kept.
    auto uce = query;
    uce.config.method = ConceptMethod::UCE;
    const unlearn::MemoryEstimate solved = unlearn::estimateMemory(uce);
    QCOMPARE(solved.gradients + solved.optimizer + solved.activations, std::int64_t(0));
}

void TestMemory::estimateRefusesWhatCannotFit()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::RGD);
    const auto query = unlearn::memoryQuery(*m_pixel, config, BaseUse::TrainInPlace, 8, 7);
    const unlearn::MemoryEstimate estimate = unlearn::estimateMemory(query);
    QVERIFY(!unlearn::memoryRefusal(query, estimate.devicePeak()).has_value());
    const auto refused = unlearn::memoryRefusal(query, 1024);
    QVERIFY(refused.has_value());
    QVERIFY2(refused->rfind("this run needs about ", 0) == 0, refused->c_str());
    QVERIFY2(refused->find("no memory setting makes it fit: train fewer parameters (--params cross-attn) or use a "
                           "larger device")
            != std::string::npos,
        refused->c_str());
    // Just below the estimate, a memory setting would fit, and the message names it.
    const auto near = unlearn::memoryRefusal(query, estimate.devicePeak() - 1);
    QVERIFY(near.has_value());
    QVERIFY2(near->find("--memory-efficient-attention would fit") != std::string::npos
            || near->find("--gradient-checkpointing") != std::string::npos,
        near->c_str());
}

namespace {

/// Minor page faults of this process so far.
long minorFaults()
{
    rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

/// Page faults while a fresh tensor of `mebibytes` MiB is written. Above 32 MiB, glibc's largest default mmap
/// threshold: without configureAllocator every such block is mapped anew and all its pages fault (12,288 for 48 MiB).
long faultsOfAFreshFeatureMap(std::int64_t mebibytes)
{
    const long before = minorFaults();
    torch::Tensor map = torch::empty({ mebibytes << 18 }, torch::kFloat32);
    map.fill_(1.0F);
    return minorFaults() - before;
}

} // namespace

void TestMemory::freedFeatureMapsAreReusedWithoutPageFaults()
{
    // The user's own malloc tunables win: nothing is changed.
    const char* own = std::getenv("GLIBC_TUNABLES");
    const std::string saved = own ? own : "";
    qputenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0");
    QVERIFY(!configureAllocator());
    if (own)
        qputenv("GLIBC_TUNABLES", QByteArray::fromStdString(saved));
    else
        qunsetenv("GLIBC_TUNABLES");
    if (own && saved.find("glibc.malloc.") != std::string::npos)
        QSKIP("GLIBC_TUNABLES sets glibc's malloc tunables for this process");

    QVERIFY(configureAllocator());
    // The tests before may have left more free heap than the trim threshold, which the next free() hands back:
    // start from a trimmed heap, as a process does after start-up.
    malloc_trim(0);
    // The heap grows once, by a little more than the block measured: a freed block of exactly its size may not serve
    // it again (LibTorch's 64-byte alignment asks for a little more) when other allocations keep it from the heap's
    // top.
    faultsOfAFreshFeatureMap(56);
    const long again = faultsOfAFreshFeatureMap(48);
    // 12,288 pages without the setting; a few for the profiler-free bookkeeping with it.
    QVERIFY2(
        again < 256, qPrintable(QString::number(again) + QStringLiteral(" page faults writing a reused 48 MiB block")));
}

void TestMemory::sdxlRgdStepEstimate()
{
    // SDXL base at 1,024 × 1,024 (latents 128 × 128), every UNet parameter trained by RGD in place, from the official
    // configs alone: what the estimate says a step needs at batches 1 and 8 with each memory setting (qInfo prints the
    // table; docs/performance.md and the issue-27 note quote it).
    const models::sd::UNet2DConditionOptions unet
        = models::sd::unetOptionsFromConfig(nlohmann::json::parse(test::kSdxlUNetConfig), "unet/config.json");
    unlearn::MemoryQuery q;
    q.unet = unet;
    q.unetParameters = models::sd::unetParameterCount(unet);
    QCOMPARE(q.unetParameters, test::kSdxlUNetParameters);
    q.trainedParameters = q.unetParameters;
    q.textEncoderParameters = models::sd::clipTextParameterCount(models::sd::clipTextSd1Options())
        + models::sd::clipTextParameterCount(models::sd::clipTextSdxl2Options(), true);
    q.vaeParameters = nn::parameterCount(*models::sd::buildAutoencoderKL(models::sd::stableDiffusion1VaeOptions()));
    q.latentSide = 128;
    q.use = BaseUse::TrainInPlace;
    q.config.method = ConceptMethod::RGD;
    q.config.steps = 100;
    const auto gib = [](std::int64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(1LL << 30); };
    struct Setting {
        const char* name;
        bool checkpointing;
        bool efficient;
        unlearn::Precision precision;
    };
    const Setting settings[] = { { "none", false, false, unlearn::Precision::Float32 },
        { "checkpointing + memory-efficient attention", true, true, unlearn::Precision::Float32 },
        { "checkpointing + memory-efficient attention + bfloat16", true, true, unlearn::Precision::BFloat16 } };
    std::map<std::string, double> peaks;
    for (const char* device : { "cuda", "cpu" }) {
        q.device = torch::Device(device);
        for (const std::int64_t batch : { 1, 8 }) {
            q.config.forgetBatch = q.config.remainBatch = batch;
            for (const Setting& setting : settings) {
                q.config.gradientCheckpointing = setting.checkpointing;
                q.config.memoryEfficientAttention = setting.efficient;
                q.config.precision = setting.precision;
                const unlearn::MemoryEstimate e = unlearn::estimateMemory(q);
                peaks[std::string(device) + std::to_string(batch) + setting.name] = gib(e.devicePeak());
                qInfo("SDXL RGD, %s, batch %lld, %s: %.1f GiB at the peak (%.1f GiB in the first step); activations "
                      "%.1f GiB",
                    device, static_cast<long long>(batch), setting.name, gib(e.devicePeak()), gib(e.firstStepPeak()),
                    gib(e.activations));
            }
        }
    }
    // The UNet's weights, gradients, forget direction and Adam's moments alone are 5 × 9.56 GiB: no setting brings an
    // all-parameter step under a 24 GB card (22.35 GiB) or this 24 GiB machine, so it is computed, not measured.
    for (const auto& [row, peak] : peaks)
        QVERIFY2(peak > 5 * gib(test::kSdxlUNetParameters * 4), row.c_str());
    QVERIFY(peaks.at("cuda8checkpointing + memory-efficient attention") < peaks.at(std::string("cuda8none")));
    QVERIFY(peaks.at("cuda1checkpointing + memory-efficient attention")
        < peaks.at("cuda8checkpointing + memory-efficient attention"));
}

QTEST_APPLESS_MAIN(TestMemory)
#include "test_memory.moc"
