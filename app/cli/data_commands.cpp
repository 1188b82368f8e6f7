#include "commands.h"

#include "core/data/datasets.h"

#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <memory>

namespace lethe::cli {

namespace {

struct DataInfoOptions {
    std::string spec;
    int size = 32;
    int channels = 3;
};

void printDataInfo(const DataInfoOptions& options)
{
    const data::DatasetSpec spec = data::resolveDataset(options.spec);
    const data::ImageFolderOptions folderOptions{options.size, options.channels};

    std::vector<std::pair<data::Split, data::ImageSet>> splits;
    std::vector<data::SkippedFile> skipped;
    for (const data::Split split : {data::Split::Train, data::Split::Test}) {
        if (!data::hasSplit(spec, split))
            continue;
        std::vector<data::SkippedFile> splitSkipped;
        splits.emplace_back(split, data::loadDataset(spec, split, folderOptions, &splitSkipped));
        skipped.insert(skipped.end(), splitSkipped.begin(), splitSkipped.end());
    }
    const data::ImageSet& first = splits.front().second;

    std::cout << "Data set  " << spec.name << " (" << data::kindName(spec.kind) << ")\n";
    for (const auto& [split, set] : splits)
        std::cout << "Source    " << set.source << '\n';
    std::cout << "Images    " << first.channels() << "×" << first.height() << "×" << first.width() << " uint8, "
              << first.classCount() << " classes\n\n";

    std::size_t nameWidth = 5;
    for (const auto& name : first.classNames)
        nameWidth = std::max(nameWidth, name.size());
    std::cout << std::left << std::setw(4) << "#" << std::setw(static_cast<int>(nameWidth) + 2) << "class";
    for (const auto& [split, set] : splits)
        std::cout << std::right << std::setw(8) << data::splitName(split);
    std::cout << '\n';
    std::vector<std::vector<std::int64_t>> counts;
    for (const auto& [split, set] : splits)
        counts.push_back(set.classCounts());
    for (int c = 0; c < first.classCount(); ++c) {
        std::cout << std::left << std::setw(4) << c << std::setw(static_cast<int>(nameWidth) + 2)
                  << first.classNames[static_cast<std::size_t>(c)];
        for (const auto& splitCounts : counts)
            std::cout << std::right << std::setw(8) << splitCounts[static_cast<std::size_t>(c)];
        std::cout << '\n';
    }
    std::cout << std::left << std::setw(4) << "" << std::setw(static_cast<int>(nameWidth) + 2) << "total";
    for (const auto& [split, set] : splits)
        std::cout << std::right << std::setw(8) << set.size();
    std::cout << '\n';

    if (!skipped.empty()) {
        std::cout << '\n' << skipped.size() << " file(s) skipped:\n";
        for (const auto& file : skipped)
            std::cout << "  " << file.path.string() << ": " << file.reason << '\n';
    }
}

} // namespace

void addDataCommands(CLI::App& app, GlobalOptions& global)
{
    CLI::App* data = app.add_subcommand("data", "Inspect data sets");
    data->require_subcommand(1);

    auto options = std::make_shared<DataInfoOptions>();
    CLI::App* info = data->add_subcommand(
        "info", "Per-class image counts of a data set: 'fashion-mnist', a CIFAR-10 binary folder, a folder of "
                "IDX files, or an image folder (one subfolder per class)");
    info->add_option("dataset", options->spec, "Data set name or folder")->required();
    info->add_option("--size", options->size, "Image folders: side length images are scaled and cropped to")
        ->capture_default_str()
        ->check(CLI::Range(4, 1024));
    info->add_option("--channels", options->channels, "Image folders: 1 (grey) or 3 (RGB)")
        ->capture_default_str()
        ->check(CLI::IsMember({1, 3}));
    info->callback([options, &global] { runCommand(global, [&] { printDataInfo(*options); }); });
}

} // namespace lethe::cli
