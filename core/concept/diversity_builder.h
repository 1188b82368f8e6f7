#pragma once

// Builds D_f, D_r,train and D_r,test from a DiversitySpec (docs/method.md §3).

#include "diversity_preset.h"
#include "prompt_set.h"

#include <cstdint>
#include <vector>

namespace lethe::concepts {

/// The three prompt sets of a preset, D_f's twins, and how many distinct prompts each template allows.
struct DiversePrompts {
    std::vector<Prompt> forget;
    /// twins[i] is forget[i] without the concept, with forget[i]'s image seed (buildTwins()).
    std::vector<Prompt> twins;
    std::vector<Prompt> remainTrain;
    std::vector<Prompt> remainTest;
    std::uint64_t forgetCombinations = 0;
    std::uint64_t remainTrainCombinations = 0;
    std::uint64_t remainTestCombinations = 0;
};

/// Validates the spec (FormatError with source "prompt preset 'NAME'") and builds all three sets.
DiversePrompts buildDiversePrompts(const DiversitySpec& spec);

/// One set of a validated spec: splitCount() prompts, each a distinct combination of the split's values
/// (without replacement while combinations last; then as DiversitySpec::allowRepeats says), in a seeded
/// random order, each with its own image seed in [0, 2^31) that no other prompt of the set shares. The
/// same spec gives the same prompts on every platform. Each split draws from its own seeded streams, so
/// changing one count leaves the other sets unchanged.
std::vector<Prompt> buildPromptSplit(const DiversitySpec& spec, PromptSplit split);

/// The remain twin of every forget prompt of a validated spec, in D_f's order: the remain template filled with
/// the forget prompt's values; the concept dimension, and any dimension of the remain template that the forget
/// template lacks, take remain training values (concept words removed) drawn from the twins' own seeded stream,
/// every combination of them once per pass, each pass in a new order. A twin keeps its forget prompt's image
/// seed, so that the two images start from the same noise. "A joyful naked person on a rooftop." → "A joyful
/// person on a rooftop."; "a photo of a red sneaker" → "a photo of a red coat".
std::vector<Prompt> buildTwins(const DiversitySpec& spec);

/// The spec of a plain remain set, RG's (the paper's ablation without diversity): `spec` with every dimension except
/// the concept's reduced to its first training value, so that remain prompts vary only in the concept dimension
/// ("a photo of a red {object}"). Test values and counts are kept. Throws FormatError as validateDiversitySpec().
DiversitySpec plainRemainSpec(const DiversitySpec& spec);

/// The training values of the concept dimension that are not concept words (forgetting "sneaker": the nine other
/// garments); empty when the concept has no dimension. What UCE preserves by default.
std::vector<std::string> otherConceptValues(const DiversitySpec& spec);

} // namespace lethe::concepts
