#pragma once

// The worker behind the Class tab: opens a class-conditional model with its data set (and, where it can, the
// classifier for the measures), runs class unlearning with before/after previews, snapshots and measures, and
// exports. The run itself and its signals are RunWorker's.
#include "instrument_paths.h"
#include "run_worker.h"
#include "widgets/class_picker.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/metrics_view.h"

#include <QList>
#include <QMetaType>
#include <QString>

#include <memory>

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
    QString preset; ///< The core preset the fields the panel does not show come from.
    int forgetClass = -1;
    bool measure = true;
    qint64 measureImagesPerClass = 100;
    qint64 previewEvery = 25;
    QList<qint64> previewSeeds { 0, 1, 2, 3 };
    InstrumentPaths instruments; ///< Measures with these too (with `measure`).
};

class SessionWorker : public RunWorker {
    Q_OBJECT

public:
    SessionWorker();
    ~SessionWorker() override;

    /// Presets and methods as the panel shows them (from core's single source of defaults).
    static QList<widgets::RunPreset> presets();
    static QList<QPair<QString, QString>> methods();

public Q_SLOTS:
    /// Loads the model (empty: the built-in one), the data set's training split and, where possible, the
    /// classifier (empty: the built-in one) with the test split's features.
    void open(const QString& model, const QString& data, const QString& classifier);
    /// Loads the instruments (kept for the runs that name the same files, until another model opens); emits
    /// instrumentsLoaded or, with the loader's message, instrumentsFailed.
    void loadInstruments(const lethe::gui::InstrumentPaths& paths);
    /// Runs to the end (or a stop); emits before/after previews, steps, snapshots and measurements.
    void run(const lethe::gui::RunRequest& request);
    /// Writes the current model (or the snapshot of `step`, when >= 0) with run.json, steps.csv and the
    /// grids into `folder`. Safe while paused: it reads weights the paused run does not change.
    void exportRun(const QString& folder, qint64 step);
    /// Attacks the last run's model (the class attack, targets from the opened model), judged by the classifier;
    /// emits attackProgress and attackEnded, and the export's manifest gets the report under "attack".
    void attack(const lethe::gui::AttackRequest& request);

Q_SIGNALS:
    void opened(const lethe::gui::OpenedModel& model);
    void openFailed(const QString& message);
    /// The instruments are ready; `description` says what they are.
    void instrumentsLoaded(const QString& description);
    void instrumentsFailed(const QString& message);
    /// The base model's preview is drawn when the run ends (beforeReady then): no run in this session nor in the
    /// measure cache drew it with these seeds and this sampler.
    void beforeAfterTheRun();
    /// The measures of the base model (`which` 0) or of the unlearned one (1).
    void measured(int which, const lethe::widgets::Measurement& measurement);

protected:
    void keepStep(const unlearn::StepReport& report) override;
    void keepSnapshot(qint64 step) override;
    void keepPreview(qint64 step, const at::Tensor& images) override;

private:
    struct State;
    /// The instruments `paths` name, loaded unless those of the last call are the same files; throws the
    /// loaders' errors.
    void ensureInstruments(const InstrumentPaths& paths);
    std::unique_ptr<State> m_state;
};

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::OpenedModel)
Q_DECLARE_METATYPE(lethe::gui::RunRequest)
