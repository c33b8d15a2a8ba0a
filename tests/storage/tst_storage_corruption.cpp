// tst_storage_corruption: a record whose stored bytes were damaged must be reported, not delivered.
//
// The test writes records whose bodies carry unique marker bytes, closes the store, flips bytes of one marker in
// whatever files the plugin wrote (it searches every file under the data directory, so it needs no knowledge of
// the plugin's format), reopens, and checks the contract of ferry_storage.h:
//  - read() from 0 delivers every good record before the damaged one, then returns FERRY_E_CORRUPT with text;
//  - read() from the damaged offset returns FERRY_E_CORRUPT without delivering it;
//  - read() from the next offset delivers all the rest intact; other queues are unaffected.
// A plugin that stores bodies compressed or encrypted cannot be damaged this way; the test then fails and says so.
//
// Usage: tst_storage_corruption --plugin PATH [--plugin ...] [--seed N] [--config ...]
#include "SuiteMain.h"

#include <QDirIterator>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>
#include <limits>

using namespace ferry::storagetest;
using ferry::LoadedPlugin;

namespace {

const char *const kUsage = "usage: tst_storage_corruption --plugin PATH [--plugin PATH ...] [--seed N]\n"
                           "                              [--config SECTION.KEY=VALUE ...] [QTest options]";

constexpr uint64_t kQueue = 9;
constexpr uint64_t kOtherQueue = 10;
constexpr int kRecords = 30;
constexpr uint32_t kAllRecords = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kAllBytes = std::numeric_limits<uint64_t>::max();

std::string marker(uint64_t seed, uint64_t queue, int index)
{
    // 31 ASCII bytes that occur nowhere else: a fixed tag, then 16 hex digits unique to (seed, queue, index).
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx",
                  static_cast<unsigned long long>(mix64(seed * 1000003 + queue * 1009 + static_cast<uint64_t>(index))));
    return "<FERRY-MARK:" + std::string(digits) + ">@@";
}

// Head, then a body that starts (after 16 random bytes) with the record's marker, so the marker lies in the first
// few hundred bytes of the record even when the record is large.
std::string recordBytes(uint64_t seed, uint64_t queue, int index, size_t bodyLen, size_t &headLen)
{
    Rng rng(mix64(seed ^ (queue << 20) ^ static_cast<uint64_t>(index)));
    headLen = rng.range(0, 40);
    std::string bytes(headLen + bodyLen, '\0');
    rng.fill(bytes.data(), bytes.size());
    bytes.replace(headLen + 16, marker(seed, queue, index).size(), marker(seed, queue, index));
    return bytes;
}

struct FlipReport {
    int occurrences = 0;
    std::vector<std::string> files;
    std::string error;
};

// Flips 8 bytes in the middle of every occurrence of `needle` in every regular file under `dir`.
FlipReport flipEverywhere(const QString &dir, const QByteArray &needle)
{
    FlipReport report;
    QDirIterator it(dir, QDir::Files | QDir::Hidden | QDir::System, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        QFile file(path);
        if (!file.open(QIODevice::ReadWrite)) {
            report.error = "cannot open " + path.toStdString() + ": " + file.errorString().toStdString();
            return report;
        }
        const QByteArray content = file.readAll();
        bool touched = false;
        for (qsizetype at = content.indexOf(needle); at >= 0; at = content.indexOf(needle, at + needle.size())) {
            QByteArray damaged = content.mid(at + 12, 8);
            for (char &c : damaged)
                c = static_cast<char>(c ^ 0x5a);
            if (!file.seek(at + 12) || file.write(damaged) != damaged.size()) {
                report.error = "cannot write " + path.toStdString();
                return report;
            }
            ++report.occurrences;
            touched = true;
        }
        if (touched)
            report.files.push_back(QDir(dir).relativeFilePath(path).toStdString());
    }
    return report;
}

} // namespace

class StorageCorruptionTest : public QObject {
    Q_OBJECT
public:
    explicit StorageCorruptionTest(SuiteOptions options) : options_(std::move(options)) {}

private Q_SLOTS:
    void initTestCase()
    {
        std::string error;
        QVERIFY2(loadAll(options_, plugins_, &error), error.c_str());
    }

    void damagedRecord_data()
    {
        QTest::addColumn<int>("pluginIndex");
        QTest::addColumn<int>("damaged");
        QTest::addColumn<int>("bodyLen");
        for (size_t i = 0; i < plugins_.size(); ++i) {
            const char *name = plugins_[i]->name.c_str();
            const int p = static_cast<int>(i);
            QTest::addRow("%s/first", name) << p << 0 << 300;
            QTest::addRow("%s/middle", name) << p << kRecords / 2 << 300;
            QTest::addRow("%s/last", name) << p << kRecords - 1 << 300;
            QTest::addRow("%s/middle-large", name) << p << kRecords / 2 << 200 * 1024;
        }
    }

    void damagedRecord()
    {
        QFETCH(int, pluginIndex);
        QFETCH(int, damaged);
        QFETCH(int, bodyLen);
        const LoadedPlugin &plugin = *plugins_[static_cast<size_t>(pluginIndex)];
        const uint64_t seed = options_.seeds.empty() ? 1 : options_.seeds.front();
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString dataPath = dir.filePath("data");
        const std::filesystem::path dataDir = pathFromUtf8(dataPath.toStdString());
        std::filesystem::create_directories(dataDir);

        // Write two queues of marked records; the damaged one of kQueue may be large, the others are small.
        std::vector<std::string> expected[2];
        {
            std::unique_ptr<StorageInstance> store;
            CallResult r = StorageInstance::open(plugin, dataDir, {}, store);
            QVERIFY2(r.ok(), describe(r).c_str());
            const uint64_t queues[2] = {kQueue, kOtherQueue};
            for (int qi = 0; qi < 2; ++qi) {
                r = store->queueCreate(queues[qi], 0);
                QVERIFY2(r.ok(), describe(r).c_str());
                for (int i = 0; i < kRecords; ++i) {
                    const size_t len = (qi == 0 && i == damaged) ? static_cast<size_t>(bodyLen) : 100 + 37 * static_cast<size_t>(i);
                    size_t headLen = 0;
                    expected[qi].push_back(recordBytes(seed, queues[qi], i, len, headLen));
                    const std::string_view all(expected[qi].back());
                    uint64_t offset = 0;
                    r = store->append(queues[qi], 1000 + static_cast<uint64_t>(i), all.substr(0, headLen),
                                      all.substr(headLen), offset);
                    QVERIFY2(r.ok(), describe(r).c_str());
                    QCOMPARE(offset, static_cast<uint64_t>(i));
                }
            }
            r = store->sync();
            QVERIFY2(r.ok(), describe(r).c_str());
        } // close

        const QByteArray needle = QByteArray::fromStdString(marker(seed, kQueue, damaged));
        const FlipReport flipped = flipEverywhere(dataPath, needle);
        QVERIFY2(flipped.error.empty(), flipped.error.c_str());
        QVERIFY2(flipped.occurrences > 0,
                 ("the marker of record " + std::to_string(damaged) + " (" + needle.toStdString() +
                  ") is in no file under the data directory: the plugin stores bodies transformed "
                  "(compressed or encrypted?), so this test cannot damage one")
                     .c_str());
        std::string where;
        for (const auto &f : flipped.files)
            where += " " + f;
        std::printf("plugin '%s': damaged record %d (%d occurrence(s) in:%s)\n", plugin.name.c_str(), damaged,
                    flipped.occurrences, where.c_str());

        std::unique_ptr<StorageInstance> store;
        CallResult r = StorageInstance::open(plugin, dataDir, {}, store);
        QVERIFY2(r.ok(), ("reopen after damaging a record body: " + describe(r)).c_str());
        std::vector<RecordCopy> got;

        // From 0: the good records before it, then FERRY_E_CORRUPT with text.
        r = store->read(kQueue, 0, kAllRecords, kAllBytes, got);
        QVERIFY2(r.status == FERRY_E_CORRUPT,
                 ("read from 0 over a damaged record: expected FERRY_E_CORRUPT, got " + describe(r) + " after " +
                  std::to_string(got.size()) + " records")
                     .c_str());
        QVERIFY2(!r.text.empty(), "FERRY_E_CORRUPT without error text");
        std::printf("plugin '%s': read from 0 -> %s after %zu records\n", plugin.name.c_str(), describe(r).c_str(),
                    got.size());
        QCOMPARE(got.size(), static_cast<size_t>(damaged));
        for (int i = 0; i < damaged; ++i) {
            QCOMPARE(got[static_cast<size_t>(i)].offset, static_cast<uint64_t>(i));
            QVERIFY2(got[static_cast<size_t>(i)].bytes == expected[0][static_cast<size_t>(i)],
                     ("record " + std::to_string(i) + " before the damaged one has wrong bytes").c_str());
        }

        // From the damaged offset itself: FERRY_E_CORRUPT, and the damaged bytes are never delivered.
        r = store->read(kQueue, static_cast<uint64_t>(damaged), kAllRecords, kAllBytes, got);
        QVERIFY2(r.status == FERRY_E_CORRUPT, ("read from the damaged offset: got " + describe(r)).c_str());
        QVERIFY2(!r.text.empty(), "FERRY_E_CORRUPT without error text");
        QVERIFY2(got.empty(), ("read from the damaged offset delivered " + std::to_string(got.size()) + " records")
                                  .c_str());

        // From the next offset: everything after it, intact.
        r = store->read(kQueue, static_cast<uint64_t>(damaged) + 1, kAllRecords, kAllBytes, got);
        QVERIFY2(r.ok(), ("read from the offset after the damaged one: " + describe(r)).c_str());
        QCOMPARE(got.size(), static_cast<size_t>(kRecords - damaged - 1));
        for (size_t i = 0; i < got.size(); ++i) {
            const size_t index = static_cast<size_t>(damaged) + 1 + i;
            QCOMPARE(got[i].offset, static_cast<uint64_t>(index));
            QCOMPARE(got[i].storeTimeMs, static_cast<uint64_t>(1000 + index));
            QVERIFY2(got[i].bytes == expected[0][index],
                     ("record " + std::to_string(index) + " after the damaged one has wrong bytes").c_str());
        }

        // The other queue is untouched, and bounds still make sense.
        r = store->read(kOtherQueue, 0, kAllRecords, kAllBytes, got);
        QVERIFY2(r.ok(), ("read of the undamaged queue: " + describe(r)).c_str());
        QCOMPARE(got.size(), static_cast<size_t>(kRecords));
        for (size_t i = 0; i < got.size(); ++i)
            QVERIFY2(got[i].bytes == expected[1][i], ("undamaged queue, record " + std::to_string(i)).c_str());
        uint64_t low = 0, next = 0;
        r = store->queueBounds(kQueue, low, next);
        QVERIFY2(r.ok(), describe(r).c_str());
        QCOMPARE(next, static_cast<uint64_t>(kRecords));
        QVERIFY(low <= static_cast<uint64_t>(damaged));
        const std::string violation = store->takeViolation();
        QVERIFY2(violation.empty(), violation.c_str());
    }

private:
    SuiteOptions options_;
    std::vector<const LoadedPlugin *> plugins_;
};

int main(int argc, char **argv) { return runSuite<StorageCorruptionTest>(argc, argv, kUsage); }

#include "tst_storage_corruption.moc"
