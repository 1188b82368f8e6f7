#include "cli_support.h"

#include "core/duration.h"
#include "core/error.h"
#include "core/eval/profile_trace.h"

#include <cmath>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace lethe::cli {

namespace {

std::atomic<bool> g_cancelRequested { false };
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

void requestCancel(int)
{
    g_cancelRequested.store(true);
    std::signal(SIGINT, SIG_DFL);
}

} // namespace

CancelOnInterrupt::CancelOnInterrupt()
{
    g_cancelRequested.store(false);
    m_previous = std::signal(SIGINT, requestCancel);
}

CancelOnInterrupt::~CancelOnInterrupt()
{
    std::signal(SIGINT, m_previous == SIG_ERR ? SIG_DFL : m_previous);
}

const std::atomic<bool>* CancelOnInterrupt::flag()
{
    return &g_cancelRequested;
}

bool CancelOnInterrupt::requested()
{
    return g_cancelRequested.load();
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
