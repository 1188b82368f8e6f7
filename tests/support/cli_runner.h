#pragma once

// lethe-cli run as a user runs it, for the CLI tests: a child process with its exit code and output, and the
// small helpers their checks share. A target that includes this defines LETHE_CLI_PATH, the lethe-cli to run.
#include "test_support.h"

#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifndef LETHE_CLI_PATH
#error "cli_runner.h needs LETHE_CLI_PATH, the path of the lethe-cli to run"
#endif

namespace lethe::test {

/// The keys every run.json has, class or concept (core's runManifest).
inline const char* const kCommonManifestKeys[] = { "format", "kind", "method", "config", "final_config", "parent_model",
    "parent_sha256", "device", "threads", "command", "started", "finished", "outcome", "message", "steps", "rollbacks",
    "truncated_steps", "projected_steps", "seconds", "steps_per_second" };

struct Result {
    int exitCode = -1;
    std::string out;
    std::string err;
};

using Args = std::vector<std::string>;

inline Args operator+(Args a, const Args& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// Runs lethe-cli with `environment` added to this process's, less any Slurm job-array variables.
inline Result runCli(const Args& arguments, const std::map<std::string, std::string>& environment = {})
{
    QStringList list { QStringLiteral("--threads"), QStringLiteral("1") };
    for (const auto& a : arguments)
        list << QString::fromStdString(a);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char* name :
        { "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX" })
        env.remove(QString::fromLatin1(name));
    for (const auto& [name, value] : environment)
        env.insert(QString::fromStdString(name), QString::fromStdString(value));
    QProcess process;
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(LETHE_CLI_PATH), list);
    if (!process.waitForFinished(300000))
        qFatal("lethe-cli did not finish");
    return { process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
        process.readAllStandardOutput().toStdString(), process.readAllStandardError().toStdString() };
}

/// A path as it is given on the command line.
inline std::string q(const std::filesystem::path& path)
{
    return path.string();
}

/// The lines of a text file.
inline std::vector<std::string> lines(const std::filesystem::path& path)
{
    std::vector<std::string> out;
    std::istringstream in(readBytes(path));
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

} // namespace lethe::test
