// The concept methods beyond RGD, GradDiff, GA and ESD: RG, SalUn (its saliency mask, and that masked weights never
// change) and UCE (its closed form against a direct least-squares solve), and several concepts at once; ESD's target
// and its sampled states' DDIM step for a v-prediction model.
#include "core/error.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/concept_session.h"
#include "core/unlearn/saliency.h"
#include "core/unlearn/uce.h"
#include "run_fixtures.h"
#include "test_support.h"
#include "tiny_sd.h"

#include <torch/torch.h>

#include <QtTest>

#include <map>

using namespace lethe;
using lethe::models::sd::loadStableDiffusion;
using lethe::models::sd::StableDiffusion;
using lethe::test::errorMessage;
using lethe::test::parametersOf;
using lethe::test::ScratchDir;
using lethe::unlearn::ConceptConfig;
using lethe::unlearn::ConceptMethod;
using lethe::unlearn::ConceptSession;
using lethe::unlearn::StepReport;

namespace {

struct Reports : unlearn::RunObserver {
    std::vector<StepReport> steps;
    void onStep(const StepReport& r) override { steps.push_back(r); }
};

unlearn::RunResult runToEnd(ConceptSession& session, Reports& reports)
{
    unlearn::RunControl control;
    return session.run(reports, control);
}

/// The minimiser of λ‖W − W₀‖² + s_e Σ‖W c_i − W₀ g_i‖² + s_p Σ‖W p_j − W₀ p_j‖², solved directly as the
/// least-squares problem it is: the rows √λ I, √s_e c_i, √s_p p_j against √λ W₀ᵀ, √s_e (W₀ g_i)ᵀ, √s_p (W₀ p_j)ᵀ.
torch::Tensor leastSquaresEdit(
    const torch::Tensor& old, const unlearn::UceEmbeddings& e, double lambda, double eraseScale, double preserveScale)
{
    const torch::Tensor w = old.to(torch::kFloat64);
    const torch::Tensor c = e.erase.to(torch::kFloat64);
    const torch::Tensor g = e.guide.to(torch::kFloat64);
    const torch::Tensor p = e.preserve.to(torch::kFloat64);
    const std::int64_t d = w.size(1);
    const torch::Tensor a = torch::cat({ std::sqrt(lambda) * torch::eye(d, torch::kFloat64), std::sqrt(eraseScale) * c,
        std::sqrt(preserveScale) * p });
    const torch::Tensor b = torch::cat(
        { std::sqrt(lambda) * w.t(), std::sqrt(eraseScale) * g.mm(w.t()), std::sqrt(preserveScale) * p.mm(w.t()) });
    return std::get<0>(torch::linalg_lstsq(a, b, c10::nullopt, std::string("gelsd"))).t();
}

} // namespace

class TestConceptMethods : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void saliencyMaskKeepsExactlyTheFraction();
    void salunChangesOnlyTheMaskedWeights();
    void rgProjectsAsRgd();
    void uceMatchesTheNormalEquations();
    void uceEmbeddingsAreTheAuthorsRows();
    void uceTextsAugmentWithTheForgetPrompts();
    void uceRunsWithoutRemainPairsInOneStep();
    void uceRefusesBadInput();
    void conceptWordsSplitAList();
    void esdTargetOfAVModelIsTheEpsilonTargetInV();

private:
    ScratchDir m_dir;
    std::optional<StableDiffusion> m_pixel;
};

void TestConceptMethods::initTestCase()
{
    torch::set_num_threads(1);
    lethe::test::writeTinyDiffusersFolder(m_dir / "pixel", false);
    m_pixel.emplace(loadStableDiffusion(m_dir / "pixel", {}));
}

void TestConceptMethods::saliencyMaskKeepsExactlyTheFraction()
{
    // Ten entries over two tensors: magnitudes 9 … 1 with a tie (5, 5) and a zero.
    const torch::Tensor a = torch::tensor({ 3.0, 9.0, 5.0, 0.0, 7.0, 1.0 }).view({ 2, 3 });
    const torch::Tensor b = torch::tensor({ 5.0, 8.0, 2.0, 6.0 });
    const auto kept = [&](double fraction) -> torch::Tensor {
        const auto mask = unlearn::saliencyMask({ a, b }, fraction);
        if (mask.size() != 2 || mask[0].sizes() != a.sizes() || mask[1].sizes() != b.sizes())
            return {};
        return torch::cat({ mask[0].flatten(), mask[1].flatten() });
    };
    QVERIFY(kept(0.3).defined()); // One mask per tensor, in its shape.
    // 0.3 of 10: the three largest (9, 8, 7).
    QVERIFY(torch::equal(kept(0.3), torch::tensor({ 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0 })));
    // 0.5 of 10: 9, 8, 7, 6 and the earlier of the two 5s (in a), not the later (in b): exactly five.
    const torch::Tensor half = kept(0.5);
    QCOMPARE(half.sum().item<double>(), 5.0);
    QVERIFY(torch::equal(half, torch::tensor({ 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0 })));
    // 0.04 of 10 rounds to 0: one entry is still kept.
    QCOMPARE(kept(0.04).sum().item<double>(), 1.0);
    // All: every entry but the one without gradient.
    QVERIFY(torch::equal(kept(1.0), torch::tensor({ 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0 })));
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::saliencyMask({ a }, 0.0); }),
        "saliency mask: the fraction must be in (0, 1], found 0");
    LETHE_COMPARE_STR(errorMessage([&] { unlearn::saliencyMask({ a }, 1.5); }),
        "saliency mask: the fraction must be in (0, 1], found 1.5");
}

void TestConceptMethods::salunChangesOnlyTheMaskedWeights()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::SalUn);
    config.saliencyFraction = 0.3;
    const auto base = parametersOf(m_pixel->unet());
    ConceptSession session(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    QVERIFY(session.saliencyMask().empty()); // Computed when the run starts, from the base weights.
    Reports reports;
    QCOMPARE(runToEnd(session, reports).steps, std::int64_t { 3 });
    const std::vector<torch::Tensor>& mask = session.saliencyMask();
    const std::vector<std::string> names = session.trainableNames();
    QCOMPARE(mask.size(), names.size());
    std::int64_t total = 0;
    std::int64_t kept = 0;
    std::int64_t changedInside = 0;
    const auto after = parametersOf(session.model().unet());
    for (std::size_t i = 0; i < names.size(); ++i) {
        total += mask[i].numel();
        kept += mask[i].sum().item<std::int64_t>();
        const torch::Tensor moved = after.at(names[i]).ne(base.at(names[i]));
        // Outside the mask no entry moved, bit for bit.
        QVERIFY2(!moved.logical_and(mask[i].eq(0)).any().item<bool>(), names[i].c_str());
        changedInside += moved.logical_and(mask[i].eq(1)).sum().item<std::int64_t>();
    }
    QCOMPARE(kept, static_cast<std::int64_t>(std::llround(0.3 * static_cast<double>(total))));
    QVERIFY(changedInside > kept / 2);
    for (const StepReport& r : reports.steps) {
        QVERIFY(std::isfinite(r.forgetLoss) && r.forgetLoss > 0);
        QVERIFY(std::isfinite(r.remainLoss) && r.remainLoss > 0);
        QVERIFY(r.ascentNorm > 0 && r.remainNorm > 0);
        QVERIFY(!r.projected && !r.truncated);
    }
    // The same settings give the same mask and weights.
    ConceptSession again(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    Reports more;
    runToEnd(again, more);
    for (std::size_t i = 0; i < names.size(); ++i)
        QVERIFY(torch::equal(again.saliencyMask()[i], mask[i]));
    QCOMPARE(more.steps.back().forgetLoss, reports.steps.back().forgetLoss);
    LETHE_COMPARE_STR(
        errorMessage([&] { ConceptSession none(*m_pixel, test::conceptPairs("forget", 3, 1), {}, config); }),
        "concept unlearning: the remain set is empty (salun needs remain pairs)");
}

void TestConceptMethods::rgProjectsAsRgd()
{
    // RG is RGD's update: with the same pairs and seed the two runs are the same run. (What differs is the remain
    // set a front end gives it: a plain one.)
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::RG);
    ConceptSession rg(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    config.method = ConceptMethod::RGD;
    ConceptSession rgd(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    Reports a;
    Reports b;
    runToEnd(rg, a);
    runToEnd(rgd, b);
    QCOMPARE(a.steps.size(), b.steps.size());
    for (std::size_t i = 0; i < a.steps.size(); ++i) {
        QCOMPARE(a.steps[i].cosine, b.steps[i].cosine);
        QCOMPARE(a.steps[i].projected, b.steps[i].projected);
        QCOMPARE(a.steps[i].projected, a.steps[i].cosine < 0);
    }
    const auto x = parametersOf(rg.model().unet());
    const auto y = parametersOf(rgd.model().unet());
    for (const auto& [name, tensor] : x)
        QVERIFY2(torch::equal(tensor, y.at(name)), name.c_str());
}

void TestConceptMethods::uceMatchesTheNormalEquations()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::UCE);
    config.forgetConcept = "forget, gone";
    config.uceGuide = "remain";
    config.ucePreserve = { "keep", "stay here" };
    config.uceRegularisation = 0.3;
    config.uceEraseScale = 2.0;
    config.ucePreserveScale = 0.7;
    const auto base = parametersOf(m_pixel->unet());
    ConceptSession session(*m_pixel, test::conceptPairs("forget", 3, 1), test::conceptPairs("remain", 4, 2), config);
    Reports reports;
    QCOMPARE(runToEnd(session, reports).steps, std::int64_t { 1 });
    const unlearn::UceEmbeddings e = unlearn::uceEmbeddings(*m_pixel,
        unlearn::uceTexts({ "forget", "gone" }, "remain", config.ucePreserve, { "forget a", "forget b", "forget c" }));
    const std::vector<std::string> edited = unlearn::uceParameterNames(m_pixel->unet());
    QVERIFY(!edited.empty());
    QCOMPARE(session.trainableNames(), edited);
    const auto after = parametersOf(session.model().unet());
    for (const auto& [name, old] : base) {
        if (std::find(edited.begin(), edited.end(), name) == edited.end()) {
            QVERIFY2(torch::equal(after.at(name), old), name.c_str()); // Nothing else is touched.
            continue;
        }
        const torch::Tensor expected = leastSquaresEdit(old, e, 0.3, 2.0, 0.7);
        const double error = (after.at(name).to(torch::kFloat64) - expected).abs().max().item<double>();
        const double scale = expected.abs().max().item<double>();
        QVERIFY2(error <= 1e-5 * scale, (name + ": " + std::to_string(error)).c_str());
        QVERIFY2(!torch::equal(after.at(name), old), name.c_str());
    }
    // The edited projections send the erased rows nearer to where the old ones sent the guide's (not all the way: the
    // preserved rows, which share the padding's embeddings, and the regularisation pull back).
    const std::string key = edited.front();
    const torch::Tensor oldMap = e.guide.mm(base.at(key).t());
    const torch::Tensor newMap = e.erase.mm(after.at(key).t());
    const torch::Tensor beforeMap = e.erase.mm(base.at(key).t());
    QVERIFY((newMap - oldMap).norm().item<double>() < (beforeMap - oldMap).norm().item<double>());
    // The closed form alone, with the authors' automatic preserve scale max(0.1, 1/2) = 0.5.
    QCOMPARE(unlearn::effectivePreserveScale(0.0, 2), 0.5);
    QCOMPARE(unlearn::effectivePreserveScale(0.0, 20), 0.1);
    QCOMPARE(unlearn::effectivePreserveScale(0.0, 0), 0.1);
    const torch::Tensor solved = unlearn::uceClosedForm(base.at(key), e, { 0.1, 1.0, 0.5 });
    QVERIFY((solved.to(torch::kFloat64) - leastSquaresEdit(base.at(key), e, 0.1, 1.0, 0.5)).abs().max().item<double>()
        <= 1e-5 * solved.abs().max().item<double>());
}

void TestConceptMethods::uceEmbeddingsAreTheAuthorsRows()
{
    torch::NoGradGuard noGrad;
    const auto states = [&](const std::string& text) {
        return m_pixel->textEncoder()->forward(m_pixel->tokenizer().encodeBatch({ text })).last_hidden_state[0];
    };
    const std::int64_t length = m_pixel->tokenizer().maxLength();
    // "ab": BOS a b EOS, last word token at 2; "": BOS EOS, at 0. Both cut to length − 2 rows.
    const unlearn::UceEmbeddings e
        = unlearn::uceEmbeddings(*m_pixel, unlearn::UceTexts { { { "ab", "" } }, { "xyz" } });
    QCOMPARE(e.erase.size(0), length - 2);
    QCOMPARE(e.guide.size(0), length - 2);
    QVERIFY(torch::equal(e.erase, states("ab").slice(0, 2)));
    QVERIFY(torch::equal(e.guide, states("").slice(0, 0, length - 2)));
    // A preserved text: its rows from its last word token (index 3 of BOS x y z EOS) to the end.
    QCOMPARE(e.preserve.size(0), length - 3);
    QVERIFY(torch::equal(e.preserve, states("xyz").slice(0, 3)));
    LETHE_COMPARE_STR(
        errorMessage([&] { unlearn::uceEmbeddings(*m_pixel, unlearn::UceTexts {}); }), "UCE: no concept to erase");
}

void TestConceptMethods::uceTextsAugmentWithTheForgetPrompts()
{
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    const unlearn::UceTexts texts = unlearn::uceTexts({ "sneaker", "bag" }, "", { "coat", "ankle boot" },
        { "a photo of a red sneaker", "a Bag in the sun", "a photo of a red sneaker", "a t-shirt", "sneakers" });
    // The words, then each distinct prompt naming one (the repeat once; "t-shirt" and "sneakers" name none).
    QCOMPARE(texts.erase,
        (Pairs { { "sneaker", "" }, { "bag", "" }, { "a photo of a red sneaker", "a photo of a red" },
            { "a Bag in the sun", "a in the sun" } }));
    QCOMPARE(texts.preserve,
        (std::vector<std::string> { "coat", "ankle boot", "a photo of a red coat", "a photo of a red ankle boot",
            "a coat in the sun", "a ankle boot in the sun" }));
    // A guide concept takes the word's place.
    QCOMPARE(unlearn::uceTexts({ "sneaker" }, "sandal", {}, { "a red sneaker, left" }).erase,
        (Pairs { { "sneaker", "sandal" }, { "a red sneaker, left", "a red sandal, left" } }));
}

void TestConceptMethods::uceRunsWithoutRemainPairsInOneStep()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::UCE);
    config.forgetConcept = "forget";
    config.steps = 150; // UCE is one closed-form step whatever the preset says.
    ConceptSession session(*m_pixel, test::conceptPairs("forget", 3, 1), {}, config);
    QCOMPARE(session.config().steps, std::int64_t { 1 });
    Reports reports;
    const unlearn::RunResult result = runToEnd(session, reports);
    QCOMPARE(result.outcome, unlearn::RunOutcome::Finished);
    QCOMPARE(result.steps, std::int64_t { 1 });
    QCOMPARE(reports.steps.size(), std::size_t { 1 });
    QCOMPARE(reports.steps[0].totalSteps, std::int64_t { 1 });
    QVERIFY(std::isfinite(reports.steps[0].forgetLoss) && reports.steps[0].forgetLoss > 0);
    QCOMPARE(reports.steps[0].remainLoss, 0.0); // No remain pairs: nothing measured.
}

void TestConceptMethods::uceRefusesBadInput()
{
    ConceptConfig config = test::tinyConceptConfig(ConceptMethod::UCE);
    const auto forget = test::conceptPairs("forget", 2, 1);
    config.forgetConcept = " , ";
    LETHE_COMPARE_STR(errorMessage([&] { ConceptSession session(*m_pixel, forget, {}, config); }),
        "concept unlearning: UCE edits the embeddings of the concept's words, and the run names none (give the "
        "concept, e.g. \"sneaker\" or \"sneaker, bag\")");
    config.forgetConcept = "forget";
    config.uceRegularisation = -1;
    LETHE_COMPARE_STR(errorMessage([&] { ConceptSession session(*m_pixel, forget, {}, config); }),
        "concept unlearning: uce_regularisation must be finite and at least 0, found -1");
    config.uceRegularisation = 0.1;
    config.uceEraseScale = 0;
    LETHE_COMPARE_STR(errorMessage([&] { ConceptSession session(*m_pixel, forget, {}, config); }),
        "concept unlearning: uce_erase_scale must be finite and greater than 0, found 0");
    config.uceEraseScale = 1;
    config.ucePreserveScale = -0.5;
    LETHE_COMPARE_STR(errorMessage([&] { ConceptSession session(*m_pixel, forget, {}, config); }),
        "concept unlearning: uce_preserve_scale must be finite and at least 0 (0: the authors' max(0.1, 1/N)), found "
        "-0.5");
    config.ucePreserveScale = 0;
    config.saliencyFraction = 0;
    LETHE_COMPARE_STR(errorMessage([&] { ConceptSession session(*m_pixel, forget, {}, config); }),
        "concept unlearning: saliency_fraction must be in (0, 1], found 0");
    // Without regularisation and with fewer rows than the text width, the system is singular: said, not solved.
    const unlearn::UceEmbeddings one = unlearn::uceEmbeddings(*m_pixel, unlearn::UceTexts { { { "forget", "" } }, {} });
    const unlearn::UceEmbeddings few { one.erase.slice(0, 0, 2), one.guide.slice(0, 0, 2), one.preserve };
    LETHE_COMPARE_STR(errorMessage([&] {
        unlearn::uceClosedForm(m_pixel->unet()->parameters().front().new_zeros({ 4, 16 }), few, { 0.0, 1.0, 0.1 });
    }),
        "UCE: the edit's system is singular (a regularisation of 0 needs at least as many embedding rows as the "
        "text width); give a regularisation greater than 0");
}

void TestConceptMethods::conceptWordsSplitAList()
{
    QCOMPARE(unlearn::conceptWords("sneaker, bag"), (std::vector<std::string> { "sneaker", "bag" }));
    QCOMPARE(unlearn::conceptWords(" ankle boot ,,bag "), (std::vector<std::string> { "ankle boot", "bag" }));
    QCOMPARE(unlearn::conceptWords("sneaker"), (std::vector<std::string> { "sneaker" }));
    QVERIFY(unlearn::conceptWords("").empty());
    QVERIFY(unlearn::conceptWords(" , ").empty());
}

void TestConceptMethods::esdTargetOfAVModelIsTheEpsilonTargetInV()
{
    // An ε-model and a v-model that agree on x₀ (every v = √ᾱ·ε − √(1 − ᾱ)·x₀ at x_t, x₀ = (x_t − √(1 − ᾱ)·ε)/√ᾱ)
    // must get the same ESD target and the same sampled states, each in its own parameterisation.
    const double a = 0.37;
    const double b = 0.81;
    torch::manual_seed(3);
    const torch::Tensor x = torch::randn({ 2, 4, 3, 3 }, torch::kFloat64);
    const torch::Tensor epsC = torch::randn_like(x);
    const torch::Tensor epsU = torch::randn_like(x);
    const auto toV = [&](const torch::Tensor& eps) {
        const torch::Tensor x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
        return std::sqrt(a) * eps - std::sqrt(1 - a) * x0;
    };
    const auto vToEps = [&](const torch::Tensor& v) { return std::sqrt(a) * v + std::sqrt(1 - a) * x; };
    const double eta = 1.7;
    const torch::Tensor epsTarget = unlearn::esdTarget(epsC, epsU, eta);
    const torch::Tensor vTarget = unlearn::esdTarget(toV(epsC), toV(epsU), eta);
    QVERIFY(torch::allclose(vToEps(vTarget), epsTarget, 1e-12, 1e-12));
    QVERIFY(torch::allclose(epsTarget, epsU - eta * (epsC - epsU), 1e-12, 1e-12));
    // A v-model's target differs from its ε-model twin's numbers: the test above compares across the conversion.
    QVERIFY(!torch::allclose(vTarget, epsTarget, 1e-3, 1e-3));

    const double guidance = 3.0;
    const torch::Tensor fromEps
        = unlearn::esdDdimStep(x, epsU, epsC, guidance, a, b, diffusion::PredictionType::Epsilon);
    const torch::Tensor fromV
        = unlearn::esdDdimStep(x, toV(epsU), toV(epsC), guidance, a, b, diffusion::PredictionType::VPrediction);
    QVERIFY(torch::allclose(fromV, fromEps, 1e-12, 1e-12));
    // The ε step by hand: guided ε, x₀ from it, DDIM to ᾱ = b.
    const torch::Tensor eps = epsU + guidance * (epsC - epsU);
    const torch::Tensor x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
    QVERIFY(torch::allclose(fromEps, std::sqrt(b) * x0 + std::sqrt(1 - b) * eps, 1e-12, 1e-12));
    // v outputs read as ε would give other states.
    const torch::Tensor misread
        = unlearn::esdDdimStep(x, toV(epsU), toV(epsC), guidance, a, b, diffusion::PredictionType::Epsilon);
    QVERIFY(!torch::allclose(misread, fromEps, 1e-3, 1e-3));
}

QTEST_APPLESS_MAIN(TestConceptMethods)
#include "test_concept_methods.moc"
