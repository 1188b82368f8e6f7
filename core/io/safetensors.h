#pragma once

#include "mapped_file.h"

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lethe::io {

/// Element types of the safetensors format.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool, U16, U32, U64, F8E4M3, F8E5M2 };

/// The format's spelling of a dtype ("F32", "BOOL", "F8_E4M3", ...).
std::string dtypeName(DType dtype);
/// Parses the format's spelling; nullopt for an unknown name.
std::optional<DType> dtypeFromName(const std::string& name);
/// Bytes per element.
std::size_t dtypeSize(DType dtype);
/// The LibTorch scalar type for a dtype; nullopt where LibTorch has none (U16, U32, U64, F8).
std::optional<torch::ScalarType> toScalarType(DType dtype);
/// The safetensors dtype for a LibTorch scalar type; nullopt for types the format lacks.
std::optional<DType> fromScalarType(torch::ScalarType type);

/// Free-form string pairs stored under "__metadata__".
using Metadata = std::map<std::string, std::string>;

/// One tensor's header entry; offsets are relative to the start of the data region.
struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

/// A validated, memory-mapped safetensors file. Every check of the reference implementation runs in
/// the constructor, so a constructed object is well-formed; tensors are copied out on request.
class SafetensorsFile {
public:
    /// Header lengths above this are rejected before anything is allocated.
    static constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

    explicit SafetensorsFile(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return m_file->path(); }
    const Metadata& metadata() const { return m_metadata; }
    /// Entries in data order.
    const std::vector<TensorEntry>& entries() const { return m_entries; }
    bool contains(const std::string& name) const { return m_index.count(name) != 0; }
    /// Throws FormatError naming the file and the missing tensor.
    const TensorEntry& entry(const std::string& name) const;
    /// The raw little-endian bytes of a tensor, inside the mapping.
    const std::uint8_t* bytes(const TensorEntry& entry) const;
    /// An owned CPU tensor with a copy of the data.
    torch::Tensor tensor(const std::string& name) const;

private:
    void parseHeader();

    std::unique_ptr<MappedFile> m_file;
    std::uint64_t m_dataStart = 0;
    Metadata m_metadata;
    std::vector<TensorEntry> m_entries;
    std::unordered_map<std::string, std::size_t> m_index;
};

/// A tensor to write, under its name.
struct NamedTensor {
    std::string name;
    torch::Tensor tensor;
};

/// Writes tensors (any device; copied to CPU, made contiguous) and metadata as safetensors, atomically.
/// Throws Error for duplicate names or dtypes the format lacks.
void writeSafetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const Metadata& metadata = {});

} // namespace lethe::io
