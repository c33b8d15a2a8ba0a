// GroupsPage: the consumer groups with members and lag; for the one selected, its members and its offsets and lag per
// topic queue; and a reset of its offsets on a topic to an offset or a time.
#pragma once

#include "AdminTypes.h"

#include <QWidget>

class QComboBox;
class QDateTimeEdit;
class QLineEdit;
class QRadioButton;
class QSpinBox;
class QTableView;

namespace ferry::console {

class AdminClient;
class GroupMemberModel;
class GroupOffsetModel;
class GroupTableModel;
class ListPage;

class GroupsPage : public QWidget {
    Q_OBJECT
public:
    GroupsPage(AdminClient *client, QWidget *parent = nullptr);

    void setTopics(const QList<TopicInfo> &topics);
    // Shows the group (also one with no member and no offset yet: the reset creates its offsets).
    void openGroup(const QString &group);
    // Resets the open group's offsets on the topic chosen, to the offset or the time entered.
    void reset();

    GroupTableModel *groups() const { return groups_; }
    GroupOffsetModel *offsets() const { return offsets_; }
    GroupMemberModel *members() const { return members_; }

private:
    AdminClient *client_;
    GroupTableModel *groups_;
    GroupOffsetModel *offsets_;
    GroupMemberModel *members_;
    ListPage *groupList_;
    QLineEdit *group_;
    QComboBox *topic_;
    QRadioButton *byOffset_, *byTime_;
    QSpinBox *offset_;
    QDateTimeEdit *time_;
    QString open_;
};

} // namespace ferry::console
