#include "fuzz_support.h"

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include <unistd.h>

namespace lethe::fuzz {
namespace {

struct Scratch {
    std::filesystem::path path
        = std::filesystem::temp_directory_path() / ("lethe-fuzz-" + std::to_string(static_cast<long>(::getpid())));
    ~Scratch()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

} // namespace

std::filesystem::path freshFolder()
{
    static Scratch scratch;
    std::filesystem::remove_all(scratch.path);
    std::filesystem::create_directories(scratch.path);
    return scratch.path;
}

void writeFile(const std::filesystem::path& path, const std::string& bytes)
{
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out)
        throw std::runtime_error("fuzz harness: cannot write " + path.string());
}

std::vector<std::string> splitParts(const std::uint8_t* data, std::size_t size, std::size_t count)
{
    const std::string input(reinterpret_cast<const char*>(data), size);
    const std::string separator = kPartSeparator;
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (parts.size() + 1 < count) {
        const std::size_t at = input.find(separator, start);
        if (at == std::string::npos)
            break;
        parts.push_back(input.substr(start, at - start));
        start = at + separator.size();
    }
    parts.push_back(input.substr(std::min(start, input.size())));
    parts.resize(count);
    return parts;
}

} // namespace lethe::fuzz
