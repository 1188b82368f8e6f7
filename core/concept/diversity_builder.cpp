#include "diversity_builder.h"

#include "core/error.h"

#include <algorithm>
#include <limits>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace lethe::concepts {

namespace {

/// Image seeds stay below 2^31 so that tools reading them as 32-bit integers (ESD's scripts) agree.
constexpr std::uint64_t kSeedBound = std::uint64_t(1) << 31;

std::uint64_t splitMix64(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/// An independent generator per (seed, split, purpose).
std::mt19937_64 streamFor(std::uint64_t seed, PromptSplit split, int purpose)
{
    const auto stream = static_cast<std::uint64_t>(split) * 2 + static_cast<std::uint64_t>(purpose);
    return std::mt19937_64(splitMix64(seed ^ splitMix64(stream + 1)));
}

/// Unbiased integer in [0, bound) by rejection, the same on every standard library.
std::uint64_t boundedRandom(std::mt19937_64& rng, std::uint64_t bound)
{
    const std::uint64_t limit
        = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
    std::uint64_t value = rng();
    while (value >= limit)
        value = rng();
    return value % bound;
}

/// The first `count` entries of a seeded random permutation of [0, n), without materialising it
/// (a Fisher–Yates shuffle that remembers only the swapped positions).
void appendPartialPermutation(
    std::vector<std::uint64_t>& out, std::uint64_t n, std::uint64_t count, std::mt19937_64& rng)
{
    std::unordered_map<std::uint64_t, std::uint64_t> swapped;
    const auto valueAt = [&](std::uint64_t i) {
        const auto it = swapped.find(i);
        return it == swapped.end() ? i : it->second;
    };
    for (std::uint64_t i = 0; i < count; ++i) {
        const std::uint64_t j = i + boundedRandom(rng, n - i);
        const std::uint64_t atI = valueAt(i);
        const std::uint64_t atJ = valueAt(j);
        swapped[j] = atI;
        out.push_back(atJ);
    }
}

std::string fill(
    const std::string& text, const std::vector<TemplateSlot>& slots, const std::vector<std::size_t>& choice)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '{') {
            out += text[i];
            continue;
        }
        const std::size_t close = text.find('}', i);
        const std::string name = text.substr(i + 1, close - i - 1);
        for (std::size_t s = 0; s < slots.size(); ++s)
            if (slots[s].name == name)
                out += slots[s].values[choice[s]];
        i = close;
    }
    return out;
}

} // namespace

std::vector<Prompt> buildPromptSplit(const DiversitySpec& spec, PromptSplit split)
{
    const auto count = static_cast<std::uint64_t>(splitCount(spec, split));
    if (count == 0)
        return {};
    const std::vector<TemplateSlot> slots = templateSlots(spec, split);
    const std::uint64_t combinations = combinationCount(slots);
    if (combinations == 0)
        throw Error(std::string("prompt preset: the ") + splitName(split) + " template has no values to fill");
    if (count > combinations && !spec.allowRepeats)
        throw Error(std::string("prompt preset: ") + std::to_string(count) + " " + splitName(split)
            + " prompts asked for, but the values give only " + std::to_string(combinations)
            + " distinct combinations");

    // Combination indices: full passes over every combination while needed, each in a new order, then a
    // partial pass without replacement.
    std::mt19937_64 order = streamFor(spec.seed, split, 0);
    std::vector<std::uint64_t> indices;
    indices.reserve(count);
    while (indices.size() < count) {
        const std::uint64_t take = std::min<std::uint64_t>(combinations, count - indices.size());
        appendPartialPermutation(indices, combinations, take, order);
    }

    std::mt19937_64 seeds = streamFor(spec.seed, split, 1);
    std::unordered_set<std::uint64_t> usedSeeds;
    const std::string text = splitTemplate(spec, split);
    std::vector<Prompt> prompts;
    prompts.reserve(count);
    std::vector<std::size_t> choice(slots.size());
    for (std::uint64_t index : indices) {
        // Mixed radix, the last placeholder varying fastest.
        for (std::size_t s = slots.size(); s-- > 0;) {
            choice[s] = static_cast<std::size_t>(index % slots[s].values.size());
            index /= slots[s].values.size();
        }
        std::uint64_t seed = boundedRandom(seeds, kSeedBound);
        while (!usedSeeds.insert(seed).second)
            seed = boundedRandom(seeds, kSeedBound);
        prompts.push_back(Prompt { fill(text, slots, choice), static_cast<std::int64_t>(seed), std::nullopt });
    }
    return prompts;
}

DiversePrompts buildDiversePrompts(const DiversitySpec& spec)
{
    validateDiversitySpec(spec, spec.name.empty() ? "prompt preset" : "prompt preset '" + spec.name + "'");
    DiversePrompts sets;
    sets.forget = buildPromptSplit(spec, PromptSplit::Forget);
    sets.remainTrain = buildPromptSplit(spec, PromptSplit::RemainTrain);
    sets.remainTest = buildPromptSplit(spec, PromptSplit::RemainTest);
    sets.forgetCombinations = combinationCount(templateSlots(spec, PromptSplit::Forget));
    sets.remainTrainCombinations = combinationCount(templateSlots(spec, PromptSplit::RemainTrain));
    sets.remainTestCombinations = combinationCount(templateSlots(spec, PromptSplit::RemainTest));
    return sets;
}

} // namespace lethe::concepts
