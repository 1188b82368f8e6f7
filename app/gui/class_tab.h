#pragma once

// The Class tab: class unlearning of a class-conditional model. Model and data, the class to forget, method and
// hyperparameters (α, λ, lr live while running), run controls, live curves, before/after grids with a snapshot
// timeline, measures, and export. The torch work runs on a SessionWorker in its own thread; this header sees no
// LibTorch.
#include "session_worker.h"
#include "unlearning_curves.h"

#include <QElapsedTimer>
#include <QThread>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QTabWidget;

namespace lethe::widgets {
class ClassPicker;
class CurvePlot;
class HyperparameterPanel;
class MetricsView;
class SampleGrid;
} // namespace lethe::widgets

namespace lethe::gui {

class ClassTab : public QWidget {
    Q_OBJECT

public:
    explicit ClassTab(QWidget* parent = nullptr);
    ~ClassTab() override;

    /// Opens `model` (empty: the built-in one) with the data set `data` (empty: the built-in Fashion-MNIST).
    void openModel(const QString& model, const QString& data);
    void startRun();
    void togglePause();
    void stopRun();
    /// Exports the current model (or the timeline's snapshot with `snapshot`) into `folder`.
    void exportTo(const QString& folder, bool snapshot = false);
    /// Asks for a folder and exports into it.
    void chooseExportFolder(bool snapshot = false);
    /// Writes the tab's settings (hyperparameters, measures, model and data).
    void saveSettings() const;

    bool isRunning() const { return m_running; }
    bool isPaused() const { return m_paused; }
    bool isModelOpen() const { return m_modelOpen; }
    bool canStart() const;
    bool canExport() const;
    QString modelPath() const { return m_modelPath; }
    QString dataSpec() const { return m_dataSpec; }
    QString lastStatus() const { return m_lastStatus; }
    widgets::CurvePlot* lossPlot() const { return m_curves.loss; }
    widgets::CurvePlot* cosinePlot() const { return m_curves.cosine; }
    widgets::SampleGrid* beforeGrid() const { return m_beforeGrid; }
    widgets::SampleGrid* afterGrid() const { return m_afterGrid; }
    widgets::HyperparameterPanel* panel() const { return m_panel; }
    widgets::ClassPicker* classPicker() const { return m_classPicker; }
    widgets::MetricsView* metricsView() const { return m_metrics; }
    QCheckBox* measureBox() const { return m_measure; }
    QPushButton* startButton() const { return m_start; }
    QPushButton* exportButton() const { return m_export; }
    QProgressBar* progressBar() const { return m_progress; }
    /// The last run's outcome ("finished", "stopped", "failed") and the steps/s it reached.
    QString lastOutcome() const { return m_lastOutcome; }
    double stepsPerSecond() const;
    /// The last finished run's steps per second of wall time, previews and snapshots included (what
    /// `lethe-cli unlearn` reports); 0 before a run ends.
    double wallStepsPerSecond() const
    {
        return m_wallSeconds > 0 ? static_cast<double>(m_wallSteps) / m_wallSeconds : 0.0;
    }

Q_SIGNALS:
    /// For the window's status bar.
    void statusMessage(const QString& text);
    /// Start, pause, stop or export became possible or impossible (the window's shortcuts follow).
    void actionsChanged();
    /// A model opened from `path` (for the recent models).
    void modelOpened(const QString& path);
    void runFinished(const QString& outcome);
    void exportFinished(bool ok, const QString& message);

private:
    QWidget* buildControls();
    QWidget* buildCurves();
    QWidget* buildCompare();
    void connectWorker();
    void restoreSettings();
    void setRunning(bool running);
    void updateActions();
    void onOpened(const OpenedModel& model);
    void onProgress(const QString& what, qint64 done, qint64 total);
    void onStep(const StepPoint& point);
    void onPreview(qint64 step, const QList<QImage>& cells);
    void onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds);
    void onLiveChange(const QString& name, double value);
    void showTimelineStep(int index);
    void showError(const QString& title, const QString& message);
    void showCell(int row, int column);
    void setStatus(const QString& text);

    QThread m_thread;
    SessionWorker* m_worker = nullptr;

    QLabel* m_modelLabel = nullptr;
    QComboBox* m_dataBox = nullptr;
    widgets::ClassPicker* m_classPicker = nullptr;
    widgets::HyperparameterPanel* m_panel = nullptr;
    QCheckBox* m_measure = nullptr;
    QSpinBox* m_measureImages = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_pause = nullptr;
    QPushButton* m_stop = nullptr;
    QPushButton* m_export = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_rate = nullptr;
    UnlearningCurves m_curves;
    QCheckBox* m_logScale = nullptr;
    widgets::SampleGrid* m_beforeGrid = nullptr;
    widgets::SampleGrid* m_afterGrid = nullptr;
    QCheckBox* m_difference = nullptr;
    QSlider* m_timeline = nullptr;
    QLabel* m_timelineLabel = nullptr;
    QPushButton* m_exportSnapshot = nullptr;
    widgets::MetricsView* m_metrics = nullptr;
    QTabWidget* m_lowerTabs = nullptr;

    QString m_modelPath;
    QString m_dataSpec;
    QString m_lastStatus;
    QStringList m_classNames;
    QList<QImage> m_before;
    QList<QPair<qint64, QList<QImage>>> m_previews;
    int m_columns = 4;
    int m_forgetClass = -1;
    bool m_running = false;
    QString m_runMessage; ///< The status bar's text while the run steps.
    bool m_paused = false;
    bool m_modelOpen = false;
    bool m_exporting = false;
    bool m_phaseShown = false; ///< The status bar shows a phase of progress(), not the run's message.
    qint64 m_lastStep = 0;
    qint64 m_totalSteps = 0;
    qint64 m_stepsDone = 0;
    double m_runSeconds = 0.0;
    qint64 m_wallSteps = 0;
    double m_wallSeconds = 0.0;
    QString m_lastOutcome;
};

} // namespace lethe::gui
