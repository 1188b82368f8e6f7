#include "prompt_set.h"

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/csv_table.h"
#include "core/io/json_fields.h"
#include "core/io/json_number.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

namespace lethe::concepts {

using nlohmann::json;

namespace {

constexpr const char* kBom = "\xEF\xBB\xBF";

bool isBlankText(const std::string& text)
{
    return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

std::string trimmed(const std::string& text)
{
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos)
        return {};
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

std::string lowercase(std::string text)
{
    std::transform(
        text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

/// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool isUtf8(const std::string& text)
{
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        std::uint32_t value = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            length = 2;
            value = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            length = 3;
            value = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            length = 4;
            value = c & 0x07;
        } else {
            return false;
        }
        if (i + length > text.size())
            return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80)
                return false;
            value = (value << 6) | (next & 0x3F);
        }
        const std::uint32_t smallest[] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (value < smallest[length] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
            return false;
        i += length;
    }
    return true;
}

/// A non-negative decimal integer that fits int64, or nothing.
std::optional<std::int64_t> parseSeed(const std::string& text)
{
    if (text.empty() || text.size() > 19)
        return std::nullopt;
    std::int64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

Prompt promptFromItem(const json& item, const std::string& file, std::size_t number)
{
    const std::string where = "item " + std::to_string(number);
    if (item.is_string()) {
        Prompt prompt { item.get<std::string>(), std::nullopt, std::nullopt };
        if (isBlankText(prompt.text))
            throw FormatError(file, where, "the prompt is empty");
        return prompt;
    }
    if (!item.is_object())
        throw FormatError(
            file, where, "expected a prompt string or an object with a \"prompt\" key, found " + item.dump());

    const io::JsonFields fields(item, file + ": " + where);
    Prompt prompt;
    prompt.text = fields.require<std::string>("prompt");
    if (isBlankText(prompt.text))
        fields.fail("prompt", "the prompt is empty");
    if (fields.has("seed")) {
        const json& seed = item.at("seed");
        // nlohmann keeps non-negative integers as unsigned and negative ones as signed.
        const bool valid = seed.is_number_unsigned()
            ? seed.get<std::uint64_t>() <= std::uint64_t(std::numeric_limits<std::int64_t>::max())
            : seed.is_number_integer() && seed.get<std::int64_t>() >= 0;
        if (!valid)
            fields.fail("seed", "expected a non-negative integer, found " + seed.dump());
        prompt.seed = seed.get<std::int64_t>();
    }
    if (fields.has("case")) {
        const json& label = item.at("case");
        if (label.is_string())
            prompt.caseLabel = label.get<std::string>();
        else if (label.is_number_integer())
            prompt.caseLabel = label.dump();
        else
            fields.fail("case", "expected a string or an integer, found " + label.dump());
    }
    return prompt;
}

} // namespace

std::vector<Prompt> promptsFromJson(const json& list, const std::string& file)
{
    if (!list.is_array())
        throw FormatError(file, "top level",
            std::string("expected a list of prompts (strings or objects), found ") + list.type_name());
    if (list.empty())
        throw FormatError(file, "top level", "the prompt set is empty: expected at least one prompt");
    std::vector<Prompt> prompts;
    prompts.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i)
        prompts.push_back(promptFromItem(list[i], file, i + 1));
    return prompts;
}

std::vector<Prompt> parsePromptJson(const std::string& text, const std::string& file)
{
    const bool bom = text.compare(0, 3, kBom) == 0;
    const std::string body = bom ? text.substr(3) : text;
    if (isBlankText(body))
        throw FormatError(file, "", "the file is empty: expected a JSON list of prompts");
    json list;
    try {
        list = json::parse(body);
    } catch (const json::parse_error& e) {
        // The parser reports the byte after the last one it read; past the end means the text stopped early.
        const bool atEnd = e.byte >= body.size();
        throw FormatError(file, "byte " + std::to_string(e.byte + (bom ? 3 : 0)),
            atEnd ? "invalid JSON: the file ends in the middle of a value (is it truncated?)" : "invalid JSON");
    } catch (const json::out_of_range& e) {
        throw FormatError(file, "number " + io::overflowingNumber(e), "invalid JSON: out of range of a double");
    }
    return promptsFromJson(list, file);
}

std::vector<Prompt> parsePromptCsv(const std::string& text, const std::string& file)
{
    const std::vector<io::CsvRecord> records = io::parseCsv(text, file);
    if (records.empty())
        throw FormatError(file, "", "the file is empty: expected a header row with a 'prompt' column");

    const io::CsvRecord& header = records.front();
    const std::string headerWhere = "line " + std::to_string(header.line);
    std::optional<std::size_t> promptColumn;
    std::optional<std::size_t> seedColumn;
    std::optional<std::size_t> caseColumn;
    for (std::size_t c = 0; c < header.fields.size(); ++c) {
        const std::string name = trimmed(header.fields[c]);
        std::optional<std::size_t>* column = nullptr;
        if (name == "prompt")
            column = &promptColumn;
        else if (name == "evaluation_seed")
            column = &seedColumn;
        else if (name == "case_number")
            column = &caseColumn;
        if (!column)
            continue;
        if (*column)
            throw FormatError(file, headerWhere, "the header names the column '" + name + "' twice");
        *column = c;
    }
    if (!promptColumn) {
        std::string names;
        for (const std::string& field : header.fields)
            names += (names.empty() ? "" : ", ") + trimmed(field);
        throw FormatError(file, headerWhere,
            "expected a header row with a 'prompt' column (and optionally 'evaluation_seed' and "
            "'case_number'), found: "
                + names);
    }
    if (records.size() == 1)
        throw FormatError(file, "", "the prompt set is empty: the file has a header row but no prompts");

    std::vector<Prompt> prompts;
    prompts.reserve(records.size() - 1);
    for (std::size_t r = 1; r < records.size(); ++r) {
        const io::CsvRecord& record = records[r];
        const std::string where = "line " + std::to_string(record.line);
        if (record.fields.size() != header.fields.size())
            throw FormatError(file, where,
                "expected " + std::to_string(header.fields.size()) + " fields as in the header, found "
                    + std::to_string(record.fields.size()) + " (is the file truncated?)");
        Prompt prompt;
        prompt.text = record.fields[*promptColumn];
        if (isBlankText(prompt.text))
            throw FormatError(file, where + ", column 'prompt'", "the prompt is empty");
        if (!isUtf8(prompt.text))
            throw FormatError(file, where + ", column 'prompt'", "the prompt is not valid UTF-8 text");
        if (seedColumn) {
            const std::string seed = trimmed(record.fields[*seedColumn]);
            if (!seed.empty()) {
                prompt.seed = parseSeed(seed);
                if (!prompt.seed)
                    throw FormatError(file, where + ", column 'evaluation_seed'",
                        "expected a non-negative integer seed, found \"" + seed + "\"");
            }
        }
        if (caseColumn) {
            const std::string label = trimmed(record.fields[*caseColumn]);
            if (!isUtf8(label))
                throw FormatError(file, where + ", column 'case_number'", "the case label is not valid UTF-8 text");
            if (!label.empty())
                prompt.caseLabel = label;
        }
        prompts.push_back(std::move(prompt));
    }
    return prompts;
}

std::vector<Prompt> loadPromptSet(const std::filesystem::path& path)
{
    const std::string extension = lowercase(path.extension().string());
    if (extension != ".json" && extension != ".csv")
        throw FormatError(path.string(), "",
            "expected a prompt set ending in .json or .csv, found '" + path.extension().string() + "'");
    const std::string text = io::readFile(path);
    return extension == ".json" ? parsePromptJson(text, path.string()) : parsePromptCsv(text, path.string());
}

std::string promptSetToJson(const std::vector<Prompt>& prompts)
{
    if (prompts.empty())
        throw Error("cannot save an empty prompt set: a prompt set needs at least one prompt");
    std::string out = "[\n";
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const Prompt& prompt = prompts[i];
        if (isBlankText(prompt.text))
            throw Error("cannot save the prompt set: prompt " + std::to_string(i + 1) + " is empty");
        if (!isUtf8(prompt.text) || (prompt.caseLabel && !isUtf8(*prompt.caseLabel)))
            throw Error("cannot save the prompt set: prompt " + std::to_string(i + 1) + " is not valid UTF-8 text");
        if (prompt.seed && *prompt.seed < 0)
            throw Error("cannot save the prompt set: prompt " + std::to_string(i + 1) + " has the negative seed "
                + std::to_string(*prompt.seed));
        nlohmann::ordered_json item;
        item["prompt"] = prompt.text;
        if (prompt.seed)
            item["seed"] = *prompt.seed;
        if (prompt.caseLabel)
            item["case"] = *prompt.caseLabel;
        out += "  " + item.dump() + (i + 1 < prompts.size() ? ",\n" : "\n");
    }
    out += "]\n";
    return out;
}

void savePromptSet(const std::filesystem::path& path, const std::vector<Prompt>& prompts)
{
    io::writeFileAtomically(path, promptSetToJson(prompts));
}

} // namespace lethe::concepts
