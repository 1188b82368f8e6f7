#pragma once

// Flags that set a config's fields only when they are given on the command line, so that every field not given keeps
// the value of what lies underneath (a preset, a config file). One shape for class runs (unlearn, sweep, bench
// unlearn) and concept runs (unlearn-concept).

#include <CLI/CLI.hpp>

#include <functional>
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

    /// Copies the fields whose flags were given onto `config`.
    void applyGiven(Config& config) const
    {
        for (const auto& [option, apply] : given)
            if (option->count() > 0)
                apply(config);
    }
};

} // namespace lethe::cli
