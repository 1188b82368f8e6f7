// Stable Diffusion models as files: the diffusers folder layout and single files, and (with tiny random
// networks the tests write in the real layouts) loading and generating.
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/diffusers_folder.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/models/sd/unet_2d_condition.h"
#include "core/nn/state_dict.h"
#include "test_support.h"

#include <torch/torch.h>

using namespace lethe;
using namespace lethe::models::sd;
using namespace lethe::test;

namespace {

const char* const kIndex = R"({
  "_class_name": "StableDiffusionPipeline",
  "_diffusers_version": "0.21.4",
  "feature_extractor": ["transformers", "CLIPImageProcessor"],
  "requires_safety_checker": true,
  "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
  "scheduler": ["diffusers", "PNDMScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"]
})";

void makeComponentFolders(const std::filesystem::path& root)
{
    for (const char* component : { "scheduler", "text_encoder", "tokenizer", "unet", "vae" })
        std::filesystem::create_directories(root / component);
}

const char* const kConvertHint
    = "pickled weights can run arbitrary code when loaded, so Lethe never opens them; convert them to "
      "safetensors in Python first (diffusers: pipe = StableDiffusionPipeline.from_single_file(path) or "
      ".from_pretrained(folder), then pipe.save_pretrained(out, safe_serialization=True))";

/// A tiny Stable Diffusion in the real diffusers layout, random weights: CLIP text (16 wide) over a vocabulary
/// of single letters, a two-level UNet and a two-level VAE (latents at half the image size).
void writeTinyDiffusersFolder(const std::filesystem::path& root, bool withVae)
{
    nlohmann::json vocab = { { "<|startoftext|>", 0 }, { "<|endoftext|>", 1 } };
    for (char c = 'a'; c <= 'z'; ++c) {
        vocab[std::string(1, c)] = vocab.size();
        vocab[std::string(1, c) + "</w>"] = vocab.size();
    }
    writeBytes(root / "tokenizer" / "vocab.json", vocab.dump());
    writeBytes(root / "tokenizer" / "merges.txt", "#version: 0.2\n");
    writeBytes(root / "tokenizer" / "tokenizer_config.json", R"({"model_max_length": 16})");
    torch::manual_seed(1);
    const auto textOptions = models::sd::ClipTextOptions()
                                 .vocab_size(60)
                                 .hidden_size(16)
                                 .intermediate_size(24)
                                 .num_hidden_layers(2)
                                 .num_attention_heads(4)
                                 .max_position_embeddings(16)
                                 .bos_token_id(0)
                                 .eos_token_id(1)
                                 .pad_token_id(1);
    models::sd::ClipTextModel text(textOptions);
    writeBytes(root / "text_encoder" / "config.json", models::sd::toJson(textOptions).dump());
    nn::saveStateDict(root / "text_encoder" / "model.safetensors", *text);
    const auto unetOptions = models::sd::UNet2DConditionOptions()
                                 .sample_size(8)
                                 .in_channels(withVae ? 4 : 3)
                                 .out_channels(withVae ? 4 : 3)
                                 .block_out_channels({ 32, 64 })
                                 .down_block_types({ "CrossAttnDownBlock2D", "DownBlock2D" })
                                 .up_block_types({ "UpBlock2D", "CrossAttnUpBlock2D" })
                                 .layers_per_block({ 1, 1 })
                                 .attention_head_dim({ 8, 8 })
                                 .transformer_layers_per_block({ 1, 1 })
                                 .cross_attention_dim(16)
                                 .norm_num_groups(8);
    auto unet = models::sd::buildUNet2DCondition(unetOptions);
    writeBytes(root / "unet" / "config.json", models::sd::unetConfigJson(unetOptions).dump());
    nn::saveStateDict(root / "unet" / "diffusion_pytorch_model.safetensors", *unet);
    std::string index = kIndex;
    if (withVae) {
        const auto vaeOptions = models::sd::AutoencoderKLOptions()
                                    .block_out_channels({ 32, 64 })
                                    .layers_per_block(1)
                                    .norm_num_groups(8)
                                    .sample_size(16);
        auto vae = models::sd::buildAutoencoderKL(vaeOptions);
        writeBytes(root / "vae" / "config.json", models::sd::vaeConfigJson(vaeOptions).dump());
        nn::saveStateDict(root / "vae" / "diffusion_pytorch_model.safetensors", *vae);
    } else {
        index.replace(index.find(R"(["diffusers", "AutoencoderKL"])"),
            std::string(R"(["diffusers", "AutoencoderKL"])").size(), "[null, null]");
    }
    writeBytes(root / "scheduler" / "scheduler_config.json",
        R"({"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "steps_offset": 1})");
    writeBytes(root / "model_index.json", index);
}

} // namespace

class TestSdPipeline : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void modelIndexListsComponents();
    void modelIndexErrors_data();
    void modelIndexErrors();
    void componentWeightsPreferFullPrecisionAndRefusePickles();
    void sourceKindOfPaths();
    void tinyDiffusersFolderGenerates_data();
    void tinyDiffusersFolderGenerates();
};

void TestSdPipeline::modelIndexListsComponents()
{
    ScratchDir dir;
    writeBytes(dir / "model_index.json", kIndex);
    makeComponentFolders(dir.path());
    const DiffusersIndex index = readModelIndex(dir.path());
    LETHE_COMPARE_STR(index.pipelineClass, "StableDiffusionPipeline");
    LETHE_COMPARE_STR(index.diffusersVersion, "0.21.4");
    LETHE_COMPARE_STR(index.components.at("unet").className, "UNet2DConditionModel");
    LETHE_COMPARE_STR(index.components.at("text_encoder").library, "transformers");
    QVERIFY(index.has("vae"));
    QVERIFY(!index.has("safety_checker")); // listed, but its folder is not there
    QVERIFY(index.components.count("requires_safety_checker") == 0);

    // A pixel-space model: vae null.
    std::string pixel = kIndex;
    pixel.replace(pixel.find(R"(["diffusers", "AutoencoderKL"])"),
        std::string(R"(["diffusers", "AutoencoderKL"])").size(), "[null, null]");
    writeBytes(dir / "model_index.json", pixel);
    QVERIFY(!readModelIndex(dir.path()).has("vae"));
}

void TestSdPipeline::modelIndexErrors_data()
{
    QTest::addColumn<QString>("from");
    QTest::addColumn<QString>("to");
    QTest::addColumn<QString>("message");
    QTest::newRow("not JSON") << "{"
                              << "{{"
                              << "model_index.json: byte 2: invalid JSON";
    QTest::newRow("array") << kIndex << "[1, 2]"
                           << "model_index.json: top level: expected a JSON object, found array";
    QTest::newRow("no unet") << R"("unet": ["diffusers", "UNet2DConditionModel"],)"
                             << ""
                             << "model_index.json: key 'unet': missing: Lethe needs unet, text_encoder, tokenizer and "
                                "scheduler";
    QTest::newRow("other unet") << "UNet2DConditionModel"
                                << "UNetSpatioTemporalConditionModel"
                                << "model_index.json: key 'unet': class UNetSpatioTemporalConditionModel is not "
                                   "supported (expected UNet2DConditionModel)";
    QTest::newRow("bad entry") << R"(["transformers", "CLIPTextModel"])"
                               << R"(["transformers"])"
                               << "model_index.json: key 'text_encoder': expected [library, class name], found "
                                  "[\"transformers\"]";
    QTest::newRow("name type") << R"("_class_name": "StableDiffusionPipeline")"
                               << R"("_class_name": 3)"
                               << "model_index.json: key '_class_name': expected a string, found 3";
}

void TestSdPipeline::modelIndexErrors()
{
    QFETCH(QString, from);
    QFETCH(QString, to);
    QFETCH(QString, message);
    ScratchDir dir;
    makeComponentFolders(dir.path());
    std::string text = kIndex;
    const auto at = text.find(from.toStdString());
    if (at != std::string::npos)
        text.replace(at, from.toStdString().size(), to.toStdString());
    else
        text = to.toStdString();
    writeBytes(dir / "model_index.json", text);
    LETHE_COMPARE_STR(errorMessage([&] { readModelIndex(dir.path()); }), (dir / "").string() + message.toStdString());

    // The folders must exist as listed; and a folder without an index is no diffusers folder.
    ScratchDir other;
    writeBytes(other / "model_index.json", kIndex);
    std::filesystem::create_directories(other / "unet");
    LETHE_COMPARE_STR(errorMessage([&] { readModelIndex(other.path()); }),
        other.path().string() + ": scheduler/: missing: model_index.json lists it but the folder does not exist");
    ScratchDir empty;
    LETHE_COMPARE_STR(errorMessage([&] { readModelIndex(empty.path()); }),
        empty.path().string()
            + ": model_index.json: missing: a diffusers folder holds model_index.json and "
              "one folder per component");
}

void TestSdPipeline::componentWeightsPreferFullPrecisionAndRefusePickles()
{
    ScratchDir dir;
    const auto unet = dir / "unet";
    std::filesystem::create_directories(unet);
    LETHE_COMPARE_STR(errorMessage([&] { componentWeights(unet, "diffusion_pytorch_model"); }),
        unet.string()
            + ": weights: missing: expected diffusion_pytorch_model.safetensors or "
              "diffusion_pytorch_model.fp16.safetensors");
    writeBytes(unet / "diffusion_pytorch_model.bin", "pickle");
    LETHE_COMPARE_STR(errorMessage([&] { componentWeights(unet, "diffusion_pytorch_model"); }),
        (unet / "diffusion_pytorch_model.bin").string() + ": file: " + kConvertHint);
    writeBytes(unet / "diffusion_pytorch_model.fp16.safetensors", "x");
    QCOMPARE(componentWeights(unet, "diffusion_pytorch_model"), unet / "diffusion_pytorch_model.fp16.safetensors");
    writeBytes(unet / "diffusion_pytorch_model.safetensors", "x");
    QCOMPARE(componentWeights(unet, "diffusion_pytorch_model"), unet / "diffusion_pytorch_model.safetensors");
}

void TestSdPipeline::sourceKindOfPaths()
{
    ScratchDir dir;
    writeBytes(dir / "model" / "model_index.json", kIndex);
    QVERIFY(sdSourceKind(dir / "model") == SdSourceKind::DiffusersFolder);
    writeBytes(dir / "v1-5.safetensors", "x");
    QVERIFY(sdSourceKind(dir / "v1-5.safetensors") == SdSourceKind::SingleFile);
    writeBytes(dir / "v1-5.ckpt", "x");
    LETHE_COMPARE_STR(errorMessage([&] { sdSourceKind(dir / "v1-5.ckpt"); }),
        (dir / "v1-5.ckpt").string() + ": file: " + kConvertHint);
    writeBytes(dir / "notes.txt", "x");
    LETHE_COMPARE_STR(errorMessage([&] { sdSourceKind(dir / "notes.txt"); }),
        (dir / "notes.txt").string()
            + ": file: expected a diffusers folder or a CompVis single file ending in .safetensors");
    LETHE_COMPARE_STR(
        errorMessage([&] { sdSourceKind(dir / "absent"); }), (dir / "absent").string() + ": file: does not exist");
    std::filesystem::create_directories(dir / "plain");
    LETHE_COMPARE_STR(errorMessage([&] { sdSourceKind(dir / "plain"); }),
        (dir / "plain").string()
            + ": model_index.json: missing: expected a diffusers folder (model_index.json, unet/, "
              "text_encoder/, tokenizer/, scheduler/) or a single .safetensors file");
}

void TestSdPipeline::tinyDiffusersFolderGenerates_data()
{
    QTest::addColumn<bool>("withVae");
    QTest::newRow("latent (VAE)") << true;
    QTest::newRow("pixel space (no VAE)") << false;
}

void TestSdPipeline::tinyDiffusersFolderGenerates()
{
    QFETCH(bool, withVae);
    ScratchDir dir;
    writeTinyDiffusersFolder(dir.path(), withVae);
    // LETHE_TINY_SD_DIR keeps a copy for trying `lethe-cli generate` and `bench generate` by hand.
    if (const QString keep = qEnvironmentVariable("LETHE_TINY_SD_DIR"); !keep.isEmpty())
        writeTinyDiffusersFolder(std::filesystem::path(keep.toStdString()) / (withVae ? "latent" : "pixel"), withVae);
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(dir.path(), {});
    LETHE_COMPARE_STR(sd.sourceKind(), "diffusers folder");
    QCOMPARE(sd.defaultImageSize(), withVae ? std::int64_t { 16 } : std::int64_t { 8 });
    QVERIFY(sd.unetParameters() > 0 && sd.textEncoderParameters() > 0);
    QCOMPARE(sd.vaeParameters() > 0, withVae);

    diffusion::TextToImageRequest request;
    request.prompts = { "a red sneaker" };
    request.negativePrompt = "blurry";
    request.seeds = { 3, 4 };
    request.height = request.width = sd.defaultImageSize();
    request.sampler.steps = 3;
    request.guidance = 2.0;
    request.batch = 2;
    const auto images = diffusion::generate(sd.model(), request);
    QVERIFY(images.has_value());
    const std::int64_t side = sd.defaultImageSize();
    QCOMPARE(images->sizes(), (std::vector<std::int64_t> { 2, 3, side, side }));
    QCOMPARE(images->scalar_type(), torch::kUInt8);
    // A reload gives the same images, and an image does not depend on its batch.
    const models::sd::StableDiffusion again = models::sd::loadStableDiffusion(dir.path(), {});
    request.batch = 1;
    QVERIFY(torch::equal(*diffusion::generate(again.model(), request), *images));
    // The prompt reaches the UNet.
    request.prompts = { "a blue coat" };
    QVERIFY(!torch::equal(*diffusion::generate(sd.model(), request), *images));
}

QTEST_APPLESS_MAIN(TestSdPipeline)
#include "test_sd_pipeline.moc"
