#include "index/KeyIndex.h"

#include "queue/QueueRegistry.h"
#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace ferry {

namespace {
std::shared_ptr<spdlog::logger> log()
{
    auto l = spdlog::get("kernel");
    return l ? l : spdlog::default_logger();
}

void putU64(std::string &out, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t getU64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v |= uint64_t(static_cast<uint8_t>(p[i])) << (8 * i);
    return v;
}

template <typename Fn>
void forEachToken(const std::string &keys, Fn &&fn)
{
    size_t pos = 0;
    while (pos < keys.size()) {
        const size_t space = keys.find(' ', pos);
        const size_t end = space == std::string::npos ? keys.size() : space;
        if (end > pos)
            fn(keys.substr(pos, end - pos));
        pos = end + 1;
    }
}
} // namespace

KeyIndex::KeyIndex(QueueRegistry &queues, StorageEngine &storage, uint64_t retentionMs)
    : queues_(queues), storage_(storage), retentionMs_(retentionMs)
{
}

bool KeyIndex::restore(std::string *error)
{
    store_ = queues_.declareStore(kStoreQueue, QueueRegistry::kCursorQueue, error);
    if (!store_)
        return false;
    size_t records = 0;
    std::unique_lock lock(mutex_);
    const uint64_t queueId = store_->id();
    // Record body: u64 queue id | u64 offset | keys (little-endian); store time = the indexed message's.
    const ferry_status rs = storage_.call(
        [&](StorageSession &s) {
            return s.read(queueId, 0, 0, 0, [&](const ferry_storage_record &rec) {
                auto m = MessageCodec::decode(rec.data, rec.len, rec.store_time_ms);
                if (!m || m->body.size() < 16)
                    return true;
                const Hit hit{getU64(m->body.data()), getU64(m->body.data() + 8), rec.store_time_ms};
                forEachToken(m->body.substr(16), [&](const std::string &key) { insertLocked(key, hit); });
                ++records;
                return true;
            });
        },
        error);
    if (rs != FERRY_OK)
        return false;
    lock.unlock();
    queues_.setAppendObserver(this);
    log()->info("key index: {} records, {} keys", records, byKey_.size());
    return true;
}

void KeyIndex::onAppend(uint64_t queueId, uint64_t offset, const Message &message)
{
    if (store_ && queueId == store_->id())
        return;
    auto record = std::make_shared<Message>();
    putU64(record->body, queueId);
    putU64(record->body, offset);
    record->body += message.keys;
    record->flags = FERRY_MESSAGE_PERSISTENT;
    record->bornTimeMs = message.storeTimeMs;
    {
        std::lock_guard lock(mutex_);
        const Hit hit{queueId, offset, message.storeTimeMs};
        forEachToken(message.keys, [&](const std::string &key) { insertLocked(key, hit); });
        pruneLocked(message.storeTimeMs);
    }
    store_->publish(std::move(record), {});
}

void KeyIndex::insertLocked(const std::string &key, const Hit &hit)
{
    byKey_[key].push_back(hit);
    order_.emplace_back(hit.storeTimeMs, key);
}

void KeyIndex::pruneLocked(uint64_t nowMs)
{
    if (retentionMs_ == 0 || nowMs < retentionMs_)
        return;
    const uint64_t oldest = nowMs - retentionMs_;
    while (!order_.empty() && order_.front().first < oldest) {
        auto it = byKey_.find(order_.front().second);
        if (it != byKey_.end()) {
            if (!it->second.empty())
                it->second.erase(it->second.begin());
            if (it->second.empty())
                byKey_.erase(it);
        }
        order_.pop_front();
    }
}

std::vector<KeyIndex::Hit> KeyIndex::find(const std::string &key, uint64_t beginMs, uint64_t endMs, size_t max) const
{
    std::vector<Hit> out;
    std::lock_guard lock(mutex_);
    auto it = byKey_.find(key);
    if (it == byKey_.end())
        return out;
    for (auto h = it->second.rbegin(); h != it->second.rend() && out.size() < max; ++h)
        if (h->storeTimeMs >= beginMs && h->storeTimeMs <= endMs)
            out.push_back(*h);
    return out;
}

} // namespace ferry
