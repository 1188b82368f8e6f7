#include "cifar10.h"

#include "../error.h"
#include "../io/mapped_file.h"

#include <torch/torch.h>

#include <fstream>

namespace lethe::data {

namespace {

constexpr std::int64_t kPixels = 3 * 32 * 32;
constexpr std::int64_t kRecord = 1 + kPixels;

const std::vector<std::string>& defaultCifarNames()
{
    static const std::vector<std::string> names = {"airplane", "automobile", "bird", "cat", "deer",
                                                   "dog", "frog", "horse", "ship", "truck"};
    return names;
}

std::vector<std::string> readClassNames(const std::filesystem::path& dir)
{
    const auto metaPath = dir / "batches.meta.txt";
    if (!std::filesystem::exists(metaPath))
        return defaultCifarNames();
    std::ifstream in(metaPath);
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.pop_back();
        if (!line.empty())
            names.push_back(line);
    }
    if (names.size() != 10)
        throw FormatError(metaPath.string(), "class names",
                          "expected 10 non-empty lines, found " + std::to_string(names.size()));
    return names;
}

} // namespace

std::string splitName(Split split)
{
    return split == Split::Train ? "train" : "test";
}

void readCifar10Batch(const std::filesystem::path& path, std::vector<torch::Tensor>& images,
                      std::vector<torch::Tensor>& labels)
{
    const io::MappedFile file(path);
    const auto size = static_cast<std::int64_t>(file.size());
    if (size == 0 || size % kRecord != 0)
        throw FormatError(path.string(), "file size",
                          std::to_string(size) + " bytes is not a whole number of 3073-byte records"
                              + (size > kRecord ? " (truncated or padded)" : ""));
    const std::int64_t n = size / kRecord;
    torch::Tensor batchImages = torch::empty({n, 3, 32, 32}, torch::kUInt8);
    torch::Tensor batchLabels = torch::empty({n}, torch::kInt64);
    auto* pixels = batchImages.data_ptr<std::uint8_t>();
    auto* label = batchLabels.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) {
        const std::uint8_t* record = file.data() + i * kRecord;
        if (record[0] > 9)
            throw FormatError(path.string(), "record " + std::to_string(i) + " (byte " + std::to_string(i * kRecord) + ")",
                              "label " + std::to_string(record[0]) + " is outside 0–9 (not a CIFAR-10 batch)");
        label[i] = record[0];
        std::memcpy(pixels + i * kPixels, record + 1, kPixels);
    }
    images.push_back(batchImages);
    labels.push_back(batchLabels);
}

bool isCifar10Dir(const std::filesystem::path& dir)
{
    return std::filesystem::is_regular_file(dir / "data_batch_1.bin")
        || std::filesystem::is_regular_file(dir / "test_batch.bin");
}

ImageSet readCifar10(const std::filesystem::path& dir, Split split)
{
    std::vector<std::filesystem::path> files;
    if (split == Split::Train) {
        for (int i = 1; i <= 5; ++i)
            files.push_back(dir / ("data_batch_" + std::to_string(i) + ".bin"));
    } else {
        files.push_back(dir / "test_batch.bin");
    }
    std::vector<torch::Tensor> images;
    std::vector<torch::Tensor> labels;
    for (const auto& file : files) {
        if (!std::filesystem::exists(file))
            throw FormatError(dir.string(), "CIFAR-10 " + splitName(split) + " split",
                              "missing " + file.filename().string());
        readCifar10Batch(file, images, labels);
    }
    ImageSet set;
    set.images = torch::cat(images);
    set.labels = torch::cat(labels);
    set.classNames = readClassNames(dir);
    set.source = "CIFAR-10 " + splitName(split) + " (" + dir.string() + ")";
    set.validate();
    return set;
}

} // namespace lethe::data
