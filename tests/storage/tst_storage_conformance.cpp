// tst_storage_conformance: the storage plugin contract (broker/include/ferry/ferry_storage.h) checked on any plugin.
//
//  - contractBasics: a short, readable walk through the contract's rules, one assertion per rule.
//  - randomSequences: per plugin and seed, a random operation sequence (ConformanceRunner) checked against the
//    in-memory model after every operation, with close/reopen in between.
//
// Usage: tst_storage_conformance --plugin /path/to/plugin.so [--plugin ...] [--seed N ...] [--ops N]
//                                [--config section.key=value ...] [QTest options]
#include "ConformanceRunner.h"
#include "SuiteMain.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>
#include <limits>

using namespace ferry::storagetest;
using ferry::LoadedPlugin;

namespace {

const char *const kUsage =
    "usage: tst_storage_conformance --plugin PATH [--plugin PATH ...] [--seed N ...] [--ops N]\n"
    "                               [--config SECTION.KEY=VALUE ...] [QTest options]\n"
    "Default: seeds 1 2 3 4, 10000 operations per seed.";

const uint64_t kDefaultSeeds[] = {1, 2, 3, 4};
constexpr long kDefaultOperations = 10000;

#define CHECK_OK(call)                                                                                                 \
    do {                                                                                                               \
        const CallResult r_ = (call);                                                                                  \
        QVERIFY2(r_.ok(), (#call " -> " + describe(r_)).c_str());                                                      \
        const std::string v_ = store->takeViolation();                                                                 \
        QVERIFY2(v_.empty(), v_.c_str());                                                                              \
    } while (0)

#define CHECK_STATUS(call, expected)                                                                                   \
    do {                                                                                                               \
        const CallResult r_ = (call);                                                                                  \
        QVERIFY2(r_.status == (expected),                                                                              \
                 (#call " -> " + describe(r_) + ", expected " + statusName(expected)).c_str());                       \
        const std::string v_ = store->takeViolation();                                                                 \
        QVERIFY2(v_.empty(), v_.c_str());                                                                              \
    } while (0)

} // namespace

class StorageConformanceTest : public QObject {
    Q_OBJECT
public:
    explicit StorageConformanceTest(SuiteOptions options) : options_(std::move(options)) {}

private Q_SLOTS:
    void initTestCase()
    {
        std::string error;
        QVERIFY2(loadAll(options_, plugins_, &error), error.c_str());
        if (options_.seeds.empty())
            options_.seeds.assign(std::begin(kDefaultSeeds), std::end(kDefaultSeeds));
        for (const LoadedPlugin *p : plugins_)
            std::printf("storage plugin '%s' %s from %s\n", p->name.c_str(), p->version.c_str(),
                        pathText(p->file).c_str());
    }

    void contractBasics_data()
    {
        QTest::addColumn<int>("pluginIndex");
        for (size_t i = 0; i < plugins_.size(); ++i)
            QTest::newRow(plugins_[i]->name.c_str()) << static_cast<int>(i);
    }

    void contractBasics()
    {
        QFETCH(int, pluginIndex);
        const LoadedPlugin &plugin = *plugins_[static_cast<size_t>(pluginIndex)];
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::filesystem::path dataDir = pathFromUtf8(dir.filePath("data").toStdString());
        std::filesystem::create_directories(dataDir);
        std::unique_ptr<StorageInstance> store;
        CHECK_OK(StorageInstance::open(plugin, dataDir, {}, store));
        const uint64_t caps = store->capabilities();

        std::vector<QueueInfo> queues;
        std::vector<OffsetEntry> offsets;
        std::vector<KeyValue> meta;
        std::vector<RecordCopy> records;
        uint64_t low = 99, next = 99, offset = 99;

        // A fresh store is empty.
        CHECK_OK(store->queueList(queues));
        QVERIFY(queues.empty());
        CHECK_OK(store->offsetList(offsets));
        QVERIFY(offsets.empty());
        CHECK_OK(store->metaScan("", meta));
        QVERIFY(meta.empty());

        // A new queue starts at 0; creating it twice is ALREADY_EXISTS; flags are reported back.
        CHECK_OK(store->queueCreate(5, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED));
        CHECK_STATUS(store->queueCreate(5, 0), FERRY_E_ALREADY_EXISTS);
        CHECK_OK(store->queueList(queues));
        QCOMPARE(queues.size(), size_t(1));
        QCOMPARE(queues[0].id, uint64_t(5));
        QCOMPARE(queues[0].flags, uint32_t(FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED));
        CHECK_OK(store->queueBounds(5, low, next));
        QCOMPARE(low, uint64_t(0));
        QCOMPARE(next, uint64_t(0));
        CHECK_OK(store->read(5, 0, 10, 1000, records));
        QVERIFY(records.empty());
        if (caps & FERRY_STORAGE_CAP_TIME_INDEX) {
            CHECK_OK(store->seekTime(5, 0, offset));
            QCOMPARE(offset, uint64_t(0));
        } else {
            CHECK_STATUS(store->seekTime(5, 0, offset), FERRY_E_UNSUPPORTED);
        }

        // Offsets grow by one per append; the record is head then body; empty parts are fine.
        CHECK_OK(store->append(5, 1000, "head-", "body-0", offset));
        QCOMPARE(offset, uint64_t(0));
        CHECK_OK(store->append(5, 1000, "", "", offset));
        QCOMPARE(offset, uint64_t(1));
        CHECK_OK(store->append(5, 1010, "only-head", "", offset));
        QCOMPARE(offset, uint64_t(2));
        CHECK_OK(store->queueBounds(5, low, next));
        QCOMPARE(low, uint64_t(0));
        QCOMPARE(next, uint64_t(3));
        CHECK_OK(store->read(5, 0, std::numeric_limits<uint32_t>::max(), std::numeric_limits<uint64_t>::max(),
                             records));
        QCOMPARE(records.size(), size_t(3));
        QCOMPARE(records[0].bytes, std::string("head-body-0"));
        QCOMPARE(records[0].storeTimeMs, uint64_t(1000));
        QCOMPARE(records[1].bytes, std::string());
        QCOMPARE(records[2].bytes, std::string("only-head"));
        QCOMPARE(records[2].offset, uint64_t(2));

        // max_bytes smaller than the first record still delivers that record, and only it.
        CHECK_OK(store->read(5, 0, 10, 1, records));
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].offset, uint64_t(0));
        // max_records bounds the count; a sink returning non-zero stops the read with FERRY_OK.
        CHECK_OK(store->read(5, 0, 2, 1000, records));
        QCOMPARE(records.size(), size_t(2));
        CHECK_OK(store->read(5, 0, 10, 1000, records, 1));
        QCOMPARE(records.size(), size_t(1));
        // Reading beyond next delivers nothing.
        CHECK_OK(store->read(5, 3, 10, 1000, records));
        QVERIFY(records.empty());

        // Acked records are skipped; acking twice is fine; low moves over an acked prefix.
        CHECK_OK(store->ack(5, 1));
        CHECK_OK(store->ack(5, 1));
        CHECK_OK(store->read(5, 0, 10, 1000, records));
        QCOMPARE(records.size(), size_t(2));
        QCOMPARE(records[1].offset, uint64_t(2));
        CHECK_OK(store->queueBounds(5, low, next));
        QCOMPARE(low, uint64_t(0));
        CHECK_OK(store->ack(5, 0));
        CHECK_OK(store->queueBounds(5, low, next));
        QCOMPARE(low, uint64_t(2));
        QCOMPARE(next, uint64_t(3));
        if (caps & FERRY_STORAGE_CAP_TIME_INDEX) {
            CHECK_OK(store->seekTime(5, 1000, offset)); // records 0 and 1 (time 1000) are acked
            QCOMPARE(offset, uint64_t(2));
            CHECK_OK(store->seekTime(5, 1011, offset));
            QCOMPARE(offset, uint64_t(3));
        }

        // truncate_prefix beyond next clamps to next; the next append continues the numbering.
        CHECK_OK(store->truncatePrefix(5, 100));
        CHECK_OK(store->queueBounds(5, low, next));
        QCOMPARE(low, uint64_t(3));
        QCOMPARE(next, uint64_t(3));
        CHECK_OK(store->ack(5, 2)); // truncated: still FERRY_OK
        CHECK_OK(store->append(5, 1020, "x", "y", offset));
        QCOMPARE(offset, uint64_t(3));
        CHECK_OK(store->read(5, 0, 10, 1000, records));
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].offset, uint64_t(3));

        // Consumer offsets: NOT_FOUND until set; queue_delete removes them, and the queue, and its records.
        CHECK_STATUS(store->offsetGet("grp", 5, offset), FERRY_E_NOT_FOUND);
        CHECK_OK(store->offsetSet("grp", 5, 42));
        CHECK_OK(store->offsetGet("grp", 5, offset));
        QCOMPARE(offset, uint64_t(42));
        CHECK_OK(store->queueCreate(6, 0));
        CHECK_OK(store->offsetSet("grp", 6, 7));
        CHECK_OK(store->queueDelete(5));
        CHECK_STATUS(store->queueDelete(5), FERRY_E_NOT_FOUND);
        CHECK_STATUS(store->offsetGet("grp", 5, offset), FERRY_E_NOT_FOUND);
        CHECK_OK(store->offsetGet("grp", 6, offset));
        QCOMPARE(offset, uint64_t(7));
        CHECK_STATUS(store->queueBounds(5, low, next), FERRY_E_NOT_FOUND);
        CHECK_STATUS(store->append(5, 1030, "a", "b", offset), FERRY_E_NOT_FOUND);
        CHECK_STATUS(store->read(5, 0, 10, 1000, records), FERRY_E_NOT_FOUND);
        // Re-created, it starts again at 0 and is empty.
        CHECK_OK(store->queueCreate(5, 0));
        CHECK_OK(store->queueBounds(5, low, next));
        QCOMPARE(low, uint64_t(0));
        QCOMPARE(next, uint64_t(0));
        CHECK_OK(store->read(5, 0, 10, 1000, records));
        QVERIFY(records.empty());
        CHECK_STATUS(store->offsetGet("grp", 5, offset), FERRY_E_NOT_FOUND);

        // Meta: binary keys, ascending bytewise order (0xFF after 'z', 0x00 first), prefix scans, NOT_FOUND.
        const std::string k00("\x00", 1), kff("\xff", 1), kaff("a\xff", 2), ka00("a\x00", 2);
        CHECK_OK(store->metaPut(kff, "ff"));
        CHECK_OK(store->metaPut("a", "a"));
        CHECK_OK(store->metaPut(kaff, "aff"));
        CHECK_OK(store->metaPut(ka00, ""));
        CHECK_OK(store->metaPut(k00, "00"));
        CHECK_OK(store->metaPut("b", "b"));
        CHECK_OK(store->metaScan("", meta));
        QCOMPARE(meta.size(), size_t(6));
        QCOMPARE(meta[0].key, k00);
        QCOMPARE(meta[1].key, std::string("a"));
        QCOMPARE(meta[2].key, ka00);
        QCOMPARE(meta[2].value, std::string());
        QCOMPARE(meta[3].key, kaff);
        QCOMPARE(meta[4].key, std::string("b"));
        QCOMPARE(meta[5].key, kff);
        CHECK_OK(store->metaScan("a", meta));
        QCOMPARE(meta.size(), size_t(3));
        CHECK_OK(store->metaScan(kff, meta));
        QCOMPARE(meta.size(), size_t(1));
        std::string value;
        int sinkCalls = 0;
        CHECK_OK(store->metaGet(kaff, value, sinkCalls));
        QCOMPARE(sinkCalls, 1);
        QCOMPARE(value, std::string("aff"));
        CHECK_OK(store->metaDelete(kaff));
        CHECK_STATUS(store->metaDelete(kaff), FERRY_E_NOT_FOUND);
        CHECK_STATUS(store->metaGet(kaff, value, sinkCalls), FERRY_E_NOT_FOUND);
        QCOMPARE(sinkCalls, 0);

        // Unknown control opcodes are UNSUPPORTED.
        int dummy = 0;
        CHECK_STATUS(store->control(0x7ffe, &dummy), FERRY_E_UNSUPPORTED);

        // close() implies sync(): everything is there after a reopen.
        CHECK_OK(store->sync());
        CHECK_OK(store->append(6, 1040, "after", "sync", offset));
        CHECK_OK(store->metaPut("after-sync", "1"));
        store.reset();
        CHECK_OK(StorageInstance::open(plugin, dataDir, {}, store));
        CHECK_OK(store->queueList(queues));
        std::sort(queues.begin(), queues.end());
        QCOMPARE(queues.size(), size_t(2));
        QCOMPARE(queues[0], (QueueInfo{5, 0}));
        QCOMPARE(queues[1], (QueueInfo{6, 0}));
        CHECK_OK(store->read(6, 0, 10, 1000, records));
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].bytes, std::string("aftersync"));
        CHECK_OK(store->metaGet("after-sync", value, sinkCalls));
        QCOMPARE(value, std::string("1"));
        CHECK_OK(store->offsetGet("grp", 6, offset));
        QCOMPARE(offset, uint64_t(7));
    }

    void randomSequences_data()
    {
        QTest::addColumn<int>("pluginIndex");
        QTest::addColumn<quint64>("seed");
        for (size_t i = 0; i < plugins_.size(); ++i)
            for (uint64_t seed : options_.seeds)
                QTest::addRow("%s/seed=%llu", plugins_[i]->name.c_str(), static_cast<unsigned long long>(seed))
                    << static_cast<int>(i) << quint64(seed);
    }

    void randomSequences()
    {
        QFETCH(int, pluginIndex);
        QFETCH(quint64, seed);
        const LoadedPlugin &plugin = *plugins_[static_cast<size_t>(pluginIndex)];
        const long operations = options_.operations.value_or(kDefaultOperations);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::filesystem::path dataDir = pathFromUtf8(dir.filePath("data").toStdString());
        std::filesystem::create_directories(dataDir);

        std::printf("plugin '%s' seed %llu: %ld operations (replay with --seed %llu)\n", plugin.name.c_str(),
                    static_cast<unsigned long long>(seed), operations, static_cast<unsigned long long>(seed));
        std::fflush(stdout);
        QElapsedTimer timer;
        timer.start();
        ConformanceRunner runner(plugin, dataDir, seed);
        const bool ok = runner.run(operations);
        if (!ok) {
            std::fprintf(stderr, "MISMATCH: %s\nlast operations:\n%s", runner.failure().c_str(),
                         runner.historyTail().c_str());
            std::fflush(stderr);
        }
        QVERIFY2(ok, runner.failure().c_str());
        QCOMPARE(runner.performed(), operations);

        std::string breakdown;
        for (const auto &[name, count] : runner.counts()) {
            char seconds[32];
            std::snprintf(seconds, sizeof seconds, "%.2fs", runner.seconds().count(name) ? runner.seconds().at(name) : 0.0);
            breakdown += " " + name + "=" + std::to_string(count) + "/" + seconds;
        }
        std::printf("plugin '%s' (capabilities 0x%llx) seed %llu: %ld operations passed in %.2f s; count/time per "
                    "kind:%s\n",
                    plugin.name.c_str(), static_cast<unsigned long long>(runner.capabilities()),
                    static_cast<unsigned long long>(seed), runner.performed(), timer.elapsed() / 1000.0,
                    breakdown.c_str());
        totals_[plugin.name] += runner.performed();
    }

    void cleanupTestCase()
    {
        for (const auto &[name, total] : totals_)
            std::printf("plugin '%s': %ld checked operations in total\n", name.c_str(), total);
    }

private:
    SuiteOptions options_;
    std::vector<const LoadedPlugin *> plugins_;
    std::map<std::string, long> totals_;
};

int main(int argc, char **argv) { return runSuite<StorageConformanceTest>(argc, argv, kUsage); }

#include "tst_storage_conformance.moc"
