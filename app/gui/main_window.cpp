#include "main_window.h"

#include "qt_conversions.h"

#include "core/data/datasets.h"
#include "core/error.h"
#include "widgets/class_picker.h"

#include <QLabel>
#include <QMessageBox>
#include <QMetaObject>
#include <QStatusBar>
#include <QThread>
#include <QVBoxLayout>

namespace lethe::gui {

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_classPicker(new widgets::ClassPicker(this))
    , m_datasetLabel(new QLabel(this))
{
    setWindowTitle(tr("Lethe — unlearning workbench"));
    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    layout->addWidget(m_datasetLabel);
    layout->addWidget(new QLabel(tr("Class to forget:"), central));
    layout->addWidget(m_classPicker, 1);
    setCentralWidget(central);
    resize(520, 640);
    connect(m_classPicker, &widgets::ClassPicker::currentClassChanged, this, [this](int index) {
        statusBar()->showMessage(tr("Forget class %1: %2").arg(index).arg(m_classPicker->className(index)));
    });
}

MainWindow::~MainWindow()
{
    if (m_loader) {
        m_loader->wait();
    }
}

void MainWindow::openDataset(const QString& spec)
{
    if (m_loader && m_loader->isRunning())
        return;
    statusBar()->showMessage(tr("Loading %1 …").arg(spec));
    const std::string specText = spec.toStdString();
    m_loader = QThread::create([this, specText] {
        QList<widgets::ClassEntry> entries;
        QString description;
        QString error;
        try {
            const data::DatasetSpec resolved = data::resolveDataset(specText);
            const data::ImageSet set = data::loadDataset(resolved, data::Split::Train);
            entries = classEntries(set);
            description = tr("%1 — %2 images, %3×%4").arg(toQString(set.source)).arg(set.size())
                              .arg(set.width()).arg(set.height());
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        QMetaObject::invokeMethod(this, [this, entries, description, error] {
            if (!error.isEmpty()) {
                statusBar()->showMessage(tr("Could not open the data set"));
                QMessageBox::warning(this, tr("Data set"), error);
                return;
            }
            m_datasetLabel->setText(description);
            m_classPicker->setClasses(entries);
            m_classPicker->setCurrentClass(7);
            statusBar()->showMessage(tr("Ready"));
        }, Qt::QueuedConnection);
    });
    m_loader->setParent(this);
    m_loader->start();
}

} // namespace lethe::gui
