#pragma once

// The shape both of the GUI's workers share (docs/architecture.md, "The run contract"): a QObject on its own
// QThread that runs one core UnlearnRun at a time, steered through a thread-safe RunControl, and one observer that
// turns the run's events into the same queued signals for class and concept runs. Only Qt values cross to the UI
// thread; no header here sees LibTorch.
#include "attack_values.h"
#include "step_point.h"

#include <QImage>
#include <QList>
#include <QObject>
#include <QString>

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace at {
class Tensor;
}

namespace lethe::attack {
struct AttackOutcome;
struct AttackProgressEvent;
} // namespace lethe::attack

namespace lethe::unlearn {
class RunControl;
class UnlearnRun;
struct RunResult;
struct StepReport;
} // namespace lethe::unlearn

namespace lethe::gui {

/// The application property holding the device given on the command line (`lethe --device cuda`); without it
/// the workers take the "device" setting, else "auto".
inline constexpr const char* kDeviceProperty = "letheDevice";

/// The device name the workers open models on: the command line's, else the setting's, else "auto".
QString chosenDeviceName();

/// The base of SessionWorker (class runs) and ConceptWorker (concept runs). Lives on its own QThread; its slots
/// are called queued from the UI thread, and a run blocks that thread until it ends, so pause, resume, stop and
/// live changes go through control(), which is thread-safe.
class RunWorker : public QObject {
    Q_OBJECT

public:
    RunWorker();
    ~RunWorker() override;

    /// The control of the current run, or null between runs. Safe from any thread.
    std::shared_ptr<unlearn::RunControl> control() const;
    /// The `what` of progress() while a run draws its previews between steps.
    static QString previewPhase();
    /// core's precisions of a run's passes as (key, label) pairs for the panel, in core's order.
    static QList<QPair<QString, QString>> precisions();
    /// Cancels the attack under way (attack() of a kind) at its next progress report. Safe from any thread.
    void cancelAttack();

Q_SIGNALS:
    /// Long work: `what` says which, (done, total) in its own units (total 0: unknown); an empty `what` ends it.
    void progress(const QString& what, qint64 done, qint64 total);
    void runStarted(qint64 totalSteps);
    /// The base model's preview images, `columns` to a row.
    void beforeReady(const QList<QImage>& cells, int columns);
    void stepDone(const lethe::gui::StepPoint& point);
    /// Preview images of the weights after `step`, in the same order as beforeReady's.
    void previewReady(qint64 step, const QList<QImage>& cells, int columns);
    /// A non-finite step at `failedStep`: the weights are back at `restoredStep`.
    void rolledBack(qint64 failedStep, qint64 restoredStep, const QString& why);
    /// outcome: "finished", "stopped" or "failed" (with `message`).
    void runEnded(const QString& outcome, const QString& message, qint64 steps, double seconds);
    void exported(const QString& where);
    void exportFailed(const QString& message);
    /// An attack on the finished run goes on (the Robustness panel).
    void attackProgress(const lethe::gui::AttackPoint& point);
    /// outcome: "finished" (with `summary`), "cancelled" or "failed" (with `message`).
    void attackEnded(const QString& outcome, const QString& message, const lethe::gui::AttackSummary& summary);

protected:
    /// Runs core's attack: given the progress callback to pass on, fills the outcome and returns true, or returns
    /// false when cancelled; throws core's errors.
    using AttackJob = std::function<bool(
        const std::function<bool(const attack::AttackProgressEvent&)>& progress, attack::AttackOutcome& outcome)>;
    /// Runs `job` on this thread with progress as attackProgress and cancelAttack() as its way to stop, and emits
    /// attackEnded. Returns the report as JSON (toJson) for the run's manifest, null unless it finished.
    nlohmann::json runAttack(const AttackJob& job);
    /// Seeds 0 … count − 1 (at least seed 0): the panel's judge and target seeds.
    static std::vector<std::int64_t> firstSeeds(int count);

    /// A fresh control for the run about to start; control() returns it until endRun().
    std::shared_ptr<unlearn::RunControl> beginRun();
    /// Drops the control and emits runEnded.
    void endRun(const QString& outcome, const QString& message, qint64 steps, double seconds);
    /// The same with how a run's loop ended.
    void endRun(const unlearn::RunResult& result);
    /// Runs `run` until it ends, with the observer that emits stepDone, previewReady (with `previewColumns`),
    /// rolledBack and progress. Returns how it ended.
    unlearn::RunResult runLoop(unlearn::UnlearnRun& run, unlearn::RunControl& control, int previewColumns);

    /// On the run's thread, before the matching signal: what a kind keeps of a step, a snapshot (the current
    /// weights are the snapshot's) and a preview.
    virtual void keepStep(const unlearn::StepReport& report);
    virtual void keepSnapshot(qint64 step);
    virtual void keepPreview(qint64 step, const at::Tensor& images);

private:
    class Observer;
    mutable std::mutex m_controlMutex;
    std::shared_ptr<unlearn::RunControl> m_control;
    std::atomic<bool> m_cancelAttack { false };
};

} // namespace lethe::gui
