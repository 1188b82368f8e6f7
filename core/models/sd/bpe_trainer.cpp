#include "bpe_trainer.h"

#include "clip_tokenizer.h"
#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace lethe::models::sd {

namespace {

const char* const kEndOfWord = "</w>";
const char* const kBos = "<|startoftext|>";
const char* const kEos = "<|endoftext|>";

enum class CharClass { Letter, Digit, Space, Other };

CharClass classOf(unsigned char c)
{
    if (std::isalpha(c) || c >= 0x80) // UTF-8 bytes of non-ASCII letters stay inside their word.
        return CharClass::Letter;
    if (std::isdigit(c))
        return CharClass::Digit;
    if (std::isspace(c))
        return CharClass::Space;
    return CharClass::Other;
}

/// A word as BPE symbols: one per byte, the last with the end-of-word mark.
std::vector<std::string> symbolsOf(const std::string& word)
{
    std::vector<std::string> symbols;
    for (const char byte : word)
        symbols.push_back(byteLevelSpelling(std::string(1, byte)));
    symbols.back() += kEndOfWord;
    return symbols;
}

} // namespace

std::vector<std::string> clipWords(const std::string& text)
{
    std::vector<std::string> words;
    std::string current;
    CharClass currentClass = CharClass::Space;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        const CharClass cls = classOf(c);
        const bool continues = cls == currentClass && cls != CharClass::Digit && cls != CharClass::Space;
        if (!continues && !current.empty()) {
            words.push_back(current);
            current.clear();
        }
        if (cls != CharClass::Space)
            current += static_cast<char>(std::tolower(c));
        currentClass = cls;
    }
    if (!current.empty())
        words.push_back(current);
    return words;
}

BpeVocabulary learnBpe(const std::vector<std::string>& texts)
{
    std::map<std::string, std::int64_t> counts;
    for (const std::string& text : texts)
        for (const std::string& word : clipWords(text))
            ++counts[word];
    std::vector<std::pair<std::vector<std::string>, std::int64_t>> words;
    for (const auto& [word, count] : counts)
        words.emplace_back(symbolsOf(word), count);

    BpeVocabulary vocabulary;
    for (int byte = 0; byte < 256; ++byte)
        vocabulary.tokens.push_back(byteLevelSpelling(std::string(1, static_cast<char>(byte))));
    for (int byte = 0; byte < 256; ++byte)
        vocabulary.tokens.push_back(byteLevelSpelling(std::string(1, static_cast<char>(byte))) + kEndOfWord);
    std::set<std::string> known(vocabulary.tokens.begin(), vocabulary.tokens.end());

    while (true) {
        std::map<std::pair<std::string, std::string>, std::int64_t> pairs;
        for (const auto& [symbols, count] : words)
            for (std::size_t i = 0; i + 1 < symbols.size(); ++i)
                pairs[{ symbols[i], symbols[i + 1] }] += count;
        if (pairs.empty())
            break;
        // The first of the most frequent pairs in the map's order: deterministic.
        auto best = pairs.begin();
        for (auto it = pairs.begin(); it != pairs.end(); ++it)
            if (it->second > best->second)
                best = it;
        const auto [left, right] = best->first;
        vocabulary.merges.emplace_back(left, right);
        const std::string product = left + right;
        if (known.insert(product).second)
            vocabulary.tokens.push_back(product);
        for (auto& [symbols, count] : words) {
            std::vector<std::string> merged;
            for (std::size_t i = 0; i < symbols.size(); ++i) {
                if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
                    merged.push_back(product);
                    ++i;
                } else {
                    merged.push_back(symbols[i]);
                }
            }
            symbols = std::move(merged);
        }
    }
    vocabulary.tokens.emplace_back(kBos);
    vocabulary.tokens.emplace_back(kEos);
    return vocabulary;
}

void writeClipTokenizerFolder(const std::filesystem::path& folder, const BpeVocabulary& vocabulary, int maxLength)
{
    if (maxLength < 3)
        throw Error("a tokenizer needs a maximum length of at least 3 (BOS, one token, EOS)");
    std::filesystem::create_directories(folder);
    nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
    for (std::size_t id = 0; id < vocabulary.tokens.size(); ++id)
        vocab[vocabulary.tokens[id]] = id;
    std::string merges = "#version: 0.2\n";
    for (const auto& [left, right] : vocabulary.merges)
        merges += left + " " + right + "\n";
    const nlohmann::ordered_json special
        = { { "bos_token", kBos }, { "eos_token", kEos }, { "pad_token", kEos }, { "unk_token", kEos } };
    nlohmann::ordered_json config = special;
    config["model_max_length"] = maxLength;
    config["do_lower_case"] = true;
    config["tokenizer_class"] = "CLIPTokenizer";
    io::writeFileAtomically(folder / "vocab.json", vocab.dump() + "\n");
    io::writeFileAtomically(folder / "merges.txt", merges);
    io::writeFileAtomically(folder / "special_tokens_map.json", io::jsonText(special, 2));
    io::writeFileAtomically(folder / "tokenizer_config.json", io::jsonText(config, 2));
}

} // namespace lethe::models::sd
