#pragma once

#include <torch/types.h>

namespace lethe::diffusion {

/// uint8 pixels [0, 255] (any shape, usually N×C×H×W) → float32 [−1, 1] as EDM trains on them
/// (x / 127.5 − 1), on the same device. Throws Error for a tensor that is not uint8.
torch::Tensor pixelsToFloat(const torch::Tensor& pixels);

/// Float [−1, 1] → uint8 [0, 255] as EDM saves samples: (x · 127.5 + 128) clipped to [0, 255] and
/// truncated, which rounds half up. Computed in the input's precision. Throws Error for a non-float tensor.
torch::Tensor floatToPixels(const torch::Tensor& values);

} // namespace lethe::diffusion
