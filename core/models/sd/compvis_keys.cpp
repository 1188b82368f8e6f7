#include "core/models/sd/compvis_keys.h"

#include "core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

namespace lethe::models::sd {

namespace {

// Both sides name a module by a dotted prefix and its tensors by a leaf below it; only the prefixes depend on
// the layout, and what a leaf may be depends on the kind of module.
enum class Part {
    Plain, // a convolution, linear layer or norm whose own weight and bias are the leaves
    UNetResnet,
    Transformer, // a SpatialTransformer / Transformer2DModel: the same leaves on both sides
    VaeResnet,
    VaeAttention,
};

enum class Direction { ToDiffusers, ToCompvis };

using StemPairs = std::vector<std::pair<std::string, std::string>>; // (CompVis, diffusers)

const StemPairs& unetResnetStems()
{
    static const StemPairs stems { { "in_layers.0", "norm1" }, { "in_layers.2", "conv1" },
        { "emb_layers.1", "time_emb_proj" }, { "out_layers.0", "norm2" }, { "out_layers.3", "conv2" },
        { "skip_connection", "conv_shortcut" } };
    return stems;
}

const StemPairs& vaeResnetStems()
{
    static const StemPairs stems { { "norm1", "norm1" }, { "conv1", "conv1" }, { "norm2", "norm2" },
        { "conv2", "conv2" }, { "nin_shortcut", "conv_shortcut" } };
    return stems;
}

const StemPairs& vaeAttentionStems()
{
    static const StemPairs stems { { "norm", "group_norm" }, { "q", "to_q" }, { "k", "to_k" }, { "v", "to_v" },
        { "proj_out", "to_out.0" } };
    return stems;
}

bool startsWith(const std::string& text, const std::string& prefix)
{
    return text.compare(0, prefix.size(), prefix) == 0;
}

bool isParameter(const std::string& name)
{
    return name == "weight" || name == "bias";
}

// A block index as PyTorch writes it: decimal digits without leading zeros.
bool isIndex(const std::string& text)
{
    if (text.empty() || text.size() > 6 || (text.size() > 1 && text[0] == '0'))
        return false;
    for (const char c : text)
        if (c < '0' || c > '9')
            return false;
    return true;
}

// Splits "a.b.weight" into ("a.b", "weight"); nullopt when the last segment is not weight or bias.
std::optional<std::pair<std::string, std::string>> splitParameter(const std::string& leaf)
{
    const auto dot = leaf.rfind('.');
    if (dot == std::string::npos || !isParameter(leaf.substr(dot + 1)))
        return std::nullopt;
    return std::make_pair(leaf.substr(0, dot), leaf.substr(dot + 1));
}

std::optional<std::string> mapStem(const StemPairs& stems, const std::string& leaf, Direction direction)
{
    const auto split = splitParameter(leaf);
    if (!split)
        return std::nullopt;
    for (const auto& [compvis, diffusers] : stems) {
        const std::string& from = direction == Direction::ToDiffusers ? compvis : diffusers;
        const std::string& to = direction == Direction::ToDiffusers ? diffusers : compvis;
        if (split->first == from)
            return to + "." + split->second;
    }
    return std::nullopt;
}

// The leaves of a BasicTransformerBlock (self-attention, cross-attention, GEGLU feed-forward); q, k and v have
// no bias in SD 1.x.
bool isTransformerBlockLeaf(const std::string& leaf)
{
    for (const char* attention : { "attn1.", "attn2." })
        for (const char* projection : { "to_q.weight", "to_k.weight", "to_v.weight" })
            if (leaf == std::string(attention) + projection)
                return true;
    const auto split = splitParameter(leaf);
    if (!split)
        return false;
    for (const char* stem :
        { "norm1", "norm2", "norm3", "attn1.to_out.0", "attn2.to_out.0", "ff.net.0.proj", "ff.net.2" })
        if (split->first == stem)
            return true;
    return false;
}

bool isTransformerLeaf(const std::string& leaf)
{
    const std::string blocks = "transformer_blocks.";
    if (startsWith(leaf, blocks)) {
        const auto dot = leaf.find('.', blocks.size());
        return dot != std::string::npos && isIndex(leaf.substr(blocks.size(), dot - blocks.size()))
            && isTransformerBlockLeaf(leaf.substr(dot + 1));
    }
    const auto split = splitParameter(leaf);
    return split && (split->first == "norm" || split->first == "proj_in" || split->first == "proj_out");
}

std::optional<std::string> mapLeaf(Part part, const std::string& leaf, Direction direction)
{
    switch (part) {
    case Part::Plain:
        return isParameter(leaf) ? std::optional<std::string>(leaf) : std::nullopt;
    case Part::UNetResnet:
        return mapStem(unetResnetStems(), leaf, direction);
    case Part::Transformer:
        return isTransformerLeaf(leaf) ? std::optional<std::string>(leaf) : std::nullopt;
    case Part::VaeResnet:
        return mapStem(vaeResnetStems(), leaf, direction);
    case Part::VaeAttention:
        return mapStem(vaeAttentionStems(), leaf, direction);
    }
    return std::nullopt;
}

// Module prefixes of one network on both sides. No prefix of one side is a dotted prefix of another, so a
// name has at most one module.
class PrefixTable {
public:
    void add(const std::string& compvis, const std::string& diffusers, Part part)
    {
        m_toDiffusers.emplace(compvis, std::make_pair(diffusers, part));
        m_toCompvis.emplace(diffusers, std::make_pair(compvis, part));
    }

    std::optional<std::string> map(const std::string& name, Direction direction) const
    {
        const auto& table = direction == Direction::ToDiffusers ? m_toDiffusers : m_toCompvis;
        for (auto dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
            const auto found = table.find(name.substr(0, dot));
            if (found == table.end())
                continue;
            const auto leaf = mapLeaf(found->second.second, name.substr(dot + 1), direction);
            if (!leaf)
                return std::nullopt;
            return found->second.first + "." + *leaf;
        }
        return std::nullopt;
    }

private:
    std::unordered_map<std::string, std::pair<std::string, Part>> m_toDiffusers;
    std::unordered_map<std::string, std::pair<std::string, Part>> m_toCompvis;
};

std::string str(int value)
{
    return std::to_string(value);
}

void checkCounts(const char* network, int blocks, int layersPerBlock)
{
    // The bound only keeps a corrupt config from building a huge table; SD uses 4 blocks of 2 layers.
    constexpr int kMost = 64;
    if (blocks < 1 || blocks > kMost)
        throw Error(std::string("Stable Diffusion ") + network + " layout: " + str(blocks) + " blocks, expected 1 to "
            + str(kMost));
    if (layersPerBlock < 1 || layersPerBlock > kMost)
        throw Error(std::string("Stable Diffusion ") + network + " layout: " + str(layersPerBlock)
            + " layers per block, expected 1 to " + str(kMost));
}

PrefixTable unetTable(const UNetLayout& layout)
{
    checkCounts("UNet", layout.blocks, layout.layersPerBlock);
    const auto blocks = static_cast<std::size_t>(layout.blocks);
    if (layout.downHasAttention.size() != blocks || layout.upHasAttention.size() != blocks)
        throw Error("Stable Diffusion UNet layout: " + str(layout.blocks) + " blocks but attention flags for "
            + str(static_cast<int>(layout.downHasAttention.size())) + " down and "
            + str(static_cast<int>(layout.upHasAttention.size())) + " up blocks");

    const int last = layout.blocks - 1;
    const int perLevel = layout.layersPerBlock + 1; // input and output blocks one level spans
    PrefixTable table;
    table.add("time_embed.0", "time_embedding.linear_1", Part::Plain);
    table.add("time_embed.2", "time_embedding.linear_2", Part::Plain);
    table.add("input_blocks.0.0", "conv_in", Part::Plain);
    table.add("out.0", "conv_norm_out", Part::Plain);
    table.add("out.2", "conv_out", Part::Plain);
    if (layout.addedEmbedding) {
        table.add("label_emb.0.0", "add_embedding.linear_1", Part::Plain);
        table.add("label_emb.0.2", "add_embedding.linear_2", Part::Plain);
    }

    for (int i = 0; i < layout.blocks; ++i) {
        const std::string down = "down_blocks." + str(i);
        for (int j = 0; j < layout.layersPerBlock; ++j) {
            const std::string input = "input_blocks." + str(perLevel * i + j + 1);
            table.add(input + ".0", down + ".resnets." + str(j), Part::UNetResnet);
            if (layout.downHasAttention[static_cast<std::size_t>(i)])
                table.add(input + ".1", down + ".attentions." + str(j), Part::Transformer);
        }
        if (i < last)
            table.add("input_blocks." + str(perLevel * (i + 1)) + ".0.op", down + ".downsamplers.0.conv", Part::Plain);
    }

    table.add("middle_block.0", "mid_block.resnets.0", Part::UNetResnet);
    table.add("middle_block.1", "mid_block.attentions.0", Part::Transformer);
    table.add("middle_block.2", "mid_block.resnets.1", Part::UNetResnet);

    for (int i = 0; i < layout.blocks; ++i) {
        const std::string up = "up_blocks." + str(i);
        const bool attention = layout.upHasAttention[static_cast<std::size_t>(i)];
        for (int j = 0; j <= layout.layersPerBlock; ++j) {
            const std::string output = "output_blocks." + str(perLevel * i + j);
            table.add(output + ".0", up + ".resnets." + str(j), Part::UNetResnet);
            if (attention)
                table.add(output + ".1", up + ".attentions." + str(j), Part::Transformer);
        }
        // The upsampler follows the level's last resnet (and its attention, when there is one).
        if (i < last)
            table.add(
                "output_blocks." + str(perLevel * i + layout.layersPerBlock) + (attention ? ".2" : ".1") + ".conv",
                up + ".upsamplers.0.conv", Part::Plain);
    }
    return table;
}

PrefixTable vaeTable(const VaeLayout& layout)
{
    checkCounts("VAE", layout.blocks, layout.layersPerBlock);
    const int last = layout.blocks - 1;
    PrefixTable table;
    table.add("quant_conv", "quant_conv", Part::Plain);
    table.add("post_quant_conv", "post_quant_conv", Part::Plain);
    for (const std::string coder : { "encoder", "decoder" }) {
        table.add(coder + ".conv_in", coder + ".conv_in", Part::Plain);
        table.add(coder + ".mid.block_1", coder + ".mid_block.resnets.0", Part::VaeResnet);
        table.add(coder + ".mid.attn_1", coder + ".mid_block.attentions.0", Part::VaeAttention);
        table.add(coder + ".mid.block_2", coder + ".mid_block.resnets.1", Part::VaeResnet);
        table.add(coder + ".norm_out", coder + ".conv_norm_out", Part::Plain);
        table.add(coder + ".conv_out", coder + ".conv_out", Part::Plain);
    }
    for (int i = 0; i < layout.blocks; ++i) {
        const std::string down = "encoder.down." + str(i);
        const std::string downBlock = "encoder.down_blocks." + str(i);
        for (int j = 0; j < layout.layersPerBlock; ++j)
            table.add(down + ".block." + str(j), downBlock + ".resnets." + str(j), Part::VaeResnet);
        if (i < last)
            table.add(down + ".downsample.conv", downBlock + ".downsamplers.0.conv", Part::Plain);

        // CompVis numbers the decoder's levels from the lowest resolution up, diffusers in the order they run.
        const std::string up = "decoder.up." + str(last - i);
        const std::string upBlock = "decoder.up_blocks." + str(i);
        for (int j = 0; j <= layout.layersPerBlock; ++j)
            table.add(up + ".block." + str(j), upBlock + ".resnets." + str(j), Part::VaeResnet);
        if (i < last)
            table.add(up + ".upsample.conv", upBlock + ".upsamplers.0.conv", Part::Plain);
    }
    return table;
}

const std::string kTextModel = "text_model.";
const std::string kPositionIds = "embeddings.position_ids";

// A CLIPTextModel tensor's name below `text_model.`.
bool isTextLeaf(const std::string& leaf)
{
    if (leaf == "embeddings.token_embedding.weight" || leaf == "embeddings.position_embedding.weight"
        || leaf == "final_layer_norm.weight" || leaf == "final_layer_norm.bias")
        return true;
    const std::string layers = "encoder.layers.";
    if (!startsWith(leaf, layers))
        return false;
    const auto dot = leaf.find('.', layers.size());
    if (dot == std::string::npos || !isIndex(leaf.substr(layers.size(), dot - layers.size())))
        return false;
    const auto split = splitParameter(leaf.substr(dot + 1));
    if (!split)
        return false;
    for (const char* stem : { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
             "layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2" })
        if (split->first == stem)
            return true;
    return false;
}

std::string withoutTextModel(const std::string& name)
{
    return startsWith(name, kTextModel) ? name.substr(kTextModel.size()) : name;
}

// A whole-file mapping: names under `prefix` go through `rename`, falling back to the file's name (so the
// loader reports them) when it has none, unless `skip` says the tensor has no counterpart by design.
template <typename Rename, typename Skip> nn::KeyMapping singleFileMapping(std::string prefix, Rename rename, Skip skip)
{
    return [prefix = std::move(prefix), rename = std::move(rename), skip = std::move(skip)](
               const std::string& fileName) -> std::optional<std::string> {
        if (!startsWith(fileName, prefix))
            return std::nullopt;
        const std::string name = fileName.substr(prefix.size());
        if (skip(name))
            return std::nullopt;
        std::optional<std::string> renamed = rename(name);
        return renamed ? renamed : std::optional<std::string>(fileName);
    };
}

} // namespace

std::optional<std::string> compvisToDiffusersUNet(const std::string& compvisName, const UNetLayout& layout)
{
    return unetTable(layout).map(compvisName, Direction::ToDiffusers);
}

std::optional<std::string> diffusersToCompvisUNet(const std::string& diffusersName, const UNetLayout& layout)
{
    return unetTable(layout).map(diffusersName, Direction::ToCompvis);
}

std::optional<std::string> compvisToDiffusersVae(const std::string& compvisName, const VaeLayout& layout)
{
    return vaeTable(layout).map(compvisName, Direction::ToDiffusers);
}

std::optional<std::string> diffusersToCompvisVae(const std::string& diffusersName, const VaeLayout& layout)
{
    return vaeTable(layout).map(diffusersName, Direction::ToCompvis);
}

std::optional<std::string> compvisToDiffusersTextEncoder(const std::string& compvisName)
{
    const std::string leaf = withoutTextModel(compvisName);
    if (!isTextLeaf(leaf))
        return std::nullopt;
    return kTextModel + leaf;
}

std::optional<std::string> diffusersToCompvisTextEncoder(const std::string& diffusersName)
{
    // SD 1.x files from current transformers keep the `text_model.` level, so the names are the same.
    if (!startsWith(diffusersName, kTextModel) || !isTextLeaf(diffusersName.substr(kTextModel.size())))
        return std::nullopt;
    return diffusersName;
}

nn::KeyMapping compvisUNetMapping(const UNetLayout& layout)
{
    auto table = std::make_shared<const PrefixTable>(unetTable(layout));
    return singleFileMapping(
        kCompvisUNetPrefix, [table](const std::string& name) { return table->map(name, Direction::ToDiffusers); },
        [](const std::string&) { return false; });
}

nn::KeyMapping compvisVaeMapping(const VaeLayout& layout)
{
    auto table = std::make_shared<const PrefixTable>(vaeTable(layout));
    return singleFileMapping(
        kCompvisVaePrefix, [table](const std::string& name) { return table->map(name, Direction::ToDiffusers); },
        [](const std::string&) { return false; });
}

nn::KeyMapping compvisTextEncoderMapping(const std::string& prefix)
{
    return singleFileMapping(
        prefix, [](const std::string& name) { return compvisToDiffusersTextEncoder(name); },
        [](const std::string& name) { return withoutTextModel(name) == kPositionIds; });
}

namespace {

/// Where a CLIPTextModel tensor comes from in an OpenCLIP text encoder: the file's name (without the prefix) and,
/// for q, k and v, which third of in_proj's rows (0, 1, 2; −1 for the whole tensor).
struct OpenClipSource {
    std::string name;
    int third = -1;
    /// text_projection: OpenCLIP's [width, projection_dim] matrix is the Linear weight transposed.
    bool transposed = false;
};

std::optional<OpenClipSource> openClipSource(const std::string& diffusersName)
{
    static const std::vector<std::pair<std::string, std::string>> whole {
        { "text_model.embeddings.token_embedding.weight", "token_embedding.weight" },
        { "text_model.embeddings.position_embedding.weight", "positional_embedding" },
        { "text_model.final_layer_norm.weight", "ln_final.weight" },
        { "text_model.final_layer_norm.bias", "ln_final.bias" },
    };
    for (const auto& [diffusers, openClip] : whole)
        if (diffusersName == diffusers)
            return OpenClipSource { openClip };
    if (diffusersName == "text_projection.weight")
        return OpenClipSource { "text_projection", -1, true };
    const std::string layers = "text_model.encoder.layers.";
    if (!startsWith(diffusersName, layers))
        return std::nullopt;
    const auto dot = diffusersName.find('.', layers.size());
    if (dot == std::string::npos || !isIndex(diffusersName.substr(layers.size(), dot - layers.size())))
        return std::nullopt;
    const std::string block = "transformer.resblocks." + diffusersName.substr(layers.size(), dot - layers.size());
    const auto split = splitParameter(diffusersName.substr(dot + 1));
    if (!split)
        return std::nullopt;
    static const std::vector<std::pair<std::string, std::string>> stems { { "layer_norm1", "ln_1" },
        { "layer_norm2", "ln_2" }, { "self_attn.out_proj", "attn.out_proj" }, { "mlp.fc1", "mlp.c_fc" },
        { "mlp.fc2", "mlp.c_proj" } };
    for (const auto& [diffusers, openClip] : stems)
        if (split->first == diffusers)
            return OpenClipSource { block + "." + openClip + "." + split->second };
    const char* const projections[] = { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj" };
    for (int third = 0; third < 3; ++third)
        if (split->first == projections[third])
            return OpenClipSource { block + ".attn.in_proj_" + split->second, third };
    return std::nullopt;
}

/// Whether an OpenCLIP tensor (named without the prefix) is one a CLIPTextModel of `layers` layers has no place
/// for by design: the resblock numbered `layers` (the one the diffusers export drops), text_projection,
/// logit_scale.
bool skippedOpenClipTensor(const std::string& name, std::int64_t layers)
{
    if (name == "text_projection" || name == "logit_scale")
        return true;
    return startsWith(name, "transformer.resblocks." + std::to_string(layers) + ".");
}

} // namespace

namespace {

std::vector<io::NamedTensor> loadOpenClip(torch::nn::Module& model, std::int64_t layers,
    const io::SafetensorsFile& file, const std::string& prefix, const std::string& component)
{
    const std::string path = file.path().string();
    const auto tensorWhere = [&](const std::string& name) { return "tensor '" + prefix + name + "'"; };
    struct Copy {
        torch::Tensor destination;
        std::string source;
        int third;
        bool transposed;
    };
    std::vector<Copy> copies;
    std::vector<std::string> used;
    for (const io::NamedTensor& target : nn::stateDict(model)) {
        const std::optional<OpenClipSource> source = openClipSource(target.name);
        if (!source)
            throw Error("no OpenCLIP name for the text encoder tensor " + target.name);
        if (!file.contains(prefix + source->name))
            throw FormatError(path, tensorWhere(source->name),
                "missing from the file (the OpenCLIP text encoder of a " + std::to_string(layers) + "-layer "
                    + component + " config needs it)");
        const io::TensorEntry& entry = file.entry(prefix + source->name);
        std::vector<std::int64_t> expected = target.tensor.sizes().vec();
        if (source->third >= 0)
            expected[0] *= 3;
        if (source->transposed)
            std::reverse(expected.begin(), expected.end());
        if (entry.shape != expected)
            throw FormatError(path, tensorWhere(source->name),
                "expected shape " + nn::shapeText(expected) + ", found " + nn::shapeText(entry.shape)
                    + (source->third >= 0 ? " (q, k and v stacked)" : ""));
        if (entry.dtype != io::DType::F32 && entry.dtype != io::DType::F16 && entry.dtype != io::DType::BF16
            && entry.dtype != io::DType::F64)
            throw FormatError(path, tensorWhere(source->name), "expected a floating-point tensor");
        copies.push_back({ target.tensor, prefix + source->name, source->third, source->transposed });
        used.push_back(prefix + source->name);
    }
    std::vector<std::string> skipped;
    for (const io::TensorEntry& entry : file.entries()) {
        if (!startsWith(entry.name, prefix) || std::find(used.begin(), used.end(), entry.name) != used.end())
            continue;
        if (skippedOpenClipTensor(entry.name.substr(prefix.size()), layers)) {
            skipped.push_back(entry.name);
            continue;
        }
        throw FormatError(path, "tensor '" + entry.name + "'",
            "unexpected: an OpenCLIP text encoder of " + std::to_string(layers)
                + " layers (plus the one the diffusers export drops) has no tensor of that name");
    }
    torch::NoGradGuard noGrad;
    for (const Copy& copy : copies) {
        torch::Tensor value = file.tensor(copy.source);
        if (copy.third >= 0)
            value = value.chunk(3, 0)[static_cast<std::size_t>(copy.third)];
        if (copy.transposed)
            value = value.t();
        copy.destination.copy_(value);
    }
    std::vector<io::NamedTensor> extras;
    for (const std::string& name : skipped)
        extras.push_back({ name.substr(prefix.size()), file.tensor(name) });
    return extras;
}

} // namespace

std::vector<io::NamedTensor> loadOpenClipTextWeights(ClipTextModelImpl& model, const io::SafetensorsFile& file)
{
    return loadOpenClip(
        model, model.text_model->options.num_hidden_layers(), file, kCompvisOpenClipPrefix, "text_encoder");
}

std::vector<io::NamedTensor> loadOpenClipTextWeights(
    ClipTextModelWithProjectionImpl& model, const io::SafetensorsFile& file, const std::string& prefix)
{
    return loadOpenClip(model, model.text_model->options.num_hidden_layers(), file, prefix, "text_encoder_2");
}

namespace {

std::vector<io::NamedTensor> openClipTensors(
    const torch::nn::Module& model, torch::ScalarType dtype, const std::vector<io::NamedTensor>& extras)
{
    std::vector<io::NamedTensor> out;
    std::map<std::string, std::vector<torch::Tensor>> stacked;
    for (const io::NamedTensor& t : nn::stateDict(model)) {
        const std::optional<OpenClipSource> source = openClipSource(t.name);
        if (!source)
            throw Error("no OpenCLIP name for the text encoder tensor " + t.name
                + "; this model cannot be written as an SD 2.x single file");
        if (source->third < 0) {
            out.push_back({ source->name, source->transposed ? t.tensor.t().contiguous() : t.tensor });
            continue;
        }
        std::vector<torch::Tensor>& parts = stacked[source->name];
        parts.resize(3);
        parts[static_cast<std::size_t>(source->third)] = t.tensor;
        if (parts[0].defined() && parts[1].defined() && parts[2].defined())
            out.push_back({ source->name, torch::cat(parts, 0) });
    }
    for (const io::NamedTensor& t : extras)
        out.push_back({ t.name, t.tensor.is_floating_point() ? t.tensor.to(dtype) : t.tensor });
    return out;
}

} // namespace

std::vector<io::NamedTensor> openClipTextTensors(
    const ClipTextModelImpl& model, const std::vector<io::NamedTensor>& extras)
{
    return openClipTensors(model, model.text_model->final_layer_norm->weight.scalar_type(), extras);
}

std::vector<io::NamedTensor> openClipTextTensors(
    const ClipTextModelWithProjectionImpl& model, const std::vector<io::NamedTensor>& extras)
{
    return openClipTensors(model, model.text_model->final_layer_norm->weight.scalar_type(), extras);
}

} // namespace lethe::models::sd
