#pragma once

// One step of an unlearning run as the GUI plots it, the same for class and concept runs (qt_conversions'
// stepPointOf makes it from core's one StepReport).
#include <QMetaType>
#include <QtGlobal>

namespace lethe::gui {

/// One step of a run as the window shows it.
struct StepPoint {
    qint64 step = 0;
    qint64 totalSteps = 0;
    double forgetLoss = 0.0;
    double remainLoss = 0.0;
    double ascentNorm = 0.0;
    double remainNorm = 0.0;
    double cosine = 0.0;
    bool projected = false;
    bool truncated = false; ///< Concept runs: L_f > α, the forget term had weight 0 on this step.
    double lr = 0.0;
    double alpha = 0.0;
    double lambda = 0.0;
    double seconds = 0.0;
};

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::StepPoint)
