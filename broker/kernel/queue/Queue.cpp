#include "queue/Queue.h"

#include "sched/Scheduler.h"
#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace ferry {

namespace {
// The in-memory window of a durable queue, and how much one refill reads from storage.
constexpr size_t kWindowMessages = 65536;
constexpr uint64_t kWindowBytes = 64ull << 20;
constexpr uint32_t kFillMessages = 1024;
constexpr uint64_t kFillBytes = 8ull << 20;
// A pull reads at most this many bytes from storage in one go.
constexpr uint64_t kPullBytes = 16ull << 20;

std::shared_ptr<spdlog::logger> log()
{
    auto l = spdlog::get("kernel");
    return l ? l : spdlog::default_logger();
}

uint64_t wallMs()
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}
} // namespace

Queue::Queue(uint64_t id, std::string name, uint32_t flags, uint64_t low, uint64_t next, StorageEngine *storage,
             Scheduler *scheduler, uint64_t startTimeMs)
    : id_(id), name_(std::move(name)), flags_(flags), storage_(storage), scheduler_(scheduler),
      startTimeMs_(startTimeMs), low_(low), next_(next), loadedUpTo_(low)
{
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
    c.ready = ready_.size() + (next_ - loadedUpTo_);
    c.unacked = unacked_.size();
    c.consumers = consumers_.size();
    return c;
}

void Queue::publish(std::shared_ptr<Message> message, PublishDone done)
{
    message->storeTimeMs = wallMs();
    message->id = newMessageId(message->storeTimeMs);
    if (message->bornTimeMs == 0)
        message->bornTimeMs = message->storeTimeMs;
    MessagePtr msg = std::move(message);
    const bool waitForStore = durable() && msg->persistent();

    std::vector<Delivery> deliveries;
    std::vector<Waiter> woken;
    uint64_t offset;
    {
        std::lock_guard lock(mutex_);
        if (deleted_) {
            if (done)
                done(FERRY_E_CLOSED, 0, "queue '" + name_ + "' was deleted");
            return;
        }
        offset = next_++;
        if (durable()) {
            // Submitted under the queue's lock so the storage thread sees this queue's appends in offset order.
            std::weak_ptr<Queue> weak = weak_from_this();
            storage_->append(id_, msg,
                             [weak, offset, done, waitForStore](ferry_status st, uint64_t stored, const std::string &err) {
                                 auto self = weak.lock();
                                 if (st == FERRY_OK && stored != offset)
                                     log()->error("queue '{}': storage assigned offset {} to the message the kernel "
                                                  "numbered {}",
                                                  self ? self->name_ : std::string("?"), stored, offset);
                                 if (st != FERRY_OK)
                                     log()->error("queue '{}': storing offset {} failed ({}): {}",
                                                  self ? self->name_ : std::string("?"), offset, st, err);
                                 if (waitForStore && done)
                                     done(st, offset, err);
                             });
        }
        if (AppendObserver *observer = observer_.load(std::memory_order_acquire);
            observer != nullptr && durable() && !(flags_ & kInternalStore) && !msg->keys.empty())
            observer->onAppend(id_, offset, *msg);
        // Cursor queues and kernel stores keep no lease window: their readers go to storage by offset.
        const bool windowed = (flags_ & (kCursorQueue | kInternalStore)) == 0;
        const bool fits = windowed && (!durable() || (ready_.size() < kWindowMessages && readyBytes_ < kWindowBytes));
        if (loadedUpTo_ == offset && fits) {
            readyBytes_ += msg->body.size();
            ready_.emplace(offset, Entry{msg, 0});
            loadedUpTo_ = offset + 1;
        }
        dispatchLocked(deliveries);
        wakeWaitersLocked(woken);
    }
    if (!waitForStore && done)
        done(FERRY_OK, offset, {});
    sendDeliveries(deliveries);
    for (Waiter &w : woken)
        servePull(w.link, w.correlationId, w.from, w.maxMessages, 0);
}

void Queue::dispatchLocked(std::vector<Delivery> &out)
{
    while (!ready_.empty() && !consumers_.empty()) {
        const size_t n = consumers_.size();
        SubscriptionPtr chosen;
        for (size_t i = 0; i < n; ++i) {
            const SubscriptionPtr &s = consumers_[(roundRobin_ + i) % n];
            if (s->prefetch == 0 || s->inFlight < s->prefetch) {
                chosen = s;
                roundRobin_ = (roundRobin_ + i + 1) % n;
                break;
            }
        }
        if (!chosen)
            break;
        auto it = ready_.begin();
        const uint64_t offset = it->first;
        Entry entry = std::move(it->second);
        ready_.erase(it);
        readyBytes_ -= entry.message->body.size();
        ++entry.deliveryCount;
        if (chosen->autoAck) {
            ackStorage(offset);
        } else {
            unacked_.emplace(offset, Unacked{entry, chosen.get()});
            ++chosen->inFlight;
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
                    log()->error("queue '{}': record at offset {} is not a kernel message record; skipped", queueName,
                                 rec.offset);
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
    {
        std::lock_guard lock(mutex_);
        fillPending_ = false;
        if (deleted_)
            return;
        if (status != FERRY_OK && status != FERRY_E_CORRUPT) {
            log()->error("queue '{}': reading from storage at offset {} failed ({}): {}", name_, loadedUpTo_, status,
                         error);
            return;
        }
        for (auto &[offset, msg] : records) {
            if (offset < loadedUpTo_)
                continue;
            // A non-persistent message stored before this broker started does not survive the restart.
            if (!msg->persistent() && msg->storeTimeMs < startTimeMs_) {
                ackStorage(offset);
                continue;
            }
            readyBytes_ += msg->body.size();
            ready_.emplace(offset, Entry{msg, 0});
        }
        if (!records.empty()) {
            loadedUpTo_ = std::max(loadedUpTo_, records.back().first + 1);
        } else if (status == FERRY_E_CORRUPT) {
            log()->error("queue '{}': skipping a corrupt record at or after offset {}: {}", name_, loadedUpTo_, error);
            ++loadedUpTo_;
        } else {
            loadedUpTo_ = std::max(loadedUpTo_, nextAtSubmit);
        }
        if (status == FERRY_E_CORRUPT && !records.empty())
            log()->error("queue '{}': corrupt record after offset {}: {}", name_, records.back().first, error);
        dispatchLocked(deliveries);
    }
    sendDeliveries(deliveries);
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
        dispatchLocked(deliveries);
    }
    sendDeliveries(deliveries);
    return FERRY_OK;
}

void Queue::unsubscribe(const SubscriptionPtr &sub)
{
    std::vector<Delivery> deliveries;
    {
        std::lock_guard lock(mutex_);
        std::erase(consumers_, sub);
        for (auto it = unacked_.begin(); it != unacked_.end();) {
            if (it->second.sub == sub.get()) {
                readyBytes_ += it->second.entry.message->body.size();
                ready_.emplace(it->first, std::move(it->second.entry));
                it = unacked_.erase(it);
            } else {
                ++it;
            }
        }
        sub->inFlight = 0;
        if (roundRobin_ >= consumers_.size())
            roundRobin_ = 0;
        dispatchLocked(deliveries);
    }
    sendDeliveries(deliveries);
}

ferry_status Queue::ack(const SubscriptionPtr &sub, uint64_t offset, bool multiple)
{
    return nack(sub, offset, multiple, false);
}

ferry_status Queue::nack(const SubscriptionPtr &sub, uint64_t offset, bool multiple, bool requeue)
{
    std::vector<Delivery> deliveries;
    {
        std::lock_guard lock(mutex_);
        if (deleted_)
            return FERRY_E_CLOSED;
        auto settle = [&](std::map<uint64_t, Unacked>::iterator it) {
            --sub->inFlight;
            if (requeue) {
                readyBytes_ += it->second.entry.message->body.size();
                ready_.emplace(it->first, std::move(it->second.entry));
            } else {
                ackStorage(it->first);
            }
            return unacked_.erase(it);
        };
        size_t settled = 0;
        if (multiple) {
            for (auto it = unacked_.begin(); it != unacked_.end() && it->first <= offset;) {
                if (it->second.sub == sub.get()) {
                    it = settle(it);
                    ++settled;
                } else {
                    ++it;
                }
            }
        } else {
            auto it = unacked_.find(offset);
            if (it != unacked_.end() && it->second.sub == sub.get()) {
                settle(it);
                ++settled;
            }
        }
        if (settled == 0)
            return FERRY_E_NOT_FOUND;
        dispatchLocked(deliveries);
    }
    sendDeliveries(deliveries);
    return FERRY_OK;
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
        auto it = std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter &w) { return w.waiterId == waiterId; });
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
            return s.read(queueId, from, maxMessages, kPullBytes, [&](const ferry_storage_record &rec) {
                auto m = MessageCodec::decode(rec.data, rec.len, rec.store_time_ms);
                if (m)
                    records->emplace_back(rec.offset, std::move(m));
                else
                    log()->error("queue '{}': record at offset {} is not a kernel message record; skipped",
                                 queueName, rec.offset);
                return true;
            });
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
    uint64_t held;
    {
        std::lock_guard lock(mutex_);
        deleted_ = true;
        held = ready_.size() + unacked_.size() + (next_ - loadedUpTo_);
        consumers_.clear();
        ready_.clear();
        unacked_.clear();
        readyBytes_ = 0;
        waiters.swap(waiters_);
    }
    for (Waiter &w : waiters) {
        scheduler_->cancel(w.timerId);
        sendPullResult(w.link, name_, w.correlationId, {}, w.from, FERRY_E_CLOSED,
                       "queue '" + name_ + "' was deleted");
    }
    return held;
}

} // namespace ferry
