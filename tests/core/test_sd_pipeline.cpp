// Stable Diffusion models as files: the diffusers folder layout and single files, and (with tiny random
// networks the tests write in the real layouts) loading and generating.
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/models/parameter_bounds.h"
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/diffusers_folder.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/models/sd/unet_2d_condition.h"
#include "core/nn/state_dict.h"
#include "test_support.h"
#include "tiny_sd.h"

#include <torch/torch.h>

using namespace lethe;
using namespace lethe::models::sd;
using namespace lethe::test;

namespace {

void makeComponentFolders(const std::filesystem::path& root)
{
    for (const char* component : { "scheduler", "text_encoder", "tokenizer", "unet", "vae" })
        std::filesystem::create_directories(root / component);
}

const char* const kConvertHint
    = "pickled weights can run arbitrary code when loaded, so Lethe never opens them; convert them to "
      "safetensors in Python first (diffusers: pipe = StableDiffusionPipeline.from_single_file(path) or "
      ".from_pretrained(folder), then pipe.save_pretrained(out, safe_serialization=True))";

/// Two images from fixed seeds, with guidance and a negative prompt, three DDIM steps, at the model's size.
diffusion::TextToImageRequest tinyRequest(const StableDiffusion& sd)
{
    diffusion::TextToImageRequest request;
    request.prompts = { "a red sneaker" };
    request.negativePrompt = "blurry";
    request.seeds = { 3, 4 };
    request.height = request.width = sd.defaultImageSize();
    request.sampler.steps = 3;
    request.guidance = 2.0;
    request.batch = 2;
    return request;
}

torch::Tensor tinyImages(const StableDiffusion& sd)
{
    return *diffusion::generate(sd.model(), tinyRequest(sd));
}

/// The rows of the tests that run once with a VAE and once in pixel space.
void withAndWithoutVae()
{
    QTest::addColumn<bool>("withVae");
    QTest::newRow("latent (VAE)") << true;
    QTest::newRow("pixel space (no VAE)") << false;
}

/// The file's tensors under their names, and its metadata.
std::pair<std::vector<io::NamedTensor>, io::Metadata> readAll(const std::filesystem::path& path)
{
    const io::SafetensorsFile file(path);
    std::vector<io::NamedTensor> tensors;
    for (const io::TensorEntry& entry : file.entries())
        tensors.push_back({ entry.name, file.tensor(entry.name) });
    return { tensors, file.metadata() };
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
    void compvisSingleFileGivesIdenticalImages_data();
    void compvisSingleFileGivesIdenticalImages();
    void compvisSingleFileErrors();
    void configsTooLargeForTheirWeightsAreRefused_data();
    void configsTooLargeForTheirWeightsAreRefused();
    void parameterBoundsNeverExceedTheNetworks();
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
    withAndWithoutVae();
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

    diffusion::TextToImageRequest request = tinyRequest(sd);
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

void TestSdPipeline::compvisSingleFileGivesIdenticalImages_data()
{
    withAndWithoutVae();
}

void TestSdPipeline::compvisSingleFileGivesIdenticalImages()
{
    QFETCH(bool, withVae);
    ScratchDir dir;
    writeTinyDiffusersFolder(dir / "folder", withVae);
    const StableDiffusion folder = loadStableDiffusion(dir / "folder", {});
    const torch::Tensor expected = tinyImages(folder);

    // Written with the CompVis names, the VAE's attention projections as 1×1 convolutions.
    folder.saveCompvisSingleFile(dir / "model.safetensors", { { "lethe.note", "test" } });
    auto [tensors, metadata] = readAll(dir / "model.safetensors");
    std::map<std::string, std::vector<std::int64_t>> shapes;
    for (const io::NamedTensor& t : tensors)
        shapes[t.name] = t.tensor.sizes().vec();
    QVERIFY(shapes.count("model.diffusion_model.input_blocks.1.1.proj_in.weight"));
    QVERIFY(shapes.count("model.diffusion_model.output_blocks.2.0.skip_connection.weight"));
    QVERIFY(shapes.count("model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight"));
    QVERIFY(shapes.count("cond_stage_model.transformer.text_model.final_layer_norm.weight"));
    QCOMPARE(shapes.count("first_stage_model.encoder.mid.attn_1.q.weight"), std::size_t { withVae ? 1u : 0u });
    if (withVae)
        QCOMPARE(shapes["first_stage_model.decoder.mid.attn_1.proj_out.weight"],
            (std::vector<std::int64_t> { 64, 64, 1, 1 }));
    for (const io::NamedTensor& t : tensors)
        QVERIFY2(t.name.rfind("model.diffusion_model.", 0) == 0 || t.name.rfind("first_stage_model.", 0) == 0
                || t.name.rfind("cond_stage_model.transformer.", 0) == 0,
            t.name.c_str());
    LETHE_COMPARE_STR(metadata.at("lethe.note"), "test");
    QVERIFY(metadata.count("lethe.unet_config") && metadata.count("lethe.scheduler_config"));

    // Reloaded with the configs from its metadata, the tokenizer from the folder: the same images, bit for bit.
    SdLoadOptions options;
    options.components = dir / "folder";
    const StableDiffusion single = loadStableDiffusion(dir / "model.safetensors", options);
    LETHE_COMPARE_STR(single.sourceKind(), "CompVis single file");
    LETHE_COMPARE_STR(single.configSource(), "file metadata");
    QCOMPARE(single.unetParameters(), folder.unetParameters());
    QCOMPARE(single.vaeParameters(), folder.vaeParameters());
    QVERIFY(torch::equal(tinyImages(single), expected));

    // And back to a diffusers folder, which reproduces them too; an existing folder is never overwritten.
    single.saveDiffusersFolder(dir / "back", R"({"note": "test"})");
    QVERIFY(std::filesystem::is_regular_file(dir / "back" / "tokenizer" / "tokenizer_config.json"));
    QCOMPARE(std::filesystem::exists(dir / "back" / "vae"), withVae);
    LETHE_COMPARE_STR(readBytes(dir / "back" / "lethe-manifest.json"), R"({"note": "test"})");
    QVERIFY(torch::equal(tinyImages(loadStableDiffusion(dir / "back", {})), expected));
    LETHE_COMPARE_STR(errorMessage([&] { single.saveDiffusersFolder(dir / "back"); }),
        (dir / "back").string() + " already exists; choose a new folder for the diffusers export");
    QVERIFY(!std::filesystem::exists(dir / "back.partial"));

    // A file from elsewhere has no Lethe metadata, and takes the configs from the components folder; extra
    // tensors other tools keep (EMA weights, the schedule, position ids) are skipped. The tokenizer folder
    // itself is accepted as the components folder only for the tokenizer.
    tensors.push_back({ "model_ema.decay", torch::tensor(0.9999) });
    tensors.push_back({ "alphas_cumprod", torch::ones({ 1000 }) });
    tensors.push_back({ "cond_stage_model.transformer.text_model.embeddings.position_ids",
        torch::arange(16, torch::kInt64).unsqueeze(0) });
    io::writeSafetensors(dir / "foreign.safetensors", tensors);
    const StableDiffusion foreign = loadStableDiffusion(dir / "foreign.safetensors", options);
    LETHE_COMPARE_STR(foreign.configSource(), "components folder");
    QVERIFY(torch::equal(tinyImages(foreign), expected));
    options.components = dir / "folder" / "tokenizer";
    LETHE_COMPARE_STR(errorMessage([&] { loadStableDiffusion(dir / "foreign.safetensors", options); }),
        (dir / "foreign.safetensors").string() + ": holds " + (withVae ? "1452404" : "793452")
            + " values, but the SD 1.x text encoder config describes a network of at least 122939136 parameters: "
              "the config and the weights do not belong together (refused before allocating) (configs: SD 1.x "
              "defaults; for a model of another size pass its diffusers folder as the components folder)");

    // Half precision in the file: converted at load, so float32 compute gives what the rounded weights give.
    for (io::NamedTensor& t : tensors)
        if (t.tensor.is_floating_point())
            t.tensor = t.tensor.to(torch::kFloat16);
    io::writeSafetensors(dir / "fp16.safetensors", tensors, metadata);
    options.components = dir / "folder";
    const StableDiffusion half = loadStableDiffusion(dir / "fp16.safetensors", options);
    const torch::Tensor halfImages = tinyImages(half);
    QCOMPARE(halfImages.sizes(), expected.sizes());
    QVERIFY((halfImages.to(torch::kInt32) - expected.to(torch::kInt32)).abs().max().item<int>() <= 64);
}

void TestSdPipeline::compvisSingleFileErrors()
{
    ScratchDir dir;
    writeTinyDiffusersFolder(dir / "folder", true);
    loadStableDiffusion(dir / "folder", {}).saveCompvisSingleFile(dir / "model.safetensors");
    auto [tensors, metadata] = readAll(dir / "model.safetensors");
    const std::string file = (dir / "model.safetensors").string();
    SdLoadOptions options;

    // No tokenizer, or a components folder without one.
    LETHE_COMPARE_STR(errorMessage([&] { loadStableDiffusion(file, options); }),
        file
            + ": a CompVis single file carries no tokenizer: pass a components folder (lethe-cli --components DIR), "
              "such as the diffusers folder of the same model family, holding tokenizer/vocab.json and "
              "tokenizer/merges.txt");
    options.components = dir / "folder" / "unet";
    QVERIFY(errorMessage([&] {
        loadStableDiffusion(file, options);
    }).rfind(options.components.string() + ": no tokenizer/vocab.json or vocab.json here; a CompVis", 0)
        == 0);
    options.components = dir / "folder";

    const auto rewrite = [&](const std::function<void(std::vector<io::NamedTensor>&, io::Metadata&)>& change) {
        auto copy = tensors;
        auto meta = metadata;
        change(copy, meta);
        io::writeSafetensors(dir / "changed.safetensors", copy, meta);
        return errorMessage([&] { loadStableDiffusion(dir / "changed.safetensors", options); });
    };
    const std::string changed = (dir / "changed.safetensors").string();
    const auto drop = [](std::vector<io::NamedTensor>& t, const std::string& prefix) {
        t.erase(
            std::remove_if(t.begin(), t.end(), [&](const io::NamedTensor& n) { return n.name.rfind(prefix, 0) == 0; }),
            t.end());
    };

    // A missing UNet tensor and a mis-shaped VAE tensor are named; nothing loads partially.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) { drop(t, "model.diffusion_model.out.2.bias"); }),
        changed + ": tensor 'conv_out.bias': missing from the file (the model expects shape [4])");
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        for (io::NamedTensor& n : t)
            if (n.name == "first_stage_model.quant_conv.bias")
                n.tensor = torch::zeros({ 7 });
    }),
        changed + ": tensor 'quant_conv.bias': expected shape [8], found [7]");
    // A tensor the mapping does not know is reported under its file name.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        t.push_back({ "model.diffusion_model.input_blocks.1.1.lora_up.weight", torch::zeros({ 2 }) });
    }),
        changed
            + ": tensor 'model.diffusion_model.input_blocks.1.1.lora_up.weight': unexpected: the model has no "
              "parameter or buffer of that name");
    // Not Stable Diffusion, SD 2.x, no text encoder, a broken config in the metadata.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) { drop(t, "model.diffusion_model."); }),
        changed
            + ": model.diffusion_model.: no UNet tensors under this prefix: not a CompVis Stable Diffusion "
              "checkpoint (a UNet-only or LoRA file cannot be loaded on its own)");
    // An SD 2.x text encoder (OpenCLIP names) with this SD 1.x model's configs: OpenAI CLIP's quick_gelu.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        drop(t, "cond_stage_model.");
        t.push_back({ "cond_stage_model.model.token_embedding.weight", torch::zeros({ 2 }) });
    }),
        changed
            + " metadata lethe.text_encoder_config: key 'hidden_act': the file's text encoder is OpenCLIP's "
              "(cond_stage_model.model.*, SD 2.x), whose activation is \"gelu\"; found \"quick_gelu\"");
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) { drop(t, "cond_stage_model."); }),
        changed
            + ": cond_stage_model.transformer.: no text encoder tensors under this prefix (SD 1.x) nor under "
              "cond_stage_model.model. (SD 2.x)");
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) { m["lethe.unet_config"] = "{not json"; }),
        changed + ": metadata lethe.unet_config: not a JSON object (a config written by Lethe)");
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) {
        auto config = nlohmann::json::parse(m["lethe.unet_config"]);
        config["layers_per_block"] = { 1, 2 };
        m["lethe.unet_config"] = config.dump();
    }),
        changed
            + " metadata lethe.unet_config: key 'layers_per_block': a CompVis single file needs the same number "
              "of layers in every block, found [1,2]");
}

QTEST_APPLESS_MAIN(TestSdPipeline)
void TestSdPipeline::configsTooLargeForTheirWeightsAreRefused_data()
{
    QTest::addColumn<QString>("component");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("weights");
    QTest::addColumn<QString>("counts");
    // A config that claims far more than its weights hold would otherwise allocate the whole network first
    // (a vocabulary of 10^8 words at 16 wide is 6.4 GB) and only then find the shapes wrong.
    QTest::newRow("text encoder vocabulary")
        << "text_encoder"
        << "vocab_size"
        << "100000000"
        << "model.safetensors"
        << "holds 5168 values, but %1 describes a network of at least 1600003840 parameters";
    QTest::newRow("UNet channels") << "unet"
                                   << "block_out_channels"
                                   << "[32, 100000]"
                                   << "diffusion_pytorch_model.safetensors"
                                   << "holds 787844 values, but %1 describes a network of at least 630067321088 "
                                      "parameters";
    QTest::newRow("UNet cross-attention width")
        << "unet"
        << "cross_attention_dim"
        << "1000000000"
        << "diffusion_pytorch_model.safetensors"
        << "holds 787844 values, but %1 describes a network of at least 320000417024 parameters";
    QTest::newRow("VAE depth") << "vae"
                               << "layers_per_block"
                               << "1000000"
                               << "diffusion_pytorch_model.safetensors"
                               << "holds 658375 values, but %1 describes a network of at least 92160202176 "
                                  "parameters";
}

void TestSdPipeline::configsTooLargeForTheirWeightsAreRefused()
{
    QFETCH(QString, component);
    QFETCH(QString, key);
    QFETCH(QString, value);
    QFETCH(QString, weights);
    QFETCH(QString, counts);
    ScratchDir dir;
    writeTinyDiffusersFolder(dir.path(), true);
    const std::filesystem::path config = dir.path() / component.toStdString() / "config.json";
    nlohmann::json json = io::readJsonObjectFile(config);
    json[key.toStdString()] = nlohmann::json::parse(value.toStdString());
    writeBytes(config, json.dump());
    LETHE_COMPARE_STR(errorMessage([&] { loadStableDiffusion(dir.path(), {}); }),
        (dir.path() / component.toStdString() / weights.toStdString()).string() + ": "
            + counts.arg(QString::fromStdString(config.string())).toStdString()
            + ": the config and the weights do not belong together (refused before allocating)");
}

void TestSdPipeline::parameterBoundsNeverExceedTheNetworks()
{
    // The bounds refuse what cannot fit, so they must never refuse a real network: each stays at or under the
    // network's parameter count, and within a factor of four of it (else it would catch little).
    ScratchDir dir;
    writeTinyDiffusersFolder(dir.path(), true);
    const StableDiffusion sd = loadStableDiffusion(dir.path(), {});
    const auto check = [](double bound, std::int64_t actual, const char* what) {
        qInfo("%s: bound %.0f of %lld parameters", what, bound, static_cast<long long>(actual));
        QVERIFY2(bound <= static_cast<double>(actual) && bound * 4 >= static_cast<double>(actual), what);
    };
    check(minimumParameters(sd.textEncoder()->text_model->options), sd.textEncoderParameters(), "text encoder");
    check(minimumParameters(sd.unet()->options), sd.unetParameters(), "UNet");
    check(minimumParameters(sd.vae()->options), sd.vaeParameters(), "VAE");
    const auto sd1 = stableDiffusion1UNetOptions();
    check(minimumParameters(sd1), 859520964, "SD 1.5 UNet");
}

#include "test_sd_pipeline.moc"
