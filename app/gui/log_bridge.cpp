#include "log_bridge.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <QMetaObject>
#include <QPointer>

#include <mutex>

namespace lethe::gui {

struct LogBridge::Sink : spdlog::sinks::base_sink<std::mutex> {
    QPointer<LogBridge> bridge;

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override
    {
        int level = 1;
        if (msg.level <= spdlog::level::debug)
            level = 0;
        else if (msg.level == spdlog::level::warn)
            level = 2;
        else if (msg.level >= spdlog::level::err)
            level = 3;
        const QString text = QString::fromUtf8(msg.payload.data(), static_cast<qsizetype>(msg.payload.size()));
        LogBridge* target = bridge.data();
        if (target)
            QMetaObject::invokeMethod(
                target, [target, level, text] { Q_EMIT target->message(level, text); }, Qt::QueuedConnection);
    }
    void flush_() override { }
};

LogBridge::LogBridge(QObject* parent)
    : QObject(parent)
    , m_sink(std::make_shared<Sink>())
{
    m_sink->bridge = this;
    spdlog::default_logger()->sinks().push_back(m_sink);
}

LogBridge::~LogBridge()
{
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), m_sink), sinks.end());
}

} // namespace lethe::gui
