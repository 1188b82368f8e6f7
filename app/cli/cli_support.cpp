#include "cli_support.h"

#include "core/duration.h"
#include "core/error.h"
#include "core/eval/profile_trace.h"
#include "core/io/model_file.h"

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace lethe::cli {

namespace {

std::atomic<bool> g_cancelRequested { false };
std::atomic<int> g_signal { 0 };
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free signal number");

constexpr int kHandled[3] = { SIGINT, SIGTERM, SIGUSR1 };

void requestCancel(int signal)
{
    // The first signal names the stop; a later Ctrl+C still ends the process, a later SIGTERM or SIGUSR1 is
    // ignored while the checkpoint is written (Slurm follows up with SIGKILL after its KillWait anyway).
    int none = 0;
    g_signal.compare_exchange_strong(none, signal);
    g_cancelRequested.store(true);
    if (signal == SIGINT)
        std::signal(SIGINT, SIG_DFL);
}

} // namespace

CancelOnInterrupt::CancelOnInterrupt()
{
    g_cancelRequested.store(false);
    g_signal.store(0);
    for (int i = 0; i < 3; ++i)
        m_previous[i] = std::signal(kHandled[i], requestCancel);
}

CancelOnInterrupt::~CancelOnInterrupt()
{
    for (int i = 0; i < 3; ++i)
        std::signal(kHandled[i], m_previous[i] == SIG_ERR ? SIG_DFL : m_previous[i]);
}

const std::atomic<bool>* CancelOnInterrupt::flag()
{
    return &g_cancelRequested;
}

bool CancelOnInterrupt::requested()
{
    return g_cancelRequested.load();
}

bool CancelOnInterrupt::checkpointRequested()
{
    const int signal = g_signal.load();
    return signal == SIGTERM || signal == SIGUSR1;
}

std::string CancelOnInterrupt::signalName()
{
    switch (g_signal.load()) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGUSR1:
        return "SIGUSR1";
    default:
        return {};
    }
}

std::string resumeCommand(int argc, const char* const* argv, const std::string& resumeFlag)
{
    std::vector<const char*> kept;
    bool hasFlag = false;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--force") == 0)
            continue;
        hasFlag = hasFlag || (!resumeFlag.empty() && resumeFlag == argv[i]);
        kept.push_back(argv[i]);
    }
    if (!resumeFlag.empty() && !hasFlag)
        kept.push_back(resumeFlag.c_str());
    return io::commandLine(static_cast<int>(kept.size()), kept.data());
}

std::string duration(double seconds)
{
    return formatDuration(seconds);
}

std::string percent(double fraction)
{
    if (!std::isfinite(fraction))
        return "n/a";
    std::ostringstream out;
    out << std::fixed << std::setprecision(2) << 100.0 * fraction << " %";
    return out.str();
}

void addProfileOption(CLI::App* command, std::string& path)
{
    command->add_option("--profile", path,
        "Also trace the measured runs operator by operator into this Chrome trace file (chrome://tracing, "
        "ui.perfetto.dev) and print the operators that took the most time; tracing slows the runs");
}

void printProfileSummary(const std::string& path)
{
    if (path.empty())
        return;
    std::cout << "profile of the measured runs: " << path << " (operators by self time)\n"
              << eval::summarizeProfileTrace(path);
}

ProgressLine::ProgressLine()
    : m_terminal(isatty(STDERR_FILENO) != 0)
{
}

ProgressLine::~ProgressLine()
{
    clear();
}

void ProgressLine::update(const std::string& text, bool force)
{
    const auto now = std::chrono::steady_clock::now();
    const double interval = m_terminal ? 0.25 : 30.0;
    if (m_shown && !force && std::chrono::duration<double>(now - m_lastShown).count() < interval)
        return;
    m_lastShown = now;
    m_shown = true;
    if (m_terminal) {
        std::cerr << '\r' << text << "\033[K" << std::flush;
        m_open = true;
    } else {
        std::cerr << text << std::endl;
    }
}

void ProgressLine::clear()
{
    if (m_open)
        std::cerr << "\r\033[K" << std::flush;
    m_open = false;
}

std::function<bool(std::int64_t, std::int64_t)> imageProgress(ProgressLine& line)
{
    return [&line](std::int64_t done, std::int64_t total) {
        line.update("sampling " + std::to_string(done) + "/" + std::to_string(total) + " images", done == total);
        return !CancelOnInterrupt::requested();
    };
}

bool runTrainingWithProgress(
    const std::function<void(const train::PretrainObserver& observer, const std::atomic<bool>* cancel)>& run)
{
    CancelOnInterrupt interrupt;
    ProgressLine line;
    run(
        [&](const train::PretrainProgress& p) {
            char text[200];
            std::snprintf(text, sizeof text, "step %lld/%lld  loss %.4f (avg %.4f)  lr %.2e  %.0f images/s  ETA %s%s",
                static_cast<long long>(p.step), static_cast<long long>(p.totalSteps), p.loss, p.averageLoss, p.lr,
                p.imagesPerSecond, duration(p.etaSeconds).c_str(), p.checkpointWritten ? "  [checkpoint]" : "");
            line.update(text, p.step == p.totalSteps || p.checkpointWritten);
        },
        CancelOnInterrupt::flag());
    line.clear();
    return CancelOnInterrupt::requested();
}

void scoreClipAlignmentSets(const diffusion::TextToImageModel& model, models::clip::LoadedClip& clip,
    std::vector<eval::ClipAlignmentSet>& sets, bool after)
{
    const std::string when = after ? "after" : "before";
    for (eval::ClipAlignmentSet& set : sets) {
        ProgressLine line;
        auto scores = eval::scoreClipAlignmentSet(model, clip, set, [&](std::int64_t done, std::int64_t total) {
            line.update("drawing the " + when + " images of " + set.name + " for CLIP: step " + std::to_string(done)
                    + "/" + std::to_string(total),
                done == total);
            return !CancelOnInterrupt::requested();
        });
        line.clear();
        if (!scores)
            throw Error("interrupted while drawing the " + when + " images of " + set.name + " for CLIP");
        (after ? set.after : set.before) = std::move(*scores);
    }
}

} // namespace lethe::cli
