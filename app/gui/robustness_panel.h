#pragma once

// The Robustness panel of the Class and Concept tabs ("does it stay forgotten?"): after a run, an attack on the
// finished model (UnlearnDiffAtk's adversarial prompt, a soft prompt, or the class attack's label vector) with its
// settings, progress, cancel and live loss, then the figures (Pre-ASR and Post-ASR), a row per attacked prompt and
// the plain prompts' images beside the adversarial ones. The tab runs the attack on its worker's thread; this
// header sees no LibTorch.
#include "attack_values.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace lethe::widgets {
class CurvePlot;
class SampleGrid;
} // namespace lethe::widgets

namespace lethe::gui {

class RobustnessPanel : public QWidget {
    Q_OBJECT

public:
    enum class Mode {
        Concept, ///< Prompt attacks on a text-to-image model.
        Class, ///< The class attack on a class-conditional model.
    };

    explicit RobustnessPanel(Mode mode, QWidget* parent = nullptr);

    /// The settings as the controls hold them (the tab adds the run's prompts and drawing settings).
    AttackRequest request() const;
    /// Whether an attack can start now; `why` says what is missing when not (on Start's tooltip and the note).
    void setAvailable(bool available, const QString& why = {});
    /// An attack was sent to the worker: Start off, Cancel on, the last result and curve cleared.
    void attackStarted();
    void showProgress(const AttackPoint& point);
    /// The worker's attackEnded.
    void attackEnded(const QString& outcome, const QString& message, const AttackSummary& summary);
    /// Forgets the last result (a new run, another model).
    void clearResult();

    bool isAttacking() const { return m_attacking; }
    bool hasResult() const { return m_hasResult; }
    const AttackSummary& result() const { return m_result; }
    /// The result in a line ("Pre-ASR 25.0 % → Post-ASR 100.0 % (UnlearnDiffAtk, 4 prompts × 2 seeds)"), empty
    /// without one.
    QString figuresText() const;
    /// The last attack's outcome: "finished", "cancelled" or "failed" (empty before one).
    QString lastOutcome() const { return m_lastOutcome; }

    QComboBox* kindBox() const { return m_kind; }
    QSpinBox* tokensBox() const { return m_tokens; }
    QComboBox* placementBox() const { return m_placement; }
    QSpinBox* stepsBox() const { return m_steps; }
    QDoubleSpinBox* lrBox() const { return m_lr; }
    QSpinBox* timestepsBox() const { return m_timesteps; }
    QSpinBox* promptsBox() const { return m_prompts; }
    QSpinBox* seedsBox() const { return m_seeds; }
    QSpinBox* targetsBox() const { return m_targets; }
    QCheckBox* removeConceptBox() const { return m_removeConcept; }
    QPushButton* startButton() const { return m_start; }
    QPushButton* cancelButton() const { return m_cancel; }
    QProgressBar* progressBar() const { return m_progress; }
    QLabel* noteLabel() const { return m_note; }
    QLabel* figuresLabel() const { return m_figures; }
    QTableWidget* table() const { return m_table; }
    widgets::CurvePlot* lossPlot() const { return m_loss; }
    widgets::SampleGrid* plainGrid() const { return m_plainGrid; }
    widgets::SampleGrid* adversarialGrid() const { return m_adversarialGrid; }

Q_SIGNALS:
    void startRequested();
    void cancelRequested();
    /// For the tab's status bar.
    void statusMessage(const QString& text);

private:
    QWidget* buildSettings();
    QWidget* buildResults();
    void updateButtons();
    static QString percent(double share);

    Mode m_mode;
    QComboBox* m_kind = nullptr;
    QSpinBox* m_tokens = nullptr;
    QComboBox* m_placement = nullptr;
    QSpinBox* m_steps = nullptr;
    QDoubleSpinBox* m_lr = nullptr;
    QSpinBox* m_timesteps = nullptr;
    QSpinBox* m_prompts = nullptr;
    QSpinBox* m_seeds = nullptr;
    QSpinBox* m_targets = nullptr;
    QCheckBox* m_removeConcept = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_cancel = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_note = nullptr;
    QLabel* m_figures = nullptr;
    QTableWidget* m_table = nullptr;
    widgets::CurvePlot* m_loss = nullptr;
    int m_lossSeries = 0;
    widgets::SampleGrid* m_plainGrid = nullptr;
    widgets::SampleGrid* m_adversarialGrid = nullptr;

    bool m_available = false;
    bool m_attacking = false;
    bool m_hasResult = false;
    QString m_lastOutcome;
    QString m_outcomeNote; ///< What the note says after the last attack.
    AttackSummary m_result;
    int m_markedPrompt = -1; ///< The prompt whose start the loss plot marked last.
    qint64 m_attackSteps = 0; ///< Steps per prompt of the attack under way (the loss plot's x offset).
};

} // namespace lethe::gui
