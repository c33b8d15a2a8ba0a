#include "MainWindow.h"

#include "AdminTableModels.h"
#include "DeadLettersPage.h"
#include "GroupsPage.h"
#include "ListPage.h"
#include "MessagesPage.h"
#include "OverviewPage.h"
#include "ReplicationPage.h"
#include "TopicDialog.h"

#include <QCoreApplication>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace ferry::console {

MainWindow::MainWindow(const Profile &profile, QWidget *parent)
    : QMainWindow(parent), client_(new AdminClient(this)), banner_(new QLabel(this)), tabs_(new QTabWidget(this)),
      timer_(new QTimer(this)), topics_(new TopicTableModel(this)), queues_(new QueueTableModel(this)),
      connections_(new ConnectionTableModel(this))
{
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("Ferry console - %1").arg(profile.name));
    banner_->setObjectName(QStringLiteral("banner"));
    banner_->setWordWrap(true);
    banner_->setStyleSheet(QStringLiteral("background: #fdecea; color: #8a1c1c; padding: 6px"));
    banner_->hide();

    overviewPage_ = new OverviewPage(this);
    topicsPage_ = new ListPage(topics_, QStringLiteral("topicsPage"), this);
    connect(topicsPage_->addAction(tr("&New topic..."), QStringLiteral("newTopic")), &QPushButton::clicked, this,
            &MainWindow::newTopic);
    connect(topicsPage_->addAction(tr("&Edit..."), QStringLiteral("editTopic")), &QPushButton::clicked, this,
            &MainWindow::editTopic);
    connect(topicsPage_->addAction(tr("&Delete"), QStringLiteral("deleteTopic")), &QPushButton::clicked, this,
            &MainWindow::deleteTopic);
    queuesPage_ = new ListPage(queues_, QStringLiteral("queuesPage"), this);
    connect(queuesPage_->addAction(tr("&Purge"), QStringLiteral("purgeQueue")), &QPushButton::clicked, this,
            &MainWindow::purgeQueue);
    connectionsPage_ = new ListPage(connections_, QStringLiteral("connectionsPage"), this);
    connect(connectionsPage_->addAction(tr("&Close connection"), QStringLiteral("closeConnection")),
            &QPushButton::clicked, this, &MainWindow::closeConnection);
    messagesPage_ = new MessagesPage(client_, this);
    deadLettersPage_ = new DeadLettersPage(client_, this);
    replicationPage_ = new ReplicationPage(client_, this);
    groupsPage_ = new GroupsPage(client_, this);
    tabs_->setObjectName(QStringLiteral("tabs"));
    tabs_->addTab(overviewPage_, tr("O&verview"));
    tabs_->addTab(topicsPage_, tr("&Topics"));
    tabs_->addTab(queuesPage_, tr("&Queues"));
    tabs_->addTab(connectionsPage_, tr("C&onnections"));
    tabs_->addTab(messagesPage_, tr("&Messages"));
    tabs_->addTab(deadLettersPage_, tr("&Dead letters"));
    tabs_->addTab(groupsPage_, tr("Consumer &groups"));
    tabs_->addTab(replicationPage_, tr("&Replication"));

    auto *central = new QWidget(this);
    auto *layout = new QVBoxLayout(central);
    layout->addWidget(banner_);
    layout->addWidget(tabs_);
    setCentralWidget(central);

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
    connect(timer_, &QTimer::timeout, this, &MainWindow::refresh);

    client_->setProfile(profile);
    setRefreshIntervalMs(5000);
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("mainWindow/geometry")).toByteArray());
    tabs_->setCurrentIndex(settings.value(QStringLiteral("mainWindow/tab"), 0).toInt());
    refresh();
}

MainWindow::~MainWindow()
{
    QSettings settings;
    settings.setValue(QStringLiteral("mainWindow/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("mainWindow/tab"), tabs_->currentIndex());
}

void MainWindow::setRefreshIntervalMs(int ms) { timer_->start(ms); }

void MainWindow::refresh()
{
    client_->fetchOverview();
    client_->fetchTopics();
    client_->fetchQueues();
    client_->fetchConnections();
    client_->fetchDeadLetters();
    client_->fetchReplication();
    client_->fetchGroups();
}

bool MainWindow::saveScreenshots(const QString &dir)
{
    bool ok = true;
    for (int i = 0; i < tabs_->count(); ++i) {
        tabs_->setCurrentIndex(i);
        QCoreApplication::processEvents();
        const QString name = tabs_->widget(i)->objectName().remove(QStringLiteral("Page"));
        ok &= grab().save(dir + QLatin1Char('/') + name + QStringLiteral(".png"));
    }
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
