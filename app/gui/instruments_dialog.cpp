#include "instruments_dialog.h"

#include "widgets/path_edit.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>

namespace lethe::gui {

InstrumentsDialog::InstrumentsDialog(const InstrumentPaths& paths, QWidget* parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Measuring instruments"));
    auto* layout = new QVBoxLayout(this);
    auto* intro = new QLabel(tr("Besides Lethe's classifier, the measures can use the instruments published results "
                                "are measured with, on the same images. Each is optional; the user guide says where "
                                "the weights come from."),
        this);
    intro->setWordWrap(true);
    layout->addWidget(intro);

    auto* form = new QFormLayout;
    const QString optional = tr("optional");
    m_clip = new widgets::PathEdit(widgets::PathEdit::Kind::Folder, tr("Choose a CLIP model folder"), {}, this);
    m_clip->setPlaceholderText(optional);
    m_clip->setToolTip(tr("A CLIP model folder (Hugging Face layout: config.json, model.safetensors, the tokenizer "
                          "files), e.g. openai/clip-vit-base-patch32: UA and RA by zero-shot CLIP, as the RGD paper "
                          "measures them"));
    m_inception = new widgets::PathEdit(widgets::PathEdit::Kind::File, tr("Choose FID's Inception-v3 detector"),
        tr("Safetensors files (*.safetensors)"), this);
    m_inception->setPlaceholderText(optional);
    m_inception->setToolTip(tr("FID's Inception-v3 detector (from scripts/inception_to_safetensors.py): FID of the "
                               "remaining classes and of the forgotten class; needs the reference statistics"));
    m_fidReference = new widgets::PathEdit(
        widgets::PathEdit::Kind::File, tr("Choose FID's reference statistics"), tr("NumPy archives (*.npz)"), this);
    m_fidReference->setPlaceholderText(optional);
    m_fidReference->setToolTip(
        tr("The real images' statistics FID compares with (mu and sigma: EDM's fid-refs, or lethe-cli fid-ref)"));
    m_fidResize = new QComboBox(this);
    m_fidResize->addItem(tr("edm (EDM's fid.py)"), QStringLiteral("edm"));
    m_fidResize->addItem(tr("pytorch-fid"), QStringLiteral("pytorch-fid"));
    m_fidResize->setToolTip(tr("How images reach Inception's 299×299 input"));
    form->addRow(tr("&CLIP model folder:"), m_clip);
    form->addRow(tr("&Inception detector:"), m_inception);
    form->addRow(tr("FID &reference statistics:"), m_fidReference);
    form->addRow(tr("FID re&size:"), m_fidResize);
    layout->addLayout(form);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);

    m_clip->setPath(paths.clip);
    m_inception->setPath(paths.inception);
    m_fidReference->setPath(paths.fidReference);
    m_fidResize->setCurrentIndex(std::max(0, m_fidResize->findData(paths.fidResize)));
    resize(std::max(width(), 620), height());
}

InstrumentPaths InstrumentsDialog::paths() const
{
    InstrumentPaths paths;
    paths.clip = m_clip->path();
    paths.inception = m_inception->path();
    paths.fidReference = m_fidReference->path();
    paths.fidResize = m_fidResize->currentData().toString();
    return paths;
}

} // namespace lethe::gui
