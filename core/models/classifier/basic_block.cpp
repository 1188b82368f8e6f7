#include "basic_block.h"

#include <torch/torch.h>

namespace lethe::models {

namespace nn = torch::nn;

BasicBlockImpl::BasicBlockImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t stride)
{
    m_conv1 = register_module(
        "conv1", nn::Conv2d(nn::Conv2dOptions(inChannels, outChannels, 3).stride(stride).padding(1).bias(false)));
    m_bn1 = register_module("bn1", nn::BatchNorm2d(outChannels));
    m_conv2 = register_module("conv2",
                              nn::Conv2d(nn::Conv2dOptions(outChannels, outChannels, 3).padding(1).bias(false)));
    m_bn2 = register_module("bn2", nn::BatchNorm2d(outChannels));
    if (stride != 1 || inChannels != outChannels) {
        m_shortcut = register_module(
            "shortcut",
            nn::Sequential(nn::Conv2d(nn::Conv2dOptions(inChannels, outChannels, 1).stride(stride).bias(false)),
                           nn::BatchNorm2d(outChannels)));
    }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x)
{
    torch::Tensor out = torch::relu(m_bn1->forward(m_conv1->forward(x)));
    out = m_bn2->forward(m_conv2->forward(out));
    return torch::relu(out + (m_shortcut ? m_shortcut->forward(x) : x));
}

} // namespace lethe::models
