// KeyIndex: the kernel's message index by key (RocketMQ QUERY_MESSAGE by KEYS and UNIQ_KEY).
//
// Every message appended to a durable client queue (not a kernel store) is indexed under each space-separated
// token of its `keys`. The index lives in memory (key -> the queue ids, offsets and store times of its messages) and
// is made durable as small records in the kernel queue "$ferry.keys" (a cursor queue: storage retention removes old
// index records with the same age rule as the messages); start-up reads them back. Entries older than the
// retention time are pruned as new ones arrive; an entry whose message is gone is skipped at query time.
// Cost: one extra small append per keyed message, in the same group commit.
// Threading: thread-safe; onAppend is called from Queue::publish under the queue's lock (it only takes the
// index's own leaf lock and enqueues a storage write).
#pragma once

#include "queue/Queue.h"

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ferry {

class QueueRegistry;
class StorageEngine;

class KeyIndex final : public AppendObserver {
public:
    static constexpr const char *kStoreQueue = "$ferry.keys";

    struct Hit {
        uint64_t queueId;
        uint64_t offset;
        uint64_t storeTimeMs;
    };

    KeyIndex(QueueRegistry &queues, StorageEngine &storage, uint64_t retentionMs);

    bool restore(std::string *error);
    void onAppend(uint64_t queueId, uint64_t offset, const Message &message) override;
    // Newest first, at most max.
    std::vector<Hit> find(const std::string &key, uint64_t beginMs, uint64_t endMs, size_t max) const;

private:
    void insertLocked(const std::string &key, const Hit &hit);
    void pruneLocked(uint64_t nowMs);

    QueueRegistry &queues_;
    StorageEngine &storage_;
    const uint64_t retentionMs_;
    QueuePtr store_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::vector<Hit>> byKey_; // each vector in store-time order
    std::deque<std::pair<uint64_t, std::string>> order_;       // (store time, key) in insertion order, for pruning
};

} // namespace ferry
