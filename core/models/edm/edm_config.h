#pragma once

// EDM architectures as JSON: the flat keyword arguments EDM records in `net.init_kwargs`, so an architecture
// written by Lethe reads in EDM and one taken from an EDM checkpoint reads here.

#include "core/models/edm/edm_precond.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace lethe::models {

/// The flat init_kwargs of EDMPrecond(model_type="SongUNet", ...): every argument, sigma_max omitted when infinite.
nlohmann::json toJson(const EDMPrecondOptions& options);

/// Parses init_kwargs. Absent keys take EDM's defaults (model_type defaults to "SongUNet", the only one Lethe
/// builds); img_resolution and img_channels are required. "use_fp16" and "class_name" are accepted and ignored.
/// Throws lethe::Error naming the key for a missing required key, an unknown key, a value of the wrong type or
/// an unsupported model_type, embedding_type, encoder_type or decoder_type.
EDMPrecondOptions edmOptionsFromJson(const nlohmann::json& json);

/// The names edmPreset accepts, in a stable order.
std::vector<std::string> edmPresetNames();

/// A built-in architecture by name; throws lethe::Error listing the valid names for an unknown one.
EDMPrecondOptions edmPreset(const std::string& name);

/// A freshly initialised network for an architecture given as init_kwargs JSON.
EDMPrecond makeEdmPrecond(const nlohmann::json& architecture);

} // namespace lethe::models
