// Concept runs as the reference codes make them: x₀ drawn from the VAE posterior at every use (the paper's SD code,
// CompVis' DiagonalGaussianDistribution) or its mean, and ESD as its authors run it (rohitgandikota/erasing,
// train-scripts/train-esd.py): their ESD-u parameters, their bucket timesteps and the esd-paper preset.
#include "core/diffusion/ddpm_loss.h"
#include "core/diffusion/ddpm_sampler.h"
#include "core/diffusion/denoiser.h"
#include "core/error.h"
#include "core/io/config_json.h"
#include "core/models/sd/compvis_keys.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/concept_session.h"
#include "run_fixtures.h"
#include "test_support.h"
#include "tiny_sd.h"

#include <torch/torch.h>

#include <QtTest>

#include <set>

using namespace lethe;
using lethe::models::sd::loadStableDiffusion;
using lethe::models::sd::StableDiffusion;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;
using lethe::unlearn::ConceptConfig;
using lethe::unlearn::ConceptMethod;
using lethe::unlearn::ConceptPair;
using lethe::unlearn::ConceptSession;
using lethe::unlearn::EsdTimestep;
using lethe::unlearn::LatentMode;
using lethe::unlearn::ParameterGroup;
using lethe::unlearn::StepReport;

namespace {

/// Runs one step of `session` and returns its report.
StepReport oneStep(ConceptSession& session)
{
    struct Hook : unlearn::RunObserver {
        StepReport report;
        void onStep(const StepReport& r) override { report = r; }
    } hook;
    unlearn::RunControl control;
    session.run(hook, control);
    return hook.report;
}

/// Seeded uint8 images [n, 3, 16, 16] for the tiny latent model.
torch::Tensor pixelsOf(std::int64_t n, std::uint64_t seed)
{
    at::Generator generator = diffusion::cpuGenerator(seed);
    return torch::randint(0, 256, { n, 3, 16, 16 }, generator, torch::kUInt8);
}

/// The tiny UNet's layout, as the CompVis name mapping needs it.
models::sd::UNetLayout layoutOf(const models::sd::UNet2DConditionOptions& options)
{
    models::sd::UNetLayout layout;
    layout.blocks = static_cast<int>(options.block_out_channels().size());
    layout.layersPerBlock = static_cast<int>(options.layers_per_block().front());
    layout.downHasAttention.clear();
    for (const std::string& type : options.down_block_types())
        layout.downHasAttention.push_back(type == "CrossAttnDownBlock2D");
    layout.upHasAttention.clear();
    for (const std::string& type : options.up_block_types())
        layout.upHasAttention.push_back(type == "CrossAttnUpBlock2D");
    return layout;
}

} // namespace

class TestConceptReference : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void posteriorDrawsAreSeeded();
    void pairsCarryTheClampedLogVariance();
    void stepsDrawTheirLatentsInTheDocumentedOrder();
    void latentSettingsRoundTripThroughJson();
    void esdUIsTheAuthorsParameterSet();
    void bucketTimestepsAreTheAuthors();
    void esdPaperPresetRuns();

private:
    ScratchDir m_dir;
    std::optional<StableDiffusion> m_pixel;
    std::optional<StableDiffusion> m_latent;
};

void TestConceptReference::initTestCase()
{
    torch::set_num_threads(1);
    lethe::test::writeTinyDiffusersFolder(m_dir / "pixel", false);
    lethe::test::writeTinyDiffusersFolder(m_dir / "latent", true);
    m_pixel.emplace(loadStableDiffusion(m_dir / "pixel", {}));
    m_latent.emplace(loadStableDiffusion(m_dir / "latent", {}));
}

void TestConceptReference::posteriorDrawsAreSeeded()
{
    at::Generator source = diffusion::cpuGenerator(11);
    const torch::Tensor images = torch::randn({ 2, 4, 3, 3 }, source);
    const torch::Tensor logvar = torch::randn({ 2, 4, 3, 3 }, source) * 2;
    const double scale = 0.18215;
    at::Generator generator = diffusion::cpuGenerator(5);
    const torch::Tensor first = unlearn::samplePosterior(images, logvar, scale, generator);
    const torch::Tensor second = unlearn::samplePosterior(images, logvar, scale, generator);
    // (mean + σ·ε) × scale with σ = exp(½·logvar), ε from the generator: the images already hold mean × scale.
    at::Generator again = diffusion::cpuGenerator(5);
    const torch::Tensor epsilon = torch::randn({ 2, 4, 3, 3 }, again);
    QVERIFY(torch::equal(first, images + scale * torch::exp(0.5 * logvar) * epsilon));
    // The same seed gives the same draws in the same order; each further draw is a new one.
    at::Generator repeat = diffusion::cpuGenerator(5);
    QVERIFY(torch::equal(unlearn::samplePosterior(images, logvar, scale, repeat), first));
    QVERIFY(torch::equal(unlearn::samplePosterior(images, logvar, scale, repeat), second));
    QVERIFY(!torch::equal(first, second));
    // σ·scale is the spread: with logvar −30 (the clamp's floor) the draw is the mean to within 1e-6.
    at::Generator tight = diffusion::cpuGenerator(5);
    QVERIFY(torch::allclose(
        unlearn::samplePosterior(images, torch::full_like(logvar, -30.0), scale, tight), images, 0.0, 1e-6));
}

void TestConceptReference::pairsCarryTheClampedLogVariance()
{
    // A VAE whose quant_conv gives log-variances far outside [−30, 20] on two channels, 0.5 on a third.
    lethe::test::writeTinyDiffusersFolder(m_dir / "wide", true);
    const StableDiffusion sd = loadStableDiffusion(m_dir / "wide", {});
    const std::int64_t latent = sd.vae()->options.latent_channels();
    {
        torch::NoGradGuard noGrad;
        auto& conv = sd.vae()->quant_conv;
        conv->weight.slice(0, latent, 2 * latent).zero_();
        conv->bias.slice(0, latent, 2 * latent).copy_(torch::tensor({ 1000.0, -1000.0, 0.5, 0.0 }));
    }
    const torch::Tensor pixels = pixelsOf(3, 1);
    const std::vector<ConceptPair> pairs = unlearn::conceptPairsOf(sd, { "a", "b", "c" }, pixels, 2);
    QCOMPARE(pairs.size(), std::size_t { 3 });
    torch::Tensor mean;
    {
        torch::NoGradGuard noGrad;
        mean = sd.vae()->encode(pixels.to(torch::kFloat32) / 127.5 - 1).mean;
    }
    const torch::Tensor images = unlearn::toModelInput(sd, pixels, 2);
    for (std::int64_t i = 0; i < 3; ++i) {
        const ConceptPair& pair = pairs[static_cast<std::size_t>(i)];
        LETHE_COMPARE_STR(pair.prompt, std::string(1, static_cast<char>('a' + i)));
        QVERIFY(torch::equal(pair.image, images[i]));
        QVERIFY(torch::allclose(pair.image, mean[i] * 0.18215, 1e-5, 1e-5));
        QCOMPARE(pair.logvar.sizes(), pair.image.sizes());
        QCOMPARE(pair.logvar.scalar_type(), torch::kFloat32);
        QVERIFY(torch::equal(pair.logvar[0], torch::full_like(pair.logvar[0], 20.0)));
        QVERIFY(torch::equal(pair.logvar[1], torch::full_like(pair.logvar[1], -30.0)));
        QVERIFY(torch::equal(pair.logvar[2], torch::full_like(pair.logvar[2], 0.5)));
    }
    // Pixel space has no posterior.
    const auto pixelPairs = unlearn::conceptPairsOf(*m_pixel, { "a" }, torch::zeros({ 1, 3, 8, 8 }, torch::kUInt8), 2);
    QVERIFY(!pixelPairs[0].logvar.defined());
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::conceptPairsOf(sd, { "a" }, pixels, 2); }),
        "concept unlearning: 1 prompts but images [3, 3, 16, 16]");
}

void TestConceptReference::stepsDrawTheirLatentsInTheDocumentedOrder()
{
    const StableDiffusion& sd = *m_latent;
    const auto forget = unlearn::conceptPairsOf(sd, { "forget a" }, pixelsOf(1, 2));
    const auto remain = unlearn::conceptPairsOf(sd, { "remain b" }, pixelsOf(1, 3));
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::GradDiff);
    config.forgetBatch = 1;
    config.remainBatch = 1;
    config.steps = 1;

    // One step by hand: forget posterior ε, forget t and noise, remain posterior ε, remain t and noise; with
    // latents "mean" no posterior draws, x₀ the pairs' images (mean × scale) themselves.
    const auto byHand = [&](LatentMode mode) {
        at::Generator generator = diffusion::cpuGenerator(config.seed);
        const auto x0 = [&](const ConceptPair& pair) {
            const torch::Tensor image = pair.image.unsqueeze(0);
            return mode == LatentMode::Sample
                ? unlearn::samplePosterior(image, pair.logvar.unsqueeze(0), 0.18215, generator)
                : image;
        };
        const torch::Tensor forgetX0 = x0(forget[0]);
        const diffusion::DdpmDraw forgetDraw = diffusion::drawDdpm(forgetX0, sd.schedule(), generator);
        const torch::Tensor remainX0 = x0(remain[0]);
        const diffusion::DdpmDraw remainDraw = diffusion::drawDdpm(remainX0, sd.schedule(), generator);
        torch::NoGradGuard noGrad;
        auto unet = sd.unet();
        const diffusion::ConditionalNoisePredictor predict
            = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& c) {
                  return unet->forward(x, t, c);
              };
        const auto context = [&](const std::string& prompt) {
            return sd.textEncoder()->forward(sd.tokenizer().encodeBatch({ prompt })).last_hidden_state;
        };
        return std::make_pair(
            diffusion::ddpmLossPerImage(predict, forgetX0, context(forget[0].prompt), sd.schedule(), forgetDraw)
                .mean()
                .item<double>(),
            diffusion::ddpmLossPerImage(predict, remainX0, context(remain[0].prompt), sd.schedule(), remainDraw)
                .mean()
                .item<double>());
    };
    const auto session = [&](LatentMode mode, std::vector<ConceptPair> f, std::vector<ConceptPair> r) {
        ConceptConfig c = config;
        c.latents = mode;
        ConceptSession run(sd, std::move(f), std::move(r), c);
        const StepReport report = oneStep(run);
        return std::make_pair(report.forgetLoss, report.remainLoss);
    };
    const auto sampled = session(LatentMode::Sample, forget, remain);
    QCOMPARE(sampled, byHand(LatentMode::Sample));
    const auto mean = session(LatentMode::Mean, forget, remain);
    QCOMPARE(mean, byHand(LatentMode::Mean));
    QVERIFY(sampled.first != mean.first && sampled.second != mean.second);
    // The mean needs no log-variance; a draw does, and says which pair lacks it.
    auto bare = remain;
    bare[0].logvar = torch::Tensor();
    QCOMPARE(session(LatentMode::Mean, forget, bare), mean);
    LETHE_COMPARE_STR(errorMessage([&] { session(LatentMode::Sample, forget, bare); }),
        "concept unlearning: remain pair 1: latents 'sample' draws x₀ from the VAE posterior and needs the image's "
        "log-variance, float32 [4, 8, 8], found none (latents 'mean' trains on the posterior mean)");
    // ESD's sampled states use no forget images: their pairs need no log-variance.
    auto bareForget = forget;
    bareForget[0].logvar = torch::Tensor();
    ConceptConfig esd = config;
    esd.method = ConceptMethod::ESD;
    esd.esdSamplingSteps = 2;
    ConceptSession run(sd, bareForget, remain, esd);
    QVERIFY(std::isfinite(oneStep(run).forgetLoss));
    esd.esdSamplingSteps = 0;
    LETHE_COMPARE_STR(errorMessage([&] { ConceptSession(sd, bareForget, remain, esd); }),
        "concept unlearning: forget pair 1: latents 'sample' draws x₀ from the VAE posterior and needs the image's "
        "log-variance, float32 [4, 8, 8], found none (latents 'mean' trains on the posterior mean)");
}

void TestConceptReference::latentSettingsRoundTripThroughJson()
{
    const ConceptConfig defaults;
    QVERIFY(defaults.latents == LatentMode::Sample); // The paper's.
    QVERIFY(defaults.esdTimestep == EsdTimestep::Reached); // Lethe's ESD as it was.
    const nlohmann::json written = io::configToJson(defaults);
    QCOMPARE(written.at("latents"), nlohmann::json("sample"));
    QCOMPARE(written.at("esd_timestep"), nlohmann::json("reached"));
    ConceptConfig changed;
    changed.latents = LatentMode::Mean;
    changed.esdTimestep = EsdTimestep::Bucket;
    changed.parameters = ParameterGroup::EsdU;
    const nlohmann::json json = io::configToJson(changed);
    QCOMPARE(json.at("latents"), nlohmann::json("mean"));
    QCOMPARE(json.at("esd_timestep"), nlohmann::json("bucket"));
    QCOMPARE(json.at("parameters"), nlohmann::json("esd-u"));
    const auto read = io::configFromJson<ConceptConfig>(json);
    QVERIFY(read.latents == LatentMode::Mean);
    QVERIFY(read.esdTimestep == EsdTimestep::Bucket);
    QVERIFY(read.parameters == ParameterGroup::EsdU);
    QCOMPARE(io::configToJson(read), json);
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<ConceptConfig>({ { "latents", "posterior" } });
    }),
        "concept config: latents must be 'sample' or 'mean', found \"posterior\"");
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<ConceptConfig>({ { "esd_timestep", "uniform" } });
    }),
        "concept config: esd_timestep must be 'reached' or 'bucket', found \"uniform\"");
    LETHE_COMPARE_STR(errorMessage([] {
        io::configFromJson<ConceptConfig>({ { "latents", 1 } });
    }),
        "concept config: key 'latents' has the wrong type (number)");
}

void TestConceptReference::esdUIsTheAuthorsParameterSet()
{
    // By name: ESD-u leaves out cross-attention, the time embedding and the output layers, and nothing else.
    const std::pair<const char*, bool> names[] = { { "conv_in.weight", true }, { "conv_out.weight", false },
        { "conv_out.bias", false }, { "conv_norm_out.weight", false }, { "time_embedding.linear_1.weight", false },
        { "time_embedding.linear_2.bias", false },
        { "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", true },
        { "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", false },
        { "mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0.bias", false },
        { "down_blocks.0.resnets.0.time_emb_proj.weight", true }, // CompVis emb_layers: the authors train them.
        { "up_blocks.1.resnets.0.conv1.weight", true }, { "mid_block.attentions.0.proj_out.weight", true } };
    for (const auto& [name, in] : names) {
        QVERIFY2(unlearn::inParameterGroup(ParameterGroup::EsdU, name) == in, name);
        // Lethe's no-cross-attn group stays as it was: everything but attn2.
        QVERIFY2(unlearn::inParameterGroup(ParameterGroup::NoCrossAttention, name)
                == (std::string(name).find("attn2") == std::string::npos),
            name);
    }
    QCOMPARE(unlearn::parameterGroupFromName("esd-u"), std::optional<ParameterGroup>(ParameterGroup::EsdU));
    LETHE_COMPARE_STR(unlearn::parameterGroupName(ParameterGroup::EsdU), "esd-u");

    // On every parameter of a UNet: in ESD-u exactly when the authors' rule on its CompVis name keeps it
    // (train-esd.py, noxattn: not name.startswith('out.'), 'attn2' not in name, 'time_embed' not in name).
    const models::sd::UNetLayout layout = layoutOf(m_pixel->unet()->options);
    std::set<std::string> trainedByAuthors;
    std::size_t outs = 0, timeEmbeds = 0, crosses = 0;
    for (const auto& item : m_pixel->unet()->named_parameters()) {
        const auto compvis = models::sd::diffusersToCompvisUNet(item.key(), layout);
        QVERIFY2(compvis.has_value(), item.key().c_str());
        const bool out = compvis->rfind("out.", 0) == 0;
        const bool timeEmbed = compvis->find("time_embed") != std::string::npos;
        const bool cross = compvis->find("attn2") != std::string::npos;
        outs += out;
        timeEmbeds += timeEmbed;
        crosses += cross;
        if (!out && !timeEmbed && !cross)
            trainedByAuthors.insert(item.key());
        QVERIFY2(unlearn::inParameterGroup(ParameterGroup::EsdU, item.key()) == (!out && !timeEmbed && !cross),
            (item.key() + " = " + *compvis).c_str());
    }
    QCOMPARE(outs, std::size_t { 4 }); // out.0 (norm) and out.2 (conv), weight and bias.
    QCOMPARE(timeEmbeds, std::size_t { 4 }); // time_embed.0 and time_embed.2.
    QVERIFY(crosses > 0);
    // A session with the group trains exactly those.
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::ESD);
    config.parameters = ParameterGroup::EsdU;
    ConceptSession session(*m_pixel, test::conceptPairs("forget", 2, 1), {}, config);
    const std::vector<std::string> trainable = session.trainableNames();
    QCOMPARE(std::set<std::string>(trainable.begin(), trainable.end()), trainedByAuthors);
}

void TestConceptReference::bucketTimestepsAreTheAuthors()
{
    // og_num = round(k/50·1000), og_num_lim = round((k+1)/50·1000): buckets of 20.
    for (std::int64_t k = 0; k < 50; ++k)
        QCOMPARE(unlearn::esdTimestepBucket(k, 50, 1000), std::make_pair(20 * k, 20 * k + 20));
    // Python's round() rounds half to even: 12.5 → 12, 37.5 → 38, 62.5 → 62, 87.5 → 88.
    QCOMPARE(unlearn::esdTimestepBucket(0, 8, 100), std::make_pair(std::int64_t { 0 }, std::int64_t { 12 }));
    QCOMPARE(unlearn::esdTimestepBucket(1, 8, 100), std::make_pair(std::int64_t { 12 }, std::int64_t { 25 }));
    QCOMPARE(unlearn::esdTimestepBucket(2, 8, 100), std::make_pair(std::int64_t { 25 }, std::int64_t { 38 }));
    QCOMPARE(unlearn::esdTimestepBucket(4, 8, 100), std::make_pair(std::int64_t { 50 }, std::int64_t { 62 }));
    QCOMPARE(unlearn::esdTimestepBucket(6, 8, 100), std::make_pair(std::int64_t { 75 }, std::int64_t { 88 }));

    const diffusion::DdpmSchedule& schedule = m_pixel->schedule();
    QCOMPARE(schedule.trainSteps, 1000);
    ConceptConfig config;
    config.esdSamplingSteps = 50;
    config.esdTimestep = EsdTimestep::Bucket;
    const auto draws = [&](const ConceptConfig& c, std::uint64_t seed) {
        at::Generator generator = diffusion::cpuGenerator(seed);
        std::vector<unlearn::EsdStateDraw> out;
        for (int i = 0; i < 200; ++i)
            out.push_back(unlearn::drawEsdState(schedule, c, { 1, 3, 2, 2 }, generator));
        return out;
    };
    const auto bucket = draws(config, 3);
    const auto repeated = draws(config, 3);
    std::set<std::int64_t> ks;
    for (std::size_t i = 0; i < bucket.size(); ++i) {
        const unlearn::EsdStateDraw& d = bucket[i];
        ks.insert(d.k);
        QVERIFY(d.k >= 0 && d.k < 50);
        QVERIFY2(d.timestep >= 20 * d.k && d.timestep < 20 * d.k + 20, std::to_string(d.timestep).c_str());
        // The authors' DDIM loop breaks after its step of index k − 1 (counting from the clean end).
        QCOMPARE(d.samplerSteps, std::min<std::int64_t>(50, 51 - d.k));
        QCOMPARE(d.start.sizes(), (std::vector<std::int64_t> { 1, 3, 2, 2 }));
        QCOMPARE(repeated[i].k, d.k);
        QCOMPARE(repeated[i].timestep, d.timestep);
        QVERIFY(torch::equal(repeated[i].start, d.start));
    }
    QVERIFY(ks.size() > 30);
    // The draw order: the start noise, k, then t in k's bucket.
    at::Generator generator = diffusion::cpuGenerator(3);
    QVERIFY(torch::equal(torch::randn({ 1, 3, 2, 2 }, generator), bucket[0].start));
    const auto k = torch::randint(0, 50, { 1 }, generator, torch::kInt64).item<std::int64_t>();
    QCOMPARE(k, bucket[0].k);
    QCOMPARE(
        torch::randint(20 * k, 20 * k + 20, { 1 }, generator, torch::kInt64).item<std::int64_t>(), bucket[0].timestep);

    // Reached (Lethe's): k steps from noise, t the DDIM timestep reached; the same start noise and k.
    config.esdTimestep = EsdTimestep::Reached;
    diffusion::DdpmSamplerOptions sampler;
    sampler.steps = 50;
    const std::vector<double> timesteps = diffusion::samplerTimesteps(schedule, sampler);
    const auto reached = draws(config, 3);
    QCOMPARE(reached[0].k, bucket[0].k);
    QVERIFY(torch::equal(reached[0].start, bucket[0].start));
    for (const unlearn::EsdStateDraw& d : reached) {
        QCOMPARE(d.samplerSteps, d.k);
        QCOMPARE(static_cast<double>(d.timestep), timesteps[static_cast<std::size_t>(d.k)]);
    }
    config.esdSamplingSteps = 0;
    LETHE_COMPARE_STR(errorMessage([&] { draws(config, 3); }),
        "concept unlearning: ESD sampling steps must be in 1…1000 to sample ESD's states, found 0");
}

void TestConceptReference::esdPaperPresetRuns()
{
    const ConceptConfig paper = unlearn::conceptPreset("esd-paper");
    QVERIFY(paper.method == ConceptMethod::ESD);
    QVERIFY(paper.parameters == ParameterGroup::EsdU);
    QCOMPARE(paper.forgetBatch, std::int64_t { 1 });
    QCOMPARE(paper.steps, std::int64_t { 1000 });
    QCOMPARE(paper.lr, 1e-5);
    QCOMPARE(paper.eta, 1.0);
    QCOMPARE(paper.esdSamplingSteps, std::int64_t { 50 });
    QCOMPARE(paper.esdGuidance, 3.0);
    QVERIFY(paper.esdTimestep == EsdTimestep::Bucket);
    QVERIFY(paper.latents == LatentMode::Sample);
    paper.validate();
    const auto names = unlearn::conceptPresetNames();
    QVERIFY(std::find(names.begin(), names.end(), "esd-paper") != names.end());

    // Shortened on the tiny model (4 sampler steps, 3 steps): finite, repeatable, and not the reached timesteps.
    const auto run = [&](EsdTimestep timestep) {
        ConceptConfig config = paper;
        config.steps = 3;
        config.esdSamplingSteps = 4;
        config.lr = 1e-3;
        config.esdTimestep = timestep;
        ConceptSession session(*m_pixel, test::conceptPairs("sneaker", 1, 1), {}, config);
        std::vector<double> losses;
        struct Hook : unlearn::RunObserver {
            std::vector<double>* losses = nullptr;
            void onStep(const StepReport& r) override { losses->push_back(r.forgetLoss); }
        } hook;
        hook.losses = &losses;
        unlearn::RunControl control;
        session.run(hook, control);
        return losses;
    };
    const std::vector<double> once = run(EsdTimestep::Bucket);
    QCOMPARE(once.size(), std::size_t { 3 });
    for (const double loss : once)
        QVERIFY(std::isfinite(loss) && loss > 0);
    QCOMPARE(run(EsdTimestep::Bucket), once);
    QVERIFY(run(EsdTimestep::Reached) != once);
}

QTEST_APPLESS_MAIN(TestConceptReference)
#include "test_concept_reference.moc"
