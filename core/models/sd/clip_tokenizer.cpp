#include "clip_tokenizer.h"

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_fields.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace lethe::models::sd {

using nlohmann::json;

namespace {

constexpr int kDefaultMaxLength = 77;
constexpr std::int64_t kMaxMaxLength = 65536;
// OpenAI's and transformers' CLIP read at most this many merges (49152 - 256 - 2) from merges.txt.
constexpr std::size_t kMaxMerges = 48894;
// Bounds the BPE cache; prompts rarely hold more than a few thousand distinct words.
constexpr std::size_t kMaxCacheEntries = 200000;
constexpr char32_t kReplacement = 0xFFFD;
const char* const kStartOfText = "<|startoftext|>";
const char* const kEndOfText = "<|endoftext|>";
const char* const kWordEnd = "</w>";
const char* const kPattern
    = R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

// ---- UTF-8 ------------------------------------------------------------------------------------------------

void appendUtf8(std::string& out, char32_t c)
{
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

std::string encodeUtf8(const std::u32string& text)
{
    std::string out;
    out.reserve(text.size());
    for (const char32_t c : text)
        appendUtf8(out, c);
    return out;
}

/// Decodes UTF-8, replacing each maximal invalid subpart by U+FFFD as Python's errors="replace" does.
std::u32string decodeUtf8(const std::string& text)
{
    std::u32string out;
    out.reserve(text.size());
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    std::size_t i = 0;
    while (i < text.size()) {
        const unsigned char lead = byte(i);
        if (lead < 0x80) {
            out.push_back(lead);
            ++i;
            continue;
        }
        int length = 0;
        char32_t c = 0;
        unsigned char low = 0x80;
        unsigned char high = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2;
            c = lead & 0x1F;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3;
            c = lead & 0x0F;
            low = lead == 0xE0 ? 0xA0 : 0x80;
            high = lead == 0xED ? 0x9F : 0xBF;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4;
            c = lead & 0x07;
            low = lead == 0xF0 ? 0x90 : 0x80;
            high = lead == 0xF4 ? 0x8F : 0xBF;
        } else {
            out.push_back(kReplacement);
            ++i;
            continue;
        }
        int valid = 1;
        for (; valid < length && i + valid < text.size(); ++valid) {
            const unsigned char next = byte(i + valid);
            if (next < (valid == 1 ? low : 0x80) || next > (valid == 1 ? high : 0xBF))
                break;
            c = (c << 6) | (next & 0x3F);
        }
        if (valid == length) {
            out.push_back(c);
            i += length;
        } else {
            out.push_back(kReplacement);
            i += valid;
        }
    }
    return out;
}

// ---- Unicode tables -----------------------------------------------------------------------------------------

struct CodeRange {
    char32_t first;
    char32_t last;
};
struct CodeMapping {
    char32_t from;
    char32_t to;
};
struct ValuedRange {
    char32_t first;
    char32_t last;
    int value;
};
/// A canonical decomposition (code point, first, second or 0) or a composition (first, second, composite).
struct CodePair {
    char32_t a;
    char32_t b;
    char32_t c;
};

// Generated from Python's unicodedata by scripts/generate-clip-unicode-tables.py (the command is in its header).
#include "clip_unicode_tables.inc"

template <typename Row, std::size_t N> const Row* rangeOf(const Row (&table)[N], char32_t c)
{
    const Row* end = table + N;
    const Row* after
        = std::upper_bound(table, end, c, [](char32_t value, const Row& row) { return value < row.first; });
    if (after == table || c > (after - 1)->last)
        return nullptr;
    return after - 1;
}

/// Unicode general category C* (Cc, Cf, Cs, Co, Cn): what transformers' _is_control drops, tab and newlines aside.
bool isOther(char32_t c)
{
    return rangeOf(kOtherRanges, c) != nullptr;
}

/// General category Zs, which transformers' _is_whitespace turns into a space.
bool isSpaceSeparator(char32_t c)
{
    return rangeOf(kSpaceSeparatorRanges, c) != nullptr;
}

int combiningClass(char32_t c)
{
    const ValuedRange* row = rangeOf(kCombiningClasses, c);
    return row ? row->value : 0;
}

/// Python's str.isspace(), which str.split() splits on.
bool isSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// ---- NFC (Unicode Standard Annex #15) -----------------------------------------------------------------------

constexpr char32_t kHangulBase = 0xAC00;
constexpr char32_t kLeadBase = 0x1100;
constexpr char32_t kVowelBase = 0x1161;
constexpr char32_t kTrailBase = 0x11A7;
constexpr char32_t kLeadCount = 19;
constexpr char32_t kVowelCount = 21;
constexpr char32_t kTrailCount = 28;
constexpr char32_t kSyllableCount = kLeadCount * kVowelCount * kTrailCount;

void decomposeInto(std::u32string& out, char32_t c)
{
    if (c >= kHangulBase && c < kHangulBase + kSyllableCount) {
        const char32_t index = c - kHangulBase;
        out.push_back(kLeadBase + index / (kVowelCount * kTrailCount));
        out.push_back(kVowelBase + (index % (kVowelCount * kTrailCount)) / kTrailCount);
        if (index % kTrailCount != 0)
            out.push_back(kTrailBase + index % kTrailCount);
        return;
    }
    const CodePair* end = std::end(kDecompositions);
    const CodePair* found = std::lower_bound(
        std::begin(kDecompositions), end, c, [](const CodePair& row, char32_t value) { return row.a < value; });
    if (found == end || found->a != c) {
        out.push_back(c);
        return;
    }
    decomposeInto(out, found->b);
    if (found->c != 0)
        decomposeInto(out, found->c);
}

/// The primary composite of `first` and `second`, or 0.
char32_t composePair(char32_t first, char32_t second)
{
    if (first >= kLeadBase && first < kLeadBase + kLeadCount && second >= kVowelBase
        && second < kVowelBase + kVowelCount)
        return kHangulBase + ((first - kLeadBase) * kVowelCount + (second - kVowelBase)) * kTrailCount;
    if (first >= kHangulBase && first < kHangulBase + kSyllableCount && (first - kHangulBase) % kTrailCount == 0
        && second > kTrailBase && second < kTrailBase + kTrailCount)
        return first + (second - kTrailBase);
    const CodePair* end = std::end(kCompositions);
    const CodePair* found = std::lower_bound(std::begin(kCompositions), end, std::make_pair(first, second),
        [](const CodePair& row, const std::pair<char32_t, char32_t>& key) {
            return std::make_pair(row.a, row.b) < key;
        });
    return found != end && found->a == first && found->b == second ? found->c : 0;
}

/// Python's unicodedata.normalize("NFC", text): canonical decomposition, canonical ordering, composition.
std::u32string nfc(const std::u32string& text)
{
    std::u32string decomposed;
    decomposed.reserve(text.size());
    for (const char32_t c : text)
        decomposeInto(decomposed, c);
    // Canonical ordering: each run of non-starters sorted stably by combining class.
    for (std::size_t i = 0; i < decomposed.size();) {
        if (combiningClass(decomposed[i]) == 0) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < decomposed.size() && combiningClass(decomposed[end]) != 0)
            ++end;
        std::stable_sort(decomposed.begin() + static_cast<std::ptrdiff_t>(i),
            decomposed.begin() + static_cast<std::ptrdiff_t>(end),
            [](char32_t a, char32_t b) { return combiningClass(a) < combiningClass(b); });
        i = end;
    }
    if (decomposed.empty())
        return decomposed;
    // Composition: each character joins the last starter unless a character of the same or a higher class, or a
    // starter, stands between them. A text that starts with a non-starter has no starter to join until one comes.
    std::size_t starter = 0;
    int lastClass = combiningClass(decomposed[0]) == 0 ? 0 : 256;
    std::size_t kept = 1;
    for (std::size_t i = 1; i < decomposed.size(); ++i) {
        const char32_t c = decomposed[i];
        const int cClass = combiningClass(c);
        const char32_t composite = lastClass == 256 ? 0 : composePair(decomposed[starter], c);
        if (composite != 0 && (lastClass < cClass || lastClass == 0)) {
            decomposed[starter] = composite;
            continue;
        }
        if (cClass == 0)
            starter = kept;
        lastClass = cClass;
        decomposed[kept++] = c;
    }
    decomposed.resize(kept);
    return decomposed;
}

// ---- Lower case ---------------------------------------------------------------------------------------------

/// How str.lower() sees a code point around a capital sigma: cased, case-ignorable (skipped), or neither.
enum class SigmaContext { Neither, Cased, Ignorable };

SigmaContext sigmaContext(char32_t c)
{
    if (rangeOf(kCasedRanges, c))
        return SigmaContext::Cased;
    if (rangeOf(kCaseIgnorableRanges, c))
        return SigmaContext::Ignorable;
    return SigmaContext::Neither;
}

/// Python's Final_Sigma rule: Σ at `at` lowers to ς after a cased letter and not before one (case-ignorable
/// characters skipped on both sides).
bool isFinalSigma(const std::u32string& word, std::size_t at)
{
    std::size_t j = at;
    while (j > 0 && sigmaContext(word[j - 1]) == SigmaContext::Ignorable)
        --j;
    if (j == 0 || sigmaContext(word[j - 1]) != SigmaContext::Cased)
        return false;
    std::size_t k = at + 1;
    while (k < word.size() && sigmaContext(word[k]) == SigmaContext::Ignorable)
        ++k;
    return k == word.size() || sigmaContext(word[k]) != SigmaContext::Cased;
}

/// Python's str.lower(): the simple lower-case mapping, U+0130 to "i̇" and the Final_Sigma rule.
std::u32string lowerCase(const std::u32string& word)
{
    std::u32string out;
    out.reserve(word.size());
    for (std::size_t i = 0; i < word.size(); ++i) {
        const char32_t c = word[i];
        if (c == 0x130) {
            out += U"i\u0307";
            continue;
        }
        if (c == 0x3A3) {
            out.push_back(isFinalSigma(word, i) ? 0x3C2 : 0x3C3);
            continue;
        }
        const CodeMapping* end = std::end(kLowercase);
        const CodeMapping* found = std::lower_bound(
            std::begin(kLowercase), end, c, [](const CodeMapping& row, char32_t value) { return row.from < value; });
        out.push_back(found != end && found->from == c ? found->to : c);
    }
    return out;
}

// ---- Text clean-up ------------------------------------------------------------------------------------------

/// transformers' BasicTokenizer._is_chinese_char: the CJK Unified Ideographs blocks it names, no others.
bool isCjkIdeograph(char32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
        || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF)
        || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/// What CLIPTokenizer._tokenize makes of a prompt before its pattern when ftfy is absent: BasicTokenizer with
/// strip_accents=False and do_split_on_punc=False, its words joined by single spaces.
std::u32string cleanText(const std::u32string& text)
{
    // _clean_text: NUL, U+FFFD and category C* go (tab, newline and carriage return aside); those three and Zs
    // become spaces. Then _tokenize_chinese_chars puts spaces around each CJK ideograph.
    std::u32string spaced;
    spaced.reserve(text.size());
    for (const char32_t c : text) {
        if (c == U'\t' || c == U'\n' || c == U'\r' || c == U' ' || isSpaceSeparator(c)) {
            spaced.push_back(U' ');
        } else if (c == 0 || c == kReplacement || isOther(c)) {
            continue;
        } else if (isCjkIdeograph(c)) {
            spaced.push_back(U' ');
            spaced.push_back(c);
            spaced.push_back(U' ');
        } else {
            spaced.push_back(c);
        }
    }
    // NFC, then str.split() (which also splits at U+2028 and U+2029, left in place above), each word lower-cased.
    const std::u32string normalized = nfc(spaced);
    std::u32string out;
    out.reserve(normalized.size());
    for (std::size_t i = 0; i < normalized.size();) {
        while (i < normalized.size() && isSpace(normalized[i]))
            ++i;
        std::size_t end = i;
        while (end < normalized.size() && !isSpace(normalized[end]))
            ++end;
        if (end > i) {
            if (!out.empty())
                out.push_back(U' ');
            out += lowerCase(normalized.substr(i, end - i));
        }
        i = end;
    }
    return out;
}

// ---- GPT-2's byte map ---------------------------------------------------------------------------------------

/// bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the others for U+0100 onwards.
std::array<char32_t, 256> byteCharacters()
{
    std::array<char32_t, 256> map {};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        map[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return map;
}

// ---- Files --------------------------------------------------------------------------------------------------

std::filesystem::path requireFile(const std::filesystem::path& folder, const std::string& name)
{
    std::filesystem::path path = folder / name;
    if (!std::filesystem::is_regular_file(path))
        throw FormatError(folder.string(), name, "file not found (a tokenizer folder holds vocab.json and merges.txt)");
    return path;
}

/// A special token's text under `key`: a string, or an object with "content" (transformers' AddedToken).
std::optional<std::string> specialToken(const json& object, const std::string& file, const std::string& key)
{
    const io::JsonFields fields(object, file);
    if (!fields.has(key))
        return std::nullopt;
    const json& value = object.at(key);
    if (value.is_object())
        return io::JsonFields(value, file + ": key '" + key + "'").require<std::string>("content");
    return fields.require<std::string>(key);
}

std::vector<std::string> splitWhitespace(const std::string& line)
{
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])))
            ++i;
        std::size_t end = i;
        while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end])))
            ++end;
        if (end > i)
            parts.push_back(line.substr(i, end - i));
        i = end;
    }
    return parts;
}

struct PatternDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct MatchDataDeleter {
    void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

} // namespace

struct ClipTokenizer::State {
    std::unordered_map<std::string, std::int64_t> encoder;
    std::unordered_map<std::int64_t, std::string> decoder;
    /// "first second" → rank.
    std::unordered_map<std::string, std::size_t> ranks;
    std::array<std::string, 256> byteSymbols;
    std::unordered_map<char32_t, unsigned char> symbolBytes;
    std::unique_ptr<pcre2_code, PatternDeleter> pattern;
    std::int64_t bos = 0;
    std::int64_t eos = 0;
    std::int64_t pad = 0;
    std::int64_t unk = 0;
    int maxLength = kDefaultMaxLength;

    mutable std::mutex cacheMutex;
    mutable std::unordered_map<std::string, std::vector<std::int64_t>> cache;

    std::int64_t idOf(const std::string& token) const
    {
        const auto found = encoder.find(token);
        return found == encoder.end() ? unk : found->second;
    }

    /// The ids of one byte-mapped word, merged pair by pair in rank order.
    std::vector<std::int64_t> bpe(const std::string& word) const
    {
        {
            const std::lock_guard<std::mutex> lock(cacheMutex);
            const auto cached = cache.find(word);
            if (cached != cache.end())
                return cached->second;
        }
        std::vector<std::string> symbols;
        for (const char32_t c : decodeUtf8(word)) {
            symbols.emplace_back();
            appendUtf8(symbols.back(), c);
        }
        if (symbols.empty())
            return {};
        symbols.back() += kWordEnd;
        while (symbols.size() > 1) {
            std::size_t bestRank = std::numeric_limits<std::size_t>::max();
            std::string best;
            for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
                const std::string pair = symbols[i] + ' ' + symbols[i + 1];
                const auto rank = ranks.find(pair);
                if (rank != ranks.end() && rank->second < bestRank) {
                    bestRank = rank->second;
                    best = pair;
                }
            }
            if (best.empty())
                break;
            std::vector<std::string> merged;
            merged.reserve(symbols.size());
            for (std::size_t i = 0; i < symbols.size(); ++i) {
                if (i + 1 < symbols.size() && symbols[i] + ' ' + symbols[i + 1] == best) {
                    merged.push_back(symbols[i] + symbols[i + 1]);
                    ++i;
                } else {
                    merged.push_back(symbols[i]);
                }
            }
            symbols = std::move(merged);
        }
        std::vector<std::int64_t> ids;
        ids.reserve(symbols.size());
        for (const std::string& symbol : symbols)
            ids.push_back(idOf(symbol));
        const std::lock_guard<std::mutex> lock(cacheMutex);
        if (cache.size() >= kMaxCacheEntries)
            cache.clear();
        cache.emplace(word, ids);
        return ids;
    }
};

ClipTokenizer::ClipTokenizer(const std::filesystem::path& folder)
    : m_state(std::make_unique<State>())
{
    State& s = *m_state;
    const std::filesystem::path vocabPath = requireFile(folder, "vocab.json");
    const std::filesystem::path mergesPath = requireFile(folder, "merges.txt");

    const json vocab = io::readJsonObjectFile(vocabPath);
    const io::JsonFields vocabFields(vocab, vocabPath.string());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
        if (it->is_null())
            vocabFields.fail(it.key(), "expected an integer, found null");
        const auto id = vocabFields.require<std::int64_t>(it.key());
        if (id < 0)
            vocabFields.fail(it.key(), "expected a non-negative id, found " + std::to_string(id));
        s.encoder[it.key()] = id;
        s.decoder[id] = it.key();
    }

    const std::string merges = io::readFile(mergesPath);
    std::size_t lineStart = 0;
    int lineNumber = 0;
    bool first = true;
    while (lineStart < merges.size() && s.ranks.size() < kMaxMerges) {
        std::size_t lineEnd = merges.find('\n', lineStart);
        if (lineEnd == std::string::npos)
            lineEnd = merges.size();
        const std::string line = merges.substr(lineStart, lineEnd - lineStart);
        lineStart = lineEnd + 1;
        ++lineNumber;
        const std::vector<std::string> parts = splitWhitespace(line);
        if (parts.empty())
            continue;
        const bool header = first && line.rfind("#version", 0) == 0;
        first = false;
        if (header)
            continue;
        if (parts.size() != 2) {
            std::string shown = line.size() > 60 ? line.substr(0, 57) + "..." : line;
            if (!shown.empty() && shown.back() == '\r')
                shown.pop_back();
            throw FormatError(mergesPath.string(), "line " + std::to_string(lineNumber),
                "expected two symbols separated by a space, found \"" + shown + "\"");
        }
        s.ranks.emplace(parts[0] + ' ' + parts[1], s.ranks.size());
    }

    // Special tokens: special_tokens_map.json, then tokenizer_config.json, then CLIPTokenizer's defaults.
    std::map<std::string, std::string> tokens { { "bos_token", kStartOfText }, { "eos_token", kEndOfText },
        { "unk_token", kEndOfText }, { "pad_token", kEndOfText } };
    std::map<std::string, std::string> tokenFiles;
    for (const char* name : { "tokenizer_config.json", "special_tokens_map.json" }) {
        const std::filesystem::path path = folder / name;
        if (!std::filesystem::is_regular_file(path))
            continue;
        const json object = io::readJsonObjectFile(path);
        for (auto& [key, text] : tokens)
            if (auto found = specialToken(object, path.string(), key)) {
                text = *found;
                tokenFiles[key] = path.string();
            }
        if (std::string(name) == "tokenizer_config.json") {
            const io::JsonFields fields(object, path.string());
            const auto length = fields.get<std::int64_t>("model_max_length", kDefaultMaxLength);
            if (length < 3 || length > kMaxMaxLength)
                fields.fail("model_max_length",
                    "expected an integer from 3 to " + std::to_string(kMaxMaxLength) + ", found "
                        + std::to_string(length));
            s.maxLength = static_cast<int>(length);
        }
    }
    const auto special = [&](const std::string& key) {
        const std::string& text = tokens.at(key);
        const auto found = s.encoder.find(text);
        if (found == s.encoder.end()) {
            const auto file = tokenFiles.find(key);
            throw FormatError(vocabPath.string(), key + " '" + text + "'",
                "not in the vocabulary"
                    + (file == tokenFiles.end() ? std::string(" (CLIP's default)")
                                                : " (named in " + file->second + ")"));
        }
        return found->second;
    };
    s.bos = special("bos_token");
    s.eos = special("eos_token");
    s.unk = special("unk_token");
    s.pad = special("pad_token");

    const std::array<char32_t, 256> characters = byteCharacters();
    for (std::size_t b = 0; b < 256; ++b) {
        appendUtf8(s.byteSymbols[b], characters[b]);
        s.symbolBytes[characters[b]] = static_cast<unsigned char>(b);
    }
    // CLIP's BPE leaves its two markers whole, without "</w>".
    for (const char* marker : { kStartOfText, kEndOfText })
        s.cache[marker] = { s.idOf(marker) };

    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    s.pattern.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kPattern), PCRE2_ZERO_TERMINATED,
        PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &errorCode, &errorOffset, nullptr));
    if (!s.pattern) {
        std::array<PCRE2_UCHAR, 256> message {};
        pcre2_get_error_message(errorCode, message.data(), message.size());
        throw Error("CLIP's pre-tokenising pattern does not compile at offset " + std::to_string(errorOffset) + ": "
            + reinterpret_cast<const char*>(message.data()));
    }
}

ClipTokenizer::~ClipTokenizer() = default;
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;

ClipTokens ClipTokenizer::encode(const std::string& text) const
{
    const State& s = *m_state;
    const std::string clean = cleanPromptText(text);

    std::vector<std::int64_t> tokens;
    const std::unique_ptr<pcre2_match_data, MatchDataDeleter> match(
        pcre2_match_data_create_from_pattern(s.pattern.get(), nullptr));
    PCRE2_SIZE offset = 0;
    while (offset < clean.size()) {
        const int rc = pcre2_match(
            s.pattern.get(), reinterpret_cast<PCRE2_SPTR>(clean.data()), clean.size(), offset, 0, match.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            throw Error("CLIP tokenizer: PCRE2 matching failed with code " + std::to_string(rc));
        const PCRE2_SIZE* range = pcre2_get_ovector_pointer(match.get());
        std::string mapped;
        for (PCRE2_SIZE i = range[0]; i < range[1]; ++i)
            mapped += s.byteSymbols[static_cast<unsigned char>(clean[i])];
        const std::vector<std::int64_t> ids = s.bpe(mapped);
        tokens.insert(tokens.end(), ids.begin(), ids.end());
        offset = std::max(range[1], range[0] + 1);
    }

    ClipTokens result;
    const std::size_t room = static_cast<std::size_t>(s.maxLength) - 2;
    result.truncated = tokens.size() > room;
    if (result.truncated)
        tokens.resize(room);
    result.ids.reserve(static_cast<std::size_t>(s.maxLength));
    result.ids.push_back(s.bos);
    result.ids.insert(result.ids.end(), tokens.begin(), tokens.end());
    result.ids.push_back(s.eos);
    result.length = static_cast<int>(result.ids.size());
    result.ids.resize(static_cast<std::size_t>(s.maxLength), s.pad);
    return result;
}

torch::Tensor ClipTokenizer::encodeBatch(const std::vector<std::string>& texts) const
{
    torch::Tensor batch = torch::empty(
        { static_cast<std::int64_t>(texts.size()), static_cast<std::int64_t>(m_state->maxLength) }, torch::kInt64);
    auto rows = batch.accessor<std::int64_t, 2>();
    for (std::size_t n = 0; n < texts.size(); ++n) {
        const ClipTokens tokens = encode(texts[n]);
        for (std::size_t i = 0; i < tokens.ids.size(); ++i)
            rows[static_cast<std::int64_t>(n)][static_cast<std::int64_t>(i)] = tokens.ids[i];
    }
    return batch;
}

std::string ClipTokenizer::decode(const std::vector<std::int64_t>& ids) const
{
    const State& s = *m_state;
    std::string bytes;
    for (const std::int64_t id : ids) {
        if (id == s.bos || id == s.eos || id == s.pad || id == s.unk)
            continue;
        const auto found = s.decoder.find(id);
        if (found == s.decoder.end())
            throw Error("CLIP tokenizer: token id " + std::to_string(id) + " is not in the vocabulary");
        for (const char32_t c : decodeUtf8(found->second)) {
            const auto byte = s.symbolBytes.find(c);
            if (byte != s.symbolBytes.end())
                bytes.push_back(static_cast<char>(byte->second));
            else
                appendUtf8(bytes, c);
        }
    }
    std::string text = encodeUtf8(decodeUtf8(bytes));
    std::string spaced;
    spaced.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (text.compare(i, 4, kWordEnd) == 0) {
            spaced.push_back(' ');
            i += 4;
        } else {
            spaced.push_back(text[i++]);
        }
    }
    std::u32string wide = decodeUtf8(spaced);
    std::size_t begin = 0;
    std::size_t end = wide.size();
    while (begin < end && isSpace(wide[begin]))
        ++begin;
    while (end > begin && isSpace(wide[end - 1]))
        --end;
    return encodeUtf8(wide.substr(begin, end - begin));
}

std::int64_t ClipTokenizer::tokenId(const std::string& token) const
{
    const auto found = m_state->encoder.find(token);
    return found == m_state->encoder.end() ? -1 : found->second;
}

std::int64_t ClipTokenizer::vocabSize() const
{
    return static_cast<std::int64_t>(m_state->encoder.size());
}

std::int64_t ClipTokenizer::bosId() const
{
    return m_state->bos;
}

std::int64_t ClipTokenizer::eosId() const
{
    return m_state->eos;
}

std::int64_t ClipTokenizer::padId() const
{
    return m_state->pad;
}

std::int64_t ClipTokenizer::unkId() const
{
    return m_state->unk;
}

int ClipTokenizer::maxLength() const
{
    return m_state->maxLength;
}

std::string cleanPromptText(const std::string& text)
{
    return encodeUtf8(cleanText(decodeUtf8(text)));
}

const char* cleanPromptUnicodeVersion()
{
    return kUnicodeVersion;
}

std::string byteLevelSpelling(const std::string& bytes)
{
    static const std::array<char32_t, 256> map = byteCharacters();
    std::string out;
    for (const char byte : bytes)
        appendUtf8(out, map[static_cast<unsigned char>(byte)]);
    return out;
}

} // namespace lethe::models::sd
