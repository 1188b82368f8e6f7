#pragma once

#include "cifar10.h"
#include "image_folder.h"
#include "image_set.h"

#include <filesystem>
#include <string>
#include <vector>

namespace lethe::data {

/// The ten Fashion-MNIST class names, by label.
const std::vector<std::string>& fashionMnistClassNames();

/// Where the Debian package dataset-fashion-mnist puts the files; LETHE_FASHION_MNIST_DIR overrides it.
std::filesystem::path fashionMnistDir();

/// Reads an IDX pair ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]) from `dir`.
ImageSet readIdxSplit(const std::filesystem::path& dir, Split split, std::vector<std::string> classNames);

/// The built-in data set: Fashion-MNIST, padded from 28×28 to 32×32 with black borders for the models.
ImageSet loadFashionMnist(Split split, const std::filesystem::path& dir = fashionMnistDir());

/// Kinds of data set a spec can name.
enum class DatasetKind { FashionMnist, Cifar10, Idx, ImageFolder };

/// A resolved data-set spec.
struct DatasetSpec {
    DatasetKind kind = DatasetKind::FashionMnist;
    std::filesystem::path path;
    /// The name the user gave ("fashion-mnist" or a path).
    std::string name;
};

/// Resolves "fashion-mnist" or a folder (CIFAR-10 binary, IDX files, or one subfolder per class).
/// Throws Error saying what was looked for when the spec names none of these.
DatasetSpec resolveDataset(const std::string& spec);

/// Human-readable kind ("CIFAR-10 binary", ...).
std::string kindName(DatasetKind kind);

/// Whether a data set has this split. Image folders have a test split only when they hold train/ and
/// test/ subfolders; otherwise the whole folder is the train split.
bool hasSplit(const DatasetSpec& spec, Split split);

/// Loads one split. Image folders use `options` and report skipped files into `skipped` when given.
ImageSet loadDataset(const DatasetSpec& spec, Split split, const ImageFolderOptions& options = {},
                     std::vector<SkippedFile>* skipped = nullptr);

} // namespace lethe::data
