#include "main_window.h"

#include "concept_tab.h"
#include "log_bridge.h"

#include "core/unlearn/run_control.h"
#include "widgets/class_picker.h"
#include "widgets/curve_plot.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/log_view.h"
#include "widgets/metrics_view.h"
#include "widgets/sample_grid.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include <cmath>

namespace lethe::gui {

namespace {

constexpr int kMaxRecent = 8;
/// Images per class for the before/after measurements: on the built-in model about five minutes per
/// measurement on two cores (the base model's is measured once per class and reused).
constexpr int kDefaultMeasureImages = 50;
const QString kBuiltinData = QStringLiteral("fashion-mnist");

QString duration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("--:--");
    const auto s = static_cast<qint64>(std::llround(seconds));
    return s >= 3600
        ? QStringLiteral("%1:%2:%3")
              .arg(s / 3600)
              .arg(s / 60 % 60, 2, 10, QLatin1Char('0'))
              .arg(s % 60, 2, 10, QLatin1Char('0'))
        : QStringLiteral("%1:%2").arg(s / 60, 2, 10, QLatin1Char('0')).arg(s % 60, 2, 10, QLatin1Char('0'));
}

} // namespace

MainWindow::MainWindow(const QString& model, const QString& data, QWidget* parent)
    : QMainWindow(parent)
    , m_worker(new SessionWorker)
    , m_logBridge(new LogBridge(this))
{
    setWindowTitle(tr("Lethe — unlearning workbench"));
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();
    buildUi();
    buildMenus();

    connect(m_logBridge, &LogBridge::message, m_log, &widgets::LogView::appendMessage);
    connect(m_worker, &SessionWorker::opened, this, &MainWindow::onOpened);
    connect(m_worker, &SessionWorker::openFailed, this, [this](const QString& message) {
        m_modelOpen = false;
        statusBar()->showMessage(tr("Could not open the model"));
        showError(tr("Open model"), message);
        updateActions();
    });
    connect(m_worker, &SessionWorker::busy, this, [this](const QString& what, int done, int total) {
        if (what.isEmpty()) { // A measurement or preview ended: back to the run's own progress and status.
            if (m_running)
                statusBar()->showMessage(m_runMessage);
            m_progress->setRange(0, static_cast<int>(std::max<qint64>(1, m_totalSteps)));
            m_progress->setValue(static_cast<int>(m_lastStep));
            m_progress->setFormat(tr("step %v of %m"));
            return;
        }
        statusBar()->showMessage(what);
        m_progress->setRange(0, total);
        m_progress->setValue(done);
        m_progress->setFormat(total > 0 ? what + tr(": %v of %m images") : what);
    });
    connect(m_worker, &SessionWorker::runStarted, this, [this](qint64 total) { m_totalSteps = total; });
    connect(m_worker, &SessionWorker::beforeReady, this, [this](const QList<QImage>& cells, int columns) {
        m_before = cells;
        m_columns = columns;
        m_beforeGrid->setCells(cells, columns, m_classNames);
        m_beforeGrid->setHighlightedRow(m_forgetClass);
    });
    connect(m_worker, &SessionWorker::stepDone, this, &MainWindow::onStep);
    connect(m_worker, &SessionWorker::previewReady, this, &MainWindow::onPreview);
    connect(m_worker, &SessionWorker::rolledBack, this, [this](qint64 failed, qint64 restored, const QString& why) {
        for (widgets::CurvePlot* plot : { m_curves.loss, m_curves.cosine, m_curves.norm })
            plot->addMarker(static_cast<double>(failed), tr("rollback → %1").arg(restored));
        statusBar()->showMessage(tr("Step %1: %2; weights restored to step %3").arg(failed).arg(why).arg(restored));
    });
    connect(m_worker, &SessionWorker::measured, this, [this](int which, const widgets::Measurement& m) {
        if (which == 0)
            m_metrics->setBefore(m);
        else
            m_metrics->setAfter(m);
    });
    connect(m_worker, &SessionWorker::runEnded, this, &MainWindow::onRunEnded);
    connect(m_worker, &SessionWorker::runFailed, this, [this](const QString& message) {
        onRunEnded(QStringLiteral("failed"), message, m_lastStep, m_runClock.elapsed() / 1000.0);
    });
    connect(m_worker, &SessionWorker::exported, this, [this](const QString& folder) {
        m_exporting = false;
        updateActions();
        statusBar()->showMessage(tr("Exported to %1").arg(folder));
        Q_EMIT exportFinished(true, folder);
    });
    connect(m_worker, &SessionWorker::exportFailed, this, [this](const QString& message) {
        m_exporting = false;
        updateActions();
        showError(tr("Export"), message);
        Q_EMIT exportFinished(false, message);
    });

    restoreSettings();
    QSettings settings;
    openModel(model.isEmpty() ? settings.value(QStringLiteral("model")).toString() : model,
        data.isEmpty() ? settings.value(QStringLiteral("data"), kBuiltinData).toString() : data);
}

MainWindow::~MainWindow()
{
    if (auto control = m_worker->control())
        control->requestStop();
    m_thread.quit();
    m_thread.wait();
}

void MainWindow::buildUi()
{
    // Left: model and data, class, hyperparameters, run controls.
    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    auto* modelGroup = new QGroupBox(tr("Model and data"), left);
    auto* modelLayout = new QVBoxLayout(modelGroup);
    m_modelLabel = new QLabel(tr("Opening the built-in model …"), modelGroup);
    m_modelLabel->setWordWrap(true);
    m_modelLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* openModelButton = new QPushButton(tr("Open &model…"), modelGroup);
    connect(openModelButton, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("Open a Lethe or converted EDM model"),
            QFileInfo(m_modelPath).absolutePath(), tr("Model files (*.safetensors)"));
        if (!file.isEmpty())
            openModel(file, m_dataSpec);
    });
    m_dataBox = new QComboBox(modelGroup);
    m_dataBox->addItem(tr("Fashion-MNIST (built-in)"), kBuiltinData);
    m_dataBox->addItem(tr("Open a folder (CIFAR-10 binary, IDX or image folder)…"), QString());
    connect(m_dataBox, &QComboBox::activated, this, [this](int index) {
        QString spec = m_dataBox->itemData(index).toString();
        if (spec.isEmpty()) {
            spec = QFileDialog::getExistingDirectory(this, tr("Open a data set folder"));
            if (spec.isEmpty()) {
                m_dataBox->setCurrentIndex(std::max(0, m_dataBox->findData(m_dataSpec)));
                return;
            }
            m_dataBox->insertItem(m_dataBox->count() - 1, spec, spec);
            m_dataBox->setCurrentIndex(m_dataBox->findData(spec));
        }
        openModel(m_modelPath, spec);
    });
    auto* dataRow = new QHBoxLayout;
    auto* dataLabel = new QLabel(tr("&Data set:"), modelGroup);
    dataLabel->setBuddy(m_dataBox);
    dataRow->addWidget(dataLabel);
    dataRow->addWidget(m_dataBox, 1);
    modelLayout->addWidget(m_modelLabel);
    modelLayout->addWidget(openModelButton);
    modelLayout->addLayout(dataRow);
    auto* classLabel = new QLabel(tr("&Class to forget:"), modelGroup);
    m_classPicker = new widgets::ClassPicker(modelGroup);
    classLabel->setBuddy(m_classPicker);
    m_classPicker->setMinimumHeight(180);
    modelLayout->addWidget(classLabel);
    modelLayout->addWidget(m_classPicker, 1);
    connect(m_classPicker, &widgets::ClassPicker::currentClassChanged, this, [this](int index) {
        m_forgetClass = index;
        m_beforeGrid->setHighlightedRow(index);
        m_afterGrid->setHighlightedRow(index);
        updateActions();
    });

    auto* methodGroup = new QGroupBox(tr("Method and hyperparameters"), left);
    auto* methodLayout = new QVBoxLayout(methodGroup);
    m_panel = new widgets::HyperparameterPanel(methodGroup);
    m_panel->setMethods(SessionWorker::methods());
    m_panel->setPresets(SessionWorker::presets());
    connect(m_panel, &widgets::HyperparameterPanel::liveChange, this, &MainWindow::onLiveChange);
    methodLayout->addWidget(m_panel);
    auto* measureRow = new QHBoxLayout;
    m_measure = new QCheckBox(tr("Measure &before and after"), methodGroup);
    m_measure->setChecked(true);
    m_measure->setToolTip(tr("UA, RA per class, FD_cls and KID_cls from generated images (takes minutes on a CPU)"));
    m_measureImages = new QSpinBox(methodGroup);
    m_measureImages->setRange(2, 10000);
    m_measureImages->setValue(kDefaultMeasureImages);
    m_measureImages->setSuffix(tr(" per class"));
    measureRow->addWidget(m_measure);
    measureRow->addWidget(m_measureImages);
    methodLayout->addLayout(measureRow);

    auto* runGroup = new QGroupBox(tr("Run"), left);
    auto* runLayout = new QVBoxLayout(runGroup);
    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(tr("&Start"), runGroup);
    m_pause = new QPushButton(tr("&Pause"), runGroup);
    m_stop = new QPushButton(tr("S&top"), runGroup);
    m_export = new QPushButton(tr("&Export…"), runGroup);
    for (QPushButton* b : { m_start, m_pause, m_stop, m_export })
        buttons->addWidget(b);
    connect(m_start, &QPushButton::clicked, this, &MainWindow::startRun);
    connect(m_pause, &QPushButton::clicked, this, &MainWindow::togglePause);
    connect(m_stop, &QPushButton::clicked, this, &MainWindow::stopRun);
    connect(m_export, &QPushButton::clicked, this, [this] { chooseExportFolder(false); });
    m_progress = new QProgressBar(runGroup);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_rate = new QLabel(runGroup);
    runLayout->addLayout(buttons);
    runLayout->addWidget(m_progress);
    runLayout->addWidget(m_rate);

    leftLayout->addWidget(modelGroup, 1);
    leftLayout->addWidget(methodGroup);
    leftLayout->addWidget(runGroup);
    auto* leftScroll = new QScrollArea;
    leftScroll->setWidget(left);
    leftScroll->setWidgetResizable(true);
    leftScroll->setMinimumWidth(360);

    // Right, top: the curves.
    auto* curves = new QWidget;
    auto* curvesLayout = new QVBoxLayout(curves);
    curvesLayout->setContentsMargins(0, 0, 0, 0);
    auto* curveTabs = new QTabWidget(curves);
    m_curves = addUnlearningCurves(curveTabs, false);
    auto* curveRow = new QHBoxLayout;
    m_logScale = new QCheckBox(tr("&Log scale"), curves);
    connect(m_logScale, &QCheckBox::toggled, this, [this](bool on) {
        m_curves.loss->setLogScale(on);
        m_curves.norm->setLogScale(on);
    });
    auto* fit = new QPushButton(tr("&Fit"), curves);
    connect(fit, &QPushButton::clicked, this, [this] {
        for (widgets::CurvePlot* plot : { m_curves.loss, m_curves.cosine, m_curves.norm })
            plot->fit();
    });
    auto* exportCurves = new QPushButton(tr("Export c&urves…"), curves);
    connect(exportCurves, &QPushButton::clicked, this, [this, curveTabs] {
        auto* plot = qobject_cast<widgets::CurvePlot*>(curveTabs->currentWidget());
        const QString base = QFileDialog::getSaveFileName(
            this, tr("Export the curves (PNG and CSV)"), QStringLiteral("curves.png"), tr("PNG image (*.png)"));
        if (base.isEmpty() || !plot)
            return;
        QString csv = base;
        csv.replace(QRegularExpression(QStringLiteral("\\.png$")), QString());
        csv += QStringLiteral(".csv");
        if (!plot->exportPng(base) || !plot->exportCsv(csv))
            showError(tr("Export the curves"), tr("Could not write %1 or %2.").arg(base, csv));
        else
            statusBar()->showMessage(tr("Wrote %1 and %2").arg(base, csv));
    });
    curveRow->addWidget(m_logScale);
    curveRow->addWidget(fit);
    curveRow->addStretch(1);
    curveRow->addWidget(exportCurves);
    curvesLayout->addWidget(curveTabs, 1);
    curvesLayout->addLayout(curveRow);

    // Right, bottom: before/after with the timeline, metrics, log.
    m_lowerTabs = new QTabWidget;
    auto* compare = new QWidget;
    auto* compareLayout = new QVBoxLayout(compare);
    auto* grids = new QHBoxLayout;
    m_beforeGrid = new widgets::SampleGrid(compare);
    m_beforeGrid->setTitle(tr("Before"));
    m_beforeGrid->setPlaceholder(tr("The base model's samples appear when a run starts."));
    m_afterGrid = new widgets::SampleGrid(compare);
    m_afterGrid->setTitle(tr("After"));
    m_afterGrid->setPlaceholder(tr("The unlearned model's samples, from the same seeds, appear at each preview."));
    grids->addWidget(m_beforeGrid);
    grids->addWidget(m_afterGrid);
    connect(m_beforeGrid, &widgets::SampleGrid::cellActivated, this, &MainWindow::showCell);
    connect(m_afterGrid, &widgets::SampleGrid::cellActivated, this, &MainWindow::showCell);
    auto* timelineRow = new QHBoxLayout;
    m_difference = new QCheckBox(tr("&Difference ×4"), compare);
    connect(m_difference, &QCheckBox::toggled, this, [this] { showTimelineStep(m_timeline->value()); });
    m_timeline = new QSlider(Qt::Horizontal, compare);
    m_timeline->setRange(0, 0);
    m_timeline->setEnabled(false);
    m_timeline->setAccessibleName(tr("Snapshot timeline"));
    connect(m_timeline, &QSlider::valueChanged, this, &MainWindow::showTimelineStep);
    m_timelineLabel = new QLabel(tr("no previews yet"), compare);
    m_exportSnapshot = new QPushButton(tr("Export this s&napshot…"), compare);
    connect(m_exportSnapshot, &QPushButton::clicked, this, [this] { chooseExportFolder(true); });
    timelineRow->addWidget(m_difference);
    timelineRow->addWidget(m_timeline, 1);
    timelineRow->addWidget(m_timelineLabel);
    timelineRow->addWidget(m_exportSnapshot);
    compareLayout->addLayout(grids, 1);
    compareLayout->addLayout(timelineRow);
    m_metrics = new widgets::MetricsView;
    m_log = new widgets::LogView;
    m_lowerTabs->addTab(compare, tr("Before / after"));
    m_lowerTabs->addTab(m_metrics, tr("Metrics"));
    m_lowerTabs->addTab(m_log, tr("Log"));

    auto* right = new QSplitter(Qt::Vertical);
    right->setObjectName(QStringLiteral("rightSplitter"));
    right->addWidget(curves);
    right->addWidget(m_lowerTabs);
    right->setStretchFactor(0, 2);
    right->setStretchFactor(1, 3);
    auto* main = new QSplitter(Qt::Horizontal);
    main->setObjectName(QStringLiteral("mainSplitter"));
    main->addWidget(leftScroll);
    main->addWidget(right);
    main->setStretchFactor(1, 1);
    m_concept = new ConceptTab;
    m_topTabs = new QTabWidget;
    m_topTabs->addTab(main, tr("C&lass"));
    m_topTabs->addTab(m_concept, tr("Co&ncept"));
    m_topTabs->setTabToolTip(0, tr("Class unlearning of a class-conditional model"));
    m_topTabs->setTabToolTip(1, tr("Concept unlearning of a text-to-image model"));
    connect(m_concept, &ConceptTab::statusMessage, this, [this](const QString& text) {
        if (conceptCurrent())
            statusBar()->showMessage(text);
    });
    connect(m_concept, &ConceptTab::actionsChanged, this, &MainWindow::updateActions);
    connect(m_topTabs, &QTabWidget::currentChanged, this, [this] {
        statusBar()->showMessage(conceptCurrent() ? m_concept->lastStatus() : m_runMessage);
        updateActions();
    });
    setCentralWidget(m_topTabs);
    resize(1400, 900);
    updateActions();
}

void MainWindow::buildMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open model…"));
    open->setShortcut(QKeySequence::Open);
    connect(open, &QAction::triggered, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open a Lethe or converted EDM model"), QString(), tr("Model files (*.safetensors)"));
        if (!path.isEmpty())
            openModel(path, m_dataSpec);
    });
    QAction* builtin = file->addAction(tr("Open the &built-in model"));
    connect(builtin, &QAction::triggered, this, [this] { openModel(QString(), kBuiltinData); });
    m_recentMenu = file->addMenu(tr("&Recent models"));
    m_exportAction = file->addAction(tr("&Export…"));
    m_exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    connect(m_exportAction, &QAction::triggered, this, [this] {
        if (conceptCurrent())
            m_concept->chooseExport(false);
        else
            chooseExportFolder(false);
    });
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    m_startAction = run->addAction(tr("&Start"));
    m_startAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    connect(
        m_startAction, &QAction::triggered, this, [this] { conceptCurrent() ? m_concept->startRun() : startRun(); });
    m_pauseAction = run->addAction(tr("&Pause / resume"));
    m_pauseAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
    connect(m_pauseAction, &QAction::triggered, this,
        [this] { conceptCurrent() ? m_concept->togglePause() : togglePause(); });
    m_stopAction = run->addAction(tr("S&top"));
    m_stopAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    connect(m_stopAction, &QAction::triggered, this, [this] { conceptCurrent() ? m_concept->stopRun() : stopRun(); });

    QMenu* settingsMenu = menuBar()->addMenu(tr("&Settings"));
    QMenu* language = settingsMenu->addMenu(tr("&Language"));
    const QList<QPair<QString, QString>> languages = { { QStringLiteral("en"), QStringLiteral("English") },
        { QStringLiteral("de"), QStringLiteral("Deutsch") }, { QStringLiteral("zh_CN"), QStringLiteral("简体中文") } };
    const QString current = QSettings().value(QStringLiteral("language"), QStringLiteral("en")).toString();
    for (const auto& [code, name] : languages) {
        QAction* action = language->addAction(name);
        action->setCheckable(true);
        action->setChecked(code == current);
        connect(action, &QAction::triggered, this, [this, code = code] {
            QSettings().setValue(QStringLiteral("language"), code);
            QMessageBox::information(this, tr("Language"), tr("The new language applies when Lethe starts again."));
        });
    }

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About Lethe"));
    connect(about, &QAction::triggered, this, [this] {
        QMessageBox::about(this, tr("About Lethe"),
            tr("<b>Lethe %1</b><p>A workbench for machine unlearning in diffusion models: RGD (restricted gradient "
               "with a diverse remain set) and its baselines GA, GradDiff, RG and SalUn.</p>")
                .arg(QApplication::applicationVersion()));
    });
}

void MainWindow::restoreSettings()
{
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    for (auto* splitter : findChildren<QSplitter*>())
        splitter->restoreState(settings.value(QStringLiteral("window/") + splitter->objectName()).toByteArray());
    if (settings.contains(QStringLiteral("run/method"))) {
        widgets::RunSettings s = m_panel->settings();
        s.method = settings.value(QStringLiteral("run/method"), s.method).toString();
        s.alpha = settings.value(QStringLiteral("run/alpha"), s.alpha).toDouble();
        s.lambda = settings.value(QStringLiteral("run/lambda"), s.lambda).toDouble();
        s.lr = settings.value(QStringLiteral("run/lr"), s.lr).toDouble();
        s.steps = settings.value(QStringLiteral("run/steps"), s.steps).toLongLong();
        s.forgetBatch = settings.value(QStringLiteral("run/forgetBatch"), s.forgetBatch).toLongLong();
        s.remainPerClass = settings.value(QStringLiteral("run/remainPerClass"), s.remainPerClass).toLongLong();
        s.remainBatch = settings.value(QStringLiteral("run/remainBatch"), s.remainBatch).toLongLong();
        s.seed = settings.value(QStringLiteral("run/seed"), s.seed).toULongLong();
        m_panel->setSettings(s);
    }
    m_measure->setChecked(settings.value(QStringLiteral("run/measure"), true).toBool());
    m_measureImages->setValue(settings.value(QStringLiteral("run/measureImages"), kDefaultMeasureImages).toInt());
    const QStringList recent = settings.value(QStringLiteral("recent")).toStringList();
    m_recentMenu->clear();
    for (const QString& path : recent) {
        QAction* action = m_recentMenu->addAction(path);
        connect(action, &QAction::triggered, this, [this, path] { openModel(path, m_dataSpec); });
    }
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::saveSettings() const
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    for (auto* splitter : findChildren<QSplitter*>())
        settings.setValue(QStringLiteral("window/") + splitter->objectName(), splitter->saveState());
    const widgets::RunSettings s = m_panel->settings();
    settings.setValue(QStringLiteral("run/method"), s.method);
    settings.setValue(QStringLiteral("run/alpha"), s.alpha);
    settings.setValue(QStringLiteral("run/lambda"), s.lambda);
    settings.setValue(QStringLiteral("run/lr"), s.lr);
    settings.setValue(QStringLiteral("run/steps"), s.steps);
    settings.setValue(QStringLiteral("run/forgetBatch"), s.forgetBatch);
    settings.setValue(QStringLiteral("run/remainPerClass"), s.remainPerClass);
    settings.setValue(QStringLiteral("run/remainBatch"), s.remainBatch);
    settings.setValue(QStringLiteral("run/seed"), s.seed);
    settings.setValue(QStringLiteral("run/measure"), m_measure->isChecked());
    settings.setValue(QStringLiteral("run/measureImages"), m_measureImages->value());
    settings.setValue(QStringLiteral("model"), m_modelPath);
    settings.setValue(QStringLiteral("data"), m_dataSpec);
}

void MainWindow::addRecent(const QString& path)
{
    if (path.isEmpty())
        return;
    QSettings settings;
    QStringList recent = settings.value(QStringLiteral("recent")).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue(QStringLiteral("recent"), recent);
    restoreSettings();
}

void MainWindow::openModel(const QString& model, const QString& data)
{
    if (m_running)
        return;
    m_modelOpen = false;
    m_dataSpec = data.isEmpty() ? kBuiltinData : data;
    if (m_dataBox->findData(m_dataSpec) < 0)
        m_dataBox->insertItem(m_dataBox->count() - 1, m_dataSpec, m_dataSpec);
    m_dataBox->setCurrentIndex(m_dataBox->findData(m_dataSpec));
    m_modelLabel->setText(tr("Opening %1 …").arg(model.isEmpty() ? tr("the built-in model") : model));
    updateActions();
    const QString spec = m_dataSpec;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, model, spec] { worker->open(model, spec, QString()); });
}

void MainWindow::onOpened(const OpenedModel& model)
{
    m_modelOpen = true;
    m_modelPath = model.modelPath;
    m_modelLabel->setText(model.modelDescription + QLatin1Char('\n') + model.dataDescription);
    m_modelLabel->setToolTip(model.modelPath);
    m_classNames.clear();
    for (const auto& c : model.classes)
        m_classNames.append(c.name);
    const int previous = m_forgetClass;
    m_classPicker->setClasses(model.classes);
    m_classPicker->setCurrentClass(previous >= 0 && previous < model.classes.size()
            ? previous
            : std::min<int>(7, static_cast<int>(model.classes.size()) - 1));
    m_measure->setEnabled(model.canMeasure);
    if (!model.canMeasure)
        m_measure->setChecked(false);
    m_metrics->setClasses(m_classNames, m_forgetClass);
    m_progress->setRange(0, 1); // Idle again after the busy indicator of the opening.
    m_progress->setValue(0);
    m_progress->setFormat(QString());
    statusBar()->showMessage(tr("Ready: choose a class and press Start"));
    if (QFileInfo(model.modelPath).absolutePath() != QFileInfo(QStringLiteral(".")).absolutePath())
        addRecent(model.modelPath);
    updateActions();
}

void MainWindow::startRun()
{
    if (m_running || !m_modelOpen || m_forgetClass < 0)
        return;
    RunRequest request;
    request.settings = m_panel->settings();
    request.forgetClass = m_forgetClass;
    request.measure = m_measure->isChecked();
    request.measureImagesPerClass = m_measureImages->value();
    request.previewEvery = std::max<qint64>(1, request.settings.steps / 8);
    for (widgets::CurvePlot* plot : { m_curves.loss, m_curves.cosine, m_curves.norm })
        plot->clear();
    m_previews.clear();
    m_afterGrid->setCells({}, m_columns);
    m_beforeGrid->setCells({}, m_columns);
    m_metrics->clear();
    m_metrics->setClasses(m_classNames, m_forgetClass);
    m_timeline->setRange(0, 0);
    m_timelineLabel->setText(tr("no previews yet"));
    m_lastStep = 0;
    m_stepsDone = 0;
    m_totalSteps = request.settings.steps;
    m_runSeconds = 0.0;
    m_rate->clear();
    m_paused = false;
    setRunning(true);
    m_runClock.start();
    saveSettings();
    m_runMessage
        = tr("Unlearning %1 with %2").arg(m_classNames.value(m_forgetClass), request.settings.method.toUpper());
    statusBar()->showMessage(m_runMessage);
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->run(request); });
}

void MainWindow::togglePause()
{
    const auto control = m_worker->control();
    if (!m_running || !control)
        return;
    m_paused = !m_paused;
    if (m_paused) {
        control->pause();
        statusBar()->showMessage(tr("Paused after step %1: change α, λ or lr, export, or resume").arg(m_lastStep));
    } else {
        control->resume();
        statusBar()->showMessage(tr("Resumed"));
    }
    updateActions();
}

void MainWindow::stopRun()
{
    if (const auto control = m_worker->control()) {
        control->requestStop();
        statusBar()->showMessage(tr("Stopping after the current step …"));
    }
}

void MainWindow::setRunning(bool running)
{
    m_running = running;
    m_panel->setRunning(running);
    updateActions();
}

void MainWindow::updateActions()
{
    const bool canStart = !m_running && m_modelOpen && m_forgetClass >= 0 && !m_exporting;
    const bool canExport = !m_exporting && m_modelOpen && !m_previews.isEmpty() && (!m_running || m_paused);
    m_start->setEnabled(canStart);
    m_pause->setEnabled(m_running && !m_exporting);
    m_pause->setText(m_paused ? tr("&Resume") : tr("&Pause"));
    m_stop->setEnabled(m_running);
    m_export->setEnabled(canExport);
    m_exportSnapshot->setEnabled(canExport && m_timeline->isEnabled());
    m_classPicker->setEnabled(!m_running);
    m_dataBox->setEnabled(!m_running);
    m_measure->setEnabled(!m_running);
    m_measureImages->setEnabled(!m_running);
    if (m_startAction && conceptCurrent()) {
        m_startAction->setEnabled(m_concept->canStart());
        m_pauseAction->setEnabled(m_concept->isRunning());
        m_stopAction->setEnabled(m_concept->isRunning());
        m_exportAction->setEnabled(m_concept->hasResult() && !m_concept->isBusy());
    } else if (m_startAction) {
        m_startAction->setEnabled(canStart);
        m_pauseAction->setEnabled(m_running);
        m_stopAction->setEnabled(m_running);
        m_exportAction->setEnabled(canExport);
    }
}

double MainWindow::stepsPerSecond() const
{
    return m_runSeconds > 0 ? static_cast<double>(m_stepsDone) / m_runSeconds : 0.0;
}

void MainWindow::onStep(const StepPoint& p)
{
    const double x = static_cast<double>(p.step);
    m_curves.loss->append(m_curves.forgetLoss, x, p.forgetLoss);
    m_curves.loss->append(m_curves.remainLoss, x, p.remainLoss);
    m_curves.cosine->append(m_curves.cosineValue, x, p.cosine);
    if (p.projected)
        m_curves.cosine->append(m_curves.projected, x, p.cosine);
    m_curves.norm->append(m_curves.ascentNorm, x, p.ascentNorm);
    m_curves.norm->append(m_curves.remainNorm, x, p.remainNorm);
    m_lastStep = p.step;
    m_totalSteps = p.totalSteps;
    ++m_stepsDone;
    m_runSeconds += p.seconds;
    m_progress->setRange(0, static_cast<int>(p.totalSteps));
    m_progress->setValue(static_cast<int>(p.step));
    m_progress->setFormat(tr("step %v of %m"));
    const double rate = stepsPerSecond();
    m_rate->setText(tr("%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5")
                        .arg(rate, 0, 'f', 2)
                        .arg(duration(rate > 0 ? static_cast<double>(p.totalSteps - p.step) / rate : NAN))
                        .arg(p.forgetLoss, 0, 'g', 4)
                        .arg(p.remainLoss, 0, 'g', 4)
                        .arg(p.cosine, 0, 'f', 3));
}

void MainWindow::onPreview(qint64 step, const QList<QImage>& cells)
{
    if (!m_previews.isEmpty() && m_previews.last().first == step)
        m_previews.last().second = cells;
    else
        m_previews.append({ step, cells });
    const bool atEnd = m_timeline->value() == m_timeline->maximum();
    m_timeline->setEnabled(true);
    m_timeline->setRange(0, static_cast<int>(m_previews.size()) - 1);
    if (atEnd)
        m_timeline->setValue(m_timeline->maximum());
    showTimelineStep(m_timeline->value());
    updateActions();
}

void MainWindow::showTimelineStep(int index)
{
    if (index < 0 || index >= m_previews.size())
        return;
    const auto& [step, cells] = m_previews[index];
    QList<QImage> shown = cells;
    if (m_difference->isChecked() && cells.size() == m_before.size())
        for (qsizetype i = 0; i < shown.size(); ++i)
            shown[i] = widgets::differenceImage(m_before[i], cells[i]);
    m_afterGrid->setCells(shown, m_columns, m_classNames);
    m_afterGrid->setHighlightedRow(m_forgetClass);
    m_afterGrid->setTitle(
        m_difference->isChecked() ? tr("Difference ×4 at step %1").arg(step) : tr("After step %1").arg(step));
    m_timelineLabel->setText(tr("step %1").arg(step));
}

void MainWindow::onLiveChange(const QString& name, double value)
{
    const auto control = m_worker->control();
    if (!control)
        return;
    // The change applies at the next step; mark it there.
    const QString label = sendLiveChange(*control, name, value, m_curves, static_cast<double>(m_lastStep) + 1.0);
    statusBar()->showMessage(tr("%1 from step %2").arg(label).arg(m_lastStep + 1));
}

void MainWindow::onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds)
{
    m_lastOutcome = outcome;
    m_wallSteps = steps;
    m_wallSeconds = seconds;
    m_paused = false;
    setRunning(false);
    for (widgets::CurvePlot* plot : { m_curves.loss, m_curves.cosine, m_curves.norm })
        plot->flush();
    if (outcome == QStringLiteral("failed")) {
        statusBar()->showMessage(tr("The run failed after %1 steps").arg(steps));
        showError(tr("Run failed"), message);
    } else {
        statusBar()->showMessage(tr("Run %1 after %2 steps in %3 (%4 steps/s)%5")
                                     .arg(outcome == QStringLiteral("finished") ? tr("finished") : tr("stopped"))
                                     .arg(steps)
                                     .arg(duration(seconds))
                                     .arg(wallStepsPerSecond(), 0, 'f', 2)
                                     .arg(message.isEmpty() ? QString() : QStringLiteral(" — ") + message));
    }
    if (m_closing)
        close();
    Q_EMIT runFinished(outcome);
}

void MainWindow::chooseExportFolder(bool snapshot)
{
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Export into a folder"));
    if (!folder.isEmpty())
        exportTo(folder, snapshot);
}

void MainWindow::exportTo(const QString& folder, bool snapshot)
{
    if (m_exporting || (m_running && !m_paused))
        return;
    qint64 step = -1;
    if (snapshot && m_timeline->value() < m_timeline->maximum())
        step = m_previews.value(m_timeline->value()).first;
    m_exporting = true;
    updateActions();
    statusBar()->showMessage(tr("Exporting to %1 …").arg(folder));
    // On a thread of its own: the worker's thread is busy while a run is paused.
    QThread* thread = QThread::create([worker = m_worker, folder, step] { worker->exportRun(folder, step); });
    connect(thread, &QThread::finished, thread, &QObject::deleteLater);
    thread->start();
}

void MainWindow::showCell(int row, int column)
{
    const qsizetype index = static_cast<qsizetype>(row) * m_columns + column;
    if (index >= m_before.size())
        return;
    QDialog dialog(this);
    dialog.setWindowTitle(tr("%1, seed column %2").arg(m_classNames.value(row)).arg(column));
    auto* layout = new QHBoxLayout(&dialog);
    const auto addImage = [&](const QImage& image, const QString& caption) {
        auto* box = new QVBoxLayout;
        auto* picture = new QLabel(&dialog);
        picture->setPixmap(
            QPixmap::fromImage(image.scaled(image.size() * 8, Qt::KeepAspectRatio, Qt::FastTransformation)));
        box->addWidget(picture);
        box->addWidget(new QLabel(caption, &dialog), 0, Qt::AlignHCenter);
        layout->addLayout(box);
    };
    addImage(m_before[index], tr("before"));
    const int shown = m_timeline->value();
    if (shown >= 0 && shown < m_previews.size() && index < m_previews[shown].second.size()) {
        const QImage after = m_previews[shown].second[index];
        addImage(after, tr("after step %1").arg(m_previews[shown].first));
        addImage(widgets::differenceImage(m_before[index], after), tr("difference ×4"));
    }
    auto* close = new QDialogButtonBox(QDialogButtonBox::Close, &dialog);
    connect(close, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    layout->addWidget(close);
    dialog.exec();
}

bool MainWindow::conceptCurrent() const
{
    return m_topTabs && m_concept && m_topTabs->currentWidget() == m_concept;
}

void MainWindow::showError(const QString& title, const QString& message)
{
    // A dialog that leaves the run's state as it is.
    QMessageBox box(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box.setTextInteractionFlags(Qt::TextSelectableByMouse);
    box.exec();
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    saveSettings();
    if (m_running) {
        // Stop cleanly: the run ends after its current step, then the window closes.
        m_closing = true;
        if (const auto control = m_worker->control()) {
            control->resume();
            control->requestStop();
        }
        statusBar()->showMessage(tr("Stopping the run before closing …"));
        event->ignore();
        return;
    }
    if (m_concept->isRunning()) {
        // The same for a concept run: it stops after its current step (and its "after" images), then the window
        // closes.
        m_closing = true;
        connect(m_concept, &ConceptTab::runFinished, this, &QWidget::close,
            static_cast<Qt::ConnectionType>(Qt::QueuedConnection | Qt::UniqueConnection));
        m_concept->stopRun();
        statusBar()->showMessage(tr("Stopping the concept run before closing …"));
        event->ignore();
        return;
    }
    event->accept();
}

} // namespace lethe::gui
