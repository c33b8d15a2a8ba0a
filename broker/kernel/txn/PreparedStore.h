// PreparedStore: the kernel's prepared (transactional) messages, RocketMQ's half messages.
//
// A prepared publish appends the message to the kernel queue "$ferry.prepared" (durable, records kept until acked,
// never consumed by clients) with its target queue and group (properties x-ferry-prepared-queue / -group, stripped
// again on commit). Unresolved handles (offsets in that store) are kept in memory with their target, group and store
// time, rebuilt from storage at start-up, so they survive restarts. end(COMMIT) reads the message back, publishes it
// to its queue (a new record) and then acks it in the store; end(ROLLBACK) acks it. A handle is resolved once: a
// second end gets FERRY_E_NOT_FOUND.
// Threading: every member may be called from any thread; completions run on the storage thread.
#pragma once

#include "queue/Message.h"
#include "queue/Queue.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ferry {

class QueueRegistry;
class StorageEngine;

class PreparedStore {
public:
    static constexpr const char *kStoreQueue = "$ferry.prepared";

    struct Pending {
        std::string queue;
        std::string group;
        uint64_t storeTimeMs = 0;
    };
    using EndDone = std::function<void(ferry_status, uint64_t queueOffset, const std::string &error)>;
    using ReadDone = std::function<void(ferry_status, MessagePtr, const Pending &)>;

    PreparedStore(QueueRegistry &queues, StorageEngine &storage);

    // Start-up, after the queues are restored. Blocking.
    bool restore(std::string *error);
    // done(status, handle, error) once stored.
    void prepare(std::shared_ptr<Message> message, const std::string &queue, const std::string &group,
                 Queue::PublishDone done);
    // commit: deliver to the pending target, or to queueOverride when not empty; otherwise roll back.
    void end(uint64_t handle, bool commit, const std::string &queueOverride, EndDone done);
    // The stored message (properties as published) of an unresolved handle.
    void read(uint64_t handle, ReadDone done);
    // Snapshot, oldest first.
    std::vector<std::pair<uint64_t, Pending>> pending() const;

private:
    QueueRegistry &queues_;
    StorageEngine &storage_;
    QueuePtr store_;
    mutable std::mutex mutex_;
    std::map<uint64_t, Pending> pending_; // handle -> what it waits for
};

} // namespace ferry
