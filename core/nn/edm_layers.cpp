#include "edm_layers.h"

#include "core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lethe::nn {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// True for a [N, C, H, W] tensor laid out channels-last (not also NCHW-contiguous, as one channel would be).
bool isChannelsLast(const torch::Tensor& x)
{
    return x.dim() == 4 && x.is_contiguous(torch::MemoryFormat::ChannelsLast) && !x.is_contiguous();
}

// Explicit IntArrayRef arguments: LibTorch 2.x adds a string padding overload of conv2d that a literal 0
// (a null pointer constant) would make ambiguous.
torch::Tensor conv2d(const torch::Tensor& x, const torch::Tensor& w, std::int64_t stride, std::int64_t padding,
    std::int64_t groups, const torch::Tensor& bias = torch::Tensor())
{
    const std::vector<std::int64_t> strides { stride, stride };
    const std::vector<std::int64_t> paddings { padding, padding };
    const std::vector<std::int64_t> dilations { 1, 1 };
    return torch::conv2d(
        x, w, bias, torch::IntArrayRef(strides), torch::IntArrayRef(paddings), torch::IntArrayRef(dilations), groups);
}

// oneDNN, which runs LibTorch's CPU convolutions, works in blocked or channels-last (NHWC) layouts; handed the
// default NCHW layout it reorders every input and output around the convolution, which at EDM's small channel
// counts costs a large share of the convolution itself (about half of the time in oneDNN's kernels on the built-in
// model). Group norm, SiLU, dropout, resampling, concatenation and the residual sums all keep the layout, so once
// converted a feature map stays channels-last through the network; dropout draws its mask in NCHW order whatever
// the layout, so a seeded run keeps its draws. Only without gradient (sampling): with gradients, in the A/B of
// docs/performance.md, the RGD step did not get faster with it.
torch::Tensor channelsLastOnCpu(const torch::Tensor& x)
{
    if (!x.is_cpu() || x.dim() != 4 || torch::GradMode::is_enabled())
        return x;
    return x.contiguous(torch::MemoryFormat::ChannelsLast);
}

// LibTorch 1.13's group_norm on a channels-last CPU tensor is about as fast as on NCHW at 32 × 32, but ten times
// slower and more at 16 × 16 and 8 × 8, which made group norm 31 % of the built-in model's sampling time
// (`lethe-cli -j 1 bench sample --profile FILE`). Below 32 × 32, sampling normalises with the few operators below
// instead; training (NCHW) and larger maps keep LibTorch's kernel.
bool useChannelsLastGroupNorm(const torch::Tensor& x)
{
    return !torch::GradMode::is_enabled() && x.is_cpu() && isChannelsLast(x) && x.size(2) * x.size(3) < 1024;
}

/// Group norm of a channels-last [N, C, H, W] tensor, read as the contiguous [N, H·W, C] it is in memory: each
/// channel's sum and sum of squares over the map, summed per group into its mean and variance (the same
/// E[x²] − E[x]² as LibTorch's own channels-last kernel), then one pass y = x · scale + shift per channel. The result
/// is channels-last too.
torch::Tensor channelsLastGroupNorm(
    const torch::Tensor& x, std::int64_t groups, const torch::Tensor& weight, const torch::Tensor& bias, double eps)
{
    const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const torch::Tensor pixels = x.permute({ 0, 2, 3, 1 }).reshape({ n, h * w, c });
    const double count = static_cast<double>(h * w * (c / groups));
    const torch::Tensor mean = pixels.sum(1).reshape({ n, groups, c / groups }).sum(2, true).div_(count);
    const torch::Tensor meanSquare = pixels.square().sum(1).reshape({ n, groups, c / groups }).sum(2, true).div_(count);
    const torch::Tensor variance = (meanSquare - mean.square()).clamp_min_(0.0);
    const torch::Tensor scale = variance.add_(eps).rsqrt_() * weight.reshape({ 1, groups, c / groups });
    const torch::Tensor shift = bias.reshape({ 1, groups, c / groups }) - mean * scale;
    return torch::addcmul(shift.reshape({ n, 1, c }), pixels, scale.reshape({ n, 1, c }))
        .reshape({ n, h, w, c })
        .permute({ 0, 3, 1, 2 });
}

/// SiLU, in place where no gradient is recorded: sampling then reuses the normalised tensor instead of
/// allocating another feature map.
torch::Tensor applySilu(torch::Tensor x)
{
    if (!torch::GradMode::is_enabled())
        return torch::silu_(x);
    return torch::silu(x);
}

torch::Tensor convTranspose2d(
    const torch::Tensor& x, const torch::Tensor& w, std::int64_t stride, std::int64_t padding, std::int64_t groups)
{
    const std::vector<std::int64_t> strides { stride, stride };
    const std::vector<std::int64_t> paddings { padding, padding };
    const std::vector<std::int64_t> outputPaddings { 0, 0 };
    const std::vector<std::int64_t> dilations { 1, 1 };
    return torch::conv_transpose2d(x, w, torch::Tensor(), torch::IntArrayRef(strides), torch::IntArrayRef(paddings),
        torch::IntArrayRef(outputPaddings), groups, torch::IntArrayRef(dilations));
}

/// True for EDM's default [1, 1] resample filter: a uniform 2×2 kernel.
bool isBoxFilter(const torch::Tensor& f)
{
    return f.size(-1) == 2 && f.size(-2) == 2 && torch::equal(f, torch::full_like(f, 0.25));
}

// Depthwise resampling applies one filter to every channel. LibTorch's grouped conv_transpose2d with
// groups = channels runs a slow reference kernel on CPU (about 30× slower than the rest of a UNet step), so
// the channels are folded into the batch and the filter runs as a single-channel convolution; the box
// filter is exactly nearest-neighbour upsampling / 2×2 average pooling, which are faster still.
torch::Tensor upsample2x(const torch::Tensor& y, const torch::Tensor& f, std::int64_t padding)
{
    if (padding == 0 && isBoxFilter(f))
        return torch::upsample_nearest2d(y, std::vector<std::int64_t> { y.size(2) * 2, y.size(3) * 2 });
    const auto n = y.size(0), c = y.size(1);
    const torch::Tensor out = convTranspose2d(y.reshape({ n * c, 1, y.size(2), y.size(3) }), f * 4, 2, padding, 1);
    return out.reshape({ n, c, out.size(2), out.size(3) });
}

torch::Tensor downsample2x(const torch::Tensor& y, const torch::Tensor& f, std::int64_t padding)
{
    if (padding == 0 && isBoxFilter(f))
        return torch::avg_pool2d(y, std::vector<std::int64_t> { 2, 2 });
    const auto n = y.size(0), c = y.size(1);
    const torch::Tensor out = conv2d(y.reshape({ n * c, 1, y.size(2), y.size(3) }), f, 2, padding, 1);
    return out.reshape({ n, c, out.size(2), out.size(3) });
}

void requirePositive(const char* layer, const char* what, std::int64_t value)
{
    if (value < 1)
        throw Error(std::string(layer) + ": " + what + " must be positive, got " + std::to_string(value));
}

} // namespace

const EnumNames<InitMode>& enumNames(InitMode)
{
    static const EnumNames<InitMode> table
        = { { InitMode::KaimingUniform, "kaiming_uniform" }, { InitMode::KaimingNormal, "kaiming_normal" },
              { InitMode::XavierUniform, "xavier_uniform" }, { InitMode::XavierNormal, "xavier_normal" } };
    return table;
}

InitMode initModeFromName(const std::string& name)
{
    if (const std::optional<InitMode> mode = enumFromName<InitMode>(name))
        return *mode;
    throw Error("invalid init mode '" + name + "': expected " + enumNameList(InitMode {}, ""));
}

torch::Tensor weightInit(torch::IntArrayRef shape, InitMode mode, std::int64_t fanIn, std::int64_t fanOut)
{
    // Same draws and the same float32 operations as EDM, so a seeded Lethe network matches a seeded EDM one;
    // in place because the 55.7 M-parameter CIFAR-10 network makes every extra pass noticeable.
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    const double in = static_cast<double>(fanIn);
    const double out = static_cast<double>(fanOut);
    switch (mode) {
    case InitMode::XavierUniform:
        return torch::rand(shape, f32).mul_(2).sub_(1).mul_(std::sqrt(6.0 / (in + out)));
    case InitMode::XavierNormal:
        return torch::randn(shape, f32).mul_(std::sqrt(2.0 / (in + out)));
    case InitMode::KaimingUniform:
        return torch::rand(shape, f32).mul_(2).sub_(1).mul_(std::sqrt(3.0 / in));
    case InitMode::KaimingNormal:
        return torch::randn(shape, f32).mul_(std::sqrt(1.0 / in));
    }
    throw Error("unknown init mode " + std::to_string(static_cast<int>(mode)));
}

// ---------------------------------------------------------------------------------------------------------------

LinearOptions::LinearOptions(std::int64_t in_features, std::int64_t out_features)
    : in_features_(in_features)
    , out_features_(out_features)
{
}

LinearOptions& LinearOptions::init(const WeightInit& init)
{
    init_mode_ = init.mode;
    init_weight_ = init.weight;
    init_bias_ = init.bias;
    return *this;
}

LinearImpl::LinearImpl(LinearOptions options)
    : options(std::move(options))
{
    reset();
}

void LinearImpl::reset()
{
    const std::int64_t in = options.in_features();
    const std::int64_t out = options.out_features();
    requirePositive("Linear", "in_features", in);
    requirePositive("Linear", "out_features", out);
    weight = register_parameter(
        "weight", weightInit({ out, in }, options.init_mode(), in, out).mul_(options.init_weight()));
    bias = torch::Tensor();
    if (options.bias())
        bias = register_parameter("bias", weightInit({ out }, options.init_mode(), in, out).mul_(options.init_bias()));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x)
{
    torch::Tensor y = torch::matmul(x, weight.to(x.dtype()).t());
    if (bias.defined())
        y = y.add_(bias.to(x.dtype()));
    return y;
}

// ---------------------------------------------------------------------------------------------------------------

Conv2dOptions::Conv2dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel)
    : in_channels_(in_channels)
    , out_channels_(out_channels)
    , kernel_(kernel)
{
}

Conv2dOptions& Conv2dOptions::init(const WeightInit& init)
{
    init_mode_ = init.mode;
    init_weight_ = init.weight;
    init_bias_ = init.bias;
    return *this;
}

Conv2dImpl::Conv2dImpl(Conv2dOptions options)
    : options(std::move(options))
{
    reset();
}

void Conv2dImpl::reset()
{
    const std::int64_t in = options.in_channels();
    const std::int64_t out = options.out_channels();
    const std::int64_t k = options.kernel();
    requirePositive("Conv2d", "in_channels", in);
    requirePositive("Conv2d", "out_channels", out);
    if (k < 0)
        throw Error("Conv2d: kernel must not be negative, got " + std::to_string(k));
    if (options.up() && options.down())
        throw Error("Conv2d: up and down cannot both be set");
    if ((options.up() || options.down()) && options.resample_filter().empty())
        throw Error("Conv2d: resampling needs a non-empty resample_filter");

    weight = torch::Tensor();
    bias = torch::Tensor();
    resample_filter = torch::Tensor();
    const std::int64_t fanIn = in * k * k;
    const std::int64_t fanOut = out * k * k;
    if (k != 0)
        weight = register_parameter(
            "weight", weightInit({ out, in, k, k }, options.init_mode(), fanIn, fanOut).mul_(options.init_weight()));
    if (k != 0 && options.bias())
        bias = register_parameter(
            "bias", weightInit({ out }, options.init_mode(), fanIn, fanOut).mul_(options.init_bias()));
    // EDM registers the buffer as None otherwise, which leaves it out of the state dict.
    if (options.up() || options.down()) {
        const auto taps = options.resample_filter();
        torch::Tensor f = torch::tensor(taps, torch::kFloat64).to(torch::kFloat32);
        f = torch::outer(f, f).unsqueeze(0).unsqueeze(1) / f.sum().square();
        resample_filter = register_buffer("resample_filter", f);
    }
}

torch::Tensor Conv2dImpl::forward(const torch::Tensor& x)
{
    const torch::Tensor w = weight.defined() ? weight.to(x.dtype()) : torch::Tensor();
    const torch::Tensor b = bias.defined() ? bias.to(x.dtype()) : torch::Tensor();
    const torch::Tensor f = resample_filter.defined() ? resample_filter.to(x.dtype()) : torch::Tensor();
    const std::int64_t wPad = w.defined() ? w.size(-1) / 2 : 0;
    const std::int64_t fPad = f.defined() ? (f.size(-1) - 1) / 2 : 0;

    torch::Tensor y = x;
    if (options.fused_resample() && options.up() && w.defined()) {
        y = upsample2x(y, f, wPad + fPad);
        y = conv2d(y, w, 1, 0, 1);
    } else if (options.fused_resample() && options.down() && w.defined()) {
        y = conv2d(y, w, 1, wPad + fPad, 1);
        y = downsample2x(y, f, 0);
    } else {
        if (options.up())
            y = upsample2x(y, f, fPad);
        if (options.down())
            y = downsample2x(y, f, fPad);
        // The bias goes into the convolution, which adds it while writing the output instead of in a second
        // pass over it. A one-channel input counts as NCHW to oneDNN, which then writes NCHW: the output is converted
        // instead, so that the feature maps after it stay channels-last.
        if (w.defined())
            return channelsLastOnCpu(conv2d(channelsLastOnCpu(y), w, 1, wPad, 1, b));
    }
    if (b.defined())
        y = y.add_(b.reshape({ 1, -1, 1, 1 }));
    return y;
}

// ---------------------------------------------------------------------------------------------------------------

GroupNormOptions::GroupNormOptions(std::int64_t num_channels)
    : num_channels_(num_channels)
{
}

GroupNormImpl::GroupNormImpl(GroupNormOptions options)
    : options(std::move(options))
{
    reset();
}

void GroupNormImpl::reset()
{
    const std::int64_t channels = options.num_channels();
    requirePositive("GroupNorm", "num_channels", channels);
    requirePositive("GroupNorm", "min_channels_per_group", options.min_channels_per_group());
    num_groups = std::min(options.num_groups(), channels / options.min_channels_per_group());
    // EDM would only fail inside group_norm at the first forward; say which layer size is impossible now.
    if (num_groups < 1)
        throw Error("GroupNorm: " + std::to_string(channels) + " channels are fewer than min_channels_per_group "
            + std::to_string(options.min_channels_per_group()));
    if (channels % num_groups != 0)
        throw Error("GroupNorm: " + std::to_string(channels) + " channels cannot be split into "
            + std::to_string(num_groups) + " equal groups (num_groups " + std::to_string(options.num_groups())
            + ", min_channels_per_group " + std::to_string(options.min_channels_per_group()) + ")");
    weight = register_parameter("weight", torch::ones({ channels }, torch::kFloat32));
    bias = register_parameter("bias", torch::zeros({ channels }, torch::kFloat32));
}

torch::Tensor GroupNormImpl::forward(const torch::Tensor& x)
{
    // In the weights' type, as CUDA's autocast runs group_norm (in float32); LibTorch's CPU autocast would leave it
    // in the input's bfloat16 and round every normalised feature map to 8 bits of mantissa. Without autocast the
    // input already has the weights' type.
    const torch::Tensor input = x.to(weight.scalar_type());
    if (useChannelsLastGroupNorm(input))
        return channelsLastGroupNorm(input, num_groups, weight, bias, options.eps());
    return torch::group_norm(input, num_groups, weight, bias, options.eps());
}

// ---------------------------------------------------------------------------------------------------------------

torch::Tensor attentionWeights(const torch::Tensor& q, const torch::Tensor& k)
{
    // Softmax in float32 even for half inputs, as EDM's AttentionOp does; autograd through these float32
    // operations gives the gradients EDM's hand-written backward computes.
    const torch::Tensor scaledK = (k / std::sqrt(static_cast<double>(k.size(1)))).to(torch::kFloat32);
    const torch::Tensor logits = torch::bmm(q.to(torch::kFloat32).transpose(1, 2), scaledK);
    return logits.softmax(2).to(q.scalar_type());
}

UNetBlockOptions::UNetBlockOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t emb_channels)
    : in_channels_(in_channels)
    , out_channels_(out_channels)
    , emb_channels_(emb_channels)
{
}

UNetBlockImpl::UNetBlockImpl(UNetBlockOptions options)
    : options(std::move(options))
{
    reset();
}

void UNetBlockImpl::reset()
{
    const auto& o = options;
    const std::int64_t in = o.in_channels();
    const std::int64_t out = o.out_channels();
    requirePositive("UNetBlock", "emb_channels", o.emb_channels());
    if (o.dropout() < 0.0 || o.dropout() > 1.0)
        throw Error("UNetBlock: dropout must be in [0, 1], got " + std::to_string(o.dropout()));
    num_heads = 0;
    if (o.attention()) {
        requirePositive("UNetBlock", "channels_per_head", o.channels_per_head());
        // As in EDM, zero heads (fewer channels than channels_per_head) silently means no attention.
        num_heads = o.num_heads() ? *o.num_heads() : out / o.channels_per_head();
        if (num_heads < 0)
            throw Error("UNetBlock: num_heads must not be negative, got " + std::to_string(num_heads));
        if (num_heads != 0 && out % num_heads != 0)
            throw Error("UNetBlock: " + std::to_string(out) + " channels cannot be split into "
                + std::to_string(num_heads) + " attention heads");
    }

    // Creation order is EDM's: it fixes both the state-dict order and the random draws of the initialisation.
    norm0 = register_module("norm0", GroupNorm(GroupNormOptions(in).eps(o.eps())));
    conv0 = register_module("conv0",
        Conv2d(
            Conv2dOptions(in, out, 3).up(o.up()).down(o.down()).resample_filter(o.resample_filter()).init(o.init())));
    affine = register_module(
        "affine", Linear(LinearOptions(o.emb_channels(), out * (o.adaptive_scale() ? 2 : 1)).init(o.init())));
    norm1 = register_module("norm1", GroupNorm(GroupNormOptions(out).eps(o.eps())));
    conv1 = register_module("conv1", Conv2d(Conv2dOptions(out, out, 3).init(o.init_zero())));

    skip = nullptr;
    if (out != in || o.up() || o.down()) {
        const std::int64_t kernel = (o.resample_proj() || out != in) ? 1 : 0;
        skip = register_module("skip",
            Conv2d(Conv2dOptions(in, out, kernel)
                       .up(o.up())
                       .down(o.down())
                       .resample_filter(o.resample_filter())
                       .init(o.init())));
    }

    norm2 = nullptr;
    qkv = nullptr;
    proj = nullptr;
    if (num_heads != 0) {
        norm2 = register_module("norm2", GroupNorm(GroupNormOptions(out).eps(o.eps())));
        qkv = register_module("qkv", Conv2d(Conv2dOptions(out, out * 3, 1).init(o.init_attn().value_or(o.init()))));
        proj = register_module("proj", Conv2d(Conv2dOptions(out, out, 1).init(o.init_zero())));
    }
}

torch::Tensor UNetBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& emb)
{
    const torch::Tensor& orig = x;
    torch::Tensor h = conv0(applySilu(norm0(x)));

    const torch::Tensor params = affine(emb).unsqueeze(2).unsqueeze(3).to(h.dtype());
    if (options.adaptive_scale()) {
        const auto scaleShift = params.chunk(2, 1);
        h = applySilu(torch::addcmul(scaleShift[1], norm1(h), scaleShift[0] + 1));
    } else {
        h = applySilu(norm1(h.add_(params)));
    }

    h = conv1(torch::dropout(h, options.dropout(), is_training()));
    h = h.add_(skip ? skip(orig) : orig);
    // In place: no backward pass needs the unscaled sum, and a new tensor would be another whole feature map.
    h = h.mul_(options.skip_scale());

    if (num_heads != 0) {
        // EDM's channel layout of qkv: [heads, channels per head, {q, k, v}] — checkpoints depend on it.
        const auto parts = qkv(norm2(h)).reshape({ h.size(0) * num_heads, h.size(1) / num_heads, 3, -1 }).unbind(2);
        const torch::Tensor w = attentionWeights(parts[0], parts[1]);
        const torch::Tensor a = torch::bmm(parts[2], w.transpose(1, 2));
        h = proj(a.reshape(h.sizes())).add_(h);
        h = h.mul_(options.skip_scale());
    }
    return h;
}

// ---------------------------------------------------------------------------------------------------------------

PositionalEmbeddingOptions::PositionalEmbeddingOptions(std::int64_t num_channels)
    : num_channels_(num_channels)
{
}

PositionalEmbeddingImpl::PositionalEmbeddingImpl(PositionalEmbeddingOptions options)
    : options(std::move(options))
{
    reset();
}

void PositionalEmbeddingImpl::reset()
{
    const std::int64_t channels = options.num_channels();
    // An odd count would silently lose a channel and endpoint with 2 channels divides by zero.
    if (channels < 2 || channels % 2 != 0 || (options.endpoint() && channels < 4))
        throw Error("PositionalEmbedding: num_channels must be even and at least "
            + std::string(options.endpoint() ? "4" : "2") + ", got " + std::to_string(channels));
    requirePositive("PositionalEmbedding", "max_positions", options.max_positions());
}

torch::Tensor PositionalEmbeddingImpl::forward(const torch::Tensor& x)
{
    const std::int64_t half = options.num_channels() / 2;
    torch::Tensor freqs = torch::arange(0, half, torch::TensorOptions().dtype(torch::kFloat32).device(x.device()));
    freqs = freqs / static_cast<double>(half - (options.endpoint() ? 1 : 0));
    freqs = torch::pow(1.0 / static_cast<double>(options.max_positions()), freqs);
    const torch::Tensor y = torch::outer(x, freqs.to(x.dtype()));
    return torch::cat({ y.cos(), y.sin() }, 1);
}

// ---------------------------------------------------------------------------------------------------------------

FourierEmbeddingOptions::FourierEmbeddingOptions(std::int64_t num_channels)
    : num_channels_(num_channels)
{
}

FourierEmbeddingImpl::FourierEmbeddingImpl(FourierEmbeddingOptions options)
    : options(std::move(options))
{
    reset();
}

void FourierEmbeddingImpl::reset()
{
    const std::int64_t channels = options.num_channels();
    if (channels < 2 || channels % 2 != 0)
        throw Error("FourierEmbedding: num_channels must be even and at least 2, got " + std::to_string(channels));
    freqs = register_buffer("freqs", torch::randn({ channels / 2 }, torch::kFloat32) * options.scale());
}

torch::Tensor FourierEmbeddingImpl::forward(const torch::Tensor& x)
{
    const torch::Tensor y = torch::outer(x, (freqs * (2.0 * kPi)).to(x.dtype()));
    return torch::cat({ y.cos(), y.sin() }, 1);
}

} // namespace lethe::nn
