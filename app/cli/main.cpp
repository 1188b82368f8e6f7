// lethe-cli: the headless front end over lethe_core.
#include "commands.h"

#include "core/error.h"
#include "core/runtime.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

int main(int argc, char** argv)
{
    CLI::App app { "lethe-cli — machine unlearning for diffusion models, headless.\n"
                   "Every command works on the built-in data set 'fashion-mnist' without further files.",
        "lethe-cli" };
    app.set_version_flag("--version", std::string("lethe-cli ") + LETHE_VERSION);
    app.require_subcommand(1);
    app.fallthrough();

    lethe::cli::GlobalOptions global;
    global.argc = argc;
    global.argv = argv;
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
    lethe::cli::addGenerateCommands(app, global);
    lethe::cli::addT2iCommands(app, global);
    lethe::cli::addInitCommands(app, global);
    lethe::cli::addConceptCommands(app, global);
    lethe::cli::addAttackCommands(app, global);

    CLI11_PARSE(app, argc, argv);
    return global.exitCode;
}
