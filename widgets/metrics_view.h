#pragma once

// What a run measured: per-class accuracy before and after as bars, UA, RA, FD_cls and KID_cls, and where the
// literature's instruments measured too, zero-shot CLIP's UA and RA and FID.
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <optional>

class QCustomPlot;
class QLabel;

namespace lethe::widgets {

/// One evaluation as plain values.
struct Measurement {
    QList<double> classAccuracy; ///< Accuracy of images generated for each class (NaN where none).
    double ua = 0.0;
    double ra = 0.0;
    double fd = 0.0;
    double kid = 0.0;
    std::optional<double> clipUa; ///< UA by zero-shot CLIP (with a CLIP model).
    std::optional<double> clipRa; ///< RA by zero-shot CLIP.
    std::optional<double> fid; ///< FID of the remaining classes' images (with an Inception detector).
    std::optional<double> fidForgotten; ///< FID of the forgotten class's images.
};

/// Bars of each class's accuracy before (grey) and after (blue) unlearning, the forgotten class's bar in
/// red; a summary line with UA, RA, FD_cls and KID_cls, before → after, and a second one with CLIP-UA, CLIP-RA and
/// FID (remaining classes, forgotten class) where a measurement has them.
class MetricsView : public QWidget {
    Q_OBJECT

public:
    explicit MetricsView(QWidget* parent = nullptr);

    void setClasses(const QStringList& names, int forgotten);
    void setBefore(const std::optional<Measurement>& before);
    void setAfter(const std::optional<Measurement>& after);
    /// A last line of figures from elsewhere (the Robustness panel's attack on the run), empty for none.
    void setRobustness(const QString& line);
    void clear();

    /// The summary line as shown.
    QString summaryText() const;
    /// Values of the bars: 0 before, 1 after.
    QList<double> barValues(int which) const;

private:
    void refresh();

    QCustomPlot* m_plot = nullptr;
    QLabel* m_summary = nullptr;
    QStringList m_names;
    int m_forgotten = -1;
    std::optional<Measurement> m_before;
    std::optional<Measurement> m_after;
    QString m_robustness;
};

} // namespace lethe::widgets

Q_DECLARE_METATYPE(lethe::widgets::Measurement)
