// The literature's measures (eval/zero_shot_clip, eval/fid, eval/literature_measures, eval/measure_cache):
// zero-shot CLIP as the argmax of exp(logit_scale)·cos against "a photo of a {name}" and "random noise", UA/RA with
// the noise label, FID against .npz reference statistics and their refusals, the figures' JSON round trip, and the
// measure cache's hits, misses and damaged entries, of figures and of preview images.
#include "core/error.h"
#include "core/eval/literature_measures.h"
#include "core/eval/measure_cache.h"
#include "core/eval/preview_cache.h"
#include "core/io/npz.h"
#include "core/io/safetensors.h"
#include "core/models/clip/clip_image_processor.h"
#include "test_support.h"
#include "tiny_clip.h"
#include "tiny_edm.h"
#include "tiny_inception.h"

#include <QtTest>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <sstream>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

namespace {

/// The warnings logged while it lives, one a line without spdlog's prefix.
class WarningLog {
public:
    WarningLog()
        : m_sink(std::make_shared<spdlog::sinks::ostream_sink_mt>(m_text))
    {
        m_sink->set_pattern("%v");
        m_sink->set_level(spdlog::level::warn);
        spdlog::default_logger()->sinks().push_back(m_sink);
    }
    ~WarningLog()
    {
        auto& sinks = spdlog::default_logger()->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), m_sink), sinks.end());
    }
    /// The warnings since the last take().
    std::string take()
    {
        std::string text = m_text.str();
        m_text.str({});
        return text;
    }

private:
    std::ostringstream m_text;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> m_sink;
};

} // namespace

class TestLiterature : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void zeroShotIsTheArgmaxOfTheScaledCosines();
    void noiseLabelCountsForNoClass();
    void zeroShotRefusesWhatItCannotPrompt();
    void fidIsZeroAgainstTheImagesOwnStatistics();
    void fidReferenceFailures_data();
    void fidReferenceFailures();
    void figuresRoundTripThroughJson();
    void cacheHitsOnlyTheSameKey();
    void previewImagesFromTheCache();

private:
    ScratchDir m_dir;
};

void TestLiterature::zeroShotIsTheArgmaxOfTheScaledCosines()
{
    test::writeTinyClipFolder(m_dir.path() / "clip");
    eval::ZeroShotClip zs = eval::makeZeroShotClip(models::clip::loadClip(m_dir.path() / "clip"), { "cat", "shirt" });
    QCOMPARE(zs.labels, (std::vector<std::string> { "cat", "shirt", "random noise" }));
    QCOMPARE(zs.prompts,
        (std::vector<std::string> { "a photo of a cat", "a photo of a shirt", "a photo of a random noise" }));
    QCOMPARE(zs.sha256.size(), std::size_t { 64 });

    torch::manual_seed(5);
    const torch::Tensor images = torch::randint(0, 256, { 6, 3, 12, 12 }).to(torch::kUInt8);
    const torch::Tensor logits = eval::zeroShotLogits(zs, images, 4); // Two batches.
    QCOMPARE(logits.sizes().vec(), (std::vector<std::int64_t> { 6, 3 }));

    // By hand: the towers' projected features, L2-normalised, their dot products scaled by exp(logit_scale).
    torch::NoGradGuard noGrad;
    auto& model = zs.clip.model;
    const auto unit = [](const torch::Tensor& x) { return x / x.norm(2, -1, true); };
    const torch::Tensor image
        = unit(model->imageFeatures(models::clip::preprocessClipImages(images, zs.clip.processing)));
    const torch::Tensor text = unit(model->textFeatures(zs.clip.tokenizer.encodeBatch(zs.prompts)));
    const torch::Tensor expected = model->logit_scale.exp() * image.matmul(text.t());
    QVERIFY2(torch::allclose(logits, expected, 1e-5, 1e-5), "logits are not exp(scale)·cos");
    QVERIFY(torch::equal(eval::zeroShotClassify(zs, images), expected.argmax(1)));
}

void TestLiterature::noiseLabelCountsForNoClass()
{
    test::writeTinyClipFolder(m_dir.path() / "clip2", 9);
    eval::LiteratureInstruments instruments;
    instruments.clip = eval::makeZeroShotClip(models::clip::loadClip(m_dir.path() / "clip2"), { "a", "b", "c" });
    torch::manual_seed(2);
    const torch::Tensor images = torch::randint(0, 256, { 30, 3, 8, 8 }).to(torch::kUInt8);
    const torch::Tensor generatedFor = torch::arange(3).repeat_interleave(10);
    const torch::Tensor predicted = eval::zeroShotClassify(*instruments.clip, images);
    const auto m = eval::measureLiterature(instruments, images, generatedFor, 3, 1);
    QVERIFY(m.clip && m.clip->unlearning && !m.fid);

    // Counted by hand: label 3 is the noise label.
    std::int64_t forgottenAsItself = 0;
    std::int64_t othersCorrect = 0;
    std::vector<std::int64_t> noise(3, 0);
    for (std::int64_t i = 0; i < 30; ++i) {
        const auto p = predicted[i].item<std::int64_t>();
        const auto g = generatedFor[i].item<std::int64_t>();
        if (p == 3)
            ++noise[static_cast<std::size_t>(g)];
        if (g == 1 && p == 1)
            ++forgottenAsItself;
        if (g != 1 && p == g)
            ++othersCorrect;
    }
    QCOMPARE(m.clip->noise, noise);
    QCOMPARE(m.clip->unlearning->ua, 1.0 - static_cast<double>(forgottenAsItself) / 10.0);
    QCOMPARE(m.clip->unlearning->ra, static_cast<double>(othersCorrect) / 20.0);
    QCOMPARE(m.clip->accuracy.accuracy.size(), std::size_t { 3 });
}

void TestLiterature::zeroShotRefusesWhatItCannotPrompt()
{
    test::writeTinyClipFolder(m_dir.path() / "clip3");
    LETHE_COMPARE_STR(errorMessage([&] { eval::makeZeroShotClip(models::clip::loadClip(m_dir.path() / "clip3"), {}); }),
        "zero-shot CLIP: the model names no classes (its file's \"classes\" is empty)");
    LETHE_COMPARE_STR(errorMessage([&] {
        eval::makeZeroShotClip(models::clip::loadClip(m_dir.path() / "clip3"), { "cat", "" });
    }),
        "zero-shot CLIP: class 1 has an empty name");
    eval::LiteratureInstruments instruments;
    instruments.clip = eval::makeZeroShotClip(models::clip::loadClip(m_dir.path() / "clip3"), { "cat", "dog" });
    const torch::Tensor images = torch::zeros({ 3, 3, 8, 8 }, torch::kUInt8);
    LETHE_COMPARE_STR(errorMessage([&] {
        eval::measureLiterature(instruments, images, torch::tensor({ 0, 1, 2 }), 3, std::nullopt);
    }),
        "zero-shot CLIP: prepared for 2 classes, the model has 3");
}

void TestLiterature::fidIsZeroAgainstTheImagesOwnStatistics()
{
    const auto detector = m_dir.path() / "inception.safetensors";
    test::writeRandomInception(detector);
    torch::manual_seed(4);
    const torch::Tensor images = torch::randint(0, 256, { 6, 3, 32, 32 }).to(torch::kUInt8);
    auto inception = models::inception::loadFidInception(detector);
    const torch::Tensor features = inception.net->features(images);
    const auto reference = m_dir.path() / "ref.npz";
    eval::writeFidReference(reference, eval::featureStatistics(features));
    const eval::FeatureStatistics read = eval::readFidReference(reference);
    QVERIFY(torch::equal(read.mean, eval::featureStatistics(features).mean));

    eval::LiteratureInstruments instruments;
    instruments.fid = eval::loadFidInstrument(detector, reference, models::inception::FidResize::Edm, torch::kCPU);
    const torch::Tensor labels = torch::tensor({ 0, 0, 0, 1, 1, 1 });
    const auto m = eval::measureLiterature(instruments, images, labels, 2, 1);
    QVERIFY(m.fid && m.fid->remain && m.fid->forget);
    QVERIFY2(std::abs(m.fid->all) < 1e-3, std::to_string(m.fid->all).c_str());
    QCOMPARE(m.fid->remainImages, std::int64_t { 3 });
    QCOMPARE(m.fid->forgetImages, std::int64_t { 3 });
    // Half of the images against all of them: a clear distance, the same as computing it by hand.
    const double byHand = eval::frechetDistance(eval::featureStatistics(features.slice(0, 0, 3)), read);
    QCOMPARE(*m.fid->remain, byHand);
    QVERIFY2(*m.fid->remain > 100.0 * std::abs(m.fid->all),
        (std::to_string(*m.fid->remain) + " against " + std::to_string(m.fid->all)).c_str());
    LETHE_COMPARE_STR(instruments.describe().at("fid").at("resize").get<std::string>(), "edm");
}

void TestLiterature::fidReferenceFailures_data()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("message");
    QTest::newRow("no sigma") << 0
                              << "%1: array 'sigma': missing (FID reference statistics hold 'mu' and 'sigma', as "
                                 "EDM's `fid.py ref` writes them)";
    QTest::newRow("wrong dimension") << 1
                                     << "%1: array 'mu': expected shape [2048] (the Inception detector's 2048 pool "
                                        "features), found [512]";
    QTest::newRow("sigma not square") << 2
                                      << "%1: array 'sigma': expected shape [2048, 2048] (the Inception detector's "
                                         "2048 pool features), found [2048, 2047]";
    QTest::newRow("integer values") << 3 << "%1: array 'mu': expected floating-point values, found Long";
    QTest::newRow("not finite") << 4 << "%1: array 'sigma': holds values that are not finite";
}

void TestLiterature::fidReferenceFailures()
{
    QFETCH(int, kind);
    QFETCH(QString, message);
    const auto file = m_dir.path() / ("bad" + std::to_string(kind) + ".npz");
    torch::Tensor mu = torch::zeros({ 2048 }, torch::kFloat64);
    torch::Tensor sigma = torch::eye(2048, torch::kFloat64);
    std::vector<std::pair<std::string, torch::Tensor>> arrays;
    if (kind == 1)
        mu = torch::zeros({ 512 }, torch::kFloat64);
    if (kind == 2)
        sigma = torch::zeros({ 2048, 2047 }, torch::kFloat64);
    if (kind == 3)
        mu = torch::zeros({ 2048 }, torch::kInt64);
    if (kind == 4)
        sigma[3][3] = std::nan("");
    arrays.emplace_back("mu", mu);
    if (kind != 0)
        arrays.emplace_back("sigma", sigma);
    io::writeNpz(file, arrays);
    QCOMPARE(QString::fromStdString(errorMessage([&] { eval::readFidReference(file); })),
        message.arg(QString::fromStdString(file.string())));
}

void TestLiterature::figuresRoundTripThroughJson()
{
    eval::LiteratureMeasures m;
    eval::ZeroShotMeasure z;
    z.accuracy = eval::perClassAccuracy(torch::tensor({ 0, 1, 1, 1 }), torch::tensor({ 0, 0, 1, 1 }), 2);
    z.noise = { 1, 0 };
    z.unlearning = eval::unlearningScores(torch::tensor({ 0, 1, 1, 1 }), torch::tensor({ 0, 0, 1, 1 }), 0, 2);
    m.clip = z;
    m.fid = eval::FidMeasure { 12.5, 10.25, 80.0, 900, 100 };
    const nlohmann::json json = eval::toJson(m, { "plane", "car" });
    QCOMPARE(json.at("clip_zero_shot").at("unlearning").at("UA").get<double>(), 0.5);
    QCOMPARE(json.at("FID").at("remain").get<double>(), 10.25);
    const eval::LiteratureMeasures back = eval::literatureMeasuresFromJson(json);
    QCOMPARE(eval::toJson(back, { "plane", "car" }), json);
    LETHE_COMPARE_STR(errorMessage([] {
        eval::literatureMeasuresFromJson({ { "FID", { { "all", "x" } } } });
    }).substr(0, 42),
        "literature measures: malformed JSON: [json");
}

void TestLiterature::cacheHitsOnlyTheSameKey()
{
    const eval::MeasureCache cache(m_dir.path() / "cache");
    const nlohmann::json key = { { "model_sha256", "ab" }, { "seeds", 10 } };
    const nlohmann::json figures = { { "UA", 0.25 } };
    QVERIFY(!cache.read(key));
    cache.write(key, figures);
    QVERIFY(std::filesystem::exists(cache.fileFor(key)));
    QCOMPARE(*cache.read(key), figures);
    QVERIFY(!cache.read({ { "model_sha256", "ab" }, { "seeds", 11 } }));
    // An entry whose stored key differs (edited, or a collision) is not used; neither is a damaged file.
    test::writeBytes(
        cache.fileFor(key), nlohmann::json({ { "key", { { "other", 1 } } }, { "figures", figures } }).dump());
    QVERIFY(!cache.read(key));
    test::writeBytes(cache.fileFor(key), "{\"key\":");
    QVERIFY(!cache.read(key));
    const eval::MeasureCache disabled { std::filesystem::path() };
    disabled.write(key, figures);
    QVERIFY(!disabled.enabled() && !disabled.read(key));
}

void TestLiterature::previewImagesFromTheCache()
{
    const eval::MeasureCache cache(m_dir.path() / "preview-cache");
    torch::manual_seed(11);
    models::EDMPrecond net = models::makeEdmPrecond(models::toJson(test::tinyCifarOptions()));
    diffusion::ClassSamplingRequest request;
    request.classes = { 0, 1 };
    request.seeds = { 0, 1 };
    request.sampler.steps = 2;
    const torch::Device cpu(torch::kCPU);
    const torch::Tensor drawn = diffusion::sampleClasses(net, request, cpu).value();
    const nlohmann::json key = eval::classImagesKey("ab", request, cpu);
    const std::filesystem::path file = cache.imagesFileFor(key);
    QCOMPARE(key.at("device").get<std::string>(), std::string("cpu"));
    QVERIFY(!key.contains("allow_tf32")); // Only CUDA rounds through TF32.
    WarningLog log;
    // Each call to the sampler reports its progress: a hit reports none.
    int sampled = 0;
    const auto countSampling = [&](std::int64_t done, std::int64_t total) {
        sampled += done == total ? 1 : 0;
        return true;
    };
    const auto cached = [&](const diffusion::ClassSamplingRequest& r) {
        sampled = 0;
        return eval::sampleClassesCached(cache, "ab", net, r, cpu, countSampling).value();
    };

    // A miss draws and stores, losslessly; the same request then reads the file, bit for bit.
    QVERIFY(!eval::cachedClassImages(cache, "ab", net, request, cpu));
    QVERIFY(torch::equal(cached(request), drawn));
    QCOMPARE(sampled, 1);
    QVERIFY(std::filesystem::exists(file));
    QVERIFY(torch::equal(eval::cachedClassImages(cache, "ab", net, request, cpu).value(), drawn));
    QVERIFY(torch::equal(cached(request), drawn));
    QCOMPARE(sampled, 0);
    LETHE_COMPARE_STR(log.take(), "");

    // Another model, seed, sampler setting or batch is another key: a miss.
    diffusion::ClassSamplingRequest otherSeeds = request;
    otherSeeds.seeds = { 0, 2 };
    diffusion::ClassSamplingRequest otherSteps = request;
    otherSteps.sampler.steps = 3;
    diffusion::ClassSamplingRequest otherBatch = request;
    otherBatch.batch = 3;
    QVERIFY(!eval::cachedClassImages(cache, "cd", net, request, cpu));
    for (const auto& other : { otherSeeds, otherSteps, otherBatch })
        QVERIFY(!eval::cachedClassImages(cache, "ab", net, other, cpu));
    QVERIFY(!torch::equal(cached(otherSeeds), drawn));
    QCOMPARE(sampled, 1);
    LETHE_COMPARE_STR(log.take(), "");

    // A damaged file, one written for another key, or images of another shape or type: ignored with a warning, drawn
    // again and stored over it.
    const auto expectRedrawn = [&](const std::string& warning) {
        QVERIFY(!eval::cachedClassImages(cache, "ab", net, request, cpu));
        LETHE_COMPARE_STR(log.take(), "measure cache: ignoring " + file.string() + " (" + warning + ")\n");
        QVERIFY(torch::equal(cached(request), drawn));
        QCOMPARE(sampled, 1);
        log.take();
        QVERIFY(torch::equal(cached(request), drawn));
        QCOMPARE(sampled, 0);
    };
    test::writeBytes(file, "{\"key\":");
    expectRedrawn(errorMessage([&] { io::SafetensorsFile { file }; }).insert(0, "unreadable: "));
    io::writeSafetensors(file, { { "images", drawn } }, { { "key", nlohmann::json { { "other", 1 } }.dump() } });
    expectRedrawn("written for another key");
    io::writeSafetensors(file, { { "images", drawn.slice(0, 0, 3) } }, { { "key", key.dump() } });
    expectRedrawn("images of type U8 and shape [3, 3, 32, 32], expected U8 [4, 3, 32, 32]");
    io::writeSafetensors(file, { { "images", drawn.to(torch::kFloat32) } }, { { "key", key.dump() } });
    expectRedrawn("images of type F32 and shape [4, 3, 32, 32], expected U8 [4, 3, 32, 32]");
    io::writeSafetensors(file, { { "pixels", drawn } }, { { "key", key.dump() } });
    expectRedrawn("unreadable: " + errorMessage([&] { io::SafetensorsFile(file).entry("images"); }));

    // A disabled cache draws every time and writes nothing.
    const eval::MeasureCache disabled { std::filesystem::path() };
    sampled = 0;
    QVERIFY(torch::equal(eval::sampleClassesCached(disabled, "ab", net, request, cpu, countSampling).value(), drawn));
    QCOMPARE(sampled, 1);
    disabled.writeImages(key, drawn);
    QVERIFY(!disabled.readImages(key, { 4, 3, 32, 32 }));
}

QTEST_APPLESS_MAIN(TestLiterature)
#include "test_literature.moc"
