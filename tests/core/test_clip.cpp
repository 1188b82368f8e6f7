// CLIP as transformers' CLIPModel: the vision tower against a forward pass composed by hand from the file's
// tensors, the alignment score against the cosine computed by hand, CLIPImageProcessor's steps, and the
// messages for broken model folders.
#include "core/error.h"
#include "core/eval/clip_score.h"
#include "core/models/clip/clip_image_processor.h"
#include "core/models/clip/clip_model.h"
#include "core/nn/state_dict.h"
#include "python_reference.h"
#include "tensor_compare.h"
#include "test_support.h"
#include "tiny_clip.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;
using lethe::test::writeBytes;
using nlohmann::json;

namespace {

const std::array<double, 3> kMean { 0.48145466, 0.4578275, 0.40821073 };
const std::array<double, 3> kStd { 0.26862954, 0.26130258, 0.27577711 };

/// Layer norm over the last dimension, written out.
torch::Tensor layerNorm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias)
{
    const torch::Tensor mean = x.mean(-1, true);
    const torch::Tensor var = (x - mean).pow(2).mean(-1, true);
    return (x - mean) / torch::sqrt(var + 1e-5) * weight + bias;
}

/// CLIPVisionTransformer and visual_projection composed from the file's tensors. The encoder layers are the
/// model's own (the text model's layers, checked against a hand computation in test_sd_text), run without a mask.
torch::Tensor referenceImageFeatures(
    const test::ClipTensors& p, models::clip::ClipModelImpl& model, const torch::Tensor& pixels)
{
    const std::int64_t n = pixels.size(0);
    // Each 4×4 patch as a vector, in row-major patch order, times the convolution's weight.
    const std::int64_t side = test::kClipImage / test::kClipPatch;
    const torch::Tensor patches = pixels.view({ n, 3, side, test::kClipPatch, side, test::kClipPatch })
                                      .permute({ 0, 2, 4, 1, 3, 5 })
                                      .reshape({ n, side * side, 3 * test::kClipPatch * test::kClipPatch });
    const torch::Tensor patchWeight
        = p.at("vision_model.embeddings.patch_embedding.weight").reshape({ test::kClipWidth, -1 });
    torch::Tensor x = torch::cat({ p.at("vision_model.embeddings.class_embedding").expand({ n, 1, -1 }),
                                     torch::matmul(patches, patchWeight.t()) },
        1);
    x = x + p.at("vision_model.embeddings.position_embedding.weight");
    x = layerNorm(x, p.at("vision_model.pre_layrnorm.weight"), p.at("vision_model.pre_layrnorm.bias"));
    x = model.vision_model->encoder->forward(x, torch::Tensor());
    const torch::Tensor pooled = layerNorm(
        x.select(1, 0), p.at("vision_model.post_layernorm.weight"), p.at("vision_model.post_layernorm.bias"));
    return torch::matmul(pooled, p.at("visual_projection.weight").t());
}

/// Random uint8 images [n, 3, 8, 8].
torch::Tensor randomImages(std::int64_t n, std::uint64_t seed)
{
    torch::manual_seed(seed);
    return torch::randint(0, 256, { n, 3, test::kClipImage, test::kClipImage }).to(torch::kUInt8);
}

/// (value / 255 − mean) / std for channel c.
double normalised(double value, int c)
{
    return (value / 255.0 - kMean[static_cast<std::size_t>(c)]) / kStd[static_cast<std::size_t>(c)];
}

} // namespace

class TestClip : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesConfigAndNamesEveryTensorAsTransformers();
    void visionTowerMatchesHandComposition();
    void scoreIsTheCosineOfTheProjectedEmbeddings();
    void scoreIsTheSameBatchedAndUnbatched();
    void preprocessingMatchesHandComputation();
    void preprocessorConfigIsRead();
    void resizeIsPilBicubic_data();
    void resizeIsPilBicubic();
    void parityWithPythonReference();
    void loadFailures_data();
    void loadFailures();
};

void TestClip::parsesConfigAndNamesEveryTensorAsTransformers()
{
    const json config = test::tinyClipConfig(100);
    const models::clip::ClipModelOptions options = models::clip::clipModelOptionsFromJson(config, "config.json");
    QCOMPARE(options.projection_dim(), test::kClipProjection);
    QCOMPARE(options.text().hidden_act(), models::sd::ClipActivation::QuickGelu);
    QCOMPARE(options.vision().hidden_act(), models::sd::ClipActivation::Gelu);
    QCOMPARE(options.vision().image_size(), test::kClipImage);
    QCOMPARE(options.text().eos_token_id(), std::int64_t { 99 });

    models::clip::ClipModel model(options);
    std::map<std::string, std::vector<std::int64_t>> ours;
    for (const auto& named : nn::stateDict(*model))
        ours[named.name] = named.tensor.sizes().vec();
    std::map<std::string, std::vector<std::int64_t>> theirs;
    for (const auto& [name, shape] : test::tinyClipShapes(100))
        theirs[name] = shape;
    QCOMPARE(ours, theirs);
    QCOMPARE(model->vision_model->encoder->layers->size(), std::size_t { 2 });

    // Older files: *_config_dict entries override the tower's.
    json older = config;
    older["vision_config_dict"] = { { "hidden_act", "quick_gelu" } };
    QCOMPARE(models::clip::clipModelOptionsFromJson(older, "config.json").vision().hidden_act(),
        models::sd::ClipActivation::QuickGelu);
}

void TestClip::visionTowerMatchesHandComposition()
{
    ScratchDir dir;
    const test::ClipTensors tensors = test::writeTinyClipFolder(dir / "clip");
    models::clip::LoadedClip clip = models::clip::loadClip(dir / "clip");
    torch::NoGradGuard noGrad;
    torch::manual_seed(5);
    const torch::Tensor pixels = torch::randn({ 3, 3, test::kClipImage, test::kClipImage });
    const torch::Tensor features = clip.model->imageFeatures(pixels);
    const torch::Tensor expected = referenceImageFeatures(tensors, *clip.model, pixels);
    QCOMPARE(features.sizes().vec(), (std::vector<std::int64_t> { 3, test::kClipProjection }));
    QVERIFY2(torch::allclose(features, expected, 1e-5, 1e-5),
        qPrintable(QString::number((features - expected).abs().max().item<double>())));
    // The tensors in the file are what the model holds; the logit scale too.
    QCOMPARE(clip.model->logit_scale.item<float>(), tensors.at("logit_scale").item<float>());
    // The vision tower's MLP uses the vision config's activation, the text tower's its own.
    const auto* visionLayer = clip.model->vision_model->encoder->layers->ptr(0)->as<models::sd::ClipEncoderLayer>();
    const auto* textLayer = clip.model->text_model->encoder->layers->ptr(0)->as<models::sd::ClipEncoderLayer>();
    QCOMPARE(visionLayer->mlp->activation, models::sd::ClipActivation::Gelu);
    QCOMPARE(textLayer->mlp->activation, models::sd::ClipActivation::QuickGelu);

    // Another image size is refused with the expected shape.
    LETHE_COMPARE_STR(errorMessage([&] {
        clip.model->imageFeatures(torch::zeros({ 1, 3, 16, 16 }));
    }),
        "CLIP vision model: expected images [N, 3, 8, 8], found [1, 3, 16, 16]");
}

void TestClip::scoreIsTheCosineOfTheProjectedEmbeddings()
{
    ScratchDir dir;
    const test::ClipTensors tensors = test::writeTinyClipFolder(dir / "clip");
    models::clip::LoadedClip clip = models::clip::loadClip(dir / "clip");
    const torch::Tensor images = randomImages(2, 11);
    const std::vector<std::string> prompts { "a red shirt", "a photo of a cat" };
    const std::vector<double> scores = eval::clipAlignment(clip, images, prompts);
    QCOMPARE(scores.size(), std::size_t { 2 });

    torch::NoGradGuard noGrad;
    // By hand: normalise as CLIPImageProcessor (8×8 images need no resize or crop), embed both sides, cosine.
    const torch::Tensor mean = torch::tensor({ kMean[0], kMean[1], kMean[2] }).view({ 1, 3, 1, 1 });
    const torch::Tensor std = torch::tensor({ kStd[0], kStd[1], kStd[2] }).view({ 1, 3, 1, 1 });
    const torch::Tensor pixels = ((images.to(torch::kFloat64) / 255.0 - mean) / std).to(torch::kFloat32);
    const torch::Tensor imageEmbedding = referenceImageFeatures(tensors, *clip.model, pixels);
    const torch::Tensor ids = clip.tokenizer.encodeBatch(prompts);
    const models::sd::ClipTextOutput text = clip.model->text_model(ids);
    for (int i = 0; i < 2; ++i) {
        // The pooled output sits at the first EOS token.
        const std::int64_t eos = clip.tokenizer.eosId();
        std::int64_t position = 0;
        while (ids[i][position].item<std::int64_t>() != eos)
            ++position;
        QVERIFY(torch::equal(text.pooler_output[i], text.last_hidden_state[i][position]));
        const torch::Tensor textEmbedding
            = torch::matmul(text.last_hidden_state[i][position], tensors.at("text_projection.weight").t());
        const torch::Tensor a = imageEmbedding[i].to(torch::kFloat64);
        const torch::Tensor b = textEmbedding.to(torch::kFloat64);
        const double cosine = (a.dot(b) / (a.norm() * b.norm())).item<double>();
        QVERIFY2(std::abs(scores[static_cast<std::size_t>(i)] - cosine) < 1e-5,
            qPrintable(QStringLiteral("%1 vs %2").arg(scores[static_cast<std::size_t>(i)]).arg(cosine)));
        QVERIFY(std::abs(cosine) <= 1.0);
    }
    QCOMPARE(eval::meanClipAlignment(scores), (scores[0] + scores[1]) / 2.0);
    // A different prompt gives a different score for the same image.
    QVERIFY(std::abs(eval::clipAlignment(clip, images.narrow(0, 0, 1), { "a blue dress" })[0] - scores[0]) > 1e-4);

    LETHE_COMPARE_STR(errorMessage([&] { eval::clipAlignment(clip, images, { "a red shirt" }); }),
        "CLIP alignment: 2 images for 1 prompts; each image needs its prompt");
    LETHE_COMPARE_STR(errorMessage([&] { eval::meanClipAlignment({}); }), "CLIP alignment: no scores to average");
}

void TestClip::scoreIsTheSameBatchedAndUnbatched()
{
    ScratchDir dir;
    test::writeTinyClipFolder(dir / "clip");
    models::clip::LoadedClip clip = models::clip::loadClip(dir / "clip");
    const torch::Tensor images = randomImages(5, 12);
    const std::vector<std::string> prompts { "a red shirt", "a blue dress", "a green bag", "a red shirt", "a cat" };
    const std::vector<double> all = eval::clipAlignment(clip, images, prompts);
    eval::ClipScoreOptions byTwo;
    byTwo.batch = 2;
    const std::vector<double> pairs = eval::clipAlignment(clip, images, prompts, byTwo);
    QCOMPARE(pairs.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        const std::vector<double> one
            = eval::clipAlignment(clip, images.narrow(0, static_cast<std::int64_t>(i), 1), { prompts[i] });
        QVERIFY2(std::abs(one[0] - all[i]) < 1e-6, qPrintable(QStringLiteral("image %1").arg(i)));
        QVERIFY2(std::abs(pairs[i] - all[i]) < 1e-6, qPrintable(QStringLiteral("image %1").arg(i)));
    }
}

void TestClip::preprocessingMatchesHandComputation()
{
    const models::clip::ClipImageProcessing processing = models::clip::clipImageProcessing(8);
    // 8 high, 12 wide: the short side is already 8, so no resize; the crop keeps columns 2..9.
    torch::Tensor image = torch::zeros({ 1, 3, 8, 12 }, torch::kUInt8);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 12; ++x)
                image[0][c][y][x] = (c * 97 + y * 13 + x * 7) % 256;
    const torch::Tensor out = models::clip::preprocessClipImages(image, processing);
    QCOMPARE(out.sizes().vec(), (std::vector<std::int64_t> { 1, 3, 8, 8 }));
    QCOMPARE(out.scalar_type(), torch::kFloat32);
    for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) {
                const double expected = normalised((c * 97 + y * 13 + (x + 2) * 7) % 256, c);
                QVERIFY2(std::abs(out[0][c][y][x].item<double>() - expected) < 1e-5,
                    qPrintable(QStringLiteral("c %1 y %2 x %3").arg(c).arg(y).arg(x)));
            }

    // 16 high, 24 wide and flat: resized to 8 by 12 (still flat: bicubic weights sum to one), then cropped.
    const torch::Tensor flat = torch::full({ 2, 3, 16, 24 }, 100, torch::kUInt8);
    const torch::Tensor resized = models::clip::preprocessClipImages(flat, processing);
    QCOMPARE(resized.sizes().vec(), (std::vector<std::int64_t> { 2, 3, 8, 8 }));
    for (int c = 0; c < 3; ++c)
        QVERIFY(torch::allclose(resized.select(1, c), torch::full({ 2, 8, 8 }, normalised(100, c)), 1e-5, 1e-5));

    // A grey image is read as RGB.
    const torch::Tensor grey = torch::full({ 1, 1, 8, 8 }, 200, torch::kUInt8);
    const torch::Tensor rgb = models::clip::preprocessClipImages(grey, processing);
    for (int c = 0; c < 3; ++c)
        QVERIFY(torch::allclose(rgb.select(1, c), torch::full({ 1, 8, 8 }, normalised(200, c)), 1e-5, 1e-5));

    LETHE_COMPARE_STR(errorMessage([&] {
        models::clip::preprocessClipImages(torch::zeros({ 1, 3, 8, 8 }), processing);
    }),
        "CLIP image processor: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found Float [1, 3, 8, 8]");
}

void TestClip::preprocessorConfigIsRead()
{
    ScratchDir dir;
    test::writeTinyClipFolder(dir / "clip");
    writeBytes(dir / "clip" / "preprocessor_config.json",
        R"({"crop_size": {"height": 8, "width": 8}, "do_center_crop": true, "do_normalize": true, "do_resize": true,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25], "resample": 3,
            "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 8}})");
    const models::clip::LoadedClip clip = models::clip::loadClip(dir / "clip");
    QCOMPARE(clip.processing.mean, (std::array<double, 3> { 0.5, 0.5, 0.5 }));
    QCOMPARE(clip.processing.std, (std::array<double, 3> { 0.25, 0.25, 0.25 }));
    QCOMPARE(clip.processing.shortestEdge, std::int64_t { 8 });
    const torch::Tensor out
        = models::clip::preprocessClipImages(torch::full({ 1, 3, 8, 8 }, 51, torch::kUInt8), clip.processing);
    QVERIFY(torch::allclose(out, torch::full({ 1, 3, 8, 8 }, (0.2 - 0.5) / 0.25), 1e-5, 1e-5));

    writeBytes(dir / "clip" / "preprocessor_config.json", R"({"crop_size": 224})");
    LETHE_COMPARE_STR(errorMessage([&] { models::clip::loadClip(dir / "clip"); }),
        (dir / "clip" / "preprocessor_config.json").string()
            + ": key 'crop_size': expected 8 by 8 (vision_config.image_size), found 224 by 224");
}

void TestClip::resizeIsPilBicubic_data()
{
    // Input and output sizes (height, width), channels, images.
    QTest::addColumn<int>("inHeight");
    QTest::addColumn<int>("inWidth");
    QTest::addColumn<int>("outHeight");
    QTest::addColumn<int>("outWidth");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("count");
    // CIFAR-10 into OpenAI's CLIP: 32×32 up to 224×224.
    QTest::newRow("upscale 32 to 224") << 32 << 32 << 224 << 224 << 3 << 2;
    // 300 wide, 200 high, shortest edge 224: 336 by 224 (transformers' rule), as sized in preprocessing.
    QTest::newRow("300x200 shortest edge 224") << 200 << 300 << -1 << 224 << 3 << 1;
    // Shrinking widens the kernel by the scale.
    QTest::newRow("downscale 500x375 shortest edge 224") << 375 << 500 << -1 << 224 << 3 << 1;
    // Down in one direction, up in the other.
    QTest::newRow("non-square 53x37 to 20x71") << 53 << 37 << 20 << 71 << 3 << 1;
    QTest::newRow("only the height changes") << 32 << 40 << 24 << 40 << 3 << 1;
    QTest::newRow("grey 30x45 shortest edge 224") << 30 << 45 << -1 << 224 << 1 << 1;
}

void TestClip::resizeIsPilBicubic()
{
    QFETCH(int, inHeight);
    QFETCH(int, inWidth);
    QFETCH(int, outHeight);
    QFETCH(int, outWidth);
    QFETCH(int, channels);
    QFETCH(int, count);
    if (const std::string missing = test::pythonMissing({ "PIL.Image" }); !missing.empty())
        QSKIP(missing.c_str());
    torch::manual_seed(static_cast<std::uint64_t>(inHeight * 1000 + inWidth));
    const torch::Tensor images = torch::randint(0, 256, { count, channels, inHeight, inWidth }).to(torch::kUInt8);
    if (outHeight < 0) {
        // A shortest-edge row: the size preprocessClipImages computes, checked through preprocessing below.
        models::clip::ClipImageProcessing processing = models::clip::clipImageProcessing(outWidth);
        processing.centerCrop = false;
        processing.rescale = false;
        processing.normalize = false;
        const torch::Tensor pre = models::clip::preprocessClipImages(images, processing);
        const std::int64_t shortSide = std::min(inHeight, inWidth);
        const std::int64_t longSide = std::max(inHeight, inWidth);
        const auto scaled = static_cast<int>(outWidth * longSide / shortSide);
        outHeight = inHeight <= inWidth ? outWidth : scaled;
        outWidth = inHeight <= inWidth ? scaled : outWidth;
        QCOMPARE(pre.sizes().vec(), (std::vector<std::int64_t> { count, 3, outHeight, outWidth }));
        const torch::Tensor resized = models::clip::resizeBicubicLikePil(images, outHeight, outWidth);
        QVERIFY(torch::equal(pre, resized.to(torch::kFloat32).expand({ -1, 3, -1, -1 })));
    }
    const torch::Tensor ours = models::clip::resizeBicubicLikePil(images, outHeight, outWidth);
    QCOMPARE(ours.sizes().vec(), (std::vector<std::int64_t> { count, channels, outHeight, outWidth }));

    // PIL resizes each image from its interleaved bytes (mode RGB or L), as transformers hands it over.
    ScratchDir dir;
    QStringList arguments { QStringLiteral("-c"),
        QStringLiteral("import sys\n"
                       "from PIL import Image\n"
                       "bicubic = getattr(Image, 'Resampling', Image).BICUBIC\n"
                       "for spec in sys.argv[1:]:\n"
                       "    path, mode, w, h, ow, oh = spec.split('|')\n"
                       "    image = Image.frombytes(mode, (int(w), int(h)), open(path, 'rb').read())\n"
                       "    open(path + '.out', 'wb').write(image.resize((int(ow), int(oh)), bicubic).tobytes())\n") };
    for (int n = 0; n < count; ++n) {
        const torch::Tensor interleaved = images[n].permute({ 1, 2, 0 }).contiguous();
        const std::filesystem::path path = dir / ("image" + std::to_string(n));
        writeBytes(path,
            std::string(reinterpret_cast<const char*>(interleaved.data_ptr<std::uint8_t>()),
                static_cast<std::size_t>(interleaved.numel())));
        arguments << QStringLiteral("%1|%2|%3|%4|%5|%6")
                         .arg(QString::fromStdString(path.string()),
                             channels == 3 ? QStringLiteral("RGB") : QStringLiteral("L"))
                         .arg(inWidth)
                         .arg(inHeight)
                         .arg(outWidth)
                         .arg(outHeight);
    }
    const test::PythonResult pil = test::runPython(arguments);
    QVERIFY2(pil.exitCode == 0, pil.err.c_str());
    for (int n = 0; n < count; ++n) {
        const std::string bytes = test::readBytes(dir / ("image" + std::to_string(n) + ".out"));
        QCOMPARE(static_cast<std::int64_t>(bytes.size()), std::int64_t { outHeight } * outWidth * channels);
        const torch::Tensor expected
            = torch::from_blob(const_cast<char*>(bytes.data()), { outHeight, outWidth, channels }, torch::kUInt8)
                  .permute({ 2, 0, 1 });
        const torch::Tensor mine = ours[n];
        const std::int64_t differing = mine.ne(expected).sum().item<std::int64_t>();
        QVERIFY2(differing == 0,
            qPrintable(QStringLiteral("image %1: %2 of %3 bytes differ from PIL's, by up to %4")
                           .arg(n)
                           .arg(differing)
                           .arg(mine.numel())
                           .arg(test::maxAbsDifference(mine, expected))));
    }
}

void TestClip::parityWithPythonReference()
{
    if (const std::string missing = test::pythonMissing({ "torch", "numpy", "PIL.Image" }); !missing.empty())
        QSKIP(missing.c_str());
    ScratchDir dir;
    // 24-pixel images; the inputs are 32 high and 44 wide, so the short side is resized to 24 (44 → 33 wide) and
    // the centre crop keeps columns 4 to 27.
    constexpr std::int64_t kImageSize = 24;
    test::writeTinyClipFolder(dir / "clip", 3, {}, kImageSize);
    models::clip::LoadedClip clip = models::clip::loadClip(dir / "clip");
    torch::manual_seed(21);
    const torch::Tensor images = torch::randint(0, 256, { 3, 3, 32, 44 }).to(torch::kUInt8);
    const std::vector<std::string> prompts { "a red shirt", "a photo of a cat", "a blue dress by a green bag" };
    const torch::Tensor ids = clip.tokenizer.encodeBatch(prompts);
    io::writeSafetensors(dir / "inputs.safetensors", { { "input_ids", ids }, { "images", images } });

    const test::PythonResult reference = test::runPython({ QString::fromUtf8(
                                                               LETHE_SOURCE_DIR "/tests/reference/clip_reference.py"),
        QString::fromStdString((dir / "clip").string()), QString::fromStdString((dir / "inputs.safetensors").string()),
        QString::fromStdString((dir / "reference.safetensors").string()) });
    QVERIFY2(reference.exitCode == 0, reference.err.c_str());
    const io::SafetensorsFile expected(dir / "reference.safetensors");

    torch::NoGradGuard noGrad;
    const torch::Tensor pixels = models::clip::preprocessClipImages(images, clip.processing);
    const torch::Tensor imageFeatures = clip.model->imageFeatures(pixels);
    const torch::Tensor textFeatures = clip.model->textFeatures(ids);
    const torch::Tensor logits = clip.model->logit_scale.exp()
        * torch::matmul(
            torch::nn::functional::normalize(imageFeatures, torch::nn::functional::NormalizeFuncOptions().dim(-1)),
            torch::nn::functional::normalize(textFeatures, torch::nn::functional::NormalizeFuncOptions().dim(-1)).t());
    const auto relative = [&](const char* name, const torch::Tensor& ours) {
        const torch::Tensor theirs = expected.tensor(name);
        if (ours.sizes() != theirs.sizes())
            return std::numeric_limits<double>::infinity();
        const double difference = test::maxAbsDifference(ours, theirs);
        const double scale = theirs.abs().max().item<double>();
        qInfo("%s: max |Lethe − reference| = %.3g, max |reference| = %.3g, relative %.3g", name, difference, scale,
            difference / scale);
        return difference / scale;
    };
    // The pixels agree to float rounding: PIL's resize and ours give the same bytes.
    QVERIFY(relative("pixel_values", pixels) < 1e-6);
    QVERIFY(relative("image_features", imageFeatures) < 1e-4);
    QVERIFY(relative("text_features", textFeatures) < 1e-4);
    QVERIFY(relative("logits_per_image", logits) < 1e-4);
    // The alignment score is the diagonal's cosine.
    const std::vector<double> scores = eval::clipAlignment(clip, images, prompts);
    const torch::Tensor cosines = expected.tensor("logits_per_image").diagonal().to(torch::kFloat64)
        / clip.model->logit_scale.exp().item<double>();
    for (std::size_t i = 0; i < scores.size(); ++i)
        QVERIFY2(std::abs(scores[i] - cosines[static_cast<std::int64_t>(i)].item<double>()) < 1e-5,
            qPrintable(QStringLiteral("prompt %1: %2 vs %3")
                           .arg(i)
                           .arg(scores[i])
                           .arg(cosines[static_cast<std::int64_t>(i)].item<double>())));
}

void TestClip::loadFailures_data()
{
    QTest::addColumn<QString>("breakage");
    QTest::addColumn<QString>("message");
    QTest::newRow("no config") << "no config"
                               << "DIR: config.json: file not found (a CLIP model folder holds config.json, "
                                  "model.safetensors, vocab.json and merges.txt)";
    QTest::newRow("config not JSON") << "config not JSON"
                                     << "DIR/config.json: byte 11: invalid JSON";
    QTest::newRow("no vision_config") << "no vision_config"
                                      << "DIR/config.json: key 'vision_config': missing (a CLIPModel config.json "
                                         "holds \"text_config\" and \"vision_config\")";
    QTest::newRow("unknown hidden_act") << "unknown hidden_act"
                                        << "DIR/config.json (vision_config): key 'hidden_act': expected "
                                           "\"quick_gelu\", \"gelu\", \"gelu_new\" or \"gelu_pytorch_tanh\", found "
                                           "\"relu\"";
    QTest::newRow("patch does not divide") << "patch does not divide"
                                           << "DIR/config.json (vision_config): key 'patch_size': expected a "
                                              "divisor of image_size (8), found 3";
    QTest::newRow("config too large for the weights")
        << "config too large for the weights"
        << "DIR/model.safetensors: holds 17942 values, but DIR/config.json describes a network of at least "
           "640000017072 "
           "parameters: the config and the weights do not belong together (refused before allocating)";
    QTest::newRow("not a CLIPModel") << "not a CLIPModel"
                                     << "DIR/config.json: key 'model_type': expected \"clip\" (a CLIPModel), found "
                                        "\"siglip\"";
    QTest::newRow("no weights") << "no weights"
                                << "DIR: model.safetensors: file not found";
    QTest::newRow("only pytorch_model.bin") << "only pytorch_model.bin"
                                            << "DIR/pytorch_model.bin: pickled weights are not read, because loading "
                                               "a pickle can run code; convert them to model.safetensors, e.g. in "
                                               "Python: CLIPModel.from_pretrained(folder).save_pretrained(folder, "
                                               "safe_serialization=True)";
    QTest::newRow("missing tensor") << "missing tensor"
                                    << "DIR/model.safetensors: tensor 'visual_projection.weight': missing from the "
                                       "file (the model expects shape [8, 16])";
    QTest::newRow("extra tensor") << "extra tensor"
                                  << "DIR/model.safetensors: tensor 'vision_model.head.weight': unexpected: the "
                                     "model has no parameter or buffer of that name";
    QTest::newRow("wrong shape") << "wrong shape"
                                 << "DIR/model.safetensors: tensor 'text_projection.weight': expected shape [8, 16], "
                                    "found [8, 12]";
    QTest::newRow("wrong dtype") << "wrong dtype"
                                 << "DIR/model.safetensors: tensor 'vision_model.embeddings.class_embedding': "
                                    "expected dtype Float or a floating type convertible to it, found I64";
    QTest::newRow("truncated weights") << "truncated weights"
                                       << "DIR/model.safetensors: tensor 'text_model.embeddings.position_ids': "
                                          "data_offsets [71684, 71812] run past the end of the data region (71752 "
                                          "bytes)";
}

void TestClip::loadFailures()
{
    QFETCH(QString, breakage);
    QFETCH(QString, message);
    ScratchDir scratch;
    const std::filesystem::path dir = scratch / "clip";
    const std::string what = breakage.toStdString();
    std::function<void(std::vector<io::NamedTensor>&)> edit;
    if (what == "missing tensor")
        edit = [](auto& tensors) {
            tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                              [](const io::NamedTensor& t) { return t.name == "visual_projection.weight"; }),
                tensors.end());
        };
    else if (what == "extra tensor")
        edit = [](auto& tensors) { tensors.push_back({ "vision_model.head.weight", torch::zeros({ 2 }) }); };
    else if (what == "wrong shape")
        edit = [](auto& tensors) {
            for (auto& t : tensors)
                if (t.name == "text_projection.weight")
                    t.tensor = torch::zeros({ 8, 12 });
        };
    else if (what == "wrong dtype")
        edit = [](auto& tensors) {
            for (auto& t : tensors)
                if (t.name == "vision_model.embeddings.class_embedding")
                    t.tensor = torch::zeros({ test::kClipWidth }, torch::kInt64);
        };
    test::writeTinyClipFolder(dir, 3, edit);

    json config = json::parse(test::readBytes(dir / "config.json"));
    if (what == "no config")
        std::filesystem::remove(dir / "config.json");
    else if (what == "config not JSON")
        writeBytes(dir / "config.json", "{\"text\": [");
    else if (what == "no vision_config")
        config.erase("vision_config");
    else if (what == "unknown hidden_act")
        config["vision_config"]["hidden_act"] = "relu";
    else if (what == "patch does not divide")
        config["vision_config"]["patch_size"] = 3;
    else if (what == "not a CLIPModel")
        config["model_type"] = "siglip";
    else if (what == "config too large for the weights")
        config["vision_config"]["image_size"] = 800000; // 10^10 patches' position embeddings
    if (what != "no config" && what != "config not JSON")
        writeBytes(dir / "config.json", config.dump());
    if (what == "no weights" || what == "only pytorch_model.bin")
        std::filesystem::remove(dir / "model.safetensors");
    if (what == "only pytorch_model.bin")
        writeBytes(dir / "pytorch_model.bin", "PK\x03\x04 a pickle");
    if (what == "truncated weights") {
        const std::string bytes = test::readBytes(dir / "model.safetensors");
        writeBytes(dir / "model.safetensors", bytes.substr(0, bytes.size() - 100));
    }

    const std::string expected = message.toStdString();
    std::string actual = errorMessage([&] { models::clip::loadClip(dir); });
    const std::string path = dir.string();
    for (std::size_t at = actual.find(path); at != std::string::npos; at = actual.find(path))
        actual.replace(at, path.size(), "DIR");
    LETHE_COMPARE_STR(actual, expected);
}

QTEST_APPLESS_MAIN(TestClip)
#include "test_clip.moc"
