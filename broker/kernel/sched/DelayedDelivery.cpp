#include "sched/DelayedDelivery.h"

#include "log/Logging.h"
#include "queue/QueueRegistry.h"
#include "route/Router.h"
#include "sched/Scheduler.h"
#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <vector>

namespace ferry {

namespace {
constexpr std::string_view kTargetKey = "x-ferry-delay-target";
constexpr std::string_view kDueKey = "x-ferry-delay-due";
constexpr std::string_view kDelayPrefix = "x-ferry-delay-";
const std::string kExchangeTargetMark = "\x01"; // a target starting with it names an exchange
constexpr uint64_t kMaxArmMs = 3'600'000;   // re-arm at least hourly (clock changes, 32-bit timer delays)
constexpr uint32_t kRetryDelayMs = 1000;     // a failed delivery is tried again after this

uint64_t wallMs()
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

// The block without the delay entries; their values into target / due.
std::string stripDelayEntries(const std::string &block, std::string *target, uint64_t *due)
{
    return takeProperties(block, kDelayPrefix, [&](std::string_view key, std::string_view value) {
        if (key == kTargetKey && target)
            target->assign(value);
        else if (key == kDueKey && due)
            std::from_chars(value.data(), value.data() + value.size(), *due);
    });
}
} // namespace

DelayedDelivery::DelayedDelivery(QueueRegistry &queues, StorageEngine &storage, Scheduler &scheduler)
    : queues_(queues), storage_(storage), scheduler_(scheduler)
{
}

bool DelayedDelivery::restore(std::string *error)
{
    store_ = queues_.declareStore(kStoreQueue, 0, error);
    if (!store_)
        return false;
    std::vector<std::pair<uint64_t, uint64_t>> found; // (due, offset)
    const uint64_t queueId = store_->id();
    const ferry_status rs = storage_.call(
        [&](StorageSession &s) {
            return s.read(queueId, 0, 0, 0, [&](const ferry_storage_record &rec) {
                auto m = MessageCodec::decode(rec.data, rec.len, rec.store_time_ms);
                uint64_t due = 0;
                if (m)
                    stripDelayEntries(m->properties, nullptr, &due);
                found.emplace_back(due, rec.offset);
                return true;
            });
        },
        error);
    if (rs != FERRY_OK)
        return false;
    std::lock_guard lock(mutex_);
    for (auto [due, offset] : found)
        pending_.emplace(due, offset);
    armLocked();
    kernelLogger()->info("delay store: {} messages pending", found.size());
    return true;
}

void DelayedDelivery::schedule(std::shared_ptr<Message> message, const std::string &targetQueue, uint64_t dueMs,
                               Queue::PublishDone done)
{
    appendProperty(message->properties, kTargetKey, targetQueue);
    appendProperty(message->properties, kDueKey, std::to_string(dueMs));
    message->flags |= FERRY_MESSAGE_PERSISTENT;
    // Tracked once stored, so a delivery never reads a record that is not written yet.
    store_->publish(std::move(message), [this, dueMs, done](ferry_status st, uint64_t offset, const std::string &err) {
        if (st == FERRY_OK)
            track(dueMs, offset);
        if (done)
            done(st, offset, err);
    });
}

void DelayedDelivery::scheduleRoute(std::shared_ptr<Message> message, const std::string &exchange, uint64_t dueMs,
                                    Queue::PublishDone done)
{
    schedule(std::move(message), kExchangeTargetMark + exchange, dueMs, std::move(done));
}

size_t DelayedDelivery::pending() const
{
    std::lock_guard lock(mutex_);
    return pending_.size();
}

void DelayedDelivery::stop()
{
    std::lock_guard lock(mutex_);
    stopped_ = true;
    if (timerId_)
        scheduler_.cancel(timerId_);
    timerId_ = 0;
}

void DelayedDelivery::track(uint64_t dueMs, uint64_t offset)
{
    std::lock_guard lock(mutex_);
    pending_.emplace(dueMs, offset);
    armLocked();
}

void DelayedDelivery::armLocked()
{
    if (stopped_ || pending_.empty())
        return;
    const uint64_t due = pending_.begin()->first;
    if (timerId_ != 0 && armedFor_ <= due)
        return; // an earlier (or the same) wake-up is already armed
    if (timerId_ != 0)
        scheduler_.cancel(timerId_);
    const uint64_t now = wallMs();
    const uint64_t delay = due > now ? std::min(due - now, kMaxArmMs) : 0;
    armedFor_ = now + delay;
    const uint64_t generation = ++generation_;
    timerId_ = scheduler_.after(static_cast<uint32_t>(delay), [this, generation] { fire(generation); });
}

void DelayedDelivery::fire(uint64_t generation)
{
    std::vector<uint64_t> due;
    {
        std::lock_guard lock(mutex_);
        if (generation != generation_ || stopped_)
            return;
        timerId_ = 0;
        armedFor_ = 0;
        const uint64_t now = wallMs();
        while (!pending_.empty() && pending_.begin()->first <= now) {
            due.push_back(pending_.begin()->second);
            pending_.erase(pending_.begin());
        }
        armLocked();
    }
    for (uint64_t offset : due)
        deliver(offset);
}

void DelayedDelivery::deliver(uint64_t offset)
{
    const uint64_t queueId = store_->id();
    auto message = std::make_shared<std::shared_ptr<Message>>();
    storage_.submit(
        [queueId, offset, message](StorageSession &s) { return s.readMessage(queueId, offset, message.get()); },
        [this, offset, message, queueId](ferry_status st, const std::string &err) {
            if (st != FERRY_OK || !*message) {
                kernelLogger()->error("delay store: reading offset {} failed ({}): {}; retrying", offset, st, err);
                return retryLater(offset);
            }
            std::shared_ptr<Message> m = *message;
            std::string target;
            m->properties = stripDelayEntries(m->properties, &target, nullptr);
            const auto ack = [this, queueId, offset] {
                storage_.submit([queueId, offset](StorageSession &s) { return s.ack(queueId, offset); }, {}, true);
            };
            if (!target.empty() && target[0] == kExchangeTargetMark[0] && router_ != nullptr) {
                // Routed as the exchange's delayed type; a full reject-publish queue refuses it for good.
                router_->routeDue(target.substr(1), std::move(m),
                                  [this, ack, offset, target](ferry_status rst, uint64_t, const std::string &rerr) {
                                      if (rst == FERRY_OK || rst == FERRY_E_NO_SPACE)
                                          return ack();
                                      kernelLogger()->error(
                                          "delay store: routing {} through '{}' failed ({}): {}; retrying", offset,
                                          target.substr(1), rst, rerr);
                                      retryLater(offset);
                                  });
                return;
            }
            QueuePtr q = queues_.find(target);
            if (!q) {
                kernelLogger()->warn("delay store: target queue '{}' of delayed message {} no longer exists; dropped",
                                     target, offset);
                return ack();
            }
            q->publish(std::move(m), [this, ack, offset, target](ferry_status pst, uint64_t, const std::string &perr) {
                if (pst == FERRY_OK)
                    return ack();
                kernelLogger()->error("delay store: delivering {} to '{}' failed ({}): {}; retrying", offset, target,
                                      pst, perr);
                retryLater(offset);
            });
        },
        false);
}

void DelayedDelivery::retryLater(uint64_t offset)
{
    std::lock_guard lock(mutex_);
    pending_.emplace(wallMs() + kRetryDelayMs, offset);
    armLocked();
}

} // namespace ferry
