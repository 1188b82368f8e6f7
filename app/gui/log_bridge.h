#pragma once

// Routes core's spdlog messages, from any thread, to the window's log panel as Qt signals.
#include <QObject>
#include <QString>

namespace lethe::gui {

/// Receives spdlog's default logger's messages while alive (through one sink the first bridge installs, shared by
/// all); each message arrives as message() on the thread this object lives in (queued when logged elsewhere).
class LogBridge : public QObject {
    Q_OBJECT

public:
    explicit LogBridge(QObject* parent = nullptr);
    ~LogBridge() override;

Q_SIGNALS:
    /// level: 0 debug, 1 info, 2 warning, 3 error (widgets::LogView::Level).
    void message(int level, const QString& text);

private:
    struct Sink;
};

} // namespace lethe::gui
