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

std::string encodeQueueMeta(uint64_t id, uint32_t flags, const QueueArgs &args)
{
    return "2 " + std::to_string(id) + " " + std::to_string(flags) + " " + args.encode();
}

bool decodeQueueMeta(std::string_view value, uint64_t *id, uint32_t *flags, QueueArgs *args)
{
    std::istringstream in{std::string(value)};
    int version = 0;
    in >> version >> *id >> *flags;
    if (in.fail() || (version != 1 && version != 2))
        return false;
    if (version == 1)
        return true;
    std::string rest;
    std::getline(in, rest);
    return QueueArgs::decode(rest, args);
}

std::string boolText(bool b) { return b ? "true" : "false"; }

std::string intArg(int64_t v) { return v < 0 ? "none" : std::to_string(v); }

// The vhost and the plain name of a qualified name (ferry_protocol.h, FERRY_VHOST_SEPARATOR).
std::pair<std::string, std::string> splitQualified(const std::string &name)
{
    const size_t sep = name.find(FERRY_VHOST_SEPARATOR);
    if (sep == std::string::npos)
        return {FERRY_DEFAULT_VHOST, name};
    return {name.substr(0, sep), name.substr(sep + 1)};
}

// RabbitMQ's text for the first difference between an existing queue and a redeclaration; empty when equivalent.
std::string firstDifference(const Queue &q, const std::string &name, uint32_t flags, const QueueArgs &a)
{
    const uint32_t have = q.flags();
    const bool haveDurable = (have & FERRY_QUEUE_DURABLE) || (have & QueueRegistry::kDeclaredDurable);
    const auto [vhost, plain] = splitQualified(name);
    auto text = [&, vhost = vhost, plain = plain](const std::string &arg, const std::string &received,
                                                  const std::string &current) {
        return "inequivalent arg '" + arg + "' for queue '" + plain + "' in vhost '" + vhost + "': received '" +
               received + "' but current is '" + current + "'";
    };
    const bool wantDurable = (flags & FERRY_QUEUE_DURABLE) != 0;
    if (wantDurable != haveDurable)
        return text("durable", boolText(wantDurable), boolText(haveDurable));
    const bool wantExclusive = (flags & FERRY_QUEUE_EXCLUSIVE) != 0, haveExclusive = (have & FERRY_QUEUE_EXCLUSIVE) != 0;
    if (wantExclusive != haveExclusive)
        return text("exclusive", boolText(wantExclusive), boolText(haveExclusive));
    const bool wantAuto = (flags & FERRY_QUEUE_AUTO_DELETE) != 0, haveAuto = (have & FERRY_QUEUE_AUTO_DELETE) != 0;
    if (wantAuto != haveAuto)
        return text("auto_delete", boolText(wantAuto), boolText(haveAuto));
    const QueueArgs &b = q.args();
    if (a.messageTtlMs != b.messageTtlMs)
        return text("x-message-ttl", intArg(a.messageTtlMs), intArg(b.messageTtlMs));
    if (a.expiresMs != b.expiresMs)
        return text("x-expires", intArg(a.expiresMs), intArg(b.expiresMs));
    if (a.maxLength != b.maxLength)
        return text("x-max-length", intArg(a.maxLength), intArg(b.maxLength));
    if (a.maxLengthBytes != b.maxLengthBytes)
        return text("x-max-length-bytes", intArg(a.maxLengthBytes), intArg(b.maxLengthBytes));
    static const char *overflows[] = {"drop-head", "reject-publish", "reject-publish-dlx"};
    if (a.overflow != b.overflow)
        return text("x-overflow", overflows[a.overflow % 3], overflows[b.overflow % 3]);
    if (a.maxPriority != b.maxPriority)
        return text("x-max-priority", std::to_string(a.maxPriority), std::to_string(b.maxPriority));
    if (a.singleActiveConsumer != b.singleActiveConsumer)
        return text("x-single-active-consumer", boolText(a.singleActiveConsumer), boolText(b.singleActiveConsumer));
    if (a.hasDeadLetterExchange != b.hasDeadLetterExchange || a.deadLetterExchange != b.deadLetterExchange)
        return text("x-dead-letter-exchange", a.hasDeadLetterExchange ? splitQualified(a.deadLetterExchange).second : "none",
                    b.hasDeadLetterExchange ? splitQualified(b.deadLetterExchange).second : "none");
    if (a.hasDeadLetterRoutingKey != b.hasDeadLetterRoutingKey || a.deadLetterRoutingKey != b.deadLetterRoutingKey)
        return text("x-dead-letter-routing-key", a.hasDeadLetterRoutingKey ? a.deadLetterRoutingKey : "none",
                    b.hasDeadLetterRoutingKey ? b.deadLetterRoutingKey : "none");
    return {};
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
        QueueArgs args;
        uint64_t low = 0, next = 0;
    };
    std::vector<Found> found;
    std::set<uint64_t> inStorage;
    const ferry_status st = storage_.call(
        [&](StorageSession &s) -> ferry_status {
            ferry_status r = s.metaScan(kQueuePrefix, [&](std::string_view key, std::string_view value) {
                Found f;
                f.name = std::string(key.substr(kQueuePrefix.size()));
                if (!decodeQueueMeta(value, &f.id, &f.flags, &f.args)) {
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
        auto q = std::make_shared<Queue>(f.id, f.name, f.flags, f.low, f.next, &storage_, &scheduler_, startTimeMs_,
                                         f.args);
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
    DeclareRequest request;
    request.flags = flags;
    declare(name, request, std::move(done));
}

void QueueRegistry::declare(const std::string &name, const DeclareRequest &request, DeclareDone done)
{
    if (name.empty() || name.size() > kMaxNameBytes) {
        done(FERRY_E_INVALID_ARGUMENT, nullptr, "queue name must be 1 to 255 bytes");
        return;
    }
    uint32_t flags = request.flags;
    const bool exclusive = (flags & FERRY_QUEUE_EXCLUSIVE) != 0;
    const bool durable = (flags & FERRY_QUEUE_DURABLE) != 0;
    QueuePtr queue;
    {
        std::unique_lock lock(mutex_);
        auto it = byName_.find(name);
        if (it != byName_.end()) {
            queue = it->second;
            lock.unlock();
            const uint64_t owner = queue->owner();
            if (owner != 0 && owner != request.owner) {
                const auto [vhost, plain] = splitQualified(name);
                done(FERRY_E_LOCKED, queue,
                     "cannot obtain exclusive access to locked queue '" + plain + "' in vhost '" + vhost +
                         "'. It could be originally declared on another connection or the exclusive property value "
                         "does not match that of the original declaration.");
                return;
            }
            if (flags & FERRY_QUEUE_PASSIVE) {
                queue->touch();
                done(FERRY_OK, queue, {});
                return;
            }
            if (request.strict) {
                const std::string diff = firstDifference(*queue, name, flags, request.args);
                if (!diff.empty()) {
                    done(FERRY_E_MISMATCH, queue, diff);
                    return;
                }
            } else if (queue->durable() != durable) {
                done(FERRY_E_ALREADY_EXISTS, queue,
                     "queue '" + name + "' exists and is " + (queue->durable() ? "durable" : "transient"));
                return;
            }
            queue->touch();
            done(FERRY_OK, queue, {});
            return;
        }
        if (flags & FERRY_QUEUE_PASSIVE) {
            lock.unlock();
            const auto [vhost, plain] = splitQualified(name);
            done(FERRY_E_NOT_FOUND, nullptr, "no queue '" + plain + "' in vhost '" + vhost + "'");
            return;
        }
        const uint64_t id = nextId_++;
        uint32_t kept = flags & Queue::kKeptFlags;
        if (exclusive && durable) // exclusive queues die with their connection: nothing to store
            kept = (kept & ~static_cast<uint32_t>(FERRY_QUEUE_DURABLE)) | kDeclaredDurable;
        queue = std::make_shared<Queue>(id, name, kept, 0, 0, &storage_, &scheduler_, startTimeMs_, request.args);
        if (exclusive)
            queue->setOwner(request.owner);
        byName_[name] = queue;
        byId_[id] = queue;
        queue->setAppendObserver(observer_);
        queue->setEvents(events_);
        if (kept & FERRY_QUEUE_DURABLE) {
            // Submitted under the registry lock: the storage creates the log before any append to it.
            storage_.submit(
                [id, name, kept, args = request.args](StorageSession &s) {
                    ferry_status r = s.queueCreate(id, storageFlags(kept));
                    if (r != FERRY_OK)
                        return r;
                    return s.metaPut(kQueuePrefix + name, encodeQueueMeta(id, kept, args));
                },
                [queue, done](ferry_status st, const std::string &err) {
                    queue->touch();
                    done(st, queue, err);
                },
                true);
            return;
        }
    }
    queue->touch();
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
            const auto [vhost, plain] = splitQualified(name);
            done(FERRY_E_NOT_FOUND, 0, "no queue '" + plain + "' in vhost '" + vhost + "'");
            return;
        }
        queue = it->second;
        const QueueCounts c = queue->counts();
        if ((flags & FERRY_QUEUE_IF_UNUSED) && c.consumers > 0) {
            lock.unlock();
            const auto [vhost, plain] = splitQualified(name);
            done(FERRY_E_BUSY, 0, "queue '" + plain + "' in vhost '" + vhost + "' in use");
            return;
        }
        if ((flags & FERRY_QUEUE_IF_EMPTY) && c.ready + c.unacked > 0) {
            lock.unlock();
            const auto [vhost, plain] = splitQualified(name);
            done(FERRY_E_BUSY, 0, "queue '" + plain + "' in vhost '" + vhost + "' not empty");
            return;
        }
        byName_.erase(it);
        byId_.erase(queue->id());
        const uint64_t dropped = queue->markDeleted();
        if (queue->durable()) {
            // Submitted under the registry lock, so a redeclaration of the name is stored after this delete.
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
        }
        lock.unlock();
        if (onRemoved_)
            onRemoved_(name);
        if (!queue->durable())
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

void QueueRegistry::setEvents(QueueEvents *events)
{
    std::unique_lock lock(mutex_);
    events_ = events;
    for (auto &[name, q] : byName_)
        q->setEvents(events);
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
