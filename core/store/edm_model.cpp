#include "edm_model.h"

#include "core/error.h"
#include "core/io/sha256.h"
#include "core/models/edm/edm_config.h"
#include "core/models/parameter_bounds.h"
#include "core/nn/state_dict.h"

#include <torch/torch.h>

#include <algorithm>
#include <optional>

namespace lethe::store {

void refusePickle(const std::filesystem::path& path)
{
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".pkl" || ext == ".pt" || ext == ".pth" || ext == ".ckpt" || ext == ".bin")
        throw FormatError(path.string(), "",
            "Python pickle checkpoints can run arbitrary code when loaded, so Lethe never opens them; "
            "convert NVlabs EDM snapshots with scripts/edm_pkl_to_safetensors.py (see the README)");
}

EdmModel loadEdmModel(const std::filesystem::path& path, torch::Device device)
{
    refusePickle(path);
    const io::SafetensorsFile file(path);
    EdmModel model;
    model.path = path;
    model.info = io::readModelInfo(file);
    if (model.info.kind != "edm")
        throw FormatError(path.string(), "__metadata__ key 'lethe' kind",
            "expected an EDM diffusion model ('edm'), found '" + model.info.kind + "'");
    std::optional<models::EDMPrecondOptions> options;
    try {
        options = models::edmOptionsFromJson(model.info.architecture);
    } catch (const Error& e) {
        throw FormatError(path.string(), "__metadata__ key 'lethe' architecture", e.what());
    }
    models::requireWeightsFor(models::minimumParameters(*options), file, "its architecture");
    try {
        model.net = models::EDMPrecond(*options);
    } catch (const Error& e) {
        throw FormatError(path.string(), "__metadata__ key 'lethe' architecture", e.what());
    }
    nn::loadStateDict(*model.net, file, true);
    model.net->to(device);
    model.net->eval();
    model.sha256 = io::sha256File(path);
    return model;
}

} // namespace lethe::store
