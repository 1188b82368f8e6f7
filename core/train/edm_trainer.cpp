#include "edm_trainer.h"

#include "core/io/config_json.h"

#include "adam.h"
#include "core/data/subsets.h"
#include "core/diffusion/edm_loss.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/models/edm/edm_config.h"
#include "core/nn/state_dict.h"
#include "core/store/edm_model.h"
#include "training_loop.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <deque>

namespace lethe::train {

using nlohmann::json;

json toJson(const PretrainConfig& c)
{
    return io::configToJson(c);
}

PretrainConfig pretrainConfigFromJson(const json& j)
{
    PretrainConfig c;
    io::configFromJson(c, j, "pretraining config");
    return c;
}

struct EdmPretrainer::State : TrainingRunState {
    PretrainConfig config;
    json architecture;
    models::EDMPrecond net { nullptr };
    models::EDMPrecond ema { nullptr };
    std::unique_ptr<Adam> adam;
    std::string parentSha256; ///< The model initialiseFrom() started from.

    State(PretrainConfig c, data::ImageSet t, torch::Device d, std::filesystem::path o, std::string cmd)
        : TrainingRunState("pretraining", std::move(t), d, std::move(o), std::move(cmd), c.seed, c.batch, c.steps)
        , config(std::move(c))
    {
    }
};

EdmPretrainer::EdmPretrainer(PretrainConfig config, data::ImageSet train, torch::Device device,
    std::filesystem::path output, std::string command)
    : m_state(
        std::make_unique<State>(std::move(config), std::move(train), device, std::move(output), std::move(command)))
{
    State& s = *m_state;
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
    s.adam = prepareNetworks(*s.net, *s.ema, device, s.config.lr);
}

EdmPretrainer::~EdmPretrainer() = default;

std::filesystem::path EdmPretrainer::statePath(const std::filesystem::path& output)
{
    return trainingStatePath(output);
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
    const TrainingCounters counters = loadTrainingState(file, *s.net, *s.ema, *s.adam, s.noise);
    if (const auto parent = metadata.find("parent_sha256"); parent != metadata.end())
        s.parentSha256 = parent->second;
    s.step = counters.step;
    s.checkpointStep = s.step;
    s.wallSeconds = counters.wallSeconds;
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
    copyState(*init.net, *s.net);
    copyState(*init.net, *s.ema);
    s.parentSha256 = init.sha256;
    spdlog::info("initialised from {}", model.string());
}

void EdmPretrainer::writeCheckpoint()
{
    State& s = *m_state;
    io::ModelInfo info;
    info.kind = "edm";
    info.architecture = s.architecture;
    info.classes = s.train.classNames;
    info.dataset = { { "name", s.config.dataset }, { "resolution", s.train.height() },
        { "channels", s.train.channels() }, { "source", s.train.source } };
    info.provenance.method = "pretrain";
    info.provenance.command = s.command;
    info.provenance.parentSha256 = s.parentSha256;
    info.provenance.seed = s.config.seed;
    info.provenance.steps = s.step;
    info.provenance.imagesSeen = s.step * s.config.batch;
    info.provenance.wallSeconds = s.wallSeconds;
    info.provenance.created = io::utcNow();
    info.provenance.hyperparameters = toJson(s.config);
    io::writeModel(s.output, info, nn::stateDict(*s.ema));

    const auto state = trainingState(*s.net, *s.ema, *s.adam, { s.step, s.wallSeconds }, s.noise);
    io::writeSafetensors(statePath(s.output), state,
        { { "architecture", s.architecture.dump() }, { "config", toJson(s.config).dump() },
            { "parent_sha256", s.parentSha256 } });
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
    EpochOrder order(n, s.config.seed);
    StepReporter reporter("pretraining", s.step, s.config.steps, s.config.checkpointEvery, batch, s.wallSeconds);

    while (s.step < s.config.steps) {
        if (cancel && cancel->load())
            break;
        // Dropout draws from the global generator: seeding it per step makes a run resumed at any step
        // bit-identical to one that never stopped.
        torch::manual_seed(s.config.seed + static_cast<std::uint64_t>(s.step));
        const std::int64_t first = s.step * batch;
        const std::vector<std::int64_t> indices = order.batch(s.step, batch);
        const torch::Tensor index = torch::tensor(indices, torch::kInt64);
        const torch::Tensor images = diffusion::pixelsToFloat(s.train.images.index_select(0, index)).to(s.device);
        torch::Tensor labels;
        if (conditional)
            labels = diffusion::oneHot(s.train.labels.index_select(0, index), classes).to(s.device);

        const double lr
            = warmedUpLr(s.config.lr, static_cast<double>(first), static_cast<double>(s.config.lrRampupImages));
        s.adam->setLr(lr);
        s.adam->zeroGrad();
        const diffusion::EdmLossResult loss = diffusion::edmLoss(denoiser, images, labels, {}, s.noise);
        loss.loss.backward();
        sanitizeGradients(*s.net);
        s.adam->step();
        ++s.step;
        // EMA as in EDM: half-life grows with the images seen, capped at the configured value.
        updateEma(*s.net, *s.ema, s.step, batch, s.config.emaHalfLifeImages, s.config.emaRampupRatio);

        const PretrainProgress progress = reporter.stepDone(s.step, loss.loss.item<double>(), lr);
        if (progress.checkpointWritten)
            writeCheckpoint();
        if (observer)
            observer(progress);
    }
    if (s.step != s.checkpointStep)
        writeCheckpoint();
}

} // namespace lethe::train
