#pragma once

// What the unlearning-run tests share: a tiny 3-class image set and EDM model, seeded concept pairs for the tiny
// Stable Diffusion, and an observer that records everything a run reports.
#include "core/data/image_set.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/text_to_image.h"
#include "core/models/edm/edm_config.h"
#include "core/unlearn/concept_session.h"
#include "core/unlearn/unlearn_run.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lethe::test {

/// 1×8×8 images of 3 classes, 10 each: class k is bright in horizontal band k.
inline data::ImageSet tinyClassSet()
{
    data::ImageSet set;
    set.images = torch::zeros({ 30, 1, 8, 8 }, torch::kUInt8);
    set.labels = torch::zeros({ 30 }, torch::kInt64);
    for (std::int64_t i = 0; i < 30; ++i) {
        const std::int64_t label = i % 3;
        set.labels[i] = label;
        set.images[i].narrow(1, label * 2 + 1, 2).fill_(150 + 3 * i);
    }
    set.classNames = { "top", "middle", "bottom" };
    set.source = "tiny test set";
    return set;
}

/// A class-conditional EDM model for tinyClassSet(): 8 channels, two levels, dropout 0.1, seeded; `augmentDim`
/// augmentation labels.
inline models::EDMPrecond tinyClassModel(std::int64_t augmentDim = 0)
{
    models::EDMPrecondOptions options(8, 1);
    options.label_dim(3);
    options.model().label_dim(3).model_channels(8).channel_mult({ 1, 1 }).num_blocks(1).attn_resolutions({}).dropout(
        0.1);
    options.model().augment_dim(augmentDim);
    torch::manual_seed(7);
    return models::makeEdmPrecond(models::toJson(options));
}

/// A 6-step run of tinyClassModel() on tinyClassSet() with snapshots every 2 steps and no measures.
inline unlearn::RunConfig tinyClassConfig(unlearn::Method method = unlearn::Method::RGD)
{
    unlearn::RunConfig config;
    config.method = method;
    config.steps = 6;
    config.forgetBatch = 4;
    config.remainPerClass = 5;
    config.remainBatch = 4; // RGD's full pass over the 10 remain images takes 3 chunks.
    config.lr = 1e-3;
    config.seed = 3;
    config.snapshotEvery = 2;
    config.evaluate = false;
    return config;
}

/// A 3-step concept run on the tiny Stable Diffusion, never truncated (α 1e9), λ 1.5.
inline unlearn::ConceptConfig tinyConceptConfig(unlearn::ConceptMethod method = unlearn::ConceptMethod::RGD)
{
    unlearn::ConceptConfig config;
    config.method = method;
    config.alpha = 1e9; // Never truncated unless a test says so.
    config.lambda = 1.5;
    config.lr = 1e-3;
    config.steps = 3;
    config.forgetBatch = 2;
    config.remainBatch = 3;
    config.remainPairing = unlearn::RemainPairing::Independent; // The fixtures' remain pairs are not twins.
    config.seed = 7;
    return config;
}

/// Images of `prompts` (one per seed 3, 4, …) from a tiny text-to-image model: 8 × 8, 4 DDIM steps, guidance 2,
/// all in one batch.
inline diffusion::TextToImageRequest tinyTextToImageRequest(const std::vector<std::string>& prompts)
{
    diffusion::TextToImageRequest request;
    request.prompts = prompts;
    for (std::size_t i = 0; i < prompts.size(); ++i)
        request.seeds.push_back(3 + static_cast<std::int64_t>(i));
    request.height = 8;
    request.width = 8;
    request.guidance = 2.0;
    request.sampler.steps = 4;
    request.batch = static_cast<std::int64_t>(prompts.size());
    return request;
}

/// `n` pairs with prompts "<word> a", "<word> b", … and seeded random images in [−1, 1] (the tiny pixel-space
/// Stable Diffusion's input).
inline std::vector<unlearn::ConceptPair> conceptPairs(
    const std::string& word, int n, std::uint64_t seed, std::int64_t channels = 3, std::int64_t side = 8)
{
    at::Generator generator = diffusion::cpuGenerator(seed);
    std::vector<unlearn::ConceptPair> out;
    for (int i = 0; i < n; ++i)
        out.push_back({ word + " " + std::string(1, static_cast<char>('a' + i % 26)),
            torch::rand({ channels, side, side }, generator) * 2 - 1 });
    return out;
}

/// A detached copy of every UNet parameter, by name.
inline std::map<std::string, torch::Tensor> parametersOf(const models::sd::UNet2DConditionModel& unet)
{
    std::map<std::string, torch::Tensor> out;
    for (const auto& item : unet->named_parameters())
        out[item.key()] = item.value().detach().clone();
    return out;
}

/// Detached copies of `tensors` (the weights as they are now).
inline std::vector<torch::Tensor> copiesOf(const std::vector<torch::Tensor>& tensors)
{
    std::vector<torch::Tensor> out;
    for (const auto& t : tensors)
        out.push_back(t.detach().clone());
    return out;
}

/// True when both lists hold equal tensors, bit for bit.
inline bool sameTensors(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b)
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!torch::equal(a[i], b[i]))
            return false;
    return true;
}

/// Records everything a run reports; `onStepHook` runs inside onStep.
struct RunRecorder : unlearn::RunObserver {
    std::vector<unlearn::StepReport> steps;
    std::vector<std::int64_t> snapshots;
    std::vector<std::int64_t> previews;
    std::vector<std::pair<std::int64_t, std::int64_t>> rollbacks;
    std::vector<std::string> failures;
    int finished = 0;
    std::function<void(const unlearn::StepReport&)> onStepHook;

    void onStep(const unlearn::StepReport& r) override
    {
        steps.push_back(r);
        if (onStepHook)
            onStepHook(r);
    }
    void onSnapshot(std::int64_t step) override { snapshots.push_back(step); }
    void onPreview(std::int64_t step, const torch::Tensor&) override { previews.push_back(step); }
    void onRollback(std::int64_t failed, std::int64_t restored, const std::string&) override
    {
        rollbacks.emplace_back(failed, restored);
    }
    void onFinished(const unlearn::RunResult&) override { ++finished; }
    void onFailed(const std::string& message) override { failures.push_back(message); }
};

} // namespace lethe::test
