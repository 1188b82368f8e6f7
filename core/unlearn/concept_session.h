#pragma once

// Concept unlearning for text-to-image models (METHOD.md §1 and §3): the loop that changes a copy of a Stable
// Diffusion style UNet so that it forgets what a set of (prompt, image) pairs shows while it keeps what the
// remain pairs show. The text encoder and the VAE stay frozen and are shared with the base model.

#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/run_control.h"

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lethe::unlearn {

/// How the forget and remain directions are combined.
enum class ConceptMethod {
    RGD, ///< The restricted gradient (§1) with the diverse remain set; forget weight 0 while L_f > α.
    GradDiff, ///< −∇L_f + λ∇L_r, no projection (GradDiffD with the diverse remain set); α as for RGD.
    GA, ///< −∇L_f only (L_r is measured, not descended on); α as for RGD.
    ESD, ///< Fine-tune ε_θ(x_t, c) towards ε*(x_t, ∅) − η(ε*(x_t, c) − ε*(x_t, ∅)) of the frozen original.
};

/// Which UNet parameters a run changes.
enum class ParameterGroup {
    All, ///< Every UNet parameter ("full").
    CrossAttention, ///< Parameters whose names contain "attn2" (ESD-x).
    NoCrossAttention, ///< Every other UNet parameter (ESD-u).
};

/// "rgd", "graddiff", "ga", "esd"; nullopt for anything else.
std::optional<ConceptMethod> conceptMethodFromName(const std::string& name);
/// The name conceptMethodFromName() reads.
std::string conceptMethodName(ConceptMethod method);
/// "all", "cross-attn", "no-cross-attn"; nullopt for anything else.
std::optional<ParameterGroup> parameterGroupFromName(const std::string& name);
/// The name parameterGroupFromName() reads.
std::string parameterGroupName(ParameterGroup group);
/// True when the group trains the parameter called `name` (a UNet parameter name).
bool inParameterGroup(ParameterGroup group, const std::string& name);

/// A run's settings; the defaults are the paper's SD values (METHOD.md §3).
struct ConceptConfig {
    ConceptMethod method = ConceptMethod::RGD;
    /// Forget-loss truncation: the forget term gets weight 0 on a step whose batch L_f exceeds α (ESD: unused).
    double alpha = 1.1;
    /// Weight of the remain direction (RGD, GradDiff).
    double lambda = 1.6;
    /// Adam's learning rate (β = 0.9/0.999, ε = 1e-8).
    double lr = 1e-5;
    std::int64_t steps = 100;
    std::int64_t forgetBatch = 8;
    std::int64_t remainBatch = 8;
    ParameterGroup parameters = ParameterGroup::All;
    /// ESD's guidance η.
    double eta = 1.0;
    /// ESD's states x_t: 0 = the forget images noised at a uniform t; N > 0 = as ESD's authors make them, by
    /// DDIM over N steps (their 50) from seeded noise with the model being trained, guided by the forget prompt
    /// with esdGuidance, stopped after a uniform number of steps in 0…N−1 (t = the timestep reached).
    std::int64_t esdSamplingSteps = 0;
    /// The guidance of ESD's sampled states (their 3).
    double esdGuidance = 3.0;
    /// Chooses the batches, timesteps and noise (all drawn on the CPU).
    std::uint64_t seed = 0;

    /// Throws Error("concept unlearning: …") naming the field for a value out of range.
    void validate() const;
};

/// The config as JSON (method and group by name), for manifests.
nlohmann::json toJson(const ConceptConfig& config);

/// One (prompt, image) pair; the image is float [C, h, w] in the UNet's input space (VAE mean × scaling factor
/// for a latent model, pixels in [−1, 1] in pixel space), on the CPU.
struct ConceptPair {
    std::string prompt;
    torch::Tensor image;
};

/// What one step did. A plain value.
struct ConceptStepReport {
    std::int64_t step = 0; ///< 1-based.
    std::int64_t totalSteps = 0;
    /// L_f on this step's forget batch (ESD: its own loss, the distance to the negatively guided target).
    double forgetLoss = 0.0;
    /// L_r on this step's remain batch (GA and ESD: measured without gradient; ESD without remain pairs: 0).
    double remainLoss = 0.0;
    double ascentNorm = 0.0; ///< ‖a‖ (0 when truncated; ESD: 0).
    double remainNorm = 0.0; ///< ‖d‖ (GA, ESD: 0).
    double cosine = 0.0; ///< cos(a, d).
    bool projected = false; ///< The restricted-gradient projection fired (s < 0).
    bool truncated = false; ///< L_f > α: the forget term had weight 0 and the step was remain-only.
    double lr = 0.0;
    double alpha = 0.0;
    double lambda = 0.0;
    double seconds = 0.0;
};

/// Called after every step, on the session's thread.
using ConceptObserver = std::function<void(const ConceptStepReport&)>;

/// Pixels (uint8 [N, C, H, W]) → the UNet's input space: VAE mean × scaling factor (after the shift) for a
/// latent model, [−1, 1] in pixel space; float32 on the CPU. Encodes in batches of `batch` under NoGradGuard.
torch::Tensor toModelInput(const models::sd::StableDiffusion& sd, const torch::Tensor& pixels, std::int64_t batch = 4);

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
/// A non-finite loss or gradient ends the run with Error; the weights keep the last finite step.
class ConceptSession {
public:
    /// Throws Error for bad settings, an empty forget set, an empty remain set (except for ESD), images whose
    /// shape is not the UNet's input, a model not computing in float32, or an empty parameter group.
    ConceptSession(const models::sd::StableDiffusion& base, std::vector<ConceptPair> forget,
        std::vector<ConceptPair> remain, ConceptConfig config);
    ~ConceptSession();
    ConceptSession(const ConceptSession&) = delete;
    ConceptSession& operator=(const ConceptSession&) = delete;

    /// Runs the steps left until config.steps, or until `cancel` becomes true (checked between steps).
    /// Returns the steps done so far in total.
    std::int64_t run(const ConceptObserver& observer = {}, const std::atomic<bool>* cancel = nullptr);
    /// Like run(), steered from another thread by `control`: stop, pause/resume, and α, λ and lr changed between
    /// steps (a change that the config would refuse is ignored, with a warning in the log).
    std::int64_t run(const ConceptObserver& observer, RunControl& control);
    /// One step.
    ConceptStepReport step();

    /// The model being changed: the base's tokenizer, text encoder and VAE with this run's UNet (in eval mode,
    /// except after a step() outside run()).
    const models::sd::StableDiffusion& model() const;
    /// ESD's frozen copy of the original UNet; null for the other methods.
    models::sd::UNet2DConditionModel frozenUNet() const;
    const ConceptConfig& config() const;
    std::int64_t stepsDone() const;
    /// Names of the UNet parameters the run changes.
    std::vector<std::string> trainableNames() const;

private:
    struct State;
    std::unique_ptr<State> m_state;
};

} // namespace lethe::unlearn
