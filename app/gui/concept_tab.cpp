#include "concept_tab.h"

#include "qt_conversions.h"
#include "robustness_panel.h"

#include "core/unlearn/run_control.h"
#include "widgets/curve_plot.h"
#include "widgets/hyperparameter_panel.h"
#include "widgets/path_edit.h"
#include "widgets/sample_grid.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace lethe::gui {

namespace {

/// The method's name as the status says it: its label in `box` up to " (" ("SalUn"), else its key in capitals.
QString methodName(const QComboBox* box, const QString& key)
{
    const int index = box->findData(key);
    return index >= 0 ? box->itemText(index).section(QStringLiteral(" ("), 0, 0) : key.toUpper();
}

} // namespace

ConceptTab::ConceptTab(QWidget* parent)
    : ConceptTab(new ConceptWorker, parent)
{
}

ConceptTab::ConceptTab(ConceptWorker* worker, QWidget* parent)
    : RunTab(worker, parent)
    , m_worker(worker)
{
    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->addWidget(buildModelGroup());
    leftLayout->addWidget(buildImagesGroup());
    leftLayout->addWidget(buildMethodGroup());
    leftLayout->addWidget(buildMeasuresGroup());
    leftLayout->addStretch(1);

    m_pages = new QTabWidget;
    m_editor = new PromptSetsEditor;
    connect(m_editor, &PromptSetsEditor::promptsChanged, this, [this] {
        refreshPreviews();
        updateActions();
        scheduleEstimate();
    });
    connect(m_editor, &PromptSetsEditor::statusMessage, this, &ConceptTab::setStatus);
    connect(m_editor, &PromptSetsEditor::failed, this, &ConceptTab::showError);
    m_lockedWhileBusy << m_editor;
    m_pages->addTab(m_editor, tr("Pro&mpts"));
    m_pages->addTab(buildRunPage(), tr("C&urves and samples"));
    m_robustness = new RobustnessPanel(RobustnessPanel::Mode::Concept);
    connect(m_robustness, &RobustnessPanel::startRequested, this, &ConceptTab::startAttack);
    connect(m_robustness, &RobustnessPanel::cancelRequested, this, [this] { m_worker->cancelAttack(); });
    connect(m_robustness, &RobustnessPanel::statusMessage, this, &ConceptTab::setStatus);
    m_pages->addTab(m_robustness, tr("Ro&bustness"));
    arrange(QStringLiteral("conceptSplitter"), left, 380, buildRunGroup(), m_pages);

    // Edits come in bursts (a spin box's arrows, a built prompt set): one estimate once they pause.
    m_estimateTimer = new QTimer(this);
    m_estimateTimer->setSingleShot(true);
    m_estimateTimer->setInterval(150);
    connect(m_estimateTimer, &QTimer::timeout, this, [this] {
        if (!m_modelOpen || isBusy())
            return;
        QMetaObject::invokeMethod(
            m_worker, [worker = m_worker, request = settingsRequest()] { worker->estimate(request, false); });
    });
    connect(m_panel, &widgets::HyperparameterPanel::settingsChanged, this, &ConceptTab::scheduleEstimate);

    connectWorker();
    restoreSettings();
    refreshPreviews();
    updateActions();
}

ConceptTab::~ConceptTab()
{
    saveSettings();
    m_worker->cancelImages();
}

QWidget* ConceptTab::buildModelGroup()
{
    auto* group = new QGroupBox(tr("Text-to-image model"));
    auto* layout = new QGridLayout(group);
    m_modelEdit = new QLineEdit(group);
    m_modelEdit->setPlaceholderText(tr("empty: the built-in Fashion model; or a diffusers folder or CompVis file"));
    auto* modelLabel = new QLabel(tr("Mo&del:"), group);
    modelLabel->setBuddy(m_modelEdit);
    auto* folderButton = new QPushButton(tr("Folder…"), group);
    folderButton->setToolTip(tr("Choose a diffusers folder (with model_index.json)"));
    connect(folderButton, &QPushButton::clicked, this, [this] {
        const QString folder
            = QFileDialog::getExistingDirectory(this, tr("Open a diffusers folder"), m_modelEdit->text());
        if (!folder.isEmpty())
            m_modelEdit->setText(folder);
    });
    auto* fileButton = new QPushButton(tr("File…"), group);
    fileButton->setToolTip(tr("Choose a CompVis single .safetensors file"));
    connect(fileButton, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("Open a CompVis single file"),
            QFileInfo(m_modelEdit->text()).absolutePath(), tr("Model files (*.safetensors)"));
        if (!file.isEmpty())
            m_modelEdit->setText(file);
    });
    m_componentsEdit = new QLineEdit(group);
    m_componentsEdit->setPlaceholderText(tr("for a CompVis file: its tokenizer/configs folder"));
    auto* componentsLabel = new QLabel(tr("Com&ponents:"), group);
    componentsLabel->setBuddy(m_componentsEdit);
    auto* componentsButton = new QPushButton(tr("Folder…"), group);
    connect(componentsButton, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("The components folder"));
        if (!folder.isEmpty())
            m_componentsEdit->setText(folder);
    });
    m_openButton = new QPushButton(tr("&Open"), group);
    connect(m_openButton, &QPushButton::clicked, this,
        [this] { openModel(m_modelEdit->text().trimmed(), m_componentsEdit->text().trimmed()); });
    connect(m_modelEdit, &QLineEdit::returnPressed, m_openButton, &QPushButton::click);
    m_modelLabel = new QLabel(tr("No model open."), group);
    m_modelLabel->setWordWrap(true);
    m_modelLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(modelLabel, 0, 0);
    layout->addWidget(m_modelEdit, 0, 1);
    layout->addWidget(folderButton, 0, 2);
    layout->addWidget(fileButton, 0, 3);
    layout->addWidget(componentsLabel, 1, 0);
    layout->addWidget(m_componentsEdit, 1, 1);
    layout->addWidget(componentsButton, 1, 2);
    layout->addWidget(m_openButton, 1, 3);
    layout->addWidget(m_modelLabel, 2, 0, 1, 4);
    layout->setColumnStretch(1, 1);
    m_lockedWhileBusy << m_modelEdit << folderButton << fileButton << m_componentsEdit << componentsButton
                      << m_openButton;
    return group;
}

QWidget* ConceptTab::buildImagesGroup()
{
    const ConceptDrawSettings defaults = ConceptWorker::drawDefaults();
    auto* group = new QGroupBox(tr("Training images (drawn by the base model)"));
    auto* form = new QFormLayout(group);
    m_samplerSteps = new QSpinBox(group);
    m_samplerSteps->setRange(1, 1000);
    m_samplerSteps->setValue(defaults.samplerSteps);
    m_samplerSteps->setToolTip(tr("DDIM steps of the training and preview images"));
    m_guidance = new QDoubleSpinBox(group);
    m_guidance->setRange(1.0, 50.0);
    m_guidance->setSingleStep(0.5);
    m_guidance->setValue(defaults.guidance);
    m_drawBatch = new QSpinBox(group);
    m_drawBatch->setRange(1, 256);
    m_drawBatch->setValue(static_cast<int>(defaults.batch));
    m_cacheEdit = new QLineEdit(group);
    m_cacheEdit->setToolTip(
        tr("Images drawn once are kept here (forget/ and remain/) and read again by the next press or run"));
    auto* cacheButton = new QPushButton(tr("…"), group);
    cacheButton->setAccessibleName(tr("Choose the image cache folder"));
    connect(cacheButton, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Image cache folder"), m_cacheEdit->text());
        if (!folder.isEmpty())
            m_cacheEdit->setText(folder);
    });
    auto* cacheRow = new QHBoxLayout;
    cacheRow->addWidget(m_cacheEdit, 1);
    cacheRow->addWidget(cacheButton);
    form->addRow(tr("Sampler s&teps:"), m_samplerSteps);
    form->addRow(tr("&Guidance:"), m_guidance);
    form->addRow(tr("Images per &batch:"), m_drawBatch);
    auto* cacheLabel = new QLabel(tr("Cac&he folder:"), group);
    cacheLabel->setBuddy(m_cacheEdit); // The row holds a layout, so the form cannot set the buddy itself.
    form->addRow(cacheLabel, cacheRow);
    auto* buttons = new QHBoxLayout;
    m_generate = new QPushButton(tr("&Generate training images"), group);
    connect(m_generate, &QPushButton::clicked, this, &ConceptTab::generateImages);
    m_cancelGenerate = new QPushButton(tr("Cancel"), group);
    connect(m_cancelGenerate, &QPushButton::clicked, this, &ConceptTab::cancelImages);
    buttons->addWidget(m_generate, 1);
    buttons->addWidget(m_cancelGenerate);
    form->addRow(buttons);
    m_imagesLabel = new QLabel(tr("Not drawn yet."), group);
    m_imagesLabel->setWordWrap(true);
    form->addRow(m_imagesLabel);
    m_lockedWhileBusy << m_samplerSteps << m_guidance << m_drawBatch << m_cacheEdit << cacheButton;
    return group;
}

QWidget* ConceptTab::buildMethodGroup()
{
    auto* group = new QGroupBox(tr("Method and hyperparameters"));
    QVBoxLayout* layout = addPanel(group);
    // Under the settings it follows, so that the effect of an edit shows where it is made.
    m_memoryLabel = new QLabel(tr("Memory: open a model for an estimate."), group);
    m_memoryLabel->setWordWrap(true);
    m_memoryLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_memoryLabel);
    m_panel->setKind(widgets::RunKind::Concept);
    m_panel->setMethods(ConceptWorker::methods());
    m_panel->setParameterGroups(ConceptWorker::parameterGroups());
    m_panel->setPrecisions(RunWorker::precisions());
    m_panel->setPresets(ConceptWorker::presets());
    return group;
}

QWidget* ConceptTab::buildMeasuresGroup()
{
    // One row: the column has little height to spare.
    auto* group = new QGroupBox(tr("Measures"));
    auto* row = new QHBoxLayout(group);
    m_clipEdit = new widgets::PathEdit(widgets::PathEdit::Kind::Folder, tr("Choose a CLIP model folder"), {}, group);
    m_clipEdit->setPlaceholderText(tr("optional: a CLIP model folder"));
    m_clipEdit->setToolTip(tr("CLIP alignment (cosine of image and prompt embeddings) of D_f, D_r,train and D_r,test, "
                              "drawn at the before/after seeds by the base model and by the unlearned one"));
    m_clipPrompts = new QSpinBox(group);
    m_clipPrompts->setRange(0, 100000);
    m_clipPrompts->setValue(20);
    m_clipPrompts->setSpecialValueText(tr("all"));
    m_clipPrompts->setToolTip(tr("The first prompts of each set drawn for CLIP, each at every before/after seed"));
    auto* clipLabel = new QLabel(tr("CL&IP model:"), group);
    clipLabel->setBuddy(m_clipEdit);
    auto* promptsLabel = new QLabel(tr("prompts per set:"), group);
    promptsLabel->setBuddy(m_clipPrompts);
    row->addWidget(clipLabel);
    row->addWidget(m_clipEdit, 1);
    row->addWidget(promptsLabel);
    row->addWidget(m_clipPrompts);
    m_lockedWhileBusy << m_clipEdit << m_clipPrompts;
    return group;
}

QWidget* ConceptTab::buildClipPage()
{
    auto* page = new QWidget;
    auto* layout = new QVBoxLayout(page);
    m_clipNote = new QLabel(tr("Choose a CLIP model under Measures: each run then measures the CLIP alignment (cosine "
                               "of image and prompt embeddings) of the prompt sets before and after, from the "
                               "before/after seeds."),
        page);
    m_clipNote->setWordWrap(true);
    m_clipTable = new QTableWidget(0, 4, page);
    m_clipTable->setHorizontalHeaderLabels({ tr("Prompt set"), tr("Before"), tr("After"), tr("Images") });
    m_clipTable->verticalHeader()->hide();
    m_clipTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_clipTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_clipTable->horizontalHeader()->setStretchLastSection(true);
    layout->addWidget(m_clipNote);
    layout->addWidget(m_clipTable, 1);
    return page;
}

void ConceptTab::showClipAlignment(const QList<ClipAlignmentFigure>& figures)
{
    m_clipTable->setRowCount(0);
    QStringList summary;
    for (const ClipAlignmentFigure& f : figures) {
        QString name = f.set;
        if (f.set == QStringLiteral("forget"))
            name = tr("D_f (forget)");
        else if (f.set == QStringLiteral("remain_train"))
            name = tr("D_r,train");
        else if (f.set == QStringLiteral("remain_test"))
            name = tr("D_r,test");
        else if (f.set == QStringLiteral("remain"))
            name = tr("D_r (train and test)");
        const int row = m_clipTable->rowCount();
        m_clipTable->insertRow(row);
        const QStringList cells { name, QString::number(f.before, 'f', 4), QString::number(f.after, 'f', 4),
            f.prompts > 0 ? tr("%1 (%2 prompts)").arg(f.images).arg(f.prompts) : QString::number(f.images) };
        for (int column = 0; column < cells.size(); ++column)
            m_clipTable->setItem(row, column, new QTableWidgetItem(cells[column]));
        if (f.set == QStringLiteral("forget") || f.set == QStringLiteral("remain"))
            summary << tr("%1 %2 → %3")
                           .arg(f.set == QStringLiteral("forget") ? tr("D_f") : tr("D_r"))
                           .arg(f.before, 0, 'f', 4)
                           .arg(f.after, 0, 'f', 4);
    }
    m_clipNote->setText(tr("CLIP alignment of the last run (cosine of image and prompt embeddings), before → after:"));
    m_clipSummary = tr("CLIP alignment %1").arg(summary.join(QStringLiteral(", ")));
}

QWidget* ConceptTab::buildRunGroup()
{
    auto* group = new QGroupBox(tr("Run and export"));
    auto* layout = new QVBoxLayout(group);
    addRunControls(layout, group);
    m_start->setToolTip(tr("Ctrl+R"));
    m_pause->setToolTip(tr("Ctrl+P"));
    m_stop->setToolTip(tr("Ctrl+."));
    m_rate->setWordWrap(true);
    auto* exportRow = new QHBoxLayout;
    m_exportDiffusers = new QPushButton(tr("&Export diffusers folder…"), group);
    m_exportCompvis = new QPushButton(tr("Export &CompVis file…"), group);
    connect(m_exportDiffusers, &QPushButton::clicked, this, [this] { chooseExport(false); });
    connect(m_exportCompvis, &QPushButton::clicked, this, [this] { chooseExport(true); });
    exportRow->addWidget(m_exportDiffusers);
    exportRow->addWidget(m_exportCompvis);
    layout->addLayout(exportRow);
    return group;
}

QWidget* ConceptTab::buildRunPage()
{
    auto* curveTabs = new QTabWidget;
    m_curves = addUnlearningCurves(curveTabs, true);
    curveTabs->addTab(buildClipPage(), tr("CLIP alignment"));

    auto* compare = new QWidget;
    auto* compareLayout = new QHBoxLayout(compare);
    m_previewChoice = new PreviewChoice(compare);
    makeGrids(compare, tr("The base model's images of the checked prompts appear when a run starts."),
        tr("The unlearned model's images, from the same seeds, appear when the run ends."));
    compareLayout->addWidget(m_previewChoice);
    compareLayout->addWidget(m_beforeGrid, 1);
    compareLayout->addWidget(m_afterGrid, 1);
    m_lockedWhileBusy << m_previewChoice;

    auto* page = new QSplitter(Qt::Vertical);
    page->setObjectName(QStringLiteral("conceptRunSplitter"));
    page->addWidget(curveTabs);
    page->addWidget(compare);
    page->setStretchFactor(0, 1);
    page->setStretchFactor(1, 1);
    page->setSizes({ 500, 500 }); // Half and half, whatever the size hints say.
    return page;
}

void ConceptTab::connectWorker()
{
    connect(m_worker, &RunWorker::attackProgress, m_robustness, &RobustnessPanel::showProgress);
    connect(m_worker, &RunWorker::attackEnded, this, &ConceptTab::onAttackEnded);
    connect(m_worker, &ConceptWorker::opened, this, &ConceptTab::onOpened);
    connect(m_worker, &ConceptWorker::openFailed, this, [this](const QString& message) {
        m_opening = false;
        m_modelOpen = false;
        m_modelLabel->setText(tr("No model open."));
        updateActions();
        showError(tr("Open a text-to-image model"), message);
        Q_EMIT modelOpened(false);
    });
    connect(m_worker, &ConceptWorker::imagesReady, this, [this](qint64 drawn, qint64 cached) {
        m_imagesLabel->setText(tr("%1 training images ready: %2 drawn now, %3 from the cache.")
                                   .arg(drawn + cached)
                                   .arg(drawn)
                                   .arg(cached));
        if (m_drawing) {
            m_drawing = false;
            showPhaseProgress(100, 100, tr("training images: %p%"));
            setStatus(m_imagesLabel->text());
            updateActions();
            scheduleEstimate(); // What is free has changed.
        }
        Q_EMIT imagesFinished(drawn, cached);
    });
    connect(m_worker, &ConceptWorker::imagesCancelled, this, [this] {
        m_drawing = false;
        m_imagesLabel->setText(tr("Cancelled; the images drawn so far are cached and the next press goes on."));
        setStatus(m_imagesLabel->text());
        updateActions();
        Q_EMIT imagesFinished(-1, -1);
    });
    connect(m_worker, &ConceptWorker::imagesFailed, this, [this](const QString& message) {
        m_drawing = false;
        updateActions();
        showError(tr("Generate training images"), message);
        Q_EMIT imagesFinished(-1, -1);
    });
    connect(m_worker, &RunWorker::beforeReady, this, [this](const QList<QImage>& cells, int columns) {
        m_beforeGrid->setCells(cells, columns, m_previewLabels);
        m_beforeGrid->setTitle(tr("Before (base model)"));
    });
    connect(m_worker, &RunWorker::previewReady, this, [this](qint64 step, const QList<QImage>& cells, int columns) {
        m_afterGrid->setCells(cells, columns, m_previewLabels);
        m_afterGrid->setTitle(tr("After step %1").arg(step));
    });
    connect(m_worker, &ConceptWorker::clipLoaded, this, [this] {
        if (!m_loadingClip)
            return;
        m_loadingClip = false;
        launchRun(m_pendingRequest);
    });
    connect(m_worker, &ConceptWorker::clipFailed, this, [this](const QString& message) {
        // Nothing was started: the last run's grids, figures and weights stay.
        m_loadingClip = false;
        updateActions();
        showError(tr("CLIP model"), message);
    });
    connect(m_worker, &ConceptWorker::clipMeasured, this, &ConceptTab::showClipAlignment);
    connect(m_worker, &ConceptWorker::memoryEstimated, this, &ConceptTab::onMemoryEstimated);
    connect(m_worker, &ConceptWorker::drawingProgress, this,
        [this](const QString& what, const QString& detail, qint64 done, qint64 total) {
            m_phaseDetail = detail;
            onProgress(what, done, total);
            m_phaseDetail.clear();
        });
}

void ConceptTab::restoreSettings()
{
    QSettings s;
    m_modelEdit->setText(s.value(QStringLiteral("concept/model")).toString());
    m_componentsEdit->setText(s.value(QStringLiteral("concept/components")).toString());
    m_cacheEdit->setText(s.value(QStringLiteral("concept/cache"),
                              QString(QStandardPaths::writableLocation(QStandardPaths::CacheLocation)
                                  + QStringLiteral("/concept-images")))
                             .toString());
    // The hyperparameters and the drawing's steps and guidance are not restored: they come from the model that
    // opens (onOpened).
    m_clipEdit->setPath(s.value(QStringLiteral("concept/clip")).toString());
    m_clipPrompts->setValue(s.value(QStringLiteral("concept/clipPrompts"), m_clipPrompts->value()).toInt());
}

void ConceptTab::saveSettings() const
{
    QSettings s;
    if (m_modelOpen) {
        s.setValue(QStringLiteral("concept/model"), m_modelEdit->text().trimmed());
        s.setValue(QStringLiteral("concept/components"), m_componentsEdit->text().trimmed());
    }
    s.setValue(QStringLiteral("concept/cache"), m_cacheEdit->text());
    s.setValue(QStringLiteral("concept/clip"), m_clipEdit->path());
    s.setValue(QStringLiteral("concept/clipPrompts"), m_clipPrompts->value());
}

void ConceptTab::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    // The remembered model (else the built-in one) opens the first time the tab is shown, not before: the Class
    // tab alone costs nothing. Deferred, so that a model asked for right after show() wins.
    if (!m_autoOpened)
        QTimer::singleShot(0, this, [this] {
            if (!m_autoOpened && !m_modelOpen && !isBusy())
                openModel(m_modelEdit->text().trimmed(), m_componentsEdit->text().trimmed());
        });
}

void ConceptTab::openModel(const QString& model, const QString& components)
{
    if (isBusy())
        return;
    m_autoOpened = true;
    m_modelEdit->setText(model);
    m_componentsEdit->setText(components);
    m_opening = true;
    m_modelOpen = false;
    m_modelLabel->setText(tr("Opening %1 …").arg(model.isEmpty() ? tr("the built-in model") : model));
    updateActions();
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, model, components] { worker->open(model, components); });
}

void ConceptTab::refreshPreviews()
{
    m_previewChoice->refresh(
        prompts(PromptSet::Forget), prompts(PromptSet::RemainTrain), prompts(PromptSet::RemainTest));
}

ConceptImagesRequest ConceptTab::imagesRequest(QString* error) const
{
    ConceptImagesRequest r;
    r.forget = prompts(PromptSet::Forget, error);
    r.remain = prompts(PromptSet::RemainTrain, error);
    r.draw.samplerSteps = m_samplerSteps->value();
    r.draw.guidance = m_guidance->value();
    r.draw.batch = m_drawBatch->value();
    r.draw.cacheFolder = m_cacheEdit->text().trimmed();
    if (error && error->isEmpty() && r.forget.isEmpty())
        *error = tr("The forget set is empty: type forget prompts, load a prompt file or build them from a preset.");
    if (error && error->isEmpty() && r.draw.cacheFolder.isEmpty())
        *error = tr("Choose a folder for the training-image cache.");
    return r;
}

void ConceptTab::generateImages()
{
    if (isBusy() || !m_modelOpen)
        return;
    QString error;
    const ConceptImagesRequest request = imagesRequest(&error);
    if (!error.isEmpty()) {
        showError(tr("Generate training images"), error);
        return;
    }
    m_drawing = true;
    saveSettings();
    setStatus(tr("Drawing the training images (cached in %1)").arg(request.draw.cacheFolder));
    updateActions();
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->drawImages(request); });
}

void ConceptTab::cancelImages()
{
    if (m_drawing)
        m_worker->cancelImages();
}

bool ConceptTab::canStart() const
{
    return m_modelOpen && !isBusy();
}

void ConceptTab::startRun()
{
    if (!canStart())
        return;
    QString error;
    ConceptRunRequest request;
    request.images = imagesRequest(&error);
    request.settings = m_panel->settings();
    const QString method = request.settings.method;
    const bool isUce = method == QStringLiteral("uce");
    if (isUce)
        request.settings.steps = 1; // One closed-form edit.
    if (error.isEmpty() && request.images.remain.isEmpty() && method != QStringLiteral("esd") && !isUce)
        error = tr("The remain set is empty: %1 needs remain prompts (or choose ESD or UCE).")
                    .arg(methodName(m_panel->methodBox(), method));
    if (error.isEmpty() && isUce && m_editor->conceptWords().isEmpty())
        error = tr("UCE edits the concept's words: type them under Concept words on the Prompts page (several "
                   "concepts separated by commas).");
    if (!error.isEmpty()) {
        showError(tr("Start"), error);
        return;
    }
    if (!m_previewChoice->request(request.preview, m_previewLabels, &error)) {
        showError(tr("Before / after seeds"), error);
        return;
    }
    request.preset = m_panel->presetBox()->currentText();
    request.forgetConcept = m_editor->conceptWords();
    request.otherConceptValues = m_editor->otherConceptValues();
    request.previewEvery = m_previewChoice->everyBox()->value();
    request.clipModel = m_clipEdit->path();
    request.clipPrompts = m_clipPrompts->value();
    request.remainTest = prompts(PromptSet::RemainTest);
    // The memory check first, on the worker that holds the model: a run that cannot fit starts nothing, and the
    // settings stay for the user to change.
    m_pendingRequest = request;
    m_checkingMemory = true;
    updateActions();
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->estimate(request, true); });
}

void ConceptTab::continueStart(const ConceptRunRequest& request)
{
    if (!request.clipModel.isEmpty()) {
        // Loaded first: a CLIP folder that does not load starts nothing, and the last run's results stay.
        m_pendingRequest = request;
        m_loadingClip = true;
        updateActions();
        setStatus(tr("Loading the CLIP model %1 …").arg(request.clipModel));
        QMetaObject::invokeMethod(
            m_worker, [worker = m_worker, folder = request.clipModel] { worker->loadClip(folder); });
        return;
    }
    launchRun(request);
}

void ConceptTab::scheduleEstimate()
{
    if (m_estimateTimer)
        m_estimateTimer->start();
}

ConceptRunRequest ConceptTab::settingsRequest() const
{
    ConceptRunRequest r;
    r.images = imagesRequest(nullptr);
    r.settings = m_panel->settings();
    r.preset = m_panel->presetBox()->currentText();
    r.forgetConcept = m_editor->conceptWords();
    r.otherConceptValues = m_editor->otherConceptValues();
    return r;
}

void ConceptTab::onMemoryEstimated(const ConceptMemoryEstimate& estimate)
{
    m_memoryEstimate = estimate;
    m_memoryLabel->setText(estimate.summary);
    m_memoryLabel->setToolTip(estimate.refusal.isEmpty() ? estimate.details : estimate.refusal);
    if (!estimate.forStart || !m_checkingMemory)
        return;
    m_checkingMemory = false;
    updateActions();
    if (!estimate.refusal.isEmpty()) {
        showError(tr("Not enough memory"),
            tr("The run does not start: %1.\n\nIn this window those settings are Precision, Gradient checkpointing, "
               "Memory-efficient attention, Parameters and the batches under Method and hyperparameters; they are "
               "as you left them.")
                .arg(estimate.refusal));
        return;
    }
    continueStart(m_pendingRequest);
}

void ConceptTab::launchRun(const ConceptRunRequest& request)
{
    const QString method = request.settings.method;
    resetRun(request.settings.steps);
    m_afterGrid->setCells({}, 1);
    m_afterGrid->setTitle(tr("After"));
    m_lastPoint = StepPoint();
    setRunning(true);
    m_hasResult = false;
    m_lastOutcome.clear();
    m_clipTable->setRowCount(0);
    m_clipSummary.clear();
    m_robustness->clearResult();
    m_runForget = request.images.forget;
    m_runConcept = request.forgetConcept;
    m_runDraw = request.images.draw;
    m_runIsUce = method == QStringLiteral("uce");
    saveSettings();
    m_pages->setCurrentIndex(1);
    m_runMessage = tr("Unlearning with %1: %2 forget and %3 remain prompts")
                       .arg(methodName(m_panel->methodBox(), method))
                       .arg(request.images.forget.size())
                       .arg(request.images.remain.size());
    setStatus(m_runMessage);
    updateActions();
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->run(request); });
}

QString ConceptTab::pausedStatus() const
{
    return tr("Paused after step %1: change α, λ or lr, or resume").arg(m_lastStep);
}

void ConceptTab::chooseExport(bool compvis)
{
    if (!m_hasResult || isBusy())
        return;
    const QString path = compvis
        ? QFileDialog::getSaveFileName(this, tr("Export as a CompVis single file"),
            QStringLiteral("unlearned.safetensors"), tr("Model files (*.safetensors)"))
        : QFileDialog::getSaveFileName(this, tr("Export as a diffusers folder (a new folder)"),
            QStringLiteral("unlearned-diffusers"), QString(), nullptr, QFileDialog::ShowDirsOnly);
    if (path.isEmpty())
        return;
    exportTo(compvis ? QString() : path, compvis ? path : QString());
}

void ConceptTab::exportTo(const QString& diffusersFolder, const QString& compvisFile)
{
    if (!m_hasResult || isBusy())
        return;
    m_exporting = true;
    updateActions();
    setStatus(tr("Exporting …"));
    QMetaObject::invokeMethod(m_worker,
        [worker = m_worker, diffusersFolder, compvisFile] { worker->exportModel(diffusersFolder, compvisFile); });
}

void ConceptTab::updateActions()
{
    if (!m_start)
        return;
    const bool busy = isBusy();
    updateRunButtons();
    m_generate->setEnabled(m_modelOpen && !busy);
    m_cancelGenerate->setEnabled(m_drawing);
    m_exportDiffusers->setEnabled(m_hasResult && !busy);
    m_exportCompvis->setEnabled(m_hasResult && !busy);
    for (QWidget* w : m_lockedWhileBusy)
        w->setEnabled(!busy);
    if (m_attacking)
        m_robustness->setAvailable(false);
    else if (m_running)
        m_robustness->setAvailable(false, tr("The attack starts once the run has finished."));
    else if (!m_hasResult)
        m_robustness->setAvailable(false, tr("Run unlearning first: the attack needs the run's finished model."));
    else
        m_robustness->setAvailable(!busy, tr("Wait for the work under way to end."));
    Q_EMIT actionsChanged();
}

void ConceptTab::onOpened(const QString& path, const QString& description, const ConceptModelAdvice& advice)
{
    m_opening = false;
    m_modelOpen = true;
    m_hasResult = false;
    m_robustness->clearResult();
    m_modelPath = path;
    m_modelLabel->setText(description);
    m_modelLabel->setToolTip(path);
    m_imagesLabel->setText(tr("Not drawn yet."));
    // The model's own values when it names them (the built-in one does), else the paper's Stable Diffusion ones and
    // core's way of drawing.
    const QString preset = advice.preset.isEmpty() ? QStringLiteral("sd") : advice.preset;
    m_panel->applyPreset(preset);
    const ConceptDrawSettings defaults = ConceptWorker::drawDefaults();
    m_samplerSteps->setValue(advice.samplerSteps > 0 ? advice.samplerSteps : defaults.samplerSteps);
    m_guidance->setValue(advice.guidance > 0.0 ? advice.guidance : defaults.guidance);
    // Prompt sets from the model's own diversity preset, unless the user has some: Start then has all it needs.
    const bool noPrompts = prompts(PromptSet::Forget).isEmpty() && prompts(PromptSet::RemainTrain).isEmpty()
        && prompts(PromptSet::RemainTest).isEmpty();
    const bool built = noPrompts && !advice.promptPreset.isEmpty() && m_editor->loadPreset(advice.promptPreset)
        && m_editor->buildPrompts();
    saveSettings();
    scheduleEstimate();
    if (built)
        setStatus(tr("Opened %1 (preset %2) with the prompt sets of %3, forgetting \"%4\": press Start")
                      .arg(path, preset, QFileInfo(advice.promptPreset).fileName(), m_editor->conceptWords()));
    else
        setStatus(tr("Opened %1 (preset %2): fill the prompt sets, then generate the training images or press Start")
                      .arg(path, preset));
    updateActions();
    Q_EMIT modelOpened(true);
}

void ConceptTab::onProgress(const QString& what, qint64 done, qint64 total)
{
    if (what.isEmpty()) { // A phase ended: back to the run's steps, or idle.
        m_phase.clear();
        if (m_running) {
            showStepProgress(m_lastStep, m_totalSteps);
            setStatus(m_runMessage);
        } else if (!m_drawing && m_progress->maximum() == 0) { // Leave a finished drawing's 100 % in view.
            showIdleProgress();
        }
        return;
    }
    if (what != m_phase) {
        m_phase = what;
        m_phaseStart = done;
        m_phaseClock.start();
        setStatus(what);
    }
    // A drawing says which images and sampler step it is at; its units (sampler steps of all the images) are
    // for the bar and the ETA only.
    const bool detailed = !m_phaseDetail.isEmpty();
    showPhaseProgress(done, total,
        total <= 0     ? what
            : detailed ? tr("%1: %2 (%p%)").arg(what, m_phaseDetail)
                       : tr("%1: %v of %m (%p%)").arg(what));
    const double seconds = m_phaseClock.elapsed() / 1000.0;
    if (total > 0 && done > m_phaseStart && seconds > 0) {
        const double rate = static_cast<double>(done - m_phaseStart) / seconds;
        const QString eta = durationText(static_cast<double>(total - done) / rate);
        m_rate->setText(detailed ? tr("%1 · ETA %2").arg(m_phaseDetail, eta)
                                 : tr("%1 of %2 · %3/s · ETA %4").arg(done).arg(total).arg(rate, 0, 'f', 2).arg(eta));
    } else if (detailed) {
        m_rate->setText(m_phaseDetail);
    }
}

bool ConceptTab::runHeld() const
{
    const auto control = m_worker->control();
    return control && control->holding();
}

void ConceptTab::onStep(const StepPoint& p)
{
    recordStep(p);
    m_lastPoint = p;
    if (m_runIsUce) {
        // One point draws no curve: a marker says where the edit is and what it measured.
        m_curves.loss->addMarker(static_cast<double>(p.step),
            tr("UCE edit\nL_f %1\nL_r %2").arg(p.forgetLoss, 0, 'g', 4).arg(p.remainLoss, 0, 'g', 4));
        for (widgets::CurvePlot* plot : { m_curves.cosine, m_curves.norm })
            plot->addMarker(static_cast<double>(p.step), tr("UCE edit\n(closed form:\nno gradients)"));
    }
    if (m_phase.isEmpty())
        showStepProgress(p.step, p.totalSteps);
    m_rate->setText(stepRateText(tr("%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5%6"), p)
                        .arg(p.truncated ? tr(" · truncated") : QString()));
}

void ConceptTab::onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds)
{
    endRun(outcome);
    m_hasResult = steps > 0 && outcome != QStringLiteral("failed");
    m_phase.clear();
    showStepProgress(steps, m_totalSteps);
    m_rate->setText(m_stepSeconds > 0 ? tr("%1 steps in %2 · %3 steps/s (stepping only) · L_f %4 · L_r %5")
                                            .arg(m_stepsDone)
                                            .arg(durationText(seconds))
                                            .arg(stepsPerSecond(), 0, 'f', 2)
                                            .arg(m_lastPoint.forgetLoss, 0, 'g', 4)
                                            .arg(m_lastPoint.remainLoss, 0, 'g', 4)
                                      : QString());
    updateActions();
    if (outcome == QStringLiteral("failed")) {
        setStatus(tr("The run failed after %1 steps").arg(steps));
        m_hasResult = steps > 0;
        updateActions();
        showError(tr("Run failed"), message);
    } else {
        setStatus(endedStatus(tr("Run %1 after %2 steps in %3%4"), outcome, steps, seconds)
                      .arg(messageSuffix(message) + (m_clipSummary.isEmpty() ? QString() : tr(" · ") + m_clipSummary)));
    }
    scheduleEstimate(); // What is free has changed.
    Q_EMIT runFinished(outcome);
}

AttackRequest ConceptTab::attackRequest() const
{
    AttackRequest r = m_robustness->request();
    QStringList words;
    for (const QString& word : m_runConcept.split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (!word.trimmed().isEmpty())
            words << word.trimmed();
    r.concept = words.value(0);
    for (const ConceptPrompt& p : m_runForget.mid(0, r.prompts)) {
        QString text = p.text;
        if (r.removeConcept) {
            // The concept's words out, the targets still from the prompt with them: whatever the attack then
            // brings back, the prompt did not ask for.
            for (const QString& word : words)
                text.remove(QRegularExpression(QStringLiteral("\\b%1\\b").arg(QRegularExpression::escape(word)),
                    QRegularExpression::CaseInsensitiveOption));
            text = text.simplified();
        }
        r.promptTexts << text;
        r.targetPrompts << p.text;
    }
    r.clipModel = m_clipEdit->path();
    r.guidance = m_runDraw.guidance;
    r.samplerSteps = m_runDraw.samplerSteps;
    r.batch = m_runDraw.batch;
    return r;
}

void ConceptTab::startAttack()
{
    if (isBusy() || !m_hasResult)
        return;
    const AttackRequest request = attackRequest();
    if (request.promptTexts.isEmpty()) {
        showError(tr("Attack"), tr("The last run had no forget prompts to attack."));
        return;
    }
    m_attacking = true;
    m_robustness->attackStarted();
    updateActions();
    setStatus(tr("Attacking the unlearned model with %1 of the run's forget prompts: does \"%2\" stay forgotten?")
                  .arg(request.promptTexts.size())
                  .arg(request.concept));
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->attack(request); });
}

void ConceptTab::onAttackEnded(const QString& outcome, const QString& message, const AttackSummary& summary)
{
    m_attacking = false;
    m_robustness->attackEnded(outcome, message, summary);
    if (outcome == QStringLiteral("finished"))
        showAttackFigures(summary);
    updateActions();
}

void ConceptTab::showAttackFigures(const AttackSummary& summary)
{
    // Beside the run's CLIP alignment: the share of images showing the concept before the attack and after it.
    for (int row = m_clipTable->rowCount() - 1; row >= 0; --row)
        if (m_clipTable->item(row, 0) && m_clipTable->item(row, 0)->data(Qt::UserRole).toBool())
            m_clipTable->removeRow(row);
    const int row = m_clipTable->rowCount();
    m_clipTable->insertRow(row);
    const QStringList cells { tr("Attack success rate (Pre-ASR → Post-ASR)"), QString::number(summary.preAsr, 'f', 4),
        QString::number(summary.postAsr, 'f', 4),
        tr("%1 (%2 prompts × %3 seeds)")
            .arg(summary.rows.size() * summary.seeds)
            .arg(summary.rows.size())
            .arg(summary.seeds) };
    for (int column = 0; column < cells.size(); ++column)
        m_clipTable->setItem(row, column, new QTableWidgetItem(cells[column]));
    m_clipTable->item(row, 0)->setData(Qt::UserRole, true);
    m_clipTable->item(row, 0)->setToolTip(m_robustness->figuresText());
}

void ConceptTab::showError(const QString& title, const QString& message)
{
    // Window-modal but not blocking: what the user typed stays, and the worker's signals keep arriving.
    m_lastError = message;
    setStatus(title + QStringLiteral(": ") + message.section(QLatin1Char('\n'), 0, 0));
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setTextInteractionFlags(Qt::TextSelectableByMouse);
    box->open();
}

} // namespace lethe::gui
