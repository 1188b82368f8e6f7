#pragma once

// The Class tab: class unlearning of a class-conditional model. Model and data, the class to forget, method and
// hyperparameters (α, λ, lr live while running), run controls, live curves, before/after grids with a snapshot
// timeline, measures (with the literature's instruments where chosen: zero-shot CLIP, FID), and export. The torch work
// runs on a SessionWorker in its own thread; this header sees no LibTorch.
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

class RobustnessPanel;

class ClassTab : public RunTab {
    Q_OBJECT

public:
    explicit ClassTab(QWidget* parent = nullptr);

    /// Opens `model` (empty: the built-in one) with the data set `data` (empty: the built-in Fashion-MNIST) and, for
    /// the measures, the classifier `classifier` (empty: the built-in one).
    void openModel(const QString& model, const QString& data, const QString& classifier = {});
    /// Starts a run; with instruments chosen for the measures, they load first (on the worker's thread), and a
    /// failure to load them shows the loader's message under them and starts nothing.
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
    QSpinBox* measureImagesBox() const { return m_measureImages; }
    QPushButton* instrumentsButton() const { return m_instrumentsButton; }
    /// The literature's instruments the measures use besides the classifier (chosen in InstrumentsDialog).
    InstrumentPaths instrumentPaths() const { return m_instruments; }
    void setInstrumentPaths(const InstrumentPaths& paths);
    /// Asks for the instruments in an InstrumentsDialog.
    void chooseInstruments();
    /// The loaders' message when the instruments last failed to load (empty otherwise); the label under the measures
    /// shows it, else what the instruments are.
    QString instrumentsError() const { return m_instrumentsError; }
    QLabel* instrumentsLabel() const { return m_instrumentsLabel; }
    /// The instruments are loading before a run starts.
    bool isLoadingInstruments() const { return m_loadingInstruments; }
    QPushButton* exportButton() const { return m_export; }
    /// The Robustness tab: the class attack on the last run's model.
    RobustnessPanel* robustnessPanel() const { return m_robustness; }
    /// Starts the panel's attack on the worker's thread (once a run has finished).
    void startAttack();
    bool isAttacking() const { return m_attacking; }
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
    QWidget* buildRunGroup();
    QWidget* buildMeasures();
    void showInstruments();
    void launchRun(const RunRequest& request);
    QWidget* buildCurves();
    QWidget* buildCompare();
    void connectWorker();
    void restoreSettings();
    void onOpened(const OpenedModel& model);
    void onPreview(qint64 step, const QList<QImage>& cells);
    void showTimelineStep(int index);
    void showCell(int row, int column);
    void onAttackEnded(const QString& outcome, const QString& message, const AttackSummary& summary);

    SessionWorker* m_worker = nullptr;

    QLabel* m_modelLabel = nullptr;
    QComboBox* m_dataBox = nullptr;
    widgets::ClassPicker* m_classPicker = nullptr;
    QCheckBox* m_measure = nullptr;
    QSpinBox* m_measureImages = nullptr;
    QPushButton* m_instrumentsButton = nullptr;
    QLabel* m_instrumentsLabel = nullptr;
    QPushButton* m_export = nullptr;
    QCheckBox* m_logScale = nullptr;
    QCheckBox* m_difference = nullptr;
    QSlider* m_timeline = nullptr;
    QLabel* m_timelineLabel = nullptr;
    QPushButton* m_exportSnapshot = nullptr;
    widgets::MetricsView* m_metrics = nullptr;
    QTabWidget* m_lowerTabs = nullptr;
    RobustnessPanel* m_robustness = nullptr;

    QString m_dataSpec;
    QString m_classifier; ///< The classifier the model was opened with (empty: the built-in one).
    InstrumentPaths m_instruments;
    QString m_instrumentsError;
    RunRequest m_pendingRequest; ///< The run that starts once its instruments have loaded.
    bool m_loadingInstruments = false;
    bool m_canMeasure = false; ///< The open model has a classifier for the measures.
    QStringList m_classNames;
    QList<QImage> m_before;
    QList<QPair<qint64, QList<QImage>>> m_previews;
    int m_columns = 4;
    int m_forgetClass = -1;
    bool m_phaseShown = false; ///< The status bar shows a phase of progress(), not the run's message.
    bool m_attacking = false;
    bool m_hasRunModel = false; ///< The worker holds a run's model that the attack can take.
    qint64 m_wallSteps = 0;
    double m_wallSeconds = 0.0;
};

} // namespace lethe::gui
