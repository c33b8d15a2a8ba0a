// tst_abi_compat: a storage plugin built against the frozen ABI 1.0 headers must load through today's PluginHost
// and its vtable must work. The plugin file comes from the environment variable FERRY_ABI_FIXTURE, set by CTest:
// abi.compat.frozen_headers_build (rebuilt from tests/abi/fixtures/abi_1_0_plugin.c at every build) and, on Linux
// x86_64 only, abi.compat.committed_binary (the binary built once and committed as a test input).
#include "plugin/PluginHost.h"

#include <QTemporaryDir>
#include <QtTest>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

using ferry::LoadedPlugin;
using ferry::PluginHost;

namespace {

constexpr const char *kFixtureName = "abi_1_0_fixture";

struct ReadRecord {
    uint64_t queueId;
    uint64_t offset;
    uint64_t storeTimeMs;
    std::string data;
};

int32_t collectRecord(void *ctx, const ferry_storage_record *record)
{
    static_cast<std::vector<ReadRecord> *>(ctx)->push_back(
        ReadRecord{record->queue_id, record->offset, record->store_time_ms,
                   std::string(reinterpret_cast<const char *>(record->data), record->len)});
    return 0;
}

int32_t collectQueue(void *ctx, uint64_t queueId, uint32_t flags)
{
    (*static_cast<std::map<uint64_t, uint32_t> *>(ctx))[queueId] = flags;
    return 0;
}

int32_t collectOffset(void *ctx, const char *group, size_t groupLen, uint64_t queueId, uint64_t offset)
{
    static_cast<std::vector<std::string> *>(ctx)->push_back(std::string(group, groupLen) + "/" +
                                                             std::to_string(queueId) + "=" + std::to_string(offset));
    return 0;
}

int32_t collectKeyValue(void *ctx, const uint8_t *key, size_t keyLen, const uint8_t *value, size_t valueLen)
{
    const std::string keyText(reinterpret_cast<const char *>(key), keyLen);
    const std::string valueText(reinterpret_cast<const char *>(value), valueLen);
    static_cast<std::vector<std::string> *>(ctx)->push_back(keyText + "=" + valueText);
    return 0;
}

const uint8_t *bytes(const char *text)
{
    return reinterpret_cast<const uint8_t *>(text);
}

PluginHost::ConfigLookup lookupWithMaxRecords(std::string value)
{
    return [value](std::string_view section, std::string_view key) -> std::optional<std::string> {
        if (section == kFixtureName && key == "max_records")
            return value;
        return std::nullopt;
    };
}

} // namespace

class TestAbiCompat : public QObject {
    Q_OBJECT

private:
    std::filesystem::path fixture_;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    QTemporaryDir dataDir_;

    std::vector<ReadRecord> readAll(const LoadedPlugin *plugin, ferry_storage *storage, uint64_t queue, uint64_t from,
                                    uint32_t maxRecords = 100, uint64_t maxBytes = 1 << 20)
    {
        std::vector<ReadRecord> out;
        char err[128] = {};
        const ferry_status st =
            plugin->storage.read(storage, queue, from, maxRecords, maxBytes, &collectRecord, &out, err, sizeof err);
        if (st != FERRY_OK)
            qWarning("read failed: %d %s", st, err);
        return out;
    }

    std::vector<uint64_t> offsetsOf(const std::vector<ReadRecord> &records)
    {
        std::vector<uint64_t> out;
        for (const auto &r : records)
            out.push_back(r.offset);
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        const QByteArray path = qgetenv("FERRY_ABI_FIXTURE");
        QVERIFY2(!path.isEmpty(), "FERRY_ABI_FIXTURE must name the fixture plugin (CTest sets it)");
        fixture_ = std::filesystem::path(QString::fromLocal8Bit(path).toStdU16String());
        QVERIFY2(std::filesystem::is_regular_file(fixture_), path.constData());
        QVERIFY(dataDir_.isValid());

        sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256);
        sink_->set_pattern("%n|%l|%v");
        auto logger = std::make_shared<spdlog::logger>("", sink_);
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
    }

    void loadsWithItsDeclaredFields()
    {
        PluginHost host(lookupWithMaxRecords("4"));
        QVERIFY(host.loadFile(fixture_));
        QVERIFY(host.refusals().empty());
        const LoadedPlugin *plugin = host.find(kFixtureName);
        QVERIFY(plugin != nullptr);
        QCOMPARE(plugin->kind, FERRY_PLUGIN_KIND_STORAGE);
        QCOMPARE(plugin->version, std::string("1.0.0"));
        QCOMPARE(plugin->license, std::string("Apache-2.0"));
        QCOMPARE(plugin->abiMajor, uint16_t(1));
        QCOMPARE(plugin->abiMinor, uint16_t(0));
        QCOMPARE(plugin->configKeys.size(), size_t(1));
        QCOMPARE(plugin->configKeys[0].name, std::string("max_records"));
        QCOMPARE(plugin->configKeys[0].defaultValue, std::string("1024"));
        QVERIFY(plugin->storage.seek_time == nullptr);
        QVERIFY(plugin->storage.maintain == nullptr);
        QVERIFY(plugin->storage.control != nullptr);
        // The kernel's copy is today's struct size, whatever size the 1.0 plugin declared.
        QCOMPARE(plugin->storage.struct_size, uint32_t(sizeof(ferry_storage_vtable)));
    }

    void vtableWorks()
    {
        PluginHost host(lookupWithMaxRecords("4"));
        QVERIFY(host.loadFile(fixture_));
        const LoadedPlugin *plugin = host.find(kFixtureName);
        QVERIFY(plugin != nullptr);
        const ferry_storage_vtable &v = plugin->storage;

        const std::string dir = dataDir_.path().toStdString();
        ferry_storage_options options{};
        options.struct_size = sizeof options;
        options.data_dir = dir.c_str();
        ferry_storage *s = nullptr;
        char err[256] = {};
        QCOMPARE(v.open(plugin->host, &options, &s, err, sizeof err), FERRY_OK);
        QVERIFY(s != nullptr);
        QCOMPARE(v.capabilities(s), uint64_t(0));
        // The plugin logged through its host table, under its own name.
        bool sawOpenLine = false;
        for (const std::string &line : sink_->last_formatted())
            sawOpenLine = sawOpenLine || line.find("abi_1_0_fixture|info|abi 1.0 fixture storage opened") == 0;
        QVERIFY(sawOpenLine);

        // Queues.
        QCOMPARE(v.queue_create(s, 7, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED, err, sizeof err), FERRY_OK);
        QCOMPARE(v.queue_create(s, 7, 0, err, sizeof err), FERRY_E_ALREADY_EXISTS);
        QCOMPARE(v.queue_create(s, 8, 0, err, sizeof err), FERRY_OK);
        std::map<uint64_t, uint32_t> queues;
        QCOMPARE(v.queue_list(s, &collectQueue, &queues, err, sizeof err), FERRY_OK);
        QCOMPARE(queues, (std::map<uint64_t, uint32_t>{{7, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED}, {8, 0}}));

        // Records: append, bounds, read with limits.
        for (uint64_t i = 0; i < 3; ++i) {
            const std::string body = "body-" + std::to_string(i);
            uint64_t offset = 99;
            QCOMPARE(
                v.append(s, 7, 1000 + i, bytes("h"), 1, bytes(body.c_str()), body.size(), &offset, err, sizeof err),
                FERRY_OK);
            QCOMPARE(offset, i);
        }
        uint64_t low = 99, next = 99;
        QCOMPARE(v.queue_bounds(s, 7, &low, &next, err, sizeof err), FERRY_OK);
        QCOMPARE(low, uint64_t(0));
        QCOMPARE(next, uint64_t(3));
        std::vector<ReadRecord> records = readAll(plugin, s, 7, 0);
        QCOMPARE(records.size(), size_t(3));
        for (uint64_t i = 0; i < 3; ++i) {
            QCOMPARE(records[i].queueId, uint64_t(7));
            QCOMPARE(records[i].offset, i);
            QCOMPARE(records[i].storeTimeMs, 1000 + i);
            QCOMPARE(records[i].data, "hbody-" + std::to_string(i));
        }
        QCOMPARE(readAll(plugin, s, 7, 0, 2).size(), size_t(2));
        QCOMPARE(readAll(plugin, s, 7, 1, 100, 1).size(), size_t(1)); // at least one record despite max_bytes
        QCOMPARE(readAll(plugin, s, 8, 0).size(), size_t(0));
        QCOMPARE(v.read(s, 9, 0, 10, 100, &collectRecord, &records, err, sizeof err), FERRY_E_NOT_FOUND);

        // Acks and truncation.
        QCOMPARE(v.ack(s, 7, 1, err, sizeof err), FERRY_OK);
        QCOMPARE(offsetsOf(readAll(plugin, s, 7, 0)), (std::vector<uint64_t>{0, 2}));
        QCOMPARE(v.ack(s, 7, 0, err, sizeof err), FERRY_OK);
        QCOMPARE(v.queue_bounds(s, 7, &low, &next, err, sizeof err), FERRY_OK);
        QCOMPARE(low, uint64_t(2));
        QCOMPARE(v.truncate_prefix(s, 7, 2, err, sizeof err), FERRY_OK);
        QCOMPARE(v.ack(s, 7, 0, err, sizeof err), FERRY_OK); // acking a truncated offset is fine
        QCOMPARE(offsetsOf(readAll(plugin, s, 7, 0)), (std::vector<uint64_t>{2}));
        QCOMPARE(v.truncate_prefix(s, 8, 50, err, sizeof err), FERRY_OK); // clamped to next
        QCOMPARE(v.queue_bounds(s, 8, &low, &next, err, sizeof err), FERRY_OK);
        QCOMPARE(low, uint64_t(0));
        QCOMPARE(next, uint64_t(0));

        // max_records came from the config through the host table ("4" instead of the default 1024).
        uint64_t offset = 0;
        for (int i = 0; i < 3; ++i)
            QCOMPARE(v.append(s, 7, 2000, nullptr, 0, bytes("x"), 1, &offset, err, sizeof err), FERRY_OK);
        QCOMPARE(offset, uint64_t(5));
        QCOMPARE(v.append(s, 7, 2000, nullptr, 0, bytes("x"), 1, &offset, err, sizeof err), FERRY_E_NO_SPACE);

        // control(STATS) writes into the caller's (today's) struct.
        ferry_storage_stats stats{};
        stats.struct_size = sizeof stats;
        QCOMPARE(v.control(s, FERRY_STORAGE_CONTROL_STATS, &stats, err, sizeof err), FERRY_OK);
        QCOMPARE(stats.struct_size, uint32_t(sizeof stats));
        QCOMPARE(stats.queue_count, uint64_t(2));
        QCOMPARE(stats.record_count, uint64_t(4));
        QCOMPARE(v.control(s, 12345, nullptr, err, sizeof err), FERRY_E_UNSUPPORTED);
        QCOMPARE(std::string(err), std::string("unknown control opcode"));

        // Consumer offsets.
        uint64_t got = 0;
        QCOMPARE(v.offset_get(s, "group", 5, 7, &got, err, sizeof err), FERRY_E_NOT_FOUND);
        QCOMPARE(std::string(err), std::string("offset never set"));
        QCOMPARE(v.offset_set(s, "group", 5, 7, 5, err, sizeof err), FERRY_OK);
        QCOMPARE(v.offset_set(s, "group", 5, 7, 6, err, sizeof err), FERRY_OK);
        QCOMPARE(v.offset_set(s, "other", 5, 8, 1, err, sizeof err), FERRY_OK);
        QCOMPARE(v.offset_get(s, "group", 5, 7, &got, err, sizeof err), FERRY_OK);
        QCOMPARE(got, uint64_t(6));
        std::vector<std::string> offsets;
        QCOMPARE(v.offset_list(s, &collectOffset, &offsets, err, sizeof err), FERRY_OK);
        QCOMPARE(offsets, (std::vector<std::string>{"group/7=6", "other/8=1"}));

        // Metadata.
        QCOMPARE(v.meta_put(s, bytes("b"), 1, bytes("2"), 1, err, sizeof err), FERRY_OK);
        QCOMPARE(v.meta_put(s, bytes("ab"), 2, bytes("12"), 2, err, sizeof err), FERRY_OK);
        QCOMPARE(v.meta_put(s, bytes("a"), 1, bytes("0"), 1, err, sizeof err), FERRY_OK);
        QCOMPARE(v.meta_put(s, bytes("a"), 1, bytes("1"), 1, err, sizeof err), FERRY_OK);
        std::vector<std::string> kv;
        QCOMPARE(v.meta_scan(s, nullptr, 0, &collectKeyValue, &kv, err, sizeof err), FERRY_OK);
        QCOMPARE(kv, (std::vector<std::string>{"a=1", "ab=12", "b=2"}));
        kv.clear();
        QCOMPARE(v.meta_scan(s, bytes("a"), 1, &collectKeyValue, &kv, err, sizeof err), FERRY_OK);
        QCOMPARE(kv, (std::vector<std::string>{"a=1", "ab=12"}));
        kv.clear();
        QCOMPARE(v.meta_get(s, bytes("ab"), 2, &collectKeyValue, &kv, err, sizeof err), FERRY_OK);
        QCOMPARE(kv, (std::vector<std::string>{"ab=12"}));
        QCOMPARE(v.meta_delete(s, bytes("a"), 1, err, sizeof err), FERRY_OK);
        QCOMPARE(v.meta_delete(s, bytes("a"), 1, err, sizeof err), FERRY_E_NOT_FOUND);
        QCOMPARE(v.meta_get(s, bytes("a"), 1, &collectKeyValue, &kv, err, sizeof err), FERRY_E_NOT_FOUND);

        // Deleting a queue drops its consumer offsets.
        QCOMPARE(v.queue_delete(s, 8, err, sizeof err), FERRY_OK);
        QCOMPARE(v.queue_delete(s, 8, err, sizeof err), FERRY_E_NOT_FOUND);
        offsets.clear();
        QCOMPARE(v.offset_list(s, &collectOffset, &offsets, err, sizeof err), FERRY_OK);
        QCOMPARE(offsets, (std::vector<std::string>{"group/7=6"}));

        QCOMPARE(v.sync(s, err, sizeof err), FERRY_OK);
        v.close(s);
    }

    void badConfigReachesThePlugin()
    {
        PluginHost host(lookupWithMaxRecords("not a number"));
        QVERIFY(host.loadFile(fixture_));
        const LoadedPlugin *plugin = host.find(kFixtureName);
        QVERIFY(plugin != nullptr);
        ferry_storage_options options{};
        options.struct_size = sizeof options;
        options.data_dir = ".";
        ferry_storage *s = nullptr;
        char err[256] = {};
        QCOMPARE(plugin->storage.open(plugin->host, &options, &s, err, sizeof err), FERRY_E_CONFIG);
        QCOMPARE(std::string(err), std::string("max_records must be a positive integer"));
    }
};

QTEST_GUILESS_MAIN(TestAbiCompat)
#include "tst_abi_compat.moc"
