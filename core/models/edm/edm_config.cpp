#include "edm_config.h"

#include "core/error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>

namespace lethe::models {

using nlohmann::json;

namespace {

const std::string kContext = "EDM architecture";

[[noreturn]] void fail(const std::string& key, const std::string& problem)
{
    throw Error(kContext + " key '" + key + "': " + problem);
}

std::string describe(const json& value)
{
    std::string text = value.dump();
    if (text.size() > 40)
        text = text.substr(0, 37) + "...";
    return std::string(value.type_name()) + " " + text;
}

std::int64_t toInt(const std::string& key, const json& value)
{
    if (!value.is_number_integer())
        fail(key, "expected an integer, found " + describe(value));
    return value.get<std::int64_t>();
}

double toDouble(const std::string& key, const json& value)
{
    if (!value.is_number())
        fail(key, "expected a number, found " + describe(value));
    return value.get<double>();
}

bool toBool(const std::string& key, const json& value)
{
    if (!value.is_boolean())
        fail(key, "expected true or false, found " + describe(value));
    return value.get<bool>();
}

std::string toString(const std::string& key, const json& value)
{
    if (!value.is_string())
        fail(key, "expected a string, found " + describe(value));
    return value.get<std::string>();
}

std::vector<std::int64_t> toIntList(const std::string& key, const json& value)
{
    if (!value.is_array())
        fail(key, "expected a list of integers, found " + describe(value));
    std::vector<std::int64_t> list;
    for (const json& item : value) {
        if (!item.is_number_integer())
            fail(key, "expected a list of integers, found an element " + describe(item));
        list.push_back(item.get<std::int64_t>());
    }
    return list;
}

std::vector<double> toNumberList(const std::string& key, const json& value)
{
    if (!value.is_array())
        fail(key, "expected a list of numbers, found " + describe(value));
    std::vector<double> list;
    for (const json& item : value) {
        if (!item.is_number())
            fail(key, "expected a list of numbers, found an element " + describe(item));
        list.push_back(item.get<double>());
    }
    return list;
}

// Whole taps are written as integers, as EDM's own kwargs hold them ([1, 3, 3, 1]).
json numberList(const std::vector<double>& values)
{
    json list = json::array();
    for (double v : values) {
        if (std::floor(v) == v && std::abs(v) < 9.0e15)
            list.push_back(static_cast<std::int64_t>(v));
        else
            list.push_back(v);
    }
    return list;
}

/// A setter that reads an enum by its EDM name, or fails listing the names.
template <typename Enum, typename Set> auto enumSetter(Set set)
{
    return [set](const std::string& key, const json& value) {
        const std::string name = toString(key, value);
        const std::optional<Enum> parsed = enumFromName<Enum>(name);
        if (!parsed)
            fail(key, "expected " + enumNameList(Enum {}) + ", found '" + name + "'");
        set(*parsed);
    };
}

} // namespace

json toJson(const EDMPrecondOptions& options)
{
    const SongUNetOptions& m = options.model();
    json j = {
        { "img_resolution", options.img_resolution() },
        { "img_channels", options.img_channels() },
        { "label_dim", options.label_dim() },
        { "sigma_min", options.sigma_min() },
        { "sigma_data", options.sigma_data() },
        { "model_type", "SongUNet" },
        { "augment_dim", m.augment_dim() },
        { "model_channels", m.model_channels() },
        { "channel_mult", m.channel_mult() },
        { "channel_mult_emb", m.channel_mult_emb() },
        { "num_blocks", m.num_blocks() },
        { "attn_resolutions", m.attn_resolutions() },
        { "dropout", m.dropout() },
        { "label_dropout", m.label_dropout() },
        { "embedding_type", enumName(m.embedding_type()) },
        { "channel_mult_noise", m.channel_mult_noise() },
        { "encoder_type", enumName(m.encoder_type()) },
        { "decoder_type", enumName(m.decoder_type()) },
        { "resample_filter", numberList(m.resample_filter()) },
    };
    // JSON has no infinity; EDM's default (inf) is expressed by leaving the key out.
    if (std::isfinite(options.sigma_max()))
        j["sigma_max"] = options.sigma_max();
    return j;
}

EDMPrecondOptions edmOptionsFromJson(const json& j)
{
    if (!j.is_object())
        throw Error(kContext + ": expected a JSON object of EDM keyword arguments, found " + describe(j));
    for (const char* key : { "img_resolution", "img_channels" })
        if (!j.contains(key))
            fail(key, "missing (it has no default)");

    EDMPrecondOptions options(
        toInt("img_resolution", j.at("img_resolution")), toInt("img_channels", j.at("img_channels")));
    SongUNetOptions& m = options.model();
    using Setter = std::function<void(const std::string&, const json&)>;
    const std::map<std::string, Setter> setters = {
        { "img_resolution", [](const std::string&, const json&) {} },
        { "img_channels", [](const std::string&, const json&) {} },
        { "label_dim", [&](const std::string& k, const json& v) { options.label_dim(toInt(k, v)); } },
        { "use_fp16", [](const std::string& k, const json& v) { toBool(k, v); } },
        { "class_name",
            [](const std::string& k, const json& v) {
                const std::string name = toString(k, v);
                const std::string suffix = "EDMPrecond";
                if (name.size() < suffix.size()
                    || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                    fail(k, "unsupported preconditioning '" + name + "' (Lethe implements EDMPrecond)");
            } },
        { "sigma_min", [&](const std::string& k, const json& v) { options.sigma_min(toDouble(k, v)); } },
        { "sigma_max",
            [&](const std::string& k, const json& v) {
                options.sigma_max(v.is_null() ? std::numeric_limits<double>::infinity() : toDouble(k, v));
            } },
        { "sigma_data", [&](const std::string& k, const json& v) { options.sigma_data(toDouble(k, v)); } },
        { "model_type",
            [](const std::string& k, const json& v) {
                const std::string type = toString(k, v);
                if (type != "SongUNet")
                    fail(k, "unsupported model type '" + type + "' (Lethe builds 'SongUNet')");
            } },
        { "augment_dim", [&](const std::string& k, const json& v) { m.augment_dim(toInt(k, v)); } },
        { "model_channels", [&](const std::string& k, const json& v) { m.model_channels(toInt(k, v)); } },
        { "channel_mult", [&](const std::string& k, const json& v) { m.channel_mult(toIntList(k, v)); } },
        { "channel_mult_emb", [&](const std::string& k, const json& v) { m.channel_mult_emb(toInt(k, v)); } },
        { "num_blocks", [&](const std::string& k, const json& v) { m.num_blocks(toInt(k, v)); } },
        { "attn_resolutions", [&](const std::string& k, const json& v) { m.attn_resolutions(toIntList(k, v)); } },
        { "dropout", [&](const std::string& k, const json& v) { m.dropout(toDouble(k, v)); } },
        { "label_dropout", [&](const std::string& k, const json& v) { m.label_dropout(toDouble(k, v)); } },
        { "embedding_type", enumSetter<EmbeddingType>([&](EmbeddingType type) { m.embedding_type(type); }) },
        { "channel_mult_noise", [&](const std::string& k, const json& v) { m.channel_mult_noise(toInt(k, v)); } },
        { "encoder_type", enumSetter<EncoderType>([&](EncoderType type) { m.encoder_type(type); }) },
        { "decoder_type", enumSetter<DecoderType>([&](DecoderType type) { m.decoder_type(type); }) },
        { "resample_filter", [&](const std::string& k, const json& v) { m.resample_filter(toNumberList(k, v)); } },
    };
    for (const auto& [key, value] : j.items()) {
        const auto setter = setters.find(key);
        if (setter == setters.end())
            fail(key, "unknown key (not an argument of EDMPrecond or SongUNet)");
        setter->second(key, value);
    }
    // EDMPrecond passes these to the model; mirror it so the options read consistently before building.
    m.img_resolution(options.img_resolution())
        .in_channels(options.img_channels())
        .out_channels(options.img_channels())
        .label_dim(options.label_dim());
    return options;
}

std::vector<std::string> edmPresetNames()
{
    return { "cifar10-ddpmpp-cond", "cifar10-ncsnpp-cond", "fmnist-ddpmpp-small" };
}

EDMPrecondOptions edmPreset(const std::string& name)
{
    if (name == "cifar10-ddpmpp-cond" || name == "cifar10-ncsnpp-cond") {
        // EDM's official class-conditional CIFAR-10 configurations (train.py --arch=ddpmpp / ncsnpp --cond=1).
        EDMPrecondOptions options(32, 3);
        options.label_dim(10);
        options.model()
            .label_dim(10)
            .augment_dim(9)
            .model_channels(128)
            .channel_mult({ 2, 2, 2 })
            .channel_mult_emb(4)
            .num_blocks(4)
            .attn_resolutions({ 16 })
            .dropout(0.13)
            .label_dropout(0.0);
        if (name == "cifar10-ddpmpp-cond")
            options.model()
                .embedding_type(EmbeddingType::Positional)
                .channel_mult_noise(1)
                .encoder_type(EncoderType::Standard)
                .decoder_type(DecoderType::Standard)
                .resample_filter({ 1.0, 1.0 });
        else
            options.model()
                .embedding_type(EmbeddingType::Fourier)
                .channel_mult_noise(2)
                .encoder_type(EncoderType::Residual)
                .decoder_type(DecoderType::Standard)
                .resample_filter({ 1.0, 3.0, 3.0, 1.0 });
        return options;
    }
    if (name == "fmnist-ddpmpp-small") {
        // Lethe's built-in model: a DDPM++ small enough to train on two CPU cores in hours (Fashion-MNIST padded to
        // 32×32; 710,377 parameters). resources/models/fmnist-edm.safetensors was trained with exactly this network.
        EDMPrecondOptions options(32, 1);
        options.label_dim(10);
        options.model()
            .label_dim(10)
            .augment_dim(0)
            .model_channels(24)
            .channel_mult({ 1, 2, 2 })
            .channel_mult_emb(4)
            .num_blocks(1)
            .attn_resolutions({ 8 })
            .dropout(0.1)
            .label_dropout(0.0)
            .embedding_type(EmbeddingType::Positional)
            .channel_mult_noise(1)
            .encoder_type(EncoderType::Standard)
            .decoder_type(DecoderType::Standard)
            .resample_filter({ 1.0, 1.0 });
        return options;
    }
    std::string valid;
    for (const auto& preset : edmPresetNames())
        valid += (valid.empty() ? "" : ", ") + preset;
    throw Error("unknown EDM preset '" + name + "': expected one of " + valid);
}

EDMPrecond makeEdmPrecond(const json& architecture)
{
    return EDMPrecond(edmOptionsFromJson(architecture));
}

} // namespace lethe::models
