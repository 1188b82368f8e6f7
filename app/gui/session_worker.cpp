#include "session_worker.h"

#include "qt_conversions.h"

#include "core/attack/attack_run.h"
#include "core/data/datasets.h"
#include "core/error.h"
#include "core/eval/generation_eval.h"
#include "core/eval/measure_cache.h"
#include "core/eval/preview_cache.h"
#include "core/io/model_file.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/clip/clip_model.h"
#include "core/nn/state_dict.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_control.h"
#include "core/unlearn/run_record.h"
#include "core/unlearn/session.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <QDateTime>
#include <QFileInfo>
#include <QTemporaryDir>

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

namespace lethe::gui {

namespace {

constexpr const char* kCommand = "lethe (GUI)";

widgets::Measurement measurementOf(const eval::GenerationEval& e)
{
    widgets::Measurement m;
    for (const double a : e.unlearning->classes.accuracy)
        m.classAccuracy.append(a);
    m.ua = e.unlearning->ua;
    m.ra = e.unlearning->ra;
    m.fd = e.frechet;
    m.kid = e.kid.mean;
    if (e.literature) {
        if (const auto& clip = e.literature->clip; clip && clip->unlearning) {
            m.clipUa = clip->unlearning->ua;
            m.clipRa = clip->unlearning->ra;
        }
        if (const auto& fid = e.literature->fid) {
            m.fid = fid->remain ? *fid->remain : fid->all;
            m.fidForgotten = fid->forget;
        }
    }
    return m;
}

/// What loading `paths` for the model with SHA-256 `modelSha256` gives: the files (with their modification times,
/// so that a file replaced under the same name loads again), the resize rule and the model, whose class names the
/// zero-shot prompts take.
std::string instrumentsKey(const InstrumentPaths& paths, const std::string& modelSha256)
{
    const auto file = [](const QString& path) {
        if (path.isEmpty())
            return nlohmann::json();
        const QFileInfo info(path);
        return nlohmann::json { { "path", info.absoluteFilePath().toStdString() },
            { "modified", info.lastModified().toMSecsSinceEpoch() } };
    };
    return nlohmann::json {
        { "clip", file(paths.clip.isEmpty() ? QString() : paths.clip + QStringLiteral("/model.safetensors")) },
        { "inception", file(paths.inception) }, { "reference", file(paths.fidReference) },
        { "resize", paths.fidResize.toStdString() }, { "model", modelSha256 }
    }.dump();
}

} // namespace

struct SessionWorker::State {
    torch::Device device { torch::kCPU };
    std::optional<store::EdmModel> model;
    data::ImageSet train;
    std::optional<models::LoadedClassifier> classifier;
    std::optional<eval::RealFeatures> real;
    /// The literature's instruments of the last loadInstruments (or run that named them), and what they were
    /// loaded from (instrumentsKey; empty: none loaded). Cleared when another model opens.
    eval::LiteratureInstruments instruments;
    std::string instrumentsKey;
    /// Measurements of the opened (base) model by (images per class, forgotten class, instruments' key): a second
    /// run on the same class reuses them instead of sampling the base model again. Cleared when another model opens.
    std::map<std::tuple<std::int64_t, int, std::string>, eval::GenerationEval> baseMeasurements;
    /// The opened model's preview by its measure-cache key (eval::classImagesKey, dumped): the next run with the same
    /// one shows it at once without reading the cache. Cleared when another model opens.
    std::map<std::string, torch::Tensor> basePreviews;

    // The current (or last) run, kept for export.
    std::unique_ptr<unlearn::UnlearnSession> session;
    RunRequest request;
    nlohmann::json startConfig;
    std::string started;
    std::mutex mutex; ///< Guards the fields below, which the run thread writes and an export reads.
    std::vector<unlearn::StepReport> steps;
    torch::Tensor before;
    std::map<std::int64_t, std::filesystem::path> snapshots;
    std::map<std::int64_t, torch::Tensor> previews; ///< Preview images by step (the last one: the current model).
    std::int64_t lastStep = 0;
    nlohmann::json metricsBefore;
    nlohmann::json metricsAfter;
    nlohmann::json instrumentsUsed; ///< describe() of the run's instruments; null: none.
    nlohmann::json attack; ///< The last attack on the run's model (toJson); null: none.
    bool running = false;
    unlearn::RunResult result; ///< How the last run ended (while running: nothing yet).
    std::unique_ptr<QTemporaryDir> snapshotDir;
};

SessionWorker::SessionWorker()
    : m_state(std::make_unique<State>())
{
    qRegisterMetaType<OpenedModel>();
    qRegisterMetaType<RunRequest>();
    qRegisterMetaType<InstrumentPaths>();
    qRegisterMetaType<widgets::Measurement>();
}

SessionWorker::~SessionWorker() = default;

QList<widgets::RunPreset> SessionWorker::presets()
{
    return classPresets();
}

QList<QPair<QString, QString>> SessionWorker::methods()
{
    return { { QStringLiteral("rgd"), tr("RGD (restricted gradient, diverse remain set)") },
        { QStringLiteral("rg"), tr("RG (restricted gradient)") }, { QStringLiteral("graddiff"), tr("GradDiff") },
        { QStringLiteral("ga"), tr("GA (gradient ascent)") }, { QStringLiteral("salun"), tr("SalUn") } };
}

void SessionWorker::open(const QString& model, const QString& data, const QString& classifier)
{
    State& s = *m_state;
    try {
        Q_EMIT progress(tr("Opening the model and data set"), 0, 0);
        s.device = resolveDevice(chosenDeviceName().toStdString());
        const std::string modelPath
            = model.isEmpty() ? resourceFile(std::string("models/") + kBuiltinEdmModel).string() : model.toStdString();
        store::EdmModel loaded = store::loadEdmModel(modelPath, s.device);
        if (loaded.classCount() < 2)
            throw Error(modelPath + " is not class-conditional: class unlearning needs a model with class labels");
        const data::DatasetSpec spec = data::resolveDataset(data.isEmpty() ? "fashion-mnist" : data.toStdString());
        data::ImageSet train = data::loadDataset(spec, data::Split::Train);
        if (train.classCount() != loaded.classCount())
            throw Error("the data set has " + std::to_string(train.classCount()) + " classes, the model "
                + std::to_string(loaded.classCount()));
        if (train.channels() != loaded.channels() || train.height() != loaded.resolution())
            throw Error("the data set's images are " + std::to_string(train.channels()) + "×"
                + std::to_string(train.height()) + "×" + std::to_string(train.width()) + ", the model expects "
                + std::to_string(loaded.channels()) + "×" + std::to_string(loaded.resolution()) + "×"
                + std::to_string(loaded.resolution()));
        s.classifier.reset();
        s.real.reset();
        try {
            const std::string classifierPath = classifier.isEmpty()
                ? resourceFile(std::string("models/") + kBuiltinClassifier).string()
                : classifier.toStdString();
            auto loadedClassifier = models::loadClassifier(classifierPath, s.device);
            if (static_cast<int>(loadedClassifier.info.classes.size()) == loaded.classCount()) {
                Q_EMIT progress(tr("Measuring the real test images"), 0, 0);
                s.real
                    = eval::realFeatures(loadedClassifier.model, data::loadDataset(spec, data::Split::Test), s.device);
                s.classifier = std::move(loadedClassifier);
            } else {
                spdlog::warn("the classifier {} has {} classes, the model {}: measurements are off", classifierPath,
                    loadedClassifier.info.classes.size(), loaded.classCount());
            }
        } catch (const std::exception& e) {
            spdlog::warn("no classifier for measurements: {}", e.what());
        }
        OpenedModel info;
        info.modelPath = toQString(modelPath);
        info.modelDescription = tr("%1 — %2 parameters, %3 classes, %4×%4, %5")
                                    .arg(toQString(std::filesystem::path(modelPath).filename().string()))
                                    .arg(nn::parameterCount(*loaded.net))
                                    .arg(loaded.classCount())
                                    .arg(loaded.resolution())
                                    .arg(toQString(loaded.info.provenance.method));
        info.dataDescription = tr("%1 — %2 training images").arg(toQString(train.source)).arg(train.size());
        info.classes = classEntries(train);
        info.canMeasure = s.classifier.has_value();
        s.model = std::move(loaded);
        s.train = std::move(train);
        s.baseMeasurements.clear();
        s.basePreviews.clear();
        s.instruments = {};
        s.instrumentsKey.clear();
        s.session.reset();
        spdlog::info("opened {} ({} parameters) on {}", modelPath, nn::parameterCount(*s.model->net), s.device.str());
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT opened(info);
    } catch (const std::exception& e) {
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT openFailed(toQString(e.what()));
    }
}

void SessionWorker::ensureInstruments(const InstrumentPaths& paths)
{
    State& s = *m_state;
    if (!s.model)
        throw Error("open a model first");
    const std::string key = instrumentsKey(paths, s.model->sha256);
    if (key == s.instrumentsKey)
        return;
    s.instruments = {};
    s.instrumentsKey.clear();
    if (paths.inception.isEmpty() != paths.fidReference.isEmpty())
        throw Error("FID needs both the Inception detector and the reference statistics (.npz): choose both, or "
                    "neither");
    eval::LiteratureInstruments loaded;
    if (!paths.clip.isEmpty()) {
        Q_EMIT progress(tr("Loading the CLIP model"), 0, 0);
        loaded.clip = eval::makeZeroShotClip(
            models::clip::loadClip(paths.clip.toStdString(), s.device), io::zeroShotNames(s.model->info));
    }
    if (!paths.inception.isEmpty()) {
        Q_EMIT progress(tr("Loading the Inception detector and the FID reference"), 0, 0);
        loaded.fid = eval::loadFidInstrument(paths.inception.toStdString(), paths.fidReference.toStdString(),
            eval::fidResizeFromName(paths.fidResize.toStdString()), s.device);
    }
    s.instruments = std::move(loaded);
    s.instrumentsKey = key;
}

void SessionWorker::loadInstruments(const InstrumentPaths& paths)
{
    State& s = *m_state;
    try {
        ensureInstruments(paths);
        QStringList parts;
        if (const auto& clip = s.instruments.clip)
            parts << tr("zero-shot CLIP from %1 (\"%2\" … \"%3\")")
                         .arg(paths.clip, toQString(clip->prompts.front()), toQString(clip->prompts.back()));
        if (s.instruments.fid)
            parts << tr("FID with %1 against %2 (%3 resize)")
                         .arg(QFileInfo(paths.inception).fileName(), QFileInfo(paths.fidReference).fileName(),
                             paths.fidResize);
        spdlog::info("measuring instruments: {}", parts.join(QStringLiteral("; ")).toStdString());
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT instrumentsLoaded(parts.join(QStringLiteral("; ")));
    } catch (const std::exception& e) {
        Q_EMIT progress(QString(), 0, 0);
        Q_EMIT instrumentsFailed(toQString(e.what()));
    }
}

void SessionWorker::run(const RunRequest& request)
{
    State& s = *m_state;
    const auto control = beginRun();
    try {
        if (!s.model)
            throw Error("open a model first");
        unlearn::RunConfig config = runConfigOf(request.settings, request.preset);
        config.forgetClass = request.forgetClass;
        config.previewEvery = request.previewEvery;
        config.snapshotEvery = request.previewEvery > 0 ? request.previewEvery : config.snapshotEvery;
        config.previewSeeds.assign(request.previewSeeds.begin(), request.previewSeeds.end());
        config.evaluate = false; // Measured here, with progress and a way to stop.
        config.evalImagesPerClass = request.measureImagesPerClass;
        config.validate();
        const bool measure = request.measure && s.classifier.has_value();
        eval::LiteratureInstruments* instruments = nullptr;
        if (measure && !request.instruments.empty()) {
            ensureInstruments(request.instruments);
            instruments = &s.instruments;
        }

        auto session = std::make_unique<unlearn::UnlearnSession>(s.model->net, s.train, config, s.device);
        {
            const std::lock_guard lock(s.mutex);
            s.steps.clear();
            s.snapshots.clear();
            s.previews.clear();
            s.lastStep = 0;
            s.metricsBefore = nullptr;
            s.metricsAfter = nullptr;
            s.instrumentsUsed = instruments ? instruments->describe() : nlohmann::json();
            s.attack = nullptr;
            s.before = torch::Tensor();
            s.running = true;
            s.result = {};
        }
        s.snapshotDir = std::make_unique<QTemporaryDir>();
        s.request = request;
        s.startConfig = io::configToJson(config);
        s.started = io::utcNow();
        s.session = std::move(session);
        unlearn::UnlearnSession& run = *s.session;
        const int columns = static_cast<int>(config.previewSeeds.size());

        Q_EMIT runStarted(config.steps);
        // The base model's preview: drawn for an earlier run in this session, or in another (the same model, seeds,
        // sampler and device) and read from the measure cache; else drawn after the run, on the base weights the
        // session leaves as they were. The first step shows at once either way.
        const eval::MeasureCache cache;
        setTf32Allowed(config.allowTf32); // As the run sets it: the preview's key holds it on CUDA.
        const diffusion::ClassSamplingRequest previewRequest = run.previewRequest();
        const nlohmann::json previewCacheKey = eval::classImagesKey(s.model->sha256, previewRequest, s.device);
        const std::string previewKey = previewCacheKey.dump();
        const auto showBefore = [&](const torch::Tensor& images) {
            s.basePreviews.emplace(previewKey, images);
            {
                const std::lock_guard lock(s.mutex);
                s.before = images;
            }
            Q_EMIT beforeReady(imagesOf(images), columns);
        };
        bool beforeShown = false;
        if (const auto kept = s.basePreviews.find(previewKey); kept != s.basePreviews.end()) {
            showBefore(kept->second);
            beforeShown = true;
        } else if (const auto cached
            = eval::cachedClassImages(cache, s.model->sha256, s.model->net, previewRequest, s.device)) {
            spdlog::info("the base model's preview read from the measure cache {}",
                cache.imagesFileFor(previewCacheKey).string());
            showBefore(*cached);
            beforeShown = true;
        } else {
            Q_EMIT beforeAfterTheRun();
        }

        eval::GenerationEvalOptions options;
        options.imagesPerClass = config.evalImagesPerClass;
        options.forgottenClass = request.forgetClass;
        options.literature = instruments;
        const auto progressAs = [&](const QString& what) {
            return [&, what](std::int64_t done, std::int64_t total) {
                Q_EMIT progress(what, done, total);
                return !control->stopRequested();
            };
        };
        const auto measureModel
            = [&](models::EDMPrecond net, const QString& what) -> std::optional<eval::GenerationEval> {
            return eval::evaluateGeneration(net, s.classifier->model, *s.real, options, s.device, progressAs(what));
        };
        // The base model's figures when they are known without sampling: measured before in this session, or in
        // another (the same model, settings and classifier) and read from the measure cache on disk, whose key (the
        // CLI's) holds the instruments' SHA-256s, so that figures without them are not taken for figures with them.
        // Otherwise they are measured after the run, on the base weights the session left as they were: the curves
        // start at once either way.
        const std::tuple baseKey { config.evalImagesPerClass, request.forgetClass,
            instruments ? s.instrumentsKey : std::string() };
        const auto showBase = [&](const eval::GenerationEval& e) {
            s.baseMeasurements.emplace(baseKey, e);
            {
                const std::lock_guard lock(s.mutex);
                s.metricsBefore = eval::toJson(e, s.model->info.classes);
            }
            Q_EMIT measured(0, measurementOf(e));
        };
        bool baseShown = false;
        if (measure) {
            std::optional<eval::GenerationEval> known;
            const nlohmann::json cacheKey
                = eval::generationEvalKey(s.model->sha256, options, s.classifier->sha256, *s.real, s.device);
            if (const auto cached = s.baseMeasurements.find(baseKey); cached != s.baseMeasurements.end()) {
                known = cached->second;
            } else if (const auto figures = cache.read(cacheKey)) {
                known = eval::generationEvalFromJson(*figures);
                spdlog::info(
                    "the base model's figures read from the measure cache {}", cache.fileFor(cacheKey).string());
            }
            if (known) {
                showBase(*known);
                baseShown = true;
            }
        }

        const unlearn::RunResult result = runLoop(run, *control, columns);
        Q_EMIT progress(tr("Sampling the unlearned model's preview"), 0, 0);
        const torch::Tensor after = run.preview().value();
        keepPreview(result.steps, after);
        Q_EMIT previewReady(result.steps, imagesOf(after), columns);
        {
            const std::lock_guard lock(s.mutex);
            s.running = false;
            s.result = result;
        }
        if (!beforeShown && result.outcome != unlearn::RunOutcome::Failed) {
            // Drawn after a stop too, as the unlearned model's preview is: the before/after view needs both.
            const QString what = tr("Sampling the base model's preview");
            Q_EMIT progress(what, 0, 0);
            const auto drawn = eval::sampleClassesCached(cache, s.model->sha256, s.model->net, previewRequest, s.device,
                [&](std::int64_t done, std::int64_t total) {
                    Q_EMIT progress(what, done, total);
                    return true;
                });
            if (drawn)
                showBefore(*drawn);
        }
        if (measure && result.outcome == unlearn::RunOutcome::Finished && !baseShown) {
            const auto base = eval::evaluateGenerationCached(cache, s.model->sha256, s.model->net, *s.classifier,
                *s.real, options, s.device, progressAs(tr("Measuring the base model")));
            if (base) {
                showBase(base->eval);
                baseShown = true;
            }
        }
        if (measure && result.outcome == unlearn::RunOutcome::Finished && baseShown) {
            const auto e = measureModel(run.model(), tr("Measuring the unlearned model"));
            if (e) {
                {
                    const std::lock_guard lock(s.mutex);
                    s.metricsAfter = eval::toJson(*e, s.model->info.classes);
                }
                Q_EMIT measured(1, measurementOf(*e));
            }
        }
        endRun(result);
    } catch (const std::exception& e) {
        {
            const std::lock_guard lock(s.mutex);
            s.running = false;
            s.result.outcome = unlearn::RunOutcome::Failed;
            s.result.message = e.what();
        }
        endRun(QStringLiteral("failed"), toQString(e.what()), s.session ? s.session->stepsDone() : 0, 0.0);
    }
}

void SessionWorker::keepStep(const unlearn::StepReport& report)
{
    const std::lock_guard lock(m_state->mutex);
    m_state->steps.push_back(report);
}

void SessionWorker::keepSnapshot(qint64 step)
{
    // Each snapshot on disk, so any of them can be exported later.
    State& s = *m_state;
    const auto path = std::filesystem::path(s.snapshotDir->path().toStdString())
        / ("step-" + std::to_string(step) + ".safetensors");
    unlearn::RunResult sofar;
    sofar.steps = step;
    unlearn::writeEdmModel(path, s.session->model(),
        unlearn::unlearnedModelInfo(s.model->info, s.model->sha256, s.session->config(), sofar, kCommand));
    const std::lock_guard lock(s.mutex);
    s.snapshots[step] = path;
}

void SessionWorker::keepPreview(qint64 step, const at::Tensor& images)
{
    const std::lock_guard lock(m_state->mutex);
    m_state->previews[step] = images;
    m_state->lastStep = step;
}

void SessionWorker::exportRun(const QString& folder, qint64 step)
{
    State& s = *m_state;
    try {
        if (!s.session)
            throw Error("there is no run to export yet");
        unlearn::RunFiles files;
        std::vector<unlearn::StepReport> steps;
        models::EDMPrecond net = s.session->model();
        std::optional<store::EdmModel> snapshot;
        unlearn::RunResult result;
        const unlearn::RunConfig& config = s.session->config();
        {
            const std::lock_guard lock(s.mutex);
            steps = s.steps;
            files.before = s.before;
            result = s.result;
            if (step >= 0) {
                const auto it = s.snapshots.find(step);
                if (it == s.snapshots.end())
                    throw Error("no snapshot of step " + std::to_string(step) + " was kept");
                snapshot = store::loadEdmModel(it->second, torch::kCPU);
                net = snapshot->net;
                steps.resize(std::min<std::size_t>(steps.size(), static_cast<std::size_t>(step)));
            }
            result.steps = static_cast<std::int64_t>(steps.size());
            // The preview of the exported weights: the snapshot's step, or the latest for the current model.
            const auto preview = s.previews.find(step >= 0 ? step : s.lastStep);
            if (preview != s.previews.end())
                files.after = preview->second;
            const unlearn::RunRecord record { "class", s.startConfig, io::configToJson(config), s.model->path.string(),
                s.model->sha256, s.device.str(), kCommand, s.started };
            files.manifest = unlearn::runManifest(record, result);
            if (s.running)
                files.manifest["outcome"] = "running"; // Exported while paused.
            files.manifest.update({ { "forget_class", config.forgetClass },
                { "forget_class_name", s.model->info.classes.at(static_cast<std::size_t>(config.forgetClass)) },
                { "data", s.train.source }, { "exported", io::utcNow() }, { "exported_step", step },
                { "metrics_before", s.metricsBefore }, { "metrics_after", step >= 0 ? nullptr : s.metricsAfter } });
            if (!s.instrumentsUsed.is_null())
                files.manifest["instruments"] = s.instrumentsUsed;
            if (!s.attack.is_null() && step < 0) // The attack was on the current model, not on a snapshot.
                files.manifest["attack"] = s.attack;
        }
        files.steps = &steps;
        files.columns = static_cast<int>(s.request.previewSeeds.size());
        files.forgetClass = config.forgetClass;
        unlearn::writeRunFolder(folder.toStdString(), files, net,
            unlearn::unlearnedModelInfo(s.model->info, s.model->sha256, config, result, "lethe (GUI) export"));
        spdlog::info("exported the run to {}", folder.toStdString());
        Q_EMIT exported(folder);
    } catch (const std::exception& e) {
        Q_EMIT exportFailed(toQString(e.what()));
    }
}

void SessionWorker::attack(const AttackRequest& request)
{
    State& s = *m_state;
    nlohmann::json report = runAttack([&](const attack::AttackProgress& onEvent, attack::AttackOutcome& outcome) {
        if (!s.session || !s.model)
            throw Error("run unlearning first: the attack needs the run's model");
        if (!s.classifier)
            throw Error("the attack's judge is the classifier of the model's classes, and none was found: open the "
                        "model with a classifier");
        const int forgotten = s.session->config().forgetClass;
        attack::ClassAttackSetup setup;
        setup.forgotten = forgotten;
        setup.className = s.model->info.classes.at(static_cast<std::size_t>(forgotten));
        setup.seeds = firstSeeds(request.seeds);
        setup.targetSeeds = firstSeeds(request.targets);
        setup.sampler.steps = s.session->config().previewSamplerSteps;
        setup.attack.steps = request.steps;
        setup.attack.lr = request.lr;
        setup.attack.batch = std::min(16, std::max(1, request.targets));
        const attack::Judge judge = attack::classifierJudge(s.classifier->model, forgotten, setup.className, s.device);
        auto result = attack::runClassAttack(s.session->model(), s.model->net, setup, judge, s.device, onEvent);
        if (!result)
            return false;
        outcome = std::move(*result);
        return true;
    });
    const std::lock_guard lock(s.mutex);
    if (!report.is_null())
        s.attack = std::move(report);
}

} // namespace lethe::gui
