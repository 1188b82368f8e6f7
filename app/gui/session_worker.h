#pragma once

// The worker that runs core on its own thread for the window: opening a model and data set, an unlearning
// run with previews, snapshots and measurements, and exports. Only Qt values cross to the UI thread.
#include "step_point.h"
#include "widgets/class_picker.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/metrics_view.h"

#include <QImage>
#include <QList>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <mutex>

namespace lethe::unlearn {
class RunControl;
}

namespace lethe::gui {

/// What was opened.
struct OpenedModel {
    QString modelPath;
    QString modelDescription;
    QString dataDescription;
    QList<widgets::ClassEntry> classes;
    bool canMeasure = false; ///< A classifier for the data set was found.
};

/// What a run needs besides its hyperparameters.
struct RunRequest {
    widgets::RunSettings settings;
    int forgetClass = -1;
    bool measure = true;
    qint64 measureImagesPerClass = 100;
    qint64 previewEvery = 25;
    QList<qint64> previewSeeds { 0, 1, 2, 3 };
};

/// Lives on its own QThread. Slots are called queued from the UI thread; a run blocks this thread until it
/// ends, so pause, resume, stop and live changes go through control(), which is thread-safe.
/// The application property holding the device given on the command line (`lethe --device cuda`); without it
/// the worker takes the "device" setting, else "auto".
inline constexpr const char* kDeviceProperty = "letheDevice";

/// The device name the worker opens models on: the command line's, else the setting's, else "auto".
QString chosenDeviceName();

class SessionWorker : public QObject {
    Q_OBJECT

public:
    SessionWorker();
    ~SessionWorker() override;

    /// The control of the current run, or null between runs. Safe from any thread.
    std::shared_ptr<unlearn::RunControl> control() const;

    /// Presets and methods as the panel shows them (from core's single source of defaults).
    static QList<widgets::RunPreset> presets();
    static QList<QPair<QString, QString>> methods();

public Q_SLOTS:
    /// Loads the model (empty: the built-in one), the data set's training split and, where possible, the
    /// classifier (empty: the built-in one) with the test split's features.
    void open(const QString& model, const QString& data, const QString& classifier);
    /// Runs to the end (or a stop); emits before/after previews, steps, snapshots and measurements.
    void run(const lethe::gui::RunRequest& request);
    /// Writes the current model (or the snapshot of `step`, when >= 0) with run.json, steps.csv and the
    /// grids into `folder`. Safe while paused: it reads weights the paused run does not change.
    void exportRun(const QString& folder, qint64 step);

Q_SIGNALS:
    void opened(const lethe::gui::OpenedModel& model);
    void openFailed(const QString& message);
    void busy(const QString& what, int done, int total);
    void runStarted(qint64 totalSteps);
    void beforeReady(const QList<QImage>& cells, int columns);
    void stepDone(const lethe::gui::StepPoint& point);
    void previewReady(qint64 step, const QList<QImage>& cells);
    void rolledBack(qint64 failedStep, qint64 restoredStep, const QString& why);
    void measured(int which, const lethe::widgets::Measurement& measurement);
    void runEnded(const QString& outcome, const QString& message, qint64 steps, double seconds);
    void runFailed(const QString& message);
    void exported(const QString& folder);
    void exportFailed(const QString& message);

private:
    struct State;
    std::unique_ptr<State> m_state;
    mutable std::mutex m_controlMutex;
    std::shared_ptr<unlearn::RunControl> m_control;
};

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::OpenedModel)
Q_DECLARE_METATYPE(lethe::gui::RunRequest)
