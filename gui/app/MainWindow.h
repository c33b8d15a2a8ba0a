// MainWindow: ferry-console's window. A broker bar (the connection profile in use, switchable, and the profiles
// dialog), a banner when the broker is unreachable or refuses the credentials, and the screens of that broker:
// the overview (with rate charts), topics, queues, exchanges and bindings, connections, the message browser, the
// dead letters, the consumer groups and replication, refreshed every refreshIntervalMs by AdminClient, never
// blocking (every request is asynchronous).
//
// Switching broker drops the screens of the previous one with their client (so no answer or chart point of the old
// broker reaches the new screens) and builds them anew for the profile chosen.
//
// The layout is remembered between runs (QSettings): window geometry and state, the current screen, every table's
// column widths and sort order, and every splitter.
//
// Keyboard: Ctrl+1..Ctrl+9 pick a screen (Alt+the underlined letter too), F5 refreshes, Ctrl+F goes to the current
// screen's filter box, Ctrl+Shift+P opens the profiles dialog, Ctrl+B goes to the broker switcher.
#pragma once

#include "AdminClient.h"

#include <QMainWindow>

class QComboBox;
class QLabel;
class QTabWidget;
class QTimer;

namespace ferry::console {

class ConnectionTableModel;
class DeadLettersPage;
class ExchangesPage;
class GroupsPage;
class ListPage;
class MessagesPage;
class OverviewPage;
class ProfileStore;
class ReplicationPage;
class QueueTableModel;
class TopicTableModel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // profiles: the saved profiles the broker bar offers (not owned; null: the window's own ProfileStore).
    explicit MainWindow(const Profile &profile, ProfileStore *profiles = nullptr, QWidget *parent = nullptr);
    ~MainWindow() override;

    // The client of the broker shown now (replaced by every switch).
    AdminClient *client() const { return client_; }
    ProfileStore *profiles() const { return profiles_; }
    void setRefreshIntervalMs(int ms);
    // Fetches every list now (the timer does it every refreshIntervalMs).
    void refresh();
    // Shows the broker of `profile` (its password included), dropping the screens of the current one.
    void switchTo(const Profile &profile);
    // Shows the saved profile `name`: its password from the ProfileStore, or asked for when it has none.
    void switchToProfile(const QString &name);
    // Opens the profiles dialog (modal).
    void editProfiles();
    // Saves a PNG of every screen into dir as <screen>.png, with the first row of its main list selected, and of the
    // profiles dialog as profiles.png (the README's screenshots); false when one fails.
    bool saveScreenshots(const QString &dir);

signals:
    // The screens were built for a profile (after a switch or at the start).
    void profileShown(const QString &name);

private:
    void buildScreens();
    void fillProfileBox();
    void onReachability(AdminClient::Reachability reachability, const QString &detail);
    void newTopic();
    void editTopic();
    void deleteTopic();
    void purgeQueue();
    void newQueue();
    void deleteQueue();
    void closeConnection();
    void saveLayout() const;
    void restoreLayout();

    ProfileStore *profiles_;
    Profile profile_;
    Profile unsaved_; // the profile the window opened with when it is not a saved one (--url), offered until closed
    QComboBox *profileBox_;
    QLabel *banner_;
    QTimer *timer_;
    // Per broker: owned by tabs_, rebuilt by switchTo.
    QTabWidget *tabs_ = nullptr;
    AdminClient *client_ = nullptr;
    TopicTableModel *topics_ = nullptr;
    QueueTableModel *queues_ = nullptr;
    ConnectionTableModel *connections_ = nullptr;
    OverviewPage *overviewPage_ = nullptr;
    MessagesPage *messagesPage_ = nullptr;
    DeadLettersPage *deadLettersPage_ = nullptr;
    ReplicationPage *replicationPage_ = nullptr;
    GroupsPage *groupsPage_ = nullptr;
    ExchangesPage *exchangesPage_ = nullptr;
    ListPage *topicsPage_ = nullptr, *queuesPage_ = nullptr, *connectionsPage_ = nullptr;
};

} // namespace ferry::console
