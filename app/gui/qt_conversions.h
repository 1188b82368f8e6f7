#pragma once

// Conversions between core values and Qt values. Only this header's source sees LibTorch types.
#include "attack_values.h"
#include "concept_prompt.h"
#include "step_point.h"
#include "widgets/class_picker.h"
#include "widgets/hyperparameter_panel.h"

#include <QImage>
#include <QList>
#include <QString>

#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace lethe::attack {
struct AttackOutcome;
}

namespace lethe::concepts {
struct Prompt;
}

namespace lethe::data {
struct ImageSet;
}

namespace lethe::unlearn {
struct StepReport;
struct RunConfig;
struct ConceptConfig;
} // namespace lethe::unlearn

namespace lethe::gui {

/// One image of a set as a deep-copied QImage (Grayscale8 or RGB888).
QImage imageAt(const data::ImageSet& set, std::int64_t index);

/// uint8 N×C×H×W images (C = 1 or 3) as deep-copied QImages.
QList<QImage> imagesOf(const at::Tensor& images);

/// Each class with its name, its first image and its count, for the class picker.
QList<widgets::ClassEntry> classEntries(const data::ImageSet& set);

inline QString toQString(const std::string& text)
{
    return QString::fromStdString(text);
}

/// core's formatDuration as a QString ("mm:ss", "h:mm:ss", "--:--" when unknown).
QString durationText(double seconds);

/// The plotted fields of a step report.
StepPoint stepPointOf(const unlearn::StepReport& report);

/// The panel's values of a class run's config, and the config with the panel's values (the other fields of
/// `base` kept, or of the core preset called `preset`, else of the first preset; an empty precision keeps theirs;
/// an unknown one throws Error).
widgets::RunSettings settingsOf(const unlearn::RunConfig& config);
unlearn::RunConfig runConfigOf(const widgets::RunSettings& settings, const unlearn::RunConfig& base);
unlearn::RunConfig runConfigOf(const widgets::RunSettings& settings, const QString& preset);
/// The same for concept runs; throws Error for a method or parameter group core does not know.
widgets::RunSettings settingsOf(const unlearn::ConceptConfig& config);
unlearn::ConceptConfig conceptConfigOf(const widgets::RunSettings& settings, const unlearn::ConceptConfig& base);
unlearn::ConceptConfig conceptConfigOf(const widgets::RunSettings& settings, const QString& preset);

/// An attack's report and images as the Robustness panel shows them.
AttackSummary attackSummaryOf(const attack::AttackOutcome& outcome);

/// Concept prompts as core's (a seed of -1 and an empty case label: none), and core's as the GUI's.
std::vector<concepts::Prompt> corePrompts(const QList<ConceptPrompt>& prompts);
QList<ConceptPrompt> conceptPrompts(const std::vector<concepts::Prompt>& prompts);

/// core's presets as the panel offers them: runPreset (class runs) and conceptPreset (concept runs), by name.
QList<widgets::RunPreset> classPresets();
QList<widgets::RunPreset> conceptPresets();

} // namespace lethe::gui
