#pragma once

// Gradient checkpointing (torch.utils.checkpoint's reentrant form): a block's forward pass runs without keeping its
// activations, and the backward pass runs it again to get them.

#include <torch/types.h>

#include <functional>
#include <vector>

namespace lethe::nn {

/// A block's forward pass from its tensor inputs.
using BlockFunction = std::function<torch::Tensor(const std::vector<torch::Tensor>& inputs)>;

/// `block(inputs)`, computed without keeping the activations inside it: the backward pass recomputes them from the
/// kept inputs. `parameters` are the tensors the block reads besides its inputs (its module's parameters that
/// require gradients): they receive their gradients through this call, so a block whose inputs need none (the
/// first blocks of a UNet trained only in cross-attention) still trains. The recomputation runs under the
/// autocast state and with the CPU generator state of the first pass, so dropout and mixed precision give the
/// same activations twice. Undefined inputs are passed through as undefined.
torch::Tensor checkpoint(
    const BlockFunction& block, const std::vector<torch::Tensor>& inputs, const std::vector<torch::Tensor>& parameters);

/// The parameters of `module` that require gradients, for checkpoint().
std::vector<torch::Tensor> trainedParameters(const torch::nn::Module& module);

} // namespace lethe::nn
