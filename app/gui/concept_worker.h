#pragma once

// The worker behind the Concept tab: opens a text-to-image model, draws (and caches) the training images of the
// forget and remain prompts, runs a concept-unlearning session with before/after previews, and exports the
// result. It lives on its own QThread; only Qt values cross to the UI thread, and no header here sees LibTorch.
#include "step_point.h"

#include <QImage>
#include <QList>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>

#include <atomic>
#include <memory>
#include <mutex>

namespace lethe::unlearn {
class RunControl;
}

namespace lethe::gui {

/// One prompt of a set as the tab edits it: the text, its seed (-1 = none) and its case label (may be empty).
struct ConceptPrompt {
    QString text;
    qint64 seed = -1;
    QString caseLabel;

    bool operator==(const ConceptPrompt& o) const
    {
        return text == o.text && seed == o.seed && caseLabel == o.caseLabel;
    }
};

/// How the base model draws the training and preview images.
struct ConceptDrawSettings {
    int samplerSteps = 50;
    double guidance = 7.5;
    qint64 batch = 4;
    QString cacheFolder; ///< Training images are cached under <cacheFolder>/forget and /remain.
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

/// A run: the settings of core's ConceptConfig as plain values (method and group by core's names).
struct ConceptRunRequest {
    ConceptImagesRequest images;
    ConceptPreviewRequest preview;
    QString method = QStringLiteral("rgd");
    QString parameters = QStringLiteral("all");
    double alpha = 1.1;
    double lambda = 1.6;
    double lr = 1e-5;
    qint64 steps = 100;
    qint64 forgetBatch = 8;
    qint64 remainBatch = 8;
    quint64 seed = 0;
    qint64 previewEvery = 0; ///< Steps between "after" previews during the run; 0 = only at the end.
};

/// Lives on its own QThread. Drawing and running block that thread, so they are steered from the UI thread
/// through cancelImages() and control(), which are thread-safe.
class ConceptWorker : public QObject {
    Q_OBJECT

public:
    ConceptWorker();
    ~ConceptWorker() override;

    /// The control of the current run, or null between runs. Safe from any thread.
    std::shared_ptr<unlearn::RunControl> control() const;
    /// Cancels the drawing of training images after the current batch, and any preview drawing (a run's own
    /// drawing stops through control()). Safe from any thread.
    void cancelImages();

    /// The defaults of core's ConceptConfig (the paper's), as a request without prompts.
    static ConceptRunRequest defaults();

public Q_SLOTS:
    /// Loads a diffusers folder or a CompVis single file (with `components` for its tokenizer and configs); an
    /// empty `model` is the built-in Fashion text-to-image model (resources/models/fmnist-t2i).
    void open(const QString& model, const QString& components);
    /// Draws the images of the prompts that the cache lacks; reports progress in images.
    void drawImages(const lethe::gui::ConceptImagesRequest& request);
    /// Draws the training images if needed, the "before" previews if they changed, then runs to the end (or a
    /// stop) and draws the "after" previews.
    void run(const lethe::gui::ConceptRunRequest& request);
    /// Writes the last run's model as a diffusers folder and/or a CompVis single file (either may be empty), each
    /// with the run's manifest, atomically.
    void exportModel(const QString& diffusersFolder, const QString& compvisFile);

Q_SIGNALS:
    void opened(const QString& modelPath, const QString& description);
    void openFailed(const QString& message);
    /// Drawing images: `what` says which, (done, total) in images; an empty `what` ends the busy state.
    void progress(const QString& what, qint64 done, qint64 total);
    /// The training images are ready: `drawn` were drawn now, `cached` came from the cache.
    void imagesReady(qint64 drawn, qint64 cached);
    void imagesCancelled(qint64 done, qint64 total);
    void imagesFailed(const QString& message);
    void runStarted(qint64 totalSteps);
    void beforeReady(const QList<QImage>& cells, int columns);
    void stepDone(const lethe::gui::StepPoint& point);
    void afterReady(qint64 step, const QList<QImage>& cells, int columns);
    /// outcome: "finished", "stopped" or "failed" (with `message`).
    void runEnded(const QString& outcome, const QString& message, qint64 steps, double seconds);
    void exported(const QString& where);
    void exportFailed(const QString& message);

private:
    struct State;
    bool ensureImages(const ConceptImagesRequest& request, const unlearn::RunControl* control);
    std::unique_ptr<State> m_state;
    mutable std::mutex m_controlMutex;
    std::shared_ptr<unlearn::RunControl> m_control;
    std::atomic<bool> m_cancelImages { false };
};

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::ConceptImagesRequest)
Q_DECLARE_METATYPE(lethe::gui::ConceptRunRequest)
