#include "atomic_file.h"

#include "../error.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace lethe::io {

namespace {

void fsyncDirectory(const std::filesystem::path& dir)
{
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return; // Not fatal: the rename itself already happened.
    ::fsync(fd);
    ::close(fd);
}

} // namespace

AtomicFileWriter::AtomicFileWriter(std::filesystem::path target)
    : m_target(std::move(target))
{
    const std::filesystem::path dir = m_target.parent_path();
    std::string pattern = (dir / ("." + m_target.filename().string() + ".lethe-tmp-XXXXXX")).string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    m_fd = ::mkstemp(buffer.data());
    if (m_fd < 0)
        throw IoError(m_target.string(), "create a temporary file beside it", errno);
    m_temporary = buffer.data();
    // mkstemp creates 0600; a finished file should get the usual permissions.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(m_fd, 0666 & ~mask);
}

AtomicFileWriter::~AtomicFileWriter()
{
    if (!m_committed)
        discard();
}

void AtomicFileWriter::write(const void* data, std::size_t size)
{
    if (m_fd < 0)
        throw Error(m_target.string() + ": write after the file was committed or discarded");
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t written = ::write(m_fd, bytes, size);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            const int err = errno;
            discard();
            throw IoError(m_temporary.string(), "write", err);
        }
        bytes += written;
        size -= static_cast<std::size_t>(written);
    }
}

void AtomicFileWriter::commit()
{
    if (m_fd < 0)
        throw Error(m_target.string() + ": commit after the file was committed or discarded");
    // Crash-safety tests widen the window between the bytes and the rename, so that a kill lands in it.
    static const long pauseMs = [] {
        const char* value = std::getenv("LETHE_TEST_COMMIT_PAUSE_MS");
        return value ? std::strtol(value, nullptr, 10) : 0L;
    }();
    if (pauseMs > 0)
        ::usleep(static_cast<useconds_t>(std::min(pauseMs, 1000L) * 1000));
    if (::fsync(m_fd) != 0) {
        const int err = errno;
        discard();
        throw IoError(m_temporary.string(), "flush to disk", err);
    }
    if (::close(m_fd) != 0) {
        m_fd = -1;
        const int err = errno;
        discard();
        throw IoError(m_temporary.string(), "close", err);
    }
    m_fd = -1;
    if (::rename(m_temporary.c_str(), m_target.c_str()) != 0) {
        const int err = errno;
        discard();
        throw IoError(m_target.string(), "rename the finished temporary file into place", err);
    }
    m_committed = true;
    fsyncDirectory(m_target.parent_path());
}

void AtomicFileWriter::discard() noexcept
{
    if (m_fd >= 0) {
        ::close(m_fd);
        m_fd = -1;
    }
    if (!m_temporary.empty())
        ::unlink(m_temporary.c_str());
}

void writeFileAtomically(const std::filesystem::path& target, const std::string& bytes)
{
    AtomicFileWriter writer(target);
    writer.write(bytes);
    writer.commit();
}

std::string readFile(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw IoError(path.string(), "open for reading", errno);
    std::ostringstream out;
    out << in.rdbuf();
    if (in.bad())
        throw IoError(path.string(), "read", errno);
    return out.str();
}

} // namespace lethe::io
