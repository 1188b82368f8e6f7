#pragma once

// Lower bounds of a network's parameter count worked out from its config alone, and the check that refuses a
// config asking for more parameters than its weights file holds values, before any network is built. Without
// it a config claiming a billion-word vocabulary would allocate gigabytes first and only then find the shapes
// wrong. The bounds stay at or under the real counts (test_sd_pipeline checks them against the networks).

#include <string>

namespace lethe::io {
class SafetensorsFile;
}

namespace lethe::models {

struct EDMPrecondOptions;

/// Throws FormatError naming the file when `minimumParameters` exceeds the number of values it holds;
/// `config` says where the config came from ("…/unet/config.json", "its architecture").
void requireWeightsFor(double minimumParameters, const io::SafetensorsFile& file, const std::string& config);

/// The blocks' 3×3 convolutions and embedding projections, and the mapping network.
double minimumParameters(const EDMPrecondOptions& options);

} // namespace lethe::models

namespace lethe::models::sd {

struct ClipEncoderOptions;
struct ClipTextOptions;
struct UNet2DConditionOptions;
struct AutoencoderKLOptions;

/// The attention and MLP weights of each layer.
double minimumParameters(const ClipEncoderOptions& options);
/// The token and position embeddings, and the encoder.
double minimumParameters(const ClipTextOptions& options);
/// The convolutions, the time embedding and the attention projections.
double minimumParameters(const UNet2DConditionOptions& options);
/// The 3×3 convolutions.
double minimumParameters(const AutoencoderKLOptions& options);

} // namespace lethe::models::sd

namespace lethe::models::clip {

struct ClipModelOptions;

/// Both towers' embeddings and encoders, and the projections.
double minimumParameters(const ClipModelOptions& options);

} // namespace lethe::models::clip
