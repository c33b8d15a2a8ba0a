#include "GroupsPage.h"

#include "AdminClient.h"
#include "AdminTableModels.h"
#include "ListPage.h"

#include <QComboBox>
#include <QDateTimeEdit>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace ferry::console {


GroupsPage::GroupsPage(AdminClient *client, QWidget *parent)
    : QWidget(parent), client_(client), groups_(new GroupTableModel(this)), offsets_(new GroupOffsetModel(this)),
      members_(new GroupMemberModel(this)), group_(new QLineEdit(this)), topic_(new QComboBox(this)),
      byOffset_(new QRadioButton(tr("to &offset"), this)), byTime_(new QRadioButton(tr("to &time"), this)),
      offset_(new QSpinBox(this)), time_(new QDateTimeEdit(QDateTime::currentDateTime(), this))
{
    setObjectName(QStringLiteral("groupsPage"));
    groupList_ = new ListPage(groups_, QStringLiteral("groups"), this);
    auto *memberList = new ListPage(members_, QStringLiteral("groupMembers"), this);
    auto *offsetList = new ListPage(offsets_, QStringLiteral("groupOffsets"), this);
    group_->setObjectName(QStringLiteral("group"));
    group_->setPlaceholderText(tr("Consumer group"));
    topic_->setObjectName(QStringLiteral("topic"));
    offset_->setObjectName(QStringLiteral("offset"));
    offset_->setRange(0, std::numeric_limits<int>::max());
    time_->setObjectName(QStringLiteral("time"));
    time_->setCalendarPopup(true);
    time_->setDisplayFormat(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    byOffset_->setObjectName(QStringLiteral("byOffset"));
    byTime_->setObjectName(QStringLiteral("byTime"));
    byOffset_->setChecked(true);
    auto *resetButton = new QPushButton(tr("&Reset offsets"), this);
    resetButton->setObjectName(QStringLiteral("resetOffsets"));
    connect(resetButton, &QPushButton::clicked, this, &GroupsPage::reset);
    connect(group_, &QLineEdit::returnPressed, this, [this] { openGroup(group_->text().trimmed()); });
    connect(groupList_, &ListPage::currentSourceRowChanged, this, [this](int row) {
        if (row >= 0)
            openGroup(groups_->record(row).group);
    });
    connect(client_, &AdminClient::groupsReceived, groups_, [this](const QList<GroupInfo> &g) {
        groups_->setRecords(g);
        if (!open_.isEmpty())
            client_->fetchGroup(open_);
    });
    connect(client_, &AdminClient::groupReceived, this, [this](const GroupInfo &g) {
        if (g.group != open_)
            return;
        members_->setRecords(g.members);
        offsets_->setRecords(g.offsets);
    });

    auto *reset = new QHBoxLayout;
    reset->addWidget(group_, 1);
    reset->addWidget(topic_, 1);
    reset->addWidget(byOffset_);
    reset->addWidget(offset_);
    reset->addWidget(byTime_);
    reset->addWidget(time_);
    reset->addWidget(resetButton);
    auto *detail = new QSplitter(Qt::Vertical, this);
    detail->addWidget(memberList);
    detail->addWidget(offsetList);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(groupList_);
    splitter->addWidget(detail);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(splitter, 1);
    layout->addLayout(reset);
}

void GroupsPage::setTopics(const QList<TopicInfo> &topics)
{
    QStringList names;
    for (const TopicInfo &t : topics)
        if (!t.name.startsWith(QLatin1Char('%')))
            names << t.name;
    QStringList current;
    for (int i = 0; i < topic_->count(); ++i)
        current << topic_->itemText(i);
    if (names == current)
        return;
    const QString selected = topic_->currentText();
    topic_->clear();
    topic_->addItems(names);
    topic_->setCurrentIndex(std::max(0, static_cast<int>(names.indexOf(selected))));
}

void GroupsPage::openGroup(const QString &group)
{
    if (group.isEmpty())
        return;
    open_ = group;
    group_->setText(group);
    members_->setRecords({});
    offsets_->setRecords({});
    client_->fetchGroup(group);
}

void GroupsPage::reset()
{
    const QString group = group_->text().trimmed();
    if (group.isEmpty() || topic_->currentText().isEmpty())
        return;
    open_ = group;
    client_->resetOffset(group, topic_->currentText(), byTime_->isChecked(),
                         byTime_->isChecked() ? time_->dateTime().toMSecsSinceEpoch() : offset_->value());
}

} // namespace ferry::console
