#include "song_unet.h"

#include "core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

namespace lethe::models {

namespace {

using ModuleList = std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>>;

bool contains(const std::string& name, const char* part)
{
    return name.find(part) != std::string::npos;
}

std::string resolutionKey(std::int64_t res)
{
    return std::to_string(res) + "x" + std::to_string(res);
}

void validate(const SongUNetOptions& o)
{
    const auto fail = [](const std::string& problem) { throw Error("SongUNet: " + problem); };
    const auto positive = [&](const char* name, std::int64_t value) {
        if (value < 1)
            fail(std::string(name) + " must be positive, got " + std::to_string(value));
    };
    positive("img_resolution", o.img_resolution());
    positive("in_channels", o.in_channels());
    positive("out_channels", o.out_channels());
    positive("model_channels", o.model_channels());
    positive("channel_mult_emb", o.channel_mult_emb());
    positive("channel_mult_noise", o.channel_mult_noise());
    if (o.label_dim() < 0)
        fail("label_dim must not be negative, got " + std::to_string(o.label_dim()));
    if (o.augment_dim() < 0)
        fail("augment_dim must not be negative, got " + std::to_string(o.augment_dim()));
    if (o.num_blocks() < 0)
        fail("num_blocks must not be negative, got " + std::to_string(o.num_blocks()));
    if (o.channel_mult().empty())
        fail("channel_mult must not be empty");
    for (std::int64_t mult : o.channel_mult())
        positive("every channel_mult entry", mult);
    // Each level halves the resolution and the decoder doubles it back; odd sizes would not line up.
    const std::int64_t levels = static_cast<std::int64_t>(o.channel_mult().size());
    if (levels > 30 || o.img_resolution() % (std::int64_t { 1 } << (levels - 1)) != 0)
        fail("img_resolution " + std::to_string(o.img_resolution()) + " is not divisible by 2^"
            + std::to_string(levels - 1) + " for " + std::to_string(levels) + " channel_mult levels");
    if (o.dropout() < 0.0 || o.dropout() > 1.0)
        fail("dropout must be in [0, 1], got " + std::to_string(o.dropout()));
    if (o.label_dropout() < 0.0 || o.label_dropout() > 1.0)
        fail("label_dropout must be in [0, 1], got " + std::to_string(o.label_dropout()));
    if (o.resample_filter().empty())
        fail("resample_filter must not be empty");
    double sum = 0.0;
    for (double tap : o.resample_filter())
        sum += tap;
    if (sum == 0.0)
        fail("resample_filter must not sum to zero");
}

} // namespace

const EnumNames<EmbeddingType>& enumNames(EmbeddingType)
{
    static const EnumNames<EmbeddingType> table
        = { { EmbeddingType::Positional, "positional" }, { EmbeddingType::Fourier, "fourier" } };
    return table;
}

const EnumNames<EncoderType>& enumNames(EncoderType)
{
    static const EnumNames<EncoderType> table = { { EncoderType::Standard, "standard" }, { EncoderType::Skip, "skip" },
        { EncoderType::Residual, "residual" } };
    return table;
}

const EnumNames<DecoderType>& enumNames(DecoderType)
{
    static const EnumNames<DecoderType> table
        = { { DecoderType::Standard, "standard" }, { DecoderType::Skip, "skip" } };
    return table;
}

SongUNetOptions::SongUNetOptions(std::int64_t img_resolution, std::int64_t in_channels, std::int64_t out_channels)
    : img_resolution_(img_resolution)
    , in_channels_(in_channels)
    , out_channels_(out_channels)
{
}

SongUNetImpl::SongUNetImpl(SongUNetOptions options)
    : options(std::move(options))
{
    reset();
}

void SongUNetImpl::reset()
{
    const SongUNetOptions& o = options;
    validate(o);

    const std::int64_t embChannels = o.model_channels() * o.channel_mult_emb();
    const std::int64_t noiseChannels = o.model_channels() * o.channel_mult_noise();
    const nn::WeightInit init { nn::InitMode::XavierUniform, 1.0, 0.0 };
    const nn::WeightInit initZero { nn::InitMode::XavierUniform, 1e-5, 0.0 };
    const nn::WeightInit initAttn { nn::InitMode::XavierUniform, std::sqrt(0.2), 0.0 };
    const auto block = [&](std::int64_t in, std::int64_t out) {
        return nn::UNetBlockOptions(in, out, embChannels)
            .num_heads(1)
            .dropout(o.dropout())
            .skip_scale(std::sqrt(0.5))
            .eps(1e-6)
            .resample_filter(o.resample_filter())
            .resample_proj(true)
            .adaptive_scale(false)
            .init(init)
            .init_zero(initZero)
            .init_attn(initAttn);
    };
    const auto attends = [&](std::int64_t res) {
        return std::find(o.attn_resolutions().begin(), o.attn_resolutions().end(), res) != o.attn_resolutions().end();
    };

    // Mapping. Modules are created in EDM's order: it fixes the state-dict order and the random draws.
    map_noise_positional = nullptr;
    map_noise_fourier = nullptr;
    if (o.embedding_type() == EmbeddingType::Positional)
        map_noise_positional = register_module(
            "map_noise", nn::PositionalEmbedding(nn::PositionalEmbeddingOptions(noiseChannels).endpoint(true)));
    else
        map_noise_fourier
            = register_module("map_noise", nn::FourierEmbedding(nn::FourierEmbeddingOptions(noiseChannels)));
    map_label = nullptr;
    if (o.label_dim() != 0)
        map_label
            = register_module("map_label", nn::Linear(nn::LinearOptions(o.label_dim(), noiseChannels).init(init)));
    map_augment = nullptr;
    if (o.augment_dim() != 0)
        map_augment = register_module(
            "map_augment", nn::Linear(nn::LinearOptions(o.augment_dim(), noiseChannels).bias(false).init(init)));
    map_layer0 = register_module("map_layer0", nn::Linear(nn::LinearOptions(noiseChannels, embChannels).init(init)));
    map_layer1 = register_module("map_layer1", nn::Linear(nn::LinearOptions(embChannels, embChannels).init(init)));

    // Encoder.
    ModuleList encoder;
    std::vector<std::int64_t> skipChannels;
    const auto addEnc = [&](const std::string& key, std::shared_ptr<torch::nn::Module> module, std::int64_t out) {
        if (!contains(key, "aux"))
            skipChannels.push_back(out);
        encoder.emplace_back(key, std::move(module));
    };
    std::int64_t cout = o.in_channels();
    std::int64_t caux = o.in_channels();
    const std::int64_t levels = static_cast<std::int64_t>(o.channel_mult().size());
    for (std::int64_t level = 0; level < levels; ++level) {
        const std::int64_t res = o.img_resolution() >> level;
        const std::string key = resolutionKey(res);
        if (level == 0) {
            const std::int64_t cin = cout;
            cout = o.model_channels();
            addEnc(key + "_conv", nn::Conv2d(nn::Conv2dOptions(cin, cout, 3).init(init)).ptr(), cout);
        } else {
            addEnc(key + "_down", nn::UNetBlock(block(cout, cout).down(true)).ptr(), cout);
            if (o.encoder_type() == EncoderType::Skip) {
                addEnc(key + "_aux_down",
                    nn::Conv2d(nn::Conv2dOptions(caux, caux, 0).down(true).resample_filter(o.resample_filter())).ptr(),
                    caux);
                addEnc(key + "_aux_skip", nn::Conv2d(nn::Conv2dOptions(caux, cout, 1).init(init)).ptr(), cout);
            }
            if (o.encoder_type() == EncoderType::Residual) {
                addEnc(key + "_aux_residual",
                    nn::Conv2d(nn::Conv2dOptions(caux, cout, 3)
                                   .down(true)
                                   .resample_filter(o.resample_filter())
                                   .fused_resample(true)
                                   .init(init))
                        .ptr(),
                    cout);
                caux = cout;
            }
        }
        for (std::int64_t idx = 0; idx < o.num_blocks(); ++idx) {
            const std::int64_t cin = cout;
            cout = o.model_channels() * o.channel_mult()[level];
            addEnc(key + "_block" + std::to_string(idx), nn::UNetBlock(block(cin, cout).attention(attends(res))).ptr(),
                cout);
        }
    }
    enc = register_module("enc", torch::nn::ModuleDict(encoder));

    // Decoder.
    ModuleList decoder;
    for (std::int64_t level = levels - 1; level >= 0; --level) {
        const std::int64_t res = o.img_resolution() >> level;
        const std::string key = resolutionKey(res);
        if (level == levels - 1) {
            decoder.emplace_back(key + "_in0", nn::UNetBlock(block(cout, cout).attention(true)).ptr());
            decoder.emplace_back(key + "_in1", nn::UNetBlock(block(cout, cout)).ptr());
        } else {
            decoder.emplace_back(key + "_up", nn::UNetBlock(block(cout, cout).up(true)).ptr());
        }
        for (std::int64_t idx = 0; idx <= o.num_blocks(); ++idx) {
            const std::int64_t cin = cout + skipChannels.back();
            skipChannels.pop_back();
            cout = o.model_channels() * o.channel_mult()[level];
            const bool attn = idx == o.num_blocks() && attends(res);
            decoder.emplace_back(
                key + "_block" + std::to_string(idx), nn::UNetBlock(block(cin, cout).attention(attn)).ptr());
        }
        if (o.decoder_type() == DecoderType::Skip || level == 0) {
            if (o.decoder_type() == DecoderType::Skip && level < levels - 1)
                decoder.emplace_back(key + "_aux_up",
                    nn::Conv2d(nn::Conv2dOptions(o.out_channels(), o.out_channels(), 0)
                                   .up(true)
                                   .resample_filter(o.resample_filter()))
                        .ptr());
            decoder.emplace_back(key + "_aux_norm", nn::GroupNorm(nn::GroupNormOptions(cout).eps(1e-6)).ptr());
            decoder.emplace_back(
                key + "_aux_conv", nn::Conv2d(nn::Conv2dOptions(cout, o.out_channels(), 3).init(initZero)).ptr());
        }
    }
    dec = register_module("dec", torch::nn::ModuleDict(decoder));
}

torch::Tensor SongUNetImpl::forward(const torch::Tensor& x, const torch::Tensor& noise_labels,
    const torch::Tensor& class_labels, const torch::Tensor& augment_labels)
{
    // Mapping.
    torch::Tensor emb = map_noise_positional ? map_noise_positional(noise_labels) : map_noise_fourier(noise_labels);
    // EDM swaps the cos and sin halves here; trained weights depend on that layout.
    emb = emb.reshape({ emb.size(0), 2, -1 }).flip({ 1 }).reshape(emb.sizes());
    if (map_label) {
        if (!class_labels.defined())
            throw Error("SongUNet: the network is class-conditional (label_dim " + std::to_string(options.label_dim())
                + ") and needs class labels");
        torch::Tensor labels = class_labels;
        if (is_training() && options.label_dropout() != 0.0) {
            const torch::Tensor keep
                = torch::rand({ x.size(0), 1 }, torch::TensorOptions().device(x.device())) >= options.label_dropout();
            labels = labels * keep.to(labels.dtype());
        }
        emb = emb + map_label(labels * std::sqrt(static_cast<double>(map_label->options.in_features())));
    }
    if (map_augment && augment_labels.defined())
        emb = emb + map_augment(augment_labels);
    emb = torch::silu(map_layer0(emb));
    emb = torch::silu(map_layer1(emb));

    // Encoder: the dictionary's order is the network's order, and the key says what each entry does.
    std::vector<torch::Tensor> skips;
    torch::Tensor h = x;
    torch::Tensor aux = x;
    for (const auto& item : *enc) {
        const std::string& name = item.key();
        const std::shared_ptr<torch::nn::Module>& module = item.value();
        if (contains(name, "aux_down")) {
            aux = module->as<nn::Conv2dImpl>()->forward(aux);
        } else if (contains(name, "aux_skip")) {
            h = h + module->as<nn::Conv2dImpl>()->forward(aux);
            skips.back() = h;
        } else if (contains(name, "aux_residual")) {
            h = (h + module->as<nn::Conv2dImpl>()->forward(aux)) / std::sqrt(2.0);
            skips.back() = h;
            aux = h;
        } else {
            if (auto* unetBlock = module->as<nn::UNetBlockImpl>())
                h = unetBlock->forward(h, emb);
            else
                h = module->as<nn::Conv2dImpl>()->forward(h);
            skips.push_back(h);
        }
    }

    // Decoder.
    aux = torch::Tensor();
    torch::Tensor tmp;
    for (const auto& item : *dec) {
        const std::string& name = item.key();
        const std::shared_ptr<torch::nn::Module>& module = item.value();
        if (contains(name, "aux_up")) {
            aux = module->as<nn::Conv2dImpl>()->forward(aux);
        } else if (contains(name, "aux_norm")) {
            tmp = module->as<nn::GroupNormImpl>()->forward(h);
        } else if (contains(name, "aux_conv")) {
            tmp = module->as<nn::Conv2dImpl>()->forward(torch::silu(tmp));
            aux = aux.defined() ? tmp + aux : tmp;
        } else {
            auto* unetBlock = module->as<nn::UNetBlockImpl>();
            if (h.size(1) != unetBlock->options.in_channels()) {
                h = torch::cat({ h, skips.back() }, 1);
                skips.pop_back();
            }
            h = unetBlock->forward(h, emb);
        }
    }
    // The layers may have worked in channels-last layout (nn::Conv2d on the CPU); callers get the usual one.
    return aux.contiguous();
}

} // namespace lethe::models
