#include "cli_support.h"
#include "commands.h"

#include "core/error.h"
#include "core/runtime.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

namespace lethe::cli {

void runCommand(GlobalOptions& global, const std::function<void()>& body)
{
    if (global.parseOnly)
        return;
    // Core installs no sinks; the CLI logs to stderr so stdout stays clean for tables and JSON.
    auto logger = spdlog::stderr_color_mt("lethe-cli");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(global.logLevel));
    spdlog::set_pattern("%^%l%$: %v");
    lethe::configureAllocator(); // Freed feature maps reused, not faulted in again.
    lethe::configureThreads(global.threads);
    lethe::setTf32Allowed(false); // As the paper's code; a run's allow_tf32 turns it on.
    try {
        body();
    } catch (const lethe::Error& e) {
        std::cerr << "error: " << e.what() << '\n';
        global.exitCode = 1;
    } catch (const std::exception& e) {
        std::cerr << "error: unexpected failure: " << e.what() << '\n';
        global.exitCode = 1;
    }
    // SIGTERM or SIGUSR1 stopped a resumable command after its checkpoint (or before it had one to write): running
    // it again resumes, which a cluster job can requeue on.
    if (global.resumable && CancelOnInterrupt::checkpointRequested())
        global.exitCode = kExitCheckpointed;
}

} // namespace lethe::cli
