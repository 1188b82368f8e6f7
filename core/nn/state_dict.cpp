#include "state_dict.h"

#include "core/error.h"

#include <torch/torch.h>

#include <unordered_map>
#include <unordered_set>

namespace lethe::nn {

namespace {

void collect(const torch::nn::Module& module, const std::string& prefix, std::vector<io::NamedTensor>& out)
{
    // torch::nn::Module::named_parameters() lists all parameters before any buffer; PyTorch's state_dict
    // interleaves them per module, and that is the order EDM's files have.
    for (const auto& item : module.named_parameters(/*recurse=*/false))
        out.push_back({ prefix + item.key(), item.value() });
    for (const auto& item : module.named_buffers(/*recurse=*/false))
        out.push_back({ prefix + item.key(), item.value() });
    for (const auto& child : module.named_children())
        collect(*child.value(), prefix + child.key() + ".", out);
}

std::string plural(std::size_t count, const char* noun)
{
    return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::string whereTensor(const std::string& name)
{
    return "tensor '" + name + "'";
}

} // namespace

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

std::vector<io::NamedTensor> stateDict(const torch::nn::Module& module)
{
    std::vector<io::NamedTensor> tensors;
    collect(module, "", tensors);
    return tensors;
}

std::int64_t parameterCount(const torch::nn::Module& module)
{
    std::int64_t count = 0;
    for (const auto& parameter : module.parameters())
        count += parameter.numel();
    return count;
}

void saveStateDict(const std::filesystem::path& path, const torch::nn::Module& module, const io::Metadata& metadata)
{
    io::writeSafetensors(path, stateDict(module), metadata);
}

void saveModel(const std::filesystem::path& path, const torch::nn::Module& module, const io::ModelInfo& info)
{
    io::writeModel(path, info, stateDict(module));
}

LoadReport loadStateDict(torch::nn::Module& module, const io::SafetensorsFile& file, bool strict)
{
    LoadOptions options;
    options.strict = strict;
    return loadStateDict(module, file, options);
}

namespace {

/// Equal up to trailing dimensions of size 1 on either side ([512, 512] and [512, 512, 1, 1]).
bool sameUpToTrailingOnes(std::vector<std::int64_t> a, std::vector<std::int64_t> b)
{
    while (a.size() > 1 && a.back() == 1)
        a.pop_back();
    while (b.size() > 1 && b.back() == 1)
        b.pop_back();
    return a == b;
}

} // namespace

LoadReport loadStateDict(torch::nn::Module& module, const io::SafetensorsFile& file, const LoadOptions& options)
{
    const std::string path = file.path().string();
    const bool strict = options.strict;
    const std::vector<io::NamedTensor> targets = stateDict(module);

    // The module's name of each file tensor that belongs to it.
    std::unordered_map<std::string, const io::TensorEntry*> byModuleName;
    for (const auto& entry : file.entries()) {
        std::optional<std::string> name = options.mapping ? options.mapping(entry.name) : entry.name;
        if (!name)
            continue;
        if (!byModuleName.emplace(*name, &entry).second)
            throw FormatError(path, whereTensor(entry.name),
                "maps onto '" + *name + "', which another tensor of the file already fills");
    }

    LoadReport report;
    std::unordered_set<std::string> known;
    std::vector<std::pair<const io::NamedTensor*, const io::TensorEntry*>> copies;
    for (const auto& target : targets) {
        known.insert(target.name);
        const auto found = byModuleName.find(target.name);
        if (found == byModuleName.end()) {
            report.missing.push_back(target.name);
            continue;
        }
        const io::TensorEntry& entry = *found->second;
        const std::vector<std::int64_t> expected = target.tensor.sizes().vec();
        if (entry.shape != expected
            && !(options.acceptTrailingUnitDims && sameUpToTrailingOnes(entry.shape, expected))) {
            report.mismatched.push_back({ target.name, expected, entry.shape });
            continue;
        }
        const auto type = io::toScalarType(entry.dtype);
        const bool targetFloating = c10::isFloatingType(target.tensor.scalar_type());
        if (!type || c10::isFloatingType(*type) != targetFloating
            || (!targetFloating && *type != target.tensor.scalar_type()))
            throw FormatError(path, whereTensor(target.name),
                "expected dtype " + std::string(c10::toString(target.tensor.scalar_type()))
                    + " or a floating type convertible to it, found " + io::dtypeName(entry.dtype));
        copies.emplace_back(&target, &entry);
    }
    for (const auto& entry : file.entries()) {
        const std::optional<std::string> name = options.mapping ? options.mapping(entry.name) : entry.name;
        if (name && known.count(*name) == 0)
            report.unexpected.push_back(entry.name);
    }

    if (strict) {
        if (!report.missing.empty()) {
            const std::string& first = report.missing.front();
            std::string problem = "missing from the file";
            for (const auto& target : targets)
                if (target.name == first)
                    problem += " (the model expects shape " + shapeText(target.tensor.sizes().vec()) + ")";
            if (report.missing.size() > 1)
                problem += "; " + plural(report.missing.size() - 1, "more tensor") + " missing";
            throw FormatError(path, whereTensor(first), problem);
        }
        if (!report.unexpected.empty()) {
            std::string problem = "unexpected: the model has no parameter or buffer of that name";
            if (report.unexpected.size() > 1)
                problem += "; " + plural(report.unexpected.size() - 1, "more unexpected tensor");
            throw FormatError(path, whereTensor(report.unexpected.front()), problem);
        }
        if (!report.mismatched.empty()) {
            const ShapeMismatch& first = report.mismatched.front();
            std::string problem = "expected shape " + shapeText(first.expected) + ", found " + shapeText(first.found);
            if (report.mismatched.size() > 1)
                problem += "; " + plural(report.mismatched.size() - 1, "more tensor") + " with the wrong shape";
            throw FormatError(path, whereTensor(first.name), problem);
        }
    }

    torch::NoGradGuard noGrad;
    for (const auto& [target, entry] : copies) {
        // copy_ converts dtype and device; the target keeps its identity, so optimisers holding it stay valid.
        torch::Tensor destination = target->tensor;
        destination.copy_(file.tensor(entry->name).reshape(destination.sizes()));
        report.loaded.push_back(target->name);
    }
    return report;
}

} // namespace lethe::nn
