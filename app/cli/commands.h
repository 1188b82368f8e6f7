#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace lethe::cli {

/// Options every command shares, and the process's exit code.
struct GlobalOptions {
    int threads = 0;
    std::string logLevel = "info";
    int exitCode = 0;
};

/// Runs a command body with the shared start-up (log sink, thread count) and turns core errors into a
/// message on stderr and exit code 1.
void runCommand(GlobalOptions& global, const std::function<void()>& body);

/// `data info`: classes and counts of a data set.
void addDataCommands(CLI::App& app, GlobalOptions& global);

} // namespace lethe::cli
