#pragma once

// Training a small text-to-image model from scratch: the built-in pixel-space model on recoloured, captioned
// Fashion-MNIST (data/captioned_fashion.h). The UNet2DConditionModel and the CLIP text encoder train together
// on the ε-prediction loss, with captions dropped now and then for classifier-free guidance. Checkpoints are
// diffusers folders (the EMA networks), so `lethe-cli generate` and the unlearning code load them as they load
// Stable Diffusion.

#include "core/data/image_set.h"
#include "core/io/config_json.h"
#include "core/train/training_loop.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace lethe::train {

/// Settings of text-to-image pretraining (`lethe-cli pretrain-t2i`): the networks, the captions, the noise and the
/// TrainingLoopConfig.
struct T2iPretrainConfig : TrainingLoopConfig {
    static constexpr const char* kJsonName = "text-to-image training config";

    nlohmann::json unet; ///< diffusers unet/config.json; null = the built-in architecture.
    nlohmann::json textEncoder; ///< transformers text_encoder/config.json (vocab size filled in); null = built-in.
    double captionDropout = 0.1; ///< Probability of the empty caption, for classifier-free guidance.
    int maxTokens = 16; ///< The tokenizer's model_max_length (BOS and EOS included).
    /// "linear" (DDPM's β from 1e-4 to 0.02, for pixel space: ᾱ at the last timestep is 4e-5, so pure noise
    /// carries no trace of the image's mean colour) or "scaled_linear" (Stable Diffusion's 0.00085 to 0.012,
    /// made for latents: in pixel space its last ᾱ, 0.0047, leaves the mean colour visible in x_T, and samples
    /// from pure noise come out with coloured, noisy backgrounds).
    std::string betaSchedule = "linear";
    /// Offset noise (diffusion::drawDdpm): the standard deviation of a per-image, per-channel constant added to
    /// the training noise; 0 = plain noise. 0.1 teaches a model to read the mean colour of its input, which a
    /// model fine-tuned from a scaled_linear one has to unlearn (else its samples keep coloured backgrounds).
    double noiseOffset = 0.0;

    /// The field table that io::configToJson and io::configFromJson walk (JSON key, member).
    template <typename Self, typename Visit> static void fields(Self& c, Visit&& visit)
    {
        visit("unet", c.unet);
        visit("text_encoder", c.textEncoder);
        TrainingLoopConfig::fields(c, visit);
        visit("caption_dropout", c.captionDropout);
        visit("max_tokens", c.maxTokens);
        visit("beta_schedule", c.betaSchedule);
        visit("noise_offset", c.noiseOffset);
    }
};

/// The built-in model's UNet: 32×32 RGB in pixel space, three levels (16, 32, 64 channels), attention at
/// 16×16 and 8×8.
nlohmann::json builtinT2iUNetConfig();
/// The built-in model's text encoder: 3 layers, `width` wide (the UNet's cross_attention_dim), over `vocabSize`
/// tokens and `maxTokens` positions.
nlohmann::json builtinT2iTextConfig(std::int64_t vocabSize, int maxTokens, std::int64_t width);

/// Trains on Fashion-MNIST-style grayscale images (uint8 [N, 1, 32, 32], 10 classes), recoloured and captioned
/// on the fly. Writes `output` (a diffusers folder of the EMA networks, with lethe-manifest.json recording the
/// command, seed, steps and wall time), `output`.state.safetensors (networks, EMA, Adam, step, RNG) and
/// `output`.tokenizer/ (the learnt tokenizer) at every checkpoint, so an interrupted run resumes.
class T2iPretrainer {
public:
    T2iPretrainer(T2iPretrainConfig config, data::ImageSet train, torch::Device device, std::filesystem::path output,
        std::string command);
    ~T2iPretrainer();
    T2iPretrainer(const T2iPretrainer&) = delete;
    T2iPretrainer& operator=(const T2iPretrainer&) = delete;

    /// Continues from the state file next to `output`; throws FormatError when it does not match this run.
    void resume();
    /// Starts from the weights of a model this command wrote before (a diffusers folder: its text encoder and
    /// UNet, into both the trained and the EMA networks). The networks must have the same parameter names and
    /// shapes; otherwise Error names the first that differs. The manifest records the folder and its step.
    void initialiseFrom(const std::filesystem::path& model);
    /// Trains until config.steps or until `cancel` becomes true (then writes a checkpoint and returns).
    void run(const PretrainObserver& observer, const std::atomic<bool>* cancel = nullptr);

    std::int64_t step() const;
    std::int64_t unetParameters() const;
    std::int64_t textEncoderParameters() const;
    static std::filesystem::path statePath(const std::filesystem::path& output);
    static std::filesystem::path tokenizerPath(const std::filesystem::path& output);

private:
    struct State;
    void writeCheckpoint();
    std::unique_ptr<State> m_state;
};

} // namespace lethe::train
