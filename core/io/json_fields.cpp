#include "json_fields.h"

#include "atomic_file.h"
#include "json_number.h"

#include <optional>

namespace lethe::io {

using nlohmann::json;

namespace {

/// The items of `value` when it is an array of integers (T = std::int64_t) or of strings (T = std::string);
/// nullopt when it is something else.
template <typename T> std::optional<std::vector<T>> itemsOf(const json& value)
{
    if (!value.is_array())
        return std::nullopt;
    std::vector<T> items;
    for (const json& item : value) {
        if (!(std::is_same_v<T, std::string> ? item.is_string() : item.is_number_integer()))
            return std::nullopt;
        items.push_back(item.get<T>());
    }
    return items;
}

} // namespace

json readJsonObjectFile(const std::filesystem::path& path)
{
    const std::string text = readFile(path);
    json object;
    try {
        object = json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(path.string(), "byte " + std::to_string(e.byte), "invalid JSON");
    } catch (const json::out_of_range& e) {
        throw FormatError(path.string(), "number " + overflowingNumber(e), "invalid JSON: out of range of a double");
    }
    if (!object.is_object())
        throw FormatError(
            path.string(), "top level", std::string("expected a JSON object, found ") + object.type_name());
    return object;
}

JsonFields::JsonFields(const json& object, std::string file)
    : m_object(object)
    , m_file(std::move(file))
{
    if (!m_object.is_object())
        throw FormatError(m_file, "top level", std::string("expected a JSON object, found ") + m_object.type_name());
}

bool JsonFields::has(const std::string& key) const
{
    return find(key) != nullptr;
}

const json* JsonFields::find(const std::string& key) const
{
    const auto it = m_object.find(key);
    return it == m_object.end() || it->is_null() ? nullptr : &*it;
}

void JsonFields::fail(const std::string& key, const std::string& problem) const
{
    throw FormatError(m_file, "key '" + key + "'", problem);
}

void JsonFields::wrongType(const std::string& key, const char* expected, const json& found) const
{
    fail(key, std::string("expected ") + expected + ", found " + found.dump());
}

std::vector<std::int64_t> JsonFields::intList(
    const std::string& key, const std::vector<std::int64_t>& fallback, std::size_t scalarRepeats) const
{
    const json* value = find(key);
    if (!value)
        return fallback;
    if (scalarRepeats > 0 && value->is_number_integer())
        return std::vector<std::int64_t>(scalarRepeats, value->get<std::int64_t>());
    const auto list = itemsOf<std::int64_t>(*value);
    if (!list)
        wrongType(key,
            scalarRepeats > 0 && !value->is_array() ? "an integer or a list of integers" : "a list of integers",
            *value);
    return *list;
}

std::vector<std::string> JsonFields::stringList(const std::string& key, const std::vector<std::string>& fallback) const
{
    const json* value = find(key);
    if (!value)
        return fallback;
    const auto list = itemsOf<std::string>(*value);
    if (!list)
        wrongType(key, "a list of strings", *value);
    return *list;
}

} // namespace lethe::io
