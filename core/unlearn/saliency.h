#pragma once

// SalUn's weight-saliency mask (Fan et al., ICLR 2024; docs/method.md §1): which entries of the trainable weights a
// SalUn run may change, from the magnitudes of the forget loss's gradient.
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace lethe::unlearn {

/// Forget batches whose gradient magnitudes make a class run's saliency mask (UnlearnSession; the sweep's cost plan
/// counts them too).
inline constexpr int kSaliencyBatches = 4;

/// The mask of `magnitudes` (one tensor per parameter, |∇L_f| accumulated over the forget set): 1 at the
/// round(fraction · n) largest entries over all parameters together (at least one; n counts every entry), else 0,
/// in each tensor's shape and dtype. Ties keep the earlier entry (parameter order, then row-major), so exactly
/// that many entries are kept; entries whose magnitude is 0 (no gradient at all) are never kept, even when fewer
/// entries are then salient. Throws Error for a fraction outside (0, 1].
std::vector<torch::Tensor> saliencyMask(const std::vector<torch::Tensor>& magnitudes, double fraction);

/// saliencyMask() of the gradients the forget loss left in `parameters`' .grad() (|grad|; none counts as 0), logged
/// with the share kept.
std::vector<torch::Tensor> saliencyMaskOfGradients(
    const std::vector<std::pair<std::string, torch::Tensor>>& parameters, double fraction);

} // namespace lethe::unlearn
