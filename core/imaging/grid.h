#pragma once

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <vector>

namespace lethe::imaging {

/// An 8-bit RGB colour.
using Rgb = std::array<std::uint8_t, 3>;

/// Tiles uint8 N×C×H×W images into one uint8 C×H'×W' picture, row by row, min(columns, N) per row:
/// H' = rows·(H + padding) + padding, W' = columns·(W + padding) + padding, the gaps filled with padValue.
/// Image i's top-left pixel sits at (padding + (i / columns)·(H + padding), padding + (i % columns)·(W + padding)).
torch::Tensor makeGrid(const torch::Tensor& images, int columns, int padding = 2, int padValue = 0);

/// makeGrid with a frame of `colour`, as thick as the padding (at least 1), drawn in the padding around
/// each grid row listed in framedRows (to mark the forgotten class). Grey images become RGB unless the
/// colour is itself grey.
torch::Tensor makeFramedGrid(const torch::Tensor& images, int columns, const std::vector<int>& framedRows, Rgb colour,
                             int padding = 2, int padValue = 0);

/// |a − b| per pixel of two same-shape uint8 tensors, times `amplify` (≥ 1 makes small changes visible),
/// rounded and clipped to 255: the "what changed" view between before/after samples of the same seeds.
torch::Tensor absoluteDifference(const torch::Tensor& a, const torch::Tensor& b, double amplify = 1.0);

} // namespace lethe::imaging
