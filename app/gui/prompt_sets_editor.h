#pragma once

// The Concept tab's prompt page: the forget and remain prompt sets as tables (typed, loaded from JSON or CSV,
// saved), and the diversity builder that makes D_f, D_r,train and D_r,test from a preset's dimensions and
// templates.
#include "concept_prompt.h"

#include <QList>
#include <QString>
#include <QStringList>
#include <QWidget>

class QLabel;
class QLineEdit;
class QSpinBox;
class QTableWidget;
class QTabWidget;

namespace lethe::gui {

class PromptSetsEditor : public QWidget {
    Q_OBJECT

public:
    /// The prompt sets the editor holds.
    enum class PromptSet { Forget = 0, RemainTrain = 1, RemainTest = 2 };

    explicit PromptSetsEditor(QWidget* parent = nullptr);

    /// Reads a JSON or CSV prompt file into a set; on an error the set keeps what it had and failed() says why.
    bool loadPromptFile(PromptSet set, const QString& path);
    /// Writes a set as a JSON prompt list; false (after failed()) when it cannot.
    bool savePromptFile(PromptSet set, const QString& path);
    /// Reads a diversity preset into the builder's fields (nothing else changes); false after failed() on an error.
    bool loadPreset(const QString& path);
    /// Builds D_f, D_r,train and D_r,test from the builder's fields into the three sets.
    bool buildPrompts();

    /// The prompts of a set as the tables hold them (blank rows skipped); `error` says what is wrong, if anything.
    QList<ConceptPrompt> prompts(PromptSet set, QString* error = nullptr) const;
    void setPrompts(PromptSet set, const QList<ConceptPrompt>& prompts);
    /// The builder's concept words, as typed ("sneaker", "shoe, boot"; several concepts separated by commas).
    QString conceptWords() const;
    /// The concept dimension's training values that are not concept words, as the last Build had them
    /// (concepts::otherConceptValues: what UCE preserves by default), while D_f and D_r,train are still the ones it
    /// built; empty when they were loaded or set since, or when the build named no concept dimension.
    QStringList otherConceptValues() const { return m_otherConceptValues; }

    QTableWidget* table(PromptSet set) const;
    QTableWidget* dimensionsTable() const { return m_dimensions; }
    QLineEdit* remainTemplateEdit() const { return m_remainTemplate; }
    QLineEdit* conceptWordsEdit() const { return m_conceptWords; }
    QLineEdit* conceptDimensionEdit() const { return m_conceptDimension; }
    QSpinBox* forgetCountBox() const { return m_forgetCount; }
    QSpinBox* remainTrainCountBox() const { return m_remainTrainCount; }
    QSpinBox* remainTestCountBox() const { return m_remainTestCount; }
    QLabel* buildResultLabel() const { return m_buildResult; }

Q_SIGNALS:
    /// A set's prompts changed (typed, removed, loaded or built).
    void promptsChanged();
    void statusMessage(const QString& text);
    /// Something the user asked for failed: `message` says what and why.
    void failed(const QString& title, const QString& message);

private:
    QWidget* buildSets();
    QWidget* buildBuilder();
    void updateSetCounts();

    QTabWidget* m_setTabs = nullptr;
    QTableWidget* m_tables[3] = { nullptr, nullptr, nullptr };
    QTableWidget* m_dimensions = nullptr;
    QLabel* m_presetLabel = nullptr;
    QLineEdit* m_remainTemplate = nullptr;
    QLineEdit* m_forgetTemplate = nullptr;
    QLineEdit* m_conceptWords = nullptr;
    QLineEdit* m_conceptDimension = nullptr;
    QSpinBox* m_forgetCount = nullptr;
    QSpinBox* m_remainTrainCount = nullptr;
    QSpinBox* m_remainTestCount = nullptr;
    QSpinBox* m_builderSeed = nullptr;
    QLabel* m_buildResult = nullptr;
    QStringList m_otherConceptValues;
};

} // namespace lethe::gui
