// StorageModel: an in-memory reference of the contract in broker/include/ferry/ferry_storage.h, used by the
// conformance test to predict every result a storage plugin must give.
//
// What it encodes (and nothing more):
//  - a queue's offsets start at 0 and grow by 1 per append; re-creating a deleted queue starts again at 0;
//  - read(from, max_records, max_bytes) returns records with offset >= from in offset order, skipping acked and
//    truncated ones; it stops after max_records records, or before a record that would take the delivered bytes
//    beyond max_bytes, but always delivers the first available record;
//  - low = first offset neither acked nor truncated (next when none); truncate_prefix(n) forgets offsets
//    < min(n, next); acking an acked or truncated offset is fine;
//  - seek_time(t) = first readable offset whose store time is >= t (next when none);
//  - queue_delete removes the queue's records and every consumer offset for it;
//  - offset_get of a (group, queue) never set is NOT_FOUND; meta keys sort bytewise (unsigned), scan by prefix.
// Operations on a queue that does not exist fail with FERRY_E_NOT_FOUND (the code ferry_plugin.h defines for
// "the named object does not exist"; ferry_storage.h states it only for queue_delete).
// Single-threaded; value type (copying a model snapshots it).
#pragma once

#include "StorageHarness.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry::storagetest {

struct ModelRecord {
    uint64_t storeTimeMs = 0;
    std::string bytes;
};

struct ModelQueue {
    uint32_t flags = 0;
    uint64_t next = 0;
    std::map<uint64_t, ModelRecord> readable; // appended, neither acked nor truncated

    uint64_t low() const { return readable.empty() ? next : readable.begin()->first; }
};

class StorageModel {
public:
    bool hasQueue(uint64_t id) const { return queues_.count(id) != 0; }
    const ModelQueue *queue(uint64_t id) const;
    const std::map<uint64_t, ModelQueue> &queues() const { return queues_; }

    ferry_status queueCreate(uint64_t id, uint32_t flags);
    ferry_status queueDelete(uint64_t id);
    std::vector<QueueInfo> queueList() const; // sorted by id
    ferry_status queueBounds(uint64_t id, uint64_t &low, uint64_t &next) const;

    ferry_status append(uint64_t id, uint64_t storeTimeMs, std::string bytes, uint64_t &offset);
    ferry_status read(uint64_t id, uint64_t from, uint32_t maxRecords, uint64_t maxBytes, size_t stopAfter,
                      std::vector<RecordCopy> &out) const;
    ferry_status ack(uint64_t id, uint64_t offset);
    ferry_status truncatePrefix(uint64_t id, uint64_t newLow);
    ferry_status seekTime(uint64_t id, uint64_t timeMs, uint64_t &offset) const;

    ferry_status offsetSet(const std::string &group, uint64_t id, uint64_t offset);
    ferry_status offsetGet(const std::string &group, uint64_t id, uint64_t &offset) const;
    std::vector<OffsetEntry> offsetList() const; // sorted

    ferry_status metaPut(const std::string &key, const std::string &value);
    ferry_status metaGet(const std::string &key, std::string &value) const;
    ferry_status metaDelete(const std::string &key);
    std::vector<KeyValue> metaScan(const std::string &prefix) const; // ascending bytewise
    const std::map<std::string, std::string> &meta() const { return meta_; }

    uint64_t readableCount() const;

private:
    std::map<uint64_t, ModelQueue> queues_;
    std::map<std::pair<std::string, uint64_t>, uint64_t> offsets_;
    std::map<std::string, std::string> meta_; // std::string orders bytes as unsigned char, i.e. bytewise
};

} // namespace ferry::storagetest
