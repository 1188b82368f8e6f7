#include "profile_trace.h"

#include "core/error.h"

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace lethe::eval {

struct ProfileTrace::Recording {
    std::ofstream file;
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
};

ProfileTrace::ProfileTrace(const std::string& path)
{
    if (path.empty())
        return;
    m_recording = std::make_unique<Recording>();
    m_recording->file.open(path, std::ios::binary | std::ios::trunc);
    if (!m_recording->file)
        throw Error("cannot write the profile trace " + path);
    m_recording->profile = std::make_unique<torch::autograd::profiler::RecordProfile>(m_recording->file);
}

ProfileTrace::~ProfileTrace() = default;

std::string summarizeProfileTrace(const std::string& path, int top)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot read the profile trace " + path);
    nlohmann::json trace;
    try {
        trace = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error("the profile trace " + path + " is not JSON: " + e.what());
    }
    if (!trace.is_array())
        throw Error("the profile trace " + path + " is not a list of events");

    struct Event {
        double begin, end;
        std::string name;
    };
    std::map<std::string, std::vector<Event>> byThread;
    for (const auto& e : trace) {
        if (!e.is_object() || e.value("ph", "") != "X" || !e.contains("ts") || !e.contains("dur"))
            continue;
        const double begin = e["ts"].get<double>();
        byThread[e.value("tid", nlohmann::json(0)).dump()].push_back(
            { begin, begin + e["dur"].get<double>(), e.value("name", "?") });
    }

    // Self time: an event's duration less that of the events nested directly inside it (on the same thread).
    struct Total {
        double selfUs = 0.0;
        long calls = 0;
    };
    std::map<std::string, Total> totals;
    double tracedUs = 0.0;
    for (auto& [thread, events] : byThread) {
        std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.begin != b.begin ? a.begin < b.begin : a.end > b.end; });
        std::vector<std::pair<const Event*, double>> open; // event, time of its children so far
        const auto close = [&](const Event* event, double childUs) {
            Total& t = totals[event->name];
            t.selfUs += std::max(0.0, event->end - event->begin - childUs);
            ++t.calls;
        };
        for (const Event& event : events) {
            while (!open.empty() && open.back().first->end <= event.begin) {
                close(open.back().first, open.back().second);
                open.pop_back();
            }
            if (open.empty())
                tracedUs += event.end - event.begin;
            else
                open.back().second += event.end - event.begin;
            open.emplace_back(&event, 0.0);
        }
        for (; !open.empty(); open.pop_back())
            close(open.back().first, open.back().second);
    }

    std::vector<std::pair<std::string, Total>> sorted(totals.begin(), totals.end());
    std::sort(
        sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.selfUs > b.second.selfUs; });
    std::ostringstream out;
    char line[256];
    std::snprintf(line, sizeof line, "%12s %7s %8s  %s\n", "self ms", "share", "calls", "operator");
    out << line;
    for (int i = 0; i < top && i < static_cast<int>(sorted.size()); ++i) {
        const auto& [name, t] = sorted[static_cast<std::size_t>(i)];
        std::snprintf(line, sizeof line, "%12.1f %6.1f%% %8ld  %s\n", t.selfUs / 1000.0,
            tracedUs > 0 ? 100.0 * t.selfUs / tracedUs : 0.0, t.calls, name.c_str());
        out << line;
    }
    std::snprintf(line, sizeof line, "%12.1f  traced in all (outermost operators)\n", tracedUs / 1000.0);
    out << line;
    return out.str();
}

} // namespace lethe::eval
