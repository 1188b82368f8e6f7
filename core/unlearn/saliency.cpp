#include "saliency.h"

#include "core/describe.h"
#include "core/error.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lethe::unlearn {

std::vector<torch::Tensor> saliencyMask(const std::vector<torch::Tensor>& magnitudes, double fraction)
{
    if (!(fraction > 0.0 && fraction <= 1.0))
        throw Error("saliency mask: the fraction must be in (0, 1], found " + formatNumber(fraction));
    std::vector<torch::Tensor> flat;
    for (const torch::Tensor& m : magnitudes)
        flat.push_back(m.detach().flatten().to(torch::kFloat32));
    if (flat.empty())
        return {};
    const torch::Tensor all = torch::cat(flat);
    const std::int64_t n = all.numel();
    const auto keep = std::min<std::int64_t>(
        n, std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(fraction * static_cast<double>(n)))));
    // A stable sort by decreasing magnitude: equal magnitudes keep their order, so ties go to the earlier entry.
    const torch::Tensor order = std::get<1>(all.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
    torch::Tensor chosen = torch::zeros({ n }, all.options().dtype(torch::kBool));
    chosen.index_fill_(0, order.slice(0, 0, keep), true);
    chosen.logical_and_(all.gt(0.0));
    std::vector<torch::Tensor> masks;
    std::int64_t at = 0;
    for (const torch::Tensor& m : magnitudes) {
        masks.push_back(chosen.slice(0, at, at + m.numel()).view(m.sizes()).to(m.scalar_type()).to(m.device()));
        at += m.numel();
    }
    return masks;
}

std::vector<torch::Tensor> saliencyMaskOfGradients(
    const std::vector<std::pair<std::string, torch::Tensor>>& parameters, double fraction)
{
    std::vector<torch::Tensor> magnitudes;
    {
        torch::NoGradGuard noGrad;
        for (const auto& [name, p] : parameters)
            magnitudes.push_back(p.grad().defined() ? p.grad().abs() : torch::zeros_like(p));
    }
    std::vector<torch::Tensor> mask = saliencyMask(magnitudes, fraction);
    std::int64_t kept = 0;
    std::int64_t total = 0;
    for (const torch::Tensor& m : mask) {
        kept += m.sum().item<std::int64_t>();
        total += m.numel();
    }
    spdlog::info("SalUn's saliency mask keeps {} of {} weight entries ({:.1f} %)", kept, total,
        100.0 * static_cast<double>(kept) / static_cast<double>(std::max<std::int64_t>(1, total)));
    return mask;
}

} // namespace lethe::unlearn
