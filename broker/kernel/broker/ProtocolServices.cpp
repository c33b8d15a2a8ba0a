#include "broker/ProtocolServices.h"
#include "repl/ReplicationService.h"
#include "broker/ResourceAlarms.h"

#include "net/NetworkServer.h"
#include "plugin/PluginHost.h"
#include "queue/ConnectionLink.h"
#include "queue/QueueRegistry.h"
#include "queue/TopicRegistry.h"
#include "sched/DelayedDelivery.h"
#include "sched/Scheduler.h"
#include "storage/StorageEngine.h"
#include "txn/PreparedStore.h"
#include "index/KeyIndex.h"
#include "auth/AuthRegistry.h"
#include "route/Router.h"

#include <ferry/sdk.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry {

namespace {

std::atomic<QueueRegistry *> g_registry{nullptr};

// The rest of the broker for the ABI 1.1 services. Written by fill/clear on the main thread while no plugin runs
// (before init, after every connection closed), read by services.
KernelServices g_services;
std::atomic<bool> g_servicesBound{false};

// One protocol plugin, found by its host ctx.
struct ProtocolEntry {
    const LoadedPlugin *plugin = nullptr;
    std::atomic<ferry_protocol *> instance{nullptr};
    std::atomic<bool> listenersOpen{false};
    std::mutex timerMutex;
    std::map<uint64_t, uint64_t> timers; // plugin timer id -> generation of the armed scheduler callback
    uint64_t nextGeneration = 1;
};
std::mutex g_entriesMutex;
std::vector<std::shared_ptr<ProtocolEntry>> g_entries;

std::shared_ptr<ProtocolEntry> entryFor(void *ctx)
{
    std::lock_guard lock(g_entriesMutex);
    for (const auto &e : g_entries)
        if (e->plugin->host != nullptr && e->plugin->host->ctx == ctx)
            return e;
    return nullptr;
}
std::atomic<uint64_t> g_nextSubscriptionId{1};

// Kernel-core state of one connection. Touched only on the connection's thread.
struct ConnectionState {
    ConnectionLinkPtr link;
    std::unordered_map<uint64_t, SubscriptionPtr> subscriptions;
    std::map<std::pair<uint64_t, bool>, SubscriptionPtr> getHandles; // (queue id, auto-ack) -> get() handle
    std::unordered_map<uint64_t, CreditGroupPtr> creditGroups;
    std::vector<std::string> exclusiveQueues; // declared exclusive by this connection: deleted when it closes
    std::unordered_map<std::string, std::weak_ptr<Queue>> queueCache;
    std::unordered_map<uint64_t, std::weak_ptr<Queue>> pulledQueues; // queue id -> queue, for dropping waiters
};

ConnectionState &stateOf(ferry_conn *handle)
{
    Connection *conn = Connection::fromHandle(handle);
    if (conn->coreState == nullptr) {
        auto *state = new ConnectionState;
        state->link = std::make_shared<ConnectionLink>(conn);
        conn->coreState = state;
        conn->addCloseHook([conn, state] {
            state->link->markClosed();
            for (auto &[id, sub] : state->subscriptions)
                if (auto q = sub->queue.lock())
                    q->unsubscribe(sub);
            for (auto &[id, weak] : state->pulledQueues)
                if (auto q = weak.lock())
                    q->dropWaiters(state->link->id());
            if (QueueRegistry *registry = g_registry.load())
                for (const std::string &name : state->exclusiveQueues)
                    if (QueuePtr q = registry->find(name); q && q->owner() == state->link->id())
                        registry->remove(name, 0, [](ferry_status, uint64_t, const std::string &) {});
            conn->coreState = nullptr;
            delete state;
        });
    }
    return *static_cast<ConnectionState *>(conn->coreState);
}

QueuePtr findQueue(ConnectionState &state, QueueRegistry &registry, const std::string &name)
{
    auto it = state.queueCache.find(name);
    if (it != state.queueCache.end()) {
        if (auto q = it->second.lock(); q && !q->deleted())
            return q;
    }
    QueuePtr q = registry.find(name);
    if (q)
        state.queueCache[name] = q;
    else if (it != state.queueCache.end())
        state.queueCache.erase(it);
    return q;
}

void postResult(const ConnectionLinkPtr &link, uint64_t correlationId, ferry_status status, std::string text,
                uint64_t offset = 0, uint64_t messageCount = 0, uint64_t consumerCount = 0,
                const uint8_t *messageId = nullptr)
{
    if (correlationId == 0)
        return;
    std::array<uint8_t, 16> id{};
    if (messageId)
        std::memcpy(id.data(), messageId, id.size());
    link->post([=, text = std::move(text)](Connection &c) {
        ferry_result r{};
        r.struct_size = sizeof r;
        r.correlation_id = correlationId;
        r.status = status;
        r.text = text.empty() ? nullptr : text.data();
        r.text_len = text.size();
        r.offset = offset;
        r.message_count = messageCount;
        r.consumer_count = consumerCount;
        std::memcpy(r.message_id, id.data(), id.size());
        c.protocol().on_result(c.session(), &r);
    });
}

std::string text(const char *p, size_t n) { return n ? std::string(p, n) : std::string(); }

// RabbitMQ's words for another connection's exclusive queue (405 RESOURCE_LOCKED).
std::string lockedText(const std::string &qualified)
{
    const size_t sep = qualified.find(FERRY_VHOST_SEPARATOR);
    const std::string vhost = sep == std::string::npos ? FERRY_DEFAULT_VHOST : qualified.substr(0, sep);
    const std::string name = sep == std::string::npos ? qualified : qualified.substr(sep + 1);
    return "cannot obtain exclusive access to locked queue '" + name + "' in vhost '" + vhost +
           "'. It could be originally declared on another connection or the exclusive property value does not "
           "match that of the original declaration.";
}

// on_delivery(message) for a pull-like service (correlation id, no subscription), on the connection's thread.
void deliverTo(Connection &c, uint64_t correlationId, const std::string &queue, uint64_t offset, const Message &m)
{
    ferry_message view{};
    m.fillView(&view);
    ferry_delivery d{};
    d.struct_size = sizeof d;
    d.correlation_id = correlationId;
    d.queue = queue.data();
    d.queue_len = queue.size();
    d.offset = offset;
    d.delivery_count = 1;
    d.message = &view;
    c.protocol().on_delivery(c.session(), &d);
}

constexpr uint64_t kMaxDelayMs = 100ull * 366 * 24 * 3600 * 1000; // "up to 100 years ahead" (ferry_protocol.h)

uint64_t wallClockMs()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

// ---- the C entry points -----------------------------------------------------------------------------------------

ferry_status queueDeclare(ferry_conn *conn, uint64_t correlationId, const char *name, size_t nameLen, uint32_t flags)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    if (name == nullptr && nameLen > 0)
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    ConnectionLinkPtr link = state.link;
    registry->declare(text(name, nameLen), flags,
                      [link, correlationId](ferry_status st, const QueuePtr &q, const std::string &err) {
                          QueueCounts c;
                          if (q)
                              c = q->counts();
                          postResult(link, correlationId, st, err, 0, c.ready, c.consumers);
                      });
    return FERRY_OK;
}

ferry_status queueDelete(ferry_conn *conn, uint64_t correlationId, const char *name, size_t nameLen, uint32_t flags)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    ConnectionState &state = stateOf(conn);
    ConnectionLinkPtr link = state.link;
    const std::string queueName = text(name, nameLen);
    if (QueuePtr q = registry->find(queueName); q && q->owner() != 0 && q->owner() != link->id())
        return postResult(link, correlationId, FERRY_E_LOCKED, lockedText(queueName)), FERRY_OK;
    state.queueCache.erase(queueName);
    registry->remove(queueName, flags, [link, correlationId](ferry_status st, uint64_t dropped, const std::string &err) {
        postResult(link, correlationId, st, err, 0, dropped);
    });
    return FERRY_OK;
}

ferry_status publish(ferry_conn *conn, uint64_t correlationId, const char *queue, size_t queueLen,
                     const ferry_message *message, uint32_t flags)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    if (message == nullptr || (message->body == nullptr && message->body_len > 0))
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(queue, queueLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    Connection *c = Connection::fromHandle(conn);
    std::shared_ptr<Message> m = messageFromView(*message, c->plugin().name);
    const bool wantResult = (flags & FERRY_PUBLISH_NO_RESULT) == 0 && correlationId != 0;
    Queue::PublishDone done;
    if (wantResult) {
        done = [link = state.link, correlationId, m](ferry_status st, uint64_t offset, const std::string &err) {
            postResult(link, correlationId, st, err, offset, 0, 0, m->id.data());
        };
    }
    // deliver_at_ms exists from ABI 1.2 on: read it only when the plugin's struct has it.
    const uint64_t deliverAt = message->struct_size >= offsetof(ferry_message, deliver_at_ms) + sizeof(uint64_t)
                                   ? message->deliver_at_ms
                                   : 0;
    if (deliverAt != 0 && g_services.delayed != nullptr && deliverAt > wallClockMs()) {
        if (deliverAt - wallClockMs() > kMaxDelayMs)
            return FERRY_E_INVALID_ARGUMENT;
        g_services.delayed->schedule(std::move(m), q->name(), deliverAt, std::move(done));
        return FERRY_OK;
    }
    if ((q->flags() & Queue::kCursorQueue) && g_services.router != nullptr) {
        // A send straight to a topic queue: what is bound to the topic's exchange gets a copy (stamped by publish).
        MessagePtr stamped = m;
        q->publish(std::move(m), std::move(done));
        const std::string &name = q->name();
        const size_t sep = name.rfind(FERRY_TOPIC_QUEUE_SEPARATOR);
        if (sep != std::string::npos)
            g_services.router->routeTopicCopies(name.substr(0, sep), stamped);
        return FERRY_OK;
    }
    q->publish(std::move(m), std::move(done));
    return FERRY_OK;
}

ferry_status subscribe(ferry_conn *conn, const ferry_subscribe_options *optionsIn, uint64_t *subscriptionIdOut)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    if (optionsIn == nullptr || subscriptionIdOut == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    ferry_subscribe_options options{};
    std::memcpy(&options, optionsIn, std::min<size_t>(optionsIn->struct_size, sizeof options));
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(options.queue, options.queue_len));
    if (!q)
        return FERRY_E_NOT_FOUND;
    if (q->owner() != 0 && q->owner() != state.link->id())
        return FERRY_E_LOCKED;
    auto sub = std::make_shared<Subscription>();
    sub->id = g_nextSubscriptionId.fetch_add(1);
    sub->queue = q;
    sub->link = state.link;
    sub->prefetch = options.prefetch;
    sub->autoAck = (options.flags & FERRY_SUBSCRIBE_AUTO_ACK) != 0;
    if (options.credit_group != 0) {
        CreditGroupPtr &group = state.creditGroups[options.credit_group];
        if (!group)
            group = std::make_shared<CreditGroup>();
        group->limit.store(options.credit_limit);
        sub->group = group;
    }
    // Registered before the queue can deliver, so a close hook always finds it.
    state.subscriptions[sub->id] = sub;
    const ferry_status st = q->subscribe(sub, (options.flags & FERRY_SUBSCRIBE_EXCLUSIVE) != 0);
    if (st != FERRY_OK) {
        state.subscriptions.erase(sub->id);
        return st;
    }
    *subscriptionIdOut = sub->id;
    return FERRY_OK;
}

ferry_status unsubscribe(ferry_conn *conn, uint64_t subscriptionId)
{
    ConnectionState &state = stateOf(conn);
    auto it = state.subscriptions.find(subscriptionId);
    if (it == state.subscriptions.end())
        return FERRY_E_NOT_FOUND;
    SubscriptionPtr sub = it->second;
    state.subscriptions.erase(it);
    if (auto q = sub->queue.lock())
        q->unsubscribe(sub);
    return FERRY_OK;
}

ferry_status settle(ferry_conn *conn, uint64_t subscriptionId, uint64_t offset, uint32_t flags, bool isAck)
{
    ConnectionState &state = stateOf(conn);
    auto it = state.subscriptions.find(subscriptionId);
    if (it == state.subscriptions.end())
        return FERRY_E_NOT_FOUND;
    QueuePtr q = it->second->queue.lock();
    if (!q)
        return FERRY_E_CLOSED;
    const bool multiple = (flags & FERRY_ACK_MULTIPLE) != 0;
    if (isAck)
        return q->ack(it->second, offset, multiple);
    return q->nack(it->second, offset, multiple, (flags & FERRY_ACK_REQUEUE) != 0);
}

ferry_status ack(ferry_conn *conn, uint64_t subscriptionId, uint64_t offset, uint32_t flags)
{
    return settle(conn, subscriptionId, offset, flags, true);
}

ferry_status nack(ferry_conn *conn, uint64_t subscriptionId, uint64_t offset, uint32_t flags)
{
    return settle(conn, subscriptionId, offset, flags, false);
}

ferry_status pull(ferry_conn *conn, uint64_t correlationId, const char *queue, size_t queueLen, const char *group,
                  size_t groupLen, uint64_t fromOffset, uint32_t maxMessages, uint32_t waitMs)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(queue, queueLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    state.pulledQueues[q->id()] = q;
    ConnectionLinkPtr link = state.link;
    if (fromOffset != FERRY_OFFSET_COMMITTED) {
        q->pull(link, correlationId, fromOffset, maxMessages, waitMs);
        return FERRY_OK;
    }
    if (groupLen == 0)
        return FERRY_E_INVALID_ARGUMENT;
    std::weak_ptr<Queue> weak = q;
    q->committedOffset(text(group, groupLen), [weak, link, correlationId, maxMessages, waitMs](ferry_status st,
                                                                                            uint64_t offset) {
        auto self = weak.lock();
        if (!self)
            return postResult(link, correlationId, FERRY_E_CLOSED, "queue was deleted");
        if (st != FERRY_OK && st != FERRY_E_NOT_FOUND)
            return postResult(link, correlationId, st, "reading the group's offset failed");
        self->pull(link, correlationId, st == FERRY_OK ? offset : 0, maxMessages, waitMs);
    });
    return FERRY_OK;
}

ferry_status commitOffset(ferry_conn *conn, uint64_t correlationId, const char *queue, size_t queueLen,
                          const char *group, size_t groupLen, uint64_t offset)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    if (groupLen == 0)
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(queue, queueLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    q->commitOffset(text(group, groupLen), offset,
                    [link = state.link, correlationId, offset](ferry_status st, const std::string &err) {
                        postResult(link, correlationId, st, err, offset);
                    });
    return FERRY_OK;
}

// ---- ABI 1.1: queue state, offsets, time search ---------------------------------------------------------------

ferry_status queueInfo(void *, const char *name, size_t nameLen, ferry_queue_info *out)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    if (out == nullptr || out->struct_size == 0)
        return FERRY_E_INVALID_ARGUMENT;
    QueuePtr q = registry->find(text(name, nameLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    ferry_queue_info info{};
    info.struct_size = out->struct_size;
    info.flags = q->flags() & 0xFFFFu; // the ABI's FERRY_QUEUE_* bits only
    info.id = q->id();
    info.low = q->low();
    info.next = q->next();
    const QueueCounts c = q->counts();
    info.ready = c.ready;
    info.unacked = c.unacked;
    info.consumers = c.consumers;
    std::memcpy(out, &info, std::min<size_t>(out->struct_size, sizeof info));
    return FERRY_OK;
}

ferry_status queueName(void *, uint64_t queueId, char *buf, size_t cap, size_t *nameLen)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    QueuePtr q = registry->findById(queueId);
    if (!q)
        return FERRY_E_NOT_FOUND;
    if (nameLen)
        *nameLen = q->name().size();
    if (buf == nullptr || cap == 0)
        return q->name().empty() ? FERRY_OK : FERRY_E_TOO_LARGE;
    const size_t n = std::min(cap - 1, q->name().size());
    std::memcpy(buf, q->name().data(), n);
    buf[n] = '\0';
    return n == q->name().size() ? FERRY_OK : FERRY_E_TOO_LARGE;
}

ferry_status offsetGet(ferry_conn *conn, uint64_t correlationId, const char *queue, size_t queueLen, const char *group,
                       size_t groupLen)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    if (groupLen == 0)
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(queue, queueLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    q->committedOffset(text(group, groupLen), [link = state.link, correlationId](ferry_status st, uint64_t offset) {
        postResult(link, correlationId, st, st == FERRY_E_NOT_FOUND ? "the group has no committed offset" : "",
                   offset);
    });
    return FERRY_OK;
}

ferry_status seekTime(ferry_conn *conn, uint64_t correlationId, const char *queue, size_t queueLen, uint64_t timeMs)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry || !g_servicesBound.load())
        return FERRY_E_CLOSED;
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(queue, queueLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    q->seekTime(timeMs, [link = state.link, correlationId](ferry_status st, uint64_t offset, const std::string &err) {
        postResult(link, correlationId, st, err, offset);
    });
    return FERRY_OK;
}

// ---- ABI 1.3: prepared messages ----------------------------------------------------------------------------------

ferry_status publishPrepared(ferry_conn *conn, uint64_t correlationId, const char *queue, size_t queueLen,
                             const ferry_message *message, const char *group, size_t groupLen)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry || !g_servicesBound.load() || !g_services.prepared)
        return FERRY_E_CLOSED;
    if (message == nullptr || (message->body == nullptr && message->body_len > 0))
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(queue, queueLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    std::shared_ptr<Message> m = messageFromView(*message, Connection::fromHandle(conn)->plugin().name);
    Queue::PublishDone done;
    if (correlationId != 0)
        done = [link = state.link, correlationId, m](ferry_status st, uint64_t handle, const std::string &err) {
            postResult(link, correlationId, st, err, handle, 0, 0, m->id.data());
        };
    g_services.prepared->prepare(std::move(m), q->name(), text(group, groupLen), std::move(done));
    return FERRY_OK;
}

ferry_status preparedEnd(ferry_conn *conn, uint64_t correlationId, uint64_t handle, uint32_t flags,
                         const char *queueOverride, size_t queueOverrideLen)
{
    if (!g_servicesBound.load() || !g_services.prepared)
        return FERRY_E_CLOSED;
    const bool commit = (flags & FERRY_PREPARED_COMMIT) != 0;
    if (commit == ((flags & FERRY_PREPARED_ROLLBACK) != 0))
        return FERRY_E_INVALID_ARGUMENT; // exactly one of the two
    if (conn == nullptr && correlationId != 0)
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionLinkPtr link = conn ? stateOf(conn).link : nullptr;
    g_services.prepared->end(handle, commit, text(queueOverride, queueOverrideLen),
                             [link, correlationId](ferry_status st, uint64_t offset, const std::string &err) {
                                 if (link)
                                     postResult(link, correlationId, st, err, offset);
                             });
    return FERRY_OK;
}

ferry_status preparedList(void *, ferry_prepared_sink sink, void *sinkCtx)
{
    if (!g_servicesBound.load() || !g_services.prepared)
        return FERRY_E_CLOSED;
    if (sink == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    for (const auto &[handle, p] : g_services.prepared->pending())
        if (sink(sinkCtx, handle, p.queue.data(), p.queue.size(), p.group.data(), p.group.size(), p.storeTimeMs) != 0)
            break;
    return FERRY_OK;
}

ferry_status preparedRead(ferry_conn *conn, uint64_t correlationId, uint64_t handle)
{
    if (!g_servicesBound.load() || !g_services.prepared)
        return FERRY_E_CLOSED;
    ConnectionLinkPtr link = stateOf(conn).link;
    g_services.prepared->read(handle, [link, correlationId, handle](ferry_status st, MessagePtr m,
                                                                     const PreparedStore::Pending &p) {
        if (st == FERRY_OK && m) {
            link->post([m, handle, correlationId, queue = p.queue](Connection &c) {
                deliverTo(c, correlationId, queue, handle, *m);
            });
        }
        postResult(link, correlationId, st, st == FERRY_OK ? "" : "no unresolved prepared message", handle,
                   st == FERRY_OK ? 1 : 0);
    });
    return FERRY_OK;
}

// ---- ABI 1.4: the key index ------------------------------------------------------------------------------------------

ferry_status queryKey(ferry_conn *conn, uint64_t correlationId, const char *key, size_t keyLen, const char *prefix,
                      size_t prefixLen, uint64_t beginMs, uint64_t endMs, uint32_t maxMessages)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry || !g_servicesBound.load() || !g_services.keys)
        return FERRY_E_CLOSED;
    if (keyLen == 0)
        return FERRY_E_INVALID_ARGUMENT;
    const std::string queuePrefix = text(prefix, prefixLen);
    struct Found {
        QueuePtr queue;
        uint64_t offset;
        MessagePtr message;
    };
    auto found = std::make_shared<std::vector<Found>>();
    // Over-fetch: hits in other queues are filtered out below.
    for (const KeyIndex::Hit &h : g_services.keys->find(text(key, keyLen), beginMs, endMs, 4096)) {
        if (found->size() >= (maxMessages ? maxMessages : 64u))
            break;
        QueuePtr q = registry->findById(h.queueId);
        if (q && q->name().compare(0, queuePrefix.size(), queuePrefix) == 0)
            found->push_back({q, h.offset, nullptr});
    }
    ConnectionLinkPtr link = stateOf(conn).link;
    g_services.storage->submit(
        [found](StorageSession &s) {
            for (Found &f : *found) {
                std::shared_ptr<Message> m;
                const ferry_status st = s.readMessage(f.queue->id(), f.offset, &m);
                f.message = std::move(m);
                if (st != FERRY_OK && st != FERRY_E_NOT_FOUND && st != FERRY_E_CORRUPT)
                    return st;
            }
            return FERRY_OK;
        },
        [link, correlationId, found](ferry_status st, const std::string &err) {
            uint64_t count = 0;
            for (const Found &f : *found)
                count += f.message ? 1 : 0;
            link->post([found, correlationId](Connection &c) {
                for (const Found &f : *found)
                    if (f.message) // else removed by retention since it was indexed
                        deliverTo(c, correlationId, f.queue->name(), f.offset, *f.message);
            });
            postResult(link, correlationId, st, err, 0, count);
        },
        false);
    return FERRY_OK;
}

// ---- ABI 1.1: topics ----------------------------------------------------------------------------------------------

void fillTopicInfo(const TopicConfig &t, ferry_topic_info *out)
{
    *out = ferry_topic_info{};
    out->struct_size = sizeof *out;
    out->name = t.name.data();
    out->name_len = t.name.size();
    out->read_queues = t.readQueues;
    out->write_queues = t.writeQueues;
    out->perm = t.perm;
    out->flags = t.flags;
}

ferry_status topicDeclare(void *ctx, const ferry_topic_info *topicIn, uint32_t flags)
{
    if (!g_servicesBound.load())
        return FERRY_E_CLOSED;
    if (topicIn == nullptr || (topicIn->name == nullptr && topicIn->name_len > 0))
        return FERRY_E_INVALID_ARGUMENT;
    const ferry_topic_info topic = sdk::copy_struct(topicIn);
    TopicConfig config;
    config.name = text(topic.name, topic.name_len);
    config.readQueues = topic.read_queues;
    config.writeQueues = topic.write_queues;
    config.perm = topic.perm;
    config.flags = topic.flags;
    std::string error;
    const ferry_status st = g_services.topics->declare(config, flags, &error);
    if (st != FERRY_OK) {
        auto e = entryFor(ctx);
        const ferry_host *host = e ? e->plugin->host : nullptr;
        if (host && st != FERRY_E_ALREADY_EXISTS)
            host->log(host->ctx, FERRY_LOG_DEBUG, error.data(), error.size());
    }
    return st;
}

ferry_status topicDelete(void *, const char *name, size_t nameLen)
{
    if (!g_servicesBound.load())
        return FERRY_E_CLOSED;
    std::string error;
    return g_services.topics->remove(text(name, nameLen), &error);
}

ferry_status topicGet(void *, const char *name, size_t nameLen, ferry_topic_sink sink, void *sinkCtx)
{
    if (!g_servicesBound.load())
        return FERRY_E_CLOSED;
    if (sink == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    const auto t = g_services.topics->find(text(name, nameLen));
    if (!t)
        return FERRY_E_NOT_FOUND;
    ferry_topic_info info;
    fillTopicInfo(*t, &info);
    sink(sinkCtx, &info);
    return FERRY_OK;
}

ferry_status topicList(void *, ferry_topic_sink sink, void *sinkCtx)
{
    if (!g_servicesBound.load())
        return FERRY_E_CLOSED;
    if (sink == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    for (const TopicConfig &t : g_services.topics->list()) {
        ferry_topic_info info;
        fillTopicInfo(t, &info);
        if (sink(sinkCtx, &info) != 0)
            break;
    }
    return FERRY_OK;
}

// ---- ABI 1.1: instance services ---------------------------------------------------------------------------------

ferry_status wake(void *ctx, uint64_t connId, uint64_t token)
{
    auto e = entryFor(ctx);
    if (!e || !g_servicesBound.load())
        return FERRY_E_CLOSED;
    if (e->plugin->protocol.on_wake == nullptr)
        return FERRY_E_UNSUPPORTED;
    return g_services.network->wake(connId, e->plugin, token) ? FERRY_OK : FERRY_E_NOT_FOUND;
}

ferry_status connectOut(void *ctx, const char *address, size_t addressLen, uint64_t tag)
{
    auto e = entryFor(ctx);
    if (!e || !g_servicesBound.load())
        return FERRY_E_CLOSED;
    if (e->plugin->protocol.on_connect == nullptr)
        return FERRY_E_UNSUPPORTED;
    ferry_protocol *instance = e->instance.load();
    if (instance == nullptr)
        return FERRY_E_BUSY; // still inside init
    ListenerSpec spec{text(address, addressLen), e->plugin, instance, UINT32_MAX,
                      e->plugin->name + " outbound " + std::to_string(tag)};
    spec.connectTag = tag;
    g_services.network->connect(std::move(spec));
    return FERRY_OK;
}

void fireInstanceTimer(const std::weak_ptr<ProtocolEntry> &weak, uint64_t timerId, uint64_t generation)
{
    auto e = weak.lock();
    if (!e || !g_servicesBound.load())
        return;
    if (e->instance.load() == nullptr) {
        // Armed inside init, fired before init returned the instance: try again shortly.
        g_services.scheduler->after(10, [weak, timerId, generation] { fireInstanceTimer(weak, timerId, generation); });
        return;
    }
    {
        std::lock_guard lock(e->timerMutex);
        auto it = e->timers.find(timerId);
        if (it == e->timers.end() || it->second != generation)
            return; // re-armed or dropped meanwhile
        e->timers.erase(it);
    }
    ferry_protocol *instance = e->instance.load();
    if (instance != nullptr && e->plugin->protocol.on_instance_timer != nullptr)
        e->plugin->protocol.on_instance_timer(instance, timerId);
}

ferry_status setInstanceTimer(void *ctx, uint64_t timerId, uint32_t delayMs)
{
    auto e = entryFor(ctx);
    if (!e || !g_servicesBound.load())
        return FERRY_E_CLOSED;
    if (e->plugin->protocol.on_instance_timer == nullptr)
        return FERRY_E_UNSUPPORTED;
    uint64_t generation;
    {
        std::lock_guard lock(e->timerMutex);
        generation = e->nextGeneration++;
        e->timers[timerId] = generation;
    }
    std::weak_ptr<ProtocolEntry> weak = e;
    g_services.scheduler->after(delayMs, [weak, timerId, generation] { fireInstanceTimer(weak, timerId, generation); });
    return FERRY_OK;
}

ferry_status listenerAddress(void *ctx, uint32_t index, char *buf, size_t cap)
{
    auto e = entryFor(ctx);
    if (!e || !g_servicesBound.load())
        return FERRY_E_CLOSED;
    if (index >= e->plugin->listeners.size())
        return FERRY_E_INVALID_ARGUMENT;
    if (!e->listenersOpen.load())
        return FERRY_E_BUSY;
    const std::string key = e->plugin->name + "." + e->plugin->listeners[index].config_key;
    for (const auto &[configKey, address] : g_services.network->boundAddresses()) {
        if (configKey != key)
            continue;
        if (buf == nullptr || cap <= address.size())
            return FERRY_E_TOO_LARGE;
        std::memcpy(buf, address.c_str(), address.size() + 1);
        return FERRY_OK;
    }
    return FERRY_E_NOT_FOUND;
}


// ---- ABI 1.5: queue arguments, get, settle_many, pause --------------------------------------------------------

ferry_status queueDeclareEx(ferry_conn *conn, uint64_t correlationId, const char *name, size_t nameLen, uint32_t flags,
                            const ferry_queue_options *optionsIn)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    if (name == nullptr && nameLen > 0)
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    const std::string queueName = text(name, nameLen);
    QueueRegistry::DeclareRequest request;
    request.flags = flags;
    request.owner = state.link->id();
    request.strict = true;
    if (optionsIn != nullptr) {
        const ferry_queue_options o = sdk::copy_struct(optionsIn);
        QueueArgs &a = request.args;
        a.messageTtlMs = o.message_ttl_ms;
        a.expiresMs = o.expires_ms;
        a.maxLength = o.max_length;
        a.maxLengthBytes = o.max_length_bytes;
        a.overflow = o.overflow <= FERRY_OVERFLOW_REJECT_PUBLISH_DLX ? o.overflow : FERRY_OVERFLOW_DROP_HEAD;
        a.maxPriority = std::min<uint32_t>(o.max_priority, 255);
        a.singleActiveConsumer = o.single_active_consumer != 0;
        if (o.dead_letter_exchange != nullptr) {
            a.hasDeadLetterExchange = true;
            a.deadLetterExchange = Router::qualify(Router::split(queueName).first,
                                                   text(o.dead_letter_exchange, o.dead_letter_exchange_len));
        }
        if (o.dead_letter_routing_key != nullptr) {
            a.hasDeadLetterRoutingKey = true;
            a.deadLetterRoutingKey = text(o.dead_letter_routing_key, o.dead_letter_routing_key_len);
        }
    }
    const bool exclusive = (flags & FERRY_QUEUE_EXCLUSIVE) != 0 && (flags & FERRY_QUEUE_PASSIVE) == 0;
    if (exclusive && !registry->find(queueName))
        state.exclusiveQueues.push_back(queueName);
    ConnectionLinkPtr link = state.link;
    registry->declare(queueName, request, [link, correlationId](ferry_status st, const QueuePtr &q, const std::string &err) {
        QueueCounts c;
        if (q)
            c = q->counts();
        postResult(link, correlationId, st, err, 0, c.ready, c.consumers);
    });
    return FERRY_OK;
}

ferry_status queuePurge(ferry_conn *conn, uint64_t correlationId, const char *name, size_t nameLen)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    ConnectionState &state = stateOf(conn);
    const std::string queueName = text(name, nameLen);
    QueuePtr q = findQueue(state, *registry, queueName);
    if (!q) {
        const auto [vhost, plain] = Router::split(queueName);
        postResult(state.link, correlationId, FERRY_E_NOT_FOUND, "no queue '" + plain + "' in vhost '" + vhost + "'");
        return FERRY_OK;
    }
    if (q->owner() != 0 && q->owner() != state.link->id()) {
        postResult(state.link, correlationId, FERRY_E_LOCKED, lockedText(queueName));
        return FERRY_OK;
    }
    postResult(state.link, correlationId, FERRY_OK, {}, 0, q->purge());
    return FERRY_OK;
}

ferry_status getMessage(ferry_conn *conn, uint64_t correlationId, const char *queue, size_t queueLen, uint32_t flags)
{
    QueueRegistry *registry = g_registry.load();
    if (!registry)
        return FERRY_E_CLOSED;
    ConnectionState &state = stateOf(conn);
    QueuePtr q = findQueue(state, *registry, text(queue, queueLen));
    if (!q)
        return FERRY_E_NOT_FOUND;
    if (q->owner() != 0 && q->owner() != state.link->id())
        return FERRY_E_LOCKED;
    const bool autoAck = (flags & FERRY_SUBSCRIBE_AUTO_ACK) != 0;
    SubscriptionPtr &handle = state.getHandles[{q->id(), autoAck}];
    if (!handle || handle->queue.lock() != q) {
        handle = std::make_shared<Subscription>();
        handle->id = g_nextSubscriptionId.fetch_add(1);
        handle->queue = q;
        handle->link = state.link;
        handle->autoAck = autoAck;
        handle->consumer = false;
        state.subscriptions[handle->id] = handle; // its unacked messages are requeued when the connection closes
    }
    q->get(handle, correlationId);
    return FERRY_OK;
}

ferry_status settleMany(ferry_conn *conn, uint64_t subscriptionId, const uint64_t *offsets, size_t count,
                        uint32_t flags, int32_t isAck)
{
    if (count > 0 && offsets == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    auto it = state.subscriptions.find(subscriptionId);
    if (it == state.subscriptions.end())
        return FERRY_E_NOT_FOUND;
    QueuePtr q = it->second->queue.lock();
    if (!q)
        return FERRY_E_CLOSED;
    return q->settleMany(it->second, offsets, count, isAck != 0, (flags & FERRY_ACK_REQUEUE) != 0);
}

ferry_status subscriptionPause(ferry_conn *conn, uint64_t subscriptionId, int32_t paused)
{
    ConnectionState &state = stateOf(conn);
    auto it = state.subscriptions.find(subscriptionId);
    if (it == state.subscriptions.end())
        return FERRY_E_NOT_FOUND;
    it->second->paused.store(paused != 0);
    if (!paused)
        if (QueuePtr q = it->second->queue.lock())
            q->kick();
    return FERRY_OK;
}

// ---- ABI 1.5: exchanges, bindings, routing ---------------------------------------------------------------------

ferry_status exchangeDeclare(ferry_conn *conn, uint64_t correlationId, const char *name, size_t nameLen,
                             const ferry_exchange_options *optionsIn)
{
    if (!g_servicesBound.load() || !g_services.router)
        return FERRY_E_CLOSED;
    if (optionsIn == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    const ferry_exchange_options o = sdk::copy_struct(optionsIn);
    ExchangeConfig config;
    config.name = text(name, nameLen);
    config.type = text(o.type, o.type_len);
    config.delayedType = text(o.delayed_type, o.delayed_type_len);
    config.flags = o.flags;
    std::string error;
    const ferry_status st =
        g_services.router->declareExchange(config, (o.flags & FERRY_EXCHANGE_PASSIVE) != 0, &error);
    postResult(stateOf(conn).link, correlationId, st, error);
    return FERRY_OK;
}

ferry_status exchangeDelete(ferry_conn *conn, uint64_t correlationId, const char *name, size_t nameLen, uint32_t flags)
{
    if (!g_servicesBound.load() || !g_services.router)
        return FERRY_E_CLOSED;
    std::string error;
    const ferry_status st =
        g_services.router->deleteExchange(text(name, nameLen), (flags & FERRY_EXCHANGE_IF_UNUSED) != 0, &error);
    postResult(stateOf(conn).link, correlationId, st, error);
    return FERRY_OK;
}

ferry_status bindOrUnbind(ferry_conn *conn, uint64_t correlationId, const ferry_binding *bindingIn, bool bind)
{
    if (!g_servicesBound.load() || !g_services.router)
        return FERRY_E_CLOSED;
    if (bindingIn == nullptr)
        return FERRY_E_INVALID_ARGUMENT;
    const ferry_binding b = sdk::copy_struct(bindingIn);
    BindingConfig config;
    config.source = text(b.source, b.source_len);
    config.kind = b.destination_kind == FERRY_BIND_EXCHANGE ? FERRY_BIND_EXCHANGE : FERRY_BIND_QUEUE;
    config.destination = text(b.destination, b.destination_len);
    config.routingKey = text(b.routing_key, b.routing_key_len);
    if (b.arguments_len)
        config.arguments.assign(reinterpret_cast<const char *>(b.arguments), b.arguments_len);
    ConnectionState &state = stateOf(conn);
    if (config.kind == FERRY_BIND_QUEUE) {
        if (QueuePtr q = g_registry.load() ? g_registry.load()->find(config.destination) : nullptr;
            q && q->owner() != 0 && q->owner() != state.link->id()) {
            postResult(state.link, correlationId, FERRY_E_LOCKED, lockedText(config.destination));
            return FERRY_OK;
        }
    }
    std::string error;
    const ferry_status st = bind ? g_services.router->bind(config, &error) : g_services.router->unbind(config, &error);
    postResult(state.link, correlationId, st, error);
    return FERRY_OK;
}

ferry_status bindService(ferry_conn *conn, uint64_t correlationId, const ferry_binding *binding)
{
    return bindOrUnbind(conn, correlationId, binding, true);
}

ferry_status unbindService(ferry_conn *conn, uint64_t correlationId, const ferry_binding *binding)
{
    return bindOrUnbind(conn, correlationId, binding, false);
}

ferry_status routeService(ferry_conn *conn, uint64_t correlationId, const char *exchange, size_t exchangeLen,
                          const ferry_message *message, uint32_t flags)
{
    if (!g_servicesBound.load() || !g_services.router)
        return FERRY_E_CLOSED;
    if (message == nullptr || (message->body == nullptr && message->body_len > 0))
        return FERRY_E_INVALID_ARGUMENT;
    ConnectionState &state = stateOf(conn);
    std::shared_ptr<Message> m = messageFromView(*message, Connection::fromHandle(conn)->plugin().name);
    const bool wantResult = (flags & FERRY_PUBLISH_NO_RESULT) == 0 && correlationId != 0;
    Router::RouteDone done;
    if (wantResult)
        done = [link = state.link, correlationId, m](ferry_status st, uint64_t queues, const std::string &err) {
            postResult(link, correlationId, st, err, 0, queues, 0, m->id.data());
        };
    const std::string exchangeName = text(exchange, exchangeLen);
    const uint64_t deliverAt = message->deliver_at_ms;
    if (deliverAt != 0 && g_services.delayed != nullptr && deliverAt > wallClockMs()) {
        if (!g_services.router->exchangeExists(exchangeName))
            return FERRY_E_NOT_FOUND;
        if (deliverAt - wallClockMs() > kMaxDelayMs)
            return FERRY_E_INVALID_ARGUMENT;
        g_services.delayed->scheduleRoute(std::move(m), exchangeName, deliverAt,
                                          [done](ferry_status st, uint64_t, const std::string &err) {
                                              if (done)
                                                  done(st, st == FERRY_OK ? 1 : 0, err);
                                          });
        return FERRY_OK;
    }
    std::string error;
    return g_services.router->route(exchangeName, std::move(m), std::move(done), &error);
}

// ---- ABI 1.5: users, vhosts, permissions ------------------------------------------------------------------------

void copyError(const std::string &text, char *err, size_t cap)
{
    if (err == nullptr || cap == 0)
        return;
    const size_t n = std::min(cap - 1, text.size());
    std::memcpy(err, text.data(), n);
    err[n] = '\0';
}

ferry_status authenticate(void *, const char *user, size_t userLen, const char *password, size_t passwordLen,
                          const char *peerHost, size_t peerHostLen, char *err, size_t errCap)
{
    if (!g_servicesBound.load() || !g_services.auth)
        return FERRY_E_CLOSED;
    std::string reason;
    const ferry_status st = g_services.auth->authenticate(text(user, userLen), text(password, passwordLen),
                                                          text(peerHost, peerHostLen), &reason);
    if (st != FERRY_OK)
        copyError(reason, err, errCap);
    return st;
}

ferry_status vhostAccess(void *, const char *user, size_t userLen, const char *vhost, size_t vhostLen)
{
    if (!g_servicesBound.load() || !g_services.auth)
        return FERRY_E_CLOSED;
    return g_services.auth->vhostAccess(text(user, userLen), text(vhost, vhostLen));
}

ferry_status permissionCheck(void *, const char *user, size_t userLen, const char *vhost, size_t vhostLen,
                             uint32_t what, const char *resource, size_t resourceLen)
{
    if (!g_servicesBound.load() || !g_services.auth)
        return FERRY_E_CLOSED;
    return g_services.auth->check(text(user, userLen), text(vhost, vhostLen), what, text(resource, resourceLen));
}

ferry_status replicationInfo(void *, ferry_replication_info *out)
{
    if (out == nullptr || out->struct_size < sizeof(uint32_t) + sizeof(int32_t))
        return FERRY_E_INVALID_ARGUMENT;
    if (!g_servicesBound.load() || !g_services.replication)
        return FERRY_E_CLOSED;
    g_services.replication->fillInfo(out);
    return FERRY_OK;
}

void replicationMasterHint(void *, const char *address, size_t len)
{
    if (g_servicesBound.load() && g_services.replication && address != nullptr)
        g_services.replication->masterHint(std::string(address, len));
}

uint32_t resourceAlarms(void *)
{
    if (!g_servicesBound.load() || !g_services.alarms)
        return 0;
    return g_services.alarms->alarms();
}

} // namespace

void registerProtocolPlugin(const LoadedPlugin *plugin)
{
    auto e = std::make_shared<ProtocolEntry>();
    e->plugin = plugin;
    std::lock_guard lock(g_entriesMutex);
    g_entries.push_back(std::move(e));
}

void setProtocolInstance(const LoadedPlugin *plugin, ferry_protocol *instance)
{
    std::lock_guard lock(g_entriesMutex);
    for (const auto &e : g_entries)
        if (e->plugin == plugin)
            e->instance.store(instance);
}

void forEachProtocolInstance(const std::function<void(const LoadedPlugin &, ferry_protocol *)> &fn)
{
    std::lock_guard lock(g_entriesMutex);
    for (const auto &e : g_entries)
        if (ferry_protocol *instance = e->instance.load())
            fn(*e->plugin, instance);
}

void setProtocolListenersOpen(const LoadedPlugin *plugin)
{
    std::lock_guard lock(g_entriesMutex);
    for (const auto &e : g_entries)
        if (e->plugin == plugin)
            e->listenersOpen.store(true);
}

void fillKernelServices(ferry_protocol_host *table, const KernelServices &services)
{
    g_services = services;
    g_servicesBound.store(true);
    QueueRegistry *registry = services.queues;
    g_registry.store(registry);
    table->queue_declare = queueDeclare;
    table->queue_delete = queueDelete;
    table->publish = publish;
    table->subscribe = subscribe;
    table->unsubscribe = unsubscribe;
    table->ack = ack;
    table->nack = nack;
    table->pull = pull;
    table->commit_offset = commitOffset;
    table->wake = wake;
    table->connect = connectOut;
    table->set_instance_timer = setInstanceTimer;
    table->listener_address = listenerAddress;
    table->topic_declare = topicDeclare;
    table->topic_delete = topicDelete;
    table->topic_get = topicGet;
    table->topic_list = topicList;
    table->queue_info = queueInfo;
    table->queue_name = queueName;
    table->offset_get = offsetGet;
    table->seek_time = seekTime;
    table->publish_prepared = publishPrepared;
    table->prepared_end = preparedEnd;
    table->prepared_list = preparedList;
    table->prepared_read = preparedRead;
    table->query_key = queryKey;
    table->queue_declare_ex = queueDeclareEx;
    table->queue_purge = queuePurge;
    table->get = getMessage;
    table->settle_many = settleMany;
    table->subscription_pause = subscriptionPause;
    table->exchange_declare = exchangeDeclare;
    table->exchange_delete = exchangeDelete;
    table->bind = bindService;
    table->unbind = unbindService;
    table->route = routeService;
    table->authenticate = authenticate;
    table->vhost_access = vhostAccess;
    table->permission_check = permissionCheck;
    table->resource_alarms = resourceAlarms;
    table->replication_info = replicationInfo;
    table->replication_master_hint = replicationMasterHint;
}

void clearKernelServices()
{
    g_registry.store(nullptr);
    g_servicesBound.store(false);
    std::lock_guard lock(g_entriesMutex);
    g_entries.clear();
}

} // namespace ferry
