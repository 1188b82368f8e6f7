#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace lethe::diffusion {

/// A network seen as an EDM denoiser D(x; σ, labels): x is float N×C×H×W, sigma an N-element float
/// tensor (one noise level per image), classLabels N×K one-hot float or an undefined tensor for
/// unconditional models. Returns the denoised estimate, shaped like x.
using Denoiser = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& sigma,
                                             const torch::Tensor& classLabels)>;

/// Integer class indices (N) → float32 N×classes one-hot rows on the labels' device. Throws Error on
/// a label outside 0…classes−1.
torch::Tensor oneHot(const torch::Tensor& labels, int classes);

/// A CPU random generator seeded like Python's torch.Generator().manual_seed(seed).
at::Generator cpuGenerator(std::uint64_t seed);

/// Standard normal samples of `sizes` with `options` (dtype, device). With a generator they are drawn on
/// the generator's device and moved, so one CPU generator reproduces the same values on any device;
/// without one they come from the default generator of the target device.
torch::Tensor normalNoise(at::IntArrayRef sizes, const std::optional<at::Generator>& generator,
                          const torch::TensorOptions& options);

/// Calls the denoiser and throws Error, naming `caller`, when its result is not shaped like x.
torch::Tensor evaluateDenoiser(const Denoiser& denoiser, const torch::Tensor& x, const torch::Tensor& sigma,
                               const torch::Tensor& classLabels, const char* caller);

} // namespace lethe::diffusion
