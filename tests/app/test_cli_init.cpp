// lethe-cli init-t2i as a user runs it: tiny diffusers component configs to a diffusers folder of random weights
// that `generate` loads, the same files for the same seed, and the errors for missing or bad configs and an --out
// that is not empty.
#include "core/models/sd/autoencoder_kl.h"
#include "core/models/sd/clip_text_model.h"
#include "core/models/sd/unet_2d_condition.h"
#include "core/nn/state_dict.h"

#include "cli_runner.h"
#include "test_support.h"

#include <nlohmann/json.hpp>

#include <QtTest>

using namespace lethe;
using namespace lethe::test;

namespace {

/// A two-level UNet over 16-wide text states, in the form diffusers writes unet/config.json.
const char* const kUNetConfig = R"({
  "_class_name": "UNet2DConditionModel",
  "_diffusers_version": "0.6.0",
  "act_fn": "silu",
  "attention_head_dim": 8,
  "block_out_channels": [32, 64],
  "center_input_sample": false,
  "cross_attention_dim": 16,
  "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1,
  "flip_sin_to_cos": true,
  "freq_shift": 0,
  "in_channels": 4,
  "layers_per_block": 1,
  "mid_block_scale_factor": 1,
  "norm_eps": 1e-05,
  "norm_num_groups": 8,
  "out_channels": 4,
  "sample_size": 8,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]
})";

/// A two-layer CLIP text encoder, as transformers writes text_encoder/config.json (legacy eos_token_id 2 as SD 1.x's).
const char* const kTextConfig = R"({
  "architectures": ["CLIPTextModel"],
  "attention_dropout": 0.0,
  "bos_token_id": 0,
  "dropout": 0.0,
  "eos_token_id": 2,
  "hidden_act": "quick_gelu",
  "hidden_size": 16,
  "initializer_factor": 1.0,
  "initializer_range": 0.02,
  "intermediate_size": 24,
  "layer_norm_eps": 1e-05,
  "max_position_embeddings": 16,
  "model_type": "clip_text_model",
  "num_attention_heads": 4,
  "num_hidden_layers": 2,
  "pad_token_id": 1,
  "projection_dim": 16,
  "torch_dtype": "float32",
  "vocab_size": 700
})";

/// A two-level VAE (latents at half the image size).
const char* const kVaeConfig = R"({
  "_class_name": "AutoencoderKL",
  "_diffusers_version": "0.6.0",
  "act_fn": "silu",
  "block_out_channels": [32, 64],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
  "in_channels": 3,
  "latent_channels": 4,
  "layers_per_block": 1,
  "norm_num_groups": 8,
  "out_channels": 3,
  "sample_size": 16,
  "scaling_factor": 0.18215,
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]
})";

/// A DDIM scheduler config naming only its class and steps_offset: the rest takes Lethe's defaults, SD 1.x's schedule.
const char* const kSchedulerConfig = R"({"_class_name": "DDIMScheduler", "steps_offset": 1})";

/// The four config files init-t2i reads, where a diffusers folder keeps them.
void writeConfigs(const std::filesystem::path& root, const std::string& unet = kUNetConfig)
{
    writeBytes(root / "unet" / "config.json", unet);
    writeBytes(root / "text_encoder" / "config.json", kTextConfig);
    writeBytes(root / "vae" / "config.json", kVaeConfig);
    writeBytes(root / "scheduler" / "scheduler_config.json", kSchedulerConfig);
}

/// The parameter counts of the three networks, from core's own builders: what init-t2i must report.
std::string expectedCounts()
{
    const auto unet = models::sd::buildUNet2DCondition(
        models::sd::unetOptionsFromConfig(nlohmann::json::parse(kUNetConfig), "unet"));
    const models::sd::ClipTextModel text(
        models::sd::clipTextOptionsFromJson(nlohmann::json::parse(kTextConfig), "text_encoder"));
    const auto vae
        = models::sd::buildAutoencoderKL(models::sd::vaeOptionsFromConfig(nlohmann::json::parse(kVaeConfig), "vae"));
    return "UNet          " + std::to_string(nn::parameterCount(*unet)) + " parameters\ntext encoder  "
        + std::to_string(nn::parameterCount(*text)) + " parameters\nVAE           "
        + std::to_string(nn::parameterCount(*vae)) + " parameters\n";
}

} // namespace

class TestCliInit : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initT2iWritesAFolderThatGenerateLoads();
    void initT2iRefusesMissingAndBadConfigsAndANonEmptyOut();

private:
    test::ScratchDir m_dir;
};

void TestCliInit::initT2iWritesAFolderThatGenerateLoads()
{
    const std::filesystem::path configs = m_dir / "configs";
    writeConfigs(configs);
    const std::filesystem::path model = m_dir / "random-sd";
    const Result r = runCli({ "init-t2i", "--configs", q(configs), "--out", q(model), "--seed", "3" });
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    const std::string counts = expectedCounts();
    LETHE_COMPARE_STR(r.out, counts + "wrote the diffusers folder " + q(model) + " (random weights, seed 3)\n");
    QVERIFY2(r.err.find("tokenizer: the built-in captions' vocabulary, 637 tokens, model_max_length 16\n")
            != std::string::npos,
        r.err.c_str());
    for (const char* file : { "model_index.json", "lethe-manifest.json", "unet/config.json",
             "unet/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
             "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json",
             "tokenizer/vocab.json", "tokenizer/merges.txt", "tokenizer/tokenizer_config.json" })
        QVERIFY2(std::filesystem::is_regular_file(model / file), file);
    const auto index = nlohmann::json::parse(readBytes(model / "model_index.json"));
    QVERIFY(index["vae"] == nlohmann::json::array({ "diffusers", "AutoencoderKL" }));
    const auto manifest = nlohmann::json::parse(readBytes(model / "lethe-manifest.json"));
    LETHE_COMPARE_STR(manifest["method"].get<std::string>(), "init-t2i");
    QCOMPARE(manifest["seed"].get<int>(), 3);

    // generate loads the folder with the same networks and draws from it.
    const Result gen = runCli({ "generate", "--model", q(model), "--prompt", "a red shirt", "--steps", "1", "--height",
        "16", "--width", "16", "--out", q(m_dir / "gen") });
    QVERIFY2(gen.exitCode == 0, gen.err.c_str());
    LETHE_COMPARE_STR(gen.out.substr(0, gen.out.find(" in ")), "wrote 1 images of 16×16 to " + q(m_dir / "gen"));
    const auto number = [&](const char* name) {
        const std::size_t at = counts.find(name) + std::string(name).size();
        return counts.substr(at, counts.find(" parameters", at) - at);
    };
    const std::string loaded = "UNet " + number("UNet          ") + ", text encoder " + number("text encoder  ")
        + ", VAE " + number("VAE           ") + " parameters";
    QVERIFY2(gen.err.find(loaded) != std::string::npos, (loaded + " not in: " + gen.err).c_str());

    // The same configs and seed give the same weights, into an empty folder as well as a new one; another seed
    // other weights.
    std::filesystem::create_directories(m_dir / "again");
    QCOMPARE(runCli({ "init-t2i", "--configs", q(configs), "--out", q(m_dir / "again"), "--seed", "3" }).exitCode, 0);
    QCOMPARE(runCli({ "init-t2i", "--configs", q(configs), "--out", q(m_dir / "other"), "--seed", "4" }).exitCode, 0);
    for (const char* file : { "unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
             "vae/diffusion_pytorch_model.safetensors" }) {
        QVERIFY2(readBytes(m_dir / "again" / file) == readBytes(model / file), file);
        QVERIFY2(readBytes(m_dir / "other" / file) != readBytes(model / file), file);
    }
}

void TestCliInit::initT2iRefusesMissingAndBadConfigsAndANonEmptyOut()
{
    // The error output of a run that must fail at once, with anything else it did prefixed so that the
    // comparison shows it.
    const auto init = [&](const std::filesystem::path& configs, const std::filesystem::path& out) {
        const Result r = runCli({ "init-t2i", "--configs", q(configs), "--out", q(out) });
        return (r.exitCode == 1 ? "" : "exit code " + std::to_string(r.exitCode) + ": ") + r.out + r.err;
    };

    // A missing config file: named, with the four the command reads.
    const std::filesystem::path missing = m_dir / "configs-missing";
    writeConfigs(missing);
    std::filesystem::remove(missing / "vae" / "config.json");
    LETHE_COMPARE_STR(init(missing, m_dir / "out-missing"),
        "error: " + q(missing / "vae" / "config.json")
            + ": file not found; init-t2i reads unet/config.json, text_encoder/config.json, vae/config.json and "
              "scheduler/scheduler_config.json under --configs, as a diffusers folder holds them\n");
    QVERIFY(!std::filesystem::exists(m_dir / "out-missing"));

    // A bad value: the file and the key.
    std::string unet = kUNetConfig;
    unet.replace(
        unet.find(R"("norm_num_groups": 8)"), std::string(R"("norm_num_groups": 8)").size(), R"("norm_num_groups": 7)");
    const std::filesystem::path bad = m_dir / "configs-bad";
    writeConfigs(bad, unet);
    LETHE_COMPARE_STR(init(bad, m_dir / "out-bad"),
        "error: " + q(bad / "unet" / "config.json")
            + ": key 'norm_num_groups': block_out_channels 32 cannot be split into 7 groups\n");
    QVERIFY(!std::filesystem::exists(m_dir / "out-bad"));

    // Configs that do not fit together: the UNet's cross-attention against the text encoder's width.
    unet = kUNetConfig;
    unet.replace(unet.find(R"("cross_attention_dim": 16)"), std::string(R"("cross_attention_dim": 16)").size(),
        R"("cross_attention_dim": 32)");
    const std::filesystem::path mismatched = m_dir / "configs-mismatched";
    writeConfigs(mismatched, unet);
    LETHE_COMPARE_STR(init(mismatched, m_dir / "out-mismatched"),
        "error: " + q(mismatched / "unet" / "config.json")
            + ": key 'cross_attention_dim': expected the text encoder's hidden_size, 16 ("
            + q(mismatched / "text_encoder" / "config.json") + "), found 32\n");

    // An --out that holds anything is left as it is.
    const std::filesystem::path configs = m_dir / "configs";
    writeConfigs(configs);
    const std::filesystem::path full = m_dir / "full";
    writeBytes(full / "notes.txt", "mine");
    LETHE_COMPARE_STR(init(configs, full),
        "error: " + q(full) + " is not empty; choose a new or empty --out (init-t2i never overwrites a model)\n");
    LETHE_COMPARE_STR(readBytes(full / "notes.txt"), "mine");
}

QTEST_GUILESS_MAIN(TestCliInit)
#include "test_cli_init.moc"
