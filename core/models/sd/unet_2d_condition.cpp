#include "unet_2d_condition.h"

#include "attention.h"
#include "diffusers_folder.h"
#include "layer_support.h"
#include "resnet.h"

#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/models/parameter_bounds.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <set>

namespace lethe::models::sd {

using nlohmann::json;

namespace {

const std::set<std::string> kDownBlocks { "CrossAttnDownBlock2D", "DownBlock2D" };
const std::set<std::string> kUpBlocks { "UpBlock2D", "CrossAttnUpBlock2D" };

std::string joined(const std::set<std::string>& names)
{
    std::string text;
    for (const auto& name : names)
        text += (text.empty() ? "" : ", ") + name;
    return text;
}

/// A key that must be absent or null: the feature it switches on is not implemented.
void requireNull(const io::JsonFields& f, const std::string& key)
{
    if (f.has(key))
        f.fail(key, "not supported: expected null, found " + f.object().at(key).dump());
}

/// A flag (or a list of per-block flags) that must be false.
void requireFalse(const io::JsonFields& f, const std::string& key)
{
    if (!f.has(key))
        return;
    const json& value = f.object().at(key);
    bool anyTrue = false;
    if (value.is_boolean())
        anyTrue = value.get<bool>();
    else if (value.is_array())
        anyTrue
            = std::any_of(value.begin(), value.end(), [](const json& v) { return !v.is_boolean() || v.get<bool>(); });
    else
        anyTrue = true;
    if (anyTrue)
        f.fail(key, "not supported: expected false, found " + value.dump());
}

template <typename T> void requireValue(const io::JsonFields& f, const std::string& key, const T& expected)
{
    if (f.has(key) && f.get<T>(key, expected) != expected)
        f.fail(key, "not supported: expected " + json(expected).dump() + ", found " + f.object().at(key).dump());
}

/// A per-level list: an integer is repeated, a list must have one entry per level.
std::vector<std::int64_t> perLevel(
    const io::JsonFields& f, const std::string& key, std::int64_t fallback, std::size_t levels)
{
    std::vector<std::int64_t> values = f.intList(key, std::vector<std::int64_t>(levels, fallback), levels);
    if (values.size() != levels)
        f.fail(key,
            "expected " + std::to_string(levels) + " entries (one per block_out_channels), found "
                + std::to_string(values.size()));
    for (std::int64_t v : values)
        if (v < 1)
            f.fail(key, "expected positive values, found " + f.object().at(key).dump());
    return values;
}

std::vector<std::string> blockTypes(const io::JsonFields& f, const std::string& key,
    const std::set<std::string>& supported, std::size_t levels, const std::vector<std::string>& fallback)
{
    const std::vector<std::string> types = f.stringList(key, fallback);
    if (types.size() != levels)
        f.fail(key,
            "expected " + std::to_string(levels) + " entries (one per block_out_channels), found "
                + std::to_string(types.size()));
    for (const auto& type : types)
        if (supported.count(type) == 0)
            f.fail(key, "unsupported block type '" + type + "'; Lethe supports " + joined(supported));
    return types;
}

void requireLevels(const char* what, std::size_t found, std::size_t levels)
{
    if (found != levels)
        throw Error(std::string("UNet2DConditionModel: ") + what + " needs " + std::to_string(levels)
            + " entries (one per block_out_channels), got " + std::to_string(found));
}

/// The number of levels (block_out_channels), after checking that every per-level list has one entry per level.
std::size_t requireLevelLists(const UNet2DConditionOptions& o)
{
    const std::size_t levels = o.block_out_channels().size();
    if (levels == 0)
        throw Error("UNet2DConditionModel: block_out_channels is empty");
    requireLevels("down_block_types", o.down_block_types().size(), levels);
    requireLevels("up_block_types", o.up_block_types().size(), levels);
    requireLevels("layers_per_block", o.layers_per_block().size(), levels);
    requireLevels("attention_head_dim", o.attention_head_dim().size(), levels);
    requireLevels("transformer_layers_per_block", o.transformer_layers_per_block().size(), levels);
    return levels;
}

} // namespace

UNet2DConditionOptions stableDiffusion1UNetOptions()
{
    return UNet2DConditionOptions()
        .in_channels(4)
        .out_channels(4)
        .sample_size(64)
        .block_out_channels({ 320, 640, 1280, 1280 })
        .down_block_types({ "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D" })
        .up_block_types({ "UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D" })
        .layers_per_block({ 2, 2, 2, 2 })
        .attention_head_dim({ 8, 8, 8, 8 })
        .transformer_layers_per_block({ 1, 1, 1, 1 })
        .cross_attention_dim(768)
        .norm_num_groups(32)
        .norm_eps(1e-5)
        .flip_sin_to_cos(true)
        .freq_shift(0)
        .use_linear_projection(false)
        .downsample_padding(1)
        .mid_block_scale_factor(1);
}

UNet2DConditionOptions stableDiffusionXlUNetOptions()
{
    return UNet2DConditionOptions()
        .in_channels(4)
        .out_channels(4)
        .sample_size(128)
        .block_out_channels({ 320, 640, 1280 })
        .down_block_types({ "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D" })
        .up_block_types({ "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D" })
        .layers_per_block({ 2, 2, 2 })
        .attention_head_dim({ 5, 10, 20 })
        .transformer_layers_per_block({ 1, 2, 10 })
        .cross_attention_dim(2048)
        .norm_num_groups(32)
        .norm_eps(1e-5)
        .flip_sin_to_cos(true)
        .freq_shift(0)
        .use_linear_projection(true)
        .downsample_padding(1)
        .mid_block_scale_factor(1)
        .addition_embed_type("text_time")
        .addition_time_embed_dim(256)
        .projection_class_embeddings_input_dim(2816);
}

UNet2DConditionOptions unetOptionsFromConfig(const json& config, const std::string& file)
{
    const io::JsonFields f(config, file);
    requireValue<std::string>(f, "_class_name", "UNet2DConditionModel");

    // Features beyond SD 1.x / 2.x that would change the network: refused by name rather than ignored.
    for (const char* key : { "class_embed_type", "num_class_embeds", "encoder_hid_dim", "encoder_hid_dim_type",
             "time_cond_proj_dim", "timestep_post_act", "time_embedding_act_fn", "cross_attention_norm",
             "num_attention_heads", "reverse_transformer_layers_per_block" })
        requireNull(f, key);
    for (const char* key : { "center_input_sample", "dual_cross_attention", "only_cross_attention",
             "class_embeddings_concat", "mid_block_only_cross_attention" })
        requireFalse(f, key);
    requireValue<std::string>(f, "mid_block_type", "UNetMidBlock2DCrossAttn");
    requireValue<std::string>(f, "act_fn", "silu");
    requireValue<std::string>(f, "time_embedding_type", "positional");
    requireValue<std::string>(f, "resnet_time_scale_shift", "default");
    requireValue<std::string>(f, "attention_type", "default");
    requireValue<std::int64_t>(f, "conv_in_kernel", 3);
    requireValue<std::int64_t>(f, "conv_out_kernel", 3);

    // Absent keys take the defaults of diffusers' UNet2DConditionModel.__init__, which differ from SD 1.x's
    // config in cross_attention_dim (1280).
    const UNet2DConditionOptions defaults;
    UNet2DConditionOptions o;
    const auto channels = f.intList("block_out_channels", defaults.block_out_channels());
    if (channels.empty())
        f.fail("block_out_channels", "expected at least one level, found []");
    for (std::int64_t c : channels)
        if (c < 1)
            f.fail(
                "block_out_channels", "expected positive values, found " + f.object().at("block_out_channels").dump());
    const std::size_t levels = channels.size();
    o.block_out_channels(channels);
    o.down_block_types(blockTypes(f, "down_block_types", kDownBlocks, levels, defaults.down_block_types()));
    o.up_block_types(blockTypes(f, "up_block_types", kUpBlocks, levels, defaults.up_block_types()));
    o.layers_per_block(perLevel(f, "layers_per_block", 2, levels));
    o.attention_head_dim(perLevel(f, "attention_head_dim", 8, levels));
    o.transformer_layers_per_block(perLevel(f, "transformer_layers_per_block", 1, levels));
    const auto cross = perLevel(f, "cross_attention_dim", 1280, levels);
    if (std::adjacent_find(cross.begin(), cross.end(), std::not_equal_to<>()) != cross.end())
        f.fail("cross_attention_dim",
            "not supported: different widths per level, found " + f.object().at("cross_attention_dim").dump());
    o.cross_attention_dim(cross.front());
    o.in_channels(f.get<std::int64_t>("in_channels", 4));
    o.out_channels(f.get<std::int64_t>("out_channels", 4));
    o.sample_size(f.get<std::int64_t>("sample_size", defaults.sample_size()));
    o.norm_num_groups(f.get<std::int64_t>("norm_num_groups", 32));
    o.norm_eps(f.get<double>("norm_eps", 1e-5));
    o.flip_sin_to_cos(f.get<bool>("flip_sin_to_cos", true));
    o.freq_shift(f.get<double>("freq_shift", 0.0));
    o.use_linear_projection(f.get<bool>("use_linear_projection", false));
    o.upcast_attention(f.get<bool>("upcast_attention", false));
    o.downsample_padding(f.get<std::int64_t>("downsample_padding", 1));
    o.mid_block_scale_factor(f.get<double>("mid_block_scale_factor", 1.0));
    o.dropout(f.get<double>("dropout", 0.0));
    if (f.has("time_embedding_dim"))
        o.time_embedding_dim(f.get<std::int64_t>("time_embedding_dim", 0));
    // SDXL's added embedding; diffusers' other kinds (Kandinsky's "text", "image", ...) are refused by name.
    if (f.has("addition_embed_type")) {
        if (f.get<std::string>("addition_embed_type", "") != "text_time")
            f.fail("addition_embed_type",
                "not supported: expected null or \"text_time\", found " + f.object().at("addition_embed_type").dump());
        o.addition_embed_type("text_time");
        for (const char* key : { "addition_time_embed_dim", "projection_class_embeddings_input_dim" })
            if (!f.has(key))
                f.fail(key, "missing: addition_embed_type \"text_time\" needs it");
        o.addition_time_embed_dim(f.get<std::int64_t>("addition_time_embed_dim", 0));
        o.projection_class_embeddings_input_dim(f.get<std::int64_t>("projection_class_embeddings_input_dim", 0));
    } else if (f.has("projection_class_embeddings_input_dim")) {
        f.fail("projection_class_embeddings_input_dim",
            "not supported without addition_embed_type \"text_time\": expected null, found "
                + f.object().at("projection_class_embeddings_input_dim").dump());
    }
    for (const char* key : { "in_channels", "out_channels", "norm_num_groups" })
        if (f.has(key) && f.get<std::int64_t>(key, 1) < 1)
            f.fail(key, "expected a positive integer, found " + f.object().at(key).dump());
    if (!o.addition_embed_type().empty())
        for (const char* key : { "addition_time_embed_dim", "projection_class_embeddings_input_dim" })
            if (f.get<std::int64_t>(key, 1) < 1)
                f.fail(key, "expected a positive integer, found " + f.object().at(key).dump());
    for (std::int64_t c : channels)
        if (c % o.norm_num_groups() != 0)
            f.fail("norm_num_groups",
                "block_out_channels " + std::to_string(c) + " cannot be split into "
                    + std::to_string(o.norm_num_groups()) + " groups");
    for (std::size_t i = 0; i < levels; ++i)
        if (channels[i] % o.attention_head_dim()[i] != 0)
            f.fail("attention_head_dim",
                std::to_string(channels[i]) + " channels cannot be split into "
                    + std::to_string(o.attention_head_dim()[i]) + " heads");
    return o;
}

json unetConfigJson(const UNet2DConditionOptions& o)
{
    json config = {
        { "_class_name", "UNet2DConditionModel" },
        { "act_fn", "silu" },
        { "attention_head_dim", o.attention_head_dim() },
        { "block_out_channels", o.block_out_channels() },
        { "center_input_sample", false },
        { "cross_attention_dim", o.cross_attention_dim() },
        { "down_block_types", o.down_block_types() },
        { "downsample_padding", o.downsample_padding() },
        { "dropout", o.dropout() },
        { "flip_sin_to_cos", o.flip_sin_to_cos() },
        { "freq_shift", o.freq_shift() },
        { "in_channels", o.in_channels() },
        { "layers_per_block", o.layers_per_block() },
        { "mid_block_scale_factor", o.mid_block_scale_factor() },
        { "mid_block_type", "UNetMidBlock2DCrossAttn" },
        { "norm_eps", o.norm_eps() },
        { "norm_num_groups", o.norm_num_groups() },
        { "out_channels", o.out_channels() },
        { "sample_size", o.sample_size() },
        { "transformer_layers_per_block", o.transformer_layers_per_block() },
        { "up_block_types", o.up_block_types() },
        { "upcast_attention", o.upcast_attention() },
        { "use_linear_projection", o.use_linear_projection() },
    };
    if (o.time_embedding_dim())
        config["time_embedding_dim"] = *o.time_embedding_dim();
    if (!o.addition_embed_type().empty()) {
        config["addition_embed_type"] = o.addition_embed_type();
        config["addition_time_embed_dim"] = o.addition_time_embed_dim();
        config["projection_class_embeddings_input_dim"] = o.projection_class_embeddings_input_dim();
    }
    return config;
}

// ---------------------------------------------------------------------------------------------------------------

UNet2DConditionModelImpl::UNet2DConditionModelImpl(UNet2DConditionOptions options)
    : options(std::move(options))
{
    reset();
}

void UNet2DConditionModelImpl::reset()
{
    const auto& o = options;
    const auto& channels = o.block_out_channels();
    const std::size_t levels = requireLevelLists(o);
    if (!o.addition_embed_type().empty() && o.addition_embed_type() != "text_time")
        throw Error("UNet2DConditionModel: unsupported addition_embed_type '" + o.addition_embed_type()
            + "' (expected none or text_time)");

    const std::int64_t c0 = channels.front();
    const std::int64_t temb = o.time_embedding_dim().value_or(c0 * 4);
    conv_in
        = register_module("conv_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels(), c0, 3).padding(1)));
    time_embedding = register_module("time_embedding", TimestepEmbedding(c0, temb));
    if (o.addition_embed_type() == "text_time")
        add_embedding
            = register_module("add_embedding", TimestepEmbedding(o.projection_class_embeddings_input_dim(), temb));
    down_blocks = register_module("down_blocks", torch::nn::ModuleList());
    up_blocks = register_module("up_blocks", torch::nn::ModuleList());

    const auto blockOptions = [&](std::int64_t in, std::int64_t out, std::size_t level) {
        return UNetBlock2DOptions(in, out)
            .temb_channels(temb)
            .resnet_eps(o.norm_eps())
            .resnet_groups(o.norm_num_groups())
            .dropout(o.dropout())
            .downsample_padding(o.downsample_padding())
            .num_attention_heads(o.attention_head_dim()[level])
            .cross_attention_dim(o.cross_attention_dim())
            .transformer_layers_per_block(o.transformer_layers_per_block()[level])
            .use_linear_projection(o.use_linear_projection())
            .upcast_attention(o.upcast_attention());
    };

    std::int64_t out = c0;
    for (std::size_t i = 0; i < levels; ++i) {
        const std::int64_t in = out;
        out = channels[i];
        auto b = blockOptions(in, out, i).num_layers(o.layers_per_block()[i]).add_resample(i + 1 < levels);
        if (o.down_block_types()[i] == "CrossAttnDownBlock2D")
            down_blocks->push_back(CrossAttnDownBlock2D(b));
        else if (o.down_block_types()[i] == "DownBlock2D")
            down_blocks->push_back(DownBlock2D(b));
        else
            throw Error("UNet2DConditionModel: unsupported down block type '" + o.down_block_types()[i] + "'");
    }

    mid_block = register_module("mid_block",
        UNetMidBlock2DCrossAttn(blockOptions(channels.back(), channels.back(), levels - 1)
                                    .num_layers(1)
                                    .output_scale_factor(o.mid_block_scale_factor())));

    out = channels.back();
    for (std::size_t i = 0; i < levels; ++i) {
        const std::size_t level = levels - 1 - i; // the down level this up block mirrors
        const std::int64_t prev = out;
        out = channels[level];
        const std::int64_t in = channels[level == 0 ? 0 : level - 1];
        auto b = blockOptions(in, out, level)
                     .prev_output_channel(prev)
                     .num_layers(o.layers_per_block()[level] + 1)
                     .add_resample(i + 1 < levels);
        if (o.up_block_types()[i] == "CrossAttnUpBlock2D")
            up_blocks->push_back(CrossAttnUpBlock2D(b));
        else if (o.up_block_types()[i] == "UpBlock2D")
            up_blocks->push_back(UpBlock2D(b));
        else
            throw Error("UNet2DConditionModel: unsupported up block type '" + o.up_block_types()[i] + "'");
    }

    conv_norm_out = register_module(
        "conv_norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(o.norm_num_groups(), c0).eps(o.norm_eps())));
    conv_out
        = register_module("conv_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(c0, o.out_channels(), 3).padding(1)));
}

torch::Tensor UNet2DConditionModelImpl::forward(
    const torch::Tensor& sample, const torch::Tensor& timestep, const torch::Tensor& encoder_hidden_states)
{
    return forward(sample, timestep, encoder_hidden_states, UNetAddedConditions {});
}

torch::Tensor UNet2DConditionModelImpl::forward(const torch::Tensor& sample, const torch::Tensor& timestep,
    const torch::Tensor& encoder_hidden_states, const UNetAddedConditions& added)
{
    if (sample.dim() != 4 || sample.size(1) != options.in_channels())
        throw Error("UNet2DConditionModel: expected sample [N, " + std::to_string(options.in_channels())
            + ", H, W], got " + nn::shapeText(sample.sizes().vec()));
    const std::int64_t n = sample.size(0);
    if (encoder_hidden_states.dim() != 3 || encoder_hidden_states.size(0) != n
        || encoder_hidden_states.size(2) != options.cross_attention_dim())
        throw Error("UNet2DConditionModel: expected encoder_hidden_states [" + std::to_string(n) + ", L, "
            + std::to_string(options.cross_attention_dim()) + "], got "
            + nn::shapeText(encoder_hidden_states.sizes().vec()));
    torch::Tensor t = timestep.to(sample.device()).reshape({ -1 });
    if (t.size(0) == 1)
        t = t.expand({ n });
    if (t.size(0) != n)
        throw Error("UNet2DConditionModel: expected a scalar timestep or one per sample (" + std::to_string(n)
            + "), got " + nn::shapeText(timestep.sizes().vec()));
    const std::int64_t c0 = options.block_out_channels().front();
    torch::Tensor emb = time_embedding->forward(
        timestepEmbedding(t, c0, options.flip_sin_to_cos(), options.freq_shift()).to(sample.scalar_type()));
    if (add_embedding)
        emb = emb + add_embedding->forward(addedEmbedding(added, n).to(emb.scalar_type()));
    else if (added.text_embeds.defined() || added.time_ids.defined())
        throw Error("UNet2DConditionModel: text_embeds and time_ids given, but this UNet has no "
                    "addition_embed_type \"text_time\" to take them");
    const torch::Tensor& context = encoder_hidden_states;

    torch::Tensor h = conv_in->forward(sample);
    std::vector<torch::Tensor> skips { h };
    for (std::size_t i = 0; i < down_blocks->size(); ++i) {
        const auto& block = (*down_blocks)[i];
        DownBlockOutput out = block->as<CrossAttnDownBlock2DImpl>()
            ? block->as<CrossAttnDownBlock2DImpl>()->forward(h, emb, context)
            : block->as<DownBlock2DImpl>()->forward(h, emb);
        h = std::move(out.hidden);
        skips.insert(skips.end(), out.skips.begin(), out.skips.end());
    }
    h = mid_block->forward(h, emb, context);

    // When H or W is not a multiple of the total downsampling, each upsampler targets the size of the matching
    // down level instead of doubling.
    const std::int64_t factor = std::int64_t { 1 } << (options.block_out_channels().size() - 1);
    const bool explicitSizes = sample.size(2) % factor != 0 || sample.size(3) % factor != 0;
    for (std::size_t i = 0; i < up_blocks->size(); ++i) {
        const auto& block = (*up_blocks)[i];
        auto* cross = block->as<CrossAttnUpBlock2DImpl>();
        const std::size_t used = cross ? cross->resnets->size() : block->as<UpBlock2DImpl>()->resnets->size();
        std::vector<std::int64_t> size;
        if (explicitSizes && i + 1 < up_blocks->size() && skips.size() > used) {
            const torch::Tensor& next = skips[skips.size() - used - 1];
            size = { next.size(2), next.size(3) };
        }
        h = cross ? cross->forward(h, skips, emb, context, size)
                  : block->as<UpBlock2DImpl>()->forward(h, skips, emb, size);
    }
    return conv_out->forward(torch::silu(detail::normed(*conv_norm_out, h)));
}

torch::Tensor UNet2DConditionModelImpl::addedEmbedding(const UNetAddedConditions& added, std::int64_t n) const
{
    const std::int64_t width = options.projection_class_embeddings_input_dim();
    const std::int64_t perId = options.addition_time_embed_dim();
    if (!added.text_embeds.defined() || !added.time_ids.defined())
        throw Error("UNet2DConditionModel: addition_embed_type \"text_time\" needs text_embeds [N, P] and "
                    "time_ids [N, K] (SDXL's pooled text embedding and size/crop ids)");
    const torch::Tensor& text = added.text_embeds;
    const torch::Tensor& ids = added.time_ids;
    if (text.dim() != 2 || ids.dim() != 2 || text.size(0) != n || ids.size(0) != n
        || text.size(1) + ids.size(1) * perId != width)
        throw Error("UNet2DConditionModel: expected text_embeds [" + std::to_string(n) + ", P] and time_ids ["
            + std::to_string(n) + ", K] with P + K × " + std::to_string(perId) + " = " + std::to_string(width)
            + ", got " + nn::shapeText(text.sizes().vec()) + " and " + nn::shapeText(ids.sizes().vec()));
    // diffusers' add_time_proj: the UNet's own sinusoidal embedding, of every id, concatenated per sample.
    const torch::Tensor timeEmbeds
        = timestepEmbedding(ids.to(text.device()).flatten(), perId, options.flip_sin_to_cos(), options.freq_shift())
              .reshape({ n, -1 });
    return torch::cat({ text.to(torch::kFloat32), timeEmbeds }, -1);
}

void UNet2DConditionModelImpl::setAttentionBackend(AttentionBackend backend, std::int64_t query_chunk_size)
{
    options.attention_backend(backend);
    options.attention_query_chunk_size(query_chunk_size);
    sd::setAttentionBackend(*this, backend, query_chunk_size);
}

void UNet2DConditionModelImpl::setGradientCheckpointing(bool on)
{
    for (const auto& m : modules(/*include_self=*/false)) {
        if (auto* resnet = m->as<ResnetBlock2DImpl>())
            resnet->gradient_checkpointing = on;
        if (auto* transformer = m->as<Transformer2DModelImpl>())
            transformer->gradient_checkpointing = on;
    }
}

std::int64_t unetParameterCount(const UNet2DConditionOptions& o)
{
    // Mirrors reset() and the blocks it builds (blocks.cpp, resnet.cpp, attention.cpp); test_sd_unet compares it
    // with nn::parameterCount of built networks.
    const auto& channels = o.block_out_channels();
    const std::size_t levels = requireLevelLists(o);
    const std::int64_t c0 = channels.front();
    const std::int64_t temb = o.time_embedding_dim().value_or(c0 * 4);
    const std::int64_t cross = o.cross_attention_dim();
    const auto linear = [](std::int64_t in, std::int64_t out) { return in * out + out; };
    const auto conv3 = [](std::int64_t in, std::int64_t out) { return 9 * in * out + out; };
    const auto norm = [](std::int64_t c) { return 2 * c; };
    const auto resnet = [&](std::int64_t in, std::int64_t out) {
        return norm(in) + conv3(in, out) + linear(temb, out) + norm(out) + conv3(out, out)
            + (in != out ? linear(in, out) : 0);
    };
    // Three layer norms; self-attention (q, k, v without bias, out with); cross-attention (k, v from the text
    // states); the GEGLU feed-forward c → 8c, then 4c → c.
    const auto block = [&](std::int64_t c) {
        return 3 * norm(c) + 3 * c * c + linear(c, c) + c * c + 2 * cross * c + linear(c, c) + linear(c, 8 * c)
            + linear(4 * c, c);
    };
    // The group norm, proj_in and proj_out (1×1 convolutions or linear layers, the same count), the blocks.
    const auto transformer
        = [&](std::int64_t c, std::int64_t depth) { return norm(c) + 2 * linear(c, c) + depth * block(c); };
    const auto hasAttention = [](const std::string& type) { return type.rfind("CrossAttn", 0) == 0; };

    std::int64_t count
        = conv3(o.in_channels(), c0) + linear(c0, temb) + linear(temb, temb) + norm(c0) + conv3(c0, o.out_channels());
    if (o.addition_embed_type() == "text_time")
        count += linear(o.projection_class_embeddings_input_dim(), temb) + linear(temb, temb);
    std::int64_t out = c0;
    for (std::size_t i = 0; i < levels; ++i) {
        const std::int64_t in = out;
        out = channels[i];
        for (std::int64_t j = 0; j < o.layers_per_block()[i]; ++j)
            count += resnet(j == 0 ? in : out, out)
                + (hasAttention(o.down_block_types()[i]) ? transformer(out, o.transformer_layers_per_block()[i]) : 0);
        if (i + 1 < levels)
            count += conv3(out, out);
    }
    const std::int64_t last = channels.back();
    count += 2 * resnet(last, last) + transformer(last, o.transformer_layers_per_block()[levels - 1]);
    out = last;
    for (std::size_t i = 0; i < levels; ++i) {
        const std::size_t level = levels - 1 - i;
        const std::int64_t prev = out;
        out = channels[level];
        const std::int64_t in = channels[level == 0 ? 0 : level - 1];
        const std::int64_t layers = o.layers_per_block()[level] + 1;
        for (std::int64_t j = 0; j < layers; ++j)
            count += resnet((j == 0 ? prev : out) + (j == layers - 1 ? in : out), out)
                + (hasAttention(o.up_block_types()[i]) ? transformer(out, o.transformer_layers_per_block()[level]) : 0);
        if (i + 1 < levels)
            count += conv3(out, out);
    }
    return count;
}

UNet2DConditionModel buildUNet2DCondition(const UNet2DConditionOptions& options)
{
    UNet2DConditionModel unet(options);
    unet->setAttentionBackend(options.attention_backend(), options.attention_query_chunk_size());
    unet->eval();
    return unet;
}

nn::LoadReport loadUNetWeights(
    UNet2DConditionModel& unet, const io::SafetensorsFile& file, const nn::LoadOptions& options)
{
    return nn::loadStateDict(*unet, file, options);
}

UNet2DConditionModel loadUNet2DCondition(
    const std::filesystem::path& folder, torch::Dtype dtype, torch::Device device, AttentionBackend backend)
{
    const std::filesystem::path configPath = folder / "config.json";
    UNet2DConditionOptions options = unetOptionsFromConfig(io::readJsonObjectFile(configPath), configPath.string());
    options.attention_backend(backend);
    const io::SafetensorsFile file(componentWeights(folder, "diffusion_pytorch_model"));
    requireWeightsFor(minimumParameters(options), file, configPath.string());
    UNet2DConditionModel unet = buildUNet2DCondition(options);
    unet->to(device, dtype);
    loadUNetWeights(unet, file);
    return unet;
}

} // namespace lethe::models::sd
