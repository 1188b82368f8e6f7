// Stable Diffusion 2.x: the OpenCLIP text encoder in transformers' layout (SD 2.1's config, the exact GELU), CompVis
// single files with the OpenCLIP names (q, k, v stacked in in_proj, the dropped 24th resblock, text_projection and
// logit_scale skipped) both ways and their refusals, and a tiny random SD 2.x (v-prediction, linear projections,
// per-level heads, upcast attention) that loads in both layouts, generates bit-identically, converts losslessly
// and goes through every concept method; SD 2.1's parameter counts from its configs.
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/models/parameter_bounds.h"
#include "core/models/sd/compvis_keys.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/nn/state_dict.h"
#include "core/unlearn/concept_session.h"
#include "run_fixtures.h"
#include "sd_tensors.h"
#include "test_support.h"
#include "tiny_sd2.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QtTest>

#include <functional>
#include <map>

using namespace lethe;
using namespace lethe::models::sd;
using lethe::test::errorMessage;
using lethe::test::firstDifference;
using lethe::test::rewriteFile;
using lethe::test::ScratchDir;
using lethe::test::tensorsOf;
using lethe::test::tinyRequest;
using lethe::unlearn::ConceptConfig;
using lethe::unlearn::ConceptMethod;
using lethe::unlearn::ConceptSession;

namespace {

/// text_encoder/config.json of stabilityai/stable-diffusion-2-1.
const char* const kSd21TextEncoderConfig = R"({
  "_name_or_path": "hf-models/stable-diffusion-v2-768x768/text_encoder",
  "architectures": ["CLIPTextModel"],
  "attention_dropout": 0.0,
  "bos_token_id": 0,
  "dropout": 0.0,
  "eos_token_id": 2,
  "hidden_act": "gelu",
  "hidden_size": 1024,
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "intermediate_size": 4096,
  "layer_norm_eps": 1e-05,
  "max_position_embeddings": 77,
  "model_type": "clip_text_model",
  "num_attention_heads": 16,
  "num_hidden_layers": 23,
  "pad_token_id": 1,
  "projection_dim": 512,
  "torch_dtype": "float32",
  "transformers_version": "4.25.0.dev0",
  "vocab_size": 49408
})";

/// unet/config.json of stabilityai/stable-diffusion-2-1.
const char* const kSd21UNetConfig = R"({
  "_class_name": "UNet2DConditionModel",
  "_diffusers_version": "0.10.0.dev0",
  "act_fn": "silu",
  "attention_head_dim": [5, 10, 20, 20],
  "block_out_channels": [320, 640, 1280, 1280],
  "center_input_sample": false,
  "cross_attention_dim": 1024,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1,
  "dual_cross_attention": false,
  "flip_sin_to_cos": true,
  "freq_shift": 0,
  "in_channels": 4,
  "layers_per_block": 2,
  "mid_block_scale_factor": 1,
  "norm_eps": 1e-05,
  "norm_num_groups": 32,
  "num_class_embeds": null,
  "only_cross_attention": false,
  "out_channels": 4,
  "sample_size": 96,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
  "upcast_attention": true,
  "use_linear_projection": true
})";

/// vae/config.json of stabilityai/stable-diffusion-2-1.
const char* const kSd21VaeConfig = R"({
  "_class_name": "AutoencoderKL",
  "_diffusers_version": "0.8.0",
  "act_fn": "silu",
  "block_out_channels": [128, 256, 512, 512],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  "in_channels": 3,
  "latent_channels": 4,
  "layers_per_block": 2,
  "norm_num_groups": 32,
  "out_channels": 3,
  "sample_size": 768,
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
})";

void drop(std::vector<io::NamedTensor>& tensors, const std::string& prefix)
{
    tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                      [&](const io::NamedTensor& t) { return t.name.compare(0, prefix.size(), prefix) == 0; }),
        tensors.end());
}

} // namespace

class TestSd2 : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void sd21TextEncoderConfigIsOpenClipViTH();
    void sd21ComponentsHaveTheOfficialParameterCounts();
    void gelu_data();
    void gelu();
    void folderLoadsAsSd2();
    void singleFileHasOpenClipNamesAndRoundTrips();
    void realSd2FileLoadsWithTheDroppedLayer();
    void badSd2SingleFilesAreRefused();
    void unimplementedSd2VariantsNameTheKey_data();
    void unimplementedSd2VariantsNameTheKey();
    void generateIsBitIdenticalFromASeed();
    void everyConceptMethodRuns_data();
    void everyConceptMethodRuns();

private:
    ScratchDir m_dir;
    std::filesystem::path m_folder;
    std::filesystem::path m_single;
    std::optional<StableDiffusion> m_sd;
};

void TestSd2::initTestCase()
{
    torch::set_num_threads(1);
    m_folder = m_dir / "sd2";
    test::writeTinySd2DiffusersFolder(m_folder);
    if (const QString keep = qEnvironmentVariable("LETHE_TINY_SD_DIR"); !keep.isEmpty()) // For trying lethe-cli on it.
        test::writeTinySd2DiffusersFolder(std::filesystem::path(keep.toStdString()) / "sd2");
    m_sd.emplace(loadStableDiffusion(m_folder, {}));
    m_single = m_dir / "sd2.safetensors";
    m_sd->saveCompvisSingleFile(m_single);
}

void TestSd2::sd21TextEncoderConfigIsOpenClipViTH()
{
    const ClipTextOptions o = clipTextOptionsFromJson(nlohmann::json::parse(kSd21TextEncoderConfig), "config.json");
    QCOMPARE(o.hidden_size(), std::int64_t { 1024 });
    QCOMPARE(o.num_attention_heads(), std::int64_t { 16 });
    QCOMPARE(o.intermediate_size(), std::int64_t { 4096 });
    QCOMPARE(o.num_hidden_layers(), std::int64_t { 23 });
    QVERIFY(o.hidden_act() == ClipActivation::Gelu);
    QCOMPARE(o.max_position_embeddings(), std::int64_t { 77 });
    QCOMPARE(o.vocab_size(), std::int64_t { 49408 });
    QCOMPARE(o.pad_token_id(), std::int64_t { 1 });
    QCOMPARE(o.eos_token_id(), std::int64_t { 2 });
    // Written back, the keys that shape the network are the file's.
    const nlohmann::json back = toJson(o);
    for (const char* key : { "hidden_size", "num_attention_heads", "intermediate_size", "num_hidden_layers",
             "hidden_act", "vocab_size", "max_position_embeddings", "layer_norm_eps" })
        QVERIFY2(back.at(key) == nlohmann::json::parse(kSd21TextEncoderConfig).at(key), key);
}

void TestSd2::sd21ComponentsHaveTheOfficialParameterCounts()
{
    // stabilityai/stable-diffusion-2-1's configs as diffusers counts them: the UNet and the text encoder from
    // their shapes (3.5 GB and 1.4 GB to build in float32; test_sd_unet and test_sd_text compare the counting with
    // built networks), the VAE built. The tiny SD 2.x's counts match its built networks (linear projections, per-level
    // heads).
    const UNet2DConditionOptions unet
        = unetOptionsFromConfig(nlohmann::json::parse(kSd21UNetConfig), "unet/config.json");
    QVERIFY(unet.use_linear_projection() && unet.upcast_attention());
    QCOMPARE(unet.attention_head_dim(), (std::vector<std::int64_t> { 5, 10, 20, 20 }));
    QCOMPARE(unet.cross_attention_dim(), std::int64_t { 1024 });
    QCOMPARE(unetParameterCount(unet), std::int64_t { 865'910'724 });
    // 768 px: sample_size 96 at the VAE's 8 pixels per latent.
    QCOMPARE(unet.sample_size() * 8, std::int64_t { 768 });
    const ClipTextOptions text = clipTextOptionsFromJson(nlohmann::json::parse(kSd21TextEncoderConfig), "config.json");
    QCOMPARE(clipTextParameterCount(text), std::int64_t { 340'387'840 });
    const AutoencoderKLOptions vae = vaeOptionsFromConfig(nlohmann::json::parse(kSd21VaeConfig), "vae/config.json");
    QCOMPARE(nn::parameterCount(*buildAutoencoderKL(vae)), std::int64_t { 83'653'863 });
    QCOMPARE(unetParameterCount(m_sd->unet()->options), nn::parameterCount(*m_sd->unet()));
    QCOMPARE(
        clipTextParameterCount(m_sd->textEncoder()->text_model->options), nn::parameterCount(*m_sd->textEncoder()));
    // Each bound the loaders check before allocating stays at or under the count.
    QVERIFY(minimumParameters(unet) <= 865'910'724.0);
    QVERIFY(minimumParameters(text) <= 340'387'840.0);
    QVERIFY(minimumParameters(vae) <= 83'653'863.0);
}

void TestSd2::gelu_data()
{
    QTest::addColumn<QString>("act");
    QTest::newRow("gelu (SD 2.x)") << "gelu";
    QTest::newRow("quick_gelu (SD 1.x)") << "quick_gelu";
}

void TestSd2::gelu()
{
    // The MLP computes fc2(act(fc1(x))) with the exact GELU for "gelu" (OpenCLIP's nn.GELU) and x·σ(1.702x) for
    // "quick_gelu" (OpenAI CLIP's).
    QFETCH(QString, act);
    nlohmann::json config = nlohmann::json::parse(toJson(test::tinySd2TextOptions()).dump());
    config["hidden_act"] = act.toStdString();
    const ClipTextOptions options = clipTextOptionsFromJson(config, "config.json");
    torch::manual_seed(5);
    ClipTextModel text(options);
    auto* layer = text->text_model->encoder->layers[0]->as<ClipEncoderLayer>();
    const torch::Tensor x = torch::randn({ 2, 3, 16 });
    const torch::Tensor h = layer->mlp->fc1(x);
    const torch::Tensor activated = act == QStringLiteral("gelu") ? 0.5 * h * (1 + torch::erf(h / std::sqrt(2.0)))
                                                                  : h * torch::sigmoid(1.702 * h);
    QVERIFY(torch::allclose(layer->mlp->forward(x), layer->mlp->fc2(activated), 1e-6, 1e-6));
}

void TestSd2::folderLoadsAsSd2()
{
    const StableDiffusion& sd = *m_sd;
    QVERIFY(sd.schedule().prediction == diffusion::PredictionType::VPrediction);
    QVERIFY(sd.unet()->options.use_linear_projection());
    QVERIFY(sd.unet()->options.upcast_attention());
    QCOMPARE(sd.unet()->options.attention_head_dim(), (std::vector<std::int64_t> { 2, 4, 4 }));
    QVERIFY(sd.textEncoder()->text_model->options.hidden_act() == ClipActivation::Gelu);
    QVERIFY(!sd.isXl());
    QCOMPARE(sd.defaultImageSize(), std::int64_t { 16 });
    // Linear projections: proj_in is a [C, C] matrix, not a 1×1 convolution.
    QCOMPARE(tensorsOf(sd).at("unet.down_blocks.0.attentions.0.proj_in.weight").sizes().vec(),
        (std::vector<std::int64_t> { 32, 32 }));
}

void TestSd2::singleFileHasOpenClipNamesAndRoundTrips()
{
    const io::SafetensorsFile file(m_single);
    // The text encoder in OpenCLIP's names, q, k and v stacked; the UNet's linear proj_in stays 2-D.
    const std::string text = kCompvisOpenClipPrefix;
    QCOMPARE(
        file.entry(text + "transformer.resblocks.0.attn.in_proj_weight").shape, (std::vector<std::int64_t> { 48, 16 }));
    QCOMPARE(file.entry(text + "transformer.resblocks.2.attn.in_proj_bias").shape, (std::vector<std::int64_t> { 48 }));
    QCOMPARE(file.entry(text + "positional_embedding").shape, (std::vector<std::int64_t> { 16, 16 }));
    for (const char* name : { "token_embedding.weight", "ln_final.weight", "transformer.resblocks.1.ln_1.bias",
             "transformer.resblocks.1.ln_2.weight", "transformer.resblocks.1.attn.out_proj.weight",
             "transformer.resblocks.1.mlp.c_fc.weight", "transformer.resblocks.1.mlp.c_proj.bias" })
        QVERIFY2(file.contains(text + name), name);
    QCOMPARE(file.entry("model.diffusion_model.input_blocks.1.1.proj_in.weight").shape,
        (std::vector<std::int64_t> { 32, 32 }));
    for (const io::TensorEntry& entry : file.entries())
        QVERIFY2(entry.name.rfind("cond_stage_model.transformer.", 0) != 0, entry.name.c_str());
    const torch::Tensor inProj = file.tensor(text + "transformer.resblocks.1.attn.in_proj_weight");
    const auto& attention = m_sd->textEncoder()->text_model->encoder->layers[1]->as<ClipEncoderLayer>()->self_attn;
    QVERIFY(torch::equal(inProj.slice(0, 0, 16), attention->q_proj->weight));
    QVERIFY(torch::equal(inProj.slice(0, 16, 32), attention->k_proj->weight));
    QVERIFY(torch::equal(inProj.slice(0, 32, 48), attention->v_proj->weight));

    // Folder → single file → folder, every tensor equal at each stage.
    SdLoadOptions options;
    options.components = m_folder / "tokenizer";
    const StableDiffusion single = loadStableDiffusion(m_single, options);
    LETHE_COMPARE_STR(single.configSource(), "file metadata");
    QVERIFY(single.schedule().prediction == diffusion::PredictionType::VPrediction);
    LETHE_COMPARE_STR(firstDifference(*m_sd, single), "");
    single.saveDiffusersFolder(m_dir / "back");
    const StableDiffusion back = loadStableDiffusion(m_dir / "back", {});
    LETHE_COMPARE_STR(firstDifference(*m_sd, back), "");
    QVERIFY(back.schedule().prediction == diffusion::PredictionType::VPrediction);
    QVERIFY(back.unet()->options.use_linear_projection() && back.unet()->options.upcast_attention());
    // And the file written again from the reloaded model is the same file.
    single.saveCompvisSingleFile(m_dir / "again.safetensors");
    const io::SafetensorsFile again(m_dir / "again.safetensors");
    QCOMPARE(again.entries().size(), file.entries().size());
    for (const io::TensorEntry& entry : file.entries())
        QVERIFY2(torch::equal(again.tensor(entry.name), file.tensor(entry.name)), entry.name.c_str());
}

void TestSd2::realSd2FileLoadsWithTheDroppedLayer()
{
    // A file as Stability's SD 2.x checkpoints are: one resblock more than the diffusers config's layers (the last,
    // which the export drops), text_projection and logit_scale; no Lethe metadata, so the configs come from the
    // components folder.
    const std::filesystem::path real = m_dir / "real.safetensors";
    std::vector<io::NamedTensor> extras;
    rewriteFile(m_single, real, [&](std::vector<io::NamedTensor>& tensors, io::Metadata& metadata) {
        metadata.clear();
        const std::string dropped = std::string(kCompvisOpenClipPrefix) + "transformer.resblocks.3.";
        for (const auto& [name, shape] :
            std::vector<std::pair<std::string, std::vector<std::int64_t>>> { { "ln_1.weight", { 16 } },
                { "ln_1.bias", { 16 } }, { "attn.in_proj_weight", { 48, 16 } }, { "attn.in_proj_bias", { 48 } },
                { "attn.out_proj.weight", { 16, 16 } }, { "attn.out_proj.bias", { 16 } }, { "ln_2.weight", { 16 } },
                { "ln_2.bias", { 16 } }, { "mlp.c_fc.weight", { 24, 16 } }, { "mlp.c_fc.bias", { 24 } },
                { "mlp.c_proj.weight", { 16, 24 } }, { "mlp.c_proj.bias", { 16 } } })
            tensors.push_back({ dropped + name, torch::randn(shape) });
        tensors.push_back({ std::string(kCompvisOpenClipPrefix) + "text_projection", torch::randn({ 16, 8 }) });
        tensors.push_back({ std::string(kCompvisOpenClipPrefix) + "logit_scale", torch::tensor(4.6052f) });
        for (const io::NamedTensor& t : tensors)
            if (t.name.rfind(dropped, 0) == 0 || t.name == std::string(kCompvisOpenClipPrefix) + "text_projection"
                || t.name == std::string(kCompvisOpenClipPrefix) + "logit_scale")
                extras.push_back(t);
    });
    SdLoadOptions options;
    options.components = m_folder;
    const StableDiffusion sd = loadStableDiffusion(real, options);
    LETHE_COMPARE_STR(sd.configSource(), "components folder");
    LETHE_COMPARE_STR(firstDifference(*m_sd, sd), "");
    QCOMPARE(sd.textEncoder()->text_model->options.num_hidden_layers(), std::int64_t { 3 });
    // The same images as from the folder.
    QVERIFY(torch::equal(
        *diffusion::generate(sd.model(), tinyRequest(sd)), *diffusion::generate(m_sd->model(), tinyRequest(*m_sd))));
    // Written back, the file is whole again: every tensor it had, the skipped ones with their values, also through
    // a model with another UNet (an unlearning run's).
    sd.withUNet(sd.unet()).saveCompvisSingleFile(m_dir / "real-again.safetensors");
    const io::SafetensorsFile original(real);
    const io::SafetensorsFile again(m_dir / "real-again.safetensors");
    QCOMPARE(again.entries().size(), original.entries().size());
    QCOMPARE(extras.size(), std::size_t { 14 });
    for (const io::TensorEntry& entry : original.entries())
        QVERIFY2(torch::equal(again.tensor(entry.name), original.tensor(entry.name)), entry.name.c_str());
    // A diffusers folder has no place for them.
    sd.saveDiffusersFolder(m_dir / "real-folder");
    LETHE_COMPARE_STR(firstDifference(*m_sd, loadStableDiffusion(m_dir / "real-folder", {})), "");
}

void TestSd2::badSd2SingleFilesAreRefused()
{
    const std::filesystem::path changed = m_dir / "changed.safetensors";
    const std::string name = changed.string();
    const std::string prefix = kCompvisOpenClipPrefix;
    SdLoadOptions options;
    options.components = m_folder;
    const auto rewrite = [&](const std::function<void(std::vector<io::NamedTensor>&, io::Metadata&)>& edit) {
        rewriteFile(m_single, changed, edit);
        return errorMessage([&] { loadStableDiffusion(changed, options); });
    };
    const auto replace = [](std::vector<io::NamedTensor>& tensors, const std::string& which, torch::Tensor value) {
        for (io::NamedTensor& t : tensors)
            if (t.name == which)
                t.tensor = std::move(value);
    };

    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) { drop(t, prefix + "transformer.resblocks.1.attn.in_proj_weight"); }),
        name + ": tensor '" + prefix
            + "transformer.resblocks.1.attn.in_proj_weight': missing from the file (the OpenCLIP text encoder of a "
              "3-layer text_encoder config needs it)");
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        replace(t, prefix + "transformer.resblocks.0.attn.in_proj_weight", torch::zeros({ 32, 16 }));
    }),
        name + ": tensor '" + prefix
            + "transformer.resblocks.0.attn.in_proj_weight': expected shape [48, 16], found [32, 16] (q, k and v "
              "stacked)");
    LETHE_COMPARE_STR(
        rewrite([&](auto& t, auto&) { replace(t, prefix + "ln_final.bias", torch::zeros({ 16 }, torch::kInt64)); }),
        name + ": tensor '" + prefix + "ln_final.bias': expected a floating-point tensor");
    // Only the resblock right after the config's last layer is the dropped one; any further one is not.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        t.push_back({ prefix + "transformer.resblocks.4.ln_1.weight", torch::zeros({ 16 }) });
    }),
        name + ": tensor '" + prefix
            + "transformer.resblocks.4.ln_1.weight': unexpected: an OpenCLIP text encoder of 3 layers (plus the one "
              "the diffusers export drops) has no tensor of that name");
    // A config that says OpenAI CLIP's activation for OpenCLIP's tensors.
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) {
        auto config = nlohmann::json::parse(m["lethe.text_encoder_config"]);
        config["hidden_act"] = "quick_gelu";
        m["lethe.text_encoder_config"] = config.dump();
    }),
        name
            + " metadata lethe.text_encoder_config: key 'hidden_act': the file's text encoder is OpenCLIP's "
              "(cond_stage_model.model.*, SD 2.x), whose activation is \"gelu\"; found \"quick_gelu\"");
    // Without configs an SD 2.x file is not guessed at: ε or v, 512 or 768 px.
    options.components = m_folder / "tokenizer";
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) { m.clear(); }),
        name
            + ": text_encoder config: an SD 2.x single file (OpenCLIP text encoder under cond_stage_model.model.) "
              "has no default configs: pass its diffusers folder as the components folder (lethe-cli --components "
              "DIR), holding text_encoder/config.json");
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) { m.erase("lethe.scheduler_config"); }),
        name
            + ": scheduler config: an SD 2.x single file (OpenCLIP text encoder under cond_stage_model.model.) has "
              "no default configs: pass its diffusers folder as the components folder (lethe-cli --components "
              "DIR), holding scheduler/scheduler_config.json");
}

void TestSd2::unimplementedSd2VariantsNameTheKey_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("message");
    // stabilityai/stable-diffusion-2-inpainting, -2-depth, -x4-upscaler, and a scheduler predicting x₀.
    QTest::newRow("inpainting") << "unet/config.json"
                                << "in_channels"
                                << "9"
                                << "key 'in_channels': expected 4 (the VAE's latent_channels), found 9: a UNet that "
                                   "takes more than the latents (SD 2.x depth: 5, inpainting: 9) needs a depth map or "
                                   "mask, which Lethe does not make";
    QTest::newRow("depth") << "unet/config.json"
                           << "in_channels"
                           << "5"
                           << "key 'in_channels': expected 4 (the VAE's latent_channels), found 5: a UNet that takes "
                              "more than the latents (SD 2.x depth: 5, inpainting: 9) needs a depth map or mask, "
                              "which Lethe does not make";
    QTest::newRow("x4 upscaler") << "unet/config.json"
                                 << "num_class_embeds"
                                 << "1000"
                                 << "key 'num_class_embeds': not supported: expected null, found 1000";
    QTest::newRow("sample prediction")
        << "scheduler/scheduler_config.json"
        << "prediction_type"
        << R"("sample")"
        << R"(key 'prediction_type': expected "epsilon" or "v_prediction", found "sample")";
}

void TestSd2::unimplementedSd2VariantsNameTheKey()
{
    QFETCH(QString, file);
    QFETCH(QString, key);
    QFETCH(QString, value);
    QFETCH(QString, message);
    const std::filesystem::path folder = m_dir / "variant";
    std::filesystem::remove_all(folder);
    std::filesystem::copy(m_folder, folder, std::filesystem::copy_options::recursive);
    const std::filesystem::path config = folder / file.toStdString();
    nlohmann::json json = nlohmann::json::parse(test::readBytes(config));
    json[key.toStdString()] = nlohmann::json::parse(value.toStdString());
    test::writeBytes(config, json.dump());
    LETHE_COMPARE_STR(
        errorMessage([&] { loadStableDiffusion(folder, {}); }), config.string() + ": " + message.toStdString());
}

void TestSd2::generateIsBitIdenticalFromASeed()
{
    const torch::Tensor first = *diffusion::generate(m_sd->model(), tinyRequest(*m_sd));
    const torch::Tensor second = *diffusion::generate(m_sd->model(), tinyRequest(*m_sd));
    QCOMPARE(first.sizes().vec(), (std::vector<std::int64_t> { 2, 3, 16, 16 }));
    QVERIFY(torch::equal(first, second));
    QVERIFY(!torch::equal(first[0], first[1])); // Two seeds, two images.
    // The model loaded from its single file draws the same bits, and so does a fresh load of the folder.
    SdLoadOptions options;
    options.components = m_folder;
    const StableDiffusion single = loadStableDiffusion(m_single, options);
    QVERIFY(torch::equal(*diffusion::generate(single.model(), tinyRequest(single)), first));
    const StableDiffusion again = loadStableDiffusion(m_folder, {});
    QVERIFY(torch::equal(*diffusion::generate(again.model(), tinyRequest(again)), first));
}

void TestSd2::everyConceptMethodRuns_data()
{
    test::addEveryConceptMethodRow();
}

void TestSd2::everyConceptMethodRuns()
{
    QFETCH(QString, method);
    QFETCH(QString, parameters);
    QFETCH(int, esdSamplingSteps);
    ConceptConfig config = test::tinyConceptConfig(*unlearn::conceptMethodFromName(method.toStdString()));
    const auto group = unlearn::parameterGroupFromName(parameters.toStdString());
    QVERIFY(group.has_value());
    config.parameters = *group;
    config.steps = 2;
    config.esdSamplingSteps = esdSamplingSteps;
    config.forgetConcept = "forget";
    // 8 px images → 4 × 4 latents with their posterior, drawn from (latents "sample").
    const auto pixels = [](std::uint64_t seed, int n) {
        at::Generator generator = diffusion::cpuGenerator(seed);
        return torch::randint(0, 256, { n, 3, 8, 8 }, generator, torch::kUInt8);
    };
    const auto forget = unlearn::conceptPairsOf(*m_sd, { "forget a", "forget b", "forget c" }, pixels(1, 3));
    const auto remain = unlearn::conceptPairsOf(*m_sd, { "remain a", "remain b", "remain c" }, pixels(2, 3));
    const auto base = test::parametersOf(m_sd->unet());
    ConceptSession session(*m_sd, forget, remain, config);
    std::vector<unlearn::StepReport> reports;
    struct Hook : unlearn::RunObserver {
        std::vector<unlearn::StepReport>* reports;
        void onStep(const unlearn::StepReport& r) override { reports->push_back(r); }
    } hook;
    hook.reports = &reports;
    unlearn::RunControl control;
    const unlearn::RunResult result = session.run(hook, control);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    const std::size_t steps = method == QStringLiteral("uce") ? 1 : 2;
    QCOMPARE(reports.size(), steps);
    for (const unlearn::StepReport& r : reports) {
        QVERIFY(std::isfinite(r.forgetLoss) && r.forgetLoss > 0);
        QVERIFY(std::isfinite(r.remainLoss) && r.remainLoss > 0);
    }
    const auto after = test::parametersOf(session.model().unet());
    bool changed = false;
    for (const auto& [name, tensor] : after)
        changed = changed || !torch::equal(tensor, base.at(name));
    QVERIFY(changed);
    for (const auto& [name, tensor] : test::parametersOf(m_sd->unet()))
        QVERIFY(torch::equal(tensor, base.at(name))); // The base model is never changed.
}

QTEST_APPLESS_MAIN(TestSd2)
#include "test_sd2.moc"
