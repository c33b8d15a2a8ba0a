// ReplicationJournal: a master's recent durable changes in memory, numbered (seq), for its slaves to read; and the
// completions that sync replication holds back until a slave has acknowledged them.
//
// Contract:
//  - The storage thread records every change (StorageJournal) and publishes them once durable: only published
//    changes are shipped, so a slave never holds what a crashed master lost.
//  - The backlog keeps at most replication.buffer_bytes (append bodies are shared with the kernel's messages, not
//    copied); a slave whose position fell out of it catches up from storage instead.
//  - holdCompletions (SYNC_MASTER): completions wait until an in-sync slave acknowledges a seq at or past the last
//    recorded one; with no in-sync slave they fail at once with FERRY_E_NO_REPLICA, after sync_timeout_ms with
//    FERRY_E_REPLICA_TIMEOUT. They run on the thread that releases them (a connection thread, the scheduler's).
//  - Threading: the StorageJournal members run on the storage thread; everything else is thread-safe.
#pragma once

#include "queue/Message.h"
#include "storage/StorageEngine.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ferry {
class Scheduler;
}

namespace ferry::repl {

class ReplicationJournal : public StorageJournal {
public:
    ReplicationJournal(Scheduler &scheduler, uint64_t bufferBytes, bool syncMode, uint32_t syncTimeoutMs);
    ~ReplicationJournal() override;

    // A random id of this journal's numbering (seqs restart at 1 with each process).
    uint64_t epoch() const { return epoch_; }

    // StorageJournal (storage thread).
    void onAppend(uint64_t queueId, uint64_t offset, uint64_t storeTimeMs, std::string_view head,
                  const MessagePtr &message) override;
    void onChange(Change change, uint64_t queueId, uint64_t number, std::string_view key,
                  std::string_view value) override;
    void onDurable() override;
    bool holdCompletions(std::vector<HeldCompletion> &completions) override;
    bool holdsCompletions() const override { return syncMode_; }
    // The last recorded seq (storage thread: exact; elsewhere a snapshot).
    uint64_t recordedSeq() const { return recorded_.load(std::memory_order_acquire); }

    // ---- any thread ----
    uint64_t publishedSeq() const { return published_.load(std::memory_order_acquire); }
    // Appends Op frames for published changes from seq `from` on, until about maxBytes were added or none is left;
    // *next: the next seq to send. false when `from` is older than the backlog (the slave must catch up from
    // storage).
    bool encodeFrom(uint64_t from, size_t maxBytes, std::string &out, uint64_t *next) const;
    // Bytes and appended messages between seq `acked` and the last published one (lag of a slave at `acked`);
    // false when `acked` is older than the backlog.
    bool lagSince(uint64_t acked, uint64_t *bytes, uint64_t *messages) const;
    // Bytes of every change up to and including seq (its budget share, as lagSince counts them); false when seq
    // is not in the backlog.
    bool bytesThrough(uint64_t seq, uint64_t *bytes) const;

    // Called after every publish (from the storage thread): wakes the senders. Returns an id for removeListener.
    uint64_t addListener(std::function<void()> fn);
    void removeListener(uint64_t id);

    // A slave acknowledged everything through seq: releases held completions up to it.
    void acknowledged(uint64_t seq);
    // How many slaves count as in sync (connected and streaming live). Set by the replication service.
    void setInSyncSlaves(int count);
    int inSyncSlaves() const { return inSync_.load(std::memory_order_acquire); }
    // Fails every held completion (shutdown, or the broker lost its master role).
    void failHeld(ferry_status status, const std::string &why);

private:
    struct Entry {
        uint64_t seq;
        uint8_t kind;
        uint64_t queueId;
        uint64_t number; // offset, flags
        uint64_t storeTimeMs;
        std::string key;
        std::string data; // append: the head; MetaPut: the value
        MessagePtr message; // append: the body lives here
        uint64_t bytes;       // this entry's share of the backlog budget
        uint64_t cumBytes;    // bytes of every entry up to and including this one
        uint64_t cumMessages; // appends up to and including this one
    };
    struct Held {
        uint64_t seq;
        uint64_t deadlineMs;
        std::vector<HeldCompletion> completions;
    };
    void push(Entry e);
    void armTimer();
    void onTimer();
    static uint64_t nowMs();

    Scheduler &scheduler_;
    const uint64_t bufferBytes_;
    const bool syncMode_;
    const uint32_t syncTimeoutMs_;
    const uint64_t epoch_;

    std::atomic<uint64_t> recorded_{0};
    std::atomic<uint64_t> published_{0};
    mutable std::mutex mutex_; // guards entries_, totals, listeners_
    std::deque<Entry> entries_;
    uint64_t totalBytes_ = 0;
    uint64_t totalMessages_ = 0;
    uint64_t retainedBytes_ = 0;
    std::map<uint64_t, std::function<void()>> listeners_;
    uint64_t nextListener_ = 1;

    std::atomic<int> inSync_{0};
    std::mutex heldMutex_; // guards held_, ackedSeq_, timerId_
    std::deque<Held> held_;
    uint64_t ackedSeq_ = 0;
    uint64_t timerId_ = 0;
    uint64_t lastTimeoutLogMs_ = 0;
};

} // namespace ferry::repl
