#include "describe.h"

#include <c10/core/ScalarType.h>

#include <sstream>

namespace lethe {

std::string describeTensor(const torch::Tensor& tensor)
{
    if (!tensor.defined())
        return "undefined";
    std::string text = std::string(c10::toString(tensor.scalar_type())) + " [";
    for (std::int64_t d = 0; d < tensor.dim(); ++d)
        text += (d > 0 ? ", " : "") + std::to_string(tensor.size(d));
    return text + "]";
}

std::string formatNumber(double value)
{
    std::ostringstream text;
    text << value;
    return text.str();
}

} // namespace lethe
