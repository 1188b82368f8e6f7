#pragma once

// Random weights for FID's Inception-v3 under pytorch-fid's names, for the tests of the network, of FID and of the
// commands that measure it. The architecture is fixed (23.8 M parameters), so "tiny" is only the test data: few
// images, float16 weights (about 48 MB).
#include "core/eval/fid.h"
#include "core/io/safetensors.h"
#include "core/models/inception/fid_inception.h"
#include "core/nn/state_dict.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace lethe::test {

/// He-scaled convolutions and batch norms whose statistics are far from the identity, so that every term of the
/// forward pass matters; float16 (the loader converts).
inline std::vector<io::NamedTensor> randomInceptionWeights(std::uint64_t seed)
{
    const auto endsWith = [](const std::string& text, const std::string& suffix) {
        return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    torch::manual_seed(seed);
    const models::inception::FidInception net;
    std::vector<io::NamedTensor> tensors;
    for (const auto& [name, tensor] : nn::stateDict(*net)) {
        const auto shape = tensor.sizes();
        torch::Tensor value;
        if (endsWith(name, ".conv.weight"))
            value = torch::randn(shape) * std::sqrt(2.0 / static_cast<double>(tensor.numel() / tensor.size(0)));
        else if (endsWith(name, ".bn.weight"))
            value = torch::rand(shape) + 0.5;
        else if (endsWith(name, ".bn.running_var"))
            value = torch::rand(shape) * 1.5 + 0.5;
        else
            value = torch::randn(shape) * 0.2;
        tensors.push_back({ name, value.to(torch::kFloat16) });
    }
    return tensors;
}

/// Writes randomInceptionWeights(seed) as a detector file.
inline void writeRandomInception(const std::filesystem::path& file, std::uint64_t seed = 11)
{
    io::writeSafetensors(file, randomInceptionWeights(seed));
}

/// FID reference statistics of mean 0 and covariance I in the detector's feature space, as an .npz.
inline void writeStandardFidReference(const std::filesystem::path& file)
{
    const std::int64_t dim = models::inception::kFidFeatureDim;
    eval::writeFidReference(
        file, { torch::zeros({ dim }, torch::kFloat64), torch::eye(dim, torch::TensorOptions(torch::kFloat64)), 2 });
}

} // namespace lethe::test
