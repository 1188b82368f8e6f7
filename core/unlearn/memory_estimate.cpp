#include "memory_estimate.h"

#include "core/eval/benchmark.h"
#include "core/unlearn/uce.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

// CUDA's free memory, when the CUDA runtime is in the process (LibTorch's CUDA builds link it); a weak reference
// so that CPU builds, which have neither the header nor the library, still link.
extern "C" int cudaMemGetInfo(std::size_t* free, std::size_t* total) __attribute__((weak));
extern "C" int cudaSetDevice(int device) __attribute__((weak));
extern "C" int cudaGetDevice(int* device) __attribute__((weak));

namespace lethe::unlearn {

namespace {

constexpr std::int64_t kFloat = 4;
/// The text encoder's context length: the key count of cross-attention.
constexpr std::int64_t kContextLength = 77;
/// LibTorch, the program and its allocator's slack on the CPU, measured with the built-in model's runs.
constexpr std::int64_t kProcessBytes = 600LL << 20;
/// Reduced-precision autocast's activation bytes against float32's. More, not fewer: autocast keeps a 2-byte copy
/// of every product's and convolution's input beside the float32 tensors the normalisations, SiLU and the softmax
/// keep, and the attention probabilities in both types. Measured, not counted: the bfloat16 row of
/// docs/performance.md (SD 1.5 at 512 × 512, batch 1: 7.6 GiB of activations against float32's 5.6 GiB).
constexpr double kReducedPrecisionShare = 1.37;

bool usesForgetDirection(ConceptMethod method)
{
    return method != ConceptMethod::ESD && method != ConceptMethod::UCE;
}

} // namespace

double activationElements(
    const models::sd::UNet2DConditionOptions& unet, std::int64_t side, bool checkpointing, bool efficientAttention)
{
    const auto& channels = unet.block_out_channels();
    const auto levels = static_cast<std::int64_t>(channels.size());
    std::vector<double> pixels;
    for (std::int64_t i = 0, s = side; i < levels; ++i, s = (s + 1) / 2)
        pixels.push_back(static_cast<double>(s * s));
    const auto at = [](const auto& v, std::int64_t i) { return v[static_cast<std::size_t>(i)]; };

    double kept = 0; // Kept for the backward pass.
    double largestBlock = 0; // Checkpointing: the one block recomputed at a time.
    double working = 0; // The backward pass's own peak beyond what is kept.
    const auto block = [&](double full, double input) {
        kept += checkpointing ? input : full;
        largestBlock = std::max(largestBlock, full);
    };
    // A resnet keeps its input, GroupNorm and SiLU outputs on each side of the time embedding: 3·(Cin + Cout).
    const auto resnet = [&](double in, double out, double hw) { block(3 * (in + out) * hw, in * hw); };
    // A transformer keeps its input, GroupNorm and projection outputs (3C), per layer 28C (norms, q/k/v, outputs,
    // residual sums, GEGLU's 8C projection, 4C activation and 4C product) and the attention probabilities
    // (heads × queries × keys, self and cross) unless attention is memory-efficient.
    const auto transformer = [&](double c, double heads, double layers, double hw) {
        const double maps = efficientAttention ? 0 : heads * hw * (hw + kContextLength);
        block((3 * c + layers * 28 * c) * hw + layers * maps, c * hw);
        // The backward pass holds the probabilities' gradient and the scores' beside them; chunked, three
        // chunk-sized blocks.
        working = std::max(working,
            efficientAttention ? 3 * heads * std::min<double>(hw, models::sd::kDefaultQueryChunkSize) * hw
                               : 2 * heads * hw * hw);
    };
    const auto crossAttention = [](const std::string& type) { return type.rfind("CrossAttn", 0) == 0; };

    struct Skip {
        double channels;
        std::int64_t level;
    };
    std::vector<Skip> skips { { static_cast<double>(at(channels, 0)), 0 } };
    kept += static_cast<double>(unet.in_channels()) * pixels[0]; // conv_in's input.
    double current = static_cast<double>(at(channels, 0));
    for (std::int64_t i = 0; i < levels; ++i) {
        const double c = static_cast<double>(at(channels, i));
        const double heads = static_cast<double>(at(unet.attention_head_dim(), i));
        const double layers = static_cast<double>(at(unet.transformer_layers_per_block(), i));
        for (std::int64_t j = 0; j < at(unet.layers_per_block(), i); ++j) {
            resnet(current, c, pixels[static_cast<std::size_t>(i)]);
            if (crossAttention(at(unet.down_block_types(), i)))
                transformer(c, heads, layers, pixels[static_cast<std::size_t>(i)]);
            current = c;
            skips.push_back({ c, i });
        }
        if (i + 1 < levels) {
            kept += c * pixels[static_cast<std::size_t>(i)]; // The downsampler's input.
            skips.push_back({ c, i + 1 });
        }
    }
    const double deepest = static_cast<double>(channels.back());
    const double deepestPixels = pixels.back();
    resnet(deepest, deepest, deepestPixels);
    transformer(deepest, static_cast<double>(unet.attention_head_dim().back()),
        static_cast<double>(unet.transformer_layers_per_block().back()), deepestPixels);
    resnet(deepest, deepest, deepestPixels);
    for (std::int64_t r = 0; r < levels; ++r) {
        const std::int64_t level = levels - 1 - r;
        const double c = static_cast<double>(at(channels, level));
        const double hw = pixels[static_cast<std::size_t>(level)];
        for (std::int64_t j = 0; j <= at(unet.layers_per_block(), level); ++j) {
            const Skip skip = skips.back();
            skips.pop_back();
            resnet(current + skip.channels, c, hw);
            if (crossAttention(at(unet.up_block_types(), r)))
                transformer(c, static_cast<double>(at(unet.attention_head_dim(), level)),
                    static_cast<double>(at(unet.transformer_layers_per_block(), level)), hw);
            current = c;
        }
        if (level > 0)
            kept += c * pixels[static_cast<std::size_t>(level - 1)]; // The upsampler's convolution input.
    }
    kept += 3 * static_cast<double>(at(channels, 0)) * pixels[0]; // conv_norm_out, its SiLU, conv_out's input.
    return kept + (checkpointing ? largestBlock : 0) + working;
}

MemoryQuery memoryQuery(const models::sd::StableDiffusion& model, const ConceptConfig& config, BaseUse use,
    std::int64_t side, std::int64_t pairs)
{
    MemoryQuery q;
    const models::sd::UNet2DConditionModel unet = model.unet();
    q.unetParameters = model.unetParameters();
    q.textEncoderParameters = model.textEncoderParameters();
    q.vaeParameters = model.vae() ? model.vaeParameters() : 0;
    const std::vector<std::string> edited
        = config.method == ConceptMethod::UCE ? uceParameterNames(unet) : std::vector<std::string> {};
    for (const auto& item : unet->named_parameters()) {
        const bool trained = config.method == ConceptMethod::UCE
            ? std::find(edited.begin(), edited.end(), item.key()) != edited.end()
            : inParameterGroup(config.parameters, item.key());
        if (trained)
            q.trainedParameters += item.value().numel();
    }
    q.unet = unet->options;
    q.latentSide = side;
    const std::int64_t channels = unet->options.in_channels();
    q.imageBytes = pairs * 2 * channels * side * side * kFloat;
    q.config = config;
    q.use = use;
    q.device = unet->parameters().front().device();
    return q;
}

MemoryEstimate estimateMemory(const MemoryQuery& q)
{
    MemoryEstimate e;
    const ConceptConfig& c = q.config;
    e.cpu = !q.device.is_cuda();
    const std::int64_t trained = q.trainedParameters * kFloat;
    const std::int64_t frozenParts = (q.textEncoderParameters + q.vaeParameters) * kFloat;
    const bool partsAway = q.use == BaseUse::TrainInPlace && !e.cpu && c.method != ConceptMethod::UCE;
    e.weights = q.unetParameters * kFloat + (partsAway ? 0 : frozenParts);
    e.hostFrozen = partsAway ? frozenParts : 0;
    e.runCopy = q.use == BaseUse::Copy ? q.unetParameters * kFloat : 0;
    const bool uce = c.method == ConceptMethod::UCE;
    e.gradients = uce ? 0 : trained;
    e.forgetDirection = usesForgetDirection(c.method) ? trained : 0;
    e.optimizer = uce ? 0 : 2 * trained;
    if (c.method == ConceptMethod::SalUn)
        e.methodState = trained;
    if (c.method == ConceptMethod::ESD && q.use == BaseUse::TrainInPlace) {
        if (c.esdTeacherOnHost)
            e.hostMethodState = 2 * trained;
        else
            e.methodState = trained;
    }
    if (!uce) {
        const std::int64_t batch = c.method == ConceptMethod::ESD || c.method == ConceptMethod::GA
            ? c.forgetBatch
            : std::max(c.forgetBatch, c.remainBatch);
        const double elements
            = activationElements(q.unet, q.latentSide, c.gradientCheckpointing, c.memoryEfficientAttention);
        const double share = c.precision == Precision::Float32 ? 1.0 : kReducedPrecisionShare;
        e.activations = static_cast<std::int64_t>(elements * kFloat * share * static_cast<double>(batch));
    }
    // The rollback point holds the trained weights from the start and Adam's moments from the first periodic
    // snapshot on.
    e.snapshots = trained;
    e.snapshotOptimizer = !uce && c.steps > c.snapshotEvery ? 2 * trained : 0;
    e.overhead = e.cpu ? kProcessBytes + q.imageBytes : 0;
    return e;
}

std::int64_t MemoryEstimate::devicePeak() const
{
    const std::int64_t onDevice
        = weights + runCopy + gradients + forgetDirection + optimizer + methodState + activations;
    return cpu ? onDevice + snapshots + snapshotOptimizer + hostFrozen + hostMethodState + overhead : onDevice;
}

std::int64_t MemoryEstimate::firstStepPeak() const
{
    // Adam's moments are made after the passes' activations and the forget direction are gone, and no snapshot
    // holds them yet.
    const std::int64_t onDevice
        = weights + runCopy + gradients + methodState + std::max(forgetDirection + activations, optimizer);
    return cpu ? onDevice + snapshots + hostFrozen + hostMethodState + overhead : onDevice;
}

std::string MemoryEstimate::describe() const
{
    std::ostringstream out;
    out << "memory estimate: " << eval::formatBytes(devicePeak()) << (cpu ? " (CPU)" : " on the GPU")
        << " at the peak of a step (" << eval::formatBytes(firstStepPeak()) << " in the first): weights "
        << eval::formatBytes(weights);
    if (runCopy > 0)
        out << ", the run's UNet " << eval::formatBytes(runCopy);
    out << ", gradients " << eval::formatBytes(gradients);
    if (forgetDirection > 0)
        out << ", forget direction " << eval::formatBytes(forgetDirection);
    out << ", Adam " << eval::formatBytes(optimizer);
    if (methodState > 0)
        out << ", method state " << eval::formatBytes(methodState);
    if (cpu && hostMethodState > 0)
        out << ", ESD's teacher values " << eval::formatBytes(hostMethodState);
    out << ", activations " << eval::formatBytes(activations);
    if (cpu)
        out << ", snapshots " << eval::formatBytes(snapshots + snapshotOptimizer) << ", process "
            << eval::formatBytes(overhead);
    else
        out << "; on the host: snapshots " << eval::formatBytes(snapshots + snapshotOptimizer)
            << ", text encoder and VAE " << eval::formatBytes(hostFrozen);
    if (!cpu && hostMethodState > 0)
        out << ", ESD's teacher values " << eval::formatBytes(hostMethodState);
    return out.str();
}

std::optional<std::int64_t> freeMemory(torch::Device device)
{
    if (device.is_cuda()) {
        if (!cudaMemGetInfo || !cudaSetDevice || !cudaGetDevice)
            return std::nullopt;
        int previous = 0;
        cudaGetDevice(&previous);
        cudaSetDevice(device.has_index() ? device.index() : 0);
        std::size_t free = 0;
        std::size_t total = 0;
        const int status = cudaMemGetInfo(&free, &total);
        cudaSetDevice(previous);
        if (status != 0)
            return std::nullopt;
        return static_cast<std::int64_t>(free);
    }
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::int64_t kib = 0;
    std::string unit;
    while (meminfo >> key >> kib >> unit)
        if (key == "MemAvailable:")
            return kib * 1024;
    return std::nullopt;
}

std::optional<std::string> memoryRefusal(const MemoryQuery& query, std::int64_t available)
{
    const MemoryEstimate estimate = estimateMemory(query);
    if (estimate.devicePeak() <= available)
        return std::nullopt;
    std::ostringstream out;
    out << "this run needs about " << eval::formatBytes(estimate.devicePeak()) << " and "
        << (estimate.cpu ? "the computer" : "the GPU") << " has " << eval::formatBytes(available) << " free ("
        << estimate.describe() << ")";
    // The cheapest changes first: those that keep the method's result, then smaller batches. (bfloat16 autocast keeps
    // more activation memory than float32 on the CPU, not less: it is no remedy here.)
    struct Change {
        const char* flags;
        void (*apply)(ConceptConfig&);
    };
    static const Change changes[] = {
        { "--memory-efficient-attention", [](ConceptConfig& c) { c.memoryEfficientAttention = true; } },
        { "--gradient-checkpointing --memory-efficient-attention",
            [](ConceptConfig& c) { c.gradientCheckpointing = c.memoryEfficientAttention = true; } },
        // Helps only ESD in place on a GPU; anywhere else it fits no better than the line above.
        { "--gradient-checkpointing --memory-efficient-attention --esd-teacher-on-host",
            [](ConceptConfig& c) {
                c.gradientCheckpointing = c.memoryEfficientAttention = c.esdTeacherOnHost = true;
            } },
        { "--gradient-checkpointing --memory-efficient-attention --forget-batch 1 --remain-batch 1",
            [](ConceptConfig& c) {
                c.gradientCheckpointing = c.memoryEfficientAttention = true;
                c.forgetBatch = c.remainBatch = 1;
            } },
    };
    for (const Change& change : changes) {
        MemoryQuery changed = query;
        change.apply(changed.config);
        const MemoryEstimate smaller = estimateMemory(changed);
        if (smaller.devicePeak() <= available) {
            out << "; " << change.flags << " would fit (" << eval::formatBytes(smaller.devicePeak()) << ")";
            return out.str();
        }
    }
    out << "; no memory setting makes it fit: train fewer parameters (--params cross-attn) or use a larger device";
    return out.str();
}

} // namespace lethe::unlearn
