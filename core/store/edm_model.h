#pragma once

#include "core/io/model_file.h"
#include "core/models/edm/edm_precond.h"

#include <filesystem>
#include <string>

namespace lethe::store {

/// An EDM network opened from a Lethe model file, with its description.
struct EdmModel {
    std::filesystem::path path;
    std::string sha256;
    io::ModelInfo info;
    models::EDMPrecond net { nullptr };

    int classCount() const { return static_cast<int>(net->options.label_dim()); }
    std::int64_t channels() const { return net->options.img_channels(); }
    std::int64_t resolution() const { return net->options.img_resolution(); }
};

/// Opens an EDM model file (Lethe's own, or an EDM checkpoint converted by scripts/edm_pkl_to_safetensors.py)
/// on `device`, in eval mode. Refuses pickles and non-EDM files with a message saying what to do; every
/// tensor must match the architecture by name and shape.
EdmModel loadEdmModel(const std::filesystem::path& path, torch::Device device);

/// Refuses Python pickle checkpoints (.pkl, .pt, .pth, .ckpt, .bin) with instructions to convert them.
void refusePickle(const std::filesystem::path& path);

} // namespace lethe::store
