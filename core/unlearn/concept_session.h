#pragma once

// Concept unlearning for text-to-image models (docs/method.md §1 and §3): the loop that changes a copy of a Stable
// Diffusion style UNet so that it forgets what a set of (prompt, image) pairs shows while it keeps what the
// remain pairs show. The text encoder and the VAE stay frozen and are shared with the base model.

#include "core/diffusion/text_to_image.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/unlearn_run.h"

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lethe::unlearn {

/// One (prompt, image) pair; the image is float [C, h, w] in the UNet's input space (VAE mean × scaling factor
/// for a latent model, pixels in [−1, 1] in pixel space), on the CPU.
struct ConceptPair {
    std::string prompt;
    torch::Tensor image;
};

/// Pixels (uint8 [N, C, H, W]) → the UNet's input space: VAE mean × scaling factor (after the shift) for a
/// latent model, [−1, 1] in pixel space; float32 on the CPU. Encodes in batches of `batch` under NoGradGuard.
torch::Tensor toModelInput(const models::sd::StableDiffusion& sd, const torch::Tensor& pixels, std::int64_t batch = 4);

/// The pairs a step trains on, as indices into the forget and the remain set.
struct ConceptBatchIndices {
    std::vector<std::int64_t> forget;
    std::vector<std::int64_t> remain; ///< Empty when there are no remain pairs.
};

/// Step `step`'s batches (counted from 0): forget_batch forget pairs in a seeded order that walks the set epoch by
/// epoch; with remain_pairing "twins" the remain pairs at the same indices in the same order, with "independent"
/// remain_batch remain pairs in a seeded order of their own (seed + 1).
ConceptBatchIndices conceptBatchIndices(
    const ConceptConfig& config, std::int64_t forgetCount, std::int64_t remainCount, std::int64_t step);

/// One concept-unlearning run. Owns a copy of the base UNet (and, for ESD, a second, frozen copy); the base
/// model is never modified. Deterministic for a seed on the CPU.
///
/// A step (RGD, GradDiff, GA) draws the forget batch, then the remain batch (each walks its set in a seeded
/// order), then from one CPU generator seeded with config.seed the forget batch's timesteps and noise, then the
/// remain batch's. ESD draws its forget batch's timesteps and noise, then (when it has remain pairs) the remain
/// batch's (with esdSamplingSteps > 0: the start noise and the number of sampler steps instead of the forget
/// draw). By default ESD's x_t comes from noising the forget images at a uniform t, not from partial sampling of
/// the concept prompt as ESD's authors do: the images are the base model's own samples of those prompts, so the
/// states come from about the same distribution without a sampler run per step; esdSamplingSteps selects the
/// authors' way. RGD's remain gradient comes from one remain batch per step, as in the SD reference code (the
/// class-conditional engine's RGD averages over all of D_r instead).
/// A non-finite loss, gradient or weight rolls back to the last snapshot, as for class runs (UnlearnRun::run).
/// remain_pairing "twins" takes step i's remain batch at step i's forget indices, in their order (remain_batch is
/// unused; "independent" walks the remain set in a seeded order of its own). The caller vouches that remain[i] is
/// forget[i]'s twin, as the front ends do only for twins they built from a preset (concepts::buildTwins()); the
/// constructor refuses a remain set whose size is not the forget set's.
class ConceptSession : public UnlearnRun {
public:
    /// Throws Error for bad settings, an empty forget set, an empty remain set (except for ESD), images whose
    /// shape is not the UNet's input, a model not computing in float32, or an empty parameter group.
    ConceptSession(const models::sd::StableDiffusion& base, std::vector<ConceptPair> forget,
        std::vector<ConceptPair> remain, ConceptConfig config);
    ~ConceptSession() override;

    /// The previews drawn during run() every config.previewEvery steps and by preview(): every prompt of
    /// `request` with its seed, from the model being changed. Without prompts there are none.
    void setPreview(diffusion::TextToImageRequest request);
    const diffusion::TextToImageRequest& previewRequest() const;
    std::optional<torch::Tensor> preview(const std::function<bool(std::int64_t, std::int64_t)>& progress = {}) override;

    /// The model being changed: the base's tokenizer, text encoder and VAE with this run's UNet (in eval mode
    /// between runs).
    const models::sd::StableDiffusion& model() const;
    /// ESD's frozen copy of the original UNet; null for the other methods.
    models::sd::UNet2DConditionModel frozenUNet() const;
    /// The configuration with live changes applied so far.
    const ConceptConfig& config() const;

protected:
    Schedule schedule() const override;
    TrainState trainState() override;
    void applyLive(const LiveChanges& changes) override;
    StepReport takeStep(std::int64_t index, std::string& problem) override;
    bool hasPreview() const override;
    void finishRun() override;

private:
    struct State;
    std::unique_ptr<State> m_state;
};

} // namespace lethe::unlearn
