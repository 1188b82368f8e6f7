#pragma once

#include "core/io/safetensors.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace lethe::io {

/// Where a model came from: recorded in every file Lethe writes.
struct Provenance {
    std::string parentSha256; ///< SHA-256 of the file it was made from; empty for a model trained from scratch.
    std::string method; ///< "pretrain", "train-classifier", "rgd", "converted from NVlabs EDM", ...
    std::string command; ///< The exact command line that made it.
    std::uint64_t seed = 0;
    std::int64_t steps = 0;
    std::int64_t imagesSeen = 0;
    double wallSeconds = 0.0;
    std::string created; ///< UTC, ISO 8601.
    nlohmann::json hyperparameters = nlohmann::json::object();
};

/// The self-description a Lethe model file carries in its safetensors metadata.
struct ModelInfo {
    std::string kind; ///< "edm" or "classifier".
    nlohmann::json architecture; ///< The network's constructor arguments (EDM's own names for EDM).
    std::vector<std::string> classes; ///< Class names by label; empty for unconditional models.
    /// The names zero-shot CLIP prompts use ("a photo of a {name}"), by label, where they differ from `classes`:
    /// the paper writes CIFAR-10's "airplane" as "plane", "automobile" as "car". Empty: `classes`.
    std::vector<std::string> zeroShotNames;
    nlohmann::json dataset = nlohmann::json::object(); ///< {"name":…, "resolution":…, "channels":…}
    Provenance provenance;
};

/// The metadata key holding the JSON description, and the format tag beside it.
inline constexpr const char* kMetadataKey = "lethe";
inline constexpr const char* kFormatTag = "lethe.model";
inline constexpr int kFormatVersion = 1;

nlohmann::json toJson(const Provenance& provenance);
Provenance provenanceFromJson(const nlohmann::json& json, const std::string& file);
nlohmann::json toJson(const ModelInfo& info);

/// info.zeroShotNames, or info.classes where the file gives none.
const std::vector<std::string>& zeroShotNames(const ModelInfo& info);

/// Parses the description from a file's metadata; FormatError names the file and key when it is
/// missing (with a hint for foreign files) or malformed.
ModelInfo readModelInfo(const SafetensorsFile& file);

/// Writes tensors plus the description atomically.
void writeModel(const std::filesystem::path& path, const ModelInfo& info, const std::vector<NamedTensor>& tensors);

/// The current time as UTC ISO 8601 ("2026-11-28T01:02:03Z").
std::string utcNow();

/// The command line of this process, joined with spaces (quoted where needed), for provenance.
std::string commandLine(int argc, const char* const* argv);

} // namespace lethe::io
