// ResourceAlarms: the kernel's resource alarms (FERRY_ALARM_* in ferry_protocol.h). The disk alarm is raised while
// the file system holding the data dir has fewer than storage.disk_free_limit bytes free (RabbitMQ's
// disk_free_limit), checked every second on the scheduler thread. Every change is logged and told to every open
// connection (NetworkServer::broadcastAlarm -> the plugin's on_alarm); connections opening later ask alarms().
// The kernel itself keeps serving: what to stop is each protocol's decision (AMQP blocks publishers).
// Threading: alarms() from any thread; the checks run on the scheduler thread. Lifetime: destroyed after the
// scheduler has stopped (Broker::stop), so no check runs into a destroyed object.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>

namespace ferry {

class NetworkServer;
class Scheduler;

class ResourceAlarms {
public:
    ResourceAlarms(std::filesystem::path dataDir, uint64_t diskFreeLimit, Scheduler &scheduler,
                   NetworkServer &network);
    // Checks once now, then every second. diskFreeLimit 0: never checks, never raises.
    void start();
    uint32_t alarms() const { return alarms_.load(std::memory_order_acquire); }

private:
    void check();

    const std::filesystem::path dataDir_;
    const uint64_t diskFreeLimit_;
    Scheduler &scheduler_;
    NetworkServer &network_;
    std::atomic<uint32_t> alarms_{0};
};

} // namespace ferry
