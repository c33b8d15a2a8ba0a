// ConformanceRunner: drives one storage plugin through a seeded random operation sequence and checks every result
// against StorageModel after every operation.
//
// Contracts:
//  - run() opens the plugin in dataDir (an existing, empty directory), performs `operations` operations and closes
//    it. It returns false at the first mismatch; failure() then names the seed, the operation index, what was
//    expected and what the plugin returned, and historyTail() lists the operations that led there.
//  - The sequence depends only on the seed and on the plugin's capabilities (seek_time is exercised only with
//    FERRY_STORAGE_CAP_TIME_INDEX), so `--seed N` replays a failure exactly.
//  - Single-threaded; one runner per sequence.
#pragma once

#include "StorageHarness.h"
#include "StorageModel.h"

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ferry::storagetest {

class ConformanceRunner {
public:
    ConformanceRunner(const LoadedPlugin &plugin, std::filesystem::path dataDir, uint64_t seed);

    bool run(long operations);

    const std::string &failure() const { return failure_; }
    std::string historyTail() const;
    // Operations performed per kind ("append" -> 3012, ...), and in total.
    const std::map<std::string, long> &counts() const { return counts_; }
    long performed() const { return performed_; }
    // Wall-clock seconds spent per kind of operation (the plugin call plus the model check).
    const std::map<std::string, double> &seconds() const { return seconds_; }
    uint64_t capabilities() const { return capabilities_; }

private:
    using Op = bool (ConformanceRunner::*)();
    struct WeightedOp {
        const char *name;
        double weight;
        Op op;
    };

    // Each operation returns false after calling fail().
    bool opQueueCreate();
    bool opQueueDelete();
    bool opQueueList();
    bool opQueueBounds();
    bool opAppend();
    bool opRead();
    bool opAck();
    bool opTruncate();
    bool opSeekTime();
    bool opOffsetSet();
    bool opOffsetGet();
    bool opOffsetList();
    bool opMetaPut();
    bool opMetaGet();
    bool opMetaDelete();
    bool opMetaScan();
    bool opSync();
    bool opReopen();
    bool opMaintain();
    bool opControl();
    bool opAbsentQueue();

    // Compares everything observable (queue list, bounds, every record, offsets, meta, stats) with the model.
    bool fullCheck(const char *why);

    bool openStore();
    bool fail(const std::string &what);
    // Checks status (and violations of the side contracts) of one call; false after fail().
    bool expectStatus(const CallResult &got, ferry_status expected, const std::string &call);
    bool compareRecords(const std::vector<RecordCopy> &expected, const std::vector<RecordCopy> &got,
                        const std::string &call);
    void note(std::string text); // appends to the current operation's history line

    std::optional<uint64_t> pickExistingQueue();
    uint64_t pickPoolQueue();
    std::string pickGroup();
    std::string randomMetaKey();
    std::string pickMetaKey();
    std::string randomBytes(size_t len);

    const LoadedPlugin &plugin_;
    std::filesystem::path dataDir_;
    uint64_t seed_;
    Rng rng_;
    StorageModel model_;
    std::unique_ptr<StorageInstance> store_;
    uint64_t capabilities_ = 0;
    uint64_t clockMs_ = 1'700'000'000'000ULL;

    long opIndex_ = -1;
    long performed_ = 0;
    std::string current_;
    std::deque<std::string> history_;
    std::map<std::string, long> counts_;
    std::map<std::string, double> seconds_;
    std::string failure_;
    std::vector<WeightedOp> ops_;
    double totalWeight_ = 0;
};

} // namespace ferry::storagetest
