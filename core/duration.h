#pragma once

// The one way Lethe writes a duration for people (progress lines, status bars, run summaries).
#include <string>

namespace lethe {

/// "mm:ss" under an hour, "h:mm:ss" from an hour on; "--:--" for a negative or non-finite value (unknown).
std::string formatDuration(double seconds);

} // namespace lethe
