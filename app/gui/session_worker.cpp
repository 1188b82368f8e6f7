#include "session_worker.h"

#include "qt_conversions.h"

#include "core/data/datasets.h"
#include "core/error.h"
#include "core/eval/generation_eval.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/nn/state_dict.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_control.h"
#include "core/unlearn/run_record.h"
#include "core/unlearn/session.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <QCoreApplication>
#include <QSettings>
#include <QTemporaryDir>

#include <map>
#include <optional>

namespace lethe::gui {

namespace {

QString q(const std::string& text)
{
    return QString::fromStdString(text);
}

widgets::RunSettings settingsOf(const unlearn::RunConfig& c)
{
    widgets::RunSettings s;
    s.method = q(unlearn::methodName(c.method));
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

widgets::Measurement measurementOf(const eval::GenerationEval& e)
{
    widgets::Measurement m;
    for (const double a : e.unlearning->classes.accuracy)
        m.classAccuracy.append(a);
    m.ua = e.unlearning->ua;
    m.ra = e.unlearning->ra;
    m.fd = e.frechet;
    m.kid = e.kid.mean;
    return m;
}

} // namespace

struct SessionWorker::State {
    torch::Device device { torch::kCPU };
    std::optional<store::EdmModel> model;
    data::ImageSet train;
    std::optional<models::LoadedClassifier> classifier;
    std::optional<eval::RealFeatures> real;
    /// Measurements of the opened (base) model by (images per class, forgotten class): a second run on the same
    /// class reuses them instead of sampling the base model again. Cleared when another model opens.
    std::map<std::pair<std::int64_t, int>, eval::GenerationEval> baseMeasurements;

    // The current (or last) run, kept for export.
    std::unique_ptr<unlearn::UnlearnSession> session;
    int forgetClass = -1;
    RunRequest request;
    std::mutex mutex; ///< Guards the fields below, which the run thread writes and an export reads.
    std::vector<unlearn::StepReport> steps;
    torch::Tensor before;
    std::map<std::int64_t, std::filesystem::path> snapshots;
    std::map<std::int64_t, torch::Tensor> previews; ///< Preview images by step (the last one: the current model).
    std::int64_t lastStep = 0;
    nlohmann::json metricsBefore;
    nlohmann::json metricsAfter;
    std::string outcome = "running";
    double seconds = 0.0;
    std::unique_ptr<QTemporaryDir> snapshotDir;
};

SessionWorker::SessionWorker()
    : m_state(std::make_unique<State>())
{
    qRegisterMetaType<StepPoint>();
    qRegisterMetaType<OpenedModel>();
    qRegisterMetaType<RunRequest>();
    qRegisterMetaType<widgets::Measurement>();
    qRegisterMetaType<QList<QImage>>();
}

SessionWorker::~SessionWorker() = default;

std::shared_ptr<unlearn::RunControl> SessionWorker::control() const
{
    const std::lock_guard lock(m_controlMutex);
    return m_control;
}

QList<widgets::RunPreset> SessionWorker::presets()
{
    QList<widgets::RunPreset> out;
    for (const auto& name : unlearn::runPresetNames())
        out.append({ q(name), settingsOf(unlearn::runPreset(name)) });
    return out;
}

QList<QPair<QString, QString>> SessionWorker::methods()
{
    return { { QStringLiteral("rgd"), tr("RGD (restricted gradient, diverse remain set)") },
        { QStringLiteral("rg"), tr("RG (restricted gradient)") }, { QStringLiteral("graddiff"), tr("GradDiff") },
        { QStringLiteral("ga"), tr("GA (gradient ascent)") }, { QStringLiteral("salun"), tr("SalUn") } };
}

QString chosenDeviceName()
{
    const QVariant given
        = QCoreApplication::instance() ? QCoreApplication::instance()->property(kDeviceProperty) : QVariant();
    if (given.isValid())
        return given.toString();
    return QSettings().value(QStringLiteral("device"), QStringLiteral("auto")).toString();
}

void SessionWorker::open(const QString& model, const QString& data, const QString& classifier)
{
    State& s = *m_state;
    try {
        Q_EMIT busy(tr("Opening the model and data set"), 0, 0);
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
                Q_EMIT busy(tr("Measuring the real test images"), 0, 0);
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
        info.modelPath = q(modelPath);
        info.modelDescription = tr("%1 — %2 parameters, %3 classes, %4×%4, %5")
                                    .arg(q(std::filesystem::path(modelPath).filename().string()))
                                    .arg(nn::parameterCount(*loaded.net))
                                    .arg(loaded.classCount())
                                    .arg(loaded.resolution())
                                    .arg(q(loaded.info.provenance.method));
        info.dataDescription = tr("%1 — %2 training images").arg(q(train.source)).arg(train.size());
        info.classes = classEntries(train);
        info.canMeasure = s.classifier.has_value();
        s.model = std::move(loaded);
        s.train = std::move(train);
        s.baseMeasurements.clear();
        s.session.reset();
        spdlog::info("opened {} ({} parameters) on {}", modelPath, nn::parameterCount(*s.model->net), s.device.str());
        Q_EMIT opened(info);
    } catch (const std::exception& e) {
        Q_EMIT openFailed(q(e.what()));
    }
}

void SessionWorker::run(const RunRequest& request)
{
    State& s = *m_state;
    if (!s.model) {
        Q_EMIT runFailed(tr("Open a model first."));
        return;
    }
    auto control = std::make_shared<unlearn::RunControl>();
    {
        const std::lock_guard lock(m_controlMutex);
        m_control = control;
    }
    try {
        unlearn::RunConfig config = unlearn::runPreset("cpu-fast");
        const widgets::RunSettings& w = request.settings;
        config.method = unlearn::methodFromName(w.method.toStdString());
        config.alpha = w.alpha;
        config.lambda = w.lambda;
        config.lr = w.lr;
        config.steps = w.steps;
        config.forgetBatch = w.forgetBatch;
        config.remainPerClass = w.remainPerClass;
        config.remainBatch = w.remainBatch;
        config.seed = w.seed;
        config.previewEvery = request.previewEvery;
        config.snapshotEvery = request.previewEvery > 0 ? request.previewEvery : config.snapshotEvery;
        config.previewSeeds.assign(request.previewSeeds.begin(), request.previewSeeds.end());
        config.evaluate = false; // Measured here, with progress and a way to stop.
        config.evalImagesPerClass = request.measureImagesPerClass;
        config.validate();
        const bool measure = request.measure && s.classifier.has_value();

        auto session
            = std::make_unique<unlearn::UnlearnSession>(s.model->net, s.train, request.forgetClass, config, s.device);
        {
            const std::lock_guard lock(s.mutex);
            s.steps.clear();
            s.snapshots.clear();
            s.previews.clear();
            s.lastStep = 0;
            s.metricsBefore = nullptr;
            s.metricsAfter = nullptr;
            s.outcome = "running";
            s.seconds = 0.0;
        }
        s.snapshotDir = std::make_unique<QTemporaryDir>();
        s.forgetClass = request.forgetClass;
        s.request = request;
        s.session = std::move(session);
        unlearn::UnlearnSession& run = *s.session;
        const int columns = static_cast<int>(config.previewSeeds.size());

        Q_EMIT runStarted(config.steps);
        Q_EMIT busy(tr("Sampling the base model's preview"), 0, 0);
        const torch::Tensor before = run.preview();
        {
            const std::lock_guard lock(s.mutex);
            s.before = before;
        }
        Q_EMIT beforeReady(imagesOf(before), columns);

        const auto measureModel
            = [&](models::EDMPrecond net, const QString& what) -> std::optional<eval::GenerationEval> {
            eval::GenerationEvalOptions options;
            options.imagesPerClass = config.evalImagesPerClass;
            options.forgottenClass = request.forgetClass;
            return eval::evaluateGeneration(
                net, s.classifier->model, *s.real, options, s.device, [&](std::int64_t done, std::int64_t total) {
                    Q_EMIT busy(what, static_cast<int>(done), static_cast<int>(total));
                    return !control->stopRequested();
                });
        };
        if (measure) {
            const std::pair key { config.evalImagesPerClass, request.forgetClass };
            auto cached = s.baseMeasurements.find(key);
            std::optional<eval::GenerationEval> e;
            if (cached != s.baseMeasurements.end())
                e = cached->second;
            else if ((e = measureModel(s.model->net, tr("Measuring the base model"))))
                s.baseMeasurements.emplace(key, *e);
            if (!e) {
                const std::lock_guard lock(s.mutex);
                s.outcome = "stopped";
                Q_EMIT runEnded(QStringLiteral("stopped"), tr("Stopped while measuring the base model."), 0, 0.0);
                return;
            }
            {
                const std::lock_guard lock(s.mutex);
                s.metricsBefore = eval::toJson(*e, s.model->info.classes);
            }
            Q_EMIT measured(0, measurementOf(*e));
        }

        struct Observer : unlearn::UnlearnObserver {
            SessionWorker* worker;
            State* state;
            void onStep(const unlearn::StepReport& r) override
            {
                {
                    const std::lock_guard lock(state->mutex);
                    state->steps.push_back(r);
                }
                Q_EMIT worker->stepDone(stepPointOf(r));
            }
            void onPreview(std::int64_t step, const torch::Tensor& images) override
            {
                {
                    const std::lock_guard lock(state->mutex);
                    state->previews[step] = images;
                    state->lastStep = step;
                }
                Q_EMIT worker->previewReady(step, imagesOf(images));
            }
            void onSnapshot(std::int64_t step) override
            {
                // Each snapshot on disk, so any of them can be exported later.
                const auto path = std::filesystem::path(state->snapshotDir->path().toStdString())
                    / ("step-" + std::to_string(step) + ".safetensors");
                unlearn::RunResult sofar;
                sofar.steps = step;
                unlearn::writeEdmModel(path, state->session->model(),
                    unlearn::unlearnedModelInfo(state->model->info, state->model->sha256, state->session->config(),
                        state->forgetClass, sofar, "lethe (GUI)"));
                const std::lock_guard lock(state->mutex);
                state->snapshots[step] = path;
            }
            void onRollback(std::int64_t failed, std::int64_t restored, const std::string& why) override
            {
                Q_EMIT worker->rolledBack(failed, restored, q(why));
            }
        } observer;
        observer.worker = this;
        observer.state = &s;
        Q_EMIT busy(QString(), 0, 0);
        const unlearn::RunResult result = run.run(observer, *control);
        const char* outcome = result.outcome == unlearn::RunOutcome::Finished ? "finished"
            : result.outcome == unlearn::RunOutcome::Stopped                  ? "stopped"
                                                                              : "failed";
        const torch::Tensor after = run.preview();
        Q_EMIT previewReady(result.steps, imagesOf(after));
        {
            const std::lock_guard lock(s.mutex);
            s.outcome = outcome;
            s.seconds = result.seconds;
            s.previews[result.steps] = after;
            s.lastStep = result.steps;
        }
        if (measure && result.outcome == unlearn::RunOutcome::Finished) {
            const auto e = measureModel(run.model(), tr("Measuring the unlearned model"));
            if (e) {
                {
                    const std::lock_guard lock(s.mutex);
                    s.metricsAfter = eval::toJson(*e, s.model->info.classes);
                }
                Q_EMIT measured(1, measurementOf(*e));
            }
        }
        Q_EMIT busy(QString(), 0, 0);
        Q_EMIT runEnded(q(outcome), q(result.message), result.steps, result.seconds);
    } catch (const std::exception& e) {
        Q_EMIT runFailed(q(e.what()));
    }
    const std::lock_guard lock(m_controlMutex);
    m_control.reset();
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
        {
            const std::lock_guard lock(s.mutex);
            steps = s.steps;
            files.before = s.before;
            if (step >= 0) {
                const auto it = s.snapshots.find(step);
                if (it == s.snapshots.end())
                    throw Error("no snapshot of step " + std::to_string(step) + " was kept");
                snapshot = store::loadEdmModel(it->second, torch::kCPU);
                net = snapshot->net;
                steps.resize(std::min<std::size_t>(steps.size(), static_cast<std::size_t>(step)));
            }
            // The preview of the exported weights: the snapshot's step, or the latest for the current model.
            const auto preview = s.previews.find(step >= 0 ? step : s.lastStep);
            if (preview != s.previews.end())
                files.after = preview->second;
            files.manifest = { { "config", unlearn::toJson(s.session->config()) }, { "forget_class", s.forgetClass },
                { "forget_class_name", s.model->info.classes.at(static_cast<std::size_t>(s.forgetClass)) },
                { "model", s.model->path.string() }, { "model_sha256", s.model->sha256 }, { "data", s.train.source },
                { "outcome", s.outcome }, { "steps", steps.size() }, { "seconds", s.seconds },
                { "exported", store::utcNow() }, { "exported_step", step }, { "metrics_before", s.metricsBefore },
                { "metrics_after", step >= 0 ? nullptr : s.metricsAfter } };
        }
        files.steps = &steps;
        files.columns = static_cast<int>(s.request.previewSeeds.size());
        files.forgetClass = s.forgetClass;
        unlearn::RunResult sofar;
        sofar.steps = static_cast<std::int64_t>(steps.size());
        sofar.seconds = s.seconds;
        unlearn::writeRunFolder(folder.toStdString(), files, net,
            unlearn::unlearnedModelInfo(
                s.model->info, s.model->sha256, s.session->config(), s.forgetClass, sofar, "lethe (GUI) export"));
        spdlog::info("exported the run to {}", folder.toStdString());
        Q_EMIT exported(folder);
    } catch (const std::exception& e) {
        Q_EMIT exportFailed(q(e.what()));
    }
}

} // namespace lethe::gui
