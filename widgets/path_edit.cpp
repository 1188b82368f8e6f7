#include "path_edit.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>

namespace lethe::widgets {

PathEdit::PathEdit(Kind kind, const QString& title, const QString& filter, QWidget* parent)
    : QWidget(parent)
    , m_kind(kind)
    , m_title(title)
    , m_filter(filter)
    , m_edit(new QLineEdit(this))
    , m_browse(new QPushButton(tr("…"), this))
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_edit->setClearButtonEnabled(true);
    m_browse->setAccessibleName(title);
    m_browse->setToolTip(title);
    m_browse->setMaximumWidth(m_browse->fontMetrics().horizontalAdvance(QStringLiteral("……")) + 16);
    layout->addWidget(m_edit, 1);
    layout->addWidget(m_browse);
    setFocusProxy(m_edit);
    connect(m_edit, &QLineEdit::textChanged, this, [this] { Q_EMIT pathChanged(path()); });
    connect(m_browse, &QPushButton::clicked, this, &PathEdit::browse);
}

QString PathEdit::path() const
{
    return m_edit->text().trimmed();
}

void PathEdit::setPath(const QString& path)
{
    m_edit->setText(path);
}

void PathEdit::setPlaceholderText(const QString& text)
{
    m_edit->setPlaceholderText(text);
}

void PathEdit::browse()
{
    const QString chosen = m_kind == Kind::Folder
        ? QFileDialog::getExistingDirectory(this, m_title, path())
        : QFileDialog::getOpenFileName(this, m_title, QFileInfo(path()).absolutePath(), m_filter);
    if (!chosen.isEmpty())
        setPath(chosen);
}

} // namespace lethe::widgets
