// CLIP's tokenizer. The input is vocab.json, merges.txt, a prompt, tokenizer_config.json and
// special_tokens_map.json, separated by "@@@" lines (the last two are written only when not empty). The
// prompt is encoded and the ids decoded again.
#include "fuzz_support.h"

#include "core/error.h"
#include "core/models/sd/clip_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto parts = lethe::fuzz::splitParts(data, size, 5);
    const auto folder = lethe::fuzz::freshFolder();
    lethe::fuzz::writeFile(folder / "vocab.json", parts[0]);
    lethe::fuzz::writeFile(folder / "merges.txt", parts[1]);
    if (!parts[3].empty())
        lethe::fuzz::writeFile(folder / "tokenizer_config.json", parts[3]);
    if (!parts[4].empty())
        lethe::fuzz::writeFile(folder / "special_tokens_map.json", parts[4]);
    try {
        const lethe::models::sd::ClipTokenizer tokenizer(folder);
        const auto tokens = tokenizer.encode(parts[2]);
        (void)tokenizer.decode(tokens.ids);
    } catch (const lethe::Error&) {
    }
    return 0;
}
