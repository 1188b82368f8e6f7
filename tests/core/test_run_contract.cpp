// The run contract: the same tests against a class run (UnlearnSession on a tiny EDM model) and a concept run
// (ConceptSession on a tiny Stable Diffusion), through UnlearnRun alone: pause and resume, live λ at the next
// step, stop within one step, a NaN rolled back to finite weights, previews on schedule and the same seed giving
// the same steps.csv.
#include "core/data/image_set.h"
#include "core/diffusion/denoiser.h"
#include "core/models/edm/edm_config.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/concept_session.h"
#include "core/unlearn/run_record.h"
#include "core/unlearn/session.h"
#include "run_fixtures.h"
#include "test_support.h"
#include "tiny_sd.h"

#include <torch/torch.h>

#include <QtTest>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <thread>

using namespace lethe;

namespace {

/// What the tests change in either kind of run.
struct Settings {
    unlearn::NanPolicy onNan = unlearn::NanPolicy::Stop;
    std::int64_t previewEvery = 0;
};

/// A run of either kind, seen through the contract, with a handle on the weights it changes.
struct ContractRun {
    std::unique_ptr<unlearn::UnlearnRun> run;
    std::function<std::vector<torch::Tensor>()> parameters; ///< The live parameters of the network being changed.
    std::function<double()> lambda; ///< The config's λ with the live changes so far.
};

ContractRun classRun(const Settings& settings)
{
    unlearn::RunConfig config = test::tinyClassConfig();
    config.forgetClass = 1;
    config.previewSeeds = { 0 };
    config.previewSamplerSteps = 2;
    config.onNan = settings.onNan;
    config.previewEvery = settings.previewEvery;
    auto* session = new unlearn::UnlearnSession(test::tinyClassModel(), test::tinyClassSet(), config, torch::kCPU);
    ContractRun out;
    out.run.reset(session);
    unlearn::UnlearnSession* raw = session;
    out.parameters = [raw] { return raw->model()->parameters(); };
    out.lambda = [raw] { return raw->config().lambda; };
    return out;
}

ContractRun conceptRun(const models::sd::StableDiffusion& sd, const Settings& settings)
{
    unlearn::ConceptConfig config = test::tinyConceptConfig();
    config.forgetConcept = "forget";
    config.steps = 6;
    config.snapshotEvery = 2;
    config.onNan = settings.onNan;
    config.previewEvery = settings.previewEvery;
    auto* session = new unlearn::ConceptSession(
        sd, test::conceptPairs("forget", 4, 1), test::conceptPairs("remain", 5, 2), config);
    diffusion::TextToImageRequest preview;
    preview.prompts = { "forget a" };
    preview.seeds = { 3 };
    preview.height = 8;
    preview.width = 8;
    preview.sampler.steps = 2;
    session->setPreview(preview);
    ContractRun out;
    out.run.reset(session);
    out.parameters = [session] { return session->model().unet()->parameters(); };
    out.lambda = [session] { return session->config().lambda; };
    return out;
}

bool allFinite(const std::vector<torch::Tensor>& tensors)
{
    for (const auto& t : tensors)
        if (!torch::isfinite(t).all().item<bool>())
            return false;
    return true;
}

} // namespace

class TestRunContract : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void initTestCase_data();
    void liveLambdaTakesEffectAtTheNextStep();
    void pauseHoldsTheLoopUntilResumed();
    void stopEndsWithinOneStep();
    void nanRollsBackToFiniteWeights();
    void nanWithHalveLrGoesOn();
    void previewsComeOnSchedule();
    void sameSeedGivesIdenticalStepsCsv();

private:
    ContractRun make(const Settings& settings = {});

    test::ScratchDir m_dir;
    std::optional<models::sd::StableDiffusion> m_sd;
};

void TestRunContract::initTestCase()
{
    torch::set_num_threads(1);
    test::writeTinyDiffusersFolder(m_dir / "pixel", false);
    m_sd.emplace(models::sd::loadStableDiffusion(m_dir / "pixel", {}));
}

/// Every test runs once per kind of run.
void TestRunContract::initTestCase_data()
{
    QTest::addColumn<QString>("kind");
    QTest::newRow("class") << "class";
    QTest::newRow("concept") << "concept";
}

ContractRun TestRunContract::make(const Settings& settings)
{
    QFETCH_GLOBAL(QString, kind);
    return kind == QLatin1String("class") ? classRun(settings) : conceptRun(*m_sd, settings);
}

void TestRunContract::liveLambdaTakesEffectAtTheNextStep()
{
    ContractRun r = make();
    const double initial = r.lambda();
    QVERIFY(initial != 2.5);
    test::RunRecorder recorder;
    unlearn::RunControl control;
    recorder.onStepHook = [&](const unlearn::StepReport& s) {
        if (s.step == 2) {
            control.setLambda(2.5);
            control.setAlpha(0.05);
            control.setLr(5e-4);
        }
        if (s.step == 4)
            control.setLambda(-1); // Invalid: ignored with a warning, the run goes on.
    };
    const auto result = r.run->run(recorder, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    QCOMPARE(recorder.steps.size(), std::size_t { 6 });
    QCOMPARE(recorder.steps[1].lambda, initial); // The change waits for the next step.
    QCOMPARE(recorder.steps[2].lambda, 2.5);
    QCOMPARE(recorder.steps[2].alpha, 0.05);
    QCOMPARE(recorder.steps[2].lr, 5e-4);
    QCOMPARE(recorder.steps[5].lambda, 2.5);
    QCOMPARE(r.lambda(), 2.5);
}

void TestRunContract::pauseHoldsTheLoopUntilResumed()
{
    ContractRun r = make();
    test::RunRecorder recorder;
    unlearn::RunControl control;
    std::thread resumer;
    std::chrono::steady_clock::time_point resumedAt;
    std::chrono::steady_clock::time_point step4At;
    std::atomic<bool> stillPaused { false };
    std::atomic<bool> heldWhilePaused { false };
    recorder.onStepHook = [&](const unlearn::StepReport& s) {
        QVERIFY(!control.holding()); // Only the wait between steps holds.
        if (s.step == 3) {
            control.pause();
            resumer = std::thread([&] {
                // Until the run's thread waits (a step under a sanitizer may take long), then a while longer.
                while (!control.holding())
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                stillPaused = control.paused();
                heldWhilePaused = control.holding();
                resumedAt = std::chrono::steady_clock::now();
                control.resume();
            });
        }
        if (s.step == 4)
            step4At = std::chrono::steady_clock::now();
    };
    const auto result = r.run->run(recorder, control);
    resumer.join();
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    QCOMPARE(recorder.steps.size(), std::size_t { 6 });
    QVERIFY(stillPaused.load());
    QVERIFY(heldWhilePaused.load());
    QVERIFY(!control.holding());
    QVERIFY(step4At > resumedAt); // Step 4 ran only after the resume.
}

void TestRunContract::stopEndsWithinOneStep()
{
    ContractRun r = make();
    test::RunRecorder recorder;
    unlearn::RunControl control;
    recorder.onStepHook = [&](const unlearn::StepReport& s) {
        if (s.step == 2)
            control.requestStop();
    };
    const auto result = r.run->run(recorder, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Stopped);
    QCOMPARE(result.steps, std::int64_t { 2 });
    QCOMPARE(recorder.steps.size(), std::size_t { 2 });
    QCOMPARE(r.run->stepsDone(), std::int64_t { 2 });

    // A stopped run goes on from where it stopped when run again.
    unlearn::RunControl again;
    test::RunRecorder rest;
    QCOMPARE(r.run->run(rest, again).steps, std::int64_t { 6 });
    QCOMPARE(rest.steps.front().step, std::int64_t { 3 });

    // Stopping a paused run wakes it.
    ContractRun paused = make();
    unlearn::RunControl pausedControl;
    pausedControl.pause();
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        pausedControl.requestStop();
    });
    test::RunRecorder idle;
    const auto stopped = paused.run->run(idle, pausedControl);
    stopper.join();
    QCOMPARE(stopped.outcome, unlearn::RunOutcome::Stopped);
    QCOMPARE(stopped.steps, std::int64_t { 0 });
}

void TestRunContract::nanRollsBackToFiniteWeights()
{
    ContractRun r = make();
    test::RunRecorder recorder;
    unlearn::RunControl control;
    std::vector<torch::Tensor> atSnapshot;
    recorder.onStepHook = [&](const unlearn::StepReport& s) {
        if (s.step == 2)
            atSnapshot = test::copiesOf(r.parameters());
        if (s.step == 3) {
            torch::NoGradGuard noGrad;
            r.parameters().front().fill_(NAN);
        }
    };
    const auto result = r.run->run(recorder, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Failed);
    QCOMPARE(result.rollbacks, 1);
    QCOMPARE(recorder.rollbacks, (std::vector<std::pair<std::int64_t, std::int64_t>> { { 4, 2 } }));
    QCOMPARE(recorder.failures.size(), std::size_t { 1 });
    QVERIFY2(recorder.failures[0].find("at step 4; weights restored to step 2") != std::string::npos,
        recorder.failures[0].c_str());
    QCOMPARE(result.steps, std::int64_t { 2 });
    QVERIFY(allFinite(r.parameters()));
    QVERIFY(test::sameTensors(test::copiesOf(r.parameters()), atSnapshot));
}

void TestRunContract::nanWithHalveLrGoesOn()
{
    ContractRun r = make({ unlearn::NanPolicy::HalveLr, 0 });
    test::RunRecorder recorder;
    unlearn::RunControl control;
    bool injected = false;
    recorder.onStepHook = [&](const unlearn::StepReport& s) {
        if (s.step == 3 && !injected) {
            injected = true;
            torch::NoGradGuard noGrad;
            r.parameters().front().fill_(NAN);
        }
    };
    const auto result = r.run->run(recorder, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    QCOMPARE(result.steps, std::int64_t { 6 });
    QCOMPARE(result.rollbacks, 1);
    QCOMPARE(recorder.steps.back().lr, recorder.steps.front().lr / 2);
    QCOMPARE(recorder.steps[2].step, std::int64_t { 3 }); // Steps 3 and 4 were done again after the rollback to 2.
    QCOMPARE(recorder.steps[3].step, std::int64_t { 3 });
    QVERIFY(allFinite(r.parameters()));
}

void TestRunContract::previewsComeOnSchedule()
{
    ContractRun r = make({ unlearn::NanPolicy::Stop, 2 });
    test::RunRecorder recorder;
    unlearn::RunControl control;
    QCOMPARE(r.run->run(recorder, control).outcome, unlearn::RunOutcome::Finished);
    // Every second step but the last (the front end draws the final "after" itself).
    QCOMPARE(recorder.previews, (std::vector<std::int64_t> { 2, 4 }));
    QVERIFY(recorder.failures.empty());
    QCOMPARE(recorder.snapshots, (std::vector<std::int64_t> { 2, 4, 6 }));
    const std::optional<torch::Tensor> images = r.run->preview();
    QVERIFY(images.has_value());
    QCOMPARE(images->scalar_type(), torch::kUInt8);
}

void TestRunContract::sameSeedGivesIdenticalStepsCsv()
{
    std::vector<std::string> tables;
    std::vector<std::vector<torch::Tensor>> weights;
    for (int i = 0; i < 2; ++i) {
        ContractRun r = make();
        test::RunRecorder recorder;
        unlearn::RunControl control;
        const auto result = r.run->run(recorder, control);
        QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
        QCOMPARE(recorder.finished, 1);
        for (auto& step : recorder.steps)
            step.seconds = 0; // Wall time is the one column that may differ.
        tables.push_back(unlearn::stepsCsv(recorder.steps));
        weights.push_back(test::copiesOf(r.parameters()));
    }
    QCOMPARE(std::count(tables[0].begin(), tables[0].end(), '\n'), std::ptrdiff_t { 7 });
    LETHE_COMPARE_STR(tables[0], tables[1]);
    QVERIFY(test::sameTensors(weights[0], weights[1]));
}

QTEST_APPLESS_MAIN(TestRunContract)
#include "test_run_contract.moc"
