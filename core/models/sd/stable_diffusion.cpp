#include "stable_diffusion.h"

#include "autoencoder_kl.h"
#include "clip_text_model.h"
#include "clip_tokenizer.h"
#include "compvis_keys.h"
#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_fields.h"
#include "core/io/json_text.h"
#include "core/models/parameter_bounds.h"
#include "core/nn/state_dict.h"
#include "diffusers_folder.h"
#include "unet_2d_condition.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <optional>
#include <vector>

namespace lethe::models::sd {

struct StableDiffusion::Impl {
    std::optional<ClipTokenizer> tokenizer;
    std::filesystem::path tokenizerFolder;
    ClipTextModel text { nullptr };
    // SDXL's second tokenizer and text encoder; empty and null otherwise.
    std::optional<ClipTokenizer> tokenizer2;
    std::filesystem::path tokenizer2Folder;
    ClipTextModelWithProjection text2 { nullptr };
    bool forceZerosForEmptyPrompt = false;
    UNet2DConditionModel unet { nullptr };
    AutoencoderKL vae { nullptr };
    diffusion::DdpmSchedule schedule;
    SdLoadOptions options;
    std::string kind;
    std::string configSource;
    /// An SD 2.x single file's OpenCLIP tensors a CLIPTextModel has no place for (the dropped resblock,
    /// text_projection, logit_scale), written back to a single file; empty otherwise.
    std::vector<io::NamedTensor> openClipExtras;
    /// An SDXL single file's tensors its networks have no place for (text_encoder's position_ids, text_encoder_2's
    /// logit_scale and any resblock past num_hidden_layers), under their file names, written back to a single file.
    std::vector<io::NamedTensor> xlFileExtras;
};

StableDiffusion::StableDiffusion(std::shared_ptr<Impl> impl)
    : m_impl(std::move(impl))
{
}

StableDiffusion StableDiffusion::fromComponents(const std::filesystem::path& tokenizerFolder, ClipTextModel text,
    UNet2DConditionModel unet, AutoencoderKL vae, const diffusion::DdpmSchedule& schedule, const SdLoadOptions& options)
{
    auto impl = std::make_shared<Impl>();
    impl->tokenizer.emplace(tokenizerFolder);
    impl->tokenizerFolder = tokenizerFolder;
    impl->text = std::move(text);
    impl->unet = std::move(unet);
    impl->vae = std::move(vae);
    impl->schedule = schedule;
    impl->options = options;
    impl->kind = "networks in memory";
    impl->configSource = "the networks";
    return StableDiffusion(impl);
}

StableDiffusion StableDiffusion::withUNet(UNet2DConditionModel unet) const
{
    // The tokenizer holds no copyable state; it is read again from the same files.
    auto impl = std::make_shared<Impl>();
    impl->tokenizer.emplace(m_impl->tokenizerFolder);
    impl->tokenizerFolder = m_impl->tokenizerFolder;
    impl->text = m_impl->text;
    if (m_impl->tokenizer2)
        impl->tokenizer2.emplace(m_impl->tokenizer2Folder);
    impl->tokenizer2Folder = m_impl->tokenizer2Folder;
    impl->text2 = m_impl->text2;
    impl->forceZerosForEmptyPrompt = m_impl->forceZerosForEmptyPrompt;
    impl->unet = std::move(unet);
    impl->vae = m_impl->vae;
    impl->schedule = m_impl->schedule;
    impl->options = m_impl->options;
    impl->kind = m_impl->kind;
    impl->configSource = m_impl->configSource;
    impl->openClipExtras = m_impl->openClipExtras;
    impl->xlFileExtras = m_impl->xlFileExtras;
    return StableDiffusion(impl);
}

ClipTextModel StableDiffusion::textEncoder() const
{
    return m_impl->text;
}
ClipTextModelWithProjection StableDiffusion::textEncoder2() const
{
    return m_impl->text2;
}
bool StableDiffusion::isXl() const
{
    return !m_impl->text2.is_empty();
}
std::string StableDiffusion::family() const
{
    if (isXl())
        return "SDXL";
    return textEncoder()->text_model->options.hidden_act() == ClipActivation::Gelu ? "SD 2.x" : "SD 1.x";
}
UNet2DConditionModel StableDiffusion::unet() const
{
    return m_impl->unet;
}
AutoencoderKL StableDiffusion::vae() const
{
    return m_impl->vae;
}
const ClipTokenizer& StableDiffusion::tokenizer() const
{
    return *m_impl->tokenizer;
}
const diffusion::DdpmSchedule& StableDiffusion::schedule() const
{
    return m_impl->schedule;
}

diffusion::TextToImageModel StableDiffusion::model() const
{
    const std::shared_ptr<Impl> impl = m_impl;
    diffusion::TextToImageModel m;
    m.encodePrompts = [impl](const std::vector<std::string>& prompts) {
        torch::NoGradGuard noGrad;
        const torch::Tensor ids = impl->tokenizer->encodeBatch(prompts).to(impl->options.device);
        if (!impl->text2)
            return impl->text->forward(ids).last_hidden_state;
        // diffusers' SDXL encode_prompt: both encoders' hidden_states[-2], concatenated, and the second's
        // projected pooled output.
        const torch::Tensor ids2 = impl->tokenizer2->encodeBatch(prompts).to(impl->options.device);
        const ClipTextOutput second = impl->text2->forward(ids2);
        const torch::Tensor hidden
            = torch::cat({ impl->text->forward(ids).penultimate_hidden_state, second.penultimate_hidden_state }, -1);
        return packXlContext(hidden, impl->text2->project(second));
    };
    const std::int64_t latentScale
        = impl->vae ? std::int64_t { 1 } << (impl->vae->options.block_out_channels().size() - 1) : 1;
    m.predictNoise = [impl, latentScale](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context) {
        return conditionedUNetForward(*impl->unet, x, t, context, latentScale);
    };
    m.zeroEmptyNegativePrompt = impl->text2 && impl->forceZerosForEmptyPrompt;
    if (impl->vae) {
        m.decode
            = [impl](const torch::Tensor& latents) { return impl->vae->decode(latents / impl->vae->scalingFactor()); };
        m.latentChannels = impl->vae->options.latent_channels();
        m.latentScale = latentScale;
    } else {
        m.latentChannels = impl->unet->options.in_channels();
        m.latentScale = 1;
    }
    m.schedule = impl->schedule;
    m.dtype = impl->options.dtype;
    m.device = impl->options.device;
    return m;
}

std::int64_t StableDiffusion::defaultImageSize() const
{
    return m_impl->unet->options.sample_size() * model().latentScale;
}

std::int64_t StableDiffusion::unetParameters() const
{
    return nn::parameterCount(*m_impl->unet);
}
std::int64_t StableDiffusion::textEncoderParameters() const
{
    return nn::parameterCount(*m_impl->text) + (m_impl->text2 ? nn::parameterCount(*m_impl->text2) : 0);
}
std::int64_t StableDiffusion::vaeParameters() const
{
    return m_impl->vae ? nn::parameterCount(*m_impl->vae) : 0;
}
std::string StableDiffusion::sourceKind() const
{
    return m_impl->kind;
}
std::string StableDiffusion::configSource() const
{
    return m_impl->configSource;
}

namespace {

// The metadata keys under which a Lethe single file carries its component configs.
const char* const kUNetConfigKey = "lethe.unet_config";
const char* const kVaeConfigKey = "lethe.vae_config";
const char* const kTextEncoderConfigKey = "lethe.text_encoder_config";
const char* const kSchedulerConfigKey = "lethe.scheduler_config";
const char* const kTextEncoder2ConfigKey = "lethe.text_encoder_2_config";
const char* const kForceZerosKey = "lethe.force_zeros_for_empty_prompt";

bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

bool hasTensorUnder(const io::SafetensorsFile& file, const std::string& prefix)
{
    for (const io::TensorEntry& entry : file.entries())
        if (startsWith(entry.name, prefix))
            return true;
    return false;
}

UNetLayout unetLayout(const UNet2DConditionOptions& options, const std::string& file)
{
    UNetLayout layout;
    layout.blocks = static_cast<int>(options.block_out_channels().size());
    const std::vector<std::int64_t>& layers = options.layers_per_block();
    for (std::int64_t n : layers)
        if (n != layers.front())
            throw FormatError(file, "key 'layers_per_block'",
                "a CompVis single file needs the same number of layers in every block, found "
                    + nlohmann::json(layers).dump());
    layout.layersPerBlock = static_cast<int>(layers.front());
    layout.addedEmbedding = !options.addition_embed_type().empty();
    layout.downHasAttention.clear();
    for (const std::string& type : options.down_block_types())
        layout.downHasAttention.push_back(type == "CrossAttnDownBlock2D");
    layout.upHasAttention.clear();
    for (const std::string& type : options.up_block_types())
        layout.upHasAttention.push_back(type == "CrossAttnUpBlock2D");
    return layout;
}

VaeLayout vaeLayout(const AutoencoderKLOptions& options)
{
    VaeLayout layout;
    layout.blocks = static_cast<int>(options.block_out_channels().size());
    layout.layersPerBlock = static_cast<int>(options.layers_per_block());
    return layout;
}

/// Refuses a UNet whose input is not the VAE's latents alone: SD 2.x's depth (5 channels) and inpainting (9) UNets
/// also take a depth map or a mask and masked image, which Lethe does not make.
void requireLatentChannels(
    const UNet2DConditionOptions& unet, const AutoencoderKLOptions& vae, const std::string& unetConfig)
{
    if (unet.in_channels() != vae.latent_channels())
        throw FormatError(unetConfig, "key 'in_channels'",
            "expected " + std::to_string(vae.latent_channels()) + " (the VAE's latent_channels), found "
                + std::to_string(unet.in_channels())
                + ": a UNet that takes more than the latents (SD 2.x depth: 5, inpainting: 9) needs a depth map or "
                  "mask, which Lethe does not make");
}

/// A single file's first stage (`first_stage_model.`, attention as 1×1 convolutions), checked against its config and
/// the UNet's latent channels before it is built; `vaeSource` and `unetSource` name the configs in errors.
AutoencoderKL loadCompvisVae(const io::SafetensorsFile& file, const AutoencoderKLOptions& vaeOptions,
    const std::string& vaeSource, const UNet2DConditionOptions& unetOptions, const std::string& unetSource,
    const SdLoadOptions& options)
{
    requireWeightsFor(minimumParameters(vaeOptions), file, vaeSource);
    requireLatentChannels(unetOptions, vaeOptions, unetSource);
    AutoencoderKL vae = buildAutoencoderKL(vaeOptions);
    vae->to(options.device, options.dtype);
    nn::LoadOptions load;
    load.mapping = compvisVaeMapping(vaeLayout(vaeOptions));
    load.acceptTrailingUnitDims = true;
    loadVaeWeights(vae, file, load);
    return vae;
}

/// One component config of a single file: the file's metadata, else the components folder, else the default.
class ConfigFinder {
public:
    /// `sd2`: the file is SD 2.x's, whose UNet, text encoder and scheduler configs have no default (see find);
    /// `xl`: SDXL's, which has no default config at all.
    ConfigFinder(const io::SafetensorsFile& file, std::filesystem::path components, bool sd2 = false, bool xl = false)
        : m_file(file)
        , m_components(std::move(components))
        , m_sd2(sd2)
        , m_xl(xl)
    {
    }

    /// The config object, or nullopt for the SD 1.x default; records where it came from under `component`.
    std::optional<std::pair<nlohmann::json, std::string>> find(
        const std::string& component, const char* metadataKey, const std::filesystem::path& folderFile)
    {
        const auto it = m_file.metadata().find(metadataKey);
        if (it != m_file.metadata().end()) {
            const std::string where = m_file.path().string() + " metadata " + metadataKey;
            nlohmann::json config = nlohmann::json::parse(it->second, nullptr, false);
            if (config.is_discarded() || !config.is_object())
                throw FormatError(m_file.path().string(), std::string("metadata ") + metadataKey,
                    "not a JSON object (a config written by Lethe)");
            record(component, "file metadata");
            return std::make_pair(std::move(config), where);
        }
        if (!m_components.empty() && std::filesystem::is_regular_file(m_components / folderFile)) {
            const std::filesystem::path path = m_components / folderFile;
            record(component, "components folder");
            return std::make_pair(io::readJsonObjectFile(path), path.string());
        }
        // SD 2.x comes as 512 px ε-prediction and 768 px v-prediction models whose files do not tell them apart;
        // only its VAE is SD 1.x's.
        // (An Error, not a FormatError: loadSingleFile's hint about SD 1.x defaults does not apply.)
        if (m_sd2 && component != "vae")
            throw Error(m_file.path().string() + ": " + component + " config: an SD 2.x single file (OpenCLIP text "
                + "encoder under " + kCompvisOpenClipPrefix
                + ") has no default configs: pass its diffusers folder as the components folder (lethe-cli "
                  "--components DIR), holding "
                + folderFile.generic_string());
        // SDXL's VAE is SD 1.x's network with another scaling factor, so not even it has a default.
        if (m_xl)
            throw Error(m_file.path().string() + ": " + component
                + " config: an SDXL single file (conditioner.embedders.*) has no default configs: pass its diffusers "
                  "folder as the components folder (lethe-cli --components DIR), holding "
                + folderFile.generic_string());
        record(component, "SD 1.x defaults");
        return std::nullopt;
    }

    /// "file metadata" when every component agrees, else "unet: …, vae: …".
    std::string summary() const
    {
        bool same = true;
        for (const auto& [component, source] : m_sources)
            same = same && source == m_sources.front().second;
        if (same && !m_sources.empty())
            return m_sources.front().second;
        std::string text;
        for (const auto& [component, source] : m_sources)
            text += (text.empty() ? "" : ", ") + component + ": " + source;
        return text;
    }

private:
    void record(const std::string& component, const std::string& source) { m_sources.emplace_back(component, source); }

    const io::SafetensorsFile& m_file;
    std::filesystem::path m_components;
    std::vector<std::pair<std::string, std::string>> m_sources;
    bool m_sd2 = false;
    bool m_xl = false;
};

/// The tokenizer folder a single file's components folder supplies.
std::filesystem::path tokenizerFolder(const std::filesystem::path& singleFile, const std::filesystem::path& components)
{
    const char* const hint = "a CompVis single file carries no tokenizer: pass a components folder (lethe-cli "
                             "--components DIR), such as the diffusers folder of the same model family, holding "
                             "tokenizer/vocab.json and tokenizer/merges.txt";
    if (components.empty())
        throw Error(singleFile.string() + ": " + hint);
    if (std::filesystem::is_regular_file(components / "tokenizer" / "vocab.json"))
        return components / "tokenizer";
    if (std::filesystem::is_regular_file(components / "vocab.json"))
        return components;
    throw Error(components.string() + ": no tokenizer/vocab.json or vocab.json here; " + hint);
}

StableDiffusion loadSingleFileWithConfigs(const io::SafetensorsFile& file, ConfigFinder& configs,
    const std::filesystem::path& tokenizer, const SdLoadOptions& options);

void requireXlUNetFits(const StableDiffusion::Impl& impl, const UNet2DConditionOptions& u,
    const std::string& unetConfig, const std::string& tokenizer2);

/// SDXL's second tokenizer and text encoder, checked against the UNet options `u` that will condition on them
/// before the UNet's weights are read.
void loadXlParts(StableDiffusion::Impl& impl, const DiffusersIndex& index, const UNet2DConditionOptions& u)
{
    const std::filesystem::path& path = index.folder;
    const std::string unetConfig = (path / "unet" / "config.json").string();
    if (u.addition_embed_type() != "text_time")
        throw FormatError(unetConfig, "key 'addition_embed_type'",
            "model_index.json lists text_encoder_2 (SDXL), but this UNet has no \"text_time\" added embedding "
            "for its pooled output");
    if (!index.has("text_encoder_2"))
        throw FormatError(unetConfig, "key 'addition_embed_type'",
            "\"text_time\" (SDXL) needs text_encoder_2 and tokenizer_2, which model_index.json does not list");
    impl.tokenizer2.emplace(path / "tokenizer_2");
    impl.tokenizer2Folder = path / "tokenizer_2";
    impl.text2 = loadClipTextModelWithProjection(path / "text_encoder_2", impl.options.dtype, impl.options.device);
    impl.forceZerosForEmptyPrompt = index.forceZerosForEmptyPrompt;
    requireXlUNetFits(impl, u, unetConfig, (path / "tokenizer_2").string());
}

/// SDXL's UNet options `u` (from `unetConfig`) against the two text encoders and tokenizers of `impl`.
void requireXlUNetFits(const StableDiffusion::Impl& impl, const UNet2DConditionOptions& u,
    const std::string& unetConfig, const std::string& tokenizer2)
{
    const ClipTextOptions& first = impl.text->text_model->options;
    const ClipTextOptions& second = impl.text2->text_model->options;
    if (u.cross_attention_dim() != first.hidden_size() + second.hidden_size())
        throw FormatError(unetConfig, "key 'cross_attention_dim'",
            "expected " + std::to_string(first.hidden_size() + second.hidden_size())
                + ", the two text encoders' hidden sizes together, found " + std::to_string(u.cross_attention_dim()));
    if (u.projection_class_embeddings_input_dim() != second.projection_dim() + 6 * u.addition_time_embed_dim())
        throw FormatError(unetConfig, "key 'projection_class_embeddings_input_dim'",
            "expected " + std::to_string(second.projection_dim() + 6 * u.addition_time_embed_dim())
                + " (text_encoder_2's projection_dim + 6 time ids × addition_time_embed_dim), found "
                + std::to_string(u.projection_class_embeddings_input_dim()));
    if (impl.tokenizer2->maxLength() != impl.tokenizer->maxLength())
        throw FormatError(tokenizer2, "model_max_length",
            "expected " + std::to_string(impl.tokenizer->maxLength()) + " as in tokenizer/, found "
                + std::to_string(impl.tokenizer2->maxLength()));
}

StableDiffusion loadXlSingleFile(const io::SafetensorsFile& file, const SdLoadOptions& options);

StableDiffusion loadSingleFile(const std::filesystem::path& path, const SdLoadOptions& options)
{
    const io::SafetensorsFile file(path);
    const std::string name = path.string();
    if (!hasTensorUnder(file, kCompvisUNetPrefix))
        throw FormatError(name, kCompvisUNetPrefix,
            "no UNet tensors under this prefix: not a CompVis Stable Diffusion checkpoint (a UNet-only or LoRA "
            "file cannot be loaded on its own)");
    if (hasTensorUnder(file, "conditioner.embedders.1."))
        return loadXlSingleFile(file, options);
    // SD 1.x's CLIP text encoder, or SD 2.x's OpenCLIP one: the family shows in the text encoder's names.
    const bool openClip = !hasTensorUnder(file, kCompvisTextEncoderPrefix);
    if (openClip && !hasTensorUnder(file, kCompvisOpenClipPrefix))
        throw FormatError(name, kCompvisTextEncoderPrefix,
            std::string("no text encoder tensors under this prefix (SD 1.x) nor under ") + kCompvisOpenClipPrefix
                + " (SD 2.x)");

    const std::filesystem::path tokenizer = tokenizerFolder(path, options.components);
    ConfigFinder configs(file, options.components, openClip);
    try {
        return loadSingleFileWithConfigs(file, configs, tokenizer, options);
    } catch (const FormatError& e) {
        // Weights that do not fit SD 1.x's shapes usually mean a smaller model given without its configs.
        if (configs.summary().find("SD 1.x defaults") == std::string::npos || e.file() != name)
            throw;
        throw FormatError(e.file(), e.where(),
            e.problem() + " (configs: " + configs.summary()
                + "; for a model of another size pass its diffusers folder as the components folder)");
    }
}

StableDiffusion loadSingleFileWithConfigs(const io::SafetensorsFile& file, ConfigFinder& configs,
    const std::filesystem::path& tokenizer, const SdLoadOptions& options)
{
    auto impl = std::make_shared<StableDiffusion::Impl>();
    impl->options = options;
    impl->kind = "CompVis single file";
    impl->tokenizer.emplace(tokenizer);
    impl->tokenizerFolder = tokenizer;

    const auto textConfig = configs.find("text_encoder", kTextEncoderConfigKey, "text_encoder/config.json");
    const ClipTextOptions textOptions
        = textConfig ? clipTextOptionsFromJson(textConfig->first, textConfig->second) : clipTextSd1Options();
    requireWeightsFor(
        minimumParameters(textOptions), file, textConfig ? textConfig->second : "the SD 1.x text encoder config");
    // A single file's writer picks OpenCLIP's layout by the activation (saveCompvisSingleFile), so that a file
    // reloads with the layout it has.
    const bool openClip = !hasTensorUnder(file, kCompvisTextEncoderPrefix);
    if (openClip && textOptions.hidden_act() != ClipActivation::Gelu)
        throw FormatError(textConfig->second, "key 'hidden_act'",
            std::string("the file's text encoder is OpenCLIP's (") + kCompvisOpenClipPrefix
                + "*, SD 2.x), whose activation is \"gelu\"; found \"" + enumName(textOptions.hidden_act()) + "\"");
    impl->text = ClipTextModel(textOptions);
    impl->text->to(options.device, options.dtype);
    if (openClip) {
        impl->openClipExtras = loadOpenClipTextWeights(*impl->text, file);
    } else {
        nn::LoadOptions textLoad;
        textLoad.mapping = compvisTextEncoderMapping();
        loadClipTextWeights(*impl->text, file, textLoad);
    }
    impl->text->eval();

    const auto unetConfig = configs.find("unet", kUNetConfigKey, "unet/config.json");
    UNet2DConditionOptions unetOptions
        = unetConfig ? unetOptionsFromConfig(unetConfig->first, unetConfig->second) : stableDiffusion1UNetOptions();
    unetOptions.attention_backend(
        options.memoryEfficientAttention ? AttentionBackend::MemoryEfficient : AttentionBackend::Standard);
    requireWeightsFor(minimumParameters(unetOptions), file, unetConfig ? unetConfig->second : "the SD 1.x UNet config");
    impl->unet = buildUNet2DCondition(unetOptions);
    impl->unet->to(options.device, options.dtype);
    nn::LoadOptions unetLoad;
    unetLoad.mapping
        = compvisUNetMapping(unetLayout(unetOptions, unetConfig ? unetConfig->second : "SD 1.x UNet config"));
    loadUNetWeights(impl->unet, file, unetLoad);

    // A pixel-space model (such as the built-in text-to-image default) has no first stage.
    if (hasTensorUnder(file, kCompvisVaePrefix)) {
        const auto vaeConfig = configs.find("vae", kVaeConfigKey, "vae/config.json");
        const AutoencoderKLOptions vaeOptions
            = vaeConfig ? vaeOptionsFromConfig(vaeConfig->first, vaeConfig->second) : stableDiffusion1VaeOptions();
        impl->vae = loadCompvisVae(file, vaeOptions, vaeConfig ? vaeConfig->second : "the SD 1.x VAE config",
            unetOptions, unetConfig ? unetConfig->second : "the SD 1.x UNet config", options);
    }

    const auto schedulerConfig = configs.find("scheduler", kSchedulerConfigKey, "scheduler/scheduler_config.json");
    if (schedulerConfig)
        impl->schedule = diffusion::ddpmScheduleFromJson(schedulerConfig->first, schedulerConfig->second);
    impl->configSource = configs.summary();
    return StableDiffusion(impl);
}

/// An SDXL single file (Stability's generative-models layout): text_encoder under conditioner.embedders.0.transformer.
/// in transformers' names, text_encoder_2 under conditioner.embedders.1.model. in OpenCLIP's, the UNet (with
/// label_emb for add_embedding) and VAE as in SD 1.x files. Every config comes from the file's metadata or the
/// components folder, which also supplies tokenizer/ and tokenizer_2/.
StableDiffusion loadXlSingleFile(const io::SafetensorsFile& file, const SdLoadOptions& options)
{
    const std::filesystem::path& path = file.path();
    auto impl = std::make_shared<StableDiffusion::Impl>();
    impl->options = options;
    impl->kind = "CompVis single file";
    const std::filesystem::path tokenizer = tokenizerFolder(path, options.components);
    const std::filesystem::path tokenizer2 = options.components / "tokenizer_2";
    if (!std::filesystem::is_regular_file(tokenizer2 / "vocab.json"))
        throw Error(options.components.string()
            + ": no tokenizer_2/vocab.json here; an SDXL single file carries neither of its tokenizers: pass its "
              "diffusers folder as the components folder (lethe-cli --components DIR), holding tokenizer/ and "
              "tokenizer_2/");
    impl->tokenizer.emplace(tokenizer);
    impl->tokenizerFolder = tokenizer;
    impl->tokenizer2.emplace(tokenizer2);
    impl->tokenizer2Folder = tokenizer2;
    ConfigFinder configs(file, options.components, false, true);

    const auto textConfig = configs.find("text_encoder", kTextEncoderConfigKey, "text_encoder/config.json");
    const ClipTextOptions textOptions = clipTextOptionsFromJson(textConfig->first, textConfig->second);
    requireWeightsFor(minimumParameters(textOptions), file, textConfig->second);
    const auto text2Config = configs.find("text_encoder_2", kTextEncoder2ConfigKey, "text_encoder_2/config.json");
    const ClipTextOptions text2Options = clipTextOptionsFromJson(text2Config->first, text2Config->second);
    requireWeightsFor(minimumParameters(text2Options), file, text2Config->second);
    const auto unetConfig = configs.find("unet", kUNetConfigKey, "unet/config.json");
    UNet2DConditionOptions unetOptions = unetOptionsFromConfig(unetConfig->first, unetConfig->second);
    unetOptions.attention_backend(
        options.memoryEfficientAttention ? AttentionBackend::MemoryEfficient : AttentionBackend::Standard);
    if (unetOptions.addition_embed_type() != "text_time")
        throw FormatError(unetConfig->second, "key 'addition_embed_type'",
            "the file is SDXL's (conditioner.embedders.1.*), but this UNet has no \"text_time\" added embedding for "
            "text_encoder_2's pooled output");
    requireWeightsFor(minimumParameters(unetOptions), file, unetConfig->second);

    impl->text = ClipTextModel(textOptions);
    impl->text->to(options.device, options.dtype);
    nn::LoadOptions textLoad;
    textLoad.mapping = compvisTextEncoderMapping(kSgmTextEncoderPrefix);
    loadClipTextWeights(*impl->text, file, textLoad);
    impl->text->eval();
    for (const char* name : { "text_model.embeddings.position_ids", "embeddings.position_ids" })
        if (file.contains(std::string(kSgmTextEncoderPrefix) + name))
            impl->xlFileExtras.push_back(
                { std::string(kSgmTextEncoderPrefix) + name, file.tensor(std::string(kSgmTextEncoderPrefix) + name) });
    impl->text2 = ClipTextModelWithProjection(text2Options);
    impl->text2->to(options.device, options.dtype);
    for (io::NamedTensor& t : loadOpenClipTextWeights(*impl->text2, file, kSgmOpenClipPrefix))
        impl->xlFileExtras.push_back({ kSgmOpenClipPrefix + t.name, t.tensor });
    impl->text2->eval();
    requireXlUNetFits(*impl, unetOptions, unetConfig->second, tokenizer2.string());

    impl->forceZerosForEmptyPrompt = true;
    if (const auto it = file.metadata().find(kForceZerosKey); it != file.metadata().end()) {
        if (it->second != "true" && it->second != "false")
            throw FormatError(path.string(), std::string("metadata ") + kForceZerosKey,
                "expected true or false, found '" + it->second + "'");
        impl->forceZerosForEmptyPrompt = it->second == "true";
    } else if (const std::filesystem::path index = options.components / "model_index.json";
               std::filesystem::is_regular_file(index)) {
        const nlohmann::json object = io::readJsonObjectFile(index);
        impl->forceZerosForEmptyPrompt
            = io::JsonFields(object, index.string()).get<bool>("force_zeros_for_empty_prompt", true);
    }

    impl->unet = buildUNet2DCondition(unetOptions);
    impl->unet->to(options.device, options.dtype);
    nn::LoadOptions unetLoad;
    unetLoad.mapping = compvisUNetMapping(unetLayout(unetOptions, unetConfig->second));
    loadUNetWeights(impl->unet, file, unetLoad);

    if (hasTensorUnder(file, kCompvisVaePrefix)) {
        const auto vaeConfig = configs.find("vae", kVaeConfigKey, "vae/config.json");
        const AutoencoderKLOptions vaeOptions = vaeOptionsFromConfig(vaeConfig->first, vaeConfig->second);
        impl->vae = loadCompvisVae(file, vaeOptions, vaeConfig->second, unetOptions, unetConfig->second, options);
    }

    const auto schedulerConfig = configs.find("scheduler", kSchedulerConfigKey, "scheduler/scheduler_config.json");
    impl->schedule = diffusion::ddpmScheduleFromJson(schedulerConfig->first, schedulerConfig->second);
    impl->configSource = configs.summary();
    return StableDiffusion(impl);
}

} // namespace

torch::Tensor packXlContext(const torch::Tensor& hidden, const torch::Tensor& pooled)
{
    if (hidden.dim() != 3 || pooled.dim() != 2 || pooled.size(0) != hidden.size(0) || pooled.size(1) > hidden.size(2))
        throw Error("SDXL context: expected hidden states [N, L, D] and a pooled embedding [N, P ≤ D], got "
            + nn::shapeText(hidden.sizes().vec()) + " and " + nn::shapeText(pooled.sizes().vec()));
    const torch::Tensor row
        = torch::constant_pad_nd(pooled.to(hidden.scalar_type()), { 0, hidden.size(2) - pooled.size(1) }, 0);
    return torch::cat({ hidden, row.unsqueeze(1) }, 1);
}

torch::Tensor conditionedUNetForward(UNet2DConditionModelImpl& unet, const torch::Tensor& x, const torch::Tensor& t,
    const torch::Tensor& context, std::int64_t latentScale)
{
    const UNet2DConditionOptions& o = unet.options;
    if (o.addition_embed_type() != "text_time")
        return unet.forward(x, t, context);
    const std::int64_t pooled = o.projection_class_embeddings_input_dim() - 6 * o.addition_time_embed_dim();
    if (context.dim() != 3 || context.size(1) < 2 || pooled < 1 || pooled > context.size(2))
        throw Error("SDXL UNet: expected a packed context [N, L + 1, D] holding a pooled embedding of "
            + std::to_string(pooled) + " values, got " + nn::shapeText(context.sizes().vec()));
    const std::int64_t tokens = context.size(1) - 1;
    const double height = static_cast<double>(x.size(2) * latentScale);
    const double width = static_cast<double>(x.size(3) * latentScale);
    const torch::Tensor ids
        = torch::tensor({ height, width, 0.0, 0.0, height, width }, torch::dtype(torch::kFloat32).device(x.device()))
              .unsqueeze(0)
              .expand({ x.size(0), 6 });
    return unet.forward(x, t, context.narrow(1, 0, tokens), { context.select(1, tokens).narrow(1, 0, pooled), ids });
}

void StableDiffusion::saveDiffusersFolder(
    const std::filesystem::path& folder, const std::string& manifest, bool replace) const
{
    namespace fs = std::filesystem;
    if (fs::exists(folder) && !replace)
        throw Error(folder.string() + " already exists; choose a new folder for the diffusers export");
    const fs::path parent = folder.has_parent_path() ? folder.parent_path() : fs::path(".");
    fs::create_directories(parent);
    const fs::path partial = parent / (folder.filename().string() + ".partial");
    fs::remove_all(partial);
    try {
        for (const char* component : { "unet", "text_encoder", "tokenizer", "scheduler" })
            fs::create_directories(partial / component);
        nlohmann::json index = { { "_class_name", "StableDiffusionPipeline" }, { "_diffusers_version", "0.21.4" },
            { "scheduler", { "diffusers", "DDIMScheduler" } }, { "text_encoder", { "transformers", "CLIPTextModel" } },
            { "tokenizer", { "transformers", "CLIPTokenizer" } }, { "unet", { "diffusers", "UNet2DConditionModel" } },
            { "vae", { nullptr, nullptr } }, { "safety_checker", { nullptr, nullptr } },
            { "feature_extractor", { nullptr, nullptr } }, { "requires_safety_checker", false } };
        if (m_impl->text2) {
            index = { { "_class_name", "StableDiffusionXLPipeline" }, { "_diffusers_version", "0.21.4" },
                { "scheduler", { "diffusers", "DDIMScheduler" } },
                { "text_encoder", { "transformers", "CLIPTextModel" } },
                { "text_encoder_2", { "transformers", "CLIPTextModelWithProjection" } },
                { "tokenizer", { "transformers", "CLIPTokenizer" } },
                { "tokenizer_2", { "transformers", "CLIPTokenizer" } },
                { "unet", { "diffusers", "UNet2DConditionModel" } }, { "vae", { nullptr, nullptr } },
                { "force_zeros_for_empty_prompt", m_impl->forceZerosForEmptyPrompt } };
            fs::create_directories(partial / "text_encoder_2");
            fs::create_directories(partial / "tokenizer_2");
            io::writeFileAtomically(partial / "text_encoder_2" / "config.json",
                io::jsonText(toJson(m_impl->text2->text_model->options, "CLIPTextModelWithProjection"), 2));
            nn::saveStateDict(partial / "text_encoder_2" / "model.safetensors", *m_impl->text2);
            for (const char* name : { "vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json" })
                if (fs::is_regular_file(m_impl->tokenizer2Folder / name))
                    fs::copy_file(m_impl->tokenizer2Folder / name, partial / "tokenizer_2" / name);
        }
        io::writeFileAtomically(
            partial / "unet" / "config.json", io::jsonText(unetConfigJson(m_impl->unet->options), 2));
        nn::saveStateDict(partial / "unet" / "diffusion_pytorch_model.safetensors", *m_impl->unet);
        io::writeFileAtomically(
            partial / "text_encoder" / "config.json", io::jsonText(toJson(m_impl->text->text_model->options), 2));
        nn::saveStateDict(partial / "text_encoder" / "model.safetensors", *m_impl->text);
        if (m_impl->vae) {
            fs::create_directories(partial / "vae");
            io::writeFileAtomically(
                partial / "vae" / "config.json", io::jsonText(vaeConfigJson(m_impl->vae->options), 2));
            nn::saveStateDict(partial / "vae" / "diffusion_pytorch_model.safetensors", *m_impl->vae);
            index["vae"] = { "diffusers", "AutoencoderKL" };
        }
        nlohmann::json scheduler = diffusion::toJson(m_impl->schedule);
        scheduler["_class_name"] = "DDIMScheduler";
        io::writeFileAtomically(partial / "scheduler" / "scheduler_config.json", io::jsonText(scheduler, 2));
        for (const char* name : { "vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json" })
            if (fs::is_regular_file(m_impl->tokenizerFolder / name))
                fs::copy_file(m_impl->tokenizerFolder / name, partial / "tokenizer" / name);
        if (!manifest.empty())
            io::writeFileAtomically(partial / "lethe-manifest.json", manifest);
        io::writeFileAtomically(partial / "model_index.json", io::jsonText(index, 2));
        if (fs::exists(folder)) {
            // Swap: the old folder goes aside first, and only once the new one is in place is it removed.
            const fs::path old = parent / (folder.filename().string() + ".old");
            fs::remove_all(old);
            fs::rename(folder, old);
            fs::rename(partial, folder);
            fs::remove_all(old);
        } else {
            fs::rename(partial, folder);
        }
    } catch (...) {
        std::error_code ignored;
        fs::remove_all(partial, ignored);
        throw;
    }
}

void StableDiffusion::saveCompvisSingleFile(
    const std::filesystem::path& path, const std::map<std::string, std::string>& metadata) const
{
    std::vector<io::NamedTensor> tensors;
    const auto add = [&](const std::string& diffusersName, const std::optional<std::string>& compvisName,
                         const char* prefix, const torch::Tensor& tensor) {
        if (!compvisName)
            throw Error("no CompVis name for the tensor " + diffusersName
                + "; this model cannot be written as a "
                  "CompVis single file");
        tensors.push_back({ prefix + *compvisName, tensor });
    };
    const UNetLayout unet = unetLayout(m_impl->unet->options, "the UNet config");
    for (const io::NamedTensor& t : nn::stateDict(*m_impl->unet))
        add(t.name, diffusersToCompvisUNet(t.name, unet), kCompvisUNetPrefix, t.tensor);
    if (m_impl->vae) {
        const VaeLayout vae = vaeLayout(m_impl->vae->options);
        for (const io::NamedTensor& t : nn::stateDict(*m_impl->vae)) {
            // CompVis' mid-block attention projections are 1×1 convolutions.
            const torch::Tensor tensor = t.tensor.dim() == 2 ? t.tensor.unsqueeze(-1).unsqueeze(-1) : t.tensor;
            add(t.name, diffusersToCompvisVae(t.name, vae), kCompvisVaePrefix, tensor);
        }
    }
    if (m_impl->text2) {
        // SDXL: text_encoder in transformers' names, text_encoder_2 in OpenCLIP's, whatever their activations.
        for (const io::NamedTensor& t : nn::stateDict(*m_impl->text))
            add(t.name, diffusersToCompvisTextEncoder(t.name), kSgmTextEncoderPrefix, t.tensor);
        for (io::NamedTensor& t : openClipTextTensors(*m_impl->text2))
            tensors.push_back({ kSgmOpenClipPrefix + t.name, t.tensor });
        const torch::ScalarType dtype = m_impl->text2->text_model->final_layer_norm->weight.scalar_type();
        for (const io::NamedTensor& t : m_impl->xlFileExtras)
            tensors.push_back({ t.name, t.tensor.is_floating_point() ? t.tensor.to(dtype) : t.tensor });
    }
    // OpenCLIP's text encoder (SD 2.x) is the one with the exact GELU; OpenAI's CLIP (SD 1.x) uses quick_gelu.
    else if (m_impl->text->text_model->options.hidden_act() == ClipActivation::Gelu)
        for (io::NamedTensor& t : openClipTextTensors(*m_impl->text, m_impl->openClipExtras))
            tensors.push_back({ kCompvisOpenClipPrefix + t.name, t.tensor });
    else
        for (const io::NamedTensor& t : nn::stateDict(*m_impl->text))
            add(t.name, diffusersToCompvisTextEncoder(t.name), kCompvisTextEncoderPrefix, t.tensor);

    io::Metadata all = metadata;
    all[kUNetConfigKey] = unetConfigJson(m_impl->unet->options).dump();
    all[kTextEncoderConfigKey] = toJson(m_impl->text->text_model->options).dump();
    all[kSchedulerConfigKey] = diffusion::toJson(m_impl->schedule).dump();
    if (m_impl->vae)
        all[kVaeConfigKey] = vaeConfigJson(m_impl->vae->options).dump();
    if (m_impl->text2) {
        all[kTextEncoder2ConfigKey] = toJson(m_impl->text2->text_model->options, "CLIPTextModelWithProjection").dump();
        all[kForceZerosKey] = m_impl->forceZerosForEmptyPrompt ? "true" : "false";
    }
    io::writeSafetensors(path, tensors, all);
}

StableDiffusion loadStableDiffusion(const std::filesystem::path& path, const SdLoadOptions& options)
{
    if (sdSourceKind(path) == SdSourceKind::SingleFile)
        return loadSingleFile(path, options);
    const DiffusersIndex index = readModelIndex(path);
    auto impl = std::make_shared<StableDiffusion::Impl>();
    impl->options = options;
    impl->kind = "diffusers folder";
    impl->configSource = "the diffusers folder";
    impl->tokenizer.emplace(path / "tokenizer");
    impl->tokenizerFolder = path / "tokenizer";
    impl->text = loadClipTextModel(path / "text_encoder", options.dtype, options.device);
    // SDXL: the UNet's config is checked against both text encoders before its weights are read.
    const std::filesystem::path unetConfig = path / "unet" / "config.json";
    const UNet2DConditionOptions unetOptions
        = unetOptionsFromConfig(io::readJsonObjectFile(unetConfig), unetConfig.string());
    if (index.has("text_encoder_2") || unetOptions.addition_embed_type() == "text_time")
        loadXlParts(*impl, index, unetOptions);
    if (const std::filesystem::path vaeConfig = path / "vae" / "config.json";
        index.has("vae") && std::filesystem::is_regular_file(vaeConfig))
        requireLatentChannels(unetOptions, vaeOptionsFromConfig(io::readJsonObjectFile(vaeConfig), vaeConfig.string()),
            unetConfig.string());
    impl->unet = loadUNet2DCondition(path / "unet", options.dtype, options.device,
        options.memoryEfficientAttention ? AttentionBackend::MemoryEfficient : AttentionBackend::Standard);
    if (index.has("vae"))
        impl->vae = loadAutoencoderKL(path / "vae", options.dtype, options.device);
    const std::filesystem::path schedulerConfig = path / "scheduler" / "scheduler_config.json";
    impl->schedule = diffusion::ddpmScheduleFromJson(io::readJsonObjectFile(schedulerConfig), schedulerConfig.string());
    return StableDiffusion(impl);
}

torch::Dtype computeDtypeFromName(const std::string& name)
{
    if (name == "float32" || name == "fp32")
        return torch::kFloat32;
    if (name == "float16" || name == "fp16")
        return torch::kFloat16;
    if (name == "bfloat16" || name == "bf16")
        return torch::kBFloat16;
    throw Error("unknown compute dtype '" + name + "' (expected float32, float16 or bfloat16)");
}

} // namespace lethe::models::sd
