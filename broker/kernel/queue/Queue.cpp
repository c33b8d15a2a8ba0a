#include "queue/Queue.h"

#include "log/Logging.h"
#include "sched/Scheduler.h"
#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <sstream>

namespace ferry {

namespace {
// The in-memory window of a durable queue, and how much one refill reads from storage.
constexpr size_t kWindowMessages = 65536;
constexpr uint64_t kWindowBytes = 64ull << 20;
constexpr uint32_t kFillMessages = 1024;
constexpr uint64_t kFillBytes = 8ull << 20;
// A pull reads at most this many bytes from storage in one go.
constexpr uint64_t kPullBytes = 16ull << 20;
// Longest single timer wait (the scheduler takes 32-bit milliseconds); longer waits re-arm.
constexpr uint64_t kMaxTimerMs = 3600u * 1000u;

uint64_t wallMs()
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

// A metadata text field: 'x' then hex, so it is never empty and always reads back.
std::string hex(const std::string &s) { return "x" + toHex(s); }

bool unhex(const std::string &s, std::string *out)
{
    return !s.empty() && s[0] == 'x' && fromHex(std::string_view(s).substr(1), out);
}
} // namespace

// ---- QueueArgs ----------------------------------------------------------------------------------------------------

bool QueueArgs::operator==(const QueueArgs &o) const
{
    return messageTtlMs == o.messageTtlMs && expiresMs == o.expiresMs && maxLength == o.maxLength &&
           maxLengthBytes == o.maxLengthBytes && overflow == o.overflow && maxPriority == o.maxPriority &&
           singleActiveConsumer == o.singleActiveConsumer && hasDeadLetterExchange == o.hasDeadLetterExchange &&
           deadLetterExchange == o.deadLetterExchange && hasDeadLetterRoutingKey == o.hasDeadLetterRoutingKey &&
           deadLetterRoutingKey == o.deadLetterRoutingKey;
}

std::string QueueArgs::encode() const
{
    std::ostringstream out;
    out << messageTtlMs << ' ' << expiresMs << ' ' << maxLength << ' ' << maxLengthBytes << ' ' << overflow << ' '
        << maxPriority << ' ' << (singleActiveConsumer ? 1 : 0) << ' ' << (hasDeadLetterExchange ? 1 : 0) << ' '
        << hex(deadLetterExchange) << ' ' << (hasDeadLetterRoutingKey ? 1 : 0) << ' ' << hex(deadLetterRoutingKey);
    return out.str();
}

bool QueueArgs::decode(std::string_view text, QueueArgs *out)
{
    std::istringstream in{std::string(text)};
    QueueArgs a;
    int sac = 0, dlx = 0, dlrk = 0;
    std::string x, rk;
    in >> a.messageTtlMs >> a.expiresMs >> a.maxLength >> a.maxLengthBytes >> a.overflow >> a.maxPriority >> sac >>
        dlx >> x >> dlrk >> rk;
    if (in.fail() || !unhex(x, &a.deadLetterExchange) || !unhex(rk, &a.deadLetterRoutingKey))
        return false;
    a.singleActiveConsumer = sac != 0;
    a.hasDeadLetterExchange = dlx != 0;
    a.hasDeadLetterRoutingKey = dlrk != 0;
    *out = std::move(a);
    return true;
}

const char *deadLetterReasonName(DeadLetterReason reason)
{
    switch (reason) {
    case DeadLetterReason::Rejected:
        return "rejected";
    case DeadLetterReason::Expired:
        return "expired";
    case DeadLetterReason::MaxLength:
        return "maxlen";
    }
    return "rejected";
}

// ---- Queue --------------------------------------------------------------------------------------------------------

Queue::Queue(uint64_t id, std::string name, uint32_t flags, uint64_t low, uint64_t next, StorageEngine *storage,
             Scheduler *scheduler, uint64_t startTimeMs, QueueArgs args)
    : id_(id), name_(std::move(name)), flags_(flags), storage_(storage), scheduler_(scheduler),
      startTimeMs_(startTimeMs), low_(low), args_(std::move(args)), next_(next), loadedUpTo_(low)
{
    lastUsedMs_ = wallMs();
}

void Queue::setRecovered(uint64_t live, uint64_t deliveredUpTo)
{
    std::lock_guard lock(mutex_);
    const uint64_t span = next_ - loadedUpTo_;
    holesAhead_ = live < span ? span - live : 0;
    redeliverBelow_ = deliveredUpTo_ = deliveredUpTo;
}

uint64_t Queue::deliveredUpTo() const
{
    std::lock_guard lock(mutex_);
    return deliveredUpTo_;
}

uint64_t Queue::next() const
{
    std::lock_guard lock(mutex_);
    return next_;
}

QueueCounts Queue::counts() const
{
    std::lock_guard lock(mutex_);
    QueueCounts c;
    c.ready = readyCountLocked();
    c.unacked = unacked_.size();
    c.consumers = consumers_.size();
    return c;
}

std::map<uint64_t, Queue::Entry>::iterator Queue::headLocked()
{
    if (args_.maxPriority == 0 || priorityOrder_.empty())
        return ready_.begin();
    return ready_.find(priorityOrder_.begin()->second);
}

void Queue::readyInsertLocked(uint64_t offset, Entry entry)
{
    readyBytes_ += entry.message->body.size();
    if (args_.maxPriority > 0)
        priorityOrder_.emplace(std::min(entry.message->priority, args_.maxPriority), offset);
    ready_.emplace(offset, std::move(entry));
}

Queue::Entry Queue::readyTakeLocked(std::map<uint64_t, Entry>::iterator it)
{
    Entry entry = std::move(it->second);
    readyBytes_ -= entry.message->body.size();
    if (args_.maxPriority > 0)
        priorityOrder_.erase({std::min(entry.message->priority, args_.maxPriority), it->first});
    ready_.erase(it);
    return entry;
}

uint64_t Queue::expiryOf(const Entry &e) const
{
    uint64_t ttl = UINT64_MAX;
    if (args_.messageTtlMs >= 0)
        ttl = static_cast<uint64_t>(args_.messageTtlMs);
    if (e.message->flags & FERRY_MESSAGE_HAS_TTL)
        ttl = std::min(ttl, e.message->ttlMs);
    if (ttl == UINT64_MAX)
        return UINT64_MAX;
    return e.message->storeTimeMs + ttl;
}

void Queue::expireLocked(Aftermath &after)
{
    uint64_t now = 0;
    while (!ready_.empty()) {
        auto it = headLocked();
        const uint64_t due = expiryOf(it->second);
        if (due == UINT64_MAX)
            return;
        if (now == 0)
            now = wallMs();
        if (due > now)
            return;
        const uint64_t offset = it->first;
        Entry e = readyTakeLocked(it);
        ackStorage(offset);
        if (args_.hasDeadLetterExchange)
            after.expired.push_back(std::move(e.message));
    }
}

void Queue::enforceLengthLocked(Aftermath &after)
{
    if (args_.overflow != FERRY_OVERFLOW_DROP_HEAD)
        return;
    while (!ready_.empty() &&
           ((args_.maxLength >= 0 && readyCountLocked() > static_cast<uint64_t>(args_.maxLength)) ||
            (args_.maxLengthBytes >= 0 && readyBytes_ > static_cast<uint64_t>(args_.maxLengthBytes)))) {
        auto it = headLocked();
        const uint64_t offset = it->first;
        Entry e = readyTakeLocked(it);
        ackStorage(offset);
        if (args_.hasDeadLetterExchange)
            after.dropped.push_back(std::move(e.message));
    }
}

void Queue::armTtlTimerLocked()
{
    // A slave's queues expire nothing themselves: the master's expiries arrive as replicated acks.
    if (ready_.empty() || deleted_ || (storage_ && storage_->readOnly()))
        return;
    const uint64_t due = expiryOf(headLocked()->second);
    if (due == UINT64_MAX)
        return;
    if (ttlTimerId_ != 0 && ttlTimerAt_ <= due)
        return;
    if (ttlTimerId_ != 0)
        scheduler_->cancel(ttlTimerId_);
    const uint64_t now = wallMs();
    const uint64_t delay = due > now ? std::min(due - now, kMaxTimerMs) : 0;
    ttlTimerAt_ = now + delay;
    std::weak_ptr<Queue> weak = weak_from_this();
    ttlTimerId_ = scheduler_->after(static_cast<uint32_t>(delay), [weak] {
        auto self = weak.lock();
        if (!self)
            return;
        Aftermath after;
        {
            std::lock_guard lock(self->mutex_);
            self->ttlTimerId_ = 0;
            self->ttlTimerAt_ = 0;
            if (self->deleted_)
                return;
            self->expireLocked(after);
            self->armTtlTimerLocked();
        }
        self->finish(after);
    });
}

void Queue::touch()
{
    std::lock_guard lock(mutex_);
    lastUsedMs_ = wallMs();
    armExpiresTimerLocked();
}

void Queue::armExpiresTimerLocked()
{
    // Nor does a slave delete unused queues: the master's deletion is replicated.
    if (args_.expiresMs <= 0 || deleted_ || !consumers_.empty() || (storage_ && storage_->readOnly()))
        return;
    if (expiresTimerId_ != 0)
        scheduler_->cancel(expiresTimerId_);
    const uint64_t now = wallMs();
    const uint64_t due = lastUsedMs_ + static_cast<uint64_t>(args_.expiresMs);
    const uint64_t delay = due > now ? std::min(due - now, kMaxTimerMs) : 0;
    std::weak_ptr<Queue> weak = weak_from_this();
    expiresTimerId_ = scheduler_->after(static_cast<uint32_t>(delay), [weak] {
        auto self = weak.lock();
        if (!self)
            return;
        Aftermath after;
        {
            std::lock_guard lock(self->mutex_);
            self->expiresTimerId_ = 0;
            if (self->deleted_ || !self->consumers_.empty())
                return;
            if (wallMs() >= self->lastUsedMs_ + static_cast<uint64_t>(self->args_.expiresMs))
                after.deleteUnused = true;
            else
                self->armExpiresTimerLocked();
        }
        self->finish(after);
    });
}

void Queue::onAppended(ferry_status status, uint64_t offset, const std::string &error)
{
    std::lock_guard lock(mutex_);
    if (appendsInFlight_ > 0)
        --appendsInFlight_;
    if (status != FERRY_OK && !appendFailed_) {
        kernelLogger()->error(
            "queue '{}': storing offset {} failed ({}): {}; publishes to it are refused until the queue "
            "has caught up with its log",
            name_, offset, status, error);
        appendFailed_ = true;
        firstFailedOffset_ = offset;
        appendFailStatus_ = status;
        appendFailError_ = error;
    }
    resyncAppendsLocked();
}

void Queue::resyncAppendsLocked()
{
    if (!appendFailed_ || appendsInFlight_ > 0 || resyncing_)
        return;
    // Every append after the failed one failed too (StorageEngine): the log ends at firstFailedOffset_.
    resyncing_ = true;
    std::weak_ptr<Queue> weak = weak_from_this();
    storage_->resumeAppends(id_, [weak](ferry_status st, uint64_t next, const std::string &err) {
        if (auto self = weak.lock())
            self->onAppendsResumed(st, next, err);
    });
}

void Queue::onAppendsResumed(ferry_status status, uint64_t next, const std::string &error)
{
    Aftermath after;
    {
        std::lock_guard lock(mutex_);
        resyncing_ = false;
        if (status != FERRY_OK) {
            kernelLogger()->error("queue '{}': reading its log's bounds after a failed write failed ({}): {}", name_,
                                  status, error);
            return; // still refusing; the next publish tries again (resyncAppendsLocked)
        }
        if (next != firstFailedOffset_)
            kernelLogger()->warn("queue '{}': the log ends at {}, the first unstored message was {}", name_, next,
                        firstFailedOffset_);
        // What was numbered but not stored goes: ready copies, and deliveries made before the failure was known
        // (their publishers got a nack; a later ack of them finds nothing).
        uint64_t dropped = 0;
        for (auto it = ready_.lower_bound(next); it != ready_.end(); ++dropped)
            readyTakeLocked(it++);
        for (auto it = unacked_.lower_bound(next); it != unacked_.end(); ++dropped) {
            releaseCreditLocked(it->second.sub, after);
            it = unacked_.erase(it);
        }
        next_ = next;
        loadedUpTo_ = std::min(loadedUpTo_, next_);
        holesAhead_ = 0;
        appendFailed_ = false;
        kernelLogger()->info("queue '{}': appends resume at offset {} ({} unstored messages dropped)", name_, next_,
                             dropped);
    }
    finish(after);
}

void Queue::releaseCreditLocked(Subscription *sub, Aftermath &after)
{
    if (sub->inFlight > 0)
        --sub->inFlight;
    if (sub->group) {
        const uint32_t before = sub->group->inFlight.fetch_sub(1, std::memory_order_acq_rel);
        const uint32_t limit = sub->group->limit.load(std::memory_order_acquire);
        if (limit != 0 && before >= limit) {
            for (const SubscriptionPtr &c : consumers_)
                if (c.get() == sub) {
                    after.creditFreed.push_back(c);
                    break;
                }
        }
    }
}

void Queue::finish(Aftermath &after)
{
    QueueEvents *events = events_.load(std::memory_order_acquire);
    auto self = shared_from_this();
    if (events) {
        for (const MessagePtr &m : after.expired)
            events->deadLetter(self, m, DeadLetterReason::Expired);
        for (const MessagePtr &m : after.dropped)
            events->deadLetter(self, m, DeadLetterReason::MaxLength);
        for (const MessagePtr &m : after.rejected)
            events->deadLetter(self, m, DeadLetterReason::Rejected);
    }
    for (const SubscriptionPtr &sub : after.creditFreed) {
        std::vector<QueuePtr> queues;
        {
            std::lock_guard lock(sub->group->mutex);
            for (auto it = sub->group->queues.begin(); it != sub->group->queues.end();) {
                if (auto q = it->lock()) {
                    queues.push_back(std::move(q));
                    ++it;
                } else {
                    it = sub->group->queues.erase(it);
                }
            }
        }
        for (const QueuePtr &q : queues)
            if (q.get() != this)
                q->kick();
    }
    if (after.deleteUnused && events)
        events->deleteUnused(self);
}

void Queue::publish(std::shared_ptr<Message> message, PublishDone done)
{
    message->storeTimeMs = wallMs();
    message->id = newMessageId(message->storeTimeMs);
    if (message->bornTimeMs == 0)
        message->bornTimeMs = message->storeTimeMs;
    append(std::move(message), std::move(done));
}

void Queue::append(MessagePtr msg, PublishDone done)
{
    const bool waitForStore = durable() && msg->persistent();

    std::vector<Delivery> deliveries;
    std::vector<Waiter> woken;
    std::vector<PendingGet> gets;
    Aftermath after;
    uint64_t offset;
    {
        std::unique_lock lock(mutex_);
        if (deleted_) {
            lock.unlock();
            if (done)
                done(FERRY_E_CLOSED, 0, "queue '" + name_ + "' was deleted");
            return;
        }
        if (args_.overflow != FERRY_OVERFLOW_DROP_HEAD &&
            ((args_.maxLength >= 0 && readyCountLocked() >= static_cast<uint64_t>(args_.maxLength)) ||
             (args_.maxLengthBytes >= 0 &&
              readyBytes_ + msg->body.size() > static_cast<uint64_t>(args_.maxLengthBytes)))) {
            if (args_.overflow == FERRY_OVERFLOW_REJECT_PUBLISH_DLX && args_.hasDeadLetterExchange)
                after.dropped.push_back(msg);
            lock.unlock();
            finish(after);
            if (done)
                done(FERRY_E_NO_SPACE, 0, "queue '" + name_ + "' is full");
            return;
        }
        if (durable() && appendFailed_) {
            // The log refused a write (a full disk) and the queue has not caught up with it yet: refuse at once.
            const ferry_status st = appendFailStatus_;
            const std::string err = "queue '" + name_ + "': storage refused a write: " + appendFailError_;
            resyncAppendsLocked(); // again, if the last attempt could not read the log's bounds
            lock.unlock();
            if (done)
                done(st, 0, err);
            return;
        }
        offset = next_++;
        if (durable()) {
            // Submitted under the queue's lock so the storage thread sees this queue's appends in offset order.
            ++appendsInFlight_;
            std::weak_ptr<Queue> weak = weak_from_this();
            storage_->append(
                id_, msg, [weak, offset, done, waitForStore](ferry_status st, uint64_t storedAt, const std::string &err) {
                    auto self = weak.lock();
                    if (st == FERRY_OK && storedAt != offset)
                        kernelLogger()->error("queue '{}': storage assigned offset {} to the message the kernel "
                                              "numbered {}",
                                              self ? self->name_ : std::string("?"), storedAt, offset);
                    // Replica statuses (SYNC_MASTER) say the message is stored here but not on a slave: the queue
                    // keeps it; only the publisher hears the status.
                    const bool stored = st == FERRY_OK || st == FERRY_E_REPLICA_TIMEOUT || st == FERRY_E_NO_REPLICA;
                    if (self)
                        self->onAppended(stored ? FERRY_OK : st, offset, err);
                    if (waitForStore && done)
                        done(st, offset, err);
                });
        }
        if (AppendObserver *observer = observer_.load(std::memory_order_acquire);
            observer != nullptr && durable() && (flags_ & kCursorQueue) && !(flags_ & kInternalStore) &&
            !msg->keys.empty())
            observer->onAppend(id_, offset, *msg);
        // Cursor queues and kernel stores keep no lease window: their readers go to storage by offset.
        const bool windowed = (flags_ & (kCursorQueue | kInternalStore)) == 0;
        const bool fits = windowed && (!durable() || (ready_.size() < kWindowMessages && readyBytes_ < kWindowBytes));
        if (loadedUpTo_ == offset && fits) {
            readyInsertLocked(offset, Entry{msg, 0});
            loadedUpTo_ = offset + 1;
        }
        dispatchLocked(deliveries);
        if (windowed) {
            if (args_.maxLength >= 0 || args_.maxLengthBytes >= 0)
                enforceLengthLocked(after);
            expireLocked(after);
            armTtlTimerLocked();
            gets.swap(pendingGets_);
        }
        wakeWaitersLocked(woken);
    }
    if (!waitForStore && done)
        done(FERRY_OK, offset, {});
    sendDeliveries(deliveries);
    for (Waiter &w : woken)
        servePull(w.link, w.correlationId, w.from, w.maxMessages, 0);
    if (!gets.empty()) {
        std::vector<std::function<void()>> posts;
        {
            std::lock_guard lock(mutex_);
            for (const PendingGet &g : gets)
                serveGetLocked(g, posts);
        }
        for (auto &p : posts)
            p();
    }
    finish(after);
}

void Queue::dispatchLocked(std::vector<Delivery> &out)
{
    while (!ready_.empty() && !consumers_.empty()) {
        // A single-active-consumer queue only ever delivers to its oldest consumer.
        const size_t n = args_.singleActiveConsumer ? 1 : consumers_.size();
        SubscriptionPtr chosen;
        for (size_t i = 0; i < n; ++i) {
            const SubscriptionPtr &s = consumers_[(roundRobin_ + i) % n];
            if (s->paused.load(std::memory_order_relaxed))
                continue;
            if (s->prefetch != 0 && s->inFlight >= s->prefetch)
                continue;
            if (!s->autoAck && s->group) {
                const uint32_t limit = s->group->limit.load(std::memory_order_acquire);
                if (limit != 0 && s->group->inFlight.load(std::memory_order_acquire) >= limit)
                    continue;
            }
            chosen = s;
            roundRobin_ = (roundRobin_ + i + 1) % n;
            break;
        }
        if (!chosen)
            break;
        auto it = headLocked();
        const uint64_t offset = it->first;
        Entry entry = readyTakeLocked(it);
        ++entry.deliveryCount;
        deliveredUpTo_ = std::max(deliveredUpTo_, offset + 1);
        if (chosen->autoAck) {
            ackStorage(offset);
        } else {
            unacked_.emplace(offset, Unacked{entry, chosen.get()});
            ++chosen->inFlight;
            if (chosen->group)
                chosen->group->inFlight.fetch_add(1, std::memory_order_acq_rel);
        }
        out.push_back({chosen, offset, std::move(entry)});
    }
    if (ready_.size() < kFillMessages / 2)
        requestFillLocked();
}

void Queue::sendDeliveries(std::vector<Delivery> &deliveries)
{
    if (deliveries.empty())
        return;
    auto self = shared_from_this();
    for (Delivery &d : deliveries) {
        d.sub->link->post([self, msg = d.entry.message, count = d.entry.deliveryCount, subId = d.sub->id,
                           offset = d.offset](Connection &c) {
            ferry_message view;
            msg->fillView(&view);
            ferry_delivery delivery{};
            delivery.struct_size = sizeof delivery;
            delivery.flags = count > 1 ? FERRY_DELIVERY_REDELIVERED : 0;
            delivery.subscription_id = subId;
            delivery.queue = self->name_.data();
            delivery.queue_len = self->name_.size();
            delivery.offset = offset;
            delivery.delivery_count = count;
            delivery.message = &view;
            c.protocol().on_delivery(c.session(), &delivery);
        });
    }
}

void Queue::kick()
{
    std::vector<Delivery> deliveries;
    {
        std::lock_guard lock(mutex_);
        if (deleted_)
            return;
        dispatchLocked(deliveries);
    }
    sendDeliveries(deliveries);
}

uint64_t Queue::purge()
{
    std::lock_guard lock(mutex_);
    if (deleted_)
        return 0;
    uint64_t count = ready_.size();
    for (const auto &[offset, e] : ready_)
        ackStorage(offset);
    ready_.clear();
    priorityOrder_.clear();
    readyBytes_ = 0;
    // Ready messages not loaded into the window yet: acked by offset without reading them.
    for (uint64_t o = loadedUpTo_; o < next_; ++o)
        ackStorage(o);
    count += next_ - loadedUpTo_;
    loadedUpTo_ = next_;
    return count;
}

void Queue::serveGetLocked(const PendingGet &g, std::vector<std::function<void()>> &posts)
{
    auto self = shared_from_this();
    const ConnectionLinkPtr link = g.sub->link;
    const uint64_t correlationId = g.correlationId;
    if (deleted_) {
        posts.push_back([link, correlationId, self] {
            link->post([correlationId, self](Connection &c) {
                const std::string text = "queue '" + self->name_ + "' was deleted";
                ferry_result r{};
                r.struct_size = sizeof r;
                r.correlation_id = correlationId;
                r.status = FERRY_E_CLOSED;
                r.text = text.data();
                r.text_len = text.size();
                c.protocol().on_result(c.session(), &r);
            });
        });
        return;
    }
    if (ready_.empty() && loadedUpTo_ < next_) {
        pendingGets_.push_back(g); // served once the window is filled
        requestFillLocked();
        return;
    }
    uint64_t delivered = 0;
    if (!ready_.empty()) {
        auto it = headLocked();
        const uint64_t offset = it->first;
        Entry entry = readyTakeLocked(it);
        ++entry.deliveryCount;
        deliveredUpTo_ = std::max(deliveredUpTo_, offset + 1);
        if (g.sub->autoAck) {
            ackStorage(offset);
        } else {
            unacked_.emplace(offset, Unacked{entry, g.sub.get()});
            ++g.sub->inFlight;
        }
        delivered = 1;
        const uint64_t left = readyCountLocked();
        posts.push_back([link, self, msg = entry.message, count = entry.deliveryCount, subId = g.sub->id, offset,
                         correlationId, left] {
            link->post([self, msg, count, subId, offset, correlationId, left](Connection &c) {
                ferry_message view;
                msg->fillView(&view);
                ferry_delivery delivery{};
                delivery.struct_size = sizeof delivery;
                delivery.flags = FERRY_DELIVERY_GET | (count > 1 ? FERRY_DELIVERY_REDELIVERED : 0);
                delivery.subscription_id = subId;
                delivery.correlation_id = correlationId;
                delivery.queue = self->name_.data();
                delivery.queue_len = self->name_.size();
                delivery.offset = offset;
                delivery.delivery_count = count;
                delivery.message = &view;
                delivery.ready_count = left;
                c.protocol().on_delivery(c.session(), &delivery);
            });
        });
        if (ready_.size() < kFillMessages / 2)
            requestFillLocked();
    }
    posts.push_back([link, correlationId, delivered] {
        link->post([correlationId, delivered](Connection &c) {
            ferry_result r{};
            r.struct_size = sizeof r;
            r.correlation_id = correlationId;
            r.status = FERRY_OK;
            r.message_count = delivered;
            c.protocol().on_result(c.session(), &r);
        });
    });
}

void Queue::get(const SubscriptionPtr &sub, uint64_t correlationId)
{
    std::vector<std::function<void()>> posts;
    Aftermath after;
    {
        std::lock_guard lock(mutex_);
        lastUsedMs_ = wallMs();
        if (!deleted_) {
            expireLocked(after);
            armExpiresTimerLocked();
        }
        serveGetLocked({sub, correlationId}, posts);
    }
    for (auto &p : posts)
        p();
    finish(after);
}

void Queue::requestFillLocked()
{
    if (!durable() || fillPending_ || deleted_ || loadedUpTo_ >= next_)
        return;
    if (ready_.size() >= kWindowMessages || readyBytes_ >= kWindowBytes)
        return;
    fillPending_ = true;
    const uint64_t from = loadedUpTo_;
    const uint64_t nextAtSubmit = next_;
    auto records = std::make_shared<std::vector<std::pair<uint64_t, MessagePtr>>>();
    const uint64_t queueId = id_;
    const std::string queueName = name_;
    std::weak_ptr<Queue> weak = weak_from_this();
    storage_->submit(
        [records, queueId, queueName, from](StorageSession &s) {
            return s.read(queueId, from, kFillMessages, kFillBytes, [&](const ferry_storage_record &rec) {
                auto m = MessageCodec::decode(rec.data, rec.len, rec.store_time_ms);
                if (!m)
                    kernelLogger()->error("queue '{}': record at offset {} is not a kernel message record; skipped",
                                          queueName, rec.offset);
                else
                    records->emplace_back(rec.offset, std::move(m));
                return true;
            });
        },
        [weak, records, nextAtSubmit](ferry_status st, const std::string &err) {
            if (auto self = weak.lock())
                self->onFilled(std::move(*records), nextAtSubmit, st, err);
        },
        false);
}

void Queue::onFilled(std::vector<std::pair<uint64_t, MessagePtr>> records, uint64_t nextAtSubmit, ferry_status status,
                     const std::string &error)
{
    std::vector<Delivery> deliveries;
    std::vector<std::function<void()>> posts;
    Aftermath after;
    {
        std::lock_guard lock(mutex_);
        fillPending_ = false;
        if (deleted_)
            return;
        if (status != FERRY_OK && status != FERRY_E_CORRUPT) {
            kernelLogger()->error("queue '{}': reading from storage at offset {} failed ({}): {}", name_, loadedUpTo_,
                                  status, error);
            return;
        }
        uint64_t expected = loadedUpTo_; // the holes passed over by this read are no longer ahead
        for (auto &[offset, msg] : records) {
            if (offset < loadedUpTo_)
                continue;
            holesAhead_ -= std::min(holesAhead_, offset - expected);
            expected = offset + 1;
            // A non-persistent message stored before this broker started does not survive the restart.
            if (!msg->persistent() && msg->storeTimeMs < startTimeMs_) {
                ackStorage(offset);
                continue;
            }
            // Delivered before the restart (the last delivery mark says so): it comes back redelivered.
            readyInsertLocked(offset, Entry{msg, offset < redeliverBelow_ ? 1u : 0u});
        }
        if (!records.empty()) {
            loadedUpTo_ = std::max(loadedUpTo_, records.back().first + 1);
        } else if (status == FERRY_E_CORRUPT) {
            kernelLogger()->error("queue '{}': skipping a corrupt record at or after offset {}: {}", name_, loadedUpTo_,
                                  error);
            ++loadedUpTo_;
        } else {
            if (nextAtSubmit > expected)
                holesAhead_ -= std::min(holesAhead_, nextAtSubmit - expected);
            loadedUpTo_ = std::max(loadedUpTo_, nextAtSubmit);
        }
        if (status == FERRY_E_CORRUPT && !records.empty())
            kernelLogger()->error("queue '{}': corrupt record after offset {}: {}", name_, records.back().first, error);
        expireLocked(after);
        dispatchLocked(deliveries);
        if (args_.maxLength >= 0 || args_.maxLengthBytes >= 0)
            enforceLengthLocked(after);
        armTtlTimerLocked();
        std::vector<PendingGet> gets;
        gets.swap(pendingGets_);
        for (const PendingGet &g : gets)
            serveGetLocked(g, posts);
    }
    sendDeliveries(deliveries);
    for (auto &p : posts)
        p();
    finish(after);
}

void Queue::ackStorage(uint64_t offset)
{
    if (!durable())
        return;
    const uint64_t queueId = id_;
    storage_->submit([queueId, offset](StorageSession &s) { return s.ack(queueId, offset); }, {}, true);
}

ferry_status Queue::subscribe(const SubscriptionPtr &sub, bool exclusive)
{
    std::vector<Delivery> deliveries;
    {
        std::lock_guard lock(mutex_);
        if (deleted_)
            return FERRY_E_CLOSED;
        if (exclusive && !consumers_.empty())
            return FERRY_E_ACCESS_DENIED;
        for (const SubscriptionPtr &s : consumers_)
            if (s->exclusive)
                return FERRY_E_ACCESS_DENIED;
        sub->exclusive = exclusive;
        consumers_.push_back(sub);
        hadConsumer_ = true;
        lastUsedMs_ = wallMs();
        if (expiresTimerId_ != 0) {
            scheduler_->cancel(expiresTimerId_);
            expiresTimerId_ = 0;
        }
        dispatchLocked(deliveries);
    }
    if (sub->group) {
        std::lock_guard lock(sub->group->mutex);
        sub->group->queues.push_back(weak_from_this());
    }
    sendDeliveries(deliveries);
    return FERRY_OK;
}

void Queue::unsubscribe(const SubscriptionPtr &sub)
{
    std::vector<Delivery> deliveries;
    Aftermath after;
    {
        std::lock_guard lock(mutex_);
        const size_t before = consumers_.size();
        std::erase(consumers_, sub);
        const bool wasConsumer = consumers_.size() != before;
        for (auto it = unacked_.begin(); it != unacked_.end();) {
            if (it->second.sub == sub.get()) {
                if (sub->group)
                    sub->group->inFlight.fetch_sub(1, std::memory_order_acq_rel);
                readyInsertLocked(it->first, std::move(it->second.entry));
                it = unacked_.erase(it);
            } else {
                ++it;
            }
        }
        sub->inFlight = 0;
        if (roundRobin_ >= consumers_.size())
            roundRobin_ = 0;
        if (!deleted_) {
            dispatchLocked(deliveries);
            expireLocked(after);
            armTtlTimerLocked();
            if (wasConsumer && consumers_.empty()) {
                lastUsedMs_ = wallMs();
                if ((flags_ & FERRY_QUEUE_AUTO_DELETE) && hadConsumer_)
                    after.deleteUnused = true;
                else
                    armExpiresTimerLocked();
            }
        }
    }
    sendDeliveries(deliveries);
    if (sub->group && sub->group->limit.load() != 0) {
        // Requeued deliveries gave their group credit back.
        std::vector<QueuePtr> queues;
        {
            std::lock_guard lock(sub->group->mutex);
            for (const auto &w : sub->group->queues)
                if (auto q = w.lock(); q && q.get() != this)
                    queues.push_back(std::move(q));
        }
        for (const QueuePtr &q : queues)
            q->kick();
    }
    finish(after);
}

ferry_status Queue::ack(const SubscriptionPtr &sub, uint64_t offset, bool multiple)
{
    return nack(sub, offset, multiple, false, true);
}

ferry_status Queue::nack(const SubscriptionPtr &sub, uint64_t offset, bool multiple, bool requeue)
{
    return nack(sub, offset, multiple, requeue, false);
}

ferry_status Queue::nack(const SubscriptionPtr &sub, uint64_t offset, bool multiple, bool requeue, bool isAck)
{
    if (!multiple)
        return settleMany(sub, &offset, 1, isAck, requeue);
    std::vector<uint64_t> offsets;
    {
        std::lock_guard lock(mutex_);
        for (auto it = unacked_.begin(); it != unacked_.end() && it->first <= offset; ++it)
            if (it->second.sub == sub.get())
                offsets.push_back(it->first);
    }
    // Offsets settled meanwhile by another call are skipped by settleMany.
    return settleMany(sub, offsets.data(), offsets.size(), isAck, requeue);
}

ferry_status Queue::settleMany(const SubscriptionPtr &sub, const uint64_t *offsets, size_t count, bool isAck,
                               bool requeue)
{
    std::vector<Delivery> deliveries;
    Aftermath after;
    {
        std::lock_guard lock(mutex_);
        if (deleted_)
            return FERRY_E_CLOSED;
        size_t settled = 0;
        for (size_t i = 0; i < count; ++i) {
            auto it = unacked_.find(offsets[i]);
            if (it != unacked_.end() && it->second.sub == sub.get()) {
                settleLocked(it, requeue, isAck, after);
                ++settled;
            }
        }
        if (settled == 0)
            return FERRY_E_NOT_FOUND;
        dispatchLocked(deliveries);
        if (requeue) {
            expireLocked(after);
            armTtlTimerLocked();
        }
    }
    sendDeliveries(deliveries);
    finish(after);
    return FERRY_OK;
}

std::map<uint64_t, Queue::Unacked>::iterator Queue::settleLocked(std::map<uint64_t, Unacked>::iterator it,
                                                                  bool requeue, bool isAck, Aftermath &after)
{
    releaseCreditLocked(it->second.sub, after);
    if (requeue) {
        readyInsertLocked(it->first, std::move(it->second.entry));
    } else {
        ackStorage(it->first);
        if (!isAck && args_.hasDeadLetterExchange)
            after.rejected.push_back(it->second.entry.message);
    }
    return unacked_.erase(it);
}

void Queue::pull(const ConnectionLinkPtr &link, uint64_t correlationId, uint64_t from, uint32_t maxMessages,
                 uint32_t waitMs)
{
    servePull(link, correlationId, from, maxMessages, waitMs);
}

void Queue::registerWaiterLocked(const ConnectionLinkPtr &link, uint64_t correlationId, uint64_t from,
                                 uint32_t maxMessages, uint32_t waitMs)
{
    const uint64_t waiterId = nextWaiterId_++;
    std::weak_ptr<Queue> weak = weak_from_this();
    const uint64_t timerId = scheduler_->after(waitMs, [weak, waiterId] {
        if (auto self = weak.lock())
            self->expireWaiter(waiterId);
    });
    waiters_.push_back({waiterId, link, correlationId, from, maxMessages, timerId});
}

void Queue::expireWaiter(uint64_t waiterId)
{
    Waiter found{};
    uint64_t nextOffset = 0;
    {
        std::lock_guard lock(mutex_);
        auto it =
            std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter &w) { return w.waiterId == waiterId; });
        if (it == waiters_.end())
            return;
        found = std::move(*it);
        waiters_.erase(it);
        nextOffset = std::max(found.from, next_);
        if (found.from > next_)
            nextOffset = found.from;
    }
    sendPullResult(found.link, name_, found.correlationId, {}, nextOffset, FERRY_OK, {});
}

void Queue::wakeWaitersLocked(std::vector<Waiter> &woken)
{
    if (waiters_.empty())
        return;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->from < next_) {
            scheduler_->cancel(it->timerId);
            woken.push_back(std::move(*it));
            it = waiters_.erase(it);
        } else {
            ++it;
        }
    }
}

void Queue::replicaAdvance(uint64_t next)
{
    std::vector<Waiter> woken;
    {
        std::lock_guard lock(mutex_);
        if (deleted_ || next <= next_)
            return;
        next_ = next;
        wakeWaitersLocked(woken);
    }
    for (Waiter &w : woken)
        servePull(w.link, w.correlationId, w.from, w.maxMessages, 0);
}

void Queue::dropWaiters(uint64_t linkId)
{
    std::lock_guard lock(mutex_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->link->id() == linkId) {
            scheduler_->cancel(it->timerId);
            it = waiters_.erase(it);
        } else {
            ++it;
        }
    }
}

void Queue::servePull(const ConnectionLinkPtr &link, uint64_t correlationId, uint64_t from, uint32_t maxMessages,
                      uint32_t waitMs)
{
    if (maxMessages == 0)
        maxMessages = 32;
    std::unique_lock lock(mutex_);
    if (deleted_) {
        lock.unlock();
        sendPullResult(link, name_, correlationId, {}, from, FERRY_E_CLOSED, "queue '" + name_ + "' was deleted");
        return;
    }
    if (!durable()) {
        std::vector<std::pair<uint64_t, MessagePtr>> found = inMemoryLocked(from, maxMessages);
        if (found.empty() && waitMs > 0) {
            registerWaiterLocked(link, correlationId, from, maxMessages, waitMs);
            return;
        }
        const uint64_t nextOffset = found.empty() ? std::max(from, next_) : found.back().first + 1;
        lock.unlock();
        sendPullResult(link, name_, correlationId, std::move(found), nextOffset, FERRY_OK, {});
        return;
    }
    if (from >= next_ && waitMs > 0) {
        registerWaiterLocked(link, correlationId, from, maxMessages, waitMs);
        return;
    }
    // Durable: read from storage. Submitted under the lock so every append of an offset < next_ precedes the read.
    const uint64_t nextAtSubmit = next_;
    const uint64_t queueId = id_;
    const std::string queueName = name_;
    auto records = std::make_shared<std::vector<std::pair<uint64_t, MessagePtr>>>();
    std::weak_ptr<Queue> weak = weak_from_this();
    storage_->submit(
        [records, queueId, queueName, from, maxMessages](StorageSession &s) {
            return readStored(s, queueId, queueName, from, maxMessages, *records);
        },
        [weak, link, correlationId, from, maxMessages, waitMs, records, nextAtSubmit, queueName](
            ferry_status st, const std::string &err) {
            auto self = weak.lock();
            if (st == FERRY_OK && records->empty() && waitMs > 0 && self) {
                std::unique_lock relock(self->mutex_);
                if (!self->deleted_ && self->next_ == nextAtSubmit) {
                    self->registerWaiterLocked(link, correlationId, from, maxMessages, waitMs);
                    return;
                }
                relock.unlock();
                self->servePull(link, correlationId, from, maxMessages, 0);
                return;
            }
            const uint64_t nextOffset = records->empty() ? std::max(from, nextAtSubmit) : records->back().first + 1;
            sendPullResult(link, queueName, correlationId, std::move(*records), nextOffset, st,
                           st == FERRY_OK ? std::string() : err);
        },
        false);
}

std::vector<std::pair<uint64_t, MessagePtr>> Queue::inMemoryLocked(uint64_t from, uint32_t maxMessages) const
{
    // Everything not yet acked is in memory: merge ready and unacked in offset order.
    std::vector<std::pair<uint64_t, MessagePtr>> found;
    auto r = ready_.lower_bound(from);
    auto u = unacked_.lower_bound(from);
    while (found.size() < maxMessages && (r != ready_.end() || u != unacked_.end())) {
        if (u == unacked_.end() || (r != ready_.end() && r->first < u->first)) {
            found.emplace_back(r->first, r->second.message);
            ++r;
        } else {
            found.emplace_back(u->first, u->second.entry.message);
            ++u;
        }
    }
    return found;
}

ferry_status Queue::readStored(StorageSession &s, uint64_t queueId, const std::string &queueName, uint64_t from,
                               uint32_t maxMessages, std::vector<std::pair<uint64_t, MessagePtr>> &out)
{
    return s.read(queueId, from, maxMessages, kPullBytes, [&](const ferry_storage_record &rec) {
        auto m = MessageCodec::decode(rec.data, rec.len, rec.store_time_ms);
        if (m)
            out.emplace_back(rec.offset, std::move(m));
        else
            kernelLogger()->error("queue '{}': record at offset {} is not a kernel message record; skipped", queueName,
                                  rec.offset);
        return true;
    });
}

void Queue::browse(uint64_t from, uint32_t maxMessages, BrowseDone done)
{
    if (maxMessages == 0)
        maxMessages = 1;
    std::unique_lock lock(mutex_);
    if (deleted_) {
        lock.unlock();
        done(FERRY_E_CLOSED, {}, from, "queue '" + name_ + "' was deleted");
        return;
    }
    if (!durable()) {
        auto found = inMemoryLocked(from, maxMessages);
        const uint64_t nextOffset = found.empty() ? std::max(from, next_) : found.back().first + 1;
        lock.unlock();
        done(FERRY_OK, std::move(found), nextOffset, {});
        return;
    }
    // Submitted under the lock so every append of an offset < next_ precedes the read.
    const uint64_t nextAtSubmit = next_;
    auto records = std::make_shared<std::vector<std::pair<uint64_t, MessagePtr>>>();
    storage_->submit(
        [records, queueId = id_, queueName = name_, from, maxMessages](StorageSession &s) {
            return readStored(s, queueId, queueName, from, maxMessages, *records);
        },
        [records, done = std::move(done), from, nextAtSubmit](ferry_status st, const std::string &err) {
            const uint64_t nextOffset = records->empty() ? std::max(from, nextAtSubmit) : records->back().first + 1;
            done(st, std::move(*records), nextOffset, st == FERRY_OK ? std::string() : err);
        },
        false);
}

void Queue::seekTime(uint64_t timeMs, std::function<void(ferry_status, uint64_t, const std::string &)> done)
{
    if (!durable()) { // transient queues keep no time index: answer from their bounds
        done(FERRY_OK, timeMs == 0 ? low() : next(), {});
        return;
    }
    auto offset = std::make_shared<uint64_t>(0);
    storage_->submit(
        [queueId = id_, timeMs, offset](StorageSession &s) {
            if (s.vt().seek_time == nullptr)
                return FERRY_E_UNSUPPORTED;
            return s.vt().seek_time(s.storage(), queueId, timeMs, offset.get(), s.errBuf(), s.errCap());
        },
        [offset, done = std::move(done)](ferry_status st, const std::string &err) { done(st, *offset, err); }, false);
}

void Queue::sendPullResult(const ConnectionLinkPtr &link, const std::string &queueName, uint64_t correlationId,
                           std::vector<std::pair<uint64_t, MessagePtr>> messages, uint64_t nextOffset,
                           ferry_status status, std::string error)
{
    link->post([queueName, correlationId, messages = std::move(messages), nextOffset, status,
                error = std::move(error)](Connection &c) {
        for (const auto &[offset, msg] : messages) {
            ferry_message view;
            msg->fillView(&view);
            ferry_delivery delivery{};
            delivery.struct_size = sizeof delivery;
            delivery.correlation_id = correlationId;
            delivery.queue = queueName.data();
            delivery.queue_len = queueName.size();
            delivery.offset = offset;
            delivery.delivery_count = 1;
            delivery.message = &view;
            c.protocol().on_delivery(c.session(), &delivery);
        }
        ferry_result result{};
        result.struct_size = sizeof result;
        result.correlation_id = correlationId;
        result.status = status;
        result.text = error.empty() ? nullptr : error.data();
        result.text_len = error.size();
        result.offset = nextOffset;
        result.message_count = messages.size();
        c.protocol().on_result(c.session(), &result);
    });
}

bool Queue::deleted() const
{
    std::lock_guard lock(mutex_);
    return deleted_;
}

void Queue::commitOffset(const std::string &group, uint64_t offset,
                         std::function<void(ferry_status, const std::string &)> done)
{
    if (!durable()) {
        {
            std::lock_guard lock(mutex_);
            transientOffsets_[group] = offset;
        }
        done(FERRY_OK, {});
        return;
    }
    const uint64_t queueId = id_;
    storage_->submit([queueId, group, offset](StorageSession &s) { return s.offsetSet(group, queueId, offset); },
                     std::move(done), true);
}

void Queue::committedOffset(const std::string &group, std::function<void(ferry_status, uint64_t)> done)
{
    if (!durable()) {
        ferry_status st = FERRY_E_NOT_FOUND;
        uint64_t value = 0;
        {
            std::lock_guard lock(mutex_);
            auto it = transientOffsets_.find(group);
            if (it != transientOffsets_.end()) {
                st = FERRY_OK;
                value = it->second;
            }
        }
        done(st, value);
        return;
    }
    const uint64_t queueId = id_;
    auto value = std::make_shared<uint64_t>(0);
    storage_->submit([queueId, group, value](StorageSession &s) { return s.offsetGet(group, queueId, value.get()); },
                     [value, done = std::move(done)](ferry_status st, const std::string &) { done(st, *value); },
                     false);
}

uint64_t Queue::markDeleted()
{
    std::vector<Waiter> waiters;
    std::vector<SubscriptionPtr> consumers;
    std::vector<PendingGet> gets;
    uint64_t held;
    {
        std::lock_guard lock(mutex_);
        deleted_ = true;
        held = readyCountLocked() + unacked_.size();
        consumers.swap(consumers_);
        ready_.clear();
        priorityOrder_.clear();
        unacked_.clear();
        readyBytes_ = 0;
        waiters.swap(waiters_);
        gets.swap(pendingGets_);
        if (ttlTimerId_)
            scheduler_->cancel(ttlTimerId_);
        if (expiresTimerId_)
            scheduler_->cancel(expiresTimerId_);
        ttlTimerId_ = expiresTimerId_ = 0;
    }
    for (Waiter &w : waiters) {
        scheduler_->cancel(w.timerId);
        sendPullResult(w.link, name_, w.correlationId, {}, w.from, FERRY_E_CLOSED,
                       "queue '" + name_ + "' was deleted");
    }
    for (const SubscriptionPtr &sub : consumers) {
        if (sub->group && sub->inFlight > 0)
            sub->group->inFlight.fetch_sub(std::min(sub->inFlight, sub->group->inFlight.load()));
        sub->inFlight = 0;
        sub->link->post([id = sub->id](Connection &c) {
            if (c.protocol().on_subscription_end != nullptr)
                c.protocol().on_subscription_end(c.session(), id, FERRY_SUBSCRIPTION_END_QUEUE_DELETED);
        });
    }
    std::vector<std::function<void()>> posts;
    {
        std::lock_guard lock(mutex_);
        for (const PendingGet &g : gets)
            serveGetLocked(g, posts);
    }
    for (auto &p : posts)
        p();
    return held;
}

} // namespace ferry
