#include "qt_conversions.h"

#include "core/data/image_set.h"
#include "core/data/subsets.h"

#include <torch/torch.h>

namespace lethe::gui {

namespace {

QImage imageOf(const torch::Tensor& image)
{
    const torch::Tensor chw = image.to(torch::kCPU).contiguous();
    const int channels = static_cast<int>(chw.size(0));
    const int height = static_cast<int>(chw.size(1));
    const int width = static_cast<int>(chw.size(2));
    const torch::Tensor hwc = chw.permute({ 1, 2, 0 }).contiguous();
    const QImage view(hwc.data_ptr<std::uint8_t>(), width, height, width * channels,
        channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
    return view.copy(); // The tensor goes away; the QImage must own its pixels.
}

} // namespace

QImage imageAt(const data::ImageSet& set, std::int64_t index)
{
    return imageOf(set.images[index]);
}

QList<QImage> imagesOf(const at::Tensor& images)
{
    QList<QImage> out;
    if (!images.defined())
        return out;
    for (std::int64_t i = 0; i < images.size(0); ++i)
        out.append(imageOf(images[i]));
    return out;
}

QList<widgets::ClassEntry> classEntries(const data::ImageSet& set)
{
    QList<widgets::ClassEntry> entries;
    const auto counts = set.classCounts();
    for (int c = 0; c < set.classCount(); ++c) {
        widgets::ClassEntry entry;
        entry.name = toQString(set.classNames[static_cast<std::size_t>(c)]);
        entry.count = counts[static_cast<std::size_t>(c)];
        const auto members = data::classIndices(set.labels, c);
        if (!members.empty())
            entry.thumbnail = imageAt(set, members.front());
        entries.append(entry);
    }
    return entries;
}

} // namespace lethe::gui
