#include "AdminTypes.h"

#include <QJsonArray>
#include <QRegularExpression>

namespace ferry::console {

namespace {

double rate(const QJsonObject &stats, const char *key)
{
    return stats.value(QLatin1String(key)).toObject().value(QLatin1String("rate")).toDouble();
}

} // namespace

OverviewInfo OverviewInfo::fromJson(const QJsonObject &o)
{
    OverviewInfo v;
    v.productVersion = o.value(QLatin1String("product_version")).toString();
    v.abi = o.value(QLatin1String("abi")).toString();
    v.brokerName = o.value(QLatin1String("broker_name")).toString();
    v.role = o.value(QLatin1String("role")).toString();
    v.uptimeMs = o.value(QLatin1String("uptime_ms")).toInteger();
    for (const QJsonValue &p : o.value(QLatin1String("plugins")).toArray()) {
        const QJsonObject po = p.toObject();
        v.plugins.append({po.value(QLatin1String("name")).toString(), po.value(QLatin1String("kind")).toString(),
                          po.value(QLatin1String("version")).toString(), po.value(QLatin1String("abi")).toString()});
    }
    for (const QJsonValue &l : o.value(QLatin1String("listeners")).toArray())
        v.listeners.append({l.toObject().value(QLatin1String("key")).toString(),
                            l.toObject().value(QLatin1String("address")).toString()});
    const QJsonObject totals = o.value(QLatin1String("object_totals")).toObject();
    v.queues = totals.value(QLatin1String("queues")).toInteger();
    v.exchanges = totals.value(QLatin1String("exchanges")).toInteger();
    v.topics = totals.value(QLatin1String("topics")).toInteger();
    v.connections = totals.value(QLatin1String("connections")).toInteger();
    v.consumers = totals.value(QLatin1String("consumers")).toInteger();
    const QJsonObject queueTotals = o.value(QLatin1String("queue_totals")).toObject();
    v.messages = queueTotals.value(QLatin1String("messages")).toInteger();
    v.messagesReady = queueTotals.value(QLatin1String("messages_ready")).toInteger();
    v.messagesUnacked = queueTotals.value(QLatin1String("messages_unacknowledged")).toInteger();
    const QJsonObject stats = o.value(QLatin1String("message_stats")).toObject();
    v.publishRate = rate(stats, "publish_details");
    v.deliverRate = rate(stats, "deliver_get_details");
    const QJsonObject storage = o.value(QLatin1String("storage")).toObject();
    v.storagePlugin = storage.value(QLatin1String("plugin")).toString();
    v.storageBytes = storage.value(QLatin1String("bytes")).toInteger();
    return v;
}

QueueInfo QueueInfo::fromJson(const QJsonObject &o)
{
    QueueInfo v;
    v.vhost = o.value(QLatin1String("vhost")).toString();
    v.name = o.value(QLatin1String("name")).toString();
    v.durable = o.value(QLatin1String("durable")).toBool(true);
    v.autoDelete = o.value(QLatin1String("auto_delete")).toBool();
    v.exclusive = o.value(QLatin1String("exclusive")).toBool();
    v.messages = o.value(QLatin1String("messages")).toInteger();
    v.ready = o.value(QLatin1String("messages_ready")).toInteger();
    v.unacked = o.value(QLatin1String("messages_unacknowledged")).toInteger();
    v.consumers = o.value(QLatin1String("consumers")).toInteger();
    const QJsonObject stats = o.value(QLatin1String("message_stats")).toObject();
    v.publishRate = rate(stats, "publish_details");
    v.deliverRate = rate(stats, "deliver_get_details");
    v.arguments = o.value(QLatin1String("arguments")).toObject();
    return v;
}

TopicInfo TopicInfo::fromJson(const QJsonObject &o)
{
    TopicInfo v;
    v.name = o.value(QLatin1String("name")).toString();
    v.readQueues = o.value(QLatin1String("read_queue_nums")).toInt();
    v.writeQueues = o.value(QLatin1String("write_queue_nums")).toInt();
    v.perm = o.value(QLatin1String("perm")).toInt(6);
    v.messages = o.value(QLatin1String("messages")).toInteger();
    v.publishRate = rate(o.value(QLatin1String("message_stats")).toObject(), "publish_details");
    for (const QJsonValue &q : o.value(QLatin1String("queues")).toArray()) {
        const QJsonObject qo = q.toObject();
        v.queues.append({qo.value(QLatin1String("queue_id")).toInt(), qo.value(QLatin1String("min_offset")).toInteger(),
                         qo.value(QLatin1String("max_offset")).toInteger(),
                         qo.value(QLatin1String("messages")).toInteger()});
    }
    return v;
}

ConnectionInfo ConnectionInfo::fromJson(const QJsonObject &o)
{
    ConnectionInfo v;
    v.id = o.value(QLatin1String("id")).toInteger();
    v.name = o.value(QLatin1String("name")).toString();
    v.protocol = o.value(QLatin1String("protocol")).toString();
    v.user = o.value(QLatin1String("user")).toString();
    v.vhost = o.value(QLatin1String("vhost")).toString();
    v.client = o.value(QLatin1String("client")).toString();
    v.peerHost = o.value(QLatin1String("peer_host")).toString();
    v.peerPort = o.value(QLatin1String("peer_port")).toInt();
    v.channels = o.value(QLatin1String("channels")).toInt();
    v.tls = o.value(QLatin1String("ssl")).toBool();
    v.connectedAt = o.value(QLatin1String("connected_at")).toInteger();
    v.recvBytes = o.value(QLatin1String("recv_oct")).toInteger();
    v.sendBytes = o.value(QLatin1String("send_oct")).toInteger();
    v.recvRate = rate(o, "recv_oct_details");
    v.sendRate = rate(o, "send_oct_details");
    return v;
}

MessageInfo MessageInfo::fromJson(const QJsonObject &o)
{
    MessageInfo v;
    v.offset = o.value(QLatin1String("offset")).toInteger();
    v.id = o.value(QLatin1String("id")).toString();
    v.exchange = o.value(QLatin1String("exchange")).toString();
    v.routingKey = o.value(QLatin1String("routing_key")).toString();
    v.tags = o.value(QLatin1String("tags")).toString();
    v.keys = o.value(QLatin1String("keys")).toString();
    v.originProtocol = o.value(QLatin1String("origin_protocol")).toString();
    const QJsonObject props = o.value(QLatin1String("properties")).toObject();
    for (auto it = props.begin(); it != props.end(); ++it)
        v.properties.append({it.key(), it.value().toString()});
    v.persistent = o.value(QLatin1String("persistent")).toBool();
    v.priority = o.value(QLatin1String("priority")).toInt();
    v.bornTime = o.value(QLatin1String("born_time")).toInteger();
    v.storeTime = o.value(QLatin1String("store_time")).toInteger();
    const QString payload = o.value(QLatin1String("payload")).toString();
    v.payload = o.value(QLatin1String("payload_encoding")).toString() == QLatin1String("base64")
                    ? QByteArray::fromBase64(payload.toLatin1())
                    : payload.toUtf8();
    const QJsonObject death = o.value(QLatin1String("x_death")).toArray().first().toObject();
    v.deathReason = death.value(QLatin1String("reason")).toString();
    v.deathQueue = death.value(QLatin1String("queue")).toString();
    v.deathCount = death.value(QLatin1String("count")).toInteger();
    v.vhost = o.value(QLatin1String("vhost")).toString();
    v.queue = o.value(QLatin1String("queue")).toString();
    v.topic = o.value(QLatin1String("topic")).toString();
    v.queueId = o.value(QLatin1String("queue_id")).toInt();
    return v;
}

ExchangeInfo ExchangeInfo::fromJson(const QJsonObject &o)
{
    ExchangeInfo v;
    v.vhost = o.value(QLatin1String("vhost")).toString();
    v.name = o.value(QLatin1String("name")).toString();
    v.type = o.value(QLatin1String("type")).toString();
    v.durable = o.value(QLatin1String("durable")).toBool(true);
    v.autoDelete = o.value(QLatin1String("auto_delete")).toBool();
    v.internal = o.value(QLatin1String("internal")).toBool();
    v.delayedType = o.value(QLatin1String("arguments")).toObject().value(QLatin1String("x-delayed-type")).toString();
    return v;
}

BindingInfo BindingInfo::fromJson(const QJsonObject &o)
{
    BindingInfo v;
    v.vhost = o.value(QLatin1String("vhost")).toString();
    v.source = o.value(QLatin1String("source")).toString();
    v.destination = o.value(QLatin1String("destination")).toString();
    v.destinationType = o.value(QLatin1String("destination_type")).toString(QStringLiteral("queue"));
    v.routingKey = o.value(QLatin1String("routing_key")).toString();
    v.propertiesKey = o.value(QLatin1String("properties_key")).toString();
    v.arguments = o.value(QLatin1String("arguments")).toObject().toVariantMap();
    return v;
}

QString MessageSource::describe() const
{
    switch (kind) {
    case Kind::Queue:
        return QStringLiteral("queue %1 (vhost %2)").arg(name, vhost);
    case Kind::TopicQueue:
        return QStringLiteral("topic %1, queue %2").arg(name).arg(queueId);
    case Kind::AmqpDeadLetters:
        return QStringLiteral("dead letters in %1 (vhost %2)").arg(name, vhost);
    case Kind::RocketDeadLetters:
        return QStringLiteral("dead letters in %1").arg(name);
    }
    return name;
}

MessageSource DeadLetterQueueInfo::source() const
{
    MessageSource s;
    s.kind = kind == QLatin1String("rocketmq") ? MessageSource::Kind::RocketDeadLetters
                                                : MessageSource::Kind::AmqpDeadLetters;
    s.vhost = vhost;
    s.name = name;
    return s;
}

DeadLetterQueueInfo DeadLetterQueueInfo::fromJson(const QJsonObject &o)
{
    DeadLetterQueueInfo v;
    v.kind = o.value(QLatin1String("kind")).toString();
    v.vhost = o.value(QLatin1String("vhost")).toString();
    v.name = o.value(QLatin1String("name")).toString();
    v.group = o.value(QLatin1String("group")).toString();
    for (const QJsonValue &f : o.value(QLatin1String("dead_lettered_from")).toArray())
        v.deadLetteredFrom << f.toString();
    v.messages = o.value(QLatin1String("messages")).toInteger();
    return v;
}

ReplicationInfo ReplicationInfo::fromJson(const QJsonObject &o)
{
    ReplicationInfo v;
    v.role = o.value(QLatin1String("role")).toString();
    v.brokerName = o.value(QLatin1String("brokerName")).toString();
    v.brokerId = o.value(QLatin1String("brokerId")).toInteger();
    v.inSyncSlaves = o.value(QLatin1String("inSyncSlaves")).toInteger();
    ReplicationMember self;
    self.brokerId = v.brokerId;
    self.address = o.value(QLatin1String("address")).toString();
    self.role = v.role;
    self.state = QStringLiteral("this broker");
    self.inSync = true;
    self.connected = true;
    self.seq = o.value(QLatin1String("seq")).toInteger();
    const QJsonObject master = o.value(QLatin1String("master")).toObject();
    if (!master.isEmpty())
        self.seq = master.value(QLatin1String("appliedSeq")).toInteger();
    v.members.append(self);
    for (const QJsonValue &sv : o.value(QLatin1String("slaves")).toArray()) {
        const QJsonObject so = sv.toObject();
        ReplicationMember m;
        m.brokerId = so.value(QLatin1String("brokerId")).toInteger();
        m.address = so.value(QLatin1String("address")).toString();
        m.role = QStringLiteral("SLAVE");
        m.state = so.value(QLatin1String("state")).toString();
        m.inSync = so.value(QLatin1String("inSync")).toBool();
        m.connected = true;
        m.seq = so.value(QLatin1String("replicatedSeq")).toInteger();
        m.lagBytes = so.value(QLatin1String("lagBytes")).toInteger();
        m.lagMessages = so.value(QLatin1String("lagMessages")).toInteger();
        v.members.append(m);
    }
    if (!master.isEmpty()) {
        ReplicationMember m;
        m.address = master.value(QLatin1String("address")).toString();
        m.role = QStringLiteral("master");
        m.state = master.value(QLatin1String("state")).toString();
        m.inSync = master.value(QLatin1String("inSync")).toBool();
        m.connected = master.value(QLatin1String("connected")).toBool();
        m.seq = master.value(QLatin1String("masterSeq")).toInteger();
        m.lagMessages = master.value(QLatin1String("lagChanges")).toInteger();
        v.members.append(m);
    }
    return v;
}

GroupInfo GroupInfo::fromJson(const QJsonObject &o)
{
    GroupInfo v;
    v.group = o.value(QLatin1String("group")).toString();
    v.protocol = o.value(QLatin1String("protocol")).toString();
    v.model = o.value(QLatin1String("model")).toString();
    v.lag = o.value(QLatin1String("lag")).toInteger();
    for (const QJsonValue &t : o.value(QLatin1String("topics")).toArray())
        v.topics << t.toString();
    const QJsonValue members = o.value(QLatin1String("members"));
    if (members.isArray()) {
        for (const QJsonValue &m : members.toArray()) {
            const QJsonObject mo = m.toObject();
            GroupMember member{mo.value(QLatin1String("client_id")).toString(), mo.value(QLatin1String("address")).toString(),
                               mo.value(QLatin1String("model")).toString(), {}};
            for (const QJsonValue &t : mo.value(QLatin1String("topics")).toArray())
                member.topics << t.toString();
            v.members.append(member);
        }
        v.memberCount = o.value(QLatin1String("member_count")).toInteger(v.members.size());
    } else {
        v.memberCount = members.toInteger();
    }
    for (const QJsonValue &q : o.value(QLatin1String("offsets")).toArray()) {
        const QJsonObject qo = q.toObject();
        v.offsets.append({qo.value(QLatin1String("topic")).toString(), qo.value(QLatin1String("queue_id")).toInt(),
                          qo.value(QLatin1String("broker_offset")).toInteger(),
                          qo.value(QLatin1String("consumer_offset")).toInteger(-1), qo.value(QLatin1String("lag")).toInteger()});
    }
    return v;
}

QString TopicSpec::validate() const
{
    // RocketMQ's topic names: letters, digits, '%', '|', '-', '_', up to 127 characters.
    static const QRegularExpression valid(QStringLiteral("^[A-Za-z0-9%|_-]{1,127}$"));
    if (!valid.match(name).hasMatch())
        return QStringLiteral("A topic name is 1 to 127 letters, digits, %, |, - or _.");
    if (readQueues < 1 || readQueues > 1024 || writeQueues < 1 || writeQueues > 1024)
        return QStringLiteral("Read and write queue counts are 1 to 1024.");
    if (perm < 0 || perm > 7)
        return QStringLiteral("Permissions are RocketMQ's bits 0 to 7 (2 read, 4 write).");
    return QString();
}

namespace {

// Why `name` cannot name a new AMQP queue or exchange, or empty when it can: it is required, the amq. prefix is the
// broker's own, and AMQP carries it as a short string (at most 255 bytes).
QString newAmqpNameProblem(const QString &name)
{
    if (name.isEmpty())
        return QStringLiteral("A name is required.");
    if (name.startsWith(QLatin1String("amq.")))
        return QStringLiteral("Names starting with amq. are the broker's own.");
    if (name.toUtf8().size() > 255)
        return QStringLiteral("A name is at most 255 bytes.");
    return QString();
}

} // namespace

QStringList ExchangeSpec::types()
{
    return {QStringLiteral("direct"), QStringLiteral("fanout"), QStringLiteral("topic"), QStringLiteral("headers")};
}

QString ExchangeSpec::validate() const
{
    if (vhost.isEmpty())
        return QStringLiteral("A virtual host is required (the default one is /).");
    if (const QString problem = newAmqpNameProblem(name); !problem.isEmpty())
        return problem;
    if (!types().contains(type))
        return QStringLiteral("An exchange type is direct, fanout, topic or headers.");
    return QString();
}

QString QueueSpec::validate() const
{
    if (vhost.isEmpty())
        return QStringLiteral("A virtual host is required (the default one is /).");
    return newAmqpNameProblem(name);
}

QString BindingSpec::validate() const
{
    if (vhost.isEmpty())
        return QStringLiteral("A virtual host is required (the default one is /).");
    if (source.isEmpty() || source == QLatin1String("amq.default"))
        return QStringLiteral("A source exchange is required; the default exchange binds every queue by itself.");
    if (destinationType != QLatin1String("queue") && destinationType != QLatin1String("exchange"))
        return QStringLiteral("A destination is a queue or an exchange.");
    if (destination.isEmpty())
        return QStringLiteral("A destination %1 is required.").arg(destinationType);
    for (auto it = arguments.begin(); it != arguments.end(); ++it)
        if (it.key().isEmpty() || it.key().startsWith(QLatin1Char('$')))
            return QStringLiteral("Argument names are not empty and do not start with $.");
    const QString match = arguments.value(QStringLiteral("x-match"), QStringLiteral("all")).toString();
    if (match != QLatin1String("all") && match != QLatin1String("any"))
        return QStringLiteral("x-match is all or any.");
    return QString();
}

QString BindingSpec::argumentsFromLines(const QString &lines, QVariantMap *arguments)
{
    QVariantMap parsed;
    int number = 0;
    for (const QString &raw : lines.split(QLatin1Char('\n'))) {
        ++number;
        const QString line = raw.trimmed();
        if (line.isEmpty())
            continue;
        const qsizetype equals = line.indexOf(QLatin1Char('='));
        const QString key = line.left(equals).trimmed();
        if (equals < 0 || key.isEmpty())
            return QStringLiteral("Line %1 is not key=value.").arg(number);
        if (key.startsWith(QLatin1Char('$')))
            return QStringLiteral("Line %1: argument names starting with $ are reserved.").arg(number);
        const QString value = line.mid(equals + 1).trimmed();
        if (key == QLatin1String("x-match") && value != QLatin1String("all") && value != QLatin1String("any"))
            return QStringLiteral("Line %1: x-match is all or any.").arg(number);
        parsed.insert(key, value);
    }
    *arguments = parsed;
    return QString();
}

QString ResendDestination::validate() const
{
    switch (kind) {
    case Kind::Origin:
        return QString();
    case Kind::Exchange:
        if (vhost.isEmpty())
            return QStringLiteral("An exchange destination needs its vhost.");
        if ((exchange.isEmpty() || exchange == QLatin1String("amq.default")) && routingKey.isEmpty())
            return QStringLiteral("Through the default exchange the routing key names the queue: enter it.");
        return QString();
    case Kind::Topic:
        return topic.trimmed().isEmpty() ? QStringLiteral("A topic destination needs the topic's name.") : QString();
    }
    return QString();
}

QJsonObject ResendDestination::toJson() const
{
    switch (kind) {
    case Kind::Origin:
        break;
    case Kind::Exchange:
        return QJsonObject{{QStringLiteral("vhost"), vhost},
                           {QStringLiteral("exchange"), exchange},
                           {QStringLiteral("routing_key"), routingKey}};
    case Kind::Topic:
        return QJsonObject{{QStringLiteral("topic"), topic.trimmed()}};
    }
    return QJsonObject();
}

} // namespace ferry::console
