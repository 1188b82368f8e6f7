#pragma once

#include "core/data/image_set.h"
#include "core/io/config_json.h"
#include "core/io/model_file.h"
#include "core/train/training_loop.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace lethe::train {

/// Settings of EDM pretraining (`lethe-cli pretrain`): the network, the data and the TrainingLoopConfig.
struct PretrainConfig : TrainingLoopConfig {
    static constexpr const char* kJsonName = "pretraining config";

    std::string preset = "fmnist-ddpmpp-small"; ///< Network preset; ignored when `architecture` is set.
    nlohmann::json architecture; ///< EDM init_kwargs; null = use `preset`.
    std::string dataset = "fashion-mnist";
    /// Probability p of EDM's augmentation pipeline at its CIFAR-10 settings (diffusion/edm_augment.h), for networks
    /// with augment_dim 9 (EDM's `--augment` default 0.12); networks with augment_dim 0 never get it.
    double augmentP = 0.12;

    /// The field table that io::configToJson and io::configFromJson walk (JSON key, member).
    template <typename Self, typename Visit> static void fields(Self& c, Visit&& visit)
    {
        visit("preset", c.preset);
        visit("architecture", c.architecture);
        visit("dataset", c.dataset);
        visit("augment_p", c.augmentP);
        TrainingLoopConfig::fields(c, visit);
    }
};

/// Trains an EDMPrecond on an image set. Writes `output` (the EMA network as a self-describing Lethe
/// model) and `output`.state.safetensors (raw weights, Adam moments, step, RNG state) at every
/// checkpoint, both atomically, so an interrupted run resumes where its last checkpoint was.
class EdmPretrainer {
public:
    EdmPretrainer(PretrainConfig config, data::ImageSet train, torch::Device device, std::filesystem::path output,
        std::string command);
    ~EdmPretrainer();
    EdmPretrainer(const EdmPretrainer&) = delete;
    EdmPretrainer& operator=(const EdmPretrainer&) = delete;

    /// Continues from the state file next to `output`; throws FormatError when it does not match.
    void resume();
    /// Starts from a Lethe model's weights (network and EMA) instead of random ones, to fine-tune it: with
    /// label dropout for classifier-free guidance, on other data, or longer. The networks must be the same but
    /// for the training-only keys (label_dropout, dropout); otherwise Error names the first key that differs.
    void initialiseFrom(const std::filesystem::path& model);
    /// Trains until config.steps or until `cancel` becomes true (then writes a checkpoint and returns).
    void run(const PretrainObserver& observer, const std::atomic<bool>* cancel = nullptr);

    std::int64_t step() const;
    std::int64_t parameterCount() const;
    /// Path of the training-state file for a model path.
    static std::filesystem::path statePath(const std::filesystem::path& output);

private:
    struct State;
    void writeCheckpoint();
    std::unique_ptr<State> m_state;
};

} // namespace lethe::train
