// Stable Diffusion's text side: the CLIP text model's architecture (SD 1.x's, and SDXL's two encoders, the second
// with its projection), forward pass and loading from diffusers text_encoder folders. CLIP's tokenizer is tested in
// test_sd_tokenizer.cpp.
#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/io/safetensors.h"
#include "core/models/sd/clip_text_model.h"
#include "core/nn/state_dict.h"
#include "test_support.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <limits>
#include <map>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;
using lethe::test::writeBytes;
using nlohmann::json;

namespace {

constexpr std::int64_t kSd1TextParameters = 123'060'480;
// diffusers' counts for stabilityai/stable-diffusion-xl-base-1.0's text_encoder_2 (CLIPTextModelWithProjection).
constexpr std::int64_t kSdxlText2Parameters = 694'659'840;

models::sd::ClipTextOptions tinyOptions()
{
    return models::sd::ClipTextOptions()
        .vocab_size(50)
        .hidden_size(16)
        .intermediate_size(24)
        .num_hidden_layers(2)
        .num_attention_heads(4)
        .max_position_embeddings(8)
        .bos_token_id(0)
        .eos_token_id(2)
        .pad_token_id(1);
}

models::sd::ClipTextModel seededModel(const models::sd::ClipTextOptions& options, std::uint64_t seed)
{
    torch::manual_seed(seed);
    models::sd::ClipTextModel model(options);
    model->eval();
    return model;
}

/// The text model's forward pass written out from the state dict with plain tensor operations.
torch::Tensor referenceForward(
    const torch::nn::Module& model, const models::sd::ClipTextOptions& options, const torch::Tensor& ids)
{
    std::map<std::string, torch::Tensor> p;
    for (const auto& named : nn::stateDict(model))
        p[named.name] = named.tensor;
    const auto linear = [&](const torch::Tensor& x, const std::string& name) {
        return torch::matmul(x, p.at(name + ".weight").t()) + p.at(name + ".bias");
    };
    const auto norm = [&](const torch::Tensor& x, const std::string& name) {
        const torch::Tensor mean = x.mean(-1, true);
        const torch::Tensor var = (x - mean).pow(2).mean(-1, true);
        return (x - mean) / torch::sqrt(var + options.layer_norm_eps()) * p.at(name + ".weight") + p.at(name + ".bias");
    };
    const std::int64_t n = ids.size(0);
    const std::int64_t l = ids.size(1);
    const std::int64_t heads = options.num_attention_heads();
    const std::int64_t d = options.hidden_size() / heads;
    torch::Tensor x
        = p.at("text_model.embeddings.token_embedding.weight").index_select(0, ids.reshape(-1)).reshape({ n, l, -1 })
        + p.at("text_model.embeddings.position_embedding.weight").slice(0, 0, l);
    const torch::Tensor future = torch::ones({ l, l }, torch::kBool).triu(1);
    for (std::int64_t i = 0; i < options.num_hidden_layers(); ++i) {
        const std::string layer = "text_model.encoder.layers." + std::to_string(i);
        const torch::Tensor h = norm(x, layer + ".layer_norm1");
        const auto heads4 = [&](const torch::Tensor& t) {
            return t.reshape({ n, l, heads, d }).permute({ 0, 2, 1, 3 });
        };
        const torch::Tensor q = heads4(linear(h, layer + ".self_attn.q_proj"));
        const torch::Tensor k = heads4(linear(h, layer + ".self_attn.k_proj"));
        const torch::Tensor v = heads4(linear(h, layer + ".self_attn.v_proj"));
        const torch::Tensor logits = torch::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(d));
        const torch::Tensor weights = torch::softmax(logits.masked_fill(future, -1e30), -1);
        const torch::Tensor attended = torch::matmul(weights, v).permute({ 0, 2, 1, 3 }).reshape({ n, l, -1 });
        x = x + linear(attended, layer + ".self_attn.out_proj");
        const torch::Tensor g = linear(norm(x, layer + ".layer_norm2"), layer + ".mlp.fc1");
        x = x + linear(g * torch::sigmoid(1.702 * g), layer + ".mlp.fc2");
    }
    return norm(x, "text_model.final_layer_norm");
}

void writeTextEncoder(const std::filesystem::path& dir, const models::sd::ClipTextOptions& options,
    const std::vector<io::NamedTensor>& tensors, const std::string& weightsName = "model.safetensors")
{
    std::filesystem::create_directories(dir);
    writeBytes(dir / "config.json", models::sd::toJson(options).dump(2));
    io::writeSafetensors(dir / weightsName, tensors);
}

bool sameState(const torch::nn::Module& a, const torch::nn::Module& b)
{
    const auto left = nn::stateDict(a);
    const auto right = nn::stateDict(b);
    if (left.size() != right.size())
        return false;
    for (std::size_t i = 0; i < left.size(); ++i)
        if (left[i].name != right[i].name || !torch::equal(left[i].tensor, right[i].tensor))
            return false;
    return true;
}

} // namespace

class TestSdText : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void sd1ArchitectureHasClipsParameters();
    void forwardMatchesReference();
    void attentionIsCausal();
    void poolsAtEos();
    void configRoundTripsAndChecks();
    void configFailures_data();
    void configFailures();
    void savesAndReloadsTextEncoder();
    void loadsFp16IntoFloat32();
    void acceptsPositionIdsAndMappedNames();
    void textEncoderFailures();
    void sdxlEncodersHaveTheirParameters();
    void projectionModelProjectsThePooledOutput();
    void penultimateIsTheLastLayersInput();
};

void TestSdText::sd1ArchitectureHasClipsParameters()
{
    const models::sd::ClipTextModel model(models::sd::clipTextSd1Options());
    QCOMPARE(nn::parameterCount(*model), kSd1TextParameters);
    const auto state = nn::stateDict(*model);
    QCOMPARE(state.size(), std::size_t { 2 + 12 * 16 + 2 });
    std::map<std::string, std::vector<std::int64_t>> shapes;
    for (const auto& named : state)
        shapes[named.name] = named.tensor.sizes().vec();
    LETHE_COMPARE_STR(state.front().name, "text_model.embeddings.token_embedding.weight");
    LETHE_COMPARE_STR(state[2].name, "text_model.encoder.layers.0.self_attn.k_proj.weight");
    LETHE_COMPARE_STR(state.back().name, "text_model.final_layer_norm.bias");
    QCOMPARE(shapes.at("text_model.embeddings.token_embedding.weight"), (std::vector<std::int64_t> { 49408, 768 }));
    QCOMPARE(shapes.at("text_model.embeddings.position_embedding.weight"), (std::vector<std::int64_t> { 77, 768 }));
    QCOMPARE(
        shapes.at("text_model.encoder.layers.11.self_attn.q_proj.weight"), (std::vector<std::int64_t> { 768, 768 }));
    QCOMPARE(shapes.at("text_model.encoder.layers.11.self_attn.out_proj.bias"), (std::vector<std::int64_t> { 768 }));
    QCOMPARE(shapes.at("text_model.encoder.layers.5.mlp.fc1.weight"), (std::vector<std::int64_t> { 3072, 768 }));
    QCOMPARE(shapes.at("text_model.encoder.layers.5.mlp.fc2.weight"), (std::vector<std::int64_t> { 768, 3072 }));
    QCOMPARE(shapes.at("text_model.encoder.layers.3.layer_norm2.weight"), (std::vector<std::int64_t> { 768 }));
    QVERIFY(shapes.count("text_model.encoder.layers.12.layer_norm1.weight") == 0);
}

void TestSdText::forwardMatchesReference()
{
    const models::sd::ClipTextOptions options = tinyOptions();
    auto model = seededModel(options, 1);
    torch::NoGradGuard noGrad;
    const torch::Tensor ids
        = torch::tensor({ 0, 5, 9, 33, 49, 1, 1, 1, 0, 7, 2, 1, 1, 1, 1, 1 }, torch::kInt64).reshape({ 2, 8 });
    const models::sd::ClipTextOutput out = model(ids);
    QCOMPARE(out.last_hidden_state.sizes().vec(), (std::vector<std::int64_t> { 2, 8, 16 }));
    QCOMPARE(out.pooler_output.sizes().vec(), (std::vector<std::int64_t> { 2, 16 }));
    const torch::Tensor expected = referenceForward(*model, options, ids);
    const double difference = (out.last_hidden_state - expected).abs().max().item<double>();
    QVERIFY2(difference < 1e-5, std::to_string(difference).c_str());
    // Shorter sequences use the first positions.
    const torch::Tensor shortIds = ids.slice(1, 0, 5);
    QVERIFY(
        torch::allclose(model(shortIds).last_hidden_state, referenceForward(*model, options, shortIds), 1e-5, 1e-5));
    // More tokens than positions is an error, not an out-of-range read.
    QVERIFY(errorMessage([&] { model(torch::zeros({ 1, 9 }, torch::kInt64)); }).find("9 tokens") != std::string::npos);
}

void TestSdText::attentionIsCausal()
{
    auto model = seededModel(tinyOptions(), 2);
    torch::NoGradGuard noGrad;
    const torch::Tensor ids = torch::tensor({ 0, 5, 9, 33, 40, 11, 2, 1 }, torch::kInt64).reshape({ 1, 8 });
    torch::Tensor changed = ids.clone();
    changed[0][4] = 17;
    const torch::Tensor before = model(ids).last_hidden_state;
    const torch::Tensor after = model(changed).last_hidden_state;
    QVERIFY(torch::allclose(before.slice(1, 0, 4), after.slice(1, 0, 4), 0.0, 1e-6));
    for (std::int64_t position = 4; position < 8; ++position)
        QVERIFY((before[0][position] - after[0][position]).abs().max().item<double>() > 1e-4);
}

void TestSdText::poolsAtEos()
{
    torch::NoGradGuard noGrad;
    // Legacy configs (eos_token_id 2) pool at the largest id; the rows put it at positions 4 and 2.
    auto legacy = seededModel(tinyOptions(), 3);
    const torch::Tensor ids
        = torch::tensor({ 0, 5, 9, 33, 49, 1, 1, 1, 0, 7, 48, 2, 1, 1, 1, 1 }, torch::kInt64).reshape({ 2, 8 });
    models::sd::ClipTextOutput out = legacy(ids);
    QVERIFY(torch::equal(out.pooler_output[0], out.last_hidden_state[0][4]));
    QVERIFY(torch::equal(out.pooler_output[1], out.last_hidden_state[1][2]));

    // Otherwise at the first eos_token_id, even where a larger id follows.
    auto modern = seededModel(tinyOptions().eos_token_id(7), 3);
    const torch::Tensor modernIds
        = torch::tensor({ 0, 5, 7, 33, 7, 1, 1, 1, 0, 7, 48, 2, 1, 1, 1, 1 }, torch::kInt64).reshape({ 2, 8 });
    out = modern(modernIds);
    QVERIFY(torch::equal(out.pooler_output[0], out.last_hidden_state[0][2]));
    QVERIFY(torch::equal(out.pooler_output[1], out.last_hidden_state[1][1]));
    QVERIFY(!torch::equal(out.pooler_output[1], out.last_hidden_state[1][2]));
}

void TestSdText::configRoundTripsAndChecks()
{
    const models::sd::ClipTextOptions sd1 = models::sd::clipTextSd1Options();
    // SD 1.x's text_encoder/config.json as diffusers ships it (the keys that matter, and some that do not).
    const json file = json::parse(R"({
        "_name_or_path": "openai/clip-vit-large-patch14", "architectures": ["CLIPTextModel"],
        "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu",
        "hidden_size": 768, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 3072,
        "layer_norm_eps": 1e-05, "max_position_embeddings": 77, "model_type": "clip_text_model",
        "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768,
        "torch_dtype": "float32", "transformers_version": "4.22.0.dev0", "vocab_size": 49408})");
    const models::sd::ClipTextOptions parsed = models::sd::clipTextOptionsFromJson(file, "config.json");
    QCOMPARE(models::sd::toJson(parsed).dump(), models::sd::toJson(sd1).dump());

    const models::sd::ClipTextOptions custom
        = tinyOptions().hidden_act(models::sd::ClipActivation::Gelu).layer_norm_eps(1e-6);
    QCOMPARE(models::sd::toJson(models::sd::clipTextOptionsFromJson(models::sd::toJson(custom), "x")).dump(),
        models::sd::toJson(custom).dump());
    // Absent keys take CLIPTextConfig's defaults.
    const models::sd::ClipTextOptions defaults = models::sd::clipTextOptionsFromJson(json::object(), "x");
    QCOMPARE(defaults.hidden_size(), std::int64_t { 512 });
    QCOMPARE(defaults.eos_token_id(), std::int64_t { 49407 });
    // Options built in code are checked by the network too.
    LETHE_COMPARE_STR(errorMessage([] { models::sd::ClipTextModel(tinyOptions().num_attention_heads(5)); }),
        "CLIP attention: hidden_size 16 is not a positive multiple of num_attention_heads 5");
    QCOMPARE(models::sd::clipTextOptionsFromJson(json { { "hidden_act", "gelu_pytorch_tanh" } }, "x").hidden_act(),
        models::sd::ClipActivation::GeluTanh);
}

void TestSdText::configFailures_data()
{
    QTest::addColumn<QString>("config");
    QTest::addColumn<QString>("message");
    QTest::newRow("activation") << R"({"hidden_act": "relu"})"
                                << "config.json: key 'hidden_act': expected \"quick_gelu\", \"gelu\", \"gelu_new\" or "
                                   "\"gelu_pytorch_tanh\", found \"relu\"";
    QTest::newRow("heads") << R"({"hidden_size": 16, "num_attention_heads": 5})"
                           << "config.json: key 'num_attention_heads': expected a divisor of hidden_size (16), found 5";
    QTest::newRow("size type") << R"({"vocab_size": "big"})"
                               << "config.json: key 'vocab_size': expected an integer, found \"big\"";
    QTest::newRow("size zero") << R"({"num_hidden_layers": 0})"
                               << "config.json: key 'num_hidden_layers': expected a positive integer, found 0";
    QTest::newRow("model type") << R"({"model_type": "t5"})"
                                << "config.json: key 'model_type': expected \"clip_text_model\", found \"t5\"";
    QTest::newRow("eps") << R"({"layer_norm_eps": 0})"
                         << "config.json: key 'layer_norm_eps': expected a positive number, found 0";
}

void TestSdText::configFailures()
{
    QFETCH(QString, config);
    QFETCH(QString, message);
    const json object = json::parse(config.toStdString());
    LETHE_COMPARE_STR(
        errorMessage([&] { models::sd::clipTextOptionsFromJson(object, "config.json"); }), message.toStdString());
}

void TestSdText::savesAndReloadsTextEncoder()
{
    ScratchDir dir;
    const models::sd::ClipTextOptions options = tinyOptions();
    auto model = seededModel(options, 4);
    const auto folder = dir / "text_encoder";
    std::filesystem::create_directories(folder);
    writeBytes(folder / "config.json", models::sd::toJson(options).dump(2));
    nn::saveStateDict(folder / "model.safetensors", *model);

    auto loaded = models::sd::loadClipTextModel(folder, torch::kFloat32, torch::kCPU);
    QVERIFY(!loaded->is_training());
    QVERIFY(sameState(*model, *loaded));
    torch::NoGradGuard noGrad;
    const torch::Tensor ids = torch::tensor({ 0, 5, 9, 2, 1, 1 }, torch::kInt64).reshape({ 1, 6 });
    QVERIFY(torch::equal(model(ids).last_hidden_state, loaded(ids).last_hidden_state));

    // A differently seeded model differs, so the comparison above can fail.
    QVERIFY(!sameState(*model, *seededModel(options, 5)));

    // Half precision on request.
    auto half = models::sd::loadClipTextModel(folder, torch::kFloat16, torch::kCPU);
    QCOMPARE(half->text_model->final_layer_norm->weight.scalar_type(), torch::kFloat16);
}

void TestSdText::loadsFp16IntoFloat32()
{
    ScratchDir dir;
    const models::sd::ClipTextOptions options = tinyOptions();
    auto model = seededModel(options, 6);
    std::vector<io::NamedTensor> halves;
    for (const auto& named : nn::stateDict(*model))
        halves.push_back({ named.name, named.tensor.to(torch::kFloat16) });
    writeTextEncoder(dir / "te", options, halves, "model.fp16.safetensors");

    auto loaded = models::sd::loadClipTextModel(dir / "te", torch::kFloat32, torch::kCPU);
    const auto state = nn::stateDict(*loaded);
    QCOMPARE(state.size(), halves.size());
    for (std::size_t i = 0; i < state.size(); ++i) {
        QCOMPARE(state[i].tensor.scalar_type(), torch::kFloat32);
        QVERIFY(torch::equal(state[i].tensor, halves[i].tensor.to(torch::kFloat32)));
    }
}

void TestSdText::acceptsPositionIdsAndMappedNames()
{
    ScratchDir dir;
    const models::sd::ClipTextOptions options = tinyOptions();
    auto model = seededModel(options, 7);
    std::vector<io::NamedTensor> tensors = nn::stateDict(*model);
    tensors.push_back({ models::sd::kClipPositionIdsName, torch::arange(8, torch::kInt64).unsqueeze(0) });
    writeTextEncoder(dir / "te", options, tensors);
    QVERIFY(sameState(*model, *models::sd::loadClipTextModel(dir / "te")));

    // CompVis single files keep the text encoder under a prefix, beside other networks.
    const std::string prefix = "cond_stage_model.transformer.";
    std::vector<io::NamedTensor> single;
    for (const auto& named : tensors)
        single.push_back({ prefix + named.name, named.tensor });
    single.push_back({ "model.diffusion_model.out.2.bias", torch::zeros({ 4 }) });
    io::writeSafetensors(dir / "single.safetensors", single);
    models::sd::ClipTextModel target(options);
    nn::LoadOptions load;
    load.mapping = [&](const std::string& name) -> std::optional<std::string> {
        if (name.rfind(prefix, 0) != 0)
            return std::nullopt;
        return name.substr(prefix.size());
    };
    const nn::LoadReport report
        = models::sd::loadClipTextWeights(*target, io::SafetensorsFile(dir / "single.safetensors"), load);
    QVERIFY(report.complete());
    QCOMPARE(report.loaded.size(), nn::stateDict(*model).size());
    QVERIFY(sameState(*model, *target));
}

void TestSdText::textEncoderFailures()
{
    ScratchDir dir;
    const models::sd::ClipTextOptions options = tinyOptions();
    auto model = seededModel(options, 8);
    const auto folder = dir / "te";
    std::filesystem::create_directories(folder);
    const std::string f = folder.string();

    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadClipTextModel(folder); }),
        f + ": config.json: file not found (a text_encoder folder holds config.json and model.safetensors)");

    writeBytes(folder / "config.json", models::sd::toJson(options).dump());
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadClipTextModel(folder); }),
        f + ": model.safetensors: file not found (nor model.fp16.safetensors)");

    writeBytes(folder / "pytorch_model.bin", "PK\x03\x04");
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadClipTextModel(folder); }),
        f
            + "/pytorch_model.bin: pickled weights are not read, because loading a pickle can run code; convert them "
              "to model.safetensors, e.g. in Python: CLIPTextModel.from_pretrained(folder).save_pretrained(folder, "
              "safe_serialization=True)");

    std::vector<io::NamedTensor> partial = nn::stateDict(*model);
    partial.pop_back();
    io::writeSafetensors(folder / "model.safetensors", partial);
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadClipTextModel(folder); }),
        f
            + "/model.safetensors: tensor 'text_model.final_layer_norm.bias': missing from the file (the model "
              "expects shape [16])");

    writeBytes(folder / "config.json", R"({"hidden_act": "relu"})");
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadClipTextModel(folder); }),
        f
            + "/config.json: key 'hidden_act': expected \"quick_gelu\", \"gelu\", \"gelu_new\" or "
              "\"gelu_pytorch_tanh\", "
              "found \"relu\"");
}

void TestSdText::sdxlEncodersHaveTheirParameters()
{
    // SDXL's first encoder is SD 1.x's; the count from the shapes alone agrees with the built network.
    QCOMPARE(models::sd::clipTextParameterCount(models::sd::clipTextSd1Options()), kSd1TextParameters);
    QCOMPARE(models::sd::clipTextParameterCount(tinyOptions().projection_dim(12), true),
        nn::parameterCount(*models::sd::ClipTextModelWithProjection(tinyOptions().projection_dim(12))));
    QCOMPARE(models::sd::clipTextParameterCount(models::sd::clipTextSdxl2Options(), true), kSdxlText2Parameters);

    // The second, built at full size (2.8 GB in float32) from its config as diffusers ships it.
    const json file = json::parse(R"({
        "architectures": ["CLIPTextModelWithProjection"], "attention_dropout": 0.0, "bos_token_id": 0,
        "dropout": 0.0, "eos_token_id": 2, "hidden_act": "gelu", "hidden_size": 1280, "initializer_factor": 1.0,
        "initializer_range": 0.02, "intermediate_size": 5120, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
        "model_type": "clip_text_model", "num_attention_heads": 20, "num_hidden_layers": 32, "pad_token_id": 1,
        "projection_dim": 1280, "torch_dtype": "float16", "transformers_version": "4.32.0.dev0", "vocab_size": 49408})");
    const models::sd::ClipTextOptions options = models::sd::clipTextOptionsFromJson(file, "config.json");
    QCOMPARE(models::sd::toJson(options, "CLIPTextModelWithProjection").dump(),
        models::sd::toJson(models::sd::clipTextSdxl2Options(), "CLIPTextModelWithProjection").dump());
    const models::sd::ClipTextModelWithProjection model(options);
    QCOMPARE(nn::parameterCount(*model), kSdxlText2Parameters);
    const auto state = nn::stateDict(*model);
    LETHE_COMPARE_STR(state.back().name, "text_projection.weight");
    QCOMPARE(state.back().tensor.sizes().vec(), (std::vector<std::int64_t> { 1280, 1280 }));
    LETHE_COMPARE_STR(state[state.size() - 2].name, "text_model.final_layer_norm.bias");
}

void TestSdText::projectionModelProjectsThePooledOutput()
{
    ScratchDir dir;
    const auto options = tinyOptions().projection_dim(12);
    torch::manual_seed(9);
    models::sd::ClipTextModelWithProjection model(options);
    model->eval();
    const auto folder = dir / "text_encoder_2";
    writeBytes(folder / "config.json", models::sd::toJson(options, "CLIPTextModelWithProjection").dump(2));
    nn::saveStateDict(folder / "model.safetensors", *model);
    auto loaded = models::sd::loadClipTextModelWithProjection(folder);
    QVERIFY(sameState(*model, *loaded));
    QVERIFY(!loaded->is_training());

    torch::NoGradGuard noGrad;
    // eos_token_id 2: pooled at the largest id, positions 4 and 2.
    const torch::Tensor ids
        = torch::tensor({ 0, 5, 9, 33, 49, 1, 1, 1, 0, 7, 48, 2, 1, 1, 1, 1 }, torch::kInt64).reshape({ 2, 8 });
    const models::sd::ClipTextOutput out = loaded(ids);
    const torch::Tensor embeds = loaded->project(out);
    QCOMPARE(embeds.sizes().vec(), (std::vector<std::int64_t> { 2, 12 }));
    QVERIFY(torch::allclose(
        embeds[1], torch::matmul(model->text_projection->weight, out.last_hidden_state[1][2]), 1e-6, 1e-6));
    QVERIFY(loaded->text_projection->bias.defined() == false);

    // The plain text model refuses the projection's weights, by name.
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadClipTextModel(folder); }),
        (folder / "model.safetensors").string()
            + ": tensor 'text_projection.weight': unexpected: the model has no parameter or buffer of that name");
    // And the projection model a file without them.
    writeBytes(dir / "plain" / "config.json", models::sd::toJson(options).dump(2));
    nn::saveStateDict(dir / "plain" / "model.safetensors", *seededModel(options, 10));
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::loadClipTextModelWithProjection(dir / "plain"); }),
        (dir / "plain" / "model.safetensors").string()
            + ": tensor 'text_projection.weight': missing from the file (the model expects shape [12, 16])");
}

void TestSdText::penultimateIsTheLastLayersInput()
{
    // hidden_states[-2]: the first layer's output in a two-layer model, before the final layer norm.
    auto model = seededModel(tinyOptions(), 11);
    torch::NoGradGuard noGrad;
    const torch::Tensor ids = torch::tensor({ 0, 5, 9, 2, 1, 1 }, torch::kInt64).reshape({ 1, 6 });
    const models::sd::ClipTextOutput out = model(ids);
    auto& text = *model->text_model;
    const torch::Tensor embedded
        = text.embeddings->token_embedding(ids) + text.embeddings->position_embedding->weight.slice(0, 0, 6);
    const torch::Tensor mask = torch::full({ 6, 6 }, -std::numeric_limits<float>::infinity()).triu(1);
    const auto layer = [&](std::size_t i) { return text.encoder->layers->ptr<models::sd::ClipEncoderLayerImpl>(i); };
    const torch::Tensor first = layer(0)->forward(embedded, mask);
    QVERIFY(torch::allclose(out.penultimate_hidden_state, first, 1e-6, 1e-6));
    QVERIFY(torch::allclose(out.last_hidden_state, text.final_layer_norm(layer(1)->forward(first, mask)), 1e-6, 1e-6));
    QVERIFY(!torch::allclose(out.penultimate_hidden_state, out.last_hidden_state, 1e-3, 1e-3));
}

QTEST_APPLESS_MAIN(TestSdText)
#include "test_sd_text.moc"
