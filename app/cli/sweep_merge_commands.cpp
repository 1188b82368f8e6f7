// sweep-merge: joins the task folders of a sweep split over a cluster's job array (sweep --task-index) into the
// results.csv, summary.txt and sweep.json of one sweep, after checking that they are every task of one sweep.
#include "commands.h"
#include "sweep_support.h"

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_text.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lethe::cli {

namespace {

struct SweepMergeOptions {
    std::string out;
    std::vector<std::string> tasks;
    bool force = false;
};

/// One task folder of a split sweep, as sweep-merge reads it.
struct TaskFolder {
    std::filesystem::path dir;
    nlohmann::json identity;
    TaskShare share;
};

TaskFolder readTaskFolder(const std::filesystem::path& dir)
{
    if (!std::filesystem::is_directory(dir))
        throw Error(dir.string() + " is not a folder");
    const auto path = dir / "sweep.json";
    if (!std::filesystem::exists(path))
        throw Error(dir.string() + " is not a sweep folder (it has no sweep.json)");
    TaskFolder t { dir, readJsonFile(path), {} };
    if (!t.identity.is_object() || !t.identity.contains("split"))
        throw Error(dir.string()
            + " holds a whole sweep, not one task of a split sweep (its sweep.json has no \"split\"): "
              "there is nothing to merge");
    // The plan's seconds per image pass (sweep --seconds-per-unit) is no part of what the sweep is.
    t.identity.erase("seconds_per_unit");
    if (t.identity.at("split").is_object() && !t.identity.at("split").contains("tasks"))
        throw Error(dir.string()
            + " was split by an earlier version of Lethe (run i to task i mod N; its sweep.json has no split.tasks): "
              "merge it with that version");
    try {
        const nlohmann::json& split = t.identity.at("split");
        t.share.index = split.at("task_index").get<int>();
        t.share.count = split.at("task_count").get<int>();
        if (!split.at("grid").is_array() || t.share.count < 1 || t.share.index < 0 || t.share.index >= t.share.count)
            throw Error("");
    } catch (const std::exception&) {
        throw Error(path.string() + ": \"split\" must hold task_index (0 to task_count - 1), task_count and grid");
    }
    return t;
}

/// "config.steps is 2 in B, 1 in A": the first setting in which two task folders' sweep.json (`a` and `b`) differ.
std::string firstDifference(const TaskFolder& a, const TaskFolder& b, const nlohmann::json& bIdentity)
{
    const nlohmann::json patch = nlohmann::json::diff(a.identity, bIdentity);
    const std::string pointer = patch.at(0).at("path").get<std::string>();
    const nlohmann::json::json_pointer where(pointer);
    const auto valueIn
        = [&where](const nlohmann::json& j) { return j.contains(where) ? j.at(where).dump() : std::string("absent"); };
    std::string name = pointer.substr(1);
    std::replace(name.begin(), name.end(), '/', '.');
    return name + " is " + valueIn(bIdentity) + " in " + b.dir.string() + ", " + valueIn(a.identity) + " in "
        + a.dir.string();
}

std::string joinNumbers(const std::vector<int>& numbers)
{
    std::string text;
    for (const int n : numbers)
        text += (text.empty() ? "" : ", ") + std::to_string(n);
    return text.empty() ? "none" : text;
}

void runSweepMerge(const SweepMergeOptions& o)
{
    std::vector<TaskFolder> tasks;
    for (const auto& dir : o.tasks)
        tasks.push_back(readTaskFolder(dir));

    // One split sweep: the same model, data, settings, grid and number of tasks; every task once.
    const TaskFolder& first = tasks.front();
    const int count = first.share.count;
    for (const auto& t : tasks) {
        if (t.share.count != count)
            throw Error(t.dir.string() + " is " + t.share.name() + ", but " + first.dir.string() + " is "
                + first.share.name() + ": give the task folders of one split sweep");
        nlohmann::json same = t.identity;
        same["split"]["task_index"] = first.share.index;
        if (same == first.identity)
            continue;
        if (same.at("split").at("grid") != first.identity.at("split").at("grid")) {
            same["split"]["grid"] = first.identity.at("split").at("grid");
            same["split"]["tasks"] = first.identity.at("split").at("tasks");
            if (same == first.identity)
                throw Error(t.dir.string() + " splits another grid than " + first.dir.string()
                    + " (other --forget-classes, --methods, --alphas or --lambdas): give the task folders of one "
                      "split sweep");
        } else if (same.at("split").at("tasks") != first.identity.at("split").at("tasks")) {
            same["split"]["tasks"] = first.identity.at("split").at("tasks");
            if (same == first.identity)
                throw Error(t.dir.string() + " assigns the grid's runs to the tasks otherwise than "
                    + first.dir.string()
                    + " (see split.tasks in their sweep.json; another version of Lethe's cost model): give the task "
                      "folders of one split sweep");
        }
        throw Error(t.dir.string() + " is not a task of the same sweep as " + first.dir.string()
            + " (another model, data set or settings): " + firstDifference(first, t, same));
    }
    std::vector<const TaskFolder*> byIndex(static_cast<std::size_t>(count), nullptr);
    for (const auto& t : tasks) {
        const TaskFolder*& slot = byIndex[static_cast<std::size_t>(t.share.index)];
        if (slot != nullptr)
            throw Error(t.share.name() + " is given twice: " + slot->dir.string() + " and " + t.dir.string());
        slot = &t;
    }
    std::vector<int> missingTasks;
    std::vector<int> givenTasks;
    for (int i = 0; i < count; ++i)
        (byIndex[static_cast<std::size_t>(i)] == nullptr ? missingTasks : givenTasks).push_back(i);
    if (!missingTasks.empty())
        throw Error(std::string(missingTasks.size() == 1 ? "task " : "tasks ") + joinNumbers(missingTasks) + " of "
            + std::to_string(count) + (missingTasks.size() == 1 ? " is" : " are")
            + " missing: the folders given hold tasks " + joinNumbers(givenTasks));

    const std::filesystem::path out(o.out);
    for (const auto& t : tasks)
        if (std::filesystem::exists(out) && std::filesystem::equivalent(out, t.dir))
            throw Error("--out " + out.string() + " is one of the task folders: choose another folder");
    for (const char* name : { "results.csv", "sweep.json" })
        if (!o.force && std::filesystem::exists(out / name))
            throw Error(out.string() + " already holds a sweep (" + name
                + "): choose another --out or pass --force to replace it");

    // Which task owns each run: the one split.tasks names (the assignment by cost, sweep_plan.h); the base model's
    // figures are task 0's.
    std::vector<SweepRow> grid;
    std::vector<int> classes;
    std::map<std::string, int> assigned; // Run name → task.
    try {
        for (const auto& run : first.identity.at("split").at("grid")) {
            grid.push_back(runKey(run.at("method").get<std::string>(), run.at("forget_class").get<int>(),
                run.at("alpha").get<std::string>(), run.at("lambda").get<std::string>()));
            if (std::find(classes.begin(), classes.end(), grid.back().forgetClass) == classes.end())
                classes.push_back(grid.back().forgetClass);
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error((first.dir / "sweep.json").string() + ": the grid cannot be read: " + e.what());
    }
    try {
        const nlohmann::json& shares = first.identity.at("split").at("tasks");
        if (!shares.is_array() || shares.size() != static_cast<std::size_t>(count))
            throw Error("");
        for (std::size_t i = 0; i < shares.size(); ++i) {
            if (shares[i].at("index").get<int>() != static_cast<int>(i))
                throw Error("");
            for (const auto& name : shares[i].at("runs"))
                if (!assigned.emplace(name.get<std::string>(), static_cast<int>(i)).second)
                    throw Error("");
        }
        if (assigned.size() != grid.size())
            throw Error("");
        for (const auto& run : grid)
            if (!assigned.count(runFileName(run)))
                throw Error("");
    } catch (const std::exception&) {
        throw Error((first.dir / "sweep.json").string()
            + ": split.tasks does not assign every run of the grid to exactly one of the " + std::to_string(count)
            + " tasks");
    }
    const bool evaluate = first.identity.at("config").value("evaluate", true);
    std::vector<SweepRow> expected;
    std::map<std::string, int> owner;
    if (evaluate)
        for (const int c : classes) {
            expected.push_back(runKey("base", c, "", ""));
            owner[expected.back().key()] = 0;
        }
    for (std::size_t i = 0; i < grid.size(); ++i) {
        expected.push_back(grid[i]);
        owner[grid[i].key()] = assigned.at(runFileName(grid[i]));
    }

    std::map<std::string, SweepRow> found;
    std::vector<std::string> incomplete;
    for (const TaskFolder* t : byIndex) {
        const auto resultsPath = t->dir / "results.csv";
        std::set<std::string> seen;
        for (const auto& row : readResults(resultsPath)) {
            const auto it = owner.find(row.key());
            if (it == owner.end())
                throw Error(resultsPath.string() + " holds " + describeRun(row) + ", which is not in the sweep's grid");
            if (!seen.insert(row.key()).second)
                throw Error(resultsPath.string() + " holds " + describeRun(row) + " twice");
            if (it->second != t->share.index)
                throw Error(resultsPath.string() + " holds " + describeRun(row) + ", which is task "
                    + std::to_string(it->second) + "'s run, not " + t->share.name()
                    + "'s: " + byIndex[static_cast<std::size_t>(it->second)]->dir.string() + " should hold it");
            found[row.key()] = row;
        }
        std::vector<std::string> lacking;
        std::size_t owned = 0;
        for (const auto& run : expected)
            if (owner[run.key()] == t->share.index) {
                ++owned;
                if (!found.count(run.key()))
                    lacking.push_back(describeRun(run));
            }
        if (!lacking.empty()) {
            std::string line = t->dir.string() + " (" + t->share.name() + ") lacks " + std::to_string(lacking.size())
                + " of its " + std::to_string(owned) + " runs: ";
            for (std::size_t i = 0; i < lacking.size(); ++i)
                line += (i ? "; " : "") + lacking[i];
            incomplete.push_back(line);
        }
    }
    if (!incomplete.empty()) {
        std::string message = "the sweep is not complete; rerun "
            + std::string(incomplete.size() == 1 ? "that task" : "those tasks")
            + " with the same command (a task resumes where it stopped), then merge again:";
        for (const auto& line : incomplete)
            message += "\n  " + line;
        throw Error(message);
    }

    // The rows in the order a local sweep of the same grid writes them: the base rows, then the grid's.
    std::vector<SweepRow> rows;
    for (const auto& run : expected)
        rows.push_back(found.at(run.key()));
    nlohmann::json identity = first.identity;
    identity.erase("split");
    std::filesystem::create_directories(out);
    // sweep.json without "split" is the one a local sweep writes, so `sweep --out` can extend the merged sweep.
    io::writeFileAtomically(out / "sweep.json", io::jsonText(identity, 2));
    writeResults(out / "results.csv", rows);
    // sweep --attack: every task's attacks.csv rows, task by task, under one header.
    std::string attacks;
    for (const TaskFolder* t : byIndex)
        if (std::filesystem::exists(t->dir / "attacks.csv")) {
            const std::string text = io::readFile(t->dir / "attacks.csv");
            const std::size_t body = text.find('\n');
            if (body != std::string::npos)
                attacks += text.substr(body + 1);
        }
    if (!attacks.empty())
        io::writeFileAtomically(out / "attacks.csv", std::string(kAttacksHeader) + "\n" + attacks);
    const std::string summary = summaryText(rows);
    io::writeFileAtomically(out / "summary.txt", summary);
    std::cout << summary << "merged " << count << " tasks (" << rows.size() << " rows): wrote "
              << (out / "results.csv").string() << ", summary.txt and sweep.json\n";
}

} // namespace

void addSweepMergeCommand(CLI::App& app, GlobalOptions& global)
{
    auto m = std::make_shared<SweepMergeOptions>();
    CLI::App* merge = app.add_subcommand("sweep-merge",
        "Join the task folders of a split sweep (sweep --task-index) into the results.csv and summary.txt of one "
        "sweep");
    merge->add_option("--out", m->out, "Sweep folder to write: results.csv, summary.txt, sweep.json")->required();
    merge->add_option("tasks", m->tasks, "The task folders (OUT/task-I-of-N of every task I)")->required();
    merge->add_flag("--force", m->force, "Replace a sweep already in --out");
    merge->callback([m, &global] { runCommand(global, [&] { runSweepMerge(*m); }); });
}

} // namespace lethe::cli
