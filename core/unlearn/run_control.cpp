#include "run_control.h"

namespace lethe::unlearn {

void RunControl::requestStop()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop.store(true);
    }
    m_wake.notify_all();
}

void RunControl::pause()
{
    m_paused.store(true);
}

void RunControl::resume()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_paused.store(false);
    }
    m_wake.notify_all();
}

void RunControl::setAlpha(double alpha)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_changes.alpha = alpha;
}

void RunControl::setLambda(double lambda)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_changes.lambda = lambda;
}

void RunControl::setLr(double lr)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_changes.lr = lr;
}

LiveChanges RunControl::takeChanges()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    LiveChanges changes = m_changes;
    m_changes = {};
    return changes;
}

bool RunControl::waitWhilePaused()
{
    std::unique_lock<std::mutex> lock(m_mutex);
    if (m_paused.load() && !m_stop.load()) {
        m_holding.store(true);
        m_wake.wait(lock, [this] { return !m_paused.load() || m_stop.load(); });
        m_holding.store(false);
    }
    return !m_stop.load();
}

} // namespace lethe::unlearn
