#pragma once

// An operator-level trace of a stretch of work, for finding where a benchmark's time goes: every LibTorch operator
// run on this thread (and the threads it hands work to) between construction and destruction, with its shapes,
// written as a Chrome trace (open it at chrome://tracing or https://ui.perfetto.dev). `summarizeProfileTrace` sums
// it by operator name for a terminal.

#include <memory>
#include <string>

namespace lethe::eval {

class ProfileTrace {
public:
    /// Starts recording; an empty path records nothing. Throws Error when `path` cannot be written.
    explicit ProfileTrace(const std::string& path);
    /// Stops recording and writes the trace.
    ~ProfileTrace();
    ProfileTrace(const ProfileTrace&) = delete;
    ProfileTrace& operator=(const ProfileTrace&) = delete;

private:
    struct Recording;
    std::unique_ptr<Recording> m_recording;
};

/// The `top` operators of a trace written by ProfileTrace by self time (their time less that of the operators they
/// called), one line each: self milliseconds, share of the traced time, calls, name. Throws Error when the file
/// cannot be read or is not such a trace.
std::string summarizeProfileTrace(const std::string& path, int top = 25);

} // namespace lethe::eval
