#include "clip_score.h"

#include "core/error.h"

#include <torch/nn/functional/normalization.h>

#include <algorithm>
#include <numeric>

namespace lethe::eval {

std::vector<double> clipAlignment(models::clip::LoadedClip& clip, const torch::Tensor& images,
    const std::vector<std::string>& prompts, const ClipScoreOptions& options)
{
    if (images.dim() != 4 || images.size(0) != static_cast<std::int64_t>(prompts.size()))
        throw Error("CLIP alignment: " + std::to_string(images.dim() == 4 ? images.size(0) : 0) + " images for "
            + std::to_string(prompts.size()) + " prompts; each image needs its prompt");
    if (options.batch <= 0)
        throw Error("CLIP alignment: the batch must be positive, found " + std::to_string(options.batch));
    torch::NoGradGuard noGrad;
    const torch::Device device = clip.model->logit_scale.device();
    const auto normalised = [](const torch::Tensor& x) {
        return torch::nn::functional::normalize(
            x.to(torch::kFloat64), torch::nn::functional::NormalizeFuncOptions().dim(-1));
    };
    std::vector<double> scores;
    scores.reserve(prompts.size());
    for (std::int64_t begin = 0; begin < images.size(0); begin += options.batch) {
        const std::int64_t count = std::min(options.batch, images.size(0) - begin);
        const torch::Tensor pixels
            = models::clip::preprocessClipImages(images.narrow(0, begin, count).to(device), clip.processing);
        const std::vector<std::string> texts(prompts.begin() + begin, prompts.begin() + begin + count);
        const torch::Tensor ids = clip.tokenizer.encodeBatch(texts).to(device);
        const torch::Tensor cosine
            = (normalised(clip.model->imageFeatures(pixels)) * normalised(clip.model->textFeatures(ids))).sum(-1).cpu();
        for (std::int64_t i = 0; i < count; ++i)
            scores.push_back(cosine[i].item<double>());
    }
    return scores;
}

double meanClipAlignment(const std::vector<double>& scores)
{
    if (scores.empty())
        throw Error("CLIP alignment: no scores to average");
    return std::accumulate(scores.begin(), scores.end(), 0.0) / static_cast<double>(scores.size());
}

} // namespace lethe::eval
