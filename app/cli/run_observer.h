#pragma once

// What every unlearning command (unlearn, unlearn-concept, sweep, bench) does with a run as it goes: steps.csv
// row by row, a live progress line, checkpoints and snapshots on disk, and Ctrl+C as the stop.
#include "cli_support.h"

#include "core/unlearn/unlearn_run.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace lethe::cli {

/// Keeps steps.csv's header and the rows up to `step` (those a resumed run does not redo).
void truncateStepsCsv(const std::filesystem::path& csv, std::int64_t step);

/// Writes steps.csv as the run goes, shows the live progress line and, when asked, keeps each snapshot on disk.
class CliObserver : public unlearn::RunObserver {
public:
    /// `append`: continue a steps.csv that a resumed run left (its header is there).
    CliObserver(const std::filesystem::path& csv, std::int64_t totalSteps, bool append = false);

    /// At every snapshot, `write` saves the run's checkpoint (steps.csv is flushed first, so it holds every row
    /// up to the checkpoint's step).
    void writeCheckpoints(std::function<void()> write);
    /// Each snapshot becomes snapshots/step-NNNNNN.safetensors, a complete model file.
    void keepSnapshots(
        std::filesystem::path folder, std::function<void(const std::filesystem::path&, std::int64_t)> write);

    void onStep(const unlearn::StepReport& r) override;
    void onSnapshot(std::int64_t step) override;
    void onRollback(std::int64_t failed, std::int64_t restored, const std::string& why) override;
    void onProgress(const std::string& what, std::int64_t done, std::int64_t total) override;

    /// Ends the progress line and flushes steps.csv.
    void finish();

private:
    std::ofstream m_csv;
    std::function<void()> m_writeCheckpoint;
    std::int64_t m_total;
    std::int64_t m_done = 0;
    std::chrono::steady_clock::time_point m_started;
    ProgressLine m_progress;
    std::filesystem::path m_snapshotFolder;
    std::function<void(const std::filesystem::path&, std::int64_t)> m_writeSnapshot;
};

/// Runs `run` to its end; Ctrl+C stops it after the current step (the command then writes what there is).
unlearn::RunResult runUntilInterrupted(unlearn::UnlearnRun& run, unlearn::RunObserver& observer);

} // namespace lethe::cli
