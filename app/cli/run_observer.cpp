#include "run_observer.h"

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/unlearn/run_record.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

namespace lethe::cli {

void truncateStepsCsv(const std::filesystem::path& csv, std::int64_t step)
{
    std::ifstream in(csv);
    std::string kept;
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
        if (!header && std::strtoll(line.c_str(), nullptr, 10) > step)
            break;
        kept += line + '\n';
        header = false;
    }
    in.close();
    io::writeFileAtomically(csv, kept.empty() ? std::string(unlearn::kStepsCsvHeader) + '\n' : kept);
}

CliObserver::CliObserver(const std::filesystem::path& csv, std::int64_t totalSteps, bool append)
    : m_csv(csv, append ? std::ios::app : std::ios::trunc)
    , m_total(totalSteps)
    , m_started(std::chrono::steady_clock::now())
{
    if (!m_csv)
        throw Error(csv.string() + ": cannot open for writing");
    if (!append)
        m_csv << unlearn::kStepsCsvHeader << '\n';
}

void CliObserver::writeCheckpoints(std::function<void()> write)
{
    m_writeCheckpoint = std::move(write);
}

void CliObserver::keepSnapshots(
    std::filesystem::path folder, std::function<void(const std::filesystem::path&, std::int64_t)> write)
{
    m_snapshotFolder = std::move(folder);
    m_writeSnapshot = std::move(write);
    std::filesystem::create_directories(m_snapshotFolder);
}

void CliObserver::onStep(const unlearn::StepReport& r)
{
    m_csv << unlearn::stepsCsvRow(r) << '\n';
    ++m_done;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count();
    const double rate = static_cast<double>(m_done) / std::max(elapsed, 1e-9);
    char text[256];
    std::snprintf(text, sizeof text, "step %lld/%lld  L_f %.4g  L_r %.4g  cos %+.3f%s%s  %.2f steps/s  ETA %s",
        static_cast<long long>(r.step), static_cast<long long>(m_total), r.forgetLoss, r.remainLoss, r.cosine,
        r.projected ? " (projected)" : "", r.truncated ? " (truncated)" : "", rate,
        duration(static_cast<double>(m_total - r.step) / rate).c_str());
    m_progress.update(text, r.step == m_total);
}

void CliObserver::onSnapshot(std::int64_t step)
{
    m_csv.flush(); // steps.csv holds every row up to the snapshot, for a checkpoint and for whoever follows the run.
    if (m_writeCheckpoint)
        m_writeCheckpoint();
    if (!m_writeSnapshot)
        return;
    char name[64];
    std::snprintf(name, sizeof name, "step-%06lld.safetensors", static_cast<long long>(step));
    m_writeSnapshot(m_snapshotFolder / name, step);
}

void CliObserver::onRollback(std::int64_t failed, std::int64_t restored, const std::string& why)
{
    m_progress.clear();
    std::cerr << "step " << failed << ": " << why << "; weights restored to step " << restored << '\n';
}

void CliObserver::onProgress(const std::string& what, std::int64_t done, std::int64_t total)
{
    m_progress.update(what + " " + std::to_string(done) + "/" + std::to_string(total), done == total);
}

void CliObserver::finish()
{
    m_progress.clear();
    m_csv.flush();
}

unlearn::RunResult runUntilInterrupted(unlearn::UnlearnRun& run, unlearn::RunObserver& observer)
{
    unlearn::RunControl control;
    std::atomic<bool> done { false };
    std::thread watcher([&control, &done] {
        while (!done.load()) {
            if (CancelOnInterrupt::requested()) {
                control.requestStop();
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    unlearn::RunResult result;
    try {
        result = run.run(observer, control);
    } catch (...) {
        done = true;
        watcher.join();
        throw;
    }
    done = true;
    watcher.join();
    return result;
}

} // namespace lethe::cli
