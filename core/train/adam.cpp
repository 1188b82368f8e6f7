#include "adam.h"

#include "core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace lethe::train {

Adam::Adam(std::vector<std::pair<std::string, torch::Tensor>> parameters, AdamOptions options)
    : m_parameters(std::move(parameters))
    , m_options(options)
    , m_expAvg(m_parameters.size())
    , m_expAvgSq(m_parameters.size())
{
}

void Adam::step()
{
    torch::NoGradGuard noGrad;
    ++m_step;
    const double correction1 = 1.0 - std::pow(m_options.beta1, static_cast<double>(m_step));
    const double correction2 = 1.0 - std::pow(m_options.beta2, static_cast<double>(m_step));
    const double stepSize = m_options.lr / correction1;
    const double sqrtCorrection2 = std::sqrt(correction2);
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        torch::Tensor& p = m_parameters[i].second;
        torch::Tensor grad = p.grad();
        if (!grad.defined())
            continue;
        if (m_options.weightDecay != 0.0)
            grad = grad.add(p, m_options.weightDecay);
        if (!m_expAvg[i].defined()) { // Created by the first update that needs them, as torch.optim.Adam does.
            m_expAvg[i] = torch::zeros_like(p, torch::MemoryFormat::Preserve);
            m_expAvgSq[i] = torch::zeros_like(p, torch::MemoryFormat::Preserve);
        }
        m_expAvg[i].mul_(m_options.beta1).add_(grad, 1.0 - m_options.beta1);
        m_expAvgSq[i].mul_(m_options.beta2).addcmul_(grad, grad, 1.0 - m_options.beta2);
        const torch::Tensor denom = (m_expAvgSq[i].sqrt() / sqrtCorrection2).add_(m_options.eps);
        p.addcdiv_(m_expAvg[i], denom, -stepSize);
    }
}

void Adam::zeroGrad()
{
    for (auto& [name, p] : m_parameters) {
        if (p.grad().defined()) {
            p.grad().detach_();
            p.grad().zero_();
        }
    }
}

std::vector<io::NamedTensor> Adam::state() const
{
    std::vector<io::NamedTensor> out;
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        if (!m_expAvg[i].defined())
            continue;
        out.push_back({ "adam.exp_avg." + m_parameters[i].first, m_expAvg[i] });
        out.push_back({ "adam.exp_avg_sq." + m_parameters[i].first, m_expAvgSq[i] });
    }
    out.push_back({ "adam.step", torch::tensor({ m_step }, torch::kInt64) });
    return out;
}

void Adam::loadState(const io::SafetensorsFile& file)
{
    torch::NoGradGuard noGrad;
    // A moment the state lacks was never created (its parameter had no gradient yet): it stays so.
    auto load = [&](const std::string& name, const torch::Tensor& p, torch::Tensor& into) {
        if (!file.contains(name)) {
            into = torch::Tensor();
            return;
        }
        const torch::Tensor saved = file.tensor(name);
        if (saved.sizes() != p.sizes())
            throw FormatError(file.path().string(), "tensor '" + name + "'",
                "expected shape " + c10::str(p.sizes()) + ", found " + c10::str(saved.sizes()));
        into = saved.to(p.device(), p.scalar_type()).clone();
    };
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        const torch::Tensor& p = m_parameters[i].second;
        load("adam.exp_avg." + m_parameters[i].first, p, m_expAvg[i]);
        load("adam.exp_avg_sq." + m_parameters[i].first, p, m_expAvgSq[i]);
    }
    m_step = file.tensor("adam.step").item<std::int64_t>();
}

void Adam::loadState(const std::vector<io::NamedTensor>& state)
{
    std::unordered_map<std::string, const torch::Tensor*> byName;
    for (const auto& entry : state)
        byName[entry.name] = &entry.tensor;
    // A moment the state lacks was never created (its parameter had no gradient yet): it stays so.
    auto load = [&](const std::string& name, const torch::Tensor& p, torch::Tensor& into) {
        const auto it = byName.find(name);
        if (it == byName.end()) {
            into = torch::Tensor();
            return;
        }
        if (it->second->sizes() != p.sizes())
            throw Error("Adam state: '" + name + "' has shape " + c10::str(it->second->sizes()) + ", expected "
                + c10::str(p.sizes()));
        if (into.defined())
            into.copy_(*it->second);
        else
            into = it->second->to(p.device(), p.scalar_type()).clone();
    };
    torch::NoGradGuard noGrad;
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        const torch::Tensor& p = m_parameters[i].second;
        load("adam.exp_avg." + m_parameters[i].first, p, m_expAvg[i]);
        load("adam.exp_avg_sq." + m_parameters[i].first, p, m_expAvgSq[i]);
    }
    const auto step = byName.find("adam.step");
    if (step == byName.end())
        throw Error("Adam state: 'adam.step' is missing");
    m_step = step->second->item<std::int64_t>();
}

} // namespace lethe::train
