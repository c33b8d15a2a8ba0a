#include "repl/ReplicationJournal.h"

#include "log/Logging.h"
#include "repl/ReplicationCodec.h"
#include "sched/Scheduler.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <random>

namespace ferry::repl {

namespace {
uint64_t randomEpoch()
{
    std::random_device rd;
    uint64_t e = (uint64_t(rd()) << 32) ^ rd();
    return e ? e : 1;
}
} // namespace

ReplicationJournal::ReplicationJournal(Scheduler &scheduler, uint64_t bufferBytes, bool syncMode,
                                       uint32_t syncTimeoutMs)
    : scheduler_(scheduler), bufferBytes_(bufferBytes), syncMode_(syncMode), syncTimeoutMs_(syncTimeoutMs),
      epoch_(randomEpoch())
{
}

ReplicationJournal::~ReplicationJournal() { failHeld(FERRY_E_CLOSED, "the broker is stopping"); }

uint64_t ReplicationJournal::nowMs()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

void ReplicationJournal::push(Entry e)
{
    e.bytes = 32 + e.key.size() + e.data.size() + (e.message ? e.message->body.size() : 0);
    e.seq = recorded_.load(std::memory_order_relaxed) + 1;
    std::lock_guard lock(mutex_);
    totalBytes_ += e.bytes;
    e.cumBytes = totalBytes_;
    if (e.kind == static_cast<uint8_t>(OpRecord::Kind::Append))
        ++totalMessages_;
    e.cumMessages = totalMessages_;
    retainedBytes_ += e.bytes;
    entries_.push_back(std::move(e));
    // Over the budget, drop the oldest entries that were published (unpublished ones have not been shipped).
    const uint64_t published = published_.load(std::memory_order_relaxed);
    while (retainedBytes_ > bufferBytes_ && entries_.size() > 1 && entries_.front().seq <= published) {
        retainedBytes_ -= entries_.front().bytes;
        entries_.pop_front();
    }
    recorded_.store(entries_.back().seq, std::memory_order_release);
}

void ReplicationJournal::onAppend(uint64_t queueId, uint64_t offset, uint64_t storeTimeMs, std::string_view head,
                                  const MessagePtr &message)
{
    Entry e{};
    e.kind = static_cast<uint8_t>(OpRecord::Kind::Append);
    e.queueId = queueId;
    e.number = offset;
    e.storeTimeMs = storeTimeMs;
    e.data.assign(head);
    e.message = message;
    push(std::move(e));
}

void ReplicationJournal::onChange(Change change, uint64_t queueId, uint64_t number, std::string_view key,
                                  std::string_view value)
{
    Entry e{};
    e.kind = static_cast<uint8_t>(change);
    e.queueId = queueId;
    e.number = number;
    e.key.assign(key);
    e.data.assign(value);
    push(std::move(e));
}

void ReplicationJournal::onDurable()
{
    const uint64_t seq = recorded_.load(std::memory_order_acquire);
    if (published_.load(std::memory_order_relaxed) == seq)
        return;
    std::vector<std::function<void()>> wake;
    {
        std::lock_guard lock(mutex_);
        published_.store(seq, std::memory_order_release);
        wake.reserve(listeners_.size());
        for (const auto &[id, fn] : listeners_)
            wake.push_back(fn);
    }
    for (auto &fn : wake)
        fn();
}

bool ReplicationJournal::holdCompletions(std::vector<HeldCompletion> &completions)
{
    if (!syncMode_)
        return false;
    const uint64_t seq = recorded_.load(std::memory_order_acquire);
    if (inSync_.load(std::memory_order_acquire) == 0) {
        const uint64_t now = nowMs();
        {
            std::lock_guard lock(heldMutex_);
            if (now - lastTimeoutLogMs_ >= 5000) {
                lastTimeoutLogMs_ = now;
                kernelLogger()->warn("replication: SYNC_MASTER has no in-sync slave; writes are stored here only and "
                                     "answered SLAVE_NOT_AVAILABLE (logged at most every 5 s)");
            }
        }
        for (auto &c : completions)
            c(FERRY_E_NO_REPLICA, "stored on the master, but no in-sync slave is connected (SYNC_MASTER)");
        return true;
    }
    bool arm = false;
    {
        std::lock_guard lock(heldMutex_);
        if (ackedSeq_ >= seq)
            return false;
        arm = held_.empty();
        held_.push_back({seq, nowMs() + syncTimeoutMs_, std::move(completions)});
    }
    if (arm)
        armTimer();
    return true;
}

void ReplicationJournal::armTimer()
{
    uint64_t delay = 0;
    {
        std::lock_guard lock(heldMutex_);
        if (held_.empty() || timerId_ != 0)
            return;
        const uint64_t now = nowMs();
        delay = held_.front().deadlineMs > now ? held_.front().deadlineMs - now : 0;
        timerId_ = scheduler_.after(static_cast<uint32_t>(delay) + 1, [this] { onTimer(); });
    }
}

void ReplicationJournal::onTimer()
{
    std::vector<Held> expired;
    uint64_t acked = 0;
    {
        std::lock_guard lock(heldMutex_);
        timerId_ = 0;
        const uint64_t now = nowMs();
        while (!held_.empty() && held_.front().deadlineMs <= now) {
            expired.push_back(std::move(held_.front()));
            held_.pop_front();
        }
        acked = ackedSeq_;
    }
    if (!expired.empty()) {
        size_t n = 0;
        for (const Held &h : expired)
            n += h.completions.size();
        const std::string why = "stored on the master, but no slave acknowledged it within replication.sync_timeout_ms (" +
                                std::to_string(syncTimeoutMs_) + " ms)";
        kernelLogger()->warn("replication: {} writes timed out waiting for a slave after {} ms (slaves acknowledged "
                             "seq {}, the writes need seq {}); answered FLUSH_SLAVE_TIMEOUT",
                             n, syncTimeoutMs_, acked, expired.back().seq);
        for (Held &h : expired)
            for (auto &c : h.completions)
                c(FERRY_E_REPLICA_TIMEOUT, why);
    }
    armTimer();
}

void ReplicationJournal::acknowledged(uint64_t seq)
{
    std::vector<Held> ready;
    {
        std::lock_guard lock(heldMutex_);
        if (seq <= ackedSeq_)
            return;
        ackedSeq_ = seq;
        while (!held_.empty() && held_.front().seq <= seq) {
            ready.push_back(std::move(held_.front()));
            held_.pop_front();
        }
    }
    for (Held &h : ready)
        for (auto &c : h.completions)
            c(FERRY_OK, {});
}

void ReplicationJournal::setInSyncSlaves(int count) { inSync_.store(count, std::memory_order_release); }

void ReplicationJournal::failHeld(ferry_status status, const std::string &why)
{
    std::deque<Held> all;
    {
        std::lock_guard lock(heldMutex_);
        all.swap(held_);
        if (timerId_ != 0)
            scheduler_.cancel(timerId_);
        timerId_ = 0;
    }
    for (Held &h : all)
        for (auto &c : h.completions)
            c(status, why);
}

bool ReplicationJournal::encodeFrom(uint64_t from, size_t maxBytes, std::string &out, uint64_t *next) const
{
    std::lock_guard lock(mutex_);
    const uint64_t published = published_.load(std::memory_order_relaxed);
    *next = from;
    if (from > published)
        return true;
    if (entries_.empty() || from < entries_.front().seq)
        return false;
    const size_t start = out.size();
    size_t i = static_cast<size_t>(from - entries_.front().seq);
    for (; i < entries_.size() && entries_[i].seq <= published && out.size() - start < maxBytes; ++i) {
        const Entry &e = entries_[i];
        if (e.kind == static_cast<uint8_t>(OpRecord::Kind::Append)) {
            encodeAppendOp(e.seq, e.queueId, e.number, e.storeTimeMs, e.data, e.message->body, out);
        } else {
            OpRecord op;
            op.seq = e.seq;
            op.kind = static_cast<OpRecord::Kind>(e.kind);
            op.queueId = e.queueId;
            op.offset = e.number;
            op.flags = static_cast<uint32_t>(e.number);
            op.key = e.key;
            op.data = e.data;
            encodeOp(op, out);
        }
        *next = e.seq + 1;
    }
    return true;
}

bool ReplicationJournal::lagSince(uint64_t acked, uint64_t *bytes, uint64_t *messages) const
{
    std::lock_guard lock(mutex_);
    const uint64_t published = published_.load(std::memory_order_relaxed);
    if (entries_.empty() || acked >= published) {
        *bytes = *messages = 0;
        return true;
    }
    if (acked + 1 < entries_.front().seq)
        return false;
    const Entry &last = entries_[static_cast<size_t>(published - entries_.front().seq)];
    uint64_t baseBytes = 0, baseMessages = 0;
    if (acked >= entries_.front().seq) {
        const Entry &a = entries_[static_cast<size_t>(acked - entries_.front().seq)];
        baseBytes = a.cumBytes;
        baseMessages = a.cumMessages;
    } else {
        // acked + 1 == the first retained entry: everything before it counts as acknowledged.
        const Entry &f = entries_.front();
        baseBytes = f.cumBytes - f.bytes;
        baseMessages = f.cumMessages - (f.kind == static_cast<uint8_t>(OpRecord::Kind::Append) ? 1 : 0);
    }
    *bytes = last.cumBytes - baseBytes;
    *messages = last.cumMessages - baseMessages;
    return true;
}

bool ReplicationJournal::bytesThrough(uint64_t seq, uint64_t *bytes) const
{
    std::lock_guard lock(mutex_);
    if (entries_.empty() || seq < entries_.front().seq || seq > entries_.back().seq)
        return false;
    *bytes = entries_[static_cast<size_t>(seq - entries_.front().seq)].cumBytes;
    return true;
}

uint64_t ReplicationJournal::addListener(std::function<void()> fn)
{
    std::lock_guard lock(mutex_);
    const uint64_t id = nextListener_++;
    listeners_.emplace(id, std::move(fn));
    return id;
}

void ReplicationJournal::removeListener(uint64_t id)
{
    std::lock_guard lock(mutex_);
    listeners_.erase(id);
}

} // namespace ferry::repl
