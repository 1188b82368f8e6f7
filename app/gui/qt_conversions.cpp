#include "qt_conversions.h"

#include "core/data/image_set.h"
#include "core/data/subsets.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/unlearn_run.h"

#include <torch/torch.h>

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
    s.alpha = c.alpha;
    s.lambda = c.lambda;
    s.lr = c.lr;
    s.steps = c.steps;
    s.forgetBatch = c.forgetBatch;
    s.remainPerClass = c.remainPerClass;
    s.remainBatch = c.remainBatch;
    s.seed = c.seed;
    return s;
}

unlearn::RunConfig runConfigOf(const widgets::RunSettings& s, const unlearn::RunConfig& base)
{
    unlearn::RunConfig c = base;
    c.method = unlearn::methodFromName(s.method.toStdString());
    c.alpha = s.alpha;
    c.lambda = s.lambda;
    c.lr = s.lr;
    c.steps = s.steps;
    c.forgetBatch = s.forgetBatch;
    c.remainPerClass = s.remainPerClass;
    c.remainBatch = s.remainBatch;
    c.seed = s.seed;
    return c;
}

widgets::RunSettings settingsOf(const unlearn::ConceptConfig& c)
{
    widgets::RunSettings s;
    s.method = toQString(unlearn::conceptMethodName(c.method));
    s.alpha = c.alpha;
    s.lambda = c.lambda;
    s.lr = c.lr;
    s.steps = c.steps;
    s.forgetBatch = c.forgetBatch;
    s.remainBatch = c.remainBatch;
    s.seed = c.seed;
    s.parameters = toQString(unlearn::parameterGroupName(c.parameters));
    s.eta = c.eta;
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
    c.alpha = s.alpha;
    c.lambda = s.lambda;
    c.lr = s.lr;
    c.steps = s.steps;
    c.forgetBatch = s.forgetBatch;
    c.remainBatch = s.remainBatch;
    c.seed = s.seed;
    c.eta = s.eta;
    return c;
}

QList<widgets::RunPreset> classPresets()
{
    QList<widgets::RunPreset> out;
    for (const auto& name : unlearn::runPresetNames())
        out.append({ toQString(name), settingsOf(unlearn::runPreset(name)) });
    return out;
}

QList<widgets::RunPreset> conceptPresets()
{
    QList<widgets::RunPreset> out;
    for (const auto& name : unlearn::conceptPresetNames())
        out.append({ toQString(name), settingsOf(unlearn::conceptPreset(name)) });
    return out;
}

} // namespace lethe::gui
