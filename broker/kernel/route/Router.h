// Router: exchanges and bindings (the AMQP model, shared by every protocol) and the routing of a message through
// them into queues. Also the kernel's dead-lettering (QueueEvents): a message that leaves a queue rejected, expired
// or pushed out by max-length is routed again through the queue's dead-letter exchange with its history.
//
// Names are vhost-qualified (ferry_protocol.h, FERRY_VHOST_SEPARATOR). Each vhost has the default exchange "" and
// the predeclared amq.direct / amq.fanout / amq.topic / amq.headers / amq.match. Every RocketMQ topic T is also the
// exchange "rocketmq.T" of the default vhost: routing to it appends to one of T's write queues in turn, and what is
// bound to it gets copies of everything sent to T (routeTopicCopies, called for sends that went straight to a topic
// queue).
//
// Durable exchanges and bindings whose ends are durable are recorded in the storage plugin's metadata space:
//   "exchange/<name>"      -> "1 <type> <flags> <hex delayed type>"
//   "binding/<hex identity>" -> "1" (identity: length-prefixed source, kind, destination, routing key, arguments)
// so a restart restores them.
//
// Dead-letter history rides in the message's property block under kDeathProperty (one entry per queue and reason,
// newest first; each value a nested property block with reason, queue, exchange, routing-key (repeated), time
// (seconds), count, and original-expiration when the message had its own TTL) and kFirstDeathProperty. The AMQP
// plugin renders them as x-death and x-first-death-*.
//
// Threading: thread-safe. The exchange table is read under a shared lock on the publish path; queues are found
// through the QueueRegistry. Results run on the storage thread or the caller's.
#pragma once

#include "queue/Message.h"
#include "queue/Queue.h"

#include <ferry/ferry_protocol.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace ferry {

class DelayedDelivery;
class QueueRegistry;
class StorageEngine;
class TopicRegistry;

struct ExchangeConfig {
    std::string name; // qualified
    std::string type; // direct | fanout | topic | headers | x-delayed-message | x-rocketmq-topic (virtual)
    std::string delayedType;
    uint32_t flags = 0; // FERRY_EXCHANGE_DURABLE | AUTO_DELETE | INTERNAL
};

struct BindingConfig {
    std::string source; // qualified exchange name
    uint32_t kind = FERRY_BIND_QUEUE;
    std::string destination; // qualified queue or exchange name
    std::string routingKey;
    std::string arguments; // property block

    bool operator==(const BindingConfig &o) const
    {
        return source == o.source && kind == o.kind && destination == o.destination && routingKey == o.routingKey &&
               arguments == o.arguments;
    }
};

class Router : public QueueEvents {
public:
    static constexpr const char *kDeathProperty = "$ferry.death";
    static constexpr const char *kFirstDeathProperty = "$ferry.first-death";
    // The property an x-delayed-message exchange reads (milliseconds, decimal text).
    static constexpr const char *kDelayProperty = "x-delay";

    // Called when the routing of one message is complete: status, queues that took it, error text.
    using RouteDone = std::function<void(ferry_status status, uint64_t queues, const std::string &error)>;

    Router(StorageEngine &storage, QueueRegistry &queues, TopicRegistry &topics);

    // Start-up, after queues and topics are restored: reads exchanges and bindings. Blocking.
    bool restore(std::string *error);
    // Declares the predeclared exchanges of vhost (idempotent). Start-up and vhost creation.
    void ensureVhost(const std::string &vhost);
    // The delay store routes x-delayed-message exchanges' messages back here when they are due.
    void setDelayedDelivery(DelayedDelivery *delayed) { delayed_ = delayed; }

    ferry_status declareExchange(const ExchangeConfig &config, bool passive, std::string *error);
    ferry_status deleteExchange(const std::string &name, bool ifUnused, std::string *error);
    ferry_status bind(const BindingConfig &binding, std::string *error);
    ferry_status unbind(const BindingConfig &binding, std::string *error);
    bool exchangeExists(const std::string &name) const;
    std::vector<ExchangeConfig> exchanges() const;
    std::vector<BindingConfig> bindings() const;

    // Stamps message (id, store time, exchange) and appends it to every queue its routing reaches. done (may be
    // empty) runs once every copy is accepted (stored, for persistent messages in durable queues). Returns
    // FERRY_E_NOT_FOUND / FERRY_E_ACCESS_DENIED (internal) synchronously, then done is not called.
    ferry_status route(const std::string &exchange, std::shared_ptr<Message> message, RouteDone done,
                       std::string *error);
    // Routes through exchange's bindings as if it were of type typeOverride (a due x-delayed-message).
    void routeDue(const std::string &exchange, std::shared_ptr<Message> message, RouteDone done);
    // A message a protocol appended straight to a queue of topic T: copies go to what is bound to "rocketmq.T".
    // Cheap when nothing is bound.
    void routeTopicCopies(const std::string &topic, const MessagePtr &message);

    // QueueEvents
    void deadLetter(const std::shared_ptr<Queue> &queue, const MessagePtr &message, DeadLetterReason reason) override;
    void deleteUnused(const std::shared_ptr<Queue> &queue) override;
    // A queue left the registry: its bindings go (and auto-delete exchanges left without bindings).
    void queueRemoved(const std::string &name);

    // "vhost" FERRY_VHOST_SEPARATOR "name", or name in the default vhost; and back.
    static std::string qualify(const std::string &vhost, const std::string &name);
    static std::pair<std::string, std::string> split(const std::string &qualified);
    // Topic-exchange pattern match ('*' one word, '#' zero or more), exposed for tests.
    static bool topicMatch(const std::string &pattern, const std::string &routingKey);

private:
    struct Exchange {
        ExchangeConfig config;
        std::vector<BindingConfig> bindings;
    };
    using ExchangePtr = std::shared_ptr<Exchange>;

    // The virtual exchange of a topic ("rocketmq.T") when T exists; caller holds mutex_ (shared).
    ExchangePtr findLocked(const std::string &name) const;
    void collectLocked(const Exchange &ex, const std::string &type, const Message &m, std::vector<QueuePtr> &queues,
                       std::vector<std::string> &visited, int depth) const;
    void deliver(std::vector<QueuePtr> queues, MessagePtr message, RouteDone done);
    void storeBinding(const BindingConfig &b, bool put);
    bool bindingDurable(const BindingConfig &b) const;
    void dropBindingsToLocked(uint32_t kind, const std::string &destination, std::vector<std::string> &emptied);
    void autoDeleteLocked(std::vector<std::string> names);

    StorageEngine &storage_;
    QueueRegistry &queues_;
    TopicRegistry &topics_;
    DelayedDelivery *delayed_ = nullptr;
    mutable std::shared_mutex mutex_;
    std::map<std::string, ExchangePtr> exchanges_;
    std::map<std::string, ExchangePtr> topicExchanges_; // "rocketmq.T" with bindings, created on first bind
    mutable std::atomic<uint64_t> topicRoundRobin_{0};
};

} // namespace ferry
