// EDM's geometric augmentation pipe: each transform against its definition, the label layout, the draw
// order (replayed by hand from the same seed) and the resampling against analytic warps.
#include "core/diffusion/denoiser.h"
#include "core/diffusion/edm_augment.h"
#include "core/error.h"
#include "tensor_compare.h"
#include "test_support.h"

#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

using namespace lethe;
using namespace lethe::diffusion;
using lethe::test::bitIdentical;
using lethe::test::errorMessage;
using lethe::test::maxAbsDifference;

namespace {

constexpr double kPi = 3.141592653589793;

/// Images whose every pixel differs from the others, so any moved pixel shows.
torch::Tensor distinctImages(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w)
{
    return torch::arange(n * c * h * w, torch::kFloat32).view({ n, c, h, w });
}

/// A smooth pattern that differs per image and channel (the same formula as the EDM reference runs).
torch::Tensor patternImages(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w)
{
    const auto f64 = torch::kFloat64;
    const torch::Tensor ni = torch::arange(n, f64).view({ n, 1, 1, 1 });
    const torch::Tensor ci = torch::arange(c, f64).view({ 1, c, 1, 1 });
    const torch::Tensor y = torch::arange(h, f64).view({ 1, 1, h, 1 });
    const torch::Tensor x = torch::arange(w, f64).view({ 1, 1, 1, w });
    return (torch::sin(x * 0.37 + y * 0.59 + ni * 1.3 + ci * 0.7) + x * 0.05 - y * 0.03).to(torch::kFloat32);
}

/// A band-limited function of centred pixel coordinates (u right, v down), for the analytic warps.
torch::Tensor smoothField(const torch::Tensor& u, const torch::Tensor& v)
{
    return torch::sin(u * 0.21 + v * 0.13 + 0.4) + torch::cos(v * 0.17 - u * 0.09);
}

/// Centred pixel coordinates of an h×w image: (u, v), each h×w float64.
std::pair<torch::Tensor, torch::Tensor> centredGrid(std::int64_t h, std::int64_t w)
{
    const torch::Tensor v = torch::arange(h, torch::kFloat64).view({ h, 1 }).expand({ h, w }) - (h - 1) / 2.0;
    const torch::Tensor u = torch::arange(w, torch::kFloat64).view({ 1, w }).expand({ h, w }) - (w - 1) / 2.0;
    return { u, v };
}

AugmentOptions only(double AugmentOptions::*knob)
{
    AugmentOptions options;
    options.*knob = 1.0;
    return options;
}

/// Every geometric transform at probability 1.
AugmentOptions everyTransform()
{
    AugmentOptions options;
    options.xflip = options.yflip = options.rotateInt = options.translateInt = 1;
    options.scale = options.rotateFrac = options.aniso = options.translateFrac = 1;
    return options;
}

/// 3×3 float64 matrix from rows.
torch::Tensor matrix3(std::initializer_list<double> values)
{
    return torch::tensor(std::vector<double>(values), torch::kFloat64).view({ 3, 3 });
}

torch::Tensor rotation(double theta)
{
    return matrix3({ std::cos(theta), -std::sin(theta), 0, std::sin(theta), std::cos(theta), 0, 0, 0, 1 });
}

torch::Tensor scaling(double sx, double sy)
{
    return matrix3({ sx, 0, 0, 0, sy, 0, 0, 0, 1 });
}

torch::Tensor translation(double tx, double ty)
{
    return matrix3({ 1, 0, tx, 0, 1, ty, 0, 0, 1 });
}

/// Index i folded into 0…size−1 by mirroring about the first and last pixel (no repeated edge).
std::int64_t mirrored(std::int64_t i, std::int64_t size)
{
    while (i < 0 || i >= size)
        i = i < 0 ? -i : 2 * (size - 1) - i;
    return i;
}

/// Calls that must throw, by row name; badInputs_data() gives each its exact message.
const std::map<std::string, std::function<void()>>& badCalls()
{
    static const std::map<std::string, std::function<void()>> calls = [] {
        std::map<std::string, std::function<void()>> m;
        const auto withOption = [](double AugmentOptions::*field, double value) {
            return [field, value] {
                AugmentOptions options;
                options.*field = value;
                options.validate();
            };
        };
        m["options: p above 1"] = withOption(&AugmentOptions::p, 1.5);
        m["options: p negative"] = withOption(&AugmentOptions::p, -0.1);
        m["options: p nan"] = withOption(&AugmentOptions::p, std::nan(""));
        m["options: xflip negative"] = withOption(&AugmentOptions::xflip, -1);
        m["options: yflip infinite"] = withOption(&AugmentOptions::yflip, INFINITY);
        m["options: rotateInt negative"] = withOption(&AugmentOptions::rotateInt, -2);
        m["options: translateInt negative"] = withOption(&AugmentOptions::translateInt, -1);
        m["options: translateIntMax zero"] = withOption(&AugmentOptions::translateIntMax, 0);
        m["options: scale negative"] = withOption(&AugmentOptions::scale, -1);
        m["options: rotateFrac negative"] = withOption(&AugmentOptions::rotateFrac, -1);
        m["options: aniso nan"] = withOption(&AugmentOptions::aniso, std::nan(""));
        m["options: translateFrac negative"] = withOption(&AugmentOptions::translateFrac, -0.5);
        m["options: scaleStd negative"] = withOption(&AugmentOptions::scaleStd, -0.2);
        m["options: rotateFracMax negative"] = withOption(&AugmentOptions::rotateFracMax, -1);
        m["options: anisoStd infinite"] = withOption(&AugmentOptions::anisoStd, INFINITY);
        m["options: anisoRotateProb above 1"] = withOption(&AugmentOptions::anisoRotateProb, 2);
        m["options: translateFracStd negative"] = withOption(&AugmentOptions::translateFracStd, -0.125);
        m["augment: bad options"] = [] {
            at::Generator generator = cpuGenerator(1);
            AugmentOptions options;
            options.p = 2;
            augmentImages(torch::zeros({ 1, 1, 4, 4 }), options, generator);
        };
        m["augment: 3-D images"] = [] {
            at::Generator generator = cpuGenerator(1);
            augmentImages(torch::zeros({ 1, 4, 4 }), AugmentOptions::edmCifar10(), generator);
        };
        m["augment: uint8 images"] = [] {
            at::Generator generator = cpuGenerator(1);
            augmentImages(torch::zeros({ 2, 3, 4, 4 }, torch::kUInt8), AugmentOptions::edmCifar10(), generator);
        };
        m["augment: half images"] = [] {
            at::Generator generator = cpuGenerator(1);
            augmentImages(torch::zeros({ 2, 3, 4, 4 }, torch::kHalf), AugmentOptions::edmCifar10(), generator);
        };
        m["augment: undefined images"] = [] {
            at::Generator generator = cpuGenerator(1);
            augmentImages(torch::Tensor(), AugmentOptions::edmCifar10(), generator);
        };
        m["augment: empty batch"] = [] {
            at::Generator generator = cpuGenerator(1);
            augmentImages(torch::zeros({ 0, 3, 4, 4 }), AugmentOptions::edmCifar10(), generator);
        };
        m["augment: rotateInt on a rectangle"] = [] {
            at::Generator generator = cpuGenerator(1);
            augmentImages(torch::zeros({ 2, 1, 4, 6 }), only(&AugmentOptions::rotateInt), generator);
        };
        m["augment: translateInt on one column"] = [] {
            at::Generator generator = cpuGenerator(1);
            augmentImages(torch::zeros({ 2, 1, 4, 1 }), only(&AugmentOptions::translateInt), generator);
        };
        m["augment: undefined generator"] = [] {
            at::Generator generator;
            augmentImages(torch::zeros({ 1, 1, 4, 4 }), AugmentOptions::edmCifar10(), generator);
        };
        m["resample: matrix count"] = [] {
            resampleImages(torch::zeros({ 2, 1, 4, 4 }), torch::eye(3).expand({ 3, 3, 3 }));
        };
        m["resample: 2-D matrix"] = [] { resampleImages(torch::zeros({ 2, 1, 4, 4 }), torch::eye(3)); };
        m["resample: int images"] = [] {
            resampleImages(torch::zeros({ 1, 1, 4, 4 }, torch::kInt32), torch::eye(3).view({ 1, 3, 3 }));
        };
        m["translate2d: lengths"] = [] { translate2d(torch::zeros({ 2 }), torch::zeros({ 3 })); };
        m["rotate2d: 2-D angles"] = [] { rotate2d(torch::zeros({ 2, 1 })); };
        return m;
    }();
    return calls;
}

} // namespace

class TestEdmAugment : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cifarSettingsAreThePapers();
    void labelDimCountsEnabledTransforms_data();
    void labelDimCountsEnabledTransforms();
    void matrixBuildersFollowEdm();
    void flipsMirrorExactly_data();
    void flipsMirrorExactly();
    void rotateIntTurnsByQuarters();
    void translateIntShiftsWithMirroredBorders();
    void scaleMatrixFollowsItsDraw();
    void rotateFracMatrixFollowsItsDraw();
    void anisoMatrixFollowsItsDraw();
    void translateFracMatrixFollowsItsDraw();
    void resamplingMatchesTheAnalyticWarp_data();
    void resamplingMatchesTheAnalyticWarp();
    void identityResamplingKeepsImages();
    void wholePixelTranslationThroughTheResamplerShifts();
    void labelsFollowEdmLayout();
    void matchesEdmReference_data();
    void matchesEdmReference();
    void labelsMatchEdmReference();
    void sameSeedSameAugmentation();
    void probabilityZeroChangesNothing();
    void identityDrawsSkipResampling();
    void float64ImagesAreSupported();
    void cudaMatchesCpu();
    void badInputs_data();
    void badInputs();
};

void TestEdmAugment::cifarSettingsAreThePapers()
{
    const AugmentOptions o = AugmentOptions::edmCifar10();
    QCOMPARE(o.p, 0.12);
    QCOMPARE(o.xflip, 1e8);
    QCOMPARE(o.yflip, 1.0);
    QCOMPARE(o.rotateInt, 0.0);
    QCOMPARE(o.translateInt, 0.0);
    QCOMPARE(o.scale, 1.0);
    QCOMPARE(o.rotateFrac, 1.0);
    QCOMPARE(o.aniso, 1.0);
    QCOMPARE(o.translateFrac, 1.0);
    QCOMPARE(o.labelDim(), std::int64_t { 9 });
    o.validate();

    // EDM's defaults for the ranges.
    const AugmentOptions d;
    QCOMPARE(d.p, 1.0);
    QCOMPARE(d.translateIntMax, 0.125);
    QCOMPARE(d.scaleStd, 0.2);
    QCOMPARE(d.rotateFracMax, 1.0);
    QCOMPARE(d.anisoStd, 0.2);
    QCOMPARE(d.anisoRotateProb, 0.5);
    QCOMPARE(d.translateFracStd, 0.125);
    QCOMPARE(d.labelDim(), std::int64_t { 0 });
}

void TestEdmAugment::labelDimCountsEnabledTransforms_data()
{
    QTest::addColumn<int>("knob");
    QTest::addColumn<int>("columns");
    QTest::newRow("xflip") << 0 << 1;
    QTest::newRow("yflip") << 1 << 1;
    QTest::newRow("rotateInt") << 2 << 2;
    QTest::newRow("translateInt") << 3 << 2;
    QTest::newRow("scale") << 4 << 1;
    QTest::newRow("rotateFrac") << 5 << 2;
    QTest::newRow("aniso") << 6 << 2;
    QTest::newRow("translateFrac") << 7 << 2;
}

void TestEdmAugment::labelDimCountsEnabledTransforms()
{
    QFETCH(int, knob);
    QFETCH(int, columns);
    static const std::vector<double AugmentOptions::*> knobs { &AugmentOptions::xflip, &AugmentOptions::yflip,
        &AugmentOptions::rotateInt, &AugmentOptions::translateInt, &AugmentOptions::scale, &AugmentOptions::rotateFrac,
        &AugmentOptions::aniso, &AugmentOptions::translateFrac };
    AugmentOptions options = only(knobs[static_cast<std::size_t>(knob)]);
    QCOMPARE(options.labelDim(), std::int64_t { columns });
    at::Generator generator = cpuGenerator(3);
    const AugmentResult result = augmentImages(patternImages(5, 2, 8, 8), options, generator);
    QCOMPARE(result.labels.sizes(), (at::IntArrayRef { 5, columns }));
    QCOMPARE(result.labels.scalar_type(), torch::kFloat32);

    // A multiplier of 0 removes the columns; p = 0 keeps them, all zero.
    options.p = 0;
    const AugmentResult off = augmentImages(patternImages(5, 2, 8, 8), options, generator);
    QCOMPARE(off.labels.sizes(), (at::IntArrayRef { 5, columns }));
    QCOMPARE(off.labels.abs().sum().item<double>(), 0.0);
}

void TestEdmAugment::matrixBuildersFollowEdm()
{
    const torch::Tensor a = torch::tensor({ 0.5, -2.0 }, torch::kFloat64);
    const torch::Tensor b = torch::tensor({ 3.0, 0.25 }, torch::kFloat64);
    const torch::Tensor t = translate2d(a, b);
    QCOMPARE(t.sizes(), (at::IntArrayRef { 2, 3, 3 }));
    QVERIFY(bitIdentical(t[0], translation(0.5, 3.0)));
    QVERIFY(bitIdentical(t[1], translation(-2.0, 0.25)));
    const torch::Tensor s = scale2d(a, b);
    QVERIFY(bitIdentical(s[0], scaling(0.5, 3.0)));
    QVERIFY(bitIdentical(s[1], scaling(-2.0, 0.25)));
    const torch::Tensor r = rotate2d(torch::tensor({ kPi / 2, 0.3 }, torch::kFloat64));
    QVERIFY(maxAbsDifference(r[0], matrix3({ 0, -1, 0, 1, 0, 0, 0, 0, 1 })) < 1e-15);
    QVERIFY(maxAbsDifference(r[1], rotation(0.3)) < 1e-15);
    // Float32 parameters give float32 matrices.
    QCOMPARE(rotate2d(torch::zeros({ 1 })).scalar_type(), torch::kFloat32);
}

void TestEdmAugment::flipsMirrorExactly_data()
{
    QTest::addColumn<bool>("horizontal");
    QTest::newRow("xflip") << true;
    QTest::newRow("yflip") << false;
}

void TestEdmAugment::flipsMirrorExactly()
{
    QFETCH(bool, horizontal);
    const AugmentOptions options = only(horizontal ? &AugmentOptions::xflip : &AugmentOptions::yflip);
    const torch::Tensor images = distinctImages(16, 2, 5, 7);
    at::Generator generator = cpuGenerator(4);
    const AugmentResult result = augmentImages(images, options, generator);

    // EDM's draws: a coin per image, then a gate that p · multiplier = 1 always passes.
    at::Generator replay = cpuGenerator(4);
    const torch::Tensor coin = torch::randint(2, { 16, 1, 1, 1 }, replay, torch::kInt64);
    QVERIFY(bitIdentical(result.labels, coin.view({ 16, 1 }).to(torch::kFloat32)));

    int flipped = 0;
    for (std::int64_t i = 0; i < 16; ++i) {
        const bool flip = result.labels[i][0].item<float>() == 1.0f;
        flipped += flip ? 1 : 0;
        const torch::Tensor expected = flip ? images[i].flip({ horizontal ? 2 : 1 }) : images[i];
        QVERIFY2(bitIdentical(result.images[i], expected), qPrintable(QStringLiteral("image %1").arg(i)));
    }
    QVERIFY(flipped > 0 && flipped < 16);
    QVERIFY(bitIdentical(result.inverseTransform, torch::eye(3).expand({ 16, 3, 3 }).contiguous()));
}

void TestEdmAugment::rotateIntTurnsByQuarters()
{
    const torch::Tensor images = distinctImages(24, 2, 5, 5);
    at::Generator generator = cpuGenerator(8);
    const AugmentResult result = augmentImages(images, only(&AugmentOptions::rotateInt), generator);
    at::Generator replay = cpuGenerator(8);
    const torch::Tensor k = torch::randint(4, { 24 }, replay, torch::kInt64);

    std::vector<int> seen(4, 0);
    for (std::int64_t i = 0; i < 24; ++i) {
        const std::int64_t turns = k[i].item<std::int64_t>();
        ++seen[static_cast<std::size_t>(turns)];
        // k = 1: a quarter turn counter-clockwise as displayed, torch::rot90 over (H, W).
        QVERIFY2(bitIdentical(result.images[i], torch::rot90(images[i], turns, { 1, 2 })),
            qPrintable(QStringLiteral("image %1, k %2").arg(i).arg(turns)));
        const float mirrorX = (turns == 1 || turns == 2) ? 1.0f : 0.0f;
        const float mirrorY = (turns == 2 || turns == 3) ? 1.0f : 0.0f;
        QCOMPARE(result.labels[i][0].item<float>(), mirrorX);
        QCOMPARE(result.labels[i][1].item<float>(), mirrorY);
    }
    for (int count : seen)
        QVERIFY(count > 0);
    // The top-right pixel of a quarter-turned image is the input's bottom-right.
    const torch::Tensor turned = torch::rot90(images[0], 1, { 1, 2 });
    QCOMPARE(turned[0][0][4].item<float>(), images[0][0][4][4].item<float>());
}

void TestEdmAugment::translateIntShiftsWithMirroredBorders()
{
    const std::int64_t n = 12;
    const std::int64_t h = 6;
    const std::int64_t w = 7;
    AugmentOptions options = only(&AugmentOptions::translateInt);
    options.translateIntMax = 0.5; // shifts up to 3 pixels, which reach past the mirrored border
    const torch::Tensor images = distinctImages(n, 2, h, w);
    at::Generator generator = cpuGenerator(5);
    const AugmentResult result = augmentImages(images, options, generator);

    at::Generator replay = cpuGenerator(5);
    const torch::Tensor drawn = torch::rand({ 2, n }, replay) * 2 - 1;
    bool movedBothWays = false;
    for (std::int64_t i = 0; i < n; ++i) {
        const auto tx = static_cast<std::int64_t>(std::nearbyint(drawn[0][i].item<float>() * w * 0.5));
        const auto ty = static_cast<std::int64_t>(std::nearbyint(drawn[1][i].item<float>() * h * 0.5));
        QCOMPARE(result.labels[i][0].item<float>(), static_cast<float>(tx) / static_cast<float>(w * 0.5));
        QCOMPARE(result.labels[i][1].item<float>(), static_cast<float>(ty) / static_cast<float>(h * 0.5));
        movedBothWays = movedBothWays || (tx != 0 && ty != 0);
        // Content moves right by tx and up by ty: output (y, x) shows input (y + ty, x − tx), mirrored.
        const torch::Tensor source = images[i];
        const auto in = source.accessor<float, 3>();
        const torch::Tensor out = result.images[i].contiguous();
        const auto got = out.accessor<float, 3>();
        for (std::int64_t c = 0; c < 2; ++c)
            for (std::int64_t y = 0; y < h; ++y)
                for (std::int64_t x = 0; x < w; ++x)
                    QCOMPARE(got[c][y][x], in[c][mirrored(y + ty, h)][mirrored(x - tx, w)]);
    }
    QVERIFY(movedBothWays);
}

void TestEdmAugment::scaleMatrixFollowsItsDraw()
{
    const std::int64_t n = 6;
    at::Generator generator = cpuGenerator(21);
    const AugmentResult result = augmentImages(patternImages(n, 1, 16, 16), only(&AugmentOptions::scale), generator);
    at::Generator replay = cpuGenerator(21);
    const torch::Tensor z = torch::randn({ n }, replay);
    QVERIFY(bitIdentical(result.labels, z.view({ n, 1 })));
    for (std::int64_t i = 0; i < n; ++i) {
        // The image is magnified by s = 2^(0.2 z), so output q samples input q / s.
        const double s = std::exp2(0.2 * z[i].item<double>());
        QVERIFY(maxAbsDifference(result.inverseTransform[i], scaling(1 / s, 1 / s)) < 1e-6);
    }
}

void TestEdmAugment::rotateFracMatrixFollowsItsDraw()
{
    const std::int64_t n = 6;
    AugmentOptions options = only(&AugmentOptions::rotateFrac);
    options.rotateFracMax = 0.5;
    at::Generator generator = cpuGenerator(22);
    const AugmentResult result = augmentImages(patternImages(n, 1, 16, 16), options, generator);
    at::Generator replay = cpuGenerator(22);
    const torch::Tensor angle = (torch::rand({ n }, replay) * 2 - 1) * (kPi * 0.5);
    for (std::int64_t i = 0; i < n; ++i) {
        const double theta = angle[i].item<double>();
        QVERIFY(std::abs(theta) <= kPi / 2);
        QVERIFY(maxAbsDifference(result.inverseTransform[i], rotation(theta)) < 1e-6);
        QVERIFY(std::abs(result.labels[i][0].item<double>() - (std::cos(theta) - 1)) < 1e-6);
        QVERIFY(std::abs(result.labels[i][1].item<double>() - std::sin(theta)) < 1e-6);
    }
}

void TestEdmAugment::anisoMatrixFollowsItsDraw()
{
    const std::int64_t n = 10;
    at::Generator generator = cpuGenerator(23);
    const AugmentResult result = augmentImages(patternImages(n, 1, 16, 16), only(&AugmentOptions::aniso), generator);
    at::Generator replay = cpuGenerator(23);
    const torch::Tensor z = torch::randn({ n }, replay);
    const torch::Tensor axis = (torch::rand({ n }, replay) * 2 - 1) * kPi;
    torch::rand({ n }, replay); // the gate p · aniso = 1 always passes
    const torch::Tensor rotated = torch::rand({ n }, replay) < 0.5;
    int alongRotatedAxis = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const double phi = rotated[i].item<bool>() ? axis[i].item<double>() : 0.0;
        alongRotatedAxis += phi != 0.0 ? 1 : 0;
        const double s = std::exp2(0.2 * z[i].item<double>());
        // Stretch by s along the axis at φ and by 1/s across it; G⁻¹ is the inverse of that.
        const torch::Tensor expected = rotation(-phi).matmul(scaling(1 / s, s)).matmul(rotation(phi));
        QVERIFY(maxAbsDifference(result.inverseTransform[i], expected) < 1e-6);
        QVERIFY(std::abs(result.labels[i][0].item<double>() - z[i].item<double>() * std::cos(phi)) < 1e-6);
        QVERIFY(std::abs(result.labels[i][1].item<double>() - z[i].item<double>() * std::sin(phi)) < 1e-6);
    }
    QVERIFY(alongRotatedAxis > 0 && alongRotatedAxis < n);
}

void TestEdmAugment::translateFracMatrixFollowsItsDraw()
{
    const std::int64_t n = 6;
    at::Generator generator = cpuGenerator(24);
    const AugmentResult result
        = augmentImages(patternImages(n, 1, 12, 20), only(&AugmentOptions::translateFrac), generator);
    at::Generator replay = cpuGenerator(24);
    const torch::Tensor z = torch::randn({ 2, n }, replay);
    QVERIFY(bitIdentical(result.labels, z.t()));
    for (std::int64_t i = 0; i < n; ++i) {
        // Content moves by (0.125 W zx, 0.125 H zy).
        const double tx = z[0][i].item<double>() * 20 * 0.125;
        const double ty = z[1][i].item<double>() * 12 * 0.125;
        QVERIFY(maxAbsDifference(result.inverseTransform[i], translation(-tx, -ty)) < 1e-6);
    }
}

void TestEdmAugment::resamplingMatchesTheAnalyticWarp_data()
{
    QTest::addColumn<int>("knob");
    QTest::addColumn<double>("tolerance");
    // Measured against EDM's pipe (bit-identical output): 0.0038, 0.035, 0.0038, 0.0030 on a pattern of
    // amplitude 2. Rotations err more because the sym6 filter is not symmetric: the phase shifts of up- and
    // downsampling cancel for translations and scalings but not once the image is turned (a 180° turn, which
    // maps pixel centres onto pixel centres, is off by 0.04).
    QTest::newRow("scale") << 0 << 0.006;
    QTest::newRow("rotateFrac") << 1 << 0.05;
    QTest::newRow("aniso") << 2 << 0.006;
    QTest::newRow("translateFrac") << 3 << 0.005;
}

void TestEdmAugment::resamplingMatchesTheAnalyticWarp()
{
    QFETCH(int, knob);
    QFETCH(double, tolerance);
    static const std::vector<double AugmentOptions::*> knobs { &AugmentOptions::scale, &AugmentOptions::rotateFrac,
        &AugmentOptions::aniso, &AugmentOptions::translateFrac };
    const std::int64_t n = 6;
    const std::int64_t size = 48;
    const auto [u, v] = centredGrid(size, size);
    const torch::Tensor images = smoothField(u, v).to(torch::kFloat32).expand({ n, 1, size, size }).contiguous();
    at::Generator generator = cpuGenerator(31);
    const AugmentResult result = augmentImages(images, only(knobs[static_cast<std::size_t>(knob)]), generator);

    double worst = 0;
    std::int64_t compared = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        const torch::Tensor g = result.inverseTransform[i].to(torch::kFloat64);
        const torch::Tensor su = g[0][0] * u + g[0][1] * v + g[0][2];
        const torch::Tensor sv = g[1][0] * u + g[1][1] * v + g[1][2];
        // Compare where the source point lies well inside the image, away from mirrored content.
        const double inner = (size - 1) / 2.0 - 4;
        const torch::Tensor inside = (su.abs() <= inner) & (sv.abs() <= inner);
        const torch::Tensor error = (result.images[i][0].to(torch::kFloat64) - smoothField(su, sv)).abs();
        compared += inside.sum().item<std::int64_t>();
        worst = std::max(worst, error.masked_select(inside).max().item<double>());
    }
    QVERIFY(compared > n * size * size / 4);
    QVERIFY2(worst < tolerance, qPrintable(QStringLiteral("worst error %1").arg(worst)));
}

void TestEdmAugment::identityResamplingKeepsImages()
{
    const torch::Tensor images = patternImages(3, 2, 12, 20);
    const torch::Tensor out = resampleImages(images, torch::eye(3).expand({ 3, 3, 3 }));
    QVERIFY(maxAbsDifference(out, images) < 1e-5);
}

void TestEdmAugment::wholePixelTranslationThroughTheResamplerShifts()
{
    const torch::Tensor images = patternImages(2, 1, 16, 16);
    // Content moves right by 2 and down by 1: output (y, x) = input (y − 1, x − 2); rows and columns that
    // would come from outside the image are mirrored in, so compare the rest.
    const torch::Tensor inverse = torch::stack({ translation(-2, -1), translation(-2, -1) }).to(torch::kFloat32);
    const torch::Tensor out = resampleImages(images, inverse);
    const torch::Tensor expected = images.narrow(2, 0, 15).narrow(3, 0, 14);
    const double error = maxAbsDifference(out.narrow(2, 1, 15).narrow(3, 2, 14), expected);
    QVERIFY(error < 1e-5);
}

void TestEdmAugment::labelsFollowEdmLayout()
{
    // Every transform on, with its draws replayed by hand in EDM's order from the same seed.
    const std::int64_t n = 8;
    const std::int64_t size = 16;
    at::Generator generator = cpuGenerator(41);
    const AugmentResult result = augmentImages(patternImages(n, 2, size, size), everyTransform(), generator);
    QCOMPARE(result.labels.sizes(), (at::IntArrayRef { n, 13 }));

    at::Generator g = cpuGenerator(41);
    const auto gate = [&g](at::IntArrayRef sizes) { torch::rand(sizes, g); }; // p · multiplier = 1 always passes
    const torch::Tensor coinX = torch::randint(2, { n }, g, torch::kInt64).to(torch::kFloat64);
    gate({ n });
    const torch::Tensor coinY = torch::randint(2, { n }, g, torch::kInt64).to(torch::kFloat64);
    gate({ n });
    const torch::Tensor turns = torch::randint(4, { n }, g, torch::kInt64);
    gate({ n });
    const torch::Tensor shift = torch::rand({ 2, n }, g) * 2 - 1;
    gate({ 1, n });
    const torch::Tensor zScale = torch::randn({ n }, g);
    gate({ n });
    const torch::Tensor angle = (torch::rand({ n }, g) * 2 - 1) * kPi;
    gate({ n });
    const torch::Tensor zAniso = torch::randn({ n }, g);
    const torch::Tensor axis = (torch::rand({ n }, g) * 2 - 1) * kPi;
    gate({ n });
    const torch::Tensor phi = torch::where(torch::rand({ n }, g) < 0.5, axis, torch::zeros_like(axis));
    const torch::Tensor zShift = torch::randn({ 2, n }, g);

    const double range = size * 0.125; // translateIntMax of the image size
    const torch::Tensor expected
        = torch::stack({ coinX, coinY, ((turns == 1) | (turns == 2)).to(torch::kFloat64),
                           ((turns == 2) | (turns == 3)).to(torch::kFloat64), (shift[0] * range).round() / range,
                           (shift[1] * range).round() / range, zScale, angle.cos() - 1, angle.sin(), zAniso * phi.cos(),
                           zAniso * phi.sin(), zShift[0], zShift[1] },
            1);
    for (std::int64_t column = 0; column < 13; ++column)
        QVERIFY2(maxAbsDifference(result.labels.select(1, column), expected.select(1, column)) < 1e-6,
            qPrintable(QStringLiteral("column %1").arg(column)));
}

void TestEdmAugment::matchesEdmReference_data()
{
    // Per image and channel: the pixel sum and a position-weighted sum (weights 1 + (y·W + x) mod 7), from
    // EDM's AugmentPipe run on the CPU with PyTorch 1.13 after torch.manual_seed(seed), on patternImages.
    QTest::addColumn<int>("config");
    QTest::addColumn<std::uint64_t>("seed");
    QTest::addColumn<std::vector<std::int64_t>>("shape");
    QTest::addColumn<std::vector<double>>("sums");
    QTest::addColumn<std::vector<double>>("moments");
    QTest::newRow("every transform, p 1") << 0 << std::uint64_t { 7 } << std::vector<std::int64_t> { 4, 2, 8, 8 }
                                          << std::vector<double> { 24.2657601, 3.2674269, -19.6404101, -15.7812639,
                                                 24.882938, 38.2448874, 15.3761572, 20.6244274 }
                                          << std::vector<double> { 88.1226937, 7.34361931, -81.888247, -59.836829,
                                                 100.697118, 147.855196, 58.7965525, 75.6494653 };
    QTest::newRow("the paper's CIFAR-10 settings")
        << 1 << std::uint64_t { 3 } << std::vector<std::int64_t> { 16, 3, 32, 32 }
        << std::vector<double> { 320.380236, 317.961506, 315.293223, 317.100873, 316.703685, 316.677538, 324.190804,
               321.802522, 317.451616, 320.41501, 320.382143, 320.232243, 309.610553, 309.607506, 312.940494,
               555.893943, 555.253311, 560.255455, 317.375743, 317.340574, 317.352168, 339.284329, 328.201997,
               312.346145, 317.454849, 317.515794, 317.541103, 293.36241, 296.20556, 309.698138, 304.714287, 333.584711,
               356.016889, 317.360469, 317.33897, 317.365002, -104.940976, -131.256314, -152.418918, 317.476017,
               317.528417, 317.539243, 317.540679, 317.510941, 317.447847, 317.457873, 317.389567, 317.344987 }
        << std::vector<double> { 1281.76868, 1267.78207, 1252.91473, 1260.35454, 1259.5776, 1262.01526, 1292.17658,
               1284.1405, 1268.73136, 1272.32002, 1278.21866, 1283.0909, 1226.99826, 1225.23318, 1241.55221, 2221.48146,
               2216.22275, 2233.92321, 1260.36476, 1257.26703, 1258.1966, 1354.7689, 1311.22621, 1248.38823, 1267.4938,
               1271.30931, 1273.41795, 1184.79119, 1195.21725, 1241.82281, 1205.12883, 1324.01323, 1421.54873,
               1263.78863, 1261.88318, 1262.70414, -414.697999, -517.431968, -603.708794, 1268.75762, 1272.21344,
               1273.53714, 1274.52811, 1272.02681, 1266.61111, 1269.72482, 1265.70776, 1262.61832 };
    QTest::newRow("affine part on a rectangle")
        << 2 << std::uint64_t { 13 } << std::vector<std::int64_t> { 3, 2, 12, 20 }
        << std::vector<double> { 89.2417083, 86.2493706, 125.193752, 116.466854, 56.6108832, 51.8325628 }
        << std::vector<double> { 353.919188, 351.545786, 513.559568, 507.669506, 228.035854, 212.770566 };
}

void TestEdmAugment::matchesEdmReference()
{
    QFETCH(int, config);
    QFETCH(std::uint64_t, seed);
    QFETCH(std::vector<std::int64_t>, shape);
    QFETCH(std::vector<double>, sums);
    QFETCH(std::vector<double>, moments);
    AugmentOptions options = AugmentOptions::edmCifar10();
    if (config == 0)
        options = everyTransform();
    if (config == 2) {
        options = AugmentOptions {};
        options.scale = options.rotateFrac = options.aniso = options.translateFrac = 1;
    }
    at::Generator generator = cpuGenerator(seed);
    const AugmentResult result
        = augmentImages(patternImages(shape[0], shape[1], shape[2], shape[3]), options, generator);

    const std::int64_t h = shape[2];
    const std::int64_t w = shape[3];
    const torch::Tensor weight = (torch::arange(h * w, torch::kFloat64).remainder(7) + 1).view({ h, w });
    const torch::Tensor images = result.images.to(torch::kFloat64);
    const torch::Tensor gotSums = images.sum({ 2, 3 }).flatten();
    const torch::Tensor gotMoments = (images * weight).sum({ 2, 3 }).flatten();
    QCOMPARE(gotSums.numel(), static_cast<std::int64_t>(sums.size()));
    for (std::size_t i = 0; i < sums.size(); ++i) {
        const auto at = static_cast<std::int64_t>(i);
        QVERIFY2(std::abs(gotSums[at].item<double>() - sums[i]) < 1e-4 * (1 + std::abs(sums[i])),
            qPrintable(QStringLiteral("sum %1: %2, EDM %3").arg(i).arg(gotSums[at].item<double>()).arg(sums[i])));
        QVERIFY2(std::abs(gotMoments[at].item<double>() - moments[i]) < 1e-4 * (1 + std::abs(moments[i])),
            qPrintable(
                QStringLiteral("moment %1: %2, EDM %3").arg(i).arg(gotMoments[at].item<double>()).arg(moments[i])));
    }
}

void TestEdmAugment::labelsMatchEdmReference()
{
    // EDM's labels for every transform on, p 1, seed 7, four 2×8×8 images (see matchesEdmReference_data).
    const std::vector<float> expected { 1, 0, 1, 1, 0, 1, 2.45054126f, -0.917547882f, 0.996595025f, 1.61481476f, 0,
        -0.0773207098f, -0.694846988f, 0, 1, 0, 0, 0, -1, 2.02560186f, -1.97843766f, -0.206542f, 1.91561449f,
        0.236824989f, -0.922417343f, 0.906228185f, 1, 0, 0, 1, 1, 1, 1.77915502f, -1.83965778f, -0.543115854f,
        0.0929548293f, 0.412149131f, -1.89411592f, 0.107241459f, 0, 1, 1, 1, 0, 0, -0.917930722f, -1.80681014f,
        0.590810716f, -0.0831863806f, 0, 1.00563943f, 0.612516582f };
    at::Generator generator = cpuGenerator(7);
    const AugmentResult result = augmentImages(patternImages(4, 2, 8, 8), everyTransform(), generator);
    QCOMPARE(result.labels.sizes(), (at::IntArrayRef { 4, 13 }));
    const torch::Tensor want = torch::tensor(expected).view({ 4, 13 });
    QVERIFY2(maxAbsDifference(result.labels, want) < 1e-6,
        qPrintable(QStringLiteral("largest difference %1").arg(maxAbsDifference(result.labels, want))));

    // The paper's settings, seed 3, sixteen 3×32×32 images: EDM's column sums and per-image absolute sums.
    const std::vector<double> columnSums { 9, 0, 1.82465687, -3.4551878, -1.85660273, 0.485435151, 0.245047286,
        -1.12313691, 4.07046402 };
    const std::vector<double> rowAbsSums { 0.246285021, 0.423299283, 1.42168704, 2.99224758, 1.65754414, 4.45628345, 0,
        2.13908875, 1, 2.5897581, 1.38842165, 1, 7.26450735, 1, 0, 1 };
    at::Generator cifar = cpuGenerator(3);
    const torch::Tensor labels
        = augmentImages(patternImages(16, 3, 32, 32), AugmentOptions::edmCifar10(), cifar).labels.to(torch::kFloat64);
    QVERIFY(maxAbsDifference(labels.sum(0), torch::tensor(columnSums, torch::kFloat64)) < 1e-5);
    QVERIFY(maxAbsDifference(labels.abs().sum(1), torch::tensor(rowAbsSums, torch::kFloat64)) < 1e-5);
}

void TestEdmAugment::sameSeedSameAugmentation()
{
    const torch::Tensor images = patternImages(8, 3, 16, 16);
    AugmentOptions options = AugmentOptions::edmCifar10();
    options.p = 0.5;
    at::Generator a = cpuGenerator(77);
    at::Generator b = cpuGenerator(77);
    at::Generator c = cpuGenerator(78);
    const AugmentResult first = augmentImages(images, options, a);
    const AugmentResult second = augmentImages(images, options, b);
    const AugmentResult other = augmentImages(images, options, c);
    QVERIFY(bitIdentical(first.images, second.images));
    QVERIFY(bitIdentical(first.labels, second.labels));
    QVERIFY(bitIdentical(first.inverseTransform, second.inverseTransform));
    QVERIFY(!bitIdentical(first.labels, other.labels));
    QVERIFY(maxAbsDifference(first.images, other.images) > 0.1);
    // The generator moves on: the next batch from it differs.
    const AugmentResult next = augmentImages(images, options, a);
    QVERIFY(!bitIdentical(first.labels, next.labels));
}

void TestEdmAugment::probabilityZeroChangesNothing()
{
    const torch::Tensor images = patternImages(8, 3, 16, 16);
    AugmentOptions options = AugmentOptions::edmCifar10();
    options.p = 0;
    at::Generator generator = cpuGenerator(9);
    const AugmentResult result = augmentImages(images, options, generator);
    QVERIFY(bitIdentical(result.images, images));
    QCOMPARE(result.labels.sizes(), (at::IntArrayRef { 8, 9 }));
    QCOMPARE(result.labels.abs().sum().item<double>(), 0.0);
    // aniso's axis is drawn under anisoRotateProb, not p, so G⁻¹ = R(−φ) R(φ) is the identity up to rounding.
    QVERIFY(maxAbsDifference(result.inverseTransform, torch::eye(3).expand({ 8, 3, 3 })) < 1e-6);
}

void TestEdmAugment::identityDrawsSkipResampling()
{
    // Affine transforms enabled, none drawn: the images come back bit for bit (EDM would resample them,
    // changing pixels by rounding error only).
    const torch::Tensor images = patternImages(6, 3, 16, 16);
    AugmentOptions options;
    options.p = 0;
    options.scale = options.rotateFrac = options.aniso = options.translateFrac = 1;
    at::Generator generator = cpuGenerator(2);
    const AugmentResult none = augmentImages(images, options, generator);
    QVERIFY(bitIdentical(none.images, images));
    QVERIFY(!bitIdentical(resampleImages(images, none.inverseTransform), images));
    QVERIFY(maxAbsDifference(resampleImages(images, none.inverseTransform), images) < 1e-5);

    // The decision is per batch, as EDM's: with the paper's settings and seed 3, image 6 of 16 draws nothing
    // yet is resampled with the others (see labelsMatchEdmReference).
    at::Generator cifar = cpuGenerator(3);
    const torch::Tensor batch = patternImages(16, 3, 32, 32);
    const AugmentResult result = augmentImages(batch, AugmentOptions::edmCifar10(), cifar);
    QCOMPARE(result.labels[6].abs().sum().item<double>(), 0.0);
    QVERIFY(!bitIdentical(result.images[6], batch[6]));
    QVERIFY(maxAbsDifference(result.images[6], batch[6]) < 1e-5);
}

void TestEdmAugment::float64ImagesAreSupported()
{
    AugmentOptions options = AugmentOptions::edmCifar10();
    options.p = 1;
    const torch::Tensor images = patternImages(4, 3, 16, 16);
    at::Generator a = cpuGenerator(12);
    at::Generator b = cpuGenerator(12);
    const AugmentResult single = augmentImages(images, options, a);
    const AugmentResult dbl = augmentImages(images.to(torch::kFloat64), options, b);
    QCOMPARE(dbl.images.scalar_type(), torch::kFloat64);
    QVERIFY(bitIdentical(single.labels, dbl.labels));
    QVERIFY(maxAbsDifference(single.images, dbl.images) < 1e-5);
}

void TestEdmAugment::cudaMatchesCpu()
{
    if (!torch::cuda::is_available())
        QSKIP("no CUDA device");
    AugmentOptions options = AugmentOptions::edmCifar10();
    options.p = 1;
    options.rotateInt = 1;
    options.translateInt = 1;
    const torch::Tensor images = patternImages(16, 3, 32, 32);
    at::Generator a = cpuGenerator(14);
    at::Generator b = cpuGenerator(14);
    const AugmentResult cpu = augmentImages(images, options, a);
    const AugmentResult cuda = augmentImages(images.to(torch::kCUDA), options, b);
    QVERIFY(cuda.images.is_cuda());
    QVERIFY(cuda.labels.is_cuda());
    QVERIFY(bitIdentical(cpu.labels, cuda.labels));
    QVERIFY(bitIdentical(cpu.inverseTransform, cuda.inverseTransform));
    const double error = maxAbsDifference(cpu.images, cuda.images);
    QVERIFY2(error < 1e-4, qPrintable(QStringLiteral("CUDA against CPU: %1").arg(error)));
}

void TestEdmAugment::badInputs_data()
{
    QTest::addColumn<QString>("message");
    auto row = [](const char* name, const char* message) { QTest::newRow(name) << QString::fromUtf8(message); };
    row("options: p above 1", "AugmentOptions: p must be in [0, 1], found 1.5");
    row("options: p negative", "AugmentOptions: p must be in [0, 1], found -0.1");
    row("options: p nan", "AugmentOptions: p must be in [0, 1], found nan");
    row("options: xflip negative", "AugmentOptions: xflip must be finite and non-negative, found -1");
    row("options: yflip infinite", "AugmentOptions: yflip must be finite and non-negative, found inf");
    row("options: rotateInt negative", "AugmentOptions: rotateInt must be finite and non-negative, found -2");
    row("options: translateInt negative", "AugmentOptions: translateInt must be finite and non-negative, found -1");
    row("options: translateIntMax zero", "AugmentOptions: translateIntMax must be finite and positive, found 0");
    row("options: scale negative", "AugmentOptions: scale must be finite and non-negative, found -1");
    row("options: rotateFrac negative", "AugmentOptions: rotateFrac must be finite and non-negative, found -1");
    row("options: aniso nan", "AugmentOptions: aniso must be finite and non-negative, found nan");
    row("options: translateFrac negative", "AugmentOptions: translateFrac must be finite and non-negative, found -0.5");
    row("options: scaleStd negative", "AugmentOptions: scaleStd must be finite and non-negative, found -0.2");
    row("options: rotateFracMax negative", "AugmentOptions: rotateFracMax must be finite and non-negative, found -1");
    row("options: anisoStd infinite", "AugmentOptions: anisoStd must be finite and non-negative, found inf");
    row("options: anisoRotateProb above 1", "AugmentOptions: anisoRotateProb must be in [0, 1], found 2");
    row("options: translateFracStd negative",
        "AugmentOptions: translateFracStd must be finite and non-negative, found -0.125");
    row("augment: bad options", "AugmentOptions: p must be in [0, 1], found 2");
    row("augment: 3-D images",
        "augmentImages: images must be a float32 or float64 N×C×H×W tensor, found Float [1, 4, 4]");
    row("augment: uint8 images",
        "augmentImages: images must be a float32 or float64 N×C×H×W tensor, found Byte [2, 3, 4, 4]");
    row("augment: half images",
        "augmentImages: images must be a float32 or float64 N×C×H×W tensor, found Half [2, 3, 4, 4]");
    row("augment: undefined images",
        "augmentImages: images must be a float32 or float64 N×C×H×W tensor, found undefined");
    row("augment: empty batch",
        "augmentImages: images must hold at least one image, channel and pixel, found Float [0, 3, 4, 4]");
    row("augment: rotateInt on a rectangle", "augmentImages: rotateInt needs square images, found 4×6 (H×W)");
    row("augment: translateInt on one column",
        "augmentImages: translateInt needs images of at least 2×2 pixels, found 4×1 (H×W)");
    row("augment: undefined generator", "augmentImages: the generator is undefined");
    row("resample: matrix count",
        "resampleImages: inverse must be a float N×3×3 tensor for 2 images, found Float [3, 3, 3]");
    row("resample: 2-D matrix",
        "resampleImages: inverse must be a float N×3×3 tensor for 2 images, found Float [3, 3]");
    row("resample: int images",
        "resampleImages: images must be a float32 or float64 N×C×H×W tensor, found Int [1, 1, 4, 4]");
    row("translate2d: lengths",
        "translate2d: tx and ty must match in length, type and device, found Float [2] and Float [3]");
    row("rotate2d: 2-D angles", "rotate2d: theta must be a float vector, found Float [2, 1]");
    QVERIFY(badCalls().size() == 31);
}

void TestEdmAugment::badInputs()
{
    QFETCH(QString, message);
    const std::string name = QTest::currentDataTag();
    const auto found = badCalls().find(name);
    QVERIFY2(
        found != badCalls().end(), qPrintable(QStringLiteral("no call for row %1").arg(QString::fromStdString(name))));
    const std::string actual = errorMessage(found->second);
    LETHE_COMPARE_STR(actual, message.toStdString());
}

QTEST_APPLESS_MAIN(TestEdmAugment)
#include "test_edm_augment.moc"
