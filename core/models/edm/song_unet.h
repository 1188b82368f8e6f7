#pragma once

#include "core/nn/edm_layers.h"

#include "core/enum_names.h"

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lethe::models {

/// Noise-level embedding: sinusoidal for DDPM++, random Fourier features for NCSN++.
enum class EmbeddingType { Positional, Fourier };
/// Encoder variant: plain (DDPM++), with a downsampled-image skip path, or residual (NCSN++).
enum class EncoderType { Standard, Skip, Residual };
/// Decoder variant: plain, or summing outputs of every resolution.
enum class DecoderType { Standard, Skip };

/// EDM's spellings, for enumName and enumFromName (core/enum_names.h): "positional", "fourier".
const EnumNames<EmbeddingType>& enumNames(EmbeddingType);
/// "standard", "skip", "residual".
const EnumNames<EncoderType>& enumNames(EncoderType);
/// "standard", "skip".
const EnumNames<DecoderType>& enumNames(DecoderType);

/// SongUNet's constructor arguments, with EDM's names and defaults.
struct SongUNetOptions {
    SongUNetOptions(std::int64_t img_resolution, std::int64_t in_channels, std::int64_t out_channels);

    /// Image resolution at input and output.
    TORCH_ARG(std::int64_t, img_resolution);
    /// Colour channels at input.
    TORCH_ARG(std::int64_t, in_channels);
    /// Colour channels at output.
    TORCH_ARG(std::int64_t, out_channels);
    /// Number of class labels; 0 = unconditional. Default 0.
    TORCH_ARG(std::int64_t, label_dim) = 0;
    /// Augmentation label dimensionality; 0 = no augmentation. Default 0.
    TORCH_ARG(std::int64_t, augment_dim) = 0;
    /// Base multiplier for the number of channels. Default 128.
    TORCH_ARG(std::int64_t, model_channels) = 128;
    /// Per-resolution channel multipliers. Default {1, 2, 2, 2}.
    TORCH_ARG(std::vector<std::int64_t>, channel_mult) = std::vector<std::int64_t> { 1, 2, 2, 2 };
    /// Multiplier for the embedding width. Default 4.
    TORCH_ARG(std::int64_t, channel_mult_emb) = 4;
    /// Residual blocks per resolution. Default 4.
    TORCH_ARG(std::int64_t, num_blocks) = 4;
    /// Resolutions with self-attention. Default {16}.
    TORCH_ARG(std::vector<std::int64_t>, attn_resolutions) = std::vector<std::int64_t> { 16 };
    /// Dropout probability of intermediate activations. Default 0.10.
    TORCH_ARG(double, dropout) = 0.10;
    /// Dropout probability of class labels (classifier-free guidance). Default 0.
    TORCH_ARG(double, label_dropout) = 0.0;
    /// Default positional (DDPM++); fourier for NCSN++.
    TORCH_ARG(EmbeddingType, embedding_type) = EmbeddingType::Positional;
    /// Noise embedding width multiplier: 1 for DDPM++, 2 for NCSN++. Default 1.
    TORCH_ARG(std::int64_t, channel_mult_noise) = 1;
    /// Default standard (DDPM++); residual for NCSN++.
    TORCH_ARG(EncoderType, encoder_type) = EncoderType::Standard;
    /// Default standard.
    TORCH_ARG(DecoderType, decoder_type) = DecoderType::Standard;
    /// Resampling filter taps: {1, 1} for DDPM++, {1, 3, 3, 1} for NCSN++. Default {1, 1}.
    TORCH_ARG(std::vector<double>, resample_filter) = std::vector<double> { 1.0, 1.0 };
};

/// EDM's SongUNet (DDPM++ / NCSN++). Children map_noise, map_label, map_augment, map_layer0, map_layer1 and
/// the ModuleDicts enc and dec, keyed like EDM ("32x32_conv", "16x16_down", "8x8_in0", "32x32_aux_conv", ...).
class SongUNetImpl : public torch::nn::Cloneable<SongUNetImpl> {
public:
    explicit SongUNetImpl(SongUNetOptions options);
    void reset() override;
    /// x [N, in, R, R]; noise_labels [N] or [1]; class_labels [N or 1, label_dim] (needed when label_dim > 0);
    /// augment_labels [N, augment_dim] or undefined. Returns [N, out, R, R].
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& noise_labels,
        const torch::Tensor& class_labels = {}, const torch::Tensor& augment_labels = {});

    SongUNetOptions options;
    /// "map_noise" is one of these two, depending on embedding_type; the other stays empty.
    nn::PositionalEmbedding map_noise_positional { nullptr };
    nn::FourierEmbedding map_noise_fourier { nullptr };
    nn::Linear map_label { nullptr };
    nn::Linear map_augment { nullptr };
    nn::Linear map_layer0 { nullptr };
    nn::Linear map_layer1 { nullptr };
    torch::nn::ModuleDict enc { nullptr };
    torch::nn::ModuleDict dec { nullptr };
};
TORCH_MODULE(SongUNet);

} // namespace lethe::models
