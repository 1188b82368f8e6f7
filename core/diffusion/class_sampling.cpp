#include "class_sampling.h"

#include "core/diffusion/denoiser.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"

#include <torch/torch.h>

#include <sstream>

namespace lethe::diffusion {

Denoiser denoiserOf(models::EDMPrecond& net)
{
    return [net](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) mutable {
        return net->forward(x, sigma, labels);
    };
}

std::optional<torch::Tensor> sampleClasses(models::EDMPrecond& net, const ClassSamplingRequest& request,
    const torch::Device& device, const ImageProgress& progress)
{
    const int labelDim = static_cast<int>(net->options.label_dim());
    if (labelDim > 0 && request.classes.empty())
        throw Error("this model is class-conditional: name the classes to sample");
    for (int c : request.classes)
        if (c < 0 || c >= labelDim)
            throw Error("class " + std::to_string(c) + " is outside 0–" + std::to_string(labelDim - 1));
    if (request.seeds.empty())
        throw Error("no seeds to sample");
    if (request.batch < 1)
        throw Error("the sampling batch must be at least 1");

    std::vector<std::int64_t> seeds;
    std::vector<std::int64_t> labels;
    const std::vector<int> classes = request.classes.empty() ? std::vector<int> { -1 } : request.classes;
    for (int c : classes)
        for (std::int64_t seed : request.seeds) {
            seeds.push_back(seed);
            labels.push_back(c);
        }
    const bool wasTraining = net->is_training();
    net->eval();
    const Denoiser denoiser = denoiserOf(net);
    const auto total = static_cast<std::int64_t>(seeds.size());
    const std::int64_t channels = net->options.img_channels();
    const std::int64_t resolution = net->options.img_resolution();
    std::vector<torch::Tensor> pieces;
    bool cancelled = progress && !progress(0, total);
    for (std::int64_t begin = 0; begin < total && !cancelled; begin += request.batch) {
        const std::int64_t end = std::min(total, begin + request.batch);
        const std::vector<std::int64_t> batchSeeds(seeds.begin() + begin, seeds.begin() + end);
        torch::Tensor onehot;
        if (labelDim > 0)
            onehot = oneHot(
                torch::tensor(std::vector<std::int64_t>(labels.begin() + begin, labels.begin() + end)), labelDim);
        const auto images = sampleUint8(denoiser, batchSeeds, onehot, channels, resolution, resolution, request.sampler,
            device, [&](int, int) { return !(progress && !progress(begin, total)); });
        if (!images) {
            cancelled = true;
            break;
        }
        pieces.push_back(images->to(torch::kCPU));
        if (progress && !progress(end, total))
            cancelled = true;
    }
    if (wasTraining)
        net->train();
    if (cancelled)
        return std::nullopt;
    return torch::cat(pieces);
}

std::vector<std::int64_t> parseSeedList(const std::string& text)
{
    std::vector<std::int64_t> seeds;
    std::stringstream items(text);
    std::string item;
    auto number = [&](const std::string& s) {
        std::size_t used = 0;
        long long value = -1;
        try {
            value = std::stoll(s, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != s.size() || s.empty() || value < 0)
            throw Error("seed list '" + text + "': '" + s + "' is not a non-negative integer");
        return static_cast<std::int64_t>(value);
    };
    while (std::getline(items, item, ',')) {
        const auto dash = item.find('-');
        if (dash == std::string::npos) {
            seeds.push_back(number(item));
            continue;
        }
        const std::int64_t first = number(item.substr(0, dash));
        const std::int64_t last = number(item.substr(dash + 1));
        if (last < first)
            throw Error("seed list '" + text + "': range '" + item + "' runs backwards");
        if (last - first >= 1000000)
            throw Error("seed list '" + text + "': range '" + item + "' has more than a million seeds");
        for (std::int64_t s = first; s <= last; ++s)
            seeds.push_back(s);
    }
    if (seeds.empty())
        throw Error("seed list '" + text + "' is empty");
    return seeds;
}

} // namespace lethe::diffusion
