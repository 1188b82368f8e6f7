#pragma once

// Helpers shared by the core tests: scratch folders and raw file writing.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <string>

namespace lethe::test {

/// A scratch folder removed when the object goes away.
class ScratchDir {
public:
    ScratchDir() { QVERIFY2(m_dir.isValid(), "cannot create a temporary folder"); }
    std::filesystem::path path() const { return m_dir.path().toStdString(); }
    std::filesystem::path operator/(const std::string& name) const { return path() / name; }

private:
    QTemporaryDir m_dir;
};

inline void writeBytes(const std::filesystem::path& path, const std::string& bytes)
{
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string readBytes(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The message of the lethe::Error `body` throws, or a failure when it throws none.
template <typename Body>
std::string errorMessage(Body body)
{
    try {
        body();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "<no error thrown>";
}

} // namespace lethe::test

/// Compares std::strings with a readable failure message.
#define LETHE_COMPARE_STR(actual, expected) QCOMPARE(QString::fromStdString(actual), QString::fromStdString(expected))
