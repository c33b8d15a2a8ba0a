// StoreClient.h -- test-side access to the storage-file plugin through its C ABI only.
//
// TestHost is a minimal ferry_host: config from a map (falling back to the defaults the plugin declares), log lines
// captured for assertions. loadPlugin() resolves ferry_plugin_query with Boost.DLL once per process (plugins are
// never unloaded). StoreClient wraps one opened instance; every call returns the plugin's status and keeps the error
// text in lastError. Not thread-safe.
#pragma once

#include <ferry/ferry_storage.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace storage_file_test {

struct LoadedPlugin {
    const ferry_plugin_descriptor *descriptor = nullptr;
    const ferry_storage_vtable *vtable = nullptr;
};

class TestHost {
public:
    TestHost();
    const ferry_host *get() const { return &host_; }
    std::map<std::string, std::string> config;       // key inside the "file" section -> value
    std::vector<std::pair<int, std::string>> logs;   // (level, text)
    bool logged(int level, std::string_view needle) const;

private:
    ferry_host host_{};
};

// Loads the plugin (path compiled in as FERRY_STORAGE_FILE_PLUGIN). Aborts the test program when that fails.
const LoadedPlugin &loadPlugin();

struct RecordCopy {
    uint64_t offset = 0;
    uint64_t storeTimeMs = 0;
    std::string data;
    const uint8_t *pointer = nullptr; // where the plugin's bytes were (valid only during the sink call)
};

class StoreClient {
public:
    struct Options {
        uint64_t retentionMs = 0;
        uint64_t retentionBytes = 0;
    };
    static ferry_status open(const TestHost &host, const std::filesystem::path &dir, const Options &options,
                             std::unique_ptr<StoreClient> &out, std::string &error);
    ~StoreClient();
    StoreClient(const StoreClient &) = delete;
    StoreClient &operator=(const StoreClient &) = delete;

    void close(); // also done by the destructor
    uint64_t capabilities();

    ferry_status queueCreate(uint64_t queue, uint32_t flags = 0);
    ferry_status queueDelete(uint64_t queue);
    ferry_status queueList(std::vector<std::pair<uint64_t, uint32_t>> &out);
    ferry_status bounds(uint64_t queue, uint64_t &low, uint64_t &next);

    ferry_status append(uint64_t queue, uint64_t storeTime, std::string_view head, std::string_view body,
                        uint64_t *offset = nullptr);
    // stopAfter: the sink asks to stop after that many records (0: never).
    ferry_status read(uint64_t queue, uint64_t from, uint32_t maxRecords, uint64_t maxBytes,
                      std::vector<RecordCopy> &out, size_t stopAfter = 0);
    ferry_status ack(uint64_t queue, uint64_t offset);
    ferry_status truncatePrefix(uint64_t queue, uint64_t newLow);
    ferry_status seekTime(uint64_t queue, uint64_t timeMs, uint64_t &offset);

    ferry_status offsetSet(std::string_view group, uint64_t queue, uint64_t offset);
    ferry_status offsetGet(std::string_view group, uint64_t queue, uint64_t &offset);
    ferry_status offsetList(std::vector<std::tuple<std::string, uint64_t, uint64_t>> &out);

    ferry_status metaPut(std::string_view key, std::string_view value);
    ferry_status metaGet(std::string_view key, std::string &value);
    ferry_status metaDelete(std::string_view key);
    ferry_status metaScan(std::string_view prefix, std::vector<std::pair<std::string, std::string>> &out);

    ferry_status sync();
    ferry_status maintain(uint64_t nowMs);
    ferry_status stats(ferry_storage_stats &out);
    ferry_status control(int32_t op, void *arg);

    std::string lastError;

private:
    StoreClient(const ferry_storage_vtable *vt, ferry_storage *storage) : vt_(vt), storage_(storage) {}
    const ferry_storage_vtable *vt_;
    ferry_storage *storage_;
    char err_[512] = {};
    ferry_status done(ferry_status status);
};

// Copies a live store's directory as a crash would leave it (every file as the page cache has it), minus LOCK.
void crashCopy(const std::filesystem::path &from, const std::filesystem::path &to);

} // namespace storage_file_test
