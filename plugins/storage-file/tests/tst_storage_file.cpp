// Unit tests of the storage-file plugin, driven only through its C ABI (see StoreClient.h).
// The shared conformance, crash and corruption suites for every storage plugin live in tests/storage/; these tests
// cover what is specific to this plugin's files: segments, indexes, the journal, the checkpoint and recovery.
#include "StoreClient.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>

#ifdef __linux__
#include <csignal>
#include <sys/resource.h>
#endif

using namespace storage_file_test;
namespace fs = std::filesystem;

namespace {

constexpr size_t kHeaderBytes = 40; // the commit-log record header (docs/storage-file-format.md)

std::string bodyFor(uint64_t queue, uint64_t offset, size_t size = 50)
{
    std::string s = "q" + std::to_string(queue) + "o" + std::to_string(offset) + ":";
    while (s.size() < size)
        s.push_back(static_cast<char>('a' + (s.size() * 7 + offset) % 26));
    return s;
}

std::vector<fs::path> segmentFiles(const fs::path &dir)
{
    std::vector<fs::path> out;
    for (const auto &e : fs::directory_iterator(dir / "commitlog"))
        if (e.path().extension() == ".seg")
            out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<uint64_t> offsetsOf(const std::vector<RecordCopy> &records)
{
    std::vector<uint64_t> out;
    for (const auto &r : records)
        out.push_back(r.offset);
    return out;
}

// Overwrites one byte of a file.
void patchByte(const fs::path &file, uint64_t at, char value)
{
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    QVERIFY(f.good());
    f.seekp(static_cast<std::streamoff>(at));
    f.write(&value, 1);
    QVERIFY(f.good());
}

// Linux: how many mappings of files under root that were deleted are still in this process (leaked mappings).
int deletedMappingsUnder(const fs::path &root)
{
#ifdef __linux__
    std::ifstream maps("/proc/self/maps");
    std::string line;
    int count = 0;
    while (std::getline(maps, line))
        if (line.find(root.string()) != std::string::npos && line.find("(deleted)") != std::string::npos)
            ++count;
    return count;
#else
    (void)root;
    return 0;
#endif
}

} // namespace

class TestStorageFile : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tmp_;
    int counter_ = 0;
    fs::path freshDir() { return fs::path(tmp_.path().toStdString()) / ("store" + std::to_string(++counter_)); }

    std::unique_ptr<StoreClient> openStore(const TestHost &host, const fs::path &dir,
                                           StoreClient::Options options = {})
    {
        std::unique_ptr<StoreClient> store;
        std::string error;
        const ferry_status st = StoreClient::open(host, dir, options, store, error);
        if (st != FERRY_OK)
            qWarning("open failed: %d %s", st, error.c_str());
        return store;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void descriptorAndCapabilities()
    {
        const LoadedPlugin &plugin = loadPlugin();
        QCOMPARE(plugin.descriptor->kind, FERRY_PLUGIN_KIND_STORAGE);
        QCOMPARE(std::string(plugin.descriptor->name), std::string("file"));
        QCOMPARE(plugin.descriptor->abi_major, uint16_t(FERRY_ABI_MAJOR));
        QCOMPARE(plugin.vtable->struct_size, uint32_t(sizeof(ferry_storage_vtable)));
        bool sawSegmentBytes = false;
        for (uint32_t i = 0; i < plugin.descriptor->config_key_count; ++i)
            if (std::string(plugin.descriptor->config_keys[i].name) == "segment_bytes") {
                sawSegmentBytes = true;
                QCOMPARE(std::string(plugin.descriptor->config_keys[i].default_value), std::string("268435456"));
            }
        QVERIFY(sawSegmentBytes);
        // Every member is implemented.
        const auto *members = reinterpret_cast<const void *const *>(
            reinterpret_cast<const char *>(plugin.vtable) + offsetof(ferry_storage_vtable, open));
        const size_t count = (sizeof(ferry_storage_vtable) - offsetof(ferry_storage_vtable, open)) / sizeof(void *);
        for (size_t i = 0; i < count; ++i)
            QVERIFY2(members[i] != nullptr, qPrintable(QString("vtable member %1 is NULL").arg(i)));

        TestHost host;
        auto store = openStore(host, freshDir());
        QVERIFY(store);
        QCOMPARE(store->capabilities(), uint64_t(FERRY_STORAGE_CAP_DURABLE_SYNC | FERRY_STORAGE_CAP_TIME_INDEX |
                                                 FERRY_STORAGE_CAP_ZERO_COPY_READ | FERRY_STORAGE_CAP_RETENTION));
        int dummy = 0;
        QCOMPARE(store->control(12345, &dummy), FERRY_E_UNSUPPORTED);
        QVERIFY(!store->lastError.empty());
    }

    void rejectsBadConfig()
    {
        TestHost host;
        host.config["segment_bytes"] = "1000";
        std::unique_ptr<StoreClient> store;
        std::string error;
        QCOMPARE(StoreClient::open(host, freshDir(), {}, store, error), FERRY_E_CONFIG);
        QVERIFY2(error.find("file.segment_bytes") != std::string::npos, error.c_str());
        QVERIFY(!store);
        host.config["segment_bytes"] = "lots";
        QCOMPARE(StoreClient::open(host, freshDir(), {}, store, error), FERRY_E_CONFIG);
        QVERIFY2(error.find("file.segment_bytes") != std::string::npos, error.c_str());
    }

    void secondOpenOfSameDirectoryIsRefused()
    {
        TestHost host;
        const fs::path dir = freshDir();
        auto first = openStore(host, dir);
        QVERIFY(first);
        std::unique_ptr<StoreClient> second;
        std::string error;
        QCOMPARE(StoreClient::open(host, dir, {}, second, error), FERRY_E_BUSY);
        QVERIFY2(error.find("LOCK") != std::string::npos, error.c_str());
        first.reset();
        QCOMPARE(StoreClient::open(host, dir, {}, second, error), FERRY_OK);
    }

    void queueLifecycle()
    {
        TestHost host;
        auto store = openStore(host, freshDir());
        QVERIFY(store);
        QCOMPARE(store->queueCreate(7, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED), FERRY_OK);
        QCOMPARE(store->queueCreate(3), FERRY_OK);
        QCOMPARE(store->queueCreate(7), FERRY_E_ALREADY_EXISTS);
        QVERIFY(store->lastError.find("7") != std::string::npos);
        std::vector<std::pair<uint64_t, uint32_t>> list;
        QCOMPARE(store->queueList(list), FERRY_OK);
        QCOMPARE(list, (std::vector<std::pair<uint64_t, uint32_t>>{{3, 0}, {7, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED}}));
        uint64_t low = 99, next = 99;
        QCOMPARE(store->bounds(3, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(0));
        QCOMPARE(next, uint64_t(0));
        QCOMPARE(store->bounds(4, low, next), FERRY_E_NOT_FOUND);
        QCOMPARE(store->append(4, 1, "", "x"), FERRY_E_NOT_FOUND);

        // Delete removes records and offsets; a re-created queue starts at 0 and does not see old records.
        QCOMPARE(store->append(3, 1, "h", "old"), FERRY_OK);
        QCOMPARE(store->offsetSet("g", 3, 1), FERRY_OK);
        QCOMPARE(store->queueDelete(3), FERRY_OK);
        QCOMPARE(store->queueDelete(3), FERRY_E_NOT_FOUND);
        uint64_t offset = 0;
        QCOMPARE(store->offsetGet("g", 3, offset), FERRY_E_NOT_FOUND);
        QCOMPARE(store->queueCreate(3), FERRY_OK);
        QCOMPARE(store->bounds(3, low, next), FERRY_OK);
        QCOMPARE(next, uint64_t(0));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(3, 0, 0, 0, records), FERRY_OK);
        QVERIFY(records.empty());
        QCOMPARE(store->append(3, 2, "h", "new", &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(0));
        QCOMPARE(store->read(3, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].data, std::string("hnew"));
    }

    void appendReadAndLimits()
    {
        TestHost host;
        auto store = openStore(host, freshDir());
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        QCOMPARE(store->queueCreate(2), FERRY_OK);
        std::string heads[20];
        for (uint64_t i = 0; i < 20; ++i) {
            heads[i] = "H" + std::to_string(i);
            uint64_t offset = 999;
            QCOMPARE(store->append(1, 1000 + i, heads[i], bodyFor(1, i), &offset), FERRY_OK);
            QCOMPARE(offset, i);
            QCOMPARE(store->append(2, 1000 + i, "", bodyFor(2, i)), FERRY_OK); // interleaved queue
        }
        QCOMPARE(store->append(1, 2000, "", ""), FERRY_OK); // empty record
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(21));
        for (uint64_t i = 0; i < 20; ++i) {
            QCOMPARE(records[i].offset, i);
            QCOMPARE(records[i].storeTimeMs, 1000 + i);
            QCOMPARE(records[i].data, heads[i] + bodyFor(1, i));
        }
        QCOMPARE(records[20].data, std::string());

        // max_records, max_bytes (at least one record), sink stop, reads from the middle and past the end.
        QCOMPARE(store->read(1, 5, 3, 0, records), FERRY_OK);
        QCOMPARE(offsetsOf(records), (std::vector<uint64_t>{5, 6, 7}));
        const uint64_t recordBytes = heads[5].size() + bodyFor(1, 5).size();
        QCOMPARE(store->read(1, 5, 100, recordBytes * 2 + 1, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(2));
        QCOMPARE(store->read(1, 5, 100, 1, records), FERRY_OK);
        QCOMPARE(offsetsOf(records), (std::vector<uint64_t>{5}));
        QCOMPARE(store->read(1, 0, 0, 0, records, 4), FERRY_OK);
        QCOMPARE(records.size(), size_t(4));
        QCOMPARE(store->read(1, 21, 0, 0, records), FERRY_OK);
        QVERIFY(records.empty());
        QCOMPARE(store->read(1, 1000, 0, 0, records), FERRY_OK);
        QVERIFY(records.empty());
        QCOMPARE(store->read(9, 0, 0, 0, records), FERRY_E_NOT_FOUND);
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(2, low, next), FERRY_OK);
        QCOMPARE(next, uint64_t(20));
    }

    void ackAndTruncate()
    {
        TestHost host;
        auto store = openStore(host, freshDir());
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        for (uint64_t i = 0; i < 10; ++i)
            QCOMPARE(store->append(1, i, "", bodyFor(1, i)), FERRY_OK);
        uint64_t low = 0, next = 0;
        QCOMPARE(store->ack(1, 2), FERRY_OK);
        QCOMPARE(store->ack(1, 2), FERRY_OK); // twice is fine
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(0));
        QCOMPARE(store->ack(1, 0), FERRY_OK);
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(1));
        QCOMPARE(store->ack(1, 1), FERRY_OK); // closes the gap: low jumps over 2
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(3));
        QCOMPARE(store->ack(1, 5), FERRY_OK);
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(offsetsOf(records), (std::vector<uint64_t>{3, 4, 6, 7, 8, 9}));
        QCOMPARE(store->read(1, 4, 2, 0, records), FERRY_OK); // acked ones do not count against max_records
        QCOMPARE(offsetsOf(records), (std::vector<uint64_t>{4, 6}));
        QCOMPARE(store->ack(1, 10), FERRY_E_NOT_FOUND);
        QCOMPARE(store->ack(2, 0), FERRY_E_NOT_FOUND);

        QCOMPARE(store->truncatePrefix(1, 6), FERRY_OK);
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(6));
        QCOMPARE(store->ack(1, 4), FERRY_OK); // truncated: fine
        QCOMPARE(store->truncatePrefix(1, 2), FERRY_OK); // backwards: no effect
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(6));
        QCOMPARE(store->truncatePrefix(1, 1000), FERRY_OK); // clamped to next
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(10));
        QCOMPARE(next, uint64_t(10));
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QVERIFY(records.empty());
        QCOMPARE(store->append(1, 11, "", "after", &next), FERRY_OK);
        QCOMPARE(next, uint64_t(10));
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(10));
        QCOMPARE(next, uint64_t(11));
    }

    void segmentRollOver()
    {
        TestHost host;
        host.config["segment_bytes"] = "4096";
        const fs::path dir = freshDir();
        auto store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        QCOMPARE(store->queueCreate(2), FERRY_OK);
        for (uint64_t i = 0; i < 300; ++i)
            QCOMPARE(store->append(1 + i % 2, i, "head", bodyFor(1 + i % 2, i / 2, 60 + i % 37)), FERRY_OK);
        QVERIFY2(segmentFiles(dir).size() >= 8, "expected several segments");
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(2, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(150));
        for (uint64_t i = 0; i < 150; ++i)
            QCOMPARE(records[i].data, "head" + bodyFor(2, i, 60 + (2 * i + 1) % 37));
        // A record that cannot fit a segment is refused and changes nothing.
        QCOMPARE(store->append(1, 1, "", std::string(4096, 'x')), FERRY_E_TOO_LARGE);
        QVERIFY(store->lastError.find("segment_bytes") != std::string::npos);
        uint64_t offset = 0;
        QCOMPARE(store->append(1, 1, "", std::string(4096 - kHeaderBytes, 'y'), &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(150));
        QCOMPARE(store->read(1, 150, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].data.size(), size_t(4096 - kHeaderBytes));

        // Everything survives a reopen, including the segment boundaries.
        store.reset();
        store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(151));
        for (uint64_t i = 0; i < 150; ++i)
            QCOMPARE(records[i].data, "head" + bodyFor(1, i, 60 + (2 * i) % 37));
    }

    void reopenAfterCleanClose()
    {
        TestHost host;
        const fs::path dir = freshDir();
        {
            auto store = openStore(host, dir);
            QVERIFY(store);
            QCOMPARE(store->queueCreate(10, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED), FERRY_OK);
            QCOMPARE(store->queueCreate(11), FERRY_OK);
            for (uint64_t i = 0; i < 1500; ++i) // more than one index flush block
                QCOMPARE(store->append(10 + i % 2, 5000 + i, "h", bodyFor(10 + i % 2, i / 2)), FERRY_OK);
            QCOMPARE(store->ack(10, 0), FERRY_OK);
            QCOMPARE(store->ack(10, 3), FERRY_OK);
            QCOMPARE(store->truncatePrefix(11, 100), FERRY_OK);
            QCOMPARE(store->offsetSet("group-a", 10, 42), FERRY_OK);
            QCOMPARE(store->offsetSet("group-b", 11, 7), FERRY_OK);
            QCOMPARE(store->metaPut("topic/a", "1"), FERRY_OK);
            QCOMPARE(store->metaPut("topic/b", "2"), FERRY_OK);
            QCOMPARE(store->metaDelete("topic/b"), FERRY_OK);
            QCOMPARE(store->queueCreate(12), FERRY_OK);
            QCOMPARE(store->queueDelete(12), FERRY_OK);
        }
        auto store = openStore(host, dir);
        QVERIFY(store);
        std::vector<std::pair<uint64_t, uint32_t>> list;
        QCOMPARE(store->queueList(list), FERRY_OK);
        QCOMPARE(list, (std::vector<std::pair<uint64_t, uint32_t>>{{10, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED}, {11, 0}}));
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(10, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(1));
        QCOMPARE(next, uint64_t(750));
        QCOMPARE(store->bounds(11, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(100));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(10, 0, 5, 0, records), FERRY_OK);
        QCOMPARE(offsetsOf(records), (std::vector<uint64_t>{1, 2, 4, 5, 6}));
        QCOMPARE(records[0].data, "h" + bodyFor(10, 1));
        QCOMPARE(store->read(11, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(650));
        QCOMPARE(records.back().data, "h" + bodyFor(11, 749));
        uint64_t offset = 0;
        QCOMPARE(store->offsetGet("group-a", 10, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(42));
        std::string value;
        QCOMPARE(store->metaGet("topic/a", value), FERRY_OK);
        QCOMPARE(value, std::string("1"));
        QCOMPARE(store->metaGet("topic/b", value), FERRY_E_NOT_FOUND);
        // Appends continue where they left off.
        QCOMPARE(store->append(10, 9999, "", "more", &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(750));
    }

    void recoveryAfterCrashWithoutClose()
    {
        // A copy of the files of an open store after sync() is what kill -9 leaves: the checkpoint is older than
        // the log's end, so recovery must rebuild index tails from the commit log.
        TestHost host;
        host.config["segment_bytes"] = "65536";
        const fs::path dir = freshDir();
        const fs::path crashed = freshDir();
        auto store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        QCOMPARE(store->queueCreate(2), FERRY_OK);
        for (uint64_t i = 0; i < 3000; ++i)
            QCOMPARE(store->append(1 + i % 2, i, "", bodyFor(1 + i % 2, i / 2)), FERRY_OK);
        QCOMPARE(store->ack(1, 0), FERRY_OK);
        QCOMPARE(store->offsetSet("g", 2, 17), FERRY_OK);
        QCOMPARE(store->queueCreate(3), FERRY_OK); // created after the last checkpoint
        QCOMPARE(store->append(3, 1, "", "three"), FERRY_OK);
        QCOMPARE(store->sync(), FERRY_OK);
        crashCopy(dir, crashed);
        store.reset();

        TestHost host2;
        host2.config = host.config;
        auto recovered = openStore(host2, crashed);
        QVERIFY(recovered);
        uint64_t low = 0, next = 0;
        QCOMPARE(recovered->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(1));
        QCOMPARE(next, uint64_t(1500));
        std::vector<RecordCopy> records;
        QCOMPARE(recovered->read(2, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1500));
        for (uint64_t i = 0; i < 1500; ++i)
            QCOMPARE(records[i].data, bodyFor(2, i));
        QCOMPARE(recovered->read(3, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].data, std::string("three"));
        uint64_t offset = 0;
        QCOMPARE(recovered->offsetGet("g", 2, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(17));
        QVERIFY(!host2.logged(FERRY_LOG_WARN, "torn"));
    }

    void recoveryAfterTornTail()
    {
        TestHost host;
        host.config["segment_bytes"] = "65536";
        const fs::path dir = freshDir();
        const fs::path crashed = freshDir();
        const size_t bodySize = 100;
        {
            auto store = openStore(host, dir);
            QVERIFY(store);
            QCOMPARE(store->queueCreate(1), FERRY_OK);
            for (uint64_t i = 0; i < 10; ++i)
                QCOMPARE(store->append(1, i, "", bodyFor(1, i, bodySize)), FERRY_OK);
            QCOMPARE(store->sync(), FERRY_OK);
            crashCopy(dir, crashed);
        }
        // Tear the last record: cut the segment file in the middle of record 9.
        const auto segments = segmentFiles(crashed);
        QCOMPARE(segments.size(), size_t(1));
        const uint64_t recordSize = kHeaderBytes + bodySize;
        fs::resize_file(segments[0], 9 * recordSize + kHeaderBytes + bodySize / 2);

        TestHost host2;
        host2.config = host.config;
        auto store = openStore(host2, crashed);
        QVERIFY(store);
        QVERIFY2(host2.logged(FERRY_LOG_WARN, "torn"), "recovery must warn about the torn tail");
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(next, uint64_t(9));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(9));
        QCOMPARE(records[8].data, bodyFor(1, 8, bodySize));
        // The log continues cleanly from the cut, and survives another crash-free reopen.
        uint64_t offset = 0;
        QCOMPARE(store->append(1, 100, "", "replacement", &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(9));
        for (uint64_t i = 10; i < 600; ++i) // forces a roll-over past the shortened segment
            QCOMPARE(store->append(1, 100 + i, "", bodyFor(1, i, bodySize)), FERRY_OK);
        store.reset();
        TestHost host3;
        host3.config = host.config;
        store = openStore(host3, crashed);
        QVERIFY(store);
        QVERIFY(!host3.logged(FERRY_LOG_WARN, "torn"));
        QCOMPARE(store->read(1, 9, 2, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(2));
        QCOMPARE(records[0].data, std::string("replacement"));
        QCOMPARE(records[1].data, bodyFor(1, 10, bodySize));
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(next, uint64_t(600));
    }

    void tornTailWithGarbageIsCut()
    {
        // Garbage (not zeros) after the last good record: the first bad header past the checkpoint is the end.
        TestHost host;
        const fs::path dir = freshDir();
        const fs::path crashed = freshDir();
        {
            auto store = openStore(host, dir);
            QVERIFY(store);
            QCOMPARE(store->queueCreate(1), FERRY_OK);
            for (uint64_t i = 0; i < 5; ++i)
                QCOMPARE(store->append(1, i, "", bodyFor(1, i, 30)), FERRY_OK);
            QCOMPARE(store->sync(), FERRY_OK);
            crashCopy(dir, crashed);
        }
        const auto segments = segmentFiles(crashed);
        const uint64_t recordSize = kHeaderBytes + 30;
        // Corrupt the CRC-covered payload of record 3: records 3 and 4 are dropped, 0..2 kept.
        patchByte(segments.back(), 3 * recordSize + kHeaderBytes + 5, '#');
        TestHost host2;
        auto store = openStore(host2, crashed);
        QVERIFY(store);
        QVERIFY(host2.logged(FERRY_LOG_WARN, "torn"));
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(next, uint64_t(3));
    }

    void corruptRecordIsReportedByRead()
    {
        TestHost host;
        const fs::path dir = freshDir();
        const size_t bodySize = 64;
        {
            auto store = openStore(host, dir);
            QVERIFY(store);
            QCOMPARE(store->queueCreate(5), FERRY_OK);
            for (uint64_t i = 0; i < 8; ++i)
                QCOMPARE(store->append(5, i, "", bodyFor(5, i, bodySize)), FERRY_OK);
        } // clean close: the checkpoint covers every record, so nothing is cut at open
        const auto segments = segmentFiles(dir);
        patchByte(segments.back(), 4 * (kHeaderBytes + bodySize) + kHeaderBytes + 10, '!');
        TestHost host2;
        auto store = openStore(host2, dir);
        QVERIFY(store);
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(5, 0, 0, 0, records), FERRY_E_CORRUPT);
        QCOMPARE(offsetsOf(records), (std::vector<uint64_t>{0, 1, 2, 3}));
        const std::string text = store->lastError;
        QVERIFY2(text.find("queue 5") != std::string::npos, text.c_str());
        QVERIFY2(text.find("offset 4") != std::string::npos, text.c_str());
        QVERIFY2(text.find(segments.back().filename().string()) != std::string::npos, text.c_str());
        QCOMPARE(store->read(5, 5, 0, 0, records), FERRY_OK);
        QCOMPARE(offsetsOf(records), (std::vector<uint64_t>{5, 6, 7}));
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(5, low, next), FERRY_OK);
        QCOMPARE(next, uint64_t(8)); // nothing below the checkpoint was cut
    }

    void seekTime()
    {
        TestHost host;
        auto store = openStore(host, freshDir());
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        const uint64_t times[] = {100, 100, 200, 300, 300, 300, 400, 1000};
        for (uint64_t t : times)
            QCOMPARE(store->append(1, t, "", "x"), FERRY_OK);
        uint64_t offset = 0;
        QCOMPARE(store->seekTime(1, 0, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(0));
        QCOMPARE(store->seekTime(1, 100, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(0));
        QCOMPARE(store->seekTime(1, 101, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(2));
        QCOMPARE(store->seekTime(1, 300, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(3));
        QCOMPARE(store->seekTime(1, 999, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(7));
        QCOMPARE(store->seekTime(1, 1001, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(8)); // next when none
        // Only readable offsets: acked and truncated ones are skipped.
        QCOMPARE(store->ack(1, 3), FERRY_OK);
        QCOMPARE(store->seekTime(1, 300, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(4));
        QCOMPARE(store->truncatePrefix(1, 5), FERRY_OK);
        QCOMPARE(store->seekTime(1, 0, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(5));
        QCOMPARE(store->seekTime(2, 0, offset), FERRY_E_NOT_FOUND);
    }

    void retentionInMaintain()
    {
        TestHost host;
        host.config["segment_bytes"] = "4096";
        const fs::path dir = freshDir();
        const uint64_t now = 10'000'000;
        auto store = openStore(host, dir, {60'000, 0});
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);                                          // plain
        QCOMPARE(store->queueCreate(2, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED), FERRY_OK); // retained
        // Old records: 100 of queue 1, then one record of queue 2 in the middle, then 100 more of queue 1.
        for (uint64_t i = 0; i < 100; ++i)
            QCOMPARE(store->append(1, now - 3'600'000, "", bodyFor(1, i, 100)), FERRY_OK);
        uint64_t retainedOffset = 0;
        QCOMPARE(store->append(2, now - 3'600'000, "", "keep me", &retainedOffset), FERRY_OK);
        for (uint64_t i = 100; i < 200; ++i)
            QCOMPARE(store->append(1, now - 3'600'000, "", bodyFor(1, i, 100)), FERRY_OK);
        // Fresh records.
        for (uint64_t i = 200; i < 260; ++i)
            QCOMPARE(store->append(1, now - 1000, "", bodyFor(1, i, 100)), FERRY_OK);
        const size_t before = segmentFiles(dir).size();
        QVERIFY(before >= 6);

        QCOMPARE(store->maintain(now), FERRY_OK);
        const size_t afterFirst = segmentFiles(dir).size();
        QVERIFY2(afterFirst < before, "old segments before the retained record must go");
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QVERIFY(low > 0 && low < 100);
        QCOMPARE(store->bounds(2, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(0));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(2, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].data, std::string("keep me"));
        // Queue 1's survivors are still intact.
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(store->read(1, 0, 1, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].offset, low);
        QCOMPARE(records[0].data, bodyFor(1, low, 100));

        // Once acked, the retained record no longer protects its segment: old segments go, fresh ones stay.
        QCOMPARE(store->ack(2, retainedOffset), FERRY_OK);
        QCOMPARE(store->maintain(now), FERRY_OK);
        QVERIFY(segmentFiles(dir).size() < afterFirst);
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QVERIFY2(low >= 200 - 40 && low <= 200, qPrintable(QString::number(low)));
        QCOMPARE(store->read(1, 200, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(60));

        QCOMPARE(deletedMappingsUnder(dir), 0); // removed segments were unmapped

        // The new bounds survive a reopen (the truncation was journaled).
        store.reset();
        store = openStore(host, dir, {60'000, 0});
        QVERIFY(store);
        uint64_t low2 = 0;
        QCOMPARE(store->bounds(1, low2, next), FERRY_OK);
        QCOMPARE(low2, low);
        QCOMPARE(next, uint64_t(260));
    }

    void retentionBySizeAndDeadSegments()
    {
        TestHost host;
        host.config["segment_bytes"] = "4096";
        const fs::path dir = freshDir();
        auto store = openStore(host, dir, {0, 3 * 4096});
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        QCOMPARE(store->queueCreate(2), FERRY_OK);
        for (uint64_t i = 0; i < 400; ++i)
            QCOMPARE(store->append(1, 1, "", bodyFor(1, i, 100)), FERRY_OK);
        QCOMPARE(store->maintain(2), FERRY_OK);
        const size_t left = segmentFiles(dir).size();
        QVERIFY2(left <= 4, qPrintable(QString("segments left: %1").arg(left)));
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QVERIFY(low > 300);
        QCOMPARE(next, uint64_t(400));

        // Dead segments: with no limits at all, segments whose every record is acked are removed.
        store.reset();
        store = openStore(host, dir, {0, 0});
        QVERIFY(store);
        for (uint64_t i = 0; i < 200; ++i)
            QCOMPARE(store->append(2, 1, "", bodyFor(2, i, 100)), FERRY_OK);
        const size_t before = segmentFiles(dir).size();
        QCOMPARE(store->truncatePrefix(1, 400), FERRY_OK);
        for (uint64_t i = 0; i < 150; ++i)
            QCOMPARE(store->ack(2, i), FERRY_OK);
        QCOMPARE(store->maintain(2), FERRY_OK);
        QVERIFY(segmentFiles(dir).size() < before);
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(2, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(50));
        QCOMPARE(records[0].data, bodyFor(2, 150, 100));
    }

    void stats()
    {
        TestHost host;
        const fs::path dir = freshDir();
        auto store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        QCOMPARE(store->queueCreate(2), FERRY_OK);
        for (uint64_t i = 0; i < 30; ++i)
            QCOMPARE(store->append(1 + i % 2, i, "", bodyFor(1, i, 100)), FERRY_OK);
        QCOMPARE(store->ack(1, 3), FERRY_OK);
        QCOMPARE(store->ack(1, 0), FERRY_OK);
        QCOMPARE(store->truncatePrefix(2, 5), FERRY_OK);
        ferry_storage_stats stats{};
        QCOMPARE(store->stats(stats), FERRY_OK);
        QCOMPARE(stats.struct_size, uint32_t(sizeof stats));
        QCOMPARE(stats.queue_count, uint64_t(2));
        QCOMPARE(stats.record_count, uint64_t(30 - 2 - 5));
        QVERIFY(stats.bytes_on_disk >= 30 * (kHeaderBytes + 100));
        // An older caller's smaller struct is filled only as far as it reaches.
        struct {
            ferry_storage_stats s;
            uint64_t guard;
        } small{};
        small.s.struct_size = offsetof(ferry_storage_stats, queue_count);
        small.s.queue_count = 777;
        small.guard = 0xfeedface;
        QCOMPARE(store->control(FERRY_STORAGE_CONTROL_STATS, &small.s), FERRY_OK);
        QCOMPARE(small.s.struct_size, uint32_t(offsetof(ferry_storage_stats, queue_count)));
        QCOMPARE(small.s.bytes_on_disk, stats.bytes_on_disk);
        QCOMPARE(small.s.queue_count, uint64_t(777));
        QCOMPARE(small.guard, uint64_t(0xfeedface));
        QCOMPARE(store->control(FERRY_STORAGE_CONTROL_STATS, nullptr), FERRY_E_INVALID_ARGUMENT);
    }

    void offsetsAndMetadata()
    {
        TestHost host;
        const fs::path dir = freshDir();
        auto store = openStore(host, dir);
        QVERIFY(store);
        uint64_t offset = 0;
        QCOMPARE(store->offsetGet("g", 1, offset), FERRY_E_NOT_FOUND);
        QCOMPARE(store->offsetSet("g", 1, 5), FERRY_OK);
        QCOMPARE(store->offsetSet("g", 1, 9), FERRY_OK);
        QCOMPARE(store->offsetSet(std::string("g\0x", 3), 2, 1), FERRY_OK);
        QCOMPARE(store->offsetGet("g", 1, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(9));
        std::vector<std::tuple<std::string, uint64_t, uint64_t>> offsets;
        QCOMPARE(store->offsetList(offsets), FERRY_OK);
        QCOMPARE(offsets.size(), size_t(2));

        const std::string binaryKey("k\xff\x00z", 4);
        QCOMPARE(store->metaPut("b/2", "two"), FERRY_OK);
        QCOMPARE(store->metaPut("b/1", "one"), FERRY_OK);
        QCOMPARE(store->metaPut("a", ""), FERRY_OK);
        QCOMPARE(store->metaPut(binaryKey, std::string("\x00\x01", 2)), FERRY_OK);
        QCOMPARE(store->metaPut("b/\xc3\xa9", "high byte sorts last"), FERRY_OK);
        std::vector<std::pair<std::string, std::string>> kv;
        QCOMPARE(store->metaScan("b/", kv), FERRY_OK);
        QCOMPARE(kv.size(), size_t(3));
        QCOMPARE(kv[0].first, std::string("b/1"));
        QCOMPARE(kv[1].first, std::string("b/2"));
        QCOMPARE(kv[2].first, std::string("b/\xc3\xa9"));
        QCOMPARE(store->metaScan("", kv), FERRY_OK);
        QCOMPARE(kv.size(), size_t(5));
        QCOMPARE(kv[0].first, std::string("a"));
        QCOMPARE(kv[4].first, binaryKey);
        std::string value;
        QCOMPARE(store->metaGet(binaryKey, value), FERRY_OK);
        QCOMPARE(value, std::string("\x00\x01", 2));
        QCOMPARE(store->metaDelete("nope"), FERRY_E_NOT_FOUND);
        QCOMPARE(store->metaDelete("a"), FERRY_OK);
        QCOMPARE(store->metaGet("a", value), FERRY_E_NOT_FOUND);

        store.reset();
        store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->metaScan("", kv), FERRY_OK);
        QCOMPARE(kv.size(), size_t(4));
        QCOMPARE(store->offsetGet(std::string("g\0x", 3), 2, offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(1));
    }

    void journalCompaction()
    {
        TestHost host;
        host.config["journal_compact_bytes"] = "4096";
        const fs::path dir = freshDir();
        {
            auto store = openStore(host, dir);
            QVERIFY(store);
            QCOMPARE(store->queueCreate(1), FERRY_OK);
            for (uint64_t i = 0; i < 500; ++i)
                QCOMPARE(store->append(1, i, "", "r"), FERRY_OK);
            for (uint64_t i = 0; i < 500; i += 2)
                QCOMPARE(store->ack(1, i), FERRY_OK);
            for (int i = 0; i < 200; ++i)
                QCOMPARE(store->metaPut("key" + std::to_string(i % 20), "value" + std::to_string(i)), FERRY_OK);
            QCOMPARE(store->sync(), FERRY_OK);
            QVERIFY(fs::exists(dir / "state" / "snapshot"));
            size_t journals = 0;
            for (const auto &e : fs::directory_iterator(dir / "state"))
                journals += e.path().filename().string().rfind("journal-", 0) == 0 ? 1 : 0;
            QCOMPARE(journals, size_t(1));
            QCOMPARE(store->ack(1, 1), FERRY_OK); // lands in the new journal
        }
        auto store = openStore(host, dir);
        QVERIFY(store);
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(3));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(249));
        std::string value;
        QCOMPARE(store->metaGet("key19", value), FERRY_OK);
        QCOMPARE(value, std::string("value199"));
    }

    void tornJournalTailIsCut()
    {
        TestHost host;
        const fs::path dir = freshDir();
        const fs::path crashed = freshDir();
        {
            auto store = openStore(host, dir);
            QVERIFY(store);
            QCOMPARE(store->metaPut("kept", "1"), FERRY_OK);
            QCOMPARE(store->sync(), FERRY_OK);
            QCOMPARE(store->metaPut("lost", "2"), FERRY_OK);
            QCOMPARE(store->sync(), FERRY_OK);
            crashCopy(dir, crashed);
        }
        fs::path journal;
        for (const auto &e : fs::directory_iterator(crashed / "state"))
            if (e.path().filename().string().rfind("journal-", 0) == 0)
                journal = e.path();
        QVERIFY(!journal.empty());
        fs::resize_file(journal, fs::file_size(journal) - 3);
        TestHost host2;
        auto store = openStore(host2, crashed);
        QVERIFY(store);
        QVERIFY(host2.logged(FERRY_LOG_WARN, "torn"));
        std::string value;
        QCOMPARE(store->metaGet("kept", value), FERRY_OK);
        QCOMPARE(store->metaGet("lost", value), FERRY_E_NOT_FOUND);
        QCOMPARE(store->metaPut("after", "3"), FERRY_OK);
        store.reset();
        store = openStore(host2, crashed);
        QVERIFY(store);
        QCOMPARE(store->metaGet("after", value), FERRY_OK);
    }

    void indexRebuiltWhenMissing()
    {
        TestHost host;
        host.config["segment_bytes"] = "65536";
        const fs::path dir = freshDir();
        {
            auto store = openStore(host, dir);
            QVERIFY(store);
            QCOMPARE(store->queueCreate(4), FERRY_OK);
            for (uint64_t i = 0; i < 1200; ++i)
                QCOMPARE(store->append(4, i, "", bodyFor(4, i)), FERRY_OK);
            QCOMPARE(store->truncatePrefix(4, 10), FERRY_OK);
        }
        fs::remove(dir / "index" / "4.idx");
        TestHost host2;
        host2.config = host.config;
        auto store = openStore(host2, dir);
        QVERIFY(store);
        QVERIFY(host2.logged(FERRY_LOG_WARN, "rebuilding"));
        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(4, low, next), FERRY_OK);
        QCOMPARE(low, uint64_t(10));
        QCOMPARE(next, uint64_t(1200));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(4, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1190));
        QCOMPARE(records.back().data, bodyFor(4, 1199));
    }

    void indexRebaseAfterTruncation()
    {
        TestHost host;
        const fs::path dir = freshDir();
        auto store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        const uint64_t total = 70000;
        for (uint64_t i = 0; i < total; ++i)
            QCOMPARE(store->append(1, i, "", "r"), FERRY_OK);
        const auto sizeBefore = fs::file_size(dir / "index" / "1.idx");
        QCOMPARE(store->truncatePrefix(1, total - 10), FERRY_OK);
        QCOMPARE(store->maintain(0), FERRY_OK);
        const auto sizeAfter = fs::file_size(dir / "index" / "1.idx");
        QCOMPARE(deletedMappingsUnder(dir), 0); // the replaced index file was unmapped
        QVERIFY2(sizeAfter < sizeBefore, qPrintable(QString("%1 -> %2").arg(sizeBefore).arg(sizeAfter)));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(offsetsOf(records).front(), total - 10);
        QCOMPARE(records.size(), size_t(10));
        QCOMPARE(store->append(1, total, "", "z"), FERRY_OK);
        store.reset();
        store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(11));
        QCOMPARE(records.back().data, std::string("z"));
    }

    void failedAppendLeavesStoreConsistent()
    {
#ifndef __linux__
        QSKIP("simulates a failing write with RLIMIT_FSIZE, which only Linux offers here");
#else
        // A write that fails part-way (here: the file size limit, like a full disk) must not leave a record that
        // later reads or recovery take as valid, and the store must keep working.
        TestHost host;
        host.config["segment_bytes"] = "1048576";
        const fs::path dir = freshDir();
        const fs::path crashed = freshDir();
        auto store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        uint64_t written = 0;
        for (uint64_t i = 0; i < 10; ++i) {
            QCOMPARE(store->append(1, i, "", bodyFor(1, i, 100)), FERRY_OK);
            written += kHeaderBytes + 100;
        }
        const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit saved{};
        QCOMPARE(getrlimit(RLIMIT_FSIZE, &saved), 0);
        rlimit limited = saved;
        limited.rlim_cur = written + kHeaderBytes + 20; // the header fits, the body is cut short
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &limited), 0);
        const ferry_status failed = store->append(1, 10, "", bodyFor(1, 10, 100));
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &saved), 0);
        std::signal(SIGXFSZ, oldHandler);
        QCOMPARE(failed, FERRY_E_IO);
        QVERIFY2(store->lastError.find(".seg") != std::string::npos, store->lastError.c_str());

        uint64_t low = 0, next = 0;
        QCOMPARE(store->bounds(1, low, next), FERRY_OK);
        QCOMPARE(next, uint64_t(10));
        std::vector<RecordCopy> records;
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(10));
        QCOMPARE(store->sync(), FERRY_OK);
        crashCopy(dir, crashed);
        TestHost host2;
        host2.config = host.config;
        {
            auto copy = openStore(host2, crashed); // as after a crash right after the failure
            QVERIFY(copy);
            QCOMPARE(copy->bounds(1, low, next), FERRY_OK);
            QCOMPARE(next, uint64_t(10));
            QVERIFY(!host2.logged(FERRY_LOG_WARN, "torn"));
        }
        uint64_t offset = 0;
        QCOMPARE(store->append(1, 11, "", "short", &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(10));
        QCOMPARE(store->read(1, 10, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(1));
        QCOMPARE(records[0].data, std::string("short"));
        store.reset();
        store = openStore(host, dir);
        QVERIFY(store);
        QCOMPARE(store->read(1, 0, 0, 0, records), FERRY_OK);
        QCOMPARE(records.size(), size_t(11));
        QCOMPARE(records[10].data, std::string("short"));
#endif
    }

    void readsPointIntoMappedSegments()
    {
        // Zero-copy: two reads of the same record hand out the same address, which is not the caller's buffer.
        TestHost host;
        auto store = openStore(host, freshDir());
        QVERIFY(store);
        QCOMPARE(store->queueCreate(1), FERRY_OK);
        const std::string body = bodyFor(1, 0, 200);
        QCOMPARE(store->append(1, 1, "", body), FERRY_OK);
        std::vector<RecordCopy> first, second;
        QCOMPARE(store->read(1, 0, 0, 0, first), FERRY_OK);
        QCOMPARE(store->read(1, 0, 0, 0, second), FERRY_OK);
        QCOMPARE(first.size(), size_t(1));
        QCOMPARE(first[0].pointer, second[0].pointer);
        QVERIFY(first[0].pointer != reinterpret_cast<const uint8_t *>(body.data()));
    }
};

QTEST_GUILESS_MAIN(TestStorageFile)
#include "tst_storage_file.moc"
