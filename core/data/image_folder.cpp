#include "image_folder.h"

#include "../error.h"
#include "../imaging/image_file.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>

namespace lethe::data {

namespace {

bool hasImageExtension(const std::filesystem::path& path)
{
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

template <typename Filter>
std::vector<std::filesystem::path> sortedEntries(const std::filesystem::path& dir, Filter keep)
{
    std::vector<std::filesystem::path> entries;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (keep(entry))
            entries.push_back(entry.path());
    std::sort(entries.begin(), entries.end());
    return entries;
}

} // namespace

bool isImageFolder(const std::filesystem::path& dir)
{
    std::error_code error;
    if (!std::filesystem::is_directory(dir, error))
        return false;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error))
        if (entry.is_directory())
            return true;
    return false;
}

ImageFolderResult readImageFolder(const std::filesystem::path& dir, const ImageFolderOptions& options)
{
    if (!std::filesystem::is_directory(dir))
        throw FormatError(dir.string(), "", "is not a folder");
    const auto classDirs = sortedEntries(dir, [](const auto& e) {
        return e.is_directory() && e.path().filename().string().front() != '.';
    });
    if (classDirs.empty())
        throw FormatError(dir.string(), "", "expected one subfolder per class, found none");

    ImageFolderResult result;
    std::vector<torch::Tensor> images;
    std::vector<std::int64_t> labels;
    for (std::size_t c = 0; c < classDirs.size(); ++c) {
        result.set.classNames.push_back(classDirs[c].filename().string());
        const auto files = sortedEntries(classDirs[c], [](const auto& e) { return e.is_regular_file(); });
        for (const auto& file : files) {
            if (!hasImageExtension(file)) {
                result.skipped.push_back({file, "not a .png, .jpg or .jpeg file"});
                continue;
            }
            try {
                images.push_back(imaging::readImageFile(file, options.channels, options.size));
                labels.push_back(static_cast<std::int64_t>(c));
            } catch (const FormatError& e) {
                result.skipped.push_back({file, e.problem()});
            }
        }
    }
    if (images.empty())
        throw FormatError(dir.string(), "", "no readable PNG or JPEG image in any class folder ("
                                                + std::to_string(result.skipped.size()) + " files skipped)");
    result.set.images = torch::stack(images);
    result.set.labels = torch::tensor(labels, torch::kInt64);
    result.set.source = "image folder (" + dir.string() + ")";
    result.set.validate();
    return result;
}

} // namespace lethe::data
