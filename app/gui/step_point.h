#pragma once

// One step of an unlearning run as the GUI plots it, shared by the Run and Concept tabs' workers.
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
    bool truncated = false; ///< Concept runs: the text variant of α cut the ascent step short.
    double lr = 0.0;
    double alpha = 0.0;
    double lambda = 0.0;
    double seconds = 0.0;
};

/// The plotted fields of a core step report (unlearn::StepReport or unlearn::ConceptStepReport, which name them
/// alike); `truncated` stays false.
template <typename Report> StepPoint stepPointOf(const Report& r)
{
    StepPoint p;
    p.step = r.step;
    p.totalSteps = r.totalSteps;
    p.forgetLoss = r.forgetLoss;
    p.remainLoss = r.remainLoss;
    p.ascentNorm = r.ascentNorm;
    p.remainNorm = r.remainNorm;
    p.cosine = r.cosine;
    p.projected = r.projected;
    p.lr = r.lr;
    p.alpha = r.alpha;
    p.lambda = r.lambda;
    p.seconds = r.seconds;
    return p;
}

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::StepPoint)
