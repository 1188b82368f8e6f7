#pragma once
// Shared by the libFuzzer targets: a scratch folder per process and the input cut into files.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lethe::fuzz {

/// The separator between the parts of an input that stands for several files (a line "@@@").
inline constexpr const char* kPartSeparator = "\n@@@\n";

/// An empty folder of this process (under the temp dir), emptied again by every call. Removed at exit.
std::filesystem::path freshFolder();

/// Writes `bytes` to `path`, creating its parent folders.
void writeFile(const std::filesystem::path& path, const std::string& bytes);

/// The input cut at kPartSeparator into exactly `count` parts: missing parts are empty, and the last part
/// keeps everything after the (count − 1)-th separator.
std::vector<std::string> splitParts(const std::uint8_t* data, std::size_t size, std::size_t count);

} // namespace lethe::fuzz
