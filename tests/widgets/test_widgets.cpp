// Widget tests: run offscreen, no core.
#include "widgets/class_picker.h"
#include "widgets/curve_plot.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/log_view.h"
#include "widgets/metrics_view.h"
#include "widgets/sample_grid.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QTemporaryDir>

#include <functional>

#include <QListWidget>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

using lethe::widgets::ClassEntry;
using lethe::widgets::ClassPicker;

class TestWidgets : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void classPickerShowsNamesCountsAndThumbnails();
    void classPickerReportsChoiceByKeyboard();
    void curvePlotBuffersPointsAndThrottlesRedraws();
    void curvePlotSmoothsMarksAndReadsOut();
    void curvePlotExportsCsvAndPng();
    void curvePlotReportsAnUnwritableFile();
    void sampleGridDrawsCellsAndHighlightsTheRow();
    void sampleGridActivatesCellsByMouseAndKeyboard();
    void differenceImageAmplifiesAndRejectsSizeMismatch();
    void hyperparameterPanelSendsLiveChangesOnlyWhileRunning();
    void hyperparameterPanelAppliesPresetsAndLocksDuringARun();
    void hyperparameterPanelShowsTheFieldsOfItsKind();
    void hyperparameterPanelShowsTheRowsOfTheMethod_data();
    void hyperparameterPanelShowsTheRowsOfTheMethod();
    void hyperparameterPanelCarriesSalUnAndUceSettings();
    void hyperparameterPanelCarriesPrecisionAndMemorySettings();
    void hyperparameterPanelMnemonicsAreUnique();
    void metricsViewShowsBeforeAndAfter();
    void metricsViewShowsTheRobustnessLine();
    void logViewKeepsALimitedHistory();
};

namespace {
QList<ClassEntry> threeClasses()
{
    QList<ClassEntry> classes;
    for (int i = 0; i < 3; ++i) {
        QImage image(28, 28, QImage::Format_Grayscale8);
        image.fill(i * 100);
        classes.append({ QStringLiteral("class %1").arg(i), image, 6000 + i });
    }
    return classes;
}
} // namespace

void TestWidgets::classPickerShowsNamesCountsAndThumbnails()
{
    ClassPicker picker;
    picker.setClasses(threeClasses());
    QCOMPARE(picker.classCount(), 3);
    QCOMPARE(picker.className(2), QStringLiteral("class 2"));
    QCOMPARE(picker.currentClass(), -1);
    auto* list = picker.findChild<QListWidget*>();
    QVERIFY(list);
    QCOMPARE(list->item(1)->text(), QStringLiteral("1  class 1 (6001 images)"));
    const QImage icon = list->item(2)->icon().pixmap(48, 48).toImage();
    QVERIFY(!icon.isNull());
    QCOMPARE(qGray(icon.pixel(24, 24)), 200);
    QCOMPARE(picker.className(5), QString());
}

void TestWidgets::classPickerReportsChoiceByKeyboard()
{
    ClassPicker picker;
    picker.setClasses(threeClasses());
    QSignalSpy spy(&picker, &ClassPicker::currentClassChanged);
    picker.setCurrentClass(0);
    auto* list = picker.findChild<QListWidget*>();
    QTest::keyClick(list, Qt::Key_Down);
    QCOMPARE(picker.currentClass(), 1);
    QCOMPARE(spy.count(), 2);
    QCOMPARE(spy.last().first().toInt(), 1);
    // Replacing the classes does not report a spurious choice.
    picker.setClasses(threeClasses());
    QCOMPARE(spy.count(), 2);
}

using namespace lethe::widgets;

void TestWidgets::curvePlotBuffersPointsAndThrottlesRedraws()
{
    CurvePlot plot(QStringLiteral("loss"));
    const int loss = plot.addSeries(QStringLiteral("L_f"), Qt::red);
    plot.resize(400, 300);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    const int before = plot.redrawCount();
    // 2000 points as fast as a run could send them, over about 300 ms.
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < 2000; ++i) {
        plot.append(loss, i, 1.0 / (i + 1));
        if (i % 20 == 0) {
            QTest::qWait(3);
        }
    }
    QCOMPARE(plot.points(loss).size() + plot.pendingCount(), qsizetype { 2000 });
    QTRY_COMPARE(plot.pendingCount(), qsizetype { 0 });
    const double seconds = clock.elapsed() / 1000.0;
    const int redraws = plot.redrawCount() - before;
    QVERIFY2(redraws >= 1, "nothing was drawn");
    // At most 30 a second, with one frame of slack for the timer's edges.
    QVERIFY2(redraws <= static_cast<int>(seconds * CurvePlot::maxRedrawsPerSecond()) + 2,
        qPrintable(QStringLiteral("%1 redraws in %2 s").arg(redraws).arg(seconds)));
    QVERIFY(redraws < 200);
    QCOMPARE(plot.points(loss).size(), qsizetype { 2000 });
    QCOMPARE(plot.points(loss).last(), QPointF(1999, 1.0 / 2000));
    // Points for an unknown series are ignored, not a crash.
    plot.append(7, 1, 1);
    QCOMPARE(plot.pendingCount(), qsizetype { 0 });
}

void TestWidgets::curvePlotSmoothsMarksAndReadsOut()
{
    CurvePlot plot(QStringLiteral("loss"));
    const int loss = plot.addSeries(QStringLiteral("L_f"), Qt::red, true);
    const int projected = plot.addMarkerSeries(QStringLiteral("projected"), Qt::black);
    QCOMPARE(plot.seriesCount(), 3);
    QCOMPARE(plot.seriesName(1), QStringLiteral("L_f (smoothed)"));
    plot.setSmoothing(0.5);
    plot.append(loss, 1, 4.0);
    plot.append(loss, 2, 8.0);
    plot.append(loss, 3, 0.0);
    plot.append(projected, 2, 8.0);
    plot.addMarker(2, QStringLiteral("λ 5 → 2"));
    plot.flush();
    QCOMPARE(plot.points(1), (QList<QPointF> { { 1, 4.0 }, { 2, 6.0 }, { 3, 3.0 } }));
    QCOMPARE(plot.markerCount(), 1);
    QCOMPARE(plot.readout(2.2), QStringLiteral("step 2 · L_f 8 · L_f (smoothed) 6 · projected 8"));
    QCOMPARE(plot.readout(100), QStringLiteral("step 3 · L_f 0 · L_f (smoothed) 3"));
    plot.setLogScale(true);
    QVERIFY(plot.logScale());
    plot.clear();
    QCOMPARE(plot.points(loss).size(), qsizetype { 0 });
    QCOMPARE(plot.markerCount(), 0);
    QCOMPARE(plot.readout(1), QString());
}

void TestWidgets::curvePlotExportsCsvAndPng()
{
    QTemporaryDir dir;
    CurvePlot plot(QStringLiteral("loss"));
    const int a = plot.addSeries(QStringLiteral("L_f"), Qt::red);
    const int b = plot.addSeries(QStringLiteral("L_r"), Qt::blue);
    plot.append(a, 1, 0.5);
    plot.append(b, 1, 2);
    plot.append(a, 2, 0.25);
    plot.flush();
    const QString csv = dir.filePath(QStringLiteral("curves.csv"));
    QVERIFY(plot.exportCsv(csv));
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(QString::fromUtf8(file.readAll()), QStringLiteral("step,\"L_f\",\"L_r\"\n1,0.5,2\n2,0.25,\n"));
    const QString png = dir.filePath(QStringLiteral("curves.png"));
    QVERIFY(plot.exportPng(png, 600, 400));
    const QImage image(png);
    QCOMPARE(image.size(), QSize(600, 400));
}

void TestWidgets::curvePlotReportsAnUnwritableFile()
{
    CurvePlot plot(QStringLiteral("loss"));
    plot.addSeries(QStringLiteral("L_f"), Qt::red);
    QVERIFY(!plot.exportCsv(QStringLiteral("/nonexistent-folder/curves.csv")));
    QVERIFY(!plot.exportPng(QStringLiteral("/nonexistent-folder/curves.png")));
}

namespace {
QList<QImage> cells(int count, int value)
{
    QList<QImage> out;
    for (int i = 0; i < count; ++i) {
        QImage image(8, 8, QImage::Format_Grayscale8);
        image.fill(value + i);
        out.append(image);
    }
    return out;
}
} // namespace

void TestWidgets::sampleGridDrawsCellsAndHighlightsTheRow()
{
    SampleGrid grid;
    grid.setPlaceholder(QStringLiteral("no samples yet"));
    grid.resize(300, 200);
    QCOMPARE(grid.rows(), 0);
    grid.setCells(cells(6, 10), 2, { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c") });
    grid.setHighlightedRow(1);
    QCOMPARE(grid.rows(), 3);
    QCOMPARE(grid.columns(), 2);
    QCOMPARE(qGray(grid.cell(2, 1).pixel(0, 0)), 15);
    const QImage shot = grid.grab().toImage();
    const QRect r = grid.cellRect(2, 1);
    QVERIFY(r.width() >= 16 && r.width() % 8 == 0); // whole-number scaling
    QCOMPARE(qGray(shot.pixel(r.center())), 15);
    // The highlighted row's frame is red, just outside its first cell.
    const QRect h = grid.cellRect(1, 0);
    const QColor frame = shot.pixelColor(h.left() - 2, h.center().y());
    QVERIFY2(frame.red() > 200 && frame.green() < 80, qPrintable(frame.name()));
    QCOMPARE(grid.cellRect(3, 0), QRect());
}

void TestWidgets::sampleGridActivatesCellsByMouseAndKeyboard()
{
    SampleGrid grid;
    grid.resize(300, 200);
    grid.setCells(cells(6, 0), 3);
    QSignalSpy spy(&grid, &SampleGrid::cellActivated);
    QTest::mouseClick(&grid, Qt::LeftButton, {}, grid.cellRect(1, 2).center());
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), 1);
    QCOMPARE(spy.at(0).at(1).toInt(), 2);
    QTest::keyClick(&grid, Qt::Key_Up);
    QTest::keyClick(&grid, Qt::Key_Left);
    QTest::keyClick(&grid, Qt::Key_Up); // Already on the first row: stays.
    QTest::keyClick(&grid, Qt::Key_Return);
    QCOMPARE(spy.count(), 2);
    QCOMPARE(spy.at(1).at(0).toInt(), 0);
    QCOMPARE(spy.at(1).at(1).toInt(), 1);
}

void TestWidgets::differenceImageAmplifiesAndRejectsSizeMismatch()
{
    QImage a(2, 1, QImage::Format_Grayscale8);
    a.fill(100);
    QImage b = a.copy();
    b.setPixelColor(1, 0, QColor(110, 110, 110));
    const QImage d = differenceImage(a, b, 4.0);
    QCOMPARE(qGray(d.pixel(0, 0)), 0);
    QCOMPARE(qGray(d.pixel(1, 0)), 40);
    QVERIFY(differenceImage(a, QImage(3, 1, QImage::Format_Grayscale8)).isNull());
}

void TestWidgets::hyperparameterPanelSendsLiveChangesOnlyWhileRunning()
{
    HyperparameterPanel panel;
    QSignalSpy live(&panel, &HyperparameterPanel::liveChange);
    QSignalSpy changed(&panel, &HyperparameterPanel::settingsChanged);
    panel.lambdaBox()->setValue(2.0);
    QCOMPARE(live.count(), 0); // Not running: an ordinary edit.
    QCOMPARE(changed.count(), 1);
    panel.setRunning(true);
    panel.lambdaBox()->setValue(3.0);
    panel.alphaBox()->setValue(0.2);
    panel.lambdaBox()->setValue(3.0); // Same value: no change to send.
    QCOMPARE(live.count(), 2);
    QCOMPARE(live.at(0).at(0).toString(), QStringLiteral("lambda"));
    QCOMPARE(live.at(0).at(1).toDouble(), 3.0);
    QCOMPARE(live.at(1).at(0).toString(), QStringLiteral("alpha"));
    QCOMPARE(panel.settings().lambda, 3.0);
    // Typing does not send until the value is committed.
    panel.lrBox()->setFocus();
    panel.lrBox()->selectAll();
    QTest::keyClicks(panel.lrBox(), QStringLiteral("0.001"));
    QCOMPARE(live.count(), 2);
    QTest::keyClick(panel.lrBox(), Qt::Key_Return);
    QCOMPARE(live.count(), 3);
    QCOMPARE(live.at(2).at(1).toDouble(), 0.001);
}

void TestWidgets::hyperparameterPanelAppliesPresetsAndLocksDuringARun()
{
    HyperparameterPanel panel;
    panel.setMethods({ { QStringLiteral("graddiff"), QStringLiteral("GradDiff") },
        { QStringLiteral("rgd"), QStringLiteral("RGD") } });
    // Every value from the preset: the panel chooses none of its own.
    const RunSettings fast { QStringLiteral("rgd"), 0.1, 2.0, 1e-4, 120, 32, 10, 32, 0, QString(), 0.0, 0.5, QString(),
        QString(), 0.1, 1.0, 0.0, QString(), false, false };
    RunSettings paper = fast;
    paper.lambda = 5.0;
    paper.lr = 1e-5;
    paper.steps = 782;
    paper.forgetBatch = 64;
    paper.remainPerClass = 50;
    panel.setPresets({ { QStringLiteral("cpu-fast"), fast }, { QStringLiteral("paper"), paper } });
    QCOMPARE(panel.settings(), fast);
    QSignalSpy changed(&panel, &HyperparameterPanel::settingsChanged);
    panel.presetBox()->setCurrentIndex(1);
    Q_EMIT panel.presetBox()->activated(1);
    QCOMPARE(panel.settings(), paper);
    QCOMPARE(changed.count(), 1);
    panel.setRunning(true);
    QVERIFY(!panel.methodBox()->isEnabled());
    QVERIFY(!panel.presetBox()->isEnabled());
    QVERIFY(panel.lambdaBox()->isEnabled());
    panel.setRunning(false);
    QVERIFY(panel.methodBox()->isEnabled());
    // By name, as the app applies a model's recommended preset.
    QVERIFY(panel.applyPreset(QStringLiteral("cpu-fast")));
    QCOMPARE(panel.settings(), fast);
    QCOMPARE(panel.presetBox()->currentText(), QStringLiteral("cpu-fast"));
    QCOMPARE(changed.count(), 2);
    QVERIFY(!panel.applyPreset(QStringLiteral("no-such-preset")));
    QCOMPARE(panel.settings(), fast);
}

void TestWidgets::hyperparameterPanelShowsTheFieldsOfItsKind()
{
    HyperparameterPanel panel;
    panel.setMethods(
        { { QStringLiteral("rgd"), QStringLiteral("RGD") }, { QStringLiteral("esd"), QStringLiteral("ESD") } });
    panel.setParameterGroups({ { QStringLiteral("all"), QStringLiteral("All") },
        { QStringLiteral("cross-attn"), QStringLiteral("Cross-attention") },
        { QStringLiteral("no-cross-attn"), QStringLiteral("All but cross-attention") } });
    panel.show();
    // Class runs (the first kind): remain images per class, no parameter group or η.
    QCOMPARE(panel.kind(), RunKind::Class);
    QVERIFY(panel.isFieldShown(panel.remainPerClassBox()));
    QVERIFY(!panel.isFieldShown(panel.parameterBox()));
    QVERIFY(!panel.isFieldShown(panel.etaBox()));
    QVERIFY(panel.remainPerClassBox()->isVisible());
    QVERIFY(!panel.etaBox()->isVisible());
    panel.setKind(RunKind::Concept);
    QVERIFY(!panel.isFieldShown(panel.remainPerClassBox()));
    QVERIFY(panel.isFieldShown(panel.parameterBox()));
    QVERIFY(!panel.isFieldShown(panel.etaBox())); // ESD's alone.
    QVERIFY(!panel.remainPerClassBox()->isVisible());
    panel.methodBox()->setCurrentIndex(1);
    QVERIFY(panel.isFieldShown(panel.etaBox()));
    QVERIFY(panel.etaBox()->isVisible());
    panel.methodBox()->setCurrentIndex(0);
    for (QWidget* shared :
        std::initializer_list<QWidget*> { panel.presetBox(), panel.methodBox(), panel.alphaBox(), panel.lambdaBox(),
            panel.lrBox(), panel.stepsBox(), panel.forgetBatchBox(), panel.remainBatchBox(), panel.seedBox() })
        QVERIFY(panel.isFieldShown(shared));

    // The concept fields travel with the settings, and lock during a run as the others do (α, λ, lr stay live).
    const RunSettings esd { QStringLiteral("esd"), 1.1, 1.6, 1e-5, 100, 8, 1, 8, 3, QStringLiteral("cross-attn"), 2.5,
        0.5, QString(), QString(), 0.1, 1.0, 0.0, QString(), false, false };
    QSignalSpy changed(&panel, &HyperparameterPanel::settingsChanged);
    panel.setSettings(esd);
    QCOMPARE(changed.count(), 0);
    QCOMPARE(panel.settings(), esd);
    QCOMPARE(panel.parameterBox()->currentText(), QStringLiteral("Cross-attention"));
    panel.parameterBox()->setCurrentIndex(2);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(panel.settings().parameters, QStringLiteral("no-cross-attn"));
    panel.etaBox()->setValue(-1.0);
    QCOMPARE(panel.settings().eta, -1.0);
    panel.setRunning(true);
    QVERIFY(!panel.parameterBox()->isEnabled());
    QVERIFY(!panel.etaBox()->isEnabled());
    QVERIFY(panel.alphaBox()->isEnabled());
    panel.setRunning(false);
    QVERIFY(panel.parameterBox()->isEnabled() && panel.etaBox()->isEnabled());
    panel.setKind(RunKind::Class);
    QVERIFY(panel.isFieldShown(panel.remainPerClassBox()) && !panel.isFieldShown(panel.etaBox()));
}

namespace {

/// Every method key of either kind, as the app's workers offer them.
QList<QPair<QString, QString>> allMethods()
{
    QList<QPair<QString, QString>> methods;
    for (const char* key : { "rgd", "rg", "graddiff", "ga", "esd", "salun", "uce" })
        methods.append({ QString::fromLatin1(key), QString::fromLatin1(key).toUpper() });
    return methods;
}

/// The panel's fields by the names the rows test uses.
QMap<QString, QWidget*> panelFields(const HyperparameterPanel& panel)
{
    return { { QStringLiteral("alpha"), panel.alphaBox() }, { QStringLiteral("lambda"), panel.lambdaBox() },
        { QStringLiteral("lr"), panel.lrBox() }, { QStringLiteral("steps"), panel.stepsBox() },
        { QStringLiteral("forgetBatch"), panel.forgetBatchBox() },
        { QStringLiteral("remainPerClass"), panel.remainPerClassBox() },
        { QStringLiteral("remainBatch"), panel.remainBatchBox() }, { QStringLiteral("seed"), panel.seedBox() },
        { QStringLiteral("parameters"), panel.parameterBox() }, { QStringLiteral("eta"), panel.etaBox() },
        { QStringLiteral("saliency"), panel.saliencyFractionBox() }, { QStringLiteral("guide"), panel.uceGuideEdit() },
        { QStringLiteral("preserve"), panel.ucePreserveEdit() },
        { QStringLiteral("regularisation"), panel.uceRegularisationBox() },
        { QStringLiteral("eraseScale"), panel.uceEraseScaleBox() },
        { QStringLiteral("preserveScale"), panel.ucePreserveScaleBox() },
        { QStringLiteral("precision"), panel.precisionBox() },
        { QStringLiteral("checkpointing"), panel.gradientCheckpointingBox() },
        { QStringLiteral("attention"), panel.memoryEfficientAttentionBox() } };
}

} // namespace

void TestWidgets::hyperparameterPanelShowsTheRowsOfTheMethod_data()
{
    QTest::addColumn<bool>("isConcept");
    QTest::addColumn<QString>("method");
    QTest::addColumn<QStringList>("shown");
    const QStringList loop { QStringLiteral("alpha"), QStringLiteral("lambda"), QStringLiteral("lr"),
        QStringLiteral("steps"), QStringLiteral("forgetBatch"), QStringLiteral("remainBatch"), QStringLiteral("seed"),
        QStringLiteral("precision") };
    const QStringList classLoop = loop + QStringList { QStringLiteral("remainPerClass") };
    // Checkpointing and memory-efficient attention are the text-to-image UNet's.
    const QStringList conceptLoop = loop
        + QStringList { QStringLiteral("parameters"), QStringLiteral("checkpointing"), QStringLiteral("attention") };
    for (const char* method : { "rgd", "rg", "graddiff", "ga" }) {
        QTest::addRow("class %s", method) << false << QString::fromLatin1(method) << classLoop;
        QTest::addRow("concept %s", method) << true << QString::fromLatin1(method) << conceptLoop;
    }
    QTest::newRow("class salun") << false << QStringLiteral("salun")
                                 << classLoop + QStringList { QStringLiteral("saliency") };
    QTest::newRow("concept salun") << true << QStringLiteral("salun")
                                   << conceptLoop + QStringList { QStringLiteral("saliency") };
    QTest::newRow("concept esd") << true << QStringLiteral("esd")
                                 << conceptLoop + QStringList { QStringLiteral("eta") };
    // UCE's closed-form edit has no training loop: only its own settings and the seed.
    QTest::newRow("concept uce") << true << QStringLiteral("uce")
                                 << QStringList { QStringLiteral("seed"), QStringLiteral("guide"),
                                        QStringLiteral("preserve"), QStringLiteral("regularisation"),
                                        QStringLiteral("eraseScale"), QStringLiteral("preserveScale") };
}

void TestWidgets::hyperparameterPanelShowsTheRowsOfTheMethod()
{
    QFETCH(bool, isConcept);
    QFETCH(QString, method);
    const RunKind kind = isConcept ? RunKind::Concept : RunKind::Class;
    QFETCH(QStringList, shown);
    HyperparameterPanel panel;
    panel.setMethods(allMethods());
    panel.show();
    // The rows follow the method whether the kind or the method is chosen first.
    for (const bool kindFirst : { true, false }) {
        panel.setKind(kindFirst ? kind : (kind == RunKind::Class ? RunKind::Concept : RunKind::Class));
        panel.methodBox()->setCurrentIndex(panel.methodBox()->findData(method));
        panel.setKind(kind);
        QVERIFY(panel.isFieldShown(panel.presetBox()) && panel.isFieldShown(panel.methodBox()));
        const auto fields = panelFields(panel);
        for (auto it = fields.begin(); it != fields.end(); ++it) {
            QVERIFY2(panel.isFieldShown(it.value()) == shown.contains(it.key()), qPrintable(it.key()));
            QCOMPARE(it.value()->isVisible(), shown.contains(it.key()));
        }
    }
    // Back to RGD: the training loop's rows come back.
    panel.methodBox()->setCurrentIndex(0);
    QVERIFY(panel.isFieldShown(panel.alphaBox()) && panel.isFieldShown(panel.stepsBox()));
    QVERIFY(!panel.isFieldShown(panel.uceGuideEdit()) && !panel.isFieldShown(panel.saliencyFractionBox()));
}

void TestWidgets::hyperparameterPanelCarriesSalUnAndUceSettings()
{
    HyperparameterPanel panel;
    panel.setMethods(allMethods());
    panel.setParameterGroups({ { QStringLiteral("all"), QStringLiteral("All") } });
    panel.setKind(RunKind::Concept);
    panel.show();
    RunSettings uce { QStringLiteral("uce"), 1.1, 1.6, 1e-5, 100, 8, 1, 8, 3, QStringLiteral("all"), 1.0, 0.5,
        QStringLiteral("a photo of a shoe"), QStringLiteral("bag, coat"), 0.2, 2.0, 0.0, QString(), false, false };
    QSignalSpy changed(&panel, &HyperparameterPanel::settingsChanged);
    QSignalSpy live(&panel, &HyperparameterPanel::liveChange);
    panel.setSettings(uce);
    QCOMPARE(changed.count(), 0);
    QCOMPARE(panel.settings(), uce);
    QCOMPARE(panel.uceGuideEdit()->text(), QStringLiteral("a photo of a shoe"));
    QCOMPARE(panel.ucePreserveEdit()->text(), QStringLiteral("bag, coat"));
    // A preserve scale of 0 is the authors' automatic one.
    QCOMPARE(panel.ucePreserveScaleBox()->text(), QStringLiteral("auto"));
    QCOMPARE(panel.uceGuideEdit()->placeholderText(), QStringLiteral("empty prompt"));

    // Each field edits its setting, committed on Enter (the texts trimmed); none is a live change.
    panel.ucePreserveScaleBox()->setValue(0.25);
    QCOMPARE(panel.ucePreserveScaleBox()->text(), QStringLiteral("0.250"));
    panel.uceRegularisationBox()->setValue(0.05);
    panel.uceEraseScaleBox()->setValue(1.5);
    QCOMPARE(changed.count(), 3);
    panel.ucePreserveEdit()->setFocus();
    panel.ucePreserveEdit()->selectAll();
    QTest::keyClicks(panel.ucePreserveEdit(), QStringLiteral(" bag, dress "));
    QCOMPARE(changed.count(), 3);
    QTest::keyClick(panel.ucePreserveEdit(), Qt::Key_Return);
    QCOMPARE(changed.count(), 4);
    QCOMPARE(changed.last().at(0).value<RunSettings>().ucePreserve, QStringLiteral("bag, dress"));
    panel.uceGuideEdit()->setText(QString());
    uce.ucePreserve = QStringLiteral("bag, dress");
    uce.uceGuide.clear();
    uce.uceRegularisation = 0.05;
    uce.uceEraseScale = 1.5;
    uce.ucePreserveScale = 0.25;
    QCOMPARE(panel.settings(), uce);

    // SalUn's fraction, in either kind.
    panel.methodBox()->setCurrentIndex(panel.methodBox()->findData(QStringLiteral("salun")));
    panel.saliencyFractionBox()->setValue(0.3);
    QCOMPARE(panel.settings().method, QStringLiteral("salun"));
    QCOMPARE(panel.settings().saliencyFraction, 0.3);
    panel.setKind(RunKind::Class);
    RunSettings salun = panel.settings();
    salun.saliencyFraction = 0.75;
    panel.setSettings(salun);
    QCOMPARE(panel.settings(), salun);
    QVERIFY(panel.isFieldShown(panel.saliencyFractionBox()));

    // Locked during a run, as the other settings that are not α, λ or lr.
    panel.setKind(RunKind::Concept);
    panel.setRunning(true);
    for (QWidget* field :
        std::initializer_list<QWidget*> { panel.saliencyFractionBox(), panel.uceGuideEdit(), panel.ucePreserveEdit(),
            panel.uceRegularisationBox(), panel.uceEraseScaleBox(), panel.ucePreserveScaleBox() })
        QVERIFY(!field->isEnabled());
    QVERIFY(panel.alphaBox()->isEnabled());
    panel.setRunning(false);
    QVERIFY(panel.uceGuideEdit()->isEnabled() && panel.saliencyFractionBox()->isEnabled());
    QCOMPARE(live.count(), 0);

    // operator== sees every field.
    RunSettings other = uce;
    for (const auto& change : std::initializer_list<std::function<void(RunSettings&)>> {
             [](RunSettings& s) { s.saliencyFraction = 0.9; }, [](RunSettings& s) { s.uceGuide = QStringLiteral("x"); },
             [](RunSettings& s) { s.ucePreserve = QStringLiteral("y"); },
             [](RunSettings& s) { s.uceRegularisation = 9.0; }, [](RunSettings& s) { s.uceEraseScale = 9.0; },
             [](RunSettings& s) { s.ucePreserveScale = 9.0; } }) {
        other = uce;
        change(other);
        QVERIFY(!(other == uce));
    }
}

void TestWidgets::hyperparameterPanelCarriesPrecisionAndMemorySettings()
{
    HyperparameterPanel panel;
    panel.setMethods(allMethods());
    panel.setParameterGroups({ { QStringLiteral("all"), QStringLiteral("All") } });
    // No precisions offered: the setting is empty (the app's conversion then keeps its preset's).
    QVERIFY(panel.settings().precision.isEmpty());
    panel.setPrecisions({ { QStringLiteral("float32"), QStringLiteral("float32 (full precision)") },
        { QStringLiteral("bfloat16"), QStringLiteral("bfloat16 (autocast)") },
        { QStringLiteral("float16"), QStringLiteral("float16 (autocast, CUDA only)") } });
    panel.setKind(RunKind::Concept);
    panel.show();
    QCOMPARE(panel.settings().precision, QStringLiteral("float32"));
    QVERIFY(!panel.settings().gradientCheckpointing && !panel.settings().memoryEfficientAttention);

    // Both ways, without a change signal while the settings are applied.
    const RunSettings big { QStringLiteral("rgd"), 0.1, 3.0, 1e-5, 100, 8, 1, 8, 3, QStringLiteral("all"), 1.0, 0.5,
        QString(), QString(), 0.1, 1.0, 0.0, QStringLiteral("bfloat16"), true, true };
    QSignalSpy changed(&panel, &HyperparameterPanel::settingsChanged);
    QSignalSpy live(&panel, &HyperparameterPanel::liveChange);
    panel.setSettings(big);
    QCOMPARE(changed.count(), 0);
    QCOMPARE(panel.settings(), big);
    QCOMPARE(panel.precisionBox()->currentText(), QStringLiteral("bfloat16 (autocast)"));
    QVERIFY(panel.gradientCheckpointingBox()->isChecked() && panel.memoryEfficientAttentionBox()->isChecked());

    // Each edit is a change of the settings (which the Concept tab's memory estimate follows), none a live one.
    panel.precisionBox()->setCurrentIndex(panel.precisionBox()->findData(QStringLiteral("float16")));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.last().at(0).value<RunSettings>().precision, QStringLiteral("float16"));
    panel.gradientCheckpointingBox()->click();
    QCOMPARE(changed.count(), 2);
    QVERIFY(!changed.last().at(0).value<RunSettings>().gradientCheckpointing);
    panel.memoryEfficientAttentionBox()->setFocus();
    QTest::keyClick(panel.memoryEfficientAttentionBox(), Qt::Key_Space);
    QCOMPARE(changed.count(), 3);
    QVERIFY(!panel.settings().memoryEfficientAttention);
    QCOMPARE(live.count(), 0);
    // An unknown precision leaves the box as it is.
    RunSettings odd = panel.settings();
    odd.precision = QStringLiteral("float8");
    panel.setSettings(odd);
    QCOMPARE(panel.settings().precision, QStringLiteral("float16"));

    // Locked during a run, as the settings that are not α, λ or lr.
    panel.setRunning(true);
    for (QWidget* field : std::initializer_list<QWidget*> {
             panel.precisionBox(), panel.gradientCheckpointingBox(), panel.memoryEfficientAttentionBox() })
        QVERIFY(!field->isEnabled());
    panel.setRunning(false);
    QVERIFY(panel.precisionBox()->isEnabled() && panel.gradientCheckpointingBox()->isEnabled());

    // A class run keeps the precision and hides the concept runs' memory settings; UCE trains nothing and hides all
    // three.
    panel.setKind(RunKind::Class);
    QVERIFY(panel.isFieldShown(panel.precisionBox()));
    QVERIFY(!panel.isFieldShown(panel.gradientCheckpointingBox()));
    QVERIFY(!panel.memoryEfficientAttentionBox()->isVisible());
    panel.setKind(RunKind::Concept);
    QVERIFY(panel.memoryEfficientAttentionBox()->isVisible());
    panel.methodBox()->setCurrentIndex(panel.methodBox()->findData(QStringLiteral("uce")));
    for (QWidget* field : std::initializer_list<QWidget*> {
             panel.precisionBox(), panel.gradientCheckpointingBox(), panel.memoryEfficientAttentionBox() })
        QVERIFY(!panel.isFieldShown(field) && !field->isVisible());

    // operator== sees every new field.
    for (const auto& change : std::initializer_list<std::function<void(RunSettings&)>> {
             [](RunSettings& s) { s.precision = QStringLiteral("float32"); },
             [](RunSettings& s) { s.gradientCheckpointing = false; },
             [](RunSettings& s) { s.memoryEfficientAttention = false; } }) {
        RunSettings other = big;
        change(other);
        QVERIFY(!(other == big));
    }
}

void TestWidgets::hyperparameterPanelMnemonicsAreUnique()
{
    // Alt+letter reaches one field: no two labels or check boxes of the panel share their mnemonic, shown or not.
    HyperparameterPanel panel;
    QStringList letters;
    const auto take = [&](const QString& text) {
        const qsizetype amp = text.indexOf(QLatin1Char('&'));
        QVERIFY2(amp >= 0 && amp + 1 < text.size(), qPrintable(text));
        const QString letter = text.mid(amp + 1, 1).toLower();
        QVERIFY2(!letters.contains(letter), qPrintable(QStringLiteral("%1 (%2) again").arg(letter, text)));
        letters << letter;
    };
    for (const QLabel* label : panel.findChildren<QLabel*>()) {
        QVERIFY2(label->buddy(), qPrintable(label->text()));
        take(label->text());
    }
    QCOMPARE(letters.size(), qsizetype { 19 }); // The check boxes' rows have no label of their own.
    for (const QCheckBox* box : panel.findChildren<QCheckBox*>())
        take(box->text());
    QCOMPARE(letters.size(), qsizetype { 21 });
}

void TestWidgets::metricsViewShowsBeforeAndAfter()
{
    MetricsView view;
    QVERIFY(view.summaryText().startsWith(QStringLiteral("No measurements yet")));
    view.setClasses({ QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c") }, 1);
    const auto measurement = [](const QList<double>& accuracy, double ua, double ra, double fd, double kid) {
        Measurement m;
        m.classAccuracy = accuracy;
        m.ua = ua;
        m.ra = ra;
        m.fd = fd;
        m.kid = kid;
        return m;
    };
    view.setBefore(measurement({ 0.9, 0.8, 0.95 }, 0.2, 0.925, 0.5, 0.01));
    view.setAfter(measurement({ 0.88, 0.0, 0.94 }, 1.0, 0.91, 0.7, 0.02));
    QCOMPARE(view.summaryText(),
        QStringLiteral("UA 0.200 → 1.000   RA 0.925 → 0.910   FD_cls 0.500 → 0.700   KID_cls 0.0100 → 0.0200"));
    QCOMPARE(view.barValues(1), (QList<double> { 0.88, 0.0, 0.94 }));
    // The literature's figures on a second line, where a measurement has them ("—" where the other lacks one).
    Measurement withClip = measurement({ 0.88, 0.0, 0.94 }, 1.0, 0.91, 0.7, 0.02);
    withClip.clipUa = 0.95;
    withClip.clipRa = 0.771;
    withClip.fid = 6.5432;
    withClip.fidForgotten = 80.1;
    view.setAfter(withClip);
    QCOMPARE(view.summaryText().section(QLatin1Char('\n'), 1),
        QStringLiteral("CLIP-UA — → 0.950   CLIP-RA — → 0.771   FID — → 6.54 (remaining classes)   FID forgotten — → "
                       "80.10"));
    view.clear();
    QVERIFY(view.barValues(0).isEmpty());
}

void TestWidgets::metricsViewShowsTheRobustnessLine()
{
    const QString line
        = QStringLiteral("Robustness: Pre-ASR 0.0 % → Post-ASR 62.5 % (class attack, 1 class × 8 seeds)");
    MetricsView view;
    // Before any measurement: the line below the note.
    view.setRobustness(line);
    QCOMPARE(view.summaryText().section(QLatin1Char('\n'), 1), line);
    QVERIFY(view.summaryText().startsWith(QStringLiteral("No measurements yet")));
    // With measurements, the last line, after the literature's figures where there are some.
    view.setClasses({ QStringLiteral("a"), QStringLiteral("b") }, 0);
    Measurement before;
    before.classAccuracy = { 0.9, 0.8 };
    before.ua = 0.1;
    before.ra = 0.8;
    view.setBefore(before);
    const QString figures = QStringLiteral("UA 0.100 → —   RA 0.800 → —   FD_cls 0.000 → —   KID_cls 0.0000 → —");
    QCOMPARE(view.summaryText(), figures + QLatin1Char('\n') + line);
    Measurement after = before;
    after.ua = 1.0;
    after.clipUa = 0.5;
    view.setAfter(after);
    const QStringList lines = view.summaryText().split(QLatin1Char('\n'));
    QCOMPARE(lines.size(), 3);
    QVERIFY(lines[1].startsWith(QStringLiteral("CLIP-UA")));
    QCOMPARE(lines[2], line);
    // An empty line takes it away.
    view.setRobustness(QString());
    QCOMPARE(view.summaryText().count(QLatin1Char('\n')), 1);
    QVERIFY(!view.summaryText().contains(QStringLiteral("Robustness")));
    // clear() drops it with the measurements: it does not come back with the next run's figures.
    view.setRobustness(line);
    QVERIFY(view.summaryText().endsWith(line));
    view.clear();
    QVERIFY(!view.summaryText().contains(QStringLiteral("Robustness")));
    view.setBefore(before);
    QCOMPARE(view.summaryText(), figures);
}

void TestWidgets::logViewKeepsALimitedHistory()
{
    LogView log;
    for (int i = 0; i < LogView::maximumLines() + 10; ++i)
        log.appendMessage(1, QStringLiteral("line %1").arg(i));
    log.appendMessage(3, QStringLiteral("<b>failed</b>"));
    QCOMPARE(log.document()->blockCount(), LogView::maximumLines());
    const QString text = log.toPlainText();
    QVERIFY(!text.contains(QStringLiteral("line 9\n")));
    QVERIFY(text.endsWith(QStringLiteral("<b>failed</b>"))); // Escaped, not interpreted.
}

QTEST_MAIN(TestWidgets)
#include "test_widgets.moc"
