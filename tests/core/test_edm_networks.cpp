// EDM networks: layers, SongUNet, EDMPrecond, architecture JSON and state dicts under EDM's names.
#include "core/error.h"
#include "core/io/model_file.h"
#include "core/io/safetensors.h"
#include "core/models/edm/edm_config.h"
#include "core/models/edm/edm_precond.h"
#include "core/models/edm/song_unet.h"
#include "core/nn/edm_layers.h"
#include "core/nn/state_dict.h"
#include "test_support.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <map>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;
using nlohmann::json;

namespace {

// Pinned from this implementation and re-derived by hand from EDM's layer formulas; EDM's paper gives "55.7 M".
constexpr std::int64_t kCifarDdpmppParameters = 55'735'299;
constexpr std::int64_t kFmnistSmallParameters = 710'377;
constexpr std::size_t kCifarDdpmppTensors = 427;
constexpr double kPi = 3.14159265358979323846;

std::map<std::string, std::vector<std::int64_t>> shapesOf(const torch::nn::Module& module)
{
    std::map<std::string, std::vector<std::int64_t>> shapes;
    for (const auto& [name, tensor] : nn::stateDict(module))
        shapes[name] = tensor.sizes().vec();
    return shapes;
}

std::vector<std::string> namesOf(const torch::nn::Module& module)
{
    std::vector<std::string> names;
    for (const auto& named : nn::stateDict(module))
        names.push_back(named.name);
    return names;
}

models::EDMPrecond seededNet(const models::EDMPrecondOptions& options, std::uint64_t seed)
{
    torch::manual_seed(seed);
    models::EDMPrecond net(options);
    net->eval();
    return net;
}

torch::Tensor oneHot(std::vector<std::int64_t> labels, std::int64_t classes)
{
    return torch::one_hot(torch::tensor(labels, torch::kInt64), classes).to(torch::kFloat32);
}

/// A small conditional network that exercises every block kind quickly.
models::EDMPrecondOptions tinyOptions()
{
    models::EDMPrecondOptions options(16, 2);
    options.label_dim(3);
    options.model()
        .augment_dim(4)
        .model_channels(16)
        .channel_mult({ 1, 2 })
        .num_blocks(1)
        .attn_resolutions({ 8 })
        .dropout(0.0);
    return options;
}

/// EDM starts conv1, proj and aux_conv at 1e-5 of the usual scale, which makes a fresh network nearly blind to its
/// conditioning; restore the usual scale so that label effects exceed float tolerances.
models::EDMPrecond sensitiveTinyNet(const models::EDMPrecondOptions& options, std::uint64_t seed)
{
    auto net = seededNet(options, seed);
    torch::NoGradGuard noGrad;
    const auto endsWith = [](const std::string& name, const std::string& suffix) {
        return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    for (auto& item : net->named_parameters())
        if (endsWith(item.key(), "conv1.weight") || endsWith(item.key(), "proj.weight")
            || endsWith(item.key(), "aux_conv.weight"))
            item.value().mul_(1e5);
    return net;
}

nn::LoadReport loadFile(torch::nn::Module& module, const std::filesystem::path& path, bool strict = true)
{
    return nn::loadStateDict(module, io::SafetensorsFile(path), strict);
}

} // namespace

class TestEdmNetworks : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void preconditioningCoefficients_data();
    void preconditioningCoefficients();
    void precondComposesTheModelAsEdmDoes();
    void layersFollowEdm();
    void channelsLastGroupNormMatchesLibTorch();
    void samplingLayoutGivesTheTrainingFigures();
    void ddpmppCifarHasEdmNamesShapesAndSize();
    void ddpmppCifarRoundTripsThroughSafetensors();
    void ncsnppForwardsAndHasFourierBuffer();
    void everyEncoderDecoderVariantForwards_data();
    void everyEncoderDecoderVariantForwards();
    void fmnistSmallShapeAndSize();
    void labelDropoutZeroesLabelsOnlyInTraining();
    void cloneIsDeepAndEqual();
    void loaderRejectsMismatchesByName();
    void loaderConvertsFloatDtypes();
    void loaderMapsNamesAndReshapesUnitDims();
    void configJsonRoundTripsAndMatchesEdmKwargs();
    void configErrorsNameTheKey_data();
    void configErrorsNameTheKey();

private:
    models::EDMPrecond m_cifar { nullptr }; // built once: the 55.7 M-parameter network is the slow part
};

void TestEdmNetworks::initTestCase()
{
    // One thread: on shared, oversubscribed cores OpenMP barriers between two threads can stall a small network's
    // many short operations by a factor of a hundred, while one thread stays predictable.
    torch::set_num_threads(1);
    m_cifar = seededNet(models::edmPreset("cifar10-ddpmpp-cond"), 1);
}

void TestEdmNetworks::preconditioningCoefficients_data()
{
    QTest::addColumn<double>("sigma");
    QTest::newRow("0.002") << 0.002;
    QTest::newRow("0.5") << 0.5;
    QTest::newRow("1") << 1.0;
    QTest::newRow("80") << 80.0;
}

void TestEdmNetworks::preconditioningCoefficients()
{
    QFETCH(double, sigma);
    const double d = 0.5;
    const auto c = models::edmCoefficients(torch::tensor({ sigma }, torch::kFloat64), d);
    QCOMPARE(c.cSkip.scalar_type(), torch::kFloat32);
    const auto close = [](const torch::Tensor& t, double expected) {
        return std::abs(t.item<double>() - expected) <= 1e-6 * std::max(1.0, std::abs(expected));
    };
    QVERIFY(close(c.cSkip, d * d / (sigma * sigma + d * d)));
    QVERIFY(close(c.cOut, sigma * d / std::sqrt(sigma * sigma + d * d)));
    QVERIFY(close(c.cIn, 1.0 / std::sqrt(d * d + sigma * sigma)));
    QVERIFY(close(c.cNoise, std::log(sigma) / 4.0));
}

void TestEdmNetworks::precondComposesTheModelAsEdmDoes()
{
    auto net = sensitiveTinyNet(tinyOptions(), 3);
    const auto x = torch::randn({ 2, 2, 16, 16 });
    const auto labels = oneHot({ 0, 2 }, 3);
    const auto augment = torch::randn({ 2, 4 });
    const auto sigma = torch::tensor({ 0.3f, 7.0f });

    torch::NoGradGuard noGrad;
    const auto d = net(x, sigma, labels, augment);
    QCOMPARE(d.sizes().vec(), (std::vector<std::int64_t> { 2, 2, 16, 16 }));
    const auto s = sigma.reshape({ -1, 1, 1, 1 });
    const auto c = net->coefficients(s);
    const auto f = net->model(c.cIn * x, c.cNoise.flatten(), labels, augment);
    QVERIFY(torch::allclose(d, c.cSkip * x + c.cOut * f, 1e-5, 1e-6));

    // A scalar σ applies to every image, like a per-image σ of equal values.
    const auto scalar = net(x, torch::tensor(1.5), labels, augment);
    const auto perImage = net(x, torch::full({ 2 }, 1.5), labels, augment);
    QVERIFY(torch::allclose(scalar, perImage, 1e-5, 1e-6));

    // Without labels a conditional network sees zeros, as EDM's EDMPrecond supplies.
    const auto unlabelled = net(x, sigma, torch::Tensor(), augment);
    const auto zeros = net(x, sigma, torch::zeros({ 2, 3 }), augment);
    QVERIFY(torch::allclose(unlabelled, zeros, 1e-5, 1e-6));
    QVERIFY(!torch::allclose(unlabelled, d, 1e-5, 1e-6));
}

void TestEdmNetworks::channelsLastGroupNormMatchesLibTorch()
{
    // Sampling normalises channels-last maps below 32 × 32 with its own few operators (LibTorch's kernel is slow
    // there): the same figures as group_norm on the NCHW tensor, in channels-last layout, including a large mean.
    torch::manual_seed(3);
    torch::NoGradGuard noGrad;
    for (const std::int64_t size : { 4, 8, 16, 32 }) {
        for (const std::int64_t channels : { 12, 48 }) {
            nn::GroupNorm norm(nn::GroupNormOptions(channels).eps(1e-6));
            norm->weight.uniform_(0.5, 1.5);
            norm->bias.uniform_(-1.0, 1.0);
            const torch::Tensor x = torch::randn({ 3, channels, size, size }) * 2.0 + 0.5;
            const torch::Tensor expected = torch::group_norm(x, norm->num_groups, norm->weight, norm->bias, 1e-6);
            const torch::Tensor y = norm(x.contiguous(torch::MemoryFormat::ChannelsLast));
            const std::string where = std::to_string(channels) + " channels, " + std::to_string(size) + " px";
            QVERIFY2(y.is_contiguous(torch::MemoryFormat::ChannelsLast), where.c_str());
            QVERIFY2(torch::allclose(y, expected, 1e-5, 1e-5), where.c_str());
            const torch::Tensor shifted = x + 20.0; // cancellation in E[x²] − E[x]² stays small
            const torch::Tensor yShifted = norm(shifted.contiguous(torch::MemoryFormat::ChannelsLast));
            QVERIFY2(torch::allclose(yShifted,
                         torch::group_norm(shifted, norm->num_groups, norm->weight, norm->bias, 1e-6), 1e-3, 1e-3),
                where.c_str());
        }
    }
}

void TestEdmNetworks::samplingLayoutGivesTheTrainingFigures()
{
    // Without gradient the network works channels-last (with its own group norm below 32 × 32); with gradient it
    // works NCHW. Both give the same denoised images.
    models::EDMPrecond net = sensitiveTinyNet(models::edmPreset("fmnist-ddpmpp-small"), 4);
    const torch::Tensor x = torch::randn({ 3, 1, 32, 32 }) * 2.0;
    const torch::Tensor sigma = torch::tensor({ 0.1F, 1.0F, 20.0F });
    const torch::Tensor labels = torch::eye(10).index({ torch::tensor({ 1, 7, 9 }) });
    const torch::Tensor trained = net->forward(x, sigma, labels).detach();
    torch::Tensor sampled;
    {
        torch::NoGradGuard noGrad;
        sampled = net->forward(x, sigma, labels);
    }
    QVERIFY(sampled.is_contiguous());
    const double difference = ((sampled - trained).abs().max() / trained.abs().max()).item<double>();
    QVERIFY2(difference < 1e-5, std::to_string(difference).c_str());
    QVERIFY(!torch::allclose(trained, net->forward(x, sigma, labels.flip(0)).detach())); // labels matter
}

void TestEdmNetworks::layersFollowEdm()
{
    torch::manual_seed(0);
    torch::NoGradGuard noGrad;

    QCOMPARE(nn::GroupNorm(nn::GroupNormOptions(32))->num_groups, std::int64_t { 8 });
    QCOMPARE(nn::GroupNorm(nn::GroupNormOptions(256))->num_groups, std::int64_t { 32 });
    QCOMPARE(nn::GroupNorm(nn::GroupNormOptions(12))->num_groups, std::int64_t { 3 });
    LETHE_COMPARE_STR(errorMessage([] { nn::GroupNorm(nn::GroupNormOptions(3)); }),
        std::string("GroupNorm: 3 channels are fewer than min_channels_per_group 4"));
    LETHE_COMPARE_STR(errorMessage([] { nn::GroupNorm(nn::GroupNormOptions(144)); }),
        std::string("GroupNorm: 144 channels cannot be split into 32 equal groups (num_groups 32, "
                    "min_channels_per_group 4)"));

    // Positional embedding: frequencies 10000^(-i / (C/2 - endpoint)), cos half first.
    const auto pos = nn::PositionalEmbedding(nn::PositionalEmbeddingOptions(4))(torch::tensor({ 2.0f }));
    QVERIFY(
        torch::allclose(pos, torch::tensor({ { std::cos(2.0f), std::cos(0.02f), std::sin(2.0f), std::sin(0.02f) } })));
    const auto posEnd
        = nn::PositionalEmbedding(nn::PositionalEmbeddingOptions(4).endpoint(true))(torch::tensor({ 2.0f }));
    QVERIFY(torch::allclose(
        posEnd, torch::tensor({ { std::cos(2.0f), std::cos(2e-4f), std::sin(2.0f), std::sin(2e-4f) } })));
    QVERIFY(nn::stateDict(*nn::PositionalEmbedding(nn::PositionalEmbeddingOptions(8)).ptr()).empty());

    nn::FourierEmbedding fourier(nn::FourierEmbeddingOptions(8));
    QCOMPARE(namesOf(*fourier.ptr()), std::vector<std::string> { "freqs" });
    const auto four = fourier(torch::tensor({ 0.5f }));
    const auto angle = fourier->freqs * (2 * kPi * 0.5);
    QVERIFY(torch::allclose(four, torch::cat({ angle.cos(), angle.sin() }).unsqueeze(0), 1e-5, 1e-5));

    // Linear is x·Wᵀ + b; the bias starts at zero (init_bias 0) and a disabled bias is absent.
    nn::Linear linear(nn::LinearOptions(3, 2).init_mode(nn::InitMode::XavierUniform));
    QVERIFY(linear->bias.abs().max().item<float>() == 0.0f);
    QVERIFY(linear->weight.abs().max().item<float>() <= std::sqrt(6.0f / 5.0f));
    const auto in = torch::randn({ 4, 3 });
    QVERIFY(torch::allclose(linear(in), in.matmul(linear->weight.t()) + linear->bias));
    QCOMPARE(namesOf(*nn::Linear(nn::LinearOptions(3, 2).bias(false)).ptr()), std::vector<std::string> { "weight" });
    LETHE_COMPARE_STR(errorMessage([] { nn::initModeFromName("he"); }),
        std::string("invalid init mode 'he': expected kaiming_uniform, kaiming_normal, xavier_uniform "
                    "or xavier_normal"));

    // Resampling with [1, 1]: downsampling averages 2×2 blocks, upsampling repeats pixels.
    const auto image = torch::arange(16, torch::kFloat32).reshape({ 1, 1, 4, 4 });
    nn::Conv2d down(nn::Conv2dOptions(1, 1, 0).down(true));
    QVERIFY(torch::allclose(down(image), torch::avg_pool2d(image, { 2, 2 })));
    QCOMPARE(namesOf(*down.ptr()), std::vector<std::string> { "resample_filter" });
    nn::Conv2d up(nn::Conv2dOptions(1, 1, 0).up(true));
    QVERIFY(torch::allclose(up(image), image.repeat_interleave(2, 2).repeat_interleave(2, 3)));
    QCOMPARE(namesOf(*nn::Conv2d(nn::Conv2dOptions(2, 3, 3)).ptr()), (std::vector<std::string> { "weight", "bias" }));
    nn::Conv2d smooth(nn::Conv2dOptions(1, 1, 0).down(true).resample_filter({ 1, 3, 3, 1 }));
    QVERIFY(torch::allclose(smooth->resample_filter.sum(), torch::tensor(1.0f)));
    QCOMPARE(smooth->resample_filter.sizes().vec(), (std::vector<std::int64_t> { 1, 1, 4, 4 }));
    for (const std::vector<double>& filter : { std::vector<double> { 1, 1 }, std::vector<double> { 1, 3, 3, 1 } }) {
        const auto x = torch::randn({ 2, 3, 8, 8 });
        for (bool fused : { false, true }) {
            nn::Conv2d d(nn::Conv2dOptions(3, 5, 3).down(true).resample_filter(filter).fused_resample(fused));
            QCOMPARE(d(x).sizes().vec(), (std::vector<std::int64_t> { 2, 5, 4, 4 }));
        }
        nn::Conv2d u(nn::Conv2dOptions(3, 5, 3).up(true).resample_filter(filter));
        QCOMPARE(u(x).sizes().vec(), (std::vector<std::int64_t> { 2, 5, 16, 16 }));
        // EDM's fused upsampling returns 2H − 2(k−1) pixels for a k×k kernel; SongUNet never uses it, and Lethe
        // keeps EDM's arithmetic.
        nn::Conv2d fusedUp(nn::Conv2dOptions(3, 5, 3).up(true).resample_filter(filter).fused_resample(true));
        QCOMPARE(fusedUp(x).sizes().vec(), (std::vector<std::int64_t> { 2, 5, 12, 12 }));
        // With a 1×1 kernel fused and unfused upsampling agree.
        torch::manual_seed(21);
        nn::Conv2d pointwise(nn::Conv2dOptions(3, 5, 1).up(true).resample_filter(filter).init_bias(1));
        torch::manual_seed(21);
        nn::Conv2d pointwiseFused(
            nn::Conv2dOptions(3, 5, 1).up(true).resample_filter(filter).init_bias(1).fused_resample(true));
        QVERIFY(torch::allclose(pointwise(x), pointwiseFused(x), 1e-5, 1e-5));
    }

    // Attention weights are a softmax over keys of qᵀk/√c.
    const auto q = torch::randn({ 2, 4, 5 });
    const auto k = torch::randn({ 2, 4, 6 });
    const auto w = nn::attentionWeights(q, k);
    QVERIFY(torch::allclose(w, torch::softmax(torch::einsum("ncq,nck->nqk", { q, k }) / 2.0, 2), 1e-5, 1e-6));

    // Block children follow EDM: skip only when the shape changes, attention adds norm2/qkv/proj.
    const auto blockNames = [](const nn::UNetBlockOptions& options) {
        std::vector<std::string> children;
        for (const auto& child : nn::UNetBlock(options)->named_children())
            children.push_back(child.key());
        return children;
    };
    QCOMPARE(blockNames(nn::UNetBlockOptions(8, 8, 16)),
        (std::vector<std::string> { "norm0", "conv0", "affine", "norm1", "conv1" }));
    // EDM: num_heads = out_channels // channels_per_head, and zero heads means no attention layers.
    QCOMPARE(blockNames(nn::UNetBlockOptions(8, 16, 16).attention(true)),
        (std::vector<std::string> { "norm0", "conv0", "affine", "norm1", "conv1", "skip" }));
    QCOMPARE(blockNames(nn::UNetBlockOptions(8, 16, 16).attention(true).num_heads(1)),
        (std::vector<std::string> { "norm0", "conv0", "affine", "norm1", "conv1", "skip", "norm2", "qkv", "proj" }));
    nn::UNetBlock adaptive(nn::UNetBlockOptions(8, 8, 12).down(true));
    QCOMPARE(adaptive->affine->weight.sizes().vec(), (std::vector<std::int64_t> { 16, 12 }));
    // Same channels and no resample_proj: the skip path only resamples (kernel 0), so it has no weight.
    QCOMPARE(namesOf(*adaptive->skip.ptr()), std::vector<std::string> { "resample_filter" });
    QCOMPARE(adaptive(torch::randn({ 2, 8, 8, 8 }), torch::randn({ 2, 12 })).sizes().vec(),
        (std::vector<std::int64_t> { 2, 8, 4, 4 }));
    nn::UNetBlock heads(nn::UNetBlockOptions(8, 16, 12).attention(true).channels_per_head(4).up(true));
    QCOMPARE(heads->num_heads, std::int64_t { 4 });
    QCOMPARE(heads(torch::randn({ 2, 8, 4, 4 }), torch::randn({ 1, 12 })).sizes().vec(),
        (std::vector<std::int64_t> { 2, 16, 8, 8 }));
}

void TestEdmNetworks::ddpmppCifarHasEdmNamesShapesAndSize()
{
    auto& net = m_cifar;
    const std::int64_t count = nn::parameterCount(*net);
    qInfo("cifar10-ddpmpp-cond: %lld parameters", static_cast<long long>(count));
    QVERIFY(count > 55'600'000 && count < 55'800'000);
    QCOMPARE(count, kCifarDdpmppParameters);

    const auto shapes = shapesOf(*net);
    using Shape = std::vector<std::int64_t>;
    const std::vector<std::pair<std::string, Shape>> expected = {
        { "model.map_label.weight", { 128, 10 } },
        { "model.map_label.bias", { 128 } },
        { "model.map_augment.weight", { 128, 9 } },
        { "model.map_layer0.weight", { 512, 128 } },
        { "model.map_layer0.bias", { 512 } },
        { "model.map_layer1.weight", { 512, 512 } },
        { "model.map_layer1.bias", { 512 } },
        { "model.enc.32x32_conv.weight", { 128, 3, 3, 3 } },
        { "model.enc.32x32_conv.bias", { 128 } },
        { "model.enc.32x32_block0.norm0.weight", { 128 } },
        { "model.enc.32x32_block0.conv0.weight", { 256, 128, 3, 3 } },
        { "model.enc.32x32_block0.affine.weight", { 256, 512 } },
        { "model.enc.32x32_block0.skip.weight", { 256, 128, 1, 1 } },
        { "model.enc.16x16_down.conv0.weight", { 256, 256, 3, 3 } },
        { "model.enc.16x16_down.conv0.resample_filter", { 1, 1, 2, 2 } },
        { "model.enc.16x16_down.skip.weight", { 256, 256, 1, 1 } },
        { "model.enc.16x16_down.skip.resample_filter", { 1, 1, 2, 2 } },
        { "model.enc.16x16_block0.norm0.weight", { 256 } },
        { "model.enc.16x16_block0.norm2.weight", { 256 } },
        { "model.enc.16x16_block0.qkv.weight", { 768, 256, 1, 1 } },
        { "model.enc.16x16_block0.proj.weight", { 256, 256, 1, 1 } },
        { "model.enc.8x8_block3.conv1.weight", { 256, 256, 3, 3 } },
        { "model.dec.8x8_in0.qkv.weight", { 768, 256, 1, 1 } },
        { "model.dec.8x8_in1.conv0.weight", { 256, 256, 3, 3 } },
        { "model.dec.8x8_block0.conv0.weight", { 256, 512, 3, 3 } },
        { "model.dec.8x8_block0.skip.weight", { 256, 512, 1, 1 } },
        { "model.dec.16x16_up.conv0.resample_filter", { 1, 1, 2, 2 } },
        { "model.dec.16x16_block4.qkv.weight", { 768, 256, 1, 1 } },
        { "model.dec.32x32_block4.conv0.weight", { 256, 384, 3, 3 } },
        { "model.dec.32x32_aux_norm.weight", { 256 } },
        { "model.dec.32x32_aux_norm.bias", { 256 } },
        { "model.dec.32x32_aux_conv.weight", { 3, 256, 3, 3 } },
        { "model.dec.32x32_aux_conv.bias", { 3 } },
    };
    for (const auto& [name, shape] : expected) {
        const auto it = shapes.find(name);
        QVERIFY2(it != shapes.end(), name.c_str());
        QVERIFY2(it->second == shape, (name + " has shape " + nn::shapeText(it->second)).c_str());
    }
    for (const char* absent :
        { "model.map_augment.bias", "model.map_noise.freqs", "model.enc.32x32_conv.resample_filter",
            "model.enc.32x32_block0.qkv.weight", "model.dec.8x8_in1.qkv.weight", "model.dec.16x16_block3.qkv.weight",
            "model.enc.32x32_block1.skip.weight" })
        QVERIFY2(shapes.count(absent) == 0, absent);
    qInfo("cifar10-ddpmpp-cond: %zu tensors", shapes.size());
    QCOMPARE(shapes.size(), kCifarDdpmppTensors);

    // PyTorch's state_dict order: a module's parameters, its buffers, then its children in creation order.
    const auto names = namesOf(*net);
    QCOMPARE(std::vector<std::string>(names.begin(), names.begin() + 5),
        (std::vector<std::string> { "model.map_label.weight", "model.map_label.bias", "model.map_augment.weight",
            "model.map_layer0.weight", "model.map_layer0.bias" }));
    const auto down = std::find(names.begin(), names.end(), "model.enc.16x16_down.conv0.weight");
    QVERIFY(down != names.end());
    QCOMPARE(std::vector<std::string>(down, down + 3),
        (std::vector<std::string> { "model.enc.16x16_down.conv0.weight", "model.enc.16x16_down.conv0.bias",
            "model.enc.16x16_down.conv0.resample_filter" }));
    QVERIFY(torch::equal(net->model->enc->at<nn::Conv2dImpl>("32x32_conv").bias, torch::zeros({ 128 })));

    std::vector<std::string> encKeys;
    for (const auto& key : net->model->enc->keys())
        encKeys.push_back(key);
    QCOMPARE(encKeys,
        (std::vector<std::string> { "32x32_conv", "32x32_block0", "32x32_block1", "32x32_block2", "32x32_block3",
            "16x16_down", "16x16_block0", "16x16_block1", "16x16_block2", "16x16_block3", "8x8_down", "8x8_block0",
            "8x8_block1", "8x8_block2", "8x8_block3" }));
    const auto decKeys = net->model->dec->keys();
    QCOMPARE(decKeys.size(), std::size_t { 2 + 5 + 1 + 5 + 1 + 5 + 2 });
    QCOMPARE(decKeys.front(), std::string("8x8_in0"));
    QCOMPARE(decKeys[7], std::string("16x16_up"));
    QCOMPARE(decKeys[decKeys.size() - 2], std::string("32x32_aux_norm"));
    QCOMPARE(decKeys.back(), std::string("32x32_aux_conv"));
}

void TestEdmNetworks::ddpmppCifarRoundTripsThroughSafetensors()
{
    ScratchDir dir;
    const auto path = dir / "cifar.safetensors";
    const auto options = models::edmPreset("cifar10-ddpmpp-cond");
    auto& source = m_cifar;

    io::ModelInfo info;
    info.kind = "edm";
    info.architecture = models::toJson(options);
    info.classes = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };
    info.provenance.method = "test";
    nn::saveModel(path, *source, info);

    const io::SafetensorsFile file(path);
    std::vector<std::string> fileNames;
    for (const auto& entry : file.entries())
        fileNames.push_back(entry.name);
    QCOMPARE(fileNames, namesOf(*source));

    const io::ModelInfo read = io::readModelInfo(file);
    torch::manual_seed(12);
    models::EDMPrecond target = models::makeEdmPrecond(read.architecture);
    target->eval();

    torch::manual_seed(5);
    const auto x = torch::randn({ 1, 3, 32, 32 });
    const auto sigma = torch::tensor({ 2.5f });
    const auto labels = oneHot({ 3 }, 10);
    const auto augment = torch::randn({ 1, 9 }) * 0.1;
    torch::NoGradGuard noGrad;
    const auto expected = source(x, sigma, labels, augment);
    QCOMPARE(expected.sizes().vec(), (std::vector<std::int64_t> { 1, 3, 32, 32 }));
    QVERIFY(!torch::equal(target->model->map_layer0->weight, source->model->map_layer0->weight));

    const nn::LoadReport report = nn::loadStateDict(*target, file);
    QVERIFY(report.complete());
    QCOMPARE(report.loaded.size(), fileNames.size());
    QVERIFY(torch::equal(target(x, sigma, labels, augment), expected));
}

void TestEdmNetworks::ncsnppForwardsAndHasFourierBuffer()
{
    auto net = seededNet(models::edmPreset("cifar10-ncsnpp-cond"), 2);
    qInfo("cifar10-ncsnpp-cond: %lld parameters", static_cast<long long>(nn::parameterCount(*net)));
    const auto shapes = shapesOf(*net);
    QVERIFY(shapes.count("model.map_noise.freqs") == 1);
    QCOMPARE(shapes.at("model.map_noise.freqs"), std::vector<std::int64_t> { 128 });
    QCOMPARE(shapes.at("model.map_label.weight"), (std::vector<std::int64_t> { 256, 10 }));
    QCOMPARE(shapes.at("model.map_layer0.weight"), (std::vector<std::int64_t> { 512, 256 }));
    QCOMPARE(shapes.at("model.enc.16x16_aux_residual.weight"), (std::vector<std::int64_t> { 256, 3, 3, 3 }));
    QCOMPARE(shapes.at("model.enc.8x8_aux_residual.weight"), (std::vector<std::int64_t> { 256, 256, 3, 3 }));
    QCOMPARE(shapes.at("model.enc.16x16_aux_residual.resample_filter"), (std::vector<std::int64_t> { 1, 1, 4, 4 }));
    QCOMPARE(shapes.at("model.enc.16x16_down.conv0.resample_filter"), (std::vector<std::int64_t> { 1, 1, 4, 4 }));
    QCOMPARE(net->model->map_noise_fourier->freqs.sizes().vec(), std::vector<std::int64_t> { 128 });
    // freqs are N(0, 16²) draws: a loose check that the scale was applied.
    QVERIFY(net->model->map_noise_fourier->freqs.std().item<float>() > 8.0f);

    torch::NoGradGuard noGrad;
    const auto y = net(torch::randn({ 1, 3, 32, 32 }), torch::tensor(0.7), oneHot({ 9 }, 10), torch::zeros({ 1, 9 }));
    QCOMPARE(y.sizes().vec(), (std::vector<std::int64_t> { 1, 3, 32, 32 }));
    QVERIFY(torch::isfinite(y).all().item<bool>());
}

void TestEdmNetworks::everyEncoderDecoderVariantForwards_data()
{
    QTest::addColumn<QByteArray>("embedding");
    QTest::addColumn<QByteArray>("encoder");
    QTest::addColumn<QByteArray>("decoder");
    QTest::addColumn<QByteArray>("names");
    const auto row = [](const char* embedding, const char* encoder, const char* decoder, const char* names) {
        const QByteArray tag = QByteArray(embedding) + "/" + encoder + "/" + decoder;
        QTest::newRow(tag.constData()) << QByteArray(embedding) << QByteArray(encoder) << QByteArray(decoder)
                                       << QByteArray(names);
    };
    row("positional", "standard", "standard", "model.dec.16x16_aux_conv.weight");
    row("fourier", "skip", "skip",
        "model.map_noise.freqs model.enc.8x8_aux_down.resample_filter model.enc.8x8_aux_skip.weight "
        "model.dec.8x8_aux_norm.weight model.dec.16x16_aux_up.resample_filter model.dec.16x16_aux_conv.weight");
    row("fourier", "residual", "skip",
        "model.enc.8x8_aux_residual.weight model.dec.8x8_aux_conv.weight model.dec.16x16_aux_up.resample_filter");
    row("positional", "residual", "standard", "model.enc.8x8_aux_residual.resample_filter");
}

void TestEdmNetworks::everyEncoderDecoderVariantForwards()
{
    QFETCH(QByteArray, embedding);
    QFETCH(QByteArray, encoder);
    QFETCH(QByteArray, decoder);
    QFETCH(QByteArray, names);
    json architecture = models::toJson(tinyOptions());
    architecture["embedding_type"] = embedding.toStdString();
    architecture["encoder_type"] = encoder.toStdString();
    architecture["decoder_type"] = decoder.toStdString();
    architecture["resample_filter"] = json::array({ 1, 3, 3, 1 });
    torch::manual_seed(4);
    auto net = models::makeEdmPrecond(architecture);
    const auto shapes = shapesOf(*net);
    for (const QByteArray& name : names.split(' '))
        QVERIFY2(shapes.count(name.toStdString()) == 1, name.constData());

    net->train();
    const auto x = torch::randn({ 2, 2, 16, 16 });
    const auto y = net(x, torch::tensor({ 0.2f, 3.0f }), oneHot({ 1, 2 }, 3), torch::zeros({ 2, 4 }));
    QCOMPARE(y.sizes().vec(), (std::vector<std::int64_t> { 2, 2, 16, 16 }));
    y.square().mean().backward();
    for (const auto& parameter : net->parameters())
        QVERIFY(parameter.grad().defined());
}

void TestEdmNetworks::fmnistSmallShapeAndSize()
{
    auto net = seededNet(models::edmPreset("fmnist-ddpmpp-small"), 3);
    const std::int64_t count = nn::parameterCount(*net);
    qInfo("fmnist-ddpmpp-small: %lld parameters", static_cast<long long>(count));
    QCOMPARE(count, kFmnistSmallParameters);
    const auto shapes = shapesOf(*net);
    QCOMPARE(shapes.at("model.map_label.weight"), (std::vector<std::int64_t> { 24, 10 }));
    QVERIFY(shapes.count("model.map_augment.weight") == 0);
    QCOMPARE(shapes.at("model.enc.8x8_block0.qkv.weight"), (std::vector<std::int64_t> { 144, 48, 1, 1 }));
    QCOMPARE(shapes.at("model.dec.32x32_aux_conv.weight"), (std::vector<std::int64_t> { 1, 24, 3, 3 }));

    torch::NoGradGuard noGrad;
    const auto y = net(torch::randn({ 3, 1, 32, 32 }), torch::tensor({ 0.1f, 1.0f, 10.0f }), oneHot({ 0, 5, 9 }, 10));
    QCOMPARE(y.sizes().vec(), (std::vector<std::int64_t> { 3, 1, 32, 32 }));
}

void TestEdmNetworks::labelDropoutZeroesLabelsOnlyInTraining()
{
    auto options = tinyOptions();
    options.model().label_dropout(1.0);
    auto net = sensitiveTinyNet(options, 6);
    const auto x = torch::randn({ 2, 2, 16, 16 });
    const auto sigma = torch::tensor({ 0.5f, 0.5f });
    const auto labels = oneHot({ 0, 1 }, 3);
    torch::NoGradGuard noGrad;
    net->train(); // dropout is 0 in tinyOptions, so only the labels are dropped
    const auto dropped = net(x, sigma, labels);
    QVERIFY(torch::allclose(dropped, net(x, sigma, torch::zeros({ 2, 3 })), 1e-5, 1e-6));
    net->eval();
    QVERIFY(!torch::allclose(net(x, sigma, labels), dropped, 1e-5, 1e-6));
}

void TestEdmNetworks::cloneIsDeepAndEqual()
{
    auto net = seededNet(tinyOptions(), 7);
    const auto copy = std::dynamic_pointer_cast<models::EDMPrecondImpl>(net->clone());
    QVERIFY(copy != nullptr);
    QCOMPARE(namesOf(*copy), namesOf(*net));
    const auto x = torch::randn({ 1, 2, 16, 16 });
    torch::NoGradGuard noGrad;
    QVERIFY(torch::equal(
        copy->forward(x, torch::tensor(1.0), oneHot({ 2 }, 3)), net(x, torch::tensor(1.0), oneHot({ 2 }, 3))));
    copy->model->map_layer0->weight.add_(1.0);
    QVERIFY(!torch::equal(copy->model->map_layer0->weight, net->model->map_layer0->weight));
    // The clone's forward uses its own (changed) dictionaries, not the original's blocks.
    copy->model->enc->at<nn::Conv2dImpl>("16x16_conv").weight.zero_();
    QVERIFY(!torch::equal(
        copy->forward(x, torch::tensor(1.0), oneHot({ 2 }, 3)), net(x, torch::tensor(1.0), oneHot({ 2 }, 3))));
}

void TestEdmNetworks::loaderRejectsMismatchesByName()
{
    ScratchDir dir;
    auto net = seededNet(models::edmPreset("fmnist-ddpmpp-small"), 8);
    std::vector<io::NamedTensor> state = nn::stateDict(*net);
    const auto without = [&](const std::vector<std::string>& drop) {
        std::vector<io::NamedTensor> kept;
        for (const auto& named : state)
            if (std::find(drop.begin(), drop.end(), named.name) == drop.end())
                kept.push_back(named);
        return kept;
    };

    const auto missing = dir / "missing.safetensors";
    io::writeSafetensors(missing, without({ "model.map_label.weight" }));
    LETHE_COMPARE_STR(errorMessage([&] { loadFile(*net, missing); }),
        missing.string()
            + ": tensor 'model.map_label.weight': missing from the file (the model expects "
              "shape [24, 10])");
    const auto missingMore = dir / "missing3.safetensors";
    io::writeSafetensors(
        missingMore, without({ "model.map_label.bias", "model.map_label.weight", "model.dec.32x32_aux_conv.bias" }));
    LETHE_COMPARE_STR(errorMessage([&] { loadFile(*net, missingMore); }),
        missingMore.string()
            + ": tensor 'model.map_label.weight': missing from the file (the model "
              "expects shape [24, 10]); 2 more tensors missing");

    const auto unexpected = dir / "unexpected.safetensors";
    auto extra = state;
    extra.push_back({ "model.map_augment.weight", torch::zeros({ 32, 9 }) });
    io::writeSafetensors(unexpected, extra);
    LETHE_COMPARE_STR(errorMessage([&] { loadFile(*net, unexpected); }),
        unexpected.string()
            + ": tensor 'model.map_augment.weight': unexpected: the model has no "
              "parameter or buffer of that name");

    const auto wrongShape = dir / "shape.safetensors";
    auto reshaped = state;
    for (auto& named : reshaped)
        if (named.name == "model.map_label.weight")
            named.tensor = torch::zeros({ 32, 9 });
    io::writeSafetensors(wrongShape, reshaped);
    const auto before = net->model->map_layer0->weight.clone();
    QVERIFY(!torch::equal(before, torch::zeros_like(before)));
    auto zeroed = reshaped;
    for (auto& named : zeroed)
        if (named.name == "model.map_layer0.weight")
            named.tensor = torch::zeros_like(named.tensor);
    io::writeSafetensors(wrongShape, zeroed);
    const std::string shapeMessage = errorMessage([&] { loadFile(*net, wrongShape); });
    LETHE_COMPARE_STR(shapeMessage,
        wrongShape.string() + ": tensor 'model.map_label.weight': expected shape [24, 10], found [32, 9]");
    // A strict load that fails changes nothing.
    QVERIFY(torch::equal(net->model->map_layer0->weight, before));
    try {
        loadFile(*net, wrongShape);
        QFAIL("no error");
    } catch (const FormatError& e) {
        LETHE_COMPARE_STR(e.where(), std::string("tensor 'model.map_label.weight'"));
    }

    // Non-strict: what matches is copied, the rest reported.
    const nn::LoadReport report = loadFile(*net, wrongShape, /*strict=*/false);
    QVERIFY(!report.complete());
    QCOMPARE(report.mismatched.size(), std::size_t { 1 });
    QCOMPARE(report.mismatched[0].found, (std::vector<std::int64_t> { 32, 9 }));
    QCOMPARE(report.loaded.size(), state.size() - 1);
    QVERIFY(torch::equal(net->model->map_layer0->weight, torch::zeros_like(before)));

    const auto integers = dir / "integers.safetensors";
    auto asInt = state;
    asInt.front().tensor = asInt.front().tensor.to(torch::kInt32);
    io::writeSafetensors(integers, asInt);
    LETHE_COMPARE_STR(errorMessage([&] { loadFile(*net, integers, false); }),
        integers.string()
            + ": tensor 'model.map_label.weight': expected dtype Float or a floating type "
              "convertible to it, found I32");
}

void TestEdmNetworks::loaderConvertsFloatDtypes()
{
    ScratchDir dir;
    auto source = seededNet(tinyOptions(), 9);
    for (const auto type : { torch::kFloat16, torch::kBFloat16, torch::kFloat64 }) {
        std::vector<io::NamedTensor> converted;
        for (const auto& named : nn::stateDict(*source))
            converted.push_back({ named.name, named.tensor.to(type) });
        const auto path = dir / "converted.safetensors";
        io::writeSafetensors(path, converted);
        auto target = seededNet(tinyOptions(), 10);
        const auto parameter = target->model->map_layer1->weight;
        QVERIFY(loadFile(*target, path).complete());
        QCOMPARE(target->model->map_layer1->weight.scalar_type(), torch::kFloat32);
        QVERIFY(target->model->map_layer1->weight.is_same(parameter)); // copied in place
        QVERIFY(torch::equal(
            target->model->map_layer1->weight, source->model->map_layer1->weight.to(type).to(torch::kFloat32)));
    }
}

void TestEdmNetworks::loaderMapsNamesAndReshapesUnitDims()
{
    // A single file holding several models' tensors (as CompVis checkpoints do), one of them a 1×1 convolution
    // standing for a linear layer.
    ScratchDir dir;
    torch::nn::Linear linear(3, 2);
    const torch::Tensor weight = torch::arange(6, torch::kFloat32).reshape({ 2, 3, 1, 1 });
    const torch::Tensor bias = torch::tensor({ 7.0F, 8.0F });
    const auto path = dir / "single.safetensors";
    io::writeSafetensors(
        path, { { "first.proj.weight", weight }, { "first.proj.bias", bias }, { "second.x", torch::ones({ 5 }) } });
    nn::LoadOptions options;
    options.mapping = [](const std::string& name) -> std::optional<std::string> {
        const std::string prefix = "first.proj.";
        if (name.rfind(prefix, 0) != 0)
            return std::nullopt;
        return name.substr(prefix.size());
    };
    LETHE_COMPARE_STR(errorMessage([&] { nn::loadStateDict(*linear, io::SafetensorsFile(path), options); }),
        path.string() + ": tensor 'weight': expected shape [2, 3], found [2, 3, 1, 1]");
    options.acceptTrailingUnitDims = true;
    const nn::LoadReport report = nn::loadStateDict(*linear, io::SafetensorsFile(path), options);
    QVERIFY(report.complete());
    QVERIFY(torch::equal(linear->weight, weight.reshape({ 2, 3 })));
    QVERIFY(torch::equal(linear->bias, bias));

    // A mapping that sends two tensors to one name is the caller's bug or a corrupt file: never a silent pick.
    options.mapping = [](const std::string& name) -> std::optional<std::string> {
        return name == "second.x" ? std::optional<std::string>("bias") : std::optional<std::string>(name.substr(11));
    };
    LETHE_COMPARE_STR(errorMessage([&] { nn::loadStateDict(*linear, io::SafetensorsFile(path), options); }),
        path.string() + ": tensor 'second.x': maps onto 'bias', which another tensor of the file already fills");
}

void TestEdmNetworks::configJsonRoundTripsAndMatchesEdmKwargs()
{
    for (const auto& name : models::edmPresetNames()) {
        const json j = models::toJson(models::edmPreset(name));
        QCOMPARE(models::toJson(models::edmOptionsFromJson(j)).dump(), j.dump());
        QVERIFY(!j.contains("sigma_max"));
        QCOMPARE(j.at("model_type").get<std::string>(), std::string("SongUNet"));
    }

    // The init_kwargs of EDM's official conditional CIFAR-10 DDPM++ snapshot, as EDM's train.py records them.
    const json edmKwargs = json::parse(R"({
        "img_resolution": 32, "img_channels": 3, "label_dim": 10, "use_fp16": false,
        "model_type": "SongUNet", "embedding_type": "positional", "encoder_type": "standard",
        "decoder_type": "standard", "channel_mult_noise": 1, "resample_filter": [1, 1],
        "model_channels": 128, "channel_mult": [2, 2, 2], "dropout": 0.13, "augment_dim": 9})");
    QCOMPARE(models::toJson(models::edmOptionsFromJson(edmKwargs)).dump(),
        models::toJson(models::edmPreset("cifar10-ddpmpp-cond")).dump());

    const json ddpmpp = models::toJson(models::edmPreset("cifar10-ddpmpp-cond"));
    QCOMPARE(ddpmpp.at("resample_filter").dump(), std::string("[1,1]"));
    QCOMPARE(ddpmpp.at("channel_mult").dump(), std::string("[2,2,2]"));
    QCOMPARE(ddpmpp.at("dropout").get<double>(), 0.13);
    QCOMPARE(ddpmpp.at("augment_dim").get<int>(), 9);
    QCOMPARE(models::toJson(models::edmPreset("cifar10-ncsnpp-cond")).at("resample_filter").dump(),
        std::string("[1,3,3,1]"));
    const json fmnist = models::toJson(models::edmPreset("fmnist-ddpmpp-small"));
    QCOMPARE(fmnist.at("img_channels").get<int>(), 1);
    QCOMPARE(fmnist.at("model_channels").get<int>(), 24);
    QCOMPARE(fmnist.at("attn_resolutions").dump(), std::string("[8]"));

    // Defaults are EDM's; sigma_max null or absent is infinity, a number is kept.
    const auto defaults = models::edmOptionsFromJson(json::parse(R"({"img_resolution": 64, "img_channels": 3})"));
    QCOMPARE(defaults.model().model_channels(), std::int64_t { 128 });
    QCOMPARE(defaults.model().channel_mult(), (std::vector<std::int64_t> { 1, 2, 2, 2 }));
    QCOMPARE(defaults.model().num_blocks(), std::int64_t { 4 });
    QCOMPARE(defaults.model().dropout(), 0.10);
    QCOMPARE(defaults.sigma_data(), 0.5);
    QVERIFY(std::isinf(defaults.sigma_max()));
    QCOMPARE(defaults.model().in_channels(), std::int64_t { 3 });
    const auto bounded = models::edmOptionsFromJson(
        json::parse(R"({"img_resolution": 32, "img_channels": 3, "sigma_max": 80, "sigma_min": 0.002})"));
    QCOMPARE(bounded.sigma_max(), 80.0);
    QCOMPARE(models::toJson(bounded).at("sigma_max").get<double>(), 80.0);
    QVERIFY(std::isinf(
        models::edmOptionsFromJson(json::parse(R"({"img_resolution": 32, "img_channels": 3, "sigma_max": null})"))
            .sigma_max()));

    LETHE_COMPARE_STR(errorMessage([] { models::edmPreset("cifar100"); }),
        std::string("unknown EDM preset 'cifar100': expected one of cifar10-ddpmpp-cond, "
                    "cifar10-ncsnpp-cond, fmnist-ddpmpp-small"));
}

void TestEdmNetworks::configErrorsNameTheKey_data()
{
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QByteArray>("message");
    const auto row = [](const char* tag, const char* input, const char* message) {
        QTest::newRow(tag) << QByteArray(input).replace("BASE", R"("img_resolution": 32, "img_channels": 3)")
                           << QByteArray(message);
    };
    row("missing required", R"({"img_channels": 3})",
        R"(EDM architecture key 'img_resolution': missing (it has no default))");
    row("not an object", R"([1])",
        R"(EDM architecture: expected a JSON object of EDM keyword arguments, found array [1])");
    row("string for int", R"({BASE, "model_channels": "128"})",
        R"(EDM architecture key 'model_channels': expected an integer, found string "128")");
    row("float for int", R"({BASE, "num_blocks": 2.5})",
        R"(EDM architecture key 'num_blocks': expected an integer, found number 2.5)");
    row("bool for int", R"({BASE, "label_dim": true})",
        R"(EDM architecture key 'label_dim': expected an integer, found boolean true)");
    row("bad list element", R"({BASE, "channel_mult": [2, "x"]})",
        R"(EDM architecture key 'channel_mult': expected a list of integers, found an element string "x")");
    row("number for list", R"({BASE, "resample_filter": 1})",
        R"(EDM architecture key 'resample_filter': expected a list of numbers, found number 1)");
    row("string for number", R"({BASE, "dropout": "0.1"})",
        R"(EDM architecture key 'dropout': expected a number, found string "0.1")");
    row("unknown model", R"({BASE, "model_type": "DhariwalUNet"})",
        R"(EDM architecture key 'model_type': unsupported model type 'DhariwalUNet' (Lethe builds 'SongUNet'))");
    row("unknown precond", R"({BASE, "class_name": "training.networks.VPPrecond"})",
        R"(EDM architecture key 'class_name': unsupported preconditioning 'training.networks.VPPrecond' (Lethe implements EDMPrecond))");
    row("unknown embedding", R"({BASE, "embedding_type": "sinusoidal"})",
        R"(EDM architecture key 'embedding_type': expected 'positional' or 'fourier', found 'sinusoidal')");
    row("unknown encoder", R"({BASE, "encoder_type": "dense"})",
        R"(EDM architecture key 'encoder_type': expected 'standard', 'skip' or 'residual', found 'dense')");
    row("unknown decoder", R"({BASE, "decoder_type": "residual"})",
        R"(EDM architecture key 'decoder_type': expected 'standard' or 'skip', found 'residual')");
    row("unknown key", R"({BASE, "num_heads": 4})",
        R"(EDM architecture key 'num_heads': unknown key (not an argument of EDMPrecond or SongUNet))");
    row("fp16 flag not a bool", R"({BASE, "use_fp16": 1})",
        R"(EDM architecture key 'use_fp16': expected true or false, found number 1)");
}

void TestEdmNetworks::configErrorsNameTheKey()
{
    QFETCH(QByteArray, input);
    QFETCH(QByteArray, message);
    const json j = json::parse(input.toStdString());
    LETHE_COMPARE_STR(errorMessage([&] { models::edmOptionsFromJson(j); }), message.toStdString());
}

QTEST_APPLESS_MAIN(TestEdmNetworks)
#include "test_edm_networks.moc"
