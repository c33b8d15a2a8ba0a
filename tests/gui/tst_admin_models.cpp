// tst_admin_models: ferry-console's lower layers (gui/adminclient, gui/models) against a real ferry-broker started
// on loopback ephemeral ports: AdminClient's typed signals and reachability, and the table models fed by it, each
// under QAbstractItemModelTester (which fails the test on any model-contract violation).
#include "AdminClient.h"
#include "AdminTableModels.h"
#include "RunningBroker.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

using namespace ferry::console;

namespace {

// Runs until `spy` has at least n signals (QSignalSpy::wait would miss signals emitted before it is called).
bool waitFor(QSignalSpy &spy, int n = 1, int timeoutMs = 10000)
{
    QElapsedTimer timer;
    timer.start();
    while (spy.count() < n && timer.elapsed() < timeoutMs)
        spy.wait(100);
    return spy.count() >= n;
}

int rowOf(const QAbstractItemModel &model, int column, const QString &text)
{
    for (int row = 0; row < model.rowCount(); ++row)
        if (model.index(row, column).data().toString() == text)
            return row;
    return -1;
}

} // namespace

class TestAdminModels : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dataDir_;
    ferry::test::RunningBroker broker_{QStringLiteral(FERRY_BROKER_EXE)};
    Profile profile_;

    // A client of the test broker, logged in as guest.
    std::unique_ptr<AdminClient> client()
    {
        auto c = std::make_unique<AdminClient>();
        c->setProfile(profile_);
        return c;
    }

    // Does `change` and waits for its changeFinished; returns (ok, message).
    std::pair<bool, QString> apply(AdminClient &c, const std::function<void()> &change)
    {
        QSignalSpy finished(&c, &AdminClient::changeFinished);
        change();
        if (!waitFor(finished))
            return {false, QStringLiteral("no changeFinished")};
        return {finished.first().at(1).toBool(), finished.first().at(2).toString()};
    }

private slots:
    void initTestCase()
    {
        QVERIFY(dataDir_.isValid());
        const QStringList args = ferry::test::RunningBroker::loopbackArguments(dataDir_.path());
        QVERIFY2(broker_.start(args), qPrintable(broker_.describe()));
        const QString admin = broker_.listeners().value(QStringLiteral("admin.listen"));
        QVERIFY2(!admin.isEmpty(), qPrintable(broker_.describe()));
        profile_ = Profile{QStringLiteral("test"), QUrl(QStringLiteral("http://") + admin), QStringLiteral("guest"),
                           QStringLiteral("guest")};
    }

    void cleanupTestCase() { QVERIFY2(broker_.terminate(), qPrintable(broker_.describe())); }

    void overviewArrivesTyped()
    {
        auto c = client();
        QSignalSpy overview(c.get(), &AdminClient::overviewReceived);
        QSignalSpy reach(c.get(), &AdminClient::reachabilityChanged);
        c->fetchOverview();
        QVERIFY(waitFor(overview));
        const auto info = overview.first().at(0).value<OverviewInfo>();
        QCOMPARE(info.role, QStringLiteral("ASYNC_MASTER"));
        QVERIFY(!info.productVersion.isEmpty());
        QStringList plugins;
        for (const PluginInfo &p : info.plugins)
            plugins << p.name;
        QVERIFY2(plugins.contains(QStringLiteral("amqp")) && plugins.contains(QStringLiteral("rocket")),
                 qPrintable(plugins.join(',')));
        QCOMPARE(info.storagePlugin, QStringLiteral("file"));
        QVERIFY(info.storageBytes > 0);
        QCOMPARE(c->reachability(), AdminClient::Reachability::Ok);
    }

    void unreachableAndUnauthorized()
    {
        // A port nobody listens on: a server bound and closed again.
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        const quint16 closedPort = probe.serverPort();
        probe.close();
        AdminClient c;
        c.setProfile({QStringLiteral("gone"), QUrl(QStringLiteral("http://127.0.0.1:%1").arg(closedPort)),
                      QStringLiteral("guest"), QStringLiteral("guest")});
        QSignalSpy reach(&c, &AdminClient::reachabilityChanged);
        QSignalSpy overview(&c, &AdminClient::overviewReceived);
        c.fetchOverview();
        QTRY_COMPARE_WITH_TIMEOUT(c.reachability(), AdminClient::Reachability::Unreachable, 10000);
        QVERIFY(reach.last().at(1).toString().contains(QStringLiteral("unreachable")));
        QCOMPARE(overview.count(), 0);

        Profile wrong = profile_;
        wrong.password = QStringLiteral("wrong");
        c.setProfile(wrong);
        c.fetchOverview();
        QTRY_COMPARE_WITH_TIMEOUT(c.reachability(), AdminClient::Reachability::Unauthorized, 10000);
        QVERIFY(reach.last().at(1).toString().contains(QStringLiteral("refused the credentials of user 'guest'")));
        QCOMPARE(overview.count(), 0);

        c.setProfile(profile_); // and back: Ok again
        c.fetchOverview();
        QTRY_COMPARE_WITH_TIMEOUT(c.reachability(), AdminClient::Reachability::Ok, 10000);
        QVERIFY(waitFor(overview));
    }

    void topicModelFollowsChanges()
    {
        auto c = client();
        TopicTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        connect(c.get(), &AdminClient::topicsReceived, &model, [&model](const QList<TopicInfo> &t) { model.setRecords(t); });
        QSignalSpy topics(c.get(), &AdminClient::topicsReceived);

        auto [ok, message] = apply(*c, [&] { c->saveTopic({QStringLiteral("TGui"), 4, 4, 6}); });
        QVERIFY2(ok, qPrintable(message));
        QVERIFY(waitFor(topics));
        int row = rowOf(model, 0, QStringLiteral("TGui"));
        QVERIFY(row >= 0);
        QCOMPARE(model.index(row, 1).data(Qt::UserRole).toInt(), 4);
        QCOMPARE(model.index(row, 1).data(Qt::TextAlignmentRole).toInt(), int(Qt::AlignRight | Qt::AlignVCenter));
        const int rows = model.rowCount();

        // Update in place: the same row changes, none is added.
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        std::tie(ok, message) = apply(*c, [&] { c->saveTopic({QStringLiteral("TGui"), 2, 2, 4}); });
        QVERIFY2(ok, qPrintable(message));
        QVERIFY(waitFor(topics, 2));
        QCOMPARE(model.rowCount(), rows);
        row = rowOf(model, 0, QStringLiteral("TGui"));
        QCOMPARE(model.index(row, 2).data(Qt::UserRole).toInt(), 2);
        QCOMPARE(model.index(row, 3).data().toString(), QStringLiteral("4"));
        QCOMPARE(model.index(row, 6).data().toString(), QStringLiteral("0 0")); // depth of each of its 2 queues
        QCOMPARE(model.headerData(5, Qt::Horizontal).toString(), QStringLiteral("Publish/s"));
        QVERIFY(changed.count() >= 1);

        // Invalid input is refused before anything is sent.
        std::tie(ok, message) = apply(*c, [&] { c->saveTopic({QStringLiteral("bad name"), 4, 4, 6}); });
        QVERIFY(!ok);
        QVERIFY(message.contains(QStringLiteral("topic name")));
        std::tie(ok, message) = apply(*c, [&] { c->saveTopic({QStringLiteral("TGui2"), 0, 4, 6}); });
        QVERIFY(!ok);
        QVERIFY(message.contains(QStringLiteral("1 to 1024")));

        std::tie(ok, message) = apply(*c, [&] { c->deleteTopic(QStringLiteral("TGui")); });
        QVERIFY2(ok, qPrintable(message));
        QVERIFY(waitFor(topics, 3));
        QCOMPARE(rowOf(model, 0, QStringLiteral("TGui")), -1);
        std::tie(ok, message) = apply(*c, [&] { c->deleteTopic(QStringLiteral("TGui")); });
        QVERIFY(!ok);
        QVERIFY2(message.startsWith(QStringLiteral("404")), qPrintable(message));
    }

    void queueModelShowsDepthAndPurge()
    {
        auto c = client();
        QueueTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        connect(c.get(), &AdminClient::queuesReceived, &model, [&model](const QList<QueueInfo> &q) { model.setRecords(q); });
        QSignalSpy queues(c.get(), &AdminClient::queuesReceived);
        auto [ok, message] = apply(*c, [&] { c->declareQueue(QStringLiteral("/"), QStringLiteral("gui q/1"), true); });
        QVERIFY2(ok, qPrintable(message));
        for (int i = 0; i < 2; ++i) {
            std::tie(ok, message) = apply(*c, [&] {
                c->publish(QStringLiteral("/"), QString(), QStringLiteral("gui q/1"), QByteArray("\x00\xff", 2));
            });
            QVERIFY2(ok, qPrintable(message));
        }
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                c->fetchQueues();
                const int row = rowOf(model, 1, QStringLiteral("gui q/1"));
                return row >= 0 && model.index(row, 2).data(Qt::UserRole).toLongLong() == 2;
            }(),
            10000);
        const int row = rowOf(model, 1, QStringLiteral("gui q/1"));
        QCOMPARE(model.index(row, 0).data().toString(), QStringLiteral("/"));
        QCOMPARE(model.index(row, 3).data(Qt::UserRole).toLongLong(), 2LL); // ready
        QCOMPARE(model.index(row, 7).data().toString(), QStringLiteral("yes"));

        std::tie(ok, message) = apply(*c, [&] { c->purgeQueue(QStringLiteral("/"), QStringLiteral("gui q/1")); });
        QVERIFY2(ok, qPrintable(message));
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                const int r = rowOf(model, 1, QStringLiteral("gui q/1"));
                return r >= 0 && model.index(r, 2).data(Qt::UserRole).toLongLong() == 0;
            }(),
            10000);
        std::tie(ok, message) = apply(*c, [&] { c->deleteQueue(QStringLiteral("/"), QStringLiteral("gui q/1")); });
        QVERIFY2(ok, qPrintable(message));
        QTRY_COMPARE_WITH_TIMEOUT(rowOf(model, 1, QStringLiteral("gui q/1")), -1, 10000);
    }

    void exchangeModelFollowsChanges()
    {
        auto c = client();
        ExchangeTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        connect(c.get(), &AdminClient::exchangesReceived, &model,
                [&model](const QList<ExchangeInfo> &e) { model.setRecords(e); });
        QSignalSpy exchanges(c.get(), &AdminClient::exchangesReceived);
        c->fetchExchanges();
        QVERIFY(waitFor(exchanges));
        // The broker's own: the default exchange (shown as such) and amq.*, which cannot be deleted.
        const int direct = rowOf(model, 1, QStringLiteral("amq.direct"));
        QVERIFY(direct >= 0);
        QVERIFY(model.record(direct).predeclared());
        const int defaultRow = rowOf(model, 1, QStringLiteral("(default)"));
        QVERIFY(defaultRow >= 0);
        QVERIFY(model.record(defaultRow).name.isEmpty());

        auto [ok, message] = apply(*c, [&] {
            c->declareExchange(QStringLiteral("/"), QStringLiteral("gui x/1"), QStringLiteral("topic"), false, true);
        });
        QVERIFY2(ok, qPrintable(message));
        QVERIFY(waitFor(exchanges, 2)); // the change refetches the list
        const int row = rowOf(model, 1, QStringLiteral("gui x/1"));
        QVERIFY(row >= 0);
        QCOMPARE(model.index(row, 0).data().toString(), QStringLiteral("/"));
        QCOMPARE(model.index(row, 2).data().toString(), QStringLiteral("topic"));
        QCOMPARE(model.index(row, 3).data().toString(), QStringLiteral("no"));  // durable
        QCOMPARE(model.index(row, 4).data().toString(), QStringLiteral("yes")); // auto-delete
        QVERIFY(!model.record(row).predeclared());

        // The broker's rules: amq.* is its own, and an exchange is not redeclared with another type.
        std::tie(ok, message) = apply(*c, [&] {
            c->declareExchange(QStringLiteral("/"), QStringLiteral("amq.mine"), QStringLiteral("direct"), true, false);
        });
        QVERIFY(!ok);
        QVERIFY2(message.startsWith(QStringLiteral("400")), qPrintable(message));
        std::tie(ok, message) = apply(*c, [&] {
            c->declareExchange(QStringLiteral("/"), QStringLiteral("gui x/1"), QStringLiteral("fanout"), false, true);
        });
        QVERIFY(!ok);
        QVERIFY2(message.startsWith(QStringLiteral("400")), qPrintable(message));

        std::tie(ok, message) = apply(*c, [&] { c->deleteExchange(QStringLiteral("/"), QStringLiteral("gui x/1")); });
        QVERIFY2(ok, qPrintable(message));
        QTRY_COMPARE_WITH_TIMEOUT(rowOf(model, 1, QStringLiteral("gui x/1")), -1, 10000);
        std::tie(ok, message) = apply(*c, [&] { c->deleteExchange(QStringLiteral("/"), QStringLiteral("amq.direct")); });
        QVERIFY(!ok);
        QVERIFY2(message.startsWith(QStringLiteral("403")), qPrintable(message));
    }

    void bindingModelFollowsChanges()
    {
        auto c = client();
        BindingTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        connect(c.get(), &AdminClient::bindingsReceived, &model,
                [&model](const QList<BindingInfo> &b) { model.setRecords(b); });
        const QString vhost = QStringLiteral("/");
        for (const auto &[name, type] : {std::pair{QStringLiteral("gui-dx"), QStringLiteral("direct")},
                                         std::pair{QStringLiteral("gui-hx"), QStringLiteral("headers")}}) {
            auto [ok, message] = apply(*c, [&] { c->declareExchange(vhost, name, type, true, false); });
            QVERIFY2(ok, qPrintable(message));
        }
        auto [ok, message] = apply(*c, [&] { c->declareQueue(vhost, QStringLiteral("gui-bq"), true); });
        QVERIFY2(ok, qPrintable(message));

        // A routing key (with a character the path encodes), header arguments, and exchange to exchange.
        std::tie(ok, message) = apply(*c, [&] {
            c->bind(vhost, QStringLiteral("gui-dx"), QStringLiteral("gui-bq"), QStringLiteral("queue"),
                    QStringLiteral("orders.*"));
        });
        QVERIFY2(ok, qPrintable(message));
        std::tie(ok, message) = apply(*c, [&] {
            c->bind(vhost, QStringLiteral("gui-hx"), QStringLiteral("gui-bq"), QStringLiteral("queue"), QString(),
                    {{QStringLiteral("x-match"), QStringLiteral("any")}, {QStringLiteral("region"), QStringLiteral("eu")}});
        });
        QVERIFY2(ok, qPrintable(message));
        std::tie(ok, message) = apply(*c, [&] {
            c->bind(vhost, QStringLiteral("gui-dx"), QStringLiteral("gui-hx"), QStringLiteral("exchange"),
                    QStringLiteral("fwd"));
        });
        QVERIFY2(ok, qPrintable(message));
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(model, 4, QStringLiteral("orders.*")) >= 0 &&
                                     rowOf(model, 4, QStringLiteral("fwd")) >= 0 &&
                                     rowOf(model, 5, QStringLiteral("region=eu, x-match=any")) >= 0,
                                 10000);
        const BindingInfo keyed = model.record(rowOf(model, 4, QStringLiteral("orders.*")));
        QCOMPARE(keyed.source, QStringLiteral("gui-dx"));
        QCOMPARE(keyed.destination, QStringLiteral("gui-bq"));
        QCOMPARE(keyed.destinationType, QStringLiteral("queue"));
        QCOMPARE(keyed.propertiesKey, QStringLiteral("orders.*"));
        const BindingInfo headers = model.record(rowOf(model, 5, QStringLiteral("region=eu, x-match=any")));
        QCOMPARE(headers.source, QStringLiteral("gui-hx"));
        QVERIFY2(headers.propertiesKey.startsWith(QLatin1Char('~')) && headers.propertiesKey.size() == 9,
                 qPrintable(headers.propertiesKey));
        QCOMPARE(headers.arguments.value(QStringLiteral("region")).toString(), QStringLiteral("eu"));
        const int forward = rowOf(model, 4, QStringLiteral("fwd"));
        QCOMPARE(model.index(forward, 2).data().toString(), QStringLiteral("gui-hx"));
        QCOMPARE(model.index(forward, 3).data().toString(), QStringLiteral("exchange"));

        // Unbinding by properties key removes exactly that row.
        for (const BindingInfo &b : {keyed, headers}) {
            const int rows = model.rowCount();
            std::tie(ok, message) = apply(*c, [&] { c->unbind(b); });
            QVERIFY2(ok, qPrintable(message));
            QTRY_COMPARE_WITH_TIMEOUT(model.rowCount(), rows - 1, 10000);
        }
        QCOMPARE(rowOf(model, 4, QStringLiteral("orders.*")), -1);
        std::tie(ok, message) = apply(*c, [&] { c->unbind(keyed); });
        QVERIFY(!ok);
        QVERIFY2(message.startsWith(QStringLiteral("404")), qPrintable(message));
        // Deleting an exchange takes its bindings along; the list follows.
        std::tie(ok, message) = apply(*c, [&] { c->deleteExchange(vhost, QStringLiteral("gui-hx")); });
        QVERIFY2(ok, qPrintable(message));
        QTRY_COMPARE_WITH_TIMEOUT(rowOf(model, 4, QStringLiteral("fwd")), -1, 10000);
        std::tie(ok, message) = apply(*c, [&] { c->deleteExchange(vhost, QStringLiteral("gui-dx")); });
        QVERIFY2(ok, qPrintable(message));
        std::tie(ok, message) = apply(*c, [&] { c->deleteQueue(vhost, QStringLiteral("gui-bq")); });
        QVERIFY2(ok, qPrintable(message));
    }

    void resourceSpecsValidate()
    {
        ExchangeSpec exchange{QStringLiteral("/"), QStringLiteral("x"), QStringLiteral("headers"), true, false};
        QVERIFY(exchange.validate().isEmpty());
        exchange.name = QStringLiteral("amq.x");
        QVERIFY(exchange.validate().contains(QStringLiteral("amq.")));
        exchange.name = QString();
        QVERIFY(!exchange.validate().isEmpty());
        exchange.name = QStringLiteral("x");
        exchange.type = QStringLiteral("x-unknown");
        QVERIFY(!exchange.validate().isEmpty());

        QueueSpec queue{QStringLiteral("/"), QStringLiteral("q"), true};
        QVERIFY(queue.validate().isEmpty());
        queue.name = QString(256, QLatin1Char('q'));
        QVERIFY(queue.validate().contains(QStringLiteral("255")));
        queue.name = QStringLiteral("q");
        queue.vhost = QString();
        QVERIFY(!queue.validate().isEmpty());

        BindingSpec binding;
        binding.source = QStringLiteral("x");
        binding.destination = QStringLiteral("q");
        QVERIFY(binding.validate().isEmpty());
        binding.source = QStringLiteral("amq.default");
        QVERIFY(!binding.validate().isEmpty());
        binding.source = QStringLiteral("x");
        binding.destinationType = QStringLiteral("topic");
        QVERIFY(!binding.validate().isEmpty());
        binding.destinationType = QStringLiteral("exchange");
        binding.destination = QString();
        QVERIFY(binding.validate().contains(QStringLiteral("exchange")));

        QVariantMap arguments;
        QVERIFY(BindingSpec::argumentsFromLines(QStringLiteral(" x-match = any \n\nregion=eu=west\n"), &arguments).isEmpty());
        QCOMPARE(arguments.size(), 2);
        QCOMPARE(arguments.value(QStringLiteral("x-match")).toString(), QStringLiteral("any"));
        QCOMPARE(arguments.value(QStringLiteral("region")).toString(), QStringLiteral("eu=west"));
        QVERIFY(BindingSpec::argumentsFromLines(QStringLiteral("region"), &arguments).contains(QStringLiteral("Line 1")));
        QVERIFY(BindingSpec::argumentsFromLines(QStringLiteral("a=1\n=2"), &arguments).contains(QStringLiteral("Line 2")));
        QVERIFY(BindingSpec::argumentsFromLines(QStringLiteral("$a=1"), &arguments).contains(QStringLiteral("$")));
        QVERIFY(BindingSpec::argumentsFromLines(QStringLiteral("x-match=some"), &arguments).contains(QStringLiteral("x-match")));
        QCOMPARE(arguments.size(), 2); // untouched by the refusals
        binding.destination = QStringLiteral("x2");
        binding.arguments = {{QStringLiteral("x-match"), QStringLiteral("some")}};
        QVERIFY(binding.validate().contains(QStringLiteral("x-match")));
    }

    void connectionModelListsAndCloses()
    {
        // A raw TCP client of the AMQP listener: the kernel lists it; closing it through the API drops the socket.
        const QString amqp = broker_.listeners().value(QStringLiteral("amqp.listen"));
        QTcpSocket socket;
        socket.connectToHost(QHostAddress(amqp.section(':', 0, 0)), amqp.section(':', 1).toUShort());
        QVERIFY(socket.waitForConnected(5000));
        const QString name = QStringLiteral("127.0.0.1:%1 -> %2").arg(socket.localPort()).arg(amqp);

        auto c = client();
        ConnectionTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        connect(c.get(), &AdminClient::connectionsReceived, &model,
                [&model](const QList<ConnectionInfo> &list) { model.setRecords(list); });
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                c->fetchConnections();
                return rowOf(model, 0, name) >= 0;
            }(),
            10000);
        const int row = rowOf(model, 0, name);
        QCOMPARE(model.index(row, 1).data().toString(), QStringLiteral("amqp"));
        QVERIFY(rowOf(model, 1, QStringLiteral("admin")) >= 0); // the client's own connection

        QSignalSpy disconnected(&socket, &QTcpSocket::disconnected);
        auto [ok, message] = apply(*c, [&] { c->closeConnection(name); });
        QVERIFY2(ok, qPrintable(message));
        QVERIFY(waitFor(disconnected));
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                c->fetchConnections();
                return rowOf(model, 0, name) < 0;
            }(),
            10000);
    }
};

QTEST_GUILESS_MAIN(TestAdminModels)
#include "tst_admin_models.moc"
