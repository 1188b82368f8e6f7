#include "clip_text_model.h"

#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/models/parameter_bounds.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace lethe::models::sd {

using nlohmann::json;

const char* const kClipPositionIdsName = "text_model.embeddings.position_ids";

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextOptions& options_)
    : options(options_)
{
    embeddings = register_module("embeddings", ClipTextEmbeddings(options));
    encoder = register_module("encoder", ClipEncoder(clipEncoderOptions(options)));
    final_layer_norm = register_module("final_layer_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({ options.hidden_size() }).eps(options.layer_norm_eps())));
}

ClipTextOutput ClipTextTransformerImpl::forward(const torch::Tensor& ids)
{
    if (ids.dim() != 2 || c10::isFloatingType(ids.scalar_type()))
        throw Error("CLIP text model: expected integer token ids [N, L], found "
            + std::string(c10::toString(ids.scalar_type())) + " " + nn::shapeText(ids.sizes().vec()));
    return forwardEmbeddings(embeddings->token_embedding(ids.to(torch::kInt64)), ids);
}

ClipTextOutput ClipTextTransformerImpl::forwardEmbeddings(
    const torch::Tensor& tokenEmbeddings, const torch::Tensor& ids)
{
    if (tokenEmbeddings.dim() != 3 || ids.dim() != 2 || tokenEmbeddings.size(0) != ids.size(0)
        || tokenEmbeddings.size(1) != ids.size(1) || tokenEmbeddings.size(2) != options.hidden_size())
        throw Error("CLIP text model: token embeddings " + nn::shapeText(tokenEmbeddings.sizes().vec())
            + " do not match ids " + nn::shapeText(ids.sizes().vec()) + " and width "
            + std::to_string(options.hidden_size()));
    const torch::Tensor tokens = ids.to(torch::kInt64);
    const std::int64_t length = tokens.size(1);
    const std::int64_t positions = embeddings->position_embedding->weight.size(0);
    if (length > positions)
        throw Error("CLIP text model: " + std::to_string(length) + " tokens, but the model has only "
            + std::to_string(positions) + " positions");
    torch::Tensor hidden = tokenEmbeddings + embeddings->position_embedding->weight.narrow(0, 0, length).unsqueeze(0);
    // Token i attends to tokens 0..i only.
    const torch::Tensor mask
        = torch::full({ length, length }, -std::numeric_limits<float>::infinity(), hidden.options()).triu(1);
    // The encoder's layers one by one, to keep the last layer's input (transformers' hidden_states[-2]).
    torch::Tensor penultimate = hidden;
    for (const auto& layer : *encoder->layers) {
        penultimate = hidden;
        hidden = layer->as<ClipEncoderLayer>()->forward(hidden, mask);
    }
    hidden = final_layer_norm(hidden);

    // transformers' legacy configs (eos_token_id 2) pool at the largest id, which is EOS in CLIP's vocabulary.
    const torch::Tensor eosPosition = options.eos_token_id() == 2
        ? tokens.argmax(-1)
        : tokens.eq(options.eos_token_id()).to(torch::kInt32).argmax(-1);
    const torch::Tensor rows
        = torch::arange(tokens.size(0), torch::TensorOptions().dtype(torch::kInt64).device(tokens.device()));
    return { hidden, hidden.index({ rows, eosPosition }), penultimate };
}

namespace {

/// CLIPPreTrainedModel._init_weights with initializer_factor 1.
void initialiseTextModel(ClipTextTransformer& text_model, const ClipTextOptions& options)
{
    torch::NoGradGuard noGrad;
    const double width = static_cast<double>(options.hidden_size());
    const double layers = static_cast<double>(options.num_hidden_layers());
    const double inStd = std::pow(width, -0.5) * std::pow(2.0 * layers, -0.5);
    const double outStd = std::pow(width, -0.5);
    const double fcStd = std::pow(2.0 * width, -0.5);
    text_model->embeddings->token_embedding->weight.normal_(0.0, 0.02);
    text_model->embeddings->position_embedding->weight.normal_(0.0, 0.02);
    for (const auto& child : *text_model->encoder->layers) {
        auto* layer = child->as<ClipEncoderLayer>();
        for (auto* linear : { &layer->self_attn->q_proj, &layer->self_attn->k_proj, &layer->self_attn->v_proj })
            (*linear)->weight.normal_(0.0, inStd);
        layer->self_attn->out_proj->weight.normal_(0.0, outStd);
        layer->mlp->fc1->weight.normal_(0.0, fcStd);
        layer->mlp->fc2->weight.normal_(0.0, inStd);
        for (auto* linear : { &layer->self_attn->q_proj, &layer->self_attn->k_proj, &layer->self_attn->v_proj,
                 &layer->self_attn->out_proj, &layer->mlp->fc1, &layer->mlp->fc2 })
            (*linear)->bias.zero_();
    }
}

std::filesystem::path textEncoderConfig(const std::filesystem::path& folder)
{
    const std::filesystem::path configPath = folder / "config.json";
    if (!std::filesystem::is_regular_file(configPath))
        throw FormatError(folder.string(), "config.json",
            "file not found (a text_encoder folder holds config.json and model.safetensors)");
    return configPath;
}

std::filesystem::path textEncoderWeights(const std::filesystem::path& folder, const std::string& className)
{
    std::filesystem::path weights = folder / "model.safetensors";
    if (!std::filesystem::is_regular_file(weights))
        weights = folder / "model.fp16.safetensors";
    if (!std::filesystem::is_regular_file(weights)) {
        refusePickledWeights(folder, className);
        throw FormatError(folder.string(), "model.safetensors", "file not found (nor model.fp16.safetensors)");
    }
    return weights;
}

} // namespace

ClipTextModelImpl::ClipTextModelImpl(const ClipTextOptions& options)
{
    text_model = register_module("text_model", ClipTextTransformer(options));
    initialiseTextModel(text_model, options);
}

ClipTextOutput ClipTextModelImpl::forward(const torch::Tensor& ids)
{
    return text_model(ids);
}

ClipTextModelWithProjectionImpl::ClipTextModelWithProjectionImpl(const ClipTextOptions& options)
{
    text_model = register_module("text_model", ClipTextTransformer(options));
    text_projection = register_module("text_projection",
        torch::nn::Linear(torch::nn::LinearOptions(options.hidden_size(), options.projection_dim()).bias(false)));
    initialiseTextModel(text_model, options);
    torch::NoGradGuard noGrad;
    text_projection->weight.normal_(0.0, std::pow(static_cast<double>(options.hidden_size()), -0.5));
}

ClipTextOutput ClipTextModelWithProjectionImpl::forward(const torch::Tensor& ids)
{
    return text_model(ids);
}

torch::Tensor ClipTextModelWithProjectionImpl::project(const ClipTextOutput& output)
{
    return text_projection(output.pooler_output);
}

ClipTextOptions clipTextOptionsFromJson(const json& config, const std::string& file)
{
    const io::JsonFields fields(config, file);
    const std::string modelType = fields.get<std::string>("model_type", "clip_text_model");
    if (modelType != "clip_text_model")
        fields.fail("model_type", "expected \"clip_text_model\", found \"" + modelType + "\"");

    ClipTextOptions options;
    options.vocab_size(readPositiveInt(fields, "vocab_size", options.vocab_size()));
    setEncoderOptions(options, readClipEncoderFields(fields, clipEncoderOptions(options)));
    options.max_position_embeddings(
        readPositiveInt(fields, "max_position_embeddings", options.max_position_embeddings()));
    options.bos_token_id(fields.get<std::int64_t>("bos_token_id", options.bos_token_id()));
    options.eos_token_id(fields.get<std::int64_t>("eos_token_id", options.eos_token_id()));
    options.pad_token_id(fields.get<std::int64_t>("pad_token_id", options.pad_token_id()));
    options.projection_dim(readPositiveInt(fields, "projection_dim", options.projection_dim()));
    return options;
}

json toJson(const ClipTextOptions& options, const std::string& architecture)
{
    return json {
        { "architectures", json::array({ architecture }) },
        { "model_type", "clip_text_model" },
        { "vocab_size", options.vocab_size() },
        { "hidden_size", options.hidden_size() },
        { "intermediate_size", options.intermediate_size() },
        { "num_hidden_layers", options.num_hidden_layers() },
        { "num_attention_heads", options.num_attention_heads() },
        { "max_position_embeddings", options.max_position_embeddings() },
        { "hidden_act", enumName(options.hidden_act()) },
        { "layer_norm_eps", options.layer_norm_eps() },
        { "bos_token_id", options.bos_token_id() },
        { "eos_token_id", options.eos_token_id() },
        { "pad_token_id", options.pad_token_id() },
        { "projection_dim", options.projection_dim() },
    };
}

nn::LoadReport loadClipTextWeights(torch::nn::Module& model, const io::SafetensorsFile& file, nn::LoadOptions options)
{
    nn::KeyMapping rename = std::move(options.mapping);
    options.mapping = [rename](const std::string& name) -> std::optional<std::string> {
        std::optional<std::string> mapped = rename ? rename(name) : std::optional<std::string>(name);
        // Older transformers saved this index buffer; it always holds 0..P-1.
        if (mapped && *mapped == kClipPositionIdsName)
            return std::nullopt;
        return mapped;
    };
    return nn::loadStateDict(model, file, options);
}

void refusePickledWeights(const std::filesystem::path& folder, const std::string& className)
{
    for (const char* pickled : { "pytorch_model.bin", "pytorch_model.fp16.bin" })
        if (std::filesystem::is_regular_file(folder / pickled))
            throw FormatError((folder / pickled).string(), "",
                "pickled weights are not read, because loading a pickle can run code; convert them to "
                "model.safetensors, e.g. in Python: "
                    + className + ".from_pretrained(folder).save_pretrained(folder, safe_serialization=True)");
}

ClipTextModel loadClipTextModel(const std::filesystem::path& folder, torch::Dtype dtype, torch::Device device)
{
    const std::filesystem::path configPath = textEncoderConfig(folder);
    const ClipTextOptions options = clipTextOptionsFromJson(io::readJsonObjectFile(configPath), configPath.string());
    const io::SafetensorsFile file(textEncoderWeights(folder, "CLIPTextModel"));
    requireWeightsFor(minimumParameters(options), file, configPath.string());
    ClipTextModel model(options);
    model->to(device, dtype);
    loadClipTextWeights(*model, file);
    model->eval();
    return model;
}

ClipTextModelWithProjection loadClipTextModelWithProjection(
    const std::filesystem::path& folder, torch::Dtype dtype, torch::Device device)
{
    const std::filesystem::path configPath = textEncoderConfig(folder);
    const ClipTextOptions options = clipTextOptionsFromJson(io::readJsonObjectFile(configPath), configPath.string());
    const io::SafetensorsFile file(textEncoderWeights(folder, "CLIPTextModelWithProjection"));
    requireWeightsFor(
        minimumParameters(options) + static_cast<double>(options.hidden_size() * options.projection_dim()), file,
        configPath.string());
    ClipTextModelWithProjection model(options);
    model->to(device, dtype);
    loadClipTextWeights(*model, file);
    model->eval();
    return model;
}

std::int64_t clipTextParameterCount(const ClipTextOptions& o, bool withProjection)
{
    const std::int64_t h = o.hidden_size();
    const std::int64_t mlp = o.intermediate_size();
    // Per layer: q, k, v and out projections with biases, two layer norms, fc1 and fc2.
    const std::int64_t layer = 4 * (h * h + h) + 2 * 2 * h + (h * mlp + mlp) + (mlp * h + h);
    return o.vocab_size() * h + o.max_position_embeddings() * h + o.num_hidden_layers() * layer + 2 * h
        + (withProjection ? h * o.projection_dim() : 0);
}

} // namespace lethe::models::sd
