#include "prompt_attack.h"

#include "core/attack/frozen_parameters.h"
#include "core/diffusion/ddpm_loss.h"
#include "core/diffusion/denoiser.h"
#include "core/enum_names.h"
#include "core/error.h"
#include "core/unlearn/concept_session.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lethe::attack {

const std::vector<std::pair<PromptAttackKind, std::string>>& enumNames(PromptAttackKind)
{
    static const EnumNames<PromptAttackKind> names { { PromptAttackKind::Hard, "hard" },
        { PromptAttackKind::Soft, "soft" } };
    return names;
}

const std::vector<std::pair<TokenPlacement, std::string>>& enumNames(TokenPlacement)
{
    static const EnumNames<TokenPlacement> names { { TokenPlacement::Prefix, "prefix" },
        { TokenPlacement::Suffix, "suffix" } };
    return names;
}

void PromptAttackOptions::validate() const
{
    if (tokens < 1 || tokens > 32)
        throw Error("attack: --attack-tokens must be 1 to 32, not " + std::to_string(tokens));
    if (steps < 1)
        throw Error("attack: --attack-steps must be at least 1, not " + std::to_string(steps));
    if (!(lr > 0) || !std::isfinite(lr))
        throw Error("attack: --attack-lr must be a positive number");
    if (!(weightDecay >= 0) || !std::isfinite(weightDecay))
        throw Error("attack: --attack-weight-decay must be 0 or more");
    if (timestepsPerStep < 1 || timestepsPerStep > 64)
        throw Error("attack: --attack-timesteps must be 1 to 64, not " + std::to_string(timestepsPerStep));
}

AttackIds attackIds(
    const models::sd::ClipTokenizer& tokenizer, const std::string& prompt, int tokens, TokenPlacement placement)
{
    const int length = tokenizer.maxLength();
    if (tokens + 2 > length)
        throw Error("attack: " + std::to_string(tokens) + " adversarial tokens do not fit the text encoder's "
            + std::to_string(length) + " positions");
    const models::sd::ClipTokens encoded = tokenizer.encode(prompt);
    // The prompt's own tokens lie between BOS and EOS; as many as fit beside the slots, leaving room for EOS.
    const int own = std::max(0, std::min(encoded.length - 2, length - 2 - tokens));
    const auto ownBegin = encoded.ids.begin() + 1;
    AttackIds out;
    out.ids.push_back(tokenizer.bosId());
    if (placement == TokenPlacement::Suffix)
        out.ids.insert(out.ids.end(), ownBegin, ownBegin + own);
    out.first = static_cast<std::int64_t>(out.ids.size());
    out.ids.insert(out.ids.end(), static_cast<std::size_t>(tokens), tokenizer.padId());
    if (placement == TokenPlacement::Prefix)
        out.ids.insert(out.ids.end(), ownBegin, ownBegin + own);
    out.ids.push_back(tokenizer.eosId());
    out.ids.resize(static_cast<std::size_t>(length), tokenizer.padId());
    return out;
}

torch::Tensor candidateTokens(const models::sd::ClipTokenizer& tokenizer, std::int64_t vocabulary)
{
    torch::Tensor keep = torch::ones({ vocabulary }, torch::kBool);
    for (const std::int64_t special : { tokenizer.bosId(), tokenizer.eosId(), tokenizer.padId() })
        if (special >= 0 && special < vocabulary)
            keep[special] = false;
    return keep.nonzero().view({ -1 });
}

torch::Tensor projectToVocabulary(
    const torch::Tensor& embeddings, const torch::Tensor& table, const torch::Tensor& candidates)
{
    torch::NoGradGuard noGrad;
    const torch::Tensor rows = table.index_select(0, candidates.to(table.device())).to(torch::kFloat32);
    const torch::Tensor similarity
        = torch::nn::functional::normalize(
            embeddings.to(torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(-1))
              .matmul(
                  torch::nn::functional::normalize(rows, torch::nn::functional::NormalizeFuncOptions().dim(-1)).t());
    return candidates.to(table.device()).index_select(0, similarity.argmax(-1));
}

namespace {

/// The token embeddings of `ids` with rows first…first + K − 1 replaced by `adversarial` [K, H].
torch::Tensor withAdversarialRows(const torch::Tensor& plain, const torch::Tensor& adversarial, std::int64_t first)
{
    const std::int64_t k = adversarial.size(0);
    return torch::cat({ plain.narrow(1, 0, first), adversarial.to(plain.scalar_type()).unsqueeze(0),
                          plain.narrow(1, first + k, plain.size(1) - first - k) },
        1);
}

} // namespace

std::optional<PromptAttackResult> attackPrompt(const models::sd::StableDiffusion& model, const std::string& prompt,
    const torch::Tensor& targets, const PromptAttackOptions& options, const AttackStepProgress& progress)
{
    options.validate();
    const diffusion::TextToImageModel view = model.model();
    const std::int64_t size = model.defaultImageSize();
    if (targets.dim() != 4 || targets.scalar_type() != torch::kUInt8 || targets.size(0) < 1 || targets.size(2) != size
        || targets.size(3) != size)
        throw Error("attack: the target images must be uint8 [M, C, " + std::to_string(size) + ", "
            + std::to_string(size) + "], found " + tensorText(targets));

    models::sd::ClipTextModel text = model.textEncoder();
    models::sd::UNet2DConditionModel unet = model.unet();
    std::vector<torch::Tensor> parameters = text->parameters();
    for (const auto& p : unet->parameters())
        parameters.push_back(p);
    const FrozenParameters frozen(parameters);
    const bool wasTraining = unet->is_training();
    unet->eval();
    text->eval();

    const torch::Device device = view.device;
    const torch::Tensor table = text->text_model->embeddings->token_embedding->weight;
    const AttackIds slots = attackIds(model.tokenizer(), prompt, options.tokens, options.placement);
    const torch::Tensor ids = torch::tensor(slots.ids, torch::kInt64).unsqueeze(0).to(device);
    const torch::Tensor plain = text->text_model->embeddings->token_embedding(ids).detach();
    const torch::Tensor candidates
        = candidateTokens(model.tokenizer(), std::min(table.size(0), model.tokenizer().vocabSize())).to(device);

    at::Generator generator = diffusion::cpuGenerator(options.seed);
    const torch::Tensor start = candidates.index_select(
        0, torch::randint(candidates.size(0), { options.tokens }, generator, torch::kInt64).to(device));
    torch::Tensor embeddings
        = table.index_select(0, start).detach().to(torch::kFloat32).clone().set_requires_grad(true);
    torch::optim::AdamW optimizer(
        { embeddings }, torch::optim::AdamWOptions(options.lr).weight_decay(options.weightDecay));

    // Each step's loss: every target image at timestepsPerStep timesteps, each with its own noise.
    const torch::Tensor images = unlearn::toModelInput(model, targets).repeat({ options.timestepsPerStep, 1, 1, 1 });
    const diffusion::ConditionalNoisePredictor predict
        = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& context) {
              return unet->forward(x.to(view.dtype), t, context).to(torch::kFloat32);
          };
    const auto contextOf = [&](const torch::Tensor& adversarial) {
        return text->text_model->forwardEmbeddings(withAdversarialRows(plain, adversarial, slots.first), ids)
            .last_hidden_state;
    };

    PromptAttackResult result;
    if (progress && !progress(0, options.steps, std::numeric_limits<double>::quiet_NaN()))
        return std::nullopt;
    for (int step = 1; step <= options.steps; ++step) {
        // Hard: the loss and its gradient at the projected tokens, applied to the continuous embeddings.
        torch::Tensor evaluated = embeddings;
        if (options.kind == PromptAttackKind::Hard)
            evaluated = table.index_select(0, projectToVocabulary(embeddings, table, candidates))
                            .detach()
                            .to(torch::kFloat32)
                            .set_requires_grad(true);
        const torch::Tensor context = contextOf(evaluated);
        const torch::Tensor x0 = images.to(device, view.dtype);
        const diffusion::DdpmDraw draw = diffusion::drawDdpm(x0, view.schedule, generator);
        const torch::Tensor loss
            = diffusion::ddpmLossPerImage(predict, x0, context.expand({ x0.size(0), -1, -1 }), view.schedule, draw)
                  .mean();
        const torch::Tensor gradient = torch::autograd::grad({ loss }, { evaluated })[0];
        optimizer.zero_grad();
        embeddings.mutable_grad() = gradient.detach().clone();
        optimizer.step();
        result.losses.push_back(loss.item<double>());
        if (progress && !progress(step, options.steps, result.losses.back()))
            return std::nullopt;
    }

    torch::NoGradGuard noGrad;
    const torch::Tensor nearest = projectToVocabulary(embeddings, table, candidates);
    const torch::Tensor cpuNearest = nearest.to(torch::kCPU);
    result.tokenIds.assign(
        cpuNearest.data_ptr<std::int64_t>(), cpuNearest.data_ptr<std::int64_t>() + cpuNearest.numel());
    const std::string words = model.tokenizer().decode(result.tokenIds);
    const bool hard = options.kind == PromptAttackKind::Hard;
    const std::string shown = hard ? words : "\u27e8" + words + "\u27e9";
    result.context = contextOf(hard ? table.index_select(0, nearest) : embeddings.detach()).to(view.dtype);
    result.promptText = options.placement == TokenPlacement::Prefix ? shown + " " + prompt : prompt + " " + shown;
    if (wasTraining)
        unet->train();
    return result;
}

diffusion::TextToImageModel withPromptContext(
    const models::sd::StableDiffusion& model, const std::string& key, const torch::Tensor& context)
{
    diffusion::TextToImageModel view = model.model();
    const auto encode = view.encodePrompts;
    view.encodePrompts = [encode, key, context](const std::vector<std::string>& prompts) {
        std::vector<torch::Tensor> rows;
        for (const std::string& p : prompts)
            rows.push_back(p == key ? context : encode({ p }));
        return torch::cat(rows);
    };
    return view;
}

} // namespace lethe::attack
