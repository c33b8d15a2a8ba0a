// RocketPlugin: the rocket-protocol plugin instance (one per process) and the per-connection Session.
//
// Roles, each behind its own listener (config section `rocket`):
//  - name server (`namesrv_listen`): broker registrations, routes, cluster info, KV config  -> NameServer.cpp
//  - broker (`broker_listen`): topics, send, pull, offsets, consumer groups                -> BrokerRole.cpp
//  - registration: outbound connections from the broker to every name server in `namesrv_addr` (or to its own name
//    server), re-registering every `register_interval_ms` and at once after a topic change  -> Registration.cpp
//
// Threading: hooks of one connection run on that connection's I/O thread, never concurrently; different connections
// run on different threads at once. Shared state (the name server's table, consumer groups, topic routes) lives in
// the instance behind its own mutexes; no mutex is held while calling a host service that may call back (none do:
// results and deliveries always arrive later, through hooks).
// Messages to other connections (NOTIFY_CONSUMER_IDS_CHANGED, re-registration) go through the target session's
// Outbox and host->wake: only the target's own thread writes to its connection.
#pragma once

#include "codec/MessageFormat.h"
#include "codec/RemotingCommand.h"

#include <ferry/ferry_protocol.h>
#include <ferry/sdk.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <string>
#include <unordered_map>
#include <vector>

namespace rocket {

// Listener indexes (the order of the listener specs in plugin.cpp).
constexpr uint32_t kNameServerListener = 0;
constexpr uint32_t kBrokerListener = 1;

// Wake tokens.
constexpr uint64_t kWakeOutbox = 1;   // write what the outbox holds
constexpr uint64_t kWakeRegister = 2; // registration connection: register now
constexpr uint64_t kWakeCheck = 3;    // producer connection: send CHECK_TRANSACTION_STATE for the outbox's handles

// Connection timer ids.
constexpr uint64_t kTimerRegister = 1;

// Instance timer ids.
constexpr uint64_t kInstanceTimerScan = 1;          // name server: drop silent brokers
constexpr uint64_t kInstanceTimerConnectBase = 100; // + name server index: (re)connect for registration
constexpr uint64_t kInstanceTimerChannelScan = 2;   // broker: expire silent client channels
constexpr uint64_t kInstanceTimerTransactionCheck = 4; // broker: check back unresolved half messages

struct Settings {
    std::string brokerName = "broker-a";
    std::string clusterName = "DefaultCluster";
    int64_t brokerId = 0;
    std::string advertisedAddress;           // host:port in routes and msgIds; empty: derived from broker_listen
    std::vector<std::string> namesrvAddrs;   // empty: the embedded name server's own address
    bool autoCreateTopic = true;
    uint32_t defaultTopicQueueNums = 8;
    uint32_t registerIntervalMs = 30000;
    uint32_t brokerExpiryMs = 120000;
    uint32_t namesrvScanIntervalMs = 10000;
    uint32_t channelExpiryMs = 120000;
    uint32_t maxReconsumeTimes = 16;
    uint64_t maxMessageBytes = 4u << 20;
    uint32_t transactionTimeoutMs = 6000;
    uint32_t transactionCheckIntervalMs = 60000;
    uint32_t transactionCheckMax = 15;
    std::vector<uint64_t> delayLevelsMs;
};

// Frames queued for a connection by other threads; drained by its own thread on kWakeOutbox.
struct Outbox {
    std::mutex mutex;
    std::deque<std::string> frames;
    std::deque<uint64_t> transactionChecks; // prepared-message handles to check back on this producer connection
};
using OutboxPtr = std::shared_ptr<Outbox>;

// ---- name server state ---------------------------------------------------------------------------------------------

struct TopicQueueData {
    uint32_t readQueueNums = 0;
    uint32_t writeQueueNums = 0;
    uint32_t perm = 0;
    uint32_t topicSysFlag = 0;
};

struct RegisteredBroker {
    std::string cluster;
    std::string brokerName;
    int64_t brokerId = 0;
    std::string brokerAddr;
    std::string haServerAddr;
    std::map<std::string, TopicQueueData> topics;
    uint64_t lastUpdateMs = 0; // monotonic
    uint64_t connId = 0;       // the registering connection; its close drops the broker
};

class NameServer {
public:
    // Handles one request on a name-server connection; returns the response (nullopt: none, e.g. oneway).
    std::optional<RemotingCommand> handle(const RemotingCommand &request, uint64_t connId, uint64_t nowMs);
    // Drops brokers silent for longer than expiryMs; returns how many.
    size_t scan(uint64_t nowMs, uint64_t expiryMs, std::vector<std::string> *dropped);
    // The connection closed: brokers registered over it are dropped.
    void connectionClosed(uint64_t connId);

private:
    RemotingCommand registerBroker(const RemotingCommand &request, uint64_t connId, uint64_t nowMs);
    RemotingCommand unregisterBroker(const RemotingCommand &request);
    RemotingCommand routeInfo(const RemotingCommand &request);
    RemotingCommand clusterInfo(const RemotingCommand &request);
    RemotingCommand topicList(const RemotingCommand &request, const std::string *cluster);
    RemotingCommand deleteTopic(const RemotingCommand &request);
    RemotingCommand kvConfig(const RemotingCommand &request);

    std::mutex mutex_;
    std::map<std::string, RegisteredBroker> brokers_; // by brokerAddr
    std::map<std::string, std::map<std::string, std::string>> kv_; // namespace -> key -> value
};

// ---- broker state --------------------------------------------------------------------------------------------------

struct SubscriptionData {
    std::string topic;
    std::string subString = "*";
    std::set<std::string> tags; // empty: every tag
    int64_t subVersion = 0;
};

struct GroupMember {
    std::string clientId;
    uint64_t connId = 0;
    uint64_t lastHeartbeatMs = 0;
};

struct ConsumerGroup {
    std::string messageModel = "CLUSTERING";
    std::string consumeFromWhere;
    std::map<std::string, GroupMember> members; // by clientId
    std::map<std::string, SubscriptionData> subscriptions; // by topic
};

struct LockedQueue {
    std::string topic;
    std::string brokerName;
    int queueId = 0;
    bool operator<(const LockedQueue &o) const
    {
        return std::tie(topic, brokerName, queueId) < std::tie(o.topic, o.brokerName, o.queueId);
    }
};

struct ProducerMember {
    std::string clientId;
    uint64_t connId = 0;
};

class RocketPlugin {
public:
    RocketPlugin(const ferry_protocol_host *host, Settings settings);

    const ferry_protocol_host *host() const { return host_; }
    const Settings &settings() const { return settings_; }
    // Events counted for /metrics (ferry_plugin_events_total{plugin="rocket"}); no-ops before ABI 1.8.
    struct Counters {
        ferry::sdk::Counter brokerRequests, namesrvRequests;
    };
    const Counters &counters() const { return counters_; }
    void log(int32_t level, const std::string &text) const;
    uint64_t nowMs() const;       // wall clock
    uint64_t monotonicMs() const; // monotonic

    NameServer &nameServer() { return nameServer_; }

    // The broker's advertised address (routes, msgIds); empty until broker_listen is open.
    std::string brokerAddress();
    std::optional<HostPort> storeHost();

    // ---- topics (kernel topics, plus the registration they trigger) ----
    // Creates the system topics (TBW102, the broker and cluster topics) once listeners are open.
    void ensureSystemTopics();
    std::optional<ferry_topic_info> topic(const std::string &name, std::string *nameStorage) const;
    // Declares (creates or updates) a topic; schedules re-registration. Returns the kernel status.
    ferry_status declareTopic(const std::string &name, uint32_t readQueues, uint32_t writeQueues, uint32_t perm,
                              uint32_t flags);
    ferry_status deleteTopic(const std::string &name);
    // The topic config table as RocketMQ's TopicConfigSerializeWrapper JSON ({"topicConfigTable":..,"dataVersion":..}).
    std::string topicConfigJson();

    // ---- registration with name servers ----
    void startRegistration();
    void registrationConnected(uint64_t index, uint64_t connId);
    void registrationClosed(uint64_t index);
    void onInstanceTimer(uint64_t timerId);
    void requestRegistration(); // wakes every registration connection
    RemotingCommand registerRequest(int32_t opaque);
    // A REGISTER_BROKER answer: a slave passes the master's haServerAddr to the kernel (replication).
    void onRegistered(const RemotingCommand &answer);
    // The kernel's replication role and identity (ABI 1.7 hosts), else nullopt.
    std::optional<ferry_replication_info> replicationInfo() const;
    std::string namesrvAddressFor(uint64_t index) const;
    size_t namesrvCount() const;

    // ---- consumer and producer groups ----
    // Returns true when the group's member set changed (then the members must be notified).
    bool heartbeatConsumer(const std::string &group, const std::string &clientId, uint64_t connId,
                           const std::string &messageModel, const std::string &consumeFromWhere,
                           std::vector<SubscriptionData> subscriptions);
    void heartbeatProducer(const std::string &group, const std::string &clientId, uint64_t connId);
    // Removes a client from a group (or from every group when group is empty); returns the groups that changed.
    std::vector<std::string> unregisterClient(const std::string &clientId, const std::string &producerGroup,
                                              const std::string &consumerGroup);
    std::vector<std::string> connectionClosed(uint64_t connId);
    // fn(group, member, message model, subscribed topics space-separated) for every consumer-group member, under the
    // groups' lock (the admin API's list_group_members; any thread). fn must not call back into the plugin.
    void forEachGroupMember(const std::function<void(const std::string &, const GroupMember &, const std::string &,
                                                     const std::string &)> &fn);
    std::vector<std::string> consumerIds(const std::string &group);
    std::optional<SubscriptionData> subscription(const std::string &group, const std::string &topic);
    // Sends NOTIFY_CONSUMER_IDS_CHANGED to every member of the group.
    void notifyConsumersChanged(const std::string &group);

    // ---- ordered consumption locks (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ); a lock lives 60 s unless renewed ----
    std::vector<LockedQueue> lockQueues(const std::string &group, const std::string &clientId,
                                        const std::vector<LockedQueue> &wanted);
    void unlockQueues(const std::string &group, const std::string &clientId, const std::vector<LockedQueue> &queues);

    // ---- requests forwarded to a client (CONSUME_MESSAGE_DIRECTLY): its reply goes back to the asker ----
    // The connection of a consumer group member; 0 when unknown.
    uint64_t memberConnection(const std::string &group, const std::string &clientId);
    void expectForwardedReply(int32_t opaque, uint64_t replyConnId, int32_t replyOpaque);
    // The asker of a forwarded request, removed from the table; nullopt when the opaque is not a forwarded one.
    std::optional<std::pair<uint64_t, int32_t>> takeForwardedReply(int32_t opaque);

    // ---- transactions ----
    // The kernel queue id of the prepared-message store (physical offsets of half messages name it).
    uint64_t preparedStoreId();
    // One pass of the check-back: halves older than the timeout are checked on a producer connection of their
    // group, and parked in TRANS_CHECK_MAX_TIME_TOPIC after transaction_check_max checks.
    void checkTransactions();

    // ---- cross-connection delivery ----
    void attachOutbox(uint64_t connId, OutboxPtr outbox);
    void detachOutbox(uint64_t connId);
    // Queues a frame for another connection and wakes it. false when that connection is gone.
    bool sendTo(uint64_t connId, std::string frame);

    // Kernel queue ids <-> topic queues, for physical offsets (see BrokerRole.cpp).
    int32_t nextOpaque() { return opaque_.fetch_add(1, std::memory_order_relaxed); }

private:
    const ferry_protocol_host *host_;
    Settings settings_;
    Counters counters_;
    NameServer nameServer_;

    std::mutex addressMutex_;
    std::string brokerAddress_;

    std::mutex groupsMutex_;
    std::map<std::string, ConsumerGroup> consumerGroups_;
    std::map<std::string, std::map<std::string, ProducerMember>> producerGroups_;

    struct LockHolder {
        std::string clientId;
        uint64_t lastMs = 0; // monotonic
    };
    std::mutex locksMutex_;
    std::map<std::string, std::map<LockedQueue, LockHolder>> locks_; // by group

    std::mutex transactionMutex_;
    std::map<uint64_t, uint32_t> checkCounts_; // handle -> checks sent (in memory: a restart starts counting anew)
    std::atomic<uint64_t> preparedStoreId_{0};

    std::mutex forwardMutex_;
    std::map<int32_t, std::pair<uint64_t, int32_t>> forwards_; // opaque sent to the client -> (asker conn, opaque)

    std::mutex outboxMutex_;
    std::unordered_map<uint64_t, OutboxPtr> outboxes_;

    std::mutex registrationMutex_;
    std::vector<uint64_t> registrationConns_; // per name server: the connection id, 0 when not connected
    std::atomic<uint64_t> dataVersion_{1};
    std::atomic<bool> systemTopicsDone_{false};

    std::atomic<int32_t> opaque_{1};
};

// ---- one connection ---------------------------------------------------------------------------------------------------

enum class SessionRole { NameServer, Broker, Registration };

// What an asynchronous kernel call was for, keyed by its correlation id.
struct PendingCall;
class BrokerRole;

class Session {
public:
    Session(RocketPlugin &plugin, ferry_conn *conn, SessionRole role, uint64_t registrationIndex = 0);
    ~Session();

    ferry_status onRead(const uint8_t *data, size_t len, size_t *consumed);
    void onDelivery(const ferry_delivery &delivery);
    void onResult(const ferry_result &result);
    void onTimer(uint64_t timerId);
    void onWake(uint64_t token);
    void onClose(int32_t reason);

    RocketPlugin &plugin() { return plugin_; }
    ferry_conn *conn() const { return conn_; }
    uint64_t connId() const { return connId_; }
    const ferry_protocol_host *host() const { return plugin_.host(); }
    // Writes a response or request frame; false when the connection is closed.
    bool send(const RemotingCommand &command);
    void sendRaw(const std::string &frame);
    // Correlation ids for kernel calls.
    uint64_t track(std::unique_ptr<PendingCall> call);
    // Forgets a tracked call whose kernel request was refused.
    void untrack(uint64_t correlationId);

private:
    void dispatch(RemotingCommand &request);
    void sendRegistration();

    RocketPlugin &plugin_;
    ferry_conn *conn_;
    const SessionRole role_;
    const uint64_t registrationIndex_;
    const uint64_t connId_;
    OutboxPtr outbox_;
    uint64_t nextCorrelation_ = 1;
    std::unordered_map<uint64_t, std::unique_ptr<PendingCall>> pending_;
    bool closed_ = false;
    std::unique_ptr<BrokerRole> broker_; // broker-listener sessions only
};

} // namespace rocket
