// tst_storage_crash: crash recovery of a storage plugin. Round after round on the same data directory, a child
// (storage_crash_writer) writes and syncs batches until this test kills it (QProcess::kill: SIGKILL on Linux,
// TerminateProcess on Windows) after a random delay; then the test reopens the store itself and checks that
//  - every record, ack, truncation, consumer offset and meta value acknowledged by a completed sync() is there;
//  - every record readable has exactly the bytes and store time it was written with (nothing torn or misplaced),
//    and nothing acked, truncated or never written is readable;
//  - bounds are sane: low is the first readable offset, next covers every record read and every synced append.
// What the test observed becomes the expectation of the next round (its own close() implies sync), so recovery is
// also checked on top of earlier recoveries.
//
// Usage: tst_storage_crash --plugin PATH [--plugin ...] [--seed N] [--rounds N] [--writer PATH] [--config ...]
#include "CrashProtocol.h"
#include "SuiteMain.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>

using namespace ferry::storagetest;
using ferry::LoadedPlugin;
using namespace ferry::storagetest::crash;

namespace {

const char *const kUsage =
    "usage: tst_storage_crash --plugin PATH [--plugin PATH ...] [--seed N] [--rounds N] [--writer PATH]\n"
    "                         [--config SECTION.KEY=VALUE ...] [QTest options]\n"
    "Default: seed 1, 24 rounds per plugin, the writer next to this executable.";

constexpr int kDefaultRounds = 24;
constexpr uint64_t kDefaultSeed = 1;

// What the test knows to be durable.
struct QueueState {
    std::set<uint64_t> live; // offsets that must be readable (unless a pending op may have removed them)
    uint64_t next = 0;       // every offset below is either in live or gone for good
};

struct DurableState {
    std::map<uint64_t, QueueState> queues;
    std::map<std::pair<std::string, uint64_t>, uint64_t> offsets;
    std::map<std::string, std::string> meta;
};

struct Batch {
    uint64_t seq = 0;
    std::vector<CrashOp> ops;
    bool synced = false;
};

// The parts of an unsynced batch, any subset of which may have survived.
struct Pending {
    std::map<uint64_t, std::set<uint64_t>> appended;    // queue -> offsets
    std::map<uint64_t, std::set<uint64_t>> acked;       // queue -> offsets
    std::map<uint64_t, uint64_t> truncatedBelow;        // queue -> highest new_low
    std::map<std::pair<std::string, uint64_t>, uint64_t> offsets;
    std::map<std::string, std::string> meta;
};

void applyDurable(DurableState &state, const CrashOp &op)
{
    QueueState &q = state.queues[op.queue];
    switch (op.kind) {
    case 'A':
        for (uint64_t o = op.a; o < op.a + op.b; ++o)
            q.live.insert(o);
        q.next = std::max(q.next, op.a + op.b);
        break;
    case 'K': q.live.erase(op.a); break;
    case 'T': q.live.erase(q.live.begin(), q.live.lower_bound(std::min(op.a, q.next))); break;
    case 'O': state.offsets[{op.group, op.queue}] = op.a; break;
    case 'M': state.meta[op.key] = op.value; break;
    default: break;
    }
}

void notePending(Pending &pending, const CrashOp &op)
{
    switch (op.kind) {
    case 'A':
        for (uint64_t o = op.a; o < op.a + op.b; ++o)
            pending.appended[op.queue].insert(o);
        break;
    case 'K': pending.acked[op.queue].insert(op.a); break;
    case 'T': pending.truncatedBelow[op.queue] = std::max(pending.truncatedBelow[op.queue], op.a); break;
    case 'O': pending.offsets[{op.group, op.queue}] = op.a; break;
    case 'M': pending.meta[op.key] = op.value; break;
    default: break;
    }
}

std::string num(uint64_t v) { return std::to_string(v); }

} // namespace

class StorageCrashTest : public QObject {
    Q_OBJECT
public:
    explicit StorageCrashTest(SuiteOptions options) : options_(std::move(options)) {}

private Q_SLOTS:
    void initTestCase()
    {
        std::string error;
        QVERIFY2(loadAll(options_, plugins_, &error), error.c_str());
        if (options_.writer.empty()) {
            QString name = QCoreApplication::applicationDirPath() + "/storage_crash_writer";
#ifdef _WIN32
            name += ".exe";
#endif
            options_.writer = pathFromUtf8(name.toStdString());
        }
        QVERIFY2(std::filesystem::is_regular_file(options_.writer),
                 ("writer program not found: " + pathText(options_.writer)).c_str());
    }

    void crashRecovery_data()
    {
        QTest::addColumn<int>("pluginIndex");
        QTest::addColumn<quint64>("seed");
        const std::vector<uint64_t> seeds = options_.seeds.empty() ? std::vector<uint64_t>{kDefaultSeed} : options_.seeds;
        for (size_t i = 0; i < plugins_.size(); ++i)
            for (uint64_t seed : seeds)
                QTest::addRow("%s/seed=%llu", plugins_[i]->name.c_str(), static_cast<unsigned long long>(seed))
                    << static_cast<int>(i) << quint64(seed);
    }

    void crashRecovery()
    {
        QFETCH(int, pluginIndex);
        QFETCH(quint64, seed);
        const LoadedPlugin &plugin = *plugins_[static_cast<size_t>(pluginIndex)];
        const int rounds = options_.rounds.value_or(kDefaultRounds);
        state_ = DurableState{};
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        dataDir_ = pathFromUtf8(dir.filePath("data").toStdString());
        std::filesystem::create_directories(dataDir_);
        std::printf("plugin '%s' seed %llu: %d crash rounds in %s\n", plugin.name.c_str(),
                    static_cast<unsigned long long>(seed), rounds, pathText(dataDir_).c_str());
        std::fflush(stdout);

        // The queues exist (durably: close implies sync) before the first child starts.
        {
            std::unique_ptr<StorageInstance> store;
            const CallResult r = StorageInstance::open(plugin, dataDir_, {}, store);
            QVERIFY2(r.ok(), ("open: " + describe(r)).c_str());
            for (uint64_t q : kQueues) {
                const CallResult c = store->queueCreate(q, 0);
                QVERIFY2(c.ok(), ("queue_create: " + describe(c)).c_str());
                state_.queues[q] = QueueState{};
            }
        }

        Rng rng(mix64(seed ^ 0xc0ffeeULL));
        QElapsedTimer total;
        total.start();
        uint64_t syncedBatches = 0, verifiedRecords = 0, killedAfterSync = 0;
        for (int round = 1; round <= rounds; ++round) {
            const uint64_t delayMs = rng.range(20, 100 + 15 * static_cast<uint64_t>(round));
            std::vector<Batch> batches;
            runChild(plugin, seed, round, delayMs, batches);
            if (QTest::currentTestFailed())
                return;
            uint64_t roundSynced = 0;
            Pending pending;
            for (const Batch &b : batches) {
                if (b.synced) {
                    ++roundSynced;
                    for (const CrashOp &op : b.ops)
                        applyDurable(state_, op);
                } else {
                    for (const CrashOp &op : b.ops)
                        notePending(pending, op);
                }
            }
            syncedBatches += roundSynced;
            killedAfterSync += roundSynced > 0 ? 1 : 0;
            const uint64_t records = verify(plugin, seed, round, pending);
            if (QTest::currentTestFailed())
                return;
            verifiedRecords += records;
            std::printf("  round %2d: killed after %3llu ms, %3llu synced batches, %s, %llu records verified\n",
                        round, static_cast<unsigned long long>(delayMs), static_cast<unsigned long long>(roundSynced),
                        batches.size() > roundSynced ? "1 unsynced batch" : "no unsynced batch",
                        static_cast<unsigned long long>(records));
            std::fflush(stdout);
        }
        // A run in which no child ever finished a sync would have checked nothing.
        QVERIFY2(syncedBatches > 0, "no child completed a single sync before it was killed");
        std::printf("plugin '%s' seed %llu: %d rounds passed (%llu with synced data), %llu synced batches, "
                    "%llu record reads verified, %.2f s\n",
                    plugin.name.c_str(), static_cast<unsigned long long>(seed), rounds,
                    static_cast<unsigned long long>(killedAfterSync), static_cast<unsigned long long>(syncedBatches),
                    static_cast<unsigned long long>(verifiedRecords), total.elapsed() / 1000.0);
    }

private:
    // Starts the writer, waits for READY, lets it write for delayMs, kills it and parses what it reported.
    void runChild(const LoadedPlugin &plugin, uint64_t seed, int round, uint64_t delayMs, std::vector<Batch> &batches)
    {
        QProcess child;
        QStringList args{"--plugin", QString::fromStdString(pathText(plugin.file)),
                         "--dir", QString::fromStdString(pathText(dataDir_)),
                         "--seed", QString::number(seed), "--round", QString::number(round)};
        for (const auto &[key, value] : options_.config)
            args << "--config" << QString::fromStdString(key + "=" + value);
        child.setProgram(QString::fromStdString(pathText(options_.writer)));
        child.setArguments(args);
        child.start();
        QVERIFY2(child.waitForStarted(10000), qPrintable("cannot start the writer: " + child.errorString()));

        QByteArray out;
        QElapsedTimer timer;
        timer.start();
        const QByteArray readyLine = QByteArray(kLinePrefix) + "READY";
        while (!out.contains(readyLine) && child.state() == QProcess::Running && timer.elapsed() < 20000) {
            child.waitForReadyRead(100);
            out += child.readAllStandardOutput();
        }
        const bool ready = out.contains(readyLine);
        if (ready) {
            timer.restart();
            while (timer.elapsed() < static_cast<qint64>(delayMs) && child.state() == QProcess::Running) {
                child.waitForReadyRead(std::max<int>(1, static_cast<int>(delayMs - timer.elapsed())));
                out += child.readAllStandardOutput(); // keep the pipe drained so the child never blocks on it
            }
        }
        const bool stillRunning = child.state() == QProcess::Running;
        child.kill();
        QVERIFY2(child.waitForFinished(10000), "the writer did not die after kill()");
        out += child.readAllStandardOutput();
        const QByteArray err = child.readAllStandardError();
        const std::string context = "round " + std::to_string(round) + ", seed " + std::to_string(seed) +
                                    ", writer stderr: " + err.toStdString();
        QVERIFY2(ready, ("the writer never became READY; " + context + "; stdout: " + out.toStdString()).c_str());
        QVERIFY2(stillRunning, ("the writer ended before it was killed (exit code " + std::to_string(child.exitCode()) +
                                "); " + context + "; stdout tail: " + out.right(2000).toStdString()).c_str());

        // Only complete lines count: the kill may cut the last one.
        const int lastNewline = out.lastIndexOf('\n');
        const QList<QByteArray> lines = out.left(lastNewline + 1).split('\n');
        for (QByteArray line : lines) {
            if (!line.startsWith(kLinePrefix))
                continue; // kernel or plugin log output
            line = line.mid(static_cast<qsizetype>(std::strlen(kLinePrefix))).trimmed();
            if (line == "READY")
                continue;
            const std::string text = line.toStdString();
            QVERIFY2(!line.startsWith("ERROR"), ("the writer reported " + text + "; " + context).c_str());
            if (line.startsWith("BATCH ")) {
                const std::vector<std::string> tokens = splitOn(text, ' ');
                Batch b;
                b.seq = std::stoull(tokens.at(1));
                for (size_t i = 2; i < tokens.size(); ++i) {
                    CrashOp op;
                    QVERIFY2(parseOp(tokens[i], op), ("bad op in writer output: " + tokens[i]).c_str());
                    b.ops.push_back(op);
                }
                QVERIFY2(batches.empty() || batches.back().synced, ("BATCH before the previous SYNCED: " + text).c_str());
                batches.push_back(std::move(b));
            } else if (line.startsWith("SYNCED ")) {
                QVERIFY2(!batches.empty() && batches.back().seq == std::stoull(text.substr(7)) && !batches.back().synced,
                         ("SYNCED without its BATCH: " + text).c_str());
                batches.back().synced = true;
            } else {
                QFAIL(("unexpected writer output: " + text + "; " + context).c_str());
            }
        }
    }

    // Reopens the store and checks it against state_ and the pending batch; then adopts what it saw as state_.
    // Returns the number of records read and checked.
    uint64_t verify(const LoadedPlugin &plugin, uint64_t seed, int round, const Pending &pending)
    {
        const std::string where = "plugin '" + plugin.name + "' seed " + num(seed) + " round " + num(round) + ": ";
        auto failed = [&](const std::string &what) {
            QTest::qFail((where + what).c_str(), __FILE__, __LINE__);
            return uint64_t(0);
        };
        std::unique_ptr<StorageInstance> store;
        CallResult r = StorageInstance::open(plugin, dataDir_, {}, store);
        if (!r.ok())
            return failed("reopen after the kill failed: " + describe(r));

        std::vector<QueueInfo> queues;
        r = store->queueList(queues);
        if (!r.ok())
            return failed("queue_list: " + describe(r));
        std::set<uint64_t> ids;
        for (const auto &q : queues)
            ids.insert(q.id);
        if (ids != std::set<uint64_t>(std::begin(kQueues), std::end(kQueues)))
            return failed("queue_list after recovery does not list exactly the three test queues (" +
                          num(queues.size()) + " listed)");

        uint64_t checked = 0;
        DurableState observed;
        for (uint64_t q : kQueues) {
            const QueueState &expected = state_.queues[q];
            const auto pendingSet = [](const auto &map, uint64_t key) {
                const auto it = map.find(key);
                return it == map.end() ? std::set<uint64_t>{} : it->second;
            };
            const std::set<uint64_t> pendingAppends = pendingSet(pending.appended, q);
            const std::set<uint64_t> pendingAcks = pendingSet(pending.acked, q);
            const uint64_t pendingTruncate = pending.truncatedBelow.count(q) ? pending.truncatedBelow.at(q) : 0;

            uint64_t low = 0, next = 0;
            r = store->queueBounds(q, low, next);
            if (!r.ok())
                return failed("queue_bounds(" + num(q) + "): " + describe(r));

            // Read everything, in pages, checking each record against its derived content.
            std::vector<RecordCopy> all, page;
            uint64_t from = 0;
            for (;;) {
                r = store->read(q, from, 700, 4 * 1024 * 1024, page);
                if (!r.ok())
                    return failed("read(" + num(q) + ", from " + num(from) + "): " + describe(r));
                if (page.empty())
                    break;
                for (const RecordCopy &rec : page) {
                    if (!all.empty() && rec.offset <= all.back().offset)
                        return failed("queue " + num(q) + ": read returned offset " + num(rec.offset) + " after " +
                                      num(all.back().offset));
                    if (rec.offset < from)
                        return failed("queue " + num(q) + ": read from " + num(from) + " returned offset " +
                                      num(rec.offset));
                    const DerivedRecord want = derivedRecord(seed, q, rec.offset);
                    if (rec.bytes != want.bytes || rec.storeTimeMs != want.storeTimeMs)
                        return failed("queue " + num(q) + " offset " + num(rec.offset) +
                                      ": wrong content after recovery (torn or misplaced record): expected " +
                                      num(want.bytes.size()) + " bytes " + hex(want.bytes, 24) + " time " +
                                      num(want.storeTimeMs) + ", got " + num(rec.bytes.size()) + " bytes " +
                                      hex(rec.bytes, 24) + " time " + num(rec.storeTimeMs));
                    const bool known = expected.live.count(rec.offset) || pendingAppends.count(rec.offset);
                    if (!known)
                        return failed("queue " + num(q) + " offset " + num(rec.offset) + " is readable but " +
                                      (rec.offset < expected.next
                                           ? "was acked or truncated by a synced batch or an earlier recovery"
                                           : "was never appended") +
                                      " (synced next " + num(expected.next) + ")");
                    all.push_back(rec);
                    ++checked;
                }
                from = all.back().offset + 1;
            }
            std::set<uint64_t> readOffsets;
            for (const RecordCopy &rec : all)
                readOffsets.insert(rec.offset);
            for (uint64_t o : expected.live) {
                if (readOffsets.count(o) || pendingAcks.count(o) || o < pendingTruncate)
                    continue;
                return failed("queue " + num(q) + " offset " + num(o) +
                              " was durable (synced) but is not readable after recovery; bounds low=" + num(low) +
                              " next=" + num(next));
            }
            const uint64_t firstReadable = all.empty() ? next : all.front().offset;
            if (low > next || low != firstReadable)
                return failed("queue " + num(q) + ": bounds low=" + num(low) + " next=" + num(next) +
                              " but the first readable offset is " + num(firstReadable));
            if (next < expected.next)
                return failed("queue " + num(q) + ": next " + num(next) + " is below the synced next " +
                              num(expected.next));
            const uint64_t maxNext = pendingAppends.empty() ? expected.next : std::max(expected.next, *pendingAppends.rbegin() + 1);
            if (next > maxNext)
                return failed("queue " + num(q) + ": next " + num(next) + " is beyond anything ever appended (" +
                              num(maxNext) + ")");
            if (!all.empty() && next <= all.back().offset)
                return failed("queue " + num(q) + ": next " + num(next) + " but offset " + num(all.back().offset) +
                              " is readable");
            QueueState &seen = observed.queues[q];
            seen.live = std::move(readOffsets);
            seen.next = next;
        }

        // Consumer offsets: the synced value, or the pending one; NOT_FOUND only if neither exists.
        std::set<std::pair<std::string, uint64_t>> offsetKeys;
        for (const auto &[key, v] : state_.offsets)
            offsetKeys.insert(key);
        for (const auto &[key, v] : pending.offsets)
            offsetKeys.insert(key);
        for (const auto &key : offsetKeys) {
            uint64_t got = 0;
            r = store->offsetGet(key.first, key.second, got);
            const auto durable = state_.offsets.find(key);
            const auto maybe = pending.offsets.find(key);
            const std::string name = "offset (" + key.first + ", " + num(key.second) + ")";
            if (r.status == FERRY_E_NOT_FOUND) {
                if (durable != state_.offsets.end())
                    return failed(name + " was synced with value " + num(durable->second) + " but is NOT_FOUND");
                continue;
            }
            if (!r.ok())
                return failed("offset_get " + name + ": " + describe(r));
            const bool okDurable = durable != state_.offsets.end() && durable->second == got;
            const bool okPending = maybe != pending.offsets.end() && maybe->second == got;
            if (!okDurable && !okPending)
                return failed(name + ": got " + num(got) + ", synced value " +
                              (durable != state_.offsets.end() ? num(durable->second) : std::string("none")) +
                              ", pending value " +
                              (maybe != pending.offsets.end() ? num(maybe->second) : std::string("none")));
            observed.offsets[key] = got;
        }
        std::vector<OffsetEntry> offsetList;
        r = store->offsetList(offsetList);
        if (!r.ok())
            return failed("offset_list: " + describe(r));
        if (offsetList.size() != observed.offsets.size())
            return failed("offset_list lists " + num(offsetList.size()) + " offsets, offset_get found " +
                          num(observed.offsets.size()));

        // Meta values, likewise; meta_scan must list exactly the keys found.
        std::set<std::string> metaKeys;
        for (const auto &[key, v] : state_.meta)
            metaKeys.insert(key);
        for (const auto &[key, v] : pending.meta)
            metaKeys.insert(key);
        for (const std::string &key : metaKeys) {
            std::string got;
            int calls = 0;
            r = store->metaGet(key, got, calls);
            const auto durable = state_.meta.find(key);
            const auto maybe = pending.meta.find(key);
            if (r.status == FERRY_E_NOT_FOUND) {
                if (durable != state_.meta.end())
                    return failed("meta key " + hex(key) + " was synced but is NOT_FOUND");
                continue;
            }
            if (!r.ok())
                return failed("meta_get " + hex(key) + ": " + describe(r));
            if ((durable == state_.meta.end() || durable->second != got) &&
                (maybe == pending.meta.end() || maybe->second != got))
                return failed("meta key " + hex(key) + ": value " + hex(got) + " is neither the synced nor the pending one");
            observed.meta[key] = got;
        }
        std::vector<KeyValue> scanned;
        r = store->metaScan("", scanned);
        if (!r.ok())
            return failed("meta_scan: " + describe(r));
        if (scanned.size() != observed.meta.size())
            return failed("meta_scan lists " + num(scanned.size()) + " keys, meta_get found " +
                          num(observed.meta.size()));
        if (const std::string v = store->takeViolation(); !v.empty())
            return failed(v);

        store.reset(); // close implies sync: what was observed is now durable
        state_ = std::move(observed);
        return checked;
    }

    SuiteOptions options_;
    std::vector<const LoadedPlugin *> plugins_;
    std::filesystem::path dataDir_;
    DurableState state_;
};

int main(int argc, char **argv) { return runSuite<StorageCrashTest>(argc, argv, kUsage); }

#include "tst_storage_crash.moc"
