#include "run_worker.h"

#include "qt_conversions.h"

#include "core/attack/attack_run.h"
#include "core/enum_names.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/run_control.h"
#include "core/unlearn/unlearn_run.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <QCoreApplication>

#include <QSettings>
#include <algorithm>
#include <numeric>

namespace lethe::gui {

QString chosenDeviceName()
{
    const QVariant given
        = QCoreApplication::instance() ? QCoreApplication::instance()->property(kDeviceProperty) : QVariant();
    if (given.isValid())
        return given.toString();
    return QSettings().value(QStringLiteral("device"), QStringLiteral("auto")).toString();
}

/// Core's run events as the worker's signals (and its keep* hooks), on the run's thread.
class RunWorker::Observer : public unlearn::RunObserver {
public:
    Observer(RunWorker& worker, int columns)
        : m_worker(worker)
        , m_columns(columns)
    {
    }

    void onStep(const unlearn::StepReport& report) override
    {
        m_worker.keepStep(report);
        Q_EMIT m_worker.stepDone(stepPointOf(report));
    }
    void onSnapshot(std::int64_t step) override { m_worker.keepSnapshot(step); }
    void onPreview(std::int64_t step, const torch::Tensor& images) override
    {
        m_worker.keepPreview(step, images);
        Q_EMIT m_worker.progress(QString(), 0, 0);
        Q_EMIT m_worker.previewReady(step, imagesOf(images), m_columns);
    }
    void onRollback(std::int64_t failed, std::int64_t restored, const std::string& why) override
    {
        Q_EMIT m_worker.rolledBack(failed, restored, toQString(why));
    }
    void onProgress(const std::string& what, std::int64_t done, std::int64_t total) override
    {
        Q_EMIT m_worker.progress(what == "preview" ? RunWorker::previewPhase() : toQString(what), done, total);
    }

private:
    RunWorker& m_worker;
    int m_columns;
};

RunWorker::RunWorker()
{
    qRegisterMetaType<StepPoint>();
    qRegisterMetaType<QList<QImage>>();
    qRegisterMetaType<AttackRequest>();
    qRegisterMetaType<AttackPoint>();
    qRegisterMetaType<AttackSummary>();
}

RunWorker::~RunWorker() = default;

std::shared_ptr<unlearn::RunControl> RunWorker::control() const
{
    const std::lock_guard lock(m_controlMutex);
    return m_control;
}

QString RunWorker::previewPhase()
{
    return tr("Drawing the previews");
}

QList<QPair<QString, QString>> RunWorker::precisions()
{
    QList<QPair<QString, QString>> out;
    for (const auto& [precision, name] : enumNames(unlearn::Precision {})) {
        QString label;
        switch (precision) {
        case unlearn::Precision::Float32:
            label = tr("float32 (full precision)");
            break;
        case unlearn::Precision::BFloat16:
            label = tr("bfloat16 (autocast)");
            break;
        case unlearn::Precision::Float16:
            label = tr("float16 (autocast, CUDA only)");
            break;
        }
        out.append({ toQString(name), label });
    }
    return out;
}

std::shared_ptr<unlearn::RunControl> RunWorker::beginRun()
{
    auto control = std::make_shared<unlearn::RunControl>();
    const std::lock_guard lock(m_controlMutex);
    m_control = control;
    return control;
}

void RunWorker::endRun(const QString& outcome, const QString& message, qint64 steps, double seconds)
{
    {
        const std::lock_guard lock(m_controlMutex);
        m_control.reset();
    }
    Q_EMIT progress(QString(), 0, 0);
    Q_EMIT runEnded(outcome, message, steps, seconds);
}

void RunWorker::endRun(const unlearn::RunResult& result)
{
    endRun(toQString(unlearn::outcomeName(result.outcome)), toQString(result.message), result.steps, result.seconds);
}

unlearn::RunResult RunWorker::runLoop(unlearn::UnlearnRun& run, unlearn::RunControl& control, int previewColumns)
{
    Observer observer(*this, previewColumns);
    Q_EMIT progress(QString(), 0, 0);
    return run.run(observer, control);
}

std::vector<std::int64_t> RunWorker::firstSeeds(int count)
{
    std::vector<std::int64_t> list(static_cast<std::size_t>(std::max(1, count)));
    std::iota(list.begin(), list.end(), std::int64_t { 0 });
    return list;
}

void RunWorker::cancelAttack()
{
    m_cancelAttack = true;
}

nlohmann::json RunWorker::runAttack(const AttackJob& job)
{
    m_cancelAttack = false;
    try {
        const auto progress = [this](const attack::AttackProgressEvent& e) {
            Q_EMIT attackProgress(AttackPoint { toQString(e.phase), e.prompt, e.prompts, e.step, e.steps, e.loss });
            return !m_cancelAttack.load();
        };
        attack::AttackOutcome outcome;
        if (!job(progress, outcome)) {
            spdlog::info("the attack was cancelled");
            Q_EMIT attackEnded(QStringLiteral("cancelled"), QString(), AttackSummary());
            return nullptr;
        }
        nlohmann::json report = attack::toJson(outcome.report);
        spdlog::info("attack ({}): Pre-ASR {:.3f}, Post-ASR {:.3f} over {} prompts in {:.1f} s", outcome.report.judge,
            outcome.report.preAsr(), outcome.report.postAsr(), outcome.report.records.size(), outcome.report.seconds);
        Q_EMIT attackEnded(QStringLiteral("finished"), QString(), attackSummaryOf(outcome));
        return report;
    } catch (const std::exception& e) {
        spdlog::error("the attack failed: {}", e.what());
        Q_EMIT attackEnded(QStringLiteral("failed"), toQString(e.what()), AttackSummary());
        return nullptr;
    }
}

void RunWorker::keepStep(const unlearn::StepReport& /*report*/)
{
}

void RunWorker::keepSnapshot(qint64 /*step*/)
{
}

void RunWorker::keepPreview(qint64 /*step*/, const at::Tensor& /*images*/)
{
}

} // namespace lethe::gui
