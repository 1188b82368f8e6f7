#pragma once

// Steering a running session from another thread.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

namespace lethe::unlearn {

/// Hyperparameters changed while a run goes; each unset field keeps its current value.
struct LiveChanges {
    std::optional<double> alpha;
    std::optional<double> lambda;
    std::optional<double> lr;
};

/// Thread-safe steering of an UnlearnSession: stop, pause/resume and new α / λ / lr that take effect at
/// the next step. Every call returns at once (atomics plus one short mutex); the session polls it between
/// steps, so what a call asks for happens within one step.
class RunControl {
public:
    void requestStop();
    bool stopRequested() const { return m_stop.load(); }

    void pause();
    void resume();
    bool paused() const { return m_paused.load(); }
    /// True while the session's thread is held in waitWhilePaused(): the pause has taken effect and no step runs.
    bool holding() const { return m_holding.load(); }

    void setAlpha(double alpha);
    void setLambda(double lambda);
    void setLr(double lr);

    /// For the session: the changes made since the last call (and clears them).
    LiveChanges takeChanges();
    /// For the session: blocks while paused, until resumed or stopped. Returns false when stopped.
    bool waitWhilePaused();

private:
    std::atomic<bool> m_stop { false };
    std::atomic<bool> m_paused { false };
    std::atomic<bool> m_holding { false };
    std::mutex m_mutex;
    std::condition_variable m_wake;
    LiveChanges m_changes;
};

} // namespace lethe::unlearn
