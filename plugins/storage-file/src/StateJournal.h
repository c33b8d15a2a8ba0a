// StateJournal.h -- durable home of everything that is not record data: queue create/delete (with flags and
// incarnation), truncate_prefix, acks, consumer offsets and metadata.
//
// Files in state/: `snapshot` (the complete state as of the end of journal generation G, written atomically) and
// `journal-<20-digit generation>.log` files holding CRC-protected entries appended after it. Open replays the
// snapshot and then every journal newer than it, in generation order; a torn tail of the newest journal (a crash
// during a write) is cut with a warning.
//
// Entries are buffered in memory and written at flush() (sync() and whenever the buffer passes kFlushBytes), so an
// ack costs no system call. Nothing is durable before sync(). compact() starts a new journal generation, writes a
// snapshot of the state as of that point (temp file, fsync, rename) and then deletes the older journals; a crash at
// any step leaves files that replay to the same state.
//
// Not thread-safe: the store calls it from one thread at a time.
#pragma once

#include "Format.h"

#include <QFile>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ferry::storage_file {

// Appends one encoded state entry to out (crc, length, type, payload made of up to three pieces).
void encode_state_entry(std::vector<uint8_t> &out, StateEntryType type, const void *fixed, size_t fixed_len,
                        const void *a = nullptr, size_t a_len = 0, const void *b = nullptr, size_t b_len = 0);

class StateJournal {
public:
    static constexpr size_t kFlushBytes = 64 * 1024;

    using Apply = std::function<void(StateEntryType type, const uint8_t *payload, size_t len)>;
    using Warn = std::function<void(const std::string &text)>;

    StateJournal() = default;
    ~StateJournal();
    StateJournal(const StateJournal &) = delete;
    StateJournal &operator=(const StateJournal &) = delete;

    // Replays snapshot + journals through apply (entries of unknown type are passed on; the caller ignores them).
    // Throws FERRY_E_CORRUPT when the snapshot is damaged (it is written atomically, so that is not a crash effect).
    void open(const std::filesystem::path &dir, const Apply &apply, const Warn &warn);

    // Writes the buffer out first when it is large, so the next entry cannot fail half-applied (throws on I/O error).
    void make_room();
    // The buffer new entries are encoded into (with encode_state_entry).
    std::vector<uint8_t> &buffer() { return buffer_; }

    void flush();
    void sync();

    uint64_t journal_bytes() const { return journal_file_bytes_ + buffer_.size(); }
    uint64_t snapshot_bytes() const { return snapshot_bytes_; }
    uint64_t disk_bytes() const { return journal_file_bytes_ + older_journal_bytes_ + snapshot_bytes_; }

    // snapshot_entries: the complete current state, encoded (without the trailing SnapshotEnd, added here).
    void compact(const std::vector<uint8_t> &snapshot_entries);

    void close();

private:
    std::filesystem::path journal_path(uint64_t generation) const;
    void start_generation(uint64_t generation);

    std::filesystem::path dir_;
    uint64_t generation_ = 0;
    std::unique_ptr<QFile> writer_;
    uint64_t journal_file_bytes_ = 0;   // bytes in the current journal file
    uint64_t older_journal_bytes_ = 0;  // journals older than the current one still on disk
    uint64_t snapshot_bytes_ = 0;
    bool unsynced_ = false;
    std::vector<uint8_t> buffer_;
};

} // namespace ferry::storage_file
