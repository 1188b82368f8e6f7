// sweep: unlearning runs over α × λ × methods × forget classes into one CSV, resumable, with a summary.
#include "cli_support.h"
#include "commands.h"
#include "unlearn_support.h"

#include "core/error.h"
#include "core/eval/accuracy.h"
#include "core/io/atomic_file.h"
#include "core/runtime.h"
#include "core/unlearn/run_record.h"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
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

std::vector<std::string> splitCsv(const std::string& line)
{
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
                fields.back() += '"', ++i;
            else if (c == '"')
                quoted = false;
            else
                fields.back() += c;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.emplace_back();
        } else {
            fields.back() += c;
        }
    }
    return fields;
}

/// The rows of an earlier (interrupted) sweep; an error names the line that cannot be read.
std::vector<SweepRow> readResults(const std::filesystem::path& path)
{
    std::vector<SweepRow> rows;
    std::ifstream in(path);
    if (!in)
        return rows;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (number == 1) {
            if (line != kResultsHeader)
                throw Error(path.string() + ": line 1 is not the results header this version writes");
            continue;
        }
        if (line.empty())
            continue;
        const auto f = splitCsv(line);
        if (f.size() != 14)
            throw Error(path.string() + ": line " + std::to_string(number) + ": expected 14 fields, found "
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
            throw Error(path.string() + ": line " + std::to_string(number) + ": a number cannot be read: " + line);
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

void runSweep(const SweepOptions& o)
{
    const unlearn::RunConfig base = buildRunConfig(o.flags);
    const std::vector<double> alphas = o.alphas.empty() ? std::vector<double> { base.alpha } : o.alphas;
    const std::vector<double> lambdas = o.lambdas.empty() ? std::vector<double> { base.lambda } : o.lambdas;
    std::vector<Combination> combinations;
    for (const int c : o.forgetClasses)
        for (const auto& name : o.methods) {
            const unlearn::Method method = unlearn::methodFromName(name);
            // GA ignores λ and SalUn α: one run stands for all their values.
            const bool usesAlpha = method != unlearn::Method::SalUn;
            const bool usesLambda = method != unlearn::Method::GA;
            for (std::size_t i = 0; i < (usesAlpha ? alphas.size() : 1); ++i)
                for (std::size_t j = 0; j < (usesLambda ? lambdas.size() : 1); ++j)
                    combinations.push_back(
                        { method, c, usesAlpha ? alphas[i] : base.alpha, usesLambda ? lambdas[j] : base.lambda,
                            usesAlpha ? number(alphas[i]) : "", usesLambda ? number(lambdas[j]) : "" });
        }

    const std::filesystem::path dir(o.out);
    std::filesystem::create_directories(dir);
    const torch::Device device = resolveDevice(o.device);
    UnlearnInputs in = loadUnlearnInputs(o.model, o.data, o.classifier, base.evaluate, o.forgetClasses, device);

    // A sweep resumes only with the same model and settings; its grid may grow.
    nlohmann::json settings = unlearn::toJson(base);
    settings.erase("method");
    settings.erase("alpha");
    settings.erase("lambda");
    const nlohmann::json identity
        = { { "model_sha256", in.model.sha256 }, { "data", in.train.source }, { "config", settings } };
    const auto identityPath = dir / "sweep.json";
    if (std::filesystem::exists(identityPath)) {
        std::ifstream file(identityPath);
        nlohmann::json saved;
        try {
            file >> saved;
        } catch (const nlohmann::json::exception& e) {
            throw Error(identityPath.string() + ": invalid JSON: " + e.what());
        }
        if (saved != identity)
            throw Error(dir.string()
                + " holds a sweep of another model or other settings (see sweep.json): choose "
                  "another --out to start a new sweep");
    } else {
        io::writeFileAtomically(identityPath, identity.dump(2) + "\n");
    }
    const auto resultsPath = dir / "results.csv";
    std::vector<SweepRow> rows = readResults(resultsPath);
    std::map<std::string, std::size_t> done;
    for (std::size_t i = 0; i < rows.size(); ++i)
        done[rows[i].key()] = i;

    CancelOnInterrupt interrupt;
    std::size_t todo = 0;
    for (const auto& c : combinations) {
        SweepRow probe;
        probe.method = unlearn::methodName(c.method);
        probe.forgetClass = c.forgetClass;
        probe.alpha = c.alphaText;
        probe.lambda = c.lambdaText;
        todo += done.count(probe.key()) ? 0 : 1;
    }
    std::cerr << "sweep of " << combinations.size() << " runs into " << resultsPath.string() << ": "
              << combinations.size() - todo << " already done, " << todo << " to run\n";

    // The base model's figures for each forget class, from one evaluation.
    if (base.evaluate) {
        std::vector<int> missing;
        for (const int c : o.forgetClasses)
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
    for (const auto& c : combinations) {
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
        unlearn::UnlearnSession session(in.model.net, in.train, c.forgetClass, config, device);
        if (config.evaluate)
            session.setEvaluator(in.classifier->model, *in.real);
        struct Progress : unlearn::UnlearnObserver {
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
        r.outcome = outcomeName(result.outcome);
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
                    in.model.info, in.model.sha256, session.config(), c.forgetClass, result, "lethe-cli sweep"));
        }
        std::cerr << "    " << r.outcome << " in " << duration(r.runSeconds) << ": UA " << number(r.ua) << ", RA "
                  << number(r.ra) << ", FD_cls " << number(r.fd) << '\n';
        rows.push_back(r);
        writeResults(resultsPath, rows);
    }

    const std::string summary = summaryText(rows);
    io::writeFileAtomically(dir / "summary.txt", summary);
    std::cout << summary << "wrote " << resultsPath.string() << " and summary.txt\n";
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
    cmd->callback([o, &global] { runCommand(global, [&] { runSweep(*o); }); });
}

} // namespace lethe::cli
