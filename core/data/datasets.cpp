#include "datasets.h"

#include "../error.h"
#include "idx.h"

#include <cstdlib>

namespace lethe::data {

namespace {

constexpr const char* kFashionMnistName = "fashion-mnist";

std::filesystem::path findIdxFile(const std::filesystem::path& dir, const std::string& stem)
{
    for (const char* suffix : {".gz", ""}) {
        const auto candidate = dir / (stem + suffix);
        if (std::filesystem::is_regular_file(candidate))
            return candidate;
    }
    throw FormatError(dir.string(), "", "missing " + stem + ".gz (or " + stem + ")");
}

bool isIdxDir(const std::filesystem::path& dir)
{
    for (const char* name : {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
                             "t10k-images-idx3-ubyte.gz"})
        if (std::filesystem::is_regular_file(dir / name))
            return true;
    return false;
}

std::filesystem::path imageFolderSplitDir(const DatasetSpec& spec, Split split)
{
    const auto splitDir = spec.path / splitName(split);
    if (isImageFolder(spec.path / "train") && isImageFolder(spec.path / "test"))
        return splitDir;
    if (split == Split::Test)
        throw Error(spec.path.string() + ": this image folder has no test split (it needs train/ and test/ subfolders)");
    return spec.path;
}

} // namespace

const std::vector<std::string>& fashionMnistClassNames()
{
    static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

std::filesystem::path fashionMnistDir()
{
    if (const char* overridden = std::getenv("LETHE_FASHION_MNIST_DIR"); overridden && *overridden)
        return overridden;
    return "/usr/share/datasets/fashion-mnist";
}

ImageSet readIdxSplit(const std::filesystem::path& dir, Split split, std::vector<std::string> classNames)
{
    const std::string prefix = split == Split::Train ? "train" : "t10k";
    ImageSet set;
    set.images = readIdxImages(findIdxFile(dir, prefix + "-images-idx3-ubyte"));
    set.labels = readIdxLabels(findIdxFile(dir, prefix + "-labels-idx1-ubyte"));
    set.classNames = std::move(classNames);
    set.source = "IDX " + splitName(split) + " (" + dir.string() + ")";
    set.validate();
    return set;
}

ImageSet loadFashionMnist(Split split, const std::filesystem::path& dir)
{
    if (!std::filesystem::is_directory(dir))
        throw Error("the built-in data set needs the Fashion-MNIST files in " + dir.string()
                    + " (Debian package dataset-fashion-mnist; scripts/lethe setup installs it)");
    ImageSet set = padded(readIdxSplit(dir, split, fashionMnistClassNames()), 2);
    set.source = "Fashion-MNIST " + splitName(split) + ", padded to 32×32 (" + dir.string() + ")";
    return set;
}

DatasetSpec resolveDataset(const std::string& spec)
{
    if (spec == kFashionMnistName)
        return {DatasetKind::FashionMnist, fashionMnistDir(), spec};
    const std::filesystem::path path(spec);
    if (!std::filesystem::exists(path))
        throw Error("unknown data set '" + spec + "': expected 'fashion-mnist' or a folder, and no such folder exists");
    if (!std::filesystem::is_directory(path))
        throw Error("data set '" + spec + "' is a file: expected 'fashion-mnist' or a folder "
                    "(CIFAR-10 binary batches, IDX files, or one subfolder of images per class)");
    if (isCifar10Dir(path))
        return {DatasetKind::Cifar10, path, spec};
    if (isIdxDir(path))
        return {DatasetKind::Idx, path, spec};
    if (isImageFolder(path))
        return {DatasetKind::ImageFolder, path, spec};
    throw Error("data set folder '" + spec + "' holds no CIFAR-10 batches (data_batch_1.bin, test_batch.bin), "
                "no IDX files (train-images-idx3-ubyte[.gz]) and no class subfolders");
}

std::string kindName(DatasetKind kind)
{
    switch (kind) {
    case DatasetKind::FashionMnist: return "built-in Fashion-MNIST";
    case DatasetKind::Cifar10: return "CIFAR-10 binary";
    case DatasetKind::Idx: return "IDX files";
    case DatasetKind::ImageFolder: return "image folder";
    }
    return "unknown";
}

bool hasSplit(const DatasetSpec& spec, Split split)
{
    switch (spec.kind) {
    case DatasetKind::FashionMnist: return true;
    case DatasetKind::Cifar10:
        return std::filesystem::exists(spec.path / (split == Split::Train ? "data_batch_1.bin" : "test_batch.bin"));
    case DatasetKind::Idx: {
        const std::string stem = split == Split::Train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
        return std::filesystem::exists(spec.path / stem) || std::filesystem::exists(spec.path / (stem + ".gz"));
    }
    case DatasetKind::ImageFolder:
        return split == Split::Train || (isImageFolder(spec.path / "train") && isImageFolder(spec.path / "test"));
    }
    return false;
}

ImageSet loadDataset(const DatasetSpec& spec, Split split, const ImageFolderOptions& options,
                     std::vector<SkippedFile>* skipped)
{
    switch (spec.kind) {
    case DatasetKind::FashionMnist: return loadFashionMnist(split, spec.path);
    case DatasetKind::Cifar10: return readCifar10(spec.path, split);
    case DatasetKind::Idx: {
        std::vector<std::string> names;
        for (int c = 0; c < 10; ++c)
            names.push_back(std::to_string(c));
        return readIdxSplit(spec.path, split, names);
    }
    case DatasetKind::ImageFolder: {
        ImageFolderResult result = readImageFolder(imageFolderSplitDir(spec, split), options);
        if (skipped)
            *skipped = std::move(result.skipped);
        return std::move(result.set);
    }
    }
    throw Error("unknown data set kind");
}

} // namespace lethe::data
