#include "image_file.h"

#include "../error.h"
#include "core/config.h"
#include "../io/atomic_file.h"

#include <torch/torch.h>
#include <zlib.h>

#ifdef LETHE_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace lethe::imaging {

bool canDecodeImages()
{
#ifdef LETHE_HAVE_OPENCV
    return true;
#else
    return false;
#endif
}

torch::Tensor readImageFile(const std::filesystem::path& path, int channels, int size)
{
    if (channels != 1 && channels != 3)
        throw Error("image channels must be 1 or 3, not " + std::to_string(channels));
    if (size < 1)
        throw Error("image size must be positive, not " + std::to_string(size));
#ifdef LETHE_HAVE_OPENCV
    cv::Mat image = cv::imread(path.string(), channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
    if (image.empty())
        throw FormatError(path.string(), "", "cannot be decoded as an image (corrupt or unsupported format)");
    if (channels == 3)
        cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
    const double scale = static_cast<double>(size) / std::min(image.cols, image.rows);
    const int scaledW = std::max(size, static_cast<int>(std::lround(image.cols * scale)));
    const int scaledH = std::max(size, static_cast<int>(std::lround(image.rows * scale)));
    cv::Mat scaled;
    cv::resize(image, scaled, cv::Size(scaledW, scaledH), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    const cv::Rect crop((scaledW - size) / 2, (scaledH - size) / 2, size, size);
    cv::Mat square = scaled(crop).clone();
    torch::Tensor hwc = torch::from_blob(square.data, {size, size, channels}, torch::kUInt8);
    return hwc.permute({2, 0, 1}).contiguous().clone();
#else
    throw FormatError(path.string(), "", "this build of Lethe has no image decoder (built without OpenCV)");
#endif
}

namespace {

void appendBigEndian(std::string& out, std::uint32_t value)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void appendChunk(std::string& out, const char* type, const std::string& data)
{
    appendBigEndian(out, static_cast<std::uint32_t>(data.size()));
    std::string body(type, 4);
    body += data;
    out += body;
    appendBigEndian(out, static_cast<std::uint32_t>(
                             crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

} // namespace

std::string encodePng(const torch::Tensor& image)
{
    if (image.dim() != 3 || image.scalar_type() != torch::kUInt8 || (image.size(0) != 1 && image.size(0) != 3))
        throw Error("PNG export needs a uint8 C×H×W image with 1 or 3 channels");
    const torch::Tensor hwc = image.to(torch::kCPU).permute({1, 2, 0}).contiguous();
    const auto channels = static_cast<int>(image.size(0));
    const auto height = static_cast<std::uint32_t>(image.size(1));
    const auto width = static_cast<std::uint32_t>(image.size(2));
    const std::size_t rowBytes = static_cast<std::size_t>(width) * channels;
    std::string raw;
    raw.reserve((rowBytes + 1) * height);
    const auto* pixels = reinterpret_cast<const char*>(hwc.data_ptr<std::uint8_t>());
    for (std::uint32_t y = 0; y < height; ++y) {
        raw.push_back('\0'); // filter type "none"
        raw.append(pixels + y * rowBytes, rowBytes);
    }
    uLongf compressedSize = compressBound(static_cast<uLong>(raw.size()));
    std::string compressed(compressedSize, '\0');
    if (compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressedSize,
                  reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6)
        != Z_OK)
        throw Error("PNG export: zlib compression failed");
    compressed.resize(compressedSize);

    std::string png("\x89PNG\r\n\x1a\n", 8);
    std::string header;
    appendBigEndian(header, width);
    appendBigEndian(header, height);
    header.push_back(8);                              // bit depth
    header.push_back(channels == 1 ? 0 : 2);          // grey or truecolour
    header.append(3, '\0');                           // compression, filter, interlace
    appendChunk(png, "IHDR", header);
    appendChunk(png, "IDAT", compressed);
    appendChunk(png, "IEND", "");
    return png;
}

void writePng(const std::filesystem::path& path, const torch::Tensor& image)
{
    io::writeFileAtomically(path, encodePng(image));
}

} // namespace lethe::imaging
