// Prompt sets for text-concept unlearning: JSON and CSV prompt lists, diversity presets, the builder.
#include "core/concept/diversity_builder.h"
#include "core/concept/diversity_preset.h"
#include "core/concept/prompt_set.h"
#include "core/error.h"
#include "core/io/csv_table.h"
#include "core/runtime.h"
#include "test_support.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

using namespace lethe;
using namespace lethe::concepts;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;
using lethe::test::writeBytes;
using nlohmann::json;

namespace {

Prompt prompt(const std::string& text, std::optional<std::int64_t> seed = std::nullopt,
    std::optional<std::string> caseLabel = std::nullopt)
{
    return Prompt { text, seed, std::move(caseLabel) };
}

std::string describe(const std::vector<Prompt>& prompts)
{
    std::string out;
    for (const Prompt& p : prompts)
        out += "[" + p.text + "|" + (p.seed ? std::to_string(*p.seed) : "-") + "|" + p.caseLabel.value_or("-") + "]";
    return out;
}

/// Every prompt a template can make from the slots, by plain enumeration (independent of the builder).
std::set<std::string> allPrompts(const std::string& text, const std::map<std::string, std::vector<std::string>>& slots)
{
    std::set<std::string> prompts { text };
    for (const auto& [name, values] : slots) {
        std::set<std::string> next;
        for (const std::string& partial : prompts)
            for (const std::string& value : values) {
                std::string filled = partial;
                const std::string placeholder = "{" + name + "}";
                for (auto at = filled.find(placeholder); at != std::string::npos; at = filled.find(placeholder))
                    filled.replace(at, placeholder.size(), value);
                next.insert(filled);
            }
        prompts = next;
    }
    return prompts;
}

std::vector<std::string> trainValues(const DiversitySpec& spec, const std::string& name)
{
    return spec.dimension(name)->trainValues;
}

std::vector<std::string> testValues(const DiversitySpec& spec, const std::string& name)
{
    return spec.dimension(name)->testValues;
}

/// A small valid preset that the error rows below change one key at a time (a JSON merge patch).
const char* kBasePreset = R"({
  "name": "small",
  "dimensions": {
    "mood": {"train": ["calm", "tense"], "test": ["hopeful"]},
    "place": {"train": ["in a park", "at home", "on a bus"], "test": ["in a desert", "at sea"]}
  },
  "remain_template": "A {mood} person {place}.",
  "forget_template": "A {mood} {concept} person {place}.",
  "concept": {"words": ["nude", "naked"]},
  "counts": {"forget": 8, "remain_train": 6, "remain_test": 2},
  "seed": 3
})";

} // namespace

class TestConceptPrompts : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesJsonStringsAndObjects();
    void parsesEsdCsv();
    void csvColumnsMayComeInAnyOrderOrBeAbsent();
    void rejectsMalformedJson_data();
    void rejectsMalformedJson();
    void rejectsMalformedCsv_data();
    void rejectsMalformedCsv();
    void loadsByExtensionAndNamesMissingFiles();
    void savesAndReloadsPromptSets();
    void refusesToSaveSetsThatWouldNotLoad();
    void paperPresetMakesThePapersSets();
    void splitsAreDisjoint();
    void builderIsDeterministic();
    void countsPastTheCombinationsRepeatEvenly();
    void fashionPresetForgetsAnObjectOrAColour();
    void twinsAreTheForgetPromptsWithoutTheConcept();
    void rejectsBadPresets_data();
    void rejectsBadPresets();
    void validatesSpecsMadeInCode();
    void presetRoundTrips();
    void presetsBuiltAsJsonInCode();
};

// ---------------------------------------------------------------------------------------------- prompt lists

void TestConceptPrompts::parsesJsonStringsAndObjects()
{
    const auto prompts = parsePromptJson(
        "\xEF\xBB\xBF[\"a photo of a red sneaker\", {\"prompt\": \"a blue bag\", \"seed\": 42, \"case\": \"c1\"},\n"
        " {\"prompt\": \"a coat\", \"case\": 7, \"extra\": [1, 2]}, {\"prompt\": \"a dress\", \"seed\": null}]",
        "p.json");
    LETHE_COMPARE_STR(describe(prompts), "[a photo of a red sneaker|-|-][a blue bag|42|c1][a coat|-|7][a dress|-|-]");
    // Byte offsets count the byte-order mark (a plain std::string: QString would drop the mark).
    LETHE_COMPARE_STR(
        errorMessage([] { parsePromptJson("\xEF\xBB\xBF[\"a\",, \"b\"]", "p.json"); }), "p.json: byte 9: invalid JSON");
}

void TestConceptPrompts::parsesEsdCsv()
{
    // As pandas writes ESD's evaluation CSVs, with a BOM and CRLF line ends as Excel saves them.
    const std::string csv = "\xEF\xBB\xBF"
                            "case_number,prompt,evaluation_seed,evaluation_guidance\r\n"
                            "0,\"A woman, standing by the lake\",2219,7.5\r\n"
                            "1,\"She said \"\"hello\"\", twice\",42,7.5\r\n"
                            "2,plain prompt,,7.5\r\n"
                            "3,\"two\nlines\",  7 ,7.5\r\n"
                            "\r\n"
                            "4,a \"quoted\" word unquoted,5,7.5\r\n"
                            "\r\n";
    const auto prompts = parsePromptCsv(csv, "p.csv");
    LETHE_COMPARE_STR(describe(prompts),
        "[A woman, standing by the lake|2219|0][She said \"hello\", twice|42|1]"
        "[plain prompt|-|2][two\nlines|7|3][a \"quoted\" word unquoted|5|4]");

    // Records keep the line they start on, for messages.
    const auto records = io::parseCsv("a,b\n\"x\ny\",z\n\nlast,\n", "r.csv");
    QCOMPARE(records.size(), std::size_t(3));
    QCOMPARE(records[1].line, std::int64_t(2));
    QCOMPARE(records[2].line, std::int64_t(5));
    QCOMPARE(records[2].fields, (std::vector<std::string> { "last", "" }));
}

void TestConceptPrompts::csvColumnsMayComeInAnyOrderOrBeAbsent()
{
    const auto onlyPrompts = parsePromptCsv("prompt\nfirst\nsecond", "p.csv");
    LETHE_COMPARE_STR(describe(onlyPrompts), "[first|-|-][second|-|-]");
    // The I2P layout: many other columns, prompt first, seed and case at the end.
    const auto i2p = parsePromptCsv("prompt,categories,hard,sd_seed,evaluation_seed,case_number\n"
                                    "\"a, b\",sexual,1,99,123,17\n",
        "i2p.csv");
    LETHE_COMPARE_STR(describe(i2p), "[a, b|123|17]");
}

void TestConceptPrompts::rejectsMalformedJson_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("truncated") << "[\"a photo\", {\"prompt\": \"b"
                               << "p.json: byte 26: invalid JSON: the file ends in the middle of a value (is it "
                                  "truncated?)";
    QTest::newRow("truncated after a comma")
        << "[\"a photo\","
        << "p.json: byte 12: invalid JSON: the file ends in the middle of a value (is it truncated?)";
    QTest::newRow("syntax error") << "[\"a\",, \"b\"]"
                                  << "p.json: byte 6: invalid JSON";
    // Found by fuzzing (tests/fuzz, json): nlohmann throws out_of_range, not parse_error, for such a number.
    QTest::newRow("number beyond a double") << "[{\"prompt\": \"a\", \"seed\": 1e400}]"
                                            << "p.json: number 1e400: invalid JSON: out of range of a double";
    QTest::newRow("empty file") << " \n"
                                << "p.json: the file is empty: expected a JSON list of prompts";
    QTest::newRow("object") << "{\"prompt\": \"a\"}"
                            << "p.json: top level: expected a list of prompts (strings or objects), found object";
    QTest::newRow("empty list") << "[]"
                                << "p.json: top level: the prompt set is empty: expected at least one prompt";
    QTest::newRow("number item") << "[\"a\", 3]"
                                 << "p.json: item 2: expected a prompt string or an object with a \"prompt\" key, "
                                    "found 3";
    QTest::newRow("missing prompt") << "[{\"text\": \"a\"}]"
                                    << "p.json: item 1: key 'prompt': missing";
    QTest::newRow("prompt not a string") << "[{\"prompt\": 5}]"
                                         << "p.json: item 1: key 'prompt': expected a string, found 5";
    QTest::newRow("blank string") << "[\"a\", \"  \"]"
                                  << "p.json: item 2: the prompt is empty";
    QTest::newRow("empty prompt key") << "[\"a\", \"b\", {\"prompt\": \"\"}]"
                                      << "p.json: item 3: key 'prompt': the prompt is empty";
    QTest::newRow("seed as text") << "[{\"prompt\": \"a\", \"seed\": \"7\"}]"
                                  << "p.json: item 1: key 'seed': expected a non-negative integer, found \"7\"";
    QTest::newRow("fractional seed") << "[{\"prompt\": \"a\", \"seed\": 1.5}]"
                                     << "p.json: item 1: key 'seed': expected a non-negative integer, found 1.5";
    QTest::newRow("negative seed") << "[{\"prompt\": \"a\", \"seed\": -3}]"
                                   << "p.json: item 1: key 'seed': expected a non-negative integer, found -3";
    QTest::newRow("seed past int64") << "[{\"prompt\": \"a\", \"seed\": 18446744073709551615}]"
                                     << "p.json: item 1: key 'seed': expected a non-negative integer, found "
                                        "18446744073709551615";
    QTest::newRow("case as list") << "[{\"prompt\": \"a\", \"case\": [1]}]"
                                  << "p.json: item 1: key 'case': expected a string or an integer, found [1]";
}

void TestConceptPrompts::rejectsMalformedJson()
{
    QFETCH(QString, text);
    QFETCH(QString, message);
    LETHE_COMPARE_STR(errorMessage([&] { parsePromptJson(text.toStdString(), "p.json"); }), message.toStdString());
}

void TestConceptPrompts::rejectsMalformedCsv_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty file") << ""
                                << "p.csv: the file is empty: expected a header row with a 'prompt' column";
    QTest::newRow("blank lines only") << "\r\n\n"
                                      << "p.csv: the file is empty: expected a header row with a 'prompt' column";
    QTest::newRow("header only") << "case_number,prompt,evaluation_seed\n"
                                 << "p.csv: the prompt set is empty: the file has a header row but no prompts";
    QTest::newRow("no prompt column")
        << "case_number,text,evaluation_seed\n1,a,2\n"
        << "p.csv: line 1: expected a header row with a 'prompt' column (and optionally 'evaluation_seed' and "
           "'case_number'), found: case_number, text, evaluation_seed";
    QTest::newRow("header is data") << "a photo of a cat\n"
                                    << "p.csv: line 1: expected a header row with a 'prompt' column (and "
                                       "optionally 'evaluation_seed' and 'case_number'), found: a photo of a cat";
    QTest::newRow("prompt column twice") << "prompt,evaluation_seed,prompt\na,1,b\n"
                                         << "p.csv: line 1: the header names the column 'prompt' twice";
    QTest::newRow("unbalanced quote") << "case_number,prompt\n0,x\n1,\"a photo\n2,b\n"
                                      << "p.csv: line 3: unbalanced quote: the quoted field that starts on this "
                                         "line is not closed before the end of the file (is the file truncated?)";
    QTest::newRow("text after closing quote")
        << "prompt,evaluation_seed\n\"a\"b,1\n"
        << "p.csv: line 2: expected a comma or the end of the line after the closing quote of field 1, found 'b'";
    QTest::newRow("truncated row") << "case_number,prompt,evaluation_seed\n1,a,2\n2,b"
                                   << "p.csv: line 3: expected 3 fields as in the header, found 2 (is the file "
                                      "truncated?)";
    QTest::newRow("too many fields") << "prompt,evaluation_seed\na,1,extra\n"
                                     << "p.csv: line 2: expected 2 fields as in the header, found 3 (is the file "
                                        "truncated?)";
    QTest::newRow("seed not an integer")
        << "prompt,evaluation_seed\na,12a\n"
        << "p.csv: line 2, column 'evaluation_seed': expected a non-negative integer seed, found \"12a\"";
    QTest::newRow("fractional seed")
        << "prompt,evaluation_seed\na,3.5\n"
        << "p.csv: line 2, column 'evaluation_seed': expected a non-negative integer seed, found \"3.5\"";
    QTest::newRow("negative seed")
        << "prompt,evaluation_seed\na,-1\n"
        << "p.csv: line 2, column 'evaluation_seed': expected a non-negative integer seed, found \"-1\"";
    QTest::newRow("seed past int64")
        << "prompt,evaluation_seed\na,99999999999999999999\n"
        << "p.csv: line 2, column 'evaluation_seed': expected a non-negative integer seed, found "
           "\"99999999999999999999\"";
    QTest::newRow("line after a two-line field")
        << "prompt,evaluation_seed\n\"two\nlines\",1\nx,y\n"
        << "p.csv: line 4, column 'evaluation_seed': expected a non-negative integer seed, found \"y\"";
    QTest::newRow("empty prompt") << "prompt,evaluation_seed\nfine,0\n\"\",1\n"
                                  << "p.csv: line 3, column 'prompt': the prompt is empty";
    QTest::newRow("blank prompt") << "case_number,prompt\n0,   \n"
                                  << "p.csv: line 2, column 'prompt': the prompt is empty";
    QTest::newRow("not UTF-8") << QString::fromLatin1("prompt\ncaf\xE9\n")
                               << "p.csv: line 2, column 'prompt': the prompt is not valid UTF-8 text";
}

void TestConceptPrompts::rejectsMalformedCsv()
{
    QFETCH(QString, text);
    QFETCH(QString, message);
    // Latin-1 so that the row with a lone 0xE9 byte reaches the parser as that byte.
    const QByteArray bytes = QTest::currentDataTag() == QByteArray("not UTF-8") ? text.toLatin1() : text.toUtf8();
    LETHE_COMPARE_STR(errorMessage([&] { parsePromptCsv(bytes.toStdString(), "p.csv"); }), message.toStdString());
}

void TestConceptPrompts::loadsByExtensionAndNamesMissingFiles()
{
    ScratchDir dir;
    writeBytes(dir / "upper.JSON", "[\"a\"]");
    writeBytes(dir / "list.csv", "prompt\nb\n");
    writeBytes(dir / "list.txt", "prompt\nb\n");
    LETHE_COMPARE_STR(describe(loadPromptSet(dir / "upper.JSON")), "[a|-|-]");
    LETHE_COMPARE_STR(describe(loadPromptSet(dir / "list.csv")), "[b|-|-]");
    LETHE_COMPARE_STR(errorMessage([&] { loadPromptSet(dir / "list.txt"); }),
        (dir / "list.txt").string() + ": expected a prompt set ending in .json or .csv, found '.txt'");
    LETHE_COMPARE_STR(errorMessage([&] { loadPromptSet(dir / "absent.csv"); }),
        (dir / "absent.csv").string() + ": cannot open for reading: No such file or directory");
    // Messages from a loaded file name its path.
    writeBytes(dir / "bad.json", "[\"a\", 1]");
    LETHE_COMPARE_STR(errorMessage([&] { loadPromptSet(dir / "bad.json"); }),
        (dir / "bad.json").string() + ": item 2: expected a prompt string or an object with a \"prompt\" key, found 1");
}

void TestConceptPrompts::savesAndReloadsPromptSets()
{
    ScratchDir dir;
    const std::vector<Prompt> prompts { prompt("a photo of a \"red\" sneaker, left", 7, "case 1"),
        prompt("zweite Zeile\nmit Umbruch – ü"), prompt("third", 0), prompt("fourth", std::nullopt, "4") };
    savePromptSet(dir / "set.json", prompts);
    LETHE_COMPARE_STR(test::readBytes(dir / "set.json"),
        "[\n"
        "  {\"prompt\":\"a photo of a \\\"red\\\" sneaker, left\",\"seed\":7,\"case\":\"case 1\"},\n"
        "  {\"prompt\":\"zweite Zeile\\nmit Umbruch – ü\"},\n"
        "  {\"prompt\":\"third\",\"seed\":0},\n"
        "  {\"prompt\":\"fourth\",\"case\":\"4\"}\n"
        "]\n");
    QVERIFY(loadPromptSet(dir / "set.json") == prompts);

    // A CSV read and saved keeps its prompts, seeds and cases.
    const auto fromCsv = parsePromptCsv("case_number,prompt,evaluation_seed\n3,\"x, y\",11\n", "p.csv");
    savePromptSet(dir / "from-csv.json", fromCsv);
    LETHE_COMPARE_STR(describe(loadPromptSet(dir / "from-csv.json")), "[x, y|11|3]");
}

void TestConceptPrompts::refusesToSaveSetsThatWouldNotLoad()
{
    ScratchDir dir;
    writeBytes(dir / "kept.json", "[\"old\"]");
    LETHE_COMPARE_STR(errorMessage([&] { savePromptSet(dir / "kept.json", {}); }),
        "cannot save an empty prompt set: a prompt set needs at least one prompt");
    LETHE_COMPARE_STR(errorMessage([&] {
        savePromptSet(dir / "kept.json", { prompt("a"), prompt(" ") });
    }),
        "cannot save the prompt set: prompt 2 is empty");
    LETHE_COMPARE_STR(errorMessage([&] { savePromptSet(dir / "kept.json", { prompt("a", -1) }); }),
        "cannot save the prompt set: prompt 1 has the negative seed -1");
    LETHE_COMPARE_STR(errorMessage([&] { savePromptSet(dir / "kept.json", { prompt("caf\xE9") }); }),
        "cannot save the prompt set: prompt 1 is not valid UTF-8 text");
    LETHE_COMPARE_STR(test::readBytes(dir / "kept.json"), "[\"old\"]");
}

// ---------------------------------------------------------------------------------------------- presets

void TestConceptPrompts::paperPresetMakesThePapersSets()
{
    const DiversitySpec spec = loadDiversityPreset(resourceFile("presets/paper-nudity.json"));
    LETHE_COMPARE_STR(spec.name, "paper-nudity");
    // Exactly docs/method.md §3's values.
    QCOMPARE(trainValues(spec, "mood"),
        (std::vector<std::string> {
            "contemplative", "joyful", "energetic", "peaceful", "tense", "anxious", "relaxed" }));
    QCOMPARE(trainValues(spec, "activity"),
        (std::vector<std::string> {
            "sitting", "dancing", "walking", "cooking", "meditating", "standing", "reading", "jogging" }));
    QCOMPARE(trainValues(spec, "location"),
        (std::vector<std::string> { "on a rooftop", "in a bustling city street", "in a cozy room", "in a forest",
            "in a crowded market", "at a quiet beach", "by the lake", "in lush green mountains" }));
    QCOMPARE(trainValues(spec, "time"),
        (std::vector<std::string> { "in the afternoon", "at midnight", "as the sun rises", "during the morning",
            "under the moonlight", "at sunset", "at dawn" }));
    QCOMPARE(
        testValues(spec, "mood"), (std::vector<std::string> { "melancholic", "excited", "hopeful", "disillusioned" }));
    QCOMPARE(testValues(spec, "activity"),
        (std::vector<std::string> { "painting", "playing guitar", "sketching", "shopping" }));
    QCOMPARE(testValues(spec, "location"),
        (std::vector<std::string> {
            "in a bright, airy studio", "on a snowy mountain", "in a desert", "in an urban park" }));
    QCOMPARE(testValues(spec, "time"),
        (std::vector<std::string> { "early evening", "late night", "at noon", "during twilight" }));
    QCOMPARE(spec.forgetConcept.words, (std::vector<std::string> { "naked", "nude", "unclad", "bare", "undressed" }));
    LETHE_COMPARE_STR(spec.remainTemplate, "A {mood} person {activity} {location} {time}.");
    LETHE_COMPARE_STR(spec.effectiveForgetTemplate(), "A {mood} {concept} person {activity} {location} {time}.");

    const DiversePrompts sets = buildDiversePrompts(spec);
    QCOMPARE(sets.forget.size(), std::size_t(800));
    QCOMPARE(sets.remainTrain.size(), std::size_t(800));
    QCOMPARE(sets.remainTest.size(), std::size_t(100));
    QCOMPARE(sets.forgetCombinations, std::uint64_t(5 * 7 * 8 * 8 * 7));
    QCOMPARE(sets.remainTrainCombinations, std::uint64_t(7 * 8 * 8 * 7));
    QCOMPARE(sets.remainTestCombinations, std::uint64_t(4 * 4 * 4 * 4));
    for (const auto* set : { &sets.forget, &sets.remainTrain, &sets.remainTest }) {
        // Fewer prompts than combinations: no prompt twice, and no image seed twice.
        std::set<std::string> texts;
        std::set<std::int64_t> seeds;
        for (const Prompt& p : *set) {
            QVERIFY(p.seed.has_value());
            QVERIFY(*p.seed >= 0 && *p.seed < (std::int64_t(1) << 31));
            QVERIFY(!p.caseLabel);
            texts.insert(p.text);
            seeds.insert(*p.seed);
        }
        QCOMPARE(texts.size(), set->size());
        QCOMPARE(seeds.size(), set->size());
    }
}

void TestConceptPrompts::splitsAreDisjoint()
{
    const DiversitySpec spec = loadDiversityPreset(resourceFile("presets/paper-nudity.json"));
    const DiversePrompts sets = buildDiversePrompts(spec);
    std::map<std::string, std::vector<std::string>> train;
    std::map<std::string, std::vector<std::string>> test;
    for (const Dimension& d : spec.dimensions) {
        train[d.name] = d.trainValues;
        test[d.name] = d.testValues;
    }
    auto forgetSlots = train;
    forgetSlots["concept"] = spec.forgetConcept.words;
    const auto forgetSpace = allPrompts(spec.effectiveForgetTemplate(), forgetSlots);
    const auto trainSpace = allPrompts(spec.remainTemplate, train);
    const auto testSpace = allPrompts(spec.remainTemplate, test);
    QCOMPARE(testSpace.size(), std::size_t(256));
    for (const Prompt& p : sets.forget)
        QVERIFY2(forgetSpace.count(p.text), p.text.c_str());
    for (const Prompt& p : sets.remainTrain)
        QVERIFY2(trainSpace.count(p.text), p.text.c_str());
    // D_r,test: only held-out values, so no training value appears in any of its prompts.
    for (const Prompt& p : sets.remainTest) {
        QVERIFY2(testSpace.count(p.text), p.text.c_str());
        for (const auto& [name, values] : train)
            for (const std::string& value : values)
                QVERIFY2(p.text.find(" " + value + " ") == std::string::npos
                        && p.text.find(" " + value + ".") == std::string::npos,
                    (p.text + " uses the training value " + value).c_str());
    }
    // No remain prompt, train or test, shows a concept word; every forget prompt shows one.
    for (const auto* set : { &sets.remainTrain, &sets.remainTest })
        for (const Prompt& p : *set)
            for (const std::string& word : spec.forgetConcept.words)
                QVERIFY2(p.text.find(" " + word + " ") == std::string::npos, p.text.c_str());
    for (const Prompt& p : sets.forget) {
        bool hasWord = false;
        for (const std::string& word : spec.forgetConcept.words)
            hasWord = hasWord || p.text.find(" " + word + " person") != std::string::npos;
        QVERIFY2(hasWord, p.text.c_str());
    }
}

void TestConceptPrompts::builderIsDeterministic()
{
    DiversitySpec spec = loadDiversityPreset(resourceFile("presets/paper-nudity.json"));
    const DiversePrompts first = buildDiversePrompts(spec);
    const DiversePrompts again = buildDiversePrompts(spec);
    QVERIFY(first.forget == again.forget);
    QVERIFY(first.remainTrain == again.remainTrain);
    QVERIFY(first.remainTest == again.remainTest);

    // The same prompts and seeds on every platform: the generators and the draw are our own.
    LETHE_COMPARE_STR(describe({ first.forget.front(), first.remainTrain.front(), first.remainTest.front() }),
        "[A energetic bare person cooking in a crowded market as the sun rises.|352675281|-]"
        "[A relaxed person walking by the lake at sunset.|133162328|-]"
        "[A disillusioned person playing guitar in a desert early evening.|1507265427|-]");

    // Each set has its own streams: another forget count leaves the remain sets as they were, and the
    // smaller forget set is the start of the larger one.
    DiversitySpec fewer = spec;
    fewer.forgetCount = 10;
    const DiversePrompts small = buildDiversePrompts(fewer);
    QVERIFY(small.remainTrain == first.remainTrain);
    QVERIFY(small.remainTest == first.remainTest);
    QVERIFY(std::equal(small.forget.begin(), small.forget.end(), first.forget.begin()));

    // Another seed, other prompts.
    DiversitySpec reseeded = spec;
    reseeded.seed = 1;
    const DiversePrompts other = buildDiversePrompts(reseeded);
    QVERIFY(other.forget != first.forget);
    QVERIFY(other.remainTrain != first.remainTrain);
    QVERIFY(other.remainTest != first.remainTest);
}

void TestConceptPrompts::countsPastTheCombinationsRepeatEvenly()
{
    DiversitySpec spec = diversitySpecFromJson(json::parse(kBasePreset), "small.json");
    spec.remainTrainCount = 14; // 2 moods × 3 places = 6 combinations: 2 full passes and 2 more
    const auto prompts = buildPromptSplit(spec, PromptSplit::RemainTrain);
    QCOMPARE(prompts.size(), std::size_t(14));
    std::map<std::string, int> uses;
    std::set<std::int64_t> seeds;
    for (const Prompt& p : prompts) {
        ++uses[p.text];
        seeds.insert(*p.seed);
    }
    QCOMPARE(uses.size(), std::size_t(6));
    for (const auto& [text, n] : uses)
        QVERIFY2(n == 2 || n == 3, text.c_str());
    QCOMPARE(seeds.size(), std::size_t(14)); // a repeated prompt still makes a different image
    // Each full pass holds every combination once.
    const std::set<std::string> firstPass { prompts[0].text, prompts[1].text, prompts[2].text, prompts[3].text,
        prompts[4].text, prompts[5].text };
    QCOMPARE(firstPass.size(), std::size_t(6));

    spec.allowRepeats = false;
    LETHE_COMPARE_STR(errorMessage([&] { buildDiversePrompts(spec); }),
        "prompt preset 'small': key 'counts.remain_train': 14 prompts asked for, but the values give "
        "only 6 distinct combinations; lower the count or set allow_repeats");
    spec.remainTrainCount = 6;
    QCOMPARE(buildDiversePrompts(spec).remainTrain.size(), std::size_t(6));
}

void TestConceptPrompts::fashionPresetForgetsAnObjectOrAColour()
{
    DiversitySpec spec = loadDiversityPreset(resourceFile("presets/fashion-colours.json"));
    const std::vector<std::string> objects { "t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal",
        "shirt", "sneaker", "bag", "ankle boot" };
    QCOMPARE(trainValues(spec, "object"), objects);
    LETHE_COMPARE_STR(spec.effectiveForgetTemplate(), "a photo of a {colour} {concept}");

    // Forget the object "sneaker": forget prompts are sneakers in training colours; no remain prompt has one.
    const DiversePrompts sneaker = buildDiversePrompts(spec);
    QCOMPARE(sneaker.forget.size(), std::size_t(spec.forgetCount));
    QCOMPARE(sneaker.forgetCombinations, std::uint64_t(5));
    QCOMPARE(sneaker.remainTrainCombinations, std::uint64_t(5 * 9));
    QCOMPARE(sneaker.remainTestCombinations, std::uint64_t(2 * 9));
    std::set<std::string> colours;
    for (const Prompt& p : sneaker.forget) {
        QVERIFY2(p.text.size() > 21 && p.text.compare(p.text.size() - 8, 8, " sneaker") == 0, p.text.c_str());
        colours.insert(p.text.substr(13, p.text.size() - 21));
    }
    QCOMPARE(colours, (std::set<std::string> { "red", "green", "blue", "yellow", "purple" }));
    std::map<std::string, std::vector<std::string>> held { { "colour", { "white", "pink" } } };
    held["object"] = objects;
    held["object"].erase(held["object"].begin() + 7);
    const auto testSpace = allPrompts(spec.remainTemplate, held);
    for (const Prompt& p : sneaker.remainTest)
        QVERIFY2(testSpace.count(p.text), p.text.c_str());
    for (const auto* set : { &sneaker.remainTrain, &sneaker.remainTest })
        for (const Prompt& p : *set)
            QVERIFY2(p.text.find("sneaker") == std::string::npos, p.text.c_str());

    // Forget the colour "red" with the same preset: red objects of every class; remain prompts never red.
    spec.forgetConcept = ConceptRule { { "red" }, "colour" };
    LETHE_COMPARE_STR(spec.effectiveForgetTemplate(), "a photo of a {concept} {object}");
    const DiversePrompts red = buildDiversePrompts(spec);
    QCOMPARE(red.forgetCombinations, std::uint64_t(10));
    QCOMPARE(red.remainTrainCombinations, std::uint64_t(4 * 10));
    std::set<std::string> redObjects;
    for (const Prompt& p : red.forget) {
        QVERIFY2(p.text.compare(0, 17, "a photo of a red ") == 0, p.text.c_str());
        redObjects.insert(p.text.substr(17));
    }
    QCOMPARE(redObjects, std::set<std::string>(objects.begin(), objects.end()));
    for (const auto* set : { &red.remainTrain, &red.remainTest })
        for (const Prompt& p : *set)
            QVERIFY2(p.text.find(" red ") == std::string::npos, p.text.c_str());

    // "shirt" is a class of its own: forgetting it keeps "t-shirt" in the remain prompts.
    spec.forgetConcept = ConceptRule { { "shirt" }, "object" };
    const DiversePrompts shirt = buildDiversePrompts(spec);
    bool keepsTShirts = false;
    for (const Prompt& p : shirt.remainTrain) {
        QVERIFY2(p.text.compare(p.text.size() - 6, 6, " shirt") != 0, p.text.c_str());
        keepsTShirts = keepsTShirts || p.text.find("t-shirt") != std::string::npos;
    }
    QVERIFY(keepsTShirts);
}

void TestConceptPrompts::twinsAreTheForgetPromptsWithoutTheConcept()
{
    // An inserted word: the twin is the remain template with the forget prompt's values, the word gone.
    const DiversitySpec paper = loadDiversityPreset(resourceFile("presets/paper-nudity.json"));
    const DiversePrompts nude = buildDiversePrompts(paper);
    QCOMPARE(nude.twins.size(), nude.forget.size());
    QVERIFY(nude.twins == buildTwins(paper));
    for (std::size_t i = 0; i < nude.forget.size(); ++i) {
        std::string without = nude.forget[i].text;
        for (const std::string& word : paper.forgetConcept.words) {
            const auto at = without.find(" " + word + " person");
            if (at != std::string::npos)
                without.erase(at, word.size() + 1);
        }
        LETHE_COMPARE_STR(nude.twins[i].text, without);
        QCOMPARE(nude.twins[i].seed, nude.forget[i].seed); // the same start noise: comparable images
        QVERIFY(!nude.twins[i].caseLabel);
    }
    LETHE_COMPARE_STR(describe({ nude.forget.front(), nude.twins.front() }),
        "[A energetic bare person cooking in a crowded market as the sun rises.|352675281|-]"
        "[A energetic person cooking in a crowded market as the sun rises.|352675281|-]");

    // A value of a dimension: the twin keeps the colour and takes another object, every remain object about
    // equally often (full passes over the nine, each in a new seeded order).
    DiversitySpec fashion = loadDiversityPreset(resourceFile("presets/fashion-colours.json"));
    const DiversePrompts sneaker = buildDiversePrompts(fashion);
    QCOMPARE(sneaker.twins.size(), std::size_t(100));
    std::vector<std::string> remainObjects = trainValues(fashion, "object");
    remainObjects.erase(remainObjects.begin() + 7);
    std::map<std::string, int> objectUses;
    for (std::size_t i = 0; i < sneaker.forget.size(); ++i) {
        const std::string& forget = sneaker.forget[i].text; // "a photo of a red sneaker"
        const std::string& twin = sneaker.twins[i].text;
        const std::string kept = forget.substr(0, forget.size() - std::string("sneaker").size());
        QVERIFY2(twin.compare(0, kept.size(), kept) == 0, (forget + " → " + twin).c_str());
        const std::string object = twin.substr(kept.size());
        QVERIFY2(std::find(remainObjects.begin(), remainObjects.end(), object) != remainObjects.end(), twin.c_str());
        ++objectUses[object];
        QCOMPARE(sneaker.twins[i].seed, sneaker.forget[i].seed);
    }
    QCOMPARE(objectUses.size(), std::size_t(9));
    for (const auto& [object, n] : objectUses)
        QVERIFY2(n == 11 || n == 12, object.c_str());
    LETHE_COMPARE_STR(describe({ sneaker.forget.front(), sneaker.twins.front() }),
        "[a photo of a blue sneaker|352675281|-][a photo of a blue ankle boot|352675281|-]");

    // The colour as the concept: the twin keeps the object and takes a colour that is not red.
    fashion.forgetConcept = ConceptRule { { "red" }, "colour" };
    const DiversePrompts red = buildDiversePrompts(fashion);
    for (std::size_t i = 0; i < red.forget.size(); ++i) {
        const std::string object = red.forget[i].text.substr(std::string("a photo of a red ").size());
        const std::string& twin = red.twins[i].text;
        QVERIFY2(twin.size() > object.size() && twin.compare(twin.size() - object.size(), object.size(), object) == 0,
            twin.c_str());
        QVERIFY2(twin.find("red") == std::string::npos, twin.c_str());
    }

    // The twins of a smaller forget set are the start of the larger one's; the remain sets do not move.
    DiversitySpec fewer = paper;
    fewer.forgetCount = 10;
    const std::vector<Prompt> fewerTwins = buildTwins(fewer);
    QVERIFY(std::equal(fewerTwins.begin(), fewerTwins.end(), nude.twins.begin()));
}

void TestConceptPrompts::rejectsBadPresets_data()
{
    QTest::addColumn<QString>("patch");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown key")
        << R"({"remain_templat": "x"})"
        << "key 'remain_templat': unknown key; expected one of: version, name, description, "
           "dimensions, remain_template, forget_template, concept, counts, seed, allow_repeats";
    QTest::newRow("version") << R"({"version": 2})"
                             << "key 'version': expected 1 (the only preset version), found 2";
    QTest::newRow("no dimensions") << R"({"dimensions": null})"
                                   << "key 'dimensions': missing";
    QTest::newRow("dimensions as list")
        << R"({"dimensions": ["mood"]})"
        << "key 'dimensions': expected an object mapping each dimension name to {\"train\": [...], \"test\": "
           "[...]}, found [\"mood\"]";
    QTest::newRow("dimension as list")
        << R"({"dimensions": {"mood": ["calm"]}})"
        << "key 'dimensions.mood': expected an object with a \"train\" list and optionally a \"test\" list, found "
           "[\"calm\"]";
    QTest::newRow("values not a list") << R"({"dimensions": {"mood": {"train": "calm"}}})"
                                       << "key 'dimensions.mood.train': expected a list of strings, found \"calm\"";
    QTest::newRow("unknown dimension key") << R"({"dimensions": {"mood": {"tets": ["x"]}}})"
                                           << "key 'dimensions.mood.tets': unknown key; expected one of: train, test";
    QTest::newRow("no training values") << R"({"dimensions": {"mood": {"train": []}}})"
                                        << "key 'dimensions.mood.train': the dimension has no training values";
    QTest::newRow("missing training values") << R"({"dimensions": {"place": {"train": null}}})"
                                             << "key 'dimensions.place.train': the dimension has no training values";
    QTest::newRow("empty value") << R"({"dimensions": {"mood": {"train": ["calm", " "]}}})"
                                 << "key 'dimensions.mood.train': value 2 is empty";
    QTest::newRow("duplicate value") << R"({"dimensions": {"mood": {"test": ["hopeful", "hopeful"]}}})"
                                     << "key 'dimensions.mood.test': 'hopeful' appears twice";
    QTest::newRow("overlap") << R"({"dimensions": {"place": {"test": ["in a desert", "at home"]}}})"
                             << "key 'dimensions.place.test': 'at home' is also a training value; held-out test "
                                "values must differ from the training values";
    QTest::newRow("bad name") << R"({"dimensions": {"my mood": {"train": ["x"]}}})"
                              << "key 'dimensions.my mood': a dimension name is letters, digits and '_'";
    QTest::newRow("reserved name")
        << R"({"dimensions": {"concept": {"train": ["x"]}}})"
        << "key 'dimensions.concept': the name 'concept' is reserved for the {concept} placeholder of the forget "
           "template";
    QTest::newRow("unused dimension") << R"({"dimensions": {"weather": {"train": ["in rain"]}}})"
                                      << "key 'dimensions.weather': the dimension is used by neither template";
    QTest::newRow("no remain template") << R"({"remain_template": null})"
                                        << "key 'remain_template': missing";
    QTest::newRow("remain template not text") << R"({"remain_template": 3})"
                                              << "key 'remain_template': expected a string, found 3";
    QTest::newRow("no placeholder") << R"({"remain_template": "A person."})"
                                    << "key 'remain_template': the template has no {dimension} placeholder";
    QTest::newRow("unknown dimension") << R"({"remain_template": "A {moood} person {place}."})"
                                       << "key 'remain_template': unknown dimension {moood}; the dimensions are: "
                                          "mood, place";
    QTest::newRow("unclosed brace") << R"({"remain_template": "A {mood person {place}."})"
                                    << "key 'remain_template': the '{' at character 3 is not closed";
    QTest::newRow("closing brace alone") << R"({"remain_template": "A {mood} person} {place}."})"
                                         << "key 'remain_template': '}' at character 16 has no matching '{'";
    QTest::newRow("empty placeholder") << R"({"remain_template": "A {} {mood} {place}."})"
                                       << "key 'remain_template': empty placeholder {} at character 3";
    QTest::newRow("placeholder not a name")
        << R"({"remain_template": "A {mood} {the place}."})"
        << "key 'remain_template': the placeholder {the place} at character 10 is not a dimension name (letters, "
           "digits and '_')";
    QTest::newRow("concept in remain") << R"({"remain_template": "A {mood} {concept} person {place}."})"
                                       << "key 'remain_template': remain prompts must not use {concept}; it belongs "
                                          "in the forget template";
    QTest::newRow("forget without concept") << R"({"forget_template": "A {mood} person {place}."})"
                                            << "key 'forget_template': the template has no {concept} placeholder";
    QTest::newRow("forget unknown dimension")
        << R"({"forget_template": "A {mood} {concept} person {plaec}."})"
        << "key 'forget_template': unknown dimension {plaec}; the dimensions are: mood, place";
    QTest::newRow("no forget template and no concept dimension")
        << R"({"forget_template": null})"
        << "key 'forget_template': missing: give a forget template with a {concept} placeholder, or a concept "
           "dimension ('concept.dimension') whose placeholder in the remain template the concept words replace";
    QTest::newRow("no concept") << R"({"concept": null})"
                                << "key 'concept': missing: expected {\"words\": [...]} with the words forget "
                                   "prompts add";
    QTest::newRow("concept as list") << R"({"concept": ["nude"]})"
                                     << "key 'concept': expected a JSON object, found array";
    QTest::newRow("no concept words") << R"({"concept": {"words": []}})"
                                      << "key 'concept.words': expected at least one concept word";
    QTest::newRow("concept words missing") << R"({"concept": {"words": null, "dimension": "mood"}})"
                                           << "key 'concept.words': missing";
    QTest::newRow("unknown concept dimension")
        << R"({"concept": {"dimension": "colour"}})"
        << "key 'concept.dimension': unknown dimension 'colour'; the dimensions are: mood, place";
    QTest::newRow("concept dimension not in template")
        << R"({"forget_template": null, "dimensions": {"extra": {"train": ["x"]}},
              "concept": {"dimension": "extra"}})"
        << "key 'concept.dimension': the remain template has no {extra} placeholder for the concept words to "
           "replace";
    QTest::newRow("concept word in a remain value")
        << R"({"dimensions": {"place": {"train": ["in a park", "in a bare room"]}}, "concept": {"words": ["Bare"]}})"
        << "key 'dimensions.place.train': 'in a bare room' contains the concept word 'Bare'; remain prompts must "
           "not mention the concept";
    QTest::newRow("concept word in a held-out value")
        << R"({"dimensions": {"place": {"test": ["nude beach"]}}})"
        << "key 'dimensions.place.test': 'nude beach' contains the concept word 'nude'; remain prompts must not "
           "mention the concept";
    QTest::newRow("concept word in the remain template")
        << R"({"remain_template": "A {mood} naked person {place}."})"
        << "key 'remain_template': the template contains the concept word 'naked'; remain prompts must not "
           "mention the concept";
    QTest::newRow("every value is a concept word")
        << R"({"concept": {"words": ["calm", "tense"], "dimension": "mood"}})"
        << "key 'dimensions.mood.train': no value is left for remain prompts once the concept words are removed";
    QTest::newRow("nothing held out")
        << R"({"dimensions": {"mood": {"test": null}, "place": {"test": null}}})"
        << "key 'dimensions': no dimension of the remain template has held-out test values, so D_r,test would only "
           "repeat training values; give one a \"test\" list or set counts.remain_test to 0";
    QTest::newRow("no forget prompts") << R"({"counts": {"forget": 0}})"
                                       << "key 'counts.forget': expected 1 to 10000000 prompts, found 0";
    QTest::newRow("negative test count") << R"({"counts": {"remain_test": -1}})"
                                         << "key 'counts.remain_test': expected 0 to 10000000 prompts, found -1";
    QTest::newRow("count as text") << R"({"counts": {"remain_train": "800"}})"
                                   << "key 'counts.remain_train': expected an integer, found \"800\"";
    QTest::newRow("unknown count") << R"({"counts": {"remain": 5}})"
                                   << "key 'counts.remain': unknown key; expected one of: forget, remain_train, "
                                      "remain_test";
    QTest::newRow("too many without repeats")
        << R"({"allow_repeats": false, "counts": {"remain_test": 3}})"
        << "key 'counts.remain_test': 3 prompts asked for, but the values give only 2 distinct combinations; lower "
           "the count or set allow_repeats";
    QTest::newRow("negative seed") << R"({"seed": -1})"
                                   << "key 'seed': expected a non-negative integer, found -1";
    QTest::newRow("repeats as text") << R"({"allow_repeats": "yes"})"
                                     << "key 'allow_repeats': expected true or false, found \"yes\"";
}

void TestConceptPrompts::rejectsBadPresets()
{
    QFETCH(QString, patch);
    QFETCH(QString, message);
    json preset = json::parse(kBasePreset);
    preset.merge_patch(json::parse(patch.toStdString()));
    ScratchDir dir;
    writeBytes(dir / "preset.json", preset.dump(2));
    LETHE_COMPARE_STR(errorMessage([&] { loadDiversityPreset(dir / "preset.json"); }),
        (dir / "preset.json").string() + ": " + message.toStdString());
}

void TestConceptPrompts::validatesSpecsMadeInCode()
{
    // The GUI's editor builds specs in code; the builder checks them and names the preset.
    DiversitySpec spec = diversitySpecFromJson(json::parse(kBasePreset), "small.json");
    spec.remainTemplate = "A {mood} person {where}.";
    LETHE_COMPARE_STR(errorMessage([&] { buildDiversePrompts(spec); }),
        "prompt preset 'small': key 'remain_template': unknown dimension {where}; the dimensions are: "
        "mood, place");
    spec.name.clear();
    LETHE_COMPARE_STR(errorMessage([&] { buildDiversePrompts(spec); }),
        "prompt preset: key 'remain_template': unknown dimension {where}; the dimensions are: mood, "
        "place");

    // A truncated preset file is reported by the JSON reader.
    ScratchDir dir;
    writeBytes(dir / "cut.json", std::string(kBasePreset).substr(0, 60));
    LETHE_COMPARE_STR(errorMessage([&] { loadDiversityPreset(dir / "cut.json"); }),
        (dir / "cut.json").string() + ": byte 61: invalid JSON");
    // A preset without a name takes the file's.
    json unnamed = json::parse(kBasePreset);
    unnamed.erase("name");
    writeBytes(dir / "my-preset.json", unnamed.dump());
    LETHE_COMPARE_STR(loadDiversityPreset(dir / "my-preset.json").name, "my-preset");
}

void TestConceptPrompts::presetRoundTrips()
{
    ScratchDir dir;
    for (const char* name : { "presets/paper-nudity.json", "presets/fashion-colours.json" }) {
        const DiversitySpec spec = loadDiversityPreset(resourceFile(name));
        saveDiversityPreset(dir / "copy.json", spec);
        const DiversitySpec copy = loadDiversityPreset(dir / "copy.json");
        LETHE_COMPARE_STR(diversitySpecToJson(copy), diversitySpecToJson(spec));
        const DiversePrompts a = buildDiversePrompts(spec);
        const DiversePrompts b = buildDiversePrompts(copy);
        QVERIFY(a.forget == b.forget && a.remainTrain == b.remainTrain && a.remainTest == b.remainTest);
    }
    // The built sets save as prompt lists that load back unchanged.
    const DiversePrompts sets = buildDiversePrompts(diversitySpecFromJson(json::parse(kBasePreset), "small.json"));
    savePromptSet(dir / "forget.json", sets.forget);
    QVERIFY(loadPromptSet(dir / "forget.json") == sets.forget);

    DiversitySpec invalid = diversitySpecFromJson(json::parse(kBasePreset), "small.json");
    invalid.forgetConcept.words.clear();
    LETHE_COMPARE_STR(errorMessage([&] { saveDiversityPreset(dir / "bad.json", invalid); }),
        (dir / "bad.json").string() + ": key 'concept.words': expected at least one concept word");
    QVERIFY(!std::filesystem::exists(dir / "bad.json"));
}

void TestConceptPrompts::presetsBuiltAsJsonInCode()
{
    // nlohmann keeps integers written in code as signed; a non-negative one is still a valid seed.
    json preset = json::parse(kBasePreset);
    preset["seed"] = 5;
    preset["counts"]["forget"] = 3;
    QVERIFY(preset["seed"].is_number_integer() && !preset["seed"].is_number_unsigned());
    const DiversitySpec spec = diversitySpecFromJson(preset, "code");
    QCOMPARE(spec.seed, std::uint64_t(5));
    QCOMPARE(spec.forgetCount, std::int64_t(3));
    const std::vector<Prompt> prompts
        = promptsFromJson(json::array({ "a", json { { "prompt", "b" }, { "seed", 4 } } }), "code");
    LETHE_COMPARE_STR(describe(prompts), "[a|-|-][b|4|-]");
    preset["seed"] = -2;
    LETHE_COMPARE_STR(errorMessage([&] { diversitySpecFromJson(preset, "code"); }),
        "code: key 'seed': expected a non-negative integer, found -2");
}

QTEST_APPLESS_MAIN(TestConceptPrompts)
#include "test_concept_prompts.moc"
