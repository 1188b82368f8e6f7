#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace lethe::io {

/// Writes a file so that its final name only ever holds a complete file: the bytes go to a temporary
/// file in the same folder, which commit() flushes, fsyncs and renames over the target. Destroying the
/// writer without commit() removes the temporary file and leaves any previous file untouched.
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(std::filesystem::path target);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    void write(const void* data, std::size_t size);
    void write(const std::string& bytes) { write(bytes.data(), bytes.size()); }
    /// Makes the new content visible under the target name. Throws IoError on failure. (For crash-safety
    /// tests, $LETHE_TEST_COMMIT_PAUSE_MS pauses that long, at most 1 s, before the flush and rename.)
    void commit();

    const std::filesystem::path& target() const { return m_target; }
    const std::filesystem::path& temporaryPath() const { return m_temporary; }

private:
    void discard() noexcept;

    std::filesystem::path m_target;
    std::filesystem::path m_temporary;
    int m_fd = -1;
    bool m_committed = false;
};

/// Writes `bytes` to `target` atomically (see AtomicFileWriter).
void writeFileAtomically(const std::filesystem::path& target, const std::string& bytes);

/// Reads a whole file; throws IoError when it cannot.
std::string readFile(const std::filesystem::path& path);

} // namespace lethe::io
