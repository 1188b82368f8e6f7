#pragma once

// Unified Concept Editing (Gandikota et al., WACV 2024; docs/method.md §1): a closed-form edit of the cross-attention
// key and value projections of a text-to-image UNet, so that the text embeddings of erased concepts map to what a
// guide's embeddings map to while preserved concepts keep their mappings. No training loop.
#include "core/models/sd/stable_diffusion.h"

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace lethe::unlearn {

/// The text-embedding rows an edit uses, as UCE's authors take them (train_erase.py, edit_model): for an erased
/// concept and its guide, each text's last hidden states from its last word token (index length − 2) to the end of
/// the padded sequence, both cut at the end to the same length; for a preserved concept, its rows from its last
/// word token to the end. float32 on the text encoder's device.
struct UceEmbeddings {
    torch::Tensor erase; ///< [n_e, d]: the erased concepts' rows.
    torch::Tensor guide; ///< [n_e, d]: the guide's rows, row i the target of erase row i.
    torch::Tensor preserve; ///< [n_p, d]: the preserved concepts' rows ([0, d] for none).
};

/// The texts of an edit.
struct UceTexts {
    /// (erased text, the text it is mapped to).
    std::vector<std::pair<std::string, std::string>> erase;
    std::vector<std::string> preserve;
};

/// The texts UCE edits with, as its authors augment a concept with the prompts it is asked in (train_erase.py: "image
/// of {concept}", "photo of {concept}", …), here the run's own forget prompts: each concept word mapped to `guide`
/// ("" = the empty prompt), and each distinct prompt of `prompts` that names a concept word (as a whole word) mapped
/// to the same prompt with the word replaced by the guide; each preserved concept alone, and in each of those
/// prompts in place of the concept word. Spaces left doubled by an empty guide are collapsed.
UceTexts uceTexts(const std::vector<std::string>& words, const std::string& guide,
    const std::vector<std::string>& preserve, const std::vector<std::string>& prompts);

/// UceEmbeddings of `texts`, from `sd`'s tokenizer and frozen text encoder. Throws Error for no erased text.
UceEmbeddings uceEmbeddings(const models::sd::StableDiffusion& sd, const UceTexts& texts);

/// The weights of one edit.
struct UceWeights {
    double regularisation = 0.1; ///< λ of ‖W − W_old‖².
    double eraseScale = 1.0; ///< The erased rows' weight.
    double preserveScale = 0.1; ///< The preserved rows' weight.
};

/// The minimiser of λ‖W − W_old‖² + s_e Σ_i ‖W c_i − W_old g_i‖² + s_p Σ_j ‖W p_j − W_old p_j‖² over W
/// (rows c_i of embeddings.erase, g_i of .guide, p_j of .preserve):
///   W = (λ W_old + s_e Σ W_old g_i c_iᵀ + s_p Σ W_old p_j p_jᵀ) (λ I + s_e Σ c_i c_iᵀ + s_p Σ p_j p_jᵀ)⁻¹,
/// computed in float64 by a linear solve and returned in `weight`'s dtype and device. Throws Error when the system
/// is singular (λ = 0 with too few rows) or the result is not finite.
torch::Tensor uceClosedForm(const torch::Tensor& weight, const UceEmbeddings& embeddings, const UceWeights& weights);

/// Names of the parameters UCE edits in `unet`: every cross-attention ("attn2") key and value projection weight.
std::vector<std::string> uceParameterNames(const models::sd::UNet2DConditionModel& unet);

} // namespace lethe::unlearn
