#include "benchmark.h"

#include "core/error.h"
#include "profile_trace.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace lethe::eval {

double median(std::vector<double> values)
{
    if (values.empty())
        throw Error("median of an empty list");
    std::sort(values.begin(), values.end());
    const std::size_t mid = values.size() / 2;
    return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

bool resetPeakRss()
{
    std::ofstream clear("/proc/self/clear_refs");
    if (!clear)
        return false;
    clear << "5"; // Resets VmHWM to the current RSS (Linux 4.0+).
    return static_cast<bool>(clear.flush());
}

std::int64_t peakRssBytes()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            std::istringstream fields(line.substr(6));
            std::int64_t kib = 0;
            fields >> kib;
            return kib * 1024;
        }
    }
    return 0;
}

std::string formatBytes(std::int64_t bytes)
{
    char text[32];
    if (bytes >= (std::int64_t { 1 } << 30))
        std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
    else
        std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return text;
}

BenchResult benchmark(
    const std::string& name, const std::function<void()>& work, int warmup, int runs, const std::string& profilePath)
{
    if (runs < 1)
        throw Error("a benchmark needs at least one measured run, not " + std::to_string(runs));
    for (int i = 0; i < warmup; ++i)
        work();
    resetPeakRss();
    BenchResult result;
    result.name = name;
    {
        const ProfileTrace trace(profilePath);
        for (int i = 0; i < runs; ++i) {
            const auto start = std::chrono::steady_clock::now();
            work();
            const auto stop = std::chrono::steady_clock::now();
            result.milliseconds.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
        }
    }
    result.peakRssBytes = peakRssBytes();
    result.medianMs = median(result.milliseconds);
    result.minMs = *std::min_element(result.milliseconds.begin(), result.milliseconds.end());
    result.maxMs = *std::max_element(result.milliseconds.begin(), result.milliseconds.end());
    return result;
}

} // namespace lethe::eval
