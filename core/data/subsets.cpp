#include "subsets.h"

#include "../error.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace lethe::data {

namespace {

/// Unbiased integer in [0, bound) by rejection, so results do not depend on the standard library's
/// distribution implementation (std::uniform_int_distribution differs between libraries).
std::uint64_t boundedRandom(std::mt19937_64& rng, std::uint64_t bound)
{
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
    std::uint64_t value = rng();
    while (value >= limit)
        value = rng();
    return value % bound;
}

void seededShuffle(std::vector<std::int64_t>& items, std::mt19937_64& rng)
{
    for (std::size_t i = items.size(); i > 1; --i)
        std::swap(items[i - 1], items[boundedRandom(rng, i)]);
}

std::vector<std::int64_t> labelVector(const torch::Tensor& labels)
{
    const torch::Tensor cpu = labels.to(torch::kCPU, torch::kInt64).contiguous();
    const auto* data = cpu.data_ptr<std::int64_t>();
    return std::vector<std::int64_t>(data, data + cpu.numel());
}

} // namespace

std::vector<std::int64_t> classIndices(const torch::Tensor& labels, std::int64_t label)
{
    const auto values = labelVector(labels);
    std::vector<std::int64_t> indices;
    for (std::size_t i = 0; i < values.size(); ++i)
        if (values[i] == label)
            indices.push_back(static_cast<std::int64_t>(i));
    return indices;
}

std::vector<std::int64_t> indicesExcluding(const torch::Tensor& labels, const std::vector<std::int64_t>& excluded)
{
    const auto values = labelVector(labels);
    std::vector<std::int64_t> indices;
    for (std::size_t i = 0; i < values.size(); ++i)
        if (std::find(excluded.begin(), excluded.end(), values[i]) == excluded.end())
            indices.push_back(static_cast<std::int64_t>(i));
    return indices;
}

std::vector<std::int64_t> balancedSubset(const torch::Tensor& labels, int classCount, std::int64_t perClass,
                                         std::uint64_t seed, const std::vector<std::int64_t>& excluded)
{
    if (perClass < 1)
        throw Error("a balanced subset needs at least 1 image per class, not " + std::to_string(perClass));
    std::mt19937_64 rng(seed);
    std::vector<std::int64_t> subset;
    for (std::int64_t c = 0; c < classCount; ++c) {
        if (std::find(excluded.begin(), excluded.end(), c) != excluded.end())
            continue;
        auto members = classIndices(labels, c);
        if (static_cast<std::int64_t>(members.size()) < perClass)
            throw Error("class " + std::to_string(c) + " has " + std::to_string(members.size())
                        + " images, fewer than the " + std::to_string(perClass) + " per class requested");
        seededShuffle(members, rng);
        members.resize(static_cast<std::size_t>(perClass));
        std::sort(members.begin(), members.end());
        subset.insert(subset.end(), members.begin(), members.end());
    }
    return subset;
}

std::vector<std::int64_t> seededPermutation(std::int64_t n, std::uint64_t seed)
{
    std::vector<std::int64_t> items(static_cast<std::size_t>(n));
    std::iota(items.begin(), items.end(), 0);
    std::mt19937_64 rng(seed);
    seededShuffle(items, rng);
    return items;
}

} // namespace lethe::data
