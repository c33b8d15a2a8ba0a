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

} // namespace ferry::console
