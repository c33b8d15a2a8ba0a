// QueueIndex.h -- one queue's offset index: index/<queue id>.idx, fixed-size entries, offset -> commit-log position.
//
// Entry i describes offset base() + i, so a lookup is O(1): entries already written to the file are read through a
// read-only QFile::map of the whole (sparse, preallocated) file, the newest ones from an in-memory tail that is written
// out in blocks (every kFlushEntries appends, at checkpoints and at rebase). Store times per queue are assumed
// non-decreasing (the kernel stamps them from one clock on one thread), which makes seek_time a binary search.
//
// Durability: the index is derived data. It is fsynced only when the store writes a checkpoint; after a crash the
// store rebuilds every entry past the checkpoint from the commit log.
//
// The object holds no open file descriptor between calls (a QFile mapping stays valid after the file is closed),
// so thousands of queues do not exhaust descriptors. Not thread-safe (the store calls it from one thread at a time).
#pragma once

#include "Format.h"

#include <QFile>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ferry::storage_file {

struct IndexEntry {
    uint64_t position = 0;     // commit-log position of the record header
    uint32_t length = 0;       // header + payload bytes; 0 marks a record lost before recovery (read skips it)
    uint64_t store_time_ms = 0;
};

class QueueIndex {
public:
    static constexpr size_t kFlushEntries = 512;

    QueueIndex(std::filesystem::path path, uint64_t queue_id, uint32_t incarnation);
    ~QueueIndex();
    QueueIndex(const QueueIndex &) = delete;
    QueueIndex &operator=(const QueueIndex &) = delete;

    // Creates the file (replacing any old one) holding no entries; the first appended entry is offset `base`.
    void create(uint64_t base);
    // Opens the existing file, trusting its first (next - base) entries because a checkpoint vouched for them, and
    // clears anything written after them. Returns false with a reason when the file is missing or does not match.
    bool open_checkpointed(uint64_t next, std::string &why);

    uint64_t base() const { return base_; }
    uint64_t next() const { return base_ + flushed_ + pending_count(); }
    uint64_t file_bytes() const;

    // Writes the in-memory tail out when it is full (throws on I/O failure), so that the next append() cannot fail.
    void make_room();
    // Adds the entry for offset next(). Calls make_room() first (throws on I/O failure; then nothing was added).
    void append(const IndexEntry &entry);
    // The entry of base() <= offset < next().
    IndexEntry get(uint64_t offset) const;
    // First offset in [from, to) whose entry position is >= position (to when none). Positions grow with offsets.
    uint64_t first_at_or_after_position(uint64_t position, uint64_t from, uint64_t to) const;
    // First offset in [from, to) whose store time is >= time_ms (to when none).
    uint64_t first_at_or_after_time(uint64_t time_ms, uint64_t from, uint64_t to) const;

    // Writes the in-memory tail to the file (no fsync).
    void flush();
    // flush() and fsync when anything was written since the last sync.
    void sync();
    // Rewrites the file so it starts at new_base (base() <= new_base <= next()), atomically (temp file + rename).
    void rebase(uint64_t new_base);
    // Unmaps and deletes the file.
    void remove_file();

private:
    size_t pending_count() const { return pending_.size() / kIndexEntryBytes; }
    void map_file(uint64_t capacity_entries);
    void unmap_file();
    void write_header(QFile &file, uint64_t base);

    std::filesystem::path path_;
    uint64_t queue_id_;
    uint32_t incarnation_;
    uint64_t base_ = 0;
    uint64_t flushed_ = 0;          // entries in the file
    uint64_t capacity_ = 0;         // entries the mapped file can hold
    std::vector<uint8_t> pending_;  // encoded entries not yet written (24 bytes each)
    QFile mapper_;                  // owns map_; closed after mapping
    const uint8_t *map_ = nullptr;  // whole file, read-only
    bool unsynced_ = false;         // written since the last fsync
};

} // namespace ferry::storage_file
