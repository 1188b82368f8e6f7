#pragma once

// Where a diffusers component folder keeps its weights, and the refusal of pickled ones.

#include <filesystem>
#include <string>

namespace lethe::models {

/// The safetensors file of a diffusers component folder: `<stem>.safetensors`, or `<stem>.fp16.safetensors` when
/// only that exists (stem "diffusion_pytorch_model" for the UNet and VAE). A pickled `<stem>.bin` or a `.ckpt`
/// without a safetensors file is refused with a FormatError that says how to convert it; a folder with none of
/// them is a FormatError naming the expected file.
std::filesystem::path findDiffusersWeights(const std::filesystem::path& folder, const std::string& stem);

} // namespace lethe::models
