#pragma once

// One prompt of a concept run's prompt sets, as the Concept tab edits it and its worker draws it.
#include <QMetaType>
#include <QString>

namespace lethe::gui {

/// The text, its seed (-1 = none) and its case label (may be empty).
struct ConceptPrompt {
    QString text;
    qint64 seed = -1;
    QString caseLabel;

    bool operator==(const ConceptPrompt& o) const
    {
        return text == o.text && seed == o.seed && caseLabel == o.caseLabel;
    }
};

} // namespace lethe::gui
