#include "run_config.h"

#include "core/describe.h"
#include "core/error.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace lethe::unlearn {

using nlohmann::json;

namespace {

const std::vector<std::pair<Method, std::string>>& methodTable()
{
    static const std::vector<std::pair<Method, std::string>> table = { { Method::GA, "ga" },
        { Method::GradDiff, "graddiff" }, { Method::RG, "rg" }, { Method::RGD, "rgd" }, { Method::SalUn, "salun" } };
    return table;
}

/// The one list of fields: toJson and runConfigFromJson both walk it, so a new field cannot be forgotten
/// by one of them. Method and NaN policy are strings in JSON and handled by the callers.
template <typename Config, typename Visit> void visitFields(Config& c, Visit&& visit)
{
    visit("alpha", c.alpha);
    visit("lambda", c.lambda);
    visit("lr", c.lr);
    visit("optimizer", c.optimizer);
    visit("steps", c.steps);
    visit("forget_batch", c.forgetBatch);
    visit("remain_per_class", c.remainPerClass);
    visit("remain_batch", c.remainBatch);
    visit("saliency_fraction", c.saliencyFraction);
    visit("trainable", c.trainable);
    visit("seed", c.seed);
    visit("snapshot_every", c.snapshotEvery);
    visit("preview_every", c.previewEvery);
    visit("preview_seeds", c.previewSeeds);
    visit("preview_sampler_steps", c.previewSamplerSteps);
    visit("evaluate", c.evaluate);
    visit("eval_images_per_class", c.evalImagesPerClass);
}

} // namespace

std::string methodName(Method method)
{
    for (const auto& [m, name] : methodTable())
        if (m == method)
            return name;
    return "?";
}

std::vector<std::string> methodNames()
{
    std::vector<std::string> names;
    for (const auto& entry : methodTable())
        names.push_back(entry.second);
    return names;
}

Method methodFromName(const std::string& name)
{
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& [m, n] : methodTable())
        if (n == lower)
            return m;
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
        return config;
    }
    throw Error("unknown run preset '" + name + "' (valid: cpu-fast, paper)");
}

json toJson(const RunConfig& config)
{
    json j = json::object();
    j["method"] = methodName(config.method);
    visitFields(config, [&](const char* key, const auto& field) { j[key] = field; });
    j["on_nan"] = config.onNan == NanPolicy::Stop ? "stop" : "halve-lr";
    return j;
}

RunConfig runConfigFromJson(const json& j)
{
    if (!j.is_object())
        throw Error("run config: expected a JSON object, found " + std::string(j.type_name()));
    RunConfig c;
    const json known = toJson(c);
    for (const auto& item : j.items())
        if (!known.contains(item.key()))
            throw Error("run config: unknown key '" + item.key() + "'");
    auto wrongType = [&](const std::string& key) {
        return Error("run config: key '" + key + "' has the wrong type (" + j.at(key).type_name() + ")");
    };
    if (j.contains("method")) {
        if (!j.at("method").is_string())
            throw wrongType("method");
        c.method = methodFromName(j.at("method").get<std::string>());
    }
    visitFields(c, [&](const char* key, auto& field) {
        if (!j.contains(key))
            return;
        const json& value = j.at(key);
        using Field = std::decay_t<decltype(field)>;
        // nlohmann converts bools to numbers and floats to integers silently; a config file should not.
        const bool ok = std::is_same_v<Field, bool> ? value.is_boolean()
            : std::is_same_v<Field, std::string>    ? value.is_string()
            : std::is_floating_point_v<Field>       ? value.is_number()
            : std::is_integral_v<Field>             ? value.is_number_integer()
                                                    : value.is_array();
        if (!ok)
            throw wrongType(key);
        try {
            value.get_to(field);
        } catch (const json::exception&) {
            throw wrongType(key);
        }
    });
    if (j.contains("on_nan")) {
        const json& v = j.at("on_nan");
        if (v == "stop")
            c.onNan = NanPolicy::Stop;
        else if (v == "halve-lr")
            c.onNan = NanPolicy::HalveLr;
        else
            throw Error("run config: on_nan must be 'stop' or 'halve-lr', found " + v.dump());
    }
    return c;
}

} // namespace lethe::unlearn
