// Session: one AMQP 0-9-1 connection's state machine (connection negotiation, channels, the class methods) on top of
// the codec and the kernel's host services (ferry_protocol.h, ABI 1.5). Sans-I/O: bytes come in through onRead,
// kernel outcomes through onDelivery / onResult / onTimer, and everything the session writes goes through
// host->write. Threading: every member runs on the connection's thread (ferry_protocol.h); Instance is read-only
// after init.
#pragma once

#include "codec/Codec.h"

#include <ferry/ferry_protocol.h>
#include <ferry/sdk.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry::amqp {

// A reply published to amq.rabbitmq.reply-to.<token>, on its way to the consuming connection (direct reply-to).
struct DirectReply {
    std::string token, routingKey, rawProperties, body;
};

struct Instance {
    const ferry_protocol_host *host = nullptr;
    bool hasAlarms = false; // the host has resource_alarms / set_read_paused (ABI 1.6)
    uint16_t channelMax = 2047;
    uint32_t frameMax = 131072;
    uint16_t heartbeat = 60;
    uint64_t maxMessageBytes = 128ull << 20; // amqp.max_message_bytes
    std::string serverProperties; // encoded table entries for connection.start
    // Events counted for /metrics (ferry_plugin_events_total{plugin="amqp"}); no-ops on kernels before ABI 1.8.
    struct Counters {
        ferry::sdk::Counter connections, channels, published, delivered, connectionErrors;
    } counters;

    // Direct reply-to: the only state shared between sessions. Any thread; the mutex guards both maps.
    std::mutex replyMutex;
    std::map<std::string, uint64_t> replyConsumers;             // token -> connection id
    std::map<uint64_t, std::vector<DirectReply>> replyMailboxes; // connection id -> replies to deliver (on_wake)
};

class Session {
public:
    Session(Instance &instance, ferry_conn *conn);

    ferry_status onRead(const uint8_t *data, size_t len, size_t *consumed);
    void onDelivery(const ferry_delivery &d);
    void onResult(const ferry_result &r);
    void onTimer(uint64_t timerId);
    void onSubscriptionEnd(uint64_t subscriptionId);
    void onWake(uint64_t token);
    // Resource alarms (RabbitMQ's model): while one is raised, clients that announced the connection.blocked
    // capability get connection.blocked (connection.unblocked when all are cleared), and a connection that publishes
    // is no longer read from, from its next basic.publish on, until the alarm clears. Other traffic goes on.
    void onAlarm(uint32_t alarms);
    void onClose();
    // An operator closes the connection (admin API): connection.close 320 CONNECTION_FORCED with the reason.
    void onCloseRequest(std::string_view reason);
    // The open channels, for the admin API (vtable list_channels).
    void listChannels(ferry_channel_sink sink, void *sinkCtx) const;

private:
    enum class Phase { Header, StartOk, TuneOk, Open, Running, Closing };
    struct Unacked {
        uint64_t subscription;
        uint64_t offset;
    };
    // A publish ready for the kernel: built by finishPublish, routed at once or, in a transaction, at tx.commit.
    struct Publish {
        std::string exchange; // as the client named it (unqualified)
        std::string routingKey, rawProperties, block, body;
        std::string keys; // the message-id (CrossProtocol.h)
        uint32_t flags = 0; // FERRY_MESSAGE_*
        uint8_t priority = 0;
        uint64_t ttlMs = 0;
        bool mandatory = false;
        uint64_t publishTag = 0; // publisher confirm tag, 0 without confirms
    };
    // An ack / nack / reject made inside a transaction: taken out of unacked at once, applied at tx.commit, put back
    // into unacked by tx.rollback (RabbitMQ's order of events).
    struct TxSettle {
        uint64_t deliveryTag;
        Unacked delivery;
        bool ack, requeue;
    };
    struct Channel {
        bool closing = false;
        bool tx = false;                    // tx.select seen
        std::vector<Publish> txPublishes;   // of the open transaction
        std::vector<TxSettle> txSettles;    // of the open transaction
        size_t txRouting = 0;               // publishes of a tx.commit still waiting for their kernel result
        uint16_t prefetch = 0;       // basic.qos, per consumer
        uint16_t globalPrefetch = 0; // basic.qos global
        bool confirm = false;
        uint64_t nextPublishTag = 1;
        std::map<uint64_t, int> confirms; // publish tag -> 0 pending, 1 ack, 2 nack
        uint64_t nextDeliveryTag = 1;
        std::map<uint64_t, Unacked> unacked;
        std::map<std::string, uint64_t> consumers; // consumer tag -> subscription
        std::string lastQueue;                     // for the "" queue name shortcut
        std::vector<std::string> writable;         // exchanges write permission was granted on (at most 8)
        std::string replyToken, replyConsumerTag;  // direct reply-to consumer of this channel
        // The publish being assembled: method, then content header, then body frames.
        bool assembling = false;
        bool haveHeader = false;
        std::string exchange, routingKey, rawProperties, body;
        bool mandatory = false;
        uint64_t bodySize = 0;
        BasicProperties properties;
    };
    enum class Op { Generic, ExchangeDeclare, ExchangeDelete, ExchangeBind, ExchangeUnbind, QueueDeclare, QueueBind,
                    QueueUnbind, QueuePurge, QueueDelete, Publish, Get };
    struct Pending {
        Op op;
        uint16_t channel;
        uint16_t classId, methodId;
        bool noWait = false;
        bool noAck = false;
        std::string name;      // queue or exchange, plain
        uint64_t publishTag = 0;
        bool mandatory = false;
        std::string exchange, routingKey, rawProperties, body; // for basic.return
        bool gotDelivery = false;
        bool txCommit = false; // a publish of a tx.commit: tx.commit-ok waits for it
    };
    struct Consumer {
        uint16_t channel;
        std::string tag;
        bool noAck;
    };

    bool directReplyPublish(uint16_t ch, Channel &c, const BasicProperties &props, uint64_t publishTag);
    bool handleFrame(const Frame &f);
    bool connectionMethod(const Method &m);
    void channelMethod(uint16_t ch, Channel &c, const Method &m);
    void finishPublish(uint16_t ch, Channel &c);
    bool routePublish(uint16_t ch, Publish &p, bool txCommit);
    void txMethod(uint16_t ch, Channel &c, const Method &m, uint16_t classId, uint16_t methodId);
    void txRouted(uint16_t ch);
    void sendStart();
    void sendBlockedState(); // connection.blocked / unblocked to match alarms_, when the client takes them
    void flush();
    template <class M> void send(uint16_t channel, const M &method);
    void hardError(uint16_t code, std::string_view detail, uint16_t classId = 0, uint16_t methodId = 0);
    void reportIdentity(); // host->set_conn_identity: user, vhost, client, channel count
    void softError(uint16_t ch, uint16_t code, std::string_view detail, uint16_t classId, uint16_t methodId);
    void closeChannel(uint16_t ch, Channel &c);
    void confirmDone(uint16_t ch, uint64_t tag, bool ack);
    void settle(uint16_t ch, Channel &c, uint64_t tag, bool multiple, bool ack, bool requeue, uint16_t classId,
                uint16_t methodId);
    uint64_t track(Pending p);
    std::string qualify(std::string_view name) const;
    std::string plain(std::string_view qualified) const;
    bool permitted(uint16_t ch, uint32_t what, std::string_view resource, std::string_view kind, uint16_t classId,
                   uint16_t methodId);
    std::string randomName(const char *prefix);

    Instance &instance_;
    const ferry_protocol_host *host_;
    ferry_conn *conn_;
    Phase phase_ = Phase::Header;
    std::string out_;
    std::string user_, vhost_ = "/";
    bool authFailureClose_ = false;
    std::string client_; // the client's product and version (connection.start-ok), for host->set_conn_identity
    bool blockedCapability_ = false; // client properties: capabilities.connection.blocked
    bool blockedSent_ = false;       // connection.blocked sent, unblocked not yet
    uint32_t alarms_ = 0;            // FERRY_ALARM_* raised now
    bool readPaused_ = false;        // host->set_read_paused(1) because a publish arrived during an alarm
    uint16_t channelMax_;
    uint32_t frameMax_;
    uint16_t heartbeat_ = 0;
    uint64_t lastReadMs_ = 0;
    uint64_t lastWriteMs_ = 0;
    std::map<uint16_t, Channel> channels_;
    std::unordered_map<uint64_t, Pending> pending_;
    std::unordered_map<uint64_t, Consumer> consumers_; // subscription id -> consumer
    uint64_t nextCorrelation_ = 1;
    uint64_t nameCounter_ = 0;
};

} // namespace ferry::amqp
