#pragma once

// Mixed precision for the passes of a training step: autocast as torch.autocast gives it, on the CPU and on CUDA.

#include <torch/types.h>

namespace lethe::nn {

/// While alive, the matrix products and convolutions on `device`'s type run in `dtype` (bfloat16 or float16) and
/// the numerically sensitive operations (softmax, normalisations, reductions) in float32, while weights stay as
/// they are: autocast's rules. Nothing changes for dtype float32. Restores the previous state on destruction and
/// clears autocast's cast cache, as leaving a torch.autocast block does. Throws Error for float16 on the CPU
/// (LibTorch's CPU autocast before 2.x knows only bfloat16) and for any other dtype.
class AutocastGuard {
public:
    AutocastGuard(torch::Device device, torch::ScalarType dtype);
    ~AutocastGuard();
    AutocastGuard(const AutocastGuard&) = delete;
    AutocastGuard& operator=(const AutocastGuard&) = delete;

    bool active() const { return m_active; }

private:
    bool m_active = false;
    bool m_cuda = false;
    bool m_wasEnabled = false;
    torch::ScalarType m_previousType = torch::kFloat32;
};

/// Whether autocast is on for `device`'s type in this thread, and its type (float32 when off).
torch::ScalarType autocastType(torch::Device device);

} // namespace lethe::nn
