#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace lethe::models {

/// One residual block: two 3×3 convolutions with batch norm, and a 1×1 projection on the shortcut
/// when the shape changes.
class BasicBlockImpl : public torch::nn::Module {
public:
    /// A block mapping inChannels to outChannels; stride 2 halves the resolution.
    BasicBlockImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t stride);
    /// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
    torch::Tensor forward(const torch::Tensor& x);

private:
    torch::nn::Conv2d m_conv1{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr};
    torch::nn::Conv2d m_conv2{nullptr};
    torch::nn::BatchNorm2d m_bn2{nullptr};
    torch::nn::Sequential m_shortcut{nullptr};
};
TORCH_MODULE(BasicBlock);

} // namespace lethe::models
