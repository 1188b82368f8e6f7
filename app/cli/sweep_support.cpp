#include "sweep_support.h"

#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/csv_table.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

namespace lethe::cli {

namespace {

// The layout before the literature's figures (docs/method.md §4), still read so that an older sweep resumes.
constexpr const char* kResultsHeaderBefore = "method,forget_class,forget_class_name,alpha,lambda,steps,outcome,ua,ra,"
                                             "ra_class_mean,fd_cls,kid_cls,run_seconds,eval_seconds";
constexpr const char* kResultsHeader = "method,forget_class,forget_class_name,alpha,lambda,steps,outcome,ua,ra,"
                                       "ra_class_mean,fd_cls,kid_cls,clip_ua,clip_ra,fid_remain,fid_forget,run_seconds,"
                                       "eval_seconds";
constexpr std::size_t kFieldsBefore = 14;
constexpr std::size_t kFields = 18;

double parseNumber(const std::string& text)
{
    return text.empty() ? NAN : std::stod(text);
}

/// Line `index` (1-based) of `text` as std::getline splits it, for messages.
std::string lineOf(const std::string& text, std::int64_t index)
{
    std::istringstream in(text);
    std::string line;
    for (std::int64_t i = 0; i < index && std::getline(in, line); ++i) { }
    return line;
}

std::string csvLine(const SweepRow& r)
{
    return r.method + "," + std::to_string(r.forgetClass) + "," + csvField(r.className) + "," + r.alpha + "," + r.lambda
        + "," + std::to_string(r.steps) + "," + r.outcome + "," + number(r.ua) + "," + number(r.ra) + ","
        + number(r.raClassMean) + "," + number(r.fd) + "," + number(r.kid) + "," + number(r.clipUa) + ","
        + number(r.clipRa) + "," + number(r.fidRemain) + "," + number(r.fidForget) + "," + number(r.runSeconds) + ","
        + number(r.evalSeconds);
}

} // namespace

std::string csvField(const std::string& text)
{
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string quoted = "\"";
    for (const char c : text)
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

std::string number(double value)
{
    if (std::isnan(value))
        return "";
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

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
    const std::string header = text.substr(0, text.find('\n'));
    if (header != kResultsHeader && header != kResultsHeaderBefore)
        throw Error(path.string() + ": line 1 is not the results header this version writes");
    const std::size_t fields = header == kResultsHeader ? kFields : kFieldsBefore;
    const std::vector<io::CsvRecord> records = io::parseCsv(text, path.string());
    for (std::size_t i = 1; i < records.size(); ++i) {
        const std::int64_t line = records[i].line;
        const std::vector<std::string>& f = records[i].fields;
        if (f.size() != fields)
            throw Error(path.string() + ": line " + std::to_string(line) + ": expected " + std::to_string(fields)
                + " fields, found " + std::to_string(f.size()));
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
            std::size_t next = 12;
            if (fields == kFields) {
                r.clipUa = parseNumber(f[next++]);
                r.clipRa = parseNumber(f[next++]);
                r.fidRemain = parseNumber(f[next++]);
                r.fidForget = parseNumber(f[next++]);
            }
            r.runSeconds = parseNumber(f[next++]);
            r.evalSeconds = parseNumber(f[next]);
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
    // The literature's columns only in a sweep that measured them (sweep --clip, --inception).
    const bool literature = std::any_of(rows.begin(), rows.end(), [](const SweepRow& r) { return r.hasLiterature(); });
    s << std::left << std::setw(9) << "method" << std::setw(16) << "forget class" << std::setw(8) << "α" << std::setw(8)
      << "λ" << std::right << std::setw(7) << "UA" << std::setw(7) << "RA" << std::setw(9) << "FD_cls";
    if (literature)
        s << std::setw(9) << "CLIP-UA" << std::setw(9) << "CLIP-RA" << std::setw(9) << "FID" << std::setw(11)
          << "FID forget";
    s << std::setw(9) << "minutes"
      << "  outcome\n";
    for (const auto& r : rows) {
        s << std::left << std::setw(9) << r.method << std::setw(16)
          << (std::to_string(r.forgetClass) + " " + r.className).substr(0, 15) << std::setw(8)
          << (r.alpha.empty() ? "—" : r.alpha) << std::setw(8) << (r.lambda.empty() ? "—" : r.lambda) << std::right
          << std::setw(7) << cell(r.ua, 3) << std::setw(7) << cell(r.ra, 3) << std::setw(9) << cell(r.fd, 3);
        if (literature)
            s << std::setw(9) << cell(r.clipUa, 3) << std::setw(9) << cell(r.clipRa, 3) << std::setw(9)
              << cell(r.fidRemain, 2) << std::setw(11) << cell(r.fidForget, 2);
        s << std::setw(9) << cell(r.runSeconds / 60.0, 1) << "  " << r.outcome << '\n';
    }

    struct Mean {
        double ua = 0, ra = 0, fd = 0, clipUa = 0, clipRa = 0, fid = 0, minutes = 0;
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
        m.clipUa += r.clipUa;
        m.clipRa += r.clipRa;
        m.fid += r.fidRemain;
        m.minutes += r.runSeconds / 60.0;
        ++m.n;
    }
    s << "\nmeans over forget classes\n";
    for (const auto& key : order) {
        const Mean& m = means[key];
        s << std::left << std::setw(28) << key << std::right << "  UA " << cell(m.ua / m.n, 3) << "  RA "
          << cell(m.ra / m.n, 3) << "  FD_cls " << cell(m.fd / m.n, 3);
        if (literature)
            s << "  CLIP-UA " << cell(m.clipUa / m.n, 3) << "  CLIP-RA " << cell(m.clipRa / m.n, 3) << "  FID "
              << cell(m.fid / m.n, 2);
        s << "  " << cell(m.minutes / m.n, 1) << " min  (" << m.n << " class" << (m.n == 1 ? "" : "es") << ")\n";
    }
    return s.str();
}

std::string describeRun(const SweepRow& r)
{
    std::string text = r.method + ", forget class " + std::to_string(r.forgetClass);
    if (r.method != "base")
        text += ", α " + (r.alpha.empty() ? std::string("—") : r.alpha) + ", λ "
            + (r.lambda.empty() ? std::string("—") : r.lambda);
    return text;
}

std::string taskFolderName(int index, int count)
{
    return "task-" + std::to_string(index) + "-of-" + std::to_string(count);
}

std::string runFileName(const SweepRow& r)
{
    return r.method + "-class" + std::to_string(r.forgetClass) + (r.alpha.empty() ? "" : "-a" + r.alpha)
        + (r.lambda.empty() ? "" : "-l" + r.lambda);
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

} // namespace lethe::cli
