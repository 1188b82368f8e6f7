#include "unlearn_run.h"

#include "core/error.h"
#include "core/nn/autocast.h"
#include "core/runtime.h"
#include "core/train/adam.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>

namespace lethe::unlearn {

namespace {

using Clock = std::chrono::steady_clock;

/// The metadata key of a checkpoint's live α / λ / lr.
constexpr const char* kLiveKey = "lethe.live";

/// Most rollbacks one run may take before it gives up (NanPolicy::HalveLr).
constexpr int kMaxRollbacks = 8;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

torch::ScalarType precisionType(Precision precision)
{
    switch (precision) {
    case Precision::BFloat16:
        return torch::kBFloat16;
    case Precision::Float16:
        return torch::kFloat16;
    case Precision::Float32:
        break;
    }
    return torch::kFloat32;
}

bool allFinite(const std::vector<std::pair<std::string, torch::Tensor>>& parameters)
{
    for (const auto& [name, p] : parameters)
        if (!torch::isfinite(p).all().item<bool>())
            return false;
    return true;
}

} // namespace

const char* outcomeName(RunOutcome outcome)
{
    static const char* const names[] = { "finished", "stopped", "failed" };
    return names[static_cast<int>(outcome)];
}

void warnIgnoredChange(const std::string& why)
{
    spdlog::warn("live change ignored: {}", why);
}

UnlearnRun::UnlearnRun() = default;

UnlearnRun::~UnlearnRun() = default;

std::vector<std::string> UnlearnRun::trainableNames() const
{
    std::vector<std::string> names;
    for (const auto& item : *const_cast<UnlearnRun*>(this)->trainState().trainable)
        names.push_back(item.first);
    return names;
}

void UnlearnRun::zeroGrad()
{
    for (auto& [name, p] : *trainState().trainable)
        if (p.grad().defined())
            p.mutable_grad().zero_();
}

void UnlearnRun::takeSnapshot(std::int64_t step)
{
    const TrainState state = trainState();
    torch::NoGradGuard noGrad;
    // Kept in the computer's memory, not the device's: a GPU's memory goes to training.
    if (m_snapshot.weights.empty())
        for (const auto& [name, p] : *state.trainable)
            m_snapshot.weights.push_back(torch::empty(p.sizes(), p.options().device(torch::kCPU)));
    for (std::size_t i = 0; i < state.trainable->size(); ++i)
        m_snapshot.weights[i].copy_((*state.trainable)[i].second);
    if (state.adam) {
        m_snapshot.adam.clear();
        for (const auto& entry : state.adam->state())
            m_snapshot.adam.push_back(
                { entry.name, entry.tensor.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true) });
    }
    m_snapshot.noise = state.noise->get_state();
    m_snapshot.step = step;
    m_snapshot.seconds = m_secondsBefore + secondsSince(m_runStarted);
}

void UnlearnRun::restoreSnapshot()
{
    if (m_snapshot.weights.empty())
        return;
    const TrainState state = trainState();
    {
        torch::NoGradGuard noGrad;
        for (std::size_t i = 0; i < state.trainable->size(); ++i)
            (*state.trainable)[i].second.copy_(m_snapshot.weights[i]);
        if (state.adam)
            state.adam->loadState(m_snapshot.adam);
    }
    zeroGrad();
    m_step = m_snapshot.step;
}

void UnlearnRun::writeSnapshotFile(const std::filesystem::path& path, const std::string& what,
    const std::string& prefix, const std::string& identityKey, const nlohmann::json& identity,
    const LiveChanges& live) const
{
    if (m_snapshot.step < 0)
        throw Error(what + ": no snapshot taken yet");
    const std::vector<std::string> names = trainableNames();
    std::vector<io::NamedTensor> tensors;
    for (std::size_t i = 0; i < names.size(); ++i)
        tensors.push_back({ prefix + names[i], m_snapshot.weights[i] });
    for (const auto& entry : m_snapshot.adam)
        tensors.push_back(entry);
    tensors.push_back({ "run.step", torch::tensor({ m_snapshot.step }, torch::kInt64) });
    tensors.push_back({ "run.noise_rng", m_snapshot.noise });
    tensors.push_back({ "run.seconds", torch::tensor({ m_snapshot.seconds }, torch::kFloat64) });
    nlohmann::json liveJson = nlohmann::json::object();
    if (live.alpha)
        liveJson["alpha"] = *live.alpha;
    if (live.lambda)
        liveJson["lambda"] = *live.lambda;
    if (live.lr)
        liveJson["lr"] = *live.lr;
    io::writeSafetensors(path, tensors, { { identityKey, identity.dump() }, { kLiveKey, liveJson.dump() } });
}

LiveChanges UnlearnRun::checkedCheckpointLive(const io::SafetensorsFile& file, const std::string& what,
    const std::string& identityKey, const nlohmann::json& ours, const nlohmann::json& defaults)
{
    const std::string path = file.path().string();
    const auto identity = file.metadata().find(identityKey);
    const auto live = file.metadata().find(kLiveKey);
    if (identity == file.metadata().end() || live == file.metadata().end())
        throw FormatError(path, "__metadata__", "not a Lethe " + what);
    const nlohmann::json saved = nlohmann::json::parse(identity->second, nullptr, false);
    for (const auto& [key, value] : ours.items()) {
        const nlohmann::json theirs = saved.is_object()
            ? saved.value(key, defaults.contains(key) ? defaults[key] : nlohmann::json())
            : nlohmann::json();
        if (theirs != value)
            throw FormatError(path, "__metadata__ '" + key + "'",
                "the checkpoint's run used " + (saved.is_object() ? theirs.dump() : "?") + ", this run "
                    + value.dump());
    }
    const nlohmann::json changes = nlohmann::json::parse(live->second, nullptr, false);
    if (!changes.is_object())
        throw FormatError(path, "__metadata__ '" + std::string(kLiveKey) + "'", "not a JSON object");
    const auto value = [&changes](const char* key) {
        return changes.contains(key) ? std::optional(changes[key].get<double>()) : std::nullopt;
    };
    return { value("alpha"), value("lambda"), value("lr") };
}

std::int64_t UnlearnRun::loadSnapshotFile(const io::SafetensorsFile& file, const std::string& prefix)
{
    const TrainState state = trainState();
    const std::string path = file.path().string();
    torch::NoGradGuard noGrad;
    for (auto& [name, tensor] : *state.trainable) {
        const torch::Tensor value = file.tensor(prefix + name);
        if (value.sizes() != tensor.sizes())
            throw FormatError(path, "tensor '" + prefix + name + "'",
                "expected shape " + c10::str(tensor.sizes()) + ", found " + c10::str(value.sizes()));
        tensor.copy_(value);
    }
    if (state.adam)
        state.adam->loadState(file);
    state.noise->set_state(file.tensor("run.noise_rng"));
    m_secondsBefore = file.contains("run.seconds") ? file.tensor("run.seconds").item<double>() : 0.0;
    const auto step = file.tensor("run.step").item<std::int64_t>();
    if (step < 0 || step > schedule().steps)
        throw FormatError(path, "tensor 'run.step'",
            "step " + std::to_string(step) + " is outside 0…" + std::to_string(schedule().steps));
    m_step = step;
    return step;
}

void UnlearnRun::snapshotCurrentStep()
{
    takeSnapshot(m_step);
}

RunResult UnlearnRun::run(RunObserver& observer, RunControl& control)
{
    RunResult result;
    const auto started = Clock::now();
    m_runStarted = started;
    const auto previewProgress = [&](std::int64_t done, std::int64_t total) {
        observer.onProgress("preview", done, total);
        return !control.stopRequested();
    };
    try {
        setTf32Allowed(schedule().allowTf32);
        const torch::Device device = trainState().trainable->empty() ? torch::Device(torch::kCPU)
                                                                     : trainState().trainable->front().second.device();
        const torch::ScalarType autocastType = precisionType(schedule().precision);
        {
            const nn::AutocastGuard check(device, autocastType); // Refuses a precision the device lacks, at once.
        }
        prepare();
        takeSnapshot(m_step);
        while (m_step < schedule().steps) {
            if (control.stopRequested() || !control.waitWhilePaused()) {
                result.outcome = RunOutcome::Stopped;
                break;
            }
            applyLive(control.takeChanges());
            const auto stepStart = Clock::now();
            std::string problem;
            StepReport report;
            {
                const nn::AutocastGuard autocast(device, autocastType);
                report = takeStep(m_step, problem);
            }
            if (problem.empty() && !allFinite(*trainState().trainable))
                problem = "non-finite weights after the update";
            if (!problem.empty()) {
                const std::int64_t failed = m_step + 1;
                restoreSnapshot();
                ++result.rollbacks;
                result.message = problem + " at step " + std::to_string(failed) + "; weights restored to step "
                    + std::to_string(m_step);
                spdlog::warn("{}", result.message);
                observer.onRollback(failed, m_step, problem);
                if (schedule().onNan == NanPolicy::Stop || result.rollbacks > kMaxRollbacks) {
                    result.outcome = RunOutcome::Failed;
                    break;
                }
                LiveChanges halved;
                halved.lr = report.lr / 2;
                applyLive(halved);
                continue;
            }
            ++m_step;
            report.step = m_step;
            report.totalSteps = schedule().steps;
            report.seconds = secondsSince(stepStart);
            result.truncatedSteps += report.truncated ? 1 : 0;
            result.projectedSteps += report.projected ? 1 : 0;
            observer.onStep(report);

            const Schedule plan = schedule();
            if (m_step % plan.snapshotEvery == 0) {
                takeSnapshot(m_step);
                observer.onSnapshot(m_step);
            }
            if (plan.previewEvery > 0 && m_step % plan.previewEvery == 0 && m_step < plan.steps && hasPreview()
                && !control.stopRequested()) {
                const std::optional<torch::Tensor> images = preview(previewProgress);
                if (images)
                    observer.onPreview(m_step, *images);
            }
        }
        result.steps = m_step;
        result.seconds = m_secondsBefore + secondsSince(started);
        finishRun();
        if (result.outcome == RunOutcome::Finished)
            evaluate(result, observer, control);
    } catch (const std::exception& e) {
        result.outcome = RunOutcome::Failed;
        result.message = e.what();
        result.seconds = m_secondsBefore + secondsSince(started);
        try {
            restoreSnapshot();
        } catch (const std::exception&) {
            // The failure report below matters more than a second error.
        }
        result.steps = m_step;
    }
    try {
        finishRun();
    } catch (const std::exception& e) {
        spdlog::warn("after the run: {}", e.what());
    }
    if (result.outcome == RunOutcome::Failed)
        observer.onFailed(result.message);
    else
        observer.onFinished(result);
    return result;
}

} // namespace lethe::unlearn
