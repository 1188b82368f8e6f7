#include "edm_trainer.h"

#include "adam.h"
#include "core/data/subsets.h"
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/models/edm/edm_config.h"
#include "core/nn/state_dict.h"
#include "core/store/edm_model.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <deque>

namespace lethe::train {

using nlohmann::json;

json toJson(const PretrainConfig& c)
{
    return { { "preset", c.preset }, { "architecture", c.architecture }, { "dataset", c.dataset }, { "batch", c.batch },
        { "lr", c.lr }, { "lr_rampup_images", c.lrRampupImages }, { "steps", c.steps },
        { "ema_half_life_images", c.emaHalfLifeImages }, { "ema_rampup_ratio", c.emaRampupRatio }, { "seed", c.seed },
        { "checkpoint_every", c.checkpointEvery } };
}

PretrainConfig pretrainConfigFromJson(const json& j)
{
    PretrainConfig c;
    if (!j.is_object())
        throw Error("pretraining config: expected a JSON object, found " + std::string(j.type_name()));
    auto read = [&](const char* key, auto& field) {
        if (!j.contains(key))
            return;
        try {
            j.at(key).get_to(field);
        } catch (const json::exception&) {
            throw Error(std::string("pretraining config: key '") + key + "' has the wrong type ("
                + j.at(key).type_name() + ")");
        }
    };
    read("preset", c.preset);
    if (j.contains("architecture"))
        c.architecture = j.at("architecture");
    read("dataset", c.dataset);
    read("batch", c.batch);
    read("lr", c.lr);
    read("lr_rampup_images", c.lrRampupImages);
    read("steps", c.steps);
    read("ema_half_life_images", c.emaHalfLifeImages);
    read("ema_rampup_ratio", c.emaRampupRatio);
    read("seed", c.seed);
    read("checkpoint_every", c.checkpointEvery);
    for (const auto& [key, value] : j.items())
        if (!toJson(PretrainConfig {}).contains(key))
            throw Error("pretraining config: unknown key '" + key + "'");
    return c;
}

namespace {

using NamedTensors = std::vector<io::NamedTensor>;

NamedTensors namedState(torch::nn::Module& module)
{
    return nn::stateDict(module);
}

std::vector<io::NamedTensor> prefixed(const NamedTensors& tensors, const std::string& prefix)
{
    std::vector<io::NamedTensor> out;
    for (const auto& [name, t] : tensors)
        out.push_back({ prefix + name, t });
    return out;
}

} // namespace

struct EdmPretrainer::State {
    PretrainConfig config;
    data::ImageSet train;
    torch::Device device;
    std::filesystem::path output;
    std::string command;
    json architecture;
    models::EDMPrecond net { nullptr };
    models::EDMPrecond ema { nullptr };
    std::unique_ptr<Adam> adam;
    at::Generator noise;
    std::int64_t step = 0;
    std::int64_t checkpointStep = -1; ///< The step the files on disk hold.
    double wallSeconds = 0.0; ///< Training time over all sessions, for provenance.

    State(PretrainConfig c, data::ImageSet t, torch::Device d, std::filesystem::path o, std::string cmd)
        : config(std::move(c))
        , train(std::move(t))
        , device(d)
        , output(std::move(o))
        , command(std::move(cmd))
        , noise(diffusion::cpuGenerator(config.seed))
    {
    }
};

EdmPretrainer::EdmPretrainer(PretrainConfig config, data::ImageSet train, torch::Device device,
    std::filesystem::path output, std::string command)
    : m_state(
        std::make_unique<State>(std::move(config), std::move(train), device, std::move(output), std::move(command)))
{
    State& s = *m_state;
    s.train.validate();
    if (s.config.batch < 1 || s.config.steps < 1)
        throw Error("pretraining needs a batch of at least 1 and at least 1 step");
    s.architecture
        = s.config.architecture.is_null() ? models::toJson(models::edmPreset(s.config.preset)) : s.config.architecture;
    const auto options = models::edmOptionsFromJson(s.architecture);
    if (options.img_channels() != s.train.channels() || options.img_resolution() != s.train.height()
        || options.img_resolution() != s.train.width())
        throw Error("the network expects " + std::to_string(options.img_channels()) + "×"
            + std::to_string(options.img_resolution()) + "×" + std::to_string(options.img_resolution())
            + " images, but the data set has " + std::to_string(s.train.channels()) + "×"
            + std::to_string(s.train.height()) + "×" + std::to_string(s.train.width()));
    if (options.label_dim() != 0 && options.label_dim() != s.train.classCount())
        throw Error("the network has " + std::to_string(options.label_dim()) + " class labels, the data set "
            + std::to_string(s.train.classCount()) + " classes");
    torch::manual_seed(s.config.seed);
    s.net = models::makeEdmPrecond(s.architecture);
    s.ema = models::makeEdmPrecond(s.architecture);
    s.net->to(device);
    s.ema->to(device);
    {
        torch::NoGradGuard noGrad;
        const auto from = namedState(*s.net);
        const auto to = namedState(*s.ema);
        for (std::size_t i = 0; i < from.size(); ++i)
            to[i].tensor.copy_(from[i].tensor);
    }
    s.ema->eval();
    std::vector<std::pair<std::string, torch::Tensor>> parameters;
    for (const auto& item : s.net->named_parameters())
        parameters.emplace_back(item.key(), item.value());
    s.adam = std::make_unique<Adam>(parameters, AdamOptions { s.config.lr, 0.9, 0.999, 1e-8, 0.0 });
}

EdmPretrainer::~EdmPretrainer() = default;

std::filesystem::path EdmPretrainer::statePath(const std::filesystem::path& output)
{
    std::filesystem::path path = output;
    path += ".state.safetensors";
    return path;
}

std::int64_t EdmPretrainer::step() const
{
    return m_state->step;
}

std::int64_t EdmPretrainer::parameterCount() const
{
    return nn::parameterCount(*m_state->net);
}

void EdmPretrainer::resume()
{
    State& s = *m_state;
    const auto path = statePath(s.output);
    const io::SafetensorsFile file(path);
    const auto& metadata = file.metadata();
    const auto arch = metadata.find("architecture");
    if (arch == metadata.end() || json::parse(arch->second) != s.architecture)
        throw FormatError(path.string(), "__metadata__ key 'architecture'",
            "the saved run used a different network than this command asks for");
    torch::NoGradGuard noGrad;
    auto load = [&](const NamedTensors& into, const std::string& prefix) {
        for (const auto& [name, tensor] : into) {
            const torch::Tensor saved = file.tensor(prefix + name);
            if (saved.sizes() != tensor.sizes())
                throw FormatError(path.string(), "tensor '" + prefix + name + "'",
                    "expected shape " + c10::str(tensor.sizes()) + ", found " + c10::str(saved.sizes()));
            tensor.copy_(saved);
        }
    };
    load(namedState(*s.net), "net.");
    load(namedState(*s.ema), "ema.");
    s.adam->loadState(file);
    s.step = file.tensor("train.step").item<std::int64_t>();
    s.checkpointStep = s.step;
    s.wallSeconds = file.tensor("train.wall_seconds").item<double>();
    s.noise.set_state(file.tensor("train.noise_rng"));
    spdlog::info("resumed from {} at step {}", path.string(), s.step);
}

void EdmPretrainer::initialiseFrom(const std::filesystem::path& model)
{
    State& s = *m_state;
    store::EdmModel init = store::loadEdmModel(model, torch::kCPU);
    json theirs = init.info.architecture;
    json ours = s.architecture;
    for (const char* trainingOnly : { "label_dropout", "dropout" }) {
        theirs.erase(trainingOnly);
        ours.erase(trainingOnly);
    }
    if (theirs != ours) {
        std::string key = "architecture";
        for (const auto& [name, value] : ours.items())
            if (!theirs.contains(name) || theirs[name] != value) {
                key = name;
                break;
            }
        throw Error(model.string() + ": its network differs from the one to train (key '" + key
            + "'); fine-tuning needs the same architecture but for label_dropout and dropout");
    }
    torch::NoGradGuard noGrad;
    const auto from = namedState(*init.net);
    for (torch::nn::Module* module : { s.net.get(), s.ema.get() }) {
        const NamedTensors into = namedState(*module);
        for (std::size_t i = 0; i < from.size(); ++i)
            into[i].tensor.copy_(from[i].tensor);
    }
    spdlog::info("initialised from {}", model.string());
}

void EdmPretrainer::writeCheckpoint()
{
    State& s = *m_state;
    store::ModelInfo info;
    info.kind = "edm";
    info.architecture = s.architecture;
    info.classes = s.train.classNames;
    info.dataset = { { "name", s.config.dataset }, { "resolution", s.train.height() },
        { "channels", s.train.channels() }, { "source", s.train.source } };
    info.provenance.method = "pretrain";
    info.provenance.command = s.command;
    info.provenance.seed = s.config.seed;
    info.provenance.steps = s.step;
    info.provenance.imagesSeen = s.step * s.config.batch;
    info.provenance.wallSeconds = s.wallSeconds;
    info.provenance.created = store::utcNow();
    info.provenance.hyperparameters = toJson(s.config);
    store::writeModel(s.output, info, prefixed(namedState(*s.ema), ""));

    std::vector<io::NamedTensor> state = prefixed(namedState(*s.net), "net.");
    for (auto& t : prefixed(namedState(*s.ema), "ema."))
        state.push_back(std::move(t));
    for (auto& t : s.adam->state())
        state.push_back(std::move(t));
    state.push_back({ "train.step", torch::tensor({ s.step }, torch::kInt64) });
    state.push_back({ "train.wall_seconds", torch::tensor({ s.wallSeconds }, torch::kFloat64) });
    state.push_back({ "train.noise_rng", s.noise.get_state() });
    io::writeSafetensors(statePath(s.output), state,
        { { "architecture", s.architecture.dump() }, { "config", toJson(s.config).dump() } });
    s.checkpointStep = s.step;
}

void EdmPretrainer::run(const PretrainObserver& observer, const std::atomic<bool>* cancel)
{
    State& s = *m_state;
    const std::int64_t n = s.train.size();
    const std::int64_t batch = s.config.batch;
    const int classes = s.train.classCount();
    const bool conditional = models::edmOptionsFromJson(s.architecture).label_dim() > 0;
    s.net->train();
    const diffusion::Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor& sigma,
                                             const torch::Tensor& labels) { return s.net->forward(x, sigma, labels); };
    std::deque<double> recent;
    double recentSum = 0.0;
    std::vector<std::int64_t> order;
    std::int64_t orderEpoch = -1;
    auto sessionStart = std::chrono::steady_clock::now();
    double sessionSecondsAtLastReport = 0.0;
    const std::int64_t sessionFirstStep = s.step;

    while (s.step < s.config.steps) {
        if (cancel && cancel->load())
            break;
        const auto stepStart = std::chrono::steady_clock::now();
        // Dropout draws from the global generator: seeding it per step makes a run resumed at any step
        // bit-identical to one that never stopped.
        torch::manual_seed(s.config.seed + static_cast<std::uint64_t>(s.step));
        // Each epoch visits the images in a permutation fixed by (seed, epoch): resumable and reproducible.
        const std::int64_t first = s.step * batch;
        std::vector<std::int64_t> indices;
        indices.reserve(static_cast<std::size_t>(batch));
        for (std::int64_t k = first; k < first + batch; ++k) {
            const std::int64_t epoch = k / n;
            if (epoch != orderEpoch) {
                order = data::seededPermutation(n, s.config.seed * 1000003ULL + static_cast<std::uint64_t>(epoch));
                orderEpoch = epoch;
            }
            indices.push_back(order[static_cast<std::size_t>(k % n)]);
        }
        const torch::Tensor index = torch::tensor(indices, torch::kInt64);
        const torch::Tensor images = diffusion::pixelsToFloat(s.train.images.index_select(0, index)).to(s.device);
        torch::Tensor labels;
        if (conditional)
            labels = diffusion::oneHot(s.train.labels.index_select(0, index), classes).to(s.device);

        const double imagesSeen = static_cast<double>(first);
        const double lr = s.config.lr * std::min(imagesSeen / std::max<double>(s.config.lrRampupImages, 1e-8), 1.0);
        s.adam->setLr(lr);
        s.adam->zeroGrad();
        const diffusion::EdmLossResult loss = diffusion::edmLoss(denoiser, images, labels, {}, s.noise);
        loss.loss.backward();
        {
            torch::NoGradGuard noGrad;
            for (auto& p : s.net->parameters())
                if (p.grad().defined())
                    p.mutable_grad().nan_to_num_(0.0, 1e5, -1e5);
        }
        s.adam->step();
        ++s.step;
        {
            // EMA as in EDM: half-life grows with the images seen, capped at the configured value.
            torch::NoGradGuard noGrad;
            const double seen = static_cast<double>(s.step * batch);
            const double halfLife = std::min(s.config.emaHalfLifeImages, seen * s.config.emaRampupRatio);
            const double beta = std::pow(0.5, static_cast<double>(batch) / std::max(halfLife, 1e-8));
            const auto from = namedState(*s.net);
            const auto to = namedState(*s.ema);
            for (std::size_t i = 0; i < from.size(); ++i)
                to[i].tensor.copy_(from[i].tensor.detach().lerp(to[i].tensor, beta));
        }

        const double stepLoss = loss.loss.item<double>();
        if (!std::isfinite(stepLoss))
            throw Error("pretraining diverged at step " + std::to_string(s.step) + " (loss " + std::to_string(stepLoss)
                + "); lower --lr and resume from the last checkpoint");
        recent.push_back(stepLoss);
        recentSum += stepLoss;
        if (recent.size() > 100) {
            recentSum -= recent.front();
            recent.pop_front();
        }
        const auto now = std::chrono::steady_clock::now();
        const double sessionSeconds = std::chrono::duration<double>(now - sessionStart).count();
        s.wallSeconds += sessionSeconds - sessionSecondsAtLastReport;
        sessionSecondsAtLastReport = sessionSeconds;
        const double stepSeconds = std::chrono::duration<double>(now - stepStart).count();

        PretrainProgress progress;
        progress.step = s.step;
        progress.totalSteps = s.config.steps;
        progress.loss = stepLoss;
        progress.averageLoss = recentSum / static_cast<double>(recent.size());
        progress.lr = lr;
        progress.imagesPerSecond = static_cast<double>(batch) / std::max(stepSeconds, 1e-9);
        // ETA from this session's average step time (earlier sessions may have run on other hardware).
        progress.etaSeconds = static_cast<double>(s.config.steps - s.step) * sessionSeconds
            / static_cast<double>(s.step - sessionFirstStep);
        const bool atCheckpoint
            = s.step == s.config.steps || (s.config.checkpointEvery > 0 && s.step % s.config.checkpointEvery == 0);
        if (atCheckpoint)
            writeCheckpoint();
        progress.checkpointWritten = atCheckpoint;
        if (observer)
            observer(progress);
    }
    if (s.step != s.checkpointStep)
        writeCheckpoint();
}

} // namespace lethe::train
