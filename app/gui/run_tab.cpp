#include "run_tab.h"

#include "qt_conversions.h"
#include "run_worker.h"

#include "core/unlearn/run_control.h"
#include "widgets/curve_plot.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/sample_grid.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QHBoxLayout>
#include <QLabel>
#include <QLayout>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

#include <cmath>

namespace lethe::gui {

namespace {

/// The characters a choice in the controls' column shows at least (its list shows each item whole).
constexpr int kComboBoxCharacters = 16;

/// The strings both tabs show keep the Class tab's translation context, where the translations have them (the
/// Concept tab's copies read the same). RunTab's own tr() would look them up under RunTab, which has none.
struct TabText {
    Q_DECLARE_TR_FUNCTIONS(lethe::gui::ClassTab)
};

} // namespace

RunTab::RunTab(RunWorker* worker, QWidget* parent)
    : QWidget(parent)
    , m_runWorker(worker)
{
    m_runWorker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_runWorker, &QObject::deleteLater);
    m_thread.start();

    connect(m_runWorker, &RunWorker::progress, this, &RunTab::onProgress);
    connect(m_runWorker, &RunWorker::runStarted, this, [this](qint64 total) { m_totalSteps = total; });
    connect(m_runWorker, &RunWorker::stepDone, this, &RunTab::onStep);
    connect(m_runWorker, &RunWorker::rolledBack, this, [this](qint64 failed, qint64 restored, const QString& why) {
        for (widgets::CurvePlot* plot : m_curves.plots())
            plot->addMarker(static_cast<double>(failed), TabText::tr("rollback → %1").arg(restored));
        setStatus(TabText::tr("Step %1: %2; weights restored to step %3").arg(failed).arg(why).arg(restored));
    });
    connect(m_runWorker, &RunWorker::runEnded, this, &RunTab::onRunEnded);
    connect(m_runWorker, &RunWorker::exported, this, [this](const QString& where) {
        m_exporting = false;
        updateActions();
        setStatus(TabText::tr("Exported to %1").arg(where));
        Q_EMIT exportFinished(true, where);
    });
    connect(m_runWorker, &RunWorker::exportFailed, this, [this](const QString& message) {
        m_exporting = false;
        updateActions();
        showError(TabText::tr("Export"), message);
        Q_EMIT exportFinished(false, message);
    });
}

RunTab::~RunTab()
{
    requestStop();
    m_runWorker->cancelAttack();
    m_thread.quit();
    m_thread.wait();
}

void RunTab::arrange(const QString& name, QWidget* controls, int controlsWidth, QWidget* pinned, QWidget* views)
{
    // A choice is as wide as the column, not as its longest item (its list still shows every item whole).
    for (QComboBox* box : controls->findChildren<QComboBox*>()) {
        box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        box->setMinimumContentsLength(kComboBoxCharacters);
    }
    auto* scroll = new QScrollArea;
    scroll->setWidget(controls);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    // The controls scroll up and down only: their width is the column's, whatever a field's text would like.
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    // Room for the controls beside the vertical scroll bar, so that nothing is cut at their right edge.
    const int needed = std::max(controls->minimumSizeHint().width(), pinned->minimumSizeHint().width())
        + scroll->verticalScrollBar()->sizeHint().width() + 2 * scroll->frameWidth();
    auto* column = new QWidget;
    auto* columnLayout = new QVBoxLayout(column);
    columnLayout->setContentsMargins(0, 0, 0, 0);
    columnLayout->setSpacing(0);
    columnLayout->addWidget(scroll, 1);
    // Below the scroll area, not in it: Start, Pause, Stop and the progress bar stay in view on a small screen.
    auto* pinnedBox = new QWidget;
    auto* pinnedLayout = new QVBoxLayout(pinnedBox);
    const QMargins margins = controls->layout() ? controls->layout()->contentsMargins() : QMargins();
    pinnedLayout->setContentsMargins(margins.left(), 0, margins.right(), margins.bottom());
    pinnedLayout->addWidget(pinned);
    columnLayout->addWidget(pinnedBox);
    column->setMinimumWidth(std::max(controlsWidth, needed));
    auto* sides = new QSplitter(Qt::Horizontal);
    sides->setObjectName(name);
    sides->addWidget(column);
    sides->addWidget(views);
    sides->setStretchFactor(1, 1);
    sides->setCollapsible(0, false);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(sides);
}

QVBoxLayout* RunTab::addPanel(QWidget* group)
{
    auto* layout = new QVBoxLayout(group);
    m_panel = new widgets::HyperparameterPanel(group);
    connect(m_panel, &widgets::HyperparameterPanel::liveChange, this, &RunTab::onLiveChange);
    layout->addWidget(m_panel);
    return layout;
}

QHBoxLayout* RunTab::addRunControls(QVBoxLayout* layout, QWidget* parent)
{
    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(TabText::tr("&Start"), parent);
    m_pause = new QPushButton(TabText::tr("&Pause"), parent);
    m_stop = new QPushButton(TabText::tr("S&top"), parent);
    for (QPushButton* b : { m_start, m_pause, m_stop })
        buttons->addWidget(b);
    connect(m_start, &QPushButton::clicked, this, &RunTab::startRun);
    connect(m_pause, &QPushButton::clicked, this, &RunTab::togglePause);
    connect(m_stop, &QPushButton::clicked, this, &RunTab::stopRun);
    m_progress = new QProgressBar(parent);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_rate = new QLabel(parent);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addWidget(m_rate);
    return buttons;
}

void RunTab::makeGrids(QWidget* parent, const QString& beforePlaceholder, const QString& afterPlaceholder)
{
    m_beforeGrid = new widgets::SampleGrid(parent);
    m_beforeGrid->setTitle(TabText::tr("Before"));
    m_beforeGrid->setPlaceholder(beforePlaceholder);
    m_afterGrid = new widgets::SampleGrid(parent);
    m_afterGrid->setTitle(TabText::tr("After"));
    m_afterGrid->setPlaceholder(afterPlaceholder);
}

void RunTab::updateRunButtons()
{
    m_start->setEnabled(canStart());
    m_pause->setEnabled(m_running && !m_exporting);
    m_pause->setText(m_paused ? TabText::tr("&Resume") : TabText::tr("&Pause"));
    m_stop->setEnabled(m_running);
}

void RunTab::togglePause()
{
    const auto control = m_runWorker->control();
    if (!m_running || !control)
        return;
    m_paused = !m_paused;
    if (m_paused) {
        control->pause();
        setStatus(pausedStatus());
    } else {
        control->resume();
        setStatus(TabText::tr("Resumed"));
    }
    updateActions();
}

void RunTab::stopRun()
{
    if (m_running && requestStop())
        setStatus(TabText::tr("Stopping after the current step …"));
}

bool RunTab::requestStop() const
{
    const auto control = m_runWorker->control();
    if (!control)
        return false;
    control->resume();
    control->requestStop();
    return true;
}

void RunTab::onLiveChange(const QString& name, double value)
{
    const auto control = m_runWorker->control();
    if (!m_running || !control)
        return;
    // The change applies at the next step; mark it there.
    const QString label = sendLiveChange(*control, name, value, m_curves, static_cast<double>(m_lastStep) + 1.0);
    setStatus(TabText::tr("%1 from step %2").arg(label).arg(m_lastStep + 1));
}

void RunTab::setStatus(const QString& text)
{
    m_lastStatus = text;
    Q_EMIT statusMessage(text);
}

void RunTab::resetRun(qint64 totalSteps)
{
    for (widgets::CurvePlot* plot : m_curves.plots())
        plot->clear();
    m_lastStep = 0;
    m_stepsDone = 0;
    m_stepSeconds = 0.0;
    m_totalSteps = totalSteps;
    m_rate->clear();
    m_paused = false;
}

void RunTab::setRunning(bool running)
{
    m_running = running;
    m_panel->setRunning(running);
}

void RunTab::recordStep(const StepPoint& point)
{
    m_curves.append(point);
    m_lastStep = point.step;
    m_totalSteps = point.totalSteps;
    ++m_stepsDone;
    m_stepSeconds += point.seconds;
}

void RunTab::endRun(const QString& outcome)
{
    m_lastOutcome = outcome;
    m_paused = false;
    setRunning(false);
    for (widgets::CurvePlot* plot : m_curves.plots())
        plot->flush();
}

double RunTab::stepsPerSecond() const
{
    return m_stepSeconds > 0 ? static_cast<double>(m_stepsDone) / m_stepSeconds : 0.0;
}

QString RunTab::stepRateText(const QString& format, const StepPoint& point) const
{
    const double rate = stepsPerSecond();
    return format.arg(rate, 0, 'f', 2)
        .arg(durationText(rate > 0 ? static_cast<double>(point.totalSteps - point.step) / rate : NAN))
        .arg(point.forgetLoss, 0, 'g', 4)
        .arg(point.remainLoss, 0, 'g', 4)
        .arg(point.cosine, 0, 'f', 3);
}

QString RunTab::endedStatus(const QString& format, const QString& outcome, qint64 steps, double seconds) const
{
    return format.arg(outcome == QStringLiteral("finished") ? TabText::tr("finished") : TabText::tr("stopped"))
        .arg(steps)
        .arg(durationText(seconds));
}

QString RunTab::messageSuffix(const QString& message)
{
    return message.isEmpty() ? QString() : QStringLiteral(" — ") + message;
}

void RunTab::showStepProgress(qint64 done, qint64 total)
{
    showPhaseProgress(done, std::max<qint64>(1, total), TabText::tr("step %v of %m"));
}

void RunTab::showPhaseProgress(qint64 done, qint64 total, const QString& format)
{
    m_progress->setRange(0, static_cast<int>(total));
    m_progress->setValue(static_cast<int>(done));
    m_progress->setFormat(format);
}

void RunTab::showIdleProgress()
{
    showPhaseProgress(0, 1, QString());
}

} // namespace lethe::gui
