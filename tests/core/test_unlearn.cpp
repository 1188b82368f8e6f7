// The unlearning engine: the restricted-gradient projection, run configs, and the session loop with its
// live control, rollback and determinism.
#include "core/data/image_set.h"
#include "core/error.h"
#include "core/imaging/grid.h"
#include "core/io/safetensors.h"
#include "core/models/edm/edm_config.h"
#include "core/nn/state_dict.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"
#include "core/unlearn/restricted_gradient.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/run_record.h"
#include "core/unlearn/session.h"

#include "run_fixtures.h"
#include "test_support.h"

#include <torch/torch.h>

#include <QtTest>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

using namespace lethe;
using lethe::test::errorMessage;

namespace {

using Tensors = std::vector<torch::Tensor>;

torch::Tensor vec(std::initializer_list<double> values)
{
    return torch::tensor(std::vector<double>(values), torch::kFloat32);
}

double dotOf(const Tensors& a, const Tensors& b)
{
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        s += a[i].to(torch::kFloat64).mul(b[i].to(torch::kFloat64)).sum().item<double>();
    return s;
}

Tensors clones(const Tensors& tensors)
{
    Tensors out;
    for (const auto& t : tensors)
        out.push_back(t.clone());
    return out;
}

/// a' + λd' written out from docs/method.md §1 on whole vectors.
Tensors expectedCombination(const Tensors& a, const Tensors& d, double lambda, bool restrict)
{
    const double s = dotOf(a, d);
    const double aa = dotOf(a, a);
    const double dd = dotOf(d, d);
    Tensors out;
    for (std::size_t i = 0; i < a.size(); ++i) {
        torch::Tensor ap = a[i].to(torch::kFloat64);
        torch::Tensor dp = d[i].to(torch::kFloat64);
        if (restrict && s < 0) {
            ap = a[i].to(torch::kFloat64) - (s / dd) * d[i].to(torch::kFloat64);
            dp = d[i].to(torch::kFloat64) - (s / aa) * a[i].to(torch::kFloat64);
        }
        out.push_back((ap + lambda * dp).to(torch::kFloat32));
    }
    return out;
}

void compareTensors(const Tensors& actual, const Tensors& expected)
{
    QCOMPARE(actual.size(), expected.size());
    for (std::size_t i = 0; i < actual.size(); ++i)
        QVERIFY2(torch::allclose(actual[i], expected[i], 1e-5, 1e-6),
            (c10::str(actual[i]) + " vs " + c10::str(expected[i])).c_str());
}

data::ImageSet tinySet()
{
    return test::tinyClassSet();
}

models::EDMPrecond tinyModel(std::int64_t augmentDim = 0)
{
    return test::tinyClassModel(augmentDim);
}

/// `config` with `forgetClass` as its target.
unlearn::RunConfig withClass(unlearn::RunConfig config, int forgetClass)
{
    config.forgetClass = forgetClass;
    return config;
}

unlearn::RunConfig tinyConfig(unlearn::Method method = unlearn::Method::RGD)
{
    return test::tinyClassConfig(method);
}

using Recorder = test::RunRecorder;

std::vector<torch::Tensor> weightsOf(const models::EDMPrecond& net)
{
    return test::copiesOf(net->parameters());
}

bool sameWeights(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b)
{
    return test::sameTensors(a, b);
}

} // namespace

class TestUnlearn : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(1); }
    void conflictingGradientsAreProjected();
    void agreeingGradientsAreAddedUnchanged();
    void projectionRemovesTheConflict();
    void innerProductIsGlobalNotPerLayer();
    void gradDiffNeverProjects();
    void missingGradientsCountAsZero();
    void sanitizeReplacesNanAndInf();
    void runConfigJsonRoundTripsAndPresets();
    void runConfigRejectsBadValues_data();
    void runConfigRejectsBadValues();
    void sameSeedGivesIdenticalRuns();
    void nominalBatchAveragingDividesByTheBatchCount();
    void allowTf32IsTheRunsSetting();
    void augmentationOnlyForModelsThatTakeItsLabels();
    void resumedRunMatchesTheUninterruptedOne_data();
    void resumedRunMatchesTheUninterruptedOne();
    void trainablePatternLimitsWhatChanges();
    void gaIgnoresLambdaAndSalUnMasks();
    void sessionRejectsBadInputs();
    void stepsCsvRowsMatchTheHeader();
    void unlearnedModelLoadsBackWithProvenance();
    void compareGridFramesTheForgottenRow();
};

void TestUnlearn::conflictingGradientsAreProjected()
{
    const Tensors a = { vec({ 1.0, 0.0 }), vec({ 0.5 }) };
    const Tensors d = { vec({ -1.0, 1.0 }), vec({ -0.5 }) };
    Tensors out = clones(d);
    const unlearn::GradientStats stats = unlearn::combineRestricted(a, out, 5.0, true);
    QVERIFY(stats.projected);
    QCOMPARE(stats.dot, -1.25);
    QCOMPARE(stats.ascentNorm, std::sqrt(1.25));
    QCOMPARE(stats.remainNorm, std::sqrt(2.25));
    QVERIFY(std::abs(stats.cosine - (-1.25 / std::sqrt(1.25 * 2.25))) < 1e-12);
    compareTensors(out, expectedCombination(a, d, 5.0, true));
    // By hand: s = −1.25, ‖a‖² = 1.25, ‖d‖² = 2.25: a' = a + (1.25/2.25)d, d' = d + a.
    compareTensors(out,
        { vec({ 1.0 - 1.25 / 2.25 + 5 * 0.0, 1.25 / 2.25 + 5 * 1.0 }), vec({ 0.5 - 0.5 * 1.25 / 2.25 + 5 * 0.0 }) });
}

void TestUnlearn::agreeingGradientsAreAddedUnchanged()
{
    const Tensors a = { vec({ 1.0, 2.0 }), vec({ 0.5 }) };
    const Tensors d = { vec({ 1.0, -0.1 }), vec({ 3.0 }) };
    Tensors out = clones(d);
    const auto stats = unlearn::combineRestricted(a, out, 2.0, true);
    QVERIFY(!stats.projected);
    QVERIFY(stats.dot > 0);
    compareTensors(out, { vec({ 3.0, 1.8 }), vec({ 6.5 }) });
}

void TestUnlearn::projectionRemovesTheConflict()
{
    torch::manual_seed(1);
    const Tensors a = { torch::randn({ 4, 3 }), torch::randn({ 5 }) };
    const Tensors d = { -a[0] + 0.3 * torch::randn({ 4, 3 }), -a[1] + 0.3 * torch::randn({ 5 }) };
    QVERIFY(dotOf(a, d) < 0);
    // With λ = 0 the result is a' alone, which is orthogonal to d.
    Tensors onlyA = clones(d);
    unlearn::combineRestricted(a, onlyA, 0.0, true);
    QVERIFY(std::abs(dotOf(onlyA, d)) < 1e-4);
    // d' = (result(λ=1) − a') is orthogonal to a.
    Tensors both = clones(d);
    unlearn::combineRestricted(a, both, 1.0, true);
    Tensors dPrime;
    for (std::size_t i = 0; i < both.size(); ++i)
        dPrime.push_back(both[i] - onlyA[i]);
    QVERIFY(std::abs(dotOf(dPrime, a)) < 1e-4);
    compareTensors(both, expectedCombination(a, d, 1.0, true));
}

void TestUnlearn::innerProductIsGlobalNotPerLayer()
{
    // Layer 0 conflicts (−1), layer 1 agrees more (+3): the global product is +2, so nothing is projected.
    const Tensors a = { vec({ 1.0 }), vec({ 1.0 }) };
    const Tensors d = { vec({ -1.0 }), vec({ 3.0 }) };
    Tensors out = clones(d);
    const auto stats = unlearn::combineRestricted(a, out, 1.0, true);
    QVERIFY(!stats.projected);
    QCOMPARE(stats.dot, 2.0);
    compareTensors(out, { vec({ 0.0 }), vec({ 4.0 }) });
}

void TestUnlearn::gradDiffNeverProjects()
{
    const Tensors a = { vec({ 1.0, 0.0 }) };
    const Tensors d = { vec({ -1.0, 1.0 }) };
    Tensors out = clones(d);
    const auto stats = unlearn::combineRestricted(a, out, 5.0, false);
    QVERIFY(!stats.projected);
    QVERIFY(stats.dot < 0);
    compareTensors(out, { vec({ -4.0, 5.0 }) });
}

void TestUnlearn::missingGradientsCountAsZero()
{
    const Tensors a = { vec({ 1.0, 1.0 }), torch::Tensor() };
    Tensors d = { torch::Tensor(), vec({ 2.0 }) };
    const auto stats = unlearn::combineRestricted(a, d, 3.0, true);
    QCOMPARE(stats.dot, 0.0);
    QVERIFY(d[0].defined());
    compareTensors(d, { vec({ 1.0, 1.0 }), vec({ 6.0 }) });
    Tensors shortList = { vec({ 1.0 }) };
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::combineRestricted(a, shortList, 1.0, true); }),
        "combineRestricted: 2 forget gradients but 1 remain gradients");
}

void TestUnlearn::sanitizeReplacesNanAndInf()
{
    torch::Tensor g = torch::tensor({ NAN, INFINITY, -INFINITY, 2.0f });
    unlearn::sanitizeGradient(g);
    QVERIFY(torch::equal(g, torch::tensor({ 0.0f, 1e3f, -1e3f, 2.0f })));
}

void TestUnlearn::runConfigJsonRoundTripsAndPresets()
{
    unlearn::RunConfig config = tinyConfig(unlearn::Method::SalUn);
    config.trainable = "^model\\.dec\\.";
    config.previewSeeds = { 4, 9 };
    config.onNan = unlearn::NanPolicy::HalveLr;
    const nlohmann::json json = io::configToJson(config);
    QCOMPARE(json.at("method").get<std::string>(), std::string("salun"));
    QCOMPARE(json.at("on_nan").get<std::string>(), std::string("halve-lr"));
    QCOMPARE(io::configToJson(io::configFromJson<unlearn::RunConfig>(json)), json);
    QCOMPARE(io::configToJson(io::configFromJson<unlearn::RunConfig>(nlohmann::json::object())),
        io::configToJson(unlearn::RunConfig {}));

    const unlearn::RunConfig paper = unlearn::runPreset("paper");
    QCOMPARE(paper.alpha, 0.1);
    QCOMPARE(paper.lambda, 5.0);
    QCOMPARE(paper.lr, 1e-5);
    QCOMPARE(paper.forgetBatch, std::int64_t { 64 });
    QCOMPARE(paper.steps, std::int64_t { 782 });
    QCOMPARE(paper.remainPerClass, std::int64_t { 50 });
    QCOMPARE(io::configToJson(unlearn::runPreset("cpu-fast")), io::configToJson(unlearn::RunConfig {}));
    LETHE_COMPARE_STR(
        errorMessage([] { unlearn::runPreset("fast"); }), "unknown run preset 'fast' (valid: cpu-fast, paper)");
    QCOMPARE(unlearn::methodFromName("RGD"), unlearn::Method::RGD);
    LETHE_COMPARE_STR(errorMessage([] { unlearn::methodFromName("esd"); }),
        "unknown unlearning method 'esd' (valid: ga, graddiff, rg, rgd, salun)");
}

void TestUnlearn::runConfigRejectsBadValues_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown key") << R"({"alfa": 0.1})"
                                 << "run config: unknown key 'alfa'";
    QTest::newRow("string for number") << R"({"alpha": "0.1"})"
                                       << "run config: key 'alpha' has the wrong type (string)";
    QTest::newRow("float for int") << R"({"steps": 2.5})"
                                   << "run config: key 'steps' has the wrong type (number)";
    QTest::newRow("bool for int") << R"({"steps": true})"
                                  << "run config: key 'steps' has the wrong type (boolean)";
    QTest::newRow("method") << R"({"method": "esd"})"
                            << "run config: method must be 'ga', 'graddiff', 'rg', 'rgd' or 'salun', found \"esd\"";
    QTest::newRow("forget_class") << R"({"forget_class": "sneaker"})"
                                  << "run config: key 'forget_class' has the wrong type (string)";
    QTest::newRow("on_nan") << R"({"on_nan": "ignore"})"
                            << "run config: on_nan must be 'stop' or 'halve-lr', found \"ignore\"";
    QTest::newRow("not an object") << "[]"
                                   << "run config: expected a JSON object, found array";
}

void TestUnlearn::runConfigRejectsBadValues()
{
    QFETCH(QString, json);
    QFETCH(QString, message);
    LETHE_COMPARE_STR(
        errorMessage([&] { io::configFromJson<unlearn::RunConfig>(nlohmann::json::parse(json.toStdString())); }),
        message.toStdString());
    unlearn::RunConfig config;
    config.alpha = 0;
    LETHE_COMPARE_STR(errorMessage([&] { config.validate(); }), "run config: alpha must be positive, found 0");
    config = {};
    config.lambda = -1;
    LETHE_COMPARE_STR(
        errorMessage([&] { config.validate(); }), "run config: lambda must be zero or positive, found -1");
    config = {};
    config.saliencyFraction = 1.5;
    LETHE_COMPARE_STR(
        errorMessage([&] { config.validate(); }), "run config: saliency_fraction must be in (0, 1], found 1.5");
}

void TestUnlearn::sameSeedGivesIdenticalRuns()
{
    const data::ImageSet set = tinySet();
    const models::EDMPrecond base = tinyModel();
    const auto before = weightsOf(base);
    std::vector<std::vector<unlearn::StepReport>> reports;
    std::vector<std::vector<torch::Tensor>> weights;
    for (int run = 0; run < 2; ++run) {
        unlearn::UnlearnSession session(base, set, withClass(tinyConfig(), 1), torch::kCPU);
        Recorder recorder;
        unlearn::RunControl control;
        const auto result = session.run(recorder, control);
        QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
        QCOMPARE(result.steps, std::int64_t { 6 });
        QCOMPARE(recorder.finished, 1);
        QCOMPARE(recorder.snapshots, (std::vector<std::int64_t> { 2, 4, 6 }));
        reports.push_back(recorder.steps);
        weights.push_back(weightsOf(session.model()));
        QCOMPARE(session.remainIndices().size(), std::size_t { 10 });
        QCOMPARE(session.forgetIndices().size(), std::size_t { 10 });
    }
    QVERIFY(sameWeights(weights[0], weights[1]));
    QVERIFY(!sameWeights(weights[0], before));
    QVERIFY(sameWeights(weightsOf(base), before)); // The base model is never modified.
    QCOMPARE(reports[0].size(), std::size_t { 6 });
    for (std::size_t i = 0; i < 6; ++i) {
        const auto& a = reports[0][i];
        const auto& b = reports[1][i];
        QCOMPARE(a.step, static_cast<std::int64_t>(i + 1));
        QCOMPARE(a.forgetLoss, b.forgetLoss);
        QCOMPARE(a.remainLoss, b.remainLoss);
        QCOMPARE(a.cosine, b.cosine);
        QCOMPARE(a.projected, b.projected);
        QVERIFY(std::isfinite(a.forgetLoss) && a.forgetLoss > 0);
        QVERIFY(a.ascentNorm > 0 && a.remainNorm > 0);
        QVERIFY(a.projected == (a.cosine < 0));
    }
}

void TestUnlearn::nominalBatchAveragingDividesByTheBatchCount()
{
    // 10 remain images in batches of 4 (4, 4, 2): the paper's Σ / (4 · 3) is 10/12 of the exact mean, for the loss
    // and the gradient alike; the forget side does not change.
    const data::ImageSet set = tinySet();
    const models::EDMPrecond base = tinyModel();
    std::vector<unlearn::StepReport> first;
    for (const auto averaging : { unlearn::RemainAveraging::Mean, unlearn::RemainAveraging::NominalBatch }) {
        unlearn::RunConfig config = withClass(tinyConfig(), 1);
        config.steps = 1;
        config.remainAveraging = averaging;
        unlearn::UnlearnSession session(base, set, config, torch::kCPU);
        QCOMPARE(session.remainIndices().size(), std::size_t { 10 });
        Recorder recorder;
        unlearn::RunControl control;
        QCOMPARE(session.run(recorder, control).outcome, unlearn::RunOutcome::Finished);
        first.push_back(recorder.steps.at(0));
    }
    QCOMPARE(first[1].forgetLoss, first[0].forgetLoss);
    QVERIFY(std::abs(first[1].remainLoss - first[0].remainLoss * 10.0 / 12.0) < 1e-6 * first[0].remainLoss);
    QVERIFY(std::abs(first[1].remainNorm - first[0].remainNorm * 10.0 / 12.0) < 1e-5 * first[0].remainNorm);

    QCOMPARE(io::configToJson(unlearn::runPreset("paper")).at("remain_averaging").get<std::string>(),
        std::string("nominal-batch"));
    QCOMPARE(io::configToJson(unlearn::RunConfig {}).at("remain_averaging").get<std::string>(), std::string("mean"));
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<unlearn::RunConfig>(nlohmann::json { { "remain_averaging", "median" } });
    }),
        "run config: remain_averaging must be 'mean' or 'nominal-batch', found \"median\"");
}

void TestUnlearn::allowTf32IsTheRunsSetting()
{
    // The run sets the process's TF32 permission from its config (a no-op for the arithmetic on a CPU).
    for (const bool allow : { true, false }) {
        unlearn::RunConfig config = withClass(tinyConfig(unlearn::Method::GA), 1);
        config.steps = 1;
        config.allowTf32 = allow;
        unlearn::UnlearnSession session(tinyModel(), tinySet(), config, torch::kCPU);
        Recorder recorder;
        unlearn::RunControl control;
        session.run(recorder, control);
        QCOMPARE(tf32Allowed(), allow);
        QCOMPARE(io::configToJson(config).at("allow_tf32").get<bool>(), allow);
    }
}

void TestUnlearn::augmentationOnlyForModelsThatTakeItsLabels()
{
    const data::ImageSet set = tinySet();
    const auto firstStep = [&](const models::EDMPrecond& base, double augmentP, double* configured = nullptr) {
        unlearn::RunConfig config = withClass(tinyConfig(), 1);
        config.steps = 1;
        config.augmentP = augmentP;
        unlearn::UnlearnSession session(base, set, config, torch::kCPU);
        if (configured)
            *configured = session.config().augmentP;
        Recorder recorder;
        unlearn::RunControl control;
        session.run(recorder, control);
        return recorder.steps.at(0);
    };
    // A model with EDM's 9 augmentation labels: p 1 augments (other losses than p 0), the same seed twice alike.
    const models::EDMPrecond augmentable = tinyModel(9);
    const unlearn::StepReport plain = firstStep(augmentable, 0.0);
    const unlearn::StepReport augmented = firstStep(augmentable, 1.0);
    QVERIFY(augmented.forgetLoss != plain.forgetLoss);
    QVERIFY(augmented.remainLoss != plain.remainLoss);
    QCOMPARE(firstStep(augmentable, 1.0).forgetLoss, augmented.forgetLoss);

    // A model without augmentation labels never gets it: the run turns augment_p off and steps as without it.
    double configured = -1;
    const unlearn::StepReport withoutLabels = firstStep(tinyModel(), 0.12, &configured);
    QCOMPARE(configured, 0.0);
    QCOMPARE(withoutLabels.forgetLoss, firstStep(tinyModel(), 0.0).forgetLoss);

    // Any other label count is refused.
    LETHE_COMPARE_STR(errorMessage([&] { firstStep(tinyModel(4), 0.12); }),
        "run config: augment_p needs a model with 9 augmentation labels (EDM's pipeline at its CIFAR-10 settings); "
        "this one has 4");
    unlearn::RunConfig bad;
    bad.augmentP = 1.5;
    LETHE_COMPARE_STR(errorMessage([&] { bad.validate(); }), "run config: augment_p must be in [0, 1], found 1.5");
    QCOMPARE(unlearn::runPreset("paper").augmentP, 0.12);
}

void TestUnlearn::resumedRunMatchesTheUninterruptedOne_data()
{
    QTest::addColumn<int>("method");
    QTest::newRow("RGD") << int(unlearn::Method::RGD);
    QTest::newRow("SalUn") << int(unlearn::Method::SalUn);
}

void TestUnlearn::resumedRunMatchesTheUninterruptedOne()
{
    // A run stopped after step 3 left the checkpoint of its step-2 snapshot (with λ changed live before step 2);
    // a new session resumes from it and ends with the weights and losses of the run that was never stopped.
    QFETCH(int, method);
    test::ScratchDir dir;
    const data::ImageSet set = tinySet();
    const models::EDMPrecond base = tinyModel();
    const auto config = tinyConfig(static_cast<unlearn::Method>(method));
    const auto liveLambda = [](unlearn::RunControl& control) {
        return [&control](const unlearn::StepReport& r) {
            if (r.step == 1)
                control.setLambda(2.5);
        };
    };

    unlearn::UnlearnSession straight(base, set, withClass(config, 1), torch::kCPU);
    Recorder all;
    unlearn::RunControl straightControl;
    all.onStepHook = liveLambda(straightControl);
    QCOMPARE(straight.run(all, straightControl).steps, std::int64_t { 6 });

    const auto checkpoint = dir / "checkpoint.safetensors";
    {
        unlearn::UnlearnSession first(base, set, withClass(config, 1), torch::kCPU);
        struct Writer : Recorder {
            unlearn::UnlearnSession* session = nullptr;
            std::filesystem::path path;
            void onSnapshot(std::int64_t step) override
            {
                Recorder::onSnapshot(step);
                session->writeCheckpoint(path);
            }
        } writer;
        writer.session = &first;
        writer.path = checkpoint;
        unlearn::RunControl control;
        writer.onStepHook = [&, lambda = liveLambda(control)](const unlearn::StepReport& r) {
            lambda(r);
            if (r.step == 3)
                control.requestStop();
        };
        QCOMPARE(first.run(writer, control).outcome, unlearn::RunOutcome::Stopped);
        QCOMPARE(writer.snapshots, (std::vector<std::int64_t> { 2 }));
    }
    // The checkpoint keeps the training seconds up to its step, and the resumed run's seconds count them: a run
    // resumed after a time limit reports the time it really took, not its last part's.
    const double secondsBefore = io::SafetensorsFile(checkpoint).tensor("run.seconds").item<double>();
    QVERIFY(secondsBefore > 0.0);
    unlearn::UnlearnSession second(base, set, withClass(config, 1), torch::kCPU);
    QCOMPARE(second.resumeFrom(checkpoint), std::int64_t { 2 });
    QCOMPARE(second.config().lambda, 2.5);
    Recorder rest;
    unlearn::RunControl control;
    const auto result = second.run(rest, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    QCOMPARE(result.steps, std::int64_t { 6 });
    QCOMPARE(rest.steps.size(), std::size_t { 4 });
    double restSeconds = 0.0;
    for (const auto& r : rest.steps)
        restSeconds += r.seconds;
    QVERIFY2(result.seconds >= secondsBefore + restSeconds,
        qPrintable(QStringLiteral("%1 s, less than %2 s before the checkpoint and %3 s of steps after it")
                       .arg(result.seconds)
                       .arg(secondsBefore)
                       .arg(restSeconds)));
    for (std::size_t i = 0; i < rest.steps.size(); ++i) {
        QCOMPARE(rest.steps[i].step, all.steps[i + 2].step);
        QCOMPARE(rest.steps[i].forgetLoss, all.steps[i + 2].forgetLoss);
        QCOMPARE(rest.steps[i].remainLoss, all.steps[i + 2].remainLoss);
    }
    QVERIFY(sameWeights(weightsOf(second.model()), weightsOf(straight.model())));

    // Another run's checkpoint is refused, naming what differs.
    auto other = config;
    other.seed = 4;
    unlearn::UnlearnSession third(base, set, withClass(other, 1), torch::kCPU);
    LETHE_COMPARE_STR(errorMessage([&] { third.resumeFrom(checkpoint); }),
        checkpoint.string() + ": __metadata__ 'seed': the checkpoint's run used 3, this run 4");
    unlearn::UnlearnSession fourth(base, set, withClass(config, 2), torch::kCPU);
    LETHE_COMPARE_STR(errorMessage([&] { fourth.resumeFrom(checkpoint); }),
        checkpoint.string() + ": __metadata__ 'forget_class': the checkpoint's run used 1, this run 2");
}

void TestUnlearn::trainablePatternLimitsWhatChanges()
{
    unlearn::RunConfig config = tinyConfig(unlearn::Method::RG);
    config.trainable = "^model\\.dec\\.";
    const models::EDMPrecond base = tinyModel();
    unlearn::UnlearnSession session(base, tinySet(), withClass(config, 0), torch::kCPU);
    for (const auto& name : session.trainableNames())
        QVERIFY2(name.rfind("model.dec.", 0) == 0, name.c_str());
    QVERIFY(!session.trainableNames().empty());
    Recorder recorder;
    unlearn::RunControl control;
    session.run(recorder, control);
    const auto baseParameters = base->named_parameters();
    int changed = 0;
    for (const auto& item : session.model()->named_parameters()) {
        const bool same = torch::equal(item.value(), baseParameters[item.key()]);
        if (item.key().rfind("model.dec.", 0) != 0)
            QVERIFY2(same, item.key().c_str());
        else if (!same)
            ++changed;
    }
    QVERIFY(changed > 0);
}

void TestUnlearn::gaIgnoresLambdaAndSalUnMasks()
{
    Recorder ga;
    unlearn::RunControl control;
    unlearn::UnlearnSession gaSession(
        tinyModel(), tinySet(), withClass(tinyConfig(unlearn::Method::GA), 0), torch::kCPU);
    gaSession.run(ga, control);
    QCOMPARE(ga.steps.front().lambda, 0.0);
    QVERIFY(!ga.steps.front().projected);

    unlearn::RunConfig config = tinyConfig(unlearn::Method::SalUn);
    config.saliencyFraction = 0.25;
    config.optimizer = "sgd"; // Plain SGD changes exactly the entries with a non-zero masked gradient.
    config.lr = 1e-6;
    const models::EDMPrecond base = tinyModel();
    unlearn::UnlearnSession salun(base, tinySet(), withClass(config, 0), torch::kCPU);
    Recorder recorder;
    unlearn::RunControl salunControl;
    QCOMPARE(salun.run(recorder, salunControl).outcome, unlearn::RunOutcome::Finished);
    std::int64_t total = 0;
    std::int64_t changed = 0;
    const auto baseParameters = base->named_parameters();
    for (const auto& item : salun.model()->named_parameters()) {
        total += item.value().numel();
        changed += item.value().ne(baseParameters[item.key()]).sum().item<std::int64_t>();
    }
    QVERIFY(changed > 0);
    QVERIFY2(changed <= total / 4 + 1, (std::to_string(changed) + " of " + std::to_string(total)).c_str());
}

void TestUnlearn::sessionRejectsBadInputs()
{
    const models::EDMPrecond base = tinyModel();
    LETHE_COMPARE_STR(
        errorMessage([&] { unlearn::UnlearnSession s(base, tinySet(), withClass(tinyConfig(), 3), torch::kCPU); }),
        "the class to forget, 3, is outside 0–2");
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::UnlearnSession s(base, tinySet(), tinyConfig(), torch::kCPU); }),
        "choose the class to forget (forget_class)");
    unlearn::RunConfig config = tinyConfig();
    config.trainable = "([";
    QVERIFY(errorMessage([&] {
        unlearn::UnlearnSession s(base, tinySet(), withClass(config, 0), torch::kCPU);
    }).rfind("run config: trainable '([' is not a valid regular expression", 0)
        == 0);
    config.trainable = "^nothing$";
    LETHE_COMPARE_STR(
        errorMessage([&] { unlearn::UnlearnSession s(base, tinySet(), withClass(config, 0), torch::kCPU); }),
        "run config: trainable '^nothing$' matches no parameter of the model");
    config = tinyConfig();
    config.remainPerClass = 11;
    LETHE_COMPARE_STR(
        errorMessage([&] { unlearn::UnlearnSession s(base, tinySet(), withClass(config, 0), torch::kCPU); }),
        "class 1 has 10 images, fewer than the 11 per class requested");
    data::ImageSet wide = tinySet();
    wide.images = torch::zeros({ 30, 1, 16, 16 }, torch::kUInt8);
    LETHE_COMPARE_STR(
        errorMessage([&] { unlearn::UnlearnSession s(base, wide, withClass(tinyConfig(), 0), torch::kCPU); }),
        "the model expects 1×8×8 images, the data set has 1×16×16");
}

void TestUnlearn::stepsCsvRowsMatchTheHeader()
{
    unlearn::StepReport r;
    r.step = 12;
    r.forgetLoss = 0.123456789012;
    r.remainLoss = 2.5;
    r.ascentNorm = 3.0;
    r.remainNorm = 4.0;
    r.cosine = -0.25;
    r.projected = true;
    r.lr = 1e-4;
    r.alpha = 0.1;
    r.lambda = 5.0;
    r.seconds = 0.75;
    const std::string row = unlearn::stepsCsvRow(r);
    LETHE_COMPARE_STR(row, "12,0.123456789,2.5,3,4,-0.25,1,0,0.0001,0.1,5,0.750000");
    r.truncated = true;
    LETHE_COMPARE_STR(unlearn::stepsCsvRow(r), "12,0.123456789,2.5,3,4,-0.25,1,1,0.0001,0.1,5,0.750000");
    const auto columns = [](const std::string& line) { return std::count(line.begin(), line.end(), ',') + 1; };
    QCOMPARE(columns(row), columns(unlearn::kStepsCsvHeader));
}

void TestUnlearn::unlearnedModelLoadsBackWithProvenance()
{
    const test::ScratchDir dir;
    const data::ImageSet set = tinySet();
    const models::EDMPrecond base = tinyModel();
    io::ModelInfo parent;
    parent.kind = "edm";
    parent.architecture = models::toJson(base->options);
    parent.classes = set.classNames;
    parent.dataset = { { "name", "tiny" }, { "resolution", 8 }, { "channels", 1 } };
    parent.provenance.method = "pretrain";
    unlearn::writeEdmModel(dir / "parent.safetensors", base, parent);
    const store::EdmModel loadedParent = store::loadEdmModel(dir / "parent.safetensors", torch::kCPU);

    unlearn::UnlearnSession session(
        loadedParent.net, set, withClass(tinyConfig(unlearn::Method::GradDiff), 2), torch::kCPU);
    Recorder recorder;
    unlearn::RunControl control;
    const auto result = session.run(recorder, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    const io::ModelInfo info = unlearn::unlearnedModelInfo(
        loadedParent.info, loadedParent.sha256, session.config(), result, "lethe-cli unlearn --forget-class 2");
    unlearn::writeEdmModel(dir / "model.safetensors", session.model(), info);

    const store::EdmModel child = store::loadEdmModel(dir / "model.safetensors", torch::kCPU);
    QVERIFY(sameWeights(weightsOf(child.net), weightsOf(session.model())));
    QVERIFY(!sameWeights(weightsOf(child.net), weightsOf(base)));
    LETHE_COMPARE_STR(child.info.provenance.parentSha256, loadedParent.sha256);
    LETHE_COMPARE_STR(child.info.provenance.method, "unlearn graddiff");
    LETHE_COMPARE_STR(child.info.provenance.command, "lethe-cli unlearn --forget-class 2");
    QCOMPARE(child.info.provenance.steps, std::int64_t { 6 });
    QCOMPARE(child.info.provenance.imagesSeen, std::int64_t { 24 });
    QCOMPARE(child.info.provenance.seed, std::uint64_t { 3 });
    QCOMPARE(child.info.provenance.hyperparameters.at("forget_class").get<int>(), 2);
    LETHE_COMPARE_STR(child.info.provenance.hyperparameters.at("forget_class_name").get<std::string>(), "bottom");
    QCOMPARE(child.info.provenance.hyperparameters.at("lambda").get<double>(), session.config().lambda);
    QCOMPARE(child.info.classes, parent.classes);
    // Tensor names are EDM's own, exactly the parent's.
    std::vector<std::string> parentNames, childNames;
    for (const auto& t : nn::stateDict(*base))
        parentNames.push_back(t.name);
    for (const auto& t : nn::stateDict(*child.net))
        childNames.push_back(t.name);
    QCOMPARE(childNames, parentNames);
}

void TestUnlearn::compareGridFramesTheForgottenRow()
{
    // 3 classes × 2 seeds of 1×4×4 images; "after" differs from "before" only in class 1.
    torch::Tensor before = torch::full({ 6, 1, 4, 4 }, 100, torch::kUInt8);
    torch::Tensor after = before.clone();
    after.narrow(0, 2, 2).fill_(130);
    const torch::Tensor grid = unlearn::compareGrid(before, after, 2, 1);
    const torch::Tensor single = imaging::makeGrid(before, 2);
    QCOMPARE(grid.dim(), 3L);
    QCOMPARE(grid.size(0), 3L); // RGB, since the frame is red.
    QCOMPARE(grid.size(1), single.size(1));
    QCOMPARE(grid.size(2), 3 * single.size(2) + 2 * 8);
    // The difference panel is black where nothing changed and bright (×4) where class 1 changed.
    const std::int64_t right = 2 * (single.size(2) + 8);
    const std::int64_t row0 = 2 + 1, row1 = 2 + 4 + 2 + 1;
    QCOMPARE(grid[1][row0][right + 3].item<int>(), 0);
    QCOMPARE(grid[1][row1][right + 3].item<int>(), 120);
    QCOMPARE(errorMessage([&] { unlearn::compareGrid(before, after.narrow(0, 0, 4), 2, 1); }),
        std::string("compareGrid: before and after must be images of the same shape"));
}

QTEST_APPLESS_MAIN(TestUnlearn)
#include "test_unlearn.moc"
