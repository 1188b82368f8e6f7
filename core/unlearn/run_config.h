#pragma once

// Everything that defines an unlearning run, with one default per field.
#include "core/io/config_json.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lethe::unlearn {

/// The methods of docs/method.md §2.
enum class Method {
    GA, ///< Gradient ascent on the truncated forget loss (GradDiff with λ = 0).
    GradDiff, ///< −∇L_f + λ∇L_r on one remain batch, no projection.
    RG, ///< The restricted gradient, remain gradient from one remain batch.
    RGD, ///< The restricted gradient, remain gradient averaged over all of D_r every step.
    SalUn, ///< Saliency-masked descent on forget images relabelled at random, plus λ∇L_r.
};

/// The names of Method, for io::configToJson and the parsers.
const std::vector<std::pair<Method, std::string>>& enumNames(Method);
std::string methodName(Method method);
/// "ga", "graddiff", "rg", "rgd", "salun" (any case); throws Error listing the valid names.
Method methodFromName(const std::string& name);
std::vector<std::string> methodNames();

/// What a non-finite loss or gradient does after the rollback to the last good snapshot.
enum class NanPolicy { Stop, HalveLr };
/// "stop", "halve-lr".
const std::vector<std::pair<NanPolicy, std::string>>& enumNames(NanPolicy);

/// How RGD's full pass over D_r turns its batches' losses into the remain loss L_r.
enum class RemainAveraging {
    Mean, ///< The exact mean over the remain images: each batch weighted by its share of D_r.
    /// As the paper's code: each batch's summed loss divided by the nominal batch size, averaged over the batches,
    /// Σ / (remain_batch · n_batches). Smaller than the mean when |D_r| is not a multiple of the batch (450 images
    /// in batches of 64: 0.879 × the mean).
    NominalBatch,
};
/// "mean", "nominal-batch".
const std::vector<std::pair<RemainAveraging, std::string>>& enumNames(RemainAveraging);

/// The arithmetic of a run's forward and backward passes. The weights, their gradients and the optimizer's state
/// stay float32 in every case: the reduced types are autocast's (matrix products and convolutions in the reduced
/// type, reductions and normalisations in float32), as torch.autocast gives them.
enum class Precision {
    Float32,
    BFloat16, ///< Autocast to bfloat16: float32's range, 8 bits of mantissa; CUDA and the CPU.
    Float16, ///< Autocast to float16: CUDA only (LibTorch 1.13's CPU autocast knows only bfloat16).
};
/// "float32", "bfloat16", "float16".
const std::vector<std::pair<Precision, std::string>>& enumNames(Precision);

/// The keys of the run contract (unlearn_run.h) that every kind of run's config has, for their field tables
/// (io/config_json.h): the method, α, λ, lr, the steps, the batches, the seed, snapshots, previews, on_nan and
/// whether CUDA may use TF32 and the precision of the passes.
template <typename Self, typename Visit> void runContractFields(Self& c, Visit&& visit)
{
    visit("method", c.method);
    visit("alpha", c.alpha);
    visit("lambda", c.lambda);
    visit("lr", c.lr);
    visit("steps", c.steps);
    visit("forget_batch", c.forgetBatch);
    visit("remain_batch", c.remainBatch);
    visit("seed", c.seed);
    visit("snapshot_every", c.snapshotEvery);
    visit("preview_every", c.previewEvery);
    visit("on_nan", c.onNan);
    visit("allow_tf32", c.allowTf32);
    visit("precision", c.precision);
}

/// One unlearning run. Field defaults are the `cpu-fast` preset for the built-in model, tuned on it with
/// `lethe-cli sweep` on the first built-in model (forget Sneaker, λ ∈ {1, 2, 5}, 100 steps): λ 2 forgot (UA 1.00)
/// and kept RA at 0.842 against that model's 0.844; λ 5 did not forget in 100 steps. Today's figures: docs/method.md.
struct RunConfig {
    static constexpr const char* kJsonName = "run config";

    /// The class to forget (its index in the model's classes); −1 = not chosen yet (the session refuses it;
    /// validate() does not, as presets and flags are checked before the class is known).
    int forgetClass = -1;
    Method method = Method::RGD;
    double alpha = 0.1; ///< α: truncation of the forget loss (per element, EDM models).
    double lambda = 2.0; ///< λ: weight of the remain direction.
    double lr = 1e-4; ///< Adam learning rate (constant).
    std::string optimizer = "adam"; ///< "adam" or "sgd".
    std::int64_t steps = 100;
    std::int64_t forgetBatch = 32;
    std::int64_t remainPerClass = 10; ///< Balanced remain set D_r: images per remaining class, fixed for the run.
    std::int64_t remainBatch = 32; ///< RGD: batch size of the full pass over D_r; GradDiff/RG/SalUn: the batch.
    double saliencyFraction = 0.5; ///< SalUn: fraction of parameter entries kept by the saliency mask.
    std::string trainable; ///< Regular expression over parameter names; empty = all parameters.
    std::uint64_t seed = 0;
    std::int64_t snapshotEvery = 25; ///< Steps between in-memory snapshots (the rollback point).
    std::int64_t previewEvery = 0; ///< Steps between preview grids (0 = none during the run).
    std::vector<std::int64_t> previewSeeds = { 0, 1, 2, 3 };
    int previewSamplerSteps = 18;
    bool evaluate = true; ///< Measure UA, RA, FD_cls and KID_cls at the end.
    std::int64_t evalImagesPerClass = 100;
    NanPolicy onNan = NanPolicy::Stop;
    /// CUDA only: let matrix products and convolutions round through TF32 (faster on Ampere and later, about
    /// 3 decimal digits). Off, as the paper's code has it.
    bool allowTf32 = false;
    /// Autocast of the steps' passes (weights stay float32).
    Precision precision = Precision::Float32;
    /// RGD: how the full pass over D_r averages its batches (the paper's code: NominalBatch).
    RemainAveraging remainAveraging = RemainAveraging::Mean;
    /// Probability p of EDM's augmentation pipeline (x/y-flip, scaling, rotation, anisotropy, fractional
    /// translation at EDM's CIFAR-10 settings; diffusion/edm_augment.h) on forget and remain batches, with its
    /// labels fed to the network. Only for models with augmentation labels (augment_dim 9); 0 = off, and a model
    /// with augment_dim 0 never gets it.
    double augmentP = 0.0;

    /// Throws Error naming the first field out of range.
    void validate() const;

    /// The field table that io::configToJson and io::configFromJson walk (JSON key, member).
    template <typename Self, typename Visit> static void fields(Self& c, Visit&& visit)
    {
        visit("forget_class", c.forgetClass);
        runContractFields(c, visit);
        visit("optimizer", c.optimizer);
        visit("remain_per_class", c.remainPerClass);
        visit("saliency_fraction", c.saliencyFraction);
        visit("trainable", c.trainable);
        visit("preview_seeds", c.previewSeeds);
        visit("preview_sampler_steps", c.previewSamplerSteps);
        visit("evaluate", c.evaluate);
        visit("eval_images_per_class", c.evalImagesPerClass);
        visit("remain_averaging", c.remainAveraging);
        visit("augment_p", c.augmentP);
    }
};

/// `paper` (docs/method.md §2: α 0.1, λ 5, batch 64, Adam 1e-5, 782 steps, 50 remain images per class, the paper's
/// remain averaging, EDM's augmentation at p 0.12 on models that take it) or
/// `cpu-fast` (the defaults above). Throws Error listing the presets.
RunConfig runPreset(const std::string& name);
std::vector<std::string> runPresetNames();

} // namespace lethe::unlearn
