// sweep: unlearning runs over α × λ × methods × forget classes into one CSV, resumable, with a summary; one
// task's share of a sweep split over a cluster's job array, and sweep-merge, which joins the tasks' folders.
#include "cli_support.h"
#include "commands.h"
#include "unlearn_support.h"

#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/io/atomic_file.h"
#include "core/io/csv_table.h"
#include "core/io/json_text.h"
#include "core/runtime.h"
#include "core/unlearn/run_record.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

namespace lethe::cli {

namespace {

struct SweepOptions {
    std::string model;
    std::string classifier;
    std::string data = "fashion-mnist";
    std::vector<int> forgetClasses;
    std::vector<std::string> methods = { "rgd" };
    std::vector<double> alphas;
    std::vector<double> lambdas;
    std::string out;
    bool keepModels = false;
    std::string device = "auto";
    RunConfigFlags flags;
    /// A number, "slurm" (the job array's task) or empty (the whole grid).
    std::string taskIndex;
    /// 0: not given.
    int taskCount = 0;
};

struct SweepMergeOptions {
    std::string out;
    std::vector<std::string> tasks;
    bool force = false;
};

constexpr const char* kResultsHeader = "method,forget_class,forget_class_name,alpha,lambda,steps,outcome,ua,ra,"
                                       "ra_class_mean,fd_cls,kid_cls,run_seconds,eval_seconds";

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

    std::string key() const { return method + "|" + std::to_string(forgetClass) + "|" + alpha + "|" + lambda; }
};

std::string number(double value)
{
    if (std::isnan(value))
        return "";
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

double parseNumber(const std::string& text)
{
    return text.empty() ? NAN : std::stod(text);
}

std::string csvLine(const SweepRow& r)
{
    std::string name = r.className;
    if (name.find_first_of(",\"") != std::string::npos) {
        std::string quoted = "\"";
        for (const char c : name)
            quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        name = quoted + "\"";
    }
    return r.method + "," + std::to_string(r.forgetClass) + "," + name + "," + r.alpha + "," + r.lambda + ","
        + std::to_string(r.steps) + "," + r.outcome + "," + number(r.ua) + "," + number(r.ra) + ","
        + number(r.raClassMean) + "," + number(r.fd) + "," + number(r.kid) + "," + number(r.runSeconds) + ","
        + number(r.evalSeconds);
}

/// Line `index` (1-based) of `text` as std::getline splits it, for messages.
std::string lineOf(const std::string& text, std::int64_t index)
{
    std::istringstream in(text);
    std::string line;
    for (std::int64_t i = 0; i < index && std::getline(in, line); ++i) { }
    return line;
}

/// The rows of an earlier (interrupted) sweep; an error names the line that cannot be read.
std::vector<SweepRow> readResults(const std::filesystem::path& path)
{
    std::vector<SweepRow> rows;
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return rows;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    const std::string text = bytes.str();
    if (text.empty())
        return rows;
    // The header is the exact line this version writes, so that a results.csv of another layout is never misread.
    if (text.substr(0, text.find('\n')) != kResultsHeader)
        throw Error(path.string() + ": line 1 is not the results header this version writes");
    const std::vector<io::CsvRecord> records = io::parseCsv(text, path.string());
    for (std::size_t i = 1; i < records.size(); ++i) {
        const std::int64_t line = records[i].line;
        const std::vector<std::string>& f = records[i].fields;
        if (f.size() != 14)
            throw Error(path.string() + ": line " + std::to_string(line) + ": expected 14 fields, found "
                + std::to_string(f.size()));
        try {
            SweepRow r;
            r.method = f[0];
            r.forgetClass = std::stoi(f[1]);
            r.className = f[2];
            r.alpha = f[3];
            r.lambda = f[4];
            r.steps = std::stoll(f[5]);
            r.outcome = f[6];
            r.ua = parseNumber(f[7]);
            r.ra = parseNumber(f[8]);
            r.raClassMean = parseNumber(f[9]);
            r.fd = parseNumber(f[10]);
            r.kid = parseNumber(f[11]);
            r.runSeconds = parseNumber(f[12]);
            r.evalSeconds = parseNumber(f[13]);
            rows.push_back(r);
        } catch (const std::exception&) {
            throw Error(
                path.string() + ": line " + std::to_string(line) + ": a number cannot be read: " + lineOf(text, line));
        }
    }
    return rows;
}

void writeResults(const std::filesystem::path& path, const std::vector<SweepRow>& rows)
{
    std::string text = std::string(kResultsHeader) + "\n";
    for (const auto& r : rows)
        text += csvLine(r) + "\n";
    io::writeFileAtomically(path, text);
}

/// The table printed at the end and saved as summary.txt: every run, then per method/α/λ means over classes.
std::string summaryText(const std::vector<SweepRow>& rows)
{
    std::ostringstream s;
    const auto cell = [](double v, int precision) {
        std::ostringstream c;
        if (std::isnan(v))
            c << "—";
        else
            c << std::fixed << std::setprecision(precision) << v;
        return c.str();
    };
    s << std::left << std::setw(9) << "method" << std::setw(16) << "forget class" << std::setw(8) << "α" << std::setw(8)
      << "λ" << std::right << std::setw(7) << "UA" << std::setw(7) << "RA" << std::setw(9) << "FD_cls" << std::setw(9)
      << "minutes"
      << "  outcome\n";
    for (const auto& r : rows)
        s << std::left << std::setw(9) << r.method << std::setw(16)
          << (std::to_string(r.forgetClass) + " " + r.className).substr(0, 15) << std::setw(8)
          << (r.alpha.empty() ? "—" : r.alpha) << std::setw(8) << (r.lambda.empty() ? "—" : r.lambda) << std::right
          << std::setw(7) << cell(r.ua, 3) << std::setw(7) << cell(r.ra, 3) << std::setw(9) << cell(r.fd, 3)
          << std::setw(9) << cell(r.runSeconds / 60.0, 1) << "  " << r.outcome << '\n';

    struct Mean {
        double ua = 0, ra = 0, fd = 0, minutes = 0;
        int n = 0;
    };
    std::map<std::string, Mean> means;
    std::vector<std::string> order;
    for (const auto& r : rows) {
        const std::string key
            = r.method + "  α " + (r.alpha.empty() ? "—" : r.alpha) + "  λ " + (r.lambda.empty() ? "—" : r.lambda);
        if (!means.count(key))
            order.push_back(key);
        Mean& m = means[key];
        m.ua += r.ua;
        m.ra += r.ra;
        m.fd += r.fd;
        m.minutes += r.runSeconds / 60.0;
        ++m.n;
    }
    s << "\nmeans over forget classes\n";
    for (const auto& key : order) {
        const Mean& m = means[key];
        s << std::left << std::setw(28) << key << std::right << "  UA " << cell(m.ua / m.n, 3) << "  RA "
          << cell(m.ra / m.n, 3) << "  FD_cls " << cell(m.fd / m.n, 3) << "  " << cell(m.minutes / m.n, 1) << " min  ("
          << m.n << " class" << (m.n == 1 ? "" : "es") << ")\n";
    }
    return s.str();
}

struct Combination {
    unlearn::Method method;
    int forgetClass;
    double alpha;
    double lambda;
    std::string alphaText;
    std::string lambdaText;
};

/// "graddiff, forget class 4, α 0.1, λ 5": one run of the grid in messages ("base, forget class 4" for the
/// base model's figures).
std::string describeRun(const SweepRow& r)
{
    std::string text = r.method + ", forget class " + std::to_string(r.forgetClass);
    if (r.method != "base")
        text += ", α " + (r.alpha.empty() ? std::string("—") : r.alpha) + ", λ "
            + (r.lambda.empty() ? std::string("—") : r.lambda);
    return text;
}

SweepRow runKey(const std::string& method, int forgetClass, const std::string& alpha, const std::string& lambda)
{
    SweepRow r;
    r.method = method;
    r.forgetClass = forgetClass;
    r.alpha = alpha;
    r.lambda = lambda;
    return r;
}

/// The share of the grid one process runs: run i of the grid belongs to task i mod count.
struct TaskShare {
    int index = 0;
    /// 0: not split, the whole grid.
    int count = 0;

    bool split() const { return count > 0; }
    bool owns(std::size_t run) const { return !split() || static_cast<int>(run % count) == index; }
    std::string name() const { return "task " + std::to_string(index) + " of " + std::to_string(count); }
};

/// A whole number from the environment variable `name`; empty when it is not set.
std::optional<int> environmentNumber(const char* name)
{
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0')
        return std::nullopt;
    try {
        std::size_t used = 0;
        const int number = std::stoi(value, &used);
        if (used == std::strlen(value))
            return number;
    } catch (const std::exception&) {
    }
    throw Error(std::string(name) + " is '" + value + "', not a whole number");
}

/// --task-index and --task-count, or with "--task-index slurm" the task of the Slurm job array this runs in.
TaskShare resolveTaskShare(const std::string& indexText, int countGiven)
{
    if (indexText.empty()) {
        if (countGiven > 0)
            throw Error("--task-count needs --task-index (a number, or 'slurm' inside a Slurm job array)");
        return {};
    }
    TaskShare share;
    if (indexText == "slurm") {
        // The array index is the task index, so that one task can be resubmitted alone (--array=2 with
        // --task-count 4). Without --task-count the array must be exactly 0..N-1.
        const auto id = environmentNumber("SLURM_ARRAY_TASK_ID");
        if (!id)
            throw Error("--task-index slurm: SLURM_ARRAY_TASK_ID is not set; run it as a task of a Slurm job array "
                        "(sbatch --array=0-3) or give --task-index and --task-count");
        share.index = *id;
        if (countGiven > 0) {
            share.count = countGiven;
        } else {
            const auto count = environmentNumber("SLURM_ARRAY_TASK_COUNT");
            const auto min = environmentNumber("SLURM_ARRAY_TASK_MIN");
            const auto max = environmentNumber("SLURM_ARRAY_TASK_MAX");
            if (!count || !min || !max)
                throw Error("--task-index slurm: SLURM_ARRAY_TASK_COUNT, _MIN or _MAX is not set; give --task-count");
            if (*min != 0 || *max != *count - 1)
                throw Error("--task-index slurm: the job array's task ids are not 0–" + std::to_string(*count - 1)
                    + " (SLURM_ARRAY_TASK_MIN " + std::to_string(*min) + ", SLURM_ARRAY_TASK_MAX "
                    + std::to_string(*max) + ", SLURM_ARRAY_TASK_COUNT " + std::to_string(*count)
                    + "): give --task-count, the number of tasks the sweep is split into");
            share.count = *count;
        }
        if (share.index < 0 || share.index >= share.count)
            throw Error("--task-index slurm: SLURM_ARRAY_TASK_ID " + std::to_string(share.index) + " is outside 0–"
                + std::to_string(share.count - 1) + " (--task-count " + std::to_string(share.count) + ")");
        return share;
    }
    try {
        std::size_t used = 0;
        share.index = std::stoi(indexText, &used);
        if (used != indexText.size())
            throw std::invalid_argument(indexText);
    } catch (const std::exception&) {
        throw Error("--task-index must be a whole number or 'slurm', found '" + indexText + "'");
    }
    if (countGiven <= 0)
        throw Error("--task-index needs --task-count, the number of tasks the sweep is split into");
    if (share.index < 0 || share.index >= countGiven)
        throw Error("--task-index " + indexText + " is outside 0–" + std::to_string(countGiven - 1) + " (--task-count "
            + std::to_string(countGiven) + ")");
    share.count = countGiven;
    return share;
}

nlohmann::json gridJson(const std::vector<Combination>& combinations)
{
    nlohmann::json grid = nlohmann::json::array();
    for (const auto& c : combinations)
        grid.push_back({ { "method", unlearn::methodName(c.method) }, { "forget_class", c.forgetClass },
            { "alpha", c.alphaText }, { "lambda", c.lambdaText } });
    return grid;
}

nlohmann::json readJsonFile(const std::filesystem::path& path)
{
    std::ifstream file(path);
    if (!file)
        throw Error(path.string() + ": cannot be read");
    try {
        nlohmann::json j;
        file >> j;
        return j;
    } catch (const nlohmann::json::exception& e) {
        throw Error(path.string() + ": invalid JSON: " + e.what());
    }
}

void runSweep(const SweepOptions& o)
{
    const TaskShare share = resolveTaskShare(o.taskIndex, o.taskCount);
    const unlearn::RunConfig base = buildRunConfig(o.flags);
    const std::vector<double> alphas = o.alphas.empty() ? std::vector<double> { base.alpha } : o.alphas;
    const std::vector<double> lambdas = o.lambdas.empty() ? std::vector<double> { base.lambda } : o.lambdas;
    // A value given twice would run twice and record the same run twice.
    std::vector<int> classes;
    for (const int c : o.forgetClasses)
        if (std::find(classes.begin(), classes.end(), c) == classes.end())
            classes.push_back(c);
    std::vector<Combination> combinations;
    std::set<std::string> seen;
    for (const int c : classes)
        for (const auto& name : o.methods) {
            const unlearn::Method method = unlearn::methodFromName(name);
            // GA ignores λ and SalUn α: one run stands for all their values.
            const bool usesAlpha = method != unlearn::Method::SalUn;
            const bool usesLambda = method != unlearn::Method::GA;
            for (std::size_t i = 0; i < (usesAlpha ? alphas.size() : 1); ++i)
                for (std::size_t j = 0; j < (usesLambda ? lambdas.size() : 1); ++j) {
                    Combination combination { method, c, usesAlpha ? alphas[i] : base.alpha,
                        usesLambda ? lambdas[j] : base.lambda, usesAlpha ? number(alphas[i]) : "",
                        usesLambda ? number(lambdas[j]) : "" };
                    const std::string key
                        = runKey(unlearn::methodName(method), c, combination.alphaText, combination.lambdaText).key();
                    if (seen.insert(key).second)
                        combinations.push_back(combination);
                }
        }

    // A task of a split sweep works in its own subfolder, so that all tasks can share one --out.
    const std::filesystem::path dir = share.split()
        ? std::filesystem::path(o.out) / ("task-" + std::to_string(share.index) + "-of-" + std::to_string(share.count))
        : std::filesystem::path(o.out);
    std::filesystem::create_directories(dir);
    const torch::Device device = resolveDevice(o.device);
    UnlearnInputs in = loadUnlearnInputs(o.model, o.data, o.classifier, base.evaluate, o.forgetClasses, device);

    // A sweep resumes only with the same model and settings; its grid may grow.
    nlohmann::json settings = unlearn::toJson(base);
    settings.erase("method");
    settings.erase("alpha");
    settings.erase("lambda");
    nlohmann::json identity
        = { { "model_sha256", in.model.sha256 }, { "data", in.train.source }, { "config", settings } };
    // A task's share depends on the whole grid, so a task folder records it and its grid cannot grow.
    if (share.split())
        identity["split"]
            = { { "task_index", share.index }, { "task_count", share.count }, { "grid", gridJson(combinations) } };
    const auto identityPath = dir / "sweep.json";
    if (std::filesystem::exists(identityPath)) {
        nlohmann::json saved = readJsonFile(identityPath);
        if (share.split() && saved.is_object() && saved.contains("split") && saved["split"].is_object()
            && saved["split"].contains("grid")) {
            nlohmann::json savedWithoutGrid = saved;
            savedWithoutGrid["split"].erase("grid");
            nlohmann::json identityWithoutGrid = identity;
            identityWithoutGrid["split"].erase("grid");
            if (savedWithoutGrid == identityWithoutGrid && saved != identity)
                throw Error(dir.string() + " holds " + share.name()
                    + " of a sweep over another grid (see sweep.json): the grid of a split sweep cannot change, "
                      "since it decides which task runs which run; choose another --out for the new grid");
        }
        if (saved != identity)
            throw Error(dir.string()
                + " holds a sweep of another model or other settings (see sweep.json): choose "
                  "another --out to start a new sweep");
    } else {
        io::writeFileAtomically(identityPath, io::jsonText(identity, 2));
    }
    const auto resultsPath = dir / "results.csv";
    std::vector<SweepRow> rows = readResults(resultsPath);
    std::map<std::string, std::size_t> done;
    for (std::size_t i = 0; i < rows.size(); ++i)
        done[rows[i].key()] = i;

    CancelOnInterrupt interrupt;
    std::size_t mine = 0;
    std::size_t todo = 0;
    for (std::size_t i = 0; i < combinations.size(); ++i) {
        if (!share.owns(i))
            continue;
        const Combination& c = combinations[i];
        ++mine;
        todo += done.count(runKey(unlearn::methodName(c.method), c.forgetClass, c.alphaText, c.lambdaText).key()) ? 0
                                                                                                                  : 1;
    }
    if (share.split())
        std::cerr << share.name() << ": " << mine << " of the sweep's " << combinations.size() << " runs into "
                  << resultsPath.string() << ": " << mine - todo << " already done, " << todo << " to run"
                  << (base.evaluate && share.index == 0 ? " (and the base model's figures)" : "") << '\n';
    else
        std::cerr << "sweep of " << combinations.size() << " runs into " << resultsPath.string() << ": "
                  << combinations.size() - todo << " already done, " << todo << " to run\n";

    // The base model's figures for each forget class, from one evaluation; task 0 measures them for a split sweep.
    if (base.evaluate && (!share.split() || share.index == 0)) {
        std::vector<int> missing;
        for (const int c : classes)
            if (!done.count("base|" + std::to_string(c) + "||"))
                missing.push_back(c);
        if (!missing.empty()) {
            std::cerr << "measuring the base model (" << base.evalImagesPerClass << " images per class)\n";
            ProgressLine progress;
            eval::GenerationEvalOptions options;
            options.imagesPerClass = base.evalImagesPerClass;
            const auto e = eval::evaluateGeneration(
                in.model.net, in.classifier->model, *in.real, options, device, imageProgress(progress));
            progress.clear();
            if (!e)
                throw Error("interrupted while measuring the base model; rerun the same command to resume");
            for (const int c : missing) {
                const auto scores = eval::unlearningScores(e->predicted, e->generatedFor, c, in.model.classCount());
                SweepRow r;
                r.method = "base";
                r.forgetClass = c;
                r.className = in.className(c);
                r.outcome = "measured";
                r.ua = scores.ua;
                r.ra = scores.ra;
                r.raClassMean = scores.raClassMean;
                r.fd = e->frechet;
                r.kid = e->kid.mean;
                r.evalSeconds = e->seconds;
                done[r.key()] = rows.size();
                rows.push_back(r);
            }
            writeResults(resultsPath, rows);
        }
    }

    std::size_t index = 0;
    for (std::size_t i = 0; i < combinations.size(); ++i) {
        if (!share.owns(i))
            continue;
        const Combination& c = combinations[i];
        SweepRow r;
        r.method = unlearn::methodName(c.method);
        r.forgetClass = c.forgetClass;
        r.className = in.className(c.forgetClass);
        r.alpha = c.alphaText;
        r.lambda = c.lambdaText;
        if (done.count(r.key()))
            continue;
        ++index;
        unlearn::RunConfig config = base;
        config.method = c.method;
        config.alpha = c.alpha;
        config.lambda = c.lambda;
        std::cerr << "[" << index << "/" << todo << "] " << r.method << ", forget " << c.forgetClass << " ("
                  << r.className << "), α " << (r.alpha.empty() ? "—" : r.alpha) << ", λ "
                  << (r.lambda.empty() ? "—" : r.lambda) << '\n';
        config.forgetClass = c.forgetClass;
        unlearn::UnlearnSession session(in.model.net, in.train, config, device);
        if (config.evaluate)
            session.setEvaluator(in.classifier->model, *in.real);
        struct Progress : unlearn::RunObserver {
            ProgressLine line;
            std::int64_t total = 0;
            void onStep(const unlearn::StepReport& s) override
            {
                char text[160];
                std::snprintf(text, sizeof text, "step %lld/%lld  L_f %.4g  L_r %.4g  cos %+.3f",
                    static_cast<long long>(s.step), static_cast<long long>(total), s.forgetLoss, s.remainLoss,
                    s.cosine);
                line.update(text, s.step == total);
            }
        } progress;
        progress.total = config.steps;
        const unlearn::RunResult result = runUntilInterrupted(session, progress);
        progress.line.clear();
        if (result.outcome == unlearn::RunOutcome::Stopped || CancelOnInterrupt::requested()) {
            std::cerr << "interrupted: this run is not recorded; rerun the same command to resume\n";
            break;
        }
        r.steps = result.steps;
        r.outcome = unlearn::outcomeName(result.outcome);
        r.runSeconds = result.seconds;
        if (result.evaluation) {
            r.ua = result.evaluation->unlearning->ua;
            r.ra = result.evaluation->unlearning->ra;
            r.raClassMean = result.evaluation->unlearning->raClassMean;
            r.fd = result.evaluation->frechet;
            r.kid = result.evaluation->kid.mean;
            r.evalSeconds = result.evaluation->seconds;
        }
        if (o.keepModels) {
            const std::string name = r.method + "-class" + std::to_string(c.forgetClass)
                + (r.alpha.empty() ? "" : "-a" + r.alpha) + (r.lambda.empty() ? "" : "-l" + r.lambda) + ".safetensors";
            std::filesystem::create_directories(dir / "models");
            unlearn::writeEdmModel(dir / "models" / name, session.model(),
                unlearn::unlearnedModelInfo(
                    in.model.info, in.model.sha256, session.config(), result, "lethe-cli sweep"));
        }
        std::cerr << "    " << r.outcome << " in " << duration(r.runSeconds) << ": UA " << number(r.ua) << ", RA "
                  << number(r.ra) << ", FD_cls " << number(r.fd) << '\n';
        rows.push_back(r);
        writeResults(resultsPath, rows);
    }

    const std::string summary = summaryText(rows);
    io::writeFileAtomically(dir / "summary.txt", summary);
    std::cout << summary << "wrote " << resultsPath.string() << " and summary.txt\n";
    if (share.split())
        std::cout << "when all " << share.count << " tasks have finished: lethe-cli sweep-merge --out " << o.out << ' '
                  << (std::filesystem::path(o.out) / ("task-*-of-" + std::to_string(share.count))).string() << '\n';
}

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
            if (same == first.identity)
                throw Error(t.dir.string() + " splits another grid than " + first.dir.string()
                    + " (other --forget-classes, --methods, --alphas or --lambdas): give the task folders of one "
                      "split sweep");
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

    // Which task owns each run: run i of the grid is task i mod count's; the base model's figures are task 0's.
    std::vector<SweepRow> grid;
    std::vector<int> classes;
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
        owner[grid[i].key()] = static_cast<int>(i % static_cast<std::size_t>(count));
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
    const std::string summary = summaryText(rows);
    io::writeFileAtomically(out / "summary.txt", summary);
    std::cout << summary << "merged " << count << " tasks (" << rows.size() << " rows): wrote "
              << (out / "results.csv").string() << ", summary.txt and sweep.json\n";
}

} // namespace

void addSweepCommands(CLI::App& app, GlobalOptions& global)
{
    auto o = std::make_shared<SweepOptions>();
    CLI::App* cmd = app.add_subcommand(
        "sweep", "Unlearning runs over α × λ × methods × forget classes into one CSV (an interrupted sweep resumes)");
    addInputFlags(cmd, o->model, o->data, o->classifier);
    cmd->add_option("--forget-classes", o->forgetClasses, "Classes to forget, one run each (e.g. 1,7,9)")
        ->required()
        ->delimiter(',');
    cmd->add_option("--methods", o->methods, "Methods (ga, graddiff, rg, rgd, salun)")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::IsMember(unlearn::methodNames(), CLI::ignore_case));
    cmd->add_option("--alphas", o->alphas, "α values (default: the preset's)")->delimiter(',');
    cmd->add_option("--lambdas", o->lambdas, "λ values (default: the preset's)")->delimiter(',');
    cmd->add_option("--out", o->out, "Sweep folder: results.csv, summary.txt, sweep.json")->required();
    addRunConfigFlags(cmd, o->flags, false);
    cmd->add_flag("--keep-models", o->keepModels, "Write every run's model to models/");
    cmd->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
    cmd->add_option("--task-index", o->taskIndex,
        "Run only this task's share of the grid (0-based; 'slurm': SLURM_ARRAY_TASK_ID), into OUT/task-I-of-N; "
        "sweep-merge joins the tasks");
    cmd->add_option("--task-count", o->taskCount,
           "Number of tasks the grid is split into: run i of the grid goes to task i mod N (with 'slurm', "
           "default: the job array's size, when its ids are 0..N-1)")
        ->check(CLI::Range(1, 1000000));
    cmd->callback([o, &global] { runCommand(global, [&] { runSweep(*o); }); });

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
