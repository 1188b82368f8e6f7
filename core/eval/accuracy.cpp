#include "accuracy.h"

#include "core/error.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <sstream>

namespace lethe::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string deviceText(const torch::Device& device)
{
    std::ostringstream out;
    out << device;
    return out.str();
}

/// Labels as a contiguous int64 CPU vector, each checked against the class count.
std::vector<std::int64_t> labelVector(const torch::Tensor& labels, int classCount, const char* what)
{
    if (!labels.defined() || labels.dim() != 1)
        throw Error(std::string(what) + " labels must be a 1-D tensor");
    const torch::Tensor cpu = labels.to(torch::kCPU, torch::kInt64).contiguous();
    const auto* data = cpu.data_ptr<std::int64_t>();
    std::vector<std::int64_t> out(data, data + cpu.numel());
    for (std::size_t i = 0; i < out.size(); ++i)
        if (out[i] < 0 || out[i] >= classCount)
            throw Error(std::string(what) + " label " + std::to_string(out[i]) + " at index " + std::to_string(i)
                + " is outside [0, " + std::to_string(classCount) + ")");
    return out;
}

} // namespace

Classification classify(models::ResNetClassifier& model, const torch::Tensor& images, std::int64_t batchSize,
    torch::Device device, bool withFeatures)
{
    const auto& options = model->options();
    if (!images.defined() || images.dim() != 4 || images.scalar_type() != torch::kUInt8)
        throw Error("classify: expected uint8 images N×C×H×W");
    if (images.size(1) != options.inChannels())
        throw Error("classify: the classifier takes " + std::to_string(options.inChannels()) + "-channel images, found "
            + std::to_string(images.size(1)) + " channels");
    if (batchSize < 1)
        throw Error("classify: batch size must be at least 1, found " + std::to_string(batchSize));
    const torch::Device modelDevice = model->parameters().front().device();
    // CUDA devices without an index mean "the current one"; compare types there.
    const bool sameDevice = modelDevice.type() == device.type()
        && (!device.has_index() || !modelDevice.has_index() || modelDevice.index() == device.index());
    if (!sameDevice)
        throw Error("classify: the classifier is on " + deviceText(modelDevice) + " but " + deviceText(device)
            + " was asked for");

    const bool wasTraining = model->is_training();
    model->eval();
    torch::NoGradGuard noGrad;
    const std::int64_t n = images.size(0);
    std::vector<torch::Tensor> labels;
    std::vector<torch::Tensor> features;
    for (std::int64_t begin = 0; begin < n; begin += batchSize) {
        const std::int64_t end = std::min(n, begin + batchSize);
        const torch::Tensor x = models::classifierInput(images.slice(0, begin, end), device);
        if (withFeatures) {
            const torch::Tensor f = model->features(x);
            features.push_back(f.to(torch::kCPU, torch::kFloat32));
            labels.push_back(model->logitsFromFeatures(f).argmax(1).to(torch::kCPU));
        } else {
            labels.push_back(model->forward(x).argmax(1).to(torch::kCPU));
        }
    }
    if (wasTraining)
        model->train();

    Classification result;
    result.labels = labels.empty() ? torch::empty({ 0 }, torch::kInt64) : torch::cat(labels);
    if (withFeatures)
        result.features
            = features.empty() ? torch::empty({ 0, model->featureDim() }, torch::kFloat32) : torch::cat(features);
    return result;
}

ClassAccuracy perClassAccuracy(const torch::Tensor& predicted, const torch::Tensor& target, int classCount)
{
    if (classCount < 1)
        throw Error("per-class accuracy: class count must be at least 1");
    const auto p = labelVector(predicted, classCount, "predicted");
    const auto t = labelVector(target, classCount, "target");
    if (p.size() != t.size())
        throw Error("per-class accuracy: " + std::to_string(p.size()) + " predictions for " + std::to_string(t.size())
            + " targets");
    ClassAccuracy result;
    const auto classes = static_cast<std::size_t>(classCount);
    result.total.assign(classes, 0);
    result.correct.assign(classes, 0);
    result.accuracy.assign(classes, kNaN);
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto c = static_cast<std::size_t>(t[i]);
        ++result.total[c];
        if (p[i] == t[i]) {
            ++result.correct[c];
            ++correct;
        }
    }
    double sum = 0.0;
    int defined = 0;
    for (std::size_t c = 0; c < classes; ++c) {
        if (result.total[c] == 0)
            continue;
        result.accuracy[c] = static_cast<double>(result.correct[c]) / static_cast<double>(result.total[c]);
        sum += result.accuracy[c];
        ++defined;
    }
    result.overall = p.empty() ? kNaN : static_cast<double>(correct) / static_cast<double>(p.size());
    result.classMean = defined == 0 ? kNaN : sum / defined;
    return result;
}

UnlearningScores unlearningScores(
    const torch::Tensor& predicted, const torch::Tensor& generatedFor, std::int64_t forgottenClass, int classCount)
{
    if (forgottenClass < 0 || forgottenClass >= classCount)
        throw Error("unlearning scores: forgotten class " + std::to_string(forgottenClass) + " is outside [0, "
            + std::to_string(classCount) + ")");
    return unlearningScores(perClassAccuracy(predicted, generatedFor, classCount), forgottenClass);
}

UnlearningScores unlearningScores(const ClassAccuracy& classes, std::int64_t forgottenClass)
{
    const auto classCount = static_cast<std::int64_t>(classes.total.size());
    if (forgottenClass < 0 || forgottenClass >= classCount)
        throw Error("unlearning scores: forgotten class " + std::to_string(forgottenClass) + " is outside [0, "
            + std::to_string(classCount) + ")");
    UnlearningScores scores;
    scores.forgottenClass = forgottenClass;
    scores.classes = classes;
    const auto forgotten = static_cast<std::size_t>(forgottenClass);
    if (scores.classes.total[forgotten] == 0)
        throw Error(
            "unlearning scores: no image was generated for the forgotten class " + std::to_string(forgottenClass));
    scores.ua = 1.0 - scores.classes.accuracy[forgotten];

    std::int64_t total = 0;
    std::int64_t correct = 0;
    double sum = 0.0;
    int defined = 0;
    for (std::size_t c = 0; c < scores.classes.total.size(); ++c) {
        if (c == forgotten || scores.classes.total[c] == 0)
            continue;
        total += scores.classes.total[c];
        correct += scores.classes.correct[c];
        sum += scores.classes.accuracy[c];
        ++defined;
    }
    if (total == 0)
        throw Error("unlearning scores: no image was generated for a class other than the forgotten class "
            + std::to_string(forgottenClass));
    scores.ra = static_cast<double>(correct) / static_cast<double>(total);
    scores.raClassMean = sum / defined;
    return scores;
}

UnlearningSummary summarize(std::vector<UnlearningScores> runs)
{
    UnlearningSummary summary;
    summary.runs = std::move(runs);
    if (summary.runs.empty()) {
        summary.meanUa = summary.meanRa = kNaN;
        return summary;
    }
    for (const auto& run : summary.runs) {
        summary.meanUa += run.ua;
        summary.meanRa += run.ra;
    }
    summary.meanUa /= static_cast<double>(summary.runs.size());
    summary.meanRa /= static_cast<double>(summary.runs.size());
    return summary;
}

} // namespace lethe::eval
