#pragma once

// "--name=" with nothing after the "=": an empty value, as a shell gives it for --prompt="$EMPTY".
// CLI11 2.1 reads such an argument as "--name" alone and takes the option's value from the next argument,
// whatever it is, so `--prompt= --seeds 0,1` made "--seeds" and "0,1" the prompts.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace lethe::cli {

/// The command line (argv[0] included) with every "--name=" of an option that takes a value, on `app` or any of
/// its subcommands, split into "--name" and "", which CLI11 reads as the empty value. "--name=" of a flag, and
/// everything after a bare "--", is left as it is.
std::vector<std::string> splitEmptyValues(const CLI::App& app, int argc, const char* const* argv);

/// Holds a command line as argc/argv for CLI::App::parse.
class ArgumentVector {
public:
    explicit ArgumentVector(std::vector<std::string> words);
    int argc() const { return static_cast<int>(m_pointers.size()); }
    char** argv() { return m_pointers.data(); }

private:
    std::vector<std::string> m_words;
    std::vector<char*> m_pointers;
};

} // namespace lethe::cli
