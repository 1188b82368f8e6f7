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
#include <limits>
#include <locale.h>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <wctype.h>

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

// ---- Text clean-up ----------------------------------------------------------------------------------------

/// Python's str.isspace().
bool isSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// Named character references. Python's html.unescape knows all of HTML5's; these are the ones that turn up in
/// prompts scraped from web pages. `legacy` names are also recognised without the closing semicolon.
struct NamedReference {
    const char* name;
    char32_t value;
    bool legacy;
};
constexpr std::array<NamedReference, 33> kNamedReferences { {
    { "amp", U'&', true },
    { "AMP", U'&', true },
    { "lt", U'<', true },
    { "LT", U'<', true },
    { "gt", U'>', true },
    { "GT", U'>', true },
    { "quot", U'"', true },
    { "QUOT", U'"', true },
    { "apos", U'\'', false },
    { "nbsp", 0xA0, true },
    { "copy", 0xA9, true },
    { "COPY", 0xA9, true },
    { "reg", 0xAE, true },
    { "REG", 0xAE, true },
    { "deg", 0xB0, true },
    { "laquo", 0xAB, true },
    { "raquo", 0xBB, true },
    { "middot", 0xB7, true },
    { "times", 0xD7, true },
    { "eacute", 0xE9, true },
    { "egrave", 0xE8, true },
    { "uuml", 0xFC, true },
    { "ouml", 0xF6, true },
    { "auml", 0xE4, true },
    { "szlig", 0xDF, true },
    { "ndash", 0x2013, false },
    { "mdash", 0x2014, false },
    { "lsquo", 0x2018, false },
    { "rsquo", 0x2019, false },
    { "ldquo", 0x201C, false },
    { "rdquo", 0x201D, false },
    { "hellip", 0x2026, false },
    { "trade", 0x2122, false },
} };

std::optional<char32_t> namedReference(const std::u32string& name, bool semicolon)
{
    for (const NamedReference& reference : kNamedReferences) {
        if (!semicolon && !reference.legacy)
            continue;
        const std::string_view candidate(reference.name);
        if (candidate.size() == name.size() && std::equal(candidate.begin(), candidate.end(), name.begin()))
            return reference.value;
    }
    return std::nullopt;
}

/// What Python's html.unescape returns for a numeric reference: Windows-1252 for the C1 range, U+FFFD for
/// surrogates and values beyond Unicode, nothing for other code points HTML forbids.
std::u32string numericReference(char32_t value)
{
    static constexpr std::array<char32_t, 32> kWindows1252 { 0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020,
        0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D,
        0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178 };
    if (value == 0)
        return U"\uFFFD";
    if (value == 0x0D)
        return U"\r";
    if (value >= 0x80 && value <= 0x9F)
        return std::u32string(1, kWindows1252[value - 0x80]);
    if ((value >= 0xD800 && value <= 0xDFFF) || value > 0x10FFFF)
        return U"\uFFFD";
    if ((value >= 0x01 && value <= 0x08) || value == 0x0B || (value >= 0x0E && value <= 0x1F) || value == 0x7F
        || (value >= 0xFDD0 && value <= 0xFDEF) || (value & 0xFFFE) == 0xFFFE)
        return U"";
    return std::u32string(1, value);
}

bool isDigit(char32_t c, int base)
{
    if (c >= U'0' && c <= U'9')
        return true;
    return base == 16 && ((c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F'));
}

int digitValue(char32_t c)
{
    if (c >= U'0' && c <= U'9')
        return static_cast<int>(c - U'0');
    return static_cast<int>((c | 0x20) - U'a') + 10;
}

/// Python's html.unescape (for the named references above).
std::u32string htmlUnescape(const std::u32string& text)
{
    std::u32string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] != U'&') {
            out.push_back(text[i++]);
            continue;
        }
        std::size_t j = i + 1;
        if (j < text.size() && text[j] == U'#') {
            int base = 10;
            std::size_t digits = j + 1;
            if (digits < text.size() && (text[digits] == U'x' || text[digits] == U'X')) {
                base = 16;
                ++digits;
            }
            std::size_t end = digits;
            char32_t value = 0;
            while (end < text.size() && isDigit(text[end], base)) {
                value = std::min<char32_t>(value * base + digitValue(text[end]), 0x110000);
                ++end;
            }
            if (end == digits) {
                out.push_back(text[i++]);
                continue;
            }
            if (end < text.size() && text[end] == U';')
                ++end;
            out += numericReference(value);
            i = end;
            continue;
        }
        std::size_t end = j;
        while (end < text.size() && end - j < 32
            && std::u32string_view(U"\t\n\f <&#;").find(text[end]) == std::u32string_view::npos)
            ++end;
        if (end == j) {
            out.push_back(text[i++]);
            continue;
        }
        const bool semicolon = end < text.size() && text[end] == U';';
        const std::u32string name = text.substr(j, end - j);
        if (const auto value = namedReference(name, semicolon)) {
            out.push_back(*value);
            i = end + (semicolon ? 1 : 0);
            continue;
        }
        // The longest legacy name that starts the text, as the standard defines it.
        bool found = false;
        for (std::size_t length = name.size() - (semicolon ? 0 : 1); length >= 2 && length <= name.size(); --length) {
            if (const auto value = namedReference(name.substr(0, length), false)) {
                out.push_back(*value);
                i = j + length;
                found = true;
                break;
            }
        }
        if (!found)
            out.push_back(text[i++]);
    }
    return out;
}

/// Collapses runs of whitespace into one space and strips both ends.
std::u32string collapseWhitespace(const std::u32string& text)
{
    std::u32string out;
    out.reserve(text.size());
    bool pendingSpace = false;
    for (const char32_t c : text) {
        if (isSpace(c)) {
            pendingSpace = !out.empty();
            continue;
        }
        if (pendingSpace)
            out.push_back(U' ');
        pendingSpace = false;
        out.push_back(c);
    }
    return out;
}

/// A UTF-8 C library locale for towlower_l, or null when the system has none.
locale_t unicodeLocale()
{
    static const locale_t locale = [] {
        for (const char* name : { "C.UTF-8", "C.utf8", "en_US.UTF-8", "en_US.utf8" })
            if (locale_t found = newlocale(LC_CTYPE_MASK, name, static_cast<locale_t>(nullptr)))
                return found;
        return static_cast<locale_t>(nullptr);
    }();
    return locale;
}

/// Python's str.lower() through the C library's Unicode case map (single code points; U+0130 as Python has it).
std::u32string lowerCase(const std::u32string& text)
{
    const locale_t locale = unicodeLocale();
    std::u32string out;
    out.reserve(text.size());
    for (const char32_t c : text) {
        if (c == 0x130) {
            out += U"i\u0307";
        } else if (c < 0x80 || !locale) {
            // Without a UTF-8 locale only ASCII and Latin-1 letters are lowered.
            const bool upper = (c >= U'A' && c <= U'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
            out.push_back(upper ? c + 0x20 : c);
        } else {
            out.push_back(static_cast<char32_t>(towlower_l(static_cast<wint_t>(c), locale)));
        }
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
    // OpenAI's basic_clean unescapes twice ("&amp;amp;" → "&"); then whitespace_clean and lower().
    const std::string clean = encodeUtf8(lowerCase(collapseWhitespace(htmlUnescape(htmlUnescape(decodeUtf8(text))))));

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

std::string byteLevelSpelling(const std::string& bytes)
{
    static const std::array<char32_t, 256> map = byteCharacters();
    std::string out;
    for (const char byte : bytes)
        appendUtf8(out, map[static_cast<unsigned char>(byte)]);
    return out;
}

} // namespace lethe::models::sd
