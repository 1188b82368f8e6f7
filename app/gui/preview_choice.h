#pragma once

// The Concept tab's choice of before/after previews: which prompts of the forget and remain sets are drawn, with
// which seeds (one column each), and how often during a run.
#include "concept_prompt.h"
#include "concept_worker.h"

#include <QGroupBox>
#include <QList>
#include <QStringList>

class QLineEdit;
class QListWidget;
class QSpinBox;

namespace lethe::gui {

class PreviewChoice : public QGroupBox {
    Q_OBJECT

public:
    explicit PreviewChoice(QWidget* parent = nullptr);

    /// Lists the distinct prompts of the forget set and of the held-out remain set (else the training one).
    /// Prompts checked before stay checked; in a set none of whose listed prompts is checked, the first two are.
    void refresh(const QList<ConceptPrompt>& forget, const QList<ConceptPrompt>& remainTrain,
        const QList<ConceptPrompt>& remainTest);
    /// The checked prompts with the seeds, and a short row label per prompt; false (with `error`) when the seeds
    /// are not a list like 0-3 or 1,5.
    bool request(ConceptPreviewRequest& request, QStringList& labels, QString* error) const;

    QListWidget* list() const { return m_list; }
    QLineEdit* seedsEdit() const { return m_seeds; }
    QSpinBox* everyBox() const { return m_every; }

private:
    QListWidget* m_list = nullptr;
    QLineEdit* m_seeds = nullptr;
    QSpinBox* m_every = nullptr;
};

} // namespace lethe::gui
