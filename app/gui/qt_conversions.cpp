#include "qt_conversions.h"

#include "core/attack/attack_run.h"
#include "core/concept/prompt_set.h"
#include "core/data/image_set.h"
#include "core/data/subsets.h"
#include "core/duration.h"
#include "core/enum_names.h"
#include "core/error.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/unlearn_run.h"

#include <torch/torch.h>

#include <algorithm>

namespace lethe::gui {

namespace {

QImage imageOf(const torch::Tensor& image)
{
    const torch::Tensor chw = image.to(torch::kCPU).contiguous();
    const int channels = static_cast<int>(chw.size(0));
    const int height = static_cast<int>(chw.size(1));
    const int width = static_cast<int>(chw.size(2));
    const torch::Tensor hwc = chw.permute({ 1, 2, 0 }).contiguous();
    const QImage view(hwc.data_ptr<std::uint8_t>(), width, height, width * channels,
        channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
    return view.copy(); // The tensor goes away; the QImage must own its pixels.
}

/// The fields the panel shows for class and concept runs alike, from a config to the panel's settings or back.
template <typename From, typename To> void copySharedFields(const From& from, To& to)
{
    to.alpha = from.alpha;
    to.lambda = from.lambda;
    to.lr = from.lr;
    to.steps = from.steps;
    to.forgetBatch = from.forgetBatch;
    to.remainBatch = from.remainBatch;
    to.seed = from.seed;
    to.saliencyFraction = from.saliencyFraction;
}

/// The precision the panel's `name` stands for; an empty name (a panel that offers no precisions) keeps `base`'s.
unlearn::Precision precisionOf(const QString& name, unlearn::Precision base)
{
    if (name.isEmpty())
        return base;
    const auto precision = enumFromName<unlearn::Precision>(name.toStdString());
    if (!precision)
        throw Error("unknown precision: " + name.toStdString());
    return *precision;
}

/// The preset `makePreset` makes of `name` when `names` has it, else of the first of `names`.
template <typename MakePreset>
auto presetOrFirst(const std::vector<std::string>& names, const QString& name, MakePreset makePreset)
{
    const std::string wanted = name.toStdString();
    return makePreset(std::find(names.begin(), names.end(), wanted) != names.end() ? wanted : names.front());
}

/// Each preset of `names`, as `makePreset` makes it, with the panel's values of it.
template <typename MakePreset>
QList<widgets::RunPreset> panelPresets(const std::vector<std::string>& names, MakePreset makePreset)
{
    QList<widgets::RunPreset> out;
    for (const auto& name : names)
        out.append({ toQString(name), settingsOf(makePreset(name)) });
    return out;
}

} // namespace

QImage imageAt(const data::ImageSet& set, std::int64_t index)
{
    return imageOf(set.images[index]);
}

QList<QImage> imagesOf(const at::Tensor& images)
{
    QList<QImage> out;
    if (!images.defined())
        return out;
    for (std::int64_t i = 0; i < images.size(0); ++i)
        out.append(imageOf(images[i]));
    return out;
}

QList<widgets::ClassEntry> classEntries(const data::ImageSet& set)
{
    QList<widgets::ClassEntry> entries;
    const auto counts = set.classCounts();
    for (int c = 0; c < set.classCount(); ++c) {
        widgets::ClassEntry entry;
        entry.name = toQString(set.classNames[static_cast<std::size_t>(c)]);
        entry.count = counts[static_cast<std::size_t>(c)];
        const auto members = data::classIndices(set.labels, c);
        if (!members.empty())
            entry.thumbnail = imageAt(set, members.front());
        entries.append(entry);
    }
    return entries;
}

QString durationText(double seconds)
{
    return toQString(formatDuration(seconds));
}

StepPoint stepPointOf(const unlearn::StepReport& r)
{
    StepPoint p;
    p.step = r.step;
    p.totalSteps = r.totalSteps;
    p.forgetLoss = r.forgetLoss;
    p.remainLoss = r.remainLoss;
    p.ascentNorm = r.ascentNorm;
    p.remainNorm = r.remainNorm;
    p.cosine = r.cosine;
    p.projected = r.projected;
    p.truncated = r.truncated;
    p.lr = r.lr;
    p.alpha = r.alpha;
    p.lambda = r.lambda;
    p.seconds = r.seconds;
    return p;
}

widgets::RunSettings settingsOf(const unlearn::RunConfig& c)
{
    widgets::RunSettings s;
    s.method = toQString(unlearn::methodName(c.method));
    copySharedFields(c, s);
    s.remainPerClass = c.remainPerClass;
    s.precision = toQString(enumName(c.precision));
    return s;
}

unlearn::RunConfig runConfigOf(const widgets::RunSettings& s, const unlearn::RunConfig& base)
{
    unlearn::RunConfig c = base;
    c.method = unlearn::methodFromName(s.method.toStdString());
    copySharedFields(s, c);
    c.remainPerClass = s.remainPerClass;
    c.precision = precisionOf(s.precision, base.precision);
    return c;
}

unlearn::RunConfig runConfigOf(const widgets::RunSettings& settings, const QString& preset)
{
    return runConfigOf(settings, presetOrFirst(unlearn::runPresetNames(), preset, unlearn::runPreset));
}

widgets::RunSettings settingsOf(const unlearn::ConceptConfig& c)
{
    widgets::RunSettings s;
    s.method = toQString(unlearn::conceptMethodName(c.method));
    copySharedFields(c, s);
    s.parameters = toQString(unlearn::parameterGroupName(c.parameters));
    s.eta = c.eta;
    s.uceGuide = toQString(c.uceGuide);
    s.ucePreserve = toQString(unlearn::conceptText(c.ucePreserve));
    s.uceRegularisation = c.uceRegularisation;
    s.uceEraseScale = c.uceEraseScale;
    s.ucePreserveScale = c.ucePreserveScale;
    s.precision = toQString(enumName(c.precision));
    s.gradientCheckpointing = c.gradientCheckpointing;
    s.memoryEfficientAttention = c.memoryEfficientAttention;
    return s;
}

unlearn::ConceptConfig conceptConfigOf(const widgets::RunSettings& s, const unlearn::ConceptConfig& base)
{
    const auto method = unlearn::conceptMethodFromName(s.method.toStdString());
    const auto group = unlearn::parameterGroupFromName(s.parameters.toStdString());
    if (!method || !group)
        throw Error("unknown method or parameter group: " + s.method.toStdString() + ", " + s.parameters.toStdString());
    unlearn::ConceptConfig c = base;
    c.method = *method;
    c.parameters = *group;
    copySharedFields(s, c);
    c.eta = s.eta;
    c.uceGuide = s.uceGuide.trimmed().toStdString();
    c.ucePreserve = unlearn::conceptWords(s.ucePreserve.toStdString());
    c.uceRegularisation = s.uceRegularisation;
    c.uceEraseScale = s.uceEraseScale;
    c.ucePreserveScale = s.ucePreserveScale;
    c.precision = precisionOf(s.precision, base.precision);
    c.gradientCheckpointing = s.gradientCheckpointing;
    c.memoryEfficientAttention = s.memoryEfficientAttention;
    return c;
}

unlearn::ConceptConfig conceptConfigOf(const widgets::RunSettings& settings, const QString& preset)
{
    return conceptConfigOf(settings, presetOrFirst(unlearn::conceptPresetNames(), preset, unlearn::conceptPreset));
}

std::vector<concepts::Prompt> corePrompts(const QList<ConceptPrompt>& prompts)
{
    std::vector<concepts::Prompt> out;
    out.reserve(static_cast<std::size_t>(prompts.size()));
    for (const ConceptPrompt& p : prompts) {
        concepts::Prompt c { p.text.toStdString(), std::nullopt, std::nullopt };
        if (p.seed >= 0)
            c.seed = p.seed;
        if (!p.caseLabel.isEmpty())
            c.caseLabel = p.caseLabel.toStdString();
        out.push_back(std::move(c));
    }
    return out;
}

QList<ConceptPrompt> conceptPrompts(const std::vector<concepts::Prompt>& prompts)
{
    QList<ConceptPrompt> out;
    for (const auto& p : prompts)
        out.append({ toQString(p.text), p.seed ? *p.seed : -1, p.caseLabel ? toQString(*p.caseLabel) : QString() });
    return out;
}

QList<widgets::RunPreset> classPresets()
{
    return panelPresets(unlearn::runPresetNames(), unlearn::runPreset);
}

QList<widgets::RunPreset> conceptPresets()
{
    return panelPresets(unlearn::conceptPresetNames(), unlearn::conceptPreset);
}

AttackSummary attackSummaryOf(const attack::AttackOutcome& outcome)
{
    const attack::AttackReport& report = outcome.report;
    AttackSummary summary;
    for (const auto& [kind, name] : attack::enumNames(attack::AttackKind {}))
        if (kind == report.kind)
            summary.kind = toQString(name);
    summary.judge = toQString(report.judge);
    summary.preAsr = report.preAsr();
    summary.postAsr = report.postAsr();
    summary.prePromptRate = report.prePromptRate();
    summary.postPromptRate = report.postPromptRate();
    summary.seconds = report.seconds;
    summary.seeds = static_cast<int>(report.seeds.size());
    const auto imagesAt = [](const std::vector<torch::Tensor>& images, std::size_t i) {
        return i < images.size() && images[i].defined() ? imagesOf(images[i]) : QList<QImage> {};
    };
    for (std::size_t i = 0; i < report.records.size(); ++i) {
        const attack::AttackRecord& record = report.records[i];
        AttackRow row;
        row.prompt = toQString(record.prompt);
        row.targetPrompt = toQString(record.targetPrompt);
        row.adversarialPrompt = toQString(record.adversarialPrompt);
        row.preRate = record.preRate();
        row.postRate = record.postRate();
        row.losses = QList<double>(record.losses.begin(), record.losses.end());
        row.before = imagesAt(outcome.images.before, i);
        row.after = imagesAt(outcome.images.after, i);
        row.targets = imagesAt(outcome.images.targets, i);
        summary.rows.append(row);
    }
    return summary;
}

} // namespace lethe::gui
