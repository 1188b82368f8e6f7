#include "training_loop.h"

#include "adam.h"
#include "core/data/subsets.h"
#include "core/diffusion/denoiser.h"
#include "core/error.h"
#include "core/nn/state_dict.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace lethe::train {

TrainingRunState::TrainingRunState(std::string name, data::ImageSet images, torch::Device runDevice,
    std::filesystem::path outputPath, std::string commandLine, const TrainingLoopConfig& loop)
    : what(std::move(name))
    , train(std::move(images))
    , device(runDevice)
    , output(std::move(outputPath))
    , command(std::move(commandLine))
    , noise(diffusion::cpuGenerator(loop.seed))
{
    train.validate();
    if (loop.batch < 1 || loop.steps < 1)
        throw Error(what + " needs a batch of at least 1 and at least 1 step");
}

TrainingRunState::~TrainingRunState() = default;

EpochOrder::EpochOrder(std::int64_t imageCount, std::uint64_t seed)
    : m_count(imageCount)
    , m_seed(seed)
{
}

std::vector<std::int64_t> EpochOrder::batch(std::int64_t step, std::int64_t batchSize)
{
    std::vector<std::int64_t> indices;
    indices.reserve(static_cast<std::size_t>(batchSize));
    const std::int64_t first = step * batchSize;
    for (std::int64_t k = first; k < first + batchSize; ++k) {
        const std::int64_t epoch = k / m_count;
        if (epoch != m_epoch) {
            m_order = data::seededPermutation(m_count, m_seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
            m_epoch = epoch;
        }
        indices.push_back(m_order[static_cast<std::size_t>(k % m_count)]);
    }
    return indices;
}

double warmedUpLr(double lr, double imagesSeen, double rampupImages)
{
    return lr * std::min(imagesSeen / std::max(rampupImages, 1e-8), 1.0);
}

void updateEma(torch::nn::Module& net, torch::nn::Module& ema, std::int64_t step, std::int64_t batch,
    double halfLifeImages, double rampupRatio)
{
    torch::NoGradGuard noGrad;
    const double seen = static_cast<double>(step * batch);
    const double halfLife = std::min(halfLifeImages, seen * rampupRatio);
    const double beta = std::pow(0.5, static_cast<double>(batch) / std::max(halfLife, 1e-8));
    const auto from = nn::stateDict(net);
    const auto to = nn::stateDict(ema);
    for (std::size_t i = 0; i < from.size(); ++i)
        to[i].tensor.copy_(from[i].tensor.detach().lerp(to[i].tensor, beta));
}

void sanitizeGradients(torch::nn::Module& module)
{
    torch::NoGradGuard noGrad;
    for (auto& p : module.parameters())
        if (p.grad().defined())
            p.mutable_grad().nan_to_num_(0.0, 1e5, -1e5);
}

void copyState(torch::nn::Module& from, torch::nn::Module& to)
{
    torch::NoGradGuard noGrad;
    const auto source = nn::stateDict(from);
    const auto target = nn::stateDict(to);
    for (std::size_t i = 0; i < source.size(); ++i)
        target[i].tensor.copy_(source[i].tensor);
}

std::unique_ptr<Adam> prepareNetworks(torch::nn::Module& net, torch::nn::Module& ema, torch::Device device, double lr)
{
    net.to(device);
    ema.to(device);
    copyState(net, ema);
    ema.eval();
    std::vector<std::pair<std::string, torch::Tensor>> parameters;
    for (const auto& item : net.named_parameters())
        parameters.emplace_back(item.key(), item.value());
    return std::make_unique<Adam>(parameters, AdamOptions { lr, 0.9, 0.999, 1e-8, 0.0 });
}

std::filesystem::path trainingStatePath(const std::filesystem::path& output)
{
    std::filesystem::path path = output;
    path += ".state.safetensors";
    return path;
}

void TrainingRunState::writeState(torch::nn::Module& net, torch::nn::Module& ema, const io::Metadata& metadata)
{
    std::vector<io::NamedTensor> state;
    for (const auto& [prefix, module] :
        { std::pair<const char*, torch::nn::Module*> { "net.", &net }, { "ema.", &ema } })
        for (auto& t : nn::stateDict(*module))
            state.push_back({ prefix + t.name, t.tensor });
    for (auto& t : adam->state())
        state.push_back(std::move(t));
    state.push_back({ "train.step", torch::tensor({ step }, torch::kInt64) });
    state.push_back({ "train.wall_seconds", torch::tensor({ wallSeconds }, torch::kFloat64) });
    state.push_back({ "train.noise_rng", noise.get_state() });
    io::writeSafetensors(trainingStatePath(output), state, metadata);
    checkpointStep = step;
}

void TrainingRunState::readState(const io::SafetensorsFile& file, torch::nn::Module& net, torch::nn::Module& ema)
{
    torch::NoGradGuard noGrad;
    for (const auto& [prefix, module] :
        { std::pair<const char*, torch::nn::Module*> { "net.", &net }, { "ema.", &ema } })
        for (const auto& [name, tensor] : nn::stateDict(*module)) {
            const torch::Tensor saved = file.tensor(prefix + name);
            if (saved.sizes() != tensor.sizes())
                throw FormatError(file.path().string(), "tensor '" + (prefix + name) + "'",
                    "expected shape " + c10::str(tensor.sizes()) + ", found " + c10::str(saved.sizes()));
            tensor.copy_(saved);
        }
    adam->loadState(file);
    step = file.tensor("train.step").item<std::int64_t>();
    checkpointStep = step;
    wallSeconds = file.tensor("train.wall_seconds").item<double>();
    noise.set_state(file.tensor("train.noise_rng"));
    spdlog::info("resumed from {} at step {}", file.path().string(), step);
}

void TrainingRunState::runSteps(const TrainingLoopConfig& loop, torch::nn::Module& net, torch::nn::Module& ema,
    const BatchLoss& batchLoss, const std::function<void()>& checkpoint, const PretrainObserver& observer,
    const std::atomic<bool>* cancel)
{
    const std::int64_t batch = loop.batch;
    net.train();
    EpochOrder order(train.size(), loop.seed);
    StepReporter reporter(what, step, loop.steps, loop.checkpointEvery, batch, wallSeconds);

    while (step < loop.steps) {
        if (cancel && cancel->load())
            break;
        torch::manual_seed(loop.seed + static_cast<std::uint64_t>(step));
        const std::vector<std::int64_t> indices = order.batch(step, batch);
        const double lr
            = warmedUpLr(loop.lr, static_cast<double>(step * batch), static_cast<double>(loop.lrRampupImages));
        adam->setLr(lr);
        adam->zeroGrad();
        const torch::Tensor loss = batchLoss(indices);
        loss.backward();
        sanitizeGradients(net);
        adam->step();
        ++step;
        // EMA as in EDM: half-life grows with the images seen, capped at the configured value.
        updateEma(net, ema, step, batch, loop.emaHalfLifeImages, loop.emaRampupRatio);

        const PretrainProgress progress = reporter.stepDone(step, loss.item<double>(), lr);
        if (progress.checkpointWritten)
            checkpoint();
        if (observer)
            observer(progress);
    }
    if (step != checkpointStep)
        checkpoint();
}

LossWindow::LossWindow(std::size_t window)
    : m_window(window)
{
}

void LossWindow::add(double loss)
{
    m_recent.push_back(loss);
    m_sum += loss;
    if (m_recent.size() > m_window) {
        m_sum -= m_recent.front();
        m_recent.pop_front();
    }
}

double LossWindow::mean() const
{
    return m_recent.empty() ? 0.0 : m_sum / static_cast<double>(m_recent.size());
}

SessionClock::SessionClock(std::int64_t firstStep, double& totalWallSeconds)
    : m_start(std::chrono::steady_clock::now())
    , m_last(m_start)
    , m_firstStep(firstStep)
    , m_total(totalWallSeconds)
{
}

double SessionClock::tick()
{
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - m_last).count();
    m_total += seconds;
    m_last = now;
    return seconds;
}

double SessionClock::etaSeconds(std::int64_t step, std::int64_t stepsLeft) const
{
    const double session = std::chrono::duration<double>(m_last - m_start).count();
    const std::int64_t done = step - m_firstStep;
    return done > 0 ? session / static_cast<double>(done) * static_cast<double>(stepsLeft) : 0.0;
}

StepReporter::StepReporter(std::string what, std::int64_t firstStep, std::int64_t totalSteps,
    std::int64_t checkpointEvery, std::int64_t batch, double& totalWallSeconds)
    : m_what(std::move(what))
    , m_totalSteps(totalSteps)
    , m_checkpointEvery(checkpointEvery)
    , m_batch(batch)
    , m_clock(firstStep, totalWallSeconds)
{
}

PretrainProgress StepReporter::stepDone(std::int64_t step, double loss, double lr)
{
    if (!std::isfinite(loss))
        throw Error(m_what + " diverged at step " + std::to_string(step) + " (loss " + std::to_string(loss)
            + "); lower --lr and resume from the last checkpoint");
    m_recent.add(loss);
    const double stepSeconds = m_clock.tick();
    PretrainProgress progress;
    progress.step = step;
    progress.totalSteps = m_totalSteps;
    progress.loss = loss;
    progress.averageLoss = m_recent.mean();
    progress.lr = lr;
    progress.imagesPerSecond = static_cast<double>(m_batch) / std::max(stepSeconds, 1e-9);
    // ETA from this session's average step time (earlier sessions may have run on other hardware).
    progress.etaSeconds = m_clock.etaSeconds(step, m_totalSteps - step);
    progress.checkpointWritten = step == m_totalSteps || (m_checkpointEvery > 0 && step % m_checkpointEvery == 0);
    return progress;
}

} // namespace lethe::train
