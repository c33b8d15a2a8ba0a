// Scheduler: the kernel's timer thread. Runs short callbacks at a time (monotonic clock), e.g. long-poll deadlines.
// Callbacks run on the scheduler thread, must not block, and hop elsewhere themselves (ConnectionLink::post).
// Durable scheduled delivery (delay levels, x-delay, TTL) will be built on storage and this thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace ferry {

class Scheduler {
public:
    Scheduler();
    ~Scheduler();
    Scheduler(const Scheduler &) = delete;
    Scheduler &operator=(const Scheduler &) = delete;

    // Runs fn after delayMs. Returns an id for cancel(). Any thread.
    uint64_t after(uint32_t delayMs, std::function<void()> fn);
    // false when it already ran or never existed. Any thread.
    bool cancel(uint64_t id);
    // Stops the thread; pending callbacks are dropped. Idempotent.
    void stop();

private:
    using Clock = std::chrono::steady_clock;
    struct Entry {
        uint64_t id;
        std::function<void()> fn;
    };
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::multimap<Clock::time_point, Entry> timers_;
    uint64_t nextId_ = 1;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace ferry
