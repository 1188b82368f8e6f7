#include "robustness_panel.h"

#include "widgets/curve_plot.h"
#include "widgets/sample_grid.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace lethe::gui {

namespace {

/// Row labels of the image grids: the prompts, shortened to fit beside the images.
QStringList rowLabels(const QList<AttackRow>& rows)
{
    QStringList labels;
    for (const AttackRow& row : rows)
        labels << (row.prompt.size() > 28 ? row.prompt.left(27) + QChar(0x2026) : row.prompt);
    return labels;
}

} // namespace

RobustnessPanel::RobustnessPanel(Mode mode, QWidget* parent)
    : QWidget(parent)
    , m_mode(mode)
{
    auto* sides = new QSplitter(Qt::Horizontal, this);
    sides->setObjectName(QStringLiteral("robustnessSplitter"));
    sides->addWidget(buildSettings());
    sides->addWidget(buildResults());
    sides->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(sides);
    setAvailable(false, tr("Run unlearning first: the attack needs the run's finished model."));
}

QWidget* RobustnessPanel::buildSettings()
{
    auto* column = new QWidget;
    auto* layout = new QVBoxLayout(column);
    m_note = new QLabel(column);
    m_note->setWordWrap(true);
    auto* group = new QGroupBox(tr("Attack"), column);
    auto* form = new QFormLayout(group);
    const bool concept = m_mode == Mode::Concept;
    m_kind = new QComboBox(group);
    if (concept) {
        m_kind->addItem(tr("UnlearnDiffAtk (hard prompt)"), QStringLiteral("hard"));
        m_kind->addItem(tr("Soft prompt (upper bound)"), QStringLiteral("soft"));
        m_kind->setToolTip(tr("UnlearnDiffAtk looks for K real tokens a user could type before the prompt; the soft "
                              "prompt optimises K free embeddings, a bound on what any K tokens could do"));
    } else {
        m_kind->addItem(tr("Class attack (label vector)"), QStringLiteral("class"));
        m_kind->setToolTip(tr("Optimises a continuous label vector, started at the forgotten class, so that the "
                              "unlearned model draws the base model's images of that class again"));
    }
    form->addRow(tr("&Attack:"), m_kind);
    const auto spin = [group](int min, int max, int value, const QString& tip) {
        auto* box = new QSpinBox(group);
        box->setRange(min, max);
        box->setValue(value);
        box->setToolTip(tip);
        return box;
    };
    m_steps = spin(1, 100000, concept ? 40 : 100, tr("Optimisation steps per prompt"));
    m_lr = new QDoubleSpinBox(group);
    m_lr->setDecimals(4);
    m_lr->setRange(0.0001, 10.0);
    m_lr->setSingleStep(0.005);
    m_lr->setValue(concept ? 0.01 : 0.05);
    m_lr->setToolTip(concept ? tr("AdamW's learning rate (weight decay 0.1)") : tr("Adam's learning rate"));
    m_tokens = spin(1, 32, 5, tr("Adversarial tokens put before or after the prompt"));
    m_placement = new QComboBox(group);
    m_placement->addItem(tr("Before the prompt (UnlearnDiffAtk)"), QStringLiteral("prefix"));
    m_placement->addItem(tr("After the prompt"), QStringLiteral("suffix"));
    m_placement->setToolTip(tr("Where the adversarial tokens go: before the prompt, as UnlearnDiffAtk does by default, "
                               "or after it, where the concept's word would stand"));
    m_timesteps = spin(1, 100, 1, tr("Diffusion timesteps averaged in each step's loss"));
    m_prompts = spin(1, 100000, 4, tr("The first forget prompts of the run are attacked"));
    m_seeds = spin(1, 1000, concept ? 2 : 8, tr("Images per prompt the judge reads, before and after the attack"));
    m_targets = spin(1, 1000, concept ? 1 : 8, tr("Images of the concept the base model draws for the attack"));
    m_removeConcept = new QCheckBox(tr("&Remove the concept word from the prompts"), group);
    m_removeConcept->setToolTip(tr("The attacked prompts lose the concept's words while the targets still show it: "
                                   "is the attack real, or does the prompt alone bring the concept back?"));
    if (concept) {
        form->addRow(tr("&Tokens K:"), m_tokens);
        form->addRow(tr("Plac&ement:"), m_placement);
    }
    form->addRow(tr("S&teps:"), m_steps);
    form->addRow(tr("&Learning rate:"), m_lr);
    if (concept) {
        form->addRow(tr("Ti&mesteps per step:"), m_timesteps);
        form->addRow(tr("&Prompts to attack:"), m_prompts);
    }
    form->addRow(tr("&Judge seeds:"), m_seeds);
    form->addRow(tr("Target &images:"), m_targets);
    if (concept)
        form->addRow(m_removeConcept);
    for (QWidget* w :
        { static_cast<QWidget*>(m_tokens), static_cast<QWidget*>(m_placement), static_cast<QWidget*>(m_timesteps),
            static_cast<QWidget*>(m_prompts), static_cast<QWidget*>(m_removeConcept) })
        w->setVisible(concept);

    auto* buttons = new QHBoxLayout;
    m_start = new QPushButton(tr("Start atta&ck"), column);
    m_cancel = new QPushButton(tr("Ca&ncel"), column);
    connect(m_start, &QPushButton::clicked, this, [this] {
        if (m_available && !m_attacking)
            Q_EMIT startRequested();
    });
    connect(m_cancel, &QPushButton::clicked, this, [this] {
        if (!m_attacking)
            return;
        m_cancel->setEnabled(false);
        Q_EMIT statusMessage(tr("Cancelling the attack …"));
        Q_EMIT cancelRequested();
    });
    buttons->addWidget(m_start);
    buttons->addWidget(m_cancel);
    m_progress = new QProgressBar(column);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setFormat(QString());
    layout->addWidget(m_note);
    layout->addWidget(group);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addStretch(1);
    return column;
}

QWidget* RobustnessPanel::buildResults()
{
    m_loss = new widgets::CurvePlot(tr("attack loss"));
    m_loss->setMinimumHeight(160);
    m_lossSeries = m_loss->addSeries(tr("loss"), QColor(200, 60, 40), true);

    auto* results = new QWidget;
    auto* layout = new QVBoxLayout(results);
    layout->setContentsMargins(0, 0, 0, 0);
    m_figures = new QLabel(tr("No attack yet."), results);
    m_figures->setWordWrap(true);
    m_figures->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QFont bold = m_figures->font();
    bold.setBold(true);
    m_figures->setFont(bold);
    m_table = new QTableWidget(0, 4, results);
    m_table->setHorizontalHeaderLabels(m_mode == Mode::Concept
            ? QStringList { tr("Prompt"), tr("Adversarial prompt"), tr("Pre"), tr("Post") }
            : QStringList { tr("Class"), tr("Label vector"), tr("Pre"), tr("Post") });
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_table->setToolTip(tr("Pre and Post: the share of the judge seeds' images showing the concept, from the plain "
                           "prompt and from the adversarial one"));
    auto* grids = new QHBoxLayout;
    m_plainGrid = new widgets::SampleGrid(results);
    m_plainGrid->setTitle(m_mode == Mode::Concept ? tr("Plain prompts") : tr("Plain label"));
    m_plainGrid->setPlaceholder(tr("The unlearned model's images of the plain prompts appear when an attack ends."));
    m_adversarialGrid = new widgets::SampleGrid(results);
    m_adversarialGrid->setTitle(m_mode == Mode::Concept ? tr("Adversarial prompts") : tr("Adversarial label"));
    m_adversarialGrid->setPlaceholder(tr("Its images of the adversarial prompts, from the same seeds, beside them."));
    grids->addWidget(m_plainGrid, 1);
    grids->addWidget(m_adversarialGrid, 1);
    layout->addWidget(m_figures);
    layout->addWidget(m_table, 1);
    layout->addLayout(grids, 2);

    auto* page = new QSplitter(Qt::Vertical);
    page->addWidget(m_loss);
    page->addWidget(results);
    page->setStretchFactor(0, 1);
    page->setStretchFactor(1, 2);
    page->setSizes({ 300, 600 }); // A third for the curve, whatever the size hints say.
    return page;
}

AttackRequest RobustnessPanel::request() const
{
    AttackRequest r;
    r.kind = m_kind->currentData().toString();
    r.tokens = m_tokens->value();
    r.placement = m_placement->currentData().toString();
    r.steps = m_steps->value();
    r.lr = m_lr->value();
    r.timestepsPerStep = m_timesteps->value();
    r.prompts = m_prompts->value();
    r.seeds = m_seeds->value();
    r.targets = m_targets->value();
    r.removeConcept = m_mode == Mode::Concept && m_removeConcept->isChecked();
    return r;
}

void RobustnessPanel::setAvailable(bool available, const QString& why)
{
    m_available = available;
    m_start->setToolTip(available ? tr("Attack the run's finished model") : why);
    if (!m_attacking) {
        if (!available)
            m_note->setText(why);
        else if (m_outcomeNote.isEmpty())
            m_note->setText(tr("Does it stay forgotten? The attack searches for an input that makes the unlearned "
                               "model draw the concept again; the judge reads its images before (Pre-ASR) and after "
                               "(Post-ASR)."));
        else
            m_note->setText(m_outcomeNote);
    }
    updateButtons();
}

void RobustnessPanel::updateButtons()
{
    m_start->setEnabled(m_available && !m_attacking);
    m_cancel->setEnabled(m_attacking);
    for (QWidget* w : { static_cast<QWidget*>(m_kind), static_cast<QWidget*>(m_tokens),
             static_cast<QWidget*>(m_placement), static_cast<QWidget*>(m_steps), static_cast<QWidget*>(m_lr),
             static_cast<QWidget*>(m_timesteps), static_cast<QWidget*>(m_prompts), static_cast<QWidget*>(m_seeds),
             static_cast<QWidget*>(m_targets), static_cast<QWidget*>(m_removeConcept) })
        w->setEnabled(!m_attacking);
}

void RobustnessPanel::attackStarted()
{
    clearResult();
    m_attacking = true;
    m_lastOutcome.clear();
    m_markedPrompt = -1;
    m_attackSteps = m_steps->value();
    m_progress->setRange(0, 0);
    m_progress->setFormat(tr("Starting the attack"));
    m_note->setText(tr("Attacking the run's model …"));
    updateButtons();
}

void RobustnessPanel::showProgress(const AttackPoint& p)
{
    QString phase;
    if (p.phase == QStringLiteral("targets"))
        phase = tr("Drawing the base model's targets");
    else if (p.phase == QStringLiteral("before"))
        phase = m_mode == Mode::Concept ? tr("Drawing the plain prompts' images") : tr("Drawing the plain images");
    else if (p.phase == QStringLiteral("attack"))
        phase = tr("Attacking");
    else if (p.phase == QStringLiteral("after"))
        phase = m_mode == Mode::Concept ? tr("Drawing the adversarial prompts' images")
                                        : tr("Drawing the adversarial images");
    else
        phase = p.phase;
    if (p.prompts > 1)
        phase = tr("%1, prompt %2 of %3").arg(phase).arg(p.prompt + 1).arg(p.prompts);
    m_progress->setRange(0, static_cast<int>(std::max<qint64>(1, p.steps)));
    m_progress->setValue(static_cast<int>(std::min(p.step, std::max<qint64>(1, p.steps))));
    m_progress->setFormat(tr("%1: %v of %m").arg(phase));
    if (p.phase == QStringLiteral("attack")) {
        if (p.steps > 0)
            m_attackSteps = p.steps;
        const double x = static_cast<double>(p.prompt * m_attackSteps + p.step);
        if (p.prompt != m_markedPrompt && p.prompts > 1) {
            m_markedPrompt = p.prompt;
            m_loss->addMarker(x, tr("prompt %1").arg(p.prompt + 1));
        }
        if (std::isfinite(p.loss))
            m_loss->append(m_lossSeries, x, p.loss);
    }
}

void RobustnessPanel::attackEnded(const QString& outcome, const QString& message, const AttackSummary& summary)
{
    m_attacking = false;
    m_lastOutcome = outcome;
    m_loss->flush();
    m_progress->setRange(0, 1);
    m_progress->setValue(outcome == QStringLiteral("finished") ? 1 : 0);
    if (outcome == QStringLiteral("finished")) {
        m_progress->setFormat(tr("Attack finished"));
        m_result = summary;
        m_hasResult = true;
        m_figures->setText(figuresText());
        m_table->setRowCount(0);
        QList<QImage> plain;
        QList<QImage> adversarial;
        int columns = 1;
        for (const AttackRow& row : summary.rows) {
            const int r = m_table->rowCount();
            m_table->insertRow(r);
            const QStringList cells { row.prompt, row.adversarialPrompt, percent(row.preRate), percent(row.postRate) };
            for (int c = 0; c < cells.size(); ++c) {
                auto* item = new QTableWidgetItem(cells[c]);
                if (c == 0 && row.targetPrompt != row.prompt)
                    item->setToolTip(tr("Targets drawn from \"%1\"").arg(row.targetPrompt));
                m_table->setItem(r, c, item);
            }
            // Rows of equal length: a missing image is left out of both grids.
            const qsizetype n = std::min(row.before.size(), row.after.size());
            columns = std::max(columns, static_cast<int>(n));
            plain.append(row.before.mid(0, n));
            adversarial.append(row.after.mid(0, n));
        }
        m_table->resizeColumnToContents(0);
        m_table->resizeColumnToContents(2);
        m_table->resizeColumnToContents(3);
        m_plainGrid->setCells(plain, columns, rowLabels(summary.rows));
        m_adversarialGrid->setCells(adversarial, columns, rowLabels(summary.rows));
        m_outcomeNote = tr("Finished in %1 s. The judge: %2.").arg(summary.seconds, 0, 'f', 1).arg(summary.judge);
        Q_EMIT statusMessage(tr("Attack finished: %1").arg(figuresText()));
    } else if (outcome == QStringLiteral("cancelled")) {
        m_progress->setFormat(tr("Attack cancelled"));
        m_outcomeNote = tr("The attack was cancelled; the run's results are as they were.");
        Q_EMIT statusMessage(tr("Attack cancelled"));
    } else {
        m_progress->setFormat(tr("Attack failed"));
        m_outcomeNote = tr("The attack failed: %1").arg(message);
        Q_EMIT statusMessage(tr("The attack failed: %1").arg(message.section(QLatin1Char('\n'), 0, 0)));
    }
    m_note->setText(m_outcomeNote);
    updateButtons();
}

void RobustnessPanel::clearResult()
{
    m_hasResult = false;
    m_outcomeNote.clear();
    m_result = AttackSummary();
    m_loss->clear();
    m_table->setRowCount(0);
    m_figures->setText(tr("No attack yet."));
    m_plainGrid->setCells({}, 1);
    m_adversarialGrid->setCells({}, 1);
    if (!m_attacking) {
        m_progress->setRange(0, 1);
        m_progress->setValue(0);
        m_progress->setFormat(QString());
    }
}

QString RobustnessPanel::figuresText() const
{
    if (!m_hasResult)
        return {};
    QString kind = m_result.kind;
    if (kind == QStringLiteral("unlearndiffatk"))
        kind = tr("UnlearnDiffAtk");
    else if (kind == QStringLiteral("soft-prompt"))
        kind = tr("soft prompt");
    else if (kind == QStringLiteral("class"))
        kind = tr("class attack");
    return tr("Pre-ASR %1 → Post-ASR %2 (%3, %4 × %5 seeds)")
        .arg(percent(m_result.preAsr), percent(m_result.postAsr), kind,
            m_mode == Mode::Concept
                ? (m_result.rows.size() == 1 ? tr("1 prompt") : tr("%1 prompts").arg(m_result.rows.size()))
                : tr("1 class"))
        .arg(m_result.seeds);
}

QString RobustnessPanel::percent(double share)
{
    return tr("%1 %").arg(100.0 * share, 0, 'f', 1);
}

} // namespace lethe::gui
