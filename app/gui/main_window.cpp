#include "main_window.h"

#include "class_tab.h"
#include "concept_tab.h"
#include "log_bridge.h"

#include "widgets/log_view.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFileDialog>
#include <QMenuBar>
#include <QMessageBox>
#include <QScreen>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>

#include <type_traits>

namespace lethe::gui {

namespace {

constexpr int kMaxRecent = 8;
const QString kBuiltinData = QStringLiteral("fashion-mnist");

} // namespace

MainWindow::MainWindow(const QString& model, const QString& data, QWidget* parent)
    : QMainWindow(parent)
    , m_logBridge(new LogBridge(this))
{
    setWindowTitle(tr("Lethe — unlearning workbench"));
    m_class = new ClassTab;
    m_concept = new ConceptTab;
    m_log = new widgets::LogView;
    m_topTabs = new QTabWidget;
    m_topTabs->addTab(m_class, tr("C&lass"));
    m_topTabs->addTab(m_concept, tr("Co&ncept"));
    m_topTabs->addTab(m_log, tr("Lo&g"));
    m_topTabs->setTabToolTip(0, tr("Class unlearning of a class-conditional model"));
    m_topTabs->setTabToolTip(1, tr("Concept unlearning of a text-to-image model"));
    m_topTabs->setTabToolTip(2, tr("What the program reports"));
    setCentralWidget(m_topTabs);
    // The first size: 1400 × 900, or what the screen has room for (a 1366 × 768 laptop); afterwards the remembered
    // geometry (restoreSettings).
    QSize size(1400, 900);
    if (const QScreen* screen = QGuiApplication::primaryScreen())
        size = size.boundedTo(screen->availableGeometry().size());
    resize(size);
    buildMenus();

    connect(m_logBridge, &LogBridge::message, m_log, &widgets::LogView::appendMessage);
    connect(m_class, &ClassTab::statusMessage, this, [this](const QString& text) {
        if (m_topTabs->currentWidget() == m_class)
            statusBar()->showMessage(text);
    });
    connect(m_concept, &ConceptTab::statusMessage, this, [this](const QString& text) {
        if (conceptCurrent())
            statusBar()->showMessage(text);
    });
    connect(m_class, &ClassTab::actionsChanged, this, &MainWindow::updateActions);
    connect(m_concept, &ConceptTab::actionsChanged, this, &MainWindow::updateActions);
    connect(m_class, &ClassTab::modelOpened, this, &MainWindow::addRecent);
    connect(m_topTabs, &QTabWidget::currentChanged, this, [this] {
        statusBar()->showMessage(conceptCurrent()       ? m_concept->lastStatus()
                : m_topTabs->currentWidget() == m_class ? m_class->lastStatus()
                                                        : QString());
        updateActions();
    });

    restoreSettings();
    updateActions();
    QSettings settings;
    m_class->openModel(model.isEmpty() ? settings.value(QStringLiteral("model")).toString() : model,
        data.isEmpty() ? settings.value(QStringLiteral("data"), kBuiltinData).toString() : data);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open model…"));
    open->setShortcut(QKeySequence::Open);
    connect(open, &QAction::triggered, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open a Lethe or converted EDM model"), QString(), tr("Model files (*.safetensors)"));
        if (!path.isEmpty())
            m_class->openModel(path, m_class->dataSpec());
    });
    QAction* builtin = file->addAction(tr("Open the &built-in model"));
    connect(builtin, &QAction::triggered, this, [this] { m_class->openModel(QString(), kBuiltinData); });
    m_recentMenu = file->addMenu(tr("&Recent models"));
    m_exportAction = file->addAction(tr("&Export…"));
    m_exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    connect(m_exportAction, &QAction::triggered, this, [this] {
        if (conceptCurrent())
            m_concept->chooseExport(false);
        else
            m_class->chooseExportFolder(false);
    });
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    m_startAction = run->addAction(tr("&Start"));
    m_startAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    connect(m_startAction, &QAction::triggered, this,
        [this] { conceptCurrent() ? m_concept->startRun() : m_class->startRun(); });
    m_pauseAction = run->addAction(tr("&Pause / resume"));
    m_pauseAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
    connect(m_pauseAction, &QAction::triggered, this,
        [this] { conceptCurrent() ? m_concept->togglePause() : m_class->togglePause(); });
    m_stopAction = run->addAction(tr("S&top"));
    m_stopAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    connect(m_stopAction, &QAction::triggered, this,
        [this] { conceptCurrent() ? m_concept->stopRun() : m_class->stopRun(); });

    QMenu* settingsMenu = menuBar()->addMenu(tr("&Settings"));
    QMenu* language = settingsMenu->addMenu(tr("&Language"));
    const QList<QPair<QString, QString>> languages = { { QStringLiteral("en"), QStringLiteral("English") },
        { QStringLiteral("de"), QStringLiteral("Deutsch") }, { QStringLiteral("zh_CN"), QStringLiteral("简体中文") } };
    const QString current = QSettings().value(QStringLiteral("language"), QStringLiteral("en")).toString();
    for (const auto& [code, name] : languages) {
        QAction* action = language->addAction(name);
        action->setCheckable(true);
        action->setChecked(code == current);
        connect(action, &QAction::triggered, this, [this, code = code] {
            QSettings().setValue(QStringLiteral("language"), code);
            QMessageBox::information(this, tr("Language"), tr("The new language applies when Lethe starts again."));
        });
    }

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About Lethe"));
    connect(about, &QAction::triggered, this, [this] {
        QMessageBox::about(this, tr("About Lethe"),
            tr("<b>Lethe %1</b><p>A workbench for machine unlearning in diffusion models: RGD (restricted gradient "
               "with a diverse remain set) and its baselines GA, GradDiff, RG and SalUn.</p>")
                .arg(QApplication::applicationVersion()));
    });
}

void MainWindow::restoreSettings()
{
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    for (auto* splitter : findChildren<QSplitter*>())
        splitter->restoreState(settings.value(QStringLiteral("window/") + splitter->objectName()).toByteArray());
    updateRecent();
}

void MainWindow::saveSettings() const
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    for (auto* splitter : findChildren<QSplitter*>())
        settings.setValue(QStringLiteral("window/") + splitter->objectName(), splitter->saveState());
    m_class->saveSettings();
}

void MainWindow::updateRecent()
{
    const QStringList recent = QSettings().value(QStringLiteral("recent")).toStringList();
    m_recentMenu->clear();
    for (const QString& path : recent) {
        QAction* action = m_recentMenu->addAction(path);
        connect(action, &QAction::triggered, this, [this, path] { m_class->openModel(path, m_class->dataSpec()); });
    }
    m_recentMenu->setEnabled(!recent.isEmpty());
}

void MainWindow::addRecent(const QString& path)
{
    if (path.isEmpty())
        return;
    QSettings settings;
    QStringList recent = settings.value(QStringLiteral("recent")).toStringList();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue(QStringLiteral("recent"), recent);
    updateRecent();
}

void MainWindow::updateActions()
{
    if (!m_startAction)
        return;
    if (conceptCurrent()) {
        m_startAction->setEnabled(m_concept->canStart());
        m_pauseAction->setEnabled(m_concept->isRunning());
        m_stopAction->setEnabled(m_concept->isRunning());
        m_exportAction->setEnabled(m_concept->hasResult() && !m_concept->isBusy());
    } else {
        const bool classFront = m_topTabs->currentWidget() == m_class;
        m_startAction->setEnabled(classFront && m_class->canStart());
        m_pauseAction->setEnabled(classFront && m_class->isRunning());
        m_stopAction->setEnabled(classFront && m_class->isRunning());
        m_exportAction->setEnabled(classFront && m_class->canExport());
    }
}

bool MainWindow::conceptCurrent() const
{
    return m_topTabs && m_concept && m_topTabs->currentWidget() == m_concept;
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    saveSettings();
    // A run stops cleanly first: after its current step (and, for a concept run, its "after" images), then the
    // window closes.
    const auto closeAfter = [this, event](auto* tab, const QString& message) {
        connect(tab, &std::remove_pointer_t<decltype(tab)>::runFinished, this, &QWidget::close,
            static_cast<Qt::ConnectionType>(Qt::QueuedConnection | Qt::UniqueConnection));
        tab->stopRun();
        statusBar()->showMessage(message);
        event->ignore();
    };
    if (m_class->isRunning()) {
        closeAfter(m_class, tr("Stopping the run before closing …"));
        return;
    }
    if (m_concept->isRunning()) {
        closeAfter(m_concept, tr("Stopping the concept run before closing …"));
        return;
    }
    event->accept();
}

} // namespace lethe::gui
