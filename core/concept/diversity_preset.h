#pragma once

// The description of a diverse prompt set (Ko et al. 2024, docs/method.md §3): semantic dimensions with training
// values and held-out test values, a remain template, and the concept that forget prompts add.
//
// Preset file (JSON object; only "dimensions", "remain_template" and "concept" are required, unknown keys are
// refused so that a misspelt key does not silently fall back to a default):
//
//   {
//     "version": 1,
//     "name": "paper-nudity",
//     "description": "…",
//     "dimensions": {
//       "mood":     {"train": ["joyful", "tense"], "test": ["hopeful"]},
//       "activity": {"train": ["sitting", "dancing"], "test": ["painting"]}
//     },
//     "remain_template": "A {mood} person {activity}.",
//     "forget_template": "A {mood} {concept} person {activity}.",
//     "concept": {"words": ["naked", "nude"], "dimension": "…"},
//     "counts": {"forget": 800, "remain_train": 800, "remain_test": 100},
//     "seed": 0,
//     "allow_repeats": true
//   }
//
// - dimensions: name → {"train": [...], "test": [...]}. Names are letters, digits and '_'; "concept" is
//   reserved. Values are non-empty and distinct; test values (held out: only D_r,test uses them) must not
//   repeat a training value. A dimension without "test" is shared: D_r,test uses its training values too
//   (e.g. the object of "a photo of a {colour} {object}" when only colours are held out). At least one
//   dimension of the remain template must have test values when remain_test > 0.
// - Templates: text with {name} placeholders, each naming a dimension; a placeholder may appear more than
//   once (the same value each time). No other braces. Every dimension appears in at least one template.
// - forget_template: uses {concept} for the concept word. When absent, it is the remain template with the
//   concept dimension's placeholder replaced by {concept} ("a photo of a {colour} {object}" with concept
//   dimension "object" → "a photo of a {colour} {concept}").
// - concept.words: the words forget prompts put in {concept}. concept.dimension (optional): a dimension from
//   whose values the concept words are removed for remain prompts (forget "sneaker" → no remain prompt shows a
//   sneaker). No value or template text that remain prompts use may contain a concept word as a whole word
//   (case-insensitive; a word is letters, digits and '-', so "shirt" is not found in "t-shirt").
// - counts: prompts of D_f, D_r,train and D_r,test (defaults 800, 800, 100: the paper's); forget and
//   remain_train at least 1, remain_test at least 0.
// - seed: chooses the combinations and the images' seeds (default 0).
// - allow_repeats (default true): when a set asks for more prompts than its template has distinct
//   combinations, every combination is used once per full pass (each pass in a new seeded order) and the
//   last pass is partial, so each combination appears ⌊n/C⌋ or ⌈n/C⌉ times, each time with its own image
//   seed. When false, asking for more than C prompts is an error.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lethe::concepts {

/// One semantic dimension: the values prompts draw from.
struct Dimension {
    std::string name;
    /// Values of D_f and D_r,train.
    std::vector<std::string> trainValues;
    /// Held-out values, used only by D_r,test; empty = shared (D_r,test uses trainValues).
    std::vector<std::string> testValues;
};

/// What forget prompts add, and where it must not appear in remain prompts.
struct ConceptRule {
    /// Words put in the forget template's {concept} ("naked", "nude", …; or "sneaker"; or "red").
    std::vector<std::string> words;
    /// A dimension whose values lose the concept words in remain prompts; empty = none.
    std::string dimension;
};

/// A whole preset; the defaults are the paper's counts.
struct DiversitySpec {
    std::string name;
    std::string description;
    std::vector<Dimension> dimensions;
    std::string remainTemplate;
    /// Empty = derived from remainTemplate and forgetConcept.dimension.
    std::string forgetTemplate;
    ConceptRule forgetConcept;
    std::int64_t forgetCount = 800;
    std::int64_t remainTrainCount = 800;
    std::int64_t remainTestCount = 100;
    std::uint64_t seed = 0;
    bool allowRepeats = true;

    /// The dimension called `name`, or nullptr.
    const Dimension* dimension(const std::string& name) const;
    /// The forget template as used: forgetTemplate, or the one derived from the concept dimension.
    std::string effectiveForgetTemplate() const;
};

/// The three prompt sets a preset makes.
enum class PromptSplit {
    Forget, ///< D_f: the forget template with training values and the concept words.
    RemainTrain, ///< D_r,train: the remain template with training values.
    RemainTest, ///< D_r,test: the remain template with held-out values (training values for shared dimensions).
};

/// The split's name as the preset's "counts" keys spell it: "forget", "remain_train", "remain_test".
const char* splitName(PromptSplit split);

/// One placeholder of a split's template and the values it takes in that split.
struct TemplateSlot {
    std::string name;
    std::vector<std::string> values;
};

/// The template a split fills: the effective forget template, or the remain template.
std::string splitTemplate(const DiversitySpec& spec, PromptSplit split);

/// The placeholders of the split's template in order of first appearance, each with its values there (the
/// concept words for {concept}; concept words removed from the concept dimension in remain splits). The spec
/// must have passed validateDiversitySpec().
std::vector<TemplateSlot> templateSlots(const DiversitySpec& spec, PromptSplit split);

/// The number of distinct prompts the slots can make (the product of their value counts), saturating at
/// UINT64_MAX.
std::uint64_t combinationCount(const std::vector<TemplateSlot>& slots);

/// The prompts a spec asks for in a split.
std::int64_t splitCount(const DiversitySpec& spec, PromptSplit split);

/// Reads and checks a preset file. Throws IoError, or FormatError(path, "key '…'", …) naming what is wrong.
DiversitySpec loadDiversityPreset(const std::filesystem::path& path);

/// Reads and checks a preset already parsed; `file` names it in messages.
DiversitySpec diversitySpecFromJson(const nlohmann::json& object, const std::string& file);

/// Checks everything the builder relies on (see the format above). Throws FormatError(source, "key '…'", …)
/// with the key the preset file would use; `source` names the preset (a file name, or "prompt preset 'x'").
void validateDiversitySpec(const DiversitySpec& spec, const std::string& source);

/// The preset as JSON text in the format above (every key, except optional ones that are unset).
std::string diversitySpecToJson(const DiversitySpec& spec);

/// Writes diversitySpecToJson() to `path` atomically, after validateDiversitySpec().
void saveDiversityPreset(const std::filesystem::path& path, const DiversitySpec& spec);

/// Where `word` first occurs in `text` as a whole word (ASCII case-insensitive; words are letters, digits and '-',
/// so that "shirt" is not found in "t-shirt"); nullopt when it does not.
std::optional<std::size_t> findWord(const std::string& text, const std::string& word);
/// Whether findWord() finds `word` in `text`.
bool containsWord(const std::string& text, const std::string& word);

/// The placeholder names of a template in order of first appearance. Throws FormatError(source, "key 'k'",
/// …) for an unclosed '{', a '}' without '{', or an empty or malformed name.
std::vector<std::string> templatePlaceholders(
    const std::string& text, const std::string& source, const std::string& key);

} // namespace lethe::concepts
