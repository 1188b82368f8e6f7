#pragma once

// The live plots of an unlearning run, as the Class and Concept tabs both show them.
#include "step_point.h"

#include <QList>
#include <QString>

class QTabWidget;

namespace lethe::unlearn {
class RunControl;
}

namespace lethe::widgets {
class CurvePlot;
}

namespace lethe::gui {

/// Three plots in tabs: the losses L_f and L_r (smoothed), cos(a, d) with markers where the projection fired
/// (and, when asked for, where the forget term was truncated), and the norms ‖a‖ and ‖d‖; with the series
/// indices to add points to.
struct UnlearningCurves {
    widgets::CurvePlot* loss = nullptr;
    widgets::CurvePlot* cosine = nullptr;
    widgets::CurvePlot* norm = nullptr;
    int forgetLoss = 0;
    int remainLoss = 0;
    int cosineValue = 0;
    int projected = 0;
    int truncated = -1; ///< −1 without truncation markers.
    int ascentNorm = 0;
    int remainNorm = 0;

    /// The three plots: losses, cos(a, d), norms.
    QList<widgets::CurvePlot*> plots() const { return { loss, cosine, norm }; }
    /// Adds a step's points to each series (and its projection and truncation markers).
    void append(const StepPoint& point) const;
};

/// Makes the plots as tabs of `tabs` (which owns them).
UnlearningCurves addUnlearningCurves(QTabWidget* tabs, bool truncationMarkers);

/// Sends a live change of α ("alpha"), λ ("lambda") or the learning rate (any other name) to `control`, and marks
/// it on every plot at `step`, where it takes effect; returns the marker's label (e.g. "λ → 2.5").
QString sendLiveChange(
    unlearn::RunControl& control, const QString& name, double value, const UnlearningCurves& curves, double step);

} // namespace lethe::gui
