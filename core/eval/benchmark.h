#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lethe::eval {

/// Timings of repeated runs of one piece of work.
struct BenchResult {
    std::string name;
    std::vector<double> milliseconds; ///< One entry per measured run.
    double medianMs = 0.0;
    double minMs = 0.0;
    double maxMs = 0.0;
    std::int64_t peakRssBytes = 0; ///< Peak resident memory of the process during the measured runs.
};

/// Runs `work` `warmup` times unmeasured, then `runs` times measured; the peak resident set is reset
/// before the measured runs where the kernel allows it (Linux /proc/self/clear_refs). With a `profilePath`, the
/// measured runs are also traced operator by operator into that file (see ProfileTrace; tracing slows them).
BenchResult benchmark(const std::string& name, const std::function<void()>& work, int warmup, int runs,
    const std::string& profilePath = {});

/// Median of a non-empty list.
double median(std::vector<double> values);

/// Resets the kernel's peak-RSS counter for this process; false where that is not possible.
bool resetPeakRss();
/// Peak resident set size of this process in bytes (VmHWM), or 0 when unknown.
std::int64_t peakRssBytes();

/// "12.3 MiB" style text.
std::string formatBytes(std::int64_t bytes);

} // namespace lethe::eval
