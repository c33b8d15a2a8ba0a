#include "StorageModel.h"

namespace ferry::storagetest {

const ModelQueue *StorageModel::queue(uint64_t id) const
{
    const auto it = queues_.find(id);
    return it == queues_.end() ? nullptr : &it->second;
}

ferry_status StorageModel::queueCreate(uint64_t id, uint32_t flags)
{
    if (hasQueue(id))
        return FERRY_E_ALREADY_EXISTS;
    ModelQueue q;
    q.flags = flags;
    queues_.emplace(id, std::move(q));
    return FERRY_OK;
}

ferry_status StorageModel::queueDelete(uint64_t id)
{
    if (queues_.erase(id) == 0)
        return FERRY_E_NOT_FOUND;
    for (auto it = offsets_.begin(); it != offsets_.end();) {
        if (it->first.second == id)
            it = offsets_.erase(it);
        else
            ++it;
    }
    return FERRY_OK;
}

std::vector<QueueInfo> StorageModel::queueList() const
{
    std::vector<QueueInfo> out;
    for (const auto &[id, q] : queues_)
        out.push_back({id, q.flags});
    return out;
}

ferry_status StorageModel::queueBounds(uint64_t id, uint64_t &low, uint64_t &next) const
{
    const ModelQueue *q = queue(id);
    if (q == nullptr)
        return FERRY_E_NOT_FOUND;
    low = q->low();
    next = q->next;
    return FERRY_OK;
}

ferry_status StorageModel::append(uint64_t id, uint64_t storeTimeMs, std::string bytes, uint64_t &offset)
{
    const auto it = queues_.find(id);
    if (it == queues_.end())
        return FERRY_E_NOT_FOUND;
    offset = it->second.next++;
    it->second.readable.emplace(offset, ModelRecord{storeTimeMs, std::move(bytes)});
    return FERRY_OK;
}

ferry_status StorageModel::read(uint64_t id, uint64_t from, uint32_t maxRecords, uint64_t maxBytes, size_t stopAfter,
                                std::vector<RecordCopy> &out) const
{
    out.clear();
    const ModelQueue *q = queue(id);
    if (q == nullptr)
        return FERRY_E_NOT_FOUND;
    uint64_t bytes = 0;
    for (auto it = q->readable.lower_bound(from); it != q->readable.end(); ++it) {
        if (out.size() >= maxRecords)
            break;
        if (stopAfter != 0 && out.size() >= stopAfter)
            break;
        const uint64_t len = it->second.bytes.size();
        if (!out.empty() && (len > maxBytes || bytes > maxBytes - len))
            break;
        out.push_back({it->first, it->second.storeTimeMs, it->second.bytes});
        bytes += len;
    }
    return FERRY_OK;
}

ferry_status StorageModel::ack(uint64_t id, uint64_t offset)
{
    const auto it = queues_.find(id);
    if (it == queues_.end())
        return FERRY_E_NOT_FOUND;
    it->second.readable.erase(offset);
    return FERRY_OK;
}

ferry_status StorageModel::truncatePrefix(uint64_t id, uint64_t newLow)
{
    const auto it = queues_.find(id);
    if (it == queues_.end())
        return FERRY_E_NOT_FOUND;
    ModelQueue &q = it->second;
    const uint64_t cut = newLow < q.next ? newLow : q.next;
    q.readable.erase(q.readable.begin(), q.readable.lower_bound(cut));
    return FERRY_OK;
}

ferry_status StorageModel::seekTime(uint64_t id, uint64_t timeMs, uint64_t &offset) const
{
    const ModelQueue *q = queue(id);
    if (q == nullptr)
        return FERRY_E_NOT_FOUND;
    offset = q->next;
    for (const auto &[o, record] : q->readable) {
        if (record.storeTimeMs >= timeMs) {
            offset = o;
            break;
        }
    }
    return FERRY_OK;
}

ferry_status StorageModel::offsetSet(const std::string &group, uint64_t id, uint64_t offset)
{
    offsets_[{group, id}] = offset;
    return FERRY_OK;
}

ferry_status StorageModel::offsetGet(const std::string &group, uint64_t id, uint64_t &offset) const
{
    const auto it = offsets_.find({group, id});
    if (it == offsets_.end())
        return FERRY_E_NOT_FOUND;
    offset = it->second;
    return FERRY_OK;
}

std::vector<OffsetEntry> StorageModel::offsetList() const
{
    std::vector<OffsetEntry> out;
    for (const auto &[key, offset] : offsets_)
        out.push_back({key.first, key.second, offset});
    return out;
}

ferry_status StorageModel::metaPut(const std::string &key, const std::string &value)
{
    meta_[key] = value;
    return FERRY_OK;
}

ferry_status StorageModel::metaGet(const std::string &key, std::string &value) const
{
    const auto it = meta_.find(key);
    if (it == meta_.end())
        return FERRY_E_NOT_FOUND;
    value = it->second;
    return FERRY_OK;
}

ferry_status StorageModel::metaDelete(const std::string &key)
{
    return meta_.erase(key) == 0 ? FERRY_E_NOT_FOUND : FERRY_OK;
}

std::vector<KeyValue> StorageModel::metaScan(const std::string &prefix) const
{
    std::vector<KeyValue> out;
    for (auto it = meta_.lower_bound(prefix); it != meta_.end(); ++it) {
        if (it->first.compare(0, prefix.size(), prefix) != 0)
            break;
        out.push_back({it->first, it->second});
    }
    return out;
}

uint64_t StorageModel::readableCount() const
{
    uint64_t n = 0;
    for (const auto &[id, q] : queues_)
        n += q.readable.size();
    return n;
}

} // namespace ferry::storagetest
