// StorageEngine: owns the storage plugin instance and the kernel's storage thread.
//
// Contract:
//  - Every call into the storage plugin happens on the storage thread (the plugin contract: one thread at a time),
//    in the order operations were submitted. So an ack submitted after an append is applied after it, and a read
//    submitted after appends sees them.
//  - Group commit: the thread takes up to `storage.max_batch` queued operations, runs them, and in `sync` flush mode
//    calls the plugin's sync() once for the whole batch before any completion of a write in it runs. In `async` mode
//    completions run at once and sync() runs every `storage.flush_interval_ms`.
//  - Completions (the `done` callbacks) run on the storage thread: they must be short and must not block; they hop
//    to other threads themselves (Connection::post).
//  - maintain() runs every `storage.maintain_interval_ms` (retention).
//  - close() drains every queued operation, syncs and closes the plugin.
#pragma once

#include "broker/BrokerSettings.h"
#include "queue/Message.h"

#include <ferry/ferry_storage.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct LoadedPlugin;

// Told of every durable change the storage thread makes, in order, once the plugin accepted it: replication's
// source (repl/ReplicationJournal). Storage thread only; every member must be quick and must not block.
class StorageJournal {
public:
    enum class Change : uint8_t { Ack = 2, OffsetSet = 3, MetaPut = 4, MetaDelete = 5, QueueCreate = 6, QueueDelete = 7 };
    // A completion held back until a slave has the write (sync replication): status FERRY_OK when one has it,
    // else FERRY_E_REPLICA_TIMEOUT / FERRY_E_NO_REPLICA with a sentence.
    using HeldCompletion = std::function<void(ferry_status status, const std::string &error)>;

    virtual ~StorageJournal() = default;
    // head: the encoded record head (the record is head + message->body).
    virtual void onAppend(uint64_t queueId, uint64_t offset, uint64_t storeTimeMs, std::string_view head,
                          const MessagePtr &message) = 0;
    // queueId, number (ack: the offset; OffsetSet: the consumer offset; QueueCreate: the storage flags), key (meta
    // key or consumer group), value (meta value).
    virtual void onChange(Change change, uint64_t queueId, uint64_t number, std::string_view key,
                          std::string_view value) = 0;
    // Everything recorded so far is durable here (after the batch's sync in sync flush mode, at once in async).
    virtual void onDurable() = 0;
    // After onDurable, the completions of the batch's appends: true when the journal took them (they run once a
    // slave has everything recorded so far, or fail); false: run them now. Other writes complete without waiting.
    virtual bool holdCompletions(std::vector<HeldCompletion> &completions) = 0;
    // Whether holdCompletions may hold anything (sync replication); when false completions run directly.
    virtual bool holdsCompletions() const = 0;
};

// The storage plugin as seen from the storage thread: checked wrappers that keep the last error text.
class StorageSession {
public:
    StorageSession(const ferry_storage_vtable &vt, ferry_storage *storage) : vt_(vt), storage_(storage) {}

    // Every successful write through this session is reported to journal (may be null). Storage thread.
    void setJournal(StorageJournal *journal) { journal_ = journal; }
    StorageJournal *journal() const { return journal_; }

    const ferry_storage_vtable &vt() const { return vt_; }
    ferry_storage *storage() const { return storage_; }
    // Error text of the last failed call.
    std::string error() const { return err_; }
    char *errBuf() { return err_; }
    size_t errCap() const { return sizeof err_; }

    ferry_status queueCreate(uint64_t queueId, uint32_t flags);
    ferry_status queueDelete(uint64_t queueId);
    ferry_status queueBounds(uint64_t queueId, uint64_t *low, uint64_t *next);
    ferry_status ack(uint64_t queueId, uint64_t offset);
    // fn(record) returns false to stop.
    ferry_status read(uint64_t queueId, uint64_t from, uint32_t maxRecords, uint64_t maxBytes,
                      const std::function<bool(const ferry_storage_record &)> &fn);
    // The kernel message stored at exactly (queueId, offset); *message stays null when there is none (acked,
    // removed) or the record is not a kernel message.
    ferry_status readMessage(uint64_t queueId, uint64_t offset, std::shared_ptr<Message> *message);
    ferry_status offsetSet(std::string_view group, uint64_t queueId, uint64_t offset);
    ferry_status offsetGet(std::string_view group, uint64_t queueId, uint64_t *offset);
    // fn(group, queue id, offset) for every committed consumer-group offset.
    ferry_status offsetList(const std::function<void(std::string_view, uint64_t, uint64_t)> &fn);
    ferry_status metaPut(std::string_view key, std::string_view value);
    ferry_status metaDelete(std::string_view key);
    // fn(key, value) for every key with the prefix.
    ferry_status metaScan(std::string_view prefix, const std::function<void(std::string_view, std::string_view)> &fn);

private:
    const ferry_storage_vtable &vt_;
    ferry_storage *storage_;
    StorageJournal *journal_ = nullptr;
    char err_[512] = {};
};

class StorageEngine {
public:
    using Op = std::function<ferry_status(StorageSession &)>;
    using Done = std::function<void(ferry_status status, const std::string &error)>;
    using AppendDone = std::function<void(ferry_status status, uint64_t offset, const std::string &error)>;

    StorageEngine(const LoadedPlugin &plugin, const BrokerSettings &settings);
    ~StorageEngine();
    StorageEngine(const StorageEngine &) = delete;
    StorageEngine &operator=(const StorageEngine &) = delete;

    // Opens the plugin in <data_dir>/storage/<plugin name> and starts the storage thread. false with *error.
    bool open(std::string *error);
    // Drains, syncs, closes. Idempotent.
    void close();

    const LoadedPlugin &plugin() const;
    uint64_t capabilities() const;

    // Appends message to the queue's log (head encoded on the storage thread, body written from the shared
    // message: no copy here). done(status, offset) once durable (sync mode) or written (async mode). Any thread.
    void append(uint64_t queueId, MessagePtr message, AppendDone done);
    // When an append fails (a full disk: FERRY_E_NO_SPACE), every later append to that queue fails the same way
    // without reaching the plugin, so the kernel's offsets never run ahead of the log's: the queue then drops
    // what was not stored and calls resumeAppends, whose done gets the log's next offset. Any thread.
    void resumeAppends(uint64_t queueId, std::function<void(ferry_status, uint64_t next, const std::string &)> done);
    // Runs op on the storage thread in submission order; done after the batch's sync when `write` is true and the
    // flush mode is sync. done may be empty. Any thread.
    void submit(Op op, Done done, bool write);
    // Runs op on the storage thread and waits for it (start-up, admin, tests; never from the storage thread).
    ferry_status call(const Op &op, std::string *error);

    // fn(session) runs on the storage thread after every maintain() (retention may have moved queues' low bounds).
    // Set once, before open().
    void setAfterMaintain(std::function<void(StorageSession &)> fn);
    // Replication's source: every write is reported to journal, and write completions are held by it. Set once,
    // before open(); journal must outlive the engine's close().
    void setJournal(StorageJournal *journal);
    // A slave: appends from the kernel fail with FERRY_E_READ_ONLY (replication writes through submit). Any thread.
    void setReadOnly(bool readOnly);
    bool readOnly() const;

    // Counters for metrics and benchmarks.
    uint64_t syncCount() const;
    uint64_t appendCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace ferry
