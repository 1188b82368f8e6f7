#pragma once

// Measurements of a base model kept on disk, so that measuring the same model the same way again (another run
// from it, another forget class's "before" figures, the GUI opening it next week) reads them instead of sampling
// and classifying hundreds of images. An entry is keyed by everything that changes the figures: the model's
// SHA-256, the measure and its version, seeds, sampler, steps, guidance, the real data, and each instrument's
// SHA-256. The key is stored beside the figures and compared in full on reading. Images (a base model's preview)
// are kept the same way, losslessly, as a safetensors file whose metadata holds the key.

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lethe::eval {

/// $LETHE_CACHE_DIR/measures, else $XDG_CACHE_HOME/lethe/measures, else $HOME/.cache/lethe/measures; empty when
/// none of them is set.
std::filesystem::path defaultMeasureCacheDir();

class MeasureCache {
public:
    /// A cache in `dir` (created on the first write); an empty path makes a cache that never hits nor writes.
    explicit MeasureCache(std::filesystem::path dir = defaultMeasureCacheDir());

    bool enabled() const { return !m_dir.empty(); }
    const std::filesystem::path& dir() const { return m_dir; }

    /// The figures stored under `key`, or nullopt: no entry, or one that cannot be read or was stored under another
    /// key (such a file is ignored, with a warning in the log, and overwritten by the next write).
    std::optional<nlohmann::json> read(const nlohmann::json& key) const;
    /// Stores figures under `key` atomically. A failure to write (a read-only disk, a full one) is logged, not
    /// thrown: the figures were measured and the run goes on.
    void write(const nlohmann::json& key, const nlohmann::json& figures) const;
    /// The file an entry for `key` lives in: the key's SHA-256 in hex, ".json".
    std::filesystem::path fileFor(const nlohmann::json& key) const;

    /// The uint8 images stored under `key`, which must have the shape `sizes`, or nullopt: no entry, or one that
    /// cannot be read, was stored under another key or holds images of another type or shape (such a file is
    /// ignored, with a warning in the log, and overwritten by the next write).
    std::optional<torch::Tensor> readImages(const nlohmann::json& key, const std::vector<std::int64_t>& sizes) const;
    /// Stores uint8 images under `key` atomically; a failure to write is logged, not thrown (as write()).
    void writeImages(const nlohmann::json& key, const torch::Tensor& images) const;
    /// The file images for `key` live in: the key's SHA-256 in hex, ".safetensors".
    std::filesystem::path imagesFileFor(const nlohmann::json& key) const;

private:
    std::filesystem::path m_dir;
};

} // namespace lethe::eval
