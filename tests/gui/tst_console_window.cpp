// tst_console_window: ferry-console's window (gui/app) with the offscreen platform against a real ferry-broker:
// the banner for an unreachable broker and for wrong credentials, and a topic created by clicking through the
// dialog (which refuses invalid input first) showing up in the topics list.
#include "MainWindow.h"
#include "OverviewPage.h"
#include "RunningBroker.h"
#include "TopicDialog.h"

#include <QApplication>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineSeries>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableView>
#include <QTcpServer>
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
        const QStringList args{QStringLiteral("--data-dir"), dataDir_.path(),
                               QStringLiteral("--set"), QStringLiteral("log.console=false"),
                               QStringLiteral("--set"), QStringLiteral("amqp.listen="),
                               QStringLiteral("--set"), QStringLiteral("rocket.namesrv_listen=127.0.0.1:0"),
                               QStringLiteral("--set"), QStringLiteral("rocket.broker_listen=127.0.0.1:0"),
                               QStringLiteral("--set"), QStringLiteral("replication.listen=127.0.0.1:0"),
                               QStringLiteral("--set"), QStringLiteral("admin.listen=127.0.0.1:0")};
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
};

QTEST_MAIN(TestConsoleWindow)
#include "tst_console_window.moc"
