#pragma once

// Flags that set a config's fields only when they are given on the command line, so that every field not given keeps
// the value of what lies underneath (a preset, a config file). One shape for class runs (unlearn, sweep, bench
// unlearn) and concept runs (unlearn-concept).

#include "core/enum_names.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lethe::cli {

template <typename Config> struct ConfigFlags {
    ConfigFlags() = default;
    // The callbacks below point into this object.
    ConfigFlags(const ConfigFlags&) = delete;
    ConfigFlags& operator=(const ConfigFlags&) = delete;

    /// Where CLI11 writes what the flags say.
    Config values;
    /// Each flag, with what copies its value onto a config.
    std::vector<std::pair<CLI::Option*, std::function<void(Config&)>>> given;

    /// Adds `name` for `field`; it overrides the field only when given.
    template <typename T>
    CLI::Option* add(CLI::App* cmd, const std::string& name, T Config::*field, const std::string& help)
    {
        CLI::Option* option = cmd->add_option(name, values.*field, help);
        given.emplace_back(option, [this, field](Config& config) { config.*field = values.*field; });
        return option;
    }

    /// Adds `name` for an enum field; it takes the enum's names (core/enum_names.h) and overrides only when given.
    template <typename E>
    CLI::Option* addEnum(CLI::App* cmd, const std::string& name, E Config::*field, std::string help)
    {
        std::map<std::string, E> values;
        std::vector<std::string> names;
        for (const auto& [value, text] : enumNames(E {})) {
            values.emplace(text, value);
            names.push_back(text);
        }
        // The names alone in the help and the errors, not CLI11's name->number map: a name becomes the enum's number,
        // anything else (a number too) is refused.
        const CLI::Validator byName(
            [values, names](std::string& input) {
                const auto found = values.find(input);
                if (found == values.end())
                    return input + " not in {" + CLI::detail::join(names, ",") + "}";
                input = std::to_string(static_cast<long long>(found->second));
                return std::string();
            },
            "{" + CLI::detail::join(names, "|") + "}");
        return add(cmd, name, field, help)->transform(byName)->option_text(byName.get_description());
    }

    /// Adds the switch `name` for a bool field: given, it sets the field true.
    CLI::Option* addSwitch(CLI::App* cmd, const std::string& name, bool Config::*field, const std::string& help)
    {
        CLI::Option* option = cmd->add_flag(name, values.*field, help);
        given.emplace_back(option, [field](Config& config) { config.*field = true; });
        return option;
    }

    /// Copies the fields whose flags were given onto `config`.
    void applyGiven(Config& config) const
    {
        for (const auto& [option, apply] : given)
            if (option->count() > 0)
                apply(config);
    }
};

} // namespace lethe::cli
