#include "run_record.h"

#include "core/error.h"
#include "core/imaging/grid.h"
#include "core/imaging/image_file.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"
#include "core/nn/state_dict.h"

#include <torch/torch.h>

#include <cstdio>
#include <random>

namespace lethe::unlearn {

std::string stepsCsvRow(const StepReport& r)
{
    char row[512];
    std::snprintf(row, sizeof row, "%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d,%.9g,%.9g,%.9g,%.6f",
        static_cast<long long>(r.step), r.forgetLoss, r.remainLoss, r.ascentNorm, r.remainNorm, r.cosine,
        r.projected ? 1 : 0, r.truncated ? 1 : 0, r.lr, r.alpha, r.lambda, r.seconds);
    return row;
}

std::string stepsCsv(const std::vector<StepReport>& reports)
{
    std::string csv = std::string(kStepsCsvHeader) + "\n";
    for (const StepReport& r : reports)
        csv += stepsCsvRow(r) + "\n";
    return csv;
}

nlohmann::json runManifest(const RunRecord& record, const RunResult& result)
{
    return { { "format", "lethe.unlearning-run" }, { "kind", record.kind },
        { "method", record.config.value("method", std::string()) }, { "config", record.config },
        { "final_config", record.finalConfig }, { "parent_model", record.parentModel },
        { "parent_sha256", record.parentSha256 }, { "device", record.device }, { "threads", torch::get_num_threads() },
        { "command", record.command }, { "started", record.started }, { "finished", io::utcNow() },
        { "outcome", outcomeName(result.outcome) }, { "message", result.message }, { "steps", result.steps },
        { "rollbacks", result.rollbacks }, { "truncated_steps", result.truncatedSteps },
        { "projected_steps", result.projectedSteps }, { "seconds", result.seconds },
        { "steps_per_second", result.seconds > 0 ? static_cast<double>(result.steps) / result.seconds : 0.0 } };
}

io::ModelInfo unlearnedModelInfo(const io::ModelInfo& parent, const std::string& parentSha256, const RunConfig& config,
    const RunResult& result, const std::string& command)
{
    io::ModelInfo info = parent;
    info.provenance = {};
    info.provenance.parentSha256 = parentSha256;
    info.provenance.method = "unlearn " + methodName(config.method);
    info.provenance.command = command;
    info.provenance.seed = config.seed;
    info.provenance.steps = result.steps;
    info.provenance.imagesSeen = result.steps * config.forgetBatch;
    info.provenance.wallSeconds = result.seconds;
    info.provenance.created = io::utcNow();
    info.provenance.hyperparameters = io::configToJson(config);
    const int forgetClass = config.forgetClass;
    if (forgetClass >= 0 && static_cast<std::size_t>(forgetClass) < parent.classes.size())
        info.provenance.hyperparameters["forget_class_name"] = parent.classes[static_cast<std::size_t>(forgetClass)];
    return info;
}

void writeEdmModel(const std::filesystem::path& path, const models::EDMPrecond& net, const io::ModelInfo& info)
{
    std::vector<io::NamedTensor> tensors = nn::stateDict(*net);
    for (auto& t : tensors)
        t.tensor = t.tensor.detach().to(torch::kCPU).contiguous();
    io::writeModel(path, info, tensors);
}

namespace {

void writeRunFiles(
    const std::filesystem::path& dir, const RunFiles& files, const models::EDMPrecond& net, const io::ModelInfo& info)
{
    writeEdmModel(dir / "model.safetensors", net, info);
    io::writeFileAtomically(dir / "run.json", io::jsonText(files.manifest, 2));
    if (files.steps)
        io::writeFileAtomically(dir / "steps.csv", stepsCsv(*files.steps));
    if (files.before.defined())
        imaging::writePng(dir / "before.png", imaging::makeGrid(files.before, files.columns));
    if (files.after.defined()) {
        imaging::writePng(dir / "after.png", imaging::makeGrid(files.after, files.columns));
        if (files.before.defined())
            imaging::writePng(
                dir / "compare.png", compareGrid(files.before, files.after, files.columns, files.forgetClass));
    }
}

} // namespace

void writeRunFolder(
    const std::filesystem::path& dir, const RunFiles& files, const models::EDMPrecond& net, const io::ModelInfo& info)
{
    if (std::filesystem::exists(dir)) {
        if (!std::filesystem::is_directory(dir))
            throw Error(dir.string() + ": exists and is not a folder");
        writeRunFiles(dir, files, net, info);
        return;
    }
    const std::filesystem::path parent = dir.has_parent_path() ? dir.parent_path() : std::filesystem::path(".");
    std::filesystem::create_directories(parent);
    std::filesystem::path staging;
    std::random_device random;
    for (int attempt = 0; attempt < 100 && staging.empty(); ++attempt) {
        const auto candidate = parent / (".tmp-" + dir.filename().string() + "-" + std::to_string(random()));
        if (std::filesystem::create_directory(candidate))
            staging = candidate;
    }
    if (staging.empty())
        throw Error(parent.string() + ": cannot create a temporary folder for " + dir.filename().string());
    try {
        writeRunFiles(staging, files, net, info);
        std::filesystem::rename(staging, dir);
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove_all(staging, ignored);
        throw;
    }
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
