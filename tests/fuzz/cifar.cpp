// The CIFAR-10 binary reader: the input is test_batch.bin, then (after a "@@@" line) batches.meta.txt.
#include "fuzz_support.h"

#include "core/data/cifar10.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto parts = lethe::fuzz::splitParts(data, size, 2);
    const auto folder = lethe::fuzz::freshFolder();
    lethe::fuzz::writeFile(folder / "test_batch.bin", parts[0]);
    if (!parts[1].empty())
        lethe::fuzz::writeFile(folder / "batches.meta.txt", parts[1]);
    try {
        (void)lethe::data::readCifar10(folder, lethe::data::Split::Test);
    } catch (const lethe::Error&) {
    }
    return 0;
}
