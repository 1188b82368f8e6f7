#include "fid.h"

#include "core/error.h"
#include "core/io/npz.h"
#include "core/io/sha256.h"
#include "core/nn/state_dict.h"

#include <torch/torch.h>

namespace lethe::eval {

namespace {

std::vector<std::int64_t> shapeOf(const torch::Tensor& t)
{
    return { t.sizes().begin(), t.sizes().end() };
}

/// arrays[name], checked against `expected`.
torch::Tensor referenceArray(const std::map<std::string, torch::Tensor>& arrays, const std::string& file,
    const std::string& name, const std::vector<std::int64_t>& expected)
{
    const auto it = arrays.find(name);
    if (it == arrays.end())
        throw FormatError(file, "array '" + name + "'",
            "missing (FID reference statistics hold 'mu' and 'sigma', as EDM's `fid.py ref` writes them)");
    const torch::Tensor& array = it->second;
    if (!array.is_floating_point())
        throw FormatError(file, "array '" + name + "'",
            "expected floating-point values, found " + std::string(c10::toString(array.scalar_type())));
    if (shapeOf(array) != expected)
        throw FormatError(file, "array '" + name + "'",
            "expected shape " + nn::shapeText(expected) + " (the Inception detector's " + std::to_string(expected[0])
                + " pool features), found " + nn::shapeText(shapeOf(array)));
    const torch::Tensor values = array.to(torch::kFloat64);
    if (!torch::isfinite(values).all().item<bool>())
        throw FormatError(file, "array '" + name + "'", "holds values that are not finite");
    return values;
}

} // namespace

FeatureStatistics readFidReference(const std::filesystem::path& file, std::int64_t dimension)
{
    const auto arrays = io::readNpz(file);
    FeatureStatistics out;
    out.mean = referenceArray(arrays, file.string(), "mu", { dimension });
    out.covariance = referenceArray(arrays, file.string(), "sigma", { dimension, dimension });
    return out;
}

void writeFidReference(const std::filesystem::path& file, const FeatureStatistics& statistics)
{
    io::writeNpz(file,
        { { "mu", statistics.mean.to(torch::kCPU, torch::kFloat64).contiguous() },
            { "sigma", statistics.covariance.to(torch::kCPU, torch::kFloat64).contiguous() } });
}

FidInstrument loadFidInstrument(const std::filesystem::path& inception, const std::filesystem::path& reference,
    models::inception::FidResize resize, torch::Device device)
{
    FidInstrument out;
    out.reference = readFidReference(reference);
    out.referenceFile = reference;
    out.referenceSha256 = io::sha256File(reference);
    out.inception = models::inception::loadFidInception(inception, device);
    out.resize = resize;
    return out;
}

FeatureStatistics inceptionStatistics(FidInstrument& fid, const torch::Tensor& images, std::int64_t batch)
{
    if (images.dim() != 4 || images.size(0) < 2)
        throw Error("FID: needs at least 2 images, found " + std::to_string(images.dim() == 4 ? images.size(0) : 0));
    return featureStatistics(fid.inception.net->features(images, fid.resize, batch));
}

double frechetInceptionDistance(FidInstrument& fid, const torch::Tensor& images, std::int64_t batch)
{
    return frechetDistance(inceptionStatistics(fid, images, batch), fid.reference);
}

std::string fidResizeName(models::inception::FidResize resize)
{
    return resize == models::inception::FidResize::Edm ? "edm" : "pytorch-fid";
}

models::inception::FidResize fidResizeFromName(const std::string& name)
{
    if (name == "edm")
        return models::inception::FidResize::Edm;
    if (name == "pytorch-fid")
        return models::inception::FidResize::PytorchFid;
    throw Error("FID resize '" + name + "': expected edm or pytorch-fid");
}

} // namespace lethe::eval
