#include "log_bridge.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <QMetaObject>

#include <algorithm>
#include <mutex>
#include <vector>

namespace lethe::gui {

namespace {

/// The one sink on spdlog's default logger, installed with the first bridge and never removed: removing a sink
/// while another thread logs through the logger's list would destroy it under that thread (a worker still opening
/// a model as its window closes). Bridges come and go in this list instead, under its own lock, which a message
/// holds while it is handed to them, so a bridge is never destroyed while a message is being posted to it.
struct Registry {
    std::mutex mutex;
    std::vector<LogBridge*> bridges;
};

Registry& registry()
{
    static Registry instance;
    return instance;
}

} // namespace

struct LogBridge::Sink : spdlog::sinks::base_sink<std::mutex> {
    /// Emits `message` on `bridge`'s thread; called with the registry locked.
    static void post(LogBridge* bridge, int level, const QString& text)
    {
        QMetaObject::invokeMethod(
            bridge, [bridge, level, text] { Q_EMIT bridge->message(level, text); }, Qt::QueuedConnection);
    }

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
        Registry& r = registry();
        const std::lock_guard lock(r.mutex);
        for (LogBridge* bridge : r.bridges)
            post(bridge, level, text);
    }
    void flush_() override { }
};

LogBridge::LogBridge(QObject* parent)
    : QObject(parent)
{
    static const bool installed = [] {
        spdlog::default_logger()->sinks().push_back(std::make_shared<Sink>());
        return true;
    }();
    (void)installed;
    Registry& r = registry();
    const std::lock_guard lock(r.mutex);
    r.bridges.push_back(this);
}

LogBridge::~LogBridge()
{
    Registry& r = registry();
    const std::lock_guard lock(r.mutex);
    r.bridges.erase(std::remove(r.bridges.begin(), r.bridges.end(), this), r.bridges.end());
}

} // namespace lethe::gui
