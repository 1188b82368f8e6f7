#include "restricted_gradient.h"

#include "core/error.h"

#include <torch/torch.h>

#include <cmath>

namespace lethe::unlearn {

void sanitizeGradient(torch::Tensor& gradient)
{
    if (gradient.defined())
        gradient.nan_to_num_(0.0, 1e3, -1e3);
}

GradientStats combineRestricted(
    const std::vector<torch::Tensor>& ascent, std::vector<torch::Tensor>& remain, double lambda, bool restrict)
{
    if (ascent.size() != remain.size())
        throw Error("combineRestricted: " + std::to_string(ascent.size()) + " forget gradients but "
            + std::to_string(remain.size()) + " remain gradients");
    torch::NoGradGuard noGrad;
    double dot = 0.0;
    double aa = 0.0;
    double dd = 0.0;
    for (std::size_t i = 0; i < ascent.size(); ++i) {
        const torch::Tensor& a = ascent[i];
        torch::Tensor& d = remain[i];
        if (!d.defined() && a.defined())
            d = torch::zeros_like(a);
        if (a.defined() && d.defined() && a.sizes() != d.sizes())
            throw Error("combineRestricted: gradient " + std::to_string(i) + " has different shapes");
        if (a.defined()) {
            const torch::Tensor a64 = a.to(torch::kFloat64);
            aa += a64.square().sum().item<double>();
            if (d.defined())
                dot += a64.mul(d.to(torch::kFloat64)).sum().item<double>();
        }
        if (d.defined())
            dd += d.to(torch::kFloat64).square().sum().item<double>();
    }
    GradientStats stats;
    stats.dot = dot;
    stats.ascentNorm = std::sqrt(aa);
    stats.remainNorm = std::sqrt(dd);
    stats.cosine = aa > 0 && dd > 0 ? dot / (stats.ascentNorm * stats.remainNorm) : 0.0;
    stats.finite = std::isfinite(dot) && std::isfinite(aa) && std::isfinite(dd);

    // a' + λd' = (1 − λ·s/‖a‖²)·a + (λ − s/‖d‖²)·d, with the projection terms only when the two conflict.
    double ascentScale = 1.0;
    double remainScale = lambda;
    if (restrict && dot < 0 && stats.finite) {
        stats.projected = true;
        if (aa > 0)
            ascentScale -= lambda * dot / aa;
        if (dd > 0)
            remainScale -= dot / dd;
    }
    for (std::size_t i = 0; i < ascent.size(); ++i) {
        torch::Tensor& d = remain[i];
        if (!d.defined())
            continue;
        d.mul_(remainScale);
        if (ascent[i].defined())
            d.add_(ascent[i], ascentScale);
    }
    return stats;
}

} // namespace lethe::unlearn
