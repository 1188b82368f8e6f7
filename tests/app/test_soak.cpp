// Soak: the GUI's session worker, on its own thread as the window runs it, goes through many
// start/pause/resume/stop cycles (with previews, snapshots and an export now and then) and one long run. After a
// warm-up, the process's resident memory must not keep growing and no threads or file descriptors may be left
// behind. Labelled `soak`, not `fast`: it takes minutes.
//
// LETHE_SOAK_CYCLES and LETHE_SOAK_LONG_STEPS change the length (defaults 40 and 600).
#include "session_worker.h"

#include "core/unlearn/run_control.h"

#include "test_support.h"
#include "tiny_edm.h"

#include <torch/torch.h>

#include <QApplication>
#include <QDir>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QThread>
#include <QtTest>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace lethe;

namespace {

/// What the process holds at one moment.
struct Footprint {
    double residentMiB = 0.0;
    int threads = 0;
    int descriptors = 0;
};

int entriesIn(const char* folder)
{
    int count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder))
        ++count;
    return count;
}

Footprint footprint()
{
    std::ifstream statm("/proc/self/statm");
    long pages = 0;
    long resident = 0;
    statm >> pages >> resident;
    Footprint f;
    f.residentMiB = static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
    f.threads = entriesIn("/proc/self/task");
    f.descriptors = entriesIn("/proc/self/fd");
    return f;
}

qint64 environmentNumber(const char* name, qint64 fallback)
{
    bool ok = false;
    const qint64 value = qEnvironmentVariable(name).toLongLong(&ok);
    return ok && value > 0 ? value : fallback;
}

} // namespace

class TestSoak : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void manyCyclesAndALongRunLeakNothing();

private:
    /// One run: start, wait for steps, pause, check that it holds still, resume, stop; returns the outcome.
    QString cycle(int index);
    void startRun(qint64 steps);

    test::ScratchDir m_dir;
    QThread m_thread;
    gui::SessionWorker* m_worker = nullptr;
    std::unique_ptr<QSignalSpy> m_steps;
    std::unique_ptr<QSignalSpy> m_ended;
};

void TestSoak::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("LetheTest"));
    torch::set_num_threads(1);
    test::writeCifarFolder(m_dir / "cifar", 20);
    test::writeTinyCifarModel(m_dir / "base.safetensors");

    m_worker = new gui::SessionWorker;
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();
    m_steps = std::make_unique<QSignalSpy>(m_worker, &gui::SessionWorker::stepDone);
    m_ended = std::make_unique<QSignalSpy>(m_worker, &gui::SessionWorker::runEnded);

    QSignalSpy opened(m_worker, &gui::SessionWorker::opened);
    QSignalSpy failed(m_worker, &gui::SessionWorker::openFailed);
    const QString model = QString::fromStdString((m_dir / "base.safetensors").string());
    const QString data = QString::fromStdString((m_dir / "cifar").string());
    QMetaObject::invokeMethod(m_worker, [=] { m_worker->open(model, data, QString()); });
    QTRY_VERIFY_WITH_TIMEOUT(opened.count() + failed.count() == 1, 120000);
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).toString()));
}

void TestSoak::cleanupTestCase()
{
    if (const auto control = m_worker->control()) { // A failed check left a run going: end it.
        control->requestStop();
        control->resume();
    }
    m_thread.quit();
    m_thread.wait();
}

void TestSoak::startRun(qint64 steps)
{
    gui::RunRequest request;
    request.settings = gui::SessionWorker::presets().front().settings; // core's cpu-fast, then the changes below.
    request.settings.steps = steps;
    request.settings.forgetBatch = 2;
    request.settings.remainPerClass = 2;
    request.settings.remainBatch = 6;
    request.forgetClass = 3;
    request.measure = false;
    request.previewEvery = 5; // Previews and on-disk snapshots every 5 steps: the paths most likely to leak.
    QMetaObject::invokeMethod(m_worker, [=] { m_worker->run(request); });
}

QString TestSoak::cycle(int index)
{
    m_steps->clear();
    m_ended->clear();
    startRun(100000);
    if (!QTest::qWaitFor([&] { return m_steps->count() >= 3 || !m_ended->isEmpty(); }, 120000))
        return QStringLiteral("no steps");
    const auto control = m_worker->control();
    if (!control)
        return QStringLiteral("no control while running");
    control->pause();
    // The step under way (and its preview) finishes; then the run holds, and no step may come until it resumes.
    if (!QTest::qWaitFor([&] { return control->holding() || !m_ended->isEmpty(); }, 120000))
        return QStringLiteral("the run did not hold after a pause");
    const qsizetype held = m_steps->count();
    QTest::qWait(500);
    if (m_steps->count() != held) {
        const auto last = m_steps->constLast().at(0).value<gui::StepPoint>();
        return QStringLiteral("steps went on while paused: %1 → %2 signals, the last of step %3")
            .arg(held)
            .arg(m_steps->count())
            .arg(last.step);
    }
    control->setLambda(1.0 + index % 5);
    control->resume();
    if (!QTest::qWaitFor([&] { return m_steps->count() >= held + 2 || !m_ended->isEmpty(); }, 120000))
        return QStringLiteral("no steps after resuming");
    control->requestStop();
    if (!QTest::qWaitFor([&] { return !m_ended->isEmpty(); }, 120000))
        return QStringLiteral("the run did not end after a stop");
    if (index % 10 == 9) {
        // Now and then an export, which writes files and reads a snapshot back.
        QSignalSpy exported(m_worker, &gui::SessionWorker::exported);
        QSignalSpy exportFailed(m_worker, &gui::SessionWorker::exportFailed);
        const QString folder = QString::fromStdString((m_dir / ("export-" + std::to_string(index))).string());
        QMetaObject::invokeMethod(m_worker, [=] { m_worker->exportRun(folder, 5); });
        if (!QTest::qWaitFor([&] { return exported.count() + exportFailed.count() == 1; }, 120000))
            return QStringLiteral("the export did not end");
        if (!exportFailed.isEmpty())
            return exportFailed.at(0).at(0).toString();
        QDir(folder).removeRecursively();
    }
    return m_ended->at(0).at(0).toString();
}

void TestSoak::manyCyclesAndALongRunLeakNothing()
{
    const qint64 cycles = environmentNumber("LETHE_SOAK_CYCLES", 40);
    const qint64 longSteps = environmentNumber("LETHE_SOAK_LONG_STEPS", 600);

    // Warm-up: thread pools, allocator arenas and Qt's caches reach their working size.
    for (int i = 0; i < 3; ++i)
        QCOMPARE(cycle(i), QStringLiteral("stopped"));
    const Footprint base = footprint();

    QElapsedTimer clock;
    clock.start();
    Footprint worst = base;
    for (int i = 0; i < cycles; ++i) {
        QCOMPARE(cycle(i), QStringLiteral("stopped"));
        const Footprint now = footprint();
        worst.residentMiB = std::max(worst.residentMiB, now.residentMiB);
        worst.threads = std::max(worst.threads, now.threads);
        worst.descriptors = std::max(worst.descriptors, now.descriptors);
    }
    const Footprint afterCycles = footprint();
    qInfo("%lld start/pause/resume/stop cycles in %.0f s: resident %.1f → %.1f MiB (peak %.1f), threads %d → %d, "
          "descriptors %d → %d",
        cycles, clock.elapsed() / 1000.0, base.residentMiB, afterCycles.residentMiB, worst.residentMiB, base.threads,
        afterCycles.threads, base.descriptors, afterCycles.descriptors);
    QCOMPARE(afterCycles.threads, base.threads);
    QCOMPARE(afterCycles.descriptors, base.descriptors);
    QVERIFY2(afterCycles.residentMiB - base.residentMiB < 32.0, "resident memory grew over the cycles");

    // One long run, sampled as it goes: memory after the first third is the plateau it must stay near.
    m_steps->clear();
    m_ended->clear();
    clock.restart();
    startRun(longSteps);
    Footprint plateau;
    double lastResident = 0.0;
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            if (m_steps->count() >= longSteps / 3 && plateau.threads == 0)
                plateau = footprint();
            lastResident = std::max(lastResident, footprint().residentMiB);
            return !m_ended->isEmpty();
        }(),
        1800000);
    QCOMPARE(m_ended->at(0).at(0).toString(), QStringLiteral("finished"));
    QCOMPARE(m_steps->count(), longSteps);
    const Footprint afterLong = footprint();
    qInfo("long run of %lld steps in %.0f s: resident %.1f MiB at a third, peak %.1f after, %.1f at the end; "
          "threads %d, descriptors %d",
        longSteps, clock.elapsed() / 1000.0, plateau.residentMiB, lastResident, afterLong.residentMiB,
        afterLong.threads, afterLong.descriptors);
    QVERIFY(plateau.threads > 0);
    QVERIFY2(lastResident - plateau.residentMiB < 32.0, "resident memory kept growing during the long run");
    QCOMPARE(afterLong.threads, base.threads);
    QCOMPARE(afterLong.descriptors, base.descriptors);
}

int main(int argc, char** argv)
{
    // The soak runs for many minutes: Qt Test's default limit of 5 minutes per test function is too short.
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", "3600000");
    QApplication app(argc, argv);
    TestSoak test;
    return QTest::qExec(&test, argc, argv);
}
#include "test_soak.moc"
