#include "hyperparameter_panel.h"

#include <QCheckBox>
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

/// Adds `field` to `form` in a row labelled `label` (its buddy) and returns it.
template <typename Field> Field* addRow(QFormLayout* form, const QString& label, Field* field)
{
    form->addRow(label, field);
    return field;
}

void fillChoices(QComboBox* box, const QList<QPair<QString, QString>>& choices)
{
    const QString current = box->currentData().toString();
    const QSignalBlocker blocker(box);
    box->clear();
    for (const auto& [key, label] : choices)
        box->addItem(label, key);
    const int index = box->findData(current);
    box->setCurrentIndex(index >= 0 ? index : 0);
}

} // namespace

HyperparameterPanel::HyperparameterPanel(QWidget* parent)
    : QWidget(parent)
    , m_form(new QFormLayout(this))
    , m_preset(addRow(m_form, tr("&Preset:"), new QComboBox(this)))
    , m_method(addRow(m_form, tr("&Method:"), new QComboBox(this)))
    , m_parameters(addRow(m_form, tr("Parame&ters:"), new QComboBox(this)))
    , m_alpha(addRow(m_form, tr("&α (forget-loss truncation):"), doubleBox(this, 0.0001, 1e6, 4, 0.01)))
    , m_lambda(addRow(m_form, tr("&λ (remain weight):"), doubleBox(this, 0.0, 1e4, 3, 0.5)))
    , m_lr(addRow(m_form, tr("&Learning rate:"), doubleBox(this, 1e-8, 1.0, 8, 1e-5)))
    , m_eta(addRow(m_form, tr("&η (ESD guidance):"), doubleBox(this, -1000.0, 1000.0, 2, 0.5)))
    , m_saliencyFraction(addRow(m_form, tr("Salienc&y fraction:"), doubleBox(this, 0.001, 1.0, 3, 0.05)))
    , m_uceGuide(addRow(m_form, tr("Gui&de:"), new QLineEdit(this)))
    , m_ucePreserve(addRow(m_form, tr("Preser&ved concepts:"), new QLineEdit(this)))
    , m_uceRegularisation(addRow(m_form, tr("Regular&isation:"), doubleBox(this, 0.0, 1e6, 4, 0.05)))
    , m_uceEraseScale(addRow(m_form, tr("Erase s&cale:"), doubleBox(this, 0.001, 1e4, 3, 0.1)))
    , m_ucePreserveScale(addRow(m_form, tr("Preserve sc&ale:"), doubleBox(this, 0.0, 1e4, 3, 0.1)))
    , m_steps(addRow(m_form, tr("&Steps:"), intBox(this, 1, 1000000)))
    , m_forgetBatch(addRow(m_form, tr("&Forget batch:"), intBox(this, 1, 4096)))
    , m_remainPerClass(addRow(m_form, tr("&Remain images per class:"), intBox(this, 1, 100000)))
    , m_remainBatch(addRow(m_form, tr("Remain &batch:"), intBox(this, 1, 4096)))
    , m_precision(addRow(m_form, tr("Precisio&n:"), new QComboBox(this)))
    // The check boxes carry their own text (and mnemonic) in the field column: no label is made for an empty one.
    , m_gradientCheckpointing(addRow(m_form, QString(), new QCheckBox(tr("Gradient chec&kpointing"), this)))
    , m_memoryEfficientAttention(addRow(m_form, QString(), new QCheckBox(tr("Mem&ory-efficient attention"), this)))
    , m_seed(addRow(m_form, tr("S&eed:"), intBox(this, 0, std::numeric_limits<int>::max())))
{
    m_lambda->setToolTip(tr("Weight of the remain (descent) direction relative to the forget (ascent) direction."));
    m_lr->setToolTip(tr("Adam learning rate, constant."));
    m_remainPerClass->setToolTip(tr("Size of the diverse remain set: images of each class that is kept."));
    m_parameters->setToolTip(tr("The UNet parameters the run changes"));
    m_eta->setToolTip(tr("ESD: how far the target moves away from the concept (negative guidance)"));
    m_saliencyFraction->setToolTip(
        tr("SalUn: the fraction of the weights' entries its saliency mask lets change (those with the largest "
           "forget-loss gradient)"));
    m_precision->setToolTip(
        tr("The arithmetic of the steps' passes: bfloat16 and float16 compute matrix products and convolutions in "
           "16 bits (faster where the hardware has 16-bit units); autocast keeps copies in both types, so "
           "activations take more memory, not less; the weights, their gradients and Adam's state stay float32. "
           "float16 needs CUDA."));
    m_gradientCheckpointing->setToolTip(
        tr("Recompute the UNet blocks' activations in the backward pass instead of keeping them: far less memory "
           "for activations, for about one more forward pass of time per step"));
    m_memoryEfficientAttention->setToolTip(
        tr("Attention that never holds a whole score tensor (heads × queries × keys): much less memory at large "
           "images, the same result up to rounding"));
    m_uceGuide->setPlaceholderText(tr("empty prompt"));
    m_uceGuide->setToolTip(tr("UCE: what the concept words are mapped to; empty: the empty prompt, as UCE's authors "
                              "erase"));
    m_ucePreserve->setPlaceholderText(tr("concepts separated by commas"));
    m_ucePreserve->setToolTip(
        tr("UCE: concepts whose cross-attention keys and values stay as they were, e.g. the other garments; empty: "
           "the concept dimension's other training values when the prompt sets were built from a preset"));
    m_uceRegularisation->setToolTip(tr("UCE: the weight λ of ‖W − W_old‖², which keeps the edit near the original "
                                       "projections (the authors' 0.1)"));
    m_uceEraseScale->setToolTip(tr("UCE: the weight of the erased concepts' term (the authors' 1)"));
    m_ucePreserveScale->setSpecialValueText(tr("auto"));
    m_ucePreserveScale->setToolTip(
        tr("UCE: the weight of the preserved concepts' term; auto: the authors' max(0.1, 1 / preserved concepts)"));

    connect(m_preset, &QComboBox::activated, this, [this](int index) {
        if (index >= 0 && index < m_presets.size())
            setSettings(m_presets[index].settings);
        emitChanged();
    });
    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        showRows();
        emitChanged();
    });
    connect(m_parameters, &QComboBox::currentIndexChanged, this, &HyperparameterPanel::emitChanged);
    connect(m_precision, &QComboBox::currentIndexChanged, this, &HyperparameterPanel::emitChanged);
    for (QCheckBox* box : { m_gradientCheckpointing, m_memoryEfficientAttention })
        connect(box, &QCheckBox::toggled, this, &HyperparameterPanel::emitChanged);
    for (QDoubleSpinBox* box : { m_eta, m_saliencyFraction, m_uceRegularisation, m_uceEraseScale, m_ucePreserveScale })
        connect(box, &QDoubleSpinBox::valueChanged, this, &HyperparameterPanel::emitChanged);
    for (QLineEdit* edit : { m_uceGuide, m_ucePreserve })
        connect(edit, &QLineEdit::editingFinished, this, &HyperparameterPanel::emitChanged);
    for (QSpinBox* box : { m_steps, m_forgetBatch, m_remainPerClass, m_remainBatch, m_seed })
        connect(box, &QSpinBox::valueChanged, this, &HyperparameterPanel::emitChanged);
    connect(m_alpha, &QDoubleSpinBox::valueChanged, this,
        [this] { commitLive(QStringLiteral("alpha"), m_alpha, m_lastAlpha); });
    connect(m_lambda, &QDoubleSpinBox::valueChanged, this,
        [this] { commitLive(QStringLiteral("lambda"), m_lambda, m_lastLambda); });
    connect(m_lr, &QDoubleSpinBox::valueChanged, this, [this] { commitLive(QStringLiteral("lr"), m_lr, m_lastLr); });
    setKind(RunKind::Class);
}

void HyperparameterPanel::setKind(RunKind kind)
{
    m_kind = kind;
    m_alpha->setToolTip(kind == RunKind::Concept
            ? tr("Forget-loss truncation: a step whose L_f exceeds α descends on the remain set only")
            : tr("Per-element truncation of the forget loss: elements above α give no gradient."));
    showRows();
}

void HyperparameterPanel::showRows()
{
    const bool isConcept = m_kind == RunKind::Concept;
    const QString method = m_method->currentData().toString();
    // UCE is one closed-form edit: none of the training loop's settings apply to it.
    const bool trains = !(isConcept && method == QStringLiteral("uce"));
    for (QWidget* field :
        std::initializer_list<QWidget*> { m_alpha, m_lambda, m_lr, m_steps, m_forgetBatch, m_remainBatch })
        m_form->setRowVisible(field, trains);
    m_form->setRowVisible(m_parameters, isConcept && trains);
    m_form->setRowVisible(m_precision, trains);
    // Checkpointing and memory-efficient attention act on the text-to-image UNet that concept runs train.
    for (QWidget* field : std::initializer_list<QWidget*> { m_gradientCheckpointing, m_memoryEfficientAttention })
        m_form->setRowVisible(field, isConcept && trains);
    m_form->setRowVisible(m_eta, isConcept && method == QStringLiteral("esd"));
    m_form->setRowVisible(m_remainPerClass, !isConcept);
    m_form->setRowVisible(m_saliencyFraction, method == QStringLiteral("salun"));
    for (QWidget* field : std::initializer_list<QWidget*> {
             m_uceGuide, m_ucePreserve, m_uceRegularisation, m_uceEraseScale, m_ucePreserveScale })
        m_form->setRowVisible(field, !trains);
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

bool HyperparameterPanel::applyPreset(const QString& name)
{
    for (qsizetype i = 0; i < m_presets.size(); ++i) {
        if (m_presets[i].name != name)
            continue;
        {
            const QSignalBlocker blocker(m_preset);
            m_preset->setCurrentIndex(static_cast<int>(i));
        }
        setSettings(m_presets[i].settings);
        emitChanged();
        return true;
    }
    return false;
}

void HyperparameterPanel::setMethods(const QList<QPair<QString, QString>>& methods)
{
    fillChoices(m_method, methods);
    showRows();
}

void HyperparameterPanel::setParameterGroups(const QList<QPair<QString, QString>>& groups)
{
    fillChoices(m_parameters, groups);
}

void HyperparameterPanel::setPrecisions(const QList<QPair<QString, QString>>& precisions)
{
    fillChoices(m_precision, precisions);
}

RunSettings HyperparameterPanel::settings() const
{
    RunSettings s;
    s.method = m_method->currentData().toString();
    s.alpha = m_alpha->value();
    s.lambda = m_lambda->value();
    s.lr = m_lr->value();
    s.steps = m_steps->value();
    s.forgetBatch = m_forgetBatch->value();
    s.remainPerClass = m_remainPerClass->value();
    s.remainBatch = m_remainBatch->value();
    s.seed = static_cast<quint64>(m_seed->value());
    s.parameters = m_parameters->currentData().toString();
    s.eta = m_eta->value();
    s.saliencyFraction = m_saliencyFraction->value();
    s.uceGuide = m_uceGuide->text().trimmed();
    s.ucePreserve = m_ucePreserve->text().trimmed();
    s.uceRegularisation = m_uceRegularisation->value();
    s.uceEraseScale = m_uceEraseScale->value();
    s.ucePreserveScale = m_ucePreserveScale->value();
    s.precision = m_precision->currentData().toString();
    s.gradientCheckpointing = m_gradientCheckpointing->isChecked();
    s.memoryEfficientAttention = m_memoryEfficientAttention->isChecked();
    return s;
}

void HyperparameterPanel::setSettings(const RunSettings& s)
{
    m_applying = true;
    const int method = m_method->findData(s.method);
    if (method >= 0)
        m_method->setCurrentIndex(method);
    const int group = m_parameters->findData(s.parameters);
    if (group >= 0)
        m_parameters->setCurrentIndex(group);
    const int precision = m_precision->findData(s.precision);
    if (precision >= 0)
        m_precision->setCurrentIndex(precision);
    m_gradientCheckpointing->setChecked(s.gradientCheckpointing);
    m_memoryEfficientAttention->setChecked(s.memoryEfficientAttention);
    m_alpha->setValue(s.alpha);
    m_lambda->setValue(s.lambda);
    m_lr->setValue(s.lr);
    m_eta->setValue(s.eta);
    m_saliencyFraction->setValue(s.saliencyFraction);
    m_uceGuide->setText(s.uceGuide);
    m_ucePreserve->setText(s.ucePreserve);
    m_ucePreserve->setCursorPosition(0); // A long list shows its start.
    m_uceRegularisation->setValue(s.uceRegularisation);
    m_uceEraseScale->setValue(s.uceEraseScale);
    m_ucePreserveScale->setValue(s.ucePreserveScale);
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
    for (QWidget* w :
        std::initializer_list<QWidget*> { m_preset, m_method, m_parameters, m_eta, m_saliencyFraction, m_uceGuide,
            m_ucePreserve, m_uceRegularisation, m_uceEraseScale, m_ucePreserveScale, m_steps, m_forgetBatch,
            m_remainPerClass, m_remainBatch, m_precision, m_gradientCheckpointing, m_memoryEfficientAttention, m_seed })
        w->setEnabled(!running);
    m_lastAlpha = m_alpha->value();
    m_lastLambda = m_lambda->value();
    m_lastLr = m_lr->value();
}

bool HyperparameterPanel::isRunning() const
{
    return m_running;
}

bool HyperparameterPanel::isFieldShown(const QWidget* box) const
{
    return m_form->isRowVisible(const_cast<QWidget*>(box));
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
