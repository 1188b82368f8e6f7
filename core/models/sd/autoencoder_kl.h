#pragma once

// diffusers' AutoencoderKL (the Stable Diffusion VAE), built from vae/config.json and loaded from
// diffusion_pytorch_model.safetensors under diffusers' names (older files' attention names are renamed).

#include "core/io/safetensors.h"
#include "core/models/sd/blocks.h"
#include "core/nn/state_dict.h"

#include <nlohmann/json_fwd.hpp>
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lethe::models::sd {

/// AutoencoderKL's configuration, with diffusers' key names; the defaults are SD 1.x's vae/config.json.
struct AutoencoderKLOptions {
    /// Image channels. Default 3.
    TORCH_ARG(std::int64_t, in_channels) = 3;
    /// Default 3.
    TORCH_ARG(std::int64_t, out_channels) = 3;
    /// Default 4.
    TORCH_ARG(std::int64_t, latent_channels) = 4;
    /// Default {128, 256, 512, 512}.
    TORCH_ARG(std::vector<std::int64_t>, block_out_channels) = std::vector<std::int64_t> { 128, 256, 512, 512 };
    /// Encoder resnets per level; the decoder has one more. Default 2.
    TORCH_ARG(std::int64_t, layers_per_block) = 2;
    /// Default 32.
    TORCH_ARG(std::int64_t, norm_num_groups) = 32;
    /// Image size the model was trained at. Default 512.
    TORCH_ARG(std::int64_t, sample_size) = 512;
    /// Latents fed to the UNet are (mean − shift_factor) · scaling_factor. Default 0.18215.
    TORCH_ARG(double, scaling_factor) = 0.18215;
    /// Default 0.
    TORCH_ARG(double, shift_factor) = 0.0;
    /// Whether quant_conv exists. Default true.
    TORCH_ARG(bool, use_quant_conv) = true;
    /// Whether post_quant_conv exists. Default true.
    TORCH_ARG(bool, use_post_quant_conv) = true;
};

/// The configuration of SD 1.x's vae/config.json.
AutoencoderKLOptions stableDiffusion1VaeOptions();

/// Reads a diffusers vae/config.json object; `file` names it in messages. Absent keys take diffusers' defaults
/// (scaling_factor 0.18215); unsupported block types or values give a FormatError naming the key.
AutoencoderKLOptions vaeOptionsFromConfig(const nlohmann::json& config, const std::string& file);
/// The options as a diffusers vae/config.json object (`_class_name` AutoencoderKL).
nlohmann::json vaeConfigJson(const AutoencoderKLOptions& options);

/// diffusers' VAE Encoder: conv_in, down_blocks (DownEncoderBlock2D), mid_block, conv_norm_out, conv_out
/// (2 · latent_channels: mean and log-variance).
class VaeEncoderImpl : public torch::nn::Cloneable<VaeEncoderImpl> {
public:
    explicit VaeEncoderImpl(AutoencoderKLOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& x);

    AutoencoderKLOptions options;
    torch::nn::Conv2d conv_in { nullptr };
    torch::nn::ModuleList down_blocks { nullptr };
    UNetMidBlock2D mid_block { nullptr };
    torch::nn::GroupNorm conv_norm_out { nullptr };
    torch::nn::Conv2d conv_out { nullptr };
};
TORCH_MODULE(VaeEncoder);

/// diffusers' VAE Decoder: conv_in, mid_block, up_blocks (UpDecoderBlock2D, layers_per_block + 1 resnets),
/// conv_norm_out, conv_out.
class VaeDecoderImpl : public torch::nn::Cloneable<VaeDecoderImpl> {
public:
    explicit VaeDecoderImpl(AutoencoderKLOptions options);
    void reset() override;
    torch::Tensor forward(const torch::Tensor& z);

    AutoencoderKLOptions options;
    torch::nn::Conv2d conv_in { nullptr };
    torch::nn::ModuleList up_blocks { nullptr };
    UNetMidBlock2D mid_block { nullptr };
    torch::nn::GroupNorm conv_norm_out { nullptr };
    torch::nn::Conv2d conv_out { nullptr };
};
TORCH_MODULE(VaeDecoder);

/// The diagonal Gaussian an encoder returns, per latent element.
struct LatentDistribution {
    torch::Tensor mean;
    /// Clamped to [−30, 20] as diffusers does.
    torch::Tensor logvar;

    torch::Tensor stddev() const;
    /// mean + stddev · ε with ε drawn from `generator` (the default generator when undefined).
    torch::Tensor sample(c10::optional<torch::Generator> generator = c10::nullopt) const;
};

/// diffusers' AutoencoderKL. Children encoder, decoder, quant_conv, post_quant_conv (diffusers' order).
class AutoencoderKLImpl : public torch::nn::Cloneable<AutoencoderKLImpl> {
public:
    explicit AutoencoderKLImpl(AutoencoderKLOptions options);
    void reset() override;
    /// Images [N, in_channels, H, W] in [−1, 1] → the latent distribution [N, latent_channels, H/f, W/f]
    /// (unscaled; multiply by scalingFactor() for the UNet).
    LatentDistribution encode(const torch::Tensor& x);
    /// Unscaled latents [N, latent_channels, h, w] → images [N, out_channels, h·f, w·f] in about [−1, 1].
    torch::Tensor decode(const torch::Tensor& z);
    /// decode(encode(x).mean).
    torch::Tensor forward(const torch::Tensor& x);
    double scalingFactor() const { return options.scaling_factor(); }
    double shiftFactor() const { return options.shift_factor(); }

    AutoencoderKLOptions options;
    VaeEncoder encoder { nullptr };
    VaeDecoder decoder { nullptr };
    torch::nn::Conv2d quant_conv { nullptr };
    torch::nn::Conv2d post_quant_conv { nullptr };
};
TORCH_MODULE(AutoencoderKL);

/// A freshly initialised VAE on the CPU in float32, in eval mode.
AutoencoderKL buildAutoencoderKL(const AutoencoderKLOptions& options);

/// The module name of a file tensor, renaming older diffusers VAE attention names (query, key, value,
/// proj_attn → to_q, to_k, to_v, to_out.0); other names are returned unchanged.
std::string modernVaeName(const std::string& fileName);

/// Copies a safetensors state dict into the VAE (converting floating dtypes). Without a mapping in `options`,
/// older diffusers attention names are accepted through modernVaeName. Strict by default.
nn::LoadReport loadVaeWeights(AutoencoderKL& vae, const io::SafetensorsFile& file, nn::LoadOptions options = {});

/// Builds the VAE a diffusers vae/ folder describes and loads its weights (diffusion_pytorch_model.safetensors,
/// else the .fp16 variant), moved to `dtype` and `device`, in eval mode. Refuses pickled files.
AutoencoderKL loadAutoencoderKL(
    const std::filesystem::path& folder, torch::Dtype dtype = torch::kFloat32, torch::Device device = torch::kCPU);

} // namespace lethe::models::sd
