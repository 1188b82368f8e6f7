#include "concept_images.h"

#include "core/diffusion/text_to_image.h"
#include "core/error.h"
#include "core/imaging/image_file.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace lethe::unlearn {

namespace {

std::int64_t seedOf(const concepts::Prompt& prompt, std::size_t index, const ConceptImageOptions& options)
{
    return prompt.seed ? *prompt.seed : options.seedBase + static_cast<std::int64_t>(index);
}

std::string lowerExtension(const std::filesystem::path& path)
{
    std::string extension = path.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
        [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return extension;
}

std::string trimmed(const std::string& text)
{
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

} // namespace

std::string conceptImageFileName(std::int64_t index, const concepts::Prompt& prompt, std::int64_t seed,
    const ConceptImageOptions& options, std::int64_t size)
{
    const nlohmann::json key = { { "prompt", prompt.text }, { "seed", seed }, { "guidance", options.guidance },
        { "steps", options.samplerSteps }, { "size", size }, { "negative_prompt", options.negativePrompt },
        { "model", options.modelId } };
    char number[32];
    std::snprintf(number, sizeof number, "%05lld", static_cast<long long>(index));
    return std::string(number) + "-" + io::sha256Hex(key.dump()).substr(0, 12) + ".safetensors";
}

std::optional<torch::Tensor> conceptImages(const models::sd::StableDiffusion& sd,
    const std::vector<concepts::Prompt>& prompts, const std::filesystem::path& folder,
    const ConceptImageOptions& options, const ImageProgress& progress, const SamplerProgress& sampler)
{
    if (prompts.empty())
        throw Error("concept images: the prompt set is empty");
    if (options.batch < 1)
        throw Error("concept images: the batch must be at least 1, found " + std::to_string(options.batch));
    const std::int64_t size = options.size > 0 ? options.size : sd.defaultImageSize();
    std::filesystem::create_directories(folder);

    const auto total = static_cast<std::int64_t>(prompts.size());
    std::vector<torch::Tensor> images(prompts.size());
    std::vector<std::size_t> missing;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const std::int64_t seed = seedOf(prompts[i], i, options);
        const std::filesystem::path path
            = folder / conceptImageFileName(static_cast<std::int64_t>(i), prompts[i], seed, options, size);
        if (!std::filesystem::exists(path)) {
            missing.push_back(i);
            continue;
        }
        const io::SafetensorsFile file(path);
        if (!file.contains("image"))
            throw FormatError(path.string(), "tensor 'image'", "missing");
        torch::Tensor image = file.tensor("image").clone();
        if (image.scalar_type() != torch::kUInt8 || image.dim() != 3 || image.size(1) != size || image.size(2) != size)
            throw FormatError(path.string(), "tensor 'image'",
                "expected uint8 [C, " + std::to_string(size) + ", " + std::to_string(size) + "], found "
                    + std::string(c10::toString(image.scalar_type())) + " " + c10::str(image.sizes()));
        images[i] = image;
    }

    std::int64_t done = total - static_cast<std::int64_t>(missing.size());
    if (progress && !progress(done, total))
        return std::nullopt;
    const diffusion::TextToImageModel model = sd.model();
    for (std::size_t begin = 0; begin < missing.size(); begin += static_cast<std::size_t>(options.batch)) {
        const std::size_t end = std::min(missing.size(), begin + static_cast<std::size_t>(options.batch));
        diffusion::TextToImageRequest request;
        request.negativePrompt = options.negativePrompt;
        request.height = size;
        request.width = size;
        request.guidance = options.guidance;
        request.sampler.steps = options.samplerSteps;
        request.batch = options.batch;
        for (std::size_t k = begin; k < end; ++k) {
            request.prompts.push_back(prompts[missing[k]].text);
            request.seeds.push_back(seedOf(prompts[missing[k]], missing[k], options));
        }
        const std::optional<torch::Tensor> drawn = diffusion::generate(model, request, sampler);
        if (!drawn)
            return std::nullopt;
        for (std::size_t k = begin; k < end; ++k) {
            const std::size_t i = missing[k];
            const torch::Tensor image = (*drawn)[static_cast<std::int64_t>(k - begin)].contiguous();
            const std::int64_t seed = request.seeds[k - begin];
            const std::string name
                = conceptImageFileName(static_cast<std::int64_t>(i), prompts[i], seed, options, size);
            // The PNG first: the safetensors file is what marks the prompt done.
            imaging::writePng(folder / std::filesystem::path(name).replace_extension(".png"), image);
            io::writeSafetensors(folder / name, { { "image", image } },
                { { "prompt", prompts[i].text }, { "seed", std::to_string(seed) } });
            images[i] = image;
        }
        done += static_cast<std::int64_t>(end - begin);
        if (progress && !progress(done, total))
            return std::nullopt;
    }
    return torch::stack(images);
}

CaptionedImages readCaptionedImages(const std::filesystem::path& folder, int channels, int size)
{
    if (!std::filesystem::is_directory(folder))
        throw Error("captioned images: " + folder.string() + " is not a folder");
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
        const std::string extension = lowerExtension(entry.path());
        if (entry.is_regular_file() && (extension == ".png" || extension == ".jpg" || extension == ".jpeg"))
            files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    CaptionedImages result;
    std::vector<torch::Tensor> images;
    for (const auto& path : files) {
        const std::filesystem::path captionPath = std::filesystem::path(path).replace_extension(".txt");
        if (!std::filesystem::exists(captionPath))
            continue;
        std::ifstream in(captionPath, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        const std::string caption = trimmed(text.str());
        if (caption.empty())
            throw FormatError(captionPath.string(), "caption", "empty");
        images.push_back(imaging::readImageFile(path, channels, size));
        result.prompts.push_back(caption);
    }
    if (images.empty())
        throw Error("captioned images: " + folder.string()
            + " has no image with a caption (a PNG or JPEG file with a .txt file of the same name)");
    result.images = torch::stack(images);
    return result;
}

} // namespace lethe::unlearn
