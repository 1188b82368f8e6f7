#include "zero_shot_clip.h"

#include "core/error.h"
#include "core/io/sha256.h"
#include "core/models/clip/clip_image_processor.h"

#include <torch/torch.h>

namespace lethe::eval {

namespace {

torch::Tensor normalised(const torch::Tensor& x)
{
    return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(-1));
}

} // namespace

ZeroShotClip makeZeroShotClip(models::clip::LoadedClip clip, const std::vector<std::string>& classNames)
{
    if (classNames.empty())
        throw Error("zero-shot CLIP: the model names no classes (its file's \"classes\" is empty)");
    std::vector<std::string> labels;
    for (const std::string& name : classNames) {
        if (name.empty())
            throw Error("zero-shot CLIP: class " + std::to_string(labels.size()) + " has an empty name");
        labels.push_back(name);
    }
    labels.emplace_back(kNoiseLabel);
    std::vector<std::string> prompts;
    for (const std::string& label : labels)
        prompts.push_back("a photo of a " + label);
    const std::filesystem::path weights = clip.folder / "model.safetensors";
    std::string sha256 = std::filesystem::exists(weights) ? io::sha256File(weights) : std::string();
    torch::Tensor text;
    {
        torch::NoGradGuard noGrad;
        const torch::Device device = clip.model->logit_scale.device();
        text = normalised(clip.model->textFeatures(clip.tokenizer.encodeBatch(prompts).to(device)));
    }
    return ZeroShotClip { std::move(clip), std::move(labels), std::move(prompts), text, std::move(sha256) };
}

torch::Tensor zeroShotLogits(ZeroShotClip& zeroShot, const torch::Tensor& images, std::int64_t batch)
{
    if (batch <= 0)
        throw Error("zero-shot CLIP: the batch must be positive, found " + std::to_string(batch));
    if (images.dim() != 4)
        throw Error("zero-shot CLIP: expected uint8 images [N, 3, H, W] or [N, 1, H, W], found "
            + std::to_string(images.dim()) + " dimensions");
    torch::NoGradGuard noGrad;
    auto& model = zeroShot.clip.model;
    const torch::Device device = model->logit_scale.device();
    const torch::Tensor scale = model->logit_scale.exp();
    std::vector<torch::Tensor> logits;
    for (std::int64_t begin = 0; begin < images.size(0); begin += batch) {
        const std::int64_t count = std::min(batch, images.size(0) - begin);
        const torch::Tensor pixels
            = models::clip::preprocessClipImages(images.narrow(0, begin, count).to(device), zeroShot.clip.processing);
        const torch::Tensor embeddings = normalised(model->imageFeatures(pixels));
        logits.push_back((scale * embeddings.matmul(zeroShot.textEmbeddings.t())).to(torch::kCPU, torch::kFloat32));
    }
    if (logits.empty())
        return torch::zeros({ 0, static_cast<std::int64_t>(zeroShot.labels.size()) });
    return torch::cat(logits);
}

torch::Tensor zeroShotClassify(ZeroShotClip& zeroShot, const torch::Tensor& images, std::int64_t batch)
{
    return zeroShotLogits(zeroShot, images, batch).argmax(1);
}

} // namespace lethe::eval
