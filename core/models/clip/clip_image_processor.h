#pragma once

// transformers' CLIPImageProcessor: resize the shortest side, center crop, rescale to [0, 1], normalise. The resize
// is PIL's Image.resize(size, BICUBIC) on 8-bit images, reproduced byte for byte (transformers converts to PIL for
// it), so the pixels CLIP sees are the ones the Python pipeline gives it.

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>

namespace lethe::models::clip {

/// The settings preprocessor_config.json holds. Defaults are OpenAI CLIP's at 224 pixels.
struct ClipImageProcessing {
    /// do_resize: scale the image before cropping.
    bool resize = true;
    /// size.shortest_edge: the side the shorter image side is scaled to (0 when an exact size is given).
    std::int64_t shortestEdge = 224;
    /// size.height and size.width: an exact size instead of shortestEdge (0: not given).
    std::int64_t resizeHeight = 0;
    std::int64_t resizeWidth = 0;
    /// do_center_crop and crop_size.
    bool centerCrop = true;
    std::int64_t cropHeight = 224;
    std::int64_t cropWidth = 224;
    /// do_rescale and rescale_factor: byte values to [0, 1].
    bool rescale = true;
    double rescaleFactor = 1.0 / 255.0;
    /// do_normalize, image_mean and image_std.
    bool normalize = true;
    std::array<double, 3> mean { 0.48145466, 0.4578275, 0.40821073 };
    std::array<double, 3> std { 0.26862954, 0.26130258, 0.27577711 };
};

/// The defaults for a model whose images are `imageSize` pixels square.
ClipImageProcessing clipImageProcessing(std::int64_t imageSize);

/// Parses preprocessor_config.json; absent keys keep the defaults for `imageSize`. "size" and "crop_size" may be
/// an integer or an object ({"shortest_edge": n} or {"height": h, "width": w}). Throws FormatError(file, key) for a
/// value of the wrong type or size, and for a crop that is not imageSize square.
ClipImageProcessing clipImageProcessingFromJson(
    const nlohmann::json& config, const std::string& file, std::int64_t imageSize);

/// Resizes uint8 images [N, C, H, W] to height × width exactly as Pillow's Image.resize(size, Image.BICUBIC) does
/// for 8-bit images: separable, the horizontal pass first into a uint8 image, then the vertical one; the cubic kernel
/// with a = −0.5, widened by the scale when shrinking; weights in 22-bit fixed point. Computed on the CPU; the result
/// is on the images' device. Throws lethe::Error for other shapes or dtypes, or a size below 1.
torch::Tensor resizeBicubicLikePil(const torch::Tensor& images, std::int64_t height, std::int64_t width);

/// uint8 images [N, C, H, W] (C = 3, or 1 for grey, which is repeated as RGB) → float32 pixels
/// [N, 3, cropHeight, cropWidth] on the images' device, as CLIPImageProcessor makes them (the resize is
/// resizeBicubicLikePil). Throws lethe::Error for other shapes or dtypes, and for an image smaller than the crop.
torch::Tensor preprocessClipImages(const torch::Tensor& images, const ClipImageProcessing& processing);

} // namespace lethe::models::clip
