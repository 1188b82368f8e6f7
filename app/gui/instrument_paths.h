#pragma once

// The literature's measuring instruments of a class run, by file, as the Class tab chooses them and its worker
// loads them.
#include <QMetaType>
#include <QString>

namespace lethe::gui {

/// The instruments published results are measured with (docs/method.md §4); an empty path leaves that one out.
struct InstrumentPaths {
    QString clip; ///< A CLIP model folder (Hugging Face layout): UA and RA by zero-shot CLIP.
    QString inception; ///< FID's Inception-v3 detector (safetensors).
    QString fidReference; ///< FID's reference statistics (.npz with mu and sigma).
    QString fidResize = QStringLiteral("edm"); ///< "edm" or "pytorch-fid".

    bool empty() const { return clip.isEmpty() && inception.isEmpty() && fidReference.isEmpty(); }
};

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::InstrumentPaths)
