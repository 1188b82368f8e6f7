#pragma once

#include "image_set.h"

#include <filesystem>
#include <string>
#include <vector>

namespace lethe::data {

/// Which part of a data set to read.
enum class Split { Train, Test };

/// "train" / "test".
std::string splitName(Split split);

/// Reads one CIFAR-10 binary batch file: records of 1 label byte and 3072 pixel bytes (R, G, B planes,
/// 32×32 row-major). Appends to `images` (uint8 N×3×32×32 pieces) and `labels`.
void readCifar10Batch(const std::filesystem::path& path, std::vector<torch::Tensor>& images,
                      std::vector<torch::Tensor>& labels);

/// True when `dir` looks like the CIFAR-10 binary version (has data_batch_1.bin or test_batch.bin).
bool isCifar10Dir(const std::filesystem::path& dir);

/// Reads the CIFAR-10 binary folder: data_batch_1..5.bin for Train, test_batch.bin for Test, class
/// names from batches.meta.txt (the ten standard names when it is missing).
ImageSet readCifar10(const std::filesystem::path& dir, Split split);

} // namespace lethe::data
