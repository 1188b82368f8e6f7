#pragma once

// Concept unlearning for text-to-image models (docs/method.md §1 and §3): the loop that changes a copy of a Stable
// Diffusion style UNet so that it forgets what a set of (prompt, image) pairs shows while it keeps what the
// remain pairs show. The text encoder and the VAE stay frozen and are shared with the base model.

#include "core/diffusion/ddpm_sampler.h"
#include "core/diffusion/text_to_image.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/unlearn_run.h"

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
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
    /// Latent models: the VAE posterior's log-variance [C, h, w] (unscaled, clamped to [−30, 20]), float32 on the
    /// CPU, from which ConceptConfig::latents "sample" draws x₀; undefined in pixel space.
    torch::Tensor logvar = {};
};

/// Pixels (uint8 [N, C, H, W]) → the UNet's input space: VAE mean × scaling factor (after the shift) for a
/// latent model, [−1, 1] in pixel space; float32 on the CPU. Encodes in batches of `batch` under NoGradGuard.
torch::Tensor toModelInput(const models::sd::StableDiffusion& sd, const torch::Tensor& pixels, std::int64_t batch = 4);

/// The pairs of `prompts` and their images (uint8 [N, C, H, W]): toModelInput's images and, for a latent model,
/// the VAE posterior's log-variance of each.
std::vector<ConceptPair> conceptPairsOf(const models::sd::StableDiffusion& sd, const std::vector<std::string>& prompts,
    const torch::Tensor& pixels, std::int64_t batch = 4);

/// x₀ drawn from the VAE posterior for a batch of `images` ((mean − shift) × scale, [N, C, h, w]) and their
/// `logvar`: images + scale · exp(½·logvar) · ε, with ε ~ N(0, I) drawn from `generator` (on the CPU, float32),
/// i.e. (mean + σ·ε − shift) × scale as CompVis' DiagonalGaussianDistribution.sample() gives.
torch::Tensor samplePosterior(
    const torch::Tensor& images, const torch::Tensor& logvar, double scale, at::Generator& generator);

/// The draws of one of ESD's sampled states (esdSamplingSteps N > 0), in the order they come from the run's generator.
struct EsdStateDraw {
    torch::Tensor start; ///< The start noise, N(0, I) of the batch's shape, float32 on the CPU.
    std::int64_t k = 0; ///< Uniform in 0…N−1.
    /// DDIM steps run from the start noise: k (reached), or min(N, N + 1 − k) (bucket: the authors' sampler stops
    /// after its step of DDIM index k − 1, indices counting from the clean end, and runs all N for k ≤ 1).
    std::int64_t samplerSteps = 0;
    /// t of the loss: the DDIM timestep reached (reached), or uniform in esdTimestepBucket(k, N, T) (bucket).
    std::int64_t timestep = 0;
};

/// ESD's authors' timesteps for k: [round(k·T/N), round((k+1)·T/N)) for N sampler steps and T training steps,
/// rounded half to even as Python's round(); at least one timestep wide.
std::pair<std::int64_t, std::int64_t> esdTimestepBucket(
    std::int64_t k, std::int64_t samplerSteps, std::int64_t trainSteps);

/// Draws one of ESD's sampled states for a batch of `shape` from `generator`: the start noise, k, then (bucket) t,
/// as config.esdSamplingSteps and config.esdTimestep say. Throws Error when esdSamplingSteps is not in 1…T.
EsdStateDraw drawEsdState(const diffusion::DdpmSchedule& schedule, const ConceptConfig& config, at::IntArrayRef shape,
    at::Generator& generator);

/// ESD's target for the trained model's prediction at (x_t, t, concept): the frozen model's unconditional prediction
/// moved away from the concept, u − η·(c − u). The combination is affine with weights summing to one, so it is the
/// same target whether the model predicts ε or v (v = √ᾱ·ε − √(1 − ᾱ)·x₀ at a fixed x_t is affine in ε).
torch::Tensor esdTarget(const torch::Tensor& conditional, const torch::Tensor& unconditional, double eta);

/// One classifier-free-guided DDIM step of ESD's sampled states, from x at ᾱ = `a` to ᾱ = `b` (η = 0): the model's
/// `unconditional` and `conditional` outputs at x, ε or v as `prediction` says, guided with `guidance`.
torch::Tensor esdDdimStep(const torch::Tensor& x, const torch::Tensor& unconditional, const torch::Tensor& conditional,
    double guidance, double a, double b, diffusion::PredictionType prediction);

/// True for the methods that run without remain pairs (ESD, UCE): they measure L_r when there are some.
bool conceptMethodWithoutRemain(ConceptMethod method);

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

/// What a ConceptSession does with the base model's UNet.
enum class BaseUse {
    /// Train a copy; the base model never changes (the workbench, which compares and attacks the base). ESD's
    /// frozen teacher is the base UNet itself.
    Copy,
    /// Train the base model's UNet itself: no second UNet in memory, and the base model is the run's from then on
    /// (the CLI, which draws its "before" images first). ESD keeps only the original values of the trained
    /// parameters, swapped in for the teacher's passes. On CUDA the text encoder and the VAE wait in the computer's
    /// memory while steps run (every prompt's embedding is computed up front) and come back for previews.
    TrainInPlace,
};

/// One concept-unlearning run, on a copy of the base UNet or on the base UNet itself (BaseUse). Deterministic for
/// a seed on the CPU. The prompts' text embeddings are computed once, when the session is made.
///
/// A step (RGD, GradDiff, GA) chooses the forget batch, then the remain batch (each walks its set in a seeded
/// order), then draws from one CPU generator seeded with config.seed: the forget batch's posterior noise (a latent
/// model with latents "sample"), its timesteps and noise, then the remain batch's posterior noise, timesteps and
/// noise. ESD draws its forget batch's posterior noise, timesteps and noise, then (when it has remain pairs) the
/// remain batch's (with esdSamplingSteps > 0, instead of the forget draws: the start noise, the number of sampler
/// steps k and, for bucket timesteps, t). By default ESD's x_t comes from noising the forget images at a uniform t,
/// not from partial sampling of the concept prompt as ESD's authors do: the images are the base model's own samples
/// of those prompts, so the states come from about the same distribution without a sampler run per step;
/// esdSamplingSteps selects the authors' way.
/// RGD's remain gradient comes from one remain batch per step, as in the SD reference code (the
/// class-conditional engine's RGD averages over all of D_r instead).
/// A non-finite loss, gradient or weight rolls back to the last snapshot, as for class runs (UnlearnRun::run).
/// remain_pairing "twins" takes step i's remain batch at step i's forget indices, in their order (remain_batch is
/// unused; "independent" walks the remain set in a seeded order of its own). The caller vouches that remain[i] is
/// forget[i]'s twin, as the front ends do only for twins they built from a preset (concepts::buildTwins()); the
/// constructor refuses a remain set whose size is not the forget set's.
class ConceptSession : public UnlearnRun {
public:
    /// Throws Error for bad settings, an empty forget set, an empty remain set (except for ESD and UCE), images whose
    /// shape is not the UNet's input, a model not computing in float32, an empty parameter group, or pairs of a
    /// latent model without a log-variance of their image's shape when latents is "sample" (ESD's forget pairs
    /// with esdSamplingSteps > 0 need none).
    ConceptSession(const models::sd::StableDiffusion& base, std::vector<ConceptPair> forget,
        std::vector<ConceptPair> remain, ConceptConfig config, BaseUse use = BaseUse::Copy);
    ~ConceptSession() override;

    /// The previews drawn during run() every config.previewEvery steps and by preview(): every prompt of
    /// `request` with its seed, from the model being changed. Without prompts there are none.
    void setPreview(diffusion::TextToImageRequest request);
    const diffusion::TextToImageRequest& previewRequest() const;
    std::optional<torch::Tensor> preview(const std::function<bool(std::int64_t, std::int64_t)>& progress = {}) override;

    /// The model being changed: the base's tokenizer, text encoder and VAE with this run's UNet (in eval mode
    /// between runs).
    const models::sd::StableDiffusion& model() const;
    /// ESD's frozen teacher with BaseUse::Copy: the base UNet; null for the other methods and in place.
    models::sd::UNet2DConditionModel frozenUNet() const;
    /// The configuration with live changes applied so far (UCE: steps 1).
    const ConceptConfig& config() const;
    /// SalUn: the saliency mask of each trainable tensor (1 = may change), computed when the first run() starts;
    /// empty before that and for the other methods.
    const std::vector<torch::Tensor>& saliencyMask() const;

    /// Writes what run() needs to go on from the last snapshot to `path`, atomically: the trained parameters (only
    /// those, under "unet."), Adam's moments and step count, the step, the noise generator's state and α, λ and lr
    /// with the live changes so far; and the run's identity (checkpointIdentity). After snapshotCurrentStep() that is
    /// the current state.
    void writeCheckpoint(const std::filesystem::path& path, const std::string& modelSha256) const;
    /// Loads a checkpoint of this same run: run() then continues from its step with the batches, draws and updates
    /// of the run that wrote it (steps may differ). Call it before the first run() (SalUn's mask comes from the base
    /// weights; in place, ESD's teacher keeps them). Returns the step. Throws FormatError naming the file and the
    /// first key of the identity that differs, or the tensor that is missing or mis-shaped.
    std::int64_t resumeFrom(const std::filesystem::path& path, const std::string& modelSha256);
    /// Throws what resumeFrom() would for a checkpoint of another run, and changes nothing.
    void checkCheckpoint(const std::filesystem::path& path, const std::string& modelSha256) const;
    /// What a checkpoint must share with the run that resumes it: `modelSha256` ("model_sha256"), the settings as
    /// the session started with them (the concept config's keys but steps and preview_every), the SHA-256 of the
    /// forget and of the remain prompts ("forget_prompts", "remain_prompts") and of the training pairs' images and
    /// log-variances ("training_images").
    nlohmann::json checkpointIdentity(const std::string& modelSha256) const;

protected:
    Schedule schedule() const override;
    TrainState trainState() override;
    void applyLive(const LiveChanges& changes) override;
    void prepare() override;
    StepReport takeStep(std::int64_t index, std::string& problem) override;
    bool hasPreview() const override;
    void finishRun() override;

private:
    /// SalUn: the saliency mask, once.
    void computeSaliency();
    /// The checkpoint's live α, λ and lr, after checking its identity against this run's.
    LiveChanges checkedLiveValues(const io::SafetensorsFile& file, const std::string& modelSha256) const;

    struct State;
    std::unique_ptr<State> m_state;
};

} // namespace lethe::unlearn
