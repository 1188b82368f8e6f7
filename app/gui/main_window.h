#pragma once

#include <QMainWindow>

class QLabel;

namespace lethe::widgets {
class ClassPicker;
}

namespace lethe::gui {

/// The workbench window. It opens on the built-in Fashion-MNIST data set, loaded off the UI thread.
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Loads a data set ("fashion-mnist" or a folder) in the background and shows its classes.
    void openDataset(const QString& spec);

private:
    widgets::ClassPicker* m_classPicker = nullptr;
    QLabel* m_datasetLabel = nullptr;
    QThread* m_loader = nullptr;
};

} // namespace lethe::gui
