#include "diversity_preset.h"

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_fields.h"
#include "core/io/json_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <set>

namespace lethe::concepts {

using nlohmann::json;

namespace {

constexpr const char* kConceptPlaceholder = "concept";
constexpr std::int64_t kMaxCount = 10'000'000;
// Combination indices are drawn as 64-bit integers; keep far from overflow.
constexpr std::uint64_t kMaxCombinations = std::uint64_t(1) << 62;

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : ", ") + item;
    return out;
}

std::string keyWhere(const std::string& key)
{
    return "key '" + key + "'";
}

bool isBlank(const std::string& text)
{
    return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

bool isName(const std::string& text)
{
    return !text.empty()
        && std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
}

char lower(char c)
{
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

/// Hyphens join words, so that "shirt" is not found in "t-shirt" (two different Fashion-MNIST classes).
bool isWordChar(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
}

} // namespace

std::optional<std::size_t> findWord(const std::string& text, const std::string& word)
{
    if (word.empty() || word.size() > text.size())
        return std::nullopt;
    for (std::size_t i = 0; i + word.size() <= text.size(); ++i) {
        bool same = true;
        for (std::size_t k = 0; k < word.size() && same; ++k)
            same = lower(text[i + k]) == lower(word[k]);
        if (!same)
            continue;
        const bool startsWord = i == 0 || !isWordChar(text[i - 1]) || !isWordChar(word.front());
        const bool endsWord
            = i + word.size() == text.size() || !isWordChar(text[i + word.size()]) || !isWordChar(word.back());
        if (startsWord && endsWord)
            return i;
    }
    return std::nullopt;
}

bool containsWord(const std::string& text, const std::string& word)
{
    return findWord(text, word).has_value();
}

namespace {

/// The template's literal text, placeholders removed (each replaced by a space so words do not join).
std::string literalText(const std::string& text)
{
    std::string out;
    bool inside = false;
    for (const char c : text) {
        if (c == '{')
            inside = true;
        else if (c == '}') {
            inside = false;
            out += ' ';
        } else if (!inside)
            out += c;
    }
    return out;
}

std::string replacePlaceholder(const std::string& text, const std::string& name, const std::string& replacement)
{
    const std::string from = "{" + name + "}";
    std::string out;
    std::size_t start = 0;
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, start)) {
        out += text.substr(start, at - start) + replacement;
        start = at + from.size();
    }
    return out + text.substr(start);
}

/// Runs `body`; a FormatError it throws about a key of a nested object is re-thrown with the full key path
/// ("key 'train'" under prefix "dimensions.mood" → "key 'dimensions.mood.train'"; "top level" → "key 'concept'").
template <typename Body> void underKey(const std::string& file, const std::string& prefix, Body body)
{
    try {
        body();
    } catch (const FormatError& e) {
        const std::string keyPrefix = "key '";
        if (e.file() != file)
            throw;
        if (e.where() == "top level") // the nested value is not an object
            throw FormatError(file, keyPrefix + prefix + "'", e.problem());
        if (e.where().compare(0, keyPrefix.size(), keyPrefix) != 0)
            throw;
        throw FormatError(file, keyPrefix + prefix + "." + e.where().substr(keyPrefix.size()), e.problem());
    }
}

void refuseUnknownKeys(const io::JsonFields& fields, const std::vector<std::string>& known)
{
    for (const auto& item : fields.object().items())
        if (std::find(known.begin(), known.end(), item.key()) == known.end())
            fields.fail(item.key(), "unknown key; expected one of: " + joined(known));
}

void checkValues(const std::vector<std::string>& values, const std::string& source, const std::string& key)
{
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (isBlank(values[i]))
            throw FormatError(source, keyWhere(key), "value " + std::to_string(i + 1) + " is empty");
        if (std::find(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(i), values[i])
            != values.begin() + static_cast<std::ptrdiff_t>(i))
            throw FormatError(source, keyWhere(key), "'" + values[i] + "' appears twice");
        if (values[i].find_first_of("{}") != std::string::npos)
            throw FormatError(source, keyWhere(key), "'" + values[i] + "' contains a brace");
    }
}

std::vector<std::string> withoutWords(const std::vector<std::string>& values, const std::vector<std::string>& words)
{
    std::vector<std::string> kept;
    for (const std::string& value : values)
        if (std::find(words.begin(), words.end(), value) == words.end())
            kept.push_back(value);
    return kept;
}

} // namespace

const Dimension* DiversitySpec::dimension(const std::string& dimensionName) const
{
    for (const Dimension& d : dimensions)
        if (d.name == dimensionName)
            return &d;
    return nullptr;
}

std::string DiversitySpec::effectiveForgetTemplate() const
{
    if (!forgetTemplate.empty() || forgetConcept.dimension.empty())
        return forgetTemplate;
    return replacePlaceholder(remainTemplate, forgetConcept.dimension, std::string("{") + kConceptPlaceholder + "}");
}

const char* splitName(PromptSplit split)
{
    switch (split) {
    case PromptSplit::Forget:
        return "forget";
    case PromptSplit::RemainTrain:
        return "remain_train";
    case PromptSplit::RemainTest:
        return "remain_test";
    }
    return "?";
}

std::string splitTemplate(const DiversitySpec& spec, PromptSplit split)
{
    return split == PromptSplit::Forget ? spec.effectiveForgetTemplate() : spec.remainTemplate;
}

std::int64_t splitCount(const DiversitySpec& spec, PromptSplit split)
{
    switch (split) {
    case PromptSplit::Forget:
        return spec.forgetCount;
    case PromptSplit::RemainTrain:
        return spec.remainTrainCount;
    case PromptSplit::RemainTest:
        return spec.remainTestCount;
    }
    return 0;
}

std::vector<std::string> templatePlaceholders(
    const std::string& text, const std::string& source, const std::string& key)
{
    std::vector<std::string> names;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const std::string at = " at character " + std::to_string(i + 1);
        if (text[i] == '}')
            throw FormatError(source, keyWhere(key), "'}'" + at + " has no matching '{'");
        if (text[i] != '{')
            continue;
        const std::size_t close = text.find_first_of("{}", i + 1);
        if (close == std::string::npos || text[close] == '{')
            throw FormatError(source, keyWhere(key), "the '{'" + at + " is not closed");
        const std::string name = text.substr(i + 1, close - i - 1);
        if (name.empty())
            throw FormatError(source, keyWhere(key), "empty placeholder {}" + at);
        if (!isName(name))
            throw FormatError(source, keyWhere(key),
                "the placeholder {" + name + "}" + at + " is not a dimension name (letters, digits and '_')");
        if (std::find(names.begin(), names.end(), name) == names.end())
            names.push_back(name);
        i = close;
    }
    return names;
}

std::vector<TemplateSlot> templateSlots(const DiversitySpec& spec, PromptSplit split)
{
    const std::string text = splitTemplate(spec, split);
    const ConceptRule& rule = spec.forgetConcept;
    std::vector<TemplateSlot> slots;
    for (const std::string& name : templatePlaceholders(text, spec.name, splitName(split))) {
        TemplateSlot slot { name, {} };
        if (name == kConceptPlaceholder) {
            slot.values = rule.words;
        } else {
            const Dimension* d = spec.dimension(name);
            if (!d)
                throw Error("templateSlots: unknown dimension '" + name + "' (validate the spec first)");
            const bool heldOut = split == PromptSplit::RemainTest && !d->testValues.empty();
            slot.values = heldOut ? d->testValues : d->trainValues;
            if (split != PromptSplit::Forget && name == rule.dimension)
                slot.values = withoutWords(slot.values, rule.words);
        }
        slots.push_back(std::move(slot));
    }
    return slots;
}

std::uint64_t combinationCount(const std::vector<TemplateSlot>& slots)
{
    std::uint64_t count = 1;
    for (const TemplateSlot& slot : slots) {
        const std::uint64_t n = slot.values.size();
        if (n == 0)
            return 0;
        if (count > std::numeric_limits<std::uint64_t>::max() / n)
            return std::numeric_limits<std::uint64_t>::max();
        count *= n;
    }
    return count;
}

void validateDiversitySpec(const DiversitySpec& spec, const std::string& source)
{
    // Dimensions and their values.
    if (spec.dimensions.empty())
        throw FormatError(source, keyWhere("dimensions"), "expected at least one dimension");
    for (std::size_t i = 0; i < spec.dimensions.size(); ++i) {
        const Dimension& d = spec.dimensions[i];
        const std::string key = "dimensions." + d.name;
        if (!isName(d.name))
            throw FormatError(source, keyWhere(key), "a dimension name is letters, digits and '_'");
        if (d.name == kConceptPlaceholder)
            throw FormatError(source, keyWhere(key),
                "the name 'concept' is reserved for the {concept} placeholder of the forget template");
        for (std::size_t k = 0; k < i; ++k)
            if (spec.dimensions[k].name == d.name)
                throw FormatError(source, keyWhere(key), "the dimension is defined twice");
        if (d.trainValues.empty())
            throw FormatError(source, keyWhere(key + ".train"), "the dimension has no training values");
        checkValues(d.trainValues, source, key + ".train");
        checkValues(d.testValues, source, key + ".test");
        for (const std::string& value : d.testValues)
            if (std::find(d.trainValues.begin(), d.trainValues.end(), value) != d.trainValues.end())
                throw FormatError(source, keyWhere(key + ".test"),
                    "'" + value
                        + "' is also a training value; held-out test values must differ from the "
                          "training values");
    }
    std::vector<std::string> dimensionNames;
    for (const Dimension& d : spec.dimensions)
        dimensionNames.push_back(d.name);

    // The concept.
    const ConceptRule& rule = spec.forgetConcept;
    if (rule.words.empty())
        throw FormatError(source, keyWhere("concept.words"), "expected at least one concept word");
    checkValues(rule.words, source, "concept.words");
    if (!rule.dimension.empty() && !spec.dimension(rule.dimension))
        throw FormatError(source, keyWhere("concept.dimension"),
            "unknown dimension '" + rule.dimension + "'; the dimensions are: " + joined(dimensionNames));

    // Templates.
    if (isBlank(spec.remainTemplate))
        throw FormatError(source, keyWhere("remain_template"),
            "missing: expected a template such as \"A {mood} person {activity}.\"");
    const std::vector<std::string> remainNames = templatePlaceholders(spec.remainTemplate, source, "remain_template");
    if (remainNames.empty())
        throw FormatError(source, keyWhere("remain_template"), "the template has no {dimension} placeholder");
    for (const std::string& name : remainNames) {
        if (name == kConceptPlaceholder)
            throw FormatError(source, keyWhere("remain_template"),
                "remain prompts must not use {concept}; it belongs in the forget template");
        if (!spec.dimension(name))
            throw FormatError(source, keyWhere("remain_template"),
                "unknown dimension {" + name + "}; the dimensions are: " + joined(dimensionNames));
    }
    std::string forgetKey = "forget_template";
    if (spec.forgetTemplate.empty()) {
        if (rule.dimension.empty())
            throw FormatError(source, keyWhere("forget_template"),
                "missing: give a forget template with a {concept} placeholder, or a concept dimension "
                "('concept.dimension') whose placeholder in the remain template the concept words "
                "replace");
        forgetKey = "concept.dimension";
        if (std::find(remainNames.begin(), remainNames.end(), rule.dimension) == remainNames.end())
            throw FormatError(source, keyWhere(forgetKey),
                "the remain template has no {" + rule.dimension + "} placeholder for the concept words to replace");
    }
    const std::string forgetTemplate = spec.effectiveForgetTemplate();
    const std::vector<std::string> forgetNames = templatePlaceholders(forgetTemplate, source, forgetKey);
    if (std::find(forgetNames.begin(), forgetNames.end(), kConceptPlaceholder) == forgetNames.end())
        throw FormatError(source, keyWhere(forgetKey), "the template has no {concept} placeholder");
    for (const std::string& name : forgetNames)
        if (name != kConceptPlaceholder && !spec.dimension(name))
            throw FormatError(source, keyWhere(forgetKey),
                "unknown dimension {" + name + "}; the dimensions are: " + joined(dimensionNames));
    for (const Dimension& d : spec.dimensions)
        if (std::find(remainNames.begin(), remainNames.end(), d.name) == remainNames.end()
            && std::find(forgetNames.begin(), forgetNames.end(), d.name) == forgetNames.end())
            throw FormatError(source, keyWhere("dimensions." + d.name), "the dimension is used by neither template");

    // Remain prompts must never show the concept: not in the template's own words, not in a value.
    for (const std::string& word : rule.words)
        if (containsWord(literalText(spec.remainTemplate), word))
            throw FormatError(source, keyWhere("remain_template"),
                "the template contains the concept word '" + word + "'; remain prompts must not mention the concept");
    bool anyHeldOut = false;
    for (const std::string& name : remainNames) {
        const Dimension& d = *spec.dimension(name);
        anyHeldOut = anyHeldOut || !d.testValues.empty();
        for (const bool test : { false, true }) {
            const std::vector<std::string>& declared = test ? d.testValues : d.trainValues;
            if (test && declared.empty())
                continue;
            const std::string key = "dimensions." + name + (test ? ".test" : ".train");
            const std::vector<std::string> used
                = name == rule.dimension ? withoutWords(declared, rule.words) : declared;
            if (used.empty())
                throw FormatError(
                    source, keyWhere(key), "no value is left for remain prompts once the concept words are removed");
            for (const std::string& value : used)
                for (const std::string& word : rule.words)
                    if (containsWord(value, word))
                        throw FormatError(source, keyWhere(key),
                            "'" + value + "' contains the concept word '" + word
                                + "'; remain prompts must not mention the concept");
        }
    }

    // Counts.
    const std::pair<PromptSplit, std::int64_t> minimums[]
        = { { PromptSplit::Forget, 1 }, { PromptSplit::RemainTrain, 1 }, { PromptSplit::RemainTest, 0 } };
    for (const auto& [split, minimum] : minimums) {
        const std::int64_t count = splitCount(spec, split);
        const std::string key = std::string("counts.") + splitName(split);
        if (count < minimum || count > kMaxCount)
            throw FormatError(source, keyWhere(key),
                "expected " + std::to_string(minimum) + " to " + std::to_string(kMaxCount) + " prompts, found "
                    + std::to_string(count));
    }
    if (spec.remainTestCount > 0 && !anyHeldOut)
        throw FormatError(source, keyWhere("dimensions"),
            "no dimension of the remain template has held-out test values, so D_r,test would "
            "only repeat training values; give one a \"test\" list or set counts.remain_test to 0");
    for (const PromptSplit split : { PromptSplit::Forget, PromptSplit::RemainTrain, PromptSplit::RemainTest }) {
        const std::int64_t count = splitCount(spec, split);
        if (count == 0)
            continue;
        const std::uint64_t combinations = combinationCount(templateSlots(spec, split));
        const std::string key = std::string("counts.") + splitName(split);
        if (combinations > kMaxCombinations)
            throw FormatError(source, keyWhere(key), "the template has more than 2^62 combinations of values");
        if (!spec.allowRepeats && static_cast<std::uint64_t>(count) > combinations)
            throw FormatError(source, keyWhere(key),
                std::to_string(count) + " prompts asked for, but the values give only " + std::to_string(combinations)
                    + " distinct combinations; lower the count or set allow_repeats");
    }
}

DiversitySpec diversitySpecFromJson(const json& object, const std::string& file)
{
    const io::JsonFields fields(object, file);
    refuseUnknownKeys(fields,
        { "version", "name", "description", "dimensions", "remain_template", "forget_template", "concept", "counts",
            "seed", "allow_repeats" });
    const auto version = fields.get<std::int64_t>("version", 1);
    if (version != 1)
        fields.fail("version", "expected 1 (the only preset version), found " + std::to_string(version));

    DiversitySpec spec;
    spec.name = fields.get<std::string>("name", "");
    spec.description = fields.get<std::string>("description", "");
    spec.remainTemplate = fields.require<std::string>("remain_template");
    spec.forgetTemplate = fields.get<std::string>("forget_template", "");

    if (!fields.has("dimensions"))
        fields.fail("dimensions", "missing");
    const json& dimensions = object.at("dimensions");
    if (!dimensions.is_object())
        fields.fail("dimensions",
            "expected an object mapping each dimension name to {\"train\": [...], \"test\": [...]}, found "
                + dimensions.dump());
    for (const auto& item : dimensions.items()) {
        const std::string key = "dimensions." + item.key();
        if (!item.value().is_object())
            throw FormatError(file, keyWhere(key),
                "expected an object with a \"train\" list and optionally a \"test\" list, found "
                    + item.value().dump());
        Dimension d;
        d.name = item.key();
        underKey(file, key, [&] {
            const io::JsonFields values(item.value(), file);
            refuseUnknownKeys(values, { "train", "test" });
            d.trainValues = values.stringList("train", {});
            d.testValues = values.stringList("test", {});
        });
        spec.dimensions.push_back(std::move(d));
    }

    if (!fields.has("concept"))
        fields.fail("concept", "missing: expected {\"words\": [...]} with the words forget prompts add");
    underKey(file, "concept", [&] {
        const io::JsonFields conceptFields(object.at("concept"), file);
        refuseUnknownKeys(conceptFields, { "words", "dimension" });
        if (!conceptFields.has("words"))
            conceptFields.fail("words", "missing");
        spec.forgetConcept.words = conceptFields.stringList("words", {});
        spec.forgetConcept.dimension = conceptFields.get<std::string>("dimension", "");
    });

    if (fields.has("counts")) {
        underKey(file, "counts", [&] {
            const io::JsonFields counts(object.at("counts"), file);
            refuseUnknownKeys(counts, { "forget", "remain_train", "remain_test" });
            spec.forgetCount = counts.get<std::int64_t>("forget", spec.forgetCount);
            spec.remainTrainCount = counts.get<std::int64_t>("remain_train", spec.remainTrainCount);
            spec.remainTestCount = counts.get<std::int64_t>("remain_test", spec.remainTestCount);
        });
    }
    if (fields.has("seed")) {
        const json& seed = object.at("seed");
        // Parsed text keeps non-negative integers as unsigned; JSON built in code may hold them as signed.
        if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<std::int64_t>() >= 0))
            fields.fail("seed", "expected a non-negative integer, found " + seed.dump());
        spec.seed = seed.get<std::uint64_t>();
    }
    spec.allowRepeats = fields.get<bool>("allow_repeats", true);

    validateDiversitySpec(spec, file);
    return spec;
}

DiversitySpec loadDiversityPreset(const std::filesystem::path& path)
{
    DiversitySpec spec = diversitySpecFromJson(io::readJsonObjectFile(path), path.string());
    if (spec.name.empty())
        spec.name = path.stem().string();
    return spec;
}

std::string diversitySpecToJson(const DiversitySpec& spec)
{
    nlohmann::ordered_json out;
    out["version"] = 1;
    out["name"] = spec.name;
    out["description"] = spec.description;
    nlohmann::ordered_json dimensions = nlohmann::ordered_json::object();
    for (const Dimension& d : spec.dimensions) {
        nlohmann::ordered_json values;
        values["train"] = d.trainValues;
        if (!d.testValues.empty())
            values["test"] = d.testValues;
        dimensions[d.name] = values;
    }
    out["dimensions"] = dimensions;
    out["remain_template"] = spec.remainTemplate;
    if (!spec.forgetTemplate.empty())
        out["forget_template"] = spec.forgetTemplate;
    nlohmann::ordered_json conceptJson;
    conceptJson["words"] = spec.forgetConcept.words;
    if (!spec.forgetConcept.dimension.empty())
        conceptJson["dimension"] = spec.forgetConcept.dimension;
    out["concept"] = conceptJson;
    out["counts"] = { { "forget", spec.forgetCount }, { "remain_train", spec.remainTrainCount },
        { "remain_test", spec.remainTestCount } };
    out["seed"] = spec.seed;
    out["allow_repeats"] = spec.allowRepeats;
    return io::jsonText(out, 2);
}

void saveDiversityPreset(const std::filesystem::path& path, const DiversitySpec& spec)
{
    validateDiversitySpec(spec, path.string());
    io::writeFileAtomically(path, diversitySpecToJson(spec));
}

} // namespace lethe::concepts
