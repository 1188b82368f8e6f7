#pragma once

// Typed reads of JSON configuration files (diffusers' config.json files, scheduler configs, Lethe's own),
// with errors that name the file and the key.

#include "core/error.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

namespace lethe::io {

/// Parses a JSON file that must hold one object. Throws IoError when it cannot be read and FormatError
/// (file, "top level" or the parser's byte offset) when it is not valid JSON or not an object.
nlohmann::json readJsonObjectFile(const std::filesystem::path& path);

/// Reads the members of one JSON object, checking each value's type.
class JsonFields {
public:
    /// `file` names the object in messages ("unet/config.json").
    JsonFields(const nlohmann::json& object, std::string file);
    /// Refused: the reader keeps a reference, which a temporary would leave dangling.
    JsonFields(nlohmann::json&& object, std::string file) = delete;

    const nlohmann::json& object() const { return m_object; }
    const std::string& file() const { return m_file; }
    bool has(const std::string& key) const;

    /// The value under `key`, or `fallback` when it is absent or null. T is bool, an integer type, a
    /// floating type or std::string. Throws FormatError(file, "key 'k'", "expected …, found …").
    template <typename T> T get(const std::string& key, T fallback) const
    {
        const nlohmann::json* value = find(key);
        return value ? convert<T>(key, *value) : fallback;
    }

    /// Like get(), but an absent key is an error ("missing").
    template <typename T> T require(const std::string& key) const
    {
        const nlohmann::json* value = find(key);
        if (!value)
            fail(key, "missing");
        return convert<T>(key, *value);
    }

    /// A list of integers; a single integer is accepted when `scalarRepeats` > 0 and repeated that often
    /// (diffusers writes attention_head_dim either way).
    std::vector<std::int64_t> intList(
        const std::string& key, const std::vector<std::int64_t>& fallback, std::size_t scalarRepeats = 0) const;
    /// A list of strings.
    std::vector<std::string> stringList(const std::string& key, const std::vector<std::string>& fallback) const;

    /// Throws FormatError(file, "key 'k'", problem).
    [[noreturn]] void fail(const std::string& key, const std::string& problem) const;

private:
    const nlohmann::json* find(const std::string& key) const;
    [[noreturn]] void wrongType(const std::string& key, const char* expected, const nlohmann::json& found) const;

    template <typename T> T convert(const std::string& key, const nlohmann::json& value) const
    {
        if constexpr (std::is_same_v<T, bool>) {
            if (!value.is_boolean())
                wrongType(key, "true or false", value);
        } else if constexpr (std::is_integral_v<T>) {
            if (!value.is_number_integer())
                wrongType(key, "an integer", value);
        } else if constexpr (std::is_floating_point_v<T>) {
            if (!value.is_number())
                wrongType(key, "a number", value);
        } else {
            static_assert(std::is_same_v<T, std::string>, "JsonFields reads bool, numbers and strings");
            if (!value.is_string())
                wrongType(key, "a string", value);
        }
        return value.get<T>();
    }

    const nlohmann::json& m_object;
    std::string m_file;
};

} // namespace lethe::io
