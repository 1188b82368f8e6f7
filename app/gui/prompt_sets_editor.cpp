#include "prompt_sets_editor.h"

#include "qt_conversions.h"

#include "core/concept/diversity_builder.h"
#include "core/concept/diversity_preset.h"
#include "core/concept/prompt_set.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <functional>

namespace lethe::gui {

namespace {

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

} // namespace

PromptSetsEditor::PromptSetsEditor(QWidget* parent)
    : QWidget(parent)
{
    auto* page = new QSplitter(Qt::Horizontal, this);
    page->setObjectName(QStringLiteral("conceptPromptSplitter"));
    page->addWidget(buildSets());
    page->addWidget(buildBuilder());
    page->setStretchFactor(0, 3);
    page->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(page);
    updateSetCounts();
}

QString PromptSetsEditor::conceptWords() const
{
    return m_conceptWords->text().trimmed();
}

QWidget* PromptSetsEditor::buildSets()
{
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
        connect(table, &QTableWidget::itemChanged, this, &PromptSetsEditor::updateSetCounts);
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

    return sets;
}

QWidget* PromptSetsEditor::buildBuilder()
{
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
    // Each count under its set's name: in one line they made the page too wide for a laptop's screen.
    auto* counts = new QGridLayout;
    counts->addWidget(new QLabel(tr("D_f"), builder), 0, 0);
    counts->addWidget(m_forgetCount, 1, 0);
    counts->addWidget(new QLabel(tr("D_r,train"), builder), 0, 1);
    counts->addWidget(m_remainTrainCount, 1, 1);
    counts->addWidget(new QLabel(tr("D_r,test"), builder), 0, 2);
    counts->addWidget(m_remainTestCount, 1, 2);
    form->addRow(tr("Remain &template:"), m_remainTemplate);
    form->addRow(tr("Forget template:"), m_forgetTemplate);
    form->addRow(tr("Concept &words:"), m_conceptWords);
    form->addRow(tr("Concept dimension:"), m_conceptDimension);
    form->addRow(tr("Counts:"), counts);
    form->addRow(tr("Builder seed:"), m_builderSeed);
    builderLayout->addLayout(form);
    auto* buildRow = new QHBoxLayout;
    auto* build = new QPushButton(tr("&Build D_f, D_r,train, D_r,test"), builder);
    connect(build, &QPushButton::clicked, this, &PromptSetsEditor::buildPrompts);
    m_buildResult = new QLabel(builder);
    m_buildResult->setWordWrap(true);
    buildRow->addWidget(build);
    buildRow->addWidget(m_buildResult, 1);
    builderLayout->addLayout(buildRow);

    return builder;
}

QTableWidget* PromptSetsEditor::table(PromptSet set) const
{
    return m_tables[static_cast<int>(set)];
}

QList<ConceptPrompt> PromptSetsEditor::prompts(PromptSet set, QString* error) const
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

void PromptSetsEditor::setPrompts(PromptSet set, const QList<ConceptPrompt>& prompts)
{
    if (set != PromptSet::RemainTest)
        m_otherConceptValues.clear(); // The sets no longer come from the last build alone.
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
}

bool PromptSetsEditor::loadPromptFile(PromptSet set, const QString& path)
{
    try {
        const auto loaded = concepts::loadPromptSet(path.toStdString());
        setPrompts(set, conceptPrompts(loaded));
        m_setTabs->setCurrentIndex(static_cast<int>(set));
        Q_EMIT statusMessage(tr("Loaded %1 prompts from %2").arg(loaded.size()).arg(path));
        return true;
    } catch (const std::exception& e) {
        Q_EMIT failed(tr("Load a prompt set"),
            tr("The prompts of %1 were not loaded; the table keeps what it had.\n\n%2")
                .arg(path, QString::fromStdString(e.what())));
        return false;
    }
}

bool PromptSetsEditor::savePromptFile(PromptSet set, const QString& path)
{
    QString error;
    const QList<ConceptPrompt> list = prompts(set, &error);
    try {
        if (!error.isEmpty())
            throw std::runtime_error(error.toStdString());
        const std::vector<concepts::Prompt> out = corePrompts(list);
        concepts::savePromptSet(path.toStdString(), out);
        Q_EMIT statusMessage(tr("Saved %1 prompts to %2").arg(out.size()).arg(path));
        return true;
    } catch (const std::exception& e) {
        Q_EMIT failed(
            tr("Save the prompt set"), tr("%1 was not written.\n\n%2").arg(path, QString::fromStdString(e.what())));
        return false;
    }
}

bool PromptSetsEditor::loadPreset(const QString& path)
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
        Q_EMIT statusMessage(tr("Loaded the preset %1: press Build to make the prompt sets").arg(path));
        return true;
    } catch (const std::exception& e) {
        Q_EMIT failed(tr("Load a diversity preset"),
            tr("The preset %1 was not loaded; the builder keeps what it had.\n\n%2")
                .arg(path, QString::fromStdString(e.what())));
        return false;
    }
}

bool PromptSetsEditor::buildPrompts()
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
        setPrompts(PromptSet::Forget, conceptPrompts(built.forget));
        setPrompts(PromptSet::RemainTrain, conceptPrompts(built.remainTrain));
        setPrompts(PromptSet::RemainTest, conceptPrompts(built.remainTest));
        for (const auto& value : concepts::otherConceptValues(spec))
            m_otherConceptValues << QString::fromStdString(value);
        m_buildResult->setText(tr("D_f %1, D_r,train %2, D_r,test %3 prompts (of %4, %5 and %6 distinct)")
                                   .arg(built.forget.size())
                                   .arg(built.remainTrain.size())
                                   .arg(built.remainTest.size())
                                   .arg(built.forgetCombinations)
                                   .arg(built.remainTrainCombinations)
                                   .arg(built.remainTestCombinations));
        Q_EMIT statusMessage(m_buildResult->text());
        return true;
    } catch (const std::exception& e) {
        m_buildResult->setText(tr("Not built."));
        Q_EMIT failed(tr("Build the prompt sets"),
            tr("The prompt sets were not built; they keep what they had.\n\n%1").arg(QString::fromStdString(e.what())));
        return false;
    }
}

void PromptSetsEditor::updateSetCounts()
{
    const QString names[3] = { tr("&Forget (D_f)"), tr("Remain (D_r,&train)"), tr("Remain (D_r,te&st)") };
    for (int i = 0; i < 3; ++i)
        m_setTabs->setTabText(i, tr("%1: %2").arg(names[i]).arg(prompts(static_cast<PromptSet>(i)).size()));
    Q_EMIT promptsChanged();
}

} // namespace lethe::gui
