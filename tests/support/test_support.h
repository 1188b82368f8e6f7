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

/// `n` CIFAR-10 records; record i has label (i + offset) % 10 and red = i, green = 100 + i, blue = 200.
inline std::string cifarRecords(int n, int offset)
{
    std::string out;
    for (int i = 0; i < n; ++i) {
        out.push_back(static_cast<char>((i + offset) % 10));
        out.append(1024, static_cast<char>(i));
        out.append(1024, static_cast<char>(100 + i));
        out.append(1024, static_cast<char>(200));
    }
    return out;
}

/// A CIFAR-10 binary folder in the exact format: five training batches and a test batch of `perBatch` records.
inline void writeCifarFolder(const std::filesystem::path& dir, int perBatch)
{
    for (int b = 1; b <= 5; ++b)
        writeBytes(dir / ("data_batch_" + std::to_string(b) + ".bin"), cifarRecords(perBatch, b));
    writeBytes(dir / "test_batch.bin", cifarRecords(perBatch, 0));
    writeBytes(dir / "batches.meta.txt", "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
}

/// The message of the lethe::Error `body` throws, or a failure when it throws none.
template <typename Body> std::string errorMessage(Body body)
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
