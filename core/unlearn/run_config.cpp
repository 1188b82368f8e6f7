#include "run_config.h"

#include "core/describe.h"
#include "core/error.h"
#include "core/io/config_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace lethe::unlearn {

const std::vector<std::pair<Method, std::string>>& enumNames(Method)
{
    static const std::vector<std::pair<Method, std::string>> table = { { Method::GA, "ga" },
        { Method::GradDiff, "graddiff" }, { Method::RG, "rg" }, { Method::RGD, "rgd" }, { Method::SalUn, "salun" } };
    return table;
}

const std::vector<std::pair<Precision, std::string>>& enumNames(Precision)
{
    static const std::vector<std::pair<Precision, std::string>> table
        = { { Precision::Float32, "float32" }, { Precision::BFloat16, "bfloat16" }, { Precision::Float16, "float16" } };
    return table;
}

const std::vector<std::pair<NanPolicy, std::string>>& enumNames(NanPolicy)
{
    static const std::vector<std::pair<NanPolicy, std::string>> table
        = { { NanPolicy::Stop, "stop" }, { NanPolicy::HalveLr, "halve-lr" } };
    return table;
}

const std::vector<std::pair<RemainAveraging, std::string>>& enumNames(RemainAveraging)
{
    static const std::vector<std::pair<RemainAveraging, std::string>> table
        = { { RemainAveraging::Mean, "mean" }, { RemainAveraging::NominalBatch, "nominal-batch" } };
    return table;
}

std::string methodName(Method method)
{
    return io::enumName(method);
}

std::vector<std::string> methodNames()
{
    std::vector<std::string> names;
    for (const auto& entry : enumNames(Method {}))
        names.push_back(entry.second);
    return names;
}

Method methodFromName(const std::string& name)
{
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (const std::optional<Method> method = enumFromName<Method>(lower))
        return *method;
    std::string valid;
    for (const auto& n : methodNames())
        valid += (valid.empty() ? "" : ", ") + n;
    throw Error("unknown unlearning method '" + name + "' (valid: " + valid + ")");
}

void RunConfig::validate() const
{
    auto positive = [](const char* key, double value) {
        if (!(value > 0) || !std::isfinite(value))
            throw Error(std::string("run config: ") + key + " must be positive, found " + formatNumber(value));
    };
    positive("alpha", alpha);
    positive("lr", lr);
    if (!(lambda >= 0) || !std::isfinite(lambda))
        throw Error("run config: lambda must be zero or positive, found " + formatNumber(lambda));
    positive("steps", static_cast<double>(steps));
    positive("forget_batch", static_cast<double>(forgetBatch));
    positive("remain_per_class", static_cast<double>(remainPerClass));
    positive("remain_batch", static_cast<double>(remainBatch));
    if (!(saliencyFraction > 0 && saliencyFraction <= 1))
        throw Error("run config: saliency_fraction must be in (0, 1], found " + formatNumber(saliencyFraction));
    if (!(augmentP >= 0 && augmentP <= 1))
        throw Error("run config: augment_p must be in [0, 1], found " + formatNumber(augmentP));
    if (optimizer != "adam" && optimizer != "sgd")
        throw Error("run config: optimizer must be 'adam' or 'sgd', found '" + optimizer + "'");
    if (snapshotEvery < 1)
        throw Error("run config: snapshot_every must be at least 1, found " + std::to_string(snapshotEvery));
    if (previewEvery < 0)
        throw Error("run config: preview_every must be 0 (off) or positive, found " + std::to_string(previewEvery));
    if (previewSeeds.empty())
        throw Error("run config: preview_seeds must not be empty");
    if (previewSamplerSteps < 1)
        throw Error("run config: preview_sampler_steps must be at least 1");
    if (evaluate && evalImagesPerClass < 2)
        throw Error(
            "run config: eval_images_per_class must be at least 2, found " + std::to_string(evalImagesPerClass));
}

std::vector<std::string> runPresetNames()
{
    return { "cpu-fast", "paper" };
}

RunConfig runPreset(const std::string& name)
{
    RunConfig config;
    if (name == "cpu-fast")
        return config;
    if (name == "paper") {
        config.alpha = 0.1;
        config.lambda = 5.0;
        config.lr = 1e-5;
        config.steps = 782; // 50 k images at batch 64.
        config.forgetBatch = 64;
        config.remainBatch = 64;
        config.remainPerClass = 50;
        config.snapshotEvery = 50;
        config.remainAveraging = RemainAveraging::NominalBatch;
        config.augmentP = 0.12;
        return config;
    }
    throw Error("unknown run preset '" + name + "' (valid: cpu-fast, paper)");
}

} // namespace lethe::unlearn
