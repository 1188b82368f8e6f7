#pragma once

// NumPy's .npz archives (np.savez, np.savez_compressed): a ZIP archive of .npy arrays. Read without NumPy and
// without pickles: the ZIP structures, the .npy header (a Python dict literal) and the array bytes are parsed here.
// Object arrays, which NumPy can only store as a pickle, are refused before their data is looked at.

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lethe::io {

/// Reads every array of an .npz archive into CPU tensors, keyed by member name without ".npy" (as np.load names
/// them). Element types: float64, float32, float16, int64, int32, int16, int8, uint8 and bool, little-endian; C order,
/// or Fortran order transposed into C order. Stored and deflated members (zlib), ZIP64 extra fields and records, CRC-32
/// checked. Arrays of Python objects (dtype 'O', which NumPy stores as a pickle) are refused without being read.
/// Throws FormatError(file, member, problem), or IoError when the file cannot be opened.
std::map<std::string, torch::Tensor> readNpz(const std::filesystem::path& file);

/// Writes arrays as np.savez does (stored members named name + ".npy", .npy format 1.0 headers), atomically. Tensors
/// may live on any device and be non-contiguous. Throws Error for a duplicate or empty name, or a dtype the reader
/// does not read.
void writeNpz(const std::filesystem::path& file, const std::vector<std::pair<std::string, torch::Tensor>>& arrays);

} // namespace lethe::io
