// SDXL single files in Stability's generative-models layout: text_encoder under conditioner.embedders.0.transformer.
// (transformers' names), text_encoder_2 under conditioner.embedders.1.model. (OpenCLIP's, text_projection as the
// [width, projection_dim] matrix), the UNet's add_embedding as label_emb.0.*; a tiny random SDXL converts folder →
// single file → folder losslessly, generates from the file as from the folder, loads a Stability-style file without
// Lethe's metadata (position_ids, logit_scale) and writes it back whole; bad files are refused with exact messages.
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/models/sd/compvis_keys.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/nn/state_dict.h"
#include "sd_tensors.h"
#include "test_support.h"
#include "tiny_sd.h"

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

namespace {

/// Two images from fixed seeds, with guidance and an empty negative prompt (zeroed, force_zeros_for_empty_prompt),
/// three DDIM steps, at the model's size.
torch::Tensor tinyImages(const StableDiffusion& sd)
{
    return *diffusion::generate(sd.model(), lethe::test::tinyRequest(sd, ""));
}

void drop(std::vector<io::NamedTensor>& tensors, const std::string& name)
{
    tensors.erase(
        std::remove_if(tensors.begin(), tensors.end(), [&](const io::NamedTensor& t) { return t.name == name; }),
        tensors.end());
}

void replace(std::vector<io::NamedTensor>& tensors, const std::string& name, torch::Tensor value)
{
    for (io::NamedTensor& t : tensors)
        if (t.name == name)
            t.tensor = std::move(value);
}

} // namespace

class TestSdxlFile : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void singleFileHasSgmNamesAndRoundTrips();
    void stabilityFileLoadsAndIsWrittenBackWhole();
    void badXlSingleFilesAreRefused();

private:
    ScratchDir m_dir;
    std::filesystem::path m_folder;
    std::filesystem::path m_single;
    std::optional<StableDiffusion> m_sd;
    torch::Tensor m_images;
};

void TestSdxlFile::initTestCase()
{
    m_folder = m_dir / "folder";
    lethe::test::writeTinyXlDiffusersFolder(m_folder);
    m_sd = loadStableDiffusion(m_folder, {});
    QVERIFY(m_sd->isXl());
    m_images = tinyImages(*m_sd);
    m_single = m_dir / "xl.safetensors";
    m_sd->saveCompvisSingleFile(m_single, { { "lethe.note", "test" } });
}

void TestSdxlFile::singleFileHasSgmNamesAndRoundTrips()
{
    const io::SafetensorsFile file(m_single);
    const std::string text2 = kSgmOpenClipPrefix;
    // text_encoder_2 in OpenCLIP's names: q, k and v stacked, text_projection as x @ text_projection.
    QCOMPARE(file.entry(text2 + "transformer.resblocks.2.attn.in_proj_weight").shape,
        (std::vector<std::int64_t> { 48, 16 }));
    QCOMPARE(file.entry(text2 + "text_projection").shape, (std::vector<std::int64_t> { 16, 12 }));
    QVERIFY(torch::equal(file.tensor(text2 + "text_projection"), m_sd->textEncoder2()->text_projection->weight.t()));
    QCOMPARE(file.entry(text2 + "positional_embedding").shape, (std::vector<std::int64_t> { 16, 16 }));
    for (const char* name : { "token_embedding.weight", "ln_final.weight", "ln_final.bias",
             "transformer.resblocks.0.mlp.c_fc.weight", "transformer.resblocks.1.attn.out_proj.bias" })
        QVERIFY2(file.contains(text2 + name), name);
    // text_encoder in transformers' names; the UNet's add_embedding as label_emb; the VAE as SD 1.x's.
    QVERIFY(file.contains("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"));
    QVERIFY(file.contains("conditioner.embedders.0.transformer.text_model.encoder.layers.1.self_attn.q_proj.bias"));
    QVERIFY(torch::equal(
        file.tensor("model.diffusion_model.label_emb.0.0.weight"), m_sd->unet()->add_embedding->linear_1->weight));
    QVERIFY(torch::equal(
        file.tensor("model.diffusion_model.label_emb.0.2.bias"), m_sd->unet()->add_embedding->linear_2->bias));
    QVERIFY(file.contains("model.diffusion_model.input_blocks.3.1.transformer_blocks.1.attn2.to_k.weight"));
    QCOMPARE(file.entry("first_stage_model.encoder.mid.attn_1.q.weight").shape,
        (std::vector<std::int64_t> { 64, 64, 1, 1 }));
    for (const io::TensorEntry& entry : file.entries())
        QVERIFY2(entry.name.rfind("cond_stage_model.", 0) != 0, entry.name.c_str());
    LETHE_COMPARE_STR(file.metadata().at("lethe.force_zeros_for_empty_prompt"), "true");
    LETHE_COMPARE_STR(nlohmann::json::parse(file.metadata().at("lethe.text_encoder_2_config"))
                          .at("architectures")[0]
                          .get<std::string>(),
        "CLIPTextModelWithProjection");
    LETHE_COMPARE_STR(file.metadata().at("lethe.note"), "test");

    // Folder → single file → folder, every tensor equal at each stage, and the same images.
    SdLoadOptions options;
    options.components = m_folder;
    const StableDiffusion single = loadStableDiffusion(m_single, options);
    QVERIFY(single.isXl());
    LETHE_COMPARE_STR(single.configSource(), "file metadata");
    LETHE_COMPARE_STR(single.sourceKind(), "CompVis single file");
    LETHE_COMPARE_STR(firstDifference(*m_sd, single), "");
    QVERIFY(single.model().zeroEmptyNegativePrompt);
    QCOMPARE(single.defaultImageSize(), m_sd->defaultImageSize());
    QVERIFY(torch::equal(tinyImages(single), m_images));
    single.saveDiffusersFolder(m_dir / "back");
    const StableDiffusion back = loadStableDiffusion(m_dir / "back", {});
    QVERIFY(back.isXl());
    LETHE_COMPARE_STR(firstDifference(*m_sd, back), "");
    QVERIFY(torch::equal(tinyImages(back), m_images));
    // The file written again from the reloaded model is the same file.
    single.saveCompvisSingleFile(m_dir / "again.safetensors");
    const io::SafetensorsFile again(m_dir / "again.safetensors");
    QCOMPARE(again.entries().size(), file.entries().size());
    for (const io::TensorEntry& entry : file.entries())
        QVERIFY2(torch::equal(again.tensor(entry.name), file.tensor(entry.name)), entry.name.c_str());

    // force_zeros_for_empty_prompt travels in the metadata.
    rewriteFile(m_single, m_dir / "no-zeros.safetensors",
        [](auto&, io::Metadata& m) { m["lethe.force_zeros_for_empty_prompt"] = "false"; });
    QVERIFY(!loadStableDiffusion(m_dir / "no-zeros.safetensors", options).model().zeroEmptyNegativePrompt);
}

void TestSdxlFile::stabilityFileLoadsAndIsWrittenBackWhole()
{
    // As sd_xl_base_1.0.safetensors: no Lethe metadata (configs from the components folder), text_encoder's
    // position_ids, text_encoder_2's logit_scale.
    const std::filesystem::path real = m_dir / "real.safetensors";
    rewriteFile(m_single, real, [](std::vector<io::NamedTensor>& tensors, io::Metadata& metadata) {
        metadata.clear();
        tensors.push_back({ "conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
            torch::arange(16, torch::kInt64).unsqueeze(0) });
        tensors.push_back({ std::string(kSgmOpenClipPrefix) + "logit_scale", torch::tensor(4.6052f) });
    });
    SdLoadOptions options;
    options.components = m_folder;
    const StableDiffusion sd = loadStableDiffusion(real, options);
    QVERIFY(sd.isXl());
    LETHE_COMPARE_STR(sd.configSource(), "components folder");
    LETHE_COMPARE_STR(firstDifference(*m_sd, sd), "");
    QVERIFY(torch::equal(tinyImages(sd), m_images));
    // Written back (also through a model with another UNet, an unlearning run's), the file is whole again.
    sd.withUNet(sd.unet()).saveCompvisSingleFile(m_dir / "real-again.safetensors");
    const io::SafetensorsFile original(real);
    const io::SafetensorsFile again(m_dir / "real-again.safetensors");
    QCOMPARE(again.entries().size(), original.entries().size());
    for (const io::TensorEntry& entry : original.entries())
        QVERIFY2(torch::equal(again.tensor(entry.name), original.tensor(entry.name)), entry.name.c_str());
    QCOMPARE(
        again.entry("conditioner.embedders.0.transformer.text_model.embeddings.position_ids").dtype, io::DType::I64);
}

void TestSdxlFile::badXlSingleFilesAreRefused()
{
    const std::filesystem::path changed = m_dir / "changed.safetensors";
    const std::string name = changed.string();
    const std::string text2 = kSgmOpenClipPrefix;
    SdLoadOptions options;
    options.components = m_folder;
    const auto rewrite = [&](const std::function<void(std::vector<io::NamedTensor>&, io::Metadata&)>& edit) {
        rewriteFile(m_single, changed, edit);
        return errorMessage([&] { loadStableDiffusion(changed, options); });
    };

    // A missing tensor, in each part.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) { drop(t, text2 + "transformer.resblocks.1.attn.in_proj_weight"); }),
        name + ": tensor '" + text2
            + "transformer.resblocks.1.attn.in_proj_weight': missing from the file (the OpenCLIP text encoder of a "
              "3-layer text_encoder_2 config needs it)");
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) { drop(t, text2 + "text_projection"); }),
        name + ": tensor '" + text2
            + "text_projection': missing from the file (the OpenCLIP text encoder of a 3-layer text_encoder_2 config "
              "needs it)");
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        drop(t, "conditioner.embedders.0.transformer.text_model.encoder.layers.0.mlp.fc1.weight");
    }),
        name
            + ": tensor 'text_model.encoder.layers.0.mlp.fc1.weight': missing from the file (the model expects shape "
              "[24, 16])");
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) { drop(t, "model.diffusion_model.label_emb.0.0.weight"); }),
        name + ": tensor 'add_embedding.linear_1.weight': missing from the file (the model expects shape [128, 36])");
    // A wrong shape: text_projection as diffusers' Linear weight instead of OpenCLIP's matrix.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        replace(t, text2 + "text_projection", torch::zeros({ 12, 16 }));
    }),
        name + ": tensor '" + text2 + "text_projection': expected shape [16, 12], found [12, 16]");
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        replace(t, "model.diffusion_model.label_emb.0.0.weight", torch::zeros({ 128, 35 }));
    }),
        name + ": tensor 'add_embedding.linear_1.weight': expected shape [128, 36], found [128, 35]");
    // A resblock beyond the config's layers and the one an export may drop.
    LETHE_COMPARE_STR(rewrite([&](auto& t, auto&) {
        t.push_back({ text2 + "transformer.resblocks.4.ln_1.weight", torch::zeros({ 16 }) });
    }),
        name + ": tensor '" + text2
            + "transformer.resblocks.4.ln_1.weight': unexpected: an OpenCLIP text encoder of 3 layers (plus the one "
              "the diffusers export drops) has no tensor of that name");
    // A UNet config that does not fit the encoders, or is not SDXL's.
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) {
        auto config = nlohmann::json::parse(m["lethe.unet_config"]);
        config["cross_attention_dim"] = 16;
        m["lethe.unet_config"] = config.dump();
    }),
        name
            + " metadata lethe.unet_config: key 'cross_attention_dim': expected 32, the two text encoders' hidden "
              "sizes together, found 16");
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) {
        auto config = nlohmann::json::parse(m["lethe.unet_config"]);
        // An SD 1.x-style UNet config.
        for (const char* key :
            { "addition_embed_type", "addition_time_embed_dim", "projection_class_embeddings_input_dim" })
            config[key] = nullptr;
        m["lethe.unet_config"] = config.dump();
    }),
        name
            + " metadata lethe.unet_config: key 'addition_embed_type': the file is SDXL's (conditioner.embedders.1.*), "
              "but this UNet has no \"text_time\" added embedding for text_encoder_2's pooled output");
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) { m["lethe.force_zeros_for_empty_prompt"] = "yes"; }),
        name + ": metadata lethe.force_zeros_for_empty_prompt: expected true or false, found 'yes'");

    // Without configs: every one is named, the VAE's too (SDXL's scaling factor is not SD 1.x's).
    const std::filesystem::path tokenizers = m_dir / "tokenizers";
    for (const char* folder : { "tokenizer", "tokenizer_2" }) {
        std::filesystem::create_directories(tokenizers / folder);
        std::filesystem::copy(m_folder / folder, tokenizers / folder);
    }
    options.components = tokenizers;
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) { m.clear(); }),
        name
            + ": text_encoder config: an SDXL single file (conditioner.embedders.*) has no default configs: pass its "
              "diffusers folder as the components folder (lethe-cli --components DIR), holding "
              "text_encoder/config.json");
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) { m.erase("lethe.text_encoder_2_config"); }),
        name
            + ": text_encoder_2 config: an SDXL single file (conditioner.embedders.*) has no default configs: pass "
              "its diffusers folder as the components folder (lethe-cli --components DIR), holding "
              "text_encoder_2/config.json");
    LETHE_COMPARE_STR(rewrite([&](auto&, auto& m) { m.erase("lethe.vae_config"); }),
        name
            + ": vae config: an SDXL single file (conditioner.embedders.*) has no default configs: pass its diffusers "
              "folder as the components folder (lethe-cli --components DIR), holding vae/config.json");
    // Without tokenizer_2.
    std::filesystem::remove_all(tokenizers / "tokenizer_2");
    LETHE_COMPARE_STR(rewrite([](auto&, auto&) {}),
        tokenizers.string()
            + ": no tokenizer_2/vocab.json here; an SDXL single file carries neither of its tokenizers: pass its "
              "diffusers folder as the components folder (lethe-cli --components DIR), holding tokenizer/ and "
              "tokenizer_2/");
}

QTEST_APPLESS_MAIN(TestSdxlFile)
#include "test_sdxl_file.moc"
