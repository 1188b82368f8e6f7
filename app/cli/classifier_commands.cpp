#include "cli_support.h"
#include "commands.h"

#include "core/data/datasets.h"
#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/io/model_file.h"
#include "core/io/sha256.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/runtime.h"
#include "core/train/classifier_trainer.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

namespace lethe::cli {

namespace {

std::string progressText(const train::ClassifierTrainProgress& p)
{
    char text[160];
    std::snprintf(text, sizeof text, "step %lld/%lld  epoch %d/%d  loss %.4f  lr %.4g  %.0f images/s  ETA %s",
        static_cast<long long>(p.step), static_cast<long long>(p.totalSteps), p.epoch, p.epochs, p.loss, p.learningRate,
        p.imagesPerSecond, duration(p.etaSeconds).c_str());
    return text;
}

/// Loads a split as the classifier needs it: 32×32, with 28×28 IDX images padded like Fashion-MNIST.
data::ImageSet loadClassifierData(const data::DatasetSpec& spec, data::Split split, int channels)
{
    std::vector<data::SkippedFile> skipped;
    data::ImageSet set = data::loadDataset(spec, split, data::ImageFolderOptions { 32, channels }, &skipped);
    for (const auto& file : skipped)
        spdlog::warn("skipped {}: {}", file.path.string(), file.reason);
    if (set.height() == 28 && set.width() == 28)
        set = data::padded(set, 2);
    if (set.height() != 32 || set.width() != 32)
        throw Error("data set '" + spec.name + "' has " + std::to_string(set.height()) + "×"
            + std::to_string(set.width()) + " images; the classifier needs 32×32 (or 28×28, which is padded)");
    return set;
}

void printClassTable(const std::vector<std::string>& classNames, const eval::ClassAccuracy& accuracy)
{
    std::size_t nameWidth = 5;
    for (const auto& name : classNames)
        nameWidth = std::max(nameWidth, name.size());
    const int w = static_cast<int>(nameWidth) + 2;
    std::cout << std::left << std::setw(4) << "#" << std::setw(w) << "class" << std::right << std::setw(8) << "images"
              << std::setw(9) << "correct" << std::setw(11) << "accuracy" << '\n';
    for (std::size_t c = 0; c < classNames.size(); ++c)
        std::cout << std::left << std::setw(4) << c << std::setw(w) << classNames[c] << std::right << std::setw(8)
                  << accuracy.total[c] << std::setw(9) << accuracy.correct[c] << std::setw(11)
                  << percent(accuracy.accuracy[c]) << '\n';
    std::cout << std::left << std::setw(4) << "" << std::setw(w) << "overall" << std::right << std::setw(28)
              << percent(accuracy.overall) << '\n';
    std::cout << std::left << std::setw(4) << "" << std::setw(w) << "class mean" << std::right << std::setw(28)
              << percent(accuracy.classMean) << '\n';
}

std::string deviceName(const torch::Device& device)
{
    std::ostringstream out;
    out << device;
    return out.str();
}

struct TrainClassifierOptions {
    std::string data = "fashion-mnist";
    std::string out;
    std::string device = "auto";
    std::string optimizer = train::optimizerName(train::ClassifierTrainConfig {}.optimizer);
    std::string schedule = train::scheduleName(train::ClassifierTrainConfig {}.schedule);
    bool noFlip = false;
    int channels = 3;
    train::ClassifierTrainConfig config;
    models::ResNetClassifierOptions network { 1, 2 };
};

void trainClassifierCommand(const TrainClassifierOptions& o, GlobalOptions& global)
{
    const torch::Device device = resolveDevice(o.device);
    train::ClassifierTrainConfig config = o.config;
    config.optimizer = o.optimizer == "adam" ? train::ClassifierOptimizer::Adam : train::ClassifierOptimizer::Sgd;
    config.schedule = o.schedule == "step" ? train::ClassifierSchedule::Step : train::ClassifierSchedule::Cosine;
    config.horizontalFlip = !o.noFlip;

    const data::DatasetSpec spec = data::resolveDataset(o.data);
    const data::ImageSet trainSet = loadClassifierData(spec, data::Split::Train, o.channels);
    data::ImageSet testSet;
    if (data::hasSplit(spec, data::Split::Test))
        testSet = loadClassifierData(spec, data::Split::Test, o.channels);
    else
        spdlog::warn("data set '{}' has no test split: test accuracy is not measured", spec.name);

    models::ResNetClassifierOptions network = o.network;
    network.inChannels(trainSet.channels()).numClasses(trainSet.classCount());

    std::cerr << "Training a classifier on " << trainSet.source << ": " << trainSet.size() << " images, "
              << trainSet.classCount() << " classes, " << trainSet.channels() << "×32×32\n"
              << "network " << models::toJson(network).dump() << "\n"
              << "config  " << io::configToJson(config).dump() << "\n"
              << "device  " << deviceName(device) << ", " << torch::get_num_threads() << " CPU thread(s)\n";

    ProgressLine progress;
    train::ClassifierTrainObserver observer;
    observer.onStep = [&progress](const train::ClassifierTrainProgress& p) {
        progress.update(progressText(p), p.step == p.totalSteps);
    };
    observer.onEpoch = [&progress, &config](const train::ClassifierEpochRecord& r) {
        progress.clear();
        std::cout << "epoch " << r.epoch << "/" << config.epochs << "  loss " << std::fixed << std::setprecision(4)
                  << r.loss << "  train " << percent(r.trainAccuracy) << "  test " << percent(r.testAccuracy) << "  ("
                  << std::setprecision(1) << r.seconds << " s)" << std::defaultfloat << std::endl;
    };

    train::ClassifierTrainResult result;
    {
        CancelOnInterrupt interrupt;
        result
            = train::trainClassifier(trainSet, testSet, network, config, device, observer, CancelOnInterrupt::flag());
    }
    progress.clear();
    if (result.cancelled) {
        std::cerr << "cancelled after " << result.steps << " steps; " << o.out << " was not written\n";
        global.exitCode = 130;
        return;
    }

    io::ModelInfo info;
    info.classes = trainSet.classNames;
    info.dataset = { { "name", spec.name }, { "resolution", 32 }, { "channels", trainSet.channels() } };
    info.provenance.method = "train-classifier";
    info.provenance.command = io::commandLine(global.argc, global.argv);
    info.provenance.seed = config.seed;
    info.provenance.steps = result.steps;
    info.provenance.imagesSeen = result.imagesSeen;
    info.provenance.wallSeconds = result.wallSeconds;
    info.provenance.created = io::utcNow();
    info.provenance.hyperparameters = io::configToJson(config);
    info.provenance.hyperparameters["device"] = deviceName(device);

    const std::filesystem::path out(o.out);
    if (out.has_parent_path())
        std::filesystem::create_directories(out.parent_path());
    models::saveClassifier(out, result.model, info);

    if (testSet.size() > 0) {
        const eval::Classification predicted
            = eval::classify(result.model, testSet.images, config.evalBatchSize, device);
        std::cout << "\nTest accuracy per class (" << testSet.source << ")\n";
        printClassTable(
            testSet.classNames, eval::perClassAccuracy(predicted.labels, testSet.labels, testSet.classCount()));
    }
    std::cout << "\nWrote " << out.string() << " (" << std::filesystem::file_size(out) << " bytes, sha256 "
              << io::sha256File(out) << ") in " << duration(result.wallSeconds) << '\n';
}

struct ClassifyOptions {
    std::string model;
    std::string data;
    std::string split = "test";
    std::string device = "auto";
    std::int64_t batch = 500;
};

void classifyCommand(const ClassifyOptions& o)
{
    const torch::Device device = resolveDevice(o.device);
    models::LoadedClassifier loaded = models::loadClassifier(o.model, device);
    const auto& network = loaded.model->options();
    std::string dataName = o.data;
    if (dataName.empty()) {
        dataName = loaded.info.dataset.value("name", std::string());
        if (dataName.empty())
            throw Error(o.model + " names no data set: pass --data");
    }
    const data::DatasetSpec spec = data::resolveDataset(dataName);
    const data::Split split = o.split == "train" ? data::Split::Train : data::Split::Test;
    if (!data::hasSplit(spec, split))
        throw Error("data set '" + spec.name + "' has no " + o.split + " split");
    const data::ImageSet set = loadClassifierData(spec, split, static_cast<int>(network.inChannels()));
    if (set.classCount() != network.numClasses())
        throw Error("data set '" + spec.name + "' has " + std::to_string(set.classCount()) + " classes, the classifier "
            + std::to_string(network.numClasses()));
    if (set.classNames != loaded.info.classes)
        spdlog::warn("the data set's class names differ from the classifier's; labels are compared by number");

    const eval::Classification predicted = eval::classify(loaded.model, set.images, o.batch, device);
    std::cout << "Classifier " << o.model << " (" << network.numClasses() << " classes, trained on "
              << loaded.info.dataset.value("name", std::string("?")) << ")\n"
              << "Data       " << set.source << ", " << set.size() << " images\n\n";
    printClassTable(loaded.info.classes, eval::perClassAccuracy(predicted.labels, set.labels, set.classCount()));
}

} // namespace

void addClassifierCommands(CLI::App& app, GlobalOptions& global)
{
    auto t = std::make_shared<TrainClassifierOptions>();
    CLI::App* trainCmd = app.add_subcommand(
        "train-classifier", "Train the evaluation classifier (UA, RA, FD_cls, KID_cls) on a data set and save it");
    trainCmd->add_option("--data", t->data, "Data set: 'fashion-mnist' or a folder (CIFAR-10, IDX, image folder)")
        ->capture_default_str();
    trainCmd->add_option("--out", t->out, "Output model file (.safetensors), written atomically")->required();
    trainCmd->add_option("--epochs", t->config.epochs, "Training epochs")
        ->capture_default_str()
        ->check(CLI::Range(1, 10000));
    trainCmd->add_option("--batch", t->config.batchSize, "Batch size")
        ->capture_default_str()
        ->check(CLI::Range(1, 65536));
    trainCmd->add_option("--lr", t->config.learningRate, "Peak learning rate")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    trainCmd->add_option("--weight-decay", t->config.weightDecay, "Weight decay")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    trainCmd->add_option("--optimizer", t->optimizer, "sgd (Nesterov momentum) or adam")
        ->capture_default_str()
        ->check(CLI::IsMember({ "sgd", "adam" }));
    trainCmd->add_option("--schedule", t->schedule, "cosine, or step (×gamma every --step-epochs)")
        ->capture_default_str()
        ->check(CLI::IsMember({ "cosine", "step" }));
    trainCmd->add_option("--step-epochs", t->config.stepEpochs, "Step schedule: epochs between decays")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    trainCmd->add_option("--seed", t->config.seed, "Seed of weights, shuffles and augmentation")->capture_default_str();
    trainCmd->add_option("--crop-padding", t->config.cropPadding, "Random-crop padding in pixels (0 = no crop)")
        ->capture_default_str()
        ->check(CLI::Range(0, 16));
    trainCmd->add_flag("--no-flip", t->noFlip, "Do not flip images left-right at random");
    trainCmd->add_option("--label-smoothing", t->config.labelSmoothing, "Label smoothing")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.99));
    trainCmd->add_option("--width", t->network.width(), "Channels of the first stage (doubled per stage)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    trainCmd->add_option("--blocks", t->network.blocks(), "Residual blocks per stage, e.g. 2,2,2")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::Range(1, 16));
    trainCmd->add_option("--dropout", t->network.dropout(), "Dropout before the last layer")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.95));
    trainCmd->add_option("--channels", t->channels, "Image folders: 1 (grey) or 3 (RGB)")
        ->capture_default_str()
        ->check(CLI::IsMember({ 1, 3 }));
    trainCmd->add_option("--device", t->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    trainCmd->callback([t, &global] { runCommand(global, [&] { trainClassifierCommand(*t, global); }); });

    auto c = std::make_shared<ClassifyOptions>();
    CLI::App* classifyCmd
        = app.add_subcommand("classify", "Per-class accuracy of a Lethe classifier on real images of a data set");
    classifyCmd->add_option("--model", c->model, "Classifier file")->required()->check(CLI::ExistingFile);
    classifyCmd->add_option("--data", c->data, "Data set (default: the one the classifier was trained on)");
    classifyCmd->add_option("--split", c->split, "train or test")
        ->capture_default_str()
        ->check(CLI::IsMember({ "train", "test" }));
    classifyCmd->add_option("--batch", c->batch, "Batch size")->capture_default_str()->check(CLI::Range(1, 65536));
    classifyCmd->add_option("--device", c->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    classifyCmd->callback([c, &global] { runCommand(global, [&] { classifyCommand(*c); }); });
}

} // namespace lethe::cli
