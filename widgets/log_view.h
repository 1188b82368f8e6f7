#pragma once

// The log panel: messages from the core's logger, newest last, with a cap on what is kept.
#include <QPlainTextEdit>

namespace lethe::widgets {

/// Read-only, monospaced; warnings in amber and errors in red; keeps the last `maximumLines()` lines.
class LogView : public QPlainTextEdit {
    Q_OBJECT

public:
    enum class Level { Debug, Info, Warning, Error };

    explicit LogView(QWidget* parent = nullptr);
    static constexpr int maximumLines() { return 5000; }

public Q_SLOTS:
    void appendMessage(int level, const QString& text);
};

} // namespace lethe::widgets
