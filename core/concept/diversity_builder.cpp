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

/// An independent generator per stream number.
std::mt19937_64 stream(std::uint64_t seed, std::uint64_t number)
{
    return std::mt19937_64(splitMix64(seed ^ splitMix64(number + 1)));
}

/// An independent generator per (seed, split, purpose): streams 0…5.
std::mt19937_64 streamFor(std::uint64_t seed, PromptSplit split, int purpose)
{
    return stream(seed, static_cast<std::uint64_t>(split) * 2 + static_cast<std::uint64_t>(purpose));
}

/// The twins' own stream, after the splits' six: it chooses the values the forget prompts do not fix.
constexpr std::uint64_t kTwinStream = 6;

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

/// `count` indices into `combinations`: full passes over every combination while needed, each in a new order,
/// then a partial pass without replacement.
std::vector<std::uint64_t> combinationOrder(std::uint64_t combinations, std::uint64_t count, std::mt19937_64& rng)
{
    std::vector<std::uint64_t> indices;
    indices.reserve(count);
    while (indices.size() < count) {
        const std::uint64_t take = std::min<std::uint64_t>(combinations, count - indices.size());
        appendPartialPermutation(indices, combinations, take, rng);
    }
    return indices;
}

/// The value of each slot for a combination index: mixed radix, the last placeholder varying fastest.
std::vector<std::size_t> choiceOf(std::uint64_t index, const std::vector<TemplateSlot>& slots)
{
    std::vector<std::size_t> choice(slots.size());
    for (std::size_t s = slots.size(); s-- > 0;) {
        choice[s] = static_cast<std::size_t>(index % slots[s].values.size());
        index /= slots[s].values.size();
    }
    return choice;
}

/// A split's prompts with the combination each was filled with (choiceOf() gives its values).
struct SplitDraw {
    std::vector<TemplateSlot> slots;
    std::vector<std::uint64_t> combinations;
    std::vector<Prompt> prompts;
};

SplitDraw drawSplit(const DiversitySpec& spec, PromptSplit split)
{
    SplitDraw draw;
    const auto count = static_cast<std::uint64_t>(splitCount(spec, split));
    if (count == 0)
        return draw;
    draw.slots = templateSlots(spec, split);
    const std::uint64_t combinations = combinationCount(draw.slots);
    if (combinations == 0)
        throw Error(std::string("prompt preset: the ") + splitName(split) + " template has no values to fill");
    if (count > combinations && !spec.allowRepeats)
        throw Error(std::string("prompt preset: ") + std::to_string(count) + " " + splitName(split)
            + " prompts asked for, but the values give only " + std::to_string(combinations)
            + " distinct combinations");

    std::mt19937_64 order = streamFor(spec.seed, split, 0);
    draw.combinations = combinationOrder(combinations, count, order);
    std::mt19937_64 seeds = streamFor(spec.seed, split, 1);
    std::unordered_set<std::uint64_t> usedSeeds;
    const std::string text = splitTemplate(spec, split);
    draw.prompts.reserve(count);
    for (const std::uint64_t index : draw.combinations) {
        std::uint64_t seed = boundedRandom(seeds, kSeedBound);
        while (!usedSeeds.insert(seed).second)
            seed = boundedRandom(seeds, kSeedBound);
        draw.prompts.push_back(Prompt {
            fill(text, draw.slots, choiceOf(index, draw.slots)), static_cast<std::int64_t>(seed), std::nullopt });
    }
    return draw;
}

std::vector<Prompt> twinsOf(const DiversitySpec& spec, const SplitDraw& forget)
{
    // Each remain slot takes the forget prompt's value of the same dimension, except the concept dimension and
    // any dimension the forget template lacks: those "free" slots take a remain value, their combinations drawn
    // from the twin stream as a split draws its combinations (every one once per pass, each pass in a new order).
    const std::vector<TemplateSlot> slots = templateSlots(spec, PromptSplit::RemainTrain);
    constexpr std::size_t kFree = std::numeric_limits<std::size_t>::max();
    std::vector<std::size_t> fromForget(slots.size(), kFree);
    std::vector<TemplateSlot> free;
    std::vector<std::size_t> freeSlot;
    for (std::size_t s = 0; s < slots.size(); ++s) {
        for (std::size_t f = 0; f < forget.slots.size(); ++f)
            if (forget.slots[f].name == slots[s].name && slots[s].name != spec.forgetConcept.dimension)
                fromForget[s] = f;
        if (fromForget[s] == kFree) {
            free.push_back(slots[s]);
            freeSlot.push_back(s);
        }
    }
    std::vector<std::uint64_t> freeIndices(forget.prompts.size(), 0);
    if (!free.empty()) {
        std::mt19937_64 order = stream(spec.seed, kTwinStream);
        freeIndices = combinationOrder(combinationCount(free), forget.prompts.size(), order);
    }
    std::vector<Prompt> twins;
    twins.reserve(forget.prompts.size());
    for (std::size_t i = 0; i < forget.prompts.size(); ++i) {
        std::vector<std::size_t> choice(slots.size());
        const std::vector<std::size_t> forgetChoice = choiceOf(forget.combinations[i], forget.slots);
        const std::vector<std::size_t> freeChoice = choiceOf(freeIndices[i], free);
        for (std::size_t k = 0; k < free.size(); ++k)
            choice[freeSlot[k]] = freeChoice[k];
        for (std::size_t s = 0; s < slots.size(); ++s) {
            if (fromForget[s] == kFree)
                continue;
            // The same dimension has the same training values in both templates.
            const std::string& value = forget.slots[fromForget[s]].values[forgetChoice[fromForget[s]]];
            const auto& values = slots[s].values;
            choice[s] = static_cast<std::size_t>(std::find(values.begin(), values.end(), value) - values.begin());
        }
        twins.push_back(Prompt { fill(spec.remainTemplate, slots, choice), forget.prompts[i].seed, std::nullopt });
    }
    return twins;
}

} // namespace

std::vector<Prompt> buildPromptSplit(const DiversitySpec& spec, PromptSplit split)
{
    return drawSplit(spec, split).prompts;
}

std::vector<Prompt> buildTwins(const DiversitySpec& spec)
{
    return twinsOf(spec, drawSplit(spec, PromptSplit::Forget));
}

DiversePrompts buildDiversePrompts(const DiversitySpec& spec)
{
    validateDiversitySpec(spec, spec.name.empty() ? "prompt preset" : "prompt preset '" + spec.name + "'");
    DiversePrompts sets;
    const SplitDraw forget = drawSplit(spec, PromptSplit::Forget);
    sets.forget = forget.prompts;
    sets.twins = twinsOf(spec, forget);
    sets.remainTrain = buildPromptSplit(spec, PromptSplit::RemainTrain);
    sets.remainTest = buildPromptSplit(spec, PromptSplit::RemainTest);
    sets.forgetCombinations = combinationCount(templateSlots(spec, PromptSplit::Forget));
    sets.remainTrainCombinations = combinationCount(templateSlots(spec, PromptSplit::RemainTrain));
    sets.remainTestCombinations = combinationCount(templateSlots(spec, PromptSplit::RemainTest));
    return sets;
}

DiversitySpec plainRemainSpec(const DiversitySpec& spec)
{
    DiversitySpec plain = spec;
    for (Dimension& dimension : plain.dimensions)
        if (dimension.name != spec.forgetConcept.dimension && !dimension.trainValues.empty())
            dimension.trainValues.resize(1);
    validateDiversitySpec(plain, "prompt preset '" + spec.name + "' (plain remain set)");
    return plain;
}

std::vector<std::string> otherConceptValues(const DiversitySpec& spec)
{
    const Dimension* dimension = spec.dimension(spec.forgetConcept.dimension);
    if (spec.forgetConcept.dimension.empty() || !dimension)
        return {};
    std::vector<std::string> out;
    const auto& words = spec.forgetConcept.words;
    for (const std::string& value : dimension->trainValues)
        if (std::find(words.begin(), words.end(), value) == words.end())
            out.push_back(value);
    return out;
}

} // namespace lethe::concepts
