// FID's Inception-v3 (models/inception): pytorch-fid's state-dict names, both input preparations against bilinear
// sampling computed by hand, batching, the loader's refusals with their exact messages, and parity with an
// independent PyTorch reference (tests/reference/inception_reference.py) on random weights and images.
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"
#include "core/models/inception/fid_inception.h"
#include "core/nn/state_dict.h"
#include "python_reference.h"
#include "tensor_compare.h"
#include "tensor_files.h"
#include "test_support.h"
#include "tiny_inception.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

using namespace lethe;
using lethe::models::inception::FidResize;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

namespace {

constexpr std::int64_t kSide = models::inception::kInceptionInputSize;

bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Random weights (tiny_inception.h) plus what pytorch-fid's own file has and the loader skips: the classifier head
/// and a step counter.
std::vector<io::NamedTensor> randomWeights(std::uint64_t seed)
{
    std::vector<io::NamedTensor> tensors = test::randomInceptionWeights(seed);
    tensors.push_back({ "Conv2d_1a_3x3.bn.num_batches_tracked", torch::tensor(7, torch::kInt64) });
    tensors.push_back({ "fc.weight", torch::randn({ 1008, 2048 }).to(torch::kFloat16) });
    tensors.push_back({ "fc.bias", torch::randn({ 1008 }).to(torch::kFloat16) });
    return tensors;
}

/// Random uint8 images.
torch::Tensor randomImages(std::vector<std::int64_t> shape, std::uint64_t seed)
{
    torch::manual_seed(seed);
    return torch::randint(0, 256, shape).to(torch::kUInt8);
}

/// Bilinear sample of `plane` [H, W] at pixel coordinates (y, x), each clamped to the image first (what border
/// padding and PyTorch's clamping of negative source indices both do).
double bilinearAt(const torch::Tensor& plane, double y, double x)
{
    const auto a = plane.accessor<float, 2>();
    const auto height = static_cast<double>(plane.size(0));
    const auto width = static_cast<double>(plane.size(1));
    y = std::clamp(y, 0.0, height - 1);
    x = std::clamp(x, 0.0, width - 1);
    const auto y0 = static_cast<std::int64_t>(std::floor(y));
    const auto x0 = static_cast<std::int64_t>(std::floor(x));
    const std::int64_t y1 = std::min<std::int64_t>(y0 + 1, plane.size(0) - 1);
    const std::int64_t x1 = std::min<std::int64_t>(x0 + 1, plane.size(1) - 1);
    const double wy = y - static_cast<double>(y0);
    const double wx = x - static_cast<double>(x0);
    return (1 - wy) * ((1 - wx) * a[y0][x0] + wx * a[y0][x1]) + wy * ((1 - wx) * a[y1][x0] + wx * a[y1][x1]);
}

/// max |a − b| / max |b|.
double relativeDifference(const torch::Tensor& a, const torch::Tensor& b)
{
    return test::maxAbsDifference(a, b) / b.abs().max().item<double>();
}

std::string resizeName(FidResize resize)
{
    return resize == FidResize::Edm ? "edm" : "pytorch-fid";
}

} // namespace

class TestInception : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void namesAndShapesArePytorchFids();
    void edmInputIsTensorFlowsLegacyResize();
    void pytorchFidInputIsHalfPixelBilinear();
    void featuresHaveTheExpectedShape();
    void batchingAndGreyImagesGiveTheSameFeatures();
    void refusesImagesItCannotRead();
    void loaderReadsTheFileAndSkipsTheHead();
    void loadFailures_data();
    void loadFailures();
    void parityWithPythonReference();

private:
    /// Features of m_images[name] by the loaded network, computed once per resize.
    const torch::Tensor& features(const std::string& name, FidResize resize);

    ScratchDir m_scratch;
    std::vector<io::NamedTensor> m_weights;
    std::filesystem::path m_weightsFile;
    models::inception::LoadedInception m_loaded;
    std::map<std::string, torch::Tensor> m_images;
    std::map<std::string, torch::Tensor> m_features;
};

void TestInception::initTestCase()
{
    m_weights = randomWeights(1);
    m_weightsFile = m_scratch / "inception.safetensors";
    io::writeSafetensors(m_weightsFile, m_weights);
    m_loaded = models::inception::loadFidInception(m_weightsFile);
    m_images["rgb32"] = randomImages({ 2, 3, 32, 32 }, 2);
    m_images["grey28"] = randomImages({ 1, 1, 28, 28 }, 3);
}

const torch::Tensor& TestInception::features(const std::string& name, FidResize resize)
{
    const std::string key = resizeName(resize) + "/" + name;
    if (m_features.count(key) == 0)
        m_features[key] = m_loaded.net->features(m_images.at(name), resize);
    return m_features.at(key);
}

void TestInception::namesAndShapesArePytorchFids()
{
    const models::inception::FidInception net;
    std::map<std::string, std::vector<std::int64_t>> shapes;
    for (const auto& named : nn::stateDict(*net))
        shapes[named.name] = named.tensor.sizes().vec();
    // 94 BasicConv2d: a convolution weight and four batch-norm tensors each.
    QCOMPARE(shapes.size(), std::size_t { 94 * 5 });
    using Shape = std::vector<std::int64_t>;
    QCOMPARE(shapes.at("Conv2d_1a_3x3.conv.weight"), (Shape { 32, 3, 3, 3 }));
    QCOMPARE(shapes.at("Conv2d_1a_3x3.bn.running_var"), (Shape { 32 }));
    QCOMPARE(shapes.at("Mixed_5b.branch_pool.conv.weight"), (Shape { 32, 192, 1, 1 }));
    QCOMPARE(shapes.at("Mixed_6b.branch7x7_2.conv.weight"), (Shape { 128, 128, 1, 7 }));
    QCOMPARE(shapes.at("Mixed_6e.branch7x7dbl_5.conv.weight"), (Shape { 192, 192, 1, 7 }));
    QCOMPARE(shapes.at("Mixed_7a.branch7x7x3_4.conv.weight"), (Shape { 192, 192, 3, 3 }));
    QCOMPARE(shapes.at("Mixed_7b.branch3x3dbl_3b.conv.weight"), (Shape { 384, 384, 3, 1 }));
    QCOMPARE(shapes.at("Mixed_7c.branch1x1.conv.weight"), (Shape { 320, 2048, 1, 1 }));
    QVERIFY(shapes.count("Conv2d_1a_3x3.bn.num_batches_tracked") == 0);
}

void TestInception::edmInputIsTensorFlowsLegacyResize()
{
    // The detector's affine grid puts output pixel (i, j) at input pixel (i·H/299, j·W/299) (pixel centres, border
    // clamped): TensorFlow 1's resize_bilinear without half-pixel centres. H ≠ W so that a swap shows.
    const torch::Tensor images = randomImages({ 1, 3, 32, 28 }, 4);
    const torch::Tensor input = models::inception::inceptionInput(images, FidResize::Edm);
    QCOMPARE(input.sizes().vec(), (std::vector<std::int64_t> { 1, 3, kSide, kSide }));
    QCOMPARE(input.scalar_type(), torch::kFloat32);
    const torch::Tensor plane = images[0][1].to(torch::kFloat32);
    for (const auto& [i, j] : std::vector<std::pair<int, int>> { { 0, 0 }, { 150, 77 }, { 298, 298 }, { 10, 290 } }) {
        const double expected = (bilinearAt(plane, i * 32.0 / kSide, j * 28.0 / kSide) - 128.0) / 128.0;
        const double actual = input[0][1][i][j].item<double>();
        QVERIFY2(std::abs(actual - expected) < 1e-5,
            qPrintable(QStringLiteral("(%1, %2): %3 vs %4").arg(i).arg(j).arg(actual).arg(expected)));
    }
    // At 299×299 the grid lands on the pixels themselves.
    const torch::Tensor full = randomImages({ 1, 3, kSide, kSide }, 5);
    const torch::Tensor same = models::inception::inceptionInput(full, FidResize::Edm);
    // (affine_grid's float32 coordinates miss the centres by ~1e-5 pixel.)
    const double offCentre = test::maxAbsDifference(same, (full.to(torch::kFloat32) - 128) / 128);
    QVERIFY2(offCentre < 1e-4, qPrintable(QString::number(offCentre)));
}

void TestInception::pytorchFidInputIsHalfPixelBilinear()
{
    const torch::Tensor images = randomImages({ 1, 3, 32, 28 }, 6);
    const torch::Tensor input = models::inception::inceptionInput(images, FidResize::PytorchFid);
    QCOMPARE(input.sizes().vec(), (std::vector<std::int64_t> { 1, 3, kSide, kSide }));
    const torch::Tensor plane = images[0][2].to(torch::kFloat32);
    for (const auto& [i, j] : std::vector<std::pair<int, int>> { { 0, 0 }, { 150, 77 }, { 298, 298 }, { 10, 290 } }) {
        const double y = (i + 0.5) * 32.0 / kSide - 0.5;
        const double x = (j + 0.5) * 28.0 / kSide - 0.5;
        const double expected = 2.0 * bilinearAt(plane, y, x) / 255.0 - 1.0;
        const double actual = input[0][2][i][j].item<double>();
        QVERIFY2(std::abs(actual - expected) < 1e-5,
            qPrintable(QStringLiteral("(%1, %2): %3 vs %4").arg(i).arg(j).arg(actual).arg(expected)));
    }
    const torch::Tensor full = randomImages({ 1, 3, kSide, kSide }, 7);
    const torch::Tensor same = models::inception::inceptionInput(full, FidResize::PytorchFid);
    QVERIFY(test::maxAbsDifference(same, full.to(torch::kFloat32) / 127.5 - 1) < 1e-5);
}

void TestInception::featuresHaveTheExpectedShape()
{
    for (const FidResize resize : { FidResize::Edm, FidResize::PytorchFid }) {
        for (const auto& [name, images] : m_images) {
            const torch::Tensor& f = features(name, resize);
            QCOMPARE(
                f.sizes().vec(), (std::vector<std::int64_t> { images.size(0), models::inception::kFidFeatureDim }));
            QCOMPARE(f.scalar_type(), torch::kFloat32);
            QVERIFY(!f.requires_grad());
            QVERIFY(torch::isfinite(f).all().item<bool>());
            // ReLU features averaged over the map: non-negative, and not all zero.
            QVERIFY(f.min().item<double>() >= 0);
            QVERIFY(f.max().item<double>() > 0);
        }
    }
    // Different images give different features; so do the two preparations of the same images.
    const torch::Tensor& edm = features("rgb32", FidResize::Edm);
    QVERIFY(relativeDifference(edm[0], edm[1]) > 1e-2);
    QVERIFY(relativeDifference(features("rgb32", FidResize::PytorchFid), edm) > 1e-3);
    // No images, no features.
    const torch::Tensor none = m_loaded.net->features(torch::zeros({ 0, 3, 32, 32 }, torch::kUInt8));
    QCOMPARE(none.sizes().vec(), (std::vector<std::int64_t> { 0, models::inception::kFidFeatureDim }));
}

void TestInception::batchingAndGreyImagesGiveTheSameFeatures()
{
    const torch::Tensor one = m_loaded.net->features(m_images.at("rgb32"), FidResize::Edm, 1);
    const double batched = relativeDifference(one, features("rgb32", FidResize::Edm));
    qInfo("batches of 1 vs 2: max relative difference %.3g", batched);
    QVERIFY(batched < 1e-5);
    // A grey image is the RGB image with three equal channels.
    const torch::Tensor grey = m_images.at("grey28");
    const torch::Tensor rgb = m_loaded.net->features(grey.repeat({ 1, 3, 1, 1 }), FidResize::PytorchFid);
    QVERIFY(relativeDifference(rgb, features("grey28", FidResize::PytorchFid)) < 1e-5);
}

void TestInception::refusesImagesItCannotRead()
{
    auto& net = *m_loaded.net;
    LETHE_COMPARE_STR(errorMessage([&] {
        net.features(torch::zeros({ 1, 3, 8, 8 }));
    }),
        "Inception: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found Float [1, 3, 8, 8]");
    LETHE_COMPARE_STR(errorMessage([&] {
        net.features(torch::zeros({ 1, 2, 8, 8 }, torch::kUInt8));
    }),
        "Inception: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found Byte [1, 2, 8, 8]");
    LETHE_COMPARE_STR(errorMessage([&] {
        net.features(torch::zeros({ 3, 8, 8 }, torch::kUInt8));
    }),
        "Inception: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found Byte [3, 8, 8]");
    LETHE_COMPARE_STR(errorMessage([&] {
        net.features(torch::zeros({ 1, 3, 0, 8 }, torch::kUInt8));
    }),
        "Inception: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found Byte [1, 3, 0, 8]");
    LETHE_COMPARE_STR(errorMessage([&] {
        net.features(torch::zeros({ 1, 3, 8, 8 }, torch::kUInt8), FidResize::Edm, 0);
    }),
        "Inception: batch must be at least 1, found 0");
}

void TestInception::loaderReadsTheFileAndSkipsTheHead()
{
    QCOMPARE(m_loaded.file, m_weightsFile);
    LETHE_COMPARE_STR(m_loaded.sha256, io::sha256File(m_weightsFile));
    QVERIFY(!m_loaded.net->is_training());
    std::map<std::string, torch::Tensor> held;
    for (const auto& named : nn::stateDict(*m_loaded.net))
        held[named.name] = named.tensor;
    for (const auto& [name, tensor] : m_weights) {
        if (name.rfind("fc.", 0) == 0 || endsWith(name, "num_batches_tracked")) {
            QVERIFY(held.count(name) == 0);
            continue;
        }
        QCOMPARE(held.at(name).scalar_type(), torch::kFloat32);
        QVERIFY2(test::bitIdentical(held.at(name), tensor.to(torch::kFloat32)), name.c_str());
    }
}

void TestInception::loadFailures_data()
{
    QTest::addColumn<QString>("breakage");
    QTest::addColumn<QString>("message");
    QTest::newRow("missing tensor") << "missing tensor"
                                    << "DIR/inception.safetensors: tensor 'Mixed_7c.branch_pool.bn.running_var': "
                                       "missing from the file (the model expects shape [192])";
    QTest::newRow("wrong shape") << "wrong shape"
                                 << "DIR/inception.safetensors: tensor 'Mixed_6b.branch7x7_2.conv.weight': expected "
                                    "shape [128, 128, 1, 7], found [128, 128, 7, 1]";
    QTest::newRow("wrong dtype") << "wrong dtype"
                                 << "DIR/inception.safetensors: tensor 'Conv2d_1a_3x3.bn.running_mean': expected "
                                    "dtype Float or a floating type convertible to it, found I64";
    QTest::newRow("torchvision's auxiliary head") << "aux head"
                                                  << "DIR/inception.safetensors: tensor 'AuxLogits.fc.weight': "
                                                     "unexpected: the model has no parameter or buffer of that name";
    QTest::newRow("truncated file") << "truncated"
                                    << "DIR/inception.safetensors: tensor 'fc.bias': data_offsets [47768776, "
                                       "47770792] run past the end of the data region (47770692 bytes)";
    QTest::newRow("no file") << "no file"
                             << "DIR/inception.safetensors: cannot open for reading: No such file or directory";
    for (const char* pickle : { "inception-2015-12-05.pkl", "pt_inception-2015-12-05-6726825d.pth", "detector.PT" })
        QTest::newRow(pickle) << QString::fromLatin1(pickle)
                              << QString::fromStdString("DIR/" + std::string(pickle)
                                     + ": Python pickles can run arbitrary code when loaded, so Lethe never opens "
                                       "them; convert the detector once with scripts/inception_to_safetensors.py (it "
                                       "reads pytorch-fid's pt_inception-2015-12-05-6726825d.pth and EDM's "
                                       "inception-2015-12-05.pkl)");
}

void TestInception::loadFailures()
{
    QFETCH(QString, breakage);
    QFETCH(QString, message);
    ScratchDir scratch;
    const std::string what = breakage.toStdString();
    std::filesystem::path file = scratch / "inception.safetensors";
    std::vector<io::NamedTensor> tensors = m_weights;
    auto find = [&](const std::string& name) -> io::NamedTensor& {
        return *std::find_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.name == name; });
    };
    if (what == "missing tensor")
        tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                          [](const auto& t) { return t.name == "Mixed_7c.branch_pool.bn.running_var"; }),
            tensors.end());
    else if (what == "wrong shape")
        find("Mixed_6b.branch7x7_2.conv.weight").tensor
            = find("Mixed_6b.branch7x7_3.conv.weight").tensor.slice(0, 0, 128);
    else if (what == "wrong dtype")
        find("Conv2d_1a_3x3.bn.running_mean").tensor = torch::zeros({ 32 }, torch::kInt64);
    else if (what == "aux head")
        tensors.push_back({ "AuxLogits.fc.weight", torch::zeros({ 1008, 768 }) });
    else if (what != "truncated" && what != "no file")
        file = scratch / what;
    if (what != "no file" && file.extension() == ".safetensors")
        io::writeSafetensors(file, tensors);
    if (what == "truncated") {
        const std::string bytes = test::readBytes(file);
        test::writeBytes(file, bytes.substr(0, bytes.size() - 100));
    }

    std::string actual = errorMessage([&] { models::inception::loadFidInception(file); });
    const std::string dir = scratch.path().string();
    for (std::size_t at = actual.find(dir); at != std::string::npos; at = actual.find(dir))
        actual.replace(at, dir.size(), "DIR");
    LETHE_COMPARE_STR(actual, message.toStdString());
}

void TestInception::parityWithPythonReference()
{
    if (const std::string missing = test::pythonMissing({ "torch", "numpy" }); !missing.empty())
        QSKIP(missing.c_str());
    const std::filesystem::path images = m_scratch / "images.safetensors";
    const std::filesystem::path output = m_scratch / "reference.safetensors";
    io::writeSafetensors(images, { { "rgb32", m_images.at("rgb32") }, { "grey28", m_images.at("grey28") } });
    const test::PythonResult result
        = test::runPython({ QStringLiteral(LETHE_SOURCE_DIR "/tests/reference/inception_reference.py"),
            QString::fromStdString(m_weightsFile.string()), QString::fromStdString(images.string()),
            QString::fromStdString(output.string()) });
    QVERIFY2(result.exitCode == 0, result.err.c_str());
    const std::map<std::string, torch::Tensor> reference = test::tensorsOf(output);
    QCOMPARE(reference.size(), std::size_t { 4 });
    for (const FidResize resize : { FidResize::Edm, FidResize::PytorchFid }) {
        for (const auto& [name, _] : m_images) {
            const std::string key = resizeName(resize) + "/" + name;
            const torch::Tensor& ours = features(name, resize);
            const double relative = relativeDifference(ours, reference.at(key));
            qInfo("%s: max |Lethe − reference| / max |reference| = %.3g (max |reference| %.3g)", key.c_str(), relative,
                reference.at(key).abs().max().item<double>());
            QVERIFY2(relative < 1e-4, key.c_str());
        }
    }
}

QTEST_APPLESS_MAIN(TestInception)
#include "test_inception.moc"
