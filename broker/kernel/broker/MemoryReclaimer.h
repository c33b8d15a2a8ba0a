// MemoryReclaimer: gives the heap back to the operating system once many messages have been freed (a large queue
// deleted, purged, expired or drained). Without it glibc keeps the freed heap in its bins and the hot path pays for
// walking them: on the bench machine end-to-end latency p99 stayed at 20-30 ms instead of 0.3 ms after one
// publish-only run had filled and deleted a queue of a million messages.
// Policy: every 250 ms (scheduler thread) it reads the live message count; when that has fallen by at least
// kReclaimMessages below its peak since the last reclaim and has settled (moved by less than a tenth of that since
// the previous check: a drain in progress is left alone, the trim holds the allocator's locks for tens of ms), it
// calls platform::returnFreeMemoryToOs() and takes the current count as the new peak. A steady load, whatever its
// rate, never triggers it.
// Threading: start() once; the checks run on the scheduler thread. Lifetime: destroyed after the scheduler stopped.
#pragma once

#include <cstdint>

namespace ferry {

class Scheduler;

class MemoryReclaimer {
public:
    static constexpr int64_t kReclaimMessages = 100000;

    explicit MemoryReclaimer(Scheduler &scheduler) : scheduler_(scheduler) {}
    void start();
    // How many times memory was returned (tests, metrics).
    uint64_t reclaims() const { return reclaims_; }

private:
    void check();

    Scheduler &scheduler_;
    int64_t peak_ = 0;
    int64_t last_ = 0; // the count one check ago
    uint64_t reclaims_ = 0;
};

} // namespace ferry
