// FileStore.h -- one open storage-file instance: the commit log, per-queue indexes, the state journal and the
// checkpoint, behind the operations of ferry_storage_vtable.
//
// Contract (see broker/include/ferry/ferry_storage.h, which wins): every method may throw sdk::Error (or
// std::bad_alloc); the C entry points in plugin.cpp wrap each call in sdk::guard. Calls are never concurrent
// (the kernel's storage thread), so there is no locking. Nothing is durable until sync().
#pragma once

#include "AckSet.h"
#include "Checkpoint.h"
#include "CommitLog.h"
#include "QueueIndex.h"
#include "StateJournal.h"

#include <ferry/ferry_storage.h>

#include <QLockFile>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace ferry::storage_file {

struct StoreConfig {
    uint64_t segment_bytes = 268435456;
    uint64_t checkpoint_bytes = 67108864;
    uint64_t journal_compact_bytes = 16777216;
};

class FileStore {
public:
    // Opens (creating when empty) the store in options.data_dir, recovering after a crash.
    FileStore(const ferry_host *host, const ferry_storage_options &options, const StoreConfig &config);
    // Does not sync: call close() first for a clean shutdown.
    ~FileStore();
    FileStore(const FileStore &) = delete;
    FileStore &operator=(const FileStore &) = delete;

    // sync + checkpoint; the instance must not be used afterwards.
    void close();

    void queue_create(uint64_t queue_id, uint32_t flags);
    void queue_delete(uint64_t queue_id);
    void queue_list(ferry_storage_queue_sink sink, void *ctx) const;
    void queue_bounds(uint64_t queue_id, uint64_t &low, uint64_t &next) const;

    uint64_t append(uint64_t queue_id, uint64_t store_time_ms, const uint8_t *head, size_t head_len,
                    const uint8_t *body, size_t body_len);
    void read(uint64_t queue_id, uint64_t from_offset, uint32_t max_records, uint64_t max_bytes,
              ferry_storage_record_sink sink, void *ctx) const;
    void ack(uint64_t queue_id, uint64_t offset);
    void truncate_prefix(uint64_t queue_id, uint64_t new_low);
    uint64_t seek_time(uint64_t queue_id, uint64_t time_ms) const;

    void offset_set(std::string_view group, uint64_t queue_id, uint64_t offset);
    bool offset_get(std::string_view group, uint64_t queue_id, uint64_t &offset) const;
    void offset_list(ferry_storage_offset_sink sink, void *ctx) const;

    void meta_put(std::string_view key, std::string_view value);
    bool meta_get(std::string_view key, ferry_storage_kv_sink sink, void *ctx) const;
    bool meta_delete(std::string_view key);
    void meta_scan(std::string_view prefix, ferry_storage_kv_sink sink, void *ctx) const;

    void sync();
    void maintain(uint64_t now_ms);
    ferry_storage_stats stats() const;

private:
    struct QueueState {
        uint64_t id = 0;
        uint32_t flags = 0;
        uint32_t incarnation = 0;
        uint64_t low = 0;  // first offset neither truncated nor acked (== next when none)
        uint64_t next = 0; // offset of the next append
        AckSet acked;      // acked offsets >= low
        std::unique_ptr<QueueIndex> index;
        bool rebuilding = false; // recovery only: index being rebuilt from the whole log
    };
    using OffsetKey = std::pair<std::string, uint64_t>;

    // ---- state changes, shared by live calls and journal replay ----
    void apply_entry(StateEntryType type, const uint8_t *payload, size_t len);
    void apply_queue_create(uint64_t id, uint32_t flags, uint32_t incarnation);
    void apply_queue_delete(uint64_t id);
    void apply_truncate(QueueState &q, uint64_t new_low);
    void apply_ack(QueueState &q, uint64_t offset);

    void journal_truncate(QueueState &q, uint64_t new_low);

    // ---- recovery ----
    void recover();
    void scan_log(uint64_t checkpoint_position, const Checkpoint *checkpoint);
    // Handles one valid record found by the scan. Returns false when it shows a gap in its queue (torn tail).
    bool index_scanned_record(const RecordHeader &h, uint64_t position, bool before_checkpoint, std::string &why);
    void settle_low(QueueState &q, bool journal_changes);

    // ---- housekeeping ----
    void write_checkpoint();
    void maybe_compact_journal();
    void encode_snapshot(std::vector<uint8_t> &out) const;
    // Live (readable) records of q stored in seg.
    uint64_t live_records_in(const QueueState &q, const Segment &seg) const;

    QueueState &queue(uint64_t queue_id);
    const QueueState &queue(uint64_t queue_id) const;
    std::filesystem::path index_path(uint64_t queue_id) const;
    void warn(const std::string &text) const;

    const ferry_host *host_;
    std::filesystem::path dir_;
    uint64_t retention_ms_ = 0;
    uint64_t retention_bytes_ = 0;
    StoreConfig config_;
    std::unique_ptr<QLockFile> lock_;
    CommitLog log_;
    StateJournal journal_;
    std::unordered_map<uint64_t, QueueState> queues_;
    std::map<OffsetKey, uint64_t> offsets_;
    std::map<std::string, std::string> meta_;
    uint32_t next_incarnation_ = 1;
    uint64_t checkpoint_position_ = 0;
    bool index_dir_unsynced_ = false;
    bool closed_ = false;
};

} // namespace ferry::storage_file
