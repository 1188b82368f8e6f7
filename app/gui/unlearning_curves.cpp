#include "unlearning_curves.h"

#include "core/unlearn/run_control.h"
#include "widgets/curve_plot.h"

#include <QColor>
#include <QCoreApplication>
#include <QTabWidget>

namespace lethe::gui {

namespace {

/// The context lupdate files these strings under (the enclosing namespace), so that their translations are found.
QString tr(const char* text)
{
    return QCoreApplication::translate("lethe::gui", text);
}

} // namespace

UnlearningCurves addUnlearningCurves(QTabWidget* tabs, bool truncationMarkers)
{
    const QColor forget(200, 40, 40);
    const QColor remain(40, 90, 200);
    UnlearningCurves c;
    c.loss = new widgets::CurvePlot(tr("loss"), tabs);
    c.forgetLoss = c.loss->addSeries(tr("L_f (forget)"), forget, true);
    c.remainLoss = c.loss->addSeries(tr("L_r (remain)"), remain, true);
    c.cosine = new widgets::CurvePlot(tr("cos(a, d)"), tabs);
    c.cosineValue = c.cosine->addSeries(tr("cos(a, d)"), QColor(90, 90, 90), true);
    c.projected = c.cosine->addMarkerSeries(tr("projected"), QColor(220, 120, 0));
    if (truncationMarkers)
        c.truncated = c.cosine->addMarkerSeries(tr("truncated (L_f > α)"), QColor(120, 0, 160));
    c.norm = new widgets::CurvePlot(tr("gradient norm"), tabs);
    c.ascentNorm = c.norm->addSeries(tr("‖a‖ (forget)"), forget);
    c.remainNorm = c.norm->addSeries(tr("‖d‖ (remain)"), remain);
    tabs->addTab(c.loss, tr("Losses"));
    tabs->addTab(c.cosine, tr("cos(a, d) and projection"));
    tabs->addTab(c.norm, tr("Gradient norms"));
    return c;
}

void UnlearningCurves::append(const StepPoint& p) const
{
    const double x = static_cast<double>(p.step);
    loss->append(forgetLoss, x, p.forgetLoss);
    loss->append(remainLoss, x, p.remainLoss);
    cosine->append(cosineValue, x, p.cosine);
    if (p.projected)
        cosine->append(projected, x, p.cosine);
    if (p.truncated && truncated >= 0)
        cosine->append(truncated, x, p.cosine);
    norm->append(ascentNorm, x, p.ascentNorm);
    norm->append(remainNorm, x, p.remainNorm);
}

QString sendLiveChange(
    unlearn::RunControl& control, const QString& name, double value, const UnlearningCurves& curves, double step)
{
    QString label;
    if (name == QStringLiteral("alpha")) {
        control.setAlpha(value);
        label = tr("α → %1").arg(value);
    } else if (name == QStringLiteral("lambda")) {
        control.setLambda(value);
        label = tr("λ → %1").arg(value);
    } else {
        control.setLr(value);
        label = tr("lr → %1").arg(value);
    }
    for (widgets::CurvePlot* plot : curves.plots())
        plot->addMarker(step, label);
    return label;
}

} // namespace lethe::gui
