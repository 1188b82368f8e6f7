#include "autocast.h"

#include "core/error.h"
#include "core/torch_version.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace lethe::nn {

namespace {

bool enabled(bool cuda)
{
#if LETHE_TORCH_DEVICE_AUTOCAST_API
    return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
    return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void setEnabled(bool cuda, bool on)
{
#if LETHE_TORCH_DEVICE_AUTOCAST_API
    at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
#else
    if (cuda)
        at::autocast::set_enabled(on);
    else
        at::autocast::set_cpu_enabled(on);
#endif
}

torch::ScalarType type(bool cuda)
{
#if LETHE_TORCH_DEVICE_AUTOCAST_API
    return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
    return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void setType(bool cuda, torch::ScalarType dtype)
{
#if LETHE_TORCH_DEVICE_AUTOCAST_API
    at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
#else
    if (cuda)
        at::autocast::set_autocast_gpu_dtype(dtype);
    else
        at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

} // namespace

AutocastGuard::AutocastGuard(torch::Device device, torch::ScalarType dtype)
    : m_cuda(device.is_cuda())
{
    if (dtype == torch::kFloat32)
        return;
    if (dtype != torch::kBFloat16 && dtype != torch::kFloat16)
        throw Error(std::string("mixed precision: autocast runs in bfloat16 or float16, not ") + c10::toString(dtype));
    if (!m_cuda && !device.is_cpu())
        throw Error("mixed precision: autocast runs on the CPU or CUDA, not on " + device.str());
#if !LETHE_TORCH_AT_LEAST(2, 0)
    if (!m_cuda && dtype == torch::kFloat16)
        throw Error("mixed precision: float16 autocast needs CUDA (this LibTorch's CPU autocast knows only bfloat16); "
                    "use bfloat16 on the CPU");
#endif
    m_wasEnabled = enabled(m_cuda);
    m_previousType = type(m_cuda);
    setType(m_cuda, dtype);
    setEnabled(m_cuda, true);
    at::autocast::increment_nesting();
    m_active = true;
}

AutocastGuard::~AutocastGuard()
{
    if (!m_active)
        return;
    // Leaving the outermost block drops the cached low-precision copies of the weights, as torch.autocast does.
    if (at::autocast::decrement_nesting() == 0)
        at::autocast::clear_cache();
    setEnabled(m_cuda, m_wasEnabled);
    setType(m_cuda, m_previousType);
}

torch::ScalarType autocastType(torch::Device device)
{
    const bool cuda = device.is_cuda();
    return enabled(cuda) ? type(cuda) : torch::kFloat32;
}

} // namespace lethe::nn
