#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace lethe::data {

/// A labelled image set held in memory: images are uint8 N×C×H×W on the CPU, labels int64 N.
struct ImageSet {
    torch::Tensor images;
    torch::Tensor labels;
    std::vector<std::string> classNames;
    /// Where it came from, for people: "Fashion-MNIST train (/usr/share/...)".
    std::string source;

    std::int64_t size() const;
    std::int64_t channels() const;
    std::int64_t height() const;
    std::int64_t width() const;
    int classCount() const { return static_cast<int>(classNames.size()); }
    /// Number of images of each class, indexed by label.
    std::vector<std::int64_t> classCounts() const;
    /// Throws Error when images, labels and class names disagree.
    void validate() const;
};

/// Pads every image with `pad` zero pixels on each side (Fashion-MNIST 28×28 → 32×32 with pad 2).
ImageSet padded(const ImageSet& set, int pad);

} // namespace lethe::data
