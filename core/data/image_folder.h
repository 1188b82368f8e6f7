#pragma once

#include "image_set.h"

#include <filesystem>
#include <string>
#include <vector>

namespace lethe::data {

/// How to turn a folder of image files into an ImageSet.
struct ImageFolderOptions {
    int size = 32;     ///< Output side length; the shorter side is scaled to it and the centre cropped.
    int channels = 3;  ///< 1 (grey) or 3 (RGB).
};

/// A file an image-folder read left out, and why.
struct SkippedFile {
    std::filesystem::path path;
    std::string reason;
};

/// The images read from a folder and the files skipped on the way.
struct ImageFolderResult {
    ImageSet set;
    std::vector<SkippedFile> skipped;
};

/// True when `dir` has at least one subfolder (a candidate class folder).
bool isImageFolder(const std::filesystem::path& dir);

/// Reads DIR/<class>/<image> with classes in sorted order of their folder names. Files that cannot be
/// decoded are skipped and listed; a folder with no readable image at all is an error.
ImageFolderResult readImageFolder(const std::filesystem::path& dir, const ImageFolderOptions& options = {});

} // namespace lethe::data
