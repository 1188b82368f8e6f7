#pragma once

// The Concept tab: text-to-image concept unlearning. A model picker, the forget and remain prompt sets
// (PromptSetsEditor: typed, loaded from JSON/CSV, or built from a diversity preset), the base model's training
// images (cached on disk), method and hyperparameters on the shared HyperparameterPanel (α, λ, lr live while
// running; the model's recommended preset applied when it opens), live curves, before/after grids per prompt and
// seed, and export as a diffusers folder and/or a CompVis single file. The torch work runs on a ConceptWorker in
// its own thread; this header sees no LibTorch.
#include "concept_worker.h"
#include "preview_choice.h"
#include "prompt_sets_editor.h"
#include "unlearning_curves.h"
#include "widgets/hyperparameter_panel.h"

#include <QElapsedTimer>
#include <QThread>
#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTabWidget;

namespace lethe::widgets {
class CurvePlot;
class SampleGrid;
} // namespace lethe::widgets

namespace lethe::gui {

class ConceptTab : public QWidget {
    Q_OBJECT

public:
    using PromptSet = PromptSetsEditor::PromptSet;

    explicit ConceptTab(QWidget* parent = nullptr);
    ~ConceptTab() override;

    /// Opens a diffusers folder or a CompVis .safetensors file (with `components` for what such a file lacks);
    /// empty: the built-in Fashion text-to-image model. The panel then shows the model's recommended preset, else
    /// core's `sd` preset.
    void openModel(const QString& model, const QString& components = {});
    bool loadPromptFile(PromptSet set, const QString& path) { return m_editor->loadPromptFile(set, path); }
    bool savePromptFile(PromptSet set, const QString& path) { return m_editor->savePromptFile(set, path); }
    bool loadPreset(const QString& path) { return m_editor->loadPreset(path); }
    bool buildPrompts() { return m_editor->buildPrompts(); }
    /// Draws the training images the cache lacks (a second press reads them from the cache).
    void generateImages();
    void cancelImages();
    void startRun();
    void togglePause();
    void stopRun();
    /// Writes the last run's model: a diffusers folder and/or a CompVis single file (either may be empty).
    void exportTo(const QString& diffusersFolder, const QString& compvisFile);
    /// Asks for a diffusers folder (or, with `compvis`, a .safetensors file) and exports into it.
    void chooseExport(bool compvis);

    QList<ConceptPrompt> prompts(PromptSet set, QString* error = nullptr) const
    {
        return m_editor->prompts(set, error);
    }
    void setPrompts(PromptSet set, const QList<ConceptPrompt>& prompts) { m_editor->setPrompts(set, prompts); }

    bool isModelOpen() const { return m_modelOpen; }
    bool isRunning() const { return m_running; }
    bool isPaused() const { return m_paused; }
    /// True once a paused run's thread is held between steps (the step under way when Pause came has ended).
    bool runHeld() const;
    /// A run, a drawing, an opening or an export is in flight.
    bool isBusy() const { return m_running || m_drawing || m_exporting || m_opening; }
    bool canStart() const;
    /// A run ended with weights to export.
    bool hasResult() const { return m_hasResult; }
    QString modelPath() const { return m_modelPath; }
    QString lastError() const { return m_lastError; }
    QString lastStatus() const { return m_lastStatus; }
    QString lastOutcome() const { return m_lastOutcome; }
    qint64 lastStep() const { return m_lastStep; }
    /// The last step's report (its α, λ and lr are those the step used).
    StepPoint lastPoint() const { return m_lastPoint; }

    PromptSetsEditor* promptEditor() const { return m_editor; }
    widgets::HyperparameterPanel* panel() const { return m_panel; }
    QLineEdit* modelEdit() const { return m_modelEdit; }
    QLineEdit* componentsEdit() const { return m_componentsEdit; }
    QLineEdit* cacheEdit() const { return m_cacheEdit; }
    QTableWidget* table(PromptSet set) const { return m_editor->table(set); }
    QTableWidget* dimensionsTable() const { return m_editor->dimensionsTable(); }
    QLineEdit* remainTemplateEdit() const { return m_editor->remainTemplateEdit(); }
    QLineEdit* conceptWordsEdit() const { return m_editor->conceptWordsEdit(); }
    QLineEdit* conceptDimensionEdit() const { return m_editor->conceptDimensionEdit(); }
    QSpinBox* forgetCountBox() const { return m_editor->forgetCountBox(); }
    QSpinBox* remainTrainCountBox() const { return m_editor->remainTrainCountBox(); }
    QSpinBox* remainTestCountBox() const { return m_editor->remainTestCountBox(); }
    QLabel* buildResultLabel() const { return m_editor->buildResultLabel(); }
    QSpinBox* samplerStepsBox() const { return m_samplerSteps; }
    QDoubleSpinBox* guidanceBox() const { return m_guidance; }
    QSpinBox* drawBatchBox() const { return m_drawBatch; }
    QComboBox* methodBox() const { return m_panel->methodBox(); }
    QComboBox* parameterBox() const { return m_panel->parameterBox(); }
    QDoubleSpinBox* alphaBox() const { return m_panel->alphaBox(); }
    QDoubleSpinBox* lambdaBox() const { return m_panel->lambdaBox(); }
    QDoubleSpinBox* lrBox() const { return m_panel->lrBox(); }
    QSpinBox* stepsBox() const { return m_panel->stepsBox(); }
    QSpinBox* forgetBatchBox() const { return m_panel->forgetBatchBox(); }
    QSpinBox* remainBatchBox() const { return m_panel->remainBatchBox(); }
    QSpinBox* seedBox() const { return m_panel->seedBox(); }
    QSpinBox* previewEveryBox() const { return m_previewChoice->everyBox(); }
    QListWidget* previewList() const { return m_previewChoice->list(); }
    QLineEdit* previewSeedsEdit() const { return m_previewChoice->seedsEdit(); }
    QPushButton* generateButton() const { return m_generate; }
    QPushButton* startButton() const { return m_start; }
    QPushButton* pauseButton() const { return m_pause; }
    QPushButton* stopButton() const { return m_stop; }
    QProgressBar* progressBar() const { return m_progress; }
    QTabWidget* pages() const { return m_pages; }
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
    void modelOpened(bool ok);
    /// The training images are ready (`drawn` now, `cached` from the cache), or were cancelled or failed
    /// (drawn = cached = -1).
    void imagesFinished(qint64 drawn, qint64 cached);
    void runFinished(const QString& outcome);
    void exportFinished(bool ok, const QString& message);

protected:
    void showEvent(QShowEvent* event) override;

private:
    QWidget* buildModelGroup();
    QWidget* buildImagesGroup();
    QWidget* buildMethodGroup();
    QWidget* buildRunGroup();
    QWidget* buildRunPage();
    void connectWorker();
    void restoreSettings();
    void saveSettings() const;
    void updateActions();
    void refreshPreviews();
    void onOpened(const QString& path, const QString& description, const QString& recommendedPreset);
    void onProgress(const QString& what, qint64 done, qint64 total);
    void onStep(const StepPoint& point);
    void onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds);
    void onLiveChange(const QString& name, double value);
    void showError(const QString& title, const QString& message);
    void setStatus(const QString& text);
    ConceptImagesRequest imagesRequest(QString* error) const;

    QThread m_thread;
    ConceptWorker* m_worker = nullptr;

    QLineEdit* m_modelEdit = nullptr;
    QLineEdit* m_componentsEdit = nullptr;
    QPushButton* m_openButton = nullptr;
    QLabel* m_modelLabel = nullptr;
    QTabWidget* m_pages = nullptr;
    PromptSetsEditor* m_editor = nullptr;
    QSpinBox* m_samplerSteps = nullptr;
    QDoubleSpinBox* m_guidance = nullptr;
    QSpinBox* m_drawBatch = nullptr;
    QLineEdit* m_cacheEdit = nullptr;
    QPushButton* m_generate = nullptr;
    QPushButton* m_cancelGenerate = nullptr;
    QLabel* m_imagesLabel = nullptr;
    widgets::HyperparameterPanel* m_panel = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_pause = nullptr;
    QPushButton* m_stop = nullptr;
    QPushButton* m_exportDiffusers = nullptr;
    QPushButton* m_exportCompvis = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_rate = nullptr;
    UnlearningCurves m_curves;
    PreviewChoice* m_previewChoice = nullptr;
    widgets::SampleGrid* m_beforeGrid = nullptr;
    widgets::SampleGrid* m_afterGrid = nullptr;
    QList<QWidget*> m_lockedWhileBusy;

    QString m_modelPath;
    QString m_lastError;
    QString m_lastStatus;
    QString m_lastOutcome;
    QString m_runMessage;
    QStringList m_previewLabels;
    bool m_modelOpen = false;
    bool m_opening = false;
    bool m_running = false;
    bool m_paused = false;
    bool m_drawing = false;
    bool m_exporting = false;
    bool m_hasResult = false;
    bool m_autoOpened = false;
    qint64 m_lastStep = 0;
    StepPoint m_lastPoint;
    qint64 m_totalSteps = 0;
    qint64 m_stepsDone = 0;
    double m_stepSeconds = 0.0;
    QString m_phase;
    qint64 m_phaseStart = 0;
    QElapsedTimer m_phaseClock;
};

} // namespace lethe::gui
