#include "edm_trainer.h"

#include "core/io/config_json.h"

#include "adam.h"
#include "core/data/subsets.h"
#include "core/describe.h"
#include "core/diffusion/edm_augment.h"
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
#include <optional>

namespace lethe::train {

using nlohmann::json;

struct EdmPretrainer::State : TrainingRunState {
    PretrainConfig config;
    json architecture;
    models::EDMPrecond net { nullptr };
    models::EDMPrecond ema { nullptr };
    std::string parentSha256; ///< The model initialiseFrom() started from.

    State(PretrainConfig c, data::ImageSet t, torch::Device d, std::filesystem::path o, std::string cmd)
        : TrainingRunState("pretraining", std::move(t), d, std::move(o), std::move(cmd), c)
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
    if (!(s.config.augmentP >= 0 && s.config.augmentP <= 1))
        throw Error("pretraining config: augment_p must be in [0, 1], found " + formatNumber(s.config.augmentP));
    const std::int64_t augmentDim = options.model().augment_dim();
    if (augmentDim != 0 && augmentDim != diffusion::AugmentOptions::edmCifar10().labelDim())
        throw Error("the network takes " + std::to_string(augmentDim) + " augmentation labels; Lethe's augmentation "
            + "(EDM's pipeline at its CIFAR-10 settings) makes "
            + std::to_string(diffusion::AugmentOptions::edmCifar10().labelDim()));
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
    if (const auto parent = metadata.find("parent_sha256"); parent != metadata.end())
        s.parentSha256 = parent->second;
    s.readState(file, *s.net, *s.ema);
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
    info.provenance.hyperparameters = io::configToJson(s.config);
    io::writeModel(s.output, info, nn::stateDict(*s.ema));
    s.writeState(*s.net, *s.ema,
        { { "architecture", s.architecture.dump() }, { "config", io::configToJson(s.config).dump() },
            { "parent_sha256", s.parentSha256 } });
}

void EdmPretrainer::run(const PretrainObserver& observer, const std::atomic<bool>* cancel)
{
    State& s = *m_state;
    const int classes = s.train.classCount();
    const bool conditional = models::edmOptionsFromJson(s.architecture).label_dim() > 0;
    const diffusion::Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor& sigma,
                                             const torch::Tensor& labels) { return s.net->forward(x, sigma, labels); };
    // EDM's augmentation, for networks that take its labels.
    std::optional<diffusion::AugmentOptions> augment;
    if (models::edmOptionsFromJson(s.architecture).model().augment_dim() > 0 && s.config.augmentP > 0) {
        augment = diffusion::AugmentOptions::edmCifar10();
        augment->p = s.config.augmentP;
    }
    const diffusion::AugmentedDenoiser augmented
        = [&](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels,
              const torch::Tensor& augmentLabels) { return s.net->forward(x, sigma, labels, augmentLabels); };
    const BatchLoss batchLoss = [&](const std::vector<std::int64_t>& indices) {
        const torch::Tensor index = torch::tensor(indices, torch::kInt64);
        const torch::Tensor images = diffusion::pixelsToFloat(s.train.images.index_select(0, index)).to(s.device);
        torch::Tensor labels;
        if (conditional)
            labels = diffusion::oneHot(s.train.labels.index_select(0, index), classes).to(s.device);
        if (augment)
            return diffusion::edmLoss(augmented, images, labels, {}, *augment, s.noise).loss;
        return diffusion::edmLoss(denoiser, images, labels, {}, s.noise).loss;
    };
    s.runSteps(
        s.config, *s.net, *s.ema, batchLoss, [this] { writeCheckpoint(); }, observer, cancel);
}

} // namespace lethe::train
