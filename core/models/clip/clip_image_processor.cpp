#include "clip_image_processor.h"

#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/nn/state_dict.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <vector>

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

/// Pillow's bicubic kernel (a = −0.5, support 2).
double pilBicubic(double x)
{
    constexpr double a = -0.5;
    x = std::abs(x);
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/// The fixed-point bits of Pillow's 8-bit weights: 32 bits less 8 for the pixel and 2 for the kernel's overshoot.
constexpr int kPrecisionBits = 32 - 8 - 2;

/// One axis of a Pillow resize: for each output coordinate the first input coordinate it reads, how many it reads,
/// and their weights (ksize slots each), as Pillow's precompute_coeffs and normalize_coeffs_8bpc compute them.
struct PilTaps {
    std::vector<std::int64_t> first;
    std::vector<std::int64_t> count;
    std::vector<std::int32_t> weights;
    std::int64_t ksize = 0;
};

PilTaps pilBicubicTaps(std::int64_t inSize, std::int64_t outSize)
{
    const double scale = static_cast<double>(inSize) / static_cast<double>(outSize);
    const double filterScale = std::max(scale, 1.0);
    const double support = 2.0 * filterScale;
    // Pillow multiplies by the reciprocal rather than dividing; the rounding differs, so do the same.
    const double inverse = 1.0 / filterScale;
    PilTaps taps;
    taps.ksize = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;
    taps.first.resize(static_cast<std::size_t>(outSize));
    taps.count.resize(static_cast<std::size_t>(outSize));
    taps.weights.assign(static_cast<std::size_t>(outSize * taps.ksize), 0);
    std::vector<double> k(static_cast<std::size_t>(taps.ksize));
    for (std::int64_t xx = 0; xx < outSize; ++xx) {
        const double center = (static_cast<double>(xx) + 0.5) * scale;
        // C's truncating casts, as Pillow rounds these bounds.
        const std::int64_t xmin = std::max<std::int64_t>(static_cast<int>(center - support + 0.5), 0);
        const std::int64_t xmax = std::min<std::int64_t>(static_cast<int>(center + support + 0.5), inSize) - xmin;
        double sum = 0.0;
        for (std::int64_t x = 0; x < xmax; ++x) {
            const double w = pilBicubic((static_cast<double>(x + xmin) - center + 0.5) * inverse);
            k[static_cast<std::size_t>(x)] = w;
            sum += w;
        }
        for (std::int64_t x = 0; x < xmax; ++x) {
            double w = k[static_cast<std::size_t>(x)];
            if (sum != 0.0)
                w /= sum;
            const double fixed = w * static_cast<double>(1 << kPrecisionBits);
            taps.weights[static_cast<std::size_t>(xx * taps.ksize + x)]
                = static_cast<std::int32_t>(w < 0 ? -0.5 + fixed : 0.5 + fixed);
        }
        taps.first[static_cast<std::size_t>(xx)] = xmin;
        taps.count[static_cast<std::size_t>(xx)] = xmax;
    }
    return taps;
}

/// Pillow's clip8: the fixed-point sum (with its half already added) back to a byte, clamped.
std::uint8_t clip8(std::int64_t sum)
{
    if (sum <= 0)
        return 0;
    return static_cast<std::uint8_t>(std::min<std::int64_t>(sum >> kPrecisionBits, 255));
}

/// One pass over a plane of `lines` lines: output sample o of each line sums the input samples taps.first[o] ...
/// at `step` apart (1 along a row, the row length down a column); `lineStep` apart in the input and `outLineStep`
/// in the output separate successive lines, `outStep` successive outputs.
void resamplePass(const std::uint8_t* in, std::uint8_t* out, const PilTaps& taps, std::int64_t lines,
    std::int64_t lineStep, std::int64_t step, std::int64_t outLineStep, std::int64_t outStep)
{
    const auto outSize = static_cast<std::int64_t>(taps.first.size());
    for (std::int64_t line = 0; line < lines; ++line)
        for (std::int64_t o = 0; o < outSize; ++o) {
            const std::uint8_t* source = in + line * lineStep + taps.first[static_cast<std::size_t>(o)] * step;
            const std::int32_t* w = taps.weights.data() + o * taps.ksize;
            std::int64_t sum = std::int64_t { 1 } << (kPrecisionBits - 1);
            for (std::int64_t i = 0; i < taps.count[static_cast<std::size_t>(o)]; ++i)
                sum += static_cast<std::int64_t>(source[i * step]) * w[i];
            out[line * outLineStep + o * outStep] = clip8(sum);
        }
}

} // namespace

torch::Tensor resizeBicubicLikePil(const torch::Tensor& images, std::int64_t height, std::int64_t width)
{
    if (images.dim() != 4 || images.scalar_type() != torch::kUInt8)
        throw Error("PIL bicubic resize: expected uint8 images [N, C, H, W], found "
            + std::string(c10::toString(images.scalar_type())) + " " + nn::shapeText(images.sizes().vec()));
    if (height < 1 || width < 1 || images.size(2) < 1 || images.size(3) < 1)
        throw Error("PIL bicubic resize: cannot resize " + nn::shapeText(images.sizes().vec()) + " to "
            + std::to_string(height) + " by " + std::to_string(width));
    const torch::Tensor in = images.to(torch::kCPU).contiguous();
    const std::int64_t planes = in.size(0) * in.size(1);
    const std::int64_t inHeight = in.size(2);
    const std::int64_t inWidth = in.size(3);
    // Like Pillow, a pass whose size does not change is skipped (it would be the identity anyway).
    torch::Tensor wide = in;
    if (width != inWidth) {
        const PilTaps taps = pilBicubicTaps(inWidth, width);
        wide = torch::empty({ in.size(0), in.size(1), inHeight, width }, in.options());
        const std::uint8_t* source = in.data_ptr<std::uint8_t>();
        std::uint8_t* target = wide.data_ptr<std::uint8_t>();
        at::parallel_for(0, planes, 1, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t p = begin; p < end; ++p)
                resamplePass(source + p * inHeight * inWidth, target + p * inHeight * width, taps, inHeight, inWidth, 1,
                    width, 1);
        });
    }
    torch::Tensor out = wide;
    if (height != inHeight) {
        const PilTaps taps = pilBicubicTaps(inHeight, height);
        out = torch::empty({ in.size(0), in.size(1), height, width }, in.options());
        const std::uint8_t* source = wide.data_ptr<std::uint8_t>();
        std::uint8_t* target = out.data_ptr<std::uint8_t>();
        // Columns as lines: each output row o reads rows taps.first[o]... of the same column.
        at::parallel_for(0, planes, 1, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t p = begin; p < end; ++p)
                resamplePass(
                    source + p * inHeight * width, target + p * height * width, taps, width, 1, width, 1, width);
        });
    }
    return out.to(images.device());
}

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
    torch::Tensor x = images;
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
        // Grey is resized before it becomes RGB: the three channels would resize alike.
        if (newHeight != height || newWidth != width)
            x = resizeBicubicLikePil(x, newHeight, newWidth);
    }
    x = x.to(torch::kFloat32);
    if (x.size(1) == 1)
        x = x.expand({ -1, 3, -1, -1 });
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
