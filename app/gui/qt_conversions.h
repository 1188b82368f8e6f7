#pragma once

// Conversions from core values to Qt values. Only this header's source sees LibTorch types.
#include <QImage>
#include <QList>

#include "widgets/class_picker.h"

#include <string>

namespace at {
class Tensor;
}

namespace lethe::data {
struct ImageSet;
}

namespace lethe::gui {

/// One image of a set as a deep-copied QImage (Grayscale8 or RGB888).
QImage imageAt(const data::ImageSet& set, std::int64_t index);

/// uint8 N×C×H×W images (C = 1 or 3) as deep-copied QImages.
QList<QImage> imagesOf(const at::Tensor& images);

/// Each class with its name, its first image and its count, for the class picker.
QList<widgets::ClassEntry> classEntries(const data::ImageSet& set);

inline QString toQString(const std::string& text)
{
    return QString::fromStdString(text);
}

} // namespace lethe::gui
