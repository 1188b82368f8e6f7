#include "concept_config.h"

#include "core/describe.h"
#include "core/error.h"
#include "core/io/config_json.h"
#include "core/io/json_fields.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace lethe::unlearn {

namespace {

const char* const kCrossAttention = "attn2";

/// ESD's authors leave these out of ESD-u besides cross-attention (train-esd.py's 'noxattn': names starting with
/// "out." or containing "time_embed" in CompVis naming), under the names diffusers and Lethe give them.
bool esdUExcluded(const std::string& name)
{
    for (const char* prefix : { "conv_norm_out.", "conv_out.", "time_embedding." })
        if (name.rfind(prefix, 0) == 0)
            return true;
    return false;
}

/// "sd, fmnist-t2i, esd-paper": the presets, for messages.
std::string presetList()
{
    std::string out;
    for (const std::string& name : conceptPresetNames())
        out += (out.empty() ? "" : ", ") + name;
    return out;
}

} // namespace

const std::vector<std::pair<ConceptMethod, std::string>>& enumNames(ConceptMethod)
{
    static const std::vector<std::pair<ConceptMethod, std::string>> table = { { ConceptMethod::RGD, "rgd" },
        { ConceptMethod::GradDiff, "graddiff" }, { ConceptMethod::GA, "ga" }, { ConceptMethod::ESD, "esd" },
        { ConceptMethod::RG, "rg" }, { ConceptMethod::SalUn, "salun" }, { ConceptMethod::UCE, "uce" } };
    return table;
}

const std::vector<std::pair<ParameterGroup, std::string>>& enumNames(ParameterGroup)
{
    static const std::vector<std::pair<ParameterGroup, std::string>> table
        = { { ParameterGroup::All, "all" }, { ParameterGroup::CrossAttention, "cross-attn" },
              { ParameterGroup::NoCrossAttention, "no-cross-attn" }, { ParameterGroup::EsdU, "esd-u" } };
    return table;
}

const std::vector<std::pair<LatentMode, std::string>>& enumNames(LatentMode)
{
    static const std::vector<std::pair<LatentMode, std::string>> table
        = { { LatentMode::Sample, "sample" }, { LatentMode::Mean, "mean" } };
    return table;
}

const std::vector<std::pair<EsdTimestep, std::string>>& enumNames(EsdTimestep)
{
    static const std::vector<std::pair<EsdTimestep, std::string>> table
        = { { EsdTimestep::Reached, "reached" }, { EsdTimestep::Bucket, "bucket" } };
    return table;
}

const std::vector<std::pair<RemainPairing, std::string>>& enumNames(RemainPairing)
{
    static const std::vector<std::pair<RemainPairing, std::string>> table
        = { { RemainPairing::Twins, "twins" }, { RemainPairing::Independent, "independent" } };
    return table;
}

std::optional<ConceptMethod> conceptMethodFromName(const std::string& name)
{
    return enumFromName<ConceptMethod>(name);
}

std::string conceptMethodName(ConceptMethod method)
{
    return io::enumName(method);
}

std::optional<ParameterGroup> parameterGroupFromName(const std::string& name)
{
    return enumFromName<ParameterGroup>(name);
}

std::string parameterGroupName(ParameterGroup group)
{
    return io::enumName(group);
}

bool inParameterGroup(ParameterGroup group, const std::string& name)
{
    const bool crossAttention = name.find(kCrossAttention) != std::string::npos;
    switch (group) {
    case ParameterGroup::All:
        return true;
    case ParameterGroup::CrossAttention:
        return crossAttention;
    case ParameterGroup::NoCrossAttention:
        return !crossAttention;
    case ParameterGroup::EsdU:
        return !crossAttention && !esdUExcluded(name);
    }
    return true;
}

void ConceptConfig::validate() const
{
    const std::string what = "concept unlearning: ";
    if (!(alpha > 0.0))
        throw Error(what + "alpha must be greater than 0, found " + formatNumber(alpha));
    if (!(lambda >= 0.0) || !std::isfinite(lambda))
        throw Error(what + "lambda must be finite and at least 0, found " + formatNumber(lambda));
    if (!(lr > 0.0) || !std::isfinite(lr))
        throw Error(what + "lr must be finite and greater than 0, found " + formatNumber(lr));
    if (steps < 1)
        throw Error(what + "steps must be at least 1, found " + std::to_string(steps));
    if (forgetBatch < 1)
        throw Error(what + "forget batch must be at least 1, found " + std::to_string(forgetBatch));
    if (remainBatch < 1)
        throw Error(what + "remain batch must be at least 1, found " + std::to_string(remainBatch));
    if (!std::isfinite(eta))
        throw Error(what + "eta must be finite, found " + formatNumber(eta));
    if (esdSamplingSteps < 0 || esdSamplingSteps > 1000)
        throw Error(what + "ESD sampling steps must be in 0…1000, found " + std::to_string(esdSamplingSteps));
    if (!std::isfinite(esdGuidance))
        throw Error(what + "ESD guidance must be finite, found " + formatNumber(esdGuidance));
    if (!(saliencyFraction > 0.0 && saliencyFraction <= 1.0))
        throw Error(what + "saliency_fraction must be in (0, 1], found " + formatNumber(saliencyFraction));
    if (!(uceRegularisation >= 0.0) || !std::isfinite(uceRegularisation))
        throw Error(
            what + "uce_regularisation must be finite and at least 0, found " + formatNumber(uceRegularisation));
    if (!(uceEraseScale > 0.0) || !std::isfinite(uceEraseScale))
        throw Error(what + "uce_erase_scale must be finite and greater than 0, found " + formatNumber(uceEraseScale));
    if (!(ucePreserveScale >= 0.0) || !std::isfinite(ucePreserveScale))
        throw Error(what + "uce_preserve_scale must be finite and at least 0 (0: the authors' max(0.1, 1/N)), found "
            + formatNumber(ucePreserveScale));
    if (snapshotEvery < 1)
        throw Error(what + "snapshot_every must be at least 1, found " + std::to_string(snapshotEvery));
    if (previewEvery < 0)
        throw Error(what + "preview_every must be 0 (off) or positive, found " + std::to_string(previewEvery));
}

std::vector<std::string> conceptWords(const std::string& forgetConcept)
{
    std::vector<std::string> words;
    std::size_t begin = 0;
    while (begin <= forgetConcept.size()) {
        const std::size_t end = std::min(forgetConcept.find(',', begin), forgetConcept.size());
        std::string word = forgetConcept.substr(begin, end - begin);
        const auto first = word.find_first_not_of(" \t");
        if (first != std::string::npos)
            words.push_back(word.substr(first, word.find_last_not_of(" \t") - first + 1));
        begin = end + 1;
    }
    return words;
}

std::string conceptText(const std::vector<std::string>& words)
{
    std::string text;
    for (const std::string& word : words)
        text += (text.empty() ? "" : ", ") + word;
    return text;
}

double effectivePreserveScale(double configured, std::size_t preserved)
{
    if (configured > 0.0)
        return configured;
    return preserved == 0 ? 0.1 : std::max(0.1, 1.0 / static_cast<double>(preserved));
}

std::vector<std::string> conceptPresetNames()
{
    return { "sd", "fmnist-t2i", "esd-paper" };
}

ConceptConfig conceptPreset(const std::string& name)
{
    ConceptConfig config;
    if (name == "sd")
        return config;
    if (name == "fmnist-t2i") {
        config.alpha = 0.1;
        config.lambda = 10.0;
        config.steps = 150;
        return config;
    }
    if (name == "esd-paper") {
        // rohitgandikota/erasing, train-scripts/train-esd.py with --train_method noxattn and its defaults.
        config.method = ConceptMethod::ESD;
        config.parameters = ParameterGroup::EsdU;
        config.forgetBatch = 1;
        config.steps = 1000;
        config.lr = 1e-5;
        config.eta = 1.0;
        config.esdSamplingSteps = 50;
        config.esdGuidance = 3.0;
        config.esdTimestep = EsdTimestep::Bucket;
        return config;
    }
    throw Error("unknown concept preset '" + name + "' (valid: " + presetList() + ")");
}

std::optional<std::string> recommendedConceptPreset(const std::filesystem::path& model)
{
    const std::filesystem::path manifest = model / "lethe-manifest.json";
    if (!std::filesystem::is_directory(model) || !std::filesystem::is_regular_file(manifest))
        return std::nullopt;
    const nlohmann::json object = io::readJsonObjectFile(manifest); // JsonFields keeps a reference to it.
    const io::JsonFields fields(object, manifest.string());
    if (!fields.has("recommended_preset"))
        return std::nullopt;
    const auto name = fields.require<std::string>("recommended_preset");
    const auto names = conceptPresetNames();
    if (std::find(names.begin(), names.end(), name) == names.end())
        fields.fail("recommended_preset", "unknown concept preset '" + name + "' (valid: " + presetList() + ")");
    return name;
}

} // namespace lethe::unlearn
