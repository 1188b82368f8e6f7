#pragma once

// What the Stable Diffusion tests share: every tensor of a loaded model under its component's prefix and the first
// that differs between two models, the request they generate with, a rewritten copy of a single file, and the rows
// of the tests that run every concept method once.
#include "core/diffusion/text_to_image.h"
#include "core/io/safetensors.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/nn/state_dict.h"

#include <torch/torch.h>

#include <QtTest>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace lethe::test {

/// Every tensor of `sd` as "unet.…", "text_encoder.…", "text_encoder_2.…" (SDXL) and "vae.…".
inline std::map<std::string, torch::Tensor> tensorsOf(const models::sd::StableDiffusion& sd)
{
    std::map<std::string, torch::Tensor> out;
    for (const io::NamedTensor& t : nn::stateDict(*sd.unet()))
        out["unet." + t.name] = t.tensor;
    for (const io::NamedTensor& t : nn::stateDict(*sd.textEncoder()))
        out["text_encoder." + t.name] = t.tensor;
    if (sd.isXl())
        for (const io::NamedTensor& t : nn::stateDict(*sd.textEncoder2()))
            out["text_encoder_2." + t.name] = t.tensor;
    if (sd.vae())
        for (const io::NamedTensor& t : nn::stateDict(*sd.vae()))
            out["vae." + t.name] = t.tensor;
    return out;
}

/// The name of the first tensor that differs (in name, shape, dtype or any bit), or "" when all are equal.
inline std::string firstDifference(const models::sd::StableDiffusion& a, const models::sd::StableDiffusion& b)
{
    const auto x = tensorsOf(a);
    const auto y = tensorsOf(b);
    for (const auto& [name, tensor] : x) {
        const auto it = y.find(name);
        if (it == y.end() || it->second.scalar_type() != tensor.scalar_type() || !torch::equal(it->second, tensor))
            return name;
    }
    return x.size() == y.size() ? std::string() : std::string("the tensor counts");
}

/// Two images from fixed seeds with guidance, three DDIM steps, at the model's size; `negativePrompt` empty: the
/// empty prompt (zeros for SDXL under force_zeros_for_empty_prompt).
inline diffusion::TextToImageRequest tinyRequest(
    const models::sd::StableDiffusion& sd, const std::string& negativePrompt = "blurry")
{
    diffusion::TextToImageRequest request;
    request.prompts = { "a red sneaker" };
    request.negativePrompt = negativePrompt;
    request.seeds = { 3, 4 };
    request.height = request.width = sd.defaultImageSize();
    request.sampler.steps = 3;
    request.guidance = 2.0;
    request.batch = 2;
    return request;
}

/// A copy of the safetensors file `source` with its tensors and metadata passed through `edit`.
inline void rewriteFile(const std::filesystem::path& source, const std::filesystem::path& target,
    const std::function<void(std::vector<io::NamedTensor>&, io::Metadata&)>& edit)
{
    const io::SafetensorsFile file(source);
    std::vector<io::NamedTensor> tensors;
    for (const io::TensorEntry& entry : file.entries())
        tensors.push_back({ entry.name, file.tensor(entry.name) });
    io::Metadata metadata = file.metadata();
    edit(tensors, metadata);
    io::writeSafetensors(target, tensors, metadata);
}

/// The data rows (method, parameter group, ESD's sampling steps) of a test that runs every concept method once.
inline void addEveryConceptMethodRow()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("parameters");
    QTest::addColumn<int>("esdSamplingSteps");
    const struct {
        const char* row;
        const char* method;
        const char* parameters;
        int esdSamplingSteps;
    } rows[] = { { "rgd", "rgd", "all", 0 }, { "graddiff", "graddiff", "all", 0 }, { "ga", "ga", "all", 0 },
        { "rg", "rg", "all", 0 }, { "salun", "salun", "all", 0 }, { "esd-x", "esd", "cross-attn", 0 },
        { "esd-u", "esd", "esd-u", 0 }, { "esd-x, sampled states", "esd", "cross-attn", 3 },
        { "uce", "uce", "cross-attn", 0 } };
    for (const auto& r : rows)
        QTest::newRow(r.row) << QString::fromLatin1(r.method) << QString::fromLatin1(r.parameters)
                             << r.esdSamplingSteps;
}

} // namespace lethe::test
