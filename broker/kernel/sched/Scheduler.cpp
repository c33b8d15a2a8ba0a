#include "sched/Scheduler.h"

namespace ferry {

Scheduler::Scheduler() : thread_([this] { run(); }) {}

Scheduler::~Scheduler() { stop(); }

uint64_t Scheduler::after(uint32_t delayMs, std::function<void()> fn)
{
    uint64_t id;
    {
        std::lock_guard lock(mutex_);
        id = nextId_++;
        timers_.emplace(Clock::now() + std::chrono::milliseconds(delayMs), Entry{id, std::move(fn)});
    }
    wake_.notify_one();
    return id;
}

bool Scheduler::cancel(uint64_t id)
{
    std::lock_guard lock(mutex_);
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.id == id) {
            timers_.erase(it);
            return true;
        }
    }
    return false;
}

void Scheduler::stop()
{
    {
        std::lock_guard lock(mutex_);
        if (stopping_)
            return;
        stopping_ = true;
        timers_.clear();
    }
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void Scheduler::run()
{
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        if (timers_.empty()) {
            wake_.wait(lock);
            continue;
        }
        auto first = timers_.begin();
        if (first->first > Clock::now()) {
            wake_.wait_until(lock, first->first);
            continue;
        }
        std::function<void()> fn = std::move(first->second.fn);
        timers_.erase(first);
        lock.unlock();
        fn();
        lock.lock();
    }
}

} // namespace ferry
