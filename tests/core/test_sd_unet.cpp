// Stable Diffusion UNet2DConditionModel and AutoencoderKL: diffusers names and shapes, forward passes of small
// configurations, attention backends, diffusers folders (config.json + safetensors) and their errors.
#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/io/safetensors.h"
#include "core/models/parameter_bounds.h"
#include "core/models/sd/attention.h"
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/embeddings.h"
#include "core/models/sd/resnet.h"
#include "core/models/sd/unet_2d_condition.h"
#include "core/nn/state_dict.h"
#include "sdxl_configs.h"
#include "test_support.h"
#include "tiny_sd.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::kSdxlUNetConfig;
using lethe::test::kSdxlUNetParameters;
using lethe::test::ScratchDir;
using lethe::test::tinyUNetOptions;
using lethe::test::tinyVaeOptions;
using nlohmann::json;

namespace {

// diffusers' published counts for runwayml/stable-diffusion-v1-5 (unet: 859,520,964; vae: 83,653,863).
constexpr std::int64_t kSd1UNetParameters = 859'520'964;
constexpr std::int64_t kSd1VaeParameters = 83'653'863;

std::map<std::string, std::vector<std::int64_t>> shapesOf(const torch::nn::Module& module)
{
    std::map<std::string, std::vector<std::int64_t>> shapes;
    for (const auto& [name, tensor] : nn::stateDict(module))
        shapes[name] = tensor.sizes().vec();
    return shapes;
}

models::sd::UNet2DConditionModel tinyUNet(
    std::uint64_t seed, const models::sd::UNet2DConditionOptions& options = tinyUNetOptions())
{
    torch::manual_seed(seed);
    return models::sd::buildUNet2DCondition(options);
}

torch::Tensor randn(std::vector<std::int64_t> shape, std::uint64_t seed)
{
    torch::manual_seed(seed);
    return torch::randn(shape);
}

double maxAbsDiff(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a - b).abs().max().item<double>();
}

void writeJson(const std::filesystem::path& path, const json& value)
{
    lethe::test::writeBytes(path, value.dump(2));
}

/// A diffusers unet/ folder holding `unet` as config.json + diffusion_pytorch_model.safetensors.
void writeUNetFolder(const std::filesystem::path& folder, const models::sd::UNet2DConditionModel& unet)
{
    writeJson(folder / "config.json", models::sd::unetConfigJson(unet->options));
    nn::saveStateDict(folder / "diffusion_pytorch_model.safetensors", *unet);
}

std::string unetConfigError(const json& patch)
{
    json config = models::sd::unetConfigJson(models::sd::stableDiffusion1UNetOptions());
    config.merge_patch(patch);
    return errorMessage([&] { models::sd::unetOptionsFromConfig(config, "unet/config.json"); });
}

} // namespace

class TestSdUNet : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void sd1UNetHasDiffusersParametersAndNames();
    void sd1VaeHasDiffusersParametersAndNames();
    void sd1ConfigRoundTrips();
    void tinyUNetForwardShapes();
    void perSampleTimestepsMatchSingleSamples();
    void crossAttentionUsesContext();
    void memoryEfficientAttentionMatchesStandard();
    void diffusersFolderRoundTrip();
    void fp16VariantLoadsIntoFloat32();
    void foreignNamesLoadThroughMapping();
    void cloneIsIndependent();
    void tinyVaeEncodeDecode();
    void oldVaeAttentionNamesLoad();
    void unetConfigErrorsNameTheKey_data();
    void unetConfigErrorsNameTheKey();
    void vaeConfigErrorsNameTheKey();
    void pickledWeightsAreRefused();
    void timestepEmbeddingValues();
    void attentionMatchesHandComputedHeads();
    void resnetBlockMatchesHandComputation();
    void linearProjectionUNet();
    void feedForwardAndResamplersMatchHandComputation();
    void fp16ComputeOnCuda();
    void sdxlConfigParsesAndCountsItsParameters();
    void parameterCountMatchesBuiltNetworks_data();
    void parameterCountMatchesBuiltNetworks();
    void textTimeEmbeddingIsAddedToTheTimeEmbedding();
    void textTimeConditionsAreChecked();
};

void TestSdUNet::sd1UNetHasDiffusersParametersAndNames()
{
    const auto start = std::chrono::steady_clock::now();
    const models::sd::UNet2DConditionModel unet
        = models::sd::buildUNet2DCondition(models::sd::stableDiffusion1UNetOptions());
    qInfo("SD 1.x UNet built on the CPU in %.1f s",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    QCOMPARE(nn::parameterCount(*unet), kSd1UNetParameters);

    const auto shapes = shapesOf(*unet);
    const std::map<std::string, std::vector<std::int64_t>> expected {
        { "conv_in.weight", { 320, 4, 3, 3 } },
        { "time_embedding.linear_1.weight", { 1280, 320 } },
        { "time_embedding.linear_2.bias", { 1280 } },
        { "down_blocks.0.resnets.0.norm1.weight", { 320 } },
        { "down_blocks.0.resnets.0.time_emb_proj.weight", { 320, 1280 } },
        { "down_blocks.0.attentions.0.norm.weight", { 320 } },
        { "down_blocks.0.attentions.0.proj_in.weight", { 320, 320, 1, 1 } },
        { "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", { 320, 320 } },
        { "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", { 320, 768 } },
        { "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.bias", { 320 } },
        { "down_blocks.0.attentions.0.transformer_blocks.0.norm3.weight", { 320 } },
        { "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight", { 2560, 320 } },
        { "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight", { 320, 1280 } },
        { "down_blocks.0.downsamplers.0.conv.weight", { 320, 320, 3, 3 } },
        { "down_blocks.1.resnets.0.conv_shortcut.weight", { 640, 320, 1, 1 } },
        { "down_blocks.3.resnets.1.conv2.weight", { 1280, 1280, 3, 3 } },
        { "mid_block.resnets.0.norm1.weight", { 1280 } },
        { "mid_block.attentions.0.transformer_blocks.0.attn1.to_v.weight", { 1280, 1280 } },
        { "mid_block.resnets.1.conv2.bias", { 1280 } },
        { "up_blocks.0.resnets.0.conv1.weight", { 1280, 2560, 3, 3 } },
        { "up_blocks.0.resnets.2.conv_shortcut.weight", { 1280, 2560, 1, 1 } },
        { "up_blocks.1.upsamplers.0.conv.weight", { 1280, 1280, 3, 3 } },
        { "up_blocks.1.attentions.2.proj_out.weight", { 1280, 1280, 1, 1 } },
        { "up_blocks.3.resnets.0.conv1.weight", { 320, 960, 3, 3 } },
        { "up_blocks.3.resnets.2.conv_shortcut.weight", { 320, 640, 1, 1 } },
        { "conv_norm_out.weight", { 320 } },
        { "conv_out.weight", { 4, 320, 3, 3 } },
    };
    for (const auto& [name, shape] : expected) {
        const auto found = shapes.find(name);
        QVERIFY2(found != shapes.end(), name.c_str());
        QCOMPARE(found->second, shape);
    }
    for (const char* absent : { "down_blocks.3.downsamplers.0.conv.weight", "up_blocks.3.upsamplers.0.conv.weight",
             "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias",
             "down_blocks.0.resnets.0.conv_shortcut.weight" })
        QVERIFY2(shapes.count(absent) == 0, absent);
    QCOMPARE(shapes.size(), std::size_t { 686 });
    const auto names = nn::stateDict(*unet);
    LETHE_COMPARE_STR(names.front().name, "conv_in.weight");
    LETHE_COMPARE_STR(names.back().name, "conv_out.bias");
}

void TestSdUNet::sd1VaeHasDiffusersParametersAndNames()
{
    const models::sd::AutoencoderKL vae = models::sd::buildAutoencoderKL(models::sd::stableDiffusion1VaeOptions());
    QCOMPARE(nn::parameterCount(*vae), kSd1VaeParameters);
    QCOMPARE(vae->scalingFactor(), 0.18215);
    const auto shapes = shapesOf(*vae);
    const std::map<std::string, std::vector<std::int64_t>> expected {
        { "encoder.conv_in.weight", { 128, 3, 3, 3 } },
        { "encoder.down_blocks.0.resnets.1.norm2.weight", { 128 } },
        { "encoder.down_blocks.0.downsamplers.0.conv.weight", { 128, 128, 3, 3 } },
        { "encoder.down_blocks.1.resnets.0.conv_shortcut.weight", { 256, 128, 1, 1 } },
        { "encoder.mid_block.attentions.0.group_norm.weight", { 512 } },
        { "encoder.mid_block.attentions.0.to_q.weight", { 512, 512 } },
        { "encoder.mid_block.attentions.0.to_k.bias", { 512 } },
        { "encoder.mid_block.attentions.0.to_out.0.weight", { 512, 512 } },
        { "encoder.mid_block.resnets.1.conv2.weight", { 512, 512, 3, 3 } },
        { "encoder.conv_out.weight", { 8, 512, 3, 3 } },
        { "quant_conv.weight", { 8, 8, 1, 1 } },
        { "post_quant_conv.weight", { 4, 4, 1, 1 } },
        { "decoder.conv_in.weight", { 512, 4, 3, 3 } },
        { "decoder.up_blocks.0.resnets.2.conv1.weight", { 512, 512, 3, 3 } },
        { "decoder.up_blocks.0.upsamplers.0.conv.weight", { 512, 512, 3, 3 } },
        { "decoder.up_blocks.2.resnets.0.conv_shortcut.weight", { 256, 512, 1, 1 } },
        { "decoder.up_blocks.3.resnets.0.conv_shortcut.weight", { 128, 256, 1, 1 } },
        { "decoder.conv_norm_out.weight", { 128 } },
        { "decoder.conv_out.weight", { 3, 128, 3, 3 } },
    };
    for (const auto& [name, shape] : expected) {
        const auto found = shapes.find(name);
        QVERIFY2(found != shapes.end(), name.c_str());
        QCOMPARE(found->second, shape);
    }
    QVERIFY(shapes.count("decoder.up_blocks.3.upsamplers.0.conv.weight") == 0);
    QVERIFY(shapes.count("encoder.down_blocks.3.downsamplers.0.conv.weight") == 0);
    QCOMPARE(shapes.size(), std::size_t { 248 });
}

void TestSdUNet::sd1ConfigRoundTrips()
{
    // runwayml/stable-diffusion-v1-5's unet/config.json, key for key.
    const json sd15 = json::parse(R"({
      "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.6.0", "act_fn": "silu",
      "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
      "cross_attention_dim": 768,
      "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
      "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
      "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
      "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
    })");
    const auto fromFile = models::sd::unetOptionsFromConfig(sd15, "unet/config.json");
    const auto reference = models::sd::stableDiffusion1UNetOptions();
    QCOMPARE(models::sd::unetConfigJson(fromFile), models::sd::unetConfigJson(reference));
    QCOMPARE(models::sd::unetConfigJson(models::sd::unetOptionsFromConfig(models::sd::unetConfigJson(reference), "x")),
        models::sd::unetConfigJson(reference));
    // Absent keys take diffusers' defaults, not SD 1.x's.
    QCOMPARE(models::sd::unetOptionsFromConfig(json::object(), "x").cross_attention_dim(), std::int64_t { 1280 });

    const json vae = json::parse(R"({
      "_class_name": "AutoencoderKL", "_diffusers_version": "0.6.0", "act_fn": "silu",
      "block_out_channels": [128, 256, 512, 512],
      "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
      "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
      "sample_size": 512,
      "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
    })");
    QCOMPARE(models::sd::vaeConfigJson(models::sd::vaeOptionsFromConfig(vae, "vae/config.json")),
        models::sd::vaeConfigJson(models::sd::stableDiffusion1VaeOptions()));
}

void TestSdUNet::tinyUNetForwardShapes()
{
    torch::NoGradGuard noGrad;
    auto unet = tinyUNet(1);
    const torch::Tensor context = randn({ 2, 5, 16 }, 2);
    const torch::Tensor scalar = unet->forward(randn({ 2, 4, 16, 16 }, 3), torch::tensor(500), context);
    QCOMPARE(scalar.sizes().vec(), (std::vector<std::int64_t> { 2, 4, 16, 16 }));
    QVERIFY(torch::isfinite(scalar).all().item<bool>());
    const torch::Tensor perSample = unet->forward(randn({ 2, 4, 16, 16 }, 3), torch::tensor({ 10.5, 900.0 }), context);
    QCOMPARE(perSample.sizes().vec(), (std::vector<std::int64_t> { 2, 4, 16, 16 }));
    QVERIFY(maxAbsDiff(scalar, perSample) > 1e-4);
    // Sizes that are not a multiple of the total downsampling come back unchanged.
    const torch::Tensor odd
        = unet->forward(randn({ 1, 4, 15, 14 }, 4), torch::tensor(7, torch::kInt64), randn({ 1, 3, 16 }, 5));
    QCOMPARE(odd.sizes().vec(), (std::vector<std::int64_t> { 1, 4, 15, 14 }));

    const QString wrongContext = QString::fromStdString(errorMessage([&] {
        unet->forward(randn({ 2, 4, 16, 16 }, 3), torch::tensor(1), randn({ 2, 5, 8 }, 2));
    }));
    QCOMPARE(
        wrongContext, QStringLiteral("UNet2DConditionModel: expected encoder_hidden_states [2, L, 16], got [2, 5, 8]"));
    const QString wrongTimesteps = QString::fromStdString(errorMessage([&] {
        unet->forward(randn({ 2, 4, 16, 16 }, 3), torch::tensor({ 1, 2, 3 }), context);
    }));
    QCOMPARE(wrongTimesteps,
        QStringLiteral("UNet2DConditionModel: expected a scalar timestep or one per sample (2), got [3]"));
}

void TestSdUNet::perSampleTimestepsMatchSingleSamples()
{
    torch::NoGradGuard noGrad;
    auto unet = tinyUNet(11);
    const torch::Tensor x = randn({ 2, 4, 16, 16 }, 12);
    const torch::Tensor context = randn({ 2, 6, 16 }, 13);
    const torch::Tensor both = unet->forward(x, torch::tensor({ 3.25, 700.0 }), context);
    for (int i = 0; i < 2; ++i) {
        const double t = i == 0 ? 3.25 : 700.0;
        const torch::Tensor one = unet->forward(x.narrow(0, i, 1), torch::tensor(t), context.narrow(0, i, 1));
        QVERIFY2(maxAbsDiff(one, both.narrow(0, i, 1)) < 1e-5, qPrintable(QString::number(i)));
    }
}

void TestSdUNet::crossAttentionUsesContext()
{
    torch::NoGradGuard noGrad;
    auto unet = tinyUNet(21);
    const torch::Tensor x = randn({ 1, 4, 16, 16 }, 22);
    const torch::Tensor a = unet->forward(x, torch::tensor(250), randn({ 1, 4, 16 }, 23));
    const torch::Tensor b = unet->forward(x, torch::tensor(250), randn({ 1, 4, 16 }, 24));
    const torch::Tensor a2 = unet->forward(x, torch::tensor(250), randn({ 1, 4, 16 }, 23));
    QVERIFY(maxAbsDiff(a, b) > 1e-3);
    QVERIFY(torch::equal(a, a2));
    // The context length is free.
    QCOMPARE(unet->forward(x, torch::tensor(250), randn({ 1, 77, 16 }, 25)).sizes().vec(), x.sizes().vec());
}

void TestSdUNet::memoryEfficientAttentionMatchesStandard()
{
    torch::NoGradGuard noGrad;
    // The kernel alone, with chunks that do and do not divide the query count.
    const torch::Tensor q = randn({ 6, 100, 8 }, 31), k = randn({ 6, 37, 8 }, 32), v = randn({ 6, 37, 8 }, 33);
    const torch::Tensor reference = models::sd::attend(q, k, v, 0.35, models::sd::AttentionBackend::Standard);
    for (std::int64_t chunk : { 1, 7, 50, 99, 100, 4096 })
        QVERIFY2(maxAbsDiff(
                     models::sd::attend(q, k, v, 0.35, models::sd::AttentionBackend::MemoryEfficient, chunk), reference)
                < 1e-5,
            qPrintable(QString::number(chunk)));
    const torch::Tensor manual = torch::matmul(torch::softmax(torch::matmul(q, k.transpose(1, 2)) * 0.35, -1), v);
    QVERIFY(maxAbsDiff(reference, manual) < 1e-6);

    // The whole network: 256 queries at the first level, 64 at the second, in chunks of 48.
    auto unet = tinyUNet(34);
    const torch::Tensor x = randn({ 2, 4, 16, 16 }, 35);
    const torch::Tensor context = randn({ 2, 5, 16 }, 36);
    const torch::Tensor standard = unet->forward(x, torch::tensor({ 40, 960 }), context);
    unet->setAttentionBackend(models::sd::AttentionBackend::MemoryEfficient, 48);
    QVERIFY(unet->options.attention_backend() == models::sd::AttentionBackend::MemoryEfficient);
    const torch::Tensor chunked = unet->forward(x, torch::tensor({ 40, 960 }), context);
    QVERIFY(maxAbsDiff(standard, chunked) < 1e-5);
    QVERIFY(enumFromName<models::sd::AttentionBackend>("memory_efficient")
        == models::sd::AttentionBackend::MemoryEfficient);
    QCOMPARE(enumName(models::sd::AttentionBackend::Standard), std::string("standard"));
    QVERIFY(!enumFromName<models::sd::AttentionBackend>("flash"));
}

void TestSdUNet::diffusersFolderRoundTrip()
{
    torch::NoGradGuard noGrad;
    ScratchDir dir;
    auto unet = tinyUNet(41);
    writeUNetFolder(dir / "unet", unet);
    auto loaded = models::sd::loadUNet2DCondition(
        dir / "unet", torch::kFloat32, torch::kCPU, models::sd::AttentionBackend::MemoryEfficient);
    QVERIFY(loaded->options.attention_backend() == models::sd::AttentionBackend::MemoryEfficient);
    QVERIFY(!loaded->is_training());
    const torch::Tensor x = randn({ 2, 4, 16, 16 }, 42);
    const torch::Tensor context = randn({ 2, 5, 16 }, 43);
    const torch::Tensor t = torch::tensor({ 1.5, 999.0 });
    QVERIFY(torch::equal(unet->forward(x, t, context), loaded->forward(x, t, context)));

    // A fresh network differs, so the equality above is the loaded weights'.
    QVERIFY(maxAbsDiff(tinyUNet(44)->forward(x, t, context), unet->forward(x, t, context)) > 1e-3);

    // A tensor short: strict loading names it.
    std::vector<io::NamedTensor> tensors = nn::stateDict(*unet);
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                      [](const io::NamedTensor& t) { return t.name == "mid_block.resnets.1.conv2.bias"; }),
        tensors.end());
    io::writeSafetensors(dir / "unet" / "diffusion_pytorch_model.safetensors", tensors);
    const std::string message = errorMessage([&] { models::sd::loadUNet2DCondition(dir / "unet"); });
    QVERIFY2(message.find("mid_block.resnets.1.conv2.bias") != std::string::npos, message.c_str());
}

void TestSdUNet::fp16VariantLoadsIntoFloat32()
{
    torch::NoGradGuard noGrad;
    ScratchDir dir;
    auto unet = tinyUNet(51);
    writeJson(dir / "unet" / "config.json", models::sd::unetConfigJson(unet->options));
    std::vector<io::NamedTensor> half;
    for (const auto& [name, tensor] : nn::stateDict(*unet))
        half.push_back({ name, tensor.to(torch::kFloat16) });
    io::writeSafetensors(dir / "unet" / "diffusion_pytorch_model.fp16.safetensors", half);

    auto loaded = models::sd::loadUNet2DCondition(dir / "unet", torch::kFloat32);
    const auto original = nn::stateDict(*unet);
    const auto converted = nn::stateDict(*loaded);
    QCOMPARE(converted.size(), original.size());
    for (std::size_t i = 0; i < original.size(); ++i) {
        QCOMPARE(converted[i].tensor.scalar_type(), torch::kFloat32);
        QVERIFY2(torch::equal(converted[i].tensor, original[i].tensor.to(torch::kFloat16).to(torch::kFloat32)),
            original[i].name.c_str());
    }
    // The full-precision file wins when both exist.
    nn::saveStateDict(dir / "unet" / "diffusion_pytorch_model.safetensors", *unet);
    auto full = models::sd::loadUNet2DCondition(dir / "unet");
    QVERIFY(torch::equal(nn::stateDict(*full).front().tensor, original.front().tensor));
}

void TestSdUNet::foreignNamesLoadThroughMapping()
{
    torch::NoGradGuard noGrad;
    ScratchDir dir;
    auto unet = tinyUNet(61);
    std::vector<io::NamedTensor> prefixed { { "first_stage_model.other", torch::zeros({ 3 }) } };
    for (const auto& [name, tensor] : nn::stateDict(*unet))
        prefixed.push_back({ "model.diffusion_model." + name, tensor });
    io::writeSafetensors(dir / "single.safetensors", prefixed);

    auto target = models::sd::buildUNet2DCondition(tinyUNetOptions());
    nn::LoadOptions options;
    const std::string prefix = "model.diffusion_model.";
    options.mapping = [&](const std::string& name) -> std::optional<std::string> {
        if (name.rfind(prefix, 0) != 0)
            return std::nullopt;
        return name.substr(prefix.size());
    };
    const nn::LoadReport report
        = models::sd::loadUNetWeights(target, io::SafetensorsFile(dir / "single.safetensors"), options);
    QVERIFY(report.complete());
    const torch::Tensor x = randn({ 1, 4, 16, 16 }, 62);
    const torch::Tensor context = randn({ 1, 5, 16 }, 63);
    QVERIFY(torch::equal(unet->forward(x, torch::tensor(3), context), target->forward(x, torch::tensor(3), context)));
}

void TestSdUNet::cloneIsIndependent()
{
    torch::NoGradGuard noGrad;
    auto unet = tinyUNet(71);
    auto copy = std::dynamic_pointer_cast<models::sd::UNet2DConditionModelImpl>(unet->clone());
    QVERIFY(copy);
    const torch::Tensor x = randn({ 1, 4, 16, 16 }, 72);
    const torch::Tensor context = randn({ 1, 5, 16 }, 73);
    QVERIFY(torch::equal(unet->forward(x, torch::tensor(9), context), copy->forward(x, torch::tensor(9), context)));
    copy->conv_out->weight.add_(1.0);
    QVERIFY(
        maxAbsDiff(unet->forward(x, torch::tensor(9), context), copy->forward(x, torch::tensor(9), context)) > 1e-3);
    QCOMPARE(nn::stateDict(*copy).size(), nn::stateDict(*unet).size());
}

void TestSdUNet::tinyVaeEncodeDecode()
{
    torch::NoGradGuard noGrad;
    ScratchDir dir;
    torch::manual_seed(81);
    auto vae = models::sd::buildAutoencoderKL(tinyVaeOptions());
    writeJson(dir / "vae" / "config.json", models::sd::vaeConfigJson(vae->options));
    nn::saveStateDict(dir / "vae" / "diffusion_pytorch_model.safetensors", *vae);
    auto loaded = models::sd::loadAutoencoderKL(dir / "vae");
    QCOMPARE(loaded->scalingFactor(), 0.13025);

    const torch::Tensor images = randn({ 2, 3, 32, 32 }, 82).clamp(-1, 1);
    const models::sd::LatentDistribution latent = loaded->encode(images);
    QCOMPARE(latent.mean.sizes().vec(), (std::vector<std::int64_t> { 2, 4, 16, 16 }));
    QCOMPARE(latent.logvar.sizes().vec(), (std::vector<std::int64_t> { 2, 4, 16, 16 }));
    QVERIFY(latent.logvar.max().item<double>() <= 20.0 && latent.logvar.min().item<double>() >= -30.0);
    QVERIFY(torch::equal(latent.mean, vae->encode(images).mean));

    auto g1 = torch::make_generator<torch::CPUGeneratorImpl>(5);
    auto g2 = torch::make_generator<torch::CPUGeneratorImpl>(5);
    const torch::Tensor s1 = latent.sample(g1);
    QVERIFY(torch::equal(s1, latent.sample(g2)));
    QVERIFY(maxAbsDiff(s1, latent.mean) > 1e-3);

    const torch::Tensor decoded = loaded->decode(latent.mean);
    QCOMPARE(decoded.sizes().vec(), (std::vector<std::int64_t> { 2, 3, 32, 32 }));
    QVERIFY(torch::equal(decoded, loaded->forward(images)));
    LETHE_COMPARE_STR(errorMessage([&] {
        loaded->decode(torch::zeros({ 1, 3, 4, 4 }));
    }),
        "AutoencoderKL: expected latents [N, 4, h, w], got [1, 3, 4, 4]");

    // Absent scaling_factor: diffusers' 0.18215.
    json config = models::sd::vaeConfigJson(tinyVaeOptions());
    config.erase("scaling_factor");
    QCOMPARE(models::sd::vaeOptionsFromConfig(config, "vae/config.json").scaling_factor(), 0.18215);
}

void TestSdUNet::oldVaeAttentionNamesLoad()
{
    torch::NoGradGuard noGrad;
    LETHE_COMPARE_STR(models::sd::modernVaeName("encoder.mid_block.attentions.0.query.weight"),
        "encoder.mid_block.attentions.0.to_q.weight");
    LETHE_COMPARE_STR(models::sd::modernVaeName("decoder.mid_block.attentions.0.proj_attn.bias"),
        "decoder.mid_block.attentions.0.to_out.0.bias");
    LETHE_COMPARE_STR(models::sd::modernVaeName("decoder.up_blocks.0.resnets.0.conv1.weight"),
        "decoder.up_blocks.0.resnets.0.conv1.weight");

    ScratchDir dir;
    torch::manual_seed(91);
    auto vae = models::sd::buildAutoencoderKL(tinyVaeOptions());
    std::vector<io::NamedTensor> old;
    int renamed = 0;
    for (auto [name, tensor] : nn::stateDict(*vae)) {
        for (const auto& [modern, legacy] : std::vector<std::pair<std::string, std::string>> { { ".to_q.", ".query." },
                 { ".to_k.", ".key." }, { ".to_v.", ".value." }, { ".to_out.0.", ".proj_attn." } }) {
            const auto at = name.find(modern);
            if (at != std::string::npos) {
                name = name.substr(0, at) + legacy + name.substr(at + modern.size());
                ++renamed;
            }
        }
        old.push_back({ name, tensor });
    }
    QCOMPARE(renamed, 16); // encoder and decoder: 4 layers × weight and bias
    writeJson(dir / "vae" / "config.json", models::sd::vaeConfigJson(vae->options));
    io::writeSafetensors(dir / "vae" / "diffusion_pytorch_model.safetensors", old);
    auto loaded = models::sd::loadAutoencoderKL(dir / "vae");
    const torch::Tensor images = randn({ 1, 3, 16, 16 }, 92);
    QVERIFY(torch::equal(vae->forward(images), loaded->forward(images)));
}

void TestSdUNet::unetConfigErrorsNameTheKey_data()
{
    QTest::addColumn<QString>("patch");
    QTest::addColumn<QString>("message");
    QTest::newRow("down block type")
        << R"({"down_block_types": ["CrossAttnDownBlock2D", "AttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]})"
        << "unet/config.json: key 'down_block_types': unsupported block type 'AttnDownBlock2D'; Lethe supports "
           "CrossAttnDownBlock2D, DownBlock2D";
    QTest::newRow("up block type")
        << R"({"up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "AttnUpBlock2D"]})"
        << "unet/config.json: key 'up_block_types': unsupported block type 'AttnUpBlock2D'; Lethe supports "
           "CrossAttnUpBlock2D, UpBlock2D";
    QTest::newRow("class embedding")
        << R"({"class_embed_type": "timestep"})"
        << R"(unet/config.json: key 'class_embed_type': not supported: expected null, found "timestep")";
    QTest::newRow("addition embedding")
        << R"({"addition_embed_type": "text"})"
        << R"(unet/config.json: key 'addition_embed_type': not supported: expected null or "text_time", found "text")";
    QTest::newRow("text_time without its width")
        << R"({"addition_embed_type": "text_time", "projection_class_embeddings_input_dim": 2816})"
        << R"(unet/config.json: key 'addition_time_embed_dim': missing: addition_embed_type "text_time" needs it)";
    QTest::newRow("text_time without its input width")
        << R"({"addition_embed_type": "text_time", "addition_time_embed_dim": 256})"
        << R"(unet/config.json: key 'projection_class_embeddings_input_dim': missing: addition_embed_type "text_time" needs it)";
    QTest::newRow("text_time width zero")
        << R"({"addition_embed_type": "text_time", "addition_time_embed_dim": 0, "projection_class_embeddings_input_dim": 2816})"
        << "unet/config.json: key 'addition_time_embed_dim': expected a positive integer, found 0";
    QTest::newRow("projection without text_time")
        << R"({"projection_class_embeddings_input_dim": 2816})"
        << "unet/config.json: key 'projection_class_embeddings_input_dim': not supported without addition_embed_type "
           "\"text_time\": expected null, found 2816";
    QTest::newRow("mid block")
        << R"({"mid_block_type": "UNetMidBlock2DSimpleCrossAttn"})"
        << R"(unet/config.json: key 'mid_block_type': not supported: expected "UNetMidBlock2DCrossAttn", found "UNetMidBlock2DSimpleCrossAttn")";
    QTest::newRow("levels")
        << R"({"layers_per_block": [2, 2]})"
        << "unet/config.json: key 'layers_per_block': expected 4 entries (one per block_out_channels), found 2";
    QTest::newRow("type")
        << R"({"attention_head_dim": "eight"})"
        << R"(unet/config.json: key 'attention_head_dim': expected an integer or a list of integers, found "eight")";
    QTest::newRow("heads") << R"({"attention_head_dim": 7})"
                           << "unet/config.json: key 'attention_head_dim': 320 channels cannot be split into 7 heads";
    QTest::newRow("only cross") << R"({"only_cross_attention": [false, true, false, false]})"
                                << "unet/config.json: key 'only_cross_attention': not supported: expected false, found "
                                   "[false,true,false,false]";
    QTest::newRow("class name")
        << R"({"_class_name": "UNet2DModel"})"
        << R"(unet/config.json: key '_class_name': not supported: expected "UNet2DConditionModel", found "UNet2DModel")";
}

void TestSdUNet::unetConfigErrorsNameTheKey()
{
    QFETCH(QString, patch);
    QFETCH(QString, message);
    QCOMPARE(QString::fromStdString(unetConfigError(json::parse(patch.toStdString()))), message);
}

void TestSdUNet::vaeConfigErrorsNameTheKey()
{
    json config = models::sd::vaeConfigJson(models::sd::stableDiffusion1VaeOptions());
    config["down_block_types"][1] = "AttnDownEncoderBlock2D";
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::vaeOptionsFromConfig(config, "vae/config.json"); }),
        "vae/config.json: key 'down_block_types': unsupported block type 'AttnDownEncoderBlock2D'; Lethe supports "
        "DownEncoderBlock2D");
    config = models::sd::vaeConfigJson(models::sd::stableDiffusion1VaeOptions());
    config["latent_channels"] = 0;
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::vaeOptionsFromConfig(config, "vae/config.json"); }),
        "vae/config.json: key 'latent_channels': expected a positive integer, found 0");
    config = models::sd::vaeConfigJson(models::sd::stableDiffusion1VaeOptions());
    config["scaling_factor"] = "0.18";
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::vaeOptionsFromConfig(config, "vae/config.json"); }),
        R"(vae/config.json: key 'scaling_factor': expected a number, found "0.18")");
}

void TestSdUNet::pickledWeightsAreRefused()
{
    // The loaders go through models::sd::componentWeights; these are its messages, seen through the loaders.
    ScratchDir dir;
    const auto unetDir = dir / "unet";
    writeJson(unetDir / "config.json", models::sd::unetConfigJson(tinyUNetOptions()));
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadUNet2DCondition(unetDir); }),
        unetDir.string()
            + ": weights: missing: expected diffusion_pytorch_model.safetensors or "
              "diffusion_pytorch_model.fp16.safetensors");

    const std::string advice
        = ": file: pickled weights can run arbitrary code when loaded, so Lethe never opens them; convert them to "
          "safetensors in Python first (diffusers: pipe = StableDiffusionPipeline.from_single_file(path) or "
          ".from_pretrained(folder), then pipe.save_pretrained(out, safe_serialization=True))";
    lethe::test::writeBytes(unetDir / "diffusion_pytorch_model.ckpt", "PK\x03\x04");
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadUNet2DCondition(unetDir); }),
        (unetDir / "diffusion_pytorch_model.ckpt").string() + advice);
    lethe::test::writeBytes(unetDir / "diffusion_pytorch_model.bin", "PK\x03\x04");
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadUNet2DCondition(unetDir); }),
        (unetDir / "diffusion_pytorch_model.bin").string() + advice);

    const auto vaeDir = dir / "vae";
    writeJson(vaeDir / "config.json", models::sd::vaeConfigJson(tinyVaeOptions()));
    lethe::test::writeBytes(vaeDir / "diffusion_pytorch_model.bin", "PK\x03\x04");
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadAutoencoderKL(vaeDir); }),
        (vaeDir / "diffusion_pytorch_model.bin").string() + advice);
}

void TestSdUNet::timestepEmbeddingValues()
{
    // dim 6: half 3, frequencies exp(−ln(10⁴)·i / 3) = 1, 10^(−4/3), 10^(−8/3).
    const torch::Tensor t = torch::tensor({ 0.0, 2.5 });
    const torch::Tensor flipped = models::sd::timestepEmbedding(t, 6, true, 0.0);
    const torch::Tensor plain = models::sd::timestepEmbedding(t, 6, false, 1.0);
    QCOMPARE(flipped.sizes().vec(), (std::vector<std::int64_t> { 2, 6 }));
    const double f[3] = { 1.0, std::pow(10.0, -4.0 / 3.0), std::pow(10.0, -8.0 / 3.0) };
    // freq_shift 1: exp(−ln(10⁴)·i / 2) = 1, 10^(−2), 10^(−4).
    const double g[3] = { 1.0, 1e-2, 1e-4 };
    for (int i = 0; i < 3; ++i) {
        QVERIFY(std::abs(flipped[1][i].item<double>() - std::cos(2.5 * f[i])) < 1e-6);
        QVERIFY(std::abs(flipped[1][3 + i].item<double>() - std::sin(2.5 * f[i])) < 1e-6);
        QVERIFY(std::abs(plain[1][i].item<double>() - std::sin(2.5 * g[i])) < 1e-6);
        QVERIFY(std::abs(plain[1][3 + i].item<double>() - std::cos(2.5 * g[i])) < 1e-6);
        QCOMPARE(flipped[0][i].item<double>(), 1.0);
        QCOMPARE(flipped[0][3 + i].item<double>(), 0.0);
    }
    // Odd widths are padded with a zero column.
    const torch::Tensor odd = models::sd::timestepEmbedding(t, 7, true, 0.0);
    QCOMPARE(odd.size(1), std::int64_t { 7 });
    QCOMPARE(odd[1][6].item<double>(), 0.0);
}

void TestSdUNet::attentionMatchesHandComputedHeads()
{
    torch::NoGradGuard noGrad;
    torch::manual_seed(111);
    models::sd::Attention attention(models::sd::AttentionOptions(8, 2, 4).cross_attention_dim(6));
    const torch::Tensor x = randn({ 1, 5, 8 }, 112);
    const torch::Tensor context = randn({ 1, 3, 6 }, 113);
    const torch::Tensor q = torch::matmul(x[0], attention->to_q->weight.t());
    const torch::Tensor k = torch::matmul(context[0], attention->to_k->weight.t());
    const torch::Tensor v = torch::matmul(context[0], attention->to_v->weight.t());
    std::vector<torch::Tensor> heads;
    for (int h = 0; h < 2; ++h) {
        const auto cols = torch::indexing::Slice(h * 4, h * 4 + 4);
        const torch::Tensor qh = q.index({ torch::indexing::Slice(), cols });
        const torch::Tensor kh = k.index({ torch::indexing::Slice(), cols });
        const torch::Tensor vh = v.index({ torch::indexing::Slice(), cols });
        heads.push_back(torch::matmul(torch::softmax(torch::matmul(qh, kh.t()) / 2.0, -1), vh));
    }
    const auto& out = *attention->to_out[0]->as<torch::nn::LinearImpl>();
    const torch::Tensor expected = torch::matmul(torch::cat(heads, 1), out.weight.t()) + out.bias;
    QVERIFY(maxAbsDiff(attention->forward(x, context)[0], expected) < 1e-5);
    QVERIFY(!attention->to_q->bias.defined());

    // The VAE's form: group norm over channels, one head of all channels, biases, residual, on [N, C, H, W].
    torch::manual_seed(114);
    models::sd::Attention vae(
        models::sd::AttentionOptions(8, 1, 8).qkv_bias(true).norm_num_groups(2).norm_eps(1e-6).residual_connection(
            true));
    const torch::Tensor map = randn({ 1, 8, 2, 3 }, 115);
    const torch::Tensor tokens
        = torch::group_norm(map, 2, vae->group_norm->weight, vae->group_norm->bias, 1e-6).flatten(2).transpose(1, 2)[0];
    const auto proj
        = [](const torch::nn::Linear& l, const torch::Tensor& t) { return torch::matmul(t, l->weight.t()) + l->bias; };
    const torch::Tensor weights
        = torch::softmax(torch::matmul(proj(vae->to_q, tokens), proj(vae->to_k, tokens).t()) / std::sqrt(8.0), -1);
    const auto& vout = *vae->to_out[0]->as<torch::nn::LinearImpl>();
    const torch::Tensor mixed
        = torch::matmul(torch::matmul(weights, proj(vae->to_v, tokens)), vout.weight.t()) + vout.bias;
    const torch::Tensor expectedMap = mixed.t().reshape({ 1, 8, 2, 3 }) + map;
    QVERIFY(maxAbsDiff(vae->forward(map), expectedMap) < 1e-5);
}

void TestSdUNet::resnetBlockMatchesHandComputation()
{
    torch::NoGradGuard noGrad;
    torch::manual_seed(121);
    models::sd::ResnetBlock2D block(models::sd::ResnetBlock2DOptions(4, 8).temb_channels(5).groups(2));
    const torch::Tensor x = randn({ 2, 4, 5, 5 }, 122);
    const torch::Tensor temb = randn({ 2, 5 }, 123);
    torch::Tensor h = torch::silu(torch::group_norm(x, 2, block->norm1->weight, block->norm1->bias, 1e-5));
    h = torch::conv2d(h, block->conv1->weight, block->conv1->bias, 1, 1);
    h = h
        + (torch::matmul(torch::silu(temb), block->time_emb_proj->weight.t()) + block->time_emb_proj->bias)
              .view({ 2, 8, 1, 1 });
    h = torch::silu(torch::group_norm(h, 2, block->norm2->weight, block->norm2->bias, 1e-5));
    h = torch::conv2d(h, block->conv2->weight, block->conv2->bias, 1, 1);
    const torch::Tensor expected = torch::conv2d(x, block->conv_shortcut->weight, block->conv_shortcut->bias) + h;
    QVERIFY(maxAbsDiff(block->forward(x, temb), expected) < 1e-5);
    // Same channels: no shortcut convolution.
    QVERIFY(!models::sd::ResnetBlock2D(models::sd::ResnetBlock2DOptions(8, 8).groups(2))->conv_shortcut);
}

void TestSdUNet::linearProjectionUNet()
{
    // SD 2.x's form: linear proj_in / proj_out, per-level head counts and upcast attention.
    torch::NoGradGuard noGrad;
    ScratchDir dir;
    auto options = tinyUNetOptions().use_linear_projection(true).upcast_attention(true).attention_head_dim({ 2, 4 });
    auto unet = tinyUNet(131, options);
    const auto shapes = shapesOf(*unet);
    QCOMPARE(shapes.at("down_blocks.0.attentions.0.proj_in.weight"), (std::vector<std::int64_t> { 32, 32 }));
    QCOMPARE(shapes.at("up_blocks.1.attentions.1.proj_out.weight"), (std::vector<std::int64_t> { 32, 32 }));
    QCOMPARE(
        unet->mid_block->attentions[0]->as<models::sd::Transformer2DModelImpl>()->options.heads(), std::int64_t { 4 });
    const torch::Tensor x = randn({ 1, 4, 16, 16 }, 132);
    const torch::Tensor context = randn({ 1, 5, 16 }, 133);
    const torch::Tensor out = unet->forward(x, torch::tensor(77), context);
    QCOMPARE(out.sizes().vec(), x.sizes().vec());

    // A file written with 1×1-convolution projections loads with acceptTrailingUnitDims.
    std::vector<io::NamedTensor> convShaped;
    for (const auto& [name, tensor] : nn::stateDict(*unet)) {
        const bool proj
            = name.find(".proj_in.weight") != std::string::npos || name.find(".proj_out.weight") != std::string::npos;
        convShaped.push_back({ name, proj ? tensor.unsqueeze(-1).unsqueeze(-1) : tensor });
    }
    io::writeSafetensors(dir / "conv.safetensors", convShaped);
    auto target = models::sd::buildUNet2DCondition(options);
    nn::LoadOptions load;
    load.acceptTrailingUnitDims = true;
    QVERIFY(models::sd::loadUNetWeights(target, io::SafetensorsFile(dir / "conv.safetensors"), load).complete());
    QVERIFY(torch::equal(target->forward(x, torch::tensor(77), context), out));
}

void TestSdUNet::feedForwardAndResamplersMatchHandComputation()
{
    torch::NoGradGuard noGrad;
    torch::manual_seed(141);
    models::sd::FeedForward ff(6);
    const torch::Tensor x = randn({ 2, 3, 6 }, 142);
    const auto& geglu = *ff->net[0]->as<models::sd::GEGLUImpl>();
    const auto& down = *ff->net[2]->as<torch::nn::LinearImpl>();
    QCOMPARE(geglu.proj->weight.sizes().vec(), (std::vector<std::int64_t> { 48, 6 }));
    const torch::Tensor projected = torch::matmul(x, geglu.proj->weight.t()) + geglu.proj->bias;
    const torch::Tensor hidden = projected.narrow(-1, 0, 24);
    const torch::Tensor gate = projected.narrow(-1, 24, 24);
    const torch::Tensor gelu = 0.5 * gate * (1 + torch::erf(gate / std::sqrt(2.0)));
    QVERIFY(maxAbsDiff(ff->forward(x), torch::matmul(hidden * gelu, down.weight.t()) + down.bias) < 1e-5);

    // The VAE's downsampler pads one zero row and column at the bottom and right, then convolves with stride 2.
    models::sd::Downsample2D vaeDown(2, 0);
    const torch::Tensor map = randn({ 1, 2, 5, 6 }, 143);
    torch::Tensor padded = torch::zeros({ 1, 2, 6, 7 });
    padded.narrow(2, 0, 5).narrow(3, 0, 6).copy_(map);
    const torch::Tensor expected = torch::conv2d(padded, vaeDown->conv->weight, vaeDown->conv->bias, 2);
    QVERIFY(maxAbsDiff(vaeDown->forward(map), expected) < 1e-6);
    models::sd::Downsample2D unetDown(2, 1);
    QVERIFY(maxAbsDiff(unetDown->forward(map), torch::conv2d(map, unetDown->conv->weight, unetDown->conv->bias, 2, 1))
        < 1e-6);

    // The upsampler repeats each pixel 2×2 before its convolution.
    models::sd::Upsample2D up(2);
    const torch::Tensor repeated = map.repeat_interleave(2, 2).repeat_interleave(2, 3);
    QVERIFY(maxAbsDiff(up->forward(map), torch::conv2d(repeated, up->conv->weight, up->conv->bias, 1, 1)) < 1e-6);
    QCOMPARE(up->forward(map, { 9, 11 }).sizes().vec(), (std::vector<std::int64_t> { 1, 2, 9, 11 }));
}

void TestSdUNet::fp16ComputeOnCuda()
{
    if (!torch::cuda::is_available())
        QSKIP("no CUDA device; half-precision convolutions are not run on the CPU");
    torch::NoGradGuard noGrad;
    ScratchDir dir;
    auto unet = tinyUNet(101);
    writeUNetFolder(dir / "unet", unet);
    const torch::Tensor x = randn({ 2, 4, 16, 16 }, 102);
    const torch::Tensor context = randn({ 2, 5, 16 }, 103);
    const torch::Tensor t = torch::tensor({ 20.0, 800.0 });
    const torch::Tensor reference = unet->forward(x, t, context);
    for (auto backend : { models::sd::AttentionBackend::Standard, models::sd::AttentionBackend::MemoryEfficient }) {
        auto half = models::sd::loadUNet2DCondition(dir / "unet", torch::kFloat16, torch::kCUDA, backend);
        const torch::Tensor out
            = half->forward(x.to(torch::kCUDA, torch::kFloat16), t, context.to(torch::kCUDA, torch::kFloat16));
        QCOMPARE(out.scalar_type(), torch::kFloat16);
        const double error = maxAbsDiff(out.to(torch::kCPU, torch::kFloat32), reference);
        const double scale = reference.abs().max().item<double>();
        QVERIFY2(error < 2e-2 * scale, qPrintable(QStringLiteral("error %1, scale %2").arg(error).arg(scale)));
    }
    torch::manual_seed(104);
    auto vae = models::sd::buildAutoencoderKL(tinyVaeOptions());
    const torch::Tensor images = randn({ 1, 3, 32, 32 }, 105);
    const torch::Tensor reference32 = vae->forward(images);
    vae->to(torch::kCUDA, torch::kFloat16);
    const torch::Tensor out = vae->forward(images.to(torch::kCUDA, torch::kFloat16)).to(torch::kCPU, torch::kFloat32);
    QVERIFY(maxAbsDiff(out, reference32) < 2e-2 * reference32.abs().max().item<double>());
}

void TestSdUNet::sdxlConfigParsesAndCountsItsParameters()
{
    const models::sd::UNet2DConditionOptions parsed
        = models::sd::unetOptionsFromConfig(json::parse(kSdxlUNetConfig), "unet/config.json");
    QCOMPARE(models::sd::unetConfigJson(parsed).dump(),
        models::sd::unetConfigJson(models::sd::stableDiffusionXlUNetOptions()).dump());
    QCOMPARE(parsed.transformer_layers_per_block(), (std::vector<std::int64_t> { 1, 2, 10 }));
    QCOMPARE(parsed.attention_head_dim(), (std::vector<std::int64_t> { 5, 10, 20 }));
    // The written config reads back the same.
    QCOMPARE(
        models::sd::unetConfigJson(models::sd::unetOptionsFromConfig(models::sd::unetConfigJson(parsed), "x")).dump(),
        models::sd::unetConfigJson(parsed).dump());
    // Counted from the shapes: 10 GB in float32 to build. SD 1.x's agrees with its built network (the first test).
    QCOMPARE(models::sd::unetParameterCount(parsed), kSdxlUNetParameters);
    QCOMPARE(models::sd::unetParameterCount(models::sd::stableDiffusion1UNetOptions()), kSd1UNetParameters);
    // The bound that refuses configs too large for their weights stays under the count.
    const double bound = models::sd::minimumParameters(parsed);
    qInfo("SDXL UNet: bound %.0f of %lld parameters", bound, static_cast<long long>(kSdxlUNetParameters));
    QVERIFY(bound <= static_cast<double>(kSdxlUNetParameters) && bound * 4 >= static_cast<double>(kSdxlUNetParameters));
}

void TestSdUNet::parameterCountMatchesBuiltNetworks_data()
{
    QTest::addColumn<int>("variant");
    QTest::newRow("SD 1.x form") << 0;
    QTest::newRow("SDXL form") << 1;
    QTest::newRow("three levels, time_embedding_dim") << 2;
}

void TestSdUNet::parameterCountMatchesBuiltNetworks()
{
    QFETCH(int, variant);
    models::sd::UNet2DConditionOptions options = tinyUNetOptions();
    if (variant == 1)
        options = lethe::test::tinyXlUNetOptions();
    if (variant == 2)
        options = lethe::test::tinyXlUNetOptions()
                      .block_out_channels({ 16, 32, 48 })
                      .down_block_types({ "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D" })
                      .up_block_types({ "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D" })
                      .layers_per_block({ 1, 2, 1 })
                      .attention_head_dim({ 2, 4, 8 })
                      .transformer_layers_per_block({ 1, 2, 3 })
                      .time_embedding_dim(40);
    QCOMPARE(models::sd::unetParameterCount(options), nn::parameterCount(*tinyUNet(1, options)));
}

void TestSdUNet::textTimeEmbeddingIsAddedToTheTimeEmbedding()
{
    torch::NoGradGuard noGrad;
    const auto options = lethe::test::tinyXlUNetOptions();
    auto sdxl = tinyUNet(141, options);
    const auto shapes = shapesOf(*sdxl);
    QCOMPARE(shapes.at("add_embedding.linear_1.weight"), (std::vector<std::int64_t> { 128, 36 }));
    QCOMPARE(shapes.at("add_embedding.linear_2.bias"), (std::vector<std::int64_t> { 128 }));
    QCOMPARE(shapes.at("down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight"),
        (std::vector<std::int64_t> { 64, 16 }));
    QCOMPARE(
        shapes.at("up_blocks.0.attentions.1.transformer_blocks.1.norm3.weight"), (std::vector<std::int64_t> { 64 }));
    QCOMPARE(shapes.count("down_blocks.0.attentions.0.norm.weight"), std::size_t { 0 });
    // diffusers' order: add_embedding right after time_embedding.
    const auto state = nn::stateDict(*sdxl);
    LETHE_COMPARE_STR(state[6].name, "add_embedding.linear_1.weight");

    // add_embedding(text_embeds ‖ sinusoids of each time id) shifts the time embedding: the same network without
    // it, its time_embedding's last bias moved by that amount, gives the same prediction.
    const torch::Tensor x = randn({ 1, 4, 16, 16 }, 142);
    const torch::Tensor context = randn({ 1, 5, 16 }, 143);
    const models::sd::UNetAddedConditions added { randn({ 1, 12 }, 144),
        torch::tensor({ 1024.0, 768.0, 0.0, 32.0, 1024.0, 768.0 }).unsqueeze(0) };
    const torch::Tensor out = sdxl->forward(x, torch::tensor(321), context, added);
    const torch::Tensor sinusoids
        = models::sd::timestepEmbedding(added.time_ids.flatten(), 4, true, 0.0).reshape({ 1, 24 });
    const torch::Tensor shift = sdxl->add_embedding->forward(torch::cat({ added.text_embeds, sinusoids }, 1));

    auto plain = tinyUNet(1, lethe::test::tinyXlUNetOptions().addition_embed_type(""));
    std::vector<io::NamedTensor> weights;
    for (const auto& named : state)
        if (named.name.rfind("add_embedding.", 0) != 0)
            weights.push_back(named);
    ScratchDir dir;
    io::writeSafetensors(dir / "w.safetensors", weights);
    QVERIFY(models::sd::loadUNetWeights(plain, io::SafetensorsFile(dir / "w.safetensors")).complete());
    QVERIFY(maxAbsDiff(plain->forward(x, torch::tensor(321), context), out) > 1e-4);
    plain->time_embedding->linear_2->bias.add_(shift[0]);
    const double difference = maxAbsDiff(plain->forward(x, torch::tensor(321), context), out);
    QVERIFY2(difference < 1e-5, std::to_string(difference).c_str());

    // Each condition reaches the output; a batch is each of its samples.
    models::sd::UNetAddedConditions otherIds = added;
    otherIds.time_ids = torch::tensor({ 512.0, 512.0, 0.0, 0.0, 512.0, 512.0 }).unsqueeze(0);
    QVERIFY(maxAbsDiff(sdxl->forward(x, torch::tensor(321), context, otherIds), out) > 1e-4);
    models::sd::UNetAddedConditions otherText = added;
    otherText.text_embeds = randn({ 1, 12 }, 145);
    QVERIFY(maxAbsDiff(sdxl->forward(x, torch::tensor(321), context, otherText), out) > 1e-4);
    const torch::Tensor both = sdxl->forward(torch::cat({ x, x }), torch::tensor(321), torch::cat({ context, context }),
        { torch::cat({ added.text_embeds, otherIds.text_embeds }), torch::cat({ added.time_ids, otherIds.time_ids }) });
    QVERIFY(maxAbsDiff(both[0], out[0]) < 1e-5);
    QVERIFY(maxAbsDiff(both[1], sdxl->forward(x, torch::tensor(321), context, otherIds)[0]) < 1e-5);
}

void TestSdUNet::textTimeConditionsAreChecked()
{
    torch::NoGradGuard noGrad;
    auto sdxl = tinyUNet(151, lethe::test::tinyXlUNetOptions());
    const torch::Tensor x = randn({ 2, 4, 8, 8 }, 152);
    const torch::Tensor context = randn({ 2, 3, 16 }, 153);
    LETHE_COMPARE_STR(errorMessage([&] { sdxl->forward(x, torch::tensor(1), context); }),
        "UNet2DConditionModel: addition_embed_type \"text_time\" needs text_embeds [N, P] and time_ids [N, K] (SDXL's "
        "pooled text embedding and size/crop ids)");
    LETHE_COMPARE_STR(errorMessage([&] {
        sdxl->forward(x, torch::tensor(1), context, { torch::zeros({ 2, 12 }), torch::zeros({ 2, 5 }) });
    }),
        "UNet2DConditionModel: expected text_embeds [2, P] and time_ids [2, K] with P + K × 4 = 36, got [2, 12] and "
        "[2, 5]");
    LETHE_COMPARE_STR(errorMessage([&] {
        sdxl->forward(x, torch::tensor(1), context, { torch::zeros({ 1, 12 }), torch::zeros({ 1, 6 }) });
    }),
        "UNet2DConditionModel: expected text_embeds [2, P] and time_ids [2, K] with P + K × 4 = 36, got [1, 12] and "
        "[1, 6]");
    auto plain = tinyUNet(151);
    LETHE_COMPARE_STR(errorMessage([&] {
        plain->forward(x, torch::tensor(1), context, { torch::zeros({ 2, 12 }), torch::zeros({ 2, 6 }) });
    }),
        "UNet2DConditionModel: text_embeds and time_ids given, but this UNet has no addition_embed_type \"text_time\" "
        "to take them");
}

QTEST_APPLESS_MAIN(TestSdUNet)
#include "test_sd_unet.moc"
