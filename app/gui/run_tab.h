#pragma once

// What the Class and Concept tabs share: their RunWorker on a thread of its own, the hyperparameter panel, the
// run's buttons, progress bar and rate line, the live curves and the before/after grids, and the bookkeeping of a
// run (steps, pause, resume, stop, live changes, rollbacks, export results, status). Each tab adds what it chooses
// and shows. This header sees no LibTorch.
#include "unlearning_curves.h"

#include <QThread>
#include <QWidget>

class QHBoxLayout;
class QLabel;
class QProgressBar;
class QPushButton;
class QVBoxLayout;

namespace lethe::widgets {
class CurvePlot;
class HyperparameterPanel;
class SampleGrid;
} // namespace lethe::widgets

namespace lethe::gui {

class RunWorker;
struct StepPoint;

/// The base of ClassTab and ConceptTab. The worker's run is steered through its RunControl; its signals arrive
/// queued and go to the tab's onProgress, onStep and onRunEnded.
class RunTab : public QWidget {
    Q_OBJECT

public:
    ~RunTab() override;

    virtual void startRun() = 0;
    /// Pauses the run after its current step, or resumes it.
    void togglePause();
    /// Asks the run to stop after its current step (a paused run resumes for it).
    void stopRun();
    virtual bool canStart() const = 0;

    bool isRunning() const { return m_running; }
    bool isPaused() const { return m_paused; }
    bool isModelOpen() const { return m_modelOpen; }
    QString modelPath() const { return m_modelPath; }
    QString lastStatus() const { return m_lastStatus; }
    /// The last run's outcome: "finished", "stopped" or "failed".
    QString lastOutcome() const { return m_lastOutcome; }
    qint64 lastStep() const { return m_lastStep; }
    /// Steps per second of the steps alone (previews and measures between them left out).
    double stepsPerSecond() const;

    widgets::HyperparameterPanel* panel() const { return m_panel; }
    QPushButton* startButton() const { return m_start; }
    QPushButton* pauseButton() const { return m_pause; }
    QPushButton* stopButton() const { return m_stop; }
    QProgressBar* progressBar() const { return m_progress; }
    widgets::CurvePlot* lossPlot() const { return m_curves.loss; }
    widgets::CurvePlot* cosinePlot() const { return m_curves.cosine; }
    widgets::CurvePlot* normPlot() const { return m_curves.norm; }
    widgets::SampleGrid* beforeGrid() const { return m_beforeGrid; }
    widgets::SampleGrid* afterGrid() const { return m_afterGrid; }

Q_SIGNALS:
    /// For the window's status bar.
    void statusMessage(const QString& text);
    /// Start, pause, stop or export became possible or impossible (the window's shortcuts follow).
    void actionsChanged();
    void runFinished(const QString& outcome);
    void exportFinished(bool ok, const QString& message);

protected:
    /// Starts `worker` on the tab's thread, which deletes it when it ends (with the tab).
    RunTab(RunWorker* worker, QWidget* parent);

    /// Enables what the tab's state allows and emits actionsChanged().
    virtual void updateActions() = 0;
    virtual void showError(const QString& title, const QString& message) = 0;
    /// The status while the run is paused after m_lastStep.
    virtual QString pausedStatus() const = 0;
    virtual void onProgress(const QString& what, qint64 done, qint64 total) = 0;
    virtual void onStep(const StepPoint& point) = 0;
    virtual void onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds) = 0;

    /// Lays the tab out: `controls` in a scroll area at least `controlsWidth` wide, above `pinned` (the run's box,
    /// always in view however small the window), beside `views`, which take the room, in a splitter called `name`.
    void arrange(const QString& name, QWidget* controls, int controlsWidth, QWidget* pinned, QWidget* views);
    /// Puts m_panel, whose live changes go to the run, into a vertical layout of `group`, and returns the layout;
    /// the tab fills the panel (kind, methods, presets).
    QVBoxLayout* addPanel(QWidget* group);
    /// Start, Pause and Stop in a row (which the tab may add to), the progress bar and the rate line, into
    /// `layout`; returns the row.
    QHBoxLayout* addRunControls(QVBoxLayout* layout, QWidget* parent);
    /// The before and after grids (the tab lays them out), with what each says while it is empty.
    void makeGrids(QWidget* parent, const QString& beforePlaceholder, const QString& afterPlaceholder);
    /// Start, pause and stop as the run's state allows.
    void updateRunButtons();

    void setStatus(const QString& text);
    /// Clears the curves, the rate line and the step counts for a run of `totalSteps`.
    void resetRun(qint64 totalSteps);
    /// A run starts or ends: while one goes, the panel keeps only α, λ and lr editable.
    void setRunning(bool running);
    /// Adds a step to the curves and the counts.
    void recordStep(const StepPoint& point);
    /// A run ended with `outcome`: nothing runs or pauses any more, and the curves show their last points.
    void endRun(const QString& outcome);
    /// The rate line of a step: `format` takes steps/s, the time left, L_f, L_r and cos(a, d) as %1 to %5.
    QString stepRateText(const QString& format, const StepPoint& point) const;
    /// The status after a run that did not fail: `format` takes "finished" or "stopped", the steps and the time as
    /// %1 to %3 (the tab fills the rest).
    QString endedStatus(const QString& format, const QString& outcome, qint64 steps, double seconds) const;
    /// A run's closing message as the end of its status (" — message"), or nothing.
    static QString messageSuffix(const QString& message);
    /// The progress bar at step `done` of `total`.
    void showStepProgress(qint64 done, qint64 total);
    /// The progress bar at `done` of `total` (0: unknown) units of a phase, with `format`.
    void showPhaseProgress(qint64 done, qint64 total, const QString& format);
    /// The progress bar idle.
    void showIdleProgress();

    widgets::HyperparameterPanel* m_panel = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_pause = nullptr;
    QPushButton* m_stop = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_rate = nullptr;
    UnlearningCurves m_curves;
    widgets::SampleGrid* m_beforeGrid = nullptr;
    widgets::SampleGrid* m_afterGrid = nullptr;

    QString m_modelPath;
    QString m_lastStatus;
    QString m_lastOutcome;
    QString m_runMessage; ///< The status bar's text while the run steps.
    bool m_modelOpen = false;
    bool m_running = false;
    bool m_paused = false;
    bool m_exporting = false;
    qint64 m_lastStep = 0;
    qint64 m_totalSteps = 0;
    qint64 m_stepsDone = 0;
    double m_stepSeconds = 0.0; ///< The steps' own time, summed.

private:
    void onLiveChange(const QString& name, double value);
    /// Resumes the run if paused and asks it to stop; false when none is going.
    bool requestStop() const;

    QThread m_thread;
    RunWorker* m_runWorker = nullptr;
};

} // namespace lethe::gui
