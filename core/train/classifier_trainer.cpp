#include "classifier_trainer.h"

#include "core/data/subsets.h"
#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/io/config_json.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <type_traits>

namespace lethe::train {

const std::vector<std::pair<ClassifierOptimizer, std::string>>& enumNames(ClassifierOptimizer)
{
    static const std::vector<std::pair<ClassifierOptimizer, std::string>> table
        = { { ClassifierOptimizer::Sgd, "sgd" }, { ClassifierOptimizer::Adam, "adam" } };
    return table;
}

const std::vector<std::pair<ClassifierSchedule, std::string>>& enumNames(ClassifierSchedule)
{
    static const std::vector<std::pair<ClassifierSchedule, std::string>> table
        = { { ClassifierSchedule::Cosine, "cosine" }, { ClassifierSchedule::Step, "step" } };
    return table;
}

std::string optimizerName(ClassifierOptimizer optimizer)
{
    return io::enumName(optimizer);
}

std::string scheduleName(ClassifierSchedule schedule)
{
    return io::enumName(schedule);
}

namespace {
constexpr double kPi = 3.14159265358979323846;
} // namespace

double scheduledLearningRate(
    const ClassifierTrainConfig& config, std::int64_t step, std::int64_t totalSteps, std::int64_t stepsPerEpoch)
{
    if (config.schedule == ClassifierSchedule::Step) {
        const std::int64_t epoch = stepsPerEpoch > 0 ? step / stepsPerEpoch : 0;
        return config.learningRate * std::pow(config.stepGamma, static_cast<double>(epoch / config.stepEpochs));
    }
    const double progress = totalSteps > 0 ? static_cast<double>(step) / static_cast<double>(totalSteps) : 0.0;
    return config.learningRate * 0.5 * (1.0 + std::cos(kPi * progress));
}

namespace {

void validate(const data::ImageSet& train, const data::ImageSet& test, const models::ResNetClassifierOptions& options,
    const ClassifierTrainConfig& c)
{
    train.validate();
    if (train.size() == 0)
        throw Error("classifier training: the training set is empty");
    if (train.channels() != options.inChannels())
        throw Error("classifier training: the classifier takes " + std::to_string(options.inChannels())
            + "-channel images, the training set has " + std::to_string(train.channels()));
    if (train.classCount() != options.numClasses())
        throw Error("classifier training: the classifier has " + std::to_string(options.numClasses())
            + " classes, the training set " + std::to_string(train.classCount()));
    if (test.images.defined() && test.size() > 0) {
        test.validate();
        if (test.channels() != train.channels() || test.classCount() != train.classCount())
            throw Error("classifier training: the test set (" + std::to_string(test.channels()) + " channels, "
                + std::to_string(test.classCount()) + " classes) does not match the training set ("
                + std::to_string(train.channels()) + " channels, " + std::to_string(train.classCount()) + " classes)");
    }
    auto require = [](bool ok, const std::string& what) {
        if (!ok)
            throw Error("classifier training config: " + what);
    };
    require(c.epochs >= 1, "epochs must be at least 1, found " + std::to_string(c.epochs));
    require(c.batchSize >= 1, "batch size must be at least 1, found " + std::to_string(c.batchSize));
    require(c.evalBatchSize >= 1, "evaluation batch size must be at least 1");
    require(c.learningRate > 0.0 && std::isfinite(c.learningRate), "learning rate must be positive");
    require(c.weightDecay >= 0.0, "weight decay must not be negative");
    require(c.momentum >= 0.0 && c.momentum < 1.0, "momentum must be in [0, 1)");
    require(c.stepEpochs >= 1, "step schedule: epochs between decays must be at least 1");
    require(c.stepGamma > 0.0 && c.stepGamma <= 1.0, "step schedule: gamma must be in (0, 1]");
    require(c.cropPadding >= 0 && c.cropPadding <= std::min(train.height(), train.width()) / 2,
        "crop padding must be between 0 and half the image side, found " + std::to_string(c.cropPadding));
    require(c.labelSmoothing >= 0.0 && c.labelSmoothing < 1.0, "label smoothing must be in [0, 1)");
}

/// Fills `out` (float N×C×H×W, CPU, contiguous) with images `indices` of `images` (uint8, CPU, contiguous),
/// randomly shifted within `pad` pixels (zero fill, as if cropped from a zero-padded image) and flipped,
/// scaled to [-1, 1]. Raw loops with our own generator keep it identical on every platform.
void augmentBatch(const torch::Tensor& images, const std::int64_t* indices, std::int64_t count, int pad, bool flip,
    std::mt19937_64& rng, torch::Tensor& out)
{
    const std::int64_t channels = images.size(1);
    const std::int64_t height = images.size(2);
    const std::int64_t width = images.size(3);
    const std::int64_t plane = height * width;
    const std::uint8_t* src = images.data_ptr<std::uint8_t>();
    float* dst = out.data_ptr<float>();
    const auto range = static_cast<std::uint64_t>(2 * pad + 1);
    for (std::int64_t i = 0; i < count; ++i) {
        const std::int64_t dy = pad > 0 ? static_cast<std::int64_t>(rng() % range) - pad : 0;
        const std::int64_t dx = pad > 0 ? static_cast<std::int64_t>(rng() % range) - pad : 0;
        const bool mirrored = flip && (rng() & 1U) != 0;
        const std::uint8_t* image = src + indices[i] * channels * plane;
        float* target = dst + i * channels * plane;
        for (std::int64_t c = 0; c < channels; ++c) {
            for (std::int64_t y = 0; y < height; ++y) {
                const std::int64_t sy = y + dy;
                float* row = target + c * plane + y * width;
                if (sy < 0 || sy >= height) {
                    std::fill(row, row + width, -1.0f);
                    continue;
                }
                const std::uint8_t* srcRow = image + c * plane + sy * width;
                for (std::int64_t x = 0; x < width; ++x) {
                    const std::int64_t sx = (mirrored ? width - 1 - x : x) + dx;
                    row[x] = (sx < 0 || sx >= width) ? -1.0f : static_cast<float>(srcRow[sx]) / 127.5f - 1.0f;
                }
            }
        }
    }
}

double testAccuracy(
    models::ResNetClassifier& model, const data::ImageSet& test, std::int64_t batchSize, torch::Device device)
{
    if (!test.images.defined() || test.size() == 0)
        return std::numeric_limits<double>::quiet_NaN();
    const eval::Classification result = eval::classify(model, test.images, batchSize, device);
    const auto correct = result.labels.eq(test.labels.to(torch::kCPU)).sum().item<std::int64_t>();
    return static_cast<double>(correct) / static_cast<double>(test.size());
}

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

ClassifierTrainResult trainClassifier(const data::ImageSet& train, const data::ImageSet& test,
    const models::ResNetClassifierOptions& options, const ClassifierTrainConfig& config, torch::Device device,
    const ClassifierTrainObserver& observer, const std::atomic<bool>* cancel)
{
    validate(train, test, options, config);
    const auto runStart = Clock::now();
    // A caller's NoGradGuard (thread-local) must not silently turn training into a crash at backward().
    const torch::AutoGradMode enableGrad(true);

    // Weights are initialised on the CPU from the seeded CPU generator, so a seed gives the same starting
    // point whatever the device.
    torch::manual_seed(config.seed);
    std::mt19937_64 rng(config.seed);
    ClassifierTrainResult result;
    result.model = models::ResNetClassifier(options);
    models::ResNetClassifier& model = result.model;
    model->to(device);

    std::unique_ptr<torch::optim::Optimizer> optimizer;
    if (config.optimizer == ClassifierOptimizer::Adam) {
        optimizer = std::make_unique<torch::optim::Adam>(
            model->parameters(), torch::optim::AdamOptions(config.learningRate).weight_decay(config.weightDecay));
    } else {
        optimizer = std::make_unique<torch::optim::SGD>(model->parameters(),
            torch::optim::SGDOptions(config.learningRate)
                .momentum(config.momentum)
                .nesterov(config.momentum > 0.0)
                .weight_decay(config.weightDecay));
    }

    const torch::Tensor images = train.images.to(torch::kCPU).contiguous();
    const torch::Tensor labels = train.labels.to(torch::kCPU, torch::kInt64).contiguous();
    const std::int64_t n = train.size();
    const std::int64_t batchSize = std::min(config.batchSize, n);
    const std::int64_t stepsPerEpoch = (n + batchSize - 1) / batchSize;
    const std::int64_t totalSteps = stepsPerEpoch * config.epochs;
    const std::int64_t* labelData = labels.data_ptr<std::int64_t>();

    double trainSeconds = 0.0;
    double evalSeconds = 0.0;
    for (int epoch = 1; epoch <= config.epochs && !result.cancelled; ++epoch) {
        const auto epochStart = Clock::now();
        model->train();
        const std::vector<std::int64_t> order = data::seededPermutation(n, rng());
        double lossSum = 0.0;
        std::int64_t correct = 0;
        std::int64_t seen = 0;
        for (std::int64_t s = 0; s < stepsPerEpoch; ++s) {
            if (cancel && cancel->load()) {
                result.cancelled = true;
                break;
            }
            const auto stepStart = Clock::now();
            const std::int64_t begin = s * batchSize;
            const std::int64_t count = std::min(batchSize, n - begin);
            torch::Tensor batch
                = torch::empty({ count, images.size(1), images.size(2), images.size(3) }, torch::kFloat32);
            augmentBatch(images, order.data() + begin, count, config.cropPadding, config.horizontalFlip, rng, batch);
            torch::Tensor target = torch::empty({ count }, torch::kInt64);
            for (std::int64_t i = 0; i < count; ++i)
                target.data_ptr<std::int64_t>()[i] = labelData[order[static_cast<std::size_t>(begin + i)]];
            const torch::Tensor x = batch.to(device);
            const torch::Tensor y = target.to(device);

            const double lr = scheduledLearningRate(config, result.steps, totalSteps, stepsPerEpoch);
            for (auto& group : optimizer->param_groups())
                group.options().set_lr(lr);

            optimizer->zero_grad();
            const torch::Tensor logits = model->forward(x);
            const torch::Tensor logProbs = torch::log_softmax(logits, 1);
            torch::Tensor perItem = -logProbs.gather(1, y.unsqueeze(1)).squeeze(1);
            if (config.labelSmoothing > 0.0)
                perItem = (1.0 - config.labelSmoothing) * perItem - config.labelSmoothing * logProbs.mean(1);
            const torch::Tensor loss = perItem.mean();
            loss.backward();
            optimizer->step();

            const double lossValue = loss.item<double>();
            lossSum += lossValue * static_cast<double>(count);
            correct += logits.detach().argmax(1).eq(y).sum().item<std::int64_t>();
            seen += count;
            ++result.steps;
            result.imagesSeen += count;
            trainSeconds += secondsSince(stepStart);

            if (observer.onStep) {
                ClassifierTrainProgress progress;
                progress.step = result.steps;
                progress.totalSteps = totalSteps;
                progress.epoch = epoch;
                progress.epochs = config.epochs;
                progress.loss = lossValue;
                progress.learningRate = lr;
                progress.imagesPerSecond
                    = trainSeconds > 0.0 ? static_cast<double>(result.imagesSeen) / trainSeconds : 0.0;
                const double perStep = trainSeconds / static_cast<double>(result.steps);
                // Until the first evaluation has been timed, guess it from the step time (a forward pass over
                // the test set costs about a third of training on as many images).
                const double evalGuess = epoch > 1
                    ? evalSeconds / (epoch - 1)
                    : perStep * static_cast<double>(test.images.defined() ? test.size() : 0)
                        / static_cast<double>(batchSize) / 3.0;
                progress.etaSeconds = perStep * static_cast<double>(totalSteps - result.steps)
                    + evalGuess * static_cast<double>(config.epochs - epoch + 1);
                observer.onStep(progress);
            }
        }
        if (result.cancelled || seen == 0)
            break;

        const auto evalStart = Clock::now();
        ClassifierEpochRecord record;
        record.epoch = epoch;
        record.loss = lossSum / static_cast<double>(seen);
        record.trainAccuracy = static_cast<double>(correct) / static_cast<double>(seen);
        record.testAccuracy = testAccuracy(model, test, config.evalBatchSize, device);
        evalSeconds += secondsSince(evalStart);
        record.seconds = secondsSince(epochStart);
        result.history.push_back(record);
        if (observer.onEpoch)
            observer.onEpoch(record);
    }
    model->eval();
    result.wallSeconds = secondsSince(runStart);
    return result;
}

} // namespace lethe::train
