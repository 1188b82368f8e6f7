#include "concept_tab.h"

#include "core/concept/diversity_builder.h"
#include "core/concept/diversity_preset.h"
#include "core/concept/prompt_set.h"
#include "core/unlearn/run_control.h"
#include "widgets/curve_plot.h"
#include "widgets/sample_grid.h"

#include <QCheckBox>
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
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace lethe::gui {

namespace {

/// Prompts offered per set for the before/after grids.
constexpr int kPreviewChoices = 24;

QString duration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("--:--");
    const auto s = static_cast<qint64>(std::llround(seconds));
    return QStringLiteral("%1:%2").arg(s / 60, 2, 10, QLatin1Char('0')).arg(s % 60, 2, 10, QLatin1Char('0'));
}

QStringList splitValues(const QString& text)
{
    QStringList out;
    for (const QString& v : text.split(QLatin1Char(',')))
        if (!v.trimmed().isEmpty())
            out << v.trimmed();
    return out;
}

QString joinValues(const std::vector<std::string>& values)
{
    QStringList out;
    for (const auto& v : values)
        out << QString::fromStdString(v);
    return out.join(QStringLiteral(", "));
}

std::vector<std::string> stdValues(const QStringList& values)
{
    std::vector<std::string> out;
    for (const QString& v : values)
        out.push_back(v.toStdString());
    return out;
}

QList<ConceptPrompt> fromCore(const std::vector<concepts::Prompt>& prompts)
{
    QList<ConceptPrompt> out;
    for (const auto& p : prompts)
        out.append({ QString::fromStdString(p.text), p.seed ? *p.seed : -1,
            p.caseLabel ? QString::fromStdString(*p.caseLabel) : QString() });
    return out;
}

/// "0-3", "1,5" or "2,4-6" → seeds; false on anything else.
bool parseSeeds(const QString& text, QList<qint64>& seeds)
{
    seeds.clear();
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QStringList range = part.trimmed().split(QLatin1Char('-'));
        bool ok1 = false, ok2 = true;
        const qint64 first = range.value(0).trimmed().toLongLong(&ok1);
        const qint64 last = range.size() == 2 ? range[1].trimmed().toLongLong(&ok2) : first;
        if (!ok1 || !ok2 || range.size() > 2 || first < 0 || last < first || last - first > 64)
            return false;
        for (qint64 s = first; s <= last; ++s)
            seeds.append(s);
    }
    return !seeds.isEmpty();
}

QString elided(const QString& text, int length)
{
    return text.size() <= length ? text : text.left(length - 1) + QChar(0x2026);
}

} // namespace

ConceptTab::ConceptTab(QWidget* parent)
    : QWidget(parent)
    , m_worker(new ConceptWorker)
{
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();

    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->addWidget(buildModelGroup());
    leftLayout->addWidget(buildImagesGroup());
    leftLayout->addWidget(buildMethodGroup());
    leftLayout->addWidget(buildRunGroup());
    leftLayout->addStretch(1);
    auto* leftScroll = new QScrollArea;
    leftScroll->setWidget(left);
    leftScroll->setWidgetResizable(true);
    leftScroll->setMinimumWidth(380);

    m_pages = new QTabWidget;
    m_pages->addTab(buildPromptPage(), tr("Pro&mpts"));
    m_pages->addTab(buildRunPage(), tr("C&urves and samples"));

    auto* main = new QSplitter(Qt::Horizontal);
    main->setObjectName(QStringLiteral("conceptSplitter"));
    main->addWidget(leftScroll);
    main->addWidget(m_pages);
    main->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(main);

    connectWorker();
    restoreSettings();
    updateSetCounts();
    refreshPreviewList();
    updateActions();
}

ConceptTab::~ConceptTab()
{
    saveSettings();
    m_worker->cancelImages();
    if (auto control = m_worker->control()) {
        control->resume();
        control->requestStop();
    }
    m_thread.quit();
    m_thread.wait();
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
    const ConceptRunRequest defaults = ConceptWorker::defaults();
    auto* group = new QGroupBox(tr("Training images (drawn by the base model)"));
    auto* form = new QFormLayout(group);
    m_samplerSteps = new QSpinBox(group);
    m_samplerSteps->setRange(1, 1000);
    m_samplerSteps->setValue(defaults.images.draw.samplerSteps);
    m_samplerSteps->setToolTip(tr("DDIM steps of the training and preview images"));
    m_guidance = new QDoubleSpinBox(group);
    m_guidance->setRange(1.0, 50.0);
    m_guidance->setSingleStep(0.5);
    m_guidance->setValue(defaults.images.draw.guidance);
    m_drawBatch = new QSpinBox(group);
    m_drawBatch->setRange(1, 256);
    m_drawBatch->setValue(static_cast<int>(defaults.images.draw.batch));
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
    const ConceptRunRequest d = ConceptWorker::defaults();
    auto* group = new QGroupBox(tr("Method and hyperparameters"));
    auto* form = new QFormLayout(group);
    m_method = new QComboBox(group);
    m_method->addItem(tr("RGD (restricted gradient, diverse remain set)"), QStringLiteral("rgd"));
    m_method->addItem(tr("GradDiff"), QStringLiteral("graddiff"));
    m_method->addItem(tr("GA (gradient ascent)"), QStringLiteral("ga"));
    m_method->addItem(tr("ESD (erased stable diffusion)"), QStringLiteral("esd"));
    m_method->setCurrentIndex(std::max(0, m_method->findData(d.method)));
    m_parameters = new QComboBox(group);
    m_parameters->addItem(tr("All UNet parameters"), QStringLiteral("all"));
    m_parameters->addItem(tr("Cross-attention only (ESD-x)"), QStringLiteral("cross-attn"));
    m_parameters->addItem(tr("All but cross-attention (ESD-u)"), QStringLiteral("no-cross-attn"));
    m_parameters->setCurrentIndex(std::max(0, m_parameters->findData(d.parameters)));
    const auto spin = [group](double min, double max, int decimals, double step, double value) {
        auto* box = new QDoubleSpinBox(group);
        box->setRange(min, max);
        box->setDecimals(decimals);
        box->setSingleStep(step);
        box->setValue(value);
        box->setKeyboardTracking(false); // A typed value is committed on Enter or focus-out, not per keystroke.
        return box;
    };
    m_alpha = spin(0.0, 1000.0, 3, 0.1, d.alpha);
    m_alpha->setToolTip(tr("Forget-loss truncation: a step whose L_f exceeds α descends on the remain set only"));
    m_lambda = spin(0.0, 1000.0, 3, 0.1, d.lambda);
    m_lambda->setToolTip(tr("Weight of the remain direction"));
    m_lr = spin(1e-8, 1.0, 8, 1e-6, d.lr);
    m_lr->setToolTip(tr("Adam's learning rate"));
    connect(
        m_alpha, &QDoubleSpinBox::valueChanged, this, [this](double v) { onLiveChange(QStringLiteral("alpha"), v); });
    connect(
        m_lambda, &QDoubleSpinBox::valueChanged, this, [this](double v) { onLiveChange(QStringLiteral("lambda"), v); });
    connect(m_lr, &QDoubleSpinBox::valueChanged, this, [this](double v) { onLiveChange(QStringLiteral("lr"), v); });
    const auto count = [group](int min, int max, qint64 value) {
        auto* box = new QSpinBox(group);
        box->setRange(min, max);
        box->setValue(static_cast<int>(value));
        return box;
    };
    m_steps = count(1, 1000000, d.steps);
    m_forgetBatch = count(1, 4096, d.forgetBatch);
    m_remainBatch = count(1, 4096, d.remainBatch);
    m_seed = count(0, 2147483647, static_cast<qint64>(d.seed));
    form->addRow(tr("M&ethod:"), m_method);
    form->addRow(tr("Para&meters:"), m_parameters);
    form->addRow(tr("&α (truncation):"), m_alpha);
    form->addRow(tr("&λ (remain weight):"), m_lambda);
    form->addRow(tr("Learning &rate:"), m_lr);
    form->addRow(tr("Ste&ps:"), m_steps);
    form->addRow(tr("&Forget batch:"), m_forgetBatch);
    form->addRow(tr("Remain b&atch:"), m_remainBatch);
    form->addRow(tr("Seed:"), m_seed);
    auto* defaultsButton = new QPushButton(tr("The paper's defaults"), group);
    connect(defaultsButton, &QPushButton::clicked, this, [this] {
        const ConceptRunRequest r = ConceptWorker::defaults();
        m_method->setCurrentIndex(m_method->findData(r.method));
        m_parameters->setCurrentIndex(m_parameters->findData(r.parameters));
        m_alpha->setValue(r.alpha);
        m_lambda->setValue(r.lambda);
        m_lr->setValue(r.lr);
        m_steps->setValue(static_cast<int>(r.steps));
        m_forgetBatch->setValue(static_cast<int>(r.forgetBatch));
        m_remainBatch->setValue(static_cast<int>(r.remainBatch));
        m_seed->setValue(static_cast<int>(r.seed));
    });
    form->addRow(defaultsButton);
    m_lockedWhileBusy << m_method << m_parameters << m_steps << m_forgetBatch << m_remainBatch << m_seed
                      << defaultsButton;
    return group;
}

QWidget* ConceptTab::buildRunGroup()
{
    auto* group = new QGroupBox(tr("Run and export"));
    auto* layout = new QVBoxLayout(group);
    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(tr("&Start"), group);
    m_pause = new QPushButton(tr("&Pause"), group);
    m_stop = new QPushButton(tr("S&top"), group);
    m_start->setToolTip(tr("Ctrl+R"));
    m_pause->setToolTip(tr("Ctrl+P"));
    m_stop->setToolTip(tr("Ctrl+."));
    for (QPushButton* b : { m_start, m_pause, m_stop })
        buttons->addWidget(b);
    connect(m_start, &QPushButton::clicked, this, &ConceptTab::startRun);
    connect(m_pause, &QPushButton::clicked, this, &ConceptTab::togglePause);
    connect(m_stop, &QPushButton::clicked, this, &ConceptTab::stopRun);
    m_progress = new QProgressBar(group);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_rate = new QLabel(group);
    m_rate->setWordWrap(true);
    auto* exportRow = new QHBoxLayout;
    m_exportDiffusers = new QPushButton(tr("&Export diffusers folder…"), group);
    m_exportCompvis = new QPushButton(tr("Export &CompVis file…"), group);
    connect(m_exportDiffusers, &QPushButton::clicked, this, [this] { chooseExport(false); });
    connect(m_exportCompvis, &QPushButton::clicked, this, [this] { chooseExport(true); });
    exportRow->addWidget(m_exportDiffusers);
    exportRow->addWidget(m_exportCompvis);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addWidget(m_rate);
    layout->addLayout(exportRow);
    return group;
}

QWidget* ConceptTab::buildPromptPage()
{
    // Left: the three sets as tables.
    auto* sets = new QWidget;
    auto* setsLayout = new QVBoxLayout(sets);
    m_setTabs = new QTabWidget(sets);
    for (int i = 0; i < 3; ++i) {
        auto* table = new QTableWidget(0, 3, m_setTabs);
        table->setHorizontalHeaderLabels({ tr("Prompt"), tr("Seed"), tr("Case") });
        table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
        table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
        table->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
        table->setSelectionBehavior(QAbstractItemView::SelectRows);
        connect(table, &QTableWidget::itemChanged, this, [this] {
            updateSetCounts();
            refreshPreviewList();
        });
        m_tables[i] = table;
        m_setTabs->addTab(table, QString());
    }
    m_tables[0]->setAccessibleName(tr("Forget prompts"));
    m_tables[1]->setAccessibleName(tr("Remain prompts (training)"));
    m_tables[2]->setAccessibleName(tr("Remain prompts (held-out test)"));
    const auto current = [this] { return static_cast<PromptSet>(std::max(0, m_setTabs->currentIndex())); };
    auto* buttons = new QHBoxLayout;
    auto* add = new QPushButton(tr("&Add"), sets);
    add->setToolTip(tr("Add a prompt row and start typing it"));
    connect(add, &QPushButton::clicked, this, [this, current] {
        QTableWidget* t = table(current());
        const int row = t->rowCount();
        t->insertRow(row);
        t->setCurrentCell(row, 0);
        auto* item = new QTableWidgetItem;
        t->setItem(row, 0, item);
        t->setFocus();
        t->editItem(item);
    });
    auto* remove = new QPushButton(tr("&Remove"), sets);
    connect(remove, &QPushButton::clicked, this, [this, current] {
        QTableWidget* t = table(current());
        QList<int> rows;
        for (const QModelIndex& index : t->selectionModel()->selectedRows())
            rows << index.row();
        std::sort(rows.begin(), rows.end(), std::greater<>());
        for (int row : rows)
            t->removeRow(row);
        updateSetCounts();
        refreshPreviewList();
    });
    auto* load = new QPushButton(tr("&Load…"), sets);
    connect(load, &QPushButton::clicked, this, [this, current] {
        const QString file = QFileDialog::getOpenFileName(
            this, tr("Load a prompt set"), QString(), tr("Prompt sets (*.json *.csv);;All files (*)"));
        if (!file.isEmpty())
            loadPromptFile(current(), file);
    });
    auto* save = new QPushButton(tr("Sa&ve…"), sets);
    connect(save, &QPushButton::clicked, this, [this, current] {
        const QString file = QFileDialog::getSaveFileName(
            this, tr("Save the prompt set"), QStringLiteral("prompts.json"), tr("JSON prompt list (*.json)"));
        if (!file.isEmpty())
            savePromptFile(current(), file);
    });
    for (QPushButton* b : { add, remove, load, save })
        buttons->addWidget(b);
    buttons->addStretch(1);
    setsLayout->addWidget(m_setTabs, 1);
    setsLayout->addLayout(buttons);

    // Right: the diversity builder.
    auto* builder = new QGroupBox(tr("Diversity builder"));
    auto* builderLayout = new QVBoxLayout(builder);
    auto* presetRow = new QHBoxLayout;
    auto* loadPresetButton = new QPushButton(tr("Load pre&set…"), builder);
    connect(loadPresetButton, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(
            this, tr("Load a diversity preset"), QString(), tr("Diversity presets (*.json);;All files (*)"));
        if (!file.isEmpty())
            loadPreset(file);
    });
    m_presetLabel = new QLabel(tr("no preset loaded"), builder);
    m_presetLabel->setWordWrap(true);
    presetRow->addWidget(loadPresetButton);
    presetRow->addWidget(m_presetLabel, 1);
    builderLayout->addLayout(presetRow);
    m_dimensions = new QTableWidget(0, 3, builder);
    m_dimensions->setHorizontalHeaderLabels({ tr("Dimension"), tr("Training values"), tr("Held-out test values") });
    m_dimensions->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_dimensions->setToolTip(tr("Values separated by commas; no test values = shared by all splits"));
    m_dimensions->setAccessibleName(tr("Dimensions"));
    builderLayout->addWidget(m_dimensions, 1);
    auto* dimensionButtons = new QHBoxLayout;
    auto* addDimension = new QPushButton(tr("Add dimension"), builder);
    connect(addDimension, &QPushButton::clicked, this, [this] {
        m_dimensions->insertRow(m_dimensions->rowCount());
        m_dimensions->setCurrentCell(m_dimensions->rowCount() - 1, 0);
        m_dimensions->setFocus();
    });
    auto* removeDimension = new QPushButton(tr("Remove dimension"), builder);
    connect(removeDimension, &QPushButton::clicked, this, [this] {
        if (m_dimensions->currentRow() >= 0)
            m_dimensions->removeRow(m_dimensions->currentRow());
    });
    dimensionButtons->addWidget(addDimension);
    dimensionButtons->addWidget(removeDimension);
    dimensionButtons->addStretch(1);
    builderLayout->addLayout(dimensionButtons);
    auto* form = new QFormLayout;
    m_remainTemplate = new QLineEdit(builder);
    m_remainTemplate->setPlaceholderText(tr("a photo of a {colour} {object}"));
    m_forgetTemplate = new QLineEdit(builder);
    m_forgetTemplate->setPlaceholderText(tr("empty: the remain template with {concept} for the concept dimension"));
    m_conceptWords = new QLineEdit(builder);
    m_conceptWords->setPlaceholderText(tr("words separated by commas, e.g. sneaker"));
    m_conceptDimension = new QLineEdit(builder);
    m_conceptDimension->setPlaceholderText(tr("optional: the dimension the words belong to"));
    const auto countBox = [builder](int min, int value) {
        auto* box = new QSpinBox(builder);
        box->setRange(min, 1000000);
        box->setValue(value);
        return box;
    };
    const concepts::DiversitySpec defaults;
    m_forgetCount = countBox(1, static_cast<int>(defaults.forgetCount));
    m_remainTrainCount = countBox(1, static_cast<int>(defaults.remainTrainCount));
    m_remainTestCount = countBox(0, static_cast<int>(defaults.remainTestCount));
    m_builderSeed = countBox(0, 0);
    auto* counts = new QHBoxLayout;
    counts->addWidget(new QLabel(tr("D_f"), builder));
    counts->addWidget(m_forgetCount);
    counts->addWidget(new QLabel(tr("D_r,train"), builder));
    counts->addWidget(m_remainTrainCount);
    counts->addWidget(new QLabel(tr("D_r,test"), builder));
    counts->addWidget(m_remainTestCount);
    form->addRow(tr("Remain &template:"), m_remainTemplate);
    form->addRow(tr("Forget template:"), m_forgetTemplate);
    form->addRow(tr("Concept &words:"), m_conceptWords);
    form->addRow(tr("Concept dimension:"), m_conceptDimension);
    form->addRow(tr("Counts:"), counts);
    form->addRow(tr("Builder seed:"), m_builderSeed);
    builderLayout->addLayout(form);
    auto* buildRow = new QHBoxLayout;
    auto* build = new QPushButton(tr("&Build D_f, D_r,train, D_r,test"), builder);
    connect(build, &QPushButton::clicked, this, &ConceptTab::buildPrompts);
    m_buildResult = new QLabel(builder);
    m_buildResult->setWordWrap(true);
    buildRow->addWidget(build);
    buildRow->addWidget(m_buildResult, 1);
    builderLayout->addLayout(buildRow);

    auto* page = new QSplitter(Qt::Horizontal);
    page->setObjectName(QStringLiteral("conceptPromptSplitter"));
    page->addWidget(sets);
    page->addWidget(builder);
    page->setStretchFactor(0, 3);
    page->setStretchFactor(1, 2);
    m_lockedWhileBusy << page;
    return page;
}

QWidget* ConceptTab::buildRunPage()
{
    auto* curveTabs = new QTabWidget;
    m_curves = addUnlearningCurves(curveTabs, true);

    auto* compare = new QWidget;
    auto* compareLayout = new QHBoxLayout(compare);
    auto* choice = new QGroupBox(tr("Before / after prompts"), compare);
    auto* choiceLayout = new QVBoxLayout(choice);
    m_previewList = new QListWidget(choice);
    m_previewList->setToolTip(tr("Checked prompts are drawn before and after, one column per seed"));
    m_previewList->setAccessibleName(tr("Prompts of the before/after grids"));
    m_previewSeeds = new QLineEdit(QStringLiteral("0-1"), choice);
    m_previewSeeds->setToolTip(tr("Seeds of the columns, e.g. 0-3 or 1,5"));
    m_previewEvery = new QSpinBox(choice);
    m_previewEvery->setRange(0, 1000000);
    m_previewEvery->setSpecialValueText(tr("only at the end"));
    m_previewEvery->setToolTip(tr("Draw the \"after\" grid every N steps during the run (0: only at the end)"));
    auto* seedsForm = new QFormLayout;
    seedsForm->addRow(tr("Seeds:"), m_previewSeeds);
    seedsForm->addRow(tr("After every:"), m_previewEvery);
    choiceLayout->addWidget(m_previewList, 1);
    choiceLayout->addLayout(seedsForm);
    choice->setMaximumWidth(240);
    m_beforeGrid = new widgets::SampleGrid(compare);
    m_beforeGrid->setTitle(tr("Before"));
    m_beforeGrid->setPlaceholder(tr("The base model's images of the checked prompts appear when a run starts."));
    m_afterGrid = new widgets::SampleGrid(compare);
    m_afterGrid->setTitle(tr("After"));
    m_afterGrid->setPlaceholder(tr("The unlearned model's images, from the same seeds, appear when the run ends."));
    compareLayout->addWidget(choice);
    compareLayout->addWidget(m_beforeGrid, 1);
    compareLayout->addWidget(m_afterGrid, 1);
    m_lockedWhileBusy << m_previewList << m_previewSeeds << m_previewEvery;

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
    connect(m_worker, &ConceptWorker::opened, this, [this](const QString& path, const QString& description) {
        m_opening = false;
        m_modelOpen = true;
        m_hasResult = false;
        m_modelPath = path;
        m_modelLabel->setText(description);
        m_modelLabel->setToolTip(path);
        m_imagesLabel->setText(tr("Not drawn yet."));
        saveSettings();
        setStatus(tr("Opened %1: fill the prompt sets, then generate the training images or press Start").arg(path));
        updateActions();
        Q_EMIT modelOpened(true);
    });
    connect(m_worker, &ConceptWorker::openFailed, this, [this](const QString& message) {
        m_opening = false;
        m_modelOpen = false;
        m_modelLabel->setText(tr("No model open."));
        updateActions();
        showError(tr("Open a text-to-image model"), message);
        Q_EMIT modelOpened(false);
    });
    connect(m_worker, &ConceptWorker::progress, this, &ConceptTab::onProgress);
    connect(m_worker, &ConceptWorker::imagesReady, this, [this](qint64 drawn, qint64 cached) {
        m_imagesLabel->setText(tr("%1 training images ready: %2 drawn now, %3 from the cache.")
                                   .arg(drawn + cached)
                                   .arg(drawn)
                                   .arg(cached));
        if (m_drawing) {
            m_drawing = false;
            m_progress->setRange(0, 100);
            m_progress->setValue(100);
            m_progress->setFormat(tr("training images: %p%"));
            setStatus(m_imagesLabel->text());
            updateActions();
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
    connect(m_worker, &ConceptWorker::runStarted, this, [this](qint64 total) { m_totalSteps = total; });
    connect(m_worker, &ConceptWorker::beforeReady, this, [this](const QList<QImage>& cells, int columns) {
        m_beforeGrid->setCells(cells, columns, m_previewLabels);
        m_beforeGrid->setTitle(tr("Before (base model)"));
    });
    connect(m_worker, &ConceptWorker::afterReady, this, [this](qint64 step, const QList<QImage>& cells, int columns) {
        m_afterGrid->setCells(cells, columns, m_previewLabels);
        m_afterGrid->setTitle(tr("After step %1").arg(step));
    });
    connect(m_worker, &ConceptWorker::stepDone, this, &ConceptTab::onStep);
    connect(m_worker, &ConceptWorker::runEnded, this, &ConceptTab::onRunEnded);
    connect(m_worker, &ConceptWorker::exported, this, [this](const QString& where) {
        m_exporting = false;
        updateActions();
        setStatus(tr("Exported to %1").arg(where));
        Q_EMIT exportFinished(true, where);
    });
    connect(m_worker, &ConceptWorker::exportFailed, this, [this](const QString& message) {
        m_exporting = false;
        updateActions();
        showError(tr("Export"), message);
        Q_EMIT exportFinished(false, message);
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
    if (s.contains(QStringLiteral("concept/method"))) {
        m_method->setCurrentIndex(std::max(0, m_method->findData(s.value(QStringLiteral("concept/method")))));
        m_parameters->setCurrentIndex(
            std::max(0, m_parameters->findData(s.value(QStringLiteral("concept/parameters")))));
        m_alpha->setValue(s.value(QStringLiteral("concept/alpha"), m_alpha->value()).toDouble());
        m_lambda->setValue(s.value(QStringLiteral("concept/lambda"), m_lambda->value()).toDouble());
        m_lr->setValue(s.value(QStringLiteral("concept/lr"), m_lr->value()).toDouble());
        m_steps->setValue(s.value(QStringLiteral("concept/steps"), m_steps->value()).toInt());
        m_forgetBatch->setValue(s.value(QStringLiteral("concept/forgetBatch"), m_forgetBatch->value()).toInt());
        m_remainBatch->setValue(s.value(QStringLiteral("concept/remainBatch"), m_remainBatch->value()).toInt());
        m_seed->setValue(s.value(QStringLiteral("concept/seed"), m_seed->value()).toInt());
        m_samplerSteps->setValue(s.value(QStringLiteral("concept/samplerSteps"), m_samplerSteps->value()).toInt());
        m_guidance->setValue(s.value(QStringLiteral("concept/guidance"), m_guidance->value()).toDouble());
    }
}

void ConceptTab::saveSettings() const
{
    QSettings s;
    if (m_modelOpen) {
        s.setValue(QStringLiteral("concept/model"), m_modelEdit->text().trimmed());
        s.setValue(QStringLiteral("concept/components"), m_componentsEdit->text().trimmed());
    }
    s.setValue(QStringLiteral("concept/cache"), m_cacheEdit->text());
    s.setValue(QStringLiteral("concept/method"), m_method->currentData());
    s.setValue(QStringLiteral("concept/parameters"), m_parameters->currentData());
    s.setValue(QStringLiteral("concept/alpha"), m_alpha->value());
    s.setValue(QStringLiteral("concept/lambda"), m_lambda->value());
    s.setValue(QStringLiteral("concept/lr"), m_lr->value());
    s.setValue(QStringLiteral("concept/steps"), m_steps->value());
    s.setValue(QStringLiteral("concept/forgetBatch"), m_forgetBatch->value());
    s.setValue(QStringLiteral("concept/remainBatch"), m_remainBatch->value());
    s.setValue(QStringLiteral("concept/seed"), m_seed->value());
    s.setValue(QStringLiteral("concept/samplerSteps"), m_samplerSteps->value());
    s.setValue(QStringLiteral("concept/guidance"), m_guidance->value());
}

void ConceptTab::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    // The remembered model opens the first time the tab is shown, not before: the Class tab alone costs nothing.
    if (!m_autoOpened && !m_modelOpen && !isBusy() && !m_modelEdit->text().trimmed().isEmpty()) {
        m_autoOpened = true;
        openModel(m_modelEdit->text().trimmed(), m_componentsEdit->text().trimmed());
    }
}

QTableWidget* ConceptTab::table(PromptSet set) const
{
    return m_tables[static_cast<int>(set)];
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

QList<ConceptPrompt> ConceptTab::prompts(PromptSet set, QString* error) const
{
    QList<ConceptPrompt> out;
    const QTableWidget* t = table(set);
    for (int row = 0; row < t->rowCount(); ++row) {
        const auto text
            = [&](int column) { return t->item(row, column) ? t->item(row, column)->text().trimmed() : QString(); };
        ConceptPrompt p;
        p.text = text(0);
        if (p.text.isEmpty())
            continue;
        const QString seed = text(1);
        if (!seed.isEmpty()) {
            bool ok = false;
            p.seed = seed.toLongLong(&ok);
            if (!ok || p.seed < 0) {
                if (error && error->isEmpty())
                    *error = tr("%1, row %2: the seed '%3' is not a non-negative whole number")
                                 .arg(m_setTabs->tabText(static_cast<int>(set)))
                                 .arg(row + 1)
                                 .arg(seed);
                p.seed = -1;
            }
        }
        p.caseLabel = text(2);
        out.append(p);
    }
    return out;
}

void ConceptTab::setPrompts(PromptSet set, const QList<ConceptPrompt>& prompts)
{
    QTableWidget* t = table(set);
    const QSignalBlocker blocker(t);
    t->setRowCount(0);
    t->setRowCount(static_cast<int>(prompts.size()));
    for (int row = 0; row < prompts.size(); ++row) {
        const ConceptPrompt& p = prompts[row];
        t->setItem(row, 0, new QTableWidgetItem(p.text));
        t->setItem(row, 1, new QTableWidgetItem(p.seed >= 0 ? QString::number(p.seed) : QString()));
        t->setItem(row, 2, new QTableWidgetItem(p.caseLabel));
    }
    updateSetCounts();
    refreshPreviewList();
}

bool ConceptTab::loadPromptFile(PromptSet set, const QString& path)
{
    try {
        const auto loaded = concepts::loadPromptSet(path.toStdString());
        setPrompts(set, fromCore(loaded));
        m_setTabs->setCurrentIndex(static_cast<int>(set));
        setStatus(tr("Loaded %1 prompts from %2").arg(loaded.size()).arg(path));
        return true;
    } catch (const std::exception& e) {
        showError(tr("Load a prompt set"),
            tr("The prompts of %1 were not loaded; the table keeps what it had.\n\n%2")
                .arg(path, QString::fromStdString(e.what())));
        return false;
    }
}

bool ConceptTab::savePromptFile(PromptSet set, const QString& path)
{
    QString error;
    const QList<ConceptPrompt> list = prompts(set, &error);
    try {
        if (!error.isEmpty())
            throw std::runtime_error(error.toStdString());
        std::vector<concepts::Prompt> out;
        for (const ConceptPrompt& p : list) {
            concepts::Prompt c { p.text.toStdString(), std::nullopt, std::nullopt };
            if (p.seed >= 0)
                c.seed = p.seed;
            if (!p.caseLabel.isEmpty())
                c.caseLabel = p.caseLabel.toStdString();
            out.push_back(std::move(c));
        }
        concepts::savePromptSet(path.toStdString(), out);
        setStatus(tr("Saved %1 prompts to %2").arg(out.size()).arg(path));
        return true;
    } catch (const std::exception& e) {
        showError(
            tr("Save the prompt set"), tr("%1 was not written.\n\n%2").arg(path, QString::fromStdString(e.what())));
        return false;
    }
}

bool ConceptTab::loadPreset(const QString& path)
{
    try {
        const concepts::DiversitySpec spec = concepts::loadDiversityPreset(path.toStdString());
        m_dimensions->setRowCount(0);
        m_dimensions->setRowCount(static_cast<int>(spec.dimensions.size()));
        for (int row = 0; row < static_cast<int>(spec.dimensions.size()); ++row) {
            const concepts::Dimension& d = spec.dimensions[static_cast<std::size_t>(row)];
            m_dimensions->setItem(row, 0, new QTableWidgetItem(QString::fromStdString(d.name)));
            m_dimensions->setItem(row, 1, new QTableWidgetItem(joinValues(d.trainValues)));
            m_dimensions->setItem(row, 2, new QTableWidgetItem(joinValues(d.testValues)));
        }
        m_remainTemplate->setText(QString::fromStdString(spec.remainTemplate));
        m_forgetTemplate->setText(QString::fromStdString(spec.forgetTemplate));
        m_conceptWords->setText(joinValues(spec.forgetConcept.words));
        m_conceptDimension->setText(QString::fromStdString(spec.forgetConcept.dimension));
        m_forgetCount->setValue(static_cast<int>(spec.forgetCount));
        m_remainTrainCount->setValue(static_cast<int>(spec.remainTrainCount));
        m_remainTestCount->setValue(static_cast<int>(spec.remainTestCount));
        m_builderSeed->setValue(static_cast<int>(spec.seed));
        m_presetLabel->setText(tr("%1 (%2)").arg(QString::fromStdString(spec.name), QFileInfo(path).fileName()));
        m_presetLabel->setToolTip(QString::fromStdString(spec.description));
        m_presetLabel->setProperty("allowRepeats", spec.allowRepeats);
        m_presetLabel->setProperty("presetName", QString::fromStdString(spec.name));
        setStatus(tr("Loaded the preset %1: press Build to make the prompt sets").arg(path));
        return true;
    } catch (const std::exception& e) {
        showError(tr("Load a diversity preset"),
            tr("The preset %1 was not loaded; the builder keeps what it had.\n\n%2")
                .arg(path, QString::fromStdString(e.what())));
        return false;
    }
}

bool ConceptTab::buildPrompts()
{
    concepts::DiversitySpec spec;
    spec.name = m_presetLabel->property("presetName").toString().toStdString();
    if (spec.name.empty())
        spec.name = "typed";
    for (int row = 0; row < m_dimensions->rowCount(); ++row) {
        const auto text = [&](int column) {
            return m_dimensions->item(row, column) ? m_dimensions->item(row, column)->text().trimmed() : QString();
        };
        if (text(0).isEmpty() && text(1).isEmpty())
            continue;
        spec.dimensions.push_back(
            { text(0).toStdString(), stdValues(splitValues(text(1))), stdValues(splitValues(text(2))) });
    }
    spec.remainTemplate = m_remainTemplate->text().trimmed().toStdString();
    spec.forgetTemplate = m_forgetTemplate->text().trimmed().toStdString();
    spec.forgetConcept.words = stdValues(splitValues(m_conceptWords->text()));
    spec.forgetConcept.dimension = m_conceptDimension->text().trimmed().toStdString();
    spec.forgetCount = m_forgetCount->value();
    spec.remainTrainCount = m_remainTrainCount->value();
    spec.remainTestCount = m_remainTestCount->value();
    spec.seed = static_cast<std::uint64_t>(m_builderSeed->value());
    spec.allowRepeats
        = m_presetLabel->property("allowRepeats").isValid() ? m_presetLabel->property("allowRepeats").toBool() : true;
    try {
        const concepts::DiversePrompts built = concepts::buildDiversePrompts(spec);
        setPrompts(PromptSet::Forget, fromCore(built.forget));
        setPrompts(PromptSet::RemainTrain, fromCore(built.remainTrain));
        setPrompts(PromptSet::RemainTest, fromCore(built.remainTest));
        m_buildResult->setText(tr("D_f %1, D_r,train %2, D_r,test %3 prompts (of %4, %5 and %6 distinct)")
                                   .arg(built.forget.size())
                                   .arg(built.remainTrain.size())
                                   .arg(built.remainTest.size())
                                   .arg(built.forgetCombinations)
                                   .arg(built.remainTrainCombinations)
                                   .arg(built.remainTestCombinations));
        setStatus(m_buildResult->text());
        return true;
    } catch (const std::exception& e) {
        m_buildResult->setText(tr("Not built."));
        showError(tr("Build the prompt sets"),
            tr("The prompt sets were not built; they keep what they had.\n\n%1").arg(QString::fromStdString(e.what())));
        return false;
    }
}

void ConceptTab::updateSetCounts()
{
    const QString names[3] = { tr("&Forget (D_f)"), tr("Remain (D_r,&train)"), tr("Remain (D_r,te&st)") };
    for (int i = 0; i < 3; ++i)
        m_setTabs->setTabText(i, tr("%1: %2").arg(names[i]).arg(prompts(static_cast<PromptSet>(i)).size()));
    updateActions();
}

void ConceptTab::refreshPreviewList()
{
    // Rebuilt from the sets; prompts checked before stay checked, and in a set none of whose listed prompts is
    // checked, the first two are.
    QSet<QString> checked;
    for (int i = 0; i < m_previewList->count(); ++i)
        if (m_previewList->item(i)->checkState() == Qt::Checked)
            checked.insert(m_previewList->item(i)->data(Qt::UserRole + 1).toString() + QLatin1Char('\n')
                + m_previewList->item(i)->data(Qt::UserRole).toString());
    m_previewList->clear();
    const QList<ConceptPrompt> remainTest = prompts(PromptSet::RemainTest);
    const QList<QPair<QString, QList<ConceptPrompt>>> sets = { { QStringLiteral("forget"), prompts(PromptSet::Forget) },
        { QStringLiteral("remain"), remainTest.isEmpty() ? prompts(PromptSet::RemainTrain) : remainTest } };
    for (const auto& [set, list] : sets) {
        QSet<QString> seen;
        QList<QListWidgetItem*> items;
        bool anyChecked = false;
        for (const ConceptPrompt& p : list) {
            if (seen.contains(p.text))
                continue;
            seen.insert(p.text);
            auto* item = new QListWidgetItem(
                (set == QStringLiteral("forget") ? tr("forget: %1") : tr("remain: %1")).arg(p.text), m_previewList);
            item->setData(Qt::UserRole, p.text);
            item->setData(Qt::UserRole + 1, set);
            item->setToolTip(p.text);
            item->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled | Qt::ItemIsSelectable);
            const bool on = checked.contains(set + QLatin1Char('\n') + p.text);
            item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
            anyChecked = anyChecked || on;
            items.append(item);
            if (items.size() >= kPreviewChoices)
                break;
        }
        for (qsizetype i = 0; !anyChecked && i < std::min<qsizetype>(2, items.size()); ++i)
            items[i]->setCheckState(Qt::Checked);
    }
}

bool ConceptTab::previewRequest(ConceptPreviewRequest& request, QStringList& labels)
{
    if (!parseSeeds(m_previewSeeds->text(), request.seeds)) {
        showError(tr("Before / after seeds"),
            tr("The seeds '%1' are not a list like 0-3 or 1,5 (at most 65 in a range).").arg(m_previewSeeds->text()));
        return false;
    }
    for (int i = 0; i < m_previewList->count(); ++i) {
        const QListWidgetItem* item = m_previewList->item(i);
        if (item->checkState() != Qt::Checked)
            continue;
        request.prompts << item->data(Qt::UserRole).toString();
        request.sets << item->data(Qt::UserRole + 1).toString();
    }
    // Row labels: "F: " or "R: " and the prompt without the words every chosen prompt starts with ("a photo of
    // a"), so the grids keep their room for the images.
    QStringList common = request.prompts.value(0).split(QLatin1Char(' '));
    for (const QString& prompt : request.prompts) {
        const QStringList words = prompt.split(QLatin1Char(' '));
        qsizetype n = 0;
        while (n < common.size() && n + 1 < words.size() && words[n] == common[n])
            ++n;
        common = common.mid(0, n);
    }
    labels.clear();
    for (qsizetype i = 0; i < request.prompts.size(); ++i)
        labels << (request.sets[i] == QStringLiteral("forget") ? QStringLiteral("F: ") : QStringLiteral("R: "))
                + elided(request.prompts[i].split(QLatin1Char(' ')).mid(common.size()).join(QLatin1Char(' ')), 22);
    return true;
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
    const QString method = m_method->currentData().toString();
    if (error.isEmpty() && request.images.remain.isEmpty() && method != QStringLiteral("esd"))
        error = tr("The remain set is empty: %1 needs remain prompts (or choose ESD).").arg(method.toUpper());
    if (!error.isEmpty()) {
        showError(tr("Start"), error);
        return;
    }
    if (!previewRequest(request.preview, m_previewLabels))
        return;
    request.method = method;
    request.parameters = m_parameters->currentData().toString();
    request.alpha = m_alpha->value();
    request.lambda = m_lambda->value();
    request.lr = m_lr->value();
    request.steps = m_steps->value();
    request.forgetBatch = m_forgetBatch->value();
    request.remainBatch = m_remainBatch->value();
    request.seed = static_cast<quint64>(m_seed->value());
    request.previewEvery = m_previewEvery->value();
    for (widgets::CurvePlot* plot : { m_curves.loss, m_curves.cosine, m_curves.norm })
        plot->clear();
    m_afterGrid->setCells({}, 1);
    m_afterGrid->setTitle(tr("After"));
    m_lastStep = 0;
    m_stepsDone = 0;
    m_stepSeconds = 0.0;
    m_lastPoint = StepPoint();
    m_totalSteps = request.steps;
    m_rate->clear();
    m_paused = false;
    m_running = true;
    m_hasResult = false;
    m_lastOutcome.clear();
    saveSettings();
    m_pages->setCurrentIndex(1);
    m_runMessage = tr("Unlearning with %1: %2 forget and %3 remain prompts")
                       .arg(method.toUpper())
                       .arg(request.images.forget.size())
                       .arg(request.images.remain.size());
    setStatus(m_runMessage);
    updateActions();
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, request] { worker->run(request); });
}

void ConceptTab::togglePause()
{
    const auto control = m_worker->control();
    if (!m_running || !control)
        return;
    m_paused = !m_paused;
    if (m_paused) {
        control->pause();
        setStatus(tr("Paused after step %1: change α, λ or lr, or resume").arg(m_lastStep));
    } else {
        control->resume();
        setStatus(tr("Resumed"));
    }
    updateActions();
}

void ConceptTab::stopRun()
{
    if (!m_running)
        return;
    if (const auto control = m_worker->control()) {
        control->resume();
        control->requestStop();
        setStatus(tr("Stopping after the current step …"));
    }
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
    m_start->setEnabled(canStart());
    m_pause->setEnabled(m_running);
    m_pause->setText(m_paused ? tr("&Resume") : tr("&Pause"));
    m_stop->setEnabled(m_running);
    m_generate->setEnabled(m_modelOpen && !busy);
    m_cancelGenerate->setEnabled(m_drawing);
    m_exportDiffusers->setEnabled(m_hasResult && !busy);
    m_exportCompvis->setEnabled(m_hasResult && !busy);
    for (QWidget* w : m_lockedWhileBusy)
        w->setEnabled(!busy);
    Q_EMIT actionsChanged();
}

void ConceptTab::onProgress(const QString& what, qint64 done, qint64 total)
{
    if (what.isEmpty()) { // A phase ended: back to the run's steps, or idle.
        m_phase.clear();
        if (m_running) {
            m_progress->setRange(0, static_cast<int>(std::max<qint64>(1, m_totalSteps)));
            m_progress->setValue(static_cast<int>(m_lastStep));
            m_progress->setFormat(tr("step %v of %m"));
            setStatus(m_runMessage);
        } else if (!m_drawing && m_progress->maximum() == 0) { // Leave a finished drawing's 100 % in view.
            m_progress->setRange(0, 1);
            m_progress->setValue(0);
            m_progress->setFormat(QString());
        }
        return;
    }
    if (what != m_phase) {
        m_phase = what;
        m_phaseStart = done;
        m_phaseClock.start();
        setStatus(what);
    }
    m_progress->setRange(0, static_cast<int>(total));
    m_progress->setValue(static_cast<int>(done));
    m_progress->setFormat(total > 0 ? tr("%1: %v of %m (%p%)").arg(what) : what);
    const double seconds = m_phaseClock.elapsed() / 1000.0;
    if (total > 0 && done > m_phaseStart && seconds > 0) {
        const double rate = static_cast<double>(done - m_phaseStart) / seconds;
        m_rate->setText(tr("%1 of %2 · %3/s · ETA %4")
                            .arg(done)
                            .arg(total)
                            .arg(rate, 0, 'f', 2)
                            .arg(duration(static_cast<double>(total - done) / rate)));
    }
}

bool ConceptTab::runHeld() const
{
    const auto control = m_worker->control();
    return control && control->holding();
}

void ConceptTab::onStep(const StepPoint& p)
{
    const double x = static_cast<double>(p.step);
    m_curves.loss->append(m_curves.forgetLoss, x, p.forgetLoss);
    m_curves.loss->append(m_curves.remainLoss, x, p.remainLoss);
    m_curves.cosine->append(m_curves.cosineValue, x, p.cosine);
    if (p.projected)
        m_curves.cosine->append(m_curves.projected, x, p.cosine);
    if (p.truncated)
        m_curves.cosine->append(m_curves.truncated, x, p.cosine);
    m_curves.norm->append(m_curves.ascentNorm, x, p.ascentNorm);
    m_curves.norm->append(m_curves.remainNorm, x, p.remainNorm);
    m_lastStep = p.step;
    m_lastPoint = p;
    m_totalSteps = p.totalSteps;
    ++m_stepsDone;
    m_stepSeconds += p.seconds;
    if (m_phase.isEmpty()) {
        m_progress->setRange(0, static_cast<int>(p.totalSteps));
        m_progress->setValue(static_cast<int>(p.step));
        m_progress->setFormat(tr("step %v of %m"));
    }
    const double rate = m_stepSeconds > 0 ? static_cast<double>(m_stepsDone) / m_stepSeconds : 0.0;
    m_rate->setText(tr("%1 steps/s · ETA %2 · L_f %3 · L_r %4 · cos %5%6")
                        .arg(rate, 0, 'f', 2)
                        .arg(duration(rate > 0 ? static_cast<double>(p.totalSteps - p.step) / rate : NAN))
                        .arg(p.forgetLoss, 0, 'g', 4)
                        .arg(p.remainLoss, 0, 'g', 4)
                        .arg(p.cosine, 0, 'f', 3)
                        .arg(p.truncated ? tr(" · truncated") : QString()));
}

void ConceptTab::onLiveChange(const QString& name, double value)
{
    const auto control = m_worker->control();
    if (!m_running || !control)
        return;
    // The change applies at the next step; mark it there.
    const QString label = sendLiveChange(*control, name, value, m_curves, static_cast<double>(m_lastStep) + 1.0);
    setStatus(tr("%1 from step %2").arg(label).arg(m_lastStep + 1));
}

void ConceptTab::onRunEnded(const QString& outcome, const QString& message, qint64 steps, double seconds)
{
    m_running = false;
    m_paused = false;
    m_lastOutcome = outcome;
    m_hasResult = steps > 0 && outcome != QStringLiteral("failed");
    m_phase.clear();
    for (widgets::CurvePlot* plot : { m_curves.loss, m_curves.cosine, m_curves.norm })
        plot->flush();
    m_progress->setRange(0, static_cast<int>(std::max<qint64>(1, m_totalSteps)));
    m_progress->setValue(static_cast<int>(steps));
    m_progress->setFormat(tr("step %v of %m"));
    m_rate->setText(m_stepSeconds > 0 ? tr("%1 steps in %2 · %3 steps/s (stepping only) · L_f %4 · L_r %5")
                                            .arg(m_stepsDone)
                                            .arg(duration(seconds))
                                            .arg(static_cast<double>(m_stepsDone) / m_stepSeconds, 0, 'f', 2)
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
        setStatus(tr("Run %1 after %2 steps in %3%4")
                      .arg(outcome == QStringLiteral("finished") ? tr("finished") : tr("stopped"))
                      .arg(steps)
                      .arg(duration(seconds))
                      .arg(message.isEmpty() ? QString() : QStringLiteral(" — ") + message));
    }
    Q_EMIT runFinished(outcome);
}

void ConceptTab::setStatus(const QString& text)
{
    m_lastStatus = text;
    Q_EMIT statusMessage(text);
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
