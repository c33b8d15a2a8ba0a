// ReplicationPage: this broker's replication group as it sees it: every member with its role, state, in-sync flag,
// sequence and lag; a chart of each slave's lag (messages) over the last minutes; and Promote for a slave, with a
// confirmation (the broker then restarts in place as a master).
#pragma once

#include "AdminTypes.h"

#include <QHash>
#include <QWidget>

class QLabel;
class QLineSeries;
class QPushButton;
class QValueAxis;
class QDateTimeAxis;
class QChart;

namespace ferry::console {

class AdminClient;
class ReplicationMemberModel;

class ReplicationPage : public QWidget {
    Q_OBJECT
public:
    static constexpr qint64 kHistoryMs = 10 * 60 * 1000;

    ReplicationPage(AdminClient *client, QWidget *parent = nullptr);
    void setReplication(const ReplicationInfo &info);

    ReplicationMemberModel *members() const { return members_; }
    QLabel *summary() const { return summary_; }
    QPushButton *promoteButton() const { return promote_; }
    // The lag series of a slave (by broker id), or null (tests).
    QLineSeries *lagSeries(qint64 brokerId) const { return lag_.value(brokerId); }

private:
    AdminClient *client_;
    ReplicationMemberModel *members_;
    QLabel *summary_;
    QPushButton *promote_;
    QChart *chart_;
    QDateTimeAxis *timeAxis_;
    QValueAxis *lagAxis_;
    QHash<qint64, QLineSeries *> lag_;
};

} // namespace ferry::console
