#pragma once

// Everything that defines a concept-unlearning run of a text-to-image model, with one default per field, and the
// presets front ends start from (docs/method.md §3).
#include "core/unlearn/run_config.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lethe::unlearn {

/// How the forget and remain directions are combined.
enum class ConceptMethod {
    RGD, ///< The restricted gradient (§1) with the diverse remain set; forget weight 0 while L_f > α.
    GradDiff, ///< −∇L_f + λ∇L_r, no projection (GradDiffD with the diverse remain set); α as for RGD.
    GA, ///< −∇L_f only (L_r is measured, not descended on); α as for RGD.
    ESD, ///< Fine-tune ε_θ(x_t, c) towards ε*(x_t, ∅) − η(ε*(x_t, c) − ε*(x_t, ∅)) of the frozen original.
    RG, ///< The restricted gradient as RGD, with a plain remain set (the paper's ablation); α as for RGD.
    /// SalUn (Fan et al.): descent on the forget images paired with other prompts (their "random label") plus
    /// λ∇L_r, only on the weights the saliency mask keeps (the top saliency_fraction of |∇L_f| over the forget set).
    SalUn,
    /// UCE (Gandikota et al.): a closed-form edit of every cross-attention key and value projection that maps the
    /// concept words' text embeddings to the guide's while the preserved concepts keep theirs; one step, no training.
    UCE,
};

/// Which remain batch goes with a step's forget batch.
enum class RemainPairing {
    /// The forget batch's twins: remain pair i is forget pair i's twin (the same prompt without the concept,
    /// buildTwins()), and step i's remain batch is the pairs at step i's forget indices, in the same order.
    Twins,
    Independent, ///< A remain batch of remain_batch pairs drawn from its own seeded order.
};
/// "twins", "independent".
const std::vector<std::pair<RemainPairing, std::string>>& enumNames(RemainPairing);

/// Which UNet parameters a run changes.
enum class ParameterGroup {
    All, ///< Every UNet parameter ("full").
    CrossAttention, ///< Parameters whose names contain "attn2" (ESD-x).
    NoCrossAttention, ///< Every other UNet parameter (Lethe's ESD-u before the authors' group was added).
    /// ESD-u as ESD's authors train it ("noxattn"): every parameter except cross-attention ("attn2"), the time
    /// embedding ("time_embedding.*", CompVis "time_embed") and the output layers ("conv_norm_out.*", "conv_out.*",
    /// CompVis "out.").
    EsdU,
};

/// What a latent model's x₀ is in the losses.
enum class LatentMode {
    /// A fresh draw from the VAE's posterior at every use, (mean + exp(½·logvar)·ε − shift) × scaling factor, as the
    /// paper's code does (CompVis' DiagonalGaussianDistribution.sample()).
    Sample,
    Mean, ///< The posterior mean, (mean − shift) × scaling factor.
};

/// The timestep of ESD's sampled states (esdSamplingSteps > 0).
enum class EsdTimestep {
    Reached, ///< The timestep the DDIM sampler reached after a uniform number k ∈ 0…N−1 of steps from noise.
    /// As ESD's authors: k uniform in 0…N−1, t uniform in [round(k·T/N), round((k+1)·T/N)); the sampler runs until
    /// the DDIM step of that bucket, min(N, N + 1 − k) steps from noise (docs/method.md §3).
    Bucket,
};

/// "rgd", "graddiff", "ga", "esd", "rg", "salun", "uce".
const std::vector<std::pair<ConceptMethod, std::string>>& enumNames(ConceptMethod);
/// "all", "cross-attn", "no-cross-attn", "esd-u".
const std::vector<std::pair<ParameterGroup, std::string>>& enumNames(ParameterGroup);
/// "sample", "mean".
const std::vector<std::pair<LatentMode, std::string>>& enumNames(LatentMode);
/// "reached", "bucket".
const std::vector<std::pair<EsdTimestep, std::string>>& enumNames(EsdTimestep);
/// A name of enumNames(ConceptMethod); nullopt for anything else.
std::optional<ConceptMethod> conceptMethodFromName(const std::string& name);
/// The name conceptMethodFromName() reads.
std::string conceptMethodName(ConceptMethod method);
/// "all", "cross-attn", "no-cross-attn", "esd-u"; nullopt for anything else.
std::optional<ParameterGroup> parameterGroupFromName(const std::string& name);
/// The name parameterGroupFromName() reads.
std::string parameterGroupName(ParameterGroup group);
/// True when the group trains the parameter called `name` (a UNet parameter name).
bool inParameterGroup(ParameterGroup group, const std::string& name);

/// A concept run's settings; the defaults are the `sd` preset, the paper's Stable Diffusion values (§3).
struct ConceptConfig {
    static constexpr const char* kJsonName = "concept config";

    /// What is forgotten, in words ("sneaker", "nudity"; several concepts separated by commas: "sneaker, bag");
    /// recorded in the run's manifest. The forget pairs say it to the model; UCE edits these words (conceptWords()).
    std::string forgetConcept;
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
    /// Twins (the paper's, unshuffled zipped loaders): the remain set holds the forget set's twins and the
    /// remain batch is the forget batch's twins (remainBatch unused). Independent: remain batches of their own.
    RemainPairing remainPairing = RemainPairing::Twins;
    ParameterGroup parameters = ParameterGroup::All;
    /// ESD's guidance η.
    double eta = 1.0;
    /// ESD's states x_t: 0 = the forget images noised at a uniform t; N > 0 = as ESD's authors make them, by
    /// DDIM over N steps (their 50) from seeded noise with the model being trained, guided by the forget prompt
    /// with esdGuidance, stopped after a number of steps drawn as esdTimestep says.
    std::int64_t esdSamplingSteps = 0;
    /// The guidance of ESD's sampled states (their 3).
    double esdGuidance = 3.0;
    /// The timestep of ESD's sampled states: the one reached (Lethe's) or the authors' bucket draw.
    EsdTimestep esdTimestep = EsdTimestep::Reached;
    /// SalUn: the fraction of the trainable weights' entries its saliency mask keeps (the authors' 0.5).
    double saliencyFraction = 0.5;
    /// UCE: what the concept words are mapped to ("" = the empty prompt, the authors' default for erasing).
    std::string uceGuide;
    /// UCE: concepts whose key and value mappings the edit keeps (each a text, e.g. the other garments).
    std::vector<std::string> ucePreserve;
    /// UCE: the weight λ of ‖W − W_old‖² that keeps the edit near the original projection (the authors' 0.1).
    double uceRegularisation = 0.1;
    /// UCE: the weight of the erased concepts' term (the authors' erase_scale, 1).
    double uceEraseScale = 1.0;
    /// UCE: the weight of the preserved concepts' term; 0 = the authors' default, max(0.1, 1 / preserved count).
    double ucePreserveScale = 0.0;
    /// Latent models: x₀ drawn from the VAE posterior at every use (the paper's) or its mean.
    LatentMode latents = LatentMode::Sample;
    /// Chooses the batches, timesteps, noise and posterior draws (all drawn on the CPU).
    std::uint64_t seed = 0;
    std::int64_t snapshotEvery = 25; ///< Steps between in-memory snapshots (the rollback point).
    std::int64_t previewEvery = 0; ///< Steps between preview images (0 = none during the run).
    NanPolicy onNan = NanPolicy::Stop;
    /// CUDA only: let matrix products and convolutions round through TF32. Off, as the paper's code has it.
    bool allowTf32 = false;
    /// Autocast of the steps' passes (weights, gradients and Adam's state stay float32).
    Precision precision = Precision::Float32;
    /// Recompute each UNet resnet and transformer block's activations in the backward pass instead of keeping
    /// them (diffusers' gradient checkpointing): the activations of a pass shrink to the blocks' inputs, for
    /// about one more forward pass of time.
    bool gradientCheckpointing = false;
    /// Attention that never holds a whole [heads, queries, keys] score tensor: scaled_dot_product_attention on
    /// LibTorch 2.x, query chunks with a backward pass that recomputes them on 1.13.
    bool memoryEfficientAttention = false;
    /// ESD trained in place (the CLI): keep the trained parameters' original values, the teacher's, in the
    /// computer's memory instead of on the device, and copy them in for each teacher pass (the trained values wait
    /// on the host meanwhile). Frees their size on the GPU for two copies each way per step. Ignored by the other
    /// methods and when the base UNet is not trained in place (the workbench's teacher is the base UNet itself).
    bool esdTeacherOnHost = false;

    /// Throws Error("concept unlearning: …") naming the field for a value out of range.
    void validate() const;

    /// The field table that io::configToJson and io::configFromJson walk (JSON key, member).
    template <typename Self, typename Visit> static void fields(Self& c, Visit&& visit)
    {
        visit("concept", c.forgetConcept);
        runContractFields(c, visit);
        visit("remain_pairing", c.remainPairing);
        visit("parameters", c.parameters);
        visit("eta", c.eta);
        visit("esd_sampling_steps", c.esdSamplingSteps);
        visit("esd_guidance", c.esdGuidance);
        visit("esd_timestep", c.esdTimestep);
        visit("latents", c.latents);
        visit("saliency_fraction", c.saliencyFraction);
        visit("uce_guide", c.uceGuide);
        visit("uce_preserve", c.ucePreserve);
        visit("uce_regularisation", c.uceRegularisation);
        visit("uce_erase_scale", c.uceEraseScale);
        visit("uce_preserve_scale", c.ucePreserveScale);
        visit("gradient_checkpointing", c.gradientCheckpointing);
        visit("memory_efficient_attention", c.memoryEfficientAttention);
        visit("esd_teacher_on_host", c.esdTeacherOnHost);
    }
};

/// The concepts of `forgetConcept`: its comma-separated parts, trimmed, empty ones left out ("sneaker, bag" →
/// {"sneaker", "bag"}).
std::vector<std::string> conceptWords(const std::string& forgetConcept);
/// The words as one text, separated by ", ": conceptWords()'s inverse, and how lists of concepts are written.
std::string conceptText(const std::vector<std::string>& words);

/// UCE's preserve scale as used: `configured`, or for 0 the authors' max(0.1, 1 / preserved) (0.1 for none).
double effectivePreserveScale(double configured, std::size_t preserved);

/// `sd` (the paper's Stable Diffusion values: α 1.1, λ 1.6, lr 1e-5, batches of 8, 100 steps; the defaults),
/// `fmnist-t2i` (the built-in text-to-image model: α 0.1 and λ 10 on its ε-loss scale, which starts near 0.009
/// where SD's starts near 0.1; 150 steps) or `esd-paper` (ESD as its authors run it: ESD-u's parameter group, batch 1,
/// 1,000 iterations, lr 1e-5, η 1, 50 DDIM steps at guidance 3, bucket timesteps). Throws Error listing the presets.
ConceptConfig conceptPreset(const std::string& name);
std::vector<std::string> conceptPresetNames();

/// The concept preset a text-to-image model recommends for itself: "recommended_preset" in the lethe-manifest.json
/// of a diffusers folder; nullopt when the model names none (or is a single file). Throws Error when the name is
/// not one of conceptPresetNames().
std::optional<std::string> recommendedConceptPreset(const std::filesystem::path& model);

} // namespace lethe::unlearn
