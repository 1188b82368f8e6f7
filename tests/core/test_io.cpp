// safetensors reading and writing, atomic files.
#include "core/error.h"
#include "core/io/atomic_file.h"
#include "core/io/json_fields.h"
#include "core/io/model_file.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"
#include "core/store/edm_model.h"
#include "tensor_compare.h"
#include "test_support.h"

#include <torch/torch.h>

#include <sys/wait.h>
#include <unistd.h>

using namespace lethe;
using lethe::test::bitIdentical;
using lethe::test::errorMessage;
using lethe::test::ScratchDir;

namespace {

/// A safetensors file from a literal header and data region; `declaredLength` overrides the length field.
std::string rawSafetensors(const std::string& header, const std::string& data, std::int64_t declaredLength = -1)
{
    const std::uint64_t length = declaredLength >= 0 ? static_cast<std::uint64_t>(declaredLength) : header.size();
    std::string bytes;
    for (int i = 0; i < 8; ++i)
        bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
    return bytes + header + data;
}

std::vector<std::string> filesIn(const std::filesystem::path& dir)
{
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

class TestIo : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void roundTripsEveryDtypeBitExactly_data();
    void roundTripsEveryDtypeBitExactly();
    void roundTripsMetadata();
    void writesAlignedHeaderAndKeepsTensorOrder();
    void rejectsMalformedFiles_data();
    void rejectsMalformedFiles();
    void rejectsInvalidJsonWithParserPosition();
    void reportsMissingFileAndTensor();
    void refusesDtypesLibTorchLacks();
    void writerRejectsDuplicateNames();
    void interruptedWriteLeavesPreviousFileIntact();
    void crashBeforeRenameLeavesPreviousFileIntact();
    void failedWriteOfUnsupportedTensorKeepsPreviousFile();
    void writerRejectsTextThatIsNotUtf8();
    void jsonReadersRefuseNumbersBeyondADouble();
    void sha256MatchesKnownVectors();
    void modelDescriptionRoundTrips();
    void rejectsFilesWithoutOrWithBadDescription();
};

void TestIo::roundTripsEveryDtypeBitExactly_data()
{
    QTest::addColumn<int>("scalarType");
    QTest::addColumn<QString>("dtype");
    QTest::newRow("F64") << int(torch::kFloat64) << "F64";
    QTest::newRow("F32") << int(torch::kFloat32) << "F32";
    QTest::newRow("F16") << int(torch::kFloat16) << "F16";
    QTest::newRow("BF16") << int(torch::kBFloat16) << "BF16";
    QTest::newRow("I64") << int(torch::kInt64) << "I64";
    QTest::newRow("I32") << int(torch::kInt32) << "I32";
    QTest::newRow("I16") << int(torch::kInt16) << "I16";
    QTest::newRow("I8") << int(torch::kInt8) << "I8";
    QTest::newRow("U8") << int(torch::kUInt8) << "U8";
    QTest::newRow("BOOL") << int(torch::kBool) << "BOOL";
}

void TestIo::roundTripsEveryDtypeBitExactly()
{
    QFETCH(int, scalarType);
    QFETCH(QString, dtype);
    const auto type = static_cast<torch::ScalarType>(scalarType);
    torch::manual_seed(7);
    // Random bit patterns (NaN payloads and denormals included for floats), reinterpreted as the dtype.
    auto randomOf = [&](std::vector<std::int64_t> shape) {
        const std::int64_t elements
            = std::accumulate(shape.begin(), shape.end(), std::int64_t { 1 }, std::multiplies<>());
        const std::int64_t bytes = elements * static_cast<std::int64_t>(c10::elementSize(type));
        torch::Tensor raw = torch::randint(0, 256, { bytes }, torch::kUInt8);
        if (type == torch::kBool)
            raw = raw.remainder(2);
        return raw.view(type).reshape(shape).clone();
    };
    const std::vector<io::NamedTensor> tensors = {
        { "scalar", randomOf({}) },
        { "empty", randomOf({ 0, 3 }) },
        { "matrix", randomOf({ 3, 5 }) },
        { "volume", randomOf({ 2, 3, 4, 5 }) },
    };
    ScratchDir dir;
    const auto path = dir / "all.safetensors";
    io::writeSafetensors(path, tensors);

    const io::SafetensorsFile file(path);
    QCOMPARE(file.entries().size(), tensors.size());
    for (const auto& [name, original] : tensors) {
        QCOMPARE(QString::fromStdString(io::dtypeName(file.entry(name).dtype)), dtype);
        const torch::Tensor loaded = file.tensor(name);
        QVERIFY2(bitIdentical(loaded, original), name.c_str());
    }
}

void TestIo::roundTripsMetadata()
{
    const io::Metadata metadata = { { "lethe", R"({"architecture":"edm","classes":["T-shirt/top"]})" }, { "empty", "" },
        { "unicode", "α = 0.1, λ = 5 — Größe 猫" } };
    ScratchDir dir;
    io::writeSafetensors(dir / "m.safetensors", { { "w", torch::ones({ 2 }) } }, metadata);
    const io::SafetensorsFile file(dir / "m.safetensors");
    QVERIFY(file.metadata() == metadata);

    // A file with no tensors but metadata is valid too.
    io::writeSafetensors(dir / "only-metadata.safetensors", {}, metadata);
    QVERIFY(io::SafetensorsFile(dir / "only-metadata.safetensors").metadata() == metadata);
}

void TestIo::writesAlignedHeaderAndKeepsTensorOrder()
{
    ScratchDir dir;
    io::writeSafetensors(
        dir / "o.safetensors", { { "zeta", torch::zeros({ 3 }, torch::kUInt8) }, { "alpha", torch::ones({ 1 }) } });
    const std::string bytes = test::readBytes(dir / "o.safetensors");
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i)
        length = (length << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
    QCOMPARE((8 + length) % 8, std::uint64_t { 0 });
    const io::SafetensorsFile file(dir / "o.safetensors");
    QCOMPARE(QString::fromStdString(file.entries().front().name), QStringLiteral("zeta"));
    QCOMPARE(file.entries().back().begin, std::uint64_t { 3 });
}

void TestIo::rejectsMalformedFiles_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("message");
    auto row = [](const char* name, const std::string& bytes, const char* message) {
        QTest::newRow(name) << QByteArray(bytes.data(), static_cast<int>(bytes.size())) << QString::fromUtf8(message);
    };
    const std::string f32x2 = R"("dtype":"F32","shape":[2],"data_offsets":)";
    const std::string eight(8, '\0');

    row("empty file", "", "header length: file is 0 bytes, expected at least 8 (the little-endian u64 header length)");
    row("truncated length field", std::string(5, '\0'),
        "header length: file is 5 bytes, expected at least 8 (the little-endian u64 header length)");
    row("header past end of file", rawSafetensors("{}", "", 100),
        "header length: 100 bytes runs past the end of the file (2 bytes follow the length field)");
    row("header over 100 MB", rawSafetensors("{}", "", 200'000'000),
        "header length: 200000000 bytes exceeds the limit of 100000000");
    row("truncated header JSON",
        rawSafetensors(R"({"w":{)" + f32x2 + "[0,8]}", eight).substr(0, 20) + std::string(20, ' '),
        "header length: 53 bytes runs past the end of the file (32 bytes follow the length field)");
    row("not an object", rawSafetensors("[1,2]", ""), "header: expected a JSON object, found array");
    row("number beyond a double", rawSafetensors(R"({"w":1e400})", ""),
        "header: invalid JSON: the number 1e400 is out of range of a double");
    row("duplicate names", rawSafetensors(R"({"w":{)" + f32x2 + R"([0,8]},"w":{)" + f32x2 + "[8,16]}}", eight + eight),
        "header: the name 'w' appears more than once");
    row("entry not an object", rawSafetensors(R"({"w":[1]})", ""),
        "tensor 'w': expected an object with dtype, shape and data_offsets, found array");
    row("missing shape", rawSafetensors(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", eight),
        "tensor 'w': missing key 'shape'");
    row("unknown dtype", rawSafetensors(R"({"w":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}})", eight),
        "tensor 'w': unknown dtype 'F99'");
    row("negative dimension", rawSafetensors(R"({"w":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}})", eight),
        "tensor 'w': shape must be a list of non-negative integers, found [-1,2]");
    row("one offset", rawSafetensors(R"({"w":{)" + f32x2 + "[0]}}", eight),
        "tensor 'w': data_offsets must be two non-negative integers [begin, end], found [0]");
    row("offsets reversed", rawSafetensors(R"({"w":{)" + f32x2 + "[8,0]}}", eight),
        "tensor 'w': data_offsets [8, 0] end before they begin");
    row("shape and bytes disagree",
        rawSafetensors(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", std::string(20, '\0')),
        "tensor 'w': shape [2, 3] of F32 needs 24 bytes, but data_offsets [0, 20] hold 20");
    row("shape overflows",
        rawSafetensors(R"({"w":{"dtype":"F64","shape":[4611686018427387904,8],"data_offsets":[0,8]}})", eight),
        "tensor 'w': shape [4611686018427387904, 8] of F64 needs more than 2^64 bytes, but data_offsets [0, 8] hold 8");
    row("overlapping offsets",
        rawSafetensors(
            R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
            std::string(24, '\0')),
        "tensor 'b': data_offsets [8, 24] overlap tensor 'a', which ends at byte 16");
    row("gap between tensors",
        rawSafetensors(R"({"a":{)" + f32x2 + R"([0,8]},"b":{)" + f32x2 + "[16,24]}}", std::string(24, '\0')),
        "tensor 'b': data_offsets [16, 24] start at byte 16, expected 8 (tensors must tile the data region without "
        "gaps)");
    row("data past end of file", rawSafetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight),
        "tensor 'w': data_offsets [0, 16] run past the end of the data region (8 bytes)");
    row("trailing bytes", rawSafetensors(R"({"w":{)" + f32x2 + "[0,8]}}", eight + eight),
        "data region: 16 bytes follow the header, but the tensors cover 8");
    row("metadata not strings", rawSafetensors(R"({"__metadata__":{"steps":100}})", ""),
        "__metadata__ key 'steps': expected a string value, found number");
    row("metadata not an object", rawSafetensors(R"({"__metadata__":"x"})", ""),
        "__metadata__: expected an object of strings, found string");
}

void TestIo::rejectsMalformedFiles()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, message);
    ScratchDir dir;
    const auto path = dir / "bad.safetensors";
    test::writeBytes(path, bytes.toStdString());
    const std::string actual = errorMessage([&] { io::SafetensorsFile file(path); });
    LETHE_COMPARE_STR(actual, path.string() + ": " + message.toStdString());
}

void TestIo::rejectsInvalidJsonWithParserPosition()
{
    ScratchDir dir;
    const auto path = dir / "bad.safetensors";
    test::writeBytes(path, rawSafetensors(R"({"w": {"dtype": "F32",})", ""));
    const std::string actual = errorMessage([&] { io::SafetensorsFile file(path); });
    LETHE_COMPARE_STR(actual,
        path.string()
            + ": header: invalid JSON: [json.exception.parse_error.101] parse error at line 1, "
              "column 23: syntax error while parsing object key - unexpected '}'; expected string literal");
}

void TestIo::reportsMissingFileAndTensor()
{
    ScratchDir dir;
    const auto missing = dir / "absent.safetensors";
    LETHE_COMPARE_STR(errorMessage([&] { io::SafetensorsFile file(missing); }),
        missing.string() + ": cannot open for reading: No such file or directory");
    io::writeSafetensors(dir / "w.safetensors", { { "w", torch::ones({ 1 }) } });
    const io::SafetensorsFile file(dir / "w.safetensors");
    LETHE_COMPARE_STR(errorMessage([&] { file.tensor("model.map_label.weight"); }),
        (dir / "w.safetensors").string() + ": tensor 'model.map_label.weight': no tensor of that name in the file");
}

void TestIo::refusesDtypesLibTorchLacks()
{
    ScratchDir dir;
    const auto path = dir / "u16.safetensors";
    test::writeBytes(path, rawSafetensors(R"({"w":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})", "abcd"));
    const io::SafetensorsFile file(path); // The header is valid ...
    QCOMPARE(file.entry("w").end, std::uint64_t { 4 });
    LETHE_COMPARE_STR(errorMessage([&] { file.tensor("w"); }), // ... but LibTorch 1.13 has no uint16.
        path.string() + ": tensor 'w': dtype U16 has no LibTorch equivalent");
}

void TestIo::writerRejectsDuplicateNames()
{
    ScratchDir dir;
    const auto path = dir / "dup.safetensors";
    LETHE_COMPARE_STR(errorMessage([&] {
        io::writeSafetensors(path, { { "w", torch::ones({ 1 }) }, { "w", torch::ones({ 1 }) } });
    }),
        path.string() + ": tensor name 'w' is used twice or reserved");
    QVERIFY(!std::filesystem::exists(path));
}

void TestIo::interruptedWriteLeavesPreviousFileIntact()
{
    ScratchDir dir;
    const auto path = dir / "model.safetensors";
    io::writeSafetensors(path, { { "w", torch::full({ 4 }, 1.0f) } });
    const std::string before = test::readBytes(path);
    {
        io::AtomicFileWriter writer(path);
        writer.write(std::string(1000, 'x'));
        QVERIFY(std::filesystem::exists(writer.temporaryPath()));
        // Leaves scope without commit(), as when an exception unwinds mid-export.
    }
    QCOMPARE(test::readBytes(path), before);
    QCOMPARE(filesIn(dir.path()), std::vector<std::string> { "model.safetensors" });
}

void TestIo::crashBeforeRenameLeavesPreviousFileIntact()
{
    ScratchDir dir;
    const auto path = dir / "model.safetensors";
    io::writeSafetensors(path, { { "w", torch::full({ 4 }, 1.0f) } });
    const std::string before = test::readBytes(path);
    const pid_t child = ::fork();
    QVERIFY(child >= 0);
    if (child == 0) {
        // The child writes the whole temporary file and dies before the rename: a crash mid-export.
        io::AtomicFileWriter writer(path);
        writer.write(std::string(4096, 'y'));
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    QCOMPARE(test::readBytes(path), before);
    const io::SafetensorsFile file(path);
    QCOMPARE(file.tensor("w").sum().item<float>(), 4.0f);
    // What a crash leaves behind is a hidden temporary file, never a half-written target.
    const auto names = filesIn(dir.path());
    QCOMPARE(names.size(), std::size_t { 2 });
    QVERIFY(QString::fromStdString(names.front()).startsWith(QStringLiteral(".model.safetensors.lethe-tmp-")));
}

void TestIo::failedWriteOfUnsupportedTensorKeepsPreviousFile()
{
    ScratchDir dir;
    const auto path = dir / "model.safetensors";
    io::writeSafetensors(path, { { "w", torch::full({ 2 }, 3.0f) } });
    const std::string before = test::readBytes(path);
    const torch::Tensor complex = torch::zeros({ 2 }, torch::kComplexFloat);
    LETHE_COMPARE_STR(errorMessage([&] {
        io::writeSafetensors(path, { { "w", torch::ones({ 2 }) }, { "z", complex } });
    }),
        path.string() + ": tensor 'z' has type ComplexFloat, which safetensors cannot store");
    QCOMPARE(test::readBytes(path), before);
}

// Found by fuzzing (tests/fuzz, json): a metadata value with a byte that is not UTF-8 made nlohmann's dump()
// throw its type_error out of the writer instead of a lethe::Error.
void TestIo::writerRejectsTextThatIsNotUtf8()
{
    ScratchDir dir;
    const auto path = dir / "model.safetensors";
    io::writeSafetensors(path, { { "w", torch::full({ 2 }, 3.0f) } });
    const std::string before = test::readBytes(path);
    LETHE_COMPARE_STR(errorMessage([&] {
        io::writeSafetensors(path, { { "w", torch::ones({ 2 }) } }, { { "lethe", "{\"method\": \"\x01\xff\"}" } });
    }),
        path.string()
            + ": the value of __metadata__ key 'lethe' is not valid UTF-8 (invalid UTF-8 byte at index 13: 0xFF)");
    LETHE_COMPARE_STR(errorMessage([&] {
        io::writeSafetensors(path, { { "w\xff", torch::ones({ 2 }) } });
    }),
        path.string() + ": tensor name 'w\xff' is not valid UTF-8 (invalid UTF-8 byte at index 1: 0xFF)");
    QCOMPARE(test::readBytes(path), before);
}

// Found by fuzzing (tests/fuzz, json): a number too large for a double (here 311 digits) made nlohmann throw
// out_of_range, which the readers did not catch (they caught parse_error only).
void TestIo::jsonReadersRefuseNumbersBeyondADouble()
{
    ScratchDir dir;
    const auto config = dir / "config.json";
    test::writeBytes(config, "{\"img_resolution\": " + std::string(311, '1') + "}");
    LETHE_COMPARE_STR(errorMessage([&] { io::readJsonObjectFile(config); }),
        config.string() + ": number 111111111111111111111111…: invalid JSON: out of range of a double");
    const auto model = dir / "model.safetensors";
    io::writeSafetensors(model, {}, { { "lethe", R"({"format_version": 1, "kind": "edm", "x": -1e400})" } });
    LETHE_COMPARE_STR(errorMessage([&] { io::readModelInfo(io::SafetensorsFile(model)); }),
        model.string() + ": __metadata__ key 'lethe': invalid JSON: the number -1e400 is out of range of a double");
}

void TestIo::sha256MatchesKnownVectors()
{
    LETHE_COMPARE_STR(
        io::sha256Hex(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    LETHE_COMPARE_STR(
        io::sha256Hex("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    // Two blocks, and a length that straddles the padding boundary.
    LETHE_COMPARE_STR(io::sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
        std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    LETHE_COMPARE_STR(io::sha256Hex(std::string(1000000, 'a')),
        std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    ScratchDir dir;
    test::writeBytes(dir / "abc", "abc");
    LETHE_COMPARE_STR(io::sha256File(dir / "abc"), io::sha256Hex("abc"));
}

void TestIo::modelDescriptionRoundTrips()
{
    io::ModelInfo info;
    info.kind = "edm";
    info.architecture = { { "model_type", "SongUNet" }, { "img_resolution", 32 } };
    info.classes = { "T-shirt/top", "Trouser" };
    info.dataset = { { "name", "fashion-mnist" }, { "resolution", 32 }, { "channels", 1 } };
    info.provenance.parentSha256 = std::string(64, 'a');
    info.provenance.method = "rgd";
    info.provenance.command = "lethe-cli unlearn --alpha 0.1";
    info.provenance.seed = 42;
    info.provenance.steps = 782;
    info.provenance.wallSeconds = 12.5;
    info.provenance.created = io::utcNow();
    info.provenance.hyperparameters = { { "alpha", 0.1 }, { "lambda", 5.0 } };
    ScratchDir dir;
    io::writeModel(dir / "m.safetensors", info, { { "model.w", torch::ones({ 2, 2 }) } });

    const io::SafetensorsFile file(dir / "m.safetensors");
    LETHE_COMPARE_STR(file.metadata().at("format"), std::string("lethe.model"));
    const io::ModelInfo back = io::readModelInfo(file);
    QVERIFY(io::toJson(back) == io::toJson(info));
    QCOMPARE(QString::fromStdString(info.provenance.created).size(), 20);

    const char* argv[] = { "lethe-cli", "unlearn", "--out", "my dir", "--note", "it's" };
    LETHE_COMPARE_STR(io::commandLine(6, argv), std::string("lethe-cli unlearn --out 'my dir' --note 'it'\\''s'"));

    // A class named by a Latin-1 folder ("café" as one byte 0xE9) is not UTF-8: the model is still written,
    // with U+FFFD in its place.
    info.classes = { "caf\xE9", "Trouser" };
    io::writeModel(dir / "latin1.safetensors", info, { { "model.w", torch::ones({ 2, 2 }) } });
    LETHE_COMPARE_STR(io::readModelInfo(io::SafetensorsFile(dir / "latin1.safetensors")).classes.front(),
        std::string("caf\xEF\xBF\xBD"));
}

void TestIo::rejectsFilesWithoutOrWithBadDescription()
{
    ScratchDir dir;
    const auto plain = dir / "plain.safetensors";
    io::writeSafetensors(plain, { { "w", torch::ones({ 1 }) } });
    LETHE_COMPARE_STR(errorMessage([&] { io::readModelInfo(io::SafetensorsFile(plain)); }),
        plain.string()
            + ": __metadata__: no 'lethe' description: this is not a Lethe model file (convert "
              "NVlabs EDM checkpoints with scripts/edm_pkl_to_safetensors.py)");
    const auto future = dir / "future.safetensors";
    io::writeSafetensors(future, {}, { { "lethe", R"({"format_version": 9, "kind": "edm", "architecture": {}})" } });
    LETHE_COMPARE_STR(errorMessage([&] { io::readModelInfo(io::SafetensorsFile(future)); }),
        future.string() + ": __metadata__ key 'lethe' format_version: expected 1 to 1, found 9");
    const auto noKind = dir / "nokind.safetensors";
    io::writeSafetensors(noKind, {}, { { "lethe", R"({"format_version": 1, "architecture": {}})" } });
    LETHE_COMPARE_STR(errorMessage([&] { io::readModelInfo(io::SafetensorsFile(noKind)); }),
        noKind.string()
            + ": __metadata__ key 'lethe': malformed description: [json.exception.out_of_range.403] key 'kind' not "
              "found");
    const auto badArch = dir / "badarch.safetensors";
    io::writeSafetensors(badArch, {}, { { "lethe", R"({"format_version": 1, "kind": "edm", "architecture": [1]})" } });
    LETHE_COMPARE_STR(errorMessage([&] { io::readModelInfo(io::SafetensorsFile(badArch)); }),
        badArch.string() + ": __metadata__ key 'lethe' architecture: expected an object, found array");
    // An architecture far larger than the file's tensors is refused before the network is built.
    const auto huge = dir / "huge.safetensors";
    io::writeSafetensors(huge, { { "w", torch::ones({ 2, 2 }) } },
        { { "lethe",
            R"({"format_version": 1, "kind": "edm", "architecture": {"img_resolution": 32, "img_channels": 1,
                "model_channels": 100000}})" } });
    LETHE_COMPARE_STR(errorMessage([&] { store::loadEdmModel(huge, torch::kCPU); }),
        huge.string()
            + ": holds 4 values, but its architecture describes a network of at least 13250001800000 parameters: the "
              "config "
              "and the weights do not belong together (refused before allocating)");
}

QTEST_APPLESS_MAIN(TestIo)
#include "test_io.moc"
