#include "broker/MemoryReclaimer.h"

#include "log/Logging.h"
#include "platform/FreeMemory.h"
#include "queue/Message.h"
#include "sched/Scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>

namespace ferry {

namespace {
constexpr uint32_t kCheckIntervalMs = 250;
} // namespace

void MemoryReclaimer::start()
{
    peak_ = last_ = LiveMessageCount::now();
    scheduler_.after(kCheckIntervalMs, [this] { check(); });
}

void MemoryReclaimer::check()
{
    const int64_t live = LiveMessageCount::now();
    peak_ = std::max(peak_, live);
    const bool settled = std::abs(live - last_) < kReclaimMessages / 10; // not in the middle of a drain
    last_ = live;
    if (peak_ - live >= kReclaimMessages && settled) {
        const auto started = std::chrono::steady_clock::now();
        if (platform::returnFreeMemoryToOs()) {
            ++reclaims_;
            const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
            kernelLogger()->debug(
                "memory: {} messages freed since the peak of {}; free heap returned to the OS in {:.1f} ms",
                peak_ - live, peak_, ms.count());
        }
        peak_ = live;
    }
    scheduler_.after(kCheckIntervalMs, [this] { check(); });
}

} // namespace ferry
