// DelayedDelivery: the kernel's durable scheduled delivery (RocketMQ delay levels and delivery times, AMQP x-delay).
//
// A message published with ferry_message.deliver_at_ms in the future (or through an x-delayed-message exchange,
// whose target is then the exchange, marked by a leading 0x01 byte) is appended to the kernel queue
// "$ferry.delayed" (durable, records kept until acked, never consumed by clients) together with its target queue
// and due time (properties x-ferry-delay-target / x-ferry-delay-due, stripped again on delivery). In memory only
// (due time, offset) pairs are kept, rebuilt from storage at start-up, so a restart loses nothing and a long queue
// of delayed messages costs ~64 bytes each. On the scheduler thread, each due message is read back, published to
// its target queue (a new record with a new offset and id, store time = delivery time) and, once that is stored,
// acked in the delay store. A target queue that no longer exists drops the message with a warning.
//
// Timing: the timer is armed for the earliest due time (at most an hour ahead, then re-armed), so delivery happens
// within the scheduler's resolution (milliseconds) plus the storage round trip of the due time.
// Threading: schedule() from any thread; everything else on the scheduler and storage threads.
#pragma once

#include "queue/Message.h"
#include "queue/Queue.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ferry {

class QueueRegistry;
class Router;
class Scheduler;
class StorageEngine;

class DelayedDelivery {
public:
    static constexpr const char *kStoreQueue = "$ferry.delayed";

    DelayedDelivery(QueueRegistry &queues, StorageEngine &storage, Scheduler &scheduler);

    // Start-up, after the queues are restored: declares the store and reads what is pending. Blocking.
    bool restore(std::string *error);
    // Keeps message until dueMs (wall clock), then publishes it to targetQueue. done as Queue::publish's, for the
    // store's append (offset = the place in the store).
    void schedule(std::shared_ptr<Message> message, const std::string &targetQueue, uint64_t dueMs,
                  Queue::PublishDone done);
    // The same for a message to route through an exchange when due (x-delayed-message; see Router::routeDue).
    void scheduleRoute(std::shared_ptr<Message> message, const std::string &exchange, uint64_t dueMs,
                       Queue::PublishDone done);
    // Start-up, before restore: where exchange-targeted messages go.
    void setRouter(Router *router) { router_ = router; }
    size_t pending() const;
    // Stops arming timers (broker stop; the scheduler is stopped right after).
    void stop();

private:
    void track(uint64_t dueMs, uint64_t offset);
    void armLocked();
    void fire(uint64_t generation);
    void deliver(uint64_t offset);
    void retryLater(uint64_t offset);

    QueueRegistry &queues_;
    StorageEngine &storage_;
    Scheduler &scheduler_;
    QueuePtr store_;
    Router *router_ = nullptr;

    mutable std::mutex mutex_;
    std::multimap<uint64_t, uint64_t> pending_; // due (wall ms) -> offset in the store
    uint64_t armedFor_ = 0;                     // due time the timer is armed for; 0: none
    uint64_t timerId_ = 0;
    uint64_t generation_ = 0;
    bool stopped_ = false;
};

} // namespace ferry
