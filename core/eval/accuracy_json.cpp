#include "accuracy_json.h"

#include <cmath>
#include <limits>

namespace lethe::eval {

nlohmann::json jsonFigure(double value)
{
    return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

double figureOf(const nlohmann::json& object, const char* key)
{
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? std::numeric_limits<double>::quiet_NaN() : it->get<double>();
}

nlohmann::json toJson(const ClassAccuracy& accuracy, const std::vector<std::string>& classNames)
{
    nlohmann::json perClass = nlohmann::json::array();
    for (std::size_t c = 0; c < accuracy.accuracy.size(); ++c)
        perClass.push_back({ { "class", c }, { "name", c < classNames.size() ? classNames[c] : std::to_string(c) },
            { "images", accuracy.total[c] }, { "correct", accuracy.correct[c] },
            { "accuracy", jsonFigure(accuracy.accuracy[c]) } });
    return perClass;
}

nlohmann::json toJson(const UnlearningScores& scores)
{
    return { { "forgotten_class", scores.forgottenClass }, { "UA", jsonFigure(scores.ua) },
        { "RA", jsonFigure(scores.ra) }, { "RA_class_mean", jsonFigure(scores.raClassMean) } };
}

UnlearningScores unlearningScoresFromJson(const nlohmann::json& json, const ClassAccuracy& classes)
{
    UnlearningScores scores;
    scores.forgottenClass = json.at("forgotten_class").get<std::int64_t>();
    scores.ua = figureOf(json, "UA");
    scores.ra = figureOf(json, "RA");
    scores.raClassMean = figureOf(json, "RA_class_mean");
    scores.classes = classes;
    return scores;
}

ClassAccuracy classAccuracyFromJson(const nlohmann::json& perClass)
{
    ClassAccuracy out;
    for (const nlohmann::json& c : perClass) {
        out.total.push_back(c.at("images").get<std::int64_t>());
        out.correct.push_back(c.at("correct").get<std::int64_t>());
        out.accuracy.push_back(figureOf(c, "accuracy"));
    }
    return out;
}

} // namespace lethe::eval
