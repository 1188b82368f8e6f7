#pragma once

// A live plot of named series against the step, for the loss, cosine and gradient-norm curves of a run.
#include <QColor>
#include <QElapsedTimer>
#include <QList>
#include <QPointF>
#include <QString>
#include <QTimer>
#include <QWidget>

class QCustomPlot;
class QCPGraph;
class QMouseEvent;

namespace lethe::widgets {

/// Series of (step, value) points drawn with QCustomPlot. Points are buffered and drawn at most
/// `maxRedrawsPerSecond()` times a second, never once per point, so a fast run cannot flood the UI thread.
/// Zoom with the wheel, pan by dragging, double-click (or R) to fit again; hovering shows every series' value
/// at the nearest step. Vertical markers note events such as a hyperparameter change.
class CurvePlot : public QWidget {
    Q_OBJECT

public:
    explicit CurvePlot(const QString& valueLabel, QWidget* parent = nullptr);
    ~CurvePlot() override;

    /// Adds a line series; with `smoothedCompanion`, a second series "<name> (smoothed)" follows it with an
    /// exponential moving average (see setSmoothing). Returns the index to append to.
    int addSeries(const QString& name, const QColor& colour, bool smoothedCompanion = false);
    /// Adds a series drawn as markers only, no line (the steps where the projection fired).
    int addMarkerSeries(const QString& name, const QColor& colour);

    /// Buffers one point; it appears at the next redraw.
    void append(int series, double step, double value);
    /// A vertical line at `step` labelled `label`.
    void addMarker(double step, const QString& label);
    /// Removes every point and marker (a new run).
    void clear();

    void setLogScale(bool on);
    bool logScale() const;
    /// Weight of the newest point in the smoothed companions, in (0, 1]; 1 means no smoothing.
    void setSmoothing(double weight);
    /// Draws the buffered points now.
    void flush();
    /// Fits the axes to the data and follows new points again after a zoom or pan.
    void fit();

    int seriesCount() const;
    QString seriesName(int series) const;
    /// The points of a series drawn so far (buffered points excluded).
    QList<QPointF> points(int series) const;
    qsizetype pendingCount() const;
    int redrawCount() const;
    int markerCount() const;
    static constexpr int maxRedrawsPerSecond() { return 30; }

    /// The hover read-out for the drawn point nearest to `step`: "step 12 · L_f 3.2 · L_r 0.41".
    QString readout(double step) const;

    /// Writes the plot as PNG; false when the file cannot be written.
    bool exportPng(const QString& path, int width = 1200, int height = 700);
    /// Writes "step,<series>,..." with one row per step seen by any series; false on a write error.
    bool exportCsv(const QString& path) const;

Q_SIGNALS:
    /// The user zoomed or panned (the plot stops following new points until fit()).
    void viewChanged();

protected:
    void keyPressEvent(QKeyEvent* event) override;

private:
    struct Series {
        QString name;
        QCPGraph* graph = nullptr;
        QList<QPointF> points;
        int smoothedBy = -1; ///< Index of the series this one smooths, or -1.
        int companion = -1; ///< Index of this series' smoothed companion, or -1.
        double smoothed = 0.0;
        bool started = false;
    };
    struct Pending {
        int series;
        QPointF point;
    };

    void scheduleRedraw();
    void redraw();
    void onMouseMove(QMouseEvent* event);
    int addGraph(const QString& name, const QColor& colour, bool line, int width);

    QCustomPlot* m_plot = nullptr;
    QList<Series> m_series;
    QList<Pending> m_pending;
    QTimer m_timer;
    QElapsedTimer m_sinceRedraw;
    int m_redraws = 0;
    int m_markers = 0;
    double m_smoothing = 0.1;
    bool m_follow = true;
    bool m_log = false;
};

} // namespace lethe::widgets
