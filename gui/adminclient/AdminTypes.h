// AdminTypes: the admin API's resources (docs/admin-api.md) as plain values, for ferry-console's models and widgets,
// which never see JSON. Each fromJson reads one element of the API's answer; missing fields keep their defaults.
#pragma once

#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

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

// What a topic dialog sends: PUT /api/v1/topics/{name}.
struct TopicSpec {
    QString name;
    int readQueues = 8, writeQueues = 8, perm = 6;
    // The API's rules (a RocketMQ topic name, 1 to 1024 queues, perm 0 to 7): empty when valid, else why not.
    QString validate() const;
};

} // namespace ferry::console

Q_DECLARE_METATYPE(ferry::console::OverviewInfo)
Q_DECLARE_METATYPE(ferry::console::QueueInfo)
Q_DECLARE_METATYPE(ferry::console::TopicInfo)
Q_DECLARE_METATYPE(ferry::console::ConnectionInfo)
