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
#include "core/unlearn/concept_session.h"
#include "run_fixtures.h"
#include "sd_tensors.h"
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
    void sdxlComponentsHaveTheOfficialParameterCounts();
    void tinyXlFolderGeneratesBitIdentically();
    void xlContextPacksBothEncodersAndThePooledEmbedding();
    void xlFolderRoundTrips();
    void xlFolderErrorsNameTheKey_data();
    void xlFolderErrorsNameTheKey();
    void everyConceptMethodRunsOnXl_data();
    void everyConceptMethodRunsOnXl();
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

void TestSdPipeline::sdxlComponentsHaveTheOfficialParameterCounts()
{
    // stabilityai/stable-diffusion-xl-base-1.0 as diffusers counts it. The UNet and the second text encoder are
    // counted from their shapes (10.3 GB and 2.8 GB to build in float32; test_sd_unet and test_sd_text compare the
    // counting with built networks, and build the second encoder); the VAE is built.
    QCOMPARE(unetParameterCount(stableDiffusionXlUNetOptions()), std::int64_t { 2'567'463'684 });
    QCOMPARE(clipTextParameterCount(clipTextSd1Options()), std::int64_t { 123'060'480 });
    QCOMPARE(clipTextParameterCount(clipTextSdxl2Options(), true), std::int64_t { 694'659'840 });
    // vae/config.json of SDXL base: SD 1.x's network with its own scaling factor (and force_upcast).
    const nlohmann::json vaeConfig = nlohmann::json::parse(R"({
        "_class_name": "AutoencoderKL", "_diffusers_version": "0.20.0.dev0", "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
        "force_upcast": true, "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32,
        "out_channels": 3, "sample_size": 1024, "scaling_factor": 0.13025,
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]})");
    const AutoencoderKLOptions vaeOptions = vaeOptionsFromConfig(vaeConfig, "vae/config.json");
    QCOMPARE(vaeOptions.scaling_factor(), 0.13025);
    QCOMPARE(nn::parameterCount(*buildAutoencoderKL(vaeOptions)), std::int64_t { 83'653'863 });
    // 1,024 px: sample_size 128 at the VAE's 8 pixels per latent.
    QCOMPARE(stableDiffusionXlUNetOptions().sample_size() * 8, std::int64_t { 1024 });
}

void TestSdPipeline::tinyXlFolderGeneratesBitIdentically()
{
    ScratchDir dir;
    writeTinyXlDiffusersFolder(dir.path());
    if (const QString keep = qEnvironmentVariable("LETHE_TINY_SD_DIR"); !keep.isEmpty())
        writeTinyXlDiffusersFolder(std::filesystem::path(keep.toStdString()) / "xl");
    const StableDiffusion sd = loadStableDiffusion(dir.path(), {});
    QVERIFY(sd.isXl());
    QCOMPARE(sd.defaultImageSize(), std::int64_t { 16 });
    QCOMPARE(sd.vae()->scalingFactor(), 0.13025);
    QCOMPARE(
        sd.textEncoderParameters(), nn::parameterCount(*sd.textEncoder()) + nn::parameterCount(*sd.textEncoder2()));
    QCOMPARE(sd.unetParameters(), unetParameterCount(sd.unet()->options));
    QVERIFY(sd.model().zeroEmptyNegativePrompt);

    for (const auto sampler : { diffusion::DdpmSamplerMethod::Ddim, diffusion::DdpmSamplerMethod::Euler }) {
        diffusion::TextToImageRequest request = tinyRequest(sd);
        request.sampler.method = sampler;
        const torch::Tensor images = *diffusion::generate(sd.model(), request);
        QCOMPARE(images.sizes(), (std::vector<std::int64_t> { 2, 3, 16, 16 }));
        // Twice from the seeds, and after a reload one image per batch: bit for bit the same.
        QVERIFY(torch::equal(*diffusion::generate(sd.model(), request), images));
        request.batch = 1;
        QVERIFY(torch::equal(*diffusion::generate(loadStableDiffusion(dir.path(), {}).model(), request), images));
        // The prompt and the negative prompt reach the UNet; so does the pooled embedding alone.
        request.prompts = { "a blue coat" };
        QVERIFY(!torch::equal(*diffusion::generate(sd.model(), request), images));
    }

    // The empty negative prompt is zeros under force_zeros_for_empty_prompt (true here): the same images as a model
    // without it only when the encoded empty prompt is replaced by zeros.
    diffusion::TextToImageRequest request = tinyRequest(sd);
    request.negativePrompt.clear();
    const torch::Tensor zeroed = *diffusion::generate(sd.model(), request);
    std::string index = kXlIndex;
    index.replace(index.find("\"force_zeros_for_empty_prompt\": true"),
        std::string("\"force_zeros_for_empty_prompt\": true").size(), "\"force_zeros_for_empty_prompt\": false");
    writeBytes(dir / "model_index.json", index);
    const StableDiffusion encoded = loadStableDiffusion(dir.path(), {});
    QVERIFY(!encoded.model().zeroEmptyNegativePrompt);
    QVERIFY(!torch::equal(*diffusion::generate(encoded.model(), request), zeroed));
    diffusion::TextToImageModel forced = encoded.model();
    forced.zeroEmptyNegativePrompt = true;
    QVERIFY(torch::equal(*diffusion::generate(forced, request), zeroed));
}

void TestSdPipeline::xlContextPacksBothEncodersAndThePooledEmbedding()
{
    ScratchDir dir;
    writeTinyXlDiffusersFolder(dir.path());
    const StableDiffusion sd = loadStableDiffusion(dir.path(), {});
    torch::NoGradGuard noGrad;
    const torch::Tensor context = sd.model().encodePrompts({ "a red sneaker", "a" });
    QCOMPARE(context.sizes(), (std::vector<std::int64_t> { 2, 17, 32 }));
    // tokenizer_2 pads with "!", tokenizer with <|endoftext|>.
    const torch::Tensor ids = sd.tokenizer().encodeBatch({ "a red sneaker", "a" });
    const ClipTokenizer second(dir / "tokenizer_2");
    const torch::Tensor ids2 = second.encodeBatch({ "a red sneaker", "a" });
    QCOMPARE(ids2[1][15].item<std::int64_t>(), second.tokenId("!"));
    QCOMPARE(ids[1][15].item<std::int64_t>(), std::int64_t { 1 });
    const ClipTextOutput out1 = sd.textEncoder()->forward(ids);
    const ClipTextOutput out2 = sd.textEncoder2()->forward(ids2);
    QVERIFY(torch::equal(context.slice(1, 0, 16).slice(2, 0, 16), out1.penultimate_hidden_state));
    QVERIFY(torch::equal(context.slice(1, 0, 16).slice(2, 16, 32), out2.penultimate_hidden_state));
    QVERIFY(!torch::equal(out1.penultimate_hidden_state, out1.last_hidden_state));
    const torch::Tensor pooled = sd.textEncoder2()->project(out2);
    QVERIFY(torch::equal(context.select(1, 16).slice(1, 0, 12), pooled));
    QVERIFY(torch::equal(context.select(1, 16).slice(1, 12, 32), torch::zeros({ 2, 20 })));

    // The predictor hands the UNet the split context and the time ids of the image size (16 px at 2 per latent).
    const torch::Tensor x = torch::randn({ 2, 4, 8, 8 });
    const torch::Tensor t = torch::tensor({ 10.0, 500.0 });
    const torch::Tensor ids6 = torch::tensor({ 16.0, 16.0, 0.0, 0.0, 16.0, 16.0 }).repeat({ 2, 1 });
    const torch::Tensor expected = sd.unet()->forward(x, t, context.slice(1, 0, 16), { pooled, ids6 });
    QVERIFY(torch::equal(sd.model().predictNoise(x, t, context), expected));
    QVERIFY(torch::equal(conditionedUNetForward(*sd.unet(), x, t, context, 2), expected));
    const torch::Tensor ids32 = torch::tensor({ 32.0, 32.0, 0.0, 0.0, 32.0, 32.0 }).repeat({ 2, 1 });
    QVERIFY(torch::equal(conditionedUNetForward(*sd.unet(), x, t, context, 4),
        sd.unet()->forward(x, t, context.slice(1, 0, 16), { pooled, ids32 })));
    LETHE_COMPARE_STR(errorMessage([&] { conditionedUNetForward(*sd.unet(), x, t, context.slice(2, 0, 8), 2); }),
        "SDXL UNet: expected a packed context [N, L + 1, D] holding a pooled embedding of 12 values, got [2, 17, 8]");
    LETHE_COMPARE_STR(errorMessage([&] {
        packXlContext(torch::zeros({ 1, 3, 8 }), torch::zeros({ 1, 12 }));
    }),
        "SDXL context: expected hidden states [N, L, D] and a pooled embedding [N, P ≤ D], got [1, 3, 8] and [1, 12]");
}

void TestSdPipeline::xlFolderRoundTrips()
{
    ScratchDir dir;
    writeTinyXlDiffusersFolder(dir / "folder");
    const StableDiffusion sd = loadStableDiffusion(dir / "folder", {});
    const torch::Tensor expected = tinyImages(sd);
    sd.saveDiffusersFolder(dir / "back");
    const nlohmann::json index = io::readJsonObjectFile(dir / "back" / "model_index.json");
    LETHE_COMPARE_STR(index.at("_class_name").get<std::string>(), "StableDiffusionXLPipeline");
    QCOMPARE(index.at("force_zeros_for_empty_prompt").get<bool>(), true);
    LETHE_COMPARE_STR(readBytes(dir / "back" / "tokenizer_2" / "special_tokens_map.json"), R"({"pad_token": "!"})");
    LETHE_COMPARE_STR(io::readJsonObjectFile(dir / "back" / "text_encoder_2" / "config.json")
                          .at("architectures")[0]
                          .get<std::string>(),
        "CLIPTextModelWithProjection");
    const StableDiffusion back = loadStableDiffusion(dir / "back", {});
    QVERIFY(back.isXl());
    for (const auto& [a, b] :
        { std::pair<const torch::nn::Module*, const torch::nn::Module*> { sd.unet().get(), back.unet().get() },
            { sd.textEncoder().get(), back.textEncoder().get() },
            { sd.textEncoder2().get(), back.textEncoder2().get() }, { sd.vae().get(), back.vae().get() } }) {
        const auto left = nn::stateDict(*a);
        const auto right = nn::stateDict(*b);
        QCOMPARE(left.size(), right.size());
        for (std::size_t i = 0; i < left.size(); ++i) {
            LETHE_COMPARE_STR(left[i].name, right[i].name);
            QVERIFY2(torch::equal(left[i].tensor, right[i].tensor), left[i].name.c_str());
        }
    }
    QVERIFY(torch::equal(tinyImages(back), expected));
    // A model whose UNet is swapped keeps its SDXL parts.
    QVERIFY(torch::equal(tinyImages(sd.withUNet(sd.unet())), expected));
    // And through SDXL's single file (its layout and refusals: test_sdxl_file).
    sd.saveCompvisSingleFile(dir / "xl.safetensors");
    SdLoadOptions options;
    options.components = dir / "folder";
    QVERIFY(torch::equal(tinyImages(loadStableDiffusion(dir / "xl.safetensors", options)), expected));
}

void TestSdPipeline::xlFolderErrorsNameTheKey_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("patch");
    QTest::addColumn<QString>("message");
    QTest::newRow("no tokenizer_2") << "model_index.json"
                                    << R"({"tokenizer_2": null})"
                                    << "model_index.json: key 'tokenizer_2': missing: an SDXL pipeline lists "
                                       "text_encoder_2 and tokenizer_2 together";
    QTest::newRow("text encoder 2 class")
        << "model_index.json"
        << R"({"text_encoder_2": ["transformers", "CLIPTextModel"]})"
        << "model_index.json: key 'text_encoder_2': class CLIPTextModel is not supported (expected "
           "CLIPTextModelWithProjection)";
    QTest::newRow("force zeros type")
        << "model_index.json"
        << R"({"force_zeros_for_empty_prompt": "yes"})"
        << "model_index.json: key 'force_zeros_for_empty_prompt': expected true or false, "
           "found \"yes\"";
    QTest::newRow("no text encoder 2")
        << "model_index.json"
        << R"({"text_encoder_2": null, "tokenizer_2": null})"
        << "unet/config.json: key 'addition_embed_type': \"text_time\" (SDXL) needs text_encoder_2 and tokenizer_2, "
           "which model_index.json does not list";
    QTest::newRow("UNet without text_time")
        << "unet/config.json"
        << R"({"addition_embed_type": null, "addition_time_embed_dim": null, "projection_class_embeddings_input_dim": null})"
        << "unet/config.json: key 'addition_embed_type': model_index.json lists text_encoder_2 (SDXL), but this UNet "
           "has no \"text_time\" added embedding for its pooled output";
    QTest::newRow("cross-attention width")
        << "unet/config.json"
        << R"({"cross_attention_dim": 16})"
        << "unet/config.json: key 'cross_attention_dim': expected 32, the two text encoders' hidden sizes together, "
           "found 16";
    QTest::newRow("added embedding width")
        << "unet/config.json"
        << R"({"addition_time_embed_dim": 2, "projection_class_embeddings_input_dim": 36})"
        << "unet/config.json: key 'projection_class_embeddings_input_dim': expected 24 (text_encoder_2's "
           "projection_dim + 6 time ids × addition_time_embed_dim), found 36";
    QTest::newRow("addition type")
        << "unet/config.json"
        << R"({"addition_embed_type": "image"})"
        << "unet/config.json: key 'addition_embed_type': not supported: expected null or \"text_time\", found "
           "\"image\"";
    QTest::newRow("tokenizer length") << "tokenizer_2/tokenizer_config.json"
                                      << R"({"model_max_length": 12})"
                                      << "tokenizer_2: model_max_length: expected 16 as in tokenizer/, found 12";
}

void TestSdPipeline::xlFolderErrorsNameTheKey()
{
    QFETCH(QString, file);
    QFETCH(QString, patch);
    QFETCH(QString, message);
    ScratchDir dir;
    writeTinyXlDiffusersFolder(dir.path());
    const std::filesystem::path path = dir.path() / file.toStdString();
    nlohmann::json json = io::readJsonObjectFile(path);
    json.merge_patch(nlohmann::json::parse(patch.toStdString()));
    writeBytes(path, json.dump());
    LETHE_COMPARE_STR(
        errorMessage([&] { loadStableDiffusion(dir.path(), {}); }), (dir / "").string() + message.toStdString());
}

void TestSdPipeline::everyConceptMethodRunsOnXl_data()
{
    test::addEveryConceptMethodRow();
}

void TestSdPipeline::everyConceptMethodRunsOnXl()
{
    // SDXL: each prompt's loss conditions on its pooled embedding and the time ids of the images' size (8 px).
    QFETCH(QString, method);
    QFETCH(QString, parameters);
    QFETCH(int, esdSamplingSteps);
    ScratchDir dir;
    writeTinyXlDiffusersFolder(dir.path());
    const StableDiffusion sd = loadStableDiffusion(dir.path(), {});
    unlearn::ConceptConfig config = tinyConceptConfig(*unlearn::conceptMethodFromName(method.toStdString()));
    const auto group = unlearn::parameterGroupFromName(parameters.toStdString());
    QVERIFY(group.has_value());
    config.parameters = *group;
    config.steps = 2;
    config.esdSamplingSteps = esdSamplingSteps;
    config.forgetConcept = "forget";
    const auto pixels = [](std::uint64_t seed, int n) {
        at::Generator generator = diffusion::cpuGenerator(seed);
        return torch::randint(0, 256, { n, 3, 8, 8 }, generator, torch::kUInt8);
    };
    const auto forget = unlearn::conceptPairsOf(sd, { "forget a", "forget b", "forget c" }, pixels(1, 3));
    const auto remain = unlearn::conceptPairsOf(sd, { "remain a", "remain b", "remain c" }, pixels(2, 3));
    const auto base = parametersOf(sd.unet());
    unlearn::ConceptSession session(sd, forget, remain, config);
    std::vector<unlearn::StepReport> reports;
    struct Hook : unlearn::RunObserver {
        std::vector<unlearn::StepReport>* reports;
        void onStep(const unlearn::StepReport& r) override { reports->push_back(r); }
    } hook;
    hook.reports = &reports;
    unlearn::RunControl control;
    const unlearn::RunResult result = session.run(hook, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    QCOMPARE(reports.size(), std::size_t { method == QStringLiteral("uce") ? 1u : 2u });
    for (const unlearn::StepReport& r : reports) {
        QVERIFY(std::isfinite(r.forgetLoss) && r.forgetLoss > 0);
        QVERIFY(std::isfinite(r.remainLoss) && r.remainLoss > 0);
    }
    bool changed = false;
    for (const auto& [name, tensor] : parametersOf(session.model().unet()))
        changed = changed || !torch::equal(tensor, base.at(name));
    QVERIFY(changed);
    for (const auto& [name, tensor] : parametersOf(sd.unet()))
        QVERIFY(torch::equal(tensor, base.at(name))); // The base model is never changed.
    // The unlearned model is still SDXL and draws.
    QVERIFY(session.model().isXl());
    QCOMPARE(tinyImages(session.model()).sizes(), (std::vector<std::int64_t> { 2, 3, 16, 16 }));
}

#include "test_sd_pipeline.moc"
