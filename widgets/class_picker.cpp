#include "class_picker.h"

#include <QListWidget>
#include <QPixmap>
#include <QVBoxLayout>

namespace lethe::widgets {

namespace {
constexpr int kThumbnailSide = 48;
}

ClassPicker::ClassPicker(QWidget* parent)
    : QWidget(parent)
    , m_list(new QListWidget(this))
{
    m_list->setIconSize(QSize(kThumbnailSide, kThumbnailSide));
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_list->setAccessibleName(tr("Classes"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_list);
    connect(m_list, &QListWidget::currentRowChanged, this, &ClassPicker::currentClassChanged);
}

void ClassPicker::setClasses(const QList<ClassEntry>& classes)
{
    const QSignalBlocker blocker(m_list);
    m_list->clear();
    for (qsizetype i = 0; i < classes.size(); ++i) {
        const ClassEntry& entry = classes[i];
        // Nearest-neighbour scaling keeps the pixels of 28- or 32-pixel images honest.
        const QPixmap pixmap = QPixmap::fromImage(
            entry.thumbnail.scaled(kThumbnailSide, kThumbnailSide, Qt::KeepAspectRatio, Qt::FastTransformation));
        auto* item = new QListWidgetItem(
            QIcon(pixmap), tr("%1  %2 (%n images)", nullptr, int(entry.count)).arg(i).arg(entry.name));
        item->setData(Qt::UserRole, entry.name);
        m_list->addItem(item);
    }
}

int ClassPicker::classCount() const
{
    return m_list->count();
}

int ClassPicker::currentClass() const
{
    return m_list->currentRow();
}

void ClassPicker::setCurrentClass(int index)
{
    m_list->setCurrentRow(index);
}

QString ClassPicker::className(int index) const
{
    const QListWidgetItem* item = m_list->item(index);
    return item ? item->data(Qt::UserRole).toString() : QString();
}

} // namespace lethe::widgets
