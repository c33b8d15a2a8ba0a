// QueueRegistry: every queue by name; declares, deletes and restores them. Durable queues are recorded in the
// storage plugin's metadata space (key "queue/<name>", value "2 <id> <flags> <QueueArgs::encode()>"; version 1
// values "1 <id> <flags>" are still read) beside their logs, so a restart (or a replica) restores them. Exclusive
// queues are never recorded: they die with their connection, and so with the process.
// Threading: thread-safe; completions run on the storage thread or the caller's.
#pragma once

#include "queue/Queue.h"

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace ferry {

class StorageEngine;
class StorageSession;
class Scheduler;

class QueueRegistry {
public:
    using DeclareDone = std::function<void(ferry_status, const QueuePtr &, const std::string &error)>;
    using DeleteDone = std::function<void(ferry_status, uint64_t messagesDropped, const std::string &error)>;

    // A vhost-qualified AMQP name is up to 255 + 1 + 255 bytes.
    static constexpr size_t kMaxNameBytes = 511;
    // Kept for an exclusive queue, which is stored as transient but was declared durable (for redeclare checks).
    static constexpr uint32_t kDeclaredDurable = 1u << 18;

    struct DeclareRequest {
        uint32_t flags = 0;
        QueueArgs args;
        uint64_t owner = 0;  // the declaring connection (link id), for exclusive queues
        bool strict = false; // ABI 1.5 queue_declare_ex: every flag and argument must match an existing queue
    };
    // Kernel-internal declare flags (see Queue): storage retention removes a cursor queue's records by age and size
    // whether consumed or not; every other queue keeps unacked records (FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED).
    static constexpr uint32_t kCursorQueue = Queue::kCursorQueue;
    static constexpr uint32_t kInternalStore = Queue::kInternalStore;

    QueueRegistry(StorageEngine &storage, Scheduler &scheduler, uint64_t startTimeMs);

    // Start-up: reads durable queues from storage (reconciling metadata with the storage's queue list). Blocking.
    bool restore(std::string *error);
    // Stores, for every durable lease queue, how far it has delivered, so that messages delivered but not acked
    // come back redelivered after a restart. Called at a graceful stop (after kill -9 the last marks are missing and
    // such messages come back without the flag). Synchronous.
    void saveDeliveryMarks();

    // Creates the queue, or checks an existing one (a different durability is FERRY_E_ALREADY_EXISTS). A new
    // durable queue is usable at once; done runs once its creation is durable.
    void declare(const std::string &name, uint32_t flags, DeclareDone done);
    // The same with arguments, ownership and RabbitMQ's equivalence check (FERRY_E_MISMATCH, FERRY_E_LOCKED).
    void declare(const std::string &name, const DeclareRequest &request, DeclareDone done);
    // FERRY_QUEUE_IF_UNUSED / FERRY_QUEUE_IF_EMPTY refuse with FERRY_E_BUSY.
    void remove(const std::string &name, uint32_t flags, DeleteDone done);

    // Start-up: the kernel store `name` (kInternalStore plus extraFlags), created when missing. Blocking; null with
    // *error on failure.
    QueuePtr declareStore(const std::string &name, uint32_t extraFlags, std::string *error);

    // A slave: replication changed queue metadata or logs under the kernel. Re-reads the durable queues from the
    // session's storage: new ones are added, vanished ones dropped (markDeleted), every queue's end moved to its
    // log's. Storage thread (inside the replication applier).
    void replicaRefresh(StorageSession &session);

    QueuePtr find(const std::string &name) const;
    QueuePtr findById(uint64_t id) const;
    // Every queue, existing and future, reports appends to observer (the key index). Set once at start-up.
    void setAppendObserver(AppendObserver *observer);
    // Every queue, existing and future, reports dead letters and unused deletes to events (the router). Once.
    void setEvents(QueueEvents *events);
    // Called after a queue left the registry (any reason), outside the registry's lock. Set once at start-up.
    void setOnRemoved(std::function<void(const std::string &name)> fn) { onRemoved_ = std::move(fn); }
    std::vector<QueuePtr> list() const;

private:
    StorageEngine &storage_;
    Scheduler &scheduler_;
    const uint64_t startTimeMs_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, QueuePtr> byName_;
    std::map<uint64_t, QueuePtr> byId_;
    AppendObserver *observer_ = nullptr;
    QueueEvents *events_ = nullptr;
    std::function<void(const std::string &)> onRemoved_;
    uint64_t nextId_ = 1;
};

} // namespace ferry
