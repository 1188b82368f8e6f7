#include "measure_flags.h"

#include "core/error.h"
#include "core/models/clip/clip_model.h"

#include <CLI/CLI.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>

namespace lethe::cli {

void addMeasureFlags(CLI::App* cmd, MeasureFlags& flags)
{
    cmd->add_option("--clip", flags.clip,
           "CLIP model folder (Hugging Face layout, e.g. openai/clip-vit-base-patch32): also measure UA/RA by "
           "zero-shot CLIP, as the RGD paper does")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--clip-names", flags.clipNames,
        "Comma-separated class names for the prompts \"a photo of a {name}\" (default: the model file's "
        "zero_shot_names, else its classes)");
    cmd->add_option("--inception", flags.inception,
           "Inception-v3 detector (safetensors from scripts/inception_to_safetensors.py): also measure FID; needs "
           "--fid-ref")
        ->check(CLI::ExistingFile);
    cmd->add_option("--fid-ref", flags.fidRef,
           "FID reference statistics (.npz with mu and sigma: EDM's fid-refs, or lethe-cli fid-ref)")
        ->check(CLI::ExistingFile);
    cmd->add_option("--fid-resize", flags.fidResize,
           "How images reach Inception's 299×299: edm (EDM's fid.py detector) or pytorch-fid")
        ->capture_default_str()
        ->check(CLI::IsMember({ "edm", "pytorch-fid" }));
    cmd->add_flag("--no-cache", flags.noCache,
        "Measure the base model even when the measure cache holds its figures (and do not store them)");
}

std::vector<std::string> splitNames(const std::string& text)
{
    std::vector<std::string> names;
    std::stringstream in(text);
    std::string name;
    while (std::getline(in, name, ','))
        names.push_back(name);
    return names;
}

eval::LiteratureInstruments loadInstruments(
    const MeasureFlags& flags, const io::ModelInfo& model, bool evaluate, torch::Device device)
{
    if (!evaluate) {
        if (flags.given())
            throw Error("--clip, --inception and --fid-ref add to the measurements: they cannot go with --no-eval");
        return {};
    }
    if (flags.inception.empty() != flags.fidRef.empty())
        throw Error("--inception and --fid-ref go together: FID needs the detector and the reference statistics");
    if (!flags.clipNames.empty() && flags.clip.empty())
        throw Error("--clip-names names the classes for zero-shot CLIP: give --clip too");
    eval::LiteratureInstruments out;
    if (!flags.clip.empty()) {
        std::vector<std::string> names = io::zeroShotNames(model);
        if (!flags.clipNames.empty()) {
            names = splitNames(flags.clipNames);
            if (names.size() != model.classes.size())
                throw Error("--clip-names gives " + std::to_string(names.size()) + " names, the model has "
                    + std::to_string(model.classes.size()) + " classes");
        }
        out.clip = eval::makeZeroShotClip(models::clip::loadClip(flags.clip, device), names);
        std::cerr << "zero-shot CLIP: " << flags.clip << ", prompts \"" << out.clip->prompts.front() << "\" … \""
                  << out.clip->prompts.back() << "\"\n";
    }
    if (!flags.inception.empty()) {
        out.fid
            = eval::loadFidInstrument(flags.inception, flags.fidRef, eval::fidResizeFromName(flags.fidResize), device);
        std::cerr << "FID: detector " << flags.inception << ", reference " << flags.fidRef << " (" << flags.fidResize
                  << " resize)\n";
    }
    return out;
}

eval::MeasureCache measureCache(const MeasureFlags& flags)
{
    return eval::MeasureCache(flags.noCache ? std::filesystem::path() : eval::defaultMeasureCacheDir());
}

void reportCache(const eval::CachedGenerationEval& cached, const char* what)
{
    if (cached.fromCache)
        std::cerr << what << ": figures read from the measure cache " << cached.file.string()
                  << " (the same model, settings and instruments; --no-cache measures again)\n";
    else if (!cached.file.empty())
        std::cerr << what << ": figures stored in the measure cache " << cached.file.string() << '\n';
}

std::string literatureSummary(const eval::GenerationEval& e)
{
    if (!e.literature)
        return {};
    std::ostringstream out;
    out << std::fixed;
    if (const auto& clip = e.literature->clip) {
        if (clip->unlearning)
            out << std::setprecision(3) << "CLIP-UA " << clip->unlearning->ua << "   CLIP-RA " << clip->unlearning->ra;
        else
            out << std::setprecision(3) << "CLIP accuracy " << clip->accuracy.classMean;
    }
    if (const auto& fid = e.literature->fid) {
        if (out.tellp() > 0)
            out << "   ";
        out << std::setprecision(2);
        if (fid->remain)
            out << eval::kFidName << " " << *fid->remain << " (remaining classes)";
        else
            out << eval::kFidName << " " << fid->all;
        if (fid->forget)
            out << "   " << eval::kFidName << " forgotten " << *fid->forget;
    }
    return out.str();
}

} // namespace lethe::cli
