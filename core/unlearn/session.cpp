#include "session.h"

#include "core/data/subsets.h"
#include "core/diffusion/class_sampling.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/edm_augment.h"
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/train/adam.h"
#include "core/train/training_loop.h"
#include "core/unlearn/restricted_gradient.h"
#include "core/unlearn/saliency.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <regex>

namespace lethe::unlearn {

namespace {

/// `batch` items of `pool` for step `step`: the pool is visited in a permutation fixed by (seed, epoch), and a
/// batch that runs past the end of an epoch continues in the next one. Same result on every platform.
std::vector<std::int64_t> batchOf(
    const std::vector<std::int64_t>& pool, std::int64_t step, std::int64_t batch, std::uint64_t seed)
{
    std::vector<std::int64_t> out;
    for (const std::int64_t k : train::EpochOrder(static_cast<std::int64_t>(pool.size()), seed).batch(step, batch))
        out.push_back(pool[static_cast<std::size_t>(k)]);
    return out;
}

} // namespace

struct UnlearnSession::State {
    RunConfig config;
    torch::Device device;
    int classCount;
    data::ImageSet train;
    models::EDMPrecond net { nullptr };
    std::vector<std::pair<std::string, torch::Tensor>> trainable;
    std::unique_ptr<train::Adam> adam;
    std::vector<std::int64_t> forget;
    std::vector<std::int64_t> remain;
    at::Generator noise;
    std::vector<torch::Tensor> ascent; ///< The forget direction a, one buffer per trainable tensor.
    std::vector<torch::Tensor> saliency; ///< SalUn: 1 where an entry may change, else 0.
    std::optional<std::pair<models::ResNetClassifier, eval::RealFeatures>> evaluator;
    eval::LiteratureInstruments* literature = nullptr;
    /// EDM's augmentation at augment_p, when the run has it and the model takes its labels.
    std::optional<diffusion::AugmentOptions> augment;

    State(RunConfig c, torch::Device d, const data::ImageSet& t)
        : config(std::move(c))
        , device(d)
        , classCount(t.classCount())
        , train(t)
        , noise(diffusion::cpuGenerator(config.seed))
    {
    }

    diffusion::Denoiser denoiser() { return diffusion::denoiserOf(net); }

    /// The EDM loss of a batch, on augmented images when the run augments (drawn from the run's noise generator).
    diffusion::EdmLossResult loss(
        const torch::Tensor& images, const torch::Tensor& labels, const diffusion::EdmLossOptions& options = {})
    {
        if (!augment)
            return diffusion::edmLoss(denoiser(), images, labels, options, noise);
        models::EDMPrecond network = net;
        const diffusion::AugmentedDenoiser augmented
            = [network](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& classes,
                  const torch::Tensor& augmentLabels) mutable {
                  return network->forward(x, sigma, classes, augmentLabels);
              };
        return diffusion::edmLoss(augmented, images, labels, options, *augment, noise);
    }

    /// Float images and one-hot labels of `indices`, on the device; `labels` overrides the true labels.
    std::pair<torch::Tensor, torch::Tensor> batch(
        const std::vector<std::int64_t>& indices, std::optional<torch::Tensor> labels = std::nullopt)
    {
        const torch::Tensor index = torch::tensor(indices, torch::kInt64);
        torch::Tensor images = diffusion::pixelsToFloat(train.images.index_select(0, index)).to(device);
        torch::Tensor classes = labels ? *labels : train.labels.index_select(0, index);
        return { images, diffusion::oneHot(classes, classCount).to(device) };
    }

    void zeroGrad()
    {
        for (auto& [name, p] : trainable)
            if (p.grad().defined())
                p.mutable_grad().zero_();
    }

    /// The EDM loss over the whole remain set, with its gradient accumulated (RGD's full pass): the exact mean, or
    /// the paper's Σ / (remain_batch · n_batches) (RemainAveraging).
    double remainFullPass(bool withGradient)
    {
        const auto batchSize = static_cast<std::size_t>(config.remainBatch);
        const std::size_t batches = (remain.size() + batchSize - 1) / batchSize;
        // Each batch's loss is its sum over images / its size; this weight turns that into its share of L_r.
        const double total = config.remainAveraging == RemainAveraging::Mean ? static_cast<double>(remain.size())
                                                                             : static_cast<double>(batchSize * batches);
        double sum = 0.0;
        for (std::size_t begin = 0; begin < remain.size(); begin += static_cast<std::size_t>(config.remainBatch)) {
            const std::size_t end = std::min(remain.size(), begin + static_cast<std::size_t>(config.remainBatch));
            const std::vector<std::int64_t> chunk(
                remain.begin() + static_cast<std::ptrdiff_t>(begin), remain.begin() + static_cast<std::ptrdiff_t>(end));
            const auto [images, labels] = batch(chunk);
            const torch::Tensor weighted = loss(images, labels).loss * (static_cast<double>(chunk.size()) / total);
            if (withGradient)
                weighted.backward();
            sum += weighted.item<double>();
        }
        return sum;
    }

    void computeSaliency()
    {
        zeroGrad();
        // Dropout draws from the global generator: seeded, so the mask does not depend on what ran before.
        torch::manual_seed(config.seed + 17);
        for (int b = 0; b < kSaliencyBatches; ++b) {
            const auto [images, labels] = batch(batchOf(forget, b, config.forgetBatch, config.seed + 17));
            loss(images, labels).loss.backward();
        }
        saliency = saliencyMaskOfGradients(trainable, config.saliencyFraction);
        zeroGrad();
    }

    /// Applies the combined gradient now in the parameters' .grad().
    void update(double lr)
    {
        if (adam) {
            adam->setLr(lr);
            adam->step();
            return;
        }
        torch::NoGradGuard noGrad;
        for (auto& [name, p] : trainable)
            if (p.grad().defined())
                p.add_(p.grad(), -lr);
    }
};

UnlearnSession::UnlearnSession(
    const models::EDMPrecond& base, const data::ImageSet& train, RunConfig config, torch::Device device)
{
    const int forgetClass = config.forgetClass;
    config.validate();
    train.validate();
    const auto& options = base->options;
    if (options.label_dim() < 2)
        throw Error("class unlearning needs a class-conditional model; this one has no class labels");
    if (options.label_dim() != train.classCount())
        throw Error("the model has " + std::to_string(options.label_dim()) + " classes, the data set "
            + std::to_string(train.classCount()));
    if (options.img_channels() != train.channels() || options.img_resolution() != train.height()
        || options.img_resolution() != train.width())
        throw Error("the model expects " + std::to_string(options.img_channels()) + "×"
            + std::to_string(options.img_resolution()) + "×" + std::to_string(options.img_resolution())
            + " images, the data set has " + std::to_string(train.channels()) + "×" + std::to_string(train.height())
            + "×" + std::to_string(train.width()));
    if (forgetClass == -1)
        throw Error("choose the class to forget (forget_class)");
    if (forgetClass < 0 || forgetClass >= train.classCount())
        throw Error("the class to forget, " + std::to_string(forgetClass) + ", is outside 0–"
            + std::to_string(train.classCount() - 1));

    m_state = std::make_unique<State>(std::move(config), device, train);
    State& s = *m_state;
    if (s.config.augmentP > 0) {
        diffusion::AugmentOptions augment = diffusion::AugmentOptions::edmCifar10();
        augment.p = s.config.augmentP;
        const std::int64_t augmentDim = options.model().augment_dim();
        if (augmentDim == 0) {
            // A model trained without augmentation labels never gets augmented images; the run says so.
            spdlog::info(
                "augment_p {}: off, the model takes no augmentation labels (augment_dim 0)", s.config.augmentP);
            s.config.augmentP = 0;
        } else if (augmentDim != augment.labelDim()) {
            throw Error("run config: augment_p needs a model with " + std::to_string(augment.labelDim())
                + " augmentation labels (EDM's pipeline at its CIFAR-10 settings); this one has "
                + std::to_string(augmentDim));
        } else {
            s.augment = augment;
        }
    }
    s.forget = data::classIndices(train.labels, forgetClass);
    if (s.forget.empty())
        throw Error("the data set has no images of class " + std::to_string(forgetClass) + " to forget");
    s.remain = data::balancedSubset(train.labels, train.classCount(), s.config.remainPerClass, s.config.seed,
        { static_cast<std::int64_t>(forgetClass) });

    s.net = models::EDMPrecond(std::dynamic_pointer_cast<models::EDMPrecondImpl>(base->clone(device)));
    s.net->train();
    std::optional<std::regex> pattern;
    if (!s.config.trainable.empty()) {
        try {
            pattern.emplace(s.config.trainable, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            throw Error("run config: trainable '" + s.config.trainable + "' is not a valid regular expression ("
                + e.what() + ")");
        }
    }
    for (const auto& item : s.net->named_parameters()) {
        const bool chosen = !pattern || std::regex_search(item.key(), *pattern);
        item.value().set_requires_grad(chosen);
        if (chosen)
            s.trainable.emplace_back(item.key(), item.value());
    }
    if (s.trainable.empty())
        throw Error("run config: trainable '" + s.config.trainable + "' matches no parameter of the model");
    if (s.config.optimizer == "adam")
        s.adam = std::make_unique<train::Adam>(s.trainable, train::AdamOptions { s.config.lr, 0.9, 0.999, 1e-8, 0.0 });
}

UnlearnSession::~UnlearnSession() = default;

void UnlearnSession::setEvaluator(models::ResNetClassifier classifier, eval::RealFeatures real)
{
    m_state->evaluator.emplace(std::move(classifier), std::move(real));
}

models::EDMPrecond UnlearnSession::model() const
{
    return m_state->net;
}

const RunConfig& UnlearnSession::config() const
{
    return m_state->config;
}

const std::vector<std::int64_t>& UnlearnSession::forgetIndices() const
{
    return m_state->forget;
}

const std::vector<std::int64_t>& UnlearnSession::remainIndices() const
{
    return m_state->remain;
}

diffusion::ClassSamplingRequest UnlearnSession::previewRequest() const
{
    const State& s = *m_state;
    diffusion::ClassSamplingRequest request;
    for (int c = 0; c < s.classCount; ++c)
        request.classes.push_back(c);
    request.seeds = s.config.previewSeeds;
    request.sampler.steps = s.config.previewSamplerSteps;
    return request;
}

std::optional<torch::Tensor> UnlearnSession::preview(const std::function<bool(std::int64_t, std::int64_t)>& progress)
{
    return diffusion::sampleClasses(m_state->net, previewRequest(), m_state->device, progress);
}

UnlearnRun::Schedule UnlearnSession::schedule() const
{
    return scheduleOf(m_state->config);
}

UnlearnRun::TrainState UnlearnSession::trainState()
{
    return { &m_state->trainable, m_state->adam.get(), &m_state->noise };
}

void UnlearnSession::applyLive(const LiveChanges& changes)
{
    applyLiveChanges(changes, m_state->config);
}

void UnlearnSession::prepare()
{
    State& s = *m_state;
    if (s.config.method == Method::SalUn && s.saliency.empty())
        s.computeSaliency();
    s.ascent.assign(s.trainable.size(), torch::Tensor());
}

StepReport UnlearnSession::takeStep(std::int64_t step, std::string& problem)
{
    State& s = *m_state;
    const RunConfig& c = s.config;
    const bool restricted = c.method == Method::RG || c.method == Method::RGD;
    const double lambda = c.method == Method::GA ? 0.0 : c.lambda;
    // Dropout draws from the global generator: seeded per step so a run is reproducible.
    torch::manual_seed(c.seed + static_cast<std::uint64_t>(step));

    // The forget direction a: −∇L_f (ascent), or for SalUn +∇ of the relabelled loss (descent).
    s.zeroGrad();
    const std::vector<std::int64_t> forgetBatch = batchOf(s.forget, step, c.forgetBatch, c.seed);
    double forgetLoss = 0.0;
    {
        diffusion::EdmLossOptions options;
        std::optional<torch::Tensor> relabel;
        if (c.method == Method::SalUn) {
            // A random other class for every forget image.
            const torch::Tensor shift = torch::randint(
                1, s.classCount, { static_cast<std::int64_t>(forgetBatch.size()) }, s.noise, torch::kInt64);
            relabel = (shift + c.forgetClass).remainder(s.classCount);
        } else {
            options.alpha = c.alpha;
        }
        const auto [images, labels] = s.batch(forgetBatch, relabel);
        const torch::Tensor loss = s.loss(images, labels, options).loss;
        loss.backward();
        forgetLoss = loss.item<double>();
    }
    {
        torch::NoGradGuard noGrad;
        const double sign = c.method == Method::SalUn ? 1.0 : -1.0;
        for (std::size_t i = 0; i < s.trainable.size(); ++i) {
            const torch::Tensor& g = s.trainable[i].second.grad();
            if (!g.defined()) {
                s.ascent[i] = torch::Tensor();
                continue;
            }
            if (!s.ascent[i].defined())
                s.ascent[i] = torch::empty_like(g);
            s.ascent[i].copy_(g).mul_(sign);
            sanitizeGradient(s.ascent[i]);
        }
    }

    // The remain gradient d, accumulated in the parameters' own .grad().
    s.zeroGrad();
    double remainLoss = 0.0;
    if (c.method == Method::RGD) {
        remainLoss = s.remainFullPass(true);
    } else {
        const auto [images, labels] = s.batch(batchOf(s.remain, step, c.remainBatch, c.seed + 1));
        if (c.method == Method::GA) {
            torch::NoGradGuard noGrad; // Reported only: GA does not descend on it.
            remainLoss = s.loss(images, labels).loss.item<double>();
        } else {
            const torch::Tensor loss = s.loss(images, labels).loss;
            loss.backward();
            remainLoss = loss.item<double>();
        }
    }

    StepReport report;
    report.forgetLoss = forgetLoss;
    report.remainLoss = remainLoss;
    report.lr = c.lr;
    report.alpha = c.alpha;
    report.lambda = lambda;
    if (!std::isfinite(forgetLoss) || !std::isfinite(remainLoss)) {
        problem = "non-finite loss (L_f " + std::to_string(forgetLoss) + ", L_r " + std::to_string(remainLoss) + ")";
        return report;
    }
    std::vector<torch::Tensor> remainGrads;
    for (auto& [name, p] : s.trainable) {
        torch::Tensor g = p.grad();
        sanitizeGradient(g);
        remainGrads.push_back(g);
    }
    const GradientStats stats = combineRestricted(s.ascent, remainGrads, lambda, restricted);
    {
        torch::NoGradGuard noGrad;
        for (std::size_t i = 0; i < s.trainable.size(); ++i) {
            torch::Tensor& p = s.trainable[i].second;
            if (!remainGrads[i].defined())
                continue;
            if (!p.grad().defined() || !p.grad().is_same(remainGrads[i]))
                p.mutable_grad() = remainGrads[i];
            if (!s.saliency.empty())
                p.mutable_grad().mul_(s.saliency[i]);
        }
    }
    if (!stats.finite) {
        problem = "non-finite gradient";
        return report;
    }
    s.update(c.lr);
    report.ascentNorm = stats.ascentNorm;
    report.remainNorm = stats.remainNorm;
    report.cosine = stats.cosine;
    report.projected = stats.projected;
    return report;
}

void UnlearnSession::setLiteratureInstruments(eval::LiteratureInstruments* instruments)
{
    m_state->literature = instruments;
}

void UnlearnSession::evaluate(RunResult& result, RunObserver& observer, RunControl& control)
{
    State& s = *m_state;
    if (!s.config.evaluate || !s.evaluator)
        return;
    eval::GenerationEvalOptions options;
    options.imagesPerClass = s.config.evalImagesPerClass;
    options.forgottenClass = s.config.forgetClass;
    options.literature = s.literature;
    auto& [classifier, real] = *s.evaluator;
    result.evaluation = eval::evaluateGeneration(
        s.net, classifier, real, options, s.device, [&](std::int64_t done, std::int64_t total) {
            observer.onProgress("measures", done, total);
            return !control.stopRequested();
        });
    if (result.evaluation)
        observer.onEvaluation(*result.evaluation);
}

void UnlearnSession::finishRun()
{
    m_state->zeroGrad();
    m_state->net->train();
}

namespace {

/// The metadata key of a class run's checkpoint identity.
const char* const kCheckpointKey = "lethe.unlearn_checkpoint";

/// The settings a checkpoint must share with the run that loads it: everything that decides the batches, the
/// noise and the trainable tensors (not steps, previews, snapshots or the evaluation).
nlohmann::json checkpointIdentity(const RunConfig& c)
{
    return { { "method", methodName(c.method) }, { "seed", c.seed }, { "forget_batch", c.forgetBatch },
        { "remain_per_class", c.remainPerClass }, { "remain_batch", c.remainBatch }, { "trainable", c.trainable },
        { "optimizer", c.optimizer }, { "forget_class", c.forgetClass },
        { "remain_averaging", enumName(c.remainAveraging) }, { "augment_p", c.augmentP } };
}

} // namespace

void UnlearnSession::writeCheckpoint(const std::filesystem::path& path) const
{
    const RunConfig& c = m_state->config;
    writeSnapshotFile(
        path, "unlearning checkpoint", "net.", kCheckpointKey, checkpointIdentity(c), { c.alpha, c.lambda, c.lr });
}

std::int64_t UnlearnSession::resumeFrom(const std::filesystem::path& path)
{
    State& s = *m_state;
    const io::SafetensorsFile file(path);
    const LiveChanges live = checkedCheckpointLive(
        file, "unlearning checkpoint", kCheckpointKey, checkpointIdentity(s.config), checkpointIdentity(RunConfig {}));
    const RunConfig changed = withLiveChanges(s.config, live);
    // SalUn's mask comes from the base model's gradients: computed before the weights change.
    if (s.config.method == Method::SalUn && s.saliency.empty())
        s.computeSaliency();
    s.config = changed;
    return loadSnapshotFile(file, "net.");
}

} // namespace lethe::unlearn
