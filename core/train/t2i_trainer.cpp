#include "t2i_trainer.h"

#include "core/io/config_json.h"

#include "adam.h"
#include "core/data/captioned_fashion.h"
#include "core/diffusion/ddpm_loss.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"
#include "core/io/json_text.h"
#include "core/io/model_file.h"
#include "core/io/safetensors.h"
#include "core/models/sd/bpe_trainer.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/nn/state_dict.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace lethe::train {

using nlohmann::json;

json builtinT2iUNetConfig()
{
    return models::sd::unetConfigJson(
        models::sd::UNet2DConditionOptions()
            .sample_size(32)
            .in_channels(3)
            .out_channels(3)
            .block_out_channels({ 16, 32, 64 })
            .down_block_types({ "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D" })
            .up_block_types({ "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D" })
            .layers_per_block({ 1, 1, 1 })
            .attention_head_dim({ 2, 2, 4 })
            .transformer_layers_per_block({ 1, 1, 1 })
            .cross_attention_dim(64)
            .norm_num_groups(8));
}

json builtinT2iTextConfig(std::int64_t vocabSize, int maxTokens, std::int64_t width)
{
    return models::sd::toJson(models::sd::ClipTextOptions()
                                  .vocab_size(vocabSize)
                                  .hidden_size(width)
                                  .intermediate_size(4 * width)
                                  .num_hidden_layers(3)
                                  .num_attention_heads(4)
                                  .max_position_embeddings(maxTokens)
                                  .bos_token_id(vocabSize - 2)
                                  .eos_token_id(vocabSize - 1)
                                  .pad_token_id(vocabSize - 1));
}

namespace {

/// The text encoder and the UNet as one module, so that one Adam, one EMA and one state dict cover both.
class NetworksImpl : public torch::nn::Module {
public:
    NetworksImpl(models::sd::ClipTextModel text, models::sd::UNet2DConditionModel unet)
        : text_encoder(register_module("text_encoder", std::move(text)))
        , unet(register_module("unet", std::move(unet)))
    {
    }
    models::sd::ClipTextModel text_encoder;
    models::sd::UNet2DConditionModel unet;
};
TORCH_MODULE(Networks);

Networks buildNetworks(const json& textConfig, const json& unetConfig)
{
    models::sd::ClipTextModel text(models::sd::clipTextOptionsFromJson(textConfig, "text encoder config"));
    models::sd::UNet2DConditionModel unet
        = models::sd::buildUNet2DCondition(models::sd::unetOptionsFromConfig(unetConfig, "UNet config"));
    return Networks(std::move(text), std::move(unet));
}

} // namespace

struct T2iPretrainer::State : TrainingRunState {
    T2iPretrainConfig config;
    std::optional<models::sd::ClipTokenizer> tokenizer;
    diffusion::DdpmSchedule schedule;
    Networks net { nullptr };
    Networks ema { nullptr };
    json parent; ///< The model initialiseFrom() started from ({ "path", "steps" }); null when none.

    State(T2iPretrainConfig c, data::ImageSet t, torch::Device d, std::filesystem::path o, std::string cmd)
        : TrainingRunState("text-to-image training", std::move(t), d, std::move(o), std::move(cmd), c)
        , config(std::move(c))
    {
    }
};

T2iPretrainer::T2iPretrainer(T2iPretrainConfig config, data::ImageSet train, torch::Device device,
    std::filesystem::path output, std::string command)
    : m_state(
        std::make_unique<State>(std::move(config), std::move(train), device, std::move(output), std::move(command)))
{
    State& s = *m_state;
    if (!(s.config.captionDropout >= 0.0 && s.config.captionDropout < 1.0))
        throw Error("caption dropout must be in [0, 1), found " + std::to_string(s.config.captionDropout));
    if (!(s.config.noiseOffset >= 0.0 && s.config.noiseOffset <= 1.0))
        throw Error("noise offset must be in [0, 1], found " + std::to_string(s.config.noiseOffset));
    if (s.config.betaSchedule == "linear") {
        s.schedule.betaSchedule = diffusion::BetaSchedule::Linear;
        s.schedule.betaStart = 1e-4;
        s.schedule.betaEnd = 0.02;
    } else if (s.config.betaSchedule != "scaled_linear") {
        throw Error("beta schedule must be \"linear\" or \"scaled_linear\", found \"" + s.config.betaSchedule + "\"");
    }
    s.schedule.clipSample = true; // The pixels lie in [−1, 1]: DDIM clamps its x₀ estimates there.
    if (s.train.channels() != 1 || s.train.classCount() != static_cast<int>(data::fashionNouns().size()))
        throw Error("text-to-image pretraining takes grayscale Fashion-MNIST-style images in 10 classes; "
            + s.train.source + " has " + std::to_string(s.train.channels()) + " channel(s) and "
            + std::to_string(s.train.classCount()) + " classes");

    // The tokenizer is learnt from every caption the data can produce, so it is the same for every run.
    const std::filesystem::path tokenizerFolder = tokenizerPath(s.output);
    models::sd::writeClipTokenizerFolder(
        tokenizerFolder, models::sd::learnBpe(data::allFashionCaptions()), s.config.maxTokens);
    s.tokenizer.emplace(tokenizerFolder);
    if (s.config.unet.is_null())
        s.config.unet = builtinT2iUNetConfig();
    const auto unetOptions = models::sd::unetOptionsFromConfig(s.config.unet, "UNet config");
    if (s.config.textEncoder.is_null())
        s.config.textEncoder
            = builtinT2iTextConfig(s.tokenizer->vocabSize(), s.config.maxTokens, unetOptions.cross_attention_dim());
    const auto textOptions = models::sd::clipTextOptionsFromJson(s.config.textEncoder, "text encoder config");
    if (textOptions.hidden_size() != unetOptions.cross_attention_dim())
        throw Error("the text encoder's hidden_size (" + std::to_string(textOptions.hidden_size())
            + ") must equal the UNet's cross_attention_dim (" + std::to_string(unetOptions.cross_attention_dim())
            + ")");
    if (textOptions.vocab_size() < s.tokenizer->vocabSize()
        || textOptions.max_position_embeddings() < s.config.maxTokens)
        throw Error("the text encoder needs vocab_size ≥ " + std::to_string(s.tokenizer->vocabSize())
            + " and max_position_embeddings ≥ " + std::to_string(s.config.maxTokens) + " for the learnt tokenizer");
    if (unetOptions.in_channels() != 3 || unetOptions.out_channels() != 3
        || unetOptions.sample_size() != s.train.height() || s.train.height() != s.train.width())
        throw Error("the UNet must take and return 3 channels at the data's size, " + std::to_string(s.train.height())
            + "×" + std::to_string(s.train.width()));

    torch::manual_seed(s.config.seed);
    s.net = buildNetworks(s.config.textEncoder, s.config.unet);
    s.ema = buildNetworks(s.config.textEncoder, s.config.unet);
    s.adam = prepareNetworks(*s.net, *s.ema, s.device, s.config.lr);
}

T2iPretrainer::~T2iPretrainer() = default;

std::filesystem::path T2iPretrainer::statePath(const std::filesystem::path& output)
{
    return trainingStatePath(output);
}

std::filesystem::path T2iPretrainer::tokenizerPath(const std::filesystem::path& output)
{
    std::filesystem::path path = output;
    path += ".tokenizer";
    return path;
}

std::int64_t T2iPretrainer::step() const
{
    return m_state->step;
}
std::int64_t T2iPretrainer::unetParameters() const
{
    return nn::parameterCount(*m_state->net->unet);
}
std::int64_t T2iPretrainer::textEncoderParameters() const
{
    return nn::parameterCount(*m_state->net->text_encoder);
}

void T2iPretrainer::resume()
{
    State& s = *m_state;
    const auto path = statePath(s.output);
    const io::SafetensorsFile file(path);
    const auto config = file.metadata().find("config");
    json saved;
    if (config != file.metadata().end())
        saved = json::parse(config->second, nullptr, false);
    // A key the saved run lacks predates that setting: the run trained with its default (noise_offset 0).
    const json defaults = io::configToJson(T2iPretrainConfig {});
    for (const char* key :
        { "unet", "text_encoder", "batch", "seed", "caption_dropout", "max_tokens", "beta_schedule", "noise_offset" })
        if (!saved.is_object() || saved.value(key, defaults.at(key)) != io::configToJson(s.config).at(key))
            throw FormatError(path.string(), std::string("__metadata__ config '") + key + "'",
                "the saved run used other settings than this command asks for");
    if (const auto parent = file.metadata().find("parent"); parent != file.metadata().end())
        s.parent = json::parse(parent->second, nullptr, false);
    s.readState(file, *s.net, *s.ema);
}

void T2iPretrainer::initialiseFrom(const std::filesystem::path& model)
{
    State& s = *m_state;
    const models::sd::StableDiffusion init = models::sd::loadStableDiffusion(model, {});
    const auto copy
        = [&](const torch::nn::Module& from, torch::nn::Module& to, torch::nn::Module& ema, const char* part) {
              const auto theirs = nn::stateDict(from);
              const auto ours = nn::stateDict(to);
              for (std::size_t i = 0; i < std::max(theirs.size(), ours.size()); ++i) {
                  const bool same = i < theirs.size() && i < ours.size() && theirs[i].name == ours[i].name
                      && theirs[i].tensor.sizes() == ours[i].tensor.sizes();
                  if (!same)
                      throw Error(model.string() + ": its " + part + " differs from the one to train (at '"
                          + (i < ours.size() ? ours[i].name : theirs[i].name)
                          + "'); starting from a model needs the same networks");
              }
              torch::NoGradGuard noGrad;
              const auto emaState = nn::stateDict(ema);
              for (std::size_t i = 0; i < theirs.size(); ++i) {
                  ours[i].tensor.copy_(theirs[i].tensor);
                  emaState[i].tensor.copy_(theirs[i].tensor);
              }
          };
    copy(*init.textEncoder(), *s.net->text_encoder, *s.ema->text_encoder, "text encoder");
    copy(*init.unet(), *s.net->unet, *s.ema->unet, "UNet");
    json manifest;
    if (std::ifstream in(model / "lethe-manifest.json"); in)
        manifest = json::parse(in, nullptr, false);
    s.parent
        = { { "path", model.string() }, { "steps", manifest.is_object() ? manifest.value("steps", json()) : json() } };
    spdlog::info("initialised from {}", model.string());
}

void T2iPretrainer::writeCheckpoint()
{
    State& s = *m_state;
    const json manifest = { { "format", "lethe.text-to-image" }, { "method", "pretrain-t2i" },
        { "dataset", s.train.source }, { "command", s.command }, { "seed", s.config.seed }, { "steps", s.step },
        { "images_seen", s.step * s.config.batch }, { "wall_seconds", s.wallSeconds }, { "created", io::utcNow() },
        { "config", io::configToJson(s.config) }, { "initialised_from", s.parent },
        { "captions", { { "templates", data::captionTemplates() }, { "nouns", data::fashionNouns() } } },
        // The concept preset tuned for models of this kind (their ε-loss scale): front ends open it with these values.
        { "recommended_preset", "fmnist-t2i" },
        // How the Concept tab draws this model's training and preview images: the built-in model's 30 DDIM steps
        // at guidance 3, where training kept an empty-caption share for classifier-free guidance to contrast with;
        // without one the unconditional prediction was never trained, and guidance 1 (none) is what holds.
        { "recommended_drawing",
            { { "sampler_steps", 30 }, { "guidance", s.config.captionDropout > 0.0 ? 3.0 : 1.0 } } },
        // The prompt preset whose colours, nouns and template are these captions' (data/captioned_fashion.cpp):
        // every model this command trains is captioned that way.
        { "recommended_prompt_preset", "fashion-colours" } };
    const auto sd = models::sd::StableDiffusion::fromComponents(
        tokenizerPath(s.output), s.ema->text_encoder, s.ema->unet, nullptr, s.schedule);
    sd.saveDiffusersFolder(s.output, io::jsonText(manifest, 2), true);

    io::Metadata metadata { { "config", io::configToJson(s.config).dump() } };
    if (!s.parent.is_null())
        metadata["parent"] = s.parent.dump();
    s.writeState(*s.net, *s.ema, metadata);
}

void T2iPretrainer::run(const PretrainObserver& observer, const std::atomic<bool>* cancel)
{
    State& s = *m_state;
    const diffusion::ConditionalNoisePredictor predict
        = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context) {
              return s.net->unet->forward(x, t, context);
          };
    const BatchLoss batchLoss = [&](const std::vector<std::int64_t>& indices) {
        const std::int64_t batch = static_cast<std::int64_t>(indices.size());
        data::CaptionedBatch data = data::captionedBatch(s.train, indices, s.noise);
        const torch::Tensor dropped = torch::rand({ batch }, s.noise, torch::TensorOptions().dtype(torch::kFloat64));
        for (std::int64_t i = 0; i < batch; ++i)
            if (dropped[i].item<double>() < s.config.captionDropout)
                data.captions[static_cast<std::size_t>(i)].clear();
        const torch::Tensor images = diffusion::pixelsToFloat(data.images).to(s.device);
        const diffusion::DdpmDraw draw = diffusion::drawDdpm(images, s.schedule, s.noise, s.config.noiseOffset);
        const torch::Tensor ids = s.tokenizer->encodeBatch(data.captions).to(s.device);
        const torch::Tensor context = s.net->text_encoder->forward(ids).last_hidden_state;
        return diffusion::ddpmLossPerImage(predict, images, context, s.schedule, draw).mean();
    };
    s.runSteps(
        s.config, *s.net, *s.ema, batchLoss, [this] { writeCheckpoint(); }, observer, cancel);
}

} // namespace lethe::train
