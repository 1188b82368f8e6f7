#pragma once

// What `sweep` and `sweep-merge` share: the rows of results.csv, their summary, and a task's share of a split
// sweep.
#include <nlohmann/json_fwd.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lethe::cli {

/// One results.csv row. α or λ is empty where the method ignores it (GA: λ, SalUn: α; the base model: both).
struct SweepRow {
    std::string method;
    int forgetClass = 0;
    std::string className;
    std::string alpha;
    std::string lambda;
    std::int64_t steps = 0;
    std::string outcome;
    double ua = NAN, ra = NAN, raClassMean = NAN, fd = NAN, kid = NAN;
    double runSeconds = 0.0, evalSeconds = 0.0;
    /// The literature's figures (sweep --clip, --inception): UA and RA by zero-shot CLIP, FID of the remaining
    /// classes' images and of the forgotten class's; NaN without the instrument.
    double clipUa = NAN, clipRa = NAN, fidRemain = NAN, fidForget = NAN;

    bool hasLiterature() const
    {
        return !std::isnan(clipUa) || !std::isnan(clipRa) || !std::isnan(fidRemain) || !std::isnan(fidForget);
    }

    std::string key() const { return method + "|" + std::to_string(forgetClass) + "|" + alpha + "|" + lambda; }
};

/// Which task of a split sweep one process is (sweep_plan.h decides which runs that task runs).
struct TaskShare {
    int index = 0;
    /// 0: not split, the whole grid.
    int count = 0;

    bool split() const { return count > 0; }
    std::string name() const { return "task " + std::to_string(index) + " of " + std::to_string(count); }
};

/// "task-2-of-4": the folder of one task of a split sweep inside the sweep's --out.
std::string taskFolderName(int index, int count);

/// A CSV field: as it is, or in double quotes (inner quotes doubled) when it holds a comma, quote or newline.
std::string csvField(const std::string& text);

/// attacks.csv (`sweep --attack`): one row per run, the class attack's figures.
inline constexpr const char* kAttacksHeader
    = "method,forget_class,forget_class_name,alpha,lambda,pre_asr,post_asr,attack_seconds";

/// A value as results.csv and messages write it (%.9g); empty for NaN.
std::string number(double value);

/// The rows of an earlier (interrupted) sweep; none when the file does not exist. A results.csv of the version
/// before the literature's columns is read too (those figures empty). An error names the line that cannot be read.
std::vector<SweepRow> readResults(const std::filesystem::path& path);

/// Writes the header and `rows` to `path`, atomically.
void writeResults(const std::filesystem::path& path, const std::vector<SweepRow>& rows);

/// The table printed at the end and saved as summary.txt: every run, then per method/α/λ means over classes.
std::string summaryText(const std::vector<SweepRow>& rows);

/// "graddiff, forget class 4, α 0.1, λ 5": one run of the grid in messages ("base, forget class 4" for the
/// base model's figures).
std::string describeRun(const SweepRow& r);

/// A run's name and its files' in the sweep folder (models/NAME.safetensors, checkpoints/NAME.safetensors):
/// "rgd-class3-a0.1-l1" (no -a for SalUn, no -l for GA).
std::string runFileName(const SweepRow& r);

/// A row that holds only what key() reads.
SweepRow runKey(const std::string& method, int forgetClass, const std::string& alpha, const std::string& lambda);

/// A JSON file (sweep.json); an error names the file.
nlohmann::json readJsonFile(const std::filesystem::path& path);

} // namespace lethe::cli
