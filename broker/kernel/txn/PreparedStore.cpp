#include "txn/PreparedStore.h"

#include "log/Logging.h"
#include "queue/QueueRegistry.h"
#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace ferry {

namespace {
constexpr std::string_view kQueueKey = "x-ferry-prepared-queue";
constexpr std::string_view kGroupKey = "x-ferry-prepared-group";
constexpr std::string_view kPrefix = "x-ferry-prepared-";

// The block without the store's own entries; their values into queue / group.
std::string splitEntries(const std::string &block, std::string *queue, std::string *group)
{
    return takeProperties(block, kPrefix, [&](std::string_view key, std::string_view value) {
        if (key == kQueueKey)
            queue->assign(value);
        else if (key == kGroupKey)
            group->assign(value);
    });
}
} // namespace

PreparedStore::PreparedStore(QueueRegistry &queues, StorageEngine &storage) : queues_(queues), storage_(storage) {}

bool PreparedStore::restore(std::string *error)
{
    store_ = queues_.declareStore(kStoreQueue, 0, error);
    if (!store_)
        return false;
    std::map<uint64_t, Pending> found;
    const uint64_t queueId = store_->id();
    const ferry_status rs = storage_.call(
        [&](StorageSession &s) {
            return s.read(queueId, 0, 0, 0, [&](const ferry_storage_record &rec) {
                Pending p;
                p.storeTimeMs = rec.store_time_ms;
                if (auto m = MessageCodec::decode(rec.data, rec.len, rec.store_time_ms))
                    splitEntries(m->properties, &p.queue, &p.group);
                found.emplace(rec.offset, std::move(p));
                return true;
            });
        },
        error);
    if (rs != FERRY_OK)
        return false;
    std::lock_guard lock(mutex_);
    pending_ = std::move(found);
    kernelLogger()->info("prepared-message store: {} unresolved", pending_.size());
    return true;
}

void PreparedStore::prepare(std::shared_ptr<Message> message, const std::string &queue, const std::string &group,
                            Queue::PublishDone done)
{
    appendProperty(message->properties, kQueueKey, queue);
    appendProperty(message->properties, kGroupKey, group);
    message->flags |= FERRY_MESSAGE_PERSISTENT;
    Message *raw = message.get();
    MessagePtr keep = message;
    store_->publish(std::move(message), [this, queue, group, raw, keep, done](ferry_status st, uint64_t handle,
                                                                              const std::string &err) {
        if (st == FERRY_OK) {
            std::lock_guard lock(mutex_);
            pending_[handle] = Pending{queue, group, raw->storeTimeMs};
        }
        if (done)
            done(st, handle, err);
    });
}

std::vector<std::pair<uint64_t, PreparedStore::Pending>> PreparedStore::pending() const
{
    std::lock_guard lock(mutex_);
    return {pending_.begin(), pending_.end()};
}

void PreparedStore::read(uint64_t handle, ReadDone done)
{
    Pending p;
    {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(handle);
        if (it == pending_.end())
            return done(FERRY_E_NOT_FOUND, nullptr, p);
        p = it->second;
    }
    const uint64_t queueId = store_->id();
    auto message = std::make_shared<std::shared_ptr<Message>>();
    storage_.submit(
        [queueId, handle, message](StorageSession &s) { return s.readMessage(queueId, handle, message.get()); },
        [message, done, p](ferry_status st, const std::string &) {
            if (st == FERRY_OK && !*message)
                st = FERRY_E_NOT_FOUND;
            if (*message) {
                std::string queue, group;
                (*message)->properties = splitEntries((*message)->properties, &queue, &group);
            }
            done(st, *message, p);
        },
        false);
}

void PreparedStore::end(uint64_t handle, bool commit, const std::string &queueOverride, EndDone done)
{
    Pending p;
    {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(handle);
        if (it == pending_.end())
            return done(FERRY_E_NOT_FOUND, 0, "no unresolved prepared message " + std::to_string(handle));
        p = std::move(it->second);
        pending_.erase(it); // resolved from here on; put back if the commit fails
    }
    const uint64_t queueId = store_->id();
    const auto ack = [this, queueId, handle] {
        storage_.submit([queueId, handle](StorageSession &s) { return s.ack(queueId, handle); }, {}, true);
    };
    const auto restore = [this, handle, p] {
        std::lock_guard lock(mutex_);
        pending_.emplace(handle, p);
    };
    if (!commit) {
        ack();
        return done(FERRY_OK, 0, {});
    }
    {
        auto message = std::make_shared<std::shared_ptr<Message>>();
        const std::string target = queueOverride.empty() ? p.queue : queueOverride;
        storage_.submit(
            [queueId, handle, message](StorageSession &s) { return s.readMessage(queueId, handle, message.get()); },
            [this, message, target, ack, restore, done](ferry_status st, const std::string &err) {
                if (st != FERRY_OK || !*message) {
                    restore();
                    return done(st != FERRY_OK ? st : FERRY_E_NOT_FOUND, 0, err);
                }
                std::string queue, group;
                (*message)->properties = splitEntries((*message)->properties, &queue, &group);
                QueuePtr q = queues_.find(target);
                if (!q) {
                    restore();
                    return done(FERRY_E_NOT_FOUND, 0, "queue '" + target + "' does not exist");
                }
                q->publish(std::move(*message), [ack, restore, done](ferry_status pst, uint64_t offset,
                                                                      const std::string &perr) {
                    if (pst == FERRY_OK)
                        ack();
                    else
                        restore();
                    done(pst, offset, perr);
                });
            },
            false);
    }
}

} // namespace ferry
