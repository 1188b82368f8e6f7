#include "image_set.h"

#include "../error.h"

#include <torch/torch.h>

namespace lethe::data {

std::int64_t ImageSet::size() const
{
    return images.defined() ? images.size(0) : 0;
}

std::int64_t ImageSet::channels() const
{
    return images.defined() ? images.size(1) : 0;
}

std::int64_t ImageSet::height() const
{
    return images.defined() ? images.size(2) : 0;
}

std::int64_t ImageSet::width() const
{
    return images.defined() ? images.size(3) : 0;
}

std::vector<std::int64_t> ImageSet::classCounts() const
{
    std::vector<std::int64_t> counts(classNames.size(), 0);
    if (!labels.defined() || labels.numel() == 0)
        return counts;
    const torch::Tensor binned = torch::bincount(labels, {}, static_cast<std::int64_t>(classNames.size()));
    const auto* data = binned.data_ptr<std::int64_t>();
    for (std::size_t c = 0; c < counts.size() && static_cast<std::int64_t>(c) < binned.numel(); ++c)
        counts[c] = data[c];
    return counts;
}

void ImageSet::validate() const
{
    if (!images.defined() || images.dim() != 4 || images.scalar_type() != torch::kUInt8)
        throw Error(source + ": images must be a uint8 N×C×H×W tensor");
    if (!labels.defined() || labels.dim() != 1 || labels.scalar_type() != torch::kInt64)
        throw Error(source + ": labels must be an int64 vector");
    if (labels.size(0) != images.size(0))
        throw Error(source + ": " + std::to_string(images.size(0)) + " images but "
                    + std::to_string(labels.size(0)) + " labels");
    if (labels.numel() > 0) {
        const auto minLabel = labels.min().item<std::int64_t>();
        const auto maxLabel = labels.max().item<std::int64_t>();
        if (minLabel < 0 || maxLabel >= static_cast<std::int64_t>(classNames.size()))
            throw Error(source + ": labels span " + std::to_string(minLabel) + "–" + std::to_string(maxLabel)
                        + " but there are " + std::to_string(classNames.size()) + " class names");
    }
}

ImageSet padded(const ImageSet& set, int pad)
{
    ImageSet out = set;
    out.images = torch::constant_pad_nd(set.images, {pad, pad, pad, pad}, 0);
    return out;
}

} // namespace lethe::data
