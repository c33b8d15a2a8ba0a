// QueueRegistry: every queue by name; declares, deletes and restores them. Durable queues are recorded in the
// storage plugin's metadata space (key "queue/<name>", value "1 <id> <flags>") beside their logs, so a restart
// (or a replica) restores them. Threading: thread-safe; completions run on the storage thread or the caller's.
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
class Scheduler;

class QueueRegistry {
public:
    using DeclareDone = std::function<void(ferry_status, const QueuePtr &, const std::string &error)>;
    using DeleteDone = std::function<void(ferry_status, uint64_t messagesDropped, const std::string &error)>;

    static constexpr size_t kMaxNameBytes = 255;
    // Kernel-internal declare flags (see Queue): storage retention removes a cursor queue's records by age and size
    // whether consumed or not; every other queue keeps unacked records (FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED).
    static constexpr uint32_t kCursorQueue = Queue::kCursorQueue;
    static constexpr uint32_t kInternalStore = Queue::kInternalStore;

    QueueRegistry(StorageEngine &storage, Scheduler &scheduler, uint64_t startTimeMs);

    // Start-up: reads durable queues from storage (reconciling metadata with the storage's queue list). Blocking.
    bool restore(std::string *error);

    // Creates the queue, or checks an existing one (a different durability is FERRY_E_ALREADY_EXISTS). A new
    // durable queue is usable at once; done runs once its creation is durable.
    void declare(const std::string &name, uint32_t flags, DeclareDone done);
    // FERRY_QUEUE_IF_UNUSED / FERRY_QUEUE_IF_EMPTY refuse with FERRY_E_BUSY.
    void remove(const std::string &name, uint32_t flags, DeleteDone done);

    // Start-up: the kernel store `name` (kInternalStore plus extraFlags), created when missing. Blocking; null with
    // *error on failure.
    QueuePtr declareStore(const std::string &name, uint32_t extraFlags, std::string *error);

    QueuePtr find(const std::string &name) const;
    QueuePtr findById(uint64_t id) const;
    // Every queue, existing and future, reports appends to observer (the key index). Set once at start-up.
    void setAppendObserver(AppendObserver *observer);
    std::vector<QueuePtr> list() const;

private:
    StorageEngine &storage_;
    Scheduler &scheduler_;
    const uint64_t startTimeMs_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, QueuePtr> byName_;
    std::map<uint64_t, QueuePtr> byId_;
    AppendObserver *observer_ = nullptr;
    uint64_t nextId_ = 1;
};

} // namespace ferry
