// SqliteStore.cpp -- the storage contract on SQLite. See SqliteStore.h for the contracts and README.md for the
// schema. Unsigned 64-bit values (queue ids, offsets, store times) are stored bit-cast into SQLite's signed
// INTEGER; where an ordering over them matters (store times) ranges are split so unsigned order is kept.
#include "SqliteStore.h"

#include "Crc32.h"

#include <ferry/sdk.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <functional>
#include <limits>
#include <queue>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

namespace ferry::storage_sqlite {

using ferry::sdk::Error;

namespace {

constexpr int kSchemaVersion = 1;
// Chosen at creation only (a WAL database keeps its page size). Measured against the default 4096 with 128 B to
// 16 KiB records: 16 KiB pages append 25-70% faster because fewer records spill into overflow pages.
constexpr int kPageSize = 16384;
constexpr const char *kDatabaseFileName = "ferry.db";

// Handed to sinks instead of a null pointer for zero-length data, keys and values.
constexpr uint8_t kEmptyBytes[1] = {0};

int64_t to_sql(uint64_t value) { return std::bit_cast<int64_t>(value); }
uint64_t from_sql(int64_t value) { return std::bit_cast<uint64_t>(value); }

// An inclusive range of stored (signed) integers; empty when lo > hi.
struct SignedRange {
    int64_t lo;
    int64_t hi;
};

// The unsigned range [lo, UINT64_MAX] as at most two ranges of bit-cast signed values.
std::array<SignedRange, 2> unsigned_at_least(uint64_t lo)
{
    constexpr SignedRange kEmpty{1, 0};
    constexpr uint64_t kSignBit = uint64_t(1) << 63;
    if (lo >= kSignBit)
        return {SignedRange{to_sql(lo), -1}, kEmpty};
    return {SignedRange{to_sql(lo), std::numeric_limits<int64_t>::max()},
            SignedRange{std::numeric_limits<int64_t>::min(), -1}};
}

ferry_status status_for(int rc)
{
    switch (rc & 0xFF) {
    case SQLITE_FULL:
        return FERRY_E_NO_SPACE;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return FERRY_E_CORRUPT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return FERRY_E_BUSY;
    case SQLITE_NOMEM:
        return FERRY_E_NO_MEMORY;
    case SQLITE_TOOBIG:
        return FERRY_E_TOO_LARGE;
    default:
        return FERRY_E_IO;
    }
}

std::string utf8(const std::filesystem::path &path)
{
    const std::u8string text = path.u8string();
    return std::string(text.begin(), text.end());
}

std::filesystem::path path_from_utf8(const char *text)
{
    const std::string_view view(text);
    return std::filesystem::path(std::u8string(view.begin(), view.end()));
}

int64_t parse_int_key(const char *key, const std::string &text, int64_t min, int64_t max)
{
    int64_t value = 0;
    const char *end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || stop != end || value < min || value > max)
        throw Error(FERRY_E_CONFIG, "sqlite." + std::string(key) + ": expected an integer from " +
                                        std::to_string(min) + " to " + std::to_string(max) + ", got '" + text + "'");
    return value;
}

std::string config_text(const ferry_host *host, const char *key, const char *fallback)
{
    if (host == nullptr || host->config_get == nullptr)
        return fallback;
    try {
        return ferry::sdk::config(host, key);
    } catch (const Error &e) {
        throw Error(FERRY_E_CONFIG, "sqlite." + std::string(key) + ": " + e.what());
    }
}

const uint8_t *blob_or_empty(const void *blob)
{
    return blob != nullptr ? static_cast<const uint8_t *>(blob) : kEmptyBytes;
}

} // namespace

StoreConfig read_config(const ferry_host *host)
{
    StoreConfig config;
    config.cacheKib =
        parse_int_key(kCacheKibKey, config_text(host, kCacheKibKey, kCacheKibDefault), 64, int64_t(1) << 24);
    config.walAutocheckpointPages = parse_int_key(
        kWalAutocheckpointKey, config_text(host, kWalAutocheckpointKey, kWalAutocheckpointDefault), 1,
        int64_t(1) << 24);
    return config;
}

Statement::~Statement()
{
    sqlite3_finalize(handle);
}

// One use of a cached prepared statement: binds, steps, reads columns; resets the statement when it goes out of
// scope. Step errors go through SqliteStore::failSqlite (which throws).
class SqliteStore::Query {
public:
    Query(SqliteStore &store, Statement &statement, const char *what)
        : store_(store), stmt_(statement.handle), what_(what)
    {
    }
    ~Query() { sqlite3_reset(stmt_); }
    Query(const Query &) = delete;
    Query &operator=(const Query &) = delete;

    Query &i64(int index, int64_t value)
    {
        check(sqlite3_bind_int64(stmt_, index, value));
        return *this;
    }
    Query &u64(int index, uint64_t value) { return i64(index, to_sql(value)); }
    // Always binds a BLOB (zero-length blob for len 0, never NULL), so ordering stays bytewise.
    // SQLITE_STATIC: the bytes must stay valid until the statement is stepped, which happens within the call.
    Query &bytes(int index, const void *data, size_t len)
    {
        if (len == 0)
            check(sqlite3_bind_zeroblob(stmt_, index, 0));
        else
            check(sqlite3_bind_blob64(stmt_, index, data, sqlite3_uint64(len), SQLITE_STATIC));
        return *this;
    }

    // true: a row is available; false: done.
    bool step()
    {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW)
            return true;
        if (rc == SQLITE_DONE)
            return false;
        store_.failSqlite(rc, what_);
    }
    void run()
    {
        while (step()) {
        }
    }

    bool isNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
    int64_t i64(int column) const { return sqlite3_column_int64(stmt_, column); }
    uint64_t u64(int column) const { return from_sql(sqlite3_column_int64(stmt_, column)); }
    // Valid until the next step or the end of this Query.
    const uint8_t *blob(int column, size_t *len) const
    {
        const void *data = sqlite3_column_blob(stmt_, column);
        *len = size_t(sqlite3_column_bytes(stmt_, column));
        return blob_or_empty(data);
    }

private:
    void check(int rc)
    {
        if (rc != SQLITE_OK)
            store_.failSqlite(rc, what_);
    }

    SqliteStore &store_;
    sqlite3_stmt *stmt_;
    const char *what_;
};

// Makes a multi-statement change atomic inside the open batch: rolled back to its start unless release()d.
// The batch must already be open (beginWrite()), otherwise RELEASE would commit on its own.
class SqliteStore::Savepoint {
public:
    explicit Savepoint(SqliteStore &store) : store_(store) { store_.exec("SAVEPOINT ferry_op", "savepoint"); }
    ~Savepoint()
    {
        if (!released_ && store_.inTransaction_ && sqlite3_get_autocommit(store_.db_) == 0)
            sqlite3_exec(store_.db_, "ROLLBACK TO ferry_op; RELEASE ferry_op", nullptr, nullptr, nullptr);
    }
    Savepoint(const Savepoint &) = delete;
    Savepoint &operator=(const Savepoint &) = delete;

    void release()
    {
        store_.exec("RELEASE ferry_op", "savepoint release");
        released_ = true;
    }

private:
    SqliteStore &store_;
    bool released_ = false;
};

// ---- lifetime ---------------------------------------------------------------------------------------------------

SqliteStore::SqliteStore(const ferry_host *host, const ferry_storage_options &options)
    : host_(host),
      dataDir_(path_from_utf8(options.data_dir)),
      dbPath_(dataDir_ / kDatabaseFileName),
      retentionMs_(options.retention_ms),
      retentionBytes_(options.retention_bytes)
{
}

std::unique_ptr<SqliteStore> SqliteStore::open(const ferry_host *host, const ferry_storage_options &options)
{
    if (options.data_dir == nullptr || options.data_dir[0] == '\0')
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: options.data_dir is empty");
    const StoreConfig config = read_config(host);
    std::unique_ptr<SqliteStore> store(new SqliteStore(host, options));
    store->openDatabase(config);
    store->createOrCheckSchema();
    store->prepareStatements();
    store->loadQueues();
    ferry::sdk::log(host, FERRY_LOG_INFO, "sqlite: opened %s (%zu queues, cache %lld KiB)",
                    utf8(store->dbPath_).c_str(), store->queues_.size(), static_cast<long long>(config.cacheKib));
    return store;
}

SqliteStore::~SqliteStore()
{
    finalizeStatements();
    if (db_ != nullptr)
        sqlite3_close_v2(db_); // an open batch is rolled back
}

void SqliteStore::finalizeStatements() noexcept
{
    for (Statement *s : {&begin_, &commit_, &insertQueue_, &updateQueue_, &deleteQueue_, &deleteQueueRecords_,
                         &deleteQueueOffsets_, &insertRecord_, &readRecords_, &firstOffset_, &maxOffset_,
                         &ackRecord_, &truncateRecords_, &seekTime_, &retentionScan_, &offsetSet_, &offsetGet_,
                         &offsetList_, &metaPut_, &metaGet_, &metaDelete_, &metaScanAll_, &metaScanFrom_,
                         &metaScanRange_}) {
        sqlite3_finalize(s->handle);
        s->handle = nullptr;
    }
}

void SqliteStore::close()
{
    ferry_status status = FERRY_OK;
    std::string message;
    try {
        sync();
    } catch (const Error &e) {
        status = e.status();
        message = e.what();
    }
    finalizeStatements();
    const int rc = sqlite3_close_v2(db_);
    if (rc != SQLITE_OK && status == FERRY_OK) {
        status = status_for(rc);
        message = std::string("sqlite: close: ") + sqlite3_errstr(rc);
    }
    db_ = nullptr;
    if (status != FERRY_OK)
        throw Error(status, message);
}

void SqliteStore::openDatabase(const StoreConfig &config)
{
    std::error_code ec;
    std::filesystem::create_directories(dataDir_, ec);
    if (ec)
        throw Error(FERRY_E_IO, "sqlite: cannot create data directory '" + utf8(dataDir_) + "': " + ec.message());

    const std::string path = utf8(dbPath_);
    const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
        const std::string reason = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw Error(status_for(rc), "sqlite: cannot open '" + path + "': " + reason);
    }
    sqlite3_extended_result_codes(db_, 1);

    // EXCLUSIVE before WAL: the WAL index then lives in heap memory (no -shm file) and the file stays locked
    // against other processes while this instance is open. page_size only applies to a new, empty database.
    exec("PRAGMA locking_mode=EXCLUSIVE", "set locking mode");
    exec(("PRAGMA page_size=" + std::to_string(kPageSize)).c_str(), "set page size");
    {
        Statement journal;
        const int prc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &journal.handle, nullptr);
        if (prc != SQLITE_OK)
            failSqlite(prc, ("opening '" + path + "'").c_str());
        const int src = sqlite3_step(journal.handle);
        if (src != SQLITE_ROW)
            failSqlite(src, ("opening '" + path + "'").c_str());
        const auto *mode = reinterpret_cast<const char *>(sqlite3_column_text(journal.handle, 0));
        if (mode == nullptr || std::string_view(mode) != "wal")
            throw Error(FERRY_E_IO, "sqlite: cannot switch '" + path + "' to WAL journal mode (got '" +
                                        std::string(mode != nullptr ? mode : "") + "')");
    }
    exec("PRAGMA synchronous=FULL", "set synchronous");
    exec(("PRAGMA cache_size=-" + std::to_string(config.cacheKib)).c_str(), "set cache size");
    exec(("PRAGMA wal_autocheckpoint=" + std::to_string(config.walAutocheckpointPages)).c_str(),
         "set wal_autocheckpoint");
}

void SqliteStore::createOrCheckSchema()
{
    int64_t version = 0;
    {
        Statement st;
        const int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &st.handle, nullptr);
        if (rc != SQLITE_OK)
            failSqlite(rc, "reading schema version");
        const int src = sqlite3_step(st.handle);
        if (src != SQLITE_ROW)
            failSqlite(src, "reading schema version");
        version = sqlite3_column_int64(st.handle, 0);
    }
    if (version == kSchemaVersion)
        return;
    if (version != 0)
        throw Error(FERRY_E_UNSUPPORTED, "sqlite: '" + utf8(dbPath_) + "' has schema version " +
                                             std::to_string(version) + "; this plugin reads version " +
                                             std::to_string(kSchemaVersion));
    // The records table keeps its rowid: WITHOUT ROWID stores whole rows in interior b-tree pages and measured
    // 2-3x slower for 1 KiB records. The covering time index carries `offset` so seek_time never reads rows.
    const char *schema = R"sql(
        BEGIN IMMEDIATE;
        CREATE TABLE IF NOT EXISTS queues(
            id INTEGER PRIMARY KEY,
            flags INTEGER NOT NULL,
            low INTEGER NOT NULL,
            next INTEGER NOT NULL,
            record_count INTEGER NOT NULL,
            byte_count INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS records(
            queue_id INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            store_time INTEGER NOT NULL,
            crc INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY(queue_id, offset));
        CREATE INDEX IF NOT EXISTS records_by_time ON records(queue_id, store_time, offset);
        CREATE TABLE IF NOT EXISTS consumer_offsets(
            consumer_group BLOB NOT NULL,
            queue_id INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            PRIMARY KEY(consumer_group, queue_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meta(
            key BLOB PRIMARY KEY,
            value BLOB NOT NULL);
        PRAGMA user_version = 1;
        COMMIT;
    )sql";
    const int rc = sqlite3_exec(db_, schema, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        const std::string reason = sqlite3_errmsg(db_);
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw Error(status_for(rc), "sqlite: creating the schema in '" + utf8(dbPath_) + "': " + reason);
    }
}

void SqliteStore::prepareStatements()
{
    const std::pair<Statement *, const char *> statements[] = {
        {&begin_, "BEGIN IMMEDIATE"},
        {&commit_, "COMMIT"},
        {&insertQueue_,
         "INSERT INTO queues(id, flags, low, next, record_count, byte_count) VALUES(?1, ?2, 0, 0, 0, 0)"},
        {&updateQueue_, "UPDATE queues SET low = ?2, next = ?3, record_count = ?4, byte_count = ?5 WHERE id = ?1"},
        {&deleteQueue_, "DELETE FROM queues WHERE id = ?1"},
        {&deleteQueueRecords_, "DELETE FROM records WHERE queue_id = ?1"},
        {&deleteQueueOffsets_, "DELETE FROM consumer_offsets WHERE queue_id = ?1"},
        {&insertRecord_, "INSERT INTO records(queue_id, offset, store_time, crc, data) VALUES(?1, ?2, ?3, ?4, ?5)"},
        {&readRecords_, "SELECT offset, store_time, crc, data FROM records WHERE queue_id = ?1 AND offset >= ?2 "
                        "ORDER BY offset LIMIT ?3"},
        {&firstOffset_, "SELECT offset FROM records WHERE queue_id = ?1 ORDER BY offset LIMIT 1"},
        {&maxOffset_, "SELECT max(offset) FROM records WHERE queue_id = ?1"},
        {&ackRecord_, "DELETE FROM records WHERE queue_id = ?1 AND offset = ?2 RETURNING length(data)"},
        {&truncateRecords_, "DELETE FROM records WHERE queue_id = ?1 AND offset < ?2 RETURNING length(data)"},
        // Two index ranges because store times are unsigned values kept in signed columns (see unsigned_at_least).
        {&seekTime_, "SELECT min(offset) FROM ("
                     "SELECT offset FROM records WHERE queue_id = ?1 AND store_time BETWEEN ?2 AND ?3 UNION ALL "
                     "SELECT offset FROM records WHERE queue_id = ?1 AND store_time BETWEEN ?4 AND ?5)"},
        {&retentionScan_, "SELECT offset, store_time, length(data) FROM records WHERE queue_id = ?1 AND offset >= ?2 "
                          "ORDER BY offset"},
        {&offsetSet_, "INSERT INTO consumer_offsets(consumer_group, queue_id, offset) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(consumer_group, queue_id) DO UPDATE SET offset = excluded.offset"},
        {&offsetGet_, "SELECT offset FROM consumer_offsets WHERE consumer_group = ?1 AND queue_id = ?2"},
        {&offsetList_, "SELECT consumer_group, queue_id, offset FROM consumer_offsets ORDER BY consumer_group, queue_id"},
        {&metaPut_, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
        {&metaGet_, "SELECT value FROM meta WHERE key = ?1"},
        {&metaDelete_, "DELETE FROM meta WHERE key = ?1"},
        {&metaScanAll_, "SELECT key, value FROM meta ORDER BY key"},
        {&metaScanFrom_, "SELECT key, value FROM meta WHERE key >= ?1 ORDER BY key"},
        {&metaScanRange_, "SELECT key, value FROM meta WHERE key >= ?1 AND key < ?2 ORDER BY key"},
    };
    for (const auto &[statement, sql] : statements) {
        const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement->handle, nullptr);
        if (rc != SQLITE_OK)
            failSqlite(rc, "preparing statements");
    }
}

void SqliteStore::loadQueues()
{
    queues_.clear();
    dirtyQueues_.clear();
    Statement st;
    const int rc = sqlite3_prepare_v2(
        db_, "SELECT id, flags, low, next, record_count, byte_count FROM queues", -1, &st.handle, nullptr);
    if (rc != SQLITE_OK)
        failSqlite(rc, "loading queues");
    for (;;) {
        const int src = sqlite3_step(st.handle);
        if (src == SQLITE_DONE)
            break;
        if (src != SQLITE_ROW)
            failSqlite(src, "loading queues");
        QueueState state;
        const uint64_t id = from_sql(sqlite3_column_int64(st.handle, 0));
        state.flags = uint32_t(sqlite3_column_int64(st.handle, 1));
        state.truncatedLow = from_sql(sqlite3_column_int64(st.handle, 2));
        state.next = from_sql(sqlite3_column_int64(st.handle, 3));
        state.recordCount = from_sql(sqlite3_column_int64(st.handle, 4));
        state.byteCount = from_sql(sqlite3_column_int64(st.handle, 5));
        queues_.emplace(id, state);
    }
    // `next` is written together with the records in one transaction, so this only guards against a hand-edited
    // database: an offset must never be handed out twice.
    for (auto &[id, state] : queues_) {
        Query q(*this, maxOffset_, "loading queues");
        q.u64(1, id);
        if (q.step() && !q.isNull(0) && q.u64(0) >= state.next) {
            ferry::sdk::log(host_, FERRY_LOG_WARN, "sqlite: queue %llu: stored next %llu is below its last record; "
                            "using %llu", static_cast<unsigned long long>(id),
                            static_cast<unsigned long long>(state.next), static_cast<unsigned long long>(q.u64(0) + 1));
            state.next = q.u64(0) + 1;
        }
    }
}

// ---- error handling and the group-commit batch -----------------------------------------------------------------

void SqliteStore::failSqlite(int rc, const char *what)
{
    std::string message = std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db_) + " (code " +
                          std::to_string(rc) + ")";
    if (inTransaction_ && sqlite3_get_autocommit(db_) != 0) {
        // SQLite rolled the whole batch back (it may after SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM). Go back to
        // the last synced state so offsets and counters match the database again.
        inTransaction_ = false;
        message += "; the batch since the last sync was rolled back";
        try {
            loadQueues();
        } catch (const Error &e) {
            message += std::string("; reloading queue state failed: ") + e.what();
        }
    }
    throw Error(status_for(rc), message);
}

void SqliteStore::exec(const char *sql, const char *what)
{
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        failSqlite(rc, what);
}

void SqliteStore::beginWrite()
{
    if (inTransaction_)
        return;
    Query(*this, begin_, "begin batch").run();
    inTransaction_ = true;
}

SqliteStore::QueueState &SqliteStore::queueOrThrow(uint64_t queueId)
{
    const auto it = queues_.find(queueId);
    if (it == queues_.end())
        throw Error(FERRY_E_NOT_FOUND, "sqlite: queue " + std::to_string(queueId) + " does not exist");
    return it->second;
}

void SqliteStore::markDirty(uint64_t queueId, QueueState &state)
{
    if (!state.dirty) {
        state.dirty = true;
        dirtyQueues_.push_back(queueId);
    }
}

void SqliteStore::flushDirtyQueues()
{
    for (const uint64_t id : dirtyQueues_) {
        const auto it = queues_.find(id);
        if (it == queues_.end() || !it->second.dirty)
            continue;
        const QueueState &s = it->second;
        Query(*this, updateQueue_, "sync")
            .u64(1, id)
            .u64(2, s.truncatedLow)
            .u64(3, s.next)
            .u64(4, s.recordCount)
            .u64(5, s.byteCount)
            .run();
        it->second.dirty = false;
    }
    dirtyQueues_.clear();
}

void SqliteStore::sync()
{
    if (!inTransaction_)
        return;
    flushDirtyQueues();
    Query(*this, commit_, "sync (commit)").run();
    inTransaction_ = false;
}

uint64_t SqliteStore::capabilities() const
{
    return FERRY_STORAGE_CAP_DURABLE_SYNC | FERRY_STORAGE_CAP_TIME_INDEX | FERRY_STORAGE_CAP_RETENTION;
}

// ---- queues -----------------------------------------------------------------------------------------------------

void SqliteStore::queueCreate(uint64_t queueId, uint32_t flags)
{
    if (queues_.count(queueId) != 0)
        throw Error(FERRY_E_ALREADY_EXISTS, "sqlite: queue " + std::to_string(queueId) + " already exists");
    beginWrite();
    Query(*this, insertQueue_, "queue_create").u64(1, queueId).i64(2, int64_t(flags)).run();
    QueueState state;
    state.flags = flags;
    queues_.emplace(queueId, state);
}

void SqliteStore::queueDelete(uint64_t queueId)
{
    queueOrThrow(queueId);
    beginWrite();
    Savepoint savepoint(*this);
    Query(*this, deleteQueueRecords_, "queue_delete (records)").u64(1, queueId).run();
    Query(*this, deleteQueueOffsets_, "queue_delete (offsets)").u64(1, queueId).run();
    Query(*this, deleteQueue_, "queue_delete").u64(1, queueId).run();
    savepoint.release();
    queues_.erase(queueId);
}

void SqliteStore::queueList(ferry_storage_queue_sink sink, void *sinkCtx)
{
    std::vector<std::pair<uint64_t, uint32_t>> list;
    list.reserve(queues_.size());
    for (const auto &[id, state] : queues_)
        list.emplace_back(id, state.flags);
    std::sort(list.begin(), list.end());
    for (const auto &[id, flags] : list)
        if (sink(sinkCtx, id, flags) != 0)
            break;
}

uint64_t SqliteStore::firstRemainingOffset(uint64_t queueId, const QueueState &state)
{
    if (state.recordCount == 0)
        return state.next;
    Query q(*this, firstOffset_, "queue_bounds");
    q.u64(1, queueId);
    return q.step() ? q.u64(0) : state.next;
}

void SqliteStore::queueBounds(uint64_t queueId, uint64_t *low, uint64_t *next)
{
    const QueueState &state = queueOrThrow(queueId);
    *low = firstRemainingOffset(queueId, state);
    *next = state.next;
}

// ---- records ----------------------------------------------------------------------------------------------------

uint64_t SqliteStore::append(uint64_t queueId, uint64_t storeTimeMs, const uint8_t *head, size_t headLen,
                             const uint8_t *body, size_t bodyLen)
{
    if ((head == nullptr && headLen != 0) || (body == nullptr && bodyLen != 0))
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: append: null head or body with a non-zero length");
    QueueState &state = queueOrThrow(queueId);
    const uint64_t limit = uint64_t(sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, -1));
    if (headLen > limit || bodyLen > limit - headLen)
        throw Error(FERRY_E_TOO_LARGE, "sqlite: append: record of " + std::to_string(uint64_t(headLen) + bodyLen) +
                                           " bytes exceeds SQLite's limit of " + std::to_string(limit));
    const size_t total = headLen + bodyLen;
    const uint32_t crc = crc32_update(crc32_update(0, head, headLen), body, bodyLen);

    beginWrite();
    Query insert(*this, insertRecord_, "append");
    insert.u64(1, queueId).u64(2, state.next).u64(3, storeTimeMs).i64(4, int64_t(crc));
    // When head and body are both present they are copied once into a reused buffer and bound as one blob.
    // Measured against sqlite3_bind_zeroblob + sqlite3_blob_write (which needs a rowid lookup and a blob handle per
    // record): the buffer was 5-20% faster for 128 B - 16 KiB records, so it is kept. A lone head or body is bound
    // in place with no copy of ours.
    if (headLen == 0) {
        insert.bytes(5, body, bodyLen);
    } else if (bodyLen == 0) {
        insert.bytes(5, head, headLen);
    } else {
        appendBuffer_.resize(total);
        std::memcpy(appendBuffer_.data(), head, headLen);
        std::memcpy(appendBuffer_.data() + headLen, body, bodyLen);
        insert.bytes(5, appendBuffer_.data(), total);
    }
    insert.run();

    const uint64_t offset = state.next;
    state.next += 1;
    state.recordCount += 1;
    state.byteCount += total;
    markDirty(queueId, state);
    constexpr size_t kKeepBufferBytes = size_t(1) << 20;
    if (appendBuffer_.capacity() > kKeepBufferBytes) {
        appendBuffer_.clear();
        appendBuffer_.shrink_to_fit();
    }
    return offset;
}

void SqliteStore::read(uint64_t queueId, uint64_t fromOffset, uint32_t maxRecords, uint64_t maxBytes,
                       ferry_storage_record_sink sink, void *sinkCtx)
{
    const QueueState &state = queueOrThrow(queueId);
    if (state.recordCount == 0 || fromOffset >= state.next)
        return;
    Query q(*this, readRecords_, "read");
    q.u64(1, queueId).u64(2, fromOffset).i64(3, maxRecords == 0 ? -1 : int64_t(maxRecords));
    uint64_t deliveredBytes = 0;
    bool deliveredAny = false;
    while (q.step()) {
        ferry_storage_record record{};
        record.struct_size = sizeof record;
        record.queue_id = queueId;
        record.offset = q.u64(0);
        record.store_time_ms = q.u64(1);
        record.data = q.blob(3, &record.len);
        if (deliveredAny && maxBytes != 0 && record.len > maxBytes - deliveredBytes)
            break;
        const uint32_t stored = uint32_t(q.i64(2));
        const uint32_t computed = crc32_update(0, record.data, record.len);
        if (stored != computed) {
            char text[160];
            std::snprintf(text, sizeof text,
                          "sqlite: record at queue %llu offset %llu is corrupt (crc %08x stored, %08x computed)",
                          static_cast<unsigned long long>(queueId), static_cast<unsigned long long>(record.offset),
                          stored, computed);
            throw Error(FERRY_E_CORRUPT, text);
        }
        deliveredAny = true;
        deliveredBytes += record.len;
        if (sink(sinkCtx, &record) != 0)
            break;
        if (maxBytes != 0 && deliveredBytes >= maxBytes)
            break;
    }
}

void SqliteStore::ack(uint64_t queueId, uint64_t offset)
{
    QueueState &state = queueOrThrow(queueId);
    if (offset >= state.next)
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: ack: queue " + std::to_string(queueId) + " has no offset " +
                                                  std::to_string(offset) + " (next is " +
                                                  std::to_string(state.next) + ")");
    if (offset < state.truncatedLow || state.recordCount == 0)
        return;
    beginWrite();
    Query q(*this, ackRecord_, "ack");
    q.u64(1, queueId).u64(2, offset);
    while (q.step()) {
        state.recordCount -= 1;
        state.byteCount -= std::min(state.byteCount, q.u64(0));
        markDirty(queueId, state);
    }
}

void SqliteStore::truncatePrefix(uint64_t queueId, uint64_t newLow)
{
    QueueState &state = queueOrThrow(queueId);
    newLow = std::min(newLow, state.next);
    if (newLow <= state.truncatedLow)
        return;
    beginWrite();
    uint64_t removedRecords = 0;
    uint64_t removedBytes = 0;
    if (state.recordCount != 0) {
        Query q(*this, truncateRecords_, "truncate_prefix");
        q.u64(1, queueId).u64(2, newLow);
        while (q.step()) {
            removedRecords += 1;
            removedBytes += q.u64(0);
        }
    }
    state.truncatedLow = newLow;
    state.recordCount -= std::min(state.recordCount, removedRecords);
    state.byteCount -= std::min(state.byteCount, removedBytes);
    markDirty(queueId, state);
}

uint64_t SqliteStore::seekTime(uint64_t queueId, uint64_t timeMs)
{
    const QueueState &state = queueOrThrow(queueId);
    if (state.recordCount == 0)
        return state.next;
    const auto ranges = unsigned_at_least(timeMs);
    Query q(*this, seekTime_, "seek_time");
    q.u64(1, queueId).i64(2, ranges[0].lo).i64(3, ranges[0].hi).i64(4, ranges[1].lo).i64(5, ranges[1].hi);
    if (q.step() && !q.isNull(0))
        return q.u64(0);
    return state.next;
}

// ---- consumer offsets -------------------------------------------------------------------------------------------

void SqliteStore::offsetSet(const char *group, size_t groupLen, uint64_t queueId, uint64_t offset)
{
    if (group == nullptr && groupLen != 0)
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: offset_set: null group with a non-zero length");
    beginWrite();
    Query(*this, offsetSet_, "offset_set").bytes(1, group, groupLen).u64(2, queueId).u64(3, offset).run();
}

bool SqliteStore::offsetGet(const char *group, size_t groupLen, uint64_t queueId, uint64_t *offset)
{
    if (group == nullptr && groupLen != 0)
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: offset_get: null group with a non-zero length");
    Query q(*this, offsetGet_, "offset_get");
    q.bytes(1, group, groupLen).u64(2, queueId);
    if (!q.step())
        return false;
    *offset = q.u64(0);
    return true;
}

void SqliteStore::offsetList(ferry_storage_offset_sink sink, void *sinkCtx)
{
    Query q(*this, offsetList_, "offset_list");
    while (q.step()) {
        size_t groupLen = 0;
        const uint8_t *group = q.blob(0, &groupLen);
        if (sink(sinkCtx, reinterpret_cast<const char *>(group), groupLen, q.u64(1), q.u64(2)) != 0)
            break;
    }
}

// ---- metadata ---------------------------------------------------------------------------------------------------

void SqliteStore::metaPut(const uint8_t *key, size_t keyLen, const uint8_t *value, size_t valueLen)
{
    if ((key == nullptr && keyLen != 0) || (value == nullptr && valueLen != 0))
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: meta_put: null key or value with a non-zero length");
    beginWrite();
    Query(*this, metaPut_, "meta_put").bytes(1, key, keyLen).bytes(2, value, valueLen).run();
}

bool SqliteStore::metaGet(const uint8_t *key, size_t keyLen, ferry_storage_kv_sink sink, void *sinkCtx)
{
    if (key == nullptr && keyLen != 0)
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: meta_get: null key with a non-zero length");
    Query q(*this, metaGet_, "meta_get");
    q.bytes(1, key, keyLen);
    if (!q.step())
        return false;
    size_t valueLen = 0;
    const uint8_t *value = q.blob(0, &valueLen);
    sink(sinkCtx, blob_or_empty(key), keyLen, value, valueLen);
    return true;
}

bool SqliteStore::metaDelete(const uint8_t *key, size_t keyLen)
{
    if (key == nullptr && keyLen != 0)
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: meta_delete: null key with a non-zero length");
    beginWrite();
    Query(*this, metaDelete_, "meta_delete").bytes(1, key, keyLen).run();
    return sqlite3_changes64(db_) > 0;
}

void SqliteStore::metaScan(const uint8_t *prefix, size_t prefixLen, ferry_storage_kv_sink sink, void *sinkCtx)
{
    if (prefix == nullptr && prefixLen != 0)
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: meta_scan: null prefix with a non-zero length");
    // Keys with the prefix are exactly those in [prefix, upper) where upper is the prefix with trailing 0xFF bytes
    // dropped and its last byte incremented; a prefix of only 0xFF bytes has no upper bound.
    std::vector<uint8_t> upper(prefix, prefix + prefixLen);
    while (!upper.empty() && upper.back() == 0xFF)
        upper.pop_back();
    if (!upper.empty())
        upper.back() += 1;

    Statement &statement = prefixLen == 0 ? metaScanAll_ : upper.empty() ? metaScanFrom_ : metaScanRange_;
    Query q(*this, statement, "meta_scan");
    if (prefixLen != 0)
        q.bytes(1, prefix, prefixLen);
    if (prefixLen != 0 && !upper.empty())
        q.bytes(2, upper.data(), upper.size());
    while (q.step()) {
        size_t keyLen = 0;
        size_t valueLen = 0;
        const uint8_t *key = q.blob(0, &keyLen);
        const uint8_t *value = q.blob(1, &valueLen);
        if (sink(sinkCtx, key, keyLen, value, valueLen) != 0)
            break;
    }
}

// ---- housekeeping -----------------------------------------------------------------------------------------------

void SqliteStore::maintain(uint64_t nowMs)
{
    if (retentionMs_ != 0)
        applyAgeRetention(nowMs);
    if (retentionBytes_ != 0)
        applySizeRetention();
}

// Age retention cuts each queue's prefix up to its first record stored at or after now - retention_ms (the
// seek_time answer), so a log keeps its shape even if store times are not monotonic.
void SqliteStore::applyAgeRetention(uint64_t nowMs)
{
    if (nowMs <= retentionMs_)
        return;
    const uint64_t cutoff = nowMs - retentionMs_;
    for (auto &[id, state] : queues_) {
        if ((state.flags & FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED) != 0 || state.recordCount == 0)
            continue;
        const uint64_t keepFrom = seekTime(id, cutoff);
        if (firstRemainingOffset(id, state) < keepFrom)
            truncatePrefix(id, keepFrom);
    }
}

// Size retention: while the sum of record sizes exceeds retention_bytes, drop the oldest records (by store time of
// each queue's front record) from queues without RETAIN_UNTIL_ACKED, always from a queue's front.
void SqliteStore::applySizeRetention()
{
    uint64_t total = 0;
    for (const auto &[id, state] : queues_)
        total += state.byteCount;
    if (total <= retentionBytes_)
        return;
    uint64_t excess = total - retentionBytes_;

    struct Front {
        uint64_t storeTime;
        uint64_t queueId;
        uint64_t offset;
        bool operator>(const Front &o) const
        {
            return std::tie(storeTime, queueId) > std::tie(o.storeTime, o.queueId);
        }
    };
    std::priority_queue<Front, std::vector<Front>, std::greater<Front>> fronts;
    for (const auto &[id, state] : queues_) {
        if ((state.flags & FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED) != 0 || state.recordCount == 0)
            continue;
        Query q(*this, retentionScan_, "retention");
        q.u64(1, id).u64(2, 0);
        if (q.step())
            fronts.push(Front{q.u64(1), id, q.u64(0)});
    }
    while (excess > 0 && !fronts.empty()) {
        const Front front = fronts.top();
        fronts.pop();
        // Drop from this queue while its records are not newer than the next queue's front.
        const uint64_t bound = fronts.empty() ? std::numeric_limits<uint64_t>::max() : fronts.top().storeTime;
        uint64_t cutBefore = front.offset;
        {
            Query q(*this, retentionScan_, "retention");
            q.u64(1, front.queueId).u64(2, front.offset);
            while (excess > 0 && q.step()) {
                const uint64_t offset = q.u64(0);
                const uint64_t storeTime = q.u64(1);
                if (offset != front.offset && storeTime > bound) {
                    fronts.push(Front{storeTime, front.queueId, offset});
                    break;
                }
                cutBefore = offset + 1;
                excess -= std::min(excess, q.u64(2));
            }
        }
        truncatePrefix(front.queueId, cutBefore);
    }
}

void SqliteStore::stats(ferry_storage_stats *out)
{
    if (out == nullptr || out->struct_size < sizeof(uint32_t))
        throw Error(FERRY_E_INVALID_ARGUMENT, "sqlite: control(STATS): arg must be a ferry_storage_stats with "
                                              "struct_size set");
    ferry_storage_stats result{};
    result.struct_size = out->struct_size;
    result.queue_count = queues_.size();
    for (const auto &[id, state] : queues_)
        result.record_count += state.recordCount;
    for (const char *suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(std::filesystem::path(dbPath_) += suffix, ec);
        if (!ec)
            result.bytes_on_disk += size;
    }
    std::memcpy(static_cast<void *>(out), &result, std::min<size_t>(out->struct_size, sizeof result));
}

} // namespace ferry::storage_sqlite
