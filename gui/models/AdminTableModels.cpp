#include "AdminTableModels.h"

#include <QDateTime>

namespace ferry::console {

QueueTableModel::QueueTableModel(QObject *parent)
    : RecordTableModel<QueueInfo>(
          {
              {tr("Vhost"), tr("The virtual host"), [](const QueueInfo &q) { return QVariant(q.vhost); }},
              {tr("Name"), tr("The queue's name"), [](const QueueInfo &q) { return QVariant(q.name); }},
              {tr("Messages"), tr("Ready and unacknowledged"), [](const QueueInfo &q) { return QVariant(q.messages); }},
              {tr("Ready"), tr("Waiting for a consumer"), [](const QueueInfo &q) { return QVariant(q.ready); }},
              {tr("Unacked"), tr("Delivered, not yet acknowledged"), [](const QueueInfo &q) { return QVariant(q.unacked); }},
              {tr("Consumers"), tr("Subscribed consumers"), [](const QueueInfo &q) { return QVariant(q.consumers); }},
              {tr("Publish/s"), tr("Messages appended per second"), [](const QueueInfo &q) { return QVariant(q.publishRate); }},
              {tr("Durable"), tr("Survives a restart"), [](const QueueInfo &q) { return QVariant(q.durable); }},
          },
          parent)
{
}

TopicTableModel::TopicTableModel(QObject *parent)
    : RecordTableModel<TopicInfo>(
          {
              {tr("Name"), tr("The RocketMQ topic"), [](const TopicInfo &t) { return QVariant(t.name); }},
              {tr("Read queues"), tr("Queues consumers read"), [](const TopicInfo &t) { return QVariant(t.readQueues); }},
              {tr("Write queues"), tr("Queues producers write"), [](const TopicInfo &t) { return QVariant(t.writeQueues); }},
              {tr("Perm"), tr("RocketMQ permission bits: 2 read, 4 write"), [](const TopicInfo &t) { return QVariant(t.perm); }},
              {tr("Messages"), tr("Messages kept over every queue"), [](const TopicInfo &t) { return QVariant(t.messages); }},
              {tr("Publish/s"), tr("Messages the topic took per second"), [](const TopicInfo &t) { return QVariant(t.publishRate); }},
              {tr("Depth per queue"), tr("Messages kept in each queue, by queue id"),
               [](const TopicInfo &t) {
                   QStringList depths;
                   for (const TopicQueueInfo &q : t.queues)
                       depths << QString::number(q.messages);
                   return QVariant(depths.join(QLatin1Char(' ')));
               }},
          },
          parent)
{
}

ConnectionTableModel::ConnectionTableModel(QObject *parent)
    : RecordTableModel<ConnectionInfo>(
          {
              {tr("Name"), tr("Client address -> broker address"), [](const ConnectionInfo &c) { return QVariant(c.name); }},
              {tr("Protocol"), tr("The protocol plugin serving it"), [](const ConnectionInfo &c) { return QVariant(c.protocol); }},
              {tr("User"), tr("The authenticated user"), [](const ConnectionInfo &c) { return QVariant(c.user); }},
              {tr("Vhost"), tr("The virtual host"), [](const ConnectionInfo &c) { return QVariant(c.vhost); }},
              {tr("Client"), tr("What the client says it is"), [](const ConnectionInfo &c) { return QVariant(c.client); }},
              {tr("Channels"), tr("Open channels"), [](const ConnectionInfo &c) { return QVariant(c.channels); }},
              {tr("Received"), tr("Bytes received"), [](const ConnectionInfo &c) { return QVariant(c.recvBytes); }},
              {tr("Sent"), tr("Bytes sent"), [](const ConnectionInfo &c) { return QVariant(c.sendBytes); }},
              {tr("Connected"), tr("When it connected"),
               [](const ConnectionInfo &c) {
                   return QVariant(QDateTime::fromMSecsSinceEpoch(c.connectedAt).toString(Qt::ISODate));
               }},
          },
          parent)
{
}

namespace {

// A headers binding's arguments as "k=v, k2=v2", sorted by key (QVariantMap's order).
QString argumentsText(const QVariantMap &arguments)
{
    QStringList parts;
    for (auto it = arguments.begin(); it != arguments.end(); ++it)
        parts << it.key() + QLatin1Char('=') + it.value().toString();
    return parts.join(QStringLiteral(", "));
}

} // namespace

ExchangeTableModel::ExchangeTableModel(QObject *parent)
    : RecordTableModel<ExchangeInfo>(
          {
              {tr("Vhost"), tr("The virtual host"), [](const ExchangeInfo &e) { return QVariant(e.vhost); }},
              {tr("Name"), tr("The exchange's name; (default) routes by queue name"),
               [](const ExchangeInfo &e) { return QVariant(e.name.isEmpty() ? tr("(default)") : e.name); }},
              {tr("Type"), tr("direct, fanout, topic, headers or x-delayed-message"),
               [](const ExchangeInfo &e) {
                   return QVariant(e.delayedType.isEmpty() ? e.type : tr("%1 (%2)").arg(e.type, e.delayedType));
               }},
              {tr("Durable"), tr("Survives a restart"), [](const ExchangeInfo &e) { return QVariant(e.durable); }},
              {tr("Auto-delete"), tr("Deleted when its last binding goes"),
               [](const ExchangeInfo &e) { return QVariant(e.autoDelete); }},
              {tr("Internal"), tr("Only other exchanges publish to it"), [](const ExchangeInfo &e) { return QVariant(e.internal); }},
          },
          parent)
{
}

BindingTableModel::BindingTableModel(QObject *parent)
    : RecordTableModel<BindingInfo>(
          {
              {tr("Vhost"), tr("The virtual host"), [](const BindingInfo &b) { return QVariant(b.vhost); }},
              {tr("Source"), tr("The exchange it routes from"), [](const BindingInfo &b) { return QVariant(b.source); }},
              {tr("Destination"), tr("The queue or exchange it routes to"),
               [](const BindingInfo &b) { return QVariant(b.destination); }},
              {tr("Destination type"), tr("queue or exchange"), [](const BindingInfo &b) { return QVariant(b.destinationType); }},
              {tr("Routing key"), tr("What a direct or topic exchange matches"),
               [](const BindingInfo &b) { return QVariant(b.routingKey); }},
              {tr("Arguments"), tr("What a headers exchange matches"),
               [](const BindingInfo &b) { return QVariant(argumentsText(b.arguments)); }},
          },
          parent)
{
}

MessageTableModel::MessageTableModel(QObject *parent)
    : RecordTableModel<MessageInfo>(
          {
              {tr("Offset"), tr("The message's place in its queue"), [](const MessageInfo &m) { return QVariant(m.offset); }},
              {tr("Stored"), tr("When the broker stored it"),
               [](const MessageInfo &m) {
                   return QVariant(QDateTime::fromMSecsSinceEpoch(m.storeTime).toString(Qt::ISODateWithMs));
               }},
              {tr("Routing key"), tr("AMQP routing key"), [](const MessageInfo &m) { return QVariant(m.routingKey); }},
              {tr("Tags"), tr("RocketMQ tags"), [](const MessageInfo &m) { return QVariant(m.tags); }},
              {tr("Keys"), tr("RocketMQ keys, AMQP message-id"), [](const MessageInfo &m) { return QVariant(m.keys); }},
              {tr("Size"), tr("Body bytes"), [](const MessageInfo &m) { return QVariant(qint64(m.payload.size())); }},
              {tr("Dead-letter reason"), tr("Why it was dead-lettered (AMQP)"),
               [](const MessageInfo &m) { return QVariant(m.deathReason); }},
              {tr("Id"), tr("The broker's message id"), [](const MessageInfo &m) { return QVariant(m.id); }},
          },
          parent)
{
}

DeadLetterTableModel::DeadLetterTableModel(QObject *parent)
    : RecordTableModel<DeadLetterQueueInfo>(
          {
              {tr("Kind"), tr("amqp or rocketmq"), [](const DeadLetterQueueInfo &d) { return QVariant(d.kind); }},
              {tr("Name"), tr("The dead-letter queue or %DLQ% topic"), [](const DeadLetterQueueInfo &d) { return QVariant(d.name); }},
              {tr("Vhost"), tr("The virtual host"), [](const DeadLetterQueueInfo &d) { return QVariant(d.vhost); }},
              {tr("Messages"), tr("Dead letters it holds"), [](const DeadLetterQueueInfo &d) { return QVariant(d.messages); }},
              {tr("From"), tr("The queues (AMQP) or the group (RocketMQ) that dead-letter into it"),
               [](const DeadLetterQueueInfo &d) {
                   return QVariant(d.group.isEmpty() ? d.deadLetteredFrom.join(QStringLiteral(", ")) : d.group);
               }},
          },
          parent)
{
}

ResendResultModel::ResendResultModel(QObject *parent)
    : RecordTableModel<ResendResult>(
          {
              {tr("Offset"), tr("The message resent"), [](const ResendResult &r) { return QVariant(r.offset); }},
              {tr("Result"), tr("Whether it was resent"),
               [](const ResendResult &r) { return QVariant(r.ok ? tr("resent") : tr("failed")); }},
              {tr("Detail"), tr("Where it went, or why not"),
               [](const ResendResult &r) { return QVariant(r.ok ? r.destination : r.error); }},
          },
          parent)
{
}

ReplicationMemberModel::ReplicationMemberModel(QObject *parent)
    : RecordTableModel<ReplicationMember>(
          {
              {tr("Broker id"), tr("broker.id: 0 for the master"), [](const ReplicationMember &m) { return QVariant(m.brokerId); }},
              {tr("Address"), tr("Its replication address"), [](const ReplicationMember &m) { return QVariant(m.address); }},
              {tr("Role"), tr("ASYNC_MASTER, SYNC_MASTER or SLAVE"), [](const ReplicationMember &m) { return QVariant(m.role); }},
              {tr("State"), tr("streaming, catching-up, connecting, ..."), [](const ReplicationMember &m) { return QVariant(m.state); }},
              {tr("In sync"), tr("Has everything shipped"), [](const ReplicationMember &m) { return QVariant(m.inSync); }},
              {tr("Seq"), tr("The last change shipped, replicated or applied"), [](const ReplicationMember &m) { return QVariant(m.seq); }},
              {tr("Lag (messages)"), tr("Messages not yet acknowledged"), [](const ReplicationMember &m) { return QVariant(m.lagMessages); }},
              {tr("Lag (bytes)"), tr("Bytes not yet acknowledged"), [](const ReplicationMember &m) { return QVariant(m.lagBytes); }},
          },
          parent)
{
}

GroupTableModel::GroupTableModel(QObject *parent)
    : RecordTableModel<GroupInfo>(
          {
              {tr("Group"), tr("The consumer group"), [](const GroupInfo &g) { return QVariant(g.group); }},
              {tr("Protocol"), tr("Whose clients registered it"), [](const GroupInfo &g) { return QVariant(g.protocol); }},
              {tr("Model"), tr("CLUSTERING or BROADCASTING"), [](const GroupInfo &g) { return QVariant(g.model); }},
              {tr("Members"), tr("Clients in the group now"), [](const GroupInfo &g) { return QVariant(g.memberCount); }},
              {tr("Topics"), tr("Subscribed or committed topics"),
               [](const GroupInfo &g) { return QVariant(g.topics.join(QStringLiteral(", "))); }},
              {tr("Lag"), tr("Messages not yet consumed"), [](const GroupInfo &g) { return QVariant(g.lag); }},
          },
          parent)
{
}

GroupOffsetModel::GroupOffsetModel(QObject *parent)
    : RecordTableModel<GroupOffset>(
          {
              {tr("Topic"), tr("The topic"), [](const GroupOffset &o) { return QVariant(o.topic); }},
              {tr("Queue"), tr("The topic's queue"), [](const GroupOffset &o) { return QVariant(o.queueId); }},
              {tr("Broker offset"), tr("The queue's end"), [](const GroupOffset &o) { return QVariant(o.brokerOffset); }},
              {tr("Consumer offset"), tr("Committed by the group; -1: never"),
               [](const GroupOffset &o) { return QVariant(o.consumerOffset); }},
              {tr("Lag"), tr("Messages not yet consumed"), [](const GroupOffset &o) { return QVariant(o.lag); }},
          },
          parent)
{
}

GroupMemberModel::GroupMemberModel(QObject *parent)
    : RecordTableModel<GroupMember>(
          {
              {tr("Client id"), tr("The client's id"), [](const GroupMember &m) { return QVariant(m.clientId); }},
              {tr("Address"), tr("Where it connects from"), [](const GroupMember &m) { return QVariant(m.address); }},
              {tr("Model"), tr("CLUSTERING or BROADCASTING"), [](const GroupMember &m) { return QVariant(m.model); }},
              {tr("Topics"), tr("What it subscribes"),
               [](const GroupMember &m) { return QVariant(m.topics.join(QStringLiteral(", "))); }},
          },
          parent)
{
}

} // namespace ferry::console
