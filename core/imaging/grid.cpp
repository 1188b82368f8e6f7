#include "grid.h"

#include "core/describe.h"
#include "core/error.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>

namespace lethe::imaging {

namespace {

void checkGridInput(const char* caller, const torch::Tensor& images, int columns, int padding, int padValue)
{
    const std::string prefix = std::string(caller) + ": ";
    if (!images.defined() || images.dim() != 4 || images.scalar_type() != torch::kUInt8)
        throw Error(prefix + "images must be a uint8 N×C×H×W tensor, found " + describeTensor(images));
    if (images.size(0) == 0)
        throw Error(prefix + "there are no images to tile");
    if (columns < 1)
        throw Error(prefix + "columns must be at least 1, found " + std::to_string(columns));
    if (padding < 0)
        throw Error(prefix + "padding must not be negative, found " + std::to_string(padding));
    if (padValue < 0 || padValue > 255)
        throw Error(prefix + "the pad value must be in 0–255, found " + std::to_string(padValue));
}

/// The tiling both grid functions share; inputs already checked.
torch::Tensor tile(const torch::Tensor& images, int columns, int padding, int padValue)
{
    const std::int64_t count = images.size(0);
    const std::int64_t channels = images.size(1);
    const std::int64_t height = images.size(2);
    const std::int64_t width = images.size(3);
    const std::int64_t cols = std::min<std::int64_t>(columns, count);
    const std::int64_t rows = (count + cols - 1) / cols;
    torch::Tensor grid
        = torch::full({ channels, rows * (height + padding) + padding, cols * (width + padding) + padding }, padValue,
            images.options());
    for (std::int64_t i = 0; i < count; ++i) {
        const std::int64_t top = padding + (i / cols) * (height + padding);
        const std::int64_t left = padding + (i % cols) * (width + padding);
        grid.narrow(1, top, height).narrow(2, left, width).copy_(images[i]);
    }
    return grid;
}

} // namespace

torch::Tensor makeGrid(const torch::Tensor& images, int columns, int padding, int padValue)
{
    checkGridInput("makeGrid", images, columns, padding, padValue);
    return tile(images, columns, padding, padValue);
}

torch::Tensor makeFramedGrid(
    const torch::Tensor& images, int columns, const std::vector<int>& framedRows, Rgb colour, int padding, int padValue)
{
    checkGridInput("makeFramedGrid", images, columns, padding, padValue);
    const std::int64_t channels = images.size(1);
    const bool grey = colour[0] == colour[1] && colour[1] == colour[2];
    if (channels != 1 && channels != 3)
        throw Error("makeFramedGrid: frames need grey or RGB images (1 or 3 channels), found "
            + std::to_string(channels) + " channels");
    if (padding < 1)
        throw Error(
            "makeFramedGrid: padding must be at least 1 to leave room for a frame, found " + std::to_string(padding));
    const std::int64_t count = images.size(0);
    const std::int64_t cols = std::min<std::int64_t>(columns, count);
    const std::int64_t rows = (count + cols - 1) / cols;
    for (const int row : framedRows)
        if (row < 0 || row >= rows)
            throw Error("makeFramedGrid: row " + std::to_string(row) + " is outside the grid's rows 0–"
                + std::to_string(rows - 1));

    const torch::Tensor source = channels == 1 && !grey ? images.expand({ -1, 3, -1, -1 }) : images;
    torch::Tensor grid = tile(source, columns, padding, padValue);
    const std::int64_t height = images.size(2);
    const std::int64_t gridWidth = grid.size(2);
    const torch::Tensor paint
        = torch::tensor({ colour[0], colour[1], colour[2] }, torch::TensorOptions().dtype(torch::kUInt8))
              .narrow(0, 0, grid.size(0))
              .to(grid.device())
              .view({ -1, 1, 1 });
    for (const int row : framedRows) {
        // The frame covers the padding band around the row: above, below, and both outer edges.
        const std::int64_t top = row * (height + padding);
        const std::int64_t bandHeight = height + 2 * padding;
        torch::Tensor band = grid.narrow(1, top, bandHeight);
        band.narrow(1, 0, padding).copy_(paint.expand({ -1, padding, gridWidth }));
        band.narrow(1, bandHeight - padding, padding).copy_(paint.expand({ -1, padding, gridWidth }));
        band.narrow(2, 0, padding).copy_(paint.expand({ -1, bandHeight, padding }));
        band.narrow(2, gridWidth - padding, padding).copy_(paint.expand({ -1, bandHeight, padding }));
    }
    return grid;
}

torch::Tensor absoluteDifference(const torch::Tensor& a, const torch::Tensor& b, double amplify)
{
    if (!a.defined() || !b.defined() || a.scalar_type() != torch::kUInt8 || b.scalar_type() != torch::kUInt8
        || a.sizes() != b.sizes())
        throw Error("absoluteDifference: expected two uint8 tensors of the same shape, found " + describeTensor(a)
            + " and " + describeTensor(b));
    if (!std::isfinite(amplify) || amplify <= 0)
        throw Error("absoluteDifference: amplify must be positive, found " + formatNumber(amplify));
    const torch::Tensor difference = (a.to(torch::kInt16) - b.to(torch::kInt16)).abs();
    if (amplify == 1.0)
        return difference.to(torch::kUInt8);
    return (difference.to(torch::kFloat32) * amplify).round().clamp(0.0, 255.0).to(torch::kUInt8);
}

} // namespace lethe::imaging
