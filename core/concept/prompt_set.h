#pragma once

// Forget and remain prompt sets for text-concept unlearning: reading them from JSON lists or from CSV files
// laid out like ESD's evaluation CSVs, and writing them back as JSON.
//
// JSON: a list whose items are prompt strings or objects:
//   ["a photo of a red sneaker", {"prompt": "a photo of a blue bag", "seed": 42, "case": "7"}]
// "prompt" is required and not empty; "seed" is optional, a non-negative integer; "case" is optional, a string
// or an integer (kept as its decimal text). Other keys are ignored. Items are counted from 1 in messages.
//
// CSV: a header row, then one prompt a row. Columns: `prompt` (required), `evaluation_seed` and `case_number`
// (optional; an empty cell means none), any others ignored. Quoting as core/io/csv_table.h describes.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lethe::concepts {

/// One prompt of a forget or remain set.
struct Prompt {
    std::string text;
    /// The seed of the image made from this prompt, when the set fixes one.
    std::optional<std::int64_t> seed;
    /// A label that ties the prompt to outside records (ESD's case_number).
    std::optional<std::string> caseLabel;

    bool operator==(const Prompt& other) const
    {
        return text == other.text && seed == other.seed && caseLabel == other.caseLabel;
    }
    bool operator!=(const Prompt& other) const { return !(*this == other); }
};

/// Reads a prompt set by the file's extension (.json or .csv, any case). Throws IoError when the file
/// cannot be read and FormatError naming the file and the item, line or key for anything malformed, an
/// empty prompt or an empty set.
std::vector<Prompt> loadPromptSet(const std::filesystem::path& path);

/// Parses the text of a JSON prompt list; `file` names it in messages.
std::vector<Prompt> parsePromptJson(const std::string& text, const std::string& file);

/// Parses a JSON prompt list already read; `file` names it in messages.
std::vector<Prompt> promptsFromJson(const nlohmann::json& list, const std::string& file);

/// Parses the text of a prompt CSV; `file` names it in messages.
std::vector<Prompt> parsePromptCsv(const std::string& text, const std::string& file);

/// The JSON list for a prompt set: one object a line, keys "prompt", then "seed" and "case" where set.
/// Throws Error for an empty set or an empty prompt, which loadPromptSet() would refuse.
std::string promptSetToJson(const std::vector<Prompt>& prompts);

/// Writes promptSetToJson() to `path` atomically.
void savePromptSet(const std::filesystem::path& path, const std::vector<Prompt>& prompts);

} // namespace lethe::concepts
