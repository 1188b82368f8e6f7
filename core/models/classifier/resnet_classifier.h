#pragma once

#include "core/io/model_file.h"

#include <nlohmann/json.hpp>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lethe::models {

/// Options of ResNetClassifier, torch style: required values in the constructor, chainable setters.
struct ResNetClassifierOptions {
    /// The two values every classifier needs; the rest keep the defaults below until set.
    ResNetClassifierOptions(std::int64_t inChannels, std::int64_t numClasses);

    /// Image channels (1 for Fashion-MNIST, 3 for CIFAR-10).
    TORCH_ARG(std::int64_t, inChannels);
    /// Number of classes, i.e. logits.
    TORCH_ARG(std::int64_t, numClasses);
    /// Channels of the first stage; every later stage doubles it. Default 32.
    TORCH_ARG(std::int64_t, width) = 32;
    /// Residual blocks per stage; stages after the first halve the resolution. Default {2, 2, 2}.
    TORCH_ARG(std::vector<std::int64_t>, blocks) = std::vector<std::int64_t> { 2, 2, 2 };
    /// Dropout before the final linear layer (0 = none). Default 0.
    TORCH_ARG(double, dropout) = 0.0;
};

/// The options as the JSON stored in a model file's "architecture".
nlohmann::json toJson(const ResNetClassifierOptions& options);
/// Parses options written by toJson; throws Error naming the field that is missing or out of range.
ResNetClassifierOptions resnetClassifierOptionsFromJson(const nlohmann::json& json);

/// A small ResNet for C×32×32 images, the evaluation classifier of UA / RA / FD_cls / KID_cls.
class ResNetClassifierImpl : public torch::nn::Module {
public:
    /// Builds the network; throws Error for options outside the limits a model file may hold.
    explicit ResNetClassifierImpl(const ResNetClassifierOptions& options);

    /// Logits (N×numClasses) for float images N×C×H×W scaled to [-1, 1].
    torch::Tensor forward(const torch::Tensor& x);
    /// The penultimate features (N×featureDim) after global average pooling, for Fréchet distance and KID.
    torch::Tensor features(const torch::Tensor& x);
    /// Logits from features() output, so one pass can yield both.
    torch::Tensor logitsFromFeatures(const torch::Tensor& features);
    /// Length of the feature vector: width · 2^(stages − 1).
    std::int64_t featureDim() const;

    /// The options it was built with.
    const ResNetClassifierOptions& options() const { return m_options; }

private:
    ResNetClassifierOptions m_options;
    torch::nn::Conv2d m_stem { nullptr };
    torch::nn::BatchNorm2d m_stemBn { nullptr };
    torch::nn::ModuleList m_stages { nullptr }; ///< Holds m_stageBlocks under the names files use.
    std::vector<torch::nn::Sequential> m_stageBlocks;
    torch::nn::Dropout m_dropout { nullptr };
    torch::nn::Linear m_head { nullptr };
};
TORCH_MODULE(ResNetClassifier);

/// uint8 images (N×C×H×W, any device) as the classifier's float input: x / 127.5 − 1, on `device`.
torch::Tensor classifierInput(const torch::Tensor& images, torch::Device device);

/// The model file kind of classifiers.
inline constexpr const char* kClassifierKind = "classifier";

/// A classifier read from a file, with its description.
struct LoadedClassifier {
    ResNetClassifier model { nullptr };
    io::ModelInfo info;
    std::string sha256; ///< Of the file, for measure caches.
};

/// Writes `model` (parameters and batch-norm buffers) atomically. `info` supplies classes, dataset and
/// provenance; its kind and architecture are set from the model. Throws Error when the number of class
/// names disagrees with the model.
void saveClassifier(const std::filesystem::path& path, const ResNetClassifier& model, io::ModelInfo info);

/// Reads a classifier file onto `device`, in eval mode. FormatError names the file and the key or tensor
/// when it is not a classifier, a tensor is missing, unexpected or mis-shaped.
LoadedClassifier loadClassifier(const std::filesystem::path& path, torch::Device device = torch::kCPU);

} // namespace lethe::models
