#pragma once

#include <torch/types.h>

#include <filesystem>

namespace lethe::data {

/// Reads an IDX image file (gzip-compressed or raw): magic 0x00 0x00 0x08 0x03, then N, H, W as
/// big-endian u32, then N·H·W bytes. Returns uint8 N×1×H×W. Throws FormatError on any mismatch.
torch::Tensor readIdxImages(const std::filesystem::path& path);

/// Reads an IDX label file: magic 0x00 0x00 0x08 0x01, then N, then N bytes. Returns int64 N.
torch::Tensor readIdxLabels(const std::filesystem::path& path);

} // namespace lethe::data
