// AdminTypes: the admin API's resources (docs/admin-api.md) as plain values, for ferry-console's models and widgets,
// which never see JSON. Each fromJson reads one element of the API's answer; missing fields keep their defaults.
#pragma once

#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVariantMap>

namespace ferry::console {

struct PluginInfo {
    QString name, kind, version, abi;
};

struct OverviewInfo {
    QString productVersion, abi, brokerName, role;
    qint64 uptimeMs = 0;
    QList<PluginInfo> plugins;
    QList<QPair<QString, QString>> listeners; // (config key, address)
    qint64 queues = 0, exchanges = 0, topics = 0, connections = 0, consumers = 0;
    qint64 messages = 0, messagesReady = 0, messagesUnacked = 0;
    double publishRate = 0, deliverRate = 0;
    QString storagePlugin;
    qint64 storageBytes = 0;
    static OverviewInfo fromJson(const QJsonObject &o);
};

struct QueueInfo {
    QString vhost, name;
    bool durable = true, autoDelete = false, exclusive = false;
    qint64 messages = 0, ready = 0, unacked = 0, consumers = 0;
    double publishRate = 0, deliverRate = 0;
    QJsonObject arguments;
    QString key() const { return vhost + QLatin1Char('\x1f') + name; }
    static QueueInfo fromJson(const QJsonObject &o);
};

struct TopicQueueInfo {
    int queueId = 0;
    qint64 minOffset = 0, maxOffset = 0, messages = 0;
};

struct TopicInfo {
    QString name;
    int readQueues = 0, writeQueues = 0, perm = 6;
    qint64 messages = 0;
    double publishRate = 0; // messages per second over the broker's last sample
    QList<TopicQueueInfo> queues;
    QString key() const { return name; }
    static TopicInfo fromJson(const QJsonObject &o);
};

struct ConnectionInfo {
    qint64 id = 0;
    QString name, protocol, user, vhost, client, peerHost;
    int peerPort = 0, channels = 0;
    bool tls = false;
    qint64 connectedAt = 0, recvBytes = 0, sendBytes = 0;
    double recvRate = 0, sendRate = 0;
    QString key() const { return QString::number(id); }
    static ConnectionInfo fromJson(const QJsonObject &o);
};

// An AMQP exchange (GET /api/v1/exchanges). The default exchange is the one named "".
struct ExchangeInfo {
    QString vhost, name, type;
    bool durable = true, autoDelete = false, internal = false;
    QString delayedType; // arguments.x-delayed-type of an x-delayed-message exchange
    // The default exchange and amq.*: the broker's own, which cannot be deleted.
    bool predeclared() const { return name.isEmpty() || name.startsWith(QLatin1String("amq.")); }
    QString key() const { return vhost + QLatin1Char('\x1f') + name; }
    static ExchangeInfo fromJson(const QJsonObject &o);
};

// A binding from an exchange to a queue or to another exchange (GET /api/v1/bindings). propertiesKey is what the
// API names it by among the bindings of the same source and destination (DELETE .../{properties_key}).
struct BindingInfo {
    QString vhost, source, destination, destinationType, routingKey, propertiesKey; // destinationType: queue, exchange
    QVariantMap arguments; // what a headers exchange matches; values as text
    QString key() const
    {
        const QChar sep(0x1f);
        return vhost + sep + source + sep + destinationType + sep + destination + sep + propertiesKey;
    }
    static BindingInfo fromJson(const QJsonObject &o);
};

// One stored message as browse, search and the DLQ screens show it.
struct MessageInfo {
    qint64 offset = 0;
    QString id, exchange, routingKey, tags, keys, originProtocol;
    QList<QPair<QString, QString>> properties; // AMQP headers and content type, RocketMQ user properties
    bool persistent = false;
    int priority = 0;
    qint64 bornTime = 0, storeTime = 0;
    QByteArray payload;
    QString deathReason, deathQueue; // the newest x-death entry of a dead-lettered AMQP message
    qint64 deathCount = 0;
    // Where it is stored: a client queue (vhost, queue) or a topic queue (topic, queueId).
    QString vhost, queue, topic;
    int queueId = 0;
    QString key() const { return QString::number(offset); }
    static MessageInfo fromJson(const QJsonObject &o);
};

// Where messages are browsed from: a client queue, a topic queue, or a dead-letter queue of either protocol.
struct MessageSource {
    enum class Kind { Queue, TopicQueue, AmqpDeadLetters, RocketDeadLetters };
    Kind kind = Kind::Queue;
    QString vhost = QStringLiteral("/"), name; // the queue, the topic or the %DLQ% topic
    int queueId = 0;
    QString describe() const;
};

// One page of a browse.
struct MessagePage {
    MessageSource source;
    QList<MessageInfo> messages;
    qint64 nextOffset = 0, minOffset = 0, maxOffset = 0;
};

// A dead-letter queue of either protocol (GET /api/v1/dead-letters).
struct DeadLetterQueueInfo {
    QString kind, vhost, name, group;
    QStringList deadLetteredFrom;
    qint64 messages = 0;
    MessageSource source() const;
    QString key() const { return kind + QLatin1Char('\x1f') + vhost + QLatin1Char('\x1f') + name; }
    static DeadLetterQueueInfo fromJson(const QJsonObject &o);
};

// The outcome of resending one message.
struct ResendResult {
    qint64 offset = 0;
    bool ok = false;
    QString destination, error;
    QString key() const { return QString::number(offset); }
};

// One member of a replication group as one broker sees it (GET /api/v1/replication): a master lists itself and its
// slaves; a slave lists itself and its master.
struct ReplicationMember {
    qint64 brokerId = 0;
    QString address, role, state;
    bool inSync = false, connected = false;
    qint64 seq = 0, lagBytes = 0, lagMessages = 0;
    QString key() const { return QString::number(brokerId) + QLatin1Char('@') + address; }
};

struct ReplicationInfo {
    QString role, brokerName;
    qint64 brokerId = 0;
    qint64 inSyncSlaves = 0;
    QList<ReplicationMember> members;
    bool isSlave() const { return role == QLatin1String("SLAVE"); }
    static ReplicationInfo fromJson(const QJsonObject &o);
};

// A consumer group (GET /api/v1/consumer-groups[/{group}]).
struct GroupOffset {
    QString topic;
    int queueId = 0;
    qint64 brokerOffset = 0, consumerOffset = -1, lag = 0;
    QString key() const { return topic + QLatin1Char(':') + QString::number(queueId); }
};
struct GroupMember {
    QString clientId, address, model;
    QStringList topics;
    QString key() const { return clientId; }
};
struct GroupInfo {
    QString group, protocol, model;
    qint64 memberCount = 0, lag = 0;
    QStringList topics;
    QList<GroupMember> members; // the detail only
    QList<GroupOffset> offsets; // the detail only
    QString key() const { return group; }
    static GroupInfo fromJson(const QJsonObject &o);
};

// What a topic dialog sends: PUT /api/v1/topics/{name}.
struct TopicSpec {
    QString name;
    int readQueues = 8, writeQueues = 8, perm = 6;
    // The API's rules (a RocketMQ topic name, 1 to 1024 queues, perm 0 to 7): empty when valid, else why not.
    QString validate() const;
};

// What an exchange dialog sends: PUT /api/v1/exchanges/{vhost}/{name}.
struct ExchangeSpec {
    QString vhost = QStringLiteral("/"), name, type = QStringLiteral("direct");
    bool durable = true, autoDelete = false;
    // direct, fanout, topic, headers: the types a dialog offers.
    static QStringList types();
    // The API's rules (a vhost, a name that is not empty and not amq.*, one of types()): empty when valid, else why not.
    QString validate() const;
};

// What a queue dialog sends: PUT /api/v1/queues/{vhost}/{name}.
struct QueueSpec {
    QString vhost = QStringLiteral("/"), name;
    bool durable = true;
    // The API's rules (a vhost, a name of 1 to 255 bytes not starting with amq.): empty when valid, else why not.
    QString validate() const;
};

// What a binding dialog sends: POST /api/v1/bindings/{vhost}/e/{source}/{q|e}/{destination}.
struct BindingSpec {
    QString vhost = QStringLiteral("/"), source, destinationType = QStringLiteral("queue"), destination, routingKey;
    QVariantMap arguments; // for a headers exchange: the headers it matches, and x-match all or any
    // A source exchange that is not the default one, a destination, destinationType queue or exchange, arguments the
    // API takes: empty when valid, else why not.
    QString validate() const;
    // Reads "key=value" lines (blank lines skipped, both sides trimmed) into arguments; empty when they are valid
    // (each line has a key before its '=', no key starts with '$', x-match is all or any), else why not.
    static QString argumentsFromLines(const QString &lines, QVariantMap *arguments);
};

// Where a resend goes (POST .../resend "destination"): each message's origin (the default), an exchange of a vhost
// with a routing key (exchange "" or "amq.default": the default exchange, the routing key naming the queue), or a
// RocketMQ topic.
struct ResendDestination {
    enum class Kind { Origin, Exchange, Topic };
    Kind kind = Kind::Origin;
    QString vhost = QStringLiteral("/"), exchange, routingKey, topic;
    // Empty when valid (a vhost for an exchange, a routing key for the default exchange, a topic name), else why not.
    QString validate() const;
    // The API's "destination" object; empty for Origin (the API's default).
    QJsonObject toJson() const;
};

} // namespace ferry::console

Q_DECLARE_METATYPE(ferry::console::OverviewInfo)
Q_DECLARE_METATYPE(ferry::console::QueueInfo)
Q_DECLARE_METATYPE(ferry::console::TopicInfo)
Q_DECLARE_METATYPE(ferry::console::ConnectionInfo)
Q_DECLARE_METATYPE(ferry::console::MessagePage)
Q_DECLARE_METATYPE(ferry::console::MessageInfo)
Q_DECLARE_METATYPE(ferry::console::DeadLetterQueueInfo)
Q_DECLARE_METATYPE(ferry::console::ResendResult)
Q_DECLARE_METATYPE(ferry::console::ReplicationInfo)
Q_DECLARE_METATYPE(ferry::console::GroupInfo)
Q_DECLARE_METATYPE(ferry::console::ExchangeInfo)
Q_DECLARE_METATYPE(ferry::console::BindingInfo)
