#pragma once

// A module's state under PyTorch's state_dict names, saved to and loaded from safetensors files.

#include "core/io/model_file.h"
#include "core/io/safetensors.h"

#include <torch/nn/module.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lethe::nn {

/// Every parameter and buffer under its full dotted name, in PyTorch's state_dict order (a module's own
/// parameters, then its own buffers, then each child's in registration order). The tensors alias the module's.
/// All Lethe buffers are persistent, so this is exactly what the PyTorch original's state_dict() holds.
std::vector<io::NamedTensor> stateDict(const torch::nn::Module& module);

/// The number of parameter elements (buffers not counted).
std::int64_t parameterCount(const torch::nn::Module& module);

/// Writes the module's state as a plain safetensors file, atomically.
void saveStateDict(
    const std::filesystem::path& path, const torch::nn::Module& module, const io::Metadata& metadata = {});

/// Writes the module's state as a self-describing Lethe model file, atomically.
void saveModel(const std::filesystem::path& path, const torch::nn::Module& module, const io::ModelInfo& info);

/// A tensor whose shape in the file differs from the module's.
struct ShapeMismatch {
    std::string name;
    std::vector<std::int64_t> expected; ///< The module's shape.
    std::vector<std::int64_t> found; ///< The file's shape.
};

/// What loadStateDict compared; names are in the module's order (unexpected ones in the file's order).
struct LoadReport {
    std::vector<std::string> loaded;
    std::vector<std::string> missing;
    std::vector<std::string> unexpected;
    std::vector<ShapeMismatch> mismatched;

    /// True when every tensor matched one to one.
    bool complete() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
};

/// Copies the file's tensors into the module's parameters and buffers in place (under NoGradGuard), converting
/// floating dtypes (F16, BF16, F64, ...) to the module's. Strict mode checks everything before copying anything
/// and throws FormatError naming the file and the first missing, unexpected or mis-shaped tensor; otherwise the
/// tensors that match are copied and the rest reported. A non-floating tensor for a floating one (or the
/// reverse) always throws.
LoadReport loadStateDict(torch::nn::Module& module, const io::SafetensorsFile& file, bool strict = true);

/// The module's name of a file's tensor, or nullopt when the tensor belongs to another module and is to be
/// skipped (not reported as unexpected).
using KeyMapping = std::function<std::optional<std::string>(const std::string& fileName)>;

/// How loadStateDict matches a file against a module.
struct LoadOptions {
    /// See loadStateDict(module, file, strict).
    bool strict = true;
    /// File names to module names (CompVis single files, renamed legacy names); none: the names are equal.
    KeyMapping mapping;
    /// Accept shapes that differ only by trailing dimensions of size 1 (a 1×1 convolution's weight for a
    /// linear layer's) and reshape them.
    bool acceptTrailingUnitDims = false;
};

/// loadStateDict with renamed keys; messages name the file's tensor for unexpected ones and the module's
/// name for missing or mis-shaped ones. Two file tensors mapping onto one name is a FormatError.
LoadReport loadStateDict(torch::nn::Module& module, const io::SafetensorsFile& file, const LoadOptions& options);

/// "[512, 10]".
std::string shapeText(const std::vector<std::int64_t>& shape);

} // namespace lethe::nn
