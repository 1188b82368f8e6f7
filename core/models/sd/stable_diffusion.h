#pragma once

// A Stable Diffusion 1.x model (or a smaller one of the same design, such as the built-in pixel-space
// text-to-image model) loaded from a diffusers folder or a CompVis single file, ready to generate.

#include "core/diffusion/text_to_image.h"

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace lethe::models::sd {

/// How to load: the compute dtype and device, whatever the files store, and the attention path.
struct SdLoadOptions {
    /// float32, float16 or bfloat16.
    torch::Dtype dtype = torch::kFloat32;
    torch::Device device = torch::kCPU;
    /// Attention computed in query chunks, never holding the full attention matrix (large images on GPUs).
    bool memoryEfficientAttention = false;
};

/// The components of a loaded model. Holds the networks; model() hands out functions bound to them.
class StableDiffusion {
public:
    struct Impl;
    explicit StableDiffusion(std::shared_ptr<Impl> impl);

    /// The networks as a TextToImageModel for diffusion::generate().
    diffusion::TextToImageModel model() const;
    /// The image side the UNet was trained for (sample_size × the VAE's scale).
    std::int64_t defaultImageSize() const;
    /// Parameters of the UNet, the text encoder and the VAE (0 without one).
    std::int64_t unetParameters() const;
    std::int64_t textEncoderParameters() const;
    std::int64_t vaeParameters() const;
    /// "diffusers folder" or "CompVis single file".
    std::string sourceKind() const;

private:
    std::shared_ptr<Impl> m_impl;
};

/// Loads a diffusers folder (model_index.json) or a CompVis single .safetensors file. Pickles are refused
/// with conversion instructions; errors name the file and the tensor or key.
StableDiffusion loadStableDiffusion(const std::filesystem::path& path, const SdLoadOptions& options);

/// "float32", "float16" / "fp16", "bfloat16" / "bf16" → the dtype; throws Error for anything else.
torch::Dtype computeDtypeFromName(const std::string& name);

} // namespace lethe::models::sd
