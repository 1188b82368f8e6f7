#include "idx.h"

#include "../error.h"

#include <torch/torch.h>
#include <zlib.h>

#include <cerrno>
#include <limits>
#include <string>
#include <vector>

namespace lethe::data {

namespace {

/// zlib's message without the "path: " prefix gzerror puts in front of it.
std::string zlibProblem(gzFile file, const std::filesystem::path& path)
{
    int code = Z_OK;
    std::string message = gzerror(file, &code);
    const std::string prefix = path.string() + ": ";
    if (message.rfind(prefix, 0) == 0)
        message.erase(0, prefix.size());
    return code == Z_OK ? std::string() : message;
}

/// The whole file, decompressed when it is gzip (zlib passes raw files through unchanged).
std::vector<std::uint8_t> readMaybeGzip(const std::filesystem::path& path)
{
    gzFile file = gzopen(path.c_str(), "rb");
    if (file == nullptr)
        throw IoError(path.string(), "open for reading", errno == 0 ? ENOENT : errno);
    std::vector<std::uint8_t> bytes;
    std::uint8_t chunk[1 << 16];
    for (;;) {
        const int n = gzread(file, chunk, sizeof chunk);
        if (n < 0) {
            const std::string message = zlibProblem(file, path);
            gzclose(file);
            throw FormatError(
                path.string(), "byte " + std::to_string(bytes.size()), "gzip data is corrupt (" + message + ")");
        }
        if (n == 0) {
            // A stream cut short reads as a clean end of input; zlib reports it only through gzerror.
            const std::string message = zlibProblem(file, path);
            if (!message.empty()) {
                gzclose(file);
                throw FormatError(
                    path.string(), "byte " + std::to_string(bytes.size()), "gzip data is corrupt (" + message + ")");
            }
            break;
        }
        bytes.insert(bytes.end(), chunk, chunk + n);
    }
    gzclose(file);
    return bytes;
}

std::uint32_t bigEndian32(const std::uint8_t* p)
{
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

std::string hexByte(std::uint8_t b)
{
    static const char* digits = "0123456789abcdef";
    return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

/// Validates the IDX header and returns the dimensions.
std::vector<std::int64_t> parseHeader(
    const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes, int expectedDims)
{
    const std::string file = path.string();
    if (bytes.size() < 4)
        throw FormatError(
            file, "header", "file is " + std::to_string(bytes.size()) + " bytes, too short for the 4-byte IDX magic");
    if (bytes[0] != 0 || bytes[1] != 0)
        throw FormatError(file, "magic",
            "expected 0x00 0x00 at byte 0, found " + hexByte(bytes[0]) + " " + hexByte(bytes[1])
                + " (not an IDX file)");
    if (bytes[2] != 0x08)
        throw FormatError(
            file, "magic", "expected element type 0x08 (unsigned byte) at byte 2, found " + hexByte(bytes[2]));
    if (bytes[3] != expectedDims)
        throw FormatError(file, "magic",
            "expected " + std::to_string(expectedDims) + " dimensions at byte 3, found " + std::to_string(bytes[3]));
    const std::size_t headerSize = 4 + 4 * static_cast<std::size_t>(expectedDims);
    if (bytes.size() < headerSize)
        throw FormatError(file, "header",
            "file is " + std::to_string(bytes.size()) + " bytes, the header needs " + std::to_string(headerSize));
    std::vector<std::int64_t> dims;
    std::uint64_t count = 1;
    // Three u32 dimensions can multiply past 2^64; a wrapped product could match the data and pass.
    bool overflow = false;
    for (int i = 0; i < expectedDims; ++i) {
        const std::uint64_t d = bigEndian32(bytes.data() + 4 + 4 * i);
        dims.push_back(static_cast<std::int64_t>(d));
        if (d != 0 && count > std::numeric_limits<std::uint64_t>::max() / d)
            overflow = true;
        count *= d;
    }
    const std::uint64_t available = bytes.size() - headerSize;
    if (overflow || available != count) {
        std::string shape;
        for (std::size_t i = 0; i < dims.size(); ++i)
            shape += (i ? "×" : "") + std::to_string(dims[i]);
        throw FormatError(file, "byte " + std::to_string(headerSize),
            "a " + shape + " array needs " + (overflow ? "more than 2^64" : std::to_string(count))
                + " bytes of data, found " + std::to_string(available)
                + (overflow || available < count ? " (truncated)" : " (trailing bytes)"));
    }
    return dims;
}

} // namespace

torch::Tensor readIdxImages(const std::filesystem::path& path)
{
    const auto bytes = readMaybeGzip(path);
    const auto dims = parseHeader(path, bytes, 3);
    torch::Tensor images = torch::empty({ dims[0], 1, dims[1], dims[2] }, torch::kUInt8);
    // An array with a zero dimension is well-formed and has no storage (data_ptr() is null).
    if (images.numel() > 0)
        std::memcpy(images.data_ptr(), bytes.data() + 16, static_cast<std::size_t>(images.numel()));
    return images;
}

torch::Tensor readIdxLabels(const std::filesystem::path& path)
{
    const auto bytes = readMaybeGzip(path);
    const auto dims = parseHeader(path, bytes, 1);
    torch::Tensor labels = torch::empty({ dims[0] }, torch::kUInt8);
    if (labels.numel() > 0)
        std::memcpy(labels.data_ptr(), bytes.data() + 8, static_cast<std::size_t>(labels.numel()));
    return labels.to(torch::kInt64);
}

} // namespace lethe::data
