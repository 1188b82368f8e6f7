// NumPy .npz archives: our writer and reader round trip; files written by Debian's NumPy (np.savez,
// np.savez_compressed, Fortran order, ZIP64 records) read as NumPy shows them; NumPy reads ours; every refusal
// (pickled objects, broken archives, corrupt data) with its exact message.
#include "core/error.h"
#include "core/io/npz.h"
#include "python_reference.h"
#include "tensor_compare.h"
#include "test_support.h"

#include <torch/torch.h>

using namespace lethe;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

namespace {

// Writes the fixture named by argv[1] to argv[2]. Each one is made by NumPy itself, or by Python's zipfile around
// NumPy's own .npy bytes where the archive has to be broken in a way NumPy never writes.
const char* const kFixtures = R"PY(
import io, struct, sys, zipfile, zlib
import numpy as np

name, path = sys.argv[1], sys.argv[2]

def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()

def zip64_everywhere(path, members):
    # Local headers, central directory entries and the end records all in their ZIP64 forms, as a writer does for
    # members and archives past 4 GiB: every 32-bit size and offset reads 0xFFFFFFFF.
    out, central = bytearray(), bytearray()
    for member, data in members:
        crc, offset, encoded = zlib.crc32(data), len(out), member.encode()
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(encoded), 20)
        out += encoded + struct.pack('<HHQQ', 1, 16, len(data), len(data)) + data
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(encoded), 28, 0, 0, 0, 0, 0xFFFFFFFF)
        central += encoded + struct.pack('<HHQQQ', 1, 24, len(data), len(data), offset)
    start, zip64_at = len(out), len(out) + len(central)
    out += central
    out += struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 45, 45, 0, 0, len(members), len(members), len(central), start)
    out += struct.pack('<IIQI', 0x07064b50, 0, zip64_at, 1)
    out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    open(path, 'wb').write(out)

if name == 'savez':
    np.savez(path, mu=np.arange(6, dtype=np.float64) / 7, sigma=np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5)
elif name == 'savez_compressed':
    np.savez_compressed(path, mu=np.arange(2048, dtype=np.float64) / 7, labels=np.arange(10, dtype=np.int64) * 3)
elif name == 'float32':
    np.savez(path, x=np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.25))
elif name == 'fortran order':
    np.savez(path, f=np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
             g=np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)))
elif name == 'integers and bools':
    np.savez_compressed(path, u=np.arange(250, 256, dtype=np.uint8), b=np.array([True, False, True]),
                        s=np.array(-3, dtype=np.int64), e=np.zeros((0, 3), dtype=np.float32))
elif name == 'zip64 records':
    zip64_everywhere(path, [('mu.npy', npy_bytes(np.arange(6, dtype=np.float64) / 7)),
                            ('sigma.npy', npy_bytes(np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5))])
elif name == 'pickled objects':
    np.savez(path, a=np.array([{}], dtype=object))
elif name == 'big-endian':
    np.savez(path, mu=np.arange(3, dtype='>f8'))
elif name == 'complex numbers':
    np.savez(path, z=np.arange(3, dtype=np.complex128))
elif name == 'record array':
    np.savez(path, r=np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]))
elif name == 'data cut short':
    data = npy_bytes(np.zeros(1024, dtype=np.float64))
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('sigma.npy', data[:len(data) - 8192 + 1000])
elif name == 'not an array':
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('notes.txt', b'hello')
elif name == 'bzip2 member':
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr('mu.npy', npy_bytes(np.zeros(3)))
elif name == 'read ours':
    # Our writer's archive as NumPy reads it: print what it holds.
    with np.load(path, allow_pickle=False) as archive:
        for key in sorted(archive.files):
            a = archive[key]
            print(key, a.dtype.str, a.shape, a.flags['C_CONTIGUOUS'], repr(a.ravel().tolist()))
else:
    sys.exit('unknown fixture ' + name)
)PY";

/// Runs the fixture script; an empty string when it worked, else its error output.
std::string makeFixture(const std::string& name, const std::filesystem::path& path, std::string* out = nullptr)
{
    const test::PythonResult result = test::runPython({ QStringLiteral("-c"), QString::fromLatin1(kFixtures),
        QString::fromStdString(name), QString::fromStdString(path.string()) });
    if (out)
        *out = result.out;
    return result.exitCode == 0 ? std::string() : "fixture '" + name + "' failed: " + result.err;
}

/// The message with the scratch path replaced by FILE.
std::string withFile(std::string message, const std::filesystem::path& path)
{
    const std::string text = path.string();
    for (std::size_t at = message.find(text); at != std::string::npos; at = message.find(text))
        message.replace(at, text.size(), "FILE");
    return message;
}

/// The arrays the round trip writes: every dtype read, 0-d, empty and non-contiguous ones.
std::vector<std::pair<std::string, torch::Tensor>> sampleArrays()
{
    torch::manual_seed(7);
    return {
        { "mu", torch::randn({ 5 }, torch::kFloat64) },
        { "sigma", torch::randn({ 4, 3 }, torch::kFloat64).t() },
        { "x32", torch::randn({ 2, 3, 4 }) },
        { "half", torch::randn({ 3 }).to(torch::kFloat16) },
        { "count", torch::tensor(int64_t { -42 }) },
        { "i32", torch::arange(-3, 3, torch::kInt32).view({ 2, 3 }) },
        { "i16", torch::arange(-3, 3, torch::kInt16) },
        { "i8", torch::arange(-3, 3, torch::kInt8) },
        { "pixels", torch::arange(250, 256).to(torch::kUInt8) },
        { "mask", torch::tensor({ true, false, true }) },
        { "empty", torch::zeros({ 0, 7 }) },
    };
}

} // namespace

class TestNpz : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTrip();
    void writerRefusesWhatItCannotStore();
    void readsWhatNumPyWrote_data();
    void readsWhatNumPyWrote();
    void numPyReadsWhatWeWrite();
    void refusals_data();
    void refusals();
};

void TestNpz::roundTrip()
{
    ScratchDir dir;
    const auto arrays = sampleArrays();
    io::writeNpz(dir / "a.npz", arrays);
    const std::map<std::string, torch::Tensor> read = io::readNpz(dir / "a.npz");
    QCOMPARE(read.size(), arrays.size());
    for (const auto& [name, tensor] : arrays) {
        QVERIFY2(read.count(name), name.c_str());
        QVERIFY2(test::bitIdentical(read.at(name), tensor.contiguous()), name.c_str());
        QVERIFY(read.at(name).is_contiguous());
    }
    // The same arrays give the same bytes (a fixed time stamp), and a rewrite replaces the file whole.
    io::writeNpz(dir / "b.npz", arrays);
    QCOMPARE(test::readBytes(dir / "a.npz"), test::readBytes(dir / "b.npz"));
    io::writeNpz(dir / "a.npz", { { "only", torch::ones({ 2 }) } });
    QCOMPARE(io::readNpz(dir / "a.npz").size(), std::size_t { 1 });
    // No arrays: an empty archive, which reads as nothing.
    io::writeNpz(dir / "none.npz", {});
    QVERIFY(io::readNpz(dir / "none.npz").empty());
}

void TestNpz::writerRefusesWhatItCannotStore()
{
    ScratchDir dir;
    io::writeNpz(dir / "keep.npz", { { "a", torch::ones({ 1 }) } });
    const std::string before = test::readBytes(dir / "keep.npz");
    LETHE_COMPARE_STR(withFile(errorMessage([&] {
        io::writeNpz(dir / "keep.npz", { { "a", torch::ones({ 1 }) }, { "a", torch::ones({ 1 }) } });
    }),
                          dir / "keep.npz"),
        "FILE: array name 'a' is used twice");
    LETHE_COMPARE_STR(withFile(errorMessage([&] {
        io::writeNpz(dir / "keep.npz", { { "z", torch::ones({ 1 }, torch::kComplexFloat) } });
    }),
                          dir / "keep.npz"),
        "FILE: array 'z' has type ComplexFloat, which is not written (float64, float32, float16, int64, int32, int16, "
        "int8, uint8 and bool are)");
    LETHE_COMPARE_STR(withFile(errorMessage([&] {
        io::writeNpz(dir / "keep.npz", { { "", torch::ones({ 1 }) } });
    }),
                          dir / "keep.npz"),
        "FILE: array name '' is empty or too long for a ZIP member");
    QCOMPARE(test::readBytes(dir / "keep.npz"), before);
}

void TestNpz::readsWhatNumPyWrote_data()
{
    QTest::addColumn<QString>("fixtureName");
    QTest::newRow("savez") << "savez";
    QTest::newRow("savez_compressed") << "savez_compressed";
    QTest::newRow("float32") << "float32";
    QTest::newRow("fortran order") << "fortran order";
    QTest::newRow("integers and bools") << "integers and bools";
    QTest::newRow("zip64 records") << "zip64 records";
}

void TestNpz::readsWhatNumPyWrote()
{
    QFETCH(QString, fixtureName);
    const std::string fixture = fixtureName.toStdString();
    if (const std::string missing = test::pythonMissing({ "numpy" }); !missing.empty())
        QSKIP(missing.c_str());
    ScratchDir dir;
    const std::filesystem::path path = dir / "ref.npz";
    const std::string failed = makeFixture(fixture, path);
    QVERIFY2(failed.empty(), failed.c_str());
    const std::map<std::string, torch::Tensor> read = io::readNpz(path);
    std::map<std::string, torch::Tensor> expected;
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    if (fixture == "savez" || fixture == "zip64 records") {
        expected["mu"] = torch::arange(6, f64) / 7;
        expected["sigma"] = torch::arange(12, f64).view({ 3, 4 }) - 5.5;
    } else if (fixture == "savez_compressed") {
        expected["mu"] = torch::arange(2048, f64) / 7;
        expected["labels"] = torch::arange(10, torch::kInt64) * 3;
    } else if (fixture == "float32") {
        expected["x"] = torch::arange(6, torch::kFloat32).view({ 2, 3 }) * 0.25f;
    } else if (fixture == "fortran order") {
        expected["f"] = torch::arange(24, torch::kInt32).view({ 2, 3, 4 });
        expected["g"] = torch::arange(6, f64).view({ 2, 3 });
    } else if (fixture == "integers and bools") {
        expected["u"] = torch::arange(250, 256).to(torch::kUInt8);
        expected["b"] = torch::tensor({ true, false, true });
        expected["s"] = torch::tensor(std::int64_t { -3 });
        expected["e"] = torch::zeros({ 0, 3 });
    }
    QCOMPARE(read.size(), expected.size());
    for (const auto& [name, tensor] : expected) {
        QVERIFY2(read.count(name), name.c_str());
        QVERIFY2(test::bitIdentical(read.at(name), tensor),
            qPrintable(
                QStringLiteral("%1: %2 %3")
                    .arg(QString::fromStdString(name), QString::fromLatin1(c10::toString(read.at(name).scalar_type())),
                        QString::fromStdString(c10::str(read.at(name).sizes())))));
    }
}

void TestNpz::numPyReadsWhatWeWrite()
{
    if (const std::string missing = test::pythonMissing({ "numpy" }); !missing.empty())
        QSKIP(missing.c_str());
    ScratchDir dir;
    io::writeNpz(dir / "ours.npz",
        { { "mu", torch::arange(3, torch::kFloat64) / 4 },
            { "grid", torch::arange(6, torch::kInt32).view({ 2, 3 }).t() }, { "mask", torch::tensor({ false, true }) },
            { "pixels", torch::arange(254, 256).to(torch::kUInt8) }, { "scalar", torch::tensor(std::int64_t { 7 }) },
            { "half", torch::tensor({ 0.5f }).to(torch::kFloat16) } });
    std::string out;
    const std::string failed = makeFixture("read ours", dir / "ours.npz", &out);
    QVERIFY2(failed.empty(), failed.c_str());
    LETHE_COMPARE_STR(out,
        "grid <i4 (3, 2) True [0, 3, 1, 4, 2, 5]\n"
        "half <f2 (1,) True [0.5]\n"
        "mask |b1 (2,) True [False, True]\n"
        "mu <f8 (3,) True [0.0, 0.25, 0.5]\n"
        "pixels |u1 (2,) True [254, 255]\n"
        "scalar <i8 () True [7]\n");
}

void TestNpz::refusals_data()
{
    QTest::addColumn<QString>("breakage");
    QTest::addColumn<QString>("message");
    QTest::newRow("not a ZIP archive") << "not a ZIP archive"
                                       << "FILE: not a ZIP archive (no end-of-central-directory record)";
    QTest::newRow("empty file") << "empty file"
                                << "FILE: not a ZIP archive (no end-of-central-directory record)";
    QTest::newRow("truncated file") << "truncated file"
                                    << "FILE: truncated ZIP archive: it begins with a member but has no "
                                       "end-of-central-directory record (the file ends after 300 bytes)";
    QTest::newRow("corrupted byte") << "corrupted byte"
                                    << "FILE: member 'mu.npy': CRC-32 of the data is 0x635cc243, but the archive "
                                       "records 0xd3b5cb78 (the file is corrupt)";
    QTest::newRow("pickled objects") << "pickled objects"
                                     << "FILE: member 'a.npy': holds Python objects (dtype 'O', a pickle); only "
                                        "numeric arrays are read, because loading a pickle can run code";
    QTest::newRow("big-endian") << "big-endian"
                                << "FILE: member 'mu.npy': big-endian data (dtype '>f8'); only little-endian arrays "
                                   "are read (in NumPy: a.astype('<f8'))";
    QTest::newRow("complex numbers") << "complex numbers"
                                     << "FILE: member 'z.npy': dtype '<c16' is not read (float64, float32, float16, "
                                        "int64, int32, int16, int8, uint8 and bool are)";
    QTest::newRow("record array") << "record array"
                                  << "FILE: member 'r.npy': a structured dtype (a record array) is not read; only "
                                     "plain arrays of float64, float32, float16, int64, int32, int16, int8, uint8 and "
                                     "bool are";
    QTest::newRow("data cut short") << "data cut short"
                                    << "FILE: member 'sigma.npy': data ends after 1000 of 8192 bytes";
    QTest::newRow("not an array") << "not an array"
                                  << "FILE: member 'notes.txt': not a .npy array (NumPy's archives hold members named "
                                     "NAME.npy)";
    QTest::newRow("bzip2 member") << "bzip2 member"
                                  << "FILE: member 'mu.npy': compression method 12 is not read (stored (0) and "
                                     "deflated (8) are)";
}

void TestNpz::refusals()
{
    QFETCH(QString, breakage);
    QFETCH(QString, message);
    const std::string what = breakage.toStdString();
    ScratchDir dir;
    const std::filesystem::path path = dir / "ref.npz";
    const bool madeHere
        = what == "not a ZIP archive" || what == "empty file" || what == "truncated file" || what == "corrupted byte";
    if (what == "not a ZIP archive") {
        test::writeBytes(path, "mu,sigma\n0.5,1.5\n");
    } else if (what == "empty file") {
        test::writeBytes(path, "");
    } else if (madeHere) {
        io::writeNpz(
            path, { { "mu", torch::arange(64, torch::kFloat64) }, { "sigma", torch::eye(8, torch::kFloat64) } });
        std::string bytes = test::readBytes(path);
        if (what == "truncated file") {
            bytes.resize(300);
        } else {
            // The first member's data: its local header (30 bytes + "mu.npy"), a 128-byte .npy header, 512 bytes.
            // (Python's zlib.crc32 gives the same two checksums for NumPy's own bytes of this array.)
            QCOMPARE(bytes.substr(36, 6), std::string("\x93NUMPY"));
            bytes[36 + 128 + 100] ^= 0x10;
        }
        test::writeBytes(path, bytes);
    } else {
        if (const std::string missing = test::pythonMissing({ "numpy" }); !missing.empty())
            QSKIP(missing.c_str());
        const std::string failed = makeFixture(what, path);
        QVERIFY2(failed.empty(), failed.c_str());
    }
    LETHE_COMPARE_STR(withFile(errorMessage([&] { io::readNpz(path); }), path), message.toStdString());
}

QTEST_APPLESS_MAIN(TestNpz)
#include "test_npz.moc"
