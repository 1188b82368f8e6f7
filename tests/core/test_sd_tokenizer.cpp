// Stable Diffusion 1.x text side: CLIP's tokenizer on a synthetic vocabulary (byte-level BPE, special tokens,
// truncation and padding, decoding) and the messages of broken tokenizer folders.
#include "core/error.h"
#include "core/models/sd/clip_tokenizer.h"
#include "test_support.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <atomic>
#include <map>
#include <thread>

using namespace lethe;
using namespace lethe::test;
using nlohmann::json;

namespace {

/// GPT-2's bytes_to_unicode, written out again so that the tokenizer's copy is checked against it.
std::string byteMapped(const std::string& utf8)
{
    std::string out;
    for (const char ch : utf8) {
        const int byte = static_cast<unsigned char>(ch);
        int shifted = 256;
        int codePoint = -1;
        for (int b = 0; b < 256; ++b) {
            const bool kept = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            const int mapped = kept ? b : shifted++;
            if (b == byte)
                codePoint = mapped;
        }
        if (codePoint < 0x80) {
            out.push_back(static_cast<char>(codePoint));
        } else {
            out.push_back(static_cast<char>(0xC0 | (codePoint >> 6)));
            out.push_back(static_cast<char>(0x80 | (codePoint & 0x3F)));
        }
    }
    return out;
}

/// Merges in rank order, written as text (byte-mapped by the helper); the results are also vocabulary entries.
const std::vector<std::pair<std::string, std::string>> kMerges = {
    { "h", "e" },
    { "l", "l" },
    { "he", "ll" },
    { "hell", "o</w>" },
    { "p", "h" },
    { "ph", "o" },
    { "pho", "t" },
    { "phot", "o</w>" },
    { "c", "a" },
    { "ca", "t</w>" },
    { "o", "f</w>" },
    { "'", "s</w>" },
    { "'", "r" },
    { "'r", "e</w>" },
    { "\xC3", "\xA9" },
    { "\xC3", "\xA9</w>" },
    { "\xC3\xA9", "t" },
    { "\xC3\xA9t", "\xC3\xA9</w>" },
    { "\xC3", "\xBC" },
    { "\xC3\xBC", "b" },
    { "\xC3\xBC"
      "b",
        "e" },
    { "\xC3\xBC"
      "be",
        "r</w>" },
    { "b", "c</w>" },
    { "a", "b" },
    // Its result is left out of the vocabulary: "zz" becomes the unknown token.
    { "z", "z</w>" },
};

/// "x</w>" → byteMapped("x") + "</w>".
std::string mapSymbol(const std::string& symbol)
{
    const std::string end = "</w>";
    if (symbol.size() > end.size() && symbol.compare(symbol.size() - end.size(), end.size(), end) == 0)
        return byteMapped(symbol.substr(0, symbol.size() - end.size())) + end;
    return byteMapped(symbol);
}

/// The synthetic vocabulary: the 256 byte symbols, the same with "</w>", the merge results, then the two markers.
std::map<std::string, std::int64_t> syntheticVocab()
{
    std::map<std::string, std::int64_t> vocab;
    std::int64_t next = 0;
    const auto add = [&](const std::string& token) {
        if (vocab.emplace(token, next).second)
            ++next;
    };
    for (int b = 0; b < 256; ++b)
        add(byteMapped(std::string(1, static_cast<char>(b))));
    for (int b = 0; b < 256; ++b)
        add(byteMapped(std::string(1, static_cast<char>(b))) + "</w>");
    for (const auto& [first, second] : kMerges)
        if (first + second != "zz</w>")
            add(mapSymbol(first + second));
    add("<|startoftext|>");
    add("<|endoftext|>");
    return vocab;
}

std::string mergesText()
{
    std::string text = "#version: 0.2\n";
    for (const auto& [first, second] : kMerges)
        text += mapSymbol(first) + " " + mapSymbol(second) + "\n";
    return text;
}

void writeTokenizer(const std::filesystem::path& dir, const std::map<std::string, std::int64_t>& vocab)
{
    writeBytes(dir / "vocab.json", json(vocab).dump());
    writeBytes(dir / "merges.txt", mergesText());
}

/// The ids of tokens written in plain text ("é</w>" is looked up as its byte-mapped spelling).
std::vector<std::int64_t> idsOf(const std::vector<std::string>& tokens)
{
    static const std::map<std::string, std::int64_t> vocab = syntheticVocab();
    std::vector<std::int64_t> ids;
    for (const std::string& token : tokens) {
        const std::string mapped = token.rfind("<|", 0) == 0 ? token : mapSymbol(token);
        const auto found = vocab.find(mapped);
        if (found == vocab.end())
            throw std::runtime_error("test vocabulary lacks " + token);
        ids.push_back(found->second);
    }
    return ids;
}

QString idText(const std::vector<std::int64_t>& ids)
{
    QStringList parts;
    for (const std::int64_t id : ids)
        parts << QString::number(id);
    return parts.join(QLatin1Char(' '));
}

/// The ids between BOS and EOS.
std::vector<std::int64_t> bodyOf(const models::sd::ClipTokens& tokens)
{
    return std::vector<std::int64_t>(tokens.ids.begin() + 1, tokens.ids.begin() + tokens.length - 1);
}

} // namespace

class TestSdTokenizer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void byteMapMatchesGpt2();
    void cleansPromptText_data();
    void cleansPromptText();
    void encodesPrompts_data();
    void encodesPrompts();
    void mergesFollowRank();
    void truncatesKeepingEos();
    void padsToMaxLength();
    void readsSpecialTokensAndLength();
    void encodesBatches();
    void encodesFromSeveralThreads();
    void decodesAndRoundTrips();
    void tokenizerFailures_data();
    void tokenizerFailures();
};

void TestSdTokenizer::byteMapMatchesGpt2()
{
    // Spot values of GPT-2's table: space is "Ġ" (U+0120), newline "Ċ" (U+010A), 0xAD "Ń" (U+0143).
    LETHE_COMPARE_STR(byteMapped(" "), "\xC4\xA0");
    LETHE_COMPARE_STR(byteMapped("\n"), "\xC4\x8A");
    LETHE_COMPARE_STR(byteMapped("\xAD"), "\xC5\x83");
    LETHE_COMPARE_STR(byteMapped("a~\xA1\xFF"), "a~\xC2\xA1\xC3\xBF");
}

void TestSdTokenizer::cleansPromptText_data()
{
    // The expected texts are what Python 3.11.7 (unicodedata 14.0.0, Debian 12) printed for each input when running
    // the steps transformers' CLIPTokenizer._tokenize takes without ftfy, written out from
    // src/transformers/models/clip/tokenization_clip.py (BasicTokenizer with strip_accents=False and
    // do_split_on_punc=False: _clean_text, _tokenize_chinese_chars, unicodedata.normalize("NFC"), str.split,
    // str.lower, " ".join). transformers itself is not installed here, so its own output could not be taken.
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QByteArray>("expected");
    QTest::newRow("composed accent") << QByteArray("Caf\xC3\x89") << QByteArray("caf\xC3\xA9");
    QTest::newRow("decomposed accent") << QByteArray("Cafe\xCC\x81") << QByteArray("caf\xC3\xA9");
    QTest::newRow("combining marks reordered")
        << QByteArray("a\xCC\x82\xCC\xA3 a\xCC\xA3\xCC\x82") << QByteArray("\xE1\xBA\xAD \xE1\xBA\xAD");
    QTest::newRow("Hangul jamo composed")
        << QByteArray("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8") << QByteArray("\xEA\xB0\x81");
    QTest::newRow("CJK ideographs spaced")
        << QByteArray("\xE4\xB8\x80\xE5\x8F\xAA\xE7\x8C\xAB"
                      "cat \xE3\x81\xAD\xE3\x81\x93 \xEA\xB3\xA0\xEC\x96\x91\xEC\x9D\xB4")
        << QByteArray("\xE4\xB8\x80 \xE5\x8F\xAA \xE7\x8C\xAB cat \xE3\x81\xAD\xE3\x81\x93 "
                      "\xEA\xB3\xA0\xEC\x96\x91\xEC\x9D\xB4");
    QTest::newRow("CJK compatibility ideograph") << QByteArray("\xEF\xA4\x80") << QByteArray("\xE8\xB1\x88");
    QTest::newRow("tab, newlines, ideographic space") << QByteArray("a\x09"
                                                                    "b\x0A"
                                                                    "c\x0D\x0A"
                                                                    "d\xE3\x80\x80"
                                                                    "e\xC2\xA0"
                                                                    "f")
                                                      << QByteArray("a b c d e f");
    QTest::newRow("vertical tab, form feed, NEL dropped") << QByteArray("a\x0B"
                                                                        "b\x0C"
                                                                        "c\xC2\x85"
                                                                        "d")
                                                          << QByteArray("abcd");
    QTest::newRow("line separator splits") << QByteArray("a\xE2\x80\xA8"
                                                         "b")
                                           << QByteArray("a b");
    QTest::newRow("format characters dropped") << QByteArray(
        "ca\xE2\x80\x8Bt soft\xC2\xADhyphen \xEF\xBB\xBFx \xE2\x80\xAE"
        "ab\xE2\x80\xAC") << QByteArray("cat softhyphen x ab");
    QTest::newRow("NUL, U+FFFD, private use dropped") << QByteArray("a\x00"
                                                                    "b\xEF\xBF\xBD"
                                                                    "c\xEE\x80\x80"
                                                                    "d",
        11) << QByteArray("abcd");
    QTest::newRow("HTML entities kept") << QByteArray("&amp;amp; &lt;b&gt; &#39;")
                                        << QByteArray("&amp;amp; &lt;b&gt; &#39;");
    QTest::newRow("full-width kept, lowered")
        << QByteArray("\xEF\xBC\xA3\xEF\xBC\xA1\xEF\xBC\xB4 \xEF\xBC\x91\xEF\xBC\x92")
        << QByteArray("\xEF\xBD\x83\xEF\xBD\x81\xEF\xBD\x94 \xEF\xBC\x91\xEF\xBC\x92");
    QTest::newRow("ligature kept") << QByteArray("\xEF\xAC\x81sh") << QByteArray("\xEF\xAC\x81sh");
    QTest::newRow("emoji, ZWJ dropped, modifier kept")
        << QByteArray("\xF0\x9F\x90\xB1 \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x94\xAC \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD")
        << QByteArray("\xF0\x9F\x90\xB1 \xF0\x9F\x91\xA9\xF0\x9F\x94\xAC \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD");
    QTest::newRow("final sigma") << QByteArray("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x91 \xCE\xA3")
                                 << QByteArray("\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83\xCE\xB1 \xCF\x83");
    QTest::newRow("dotted capital I") << QByteArray("\xC4\xB0stanbul") << QByteArray("i\xCC\x87stanbul");
    QTest::newRow("unassigned in Unicode 14") << QByteArray("a\xF0\x9F\xAB\xA8"
                                                            "b")
                                              << QByteArray("ab");
}

void TestSdTokenizer::cleansPromptText()
{
    QFETCH(QByteArray, input);
    QFETCH(QByteArray, expected);
    QCOMPARE(QByteArray::fromStdString(
                 models::sd::cleanPromptText(std::string(input.constData(), static_cast<std::size_t>(input.size())))),
        expected);
    // The tables are Python 3.11's; the header comment names this version.
    LETHE_COMPARE_STR(std::string(models::sd::cleanPromptUnicodeVersion()), "14.0.0");
}

void TestSdTokenizer::encodesPrompts_data()
{
    QTest::addColumn<QString>("prompt");
    // Bytes, not QStrings: byte-fallback tokens are not UTF-8 on their own.
    QTest::addColumn<QByteArrayList>("tokens");
    const auto list = [](std::initializer_list<const char*> items) {
        QByteArrayList out;
        for (const char* item : items)
            out << QByteArray(item);
        return out;
    };
    QTest::newRow("merges, punctuation, case") << QStringLiteral(
        "Hello, PHOTO of a Cat") << list({ "hello</w>", ",</w>", "photo</w>", "of</w>", "a</w>", "cat</w>" });
    QTest::newRow("apostrophes") << QStringLiteral("cat's they're")
                                 << list({ "cat</w>", "'s</w>", "t", "he", "y</w>", "'re</w>" });
    QTest::newRow("numbers split into digits")
        << QStringLiteral("2024 cats") << list({ "2</w>", "0</w>", "2</w>", "4</w>", "ca", "t", "s</w>" });
    QTest::newRow("accented letters, upper case lowered") << QString::fromUtf8("\xC3\x89t\xC3\xA9 \xC3\x9C"
                                                                               "BER")
                                                          << list({ "\xC3\xA9t\xC3\xA9</w>",
                                                                 "\xC3\xBC"
                                                                 "ber</w>" });
    QTest::newRow("CJK falls back to bytes")
        << QString::fromUtf8("\xE7\x8C\xAB") << list({ "\xE7", "\x8C", "\xAB</w>" });
    QTest::newRow("punctuation runs stay whole, byte fallback")
        << QStringLiteral("cat!!?") << list({ "cat</w>", "!", "!", "?</w>" });
    QTest::newRow("whitespace collapsed and stripped")
        << QString::fromUtf8("\t  CAT\xC2\xA0\xC2\xA0 \n cat \r\n") << list({ "cat</w>", "cat</w>" });
    // Without ftfy transformers leaves HTML entities as they are: "&", "amp", ";", "amp", ";".
    QTest::newRow("HTML entities stay text") << QStringLiteral(
        "a &amp;amp;") << list({ "a</w>", "&</w>", "a", "m", "p</w>", ";</w>", "a", "m", "p</w>", ";</w>" });
    QTest::newRow("decomposed accents composed (NFC)")
        << QString::fromUtf8("E\xCC\x81te\xCC\x81") << list({ "\xC3\xA9t\xC3\xA9</w>" });
    QTest::newRow("zero-width space and soft hyphen dropped")
        << QString::fromUtf8("ca\xE2\x80\x8Bt\xC2\xAD's") << list({ "cat</w>", "'s</w>" });
    QTest::newRow("CJK ideographs are words of their own") << QString::fromUtf8(
        "\xE7\x8C\xAB\xE7\x8C\xAB") << list({ "\xE7", "\x8C", "\xAB</w>", "\xE7", "\x8C", "\xAB</w>" });
    QTest::newRow("emoji split from letters, byte fallback") << QString::fromUtf8("\xF0\x9F\x90\xB1"
                                                                                  "Cat")
                                                             << list({ "\xF0", "\x9F", "\x90", "\xB1</w>", "cat</w>" });
    QTest::newRow("markers keep their ids")
        << QStringLiteral("a <|EndOfText|> b") << list({ "a</w>", "<|endoftext|>", "b</w>" });
    QTest::newRow("empty") << QStringLiteral(" \t ") << QByteArrayList();
}

void TestSdTokenizer::encodesPrompts()
{
    QFETCH(QString, prompt);
    QFETCH(QByteArrayList, tokens);
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    const models::sd::ClipTokenizer tokenizer(dir.path());

    std::vector<std::string> expectedTokens;
    for (const QByteArray& token : tokens)
        expectedTokens.push_back(token.toStdString());
    const models::sd::ClipTokens encoded = tokenizer.encode(prompt.toStdString());
    QCOMPARE(idText(bodyOf(encoded)), idText(idsOf(expectedTokens)));
    QCOMPARE(encoded.length, static_cast<int>(tokens.size()) + 2);
    QCOMPARE(encoded.ids.front(), tokenizer.bosId());
    QCOMPARE(encoded.ids[static_cast<std::size_t>(encoded.length - 1)], tokenizer.eosId());
    QVERIFY(!encoded.truncated);
    // Encoding again goes through the BPE cache and must agree.
    QCOMPARE(idText(tokenizer.encode(prompt.toStdString()).ids), idText(encoded.ids));
}

void TestSdTokenizer::mergesFollowRank()
{
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    const models::sd::ClipTokenizer tokenizer(dir.path());
    // "b c</w>" ranks before "a b", so "abc" is a + bc, not ab + c.
    QCOMPARE(idText(bodyOf(tokenizer.encode("abc"))), idText(idsOf({ "a", "bc</w>" })));
    QCOMPARE(idText(bodyOf(tokenizer.encode("abd"))), idText(idsOf({ "ab", "d</w>" })));
    // A merge whose result is not in the vocabulary gives the unknown token (CLIP's is <|endoftext|>).
    QCOMPARE(tokenizer.unkId(), tokenizer.eosId());
    QCOMPARE(idText(bodyOf(tokenizer.encode("zz cat"))), idText({ tokenizer.unkId(), idsOf({ "cat</w>" })[0] }));
}

void TestSdTokenizer::truncatesKeepingEos()
{
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    const models::sd::ClipTokenizer tokenizer(dir.path());
    const std::int64_t a = idsOf({ "a</w>" })[0];
    const auto prompt = [](int words) {
        std::string text;
        for (int i = 0; i < words; ++i)
            text += "a ";
        return text;
    };

    const models::sd::ClipTokens fits = tokenizer.encode(prompt(75));
    QVERIFY(!fits.truncated);
    QCOMPARE(fits.length, 77);
    QCOMPARE(fits.ids.back(), tokenizer.eosId());

    for (int words : { 76, 200 }) {
        const models::sd::ClipTokens cut = tokenizer.encode(prompt(words));
        QVERIFY(cut.truncated);
        QCOMPARE(cut.length, 77);
        QCOMPARE(cut.ids.size(), std::size_t { 77 });
        QCOMPARE(cut.ids.front(), tokenizer.bosId());
        QCOMPARE(cut.ids[75], a);
        QCOMPARE(cut.ids.back(), tokenizer.eosId());
    }
}

void TestSdTokenizer::padsToMaxLength()
{
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    const models::sd::ClipTokenizer tokenizer(dir.path());
    QCOMPARE(tokenizer.maxLength(), 77);
    QCOMPARE(tokenizer.padId(), idsOf({ "<|endoftext|>" })[0]);
    QCOMPARE(tokenizer.bosId(), idsOf({ "<|startoftext|>" })[0]);

    const models::sd::ClipTokens cat = tokenizer.encode("cat");
    QCOMPARE(cat.length, 3);
    QCOMPARE(cat.ids.size(), std::size_t { 77 });
    QCOMPARE(cat.ids[1], idsOf({ "cat</w>" })[0]);
    for (std::size_t i = 3; i < cat.ids.size(); ++i)
        QCOMPARE(cat.ids[i], tokenizer.padId());
}

void TestSdTokenizer::readsSpecialTokensAndLength()
{
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    // special_tokens_map.json wins over tokenizer_config.json; AddedToken objects carry "content".
    writeBytes(dir / "tokenizer_config.json",
        R"({"model_max_length": 8, "pad_token": "x", "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>"}})");
    writeBytes(dir / "special_tokens_map.json", R"({"pad_token": {"content": "!", "lstrip": false}})");
    const models::sd::ClipTokenizer tokenizer(dir.path());
    QCOMPARE(tokenizer.maxLength(), 8);
    QCOMPARE(tokenizer.padId(), idsOf({ "!" })[0]);

    const models::sd::ClipTokens encoded = tokenizer.encode("a cat");
    const std::int64_t pad = tokenizer.padId();
    QCOMPARE(idText(encoded.ids),
        idText({ tokenizer.bosId(), idsOf({ "a</w>" })[0], idsOf({ "cat</w>" })[0], tokenizer.eosId(), pad, pad, pad,
            pad }));
    const models::sd::ClipTokens cut = tokenizer.encode("a a a a a a a");
    QVERIFY(cut.truncated);
    QCOMPARE(cut.ids.size(), std::size_t { 8 });
    QCOMPARE(cut.ids.back(), tokenizer.eosId());
}

void TestSdTokenizer::encodesBatches()
{
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    const models::sd::ClipTokenizer tokenizer(dir.path());
    const torch::Tensor batch = tokenizer.encodeBatch({ "a cat", "hello photo" });
    QCOMPARE(batch.scalar_type(), torch::kInt64);
    QCOMPARE(batch.sizes().vec(), (std::vector<std::int64_t> { 2, 77 }));
    for (std::int64_t row = 0; row < 2; ++row) {
        const auto ids = tokenizer.encode(row == 0 ? "a cat" : "hello photo").ids;
        QVERIFY(torch::equal(batch[row], torch::tensor(ids, torch::kInt64)));
    }
}

void TestSdTokenizer::encodesFromSeveralThreads()
{
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    const std::vector<std::string> words = { "a cat", "hello photo", "\xC3\xA9t\xC3\xA9 abc", "they're 42" };
    const auto prompt = [&](std::size_t thread, int i) {
        return words[(thread + static_cast<std::size_t>(i)) % words.size()] + " " + std::to_string(i);
    };
    // Expected ids from a separate tokenizer, one prompt at a time.
    const models::sd::ClipTokenizer single(dir.path());
    std::vector<std::vector<std::vector<std::int64_t>>> expected(4);
    for (std::size_t t = 0; t < 4; ++t)
        for (int i = 0; i < 200; ++i)
            expected[t].push_back(single.encode(prompt(t, i)).ids);

    // The shared tokenizer's BPE cache is filled concurrently.
    const models::sd::ClipTokenizer shared(dir.path());
    std::atomic<int> mismatches { 0 };
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i)
                if (shared.encode(prompt(t, i)).ids != expected[t][static_cast<std::size_t>(i)])
                    ++mismatches;
        });
    for (auto& thread : threads)
        thread.join();
    QCOMPARE(mismatches.load(), 0);
}

void TestSdTokenizer::decodesAndRoundTrips()
{
    ScratchDir dir;
    writeTokenizer(dir.path(), syntheticVocab());
    const models::sd::ClipTokenizer tokenizer(dir.path());
    const std::string prompt = "Hello, PHOTO of a Cat's \xC3\xA9t\xC3\xA9!! \xC3\xBC"
                               "ber \xE7\x8C\xAB 42";
    const models::sd::ClipTokens encoded = tokenizer.encode(prompt);
    // Each word ends in a space, as transformers' CLIPTokenizer.decode gives it; the CJK character is rebuilt
    // from its three byte tokens.
    const std::string decoded = tokenizer.decode(encoded.ids);
    LETHE_COMPARE_STR(decoded,
        "hello , photo of a cat 's \xC3\xA9t\xC3\xA9 !! \xC3\xBC"
        "ber \xE7\x8C\xAB 4 2");
    QCOMPARE(idText(tokenizer.encode(decoded).ids), idText(encoded.ids));

    // A lone continuation byte decodes to U+FFFD.
    LETHE_COMPARE_STR(tokenizer.decode(idsOf({ "\x8C</w>" })), "\xEF\xBF\xBD");
    LETHE_COMPARE_STR(errorMessage([&] {
        tokenizer.decode({ 5, 100000 });
    }),
        "CLIP tokenizer: token id 100000 is not in the vocabulary");
}

void TestSdTokenizer::tokenizerFailures_data()
{
    QTest::addColumn<QString>("vocab");
    QTest::addColumn<QString>("merges");
    QTest::addColumn<QString>("specialTokens");
    QTest::addColumn<QString>("tokenizerConfig");
    QTest::addColumn<QString>("message");

    const QString vocab = QString::fromStdString(json(syntheticVocab()).dump());
    const QString merges = QString::fromStdString(mergesText());
    std::map<std::string, std::int64_t> noBos = syntheticVocab();
    noBos.erase("<|startoftext|>");

    QTest::newRow("no vocab.json")
        << QString() << merges << QString() << QString()
        << "{dir}: vocab.json: file not found (a tokenizer folder holds vocab.json and merges.txt)";
    QTest::newRow("no merges.txt")
        << vocab << QString() << QString() << QString()
        << "{dir}: merges.txt: file not found (a tokenizer folder holds vocab.json and merges.txt)";
    QTest::newRow("vocab not an object") << "[1, 2]" << merges << QString() << QString()
                                         << "{dir}/vocab.json: top level: expected a JSON object, found array";
    QTest::newRow("vocab not JSON") << "{\"a\": 1," << merges << QString() << QString()
                                    << "{dir}/vocab.json: byte 9: invalid JSON";
    QTest::newRow("id not an integer") << R"({"a": 1, "b": "x"})" << merges << QString() << QString()
                                       << "{dir}/vocab.json: key 'b': expected an integer, found \"x\"";
    QTest::newRow("id fractional") << R"({"a": 1.5})" << merges << QString() << QString()
                                   << "{dir}/vocab.json: key 'a': expected an integer, found 1.5";
    QTest::newRow("id null") << R"({"a": null})" << merges << QString() << QString()
                             << "{dir}/vocab.json: key 'a': expected an integer, found null";
    QTest::newRow("id negative") << R"({"a": -3})" << merges << QString() << QString()
                                 << "{dir}/vocab.json: key 'a': expected a non-negative id, found -3";
    QTest::newRow("merge line with three symbols")
        << vocab << "#version: 0.2\nh e\nl l x\n"
        << QString() << QString()
        << "{dir}/merges.txt: line 3: expected two symbols separated by a space, found \"l l x\"";
    QTest::newRow("merge line with one symbol")
        << vocab << "#version: 0.2\r\nh e\r\n\r\nll\r\n"
        << QString() << QString()
        << "{dir}/merges.txt: line 4: expected two symbols separated by a space, found \"ll\"";
    QTest::newRow("default BOS missing") << QString::fromStdString(json(noBos).dump()) << merges << QString()
                                         << QString()
                                         << "{dir}/vocab.json: bos_token '<|startoftext|>': not in the vocabulary "
                                            "(CLIP's default)";
    QTest::newRow("named pad token missing")
        << vocab << merges << R"({"pad_token": "<pad>"})" << QString()
        << "{dir}/vocab.json: pad_token '<pad>': not in the vocabulary (named in {dir}/special_tokens_map.json)";
    QTest::newRow("special token of the wrong type") << vocab << merges << R"({"eos_token": 7})" << QString()
                                                     << "{dir}/special_tokens_map.json: key 'eos_token': expected a "
                                                        "string, found 7";
    QTest::newRow("AddedToken without content")
        << vocab << merges << QString() << R"({"unk_token": {"lstrip": false}})"
        << "{dir}/tokenizer_config.json: key 'unk_token': key 'content': missing";
    QTest::newRow("max length too short") << vocab << merges << QString() << R"({"model_max_length": 2})"
                                          << "{dir}/tokenizer_config.json: key 'model_max_length': expected an "
                                             "integer from 3 to 65536, found 2";
}

void TestSdTokenizer::tokenizerFailures()
{
    QFETCH(QString, vocab);
    QFETCH(QString, merges);
    QFETCH(QString, specialTokens);
    QFETCH(QString, tokenizerConfig);
    QFETCH(QString, message);
    ScratchDir dir;
    const auto write = [&](const char* name, const QString& text) {
        if (!text.isNull())
            writeBytes(dir / name, text.toStdString());
    };
    write("vocab.json", vocab);
    write("merges.txt", merges);
    write("special_tokens_map.json", specialTokens);
    write("tokenizer_config.json", tokenizerConfig);
    std::filesystem::create_directories(dir.path());
    const std::string expected
        = message.replace(QStringLiteral("{dir}"), QString::fromStdString(dir.path().string())).toStdString();
    LETHE_COMPARE_STR(errorMessage([&] { models::sd::ClipTokenizer tokenizer(dir.path()); }), expected);
}

QTEST_APPLESS_MAIN(TestSdTokenizer)
#include "test_sd_tokenizer.moc"
