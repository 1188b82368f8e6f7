// lethe-cli's text-to-image commands as a user runs them, on tiny diffusers folders: generate, convert-sd and
// bench generate; unlearn-concept into a run folder, from prompt files and from a preset; CLIP alignment in
// eval-t2i, unlearn-concept and clip-score.
#include "core/concept/prompt_set.h"
#include "core/imaging/image_file.h"

#include "cli_runner.h"
#include "test_support.h"
#include "tiny_clip.h"
#include "tiny_sd.h"

#include <QtTest>

using namespace lethe;
using namespace lethe::test;

class TestCliT2i : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void generateConvertAndBenchATextToImageModel();
    void emptyPromptValueIsTheEmptyPrompt();
    void unlearnConceptWritesAReloadableRun();
    void unlearnConceptStartsFromTheModelsRecommendedPreset();
    void unlearnConceptPairsEachForgetPromptWithItsTwin();
    void clipAlignmentInEvalT2iUnlearnConceptAndClipScore();
    void attackAConceptRun();
    void rgSalunAndUceOnSeveralConcepts();
    void memoryEstimateAndBenchOfAConceptRun();
    void convertSdxlBothWays();

private:
    test::ScratchDir m_dir;
};

void TestCliT2i::convertSdxlBothWays()
{
    // convert-sd: an SDXL folder to its single file (conditioner.embedders.*) and back; every layout draws the same
    // image, byte for byte.
    const std::filesystem::path folder = m_dir / "tiny-xl";
    test::writeTinyXlDiffusersFolder(folder);
    const std::filesystem::path single = m_dir / "tiny-xl.safetensors";
    const Result toFile = runCli({ "convert-sd", "--model", q(folder), "--out", q(single) });
    QVERIFY2(toFile.exitCode == 0, toFile.err.c_str());
    LETHE_COMPARE_STR(toFile.out,
        "wrote the CompVis single file " + single.string()
            + " (diffusers folder → single file, float32); load it with --components " + folder.string()
            + " for its tokenizers (tokenizer/, tokenizer_2/)\n");
    const Result toFolder
        = runCli({ "convert-sd", "--model", q(single), "--components", q(folder), "--out", q(m_dir / "tiny-xl-back") });
    QVERIFY2(toFolder.exitCode == 0, toFolder.err.c_str());
    const Args prompt { "--prompt", "a red sneaker", "--seed", "5", "--steps", "3" };
    QCOMPARE(runCli(Args { "generate", "--model", q(folder), "--out", q(m_dir / "xl-folder") } + prompt).exitCode, 0);
    const Result fromFile = runCli(
        Args { "generate", "--model", q(single), "--components", q(folder), "--out", q(m_dir / "xl-file") } + prompt);
    QVERIFY2(fromFile.exitCode == 0, fromFile.err.c_str());
    QVERIFY2(fromFile.err.find("loaded SDXL CompVis single file") != std::string::npos, fromFile.err.c_str());
    QCOMPARE(runCli(Args { "generate", "--model", q(m_dir / "tiny-xl-back"), "--out", q(m_dir / "xl-back") } + prompt)
                 .exitCode,
        0);
    const std::string png = test::readBytes(m_dir / "xl-folder" / "image-0-seed-5.png");
    QVERIFY(png.rfind("\x89PNG", 0) == 0);
    QVERIFY(test::readBytes(m_dir / "xl-file" / "image-0-seed-5.png") == png);
    QVERIFY(test::readBytes(m_dir / "xl-back" / "image-0-seed-5.png") == png);
}

void TestCliT2i::memoryEstimateAndBenchOfAConceptRun()
{
    const std::filesystem::path folder = m_dir / "tiny-memory";
    test::writeTinyDiffusersFolder(folder, true);
    test::writeBytes(m_dir / "memory-remain.json", R"(["a blue shoe", "a green hat"])");
    const Args run { "unlearn-concept", "--model", q(folder), "--concept", "sneaker", "--method", "rgd", "--remain",
        q(m_dir / "memory-remain.json"), "--forget-batch", "2", "--remain-batch", "2", "--gradient-checkpointing",
        "--precision", "bfloat16" };
    // --estimate-only: the estimate, nothing drawn, no run folder's files.
    const Result estimate = runCli(run + Args { "--estimate-only", "--out", q(m_dir / "estimate") });
    QVERIFY2(estimate.exitCode == 0, estimate.err.c_str());
    QVERIFY2(estimate.err.find("memory estimate: ") != std::string::npos
            && estimate.err.find("(CPU) at the peak of a step (") != std::string::npos
            && estimate.err.find(", gradients ") != std::string::npos
            && estimate.err.find(", activations ") != std::string::npos,
        estimate.err.c_str());
    QVERIFY(!std::filesystem::exists(m_dir / "estimate" / "run.json"));
    QVERIFY(!std::filesystem::exists(m_dir / "estimate" / "images"));
    // A precision the CPU lacks is refused before anything runs, with the flag's own words.
    const Result badPrecision = runCli(Args { "unlearn-concept", "--model", q(folder), "--concept", "sneaker",
        "--precision", "float64", "--estimate-only", "--out", q(m_dir / "estimate") });
    QCOMPARE(badPrecision.exitCode, 105); // CLI11's validation error.
    QVERIFY2(badPrecision.err.find("--precision: float64 not in {float32,bfloat16,float16}") != std::string::npos,
        badPrecision.err.c_str());

    // bench unlearn-concept: steps on random inputs, the peak beside the estimate.
    const Result bench = runCli({ "bench", "unlearn-concept", "--model", q(folder), "--batch", "2", "--steps", "2",
        "--memory-efficient-attention", "--gradient-checkpointing" });
    QCOMPARE(bench.exitCode, 0);
    QVERIFY2(bench.out.find("rgd, all, batch 2, input 4×8×8, precision float32, checkpointing on, memory-efficient "
                            "attention on")
            != std::string::npos,
        bench.out.c_str());
    QVERIFY2(bench.out.find("step 2: ") != std::string::npos
            && bench.out.find("seconds per step: first ") != std::string::npos
            && bench.out.find("peak RSS ") != std::string::npos
            && bench.out.find("; estimate: first step ") != std::string::npos,
        bench.out.c_str());
    const Result badMethod = runCli({ "bench", "unlearn-concept", "--model", q(folder), "--method", "nope" });
    QCOMPARE(badMethod.exitCode, 1);
    LETHE_COMPARE_STR(badMethod.err, "error: bench unlearn-concept: unknown method 'nope'\n");
}

void TestCliT2i::emptyPromptValueIsTheEmptyPrompt()
{
    // "--prompt=" is the empty prompt (diffusers' unconditional text), as "--prompt ''" is; CLI11 alone read it as
    // "--prompt" and took the next arguments ("--seeds", "0,1") for prompts.
    const std::filesystem::path folder = m_dir / "tiny-sd-empty";
    test::writeTinyDiffusersFolder(folder, true);
    const Args model { "generate", "--model", q(folder), "--steps", "2" };
    const Result inlineValue
        = runCli(model + Args { "--prompt=", "--seeds", "0,1", "--out", q(m_dir / "empty-inline") });
    QCOMPARE(inlineValue.exitCode, 0);
    const auto record = nlohmann::json::parse(test::readBytes(m_dir / "empty-inline" / "generate.json"));
    QCOMPARE(record["images"].size(), std::size_t { 2 });
    for (const auto& image : record["images"])
        LETHE_COMPARE_STR(image["prompt"].get<std::string>(), "");
    QCOMPARE(record["images"][1]["seed"].get<int>(), 1);
    QCOMPARE(record["steps"].get<int>(), 2);
    const Result separate
        = runCli(model + Args { "--prompt", "", "--seeds", "0,1", "--out", q(m_dir / "empty-separate") });
    QCOMPARE(separate.exitCode, 0);
    QVERIFY(test::readBytes(m_dir / "empty-separate" / "image-1-seed-1.png")
        == test::readBytes(m_dir / "empty-inline" / "image-1-seed-1.png"));

    // The same for a single-valued option: "--negative-prompt=" does not take "--prompt" as its text.
    const Result negative = runCli(
        model + Args { "--negative-prompt=", "--prompt", "a red sneaker", "--out", q(m_dir / "empty-negative") });
    QCOMPARE(negative.exitCode, 0);
    const auto negativeRecord = nlohmann::json::parse(test::readBytes(m_dir / "empty-negative" / "generate.json"));
    LETHE_COMPARE_STR(negativeRecord["negative_prompt"].get<std::string>(), "");
    LETHE_COMPARE_STR(negativeRecord["images"][0]["prompt"].get<std::string>(), "a red sneaker");
}

void TestCliT2i::generateConvertAndBenchATextToImageModel()
{
    const std::filesystem::path folder = m_dir / "tiny-sd";
    test::writeTinyDiffusersFolder(folder, true);
    const Args prompt { "--prompt", "a red sneaker", "--seed", "4-5", "--steps", "3" };
    const Result r = runCli(Args { "generate", "--model", q(folder), "--out", q(m_dir / "gen") } + prompt);
    QCOMPARE(r.exitCode, 0);
    LETHE_COMPARE_STR(r.out.substr(0, r.out.find(" in ")), "wrote 2 images of 16×16 to " + q(m_dir / "gen"));
    QVERIFY(r.err.find("loaded diffusers folder " + q(folder)) != std::string::npos);
    const auto record = nlohmann::json::parse(test::readBytes(m_dir / "gen" / "generate.json"));
    QCOMPARE(record["images"].size(), std::size_t { 2 });
    LETHE_COMPARE_STR(record["images"][1]["file"].get<std::string>(), "image-1-seed-5.png");
    const std::string png = test::readBytes(m_dir / "gen" / "image-1-seed-5.png");
    QVERIFY(png.rfind("\x89PNG", 0) == 0);

    // The folder is not overwritten without --force.
    const Result again = runCli(Args { "generate", "--model", q(folder), "--out", q(m_dir / "gen") } + prompt);
    QCOMPARE(again.exitCode, 1);
    LETHE_COMPARE_STR(again.err,
        "error: " + q(m_dir / "gen")
            + " already holds generated images (generate.json); choose another --out or pass --force\n");

    // As a CompVis single file, which needs the folder for its tokenizer: the same image, byte for byte.
    const std::filesystem::path single = m_dir / "tiny-sd.safetensors";
    QCOMPARE(runCli({ "convert-sd", "--model", q(folder), "--out", q(single) }).exitCode, 0);
    const Result noTokenizer = runCli(Args { "generate", "--model", q(single), "--out", q(m_dir / "gen2") } + prompt);
    QCOMPARE(noTokenizer.exitCode, 1);
    QVERIFY(noTokenizer.err.find("a CompVis single file carries no tokenizer") != std::string::npos);
    QVERIFY(!std::filesystem::exists(m_dir / "gen2" / "generate.json"));
    const Result fromSingle = runCli(Args { "generate", "--model", q(single), "--components", q(folder), "--out",
                                         q(m_dir / "gen2"), "--grid", "2", "--grid-scale", "3" }
        + prompt);
    QCOMPARE(fromSingle.exitCode, 0);
    // The grid: two 16-pixel images side by side with 2-pixel gaps, enlarged 3 times.
    const std::string grid = test::readBytes(m_dir / "gen2" / "grid.png");
    const auto be32 = [&](std::size_t at) {
        return (std::uint32_t(std::uint8_t(grid[at])) << 24) | (std::uint32_t(std::uint8_t(grid[at + 1])) << 16)
            | (std::uint32_t(std::uint8_t(grid[at + 2])) << 8) | std::uint32_t(std::uint8_t(grid[at + 3]));
    };
    QCOMPARE(be32(16), std::uint32_t { 3 * (2 + 2 * 18) }); // IHDR width
    QCOMPARE(be32(20), std::uint32_t { 3 * (2 + 18) }); // IHDR height
    QVERIFY(test::readBytes(m_dir / "gen2" / "image-1-seed-5.png") == png);

    const Result bench = runCli(
        { "bench", "generate", "--model", q(single), "--components", q(folder), "--steps", "2", "--runs", "2" });
    QCOMPARE(bench.exitCode, 0);
    QVERIFY2(bench.out.find("generate: median ") != std::string::npos
            && bench.out.find(" s/image (min ") != std::string::npos
            && bench.out.find("2 runs), peak RSS ") != std::string::npos,
        bench.out.c_str());
}

void TestCliT2i::clipAlignmentInEvalT2iUnlearnConceptAndClipScore()
{
    const std::filesystem::path folder = m_dir / "clip-pixel-sd";
    test::writeTinyDiffusersFolder(folder, false); // Draws 8×8 images, the tiny CLIP's size.
    const std::filesystem::path clip = m_dir / "tiny-clip";
    test::writeTinyClipFolder(clip);

    // eval-t2i: a CLIP column per prompt and the mean over all images, in the table and the JSON.
    const Result eval = runCli({ "eval-t2i", "--model", q(folder), "--prompt", "a red shirt", "--prompt",
        "a blue dress", "--seeds", "0-2", "--steps", "1", "--clip", q(clip), "--json", q(m_dir / "eval-clip.json") });
    QVERIFY2(eval.exitCode == 0, eval.err.c_str());
    QVERIFY2(eval.out.find("CLIP     prompt") != std::string::npos, eval.out.c_str());
    QVERIFY2(eval.out.find("CLIP alignment over all 6 images: ") != std::string::npos, eval.out.c_str());
    const auto evalJson = nlohmann::json::parse(test::readBytes(m_dir / "eval-clip.json"));
    QCOMPARE(evalJson["prompts"][0]["clip_alignment_per_image"].size(), std::size_t { 3 });
    const double evalMean = evalJson["clip_alignment"].get<double>();
    QCOMPARE(evalMean,
        (evalJson["prompts"][0]["clip_alignment"].get<double>()
            + evalJson["prompts"][1]["clip_alignment"].get<double>())
            / 2.0);
    QVERIFY(evalMean >= -1.0 && evalMean <= 1.0);

    // unlearn-concept: before/after scores of D_f, D_r,train and D_r,test from the preview seeds.
    test::writeBytes(m_dir / "clip-preset.json", R"({
      "dimensions": {"colour": {"train": ["red", "blue", "green"], "test": ["pink"]}, "object": {"train": ["shoe", "hat"]}},
      "remain_template": "a {colour} {object}", "concept": {"words": ["red"], "dimension": "colour"},
      "counts": {"forget": 3, "remain_train": 4, "remain_test": 2}})");
    const std::filesystem::path run = m_dir / "clip-run";
    const Result r = runCli({ "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "clip-preset.json"),
        "--method", "ga", "--steps", "2", "--lr", "1e-2", "--gen-steps", "1", "--preview-prompts", "1",
        "--preview-seeds", "0-1", "--clip", q(clip), "--clip-prompts", "2", "--out", q(run) });
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.out.find("CLIP alignment (cosine of image and prompt embeddings), before → after:\n  forget ")
            != std::string::npos,
        r.out.c_str());
    QVERIFY2(r.out.find("(D_r,train and D_r,test together)") != std::string::npos, r.out.c_str());
    const auto manifest = nlohmann::json::parse(test::readBytes(run / "run.json"));
    const auto& record = manifest["clip_alignment"];
    LETHE_COMPARE_STR(record["clip_model"].get<std::string>(), q(clip));
    std::vector<double> remainBefore;
    for (const char* set : { "forget", "remain_train", "remain_test" }) {
        QCOMPARE(record["sets"][set]["prompts"].get<int>(), 2);
        QCOMPARE(record["sets"][set]["before_per_image"].size(), std::size_t { 4 });
        QCOMPARE(record["sets"][set]["after_per_image"].size(), std::size_t { 4 });
        if (std::string(set) != "forget")
            for (const auto& v : record["sets"][set]["before_per_image"])
                remainBefore.push_back(v.get<double>());
    }
    // Gradient ascent on the forget set changed the model, so its images and scores.
    QVERIFY(record["sets"]["forget"]["before"] != record["sets"]["forget"]["after"]);
    double sum = 0;
    for (const double v : remainBefore)
        sum += v;
    QVERIFY(std::abs(record["remain"]["before"].get<double>() - sum / 8.0) < 1e-12);

    // Two concepts: each one's forget prompts measured as a set of its own; "remain" still D_r,train and D_r,test.
    const Result two = runCli({ "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "clip-preset.json"),
        "--concept", "red,blue", "--method", "ga", "--steps", "1", "--gen-steps", "1", "--preview-prompts", "1",
        "--preview-seeds", "0-1", "--clip", q(clip), "--clip-prompts", "2", "--out", q(m_dir / "clip-two") });
    QVERIFY2(two.exitCode == 0, two.err.c_str());
    const auto twoRecord = nlohmann::json::parse(test::readBytes(m_dir / "clip-two" / "run.json"))["clip_alignment"];
    for (const char* word : { "red", "blue" }) {
        const std::string name = std::string("forget: ") + word;
        QVERIFY2(twoRecord["sets"].contains(name), name.c_str());
        const auto promptsOfWord = twoRecord["sets"][name]["prompts"].get<std::size_t>();
        QVERIFY(promptsOfWord >= 1 && promptsOfWord <= 2); // Of the three forget prompts, the first two naming it.
        QCOMPARE(twoRecord["sets"][name]["before_per_image"].size(), 2 * promptsOfWord);
        QVERIFY2(two.out.find("  " + name + " ") != std::string::npos, two.out.c_str());
    }
    QCOMPARE(twoRecord["remain"]["images"].get<std::size_t>(), std::size_t { 8 });

    // eval-t2i --run: the same sets drawn from the finished run folder (its base model, its model/, its prompt
    // files and drawing settings) give the run's figures, image by image.
    const Result again = runCli({ "eval-t2i", "--run", q(run), "--clip", q(clip), "--clip-prompts", "2" });
    QVERIFY2(again.exitCode == 0, again.err.c_str());
    QVERIFY2(again.out.find("CLIP alignment (cosine of image and prompt embeddings), before → after:\n  forget ")
            != std::string::npos,
        again.out.c_str());
    QVERIFY2(again.out.find("wrote " + q(run / "clip-alignment.json")) != std::string::npos, again.out.c_str());
    const auto measured = nlohmann::json::parse(test::readBytes(run / "clip-alignment.json"));
    LETHE_COMPARE_STR(measured["base_model"].get<std::string>(), q(folder));
    for (const char* set : { "forget", "remain_train", "remain_test" })
        for (const char* when : { "before_per_image", "after_per_image" }) {
            const auto& got = measured["sets"][set][when];
            const auto& want = record["sets"][set][when];
            QCOMPARE(got.size(), want.size());
            for (std::size_t i = 0; i < got.size(); ++i)
                QVERIFY2(std::abs(got[i].get<double>() - want[i].get<double>()) < 1e-6,
                    (std::string(set) + " " + when).c_str());
        }
    // What --run needs, each a clear error.
    const Result noClip = runCli({ "eval-t2i", "--run", q(run) });
    QCOMPARE(noClip.exitCode, 1);
    LETHE_COMPARE_STR(noClip.err,
        "error: eval-t2i --run measures the CLIP alignment of the run's prompt sets before and after: give --clip\n");
    const Result withPrompt = runCli({ "eval-t2i", "--run", q(run), "--clip", q(clip), "--prompt", "a red shoe" });
    QCOMPARE(withPrompt.exitCode, 1);
    LETHE_COMPARE_STR(withPrompt.err,
        "error: eval-t2i --run draws the run's own prompt sets: --prompt and --prompts go without --run\n");
    const Result notARun = runCli({ "eval-t2i", "--run", q(clip), "--clip", q(clip) });
    QCOMPARE(notARun.exitCode, 1);
    LETHE_COMPARE_STR(notARun.err, "error: " + q(clip) + " is not a concept run folder (it has no run.json)\n");
    const std::filesystem::path moved = m_dir / "clip-run-moved";
    std::filesystem::create_directories(moved);
    for (const char* file : { "run.json", "forget.json" })
        std::filesystem::copy_file(run / file, moved / file);
    nlohmann::json elsewhere = manifest;
    elsewhere["parent_model"] = q(m_dir / "gone");
    test::writeBytes(moved / "run.json", elsewhere.dump());
    const Result gone = runCli({ "eval-t2i", "--run", q(moved), "--clip", q(clip) });
    QCOMPARE(gone.exitCode, 1);
    LETHE_COMPARE_STR(gone.err,
        "error: the run's base model " + q(m_dir / "gone")
            + " (run.json's parent_model) is not there; give it with "
              "--model\n");

    // clip-score on the "before" preview of the first forget prompt at seed 0 (the same prompt, seed and settings
    // as the first CLIP image of the forget set) gives the same score.
    if (!imaging::canDecodeImages())
        QSKIP("this build cannot decode PNG files (no OpenCV)");
    const std::filesystem::path images = m_dir / "clip-images";
    std::filesystem::create_directories(images);
    std::filesystem::copy_file(run / "before" / "00-forget-seed-0.png", images / "a.png");
    test::writeBytes(images / "a.txt", manifest["previews"][0]["prompt"].get<std::string>() + "\n");
    const Result score
        = runCli({ "clip-score", "--clip", q(clip), "--images", q(images), "--json", q(m_dir / "clip-score.json") });
    QVERIFY2(score.exitCode == 0, score.err.c_str());
    const auto scoreJson = nlohmann::json::parse(test::readBytes(m_dir / "clip-score.json"));
    QVERIFY(std::abs(scoreJson["clip_alignment"].get<double>()
                - record["sets"]["forget"]["before_per_image"][0].get<double>())
        < 1e-6);
    QVERIFY2(score.out.find("mean CLIP alignment over 1 images: ") != std::string::npos, score.out.c_str());
    test::writeBytes(m_dir / "clip-prompts.json", R"(["a red shirt", "a blue dress"])");
    const Result mismatch = runCli(
        { "clip-score", "--clip", q(clip), "--images", q(images), "--prompts", q(m_dir / "clip-prompts.json") });
    QCOMPARE(mismatch.exitCode, 1);
    LETHE_COMPARE_STR(mismatch.err,
        "error: " + q(m_dir / "clip-prompts.json") + ": 2 prompts for 1 images in " + q(images)
            + " (the prompts pair with the images in file-name order)\n");
}

void TestCliT2i::unlearnConceptWritesAReloadableRun()
{
    const std::filesystem::path folder = m_dir / "tiny-pixel-sd";
    test::writeTinyDiffusersFolder(folder, false);
    test::writeBytes(m_dir / "forget.json", R"(["a red shoe", {"prompt": "a red hat", "seed": 5}])");
    test::writeBytes(m_dir / "remain.json", R"(["a blue shoe", "a green hat", "a blue bag"])");
    const std::filesystem::path run = m_dir / "concept-run";
    const Args args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"), "--remain",
        q(m_dir / "remain.json"), "--steps", "2", "--lr", "1e-3", "--forget-batch", "2", "--remain-batch", "2",
        "--gen-steps", "2", "--preview-prompts", "1", "--preview-seeds", "0-1", "--out", q(run) };
    const Result r = runCli(args);
    QVERIFY2(r.exitCode == 0, r.err.c_str());
    QVERIFY2(r.out.find("finished after 2 steps") == 0, r.out.c_str());
    const auto csv = lines(run / "steps.csv");
    QCOMPARE(csv.size(), std::size_t { 3 });
    LETHE_COMPARE_STR(csv[0],
        "step,forget_loss,remain_loss,ascent_norm,remain_norm,cosine,projected,truncated,lr,alpha,lambda,seconds");
    QVERIFY(csv[2].rfind("2,", 0) == 0);
    const auto manifest = nlohmann::json::parse(test::readBytes(run / "run.json"));
    LETHE_COMPARE_STR(manifest["method"].get<std::string>(), "rgd");
    QCOMPARE(manifest["config"]["steps"].get<int>(), 2);
    QCOMPARE(manifest["config"]["lr"].get<double>(), 1e-3);
    LETHE_COMPARE_STR(manifest["parent_model"].get<std::string>(), q(folder));
    LETHE_COMPARE_STR(manifest["outcome"].get<std::string>(), "finished");
    LETHE_COMPARE_STR(manifest["kind"].get<std::string>(), "concept");
    for (const char* key : kCommonManifestKeys)
        QVERIFY2(manifest.contains(key), key);
    QVERIFY(manifest["command"].get<std::string>().find("unlearn-concept --model") != std::string::npos);
    QCOMPARE(nlohmann::json::parse(test::readBytes(run / "model" / "lethe-manifest.json")), manifest);
    QCOMPARE(lines(run / "forget.json").size(), std::size_t { 4 }); // [, two prompts, ]
    QVERIFY(std::filesystem::exists(run / "before" / "00-forget-seed-0.png"));
    QVERIFY(std::filesystem::exists(run / "before" / "03-remain-seed-1.png"));
    QVERIFY(test::readBytes(run / "before" / "00-forget-seed-0.png")
        != test::readBytes(run / "after" / "00-forget-seed-0.png"));

    // Both exported layouts draw the "after" images again, byte for byte.
    const Args prompt { "--prompt", "a red shoe", "--seed", "0-1", "--steps", "2" };
    QCOMPARE(
        runCli(Args { "generate", "--model", q(run / "model"), "--out", q(m_dir / "concept-gen") } + prompt).exitCode,
        0);
    QVERIFY(test::readBytes(m_dir / "concept-gen" / "image-1-seed-1.png")
        == test::readBytes(run / "after" / "01-forget-seed-1.png"));
    QCOMPARE(runCli(Args { "generate", "--model", q(run / "model.safetensors"), "--components", q(folder), "--out",
                        q(m_dir / "concept-gen2") }
                 + prompt)
                 .exitCode,
        0);
    QVERIFY(test::readBytes(m_dir / "concept-gen2" / "image-0-seed-0.png")
        == test::readBytes(run / "after" / "00-forget-seed-0.png"));

    // From a diversity preset, its concept replaced: the forget prompts show it, the remain prompts never do, and
    // the "after" remain images use the held-out prompts.
    test::writeBytes(m_dir / "preset.json", R"({
      "dimensions": {"colour": {"train": ["red", "blue", "green"], "test": ["pink"]}, "object": {"train": ["shoe", "hat"]}},
      "remain_template": "a {colour} {object}", "concept": {"words": ["shoe"], "dimension": "object"},
      "counts": {"forget": 4, "remain_train": 4, "remain_test": 2}})");
    const std::filesystem::path presetRun = m_dir / "preset-run";
    const Result fromPreset = runCli({ "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "preset.json"),
        "--concept", "red", "--concept-dimension", "colour", "--method", "ga", "--steps", "1", "--gen-steps", "1",
        "--preview-prompts", "1", "--preview-seeds", "0", "--out", q(presetRun) });
    QVERIFY2(fromPreset.exitCode == 0, fromPreset.err.c_str());
    const auto forgetPrompts = concepts::loadPromptSet(presetRun / "forget.json");
    const auto remainPrompts = concepts::loadPromptSet(presetRun / "remain.json");
    QCOMPARE(forgetPrompts.size(), std::size_t { 4 });
    QCOMPARE(remainPrompts.size(), std::size_t { 4 });
    for (const auto& p : forgetPrompts)
        QVERIFY2(p.text.rfind("a red ", 0) == 0, p.text.c_str());
    for (const auto& p : remainPrompts)
        QVERIFY2(p.text.find("red") == std::string::npos, p.text.c_str());
    const auto presetManifest = nlohmann::json::parse(test::readBytes(presetRun / "run.json"));
    QCOMPARE(presetManifest["concept"]["words"], nlohmann::json::array({ "red" }));
    LETHE_COMPARE_STR(presetManifest["concept"]["dimension"].get<std::string>(), "colour");
    QVERIFY(presetManifest["previews"][1]["prompt"].get<std::string>().rfind("a pink ", 0) == 0);
    QCOMPARE(concepts::loadPromptSet(presetRun / "remain-test.json").size(), std::size_t { 2 });

    // A run is not overwritten; contradicting flags and bad values are named.
    const Result again = runCli(args);
    QCOMPARE(again.exitCode, 1);
    LETHE_COMPARE_STR(again.err,
        "error: " + q(run) + " already holds a concept run (run.json): choose another --out or pass --force\n");
    const Result esd = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--method", "esd-u", "--params", "all", "--out", q(m_dir / "esd-run") });
    QCOMPARE(esd.exitCode, 1);
    LETHE_COMPARE_STR(
        esd.err, "error: unlearn-concept: --method esd-u trains esd-u parameters; --params all contradicts it\n");
    const Result alpha = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--remain", q(m_dir / "remain.json"), "--alpha", "-1", "--out", q(m_dir / "alpha-run") });
    QCOMPARE(alpha.exitCode, 1);
    LETHE_COMPARE_STR(alpha.err, "error: concept unlearning: alpha must be greater than 0, found -1\n");
    const Result noRemain = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--steps", "1", "--gen-steps", "1", "--out", q(m_dir / "no-remain") });
    QCOMPARE(noRemain.exitCode, 1);
    LETHE_COMPARE_STR(noRemain.err, "error: concept unlearning: the remain set is empty (rgd needs remain pairs)\n");
    QVERIFY(!std::filesystem::exists(m_dir / "no-remain")); // Refused before drawing anything.
    test::writeBytes(m_dir / "empty.json", "[]");
    const Result empty = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "empty.json"),
        "--remain", q(m_dir / "remain.json"), "--out", q(m_dir / "empty-run") });
    QCOMPARE(empty.exitCode, 1);
    LETHE_COMPARE_STR(empty.err,
        "error: " + q(m_dir / "empty.json") + ": top level: the prompt set is empty: expected at least one prompt\n");
    const Result noForget = runCli(Args { "unlearn-concept", "--model", q(folder), "--remain", q(m_dir / "remain.json"),
        "--out", q(m_dir / "no-forget") });
    QCOMPARE(noForget.exitCode, 1);
    LETHE_COMPARE_STR(noForget.err,
        "error: unlearn-concept: give the forget prompts (--forget FILE, --forget-images DIR or --concept WORD) or "
        "--preset\n");
    const Result both = runCli(Args { "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "preset.json"),
        "--forget", q(m_dir / "forget.json"), "--out", q(m_dir / "both") });
    QCOMPARE(both.exitCode, 1);
    LETHE_COMPARE_STR(both.err, "error: unlearn-concept: give either --preset or --forget and --remain, not both\n");
    // A run whose loss stops being finite rolls back to its last snapshot (here the start), writes that model and
    // says so, as a class run does.
    const std::filesystem::path failed = m_dir / "failed-run";
    const Result blowUp = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--remain", q(m_dir / "remain.json"), "--method", "ga", "--lr", "1e30", "--alpha", "1e30", "--steps", "4",
        "--gen-steps", "1", "--out", q(failed) });
    QCOMPARE(blowUp.exitCode, 1);
    QVERIFY2(
        blowUp.err.find("\nerror: the run failed: non-finite loss (L_f ") != std::string::npos, blowUp.err.c_str());
    QVERIFY2(blowUp.err.find(
                 ") at step 2; weights restored to step 0; the model after step 0 was written to " + q(failed) + "\n")
            != std::string::npos,
        blowUp.err.c_str());
    const auto failedManifest = nlohmann::json::parse(test::readBytes(failed / "run.json"));
    LETHE_COMPARE_STR(failedManifest["outcome"].get<std::string>(), "failed");
    LETHE_COMPARE_STR(failedManifest["kind"].get<std::string>(), "concept");
    QCOMPARE(failedManifest["steps"].get<int>(), 0);
    QCOMPARE(failedManifest["rollbacks"].get<int>(), 1);
    QVERIFY(std::filesystem::exists(failed / "model.safetensors"));
    QCOMPARE(lines(failed / "steps.csv").size(), std::size_t { 2 });

    const Result method = runCli(Args { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "forget.json"),
        "--method", "salun-x", "--out", q(m_dir / "salun") });
    QVERIFY(method.exitCode != 0);
    QVERIFY2(
        method.err.find("--method: salun-x not in {rgd,graddiff,ga,esd,rg,salun,uce,esd-u,esd-x}") != std::string::npos,
        method.err.c_str());
}

void TestCliT2i::unlearnConceptPairsEachForgetPromptWithItsTwin()
{
    const std::filesystem::path folder = m_dir / "twins-sd";
    test::writeTinyDiffusersFolder(folder, false);
    test::writeBytes(m_dir / "twins-preset.json", R"({
      "dimensions": {"colour": {"train": ["red", "blue"], "test": ["pink"]}, "object": {"train": ["shoe", "hat", "bag"]}},
      "remain_template": "a {colour} {object}", "concept": {"words": ["shoe"], "dimension": "object"},
      "counts": {"forget": 3, "remain_train": 5, "remain_test": 1}})");
    const Args base { "unlearn-concept", "--model", q(folder), "--steps", "1", "--forget-batch", "2", "--gen-steps",
        "1", "--preview-prompts", "0" };
    const auto pairingOf = [](const std::filesystem::path& manifest) {
        return nlohmann::json::parse(test::readBytes(manifest))["config"]["remain_pairing"].get<std::string>();
    };

    // From a preset, by default: the remain set is the forget set's twins (the concept's value replaced, the seed
    // kept), in the forget set's order; run.json and the exported model's manifest say "twins".
    const Result twins = runCli(base + Args { "--preset", q(m_dir / "twins-preset.json"), "--out", q(m_dir / "tw") });
    QVERIFY2(twins.exitCode == 0, twins.err.c_str());
    QVERIFY2(twins.err.find("remain pairing: twins (each step's remain batch is its forget batch without the concept; "
                            "3 twin prompts)\n")
            != std::string::npos,
        twins.err.c_str());
    const auto forget = concepts::loadPromptSet(m_dir / "tw" / "forget.json");
    const auto remain = concepts::loadPromptSet(m_dir / "tw" / "remain.json");
    QCOMPARE(remain.size(), forget.size());
    for (std::size_t i = 0; i < forget.size(); ++i) {
        const std::string colour = forget[i].text.substr(0, forget[i].text.size() - std::string("shoe").size());
        QVERIFY2(remain[i].text == colour + "hat" || remain[i].text == colour + "bag", remain[i].text.c_str());
        QCOMPARE(remain[i].seed, forget[i].seed);
    }
    LETHE_COMPARE_STR(pairingOf(m_dir / "tw" / "run.json"), "twins");
    LETHE_COMPARE_STR(pairingOf(m_dir / "tw" / "model" / "lethe-manifest.json"), "twins");

    // --remain-pairing independent: the preset's D_r,train, drawn on its own.
    const std::filesystem::path independent = m_dir / "tw-independent";
    const Args independentFlags { "--preset", q(m_dir / "twins-preset.json"), "--remain-pairing", "independent" };
    const Result own = runCli(base + independentFlags + Args { "--out", q(independent) });
    QVERIFY2(own.exitCode == 0, own.err.c_str());
    QCOMPARE(concepts::loadPromptSet(independent / "remain.json").size(), std::size_t { 5 });
    LETHE_COMPARE_STR(pairingOf(independent / "run.json"), "independent");

    // Prompt files are not twins: asked for, twins is refused; from the run preset, it falls back and says so.
    const std::string remainFile = q(m_dir / "tw-remain.json");
    test::writeBytes(m_dir / "tw-forget.json", R"(["a red shoe", "a blue shoe"])");
    test::writeBytes(remainFile, R"(["a red hat", "a blue bag"])");
    const Args files { "--forget", q(m_dir / "tw-forget.json"), "--remain", remainFile };
    const Result refused = runCli(base + files + Args { "--remain-pairing", "twins", "--out", q(m_dir / "tw-no") });
    QCOMPARE(refused.exitCode, 1);
    LETHE_COMPARE_STR(refused.err,
        "error: unlearn-concept: --remain-pairing twins pairs each forget prompt with its twin (the same prompt "
        "without the concept), which unlearn-concept builds from --preset; here the remain prompts come from --remain "
            + remainFile + ", whose prompts are not the forget prompts' twins: use --preset, or --remain-pairing "
            + "independent\n");
    QVERIFY(!std::filesystem::exists(m_dir / "tw-no"));
    const Result fallback = runCli(base + files + Args { "--out", q(m_dir / "tw-fallback") });
    QVERIFY2(fallback.exitCode == 0, fallback.err.c_str());
    const std::string note = "remain pairing: independent (the remain prompts come from --remain " + remainFile
        + ", not the forget prompts' twins; twins need --preset)\n";
    QVERIFY2(fallback.err.find(note) != std::string::npos, fallback.err.c_str());
    LETHE_COMPARE_STR(pairingOf(m_dir / "tw-fallback" / "run.json"), "independent");

    const Result bad = runCli(base + files + Args { "--remain-pairing", "zipped", "--out", q(m_dir / "tw-bad") });
    QVERIFY(bad.exitCode != 0);
    QVERIFY2(bad.err.find("--remain-pairing: zipped not in {twins,independent}") != std::string::npos, bad.err.c_str());
}

void TestCliT2i::unlearnConceptStartsFromTheModelsRecommendedPreset()
{
    const std::filesystem::path folder = m_dir / "recommending-sd";
    test::writeTinyDiffusersFolder(folder, false);
    test::writeBytes(folder / "lethe-manifest.json", R"({"recommended_preset": "fmnist-t2i"})");
    test::writeBytes(m_dir / "rp-forget.json", R"(["a red shoe"])");
    test::writeBytes(m_dir / "rp-remain.json", R"(["a blue shoe"])");
    const Args base { "unlearn-concept", "--model", q(folder), "--forget", q(m_dir / "rp-forget.json"), "--remain",
        q(m_dir / "rp-remain.json"), "--steps", "1", "--forget-batch", "1", "--remain-batch", "1", "--gen-steps", "1",
        "--preview-prompts", "0" };
    const auto configOf = [](const std::filesystem::path& run) {
        return nlohmann::json::parse(test::readBytes(run / "run.json"))["config"];
    };

    // The preset the model names underneath, the flags given on top.
    const Result recommended = runCli(base + Args { "--lambda", "3", "--out", q(m_dir / "rp-recommended") });
    QVERIFY2(recommended.exitCode == 0, recommended.err.c_str());
    QVERIFY2(recommended.err.find("hyperparameters: fmnist-t2i preset (the model's recommendation) and the flags "
                                  "given: α 0.1, λ 3, lr 1e-05, steps 1, batches 1 + 1\n")
            != std::string::npos,
        recommended.err.c_str());
    const auto config = configOf(m_dir / "rp-recommended");
    QCOMPARE(config["alpha"].get<double>(), 0.1);
    QCOMPARE(config["lambda"].get<double>(), 3.0);
    QCOMPARE(config["steps"].get<int>(), 1);

    // --run-preset names another one.
    const Result sd = runCli(base + Args { "--run-preset", "sd", "--out", q(m_dir / "rp-sd") });
    QVERIFY2(sd.exitCode == 0, sd.err.c_str());
    QVERIFY2(sd.err.find("hyperparameters: sd preset and the flags given: α 1.1, λ 1.6,") != std::string::npos,
        sd.err.c_str());
    QCOMPARE(configOf(m_dir / "rp-sd")["alpha"].get<double>(), 1.1);
    const Result unknown = runCli(base + Args { "--run-preset", "sdxl", "--out", q(m_dir / "rp-unknown") });
    QVERIFY(unknown.exitCode != 0);
    QVERIFY2(unknown.err.find("--run-preset: sdxl not in {sd,fmnist-t2i,esd-paper}") != std::string::npos,
        unknown.err.c_str());

    // esd-paper: ESD as its authors run it, with the concept word as the only forget prompt (here 2 sampler steps
    // and 1 step instead of 50 and 1,000); its method is the preset's, named as --method names it.
    const Args esdPaper { "unlearn-concept", "--model", q(folder), "--run-preset", "esd-paper", "--concept", "shoe",
        "--steps", "1", "--esd-sampling-steps", "2", "--preview-prompts", "0" };
    const Result esd = runCli(esdPaper + Args { "--out", q(m_dir / "rp-esd") });
    QVERIFY2(esd.exitCode == 0, esd.err.c_str());
    const auto esdRun = nlohmann::json::parse(test::readBytes(m_dir / "rp-esd" / "run.json"));
    const auto& esdConfig = esdRun["config"];
    LETHE_COMPARE_STR(esdRun["method"].get<std::string>(), "esd-u");
    LETHE_COMPARE_STR(esdConfig["method"].get<std::string>(), "esd");
    LETHE_COMPARE_STR(esdConfig["parameters"].get<std::string>(), "esd-u");
    LETHE_COMPARE_STR(esdConfig["esd_timestep"].get<std::string>(), "bucket");
    LETHE_COMPARE_STR(esdConfig["latents"].get<std::string>(), "sample");
    LETHE_COMPARE_STR(esdConfig["concept"].get<std::string>(), "shoe");
    QCOMPARE(esdConfig["forget_batch"].get<int>(), 1);
    QCOMPARE(esdConfig["esd_sampling_steps"].get<int>(), 2);
    QCOMPARE(esdConfig["esd_guidance"].get<double>(), 3.0);
    QCOMPARE(esdConfig["eta"].get<double>(), 1.0);
    QCOMPARE(esdConfig["lr"].get<double>(), 1e-5);
    QCOMPARE(esdRun["forget_pairs"].get<int>(), 1);
    QCOMPARE(esdRun["remain_pairs"].get<int>(), 0);
    const auto esdForget = concepts::loadPromptSet(m_dir / "rp-esd" / "forget.json");
    QCOMPARE(esdForget.size(), std::size_t { 1 });
    LETHE_COMPARE_STR(esdForget[0].text, "shoe");
    // The new settings' flags.
    const Result flagged
        = runCli(esdPaper + Args { "--latents", "mean", "--esd-timestep", "reached", "--out", q(m_dir / "rp-flags") });
    QVERIFY2(flagged.exitCode == 0, flagged.err.c_str());
    LETHE_COMPARE_STR(configOf(m_dir / "rp-flags")["latents"].get<std::string>(), "mean");
    LETHE_COMPARE_STR(configOf(m_dir / "rp-flags")["esd_timestep"].get<std::string>(), "reached");
    const Result badLatents
        = runCli(esdPaper + Args { "--latents", "posterior", "--out", q(m_dir / "rp-bad-latents") });
    QVERIFY(badLatents.exitCode != 0);
    QVERIFY2(
        badLatents.err.find("--latents") != std::string::npos && badLatents.err.find("posterior") != std::string::npos,
        badLatents.err.c_str());

    // A model naming a preset Lethe does not have is refused before anything is drawn, its manifest named.
    test::writeBytes(folder / "lethe-manifest.json", R"({"recommended_preset": "sdxl"})");
    const Result bad = runCli(base + Args { "--out", q(m_dir / "rp-bad") });
    QCOMPARE(bad.exitCode, 1);
    LETHE_COMPARE_STR(bad.err,
        "error: " + q(folder / "lethe-manifest.json")
            + ": key 'recommended_preset': unknown concept preset 'sdxl' (valid: sd, fmnist-t2i, esd-paper)\n");
    QVERIFY(!std::filesystem::exists(m_dir / "rp-bad"));
}

void TestCliT2i::rgSalunAndUceOnSeveralConcepts()
{
    const std::filesystem::path folder = m_dir / "methods-sd";
    test::writeTinyDiffusersFolder(folder, false);
    test::writeBytes(m_dir / "methods-preset.json", R"({
      "dimensions": {"colour": {"train": ["red", "blue", "green"], "test": ["pink"]},
                     "object": {"train": ["shoe", "hat", "bag", "cap"]}},
      "remain_template": "a {colour} {object}", "concept": {"words": ["shoe"], "dimension": "object"},
      "counts": {"forget": 4, "remain_train": 4, "remain_test": 2}})");
    const Args base { "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "methods-preset.json"),
        "--concept", "shoe,hat", "--steps", "2", "--forget-batch", "2", "--remain-batch", "2", "--gen-steps", "1",
        "--preview-prompts", "1", "--preview-seeds", "0", "--images", q(m_dir / "methods-images") };

    // UCE: one step whatever --steps says; both concepts erased, the preset's other objects preserved.
    const Result uce
        = runCli(base + Args { "--method", "uce", "--uce-regularisation", "0.2", "--out", q(m_dir / "uce") });
    QVERIFY2(uce.exitCode == 0, uce.err.c_str());
    QVERIFY2(uce.out.find("finished after 1 steps") == 0, uce.out.c_str());
    QVERIFY2(uce.err.find("uce: erasing shoe, hat towards \"\", preserving bag, cap (scale 0.5), regularisation 0.2\n")
            != std::string::npos,
        uce.err.c_str());
    const auto uceManifest = nlohmann::json::parse(test::readBytes(m_dir / "uce" / "run.json"));
    LETHE_COMPARE_STR(uceManifest["config"]["method"].get<std::string>(), "uce");
    LETHE_COMPARE_STR(uceManifest["config"]["concept"].get<std::string>(), "shoe, hat");
    QCOMPARE(uceManifest["config"]["steps"].get<int>(), 1);
    QCOMPARE(uceManifest["config"]["uce_preserve"], nlohmann::json::array({ "bag", "cap" }));
    QCOMPARE(uceManifest["concept"]["words"], nlohmann::json::array({ "shoe", "hat" }));
    for (const auto& p : concepts::loadPromptSet(m_dir / "uce" / "forget.json"))
        QVERIFY2(p.text.find("shoe") != std::string::npos || p.text.find("hat") != std::string::npos, p.text.c_str());
    for (const auto& p : concepts::loadPromptSet(m_dir / "uce" / "remain.json"))
        QVERIFY2(p.text.find("shoe") == std::string::npos && p.text.find("hat") == std::string::npos, p.text.c_str());
    // An explicit preserve list wins.
    const Result preserved
        = runCli(base + Args { "--method", "uce", "--uce-preserve", "cap", "--out", q(m_dir / "uce2") });
    QVERIFY2(preserved.exitCode == 0, preserved.err.c_str());
    QVERIFY2(preserved.err.find("preserving cap (scale 1)") != std::string::npos, preserved.err.c_str());

    // RG: the plain remain set, every dimension but the concept's at its first value.
    const Result rg = runCli(base + Args { "--method", "rg", "--out", q(m_dir / "rg") });
    QVERIFY2(rg.exitCode == 0, rg.err.c_str());
    QVERIFY2(rg.err.find("rg: a plain remain set of 4 prompts (2 distinct") != std::string::npos, rg.err.c_str());
    for (const auto& p : concepts::loadPromptSet(m_dir / "rg" / "remain.json"))
        QVERIFY2(p.text == "a red bag" || p.text == "a red cap", p.text.c_str());
    LETHE_COMPARE_STR(
        nlohmann::json::parse(test::readBytes(m_dir / "rg" / "run.json"))["concept"]["remain"].get<std::string>(),
        "plain");

    const Result rgTwins
        = runCli(base + Args { "--method", "rg", "--remain-pairing", "twins", "--out", q(m_dir / "rg2") });
    QCOMPARE(rgTwins.exitCode, 1);
    LETHE_COMPARE_STR(rgTwins.err,
        "error: unlearn-concept: rg trains on a plain remain set, whose prompts are not the forget prompts' twins: "
        "use --remain-pairing independent\n");

    // SalUn with its fraction.
    const Result salun
        = runCli(base + Args { "--method", "salun", "--saliency-fraction", "0.2", "--out", q(m_dir / "salun-run") });
    QVERIFY2(salun.exitCode == 0, salun.err.c_str());
    QVERIFY2(salun.out.find("finished after 2 steps") == 0, salun.out.c_str());
    const auto salunManifest = nlohmann::json::parse(test::readBytes(m_dir / "salun-run" / "run.json"));
    QCOMPARE(salunManifest["config"]["saliency_fraction"].get<double>(), 0.2);

    // UCE needs the concept's words; prompt files name none.
    test::writeBytes(m_dir / "methods-forget.json", R"(["a red shoe"])");
    const Result noWords = runCli({ "unlearn-concept", "--model", q(folder), "--forget",
        q(m_dir / "methods-forget.json"), "--method", "uce", "--out", q(m_dir / "uce3") });
    QCOMPARE(noWords.exitCode, 1);
    LETHE_COMPARE_STR(noWords.err,
        "error: unlearn-concept: UCE edits the embeddings of the concept's words: give --concept WORD[,WORD] or "
        "--preset (prompt files name no concept)\n");
    const Result badFraction
        = runCli(base + Args { "--method", "salun", "--saliency-fraction", "1.5", "--out", q(m_dir / "salun-bad") });
    QCOMPARE(badFraction.exitCode, 1);
    LETHE_COMPARE_STR(badFraction.err, "error: concept unlearning: saliency_fraction must be in (0, 1], found 1.5\n");
}

void TestCliT2i::attackAConceptRun()
{
    const std::filesystem::path folder = m_dir / "attack-sd";
    test::writeTinyDiffusersFolder(folder, false); // 8×8 images, the tiny CLIP's size.
    const std::filesystem::path clip = m_dir / "attack-clip";
    test::writeTinyClipFolder(clip);
    test::writeBytes(m_dir / "attack-preset.json", R"({
      "dimensions": {"colour": {"train": ["red", "blue", "green"], "test": ["pink"]}, "object": {"train": ["shoe", "hat"]}},
      "remain_template": "a {colour} {object}", "concept": {"words": ["red"], "dimension": "colour"},
      "counts": {"forget": 3, "remain_train": 4, "remain_test": 2}})");
    const std::filesystem::path run = m_dir / "attack-run";
    const Result made = runCli({ "unlearn-concept", "--model", q(folder), "--preset", q(m_dir / "attack-preset.json"),
        "--method", "ga", "--steps", "2", "--lr", "1e-2", "--gen-steps", "1", "--preview-prompts", "1",
        "--preview-seeds", "0", "--out", q(run) });
    QVERIFY2(made.exitCode == 0, made.err.c_str());

    const Args attack { "attack", "--run", q(run), "--clip", q(clip), "--clip-names", "blue,green", "--prompts", "2",
        "--seeds", "0-1", "--steps", "1", "--attack-steps", "2", "--attack-tokens", "2" };
    const Result hard = runCli(attack);
    QVERIFY2(hard.exitCode == 0, hard.err.c_str());
    QVERIFY2(
        hard.out.find("judge       zero-shot CLIP reads \"a photo of a red\"") != std::string::npos, hard.out.c_str());
    const auto report = nlohmann::json::parse(test::readBytes(run / "attack-unlearndiffatk" / "attack.json"));
    LETHE_COMPARE_STR(report.at("kind").get<std::string>(), "unlearndiffatk");
    QCOMPARE(report.at("per_prompt").size(), std::size_t { 2 });
    for (const auto& p : report.at("per_prompt")) {
        QCOMPARE(p.at("token_ids").size(), std::size_t { 2 });
        QCOMPARE(p.at("before").size(), std::size_t { 2 });
        QCOMPARE(p.at("losses").size(), std::size_t { 2 });
        QVERIFY(p.at("prompt").get<std::string>().find("red") != std::string::npos);
    }
    QVERIFY(std::filesystem::exists(run / "attack-unlearndiffatk" / "images.png"));
    QVERIFY(std::filesystem::exists(run / "attack-unlearndiffatk" / "after-1.png"));
    const auto manifest = nlohmann::json::parse(test::readBytes(run / "run.json"));
    QCOMPARE(manifest.at("attacks").at("unlearndiffatk").at("pre_asr"), report.at("pre_asr"));

    // The soft prompt on the prompts without the concept word; the targets come from the full prompts.
    const Result soft = runCli(attack
        + Args {
            "--attack", "soft", "--strip-concept", "--out", q(m_dir / "soft-out"), "--json", q(m_dir / "soft.json") });
    QVERIFY2(soft.exitCode == 0, soft.err.c_str());
    const auto softReport = nlohmann::json::parse(test::readBytes(m_dir / "soft.json"));
    LETHE_COMPARE_STR(softReport.at("kind").get<std::string>(), "soft-prompt");
    QVERIFY(softReport.at("strip_concept").get<bool>());
    const auto& first = softReport.at("per_prompt")[0];
    QVERIFY2(first.at("prompt").get<std::string>().find("red") == std::string::npos, first.dump().c_str());
    QVERIFY2(first.at("target_prompt").get<std::string>().find("red") != std::string::npos, first.dump().c_str());
    QVERIFY(nlohmann::json::parse(test::readBytes(run / "run.json")).at("attacks").contains("soft-prompt"));

    // Bad input: a judge without labels, a class attack on a concept run, nothing to attack.
    const Result noNames = runCli({ "attack", "--run", q(run), "--clip", q(clip), "--force" });
    QCOMPARE(noNames.exitCode, 1);
    LETHE_COMPARE_STR(noNames.err,
        "error: attack: zero-shot CLIP judges the concept against other labels: give them with --clip-names (e.g. "
        "--clip-names \"bag,dress,coat\")\n");
    const Result wrongKind = runCli({ "attack", "--run", q(run), "--attack", "class" });
    QCOMPARE(wrongKind.exitCode, 1);
    LETHE_COMPARE_STR(wrongKind.err,
        "error: attack: --attack class attacks class runs; " + run.string()
            + " is a concept run (unlearndiffatk or soft)\n");
    const Result nothing = runCli({ "attack", "--model", q(folder), "--concept", "red", "--out", q(m_dir / "x") });
    QCOMPARE(nothing.exitCode, 1);
    LETHE_COMPARE_STR(
        nothing.err, "error: attack: no prompts to attack: give --prompt-file FILE (or --run DIR of a concept run)\n");

    const Result bench = runCli({ "bench", "attack", "--model", q(folder), "--attack-tokens", "2", "--attack-steps",
        "2", "--runs", "2", "--warmup", "0" });
    QVERIFY2(bench.exitCode == 0, bench.err.c_str());
    QVERIFY2(bench.out.find("attack: median ") != std::string::npos
            && bench.out.find(" s/step (min ") != std::string::npos
            && bench.out.find("2 runs), peak RSS ") != std::string::npos,
        bench.out.c_str());
}

QTEST_GUILESS_MAIN(TestCliT2i)
#include "test_cli_t2i.moc"
