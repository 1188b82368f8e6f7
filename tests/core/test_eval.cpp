// The evaluation classifier (model file, trainer) and the measures: UA / RA / per-class accuracy, FD_cls, KID_cls.
#include "core/config.h"
#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/eval/frechet.h"
#include "core/eval/profile_trace.h"
#include "core/io/model_file.h"
#include "core/io/safetensors.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/runtime.h"
#include "core/train/classifier_trainer.h"
#include "test_support.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

namespace {

torch::Tensor longs(const std::vector<std::int64_t>& values)
{
    return torch::tensor(values, torch::kInt64);
}

/// A trivially separable 4-class grey set: horizontal stripes, vertical stripes, flat grey, checkerboard,
/// each with a random phase and pixel noise. Flip- and shift-robust, so augmentation cannot confuse it.
data::ImageSet syntheticSet(std::int64_t perClass, std::uint64_t seed)
{
    torch::manual_seed(seed);
    const std::int64_t n = 4 * perClass;
    torch::Tensor images = torch::empty({ n, 1, 32, 32 }, torch::kUInt8);
    torch::Tensor labels = torch::empty({ n }, torch::kInt64);
    const auto ys = torch::arange(32).view({ 32, 1 }).expand({ 32, 32 });
    const auto xs = torch::arange(32).view({ 1, 32 }).expand({ 32, 32 });
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t label = i % 4;
        const std::int64_t phase = torch::randint(0, 4, { 1 }).item<std::int64_t>();
        torch::Tensor pattern;
        switch (label) {
        case 0:
            pattern = ((ys + phase) / 2).remainder(2).to(torch::kFloat32) * 200.0 + 20.0;
            break;
        case 1:
            pattern = ((xs + phase) / 2).remainder(2).to(torch::kFloat32) * 200.0 + 20.0;
            break;
        case 2:
            pattern = torch::full({ 32, 32 }, 120.0);
            break;
        default:
            pattern = (((ys + phase) / 4 + (xs + phase) / 4).remainder(2)).to(torch::kFloat32) * 200.0 + 20.0;
        }
        const torch::Tensor noisy = (pattern + torch::randn({ 32, 32 }) * 15.0).clamp(0, 255);
        images[i][0] = noisy.to(torch::kUInt8);
        labels[i] = label;
    }
    data::ImageSet set;
    set.images = images;
    set.labels = labels;
    set.classNames = { "horizontal", "vertical", "flat", "checks" };
    set.source = "synthetic";
    return set;
}

io::ModelInfo classifierInfo(int classes)
{
    io::ModelInfo info;
    for (int c = 0; c < classes; ++c)
        info.classes.push_back("class " + std::to_string(c));
    info.dataset = { { "name", "synthetic" }, { "resolution", 32 }, { "channels", 3 } };
    info.provenance.method = "train-classifier";
    info.provenance.seed = 11;
    info.provenance.created = "2026-01-02T03:04:05Z";
    return info;
}

/// A small classifier whose batch-norm statistics have moved away from their initial values, so a
/// round trip that forgot the buffers would show.
models::ResNetClassifier usedClassifier()
{
    torch::manual_seed(5);
    models::ResNetClassifier model(models::ResNetClassifierOptions(3, 4).width(8).blocks({ 1, 2 }).dropout(0.1));
    model->train();
    {
        torch::NoGradGuard noGrad;
        model->forward(torch::randn({ 6, 3, 32, 32 }));
    }
    model->eval();
    return model;
}

std::vector<io::NamedTensor> stateOf(const models::ResNetClassifier& model)
{
    std::vector<io::NamedTensor> tensors;
    for (const auto& p : model->named_parameters())
        tensors.push_back({ p.key(), p.value().detach() });
    for (const auto& b : model->named_buffers())
        tensors.push_back({ b.key(), b.value() });
    return tensors;
}

} // namespace

class TestEval : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void frechetOfSetWithItselfIsZero();
    void frechetMatchesClosedFormForDiagonalGaussians();
    void frechetMatchesClosedFormForNonCommutingCovariances();
    void frechetIsSymmetric();
    void frechetRejectsMismatchedDimensions();
    void kidIsNearZeroForOneDistributionAndPositiveForShifted();
    void perClassAccuracyCountsEveryClass();
    void unlearningScoresFollowTheDefinitions();
    void unlearningScoresRejectMissingClasses();
    void summaryAveragesRuns();
    void classifierShapesAndFeatures();
    void classifierOptionsJsonRoundTrip();
    void classifierFileRoundTripGivesIdenticalLogits();
    void loadRejectsWrongKind();
    void loadRejectsMissingTensor();
    void loadRejectsWrongShape();
    void loadRejectsUnexpectedTensorAndBadArchitecture();
    void classifyBatchesAndReturnsFeatures();
    void trainConfigJsonRoundTrip();
    void learningRateSchedules();
    void trainerLearnsSeparableSetDeterministically();
    void trainerStopsWhenCancelled();
    void trainerRejectsMismatchedOptions();
    void resolvesDevices();
    void findsResourcesBesideTheExecutable();
    void profileTraceRecordsOperatorsAndSumsSelfTime();
    void profileSummaryRejectsBadTraces();
};

void TestEval::frechetOfSetWithItselfIsZero()
{
    torch::manual_seed(1);
    const torch::Tensor features = torch::randn({ 400, 24 }) * 3.0 + 1.0;
    const double fd = eval::frechetDistance(features, features);
    QVERIFY2(std::abs(fd) < 1e-9, std::to_string(fd).c_str());
}

void TestEval::frechetMatchesClosedFormForDiagonalGaussians()
{
    // For diagonal covariances the distance is ‖μ₁ − μ₂‖² + Σᵢ (√aᵢ − √bᵢ)².
    const std::vector<double> mean1 = { 0.0, 1.0, -2.0, 0.5 };
    const std::vector<double> mean2 = { 1.0, 1.0, 0.0, -0.5 };
    const std::vector<double> var1 = { 1.0, 4.0, 0.25, 9.0 };
    const std::vector<double> var2 = { 4.0, 1.0, 1.0, 9.0 };
    double expected = 0.0;
    for (std::size_t i = 0; i < mean1.size(); ++i)
        expected += std::pow(mean1[i] - mean2[i], 2) + std::pow(std::sqrt(var1[i]) - std::sqrt(var2[i]), 2);
    QCOMPARE(expected, 1.0 + 0.0 + 4.0 + 1.0 + 1.0 + 1.0 + 0.25 + 0.0);

    eval::FeatureStatistics a { torch::tensor(mean1, torch::kFloat64),
        torch::diag(torch::tensor(var1, torch::kFloat64)), 100 };
    eval::FeatureStatistics b { torch::tensor(mean2, torch::kFloat64),
        torch::diag(torch::tensor(var2, torch::kFloat64)), 100 };
    QVERIFY(std::abs(eval::frechetDistance(a, b) - expected) < 1e-10);

    // The same from samples: equal up to sampling error.
    torch::manual_seed(2);
    const auto sample = [](const std::vector<double>& mean, const std::vector<double>& var) {
        return torch::randn({ 20000, 4 }, torch::kFloat64) * torch::tensor(var, torch::kFloat64).sqrt()
            + torch::tensor(mean, torch::kFloat64);
    };
    const double sampled = eval::frechetDistance(sample(mean1, var1), sample(mean2, var2));
    QVERIFY2(std::abs(sampled - expected) < 0.1 * expected, std::to_string(sampled).c_str());
}

void TestEval::frechetMatchesClosedFormForNonCommutingCovariances()
{
    // For 2×2 matrices, Tr √M = √(Tr M + 2√det M) when M = Σ₁Σ₂ has positive eigenvalues; Σ₁ and Σ₂ here
    // do not commute, so the product is not symmetric.
    const torch::Tensor s1 = torch::tensor({ 2.0, 0.6, 0.6, 1.0 }, torch::kFloat64).view({ 2, 2 });
    const torch::Tensor s2 = torch::tensor({ 0.5, -0.3, -0.3, 3.0 }, torch::kFloat64).view({ 2, 2 });
    const torch::Tensor m = s1.matmul(s2);
    const double traceSqrt = std::sqrt(m.trace().item<double>() + 2.0 * std::sqrt(torch::det(m).item<double>()));
    const double expected = 1.0 + s1.trace().item<double>() + s2.trace().item<double>() - 2.0 * traceSqrt;
    eval::FeatureStatistics a { torch::tensor({ 1.0, 0.0 }, torch::kFloat64), s1, 10 };
    eval::FeatureStatistics b { torch::tensor({ 1.0, 1.0 }, torch::kFloat64), s2, 10 };
    QVERIFY2(std::abs(eval::frechetDistance(a, b) - expected) < 1e-10, std::to_string(expected).c_str());
}

void TestEval::frechetIsSymmetric()
{
    torch::manual_seed(3);
    const torch::Tensor a = torch::randn({ 300, 16 });
    const torch::Tensor b = torch::randn({ 200, 16 }).matmul(torch::randn({ 16, 16 }) * 0.5) + 0.3;
    const double ab = eval::frechetDistance(a, b);
    const double ba = eval::frechetDistance(b, a);
    QVERIFY(ab > 1.0);
    QVERIFY2(std::abs(ab - ba) < 1e-9 * ab, (std::to_string(ab) + " vs " + std::to_string(ba)).c_str());
}

void TestEval::frechetRejectsMismatchedDimensions()
{
    LETHE_COMPARE_STR(errorMessage([] {
        eval::frechetDistance(torch::zeros({ 5, 3 }), torch::zeros({ 5, 4 }));
    }),
        "Fréchet distance: feature dimensions differ (3 and 4) or covariances are not D×D");
    LETHE_COMPARE_STR(errorMessage([] {
        eval::featureStatistics(torch::zeros({ 1, 3 }));
    }),
        "feature statistics: need at least 2 feature vectors, found 1");
}

void TestEval::kidIsNearZeroForOneDistributionAndPositiveForShifted()
{
    torch::manual_seed(4);
    const torch::Tensor a = torch::randn({ 600, 16 });
    const torch::Tensor b = torch::randn({ 500, 16 });
    const torch::Tensor shifted = torch::randn({ 500, 16 }) + 1.0;
    const eval::KidResult same = eval::kernelInceptionDistance(a, b, 200, 20, 9);
    const eval::KidResult apart = eval::kernelInceptionDistance(a, shifted, 200, 20, 9);
    QCOMPARE(same.subsetSize, std::int64_t { 200 });
    QCOMPARE(same.subsets, 20);
    QVERIFY2(std::abs(same.mean) < 0.05, std::to_string(same.mean).c_str());
    QVERIFY(same.std > 0.0);
    QVERIFY2(apart.mean > 1.0, std::to_string(apart.mean).c_str());
    QVERIFY(apart.mean > 20 * apart.std);

    // Seeded: the same subsets, hence the same numbers; the subset size is capped by the smaller set.
    const eval::KidResult again = eval::kernelInceptionDistance(a, b, 200, 20, 9);
    QCOMPARE(again.mean, same.mean);
    QCOMPARE(again.std, same.std);
    QCOMPARE(eval::kernelInceptionDistance(a, b, 5000, 2, 1).subsetSize, std::int64_t { 500 });
    QCOMPARE(QString::fromLatin1(eval::kFrechetName), QStringLiteral("FD_cls"));
    QCOMPARE(QString::fromLatin1(eval::kKidName), QStringLiteral("KID_cls"));
}

void TestEval::perClassAccuracyCountsEveryClass()
{
    const auto result = eval::perClassAccuracy(longs({ 0, 1, 1, 2, 0, 0 }), longs({ 0, 1, 2, 2, 1, 0 }), 4);
    QCOMPARE(result.total, (std::vector<std::int64_t> { 2, 2, 2, 0 }));
    QCOMPARE(result.correct, (std::vector<std::int64_t> { 2, 1, 1, 0 }));
    QCOMPARE(result.accuracy[0], 1.0);
    QCOMPARE(result.accuracy[1], 0.5);
    QCOMPARE(result.accuracy[2], 0.5);
    QVERIFY(std::isnan(result.accuracy[3]));
    QCOMPARE(result.overall, 4.0 / 6.0);
    QCOMPARE(result.classMean, 2.0 / 3.0);

    LETHE_COMPARE_STR(errorMessage([] {
        eval::perClassAccuracy(longs({ 0, 1 }), longs({ 0 }), 2);
    }),
        "per-class accuracy: 2 predictions for 1 targets");
    LETHE_COMPARE_STR(errorMessage([] {
        eval::perClassAccuracy(longs({ 0, 3 }), longs({ 0, 1 }), 2);
    }),
        "predicted label 3 at index 1 is outside [0, 2)");
}

void TestEval::unlearningScoresFollowTheDefinitions()
{
    // Class 1 is forgotten: one of its four images is still recognised as class 1, so UA = 0.75.
    // Others: class 0 has 4/5 right, class 2 has 4/4: RA pooled 8/9, class mean 0.9.
    const torch::Tensor generatedFor = longs({ 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2 });
    const torch::Tensor predicted = longs({ 0, 0, 0, 0, 2, 1, 0, 2, 2, 2, 2, 2, 2 });
    const eval::UnlearningScores scores = eval::unlearningScores(predicted, generatedFor, 1, 3);
    QCOMPARE(scores.forgottenClass, std::int64_t { 1 });
    QCOMPARE(scores.ua, 0.75);
    QCOMPARE(scores.ra, 8.0 / 9.0);
    QCOMPARE(scores.raClassMean, 0.9);
    QCOMPARE(scores.classes.accuracy[0], 0.8);
    QCOMPARE(scores.classes.accuracy[1], 0.25);
    QCOMPARE(scores.classes.accuracy[2], 1.0);
    // The same from the per-class counts alone (what a measure cache keeps), for every forgotten class.
    for (std::int64_t forgotten = 0; forgotten < 3; ++forgotten) {
        const eval::UnlearningScores fromImages = eval::unlearningScores(predicted, generatedFor, forgotten, 3);
        const eval::UnlearningScores fromCounts
            = eval::unlearningScores(eval::perClassAccuracy(predicted, generatedFor, 3), forgotten);
        QCOMPARE(fromCounts.ua, fromImages.ua);
        QCOMPARE(fromCounts.ra, fromImages.ra);
        QCOMPARE(fromCounts.raClassMean, fromImages.raClassMean);
        QCOMPARE(fromCounts.classes.correct, fromImages.classes.correct);
    }

    // Complete forgetting: nothing generated for class 2 is classified as class 2.
    const eval::UnlearningScores complete = eval::unlearningScores(longs({ 0, 1, 0, 1 }), longs({ 0, 1, 2, 2 }), 2, 3);
    QCOMPARE(complete.ua, 1.0);
    QCOMPARE(complete.ra, 1.0);
}

void TestEval::unlearningScoresRejectMissingClasses()
{
    LETHE_COMPARE_STR(errorMessage([] {
        eval::unlearningScores(longs({ 0, 1 }), longs({ 0, 1 }), 2, 3);
    }),
        "unlearning scores: no image was generated for the forgotten class 2");
    LETHE_COMPARE_STR(errorMessage([] {
        eval::unlearningScores(longs({ 0, 1 }), longs({ 1, 1 }), 1, 3);
    }),
        "unlearning scores: no image was generated for a class other than the forgotten class 1");
    LETHE_COMPARE_STR(errorMessage([] { eval::unlearningScores(longs({ 0 }), longs({ 0 }), 3, 3); }),
        "unlearning scores: forgotten class 3 is outside [0, 3)");
    LETHE_COMPARE_STR(
        errorMessage([] { eval::unlearningScores(eval::perClassAccuracy(longs({ 0 }), longs({ 0 }), 3), -1); }),
        "unlearning scores: forgotten class -1 is outside [0, 3)");
    LETHE_COMPARE_STR(errorMessage([] {
        eval::unlearningScores(eval::perClassAccuracy(longs({ 0, 1 }), longs({ 0, 1 }), 3), 2);
    }),
        "unlearning scores: no image was generated for the forgotten class 2");
}

void TestEval::summaryAveragesRuns()
{
    std::vector<eval::UnlearningScores> runs;
    runs.push_back(eval::unlearningScores(longs({ 1, 1, 0, 0 }), longs({ 0, 0, 1, 1 }), 0, 2)); // UA 1, RA 0
    runs.push_back(eval::unlearningScores(longs({ 0, 0, 1, 0 }), longs({ 0, 0, 1, 1 }), 1, 2)); // UA 0.5, RA 1
    const eval::UnlearningSummary summary = eval::summarize(runs);
    QCOMPARE(summary.runs.size(), std::size_t { 2 });
    QCOMPARE(summary.meanUa, 0.75);
    QCOMPARE(summary.meanRa, 0.5);
    QVERIFY(std::isnan(eval::summarize({}).meanUa));
}

void TestEval::classifierShapesAndFeatures()
{
    models::ResNetClassifier model(models::ResNetClassifierOptions(1, 10));
    QCOMPARE(model->options().width(), std::int64_t { 32 });
    QCOMPARE(model->options().blocks(), (std::vector<std::int64_t> { 2, 2, 2 }));
    QCOMPARE(model->featureDim(), std::int64_t { 128 });
    model->eval();
    torch::NoGradGuard noGrad;
    const torch::Tensor x = torch::rand({ 3, 1, 32, 32 }) * 2 - 1;
    QCOMPARE(model->forward(x).sizes().vec(), (std::vector<std::int64_t> { 3, 10 }));
    const torch::Tensor features = model->features(x);
    QCOMPARE(features.sizes().vec(), (std::vector<std::int64_t> { 3, 128 }));
    QVERIFY(torch::allclose(model->logitsFromFeatures(features), model->forward(x)));

    const torch::Tensor input = models::classifierInput(torch::tensor({ 0, 255 }, torch::kUInt8), torch::kCPU);
    QCOMPARE(input[0].item<float>(), -1.0f);
    QCOMPARE(input[1].item<float>(), 1.0f);
}

void TestEval::classifierOptionsJsonRoundTrip()
{
    const auto options = models::ResNetClassifierOptions(3, 7).width(16).blocks({ 1, 3 }).dropout(0.25);
    const nlohmann::json j = models::toJson(options);
    QCOMPARE(QString::fromStdString(j.dump()),
        QStringLiteral(R"({"blocks":[1,3],"dropout":0.25,"in_channels":3,"num_classes":7,"width":16})"));
    QCOMPARE(models::toJson(models::resnetClassifierOptionsFromJson(j)), j);

    nlohmann::json bad = j;
    bad["width"] = 0;
    LETHE_COMPARE_STR(errorMessage([&] { models::resnetClassifierOptionsFromJson(bad); }),
        "classifier architecture: 'width' must be 1 to 1024, found 0");
    bad = j;
    bad.erase("num_classes");
    LETHE_COMPARE_STR(errorMessage([&] { models::resnetClassifierOptionsFromJson(bad); }),
        "classifier architecture: missing 'num_classes'");
}

void TestEval::classifierFileRoundTripGivesIdenticalLogits()
{
    ScratchDir dir;
    const auto path = dir / "classifier.safetensors";
    models::ResNetClassifier model = usedClassifier();
    models::saveClassifier(path, model, classifierInfo(4));

    const models::LoadedClassifier loaded = models::loadClassifier(path, torch::kCPU);
    QVERIFY(!loaded.model->is_training());
    QCOMPARE(loaded.info.kind, std::string("classifier"));
    QCOMPARE(loaded.info.classes, classifierInfo(4).classes);
    QCOMPARE(loaded.info.dataset, classifierInfo(4).dataset);
    QCOMPARE(loaded.info.provenance.seed, std::uint64_t { 11 });
    QCOMPARE(models::toJson(loaded.model->options()), models::toJson(model->options()));

    torch::manual_seed(6);
    const torch::Tensor x = torch::rand({ 5, 3, 32, 32 }) * 2 - 1;
    torch::NoGradGuard noGrad;
    models::ResNetClassifier reloaded = loaded.model;
    QVERIFY(torch::equal(reloaded->forward(x), model->forward(x)));

    LETHE_COMPARE_STR(errorMessage([&] { models::saveClassifier(dir / "x.safetensors", model, classifierInfo(3)); }),
        "cannot save classifier to " + (dir / "x.safetensors").string() + ": 3 class names for a model with 4 classes");
}

void TestEval::loadRejectsWrongKind()
{
    ScratchDir dir;
    const auto path = dir / "edm.safetensors";
    io::ModelInfo info = classifierInfo(4);
    info.kind = "edm";
    info.architecture = nlohmann::json::object();
    io::writeModel(path, info, { { "w", torch::zeros({ 2 }) } });
    LETHE_COMPARE_STR(errorMessage([&] { models::loadClassifier(path); }),
        path.string() + ": __metadata__ key 'lethe' kind: expected a 'classifier' model, found 'edm'");
}

void TestEval::loadRejectsMissingTensor()
{
    ScratchDir dir;
    const auto path = dir / "missing.safetensors";
    const models::ResNetClassifier model = usedClassifier();
    std::vector<io::NamedTensor> tensors;
    for (auto& t : stateOf(model))
        if (t.name != "head.weight")
            tensors.push_back(t);
    io::ModelInfo info = classifierInfo(4);
    info.kind = "classifier";
    info.architecture = models::toJson(model->options());
    io::writeModel(path, info, tensors);
    LETHE_COMPARE_STR(errorMessage([&] { models::loadClassifier(path); }),
        path.string() + ": tensor 'head.weight': missing: the classifier architecture needs shape [4, 16]");
}

void TestEval::loadRejectsWrongShape()
{
    ScratchDir dir;
    const auto path = dir / "shape.safetensors";
    const models::ResNetClassifier model = usedClassifier();
    std::vector<io::NamedTensor> tensors = stateOf(model);
    for (auto& t : tensors)
        if (t.name == "stages.1.0.conv1.weight")
            t.tensor = torch::zeros({ 16, 8, 5, 5 });
    io::ModelInfo info = classifierInfo(4);
    info.kind = "classifier";
    info.architecture = models::toJson(model->options());
    io::writeModel(path, info, tensors);
    LETHE_COMPARE_STR(errorMessage([&] { models::loadClassifier(path); }),
        path.string() + ": tensor 'stages.1.0.conv1.weight': expected shape [16, 8, 3, 3], found [16, 8, 5, 5]");
}

void TestEval::loadRejectsUnexpectedTensorAndBadArchitecture()
{
    ScratchDir dir;
    const models::ResNetClassifier model = usedClassifier();
    io::ModelInfo info = classifierInfo(4);
    info.kind = "classifier";
    info.architecture = models::toJson(model->options());

    const auto extra = dir / "extra.safetensors";
    std::vector<io::NamedTensor> tensors = stateOf(model);
    tensors.push_back({ "ema.head.weight", torch::zeros({ 4, 16 }) });
    io::writeModel(extra, info, tensors);
    LETHE_COMPARE_STR(errorMessage([&] { models::loadClassifier(extra); }),
        extra.string() + ": tensor 'ema.head.weight': unexpected: the classifier architecture has no such tensor");

    const auto badArchitecture = dir / "architecture.safetensors";
    info.architecture["blocks"] = nlohmann::json::array();
    io::writeModel(badArchitecture, info, stateOf(model));
    LETHE_COMPARE_STR(errorMessage([&] { models::loadClassifier(badArchitecture); }),
        badArchitecture.string()
            + ": __metadata__ key 'lethe' architecture: classifier architecture: 'blocks' must list 1 to 5 "
              "stages, found 0");
}

void TestEval::classifyBatchesAndReturnsFeatures()
{
    models::ResNetClassifier model = usedClassifier();
    model->train();
    torch::manual_seed(8);
    const torch::Tensor images = torch::randint(0, 256, { 7, 3, 32, 32 }).to(torch::kUInt8);
    const eval::Classification whole = eval::classify(model, images, 100, torch::kCPU, true);
    const eval::Classification batched = eval::classify(model, images, 3, torch::kCPU, true);
    QVERIFY(model->is_training()); // restored
    QCOMPARE(whole.labels.sizes().vec(), (std::vector<std::int64_t> { 7 }));
    QCOMPARE(whole.features.sizes().vec(), (std::vector<std::int64_t> { 7, 16 }));
    QVERIFY(torch::equal(whole.labels, batched.labels));
    QVERIFY(torch::allclose(whole.features, batched.features, 1e-5, 1e-6));
    model->eval();
    torch::NoGradGuard noGrad;
    QVERIFY(torch::equal(whole.labels, model->forward(models::classifierInput(images, torch::kCPU)).argmax(1)));
    QVERIFY(!eval::classify(model, images, 4, torch::kCPU).features.defined());

    LETHE_COMPARE_STR(errorMessage([&] {
        eval::classify(model, torch::zeros({ 2, 1, 32, 32 }, torch::kUInt8), 4, torch::kCPU);
    }),
        "classify: the classifier takes 3-channel images, found 1 channels");
}

void TestEval::trainConfigJsonRoundTrip()
{
    train::ClassifierTrainConfig config;
    config.epochs = 3;
    config.batchSize = 64;
    config.learningRate = 0.001;
    config.optimizer = train::ClassifierOptimizer::Adam;
    config.schedule = train::ClassifierSchedule::Step;
    config.stepEpochs = 2;
    config.seed = 123456789012345ULL;
    config.horizontalFlip = false;
    config.labelSmoothing = 0.1;
    const nlohmann::json j = io::configToJson(config);
    QCOMPARE(j.at("optimizer").get<std::string>(), std::string("adam"));
    QCOMPARE(j.at("schedule").get<std::string>(), std::string("step"));
    QCOMPARE(io::configToJson(io::configFromJson<train::ClassifierTrainConfig>(j)), j);
    QCOMPARE(io::configFromJson<train::ClassifierTrainConfig>(j).seed, config.seed);

    // Absent keys keep their defaults.
    QCOMPARE(io::configToJson(io::configFromJson<train::ClassifierTrainConfig>(nlohmann::json::object())),
        io::configToJson(train::ClassifierTrainConfig {}));
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<train::ClassifierTrainConfig>({ { "optimizer", "rmsprop" } });
    }),
        "classifier training config: optimizer must be 'sgd' or 'adam', found \"rmsprop\"");
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<train::ClassifierTrainConfig>({ { "epochs", "ten" } });
    }),
        "classifier training config: key 'epochs' has the wrong type (string)");
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<train::ClassifierTrainConfig>({ { "seed", -1 } });
    }),
        "classifier training config: key 'seed' has the wrong type (number)");
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<train::ClassifierTrainConfig>({ { "epoch", 3 } });
    }),
        "classifier training config: unknown key 'epoch'");
}

void TestEval::learningRateSchedules()
{
    train::ClassifierTrainConfig config;
    config.learningRate = 0.1;
    QCOMPARE(train::scheduledLearningRate(config, 0, 100, 10), 0.1);
    QVERIFY(std::abs(train::scheduledLearningRate(config, 50, 100, 10) - 0.05) < 1e-12);
    QVERIFY(train::scheduledLearningRate(config, 99, 100, 10) < 1e-3);
    config.schedule = train::ClassifierSchedule::Step;
    config.stepEpochs = 2;
    config.stepGamma = 0.5;
    QCOMPARE(train::scheduledLearningRate(config, 19, 100, 10), 0.1);
    QCOMPARE(train::scheduledLearningRate(config, 20, 100, 10), 0.05);
    QCOMPARE(train::scheduledLearningRate(config, 45, 100, 10), 0.025);
}

void TestEval::trainerLearnsSeparableSetDeterministically()
{
    const data::ImageSet trainSet = syntheticSet(64, 21);
    const data::ImageSet testSet = syntheticSet(32, 22);
    const auto options = models::ResNetClassifierOptions(1, 4).width(8).blocks({ 1, 1 });
    train::ClassifierTrainConfig config;
    config.epochs = 3;
    config.batchSize = 32;
    config.learningRate = 0.05;
    config.seed = 3;

    std::vector<train::ClassifierTrainProgress> steps;
    int epochsSeen = 0;
    train::ClassifierTrainObserver observer;
    observer.onStep = [&](const train::ClassifierTrainProgress& p) { steps.push_back(p); };
    observer.onEpoch = [&](const train::ClassifierEpochRecord&) { ++epochsSeen; };

    const auto start = std::chrono::steady_clock::now();
    const train::ClassifierTrainResult first
        = train::trainClassifier(trainSet, testSet, options, config, torch::kCPU, observer);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    qInfo("training the synthetic classifier took %.2f s; test accuracy %.4f", seconds,
        first.history.back().testAccuracy);

    QVERIFY(!first.cancelled);
    QCOMPARE(first.history.size(), std::size_t { 3 });
    QCOMPARE(epochsSeen, 3);
    QCOMPARE(first.steps, std::int64_t { 24 });
    QCOMPARE(first.imagesSeen, std::int64_t { 768 });
    QCOMPARE(steps.size(), std::size_t { 24 });
    QCOMPARE(steps.back().step, steps.back().totalSteps);
    QCOMPARE(steps.front().learningRate, 0.05);
    QVERIFY(steps.back().imagesPerSecond > 0.0);
    QVERIFY(first.history.back().testAccuracy > 0.95);
    QVERIFY(first.history.back().loss < first.history.front().loss);
    QVERIFY(!first.model->is_training());

    const train::ClassifierTrainResult second = train::trainClassifier(trainSet, testSet, options, config, torch::kCPU);
    for (std::size_t e = 0; e < first.history.size(); ++e) {
        QCOMPARE(second.history[e].loss, first.history[e].loss);
        QCOMPARE(second.history[e].trainAccuracy, first.history[e].trainAccuracy);
        QCOMPARE(second.history[e].testAccuracy, first.history[e].testAccuracy);
    }
    {
        torch::NoGradGuard noGrad;
        const torch::Tensor x = models::classifierInput(testSet.images, torch::kCPU);
        models::ResNetClassifier a = first.model;
        models::ResNetClassifier b = second.model;
        QVERIFY(torch::equal(a->forward(x), b->forward(x)));
    }

    // A different seed takes a different path; a caller's NoGradGuard does not stop training.
    torch::NoGradGuard callerGuard;
    config.seed = 4;
    const train::ClassifierTrainResult other = train::trainClassifier(trainSet, testSet, options, config, torch::kCPU);
    QVERIFY(other.history.front().loss != first.history.front().loss);
}

void TestEval::trainerStopsWhenCancelled()
{
    const data::ImageSet trainSet = syntheticSet(16, 31);
    const auto options = models::ResNetClassifierOptions(1, 4).width(4).blocks({ 1 });
    train::ClassifierTrainConfig config;
    config.epochs = 5;
    config.batchSize = 8;
    std::atomic<bool> cancel { false };
    train::ClassifierTrainObserver observer;
    observer.onStep = [&](const train::ClassifierTrainProgress& p) {
        if (p.step == 3)
            cancel.store(true);
    };
    const train::ClassifierTrainResult result
        = train::trainClassifier(trainSet, data::ImageSet {}, options, config, torch::kCPU, observer, &cancel);
    QVERIFY(result.cancelled);
    QCOMPARE(result.steps, std::int64_t { 3 });
    QVERIFY(result.history.empty());
}

void TestEval::trainerRejectsMismatchedOptions()
{
    const data::ImageSet trainSet = syntheticSet(2, 41);
    train::ClassifierTrainConfig config;
    LETHE_COMPARE_STR(errorMessage([&] {
        train::trainClassifier(trainSet, {}, models::ResNetClassifierOptions(3, 4), config, torch::kCPU);
    }),
        "classifier training: the classifier takes 3-channel images, the training set has 1");
    LETHE_COMPARE_STR(errorMessage([&] {
        train::trainClassifier(trainSet, {}, models::ResNetClassifierOptions(1, 10), config, torch::kCPU);
    }),
        "classifier training: the classifier has 10 classes, the training set 4");
    config.cropPadding = 20;
    LETHE_COMPARE_STR(errorMessage([&] {
        train::trainClassifier(trainSet, {}, models::ResNetClassifierOptions(1, 4), config, torch::kCPU);
    }),
        "classifier training config: crop padding must be between 0 and half the image side, found 20");
}

void TestEval::resolvesDevices()
{
    QVERIFY(resolveDevice("cpu") == torch::Device(torch::kCPU));
    const torch::Device automatic = resolveDevice("auto");
    QVERIFY(automatic.type() == (torch::cuda::is_available() ? torch::kCUDA : torch::kCPU));
    LETHE_COMPARE_STR(
        errorMessage([] { resolveDevice("gpu"); }), "unknown device 'gpu': expected cpu, cuda, cuda:N or auto");
    if (!torch::cuda::is_available())
        LETHE_COMPARE_STR(errorMessage([] { resolveDevice("cuda"); }),
            "device 'cuda' asked for, but CUDA is not available (this LibTorch has no CUDA support or "
            "no GPU is visible); use --device cpu or auto");
}

void TestEval::findsResourcesBesideTheExecutable()
{
    const QByteArray savedOverride = qgetenv("LETHE_RESOURCE_DIR");
    const bool hadOverride = qEnvironmentVariableIsSet("LETHE_RESOURCE_DIR");
    qunsetenv("LETHE_RESOURCE_DIR");

    // This test runs from <build>/tests, so the data folder of "an installation" in the build folder is
    // <build>/share/lethe, as /usr/share/lethe is for /usr/bin.
    const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe");
    const std::filesystem::path data = executable.parent_path().parent_path() / "share" / "lethe";
    LETHE_COMPARE_STR(installedDataDir().string(), data.string());
    const std::vector<std::filesystem::path> roots = resourceRoots();
    QCOMPARE(roots.size(), std::size_t(2));
    LETHE_COMPARE_STR(roots[0].string(), (data / "resources").string());
    LETHE_COMPARE_STR(roots[1].string(), std::string(LETHE_SOURCE_RESOURCE_DIR));

    // Without an installed copy the source tree's file is used; with one, the installed file wins.
    const std::string builtin = std::string("models/") + kBuiltinEdmModel;
    LETHE_COMPARE_STR(resourceFile(builtin).string(), std::string(LETHE_SOURCE_RESOURCE_DIR) + "/" + builtin);
    const std::filesystem::path share = data.parent_path();
    if (std::filesystem::exists(share))
        QSKIP("the build folder has a share/ folder of its own; not touching it");
    struct RemoveShare {
        std::filesystem::path path;
        ~RemoveShare() { std::filesystem::remove_all(path); }
    } removeShare { share };
    lethe::test::writeBytes(data / "resources" / builtin, "installed");
    LETHE_COMPARE_STR(resourceFile(builtin).string(), (data / "resources" / builtin).string());

    LETHE_COMPARE_STR(errorMessage([] { resourceFile("models/missing.safetensors"); }),
        "built-in file models/missing.safetensors not found in " + (data / "resources").string() + ", "
            + LETHE_SOURCE_RESOURCE_DIR + " (install Lethe, or set LETHE_RESOURCE_DIR to the resources folder)");

    // LETHE_RESOURCE_DIR is the only place looked in when set, so a mistyped folder is reported, not bypassed.
    ScratchDir scratch;
    qputenv("LETHE_RESOURCE_DIR", QByteArray::fromStdString(scratch.path().string()));
    QCOMPARE(resourceRoots().size(), std::size_t(1));
    LETHE_COMPARE_STR(errorMessage([&] { resourceFile(builtin); }),
        "built-in file " + builtin + " not found in " + scratch.path().string() + " (from LETHE_RESOURCE_DIR)");
    lethe::test::writeBytes(scratch / builtin, "overridden");
    LETHE_COMPARE_STR(resourceFile(builtin).string(), (scratch / builtin).string());

    if (hadOverride)
        qputenv("LETHE_RESOURCE_DIR", savedOverride);
    else
        qunsetenv("LETHE_RESOURCE_DIR");
}

void TestEval::profileTraceRecordsOperatorsAndSumsSelfTime()
{
    // A real trace: every operator run while the recording lives, none after it.
    const test::ScratchDir dir;
    const std::string path = (dir / "trace.json").string();
    const torch::Tensor a = torch::randn({ 64, 64 });
    {
        const eval::ProfileTrace trace(path);
        for (int i = 0; i < 3; ++i)
            (void)torch::mm(a, a);
    }
    (void)torch::sigmoid(a);
    const std::string real = eval::summarizeProfileTrace(path);
    QVERIFY2(real.find(" 3  aten::mm\n") != std::string::npos, real.c_str());
    QVERIFY2(real.find("sigmoid") == std::string::npos, real.c_str());

    // Self time on a hand-written trace: outer 0-100 µs holds inner 10-40 and inner 50-60 on thread 1; another
    // outer on thread 2 overlaps it in time but is not nested in it.
    const std::string crafted = (dir / "crafted.json").string();
    test::writeBytes(crafted,
        R"([{"name":"outer","ph":"X","ts":0,"dur":100,"tid":1},
            {"name":"inner","ph":"X","ts":10,"dur":30,"tid":1},
            {"name":"inner","ph":"X","ts":50,"dur":10,"tid":1},
            {"name":"outer","ph":"X","ts":20,"dur":100,"tid":2},
            {"name":"marker","ph":"i","ts":5,"tid":1}])");
    const std::string summary = eval::summarizeProfileTrace(crafted, 2);
    const std::string expected = "     self ms   share    calls  operator\n"
                                 "         0.2   80.0%        2  outer\n"
                                 "         0.0   20.0%        2  inner\n"
                                 "         0.2  traced in all (outermost operators)\n";
    QCOMPARE(QString::fromStdString(summary), QString::fromStdString(expected));
}

void TestEval::profileSummaryRejectsBadTraces()
{
    const test::ScratchDir dir;
    const std::string missing = (dir / "missing.json").string();
    QCOMPARE(
        test::errorMessage([&] { eval::summarizeProfileTrace(missing); }), "cannot read the profile trace " + missing);
    const std::string truncated = (dir / "truncated.json").string();
    test::writeBytes(truncated, R"([{"name":"mm","ph":"X","ts":0,)");
    const std::string message = test::errorMessage([&] { eval::summarizeProfileTrace(truncated); });
    QVERIFY2(message.rfind("the profile trace " + truncated + " is not JSON: ", 0) == 0, message.c_str());
    const std::string object = (dir / "object.json").string();
    test::writeBytes(object, R"({"traceEvents": []})");
    QCOMPARE(test::errorMessage([&] { eval::summarizeProfileTrace(object); }),
        "the profile trace " + object + " is not a list of events");
    QCOMPARE(test::errorMessage([&] { eval::ProfileTrace trace((dir / "no/such/dir/t.json").string()); }),
        "cannot write the profile trace " + (dir / "no/such/dir/t.json").string());
}

QTEST_APPLESS_MAIN(TestEval)
#include "test_eval.moc"
