#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace lethe::io {

/// Incremental SHA-256 (FIPS 180-4), for provenance hashes of model files.
class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    /// Lower-case hex digest; the object must not be updated afterwards.
    std::string hexDigest();

private:
    void compress(const std::uint8_t* block);

    std::uint32_t m_state[8];
    std::uint8_t m_buffer[64];
    std::size_t m_buffered = 0;
    std::uint64_t m_length = 0;
};

/// SHA-256 of a string of bytes, as lower-case hex.
std::string sha256Hex(const std::string& bytes);
/// SHA-256 of a file's contents (memory-mapped), as lower-case hex.
std::string sha256File(const std::filesystem::path& path);

} // namespace lethe::io
