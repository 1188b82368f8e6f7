#pragma once

// A tiny class-conditional EDM model for CIFAR-shaped data (3×32×32, 10 classes), written as a Lethe model
// file, for the tests that run lethe-cli or the window on real (fast) runs; and a random classifier of the same
// classes for their measures.
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_config.h"
#include "core/models/edm/edm_precond.h"
#include "core/unlearn/run_record.h"

#include <torch/torch.h>

#include <filesystem>

namespace lethe::test {

/// The tiny network: 8 channels, two levels, one block each, no attention.
inline models::EDMPrecondOptions tinyCifarOptions()
{
    models::EDMPrecondOptions options(32, 3);
    options.label_dim(10);
    options.model().label_dim(10).model_channels(8).channel_mult({ 1, 1 }).num_blocks(1).attn_resolutions({});
    return options;
}

inline void writeTinyCifarModel(const std::filesystem::path& path)
{
    const models::EDMPrecondOptions options = tinyCifarOptions();
    torch::manual_seed(1);
    io::ModelInfo info;
    info.kind = "edm";
    info.architecture = models::toJson(options);
    info.classes = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };
    info.dataset = { { "name", "tiny cifar" }, { "resolution", 32 }, { "channels", 3 } };
    info.provenance.method = "pretrain";
    unlearn::writeEdmModel(path, models::makeEdmPrecond(models::toJson(options)), info);
}

/// A random classifier of the tiny CIFAR model's 10 classes (its measures are figures, not meaningful ones).
inline void writeTinyCifarClassifier(const std::filesystem::path& path)
{
    torch::manual_seed(3);
    io::ModelInfo info;
    info.classes = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck" };
    info.dataset = { { "name", "tiny cifar" }, { "resolution", 32 }, { "channels", 3 } };
    info.provenance.method = "train-classifier";
    models::saveClassifier(
        path, models::ResNetClassifier(models::ResNetClassifierOptions(3, 10).width(4).blocks({ 1 })), info);
}

} // namespace lethe::test
