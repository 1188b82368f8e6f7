#pragma once

// The method and hyperparameters of an unlearning run, editable before it and (α, λ, lr) during it.
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QSpinBox;
class QFormLayout;

namespace lethe::widgets {

/// The values the panel edits, as plain Qt values (the app converts them to core's RunConfig).
struct RunSettings {
    QString method = QStringLiteral("rgd");
    double alpha = 0.1;
    double lambda = 5.0;
    double lr = 1e-4;
    qint64 steps = 200;
    qint64 forgetBatch = 32;
    qint64 remainPerClass = 50;
    qint64 remainBatch = 32;
    quint64 seed = 0;

    bool operator==(const RunSettings& o) const
    {
        return method == o.method && alpha == o.alpha && lambda == o.lambda && lr == o.lr && steps == o.steps
            && forgetBatch == o.forgetBatch && remainPerClass == o.remainPerClass && remainBatch == o.remainBatch
            && seed == o.seed;
    }
};

/// A named set of defaults the preset box offers.
struct RunPreset {
    QString name;
    RunSettings settings;
};

/// Preset, method, α, λ, learning rate, steps, batch sizes, remain images per class and seed. While a run
/// is going only α, λ and lr stay editable; each edit of those is sent as a live change when the field is
/// committed (Enter, focus out or the arrows), not on every keystroke.
class HyperparameterPanel : public QWidget {
    Q_OBJECT

public:
    explicit HyperparameterPanel(QWidget* parent = nullptr);

    /// The presets offered, the first one applied.
    void setPresets(const QList<RunPreset>& presets);
    /// Methods as (key, label) pairs, e.g. ("rgd", "RGD").
    void setMethods(const QList<QPair<QString, QString>>& methods);

    RunSettings settings() const;
    void setSettings(const RunSettings& settings);
    /// Locks everything but α, λ and lr (a run is going) or unlocks it.
    void setRunning(bool running);
    bool isRunning() const;

    QDoubleSpinBox* alphaBox() const { return m_alpha; }
    QDoubleSpinBox* lambdaBox() const { return m_lambda; }
    QDoubleSpinBox* lrBox() const { return m_lr; }
    QComboBox* methodBox() const { return m_method; }
    QComboBox* presetBox() const { return m_preset; }

Q_SIGNALS:
    /// Any value changed (not emitted while setSettings applies values).
    void settingsChanged(const lethe::widgets::RunSettings& settings);
    /// During a run: α ("alpha"), λ ("lambda") or lr ("lr") was committed with a new value.
    void liveChange(const QString& name, double value);

private:
    void commitLive(const QString& name, QDoubleSpinBox* box, double& last);
    void emitChanged();

    QComboBox* m_preset = nullptr;
    QComboBox* m_method = nullptr;
    QDoubleSpinBox* m_alpha = nullptr;
    QDoubleSpinBox* m_lambda = nullptr;
    QDoubleSpinBox* m_lr = nullptr;
    QSpinBox* m_steps = nullptr;
    QSpinBox* m_forgetBatch = nullptr;
    QSpinBox* m_remainPerClass = nullptr;
    QSpinBox* m_remainBatch = nullptr;
    QSpinBox* m_seed = nullptr;
    QList<RunPreset> m_presets;
    bool m_running = false;
    bool m_applying = false;
    double m_lastAlpha = 0.0;
    double m_lastLambda = 0.0;
    double m_lastLr = 0.0;
};

} // namespace lethe::widgets

Q_DECLARE_METATYPE(lethe::widgets::RunSettings)
