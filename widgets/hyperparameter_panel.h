#pragma once

// The method and hyperparameters of an unlearning run, editable before it and (α, λ, lr) during it.
#include <QList>
#include <QMetaType>
#include <QPair>
#include <QString>
#include <QStringList>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLineEdit;
class QSpinBox;

namespace lethe::widgets {

/// The values the panel edits, as plain Qt values (the app converts them to and from core's configs). No defaults
/// are chosen here: the panel's values always come from a preset the app gives it (core's presets).
struct RunSettings {
    QString method;
    double alpha = 0.0;
    double lambda = 0.0;
    double lr = 0.0;
    qint64 steps = 0;
    qint64 forgetBatch = 0;
    qint64 remainPerClass = 0; ///< Class runs: remain images per kept class.
    qint64 remainBatch = 0;
    quint64 seed = 0;
    QString parameters; ///< Concept runs: the parameter group ("all", "cross-attn", "no-cross-attn").
    double eta = 0.0; ///< Concept runs: ESD's guidance η.
    double saliencyFraction = 0.0; ///< SalUn: the fraction of weight entries its saliency mask keeps.
    QString uceGuide; ///< Concept runs, UCE: what the concept words are mapped to (empty: the empty prompt).
    QString ucePreserve; ///< Concept runs, UCE: concepts whose mapping is kept, separated by commas.
    double uceRegularisation = 0.0; ///< Concept runs, UCE: the weight of ‖W − W_old‖².
    double uceEraseScale = 0.0; ///< Concept runs, UCE: the weight of the erased concepts' term.
    double ucePreserveScale = 0.0; ///< Concept runs, UCE: the preserved concepts' weight (0: automatic).
    /// The arithmetic of the steps' passes ("float32", "bfloat16", "float16"; empty: the panel offers none).
    QString precision;
    bool gradientCheckpointing = false; ///< Concept runs: recompute the UNet blocks' activations when going back.
    bool memoryEfficientAttention = false; ///< Concept runs: attention without a whole score tensor.

    bool operator==(const RunSettings& o) const
    {
        return method == o.method && alpha == o.alpha && lambda == o.lambda && lr == o.lr && steps == o.steps
            && forgetBatch == o.forgetBatch && remainPerClass == o.remainPerClass && remainBatch == o.remainBatch
            && seed == o.seed && parameters == o.parameters && eta == o.eta && saliencyFraction == o.saliencyFraction
            && uceGuide == o.uceGuide && ucePreserve == o.ucePreserve && uceRegularisation == o.uceRegularisation
            && uceEraseScale == o.uceEraseScale && ucePreserveScale == o.ucePreserveScale && precision == o.precision
            && gradientCheckpointing == o.gradientCheckpointing
            && memoryEfficientAttention == o.memoryEfficientAttention;
    }
};

/// A named set of values the preset box offers.
struct RunPreset {
    QString name;
    RunSettings settings;
};

/// Which kind of run the panel edits: the fields shown follow it (and the method).
enum class RunKind {
    Class, ///< A class of a class-conditional model: remain images per class; no parameter group, η or UCE.
    Concept, ///< A concept of a text-to-image model: parameter group, η and UCE; no remain images per class.
};

/// Preset, method, α, λ, learning rate, steps, batch sizes, remain images per class (class runs), parameter group,
/// η and UCE's settings (concept runs), SalUn's saliency fraction, the precision of the passes, gradient
/// checkpointing and memory-efficient attention (concept runs) and seed. A row shows only for the kind and method
/// that use it: η for ESD, the saliency fraction for SalUn, UCE's rows for UCE, which hides those of the training
/// loop (α, λ, lr, steps, batches, parameter group, precision and the memory settings). While a run is going only α, λ
/// and lr stay editable; each edit of those is sent as a live change when the field is committed (Enter, focus out or
/// the arrows), not on every keystroke.
class HyperparameterPanel : public QWidget {
    Q_OBJECT

public:
    explicit HyperparameterPanel(QWidget* parent = nullptr);

    /// Shows the fields `kind` uses and hides the others (Class at first).
    void setKind(RunKind kind);
    RunKind kind() const { return m_kind; }
    /// The presets offered, the first one applied.
    void setPresets(const QList<RunPreset>& presets);
    /// Selects the preset called `name` and applies its values; false (nothing changes) when there is none.
    bool applyPreset(const QString& name);
    /// Methods as (key, label) pairs, e.g. ("rgd", "RGD").
    void setMethods(const QList<QPair<QString, QString>>& methods);
    /// Parameter groups (concept runs) as (key, label) pairs, e.g. ("cross-attn", "Cross-attention only").
    void setParameterGroups(const QList<QPair<QString, QString>>& groups);
    /// Precisions of the passes as (key, label) pairs, e.g. ("bfloat16", "bfloat16 (autocast)").
    void setPrecisions(const QList<QPair<QString, QString>>& precisions);

    RunSettings settings() const;
    void setSettings(const RunSettings& settings);
    /// Locks everything but α, λ and lr (a run is going) or unlocks it.
    void setRunning(bool running);
    bool isRunning() const;
    /// True when the field `box` belongs to is shown for the current kind and method.
    bool isFieldShown(const QWidget* box) const;

    QComboBox* presetBox() const { return m_preset; }
    QComboBox* methodBox() const { return m_method; }
    QComboBox* parameterBox() const { return m_parameters; }
    QComboBox* precisionBox() const { return m_precision; }
    QCheckBox* gradientCheckpointingBox() const { return m_gradientCheckpointing; }
    QCheckBox* memoryEfficientAttentionBox() const { return m_memoryEfficientAttention; }
    QDoubleSpinBox* alphaBox() const { return m_alpha; }
    QDoubleSpinBox* lambdaBox() const { return m_lambda; }
    QDoubleSpinBox* lrBox() const { return m_lr; }
    QDoubleSpinBox* etaBox() const { return m_eta; }
    QDoubleSpinBox* saliencyFractionBox() const { return m_saliencyFraction; }
    QLineEdit* uceGuideEdit() const { return m_uceGuide; }
    QLineEdit* ucePreserveEdit() const { return m_ucePreserve; }
    QDoubleSpinBox* uceRegularisationBox() const { return m_uceRegularisation; }
    QDoubleSpinBox* uceEraseScaleBox() const { return m_uceEraseScale; }
    QDoubleSpinBox* ucePreserveScaleBox() const { return m_ucePreserveScale; }
    QSpinBox* stepsBox() const { return m_steps; }
    QSpinBox* forgetBatchBox() const { return m_forgetBatch; }
    QSpinBox* remainPerClassBox() const { return m_remainPerClass; }
    QSpinBox* remainBatchBox() const { return m_remainBatch; }
    QSpinBox* seedBox() const { return m_seed; }

Q_SIGNALS:
    /// Any value changed (not emitted while setSettings applies values).
    void settingsChanged(const lethe::widgets::RunSettings& settings);
    /// During a run: α ("alpha"), λ ("lambda") or lr ("lr") was committed with a new value.
    void liveChange(const QString& name, double value);

private:
    void commitLive(const QString& name, QDoubleSpinBox* box, double& last);
    void emitChanged();
    /// Shows the rows the kind and the chosen method use.
    void showRows();

    QFormLayout* m_form = nullptr;
    QComboBox* m_preset = nullptr;
    QComboBox* m_method = nullptr;
    QComboBox* m_parameters = nullptr;
    QDoubleSpinBox* m_alpha = nullptr;
    QDoubleSpinBox* m_lambda = nullptr;
    QDoubleSpinBox* m_lr = nullptr;
    QDoubleSpinBox* m_eta = nullptr;
    QDoubleSpinBox* m_saliencyFraction = nullptr;
    QLineEdit* m_uceGuide = nullptr;
    QLineEdit* m_ucePreserve = nullptr;
    QDoubleSpinBox* m_uceRegularisation = nullptr;
    QDoubleSpinBox* m_uceEraseScale = nullptr;
    QDoubleSpinBox* m_ucePreserveScale = nullptr;
    QSpinBox* m_steps = nullptr;
    QSpinBox* m_forgetBatch = nullptr;
    QSpinBox* m_remainPerClass = nullptr;
    QSpinBox* m_remainBatch = nullptr;
    QComboBox* m_precision = nullptr;
    QCheckBox* m_gradientCheckpointing = nullptr;
    QCheckBox* m_memoryEfficientAttention = nullptr;
    QSpinBox* m_seed = nullptr;
    QList<RunPreset> m_presets;
    RunKind m_kind = RunKind::Class;
    bool m_running = false;
    bool m_applying = false;
    double m_lastAlpha = 0.0;
    double m_lastLambda = 0.0;
    double m_lastLr = 0.0;
};

} // namespace lethe::widgets

Q_DECLARE_METATYPE(lethe::widgets::RunSettings)
