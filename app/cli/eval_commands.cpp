// eval and bench: measuring models and the speed of the core loops.
#include "cli_support.h"
#include "commands.h"
#include "measure_flags.h"

#include "core/data/datasets.h"
#include "core/diffusion/class_sampling.h"
#include "core/diffusion/denoiser.h"
#include "core/diffusion/edm_loss.h"
#include "core/error.h"
#include "core/eval/benchmark.h"
#include "core/eval/fid.h"
#include "core/eval/generation_eval.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"
#include "core/models/classifier/resnet_classifier.h"
#include "core/models/edm/edm_config.h"
#include "core/nn/state_dict.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"
#include "core/train/adam.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <numeric>

namespace lethe::cli {

namespace {

struct EvalOptions {
    std::string model; ///< Empty: the built-in Fashion-MNIST model.
    std::string classifier; ///< Empty: the built-in Fashion-MNIST classifier.
    std::string data = "fashion-mnist";
    std::int64_t perClass = 100;
    std::int64_t firstSeed = 0;
    int steps = 18;
    std::string sampler = "heun";
    double guidance = 1.0;
    int forgetClass = -1;
    std::string jsonOut;
    std::string gridOut;
    std::string device = "auto";
    MeasureFlags measures;
};

void printEvalTable(const eval::GenerationEval& result, const std::vector<std::string>& names)
{
    std::size_t width = 5;
    for (const auto& n : names)
        width = std::max(width, n.size());
    std::cout << std::left << std::setw(4) << "#" << std::setw(static_cast<int>(width) + 2) << "class" << std::right
              << std::setw(8) << "images" << std::setw(10) << "accuracy" << '\n';
    for (std::size_t c = 0; c < names.size(); ++c)
        std::cout << std::left << std::setw(4) << c << std::setw(static_cast<int>(width) + 2) << names[c] << std::right
                  << std::setw(8) << result.accuracy.total[c] << std::setw(10) << percent(result.accuracy.accuracy[c])
                  << '\n';
    std::cout << std::left << std::setw(4) << "" << std::setw(static_cast<int>(width) + 2) << "mean" << std::right
              << std::setw(8)
              << std::accumulate(result.accuracy.total.begin(), result.accuracy.total.end(), std::int64_t { 0 })
              << std::setw(10) << percent(result.accuracy.classMean) << "\n\n";
    std::cout << std::fixed << std::setprecision(3) << eval::kFrechetName << "   " << result.frechet << '\n'
              << eval::kKidName << "  " << std::setprecision(5) << result.kid.mean << " ± " << result.kid.std << " ("
              << result.kid.subsets << " subsets of " << result.kid.subsetSize << ")\n";
    if (result.unlearning)
        std::cout << std::setprecision(4) << "UA " << result.unlearning->ua << "  RA " << result.unlearning->ra
                  << "  (forgotten class " << result.unlearning->forgottenClass << ")\n";
    if (result.literature && result.literature->clip) {
        const auto& clip = *result.literature->clip;
        std::cout << "\nzero-shot CLIP (\"a photo of a {name}\", and \"" << eval::kNoiseLabel << "\")\n";
        for (std::size_t c = 0; c < names.size() && c < clip.accuracy.accuracy.size(); ++c)
            std::cout << std::left << std::setw(4) << c << std::setw(static_cast<int>(width) + 2) << names[c]
                      << std::right << std::setw(8) << clip.accuracy.total[c] << std::setw(10)
                      << percent(clip.accuracy.accuracy[c]) << "   noise " << clip.noise[c] << '\n';
    }
    if (const std::string summary = literatureSummary(result); !summary.empty())
        std::cout << summary << '\n';
}

void runEval(EvalOptions options)
{
    if (options.model.empty())
        options.model = resourceFile(std::string("models/") + kBuiltinEdmModel).string();
    if (options.classifier.empty())
        options.classifier = resourceFile(std::string("models/") + kBuiltinClassifier).string();
    const torch::Device device = resolveDevice(options.device);
    store::EdmModel model = store::loadEdmModel(options.model, device);
    models::LoadedClassifier classifier = models::loadClassifier(options.classifier, device);
    if (classifier.info.classes.size() != static_cast<std::size_t>(model.classCount()))
        throw Error("the classifier knows " + std::to_string(classifier.info.classes.size()) + " classes, the model "
            + std::to_string(model.classCount()));
    const data::ImageSet real = data::loadDataset(data::resolveDataset(options.data), data::Split::Test);
    eval::GenerationEvalOptions evalOptions;
    evalOptions.imagesPerClass = options.perClass;
    evalOptions.firstSeed = options.firstSeed;
    evalOptions.sampler.steps = options.steps;
    evalOptions.sampler.method
        = options.sampler == "euler" ? diffusion::SamplerMethod::Euler : diffusion::SamplerMethod::Heun;
    evalOptions.sampler.guidance = options.guidance;
    if (options.forgetClass >= 0)
        evalOptions.forgottenClass = options.forgetClass;

    eval::LiteratureInstruments instruments = loadInstruments(options.measures, model.info, true, device);
    evalOptions.literature = &instruments;
    std::cerr << "real features: " << real.source << '\n';
    const eval::RealFeatures features = eval::realFeatures(classifier.model, real, device);
    CancelOnInterrupt interrupt;
    ProgressLine progress;
    const auto cached = eval::evaluateGenerationCached(measureCache(options.measures), model.sha256, model.net,
        classifier, features, evalOptions, device, imageProgress(progress));
    progress.clear();
    if (!cached)
        throw Error("evaluation cancelled");
    reportCache(*cached, "eval");
    const eval::GenerationEval* result = &cached->eval;
    std::cout << "model       " << options.model << "\nclassifier  " << options.classifier
              << " (Lethe's own, trained on " << classifier.info.dataset.value("name", std::string("?"))
              << "; FD/KID in its feature space)\n"
              << "samples     " << options.perClass << " per class, seeds " << options.firstSeed << "–"
              << options.firstSeed + options.perClass - 1 << ", " << options.sampler << " " << options.steps << " steps"
              << (options.guidance != 1.0 ? ", guidance " + std::to_string(options.guidance).substr(0, 4) : "") << ", "
              << std::fixed << std::setprecision(1) << result->seconds << " s\n\n";
    printEvalTable(*result, model.info.classes);
    if (!options.jsonOut.empty()) {
        nlohmann::json json = eval::toJson(*result, model.info.classes);
        json["model"] = options.model;
        json["model_sha256"] = model.sha256;
        json["guidance"] = options.guidance;
        json["classifier"] = options.classifier;
        json["real"] = features.source;
        json["sampler"] = { { "method", options.sampler }, { "steps", options.steps } };
        if (!instruments.empty())
            json["instruments"] = instruments.describe();
        json["from_measure_cache"] = cached->fromCache;
        io::writeFileAtomically(options.jsonOut, io::jsonText(json, 2));
        std::cout << "\nwrote " << options.jsonOut << '\n';
    }
}

struct FidRefOptions {
    std::string data = "fashion-mnist";
    std::string split = "train";
    std::string inception;
    std::string resize = "edm";
    int onlyClass = -1;
    std::int64_t batch = 64;
    std::string out;
    std::string device = "auto";
};

/// EDM's `fid.py ref`: the Inception statistics of a data set, as an .npz that --fid-ref and EDM read.
void runFidRef(const FidRefOptions& options)
{
    const torch::Device device = resolveDevice(options.device);
    const data::ImageSet set = data::loadDataset(
        data::resolveDataset(options.data), options.split == "test" ? data::Split::Test : data::Split::Train);
    torch::Tensor images = set.images;
    std::string what = set.source;
    if (options.onlyClass >= 0) {
        if (options.onlyClass >= set.classCount())
            throw Error("--class " + std::to_string(options.onlyClass) + " is outside 0–"
                + std::to_string(set.classCount() - 1) + " (" + set.source + ")");
        images = images.index({ set.labels.eq(options.onlyClass) });
        what += ", class " + std::to_string(options.onlyClass) + " ("
            + set.classNames[static_cast<std::size_t>(options.onlyClass)] + ")";
    }
    if (images.size(0) < 2)
        throw Error("fid-ref needs at least 2 images, " + what + " has " + std::to_string(images.size(0)));
    models::inception::LoadedInception inception = models::inception::loadFidInception(options.inception, device);
    const auto resize = eval::fidResizeFromName(options.resize);
    std::cerr << "fid-ref: " << images.size(0) << " images of " << what << " through " << options.inception << " ("
              << options.resize << " resize), device " << device.str() << '\n';
    CancelOnInterrupt interrupt;
    ProgressLine progress;
    const auto report = imageProgress(progress);
    std::vector<torch::Tensor> features;
    const auto started = std::chrono::steady_clock::now();
    for (std::int64_t begin = 0; begin < images.size(0); begin += options.batch) {
        if (!report(begin, images.size(0)))
            throw Error("fid-ref interrupted; nothing was written");
        const std::int64_t count = std::min(options.batch, images.size(0) - begin);
        features.push_back(inception.net->features(images.narrow(0, begin, count), resize, options.batch).cpu());
    }
    report(images.size(0), images.size(0));
    progress.clear();
    const eval::FeatureStatistics statistics = eval::featureStatistics(torch::cat(features));
    eval::writeFidReference(options.out, statistics);
    std::cout << "wrote " << options.out << ": mu [" << statistics.mean.size(0) << "], sigma ["
              << statistics.covariance.size(0) << ", " << statistics.covariance.size(1) << "] of " << statistics.count
              << " images (" << what << "), " << std::fixed << std::setprecision(1)
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s\n";
}

struct BenchOptions {
    std::string preset = "fmnist-ddpmpp-small";
    std::string model;
    std::int64_t batch = 64;
    int runs = 5;
    int warmup = 1;
    int steps = 18;
    std::string device = "auto";
    std::string profile;
};

void printBench(const eval::BenchResult& r, std::int64_t imagesPerRun, const std::string& unit)
{
    std::cout << std::fixed << std::setprecision(1) << r.name << ": median " << r.medianMs << " ms/" << unit << " (min "
              << r.minMs << ", max " << r.maxMs << ", " << r.milliseconds.size() << " runs), " << std::setprecision(2)
              << static_cast<double>(imagesPerRun) * 1000.0 / r.medianMs << " images/s, peak RSS "
              << eval::formatBytes(r.peakRssBytes) << '\n';
}

models::EDMPrecond benchNetwork(const BenchOptions& options, torch::Device device)
{
    if (!options.model.empty())
        return store::loadEdmModel(options.model, device).net;
    models::EDMPrecond net = models::makeEdmPrecond(models::toJson(models::edmPreset(options.preset)));
    net->to(device);
    return net;
}

void runBenchTrainStep(const BenchOptions& options)
{
    const torch::Device device = resolveDevice(options.device);
    torch::manual_seed(0);
    models::EDMPrecond net = benchNetwork(options, device);
    net->train();
    const auto& o = net->options;
    const torch::Tensor images
        = torch::rand({ options.batch, o.img_channels(), o.img_resolution(), o.img_resolution() })
              .mul(2)
              .sub(1)
              .to(device);
    torch::Tensor labels;
    if (o.label_dim() > 0)
        labels = diffusion::oneHot(
            torch::randint(o.label_dim(), { options.batch }, torch::kInt64), static_cast<int>(o.label_dim()))
                     .to(device);
    std::vector<std::pair<std::string, torch::Tensor>> parameters;
    for (const auto& item : net->named_parameters())
        parameters.emplace_back(item.key(), item.value());
    train::Adam adam(parameters, {});
    const diffusion::Denoiser denoiser = diffusion::denoiserOf(net);
    std::uint64_t seed = 0;
    std::cout << "train-step  " << (options.model.empty() ? "preset " + options.preset : options.model) << ", "
              << nn::parameterCount(*net) << " parameters, batch " << options.batch << ", device " << device.str()
              << ", " << torch::get_num_threads() << " threads\n";
    const auto result = eval::benchmark(
        "train-step",
        [&] {
            adam.zeroGrad();
            diffusion::edmLoss(denoiser, images, labels, {}, seed++).loss.backward();
            adam.step();
            if (device.is_cuda())
                torch::cuda::synchronize();
        },
        options.warmup, options.runs, options.profile);
    printBench(result, options.batch, "step");
    printProfileSummary(options.profile);
}

void runBenchSample(const BenchOptions& options)
{
    const torch::Device device = resolveDevice(options.device);
    torch::manual_seed(0);
    models::EDMPrecond net = benchNetwork(options, device);
    diffusion::ClassSamplingRequest request;
    for (std::int64_t i = 0; i < options.batch; ++i)
        request.seeds.push_back(i);
    if (net->options.label_dim() > 0)
        request.classes = { 0 };
    request.sampler.steps = options.steps;
    request.batch = options.batch;
    std::cout << "sample  " << (options.model.empty() ? "preset " + options.preset : options.model) << ", batch "
              << options.batch << ", Heun " << options.steps << " steps ("
              << diffusion::denoiserEvaluations(request.sampler) << " evaluations), device " << device.str() << ", "
              << torch::get_num_threads() << " threads\n";
    const auto result = eval::benchmark(
        "sample", [&] { diffusion::sampleClasses(net, request, device); }, options.warmup, options.runs,
        options.profile);
    printBench(result, options.batch, "batch");
    printProfileSummary(options.profile);
}

void addBenchOptions(CLI::App* command, BenchOptions& options, std::int64_t defaultBatch, int defaultRuns)
{
    options.batch = defaultBatch;
    options.runs = defaultRuns;
    command->add_option("--preset", options.preset, "Network preset (randomly initialised)")->capture_default_str();
    command->add_option("--model", options.model, "A model file instead of a preset");
    command->add_option("--batch", options.batch, "Images per step")
        ->capture_default_str()
        ->check(CLI::Range(1, 65536));
    command->add_option("--runs", options.runs, "Measured runs (the median is reported)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    command->add_option("--warmup", options.warmup, "Unmeasured runs first")->capture_default_str();
    command->add_option("--device", options.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    addProfileOption(command, options.profile);
}

} // namespace

void addEvalCommands(CLI::App& app, GlobalOptions& global)
{
    auto evalOptions = std::make_shared<EvalOptions>();
    CLI::App* ev = app.add_subcommand("eval",
        "Sample every class from fixed seeds and measure per-class accuracy, "
        "FD_cls and KID_cls (and UA/RA with --forget-class)");
    ev->add_option("--model", evalOptions->model, "EDM model file (default: the built-in Fashion-MNIST model)")
        ->check(CLI::ExistingFile);
    ev->add_option("--classifier", evalOptions->classifier,
          "Lethe classifier file (default: the built-in Fashion-MNIST classifier)")
        ->check(CLI::ExistingFile);
    ev->add_option("--data", evalOptions->data, "Data set whose test split gives the real images")
        ->capture_default_str();
    ev->add_option("--per-class", evalOptions->perClass, "Images per class")
        ->capture_default_str()
        ->check(CLI::Range(2, 100000));
    ev->add_option("--first-seed", evalOptions->firstSeed, "Seed of each class's first image")->capture_default_str();
    ev->add_option("--steps", evalOptions->steps, "Sampler steps")->capture_default_str()->check(CLI::Range(1, 1000));
    ev->add_option("--sampler", evalOptions->sampler, "heun or euler")
        ->capture_default_str()
        ->check(CLI::IsMember({ "heun", "euler" }));
    ev->add_option("--guidance", evalOptions->guidance,
          "Classifier-free guidance scale (1 = off; for models trained with label dropout)")
        ->capture_default_str();
    ev->add_option("--forget-class", evalOptions->forgetClass, "Report UA and RA for this forgotten class");
    ev->add_option("--json", evalOptions->jsonOut, "Also write the figures as JSON");
    ev->add_option("--device", evalOptions->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    addMeasureFlags(ev, evalOptions->measures);
    ev->callback([evalOptions, &global] { runCommand(global, [&] { runEval(*evalOptions); }); });

    auto refOptions = std::make_shared<FidRefOptions>();
    CLI::App* ref = app.add_subcommand("fid-ref",
        "Inception-v3 reference statistics of a data set (mu, sigma as .npz), as EDM's `fid.py ref` makes them");
    ref->add_option("--data", refOptions->data, "Data set: 'fashion-mnist' or a folder (CIFAR-10, IDX, image folder)")
        ->capture_default_str();
    ref->add_option("--split", refOptions->split, "train or test")
        ->capture_default_str()
        ->check(CLI::IsMember({ "train", "test" }));
    ref->add_option("--inception", refOptions->inception,
           "Inception-v3 detector (safetensors from scripts/inception_to_safetensors.py)")
        ->required()
        ->check(CLI::ExistingFile);
    ref->add_option("--fid-resize", refOptions->resize, "edm (EDM's fid.py detector) or pytorch-fid")
        ->capture_default_str()
        ->check(CLI::IsMember({ "edm", "pytorch-fid" }));
    ref->add_option("--class", refOptions->onlyClass, "Only this class's images");
    ref->add_option("--batch", refOptions->batch, "Images per Inception pass")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    ref->add_option("--out", refOptions->out, "The .npz to write")->required();
    ref->add_option("--device", refOptions->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    ref->callback([refOptions, &global] { runCommand(global, [&] { runFidRef(*refOptions); }); });

    CLI::App* bench = app.add_subcommand("bench", "Benchmarks: medians of several runs, with peak memory");
    bench->require_subcommand(1);
    auto trainOptions = std::make_shared<BenchOptions>();
    CLI::App* trainStep = bench->add_subcommand("train-step", "One EDM training step (loss, backward, Adam)");
    addBenchOptions(trainStep, *trainOptions, 64, 5);
    trainStep->callback([trainOptions, &global] { runCommand(global, [&] { runBenchTrainStep(*trainOptions); }); });
    auto sampleOptions = std::make_shared<BenchOptions>();
    CLI::App* sample = bench->add_subcommand("sample", "Sampling a batch with EDM's Heun sampler");
    addBenchOptions(sample, *sampleOptions, 64, 3);
    sample->add_option("--steps", sampleOptions->steps, "Sampler steps")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    sample->callback([sampleOptions, &global] { runCommand(global, [&] { runBenchSample(*sampleOptions); }); });
}

} // namespace lethe::cli
