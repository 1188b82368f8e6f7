#pragma once

// A byte-level BPE vocabulary learnt from a word list, written as a CLIP tokenizer folder (vocab.json,
// merges.txt, tokenizer_config.json, special_tokens_map.json) that ClipTokenizer and transformers'
// CLIPTokenizer read. Small text-to-image models trained by Lethe (the built-in one) use it: their captions
// need a few hundred tokens, not CLIP's 49,408.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace lethe::models::sd {

/// A learnt vocabulary: the entries in id order, and the merges in rank order.
struct BpeVocabulary {
    /// The 256 byte characters, the same with "</w>", the merge products, then <|startoftext|> and
    /// <|endoftext|> (CLIP's layout), in the byte-level spelling vocab.json uses.
    std::vector<std::string> tokens;
    std::vector<std::pair<std::string, std::string>> merges;
};

/// Splits lower-cased ASCII text as CLIP's pre-tokenising pattern does: runs of letters, single digits, runs
/// of other non-space characters.
std::vector<std::string> clipWords(const std::string& text);

/// Learns merges from the words of `texts` (split with clipWords, each text lower-cased) until every word
/// they contain is one token: at each round the most frequent adjacent pair (ties: the smaller pair) merges.
/// Words outside the texts still encode, byte by byte.
BpeVocabulary learnBpe(const std::vector<std::string>& texts);

/// Writes `folder`/vocab.json, merges.txt ("#version: 0.2" header), special_tokens_map.json and
/// tokenizer_config.json (model_max_length `maxLength`), atomically each. Creates the folder.
void writeClipTokenizerFolder(const std::filesystem::path& folder, const BpeVocabulary& vocabulary, int maxLength);

} // namespace lethe::models::sd
