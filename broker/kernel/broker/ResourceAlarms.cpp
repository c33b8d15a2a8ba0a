#include "broker/ResourceAlarms.h"

#include "log/Logging.h"
#include "net/NetworkServer.h"
#include "sched/Scheduler.h"

#include <ferry/ferry_protocol.h>

#include <QStorageInfo>
#include <QString>

#include <spdlog/spdlog.h>

namespace ferry {

namespace {
constexpr uint32_t kCheckIntervalMs = 1000;
} // namespace

ResourceAlarms::ResourceAlarms(std::filesystem::path dataDir, uint64_t diskFreeLimit, Scheduler &scheduler,
                               NetworkServer &network)
    : dataDir_(std::move(dataDir)), diskFreeLimit_(diskFreeLimit), scheduler_(scheduler), network_(network)
{
}

void ResourceAlarms::start()
{
    if (diskFreeLimit_ == 0)
        return;
    check();
}

void ResourceAlarms::check()
{
    const QStorageInfo info(QString::fromStdString(dataDir_.string()));
    if (info.isValid() && info.isReady()) {
        const uint64_t free = static_cast<uint64_t>(info.bytesAvailable());
        const uint32_t before = alarms();
        const uint32_t now = free < diskFreeLimit_ ? (before | FERRY_ALARM_DISK) : (before & ~FERRY_ALARM_DISK);
        if (now != before) {
            alarms_.store(now, std::memory_order_release);
            if (now & FERRY_ALARM_DISK)
                kernelLogger()->warn(
                    "disk alarm raised: {} bytes free where {} lives, below storage.disk_free_limit = {}; "
                    "publishers are blocked until space is freed",
                    free, dataDir_.string(), diskFreeLimit_);
            else
                kernelLogger()->info("disk alarm cleared: {} bytes free where {} lives (storage.disk_free_limit = {})",
                                     free, dataDir_.string(), diskFreeLimit_);
            network_.broadcastAlarm(now);
        }
    }
    scheduler_.after(kCheckIntervalMs, [this] { check(); });
}

} // namespace ferry
