#pragma once

// The workbench window: menus, settings, the tabs (Class, Concept, Log) and the shortcuts, which act on the tab in
// front. The tabs do the work: ClassTab (class unlearning) and ConceptTab (concept unlearning).
#include <QMainWindow>

class QAction;
class QMenu;
class QTabWidget;

namespace lethe::widgets {
class LogView;
}

namespace lethe::gui {

class ClassTab;
class ConceptTab;
class LogBridge;

/// The Class tab opens on the built-in model and Fashion-MNIST; a whole run needs the mouse alone (or the
/// shortcuts, which act on the current tab: Ctrl+R start, Ctrl+P pause/resume, Ctrl+. stop, Ctrl+E export).
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    /// `model` and `data` empty: the last ones used, else the built-in defaults.
    explicit MainWindow(const QString& model = {}, const QString& data = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    ClassTab* classTab() const { return m_class; }
    ConceptTab* conceptTab() const { return m_concept; }
    widgets::LogView* logView() const { return m_log; }
    QTabWidget* topTabs() const { return m_topTabs; }

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void restoreSettings();
    void saveSettings() const;
    void updateActions();
    void updateRecent();
    void addRecent(const QString& path);
    bool conceptCurrent() const;

    LogBridge* m_logBridge = nullptr;
    ClassTab* m_class = nullptr;
    ConceptTab* m_concept = nullptr;
    widgets::LogView* m_log = nullptr;
    QTabWidget* m_topTabs = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_startAction = nullptr;
    QAction* m_pauseAction = nullptr;
    QAction* m_stopAction = nullptr;
    QAction* m_exportAction = nullptr;
};

} // namespace lethe::gui
