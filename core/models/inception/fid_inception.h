#pragma once

// The Inception-v3 that FID is defined with: TensorFlow's 2015-12-05 ImageNet graph, laid out as pytorch-fid's
// FIDInceptionV3 (torchvision's Inception3 with the graph's pooling quirks) and registered under pytorch-fid's
// state-dict names. Only the 2048 "pool3" features are computed; the classifier head is not built. Its input is
// prepared either as NVIDIA's TorchScript detector does (EDM's fid.py) or as pytorch-fid does.

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace lethe::models::inception {

/// Width of the pool3 features.
inline constexpr std::int64_t kFidFeatureDim = 2048;
/// Side of the square image the network sees.
inline constexpr std::int64_t kInceptionInputSize = 299;

/// How uint8 images become the network's 299×299 input in [-1, 1].
enum class FidResize {
    /// NVIDIA's inception-2015-12-05 TorchScript detector (EDM's fid.py): grid_sample with border padding after
    /// a shift of half an input pixel minus half an output pixel, then (x − 128) / 128.
    Edm,
    /// pytorch-fid: x / 255, bilinear interpolate (align_corners false), then 2x − 1.
    PytorchFid,
};

/// The network's input for uint8 images [N, 3, H, W] or [N, 1, H, W] (grey, repeated to RGB): float32
/// [N, 3, 299, 299] on the images' device. Throws Error for other dtypes or shapes.
torch::Tensor inceptionInput(const torch::Tensor& images, FidResize resize);

/// BatchNorm2d in inference form only (the detector is never trained, so it keeps no num_batches_tracked):
/// "weight", "bias", "running_mean", "running_var"; eps 0.001 as in the TensorFlow graph.
class FrozenBatchNorm2dImpl : public torch::nn::Module {
public:
    explicit FrozenBatchNorm2dImpl(std::int64_t channels);
    torch::Tensor forward(const torch::Tensor& x);

    torch::Tensor weight;
    torch::Tensor bias;
    torch::Tensor running_mean;
    torch::Tensor running_var;
};
TORCH_MODULE(FrozenBatchNorm2d);

/// pytorch-fid's BasicConv2d: "conv" (no bias) → "bn" → ReLU. The options' bias setting is ignored.
class BasicConv2dImpl : public torch::nn::Module {
public:
    explicit BasicConv2dImpl(torch::nn::Conv2dOptions options);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::Conv2d conv { nullptr };
    FrozenBatchNorm2d bn { nullptr };
};
TORCH_MODULE(BasicConv2d);

/// FIDInceptionA: 1×1, 5×5, double 3×3 and average-pool branches; 224 + pool_features channels out.
class InceptionAImpl : public torch::nn::Module {
public:
    InceptionAImpl(std::int64_t in_channels, std::int64_t pool_features);
    torch::Tensor forward(const torch::Tensor& x);

    BasicConv2d branch1x1 { nullptr };
    BasicConv2d branch5x5_1 { nullptr };
    BasicConv2d branch5x5_2 { nullptr };
    BasicConv2d branch3x3dbl_1 { nullptr };
    BasicConv2d branch3x3dbl_2 { nullptr };
    BasicConv2d branch3x3dbl_3 { nullptr };
    BasicConv2d branch_pool { nullptr };
};
TORCH_MODULE(InceptionA);

/// InceptionB: halves the grid with a strided 3×3, a strided double 3×3 and a max pool; 480 + in channels out.
class InceptionBImpl : public torch::nn::Module {
public:
    explicit InceptionBImpl(std::int64_t in_channels);
    torch::Tensor forward(const torch::Tensor& x);

    BasicConv2d branch3x3 { nullptr };
    BasicConv2d branch3x3dbl_1 { nullptr };
    BasicConv2d branch3x3dbl_2 { nullptr };
    BasicConv2d branch3x3dbl_3 { nullptr };
};
TORCH_MODULE(InceptionB);

/// FIDInceptionC: 1×1, factorised 7×7, double factorised 7×7 and average-pool branches of width `channels_7x7`
/// inside; 768 channels out.
class InceptionCImpl : public torch::nn::Module {
public:
    InceptionCImpl(std::int64_t in_channels, std::int64_t channels_7x7);
    torch::Tensor forward(const torch::Tensor& x);

    BasicConv2d branch1x1 { nullptr };
    BasicConv2d branch7x7_1 { nullptr };
    BasicConv2d branch7x7_2 { nullptr };
    BasicConv2d branch7x7_3 { nullptr };
    BasicConv2d branch7x7dbl_1 { nullptr };
    BasicConv2d branch7x7dbl_2 { nullptr };
    BasicConv2d branch7x7dbl_3 { nullptr };
    BasicConv2d branch7x7dbl_4 { nullptr };
    BasicConv2d branch7x7dbl_5 { nullptr };
    BasicConv2d branch_pool { nullptr };
};
TORCH_MODULE(InceptionC);

/// InceptionD: halves the grid with a strided 3×3, a factorised 7×7 then strided 3×3, and a max pool; 512 + in
/// channels out.
class InceptionDImpl : public torch::nn::Module {
public:
    explicit InceptionDImpl(std::int64_t in_channels);
    torch::Tensor forward(const torch::Tensor& x);

    BasicConv2d branch3x3_1 { nullptr };
    BasicConv2d branch3x3_2 { nullptr };
    BasicConv2d branch7x7x3_1 { nullptr };
    BasicConv2d branch7x7x3_2 { nullptr };
    BasicConv2d branch7x7x3_3 { nullptr };
    BasicConv2d branch7x7x3_4 { nullptr };
};
TORCH_MODULE(InceptionD);

/// The pool of an InceptionE block's pool branch.
enum class InceptionEPool {
    /// FIDInceptionE_1 (Mixed_7b): avg_pool2d(3, 1, 1) without counting the padding.
    Average,
    /// FIDInceptionE_2 (Mixed_7c): max_pool2d(3, 1, 1), a quirk of the TensorFlow graph.
    Max,
};

/// FIDInceptionE_1 / _2: 1×1, split 3×3, double 3×3 with a split end, and pool branches; 2048 channels out.
class InceptionEImpl : public torch::nn::Module {
public:
    InceptionEImpl(std::int64_t in_channels, InceptionEPool pool);
    torch::Tensor forward(const torch::Tensor& x);

    InceptionEPool pool;
    BasicConv2d branch1x1 { nullptr };
    BasicConv2d branch3x3_1 { nullptr };
    BasicConv2d branch3x3_2a { nullptr };
    BasicConv2d branch3x3_2b { nullptr };
    BasicConv2d branch3x3dbl_1 { nullptr };
    BasicConv2d branch3x3dbl_2 { nullptr };
    BasicConv2d branch3x3dbl_3a { nullptr };
    BasicConv2d branch3x3dbl_3b { nullptr };
    BasicConv2d branch_pool { nullptr };
};
TORCH_MODULE(InceptionE);

/// pytorch-fid's FIDInceptionV3 up to pool3, under its state-dict names ("Conv2d_1a_3x3", ..., "Mixed_7c").
class FidInceptionImpl : public torch::nn::Module {
public:
    FidInceptionImpl();
    /// Input [N, 3, 299, 299] in [-1, 1] (see inceptionInput) → pool3 features [N, 2048].
    torch::Tensor forward(const torch::Tensor& x);
    /// pool3 features, float32 [N, 2048] on the network's device; no autograd; processes in batches of `batch`.
    /// Throws Error for images inceptionInput refuses and for a batch below 1.
    torch::Tensor features(const torch::Tensor& images, FidResize resize = FidResize::Edm, std::int64_t batch = 64);

    BasicConv2d Conv2d_1a_3x3 { nullptr };
    BasicConv2d Conv2d_2a_3x3 { nullptr };
    BasicConv2d Conv2d_2b_3x3 { nullptr };
    BasicConv2d Conv2d_3b_1x1 { nullptr };
    BasicConv2d Conv2d_4a_3x3 { nullptr };
    InceptionA Mixed_5b { nullptr };
    InceptionA Mixed_5c { nullptr };
    InceptionA Mixed_5d { nullptr };
    InceptionB Mixed_6a { nullptr };
    InceptionC Mixed_6b { nullptr };
    InceptionC Mixed_6c { nullptr };
    InceptionC Mixed_6d { nullptr };
    InceptionC Mixed_6e { nullptr };
    InceptionD Mixed_7a { nullptr };
    InceptionE Mixed_7b { nullptr };
    InceptionE Mixed_7c { nullptr };
};
TORCH_MODULE(FidInception);

/// The detector with where it came from.
struct LoadedInception {
    FidInception net { nullptr };
    std::filesystem::path file;
    std::string sha256;
};

/// Reads the detector weights from safetensors under pytorch-fid's names (strict: every tensor checked for
/// presence, shape and dtype before any copy; the classifier head fc.* and num_batches_tracked, if present, are
/// skipped; floating dtypes are converted); eval mode, float32, on `device`. Refuses pickles (.pkl/.pth/.pt) with
/// a message naming the converter script. Throws FormatError naming the file and tensor.
LoadedInception loadFidInception(const std::filesystem::path& file, torch::Device device = torch::kCPU);

} // namespace lethe::models::inception
