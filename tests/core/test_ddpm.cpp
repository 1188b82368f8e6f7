// DDPM-schedule samplers (DDIM, Euler) on Stable Diffusion's noise schedule, and text-to-image generation with
// classifier-free guidance on a stand-in model.
#include "core/diffusion/ddpm_sampler.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "test_support.h"

#include <torch/torch.h>

#include <cmath>

#include <nlohmann/json.hpp>

using namespace lethe;
using namespace lethe::diffusion;
using lethe::test::errorMessage;

namespace {

/// The exact ε-prediction for data distributed as N(μ, s²) per element: with x_t = √ᾱ·x₀ + √(1 − ᾱ)·ε,
/// E[ε | x_t] = √(1 − ᾱ)·(x_t − √ᾱ·μ)/(ᾱ·s² + 1 − ᾱ). For Euler the input arrives scaled by 1/√(σ² + 1),
/// which is exactly √ᾱ·x_σ, i.e. x_t again.
NoisePredictor gaussianEpsilon(const DdpmSchedule& schedule, double mu, double s, bool vPrediction, int* calls)
{
    const std::vector<double> alphaBar = alphasCumprod(schedule);
    return [alphaBar, mu, s, vPrediction, calls](const torch::Tensor& x, double t) {
        if (calls)
            ++*calls;
        // Fractional (Euler) timesteps: interpolate σ as the sampler does, then ᾱ = 1/(σ² + 1).
        const auto low = static_cast<std::size_t>(std::floor(t));
        const double w = t - static_cast<double>(low);
        const auto sigmaOf = [&](std::size_t i) { return std::sqrt((1 - alphaBar[i]) / alphaBar[i]); };
        const double sigma
            = low + 1 < alphaBar.size() ? (1 - w) * sigmaOf(low) + w * sigmaOf(low + 1) : sigmaOf(alphaBar.size() - 1);
        const double a = 1.0 / (sigma * sigma + 1.0);
        const torch::Tensor eps = (x - std::sqrt(a) * mu) * (std::sqrt(1 - a) / (a * s * s + 1 - a));
        if (!vPrediction)
            return eps;
        const torch::Tensor x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
        return std::sqrt(a) * eps - std::sqrt(1 - a) * x0;
    };
}

} // namespace

class TestDdpm : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void ddpmScheduleMatchesStableDiffusion();
    void ddpmTimestepsFollowDiffusers();
    void ddpmTimestepSpacingFollowsDiffusers();
    void ddpmScheduleAcceptsDiffusersConfigs();
    void ddpmSamplersReproduceGaussianData_data();
    void ddpmSamplersReproduceGaussianData();
    void ddpmSamplerCancels();
    void ddimClipSampleClampsThePredictedImage();
    void ddpmScheduleConfigErrors_data();
    void ddpmScheduleConfigErrors();
    void textToImageGuidanceMixesPromptAndNegative();
    void textToImageSeedsDoNotDependOnBatch();
    void textToImageDecodesLatentsAndReportsProgress();
    void textToImageRejectsBadRequests_data();
    void textToImageRejectsBadRequests();
};

void TestDdpm::ddpmScheduleMatchesStableDiffusion()
{
    const std::vector<double> alphaBar = alphasCumprod(DdpmSchedule {});
    QCOMPARE(alphaBar.size(), std::size_t { 1000 });
    // Reference values from the scaled_linear formula evaluated independently in Python (math module).
    QVERIFY(std::abs(alphaBar[0] - 0.99915) < 1e-12);
    QVERIFY(std::abs(alphaBar[500] - 0.2763326838229746) < 1e-12);
    QVERIFY(std::abs(alphaBar[999] - 0.004660098513077234) < 1e-12);
    // σ_max of Stable Diffusion's Euler sampler, as k-diffusion and diffusers print it.
    QVERIFY(std::abs(std::sqrt((1 - alphaBar[999]) / alphaBar[999]) - 14.614641229333646) < 1e-9);
    DdpmSchedule linear;
    linear.betaSchedule = BetaSchedule::Linear;
    linear.betaStart = 0.0001;
    linear.betaEnd = 0.02;
    const std::vector<double> ddpm = alphasCumprod(linear);
    QVERIFY(std::abs(ddpm[0] - 0.9999) < 1e-12);
    QVERIFY(std::abs(ddpm[1] - 0.9999 * (1 - (0.0001 + 0.0199 / 999))) < 1e-12);
    const nlohmann::json json = toJson(DdpmSchedule {});
    QCOMPARE(json.at("beta_schedule").get<std::string>(), std::string("scaled_linear"));
    const DdpmSchedule back = ddpmScheduleFromJson(json, "scheduler_config.json");
    QCOMPARE(back.trainSteps, 1000);
    QCOMPARE(back.stepsOffset, 1);
    QCOMPARE(back.setAlphaToOne, false);
    QVERIFY(back.betaSchedule == BetaSchedule::ScaledLinear && back.prediction == PredictionType::Epsilon);
}

void TestDdpm::ddpmTimestepsFollowDiffusers()
{
    const DdpmSchedule schedule;
    DdpmSamplerOptions options;
    const std::vector<double> ddim = samplerTimesteps(schedule, options);
    QCOMPARE(ddim.size(), std::size_t { 50 });
    QCOMPARE(ddim.front(), 981.0); // DDIMScheduler.set_timesteps(50) with steps_offset 1: 981, 961, … 1.
    QCOMPARE(ddim[1], 961.0);
    QCOMPARE(ddim.back(), 1.0);
    options.method = DdpmSamplerMethod::Euler;
    options.steps = 4;
    const std::vector<double> euler = samplerTimesteps(schedule, options);
    const std::vector<double> expected { 999.0, 666.0, 333.0, 0.0 }; // np.linspace(0, 999, 4)[::-1]
    QCOMPARE(euler.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i)
        QVERIFY2(std::abs(euler[i] - expected[i]) < 1e-9, qPrintable(QString::number(euler[i], 'g', 17)));
    options.steps = 0;
    QCOMPARE(errorMessage([&] { samplerTimesteps(schedule, options); }),
        std::string("sampler steps must be 1 … 1000, found 0"));
    QVERIFY(ddpmSamplerFromName("ddim") == DdpmSamplerMethod::Ddim);
    QVERIFY(ddpmSamplerFromName("euler") == DdpmSamplerMethod::Euler);
    QVERIFY(!ddpmSamplerFromName("pndm"));
}

void TestDdpm::ddpmTimestepSpacingFollowsDiffusers()
{
    // Expected values: DDIMScheduler.set_timesteps and EulerDiscreteScheduler.set_timesteps (diffusers) for each
    // timestep_spacing, evaluated in Python 3.11 with numpy's arange and linspace written out (arange has
    // ⌈(stop − start)/step⌉ values start + i·step; linspace's last value is stop; round() halves to even).
    const auto timesteps = [](const char* spacing, DdpmSamplerMethod method, int steps) {
        DdpmSchedule schedule = ddpmScheduleFromJson(
            nlohmann::json { { "timestep_spacing", spacing }, { "steps_offset", 1 } }, "scheduler_config.json");
        DdpmSamplerOptions options;
        options.method = method;
        options.steps = steps;
        return samplerTimesteps(schedule, options);
    };
    using V = std::vector<double>;
    // trailing: np.round(np.arange(1000, 0, -1000 / 16)) - 1; 937.5 rounds to 938, 812.5 to 812.
    const V trailing16 { 999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61 };
    QCOMPARE(timesteps("trailing", DdpmSamplerMethod::Ddim, 16), trailing16);
    QCOMPARE(timesteps("trailing", DdpmSamplerMethod::Euler, 4), (V { 999, 749, 499, 249 }));
    // linspace (DDIM): np.linspace(0, 999, 7).round()[::-1]; 832.5 rounds to 832, 499.5 to 500, 166.5 to 166.
    QCOMPARE(timesteps("linspace", DdpmSamplerMethod::Ddim, 7), (V { 999, 832, 666, 500, 333, 166, 0 }));
    QCOMPARE(timesteps("linspace", DdpmSamplerMethod::Ddim, 1), (V { 0 }));
    // leading (Euler): (np.arange(0, 4) * (1000 // 4)).round()[::-1] + steps_offset.
    QCOMPARE(timesteps("leading", DdpmSamplerMethod::Euler, 4), (V { 751, 501, 251, 1 }));
    QCOMPARE(timesteps("leading", DdpmSamplerMethod::Ddim, 4), (V { 751, 501, 251, 1 }));
    // np.arange(1000, 0, -1000 / 61) has 62 values, the last rounding to 0: diffusers would visit t = −1.
    QCOMPARE(errorMessage([&] { timesteps("trailing", DdpmSamplerMethod::Ddim, 61); }),
        std::string("timestep_spacing \"trailing\" with 61 steps: diffusers makes 62 timesteps of it "
                    "(numpy.arange's rounding adds a last one, −1), which Lethe does not copy; choose another number "
                    "of steps"));
    // The spacing survives toJson, and an unset one stays unset (each sampler's own default).
    const DdpmSchedule trailing
        = ddpmScheduleFromJson(nlohmann::json { { "timestep_spacing", "trailing" } }, "scheduler_config.json");
    QCOMPARE(toJson(trailing).at("timestep_spacing").get<std::string>(), std::string("trailing"));
    QVERIFY(!toJson(DdpmSchedule {}).contains("timestep_spacing"));
}

void TestDdpm::ddpmScheduleAcceptsDiffusersConfigs()
{
    // Stable Diffusion 1.5's scheduler_config.json (PNDMScheduler), an SDXL-style EulerDiscreteScheduler config
    // and a DDPMScheduler config with every key at a value Lethe implements.
    const char* const configs[] = {
        R"({"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000,
            "prediction_type": "epsilon", "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
            "trained_betas": null})",
        R"({"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false, "interpolation_type": "linear",
            "num_train_timesteps": 1000, "prediction_type": "epsilon", "sample_max_value": 1.0, "set_alpha_to_one": false,
            "skip_prk_steps": true, "steps_offset": 1, "timestep_spacing": "leading", "trained_betas": null,
            "use_karras_sigmas": false, "use_exponential_sigmas": false, "use_beta_sigmas": false, "sigma_min": null,
            "sigma_max": null, "timestep_type": "discrete", "final_sigmas_type": "zero",
            "rescale_betas_zero_snr": false})",
        R"({"_class_name": "DDPMScheduler", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
            "variance_type": "fixed_small", "clip_sample": true, "clip_sample_range": 1.0, "thresholding": false,
            "dynamic_thresholding_ratio": 0.995, "sample_max_value": 1.0, "timestep_spacing": "leading",
            "steps_offset": 0, "rescale_betas_zero_snr": false, "prediction_type": "epsilon"})",
    };
    std::vector<DdpmSchedule> read;
    for (const char* config : configs)
        read.push_back(ddpmScheduleFromJson(nlohmann::json::parse(config), "scheduler_config.json"));
    QVERIFY(!read[0].timestepSpacing);
    QVERIFY(read[1].timestepSpacing == TimestepSpacing::Leading);
    QVERIFY(read[2].clipSample && read[2].betaSchedule == BetaSchedule::Linear && read[2].stepsOffset == 0);
}

void TestDdpm::ddpmSamplersReproduceGaussianData_data()
{
    // With the exact ε of N(0.3, 0.5²) data each sampler is an affine map of the noise. The expected
    // images of the noise values −1, 0 and 1 come from diffusers' DDIMScheduler.step and
    // EulerDiscreteScheduler.step rules evaluated independently in double precision (Python, math
    // module). Both stop short of N(0.3, 0.5²) by their discretisation error (spread 0.479 and 0.475 at
    // 50 steps), and a wrong coefficient anywhere moves these values by far more than the tolerance.
    QTest::addColumn<int>("method");
    QTest::addColumn<bool>("vPrediction");
    QTest::addColumn<std::vector<double>>("expected");
    const std::vector<double> ddim { -0.18961195231940223, 0.2889614709979521, 0.7675348943153062 };
    const std::vector<double> euler { -0.18444383648751755, 0.290277947442891, 0.7649997313732994 };
    QTest::newRow("DDIM 50, ε") << int(DdpmSamplerMethod::Ddim) << false << ddim;
    QTest::newRow("DDIM 50, v") << int(DdpmSamplerMethod::Ddim) << true << ddim;
    QTest::newRow("Euler 50, ε") << int(DdpmSamplerMethod::Euler) << false << euler;
    QTest::newRow("Euler 50, v") << int(DdpmSamplerMethod::Euler) << true << euler;
}

void TestDdpm::ddpmSamplersReproduceGaussianData()
{
    QFETCH(int, method);
    QFETCH(bool, vPrediction);
    QFETCH(std::vector<double>, expected);
    DdpmSchedule schedule;
    schedule.prediction = vPrediction ? PredictionType::VPrediction : PredictionType::Epsilon;
    DdpmSamplerOptions options;
    options.method = static_cast<DdpmSamplerMethod>(method);
    options.steps = 50;
    int calls = 0;
    const torch::Tensor noise = torch::tensor({ -1.0F, 0.0F, 1.0F }).reshape({ 1, 1, 1, 3 });
    const auto x = sampleDdpm(gaussianEpsilon(schedule, 0.3, 0.5, vPrediction, &calls), noise, schedule, options);
    QVERIFY(x.has_value());
    QCOMPARE(calls, 50);
    QCOMPARE(x->scalar_type(), torch::kFloat32);
    QCOMPARE(x->sizes(), noise.sizes());
    for (int i = 0; i < 3; ++i) {
        const double got = x->flatten()[i].item<double>();
        QVERIFY2(std::abs(got - expected[static_cast<std::size_t>(i)]) < 1e-4,
            qPrintable(QStringLiteral("noise %1 → %2, expected %3")
                           .arg(i - 1)
                           .arg(got, 0, 'g', 9)
                           .arg(expected[static_cast<std::size_t>(i)], 0, 'g', 9)));
    }
}

void TestDdpm::ddpmSamplerCancels()
{
    const DdpmSchedule schedule;
    int calls = 0;
    const auto x = sampleDdpm(gaussianEpsilon(schedule, 0, 1, false, &calls), torch::randn({ 1, 1, 2, 2 }), schedule,
        DdpmSamplerOptions {}, [](int done, int) { return done < 3; });
    QVERIFY(!x.has_value());
    QCOMPARE(calls, 3);
}

void TestDdpm::ddimClipSampleClampsThePredictedImage()
{
    // A network that always predicts ε = 3 (far from any noise the data could hold): DDIM's first x₀ is then
    // (x − 3√(1 − ᾱ))/√ᾱ, hundreds in size. With clip_sample each x₀ is clamped to ±range and ε re-derived from
    // it, so the result stays near the range; without it the image runs off.
    DdpmSchedule schedule = ddpmScheduleFromJson(
        nlohmann::json::parse(R"({"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
            "clip_sample": true, "clip_sample_range": 0.5})"),
        "scheduler_config.json");
    QVERIFY(schedule.clipSample);
    QCOMPARE(schedule.clipSampleRange, 0.5);
    QCOMPARE(toJson(schedule).at("clip_sample").get<bool>(), true);
    QCOMPARE(toJson(schedule).at("clip_sample_range").get<double>(), 0.5);
    const NoisePredictor constant = [](const torch::Tensor& x, double) { return torch::full_like(x, 3.0); };
    DdpmSamplerOptions options;
    options.steps = 10;
    const torch::Tensor noise = torch::tensor({ -2.0F, 0.0F, 2.0F }).reshape({ 1, 1, 1, 3 });
    const auto clipped = sampleDdpm(constant, noise, schedule, options);
    QVERIFY(clipped.has_value());
    const double bound = 0.5 * 1.05; // The last step adds √(1 − ᾱ_0)·ε to the clamped x₀.
    QVERIFY2(
        clipped->abs().max().item<double>() <= bound, qPrintable(QString::number(clipped->abs().max().item<double>())));
    schedule.clipSample = false;
    const auto free = sampleDdpm(constant, noise, schedule, options);
    QVERIFY2(free->abs().max().item<double>() > 10.0, qPrintable(QString::number(free->abs().max().item<double>())));
    QCOMPARE(ddpmScheduleFromJson(nlohmann::json::object(), "s").clipSample, false);
}

void TestDdpm::ddpmScheduleConfigErrors_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("message");
    QTest::newRow("not an object") << "[1]"
                                   << "scheduler_config.json: top level: expected a JSON object, found array";
    QTest::newRow("beta schedule") << R"({"beta_schedule": "squaredcos_cap_v2"})"
                                   << "scheduler_config.json: key 'beta_schedule': expected \"linear\" or "
                                      "\"scaled_linear\", found \"squaredcos_cap_v2\"";
    QTest::newRow("prediction") << R"({"prediction_type": "sample"})"
                                << "scheduler_config.json: key 'prediction_type': expected \"epsilon\" or "
                                   "\"v_prediction\", found \"sample\"";
    QTest::newRow("steps type") << R"({"num_train_timesteps": "1000"})"
                                << "scheduler_config.json: key 'num_train_timesteps': expected an integer, found "
                                   "\"1000\"";
    QTest::newRow("betas") << R"({"beta_start": 0.02, "beta_end": 0.01})"
                           << "scheduler_config.json: key 'beta_start': expected 0 < beta_start ≤ beta_end < 1, "
                              "found 0.020000 and 0.010000";
    QTest::newRow("clip range") << R"({"clip_sample_range": 0})"
                                << "scheduler_config.json: key 'clip_sample_range': expected a positive number, "
                                   "found 0.000000";
    QTest::newRow("offset") << R"({"steps_offset": 1000})"
                            << "scheduler_config.json: key 'steps_offset': expected 0 … num_train_timesteps − 1, "
                               "found 1000";
    // diffusers' keys that would change the result are refused by name, with what Lethe implements.
    QTest::newRow("timestep spacing")
        << R"({"timestep_spacing": "uniform"})"
        << "scheduler_config.json: key 'timestep_spacing': \"uniform\" is not implemented (Lethe implements "
           "\"leading\", \"linspace\" and \"trailing\")";
    QTest::newRow("thresholding") << R"({"thresholding": true})"
                                  << "scheduler_config.json: key 'thresholding': true is not implemented (Lethe "
                                     "implements false: clip_sample clamps the predicted x₀)";
    QTest::newRow("zero terminal SNR") << R"({"rescale_betas_zero_snr": true})"
                                       << "scheduler_config.json: key 'rescale_betas_zero_snr': true is not "
                                          "implemented (Lethe implements false: β as beta_schedule gives them)";
    QTest::newRow("trained betas") << R"({"trained_betas": [0.001, 0.002]})"
                                   << "scheduler_config.json: key 'trained_betas': a list of betas is not implemented "
                                      "(Lethe implements null: β from beta_start, beta_end and beta_schedule)";
    QTest::newRow("learned variance")
        << R"({"variance_type": "learned_range"})"
        << "scheduler_config.json: key 'variance_type': \"learned_range\" is not implemented (Lethe implements "
           "\"fixed_small\", \"fixed_small_log\", \"fixed_large\" and \"fixed_large_log\", which its "
           "deterministic samplers never draw; its networks predict ε or v, not a variance)";
    QTest::newRow("log-linear σ") << R"({"interpolation_type": "log_linear"})"
                                  << "scheduler_config.json: key 'interpolation_type': \"log_linear\" is not "
                                     "implemented (Lethe implements \"linear\")";
    QTest::newRow("Karras σ") << R"({"use_karras_sigmas": true})"
                              << "scheduler_config.json: key 'use_karras_sigmas': true is not implemented (Lethe "
                                 "implements false: σ from the training schedule at the sampler's timesteps)";
    QTest::newRow("continuous timesteps") << R"({"timestep_type": "continuous"})"
                                          << "scheduler_config.json: key 'timestep_type': \"continuous\" is not "
                                             "implemented (Lethe implements \"discrete\")";
    QTest::newRow("final σ") << R"({"final_sigmas_type": "sigma_min"})"
                             << "scheduler_config.json: key 'final_sigmas_type': \"sigma_min\" is not implemented "
                                "(Lethe implements \"zero\")";
    QTest::newRow("accepted key of the wrong type")
        << R"({"skip_prk_steps": "yes"})"
        << "scheduler_config.json: key 'skip_prk_steps': expected true or false, found \"yes\"";
}

void TestDdpm::ddpmScheduleConfigErrors()
{
    QFETCH(QString, json);
    QFETCH(QString, message);
    const auto parsed = nlohmann::json::parse(json.toStdString());
    QCOMPARE(
        QString::fromStdString(errorMessage([&] { ddpmScheduleFromJson(parsed, "scheduler_config.json"); })), message);
}

namespace {

/// A text-to-image model whose "text encoder" maps a prompt to one number (its length) and whose noise
/// prediction is that number everywhere, so guidance is plain arithmetic on the prompts' lengths.
TextToImageModel lengthModel(int* contextsSeen = nullptr)
{
    TextToImageModel model;
    model.encodePrompts = [contextsSeen](const std::vector<std::string>& prompts) {
        if (contextsSeen)
            *contextsSeen += static_cast<int>(prompts.size());
        std::vector<float> lengths;
        for (const auto& p : prompts)
            lengths.push_back(static_cast<float>(p.size()) / 10.0F);
        return torch::tensor(lengths).reshape({ -1, 1, 1 });
    };
    model.predictNoise = [](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context) {
        if (t.dim() != 1 || t.size(0) != x.size(0) || context.size(0) != x.size(0))
            throw Error("predictNoise: batch sizes disagree");
        return (x * 0.99 + 0.05 * context.reshape({ -1, 1, 1, 1 })).expand_as(x).contiguous();
    };
    model.latentChannels = 1;
    model.latentScale = 1;
    return model;
}

TextToImageRequest smallRequest()
{
    TextToImageRequest request;
    request.prompts = { "a red sneaker" };
    request.seeds = { 0, 1, 2 };
    request.height = 4;
    request.width = 4;
    request.sampler.steps = 5;
    request.batch = 2;
    return request;
}

} // namespace

void TestDdpm::textToImageGuidanceMixesPromptAndNegative()
{
    // With ε = 0.99·x + c/20, guidance g with contexts c₊ and c₋ gives 0.99·x + (c₋ + g·(c₊ − c₋))/20: as no
    // guidance with a context of c₋ + g·(c₊ − c₋).
    const TextToImageModel model = lengthModel();
    TextToImageRequest guided = smallRequest();
    guided.guidance = 3.0;
    guided.negativePrompt = "blurry";
    const auto a = generate(model, guided);
    QVERIFY(a.has_value());
    QCOMPARE(a->sizes(), (std::vector<std::int64_t> { 3, 1, 4, 4 }));
    QCOMPARE(a->scalar_type(), torch::kUInt8);

    TextToImageModel mixed = lengthModel();
    mixed.encodePrompts = [](const std::vector<std::string>& prompts) {
        const float plus = 1.3F; // "a red sneaker"
        const float minus = 0.6F; // "blurry"
        return torch::full({ static_cast<std::int64_t>(prompts.size()), 1, 1 }, minus + 3.0F * (plus - minus));
    };
    TextToImageRequest plain = smallRequest();
    plain.guidance = 1.0;
    const auto b = generate(mixed, plain);
    QVERIFY(b.has_value());
    QVERIFY((a->to(torch::kInt32) - b->to(torch::kInt32)).abs().max().item<int>() <= 1);

    // Another negative prompt changes the images; guidance 1 ignores it and encodes no negative prompt.
    guided.negativePrompt = "a photo";
    QVERIFY(!torch::equal(*generate(model, guided), *a));
    int encoded = 0;
    const TextToImageModel counting = lengthModel(&encoded);
    QVERIFY(generate(counting, plain).has_value());
    QCOMPARE(encoded, 3);
}

void TestDdpm::textToImageSeedsDoNotDependOnBatch()
{
    const TextToImageModel model = lengthModel();
    TextToImageRequest request = smallRequest();
    request.guidance = 2.0;
    request.batch = 1;
    const torch::Tensor one = *generate(model, request);
    request.batch = 3;
    const torch::Tensor three = *generate(model, request);
    QVERIFY(torch::equal(one, three));
    QVERIFY(!torch::equal(one[0], one[1])); // different seeds, different images
    request.seeds = { 2 };
    QVERIFY(torch::equal(*generate(model, request), three.slice(0, 2, 3)));
    // One prompt per seed.
    request.seeds = { 5, 5 };
    request.prompts = { "a sneaker", "a very long prompt about a sneaker" };
    const torch::Tensor perPrompt = *generate(model, request);
    QVERIFY(!torch::equal(perPrompt[0], perPrompt[1]));
}

void TestDdpm::textToImageDecodesLatentsAndReportsProgress()
{
    TextToImageModel model = lengthModel();
    model.latentChannels = 2;
    model.latentScale = 2;
    int decoded = 0;
    model.decode = [&decoded](const torch::Tensor& latents) {
        decoded += static_cast<int>(latents.size(0));
        const torch::Tensor rgb = torch::cat({ latents, latents.slice(1, 0, 1) }, 1);
        return torch::upsample_nearest2d(rgb, { latents.size(2) * 2, latents.size(3) * 2 }).clamp(-1, 1);
    };
    TextToImageRequest request = smallRequest();
    std::vector<std::pair<std::int64_t, std::int64_t>> reports;
    const auto images = generate(model, request, [&](std::int64_t done, std::int64_t total) {
        reports.emplace_back(done, total);
        return true;
    });
    QVERIFY(images.has_value());
    QCOMPARE(images->sizes(), (std::vector<std::int64_t> { 3, 3, 4, 4 }));
    QCOMPARE(decoded, 3);
    // Two batches of five steps: 0 first, then 1 … 10, never going back.
    QCOMPARE(reports.front(), (std::pair<std::int64_t, std::int64_t> { 0, 10 }));
    QCOMPARE(reports.back(), (std::pair<std::int64_t, std::int64_t> { 10, 10 }));
    for (std::size_t i = 1; i < reports.size(); ++i)
        QVERIFY(reports[i].first >= reports[i - 1].first);
    decoded = 0;
    const auto cancelled = generate(model, request, [](std::int64_t done, std::int64_t) { return done < 7; });
    QVERIFY(!cancelled.has_value());
    QCOMPARE(decoded, 2); // the first batch finished, the second was cancelled
}

void TestDdpm::textToImageRejectsBadRequests_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("message");
    QTest::newRow("no seeds") << 0 << "generate: no seeds given (one image is drawn per seed)";
    QTest::newRow("prompts") << 1 << "generate: 2 prompts for 3 seeds (give one prompt, or one per seed)";
    QTest::newRow("size") << 2 << "generate: the image size must be a positive multiple of 8 pixels, found 500×512";
    QTest::newRow("no prompt") << 3 << "generate: no prompt given";
    QTest::newRow("guidance") << 4 << "generate: the guidance scale must be 0 or more, found -1.000000";
}

void TestDdpm::textToImageRejectsBadRequests()
{
    QFETCH(int, which);
    QFETCH(QString, message);
    TextToImageModel model = lengthModel();
    model.latentScale = 8;
    TextToImageRequest request = smallRequest();
    request.height = 512;
    request.width = 512;
    switch (which) {
    case 0:
        request.seeds.clear();
        break;
    case 1:
        request.prompts = { "a", "b" };
        break;
    case 2:
        request.width = 500;
        break;
    case 3:
        request.prompts.clear();
        break;
    default:
        request.guidance = -1.0;
        break;
    }
    QCOMPARE(QString::fromStdString(errorMessage([&] { generate(model, request); })), message);
}

QTEST_APPLESS_MAIN(TestDdpm)
#include "test_ddpm.moc"
