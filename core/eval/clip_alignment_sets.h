#pragma once

// CLIP alignment of a text-to-image run's prompt sets before and after (docs/method.md §4): for D_f, D_r,train and
// D_r,test, the first prompts of each set drawn at fixed seeds by the base model and by the unlearned one, each
// image scored against its prompt. unlearn-concept measures it during a run, eval-t2i --run on a finished run
// folder, and the Concept tab after a run; all three draw the same images and so report the same figures.

#include "core/diffusion/text_to_image.h"
#include "core/models/clip/clip_model.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lethe::eval {

/// The images CLIP alignment reads for one prompt set, and their scores.
struct ClipAlignmentSet {
    std::string name; ///< "forget", "remain_train" or "remain_test".
    std::size_t prompts = 0; ///< The set's first prompts drawn.
    diffusion::TextToImageRequest request; ///< Each of those prompts at every seed, prompt by prompt.
    std::vector<double> before; ///< Per image, with the base model.
    std::vector<double> after; ///< Per image, with the unlearned model.
};

/// A prompt set by name, in the order the report lists them.
struct NamedPromptSet {
    std::string name;
    std::vector<std::string> prompts;
};

/// The sets to draw: of each non-empty set its first `maxPrompts` prompts (0: all), each at every seed, with the
/// drawing settings of `drawing` (size, guidance, steps, batch, negative prompt; its prompts and seeds unused).
/// Throws Error without seeds.
std::vector<ClipAlignmentSet> clipAlignmentSets(const std::vector<NamedPromptSet>& sets,
    const diffusion::TextToImageRequest& drawing, const std::vector<std::int64_t>& seeds, std::size_t maxPrompts);

/// Draws `set`'s images with `model` and scores each against its prompt; nullopt when `progress` cancelled.
std::optional<std::vector<double>> scoreClipAlignmentSet(const diffusion::TextToImageModel& model,
    models::clip::LoadedClip& clip, const ClipAlignmentSet& set, const diffusion::GenerationProgress& progress = {});

/// The report of scored sets (before and after filled): {"clip_model", "seeds", "sets": {name: {prompts, images,
/// before, after, before_per_image, after_per_image}}, "remain": {images, before, after}} — "remain" averages the
/// sets whose names start with "remain" (D_r,train and D_r,test) together, present when there is one; sets named
/// "forget: WORD" (one concept's forget prompts) are reported as they are.
nlohmann::json clipAlignmentRecord(
    const std::vector<ClipAlignmentSet>& sets, const std::string& clipModel, const std::vector<std::int64_t>& seeds);

/// The record as a table: "CLIP alignment (…), before → after:" then one line per set and the remain line.
std::string clipAlignmentTable(const nlohmann::json& record);

} // namespace lethe::eval
