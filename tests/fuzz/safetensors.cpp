// The safetensors reader on arbitrary bytes: open, list, copy out every tensor, and read the Lethe model
// description from the metadata. Errors (lethe::Error) are the intended refusals.
#include "fuzz_support.h"

#include "core/error.h"
#include "core/io/model_file.h"
#include "core/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto path = lethe::fuzz::freshFolder() / "input.safetensors";
    lethe::fuzz::writeFile(path, std::string(reinterpret_cast<const char*>(data), size));
    try {
        const lethe::io::SafetensorsFile file(path);
        for (const auto& entry : file.entries()) {
            (void)file.bytes(entry);
            try {
                (void)file.tensor(entry.name);
            } catch (const lethe::Error&) {
            }
        }
        (void)lethe::io::readModelInfo(file);
    } catch (const lethe::Error&) {
    }
    return 0;
}
