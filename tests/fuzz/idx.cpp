// The IDX readers (MNIST, Fashion-MNIST) on arbitrary bytes, raw or gzip: the first byte picks images or
// labels, the rest is the file.
#include "fuzz_support.h"

#include "core/data/idx.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const auto path = lethe::fuzz::freshFolder() / "input-idx";
    lethe::fuzz::writeFile(path, std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
    try {
        if (data[0] & 1)
            (void)lethe::data::readIdxLabels(path);
        else
            (void)lethe::data::readIdxImages(path);
    } catch (const lethe::Error&) {
    }
    return 0;
}
