#pragma once

// JSON text as Lethe stores it in models, manifests and run records.

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace lethe::io {

/// JSON text to store: compact, or with `indent` ≥ 0 pretty-printed and ending in a newline. Bytes that are
/// not UTF-8 in a string (a folder named in Latin-1, an argument in a legacy locale) become U+FFFD, so
/// writing a model, manifest or run record never fails on them.
std::string jsonText(const nlohmann::json& value, int indent = -1);

} // namespace lethe::io
