#pragma once

// The JSON of the accuracy measures, written and read back the same way by every measurement that reports them
// (the classifier's in generation_eval, zero-shot CLIP's in literature_measures, the measure cache).

#include "core/eval/accuracy.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace lethe::eval {

/// A figure as JSON: null for NaN or infinity (JSON has neither).
nlohmann::json jsonFigure(double value);

/// The figure under `key` of `object`: NaN when it is absent or null. Throws nlohmann's type error otherwise.
double figureOf(const nlohmann::json& object, const char* key);

/// Per class: {"class", "name" (from `classNames`, else the number), "images", "correct", "accuracy"}.
nlohmann::json toJson(const ClassAccuracy& accuracy, const std::vector<std::string>& classNames);

/// {"forgotten_class", "UA", "RA", "RA_class_mean"}.
nlohmann::json toJson(const UnlearningScores& scores);

/// toJson(UnlearningScores) read back, with `classes` as its per-class accuracy.
UnlearningScores unlearningScoresFromJson(const nlohmann::json& json, const ClassAccuracy& classes);

/// The per-class entries' "images", "correct" and "accuracy" (other keys are the writer's own) as total, correct
/// and accuracy; overall and classMean are left to the caller, which knows where they are written.
ClassAccuracy classAccuracyFromJson(const nlohmann::json& perClass);

} // namespace lethe::eval
