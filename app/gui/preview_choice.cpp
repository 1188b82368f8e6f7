#include "preview_choice.h"

#include <QFormLayout>
#include <QLineEdit>
#include <QListWidget>
#include <QSet>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

namespace lethe::gui {

namespace {

/// Prompts offered per set for the before/after grids.
constexpr int kPreviewChoices = 24;

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

PreviewChoice::PreviewChoice(QWidget* parent)
    : QGroupBox(tr("Before / after prompts"), parent)
{
    auto* choiceLayout = new QVBoxLayout(this);
    m_list = new QListWidget(this);
    m_list->setToolTip(tr("Checked prompts are drawn before and after, one column per seed"));
    m_list->setAccessibleName(tr("Prompts of the before/after grids"));
    m_seeds = new QLineEdit(QStringLiteral("0-1"), this);
    m_seeds->setToolTip(tr("Seeds of the columns, e.g. 0-3 or 1,5"));
    m_every = new QSpinBox(this);
    m_every->setRange(0, 1000000);
    m_every->setSpecialValueText(tr("only at the end"));
    m_every->setToolTip(tr("Draw the \"after\" grid every N steps during the run (0: only at the end)"));
    auto* seedsForm = new QFormLayout;
    seedsForm->addRow(tr("Seeds:"), m_seeds);
    seedsForm->addRow(tr("After every:"), m_every);
    choiceLayout->addWidget(m_list, 1);
    choiceLayout->addLayout(seedsForm);
    setMaximumWidth(240);
}

void PreviewChoice::refresh(
    const QList<ConceptPrompt>& forget, const QList<ConceptPrompt>& remainTrain, const QList<ConceptPrompt>& remainTest)
{
    QSet<QString> checked;
    for (int i = 0; i < m_list->count(); ++i)
        if (m_list->item(i)->checkState() == Qt::Checked)
            checked.insert(m_list->item(i)->data(Qt::UserRole + 1).toString() + QLatin1Char('\n')
                + m_list->item(i)->data(Qt::UserRole).toString());
    m_list->clear();
    const QList<QPair<QString, QList<ConceptPrompt>>> sets = { { QStringLiteral("forget"), forget },
        { QStringLiteral("remain"), remainTest.isEmpty() ? remainTrain : remainTest } };
    for (const auto& [set, list] : sets) {
        QSet<QString> seen;
        QList<QListWidgetItem*> items;
        bool anyChecked = false;
        for (const ConceptPrompt& p : list) {
            if (seen.contains(p.text))
                continue;
            seen.insert(p.text);
            auto* item = new QListWidgetItem(
                (set == QStringLiteral("forget") ? tr("forget: %1") : tr("remain: %1")).arg(p.text), m_list);
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

bool PreviewChoice::request(ConceptPreviewRequest& request, QStringList& labels, QString* error) const
{
    if (!parseSeeds(m_seeds->text(), request.seeds)) {
        if (error)
            *error = tr("The seeds '%1' are not a list like 0-3 or 1,5 (at most 65 in a range).").arg(m_seeds->text());
        return false;
    }
    for (int i = 0; i < m_list->count(); ++i) {
        const QListWidgetItem* item = m_list->item(i);
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

} // namespace lethe::gui
