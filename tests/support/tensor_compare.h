#pragma once

// Comparing tensors in tests: exactly (bit for bit) or by their largest difference.
#include <torch/torch.h>

#include <cstring>

namespace lethe::test {

/// Same dtype, shape and bytes (on the CPU); NaNs with the same bits count as equal.
inline bool bitIdentical(const torch::Tensor& a, const torch::Tensor& b)
{
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes())
        return false;
    const auto ca = a.cpu().contiguous();
    const auto cb = b.cpu().contiguous();
    // An empty tensor may have no storage at all: memcmp must not see its null pointer.
    return ca.nbytes() == cb.nbytes()
        && (ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0);
}

/// max |a − b| in double precision, on the CPU.
inline double maxAbsDifference(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kFloat64).cpu() - b.to(torch::kFloat64).cpu()).abs().max().item<double>();
}

} // namespace lethe::test
