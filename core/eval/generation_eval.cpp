#include "generation_eval.h"

#include "core/error.h"
#include "core/eval/accuracy_json.h"
#include "core/eval/measure_cache.h"
#include "core/eval/preview_cache.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

namespace lethe::eval {

RealFeatures realFeatures(
    models::ResNetClassifier& classifier, const data::ImageSet& real, torch::Device device, std::int64_t batch)
{
    RealFeatures out;
    out.features = classify(classifier, real.images, batch, device, true).features;
    out.statistics = featureStatistics(out.features);
    out.source = real.source;
    return out;
}

std::optional<GenerationEval> evaluateGeneration(models::EDMPrecond& net, models::ResNetClassifier& classifier,
    const RealFeatures& real, const GenerationEvalOptions& options, torch::Device device,
    const diffusion::ImageProgress& progress)
{
    const int classes = static_cast<int>(net->options.label_dim());
    if (classes < 1)
        throw Error("evaluation by class needs a class-conditional model");
    if (options.imagesPerClass < 2)
        throw Error("evaluation needs at least 2 images per class, not " + std::to_string(options.imagesPerClass));
    const auto started = std::chrono::steady_clock::now();
    diffusion::ClassSamplingRequest request;
    for (int c = 0; c < classes; ++c)
        request.classes.push_back(c);
    for (std::int64_t i = 0; i < options.imagesPerClass; ++i)
        request.seeds.push_back(options.firstSeed + i);
    request.sampler = options.sampler;
    request.batch = options.batch;
    const auto images = diffusion::sampleClasses(net, request, device, progress);
    if (!images)
        return std::nullopt;

    GenerationEval result;
    result.images = *images;
    result.generatedFor = torch::arange(classes, torch::kInt64).repeat_interleave(options.imagesPerClass);
    const Classification predicted = classify(classifier, result.images, options.batch, device, true);
    result.predicted = predicted.labels;
    result.accuracy = perClassAccuracy(result.predicted, result.generatedFor, classes);
    result.frechet = frechetDistance(featureStatistics(predicted.features), real.statistics);
    result.kid
        = kernelInceptionDistance(predicted.features, real.features, options.kidSubsetSize, options.kidSubsets, 0);
    if (options.forgottenClass)
        result.unlearning = unlearningScores(result.predicted, result.generatedFor, *options.forgottenClass, classes);
    if (options.literature != nullptr && !options.literature->empty())
        result.literature = measureLiterature(*options.literature, result.images, result.generatedFor, classes,
            options.forgottenClass, std::min<std::int64_t>(options.batch, 64));
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

nlohmann::json toJson(const GenerationEval& result, const std::vector<std::string>& classNames)
{
    nlohmann::json out = { { "per_class", toJson(result.accuracy, classNames) },
        { "accuracy_mean", jsonFigure(result.accuracy.classMean) },
        { "accuracy_min",
            jsonFigure(*std::min_element(result.accuracy.accuracy.begin(), result.accuracy.accuracy.end())) },
        { kFrechetName, jsonFigure(result.frechet) },
        { kKidName,
            { { "mean", jsonFigure(result.kid.mean) }, { "std", jsonFigure(result.kid.std) },
                { "subset_size", result.kid.subsetSize }, { "subsets", result.kid.subsets } } },
        { "seconds", result.seconds } };
    if (result.unlearning)
        out["unlearning"] = toJson(*result.unlearning);
    if (result.literature)
        out.update(toJson(*result.literature, classNames));
    return out;
}

GenerationEval generationEvalFromJson(const nlohmann::json& j)
{
    GenerationEval out;
    try {
        out.accuracy = classAccuracyFromJson(j.at("per_class"));
        out.accuracy.classMean = figureOf(j, "accuracy_mean");
        std::int64_t total = 0;
        std::int64_t correct = 0;
        for (std::size_t c = 0; c < out.accuracy.total.size(); ++c) {
            total += out.accuracy.total[c];
            correct += out.accuracy.correct[c];
        }
        out.accuracy.overall = total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : std::nan("");
        out.frechet = figureOf(j, kFrechetName);
        const auto& kid = j.at(kKidName);
        out.kid.mean = figureOf(kid, "mean");
        out.kid.std = figureOf(kid, "std");
        out.kid.subsetSize = kid.at("subset_size").get<std::int64_t>();
        out.kid.subsets = kid.at("subsets").get<int>();
        out.seconds = j.value("seconds", 0.0);
        if (j.contains("unlearning"))
            out.unlearning = unlearningScoresFromJson(j.at("unlearning"), out.accuracy);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("generation measures: malformed JSON: ") + e.what());
    }
    if (j.contains("clip_zero_shot") || j.contains(kFidName))
        out.literature = literatureMeasuresFromJson(j);
    return out;
}

nlohmann::json generationEvalKey(const std::string& modelSha256, const GenerationEvalOptions& options,
    const std::string& classifierSha256, const RealFeatures& real, torch::Device device)
{
    nlohmann::json key = { { "measure", "class generation" }, { "version", kMeasureVersion },
        { "model_sha256", modelSha256 }, { "images_per_class", options.imagesPerClass },
        { "first_seed", options.firstSeed }, { "sampler", samplerKey(options.sampler) }, { "batch", options.batch },
        { "kid", { { "subset_size", options.kidSubsetSize }, { "subsets", options.kidSubsets } } },
        { "forgotten_class",
            options.forgottenClass ? nlohmann::json(*options.forgottenClass) : nlohmann::json(nullptr) },
        { "classifier_sha256", classifierSha256 },
        { "real", { { "source", real.source }, { "images", real.features.defined() ? real.features.size(0) : 0 } } },
        { "device", c10::DeviceTypeName(device.type(), true) } };
    if (options.literature != nullptr)
        key.update(options.literature->identity());
    return key;
}

std::optional<CachedGenerationEval> evaluateGenerationCached(const MeasureCache& cache, const std::string& modelSha256,
    models::EDMPrecond& net, const models::LoadedClassifier& classifier, const RealFeatures& real,
    const GenerationEvalOptions& options, torch::Device device, const diffusion::ImageProgress& progress)
{
    const nlohmann::json key = generationEvalKey(modelSha256, options, classifier.sha256, real, device);
    CachedGenerationEval out;
    if (cache.enabled())
        out.file = cache.fileFor(key);
    if (const auto figures = cache.read(key)) {
        out.eval = generationEvalFromJson(*figures);
        out.fromCache = true;
        return out;
    }
    models::ResNetClassifier model = classifier.model; // A handle on the same network.
    auto measured = evaluateGeneration(net, model, real, options, device, progress);
    if (!measured)
        return std::nullopt;
    out.eval = std::move(*measured);
    cache.write(key, toJson(out.eval, classifier.info.classes));
    return out;
}

} // namespace lethe::eval
