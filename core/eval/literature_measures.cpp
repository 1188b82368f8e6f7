#include "literature_measures.h"

#include "core/error.h"
#include "core/eval/accuracy_json.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace lethe::eval {

namespace {

using nlohmann::json;

ZeroShotMeasure measureZeroShot(ZeroShotClip& clip, const torch::Tensor& images, const torch::Tensor& generatedFor,
    int classCount, std::optional<int> forgottenClass, std::int64_t batch)
{
    if (static_cast<int>(clip.labels.size()) != classCount + 1)
        throw Error("zero-shot CLIP: prepared for " + std::to_string(clip.labels.size() - 1)
            + " classes, the model has " + std::to_string(classCount));
    const torch::Tensor predicted = zeroShotClassify(clip, images, batch);
    // The noise label is one more class that nothing is generated for: its accuracy is undefined and it changes
    // neither mean; it only takes images away from the classes they were generated for.
    ZeroShotMeasure out;
    out.accuracy = perClassAccuracy(predicted, generatedFor, classCount + 1);
    if (forgottenClass) {
        out.unlearning = unlearningScores(predicted, generatedFor, *forgottenClass, classCount + 1);
        out.unlearning->classes = out.accuracy;
    }
    const auto trim = [classCount](ClassAccuracy& a) {
        a.total.resize(static_cast<std::size_t>(classCount));
        a.correct.resize(static_cast<std::size_t>(classCount));
        a.accuracy.resize(static_cast<std::size_t>(classCount));
    };
    trim(out.accuracy);
    if (out.unlearning)
        trim(out.unlearning->classes);
    const auto isNoise = predicted.eq(classCount);
    for (int c = 0; c < classCount; ++c)
        out.noise.push_back(isNoise.logical_and(generatedFor.eq(c)).sum().item<std::int64_t>());
    return out;
}

FidMeasure measureFid(FidInstrument& fid, const torch::Tensor& images, const torch::Tensor& generatedFor,
    std::optional<int> forgottenClass, std::int64_t batch)
{
    const torch::Tensor features = fid.inception.net->features(images, fid.resize, batch).to(torch::kCPU);
    const auto distance
        = [&](const torch::Tensor& part) { return frechetDistance(featureStatistics(part), fid.reference); };
    FidMeasure out;
    out.all = distance(features);
    if (forgottenClass) {
        const torch::Tensor isForgotten = generatedFor.to(torch::kCPU).eq(*forgottenClass);
        const torch::Tensor remain = features.index({ isForgotten.logical_not() });
        const torch::Tensor forget = features.index({ isForgotten });
        out.remainImages = remain.size(0);
        out.forgetImages = forget.size(0);
        if (out.remainImages >= 2)
            out.remain = distance(remain);
        if (out.forgetImages >= 2)
            out.forget = distance(forget);
    }
    return out;
}

} // namespace

json LiteratureInstruments::identity() const
{
    json out = json::object();
    if (clip)
        out["clip"] = { { "model_sha256", clip->sha256 }, { "prompts", clip->prompts } };
    if (fid)
        out["fid"] = { { "inception_sha256", fid->inception.sha256 }, { "resize", fidResizeName(fid->resize) },
            { "reference_sha256", fid->referenceSha256 } };
    return out;
}

json LiteratureInstruments::describe() const
{
    json out = identity();
    if (clip)
        out["clip"]["folder"] = clip->clip.folder.string();
    if (fid) {
        out["fid"]["inception"] = fid->inception.file.string();
        out["fid"]["reference"] = fid->referenceFile.string();
    }
    return out;
}

LiteratureMeasures measureLiterature(LiteratureInstruments& instruments, const torch::Tensor& images,
    const torch::Tensor& generatedFor, int classCount, std::optional<int> forgottenClass, std::int64_t batch)
{
    if (images.dim() != 4 || generatedFor.dim() != 1 || images.size(0) != generatedFor.size(0))
        throw Error("literature measures: expected images [N, C, H, W] and their N labels");
    LiteratureMeasures out;
    if (instruments.clip)
        out.clip = measureZeroShot(*instruments.clip, images, generatedFor, classCount, forgottenClass, batch);
    if (instruments.fid)
        out.fid = measureFid(*instruments.fid, images, generatedFor, forgottenClass, batch);
    return out;
}

json toJson(const LiteratureMeasures& measures, const std::vector<std::string>& classNames)
{
    json out = json::object();
    if (const auto& clip = measures.clip) {
        json perClass = toJson(clip->accuracy, classNames);
        for (std::size_t c = 0; c < perClass.size(); ++c)
            perClass[c]["noise"] = clip->noise[c];
        json z = { { "per_class", perClass }, { "accuracy_mean", jsonFigure(clip->accuracy.classMean) },
            { "accuracy_overall", jsonFigure(clip->accuracy.overall) } };
        if (clip->unlearning)
            z["unlearning"] = toJson(*clip->unlearning);
        out["clip_zero_shot"] = z;
    }
    if (const auto& fid = measures.fid) {
        json f = { { "all", jsonFigure(fid->all) } };
        if (fid->remain)
            f["remain"] = jsonFigure(*fid->remain);
        if (fid->forget)
            f["forget"] = jsonFigure(*fid->forget);
        if (fid->remainImages + fid->forgetImages > 0) {
            f["remain_images"] = fid->remainImages;
            f["forget_images"] = fid->forgetImages;
        }
        out[kFidName] = f;
    }
    return out;
}

LiteratureMeasures literatureMeasuresFromJson(const json& j)
{
    LiteratureMeasures out;
    try {
        if (j.contains("clip_zero_shot")) {
            const json& z = j.at("clip_zero_shot");
            ZeroShotMeasure m;
            m.accuracy = classAccuracyFromJson(z.at("per_class"));
            for (const json& c : z.at("per_class"))
                m.noise.push_back(c.at("noise").get<std::int64_t>());
            m.accuracy.classMean = figureOf(z, "accuracy_mean");
            m.accuracy.overall = figureOf(z, "accuracy_overall");
            if (z.contains("unlearning"))
                m.unlearning = unlearningScoresFromJson(z.at("unlearning"), m.accuracy);
            out.clip = m;
        }
        if (j.contains(kFidName)) {
            const json& f = j.at(kFidName);
            FidMeasure m;
            m.all = figureOf(f, "all");
            if (f.contains("remain"))
                m.remain = figureOf(f, "remain");
            if (f.contains("forget"))
                m.forget = figureOf(f, "forget");
            m.remainImages = f.value("remain_images", std::int64_t { 0 });
            m.forgetImages = f.value("forget_images", std::int64_t { 0 });
            out.fid = m;
        }
    } catch (const json::exception& e) {
        throw Error(std::string("literature measures: malformed JSON: ") + e.what());
    }
    return out;
}

} // namespace lethe::eval
