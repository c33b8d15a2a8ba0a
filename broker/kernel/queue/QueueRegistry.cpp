#include "queue/QueueRegistry.h"

#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <future>
#include <set>
#include <sstream>

namespace ferry {

namespace {
const std::string kQueuePrefix = "queue/";

std::shared_ptr<spdlog::logger> log()
{
    auto l = spdlog::get("kernel");
    return l ? l : spdlog::default_logger();
}

std::string encodeQueueMeta(uint64_t id, uint32_t flags)
{
    return "1 " + std::to_string(id) + " " + std::to_string(flags);
}

bool decodeQueueMeta(std::string_view value, uint64_t *id, uint32_t *flags)
{
    std::istringstream in{std::string(value)};
    int version = 0;
    in >> version >> *id >> *flags;
    return !in.fail() && version == 1;
}

// Storage-level flags for a kernel queue: lease-consumed queues keep records until they are acked.
uint32_t storageFlags(uint32_t flags)
{
    return (flags & QueueRegistry::kCursorQueue) ? 0u : FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED;
}
} // namespace

QueueRegistry::QueueRegistry(StorageEngine &storage, Scheduler &scheduler, uint64_t startTimeMs)
    : storage_(storage), scheduler_(scheduler), startTimeMs_(startTimeMs)
{
    // Retention moves low bounds inside the storage plugin: read them back after each maintenance pass.
    storage_.setAfterMaintain([this](StorageSession &s) {
        for (const QueuePtr &q : list()) {
            if (!q->durable() || q->deleted())
                continue;
            uint64_t low = 0, next = 0;
            if (s.queueBounds(q->id(), &low, &next) == FERRY_OK)
                q->setLow(low);
        }
    });
}

bool QueueRegistry::restore(std::string *error)
{
    struct Found {
        std::string name;
        uint64_t id;
        uint32_t flags;
        uint64_t low = 0, next = 0;
    };
    std::vector<Found> found;
    std::set<uint64_t> inStorage;
    const ferry_status st = storage_.call(
        [&](StorageSession &s) -> ferry_status {
            ferry_status r = s.metaScan(kQueuePrefix, [&](std::string_view key, std::string_view value) {
                Found f;
                f.name = std::string(key.substr(kQueuePrefix.size()));
                if (!decodeQueueMeta(value, &f.id, &f.flags)) {
                    log()->error("metadata for queue '{}' is unreadable; the queue is not restored", f.name);
                    return;
                }
                found.push_back(std::move(f));
            });
            if (r != FERRY_OK)
                return r;
            auto sink = [](void *ctx, uint64_t queueId, uint32_t) -> int32_t {
                static_cast<std::set<uint64_t> *>(ctx)->insert(queueId);
                return 0;
            };
            r = s.vt().queue_list(s.storage(), sink, &inStorage, s.errBuf(), s.errCap());
            if (r != FERRY_OK)
                return r;
            std::set<uint64_t> known;
            for (Found &f : found) {
                known.insert(f.id);
                if (!inStorage.count(f.id)) {
                    // Metadata made it to disk but the queue's log did not: recreate it empty.
                    log()->warn("queue '{}' (id {}) has metadata but no log in storage; recreating it empty", f.name,
                                f.id);
                    if ((r = s.queueCreate(f.id, storageFlags(f.flags))) != FERRY_OK)
                        return r;
                }
                if ((r = s.queueBounds(f.id, &f.low, &f.next)) != FERRY_OK)
                    return r;
            }
            for (uint64_t id : inStorage) {
                if (!known.count(id)) {
                    log()->warn("storage holds a log (queue id {}) that no queue metadata names; deleting it", id);
                    if ((r = s.queueDelete(id)) != FERRY_OK)
                        return r;
                }
            }
            return s.vt().sync(s.storage(), s.errBuf(), s.errCap());
        },
        error);
    if (st != FERRY_OK)
        return false;
    std::unique_lock lock(mutex_);
    for (Found &f : found) {
        auto q = std::make_shared<Queue>(f.id, f.name, f.flags, f.low, f.next, &storage_, &scheduler_, startTimeMs_);
        byName_[f.name] = q;
        byId_[f.id] = q;
        nextId_ = std::max(nextId_, f.id + 1);
    }
    for (uint64_t id : inStorage)
        nextId_ = std::max(nextId_, id + 1);
    log()->info("restored {} durable queues", found.size());
    return true;
}

void QueueRegistry::declare(const std::string &name, uint32_t flags, DeclareDone done)
{
    if (name.empty() || name.size() > kMaxNameBytes) {
        done(FERRY_E_INVALID_ARGUMENT, nullptr, "queue name must be 1 to 255 bytes");
        return;
    }
    const bool durable = (flags & FERRY_QUEUE_DURABLE) != 0;
    QueuePtr queue;
    {
        std::unique_lock lock(mutex_);
        auto it = byName_.find(name);
        if (it != byName_.end()) {
            queue = it->second;
            lock.unlock();
            if (queue->durable() != durable)
                done(FERRY_E_ALREADY_EXISTS, queue,
                     "queue '" + name + "' exists and is " + (queue->durable() ? "durable" : "transient"));
            else
                done(FERRY_OK, queue, {});
            return;
        }
        if (flags & FERRY_QUEUE_PASSIVE) {
            lock.unlock();
            done(FERRY_E_NOT_FOUND, nullptr, "no queue '" + name + "'");
            return;
        }
        const uint64_t id = nextId_++;
        const uint32_t kept = flags & (FERRY_QUEUE_DURABLE | kCursorQueue | kInternalStore);
        queue = std::make_shared<Queue>(id, name, kept, 0, 0, &storage_, &scheduler_, startTimeMs_);
        byName_[name] = queue;
        byId_[id] = queue;
        queue->setAppendObserver(observer_);
        if (durable) {
            // Submitted under the registry lock: the storage creates the log before any append to it.
            storage_.submit(
                [id, name, kept](StorageSession &s) {
                    ferry_status r = s.queueCreate(id, storageFlags(kept));
                    if (r != FERRY_OK)
                        return r;
                    return s.metaPut(kQueuePrefix + name, encodeQueueMeta(id, kept));
                },
                [queue, done](ferry_status st, const std::string &err) { done(st, queue, err); }, true);
            return;
        }
    }
    done(FERRY_OK, queue, {});
}

void QueueRegistry::remove(const std::string &name, uint32_t flags, DeleteDone done)
{
    QueuePtr queue;
    {
        std::unique_lock lock(mutex_);
        auto it = byName_.find(name);
        if (it == byName_.end()) {
            lock.unlock();
            done(FERRY_E_NOT_FOUND, 0, "no queue '" + name + "'");
            return;
        }
        queue = it->second;
        const QueueCounts c = queue->counts();
        if ((flags & FERRY_QUEUE_IF_UNUSED) && c.consumers > 0) {
            lock.unlock();
            done(FERRY_E_BUSY, 0, "queue '" + name + "' has consumers");
            return;
        }
        if ((flags & FERRY_QUEUE_IF_EMPTY) && c.ready + c.unacked > 0) {
            lock.unlock();
            done(FERRY_E_BUSY, 0, "queue '" + name + "' is not empty");
            return;
        }
        byName_.erase(it);
        byId_.erase(queue->id());
        const uint64_t dropped = queue->markDeleted();
        if (queue->durable()) {
            const uint64_t id = queue->id();
            storage_.submit(
                [id, name](StorageSession &s) {
                    ferry_status r = s.metaDelete(kQueuePrefix + name);
                    if (r != FERRY_OK && r != FERRY_E_NOT_FOUND)
                        return r;
                    r = s.queueDelete(id);
                    return r == FERRY_E_NOT_FOUND ? FERRY_OK : r;
                },
                [done, dropped](ferry_status st, const std::string &err) { done(st, dropped, err); }, true);
            return;
        }
        lock.unlock();
        done(FERRY_OK, dropped, {});
    }
}

QueuePtr QueueRegistry::declareStore(const std::string &name, uint32_t extraFlags, std::string *error)
{
    std::promise<std::pair<ferry_status, QueuePtr>> declared;
    declare(name, FERRY_QUEUE_DURABLE | kInternalStore | extraFlags,
            [&declared](ferry_status st, const QueuePtr &q, const std::string &) { declared.set_value({st, q}); });
    auto [st, queue] = declared.get_future().get();
    if (st != FERRY_OK || !queue) {
        *error = "cannot declare the kernel store " + name + " (status " + std::to_string(st) + ")";
        return nullptr;
    }
    return queue;
}

QueuePtr QueueRegistry::find(const std::string &name) const
{
    std::shared_lock lock(mutex_);
    auto it = byName_.find(name);
    return it == byName_.end() ? nullptr : it->second;
}

void QueueRegistry::setAppendObserver(AppendObserver *observer)
{
    std::unique_lock lock(mutex_);
    observer_ = observer;
    for (auto &[name, q] : byName_)
        q->setAppendObserver(observer);
}

QueuePtr QueueRegistry::findById(uint64_t id) const
{
    std::shared_lock lock(mutex_);
    auto it = byId_.find(id);
    return it == byId_.end() ? nullptr : it->second;
}

std::vector<QueuePtr> QueueRegistry::list() const
{
    std::shared_lock lock(mutex_);
    std::vector<QueuePtr> out;
    out.reserve(byName_.size());
    for (const auto &[name, q] : byName_)
        out.push_back(q);
    return out;
}

} // namespace ferry
