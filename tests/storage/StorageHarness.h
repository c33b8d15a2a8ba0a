// StorageHarness: loads one storage plugin by file path through ferry::PluginHost and wraps its C vtable in a small
// C++ class whose calls check the ABI's side contracts (error buffer NUL-terminated and never overrun, text present
// on failure, record structs well formed) and turn sinks into vectors.
//
// Contracts:
//  - One PluginHost per process (plugins are never unloaded); loadStoragePlugin() loads a file at most once and
//    returns the same LoadedPlugin for the same path afterwards.
//  - StorageInstance owns one opened ferry_storage; its destructor closes it (close implies sync).
//  - Every wrapper call returns the plugin's status and error text. A breach of the side contracts is not fatal:
//    it is appended to violations(), which the tests check after each call (takeViolation()).
//  - Not thread-safe; the plugins' contract is one caller at a time anyway.
#pragma once

#include <ferry/ferry_storage.h>
#include <plugin/PluginHost.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::storagetest {

// Outcome of one plugin call: the status and the text the plugin wrote into the error buffer.
struct CallResult {
    ferry_status status = FERRY_OK;
    std::string text;
    bool ok() const { return status == FERRY_OK; }
};

std::string statusName(ferry_status status);
std::string describe(const CallResult &result); // "FERRY_E_NOT_FOUND (queue 3 does not exist)"

struct RecordCopy {
    uint64_t offset = 0;
    uint64_t storeTimeMs = 0;
    std::string bytes; // head followed by body
};

struct QueueInfo {
    uint64_t id = 0;
    uint32_t flags = 0;
    bool operator==(const QueueInfo &) const = default;
    auto operator<=>(const QueueInfo &) const = default;
};

struct OffsetEntry {
    std::string group;
    uint64_t queueId = 0;
    uint64_t offset = 0;
    bool operator==(const OffsetEntry &) const = default;
    auto operator<=>(const OffsetEntry &) const = default;
};

struct KeyValue {
    std::string key;
    std::string value;
    bool operator==(const KeyValue &) const = default;
};

// Settings every test accepts on its command line (parsed by parseSuiteOptions; the rest goes to QTest).
struct SuiteOptions {
    std::vector<std::filesystem::path> plugins;          // --plugin PATH (repeatable)
    std::vector<uint64_t> seeds;                         // --seed N (repeatable)
    std::optional<long> operations;                      // --ops N (conformance: operations per seed)
    std::optional<int> rounds;                           // --rounds N (crash: kill/recover rounds per plugin)
    std::filesystem::path writer;                        // --writer PATH (crash: the child program)
    std::map<std::string, std::string> config;           // --config SECTION.KEY=VALUE (plugin config)
    std::vector<std::string> passThrough;                // everything else, handed to QTest::qExec
    std::string error;                                   // non-empty when the command line is wrong
};

SuiteOptions parseSuiteOptions(const std::vector<std::string> &arguments);

// Loads (once per process) the storage plugin in `file`, with plugin config answered from `config`
// ("section.key" -> value; the first call's config wins). Returns nullptr and sets *error when refused.
const LoadedPlugin *loadStoragePlugin(const std::filesystem::path &file,
                                      const std::map<std::string, std::string> &config, std::string *error);

class StorageInstance {
public:
    struct OpenOptions {
        uint64_t retentionMs = 0;
        uint64_t retentionBytes = 0;
    };

    // Opens the plugin's store in dataDir (which must exist). On failure returns the status and leaves out empty.
    static CallResult open(const LoadedPlugin &plugin, const std::filesystem::path &dataDir,
                           const OpenOptions &options, std::unique_ptr<StorageInstance> &out);
    ~StorageInstance();
    StorageInstance(const StorageInstance &) = delete;
    StorageInstance &operator=(const StorageInstance &) = delete;

    const LoadedPlugin &plugin() const { return *plugin_; }
    uint64_t capabilities();

    CallResult queueCreate(uint64_t queueId, uint32_t flags);
    CallResult queueDelete(uint64_t queueId);
    CallResult queueList(std::vector<QueueInfo> &out);
    CallResult queueBounds(uint64_t queueId, uint64_t &low, uint64_t &next);

    CallResult append(uint64_t queueId, uint64_t storeTimeMs, std::string_view head, std::string_view body,
                      uint64_t &offset);
    // Reads into out. stopAfter: the sink returns non-zero after receiving that many records (0 = never stops).
    CallResult read(uint64_t queueId, uint64_t fromOffset, uint32_t maxRecords, uint64_t maxBytes,
                    std::vector<RecordCopy> &out, size_t stopAfter = 0);
    CallResult ack(uint64_t queueId, uint64_t offset);
    CallResult truncatePrefix(uint64_t queueId, uint64_t newLow);
    CallResult seekTime(uint64_t queueId, uint64_t timeMs, uint64_t &offset);

    CallResult offsetSet(std::string_view group, uint64_t queueId, uint64_t offset);
    CallResult offsetGet(std::string_view group, uint64_t queueId, uint64_t &offset);
    CallResult offsetList(std::vector<OffsetEntry> &out);

    CallResult metaPut(std::string_view key, std::string_view value);
    // value receives the value; sinkCalls how often the sink ran (the contract says exactly once on success).
    CallResult metaGet(std::string_view key, std::string &value, int &sinkCalls);
    CallResult metaDelete(std::string_view key);
    CallResult metaScan(std::string_view prefix, std::vector<KeyValue> &out);

    CallResult sync();
    bool hasMaintain() const;
    CallResult maintain(uint64_t nowMs);
    CallResult control(int32_t op, void *arg);

    // When set, the next calls pass err = NULL, err_cap = 0 (allowed by the ABI) instead of a buffer.
    void setNullErrorBuffer(bool on) { nullErrorBuffer_ = on; }

    // Breaches of the side contracts seen so far (error buffer, sink arguments), oldest first.
    const std::vector<std::string> &violations() const { return violations_; }
    // Returns and clears the first recorded violation; empty when none.
    std::string takeViolation();

private:
    StorageInstance(const LoadedPlugin &plugin, ferry_storage *storage);

    // A checked error buffer: guard bytes after the capacity detect overruns.
    class ErrorBuffer;
    CallResult finish(ErrorBuffer &buffer, ferry_status status, const char *call);
    void violation(std::string text) { violations_.push_back(std::move(text)); }

    const LoadedPlugin *plugin_;
    const ferry_storage_vtable *vt_;
    ferry_storage *storage_;
    bool nullErrorBuffer_ = false;
    std::vector<std::string> violations_;
};

// UTF-8 text of a path, and a path from UTF-8 text (C++20 spells both with char8_t).
std::string pathText(const std::filesystem::path &path);
std::filesystem::path pathFromUtf8(const std::string &text);

// Bytes as printable hex ("00ff61"), shortened with "..." beyond maxBytes.
std::string hex(std::string_view bytes, size_t maxBytes = 32);
// Parses hex() output (no "..."); false on bad input.
bool unhex(std::string_view text, std::string &out);

// A small, fast, portable PRNG (splitmix64) so sequences are identical on every platform and standard library.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next();
    uint64_t below(uint64_t bound); // [0, bound), bound > 0
    uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); } // [lo, hi]
    bool chance(double probability);
    void fill(char *data, size_t len);

private:
    uint64_t state_;
};

uint64_t mix64(uint64_t x); // splitmix64 finaliser, used to derive values from (seed, queue, offset)

} // namespace ferry::storagetest
