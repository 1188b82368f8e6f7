#include "resnet_classifier.h"

#include "basic_block.h"
#include "core/error.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"

#include <torch/torch.h>

#include <map>
#include <optional>
#include <sstream>

namespace lethe::models {

using nlohmann::json;

namespace nn = torch::nn;

ResNetClassifierOptions::ResNetClassifierOptions(std::int64_t inChannels, std::int64_t numClasses)
    : inChannels_(inChannels)
    , numClasses_(numClasses)
{
}

json toJson(const ResNetClassifierOptions& options)
{
    return { { "in_channels", options.inChannels() }, { "num_classes", options.numClasses() },
        { "width", options.width() }, { "blocks", options.blocks() }, { "dropout", options.dropout() } };
}

ResNetClassifierOptions resnetClassifierOptionsFromJson(const json& j)
{
    if (!j.is_object())
        throw Error("classifier architecture: expected a JSON object, found " + std::string(j.type_name()));
    auto integer = [&](const char* key) -> std::int64_t {
        if (!j.contains(key))
            throw Error(std::string("classifier architecture: missing '") + key + "'");
        if (!j.at(key).is_number_integer())
            throw Error(
                std::string("classifier architecture: '") + key + "' must be an integer, found " + j.at(key).dump());
        return j.at(key).get<std::int64_t>();
    };
    ResNetClassifierOptions options(integer("in_channels"), integer("num_classes"));
    options.width(integer("width"));
    if (!j.contains("blocks") || !j.at("blocks").is_array())
        throw Error("classifier architecture: 'blocks' must be an array of block counts");
    std::vector<std::int64_t> blocks;
    for (const auto& b : j.at("blocks")) {
        if (!b.is_number_integer())
            throw Error("classifier architecture: 'blocks' must hold integers, found " + b.dump());
        blocks.push_back(b.get<std::int64_t>());
    }
    options.blocks(blocks);
    const json dropout = j.value("dropout", json(0.0));
    if (!dropout.is_number())
        throw Error("classifier architecture: 'dropout' must be a number, found " + dropout.dump());
    options.dropout(dropout.get<double>());

    if (options.inChannels() < 1 || options.inChannels() > 16)
        throw Error(
            "classifier architecture: 'in_channels' must be 1 to 16, found " + std::to_string(options.inChannels()));
    if (options.numClasses() < 2)
        throw Error(
            "classifier architecture: 'num_classes' must be at least 2, found " + std::to_string(options.numClasses()));
    if (options.width() < 1 || options.width() > 1024)
        throw Error("classifier architecture: 'width' must be 1 to 1024, found " + std::to_string(options.width()));
    if (blocks.empty() || blocks.size() > 5)
        throw Error(
            "classifier architecture: 'blocks' must list 1 to 5 stages, found " + std::to_string(blocks.size()));
    for (auto b : blocks)
        if (b < 1 || b > 16)
            throw Error("classifier architecture: every stage needs 1 to 16 blocks, found " + std::to_string(b));
    if (options.dropout() < 0.0 || options.dropout() >= 1.0)
        throw Error("classifier architecture: 'dropout' must be in [0, 1), found " + dropout.dump());
    return options;
}

ResNetClassifierImpl::ResNetClassifierImpl(const ResNetClassifierOptions& options)
    : m_options(options)
{
    // Validate through the JSON path so a constructed model and a loadable file obey the same limits.
    resnetClassifierOptionsFromJson(toJson(options));

    const std::int64_t width = options.width();
    m_stem
        = register_module("stem", nn::Conv2d(nn::Conv2dOptions(options.inChannels(), width, 3).padding(1).bias(false)));
    m_stemBn = register_module("stem_bn", nn::BatchNorm2d(width));
    // A ModuleList of Sequentials: torch cannot nest a Sequential directly inside another.
    m_stages = nn::ModuleList();
    std::int64_t channels = width;
    for (std::size_t s = 0; s < options.blocks().size(); ++s) {
        const std::int64_t outChannels = width << s;
        nn::Sequential stage;
        for (std::int64_t b = 0; b < options.blocks()[s]; ++b) {
            const std::int64_t stride = (s > 0 && b == 0) ? 2 : 1;
            stage->push_back(BasicBlock(channels, outChannels, stride));
            channels = outChannels;
        }
        m_stages->push_back(stage);
        m_stageBlocks.push_back(stage);
    }
    register_module("stages", m_stages);
    m_dropout = register_module("dropout", nn::Dropout(options.dropout()));
    m_head = register_module("head", nn::Linear(channels, options.numClasses()));
}

std::int64_t ResNetClassifierImpl::featureDim() const
{
    return m_options.width() << (m_options.blocks().size() - 1);
}

torch::Tensor ResNetClassifierImpl::features(const torch::Tensor& x)
{
    torch::Tensor h = torch::relu(m_stemBn->forward(m_stem->forward(x)));
    for (auto& stage : m_stageBlocks)
        h = stage->forward(h);
    return h.mean({ 2, 3 });
}

torch::Tensor ResNetClassifierImpl::logitsFromFeatures(const torch::Tensor& features)
{
    return m_head->forward(m_dropout->forward(features));
}

torch::Tensor ResNetClassifierImpl::forward(const torch::Tensor& x)
{
    return logitsFromFeatures(features(x));
}

torch::Tensor classifierInput(const torch::Tensor& images, torch::Device device)
{
    // Convert on the target device: uint8 is a quarter of the bytes to move.
    return images.to(device).to(torch::kFloat32).div_(127.5).sub_(1.0);
}

namespace {

std::string shapeText(torch::IntArrayRef shape)
{
    std::ostringstream out;
    out << '[';
    for (std::size_t i = 0; i < shape.size(); ++i)
        out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

/// Parameters and buffers by name: every tensor a classifier file holds.
std::map<std::string, torch::Tensor> stateTensors(const ResNetClassifier& model)
{
    std::map<std::string, torch::Tensor> state;
    for (const auto& item : model->named_parameters(true))
        state.emplace(item.key(), item.value());
    for (const auto& item : model->named_buffers(true))
        state.emplace(item.key(), item.value());
    return state;
}

} // namespace

void saveClassifier(const std::filesystem::path& path, const ResNetClassifier& model, io::ModelInfo info)
{
    const auto& options = model->options();
    if (static_cast<std::int64_t>(info.classes.size()) != options.numClasses())
        throw Error("cannot save classifier to " + path.string() + ": " + std::to_string(info.classes.size())
            + " class names for a model with " + std::to_string(options.numClasses()) + " classes");
    info.kind = kClassifierKind;
    info.architecture = toJson(options);
    std::vector<io::NamedTensor> tensors;
    for (const auto& [name, tensor] : stateTensors(model))
        tensors.push_back({ name, tensor.detach() });
    io::writeModel(path, info, tensors);
}

LoadedClassifier loadClassifier(const std::filesystem::path& path, torch::Device device)
{
    const io::SafetensorsFile file(path);
    const std::string name = path.string();
    LoadedClassifier loaded;
    loaded.info = io::readModelInfo(file);
    loaded.sha256 = io::sha256File(path);
    if (loaded.info.kind != kClassifierKind)
        throw FormatError(name, "__metadata__ key 'lethe' kind",
            "expected a '" + std::string(kClassifierKind) + "' model, found '" + loaded.info.kind + "'");

    std::optional<ResNetClassifierOptions> options;
    try {
        options = resnetClassifierOptionsFromJson(loaded.info.architecture);
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        throw FormatError(name, "__metadata__ key 'lethe' architecture", e.what());
    }
    if (static_cast<std::int64_t>(loaded.info.classes.size()) != options->numClasses())
        throw FormatError(name, "__metadata__ key 'lethe' classes",
            "expected " + std::to_string(options->numClasses()) + " class names, found "
                + std::to_string(loaded.info.classes.size()));

    loaded.model = ResNetClassifier(*options);
    const auto state = stateTensors(loaded.model);
    for (const auto& entry : file.entries())
        if (state.count(entry.name) == 0)
            throw FormatError(
                name, "tensor '" + entry.name + "'", "unexpected: the classifier architecture has no such tensor");
    torch::NoGradGuard noGrad;
    for (const auto& [key, target] : state) {
        if (!file.contains(key))
            throw FormatError(name, "tensor '" + key + "'",
                "missing: the classifier architecture needs shape " + shapeText(target.sizes()));
        const torch::Tensor stored = file.tensor(key);
        if (stored.sizes() != target.sizes())
            throw FormatError(name, "tensor '" + key + "'",
                "expected shape " + shapeText(target.sizes()) + ", found " + shapeText(stored.sizes()));
        const bool floating = c10::isFloatingType(target.scalar_type());
        if (floating != c10::isFloatingType(stored.scalar_type()))
            throw FormatError(name, "tensor '" + key + "'",
                std::string("expected a ") + (floating ? "floating-point" : "integer") + " tensor, found "
                    + std::string(c10::toString(stored.scalar_type())));
        target.copy_(stored);
    }
    loaded.model->to(device);
    loaded.model->eval();
    return loaded;
}

} // namespace lethe::models
