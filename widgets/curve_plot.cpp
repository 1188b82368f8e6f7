#include "curve_plot.h"

#include "qcustomplot_include.h"

#include <QFile>
#include <QKeyEvent>
#include <QSaveFile>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>

namespace lethe::widgets {

CurvePlot::CurvePlot(const QString& valueLabel, QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot(this))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    m_plot->xAxis->setLabel(tr("step"));
    m_plot->yAxis->setLabel(valueLabel);
    m_plot->legend->setVisible(true);
    m_plot->legend->setFont(font());
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setNoAntialiasingOnDrag(true);
    m_plot->setAccessibleName(valueLabel);
    setFocusPolicy(Qt::StrongFocus);
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &CurvePlot::redraw);
    m_sinceRedraw.start();
    connect(m_plot, &QCustomPlot::mouseMove, this, &CurvePlot::onMouseMove);
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent*) { fit(); });
    const auto userMoved = [this] {
        m_follow = false;
        Q_EMIT viewChanged();
    };
    connect(m_plot, &QCustomPlot::mouseWheel, this, userMoved);
    connect(m_plot, &QCustomPlot::mousePress, this, userMoved);
}

CurvePlot::~CurvePlot() = default;

int CurvePlot::addGraph(const QString& name, const QColor& colour, bool line, int width)
{
    QCPGraph* graph = m_plot->addGraph();
    graph->setName(name);
    graph->setPen(QPen(colour, width));
    if (!line) {
        graph->setLineStyle(QCPGraph::lsNone);
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, 5));
    }
    Series series;
    series.name = name;
    series.graph = graph;
    m_series.push_back(series);
    return static_cast<int>(m_series.size()) - 1;
}

int CurvePlot::addSeries(const QString& name, const QColor& colour, bool smoothedCompanion)
{
    QColor raw = colour;
    if (smoothedCompanion)
        raw.setAlpha(90); // The raw curve fades behind its smoothed companion.
    const int index = addGraph(name, raw, true, 1);
    if (smoothedCompanion) {
        const int companion = addGraph(tr("%1 (smoothed)").arg(name), colour, true, 2);
        m_series[index].companion = companion;
        m_series[companion].smoothedBy = index;
    }
    return index;
}

int CurvePlot::addMarkerSeries(const QString& name, const QColor& colour)
{
    return addGraph(name, colour, false, 1);
}

void CurvePlot::append(int series, double step, double value)
{
    if (series < 0 || series >= m_series.size() || m_series[series].smoothedBy >= 0)
        return;
    m_pending.push_back({ series, QPointF(step, value) });
    const int companion = m_series[series].companion;
    if (companion >= 0 && std::isfinite(value)) {
        Series& s = m_series[companion];
        s.smoothed = s.started ? (1.0 - m_smoothing) * s.smoothed + m_smoothing * value : value;
        s.started = true;
        m_pending.push_back({ companion, QPointF(step, s.smoothed) });
    }
    scheduleRedraw();
}

void CurvePlot::scheduleRedraw()
{
    if (m_timer.isActive())
        return;
    const qint64 interval = 1000 / maxRedrawsPerSecond();
    m_timer.start(static_cast<int>(std::max<qint64>(0, interval - m_sinceRedraw.elapsed())));
}

void CurvePlot::redraw()
{
    for (const Pending& p : std::as_const(m_pending)) {
        Series& s = m_series[p.series];
        s.points.push_back(p.point);
        s.graph->addData(p.point.x(), p.point.y());
    }
    m_pending.clear();
    if (m_follow)
        m_plot->rescaleAxes(true);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    ++m_redraws;
    m_sinceRedraw.restart();
}

void CurvePlot::flush()
{
    m_timer.stop();
    redraw();
}

void CurvePlot::fit()
{
    m_follow = true;
    m_plot->rescaleAxes(true);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void CurvePlot::addMarker(double step, const QString& label)
{
    auto* line = new QCPItemStraightLine(m_plot);
    line->point1->setCoords(step, 0);
    line->point2->setCoords(step, 1);
    line->setPen(QPen(palette().color(QPalette::WindowText), 1, Qt::DashLine));
    auto* text = new QCPItemText(m_plot);
    text->position->setTypeX(QCPItemPosition::ptPlotCoords);
    text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    text->position->setCoords(step, 0.02);
    text->setPositionAlignment(Qt::AlignTop | Qt::AlignLeft);
    text->setText(label);
    text->setPadding(QMargins(3, 0, 0, 0));
    ++m_markers;
    scheduleRedraw();
}

void CurvePlot::clear()
{
    m_timer.stop();
    m_pending.clear();
    for (Series& s : m_series) {
        s.points.clear();
        s.graph->data()->clear();
        s.started = false;
    }
    m_plot->clearItems();
    m_markers = 0;
    m_follow = true;
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void CurvePlot::setLogScale(bool on)
{
    m_log = on;
    m_plot->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (on)
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    fit();
}

bool CurvePlot::logScale() const
{
    return m_log;
}

void CurvePlot::setSmoothing(double weight)
{
    m_smoothing = std::clamp(weight, 1e-3, 1.0);
}

int CurvePlot::seriesCount() const
{
    return static_cast<int>(m_series.size());
}

QString CurvePlot::seriesName(int series) const
{
    return m_series.value(series).name;
}

QList<QPointF> CurvePlot::points(int series) const
{
    return m_series.value(series).points;
}

qsizetype CurvePlot::pendingCount() const
{
    return m_pending.size();
}

int CurvePlot::redrawCount() const
{
    return m_redraws;
}

int CurvePlot::markerCount() const
{
    return m_markers;
}

QString CurvePlot::readout(double step) const
{
    // The nearest step any series has, then each series' value there (when it has one).
    double nearest = std::nan("");
    for (const auto& s : m_series)
        for (const QPointF& p : s.points)
            if (std::isnan(nearest) || std::abs(p.x() - step) < std::abs(nearest - step))
                nearest = p.x();
    if (std::isnan(nearest))
        return {};
    QString text = tr("step %1").arg(nearest);
    for (const auto& s : m_series) {
        const auto it
            = std::find_if(s.points.begin(), s.points.end(), [&](const QPointF& p) { return p.x() == nearest; });
        if (it != s.points.end())
            text += QStringLiteral(" · %1 %2").arg(s.name).arg(it->y(), 0, 'g', 4);
    }
    return text;
}

void CurvePlot::onMouseMove(QMouseEvent* event)
{
    const double step = m_plot->xAxis->pixelToCoord(event->position().x());
    const QString text = readout(step);
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
}

void CurvePlot::keyPressEvent(QKeyEvent* event)
{
    if (event->key() == Qt::Key_R) {
        fit();
        return;
    }
    QWidget::keyPressEvent(event);
}

bool CurvePlot::exportPng(const QString& path, int width, int height)
{
    flush();
    return m_plot->savePng(path, width, height);
}

bool CurvePlot::exportCsv(const QString& path) const
{
    std::map<double, QList<QString>> rows;
    for (int i = 0; i < m_series.size(); ++i)
        for (const QPointF& p : m_series[i].points) {
            QList<QString>& row = rows[p.x()];
            if (row.isEmpty())
                row.resize(m_series.size());
            row[i] = QString::number(p.y(), 'g', 9);
        }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
        return false;
    QTextStream out(&file);
    out << "step";
    for (const auto& s : m_series)
        out << ',' << '"' << QString(s.name).replace(QLatin1Char('"'), QStringLiteral("\"\"")) << '"';
    out << '\n';
    for (const auto& [step, values] : rows) {
        out << QString::number(step, 'g', 12);
        for (const QString& v : values)
            out << ',' << v;
        out << '\n';
    }
    out.flush();
    return file.commit();
}

} // namespace lethe::widgets
