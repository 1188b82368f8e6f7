#pragma once

#include <QImage>
#include <QList>
#include <QString>
#include <QWidget>

class QListWidget;

namespace lethe::widgets {

/// One class as the picker shows it.
struct ClassEntry {
    QString name;
    QImage thumbnail;
    qint64 count = 0;
};

/// Shows each class of a data set with its name, a real thumbnail and its image count, and lets the
/// user choose one (the class to forget). Keyboard: arrows move, Enter chooses.
class ClassPicker : public QWidget {
    Q_OBJECT

public:
    explicit ClassPicker(QWidget* parent = nullptr);

    void setClasses(const QList<ClassEntry>& classes);
    int classCount() const;
    /// The chosen class, or -1.
    int currentClass() const;
    void setCurrentClass(int index);
    QString className(int index) const;

Q_SIGNALS:
    void currentClassChanged(int index);

private:
    QListWidget* m_list = nullptr;
};

} // namespace lethe::widgets
