#include "clip_model.h"

#include "core/error.h"
#include "core/io/json_fields.h"
#include "core/models/parameter_bounds.h"

#include <nlohmann/json.hpp>

namespace lethe::models::clip {

using nlohmann::json;

ClipModelImpl::ClipModelImpl(const ClipModelOptions& options_)
    : options(options_)
{
    // CLIPConfig's logit_scale_init_value; only the loaded value matters for scores.
    logit_scale = register_parameter("logit_scale", torch::full({}, 2.6592));
    text_model = register_module("text_model", sd::ClipTextTransformer(options.text()));
    vision_model = register_module("vision_model", ClipVisionTransformer(options.vision()));
    visual_projection = register_module("visual_projection",
        torch::nn::Linear(
            torch::nn::LinearOptions(options.vision().hidden_size(), options.projection_dim()).bias(false)));
    text_projection = register_module("text_projection",
        torch::nn::Linear(
            torch::nn::LinearOptions(options.text().hidden_size(), options.projection_dim()).bias(false)));
}

torch::Tensor ClipModelImpl::imageFeatures(const torch::Tensor& pixels)
{
    return visual_projection(vision_model(pixels).pooler_output);
}

torch::Tensor ClipModelImpl::textFeatures(const torch::Tensor& ids)
{
    return text_projection(text_model(ids).pooler_output);
}

namespace {

/// The tower config under `key`, with its "<key>_dict" entries laid over it.
json towerConfig(const io::JsonFields& fields, const std::string& key)
{
    if (!fields.has(key))
        fields.fail(key, "missing (a CLIPModel config.json holds \"text_config\" and \"vision_config\")");
    json tower = fields.object().at(key);
    if (!tower.is_object())
        fields.fail(key, "expected an object, found " + std::string(tower.type_name()));
    const std::string overrides = key + "_dict";
    if (fields.has(overrides)) {
        const json& dict = fields.object().at(overrides);
        if (!dict.is_object())
            fields.fail(overrides, "expected an object or null, found " + std::string(dict.type_name()));
        for (const auto& [name, value] : dict.items())
            tower[name] = value;
    }
    return tower;
}

ClipVisionOptions visionOptionsFromJson(const json& config, const std::string& file)
{
    const io::JsonFields fields(config, file);
    const std::string modelType = fields.get<std::string>("model_type", "clip_vision_model");
    if (modelType != "clip_vision_model")
        fields.fail("model_type", "expected \"clip_vision_model\", found \"" + modelType + "\"");
    ClipVisionOptions options;
    sd::setEncoderOptions(options, sd::readClipEncoderFields(fields, sd::clipEncoderOptions(options)));
    options.num_channels(sd::readPositiveInt(fields, "num_channels", options.num_channels()));
    options.image_size(sd::readPositiveInt(fields, "image_size", options.image_size()));
    options.patch_size(sd::readPositiveInt(fields, "patch_size", options.patch_size()));
    if (options.image_size() % options.patch_size() != 0)
        fields.fail("patch_size",
            "expected a divisor of image_size (" + std::to_string(options.image_size()) + "), found "
                + std::to_string(options.patch_size()));
    return options;
}

} // namespace

ClipModelOptions clipModelOptionsFromJson(const json& config, const std::string& file)
{
    const io::JsonFields fields(config, file);
    const std::string modelType = fields.get<std::string>("model_type", "clip");
    if (modelType != "clip")
        fields.fail("model_type", "expected \"clip\" (a CLIPModel), found \"" + modelType + "\"");
    const json text = towerConfig(fields, "text_config");
    const json vision = towerConfig(fields, "vision_config");
    ClipModelOptions options;
    options.projection_dim(sd::readPositiveInt(fields, "projection_dim", options.projection_dim()));
    options.text(sd::clipTextOptionsFromJson(text, file + " (text_config)"));
    options.vision(visionOptionsFromJson(vision, file + " (vision_config)"));
    return options;
}

nn::LoadReport loadClipModelWeights(torch::nn::Module& model, const io::SafetensorsFile& file)
{
    nn::LoadOptions options;
    options.strict = true;
    options.mapping = [](const std::string& name) -> std::optional<std::string> {
        // Older transformers saved these index buffers; they always hold 0..P-1.
        if (name == sd::kClipPositionIdsName || name == "vision_model.embeddings.position_ids")
            return std::nullopt;
        return name;
    };
    return nn::loadStateDict(model, file, options);
}

LoadedClip loadClip(const std::filesystem::path& folder, torch::Device device)
{
    if (!std::filesystem::is_directory(folder))
        throw FormatError(folder.string(), "",
            "not a folder (expected a Hugging Face CLIPModel folder: config.json, model.safetensors, vocab.json, "
            "merges.txt)");
    const std::filesystem::path configPath = folder / "config.json";
    if (!std::filesystem::is_regular_file(configPath))
        throw FormatError(folder.string(), "config.json",
            "file not found (a CLIP model folder holds config.json, model.safetensors, vocab.json and merges.txt)");
    const ClipModelOptions options = clipModelOptionsFromJson(io::readJsonObjectFile(configPath), configPath.string());

    const std::filesystem::path weights = folder / "model.safetensors";
    if (!std::filesystem::is_regular_file(weights)) {
        sd::refusePickledWeights(folder, "CLIPModel");
        throw FormatError(folder.string(), "model.safetensors", "file not found");
    }
    // The header is read and checked before the network is allocated.
    const io::SafetensorsFile file(weights);
    requireWeightsFor(minimumParameters(options), file, configPath.string());

    sd::ClipTokenizer tokenizer(folder);
    if (tokenizer.maxLength() > options.text().max_position_embeddings())
        throw FormatError((folder / "tokenizer_config.json").string(), "key 'model_max_length'",
            "expected at most " + std::to_string(options.text().max_position_embeddings())
                + " (text_config.max_position_embeddings), found " + std::to_string(tokenizer.maxLength()));

    ClipImageProcessing processing = clipImageProcessing(options.vision().image_size());
    const std::filesystem::path preprocessorPath = folder / "preprocessor_config.json";
    if (std::filesystem::is_regular_file(preprocessorPath))
        processing = clipImageProcessingFromJson(
            io::readJsonObjectFile(preprocessorPath), preprocessorPath.string(), options.vision().image_size());

    ClipModel model(options);
    model->to(device);
    loadClipModelWeights(*model, file);
    model->eval();
    return LoadedClip { model, std::move(tokenizer), processing, folder };
}

} // namespace lethe::models::clip
