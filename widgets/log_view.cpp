#include "log_view.h"

#include <QDateTime>
#include <QFontDatabase>

namespace lethe::widgets {

LogView::LogView(QWidget* parent)
    : QPlainTextEdit(parent)
{
    setReadOnly(true);
    setMaximumBlockCount(maximumLines());
    setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    setAccessibleName(tr("Log"));
}

void LogView::appendMessage(int level, const QString& text)
{
    const QString time = QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"));
    QString colour;
    if (level >= static_cast<int>(Level::Error))
        colour = QStringLiteral("#c62828");
    else if (level == static_cast<int>(Level::Warning))
        colour = QStringLiteral("#b26a00");
    const QString escaped = text.toHtmlEscaped();
    appendHtml(colour.isEmpty() ? QStringLiteral("%1  %2").arg(time, escaped)
                                : QStringLiteral("<span style=\"color:%1\">%2  %3</span>").arg(colour, time, escaped));
}

} // namespace lethe::widgets
