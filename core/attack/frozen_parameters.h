#pragma once

// Parameters held out of autograd while an attack differentiates only its own inputs.

#include <torch/types.h>

#include <string>
#include <vector>

namespace lethe::attack {

/// Turns requires_grad off on every parameter for the guard's lifetime and restores each one's flag afterwards.
class FrozenParameters {
public:
    explicit FrozenParameters(std::vector<torch::Tensor> parameters)
        : m_parameters(std::move(parameters))
    {
        for (auto& p : m_parameters) {
            m_flags.push_back(p.requires_grad());
            p.set_requires_grad(false);
        }
    }
    ~FrozenParameters()
    {
        for (std::size_t i = 0; i < m_parameters.size(); ++i)
            m_parameters[i].set_requires_grad(m_flags[i]);
    }
    FrozenParameters(const FrozenParameters&) = delete;
    FrozenParameters& operator=(const FrozenParameters&) = delete;

private:
    std::vector<torch::Tensor> m_parameters;
    std::vector<bool> m_flags;
};

/// "uint8 [2, 1, 32, 32]": a tensor's element type and shape, for the attacks' messages.
inline std::string tensorText(const torch::Tensor& t)
{
    const torch::ScalarType type = t.scalar_type();
    const std::string name = type == torch::kUInt8 ? "uint8"
        : type == torch::kFloat32                  ? "float32"
        : type == torch::kFloat16                  ? "float16"
        : type == torch::kBFloat16                 ? "bfloat16"
                                                   : std::string(c10::toString(type));
    std::string shape = "[";
    for (std::int64_t i = 0; i < t.dim(); ++i)
        shape += (i ? ", " : "") + std::to_string(t.size(i));
    return name + " " + shape + "]";
}

} // namespace lethe::attack
