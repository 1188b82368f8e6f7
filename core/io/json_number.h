#pragma once
// Reporting numbers the JSON parser cannot hold.

#include <nlohmann/json.hpp>

#include <string>

namespace lethe::io {

/// The number a parse refused with out_of_range (a number beyond a double, such as 1e400: nlohmann throws
/// out_of_range 406, not parse_error, for it), as written and cut to 24 characters.
std::string overflowingNumber(const nlohmann::json::out_of_range& e);

} // namespace lethe::io
