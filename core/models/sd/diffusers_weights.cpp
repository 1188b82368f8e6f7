#include "diffusers_weights.h"

#include "core/error.h"

#include <algorithm>
#include <system_error>
#include <vector>

namespace lethe::models {

namespace {

bool isFile(const std::filesystem::path& path)
{
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec);
}

/// The folder's .ckpt files, sorted, so that the message is the same on every run.
std::vector<std::filesystem::path> checkpoints(const std::filesystem::path& folder)
{
    std::vector<std::filesystem::path> found;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".ckpt" && isFile(it->path()))
            found.push_back(it->path());
    std::sort(found.begin(), found.end());
    return found;
}

[[noreturn]] void refusePickle(const std::filesystem::path& file)
{
    throw FormatError(file.string(), "",
        "pickled PyTorch files can run code when loaded, so Lethe does not read them; convert it to safetensors "
        "first, e.g. with diffusers: save_pretrained(folder, safe_serialization=True)");
}

} // namespace

std::filesystem::path findDiffusersWeights(const std::filesystem::path& folder, const std::string& stem)
{
    for (const char* suffix : { ".safetensors", ".fp16.safetensors" }) {
        const std::filesystem::path candidate = folder / (stem + suffix);
        if (isFile(candidate))
            return candidate;
    }
    for (const char* suffix : { ".bin", ".fp16.bin" }) {
        const std::filesystem::path candidate = folder / (stem + suffix);
        if (isFile(candidate))
            refusePickle(candidate);
    }
    const auto ckpts = checkpoints(folder);
    if (!ckpts.empty())
        refusePickle(ckpts.front());
    throw FormatError(
        folder.string(), "", "no " + stem + ".safetensors (or " + stem + ".fp16.safetensors) in this folder");
}

} // namespace lethe::models
