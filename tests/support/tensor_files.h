#pragma once

// Reading a safetensors file whole, for tests that compare what a run wrote.
#include "core/io/safetensors.h"

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>

namespace lethe::test {

/// Every tensor of a safetensors file, by name.
inline std::map<std::string, torch::Tensor> tensorsOf(const std::filesystem::path& path)
{
    const io::SafetensorsFile file(path);
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& entry : file.entries())
        tensors[entry.name] = file.tensor(entry.name);
    return tensors;
}

} // namespace lethe::test
