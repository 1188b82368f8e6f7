#pragma once

#include "core/data/image_set.h"
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

/// Settings of EDM pretraining (`lethe-cli pretrain`). Learning-rate ramp-up and the EMA follow EDM's
/// training loop, scaled down for small models.
struct PretrainConfig {
    std::string preset = "fmnist-ddpmpp-small"; ///< Network preset; ignored when `architecture` is set.
    nlohmann::json architecture; ///< EDM init_kwargs; null = use `preset`.
    std::string dataset = "fashion-mnist";
    std::int64_t batch = 64;
    double lr = 5e-4;
    std::int64_t lrRampupImages = 32000; ///< Linear warm-up over this many images.
    std::int64_t steps = 10000;
    double emaHalfLifeImages = 50000; ///< EMA half-life in images ...
    double emaRampupRatio = 0.05; ///< ... but at most this fraction of the images seen so far.
    std::uint64_t seed = 1;
    std::int64_t checkpointEvery = 250; ///< Steps between atomic checkpoints (0 = only at the end).

    /// The field table that io::configToJson and io::configFromJson walk (JSON key, member).
    template <typename Self, typename Visit> static void fields(Self& c, Visit&& visit)
    {
        visit("preset", c.preset);
        visit("architecture", c.architecture);
        visit("dataset", c.dataset);
        visit("batch", c.batch);
        visit("lr", c.lr);
        visit("lr_rampup_images", c.lrRampupImages);
        visit("steps", c.steps);
        visit("ema_half_life_images", c.emaHalfLifeImages);
        visit("ema_rampup_ratio", c.emaRampupRatio);
        visit("seed", c.seed);
        visit("checkpoint_every", c.checkpointEvery);
    }
};

nlohmann::json toJson(const PretrainConfig& config);
/// Absent keys keep their defaults; unknown keys and wrong types throw Error naming the key.
PretrainConfig pretrainConfigFromJson(const nlohmann::json& json);

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
