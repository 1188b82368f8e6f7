#include "metrics_view.h"

#include "qcustomplot_include.h"

#include <QLabel>
#include <QVBoxLayout>

#include <cmath>

namespace lethe::widgets {

MetricsView::MetricsView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
    , m_summary(new QLabel(this))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    layout->addWidget(m_plot, 1);
    m_plot->yAxis->setLabel(tr("classified as its class"));
    m_plot->yAxis->setRange(0, 1.05);
    m_plot->legend->setVisible(true);
    m_plot->setAccessibleName(tr("Per-class accuracy before and after"));
    refresh();
}

void MetricsView::setClasses(const QStringList& names, int forgotten)
{
    m_names = names;
    m_forgotten = forgotten;
    refresh();
}

void MetricsView::setBefore(const std::optional<Measurement>& before)
{
    m_before = before;
    refresh();
}

void MetricsView::setAfter(const std::optional<Measurement>& after)
{
    m_after = after;
    refresh();
}

void MetricsView::clear()
{
    m_before.reset();
    m_after.reset();
    m_robustness.clear();
    refresh();
}

void MetricsView::setRobustness(const QString& line)
{
    m_robustness = line;
    refresh();
}

QString MetricsView::summaryText() const
{
    return m_summary->text();
}

QList<double> MetricsView::barValues(int which) const
{
    const auto& m = which == 0 ? m_before : m_after;
    return m ? m->classAccuracy : QList<double> {};
}

void MetricsView::refresh()
{
    m_plot->clearPlottables();
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int i = 0; i < m_names.size(); ++i)
        ticker->addTick(i, m_names[i]);
    m_plot->xAxis->setTicker(ticker);
    m_plot->xAxis->setTickLabelRotation(m_names.size() > 6 ? 40 : 0);
    m_plot->xAxis->setRange(-0.7, std::max<qsizetype>(1, m_names.size()) - 0.3);

    const auto addBars = [&](const Measurement& m, const QString& name, const QColor& colour, double offset) {
        auto* bars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
        bars->setName(name);
        bars->setWidth(0.38);
        bars->setPen(Qt::NoPen);
        bars->setBrush(colour);
        for (int i = 0; i < m.classAccuracy.size(); ++i)
            if (std::isfinite(m.classAccuracy[i]) && i != m_forgotten)
                bars->addData(i + offset, m.classAccuracy[i]);
        if (m_forgotten >= 0 && m_forgotten < m.classAccuracy.size()) {
            auto* forgotten = new QCPBars(m_plot->xAxis, m_plot->yAxis);
            forgotten->setWidth(0.38);
            forgotten->setPen(Qt::NoPen);
            forgotten->setBrush(colour == QColor(160, 160, 160) ? QColor(240, 160, 160) : QColor(220, 40, 40));
            forgotten->addData(m_forgotten + offset, m.classAccuracy[m_forgotten]);
            forgotten->removeFromLegend();
        }
    };
    if (m_before)
        addBars(*m_before, tr("before"), QColor(160, 160, 160), -0.2);
    if (m_after)
        addBars(*m_after, tr("after"), QColor(40, 110, 200), 0.2);
    m_plot->replot(QCustomPlot::rpQueuedReplot);

    const auto figure = [](const std::optional<Measurement>& m, double Measurement::*field, int precision) {
        return m ? QString::number(*m.*field, 'f', precision) : QStringLiteral("—");
    };
    if (!m_before && !m_after) {
        m_summary->setText(tr("No measurements yet: they appear when a run with evaluation finishes.")
            + (m_robustness.isEmpty() ? QString() : QLatin1Char('\n') + m_robustness));
        return;
    }
    QString text = tr("UA %1 → %2   RA %3 → %4   FD_cls %5 → %6   KID_cls %7 → %8")
                       .arg(figure(m_before, &Measurement::ua, 3), figure(m_after, &Measurement::ua, 3),
                           figure(m_before, &Measurement::ra, 3), figure(m_after, &Measurement::ra, 3),
                           figure(m_before, &Measurement::fd, 3), figure(m_after, &Measurement::fd, 3),
                           figure(m_before, &Measurement::kid, 4), figure(m_after, &Measurement::kid, 4));
    // The literature's figures, on a line of their own, where either measurement has them.
    using Optional = std::optional<double> Measurement::*;
    const auto value
        = [](const std::optional<Measurement>& m, Optional field) { return m ? (*m).*field : std::nullopt; };
    const auto present = [&](Optional field) { return value(m_before, field) || value(m_after, field); };
    const auto pair = [&](Optional field, int precision) {
        const auto one = [&](const std::optional<Measurement>& m) {
            const std::optional<double> v = value(m, field);
            return v ? QString::number(*v, 'f', precision) : QStringLiteral("—");
        };
        return tr("%1 → %2").arg(one(m_before), one(m_after));
    };
    QStringList literature;
    if (present(&Measurement::clipUa) || present(&Measurement::clipRa))
        literature << tr("CLIP-UA %1   CLIP-RA %2").arg(pair(&Measurement::clipUa, 3), pair(&Measurement::clipRa, 3));
    if (present(&Measurement::fid))
        literature << tr("FID %1 (remaining classes)").arg(pair(&Measurement::fid, 2));
    if (present(&Measurement::fidForgotten))
        literature << tr("FID forgotten %1").arg(pair(&Measurement::fidForgotten, 2));
    if (!literature.isEmpty())
        text += QLatin1Char('\n') + literature.join(QStringLiteral("   "));
    if (!m_robustness.isEmpty())
        text += QLatin1Char('\n') + m_robustness;
    m_summary->setText(text);
}

} // namespace lethe::widgets
