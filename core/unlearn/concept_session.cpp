#include "concept_session.h"

#include "core/data/subsets.h"
#include "core/describe.h"
#include "core/diffusion/ddpm_loss.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/pixels.h"
#include "core/error.h"
#include "core/io/config_json.h"
#include "core/io/sha256.h"
#include "core/train/adam.h"
#include "core/train/training_loop.h"
#include "core/unlearn/restricted_gradient.h"
#include "core/unlearn/saliency.h"
#include "core/unlearn/uce.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <utility>

namespace lethe::unlearn {

namespace {

/// What names a cross-attention parameter (ParameterGroup::CrossAttention), for the message of an empty group.
const char* const kCrossAttention = "attn2";

/// `batch` items of 0…n−1 for step `step`: the set is visited in a permutation fixed by (seed, epoch), and a
/// batch that runs past the end of an epoch continues in the next one.
std::vector<std::int64_t> batchOf(std::int64_t n, std::int64_t step, std::int64_t batch, std::uint64_t seed)
{
    return train::EpochOrder(n, seed).batch(step, batch);
}

/// The dtype as Lethe's messages spell it ("float32", "uint8", ...).
std::string dtypeText(torch::ScalarType type)
{
    static const std::pair<torch::ScalarType, const char*> names[]
        = { { torch::kFloat32, "float32" }, { torch::kFloat16, "float16" }, { torch::kBFloat16, "bfloat16" },
              { torch::kFloat64, "float64" }, { torch::kUInt8, "uint8" }, { torch::kInt64, "int64" } };
    for (const auto& [dtype, name] : names)
        if (dtype == type)
            return name;
    return c10::toString(type);
}

/// Why a step with a non-finite loss was not taken.
std::string nonFiniteLoss(const StepReport& report)
{
    return "non-finite loss (L_f " + formatNumber(report.forgetLoss) + ", L_r " + formatNumber(report.remainLoss) + ")";
}

/// The UNet's inputs of `pixels` and, for a latent model, the posterior's log-variance (undefined in pixel space).
std::pair<torch::Tensor, torch::Tensor> encodeModelInputs(
    const models::sd::StableDiffusion& sd, const torch::Tensor& pixels, std::int64_t batch)
{
    if (pixels.dim() != 4 || pixels.scalar_type() != torch::kUInt8)
        throw Error("concept unlearning: images must be uint8 [N, C, H, W]");
    torch::NoGradGuard noGrad;
    models::sd::AutoencoderKL vae = sd.vae();
    if (!vae)
        return { diffusion::pixelsToFloat(pixels).to(torch::kFloat32).contiguous(), torch::Tensor() };
    const auto parameter = vae->parameters().front();
    std::vector<torch::Tensor> means;
    std::vector<torch::Tensor> logvars;
    for (std::int64_t begin = 0; begin < pixels.size(0); begin += std::max<std::int64_t>(1, batch)) {
        const torch::Tensor x
            = diffusion::pixelsToFloat(pixels.slice(0, begin, begin + std::max<std::int64_t>(1, batch)))
                  .to(parameter.device(), parameter.scalar_type());
        const models::sd::LatentDistribution posterior = vae->encode(x);
        means.push_back(
            ((posterior.mean - vae->shiftFactor()) * vae->scalingFactor()).to(torch::kCPU, torch::kFloat32));
        logvars.push_back(posterior.logvar.to(torch::kCPU, torch::kFloat32));
    }
    return { torch::cat(means), torch::cat(logvars) };
}

} // namespace

torch::Tensor toModelInput(const models::sd::StableDiffusion& sd, const torch::Tensor& pixels, std::int64_t batch)
{
    return encodeModelInputs(sd, pixels, batch).first;
}

std::vector<ConceptPair> conceptPairsOf(const models::sd::StableDiffusion& sd, const std::vector<std::string>& prompts,
    const torch::Tensor& pixels, std::int64_t batch)
{
    if (pixels.dim() != 4 || pixels.size(0) != static_cast<std::int64_t>(prompts.size()))
        throw Error("concept unlearning: " + std::to_string(prompts.size()) + " prompts but images "
            + c10::str(pixels.sizes()));
    const auto [images, logvar] = encodeModelInputs(sd, pixels, batch);
    std::vector<ConceptPair> pairs;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto k = static_cast<std::int64_t>(i);
        pairs.push_back({ prompts[i], images[k].clone(), logvar.defined() ? logvar[k].clone() : torch::Tensor() });
    }
    return pairs;
}

torch::Tensor samplePosterior(
    const torch::Tensor& images, const torch::Tensor& logvar, double scale, at::Generator& generator)
{
    const torch::Tensor epsilon
        = torch::randn(images.sizes(), generator, torch::TensorOptions().dtype(torch::kFloat32));
    return images + scale * torch::exp(0.5 * logvar) * epsilon;
}

std::pair<std::int64_t, std::int64_t> esdTimestepBucket(
    std::int64_t k, std::int64_t samplerSteps, std::int64_t trainSteps)
{
    // std::nearbyint rounds half to even in the default rounding mode, as Python's round() does.
    const auto at = [&](std::int64_t i) {
        return static_cast<std::int64_t>(std::nearbyint(
            static_cast<double>(i) / static_cast<double>(samplerSteps) * static_cast<double>(trainSteps)));
    };
    const std::int64_t low = at(k);
    return { low, std::max(at(k + 1), low + 1) };
}

EsdStateDraw drawEsdState(const diffusion::DdpmSchedule& schedule, const ConceptConfig& config, at::IntArrayRef shape,
    at::Generator& generator)
{
    const std::int64_t n = config.esdSamplingSteps;
    if (n < 1 || n > schedule.trainSteps)
        throw Error("concept unlearning: ESD sampling steps must be in 1…" + std::to_string(schedule.trainSteps)
            + " to sample ESD's states, found " + std::to_string(n));
    EsdStateDraw draw;
    draw.start = torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat32));
    draw.k = torch::randint(0, n, { 1 }, generator, torch::kInt64).item<std::int64_t>();
    if (config.esdTimestep == EsdTimestep::Bucket) {
        const auto [low, high] = esdTimestepBucket(draw.k, n, schedule.trainSteps);
        draw.timestep = torch::randint(low, high, { 1 }, generator, torch::kInt64).item<std::int64_t>();
        draw.samplerSteps = std::min(n, n + 1 - draw.k);
    } else {
        diffusion::DdpmSamplerOptions sampler;
        sampler.steps = static_cast<int>(n);
        draw.timestep = static_cast<std::int64_t>(
            diffusion::samplerTimesteps(schedule, sampler)[static_cast<std::size_t>(draw.k)]);
        draw.samplerSteps = draw.k;
    }
    return draw;
}

torch::Tensor esdTarget(const torch::Tensor& conditional, const torch::Tensor& unconditional, double eta)
{
    return unconditional - eta * (conditional - unconditional);
}

torch::Tensor esdDdimStep(const torch::Tensor& x, const torch::Tensor& unconditional, const torch::Tensor& conditional,
    double guidance, double a, double b, diffusion::PredictionType prediction)
{
    // Guidance is affine in the output, so it combines v as it combines ε; x₀ and ε come from the guided output.
    const torch::Tensor out = unconditional + guidance * (conditional - unconditional);
    torch::Tensor eps;
    torch::Tensor x0;
    if (prediction == diffusion::PredictionType::Epsilon) {
        eps = out;
        x0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
    } else {
        x0 = std::sqrt(a) * x - std::sqrt(1 - a) * out;
        eps = std::sqrt(a) * out + std::sqrt(1 - a) * x;
    }
    return std::sqrt(b) * x0 + std::sqrt(1 - b) * eps;
}

ConceptBatchIndices conceptBatchIndices(
    const ConceptConfig& config, std::int64_t forgetCount, std::int64_t remainCount, std::int64_t step)
{
    ConceptBatchIndices out;
    out.forget = batchOf(forgetCount, step, config.forgetBatch, config.seed);
    if (remainCount > 0)
        out.remain = config.remainPairing == RemainPairing::Twins
            ? out.forget
            : batchOf(remainCount, step, config.remainBatch, config.seed + 1);
    return out;
}

struct ConceptSession::State {
    ConceptConfig config;
    /// The config the session started with (live changes leave it alone): a checkpoint's identity.
    ConceptConfig initialConfig;
    models::sd::StableDiffusion base;
    std::optional<models::sd::StableDiffusion> sd;
    models::sd::UNet2DConditionModel unet { nullptr };
    models::sd::UNet2DConditionModel frozen { nullptr };
    BaseUse use = BaseUse::Copy;
    /// ESD in place: the trained parameters' original values, swapped in for the teacher's passes, or with
    /// esdTeacherOnHost kept on the host and copied in (the trained values wait in `waiting` meanwhile).
    std::vector<torch::Tensor> originals;
    std::vector<torch::Tensor> waiting;
    /// The text encoder's output for every prompt the run uses (and the empty prompt), [1, L, D] each.
    std::map<std::string, torch::Tensor> contexts;
    /// Whether the text encoder and the VAE are on the computer while the UNet trains on the device.
    bool frozenPartsAway = false;
    std::vector<ConceptPair> forget;
    std::vector<ConceptPair> remain;
    std::vector<std::pair<std::string, torch::Tensor>> trainable;
    std::unique_ptr<train::Adam> adam;
    at::Generator noise;
    torch::Device device = torch::kCPU;
    diffusion::TextToImageRequest previewRequest;
    /// The VAE's scaling factor; 0 in pixel space.
    double latentScale = 0.0;
    /// Image pixels per latent pixel (SDXL's time ids give the image size).
    std::int64_t pixelsPerLatent = 1;
    /// SalUn: 1 where an entry of trainable[i] may change, else 0; empty until prepare() computes it.
    std::vector<torch::Tensor> saliency;

    State(const models::sd::StableDiffusion& b, ConceptConfig c)
        : config(c)
        , initialConfig(c)
        , base(b)
        , noise(diffusion::cpuGenerator(c.seed))
    {
    }

    /// The frozen text encoder's context for `prompts`, from the embeddings computed up front.
    torch::Tensor context(const std::vector<std::string>& prompts) const
    {
        std::vector<torch::Tensor> rows;
        for (const std::string& prompt : prompts) {
            const auto it = contexts.find(prompt);
            if (it == contexts.end())
                throw Error("concept unlearning: no text embedding of the prompt \"" + prompt + "\"");
            rows.push_back(it->second);
        }
        return torch::cat(rows);
    }

    /// Computes the embedding of every prompt of the forget and remain pairs, and of the empty prompt.
    void embedPrompts(std::int64_t batch)
    {
        std::vector<std::string> prompts { std::string() };
        for (const auto* set : { &forget, &remain })
            for (const ConceptPair& pair : *set)
                if (std::find(prompts.begin(), prompts.end(), pair.prompt) == prompts.end())
                    prompts.push_back(pair.prompt);
        torch::NoGradGuard noGrad;
        const auto encoderDevice = base.textEncoder()->parameters().front().device();
        for (std::size_t begin = 0; begin < prompts.size(); begin += static_cast<std::size_t>(batch)) {
            const std::vector<std::string> some(prompts.begin() + static_cast<std::ptrdiff_t>(begin),
                prompts.begin() + static_cast<std::ptrdiff_t>(std::min(prompts.size(), begin + batch)));
            const torch::Tensor ids = base.tokenizer().encodeBatch(some).to(encoderDevice);
            // SDXL: both encoders' states and the pooled embedding, packed as generation packs them.
            const torch::Tensor hidden = base.isXl() ? base.model().encodePrompts(some).to(device)
                                                     : base.textEncoder()->forward(ids).last_hidden_state.to(device);
            for (std::size_t i = 0; i < some.size(); ++i)
                contexts[some[i]] = hidden.slice(0, static_cast<std::int64_t>(i), static_cast<std::int64_t>(i) + 1);
        }
        // The unconditional branch of an SDXL model with force_zeros_for_empty_prompt is zeros, in training as in
        // generation.
        if (base.model().zeroEmptyNegativePrompt)
            contexts[std::string()] = torch::zeros_like(contexts.at(std::string()));
    }

    /// The UNet's prediction for a context of context(): SDXL's added conditions unpacked (conditionedUNetForward).
    torch::Tensor forwardOf(models::sd::UNet2DConditionModelImpl& net, const torch::Tensor& x, const torch::Tensor& t,
        const torch::Tensor& context) const
    {
        return models::sd::conditionedUNetForward(net, x, t, context, pixelsPerLatent);
    }

    /// In place on CUDA: the text encoder and the VAE to the computer's memory (away) or back to the device.
    void moveFrozenParts(bool away)
    {
        if (use != BaseUse::TrainInPlace || !device.is_cuda() || config.method == ConceptMethod::UCE
            || frozenPartsAway == away)
            return;
        const torch::Device to = away ? torch::Device(torch::kCPU) : device;
        base.textEncoder()->to(to);
        if (models::sd::ClipTextModelWithProjection text2 = base.textEncoder2())
            text2->to(to);
        if (models::sd::AutoencoderKL vae = base.vae())
            vae->to(to);
        frozenPartsAway = away;
    }

    /// ESD's teacher: the original UNet's prediction (the base UNet, or in place the trained parameters' original
    /// values swapped in for the pass).
    torch::Tensor teacher(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context)
    {
        torch::NoGradGuard noGrad;
        if (frozen)
            return forwardOf(*frozen, x, t, context);
        swapOriginals(true);
        torch::Tensor out;
        std::exception_ptr failure;
        try {
            out = forwardOf(*unet, x, t, context);
        } catch (...) {
            failure = std::current_exception();
        }
        swapOriginals(false); // Whatever the pass did.
        if (failure)
            std::rethrow_exception(failure);
        return out;
    }

    /// In place: the original values into the trained parameters for a teacher pass (`in`), or the trained values
    /// back after it. Swapped, or with esdTeacherOnHost copied, the trained values waiting on the host meanwhile.
    void swapOriginals(bool in)
    {
        for (std::size_t i = 0; i < trainable.size(); ++i) {
            torch::Tensor& p = trainable[i].second;
            if (waiting.empty()) {
                torch::Tensor current = p.data();
                p.set_data(originals[i]);
                originals[i] = current;
            } else if (in) {
                waiting[i].copy_(p.data());
                p.data().copy_(originals[i]);
            } else {
                p.data().copy_(waiting[i]);
            }
        }
    }

    /// Whether x₀ is drawn from the VAE posterior (a latent model with latents "sample").
    bool samplesPosterior() const { return latentScale > 0.0 && config.latents == LatentMode::Sample; }

    /// x₀ and prompts of `indices` of `pairs`: their images, or with `posterior` a fresh draw from each image's
    /// VAE posterior (samplePosterior, from the run's generator).
    std::pair<torch::Tensor, std::vector<std::string>> batch(
        const std::vector<ConceptPair>& pairs, const std::vector<std::int64_t>& indices, bool posterior)
    {
        std::vector<torch::Tensor> images;
        std::vector<torch::Tensor> logvars;
        std::vector<std::string> prompts;
        for (const std::int64_t i : indices) {
            const ConceptPair& pair = pairs[static_cast<std::size_t>(i)];
            images.push_back(pair.image);
            if (posterior)
                logvars.push_back(pair.logvar);
            prompts.push_back(pair.prompt);
        }
        torch::Tensor x0 = torch::stack(images);
        if (posterior)
            x0 = samplePosterior(x0, torch::stack(logvars), latentScale, noise);
        return { x0.to(device), prompts };
    }

    diffusion::ConditionalNoisePredictor predictor(const models::sd::UNet2DConditionModel& net) const
    {
        return [net = net, scale = pixelsPerLatent](
                   const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context) mutable {
            return models::sd::conditionedUNetForward(*net, x, t, context, scale);
        };
    }

    /// The mean ε-loss of the UNet being changed on `indices` of `pairs`, measured without gradient (the batch, its
    /// posterior draw when sampling, its timesteps and noise drawn from the run's generator).
    double measuredLoss(const std::vector<ConceptPair>& pairs, const std::vector<std::int64_t>& indices)
    {
        torch::NoGradGuard noGrad;
        const auto [images, prompts] = batch(pairs, indices, samplesPosterior());
        const diffusion::DdpmDraw draw = diffusion::drawDdpm(images, base.schedule(), noise);
        return diffusion::ddpmLossPerImage(predictor(unet), images, context(prompts), base.schedule(), draw)
            .mean()
            .item<double>();
    }

    void zeroGrad()
    {
        for (auto& [name, p] : trainable)
            if (p.grad().defined())
                p.mutable_grad().zero_();
    }
};

ConceptSession::ConceptSession(const models::sd::StableDiffusion& base, std::vector<ConceptPair> forget,
    std::vector<ConceptPair> remain, ConceptConfig config, BaseUse use)
{
    config.validate();
    const std::string what = "concept unlearning: ";
    if (forget.empty())
        throw Error(what + "the forget set is empty");
    if (remain.empty() && !conceptMethodWithoutRemain(config.method))
        throw Error(what + "the remain set is empty (" + conceptMethodName(config.method) + " needs remain pairs)");
    if (config.method == ConceptMethod::UCE && conceptWords(config.forgetConcept).empty())
        throw Error(what
            + "UCE edits the embeddings of the concept's words, and the run names none (give the "
              "concept, e.g. \"sneaker\" or \"sneaker, bag\")");
    models::sd::UNet2DConditionModel baseUNet = base.unet();
    const torch::Tensor first = baseUNet->parameters().front();
    if (first.scalar_type() != torch::kFloat32)
        throw Error(
            what + "the model computes in " + dtypeText(first.scalar_type()) + "; load it in float32 to train it");
    const auto& options = baseUNet->options;
    const models::sd::AutoencoderKL vae = base.vae();
    const std::int64_t channels = options.in_channels();
    for (const auto* set : { &forget, &remain }) {
        const char* name = set == &forget ? "forget" : "remain";
        for (std::size_t i = 0; i < set->size(); ++i) {
            const torch::Tensor& image = (*set)[i].image;
            if (!image.defined() || image.dim() != 3 || image.size(0) != channels
                || image.scalar_type() != torch::kFloat32)
                throw Error(what + name + " pair " + std::to_string(i + 1) + ": the image must be float32 ["
                    + std::to_string(channels) + ", h, w] in the UNet's input space ("
                    + (vae ? "VAE latents" : "pixels in [-1, 1]") + "), found "
                    + (image.defined() ? dtypeText(image.scalar_type()) + " " + c10::str(image.sizes())
                                       : std::string("none")));
            if ((*set)[i].image.sizes() != (*set)[0].image.sizes())
                throw Error(what + name + " pair " + std::to_string(i + 1) + " has size " + c10::str(image.sizes())
                    + ", pair 1 " + c10::str((*set)[0].image.sizes()));
        }
    }
    if (config.remainPairing == RemainPairing::Twins && !remain.empty() && remain.size() != forget.size())
        throw Error(what + "remain_pairing 'twins' pairs remain pair i with forget pair i, its twin, so the sets must "
            + "be the same size; found " + std::to_string(forget.size()) + " forget and "
            + std::to_string(remain.size())
            + " remain pairs (give the forget set's twins as the remain set, or set remain_pairing to 'independent')");
    if (!remain.empty() && remain[0].image.sizes() != forget[0].image.sizes())
        throw Error(what + "forget images are " + c10::str(forget[0].image.sizes()) + ", remain images "
            + c10::str(remain[0].image.sizes()));
    if (vae && config.latents == LatentMode::Sample) {
        // ESD's sampled states need no forget images, so no posterior of theirs either.
        const bool forgetImagesUsed = config.method != ConceptMethod::ESD || config.esdSamplingSteps == 0;
        for (const auto* set : { &forget, &remain }) {
            if (set == &forget && !forgetImagesUsed)
                continue;
            for (std::size_t i = 0; i < set->size(); ++i) {
                const ConceptPair& pair = (*set)[i];
                if (pair.logvar.defined() && pair.logvar.sizes() == pair.image.sizes()
                    && pair.logvar.scalar_type() == torch::kFloat32)
                    continue;
                throw Error(what + (set == &forget ? "forget" : "remain") + " pair " + std::to_string(i + 1)
                    + ": latents 'sample' draws x₀ from the VAE posterior and needs the image's log-variance, float32 "
                    + c10::str(pair.image.sizes()) + ", found "
                    + (pair.logvar.defined()
                            ? dtypeText(pair.logvar.scalar_type()) + " " + c10::str(pair.logvar.sizes())
                            : std::string("none"))
                    + " (latents 'mean' trains on the posterior mean)");
            }
        }
    }

    m_state = std::make_unique<State>(base, config);
    State& s = *m_state;
    s.forget = std::move(forget);
    s.remain = std::move(remain);
    s.device = first.device();
    s.latentScale = vae ? vae->scalingFactor() : 0.0;
    s.pixelsPerLatent = base.model().latentScale;
    s.use = use;
    s.unet = use == BaseUse::TrainInPlace
        ? baseUNet
        : models::sd::UNet2DConditionModel(
            std::dynamic_pointer_cast<models::sd::UNet2DConditionModelImpl>(baseUNet->clone(s.device)));
    s.unet->eval();
    s.unet->setGradientCheckpointing(s.config.gradientCheckpointing);
    if (s.config.memoryEfficientAttention)
        s.unet->setAttentionBackend(models::sd::AttentionBackend::MemoryEfficient);
    else if (use == BaseUse::Copy) // The run's own UNet: training's default is the plain attention.
        s.unet->setAttentionBackend(models::sd::AttentionBackend::Standard);
    const std::vector<std::string> edited
        = s.config.method == ConceptMethod::UCE ? uceParameterNames(s.unet) : std::vector<std::string> {};
    if (s.config.method == ConceptMethod::UCE) {
        if (edited.empty())
            throw Error(what + "UCE edits cross-attention key and value projections, and this UNet has none");
        s.config.steps = 1; // The closed form is one step.
        s.initialConfig.steps = 1;
    }
    for (const auto& item : s.unet->named_parameters()) {
        const bool chosen = s.config.method == ConceptMethod::UCE
            ? std::find(edited.begin(), edited.end(), item.key()) != edited.end()
            : inParameterGroup(s.config.parameters, item.key());
        item.value().set_requires_grad(chosen);
        if (chosen)
            s.trainable.emplace_back(item.key(), item.value());
    }
    if (s.trainable.empty())
        throw Error(what + "the parameter group '" + parameterGroupName(s.config.parameters)
            + "' matches no UNet parameter (cross-attention parameters are those whose names contain '"
            + kCrossAttention + "')");
    if (s.config.method == ConceptMethod::ESD) {
        if (use == BaseUse::Copy) {
            s.frozen = baseUNet; // Never trained: the base model is not this run's.
        } else {
            torch::NoGradGuard noGrad;
            for (const auto& [name, p] : s.trainable) {
                if (!s.config.esdTeacherOnHost) {
                    s.originals.push_back(p.detach().clone());
                    continue;
                }
                // Pinned host memory where CUDA is in use, so that the copies each pass are direct.
                const auto host = torch::TensorOptions().dtype(p.scalar_type()).pinned_memory(p.is_cuda());
                s.originals.push_back(torch::empty(p.sizes(), host).copy_(p.detach()));
                s.waiting.push_back(torch::empty(p.sizes(), host));
            }
        }
    }
    s.embedPrompts(std::max<std::int64_t>(1, s.config.forgetBatch));
    s.sd.emplace(use == BaseUse::TrainInPlace ? base : base.withUNet(s.unet));
    if (s.config.method != ConceptMethod::UCE) // UCE solves, it does not descend.
        s.adam = std::make_unique<train::Adam>(s.trainable, train::AdamOptions { s.config.lr, 0.9, 0.999, 1e-8, 0.0 });
}

bool conceptMethodWithoutRemain(ConceptMethod method)
{
    return method == ConceptMethod::ESD || method == ConceptMethod::UCE;
}

const std::vector<torch::Tensor>& ConceptSession::saliencyMask() const
{
    return m_state->saliency;
}

void ConceptSession::prepare()
{
    State& s = *m_state;
    computeSaliency();
    s.moveFrozenParts(true); // Every prompt's embedding is at hand: the text encoder waits until a preview.
}

void ConceptSession::computeSaliency()
{
    State& s = *m_state;
    if (s.config.method != ConceptMethod::SalUn || !s.saliency.empty())
        return;
    // SalUn's mask from the base weights (the run has not changed them yet): the forget loss's gradient summed over
    // the whole forget set in forget batches, each pair with its own prompt, at timesteps and noise from a generator
    // of its own (the run's draws do not move), on the posterior means.
    at::Generator draws = diffusion::cpuGenerator(s.config.seed + 17);
    torch::manual_seed(s.config.seed + 17);
    s.zeroGrad();
    s.unet->train();
    const auto count = static_cast<std::int64_t>(s.forget.size());
    for (std::int64_t begin = 0; begin < count; begin += s.config.forgetBatch) {
        std::vector<std::int64_t> indices;
        for (std::int64_t i = begin; i < std::min(count, begin + s.config.forgetBatch); ++i)
            indices.push_back(i);
        const auto [images, prompts] = s.batch(s.forget, indices, false);
        const diffusion::DdpmDraw draw = diffusion::drawDdpm(images, s.base.schedule(), draws);
        diffusion::ddpmLossPerImage(s.predictor(s.unet), images, s.context(prompts), s.base.schedule(), draw)
            .mean()
            .backward();
    }
    s.saliency = saliencyMaskOfGradients(s.trainable, s.config.saliencyFraction);
    s.zeroGrad();
    s.unet->eval();
}

ConceptSession::~ConceptSession() = default;

const models::sd::StableDiffusion& ConceptSession::model() const
{
    return *m_state->sd;
}

models::sd::UNet2DConditionModel ConceptSession::frozenUNet() const
{
    return m_state->frozen;
}

const ConceptConfig& ConceptSession::config() const
{
    return m_state->config;
}

StepReport ConceptSession::takeStep(std::int64_t index, std::string& problem)
{
    State& s = *m_state;
    const ConceptConfig& c = s.config;
    // Dropout, where a UNet has any, draws from the global generator: seeded per step so a run repeats.
    torch::manual_seed(c.seed + static_cast<std::uint64_t>(index));
    s.unet->train();
    const auto forgetCount = static_cast<std::int64_t>(s.forget.size());
    const auto remainCount = static_cast<std::int64_t>(s.remain.size());
    const ConceptBatchIndices indices = conceptBatchIndices(c, forgetCount, remainCount, index);

    StepReport report;
    report.lr = c.lr;
    report.alpha = c.alpha;
    report.lambda = c.method == ConceptMethod::GA ? 0.0 : c.lambda;
    const diffusion::ConditionalNoisePredictor predict = s.predictor(s.unet);
    const diffusion::DdpmSchedule& schedule = s.base.schedule();

    s.zeroGrad();
    if (c.method == ConceptMethod::UCE) {
        torch::NoGradGuard noGrad;
        s.unet->eval();
        std::vector<std::string> prompts;
        for (const ConceptPair& pair : s.forget)
            prompts.push_back(pair.prompt);
        const UceEmbeddings embeddings
            = uceEmbeddings(s.base, uceTexts(conceptWords(c.forgetConcept), c.uceGuide, c.ucePreserve, prompts));
        const UceWeights weights { c.uceRegularisation, c.uceEraseScale,
            effectivePreserveScale(c.ucePreserveScale, c.ucePreserve.size()) };
        for (auto& [name, p] : s.trainable)
            p.copy_(uceClosedForm(p, embeddings, weights));
        // The edited model's losses on a forget batch and (when there is one) a remain batch, for the curves.
        report.forgetLoss = s.measuredLoss(s.forget, indices.forget);
        if (remainCount > 0)
            report.remainLoss = s.measuredLoss(s.remain, indices.remain);
        report.lambda = 0.0;
        if (!std::isfinite(report.forgetLoss) || !std::isfinite(report.remainLoss))
            problem = nonFiniteLoss(report);
        return report; // The weights are the closed form's: nothing for an optimizer to do.
    }
    if (c.method == ConceptMethod::ESD) {
        const bool sampledStates = c.esdSamplingSteps > 0; // Then the forget images give only the states' shape.
        const auto [forgetImages, forgetPrompts]
            = s.batch(s.forget, indices.forget, !sampledStates && s.samplesPosterior());
        const torch::Tensor conditional = s.context(forgetPrompts);
        const torch::Tensor unconditional = s.context(std::vector<std::string>(forgetPrompts.size(), std::string()));
        const auto alphaBar = diffusion::alphasCumprod(schedule);
        torch::Tensor xt;
        torch::Tensor t;
        if (sampledStates) {
            // ESD's own states: DDIM from seeded noise with the model being trained, guided by the concept prompt,
            // for the number of steps drawn; t as config.esdTimestep says (drawEsdState).
            const EsdStateDraw draw = drawEsdState(schedule, c, forgetImages.sizes(), s.noise);
            diffusion::DdpmSamplerOptions sampler;
            sampler.steps = static_cast<int>(c.esdSamplingSteps);
            const std::vector<double> timesteps = diffusion::samplerTimesteps(schedule, sampler);
            // After the last timestep DDIM lands on ᾱ_0 (1 with set_alpha_to_one), as CompVis' alphas_prev[0].
            const double finalAlphaBar = schedule.setAlphaToOne ? 1.0 : alphaBar.front();
            torch::NoGradGuard noGrad;
            xt = draw.start.to(s.device);
            const std::int64_t n = xt.size(0);
            for (std::int64_t i = 0; i < draw.samplerSteps; ++i) {
                const double now = timesteps[static_cast<std::size_t>(i)];
                const torch::Tensor tt = torch::full({ 2 * n }, now, torch::TensorOptions().device(s.device));
                const auto both
                    = s.forwardOf(*s.unet, torch::cat({ xt, xt }), tt, torch::cat({ unconditional, conditional }))
                          .chunk(2);
                const double a = alphaBar[static_cast<std::size_t>(now)];
                const double b = i + 1 < c.esdSamplingSteps
                    ? alphaBar[static_cast<std::size_t>(timesteps[static_cast<std::size_t>(i + 1)])]
                    : finalAlphaBar;
                xt = esdDdimStep(xt, both[0], both[1], c.esdGuidance, a, b, schedule.prediction);
            }
            t = torch::full({ n }, static_cast<double>(draw.timestep), torch::TensorOptions().device(s.device));
        } else {
            // x_t as ddpmLossPerImage makes it, from the forget images at a uniform t.
            const diffusion::DdpmDraw draw = diffusion::drawDdpm(forgetImages, schedule, s.noise);
            std::vector<double> a;
            for (std::int64_t i = 0; i < draw.timesteps.size(0); ++i)
                a.push_back(alphaBar[static_cast<std::size_t>(draw.timesteps[i].item<std::int64_t>())]);
            const torch::Tensor alpha = torch::tensor(a, torch::kFloat64).to(torch::kFloat32).view({ -1, 1, 1, 1 });
            xt = alpha.sqrt().to(s.device) * forgetImages + (1 - alpha).sqrt().to(s.device) * draw.noise.to(s.device);
            t = draw.timesteps.to(s.device);
        }
        torch::Tensor target;
        {
            const torch::Tensor frozenConditional = s.teacher(xt, t, conditional);
            const torch::Tensor frozenUnconditional = s.teacher(xt, t, unconditional);
            torch::NoGradGuard noGrad;
            target = esdTarget(frozenConditional, frozenUnconditional, c.eta);
        }
        const torch::Tensor loss = (s.forwardOf(*s.unet, xt, t, conditional) - target).pow(2).mean();
        loss.backward();
        report.forgetLoss = loss.item<double>();
        if (remainCount > 0)
            report.remainLoss = s.measuredLoss(s.remain, indices.remain);
        if (!std::isfinite(report.forgetLoss) || !std::isfinite(report.remainLoss)) {
            problem = nonFiniteLoss(report);
            return report;
        }
        for (auto& [name, p] : s.trainable)
            if (p.grad().defined()) {
                torch::Tensor g = p.grad();
                sanitizeGradient(g);
            }
    } else {
        const auto [forgetImages, forgetPrompts] = s.batch(s.forget, indices.forget, s.samplesPosterior());
        const diffusion::DdpmDraw forgetDraw = diffusion::drawDdpm(forgetImages, schedule, s.noise);
        const auto [remainImages, remainPrompts] = s.batch(s.remain, indices.remain, s.samplesPosterior());
        const diffusion::DdpmDraw remainDraw = diffusion::drawDdpm(remainImages, schedule, s.noise);

        // The forget direction a = −∇L_f, or nothing when L_f > α (the reference code's loss / loss.item()). SalUn:
        // a = +∇ of its "random label" loss, each forget image under another prompt, the remain batch's (with
        // twins, the forget prompt's twin: the same prompt naming another concept), never truncated.
        const bool salun = c.method == ConceptMethod::SalUn;
        std::vector<std::string> forgetContext = forgetPrompts;
        if (salun)
            for (std::size_t j = 0; j < forgetContext.size(); ++j)
                forgetContext[j] = remainPrompts[j % remainPrompts.size()];
        torch::Tensor forgetLoss
            = diffusion::ddpmLossPerImage(predict, forgetImages, s.context(forgetContext), schedule, forgetDraw).mean();
        report.forgetLoss = forgetLoss.item<double>();
        report.truncated = !salun && report.forgetLoss > c.alpha;
        std::vector<torch::Tensor> ascent(s.trainable.size());
        if (!report.truncated && std::isfinite(report.forgetLoss)) {
            forgetLoss.backward();
            torch::NoGradGuard noGrad;
            for (std::size_t i = 0; i < s.trainable.size(); ++i) {
                const torch::Tensor& g = s.trainable[i].second.grad();
                if (!g.defined())
                    continue;
                ascent[i] = salun ? g.clone() : g.neg();
                sanitizeGradient(ascent[i]);
            }
        } else {
            torch::NoGradGuard noGrad;
            for (std::size_t i = 0; i < s.trainable.size(); ++i)
                ascent[i] = torch::zeros_like(s.trainable[i].second);
        }
        forgetLoss = torch::Tensor(); // A truncated step's forward graph is not kept through the remain pass.

        // The remain gradient d, in the parameters' own .grad().
        s.zeroGrad();
        const torch::Tensor remainContext = s.context(remainPrompts);
        if (c.method == ConceptMethod::GA) {
            torch::NoGradGuard noGrad;
            report.remainLoss = diffusion::ddpmLossPerImage(predict, remainImages, remainContext, schedule, remainDraw)
                                    .mean()
                                    .item<double>();
        } else {
            const torch::Tensor remainLoss
                = diffusion::ddpmLossPerImage(predict, remainImages, remainContext, schedule, remainDraw).mean();
            remainLoss.backward();
            report.remainLoss = remainLoss.item<double>();
        }
        if (!std::isfinite(report.forgetLoss) || !std::isfinite(report.remainLoss)) {
            problem = nonFiniteLoss(report);
            return report;
        }

        std::vector<torch::Tensor> combined;
        for (auto& [name, p] : s.trainable) {
            torch::Tensor g = p.grad();
            if (g.defined())
                sanitizeGradient(g);
            combined.push_back(g);
        }
        const double lambda = report.lambda;
        const bool restrict = c.method == ConceptMethod::RGD || c.method == ConceptMethod::RG;
        const GradientStats stats = combineRestricted(ascent, combined, lambda, restrict);
        if (!stats.finite) {
            problem = "non-finite gradient";
            return report;
        }
        torch::NoGradGuard noGrad;
        for (std::size_t i = 0; i < s.trainable.size(); ++i) {
            torch::Tensor& p = s.trainable[i].second;
            if (!combined[i].defined())
                continue;
            if (salun) // Only the entries the saliency mask keeps ever move.
                combined[i].mul_(s.saliency[i]);
            if (!p.grad().defined() || !p.grad().is_same(combined[i]))
                p.mutable_grad() = combined[i];
        }
        report.ascentNorm = stats.ascentNorm;
        report.remainNorm = stats.remainNorm;
        report.cosine = stats.cosine;
        report.projected = stats.projected;
    }
    s.adam->setLr(c.lr);
    s.adam->step();
    return report;
}

UnlearnRun::Schedule ConceptSession::schedule() const
{
    return scheduleOf(m_state->config);
}

UnlearnRun::TrainState ConceptSession::trainState()
{
    return { &m_state->trainable, m_state->adam.get(), &m_state->noise };
}

void ConceptSession::applyLive(const LiveChanges& changes)
{
    applyLiveChanges(changes, m_state->config);
}

bool ConceptSession::hasPreview() const
{
    return !m_state->previewRequest.prompts.empty();
}

void ConceptSession::setPreview(diffusion::TextToImageRequest request)
{
    m_state->previewRequest = std::move(request);
}

const diffusion::TextToImageRequest& ConceptSession::previewRequest() const
{
    return m_state->previewRequest;
}

std::optional<torch::Tensor> ConceptSession::preview(const std::function<bool(std::int64_t, std::int64_t)>& progress)
{
    State& s = *m_state;
    if (s.previewRequest.prompts.empty())
        return std::nullopt;
    s.unet->eval(); // Between steps: the next step puts the UNet back in training mode.
    s.moveFrozenParts(false);
    return diffusion::generate(s.sd->model(), s.previewRequest, progress);
}

namespace {

/// The metadata key of a concept run's checkpoint identity.
const char* const kConceptCheckpointKey = "lethe.concept_checkpoint";

/// SHA-256 of the pairs' prompts, in order.
std::string promptsSha256(const std::vector<ConceptPair>& pairs)
{
    nlohmann::json prompts = nlohmann::json::array();
    for (const ConceptPair& pair : pairs)
        prompts.push_back(pair.prompt);
    return io::sha256Hex(prompts.dump());
}

/// The settings a checkpoint identifies its run by: all but the number of steps (a resumed run may go further) and
/// the previews during the run (they change no weight).
nlohmann::json identitySettings(const ConceptConfig& config)
{
    nlohmann::json settings = io::configToJson(config);
    settings.erase("steps");
    settings.erase("preview_every");
    return settings;
}

} // namespace

nlohmann::json ConceptSession::checkpointIdentity(const std::string& modelSha256) const
{
    const State& s = *m_state;
    nlohmann::json identity = identitySettings(s.initialConfig);
    identity["model_sha256"] = modelSha256;
    identity["forget_prompts"] = promptsSha256(s.forget);
    identity["remain_prompts"] = promptsSha256(s.remain);
    io::Sha256 images;
    for (const auto* set : { &s.forget, &s.remain })
        for (const ConceptPair& pair : *set)
            for (const torch::Tensor& t : { pair.image, pair.logvar })
                if (t.defined()) {
                    const torch::Tensor bytes = t.to(torch::kCPU).contiguous();
                    images.update(bytes.data_ptr(), bytes.nbytes());
                }
    identity["training_images"] = images.hexDigest();
    return identity;
}

void ConceptSession::writeCheckpoint(const std::filesystem::path& path, const std::string& modelSha256) const
{
    const ConceptConfig& c = m_state->config;
    writeSnapshotFile(path, "concept unlearning checkpoint", "unet.", kConceptCheckpointKey,
        checkpointIdentity(modelSha256), { c.alpha, c.lambda, c.lr });
}

LiveChanges ConceptSession::checkedLiveValues(const io::SafetensorsFile& file, const std::string& modelSha256) const
{
    // Checkpoints written before a setting existed ran with its default.
    return checkedCheckpointLive(file, "concept unlearning checkpoint", kConceptCheckpointKey,
        checkpointIdentity(modelSha256), identitySettings(ConceptConfig {}));
}

void ConceptSession::checkCheckpoint(const std::filesystem::path& path, const std::string& modelSha256) const
{
    checkedLiveValues(io::SafetensorsFile(path), modelSha256);
}

std::int64_t ConceptSession::resumeFrom(const std::filesystem::path& path, const std::string& modelSha256)
{
    State& s = *m_state;
    const io::SafetensorsFile file(path);
    const ConceptConfig changed = withLiveChanges(s.config, checkedLiveValues(file, modelSha256));
    computeSaliency(); // SalUn's mask comes from the base weights: before they change.
    const std::int64_t step = loadSnapshotFile(file, "unet.");
    s.config = changed;
    return step;
}

void ConceptSession::finishRun()
{
    m_state->moveFrozenParts(false);
    m_state->zeroGrad();
    m_state->unet->eval(); // Drawing from model() between runs samples as the exported model does.
}

} // namespace lethe::unlearn
