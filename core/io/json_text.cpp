#include "json_text.h"

#include <nlohmann/json.hpp>

namespace lethe::io {

std::string jsonText(const nlohmann::json& value, int indent)
{
    std::string text = value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
    return indent >= 0 ? text + "\n" : text;
}

} // namespace lethe::io
