#pragma once

// OpenAI CLIP's byte-level BPE tokenizer, read from a diffusers `tokenizer/` folder, with the behaviour of
// transformers' CLIPTokenizer when ftfy is not installed: HTML entities decoded, whitespace collapsed, text
// lower-cased, then CLIP's pre-tokenising pattern, GPT-2's byte-to-character map and BPE with "</w>" word ends.
// Known differences from Python: html.unescape knows every HTML5 entity, this knows numeric references and the
// common named ones (&amp; &lt; &gt; &quot; &apos; &nbsp; and some 25 more); lower-casing uses the C library's
// simple Unicode case map (Python's final-sigma rule is not applied). merges.txt's first line is skipped only
// when it is a "#version" header (transformers always skips it).

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lethe::models::sd {

/// One prompt as the text encoder takes it.
struct ClipTokens {
    /// Always maxLength ids: BOS, the prompt's tokens, EOS, then padding.
    std::vector<std::int64_t> ids;
    /// The number of ids from BOS to EOS inclusive.
    int length = 0;
    /// Whether tokens were dropped to fit maxLength (EOS is always kept last).
    bool truncated = false;
};

/// CLIP's tokenizer. encode() and decode() are const and safe to call from several threads.
class ClipTokenizer {
public:
    /// Reads vocab.json and merges.txt from `folder`, and when present special_tokens_map.json and
    /// tokenizer_config.json (special tokens, model_max_length). Throws FormatError naming the file and the
    /// key, line or token for a missing file, a malformed vocabulary or merge line, or a special token that
    /// is not in the vocabulary.
    explicit ClipTokenizer(const std::filesystem::path& folder);
    ~ClipTokenizer();
    ClipTokenizer(ClipTokenizer&&) noexcept;
    ClipTokenizer& operator=(ClipTokenizer&&) noexcept;

    /// BOS, the prompt's tokens (truncated to maxLength − 2), EOS, and pad ids up to maxLength.
    ClipTokens encode(const std::string& text) const;
    /// encode() for each prompt, as an int64 tensor [N, maxLength] on the CPU.
    torch::Tensor encodeBatch(const std::vector<std::string>& texts) const;
    /// The text of `ids` with BOS, EOS and pad tokens left out, "</w>" read as a space, bytes that are not
    /// UTF-8 replaced by U+FFFD and the ends stripped. Throws lethe::Error for an id outside the vocabulary.
    std::string decode(const std::vector<std::int64_t>& ids) const;

    /// The id of a vocabulary entry (in the byte-mapped spelling vocab.json uses); -1 when absent.
    std::int64_t tokenId(const std::string& token) const;
    /// The number of vocabulary entries.
    std::int64_t vocabSize() const;

    /// The id of bos_token (default "<|startoftext|>").
    std::int64_t bosId() const;
    /// The id of eos_token (default "<|endoftext|>").
    std::int64_t eosId() const;
    /// The id of pad_token (default "<|endoftext|>"; SD 2.x names "!").
    std::int64_t padId() const;
    /// The id given to BPE symbols outside the vocabulary: unk_token (default "<|endoftext|>").
    std::int64_t unkId() const;
    /// model_max_length from tokenizer_config.json; 77 when absent.
    int maxLength() const;

private:
    struct State;
    std::unique_ptr<State> m_state;
};

/// How vocab.json and merges.txt spell the bytes of a UTF-8 word: GPT-2's byte-to-character map, each byte as
/// one printable character (itself for printable Latin-1, U+0100 onwards for the rest), in UTF-8.
std::string byteLevelSpelling(const std::string& bytes);

} // namespace lethe::models::sd
