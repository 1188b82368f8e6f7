#pragma once

// An attack on a finished run as the Robustness panel asks for it and shows it (core/attack/attack_run.h does the
// work): plain Qt values that cross between the UI thread and a worker's. No LibTorch here.
#include <QImage>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

namespace lethe::gui {

/// What to attack, and how. The panel fills the attack's settings; the tab adds what the run knows (prompts,
/// concept, how its images are drawn).
struct AttackRequest {
    QString kind = QStringLiteral("hard"); ///< "hard" (UnlearnDiffAtk), "soft" (soft prompt) or "class".
    int tokens = 5; ///< Adversarial tokens K (prompt attacks).
    QString placement = QStringLiteral("prefix"); ///< "prefix" (UnlearnDiffAtk's) or "suffix" (prompt attacks).
    int steps = 40;
    double lr = 0.01;
    int timestepsPerStep = 1; ///< Prompt attacks.
    int prompts = 4; ///< The first prompts of the run's forget set attacked (prompt attacks).
    int seeds = 2; ///< Judge seeds 0 … seeds−1, the same before and after the attack.
    int targets = 1; ///< Target images the base model draws (seeds 0 … targets−1), per prompt.
    bool removeConcept = false; ///< Prompt attacks: the concept's words taken out of the attacked prompts.

    // Filled by the tab.
    QStringList promptTexts; ///< As attacked.
    QStringList targetPrompts; ///< What the base model draws the targets from, one per prompt.
    QString concept; ///< What the judge looks for (concept runs: the first concept word).
    QString clipModel; ///< Concept runs: a CLIP model folder for a zero-shot judge where the built-in one cannot.
    double guidance = 7.5;
    int samplerSteps = 50;
    qint64 batch = 4;
};

/// Where an attack is (core's AttackProgressEvent): phase "targets", "before", "attack" or "after", the prompt
/// (from 0) of how many, the step of how many within the phase, and the attack's loss (NaN outside "attack").
struct AttackPoint {
    QString phase;
    int prompt = 0;
    int prompts = 0;
    qint64 step = 0;
    qint64 steps = 0;
    double loss = 0.0;
};

/// One attacked prompt (the class attack: the one class).
struct AttackRow {
    QString prompt;
    QString targetPrompt;
    QString adversarialPrompt;
    double preRate = 0.0; ///< Share of the judge seeds' images showing the concept from the plain prompt.
    double postRate = 0.0; ///< From the adversarial prompt.
    QList<double> losses;
    QList<QImage> before; ///< The plain prompt's images, one per judge seed.
    QList<QImage> after; ///< The adversarial prompt's images.
    QList<QImage> targets; ///< The base model's target images.
};

/// A finished attack's figures and images.
struct AttackSummary {
    QString kind; ///< "unlearndiffatk", "soft-prompt" or "class".
    QString judge;
    double preAsr = 0.0;
    double postAsr = 0.0;
    double prePromptRate = 0.0;
    double postPromptRate = 0.0;
    double seconds = 0.0;
    int seeds = 0;
    QList<AttackRow> rows;
};

} // namespace lethe::gui

Q_DECLARE_METATYPE(lethe::gui::AttackRequest)
Q_DECLARE_METATYPE(lethe::gui::AttackPoint)
Q_DECLARE_METATYPE(lethe::gui::AttackSummary)
