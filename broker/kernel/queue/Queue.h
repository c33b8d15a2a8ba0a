// Queue: a durable or transient append-only log of messages with 64-bit offsets, consumed by lease (competing
// consumers: unacked set, prefetch, requeue with the redelivered flag; AMQP style) and/or by cursor (pull from an
// offset, consumer-group offsets; RocketMQ style).
//
// Memory: a durable queue's log lives in storage; the queue keeps a window of ready messages in memory
// (`loadedUpTo_`: every not-yet-acked offset below it is in ready_ or unacked_) and refills it from storage when
// consumers drain it, so a long queue does not have to fit in memory. A transient queue keeps everything in memory.
// A lease queue restored after a restart is told how many readable records its log holds (setRecovered), so
// its message count is exact although acked holes beyond the window are only met when the window reaches them; and
// up to which offset it had delivered, so those messages come back with the redelivered flag (RabbitMQ's).
//
// Threading: every public member is thread-safe; the queue's own mutex is the only lock on the per-message path.
// Deliveries and results reach plugins through ConnectionLink::post, never from inside the caller's stack.
#pragma once

#include "queue/ConnectionLink.h"
#include "queue/Message.h"

#include <ferry/ferry_protocol.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>
#include <string>
#include <vector>

namespace ferry {

class StorageEngine;
class StorageSession;
class Scheduler;
class Queue;

// Told of every message with keys appended to a durable cursor queue (a RocketMQ topic's queue: the key index that
// QUERY_MESSAGE searches; lease queues are not indexed, so AMQP's message-id as keys costs no memory). Called under
// the queue's lock: it must be quick and take only leaf locks.
class AppendObserver {
public:
    virtual ~AppendObserver() = default;
    virtual void onAppend(uint64_t queueId, uint64_t offset, const Message &message) = 0;
};

// Unacked deliveries shared by several subscriptions of one connection (AMQP basic.qos global): a subscription in a
// group gets a delivery only while the group's count is below its limit. Counts change under the queues' own locks;
// a settle that frees credit at the limit kicks the group's other queues (outside any queue lock).
struct CreditGroup {
    std::atomic<uint32_t> limit{0}; // 0: unlimited
    std::atomic<uint32_t> inFlight{0};
    std::mutex mutex; // guards queues
    std::vector<std::weak_ptr<Queue>> queues;
};
using CreditGroupPtr = std::shared_ptr<CreditGroup>;

// A lease consumer of one queue. Owned by the queue's consumer list and by the connection's state.
struct Subscription {
    uint64_t id = 0;
    std::weak_ptr<Queue> queue;
    ConnectionLinkPtr link;
    uint32_t prefetch = 0; // 0: unlimited
    bool autoAck = false;
    bool exclusive = false;
    bool consumer = true;  // false: the connection's get() handle for the queue (never dispatched to)
    std::atomic<bool> paused{false};
    CreditGroupPtr group;  // may be null
    uint32_t inFlight = 0; // guarded by the queue's mutex
};
using SubscriptionPtr = std::shared_ptr<Subscription>;

// Queue arguments (ferry_queue_options), kept in the queue's metadata. Negative limits: none.
struct QueueArgs {
    int64_t messageTtlMs = -1;
    int64_t expiresMs = -1;
    int64_t maxLength = -1;
    int64_t maxLengthBytes = -1;
    uint32_t overflow = FERRY_OVERFLOW_DROP_HEAD;
    uint32_t maxPriority = 0;
    bool singleActiveConsumer = false;
    bool hasDeadLetterExchange = false;
    std::string deadLetterExchange;
    bool hasDeadLetterRoutingKey = false;
    std::string deadLetterRoutingKey;

    bool operator==(const QueueArgs &o) const;
    bool operator!=(const QueueArgs &o) const { return !(*this == o); }
    std::string encode() const;
    static bool decode(std::string_view text, QueueArgs *out);
};

// Why a message left a queue for its dead-letter exchange (the x-death reasons).
enum class DeadLetterReason { Rejected, Expired, MaxLength };
const char *deadLetterReasonName(DeadLetterReason reason);

// What a queue asks of the rest of the kernel (the router). Called outside the queue's lock, on whatever thread
// the triggering operation runs.
class QueueEvents {
public:
    virtual ~QueueEvents() = default;
    // message left queue for reason; the queue has a dead-letter exchange.
    virtual void deadLetter(const std::shared_ptr<Queue> &queue, const MessagePtr &message,
                            DeadLetterReason reason) = 0;
    // An auto-delete queue lost its last consumer, or an expiring queue was unused for its expires time.
    virtual void deleteUnused(const std::shared_ptr<Queue> &queue) = 0;
};

struct QueueCounts {
    uint64_t ready = 0;
    uint64_t unacked = 0;
    uint64_t consumers = 0;
};

class Queue : public std::enable_shared_from_this<Queue> {
public:
    // Kernel-internal queue flags above the ABI's FERRY_QUEUE_* bits, kept in the queue's metadata.
    // A cursor queue (a topic's) is read by offset: retention removes its records by age and size, consumed or not.
    static constexpr uint32_t kCursorQueue = 1u << 16;
    // A kernel store (the delay store): never consumed by clients; records are kept until the kernel acks them.
    static constexpr uint32_t kInternalStore = 1u << 17;
    // The declare flags a queue keeps (the ABI's and the kernel's).
    static constexpr uint32_t kKeptFlags =
        FERRY_QUEUE_DURABLE | FERRY_QUEUE_EXCLUSIVE | FERRY_QUEUE_AUTO_DELETE | kCursorQueue | kInternalStore;

    using PublishDone = std::function<void(ferry_status status, uint64_t offset, const std::string &error)>;

    Queue(uint64_t id, std::string name, uint32_t flags, uint64_t low, uint64_t next, StorageEngine *storage,
          Scheduler *scheduler, uint64_t startTimeMs, QueueArgs args = {});

    // Restore only, before the queue is shared: `live` readable records are in [low, next), and offsets below
    // deliveredUpTo had been delivered before the restart (QueueRegistry's delivery marks).
    void setRecovered(uint64_t live, uint64_t deliveredUpTo);
    // One past the highest offset ever delivered (lease consumption), for the delivery mark.
    uint64_t deliveredUpTo() const;

    uint64_t id() const { return id_; }
    const std::string &name() const { return name_; }
    bool durable() const { return (flags_ & FERRY_QUEUE_DURABLE) != 0; }
    uint32_t flags() const { return flags_; }
    QueueCounts counts() const;
    // Lowest offset still stored (moved by retention; refreshed after each storage maintenance) and the next offset.
    uint64_t low() const { return low_.load(std::memory_order_acquire); }
    void setLow(uint64_t low) { low_.store(low, std::memory_order_release); }
    uint64_t next() const;
    void setAppendObserver(AppendObserver *observer) { observer_.store(observer, std::memory_order_release); }
    void setEvents(QueueEvents *events) { events_.store(events, std::memory_order_release); }
    const QueueArgs &args() const { return args_; }
    // The connection owning an exclusive queue (0: none). Set once, right after declare.
    uint64_t owner() const { return owner_.load(std::memory_order_acquire); }
    void setOwner(uint64_t linkId) { owner_.store(linkId, std::memory_order_release); }
    // Counts as use for the expires argument (declare, get, consume).
    void touch();

    // Appends the message (store time and id set here). done: once the message is stored when the message is
    // persistent and the queue durable, else at once; runs on the storage thread or the caller's thread.
    // FERRY_E_NO_SPACE when the queue is full and its overflow is reject-publish.
    void publish(std::shared_ptr<Message> message, PublishDone done);
    // The same for a message already stamped (id, store time) and maybe shared with other queues (routing).
    void append(MessagePtr message, PublishDone done);
    // Drops every ready message; returns how many.
    uint64_t purge();
    // Takes one ready message for sub (a get handle): delivered through its link with correlationId, then the
    // result (message_count 0 or 1). Waits for the storage window when the ready messages are not loaded yet.
    void get(const SubscriptionPtr &sub, uint64_t correlationId);
    // Re-runs dispatch (credit freed elsewhere, a subscription resumed).
    void kick();

    // Lease consumption.
    ferry_status subscribe(const SubscriptionPtr &sub, bool exclusive);
    // Requeues the subscription's unacked messages (marked redelivered) and removes it.
    void unsubscribe(const SubscriptionPtr &sub);
    ferry_status ack(const SubscriptionPtr &sub, uint64_t offset, bool multiple);
    ferry_status nack(const SubscriptionPtr &sub, uint64_t offset, bool multiple, bool requeue);
    // Settles each listed offset that is an unacked delivery of sub. FERRY_E_NOT_FOUND when none was.
    ferry_status settleMany(const SubscriptionPtr &sub, const uint64_t *offsets, size_t count, bool ack, bool requeue);

    // Cursor consumption: up to maxMessages from `from` (not moving any group offset), then the result with the
    // next offset; waits up to waitMs for a message when none is there.
    void pull(const ConnectionLinkPtr &link, uint64_t correlationId, uint64_t from, uint32_t maxMessages,
              uint32_t waitMs);
    // Reads without consuming (the admin API's browse): up to maxMessages messages not yet acked, from offset `from`
    // on in offset order, ready and delivered alike; nothing moves and no delivery count changes. done(status,
    // messages, the offset to browse from next, error) runs on the storage thread (durable) or the caller's thread.
    using BrowseDone = std::function<void(ferry_status status, std::vector<std::pair<uint64_t, MessagePtr>> messages,
                                          uint64_t nextOffset, const std::string &error)>;
    void browse(uint64_t from, uint32_t maxMessages, BrowseDone done);

    // The first offset stored at or after timeMs (the storage plugin's time index; a transient queue answers its low
    // bound for 0 and its end otherwise). done(status, offset, error) on the storage thread or the caller's thread;
    // FERRY_E_UNSUPPORTED when the storage plugin has no time index.
    void seekTime(uint64_t timeMs, std::function<void(ferry_status status, uint64_t offset, const std::string &error)> done);

    // Consumer-group offsets: stored in the storage plugin for a durable queue, in memory for a transient one.
    // done runs on the storage thread or the caller's thread.
    void commitOffset(const std::string &group, uint64_t offset, std::function<void(ferry_status, const std::string &)> done);
    // done(status, offset): FERRY_E_NOT_FOUND when the group never committed.
    void committedOffset(const std::string &group, std::function<void(ferry_status, uint64_t)> done);
    bool deleted() const;
    // A slave's storage received records up to `next` (replication wrote them under the kernel): the queue's end
    // moves there and long-poll waiters are answered. Any thread (the storage thread on a slave).
    void replicaAdvance(uint64_t next);
    // Drops a connection's long-poll waiters (its close hook).
    void dropWaiters(uint64_t linkId);

    // Called by the registry when the queue is deleted: consumers are dropped, waiters answered FERRY_E_CLOSED.
    // Returns the number of messages it held.
    uint64_t markDeleted();

private:
    struct Entry {
        MessagePtr message;
        uint32_t deliveryCount = 0;
    };
    struct PendingGet {
        SubscriptionPtr sub;
        uint64_t correlationId;
    };
    // Work collected under the lock and done after it is released.
    struct Aftermath {
        std::vector<MessagePtr> expired, dropped, rejected;
        std::vector<SubscriptionPtr> creditFreed; // subscriptions whose credit group got room
        bool deleteUnused = false;
    };
    struct Unacked {
        Entry entry;
        Subscription *sub;
    };
    struct Delivery {
        SubscriptionPtr sub;
        uint64_t offset;
        Entry entry;
    };
    struct Waiter {
        uint64_t waiterId;
        ConnectionLinkPtr link;
        uint64_t correlationId;
        uint64_t from;
        uint32_t maxMessages;
        uint64_t timerId;
    };

    void dispatchLocked(std::vector<Delivery> &out);
    // The ready set in dispatch order (priority, then offset) and its edits.
    std::map<uint64_t, Entry>::iterator headLocked();
    void readyInsertLocked(uint64_t offset, Entry entry);
    Entry readyTakeLocked(std::map<uint64_t, Entry>::iterator it);
    void onAppended(ferry_status status, uint64_t offset, const std::string &error); // storage thread
    void onAppendsResumed(ferry_status status, uint64_t next, const std::string &error); // storage thread
    void resyncAppendsLocked(); // once nothing is in flight after a failure: ask the log where it ends
    uint64_t readyCountLocked() const { return ready_.size() + (next_ - loadedUpTo_) - holesAhead_; }
    uint64_t expiryOf(const Entry &e) const; // wall ms; UINT64_MAX: never
    void expireLocked(Aftermath &after);
    void enforceLengthLocked(Aftermath &after);
    void armTtlTimerLocked();
    void armExpiresTimerLocked();
    void releaseCreditLocked(Subscription *sub, Aftermath &after);
    void finish(Aftermath &after);
    void serveGetLocked(const PendingGet &g, std::vector<std::function<void()>> &posts);
    void sendDeliveries(std::vector<Delivery> &deliveries);
    void requestFillLocked();
    void onFilled(std::vector<std::pair<uint64_t, MessagePtr>> records, uint64_t nextAtSubmit, ferry_status status,
                  const std::string &error);
    void ackStorage(uint64_t offset);
    ferry_status nack(const SubscriptionPtr &sub, uint64_t offset, bool multiple, bool requeue, bool isAck);
    std::map<uint64_t, Unacked>::iterator settleLocked(std::map<uint64_t, Unacked>::iterator it, bool requeue,
                                                       bool isAck, Aftermath &after);
    void wakeWaitersLocked(std::vector<Waiter> &woken);
    void expireWaiter(uint64_t waiterId);
    void registerWaiterLocked(const ConnectionLinkPtr &link, uint64_t correlationId, uint64_t from,
                              uint32_t maxMessages, uint32_t waitMs);
    void servePull(const ConnectionLinkPtr &link, uint64_t correlationId, uint64_t from, uint32_t maxMessages,
                   uint32_t waitMs);
    // Ready and unacked messages from `from` on, in offset order (a transient queue holds all of them in memory).
    std::vector<std::pair<uint64_t, MessagePtr>> inMemoryLocked(uint64_t from, uint32_t maxMessages) const;
    // Storage thread: the queue's stored records from `from` on, decoded.
    static ferry_status readStored(StorageSession &s, uint64_t queueId, const std::string &queueName, uint64_t from,
                                   uint32_t maxMessages, std::vector<std::pair<uint64_t, MessagePtr>> &out);
    static void sendPullResult(const ConnectionLinkPtr &link, const std::string &queueName, uint64_t correlationId,
                               std::vector<std::pair<uint64_t, MessagePtr>> messages, uint64_t nextOffset,
                               ferry_status status, std::string error);

    const uint64_t id_;
    const std::string name_;
    const uint32_t flags_;
    StorageEngine *const storage_;
    Scheduler *const scheduler_;
    const uint64_t startTimeMs_;

    std::atomic<uint64_t> low_;
    std::atomic<AppendObserver *> observer_{nullptr};
    std::atomic<QueueEvents *> events_{nullptr};
    std::atomic<uint64_t> owner_{0};
    const QueueArgs args_;
    // Priority queues: (priority, offset) in dispatch order (highest priority first, then lowest offset).
    struct PriorityOrder {
        bool operator()(const std::pair<uint32_t, uint64_t> &a, const std::pair<uint32_t, uint64_t> &b) const
        {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        }
    };
    std::set<std::pair<uint32_t, uint64_t>, PriorityOrder> priorityOrder_;
    std::vector<PendingGet> pendingGets_;
    bool hadConsumer_ = false;
    uint64_t ttlTimerAt_ = 0; // wall ms the TTL timer is armed for; 0: none
    uint64_t ttlTimerId_ = 0;
    uint64_t lastUsedMs_ = 0;
    uint64_t expiresTimerId_ = 0;
    mutable std::mutex mutex_;
    bool deleted_ = false;
    uint64_t next_;
    uint64_t loadedUpTo_;
    // A failed append (a full disk): from the first failure until the log's end is known again, publishes are
    // refused and what was numbered but not stored is dropped (onAppended / onAppendsResumed).
    uint64_t appendsInFlight_ = 0;
    bool appendFailed_ = false;
    bool resyncing_ = false;
    uint64_t firstFailedOffset_ = 0;
    ferry_status appendFailStatus_ = FERRY_OK;
    std::string appendFailError_;
    uint64_t deliveredUpTo_ = 0;  // one past the highest offset delivered
    uint64_t redeliverBelow_ = 0; // loaded records below this were delivered before the restart
    uint64_t holesAhead_ = 0; // offsets in [loadedUpTo_, next_) with no readable record (acked before a restart)
    bool fillPending_ = false;
    std::map<uint64_t, Entry> ready_;
    uint64_t readyBytes_ = 0;
    std::map<uint64_t, Unacked> unacked_;
    std::vector<SubscriptionPtr> consumers_;
    size_t roundRobin_ = 0;
    std::vector<Waiter> waiters_;
    std::map<std::string, uint64_t> transientOffsets_;
    uint64_t nextWaiterId_ = 1;
};

using QueuePtr = std::shared_ptr<Queue>;

} // namespace ferry
