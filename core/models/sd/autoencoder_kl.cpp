#include "autoencoder_kl.h"

#include "diffusers_folder.h"

#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/models/parameter_bounds.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace lethe::models::sd {

using nlohmann::json;

namespace {

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel)
{
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
}

torch::nn::GroupNorm groupNorm(std::int64_t groups, std::int64_t channels)
{
    return torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(1e-6));
}

/// The VAE's blocks all use epsilon 1e-6 and no time embedding.
UNetBlock2DOptions vaeBlock(const AutoencoderKLOptions& o, std::int64_t in, std::int64_t out)
{
    return UNetBlock2DOptions(in, out).resnet_eps(1e-6).resnet_groups(o.norm_num_groups());
}

UNetMidBlock2D midBlock(const AutoencoderKLOptions& o)
{
    const std::int64_t c = o.block_out_channels().back();
    return UNetMidBlock2D(vaeBlock(o, c, c).num_layers(1));
}

void checkOptions(const AutoencoderKLOptions& o)
{
    if (o.block_out_channels().empty())
        throw Error("AutoencoderKL: block_out_channels is empty");
    for (const auto& [name, value] : { std::pair<const char*, std::int64_t> { "in_channels", o.in_channels() },
             { "out_channels", o.out_channels() }, { "latent_channels", o.latent_channels() },
             { "layers_per_block", o.layers_per_block() }, { "norm_num_groups", o.norm_num_groups() } })
        if (value < 1)
            throw Error(std::string("AutoencoderKL: ") + name + " must be positive, got " + std::to_string(value));
}

} // namespace

AutoencoderKLOptions stableDiffusion1VaeOptions()
{
    return AutoencoderKLOptions()
        .in_channels(3)
        .out_channels(3)
        .latent_channels(4)
        .block_out_channels({ 128, 256, 512, 512 })
        .layers_per_block(2)
        .norm_num_groups(32)
        .sample_size(512)
        .scaling_factor(0.18215);
}

AutoencoderKLOptions vaeOptionsFromConfig(const json& config, const std::string& file)
{
    const io::JsonFields f(config, file);
    if (f.has("_class_name") && f.get<std::string>("_class_name", "") != "AutoencoderKL")
        f.fail(
            "_class_name", "not supported: expected \"AutoencoderKL\", found " + f.object().at("_class_name").dump());
    if (f.has("act_fn") && f.get<std::string>("act_fn", "silu") != "silu")
        f.fail("act_fn", "not supported: expected \"silu\", found " + f.object().at("act_fn").dump());
    // force_upcast only advises running the VAE in float32; the caller chooses the dtype.
    if (f.has("force_upcast"))
        (void)f.get<bool>("force_upcast", true);
    if (!f.get<bool>("mid_block_add_attention", true))
        f.fail("mid_block_add_attention", "not supported: expected true, found false");
    for (const char* key : { "latents_mean", "latents_std" })
        if (f.has(key))
            f.fail(key, "not supported: expected null, found " + f.object().at(key).dump());

    // diffusers' defaults are a one-level 64-channel VAE; an absent key takes them, as diffusers would.
    AutoencoderKLOptions o;
    o.block_out_channels(f.intList("block_out_channels", { 64 }));
    const std::size_t levels = o.block_out_channels().size();
    if (levels == 0)
        f.fail("block_out_channels", "expected at least one level, found []");
    for (std::int64_t c : o.block_out_channels())
        if (c < 1)
            f.fail(
                "block_out_channels", "expected positive values, found " + f.object().at("block_out_channels").dump());
    const auto checkTypes = [&](const std::string& key, const std::string& supported) {
        const auto types = f.stringList(key, std::vector<std::string>(levels, supported));
        if (types.size() != levels)
            f.fail(key,
                "expected " + std::to_string(levels) + " entries (one per block_out_channels), found "
                    + std::to_string(types.size()));
        for (const auto& type : types)
            if (type != supported)
                f.fail(key, "unsupported block type '" + type + "'; Lethe supports " + supported);
    };
    checkTypes("down_block_types", "DownEncoderBlock2D");
    checkTypes("up_block_types", "UpDecoderBlock2D");
    o.in_channels(f.get<std::int64_t>("in_channels", 3));
    o.out_channels(f.get<std::int64_t>("out_channels", 3));
    o.latent_channels(f.get<std::int64_t>("latent_channels", 4));
    o.layers_per_block(f.get<std::int64_t>("layers_per_block", 1));
    o.norm_num_groups(f.get<std::int64_t>("norm_num_groups", 32));
    o.sample_size(f.get<std::int64_t>("sample_size", 32));
    o.scaling_factor(f.get<double>("scaling_factor", 0.18215));
    o.shift_factor(f.get<double>("shift_factor", 0.0));
    o.use_quant_conv(f.get<bool>("use_quant_conv", true));
    o.use_post_quant_conv(f.get<bool>("use_post_quant_conv", true));
    for (const char* key : { "in_channels", "out_channels", "latent_channels", "layers_per_block", "norm_num_groups" })
        if (f.has(key) && f.get<std::int64_t>(key, 1) < 1)
            f.fail(key, "expected a positive integer, found " + f.object().at(key).dump());
    for (std::int64_t c : o.block_out_channels())
        if (c % o.norm_num_groups() != 0)
            f.fail("norm_num_groups",
                "block_out_channels " + std::to_string(c) + " cannot be split into "
                    + std::to_string(o.norm_num_groups()) + " groups");
    return o;
}

json vaeConfigJson(const AutoencoderKLOptions& o)
{
    const std::size_t levels = o.block_out_channels().size();
    return json {
        { "_class_name", "AutoencoderKL" },
        { "act_fn", "silu" },
        { "block_out_channels", o.block_out_channels() },
        { "down_block_types", std::vector<std::string>(levels, "DownEncoderBlock2D") },
        { "in_channels", o.in_channels() },
        { "latent_channels", o.latent_channels() },
        { "layers_per_block", o.layers_per_block() },
        { "norm_num_groups", o.norm_num_groups() },
        { "out_channels", o.out_channels() },
        { "sample_size", o.sample_size() },
        { "scaling_factor", o.scaling_factor() },
        { "shift_factor", o.shift_factor() == 0.0 ? json(nullptr) : json(o.shift_factor()) },
        { "up_block_types", std::vector<std::string>(levels, "UpDecoderBlock2D") },
        { "use_post_quant_conv", o.use_post_quant_conv() },
        { "use_quant_conv", o.use_quant_conv() },
    };
}

// ---------------------------------------------------------------------------------------------------------------

VaeEncoderImpl::VaeEncoderImpl(AutoencoderKLOptions options)
    : options(std::move(options))
{
    reset();
}

void VaeEncoderImpl::reset()
{
    checkOptions(options);
    const auto& channels = options.block_out_channels();
    conv_in = register_module("conv_in", conv(options.in_channels(), channels.front(), 3));
    down_blocks = register_module("down_blocks", torch::nn::ModuleList());
    std::int64_t out = channels.front();
    for (std::size_t i = 0; i < channels.size(); ++i) {
        const std::int64_t in = out;
        out = channels[i];
        down_blocks->push_back(DownEncoderBlock2D(vaeBlock(options, in, out)
                                                      .num_layers(options.layers_per_block())
                                                      .add_resample(i + 1 < channels.size())
                                                      .downsample_padding(0)));
    }
    mid_block = register_module("mid_block", midBlock(options));
    conv_norm_out = register_module("conv_norm_out", groupNorm(options.norm_num_groups(), channels.back()));
    conv_out = register_module("conv_out", conv(channels.back(), 2 * options.latent_channels(), 3));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& x)
{
    torch::Tensor h = conv_in->forward(x);
    for (std::size_t i = 0; i < down_blocks->size(); ++i)
        h = (*down_blocks)[i]->as<DownEncoderBlock2DImpl>()->forward(h);
    h = mid_block->forward(h);
    return conv_out->forward(torch::silu(conv_norm_out->forward(h)));
}

VaeDecoderImpl::VaeDecoderImpl(AutoencoderKLOptions options)
    : options(std::move(options))
{
    reset();
}

void VaeDecoderImpl::reset()
{
    checkOptions(options);
    const auto& channels = options.block_out_channels();
    const std::size_t levels = channels.size();
    conv_in = register_module("conv_in", conv(options.latent_channels(), channels.back(), 3));
    // diffusers assigns up_blocks before mid_block, so the state dict lists it first.
    up_blocks = register_module("up_blocks", torch::nn::ModuleList());
    mid_block = register_module("mid_block", midBlock(options));
    std::int64_t out = channels.back();
    for (std::size_t i = 0; i < levels; ++i) {
        const std::int64_t prev = out;
        out = channels[levels - 1 - i];
        up_blocks->push_back(UpDecoderBlock2D(
            vaeBlock(options, prev, out).num_layers(options.layers_per_block() + 1).add_resample(i + 1 < levels)));
    }
    conv_norm_out = register_module("conv_norm_out", groupNorm(options.norm_num_groups(), channels.front()));
    conv_out = register_module("conv_out", conv(channels.front(), options.out_channels(), 3));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z)
{
    torch::Tensor h = mid_block->forward(conv_in->forward(z));
    for (std::size_t i = 0; i < up_blocks->size(); ++i)
        h = (*up_blocks)[i]->as<UpDecoderBlock2DImpl>()->forward(h);
    return conv_out->forward(torch::silu(conv_norm_out->forward(h)));
}

// ---------------------------------------------------------------------------------------------------------------

torch::Tensor LatentDistribution::stddev() const
{
    return torch::exp(0.5 * logvar);
}

torch::Tensor LatentDistribution::sample(c10::optional<torch::Generator> generator) const
{
    const torch::Tensor noise = torch::randn(mean.sizes(), generator, mean.options());
    return mean + stddev() * noise;
}

AutoencoderKLImpl::AutoencoderKLImpl(AutoencoderKLOptions options)
    : options(std::move(options))
{
    reset();
}

void AutoencoderKLImpl::reset()
{
    checkOptions(options);
    const std::int64_t latent = options.latent_channels();
    encoder = register_module("encoder", VaeEncoder(options));
    decoder = register_module("decoder", VaeDecoder(options));
    quant_conv = nullptr;
    post_quant_conv = nullptr;
    if (options.use_quant_conv())
        quant_conv = register_module("quant_conv", conv(2 * latent, 2 * latent, 1));
    if (options.use_post_quant_conv())
        post_quant_conv = register_module("post_quant_conv", conv(latent, latent, 1));
}

LatentDistribution AutoencoderKLImpl::encode(const torch::Tensor& x)
{
    if (x.dim() != 4 || x.size(1) != options.in_channels())
        throw Error("AutoencoderKL: expected images [N, " + std::to_string(options.in_channels()) + ", H, W], got "
            + nn::shapeText(x.sizes().vec()));
    torch::Tensor moments = encoder->forward(x);
    if (quant_conv)
        moments = quant_conv->forward(moments);
    const auto parts = moments.chunk(2, 1);
    return { parts[0], torch::clamp(parts[1], -30.0, 20.0) };
}

torch::Tensor AutoencoderKLImpl::decode(const torch::Tensor& z)
{
    if (z.dim() != 4 || z.size(1) != options.latent_channels())
        throw Error("AutoencoderKL: expected latents [N, " + std::to_string(options.latent_channels()) + ", h, w], got "
            + nn::shapeText(z.sizes().vec()));
    return decoder->forward(post_quant_conv ? post_quant_conv->forward(z) : z);
}

torch::Tensor AutoencoderKLImpl::forward(const torch::Tensor& x)
{
    return decode(encode(x).mean);
}

AutoencoderKL buildAutoencoderKL(const AutoencoderKLOptions& options)
{
    AutoencoderKL vae(options);
    vae->eval();
    return vae;
}

std::string modernVaeName(const std::string& fileName)
{
    static const std::pair<const char*, const char*> renames[]
        = { { ".query.", ".to_q." }, { ".key.", ".to_k." }, { ".value.", ".to_v." }, { ".proj_attn.", ".to_out.0." } };
    // Only the mid blocks' attentions had the old names.
    if (fileName.find(".mid_block.attentions.") == std::string::npos)
        return fileName;
    for (const auto& [from, to] : renames) {
        const auto at = fileName.find(from);
        if (at != std::string::npos)
            return fileName.substr(0, at) + to + fileName.substr(at + std::char_traits<char>::length(from));
    }
    return fileName;
}

nn::LoadReport loadVaeWeights(AutoencoderKL& vae, const io::SafetensorsFile& file, nn::LoadOptions options)
{
    if (!options.mapping)
        options.mapping = [](const std::string& name) -> std::optional<std::string> { return modernVaeName(name); };
    return nn::loadStateDict(*vae, file, options);
}

AutoencoderKL loadAutoencoderKL(const std::filesystem::path& folder, torch::Dtype dtype, torch::Device device)
{
    const std::filesystem::path configPath = folder / "config.json";
    const AutoencoderKLOptions options = vaeOptionsFromConfig(io::readJsonObjectFile(configPath), configPath.string());
    const io::SafetensorsFile file(componentWeights(folder, "diffusion_pytorch_model"));
    requireWeightsFor(minimumParameters(options), file, configPath.string());
    AutoencoderKL vae = buildAutoencoderKL(options);
    vae->to(device, dtype);
    loadVaeWeights(vae, file);
    return vae;
}

} // namespace lethe::models::sd
