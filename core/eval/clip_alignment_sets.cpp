#include "clip_alignment_sets.h"

#include "core/error.h"
#include "core/eval/clip_score.h"

#include <algorithm>
#include <cstdio>

namespace lethe::eval {

std::vector<ClipAlignmentSet> clipAlignmentSets(const std::vector<NamedPromptSet>& sets,
    const diffusion::TextToImageRequest& drawing, const std::vector<std::int64_t>& seeds, std::size_t maxPrompts)
{
    if (seeds.empty())
        throw Error("CLIP alignment: no seeds to draw the prompt sets' images from");
    std::vector<ClipAlignmentSet> out;
    for (const NamedPromptSet& named : sets) {
        if (named.prompts.empty())
            continue;
        ClipAlignmentSet set;
        set.name = named.name;
        set.prompts = maxPrompts > 0 ? std::min(named.prompts.size(), maxPrompts) : named.prompts.size();
        set.request = drawing;
        set.request.prompts.clear();
        set.request.seeds.clear();
        for (std::size_t i = 0; i < set.prompts; ++i)
            for (const std::int64_t seed : seeds) {
                set.request.prompts.push_back(named.prompts[i]);
                set.request.seeds.push_back(seed);
            }
        out.push_back(std::move(set));
    }
    return out;
}

std::optional<std::vector<double>> scoreClipAlignmentSet(const diffusion::TextToImageModel& model,
    models::clip::LoadedClip& clip, const ClipAlignmentSet& set, const diffusion::GenerationProgress& progress)
{
    const auto images = diffusion::generate(model, set.request, progress);
    if (!images)
        return std::nullopt;
    return clipAlignment(clip, *images, set.request.prompts);
}

nlohmann::json clipAlignmentRecord(
    const std::vector<ClipAlignmentSet>& sets, const std::string& clipModel, const std::vector<std::int64_t>& seeds)
{
    nlohmann::json named = nlohmann::json::object();
    std::vector<double> remainBefore, remainAfter;
    for (const ClipAlignmentSet& set : sets) {
        named[set.name] = { { "prompts", set.prompts }, { "images", set.before.size() },
            { "before", meanClipAlignment(set.before) }, { "after", meanClipAlignment(set.after) },
            { "before_per_image", set.before }, { "after_per_image", set.after } };
        if (set.name.rfind("remain", 0) == 0) {
            remainBefore.insert(remainBefore.end(), set.before.begin(), set.before.end());
            remainAfter.insert(remainAfter.end(), set.after.begin(), set.after.end());
        }
    }
    nlohmann::json record = { { "clip_model", clipModel }, { "seeds", seeds }, { "sets", named } };
    // docs/method.md §4: averaged over D_r,train and D_r,test.
    if (!remainBefore.empty())
        record["remain"] = { { "images", remainBefore.size() }, { "before", meanClipAlignment(remainBefore) },
            { "after", meanClipAlignment(remainAfter) } };
    return record;
}

std::string clipAlignmentTable(const nlohmann::json& record)
{
    std::string text = "CLIP alignment (cosine of image and prompt embeddings), before → after:\n";
    const auto line = [&](std::string label, double before, double after, const std::string& note) {
        std::replace(label.begin(), label.end(), '_', ' ');
        char row[200];
        std::snprintf(row, sizeof row, "  %-13s %7.4f → %7.4f  %s\n", label.c_str(), before, after, note.c_str());
        text += row;
    };
    const std::size_t seeds = record.at("seeds").size();
    // D_f, then each concept's part of it ("forget: sneaker", runs of several concepts), then D_r,train and D_r,test.
    std::vector<std::string> names { "forget" };
    for (const auto& [name, set] : record.at("sets").items())
        if (name.rfind("forget: ", 0) == 0)
            names.push_back(name);
    names.insert(names.end(), { "remain_train", "remain_test" });
    for (const std::string& name : names) {
        if (!record.at("sets").contains(name))
            continue;
        const nlohmann::json& set = record.at("sets").at(name);
        line(name, set.at("before").get<double>(), set.at("after").get<double>(),
            "(" + std::to_string(set.at("prompts").get<std::size_t>()) + " prompts × " + std::to_string(seeds)
                + " seeds)");
    }
    if (record.contains("remain"))
        line("remain", record["remain"].at("before").get<double>(), record["remain"].at("after").get<double>(),
            "(D_r,train and D_r,test together)");
    return text;
}

} // namespace lethe::eval
