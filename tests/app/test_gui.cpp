// The main window driving real runs: a short run on a tiny model shows curves and samples, takes a live λ
// change, exports a model that loads, and keeps the UI thread responsive; the literature's instruments (tiny random
// CLIP and Inception weights made here) add their figures to the measures, and one that does not load says why and
// starts nothing. With LETHE_SCREENSHOT_DIR set, a
// second test runs the built-in model on Fashion-MNIST and saves screenshots of the window.
#include "class_tab.h"
#include "concept_tab.h"
#include "instruments_dialog.h"
#include "main_window.h"
#include "robustness_panel.h"
#include "session_worker.h"

#include "core/models/edm/edm_config.h"
#include "core/models/edm/edm_precond.h"
#include "core/runtime.h"
#include "core/store/edm_model.h"
#include "core/unlearn/run_config.h"
#include "core/unlearn/run_record.h"
#include "widgets/class_picker.h"
#include "widgets/curve_plot.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/log_view.h"
#include "widgets/metrics_view.h"
#include "widgets/path_edit.h"
#include "widgets/sample_grid.h"

#include "test_support.h"
#include "tiny_clip.h"
#include "tiny_edm.h"
#include "tiny_inception.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QScreen>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabBar>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimer>
#include <QTranslator>
#include <QtTest>

#include <algorithm>

using namespace lethe;

namespace {

/// A run of `steps` steps forgetting `forgetClass` with the smallest batches, as the tests below start them.
void useTinyRun(gui::ClassTab* tab, int forgetClass, int steps)
{
    tab->classPicker()->setCurrentClass(forgetClass);
    widgets::RunSettings s = tab->panel()->settings();
    s.steps = steps;
    s.forgetBatch = 2;
    s.remainPerClass = 2;
    s.remainBatch = 4;
    tab->panel()->setSettings(s);
}

/// Records how late a 5 ms timer fires on the UI thread: the event loop's latency.
class LatencyProbe : public QObject {
public:
    LatencyProbe()
    {
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(5);
        connect(&m_timer, &QTimer::timeout, this, [this] {
            const qint64 now = m_clock.nsecsElapsed();
            if (m_last > 0)
                m_lateMs.push_back(std::max<qint64>(0, now - m_last - 5'000'000) / 1e6);
            m_last = now;
        });
        m_clock.start();
        m_timer.start();
    }
    double percentile(double p) const
    {
        if (m_lateMs.empty())
            return 0.0;
        std::vector<double> sorted = m_lateMs;
        std::sort(sorted.begin(), sorted.end());
        return sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
    }
    std::size_t samples() const { return m_lateMs.size(); }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = 0;
    std::vector<double> m_lateMs;
};

/// True when the whole of `widget` shows in `window`: visible, inside the window, and not clipped by a scroll
/// area or a splitter (its visible region is all of it).
bool wholeInView(const QWidget* widget, const QWidget* window)
{
    if (!widget->isVisible())
        return false;
    const QRect inWindow(widget->mapTo(window, QPoint(0, 0)), widget->size());
    return window->rect().contains(inWindow) && widget->visibleRegion() == QRegion(widget->rect());
}

/// True when no scroll area of `tab` shows a horizontal scroll bar.
bool scrollsUpAndDownOnly(const QWidget* tab)
{
    for (const QScrollArea* area : tab->findChildren<QScrollArea*>())
        if (area->isVisible() && area->horizontalScrollBar()->isVisible())
            return false;
    return true;
}

/// Points the measure cache at `dir` while it lives (the tests' own cache stays as it was).
class MeasureCacheDir {
public:
    explicit MeasureCacheDir(const std::filesystem::path& dir)
        : m_old(qgetenv("LETHE_CACHE_DIR"))
    {
        qputenv("LETHE_CACHE_DIR", QByteArray::fromStdString(dir.string()));
    }
    ~MeasureCacheDir() { m_old.isNull() ? qunsetenv("LETHE_CACHE_DIR") : qputenv("LETHE_CACHE_DIR", m_old); }

private:
    QByteArray m_old;
};

} // namespace

class TestGui : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void classTabStartsWithCoreCpuFastPreset();
    void shortRunShowsCurvesSamplesAndExports();
    void closingDuringARunStopsIt();
    void literatureInstrumentsJoinTheMeasures();
    void robustnessPanelAttacksTheFinishedRun();
    void translationsAreCompiledIn_data();
    void translationsAreCompiledIn();
    void deviceComesFromTheCommandLineElseTheSetting();
    void firstSizeFitsTheScreenAndGeometryIsRemembered();
    void runBoxStaysInViewOnALaptopScreen_data();
    void runBoxStaysInViewOnALaptopScreen();
    void baseFiguresAfterTheRunThenFromTheMeasureCache();
    void startToFirstStepOfTheBuiltInModel();
    void screenshotsOnALaptopScreen();
    void screenshotsOfTheBuiltInDefault();

private:
    test::ScratchDir m_dir;
    QString m_model;
    QString m_data;
};

void TestGui::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true); // QSettings go to a test location.
    QCoreApplication::setOrganizationName(QStringLiteral("LetheTest"));
    torch::set_num_threads(1); // Leave the other core to the UI thread, as the latency test expects.
    const auto data = m_dir / "cifar";
    test::writeCifarFolder(data, 20);
    test::writeTinyCifarModel(m_dir / "base.safetensors");
    m_model = QString::fromStdString((m_dir / "base.safetensors").string());
    m_data = QString::fromStdString(data.string());
}

void TestGui::classTabStartsWithCoreCpuFastPreset()
{
    QSettings().clear(); // Nothing remembered from an earlier run.
    gui::MainWindow window(m_model, m_data);
    window.show();
    QTRY_VERIFY_WITH_TIMEOUT(window.classTab()->isModelOpen(), 60000);
    widgets::HyperparameterPanel* panel = window.classTab()->panel();
    // Every value from core's cpu-fast preset, the first one offered; none typed in the GUI.
    const unlearn::RunConfig fast = unlearn::runPreset("cpu-fast");
    QCOMPARE(panel->presetBox()->currentText(), QStringLiteral("cpu-fast"));
    const widgets::RunSettings s = panel->settings();
    QCOMPARE(s.method, QString::fromStdString(unlearn::methodName(fast.method)));
    QCOMPARE(s.alpha, fast.alpha);
    QCOMPARE(s.lambda, fast.lambda);
    QCOMPARE(s.lr, fast.lr);
    QCOMPARE(s.steps, fast.steps);
    QCOMPARE(s.forgetBatch, fast.forgetBatch);
    QCOMPARE(s.remainPerClass, fast.remainPerClass);
    QCOMPARE(s.remainBatch, fast.remainBatch);
    QCOMPARE(s.seed, fast.seed);
    // A class run's fields: remain images per class, no parameter group or η.
    QCOMPARE(panel->kind(), widgets::RunKind::Class);
    QVERIFY(panel->isFieldShown(panel->remainPerClassBox()));
    QVERIFY(!panel->isFieldShown(panel->etaBox()));
    QVERIFY(!panel->isFieldShown(panel->parameterBox()));
    // The other preset is core's too.
    QVERIFY(panel->applyPreset(QStringLiteral("paper")));
    QCOMPARE(panel->settings().steps, unlearn::runPreset("paper").steps);
    QCOMPARE(panel->settings().remainPerClass, unlearn::runPreset("paper").remainPerClass);
}

void TestGui::deviceComesFromTheCommandLineElseTheSetting()
{
    QCOMPARE(gui::chosenDeviceName(), QStringLiteral("auto"));
    QSettings().setValue(QStringLiteral("device"), QStringLiteral("cpu"));
    QCOMPARE(gui::chosenDeviceName(), QStringLiteral("cpu"));
    qApp->setProperty(gui::kDeviceProperty, QStringLiteral("cuda:1"));
    QCOMPARE(gui::chosenDeviceName(), QStringLiteral("cuda:1"));

    // Without CUDA, asking for it fails the opening with a message that says what to do; auto falls back to
    // the CPU (the other tests open their models that way).
    if (!torch::cuda::is_available()) {
        qApp->setProperty(gui::kDeviceProperty, QStringLiteral("cuda"));
        gui::SessionWorker worker;
        QSignalSpy failed(&worker, &gui::SessionWorker::openFailed);
        worker.open(m_model, m_data, QString());
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toString(),
            QStringLiteral("device 'cuda' asked for, but CUDA is not available (this LibTorch has no CUDA support or "
                           "no GPU is visible); use --device cpu or auto"));
    }
    qApp->setProperty(gui::kDeviceProperty, QVariant());
    QSettings().remove(QStringLiteral("device"));
    QCOMPARE(gui::chosenDeviceName(), QStringLiteral("auto"));
}

void TestGui::shortRunShowsCurvesSamplesAndExports()
{
    gui::MainWindow window(m_model, m_data);
    window.show();
    QTRY_VERIFY_WITH_TIMEOUT(window.classTab()->isModelOpen(), 60000);
    QCOMPARE(window.classTab()->classPicker()->classCount(), 10);
    auto* progress = window.classTab()->progressBar();
    QVERIFY(progress);
    QVERIFY2(progress->maximum() > 0, "the progress bar still shows the opening's busy indicator");
    QCOMPARE(window.statusBar()->currentMessage(), QStringLiteral("Ready: choose a class and press Start"));
    window.classTab()->classPicker()->setCurrentClass(3);
    widgets::RunSettings s = window.classTab()->panel()->settings();
    s.steps = 16;
    s.forgetBatch = 2;
    s.remainPerClass = 2;
    s.remainBatch = 6;
    window.classTab()->panel()->setSettings(s);
    window.classTab()->measureBox()->setChecked(false);
    QVERIFY(window.classTab()->startButton()->isEnabled());

    QSignalSpy finished(window.classTab(), &gui::ClassTab::runFinished);
    LatencyProbe probe;
    QTest::mouseClick(window.classTab()->startButton(), Qt::LeftButton);
    QVERIFY(window.classTab()->isRunning());
    QVERIFY(!window.classTab()->startButton()->isEnabled());
    // A live λ change while the run goes: marked on the curves at the next step.
    QTRY_VERIFY_WITH_TIMEOUT(
        window.classTab()->lossPlot()->points(0).size() + window.classTab()->lossPlot()->pendingCount() >= 2, 120000);
    QCOMPARE(window.statusBar()->currentMessage(), QStringLiteral("Unlearning cat with RGD"));
    window.classTab()->panel()->lambdaBox()->setValue(2.5);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QCOMPARE(window.classTab()->lastOutcome(), QStringLiteral("finished"));
    // The status bar reports the run's wall-clock rate, which previews slow down: never above the step rate.
    QVERIFY(window.classTab()->wallStepsPerSecond() > 0.0
        && window.classTab()->wallStepsPerSecond() <= window.classTab()->stepsPerSecond() * 1.0001);
    QVERIFY2(window.statusBar()->currentMessage().startsWith(QStringLiteral("Run finished after 16 steps in ")),
        qPrintable(window.statusBar()->currentMessage()));
    qInfo("UI event-loop latency during the run: p99 %.1f ms, p50 %.1f ms over %zu samples; GUI %.2f steps/s",
        probe.percentile(0.99), probe.percentile(0.5), probe.samples(), window.classTab()->stepsPerSecond());
    QVERIFY2(probe.percentile(0.99) < 50.0, "the UI thread stalled during the run");

    QCOMPARE(window.classTab()->lossPlot()->points(0).size(), qsizetype { 16 });
    QVERIFY(window.classTab()->lossPlot()->markerCount() >= 1);
    QVERIFY(window.classTab()->cosinePlot()->points(0).size() == 16);
    QCOMPARE(window.classTab()->beforeGrid()->rows(), 10);
    QCOMPARE(window.classTab()->afterGrid()->rows(), 10);
    QCOMPARE(window.classTab()->afterGrid()->highlightedRow(), 3);
    bool changed = false;
    for (int c = 0; c < window.classTab()->beforeGrid()->columns(); ++c)
        changed = changed || window.classTab()->afterGrid()->cell(3, c) != window.classTab()->beforeGrid()->cell(3, c);
    QVERIFY2(changed, "the forgotten class's samples did not change");

    const QString out = QString::fromStdString((m_dir / "export").string());
    QSignalSpy exported(window.classTab(), &gui::ClassTab::exportFinished);
    QVERIFY(window.classTab()->exportButton()->isEnabled());
    window.classTab()->exportTo(out);
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 60000);
    QVERIFY2(exported.at(0).at(0).toBool(), qPrintable(exported.at(0).at(1).toString()));
    const store::EdmModel model = store::loadEdmModel(m_dir / "export" / "model.safetensors", torch::kCPU);
    LETHE_COMPARE_STR(model.info.provenance.method, "unlearn rgd");
    QCOMPARE(model.info.provenance.steps, std::int64_t { 16 });
    QCOMPARE(model.info.provenance.hyperparameters.at("lambda").get<double>(), 2.5);
    for (const char* name : { "run.json", "steps.csv", "before.png", "after.png", "compare.png" })
        QVERIFY2(std::filesystem::exists(m_dir / "export" / name), name);
}

void TestGui::closingDuringARunStopsIt()
{
    auto* window = new gui::MainWindow(m_model, m_data);
    window->show();
    QTRY_VERIFY_WITH_TIMEOUT(window->classTab()->isModelOpen(), 60000);
    widgets::RunSettings s = window->classTab()->panel()->settings();
    s.steps = 100000;
    s.forgetBatch = 2;
    s.remainPerClass = 2;
    s.remainBatch = 6;
    window->classTab()->panel()->setSettings(s);
    window->classTab()->measureBox()->setChecked(false);
    QSignalSpy finished(window->classTab(), &gui::ClassTab::runFinished);
    window->classTab()->startRun();
    QTRY_VERIFY_WITH_TIMEOUT(
        window->classTab()->lossPlot()->points(0).size() + window->classTab()->lossPlot()->pendingCount() >= 1, 120000);
    QVERIFY(!window->close()); // Refused for now: the run stops first, then the window closes.
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
    QCOMPARE(window->classTab()->lastOutcome(), QStringLiteral("stopped"));
    QTRY_VERIFY(!window->isVisible());
    delete window;
}

void TestGui::literatureInstrumentsJoinTheMeasures()
{
    // Tiny random instruments: a CLIP folder, an Inception detector and reference statistics (mean 0, covariance I).
    const auto clip = m_dir / "clip";
    test::writeTinyClipFolder(clip);
    const auto inception = m_dir / "inception.safetensors";
    test::writeRandomInception(inception);
    const auto reference = m_dir / "reference.npz";
    test::writeStandardFidReference(reference);
    test::writeTinyCifarClassifier(m_dir / "classifier.safetensors");
    const QString classifier = QString::fromStdString((m_dir / "classifier.safetensors").string());

    gui::MainWindow window(m_model, m_data);
    window.show();
    gui::ClassTab* tab = window.classTab();
    QTRY_VERIFY_WITH_TIMEOUT(tab->isModelOpen(), 60000);
    tab->openModel(m_model, m_data, classifier);
    QTRY_VERIFY_WITH_TIMEOUT(tab->isModelOpen() && tab->measureBox()->isEnabled(), 60000);
    useTinyRun(tab, 3, 2);
    tab->measureBox()->setChecked(true);
    tab->measureImagesBox()->setValue(2);
    // Chosen as a user does: the button (Alt+I, or Space on it) opens the dialog, the paths are typed into its
    // fields, OK.
    QVERIFY(tab->instrumentsButton()->isEnabled());
    QVERIFY(QTest::qWaitForWindowActive(&window));
    bool filled = false;
    QTimer::singleShot(0, tab, [&] {
        auto* dialog = qobject_cast<gui::InstrumentsDialog*>(QApplication::activeModalWidget());
        QVERIFY(dialog);
        QCOMPARE(dialog->fidResizeBox()->currentData().toString(), QStringLiteral("edm"));
        QTest::keyClicks(dialog->clipEdit()->lineEdit(), QString::fromStdString(clip.string()));
        QTest::keyClicks(dialog->inceptionEdit()->lineEdit(), QString::fromStdString(inception.string()));
        QTest::keyClicks(dialog->fidReferenceEdit()->lineEdit(), QString::fromStdString(reference.string()));
        filled = true;
        dialog->accept();
    });
    tab->instrumentsButton()->setFocus();
    QTest::keyClick(tab->instrumentsButton(), Qt::Key_Space);
    QVERIFY(filled);
    QCOMPARE(tab->instrumentPaths().clip, QString::fromStdString(clip.string()));
    QCOMPARE(tab->instrumentPaths().fidReference, QString::fromStdString(reference.string()));
    QVERIFY2(tab->instrumentsLabel()->text().startsWith(QStringLiteral("Also: zero-shot CLIP (clip), FID (")),
        qPrintable(tab->instrumentsLabel()->text()));

    torch::set_num_threads(2); // Inception at 299×299 is the slow part; the latency test is not this one.
    QSignalSpy finished(tab, &gui::ClassTab::runFinished);
    QTest::mouseClick(tab->startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 600000);
    torch::set_num_threads(1);
    QCOMPARE(tab->lastOutcome(), QStringLiteral("finished"));
    QVERIFY(tab->instrumentsError().isEmpty());
    // Before → after for each of the literature's figures, on the summary's second line.
    const QString summary = tab->metricsView()->summaryText();
    const QString figure = QStringLiteral("\\d+\\.\\d+ → \\d+\\.\\d+");
    for (const QString& pattern : { QStringLiteral("\nCLIP-UA %1   CLIP-RA %1").arg(figure),
             QStringLiteral("FID %1 \\(remaining classes\\)").arg(figure),
             QStringLiteral("FID forgotten %1").arg(figure) })
        QVERIFY2(summary.contains(QRegularExpression(pattern)), qPrintable(pattern + QStringLiteral(" in ") + summary));

    // The export's run.json names the instruments and holds their figures, before and after.
    const auto out = m_dir / "literature-export";
    QSignalSpy exported(tab, &gui::ClassTab::exportFinished);
    tab->exportTo(QString::fromStdString(out.string()));
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 60000);
    QVERIFY2(exported.at(0).at(0).toBool(), qPrintable(exported.at(0).at(1).toString()));
    const auto run = nlohmann::json::parse(test::readBytes(out / "run.json"));
    LETHE_COMPARE_STR(run.at("instruments").at("clip").at("folder").get<std::string>(), clip.string());
    LETHE_COMPARE_STR(run.at("instruments").at("fid").at("resize").get<std::string>(), "edm");
    for (const char* when : { "metrics_before", "metrics_after" }) {
        QVERIFY2(run.at(when).at("clip_zero_shot").at("unlearning").at("UA").is_number(), when);
        QVERIFY2(run.at(when).at("FID").at("forget").is_number(), when);
    }

    // The instruments are remembered with the tab's other settings.
    {
        gui::ClassTab again;
        QCOMPARE(again.instrumentPaths().clip, QString::fromStdString(clip.string()));
        QCOMPARE(again.instrumentPaths().inception, QString::fromStdString(inception.string()));
        QCOMPARE(again.instrumentPaths().fidReference, QString::fromStdString(reference.string()));
    }

    // A CLIP folder without its weights: the loader's own message under the measures, no run, nothing lost.
    const auto broken = m_dir / "clip-without-weights";
    const std::string expected = test::writeTinyClipFolderWithoutWeights(broken);
    QVERIFY(!expected.empty());
    const QImage afterCell = tab->afterGrid()->cell(3, 0);
    gui::InstrumentPaths paths = tab->instrumentPaths();
    paths.clip = QString::fromStdString(broken.string());
    tab->setInstrumentPaths(paths);
    QTest::mouseClick(tab->startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!tab->isLoadingInstruments(), 60000);
    LETHE_COMPARE_STR(tab->instrumentsError().toStdString(), expected);
    QVERIFY(tab->instrumentsLabel()->isVisible());
    QCOMPARE(tab->instrumentsLabel()->text(), tab->instrumentsError());
    QVERIFY(!tab->isRunning());
    QCOMPARE(finished.count(), 1);
    QCOMPARE(tab->lastOutcome(), QStringLiteral("finished"));
    QCOMPARE(tab->metricsView()->summaryText(), summary);
    QCOMPARE(tab->afterGrid()->cell(3, 0), afterCell);
    QVERIFY(tab->exportButton()->isEnabled());
    QVERIFY(tab->startButton()->isEnabled());
    // Choosing again clears the message.
    paths.clip = QString::fromStdString(clip.string());
    tab->setInstrumentPaths(paths);
    QVERIFY(tab->instrumentsError().isEmpty());
    QVERIFY(tab->instrumentsLabel()->text().startsWith(QStringLiteral("Also: ")));

    // Another window (another worker, nothing in memory) on the same model, settings and instruments: the base
    // model's figures come from the measure cache on disk, so the run starts stepping at once, and they are the
    // first run's.
    {
        gui::MainWindow second(m_model, m_data);
        second.show();
        gui::ClassTab* again = second.classTab();
        QTRY_VERIFY_WITH_TIMEOUT(again->isModelOpen(), 60000);
        again->openModel(m_model, m_data, classifier);
        QTRY_VERIFY_WITH_TIMEOUT(again->isModelOpen() && again->measureBox()->isEnabled(), 60000);
        useTinyRun(again, 3, 2);
        again->measureBox()->setChecked(true);
        again->measureImagesBox()->setValue(2);
        QCOMPARE(again->instrumentPaths().clip, QString::fromStdString(clip.string()));
        torch::set_num_threads(2);
        QSignalSpy done(again, &gui::ClassTab::runFinished);
        QTest::mouseClick(again->startButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, 600000);
        torch::set_num_threads(1);
        QVERIFY2(second.logView()->toPlainText().contains(
                     QStringLiteral("the base model's figures read from the measure cache ")),
            qPrintable(second.logView()->toPlainText()));
        const auto out2 = m_dir / "literature-export-2";
        QSignalSpy exported2(again, &gui::ClassTab::exportFinished);
        again->exportTo(QString::fromStdString(out2.string()));
        QTRY_VERIFY_WITH_TIMEOUT(exported2.count() == 1, 60000);
        const auto run2 = nlohmann::json::parse(test::readBytes(out2 / "run.json"));
        for (const char* key : { "clip_zero_shot", "FID", "unlearning", "per_class" })
            QVERIFY2(run2.at("metrics_before").at(key) == run.at("metrics_before").at(key), key);
    }
    for (const char* key : { "run/clip", "run/inception", "run/fidReference", "run/measure" })
        QSettings().remove(QString::fromLatin1(key));
}

void TestGui::robustnessPanelAttacksTheFinishedRun()
{
    // The class attack from the Robustness tab: unavailable before a run, then a short attack end to end (its
    // figures in the panel, the Metrics view and the exported run.json), and a long one cancelled.
    test::writeTinyCifarClassifier(m_dir / "attack-classifier.safetensors");
    gui::MainWindow window(m_model, m_data);
    window.show();
    gui::ClassTab* tab = window.classTab();
    QTRY_VERIFY_WITH_TIMEOUT(tab->isModelOpen(), 60000);
    tab->openModel(m_model, m_data, QString::fromStdString((m_dir / "attack-classifier.safetensors").string()));
    QTRY_VERIFY_WITH_TIMEOUT(tab->isModelOpen() && tab->measureBox()->isEnabled(), 60000);
    gui::RobustnessPanel* panel = tab->robustnessPanel();
    QVERIFY(panel);
    QVERIFY(!panel->startButton()->isEnabled());
    QVERIFY2(panel->startButton()->toolTip().startsWith(QStringLiteral("Run unlearning first")),
        qPrintable(panel->startButton()->toolTip()));
    QCOMPARE(panel->kindBox()->currentData().toString(), QStringLiteral("class"));
    QVERIFY(!panel->tokensBox()->isVisibleTo(panel)); // Prompt attacks only.
    QCOMPARE(panel->seedsBox()->value(), 8); // The defaults.
    QCOMPARE(panel->stepsBox()->value(), 100);

    useTinyRun(tab, 3, 2);
    tab->measureBox()->setChecked(false);
    QSignalSpy finished(tab, &gui::ClassTab::runFinished);
    tab->startRun();
    QVERIFY(!panel->startButton()->isEnabled());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
    QCOMPARE(tab->lastOutcome(), QStringLiteral("finished"));
    QVERIFY(panel->startButton()->isEnabled());

    // A short attack, started as a user does (the tab, then the button).
    auto* tabs = qobject_cast<QTabWidget*>(panel->parentWidget()->parentWidget());
    QVERIFY(tabs);
    tabs->setCurrentWidget(panel);
    panel->stepsBox()->setValue(2);
    panel->seedsBox()->setValue(2);
    panel->targetsBox()->setValue(2);
    QTest::mouseClick(panel->startButton(), Qt::LeftButton);
    QVERIFY(tab->isAttacking() && panel->isAttacking());
    QVERIFY(!panel->startButton()->isEnabled() && panel->cancelButton()->isEnabled());
    QVERIFY(!tab->startButton()->isEnabled()); // No run while the worker attacks.
    QTRY_VERIFY_WITH_TIMEOUT(!tab->isAttacking(), 300000);
    QCOMPARE(panel->lastOutcome(), QStringLiteral("finished"));
    QVERIFY2(panel->hasResult(), qPrintable(panel->noteLabel()->text()));
    const QRegularExpression figures(
        QStringLiteral("^Pre-ASR \\d+\\.\\d % → Post-ASR \\d+\\.\\d % \\(class attack, 1 class × 2 seeds\\)$"));
    QVERIFY2(figures.match(panel->figuresLabel()->text()).hasMatch(), qPrintable(panel->figuresLabel()->text()));
    QCOMPARE(panel->table()->rowCount(), 1);
    QVERIFY2(panel->table()->item(0, 0)->text().contains(QStringLiteral("cat")),
        qPrintable(panel->table()->item(0, 0)->text()));
    QVERIFY(!panel->table()->item(0, 1)->text().isEmpty()); // The label vector.
    QCOMPARE(panel->plainGrid()->rows(), 1);
    QCOMPARE(panel->plainGrid()->columns(), 2);
    QCOMPARE(panel->adversarialGrid()->cells().size(), qsizetype { 2 });
    QCOMPARE(panel->lossPlot()->points(0).size(), qsizetype { 2 });
    QCOMPARE(panel->result().rows.at(0).losses.size(), qsizetype { 2 });
    // The figures join the run's metrics, and the export's manifest.
    QVERIFY2(tab->metricsView()->summaryText().endsWith(QStringLiteral("Robustness: ") + panel->figuresText()),
        qPrintable(tab->metricsView()->summaryText()));
    QVERIFY2(window.statusBar()->currentMessage().startsWith(QStringLiteral("Attack finished: Pre-ASR")),
        qPrintable(window.statusBar()->currentMessage()));
    QSignalSpy exported(tab, &gui::ClassTab::exportFinished);
    tab->exportTo(QString::fromStdString((m_dir / "attack-export").string()));
    QTRY_VERIFY_WITH_TIMEOUT(exported.count() == 1, 60000);
    QVERIFY2(exported.at(0).at(0).toBool(), qPrintable(exported.at(0).at(1).toString()));
    const auto manifest = nlohmann::json::parse(test::readBytes(m_dir / "attack-export" / "run.json"));
    QVERIFY(manifest.contains("attack"));
    QCOMPARE(manifest.at("attack").at("post_asr").get<double>(), panel->result().postAsr);
    QCOMPARE(manifest.at("attack").at("pre_asr").get<double>(), panel->result().preAsr);
    QCOMPARE(manifest.at("attack").at("per_prompt").size(), std::size_t { 1 });

    // A long attack, cancelled: the worker is free again and nothing is shown as a result.
    panel->stepsBox()->setValue(100000);
    QTest::mouseClick(panel->startButton(), Qt::LeftButton);
    QVERIFY(panel->isAttacking());
    QVERIFY(!panel->hasResult());
    QTRY_VERIFY_WITH_TIMEOUT(panel->lossPlot()->points(0).size() + panel->lossPlot()->pendingCount() >= 1, 300000);
    QTest::mouseClick(panel->cancelButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(!tab->isAttacking(), 60000);
    QCOMPARE(panel->lastOutcome(), QStringLiteral("cancelled"));
    QVERIFY(!panel->hasResult());
    QVERIFY(panel->startButton()->isEnabled());
    QVERIFY(tab->startButton()->isEnabled());
}

void TestGui::translationsAreCompiledIn_data()
{
    QTest::addColumn<QString>("language");
    QTest::addColumn<QString>("start");
    QTest::addColumn<QString>("losses");
    QTest::addColumn<QString>("robustness");
    QTest::newRow("German") << QStringLiteral("de") << QStringLiteral("&Starten") << QStringLiteral("Verluste")
                            << QStringLiteral("Ro&bustheit");
    QTest::newRow("Simplified Chinese") << QStringLiteral("zh_CN") << QStringLiteral("开始(&S)")
                                        << QStringLiteral("损失") << QStringLiteral("稳健性(&B)");
}

void TestGui::translationsAreCompiledIn()
{
    QFETCH(QString, language);
    QFETCH(QString, start);
    QFETCH(QString, losses);
    QFETCH(QString, robustness);
    QTranslator translator;
    QVERIFY2(translator.load(QStringLiteral(":/i18n/lethe_") + language), qPrintable(language));
    QVERIFY(QCoreApplication::installTranslator(&translator));
    {
        gui::MainWindow window(m_model, m_data);
        QCOMPARE(window.classTab()->startButton()->text(), start);
        QVERIFY(window.windowTitle() != QStringLiteral("Lethe — unlearning workbench"));
        // The curves' tabs too, whose strings live outside any class.
        const auto tabWidgets = window.findChildren<QTabWidget*>();
        const auto hasTab = [&](const QString& text) {
            return std::any_of(tabWidgets.begin(), tabWidgets.end(), [&](const QTabWidget* tabs) {
                for (int i = 0; i < tabs->count(); ++i)
                    if (tabs->tabText(i) == text)
                        return true;
                return false;
            });
        };
        QVERIFY(hasTab(losses));
        // The Robustness panel's tab and its start button.
        QVERIFY(hasTab(robustness));
        const gui::RobustnessPanel* panel = window.classTab()->robustnessPanel();
        QVERIFY(panel);
        QVERIFY(panel->startButton()->text() != QStringLiteral("Start atta&ck"));
        // The hyperparameter panels' mnemonics stay unique in the translation, the check boxes' included.
        for (const widgets::HyperparameterPanel* hyperparameters :
            { window.classTab()->panel(), window.conceptTab()->panel() }) {
            QStringList letters;
            for (const QWidget* w : hyperparameters->findChildren<QWidget*>()) {
                QString text;
                if (const auto* label = qobject_cast<const QLabel*>(w))
                    text = label->text();
                else if (const auto* box = qobject_cast<const QCheckBox*>(w))
                    text = box->text();
                else
                    continue;
                const qsizetype amp = text.indexOf(QLatin1Char('&'));
                QVERIFY2(amp >= 0 && amp + 1 < text.size(), qPrintable(text));
                const QString letter = text.mid(amp + 1, 1).toLower();
                QVERIFY2(!letters.contains(letter), qPrintable(QStringLiteral("%1 (%2) again").arg(letter, text)));
                letters << letter;
            }
            QCOMPARE(letters.size(), qsizetype { 21 });
            QVERIFY(hyperparameters->gradientCheckpointingBox()->text() != QStringLiteral("Gradient chec&kpointing"));
        }
    }
    QCoreApplication::removeTranslator(&translator);
    QTranslator missing;
    QVERIFY(!missing.load(QStringLiteral(":/i18n/lethe_xx")));
}

void TestGui::firstSizeFitsTheScreenAndGeometryIsRemembered()
{
    QSettings().clear(); // A new user.
    const QSize available = QGuiApplication::primaryScreen()->availableGeometry().size();
    {
        gui::MainWindow window(m_model, m_data);
        // 1400 × 900 where the screen has room (offscreen it is 800 × 600), else the screen.
        QCOMPARE(window.size(), QSize(1400, 900).boundedTo(available));
        window.show();
        window.resize(1300, 700);
        QTRY_VERIFY_WITH_TIMEOUT(window.classTab()->isModelOpen(), 60000);
        QVERIFY(window.close());
    }
    // The next start: the size the window had when it closed.
    gui::MainWindow again(m_model, m_data);
    QCOMPARE(again.size(), QSize(1300, 700));
    again.show();
    QCOMPARE(again.size(), QSize(1300, 700));
    QTRY_VERIFY_WITH_TIMEOUT(again.classTab()->isModelOpen(), 60000);
    QSettings().clear();
}

void TestGui::runBoxStaysInViewOnALaptopScreen_data()
{
    QTest::addColumn<QSize>("size");
    QTest::newRow("1366 × 768") << QSize(1366, 768);
    // A 1366 × 768 laptop's window, less its title bar and the desktop's panel.
    QTest::newRow("1366 × 700") << QSize(1366, 700);
}

void TestGui::runBoxStaysInViewOnALaptopScreen()
{
    QFETCH(QSize, size);
    QSettings().clear();
    gui::MainWindow window(m_model, m_data);
    window.resize(size);
    window.show();
    QTRY_VERIFY_WITH_TIMEOUT(window.classTab()->isModelOpen(), 60000);
    QCOMPARE(window.size(), size);
    // Start, the progress bar and the rate line are never scrolled away; the rest scrolls up and down only.
    for (gui::RunTab* tab : std::initializer_list<gui::RunTab*> { window.classTab(), window.conceptTab() }) {
        window.topTabs()->setCurrentWidget(tab);
        QTest::qWait(50);
        const QString which = tab == window.classTab() ? QStringLiteral("Class") : QStringLiteral("Concept");
        QVERIFY2(wholeInView(tab->startButton(), &window), qPrintable(which + QStringLiteral(": Start")));
        QVERIFY2(wholeInView(tab->pauseButton(), &window), qPrintable(which + QStringLiteral(": Pause")));
        QVERIFY2(wholeInView(tab->stopButton(), &window), qPrintable(which + QStringLiteral(": Stop")));
        QVERIFY2(wholeInView(tab->progressBar(), &window), qPrintable(which + QStringLiteral(": progress bar")));
        QVERIFY2(scrollsUpAndDownOnly(tab), qPrintable(which + QStringLiteral(": a horizontal scroll bar")));
    }
    QVERIFY(window.conceptTab()->isBusy() || window.conceptTab()->isModelOpen()); // Opening the built-in model.
}

void TestGui::baseFiguresAfterTheRunThenFromTheMeasureCache()
{
    // A cache of this test's own: the first run finds nothing in it.
    const MeasureCacheDir cacheDir(m_dir / "measure-cache");
    test::writeTinyCifarClassifier(m_dir / "cache-classifier.safetensors");
    const QString classifier = QString::fromStdString((m_dir / "cache-classifier.safetensors").string());
    // Start to the first step on the curves, and the statuses shown until then.
    const auto startToFirstStep = [](gui::ClassTab* tab, QStringList* statuses) {
        QSignalSpy status(tab, &gui::ClassTab::statusMessage);
        QElapsedTimer clock;
        clock.start();
        QTest::mouseClick(tab->startButton(), Qt::LeftButton);
        [&] {
            QTRY_VERIFY_WITH_TIMEOUT(tab->lossPlot()->points(0).size() + tab->lossPlot()->pendingCount() >= 1, 120000);
        }();
        const qint64 ms = clock.elapsed();
        for (const QList<QVariant>& args : status)
            *statuses << args.at(0).toString();
        return ms;
    };

    // A window's Class tab on the tiny model, set for a short run that measures (2 images a class).
    const auto prepareTab = [&](gui::MainWindow& window) {
        window.show();
        gui::ClassTab* tab = window.classTab();
        [&] { QTRY_VERIFY_WITH_TIMEOUT(tab->isModelOpen(), 60000); }();
        tab->openModel(m_model, m_data, classifier);
        [&] { QTRY_VERIFY_WITH_TIMEOUT(tab->isModelOpen() && tab->measureBox()->isEnabled(), 60000); }();
        useTinyRun(tab, 2, 3);
        tab->measureBox()->setChecked(true);
        tab->measureImagesBox()->setValue(2);
        return tab;
    };

    const QString samplingPreview = QStringLiteral("Sampling the base model's preview");
    const auto previewFiles = [&] {
        int files = 0;
        for (const auto& entry : std::filesystem::directory_iterator(m_dir / "measure-cache" / "measures"))
            files += entry.path().extension() == ".safetensors" ? 1 : 0;
        return files;
    };
    qint64 firstMs = 0;
    QList<double> before;
    QList<QImage> beforeCells;
    {
        gui::MainWindow window(m_model, m_data);
        gui::ClassTab* tab = prepareTab(window);
        QVERIFY(!QTest::currentTestFailed());
        QSignalSpy finished(tab, &gui::ClassTab::runFinished);
        QStringList statuses;
        firstMs = startToFirstStep(tab, &statuses);
        // Nothing measured or drawn yet: the run steps first; the base model's preview is drawn and measured after it,
        // and the before grid says so meanwhile.
        for (const QString& phase : { QStringLiteral("Measuring the base model"), samplingPreview })
            QVERIFY2(!statuses.contains(phase), qPrintable(statuses.join(u'|')));
        QVERIFY(tab->metricsView()->barValues(0).isEmpty());
        QVERIFY(tab->beforeGrid()->cells().isEmpty());
        QCOMPARE(tab->beforeGrid()->placeholder(),
            QStringLiteral("The base model's samples are drawn when the run ends, and kept for the next runs with the "
                           "same preview seeds."));
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
        QCOMPARE(tab->lastOutcome(), QStringLiteral("finished"));
        QVERIFY2(!window.logView()->toPlainText().contains(QStringLiteral("read from the measure cache")),
            qPrintable(window.logView()->toPlainText()));
        before = tab->metricsView()->barValues(0);
        QCOMPARE(before.size(), qsizetype { 10 });
        QCOMPARE(tab->metricsView()->barValues(1).size(), qsizetype { 10 });
        // The before grid after the run: every class, four seeds, beside the after grid's images of the same seeds.
        beforeCells = tab->beforeGrid()->cells();
        QCOMPARE(beforeCells.size(), qsizetype { 40 });
        QCOMPARE(tab->beforeGrid()->rows(), 10);
        QCOMPARE(tab->afterGrid()->cells().size(), qsizetype { 40 });
        QCOMPARE(previewFiles(), 1);
    }
    // Another window (nothing in memory): the base model's figures and preview are read from the cache, the figures
    // under the key the CLI uses, before the first step; no image of the base model is sampled, then or after the run.
    gui::MainWindow window(m_model, m_data);
    gui::ClassTab* tab = prepareTab(window);
    QVERIFY(!QTest::currentTestFailed());
    QSignalSpy finished(tab, &gui::ClassTab::runFinished);
    QSignalSpy wholeRun(tab, &gui::ClassTab::statusMessage);
    QStringList statuses;
    const qint64 secondMs = startToFirstStep(tab, &statuses);
    QVERIFY2(!statuses.contains(QStringLiteral("Measuring the base model")), qPrintable(statuses.join(u'|')));
    QCOMPARE(tab->metricsView()->barValues(0), before); // Shown by the first step.
    QCOMPARE(tab->beforeGrid()->cells(), beforeCells); // So is the preview.
    for (const QString& line : { QStringLiteral("the base model's figures read from the measure cache "),
             QStringLiteral("the base model's preview read from the measure cache ") })
        QVERIFY2(window.logView()->toPlainText().contains(line), qPrintable(window.logView()->toPlainText()));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
    QCOMPARE(tab->lastOutcome(), QStringLiteral("finished"));
    QCOMPARE(tab->metricsView()->barValues(0), before);
    QCOMPARE(tab->metricsView()->barValues(1).size(), qsizetype { 10 });
    QCOMPARE(tab->beforeGrid()->cells(), beforeCells);
    for (const QList<QVariant>& args : wholeRun)
        QVERIFY2(args.at(0).toString() != samplingPreview, "the base model's preview was sampled again");
    QCOMPARE(previewFiles(), 1);
    // Again in the same window: the base model's preview is the one drawn for the last run, the figures too.
    const QImage beforeCell = tab->beforeGrid()->cell(2, 0);
    statuses.clear();
    const qint64 thirdMs = startToFirstStep(tab, &statuses);
    for (const QString& phase : { QStringLiteral("Measuring the base model"), samplingPreview })
        QVERIFY2(!statuses.contains(phase), qPrintable(statuses.join(u'|')));
    QCOMPARE(tab->beforeGrid()->cell(2, 0), beforeCell);
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 300000);
    qInfo("Start to the first step: %lld ms with nothing measured or drawn before, %lld ms with the base model's "
          "figures and preview in the measure cache, %lld ms with them kept from the last run",
        firstMs, secondMs, thirdMs);
}

void TestGui::startToFirstStepOfTheBuiltInModel()
{
    // A new user's first Start on the built-in model with the Class tab's defaults (class 7), timed from the click to
    // the first step on the curves; run again in another process with the same LETHE_CACHE_DIR, it times a Start after
    // the program restarted.
    if (qEnvironmentVariableIsEmpty("LETHE_TIME_FIRST_STEP"))
        QSKIP("set LETHE_TIME_FIRST_STEP=1 and LETHE_CACHE_DIR to time Start to the first step on the built-in model");
    torch::set_num_threads(std::max(1, hardwareThreads()));
    QSettings().clear();
    gui::MainWindow window;
    window.show();
    gui::ClassTab* tab = window.classTab();
    QTRY_VERIFY_WITH_TIMEOUT(tab->isModelOpen(), 120000);
    tab->classPicker()->setCurrentClass(7);
    QSignalSpy finished(tab, &gui::ClassTab::runFinished);
    QSignalSpy statuses(tab, &gui::ClassTab::statusMessage);
    QElapsedTimer clock;
    clock.start();
    QTest::mouseClick(tab->startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(tab->lossPlot()->points(0).size() + tab->lossPlot()->pendingCount() >= 1, 600000);
    const qint64 firstStepMs = clock.elapsed();
    bool previewSampled = false;
    for (const QList<QVariant>& args : statuses)
        previewSampled = previewSampled || args.at(0).toString() == QStringLiteral("Sampling the base model's preview");
    const QString log = window.logView()->toPlainText();
    const auto from = [&](const char* what) {
        return log.contains(QStringLiteral("the base model's %1 read from the measure cache").arg(QLatin1String(what)))
            ? "read from the measure cache"
            : "not in the measure cache";
    };
    tab->stopRun();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 600000);
    QCOMPARE(tab->beforeGrid()->cells().size(), qsizetype { 40 }); // Drawn after the stop when it was not kept.
    qInfo("Class tab, built-in model, class 7, %d threads: %lld ms from Start to the first step; the base model's "
          "figures %s, its preview %s%s",
        torch::get_num_threads(), firstStepMs, from("figures"), from("preview"),
        previewSampled ? " (sampled before the first step)" : "");
}

void TestGui::screenshotsOnALaptopScreen()
{
    // The built-in models at 1366 × 768, as a new user finds them: both tabs at start-up and during a run started
    // by one click on Start, and the time from Start to the first step on the curves.
    const QString dir = qEnvironmentVariable("LETHE_LAPTOP_SCREENSHOT_DIR");
    if (dir.isEmpty())
        QSKIP("set LETHE_LAPTOP_SCREENSHOT_DIR (and QTEST_FUNCTION_TIMEOUT=3600000: the concept run draws its "
              "training images first) to save screenshots of both tabs at 1366 × 768");
    torch::set_num_threads(std::max(1, hardwareThreads()));
    QSettings().clear();
    gui::MainWindow window;
    window.resize(1366, 768);
    window.show();
    gui::ClassTab* classTab = window.classTab();
    QTRY_VERIFY_WITH_TIMEOUT(classTab->isModelOpen(), 120000);
    QTest::qWait(300);
    QVERIFY(window.grab().save(dir + QStringLiteral("/class-startup.png")));
    classTab->classPicker()->setCurrentClass(7);
    QSignalSpy classFinished(classTab, &gui::ClassTab::runFinished);
    QElapsedTimer clock;
    clock.start();
    QTest::mouseClick(classTab->startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(
        classTab->lossPlot()->points(0).size() + classTab->lossPlot()->pendingCount() >= 1, 600000);
    const qint64 firstStepMs = clock.elapsed();
    const bool fromCache = window.logView()->toPlainText().contains(QStringLiteral("read from the measure cache"));
    QTRY_VERIFY_WITH_TIMEOUT(classTab->lossPlot()->points(0).size() >= 5, 600000);
    QTest::qWait(300);
    QVERIFY(window.grab().save(dir + QStringLiteral("/class-running.png")));
    classTab->stopRun();
    QTRY_VERIFY_WITH_TIMEOUT(classFinished.count() == 1, 600000);
    // Start again: the base model's preview drawn by the first run shows at once too.
    clock.restart();
    QTest::mouseClick(classTab->startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(
        classTab->lossPlot()->points(0).size() + classTab->lossPlot()->pendingCount() >= 1, 600000);
    const qint64 againMs = clock.elapsed();
    classTab->stopRun();
    QTRY_VERIFY_WITH_TIMEOUT(classFinished.count() == 2, 600000);
    qInfo("Class tab, built-in model, class 7: %lld ms from Start to the first step (base model's figures %s; its "
          "preview drawn), %lld ms on a second Start (preview kept from the first)",
        firstStepMs, fromCache ? "read from the measure cache" : "not in the measure cache: measured after the run",
        againMs);

    gui::ConceptTab* conceptTab = window.conceptTab();
    QSignalSpy opened(conceptTab, &gui::ConceptTab::modelOpened);
    QTest::mouseClick(window.topTabs()->tabBar(), Qt::LeftButton, {},
        window.topTabs()->tabBar()->tabRect(window.topTabs()->indexOf(conceptTab)).center());
    QVERIFY(opened.wait(120000) && opened.at(0).at(0).toBool());
    QTest::qWait(300);
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-startup.png")));
    QSignalSpy conceptFinished(conceptTab, &gui::ConceptTab::runFinished);
    clock.restart();
    QTest::mouseClick(conceptTab->startButton(), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(conceptTab->isRunning(), 60000);
    QTest::qWait(3000);
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-drawing.png")));
    QTRY_VERIFY_WITH_TIMEOUT(conceptTab->lossPlot()->points(0).size() >= 5, 3600000);
    const qint64 conceptMs = clock.elapsed();
    QTest::qWait(300);
    QVERIFY(window.grab().save(dir + QStringLiteral("/concept-running.png")));
    conceptTab->stopRun();
    QTRY_VERIFY_WITH_TIMEOUT(conceptFinished.count() == 1, 600000);
    qInfo("Concept tab, built-in model: %lld ms from one click on Start to step 5 (training images drawn or read "
          "from the cache first); status: %s",
        conceptMs, qPrintable(conceptTab->lastStatus()));
}

void TestGui::screenshotsOfTheBuiltInDefault()
{
    const QString dir = qEnvironmentVariable("LETHE_SCREENSHOT_DIR");
    if (dir.isEmpty())
        QSKIP("set LETHE_SCREENSHOT_DIR (and QTEST_FUNCTION_TIMEOUT=3600000: the run takes minutes) to run the "
              "built-in model and save screenshots");
    torch::set_num_threads(std::max(1, hardwareThreads()));
    QSettings().clear(); // A new user: the defaults, nothing from the tests before.
    gui::MainWindow window;
    window.resize(1500, 950);
    window.show();
    QTRY_VERIFY_WITH_TIMEOUT(window.classTab()->isModelOpen(), 120000);
    // As a user would: click the class, leave the defaults, click Start.
    auto* list = window.classTab()->classPicker()->findChild<QListWidget*>();
    QVERIFY(list && list->count() == 10);
    list->scrollToItem(list->item(7));
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualItemRect(list->item(7)).center());
    QCOMPARE(window.classTab()->classPicker()->currentClass(), 7);
    QTest::qWait(300);
    QVERIFY(window.grab().save(dir + QStringLiteral("/idle.png")));
    const widgets::RunSettings s = window.classTab()->panel()->settings();
    QVERIFY(window.classTab()->measureBox()->isChecked());
    QSignalSpy finished(window.classTab(), &gui::ClassTab::runFinished);
    QTest::mouseClick(window.classTab()->startButton(), Qt::LeftButton);
    QVERIFY(window.classTab()->isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(window.classTab()->lossPlot()->points(0).size() >= s.steps / 2, 3600000);
    QTest::qWait(500);
    QVERIFY(window.grab().save(dir + QStringLiteral("/running.png")));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 3600000);
    QTest::qWait(500);
    QVERIFY(window.grab().save(dir + QStringLiteral("/finished.png")));
    // The measurements, as a user opens them: a click on the Metrics tab.
    auto* tabs = qobject_cast<QTabWidget*>(window.classTab()->metricsView()->parentWidget()->parentWidget());
    QVERIFY(tabs);
    const int metricsTab = tabs->indexOf(window.classTab()->metricsView());
    QTest::mouseClick(tabs->tabBar(), Qt::LeftButton, {}, tabs->tabBar()->tabRect(metricsTab).center());
    QCOMPARE(tabs->currentIndex(), metricsTab);
    QTest::qWait(300);
    QVERIFY(window.grab().save(dir + QStringLiteral("/finished-metrics.png")));
    qInfo("built-in run: %s, %.3f steps/s of wall time (%.3f steps/s counting step time only); %s",
        qPrintable(window.classTab()->lastOutcome()), window.classTab()->wallStepsPerSecond(),
        window.classTab()->stepsPerSecond(), qPrintable(window.classTab()->metricsView()->summaryText()));
}

QTEST_MAIN(TestGui)
#include "test_gui.moc"
