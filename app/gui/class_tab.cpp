#include "class_tab.h"

#include "instruments_dialog.h"
#include "qt_conversions.h"
#include "robustness_panel.h"

#include "widgets/class_picker.h"
#include "widgets/curve_plot.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/metrics_view.h"
#include "widgets/sample_grid.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace lethe::gui {

namespace {

/// Images per class for the before/after measurements: on the built-in model about five minutes per
/// measurement on two cores (the base model's is measured once per class and reused).
constexpr int kDefaultMeasureImages = 50;
const QString kBuiltinData = QStringLiteral("fashion-mnist");

} // namespace

ClassTab::ClassTab(QWidget* parent)
    : ClassTab(new SessionWorker, parent)
{
}

ClassTab::ClassTab(SessionWorker* worker, QWidget* parent)
    : RunTab(worker, parent)
    , m_worker(worker)
{
    auto* right = new QSplitter(Qt::Vertical);
    right->setObjectName(QStringLiteral("rightSplitter"));
    right->addWidget(buildCurves());
    right->addWidget(buildCompare());
    right->setStretchFactor(0, 2);
    right->setStretchFactor(1, 3);
    right->setSizes({ 400, 600 }); // Two fifths for the curves, whatever the grids' size hints say.
    QWidget* controls = buildControls();
    arrange(QStringLiteral("mainSplitter"), controls, 360, buildRunGroup(), right);

    connectWorker();
    restoreSettings();
    updateActions();
}

QWidget* ClassTab::buildControls()
{
    // Model and data, class, hyperparameters (the run's controls are buildRunGroup's).
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
        openModel(m_modelPath, spec, m_classifier);
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
    QVBoxLayout* methodLayout = addPanel(methodGroup);
    m_panel->setKind(widgets::RunKind::Class);
    m_panel->setMethods(SessionWorker::methods());
    m_panel->setPrecisions(RunWorker::precisions());
    m_panel->setPresets(SessionWorker::presets());
    methodLayout->addWidget(buildMeasures());

    leftLayout->addWidget(modelGroup, 1);
    leftLayout->addWidget(methodGroup);
    return left;
}

QWidget* ClassTab::buildRunGroup()
{
    auto* runGroup = new QGroupBox(tr("Run"));
    QHBoxLayout* buttons = addRunControls(new QVBoxLayout(runGroup), runGroup);
    m_export = new QPushButton(tr("&Export…"), runGroup);
    buttons->addWidget(m_export);
    connect(m_export, &QPushButton::clicked, this, [this] { chooseExportFolder(false); });
    return runGroup;
}

QWidget* ClassTab::buildMeasures()
{
    // Lethe's own measures, and optionally the instruments published results are measured with (in a dialog: the
    // column has no room for their four fields, and most runs go without).
    auto* measures = new QWidget;
    auto* layout = new QVBoxLayout(measures);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* row = new QHBoxLayout;
    m_measure = new QCheckBox(tr("Measure &before and after"), measures);
    m_measure->setChecked(true);
    m_measure->setToolTip(tr("UA, RA per class, FD_cls and KID_cls from generated images (takes minutes on a CPU)"));
    m_measureImages = new QSpinBox(measures);
    m_measureImages->setRange(2, 10000);
    m_measureImages->setValue(kDefaultMeasureImages);
    m_measureImages->setSuffix(tr(" per class"));
    m_instrumentsButton = new QPushButton(tr("&Instruments…"), measures);
    m_instrumentsButton->setToolTip(
        tr("Also measure with zero-shot CLIP (UA and RA) and FID, as published results are measured"));
    connect(m_instrumentsButton, &QPushButton::clicked, this, &ClassTab::chooseInstruments);
    row->addWidget(m_measure, 1);
    row->addWidget(m_measureImages);
    row->addWidget(m_instrumentsButton);
    m_instrumentsLabel = new QLabel(measures);
    m_instrumentsLabel->setWordWrap(true);
    m_instrumentsLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addLayout(row);
    layout->addWidget(m_instrumentsLabel);
    connect(m_measure, &QCheckBox::toggled, this, &ClassTab::updateActions);
    return measures;
}

void ClassTab::chooseInstruments()
{
    InstrumentsDialog dialog(m_instruments, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    setInstrumentPaths(dialog.paths());
    saveSettings();
}

void ClassTab::setInstrumentPaths(const InstrumentPaths& paths)
{
    m_instruments = paths;
    m_instrumentsError.clear();
    showInstruments();
}

void ClassTab::showInstruments()
{
    // The loaders' message in red where it failed; else what the measures will use, if anything beyond Lethe's own.
    if (!m_instrumentsError.isEmpty()) {
        m_instrumentsLabel->setStyleSheet(QStringLiteral("color: #b3261e"));
        m_instrumentsLabel->setText(m_instrumentsError);
        m_instrumentsLabel->setToolTip(QString());
        m_instrumentsLabel->show();
        return;
    }
    m_instrumentsLabel->setStyleSheet(QString());
    QStringList parts;
    if (!m_instruments.clip.isEmpty())
        parts << tr("zero-shot CLIP (%1)").arg(QFileInfo(m_instruments.clip).fileName());
    if (!m_instruments.inception.isEmpty() || !m_instruments.fidReference.isEmpty())
        parts << tr("FID (%1 against %2, %3 resize)")
                     .arg(QFileInfo(m_instruments.inception).fileName(),
                         QFileInfo(m_instruments.fidReference).fileName(), m_instruments.fidResize);
    m_instrumentsLabel->setText(tr("Also: %1").arg(parts.join(tr(", "))));
    m_instrumentsLabel->setToolTip(
        QStringList { m_instruments.clip, m_instruments.inception, m_instruments.fidReference }.join(
            QLatin1Char('\n')));
    m_instrumentsLabel->setVisible(!parts.isEmpty());
}

QWidget* ClassTab::buildCurves()
{
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
        for (widgets::CurvePlot* plot : m_curves.plots())
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
            setStatus(tr("Wrote %1 and %2").arg(base, csv));
    });
    curveRow->addWidget(m_logScale);
    curveRow->addWidget(fit);
    curveRow->addStretch(1);
    curveRow->addWidget(exportCurves);
    curvesLayout->addWidget(curveTabs, 1);
    curvesLayout->addLayout(curveRow);
    return curves;
}

QWidget* ClassTab::buildCompare()
{
    // Before/after with the timeline, and the measures.
    m_lowerTabs = new QTabWidget;
    auto* compare = new QWidget;
    auto* compareLayout = new QVBoxLayout(compare);
    auto* grids = new QHBoxLayout;
    makeGrids(compare, tr("The base model's samples appear when a run starts."),
        tr("The unlearned model's samples, from the same seeds, appear at each preview."));
    grids->addWidget(m_beforeGrid);
    grids->addWidget(m_afterGrid);
    connect(m_beforeGrid, &widgets::SampleGrid::cellActivated, this, &ClassTab::showCell);
    connect(m_afterGrid, &widgets::SampleGrid::cellActivated, this, &ClassTab::showCell);
    auto* timelineRow = new QHBoxLayout;
    m_difference = new QCheckBox(tr("&Difference ×4"), compare);
    connect(m_difference, &QCheckBox::toggled, this, [this] { showTimelineStep(m_timeline->value()); });
    m_timeline = new QSlider(Qt::Horizontal, compare);
    m_timeline->setRange(0, 0);
    m_timeline->setEnabled(false);
    m_timeline->setAccessibleName(tr("Snapshot timeline"));
    connect(m_timeline, &QSlider::valueChanged, this, &ClassTab::showTimelineStep);
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
    m_lowerTabs->addTab(compare, tr("Before / after"));
    m_lowerTabs->addTab(m_metrics, tr("Metrics"));
    m_robustness = new RobustnessPanel(RobustnessPanel::Mode::Class);
    connect(m_robustness, &RobustnessPanel::startRequested, this, &ClassTab::startAttack);
    connect(m_robustness, &RobustnessPanel::cancelRequested, this, [this] { m_worker->cancelAttack(); });
    connect(m_robustness, &RobustnessPanel::statusMessage, this, &ClassTab::setStatus);
    m_lowerTabs->addTab(m_robustness, tr("Ro&bustness"));
    return m_lowerTabs;
}

void ClassTab::connectWorker()
{
    connect(m_worker, &SessionWorker::opened, this, &ClassTab::onOpened);
    connect(m_worker, &SessionWorker::openFailed, this, [this](const QString& message) {
        m_modelOpen = false;
        m_modelLabel->setText(tr("No model open."));
        setStatus(tr("Could not open the model"));
        showError(tr("Open model"), message);
        updateActions();
    });
    connect(m_worker, &RunWorker::beforeReady, this, [this](const QList<QImage>& cells, int columns) {
        m_before = cells;
        m_columns = columns;
        m_beforeGrid->setCells(cells, columns, m_classNames);
        m_beforeGrid->setHighlightedRow(m_forgetClass);
        showTimelineStep(m_timeline->value()); // The differences, when the base preview came after the previews.
    });
    connect(m_worker, &SessionWorker::beforeAfterTheRun, this, [this] {
        m_beforeGrid->setPlaceholder(tr("The base model's samples are drawn when the run ends, and kept for the next "
                                        "runs with the same preview seeds."));
    });
    connect(m_worker, &RunWorker::previewReady, this,
        [this](qint64 step, const QList<QImage>& cells, int) { onPreview(step, cells); });
    connect(m_worker, &SessionWorker::instrumentsLoaded, this, [this](const QString& description) {
        if (!m_loadingInstruments)
            return;
        m_loadingInstruments = false;
        launchRun(m_pendingRequest);
        setStatus(m_runMessage + tr(" — measuring with %1").arg(description));
    });
    connect(m_worker, &SessionWorker::instrumentsFailed, this, [this](const QString& message) {
        m_loadingInstruments = false;
        // Under the measures, where the instruments are chosen; nothing was started, so nothing of the last run is
        // lost.
        m_instrumentsError = message;
        showInstruments();
        setStatus(tr("Could not load the measuring instruments: the run was not started"));
        updateActions();
    });
    connect(m_worker, &RunWorker::attackProgress, m_robustness, &RobustnessPanel::showProgress);
    connect(m_worker, &RunWorker::attackEnded, this, &ClassTab::onAttackEnded);
    connect(m_worker, &SessionWorker::measured, this, [this](int which, const widgets::Measurement& m) {
        if (which == 0)
            m_metrics->setBefore(m);
        else
            m_metrics->setAfter(m);
    });
}

void ClassTab::restoreSettings()
{
    // The panel starts from core's first preset (cpu-fast); values used before replace it.
    QSettings settings;
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
        s.saliencyFraction = settings.value(QStringLiteral("run/saliencyFraction"), s.saliencyFraction).toDouble();
        m_panel->setSettings(s);
    }
    m_measure->setChecked(settings.value(QStringLiteral("run/measure"), true).toBool());
    m_measureImages->setValue(settings.value(QStringLiteral("run/measureImages"), kDefaultMeasureImages).toInt());
    InstrumentPaths instruments;
    instruments.clip = settings.value(QStringLiteral("run/clip")).toString();
    instruments.inception = settings.value(QStringLiteral("run/inception")).toString();
    instruments.fidReference = settings.value(QStringLiteral("run/fidReference")).toString();
    instruments.fidResize = settings.value(QStringLiteral("run/fidResize"), instruments.fidResize).toString();
    setInstrumentPaths(instruments);
}

void ClassTab::saveSettings() const
{
    QSettings settings;
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
    settings.setValue(QStringLiteral("run/saliencyFraction"), s.saliencyFraction);
    settings.setValue(QStringLiteral("run/measure"), m_measure->isChecked());
    settings.setValue(QStringLiteral("run/measureImages"), m_measureImages->value());
    settings.setValue(QStringLiteral("run/clip"), m_instruments.clip);
    settings.setValue(QStringLiteral("run/inception"), m_instruments.inception);
    settings.setValue(QStringLiteral("run/fidReference"), m_instruments.fidReference);
    settings.setValue(QStringLiteral("run/fidResize"), m_instruments.fidResize);
    settings.setValue(QStringLiteral("model"), m_modelPath);
    settings.setValue(QStringLiteral("data"), m_dataSpec);
}

void ClassTab::openModel(const QString& model, const QString& data, const QString& classifier)
{
    if (m_running || m_loadingInstruments || m_attacking)
        return;
    m_modelOpen = false;
    m_hasRunModel = false; // The worker lets the last run go with the model it came from.
    m_robustness->clearResult();
    m_classifier = classifier;
    m_dataSpec = data.isEmpty() ? kBuiltinData : data;
    if (m_dataBox->findData(m_dataSpec) < 0)
        m_dataBox->insertItem(m_dataBox->count() - 1, m_dataSpec, m_dataSpec);
    m_dataBox->setCurrentIndex(m_dataBox->findData(m_dataSpec));
    m_modelLabel->setText(tr("Opening %1 …").arg(model.isEmpty() ? tr("the built-in model") : model));
    updateActions();
    const QString spec = m_dataSpec;
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, model, spec, classifier] { worker->open(model, spec, classifier); });
}

void ClassTab::onOpened(const OpenedModel& model)
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
    m_canMeasure = model.canMeasure;
    if (!model.canMeasure)
        m_measure->setChecked(false);
    m_metrics->setClasses(m_classNames, m_forgetClass);
    showIdleProgress(); // Idle again after the busy indicator of the opening.
    setStatus(tr("Ready: choose a class and press Start"));
    if (QFileInfo(model.modelPath).absolutePath() != QFileInfo(QStringLiteral(".")).absolutePath())
        Q_EMIT modelOpened(model.modelPath);
    updateActions();
}

void ClassTab::startRun()
{
    if (!canStart())
        return;
    RunRequest request;
    request.settings = m_panel->settings();
    request.preset = m_panel->presetBox()->currentText();
    request.forgetClass = m_forgetClass;
    request.measure = m_measure->isChecked();
    request.measureImagesPerClass = m_measureImages->value();
    request.previewEvery = std::max<qint64>(1, request.settings.steps / 8);
    if (request.measure)
        request.instruments = m_instruments;
    m_instrumentsError.clear();
    showInstruments();
    if (!request.instruments.empty()) {
        // Loaded first: a file that does not load starts nothing, and the last run's results stay.
        m_pendingRequest = request;
        m_loadingInstruments = true;
        updateActions();
        setStatus(tr("Loading the measuring instruments …"));
        const InstrumentPaths paths = request.instruments;
        QMetaObject::invokeMethod(m_worker, [worker = m_worker, paths] { worker->loadInstruments(paths); });
        return;
    }
    launchRun(request);
}

void ClassTab::launchRun(const RunRequest& request)
{
    resetRun(request.settings.steps);
    m_previews.clear();
    m_before.clear();
    m_afterGrid->setCells({}, m_columns);
    m_beforeGrid->setCells({}, m_columns);
    m_beforeGrid->setPlaceholder(tr("The base model's samples appear when a run starts."));
    m_metrics->clear();
    m_metrics->setClasses(m_classNames, m_forgetClass);
    m_robustness->clearResult();
    m_hasRunModel = false;
    m_timeline->setRange(0, 0);
    m_timelineLabel->setText(tr("no previews yet"));
    setRunning(true);
    updateActions();
    saveSettings();
    m_runMessage
        = tr("Unlearning %1 with %2").arg(m_classNames.value(m_forgetClass), request.settings.method.toUpper());
    setStatus(m_runMessage);
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->run(request); });
}

QString ClassTab::pausedStatus() const
{
    return tr("Paused after step %1: change α, λ or lr, export, or resume").arg(m_lastStep);
}

bool ClassTab::canStart() const
{
    return !m_running && m_modelOpen && m_forgetClass >= 0 && !m_exporting && !m_loadingInstruments && !m_attacking;
}

bool ClassTab::canExport() const
{
    return !m_exporting && !m_attacking && m_modelOpen && !m_previews.isEmpty() && (!m_running || m_paused);
}

void ClassTab::updateActions()
{
    updateRunButtons();
    m_export->setEnabled(canExport());
    m_exportSnapshot->setEnabled(canExport() && m_timeline->isEnabled());
    const bool settled = !m_running && !m_loadingInstruments && !m_attacking;
    m_classPicker->setEnabled(settled);
    m_dataBox->setEnabled(settled);
    m_measure->setEnabled(settled && m_canMeasure);
    m_measureImages->setEnabled(settled && m_canMeasure);
    m_instrumentsButton->setEnabled(settled && m_canMeasure && m_measure->isChecked());
    if (m_running || m_loadingInstruments)
        m_robustness->setAvailable(false, tr("The attack starts once the run has finished."));
    else if (!m_hasRunModel)
        m_robustness->setAvailable(false, tr("Run unlearning first: the attack needs the run's finished model."));
    else if (!m_canMeasure)
        m_robustness->setAvailable(
            false, tr("The attack's judge is a classifier of the model's classes, and none was found for this model."));
    else
        m_robustness->setAvailable(!m_exporting, tr("Wait for the export to end."));
    Q_EMIT actionsChanged();
}

void ClassTab::onProgress(const QString& what, qint64 done, qint64 total)
{
    if (what.isEmpty()) { // A measurement or preview ended: back to the run's own progress and status.
        if (m_running && m_phaseShown)
            setStatus(m_runMessage);
        m_phaseShown = false;
        showStepProgress(m_lastStep, m_totalSteps);
        return;
    }
    // The previews between steps show in the bar only: the status bar keeps saying what the run does.
    if (!(m_running && what == RunWorker::previewPhase())) {
        setStatus(what);
        m_phaseShown = true;
    }
    showPhaseProgress(done, total, total > 0 ? what + tr(": %v of %m") : what);
}

void ClassTab::onStep(const StepPoint& p)
{
    recordStep(p);
    showStepProgress(p.step, p.totalSteps);
    m_rate->setText(stepRateText(tr("%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5"), p));
}

void ClassTab::onPreview(qint64 step, const QList<QImage>& cells)
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

void ClassTab::showTimelineStep(int index)
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

void ClassTab::onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds)
{
    m_wallSteps = steps;
    m_wallSeconds = seconds;
    m_hasRunModel = outcome != QStringLiteral("failed") && steps > 0;
    endRun(outcome);
    updateActions();
    if (outcome == QStringLiteral("failed")) {
        setStatus(tr("The run failed after %1 steps").arg(steps));
        showError(tr("Run failed"), message);
    } else {
        setStatus(endedStatus(tr("Run %1 after %2 steps in %3 (%4 steps/s)%5"), outcome, steps, seconds)
                      .arg(wallStepsPerSecond(), 0, 'f', 2)
                      .arg(messageSuffix(message)));
    }
    Q_EMIT runFinished(outcome);
}

void ClassTab::startAttack()
{
    if (m_running || m_attacking || m_exporting || !m_hasRunModel || !m_canMeasure)
        return;
    const AttackRequest request = m_robustness->request();
    m_attacking = true;
    m_robustness->attackStarted();
    m_metrics->setRobustness(QString());
    updateActions();
    setStatus(tr("Attacking the unlearned model: does %1 stay forgotten?").arg(m_classNames.value(m_forgetClass)));
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->attack(request); });
}

void ClassTab::onAttackEnded(const QString& outcome, const QString& message, const AttackSummary& summary)
{
    m_attacking = false;
    m_robustness->attackEnded(outcome, message, summary);
    if (outcome == QStringLiteral("finished"))
        m_metrics->setRobustness(tr("Robustness: %1").arg(m_robustness->figuresText()));
    updateActions();
}

void ClassTab::chooseExportFolder(bool snapshot)
{
    if (!canExport())
        return;
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Export into a folder"));
    if (!folder.isEmpty())
        exportTo(folder, snapshot);
}

void ClassTab::exportTo(const QString& folder, bool snapshot)
{
    if (m_exporting || (m_running && !m_paused))
        return;
    qint64 step = -1;
    if (snapshot && m_timeline->value() < m_timeline->maximum())
        step = m_previews.value(m_timeline->value()).first;
    m_exporting = true;
    updateActions();
    setStatus(tr("Exporting to %1 …").arg(folder));
    // On a thread of its own: the worker's thread is busy while a run is paused.
    QThread* thread = QThread::create([worker = m_worker, folder, step] { worker->exportRun(folder, step); });
    connect(thread, &QThread::finished, thread, &QObject::deleteLater);
    thread->start();
}

void ClassTab::showCell(int row, int column)
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

void ClassTab::showError(const QString& title, const QString& message)
{
    // A dialog that leaves the run's state as it is.
    QMessageBox box(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box.setTextInteractionFlags(Qt::TextSelectableByMouse);
    box.exec();
}

} // namespace lethe::gui
