#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace lethe::data {

/// Indices (ascending) of every item whose label is `label`.
std::vector<std::int64_t> classIndices(const torch::Tensor& labels, std::int64_t label);

/// Indices (ascending) of every item whose label is not in `excluded`.
std::vector<std::int64_t> indicesExcluding(const torch::Tensor& labels, const std::vector<std::int64_t>& excluded);

/// `perClass` indices of every class in [0, classCount) not in `excluded`, chosen at random with `seed`,
/// grouped by class in ascending class order. The same seed gives the same subset on every platform.
/// Throws Error when a class has fewer than `perClass` items.
std::vector<std::int64_t> balancedSubset(const torch::Tensor& labels, int classCount, std::int64_t perClass,
                                         std::uint64_t seed, const std::vector<std::int64_t>& excluded = {});

/// A deterministic random permutation of [0, n) (same on every platform for a seed).
std::vector<std::int64_t> seededPermutation(std::int64_t n, std::uint64_t seed);

} // namespace lethe::data
