#pragma once

// One way to write and read Lethe's plain config structs as JSON: each struct lists its fields once, in a
// static `fields(self, visit)` function that calls `visit("json_key", self.member)` per field, and these two
// functions walk that list in both directions, so a new field cannot be forgotten by one of them.
//
// A table may call a group's table for keys that several structs share. Each struct also names itself for
// messages in `static constexpr const char* kJsonName` ("run config").
//
// Fields may be bool, integers, floating numbers, std::string, vectors of those, nlohmann::json (taken as it is), or
// an enum with a name table (core/enum_names.h); enums are written by name.

#include "core/enum_names.h"
#include "core/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

namespace lethe::io {

// The enum helpers of core/enum_names.h, under the names io's callers use.
using lethe::enumName;
using lethe::enumNameList;

/// The config as a JSON object, its enums by name.
template <typename Config> nlohmann::json configToJson(const Config& config)
{
    nlohmann::json j = nlohmann::json::object();
    Config::fields(config, [&](const char* key, const auto& field) {
        using Field = std::decay_t<decltype(field)>;
        if constexpr (std::is_enum_v<Field>)
            j[key] = enumName(field);
        else
            j[key] = field;
    });
    return j;
}

/// Reads `json` over `config`: absent keys keep their values. Throws Error("<what>: unknown key 'k'") for a key
/// the struct does not have and Error("<what>: key 'k' has the wrong type (t)") for a value of another type
/// (nlohmann would silently turn booleans into numbers and floats into integers; a config file should not).
template <typename Config> void configFromJson(Config& config, const nlohmann::json& json, const std::string& what)
{
    if (!json.is_object())
        throw Error(what + ": expected a JSON object, found " + std::string(json.type_name()));
    const nlohmann::json known = configToJson(config);
    for (const auto& item : json.items())
        if (!known.contains(item.key()))
            throw Error(what + ": unknown key '" + item.key() + "'");
    Config::fields(config, [&](const char* key, auto& field) {
        if (!json.contains(key))
            return;
        const nlohmann::json& value = json.at(key);
        const auto wrongType
            = [&] { return Error(what + ": key '" + key + "' has the wrong type (" + value.type_name() + ")"); };
        using Field = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<Field, nlohmann::json>) {
            field = value; // Free-form (an architecture, a diffusers config): its own reader checks it.
        } else if constexpr (std::is_enum_v<Field>) {
            if (!value.is_string())
                throw wrongType();
            const auto& table = enumNames(field);
            const auto found = std::find_if(table.begin(), table.end(),
                [&](const auto& entry) { return entry.second == value.template get<std::string>(); });
            if (found == table.end())
                throw Error(what + ": " + key + " must be " + enumNameList(field) + ", found " + value.dump());
            field = found->first;
        } else {
            const bool ok = std::is_same_v<Field, bool> ? value.is_boolean()
                : std::is_same_v<Field, std::string>    ? value.is_string()
                : std::is_floating_point_v<Field>       ? value.is_number()
                : std::is_integral_v<Field> && std::is_unsigned_v<Field>
                ? value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0)
                : std::is_integral_v<Field> ? value.is_number_integer()
                                            : value.is_array();
            if (!ok)
                throw wrongType();
            try {
                value.get_to(field);
            } catch (const nlohmann::json::exception&) {
                throw wrongType();
            }
        }
    });
}

/// A `Config` read from `json` over its defaults, as the function above (messages begin with Config::kJsonName).
template <typename Config> Config configFromJson(const nlohmann::json& json)
{
    Config config;
    configFromJson(config, json, Config::kJsonName);
    return config;
}

} // namespace lethe::io
