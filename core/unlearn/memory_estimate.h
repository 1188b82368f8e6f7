#pragma once

// What a concept-unlearning run will hold in memory, known before it starts: from the model, the method, the
// parameter group, the batches, the resolution and the memory settings (docs/performance.md explains the model
// and compares it with measurements).

#include "core/models/sd/stable_diffusion.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/concept_session.h"

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lethe::unlearn {

/// Bytes by what holds them. `device` parts live where the UNet trains; `host` parts in the computer's memory
/// (the same memory when the device is the CPU).
struct MemoryEstimate {
    std::int64_t weights = 0; ///< The model's weights on the device while steps run.
    std::int64_t runCopy = 0; ///< BaseUse::Copy: the run's own UNet.
    std::int64_t gradients = 0; ///< The trained parameters' gradients.
    /// The forget gradient kept through the remain pass (all but ESD, UCE); gone before the optimizer's update.
    std::int64_t forgetDirection = 0;
    std::int64_t optimizer = 0; ///< Adam's two moments, from the first update on.
    std::int64_t methodState = 0; ///< SalUn's mask, ESD's original values in place.
    std::int64_t activations
        = 0; ///< The larger pass's activations kept for its backward pass, with its working memory.
    std::int64_t snapshots = 0; ///< The rollback point (host): the trained weights.
    /// The rollback point's copy of Adam's moments (host), from the first periodic snapshot on.
    std::int64_t snapshotOptimizer = 0;
    std::int64_t hostFrozen = 0; ///< In place on CUDA: the text encoder and the VAE, waiting on the host.
    /// ESD in place with esdTeacherOnHost: the original values and the trained values waiting during a teacher pass.
    std::int64_t hostMethodState = 0;
    std::int64_t overhead = 0; ///< The process itself (LibTorch, the program, the training images): CPU only.
    bool cpu = true; ///< Whether the device is the CPU (then device and host are one memory).

    /// The peak on the device: everything but the host parts, or everything on the CPU.
    std::int64_t devicePeak() const;
    /// The peak of the first step (before Adam's moments exist and before a snapshot holds them).
    std::int64_t firstStepPeak() const;
    /// One line per part with a total, for the CLI and the workbench.
    std::string describe() const;
};

/// Every setting that changes the estimate.
struct MemoryQuery {
    std::int64_t unetParameters = 0;
    std::int64_t trainedParameters = 0;
    std::int64_t textEncoderParameters = 0;
    std::int64_t vaeParameters = 0;
    models::sd::UNet2DConditionOptions unet;
    std::int64_t latentSide = 0; ///< The UNet input's height and width.
    std::int64_t imageBytes = 0; ///< The training pairs' images and log-variances, on the host.
    ConceptConfig config;
    BaseUse use = BaseUse::Copy;
    torch::Device device = torch::kCPU;
};

/// The query of a run of `config` on `model` (the trained parameters counted from its UNet's names) with
/// `pairs` training pairs of UNet inputs [C, side, side].
MemoryQuery memoryQuery(const models::sd::StableDiffusion& model, const ConceptConfig& config, BaseUse use,
    std::int64_t side, std::int64_t pairs);

MemoryEstimate estimateMemory(const MemoryQuery& query);

/// Float elements one image's UNet pass keeps for its backward pass (and the backward's working memory) at a
/// latent side, with and without gradient checkpointing and memory-efficient attention: the model of
/// docs/performance.md, counted from the layers' saved tensors.
double activationElements(
    const models::sd::UNet2DConditionOptions& unet, std::int64_t side, bool checkpointing, bool efficientAttention);

/// Free memory where the UNet trains: MemAvailable of /proc/meminfo for the CPU, cudaMemGetInfo for CUDA; nullopt
/// when it cannot be read.
std::optional<std::int64_t> freeMemory(torch::Device device);

/// Nothing when the estimate fits `available` bytes; otherwise a message with the estimate and the cheapest
/// settings that would fit (precision, checkpointing, memory-efficient attention, cross-attention only, batch 1).
std::optional<std::string> memoryRefusal(const MemoryQuery& query, std::int64_t available);

} // namespace lethe::unlearn
