#include "adam.h"

#include "core/error.h"

#include <torch/torch.h>

#include <cmath>
#include <unordered_map>

namespace lethe::train {

Adam::Adam(std::vector<std::pair<std::string, torch::Tensor>> parameters, AdamOptions options)
    : m_parameters(std::move(parameters))
    , m_options(options)
{
    torch::NoGradGuard noGrad;
    for (const auto& [name, p] : m_parameters) {
        m_expAvg.push_back(torch::zeros_like(p));
        m_expAvgSq.push_back(torch::zeros_like(p));
    }
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
        out.push_back({ "adam.exp_avg." + m_parameters[i].first, m_expAvg[i] });
        out.push_back({ "adam.exp_avg_sq." + m_parameters[i].first, m_expAvgSq[i] });
    }
    out.push_back({ "adam.step", torch::tensor({ m_step }, torch::kInt64) });
    return out;
}

void Adam::loadState(const io::SafetensorsFile& file)
{
    torch::NoGradGuard noGrad;
    auto load = [&](const std::string& name, torch::Tensor& into) {
        const torch::Tensor saved = file.tensor(name);
        if (saved.sizes() != into.sizes())
            throw FormatError(file.path().string(), "tensor '" + name + "'",
                "expected shape " + c10::str(into.sizes()) + ", found " + c10::str(saved.sizes()));
        into.copy_(saved);
    };
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        load("adam.exp_avg." + m_parameters[i].first, m_expAvg[i]);
        load("adam.exp_avg_sq." + m_parameters[i].first, m_expAvgSq[i]);
    }
    m_step = file.tensor("adam.step").item<std::int64_t>();
}

void Adam::loadState(const std::vector<io::NamedTensor>& state)
{
    std::unordered_map<std::string, const torch::Tensor*> byName;
    for (const auto& entry : state)
        byName[entry.name] = &entry.tensor;
    auto find = [&](const std::string& name, const torch::Tensor& like) -> const torch::Tensor& {
        const auto it = byName.find(name);
        if (it == byName.end())
            throw Error("Adam state: '" + name + "' is missing");
        if (it->second->sizes() != like.sizes())
            throw Error("Adam state: '" + name + "' has shape " + c10::str(it->second->sizes()) + ", expected "
                + c10::str(like.sizes()));
        return *it->second;
    };
    torch::NoGradGuard noGrad;
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        m_expAvg[i].copy_(find("adam.exp_avg." + m_parameters[i].first, m_expAvg[i]));
        m_expAvgSq[i].copy_(find("adam.exp_avg_sq." + m_parameters[i].first, m_expAvgSq[i]));
    }
    m_step = find("adam.step", torch::empty({ 1 })).item<std::int64_t>();
}

} // namespace lethe::train
