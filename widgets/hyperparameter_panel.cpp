#include "hyperparameter_panel.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QSpinBox>

#include <limits>

namespace lethe::widgets {

namespace {

QDoubleSpinBox* doubleBox(QWidget* parent, double min, double max, int decimals, double step)
{
    auto* box = new QDoubleSpinBox(parent);
    box->setRange(min, max);
    box->setDecimals(decimals);
    box->setSingleStep(step);
    box->setKeyboardTracking(false); // valueChanged only when a value is committed.
    return box;
}

QSpinBox* intBox(QWidget* parent, int min, int max)
{
    auto* box = new QSpinBox(parent);
    box->setRange(min, max);
    box->setKeyboardTracking(false);
    return box;
}

} // namespace

HyperparameterPanel::HyperparameterPanel(QWidget* parent)
    : QWidget(parent)
    , m_preset(new QComboBox(this))
    , m_method(new QComboBox(this))
    , m_alpha(doubleBox(this, 0.0001, 1e6, 4, 0.01))
    , m_lambda(doubleBox(this, 0.0, 1e4, 3, 0.5))
    , m_lr(doubleBox(this, 1e-8, 1.0, 8, 1e-5))
    , m_steps(intBox(this, 1, 1000000))
    , m_forgetBatch(intBox(this, 1, 4096))
    , m_remainPerClass(intBox(this, 1, 100000))
    , m_remainBatch(intBox(this, 1, 4096))
    , m_seed(intBox(this, 0, std::numeric_limits<int>::max()))
{
    auto* form = new QFormLayout(this);
    form->addRow(tr("&Preset:"), m_preset);
    form->addRow(tr("&Method:"), m_method);
    form->addRow(tr("&α (forget-loss truncation):"), m_alpha);
    form->addRow(tr("&λ (remain weight):"), m_lambda);
    form->addRow(tr("&Learning rate:"), m_lr);
    form->addRow(tr("&Steps:"), m_steps);
    form->addRow(tr("&Forget batch:"), m_forgetBatch);
    form->addRow(tr("&Remain images per class:"), m_remainPerClass);
    form->addRow(tr("Remain &batch:"), m_remainBatch);
    form->addRow(tr("S&eed:"), m_seed);
    m_alpha->setToolTip(tr("Per-element truncation of the forget loss: elements above α give no gradient."));
    m_lambda->setToolTip(tr("Weight of the remain (descent) direction relative to the forget (ascent) direction."));
    m_lr->setToolTip(tr("Adam learning rate, constant."));
    m_remainPerClass->setToolTip(tr("Size of the diverse remain set: images of each class that is kept."));

    connect(m_preset, &QComboBox::activated, this, [this](int index) {
        if (index >= 0 && index < m_presets.size())
            setSettings(m_presets[index].settings);
        emitChanged();
    });
    connect(m_method, &QComboBox::currentIndexChanged, this, &HyperparameterPanel::emitChanged);
    for (QSpinBox* box : { m_steps, m_forgetBatch, m_remainPerClass, m_remainBatch, m_seed })
        connect(box, &QSpinBox::valueChanged, this, &HyperparameterPanel::emitChanged);
    connect(m_alpha, &QDoubleSpinBox::valueChanged, this,
        [this] { commitLive(QStringLiteral("alpha"), m_alpha, m_lastAlpha); });
    connect(m_lambda, &QDoubleSpinBox::valueChanged, this,
        [this] { commitLive(QStringLiteral("lambda"), m_lambda, m_lastLambda); });
    connect(m_lr, &QDoubleSpinBox::valueChanged, this, [this] { commitLive(QStringLiteral("lr"), m_lr, m_lastLr); });
    setSettings(RunSettings {});
}

void HyperparameterPanel::setPresets(const QList<RunPreset>& presets)
{
    m_presets = presets;
    const QSignalBlocker blocker(m_preset);
    m_preset->clear();
    for (const RunPreset& p : presets)
        m_preset->addItem(p.name);
    if (!presets.isEmpty())
        setSettings(presets.front().settings);
}

void HyperparameterPanel::setMethods(const QList<QPair<QString, QString>>& methods)
{
    const QString current = m_method->currentData().toString();
    const QSignalBlocker blocker(m_method);
    m_method->clear();
    for (const auto& [key, label] : methods)
        m_method->addItem(label, key);
    const int index = m_method->findData(current);
    m_method->setCurrentIndex(index >= 0 ? index : 0);
}

RunSettings HyperparameterPanel::settings() const
{
    RunSettings s;
    s.method = m_method->currentData().toString();
    if (s.method.isEmpty())
        s.method = RunSettings {}.method;
    s.alpha = m_alpha->value();
    s.lambda = m_lambda->value();
    s.lr = m_lr->value();
    s.steps = m_steps->value();
    s.forgetBatch = m_forgetBatch->value();
    s.remainPerClass = m_remainPerClass->value();
    s.remainBatch = m_remainBatch->value();
    s.seed = static_cast<quint64>(m_seed->value());
    return s;
}

void HyperparameterPanel::setSettings(const RunSettings& s)
{
    m_applying = true;
    const int method = m_method->findData(s.method);
    if (method >= 0)
        m_method->setCurrentIndex(method);
    m_alpha->setValue(s.alpha);
    m_lambda->setValue(s.lambda);
    m_lr->setValue(s.lr);
    m_steps->setValue(static_cast<int>(s.steps));
    m_forgetBatch->setValue(static_cast<int>(s.forgetBatch));
    m_remainPerClass->setValue(static_cast<int>(s.remainPerClass));
    m_remainBatch->setValue(static_cast<int>(s.remainBatch));
    m_seed->setValue(static_cast<int>(s.seed));
    m_lastAlpha = m_alpha->value();
    m_lastLambda = m_lambda->value();
    m_lastLr = m_lr->value();
    m_applying = false;
}

void HyperparameterPanel::setRunning(bool running)
{
    m_running = running;
    for (QWidget* w : std::initializer_list<QWidget*> {
             m_preset, m_method, m_steps, m_forgetBatch, m_remainPerClass, m_remainBatch, m_seed })
        w->setEnabled(!running);
    m_lastAlpha = m_alpha->value();
    m_lastLambda = m_lambda->value();
    m_lastLr = m_lr->value();
}

bool HyperparameterPanel::isRunning() const
{
    return m_running;
}

void HyperparameterPanel::commitLive(const QString& name, QDoubleSpinBox* box, double& last)
{
    if (m_applying)
        return;
    if (m_running && box->value() != last)
        Q_EMIT liveChange(name, box->value());
    last = box->value();
    emitChanged();
}

void HyperparameterPanel::emitChanged()
{
    if (!m_applying)
        Q_EMIT settingsChanged(settings());
}

} // namespace lethe::widgets
