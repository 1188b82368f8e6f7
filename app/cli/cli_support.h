#pragma once

// Terminal plumbing shared by the CLI's long-running commands.
#include "core/eval/clip_alignment_sets.h"
#include "core/train/training_loop.h"

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace lethe::cli {

/// The exit code of a command that SIGTERM or SIGUSR1 stopped after writing its checkpoint (EX_TEMPFAIL of
/// sysexits.h): rerunning the printed command resumes it, so a cluster job may requeue on it.
constexpr int kExitCheckpointed = 75;

/// While alive, Ctrl+C sets a flag the running command checks between steps (a second Ctrl+C ends the
/// process the usual way), so an interrupted run still writes its checkpoint. SIGTERM (scancel, a time limit)
/// and SIGUSR1 (Slurm's --signal ahead of the limit) set the same flag and ask for "checkpoint now and exit":
/// a second one is ignored, so that it cannot end the process while the checkpoint is being written.
class CancelOnInterrupt {
public:
    CancelOnInterrupt();
    ~CancelOnInterrupt();
    CancelOnInterrupt(const CancelOnInterrupt&) = delete;
    CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;

    /// The flag to hand to core's loops.
    static const std::atomic<bool>* flag();
    static bool requested();
    /// SIGTERM or SIGUSR1 stopped the command: checkpoint and exit with kExitCheckpointed.
    static bool checkpointRequested();
    /// "SIGTERM", "SIGUSR1" or "SIGINT": the signal that stopped the command (empty when none did).
    static std::string signalName();

private:
    void (*m_previous[3])(int);
};

/// The command line `argv` made to resume: without --force (which starts over),
/// and with `resumeFlag` added when it is not empty and not there yet.
std::string resumeCommand(int argc, const char* const* argv, const std::string& resumeFlag);

/// formatDuration: "mm:ss" or "h:mm:ss"; "--:--" when unknown.
std::string duration(double seconds);
/// "93.12 %".
std::string percent(double fraction);

/// The `--profile FILE` option of the bench commands: an operator-level Chrome trace of the measured runs.
void addProfileOption(CLI::App* command, std::string& path);
/// After a benchmark traced into `path` (nothing when empty): where the trace is and its top operators by self time.
void printProfileSummary(const std::string& path);

/// A live progress line on stderr: rewritten in place on a terminal (4 times a second at most), a full
/// line every 30 s in a log file.
class ProgressLine {
public:
    ProgressLine();
    ~ProgressLine();
    /// Shows `text` unless the last update was too recent; `force` shows it anyway (the last step).
    void update(const std::string& text, bool force = false);
    /// Ends an in-place line so that the next output starts on a fresh line.
    void clear();

private:
    bool m_terminal;
    bool m_shown = false;
    bool m_open = false;
    std::chrono::steady_clock::time_point m_lastShown;
};

/// Runs a training loop (`run` gets the observer and the cancel flag) with a live progress line ("step
/// 120/1500  loss 0.0412 (avg 0.0450)  lr 5.00e-04  31 images/s  ETA 12:04  [checkpoint]") and Ctrl+C as its
/// cancel flag. Returns true when Ctrl+C interrupted it (after its checkpoint).
bool runTrainingWithProgress(
    const std::function<void(const train::PretrainObserver& observer, const std::atomic<bool>* cancel)>& run);

/// A progress callback for work counted in images ("sampling 40/100 images") that shows on `line` and
/// cancels when Ctrl+C was pressed.
std::function<bool(std::int64_t done, std::int64_t total)> imageProgress(ProgressLine& line);

/// Draws and scores every set's images with `model`, into each set's `before` (or `after`), with a progress line
/// ("drawing the after images of remain_test for CLIP: step 3/40"); throws Error when Ctrl+C interrupts it.
void scoreClipAlignmentSets(const diffusion::TextToImageModel& model, models::clip::LoadedClip& clip,
    std::vector<eval::ClipAlignmentSet>& sets, bool after);

} // namespace lethe::cli
