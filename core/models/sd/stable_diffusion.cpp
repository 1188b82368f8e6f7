#include "stable_diffusion.h"

#include "autoencoder_kl.h"
#include "clip_text_model.h"
#include "clip_tokenizer.h"
#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/nn/state_dict.h"
#include "diffusers_folder.h"
#include "unet_2d_condition.h"

#include <torch/torch.h>

#include <optional>

namespace lethe::models::sd {

struct StableDiffusion::Impl {
    std::optional<ClipTokenizer> tokenizer;
    ClipTextModel text { nullptr };
    UNet2DConditionModel unet { nullptr };
    AutoencoderKL vae { nullptr };
    diffusion::DdpmSchedule schedule;
    SdLoadOptions options;
    std::string kind;
};

StableDiffusion::StableDiffusion(std::shared_ptr<Impl> impl)
    : m_impl(std::move(impl))
{
}

diffusion::TextToImageModel StableDiffusion::model() const
{
    const std::shared_ptr<Impl> impl = m_impl;
    diffusion::TextToImageModel m;
    m.encodePrompts = [impl](const std::vector<std::string>& prompts) {
        torch::NoGradGuard noGrad;
        const torch::Tensor ids = impl->tokenizer->encodeBatch(prompts).to(impl->options.device);
        return impl->text->forward(ids).last_hidden_state;
    };
    m.predictNoise = [impl](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context) {
        return impl->unet->forward(x, t, context);
    };
    if (impl->vae) {
        m.decode
            = [impl](const torch::Tensor& latents) { return impl->vae->decode(latents / impl->vae->scalingFactor()); };
        m.latentChannels = impl->vae->options.latent_channels();
        m.latentScale = std::int64_t { 1 } << (impl->vae->options.block_out_channels().size() - 1);
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
    return nn::parameterCount(*m_impl->text);
}
std::int64_t StableDiffusion::vaeParameters() const
{
    return m_impl->vae ? nn::parameterCount(*m_impl->vae) : 0;
}
std::string StableDiffusion::sourceKind() const
{
    return m_impl->kind;
}

StableDiffusion loadStableDiffusion(const std::filesystem::path& path, const SdLoadOptions& options)
{
    if (sdSourceKind(path) == SdSourceKind::SingleFile)
        throw Error(path.string()
            + ": CompVis single files cannot be loaded yet (their key mapping exists, the loader "
              "does not); convert it to a diffusers folder first (diffusers: "
              "StableDiffusionPipeline.from_single_file(path).save_pretrained(out))");
    const DiffusersIndex index = readModelIndex(path);
    auto impl = std::make_shared<StableDiffusion::Impl>();
    impl->options = options;
    impl->kind = "diffusers folder";
    impl->tokenizer.emplace(path / "tokenizer");
    impl->text = loadClipTextModel(path / "text_encoder", options.dtype, options.device);
    impl->unet = loadUNet2DCondition(path / "unet", options.dtype, options.device,
        options.memoryEfficientAttention ? nn::AttentionBackend::MemoryEfficient : nn::AttentionBackend::Standard);
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
