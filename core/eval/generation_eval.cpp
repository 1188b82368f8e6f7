#include "generation_eval.h"

#include "core/error.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

namespace lethe::eval {

RealFeatures realFeatures(models::ResNetClassifier& classifier, const data::ImageSet& real, torch::Device device,
                          std::int64_t batch)
{
    RealFeatures out;
    out.features = classify(classifier, real.images, batch, device, true).features;
    out.statistics = featureStatistics(out.features);
    out.source = real.source;
    return out;
}

std::optional<GenerationEval> evaluateGeneration(models::EDMPrecond& net, models::ResNetClassifier& classifier,
                                                 const RealFeatures& real, const GenerationEvalOptions& options,
                                                 torch::Device device, const diffusion::ImageProgress& progress)
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
    result.kid = kernelInceptionDistance(predicted.features, real.features, options.kidSubsetSize, options.kidSubsets, 0);
    if (options.forgottenClass)
        result.unlearning = unlearningScores(result.predicted, result.generatedFor, *options.forgottenClass, classes);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

nlohmann::json toJson(const GenerationEval& result, const std::vector<std::string>& classNames)
{
    auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::json perClass = nlohmann::json::array();
    for (std::size_t c = 0; c < result.accuracy.accuracy.size(); ++c)
        perClass.push_back({{"class", c},
                            {"name", c < classNames.size() ? classNames[c] : std::to_string(c)},
                            {"images", result.accuracy.total[c]},
                            {"correct", result.accuracy.correct[c]},
                            {"accuracy", number(result.accuracy.accuracy[c])}});
    nlohmann::json out = {{"per_class", perClass},
                          {"accuracy_mean", number(result.accuracy.classMean)},
                          {"accuracy_min", number(*std::min_element(result.accuracy.accuracy.begin(),
                                                                    result.accuracy.accuracy.end()))},
                          {kFrechetName, number(result.frechet)},
                          {kKidName, {{"mean", number(result.kid.mean)}, {"std", number(result.kid.std)},
                                      {"subset_size", result.kid.subsetSize}, {"subsets", result.kid.subsets}}},
                          {"seconds", result.seconds}};
    if (result.unlearning)
        out["unlearning"] = {{"forgotten_class", result.unlearning->forgottenClass},
                             {"UA", number(result.unlearning->ua)},
                             {"RA", number(result.unlearning->ra)},
                             {"RA_class_mean", number(result.unlearning->raClassMean)}};
    return out;
}

} // namespace lethe::eval
