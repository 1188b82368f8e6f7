#include "concept_worker.h"

#include "qt_conversions.h"

#include "core/attack/attack_run.h"
#include "core/concept/prompt_set.h"
#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/eval/benchmark.h"
#include "core/eval/clip_alignment_sets.h"
#include "core/io/json_fields.h"
#include "core/io/json_text.h"
#include "core/io/model_file.h"
#include "core/io/sha256.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/clip/clip_model.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/concept_images.h"
#include "core/unlearn/concept_session.h"
#include "core/unlearn/memory_estimate.h"
#include "core/unlearn/run_control.h"
#include "core/unlearn/run_record.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <QDateTime>
#include <QFileInfo>

#include <algorithm>
#include <filesystem>
#include <optional>

namespace lethe::gui {

namespace {

nlohmann::json promptsJson(const std::vector<concepts::Prompt>& prompts)
{
    return nlohmann::json::parse(prompts.empty() ? std::string("[]") : concepts::promptSetToJson(prompts));
}

/// What a drawing of training images depends on.
std::string imagesKey(const ConceptImagesRequest& r, const std::string& modelPath)
{
    return nlohmann::json {
        { "forget", promptsJson(corePrompts(r.forget)) }, { "remain", promptsJson(corePrompts(r.remain)) },
        { "guidance", r.draw.guidance }, { "steps", r.draw.samplerSteps }, { "model", modelPath },
        { "cache", r.draw.cacheFolder.toStdString() }
    }.dump();
}

std::vector<std::string> promptTexts(const QList<ConceptPrompt>& prompts)
{
    std::vector<std::string> texts;
    for (const ConceptPrompt& p : prompts)
        texts.push_back(p.text.toStdString());
    return texts;
}

/// A set's name as the progress line says it.
QString setLabel(const std::string& name)
{
    if (name == "forget")
        return QStringLiteral("D_f");
    return name == "remain_train" ? QStringLiteral("D_r,train") : QStringLiteral("D_r,test");
}

/// The figures of eval::clipAlignmentRecord's record: each set, then "remain" (D_r,train and D_r,test together).
QList<ClipAlignmentFigure> clipFigures(const nlohmann::json& record)
{
    QList<ClipAlignmentFigure> figures;
    const auto add = [&](const char* name, const nlohmann::json& entry) {
        figures.append({ QString::fromLatin1(name), entry.value("prompts", qint64 { 0 }),
            entry.at("images").get<qint64>(), entry.at("before").get<double>(), entry.at("after").get<double>() });
    };
    for (const char* name : { "forget", "remain_train", "remain_test" })
        if (record.at("sets").contains(name))
            add(name, record.at("sets").at(name));
    if (record.contains("remain"))
        add("remain", record.at("remain"));
    return figures;
}

/// UCE's preserved concepts when the panel names none: the built preset's other concept-dimension values, less any
/// word the concept names now (compared without case; the words may have been edited since the build).
std::vector<std::string> preservedByDefault(const QStringList& otherValues, const std::string& forgetConcept)
{
    const std::vector<std::string> words = unlearn::conceptWords(forgetConcept);
    std::vector<std::string> kept;
    for (const QString& value : otherValues) {
        const bool isConcept = std::any_of(words.begin(), words.end(),
            [&](const std::string& word) { return value.compare(toQString(word), Qt::CaseInsensitive) == 0; });
        if (!isConcept && !value.trimmed().isEmpty())
            kept.push_back(value.trimmed().toStdString());
    }
    return kept;
}

/// The core config of the run `request` asks for: the panel's values over its preset, and what the Concept tab
/// fixes (the remain set drawn on its own; UCE's one step and, when the panel names none, its preserved concepts).
unlearn::ConceptConfig conceptRunConfig(const ConceptRunRequest& request)
{
    unlearn::ConceptConfig config = conceptConfigOf(request.settings, request.preset);
    config.forgetConcept = request.forgetConcept.toStdString();
    config.previewEvery = request.previewEvery;
    // The Concept tab's remain set is typed, loaded or built as D_r,train, never the forget set's twins: its
    // batches are drawn on their own (docs/method.md §3), and run.json says so.
    config.remainPairing = unlearn::RemainPairing::Independent;
    if (config.method == unlearn::ConceptMethod::UCE) {
        config.steps = 1; // One closed-form edit (the session's too): the progress counts one step.
        if (config.ucePreserve.empty())
            config.ucePreserve = preservedByDefault(request.otherConceptValues, config.forgetConcept);
    }
    return config;
}

/// What the diffusers folder `model` recommends for itself in its lethe-manifest.json: recommended_preset (core's
/// check), recommended_drawing ({"sampler_steps", "guidance"}) and recommended_prompt_preset (the name of a diversity
/// preset among the resources, presets/NAME.json). A bad value is logged, naming the field and the file, and left
/// out; the others still count.
ConceptModelAdvice modelAdvice(const std::filesystem::path& model)
{
    ConceptModelAdvice advice;
    const auto logged = [](const auto& read) {
        try {
            read();
        } catch (const std::exception& e) {
            spdlog::warn("{}", e.what());
        }
    };
    logged([&] { advice.preset = toQString(unlearn::recommendedConceptPreset(model).value_or(std::string())); });
    const std::filesystem::path manifest = model / "lethe-manifest.json";
    if (!std::filesystem::is_directory(model) || !std::filesystem::is_regular_file(manifest))
        return advice;
    nlohmann::json object;
    logged([&] { object = io::readJsonObjectFile(manifest); });
    if (!object.is_object())
        return advice;
    const io::JsonFields fields(object, manifest.string());
    logged([&] {
        if (!fields.has("recommended_drawing"))
            return;
        const nlohmann::json& drawing = object.at("recommended_drawing");
        if (!drawing.is_object())
            fields.fail("recommended_drawing", "expected an object with sampler_steps and guidance");
        const io::JsonFields draw(drawing, manifest.string() + ", recommended_drawing");
        const int steps = draw.require<int>("sampler_steps");
        const double guidance = draw.require<double>("guidance");
        if (steps < 1)
            draw.fail("sampler_steps", "expected at least 1, found " + std::to_string(steps));
        if (!(guidance >= 1.0))
            draw.fail("guidance", "expected at least 1, found " + std::to_string(guidance));
        advice.samplerSteps = steps;
        advice.guidance = guidance;
    });
    logged([&] {
        if (!fields.has("recommended_prompt_preset"))
            return;
        const auto name = fields.require<std::string>("recommended_prompt_preset");
        std::filesystem::path file;
        try {
            file = resourceFile("presets/" + name + ".json");
        } catch (const std::exception& e) {
            fields.fail("recommended_prompt_preset", e.what());
        }
        advice.promptPreset = toQString(file.string());
    });
    return advice;
}

} // namespace

struct ConceptWorker::State {
    torch::Device device { torch::kCPU };
    std::optional<models::sd::StableDiffusion> sd;
    std::string modelPath;

    // The training pairs of the last drawing, and what they were drawn for.
    std::string imagesKey;
    std::vector<concepts::Prompt> forgetPrompts;
    std::vector<concepts::Prompt> remainPrompts;
    std::vector<unlearn::ConceptPair> forget;
    std::vector<unlearn::ConceptPair> remain;

    // The base model's previews, and what they were drawn for.
    std::string beforeKey;
    torch::Tensor before;

    // The CLIP model of the CLIP alignment and what it was loaded from (the folder and its weights' time); the base
    // model's scores and what they were drawn for.
    std::optional<models::clip::LoadedClip> clip;
    std::string clipKey;
    std::string clipBeforeKey;
    std::vector<std::vector<double>> clipBefore;

    // The last run, kept for export.
    std::unique_ptr<unlearn::ConceptSession> session;
    nlohmann::json manifest;
};

ConceptWorker::ConceptWorker()
    : m_state(std::make_unique<State>())
{
    qRegisterMetaType<ConceptModelAdvice>();
    qRegisterMetaType<ConceptImagesRequest>();
    qRegisterMetaType<ConceptRunRequest>();
    qRegisterMetaType<ClipAlignmentFigure>();
    qRegisterMetaType<QList<ClipAlignmentFigure>>();
    qRegisterMetaType<ConceptMemoryEstimate>();
}

ConceptWorker::~ConceptWorker() = default;

void ConceptWorker::cancelImages()
{
    m_cancelImages = true;
}

void ConceptWorker::setAvailableMemory(qint64 bytes)
{
    m_availableMemory = bytes;
}

void ConceptWorker::estimate(const ConceptRunRequest& request, bool forStart)
{
    State& s = *m_state;
    ConceptMemoryEstimate out;
    out.forStart = forStart;
    try {
        if (!s.sd)
            throw Error("no model open");
        const unlearn::ConceptConfig config = conceptRunConfig(request);
        config.validate();
        // The GUI trains a copy of the UNet (the opened model stays for the previews and the next run).
        const std::int64_t side = s.sd->defaultImageSize() / s.sd->model().latentScale;
        const auto pairs = static_cast<std::int64_t>(request.images.forget.size() + request.images.remain.size());
        const unlearn::MemoryQuery query = unlearn::memoryQuery(*s.sd, config, unlearn::BaseUse::Copy, side, pairs);
        const unlearn::MemoryEstimate estimate = unlearn::estimateMemory(query);
        const qint64 given = m_availableMemory.load();
        const std::optional<std::int64_t> available
            = given >= 0 ? std::optional<std::int64_t>(given) : unlearn::freeMemory(s.device);
        out.peak = estimate.devicePeak();
        out.firstStep = estimate.firstStepPeak();
        out.available = available ? *available : -1;
        out.details = toQString(estimate.describe());
        const QString peak = toQString(eval::formatBytes(out.peak));
        const QString first = toQString(eval::formatBytes(out.firstStep));
        const QString device = toQString(s.device.str());
        if (!available)
            out.summary = tr("Memory: about %1 at a step's peak (%2 in the first step) on %3; free memory unknown")
                              .arg(peak, first, device);
        else if (const auto refusal = unlearn::memoryRefusal(query, *available)) {
            out.refusal = toQString(*refusal);
            out.summary = tr("Memory: about %1 at a step's peak (%2 in the first step), more than the %3 free on %4")
                              .arg(peak, first, toQString(eval::formatBytes(*available)), device);
        } else {
            out.summary = tr("Memory: about %1 at a step's peak (%2 in the first step) of %3 free on %4")
                              .arg(peak, first, toQString(eval::formatBytes(*available)), device);
        }
    } catch (const std::exception& e) {
        // Settings core refuses, or no model: Start goes on and the run reports them as it always has.
        out = ConceptMemoryEstimate();
        out.forStart = forStart;
        out.summary = tr("Memory: no estimate (%1)").arg(toQString(e.what()));
    }
    Q_EMIT memoryEstimated(out);
}

QList<widgets::RunPreset> ConceptWorker::presets()
{
    return conceptPresets();
}

QList<QPair<QString, QString>> ConceptWorker::methods()
{
    return { { QStringLiteral("rgd"), tr("RGD (restricted gradient, diverse remain set)") },
        { QStringLiteral("graddiff"), tr("GradDiff") }, { QStringLiteral("ga"), tr("GA (gradient ascent)") },
        { QStringLiteral("esd"), tr("ESD (erased stable diffusion)") },
        { QStringLiteral("rg"), tr("RG (restricted gradient, plain remain set)") },
        { QStringLiteral("salun"), tr("SalUn (saliency-masked relabelling)") },
        { QStringLiteral("uce"), tr("UCE (closed-form cross-attention edit)") } };
}

QList<QPair<QString, QString>> ConceptWorker::parameterGroups()
{
    return { { QStringLiteral("all"), tr("All UNet parameters") },
        { QStringLiteral("cross-attn"), tr("Cross-attention only (ESD-x)") },
        { QStringLiteral("no-cross-attn"), tr("All but cross-attention") },
        { QStringLiteral("esd-u"), tr("ESD-u (all but cross-attention, time embedding and output layers)") } };
}

ConceptDrawSettings ConceptWorker::drawDefaults()
{
    const unlearn::ConceptImageOptions images;
    ConceptDrawSettings d;
    d.samplerSteps = images.samplerSteps;
    d.guidance = images.guidance;
    d.batch = images.batch;
    return d;
}

void ConceptWorker::open(const QString& chosen, const QString& components)
{
    State& s = *m_state;
    try {
        // No model chosen: the built-in Fashion text-to-image model.
        const QString model = chosen.isEmpty()
            ? QString::fromStdString(resourceFile(std::string("models/") + kBuiltinT2iModel).string())
            : chosen;
        Q_EMIT progress(tr("Opening %1").arg(model), 0, 0);
        s.device = resolveDevice(chosenDeviceName().toStdString());
        models::sd::SdLoadOptions options;
        options.device = s.device;
        options.components = components.toStdString();
        models::sd::StableDiffusion loaded = models::sd::loadStableDiffusion(model.toStdString(), options);
        const QString description
            = tr("%1 (%2) — UNet %3 parameters, %4×%4 images, %5; configs from %6")
                  .arg(QFileInfo(model).fileName(), toQString(loaded.family() + ' ' + loaded.sourceKind()))
                  .arg(loaded.unetParameters())
                  .arg(loaded.defaultImageSize())
                  .arg(loaded.vae() ? tr("latent") : tr("pixel space"))
                  .arg(toQString(loaded.configSource()));
        const ConceptModelAdvice advice = modelAdvice(model.toStdString());
        s.sd = std::move(loaded);
        s.modelPath = std::filesystem::absolute(model.toStdString()).lexically_normal().string();
        s.imagesKey.clear();
        s.forget.clear();
        s.remain.clear();
        s.beforeKey.clear();
        s.before = torch::Tensor();
        s.session.reset();
        s.manifest = nullptr;
        spdlog::info("opened the text-to-image model {} on {}", s.modelPath, s.device.str());
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT opened(toQString(s.modelPath), description, advice);
    } catch (const std::exception& e) {
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT openFailed(toQString(e.what()));
    }
}

bool ConceptWorker::ensureImages(const ConceptImagesRequest& request, const unlearn::RunControl* control)
{
    State& s = *m_state;
    if (!s.sd)
        throw Error("open a text-to-image model first");
    if (request.forget.isEmpty())
        throw Error("the forget set is empty: type forget prompts, load a prompt file or build them from a preset");
    unlearn::ConceptImageOptions options;
    options.guidance = request.draw.guidance;
    options.samplerSteps = request.draw.samplerSteps;
    options.batch = request.draw.batch;
    options.modelId = s.modelPath;
    const std::vector<concepts::Prompt> forget = corePrompts(request.forget);
    const std::vector<concepts::Prompt> remain = corePrompts(request.remain);
    const std::filesystem::path cache = request.draw.cacheFolder.toStdString();
    if (cache.empty())
        throw Error("choose a folder for the training-image cache");

    const auto total = static_cast<qint64>(forget.size() + remain.size());
    const qint64 steps = std::max(1, request.draw.samplerSteps);
    qint64 cached = 0;
    // Progress in sampler steps of all the images, so that the bar moves with every step of a batch (a batch of a
    // large model takes minutes), and a detail that names the batch's images and its step.
    const auto draw = [&](const std::vector<concepts::Prompt>& prompts, const std::filesystem::path& folder,
                          qint64 offset, const QString& what) -> std::optional<torch::Tensor> {
        bool first = true;
        qint64 doneInSet = 0;
        const auto keepGoing = [&] { return !m_cancelImages.load() && !(control && control->stopRequested()); };
        return unlearn::conceptImages(
            *s.sd, prompts, folder, options,
            [&](std::int64_t done, std::int64_t) {
                doneInSet = done;
                if (first) {
                    // The first report counts the images found in the cache; after a batch the sampler's last step
                    // has said the same.
                    cached += done;
                    Q_EMIT drawingProgress(what, tr("%1 of %2 images").arg(offset + done).arg(total),
                        (offset + done) * steps, total * steps);
                }
                first = false;
                return keepGoing();
            },
            [&](std::int64_t step, std::int64_t samplerSteps) {
                // The batch being drawn: the next images of the set that the cache lacks.
                const qint64 batch = std::min<qint64>(options.batch, static_cast<qint64>(prompts.size()) - doneInSet);
                const qint64 firstImage = offset + doneInSet + 1;
                const QString images = batch > 1
                    ? tr("images %1–%2 of %3").arg(firstImage).arg(firstImage + batch - 1).arg(total)
                    : tr("image %1 of %2").arg(firstImage).arg(total);
                const qint64 within = samplerSteps > 0 ? batch * steps * step / samplerSteps : 0;
                Q_EMIT drawingProgress(what, tr("%1, step %2/%3").arg(images).arg(step).arg(samplerSteps),
                    (offset + doneInSet) * steps + within, total * steps);
                return keepGoing();
            });
    };
    const std::optional<torch::Tensor> forgetImages
        = draw(forget, cache / "forget", 0, tr("Drawing the forget images"));
    if (!forgetImages)
        return false;
    options.seedBase = 1000000; // As unlearn-concept: remain prompts without seeds draw other noise than forget ones.
    std::optional<torch::Tensor> remainImages;
    if (!remain.empty()) {
        remainImages
            = draw(remain, cache / "remain", static_cast<qint64>(forget.size()), tr("Drawing the remain images"));
        if (!remainImages)
            return false;
    }
    const auto pairs = [&](const std::vector<concepts::Prompt>& prompts, const torch::Tensor& pixels) {
        std::vector<std::string> texts;
        for (const auto& prompt : prompts)
            texts.push_back(prompt.text);
        return unlearn::conceptPairsOf(*s.sd, texts, pixels, options.batch);
    };
    s.forget = pairs(forget, *forgetImages);
    s.remain = remainImages ? pairs(remain, *remainImages) : std::vector<unlearn::ConceptPair> {};
    s.forgetPrompts = forget;
    s.remainPrompts = remain;
    s.imagesKey = imagesKey(request, s.modelPath);
    Q_EMIT imagesReady(total - cached, cached);
    return true;
}

void ConceptWorker::drawImages(const ConceptImagesRequest& request)
{
    m_cancelImages = false;
    try {
        const bool done = ensureImages(request, nullptr);
        Q_EMIT progress(QString(), 0, 0);
        if (!done)
            Q_EMIT imagesCancelled(0, request.forget.size() + request.remain.size());
    } catch (const std::exception& e) {
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT imagesFailed(toQString(e.what()));
    }
}

void ConceptWorker::ensureClip(const QString& folder)
{
    State& s = *m_state;
    const QFileInfo weights(folder + QStringLiteral("/model.safetensors"));
    const std::string key
        = weights.absoluteFilePath().toStdString() + "@" + std::to_string(weights.lastModified().toMSecsSinceEpoch());
    if (s.clip && key == s.clipKey)
        return;
    s.clip.reset();
    s.clipKey.clear();
    s.clip = models::clip::loadClip(folder.toStdString(), s.device);
    s.clipKey = key;
}

void ConceptWorker::loadClip(const QString& folder)
{
    try {
        Q_EMIT progress(tr("Loading the CLIP model %1").arg(folder), 0, 0);
        ensureClip(folder);
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT clipLoaded();
    } catch (const std::exception& e) {
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT clipFailed(toQString(e.what()));
    }
}

void ConceptWorker::run(const ConceptRunRequest& request)
{
    State& s = *m_state;
    const auto control = beginRun();
    m_cancelImages = false;
    try {
        if (!s.sd)
            throw Error("open a text-to-image model first");
        const unlearn::ConceptConfig config = conceptRunConfig(request);
        if (config.method == unlearn::ConceptMethod::UCE && request.settings.ucePreserve.trimmed().isEmpty()
            && !config.ucePreserve.empty())
            spdlog::info(
                "UCE preserves the concept dimension's other training values (no preserved concepts named): {}",
                unlearn::conceptText(config.ucePreserve));
        config.validate();
        if (request.images.forget.isEmpty())
            throw Error("the forget set is empty: type forget prompts, load a prompt file or build them from a preset");
        if (request.images.remain.isEmpty() && !unlearn::conceptMethodWithoutRemain(config.method))
            throw Error("the remain set is empty (" + unlearn::conceptMethodName(config.method)
                + " needs remain pairs): add remain prompts, or choose ESD or UCE");
        Q_EMIT runStarted(config.steps);

        // The training images: those of the last drawing when the prompts and settings are the same.
        if (s.imagesKey.empty() || s.imagesKey != imagesKey(request.images, s.modelPath)) {
            if (!ensureImages(request.images, control.get())) {
                endRun(QStringLiteral("stopped"),
                    tr("Stopped while drawing the training images (those drawn are cached)."), 0, 0.0);
                return;
            }
        }

        // The previews: every chosen prompt with every seed, from the base model once per choice.
        diffusion::TextToImageRequest preview;
        nlohmann::json previewList = nlohmann::json::array();
        for (qsizetype i = 0; i < request.preview.prompts.size(); ++i)
            for (const qint64 seed : request.preview.seeds) {
                preview.prompts.push_back(request.preview.prompts[i].toStdString());
                preview.seeds.push_back(seed);
                previewList.push_back({ { "set", request.preview.sets.value(i).toStdString() },
                    { "prompt", request.preview.prompts[i].toStdString() }, { "seed", seed } });
            }
        preview.height = s.sd->defaultImageSize();
        preview.width = s.sd->defaultImageSize();
        preview.guidance = request.images.draw.guidance;
        preview.sampler.steps = request.images.draw.samplerSteps;
        preview.batch = request.images.draw.batch;
        const int columns = static_cast<int>(std::max<qsizetype>(1, request.preview.seeds.size()));
        if (!preview.prompts.empty()) {
            const std::string key = previewList.dump() + s.modelPath + std::to_string(preview.guidance) + "/"
                + std::to_string(preview.sampler.steps);
            if (key != s.beforeKey || !s.before.defined()) {
                const QString what = tr("Drawing the base model's previews (sampler steps)");
                const auto before
                    = diffusion::generate(s.sd->model(), preview, [&](std::int64_t stepsDone, std::int64_t total) {
                          Q_EMIT progress(what, stepsDone, total);
                          return !m_cancelImages.load() && !control->stopRequested();
                      });
                if (!before) {
                    endRun(QStringLiteral("stopped"), tr("Stopped while drawing the base model's previews."), 0, 0.0);
                    return;
                }
                s.before = *before;
                s.beforeKey = key;
            }
            Q_EMIT beforeReady(imagesOf(s.before), columns);
        }
        Q_EMIT progress(QString(), 0, 0);

        // CLIP alignment as unlearn-concept measures it: the first prompts of D_f, D_r,train and D_r,test at the
        // preview seeds, drawn by the base model now (once per choice) and by the unlearned one at the end.
        const std::vector<std::int64_t> seeds(request.preview.seeds.begin(), request.preview.seeds.end());
        std::vector<eval::ClipAlignmentSet> clipSets;
        if (!request.clipModel.isEmpty()) {
            ensureClip(request.clipModel);
            clipSets = eval::clipAlignmentSets({ { "forget", promptTexts(request.images.forget) },
                                                   { "remain_train", promptTexts(request.images.remain) },
                                                   { "remain_test", promptTexts(request.remainTest) } },
                preview, seeds, static_cast<std::size_t>(std::max<qint64>(0, request.clipPrompts)));
            nlohmann::json key = { s.clipKey, s.modelPath, preview.guidance, preview.sampler.steps, preview.height };
            for (const auto& set : clipSets)
                key.push_back({ set.name, set.request.prompts, set.request.seeds });
            if (key.dump() != s.clipBeforeKey) {
                s.clipBefore.clear();
                for (const auto& set : clipSets) {
                    const QString what = tr("Drawing the base model's %1 images for CLIP").arg(setLabel(set.name));
                    const auto scores = eval::scoreClipAlignmentSet(
                        s.sd->model(), *s.clip, set, [&](std::int64_t done, std::int64_t total) {
                            Q_EMIT progress(what, done, total);
                            return !m_cancelImages.load() && !control->stopRequested();
                        });
                    if (!scores) {
                        endRun(QStringLiteral("stopped"), tr("Stopped while drawing the base model's images for CLIP."),
                            0, 0.0);
                        return;
                    }
                    s.clipBefore.push_back(*scores);
                }
                s.clipBeforeKey = key.dump();
            }
            for (std::size_t i = 0; i < clipSets.size(); ++i)
                clipSets[i].before = s.clipBefore[i];
            Q_EMIT progress(QString(), 0, 0);
        }

        s.session.reset();
        s.manifest = nullptr;
        s.session = std::make_unique<unlearn::ConceptSession>(*s.sd, s.forget, s.remain, config);
        unlearn::ConceptSession& session = *s.session;
        session.setPreview(preview);
        spdlog::info("concept unlearning with {}: {} forget and {} remain pairs, {} trainable tensors ({})",
            unlearn::conceptMethodName(config.method), s.forget.size(), s.remain.size(),
            session.trainableNames().size(),
            config.method == unlearn::ConceptMethod::UCE ? std::string("cross-attention keys and values")
                                                         : unlearn::parameterGroupName(config.parameters));
        const unlearn::RunRecord record { "concept", io::configToJson(config), {}, s.modelPath,
            std::filesystem::is_regular_file(s.modelPath) ? io::sha256File(s.modelPath) : std::string(), s.device.str(),
            "lethe (GUI)", io::utcNow() };
        const unlearn::RunResult result = runLoop(session, *control, columns);
        if (!preview.prompts.empty()) {
            // The end's previews are drawn whatever stopped the run (only cancelImages() stops them).
            const QString what = tr("Drawing the unlearned model's previews");
            const auto after = session.preview([&](std::int64_t stepsDone, std::int64_t total) {
                Q_EMIT progress(what, stepsDone, total);
                return !m_cancelImages.load();
            });
            if (after)
                Q_EMIT previewReady(result.steps, imagesOf(*after), columns);
        }
        nlohmann::json clipRecord;
        if (!clipSets.empty() && result.steps > 0) {
            bool drawn = true;
            for (auto& set : clipSets) {
                const QString what = tr("Drawing the unlearned model's %1 images for CLIP").arg(setLabel(set.name));
                const auto scores = eval::scoreClipAlignmentSet(
                    session.model().model(), *s.clip, set, [&](std::int64_t done, std::int64_t total) {
                        Q_EMIT progress(what, done, total);
                        return !m_cancelImages.load();
                    });
                if (!scores) {
                    drawn = false;
                    break;
                }
                set.after = *scores;
            }
            if (drawn) {
                clipRecord = eval::clipAlignmentRecord(clipSets, request.clipModel.toStdString(), seeds);
                spdlog::info("{}", eval::clipAlignmentTable(clipRecord));
                Q_EMIT clipMeasured(clipFigures(clipRecord));
            }
        }
        unlearn::RunRecord finalRecord = record;
        finalRecord.finalConfig = io::configToJson(session.config());
        s.manifest = unlearn::runManifest(finalRecord, result);
        if (!clipRecord.is_null())
            s.manifest["clip_alignment"] = clipRecord;
        s.manifest.update({ { "concept", config.forgetConcept }, { "forget_prompts", promptsJson(s.forgetPrompts) },
            { "parent_kind", s.sd->sourceKind() }, { "forget_pairs", s.forget.size() },
            { "remain_pairs", s.remain.size() }, { "image_guidance", request.images.draw.guidance },
            { "image_steps", request.images.draw.samplerSteps }, { "image_batch", request.images.draw.batch },
            { "previews", previewList } });
        endRun(result);
    } catch (const std::exception& e) {
        endRun(QStringLiteral("failed"), toQString(e.what()), s.session ? s.session->stepsDone() : 0, 0.0);
    }
}

void ConceptWorker::exportModel(const QString& diffusersFolder, const QString& compvisFile)
{
    State& s = *m_state;
    try {
        if (!s.session || s.manifest.is_null())
            throw Error("there is no unlearned model to export yet: run first");
        if (diffusersFolder.isEmpty() && compvisFile.isEmpty())
            throw Error("choose a diffusers folder or a CompVis file to export to");
        nlohmann::json manifest = s.manifest;
        manifest["exported"] = io::utcNow();
        QStringList written;
        if (!diffusersFolder.isEmpty()) {
            Q_EMIT progress(tr("Writing the diffusers folder %1").arg(diffusersFolder), 0, 0);
            s.session->model().saveDiffusersFolder(diffusersFolder.toStdString(), io::jsonText(manifest, 2));
            written << diffusersFolder;
        }
        if (!compvisFile.isEmpty()) {
            Q_EMIT progress(tr("Writing the CompVis file %1").arg(compvisFile), 0, 0);
            s.session->model().saveCompvisSingleFile(
                compvisFile.toStdString(), { { "lethe.manifest", io::jsonText(manifest) } });
            written << compvisFile;
        }
        spdlog::info("exported the concept run to {}", written.join(QStringLiteral(", ")).toStdString());
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT exported(written.join(QStringLiteral(", ")));
    } catch (const std::exception& e) {
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT exportFailed(toQString(e.what()));
    }
}

void ConceptWorker::attack(const AttackRequest& request)
{
    State& s = *m_state;
    nlohmann::json report = runAttack([&](const attack::AttackProgress& onEvent, attack::AttackOutcome& outcome) {
        if (!s.session || !s.sd || s.manifest.is_null())
            throw Error("run unlearning first: the attack needs the run's model");
        attack::ConceptAttackSetup setup;
        for (const QString& prompt : request.promptTexts)
            setup.prompts.push_back(prompt.toStdString());
        for (const QString& prompt : request.targetPrompts)
            setup.targetPrompts.push_back(prompt.toStdString());
        setup.seeds = firstSeeds(request.seeds);
        setup.targetSeeds = firstSeeds(request.targets);
        setup.guidance = request.guidance;
        setup.samplerSteps = request.samplerSteps;
        setup.batch = request.batch;
        setup.attack.kind
            = request.kind == QStringLiteral("soft") ? attack::PromptAttackKind::Soft : attack::PromptAttackKind::Hard;
        setup.attack.tokens = request.tokens;
        setup.attack.placement = request.placement == QStringLiteral("suffix") ? attack::TokenPlacement::Suffix
                                                                               : attack::TokenPlacement::Prefix;
        setup.attack.steps = request.steps;
        setup.attack.lr = request.lr;
        setup.attack.timestepsPerStep = request.timestepsPerStep;
        setup.attack.validate();

        // The judge: the built-in classifier where the concept is a Fashion garment or palette colour (the built-in
        // model's concepts), else zero-shot CLIP with the CLIP model chosen under Measures.
        const std::string concept = request.concept.toStdString();
        std::optional<attack::Judge> judge;
        std::string whyNot;
        try {
            const auto classifier
                = models::loadClassifier(resourceFile(std::string("models/") + kBuiltinClassifier), s.device);
            judge = attack::fashionJudge(classifier.model, concept, s.device);
        } catch (const std::exception& e) {
            whyNot = e.what();
        }
        if (!judge && !request.clipModel.isEmpty()) {
            // A copy of its own (the run's CLIP model is kept for the CLIP alignment; LoadedClip moves only).
            judge = attack::zeroShotClipJudge(
                std::make_shared<eval::ZeroShotClip>(eval::makeZeroShotClip(
                    models::clip::loadClip(request.clipModel.toStdString(), s.device), { concept })),
                0);
        }
        if (!judge)
            throw Error("no judge for the concept '" + concept + "': " + whyNot
                + "; choose a CLIP model under Measures to judge it zero-shot");
        auto result = attack::runConceptAttack(s.session->model(), *s.sd, setup, *judge, onEvent);
        if (!result)
            return false;
        outcome = std::move(*result);
        return true;
    });
    if (!report.is_null() && !s.manifest.is_null())
        s.manifest["attack"] = std::move(report);
}

} // namespace lethe::gui
