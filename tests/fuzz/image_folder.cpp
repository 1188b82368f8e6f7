// The image-folder loader. The first byte sets the options (output side 1..32, grey or RGB); the rest is up
// to four image files separated by "@@@" lines, written as cat/0.png, dog/1.jpg, cat/2.jpeg, dog/3.png.
#include "fuzz_support.h"

#include "core/data/image_folder.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    lethe::data::ImageFolderOptions options;
    options.size = 1 + (data[0] & 31);
    options.channels = (data[0] & 32) ? 1 : 3;
    const auto parts = lethe::fuzz::splitParts(data + 1, size - 1, 4);
    const char* names[] = { "cat/0.png", "dog/1.jpg", "cat/2.jpeg", "dog/3.png" };
    const auto folder = lethe::fuzz::freshFolder();
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (!parts[i].empty())
            lethe::fuzz::writeFile(folder / names[i], parts[i]);
    }
    try {
        (void)lethe::data::readImageFolder(folder, options);
    } catch (const lethe::Error&) {
    }
    return 0;
}
