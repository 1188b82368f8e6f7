// The Concept tab driving real (tiny) text-to-image runs, offscreen: prompts typed, loaded and built from a preset,
// training images drawn and then read from the cache, a run with a live α change, pause, resume and stop,
// before/after grids, the CLIP alignment of the prompt sets (a tiny random CLIP), and an export in both layouts
// that loads again; and the messages for bad input (a CLIP folder that does not load among them). With
// LETHE_CONCEPT_SCREENSHOT_DIR and LETHE_CONCEPT_MODEL set, a last test runs a real model and saves screenshots.
#include "class_tab.h"
#include "concept_tab.h"
#include "main_window.h"
#include "qt_conversions.h"
#include "robustness_panel.h"

#include "core/error.h"
#include "core/io/config_json.h"
#include "core/io/safetensors.h"
#include "core/models/sd/stable_diffusion.h"
#include "core/runtime.h"
#include "core/unlearn/concept_config.h"
#include "core/unlearn/concept_images.h"
#include "core/unlearn/run_config.h"
#include "widgets/curve_plot.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/log_view.h"
#include "widgets/path_edit.h"
#include "widgets/sample_grid.h"

#include "test_support.h"
#include "tiny_clip.h"
#include "tiny_edm.h"
#include "tiny_sd.h"
#include "tiny_sd2.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QAbstractItemView>
#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabBar>
#include <QTabWidget>
#include <QTableWidget>
#include <QtTest>

#include <fstream>

using namespace lethe;
using Set = gui::ConceptTab::PromptSet;

namespace {

QString qs(const std::filesystem::path& path)
{
    return QString::fromStdString(path.string());
}

/// Closes the message boxes a tab opened and returns their texts.
QStringList takeMessages(QWidget* parent)
{
    QStringList texts;
    for (QMessageBox* box : parent->findChildren<QMessageBox*>()) {
        if (!box->isVisible())
            continue;
        texts << box->text();
        box->close();
    }
    QCoreApplication::processEvents();
    return texts;
}

/// A preset in the tiny model's alphabet (single lower-case letters make its vocabulary).
constexpr const char* kTinyPreset = R"({
  "version": 1,
  "name": "tiny-colours",
  "dimensions": {
    "colour": {"train": ["red", "green", "blue"], "test": ["pink"]},
    "object": {"train": ["shoe", "bag", "coat"]}
  },
  "remain_template": "a {colour} {object}",
  "concept": {"words": ["shoe"], "dimension": "object"},
  "counts": {"forget": 3, "remain_train": 5, "remain_test": 2},
  "seed": 0
})";

/// Shows `window` at the screenshots' size with the built-in text-to-image model open in its Concept tab and
/// "sneaker" prompt sets of fashion-colours.json built with the counts given; false when a step fails.
bool openBuiltInSneaker(gui::MainWindow& window, int forget, int remainTrain, int remainTest)
{
    window.resize(1600, 1000);
    window.show();
    gui::ConceptTab& tab = *window.conceptTab();
    window.topTabs()->setCurrentWidget(&tab);
    QSignalSpy opened(&tab, &gui::ConceptTab::modelOpened);
    tab.openModel(QString());
    if (!opened.wait(120000) || !opened.at(0).at(0).toBool()
        || !tab.loadPreset(QString::fromStdString(resourceFile("presets/fashion-colours.json").string())))
        return false;
    tab.conceptWordsEdit()->setText(QStringLiteral("sneaker"));
    tab.forgetCountBox()->setValue(forget);
    tab.remainTrainCountBox()->setValue(remainTrain);
    tab.remainTestCountBox()->setValue(remainTest);
    return tab.buildPrompts();
}

} // namespace

class TestGuiConcept : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void windowHasClassAndConceptTabs();
    void builtInModelOpensWithItsRecommendedValues();
    void methodBoxOffersEveryConceptMethod();
    void panelSettingsBecomeCoreConfigs();
    void memoryEstimateFollowsTheSettingsAndRefusesWhatDoesNotFit();
    void badModelPathIsReported();
    void tabNamesTheModelFamily();
    void corruptPromptFileKeepsTheTable();
    void emptyForgetSetIsRefused();
    void wholeRunFromTypedAndBuiltPrompts();
    void closingDuringAConceptRunStopsIt();
    void cancelledDrawingResumesFromTheCache();
    void robustnessPanelAttacksTheFinishedRun();
    void uceEditsSeveralConceptsInOneStep();
    void screenshotsOfARealModel();
    void screenshotsOfTheRobustnessPanel();
    void screenshotOfAUceRun();
    void screenshotOfTheMemoryEstimate();

private:
    /// Opens the tiny model in `tab` and waits for it.
    bool openTiny(gui::ConceptTab& tab);

    test::ScratchDir m_dir;
    QString m_classModel;
    QString m_classData;
    QString m_sd;
};

void TestGuiConcept::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LetheTest"));
    QSettings().clear();
    torch::set_num_threads(1);
    test::writeCifarFolder(m_dir / "cifar", 20);
    test::writeTinyCifarModel(m_dir / "base.safetensors");
    m_classModel = qs(m_dir / "base.safetensors");
    m_classData = qs(m_dir / "cifar");
    test::writeTinyDiffusersFolder(m_dir / "sd", false);
    m_sd = qs(m_dir / "sd");
    std::ofstream(m_dir / "tiny-preset.json") << kTinyPreset;
}

bool TestGuiConcept::openTiny(gui::ConceptTab& tab)
{
    QSignalSpy opened(&tab, &gui::ConceptTab::modelOpened);
    tab.openModel(m_sd);
    return opened.wait(60000) && opened.at(0).at(0).toBool() && tab.isModelOpen();
}

void TestGuiConcept::windowHasClassAndConceptTabs()
{
    gui::MainWindow window(m_classModel, m_classData);
    window.show();
    QTabWidget* tabs = window.topTabs();
    QCOMPARE(tabs->count(), 3);
    QCOMPARE(tabs->tabText(0), QStringLiteral("C&lass"));
    QCOMPARE(tabs->tabText(1), QStringLiteral("Co&ncept"));
    QCOMPARE(tabs->tabText(2), QStringLiteral("Lo&g"));
    QCOMPARE(tabs->widget(0), window.classTab());
    QCOMPARE(tabs->widget(2), window.logView());
    QCOMPARE(tabs->currentIndex(), 0); // The Class tab as before.
    QTRY_VERIFY_WITH_TIMEOUT(window.classTab()->isModelOpen(), 60000);
    QSignalSpy opened(window.conceptTab(), &gui::ConceptTab::modelOpened);
    QTest::mouseClick(tabs->tabBar(), Qt::LeftButton, {}, tabs->tabBar()->tabRect(1).center());
    QCOMPARE(tabs->currentWidget(), window.conceptTab());
    // Nothing open yet: Start is off, in the tab and in the Run menu, until the model the tab opens when first
    // shown (nothing remembered: the built-in one) is open.
    QVERIFY(!window.conceptTab()->isModelOpen());
    QVERIFY(!window.conceptTab()->startButton()->isEnabled());
    QAction* start = nullptr;
    for (QAction* action : window.findChildren<QAction*>())
        if (action->text() == QStringLiteral("&Start"))
            start = action;
    QVERIFY(start);
    QVERIFY(!start->isEnabled());
    QVERIFY(opened.wait(120000));
    QVERIFY(opened.at(0).at(0).toBool());
    QVERIFY(start->isEnabled());
    // On the Log tab the shortcuts have nothing to act on.
    tabs->setCurrentIndex(2);
    QVERIFY(!start->isEnabled());
    // Back on the Class tab, whose model is open, the same action starts a class run.
    QTest::mouseClick(tabs->tabBar(), Qt::LeftButton, {}, tabs->tabBar()->tabRect(0).center());
    QVERIFY(start->isEnabled());
}

void TestGuiConcept::builtInModelOpensWithItsRecommendedValues()
{
    QSettings().clear();
    gui::MainWindow window(m_classModel, m_classData);
    window.show();
    gui::ConceptTab& tab = *window.conceptTab();
    QSignalSpy opened(&tab, &gui::ConceptTab::modelOpened);
    window.topTabs()->setCurrentWidget(&tab);
    QVERIFY(opened.wait(120000));
    QVERIFY(opened.at(0).at(0).toBool());
    QCOMPARE(QFileInfo(tab.modelPath()).fileName(), QStringLiteral("fmnist-t2i"));
    // The built-in model names its own preset (fmnist-t2i: α 0.1 and λ 10 on its loss scale, 150 steps).
    const auto recommended = unlearn::conceptPreset("fmnist-t2i");
    QCOMPARE(tab.panel()->presetBox()->currentText(), QStringLiteral("fmnist-t2i"));
    QCOMPARE(tab.alphaBox()->value(), 0.1);
    QCOMPARE(tab.lambdaBox()->value(), 10.0);
    QCOMPARE(tab.stepsBox()->value(), 150);
    QCOMPARE(tab.alphaBox()->value(), recommended.alpha);
    QCOMPARE(tab.lrBox()->value(), recommended.lr);
    QCOMPARE(tab.forgetBatchBox()->value(), static_cast<int>(recommended.forgetBatch));
    QCOMPARE(tab.methodBox()->currentData().toString(), QStringLiteral("rgd"));
    QCOMPARE(tab.parameterBox()->currentData().toString(), QStringLiteral("all"));
    // The concept fields show (η only for ESD); remain images per class, a class run's, do not.
    QVERIFY(!tab.panel()->isFieldShown(tab.panel()->etaBox()));
    QVERIFY(tab.panel()->isFieldShown(tab.parameterBox()));
    QVERIFY(!tab.panel()->isFieldShown(tab.panel()->remainPerClassBox()));
    // Its manifest also says how to draw its images and which diversity preset its prompt sets come from: the tab
    // opens with them, the prompt sets built and the preset's concept chosen, so that Start alone runs.
    const auto manifest = nlohmann::json::parse(
        test::readBytes(resourceFile(std::string("models/") + kBuiltinT2iModel) / "lethe-manifest.json"));
    QCOMPARE(tab.samplerStepsBox()->value(), manifest.at("recommended_drawing").at("sampler_steps").get<int>());
    QCOMPARE(tab.guidanceBox()->value(), manifest.at("recommended_drawing").at("guidance").get<double>());
    QCOMPARE(tab.samplerStepsBox()->value(), 30);
    QCOMPARE(tab.guidanceBox()->value(), 3.0);
    LETHE_COMPARE_STR(manifest.at("recommended_prompt_preset").get<std::string>(), "fashion-colours");
    QCOMPARE(tab.conceptWordsEdit()->text(), QStringLiteral("sneaker"));
    QCOMPARE(tab.prompts(Set::Forget).size(), qsizetype { 100 });
    QCOMPARE(tab.prompts(Set::RemainTrain).size(), qsizetype { 100 });
    QCOMPARE(tab.prompts(Set::RemainTest).size(), qsizetype { 36 });
    for (const gui::ConceptPrompt& p : tab.prompts(Set::Forget))
        QVERIFY2(p.text.contains(QStringLiteral("sneaker")), qPrintable(p.text));
    QCOMPARE(tab.lastStatus(),
        QStringLiteral("Opened %1 (preset fmnist-t2i) with the prompt sets of fashion-colours.json, forgetting "
                       "\"sneaker\": press Start")
            .arg(tab.modelPath()));
    QVERIFY(tab.canStart());

    // A model that names no preset opens with the `sd` one (the paper's Stable Diffusion values) and core's way of
    // drawing; the prompt sets stay as they are.
    QVERIFY(openTiny(tab));
    const auto sd = unlearn::conceptPreset("sd");
    QCOMPARE(tab.panel()->presetBox()->currentText(), QStringLiteral("sd"));
    QCOMPARE(tab.alphaBox()->value(), sd.alpha);
    QCOMPARE(tab.lambdaBox()->value(), sd.lambda);
    QCOMPARE(tab.stepsBox()->value(), static_cast<int>(sd.steps));
    QCOMPARE(tab.lrBox()->value(), sd.lr);
    const unlearn::ConceptImageOptions drawing;
    QCOMPARE(tab.samplerStepsBox()->value(), static_cast<int>(drawing.samplerSteps));
    QCOMPARE(tab.guidanceBox()->value(), drawing.guidance);
    QCOMPARE(tab.prompts(Set::Forget).size(), qsizetype { 100 });
    QVERIFY2(tab.lastStatus().contains(QStringLiteral("fill the prompt sets")), qPrintable(tab.lastStatus()));
}

void TestGuiConcept::methodBoxOffersEveryConceptMethod()
{
    gui::ConceptTab tab; // Not shown: nothing opens.
    QStringList keys;
    for (int i = 0; i < tab.methodBox()->count(); ++i)
        keys << tab.methodBox()->itemData(i).toString();
    const QStringList expected { QStringLiteral("rgd"), QStringLiteral("graddiff"), QStringLiteral("ga"),
        QStringLiteral("esd"), QStringLiteral("rg"), QStringLiteral("salun"), QStringLiteral("uce") };
    QCOMPARE(keys, expected);
    // Each is a method core knows.
    for (const QString& key : keys)
        QVERIFY2(unlearn::conceptMethodFromName(key.toStdString()), qPrintable(key));
    const auto label = [&](const char* key) {
        return tab.methodBox()->itemText(tab.methodBox()->findData(QString::fromLatin1(key)));
    };
    QCOMPARE(label("rg"), QStringLiteral("RG (restricted gradient, plain remain set)"));
    QCOMPARE(label("salun"), QStringLiteral("SalUn (saliency-masked relabelling)"));
    QCOMPARE(label("uce"), QStringLiteral("UCE (closed-form cross-attention edit)"));

    // UCE shows its own settings (the preset's values) in place of the training loop's.
    widgets::HyperparameterPanel* panel = tab.panel();
    tab.methodBox()->setCurrentIndex(tab.methodBox()->findData(QStringLiteral("uce")));
    QVERIFY(panel->isFieldShown(panel->uceGuideEdit()) && panel->isFieldShown(panel->ucePreserveEdit()));
    QVERIFY(!panel->isFieldShown(tab.alphaBox()) && !panel->isFieldShown(tab.stepsBox()));
    QVERIFY(!panel->isFieldShown(tab.parameterBox()) && !panel->isFieldShown(panel->etaBox()));
    const auto sd = unlearn::conceptPreset("sd");
    QCOMPARE(panel->uceRegularisationBox()->value(), sd.uceRegularisation);
    QCOMPARE(panel->uceEraseScaleBox()->value(), sd.uceEraseScale);
    QCOMPARE(panel->ucePreserveScaleBox()->text(), QStringLiteral("auto"));
    tab.methodBox()->setCurrentIndex(tab.methodBox()->findData(QStringLiteral("salun")));
    QVERIFY(panel->isFieldShown(panel->saliencyFractionBox()));
    QCOMPARE(panel->saliencyFractionBox()->value(), sd.saliencyFraction);
    QVERIFY(!panel->isFieldShown(panel->uceGuideEdit()));
}

void TestGuiConcept::panelSettingsBecomeCoreConfigs()
{
    // Concept runs: SalUn's fraction and UCE's settings both ways; the preserved concepts as text joined with ", "
    // and back as a list, trimmed, empty parts dropped.
    unlearn::ConceptConfig config = unlearn::conceptPreset("fmnist-t2i");
    config.method = unlearn::ConceptMethod::UCE;
    config.saliencyFraction = 0.25;
    config.uceGuide = "a photo of a shoe";
    config.ucePreserve = { "bag", "ankle boot" };
    config.uceRegularisation = 0.3;
    config.uceEraseScale = 2.0;
    config.ucePreserveScale = 0.5;
    widgets::RunSettings s = gui::settingsOf(config);
    QCOMPARE(s.method, QStringLiteral("uce"));
    QCOMPARE(s.saliencyFraction, 0.25);
    QCOMPARE(s.uceGuide, QStringLiteral("a photo of a shoe"));
    QCOMPARE(s.ucePreserve, QStringLiteral("bag, ankle boot"));
    QCOMPARE(s.uceRegularisation, 0.3);
    QCOMPARE(s.uceEraseScale, 2.0);
    QCOMPARE(s.ucePreserveScale, 0.5);
    const unlearn::ConceptConfig back = gui::conceptConfigOf(s, unlearn::conceptPreset("fmnist-t2i"));
    QCOMPARE(io::configToJson(back).dump(), io::configToJson(config).dump());
    s.ucePreserve = QStringLiteral(" bag ,, ankle boot ,  ");
    s.uceGuide = QStringLiteral("  ");
    const unlearn::ConceptConfig typed = gui::conceptConfigOf(s, QStringLiteral("sd"));
    QCOMPARE(typed.ucePreserve, (std::vector<std::string> { "bag", "ankle boot" }));
    QVERIFY(typed.uceGuide.empty());
    s.ucePreserve.clear();
    QVERIFY(gui::conceptConfigOf(s, QStringLiteral("sd")).ucePreserve.empty());

    // The precision and the memory settings, both ways; an empty precision (a panel offering none) keeps the base's,
    // an unknown one is refused.
    unlearn::ConceptConfig memory = unlearn::conceptPreset("sd");
    memory.precision = unlearn::Precision::BFloat16;
    memory.gradientCheckpointing = true;
    memory.memoryEfficientAttention = true;
    widgets::RunSettings memorySettings = gui::settingsOf(memory);
    QCOMPARE(memorySettings.precision, QStringLiteral("bfloat16"));
    QVERIFY(memorySettings.gradientCheckpointing && memorySettings.memoryEfficientAttention);
    QCOMPARE(io::configToJson(gui::conceptConfigOf(memorySettings, unlearn::conceptPreset("sd"))).dump(),
        io::configToJson(memory).dump());
    memorySettings.precision = QStringLiteral("float16");
    memorySettings.memoryEfficientAttention = false;
    const unlearn::ConceptConfig half = gui::conceptConfigOf(memorySettings, memory);
    QCOMPARE(half.precision, unlearn::Precision::Float16);
    QVERIFY(half.gradientCheckpointing && !half.memoryEfficientAttention);
    memorySettings.precision.clear();
    QCOMPARE(gui::conceptConfigOf(memorySettings, memory).precision, unlearn::Precision::BFloat16);
    memorySettings.precision = QStringLiteral("float8");
    QVERIFY_THROWS_EXCEPTION(Error, gui::conceptConfigOf(memorySettings, memory));

    // Class runs: SalUn's fraction.
    unlearn::RunConfig run = unlearn::runPreset(unlearn::runPresetNames().front());
    run.method = unlearn::Method::SalUn;
    run.saliencyFraction = 0.2;
    widgets::RunSettings classSettings = gui::settingsOf(run);
    QCOMPARE(classSettings.saliencyFraction, 0.2);
    classSettings.saliencyFraction = 0.7;
    QCOMPARE(gui::runConfigOf(classSettings, run).saliencyFraction, 0.7);
    QCOMPARE(gui::runConfigOf(classSettings, run).method, unlearn::Method::SalUn);
    // And the precision.
    run.precision = unlearn::Precision::BFloat16;
    classSettings = gui::settingsOf(run);
    QCOMPARE(classSettings.precision, QStringLiteral("bfloat16"));
    QCOMPARE(gui::runConfigOf(classSettings, unlearn::runPreset(unlearn::runPresetNames().front())).precision,
        unlearn::Precision::BFloat16);
    classSettings.precision = QStringLiteral("float32");
    QCOMPARE(gui::runConfigOf(classSettings, run).precision, unlearn::Precision::Float32);
    // Every precision core knows is offered, in core's order, under its core name.
    QStringList offered;
    for (const auto& [key, label] : gui::RunWorker::precisions())
        offered << key;
    QCOMPARE(
        offered, (QStringList { QStringLiteral("float32"), QStringLiteral("bfloat16"), QStringLiteral("float16") }));
}

void TestGuiConcept::tabNamesTheModelFamily()
{
    // The family comes from the files alone: SD 2.x by its OpenCLIP text encoder, SDXL by its second one.
    test::writeTinySd2DiffusersFolder(m_dir / "family-sd2");
    test::writeTinyXlDiffusersFolder(m_dir / "family-sdxl");
    const std::pair<QString, QString> models[] = { { m_sd, QStringLiteral("(SD 1.x diffusers folder)") },
        { qs(m_dir / "family-sd2"), QStringLiteral("(SD 2.x diffusers folder)") },
        { qs(m_dir / "family-sdxl"), QStringLiteral("(SDXL diffusers folder)") } };
    gui::ConceptTab tab;
    for (const auto& [path, family] : models) {
        QSignalSpy opened(&tab, &gui::ConceptTab::modelOpened);
        tab.openModel(path);
        QVERIFY(opened.wait(60000));
        QVERIFY2(opened.at(0).at(0).toBool(), qPrintable(path));
        QVERIFY2(tab.modelLabel()->text().contains(family), qPrintable(tab.modelLabel()->text()));
    }
}

void TestGuiConcept::memoryEstimateFollowsTheSettingsAndRefusesWhatDoesNotFit()
{
    QSettings().clear();
    gui::ConceptTab tab;
    QSignalSpy opened(&tab, &gui::ConceptTab::modelOpened);
    tab.show(); // Nothing remembered: the built-in model opens.
    QVERIFY(opened.wait(120000) && opened.at(0).at(0).toBool());
    // The estimate of the recommended preset's run shows before anything starts: a step's peak and the first
    // step's, with core's parts in the tooltip.
    QLabel* label = tab.memoryLabel();
    QTRY_VERIFY_WITH_TIMEOUT(tab.memoryEstimate().peak > 0, 30000);
    const gui::ConceptMemoryEstimate first = tab.memoryEstimate();
    QVERIFY2(label->text().contains(QStringLiteral("MiB")) || label->text().contains(QStringLiteral("GiB")),
        qPrintable(label->text()));
    QVERIFY2(label->text().contains(QStringLiteral("in the first step")), qPrintable(label->text()));
    QVERIFY(first.firstStep > 0 && first.firstStep <= first.peak);
    QVERIFY2(first.details.contains(QStringLiteral("activations")), qPrintable(first.details));

    // It follows the settings: larger batches need more, gradient checkpointing less.
    tab.forgetBatchBox()->setValue(tab.forgetBatchBox()->value() * 4);
    tab.remainBatchBox()->setValue(tab.remainBatchBox()->value() * 4);
    QTRY_VERIFY_WITH_TIMEOUT(tab.memoryEstimate().peak > first.peak, 30000);
    const qint64 larger = tab.memoryEstimate().peak;
    tab.panel()->gradientCheckpointingBox()->setChecked(true);
    QTRY_VERIFY_WITH_TIMEOUT(tab.memoryEstimate().peak < larger, 30000);

    // With 1 MiB free nothing fits: the label says so, and Start refuses with core's message (what was asked and
    // what is free) and leaves every setting as it was; nothing is drawn.
    tab.setPrompts(Set::Forget, { { QStringLiteral("a red sneaker"), 0, QString() } });
    tab.setPrompts(Set::RemainTrain, { { QStringLiteral("a red bag"), 1, QString() } });
    tab.setPrompts(Set::RemainTest, {});
    tab.cacheEdit()->setText(qs(m_dir / "cache-memory"));
    tab.worker()->setAvailableMemory(qint64 { 1 } << 20);
    tab.panel()->memoryEfficientAttentionBox()->setChecked(true);
    QTRY_VERIFY_WITH_TIMEOUT(label->text().contains(QStringLiteral("more than the")), 30000);
    QVERIFY(!tab.memoryEstimate().refusal.isEmpty());
    const widgets::RunSettings settings = tab.panel()->settings();
    tab.startRun();
    QVERIFY(tab.isBusy()); // The worker checks.
    QTRY_VERIFY_WITH_TIMEOUT(!tab.isBusy(), 30000);
    QVERIFY(!tab.isRunning());
    QVERIFY2(tab.lastError().startsWith(QStringLiteral("The run does not start: this run needs about")),
        qPrintable(tab.lastError()));
    QVERIFY2(tab.lastError().contains(QStringLiteral("no memory setting makes it fit")), qPrintable(tab.lastError()));
    QCOMPARE(takeMessages(&tab), QStringList { tab.lastError() });
    QCOMPARE(tab.panel()->settings(), settings);
    QVERIFY(settings.gradientCheckpointing && settings.memoryEfficientAttention);
    QVERIFY(!std::filesystem::exists(m_dir / "cache-memory"));
    QVERIFY(tab.startButton()->isEnabled());

    // With room enough the same settings run.
    tab.worker()->setAvailableMemory(qint64 { 1 } << 50);
    tab.stepsBox()->setValue(1);
    tab.samplerStepsBox()->setValue(2);
    tab.previewSeedsEdit()->setText(QStringLiteral("0"));
    QTRY_VERIFY_WITH_TIMEOUT(!label->text().contains(QStringLiteral("more than the")), 30000);
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    tab.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(tab.isRunning(), 60000);
    QVERIFY(finished.wait(300000));
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));
    QVERIFY(takeMessages(&tab).isEmpty());
}

void TestGuiConcept::badModelPathIsReported()
{
    gui::ConceptTab tab;
    tab.show();
    const QString missing = qs(m_dir / "no-such-model");
    QSignalSpy opened(&tab, &gui::ConceptTab::modelOpened);
    tab.openModel(missing);
    QVERIFY(opened.wait(30000));
    QCOMPARE(opened.at(0).at(0).toBool(), false);
    QVERIFY(!tab.isModelOpen());
    QVERIFY2(tab.lastError().contains(missing), qPrintable(tab.lastError()));
    QCOMPARE(takeMessages(&tab), QStringList { tab.lastError() });
    QCOMPARE(tab.modelEdit()->text(), missing); // What the user typed stays to be corrected.
    QVERIFY(!tab.startButton()->isEnabled());
    QVERIFY(!tab.generateButton()->isEnabled());
    // Not remembered: only a model that opened is.
    QVERIFY(QSettings().value(QStringLiteral("concept/model")).toString() != missing);
}

void TestGuiConcept::corruptPromptFileKeepsTheTable()
{
    gui::ConceptTab tab;
    tab.show();
    tab.setPrompts(Set::Forget, { { QStringLiteral("a red shoe"), 7, QString() } });
    const auto bad = m_dir / "bad.json";
    std::ofstream(bad) << R"(["a green shoe", "  "])";
    QVERIFY(!tab.loadPromptFile(Set::Forget, qs(bad)));
    const QString expected = QStringLiteral("The prompts of %1 were not loaded; the table keeps what it had.\n\n"
                                            "%1: item 2: the prompt is empty")
                                 .arg(qs(bad));
    QCOMPARE(tab.lastError(), expected);
    QCOMPARE(takeMessages(&tab), QStringList { expected });
    QCOMPARE(tab.prompts(Set::Forget), (QList<gui::ConceptPrompt> { { QStringLiteral("a red shoe"), 7, QString() } }));

    // A CSV without a prompt column, and a preset with a misspelt key: refused the same way.
    const auto csv = m_dir / "bad.csv";
    std::ofstream(csv) << "text,seed\na red bag,1\n";
    QVERIFY(!tab.loadPromptFile(Set::RemainTrain, qs(csv)));
    QVERIFY2(tab.lastError().contains(qs(csv)), qPrintable(tab.lastError()));
    takeMessages(&tab);
    tab.remainTemplateEdit()->setText(QStringLiteral("typed {colour}"));
    const auto preset = m_dir / "bad-preset.json";
    std::ofstream(preset) << R"({"dimensions": {}, "remain_template": "x", "concept": {"words": ["a"]}, "colour": 1})";
    QVERIFY(!tab.loadPreset(qs(preset)));
    QVERIFY2(tab.lastError().startsWith(
                 QStringLiteral("The preset %1 was not loaded; the builder keeps what it had.\n\n%1").arg(qs(preset))),
        qPrintable(tab.lastError()));
    QCOMPARE(tab.remainTemplateEdit()->text(), QStringLiteral("typed {colour}"));
    takeMessages(&tab);

    // A good file then loads, and saving writes a list that loads back the same.
    const auto good = m_dir / "good.csv";
    std::ofstream(good) << "prompt,evaluation_seed,case_number\n\"a blue bag, large\",3,12\na red coat,,\n";
    QVERIFY(tab.loadPromptFile(Set::RemainTrain, qs(good)));
    const QList<gui::ConceptPrompt> loaded = tab.prompts(Set::RemainTrain);
    QCOMPARE(loaded.size(), qsizetype { 2 });
    QCOMPARE(loaded[0], (gui::ConceptPrompt { QStringLiteral("a blue bag, large"), 3, QStringLiteral("12") }));
    QVERIFY(tab.savePromptFile(Set::RemainTrain, qs(m_dir / "saved.json")));
    tab.setPrompts(Set::RemainTrain, {});
    QVERIFY(tab.loadPromptFile(Set::RemainTrain, qs(m_dir / "saved.json")));
    QCOMPARE(tab.prompts(Set::RemainTrain), loaded);
}

void TestGuiConcept::emptyForgetSetIsRefused()
{
    gui::ConceptTab tab;
    tab.show();
    QVERIFY(openTiny(tab));
    tab.cacheEdit()->setText(qs(m_dir / "cache-empty"));
    tab.setPrompts(Set::RemainTrain, { { QStringLiteral("a red bag"), -1, QString() } });
    QVERIFY(tab.startButton()->isEnabled());
    QTest::mouseClick(tab.startButton(), Qt::LeftButton);
    QVERIFY(!tab.isRunning());
    const QString expected = QStringLiteral(
        "The forget set is empty: type forget prompts, load a prompt file or build them from a preset.");
    QCOMPARE(tab.lastError(), expected);
    QCOMPARE(takeMessages(&tab), QStringList { expected });
    QTest::mouseClick(tab.generateButton(), Qt::LeftButton);
    QVERIFY(!tab.isBusy());
    QCOMPARE(takeMessages(&tab), QStringList { expected });
    // And RGD without remain prompts.
    tab.setPrompts(Set::RemainTrain, {});
    tab.setPrompts(Set::Forget, { { QStringLiteral("a red shoe"), -1, QString() } });
    tab.startRun();
    QVERIFY(!tab.isRunning());
    QCOMPARE(
        tab.lastError(), QStringLiteral("The remain set is empty: RGD needs remain prompts (or choose ESD or UCE)."));
    takeMessages(&tab);
    QVERIFY(!std::filesystem::exists(m_dir / "cache-empty"));
}

void TestGuiConcept::wholeRunFromTypedAndBuiltPrompts()
{
    gui::MainWindow window(m_classModel, m_classData);
    window.show();
    QVERIFY(QTest::qWaitForWindowActive(&window));
    gui::ConceptTab& tab = *window.conceptTab();
    window.topTabs()->setCurrentWidget(&tab);
    QVERIFY(openTiny(tab));
    QCOMPARE(QSettings().value(QStringLiteral("concept/model")).toString(), m_sd); // Remembered.

    // Built from a preset: D_f, D_r,train and D_r,test with the counts shown.
    QVERIFY(tab.loadPreset(qs(m_dir / "tiny-preset.json")));
    QCOMPARE(tab.conceptWordsEdit()->text(), QStringLiteral("shoe"));
    QCOMPARE(tab.dimensionsTable()->rowCount(), 2);
    QVERIFY(tab.buildPrompts());
    QCOMPARE(tab.prompts(Set::Forget).size(), qsizetype { 3 });
    QCOMPARE(tab.prompts(Set::RemainTrain).size(), qsizetype { 5 });
    QCOMPARE(tab.prompts(Set::RemainTest).size(), qsizetype { 2 });
    QCOMPARE(tab.buildResultLabel()->text(),
        QStringLiteral("D_f 3, D_r,train 5, D_r,test 2 prompts (of 3, 6 and 2 distinct)"));
    for (const auto& p : tab.prompts(Set::Forget))
        QVERIFY2(p.text.contains(QStringLiteral("shoe")), qPrintable(p.text));
    for (const auto& p : tab.prompts(Set::RemainTrain))
        QVERIFY2(!p.text.contains(QStringLiteral("shoe")), qPrintable(p.text));
    auto* setTabs = tab.table(Set::Forget)->parentWidget()->parentWidget();
    QVERIFY(qobject_cast<QTabWidget*>(setTabs));
    QCOMPARE(qobject_cast<QTabWidget*>(setTabs)->tabText(0), QStringLiteral("&Forget (D_f): 3"));

    // One more forget prompt typed as a user does: Add, type, Enter.
    qobject_cast<QTabWidget*>(setTabs)->setCurrentIndex(0);
    tab.pages()->setCurrentIndex(0);
    QPushButton* add = nullptr;
    for (QPushButton* b : tab.findChildren<QPushButton*>())
        if (b->text() == QStringLiteral("&Add"))
            add = b;
    QVERIFY(add);
    QTest::mouseClick(add, Qt::LeftButton);
    QTRY_VERIFY(QApplication::focusWidget() && qobject_cast<QLineEdit*>(QApplication::focusWidget()));
    QTest::keyClicks(QApplication::focusWidget(), QStringLiteral("a pink shoe"));
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Return);
    QTRY_COMPARE(tab.prompts(Set::Forget).size(), qsizetype { 4 });
    QCOMPARE(tab.prompts(Set::Forget).last().text, QStringLiteral("a pink shoe"));

    // The training images: progress to 100 %, then a second press reads all of them from the cache.
    tab.cacheEdit()->setText(qs(m_dir / "cache"));
    tab.samplerStepsBox()->setValue(3);
    QSignalSpy images(&tab, &gui::ConceptTab::imagesFinished);
    QTest::mouseClick(tab.generateButton(), Qt::LeftButton);
    QVERIFY(tab.isBusy());
    QVERIFY(images.wait(120000));
    QCOMPARE(images.at(0).at(0).toLongLong(), qint64 { 9 }); // 4 forget + 5 remain drawn now.
    QCOMPARE(images.at(0).at(1).toLongLong(), qint64 { 0 });
    QCOMPARE(tab.progressBar()->value(), tab.progressBar()->maximum());
    QCOMPARE(tab.progressBar()->text(), QStringLiteral("training images: 100%"));
    QVERIFY(std::filesystem::exists(m_dir / "cache" / "forget"));
    QTest::mouseClick(tab.generateButton(), Qt::LeftButton);
    QVERIFY(images.wait(60000));
    QCOMPARE(images.at(1).at(0).toLongLong(), qint64 { 0 });
    QCOMPARE(images.at(1).at(1).toLongLong(), qint64 { 9 });

    // A long run started with the shortcut while the Concept tab is current: α changed live, paused, resumed,
    // stopped.
    tab.stepsBox()->setValue(100000);
    tab.forgetBatchBox()->setValue(2);
    tab.remainBatchBox()->setValue(2);
    tab.lrBox()->setValue(2e-3);
    tab.alphaBox()->setValue(100.0);
    tab.previewSeedsEdit()->setText(QStringLiteral("0-1"));
    QCOMPARE(tab.previewList()->count(), 4 + 2); // Forget prompts, then the held-out remain ones.
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    QTest::keyClick(&window, Qt::Key_R, Qt::ControlModifier);
    // The worker checks the run's memory first (the tab is busy meanwhile), then the run starts.
    QVERIFY(tab.isBusy() && !tab.startButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(tab.isRunning(), 60000);
    QVERIFY(!window.classTab()->isRunning()); // Not the Class tab's run.
    QTRY_VERIFY_WITH_TIMEOUT(tab.lastStep() >= 1, 120000);
    QCOMPARE(tab.lastPoint().alpha, 100.0);
    tab.alphaBox()->setValue(0.5);
    QCOMPARE(window.statusBar()->currentMessage(), QStringLiteral("α → 0.5 from step %1").arg(tab.lastStep() + 1));
    QTest::keyClick(&window, Qt::Key_P, Qt::ControlModifier);
    QVERIFY(tab.isPaused());
    QCOMPARE(tab.pauseButton()->text(), QStringLiteral("&Resume"));
    // The step that was going ends (slowly under a sanitizer or load); then nothing moves.
    QTRY_VERIFY_WITH_TIMEOUT(tab.runHeld(), 120000);
    QTest::qWait(100); // Its step report crosses to the UI thread.
    const qint64 pausedAt = tab.lastStep();
    QTest::qWait(500);
    QCOMPARE(tab.lastStep(), pausedAt);
    QVERIFY(tab.isRunning());
    QTest::mouseClick(tab.pauseButton(), Qt::LeftButton);
    QVERIFY(!tab.isPaused());
    QTRY_VERIFY_WITH_TIMEOUT(tab.lastStep() >= pausedAt + 2, 120000);
    QCOMPARE(tab.lastPoint().alpha, 0.5);
    QVERIFY(tab.lossPlot()->markerCount() >= 1);
    QTest::keyClick(&window, Qt::Key_Period, Qt::ControlModifier);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
    QCOMPARE(tab.lastOutcome(), QStringLiteral("stopped"));
    QCOMPARE(tab.afterGrid()->rows(), 4);
    QVERIFY(window.statusBar()->currentMessage().startsWith(QStringLiteral("Run stopped after ")));

    // A short run to the end, with an "after" grid half-way and at the end, and the CLIP alignment of the sets.
    test::writeTinyClipFolder(m_dir / "clip");
    tab.clipEdit()->setPath(qs(m_dir / "clip"));
    tab.stepsBox()->setValue(8);
    tab.previewEveryBox()->setValue(4);
    QTest::mouseClick(tab.startButton(), Qt::LeftButton);
    QVERIFY(tab.isBusy() && !tab.startButton()->isEnabled()); // The CLIP model loads, then the run starts.
    QTRY_VERIFY_WITH_TIMEOUT(tab.isRunning(), 60000);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 120000);
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));
    QCOMPARE(tab.lastPoint().step, qint64 { 8 });
    QCOMPARE(tab.lossPlot()->points(0).size(), qsizetype { 8 });
    QCOMPARE(tab.cosinePlot()->points(0).size(), qsizetype { 8 });
    QVERIFY2(window.statusBar()->currentMessage().startsWith(QStringLiteral("Run finished after 8 steps")),
        qPrintable(window.statusBar()->currentMessage()));

    // The grids: 2 forget and 2 remain prompts checked by default, 2 seeds; the "after" one from the end.
    QCOMPARE(tab.beforeGrid()->rows(), 4);
    QCOMPARE(tab.beforeGrid()->columns(), 2);
    QCOMPARE(tab.afterGrid()->rows(), 4);
    bool changed = false;
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 2; ++c)
            changed = changed || tab.afterGrid()->cell(r, c) != tab.beforeGrid()->cell(r, c);
    QVERIFY2(changed, "the unlearned model draws the same images as the base model");

    // CLIP alignment before → after: each set's prompts at the 2 seeds, then D_r,train and D_r,test together.
    QTableWidget* clip = tab.clipTable();
    QCOMPARE(clip->rowCount(), 4);
    const QStringList sets { QStringLiteral("D_f (forget)"), QStringLiteral("D_r,train"), QStringLiteral("D_r,test"),
        QStringLiteral("D_r (train and test)") };
    const QStringList counts { QStringLiteral("8 (4 prompts)"), QStringLiteral("10 (5 prompts)"),
        QStringLiteral("4 (2 prompts)"), QStringLiteral("14") };
    for (int row = 0; row < 4; ++row) {
        QCOMPARE(clip->item(row, 0)->text(), sets[row]);
        QCOMPARE(clip->item(row, 3)->text(), counts[row]);
        for (int column : { 1, 2 }) {
            bool ok = false;
            const double cosine = clip->item(row, column)->text().toDouble(&ok);
            QVERIFY2(ok && cosine >= -1.0 && cosine <= 1.0, qPrintable(clip->item(row, column)->text()));
        }
    }
    QVERIFY2(window.statusBar()->currentMessage().contains(QStringLiteral(" · CLIP alignment D_f ")),
        qPrintable(window.statusBar()->currentMessage()));

    // Export in both layouts; both load again, with the manifest, and hold the same (changed) UNet.
    const auto folder = m_dir / "export-diffusers";
    const auto file = m_dir / "export.safetensors";
    QSignalSpy exported(&tab, &gui::ConceptTab::exportFinished);
    tab.exportTo(qs(folder), qs(file));
    QVERIFY(exported.wait(60000));
    QVERIFY2(exported.at(0).at(0).toBool(), qPrintable(exported.at(0).at(1).toString()));
    const auto manifest = nlohmann::json::parse(test::readBytes(folder / "lethe-manifest.json"));
    LETHE_COMPARE_STR(manifest.at("method").get<std::string>(), "rgd");
    LETHE_COMPARE_STR(manifest.at("outcome").get<std::string>(), "finished");
    QCOMPARE(manifest.at("steps").get<int>(), 8);
    QCOMPARE(manifest.at("forget_pairs").get<int>(), 4);
    const nlohmann::json& alignment = manifest.at("clip_alignment");
    LETHE_COMPARE_STR(alignment.at("clip_model").get<std::string>(), (m_dir / "clip").string());
    QCOMPARE(alignment.at("seeds"), nlohmann::json({ 0, 1 }));
    QCOMPARE(alignment.at("sets").at("remain_test").at("images").get<int>(), 4);
    QCOMPARE(alignment.at("remain").at("images").get<int>(), 14);
    QCOMPARE(
        QString::number(alignment.at("sets").at("forget").at("after").get<double>(), 'f', 4), clip->item(0, 2)->text());
    QVERIFY(io::SafetensorsFile(file).metadata().count("lethe.manifest") == 1);
    models::sd::SdLoadOptions options;
    const auto fromFolder = models::sd::loadStableDiffusion(folder, options);
    options.components = m_dir / "sd";
    const auto fromFile = models::sd::loadStableDiffusion(file, options);
    const auto base = models::sd::loadStableDiffusion(m_dir / "sd", {});
    const auto a = fromFolder.unet()->named_parameters();
    const auto b = fromFile.unet()->named_parameters();
    const auto c = base.unet()->named_parameters();
    bool differsFromBase = false;
    for (const auto& item : a) {
        QVERIFY(torch::equal(item.value(), b[item.key()]));
        differsFromBase = differsFromBase || !torch::equal(item.value(), c[item.key()]);
    }
    QVERIFY(differsFromBase);

    // Exporting over an existing folder is refused with a message, and nothing is half-written.
    tab.exportTo(qs(folder), QString());
    QVERIFY(exported.wait(60000));
    QVERIFY(!exported.at(1).at(0).toBool());
    QVERIFY2(exported.at(1).at(1).toString().contains(qs(folder)), qPrintable(exported.at(1).at(1).toString()));
    takeMessages(&tab);

    // A CLIP folder without its weights: the loader's own message, no run, and the last run's results stay.
    const auto broken = m_dir / "clip-without-weights";
    const std::string expected = test::writeTinyClipFolderWithoutWeights(broken);
    QVERIFY(!expected.empty());
    tab.clipEdit()->setPath(qs(broken));
    tab.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(!tab.isBusy(), 60000);
    LETHE_COMPARE_STR(tab.lastError().toStdString(), expected);
    QCOMPARE(takeMessages(&tab), QStringList { QString::fromStdString(expected) });
    QVERIFY(!tab.isRunning());
    QCOMPARE(finished.count(), 2);
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));
    QVERIFY(tab.hasResult());
    QCOMPARE(tab.clipTable()->rowCount(), 4);
    QCOMPARE(tab.afterGrid()->rows(), 4);
    tab.clipEdit()->setPath(QString());
}

void TestGuiConcept::closingDuringAConceptRunStopsIt()
{
    auto* window = new gui::MainWindow(m_classModel, m_classData);
    window->show();
    gui::ConceptTab& tab = *window->conceptTab();
    window->topTabs()->setCurrentWidget(&tab);
    QVERIFY(openTiny(tab));
    tab.setPrompts(Set::Forget, { { QStringLiteral("a red shoe"), -1, QString() } });
    tab.setPrompts(Set::RemainTrain, { { QStringLiteral("a red bag"), -1, QString() } });
    tab.setPrompts(Set::RemainTest, {});
    tab.cacheEdit()->setText(qs(m_dir / "cache-close"));
    tab.stepsBox()->setValue(100000);
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    tab.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(tab.lastStep() >= 1, 120000);
    QVERIFY(!window->close()); // Refused for now: the run stops first, then the window closes.
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(tab.lastOutcome(), QStringLiteral("stopped"));
    QTRY_VERIFY(!window->isVisible());
    delete window;
}

void TestGuiConcept::cancelledDrawingResumesFromTheCache()
{
    gui::ConceptTab tab;
    tab.show();
    QVERIFY(openTiny(tab));
    QList<gui::ConceptPrompt> many;
    for (int i = 0; i < 40; ++i)
        many.append({ QStringLiteral("a red shoe"), i, QString() });
    tab.setPrompts(Set::Forget, many);
    tab.cacheEdit()->setText(qs(m_dir / "cache-cancel"));
    tab.samplerStepsBox()->setValue(12);
    tab.drawBatchBox()->setValue(1);
    QSignalSpy images(&tab, &gui::ConceptTab::imagesFinished);
    tab.generateImages();
    // The bar counts sampler steps of all 40 images and names the image and step it is at.
    QTRY_VERIFY_WITH_TIMEOUT(tab.progressBar()->value() >= 2 * 12 + 3, 60000);
    QCOMPARE(tab.progressBar()->maximum(), 40 * 12);
    const QString text = tab.progressBar()->text();
    QVERIFY2(
        QRegularExpression(QStringLiteral("^Drawing the forget images: image \\d+ of 40, step \\d+/12 \\(\\d+%\\)$"))
            .match(text)
            .hasMatch(),
        qPrintable(text));
    tab.cancelImages();
    QVERIFY(images.wait(60000));
    QCOMPARE(images.at(0).at(0).toLongLong(), qint64 { -1 });
    QVERIFY(!tab.isBusy());
    // The second press goes on: what was drawn comes from the cache, the rest is drawn now.
    tab.generateImages();
    QVERIFY(images.wait(120000));
    const qint64 drawn = images.at(1).at(0).toLongLong();
    const qint64 cached = images.at(1).at(1).toLongLong();
    QCOMPARE(drawn + cached, qint64 { 40 });
    QVERIFY2(cached >= 2 && drawn >= 1, qPrintable(QStringLiteral("%1 drawn, %2 cached").arg(drawn).arg(cached)));
}

void TestGuiConcept::robustnessPanelAttacksTheFinishedRun()
{
    // The prompt attack from the Robustness page: unavailable before a run; after one, a short UnlearnDiffAtk attack
    // on one prompt with the concept word taken out (the targets still from the prompt with it), its figures in the
    // panel, the CLIP alignment table and the export's manifest; then a long attack cancelled.
    gui::MainWindow window(m_classModel, m_classData);
    window.show();
    gui::ConceptTab& tab = *window.conceptTab();
    window.topTabs()->setCurrentWidget(&tab);
    QVERIFY(openTiny(tab));
    gui::RobustnessPanel* panel = tab.robustnessPanel();
    QVERIFY(panel);
    QVERIFY(!panel->startButton()->isEnabled());
    QVERIFY2(panel->startButton()->toolTip().startsWith(QStringLiteral("Run unlearning first")),
        qPrintable(panel->startButton()->toolTip()));
    QCOMPARE(panel->kindBox()->count(), 2);
    QCOMPARE(panel->kindBox()->currentData().toString(), QStringLiteral("hard"));
    // The defaults: small enough for the built-in model on a CPU.
    QCOMPARE(panel->promptsBox()->value(), 4);
    QCOMPARE(panel->seedsBox()->value(), 2);
    QCOMPARE(panel->tokensBox()->value(), 5);
    QCOMPARE(panel->stepsBox()->value(), 40);
    QCOMPARE(panel->placementBox()->currentData().toString(), QStringLiteral("prefix"));

    // "red" is a palette colour: the built-in judge reads it.
    const auto typed = [](std::initializer_list<const char*> texts) {
        QList<gui::ConceptPrompt> prompts;
        for (const char* text : texts)
            prompts.append(gui::ConceptPrompt { QString::fromUtf8(text), -1, QString() });
        return prompts;
    };
    tab.setPrompts(Set::Forget, typed({ "a red shoe", "a red bag" }));
    tab.setPrompts(Set::RemainTrain, typed({ "a blue coat", "a green bag" }));
    tab.conceptWordsEdit()->setText(QStringLiteral("red"));
    tab.cacheEdit()->setText(qs(m_dir / "attack-cache"));
    tab.samplerStepsBox()->setValue(3);
    tab.stepsBox()->setValue(2);
    tab.forgetBatchBox()->setValue(2);
    tab.remainBatchBox()->setValue(2);
    tab.clipEdit()->setPath(QString());
    tab.previewSeedsEdit()->setText(QStringLiteral("0"));
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    tab.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));
    QVERIFY(panel->startButton()->isEnabled());

    tab.pages()->setCurrentWidget(panel);
    panel->promptsBox()->setValue(1);
    panel->seedsBox()->setValue(1);
    panel->tokensBox()->setValue(2);
    panel->stepsBox()->setValue(2);
    panel->removeConceptBox()->setChecked(true);
    panel->placementBox()->setCurrentIndex(1);
    const gui::AttackRequest request = tab.attackRequest();
    QCOMPARE(request.placement, QStringLiteral("suffix"));
    QCOMPARE(request.promptTexts, QStringList { QStringLiteral("a shoe") });
    QCOMPARE(request.targetPrompts, QStringList { QStringLiteral("a red shoe") });
    QCOMPARE(request.concept, QStringLiteral("red"));
    QTest::mouseClick(panel->startButton(), Qt::LeftButton);
    QVERIFY(tab.isAttacking() && tab.isBusy());
    QVERIFY(!panel->startButton()->isEnabled() && panel->cancelButton()->isEnabled());
    QVERIFY(!tab.startButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(!tab.isAttacking(), 300000);
    QCOMPARE(panel->lastOutcome(), QStringLiteral("finished"));
    QVERIFY2(panel->hasResult(), qPrintable(panel->noteLabel()->text()));
    const QRegularExpression figures(
        QStringLiteral("^Pre-ASR \\d+\\.\\d % → Post-ASR \\d+\\.\\d % \\(UnlearnDiffAtk, 1 prompt × 1 seeds\\)$"));
    QVERIFY2(figures.match(panel->figuresLabel()->text()).hasMatch(), qPrintable(panel->figuresLabel()->text()));
    QCOMPARE(panel->table()->rowCount(), 1);
    QCOMPARE(panel->table()->item(0, 0)->text(), QStringLiteral("a shoe"));
    // The tokens went after the prompt.
    QVERIFY2(panel->table()->item(0, 1)->text().startsWith(QStringLiteral("a shoe ")),
        qPrintable(panel->table()->item(0, 1)->text()));
    QCOMPARE(panel->result().rows.at(0).targetPrompt, QStringLiteral("a red shoe"));
    QCOMPARE(panel->plainGrid()->rows(), 1);
    QCOMPARE(panel->plainGrid()->cells().size(), qsizetype { 1 });
    QCOMPARE(panel->adversarialGrid()->cells().size(), qsizetype { 1 });
    QCOMPARE(panel->lossPlot()->points(0).size(), qsizetype { 2 });
    // The figures join the run's: a row of the CLIP alignment table, and the exported manifest.
    const int last = tab.clipTable()->rowCount() - 1;
    QVERIFY(last >= 0);
    QVERIFY(tab.clipTable()->item(last, 0)->text().startsWith(QStringLiteral("Attack success rate")));
    QCOMPARE(tab.clipTable()->item(last, 2)->text(), QString::number(panel->result().postAsr, 'f', 4));
    const auto folder = m_dir / "attack-diffusers";
    QSignalSpy exported(&tab, &gui::ConceptTab::exportFinished);
    tab.exportTo(qs(folder), QString());
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 120000);
    QVERIFY2(exported.at(0).at(0).toBool(), qPrintable(exported.at(0).at(1).toString()));
    const auto manifest = nlohmann::json::parse(test::readBytes(folder / "lethe-manifest.json"));
    QVERIFY(manifest.contains("attack"));
    QCOMPARE(manifest.at("attack").at("post_asr").get<double>(), panel->result().postAsr);
    LETHE_COMPARE_STR(
        manifest.at("attack").at("per_prompt").at(0).at("target_prompt").get<std::string>(), "a red shoe");

    // A long attack, cancelled.
    panel->stepsBox()->setValue(100000);
    QTest::mouseClick(panel->startButton(), Qt::LeftButton);
    QVERIFY(panel->isAttacking() && !panel->hasResult());
    QTRY_VERIFY_WITH_TIMEOUT(panel->lossPlot()->points(0).size() + panel->lossPlot()->pendingCount() >= 1, 300000);
    QTest::mouseClick(panel->cancelButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!tab.isAttacking(), 60000);
    QCOMPARE(panel->lastOutcome(), QStringLiteral("cancelled"));
    QVERIFY(panel->startButton()->isEnabled());
    QVERIFY(tab.startButton()->isEnabled());
}

void TestGuiConcept::uceEditsSeveralConceptsInOneStep()
{
    // UCE through the tab: two concepts typed as the builder's concept words, the preserved concepts left empty (the
    // preset's other object is preserved, and the log says so); one closed-form step with its before/after grids
    // and the manifest's config. Then UCE without remain prompts, and without concept words (refused).
    gui::MainWindow window(m_classModel, m_classData);
    window.show();
    gui::ConceptTab& tab = *window.conceptTab();
    window.topTabs()->setCurrentWidget(&tab);
    QVERIFY(openTiny(tab));
    QVERIFY(tab.loadPreset(qs(m_dir / "tiny-preset.json")));
    tab.conceptWordsEdit()->setText(QStringLiteral("shoe, bag"));
    tab.forgetCountBox()->setValue(4);
    tab.remainTrainCountBox()->setValue(3);
    tab.remainTestCountBox()->setValue(1);
    QVERIFY(tab.buildPrompts());
    bool both[2] = { false, false };
    for (const auto& p : tab.prompts(Set::Forget)) {
        both[0] = both[0] || p.text.contains(QStringLiteral("shoe"));
        both[1] = both[1] || p.text.contains(QStringLiteral("bag"));
    }
    QVERIFY(both[0] && both[1]);
    for (const auto& p : tab.prompts(Set::RemainTrain))
        QVERIFY2(p.text.endsWith(QStringLiteral(" coat")), qPrintable(p.text));

    tab.methodBox()->setCurrentIndex(tab.methodBox()->findData(QStringLiteral("uce")));
    QVERIFY(tab.panel()->ucePreserveEdit()->text().isEmpty());
    QVERIFY(!tab.panel()->isFieldShown(tab.stepsBox()));
    tab.cacheEdit()->setText(qs(m_dir / "uce-cache"));
    tab.samplerStepsBox()->setValue(3);
    tab.previewSeedsEdit()->setText(QStringLiteral("0"));
    tab.clipEdit()->setPath(QString());
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    // Every status the run shows: the worker may already be drawing (its own status) when the test looks.
    QSignalSpy statuses(&tab, &gui::ConceptTab::statusMessage);
    tab.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(tab.isRunning(), 60000);
    const auto announced = [&] {
        for (const QList<QVariant>& status : statuses)
            if (status.at(0).toString().startsWith(
                    QStringLiteral("Unlearning with UCE: 4 forget and 3 remain prompts")))
                return true;
        return false;
    };
    QTRY_VERIFY_WITH_TIMEOUT(announced(), 60000);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));
    QCOMPARE(tab.lastStep(), qint64 { 1 });
    QCOMPARE(tab.lastPoint().totalSteps, qint64 { 1 });
    QCOMPARE(tab.lossPlot()->points(0).size(), qsizetype { 1 });
    QCOMPARE(tab.lossPlot()->markerCount(), 1); // Where the edit is, with its losses: one point draws no curve.
    QVERIFY2(window.statusBar()->currentMessage().startsWith(QStringLiteral("Run finished after 1 steps")),
        qPrintable(window.statusBar()->currentMessage()));
    QTRY_VERIFY2(
        window.logView()->toPlainText().contains(QStringLiteral(
            "UCE preserves the concept dimension's other training values (no preserved concepts named): coat")),
        qPrintable(window.logView()->toPlainText().right(2000)));
    QVERIFY(tab.beforeGrid()->rows() >= 1);
    bool changed = false;
    for (int r = 0; r < tab.afterGrid()->rows(); ++r)
        changed = changed || tab.afterGrid()->cell(r, 0) != tab.beforeGrid()->cell(r, 0);
    QVERIFY2(changed, "the edited model draws the same images as the base model");

    const auto folder = m_dir / "uce-diffusers";
    QSignalSpy exported(&tab, &gui::ConceptTab::exportFinished);
    tab.exportTo(qs(folder), QString());
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 120000);
    QVERIFY2(exported.at(0).at(0).toBool(), qPrintable(exported.at(0).at(1).toString()));
    const auto manifest = nlohmann::json::parse(test::readBytes(folder / "lethe-manifest.json"));
    LETHE_COMPARE_STR(manifest.at("method").get<std::string>(), "uce");
    QCOMPARE(manifest.at("steps").get<int>(), 1);
    LETHE_COMPARE_STR(manifest.at("concept").get<std::string>(), "shoe, bag");
    const nlohmann::json& config = manifest.at("final_config");
    QCOMPARE(config.at("uce_preserve"), nlohmann::json({ "coat" }));
    LETHE_COMPARE_STR(config.at("uce_guide").get<std::string>(), "");
    QCOMPARE(config.at("steps").get<int>(), 1);

    // Named preserved concepts are used as typed; no remain prompts are needed.
    tab.panel()->ucePreserveEdit()->setText(QStringLiteral("dress, "));
    tab.setPrompts(Set::RemainTrain, {});
    tab.startRun();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 300000);
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));
    QCOMPARE(tab.lastStep(), qint64 { 1 });
    tab.exportTo(qs(m_dir / "uce-typed"), QString());
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 2, 120000);
    const auto typed = nlohmann::json::parse(test::readBytes(m_dir / "uce-typed" / "lethe-manifest.json"));
    QCOMPARE(typed.at("final_config").at("uce_preserve"), nlohmann::json({ "dress" }));
    QCOMPARE(typed.at("remain_pairs").get<int>(), 0);

    // Without concept words there is nothing to edit: refused before anything starts.
    tab.conceptWordsEdit()->clear();
    tab.startRun();
    QVERIFY(!tab.isRunning());
    QCOMPARE(tab.lastError(),
        QStringLiteral("UCE edits the concept's words: type them under Concept words on the Prompts page (several "
                       "concepts separated by commas)."));
    takeMessages(&tab);
}

void TestGuiConcept::screenshotsOfARealModel()
{
    const QString dir = qEnvironmentVariable("LETHE_CONCEPT_SCREENSHOT_DIR");
    const QString model = qEnvironmentVariable("LETHE_CONCEPT_MODEL");
    if (dir.isEmpty() || model.isEmpty())
        QSKIP("set LETHE_CONCEPT_SCREENSHOT_DIR and LETHE_CONCEPT_MODEL (a diffusers folder such as the built-in "
              "text-to-image model), and QTEST_FUNCTION_TIMEOUT=3600000, to run it and save screenshots");
    torch::set_num_threads(std::max(1, hardwareThreads()));
    QSettings().clear();
    gui::MainWindow window(m_classModel, m_classData);
    window.resize(1600, 1000);
    window.show();
    gui::ConceptTab& tab = *window.conceptTab();
    QTest::mouseClick(window.topTabs()->tabBar(), Qt::LeftButton, {}, window.topTabs()->tabBar()->tabRect(1).center());
    QSignalSpy opened(&tab, &gui::ConceptTab::modelOpened);
    tab.openModel(model);
    QVERIFY(opened.wait(120000) && opened.at(0).at(0).toBool());
    const QString preset = qEnvironmentVariable(
        "LETHE_CONCEPT_PRESET", QString::fromStdString(resourceFile("presets/fashion-colours.json").string()));
    QVERIFY(tab.loadPreset(preset));
    tab.conceptWordsEdit()->setText(qEnvironmentVariable("LETHE_CONCEPT_WORD", QStringLiteral("sneaker")));
    tab.forgetCountBox()->setValue(16);
    tab.remainTrainCountBox()->setValue(16);
    tab.remainTestCountBox()->setValue(8);
    QVERIFY(tab.buildPrompts());
    tab.cacheEdit()->setText(dir + QStringLiteral("/cache"));
    tab.samplerStepsBox()->setValue(qEnvironmentVariableIntValue("LETHE_CONCEPT_SAMPLER_STEPS") > 0
            ? qEnvironmentVariableIntValue("LETHE_CONCEPT_SAMPLER_STEPS")
            : 20);
    tab.guidanceBox()->setValue(3.0);
    QTest::qWait(300);
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-prompts.png")));
    const int steps = qEnvironmentVariableIntValue("LETHE_CONCEPT_STEPS") > 0
        ? qEnvironmentVariableIntValue("LETHE_CONCEPT_STEPS")
        : 20;
    tab.stepsBox()->setValue(steps);
    // LETHE_CONCEPT_BATCH, _LR, _ALPHA and _LAMBDA set the run's hyperparameters (default: batches of 4, lr 1e-4,
    // the window's α and λ).
    const auto number = [](const char* name, double fallback) {
        bool ok = false;
        const double value = qEnvironmentVariable(name).toDouble(&ok);
        return ok ? value : fallback;
    };
    const int batch = static_cast<int>(number("LETHE_CONCEPT_BATCH", 4));
    tab.forgetBatchBox()->setValue(batch);
    tab.remainBatchBox()->setValue(batch);
    tab.lrBox()->setValue(number("LETHE_CONCEPT_LR", 1e-4));
    tab.alphaBox()->setValue(number("LETHE_CONCEPT_ALPHA", tab.alphaBox()->value()));
    tab.lambdaBox()->setValue(number("LETHE_CONCEPT_LAMBDA", tab.lambdaBox()->value()));
    tab.previewSeedsEdit()->setText(QStringLiteral("0-3"));
    tab.previewEveryBox()->setValue(std::max(1, steps / 2));
    // LETHE_CONCEPT_CLIP (a CLIP model folder) measures the CLIP alignment too, of the first
    // LETHE_CONCEPT_CLIP_PROMPTS prompts of each set (default 4), and saves concept-clip.png.
    const QString clip = qEnvironmentVariable("LETHE_CONCEPT_CLIP");
    tab.clipEdit()->setPath(clip);
    if (!clip.isEmpty())
        tab.clipPromptsBox()->setValue(qEnvironmentVariableIntValue("LETHE_CONCEPT_CLIP_PROMPTS") > 0
                ? qEnvironmentVariableIntValue("LETHE_CONCEPT_CLIP_PROMPTS")
                : 4);
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    QTest::mouseClick(tab.startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(tab.isRunning(), 120000);
    QTRY_VERIFY_WITH_TIMEOUT(tab.lastStep() >= steps * 2 / 3, 3600000);
    QTest::qWait(500);
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-running.png")));
    QVERIFY(finished.wait(3600000));
    QTest::qWait(500);
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-finished.png")));
    if (!clip.isEmpty()) {
        auto* curveTabs = qobject_cast<QTabWidget*>(tab.clipTable()->parentWidget()->parentWidget()->parentWidget());
        QVERIFY(curveTabs);
        curveTabs->setCurrentIndex(curveTabs->count() - 1);
        QTest::qWait(300);
        QVERIFY(window.grab().save(dir + QStringLiteral("/concept-clip.png")));
    }
    qInfo("concept run: %s after %lld steps; %s", qPrintable(tab.lastOutcome()), static_cast<long long>(tab.lastStep()),
        qPrintable(tab.lastStatus()));
}

void TestGuiConcept::screenshotsOfTheRobustnessPanel()
{
    // The built-in text-to-image model unlearns "sneaker" briefly, then the Robustness page attacks it with its
    // defaults (UnlearnDiffAtk, 4 prompts, 2 judge seeds, K 5, 40 steps): robustness-running.png half-way through the
    // attack, robustness-finished.png at the end.
    const QString dir = qEnvironmentVariable("LETHE_ROBUSTNESS_SCREENSHOT_DIR");
    if (dir.isEmpty())
        QSKIP("set LETHE_ROBUSTNESS_SCREENSHOT_DIR (and QTEST_FUNCTION_TIMEOUT=3600000) to run the built-in model and "
              "save screenshots of the Robustness panel");
    const auto number = [](const char* name, int fallback) {
        return qEnvironmentVariableIntValue(name) > 0 ? qEnvironmentVariableIntValue(name) : fallback;
    };
    torch::set_num_threads(std::max(1, hardwareThreads()));
    QSettings().clear();
    gui::MainWindow window(m_classModel, m_classData);
    QVERIFY(openBuiltInSneaker(window, 8, 8, 4));
    gui::ConceptTab& tab = *window.conceptTab();
    tab.cacheEdit()->setText(dir + QStringLiteral("/cache"));
    tab.samplerStepsBox()->setValue(number("LETHE_ROBUSTNESS_SAMPLER_STEPS", 20));
    tab.guidanceBox()->setValue(3.0);
    tab.stepsBox()->setValue(number("LETHE_ROBUSTNESS_RUN_STEPS", 30));
    tab.forgetBatchBox()->setValue(8);
    tab.remainBatchBox()->setValue(8);
    tab.lrBox()->setValue(5e-5);
    tab.alphaBox()->setValue(0.1);
    tab.lambdaBox()->setValue(3.0);
    tab.previewSeedsEdit()->setText(QStringLiteral("0-1"));
    tab.clipEdit()->setPath(QString());
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    tab.startRun();
    QVERIFY(finished.wait(3600000));
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));

    gui::RobustnessPanel* panel = tab.robustnessPanel();
    QTest::mouseClick(tab.pages()->tabBar(), Qt::LeftButton, {},
        tab.pages()->tabBar()->tabRect(tab.pages()->indexOf(panel)).center());
    QCOMPARE(tab.pages()->currentWidget(), panel);
    panel->stepsBox()->setValue(number("LETHE_ROBUSTNESS_STEPS", 40));
    QTest::mouseClick(panel->startButton(), Qt::LeftButton);
    QVERIFY(panel->isAttacking());
    // Half-way: the second prompt's attack under way.
    const int steps = panel->stepsBox()->value();
    QTRY_VERIFY_WITH_TIMEOUT(panel->lossPlot()->points(0).size() >= steps * 3 / 2, 3600000);
    QTest::qWait(500);
    QVERIFY(window.grab().save(dir + QStringLiteral("/robustness-running.png")));
    QTRY_VERIFY_WITH_TIMEOUT(!panel->isAttacking(), 3600000);
    QCOMPARE(panel->lastOutcome(), QStringLiteral("finished"));
    QTest::qWait(500);
    QVERIFY(window.grab().save(dir + QStringLiteral("/robustness-finished.png")));
    qInfo("attack: %s; %s", qPrintable(panel->figuresText()), qPrintable(panel->noteLabel()->text()));
}

void TestGuiConcept::screenshotOfAUceRun()
{
    // UCE on the built-in text-to-image model: "sneaker" from fashion-colours.json (16/16/8 prompts), the other
    // garments preserved by default; concept-uce.png shows the finished edit's curves and before/after images.
    const QString dir = qEnvironmentVariable("LETHE_UCE_SCREENSHOT_DIR");
    if (dir.isEmpty())
        QSKIP("set LETHE_UCE_SCREENSHOT_DIR (and QTEST_FUNCTION_TIMEOUT=3600000) to run UCE on the built-in model and "
              "save a screenshot");
    torch::set_num_threads(std::max(1, hardwareThreads()));
    QSettings().clear();
    gui::MainWindow window(m_classModel, m_classData);
    QVERIFY(openBuiltInSneaker(window, 16, 16, 8));
    gui::ConceptTab& tab = *window.conceptTab();
    tab.methodBox()->setCurrentIndex(tab.methodBox()->findData(QStringLiteral("uce")));
    // LETHE_UCE_PRESERVE names the preserved concepts (default: none named, so the other garments).
    tab.panel()->ucePreserveEdit()->setText(qEnvironmentVariable("LETHE_UCE_PRESERVE"));
    tab.panel()->ucePreserveEdit()->setCursorPosition(0);
    tab.cacheEdit()->setText(dir + QStringLiteral("/cache"));
    tab.samplerStepsBox()->setValue(qEnvironmentVariableIntValue("LETHE_UCE_SAMPLER_STEPS") > 0
            ? qEnvironmentVariableIntValue("LETHE_UCE_SAMPLER_STEPS")
            : 20);
    tab.guidanceBox()->setValue(3.0);
    tab.previewSeedsEdit()->setText(QStringLiteral("0-3"));
    tab.clipEdit()->setPath(QString());
    QSignalSpy finished(&tab, &gui::ConceptTab::runFinished);
    QTest::mouseClick(tab.startButton(), Qt::LeftButton);
    QVERIFY(finished.wait(3600000));
    QCOMPARE(tab.lastOutcome(), QStringLiteral("finished"));
    QCOMPARE(tab.lastStep(), qint64 { 1 });
    QTest::qWait(500);
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-uce.png")));
    qInfo("UCE: %s", qPrintable(tab.lastStatus()));
}

void TestGuiConcept::screenshotOfTheMemoryEstimate()
{
    const QString dir = qEnvironmentVariable("LETHE_MEMORY_SCREENSHOT_DIR");
    if (dir.isEmpty())
        QSKIP("set LETHE_MEMORY_SCREENSHOT_DIR to save concept-memory.png: the Concept tab with the built-in model, "
              "its sneaker prompt sets and the memory estimate of its recommended run (a few seconds)");
    QSettings().clear();
    gui::MainWindow window(m_classModel, m_classData);
    QVERIFY(openBuiltInSneaker(window, 16, 16, 8));
    gui::ConceptTab& tab = *window.conceptTab();
    QTRY_VERIFY_WITH_TIMEOUT(tab.memoryEstimate().peak > 0, 30000);
    QTest::qWait(500); // The estimate of the built prompt sets, after the first one of the opened model.
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-memory.png")));
    qInfo("%s", qPrintable(tab.memoryLabel()->text()));
}

QTEST_MAIN(TestGuiConcept)
#include "test_gui_concept.moc"
