#pragma once

#include <torch/types.h>

#include <filesystem>

namespace lethe::imaging {

/// True when this build can decode PNG and JPEG files (it was built with OpenCV).
bool canDecodeImages();

/// Decodes a PNG or JPEG file into uint8 C×size×size (C = 1 grey or 3 RGB): the shorter side is
/// scaled to `size` and the centre cropped. Throws FormatError naming the file when it cannot.
torch::Tensor readImageFile(const std::filesystem::path& path, int channels, int size);

/// Writes uint8 C×H×W (C = 1 or 3) as an 8-bit PNG, atomically. Needs no OpenCV.
void writePng(const std::filesystem::path& path, const torch::Tensor& image);

/// Encodes uint8 C×H×W (C = 1 or 3) as PNG bytes.
std::string encodePng(const torch::Tensor& image);

} // namespace lethe::imaging
