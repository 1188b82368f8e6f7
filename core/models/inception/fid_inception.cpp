#include "fid_inception.h"

#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"
#include "core/nn/state_dict.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace lethe::models::inception {

namespace F = torch::nn::functional;

namespace {

/// TensorFlow's batch-norm epsilon, which pytorch-fid's BasicConv2d keeps.
constexpr double kBatchNormEps = 0.001;

std::string describe(const torch::Tensor& images)
{
    if (!images.defined())
        return "an undefined tensor";
    return std::string(c10::toString(images.scalar_type())) + " " + nn::shapeText(images.sizes().vec());
}

void checkImages(const torch::Tensor& images)
{
    const bool valid = images.defined() && images.scalar_type() == torch::kUInt8 && images.dim() == 4
        && (images.size(1) == 3 || images.size(1) == 1) && images.size(2) > 0 && images.size(3) > 0;
    if (!valid)
        throw Error("Inception: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found " + describe(images));
}

BasicConv2d basicConv(std::int64_t in, std::int64_t out, torch::ExpandingArray<2> kernel,
    torch::ExpandingArray<2> padding = 0, std::int64_t stride = 1)
{
    return BasicConv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

/// The pool branch of the A, C and E_1 blocks. Not counting the padding is the TensorFlow graph's behaviour,
/// which torchvision's own Inception3 does not copy.
torch::Tensor averagePool3x3(const torch::Tensor& x)
{
    return F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(1).padding(1).count_include_pad(false));
}

torch::Tensor maxPool3x3(const torch::Tensor& x, std::int64_t stride, std::int64_t padding)
{
    return F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(stride).padding(padding));
}

bool isPickle(const std::filesystem::path& path)
{
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return ext == ".pkl" || ext == ".pth" || ext == ".pt";
}

bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

torch::Tensor inceptionInput(const torch::Tensor& images, FidResize resize)
{
    checkImages(images);
    torch::Tensor x = images.to(torch::kFloat32);
    if (x.size(1) == 1)
        x = x.expand({ -1, 3, -1, -1 });
    const std::int64_t n = x.size(0);
    const std::int64_t side = kInceptionInputSize;
    if (n == 0)
        return torch::zeros({ 0, 3, side, side }, x.options());

    switch (resize) {
    case FidResize::Edm: {
        // The detector's theta, in float32 as it computes it: the identity shifted by half an input pixel minus
        // half an output pixel (in [-1, 1] units), so that output pixel i samples input pixel i·W/299, as
        // TensorFlow 1's resize_bilinear (without half-pixel centres) did in the original graph.
        const float shiftX = 1.0F / static_cast<float>(x.size(3)) - 1.0F / static_cast<float>(side);
        const float shiftY = 1.0F / static_cast<float>(x.size(2)) - 1.0F / static_cast<float>(side);
        const torch::Tensor theta = torch::tensor({ 1.0F, 0.0F, shiftX, 0.0F, 1.0F, shiftY }, x.options())
                                        .view({ 1, 2, 3 })
                                        .repeat({ n, 1, 1 });
        const torch::Tensor grid = F::affine_grid(theta, { n, 3, side, side }, /*align_corners=*/false);
        x = F::grid_sample(x, grid,
            F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
        return (x - 128.0) / 128.0;
    }
    case FidResize::PytorchFid:
        x = F::interpolate(x / 255.0,
            F::InterpolateFuncOptions()
                .size(std::vector<std::int64_t> { side, side })
                .mode(torch::kBilinear)
                .align_corners(false));
        return 2.0 * x - 1.0;
    }
    throw Error("Inception: unknown FidResize value " + std::to_string(static_cast<int>(resize)));
}

FrozenBatchNorm2dImpl::FrozenBatchNorm2dImpl(std::int64_t channels)
{
    weight = register_parameter("weight", torch::ones({ channels }));
    bias = register_parameter("bias", torch::zeros({ channels }));
    running_mean = register_buffer("running_mean", torch::zeros({ channels }));
    running_var = register_buffer("running_var", torch::ones({ channels }));
}

torch::Tensor FrozenBatchNorm2dImpl::forward(const torch::Tensor& x)
{
    return torch::batch_norm(x, weight, bias, running_mean, running_var, /*training=*/false, /*momentum=*/0.0,
        kBatchNormEps, /*cudnn_enabled=*/true);
}

BasicConv2dImpl::BasicConv2dImpl(torch::nn::Conv2dOptions options)
{
    conv = register_module("conv", torch::nn::Conv2d(options.bias(false)));
    bn = register_module("bn", FrozenBatchNorm2d(options.out_channels()));
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x)
{
    return torch::relu(bn(conv(x)));
}

InceptionAImpl::InceptionAImpl(std::int64_t in_channels, std::int64_t pool_features)
{
    branch1x1 = register_module("branch1x1", basicConv(in_channels, 64, 1));
    branch5x5_1 = register_module("branch5x5_1", basicConv(in_channels, 48, 1));
    branch5x5_2 = register_module("branch5x5_2", basicConv(48, 64, 5, 2));
    branch3x3dbl_1 = register_module("branch3x3dbl_1", basicConv(in_channels, 64, 1));
    branch3x3dbl_2 = register_module("branch3x3dbl_2", basicConv(64, 96, 3, 1));
    branch3x3dbl_3 = register_module("branch3x3dbl_3", basicConv(96, 96, 3, 1));
    branch_pool = register_module("branch_pool", basicConv(in_channels, pool_features, 1));
}

torch::Tensor InceptionAImpl::forward(const torch::Tensor& x)
{
    return torch::cat({ branch1x1(x), branch5x5_2(branch5x5_1(x)), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                          branch_pool(averagePool3x3(x)) },
        1);
}

InceptionBImpl::InceptionBImpl(std::int64_t in_channels)
{
    branch3x3 = register_module("branch3x3", basicConv(in_channels, 384, 3, 0, 2));
    branch3x3dbl_1 = register_module("branch3x3dbl_1", basicConv(in_channels, 64, 1));
    branch3x3dbl_2 = register_module("branch3x3dbl_2", basicConv(64, 96, 3, 1));
    branch3x3dbl_3 = register_module("branch3x3dbl_3", basicConv(96, 96, 3, 0, 2));
}

torch::Tensor InceptionBImpl::forward(const torch::Tensor& x)
{
    return torch::cat({ branch3x3(x), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))), maxPool3x3(x, 2, 0) }, 1);
}

InceptionCImpl::InceptionCImpl(std::int64_t in_channels, std::int64_t channels_7x7)
{
    const std::int64_t c7 = channels_7x7;
    branch1x1 = register_module("branch1x1", basicConv(in_channels, 192, 1));
    branch7x7_1 = register_module("branch7x7_1", basicConv(in_channels, c7, 1));
    branch7x7_2 = register_module("branch7x7_2", basicConv(c7, c7, { 1, 7 }, { 0, 3 }));
    branch7x7_3 = register_module("branch7x7_3", basicConv(c7, 192, { 7, 1 }, { 3, 0 }));
    branch7x7dbl_1 = register_module("branch7x7dbl_1", basicConv(in_channels, c7, 1));
    branch7x7dbl_2 = register_module("branch7x7dbl_2", basicConv(c7, c7, { 7, 1 }, { 3, 0 }));
    branch7x7dbl_3 = register_module("branch7x7dbl_3", basicConv(c7, c7, { 1, 7 }, { 0, 3 }));
    branch7x7dbl_4 = register_module("branch7x7dbl_4", basicConv(c7, c7, { 7, 1 }, { 3, 0 }));
    branch7x7dbl_5 = register_module("branch7x7dbl_5", basicConv(c7, 192, { 1, 7 }, { 0, 3 }));
    branch_pool = register_module("branch_pool", basicConv(in_channels, 192, 1));
}

torch::Tensor InceptionCImpl::forward(const torch::Tensor& x)
{
    const torch::Tensor b7x7 = branch7x7_3(branch7x7_2(branch7x7_1(x)));
    const torch::Tensor b7x7dbl = branch7x7dbl_5(branch7x7dbl_4(branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)))));
    return torch::cat({ branch1x1(x), b7x7, b7x7dbl, branch_pool(averagePool3x3(x)) }, 1);
}

InceptionDImpl::InceptionDImpl(std::int64_t in_channels)
{
    branch3x3_1 = register_module("branch3x3_1", basicConv(in_channels, 192, 1));
    branch3x3_2 = register_module("branch3x3_2", basicConv(192, 320, 3, 0, 2));
    branch7x7x3_1 = register_module("branch7x7x3_1", basicConv(in_channels, 192, 1));
    branch7x7x3_2 = register_module("branch7x7x3_2", basicConv(192, 192, { 1, 7 }, { 0, 3 }));
    branch7x7x3_3 = register_module("branch7x7x3_3", basicConv(192, 192, { 7, 1 }, { 3, 0 }));
    branch7x7x3_4 = register_module("branch7x7x3_4", basicConv(192, 192, 3, 0, 2));
}

torch::Tensor InceptionDImpl::forward(const torch::Tensor& x)
{
    const torch::Tensor b7x7x3 = branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x))));
    return torch::cat({ branch3x3_2(branch3x3_1(x)), b7x7x3, maxPool3x3(x, 2, 0) }, 1);
}

InceptionEImpl::InceptionEImpl(std::int64_t in_channels, InceptionEPool pool_)
    : pool(pool_)
{
    branch1x1 = register_module("branch1x1", basicConv(in_channels, 320, 1));
    branch3x3_1 = register_module("branch3x3_1", basicConv(in_channels, 384, 1));
    branch3x3_2a = register_module("branch3x3_2a", basicConv(384, 384, { 1, 3 }, { 0, 1 }));
    branch3x3_2b = register_module("branch3x3_2b", basicConv(384, 384, { 3, 1 }, { 1, 0 }));
    branch3x3dbl_1 = register_module("branch3x3dbl_1", basicConv(in_channels, 448, 1));
    branch3x3dbl_2 = register_module("branch3x3dbl_2", basicConv(448, 384, 3, 1));
    branch3x3dbl_3a = register_module("branch3x3dbl_3a", basicConv(384, 384, { 1, 3 }, { 0, 1 }));
    branch3x3dbl_3b = register_module("branch3x3dbl_3b", basicConv(384, 384, { 3, 1 }, { 1, 0 }));
    branch_pool = register_module("branch_pool", basicConv(in_channels, 192, 1));
}

torch::Tensor InceptionEImpl::forward(const torch::Tensor& x)
{
    const torch::Tensor b3x3 = branch3x3_1(x);
    const torch::Tensor b3x3dbl = branch3x3dbl_2(branch3x3dbl_1(x));
    const torch::Tensor pooled = pool == InceptionEPool::Average ? averagePool3x3(x) : maxPool3x3(x, 1, 1);
    return torch::cat({ branch1x1(x), branch3x3_2a(b3x3), branch3x3_2b(b3x3), branch3x3dbl_3a(b3x3dbl),
                          branch3x3dbl_3b(b3x3dbl), branch_pool(pooled) },
        1);
}

FidInceptionImpl::FidInceptionImpl()
{
    Conv2d_1a_3x3 = register_module("Conv2d_1a_3x3", basicConv(3, 32, 3, 0, 2));
    Conv2d_2a_3x3 = register_module("Conv2d_2a_3x3", basicConv(32, 32, 3));
    Conv2d_2b_3x3 = register_module("Conv2d_2b_3x3", basicConv(32, 64, 3, 1));
    Conv2d_3b_1x1 = register_module("Conv2d_3b_1x1", basicConv(64, 80, 1));
    Conv2d_4a_3x3 = register_module("Conv2d_4a_3x3", basicConv(80, 192, 3));
    Mixed_5b = register_module("Mixed_5b", InceptionA(192, 32));
    Mixed_5c = register_module("Mixed_5c", InceptionA(256, 64));
    Mixed_5d = register_module("Mixed_5d", InceptionA(288, 64));
    Mixed_6a = register_module("Mixed_6a", InceptionB(288));
    Mixed_6b = register_module("Mixed_6b", InceptionC(768, 128));
    Mixed_6c = register_module("Mixed_6c", InceptionC(768, 160));
    Mixed_6d = register_module("Mixed_6d", InceptionC(768, 160));
    Mixed_6e = register_module("Mixed_6e", InceptionC(768, 192));
    Mixed_7a = register_module("Mixed_7a", InceptionD(768));
    Mixed_7b = register_module("Mixed_7b", InceptionE(1280, InceptionEPool::Average));
    Mixed_7c = register_module("Mixed_7c", InceptionE(2048, InceptionEPool::Max));
}

torch::Tensor FidInceptionImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = Conv2d_2b_3x3(Conv2d_2a_3x3(Conv2d_1a_3x3(x)));
    h = Conv2d_4a_3x3(Conv2d_3b_1x1(maxPool3x3(h, 2, 0)));
    h = maxPool3x3(h, 2, 0);
    h = Mixed_6a(Mixed_5d(Mixed_5c(Mixed_5b(h))));
    h = Mixed_7a(Mixed_6e(Mixed_6d(Mixed_6c(Mixed_6b(h)))));
    h = Mixed_7c(Mixed_7b(h));
    // pool3: the mean over the whole (8×8) map.
    return h.mean({ 2, 3 });
}

torch::Tensor FidInceptionImpl::features(const torch::Tensor& images, FidResize resize, std::int64_t batch)
{
    checkImages(images);
    if (batch < 1)
        throw Error("Inception: batch must be at least 1, found " + std::to_string(batch));
    torch::NoGradGuard noGrad;
    const torch::Device device = Conv2d_1a_3x3->conv->weight.device();
    const std::int64_t n = images.size(0);
    std::vector<torch::Tensor> parts;
    for (std::int64_t begin = 0; begin < n; begin += batch)
        parts.push_back(forward(inceptionInput(images.slice(0, begin, std::min(n, begin + batch)).to(device), resize))
                            .to(torch::kFloat32));
    if (parts.empty())
        return torch::zeros({ 0, kFidFeatureDim }, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    return torch::cat(parts);
}

LoadedInception loadFidInception(const std::filesystem::path& file, torch::Device device)
{
    if (isPickle(file))
        throw FormatError(file.string(), "",
            "Python pickles can run arbitrary code when loaded, so Lethe never opens them; convert the detector once "
            "with scripts/inception_to_safetensors.py (it reads pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
            "and EDM's inception-2015-12-05.pkl)");
    const io::SafetensorsFile weights(file);
    FidInception net;
    nn::LoadOptions options;
    options.strict = true;
    options.mapping = [](const std::string& name) -> std::optional<std::string> {
        // The ImageNet classifier (pytorch-fid's files keep it) and BatchNorm's step counters play no part in pool3.
        if (name.rfind("fc.", 0) == 0 || endsWith(name, ".num_batches_tracked"))
            return std::nullopt;
        return name;
    };
    nn::loadStateDict(*net, weights, options);
    net->to(device);
    net->eval();
    return LoadedInception { net, file, io::sha256File(file) };
}

} // namespace lethe::models::inception
