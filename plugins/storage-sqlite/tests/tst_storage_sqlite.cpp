// tst_storage_sqlite -- unit tests of the `sqlite` storage plugin, loaded the way the kernel loads it: Boost.DLL
// resolves ferry_plugin_query from the built module, and a minimal ferry_host defined here answers config_get from
// the declared defaults plus per-test overrides. Each test works in its own QTemporaryDir.
//
// The executable doubles as the child process of crashKeepsSyncedState: `tst_storage_sqlite --crash-child <dir>`
// appends, syncs, appends more and exits without closing.
#include <ferry/ferry_plugin.h>
#include <ferry/ferry_storage.h>

#include <boost/dll/shared_library.hpp>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace {

// ---- the minimal host -------------------------------------------------------------------------------------------

struct HostState {
    const ferry_plugin_descriptor *descriptor = nullptr;
    std::map<std::string, std::string> overrides; // config values set by a test
    QStringList logLines;
};
HostState g_hostState;

void host_log(void *, int32_t level, const char *text, size_t len)
{
    g_hostState.logLines << QStringLiteral("[%1] %2").arg(level).arg(QString::fromUtf8(text, qsizetype(len)));
}

ferry_status host_config_get(void *, const char *key, char *buf, size_t cap, size_t *len_out)
{
    std::string value;
    bool found = false;
    if (const auto it = g_hostState.overrides.find(key); it != g_hostState.overrides.end()) {
        value = it->second;
        found = true;
    }
    const ferry_plugin_descriptor *d = g_hostState.descriptor;
    for (uint32_t i = 0; !found && d != nullptr && i < d->config_key_count; ++i) {
        if (std::strcmp(d->config_keys[i].name, key) == 0) {
            value = d->config_keys[i].default_value;
            found = true;
        }
    }
    if (!found)
        return FERRY_E_NOT_FOUND;
    if (len_out != nullptr)
        *len_out = value.size();
    if (cap == 0)
        return FERRY_E_TOO_LARGE;
    const size_t n = std::min(value.size(), cap - 1);
    std::memcpy(buf, value.data(), n);
    buf[n] = '\0';
    return n == value.size() ? FERRY_OK : FERRY_E_TOO_LARGE;
}

uint64_t host_now_ms(void *)
{
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

uint64_t host_monotonic_ms(void *)
{
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
}

const ferry_host g_host = {sizeof(ferry_host), FERRY_ABI_MAJOR, FERRY_ABI_MINOR, nullptr, host_log,
                           host_config_get,    host_now_ms,     host_monotonic_ms};

// ---- plugin loading ---------------------------------------------------------------------------------------------

using QueryFn = ferry_status(const ferry_host *, const ferry_plugin_descriptor **, char *, size_t);

boost::dll::shared_library &pluginLibrary()
{
    // Plugins are never unloaded; the library lives until the process exits.
    static boost::dll::shared_library library(FERRY_STORAGE_SQLITE_PLUGIN_FILE);
    return library;
}

QueryFn *pluginQuery()
{
    return &pluginLibrary().get<QueryFn>(FERRY_PLUGIN_ENTRY_SYMBOL);
}

const ferry_storage_vtable *loadVtable()
{
    const ferry_plugin_descriptor *descriptor = nullptr;
    char err[256] = {};
    if (pluginQuery()(&g_host, &descriptor, err, sizeof err) != FERRY_OK || descriptor == nullptr)
        qFatal("ferry_plugin_query failed: %s", err);
    g_hostState.descriptor = descriptor;
    return static_cast<const ferry_storage_vtable *>(descriptor->vtable);
}

// ---- helpers over the C ABI -------------------------------------------------------------------------------------

struct Record {
    uint64_t queueId;
    uint64_t offset;
    uint64_t storeTime;
    QByteArray data;
};

struct ReadResult {
    ferry_status status = FERRY_OK;
    std::vector<Record> records;
    QString error;
};

struct RecordSinkState {
    std::vector<Record> *records;
    size_t stopAfter; // sink returns non-zero after this many records
};

int32_t record_sink(void *ctx, const ferry_storage_record *r)
{
    auto *state = static_cast<RecordSinkState *>(ctx);
    state->records->push_back(
        Record{r->queue_id, r->offset, r->store_time_ms, QByteArray(reinterpret_cast<const char *>(r->data), qsizetype(r->len))});
    return state->records->size() >= state->stopAfter ? 1 : 0;
}

using KvList = std::vector<std::pair<QByteArray, QByteArray>>;

int32_t kv_sink(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len)
{
    static_cast<KvList *>(ctx)->emplace_back(QByteArray(reinterpret_cast<const char *>(key), qsizetype(key_len)),
                                             QByteArray(reinterpret_cast<const char *>(value), qsizetype(value_len)));
    return 0;
}

QByteArray bytes(const char *text) { return QByteArray(text); }

// One open store; closes it when destroyed.
class Store {
public:
    Store(const ferry_storage_vtable *vt, const QString &dir, uint64_t retentionMs = 0, uint64_t retentionBytes = 0)
        : vt_(vt)
    {
        const QByteArray dirUtf8 = dir.toUtf8();
        ferry_storage_options options{sizeof options, dirUtf8.constData(), retentionMs, retentionBytes};
        char err[512] = {};
        openStatus = vt_->open(&g_host, &options, &s, err, sizeof err);
        openError = QString::fromUtf8(err);
    }
    ~Store() { close(); }
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    void close()
    {
        if (s != nullptr)
            vt_->close(s);
        s = nullptr;
    }
    bool ok() const { return openStatus == FERRY_OK && s != nullptr; }

    ferry_status createQueue(uint64_t q, uint32_t flags = 0)
    {
        return vt_->queue_create(s, q, flags, err, sizeof err);
    }
    ferry_status append(uint64_t q, uint64_t time, const QByteArray &head, const QByteArray &body,
                        uint64_t *offset = nullptr)
    {
        uint64_t ignored = 0;
        return vt_->append(s, q, time, reinterpret_cast<const uint8_t *>(head.constData()), size_t(head.size()),
                           reinterpret_cast<const uint8_t *>(body.constData()), size_t(body.size()),
                           offset != nullptr ? offset : &ignored, err, sizeof err);
    }
    ReadResult read(uint64_t q, uint64_t from, uint32_t maxRecords = 0, uint64_t maxBytes = 0,
                    size_t stopAfter = std::numeric_limits<size_t>::max())
    {
        ReadResult result;
        RecordSinkState state{&result.records, stopAfter};
        result.status = vt_->read(s, q, from, maxRecords, maxBytes, record_sink, &state, err, sizeof err);
        result.error = QString::fromUtf8(err);
        return result;
    }
    std::vector<uint64_t> offsets(uint64_t q, uint64_t from = 0)
    {
        std::vector<uint64_t> out;
        for (const Record &r : read(q, from).records)
            out.push_back(r.offset);
        return out;
    }
    std::pair<uint64_t, uint64_t> bounds(uint64_t q)
    {
        uint64_t low = 99999, next = 99999;
        const ferry_status st = vt_->queue_bounds(s, q, &low, &next, err, sizeof err);
        if (st != FERRY_OK)
            return {uint64_t(st), uint64_t(st)};
        return {low, next};
    }
    ferry_status ack(uint64_t q, uint64_t offset) { return vt_->ack(s, q, offset, err, sizeof err); }
    ferry_status truncate(uint64_t q, uint64_t low) { return vt_->truncate_prefix(s, q, low, err, sizeof err); }
    ferry_status sync() { return vt_->sync(s, err, sizeof err); }
    uint64_t seek(uint64_t q, uint64_t time)
    {
        uint64_t offset = 12345;
        const ferry_status st = vt_->seek_time(s, q, time, &offset, err, sizeof err);
        return st == FERRY_OK ? offset : uint64_t(st);
    }
    ferry_status metaPut(const QByteArray &key, const QByteArray &value)
    {
        return vt_->meta_put(s, reinterpret_cast<const uint8_t *>(key.constData()), size_t(key.size()),
                             reinterpret_cast<const uint8_t *>(value.constData()), size_t(value.size()), err,
                             sizeof err);
    }
    KvList metaScan(const QByteArray &prefix)
    {
        KvList out;
        const ferry_status st = vt_->meta_scan(s, reinterpret_cast<const uint8_t *>(prefix.constData()),
                                               size_t(prefix.size()), kv_sink, &out, err, sizeof err);
        if (st != FERRY_OK)
            out.emplace_back("ERROR", QByteArray::number(st));
        return out;
    }
    ferry_storage_stats stats()
    {
        ferry_storage_stats out{};
        out.struct_size = sizeof out;
        if (vt_->control(s, FERRY_STORAGE_CONTROL_STATS, &out, err, sizeof err) != FERRY_OK)
            out.queue_count = std::numeric_limits<uint64_t>::max();
        return out;
    }

    const ferry_storage_vtable *vt_;
    ferry_storage *s = nullptr;
    ferry_status openStatus = FERRY_E_INTERNAL;
    QString openError;
    char err[512] = {};
};


// Appends `count` records "<prefix><i>" with store time base + i, head "h". Returns false on the first failure.
bool appendMany(Store &store, uint64_t q, int count, const char *prefix, uint64_t timeBase = 1000)
{
    for (int i = 0; i < count; ++i)
        if (store.append(q, timeBase + uint64_t(i), "h", QByteArray(prefix) + QByteArray::number(i)) != FERRY_OK)
            return false;
    return true;
}

} // namespace

class TestStorageSqlite : public QObject {
    Q_OBJECT

private:
    const ferry_storage_vtable *vt = nullptr;

private Q_SLOTS:
    void initTestCase()
    {
        vt = loadVtable();
        QVERIFY(vt != nullptr);
    }

    void init() { g_hostState.overrides.clear(); }

    void descriptorAndCapabilities()
    {
        const ferry_plugin_descriptor *d = g_hostState.descriptor;
        QCOMPARE(d->struct_size, uint32_t(sizeof(ferry_plugin_descriptor)));
        QCOMPARE(d->kind, FERRY_PLUGIN_KIND_STORAGE);
        QCOMPARE(QByteArray(d->name), QByteArray("sqlite"));
        QCOMPARE(d->abi_major, uint16_t(FERRY_ABI_MAJOR));
        QCOMPARE(vt->struct_size, uint32_t(sizeof(ferry_storage_vtable)));
        QVERIFY(vt->open && vt->close && vt->capabilities && vt->queue_create && vt->queue_delete &&
                vt->queue_list && vt->queue_bounds && vt->append && vt->read && vt->ack && vt->truncate_prefix &&
                vt->seek_time && vt->offset_set && vt->offset_get && vt->offset_list && vt->meta_put &&
                vt->meta_get && vt->meta_delete && vt->meta_scan && vt->sync && vt->maintain && vt->control);
        QStringList keys;
        for (uint32_t i = 0; i < d->config_key_count; ++i)
            keys << QString::fromUtf8(d->config_keys[i].name) + "=" + d->config_keys[i].default_value;
        QCOMPARE(keys, QStringList({"cache_kib=16384", "wal_autocheckpoint_pages=1000"}));

        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY2(store.ok(), qPrintable(store.openError));
        const uint64_t caps = vt->capabilities(store.s);
        QCOMPARE(caps, uint64_t(FERRY_STORAGE_CAP_DURABLE_SYNC | FERRY_STORAGE_CAP_TIME_INDEX |
                                FERRY_STORAGE_CAP_RETENTION));
        QVERIFY(QFile::exists(dir.filePath("ferry.db")));
        char err[128] = {};
        QCOMPARE(vt->control(store.s, 999, nullptr, err, sizeof err), FERRY_E_UNSUPPORTED);
        QVERIFY(QByteArray(err).contains("999"));
    }

    void abiMismatchRefused()
    {
        ferry_host newer = g_host;
        newer.abi_major = FERRY_ABI_MAJOR + 1;
        const ferry_plugin_descriptor *d = nullptr;
        char err[256] = {};
        QCOMPARE(pluginQuery()(&newer, &d, err, sizeof err), FERRY_E_ABI_MISMATCH);
        QVERIFY2(QByteArray(err).contains(QByteArray::number(FERRY_ABI_MAJOR + 1) + "." + QByteArray::number(newer.abi_minor)), err);
        QCOMPARE(pluginQuery()(&g_host, nullptr, err, sizeof err), FERRY_E_INVALID_ARGUMENT);
    }

    void appendAndReadRoundTrip()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY2(store.ok(), qPrintable(store.openError));
        QCOMPARE(store.createQueue(7), FERRY_OK);
        QCOMPARE(store.createQueue(8), FERRY_OK);
        const QByteArray binary("\x00\x01\xff\x00tail", 8);
        struct Case {
            QByteArray head, body;
        };
        const std::vector<Case> cases = {{"head", "body"}, {"", "only-body"}, {"only-head", ""}, {"", ""},
                                         {binary, binary}};
        for (size_t i = 0; i < cases.size(); ++i) {
            uint64_t offset = 999;
            QCOMPARE(store.append(7, 5000 + i, cases[i].head, cases[i].body, &offset), FERRY_OK);
            QCOMPARE(offset, uint64_t(i));
        }
        uint64_t other = 999;
        QCOMPARE(store.append(8, 1, "x", "y", &other), FERRY_OK);
        QCOMPARE(other, uint64_t(0)); // offsets are per queue

        const ReadResult r = store.read(7, 0);
        QCOMPARE(r.status, FERRY_OK);
        QCOMPARE(r.records.size(), cases.size());
        for (size_t i = 0; i < cases.size(); ++i) {
            QCOMPARE(r.records[i].queueId, uint64_t(7));
            QCOMPARE(r.records[i].offset, uint64_t(i));
            QCOMPARE(r.records[i].storeTime, uint64_t(5000 + i));
            QCOMPARE(r.records[i].data, cases[i].head + cases[i].body);
        }
        QCOMPARE(store.read(8, 0).records.at(0).data, QByteArray("xy"));

        QCOMPARE(store.append(42, 1, "a", "b"), FERRY_E_NOT_FOUND);
        QCOMPARE(store.read(42, 0).status, FERRY_E_NOT_FOUND);
        QVERIFY(store.read(42, 0).error.contains("42"));
        QCOMPARE(store.read(7, 100).records.size(), size_t(0));
    }

    void readLimits()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(1), FERRY_OK);
        for (int i = 0; i < 10; ++i) // record i is 10 bytes: "h" + 9 bytes
            QCOMPARE(store.append(1, 100, "h", QByteArray(9, char('a' + i))), FERRY_OK);

        QCOMPARE(store.read(1, 0, 3).records.size(), size_t(3));
        QCOMPARE(store.read(1, 4, 3).records.front().offset, uint64_t(4));
        QCOMPARE(store.read(1, 0, 0).records.size(), size_t(10));          // 0: no record limit
        QCOMPARE(store.read(1, 0, 0, 25).records.size(), size_t(2));       // 20 bytes fit, the third would not
        QCOMPARE(store.read(1, 0, 0, 30).records.size(), size_t(3));       // exactly full
        QCOMPARE(store.read(1, 0, 0, 1).records.size(), size_t(1));        // at least one record
        QCOMPARE(store.read(1, 0, 2, 1000).records.size(), size_t(2));    // the smaller limit wins
        const ReadResult stopped = store.read(1, 0, 0, 0, 4);              // the sink stops the read
        QCOMPARE(stopped.status, FERRY_OK);
        QCOMPARE(stopped.records.size(), size_t(4));
        QCOMPARE(store.read(1, 9, 5).records.size(), size_t(1));
        QCOMPARE(store.read(1, 10, 5).records.size(), size_t(0));
    }

    void boundsAckAndTruncate()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(3), FERRY_OK);
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(0), uint64_t(0)));
        QVERIFY(appendMany(store, 3, 10, "m"));
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(0), uint64_t(10)));

        QCOMPARE(store.ack(3, 0), FERRY_OK);
        QCOMPARE(store.ack(3, 5), FERRY_OK);
        QCOMPARE(store.ack(3, 5), FERRY_OK); // acking twice is fine
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(1), uint64_t(10)));
        QCOMPARE(store.offsets(3), std::vector<uint64_t>({1, 2, 3, 4, 6, 7, 8, 9}));
        QCOMPARE(store.offsets(3, 5), std::vector<uint64_t>({6, 7, 8, 9}));
        QCOMPARE(store.ack(3, 1), FERRY_OK);
        QCOMPARE(store.bounds(3).first, uint64_t(2));

        QCOMPARE(store.truncate(3, 4), FERRY_OK);
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(4), uint64_t(10)));
        QCOMPARE(store.offsets(3), std::vector<uint64_t>({4, 6, 7, 8, 9}));
        QCOMPARE(store.truncate(3, 2), FERRY_OK); // never moves back
        QCOMPARE(store.bounds(3).first, uint64_t(4));
        QCOMPARE(store.ack(3, 2), FERRY_OK); // truncated offset
        QCOMPARE(store.truncate(3, 6), FERRY_OK);
        QCOMPARE(store.bounds(3).first, uint64_t(6)); // 5 was acked, so 6 is first

        QCOMPARE(store.truncate(3, 1000), FERRY_OK); // clamped to next
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(10), uint64_t(10)));
        QCOMPARE(store.read(3, 0).records.size(), size_t(0));
        uint64_t offset = 0;
        QCOMPARE(store.append(3, 1, "", "after", &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(10));
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(10), uint64_t(11)));

        QCOMPARE(store.ack(3, 11), FERRY_E_INVALID_ARGUMENT); // never appended
        QCOMPARE(store.ack(99, 0), FERRY_E_NOT_FOUND);
        QCOMPARE(store.truncate(99, 0), FERRY_E_NOT_FOUND);
        QCOMPARE(store.bounds(99).first, uint64_t(FERRY_E_NOT_FOUND));
        QCOMPARE(store.ack(3, 10), FERRY_OK);
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(11), uint64_t(11)));
    }

    void queueLifecycle()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(5, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED), FERRY_OK);
        QCOMPARE(store.createQueue(2), FERRY_OK);
        QCOMPARE(store.createQueue(5), FERRY_E_ALREADY_EXISTS);
        QVERIFY(QByteArray(store.err).contains("5"));

        std::vector<std::pair<uint64_t, uint32_t>> listed;
        auto queueSink = [](void *ctx, uint64_t q, uint32_t flags) -> int32_t {
            static_cast<std::vector<std::pair<uint64_t, uint32_t>> *>(ctx)->emplace_back(q, flags);
            return 0;
        };
        QCOMPARE(vt->queue_list(store.s, queueSink, &listed, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(listed, (std::vector<std::pair<uint64_t, uint32_t>>{{2, 0}, {5, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED}}));

        QVERIFY(appendMany(store, 5, 3, "x"));
        QCOMPARE(vt->offset_set(store.s, "g", 1, 5, 2, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(vt->offset_set(store.s, "g", 1, 2, 1, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(vt->queue_delete(store.s, 5, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(vt->queue_delete(store.s, 5, store.err, sizeof store.err), FERRY_E_NOT_FOUND);
        uint64_t offset = 0;
        QCOMPARE(vt->offset_get(store.s, "g", 1, 5, &offset, store.err, sizeof store.err), FERRY_E_NOT_FOUND);
        QCOMPARE(vt->offset_get(store.s, "g", 1, 2, &offset, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(offset, uint64_t(1));

        // A re-created queue starts empty at offset 0, also across a reopen.
        QCOMPARE(store.createQueue(5), FERRY_OK);
        QCOMPARE(store.bounds(5), std::make_pair(uint64_t(0), uint64_t(0)));
        QCOMPARE(store.read(5, 0).records.size(), size_t(0));
        QCOMPARE(store.sync(), FERRY_OK);
        store.close();
        Store again(vt, dir.path());
        QVERIFY(again.ok());
        QCOMPARE(again.bounds(5), std::make_pair(uint64_t(0), uint64_t(0)));
        QCOMPARE(again.stats().record_count, uint64_t(0));
    }

    void consumerOffsets()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        const char groupWithNul[] = {'a', '\0', 'b'};
        QCOMPARE(vt->offset_set(store.s, "beta", 4, 1, 10, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(vt->offset_set(store.s, "alpha", 5, 2, 20, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(vt->offset_set(store.s, "alpha", 5, 1, 30, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(vt->offset_set(store.s, groupWithNul, 3, 1, 40, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(vt->offset_set(store.s, "beta", 4, 1, 11, store.err, sizeof store.err), FERRY_OK); // overwrite

        uint64_t value = 0;
        QCOMPARE(vt->offset_get(store.s, "beta", 4, 1, &value, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(value, uint64_t(11));
        QCOMPARE(vt->offset_get(store.s, groupWithNul, 3, 1, &value, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(value, uint64_t(40));
        QCOMPARE(vt->offset_get(store.s, "a", 1, 1, &value, store.err, sizeof store.err), FERRY_E_NOT_FOUND);
        QCOMPARE(vt->offset_get(store.s, "beta", 4, 2, &value, store.err, sizeof store.err), FERRY_E_NOT_FOUND);

        QStringList listed;
        auto offsetSink = [](void *ctx, const char *group, size_t len, uint64_t q, uint64_t offset) -> int32_t {
            *static_cast<QStringList *>(ctx) << QStringLiteral("%1/%2=%3")
                                                    .arg(QString::fromLatin1(QByteArray(group, qsizetype(len)).toHex()))
                                                    .arg(q)
                                                    .arg(offset);
            return 0;
        };
        QCOMPARE(vt->offset_list(store.s, offsetSink, &listed, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(listed, QStringList({"610062/1=40", "616c706861/1=30", "616c706861/2=20", "62657461/1=11"}));
    }

    void metaScanOrder()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        const std::vector<QByteArray> keys = {bytes("b"),           QByteArray("a\x00", 2), bytes("a"),
                                              bytes("a\xff"),        bytes("a\xff\xff"),     bytes("ab"),
                                              bytes("\xff"),         QByteArray("\x00", 1),  bytes("\x7f"),
                                              bytes("\x80")};
        for (const QByteArray &k : keys)
            QCOMPARE(store.metaPut(k, "v-" + k.toHex()), FERRY_OK);
        QCOMPARE(store.metaPut("", ""), FERRY_OK);         // empty key and value
        QCOMPARE(store.metaPut("ab", "second"), FERRY_OK); // overwrite

        // memcmp order: a shorter key first when it is a prefix; 'b' (0x62) sorts before 0xff.
        QList<QByteArray> expected = {QByteArray(), QByteArray("\x00", 1), "a", QByteArray("a\x00", 2), "ab",
                                      "a\xff", "a\xff\xff", "b", "\x7f", "\x80", "\xff"};
        auto keysOf = [](const KvList &list) {
            QList<QByteArray> out;
            for (const auto &[k, v] : list)
                out << k;
            return out;
        };
        const KvList all = store.metaScan("");
        QCOMPARE(keysOf(all), expected);
        QCOMPARE(all[0].second, QByteArray());
        QCOMPARE(all[4].second, QByteArray("second"));
        QCOMPARE(keysOf(store.metaScan("a")),
                 QList<QByteArray>({"a", QByteArray("a\x00", 2), "ab", "a\xff", "a\xff\xff"}));
        QCOMPARE(keysOf(store.metaScan("a\xff")), QList<QByteArray>({"a\xff", "a\xff\xff"}));
        QCOMPARE(keysOf(store.metaScan("\xff")), QList<QByteArray>({"\xff"}));
        QCOMPARE(keysOf(store.metaScan("zz")), QList<QByteArray>());

        KvList got;
        QCOMPARE(vt->meta_get(store.s, reinterpret_cast<const uint8_t *>("a\xff"), 2, kv_sink, &got, store.err,
                              sizeof store.err),
                 FERRY_OK);
        QCOMPARE(got.size(), size_t(1));
        QCOMPARE(got[0].second, QByteArray("v-61ff"));
        QCOMPARE(vt->meta_get(store.s, reinterpret_cast<const uint8_t *>("nope"), 4, kv_sink, &got, store.err,
                              sizeof store.err),
                 FERRY_E_NOT_FOUND);
        QCOMPARE(vt->meta_delete(store.s, reinterpret_cast<const uint8_t *>("b"), 1, store.err, sizeof store.err),
                 FERRY_OK);
        QCOMPARE(vt->meta_delete(store.s, reinterpret_cast<const uint8_t *>("b"), 1, store.err, sizeof store.err),
                 FERRY_E_NOT_FOUND);
        expected.removeAll("b");
        QCOMPARE(keysOf(store.metaScan("")), expected);
    }

    void reopenKeepsSyncedState()
    {
        QTemporaryDir dir;
        {
            Store store(vt, dir.path());
            QVERIFY(store.ok());
            QCOMPARE(store.createQueue(1), FERRY_OK);
            QCOMPARE(store.createQueue(2, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED), FERRY_OK);
            QVERIFY(appendMany(store, 1, 20, "one-"));
            QVERIFY(appendMany(store, 2, 3, "two-"));
            QCOMPARE(store.ack(1, 7), FERRY_OK);
            QCOMPARE(store.truncate(1, 5), FERRY_OK);
            for (uint64_t o = 0; o < 3; ++o)
                QCOMPARE(store.ack(2, o), FERRY_OK); // queue 2 fully acked: next must survive without records
            QCOMPARE(vt->offset_set(store.s, "grp", 3, 1, 12, store.err, sizeof store.err), FERRY_OK);
            QCOMPARE(store.metaPut("topic/a", "config"), FERRY_OK);
            QCOMPARE(store.sync(), FERRY_OK);
            // close() syncs too: these are durable without an explicit sync.
            QCOMPARE(store.metaPut("topic/b", "late"), FERRY_OK);
            QCOMPARE(store.append(1, 9999, "", "closing"), FERRY_OK);
        }
        Store store(vt, dir.path());
        QVERIFY2(store.ok(), qPrintable(store.openError));
        QCOMPARE(store.bounds(1), std::make_pair(uint64_t(5), uint64_t(21)));
        QCOMPARE(store.bounds(2), std::make_pair(uint64_t(3), uint64_t(3)));
        const ReadResult r = store.read(1, 0);
        QCOMPARE(r.records.size(), size_t(15)); // 5..20 without 7
        QCOMPARE(r.records.front().data, QByteArray("hone-5"));
        QCOMPARE(r.records[2].offset, uint64_t(8));
        QCOMPARE(r.records.back().data, QByteArray("closing"));
        uint64_t offset = 0;
        QCOMPARE(store.append(2, 1, "", "new", &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(3));
        QCOMPARE(vt->offset_get(store.s, "grp", 3, 1, &offset, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(offset, uint64_t(12));
        QCOMPARE(store.metaScan("topic/").size(), size_t(2));
        const ferry_storage_stats st = store.stats();
        QCOMPARE(st.queue_count, uint64_t(2));
        QCOMPARE(st.record_count, uint64_t(16));
    }

    void crashKeepsSyncedState()
    {
        QTemporaryDir dir;
        QProcess child;
        child.start(QCoreApplication::applicationFilePath(), {"--crash-child", dir.path()});
        QVERIFY(child.waitForFinished(60000));
        QCOMPARE(child.exitStatus(), QProcess::NormalExit);
        QVERIFY2(child.exitCode() == 3, child.readAllStandardError().constData());

        Store store(vt, dir.path());
        QVERIFY2(store.ok(), qPrintable(store.openError));
        // 100 synced appends survive; the 50 after the last sync were never committed.
        QCOMPARE(store.bounds(1), std::make_pair(uint64_t(0), uint64_t(100)));
        const ReadResult r = store.read(1, 0);
        QCOMPARE(r.status, FERRY_OK);
        QCOMPARE(r.records.size(), size_t(100));
        QCOMPARE(r.records.back().data, QByteArray("hsynced-99"));
        QCOMPARE(store.metaScan("").size(), size_t(1));
        uint64_t offset = 0;
        QCOMPARE(store.append(1, 1, "", "after-crash", &offset), FERRY_OK);
        QCOMPARE(offset, uint64_t(100));
    }

    void seekTime()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(1), FERRY_OK);
        QCOMPARE(store.seek(1, 0), uint64_t(0)); // empty: next
        const uint64_t times[] = {100, 200, 150, 300, 300, 400};
        for (const uint64_t t : times)
            QCOMPARE(store.append(1, t, "", "r"), FERRY_OK);
        QCOMPARE(store.seek(1, 0), uint64_t(0));
        QCOMPARE(store.seek(1, 100), uint64_t(0));
        QCOMPARE(store.seek(1, 101), uint64_t(1));
        QCOMPARE(store.seek(1, 160), uint64_t(1)); // first offset whose time is >= 160 (not the nearest time)
        QCOMPARE(store.seek(1, 201), uint64_t(3));
        QCOMPARE(store.seek(1, 400), uint64_t(5));
        QCOMPARE(store.seek(1, 401), uint64_t(6)); // none: next
        QCOMPARE(store.ack(1, 3), FERRY_OK);
        QCOMPARE(store.seek(1, 201), uint64_t(4)); // acked records are skipped
        QCOMPARE(store.truncate(1, 2), FERRY_OK);
        QCOMPARE(store.seek(1, 0), uint64_t(2));
        QCOMPARE(store.seek(77, 0), uint64_t(FERRY_E_NOT_FOUND));
    }

    void extremeValues()
    {
        QTemporaryDir dir;
        const uint64_t maxId = std::numeric_limits<uint64_t>::max();
        const uint64_t bigTime = (uint64_t(1) << 63) + 5; // above INT64_MAX
        {
            Store store(vt, dir.path());
            QVERIFY(store.ok());
            QCOMPARE(store.createQueue(maxId), FERRY_OK);
            QCOMPARE(store.append(maxId, 10, "", "small"), FERRY_OK);
            QCOMPARE(store.append(maxId, bigTime, "", "big"), FERRY_OK);
            QCOMPARE(store.append(maxId, maxId, "", "max"), FERRY_OK);
            QCOMPARE(store.append(maxId, 20, "", "small-again"), FERRY_OK);
            QCOMPARE(store.seek(maxId, 11), uint64_t(1));
            QCOMPARE(store.seek(maxId, bigTime + 1), uint64_t(2));
            QCOMPARE(store.seek(maxId, maxId), uint64_t(2));
            QCOMPARE(store.seek(maxId, 15), uint64_t(1));
            QCOMPARE(vt->offset_set(store.s, "g", 1, maxId, maxId, store.err, sizeof store.err), FERRY_OK);
        }
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        const ReadResult r = store.read(maxId, 0);
        QCOMPARE(r.records.size(), size_t(4));
        QCOMPARE(r.records[1].storeTime, bigTime);
        QCOMPARE(r.records[2].storeTime, maxId);
        QCOMPARE(r.records[2].queueId, maxId);
        uint64_t offset = 0;
        QCOMPARE(vt->offset_get(store.s, "g", 1, maxId, &offset, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(offset, maxId);
    }

    void largeRecord()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(1), FERRY_OK);
        QByteArray body(3 * 1024 * 1024 + 17, Qt::Uninitialized);
        for (qsizetype i = 0; i < body.size(); ++i)
            body[i] = char((i * 131) ^ (i >> 9));
        QCOMPARE(store.append(1, 1, "head", body), FERRY_OK);
        QCOMPARE(store.append(1, 2, "", "small"), FERRY_OK);
        QCOMPARE(store.sync(), FERRY_OK);
        const ReadResult r = store.read(1, 0, 0, 1024); // bigger than max_bytes: still delivered alone
        QCOMPARE(r.status, FERRY_OK);
        QCOMPARE(r.records.size(), size_t(1));
        QVERIFY(r.records[0].data == "head" + body);
    }

    void retentionByAge()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path(), /*retention_ms=*/1000);
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(1), FERRY_OK);
        QCOMPARE(store.createQueue(2, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED), FERRY_OK);
        for (uint64_t t : {1000, 2000, 3000, 4000, 5000}) {
            QCOMPARE(store.append(1, t, "", "a"), FERRY_OK);
            QCOMPARE(store.append(2, t, "", "b"), FERRY_OK);
        }
        QCOMPARE(vt->maintain(store.s, 500, store.err, sizeof store.err), FERRY_OK); // now < retention: nothing
        QCOMPARE(store.bounds(1).first, uint64_t(0));
        QCOMPARE(vt->maintain(store.s, 4000, store.err, sizeof store.err), FERRY_OK); // keep time >= 3000
        QCOMPARE(store.bounds(1), std::make_pair(uint64_t(2), uint64_t(5)));
        QCOMPARE(store.bounds(2), std::make_pair(uint64_t(0), uint64_t(5))); // retained until acked
        QCOMPARE(vt->maintain(store.s, 100000, store.err, sizeof store.err), FERRY_OK);
        QCOMPARE(store.bounds(1), std::make_pair(uint64_t(5), uint64_t(5)));
        QCOMPARE(store.read(2, 0).records.size(), size_t(5));
        QCOMPARE(store.stats().record_count, uint64_t(5));
    }

    void retentionBySize()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path(), 0, /*retention_bytes=*/250);
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(1), FERRY_OK);
        QCOMPARE(store.createQueue(2), FERRY_OK);
        QCOMPARE(store.createQueue(3, FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED), FERRY_OK);
        const QByteArray record(50, 'x');
        // Interleaved store times: queue 1 holds times 10,30,50,70; queue 2 holds 20,40,60,80 (8 x 50 = 400 bytes).
        for (uint64_t i = 0; i < 4; ++i) {
            QCOMPARE(store.append(1, 10 + 20 * i, "", record), FERRY_OK);
            QCOMPARE(store.append(2, 20 + 20 * i, "", record), FERRY_OK);
        }
        QCOMPARE(store.append(3, 1, "", record), FERRY_OK); // oldest of all, but retained: 450 bytes in total
        QCOMPARE(vt->maintain(store.s, 1000, store.err, sizeof store.err), FERRY_OK);
        // 200 bytes had to go: the four oldest records of queues 1 and 2 (times 10, 20, 30, 40).
        QCOMPARE(store.bounds(1), std::make_pair(uint64_t(2), uint64_t(4)));
        QCOMPARE(store.bounds(2), std::make_pair(uint64_t(2), uint64_t(4)));
        QCOMPARE(store.bounds(3), std::make_pair(uint64_t(0), uint64_t(1)));
        QCOMPARE(store.stats().record_count, uint64_t(5));
        QCOMPARE(vt->maintain(store.s, 1000, store.err, sizeof store.err), FERRY_OK); // already under the limit
        QCOMPARE(store.stats().record_count, uint64_t(5));
    }

    void stats()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        ferry_storage_stats st = store.stats();
        QCOMPARE(st.queue_count, uint64_t(0));
        QCOMPARE(st.record_count, uint64_t(0));
        QCOMPARE(store.createQueue(1), FERRY_OK);
        QCOMPARE(store.createQueue(2), FERRY_OK);
        QVERIFY(appendMany(store, 1, 30, "s"));
        QVERIFY(appendMany(store, 2, 5, "t"));
        QCOMPARE(store.ack(1, 3), FERRY_OK);
        QCOMPARE(store.truncate(2, 2), FERRY_OK);
        QCOMPARE(store.sync(), FERRY_OK);
        st = store.stats();
        QCOMPARE(st.struct_size, uint32_t(sizeof st));
        QCOMPARE(st.queue_count, uint64_t(2));
        QCOMPARE(st.record_count, uint64_t(29 + 3));
        QVERIFY(st.bytes_on_disk > 0);

        // An older caller with a smaller struct only gets the fields it knows.
        struct {
            ferry_storage_stats stats;
            uint64_t guard;
        } small{};
        small.stats.struct_size = offsetof(ferry_storage_stats, queue_count);
        small.stats.queue_count = 777;
        small.guard = 0xABCD;
        QCOMPARE(vt->control(store.s, FERRY_STORAGE_CONTROL_STATS, &small.stats, store.err, sizeof store.err),
                 FERRY_OK);
        QCOMPARE(small.stats.struct_size, uint32_t(offsetof(ferry_storage_stats, queue_count)));
        QVERIFY(small.stats.bytes_on_disk > 0);
        QCOMPARE(small.stats.queue_count, uint64_t(777));
        QCOMPARE(small.guard, uint64_t(0xABCD));
        QCOMPARE(vt->control(store.s, FERRY_STORAGE_CONTROL_STATS, nullptr, store.err, sizeof store.err),
                 FERRY_E_INVALID_ARGUMENT);
    }

    void corruptRecordDetected()
    {
        QTemporaryDir dir;
        const QByteArray marker = "UNIQUE-MARKER-7f3a9c";
        {
            Store store(vt, dir.path());
            QVERIFY(store.ok());
            QCOMPARE(store.createQueue(4), FERRY_OK);
            QVERIFY(appendMany(store, 4, 5, "good-"));
            QCOMPARE(store.append(4, 2000, "h", marker), FERRY_OK); // offset 5
            QVERIFY(appendMany(store, 4, 4, "later-"));             // offsets 6..9
        } // close() syncs and checkpoints the WAL into ferry.db

        QFile file(dir.filePath("ferry.db"));
        QVERIFY(file.open(QIODevice::ReadWrite));
        QByteArray content = file.readAll();
        const qsizetype at = content.indexOf(marker);
        QVERIFY2(at >= 0, "marker not found in ferry.db");
        QCOMPARE(content.indexOf(marker, at + 1), qsizetype(-1));
        content[at + 3] = char(content[at + 3] ^ 0x20);
        QVERIFY(file.seek(0));
        QCOMPARE(file.write(content), content.size());
        file.close();

        Store store(vt, dir.path());
        QVERIFY2(store.ok(), qPrintable(store.openError));
        ReadResult r = store.read(4, 0);
        QCOMPARE(r.status, FERRY_E_CORRUPT);
        QCOMPARE(r.records.size(), size_t(5)); // every good record before the bad one
        QCOMPARE(r.records.back().offset, uint64_t(4));
        QVERIFY2(r.error.contains("queue 4") && r.error.contains("offset 5"), qPrintable(r.error));
        r = store.read(4, 6);
        QCOMPARE(r.status, FERRY_OK);
        QCOMPARE(r.records.size(), size_t(4));
        QCOMPARE(r.records.front().offset, uint64_t(6));
        QCOMPARE(store.read(4, 5, 1).status, FERRY_E_CORRUPT);
        // The bad record can be acked away; then reading goes straight through.
        QCOMPARE(store.ack(4, 5), FERRY_OK);
        QCOMPARE(store.read(4, 0).records.size(), size_t(9));
    }

    void notADatabase()
    {
        QTemporaryDir dir;
        QFile file(dir.filePath("ferry.db"));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QByteArray(8192, 'Z'));
        file.close();
        Store store(vt, dir.path());
        QCOMPARE(store.openStatus, FERRY_E_CORRUPT);
        QVERIFY(store.s == nullptr);
        QVERIFY2(store.openError.contains("ferry.db"), qPrintable(store.openError));
    }

    void secondOpenIsBusy()
    {
        QTemporaryDir dir;
        Store first(vt, dir.path());
        QVERIFY(first.ok());
        QCOMPARE(first.createQueue(1), FERRY_OK);
        QCOMPARE(first.sync(), FERRY_OK);
        Store second(vt, dir.path());
        QCOMPARE(second.openStatus, FERRY_E_BUSY);
        QVERIFY(second.s == nullptr);
        first.close();
        Store third(vt, dir.path());
        QVERIFY(third.ok());
        QCOMPARE(third.bounds(1), std::make_pair(uint64_t(0), uint64_t(0)));
    }

    void configKeys()
    {
        QTemporaryDir dir;
        const std::vector<std::pair<std::string, std::string>> bad = {
            {"cache_kib", "lots"}, {"cache_kib", "-5"}, {"cache_kib", "12"}, {"cache_kib", ""},
            {"wal_autocheckpoint_pages", "0"}, {"wal_autocheckpoint_pages", "10x"}};
        for (const auto &[key, value] : bad) {
            g_hostState.overrides = {{key, value}};
            Store store(vt, dir.path());
            QCOMPARE(store.openStatus, FERRY_E_CONFIG);
            QVERIFY2(store.openError.contains(QString::fromStdString("sqlite." + key)), qPrintable(store.openError));
        }
        g_hostState.overrides = {{"cache_kib", "2048"}, {"wal_autocheckpoint_pages", "50"}};
        Store store(vt, dir.path());
        QVERIFY2(store.ok(), qPrintable(store.openError));
        QCOMPARE(store.createQueue(1), FERRY_OK);
        QVERIFY(appendMany(store, 1, 10, "c"));
        QCOMPARE(store.sync(), FERRY_OK);
    }

    void throughputInformal()
    {
        QTemporaryDir dir;
        Store store(vt, dir.path());
        QVERIFY(store.ok());
        QCOMPARE(store.createQueue(1), FERRY_OK);
        const int total = 50000;
        const int batch = 1000;
        const QByteArray head(40, 'h');
        const QByteArray body(216, 'b'); // 256-byte records
        QElapsedTimer timer;
        timer.start();
        for (int i = 0; i < total; ++i) {
            QCOMPARE(store.append(1, uint64_t(i), head, body), FERRY_OK);
            if ((i + 1) % batch == 0)
                QCOMPARE(store.sync(), FERRY_OK);
        }
        const double seconds = double(timer.nsecsElapsed()) / 1e9;
        timer.restart();
        size_t readCount = 0;
        for (uint64_t from = 0; from < uint64_t(total);) {
            const ReadResult r = store.read(1, from, 1000);
            QCOMPARE(r.status, FERRY_OK);
            QVERIFY(!r.records.empty());
            readCount += r.records.size();
            from = r.records.back().offset + 1;
        }
        const double readSeconds = double(timer.nsecsElapsed()) / 1e9;
        QCOMPARE(readCount, size_t(total));
        QCOMPARE(store.bounds(1), std::make_pair(uint64_t(0), uint64_t(total)));
        qInfo("informal: %d appends of 256 B, sync every %d: %.0f appends/s; read back %.0f records/s", total,
              batch, total / seconds, total / readSeconds);
    }
};

// Child of crashKeepsSyncedState: syncs 100 appends, then appends 50 more and exits without closing (like kill -9
// as far as the store is concerned: no destructor, no close, no sync).
int runCrashChild(const char *dir)
{
    const ferry_storage_vtable *vt = loadVtable();
    Store store(vt, QString::fromUtf8(dir));
    if (!store.ok() || store.createQueue(1) != FERRY_OK || !appendMany(store, 1, 100, "synced-") ||
        store.metaPut("synced", "yes") != FERRY_OK || store.sync() != FERRY_OK)
        return 1;
    if (!appendMany(store, 1, 50, "unsynced-") || store.metaPut("unsynced", "no") != FERRY_OK)
        return 2;
    std::_Exit(3);
}

int main(int argc, char **argv)
{
    if (argc == 3 && std::strcmp(argv[1], "--crash-child") == 0)
        return runCrashChild(argv[2]);
    QCoreApplication app(argc, argv);
    TestStorageSqlite test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_storage_sqlite.moc"
