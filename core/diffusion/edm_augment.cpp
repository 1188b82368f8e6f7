#include "edm_augment.h"

#include "core/describe.h"
#include "core/error.h"

#include <torch/torch.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace lethe::diffusion {

namespace {

namespace F = torch::nn::functional;

// numpy's pi, which EDM multiplies its uniform angles with.
constexpr double kPi = 3.141592653589793;

// Low-pass decomposition filter of the Symlet-6 wavelet, the filter EDM resamples with. Its taps are
// orthonormal under shifts by 2, so upsampling then downsampling with it returns the input.
constexpr std::array<double, 12> kSym6 = { 0.015404109327027373, 0.0034907120842174702, -0.11799011114819057,
    -0.048311742585633, 0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148 };
// EDM pads the image by twice this (and crops this much after downsampling) to cover the filter.
constexpr std::int64_t kFilterPad = static_cast<std::int64_t>(kSym6.size()) / 4;

std::string sizeText(std::int64_t h, std::int64_t w)
{
    return std::to_string(h) + "×" + std::to_string(w) + " (H×W)";
}

void checkMultiplier(const char* name, double value)
{
    if (!std::isfinite(value) || value < 0)
        throw Error(
            std::string("AugmentOptions: ") + name + " must be finite and non-negative, found " + formatNumber(value));
}

void checkProbability(const char* name, double value)
{
    if (!(value >= 0 && value <= 1))
        throw Error(std::string("AugmentOptions: ") + name + " must be in [0, 1], found " + formatNumber(value));
}

void checkImages(const torch::Tensor& images, const char* caller)
{
    if (!images.defined() || images.dim() != 4
        || (images.scalar_type() != torch::kFloat32 && images.scalar_type() != torch::kFloat64))
        throw Error(std::string(caller) + ": images must be a float32 or float64 N×C×H×W tensor, found "
            + describeTensor(images));
    if (images.numel() == 0)
        throw Error(std::string(caller) + ": images must hold at least one image, channel and pixel, found "
            + describeTensor(images));
}

void checkVector(const char* caller, const char* name, const torch::Tensor& v)
{
    if (!v.defined() || v.dim() != 1 || !at::isFloatingType(v.scalar_type()))
        throw Error(std::string(caller) + ": " + name + " must be a float vector, found " + describeTensor(v));
}

void checkPair(const char* caller, const char* nameA, const torch::Tensor& a, const char* nameB, const torch::Tensor& b)
{
    checkVector(caller, nameA, a);
    checkVector(caller, nameB, b);
    if (a.size(0) != b.size(0) || a.scalar_type() != b.scalar_type() || a.device() != b.device())
        throw Error(std::string(caller) + ": " + nameA + " and " + nameB
            + " must match in length, type and device, found " + describeTensor(a) + " and " + describeTensor(b));
}

/// N×3×3 from nine N-vectors in row order.
torch::Tensor matrixOf(const std::array<torch::Tensor, 9>& elements)
{
    return torch::stack(torch::TensorList(elements.data(), elements.size()), -1).view({ -1, 3, 3 });
}

/// A 1×3×3 float32 matrix of constants; it broadcasts against N×3×3 in matmul.
torch::Tensor constantMatrix(std::array<double, 9> elements)
{
    return torch::tensor(std::vector<double>(elements.begin(), elements.end()), torch::kFloat32).view({ 1, 3, 3 });
}

torch::Tensor constantScale(double sx, double sy)
{
    return constantMatrix({ sx, 0, 0, 0, sy, 0, 0, 0, 1 });
}

torch::Tensor constantTranslate(double tx, double ty)
{
    return constantMatrix({ 1, 0, tx, 0, 1, ty, 0, 0, 1 });
}

// EDM's draws: float32 uniform [0, 1), float32 standard normal, int64 in [0, high), all on the CPU.
torch::Tensor uniform(at::IntArrayRef sizes, at::Generator& generator)
{
    return torch::rand(sizes, generator, torch::kFloat32);
}

torch::Tensor normal(at::IntArrayRef sizes, at::Generator& generator)
{
    return torch::randn(sizes, generator, torch::kFloat32);
}

torch::Tensor integers(std::int64_t high, at::IntArrayRef sizes, at::Generator& generator)
{
    return torch::randint(high, sizes, generator, torch::kInt64);
}

/// `drawn` where a fresh uniform draw falls below `probability`, else 0 (EDM's gating of every transform).
torch::Tensor gate(const torch::Tensor& drawn, at::IntArrayRef sizes, double probability, at::Generator& generator)
{
    return torch::where(uniform(sizes, generator) < probability, drawn, torch::zeros_like(drawn));
}

/// The sym6 taps as a depthwise conv2d weight for `channels` channels, along width (C×1×1×12) or height
/// (C×1×12×1), reversed for upsampling as EDM does (so conv2d's correlation is a true convolution).
torch::Tensor filterWeight(const torch::Tensor& like, std::int64_t channels, bool alongWidth, bool reversed)
{
    // EDM rounds the taps to float32 before casting them to the images' type.
    torch::Tensor taps = torch::tensor(std::vector<double>(kSym6.begin(), kSym6.end()), torch::kFloat32);
    if (reversed)
        taps = taps.flip({ 0 });
    taps = taps.to(like.options());
    const std::int64_t n = taps.size(0);
    return (alongWidth ? taps.view({ 1, 1, 1, n }) : taps.view({ 1, 1, n, 1 })).repeat({ channels, 1, 1, 1 });
}

/// Doubles dimension `dim` (2 or 3): zeros between the samples (L → 2L − 1), then the filter (→ 2L).
torch::Tensor upsample(const torch::Tensor& images, std::int64_t dim)
{
    const std::int64_t channels = images.size(1);
    torch::Tensor spread = torch::stack({ images, torch::zeros_like(images) }, dim + 1);
    std::vector<std::int64_t> sizes(images.sizes().begin(), images.sizes().end());
    sizes[dim] *= 2;
    spread = spread.reshape(sizes).narrow(dim, 0, sizes[dim] - 1);
    const std::int64_t pad = (static_cast<std::int64_t>(kSym6.size()) + 1) / 2;
    const bool alongWidth = dim == 3;
    return F::conv2d(spread, filterWeight(images, channels, alongWidth, /*reversed=*/true),
        F::Conv2dFuncOptions().groups(channels).padding(
            alongWidth ? std::vector<std::int64_t> { 0, pad } : std::vector<std::int64_t> { pad, 0 }));
}

/// Filters and halves dimension `dim` (2 or 3), then crops kFilterPad from both ends.
torch::Tensor downsample(const torch::Tensor& images, std::int64_t dim)
{
    const std::int64_t channels = images.size(1);
    const std::int64_t pad = (static_cast<std::int64_t>(kSym6.size()) - 1) / 2;
    const bool alongWidth = dim == 3;
    const torch::Tensor filtered = F::conv2d(images, filterWeight(images, channels, alongWidth, /*reversed=*/false),
        F::Conv2dFuncOptions()
            .groups(channels)
            .stride(alongWidth ? std::vector<std::int64_t> { 1, 2 } : std::vector<std::int64_t> { 2, 1 })
            .padding(alongWidth ? std::vector<std::int64_t> { 0, pad } : std::vector<std::int64_t> { pad, 0 }));
    return filtered.narrow(dim, kFilterPad, filtered.size(dim) - 2 * kFilterPad);
}

} // namespace

AugmentOptions AugmentOptions::edmCifar10()
{
    AugmentOptions options;
    options.p = 0.12;
    options.xflip = 1e8;
    options.yflip = 1;
    options.scale = 1;
    options.rotateFrac = 1;
    options.aniso = 1;
    options.translateFrac = 1;
    return options;
}

std::int64_t AugmentOptions::labelDim() const
{
    return (xflip > 0 ? 1 : 0) + (yflip > 0 ? 1 : 0) + (rotateInt > 0 ? 2 : 0) + (translateInt > 0 ? 2 : 0)
        + (scale > 0 ? 1 : 0) + (rotateFrac > 0 ? 2 : 0) + (aniso > 0 ? 2 : 0) + (translateFrac > 0 ? 2 : 0);
}

void AugmentOptions::validate() const
{
    checkProbability("p", p);
    checkMultiplier("xflip", xflip);
    checkMultiplier("yflip", yflip);
    checkMultiplier("rotateInt", rotateInt);
    checkMultiplier("translateInt", translateInt);
    // The translateInt labels divide by it.
    if (!std::isfinite(translateIntMax) || translateIntMax <= 0)
        throw Error(
            "AugmentOptions: translateIntMax must be finite and positive, found " + formatNumber(translateIntMax));
    checkMultiplier("scale", scale);
    checkMultiplier("rotateFrac", rotateFrac);
    checkMultiplier("aniso", aniso);
    checkMultiplier("translateFrac", translateFrac);
    checkMultiplier("scaleStd", scaleStd);
    checkMultiplier("rotateFracMax", rotateFracMax);
    checkMultiplier("anisoStd", anisoStd);
    checkProbability("anisoRotateProb", anisoRotateProb);
    checkMultiplier("translateFracStd", translateFracStd);
}

torch::Tensor translate2d(const torch::Tensor& tx, const torch::Tensor& ty)
{
    checkPair("translate2d", "tx", tx, "ty", ty);
    const torch::Tensor one = torch::ones_like(tx);
    const torch::Tensor zero = torch::zeros_like(tx);
    return matrixOf({ one, zero, tx, zero, one, ty, zero, zero, one });
}

torch::Tensor scale2d(const torch::Tensor& sx, const torch::Tensor& sy)
{
    checkPair("scale2d", "sx", sx, "sy", sy);
    const torch::Tensor one = torch::ones_like(sx);
    const torch::Tensor zero = torch::zeros_like(sx);
    return matrixOf({ sx, zero, zero, zero, sy, zero, zero, zero, one });
}

torch::Tensor rotate2d(const torch::Tensor& theta)
{
    checkVector("rotate2d", "theta", theta);
    const torch::Tensor one = torch::ones_like(theta);
    const torch::Tensor zero = torch::zeros_like(theta);
    const torch::Tensor c = theta.cos();
    // sin(−θ) rather than −sin(θ), as EDM writes it.
    return matrixOf({ c, (-theta).sin(), zero, theta.sin(), c, zero, zero, zero, one });
}

torch::Tensor resampleImages(const torch::Tensor& images, const torch::Tensor& inverse)
{
    checkImages(images, "resampleImages");
    const std::int64_t n = images.size(0);
    const std::int64_t h = images.size(2);
    const std::int64_t w = images.size(3);
    if (!inverse.defined() || inverse.dim() != 3 || inverse.size(0) != n || inverse.size(1) != 3 || inverse.size(2) != 3
        || !at::isFloatingType(inverse.scalar_type()))
        throw Error("resampleImages: inverse must be a float N×3×3 tensor for " + std::to_string(n) + " images, found "
            + describeTensor(inverse));
    torch::Tensor g = inverse.to(torch::kCPU, torch::kFloat32);

    // Pad enough mirrored content that every output pixel, and the filter around it, samples the padded
    // image: the margin is how far the transformed corners reach past the image, plus the filter's reach.
    const double cx = (w - 1) / 2.0;
    const double cy = (h - 1) / 2.0;
    const torch::Tensor corners
        = torch::tensor(std::vector<double> { -cx, -cy, 1, cx, -cy, 1, cx, cy, 1, -cx, cy, 1 }, torch::kFloat32)
              .view({ 4, 3 });
    const torch::Tensor reach = g.matmul(corners.t()).narrow(1, 0, 2).permute({ 1, 0, 2 }).flatten(1);
    const double filterReach = 2.0 * static_cast<double>(kFilterPad);
    torch::Tensor margin = torch::cat({ -reach, reach }).amax(1)
        + torch::tensor(std::vector<double> { filterReach - cx, filterReach - cy, filterReach - cx, filterReach - cy },
            torch::kFloat32);
    margin = margin.clamp_min(0).minimum(torch::tensor(
        std::vector<double> { double(w - 1), double(h - 1), double(w - 1), double(h - 1) }, torch::kFloat32));
    const torch::Tensor edges = margin.ceil().to(torch::kInt64);
    const std::int64_t left = edges[0].item<std::int64_t>();
    const std::int64_t top = edges[1].item<std::int64_t>();
    const std::int64_t right = edges[2].item<std::int64_t>();
    const std::int64_t bottom = edges[3].item<std::int64_t>();

    torch::Tensor x = F::pad(images, F::PadFuncOptions({ left, right, top, bottom }).mode(torch::kReflect));
    g = constantTranslate((left - right) / 2.0, (top - bottom) / 2.0).matmul(g);

    // 2× upsampling; the matrix moves to the finer grid, whose pixel centres sit half a pixel off.
    x = upsample(upsample(x, 3), 2);
    g = constantScale(2, 2).matmul(g).matmul(constantScale(0.5, 0.5));
    g = constantTranslate(-0.5, -0.5).matmul(g).matmul(constantTranslate(0.5, 0.5));

    // Sample the output on a grid the size of the unpadded image plus the filter margin, at 2×; grid_sample
    // wants the matrix in [−1, 1] coordinates of output and input.
    const std::int64_t outH = (h + kFilterPad * 2) * 2;
    const std::int64_t outW = (w + kFilterPad * 2) * 2;
    g = constantScale(2.0 / static_cast<double>(x.size(3)), 2.0 / static_cast<double>(x.size(2)))
            .matmul(g)
            .matmul(constantScale(1.0 / (2.0 / static_cast<double>(outW)), 1.0 / (2.0 / static_cast<double>(outH))));
    const torch::Tensor theta = g.narrow(1, 0, 2).to(images.device(), images.scalar_type());
    const torch::Tensor grid = F::affine_grid(theta, { n, images.size(1), outH, outW }, /*align_corners=*/false);
    x = F::grid_sample(
        x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));

    return downsample(downsample(x, 3), 2);
}

AugmentResult augmentImages(const torch::Tensor& images, const AugmentOptions& options, at::Generator& generator)
{
    options.validate();
    checkImages(images, "augmentImages");
    if (!generator.defined())
        throw Error("augmentImages: the generator is undefined");
    if (generator.device().type() != torch::kCPU)
        throw Error("augmentImages: the generator must be a CPU generator, found one on " + generator.device().str());
    const std::int64_t n = images.size(0);
    const std::int64_t h = images.size(2);
    const std::int64_t w = images.size(3);
    if (options.rotateInt > 0 && h != w)
        throw Error("augmentImages: rotateInt needs square images, found " + sizeText(h, w));
    if (options.translateInt > 0 && (h < 2 || w < 2))
        throw Error("augmentImages: translateInt needs images of at least 2×2 pixels, found " + sizeText(h, w));

    const torch::Device device = images.device();
    const double p = options.p;
    torch::Tensor out = images;
    std::vector<torch::Tensor> labels { torch::zeros({ n, 0 }) };

    // Pixel blitting: exact, per image.
    if (options.xflip > 0) {
        const torch::Tensor flip
            = gate(integers(2, { n, 1, 1, 1 }, generator), { n, 1, 1, 1 }, options.xflip * p, generator);
        out = torch::where((flip == 1).to(device), out.flip({ 3 }), out);
        labels.push_back(flip);
    }
    if (options.yflip > 0) {
        const torch::Tensor flip
            = gate(integers(2, { n, 1, 1, 1 }, generator), { n, 1, 1, 1 }, options.yflip * p, generator);
        out = torch::where((flip == 1).to(device), out.flip({ 2 }), out);
        labels.push_back(flip);
    }
    if (options.rotateInt > 0) {
        // k quarter turns counter-clockwise: x-flip for k = 1, 2, y-flip for k = 2, 3, then a transpose for k odd.
        const torch::Tensor k
            = gate(integers(4, { n, 1, 1, 1 }, generator), { n, 1, 1, 1 }, options.rotateInt * p, generator);
        const torch::Tensor mirrorX = (k == 1) | (k == 2);
        const torch::Tensor mirrorY = (k == 2) | (k == 3);
        out = torch::where(mirrorX.to(device), out.flip({ 3 }), out);
        out = torch::where(mirrorY.to(device), out.flip({ 2 }), out);
        out = torch::where(((k == 1) | (k == 3)).to(device), out.transpose(2, 3), out);
        labels.push_back(mirrorX);
        labels.push_back(mirrorY);
    }
    if (options.translateInt > 0) {
        const torch::Tensor shift = gate(
            uniform({ 2, n, 1, 1, 1 }, generator) * 2 - 1, { 1, n, 1, 1, 1 }, options.translateInt * p, generator);
        const torch::Tensor tx
            = shift[0].mul(static_cast<double>(w) * options.translateIntMax).round().to(torch::kInt64);
        const torch::Tensor ty
            = shift[1].mul(static_cast<double>(h) * options.translateIntMax).round().to(torch::kInt64);
        // Output (y, x) reads input (y + ty, x − tx), folded back into the image by mirroring about the edge
        // pixels (period 2·size − 2), so content moves right by tx and up by ty.
        const auto indexOptions = torch::TensorOptions().dtype(torch::kInt64).device(device);
        const torch::Tensor xs = torch::arange(w, indexOptions).view({ 1, 1, 1, w });
        const torch::Tensor ys = torch::arange(h, indexOptions).view({ 1, 1, h, 1 });
        const torch::Tensor sourceX = (w - 1) - ((w - 1) - torch::remainder(xs - tx.to(device), 2 * w - 2)).abs();
        const torch::Tensor sourceY = (h - 1) - ((h - 1) - torch::remainder(ys + ty.to(device), 2 * h - 2)).abs();
        const auto sizes = out.sizes();
        out = out.gather(3, sourceX.expand(sizes)).gather(2, sourceY.expand(sizes));
        labels.push_back(tx.div(static_cast<double>(w) * options.translateIntMax));
        labels.push_back(ty.div(static_cast<double>(h) * options.translateIntMax));
    }

    // The general affine part: accumulate G⁻¹ per image, resample once.
    torch::Tensor inverse = torch::eye(3, torch::kFloat32).expand({ n, 3, 3 });
    bool anyMoved = false;
    const auto noteDrawn
        = [&anyMoved](const torch::Tensor& drawn) { anyMoved = anyMoved || (drawn != 0).any().item<bool>(); };
    if (options.scale > 0) {
        const torch::Tensor z = gate(normal({ n }, generator), { n }, options.scale * p, generator);
        const torch::Tensor s = z.mul(options.scaleStd).exp2();
        inverse = inverse.matmul(scale2d(s.reciprocal(), s.reciprocal()));
        labels.push_back(z);
        noteDrawn(z);
    }
    if (options.rotateFrac > 0) {
        const torch::Tensor angle = gate((uniform({ n }, generator) * 2 - 1) * (kPi * options.rotateFracMax), { n },
            options.rotateFrac * p, generator);
        inverse = inverse.matmul(rotate2d(angle));
        labels.push_back(angle.cos() - 1);
        labels.push_back(angle.sin());
        noteDrawn(angle);
    }
    if (options.aniso > 0) {
        torch::Tensor z = normal({ n }, generator);
        torch::Tensor axis = (uniform({ n }, generator) * 2 - 1) * kPi;
        z = gate(z, { n }, options.aniso * p, generator);
        axis = gate(axis, { n }, options.anisoRotateProb, generator);
        const torch::Tensor s = z.mul(options.anisoStd).exp2();
        const torch::Tensor sInverse = s.reciprocal();
        // Scale by s along the axis at angle φ and by 1/s across it: R(φ) S(s, 1/s) R(−φ), inverted.
        inverse
            = inverse.matmul(rotate2d(-axis)).matmul(scale2d(sInverse, sInverse.reciprocal())).matmul(rotate2d(axis));
        labels.push_back(z * axis.cos());
        labels.push_back(z * axis.sin());
        noteDrawn(z);
    }
    if (options.translateFrac > 0) {
        const torch::Tensor z = gate(normal({ 2, n }, generator), { 1, n }, options.translateFrac * p, generator);
        const torch::Tensor tx = z[0].mul(static_cast<double>(w) * options.translateFracStd);
        const torch::Tensor ty = z[1].mul(static_cast<double>(h) * options.translateFracStd);
        inverse = inverse.matmul(translate2d(-tx, -ty));
        labels.push_back(z[0]);
        labels.push_back(z[1]);
        noteDrawn(z);
    }
    if (anyMoved)
        out = resampleImages(out, inverse);

    std::vector<torch::Tensor> columns;
    columns.reserve(labels.size());
    for (const torch::Tensor& label : labels)
        columns.push_back(label.to(torch::kFloat32).reshape({ n, -1 }));
    return { out, torch::cat(columns, 1).to(device), inverse.contiguous() };
}

} // namespace lethe::diffusion
