// CompVis single-file Stable Diffusion 1.x names against diffusers' and transformers', both ways.
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/models/sd/compvis_keys.h"
#include "core/nn/state_dict.h"
#include "test_support.h"

#include <torch/torch.h>

#include <algorithm>
#include <set>

using namespace lethe;
using namespace lethe::models::sd;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

namespace {

using Names = std::vector<std::string>;

void addParameters(Names& names, const std::string& module, bool bias = true)
{
    names.push_back(module + ".weight");
    if (bias)
        names.push_back(module + ".bias");
}

// A UNet in both vocabularies: CompVis attention is chosen per resolution level, so the up path mirrors the down
// path's attention levels.
struct UNetShape {
    std::vector<int> channels; ///< block_out_channels / model_channels × channel_mult
    int layersPerBlock = 2;
    std::vector<bool> levelAttention; ///< per level, in down order

    UNetLayout layout() const
    {
        UNetLayout layout;
        layout.blocks = static_cast<int>(channels.size());
        layout.layersPerBlock = layersPerBlock;
        layout.downHasAttention = levelAttention;
        layout.upHasAttention.assign(levelAttention.rbegin(), levelAttention.rend());
        return layout;
    }
};

UNetShape sd1UNet()
{
    return { { 320, 640, 1280, 1280 }, 2, { true, true, true, false } };
}

void addTransformer(Names& names, const std::string& prefix)
{
    addParameters(names, prefix + ".norm");
    addParameters(names, prefix + ".proj_in");
    const std::string block = prefix + ".transformer_blocks.0";
    for (const char* norm : { ".norm1", ".norm2", ".norm3" })
        addParameters(names, block + norm);
    for (const char* attention : { ".attn1", ".attn2" }) {
        for (const char* projection : { ".to_q", ".to_k", ".to_v" })
            addParameters(names, block + attention + projection, false);
        addParameters(names, block + attention + ".to_out.0");
    }
    addParameters(names, block + ".ff.net.0.proj");
    addParameters(names, block + ".ff.net.2");
    addParameters(names, prefix + ".proj_out");
}

// Written the way diffusers' UNet2DConditionModel builds its blocks.
Names diffusersUNetNames(const UNetShape& shape)
{
    const int blocks = static_cast<int>(shape.channels.size());
    const UNetLayout layout = shape.layout();
    Names names;
    const auto resnet = [&](const std::string& prefix, int in, int out) {
        for (const char* part : { ".norm1", ".conv1", ".time_emb_proj", ".norm2", ".conv2" })
            addParameters(names, prefix + part);
        if (in != out)
            addParameters(names, prefix + ".conv_shortcut");
    };
    addParameters(names, "conv_in");
    addParameters(names, "time_embedding.linear_1");
    addParameters(names, "time_embedding.linear_2");
    int out = shape.channels[0];
    for (int i = 0; i < blocks; ++i) {
        const int in = out;
        out = shape.channels[static_cast<std::size_t>(i)];
        const std::string prefix = "down_blocks." + std::to_string(i);
        for (int j = 0; j < shape.layersPerBlock; ++j) {
            resnet(prefix + ".resnets." + std::to_string(j), j == 0 ? in : out, out);
            if (layout.downHasAttention[static_cast<std::size_t>(i)])
                addTransformer(names, prefix + ".attentions." + std::to_string(j));
        }
        if (i != blocks - 1)
            addParameters(names, prefix + ".downsamplers.0.conv");
    }
    resnet("mid_block.resnets.0", out, out);
    addTransformer(names, "mid_block.attentions.0");
    resnet("mid_block.resnets.1", out, out);
    std::vector<int> reversed(shape.channels.rbegin(), shape.channels.rend());
    int previous = reversed[0];
    for (int i = 0; i < blocks; ++i) {
        const int output = reversed[static_cast<std::size_t>(i)];
        const int input = reversed[static_cast<std::size_t>(std::min(i + 1, blocks - 1))];
        const std::string prefix = "up_blocks." + std::to_string(i);
        for (int j = 0; j <= shape.layersPerBlock; ++j) {
            const int skip = j == shape.layersPerBlock ? input : output;
            resnet(prefix + ".resnets." + std::to_string(j), (j == 0 ? previous : output) + skip, output);
            if (layout.upHasAttention[static_cast<std::size_t>(i)])
                addTransformer(names, prefix + ".attentions." + std::to_string(j));
        }
        if (i != blocks - 1)
            addParameters(names, prefix + ".upsamplers.0.conv");
        previous = output;
    }
    addParameters(names, "conv_norm_out");
    addParameters(names, "conv_out");
    return names;
}

// Written the way CompVis' openaimodel.UNetModel appends its input, middle and output blocks.
Names compvisUNetNames(const UNetShape& shape)
{
    const int levels = static_cast<int>(shape.channels.size());
    Names names;
    const auto resBlock = [&](const std::string& prefix, int in, int out) {
        for (const char* part : { ".in_layers.0", ".in_layers.2", ".emb_layers.1", ".out_layers.0", ".out_layers.3" })
            addParameters(names, prefix + part);
        if (in != out)
            addParameters(names, prefix + ".skip_connection");
    };
    addParameters(names, "time_embed.0");
    addParameters(names, "time_embed.2");
    addParameters(names, "input_blocks.0.0");
    int index = 1;
    int ch = shape.channels[0];
    std::vector<int> skipChannels { ch };
    for (int level = 0; level < levels; ++level) {
        const int out = shape.channels[static_cast<std::size_t>(level)];
        for (int n = 0; n < shape.layersPerBlock; ++n) {
            const std::string prefix = "input_blocks." + std::to_string(index++);
            resBlock(prefix + ".0", ch, out);
            ch = out;
            if (shape.levelAttention[static_cast<std::size_t>(level)])
                addTransformer(names, prefix + ".1");
            skipChannels.push_back(ch);
        }
        if (level != levels - 1) {
            addParameters(names, "input_blocks." + std::to_string(index++) + ".0.op");
            skipChannels.push_back(ch);
        }
    }
    resBlock("middle_block.0", ch, ch);
    addTransformer(names, "middle_block.1");
    resBlock("middle_block.2", ch, ch);
    index = 0;
    for (int level = levels - 1; level >= 0; --level) {
        const int out = shape.channels[static_cast<std::size_t>(level)];
        for (int n = 0; n <= shape.layersPerBlock; ++n) {
            const std::string prefix = "output_blocks." + std::to_string(index++);
            const int skip = skipChannels.back();
            skipChannels.pop_back();
            resBlock(prefix + ".0", ch + skip, out);
            ch = out;
            int layer = 1;
            if (shape.levelAttention[static_cast<std::size_t>(level)])
                addTransformer(names, prefix + "." + std::to_string(layer++));
            if (level != 0 && n == shape.layersPerBlock)
                addParameters(names, prefix + "." + std::to_string(layer) + ".conv");
        }
    }
    addParameters(names, "out.0");
    addParameters(names, "out.2");
    return names;
}

struct VaeShape {
    std::vector<int> channels;
    int layersPerBlock = 2;

    VaeLayout layout() const { return { static_cast<int>(channels.size()), layersPerBlock }; }
};

VaeShape sd1Vae()
{
    return { { 128, 256, 512, 512 }, 2 };
}

// How the two VAE vocabularies name the layers outside the down and up paths.
struct VaeVocabulary {
    const char* shortcut; ///< a ResNet block's 1×1 convolution, where the width changes
    const char* midResnets[2];
    const char* midAttention;
    std::vector<const char*> attentionLayers;
    const char* normOut;
};

const VaeVocabulary kDiffusersVae { ".conv_shortcut", { ".mid_block.resnets.0", ".mid_block.resnets.1" },
    ".mid_block.attentions.0", { ".group_norm", ".to_q", ".to_k", ".to_v", ".to_out.0" }, ".conv_norm_out" };
const VaeVocabulary kCompvisVae { ".nin_shortcut", { ".mid.block_1", ".mid.block_2" }, ".mid.attn_1",
    { ".norm", ".q", ".k", ".v", ".proj_out" }, ".norm_out" };

// A VAE ResNet block: two norm-conv pairs, named alike in both vocabularies, and a shortcut where the width changes.
void addVaeResnet(Names& names, const VaeVocabulary& v, const std::string& prefix, int in, int out)
{
    for (const char* part : { ".norm1", ".conv1", ".norm2", ".conv2" })
        addParameters(names, prefix + part);
    if (in != out)
        addParameters(names, prefix + v.shortcut);
}

// The layers both libraries build alike: each coder's input convolution, mid block (ResNet, attention, ResNet,
// `ch` wide), output norm and convolution, and the two 1×1 convolutions at the latents.
void addVaeFixedLayers(Names& names, const VaeVocabulary& v, int ch)
{
    for (const std::string coder : { "encoder", "decoder" }) {
        addParameters(names, coder + ".conv_in");
        addVaeResnet(names, v, coder + v.midResnets[0], ch, ch);
        for (const char* layer : v.attentionLayers)
            addParameters(names, coder + v.midAttention + layer);
        addVaeResnet(names, v, coder + v.midResnets[1], ch, ch);
        addParameters(names, coder + v.normOut);
        addParameters(names, coder + ".conv_out");
    }
    addParameters(names, "quant_conv");
    addParameters(names, "post_quant_conv");
}

// Written the way diffusers' AutoencoderKL builds its encoder's down blocks and its decoder's up blocks.
Names diffusersVaeNames(const VaeShape& shape)
{
    const int blocks = static_cast<int>(shape.channels.size());
    Names names;
    int out = shape.channels[0];
    for (int i = 0; i < blocks; ++i) {
        const int in = out;
        out = shape.channels[static_cast<std::size_t>(i)];
        const std::string prefix = "encoder.down_blocks." + std::to_string(i);
        for (int j = 0; j < shape.layersPerBlock; ++j)
            addVaeResnet(names, kDiffusersVae, prefix + ".resnets." + std::to_string(j), j == 0 ? in : out, out);
        if (i != blocks - 1)
            addParameters(names, prefix + ".downsamplers.0.conv");
    }
    addVaeFixedLayers(names, kDiffusersVae, out);
    for (int i = 0; i < blocks; ++i) {
        const int in = out;
        out = shape.channels[static_cast<std::size_t>(blocks - 1 - i)];
        const std::string prefix = "decoder.up_blocks." + std::to_string(i);
        for (int j = 0; j <= shape.layersPerBlock; ++j)
            addVaeResnet(names, kDiffusersVae, prefix + ".resnets." + std::to_string(j), j == 0 ? in : out, out);
        if (i != blocks - 1)
            addParameters(names, prefix + ".upsamplers.0.conv");
    }
    return names;
}

// Written the way CompVis' diffusionmodules.model Encoder and Decoder build their down and up levels.
Names compvisVaeNames(const VaeShape& shape)
{
    const int levels = static_cast<int>(shape.channels.size());
    Names names;
    int ch = shape.channels[0];
    for (int level = 0; level < levels; ++level) {
        for (int n = 0; n < shape.layersPerBlock; ++n) {
            const int out = shape.channels[static_cast<std::size_t>(level)];
            addVaeResnet(
                names, kCompvisVae, "encoder.down." + std::to_string(level) + ".block." + std::to_string(n), ch, out);
            ch = out;
        }
        if (level != levels - 1)
            addParameters(names, "encoder.down." + std::to_string(level) + ".downsample.conv");
    }
    addVaeFixedLayers(names, kCompvisVae, ch);
    for (int level = levels - 1; level >= 0; --level) {
        for (int n = 0; n <= shape.layersPerBlock; ++n) {
            const int out = shape.channels[static_cast<std::size_t>(level)];
            addVaeResnet(
                names, kCompvisVae, "decoder.up." + std::to_string(level) + ".block." + std::to_string(n), ch, out);
            ch = out;
        }
        if (level != 0)
            addParameters(names, "decoder.up." + std::to_string(level) + ".upsample.conv");
    }
    return names;
}

// CLIP ViT-L/14's text transformer under transformers' names.
Names textEncoderNames(int layers)
{
    Names names { "text_model.embeddings.token_embedding.weight", "text_model.embeddings.position_embedding.weight" };
    for (int i = 0; i < layers; ++i) {
        const std::string prefix = "text_model.encoder.layers." + std::to_string(i);
        for (const char* part : { ".self_attn.k_proj", ".self_attn.v_proj", ".self_attn.q_proj", ".self_attn.out_proj",
                 ".layer_norm1", ".mlp.fc1", ".mlp.fc2", ".layer_norm2" })
            addParameters(names, prefix + part);
    }
    addParameters(names, "text_model.final_layer_norm");
    return names;
}

std::set<std::string> sorted(const Names& names)
{
    return { names.begin(), names.end() };
}

QString listed(const std::set<std::string>& names)
{
    QStringList out;
    for (const auto& name : names)
        out << QString::fromStdString(name);
    return out.join(QStringLiteral(", "));
}

// `name` of the network "unet", "vae" or "text" from CompVis' names to diffusers' or back, under SD 1.x's layouts.
std::optional<std::string> mapName(const QString& network, bool fromCompvis, const std::string& name)
{
    if (network == QLatin1String("unet"))
        return fromCompvis ? compvisToDiffusersUNet(name, UNetLayout {}) : diffusersToCompvisUNet(name, UNetLayout {});
    if (network == QLatin1String("vae"))
        return fromCompvis ? compvisToDiffusersVae(name, VaeLayout {}) : diffusersToCompvisVae(name, VaeLayout {});
    return fromCompvis ? compvisToDiffusersTextEncoder(name) : diffusersToCompvisTextEncoder(name);
}

// Maps every diffusers name, checks there are no collisions, that the images are exactly `compvis` and that each
// direction undoes the other.
template <typename ToCompvis, typename ToDiffusers>
void checkBijection(const Names& diffusers, const Names& compvis, ToCompvis toCompvis, ToDiffusers toDiffusers)
{
    QCOMPARE(sorted(diffusers).size(), diffusers.size());
    QCOMPARE(sorted(compvis).size(), compvis.size());
    std::set<std::string> images;
    for (const auto& name : diffusers) {
        const std::optional<std::string> mapped = toCompvis(name);
        QVERIFY2(mapped, name.c_str());
        QVERIFY2(images.insert(*mapped).second, ("two names map onto " + *mapped).c_str());
        const std::optional<std::string> back = toDiffusers(*mapped);
        QVERIFY2(back, mapped->c_str());
        LETHE_COMPARE_STR(*back, name);
    }
    const std::set<std::string> expected = sorted(compvis);
    std::set<std::string> extra;
    std::set<std::string> absent;
    std::set_difference(
        images.begin(), images.end(), expected.begin(), expected.end(), std::inserter(extra, extra.end()));
    std::set_difference(
        expected.begin(), expected.end(), images.begin(), images.end(), std::inserter(absent, absent.end()));
    QVERIFY2(extra.empty(), qPrintable(QStringLiteral("not CompVis names: ") + listed(extra)));
    QVERIFY2(absent.empty(), qPrintable(QStringLiteral("never produced: ") + listed(absent)));
    for (const auto& name : compvis) {
        const std::optional<std::string> mapped = toDiffusers(name);
        QVERIFY2(mapped, name.c_str());
        const std::optional<std::string> back = toCompvis(*mapped);
        QVERIFY2(back, mapped->c_str());
        LETHE_COMPARE_STR(*back, name);
    }
}

} // namespace

class TestSdCompvis : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void knownPairs_data();
    void knownPairs();
    void sd1UNetIsABijection();
    void sd1VaeIsABijection();
    void otherUNetLayoutsAreBijections_data();
    void otherUNetLayoutsAreBijections();
    void smallVaeIsABijection();
    void textEncoderIsABijection();
    void olderTextEncoderNamesGainTextModel();
    void unknownNamesHaveNoCounterpart_data();
    void unknownNamesHaveNoCounterpart();
    void singleFileMappingsPickTheirPrefix();
    void singleFileMappingsKeepUnknownNamesForTheReport();
    void inconsistentLayoutsThrow();
    void loaderFillsAVaeFromASingleFile();
};

void TestSdCompvis::knownPairs_data()
{
    QTest::addColumn<QString>("network");
    QTest::addColumn<QString>("compvis");
    QTest::addColumn<QString>("diffusers");
    const auto row = [](const char* network, const char* compvis, const char* diffusers) {
        QTest::addRow("%s %s", network, compvis)
            << QString::fromLatin1(network) << QString::fromLatin1(compvis) << QString::fromLatin1(diffusers);
    };
    // UNet: the fixed layers.
    row("unet", "time_embed.0.weight", "time_embedding.linear_1.weight");
    row("unet", "time_embed.0.bias", "time_embedding.linear_1.bias");
    row("unet", "time_embed.2.weight", "time_embedding.linear_2.weight");
    row("unet", "input_blocks.0.0.weight", "conv_in.weight");
    row("unet", "out.0.weight", "conv_norm_out.weight");
    row("unet", "out.0.bias", "conv_norm_out.bias");
    row("unet", "out.2.bias", "conv_out.bias");
    // Down path: resnets (every ResNet part), attentions (every transformer part), downsamplers.
    row("unet", "input_blocks.1.0.in_layers.0.weight", "down_blocks.0.resnets.0.norm1.weight");
    row("unet", "input_blocks.1.0.in_layers.2.bias", "down_blocks.0.resnets.0.conv1.bias");
    row("unet", "input_blocks.2.0.emb_layers.1.weight", "down_blocks.0.resnets.1.time_emb_proj.weight");
    row("unet", "input_blocks.4.0.out_layers.0.bias", "down_blocks.1.resnets.0.norm2.bias");
    row("unet", "input_blocks.4.0.out_layers.3.weight", "down_blocks.1.resnets.0.conv2.weight");
    row("unet", "input_blocks.4.0.skip_connection.weight", "down_blocks.1.resnets.0.conv_shortcut.weight");
    row("unet", "input_blocks.7.0.skip_connection.bias", "down_blocks.2.resnets.0.conv_shortcut.bias");
    row("unet", "input_blocks.11.0.in_layers.0.weight", "down_blocks.3.resnets.1.norm1.weight");
    row("unet", "input_blocks.1.1.norm.weight", "down_blocks.0.attentions.0.norm.weight");
    row("unet", "input_blocks.2.1.proj_in.weight", "down_blocks.0.attentions.1.proj_in.weight");
    row("unet", "input_blocks.5.1.proj_out.bias", "down_blocks.1.attentions.1.proj_out.bias");
    row("unet", "input_blocks.7.1.transformer_blocks.0.attn1.to_q.weight",
        "down_blocks.2.attentions.0.transformer_blocks.0.attn1.to_q.weight");
    row("unet", "input_blocks.8.1.transformer_blocks.0.attn2.to_k.weight",
        "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k.weight");
    row("unet", "input_blocks.8.1.transformer_blocks.0.attn2.to_out.0.bias",
        "down_blocks.2.attentions.1.transformer_blocks.0.attn2.to_out.0.bias");
    row("unet", "input_blocks.1.1.transformer_blocks.0.norm3.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.norm3.weight");
    row("unet", "input_blocks.1.1.transformer_blocks.0.ff.net.0.proj.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight");
    row("unet", "input_blocks.1.1.transformer_blocks.0.ff.net.2.bias",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.bias");
    row("unet", "input_blocks.3.0.op.weight", "down_blocks.0.downsamplers.0.conv.weight");
    row("unet", "input_blocks.6.0.op.bias", "down_blocks.1.downsamplers.0.conv.bias");
    row("unet", "input_blocks.9.0.op.weight", "down_blocks.2.downsamplers.0.conv.weight");
    // Middle.
    row("unet", "middle_block.0.in_layers.0.weight", "mid_block.resnets.0.norm1.weight");
    row("unet", "middle_block.1.transformer_blocks.0.attn1.to_v.weight",
        "mid_block.attentions.0.transformer_blocks.0.attn1.to_v.weight");
    row("unet", "middle_block.2.out_layers.3.bias", "mid_block.resnets.1.conv2.bias");
    // Up path: three resnets per block, attention only from block 1 on, upsamplers at index 1 or 2.
    row("unet", "output_blocks.0.0.skip_connection.weight", "up_blocks.0.resnets.0.conv_shortcut.weight");
    row("unet", "output_blocks.2.0.emb_layers.1.bias", "up_blocks.0.resnets.2.time_emb_proj.bias");
    row("unet", "output_blocks.2.1.conv.weight", "up_blocks.0.upsamplers.0.conv.weight");
    row("unet", "output_blocks.3.1.norm.bias", "up_blocks.1.attentions.0.norm.bias");
    row("unet", "output_blocks.5.1.transformer_blocks.0.norm2.bias",
        "up_blocks.1.attentions.2.transformer_blocks.0.norm2.bias");
    row("unet", "output_blocks.5.2.conv.bias", "up_blocks.1.upsamplers.0.conv.bias");
    row("unet", "output_blocks.8.2.conv.weight", "up_blocks.2.upsamplers.0.conv.weight");
    row("unet", "output_blocks.9.0.in_layers.2.weight", "up_blocks.3.resnets.0.conv1.weight");
    row("unet", "output_blocks.11.1.proj_out.weight", "up_blocks.3.attentions.2.proj_out.weight");
    row("unet", "output_blocks.11.0.skip_connection.bias", "up_blocks.3.resnets.2.conv_shortcut.bias");
    // VAE: encoder.
    row("vae", "encoder.conv_in.weight", "encoder.conv_in.weight");
    row("vae", "encoder.down.0.block.0.norm1.weight", "encoder.down_blocks.0.resnets.0.norm1.weight");
    row("vae", "encoder.down.1.block.0.nin_shortcut.weight", "encoder.down_blocks.1.resnets.0.conv_shortcut.weight");
    row("vae", "encoder.down.3.block.1.conv2.bias", "encoder.down_blocks.3.resnets.1.conv2.bias");
    row("vae", "encoder.down.0.downsample.conv.weight", "encoder.down_blocks.0.downsamplers.0.conv.weight");
    row("vae", "encoder.down.2.downsample.conv.bias", "encoder.down_blocks.2.downsamplers.0.conv.bias");
    row("vae", "encoder.mid.block_1.norm2.weight", "encoder.mid_block.resnets.0.norm2.weight");
    row("vae", "encoder.mid.block_2.conv1.bias", "encoder.mid_block.resnets.1.conv1.bias");
    row("vae", "encoder.mid.attn_1.norm.weight", "encoder.mid_block.attentions.0.group_norm.weight");
    row("vae", "encoder.mid.attn_1.q.weight", "encoder.mid_block.attentions.0.to_q.weight");
    row("vae", "encoder.mid.attn_1.k.bias", "encoder.mid_block.attentions.0.to_k.bias");
    row("vae", "encoder.mid.attn_1.v.weight", "encoder.mid_block.attentions.0.to_v.weight");
    row("vae", "encoder.mid.attn_1.proj_out.weight", "encoder.mid_block.attentions.0.to_out.0.weight");
    row("vae", "encoder.norm_out.bias", "encoder.conv_norm_out.bias");
    row("vae", "encoder.conv_out.weight", "encoder.conv_out.weight");
    row("vae", "quant_conv.weight", "quant_conv.weight");
    row("vae", "post_quant_conv.bias", "post_quant_conv.bias");
    // VAE: decoder, levels reversed.
    row("vae", "decoder.conv_in.bias", "decoder.conv_in.bias");
    row("vae", "decoder.mid.attn_1.proj_out.bias", "decoder.mid_block.attentions.0.to_out.0.bias");
    row("vae", "decoder.up.3.block.0.norm1.weight", "decoder.up_blocks.0.resnets.0.norm1.weight");
    row("vae", "decoder.up.3.upsample.conv.weight", "decoder.up_blocks.0.upsamplers.0.conv.weight");
    row("vae", "decoder.up.1.block.0.nin_shortcut.bias", "decoder.up_blocks.2.resnets.0.conv_shortcut.bias");
    row("vae", "decoder.up.1.upsample.conv.bias", "decoder.up_blocks.2.upsamplers.0.conv.bias");
    row("vae", "decoder.up.0.block.2.conv2.weight", "decoder.up_blocks.3.resnets.2.conv2.weight");
    row("vae", "decoder.norm_out.weight", "decoder.conv_norm_out.weight");
    // Text encoder.
    row("text", "text_model.embeddings.token_embedding.weight", "text_model.embeddings.token_embedding.weight");
    row("text", "text_model.embeddings.position_embedding.weight", "text_model.embeddings.position_embedding.weight");
    row("text", "text_model.encoder.layers.0.self_attn.q_proj.weight",
        "text_model.encoder.layers.0.self_attn.q_proj.weight");
    row("text", "text_model.encoder.layers.11.mlp.fc2.bias", "text_model.encoder.layers.11.mlp.fc2.bias");
    row("text", "text_model.final_layer_norm.weight", "text_model.final_layer_norm.weight");
}

void TestSdCompvis::knownPairs()
{
    QFETCH(QString, network);
    QFETCH(QString, compvis);
    QFETCH(QString, diffusers);
    const std::optional<std::string> forward = mapName(network, true, compvis.toStdString());
    const std::optional<std::string> reverse = mapName(network, false, diffusers.toStdString());
    QVERIFY(forward);
    QVERIFY(reverse);
    LETHE_COMPARE_STR(*forward, diffusers.toStdString());
    LETHE_COMPARE_STR(*reverse, compvis.toStdString());
}

void TestSdCompvis::sd1UNetIsABijection()
{
    const UNetShape shape = sd1UNet();
    const Names diffusers = diffusersUNetNames(shape);
    const Names compvis = compvisUNetNames(shape);
    // The tensor count of SD 1.x's unet/diffusion_pytorch_model.safetensors.
    QCOMPARE(diffusers.size(), std::size_t(686));
    QCOMPARE(compvis.size(), std::size_t(686));
    // The default layout is SD 1.x's.
    const UNetLayout layout = shape.layout();
    const UNetLayout defaults;
    QCOMPARE(defaults.blocks, layout.blocks);
    QCOMPARE(defaults.layersPerBlock, layout.layersPerBlock);
    QVERIFY(defaults.downHasAttention == layout.downHasAttention);
    QVERIFY(defaults.upHasAttention == layout.upHasAttention);
    checkBijection(
        diffusers, compvis, [&](const std::string& name) { return diffusersToCompvisUNet(name, layout); },
        [&](const std::string& name) { return compvisToDiffusersUNet(name, layout); });
}

void TestSdCompvis::sd1VaeIsABijection()
{
    const VaeShape shape = sd1Vae();
    const Names diffusers = diffusersVaeNames(shape);
    // The tensor count of SD 1.x's vae/diffusion_pytorch_model.safetensors.
    QCOMPARE(diffusers.size(), std::size_t(248));
    QCOMPARE(VaeLayout {}.blocks, shape.layout().blocks);
    QCOMPARE(VaeLayout {}.layersPerBlock, shape.layout().layersPerBlock);
    checkBijection(
        diffusers, compvisVaeNames(shape),
        [&](const std::string& name) { return diffusersToCompvisVae(name, shape.layout()); },
        [&](const std::string& name) { return compvisToDiffusersVae(name, shape.layout()); });
}

void TestSdCompvis::otherUNetLayoutsAreBijections_data()
{
    QTest::addColumn<int>("layersPerBlock");
    QTest::addColumn<std::vector<int>>("channels");
    QTest::addColumn<std::vector<bool>>("levelAttention");
    QTest::newRow("2 blocks, 1 layer") << 1 << std::vector<int> { 32, 64 } << std::vector<bool> { false, true };
    QTest::newRow("2 blocks, 1 layer, attention first")
        << 1 << std::vector<int> { 32, 64 } << std::vector<bool> { true, false };
    QTest::newRow("3 blocks, 3 layers") << 3 << std::vector<int> { 32, 32, 64 }
                                        << std::vector<bool> { false, true, true };
    QTest::newRow("1 block, 2 layers") << 2 << std::vector<int> { 32 } << std::vector<bool> { true };
}

void TestSdCompvis::otherUNetLayoutsAreBijections()
{
    QFETCH(int, layersPerBlock);
    QFETCH(std::vector<int>, channels);
    QFETCH(std::vector<bool>, levelAttention);
    const UNetShape shape { channels, layersPerBlock, levelAttention };
    const UNetLayout layout = shape.layout();
    checkBijection(
        diffusersUNetNames(shape), compvisUNetNames(shape),
        [&](const std::string& name) { return diffusersToCompvisUNet(name, layout); },
        [&](const std::string& name) { return compvisToDiffusersUNet(name, layout); });

    if (layersPerBlock == 1 && channels.size() == 2 && !levelAttention[0]) {
        // L = 1: a level spans two input and two output blocks.
        LETHE_COMPARE_STR(
            *compvisToDiffusersUNet("input_blocks.3.1.norm.weight", layout), "down_blocks.1.attentions.0.norm.weight");
        LETHE_COMPARE_STR(
            *compvisToDiffusersUNet("input_blocks.2.0.op.weight", layout), "down_blocks.0.downsamplers.0.conv.weight");
        LETHE_COMPARE_STR(
            *compvisToDiffusersUNet("output_blocks.1.2.conv.bias", layout), "up_blocks.0.upsamplers.0.conv.bias");
        LETHE_COMPARE_STR(*compvisToDiffusersUNet("output_blocks.3.0.in_layers.0.weight", layout),
            "up_blocks.1.resnets.1.norm1.weight");
        QVERIFY(!compvisToDiffusersUNet("input_blocks.4.0.in_layers.0.weight", layout));
        QVERIFY(!compvisToDiffusersUNet("output_blocks.3.2.conv.weight", layout));
    }
}

void TestSdCompvis::smallVaeIsABijection()
{
    for (const VaeShape& shape : { VaeShape { { 32, 64 }, 1 }, VaeShape { { 32, 64, 64 }, 3 } })
        checkBijection(
            diffusersVaeNames(shape), compvisVaeNames(shape),
            [&](const std::string& name) { return diffusersToCompvisVae(name, shape.layout()); },
            [&](const std::string& name) { return compvisToDiffusersVae(name, shape.layout()); });
    const VaeLayout small { 2, 1 };
    LETHE_COMPARE_STR(*compvisToDiffusersVae("decoder.up.1.block.1.conv1.weight", small),
        "decoder.up_blocks.0.resnets.1.conv1.weight");
    LETHE_COMPARE_STR(*compvisToDiffusersVae("decoder.up.1.upsample.conv.weight", small),
        "decoder.up_blocks.0.upsamplers.0.conv.weight");
    QVERIFY(!compvisToDiffusersVae("decoder.up.2.block.0.conv1.weight", small));
    QVERIFY(!compvisToDiffusersVae("encoder.down.0.block.1.conv1.weight", small));
}

void TestSdCompvis::textEncoderIsABijection()
{
    const Names names = textEncoderNames(12);
    // The parameters of SD 1.x's text_encoder (position_ids is a buffer).
    QCOMPARE(names.size(), std::size_t(196));
    checkBijection(names, names, diffusersToCompvisTextEncoder, compvisToDiffusersTextEncoder);
}

void TestSdCompvis::olderTextEncoderNamesGainTextModel()
{
    for (const auto& name : textEncoderNames(12)) {
        const std::string older = name.substr(std::string("text_model.").size());
        const auto mapped = compvisToDiffusersTextEncoder(older);
        QVERIFY2(mapped, older.c_str());
        LETHE_COMPARE_STR(*mapped, name);
        // Exported files use today's form.
        LETHE_COMPARE_STR(*diffusersToCompvisTextEncoder(*mapped), name);
    }
    // diffusers' names always have the level.
    QVERIFY(!diffusersToCompvisTextEncoder("encoder.layers.0.mlp.fc1.weight"));
}

void TestSdCompvis::unknownNamesHaveNoCounterpart_data()
{
    QTest::addColumn<QString>("network");
    QTest::addColumn<QString>("side");
    QTest::addColumn<QString>("name");
    const auto row = [](const char* network, const char* side, const char* name) {
        QTest::addRow("%s %s '%s'", network, side, name)
            << QString::fromLatin1(network) << QString::fromLatin1(side) << QString::fromLatin1(name);
    };
    for (const char* name :
        { "", "weight", ".weight", "input_blocks.1.0", "input_blocks.1.0.", "time_embed.1.weight",
            "time_embed.0.running_mean", "input_blocks.1.0.in_layers.1.weight", "input_blocks.01.0.in_layers.0.weight",
            "input_blocks.12.0.in_layers.0.weight", "input_blocks.3.1.norm.weight", "input_blocks.10.1.norm.weight",
            "input_blocks.3.0.in_layers.0.weight", "input_blocks.1.0.op.weight", "output_blocks.2.2.conv.weight",
            "output_blocks.5.1.conv.weight", "output_blocks.11.2.conv.weight", "output_blocks.12.0.in_layers.0.weight",
            "output_blocks.0.1.norm.weight", "middle_block.3.in_layers.0.weight",
            "input_blocks.1.1.transformer_blocks.0.attn1.to_q.bias",
            "input_blocks.1.1.transformer_blocks.x.attn1.to_q.weight",
            "input_blocks.1.1.transformer_blocks.0.attn3.to_q.weight", "input_blocks.1.1.norm.weight.extra",
            "conv_in.weight", "down_blocks.0.resnets.0.norm1.weight", "model.diffusion_model.input_blocks.0.0.weight" })
        row("unet", "compvis", name);
    for (const char* name : { "", "conv_in", "conv_in.running_var", "time_embedding.linear_3.weight",
             "down_blocks.3.attentions.0.norm.weight", "down_blocks.3.downsamplers.0.conv.weight",
             "down_blocks.0.resnets.2.norm1.weight", "down_blocks.4.resnets.0.norm1.weight",
             "up_blocks.3.upsamplers.0.conv.weight", "up_blocks.0.attentions.0.norm.weight",
             "up_blocks.0.resnets.3.norm1.weight", "up_blocks.1.resnets.0.skip_connection.weight",
             "mid_block.attentions.1.norm.weight", "mid_block.resnets.2.norm1.weight", "conv_in.weight.extra",
             "input_blocks.0.0.weight" })
        row("unet", "diffusers", name);
    for (const char* name : { "encoder.down.3.downsample.conv.weight", "decoder.up.0.upsample.conv.weight",
             "encoder.down.0.block.2.norm1.weight", "decoder.up.4.block.0.norm1.weight",
             "encoder.mid.attn_1.to_q.weight", "encoder.mid.attn_1.q.running_mean", "encoder.mid.attn_2.q.weight",
             "encoder.mid.block_3.conv1.weight", "encoder.down.0.block.0.time_emb_proj.weight", "loss.logvar",
             "loss.discriminator.main.0.weight", "decoder.up_blocks.0.resnets.0.norm1.weight" })
        row("vae", "compvis", name);
    for (const char* name : { "encoder.down_blocks.3.downsamplers.0.conv.weight",
             "decoder.up_blocks.3.upsamplers.0.conv.weight", "decoder.up_blocks.0.resnets.3.norm1.weight",
             "encoder.mid_block.attentions.0.query.weight", "encoder.mid_block.attentions.0.proj_attn.weight",
             "encoder.norm_out.weight", "decoder.up.3.block.0.norm1.weight" })
        row("vae", "diffusers", name);
    for (const char* name : { "text_model.embeddings.position_ids", "embeddings.position_ids", "logit_scale",
             "text_model.encoder.layers.0.self_attn.q_proj.bias_x", "text_model.encoder.layers.x.mlp.fc1.weight",
             "text_model.encoder.layers.00.mlp.fc1.weight", "text_model.encoder.layers.0.mlp.fc3.weight",
             "text_model.text_model.final_layer_norm.weight", "text_projection.weight" })
        row("text", "compvis", name);
    for (const char* name :
        { "text_model.embeddings.position_ids", "final_layer_norm.weight", "text_model.encoder.layers.1.mlp.weight" })
        row("text", "diffusers", name);
}

void TestSdCompvis::unknownNamesHaveNoCounterpart()
{
    QFETCH(QString, network);
    QFETCH(QString, side);
    QFETCH(QString, name);
    const std::optional<std::string> mapped = mapName(network, side == QLatin1String("compvis"), name.toStdString());
    QVERIFY2(!mapped, mapped ? mapped->c_str() : "");
}

void TestSdCompvis::singleFileMappingsPickTheirPrefix()
{
    const nn::KeyMapping unet = compvisUNetMapping(UNetLayout {});
    const nn::KeyMapping vae = compvisVaeMapping(VaeLayout {});
    const nn::KeyMapping text = compvisTextEncoderMapping();
    const std::string unetName = "model.diffusion_model.input_blocks.4.1.proj_in.weight";
    const std::string vaeName = "first_stage_model.decoder.up.2.block.1.norm2.bias";
    const std::string textName = "cond_stage_model.transformer.text_model.encoder.layers.3.layer_norm1.weight";
    LETHE_COMPARE_STR(*unet(unetName), "down_blocks.1.attentions.0.proj_in.weight");
    LETHE_COMPARE_STR(*vae(vaeName), "decoder.up_blocks.1.resnets.1.norm2.bias");
    LETHE_COMPARE_STR(*text(textName), "text_model.encoder.layers.3.layer_norm1.weight");
    LETHE_COMPARE_STR(*text("cond_stage_model.transformer.encoder.layers.3.layer_norm1.weight"),
        "text_model.encoder.layers.3.layer_norm1.weight");

    // Everything outside a mapping's prefix belongs to another model or to training, and is skipped.
    const Names others { "model_ema.diffusion_modelinput_blocks00weight", "model_ema.decay", "model_ema.num_updates",
        "alphas_cumprod", "alphas_cumprod_prev", "betas", "posterior_variance", "logvar", "input_blocks.0.0.weight",
        "model.diffusion_model", "diffusion_model.input_blocks.0.0.weight", "cond_stage_model.model.ln_final.weight",
        "encoder.conv_in.weight", "" };
    for (const auto& name : others) {
        QVERIFY2(!unet(name), name.c_str());
        QVERIFY2(!vae(name), name.c_str());
        QVERIFY2(!text(name), name.c_str());
    }
    QVERIFY(!unet(vaeName) && !unet(textName));
    QVERIFY(!vae(unetName) && !vae(textName));
    QVERIFY(!text(unetName) && !text(vaeName));

    // The buffer older transformers saved: nothing to load it into.
    QVERIFY(!text("cond_stage_model.transformer.text_model.embeddings.position_ids"));
    QVERIFY(!text("cond_stage_model.transformer.embeddings.position_ids"));
}

void TestSdCompvis::singleFileMappingsKeepUnknownNamesForTheReport()
{
    // A tensor under the network's prefix that the rules do not know must reach the loader's report.
    for (const std::string name :
        { "model.diffusion_model.input_blocks.12.0.in_layers.0.weight", "model.diffusion_model.label_emb.0.0.weight" })
        LETHE_COMPARE_STR(*compvisUNetMapping(UNetLayout {})(name), name);
    const std::string loss = "first_stage_model.loss.logvar";
    LETHE_COMPARE_STR(*compvisVaeMapping(VaeLayout {})(loss), loss);
    const std::string projection = "cond_stage_model.transformer.text_projection.weight";
    LETHE_COMPARE_STR(*compvisTextEncoderMapping()(projection), projection);
}

void TestSdCompvis::inconsistentLayoutsThrow()
{
    UNetLayout unet;
    unet.upHasAttention.pop_back();
    LETHE_COMPARE_STR(errorMessage([&] { compvisUNetMapping(unet); }),
        "Stable Diffusion UNet layout: 4 blocks but attention flags for 4 down and 3 up blocks");
    LETHE_COMPARE_STR(errorMessage([&] { diffusersToCompvisUNet("conv_in.weight", unet); }),
        "Stable Diffusion UNet layout: 4 blocks but attention flags for 4 down and 3 up blocks");
    unet = UNetLayout {};
    unet.layersPerBlock = 0;
    LETHE_COMPARE_STR(errorMessage([&] { compvisToDiffusersUNet("conv_in.weight", unet); }),
        "Stable Diffusion UNet layout: 0 layers per block, expected 1 to 64");
    LETHE_COMPARE_STR(errorMessage([&] {
        compvisVaeMapping(VaeLayout { 0, 2 });
    }),
        "Stable Diffusion VAE layout: 0 blocks, expected 1 to 64");
    LETHE_COMPARE_STR(errorMessage([&] {
        diffusersToCompvisVae("quant_conv.weight", VaeLayout { 65, 2 });
    }),
        "Stable Diffusion VAE layout: 65 blocks, expected 1 to 64");
    LETHE_COMPARE_STR(errorMessage([&] {
        compvisVaeMapping(VaeLayout { 4, -1 });
    }),
        "Stable Diffusion VAE layout: -1 layers per block, expected 1 to 64");
}

void TestSdCompvis::loaderFillsAVaeFromASingleFile()
{
    // A fragment of AutoencoderKL under diffusers' names: the encoder's mid-block attention and quant_conv.
    torch::manual_seed(3);
    auto attention = std::make_shared<torch::nn::Module>();
    attention->register_module("group_norm", torch::nn::GroupNorm(2, 4));
    for (const char* name : { "to_q", "to_k", "to_v" })
        attention->register_module(name, torch::nn::Linear(4, 4));
    attention->register_module("to_out", torch::nn::ModuleList(torch::nn::Linear(4, 4)));
    auto midBlock = std::make_shared<torch::nn::Module>();
    midBlock->register_module("attentions", torch::nn::ModuleList(attention));
    auto encoder = std::make_shared<torch::nn::Module>();
    encoder->register_module("mid_block", midBlock);
    torch::nn::Module vae;
    vae.register_module("encoder", encoder);
    vae.register_module("quant_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 4, 1)));

    // The same tensors as a CompVis single file stores them, among other models' and EMA tensors.
    std::vector<io::NamedTensor> file;
    std::map<std::string, torch::Tensor> expected;
    const auto put = [&](const std::string& compvis, const std::string& diffusers, torch::Tensor tensor) {
        file.push_back({ "first_stage_model." + compvis, tensor });
        expected[diffusers] = tensor;
    };
    put("encoder.mid.attn_1.norm.weight", "encoder.mid_block.attentions.0.group_norm.weight", torch::randn({ 4 }));
    put("encoder.mid.attn_1.norm.bias", "encoder.mid_block.attentions.0.group_norm.bias", torch::randn({ 4 }));
    const std::vector<std::pair<std::string, std::string>> projections { { "q", "to_q" }, { "k", "to_k" },
        { "v", "to_v" }, { "proj_out", "to_out.0" } };
    for (const auto& [compvis, diffusers] : projections) {
        put("encoder.mid.attn_1." + compvis + ".weight", "encoder.mid_block.attentions.0." + diffusers + ".weight",
            torch::randn({ 4, 4, 1, 1 }));
        put("encoder.mid.attn_1." + compvis + ".bias", "encoder.mid_block.attentions.0." + diffusers + ".bias",
            torch::randn({ 4 }));
    }
    put("quant_conv.weight", "quant_conv.weight", torch::randn({ 4, 4, 1, 1 }));
    put("quant_conv.bias", "quant_conv.bias", torch::randn({ 4 }));
    file.push_back({ "model.diffusion_model.input_blocks.0.0.bias", torch::zeros({ 4 }) });
    file.push_back({ "cond_stage_model.transformer.text_model.final_layer_norm.bias", torch::zeros({ 4 }) });
    file.push_back({ "model_ema.decay", torch::tensor(0.9999F) });
    file.push_back({ "alphas_cumprod", torch::ones({ 10 }) });

    ScratchDir dir;
    const auto path = dir / "sd.safetensors";
    io::writeSafetensors(path, file);
    nn::LoadOptions options;
    options.mapping = compvisVaeMapping(VaeLayout {});
    options.acceptTrailingUnitDims = true;
    const nn::LoadReport report = nn::loadStateDict(vae, io::SafetensorsFile(path), options);
    QVERIFY(report.complete());
    QCOMPARE(report.loaded.size(), expected.size());
    for (const auto& named : nn::stateDict(vae)) {
        const torch::Tensor& want = expected.at(named.name);
        QVERIFY2(torch::equal(named.tensor, want.reshape(named.tensor.sizes())), named.name.c_str());
    }

    // A VAE tensor the rules do not know is reported under the file's name, not dropped.
    file.push_back({ "first_stage_model.loss.logvar", torch::zeros({}) });
    io::writeSafetensors(path, file);
    LETHE_COMPARE_STR(errorMessage([&] { nn::loadStateDict(vae, io::SafetensorsFile(path), options); }),
        path.string()
            + ": tensor 'first_stage_model.loss.logvar': unexpected: the model has no parameter or buffer "
              "of that name");
}

QTEST_APPLESS_MAIN(TestSdCompvis)
#include "test_sd_compvis.moc"
