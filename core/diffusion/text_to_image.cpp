#include "text_to_image.h"

#include "core/error.h"
#include "pixels.h"

#include <torch/torch.h>

namespace lethe::diffusion {

void validate(const TextToImageModel& model, const TextToImageRequest& request)
{
    if (request.seeds.empty())
        throw Error("generate: no seeds given (one image is drawn per seed)");
    if (request.prompts.empty())
        throw Error("generate: no prompt given");
    if (request.prompts.size() != 1 && request.prompts.size() != request.seeds.size())
        throw Error("generate: " + std::to_string(request.prompts.size()) + " prompts for "
            + std::to_string(request.seeds.size()) + " seeds (give one prompt, or one per seed)");
    const std::int64_t scale = model.latentScale;
    if (request.height < scale || request.width < scale || request.height % scale != 0 || request.width % scale != 0)
        throw Error("generate: the image size must be a positive multiple of " + std::to_string(scale)
            + " pixels, found " + std::to_string(request.width) + "×" + std::to_string(request.height));
    if (request.batch < 1)
        throw Error("generate: the batch must hold at least one image, found " + std::to_string(request.batch));
    if (!(request.guidance >= 0.0))
        throw Error("generate: the guidance scale must be 0 or more, found " + std::to_string(request.guidance));
    if (!model.encodePrompts || !model.predictNoise)
        throw Error("generate: the model has no text encoder or noise predictor");
}

std::optional<torch::Tensor> generate(
    const TextToImageModel& model, const TextToImageRequest& request, const GenerationProgress& progress)
{
    validate(model, request);
    torch::NoGradGuard noGrad;
    const auto total = static_cast<std::int64_t>(request.seeds.size());
    const std::int64_t stepsPerBatch = request.sampler.steps;
    const std::int64_t batches = (total + request.batch - 1) / request.batch;
    const bool guided = request.guidance != 1.0;
    if (progress && !progress(0, batches * stepsPerBatch))
        return std::nullopt;

    // The negative prompt's context is the same for every batch: encoded once.
    torch::Tensor negative
        = guided ? model.encodePrompts({ request.negativePrompt }).to(model.device, model.dtype) : torch::Tensor();
    if (guided && model.zeroEmptyNegativePrompt && request.negativePrompt.empty())
        negative = torch::zeros_like(negative);
    std::vector<torch::Tensor> images;
    for (std::int64_t first = 0, b = 0; first < total; first += request.batch, ++b) {
        const std::int64_t count = std::min(request.batch, total - first);
        const std::vector<std::int64_t> seeds(request.seeds.begin() + first, request.seeds.begin() + first + count);
        std::vector<std::string> prompts;
        for (std::int64_t i = first; i < first + count; ++i)
            prompts.push_back(
                request.prompts.size() == 1 ? request.prompts.front() : request.prompts[static_cast<std::size_t>(i)]);
        torch::Tensor context = model.encodePrompts(prompts).to(model.device, model.dtype);
        if (guided)
            context = torch::cat({ negative.expand({ count, -1, -1 }), context });
        const torch::Tensor noise = seededNoise(
            seeds, model.latentChannels, request.height / model.latentScale, request.width / model.latentScale)
                                        .to(model.device);
        const NoisePredictor predictor = [&](const torch::Tensor& x, double t) {
            const torch::Tensor input = (guided ? torch::cat({ x, x }) : x).to(model.dtype);
            const torch::Tensor timesteps
                = torch::full({ input.size(0) }, t, torch::dtype(torch::kFloat32).device(model.device));
            const torch::Tensor out = model.predictNoise(input, timesteps, context).to(x.scalar_type());
            if (!guided)
                return out;
            const auto parts = out.chunk(2);
            return parts[0] + request.guidance * (parts[1] - parts[0]);
        };
        const SamplerProgress steps
            = [&](int done, int) { return !progress || progress(b * stepsPerBatch + done, batches * stepsPerBatch); };
        const std::optional<torch::Tensor> latents
            = sampleDdpm(predictor, noise, model.schedule, request.sampler, steps);
        if (!latents)
            return std::nullopt;
        const torch::Tensor pixels = model.decode ? model.decode(latents->to(model.dtype)) : *latents;
        images.push_back(floatToPixels(pixels.to(torch::kFloat32)).cpu());
    }
    return torch::cat(images);
}

} // namespace lethe::diffusion
