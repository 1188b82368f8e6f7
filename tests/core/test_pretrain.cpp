// EDM pretraining (checkpoints, resume, cancel), class sampling, generation evaluation and the benchmark helpers.
#include "core/data/image_set.h"
#include "core/diffusion/class_sampling.h"
#include "core/error.h"
#include "core/eval/benchmark.h"
#include "core/eval/generation_eval.h"
#include "core/io/safetensors.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_config.h"
#include "core/store/edm_model.h"
#include "core/train/edm_trainer.h"

#include "tensor_files.h"
#include "test_support.h"

#include <torch/torch.h>

#include <QtTest>

#include <atomic>
#include <cmath>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;
using lethe::test::tensorsOf;

namespace {

/// A network small enough to train a few steps in a test: 1×8×8 images, 2 classes, with dropout so that
/// reproducibility covers the global generator too.
models::EDMPrecondOptions tinyOptions()
{
    models::EDMPrecondOptions options(8, 1);
    options.label_dim(2);
    options.model().label_dim(2).model_channels(8).channel_mult({ 1, 1 }).num_blocks(1).attn_resolutions({}).dropout(
        0.2);
    return options;
}

/// 12 images of 1×8×8 in 2 classes: class 0 bright on the left, class 1 bright on the right.
data::ImageSet tinySet(std::int64_t size = 8)
{
    data::ImageSet set;
    set.images = torch::zeros({ 12, 1, size, size }, torch::kUInt8);
    set.labels = torch::zeros({ 12 }, torch::kInt64);
    for (std::int64_t i = 0; i < 12; ++i) {
        const std::int64_t label = i % 2;
        set.labels[i] = label;
        const std::int64_t half = size / 2;
        set.images[i].narrow(2, label == 0 ? 0 : half, half).fill_(200 + i);
    }
    set.classNames = { "left", "right" };
    set.source = "tiny test set";
    return set;
}

train::PretrainConfig tinyConfig(std::int64_t steps)
{
    train::PretrainConfig config;
    config.architecture = models::toJson(tinyOptions());
    config.dataset = "tiny";
    config.batch = 5; // Not a divisor of 12: batches straddle epochs.
    config.lr = 1e-3;
    config.lrRampupImages = 10;
    config.emaHalfLifeImages = 20;
    config.steps = steps;
    config.seed = 5;
    config.checkpointEvery = 3;
    return config;
}

models::ResNetClassifier tinyClassifier()
{
    torch::manual_seed(11);
    models::ResNetClassifier classifier(models::ResNetClassifierOptions(1, 2).width(4).blocks({ 1 }));
    classifier->eval();
    return classifier;
}

} // namespace

class TestPretrain : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(1); }
    void writesCheckpointsAndASelfDescribingModel();
    void resumedRunIsBitIdenticalToUninterruptedRun();
    void cancelWritesACheckpointAtTheCurrentStep();
    void resumeRefusesADifferentNetwork();
    void fineTuningStartsFromAModelsWeights();
    void rejectsDataTheNetworkCannotTake();
    void augmentsOnlyNetworksWithAugmentationLabels();
    void configJsonRoundTrips();
    void classSamplingIsClassMajorAndBatchIndependent();
    void classSamplingCancelsAndRejectsBadRequests();
    void seedListsParse();
    void seedListErrors_data();
    void seedListErrors();
    void generationEvalCountsEveryImage();
    void benchmarkRunsWarmupAndMeasuredRuns();
};

void TestPretrain::writesCheckpointsAndASelfDescribingModel()
{
    ScratchDir dir;
    const auto out = dir / "model.safetensors";
    train::EdmPretrainer trainer(tinyConfig(7), tinySet(), torch::kCPU, out, "lethe-cli pretrain --test");
    QCOMPARE(trainer.step(), std::int64_t { 0 });
    std::vector<std::int64_t> steps;
    std::vector<std::int64_t> checkpoints;
    trainer.run([&](const train::PretrainProgress& p) {
        steps.push_back(p.step);
        if (p.checkpointWritten)
            checkpoints.push_back(p.step);
        QVERIFY(std::isfinite(p.loss) && p.loss > 0);
        QCOMPARE(p.totalSteps, std::int64_t { 7 });
        if (p.step == 1)
            QCOMPARE(p.lr, 0.0); // The ramp starts from zero images seen.
        if (p.step == 3)
            QCOMPARE(p.lr, 1e-3); // 10 images seen: the ramp is over.
    });
    QCOMPARE(steps, (std::vector<std::int64_t> { 1, 2, 3, 4, 5, 6, 7 }));
    QCOMPARE(checkpoints, (std::vector<std::int64_t> { 3, 6, 7 })); // Every 3 steps, and the last step.
    QCOMPARE(trainer.step(), std::int64_t { 7 });

    const store::EdmModel model = store::loadEdmModel(out, torch::kCPU);
    QCOMPARE(model.classCount(), 2);
    QCOMPARE(model.resolution(), std::int64_t { 8 });
    QCOMPARE(model.info.kind, std::string("edm"));
    QCOMPARE(model.info.classes, (std::vector<std::string> { "left", "right" }));
    QCOMPARE(model.info.provenance.method, std::string("pretrain"));
    QCOMPARE(model.info.provenance.command, std::string("lethe-cli pretrain --test"));
    QCOMPARE(model.info.provenance.steps, std::int64_t { 7 });
    QCOMPARE(model.info.provenance.imagesSeen, std::int64_t { 35 });
    QCOMPARE(model.info.provenance.seed, std::uint64_t { 5 });
    QVERIFY(model.info.provenance.wallSeconds > 0);
    QCOMPARE(model.info.provenance.hyperparameters.at("batch").get<int>(), 5);

    // The model file holds the EMA weights, which differ from the raw weights in the state file.
    const auto state = tensorsOf(train::EdmPretrainer::statePath(out));
    QCOMPARE(state.at("train.step").item<std::int64_t>(), std::int64_t { 7 });
    const auto ema = tensorsOf(out);
    QVERIFY(torch::equal(ema.at("model.enc.8x8_conv.weight"), state.at("ema.model.enc.8x8_conv.weight")));
    QVERIFY(!torch::equal(state.at("net.model.enc.8x8_conv.weight"), state.at("ema.model.enc.8x8_conv.weight")));
}

void TestPretrain::resumedRunIsBitIdenticalToUninterruptedRun()
{
    ScratchDir dir;
    const auto straight = dir / "straight.safetensors";
    const auto resumed = dir / "resumed.safetensors";
    {
        train::EdmPretrainer trainer(tinyConfig(6), tinySet(), torch::kCPU, straight, "a");
        trainer.run({});
    }
    {
        train::EdmPretrainer first(tinyConfig(3), tinySet(), torch::kCPU, resumed, "b");
        first.run({});
    }
    {
        train::EdmPretrainer second(tinyConfig(6), tinySet(), torch::kCPU, resumed, "b");
        second.resume();
        QCOMPARE(second.step(), std::int64_t { 3 });
        second.run({});
        QCOMPARE(second.step(), std::int64_t { 6 });
    }
    // Interrupted between checkpoints (Ctrl+C at step 4 of 6, checkpoints every 3).
    const auto interrupted = dir / "interrupted.safetensors";
    {
        std::atomic<bool> cancel { false };
        train::EdmPretrainer first(tinyConfig(6), tinySet(), torch::kCPU, interrupted, "c");
        first.run([&](const train::PretrainProgress& p) { cancel.store(p.step == 4); }, &cancel);
        QCOMPARE(first.step(), std::int64_t { 4 });
        train::EdmPretrainer second(tinyConfig(6), tinySet(), torch::kCPU, interrupted, "c");
        second.resume();
        second.run({});
    }
    const auto a = tensorsOf(train::EdmPretrainer::statePath(straight));
    for (const auto& other : { resumed, interrupted }) {
        const auto b = tensorsOf(train::EdmPretrainer::statePath(other));
        QCOMPARE(a.size(), b.size());
        int compared = 0;
        for (const auto& [name, tensor] : a) {
            if (name == "train.wall_seconds")
                continue;
            QVERIFY2(b.count(name), name.c_str());
            QVERIFY2(torch::equal(tensor, b.at(name)), (other.filename().string() + " differs in " + name).c_str());
            ++compared;
        }
        QVERIFY(compared > 20);
    }
    // The model files agree too (EMA weights).
    const auto emaA = tensorsOf(straight);
    const auto emaB = tensorsOf(interrupted);
    for (const auto& [name, tensor] : emaA)
        QVERIFY2(torch::equal(tensor, emaB.at(name)), name.c_str());
}

void TestPretrain::cancelWritesACheckpointAtTheCurrentStep()
{
    ScratchDir dir;
    const auto out = dir / "model.safetensors";
    std::atomic<bool> cancel { false };
    train::EdmPretrainer trainer(tinyConfig(50), tinySet(), torch::kCPU, out, "c");
    trainer.run(
        [&](const train::PretrainProgress& p) {
            if (p.step == 2)
                cancel.store(true);
        },
        &cancel);
    QCOMPARE(trainer.step(), std::int64_t { 2 });
    QCOMPARE(tensorsOf(train::EdmPretrainer::statePath(out)).at("train.step").item<std::int64_t>(), std::int64_t { 2 });
    QCOMPARE(store::loadEdmModel(out, torch::kCPU).info.provenance.steps, std::int64_t { 2 });
}

void TestPretrain::fineTuningStartsFromAModelsWeights()
{
    ScratchDir dir;
    const auto base = dir / "base.safetensors";
    {
        train::EdmPretrainer trainer(tinyConfig(3), tinySet(), torch::kCPU, base, "base");
        trainer.run({});
    }
    // With label dropout added (a training-only key), the fine-tune starts from the base model's weights:
    // before its first step its checkpoint holds exactly them, in the network and in the EMA.
    train::PretrainConfig config = tinyConfig(1);
    config.architecture["label_dropout"] = 0.1;
    config.checkpointEvery = 0;
    const auto tuned = dir / "tuned.safetensors";
    train::EdmPretrainer trainer(config, tinySet(), torch::kCPU, tuned, "tune");
    trainer.initialiseFrom(base);
    std::atomic<bool> cancel { true };
    trainer.run({}, &cancel);
    const auto baseTensors = tensorsOf(base);
    const auto state = tensorsOf(train::EdmPretrainer::statePath(tuned));
    for (const auto& [name, tensor] : baseTensors) {
        QVERIFY2(torch::equal(state.at("net." + name), tensor), name.c_str());
        QVERIFY2(torch::equal(state.at("ema." + name), tensor), name.c_str());
    }
    const store::EdmModel tunedModel = store::loadEdmModel(tuned, torch::kCPU);
    QCOMPARE(tunedModel.info.architecture.at("label_dropout").get<double>(), 0.1);
    // Its provenance names the model it started from.
    LETHE_COMPARE_STR(tunedModel.info.provenance.parentSha256, store::loadEdmModel(base, torch::kCPU).sha256);

    // Another network is refused, naming the key that differs.
    train::PretrainConfig wider = tinyConfig(1);
    wider.architecture["model_channels"] = 16;
    train::EdmPretrainer other(wider, tinySet(), torch::kCPU, dir / "other.safetensors", "other");
    LETHE_COMPARE_STR(errorMessage([&] { other.initialiseFrom(base); }),
        base.string()
            + ": its network differs from the one to train (key 'model_channels'); fine-tuning needs the same "
              "architecture but for label_dropout and dropout");
}

void TestPretrain::resumeRefusesADifferentNetwork()
{
    ScratchDir dir;
    const auto out = dir / "model.safetensors";
    {
        train::EdmPretrainer trainer(tinyConfig(1), tinySet(), torch::kCPU, out, "d");
        trainer.run({});
    }
    train::PretrainConfig wider = tinyConfig(2);
    wider.architecture["model_channels"] = 16;
    train::EdmPretrainer trainer(wider, tinySet(), torch::kCPU, out, "d");
    LETHE_COMPARE_STR(errorMessage([&] { trainer.resume(); }),
        train::EdmPretrainer::statePath(out).string()
            + ": __metadata__ key 'architecture': the saved run used a different network than this "
              "command asks for");

    LETHE_COMPARE_STR(errorMessage([&] {
        train::EdmPretrainer fresh(tinyConfig(1), tinySet(), torch::kCPU, dir / "none.safetensors", "d");
        fresh.resume();
    }),
        (dir / "none.safetensors.state.safetensors").string() + ": cannot open for reading: No such file or directory");
}

void TestPretrain::rejectsDataTheNetworkCannotTake()
{
    ScratchDir dir;
    LETHE_COMPARE_STR(errorMessage([&] {
        train::EdmPretrainer trainer(tinyConfig(1), tinySet(16), torch::kCPU, dir / "m.safetensors", "");
    }),
        "the network expects 1×8×8 images, but the data set has 1×16×16");
    data::ImageSet three = tinySet();
    three.classNames.push_back("third");
    three.labels[0] = 2;
    LETHE_COMPARE_STR(errorMessage([&] {
        train::EdmPretrainer trainer(tinyConfig(1), three, torch::kCPU, dir / "m.safetensors", "");
    }),
        "the network has 2 class labels, the data set 3 classes");
    train::PretrainConfig none = tinyConfig(1);
    none.batch = 0;
    LETHE_COMPARE_STR(
        errorMessage([&] { train::EdmPretrainer trainer(none, tinySet(), torch::kCPU, dir / "m.safetensors", ""); }),
        "pretraining needs a batch of at least 1 and at least 1 step");
}

void TestPretrain::augmentsOnlyNetworksWithAugmentationLabels()
{
    ScratchDir dir;
    const auto firstLoss = [&](std::int64_t augmentDim, double augmentP) {
        train::PretrainConfig config = tinyConfig(1);
        config.architecture["augment_dim"] = augmentDim;
        config.augmentP = augmentP;
        train::EdmPretrainer trainer(config, tinySet(), torch::kCPU, dir / "m.safetensors", "");
        double loss = 0;
        trainer.run([&](const train::PretrainProgress& p) { loss = p.loss; });
        return loss;
    };
    // With EDM's 9 labels the pipeline changes the batch (p 1: every image x-flipped or not, and transformed).
    QVERIFY(firstLoss(9, 1.0) != firstLoss(9, 0.0));
    QCOMPARE(firstLoss(9, 1.0), firstLoss(9, 1.0));
    // Without labels, augment_p does nothing.
    QCOMPARE(firstLoss(0, 1.0), firstLoss(0, 0.0));
    LETHE_COMPARE_STR(errorMessage([&] { firstLoss(5, 0.12); }),
        "the network takes 5 augmentation labels; Lethe's augmentation (EDM's pipeline at its CIFAR-10 settings) "
        "makes 9");
    LETHE_COMPARE_STR(
        errorMessage([&] { firstLoss(9, -0.5); }), "pretraining config: augment_p must be in [0, 1], found -0.5");
}

void TestPretrain::configJsonRoundTrips()
{
    train::PretrainConfig config = tinyConfig(9);
    config.emaRampupRatio = 0.25;
    const auto back = io::configFromJson<train::PretrainConfig>(io::configToJson(config));
    QCOMPARE(io::configToJson(back), io::configToJson(config));
    QCOMPARE(back.steps, std::int64_t { 9 });
    QCOMPARE(back.emaRampupRatio, 0.25);
    const auto defaults = io::configFromJson<train::PretrainConfig>(nlohmann::json::object());
    QCOMPARE(defaults.batch, train::PretrainConfig {}.batch);
    QVERIFY(errorMessage([] {
        io::configFromJson<train::PretrainConfig>({ { "batch", "many" } });
    }).find("batch")
        != std::string::npos);
}

void TestPretrain::classSamplingIsClassMajorAndBatchIndependent()
{
    torch::manual_seed(3);
    models::EDMPrecond net = models::makeEdmPrecond(models::toJson(tinyOptions()));
    diffusion::ClassSamplingRequest request;
    request.classes = { 1, 0 };
    request.seeds = { 3, 4, 9 };
    request.sampler.steps = 3;
    request.sampler.method = diffusion::SamplerMethod::Euler;
    request.batch = 4; // Batches straddle the class boundary.
    net->train();
    const auto all = diffusion::sampleClasses(net, request, torch::kCPU);
    QVERIFY(all.has_value());
    QVERIFY(net->is_training()); // Restored after sampling.
    QCOMPARE(all->sizes().vec(), (std::vector<std::int64_t> { 6, 1, 8, 8 }));
    QCOMPARE(all->scalar_type(), torch::kUInt8);

    diffusion::ClassSamplingRequest one = request;
    one.batch = 1;
    for (int c : { 1, 0 })
        for (std::int64_t seed : { std::int64_t { 3 }, std::int64_t { 9 } }) {
            one.classes = { c };
            one.seeds = { seed };
            const auto single = diffusion::sampleClasses(net, one, torch::kCPU);
            const std::int64_t row = (c == 1 ? 0 : 3) + (seed == 3 ? 0 : 2);
            QVERIFY2(torch::equal(*single, all->narrow(0, row, 1)), ("class " + std::to_string(c)).c_str());
        }
}

void TestPretrain::classSamplingCancelsAndRejectsBadRequests()
{
    torch::manual_seed(3);
    models::EDMPrecond net = models::makeEdmPrecond(models::toJson(tinyOptions()));
    diffusion::ClassSamplingRequest request;
    request.classes = { 0, 1 };
    request.seeds = { 0, 1, 2 };
    request.sampler.steps = 2;
    request.batch = 2;
    std::vector<std::int64_t> seen;
    std::int64_t reportedTotal = 0;
    const auto cancelled
        = diffusion::sampleClasses(net, request, torch::kCPU, [&](std::int64_t done, std::int64_t total) {
              reportedTotal = total;
              seen.push_back(done);
              return done < 2;
          });
    QVERIFY(!cancelled.has_value());
    QCOMPARE(reportedTotal, std::int64_t { 6 });
    QVERIFY(!seen.empty() && seen.back() >= 2 && seen.back() < 6);

    request.classes = { 2 };
    LETHE_COMPARE_STR(
        errorMessage([&] { diffusion::sampleClasses(net, request, torch::kCPU); }), "class 2 is outside 0–1");
    request.classes = {};
    LETHE_COMPARE_STR(errorMessage([&] { diffusion::sampleClasses(net, request, torch::kCPU); }),
        "this model is class-conditional: name the classes to sample");
    request.classes = { 0 };
    request.seeds = {};
    LETHE_COMPARE_STR(errorMessage([&] { diffusion::sampleClasses(net, request, torch::kCPU); }), "no seeds to sample");
}

void TestPretrain::seedListsParse()
{
    using Seeds = std::vector<std::int64_t>;
    QCOMPARE(diffusion::parseSeedList("0-3"), (Seeds { 0, 1, 2, 3 }));
    QCOMPARE(diffusion::parseSeedList("1,5,9"), (Seeds { 1, 5, 9 }));
    QCOMPARE(diffusion::parseSeedList("7"), (Seeds { 7 }));
    QCOMPARE(diffusion::parseSeedList("2-3,10,4-4"), (Seeds { 2, 3, 10, 4 }));
}

void TestPretrain::seedListErrors_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("word") << "ten"
                          << "seed list 'ten': 'ten' is not a non-negative integer";
    QTest::newRow("negative") << "-3"
                              << "seed list '-3': '' is not a non-negative integer";
    QTest::newRow("trailing") << "4x"
                              << "seed list '4x': '4x' is not a non-negative integer";
    QTest::newRow("backwards") << "9-2"
                               << "seed list '9-2': range '9-2' runs backwards";
    QTest::newRow("huge") << "0-5000000"
                          << "seed list '0-5000000': range '0-5000000' has more than a million seeds";
    QTest::newRow("empty") << ""
                           << "seed list '' is empty";
    QTest::newRow("empty item") << "1,,2"
                                << "seed list '1,,2': '' is not a non-negative integer";
}

void TestPretrain::seedListErrors()
{
    QFETCH(QString, text);
    QFETCH(QString, message);
    LETHE_COMPARE_STR(errorMessage([&] { diffusion::parseSeedList(text.toStdString()); }), message.toStdString());
}

void TestPretrain::generationEvalCountsEveryImage()
{
    torch::manual_seed(3);
    models::EDMPrecond net = models::makeEdmPrecond(models::toJson(tinyOptions()));
    models::ResNetClassifier classifier = tinyClassifier();
    const eval::RealFeatures real = eval::realFeatures(classifier, tinySet(), torch::kCPU, 5);
    QCOMPARE(real.features.size(0), std::int64_t { 12 });

    eval::GenerationEvalOptions options;
    options.imagesPerClass = 3;
    options.sampler.steps = 2;
    options.batch = 4;
    options.kidSubsetSize = 4;
    options.kidSubsets = 3;
    options.forgottenClass = 1;
    const auto result = eval::evaluateGeneration(net, classifier, real, options, torch::kCPU);
    QVERIFY(result.has_value());
    QCOMPARE(result->images.sizes().vec(), (std::vector<std::int64_t> { 6, 1, 8, 8 }));
    QVERIFY(torch::equal(result->generatedFor, torch::tensor({ 0, 0, 0, 1, 1, 1 }, torch::kInt64)));
    QCOMPARE(result->accuracy.total, (std::vector<std::int64_t> { 3, 3 }));
    QCOMPARE(result->predicted.size(0), std::int64_t { 6 });
    const std::int64_t correct = result->predicted.eq(result->generatedFor).sum().item<std::int64_t>();
    QCOMPARE(result->accuracy.correct[0] + result->accuracy.correct[1], correct);
    QVERIFY(std::isfinite(result->frechet) && result->frechet >= 0);
    QVERIFY(result->unlearning.has_value());

    // The same seeds give the same images: a before/after comparison is pairwise.
    const auto again = eval::evaluateGeneration(net, classifier, real, options, torch::kCPU);
    QVERIFY(torch::equal(again->images, result->images));

    const auto json = eval::toJson(*result, { "left", "right" });
    QVERIFY(json.dump().find("\"right\"") != std::string::npos);

    options.imagesPerClass = 1;
    LETHE_COMPARE_STR(errorMessage([&] { eval::evaluateGeneration(net, classifier, real, options, torch::kCPU); }),
        "evaluation needs at least 2 images per class, not 1");
    const auto cancelled = eval::evaluateGeneration(net, classifier, real, eval::GenerationEvalOptions {}, torch::kCPU,
        [](std::int64_t, std::int64_t) { return false; });
    QVERIFY(!cancelled.has_value());
}

void TestPretrain::benchmarkRunsWarmupAndMeasuredRuns()
{
    QCOMPARE(eval::median({ 3.0, 1.0, 2.0 }), 2.0);
    QCOMPARE(eval::median({ 4.0, 1.0, 3.0, 2.0 }), 2.5);
    int calls = 0;
    const eval::BenchResult result = eval::benchmark(
        "count", [&] { ++calls; }, 2, 3);
    QCOMPARE(calls, 5);
    QCOMPARE(result.name, std::string("count"));
    QCOMPARE(result.milliseconds.size(), std::size_t { 3 });
    QVERIFY(result.minMs <= result.medianMs && result.medianMs <= result.maxMs);
    QVERIFY(result.peakRssBytes > 0);
    LETHE_COMPARE_STR(errorMessage([] {
        eval::benchmark(
            "none", [] {}, 0, 0);
    }),
        "a benchmark needs at least one measured run, not 0");
    LETHE_COMPARE_STR(eval::formatBytes(3 << 20), "3.0 MiB");
    LETHE_COMPARE_STR(eval::formatBytes(std::int64_t { 5 } << 30), "5.00 GiB");
}

QTEST_APPLESS_MAIN(TestPretrain)
#include "test_pretrain.moc"
