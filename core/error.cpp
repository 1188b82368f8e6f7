#include "error.h"

#include <cstring>

namespace lethe {

Error::Error(const std::string& message)
    : std::runtime_error(message)
{
}

namespace {
std::string formatMessage(const std::string& file, const std::string& where, const std::string& problem)
{
    std::string message = file;
    if (!where.empty())
        message += ": " + where;
    message += ": " + problem;
    return message;
}
} // namespace

FormatError::FormatError(const std::string& file, const std::string& where, const std::string& problem)
    : Error(formatMessage(file, where, problem))
    , m_file(file)
    , m_where(where)
    , m_problem(problem)
{
}

IoError::IoError(const std::string& file, const std::string& action, int errnoValue)
    : Error(file + ": cannot " + action + ": " + std::strerror(errnoValue))
{
}

} // namespace lethe
