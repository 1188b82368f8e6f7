#pragma once

// Debian's Python 3 as an independent reference for the core tests: NumPy writing .npz files, PIL resizing images,
// PyTorch running a model written from its published architecture. Tests that need it skip with the reason when
// /usr/bin/python3 or one of its modules is missing.
#include <QProcess>
#include <QStringList>

#include <string>
#include <vector>

namespace lethe::test {

/// The interpreter the references run on (Debian's python3, with python3-numpy, python3-pil, python3-torch).
inline const char* const kPython = "/usr/bin/python3";

struct PythonResult {
    int exitCode = -1;
    std::string out;
    std::string err;
};

/// Runs kPython with `arguments` (e.g. {"-c", code, ...} or a script and its arguments).
inline PythonResult runPython(const QStringList& arguments, int timeoutMs = 300000)
{
    QProcess process;
    process.start(QString::fromLatin1(kPython), arguments);
    if (!process.waitForStarted(30000))
        return { -1, {}, "cannot start " + std::string(kPython) };
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished(10000);
        return { -1, {}, std::string(kPython) + " did not finish in time" };
    }
    return { process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
        process.readAllStandardOutput().toStdString(), process.readAllStandardError().toStdString() };
}

/// Empty when kPython imports every module of `modules`; otherwise why a test that needs them must skip.
inline std::string pythonMissing(const std::vector<std::string>& modules)
{
    std::string imports;
    for (const auto& module : modules)
        imports += "import " + module + "\n";
    const PythonResult result = runPython({ QStringLiteral("-c"), QString::fromStdString(imports) }, 120000);
    if (result.exitCode == 0)
        return {};
    std::string names;
    for (const auto& module : modules)
        names += (names.empty() ? "" : ", ") + module;
    // The traceback's last line names the missing module.
    std::string last = result.err.substr(0, result.err.find_last_not_of('\n') + 1);
    last = last.substr(last.find_last_of('\n') == std::string::npos ? 0 : last.find_last_of('\n') + 1);
    const std::string detail = last.empty() ? "" : " (" + last + ")";
    return std::string(kPython) + " cannot import " + names + detail;
}

} // namespace lethe::test
