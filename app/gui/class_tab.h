#pragma once

// The Class tab: class unlearning of a class-conditional model. Model and data, the class to forget, method and
// hyperparameters (α, λ, lr live while running), run controls, live curves, before/after grids with a snapshot
// timeline, measures, and export. The torch work runs on a SessionWorker in its own thread; this header sees no
// LibTorch.
#include "run_tab.h"
#include "session_worker.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSlider;
class QSpinBox;
class QTabWidget;

namespace lethe::widgets {
class ClassPicker;
class MetricsView;
} // namespace lethe::widgets

namespace lethe::gui {

class ClassTab : public RunTab {
    Q_OBJECT

public:
    explicit ClassTab(QWidget* parent = nullptr);

    /// Opens `model` (empty: the built-in one) with the data set `data` (empty: the built-in Fashion-MNIST).
    void openModel(const QString& model, const QString& data);
    void startRun() override;
    /// Exports the current model (or the timeline's snapshot with `snapshot`) into `folder`.
    void exportTo(const QString& folder, bool snapshot = false);
    /// Asks for a folder and exports into it.
    void chooseExportFolder(bool snapshot = false);
    /// Writes the tab's settings (hyperparameters, measures, model and data).
    void saveSettings() const;

    bool canStart() const override;
    bool canExport() const;
    QString dataSpec() const { return m_dataSpec; }
    widgets::ClassPicker* classPicker() const { return m_classPicker; }
    widgets::MetricsView* metricsView() const { return m_metrics; }
    QCheckBox* measureBox() const { return m_measure; }
    QPushButton* exportButton() const { return m_export; }
    /// The last finished run's steps per second of wall time, previews and snapshots included (what
    /// `lethe-cli unlearn` reports); 0 before a run ends.
    double wallStepsPerSecond() const
    {
        return m_wallSeconds > 0 ? static_cast<double>(m_wallSteps) / m_wallSeconds : 0.0;
    }

Q_SIGNALS:
    /// A model opened from `path` (for the recent models).
    void modelOpened(const QString& path);

protected:
    void updateActions() override;
    void showError(const QString& title, const QString& message) override;
    QString pausedStatus() const override;
    void onProgress(const QString& what, qint64 done, qint64 total) override;
    void onStep(const StepPoint& point) override;
    void onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds) override;

private:
    ClassTab(SessionWorker* worker, QWidget* parent);
    QWidget* buildControls();
    QWidget* buildCurves();
    QWidget* buildCompare();
    void connectWorker();
    void restoreSettings();
    void onOpened(const OpenedModel& model);
    void onPreview(qint64 step, const QList<QImage>& cells);
    void showTimelineStep(int index);
    void showCell(int row, int column);

    SessionWorker* m_worker = nullptr;

    QLabel* m_modelLabel = nullptr;
    QComboBox* m_dataBox = nullptr;
    widgets::ClassPicker* m_classPicker = nullptr;
    QCheckBox* m_measure = nullptr;
    QSpinBox* m_measureImages = nullptr;
    QPushButton* m_export = nullptr;
    QCheckBox* m_logScale = nullptr;
    QCheckBox* m_difference = nullptr;
    QSlider* m_timeline = nullptr;
    QLabel* m_timelineLabel = nullptr;
    QPushButton* m_exportSnapshot = nullptr;
    widgets::MetricsView* m_metrics = nullptr;
    QTabWidget* m_lowerTabs = nullptr;

    QString m_dataSpec;
    QStringList m_classNames;
    QList<QImage> m_before;
    QList<QPair<qint64, QList<QImage>>> m_previews;
    int m_columns = 4;
    int m_forgetClass = -1;
    bool m_phaseShown = false; ///< The status bar shows a phase of progress(), not the run's message.
    qint64 m_wallSteps = 0;
    double m_wallSeconds = 0.0;
};

} // namespace lethe::gui
