#include "uce.h"

#include "core/concept/diversity_preset.h"
#include "core/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <optional>

namespace lethe::unlearn {

namespace {

/// One text's last hidden states [L, d] and the index of its last word token (length − 2, BOS for "").
struct TextRows {
    torch::Tensor states;
    std::int64_t last = 0;
};

TextRows textRows(const models::sd::StableDiffusion& sd, const std::string& text)
{
    const models::sd::ClipTokens tokens = sd.tokenizer().encode(text);
    if (sd.isXl()) {
        // SDXL: the UNet's keys and values read both encoders' states (the packed context without its pooled row).
        torch::NoGradGuard noGrad;
        const torch::Tensor context = sd.model().encodePrompts({ text });
        return { context[0].narrow(0, 0, context.size(1) - 1).to(torch::kFloat32), std::max(0, tokens.length - 2) };
    }
    models::sd::ClipTextModel encoder = sd.textEncoder();
    const torch::Device device = encoder->parameters().front().device();
    const torch::Tensor ids = torch::tensor(tokens.ids, torch::kInt64).unsqueeze(0).to(device);
    return { encoder->forward(ids).last_hidden_state[0].to(torch::kFloat32), std::max(0, tokens.length - 2) };
}

/// `text` with its first whole-word `word` replaced by `by`, single-spaced and trimmed; nullopt without the word.
std::optional<std::string> replaceWord(const std::string& text, const std::string& word, const std::string& by)
{
    const std::optional<std::size_t> at = concepts::findWord(text, word);
    if (!at)
        return std::nullopt;
    const std::string replaced = text.substr(0, *at) + by + text.substr(*at + word.size());
    std::string out;
    for (const char c : replaced)
        if (c != ' ' || (!out.empty() && out.back() != ' '))
            out += c;
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

} // namespace

UceTexts uceTexts(const std::vector<std::string>& words, const std::string& guide,
    const std::vector<std::string>& preserve, const std::vector<std::string>& prompts)
{
    UceTexts texts;
    std::vector<std::string> seen;
    for (const std::string& word : words)
        texts.erase.emplace_back(word, guide);
    texts.preserve = preserve;
    for (const std::string& prompt : prompts) {
        if (std::find(seen.begin(), seen.end(), prompt) != seen.end())
            continue;
        seen.push_back(prompt);
        for (const std::string& word : words) {
            const std::optional<std::string> guided = replaceWord(prompt, word, guide);
            if (!guided)
                continue;
            texts.erase.emplace_back(prompt, *guided);
            for (const std::string& kept : preserve)
                texts.preserve.push_back(*replaceWord(prompt, word, kept));
            break;
        }
    }
    return texts;
}

UceEmbeddings uceEmbeddings(const models::sd::StableDiffusion& sd, const UceTexts& texts)
{
    if (texts.erase.empty())
        throw Error("UCE: no concept to erase");
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> erase;
    std::vector<torch::Tensor> guides;
    for (const auto& [text, guide] : texts.erase) {
        const TextRows target = textRows(sd, guide);
        const TextRows old = textRows(sd, text);
        const std::int64_t length = old.states.size(0);
        const std::int64_t farthest = std::max(old.last, target.last);
        erase.push_back(old.states.slice(0, old.last, length - (farthest - old.last)));
        guides.push_back(target.states.slice(0, target.last, length - (farthest - target.last)));
    }
    std::vector<torch::Tensor> kept;
    for (const std::string& text : texts.preserve) {
        const TextRows rows = textRows(sd, text);
        kept.push_back(rows.states.slice(0, rows.last));
    }
    const std::int64_t width = erase.front().size(1);
    return { torch::cat(erase), torch::cat(guides),
        kept.empty() ? torch::zeros({ 0, width }, erase.front().options()) : torch::cat(kept) };
}

torch::Tensor uceClosedForm(const torch::Tensor& weight, const UceEmbeddings& embeddings, const UceWeights& weights)
{
    torch::NoGradGuard noGrad;
    const auto f64 = [&](const torch::Tensor& t) { return t.detach().to(weight.device(), torch::kFloat64); };
    const torch::Tensor old = f64(weight); // [out, d]
    const torch::Tensor c = f64(embeddings.erase);
    const torch::Tensor g = f64(embeddings.guide);
    const torch::Tensor p = f64(embeddings.preserve);
    if (c.size(1) != old.size(1) || g.sizes() != c.sizes() || p.size(1) != old.size(1))
        throw Error("UCE: embeddings of width " + std::to_string(c.size(1)) + " for a projection taking "
            + std::to_string(old.size(1)));
    const std::int64_t d = old.size(1);
    // mat1 = λW + s_e Σ (W g_i) c_iᵀ + s_p Σ (W p_j) p_jᵀ; mat2 = λI + s_e Σ c_i c_iᵀ + s_p Σ p_j p_jᵀ.
    const torch::Tensor mat1 = weights.regularisation * old
        + weights.eraseScale * torch::matmul(torch::matmul(old, g.t()), c)
        + weights.preserveScale * torch::matmul(torch::matmul(old, p.t()), p);
    const torch::Tensor mat2 = weights.regularisation * torch::eye(d, old.options()) + weights.eraseScale * c.t().mm(c)
        + weights.preserveScale * p.t().mm(p);
    // W mat2 = mat1 with mat2 symmetric: mat2 Wᵀ = mat1ᵀ.
    torch::Tensor solved;
    try {
        solved = torch::linalg_solve(mat2, mat1.t()).t();
    } catch (const c10::Error&) {
        throw Error("UCE: the edit's system is singular (a regularisation of 0 needs at least as many embedding rows "
                    "as the text width); give a regularisation greater than 0");
    }
    if (!torch::isfinite(solved).all().item<bool>())
        throw Error("UCE: the edit is not finite");
    return solved.to(weight.scalar_type());
}

std::vector<std::string> uceParameterNames(const models::sd::UNet2DConditionModel& unet)
{
    std::vector<std::string> names;
    const auto endsWith = [](const std::string& text, const std::string& end) {
        return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
    };
    for (const auto& item : unet->named_parameters())
        if (endsWith(item.key(), "attn2.to_k.weight") || endsWith(item.key(), "attn2.to_v.weight"))
            names.push_back(item.key());
    return names;
}

} // namespace lethe::unlearn
