// The built-in text-to-image model's pieces: the learnt BPE tokenizer, the captioned recoloured Fashion-MNIST
// data and its colour measure, the DDPM loss, and the trainer (checkpoints as diffusers folders, resume).
#include "core/data/captioned_fashion.h"
#include "core/diffusion/ddpm_loss.h"
#include "core/diffusion/denoiser.h"
#include "core/error.h"
#include "core/eval/fashion_measures.h"
#include "core/io/safetensors.h"
#include "core/models/sd/bpe_trainer.h"
#include "core/models/sd/clip_tokenizer.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"
#include "core/train/t2i_trainer.h"

#include "tensor_files.h"
#include "test_support.h"

#include <torch/torch.h>

#include <QtTest>

#include <atomic>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;
using lethe::test::tensorsOf;

namespace {

/// 20 grayscale 8×8 images in the 10 Fashion-MNIST classes: class c lights up row c % 8.
data::ImageSet tinyGarments()
{
    data::ImageSet set;
    set.images = torch::zeros({ 20, 1, 8, 8 }, torch::kUInt8);
    set.labels = torch::arange(20, torch::kInt64) % 10;
    for (std::int64_t i = 0; i < 20; ++i)
        set.images[i][0][i % 8].fill_(100 + 7 * i);
    set.classNames
        = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };
    set.source = "tiny garments";
    return set;
}

train::T2iPretrainConfig tinyConfig(std::int64_t steps)
{
    train::T2iPretrainConfig config;
    config.unet = models::sd::unetConfigJson(models::sd::UNet2DConditionOptions()
                                                 .sample_size(8)
                                                 .in_channels(3)
                                                 .out_channels(3)
                                                 .block_out_channels({ 8, 16 })
                                                 .down_block_types({ "CrossAttnDownBlock2D", "DownBlock2D" })
                                                 .up_block_types({ "UpBlock2D", "CrossAttnUpBlock2D" })
                                                 .layers_per_block({ 1, 1 })
                                                 .attention_head_dim({ 2, 2 })
                                                 .transformer_layers_per_block({ 1, 1 })
                                                 .cross_attention_dim(16)
                                                 .norm_num_groups(4));
    config.textEncoder = nullptr; // Built-in layout, sized by the tokenizer.
    config.batch = 6; // Not a divisor of 20: batches straddle epochs.
    config.lr = 1e-3;
    config.lrRampupImages = 10;
    config.emaHalfLifeImages = 20;
    config.steps = steps;
    config.seed = 3;
    config.checkpointEvery = 2;
    config.captionDropout = 0.3;
    return config;
}

} // namespace

class TestT2iTrain : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(1); }
    void clipWordsSplitAsClipDoes();
    void learntTokenizerEncodesEveryTrainingWordAsOneToken();
    void captionsReadAsEnglish();
    void recolouringKeepsTheGrayscaleAndTheColourIsMeasured();
    void ddpmLossIsZeroForThePerfectPredictor();
    void ddpmLossOfAVPredictionModelTargetsV();
    void offsetNoiseShiftsEachChannelByOneConstant();
    void trainerWritesALoadableDiffusersFolder();
    void resumedRunIsBitIdentical();
    void badConfigsAndDataAreRefused();
    void fineTuningStartsFromAModelsWeights();
    void builtinModelLoadsAndRecordsItsProvenance();
    void promptsNameTheirGarmentAndColour();
    void fashionMeasuresCountGarmentsAndColours();
};

void TestT2iTrain::clipWordsSplitAsClipDoes()
{
    QCOMPARE(models::sd::clipWords("A Red T-shirt,  size 42!!"),
        (std::vector<std::string> { "a", "red", "t", "-", "shirt", ",", "size", "4", "2", "!!" }));
    QVERIFY(models::sd::clipWords("   ").empty());
}

void TestT2iTrain::learntTokenizerEncodesEveryTrainingWordAsOneToken()
{
    ScratchDir dir;
    const std::vector<std::string> texts = { "a red sneaker", "a blue sneaker", "an ankle boot", "a red t-shirt" };
    const models::sd::BpeVocabulary vocabulary = models::sd::learnBpe(texts);
    QCOMPARE(models::sd::learnBpe(texts).merges, vocabulary.merges); // Deterministic.
    QCOMPARE(vocabulary.tokens.size(), std::size_t { 512 } + vocabulary.merges.size() + 2 - 0);
    models::sd::writeClipTokenizerFolder(dir.path(), vocabulary, 12);
    const models::sd::ClipTokenizer tokenizer(dir.path());
    QCOMPARE(tokenizer.maxLength(), 12);
    QCOMPARE(tokenizer.vocabSize(), static_cast<std::int64_t>(vocabulary.tokens.size()));
    QCOMPARE(tokenizer.bosId(), static_cast<std::int64_t>(vocabulary.tokens.size()) - 2);
    QCOMPARE(tokenizer.eosId(), static_cast<std::int64_t>(vocabulary.tokens.size()) - 1);
    // "a red sneaker": BOS, three one-token words, EOS, padding with EOS.
    const models::sd::ClipTokens tokens = tokenizer.encode("A RED sneaker");
    QCOMPARE(tokens.length, 5);
    QCOMPARE(tokens.ids[2], tokenizer.tokenId("red</w>"));
    QCOMPARE(tokens.ids[3], tokenizer.tokenId("sneaker</w>"));
    QCOMPARE(tokens.ids[11], tokenizer.eosId());
    QCOMPARE(tokenizer.encode("a red t-shirt").length, 2 + 5); // a, red, t, -, shirt: split as CLIP splits.
    QVERIFY(tokenizer.decode(tokenizer.encode("a red t-shirt").ids) == "a red t - shirt");
    // A word the texts never had still encodes, byte by byte, and decodes back.
    const models::sd::ClipTokens unknown = tokenizer.encode("zebra");
    QCOMPARE(unknown.length, 2 + 5);
    LETHE_COMPARE_STR(tokenizer.decode(unknown.ids), "zebra");
    // Too long: truncated with EOS kept.
    QVERIFY(tokenizer.encode("a red sneaker a blue sneaker an ankle boot a red sneaker a blue sneaker").truncated);
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::writeClipTokenizerFolder(dir / "x", vocabulary, 2); }),
        "a tokenizer needs a maximum length of at least 3 (BOS, one token, EOS)");
}

void TestT2iTrain::captionsReadAsEnglish()
{
    LETHE_COMPARE_STR(data::fashionCaption(7, 0), "a photo of a red sneaker");
    LETHE_COMPARE_STR(data::fashionCaption(7, 5), "a photo of a white sneaker");
    LETHE_COMPARE_STR(data::fashionCaption(9, 2, 4), "an ankle boot in blue");
    LETHE_COMPARE_STR(data::fashionCaption(9, 2, 2), "a picture of a blue ankle boot");
    LETHE_COMPARE_STR(data::fashionCaption(1, 4, 3, 1), "purple pair of pants");
    LETHE_COMPARE_STR(data::fashionCaption(0, 3, 1, 1), "a yellow tee");
    LETHE_COMPARE_STR(errorMessage([] { data::fashionCaption(10, 0); }), "caption: class index 10 is outside 0…9");
    LETHE_COMPARE_STR(errorMessage([] { data::fashionCaption(5, 0, 0, 1); }), "caption: noun index 1 is outside 0…0");
    std::size_t nouns = 0;
    for (const auto& list : data::fashionNouns())
        nouns += list.size();
    QCOMPARE(data::allFashionCaptions().size(), nouns * 7 * 5);
    QCOMPARE(data::fashionPalette().size(), std::size_t { 7 });
}

void TestT2iTrain::recolouringKeepsTheGrayscaleAndTheColourIsMeasured()
{
    const data::ImageSet set = tinyGarments();
    const torch::Tensor colours = torch::arange(20, torch::kInt64) % 7;
    const torch::Tensor rgb = data::recolour(set.images, colours);
    QCOMPARE(rgb.sizes(), (std::vector<std::int64_t> { 20, 3, 8, 8 }));
    QVERIFY(torch::equal(data::grayscaleOf(rgb), set.images));
    QVERIFY(torch::equal(data::dominantColour(rgb), colours));
    // Noise in the dark background does not change the colour; a black image has none.
    const torch::Tensor noisy
        = (rgb.to(torch::kInt32) + (torch::rand(rgb.sizes()) * 40).to(torch::kInt32)).clamp(0, 255).to(torch::kUInt8);
    QVERIFY(torch::equal(data::dominantColour(noisy), colours));
    QCOMPARE(
        data::dominantColour(torch::zeros({ 1, 3, 8, 8 }, torch::kUInt8))[0].item<std::int64_t>(), std::int64_t { -1 });

    at::Generator generator = diffusion::cpuGenerator(5);
    const data::CaptionedBatch batch = data::captionedBatch(set, { 7, 17, 3 }, generator);
    QCOMPARE(batch.captions.size(), std::size_t { 3 });
    QVERIFY(batch.captions[0].find(
                data::fashionPalette()[static_cast<std::size_t>(batch.colours[0].item<std::int64_t>())].name)
        != std::string::npos);
    QVERIFY(torch::equal(data::dominantColour(batch.images), batch.colours));
    at::Generator again = diffusion::cpuGenerator(5);
    QCOMPARE(data::captionedBatch(set, { 7, 17, 3 }, again).captions, batch.captions);
}

void TestT2iTrain::ddpmLossIsZeroForThePerfectPredictor()
{
    const diffusion::DdpmSchedule schedule;
    const torch::Tensor x0 = torch::rand({ 4, 3, 8, 8 }) * 2 - 1;
    at::Generator generator = diffusion::cpuGenerator(1);
    const diffusion::DdpmDraw draw = diffusion::drawDdpm(x0, schedule, generator);
    QVERIFY(draw.timesteps.min().item<std::int64_t>() >= 0 && draw.timesteps.max().item<std::int64_t>() < 1000);
    const auto perfect = [&](const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) { return draw.noise; };
    QCOMPARE(diffusion::ddpmLossPerImage(perfect, x0, {}, schedule, draw).sum().item<double>(), 0.0);
    const auto zero
        = [](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor&) { return torch::zeros_like(x); };
    QVERIFY(torch::allclose(
        diffusion::ddpmLossPerImage(zero, x0, {}, schedule, draw), draw.noise.pow(2).mean({ 1, 2, 3 })));
    // The network sees x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε at the drawn t.
    const auto alphaBar = diffusion::alphasCumprod(schedule);
    const auto check = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor&) {
        for (std::int64_t i = 0; i < 4; ++i) {
            const double a = alphaBar[static_cast<std::size_t>(t[i].item<std::int64_t>())];
            const torch::Tensor expected = std::sqrt(a) * x0[i] + std::sqrt(1 - a) * draw.noise[i];
            if (!torch::allclose(x[i], expected, 1e-5, 1e-5))
                throw Error("x_t differs");
        }
        return torch::zeros_like(x);
    };
    diffusion::ddpmLossPerImage(check, x0, {}, schedule, draw);
}

void TestT2iTrain::ddpmLossOfAVPredictionModelTargetsV()
{
    diffusion::DdpmSchedule schedule;
    schedule.prediction = diffusion::PredictionType::VPrediction;
    const torch::Tensor x0 = torch::rand({ 3, 2, 4, 4 }) * 2 - 1;
    at::Generator generator = diffusion::cpuGenerator(4);
    const diffusion::DdpmDraw draw = diffusion::drawDdpm(x0, schedule, generator);
    // v = √ᾱ_t·ε − √(1 − ᾱ_t)·x0 per image, computed here in float64 from ᾱ_t of the drawn t (diffusers'
    // get_velocity).
    const auto alphaBar = diffusion::alphasCumprod(schedule);
    std::vector<torch::Tensor> rows;
    for (std::int64_t i = 0; i < 3; ++i) {
        const double a = alphaBar[static_cast<std::size_t>(draw.timesteps[i].item<std::int64_t>())];
        rows.push_back(std::sqrt(a) * draw.noise[i].to(torch::kFloat64) - std::sqrt(1 - a) * x0[i].to(torch::kFloat64));
    }
    const torch::Tensor v = torch::stack(rows);
    const auto returning = [](const torch::Tensor& out) {
        return
            [out](const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) { return out.to(torch::kFloat32); };
    };
    QVERIFY(diffusion::ddpmLossPerImage(returning(v), x0, {}, schedule, draw).max().item<double>() < 1e-12);
    // A predictor off by d has loss mean(d²) per image; one that outputs ε (right for an ε-model) is off by ε − v.
    const torch::Tensor d = torch::linspace(-1, 1, 3 * 2 * 4 * 4, torch::kFloat64).view({ 3, 2, 4, 4 });
    QVERIFY(torch::allclose(diffusion::ddpmLossPerImage(returning(v + d), x0, {}, schedule, draw),
        d.pow(2).mean({ 1, 2, 3 }).to(torch::kFloat32), 1e-5, 1e-7));
    const torch::Tensor epsLoss = diffusion::ddpmLossPerImage(returning(draw.noise), x0, {}, schedule, draw);
    QVERIFY(torch::allclose(epsLoss, (draw.noise - v).pow(2).mean({ 1, 2, 3 }).to(torch::kFloat32), 1e-5, 1e-7));
    QVERIFY(epsLoss.min().item<double>() > 1e-4);
    // The ε-model's loss of the same predictor is zero: the schedule's type decides the target.
    QVERIFY(diffusion::ddpmLossPerImage(returning(draw.noise), x0, {}, diffusion::DdpmSchedule {}, draw)
                .max()
                .item<double>()
        == 0.0);
}

void TestT2iTrain::offsetNoiseShiftsEachChannelByOneConstant()
{
    const diffusion::DdpmSchedule schedule;
    const torch::Tensor x0 = torch::zeros({ 64, 3, 8, 8 });
    at::Generator plainGenerator = diffusion::cpuGenerator(5);
    at::Generator offsetGenerator = diffusion::cpuGenerator(5);
    const diffusion::DdpmDraw plain = diffusion::drawDdpm(x0, schedule, plainGenerator);
    const diffusion::DdpmDraw offset = diffusion::drawDdpm(x0, schedule, offsetGenerator, 0.5);
    // The same timesteps and per-pixel noise, plus one constant per image and channel.
    QVERIFY(torch::equal(plain.timesteps, offset.timesteps));
    const torch::Tensor shift = offset.noise - plain.noise;
    QVERIFY(torch::allclose(shift, shift.mean({ 2, 3 }, true).expand_as(shift), 1e-5, 1e-6));
    const double spread = shift.mean({ 2, 3 }).std().item<double>();
    QVERIFY2(spread > 0.4 && spread < 0.6, std::to_string(spread).c_str());
    // Offset 0 draws nothing more: the generator continues as after a plain draw.
    at::Generator again = diffusion::cpuGenerator(5);
    diffusion::drawDdpm(x0, schedule, again, 0.0);
    QVERIFY(torch::equal(torch::randn({ 4 }, again), torch::randn({ 4 }, plainGenerator)));
    at::Generator any = diffusion::cpuGenerator(1);
    LETHE_COMPARE_STR(errorMessage([&] { diffusion::drawDdpm(x0, schedule, any, -0.1); }),
        "noise offset must be a finite number ≥ 0, found -0.100000");

    // The trainer records it, refuses nonsense, and does not resume a run saved with another offset.
    ScratchDir dir;
    train::T2iPretrainConfig config = tinyConfig(2);
    config.noiseOffset = 0.1;
    QCOMPARE(io::configFromJson<train::T2iPretrainConfig>(io::configToJson(config)).noiseOffset, 0.1);
    train::T2iPretrainConfig tooLarge = config;
    tooLarge.noiseOffset = 2;
    LETHE_COMPARE_STR(
        errorMessage([&] { train::T2iPretrainer(tooLarge, tinyGarments(), torch::kCPU, dir / "m", "x"); }),
        "noise offset must be in [0, 1], found 2.000000");
    {
        train::T2iPretrainer trainer(config, tinyGarments(), torch::kCPU, dir / "m", "x");
        trainer.run({});
        const auto manifest = nlohmann::json::parse(test::readBytes(dir / "m" / "lethe-manifest.json"));
        QCOMPARE(manifest.at("config").at("noise_offset").get<double>(), 0.1);
    }
    train::T2iPretrainConfig plainConfig = tinyConfig(4);
    train::T2iPretrainer other(plainConfig, tinyGarments(), torch::kCPU, dir / "m", "x");
    LETHE_COMPARE_STR(errorMessage([&] { other.resume(); }),
        train::T2iPretrainer::statePath(dir / "m").string()
            + ": __metadata__ config 'noise_offset': the saved run used other settings than this command asks for");
}

void TestT2iTrain::trainerWritesALoadableDiffusersFolder()
{
    ScratchDir dir;
    const auto out = dir / "model";
    train::T2iPretrainer trainer(tinyConfig(4), tinyGarments(), torch::kCPU, out, "lethe-cli pretrain-t2i --test");
    std::vector<std::int64_t> checkpoints;
    double firstLoss = 0;
    trainer.run([&](const train::PretrainProgress& p) {
        if (p.checkpointWritten)
            checkpoints.push_back(p.step);
        if (p.step == 1)
            firstLoss = p.loss;
        QVERIFY(std::isfinite(p.loss) && p.loss > 0);
    });
    QCOMPARE(checkpoints, (std::vector<std::int64_t> { 2, 4 }));
    QVERIFY(firstLoss > 0.1);

    const auto manifest = nlohmann::json::parse(test::readBytes(out / "lethe-manifest.json"));
    LETHE_COMPARE_STR(manifest.at("command").get<std::string>(), "lethe-cli pretrain-t2i --test");
    QCOMPARE(manifest.at("steps").get<std::int64_t>(), std::int64_t { 4 });
    QCOMPARE(manifest.at("images_seen").get<std::int64_t>(), std::int64_t { 24 });
    QCOMPARE(manifest.at("seed").get<std::uint64_t>(), std::uint64_t { 3 });
    QVERIFY(manifest.at("wall_seconds").get<double>() > 0);
    QVERIFY(!std::filesystem::exists(dir / "model.partial") && !std::filesystem::exists(dir / "model.old"));
    // What the Concept tab opens it with: the built-in model's values (it was trained with caption dropout too).
    LETHE_COMPARE_STR(manifest.at("recommended_preset").get<std::string>(), "fmnist-t2i");
    QCOMPARE(manifest.at("recommended_drawing"), nlohmann::json({ { "sampler_steps", 30 }, { "guidance", 3.0 } }));
    LETHE_COMPARE_STR(manifest.at("recommended_prompt_preset").get<std::string>(), "fashion-colours");

    // The folder is a pixel-space Stable Diffusion: it loads and generates from captions.
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(out, {});
    QCOMPARE(sd.vaeParameters(), std::int64_t { 0 });
    QCOMPARE(sd.defaultImageSize(), std::int64_t { 8 });
    QCOMPARE(sd.unetParameters(), trainer.unetParameters());
    diffusion::TextToImageRequest request;
    request.prompts = { data::fashionCaption(7, 0) };
    request.seeds = { 1, 2 };
    request.height = request.width = 8;
    request.sampler.steps = 2;
    const auto images = diffusion::generate(sd.model(), request);
    QCOMPARE(images->sizes(), (std::vector<std::int64_t> { 2, 3, 8, 8 }));
    // The folder holds the EMA networks, which the state file keeps beside the raw ones.
    const auto state = tensorsOf(train::T2iPretrainer::statePath(out));
    const auto unet = tensorsOf(out / "unet" / "diffusion_pytorch_model.safetensors");
    QVERIFY(torch::equal(unet.at("conv_in.weight"), state.at("ema.unet.conv_in.weight")));
    QVERIFY(!torch::equal(state.at("net.unet.conv_in.weight"), state.at("ema.unet.conv_in.weight")));

    // Trained without empty captions, a model has no unconditional prediction for guidance to contrast with.
    train::T2iPretrainConfig unguided = tinyConfig(1);
    unguided.captionDropout = 0.0;
    train::T2iPretrainer plain(unguided, tinyGarments(), torch::kCPU, dir / "unguided", "x");
    plain.run([](const train::PretrainProgress&) {});
    QCOMPARE(nlohmann::json::parse(test::readBytes(dir / "unguided" / "lethe-manifest.json")).at("recommended_drawing"),
        nlohmann::json({ { "sampler_steps", 30 }, { "guidance", 1.0 } }));
}

void TestT2iTrain::resumedRunIsBitIdentical()
{
    ScratchDir dir;
    {
        train::T2iPretrainer trainer(tinyConfig(5), tinyGarments(), torch::kCPU, dir / "straight", "a");
        trainer.run({});
    }
    {
        std::atomic<bool> cancel { false };
        train::T2iPretrainer first(tinyConfig(5), tinyGarments(), torch::kCPU, dir / "resumed", "a");
        first.run([&](const train::PretrainProgress& p) { cancel.store(p.step == 3); }, &cancel);
        QCOMPARE(first.step(), std::int64_t { 3 });
        train::T2iPretrainer second(tinyConfig(5), tinyGarments(), torch::kCPU, dir / "resumed", "a");
        second.resume();
        QCOMPARE(second.step(), std::int64_t { 3 });
        second.run({});
    }
    const auto a = tensorsOf(train::T2iPretrainer::statePath(dir / "straight"));
    const auto b = tensorsOf(train::T2iPretrainer::statePath(dir / "resumed"));
    QCOMPARE(a.size(), b.size());
    for (const auto& [name, tensor] : a)
        if (name != "train.wall_seconds")
            QVERIFY2(torch::equal(tensor, b.at(name)), name.c_str());

    // Other settings are refused by name.
    train::T2iPretrainConfig other = tinyConfig(5);
    other.batch = 4;
    train::T2iPretrainer third(other, tinyGarments(), torch::kCPU, dir / "resumed", "a");
    LETHE_COMPARE_STR(errorMessage([&] { third.resume(); }),
        train::T2iPretrainer::statePath(dir / "resumed").string()
            + ": __metadata__ config 'batch': the saved run used other settings than this command asks for");
}

void TestT2iTrain::badConfigsAndDataAreRefused()
{
    ScratchDir dir;
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<train::T2iPretrainConfig>({ { "batchsize", 3 } });
    }),
        "text-to-image training config: unknown key 'batchsize'");
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<train::T2iPretrainConfig>({ { "batch", "3" } });
    }),
        "text-to-image training config: key 'batch' has the wrong type (string)");
    const train::T2iPretrainConfig config = tinyConfig(3);
    QCOMPARE(io::configToJson(io::configFromJson<train::T2iPretrainConfig>(io::configToJson(config))),
        io::configToJson(config));

    data::ImageSet rgb = tinyGarments();
    rgb.images = rgb.images.repeat({ 1, 3, 1, 1 });
    LETHE_COMPARE_STR(errorMessage([&] { train::T2iPretrainer(config, rgb, torch::kCPU, dir / "m", "x"); }),
        "text-to-image pretraining takes grayscale Fashion-MNIST-style images in 10 classes; tiny garments has 3 "
        "channel(s) and 10 classes");
    train::T2iPretrainConfig wrongSize = config;
    wrongSize.unet["sample_size"] = 16;
    LETHE_COMPARE_STR(
        errorMessage([&] { train::T2iPretrainer(wrongSize, tinyGarments(), torch::kCPU, dir / "m", "x"); }),
        "the UNet must take and return 3 channels at the data's size, 8×8");
    train::T2iPretrainConfig narrow = config;
    narrow.textEncoder = train::builtinT2iTextConfig(700, 16, 8);
    LETHE_COMPARE_STR(errorMessage([&] { train::T2iPretrainer(narrow, tinyGarments(), torch::kCPU, dir / "m", "x"); }),
        "the text encoder's hidden_size (8) must equal the UNet's cross_attention_dim (16)");
    train::T2iPretrainConfig dropout = config;
    dropout.captionDropout = 1.0;
    LETHE_COMPARE_STR(errorMessage([&] { train::T2iPretrainer(dropout, tinyGarments(), torch::kCPU, dir / "m", "x"); }),
        "caption dropout must be in [0, 1), found 1.000000");
}

void TestT2iTrain::fineTuningStartsFromAModelsWeights()
{
    ScratchDir dir;
    train::T2iPretrainConfig parentConfig = tinyConfig(2);
    parentConfig.betaSchedule = "scaled_linear";
    {
        train::T2iPretrainer parent(parentConfig, tinyGarments(), torch::kCPU, dir / "parent", "p");
        parent.run({});
    }
    // The written scheduler is the run's: Stable Diffusion's for the parent, DDPM's linear one by default.
    const auto parentScheduler
        = nlohmann::json::parse(test::readBytes(dir / "parent" / "scheduler" / "scheduler_config.json"));
    LETHE_COMPARE_STR(parentScheduler.at("beta_schedule").get<std::string>(), "scaled_linear");

    train::T2iPretrainer child(tinyConfig(1), tinyGarments(), torch::kCPU, dir / "child", "c");
    child.initialiseFrom(dir / "parent");
    std::atomic<bool> cancel { true };
    child.run({}, &cancel); // writes the checkpoint of step 0: the parent's networks, unchanged
    const auto parentUnet = tensorsOf(dir / "parent" / "unet" / "diffusion_pytorch_model.safetensors");
    const auto childState = tensorsOf(train::T2iPretrainer::statePath(dir / "child"));
    for (const auto& [name, tensor] : parentUnet) {
        QVERIFY2(torch::equal(tensor, childState.at("net.unet." + name)), name.c_str());
        QVERIFY2(torch::equal(tensor, childState.at("ema.unet." + name)), name.c_str());
    }
    const auto manifest = nlohmann::json::parse(test::readBytes(dir / "child" / "lethe-manifest.json"));
    LETHE_COMPARE_STR(manifest.at("initialised_from").at("path").get<std::string>(), (dir / "parent").string());
    QCOMPARE(manifest.at("initialised_from").at("steps").get<std::int64_t>(), std::int64_t { 2 });
    const auto scheduler
        = nlohmann::json::parse(test::readBytes(dir / "child" / "scheduler" / "scheduler_config.json"));
    LETHE_COMPARE_STR(scheduler.at("beta_schedule").get<std::string>(), "linear");
    QCOMPARE(scheduler.at("beta_start").get<double>(), 1e-4);
    QCOMPARE(scheduler.at("beta_end").get<double>(), 0.02);
    QCOMPARE(scheduler.at("clip_sample").get<bool>(), true); // Pixels in [−1, 1]: DDIM clamps its x₀ there.

    // Other networks are refused, naming the first parameter that differs; so is an unknown schedule.
    train::T2iPretrainConfig wider = tinyConfig(1);
    wider.unet["block_out_channels"] = { 16, 32 };
    train::T2iPretrainer other(wider, tinyGarments(), torch::kCPU, dir / "other", "o");
    LETHE_COMPARE_STR(errorMessage([&] { other.initialiseFrom(dir / "parent"); }),
        (dir / "parent").string()
            + ": its UNet differs from the one to train (at 'conv_in.weight'); starting from a model needs the same "
              "networks");
    train::T2iPretrainConfig cosine = tinyConfig(1);
    cosine.betaSchedule = "cosine";
    LETHE_COMPARE_STR(errorMessage([&] { train::T2iPretrainer(cosine, tinyGarments(), torch::kCPU, dir / "m", "x"); }),
        "beta schedule must be \"linear\" or \"scaled_linear\", found \"cosine\"");
}

void TestT2iTrain::builtinModelLoadsAndRecordsItsProvenance()
{
    // The bundled text-to-image model: the built-in architecture in pixel space, DDPM's linear schedule with
    // clip_sample, and a manifest that says how it was made.
    const std::filesystem::path folder = resourceFile(std::string("models/") + kBuiltinT2iModel);
    const models::sd::StableDiffusion sd = models::sd::loadStableDiffusion(folder, {});
    QCOMPARE(sd.unetParameters(), std::int64_t { 1061843 });
    QCOMPARE(sd.vaeParameters(), std::int64_t { 0 });
    QCOMPARE(sd.defaultImageSize(), std::int64_t { 32 });
    QVERIFY(sd.schedule().betaSchedule == diffusion::BetaSchedule::Linear);
    QVERIFY(sd.schedule().clipSample);
    const auto manifest = nlohmann::json::parse(test::readBytes(folder / "lethe-manifest.json"));
    LETHE_COMPARE_STR(manifest.at("method").get<std::string>(), "pretrain-t2i");
    QVERIFY(manifest.at("command").get<std::string>().find("pretrain-t2i") != std::string::npos);
    QVERIFY(manifest.at("steps").get<std::int64_t>() > 0);
    QVERIFY(manifest.at("wall_seconds").get<double>() > 0);
    QVERIFY(manifest.contains("seed") && manifest.contains("created") && manifest.contains("initialised_from"));
}

void TestT2iTrain::promptsNameTheirGarmentAndColour()
{
    const auto check = [](const std::string& prompt, int garment, int colour) {
        const eval::FashionTargets t = eval::fashionTargets(prompt);
        QVERIFY2(t.garment == garment && t.colour == colour,
            (prompt + ": " + std::to_string(t.garment) + ", " + std::to_string(t.colour)).c_str());
    };
    check("a photo of a red sneaker", 7, 0);
    check("A Pink T-Shirt", 0, 6); // "t-shirt", not "shirt"
    check("a white button-up shirt", 6, 5);
    check("an ankle boot in blue", 9, 2);
    check("purple pair of pants", 1, 4);
    check("a photo of a running shoe", 7, -1);
    check("a redwood tree", -1, -1); // Words, not letters inside words.
    check("a top hat", 0, -1);
}

void TestT2iTrain::fashionMeasuresCountGarmentsAndColours()
{
    // A classifier that reads every image as class 3, on recoloured images of known colours.
    models::ResNetClassifier classifier(models::ResNetClassifierOptions(1, 10).width(4).blocks({ 1 }));
    {
        torch::NoGradGuard noGrad;
        for (auto& p : classifier->named_parameters())
            p.value().zero_();
        for (auto& p : classifier->named_parameters())
            if (p.key().find("bias") != std::string::npos && p.value().size(0) == 10)
                p.value()[3] = 1.0;
    }
    const data::ImageSet set = tinyGarments();
    const torch::Tensor colours = torch::tensor({ 0, 0, 0, 2, 5 }, torch::kInt64);
    torch::Tensor rgb = data::recolour(set.images.narrow(0, 0, 5), colours);
    rgb = torch::cat({ rgb, torch::zeros({ 1, 3, 8, 8 }, torch::kUInt8) }); // A black image: no colour.
    // One speck (1 of 64 pixels, under 2 %) is no garment; two (3.1 %) are read.
    torch::Tensor speck = torch::zeros({ 2, 3, 8, 8 }, torch::kUInt8);
    speck.index_put_({ torch::indexing::Slice(), 0, 4, 4 }, 200);
    speck.index_put_({ 1, 0, 5, 5 }, 40);
    rgb = torch::cat({ rgb, speck });
    const eval::FashionReadings read = eval::readFashionImages(classifier, rgb);
    QCOMPARE(read.garments.sizes(), (std::vector<std::int64_t> { 8 }));
    QVERIFY(torch::equal(read.garments, torch::tensor({ 3, 3, 3, 3, 3, -1, -1, 3 }, torch::kInt64)));
    rgb = rgb.narrow(0, 0, 6);
    // The classifier sees the brightest channel with the faint haze under 32 cleared.
    torch::Tensor hazy = torch::full({ 1, 3, 2, 2 }, 31, torch::kUInt8);
    hazy.index_put_({ 0, 2, 0, 0 }, 32);
    hazy.index_put_({ 0, 1, 1, 1 }, 200);
    QVERIFY(
        torch::equal(eval::garmentInput(hazy), torch::tensor({ 32, 0, 0, 200 }, torch::kUInt8).view({ 1, 1, 2, 2 })));
    const eval::FashionMeasure m = eval::measureFashionImages(classifier, rgb);
    QCOMPARE(m.images, std::int64_t { 6 });
    QCOMPARE(m.blank, std::int64_t { 1 }); // The black image shows no garment: the classifier is not asked.
    QCOMPARE(m.garmentRate(3), 5.0 / 6);
    QCOMPARE(m.garmentRate(7), 0.0);
    QCOMPARE(m.colourRate(0), 0.5);
    QCOMPARE(m.colourRate(2), 1.0 / 6);
    QCOMPARE(m.colourRate(1), 0.0);
    QCOMPARE(m.colourRate(99), 0.0);
    LETHE_COMPARE_STR(errorMessage([&] { eval::measureFashionImages(classifier, set.images); }),
        "fashion measures: expected uint8 RGB images [N, 3, H, W]");
}

QTEST_APPLESS_MAIN(TestT2iTrain)
#include "test_t2i_train.moc"
