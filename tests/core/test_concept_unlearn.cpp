// Concept unlearning of text-to-image models: the methods, α's truncation, the parameter groups, ESD's frozen
// copy, determinism, the export, the cached training images and the messages for bad input.
#include "core/concept/diversity_builder.h"
#include "core/concept/prompt_set.h"
#include "core/diffusion/ddpm_loss.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/imaging/image_file.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"
#include "core/train/adam.h"
#include "core/train/training_loop.h"
#include "core/unlearn/concept_images.h"
#include "core/unlearn/concept_session.h"
#include "run_fixtures.h"
#include "test_support.h"
#include "tiny_sd.h"

#include <torch/torch.h>

#include <QtTest>

#include <map>

using namespace lethe;
using lethe::models::sd::loadStableDiffusion;
using lethe::models::sd::StableDiffusion;
using lethe::test::errorMessage;
using lethe::test::parametersOf;
using lethe::test::ScratchDir;
using lethe::unlearn::ConceptConfig;
using lethe::unlearn::ConceptMethod;
using lethe::unlearn::ConceptPair;
using lethe::unlearn::ConceptSession;
using lethe::unlearn::ParameterGroup;
using lethe::unlearn::StepReport;

namespace {

std::vector<ConceptPair> pairs(
    const std::string& word, int n, std::uint64_t seed, std::int64_t channels = 3, std::int64_t side = 8)
{
    return test::conceptPairs(word, n, seed, channels, side);
}

ConceptConfig tinyConfig(ConceptMethod method)
{
    return test::tinyConceptConfig(method);
}

bool sameParameters(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b)
{
    if (a.size() != b.size())
        return false;
    for (const auto& [name, tensor] : a)
        if (!b.count(name) || !torch::equal(tensor, b.at(name)))
            return false;
    return true;
}

/// Calls `each` for every step, and `control` steers (null: a control nobody touches).
struct StepHook : unlearn::RunObserver {
    std::function<void(const StepReport&)> each;
    void onStep(const StepReport& r) override
    {
        if (each)
            each(r);
    }
};

/// Runs `session` until its steps are done or `control` stops it.
unlearn::RunResult runToEnd(
    ConceptSession& session, std::function<void(const StepReport&)> each = {}, unlearn::RunControl* control = nullptr)
{
    StepHook hook;
    hook.each = std::move(each);
    unlearn::RunControl own;
    return session.run(hook, control ? *control : own);
}

/// One more step of `session`, and its report.
StepReport oneStep(ConceptSession& session)
{
    StepReport report;
    unlearn::RunControl control;
    runToEnd(
        session,
        [&](const StepReport& r) {
            report = r;
            control.requestStop();
        },
        &control);
    return report;
}

/// Whether `twin` is `forget` without its concept word: the word and its space gone (an inserted word), or the
/// word replaced by another training value of the concept dimension.
bool isTwin(const std::string& forget, const std::string& twin, const concepts::DiversitySpec& spec)
{
    for (const std::string& word : spec.forgetConcept.words) {
        const auto at = forget.find(" " + word);
        if (at == std::string::npos)
            continue;
        const std::string before = forget.substr(0, at + 1);
        const std::string after = forget.substr(at + 1 + word.size());
        if (spec.forgetConcept.dimension.empty())
            return twin == before + after.substr(1);
        if (twin.size() < before.size() + after.size() || twin.compare(0, before.size(), before) != 0
            || twin.compare(twin.size() - after.size(), after.size(), after) != 0)
            return false;
        const std::string value = twin.substr(before.size(), twin.size() - before.size() - after.size());
        const auto& values = spec.dimension(spec.forgetConcept.dimension)->trainValues;
        return value != word && std::find(values.begin(), values.end(), value) != values.end();
    }
    return false;
}

diffusion::TextToImageRequest afterRequest()
{
    return test::tinyTextToImageRequest({ "forget a", "remain b" });
}

} // namespace

class TestConceptUnlearn : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void everyMethodRunsWithFiniteLosses_data();
    void everyMethodRunsWithFiniteLosses();
    void truncationMakesTheStepRemainOnly();
    void parameterGroupsTrainExactlyTheirParameters_data();
    void parameterGroupsTrainExactlyTheirParameters();
    void esdKeepsItsFrozenCopy();
    void sameSeedGivesBitIdenticalRuns();
    void latentModelTrainsOnEncodedImages();
    void exportedModelReproducesTheAfterImages();
    void trainingImagesAreCachedAndResumed();
    void captionedImageFolderGivesPairs();
    void twinPairingZipsTheBatches();
    void badInputIsRefused();
    void nonFiniteLossRollsBackAndFails();
    void presetsAndTheModelsRecommendedOne();

private:
    ScratchDir m_dir;
    std::optional<StableDiffusion> m_pixel;
};

void TestConceptUnlearn::initTestCase()
{
    torch::set_num_threads(1);
    lethe::test::writeTinyDiffusersFolder(m_dir / "pixel", false);
    m_pixel.emplace(loadStableDiffusion(m_dir / "pixel", {}));
}

void TestConceptUnlearn::everyMethodRunsWithFiniteLosses_data()
{
    QTest::addColumn<QString>("method");
    QTest::newRow("rgd") << "rgd";
    QTest::newRow("graddiff") << "graddiff";
    QTest::newRow("ga") << "ga";
    QTest::newRow("esd") << "esd";
}

void TestConceptUnlearn::everyMethodRunsWithFiniteLosses()
{
    QFETCH(QString, method);
    const auto parsed = unlearn::conceptMethodFromName(method.toStdString());
    QVERIFY(parsed.has_value());
    LETHE_COMPARE_STR(unlearn::conceptMethodName(*parsed), method.toStdString());
    const auto base = parametersOf(m_pixel->unet());
    ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), tinyConfig(*parsed));
    std::vector<StepReport> reports;
    QCOMPARE(runToEnd(session, [&](const StepReport& r) { reports.push_back(r); }).steps, std::int64_t { 3 });
    QCOMPARE(reports.size(), std::size_t { 3 });
    for (std::size_t i = 0; i < reports.size(); ++i) {
        const StepReport& r = reports[i];
        QCOMPARE(r.step, static_cast<std::int64_t>(i + 1));
        QCOMPARE(r.totalSteps, std::int64_t { 3 });
        QVERIFY(std::isfinite(r.forgetLoss) && r.forgetLoss > 0);
        QVERIFY(std::isfinite(r.remainLoss) && r.remainLoss > 0);
        QVERIFY(!r.truncated);
        QVERIFY(std::isfinite(r.cosine) && std::abs(r.cosine) <= 1.0 + 1e-9);
        if (*parsed == ConceptMethod::ESD) {
            QCOMPARE(r.ascentNorm, 0.0);
        } else {
            QVERIFY(r.ascentNorm > 0);
            QCOMPARE(r.remainNorm > 0, *parsed != ConceptMethod::GA);
        }
        QCOMPARE(r.lambda, *parsed == ConceptMethod::GA ? 0.0 : 1.5);
        // Only RGD projects; a conflict is reported as such.
        if (*parsed != ConceptMethod::RGD)
            QVERIFY(!r.projected);
        else
            QCOMPARE(r.projected, r.cosine < 0);
    }
    QVERIFY(!sameParameters(parametersOf(session.model().unet()), base));
    QVERIFY(sameParameters(parametersOf(m_pixel->unet()), base)); // The base model is never changed.
    QCOMPARE(runToEnd(session).steps, std::int64_t { 3 }); // Nothing left to do.
}

void TestConceptUnlearn::truncationMakesTheStepRemainOnly()
{
    // One forget and one remain pair, batches of one: every draw can be repeated by hand.
    ConceptConfig config = tinyConfig(ConceptMethod::RGD);
    config.alpha = 1e-6;
    config.forgetBatch = 1;
    config.remainBatch = 1;
    config.steps = 1;
    const auto forget = pairs("forget", 1, 1);
    const auto remain = pairs("remain", 1, 2);
    ConceptSession session(*m_pixel, forget, remain, config);
    const StepReport report = oneStep(session);
    QVERIFY(report.truncated);
    QVERIFY(report.forgetLoss > config.alpha);
    QCOMPARE(report.ascentNorm, 0.0);
    QVERIFY(report.remainNorm > 0);
    QVERIFY(!report.projected);

    // The same step by hand, remain only: λ·∇L_r with the remain draw that follows the forget draw, then Adam.
    auto unet = models::sd::UNet2DConditionModel(
        std::dynamic_pointer_cast<models::sd::UNet2DConditionModelImpl>(m_pixel->unet()->clone()));
    unet->train();
    std::vector<std::pair<std::string, torch::Tensor>> named;
    for (const auto& item : unet->named_parameters())
        named.emplace_back(item.key(), item.value());
    train::Adam adam(named, train::AdamOptions { config.lr, 0.9, 0.999, 1e-8, 0.0 });
    at::Generator generator = diffusion::cpuGenerator(config.seed);
    const torch::Tensor forgetX0 = forget[0].image.unsqueeze(0);
    const torch::Tensor remainX0 = remain[0].image.unsqueeze(0);
    diffusion::drawDdpm(forgetX0, m_pixel->schedule(), generator);
    const diffusion::DdpmDraw draw = diffusion::drawDdpm(remainX0, m_pixel->schedule(), generator);
    torch::Tensor context;
    {
        torch::NoGradGuard noGrad;
        context
            = m_pixel->textEncoder()->forward(m_pixel->tokenizer().encodeBatch({ remain[0].prompt })).last_hidden_state;
    }
    const diffusion::ConditionalNoisePredictor predict = [&](const torch::Tensor& x, const torch::Tensor& t,
                                                             const torch::Tensor& c) { return unet->forward(x, t, c); };
    const torch::Tensor loss
        = diffusion::ddpmLossPerImage(predict, remainX0, context, m_pixel->schedule(), draw).mean();
    QCOMPARE(loss.item<double>(), report.remainLoss);
    loss.backward();
    {
        torch::NoGradGuard noGrad;
        for (auto& [name, p] : named)
            p.mutable_grad().mul_(config.lambda);
    }
    adam.step();
    const auto expected = parametersOf(unet);
    const auto actual = parametersOf(session.model().unet());
    for (const auto& [name, tensor] : expected)
        QVERIFY2(torch::equal(actual.at(name), tensor), name.c_str());

    // Untruncated, the same step also ascends on the forget loss and lands elsewhere.
    config.alpha = 1e9;
    ConceptSession untruncated(*m_pixel, forget, remain, config);
    const StepReport both = oneStep(untruncated);
    QVERIFY(!both.truncated);
    QVERIFY(both.ascentNorm > 0);
    QCOMPARE(both.forgetLoss, report.forgetLoss);
    QVERIFY(!sameParameters(parametersOf(untruncated.model().unet()), actual));
}

void TestConceptUnlearn::parameterGroupsTrainExactlyTheirParameters_data()
{
    QTest::addColumn<QString>("group");
    QTest::addColumn<QString>("method");
    QTest::newRow("all") << "all"
                         << "graddiff";
    QTest::newRow("cross-attn (ESD-x)") << "cross-attn"
                                        << "esd";
    QTest::newRow("no-cross-attn (ESD-u)") << "no-cross-attn"
                                           << "rgd";
}

void TestConceptUnlearn::parameterGroupsTrainExactlyTheirParameters()
{
    QFETCH(QString, group);
    QFETCH(QString, method);
    ConceptConfig config = tinyConfig(*unlearn::conceptMethodFromName(method.toStdString()));
    config.parameters = *unlearn::parameterGroupFromName(group.toStdString());
    LETHE_COMPARE_STR(unlearn::parameterGroupName(config.parameters), group.toStdString());
    const auto base = parametersOf(m_pixel->unet());
    ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), config);
    runToEnd(session);
    const auto after = parametersOf(session.model().unet());
    const std::vector<std::string> trainable = session.trainableNames();
    std::size_t inGroup = 0;
    std::size_t changed = 0;
    for (const auto& [name, tensor] : base) {
        const bool cross = name.find("attn2") != std::string::npos;
        const bool expectedIn = group == QLatin1String("all") || (group == QLatin1String("cross-attn")) == cross;
        QCOMPARE(unlearn::inParameterGroup(config.parameters, name), expectedIn);
        QCOMPARE(std::find(trainable.begin(), trainable.end(), name) != trainable.end(), expectedIn);
        if (expectedIn) {
            ++inGroup;
            changed += torch::equal(after.at(name), tensor) ? 0 : 1;
        } else {
            QVERIFY2(torch::equal(after.at(name), tensor), name.c_str());
        }
    }
    QCOMPARE(trainable.size(), inGroup);
    QVERIFY(inGroup > 0 && inGroup <= base.size());
    QVERIFY(changed > inGroup / 2);
}

void TestConceptUnlearn::esdKeepsItsFrozenCopy()
{
    ConceptConfig config = tinyConfig(ConceptMethod::ESD);
    const auto base = parametersOf(m_pixel->unet());
    ConceptSession session(*m_pixel, pairs("forget", 3, 1), {}, config); // ESD needs no remain pairs.
    QVERIFY(!session.frozenUNet().is_empty());
    QVERIFY(session.frozenUNet().get() != session.model().unet().get());
    // On a copy, the teacher is the base UNet itself: no third UNet in memory.
    QVERIFY(session.frozenUNet().get() == m_pixel->unet().get());
    std::vector<StepReport> reports;
    runToEnd(session, [&](const StepReport& r) { reports.push_back(r); });
    QCOMPARE(reports.size(), std::size_t { 3 });
    QCOMPARE(reports[0].remainLoss, 0.0); // No remain pairs: nothing measured.
    QVERIFY(sameParameters(parametersOf(session.frozenUNet()), base));
    QVERIFY(!sameParameters(parametersOf(session.model().unet()), base));
    QVERIFY(sameParameters(parametersOf(m_pixel->unet()), base));
    // The first step starts at the original weights: its loss is ‖ε*(c) − (ε*(∅) − η(ε*(c) − ε*(∅)))‖² =
    // (1 + η)²‖ε*(c) − ε*(∅)‖², positive for a network that reads the prompt.
    QVERIFY(reports[0].forgetLoss > 0);
    // ESD's own states, by partial sampling of the prompt with the model being trained: finite, repeatable.
    config.esdSamplingSteps = 4;
    const auto sampled = [&] {
        ConceptSession run(*m_pixel, pairs("forget", 3, 1), {}, config);
        std::vector<double> losses;
        runToEnd(run, [&](const StepReport& r) { losses.push_back(r.forgetLoss); });
        return std::make_tuple(losses, parametersOf(run.model().unet()), parametersOf(run.frozenUNet()));
    };
    const auto once = sampled();
    const auto twice = sampled();
    QCOMPARE(std::get<0>(once).size(), std::size_t { 3 });
    for (const double loss : std::get<0>(once))
        QVERIFY(std::isfinite(loss) && loss > 0);
    const std::vector<double> noised { reports[0].forgetLoss, reports[1].forgetLoss, reports[2].forgetLoss };
    QVERIFY(std::get<0>(once) != noised);
    QCOMPARE(std::get<0>(once), std::get<0>(twice));
    QVERIFY(sameParameters(std::get<1>(once), std::get<1>(twice)));
    QVERIFY(sameParameters(std::get<2>(once), base));
    // Other methods keep no frozen copy.
    ConceptSession rgd(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), tinyConfig(ConceptMethod::RGD));
    QVERIFY(rgd.frozenUNet().is_empty());
}

void TestConceptUnlearn::sameSeedGivesBitIdenticalRuns()
{
    const auto runOnce = [&](std::uint64_t seed) {
        ConceptConfig config = tinyConfig(ConceptMethod::RGD);
        config.seed = seed;
        config.steps = 4; // Batches straddle epochs (3 forget pairs, batch 2).
        ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), config);
        std::vector<double> losses;
        runToEnd(session, [&](const StepReport& r) {
            losses.push_back(r.forgetLoss);
            losses.push_back(r.remainLoss);
            losses.push_back(r.cosine);
        });
        return std::make_pair(losses, parametersOf(session.model().unet()));
    };
    const auto first = runOnce(7);
    const auto second = runOnce(7);
    QCOMPARE(first.first, second.first);
    QVERIFY(sameParameters(first.second, second.second));
    // Cancelled after a step and run on, the session ends where an uninterrupted one does.
    {
        ConceptConfig config = tinyConfig(ConceptMethod::RGD);
        config.steps = 4;
        ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), config);
        unlearn::RunControl control;
        QCOMPARE(runToEnd(
                     session, [&](const StepReport&) { control.requestStop(); }, &control)
                     .steps,
            std::int64_t { 1 });
        QCOMPARE(session.stepsDone(), std::int64_t { 1 });
        QCOMPARE(runToEnd(session).steps, std::int64_t { 4 });
        QVERIFY(sameParameters(parametersOf(session.model().unet()), first.second));
    }
    // Steered: α, λ and lr change between steps (a refused value is ignored), and a stop ends the run.
    {
        ConceptConfig config = tinyConfig(ConceptMethod::RGD);
        config.steps = 5;
        ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), config);
        unlearn::RunControl control;
        std::vector<StepReport> reports;
        runToEnd(
            session,
            [&](const StepReport& r) {
                reports.push_back(r);
                if (r.step == 1) {
                    control.setAlpha(1e-6);
                    control.setLambda(0.5);
                    control.setLr(1e-4);
                } else if (r.step == 2) {
                    control.setAlpha(-1);
                } else {
                    control.requestStop();
                }
            },
            &control);
        QCOMPARE(reports.size(), std::size_t { 3 });
        QCOMPARE(session.stepsDone(), std::int64_t { 3 });
        QVERIFY(!reports[0].truncated);
        QCOMPARE(reports[1].alpha, 1e-6);
        QCOMPARE(reports[1].lambda, 0.5);
        QCOMPARE(reports[1].lr, 1e-4);
        QVERIFY(reports[1].truncated);
        QCOMPARE(reports[2].alpha, 1e-6);
        QCOMPARE(session.config().lambda, 0.5);
    }
    const auto other = runOnce(8);
    QVERIFY(first.first != other.first);
    QVERIFY(!sameParameters(first.second, other.second));
}

void TestConceptUnlearn::latentModelTrainsOnEncodedImages()
{
    lethe::test::writeTinyDiffusersFolder(m_dir / "latent", true);
    const StableDiffusion sd = loadStableDiffusion(m_dir / "latent", {});
    const torch::Tensor pixels = torch::randint(0, 256, { 3, 3, 16, 16 }, torch::kUInt8);
    const torch::Tensor latents = unlearn::toModelInput(sd, pixels, 2);
    QCOMPARE(latents.sizes(), (std::vector<std::int64_t> { 3, 4, 8, 8 }));
    QCOMPARE(latents.scalar_type(), torch::kFloat32);
    {
        torch::NoGradGuard noGrad;
        const torch::Tensor expected
            = sd.vae()->encode(pixels.to(torch::kFloat32) / 127.5 - 1).mean * sd.vae()->scalingFactor();
        QVERIFY(torch::allclose(latents, expected, 1e-5, 1e-5));
    }
    // Pixel space: the pixels in [−1, 1].
    QVERIFY(torch::equal(unlearn::toModelInput(*m_pixel, pixels), pixels.to(torch::kFloat32) / 127.5 - 1));

    // The pairs carry the posterior's log-variance too: x₀ is drawn from it at every step (latents "sample").
    const std::vector<ConceptPair> forget = unlearn::conceptPairsOf(sd, { "forget", "forget", "forget" }, pixels, 2);
    const std::vector<ConceptPair> remain = unlearn::conceptPairsOf(sd, { "remain", "remain", "remain" }, pixels, 2);
    QVERIFY(torch::equal(forget[1].image, latents[1]));
    ConceptSession session(sd, forget, remain, tinyConfig(ConceptMethod::RGD));
    std::vector<StepReport> reports;
    runToEnd(session, [&](const StepReport& r) { reports.push_back(r); });
    QCOMPARE(reports.size(), std::size_t { 3 });
    QVERIFY(std::isfinite(reports.back().forgetLoss) && std::isfinite(reports.back().remainLoss));
    QVERIFY(session.model().vae().get() == sd.vae().get()); // Shared, frozen.
}

void TestConceptUnlearn::exportedModelReproducesTheAfterImages()
{
    ScratchDir dir;
    ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), tinyConfig(ConceptMethod::RGD));
    runToEnd(session);
    const auto request = afterRequest();
    const torch::Tensor after = *diffusion::generate(session.model().model(), request);
    const torch::Tensor before = *diffusion::generate(m_pixel->model(), request);
    QVERIFY(!torch::equal(after, before));

    session.model().saveDiffusersFolder(dir / "folder", R"({"method": "rgd"})");
    session.model().saveCompvisSingleFile(dir / "model.safetensors", { { "lethe.manifest", R"({"method": "rgd"})" } });
    const StableDiffusion folder = loadStableDiffusion(dir / "folder", {});
    QVERIFY(torch::equal(*diffusion::generate(folder.model(), request), after));
    models::sd::SdLoadOptions options;
    options.components = m_dir / "pixel";
    const StableDiffusion single = loadStableDiffusion(dir / "model.safetensors", options);
    QVERIFY(torch::equal(*diffusion::generate(single.model(), request), after));
    QVERIFY(std::filesystem::exists(dir / "folder" / "lethe-manifest.json"));
}

void TestConceptUnlearn::trainingImagesAreCachedAndResumed()
{
    ScratchDir dir;
    const std::vector<concepts::Prompt> prompts = { { "a red shoe", std::nullopt, std::nullopt },
        { "a blue bag", 42, std::nullopt }, { "a green hat", std::nullopt, std::nullopt } };
    unlearn::ConceptImageOptions options;
    options.guidance = 3.0;
    options.samplerSteps = 3;
    options.batch = 2;
    options.seedBase = 100;
    std::vector<std::pair<std::int64_t, std::int64_t>> calls;
    const auto progress = [&](std::int64_t done, std::int64_t total) {
        calls.emplace_back(done, total);
        return true;
    };
    const auto images = unlearn::conceptImages(*m_pixel, prompts, dir.path(), options, progress);
    QVERIFY(images.has_value());
    QCOMPARE(images->sizes(), (std::vector<std::int64_t> { 3, 3, 8, 8 }));
    QCOMPARE(calls, (std::vector<std::pair<std::int64_t, std::int64_t>> { { 0, 3 }, { 2, 3 }, { 3, 3 } }));

    // Each image is the model's own for its seed (the set's, else seedBase + index) and guidance.
    diffusion::TextToImageRequest request;
    request.prompts = { "a red shoe", "a blue bag", "a green hat" };
    request.seeds = { 100, 42, 102 };
    request.height = 8;
    request.width = 8;
    request.guidance = 3.0;
    request.sampler.steps = 3;
    QVERIFY(torch::equal(*images, *diffusion::generate(m_pixel->model(), request)));
    const std::string second = unlearn::conceptImageFileName(1, prompts[1], 42, options, 8);
    QVERIFY(std::filesystem::exists(dir / second));
    QVERIFY(std::filesystem::exists((dir / second).replace_extension(".png")));

    // Cached: nothing drawn again; a removed image is drawn again, identical.
    calls.clear();
    QVERIFY(torch::equal(*unlearn::conceptImages(*m_pixel, prompts, dir.path(), options, progress), *images));
    QCOMPARE(calls, (std::vector<std::pair<std::int64_t, std::int64_t>> { { 3, 3 } }));
    std::filesystem::remove(dir / second);
    calls.clear();
    QVERIFY(torch::equal(*unlearn::conceptImages(*m_pixel, prompts, dir.path(), options, progress), *images));
    QCOMPARE(calls, (std::vector<std::pair<std::int64_t, std::int64_t>> { { 2, 3 }, { 3, 3 } }));

    // Another setting or model is another file; cancelling keeps what was drawn.
    options.modelId = "/models/other";
    QVERIFY(unlearn::conceptImageFileName(1, prompts[1], 42, options, 8) != second);
    options.modelId.clear();
    QVERIFY(unlearn::conceptImageFileName(1, prompts[1], 42, options, 8) == second);
    options.guidance = 4.0;
    QVERIFY(unlearn::conceptImageFileName(1, prompts[1], 42, options, 8) != second);
    ScratchDir cancelled;
    QVERIFY(!unlearn::conceptImages(*m_pixel, prompts, cancelled.path(), options, [](std::int64_t done, std::int64_t) {
        return done == 0;
    }).has_value());
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(cancelled.path()))
        files += entry.path().extension() == ".safetensors" ? 1 : 0;
    QCOMPARE(files, std::size_t { 2 });

    LETHE_COMPARE_STR(errorMessage([&] { unlearn::conceptImages(*m_pixel, {}, dir.path(), options); }),
        "concept images: the prompt set is empty");
}

void TestConceptUnlearn::captionedImageFolderGivesPairs()
{
    if (!imaging::canDecodeImages())
        QSKIP("this build cannot decode PNG files");
    ScratchDir dir;
    const torch::Tensor a = torch::full({ 3, 8, 8 }, 40, torch::kUInt8);
    const torch::Tensor b = torch::full({ 3, 8, 8 }, 200, torch::kUInt8);
    imaging::writePng(dir / "b.png", b);
    imaging::writePng(dir / "a.png", a);
    imaging::writePng(dir / "no-caption.png", a);
    lethe::test::writeBytes(dir / "a.txt", "  a dark shoe\n");
    lethe::test::writeBytes(dir / "b.txt", "a bright bag");
    const unlearn::CaptionedImages pairs = unlearn::readCaptionedImages(dir.path(), 3, 8);
    QCOMPARE(pairs.prompts, (std::vector<std::string> { "a dark shoe", "a bright bag" }));
    QVERIFY(torch::equal(pairs.images, torch::stack({ a, b })));

    lethe::test::writeBytes(dir / "b.txt", " \n");
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::readCaptionedImages(dir.path(), 3, 8); }),
        (dir / "b.txt").string() + ": caption: empty");
    ScratchDir empty;
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::readCaptionedImages(empty.path(), 3, 8); }),
        "captioned images: " + empty.path().string()
            + " has no image with a caption (a PNG or JPEG file with a .txt file of the same name)");
}

void TestConceptUnlearn::twinPairingZipsTheBatches()
{
    // "twins" (the default): step i's remain batch is the twins of step i's forget batch, in its order, for an
    // inserted concept word (the paper's nudity sets) and for a value of a dimension (the fashion sneaker), past the
    // end of the first epoch too.
    QCOMPARE(ConceptConfig {}.remainPairing, unlearn::RemainPairing::Twins);
    for (const char* name : { "presets/paper-nudity.json", "presets/fashion-colours.json" }) {
        const concepts::DiversitySpec spec = concepts::loadDiversityPreset(resourceFile(name));
        const concepts::DiversePrompts sets = concepts::buildDiversePrompts(spec);
        const ConceptConfig config = unlearn::conceptPreset("fmnist-t2i");
        const auto n = static_cast<std::int64_t>(sets.forget.size());
        for (std::int64_t step = 0; step < n / config.forgetBatch + 3; ++step) {
            const unlearn::ConceptBatchIndices batch = unlearn::conceptBatchIndices(config, n, n, step);
            QCOMPARE(batch.forget.size(), std::size_t(config.forgetBatch));
            QCOMPARE(batch.remain, batch.forget);
            for (std::size_t k = 0; k < batch.forget.size(); ++k) {
                const std::string& forget = sets.forget[static_cast<std::size_t>(batch.forget[k])].text;
                const std::string& remain = sets.twins[static_cast<std::size_t>(batch.remain[k])].text;
                QVERIFY2(isTwin(forget, remain, spec), (forget + " / " + remain).c_str());
            }
        }
    }

    // "independent" keeps its own batches: remain_batch pairs in the order seeded with seed + 1, as before twins.
    ConceptConfig independent = tinyConfig(ConceptMethod::RGD);
    QCOMPARE(independent.remainPairing, unlearn::RemainPairing::Independent);
    for (std::int64_t step = 0; step < 5; ++step) {
        const unlearn::ConceptBatchIndices batch = unlearn::conceptBatchIndices(independent, 3, 4, step);
        QCOMPARE(batch.forget, train::EpochOrder(3, independent.seed).batch(step, independent.forgetBatch));
        QCOMPARE(batch.remain, train::EpochOrder(4, independent.seed + 1).batch(step, independent.remainBatch));
    }

    // A twins run trains; one whose remain set cannot be the forget set's twins is refused, never paired.
    ConceptConfig twins = tinyConfig(ConceptMethod::RGD);
    twins.remainPairing = unlearn::RemainPairing::Twins;
    ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 3, 2), twins);
    const unlearn::RunResult result = runToEnd(session);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    LETHE_COMPARE_STR(
        errorMessage([&] { ConceptSession refused(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), twins); }),
        "concept unlearning: remain_pairing 'twins' pairs remain pair i with forget pair i, its twin, so the sets "
        "must be the same size; found 3 forget and 4 remain pairs (give the forget set's twins as the remain set, "
        "or set remain_pairing to 'independent')");
    twins.method = ConceptMethod::ESD; // ESD needs no remain pairs, twins or not.
    ConceptSession esd(*m_pixel, pairs("forget", 3, 1), {}, twins);

    // The setting in the config file (run.json, the exported model's manifest), by name.
    LETHE_COMPARE_STR(io::configToJson(ConceptConfig {})["remain_pairing"].get<std::string>(), "twins");
    const nlohmann::json written = io::configToJson(independent);
    LETHE_COMPARE_STR(written["remain_pairing"].get<std::string>(), "independent");
    QCOMPARE(io::configFromJson<ConceptConfig>(written).remainPairing, unlearn::RemainPairing::Independent);
    QCOMPARE(io::configToJson(io::configFromJson<ConceptConfig>(written)), written);
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<ConceptConfig>({ { "remain_pairing", "zipped" } });
    }),
        "concept config: remain_pairing must be 'twins' or 'independent', found \"zipped\"");
}

void TestConceptUnlearn::badInputIsRefused()
{
    const auto forget = pairs("forget", 2, 1);
    const auto remain = pairs("remain", 2, 2);
    const auto refused = [&](const ConceptConfig& config, std::vector<ConceptPair> f = {},
                             std::vector<ConceptPair> r = {}, bool useDefaults = true) {
        return errorMessage([&] {
            ConceptSession session(
                *m_pixel, useDefaults && f.empty() ? forget : f, useDefaults && r.empty() ? remain : r, config);
        });
    };
    ConceptConfig config = tinyConfig(ConceptMethod::RGD);
    config.alpha = 0;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: alpha must be greater than 0, found 0");
    config.alpha = -1;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: alpha must be greater than 0, found -1");
    config = tinyConfig(ConceptMethod::RGD);
    config.lambda = -0.5;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: lambda must be finite and at least 0, found -0.5");
    config = tinyConfig(ConceptMethod::RGD);
    config.lr = 0;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: lr must be finite and greater than 0, found 0");
    config = tinyConfig(ConceptMethod::RGD);
    config.steps = 0;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: steps must be at least 1, found 0");
    config = tinyConfig(ConceptMethod::RGD);
    config.forgetBatch = 0;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: forget batch must be at least 1, found 0");
    config = tinyConfig(ConceptMethod::RGD);
    config.remainBatch = -2;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: remain batch must be at least 1, found -2");

    config = tinyConfig(ConceptMethod::ESD);
    config.esdSamplingSteps = 1001;
    LETHE_COMPARE_STR(refused(config), "concept unlearning: ESD sampling steps must be in 0…1000, found 1001");

    config = tinyConfig(ConceptMethod::RGD);
    LETHE_COMPARE_STR(refused(config, {}, remain, false), "concept unlearning: the forget set is empty");
    LETHE_COMPARE_STR(
        refused(config, forget, {}, false), "concept unlearning: the remain set is empty (rgd needs remain pairs)");
    config.method = ConceptMethod::GradDiff;
    LETHE_COMPARE_STR(refused(config, forget, {}, false),
        "concept unlearning: the remain set is empty (graddiff needs remain pairs)");

    config = tinyConfig(ConceptMethod::RGD);
    auto wrong = forget;
    wrong[1].image = torch::zeros({ 4, 8, 8 });
    LETHE_COMPARE_STR(refused(config, wrong, remain),
        "concept unlearning: forget pair 2: the image must be float32 [3, h, w] in the UNet's input space (pixels "
        "in [-1, 1]), found float32 [4, 8, 8]");
    wrong = remain;
    wrong[1].image = torch::zeros({ 3, 16, 16 });
    LETHE_COMPARE_STR(
        refused(config, forget, wrong), "concept unlearning: remain pair 2 has size [3, 16, 16], pair 1 [3, 8, 8]");
    wrong = remain;
    wrong[0].image = torch::zeros({ 3, 8, 8 }, torch::kUInt8);
    LETHE_COMPARE_STR(refused(config, forget, wrong),
        "concept unlearning: remain pair 1: the image must be float32 [3, h, w] in the UNet's input space (pixels "
        "in [-1, 1]), found uint8 [3, 8, 8]");

    QVERIFY(!unlearn::conceptMethodFromName("salun-x").has_value());
    QVERIFY(!unlearn::parameterGroupFromName("attn").has_value());

    // A model that computes in half precision is not trained.
    models::sd::SdLoadOptions half;
    half.dtype = torch::kBFloat16;
    const StableDiffusion bf16 = loadStableDiffusion(m_dir / "pixel", half);
    LETHE_COMPARE_STR(
        errorMessage([&] { ConceptSession session(bf16, forget, remain, tinyConfig(ConceptMethod::RGD)); }),
        "concept unlearning: the model computes in bfloat16; load it in float32 to train it");
}

void TestConceptUnlearn::nonFiniteLossRollsBackAndFails()
{
    // Gradient ascent at an absurd rate: step 1 throws the weights far out, and a later step is not finite. The
    // run rolls back to its last snapshot (the start) and fails, as a class run does.
    ConceptConfig config = tinyConfig(ConceptMethod::GA);
    config.lr = 1e30;
    config.alpha = 1e30;
    ConceptSession session(*m_pixel, pairs("forget", 3, 1), pairs("remain", 4, 2), config);
    const auto base = parametersOf(m_pixel->unet());
    const unlearn::RunResult result = runToEnd(session);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Failed);
    QCOMPARE(result.rollbacks, 1);
    QVERIFY2(result.message.find("; weights restored to step 0") != std::string::npos, result.message.c_str());
    QVERIFY2(result.message.rfind("non-finite", 0) == 0, result.message.c_str());
    QCOMPARE(session.stepsDone(), std::int64_t { 0 });
    QVERIFY(sameParameters(parametersOf(session.model().unet()), base));
}

void TestConceptUnlearn::presetsAndTheModelsRecommendedOne()
{
    QCOMPARE(unlearn::conceptPresetNames(), (std::vector<std::string> { "sd", "fmnist-t2i", "esd-paper" }));
    QCOMPARE(io::configToJson(unlearn::conceptPreset("sd")), io::configToJson(ConceptConfig {}));
    const ConceptConfig fashion = unlearn::conceptPreset("fmnist-t2i");
    QCOMPARE(fashion.alpha, 0.1);
    QCOMPARE(fashion.lambda, 10.0);
    QCOMPARE(fashion.steps, std::int64_t { 150 });
    LETHE_COMPARE_STR(errorMessage([] { unlearn::conceptPreset("sdxl"); }),
        "unknown concept preset 'sdxl' (valid: sd, fmnist-t2i, esd-paper)");

    // The config file round trip, and its refusals, through the one field table.
    QCOMPARE(io::configToJson(io::configFromJson<unlearn::ConceptConfig>(io::configToJson(fashion))),
        io::configToJson(fashion));
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<unlearn::ConceptConfig>({ { "parameters", "attn" } });
    }),
        "concept config: parameters must be 'all', 'cross-attn', 'no-cross-attn' or 'esd-u', found \"attn\"");
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<unlearn::ConceptConfig>({ { "lamda", 1 } });
    }),
        "concept config: unknown key 'lamda'");

    // A model names its own preset in lethe-manifest.json; the tiny model names none.
    QVERIFY(!unlearn::recommendedConceptPreset(m_dir / "pixel").has_value());
    const std::filesystem::path named = m_dir / "named";
    std::filesystem::create_directories(named);
    test::writeBytes(named / "lethe-manifest.json", R"({"recommended_preset": "fmnist-t2i"})");
    QCOMPARE(unlearn::recommendedConceptPreset(named), std::optional<std::string>("fmnist-t2i"));
    test::writeBytes(named / "lethe-manifest.json", R"({"recommended_preset": "fast"})");
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::recommendedConceptPreset(named); }),
        (named / "lethe-manifest.json").string()
            + ": key 'recommended_preset': unknown concept preset 'fast' (valid: sd, fmnist-t2i, esd-paper)");
    // The built-in model recommends the preset tuned for it.
    QCOMPARE(unlearn::recommendedConceptPreset(resourceFile(std::string("models/") + kBuiltinT2iModel)),
        std::optional<std::string>("fmnist-t2i"));
}

QTEST_APPLESS_MAIN(TestConceptUnlearn)
#include "test_concept_unlearn.moc"
