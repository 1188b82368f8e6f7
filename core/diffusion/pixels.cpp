#include "pixels.h"

#include "core/describe.h"
#include "core/error.h"
#include "denoiser.h"

#include <torch/torch.h>

namespace lethe::diffusion {

torch::Tensor pixelsToFloat(const torch::Tensor& pixels)
{
    if (!pixels.defined() || pixels.scalar_type() != torch::kUInt8)
        throw Error("pixelsToFloat: expected a uint8 tensor, found " + describeTensor(pixels));
    return pixels.to(torch::kFloat32) / 127.5 - 1.0;
}

torch::Tensor floatToPixels(const torch::Tensor& values)
{
    if (!values.defined() || !at::isFloatingType(values.scalar_type()))
        throw Error("floatToPixels: expected a floating-point tensor, found " + describeTensor(values));
    // +128 instead of +127.5 turns the truncating uint8 cast into rounding, exactly as EDM's generate.py.
    // NaN would make the cast undefined; it maps to 0 like a clipped large negative value.
    return torch::nan_to_num(values * 127.5 + 128.0, 0.0).clamp(0.0, 255.0).to(torch::kUInt8);
}

} // namespace lethe::diffusion
