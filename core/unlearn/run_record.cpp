#include "run_record.h"

#include "core/error.h"
#include "core/imaging/grid.h"
#include "core/nn/state_dict.h"

#include <torch/torch.h>

#include <cstdio>

namespace lethe::unlearn {

std::string stepsCsvRow(const StepReport& r)
{
    char row[512];
    std::snprintf(row, sizeof row, "%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%.9g,%.9g,%.9g,%.6f",
        static_cast<long long>(r.step), r.forgetLoss, r.remainLoss, r.ascentNorm, r.remainNorm, r.cosine,
        r.projected ? 1 : 0, r.lr, r.alpha, r.lambda, r.seconds);
    return row;
}

store::ModelInfo unlearnedModelInfo(const store::ModelInfo& parent, const std::string& parentSha256,
    const RunConfig& config, int forgetClass, const RunResult& result, const std::string& command)
{
    store::ModelInfo info = parent;
    info.provenance = {};
    info.provenance.parentSha256 = parentSha256;
    info.provenance.method = "unlearn " + methodName(config.method);
    info.provenance.command = command;
    info.provenance.seed = config.seed;
    info.provenance.steps = result.steps;
    info.provenance.imagesSeen = result.steps * config.forgetBatch;
    info.provenance.wallSeconds = result.seconds;
    info.provenance.created = store::utcNow();
    info.provenance.hyperparameters = toJson(config);
    info.provenance.hyperparameters["forget_class"] = forgetClass;
    if (forgetClass >= 0 && static_cast<std::size_t>(forgetClass) < parent.classes.size())
        info.provenance.hyperparameters["forget_class_name"] = parent.classes[static_cast<std::size_t>(forgetClass)];
    return info;
}

void writeEdmModel(const std::filesystem::path& path, const models::EDMPrecond& net, const store::ModelInfo& info)
{
    std::vector<io::NamedTensor> tensors = nn::stateDict(*net);
    for (auto& t : tensors)
        t.tensor = t.tensor.detach().to(torch::kCPU).contiguous();
    store::writeModel(path, info, tensors);
}

torch::Tensor compareGrid(const torch::Tensor& before, const torch::Tensor& after, int columns, int forgetClass)
{
    if (!before.defined() || !after.defined() || before.sizes() != after.sizes())
        throw Error("compareGrid: before and after must be images of the same shape");
    const imaging::Rgb red = { 220, 40, 40 };
    const std::vector<int> framed = { forgetClass };
    const torch::Tensor left = imaging::makeFramedGrid(before, columns, framed, red);
    const torch::Tensor middle = imaging::makeFramedGrid(after, columns, framed, red);
    const torch::Tensor right
        = imaging::makeFramedGrid(imaging::absoluteDifference(before, after, 4.0), columns, framed, red);
    const torch::Tensor gap = torch::full({ left.size(0), left.size(1), 8 }, 255, torch::kUInt8);
    return torch::cat({ left, gap, middle, gap, right }, 2);
}

} // namespace lethe::unlearn
