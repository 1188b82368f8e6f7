// Adversarial attacks on unlearned models: UnlearnDiffAtk's projected tokens, the soft prompt, the class attack's
// label vector, the end-to-end reports and the messages for bad input.
#include "core/attack/attack_run.h"
#include "core/attack/class_attack.h"
#include "core/attack/prompt_attack.h"
#include "core/diffusion/class_sampling.h"
#include "core/diffusion/ddpm_loss.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"
#include "core/models/edm/edm_config.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/concept_session.h"
#include "test_support.h"
#include "tiny_edm.h"
#include "tiny_sd.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QtTest>

#include <numeric>

using namespace lethe;
using lethe::models::sd::StableDiffusion;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

namespace {

/// The tiny model's denoising loss for `context` on `images`, at fixed timesteps and noise (seed).
double fixedLoss(
    const StableDiffusion& sd, const torch::Tensor& context, const torch::Tensor& images, std::uint64_t seed)
{
    torch::NoGradGuard noGrad;
    const torch::Tensor x0 = unlearn::toModelInput(sd, images).repeat({ 8, 1, 1, 1 });
    at::Generator generator = diffusion::cpuGenerator(seed);
    const diffusion::DdpmDraw draw = diffusion::drawDdpm(x0, sd.schedule(), generator);
    auto unet = sd.unet();
    const diffusion::ConditionalNoisePredictor predict = [&](const torch::Tensor& x, const torch::Tensor& t,
                                                             const torch::Tensor& c) { return unet->forward(x, t, c); };
    return diffusion::ddpmLossPerImage(predict, x0, context.expand({ x0.size(0), -1, -1 }), sd.schedule(), draw)
        .mean()
        .item<double>();
}

/// Images the tiny model's base draws, as targets.
torch::Tensor targetsOf(const StableDiffusion& sd, const std::string& prompt, std::vector<std::int64_t> seeds)
{
    diffusion::TextToImageRequest request;
    request.prompts = { prompt };
    request.seeds = std::move(seeds);
    request.height = request.width = sd.defaultImageSize();
    request.guidance = 1.0;
    request.sampler.steps = 4;
    return *diffusion::generate(sd.model(), request);
}

} // namespace

class TestAttack : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void attackIdsPutTheTokensAfterBos();
    void projectionPicksTheNearestRealToken();
    void hardAttackLowersTheLossWithRealTokens();
    void softAttackLowersTheLoss();
    void attackLeavesTheModelUntouched();
    void attackRefusesBadInput();
    void withoutConceptRemovesTheWord();
    void conceptAttackReportsPreAndPostAsr();
    void conceptAttackCancels();
    void classAttackLowersTheLoss();
    void classAttackRefusesBadInput();
    void classAttackReports();

private:
    ScratchDir m_dir;
    std::optional<StableDiffusion> m_sd;
    torch::Tensor m_targets;
};

void TestAttack::initTestCase()
{
    torch::set_num_threads(1);
    test::writeTinyDiffusersFolder(m_dir / "pixel", false);
    m_sd.emplace(models::sd::loadStableDiffusion(m_dir / "pixel", {}));
    m_targets = targetsOf(*m_sd, "a b c", { 0, 1 });
}

void TestAttack::attackIdsPutTheTokensAfterBos()
{
    const auto& tokenizer = m_sd->tokenizer();
    const attack::AttackIds slots = attack::attackIds(tokenizer, "a b", 3);
    QCOMPARE(slots.first, std::int64_t { 1 });
    const std::vector<std::int64_t>& ids = slots.ids;
    QCOMPARE(static_cast<int>(ids.size()), tokenizer.maxLength());
    QCOMPARE(ids[0], tokenizer.bosId());
    const std::vector<std::int64_t> plain = tokenizer.encode("a b").ids;
    // BOS, three slots, "a", "b", EOS.
    QCOMPARE(ids[4], plain[1]);
    QCOMPARE(ids[5], plain[2]);
    QCOMPARE(ids[6], tokenizer.eosId());

    // A prompt too long for the slots loses its last tokens, never EOS.
    const std::vector<std::int64_t> longIds = attack::attackIds(tokenizer, "a b c d e f g h i j k l m n o", 5).ids;
    QCOMPARE(static_cast<int>(longIds.size()), tokenizer.maxLength());
    QCOMPARE(longIds.back(), tokenizer.eosId());
    QCOMPARE(longIds[6], tokenizer.encode("a").ids[1]);

    // After the prompt: BOS, "a", "b", three slots, EOS.
    const attack::AttackIds suffix = attack::attackIds(tokenizer, "a b", 3, attack::TokenPlacement::Suffix);
    QCOMPARE(suffix.first, std::int64_t { 3 });
    QCOMPARE(suffix.ids[1], plain[1]);
    QCOMPARE(suffix.ids[2], plain[2]);
    QCOMPARE(suffix.ids[6], tokenizer.eosId());
    const std::vector<std::int64_t> longSuffix
        = attack::attackIds(tokenizer, "a b c d e f g h i j k l m n o", 5, attack::TokenPlacement::Suffix).ids;
    QCOMPARE(longSuffix.back(), tokenizer.eosId());
    QCOMPARE(longSuffix[14], tokenizer.padId());

    LETHE_COMPARE_STR(errorMessage([&] { attack::attackIds(tokenizer, "a", 15); }),
        "attack: 15 adversarial tokens do not fit the text encoder's 16 positions");
}

void TestAttack::projectionPicksTheNearestRealToken()
{
    torch::manual_seed(5);
    const torch::Tensor table = torch::randn({ 12, 8 });
    const torch::Tensor candidates = torch::tensor({ 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, torch::kInt64);
    // Rows 4 and 9 scaled (cosine ignores the length) and disturbed a little; row 0 is not a candidate.
    const torch::Tensor query = torch::stack({ 3.0 * table[4] + 0.01 * torch::randn({ 8 }), 0.5 * table[9], table[0] });
    const torch::Tensor found = attack::projectToVocabulary(query, table, candidates);
    QCOMPARE(found[0].item<std::int64_t>(), 4);
    QCOMPARE(found[1].item<std::int64_t>(), 9);
    QVERIFY(found[2].item<std::int64_t>() != 0);

    const torch::Tensor allowed = attack::candidateTokens(m_sd->tokenizer(), m_sd->tokenizer().vocabSize());
    QCOMPARE(allowed.size(0), m_sd->tokenizer().vocabSize() - 2); // BOS and EOS (= pad) left out
    QVERIFY(!allowed.eq(m_sd->tokenizer().bosId()).any().item<bool>());
    QVERIFY(!allowed.eq(m_sd->tokenizer().eosId()).any().item<bool>());
}

void TestAttack::hardAttackLowersTheLossWithRealTokens()
{
    attack::PromptAttackOptions options;
    options.tokens = 3;
    options.steps = 30;
    options.lr = 0.1;
    options.timestepsPerStep = 4;
    std::vector<double> seen;
    const auto result = attack::attackPrompt(*m_sd, "x y", m_targets, options, [&](int step, int steps, double loss) {
        if (step > 0)
            seen.push_back(loss);
        return steps == 30;
    });
    QVERIFY(result.has_value());
    QCOMPARE(static_cast<int>(result->losses.size()), 30);
    QCOMPARE(seen, result->losses);

    // Real vocabulary tokens, none of them special, and the context is exactly what the text encoder makes of them.
    const auto& tokenizer = m_sd->tokenizer();
    QCOMPARE(static_cast<int>(result->tokenIds.size()), 3);
    std::vector<std::int64_t> ids = attack::attackIds(tokenizer, "x y", 3).ids;
    for (int k = 0; k < 3; ++k) {
        const std::int64_t id = result->tokenIds[static_cast<std::size_t>(k)];
        QVERIFY2(id >= 0 && id < tokenizer.vocabSize() && id != tokenizer.bosId() && id != tokenizer.eosId(),
            std::to_string(id).c_str());
        ids[static_cast<std::size_t>(k + 1)] = id;
    }
    torch::NoGradGuard noGrad;
    const torch::Tensor encoded = m_sd->textEncoder()->forward(torch::tensor(ids).unsqueeze(0)).last_hidden_state;
    QVERIFY(torch::allclose(encoded, result->context, 1e-5, 1e-6));
    QVERIFY2(result->promptText.size() > std::string(" x y").size()
            && result->promptText.substr(result->promptText.size() - 4) == " x y",
        result->promptText.c_str());

    // The attacked prompt fits the targets better than the plain one, on draws the attack never saw.
    const torch::Tensor plain = m_sd->model().encodePrompts({ "x y" });
    const double before = fixedLoss(*m_sd, plain, m_targets, 1234);
    const double after = fixedLoss(*m_sd, result->context, m_targets, 1234);
    QVERIFY2(after < before, (std::to_string(before) + " → " + std::to_string(after)).c_str());
}

void TestAttack::softAttackLowersTheLoss()
{
    attack::PromptAttackOptions options;
    options.kind = attack::PromptAttackKind::Soft;
    options.tokens = 3;
    options.steps = 30;
    options.lr = 0.1;
    options.timestepsPerStep = 4;
    const auto result = attack::attackPrompt(*m_sd, "x y", m_targets, options);
    QVERIFY(result.has_value());
    const torch::Tensor plain = m_sd->model().encodePrompts({ "x y" });
    const double before = fixedLoss(*m_sd, plain, m_targets, 99);
    const double after = fixedLoss(*m_sd, result->context, m_targets, 99);
    QVERIFY2(after < before, (std::to_string(before) + " → " + std::to_string(after)).c_str());
    // The first and the last steps' losses, as evaluated during the attack, fall too.
    const auto mean = [](auto begin, auto end) { return std::accumulate(begin, end, 0.0) / std::distance(begin, end); };
    QVERIFY(mean(result->losses.end() - 5, result->losses.end())
        < mean(result->losses.begin(), result->losses.begin() + 5));
    QVERIFY(result->promptText.rfind("\u27e8", 0) == 0);
}

void TestAttack::attackLeavesTheModelUntouched()
{
    std::vector<torch::Tensor> before;
    std::vector<bool> flags;
    for (const auto& p : m_sd->unet()->parameters()) {
        before.push_back(p.detach().clone());
        flags.push_back(p.requires_grad());
    }
    attack::PromptAttackOptions options;
    options.steps = 2;
    QVERIFY(attack::attackPrompt(*m_sd, "a", m_targets, options).has_value());
    const auto after = m_sd->unet()->parameters();
    for (std::size_t i = 0; i < after.size(); ++i) {
        QVERIFY(torch::equal(after[i], before[i]));
        QCOMPARE(after[i].requires_grad(), static_cast<bool>(flags[i]));
        QVERIFY(!after[i].grad().defined() || after[i].grad().abs().sum().item<double>() == 0.0);
    }
}

void TestAttack::attackRefusesBadInput()
{
    attack::PromptAttackOptions options;
    QCOMPARE(m_sd->defaultImageSize(), 8);
    LETHE_COMPARE_STR(errorMessage([&] {
        attack::attackPrompt(*m_sd, "a", torch::zeros({ 1, 3, 16, 16 }, torch::kUInt8), options);
    }),
        "attack: the target images must be uint8 [M, C, 8, 8], found uint8 [1, 3, 16, 16]");
    LETHE_COMPARE_STR(errorMessage([&] {
        attack::attackPrompt(*m_sd, "a", torch::zeros({ 1, 3, 8, 8 }), options);
    }),
        "attack: the target images must be uint8 [M, C, 8, 8], found float32 [1, 3, 8, 8]");
    options.tokens = 0;
    LETHE_COMPARE_STR(errorMessage([&] { options.validate(); }), "attack: --attack-tokens must be 1 to 32, not 0");
    options = {};
    options.lr = -1;
    LETHE_COMPARE_STR(errorMessage([&] { options.validate(); }), "attack: --attack-lr must be a positive number");
    options = {};
    options.timestepsPerStep = 0;
    LETHE_COMPARE_STR(errorMessage([&] { options.validate(); }), "attack: --attack-timesteps must be 1 to 64, not 0");
}

void TestAttack::withoutConceptRemovesTheWord()
{
    LETHE_COMPARE_STR(attack::withoutConcept("a photo of a red sneaker", "sneaker"), "a photo of a red");
    LETHE_COMPARE_STR(attack::withoutConcept("Sneakers in blue, sneaker!", "sneaker"), "in blue, !");
    LETHE_COMPARE_STR(attack::withoutConcept("a sneakerhead's shoe", "sneaker"), "a sneakerhead's shoe");
    LETHE_COMPARE_STR(attack::withoutConcept("an ankle boot in pink", "ankle boot"), "an in pink");
    LETHE_COMPARE_STR(attack::withoutConcept("dresses and a dress", "dress"), "and a");
}

void TestAttack::conceptAttackReportsPreAndPostAsr()
{
    attack::ConceptAttackSetup setup;
    setup.prompts = { "a b", "c" };
    setup.targetPrompts = { "a b z", "c z" };
    setup.seeds = { 0, 1, 2 };
    setup.targetSeeds = { 0 };
    setup.guidance = 2.0;
    setup.samplerSteps = 3;
    setup.attack.tokens = 2;
    setup.attack.steps = 3;
    // A judge that finds the concept in images whose mean is above the median of what it is shown: half of them.
    int calls = 0;
    const attack::Judge judge { "brighter than the median", [&](const torch::Tensor& images) {
                                   ++calls;
                                   const torch::Tensor means = images.to(torch::kFloat32).mean({ 1, 2, 3 });
                                   return means.gt(means.median());
                               } };
    std::vector<std::string> phases;
    const auto outcome
        = attack::runConceptAttack(*m_sd, *m_sd, setup, judge, [&](const attack::AttackProgressEvent& e) {
              if (phases.empty() || phases.back() != e.phase + std::to_string(e.prompt))
                  phases.push_back(e.phase + std::to_string(e.prompt));
              return true;
          });
    QVERIFY(outcome.has_value());
    QCOMPARE(calls, 4);
    QCOMPARE(phases,
        (std::vector<std::string> {
            "targets0", "before0", "attack0", "after0", "targets1", "before1", "attack1", "after1" }));
    const attack::AttackReport& report = outcome->report;
    QCOMPARE(report.records.size(), std::size_t { 2 });
    for (const auto& r : report.records) {
        QCOMPARE(r.before.size(), std::size_t { 3 });
        QCOMPARE(r.after.size(), std::size_t { 3 });
        QCOMPARE(r.losses.size(), std::size_t { 3 });
    }
    QCOMPARE(report.records[1].targetPrompt, std::string("c z"));
    // One of three images per prompt is above the median of three: 1/3 before and after.
    QCOMPARE(report.preAsr(), 1.0 / 3.0);
    QCOMPARE(report.postAsr(), 1.0 / 3.0);
    QCOMPARE(report.prePromptRate(), 1.0);
    QCOMPARE(outcome->images.targets[0].sizes().vec(), (std::vector<std::int64_t> { 1, 3, 8, 8 }));
    QCOMPARE(outcome->images.after[1].sizes().vec(), (std::vector<std::int64_t> { 3, 3, 8, 8 }));

    const nlohmann::json json = attack::toJson(report);
    LETHE_COMPARE_STR(json.at("kind").get<std::string>(), "unlearndiffatk");
    LETHE_COMPARE_STR(json.at("judge").get<std::string>(), "brighter than the median");
    QCOMPARE(json.at("per_prompt").size(), std::size_t { 2 });
    QCOMPARE(json.at("per_prompt")[0].at("token_ids").size(), std::size_t { 2 });
    QCOMPARE(json.at("settings").at("tokens").get<int>(), 2);
    QCOMPARE(json.at("pre_asr").get<double>(), 1.0 / 3.0);

    setup.targetPrompts = { "a" };
    LETHE_COMPARE_STR(errorMessage([&] { attack::runConceptAttack(*m_sd, *m_sd, setup, judge); }),
        "attack: 1 target prompts for 2 prompts");
    setup.prompts.clear();
    LETHE_COMPARE_STR(
        errorMessage([&] { attack::runConceptAttack(*m_sd, *m_sd, setup, judge); }), "attack: no prompts to attack");
}

void TestAttack::conceptAttackCancels()
{
    attack::ConceptAttackSetup setup;
    setup.prompts = { "a" };
    setup.seeds = { 0 };
    setup.samplerSteps = 2;
    setup.attack.steps = 5;
    const attack::Judge judge { "never",
        [](const torch::Tensor& images) { return torch::zeros({ images.size(0) }, torch::kBool); } };
    int attackSteps = 0;
    const auto outcome
        = attack::runConceptAttack(*m_sd, *m_sd, setup, judge, [&](const attack::AttackProgressEvent& e) {
              if (e.phase == "attack" && e.step > 0)
                  ++attackSteps;
              return !(e.phase == "attack" && e.step == 2);
          });
    QVERIFY(!outcome.has_value());
    QCOMPARE(attackSteps, 2);
}

void TestAttack::classAttackLowersTheLoss()
{
    torch::manual_seed(2);
    models::EDMPrecond net = models::makeEdmPrecond(models::toJson(test::tinyCifarOptions()));
    {
        // EDM initialises the output layers to zero, so that a fresh network ignores its labels: disturb every weight.
        torch::NoGradGuard noGrad;
        for (auto& p : net->parameters())
            p.add_(0.05 * torch::randn_like(p));
    }
    const torch::Tensor targets = torch::randint(0, 256, { 8, 3, 32, 32 }, torch::TensorOptions(torch::kUInt8));
    attack::ClassAttackOptions options;
    options.steps = 40;
    options.batch = 8;
    options.lr = 0.1;
    const auto result = attack::attackClass(net, 7, targets, options, torch::kCPU);
    QVERIFY(result.has_value());
    QCOMPARE(result->label.sizes().vec(), (std::vector<std::int64_t> { 10 }));
    QCOMPARE(static_cast<int>(result->losses.size()), 40);
    QVERIFY(!torch::equal(result->label, diffusion::oneHot(torch::tensor({ 7 }), 10)[0]));

    const diffusion::Denoiser denoiser = diffusion::denoiserOf(net);
    const torch::Tensor images = diffusion::pixelsToFloat(targets);
    torch::NoGradGuard noGrad;
    const auto lossWith = [&](const torch::Tensor& label) {
        return diffusion::edmLoss(
            denoiser, images.repeat({ 4, 1, 1, 1 }), label.unsqueeze(0).expand({ 32, -1 }), {}, std::uint64_t { 77 })
            .loss.item<double>();
    };
    const double before = lossWith(diffusion::oneHot(torch::tensor({ 7 }), 10)[0]);
    const double after = lossWith(result->label);
    QVERIFY2(after < before, (std::to_string(before) + " → " + std::to_string(after)).c_str());
}

void TestAttack::classAttackRefusesBadInput()
{
    torch::manual_seed(2);
    models::EDMPrecond net = models::makeEdmPrecond(models::toJson(test::tinyCifarOptions()));
    const torch::Tensor targets = torch::zeros({ 2, 3, 32, 32 }, torch::kUInt8);
    LETHE_COMPARE_STR(errorMessage([&] { attack::attackClass(net, 10, targets, {}, torch::kCPU); }),
        "attack: class 10 is not one of the model's classes 0–9");
    LETHE_COMPARE_STR(errorMessage([&] {
        attack::attackClass(net, 1, torch::zeros({ 2, 1, 32, 32 }, torch::kUInt8), {}, torch::kCPU);
    }),
        "attack: the target images must be uint8 [M, 3, 32, 32], found uint8 [2, 1, 32, 32]");
    models::EDMPrecondOptions unconditional(32, 3);
    unconditional.model().model_channels(8).channel_mult({ 1, 1 }).num_blocks(1).attn_resolutions({});
    models::EDMPrecond plain = models::makeEdmPrecond(models::toJson(unconditional));
    LETHE_COMPARE_STR(errorMessage([&] { attack::attackClass(plain, 0, targets, {}, torch::kCPU); }),
        "attack: the class attack needs a class-conditional model; this one is unconditional");
    attack::ClassAttackOptions options;
    options.batch = 0;
    LETHE_COMPARE_STR(errorMessage([&] { options.validate(); }), "attack: --attack-batch must be at least 1, not 0");
}

void TestAttack::classAttackReports()
{
    torch::manual_seed(2);
    models::EDMPrecond unlearned = models::makeEdmPrecond(models::toJson(test::tinyCifarOptions()));
    models::EDMPrecond base = models::makeEdmPrecond(models::toJson(test::tinyCifarOptions()));
    attack::ClassAttackSetup setup;
    setup.forgotten = 3;
    setup.className = "cat";
    setup.seeds = { 0, 1, 2, 3 };
    setup.targetSeeds = { 0, 1 };
    setup.sampler.steps = 2;
    setup.attack.steps = 3;
    setup.attack.batch = 2;
    const attack::Judge judge { "the first two",
        [](const torch::Tensor& images) { return torch::arange(images.size(0)).lt(2); } };
    const auto outcome = attack::runClassAttack(unlearned, base, setup, judge, torch::kCPU);
    QVERIFY(outcome.has_value());
    const attack::AttackReport& report = outcome->report;
    QCOMPARE(report.kind, attack::AttackKind::Class);
    QCOMPARE(report.records.size(), std::size_t { 1 });
    LETHE_COMPARE_STR(report.records[0].prompt, "class 3 (cat)");
    QCOMPARE(report.records[0].label.size(), std::size_t { 10 });
    QCOMPARE(report.preAsr(), 0.5);
    QCOMPARE(report.postAsr(), 0.5);
    QCOMPARE(outcome->images.targets[0].sizes().vec(), (std::vector<std::int64_t> { 2, 3, 32, 32 }));
    const nlohmann::json json = attack::toJson(report);
    LETHE_COMPARE_STR(json.at("kind").get<std::string>(), "class");
    QCOMPARE(json.at("per_prompt")[0].at("label").size(), std::size_t { 10 });
    QVERIFY(!json.at("per_prompt")[0].contains("token_ids"));
}

QTEST_APPLESS_MAIN(TestAttack)
#include "test_attack.moc"
