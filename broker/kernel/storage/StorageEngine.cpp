#include "storage/StorageEngine.h"

#include "plugin/PluginHost.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <unordered_map>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry {

namespace {
std::shared_ptr<spdlog::logger> log()
{
    auto l = spdlog::get("kernel");
    return l ? l : spdlog::default_logger();
}

uint64_t wallMs()
{
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}
} // namespace

// ---- StorageSession ---------------------------------------------------------------------------------------------

ferry_status StorageSession::queueCreate(uint64_t queueId, uint32_t flags)
{
    const ferry_status st = vt_.queue_create(storage_, queueId, flags, err_, sizeof err_);
    if (st == FERRY_OK && journal_)
        journal_->onChange(StorageJournal::Change::QueueCreate, queueId, flags, {}, {});
    return st;
}

ferry_status StorageSession::queueDelete(uint64_t queueId)
{
    const ferry_status st = vt_.queue_delete(storage_, queueId, err_, sizeof err_);
    if (st == FERRY_OK && journal_)
        journal_->onChange(StorageJournal::Change::QueueDelete, queueId, 0, {}, {});
    return st;
}

ferry_status StorageSession::queueBounds(uint64_t queueId, uint64_t *low, uint64_t *next)
{
    return vt_.queue_bounds(storage_, queueId, low, next, err_, sizeof err_);
}

ferry_status StorageSession::ack(uint64_t queueId, uint64_t offset)
{
    const ferry_status st = vt_.ack(storage_, queueId, offset, err_, sizeof err_);
    if (st == FERRY_OK && journal_)
        journal_->onChange(StorageJournal::Change::Ack, queueId, offset, {}, {});
    return st;
}

ferry_status StorageSession::read(uint64_t queueId, uint64_t from, uint32_t maxRecords, uint64_t maxBytes,
                                  const std::function<bool(const ferry_storage_record &)> &fn)
{
    struct Ctx {
        const std::function<bool(const ferry_storage_record &)> *fn;
    } ctx{&fn};
    auto sink = [](void *c, const ferry_storage_record *rec) -> int32_t {
        return (*static_cast<Ctx *>(c)->fn)(*rec) ? 0 : 1;
    };
    return vt_.read(storage_, queueId, from, maxRecords, maxBytes, sink, &ctx, err_, sizeof err_);
}

ferry_status StorageSession::offsetSet(std::string_view group, uint64_t queueId, uint64_t offset)
{
    const ferry_status st = vt_.offset_set(storage_, group.data(), group.size(), queueId, offset, err_, sizeof err_);
    if (st == FERRY_OK && journal_)
        journal_->onChange(StorageJournal::Change::OffsetSet, queueId, offset, group, {});
    return st;
}

ferry_status StorageSession::offsetGet(std::string_view group, uint64_t queueId, uint64_t *offset)
{
    return vt_.offset_get(storage_, group.data(), group.size(), queueId, offset, err_, sizeof err_);
}

ferry_status StorageSession::offsetList(const std::function<void(std::string_view, uint64_t, uint64_t)> &fn)
{
    const auto sink = [](void *ctx, const char *group, size_t groupLen, uint64_t queueId, uint64_t offset) -> int32_t {
        (*static_cast<const std::function<void(std::string_view, uint64_t, uint64_t)> *>(ctx))(
            std::string_view(group, groupLen), queueId, offset);
        return 0;
    };
    return vt_.offset_list(storage_, sink, const_cast<void *>(static_cast<const void *>(&fn)), err_, sizeof err_);
}

ferry_status StorageSession::readMessage(uint64_t queueId, uint64_t offset, std::shared_ptr<Message> *message)
{
    return read(queueId, offset, 1, 0, [&](const ferry_storage_record &rec) {
        if (rec.offset == offset)
            *message = MessageCodec::decode(rec.data, rec.len, rec.store_time_ms);
        return false;
    });
}

ferry_status StorageSession::metaPut(std::string_view key, std::string_view value)
{
    const ferry_status st =
        vt_.meta_put(storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(),
                     reinterpret_cast<const uint8_t *>(value.data()), value.size(), err_, sizeof err_);
    if (st == FERRY_OK && journal_)
        journal_->onChange(StorageJournal::Change::MetaPut, 0, 0, key, value);
    return st;
}

ferry_status StorageSession::metaDelete(std::string_view key)
{
    const ferry_status st =
        vt_.meta_delete(storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(), err_, sizeof err_);
    if (st == FERRY_OK && journal_)
        journal_->onChange(StorageJournal::Change::MetaDelete, 0, 0, key, {});
    return st;
}

ferry_status StorageSession::metaScan(std::string_view prefix,
                                      const std::function<void(std::string_view, std::string_view)> &fn)
{
    auto sink = [](void *c, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) -> int32_t {
        (*static_cast<const std::function<void(std::string_view, std::string_view)> *>(c))(
            std::string_view(reinterpret_cast<const char *>(k), kl),
            std::string_view(reinterpret_cast<const char *>(v), vl));
        return 0;
    };
    return vt_.meta_scan(storage_, reinterpret_cast<const uint8_t *>(prefix.data()), prefix.size(), sink,
                         const_cast<void *>(static_cast<const void *>(&fn)), err_, sizeof err_);
}

// ---- StorageEngine ----------------------------------------------------------------------------------------------

namespace {
// One queued operation. Appends are the hot path and carry their fields directly instead of a closure.
struct PendingOp {
    enum class Kind { Append, Generic } kind = Kind::Generic;
    bool write = false;
    // Append
    uint64_t queueId = 0;
    MessagePtr message;
    StorageEngine::AppendDone appendDone;
    // Generic
    StorageEngine::Op op;
    StorageEngine::Done done;
};

// A completion waiting for the batch's sync.
struct PendingDone {
    PendingOp *op;
    ferry_status status;
    uint64_t offset;
    std::string error;
};
} // namespace

struct StorageEngine::Impl {
    const LoadedPlugin &plugin;
    BrokerSettings settings;
    ferry_storage *storage = nullptr;
    std::unique_ptr<StorageSession> session;
    uint64_t caps = 0;

    std::mutex mutex;
    std::condition_variable wake;
    std::deque<PendingOp> queue;
    bool stopping = false;
    std::thread thread;

    std::function<void(StorageSession &)> afterMaintain;
    StorageJournal *journal = nullptr;
    std::atomic<bool> readOnly{false};
    std::atomic<uint64_t> syncs{0};
    std::atomic<uint64_t> appends{0};
    // Queues whose appends fail until resumeAppends: queue id -> the first failure. Storage thread only.
    std::unordered_map<uint64_t, std::pair<ferry_status, std::string>> failedAppends;

    Impl(const LoadedPlugin &p, const BrokerSettings &s) : plugin(p), settings(s) {}

    void run();
    static void complete(PendingDone &w, ferry_status status, const std::string &error)
    {
        if (w.op->kind == PendingOp::Kind::Append) {
            if (w.op->appendDone)
                w.op->appendDone(status, w.offset, error);
        } else if (w.op->done) {
            w.op->done(status, error);
        }
    }
    // Hands the batch's completions to the journal (sync replication holds them), or runs them.
    void completeHeld(std::vector<PendingDone> &waiting)
    {
        std::vector<StorageJournal::HeldCompletion> held;
        held.reserve(waiting.size());
        for (PendingDone &w : waiting) {
            // Only appends (publishes) wait for a slave, as in RocketMQ: metadata, acks and offsets complete now.
            if (w.op->kind != PendingOp::Kind::Append) {
                complete(w, w.status, w.error);
                continue;
            }
            if (!w.op->appendDone)
                continue;
            held.emplace_back([kind = w.op->kind, appendDone = std::move(w.op->appendDone), done = std::move(w.op->done),
                               status = w.status, offset = w.offset,
                               text = std::move(w.error)](ferry_status replica, const std::string &replicaError) {
                const ferry_status final = status != FERRY_OK ? status : replica;
                const std::string &finalText = status != FERRY_OK ? text : replicaError;
                if (kind == PendingOp::Kind::Append)
                    appendDone(final, offset, finalText);
                else
                    done(final, finalText);
            });
        }
        if (held.empty() || journal->holdCompletions(held))
            return;
        for (auto &h : held)
            h(FERRY_OK, {});
    }
    void execute(PendingOp &op, std::vector<PendingDone> &waiting, std::string &headBuf, bool &dirty);
    ferry_status syncNow(std::string *error)
    {
        const ferry_status st = plugin.storage.sync(storage, session->errBuf(), session->errCap());
        syncs.fetch_add(1, std::memory_order_relaxed);
        if (st != FERRY_OK && error)
            *error = session->error();
        return st;
    }
};

StorageEngine::StorageEngine(const LoadedPlugin &plugin, const BrokerSettings &settings)
    : impl_(std::make_unique<Impl>(plugin, settings))
{
}

StorageEngine::~StorageEngine() { close(); }

const LoadedPlugin &StorageEngine::plugin() const { return impl_->plugin; }
uint64_t StorageEngine::capabilities() const { return impl_->caps; }
uint64_t StorageEngine::syncCount() const { return impl_->syncs.load(); }
uint64_t StorageEngine::appendCount() const { return impl_->appends.load(); }

bool StorageEngine::open(std::string *error)
{
    namespace fs = std::filesystem;
    const fs::path dir = impl_->settings.dataDir / "storage" / impl_->plugin.name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        *error = "cannot create storage directory " + dir.string() + ": " + ec.message();
        return false;
    }
    const std::u8string dirU8 = dir.u8string();
    const std::string dirUtf8(dirU8.begin(), dirU8.end());
    ferry_storage_options options{};
    options.struct_size = sizeof options;
    options.data_dir = dirUtf8.c_str();
    options.retention_ms = impl_->settings.retentionMs;
    options.retention_bytes = impl_->settings.retentionBytes;
    char err[512] = {};
    const ferry_status st = impl_->plugin.storage.open(impl_->plugin.host, &options, &impl_->storage, err, sizeof err);
    if (st != FERRY_OK || impl_->storage == nullptr) {
        *error = "storage plugin '" + impl_->plugin.name + "' failed to open " + dir.string() + ": " + err +
                 " (status " + std::to_string(st) + ")";
        impl_->storage = nullptr;
        return false;
    }
    impl_->session = std::make_unique<StorageSession>(impl_->plugin.storage, impl_->storage);
    impl_->session->setJournal(impl_->journal);
    impl_->caps = impl_->plugin.storage.capabilities(impl_->storage);
    impl_->stopping = false;
    impl_->thread = std::thread([this] { impl_->run(); });
    log()->info("storage '{}' open in {} (flush {}, capabilities 0x{:x})", impl_->plugin.name, dir.string(),
                impl_->settings.flush == FlushMode::Sync ? "sync" : "async", impl_->caps);
    return true;
}

void StorageEngine::close()
{
    if (!impl_ || impl_->storage == nullptr)
        return;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->wake.notify_all();
    if (impl_->thread.joinable())
        impl_->thread.join();
    impl_->plugin.storage.close(impl_->storage);
    impl_->storage = nullptr;
    log()->info("storage '{}' closed after {} appends and {} syncs", impl_->plugin.name, impl_->appends.load(),
                impl_->syncs.load());
}

void StorageEngine::append(uint64_t queueId, MessagePtr message, AppendDone done)
{
    {
        std::lock_guard lock(impl_->mutex);
        PendingOp &op = impl_->queue.emplace_back();
        op.kind = PendingOp::Kind::Append;
        op.write = true;
        op.queueId = queueId;
        op.message = std::move(message);
        op.appendDone = std::move(done);
    }
    impl_->wake.notify_one();
}

void StorageEngine::resumeAppends(uint64_t queueId,
                                  std::function<void(ferry_status, uint64_t, const std::string &)> done)
{
    auto next = std::make_shared<uint64_t>(0);
    Impl *impl = impl_.get();
    submit(
        [impl, queueId, next](StorageSession &s) {
            impl->failedAppends.erase(queueId);
            uint64_t low = 0;
            return s.queueBounds(queueId, &low, next.get());
        },
        [done = std::move(done), next](ferry_status st, const std::string &err) { done(st, *next, err); }, false);
}

void StorageEngine::submit(Op op, Done done, bool write)
{
    {
        std::lock_guard lock(impl_->mutex);
        PendingOp &p = impl_->queue.emplace_back();
        p.kind = PendingOp::Kind::Generic;
        p.write = write;
        p.op = std::move(op);
        p.done = std::move(done);
    }
    impl_->wake.notify_one();
}

ferry_status StorageEngine::call(const Op &op, std::string *error)
{
    std::promise<std::pair<ferry_status, std::string>> promise;
    auto future = promise.get_future();
    submit([&op](StorageSession &s) { return op(s); },
           [&promise](ferry_status st, const std::string &err) { promise.set_value({st, err}); }, false);
    auto [st, err] = future.get();
    if (st != FERRY_OK && error)
        *error = err;
    return st;
}

void StorageEngine::Impl::execute(PendingOp &op, std::vector<PendingDone> &waiting, std::string &headBuf, bool &dirty)
{
    ferry_status st = FERRY_OK;
    uint64_t offset = 0;
    std::string error;
    if (op.kind == PendingOp::Kind::Append && readOnly.load(std::memory_order_relaxed)) {
        if (op.appendDone)
            op.appendDone(FERRY_E_READ_ONLY, 0, "this broker is a slave (read-only); publish to its master");
        return;
    }
    if (op.kind == PendingOp::Kind::Append && failedAppends.count(op.queueId)) {
        const auto &[status, text] = failedAppends[op.queueId];
        if (op.appendDone)
            op.appendDone(status, 0, text);
        return;
    }
    if (op.kind == PendingOp::Kind::Append) {
        headBuf = MessageCodec::encodeHead(*op.message);
        const std::string &body = op.message->body;
        st = plugin.storage.append(storage, op.queueId, op.message->storeTimeMs,
                                   reinterpret_cast<const uint8_t *>(headBuf.data()), headBuf.size(),
                                   reinterpret_cast<const uint8_t *>(body.data()), body.size(), &offset,
                                   session->errBuf(), session->errCap());
        appends.fetch_add(1, std::memory_order_relaxed);
        if (st == FERRY_OK && journal)
            journal->onAppend(op.queueId, offset, op.message->storeTimeMs, headBuf, op.message);
    } else {
        try {
            st = op.op(*session);
        } catch (const std::exception &e) {
            st = FERRY_E_INTERNAL;
            std::snprintf(session->errBuf(), session->errCap(), "storage operation threw: %s", e.what());
        }
    }
    if (st != FERRY_OK) {
        error = session->error();
        if (op.kind == PendingOp::Kind::Append)
            failedAppends.emplace(op.queueId, std::make_pair(st, error));
    }
    if (op.write)
        dirty = true;
    if (op.write && st == FERRY_OK && (settings.flush == FlushMode::Sync || journal)) {
        waiting.push_back({&op, st, offset, std::move(error)});
        return;
    }
    if (op.kind == PendingOp::Kind::Append) {
        if (op.appendDone)
            op.appendDone(st, offset, error);
    } else if (op.done) {
        op.done(st, error);
    }
}

void StorageEngine::Impl::run()
{
    using Clock = std::chrono::steady_clock;
    auto nextFlush = Clock::now() + std::chrono::milliseconds(settings.flushIntervalMs);
    auto nextMaintain = Clock::now() + std::chrono::milliseconds(settings.maintainIntervalMs);
    std::deque<PendingOp> batch;
    std::vector<PendingDone> waiting;
    std::string headBuf;
    bool dirty = false;

    for (;;) {
        {
            std::unique_lock lock(mutex);
            const auto deadline = std::min(nextMaintain, settings.flush == FlushMode::Async && dirty
                                                             ? nextFlush
                                                             : Clock::time_point::max());
            wake.wait_until(lock, deadline, [&] { return stopping || !queue.empty(); });
            const size_t n = std::min<size_t>(queue.size(), settings.maxBatch ? settings.maxBatch : 1);
            for (size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(queue.front()));
                queue.pop_front();
            }
            if (batch.empty() && stopping)
                break;
        }

        for (PendingOp &op : batch)
            execute(op, waiting, headBuf, dirty);

        if (!waiting.empty()) {
            std::string error;
            ferry_status st = FERRY_OK;
            if (settings.flush == FlushMode::Sync) {
                st = syncNow(&error);
                dirty = false;
                if (st != FERRY_OK)
                    log()->error("storage '{}': sync failed ({}): {}; {} writes are not confirmed", plugin.name, st,
                                 error, waiting.size());
            }
            if (journal && st == FERRY_OK) {
                journal->onDurable();
                if (journal->holdsCompletions())
                    completeHeld(waiting);
                else
                    for (PendingDone &w : waiting)
                        complete(w, w.status, w.error);
            } else {
                for (PendingDone &w : waiting)
                    complete(w, st == FERRY_OK ? w.status : st, st == FERRY_OK ? w.error : error);
            }
            waiting.clear();
        } else if (journal && dirty && settings.flush == FlushMode::Async) {
            journal->onDurable(); // writes without a completion, shipped at once in async flush mode
        }
        batch.clear();

        const auto now = Clock::now();
        if (settings.flush == FlushMode::Async && dirty && now >= nextFlush) {
            std::string error;
            if (syncNow(&error) != FERRY_OK)
                log()->error("storage '{}': periodic sync failed: {}", plugin.name, error);
            dirty = false;
            nextFlush = now + std::chrono::milliseconds(settings.flushIntervalMs);
        }
        if (now >= nextMaintain) {
            if (plugin.storage.maintain) {
                const ferry_status st =
                    plugin.storage.maintain(storage, wallMs(), session->errBuf(), session->errCap());
                if (st != FERRY_OK)
                    log()->warn("storage '{}': maintenance failed ({}): {}", plugin.name, st, session->error());
                if (afterMaintain)
                    afterMaintain(*session);
            }
            nextMaintain = now + std::chrono::milliseconds(settings.maintainIntervalMs);
        }
    }
    if (dirty) {
        std::string error;
        if (syncNow(&error) != FERRY_OK)
            log()->error("storage '{}': final sync failed: {}", plugin.name, error);
    }
}

void StorageEngine::setJournal(StorageJournal *journal) { impl_->journal = journal; }
void StorageEngine::setReadOnly(bool readOnly) { impl_->readOnly.store(readOnly); }

bool StorageEngine::readOnly() const { return impl_->readOnly.load(std::memory_order_relaxed); }

void StorageEngine::setAfterMaintain(std::function<void(StorageSession &)> fn) { impl_->afterMaintain = std::move(fn); }

} // namespace ferry
