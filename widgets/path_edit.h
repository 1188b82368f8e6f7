#pragma once

// A file or folder path: a line edit to type or paste it into, and a "…" button that asks with a file dialog.
#include <QString>
#include <QWidget>

class QLineEdit;
class QPushButton;

namespace lethe::widgets {

/// A path field. The line edit takes the focus (so a label's buddy and Tab reach it); the button opens a folder
/// or file dialog that starts at the path typed and replaces it with the one chosen.
class PathEdit : public QWidget {
    Q_OBJECT

public:
    enum class Kind { Folder, File };

    /// `title` is the dialog's; `filter` the file dialog's name filter (files only, e.g. "NumPy archives (*.npz)").
    PathEdit(Kind kind, const QString& title, const QString& filter = {}, QWidget* parent = nullptr);

    /// The path as typed, trimmed.
    QString path() const;
    void setPath(const QString& path);
    void setPlaceholderText(const QString& text);
    QLineEdit* lineEdit() const { return m_edit; }
    QPushButton* browseButton() const { return m_browse; }

Q_SIGNALS:
    void pathChanged(const QString& path);

private:
    void browse();

    Kind m_kind;
    QString m_title;
    QString m_filter;
    QLineEdit* m_edit = nullptr;
    QPushButton* m_browse = nullptr;
};

} // namespace lethe::widgets
