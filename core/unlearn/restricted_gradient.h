#pragma once

// The restricted-gradient update of Ko et al. (docs/method.md §1), computed tensor by tensor.
#include <torch/types.h>

#include <vector>

namespace lethe::unlearn {

/// What one combination of the forget and remain directions measured.
struct GradientStats {
    double dot = 0.0; ///< s = ⟨a, d⟩ over all parameters.
    double ascentNorm = 0.0; ///< ‖a‖.
    double remainNorm = 0.0; ///< ‖d‖.
    double cosine = 0.0; ///< cos(a, d); 0 when either is zero.
    bool projected = false; ///< The two conflicted (s < 0) and both were projected.
    bool finite = true; ///< Every reduction above was finite.
};

/// Replaces NaN by 0 and ±Inf by ±1e3, in place, as the reference code does before combining.
void sanitizeGradient(torch::Tensor& gradient);

/// Combines the forget direction `a` (one tensor per parameter; the reference code's −∇L_f) with the
/// remain gradient `d`, which is read from and overwritten by the result `a' + λ d'`:
///   if ⟨a, d⟩ < 0 and `restrict`:  a' = a − (s/‖d‖²) d,  d' = d − (s/‖a‖²) a  (both from the unprojected
///   vectors), else a' = a, d' = d.
/// The inner products and norms are accumulated per tensor in double over all parameters (one global s,
/// not one per layer); no flat copy is made: the result is (1 − λ·s/‖a‖²)·a + (λ − s/‖d‖²)·d, written in
/// place into `d`. Undefined entries of `d` count as zero gradients (and are allocated when `a` is not).
GradientStats combineRestricted(
    const std::vector<torch::Tensor>& ascent, std::vector<torch::Tensor>& remain, double lambda, bool restrict);

} // namespace lethe::unlearn
