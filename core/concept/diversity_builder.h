#pragma once

// Builds D_f, D_r,train and D_r,test from a DiversitySpec (docs/method.md §3).

#include "diversity_preset.h"
#include "prompt_set.h"

#include <cstdint>
#include <vector>

namespace lethe::concepts {

/// The three prompt sets of a preset, and how many distinct prompts each template allows.
struct DiversePrompts {
    std::vector<Prompt> forget;
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

} // namespace lethe::concepts
