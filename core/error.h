#pragma once

#include <stdexcept>
#include <string>

namespace lethe {

/// Base of every error core throws; front ends catch it and show what().
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message);
};

/// A file that cannot be read as what it claims to be. The message names the file, the place in it
/// (a key, a tensor name or a byte offset), what was expected and what was found.
class FormatError : public Error {
public:
    FormatError(const std::string& file, const std::string& where, const std::string& problem);

    const std::string& file() const { return m_file; }
    const std::string& where() const { return m_where; }
    const std::string& problem() const { return m_problem; }

private:
    std::string m_file;
    std::string m_where;
    std::string m_problem;
};

/// An operating-system failure on a path (open, write, rename, ...), with errno's text.
class IoError : public Error {
public:
    IoError(const std::string& file, const std::string& action, int errnoValue);
};

} // namespace lethe
