#include "json_number.h"

namespace lethe::io {

std::string overflowingNumber(const nlohmann::json::out_of_range& e)
{
    // what(): "[json.exception.out_of_range.406] number overflow parsing '1e400'"
    const std::string what = e.what();
    const auto begin = what.find('\'');
    const auto end = what.rfind('\'');
    if (begin == std::string::npos || end <= begin)
        return "?";
    const std::string number = what.substr(begin + 1, end - begin - 1);
    return number.size() > 24 ? number.substr(0, 24) + "…" : number;
}

} // namespace lethe::io
