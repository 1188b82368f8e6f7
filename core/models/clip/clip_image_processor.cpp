#include "clip_image_processor.h"

#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/nn/state_dict.h"

#include <nlohmann/json.hpp>
#include <torch/nn/functional/upsampling.h>

#include <sstream>

namespace lethe::models::clip {

using nlohmann::json;

ClipImageProcessing clipImageProcessing(std::int64_t imageSize)
{
    ClipImageProcessing processing;
    processing.shortestEdge = imageSize;
    processing.cropHeight = imageSize;
    processing.cropWidth = imageSize;
    return processing;
}

namespace {

/// "size" or "crop_size": an integer, {"shortest_edge": n} or {"height": h, "width": w}.
struct SizeField {
    std::int64_t shortestEdge = 0;
    std::int64_t height = 0;
    std::int64_t width = 0;
};

SizeField readSize(const io::JsonFields& fields, const std::string& key)
{
    const json& value = fields.object().at(key);
    const auto positive = [&](const json& v) {
        if (!v.is_number_integer() || v.get<std::int64_t>() <= 0)
            fields.fail(key, "expected positive integers, found " + value.dump());
        return v.get<std::int64_t>();
    };
    SizeField size;
    if (value.is_number_integer()) {
        size.shortestEdge = positive(value);
    } else if (value.is_object() && value.size() == 1 && value.contains("shortest_edge")) {
        size.shortestEdge = positive(value.at("shortest_edge"));
    } else if (value.is_object() && value.size() == 2 && value.contains("height") && value.contains("width")) {
        size.height = positive(value.at("height"));
        size.width = positive(value.at("width"));
    } else {
        fields.fail(
            key, "expected an integer, {\"shortest_edge\": n} or {\"height\": h, \"width\": w}, found " + value.dump());
    }
    return size;
}

std::array<double, 3> readTriple(const io::JsonFields& fields, const std::string& key, std::array<double, 3> fallback)
{
    if (!fields.has(key))
        return fallback;
    const json& value = fields.object().at(key);
    if (!value.is_array() || value.size() != 3)
        fields.fail(key, "expected three numbers (R, G, B), found " + value.dump());
    std::array<double, 3> out {};
    for (std::size_t i = 0; i < 3; ++i) {
        if (!value[i].is_number())
            fields.fail(key, "expected three numbers (R, G, B), found " + value.dump());
        out[i] = value[i].get<double>();
    }
    return out;
}

} // namespace

ClipImageProcessing clipImageProcessingFromJson(const json& config, const std::string& file, std::int64_t imageSize)
{
    const io::JsonFields fields(config, file);
    ClipImageProcessing p = clipImageProcessing(imageSize);
    p.resize = fields.get<bool>("do_resize", p.resize);
    if (fields.has("size")) {
        const SizeField size = readSize(fields, "size");
        p.shortestEdge = size.shortestEdge;
        p.resizeHeight = size.height;
        p.resizeWidth = size.width;
    }
    p.centerCrop = fields.get<bool>("do_center_crop", p.centerCrop);
    if (fields.has("crop_size")) {
        const SizeField crop = readSize(fields, "crop_size");
        p.cropHeight = crop.shortestEdge > 0 ? crop.shortestEdge : crop.height;
        p.cropWidth = crop.shortestEdge > 0 ? crop.shortestEdge : crop.width;
    }
    if (p.centerCrop && (p.cropHeight != imageSize || p.cropWidth != imageSize))
        fields.fail("crop_size",
            "expected " + std::to_string(imageSize) + " by " + std::to_string(imageSize)
                + " (vision_config.image_size), found " + std::to_string(p.cropHeight) + " by "
                + std::to_string(p.cropWidth));
    p.rescale = fields.get<bool>("do_rescale", p.rescale);
    p.rescaleFactor = fields.get<double>("rescale_factor", p.rescaleFactor);
    p.normalize = fields.get<bool>("do_normalize", p.normalize);
    p.mean = readTriple(fields, "image_mean", p.mean);
    p.std = readTriple(fields, "image_std", p.std);
    for (const double s : p.std)
        if (!(s > 0.0)) {
            std::ostringstream shown;
            shown << s;
            fields.fail("image_std", "expected positive numbers, found " + shown.str());
        }
    return p;
}

torch::Tensor preprocessClipImages(const torch::Tensor& images, const ClipImageProcessing& p)
{
    if (images.dim() != 4 || images.scalar_type() != torch::kUInt8 || (images.size(1) != 3 && images.size(1) != 1))
        throw Error("CLIP image processor: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found "
            + std::string(c10::toString(images.scalar_type())) + " " + nn::shapeText(images.sizes().vec()));
    torch::Tensor x = images.to(torch::kFloat32);
    if (x.size(1) == 1)
        x = x.expand({ -1, 3, -1, -1 });

    const std::int64_t height = x.size(2);
    const std::int64_t width = x.size(3);
    if (p.resize) {
        std::int64_t newHeight = p.resizeHeight;
        std::int64_t newWidth = p.resizeWidth;
        if (p.shortestEdge > 0) {
            // transformers' get_resize_output_image_size: the long side scaled alike, truncated.
            const std::int64_t shortSide = std::min(height, width);
            const std::int64_t longSide = std::max(height, width);
            const auto scaled = static_cast<std::int64_t>(
                static_cast<double>(p.shortestEdge) * static_cast<double>(longSide) / static_cast<double>(shortSide));
            newHeight = height <= width ? p.shortestEdge : scaled;
            newWidth = height <= width ? scaled : p.shortestEdge;
        }
        if (newHeight != height || newWidth != width)
            x = torch::nn::functional::interpolate(x,
                torch::nn::functional::InterpolateFuncOptions()
                    .size(std::vector<std::int64_t> { newHeight, newWidth })
                    .mode(torch::kBicubic)
                    .align_corners(false))
                    .clamp(0.0, 255.0)
                    .round();
    }
    if (p.centerCrop) {
        if (x.size(2) < p.cropHeight || x.size(3) < p.cropWidth)
            throw Error("CLIP image processor: an image of " + std::to_string(x.size(3)) + " by "
                + std::to_string(x.size(2)) + " pixels after resizing is smaller than the crop of "
                + std::to_string(p.cropWidth) + " by " + std::to_string(p.cropHeight));
        const std::int64_t top = (x.size(2) - p.cropHeight) / 2;
        const std::int64_t left = (x.size(3) - p.cropWidth) / 2;
        x = x.narrow(2, top, p.cropHeight).narrow(3, left, p.cropWidth);
    }
    if (p.rescale)
        x = x * p.rescaleFactor;
    if (p.normalize) {
        const auto column = [&](const std::array<double, 3>& v) {
            return torch::tensor({ v[0], v[1], v[2] }, x.options()).view({ 1, 3, 1, 1 });
        };
        x = (x - column(p.mean)) / column(p.std);
    }
    return x.contiguous();
}

} // namespace lethe::models::clip
