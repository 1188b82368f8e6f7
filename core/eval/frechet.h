#pragma once

#include <torch/types.h>

#include <cstdint>

namespace lethe::eval {

/// Report names: these measures live in the Lethe classifier's feature space, not Inception's, and are
/// named so that nobody mistakes them for FID / KID.
inline constexpr const char* kFrechetName = "FD_cls";
inline constexpr const char* kKidName = "KID_cls";

/// Mean and covariance of a feature set, in double precision on the CPU.
struct FeatureStatistics {
    torch::Tensor mean;        ///< float64 D.
    torch::Tensor covariance;  ///< float64 D×D, unbiased (divided by N − 1).
    std::int64_t count = 0;    ///< Number of feature vectors.
};

/// Statistics of N×D features (any device and floating type; N ≥ 2). Throws Error otherwise.
FeatureStatistics featureStatistics(const torch::Tensor& features);

/// Fréchet distance ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½) in double. The trace of the matrix square root is
/// taken from the symmetric form Σ₁^½ Σ₂ Σ₁^½ by eigen-decomposition, with tiny negative eigenvalues
/// (rounding) clamped to zero. Throws Error when the dimensions differ.
double frechetDistance(const FeatureStatistics& a, const FeatureStatistics& b);

/// Fréchet distance between two feature sets (N₁×D and N₂×D).
double frechetDistance(const torch::Tensor& featuresA, const torch::Tensor& featuresB);

/// Kernel distance estimate: mean and standard deviation over subsets.
struct KidResult {
    double mean = 0.0;
    double std = 0.0;             ///< Population standard deviation over the subsets.
    std::int64_t subsetSize = 0;  ///< Size actually used (capped by the smaller set).
    int subsets = 0;
};

/// KID: the unbiased MMD² with the kernel k(x, y) = (x·y / D + 1)³, averaged over `subsets` pairs of random
/// subsets of `subsetSize` items drawn without replacement (seeded; the same on every platform). Computed in
/// double on the CPU. Throws Error when a set has fewer than 2 items or the dimensions differ.
KidResult kernelInceptionDistance(const torch::Tensor& featuresA, const torch::Tensor& featuresB,
                                  std::int64_t subsetSize = 1000, int subsets = 100, std::uint64_t seed = 0);

} // namespace lethe::eval
