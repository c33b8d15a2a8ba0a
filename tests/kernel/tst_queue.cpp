// Kernel queue model tests: lease consumption (prefetch, ack, nack/requeue, redelivered, competing consumers,
// exclusive), cursor consumption (pull, long poll, group offsets), durability across a restart on a real storage
// plugin (FERRY_TEST_STORAGE = file | sqlite), and the registry's declare/delete rules.
#include "KernelTestConnection.h"
#include "plugin/PluginHost.h"
#include "queue/QueueRegistry.h"
#include "sched/Scheduler.h"
#include "storage/StorageEngine.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QMetaObject>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <cstring>

using namespace ferry;


class TestQueue : public QObject {
    Q_OBJECT

    std::unique_ptr<PluginHost> host_;
    QTemporaryDir dir_;
    BrokerSettings settings_;
    std::unique_ptr<StorageEngine> storage_;
    std::unique_ptr<Scheduler> scheduler_;
    std::unique_ptr<QueueRegistry> registry_;
    std::vector<std::unique_ptr<TestConnection>> conns_;
    uint64_t nextSub_ = 1;

    const LoadedPlugin &storagePlugin() const
    {
        return *host_->find(qEnvironmentVariable("FERRY_TEST_STORAGE", "file").toStdString());
    }

    void openBroker()
    {
        storage_ = std::make_unique<StorageEngine>(storagePlugin(), settings_);
        std::string err;
        QVERIFY2(storage_->open(&err), err.c_str());
        scheduler_ = std::make_unique<Scheduler>();
        // The broker's start time: non-persistent messages stored before it are dropped when read back.
        QTest::qWait(2);
        const auto startMs = static_cast<uint64_t>(QDateTime::currentMSecsSinceEpoch());
        registry_ = std::make_unique<QueueRegistry>(*storage_, *scheduler_, startMs);
        QVERIFY2(registry_->restore(&err), err.c_str());
    }

    void closeBroker()
    {
        QCoreApplication::processEvents();
        registry_.reset();
        scheduler_.reset();
        storage_->close();
        storage_.reset();
    }

    TestConnection &connection()
    {
        conns_.push_back(std::make_unique<TestConnection>(conns_.size() + 1, storagePlugin()));
        return *conns_.back();
    }

    QueuePtr declare(const std::string &name, uint32_t flags)
    {
        std::atomic<bool> done{false};
        ferry_status status = FERRY_E_INTERNAL;
        QueuePtr queue;
        registry_->declare(name, flags, [&](ferry_status st, const QueuePtr &q, const std::string &) {
            status = st;
            queue = q;
            done = true;
        });
        if (!QTest::qWaitFor([&] { return done.load(); }, 5000))
            return nullptr;
        return status == FERRY_OK ? queue : nullptr;
    }

    void publishAll(const QueuePtr &q, int count, const std::string &prefix, bool persistent = true)
    {
        std::atomic<int> done{0};
        std::atomic<int> failed{0};
        for (int i = 0; i < count; ++i)
            q->publish(textMessage(prefix + std::to_string(i), persistent),
                       [&](ferry_status st, uint64_t, const std::string &) {
                           if (st != FERRY_OK)
                               ++failed;
                           ++done;
                       });
        QTRY_COMPARE_WITH_TIMEOUT(done.load(), count, 10000);
        QCOMPARE(failed.load(), 0);
    }

    SubscriptionPtr subscribe(const QueuePtr &q, TestConnection &c, uint32_t prefetch, bool autoAck = false)
    {
        auto sub = std::make_shared<Subscription>();
        sub->id = nextSub_++;
        sub->queue = q;
        sub->link = std::make_shared<ConnectionLink>(&c);
        sub->prefetch = prefetch;
        sub->autoAck = autoAck;
        if (q->subscribe(sub, false) != FERRY_OK)
            return nullptr;
        return sub;
    }

private Q_SLOTS:
    void initTestCase()
    {
        host_ = std::make_unique<PluginHost>([](std::string_view, std::string_view) { return std::nullopt; });
        host_->loadDirectories({FERRY_TEST_PLUGIN_DIR});
        QVERIFY2(host_->find(qEnvironmentVariable("FERRY_TEST_STORAGE", "file").toStdString()) != nullptr,
                 "storage plugin not built");
    }

    void init()
    {
        QVERIFY(dir_.isValid());
        settings_ = BrokerSettings{};
        settings_.dataDir = std::filesystem::path(dir_.path().toStdString()) / QTest::currentTestFunction();
        openBroker();
    }

    void cleanup()
    {
        closeBroker();
        conns_.clear();
    }

    void prefetchLimitsInFlightAndAckReleases()
    {
        QueuePtr q = declare("work", 0);
        QVERIFY(q);
        publishAll(q, 10, "m");
        TestConnection &c = connection();
        auto sub = subscribe(q, c, 3);
        QVERIFY(sub);
        QTRY_COMPARE(c.recorder.deliveries.size(), size_t(3));
        QTest::qWait(50);
        QCOMPARE(c.recorder.deliveries.size(), size_t(3)); // prefetch holds the rest
        QCOMPARE(q->counts().unacked, uint64_t(3));
        QCOMPARE(q->ack(sub, c.recorder.deliveries[2].offset, true), FERRY_OK); // multiple: 0..2
        QTRY_COMPARE(c.recorder.deliveries.size(), size_t(6));
        for (int i = 0; i < 6; ++i) {
            QCOMPARE(c.recorder.deliveries[i].body, "m" + std::to_string(i)); // per-queue order
            QCOMPARE(c.recorder.deliveries[i].deliveryCount, 1u);
        }
        QCOMPARE(q->ack(sub, 999, false), FERRY_E_NOT_FOUND);
        QCOMPARE(q->counts().ready, uint64_t(4));
    }

    void nackRequeueRedelivers()
    {
        QueuePtr q = declare("retry", FERRY_QUEUE_DURABLE);
        QVERIFY(q);
        publishAll(q, 2, "r");
        TestConnection &c = connection();
        auto sub = subscribe(q, c, 1);
        QTRY_COMPARE(c.recorder.deliveries.size(), size_t(1));
        QVERIFY(!c.recorder.deliveries[0].redelivered);
        QCOMPARE(q->nack(sub, c.recorder.deliveries[0].offset, false, true), FERRY_OK);
        QTRY_COMPARE(c.recorder.deliveries.size(), size_t(2));
        QCOMPARE(c.recorder.deliveries[1].body, std::string("r0"));
        QVERIFY(c.recorder.deliveries[1].redelivered);
        QCOMPARE(c.recorder.deliveries[1].deliveryCount, 2u);
        // nack without requeue drops the message
        QCOMPARE(q->nack(sub, c.recorder.deliveries[1].offset, false, false), FERRY_OK);
        QTRY_COMPARE(c.recorder.deliveries.size(), size_t(3));
        QCOMPARE(c.recorder.deliveries[2].body, std::string("r1"));
        QCOMPARE(q->ack(sub, c.recorder.deliveries[2].offset, false), FERRY_OK);
        QCOMPARE(q->counts().ready + q->counts().unacked, uint64_t(0));
    }

    void unsubscribeRequeuesToOtherConsumer()
    {
        QueuePtr q = declare("handover", 0);
        publishAll(q, 4, "h");
        TestConnection &a = connection();
        auto subA = subscribe(q, a, 0);
        QTRY_COMPARE(a.recorder.deliveries.size(), size_t(4));
        TestConnection &b = connection();
        auto subB = subscribe(q, b, 0);
        q->unsubscribe(subA);
        QTRY_COMPARE(b.recorder.deliveries.size(), size_t(4));
        for (const auto &d : b.recorder.deliveries)
            QVERIFY(d.redelivered);
        QCOMPARE(b.recorder.deliveries.front().body, std::string("h0"));
    }

    void competingConsumersShareRoundRobin()
    {
        QueuePtr q = declare("shared", 0);
        TestConnection &a = connection();
        TestConnection &b = connection();
        auto subA = subscribe(q, a, 100);
        auto subB = subscribe(q, b, 100);
        publishAll(q, 10, "s");
        QTRY_COMPARE(a.recorder.deliveries.size() + b.recorder.deliveries.size(), size_t(10));
        QCOMPARE(a.recorder.deliveries.size(), size_t(5));
        QCOMPARE(b.recorder.deliveries.size(), size_t(5));
    }

    void exclusiveConsumerRefusesOthers()
    {
        QueuePtr q = declare("excl", 0);
        TestConnection &a = connection();
        auto sub = std::make_shared<Subscription>();
        sub->id = nextSub_++;
        sub->queue = q;
        sub->link = std::make_shared<ConnectionLink>(&a);
        QCOMPARE(q->subscribe(sub, true), FERRY_OK);
        auto other = std::make_shared<Subscription>();
        other->link = sub->link;
        other->queue = q;
        QCOMPARE(q->subscribe(other, false), FERRY_E_ACCESS_DENIED);
    }

    void durableMessagesSurviveRestartAndAcksPersist()
    {
        QueuePtr q = declare("orders", FERRY_QUEUE_DURABLE);
        publishAll(q, 100, "o");
        publishAll(q, 5, "t", /*persistent=*/false);
        q.reset();
        closeBroker();
        openBroker();
        q = registry_->find("orders");
        QVERIFY(q);
        QVERIFY(q->durable());
        TestConnection &c = connection();
        auto sub = subscribe(q, c, 0);
        // Non-persistent messages stored before the restart are dropped on the way back.
        QTRY_COMPARE(c.recorder.deliveries.size(), size_t(100));
        QTest::qWait(50);
        QCOMPARE(c.recorder.deliveries.size(), size_t(100));
        for (int i = 0; i < 100; ++i)
            QCOMPARE(c.recorder.deliveries[i].body, "o" + std::to_string(i));
        for (int i = 0; i < 100; i += 2)
            QCOMPARE(q->ack(sub, c.recorder.deliveries[i].offset, false), FERRY_OK);
        q.reset();
        sub.reset();
        closeBroker();
        openBroker();
        q = registry_->find("orders");
        TestConnection &c2 = connection();
        auto sub2 = subscribe(q, c2, 0);
        QTRY_COMPARE(c2.recorder.deliveries.size(), size_t(50));
        for (int i = 0; i < 50; ++i)
            QCOMPARE(c2.recorder.deliveries[i].body, "o" + std::to_string(2 * i + 1));
    }

    void transientQueueIsGoneAfterRestart()
    {
        QVERIFY(declare("scratch", 0));
        closeBroker();
        openBroker();
        QVERIFY(!registry_->find("scratch"));
    }

    void pullReadsFromOffsetsWithoutConsuming()
    {
        for (uint32_t flags : {0u, uint32_t(FERRY_QUEUE_DURABLE)}) {
            const std::string name = flags ? "log-durable" : "log-transient";
            QueuePtr q = declare(name, flags);
            publishAll(q, 20, "p");
            TestConnection &c = connection();
            auto link = std::make_shared<ConnectionLink>(&c);
            q->pull(link, 7, 5, 10, 0);
            QTRY_COMPARE(c.recorder.results.size(), size_t(1));
            QCOMPARE(c.recorder.results[0].correlation_id, uint64_t(7));
            QCOMPARE(c.recorder.results[0].status, FERRY_OK);
            QCOMPARE(c.recorder.results[0].offset, uint64_t(15));
            QCOMPARE(c.recorder.results[0].message_count, uint64_t(10));
            QCOMPARE(c.recorder.deliveries.size(), size_t(10));
            QCOMPARE(c.recorder.deliveries[0].offset, uint64_t(5));
            QCOMPARE(c.recorder.deliveries[0].body, std::string("p5"));
            QCOMPARE(c.recorder.deliveries[0].correlation, uint64_t(7));
            // Nothing was consumed: the lease side still has all 20.
            QCOMPARE(q->counts().ready, uint64_t(20));

            std::atomic<bool> committed{false};
            q->commitOffset("g1", 15, [&](ferry_status st, const std::string &) { committed = st == FERRY_OK; });
            QTRY_VERIFY(committed.load());
            std::atomic<int> got{-1};
            q->committedOffset("g1", [&](ferry_status st, uint64_t off) { got = st == FERRY_OK ? int(off) : -2; });
            QTRY_COMPARE(got.load(), 15);
            std::atomic<int> missing{0};
            q->committedOffset("nobody", [&](ferry_status st, uint64_t) { missing = st; });
            QTRY_COMPARE(missing.load(), int(FERRY_E_NOT_FOUND));
        }
    }

    void longPollWakesOnPublishAndTimesOut()
    {
        QueuePtr q = declare("poll", FERRY_QUEUE_DURABLE);
        TestConnection &c = connection();
        auto link = std::make_shared<ConnectionLink>(&c);
        QElapsedTimer t;
        t.start();
        q->pull(link, 1, 0, 10, 200);
        QTRY_COMPARE_WITH_TIMEOUT(c.recorder.results.size(), size_t(1), 3000);
        QVERIFY2(t.elapsed() >= 190, "long poll answered before its wait time");
        QCOMPARE(c.recorder.results[0].message_count, uint64_t(0));

        t.restart();
        q->pull(link, 2, 0, 10, 10000);
        QTest::qWait(100);
        QCOMPARE(c.recorder.results.size(), size_t(1));
        publishAll(q, 1, "late");
        QTRY_COMPARE_WITH_TIMEOUT(c.recorder.results.size(), size_t(2), 5000);
        QVERIFY2(t.elapsed() < 5000, "long poll did not wake on publish");
        QCOMPARE(c.recorder.results[1].correlation_id, uint64_t(2));
        QCOMPARE(c.recorder.results[1].message_count, uint64_t(1));
        QCOMPARE(c.recorder.deliveries.back().body, std::string("late0"));
    }

    void registryDeclareAndDeleteRules()
    {
        std::atomic<int> status{1};
        registry_->declare("absent", FERRY_QUEUE_PASSIVE, [&](ferry_status st, const QueuePtr &, const std::string &) { status = st; });
        QTRY_COMPARE(status.load(), int(FERRY_E_NOT_FOUND));
        QVERIFY(declare("q", FERRY_QUEUE_DURABLE));
        status = 1;
        registry_->declare("q", 0, [&](ferry_status st, const QueuePtr &, const std::string &) { status = st; });
        QTRY_COMPARE(status.load(), int(FERRY_E_ALREADY_EXISTS));
        status = 1;
        registry_->declare(std::string(512, 'x'), 0, [&](ferry_status st, const QueuePtr &, const std::string &) { status = st; });
        QTRY_COMPARE(status.load(), int(FERRY_E_INVALID_ARGUMENT));

        QueuePtr q = registry_->find("q");
        publishAll(q, 3, "d");
        std::atomic<int> dropped{-1};
        registry_->remove("q", FERRY_QUEUE_IF_EMPTY, [&](ferry_status st, uint64_t, const std::string &) { dropped = st; });
        QTRY_COMPARE(dropped.load(), int(FERRY_E_BUSY));
        dropped = -1;
        registry_->remove("q", 0, [&](ferry_status st, uint64_t n, const std::string &) { dropped = st == FERRY_OK ? int(n) : -2; });
        QTRY_COMPARE(dropped.load(), 3);
        QVERIFY(!registry_->find("q"));
        QCOMPARE(q->subscribe(std::make_shared<Subscription>(), false), FERRY_E_CLOSED);
        closeBroker();
        openBroker();
        QVERIFY(!registry_->find("q"));
    }

    void groupCommitBatchesSyncs()
    {
        QueuePtr q = declare("batch", FERRY_QUEUE_DURABLE);
        const uint64_t syncsBefore = storage_->syncCount();
        publishAll(q, 2000, "b");
        const uint64_t syncs = storage_->syncCount() - syncsBefore;
        qInfo("2000 persistent publishes took %llu syncs", static_cast<unsigned long long>(syncs));
        QVERIFY2(syncs < 2000, "every publish was synced on its own: no group commit");
        QVERIFY(syncs >= 2);
    }
};

QTEST_GUILESS_MAIN(TestQueue)
#include "tst_queue.moc"
