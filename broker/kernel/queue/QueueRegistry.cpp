#include "queue/QueueRegistry.h"

#include "log/Logging.h"
#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <future>
#include <map>
#include <set>
#include <sstream>

namespace ferry {

namespace {
const std::string kQueuePrefix = "queue/";
// "delivered/<queue id>" -> one past the highest offset delivered, written by saveDeliveryMarks (graceful stop).
const std::string kDeliveredPrefix = "delivered/";

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
    const bool wantExclusive = (flags & FERRY_QUEUE_EXCLUSIVE) != 0,
               haveExclusive = (have & FERRY_QUEUE_EXCLUSIVE) != 0;
    if (wantExclusive != haveExclusive)
        return text("exclusive", boolText(wantExclusive), boolText(haveExclusive));
    const bool wantAuto = (flags & FERRY_QUEUE_AUTO_DELETE) != 0, haveAuto = (have & FERRY_QUEUE_AUTO_DELETE) != 0;
    if (wantAuto != haveAuto)
        return text("auto_delete", boolText(wantAuto), boolText(haveAuto));
    const QueueArgs &b = q.args();
    // An argument given on one side only: RabbitMQ words it "received none but current is the value '10' of type
    // 'long'" (and the reverse); the type names are AMQP's (long, longstr, bool).
    auto arg = [&](const std::string &name, bool haveA, const std::string &va, bool haveB, const std::string &vb,
                   const char *type) -> std::string {
        if (haveA == haveB)
            return va == vb ? std::string() : text(name, va, vb);
        auto side = [type](bool have, const std::string &v) {
            return have ? "the value '" + v + "' of type '" + type + "'" : std::string("none");
        };
        return "inequivalent arg '" + name + "' for queue '" + plain + "' in vhost '" + vhost + "': received " +
               side(haveA, va) + " but current is " + side(haveB, vb);
    };
    auto intArgDiff = [&](const char *name, int64_t va, int64_t vb) {
        return arg(name, va >= 0, intArg(va), vb >= 0, intArg(vb), "long");
    };
    static const char *overflows[] = {"drop-head", "reject-publish", "reject-publish-dlx"};
    for (std::string d : {intArgDiff("x-message-ttl", a.messageTtlMs, b.messageTtlMs),
                          intArgDiff("x-expires", a.expiresMs, b.expiresMs),
                          intArgDiff("x-max-length", a.maxLength, b.maxLength),
                          intArgDiff("x-max-length-bytes", a.maxLengthBytes, b.maxLengthBytes),
                          arg("x-overflow", a.overflow != 0, overflows[a.overflow % 3], b.overflow != 0,
                              overflows[b.overflow % 3], "longstr"),
                          arg("x-max-priority", a.maxPriority != 0, std::to_string(a.maxPriority), b.maxPriority != 0,
                              std::to_string(b.maxPriority), "long"),
                          arg("x-single-active-consumer", a.singleActiveConsumer, boolText(a.singleActiveConsumer),
                              b.singleActiveConsumer, boolText(b.singleActiveConsumer), "bool"),
                          arg("x-dead-letter-exchange", a.hasDeadLetterExchange,
                              splitQualified(a.deadLetterExchange).second, b.hasDeadLetterExchange,
                              splitQualified(b.deadLetterExchange).second, "longstr"),
                          arg("x-dead-letter-routing-key", a.hasDeadLetterRoutingKey, a.deadLetterRoutingKey,
                              b.hasDeadLetterRoutingKey, b.deadLetterRoutingKey, "longstr")})
        if (!d.empty())
            return d;
    return {};
}

// Storage-level flags for a kernel queue: lease-consumed queues keep records until they are acked.
uint32_t storageFlags(uint32_t flags)
{
    return (flags & QueueRegistry::kCursorQueue) ? 0u : FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED;
}

// A lease queue's log after a restart: its non-persistent messages do not survive (RabbitMQ's rule), so they are
// acked now, before anyone reads the queue; *live counts the readable persistent records left, which makes the
// message count exact from the first queue.declare-ok. Reads only the records' flags; O(records) once per start.
ferry_status recoverLeaseQueue(StorageSession &s, uint64_t queueId, uint64_t low, uint64_t next, uint64_t *live)
{
    *live = 0;
    std::vector<uint64_t> transient;
    uint64_t from = low;
    while (from < next) {
        uint64_t last = from, seen = 0;
        const ferry_status r = s.read(queueId, from, 4096, 64u << 20, [&](const ferry_storage_record &rec) {
            uint32_t flags = 0;
            if (MessageCodec::flagsOf(rec.data, rec.len, &flags) && !(flags & FERRY_MESSAGE_PERSISTENT))
                transient.push_back(rec.offset);
            else
                ++*live; // unreadable records are counted: the queue logs and skips them when it reads them
            last = rec.offset;
            ++seen;
            return true;
        });
        if (r != FERRY_OK && r != FERRY_E_CORRUPT)
            return r;
        if (seen == 0)
            break;
        from = last + 1;
    }
    for (uint64_t offset : transient)
        if (const ferry_status r = s.ack(queueId, offset); r != FERRY_OK)
            return r;
    if (!transient.empty())
        kernelLogger()->info("queue id {}: {} non-persistent messages from before the restart dropped", queueId,
                    transient.size());
    return FERRY_OK;
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

void QueueRegistry::saveDeliveryMarks()
{
    std::vector<std::pair<uint64_t, uint64_t>> marks;
    {
        std::shared_lock lock(mutex_);
        for (const auto &[id, q] : byId_)
            if (q->durable() && !(q->flags() & kCursorQueue))
                if (const uint64_t d = q->deliveredUpTo(); d > 0)
                    marks.emplace_back(id, d);
    }
    if (marks.empty())
        return;
    std::string error;
    const ferry_status st = storage_.call(
        [&](StorageSession &s) -> ferry_status {
            for (const auto &[id, d] : marks)
                if (ferry_status r = s.metaPut(kDeliveredPrefix + std::to_string(id), std::to_string(d)); r != FERRY_OK)
                    return r;
            return s.vt().sync(s.storage(), s.errBuf(), s.errCap());
        },
        &error);
    if (st != FERRY_OK)
        kernelLogger()->warn("saving the delivery marks of {} queues failed ({}): {}", marks.size(), st, error);
}

bool QueueRegistry::restore(std::string *error)
{
    struct Found {
        std::string name;
        uint64_t id;
        uint32_t flags;
        QueueArgs args;
        uint64_t low = 0, next = 0;
        uint64_t live = 0; // readable persistent records in [low, next), lease queues only
    };
    std::vector<Found> found;
    std::set<uint64_t> inStorage;
    std::map<uint64_t, uint64_t> delivered;
    const ferry_status st = storage_.call(
        [&](StorageSession &s) -> ferry_status {
            ferry_status r = s.metaScan(kQueuePrefix, [&](std::string_view key, std::string_view value) {
                Found f;
                f.name = std::string(key.substr(kQueuePrefix.size()));
                if (!decodeQueueMeta(value, &f.id, &f.flags, &f.args)) {
                    kernelLogger()->error("metadata for queue '{}' is unreadable; the queue is not restored", f.name);
                    return;
                }
                found.push_back(std::move(f));
            });
            if (r != FERRY_OK)
                return r;
            r = s.metaScan(kDeliveredPrefix, [&](std::string_view key, std::string_view value) {
                const uint64_t id =
                    std::strtoull(std::string(key.substr(kDeliveredPrefix.size())).c_str(), nullptr, 10);
                delivered[id] = std::strtoull(std::string(value).c_str(), nullptr, 10);
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
                    kernelLogger()->warn("queue '{}' (id {}) has metadata but no log in storage; recreating it empty",
                                         f.name, f.id);
                    if ((r = s.queueCreate(f.id, storageFlags(f.flags))) != FERRY_OK)
                        return r;
                }
                if ((r = s.queueBounds(f.id, &f.low, &f.next)) != FERRY_OK)
                    return r;
                if (!(f.flags & kCursorQueue) && (r = recoverLeaseQueue(s, f.id, f.low, f.next, &f.live)) != FERRY_OK)
                    return r;
            }
            for (uint64_t id : inStorage) {
                if (!known.count(id)) {
                    kernelLogger()->warn("storage holds a log (queue id {}) that no queue metadata names; deleting it",
                                         id);
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
        if (!(f.flags & kCursorQueue))
            q->setRecovered(f.live, delivered.count(f.id) ? delivered[f.id] : 0);
        byName_[f.name] = q;
        byId_[f.id] = q;
        nextId_ = std::max(nextId_, f.id + 1);
    }
    for (uint64_t id : inStorage)
        nextId_ = std::max(nextId_, id + 1);
    kernelLogger()->info("restored {} durable queues", found.size());
    return true;
}

void QueueRegistry::replicaRefresh(StorageSession &s)
{
    struct Found {
        std::string name;
        uint64_t id;
        uint32_t flags;
        QueueArgs args;
    };
    std::vector<Found> found;
    s.metaScan(kQueuePrefix, [&](std::string_view key, std::string_view value) {
        Found f;
        f.name = std::string(key.substr(kQueuePrefix.size()));
        if (decodeQueueMeta(value, &f.id, &f.flags, &f.args))
            found.push_back(std::move(f));
    });
    std::vector<QueuePtr> removed, advanced;
    std::vector<uint64_t> nexts;
    {
        std::unique_lock lock(mutex_);
        std::set<uint64_t> seen;
        for (Found &f : found) {
            seen.insert(f.id);
            uint64_t low = 0, next = 0;
            if (s.queueBounds(f.id, &low, &next) != FERRY_OK)
                continue;
            auto it = byId_.find(f.id);
            if (it != byId_.end() && it->second->name() == f.name && it->second->flags() == f.flags) {
                it->second->setLow(low);
                advanced.push_back(it->second);
                nexts.push_back(next);
                continue;
            }
            if (it != byId_.end()) {
                removed.push_back(it->second);
                byName_.erase(it->second->name());
                byId_.erase(it);
            }
            auto q = std::make_shared<Queue>(f.id, f.name, f.flags, low, next, &storage_, &scheduler_, startTimeMs_,
                                             f.args);
            if (observer_)
                q->setAppendObserver(observer_);
            if (events_)
                q->setEvents(events_);
            if (auto old = byName_.find(f.name); old != byName_.end()) {
                removed.push_back(old->second);
                byId_.erase(old->second->id());
            }
            byName_[f.name] = q;
            byId_[f.id] = q;
            nextId_ = std::max(nextId_, f.id + 1);
        }
        for (auto it = byId_.begin(); it != byId_.end();) {
            if (it->second->durable() && !seen.count(it->first)) {
                removed.push_back(it->second);
                byName_.erase(it->second->name());
                it = byId_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (size_t i = 0; i < advanced.size(); ++i)
        advanced[i]->replicaAdvance(nexts[i]);
    for (const QueuePtr &q : removed) {
        q->markDeleted();
        if (onRemoved_)
            onRemoved_(q->name());
    }
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
                    r = s.metaDelete(kDeliveredPrefix + std::to_string(id));
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
