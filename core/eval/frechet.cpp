#include "frechet.h"

#include "core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace lethe::eval {

namespace {

torch::Tensor asCpuDouble(const torch::Tensor& features, const char* what)
{
    if (!features.defined() || features.dim() != 2)
        throw Error(std::string(what) + ": expected features N×D");
    if (features.size(0) < 2)
        throw Error(std::string(what) + ": need at least 2 feature vectors, found " + std::to_string(features.size(0)));
    return features.detach().to(torch::kCPU, torch::kFloat64).contiguous();
}

/// Symmetric positive semi-definite square root through eigh; rounding can make zero eigenvalues
/// slightly negative, which would give NaN square roots.
torch::Tensor psdSqrt(const torch::Tensor& symmetric)
{
    auto [values, vectors] = torch::linalg::eigh(symmetric, "L");
    const torch::Tensor roots = values.clamp_min(0.0).sqrt();
    return (vectors * roots.unsqueeze(0)).matmul(vectors.transpose(0, 1));
}

torch::Tensor symmetrized(const torch::Tensor& m)
{
    return (m + m.transpose(0, 1)) * 0.5;
}

} // namespace

FeatureStatistics featureStatistics(const torch::Tensor& features)
{
    const torch::Tensor x = asCpuDouble(features, "feature statistics");
    FeatureStatistics stats;
    stats.count = x.size(0);
    stats.mean = x.mean(0);
    const torch::Tensor centred = x - stats.mean.unsqueeze(0);
    stats.covariance = symmetrized(centred.transpose(0, 1).matmul(centred) / static_cast<double>(stats.count - 1));
    return stats;
}

double frechetDistance(const FeatureStatistics& a, const FeatureStatistics& b)
{
    if (!a.mean.defined() || !b.mean.defined() || !a.covariance.defined() || !b.covariance.defined())
        throw Error("Fréchet distance: statistics are empty");
    const std::int64_t dim = a.mean.numel();
    if (b.mean.numel() != dim || a.covariance.sizes() != torch::IntArrayRef{dim, dim} ||
        b.covariance.sizes() != torch::IntArrayRef{dim, dim})
        throw Error("Fréchet distance: feature dimensions differ (" + std::to_string(dim) + " and " +
                    std::to_string(b.mean.numel()) + ") or covariances are not D×D");
    const torch::Tensor mu1 = a.mean.to(torch::kCPU, torch::kFloat64);
    const torch::Tensor mu2 = b.mean.to(torch::kCPU, torch::kFloat64);
    const torch::Tensor sigma1 = symmetrized(a.covariance.to(torch::kCPU, torch::kFloat64));
    const torch::Tensor sigma2 = symmetrized(b.covariance.to(torch::kCPU, torch::kFloat64));

    const double meanTerm = (mu1 - mu2).pow(2).sum().item<double>();
    // Tr((Σ₁Σ₂)^½) = Tr((Σ₁^½ Σ₂ Σ₁^½)^½): the product is similar to Σ₁Σ₂ but symmetric PSD, so eigh applies.
    const torch::Tensor root1 = psdSqrt(sigma1);
    const torch::Tensor inner = symmetrized(root1.matmul(sigma2).matmul(root1));
    const torch::Tensor eigenvalues = torch::linalg::eigvalsh(inner, "L");
    const double traceSqrt = eigenvalues.clamp_min(0.0).sqrt().sum().item<double>();
    const double distance =
        meanTerm + sigma1.trace().item<double>() + sigma2.trace().item<double>() - 2.0 * traceSqrt;
    // Mathematically non-negative; only rounding takes it below zero.
    return std::max(0.0, distance);
}

double frechetDistance(const torch::Tensor& featuresA, const torch::Tensor& featuresB)
{
    return frechetDistance(featureStatistics(featuresA), featureStatistics(featuresB));
}

namespace {

/// The first `k` entries of a seeded partial Fisher–Yates shuffle of [0, n): a subset without replacement.
/// Uses raw generator bits (not std::uniform_int_distribution) so it is the same on every standard library.
torch::Tensor randomSubset(std::int64_t n, std::int64_t k, std::mt19937_64& rng)
{
    std::vector<std::int64_t> items(static_cast<std::size_t>(n));
    std::iota(items.begin(), items.end(), std::int64_t{0});
    for (std::int64_t i = 0; i < k; ++i) {
        const auto j = i + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n - i));
        std::swap(items[static_cast<std::size_t>(i)], items[static_cast<std::size_t>(j)]);
    }
    return torch::tensor(std::vector<std::int64_t>(items.begin(), items.begin() + k), torch::kInt64);
}

double unbiasedMmd2(const torch::Tensor& x, const torch::Tensor& y)
{
    const auto m = static_cast<double>(x.size(0));
    const double dim = static_cast<double>(x.size(1));
    auto kernel = [dim](const torch::Tensor& p, const torch::Tensor& q) {
        return (p.matmul(q.transpose(0, 1)) / dim + 1.0).pow(3);
    };
    const torch::Tensor kxx = kernel(x, x);
    const torch::Tensor kyy = kernel(y, y);
    const torch::Tensor kxy = kernel(x, y);
    const double sumXX = kxx.sum().item<double>() - kxx.diagonal().sum().item<double>();
    const double sumYY = kyy.sum().item<double>() - kyy.diagonal().sum().item<double>();
    return (sumXX + sumYY) / (m * (m - 1.0)) - 2.0 * kxy.sum().item<double>() / (m * m);
}

} // namespace

KidResult kernelInceptionDistance(const torch::Tensor& featuresA, const torch::Tensor& featuresB,
                                  std::int64_t subsetSize, int subsets, std::uint64_t seed)
{
    const torch::Tensor a = asCpuDouble(featuresA, "KID");
    const torch::Tensor b = asCpuDouble(featuresB, "KID");
    if (a.size(1) != b.size(1))
        throw Error("KID: feature dimensions differ (" + std::to_string(a.size(1)) + " and " +
                    std::to_string(b.size(1)) + ")");
    if (subsets < 1)
        throw Error("KID: need at least one subset, found " + std::to_string(subsets));
    if (subsetSize < 2)
        throw Error("KID: subset size must be at least 2, found " + std::to_string(subsetSize));

    KidResult result;
    result.subsets = subsets;
    result.subsetSize = std::min({subsetSize, a.size(0), b.size(0)});
    std::mt19937_64 rng(seed);
    std::vector<double> values;
    values.reserve(static_cast<std::size_t>(subsets));
    for (int s = 0; s < subsets; ++s) {
        const torch::Tensor x = a.index_select(0, randomSubset(a.size(0), result.subsetSize, rng));
        const torch::Tensor y = b.index_select(0, randomSubset(b.size(0), result.subsetSize, rng));
        values.push_back(unbiasedMmd2(x, y));
    }
    result.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    double squares = 0.0;
    for (double v : values)
        squares += (v - result.mean) * (v - result.mean);
    result.std = std::sqrt(squares / static_cast<double>(values.size()));
    return result;
}

} // namespace lethe::eval
