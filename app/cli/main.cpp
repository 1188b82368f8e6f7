// lethe-cli: the headless front end over lethe_core.
#include "commands.h"
#include "empty_values.h"

#include "core/error.h"
#include "core/runtime.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// `--parse-only` checks a command line's syntax alone: flag names, values, ranges, required and excluded options.
// The files and folders it names need not exist (documentation names the user's own), so the checks for existing
// paths (CLI11's FILE and DIR validators) are switched off in every command before parsing.
void skipPathChecks(CLI::App& app)
{
    for (CLI::Option* option : app.get_options()) {
        for (int i = 0;; ++i) {
            CLI::Validator* validator = nullptr;
            try {
                validator = option->get_validator(i);
            } catch (const CLI::OptionNotFound&) {
                break;
            }
            if (validator->get_description() == "FILE" || validator->get_description() == "DIR")
                validator->active(false);
        }
    }
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
        skipPathChecks(*sub);
}

// Every command and global option on `app`; the commands write into `global`.
void addEverything(CLI::App& app, lethe::cli::GlobalOptions& global)
{
    app.set_version_flag("--version", std::string("lethe-cli ") + LETHE_VERSION);
    app.require_subcommand(1);
    app.fallthrough();

    app.add_option("-j,--threads", global.threads, "CPU threads for LibTorch (0 = one per hardware thread)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--log-level", global.logLevel, "trace, debug, info, warn, error or off")
        ->check(CLI::IsMember({ "trace", "debug", "info", "warn", "error", "off" }));

    lethe::cli::addDataCommands(app, global);
    lethe::cli::addClassifierCommands(app, global);
    lethe::cli::addEdmCommands(app, global);
    lethe::cli::addEvalCommands(app, global);
    lethe::cli::addUnlearnCommands(app, global);
    lethe::cli::addSweepCommands(app, global);
    lethe::cli::addSweepMergeCommand(app, global);
    lethe::cli::addSweepStatusCommand(app, global);
    lethe::cli::addGenerateCommands(app, global);
    lethe::cli::addT2iCommands(app, global);
    lethe::cli::addInitCommands(app, global);
    lethe::cli::addConceptCommands(app, global);
    lethe::cli::addAttackCommands(app, global);

    // Hidden (no group): for tests/docs/test_documented_commands.py, which checks every command the documentation
    // shows. Parses, then exits 0 without running the command.
    app.add_flag("--parse-only", global.parseOnly, "")->group("");
}

const char* const kDescription = "lethe-cli — machine unlearning for diffusion models, headless.\n"
                                 "Every command works on the built-in data set 'fashion-mnist' without further files.";

// `lethe-cli --parse-only-stdin` (hidden): `--parse-only` for many command lines in one process, as
// tests/docs/test_documented_commands.py checks the documentation's (a start of lethe-cli takes about a second).
// Each line of stdin is one command's arguments as a JSON list of strings; each answer is one line of JSON on
// stdout: {"exit": the exit code lethe-cli gives that command line, "message": what it prints on stderr}.
int parseCommandLines()
{
    std::string line;
    while (std::getline(std::cin, line)) {
        std::vector<std::string> words;
        try {
            words = nlohmann::json::parse(line).get<std::vector<std::string>>();
        } catch (const nlohmann::json::exception& e) {
            std::cerr << "error: --parse-only-stdin reads a JSON list of strings per line, not: " << line << '\n';
            return 1;
        }
        std::vector<char*> argv { const_cast<char*>("lethe-cli") };
        for (std::string& word : words)
            argv.push_back(word.data());
        CLI::App app { kDescription, "lethe-cli" };
        lethe::cli::GlobalOptions global;
        global.argc = static_cast<int>(argv.size());
        global.argv = argv.data();
        global.parseOnly = true;
        addEverything(app, global);
        skipPathChecks(app);
        std::ostringstream out;
        std::ostringstream err;
        int exitCode = 0;
        try {
            // As main() parses: "--prompt=" is the empty prompt.
            lethe::cli::ArgumentVector split(
                lethe::cli::splitEmptyValues(app, static_cast<int>(argv.size()), argv.data()));
            app.parse(split.argc(), split.argv());
        } catch (const CLI::ParseError& e) {
            exitCode = app.exit(e, out, err);
        }
        std::cout << nlohmann::json { { "exit", exitCode }, { "message", err.str() } }.dump() << std::endl;
    }
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 2 && std::strcmp(argv[1], "--parse-only-stdin") == 0)
        return parseCommandLines();

    CLI::App app { kDescription, "lethe-cli" };
    lethe::cli::GlobalOptions global;
    global.argc = argc;
    global.argv = argv;
    addEverything(app, global);
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--parse-only") == 0)
            skipPathChecks(app);

    // "--prompt=" is the empty prompt, not "--prompt" followed by whatever comes next.
    lethe::cli::ArgumentVector words(lethe::cli::splitEmptyValues(app, argc, argv));
    CLI11_PARSE(app, words.argc(), words.argv());
    return global.exitCode;
}
