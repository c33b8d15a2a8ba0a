// MainWindow: ferry-console's window for one broker profile: a banner when the broker is unreachable or refuses the
// credentials, and the overview (with rate charts), the list screens (topics, queues, connections), the message browser and
// the dead letters, the consumer groups, and replication refreshed every refreshIntervalMs by AdminClient,
// never blocking (every request is asynchronous). The window's geometry and state are remembered (QSettings).
#pragma once

#include "AdminClient.h"

#include <QMainWindow>

class QLabel;
class QTabWidget;
class QTimer;

namespace ferry::console {

class ConnectionTableModel;
class DeadLettersPage;
class GroupsPage;
class ListPage;
class MessagesPage;
class OverviewPage;
class ReplicationPage;
class QueueTableModel;
class TopicTableModel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const Profile &profile, QWidget *parent = nullptr);
    ~MainWindow() override;

    AdminClient *client() const { return client_; }
    void setRefreshIntervalMs(int ms);
    // Fetches every list now (the timer does it every refreshIntervalMs).
    void refresh();
    // Saves a PNG of every screen into dir as <screen>.png (the README's screenshots); false when one fails.
    bool saveScreenshots(const QString &dir);

private:
    void onReachability(AdminClient::Reachability reachability, const QString &detail);
    void newTopic();
    void editTopic();
    void deleteTopic();
    void purgeQueue();
    void closeConnection();

    AdminClient *client_;
    QLabel *banner_;
    QTabWidget *tabs_;
    QTimer *timer_;
    TopicTableModel *topics_;
    QueueTableModel *queues_;
    ConnectionTableModel *connections_;
    OverviewPage *overviewPage_;
    MessagesPage *messagesPage_;
    DeadLettersPage *deadLettersPage_;
    ReplicationPage *replicationPage_;
    GroupsPage *groupsPage_;
    ListPage *topicsPage_, *queuesPage_, *connectionsPage_;
};

} // namespace ferry::console
