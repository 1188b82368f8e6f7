// lethe-cli's smaller commands as a user runs them, with the shortest settings that still do the work: data info,
// sample and classify on the built-in model, classifier and real Fashion-MNIST images, pretrain-t2i for two steps,
// and every bench subcommand for two runs; each with the message of a way it goes wrong.
#include "core/data/datasets.h"
#include "core/data/idx.h"
#include "core/io/safetensors.h"

#include "cli_runner.h"
#include "tensor_files.h"
#include "test_support.h"
#include "tiny_edm.h"

#include <torch/torch.h>

#include <QtTest>

#include <cmath>
#include <regex>
#include <sstream>

using namespace lethe;
using namespace lethe::test;

namespace {

const std::filesystem::path kModels = std::filesystem::path(LETHE_SOURCE_DIR) / "resources" / "models";

/// The groups of a regular expression's match: the whole line, then each group.
using Groups = std::vector<std::string>;

/// The lines of `text` that match `pattern` in full, with their groups.
std::vector<Groups> matchingLines(const std::string& text, const std::string& pattern)
{
    const std::regex re(pattern);
    std::vector<Groups> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, re))
            out.emplace_back(m.begin(), m.end());
    }
    return out;
}

/// The one line of `text` that matches `pattern` in full (empty, with a warning, when there is none or several).
Groups matchingLine(const std::string& text, const std::string& pattern)
{
    auto lines = matchingLines(text, pattern);
    if (lines.size() != 1)
        qWarning("%zu lines match %s in:\n%s", lines.size(), pattern.c_str(), text.c_str());
    return lines.size() == 1 ? lines.front() : Groups {};
}

/// A benchmark's timing line, "NAME: median M UNIT (min A, max B, N runs)…": min ≤ median ≤ max and N runs.
bool plausibleTimes(const Groups& m, int runs)
{
    if (m.empty())
        return false;
    const double median = std::stod(m[1]), min = std::stod(m[2]), max = std::stod(m[3]);
    return min > 0 && min <= median && median <= max && std::stoi(m[4]) == runs;
}

/// The first `n` images and labels of a split of the Debian Fashion-MNIST files, written as raw IDX files.
void writeIdxSubset(const std::filesystem::path& dir, const std::string& prefix, std::int64_t n)
{
    const auto source = data::fashionMnistDir();
    const torch::Tensor images
        = data::readIdxImages(source / (prefix + "-images-idx3-ubyte.gz")).slice(0, 0, n).contiguous();
    const torch::Tensor labels
        = data::readIdxLabels(source / (prefix + "-labels-idx1-ubyte.gz")).slice(0, 0, n).to(torch::kUInt8);
    const auto be32 = [](std::uint32_t v) {
        return std::string { char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff) };
    };
    const auto side = static_cast<std::uint32_t>(images.size(2));
    writeBytes(dir / (prefix + "-images-idx3-ubyte"),
        std::string("\0\0\x08\x03", 4) + be32(std::uint32_t(n)) + be32(side) + be32(side)
            + std::string(static_cast<const char*>(images.data_ptr()), std::size_t(images.numel())));
    writeBytes(dir / (prefix + "-labels-idx1-ubyte"),
        std::string("\0\0\x08\x01", 4) + be32(std::uint32_t(n))
            + std::string(static_cast<const char*>(labels.contiguous().data_ptr()), std::size_t(n)));
}

/// Images per class of an IDX label file.
std::vector<std::int64_t> classCounts(const std::filesystem::path& labelFile)
{
    const torch::Tensor counts = torch::bincount(data::readIdxLabels(labelFile), {}, 10);
    return { counts.data_ptr<std::int64_t>(), counts.data_ptr<std::int64_t>() + 10 };
}

} // namespace

class TestCliCommands : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void dataInfoCountsEveryClass();
    void sampleWritesTheGridAndTheImagesOfEachSeed();
    void classifyMeasuresRealImages();
    void pretrainT2iWritesAModelGenerateLoads();
    void benchTrainStepAndSample();
    void benchUnlearn();
    void benchTextToImageCommands();

private:
    test::ScratchDir m_dir;
    std::filesystem::path m_cifar; ///< 100 training and 20 test images, 10 and 2 per class.
    std::filesystem::path m_idx; ///< The first 100 training and 200 test images of Fashion-MNIST.
    std::filesystem::path m_tinyModel; ///< The tiny CIFAR model.
};

void TestCliCommands::initTestCase()
{
    m_cifar = m_dir / "cifar";
    test::writeCifarFolder(m_cifar, 20);
    m_idx = m_dir / "idx";
    writeIdxSubset(m_idx, "train", 100);
    writeIdxSubset(m_idx, "t10k", 200);
    m_tinyModel = m_dir / "tiny.safetensors";
    test::writeTinyCifarModel(m_tinyModel);
}

void TestCliCommands::dataInfoCountsEveryClass()
{
    const std::string row = R"((\d+)\s+(.+?)\s+(\d+)\s+(\d+))";
    const std::string total = R"(\s+total\s+(\d+)\s+(\d+))";

    // The built-in data set: Fashion-MNIST's 6000 training and 1000 test images per class.
    const Result builtin = runCli({ "data", "info", "fashion-mnist" });
    QVERIFY2(builtin.exitCode == 0, builtin.err.c_str());
    QVERIFY2(builtin.out.rfind("Data set  fashion-mnist (built-in Fashion-MNIST)\n", 0) == 0, builtin.out.c_str());
    QVERIFY2(builtin.out.find("Images    1×32×32 uint8, 10 classes\n") != std::string::npos, builtin.out.c_str());
    const auto rows = matchingLines(builtin.out, row);
    QCOMPARE(rows.size(), std::size_t { 10 });
    LETHE_COMPARE_STR(rows[0][2], "T-shirt/top");
    LETHE_COMPARE_STR(rows[9][2], "Ankle boot");
    for (std::size_t c = 0; c < rows.size(); ++c) {
        QCOMPARE(std::stoul(rows[c][1]), c);
        LETHE_COMPARE_STR(rows[c][3], "6000");
        LETHE_COMPARE_STR(rows[c][4], "1000");
    }
    const auto totals = matchingLine(builtin.out, total);
    QVERIFY(!totals.empty());
    LETHE_COMPARE_STR(totals[1] + " " + totals[2], "60000 10000");

    // A folder of IDX files: the counts of its label files; a CIFAR-10 folder: its class names.
    const Result idx = runCli({ "data", "info", q(m_idx) });
    QVERIFY2(idx.exitCode == 0, idx.err.c_str());
    QVERIFY2(idx.out.find("Images    1×28×28 uint8, 10 classes\n") != std::string::npos, idx.out.c_str());
    const auto idxRows = matchingLines(idx.out, row);
    QCOMPARE(idxRows.size(), std::size_t { 10 });
    const auto train = classCounts(m_idx / "train-labels-idx1-ubyte");
    const auto test = classCounts(m_idx / "t10k-labels-idx1-ubyte");
    for (std::size_t c = 0; c < 10; ++c) {
        QCOMPARE(std::stoll(idxRows[c][3]), train[c]);
        QCOMPARE(std::stoll(idxRows[c][4]), test[c]);
    }
    const auto idxTotals = matchingLine(idx.out, total);
    QVERIFY(!idxTotals.empty());
    LETHE_COMPARE_STR(idxTotals[1] + " " + idxTotals[2], "100 200");

    const Result cifar = runCli({ "data", "info", q(m_cifar) });
    QVERIFY2(cifar.exitCode == 0, cifar.err.c_str());
    QVERIFY2(cifar.out.find("Images    3×32×32 uint8, 10 classes\n") != std::string::npos, cifar.out.c_str());
    const auto cifarRows = matchingLines(cifar.out, row);
    QCOMPARE(cifarRows.size(), std::size_t { 10 });
    LETHE_COMPARE_STR(cifarRows[3][2], "cat");
    for (const auto& r : cifarRows)
        LETHE_COMPARE_STR(r[3] + " " + r[4], "10 2");

    const Result missing = runCli({ "data", "info", q(m_dir / "nowhere") });
    QCOMPARE(missing.exitCode, 1);
    LETHE_COMPARE_STR(missing.err,
        "error: unknown data set '" + q(m_dir / "nowhere")
            + "': expected 'fashion-mnist' or a folder, and no such folder exists\n");
    std::filesystem::create_directories(m_dir / "empty");
    const Result empty = runCli({ "data", "info", q(m_dir / "empty") });
    QCOMPARE(empty.exitCode, 1);
    LETHE_COMPARE_STR(empty.err,
        "error: data set folder '" + q(m_dir / "empty")
            + "' holds no CIFAR-10 batches (data_batch_1.bin, test_batch.bin), no IDX files "
              "(train-images-idx3-ubyte[.gz]) and no class subfolders\n");
    const Result badSize = runCli({ "data", "info", q(m_dir / "empty"), "--size", "2" });
    QCOMPARE(badSize.exitCode, 105); // CLI11's validation error.
    QVERIFY2(badSize.err.rfind("--size: Value 2 not in range 4 to 1024\n", 0) == 0, badSize.err.c_str());
}

void TestCliCommands::sampleWritesTheGridAndTheImagesOfEachSeed()
{
    const auto grid = m_dir / "sample" / "grid.png";
    const auto tensors = m_dir / "sample" / "images.safetensors";
    std::filesystem::create_directories(grid.parent_path());
    const Args fast { "--steps", "2", "--sampler", "euler" };
    const Result r = runCli(
        Args { "sample", "--class", "3", "--class", "7", "--seeds", "0-1", "--out", q(grid), "--tensors", q(tensors) }
        + fast);
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(
        r.out.rfind("wrote " + q(grid) + ": 2 row(s) × 2 seeds\nwrote " + q(tensors) + "\n", 0) == 0, r.out.c_str());
    const auto speed = matchingLine(r.out, R"(4 images in (\d+\.\d) s \((\d+\.\d\d) images/s\))");
    QVERIFY(!speed.empty());
    QVERIFY(std::stod(speed[2]) > 0);

    // The grid: one row per class, one column per seed, 32-pixel greyscale images with 2-pixel gaps.
    const std::string png = readBytes(grid);
    QVERIFY(png.rfind("\x89PNG", 0) == 0);
    const auto be32 = [&](std::size_t at) {
        return (std::uint32_t(std::uint8_t(png[at])) << 24) | (std::uint32_t(std::uint8_t(png[at + 1])) << 16)
            | (std::uint32_t(std::uint8_t(png[at + 2])) << 8) | std::uint32_t(std::uint8_t(png[at + 3]));
    };
    QCOMPARE(be32(16), std::uint32_t { 2 + 2 * 34 }); // IHDR width
    QCOMPARE(be32(20), std::uint32_t { 2 + 2 * 34 }); // IHDR height
    QCOMPARE(int(png[25]), 0); // colour type: greyscale

    // The images with their class and seed, row by row, and what drew them.
    const auto written = tensorsOf(tensors);
    QCOMPARE(written.at("images").sizes().vec(), (std::vector<std::int64_t> { 4, 1, 32, 32 }));
    QCOMPARE(written.at("images").scalar_type(), torch::kUInt8);
    QVERIFY(torch::equal(written.at("labels"), torch::tensor({ 3, 3, 7, 7 }, torch::kInt64)));
    QVERIFY(torch::equal(written.at("seeds"), torch::tensor({ 0, 1, 0, 1 }, torch::kInt64)));
    QVERIFY(written.at("images").to(torch::kFloat).std().item<double>() > 1.0); // drawn, not blank
    const io::SafetensorsFile file(tensors);
    LETHE_COMPARE_STR(file.metadata().at("sampler"), "euler");
    LETHE_COMPARE_STR(file.metadata().at("steps"), "2");
    QCOMPARE(file.metadata().at("model_sha256").size(), std::size_t { 64 });

    // Each image depends on its class and seed alone (EDM's per-image seeds): class 7, seed 1 drawn by itself is
    // the grid's last image.
    const auto alone = m_dir / "sample" / "alone.safetensors";
    const Result one = runCli(Args { "sample", "--class", "7", "--seeds", "1", "--tensors", q(alone) } + fast);
    QVERIFY2(one.exitCode == 0, one.err.c_str());
    QVERIFY(torch::equal(tensorsOf(alone).at("images")[0], written.at("images")[3]));

    const Result badClass = runCli(Args { "sample", "--class", "12", "--out", q(grid) } + fast);
    QCOMPARE(badClass.exitCode, 1);
    LETHE_COMPARE_STR(badClass.err, "error: class 12 is outside 0–9\n");
    const Result badSeeds = runCli(Args { "sample", "--seeds", "5-x", "--out", q(grid) } + fast);
    QCOMPARE(badSeeds.exitCode, 1);
    LETHE_COMPARE_STR(badSeeds.err, "error: seed list '5-x': 'x' is not a non-negative integer\n");
    const Result nothing = runCli(Args { "sample" } + fast);
    QCOMPARE(nothing.exitCode, 1);
    LETHE_COMPARE_STR(
        nothing.err, "error: nothing to write: give --out (PNG grid) and/or --tensors (safetensors of the images)\n");
}

void TestCliCommands::classifyMeasuresRealImages()
{
    // The built-in classifier on the first 200 test images of Fashion-MNIST (the Debian files as an IDX folder).
    const std::string classifier = q(kModels / "fmnist-classifier.safetensors");
    const std::string row = R"((\d+)\s+(.+?)\s+(\d+)\s+(\d+)\s+(\d+\.\d\d) %)";
    for (const std::string split : { "test", "train" }) {
        const Result r = runCli({ "classify", "--model", classifier, "--data", q(m_idx), "--split", split });
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        const std::int64_t total = split == "test" ? 200 : 100;
        QVERIFY2(r.out.rfind("Classifier " + classifier + " (10 classes, trained on fashion-mnist)\nData       IDX "
                         + split + " (" + q(m_idx) + "), " + std::to_string(total) + " images\n",
                     0)
                == 0,
            r.out.c_str());
        // The IDX folder names no classes: the classifier's own names stand beside the labels' numbers.
        LETHE_COMPARE_STR(
            r.err, "warning: the data set's class names differ from the classifier's; labels are compared by number\n");
        const auto rows = matchingLines(r.out, row);
        QCOMPARE(rows.size(), std::size_t { 10 });
        const auto counts
            = classCounts(m_idx / (split == "test" ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte"));
        std::int64_t correct = 0;
        double accuracySum = 0;
        for (std::size_t c = 0; c < 10; ++c) {
            QCOMPARE(std::stoll(rows[c][3]), counts[c]);
            const std::int64_t right = std::stoll(rows[c][4]);
            QVERIFY(right <= counts[c]);
            QCOMPARE(std::stod(rows[c][5]), std::round(10000.0 * double(right) / double(counts[c])) / 100);
            correct += right;
            accuracySum += 100.0 * double(right) / double(counts[c]);
        }
        LETHE_COMPARE_STR(rows[7][2], "Sneaker");
        const auto overall = matchingLine(r.out, R"(\s+overall\s+(\d+\.\d\d) %)");
        QVERIFY(!overall.empty());
        QCOMPARE(std::stod(overall[1]), std::round(10000.0 * double(correct) / double(total)) / 100);
        const auto mean = matchingLine(r.out, R"(\s+class mean\s+(\d+\.\d\d) %)");
        QVERIFY(!mean.empty());
        QCOMPARE(std::stod(mean[1]), std::round(10.0 * accuracySum) / 100);
        // It reads real garments: 91.7 % over the whole test split.
        QVERIFY2(std::stod(overall[1]) > 85.0, r.out.c_str());
    }

    const Result notAClassifier = runCli({ "classify", "--model", q(kModels / "fmnist-edm.safetensors") });
    QCOMPARE(notAClassifier.exitCode, 1);
    LETHE_COMPARE_STR(notAClassifier.err,
        "error: " + q(kModels / "fmnist-edm.safetensors")
            + ": __metadata__ key 'lethe' kind: expected a 'classifier' model, found 'edm'\n");
    const Result colour = runCli({ "classify", "--model", classifier, "--data", q(m_cifar) });
    QCOMPARE(colour.exitCode, 1);
    LETHE_COMPARE_STR(colour.err,
        "warning: the data set's class names differ from the classifier's; labels are compared by number\n"
        "error: classify: the classifier takes 1-channel images, found 3 channels\n");
    const Result badBatch = runCli({ "classify", "--model", classifier, "--batch", "0" });
    QCOMPARE(badBatch.exitCode, 105);
    QVERIFY2(badBatch.err.rfind("--batch: Value 0 not in range 1 to 65536\n", 0) == 0, badBatch.err.c_str());
}

void TestCliCommands::pretrainT2iWritesAModelGenerateLoads()
{
    // Two steps of the built-in networks on the built-in data, then one more from the state written beside them.
    const auto out = m_dir / "t2i";
    const Args fast { "pretrain-t2i", "--out", q(out), "--batch", "2", "--checkpoint-every", "0" };
    const Result r = runCli(fast + Args { "--steps", "2" });
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    LETHE_COMPARE_STR(r.out,
        "wrote " + q(out) + " (a diffusers folder of the EMA networks, step 2) and " + q(out) + ".state.safetensors\n");
    QVERIFY2(r.err.find("60000 images, recoloured and captioned; device cpu\n") != std::string::npos, r.err.c_str());
    QVERIFY2(r.err.find("step 2/2  loss ") != std::string::npos, r.err.c_str());
    for (const char* name : { "model_index.json", "lethe-manifest.json", "unet/config.json",
             "unet/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
             "tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json" })
        QVERIFY2(std::filesystem::exists(out / name), name);
    const auto unet = nlohmann::json::parse(readBytes(out / "unet" / "config.json"));
    QCOMPARE(unet.at("sample_size").get<int>(), 32);
    QCOMPARE(unet.at("in_channels").get<int>(), 3); // pixel space: the garments recoloured
    const auto unetWeights = tensorsOf(out / "unet" / "diffusion_pytorch_model.safetensors");
    QCOMPARE(unetWeights.at("conv_in.weight").size(1), std::int64_t { 3 });
    QVERIFY(torch::isfinite(unetWeights.at("conv_in.weight")).all().item<bool>());
    // The Concept tab opens it as it opens the built-in model, whose pretraining took the same settings.
    const auto manifest = nlohmann::json::parse(readBytes(out / "lethe-manifest.json"));
    const auto builtin = nlohmann::json::parse(readBytes(kModels / "fmnist-t2i" / "lethe-manifest.json"));
    for (const char* key : { "recommended_preset", "recommended_drawing", "recommended_prompt_preset" })
        QVERIFY2(manifest.at(key) == builtin.at(key), key);

    const Result again = runCli(fast + Args { "--steps", "3" });
    QCOMPARE(again.exitCode, 1);
    QVERIFY2(again.err.find(
                 "error: " + q(out) + " exists: pass --resume to continue its training, or choose another --out\n")
            != std::string::npos,
        again.err.c_str());
    const Result resumed = runCli(fast + Args { "--steps", "3", "--resume" });
    QVERIFY2(resumed.exitCode == 0, resumed.err.c_str());
    QVERIFY2(resumed.err.find("resumed from " + q(out) + ".state.safetensors at step 2\n") != std::string::npos,
        resumed.err.c_str());
    QVERIFY2(
        resumed.out.find("(a diffusers folder of the EMA networks, step 3)") != std::string::npos, resumed.out.c_str());

    // generate loads what it wrote.
    const Result drawn = runCli(
        { "generate", "--model", q(out), "--prompt", "a red sneaker", "--steps", "1", "--out", q(m_dir / "gen") });
    QVERIFY2(drawn.exitCode == 0, drawn.err.c_str());
    LETHE_COMPARE_STR(drawn.out.substr(0, drawn.out.find(" in ")), "wrote 1 images of 32×32 to " + q(m_dir / "gen"));

    // Colour images are refused: the captions name the colour the command paints a grey garment in.
    const Result colour = runCli(Args { "pretrain-t2i", "--out", q(m_dir / "t2i-cifar"), "--data", q(m_cifar) });
    QCOMPARE(colour.exitCode, 1);
    QVERIFY2(colour.err.find("error: text-to-image pretraining takes grayscale Fashion-MNIST-style images in 10 "
                             "classes; CIFAR-10 train ("
                 + q(m_cifar) + ") has 3 channel(s) and 10 classes\n")
            != std::string::npos,
        colour.err.c_str());
    QVERIFY(!std::filesystem::exists(m_dir / "t2i-cifar"));
}

void TestCliCommands::benchTrainStepAndSample()
{
    const Args fast { "--batch", "2", "--runs", "2", "--warmup", "0" };
    const Result train = runCli(Args { "bench", "train-step" } + fast);
    QVERIFY2(train.exitCode == 0, train.err.c_str());
    LETHE_COMPARE_STR(train.out.substr(0, train.out.find('\n')),
        "train-step  preset fmnist-ddpmpp-small, 710377 parameters, batch 2, device cpu, 1 threads");
    QVERIFY(
        plausibleTimes(matchingLine(train.out,
                           R"(train-step: median (\S+) ms/step \(min (\S+), max (\S+), (\d+) runs\), \S+ images/s, )"
                           R"(peak RSS \d+\.\d MiB)"),
            2));
    const Result model = runCli(Args { "bench", "train-step", "--model", q(m_tinyModel) } + fast);
    QVERIFY2(model.exitCode == 0, model.err.c_str());
    QVERIFY2(model.out.find(", batch 2, device cpu") != std::string::npos, model.out.c_str());
    const Result badPreset = runCli({ "bench", "train-step", "--preset", "nope" });
    QCOMPARE(badPreset.exitCode, 1);
    LETHE_COMPARE_STR(badPreset.err,
        "error: unknown EDM preset 'nope': expected one of cifar10-ddpmpp-cond, cifar10-ncsnpp-cond, "
        "fmnist-ddpmpp-small\n");

    const Result sample = runCli(Args { "bench", "sample", "--steps", "2" } + fast);
    QVERIFY2(sample.exitCode == 0, sample.err.c_str());
    LETHE_COMPARE_STR(sample.out.substr(0, sample.out.find('\n')),
        "sample  preset fmnist-ddpmpp-small, batch 2, Heun 2 steps (3 evaluations), device cpu, 1 threads");
    QVERIFY(plausibleTimes(matchingLine(sample.out,
                               R"(sample: median (\S+) ms/batch \(min (\S+), max (\S+), (\d+) runs\), \S+ images/s, )"
                               R"(peak RSS \d+\.\d MiB)"),
        2));
    const Result badSteps = runCli({ "bench", "sample", "--steps", "0" });
    QVERIFY2(badSteps.exitCode != 0, badSteps.out.c_str());
    QVERIFY2(badSteps.err.rfind("--steps: Value 0 not in range 1 to 1000\n", 0) == 0, badSteps.err.c_str());
    const Result badBatch = runCli({ "bench", "train-step", "--batch", "0" });
    QVERIFY2(badBatch.exitCode != 0, badBatch.out.c_str());
    QVERIFY2(badBatch.err.rfind("--batch: Value 0 not in range 1 to 65536\n", 0) == 0, badBatch.err.c_str());

    // --profile: the trace file and the operators by self time after the timing line.
    const std::string trace = (m_dir / "sample-trace.json").string();
    const Result profiled
        = runCli(Args { "bench", "sample", "--steps", "2", "--profile", q(m_dir / "sample-trace.json") } + fast);
    QVERIFY2(profiled.exitCode == 0, profiled.err.c_str());
    QVERIFY2(profiled.out.find("profile of the measured runs: " + trace
                 + " (operators by self time)\n"
                   "     self ms   share    calls  operator\n")
            != std::string::npos,
        profiled.out.c_str());
    QVERIFY2(profiled.out.find("aten::mkldnn_convolution") != std::string::npos
            || profiled.out.find("aten::convolution") != std::string::npos,
        profiled.out.c_str());
    QVERIFY(std::filesystem::file_size(trace) > 0);

    const Result noModel = runCli(Args { "bench", "sample", "--model", q(m_dir / "none.safetensors") } + fast);
    QCOMPARE(noModel.exitCode, 1);
    LETHE_COMPARE_STR(noModel.err,
        "error: " + q(m_dir / "none.safetensors") + ": cannot open for reading: No such file or directory\n");
}

void TestCliCommands::benchUnlearn()
{
    // RGD on the tiny model: its own steps, RG's and GradDiff's on the same batches, and the projection alone.
    const Args model { "bench", "unlearn", "--model", q(m_tinyModel), "--data", q(m_cifar), "--forget-batch", "2",
        "--remain-per-class", "2", "--remain-batch", "4", "--runs", "2", "--warmup", "0" };
    const Result r = runCli(model);
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    LETHE_COMPARE_STR(r.out.substr(0, r.out.find('\n')),
        "bench unlearn  " + q(m_tinyModel)
            + ", 19891 parameters, forget batch 2, remain batch 4, remain set 18 images, device cpu, 1 threads");
    for (const char* method : { "rgd     ", "rg      ", "graddiff" })
        QVERIFY2(plausibleTimes(matchingLine(r.out,
                                    std::string(method)
                                        + R"( median (\S+) ms/step \(min (\S+), max (\S+), (\d+) steps\), peak RSS )"
                                          R"(\d+\.\d MiB  \(.*\))"),
                     2),
            method);
    QVERIFY(!matchingLine(r.out, R"(projection alone: median \S+ ms .* RG step / GradDiff step = \d+\.\d+)").empty());

    const Result badClass = runCli(model + Args { "--forget-class", "12" });
    QCOMPARE(badClass.exitCode, 1);
    LETHE_COMPARE_STR(badClass.err, "error: forget class 12 is outside 0–9 (" + q(m_tinyModel) + " has 10 classes)\n");
}

void TestCliCommands::benchTextToImageCommands()
{
    // The built-in text-to-image model, two runs or steps of each.
    const std::string model = q(kModels / "fmnist-t2i");
    const Result generate = runCli({ "bench", "generate", "--model", model, "--steps", "2", "--runs", "2", "--warmup",
        "0", "--prompt", "a red sneaker" });
    QVERIFY2(generate.exitCode == 0, generate.err.c_str());
    LETHE_COMPARE_STR(generate.out.substr(0, generate.out.find('\n')),
        "generate  " + model
            + ", 32×32, 1 image(s) per run, ddim 2 steps, guidance 7.5, float32, device cpu, 1 threads");
    QVERIFY(plausibleTimes(
        matchingLine(generate.out,
            R"(generate: median (\S+) s/image \(min (\S+), max (\S+), (\d+) runs\), peak RSS \d+\.\d MiB)"),
        2));
    const Result noModel = runCli({ "bench", "generate", "--model", q(m_dir / "none") });
    QCOMPARE(noModel.exitCode, 1);
    LETHE_COMPARE_STR(noModel.err, "error: " + q(m_dir / "none") + ": file: does not exist\n");

    const Result concept = runCli({ "bench", "unlearn-concept", "--model", model, "--steps", "2" });
    QVERIFY2(concept.exitCode == 0, concept.err.c_str());
    QVERIFY2(concept.out.find("rgd, all, batch 1, input 3×32×32, precision float32, checkpointing off, "
                              "memory-efficient attention off\n")
            != std::string::npos,
        concept.out.c_str());
    QVERIFY(!matchingLine(concept.out, R"(step 1: \S+ s, peak RSS so far \d+\.\d MiB)").empty());
    QVERIFY(!matchingLine(concept.out, R"(step 2: \S+ s, peak RSS so far \d+\.\d MiB)").empty());
    const auto peak = matchingLine(concept.out,
        R"(peak RSS \d+\.\d MiB \((\d+) bytes\); estimate: first step \d+\.\d MiB \((\d+) bytes\), later steps )"
        R"(\d+\.\d MiB \((\d+) bytes\))");
    QVERIFY(!peak.empty());
    QVERIFY(std::stoll(peak[1]) > 0 && std::stoll(peak[2]) > 0 && std::stoll(peak[3]) >= std::stoll(peak[2]));
    const Result badParams = runCli({ "bench", "unlearn-concept", "--model", model, "--params", "nope" });
    QCOMPARE(badParams.exitCode, 1);
    LETHE_COMPARE_STR(badParams.err, "error: bench unlearn-concept: unknown parameter group 'nope'\n");

    const Result prompt = runCli({ "bench", "attack", "--model", model, "--attack-tokens", "2", "--attack-steps", "2",
        "--runs", "2", "--warmup", "0" });
    QVERIFY2(prompt.exitCode == 0, prompt.err.c_str());
    LETHE_COMPARE_STR(prompt.out.substr(0, prompt.out.find('\n')),
        "attack    unlearndiffatk, " + model
            + ", 32×32, K 2, 1 timestep(s) a step, 2 steps a run, device cpu, 1 threads");
    const std::string attackTimes
        = R"(attack: median (\S+) s/step \(min (\S+), max (\S+), (\d+) runs\), peak RSS \d+\.\d MiB)";
    QVERIFY(plausibleTimes(matchingLine(prompt.out, attackTimes), 2));
    const Result classAttack = runCli({ "bench", "attack", "--attack", "class", "--model", q(m_tinyModel),
        "--attack-steps", "2", "--attack-batch", "2", "--runs", "2", "--warmup", "0" });
    QVERIFY2(classAttack.exitCode == 0, classAttack.err.c_str());
    LETHE_COMPARE_STR(classAttack.out.substr(0, classAttack.out.find('\n')),
        "attack    class, " + q(m_tinyModel) + ", batch 2, 2 steps a run, device cpu, 1 threads");
    QVERIFY(plausibleTimes(matchingLine(classAttack.out, attackTimes), 2));
    const Result badClass = runCli(
        { "bench", "attack", "--attack", "class", "--model", q(m_tinyModel), "--forget-class", "10", "--runs", "1" });
    QCOMPARE(badClass.exitCode, 1);
    LETHE_COMPARE_STR(badClass.err, "error: attack: class 10 is not one of the model's classes 0–9\n");
}

QTEST_GUILESS_MAIN(TestCliCommands)
#include "test_cli_commands.moc"
