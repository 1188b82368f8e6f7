#pragma once

// The Concept tab: text-to-image concept unlearning. A model picker, the forget and remain prompt sets
// (PromptSetsEditor: typed, loaded from JSON/CSV, or built from a diversity preset), the base model's training
// images (cached on disk), method and hyperparameters on the shared HyperparameterPanel (α, λ, lr live while
// running; the model's recommended preset, drawing settings and prompt sets applied when it opens) with the run's
// memory estimate against the free memory (Start refuses a run that does not fit), live curves, before/after grids per
// prompt and seed, with a CLIP model the CLIP alignment of the prompt sets before and after, and export as a diffusers
// folder and/or a CompVis single file. The torch work runs on a ConceptWorker in its own thread; this header sees no
// LibTorch.
#include "concept_worker.h"
#include "preview_choice.h"
#include "prompt_sets_editor.h"
#include "run_tab.h"
#include "widgets/hyperparameter_panel.h"

#include <QElapsedTimer>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTabWidget;
class QTimer;

namespace lethe::widgets {
class PathEdit;
}

namespace lethe::gui {

class RobustnessPanel;

class ConceptTab : public RunTab {
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
    void startRun() override;
    /// Writes the last run's model: a diffusers folder and/or a CompVis single file (either may be empty).
    void exportTo(const QString& diffusersFolder, const QString& compvisFile);
    /// Asks for a diffusers folder (or, with `compvis`, a .safetensors file) and exports into it.
    void chooseExport(bool compvis);

    QList<ConceptPrompt> prompts(PromptSet set, QString* error = nullptr) const
    {
        return m_editor->prompts(set, error);
    }
    void setPrompts(PromptSet set, const QList<ConceptPrompt>& prompts) { m_editor->setPrompts(set, prompts); }

    /// True once a paused run's thread is held between steps (the step under way when Pause came has ended).
    bool runHeld() const;
    /// A run, a drawing, an opening, an export or the loading of a run's CLIP model is in flight.
    bool isBusy() const
    {
        return m_running || m_drawing || m_exporting || m_opening || m_loadingClip || m_attacking || m_checkingMemory;
    }
    bool canStart() const override;
    /// A run ended with weights to export.
    bool hasResult() const { return m_hasResult; }
    QString lastError() const { return m_lastError; }
    /// The last step's report (its α, λ and lr are those the step used).
    StepPoint lastPoint() const { return m_lastPoint; }

    PromptSetsEditor* promptEditor() const { return m_editor; }
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
    /// The CLIP model folder of the CLIP alignment (empty: not measured), and how many prompts of each set it draws.
    widgets::PathEdit* clipEdit() const { return m_clipEdit; }
    QSpinBox* clipPromptsBox() const { return m_clipPrompts; }
    /// The memory the run would take with the current settings, against the free memory (updated as they change).
    QLabel* memoryLabel() const { return m_memoryLabel; }
    /// What the open model is: its file, family and kind, size and where its configs came from.
    QLabel* modelLabel() const { return m_modelLabel; }
    /// The last estimate the label shows.
    const ConceptMemoryEstimate& memoryEstimate() const { return m_memoryEstimate; }
    ConceptWorker* worker() const { return m_worker; }
    /// The last run's CLIP alignment: a row per set (D_f, D_r,train, D_r,test, D_r together), before and after.
    QTableWidget* clipTable() const { return m_clipTable; }
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
    QTabWidget* pages() const { return m_pages; }
    /// The Robustness page: prompt attacks on the last run's model.
    RobustnessPanel* robustnessPanel() const { return m_robustness; }
    /// Starts the panel's attack on the worker's thread (once a run has finished).
    void startAttack();
    bool isAttacking() const { return m_attacking; }
    /// The request startAttack() sends with the panel's settings and the last run's forget prompts.
    AttackRequest attackRequest() const;

Q_SIGNALS:
    void modelOpened(bool ok);
    /// The training images are ready (`drawn` now, `cached` from the cache), or were cancelled or failed
    /// (drawn = cached = -1).
    void imagesFinished(qint64 drawn, qint64 cached);

protected:
    void showEvent(QShowEvent* event) override;
    void updateActions() override;
    void showError(const QString& title, const QString& message) override;
    QString pausedStatus() const override;
    void onProgress(const QString& what, qint64 done, qint64 total) override;
    void onStep(const StepPoint& point) override;
    void onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds) override;

private:
    ConceptTab(ConceptWorker* worker, QWidget* parent);
    QWidget* buildModelGroup();
    QWidget* buildImagesGroup();
    QWidget* buildMethodGroup();
    QWidget* buildMeasuresGroup();
    QWidget* buildRunGroup();
    QWidget* buildClipPage();
    /// After the memory check at Start: loads the request's CLIP model first (when it names one), then launches.
    void continueStart(const ConceptRunRequest& request);
    void launchRun(const ConceptRunRequest& request);
    /// Asks the worker for the memory estimate of the current settings, once the edits of the moment are done.
    void scheduleEstimate();
    /// The run the current settings describe, without the checks Start makes (for the memory estimate).
    ConceptRunRequest settingsRequest() const;
    void onMemoryEstimated(const ConceptMemoryEstimate& estimate);
    void showClipAlignment(const QList<ClipAlignmentFigure>& figures);
    void onAttackEnded(const QString& outcome, const QString& message, const AttackSummary& summary);
    /// The CLIP alignment table's attack row: Pre-ASR before, Post-ASR after.
    void showAttackFigures(const AttackSummary& summary);
    QWidget* buildRunPage();
    void connectWorker();
    void restoreSettings();
    void saveSettings() const;
    void refreshPreviews();
    void onOpened(const QString& path, const QString& description, const ConceptModelAdvice& advice);
    ConceptImagesRequest imagesRequest(QString* error) const;

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
    QPushButton* m_exportDiffusers = nullptr;
    QPushButton* m_exportCompvis = nullptr;
    PreviewChoice* m_previewChoice = nullptr;
    widgets::PathEdit* m_clipEdit = nullptr;
    QSpinBox* m_clipPrompts = nullptr;
    QTableWidget* m_clipTable = nullptr;
    QLabel* m_clipNote = nullptr;
    QLabel* m_memoryLabel = nullptr;
    QTimer* m_estimateTimer = nullptr;
    ConceptMemoryEstimate m_memoryEstimate;
    RobustnessPanel* m_robustness = nullptr;
    QList<QWidget*> m_lockedWhileBusy;

    QString m_lastError;
    QStringList m_previewLabels;
    bool m_opening = false;
    bool m_drawing = false;
    bool m_loadingClip = false;
    bool m_attacking = false;
    bool m_checkingMemory = false; ///< Start waits for the worker's memory check.
    QList<ConceptPrompt> m_runForget; ///< The last run's forget prompts, which the attack takes.
    QString m_runConcept; ///< The last run's concept words.
    ConceptDrawSettings m_runDraw; ///< How the last run's images were drawn.
    bool m_runIsUce = false; ///< The last run is UCE's one closed-form step.
    ConceptRunRequest m_pendingRequest; ///< The run that starts once its CLIP model has loaded.
    QString m_clipSummary; ///< The last run's CLIP alignment in a line, for its closing status.
    bool m_hasResult = false;
    bool m_autoOpened = false;
    StepPoint m_lastPoint;
    QString m_phase;
    QString m_phaseDetail; ///< Which images and sampler step a drawing is at (empty: none).
    qint64 m_phaseStart = 0;
    QElapsedTimer m_phaseClock;
};

} // namespace lethe::gui
