#pragma once

// Enum names, written once per enum: a function `enumNames(Enum)`, declared beside the enum so that argument-dependent
// lookup finds it, returns the enum's table of (value, name) pairs. A value may have several names (the first is the
// one written; the others are read too, for spellings other tools use). These templates name, parse and list from
// that one table, so that a name cannot be written one way and read another.

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lethe {

/// The first name of `value` in its enum's table ("?" when the table lacks it).
template <typename Enum> std::string enumName(Enum value)
{
    for (const auto& [v, name] : enumNames(value))
        if (v == value)
            return name;
    return "?";
}

/// The value a name stands for; nullopt when the table has no such name.
template <typename Enum> std::optional<Enum> enumFromName(const std::string& name)
{
    for (const auto& [v, n] : enumNames(Enum {}))
        if (n == name)
            return v;
    return std::nullopt;
}

/// "'a', 'b' or 'c'": every name in the table, each in `quote`s, for messages.
template <typename Enum> std::string enumNameList(Enum tag, const std::string& quote = "'")
{
    const auto& table = enumNames(tag);
    std::string out;
    for (std::size_t i = 0; i < table.size(); ++i)
        out += (i == 0 ? "" : i + 1 == table.size() ? " or " : ", ") + quote + table[i].second + quote;
    return out;
}

/// The type of an enum's name table.
template <typename Enum> using EnumNames = std::vector<std::pair<Enum, std::string>>;

} // namespace lethe
