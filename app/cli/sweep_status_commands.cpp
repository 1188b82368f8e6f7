// sweep-status: how far each task of a split sweep (sweep --task-index) has got, from its folder alone: done, partial
// (which runs are missing, the one in progress and its checkpoint's step) or not started, with the plan's estimated
// minutes beside the measured ones.
#include "commands.h"
#include "sweep_support.h"

#include "core/error.h"
#include "core/io/safetensors.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace lethe::cli {

namespace {

struct SweepStatusOptions {
    std::string out;
    int taskCount = 0;
    double secondsPerUnit = 0.0;
    bool json = false;
};

/// What sweep-status exits with when a task is not done yet (0: all done; 2: bad input).
constexpr int kExitNotDone = 3;

struct TaskStatus {
    int index = 0;
    std::filesystem::path folder;
    std::string state = "not started";
    std::optional<std::vector<std::string>> runs; ///< The task's runs by name; unknown without any sweep.json.
    std::vector<std::string> missing;
    std::size_t done = 0;
    std::optional<bool> baseMeasured; ///< Task 0 of a measuring sweep only.
    std::optional<std::string> inProgress;
    std::optional<std::int64_t> checkpointStep;
    std::optional<std::int64_t> cost;
    std::optional<double> estimatedMinutes;
    std::optional<double> measuredMinutes;
};

/// The split record of one task folder's sweep.json, checked against the folder's name.
struct SplitRecord {
    nlohmann::json tasks;
    std::vector<int> classes;
    bool evaluate = true;
    /// Without the literature's instruments one measurement gives every base row (each records its seconds).
    bool sharedBase = true;
    std::optional<double> secondsPerUnit;
};

SplitRecord readSplitRecord(const std::filesystem::path& folder, int index, int count)
{
    const auto path = folder / "sweep.json";
    const nlohmann::json j = readJsonFile(path);
    SplitRecord r;
    try {
        const nlohmann::json& split = j.at("split");
        if (split.at("task_index").get<int>() != index || split.at("task_count").get<int>() != count)
            throw Error("");
        r.tasks = split.at("tasks");
        if (!r.tasks.is_array() || r.tasks.size() != static_cast<std::size_t>(count))
            throw Error("");
        for (std::size_t i = 0; i < r.tasks.size(); ++i) {
            if (r.tasks[i].at("index").get<int>() != static_cast<int>(i))
                throw Error("");
            r.tasks[i].at("runs").get<std::vector<std::string>>();
            r.tasks[i].at("cost").get<std::int64_t>();
        }
        for (const auto& run : split.at("grid")) {
            const int c = run.at("forget_class").get<int>();
            if (std::find(r.classes.begin(), r.classes.end(), c) == r.classes.end())
                r.classes.push_back(c);
        }
        r.evaluate = j.at("config").value("evaluate", true);
        r.sharedBase = !j.contains("instruments");
        if (j.contains("seconds_per_unit"))
            r.secondsPerUnit = j.at("seconds_per_unit").get<double>();
    } catch (const std::exception&) {
        throw Error(path.string() + ": \"split\" must hold task_index " + std::to_string(index) + ", task_count "
            + std::to_string(count) + ", the grid and tasks (every task's runs and cost), as sweep --task-index "
            + std::to_string(index) + " --task-count " + std::to_string(count) + " writes it");
    }
    return r;
}

/// The step a run's checkpoint holds; nothing when it cannot be read (a run may be writing it right now).
std::optional<std::int64_t> checkpointStep(const std::filesystem::path& path)
{
    try {
        return io::SafetensorsFile(path).tensor("run.step").item<std::int64_t>();
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string fixedText(double value, int precision)
{
    std::ostringstream text;
    text << std::fixed << std::setprecision(precision) << value;
    return text.str();
}

int runSweepStatus(const SweepStatusOptions& o)
{
    const std::filesystem::path out(o.out);
    if (!std::filesystem::is_directory(out))
        throw Error(out.string() + " is not a folder (sweep-status takes the --out of a split sweep)");

    // The number of tasks: given, or from the task folders that hold a sweep.json.
    static const std::regex taskName(R"(task-(\d+)-of-(\d+))");
    std::set<int> counts;
    for (const auto& entry : std::filesystem::directory_iterator(out)) {
        std::smatch m;
        const std::string name = entry.path().filename().string();
        if (entry.is_directory() && std::regex_match(name, m, taskName)
            && std::filesystem::exists(entry.path() / "sweep.json"))
            counts.insert(std::stoi(m[2].str()));
    }
    int count = o.taskCount;
    if (count == 0) {
        if (counts.empty())
            throw Error(out.string()
                + " holds no task folder of a split sweep (task-I-of-N with a sweep.json): give --task-count N "
                  "when no task has started yet");
        if (counts.size() > 1) {
            std::string list;
            for (const int n : counts)
                list += (list.empty() ? "" : " and ") + std::to_string(n);
            throw Error(out.string() + " holds task folders of splits into " + list
                + " tasks: give --task-count N for the split to report");
        }
        count = *counts.begin();
    }

    // Every started task records the whole assignment; they must agree.
    std::optional<SplitRecord> reference;
    std::filesystem::path referenceFolder;
    std::vector<std::optional<SplitRecord>> records(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        const auto folder = out / taskFolderName(i, count);
        if (!std::filesystem::exists(folder / "sweep.json"))
            continue;
        records[static_cast<std::size_t>(i)] = readSplitRecord(folder, i, count);
        const SplitRecord& r = *records[static_cast<std::size_t>(i)];
        if (!reference) {
            reference = r;
            referenceFolder = folder;
        } else if (r.tasks != reference->tasks) {
            throw Error(folder.string() + " assigns the runs to the tasks otherwise than " + referenceFolder.string()
                + " (see split.tasks in their sweep.json): they are not tasks of one split sweep");
        }
    }
    std::optional<double> secondsPerUnit;
    if (o.secondsPerUnit > 0.0)
        secondsPerUnit = o.secondsPerUnit;
    for (const auto& r : records)
        if (!secondsPerUnit && r && r->secondsPerUnit)
            secondsPerUnit = r->secondsPerUnit;

    std::vector<TaskStatus> tasks;
    for (int i = 0; i < count; ++i) {
        TaskStatus t;
        t.index = i;
        t.folder = out / taskFolderName(i, count);
        const auto& own = records[static_cast<std::size_t>(i)];
        if (reference) {
            const nlohmann::json& share = reference->tasks[static_cast<std::size_t>(i)];
            t.runs = share.at("runs").get<std::vector<std::string>>();
            t.cost = share.at("cost").get<std::int64_t>();
            const std::optional<double> seconds = o.secondsPerUnit > 0.0
                ? secondsPerUnit
                : (own && own->secondsPerUnit ? own->secondsPerUnit : secondsPerUnit);
            if (seconds)
                t.estimatedMinutes = static_cast<double>(*t.cost) * *seconds / 60.0;
            if (i == 0 && reference->evaluate)
                t.baseMeasured = false;
        }
        if (own) {
            const std::vector<SweepRow> rows = readResults(t.folder / "results.csv");
            std::set<std::string> recorded;
            std::set<int> baseClasses;
            double seconds = 0.0;
            double sharedBaseSeconds = 0.0;
            for (const SweepRow& r : rows) {
                const double rowSeconds = (std::isnan(r.runSeconds) ? 0.0 : r.runSeconds)
                    + (std::isnan(r.evalSeconds) ? 0.0 : r.evalSeconds);
                if (r.method == "base") {
                    baseClasses.insert(r.forgetClass);
                    // Every base row of one shared measurement records its seconds: counted once.
                    if (own->sharedBase) {
                        sharedBaseSeconds = std::max(sharedBaseSeconds, rowSeconds);
                        continue;
                    }
                } else {
                    recorded.insert(runFileName(r));
                }
                seconds += rowSeconds;
            }
            t.measuredMinutes = (seconds + sharedBaseSeconds) / 60.0;
            if (t.baseMeasured) {
                bool all = true;
                for (const int c : reference->classes)
                    all = all && baseClasses.count(c) != 0;
                t.baseMeasured = all;
            }
            for (const std::string& run : *t.runs) {
                if (recorded.count(run)) {
                    ++t.done;
                    continue;
                }
                t.missing.push_back(run);
                const auto checkpoint = t.folder / "checkpoints" / (run + ".safetensors");
                if (!t.inProgress && std::filesystem::exists(checkpoint)) {
                    t.inProgress = run;
                    t.checkpointStep = checkpointStep(checkpoint);
                }
            }
            t.state = t.missing.empty() && t.baseMeasured.value_or(true) ? "done" : "partial";
        } else if (t.runs) {
            t.missing = *t.runs;
        }
        tasks.push_back(t);
    }

    std::size_t done = 0;
    std::size_t partial = 0;
    for (const TaskStatus& t : tasks) {
        done += t.state == "done" ? 1 : 0;
        partial += t.state == "partial" ? 1 : 0;
    }
    const std::size_t notStarted = tasks.size() - done - partial;
    const bool allDone = done == tasks.size();

    if (o.json) {
        nlohmann::json list = nlohmann::json::array();
        const auto orNull = [](const auto& value) { return value ? nlohmann::json(*value) : nlohmann::json(); };
        for (const TaskStatus& t : tasks) {
            nlohmann::json progress;
            if (t.inProgress)
                progress = { { "run", *t.inProgress }, { "checkpoint_step", orNull(t.checkpointStep) } };
            list.push_back({ { "index", t.index }, { "folder", t.folder.string() }, { "state", t.state },
                { "runs", t.runs ? nlohmann::json(t.runs->size()) : nlohmann::json() }, { "runs_done", t.done },
                { "missing", t.missing },
                { "base",
                    t.baseMeasured ? nlohmann::json(*t.baseMeasured ? "measured" : "missing") : nlohmann::json() },
                { "in_progress", progress }, { "cost", orNull(t.cost) },
                { "estimated_minutes", orNull(t.estimatedMinutes) },
                { "measured_minutes", orNull(t.measuredMinutes) } });
        }
        std::cout << nlohmann::json {
            { "out", out.string() }, { "task_count", count }, { "seconds_per_unit", orNull(secondsPerUnit) },
            { "all_done", allDone }, { "tasks", list }
        }.dump(2) << '\n';
        return allDone ? 0 : kExitNotDone;
    }

    std::cout << "sweep " << out.string() << ": " << count << " task" << (count == 1 ? "" : "s") << ", " << done
              << " done, " << partial << " partial, " << notStarted << " not started\n";
    if (secondsPerUnit)
        std::cout << "estimated minutes at " << number(*secondsPerUnit)
                  << " s per image pass (the plan's seconds_per_unit, sweep --seconds-per-unit)\n";
    else
        std::cout << "no estimated minutes: no task was started with --seconds-per-unit (give it here)\n";
    std::cout << std::left << std::setw(6) << "task" << std::setw(13) << "state" << std::right << std::setw(7) << "runs"
              << std::setw(11) << "estimated" << std::setw(10) << "measured"
              << "  (minutes)\n";
    for (const TaskStatus& t : tasks) {
        std::string runs = std::to_string(t.done) + "/" + (t.runs ? std::to_string(t.runs->size()) : "?");
        std::cout << std::left << std::setw(6) << t.index << std::setw(13) << t.state << std::right << std::setw(7)
                  << runs << std::setw(11) << (t.estimatedMinutes ? fixedText(*t.estimatedMinutes, 1) : "—")
                  << std::setw(10) << (t.measuredMinutes ? fixedText(*t.measuredMinutes, 1) : "—");
        std::string notes;
        if (t.baseMeasured && !*t.baseMeasured && t.state != "not started")
            notes += "base model not measured yet";
        if (t.inProgress)
            notes += (notes.empty() ? "" : "; ") + std::string("in progress: ") + *t.inProgress
                + (t.checkpointStep ? " (checkpoint at step " + std::to_string(*t.checkpointStep) + ")" : "");
        if (t.state == "partial" && !t.missing.empty())
            notes += (notes.empty() ? "" : "; ") + std::string("missing ") + std::to_string(t.missing.size()) + ": " +
                [&] {
                    std::string names;
                    for (const auto& m : t.missing)
                        names += (names.empty() ? "" : ", ") + m;
                    return names;
                }();
        std::cout << (notes.empty() ? "" : "  " + notes) << '\n';
    }
    return allDone ? 0 : kExitNotDone;
}

} // namespace

void addSweepStatusCommand(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<SweepStatusOptions>();
    CLI::App* cmd = app.add_subcommand("sweep-status",
        "How far every task of a split sweep has got: done, partial (the runs missing, the one in progress) or not "
        "started, with estimated and measured minutes. Exit code 0: all done; 3: not yet; 2: bad input");
    cmd->add_option("out", o->out, "The --out of the split sweep (it holds task-I-of-N folders)")->required();
    cmd->add_option("--task-count", o->taskCount,
           "Number of tasks of the split (default: from the task folders; needed before any task has started)")
        ->check(CLI::Range(1, 1000000));
    cmd->add_option("--seconds-per-unit", o->secondsPerUnit,
           "Seconds per image pass for the estimated minutes (default: the value the tasks were started with)")
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--json", o->json, "Print the status as one JSON object");
    cmd->callback([o, &global] {
        runCommand(global, [&] {
            try {
                global.exitCode = runSweepStatus(*o);
            } catch (const Error& e) {
                std::cerr << "error: " << e.what() << '\n';
                global.exitCode = 2;
            }
        });
    });
}

} // namespace lethe::cli
