#pragma once

// The workbench window: model and data, method and hyperparameters, run controls, live curves,
// before/after grids with a snapshot timeline, measurements, the log, and export.
#include "session_worker.h"
#include "unlearning_curves.h"

#include <QElapsedTimer>
#include <QMainWindow>
#include <QThread>

class QAction;
class QCheckBox;
class QComboBox;
class QLabel;
class QMenu;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QTabWidget;

namespace lethe::widgets {
class ClassPicker;
class CurvePlot;
class HyperparameterPanel;
class LogView;
class MetricsView;
class SampleGrid;
} // namespace lethe::widgets

namespace lethe::gui {

class ConceptTab;
class LogBridge;

/// Two tabs: "Class" (class unlearning of a class-conditional model) and "Concept" (text-to-image concept
/// unlearning, ConceptTab). The Class tab opens on the built-in model and Fashion-MNIST; a whole run needs the
/// mouse alone (or the shortcuts, which act on the current tab: Ctrl+R start, Ctrl+P pause/resume, Ctrl+. stop,
/// Ctrl+E export).
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    /// `model` and `data` empty: the last ones used, else the built-in defaults.
    explicit MainWindow(const QString& model = {}, const QString& data = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    void openModel(const QString& model, const QString& data);
    void startRun();
    void togglePause();
    void stopRun();
    /// Exports the current model (or the timeline's snapshot with `snapshot`) into `folder`.
    void exportTo(const QString& folder, bool snapshot = false);

    /// A class-unlearning run is going (the Concept tab has its own isRunning()).
    bool isRunning() const { return m_running; }
    bool isModelOpen() const { return m_modelOpen; }
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
    ConceptTab* conceptTab() const { return m_concept; }
    QTabWidget* topTabs() const { return m_topTabs; }
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
    void runFinished(const QString& outcome);
    void exportFinished(bool ok, const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildUi();
    void buildMenus();
    void restoreSettings();
    void saveSettings() const;
    void setRunning(bool running);
    void updateActions();
    void addRecent(const QString& path);
    void onOpened(const OpenedModel& model);
    void onStep(const StepPoint& point);
    void onPreview(qint64 step, const QList<QImage>& cells);
    void onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds);
    void onLiveChange(const QString& name, double value);
    void showTimelineStep(int index);
    void showError(const QString& title, const QString& message);
    void chooseExportFolder(bool snapshot);
    void showCell(int row, int column);
    bool conceptCurrent() const;

    QThread m_thread;
    SessionWorker* m_worker = nullptr;
    LogBridge* m_logBridge = nullptr;

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
    widgets::LogView* m_log = nullptr;
    QTabWidget* m_lowerTabs = nullptr;
    QTabWidget* m_topTabs = nullptr;
    ConceptTab* m_concept = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_startAction = nullptr;
    QAction* m_pauseAction = nullptr;
    QAction* m_stopAction = nullptr;
    QAction* m_exportAction = nullptr;

    QString m_modelPath;
    QString m_dataSpec;
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
    bool m_closing = false;
    qint64 m_lastStep = 0;
    qint64 m_totalSteps = 0;
    qint64 m_stepsDone = 0;
    QElapsedTimer m_runClock;
    double m_runSeconds = 0.0;
    qint64 m_wallSteps = 0;
    double m_wallSeconds = 0.0;
    QString m_lastOutcome;
};

} // namespace lethe::gui
