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

/// The keys of the run contract (unlearn_run.h) that every kind of run's config has, for their field tables
/// (io/config_json.h): the method, α, λ, lr, the steps, the batches, the seed, snapshots, previews and on_nan.
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
    }
};

/// `paper` (docs/method.md §2: α 0.1, λ 5, batch 64, Adam 1e-5, 782 steps, 50 remain images per class) or
/// `cpu-fast` (the defaults above). Throws Error listing the presets.
RunConfig runPreset(const std::string& name);
std::vector<std::string> runPresetNames();

} // namespace lethe::unlearn
