#include "broker/ProtocolServices.h"

#include "plugin/PluginHost.h"
#include "queue/ConnectionLink.h"
#include "queue/QueueRegistry.h"

#include <atomic>
#include <cstring>
#include <string>
#include <unordered_map>

namespace ferry {

namespace {

std::atomic<QueueRegistry *> g_registry{nullptr};
std::atomic<uint64_t> g_nextSubscriptionId{1};

// Kernel-core state of one connection. Touched only on the connection's thread.
struct ConnectionState {
    ConnectionLinkPtr link;
    std::unordered_map<uint64_t, SubscriptionPtr> subscriptions;
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
    auto sub = std::make_shared<Subscription>();
    sub->id = g_nextSubscriptionId.fetch_add(1);
    sub->queue = q;
    sub->link = state.link;
    sub->prefetch = options.prefetch;
    sub->autoAck = (options.flags & FERRY_SUBSCRIBE_AUTO_ACK) != 0;
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

} // namespace

void fillQueueServices(ferry_protocol_host *table, QueueRegistry *registry)
{
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
}

void clearQueueServices() { g_registry.store(nullptr); }

} // namespace ferry
