// The console's list models: one RecordTableModel per admin resource, with its columns. Fed by AdminClient:
//   connect(client, &AdminClient::queuesReceived, queues, &QueueTableModel::setRecords);
// Views sort and filter through a QSortFilterProxyModel with sortRole Qt::UserRole.
#pragma once

#include "AdminTypes.h"
#include "RecordTableModel.h"

namespace ferry::console {

class QueueTableModel : public RecordTableModel<QueueInfo> {
public:
    explicit QueueTableModel(QObject *parent = nullptr);
};

class TopicTableModel : public RecordTableModel<TopicInfo> {
public:
    explicit TopicTableModel(QObject *parent = nullptr);
};

class ConnectionTableModel : public RecordTableModel<ConnectionInfo> {
public:
    explicit ConnectionTableModel(QObject *parent = nullptr);
};

class ExchangeTableModel : public RecordTableModel<ExchangeInfo> {
public:
    explicit ExchangeTableModel(QObject *parent = nullptr);
};

class BindingTableModel : public RecordTableModel<BindingInfo> {
public:
    explicit BindingTableModel(QObject *parent = nullptr);
};

class MessageTableModel : public RecordTableModel<MessageInfo> {
public:
    explicit MessageTableModel(QObject *parent = nullptr);
};

class DeadLetterTableModel : public RecordTableModel<DeadLetterQueueInfo> {
public:
    explicit DeadLetterTableModel(QObject *parent = nullptr);
};

class ResendResultModel : public RecordTableModel<ResendResult> {
public:
    explicit ResendResultModel(QObject *parent = nullptr);
};

class ReplicationMemberModel : public RecordTableModel<ReplicationMember> {
public:
    explicit ReplicationMemberModel(QObject *parent = nullptr);
};

class GroupTableModel : public RecordTableModel<GroupInfo> {
public:
    explicit GroupTableModel(QObject *parent = nullptr);
};

class GroupOffsetModel : public RecordTableModel<GroupOffset> {
public:
    explicit GroupOffsetModel(QObject *parent = nullptr);
};

class GroupMemberModel : public RecordTableModel<GroupMember> {
public:
    explicit GroupMemberModel(QObject *parent = nullptr);
};

} // namespace ferry::console
