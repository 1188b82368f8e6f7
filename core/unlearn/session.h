#pragma once

// The unlearning session: the loop that changes a copy of a class-conditional EDM model so that it forgets
// one class while keeping the others (docs/method.md §1–2). The loop itself is UnlearnRun's.
#include "core/data/image_set.h"
#include "core/eval/generation_eval.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_precond.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/run_control.h"
#include "core/unlearn/unlearn_run.h"

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace lethe::unlearn {

/// One unlearning run of a class-conditional EDM model. Owns the copy it changes; the base model given to
/// the constructor is never modified. Deterministic for a seed on the CPU.
class UnlearnSession : public UnlearnRun {
public:
    /// `train` is the data set's training split (uint8, the model's resolution); the forget set is every
    /// image of `config.forgetClass`, the remain set `config.remainPerClass` images of each other class.
    UnlearnSession(const models::EDMPrecond& base, const data::ImageSet& train, RunConfig config, torch::Device device);
    ~UnlearnSession() override;

    /// Enables the evaluation at the end of run() (UA, RA, FD_cls, KID_cls against `real`).
    void setEvaluator(models::ResNetClassifier classifier, eval::RealFeatures real);
    /// Adds zero-shot CLIP and FID (those present) to that evaluation; not owned, must outlive the runs.
    void setLiteratureInstruments(eval::LiteratureInstruments* instruments);

    /// Writes what run() needs to go on from the last rollback snapshot (the weights it changes and Adam's moments as
    /// they were then, its step, the noise generator's state, and α, λ and lr with the live changes so far) to
    /// `path`, atomically. Meant for RunObserver::onSnapshot, when the snapshot is the current state.
    void writeCheckpoint(const std::filesystem::path& path) const;
    /// Loads a checkpoint of this same run (method, forget class, seed, batch sizes, remain set and trainable
    /// tensors must match; steps may differ): run() then continues from its step, drawing the same batches and
    /// noise as the run that wrote it would have. Returns the step. Throws FormatError naming the file and what
    /// differs.
    std::int64_t resumeFrom(const std::filesystem::path& path);

    /// Draws the preview grid of the current weights (config.previewSeeds for every class), class-major.
    std::optional<torch::Tensor> preview(const std::function<bool(std::int64_t, std::int64_t)>& progress = {}) override;
    /// What preview() draws: every class, config.previewSeeds, config.previewSamplerSteps (the base model's "before"
    /// grid is the same request on the base weights).
    diffusion::ClassSamplingRequest previewRequest() const;

    /// The network being changed (its weights are the current state of the run).
    models::EDMPrecond model() const;
    /// The configuration with live changes applied so far.
    const RunConfig& config() const;
    /// Indices into `train` of the forget set and the remain set.
    const std::vector<std::int64_t>& forgetIndices() const;
    const std::vector<std::int64_t>& remainIndices() const;

protected:
    Schedule schedule() const override;
    TrainState trainState() override;
    void applyLive(const LiveChanges& changes) override;
    void prepare() override;
    StepReport takeStep(std::int64_t index, std::string& problem) override;
    bool hasPreview() const override { return true; }
    void evaluate(RunResult& result, RunObserver& observer, RunControl& control) override;
    void finishRun() override;

private:
    struct State;
    std::unique_ptr<State> m_state;
};

} // namespace lethe::unlearn
