// tst_console_window: ferry-console's window (gui/app) with the offscreen platform against a real ferry-broker:
// the banner for an unreachable broker and for wrong credentials, and a topic created by clicking through the
// dialog (which refuses invalid input first) showing up in the topics list; exchangeQueueAndBindingThroughDialogs:
// a queue, a headers exchange and a binding created through their dialogs (each refusing invalid input first),
// listed, then deleted with their confirmations answered.
#include "AdminTableModels.h"
#include "DeadLettersPage.h"
#include "ExchangesPage.h"
#include "GroupsPage.h"
#include "ListPage.h"
#include "MainWindow.h"
#include "MessageView.h"
#include "MessagesPage.h"
#include "OverviewPage.h"
#include "ReplicationPage.h"
#include "ResendDialog.h"
#include "ResourceDialogs.h"
#include "RunningBroker.h"
#include "TopicDialog.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QCheckBox>
#include <QDateTimeEdit>
#include <QDialogButtonBox>
#include <QComboBox>
#include <QLabel>
#include <QLineSeries>
#include <QMessageBox>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPlainTextEdit>
#include <QRadioButton>
#include <QLineEdit>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

using namespace ferry::console;

namespace {

int rowOf(const QAbstractItemModel *model, int column, const QString &text)
{
    for (int row = 0; row < model->rowCount(); ++row)
        if (model->index(row, column).data().toString() == text)
            return row;
    return -1;
}

// Clicks `opener`, which opens a modal Dialog (exec()), and runs drive(dialog) once it is up. A dialog drive()
// leaves open is cancelled, so a failed check cannot leave exec() waiting; false when no Dialog came up.
template <typename Dialog, typename Drive>
bool clickThroughDialog(QAbstractButton *opener, Drive drive)
{
    bool driven = false;
    QTimer::singleShot(0, opener, [&] {
        auto *dialog = qobject_cast<Dialog *>(QApplication::activeModalWidget());
        if (!dialog) {
            if (auto *other = qobject_cast<QDialog *>(QApplication::activeModalWidget()))
                other->reject();
            return;
        }
        driven = true;
        drive(dialog);
        if (dialog->isVisible())
            dialog->reject();
    });
    QTest::mouseClick(opener, Qt::LeftButton);
    return driven;
}

QPushButton *okOf(QDialog *dialog)
{
    return dialog->findChild<QDialogButtonBox *>(QStringLiteral("buttons"))->button(QDialogButtonBox::Ok);
}

// Clicks OK; the refusal shown when the dialog stays open ("" when it accepted).
QString refusalOf(QDialog *dialog)
{
    QTest::mouseClick(okOf(dialog), Qt::LeftButton);
    auto *error = dialog->findChild<QLabel *>(QStringLiteral("error"));
    return dialog->isVisible() && error->isVisible() ? error->text() : QString();
}

// Clicks `button` and answers Yes to the question it asks; returns the question's text.
QString clickAndConfirm(QAbstractButton *button)
{
    QString question;
    QTimer::singleShot(0, button, [&] {
        if (auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget())) {
            question = box->text();
            box->button(QMessageBox::Yes)->click();
        }
    });
    QTest::mouseClick(button, Qt::LeftButton);
    return question;
}

} // namespace

class TestConsoleWindow : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dataDir_;
    ferry::test::RunningBroker broker_{QStringLiteral(FERRY_BROKER_EXE)};
    Profile profile_;

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true); // QSettings in a test location
        QVERIFY(dataDir_.isValid());
        const QStringList args = ferry::test::RunningBroker::loopbackArguments(dataDir_.path());
        QVERIFY2(broker_.start(args), qPrintable(broker_.describe()));
        profile_ = Profile{QStringLiteral("test"),
                           QUrl(QStringLiteral("http://") + broker_.listeners().value(QStringLiteral("admin.listen"))),
                           QStringLiteral("guest"), QStringLiteral("guest")};
    }

    void cleanupTestCase() { QVERIFY2(broker_.terminate(), qPrintable(broker_.describe())); }

    void bannerForUnreachableAndWrongCredentials()
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        const quint16 closedPort = probe.serverPort();
        probe.close();
        MainWindow gone({QStringLiteral("gone"), QUrl(QStringLiteral("http://127.0.0.1:%1").arg(closedPort)),
                         QStringLiteral("guest"), QStringLiteral("guest")});
        gone.show();
        auto *banner = gone.findChild<QLabel *>(QStringLiteral("banner"));
        QVERIFY(banner);
        QTRY_VERIFY_WITH_TIMEOUT(banner->isVisible(), 10000);
        QVERIFY2(banner->text().contains(QStringLiteral("unreachable")), qPrintable(banner->text()));

        Profile wrong = profile_;
        wrong.password = QStringLiteral("nope");
        MainWindow refused(wrong);
        refused.show();
        auto *banner2 = refused.findChild<QLabel *>(QStringLiteral("banner"));
        QTRY_VERIFY_WITH_TIMEOUT(banner2->isVisible(), 10000);
        QVERIFY2(banner2->text().contains(QStringLiteral("refused the credentials")), qPrintable(banner2->text()));

        MainWindow fine(profile_);
        fine.show();
        auto *table = fine.findChild<QWidget *>(QStringLiteral("connectionsPage"))->findChild<QTableView *>();
        QTRY_VERIFY_WITH_TIMEOUT(table->model()->rowCount() > 0, 10000); // its own admin connections
        QVERIFY(!fine.findChild<QLabel *>(QStringLiteral("banner"))->isVisible());
    }

    void overviewShowsTheBrokerAndChartsRates()
    {
        MainWindow window(profile_);
        window.show();
        auto *page = window.findChild<OverviewPage *>(QStringLiteral("overviewPage"));
        QVERIFY(page);
        auto *summary = page->findChild<QLabel *>(QStringLiteral("summary"));
        auto *plugins = page->findChild<QLabel *>(QStringLiteral("plugins"));
        auto *listeners = page->findChild<QLabel *>(QStringLiteral("listeners"));
        QTRY_VERIFY_WITH_TIMEOUT(summary->text().contains(QStringLiteral("ASYNC_MASTER")), 10000);
        QVERIFY2(summary->text().startsWith(QStringLiteral("Ferry ")), qPrintable(summary->text()));
        QVERIFY2(plugins->text().contains(QStringLiteral("rocket")) && plugins->text().contains(QStringLiteral("file")),
                 qPrintable(plugins->text()));
        QVERIFY2(listeners->text().contains(QStringLiteral("admin.listen")), qPrintable(listeners->text()));
        const int points = page->publishSeries()->count();
        QVERIFY(points >= 1);
        window.refresh(); // each overview adds a point to each rate series
        QTRY_VERIFY_WITH_TIMEOUT(page->publishSeries()->count() > points, 10000);
        QCOMPARE(page->deliverSeries()->count(), page->publishSeries()->count());
        QVERIFY(page->publishSeries()->at(points).x() >= page->publishSeries()->at(0).x());
    }

    void publishBrowseAndFind()
    {
        AdminClient setup;
        setup.setProfile(profile_);
        QSignalSpy done(&setup, &AdminClient::changeFinished);
        setup.declareQueue(QStringLiteral("/"), QStringLiteral("browse-me"), true);
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 10000);
        QVERIFY2(done.first().at(1).toBool(), qPrintable(done.first().at(2).toString()));

        MainWindow window(profile_);
        window.show();
        auto *page = window.findChild<MessagesPage *>(QStringLiteral("messagesPage"));
        QVERIFY(page);
        QAbstractItemModelTester tester(page->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        const QString label = QStringLiteral("queue browse-me (vhost /)");
        QTRY_VERIFY_WITH_TIMEOUT(page->selectSource(label), 10000);
        // Publish by typing a body and clicking Publish.
        QTest::keyClicks(page->findChild<QLineEdit *>(QStringLiteral("payload")), QStringLiteral("{\"hello\":\"console\"}"));
        QSignalSpy published(window.client(), &AdminClient::changeFinished);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("publish")), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(published.count(), 1, 10000);
        QVERIFY2(published.first().at(1).toBool(), qPrintable(published.first().at(2).toString()));
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("browse")), Qt::LeftButton);
                QTest::qWait(100);
                return page->model()->rowCount() == 1;
            }(),
            10000);
        const MessageInfo m = page->model()->record(0);
        QCOMPARE(m.payload, QByteArray("{\"hello\":\"console\"}"));
        // The body as pretty JSON (chosen by itself for a JSON body), then as hex.
        QTRY_VERIFY(page->messageView()->bodyText().contains(QStringLiteral("\"hello\": \"console\"")));
        page->messageView()->setBodyMode(MessageView::BodyMode::Hex);
        QVERIFY2(page->messageView()->bodyText().startsWith(QStringLiteral("00000000  7b 22 68 65")),
                 qPrintable(page->messageView()->bodyText()));
        // Browsing did not consume it; finding it by its id shows it again.
        auto *search = page->findChild<QLineEdit *>(QStringLiteral("search"));
        QTest::keyClicks(search, m.id);
        page->model()->setRecords({});
        QTest::keyClick(search, Qt::Key_Return);
        QTRY_COMPARE_WITH_TIMEOUT(page->model()->rowCount(), 1, 10000);
        QCOMPARE(page->model()->record(0).id, m.id);
        QCOMPARE(page->model()->record(0).queue, QStringLiteral("browse-me"));

        // By store time: a range around it finds it, a range that ended before it finds nothing.
        auto *begin = page->findChild<QDateTimeEdit *>(QStringLiteral("rangeBegin"));
        auto *end = page->findChild<QDateTimeEdit *>(QStringLiteral("rangeEnd"));
        auto *inRange = page->findChild<QPushButton *>(QStringLiteral("browseRange"));
        const QDateTime stored = QDateTime::fromMSecsSinceEpoch(m.storeTime);
        begin->setDateTime(stored.addSecs(-60));
        end->setDateTime(stored.addSecs(60));
        page->model()->setRecords({});
        QTest::mouseClick(inRange, Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(page->model()->rowCount(), 1, 10000);
        QCOMPARE(page->model()->record(0).id, m.id);
        begin->setDateTime(stored.addDays(-2));
        end->setDateTime(stored.addDays(-1));
        QSignalSpy ranged(window.client(), &AdminClient::pageReceived);
        QTest::mouseClick(inRange, Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(ranged.count(), 1, 10000);
        QCOMPARE(page->model()->rowCount(), 0);
    }

    void deadLetterResentToTheRealClient()
    {
        const QString node = QStandardPaths::findExecutable(QStringLiteral("node"));
        QVERIFY2(!node.isEmpty(), "node (Debian's nodejs) runs the real amqplib client of this test");
        QProcess client;
        client.setProcessChannelMode(QProcess::MergedChannels);
        client.start(node, {QStringLiteral(FERRY_DLQ_CLIENT),
                            QStringLiteral("amqp://guest:guest@") + broker_.listeners().value(QStringLiteral("amqp.listen")),
                            QStringLiteral("gui-orders")});
        QVERIFY(client.waitForStarted(10000));
        QString output;
        const auto waitForLine = [&](const QString &text) {
            QElapsedTimer timer;
            timer.start();
            while (!output.contains(text) && timer.elapsed() < 20000) {
                client.waitForReadyRead(100);
                output += QString::fromUtf8(client.readAll());
            }
            return output.contains(text);
        };
        QVERIFY2(waitForLine(QStringLiteral("dead-lettered")), qPrintable(output));

        MainWindow window(profile_);
        window.show();
        auto *page = window.findChild<DeadLettersPage *>(QStringLiteral("deadLettersPage"));
        QVERIFY(page);
        const auto mode = QAbstractItemModelTester::FailureReportingMode::QtTest;
        QAbstractItemModelTester queuesTester(page->queues(), mode);
        QAbstractItemModelTester messagesTester(page->messages(), mode);
        QAbstractItemModelTester resultsTester(page->results(), mode);
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(page->queues(), 1, QStringLiteral("gui-orders.dlq")) >= 0, 10000);
        const int row = rowOf(page->queues(), 1, QStringLiteral("gui-orders.dlq"));
        QCOMPARE(page->queues()->index(row, 3).data(Qt::UserRole).toLongLong(), 1LL);
        QCOMPARE(page->queues()->index(row, 4).data().toString(), QStringLiteral("gui-orders"));
        page->open(row);
        QTRY_COMPARE_WITH_TIMEOUT(page->messages()->rowCount(), 1, 10000);
        QCOMPARE(page->messages()->record(0).deathReason, QStringLiteral("rejected"));

        // Export as CSV.
        QTemporaryDir dir;
        const QString csvPath = dir.filePath(QStringLiteral("dlq.csv"));
        QSignalSpy exported(page, &DeadLettersPage::exported);
        page->exportCsvTo(csvPath);
        QTRY_COMPARE_WITH_TIMEOUT(exported.count(), 1, 10000);
        QVERIFY(exported.first().at(1).toBool());
        QFile csv(csvPath);
        QVERIFY(csv.open(QIODevice::ReadOnly));
        const QString csvText = QString::fromUtf8(csv.readAll());
        QVERIFY2(csvText.startsWith(QStringLiteral("offset,id,store_time")), qPrintable(csvText));
        QVERIFY2(csvText.contains(QStringLiteral("gui-orders,rejected")), qPrintable(csvText));

        // Select it and resend: the progress bar fills, the result says where it went, the client gets it again.
        page->messageTable()->selectRow(0);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("resend")), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(page->results()->rowCount(), 1, 10000);
        QCOMPARE(page->results()->index(0, 1).data().toString(), QStringLiteral("resent"));
        QCOMPARE(page->results()->index(0, 2).data().toString(), QStringLiteral("queue 'gui-orders'"));
        QCOMPARE(page->progress()->value(), 1);
        QCOMPARE(page->progress()->maximum(), 1);
        QVERIFY2(waitForLine(QStringLiteral("received {\"order\":7,\"items\":[\"a\",\"b\"]} x-death=gui-orders")),
                 qPrintable(output));

        // Resend it elsewhere: to the queue gui-elsewhere through the default exchange, chosen in the dialog (which
        // refuses the default exchange without a routing key first).
        AdminClient setup;
        setup.setProfile(profile_);
        QSignalSpy declared(&setup, &AdminClient::changeFinished);
        setup.declareQueue(QStringLiteral("/"), QStringLiteral("gui-elsewhere"), true);
        QTRY_COMPARE_WITH_TIMEOUT(declared.count(), 1, 10000);
        QVERIFY(declared.first().at(1).toBool());
        bool refused = false;
        QTimer::singleShot(0, this, [&] {
            auto *dialog = qobject_cast<ResendDialog *>(QApplication::activeModalWidget());
            QVERIFY(dialog);
            auto *ok = dialog->findChild<QDialogButtonBox *>()->button(QDialogButtonBox::Ok);
            QVERIFY(ok->isEnabled()); // the origin, by default
            dialog->findChild<QRadioButton *>(QStringLiteral("toExchange"))->setChecked(true);
            refused = !ok->isEnabled() &&
                      dialog->findChild<QLabel *>(QStringLiteral("error"))->text().contains(QStringLiteral("routing key"));
            QTest::keyClicks(dialog->findChild<QLineEdit *>(QStringLiteral("routingKey")), QStringLiteral("gui-elsewhere"));
            QTest::mouseClick(ok, Qt::LeftButton);
        });
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("resendTo")), Qt::LeftButton);
        QVERIFY2(refused, "the dialog refused the default exchange without a routing key");
        QTRY_VERIFY_WITH_TIMEOUT(page->results()->rowCount() == 1 &&
                                     page->results()->index(0, 2).data().toString().contains(QStringLiteral("gui-elsewhere")),
                                 10000);
        QCOMPARE(page->results()->index(0, 1).data().toString(), QStringLiteral("resent"));
        QSignalSpy browsed(&setup, &AdminClient::pageReceived);
        setup.browse(MessageSource{MessageSource::Kind::Queue, QStringLiteral("/"), QStringLiteral("gui-elsewhere")}, -1, 10);
        QTRY_COMPARE_WITH_TIMEOUT(browsed.count(), 1, 10000);
        const auto elsewhere = browsed.first().first().value<MessagePage>().messages;
        QCOMPARE(elsewhere.size(), 1);
        QCOMPARE(elsewhere.first().payload, QByteArray(R"({"order":7,"items":["a","b"]})"));
        client.closeWriteChannel();
        QVERIFY(client.waitForFinished(10000));
    }

    void replicationShowsMasterAndSlave()
    {
        QTemporaryDir slaveDir;
        ferry::test::RunningBroker slave{QStringLiteral(FERRY_BROKER_EXE)};
        const QStringList args = ferry::test::RunningBroker::loopbackArguments(
            slaveDir.path(),
            {QStringLiteral("--set"), QStringLiteral("replication.role=SLAVE"), QStringLiteral("--set"),
             QStringLiteral("broker.id=1"), QStringLiteral("--set"),
             QStringLiteral("replication.master=") + broker_.listeners().value(QStringLiteral("replication.listen"))},
            {QStringLiteral("amqp.listen")});
        QVERIFY2(slave.start(args), qPrintable(slave.describe()));

        MainWindow window(profile_);
        window.setRefreshIntervalMs(300);
        window.show();
        auto *page = window.findChild<ReplicationPage *>(QStringLiteral("replicationPage"));
        QVERIFY(page);
        QAbstractItemModelTester membersTester(page->members(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(page->members(), 2, QStringLiteral("SLAVE")) >= 0 &&
                                     page->members()->index(rowOf(page->members(), 2, QStringLiteral("SLAVE")), 3)
                                             .data()
                                             .toString() == QStringLiteral("streaming"),
                                 15000);
        const int master = rowOf(page->members(), 2, QStringLiteral("ASYNC_MASTER"));
        QVERIFY(master >= 0);
        QCOMPARE(page->members()->index(master, 0).data(Qt::UserRole).toLongLong(), 0LL);
        const int slaveRow = rowOf(page->members(), 2, QStringLiteral("SLAVE"));
        QCOMPARE(page->members()->index(slaveRow, 0).data(Qt::UserRole).toLongLong(), 1LL);
        QVERIFY2(page->summary()->text().contains(QStringLiteral("ASYNC_MASTER")), qPrintable(page->summary()->text()));
        QVERIFY(!page->promoteButton()->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(page->lagSeries(1) && page->lagSeries(1)->count() >= 2, 10000); // the lag chart

        // The slave's own view: it is a SLAVE, its master is connected, and it may be promoted.
        MainWindow slaveWindow({QStringLiteral("slave"),
                                QUrl(QStringLiteral("http://") + slave.listeners().value(QStringLiteral("admin.listen"))),
                                QStringLiteral("guest"), QStringLiteral("guest")});
        slaveWindow.show();
        auto *slavePage = slaveWindow.findChild<ReplicationPage *>(QStringLiteral("replicationPage"));
        QTRY_VERIFY_WITH_TIMEOUT(slavePage->summary()->text().contains(QStringLiteral("SLAVE")), 10000);
        QVERIFY(slavePage->promoteButton()->isEnabled());
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(slavePage->members(), 2, QStringLiteral("master")) >= 0, 10000);
        QVERIFY(slave.terminate());
    }

    void closeConnectionFromTheScreen()
    {
        const QString amqp = broker_.listeners().value(QStringLiteral("amqp.listen"));
        QTcpSocket socket;
        socket.connectToHost(QHostAddress(amqp.section(':', 0, 0)), amqp.section(':', 1).toUShort());
        QVERIFY(socket.waitForConnected(5000));
        const QString name = QStringLiteral("127.0.0.1:%1 -> %2").arg(socket.localPort()).arg(amqp);

        MainWindow window(profile_);
        window.show();
        auto *page = window.findChild<QWidget *>(QStringLiteral("connectionsPage"));
        auto *table = page->findChild<QTableView *>(QStringLiteral("table"));
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                window.refresh();
                QTest::qWait(50);
                return rowOf(table->model(), 0, name) >= 0;
            }(),
            10000);
        table->selectRow(rowOf(table->model(), 0, name));
        // Confirm the question the Close button asks.
        QTimer::singleShot(0, this, [] {
            if (auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget()))
                box->button(QMessageBox::Yes)->click();
        });
        QSignalSpy disconnected(&socket, &QTcpSocket::disconnected);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("closeConnection")), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(disconnected.count(), 1, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(table->model(), 0, name) < 0, 10000); // the list refreshes after the change
    }

    void consumerGroupOffsetsReset()
    {
        AdminClient setup;
        setup.setProfile(profile_);
        QSignalSpy done(&setup, &AdminClient::changeFinished);
        setup.saveTopic({QStringLiteral("TGroupsGui"), 2, 2, 6});
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 10000);
        QVERIFY(done.first().at(1).toBool());
        // Three messages, as a producer would send them (the admin API's topic publish).
        QNetworkAccessManager network;
        for (int i = 0; i < 3; ++i) {
            QNetworkRequest request(QUrl(profile_.url.toString() + QStringLiteral("/api/v1/topics/TGroupsGui/publish")));
            request.setRawHeader("Authorization", "Basic " + QByteArray("guest:guest").toBase64());
            request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
            QNetworkReply *reply = network.post(request, QByteArray(R"({"body":"m","tags":"A"})"));
            QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 10000);
            QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
            reply->deleteLater();
        }

        MainWindow window(profile_);
        window.show();
        auto *page = window.findChild<GroupsPage *>(QStringLiteral("groupsPage"));
        QVERIFY(page);
        const auto mode = QAbstractItemModelTester::FailureReportingMode::QtTest;
        QAbstractItemModelTester groupsTester(page->groups(), mode);
        QAbstractItemModelTester offsetsTester(page->offsets(), mode);
        QAbstractItemModelTester membersTester(page->members(), mode);
        auto *topic = page->findChild<QComboBox *>(QStringLiteral("topic"));
        QTRY_VERIFY_WITH_TIMEOUT(topic->findText(QStringLiteral("TGroupsGui")) >= 0, 10000);
        topic->setCurrentIndex(topic->findText(QStringLiteral("TGroupsGui")));
        QTest::keyClicks(page->findChild<QLineEdit *>(QStringLiteral("group")), QStringLiteral("CG_GUI"));
        page->findChild<QSpinBox *>(QStringLiteral("offset"))->setValue(0);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("resetOffsets")), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(page->groups(), 0, QStringLiteral("CG_GUI")) >= 0, 10000);
        const int row = rowOf(page->groups(), 0, QStringLiteral("CG_GUI"));
        QCOMPARE(page->groups()->index(row, 5).data(Qt::UserRole).toLongLong(), 3LL); // lag: all three
        QTRY_COMPARE_WITH_TIMEOUT(page->offsets()->rowCount(), 2, 10000);
        for (int r = 0; r < 2; ++r)
            QCOMPARE(page->offsets()->index(r, 3).data(Qt::UserRole).toLongLong(), 0LL); // consumer offset
        // To the end (the offset is clamped to each queue's end): no lag left.
        page->findChild<QSpinBox *>(QStringLiteral("offset"))->setValue(1000000);
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("resetOffsets")), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(
            page->groups()->index(rowOf(page->groups(), 0, QStringLiteral("CG_GUI")), 5).data(Qt::UserRole).toLongLong(),
            0LL, 10000);
        // By time, from before the messages: all three again.
        page->findChild<QRadioButton *>(QStringLiteral("byTime"))->setChecked(true);
        page->findChild<QDateTimeEdit *>(QStringLiteral("time"))->setDateTime(QDateTime::currentDateTime().addSecs(-3600));
        QTest::mouseClick(page->findChild<QPushButton *>(QStringLiteral("resetOffsets")), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(
            page->groups()->index(rowOf(page->groups(), 0, QStringLiteral("CG_GUI")), 5).data(Qt::UserRole).toLongLong(),
            3LL, 10000);
    }

    void createTopicThroughTheDialog()
    {
        MainWindow window(profile_);
        window.show();
        auto *page = window.findChild<QWidget *>(QStringLiteral("topicsPage"));
        QVERIFY(page);
        auto *newTopic = page->findChild<QPushButton *>(QStringLiteral("newTopic"));
        QVERIFY(newTopic);

        bool sawRefusal = false;
        bool filled = false;
        QTimer::singleShot(0, this, [&] {
            auto *dialog = qobject_cast<TopicDialog *>(QApplication::activeModalWidget());
            QVERIFY(dialog);
            auto *name = dialog->findChild<QLineEdit *>(QStringLiteral("name"));
            auto *ok = dialog->findChild<QDialogButtonBox *>(QStringLiteral("buttons"))->button(QDialogButtonBox::Ok);
            auto *error = dialog->findChild<QLabel *>(QStringLiteral("error"));
            QTest::keyClicks(name, QStringLiteral("not valid"));
            QTest::mouseClick(ok, Qt::LeftButton);
            sawRefusal = dialog->isVisible() && error->isVisible() && error->text().contains(QStringLiteral("topic name"));
            name->clear();
            QTest::keyClicks(name, QStringLiteral("TClicked"));
            auto *read = dialog->findChild<QSpinBox *>(QStringLiteral("readQueues"));
            auto *write = dialog->findChild<QSpinBox *>(QStringLiteral("writeQueues"));
            read->setValue(3);
            write->setValue(3);
            filled = true;
            QTest::mouseClick(ok, Qt::LeftButton);
        });
        QTest::mouseClick(newTopic, Qt::LeftButton); // exec() returns when the dialog is accepted
        QVERIFY(filled);
        QVERIFY2(sawRefusal, "the dialog refused an invalid name before sending");

        auto *table = page->findChild<QTableView *>(QStringLiteral("table"));
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(table->model(), 0, QStringLiteral("TClicked")) >= 0, 10000);
        const int row = rowOf(table->model(), 0, QStringLiteral("TClicked"));
        QCOMPARE(table->model()->index(row, 1).data().toString(), QStringLiteral("3"));

        // The filter narrows the list to it.
        auto *filter = page->findChild<QLineEdit *>(QStringLiteral("filter"));
        QTest::keyClicks(filter, QStringLiteral("clicked"));
        QCOMPARE(table->model()->rowCount(), 1);
    }

    void exchangeQueueAndBindingThroughDialogs()
    {
        MainWindow window(profile_);
        window.show();
        auto *tabs = window.findChild<QTabWidget *>(QStringLiteral("tabs"));
        auto *queuesPage = window.findChild<QWidget *>(QStringLiteral("queuesPage"));
        auto *page = window.findChild<ExchangesPage *>(QStringLiteral("exchangesPage"));
        QVERIFY(tabs && queuesPage && page);
        QVERIFY(page->findChild<QSplitter *>(QStringLiteral("exchangesSplitter")));
        const auto mode = QAbstractItemModelTester::FailureReportingMode::QtTest;
        QAbstractItemModelTester exchangesTester(page->exchanges(), mode);
        QAbstractItemModelTester bindingsTester(page->bindings(), mode);
        auto *queueTable = queuesPage->findChild<QTableView *>(QStringLiteral("table"));
        auto *exchangeTable = page->exchangeList()->view();
        auto *bindingTable = page->bindingList()->view();
        const QString queue = QStringLiteral("gui-clicked-q"), exchange = QStringLiteral("gui-clicked-x");

        // A queue: a name of the broker's own is refused, then a good one is declared and listed.
        tabs->setCurrentWidget(queuesPage);
        QString refusal;
        QVERIFY(clickThroughDialog<QueueDialog>(
            queuesPage->findChild<QPushButton *>(QStringLiteral("newQueue")), [&](QueueDialog *dialog) {
                auto *name = dialog->findChild<QLineEdit *>(QStringLiteral("name"));
                QCOMPARE(dialog->findChild<QLineEdit *>(QStringLiteral("vhost"))->text(), QStringLiteral("/"));
                QTest::keyClicks(name, QStringLiteral("amq.mine"));
                refusal = refusalOf(dialog);
                name->clear();
                QTest::keyClicks(name, queue);
                QVERIFY(dialog->findChild<QCheckBox *>(QStringLiteral("durable"))->isChecked());
                QCOMPARE(refusalOf(dialog), QString());
            }));
        QVERIFY2(refusal.contains(QStringLiteral("amq.")), qPrintable(refusal));
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(queueTable->model(), 1, queue) >= 0, 10000);

        // A headers exchange: an empty name and an amq.* one are refused first.
        tabs->setCurrentWidget(page);
        QStringList refusals;
        QVERIFY(clickThroughDialog<ExchangeDialog>(
            page->findChild<QPushButton *>(QStringLiteral("newExchange")), [&](ExchangeDialog *dialog) {
                auto *name = dialog->findChild<QLineEdit *>(QStringLiteral("name"));
                auto *type = dialog->findChild<QComboBox *>(QStringLiteral("type"));
                refusals << refusalOf(dialog);
                QTest::keyClicks(name, QStringLiteral("amq.clicked"));
                refusals << refusalOf(dialog);
                name->clear();
                QTest::keyClicks(name, exchange);
                type->setCurrentIndex(type->findText(QStringLiteral("headers")));
                QVERIFY(!dialog->findChild<QCheckBox *>(QStringLiteral("autoDelete"))->isChecked());
                QCOMPARE(refusalOf(dialog), QString());
            }));
        QCOMPARE(refusals.size(), 2);
        QVERIFY2(refusals[0].contains(QStringLiteral("required")), qPrintable(refusals[0]));
        QVERIFY2(refusals[1].contains(QStringLiteral("amq.")), qPrintable(refusals[1]));
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(exchangeTable->model(), 1, exchange) >= 0, 10000);
        QCOMPARE(exchangeTable->model()->index(rowOf(exchangeTable->model(), 1, exchange), 2).data().toString(),
                 QStringLiteral("headers"));
        // The broker's own exchanges cannot be deleted: their button is off.
        auto *deleteExchange = page->findChild<QPushButton *>(QStringLiteral("deleteExchange"));
        exchangeTable->selectRow(rowOf(exchangeTable->model(), 1, QStringLiteral("amq.direct")));
        QVERIFY(!deleteExchange->isEnabled());

        // A binding from the selected exchange (the dialog starts with it) to the queue, matching a header: no
        // destination and a line that is not key=value are refused first.
        exchangeTable->selectRow(rowOf(exchangeTable->model(), 1, exchange));
        QVERIFY(deleteExchange->isEnabled());
        refusals.clear();
        QVERIFY(clickThroughDialog<BindingDialog>(
            page->findChild<QPushButton *>(QStringLiteral("newBinding")), [&](BindingDialog *dialog) {
                auto *source = dialog->findChild<QComboBox *>(QStringLiteral("source"));
                auto *destinationType = dialog->findChild<QComboBox *>(QStringLiteral("destinationType"));
                auto *destination = dialog->findChild<QComboBox *>(QStringLiteral("destination"));
                auto *arguments = dialog->findChild<QPlainTextEdit *>(QStringLiteral("arguments"));
                QVERIFY(dialog->findChild<QLineEdit *>(QStringLiteral("routingKey")));
                QCOMPARE(source->currentText(), exchange);
                QCOMPARE(destinationType->currentText(), QStringLiteral("queue"));
                QVERIFY(arguments->isEnabled()); // a headers source
                refusals << refusalOf(dialog);
                QVERIFY(destination->findText(queue) >= 0); // offered from the queues list
                QTest::keyClicks(destination->lineEdit(), queue);
                arguments->setPlainText(QStringLiteral("region"));
                refusals << refusalOf(dialog);
                arguments->setPlainText(QStringLiteral("x-match=any\nregion = eu\n"));
                QCOMPARE(refusalOf(dialog), QString());
            }));
        QCOMPARE(refusals.size(), 2);
        QVERIFY2(refusals[0].contains(QStringLiteral("destination")), qPrintable(refusals[0]));
        QVERIFY2(refusals[1].contains(QStringLiteral("key=value")), qPrintable(refusals[1]));
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(bindingTable->model(), 1, exchange) >= 0, 10000);
        int row = rowOf(bindingTable->model(), 1, exchange);
        QCOMPARE(bindingTable->model()->index(row, 2).data().toString(), queue);
        QCOMPARE(bindingTable->model()->index(row, 3).data().toString(), QStringLiteral("queue"));
        QCOMPARE(bindingTable->model()->index(row, 5).data().toString(), QStringLiteral("region=eu, x-match=any"));

        // Delete the binding, the exchange and the queue, each confirmed.
        bindingTable->selectRow(row);
        QString question = clickAndConfirm(page->findChild<QPushButton *>(QStringLiteral("deleteBinding")));
        QVERIFY2(question.contains(exchange) && question.contains(queue), qPrintable(question));
        QTRY_COMPARE_WITH_TIMEOUT(rowOf(bindingTable->model(), 1, exchange), -1, 10000);

        exchangeTable->selectRow(rowOf(exchangeTable->model(), 1, exchange));
        question = clickAndConfirm(deleteExchange);
        QVERIFY2(question.contains(exchange), qPrintable(question));
        QTRY_COMPARE_WITH_TIMEOUT(rowOf(exchangeTable->model(), 1, exchange), -1, 10000);

        tabs->setCurrentWidget(queuesPage);
        queueTable->selectRow(rowOf(queueTable->model(), 1, queue));
        question = clickAndConfirm(queuesPage->findChild<QPushButton *>(QStringLiteral("deleteQueue")));
        QVERIFY2(question.contains(queue), qPrintable(question));
        QTRY_COMPARE_WITH_TIMEOUT(rowOf(queueTable->model(), 1, queue), -1, 10000);
    }
};

QTEST_MAIN(TestConsoleWindow)
#include "tst_console_window.moc"
