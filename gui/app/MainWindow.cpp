#include "MainWindow.h"

#include "AdminTableModels.h"
#include "DeadLettersPage.h"
#include "ExchangesPage.h"
#include "GroupsPage.h"
#include "ListPage.h"
#include "MessagesPage.h"
#include "OverviewPage.h"
#include "ProfileStore.h"
#include "ProfilesDialog.h"
#include "ReplicationPage.h"
#include "ResourceDialogs.h"
#include "TopicDialog.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

namespace ferry::console {

namespace {

// A stable settings key for the index-th widget of its kind inside a screen: the object names from the screen down
// to it, and the index (screens build their widgets in a fixed order; unnamed ones stay apart).
QString layoutKey(const QWidget *screen, const QObject *widget, qsizetype index)
{
    QStringList names;
    for (const QObject *o = widget; o && o != screen; o = o->parent())
        names.prepend(o->objectName().isEmpty() ? QStringLiteral("_") : o->objectName());
    return QStringLiteral("layout/%1/%2.%3").arg(screen->objectName(), names.join(QLatin1Char('.'))).arg(index);
}

} // namespace

MainWindow::MainWindow(const Profile &profile, ProfileStore *profiles, QWidget *parent)
    : QMainWindow(parent), profiles_(profiles ? profiles : new ProfileStore(QStringLiteral("ferry-console"), this)),
      profile_(profile), unsaved_(profiles_->profile(profile.name) ? Profile{} : profile),
      profileBox_(new QComboBox(this)), banner_(new QLabel(this)), timer_(new QTimer(this))
{
    setObjectName(QStringLiteral("mainWindow"));
    banner_->setObjectName(QStringLiteral("banner"));
    banner_->setWordWrap(true);
    banner_->setStyleSheet(QStringLiteral("background: #fdecea; color: #8a1c1c; padding: 6px"));
    banner_->hide();

    auto *bar = addToolBar(tr("Broker"));
    bar->setObjectName(QStringLiteral("brokerBar"));
    bar->setMovable(false);
    auto *brokerLabel = new QLabel(tr("&Broker "), bar);
    brokerLabel->setBuddy(profileBox_);
    profileBox_->setObjectName(QStringLiteral("profileBox"));
    profileBox_->setMinimumContentsLength(24);
    bar->addWidget(brokerLabel);
    bar->addWidget(profileBox_);
    QAction *manage = bar->addAction(tr("&Profiles..."), this, &MainWindow::editProfiles);
    manage->setObjectName(QStringLiteral("editProfiles"));
    manage->setShortcut(QKeySequence(QStringLiteral("Ctrl+Shift+P")));
    QAction *refreshNow = bar->addAction(tr("Refresh"), this, &MainWindow::refresh);
    refreshNow->setObjectName(QStringLiteral("refreshNow"));
    refreshNow->setShortcut(QKeySequence::Refresh);
    connect(profileBox_, &QComboBox::activated, this, [this](int index) {
        const QString name = profileBox_->itemText(index);
        if (name != profile_.name)
            switchToProfile(name);
    });
    connect(profiles_, &ProfileStore::profilesChanged, this, &MainWindow::fillProfileBox);

    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    layout->addWidget(banner_);
    setCentralWidget(central);

    // Window-wide keys; the screens' own mnemonics (Alt+letter) stay as they are.
    for (int i = 0; i < 9; ++i) {
        auto *key = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)), this);
        connect(key, &QShortcut::activated, this, [this, i] {
            if (i < tabs_->count())
                tabs_->setCurrentIndex(i);
        });
    }
    connect(new QShortcut(QKeySequence::Find, this), &QShortcut::activated, this, [this] {
        if (auto *filter = tabs_->currentWidget()->findChild<QLineEdit *>(QStringLiteral("filter"))) {
            filter->setFocus(Qt::ShortcutFocusReason);
            filter->selectAll();
        }
    });
    connect(new QShortcut(QKeySequence(QStringLiteral("Ctrl+B")), this), &QShortcut::activated, this,
            [this] { profileBox_->setFocus(Qt::ShortcutFocusReason); });

    connect(timer_, &QTimer::timeout, this, &MainWindow::refresh);
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("mainWindow/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("mainWindow/state")).toByteArray());
    buildScreens();
    tabs_->setCurrentIndex(settings.value(QStringLiteral("mainWindow/tab"), 0).toInt());
    setRefreshIntervalMs(5000);
}

MainWindow::~MainWindow()
{
    QSettings settings;
    settings.setValue(QStringLiteral("mainWindow/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("mainWindow/state"), saveState());
    settings.setValue(QStringLiteral("mainWindow/tab"), tabs_->currentIndex());
    saveLayout();
}

void MainWindow::buildScreens()
{
    const int tab = tabs_ ? tabs_->currentIndex() : 0;
    if (tabs_) {
        saveLayout();
        delete tabs_; // with the previous broker's client, models and screens
    }
    tabs_ = new QTabWidget(centralWidget());
    tabs_->setObjectName(QStringLiteral("tabs"));
    client_ = new AdminClient(tabs_);
    topics_ = new TopicTableModel(tabs_);
    queues_ = new QueueTableModel(tabs_);
    connections_ = new ConnectionTableModel(tabs_);
    setWindowTitle(tr("Ferry console - %1").arg(profile_.name));
    banner_->hide();

    overviewPage_ = new OverviewPage(tabs_);
    topicsPage_ = new ListPage(topics_, QStringLiteral("topicsPage"), tabs_);
    connect(topicsPage_->addAction(tr("&New topic..."), QStringLiteral("newTopic")), &QPushButton::clicked, this,
            &MainWindow::newTopic);
    connect(topicsPage_->addAction(tr("&Edit..."), QStringLiteral("editTopic")), &QPushButton::clicked, this,
            &MainWindow::editTopic);
    connect(topicsPage_->addAction(tr("&Delete"), QStringLiteral("deleteTopic")), &QPushButton::clicked, this,
            &MainWindow::deleteTopic);
    queuesPage_ = new ListPage(queues_, QStringLiteral("queuesPage"), tabs_);
    connect(queuesPage_->addAction(tr("&Purge"), QStringLiteral("purgeQueue")), &QPushButton::clicked, this,
            &MainWindow::purgeQueue);
    connect(queuesPage_->addAction(tr("New q&ueue..."), QStringLiteral("newQueue")), &QPushButton::clicked, this,
            &MainWindow::newQueue);
    connect(queuesPage_->addAction(tr("De&lete queue"), QStringLiteral("deleteQueue")), &QPushButton::clicked, this,
            &MainWindow::deleteQueue);
    connectionsPage_ = new ListPage(connections_, QStringLiteral("connectionsPage"), tabs_);
    connect(connectionsPage_->addAction(tr("&Close connection"), QStringLiteral("closeConnection")),
            &QPushButton::clicked, this, &MainWindow::closeConnection);
    messagesPage_ = new MessagesPage(client_, tabs_);
    deadLettersPage_ = new DeadLettersPage(client_, tabs_);
    replicationPage_ = new ReplicationPage(client_, tabs_);
    groupsPage_ = new GroupsPage(client_, tabs_);
    exchangesPage_ = new ExchangesPage(client_, tabs_);
    tabs_->addTab(overviewPage_, tr("O&verview"));
    tabs_->addTab(topicsPage_, tr("&Topics"));
    tabs_->addTab(queuesPage_, tr("&Queues"));
    tabs_->addTab(exchangesPage_, tr("E&xchanges"));
    tabs_->addTab(connectionsPage_, tr("C&onnections"));
    tabs_->addTab(messagesPage_, tr("&Messages"));
    tabs_->addTab(deadLettersPage_, tr("&Dead letters"));
    tabs_->addTab(groupsPage_, tr("Consumer &groups"));
    tabs_->addTab(replicationPage_, tr("&Replication"));
    centralWidget()->layout()->addWidget(tabs_);

    connect(client_, &AdminClient::overviewReceived, overviewPage_, &OverviewPage::setOverview);
    connect(client_, &AdminClient::topicsReceived, topics_, [this](const QList<TopicInfo> &t) { topics_->setRecords(t); });
    connect(client_, &AdminClient::queuesReceived, queues_, [this](const QList<QueueInfo> &q) { queues_->setRecords(q); });
    connect(client_, &AdminClient::connectionsReceived, connections_,
            [this](const QList<ConnectionInfo> &c) { connections_->setRecords(c); });
    connect(client_, &AdminClient::queuesReceived, messagesPage_, &MessagesPage::setQueues);
    connect(client_, &AdminClient::topicsReceived, messagesPage_, &MessagesPage::setTopics);
    connect(client_, &AdminClient::topicsReceived, groupsPage_, &GroupsPage::setTopics);
    connect(client_, &AdminClient::reachabilityChanged, this, &MainWindow::onReachability);
    connect(client_, &AdminClient::changeFinished, this, [this](const QString &what, bool ok, const QString &message) {
        statusBar()->showMessage(ok ? tr("Done: %1").arg(what) : tr("Failed: %1: %2").arg(what, message), 10000);
    });

    restoreLayout();
    tabs_->setCurrentIndex(tab);
    fillProfileBox();
    client_->setProfile(profile_);
    refresh();
    emit profileShown(profile_.name);
}

void MainWindow::fillProfileBox()
{
    const QSignalBlocker block(profileBox_);
    profileBox_->clear();
    for (const Profile &p : profiles_->profiles())
        profileBox_->addItem(p.name);
    if (!unsaved_.name.isEmpty() && profileBox_->findText(unsaved_.name) < 0)
        profileBox_->addItem(unsaved_.name);
    profileBox_->setCurrentIndex(profileBox_->findText(profile_.name));
}

void MainWindow::switchTo(const Profile &profile)
{
    profile_ = profile;
    if (profiles_->profile(profile.name))
        profiles_->setLastUsed(profile.name);
    buildScreens();
}

void MainWindow::switchToProfile(const QString &name)
{
    if (name == unsaved_.name && !profiles_->profile(name)) {
        switchTo(unsaved_);
        return;
    }
    const std::optional<Profile> saved = profiles_->profile(name);
    if (!saved)
        return;
    auto *once = new QObject(this); // disconnects the lookup below after its one answer
    connect(profiles_, &ProfileStore::passwordReady, once,
            [this, once, profile = *saved](const QString &who, const QString &password, bool found) mutable {
                if (who != profile.name)
                    return;
                delete once;
                if (found) {
                    profile.password = password;
                    switchTo(profile);
                    return;
                }
                // No stored password (no secret store here, or none saved): ask, keep it for this session.
                auto *ask = new QInputDialog(this);
                ask->setObjectName(QStringLiteral("passwordPrompt"));
                ask->setAttribute(Qt::WA_DeleteOnClose);
                ask->setWindowTitle(tr("Password"));
                ask->setLabelText(tr("Password of %1 at %2").arg(profile.user, profile.url.toString()));
                ask->setTextEchoMode(QLineEdit::Password);
                connect(ask, &QInputDialog::textValueSelected, this, [this, profile](const QString &text) mutable {
                    profile.password = text;
                    profiles_->save(profile);
                    switchTo(profile);
                });
                connect(ask, &QDialog::rejected, this, &MainWindow::fillProfileBox);
                ask->open();
            });
    profiles_->loadPassword(name);
}

void MainWindow::editProfiles()
{
    ProfilesDialog dialog(profiles_, this);
    if (profiles_->profile(profile_.name))
        dialog.select(profile_.name);
    else
        dialog.fill(profile_); // the broker opened with --url, ready to be saved
    connect(&dialog, &ProfilesDialog::connectRequested, this, &MainWindow::switchToProfile);
    dialog.exec();
}

void MainWindow::setRefreshIntervalMs(int ms) { timer_->start(ms); }

void MainWindow::refresh()
{
    client_->fetchOverview();
    client_->fetchTopics();
    client_->fetchQueues();
    exchangesPage_->refresh();
    client_->fetchConnections();
    client_->fetchDeadLetters();
    client_->fetchReplication();
    client_->fetchGroups();
}

void MainWindow::saveLayout() const
{
    QSettings settings;
    for (int i = 0; i < tabs_->count(); ++i) {
        const QWidget *screen = tabs_->widget(i);
        const QList<QTableView *> tables = screen->findChildren<QTableView *>();
        for (qsizetype t = 0; t < tables.size(); ++t)
            settings.setValue(layoutKey(screen, tables[t], t), tables[t]->horizontalHeader()->saveState());
        const QList<QSplitter *> splitters = screen->findChildren<QSplitter *>();
        for (qsizetype s = 0; s < splitters.size(); ++s)
            settings.setValue(layoutKey(screen, splitters[s], s), splitters[s]->saveState());
    }
}

void MainWindow::restoreLayout()
{
    QSettings settings;
    for (int i = 0; i < tabs_->count(); ++i) {
        QWidget *screen = tabs_->widget(i);
        const QList<QTableView *> tables = screen->findChildren<QTableView *>();
        for (qsizetype t = 0; t < tables.size(); ++t) {
            QHeaderView *header = tables[t]->horizontalHeader();
            const QByteArray state = settings.value(layoutKey(screen, tables[t], t)).toByteArray();
            if (!state.isEmpty() && header->restoreState(state) && tables[t]->isSortingEnabled())
                tables[t]->sortByColumn(header->sortIndicatorSection(), header->sortIndicatorOrder());
        }
        const QList<QSplitter *> splitters = screen->findChildren<QSplitter *>();
        for (qsizetype s = 0; s < splitters.size(); ++s)
            splitters[s]->restoreState(settings.value(layoutKey(screen, splitters[s], s)).toByteArray());
    }
}

bool MainWindow::saveScreenshots(const QString &dir)
{
    const auto settle = [] {
        QElapsedTimer waited;
        waited.start();
        while (waited.elapsed() < 400) // the answers a selection asked for
            QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    };
    bool ok = true;
    for (int i = 0; i < tabs_->count(); ++i) {
        tabs_->setCurrentIndex(i);
        if (tabs_->widget(i) == messagesPage_)
            messagesPage_->browseFromStart(); // the first source's first page
        // Each list shows its first row selected, with its details: twice, since a selection fills the next list
        // (the first DLQ's dead letters, then the first dead letter's fields and body).
        for (int pass = 0; pass < 2; ++pass) {
            for (QTableView *table : tabs_->widget(i)->findChildren<QTableView *>())
                if (table->model()->rowCount() > 0 && !table->currentIndex().isValid())
                    table->selectRow(0);
            settle();
        }
        const QString name = tabs_->widget(i)->objectName().remove(QStringLiteral("Page"));
        ok &= grab().save(dir + QLatin1Char('/') + name + QStringLiteral(".png"));
    }
    ProfilesDialog profiles(profiles_, this);
    if (profiles_->profile(profile_.name))
        profiles.select(profile_.name);
    else
        profiles.fill(profile_);
    profiles.show();
    settle();
    ok &= profiles.grab().save(dir + QStringLiteral("/profiles.png"));
    return ok;
}

void MainWindow::onReachability(AdminClient::Reachability reachability, const QString &detail)
{
    const bool problem = reachability == AdminClient::Reachability::Unreachable ||
                         reachability == AdminClient::Reachability::Unauthorized;
    banner_->setText(detail);
    banner_->setVisible(problem);
}

void MainWindow::newTopic()
{
    TopicDialog dialog(nullptr, this);
    if (dialog.exec() == QDialog::Accepted)
        client_->saveTopic(dialog.spec());
}

void MainWindow::editTopic()
{
    const int row = topicsPage_->currentSourceRow();
    if (row < 0)
        return;
    const TopicInfo topic = topics_->record(row);
    TopicDialog dialog(&topic, this);
    if (dialog.exec() == QDialog::Accepted)
        client_->saveTopic(dialog.spec());
}

void MainWindow::deleteTopic()
{
    const int row = topicsPage_->currentSourceRow();
    if (row < 0)
        return;
    const QString name = topics_->record(row).name;
    if (QMessageBox::question(this, tr("Delete topic"), tr("Delete topic %1 and its messages?").arg(name)) ==
        QMessageBox::Yes)
        client_->deleteTopic(name);
}

void MainWindow::purgeQueue()
{
    const int row = queuesPage_->currentSourceRow();
    if (row < 0)
        return;
    const QueueInfo queue = queues_->record(row);
    if (QMessageBox::question(this, tr("Purge queue"),
                              tr("Drop the %1 ready messages of queue %2?").arg(queue.ready).arg(queue.name)) ==
        QMessageBox::Yes)
        client_->purgeQueue(queue.vhost, queue.name);
}

void MainWindow::newQueue()
{
    const int row = queuesPage_->currentSourceRow();
    QueueDialog dialog(row >= 0 ? queues_->record(row).vhost : QStringLiteral("/"), this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const QueueSpec spec = dialog.spec();
    client_->declareQueue(spec.vhost, spec.name, spec.durable);
}

void MainWindow::deleteQueue()
{
    const int row = queuesPage_->currentSourceRow();
    if (row < 0)
        return;
    const QueueInfo queue = queues_->record(row);
    if (QMessageBox::question(this, tr("Delete queue"),
                              tr("Delete queue %1 (vhost %2), its %3 messages and its bindings?")
                                  .arg(queue.name, queue.vhost)
                                  .arg(queue.messages)) == QMessageBox::Yes)
        client_->deleteQueue(queue.vhost, queue.name);
}

void MainWindow::closeConnection()
{
    const int row = connectionsPage_->currentSourceRow();
    if (row < 0)
        return;
    const QString name = connections_->record(row).name;
    if (QMessageBox::question(this, tr("Close connection"), tr("Close connection %1?").arg(name)) == QMessageBox::Yes)
        client_->closeConnection(name);
}

} // namespace ferry::console
