// SqliteStore.h -- one storage instance of the `sqlite` storage plugin: the whole ferry_storage contract
// (broker/include/ferry/ferry_storage.h) on one SQLite database file, <data_dir>/ferry.db, in WAL mode.
//
// Contracts:
//  - Errors are thrown as ferry::sdk::Error (status + text); the C entry points in PluginEntry.cpp catch them with
//    ferry::sdk::guard(), so nothing escapes through the ABI. SQLite errors map to FERRY_E_IO, FERRY_E_NO_SPACE
//    (SQLITE_FULL), FERRY_E_CORRUPT (SQLITE_CORRUPT, SQLITE_NOTADB), FERRY_E_BUSY (the file is locked by another
//    process), FERRY_E_NO_MEMORY and FERRY_E_TOO_LARGE, always with sqlite3_errmsg() text.
//  - Group commit: the first write after a sync opens a transaction (BEGIN IMMEDIATE) and sync() commits it; with
//    WAL and synchronous=FULL that commit is the durability point. Reads use the same connection and therefore see
//    uncommitted writes at once. If SQLite ever rolls the open transaction back by itself (it may after an I/O or
//    disk-full error), the in-memory queue state is reloaded from the database, i.e. the store goes back to the
//    last successful sync, and the error text says so.
//  - Each mutating call is atomic: it either takes full effect (in the open transaction) or none.
//  - Threading: one thread at a time (the kernel's storage thread); calls may come from different threads in turn.
//    The connection is opened with SQLITE_OPEN_NOMUTEX, which SQLite allows under exactly that rule.
//  - Sinks are called on the calling thread during the call and must not call back into the same instance.
//  - The database is opened in EXCLUSIVE locking mode: a second process opening the same data_dir gets FERRY_E_BUSY.
#pragma once

#include <ferry/ferry_storage.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

// The opaque instance type of the C ABI; SqliteStore derives from it so the entry points can static_cast.
struct ferry_storage {
};

namespace ferry::storage_sqlite {

// Config keys (declared in the descriptor in PluginEntry.cpp) and their defaults, in text form as declared.
inline constexpr const char *kCacheKibKey = "cache_kib";
inline constexpr const char *kCacheKibDefault = "16384";
inline constexpr const char *kWalAutocheckpointKey = "wal_autocheckpoint_pages";
inline constexpr const char *kWalAutocheckpointDefault = "1000";

// Validated values of the plugin's config keys.
struct StoreConfig {
    int64_t cacheKib = 16384;              // sqlite.cache_kib: page cache size in KiB
    int64_t walAutocheckpointPages = 1000; // sqlite.wal_autocheckpoint_pages
};

// Reads and validates the config keys through the host; throws Error(FERRY_E_CONFIG) naming `sqlite.<key>`.
// A null host (or one without config_get) yields the defaults.
StoreConfig read_config(const ferry_host *host);

// Owns one prepared statement (finalized in the destructor). Statements are prepared once per instance.
class Statement {
public:
    Statement() = default;
    ~Statement();
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;

    sqlite3_stmt *handle = nullptr;
};

class SqliteStore : public ferry_storage {
public:
    // Opens or creates <data_dir>/ferry.db. The host pointer is kept (it lives as long as the process).
    static std::unique_ptr<SqliteStore> open(const ferry_host *host, const ferry_storage_options &options);
    // Does not commit: call close() first for an orderly shutdown; destroying an open store rolls back the batch.
    ~SqliteStore();
    SqliteStore(const SqliteStore &) = delete;
    SqliteStore &operator=(const SqliteStore &) = delete;

    // Commits the open batch and closes the database. Throws on failure (the store is closed either way).
    void close();

    uint64_t capabilities() const;
    const ferry_host *host() const { return host_; }

    void queueCreate(uint64_t queueId, uint32_t flags);
    void queueDelete(uint64_t queueId);
    void queueList(ferry_storage_queue_sink sink, void *sinkCtx);
    void queueBounds(uint64_t queueId, uint64_t *low, uint64_t *next);

    uint64_t append(uint64_t queueId, uint64_t storeTimeMs, const uint8_t *head, size_t headLen, const uint8_t *body,
                    size_t bodyLen);
    void read(uint64_t queueId, uint64_t fromOffset, uint32_t maxRecords, uint64_t maxBytes,
              ferry_storage_record_sink sink, void *sinkCtx);
    void ack(uint64_t queueId, uint64_t offset);
    void truncatePrefix(uint64_t queueId, uint64_t newLow);
    uint64_t seekTime(uint64_t queueId, uint64_t timeMs);

    void offsetSet(const char *group, size_t groupLen, uint64_t queueId, uint64_t offset);
    bool offsetGet(const char *group, size_t groupLen, uint64_t queueId, uint64_t *offset);
    void offsetList(ferry_storage_offset_sink sink, void *sinkCtx);

    void metaPut(const uint8_t *key, size_t keyLen, const uint8_t *value, size_t valueLen);
    bool metaGet(const uint8_t *key, size_t keyLen, ferry_storage_kv_sink sink, void *sinkCtx);
    bool metaDelete(const uint8_t *key, size_t keyLen);
    void metaScan(const uint8_t *prefix, size_t prefixLen, ferry_storage_kv_sink sink, void *sinkCtx);

    void sync();
    void maintain(uint64_t nowMs);
    void stats(ferry_storage_stats *out);

private:
    // In-memory state of one queue; the `queues` table row is rewritten from it at sync() when dirty.
    struct QueueState {
        uint32_t flags = 0;
        uint64_t truncatedLow = 0; // everything below was cut by truncate_prefix (or retention)
        uint64_t next = 0;         // offset of the next append
        uint64_t recordCount = 0;  // rows present (appended, not acked, not truncated)
        uint64_t byteCount = 0;    // sum of their data lengths
        bool dirty = false;
    };

    class Query;
    class Savepoint;
    friend class Query;
    friend class Savepoint;

    SqliteStore(const ferry_host *host, const ferry_storage_options &options);
    void openDatabase(const StoreConfig &config);
    void createOrCheckSchema();
    void prepareStatements();
    void loadQueues();

    [[noreturn]] void failSqlite(int rc, const char *what);
    void exec(const char *sql, const char *what);
    void beginWrite();
    QueueState &queueOrThrow(uint64_t queueId);
    void markDirty(uint64_t queueId, QueueState &state);
    void flushDirtyQueues();
    uint64_t firstRemainingOffset(uint64_t queueId, const QueueState &state);
    void applyAgeRetention(uint64_t nowMs);
    void applySizeRetention();
    void finalizeStatements() noexcept;

    const ferry_host *host_;
    std::filesystem::path dataDir_;
    std::filesystem::path dbPath_;
    uint64_t retentionMs_;
    uint64_t retentionBytes_;
    sqlite3 *db_ = nullptr;
    bool inTransaction_ = false;

    std::unordered_map<uint64_t, QueueState> queues_;
    std::vector<uint64_t> dirtyQueues_;
    std::vector<uint8_t> appendBuffer_; // head||body when both are non-empty; reused between appends

    // Prepared once in prepareStatements(); finalized by finalizeStatements() before the database is closed.
    Statement begin_, commit_;
    Statement insertQueue_, updateQueue_, deleteQueue_, deleteQueueRecords_, deleteQueueOffsets_;
    Statement insertRecord_, readRecords_, firstOffset_, maxOffset_, ackRecord_, truncateRecords_, seekTime_;
    Statement retentionScan_;
    Statement offsetSet_, offsetGet_, offsetList_;
    Statement metaPut_, metaGet_, metaDelete_, metaScanAll_, metaScanFrom_, metaScanRange_;
};

} // namespace ferry::storage_sqlite
