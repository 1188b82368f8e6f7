#pragma once

// Short descriptions of values for error messages.
#include <torch/types.h>

#include <string>

namespace lethe {

/// "Float [2, 3, 32, 32]" or "undefined".
std::string describeTensor(const torch::Tensor& tensor);

/// Shortest readable form of a number ("0.5", "-1", "inf").
std::string formatNumber(double value);

} // namespace lethe
