#pragma once

// The worker behind the Concept tab: opens a text-to-image model, draws (and caches) the training images of the
// forget and remain prompts, runs concept unlearning with before/after previews (and, with a CLIP model, the CLIP
// alignment of the prompt sets before and after), and exports the result. The run
// itself and its signals are RunWorker's; no header here sees LibTorch.
#include "concept_prompt.h"
#include "run_worker.h"
#include "widgets/hyperparameter_panel.h"

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include <atomic>
#include <memory>

namespace lethe::gui {

/// How the base model draws the training and preview images.
struct ConceptDrawSettings {
    int samplerSteps = 0;
    double guidance = 0.0;
    qint64 batch = 0;
    QString cacheFolder; ///< Training images are cached under <cacheFolder>/forget and /remain.
};

/// What a model recommends for itself (lethe-manifest.json of a diffusers folder; docs/formats.md): the concept
/// preset of the hyperparameters, how to draw its images, and the diversity preset its prompt sets are built from.
/// An empty or zero field: the model names nothing there.
struct ConceptModelAdvice {
    QString preset; ///< recommended_preset: one of core's concept presets.
    int samplerSteps = 0; ///< recommended_drawing.sampler_steps
    double guidance = 0.0; ///< recommended_drawing.guidance
    QString promptPreset; ///< recommended_prompt_preset: the preset file (presets/NAME.json among the resources).
};

/// The training images to draw (or find in the cache).
struct ConceptImagesRequest {
    QList<ConceptPrompt> forget;
    QList<ConceptPrompt> remain;
    ConceptDrawSettings draw;
};

/// The before/after images: every chosen prompt with every seed (row = prompt, column = seed).
struct ConceptPreviewRequest {
    QStringList prompts;
    QStringList sets; ///< "forget" or "remain", one per prompt.
    QList<qint64> seeds;
};

/// A run: the panel's values, the core preset the other fields of core's ConceptConfig come from, and what the
/// concept is called.
struct ConceptRunRequest {
    ConceptImagesRequest images;
    ConceptPreviewRequest preview;
    widgets::RunSettings settings;
    QString preset;
    QString forgetConcept;
    qint64 previewEvery = 0; ///< Steps between "after" previews during the run; 0 = only at the end.
    /// A CLIP model folder: the CLIP alignment of D_f, D_r,train and D_r,test is measured before and after, from
    /// the preview seeds (empty: not measured).
    QString clipModel;
    qint64 clipPrompts = 20; ///< The first prompts of each set drawn for CLIP (0: all).
    QList<ConceptPrompt> remainTest; ///< D_r,test, for CLIP alignment only.
    /// The concept dimension's other training values when the prompt sets were built from a diversity preset
    /// (empty otherwise): what UCE preserves when the panel names no preserved concepts.
    QStringList otherConceptValues;
};

/// What a concept run will hold in memory, estimated before it starts (unlearn::estimateMemory), against what the
/// device has free.
struct ConceptMemoryEstimate {
    QString summary; ///< One line: the peak of a step and of the first step, and the free memory when known.
    QString details; ///< core's line with every part (weights, gradients, Adam, activations, …).
    QString refusal; ///< Empty when the run fits (or the free memory is unknown); else why not and what would fit.
    qint64 peak = 0; ///< Bytes at the peak of a step.
    qint64 firstStep = 0; ///< Bytes at the peak of the first step.
    qint64 available = -1; ///< Free bytes where the UNet trains; -1: unknown.
    bool forStart = false; ///< Asked for by Start (which goes on only when `refusal` is empty).
};

/// The CLIP alignment (mean cosine of image and prompt embeddings) of one prompt set before and after a run, or of
/// D_r,train and D_r,test together (set "remain").
struct ClipAlignmentFigure {
    QString set; ///< "forget", "remain_train", "remain_test" or "remain".
    qint64 prompts = 0; ///< The set's prompts drawn (0 for "remain").
    qint64 images = 0;
    double before = 0.0;
    double after = 0.0;
};

/// Drawing and running block the worker's thread, so they are steered from the UI thread through cancelImages()
/// and control(), which are thread-safe.
class ConceptWorker : public RunWorker {
    Q_OBJECT

public:
    ConceptWorker();
    ~ConceptWorker() override;

    /// The free memory the estimate compares with instead of asking the device (a machine shared with other work
    /// leaves less than the device reports; tests use it); a negative value asks the device again. Safe from any
    /// thread.
    void setAvailableMemory(qint64 bytes);

    /// Cancels the drawing of training images at the next sampler step, and any preview drawing (a run's own
    /// drawing stops through control()). Safe from any thread.
    void cancelImages();

    /// core's concept presets, methods and parameter groups as the panel shows them.
    static QList<widgets::RunPreset> presets();
    static QList<QPair<QString, QString>> methods();
    static QList<QPair<QString, QString>> parameterGroups();
    /// How core draws training images unless told otherwise.
    static ConceptDrawSettings drawDefaults();

public Q_SLOTS:
    /// Loads a diffusers folder or a CompVis single file (with `components` for its tokenizer and configs); an
    /// empty `model` is the built-in Fashion text-to-image model (resources/models/fmnist-t2i).
    void open(const QString& model, const QString& components);
    /// Draws the images of the prompts that the cache lacks; reports progress in sampler steps (drawingProgress).
    void drawImages(const lethe::gui::ConceptImagesRequest& request);
    /// Draws the training images if needed, the "before" previews if they changed, then runs to the end (or a
    /// stop) and draws the "after" previews.
    void run(const lethe::gui::ConceptRunRequest& request);
    /// Estimates the memory of the run `request` asks for on the open model (it trains a copy of the UNet) and
    /// compares it with the free memory; emits memoryEstimated with `forStart` passed on (settings core refuses:
    /// a summary that says so and no refusal, the run reports them; so too without a model).
    void estimate(const lethe::gui::ConceptRunRequest& request, bool forStart);
    /// Loads the CLIP model folder `folder` for the next run's CLIP alignment (kept while the same file is named);
    /// emits clipLoaded or, with the loader's message, clipFailed.
    void loadClip(const QString& folder);
    /// Writes the last run's model as a diffusers folder and/or a CompVis single file (either may be empty), each
    /// with the run's manifest, atomically.
    void exportModel(const QString& diffusersFolder, const QString& compvisFile);
    /// Attacks the last run's model with the request's prompts (targets from the opened model), judged by the
    /// built-in classifier (a Fashion garment or palette colour) or else zero-shot by the request's CLIP model; emits
    /// attackProgress and attackEnded, and the export's manifest gets the report under "attack".
    void attack(const lethe::gui::AttackRequest& request);

Q_SIGNALS:
    /// `advice`: what the model recommends for itself (its manifest's recommended_* fields).
    void opened(const QString& modelPath, const QString& description, const lethe::gui::ConceptModelAdvice& advice);
    void openFailed(const QString& message);
    /// The training images are ready: `drawn` were drawn now, `cached` came from the cache.
    void imagesReady(qint64 drawn, qint64 cached);
    void imagesCancelled(qint64 done, qint64 total);
    void imagesFailed(const QString& message);
    /// Training images are being drawn: progress() in sampler steps of all the images, with `detail` saying which
    /// images and step ("images 9–16 of 40, step 12/50").
    void drawingProgress(const QString& what, const QString& detail, qint64 done, qint64 total);
    void memoryEstimated(const lethe::gui::ConceptMemoryEstimate& estimate);
    void clipLoaded();
    void clipFailed(const QString& message);
    /// A run's CLIP alignment, set by set, then D_r,train and D_r,test together.
    void clipMeasured(const QList<lethe::gui::ClipAlignmentFigure>& figures);

private:
    struct State;
    bool ensureImages(const ConceptImagesRequest& request, const unlearn::RunControl* control);
    /// The CLIP model in `folder`, loaded unless it was the last one; throws the loader's errors.
    void ensureClip(const QString& folder);
    std::unique_ptr<State> m_state;
    std::atomic<bool> m_cancelImages { false };
    std::atomic<qint64> m_availableMemory { -1 };
};

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::ConceptModelAdvice)
Q_DECLARE_METATYPE(lethe::gui::ConceptImagesRequest)
Q_DECLARE_METATYPE(lethe::gui::ConceptRunRequest)
Q_DECLARE_METATYPE(lethe::gui::ClipAlignmentFigure)
Q_DECLARE_METATYPE(lethe::gui::ConceptMemoryEstimate)
