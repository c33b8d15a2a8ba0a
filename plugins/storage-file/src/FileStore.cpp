#include "FileStore.h"

#include "FileIo.h"
#include "Format.h"

#include <ferry/sdk.hpp>

#include <algorithm>
#include <cinttypes>
#include <system_error>
#include <vector>

namespace ferry::storage_file {
namespace {

constexpr const char *kCheckpointName = "checkpoint";
constexpr uint64_t kRebaseMinEntries = 65536; // index files are rewritten only when this many dead entries lead them

using sdk::Error;

std::string queue_text(uint64_t queue_id)
{
    return "queue " + std::to_string(queue_id);
}

} // namespace

// ================================================================================================================
// open / close
// ================================================================================================================

FileStore::FileStore(const ferry_host *host, const ferry_storage_options &options, const StoreConfig &config)
    : host_(host), config_(config)
{
    if (options.data_dir == nullptr || options.data_dir[0] == '\0')
        throw Error(FERRY_E_INVALID_ARGUMENT, "options.data_dir is empty");
    dir_ = std::filesystem::path(std::u8string(reinterpret_cast<const char8_t *>(options.data_dir)));
    retention_ms_ = options.retention_ms;
    retention_bytes_ = options.retention_bytes;

    std::error_code ec;
    std::filesystem::create_directories(dir_ / "index", ec);
    if (ec)
        throw Error(FERRY_E_IO, "cannot create " + display(dir_ / "index") + ": " + ec.message());

    // The data directory is ours alone; a second broker process on it would corrupt both.
    lock_ = std::make_unique<QLockFile>(qpath(dir_ / "LOCK"));
    lock_->setStaleLockTime(0); // stale only when the owning process is gone
    if (!lock_->tryLock(0)) {
        qint64 pid = 0;
        QString hostname, app;
        lock_->getLockInfo(&pid, &hostname, &app);
        throw Error(lock_->error() == QLockFile::LockFailedError ? FERRY_E_BUSY : FERRY_E_IO,
                    "data directory " + display(dir_) + " is locked (" + display(dir_ / "LOCK") + ", held by pid " +
                        std::to_string(pid) + " " + app.toStdString() + ")");
    }
    recover();
}

FileStore::~FileStore() = default;

void FileStore::close()
{
    if (closed_)
        return;
    sync();
    write_checkpoint();
    journal_.close();
    closed_ = true;
    lock_->unlock();
}

void FileStore::warn(const std::string &text) const
{
    if (host_ != nullptr && host_->log != nullptr)
        host_->log(host_->ctx, FERRY_LOG_WARN, text.data(), text.size());
}

std::filesystem::path FileStore::index_path(uint64_t queue_id) const
{
    return dir_ / "index" / (std::to_string(queue_id) + ".idx");
}

FileStore::QueueState &FileStore::queue(uint64_t queue_id)
{
    auto it = queues_.find(queue_id);
    if (it == queues_.end())
        throw Error(FERRY_E_NOT_FOUND, queue_text(queue_id) + " does not exist");
    return it->second;
}

const FileStore::QueueState &FileStore::queue(uint64_t queue_id) const
{
    return const_cast<FileStore *>(this)->queue(queue_id);
}

// ================================================================================================================
// state changes (live and replay)
// ================================================================================================================

void FileStore::apply_queue_create(uint64_t id, uint32_t flags, uint32_t incarnation)
{
    queues_.erase(id);
    QueueState &q = queues_[id];
    q.id = id;
    q.flags = flags;
    q.incarnation = incarnation;
    if (incarnation >= next_incarnation_)
        next_incarnation_ = incarnation + 1;
}

void FileStore::apply_queue_delete(uint64_t id)
{
    queues_.erase(id);
    for (auto it = offsets_.begin(); it != offsets_.end();)
        it = it->first.second == id ? offsets_.erase(it) : std::next(it);
}

void FileStore::apply_truncate(QueueState &q, uint64_t new_low)
{
    if (new_low <= q.low)
        return;
    q.low = new_low;
    q.acked.forget_below(new_low);
    q.low = q.acked.advance(q.low);
}

void FileStore::apply_ack(QueueState &q, uint64_t offset)
{
    if (offset < q.low)
        return;
    q.acked.insert(offset);
    if (offset == q.low)
        q.low = q.acked.advance(q.low);
}

void FileStore::apply_entry(StateEntryType type, const uint8_t *p, size_t len)
{
    const auto find = [this](uint64_t id) -> QueueState * {
        auto it = queues_.find(id);
        return it == queues_.end() ? nullptr : &it->second;
    };
    switch (type) {
    case StateEntryType::QueueCreate:
        if (len >= 16)
            apply_queue_create(get_u64(p), get_u32(p + 8), get_u32(p + 12));
        break;
    case StateEntryType::QueueDelete:
        if (len >= 8)
            apply_queue_delete(get_u64(p));
        break;
    case StateEntryType::Truncate:
        if (len >= 16)
            if (QueueState *q = find(get_u64(p)))
                apply_truncate(*q, get_u64(p + 8));
        break;
    case StateEntryType::Ack:
        if (len >= 16)
            if (QueueState *q = find(get_u64(p)))
                apply_ack(*q, get_u64(p + 8));
        break;
    case StateEntryType::OffsetSet:
        if (len >= 16)
            offsets_[OffsetKey(std::string(reinterpret_cast<const char *>(p + 16), len - 16), get_u64(p))] =
                get_u64(p + 8);
        break;
    case StateEntryType::MetaPut:
        if (len >= 4 && get_u32(p) <= len - 4) {
            const size_t key_len = get_u32(p);
            meta_[std::string(reinterpret_cast<const char *>(p + 4), key_len)] =
                std::string(reinterpret_cast<const char *>(p + 4 + key_len), len - 4 - key_len);
        }
        break;
    case StateEntryType::MetaDelete:
        meta_.erase(std::string(reinterpret_cast<const char *>(p), len));
        break;
    case StateEntryType::NextIncarnation:
        if (len >= 4)
            next_incarnation_ = std::max(next_incarnation_, get_u32(p));
        break;
    case StateEntryType::SnapshotEnd:
        break;
    }
}

void FileStore::journal_truncate(QueueState &q, uint64_t new_low)
{
    uint8_t fixed[16];
    put_u64(fixed, q.id);
    put_u64(fixed + 8, new_low);
    encode_state_entry(journal_.buffer(), StateEntryType::Truncate, fixed, sizeof fixed);
    apply_truncate(q, new_low);
}

// ================================================================================================================
// recovery
// ================================================================================================================

void FileStore::recover()
{
    // 1. Non-record state: snapshot + journals.
    journal_.open(
        dir_ / "state", [this](StateEntryType type, const uint8_t *p, size_t len) { apply_entry(type, p, len); },
        [this](const std::string &text) { warn(text); });

    // 2. The checkpoint (a damaged one is as good as none: everything is rebuilt from the log).
    Checkpoint checkpoint;
    bool have_checkpoint = false;
    try {
        have_checkpoint = load_checkpoint(dir_ / kCheckpointName, checkpoint);
    } catch (const Error &e) {
        warn(std::string(e.what()) + "; rebuilding every index from the commit log");
    }

    // 3. The commit log's segments.
    log_.open(dir_ / "commitlog", config_.segment_bytes);

    // 4. Index files: trusted up to the checkpoint; otherwise rebuilt from the log.
    for (auto &[id, q] : queues_) {
        q.index = std::make_unique<QueueIndex>(index_path(id), id, q.incarnation);
        const Checkpoint::Queue *saved = nullptr;
        if (have_checkpoint)
            for (const auto &cq : checkpoint.queues)
                if (cq.queue_id == id && cq.incarnation == q.incarnation)
                    saved = &cq;
        std::string why;
        if (saved != nullptr && q.index->open_checkpointed(saved->next, why)) {
            q.next = saved->next;
            continue;
        }
        if (saved != nullptr)
            warn("index file " + display(index_path(id)) + " is unusable (" + why +
                 "); rebuilding it from the commit log");
        q.index->create(0);
        q.next = 0;
        // A queue the checkpoint does not know was created after it: all its records lie past the checkpoint.
        q.rebuilding = !have_checkpoint || saved != nullptr;
    }
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir_ / "index")) {
        const std::string name = display(entry.path().filename());
        bool ours = false;
        for (const auto &[id, q] : queues_)
            if (name == std::to_string(id) + ".idx")
                ours = true;
        if (!ours)
            std::filesystem::remove(entry.path(), ec);
    }

    // 5. Scan the log past the checkpoint (all of it when an index is being rebuilt), cutting a torn tail.
    const uint64_t log_end_before = have_checkpoint ? checkpoint.position : 0;
    scan_log(have_checkpoint ? checkpoint.position : 0, have_checkpoint ? &checkpoint : nullptr);
    log_.start_writing(have_checkpoint ? checkpoint.position : 0);

    // 6. Settle every queue's bounds against what the log holds.
    for (auto &[id, q] : queues_) {
        settle_low(q, true);
        q.rebuilding = false;
    }
    checkpoint_position_ = have_checkpoint ? checkpoint.position : 0;
    if (!have_checkpoint || log_.write_position() != log_end_before)
        write_checkpoint();
}

void FileStore::scan_log(uint64_t checkpoint_position, const Checkpoint *checkpoint)
{
    bool rebuild = checkpoint == nullptr;
    for (const auto &[id, q] : queues_)
        rebuild = rebuild || q.rebuilding;

    const auto &segments = log_.segments();
    for (size_t i = 0; i < segments.size(); ++i) {
        Segment &seg = *segments[i];
        // Where to start: the checkpoint says how far this segment was already indexed.
        uint64_t from = seg.start;
        if (checkpoint != nullptr) {
            for (const auto &info : checkpoint->segments)
                if (info.start == seg.start && info.end >= seg.start && info.end <= seg.start + seg.capacity) {
                    seg.newest_store_time = info.newest_store_time;
                    if (!rebuild)
                        from = info.end;
                }
        }
        uint64_t at = from - seg.start;
        while (true) {
            RecordHeader h;
            std::string reason;
            const uint64_t position = seg.start + at;
            const bool before_checkpoint = position < checkpoint_position;
            const SlotState state = log_.check_slot(seg, at, h, reason);
            if (state == SlotState::End)
                break;
            if (state == SlotState::Record && index_scanned_record(h, position, before_checkpoint, reason)) {
                seg.newest_store_time = std::max(seg.newest_store_time, h.store_time_ms);
                at += kRecordHeaderBytes + h.payload_len;
                continue;
            }
            if (before_checkpoint) {
                // Never cut below the checkpoint: read() reports the damage for the records it concerns.
                warn("commit log segment " + seg.file_name() + ": damaged record at byte " + std::to_string(at) +
                     " below the checkpoint (" + reason + "); not scanning past it");
                if (checkpoint_position <= seg.start + seg.capacity && checkpoint_position > position) {
                    at = checkpoint_position - seg.start; // the checkpoint's own position is a record boundary
                    continue;
                }
                break;
            }
            // Past the checkpoint the first bad record is where a crash tore the log: drop it and everything after.
            const size_t discarded = segments.size() - i - 1;
            warn("commit log torn at segment " + seg.file_name() + " byte " + std::to_string(at) + " (" + reason +
                 "): cutting the log there" +
                 (discarded > 0 ? " and removing " + std::to_string(discarded) + " later segment file(s)" : "") +
                 "; records after the last sync() were lost in a crash");
            log_.cut(position);
            return;
        }
        seg.end = seg.start + at;
        seg.end_known = true;
    }
}

bool FileStore::index_scanned_record(const RecordHeader &h, uint64_t position, bool before_checkpoint,
                                     std::string &why)
{
    if (h.incarnation >= next_incarnation_)
        next_incarnation_ = h.incarnation + 1;
    auto it = queues_.find(h.queue_id);
    if (it == queues_.end() || it->second.incarnation != h.incarnation)
        return true; // a deleted queue's record: kept until retention removes its segment
    QueueState &q = it->second;
    if (h.queue_offset < q.next)
        return true; // already indexed (below the checkpoint)
    if (h.queue_offset > q.next) {
        if (q.rebuilding && q.index->next() == q.index->base()) {
            // First record of a queue whose index is rebuilt from scratch: earlier ones were removed by retention.
            q.index->create(h.queue_offset);
            q.next = h.queue_offset;
        } else if (q.rebuilding || before_checkpoint) {
            // Records lost to damage: placeholders keep offset -> entry arithmetic; read() skips them.
            const uint64_t gap = h.queue_offset - q.next;
            if (gap > (uint64_t{1} << 24)) {
                warn(queue_text(q.id) + ": offset jumps from " + std::to_string(q.next) + " to " +
                     std::to_string(h.queue_offset) + " in the commit log; ignoring that record");
                return true;
            }
            for (; q.next < h.queue_offset; ++q.next)
                q.index->append(IndexEntry{position, 0, h.store_time_ms});
        } else {
            why = queue_text(q.id) + " offset " + std::to_string(h.queue_offset) + " follows offset " +
                  std::to_string(q.next - 1) + " (records missing in between)";
            return false;
        }
    }
    q.index->append(IndexEntry{position, static_cast<uint32_t>(kRecordHeaderBytes + h.payload_len), h.store_time_ms});
    ++q.next;
    return true;
}

void FileStore::settle_low(QueueState &q, bool journal_changes)
{
    if (q.low > q.next)
        q.low = q.next; // a truncate or ack that outlived the records it named (they were never synced)
    q.acked.forget_from(q.next);
    uint64_t low = std::max(q.low, q.index->base());
    // Records whose segments retention removed are gone.
    const uint64_t first_start = log_.segments().empty() ? 0 : log_.segments().front()->start;
    low = std::max(low, q.index->first_at_or_after_position(first_start, low, q.next));
    while (low < q.next && q.index->get(low).length == 0)
        ++low;
    if (low > q.low) {
        if (journal_changes)
            journal_truncate(q, low);
        else
            apply_truncate(q, low);
    }
    q.acked.forget_below(q.low);
    q.low = q.acked.advance(q.low);
}

// ================================================================================================================
// queues
// ================================================================================================================

void FileStore::queue_create(uint64_t queue_id, uint32_t flags)
{
    if (queues_.count(queue_id) != 0)
        throw Error(FERRY_E_ALREADY_EXISTS, queue_text(queue_id) + " already exists");
    if (next_incarnation_ == UINT32_MAX)
        throw Error(FERRY_E_NO_SPACE, "queue incarnation counter exhausted");
    journal_.make_room();
    const uint32_t incarnation = next_incarnation_;
    auto index = std::make_unique<QueueIndex>(index_path(queue_id), queue_id, incarnation);
    index->create(0);
    index_dir_unsynced_ = true;
    uint8_t fixed[16];
    put_u64(fixed, queue_id);
    put_u32(fixed + 8, flags);
    put_u32(fixed + 12, incarnation);
    encode_state_entry(journal_.buffer(), StateEntryType::QueueCreate, fixed, sizeof fixed);
    apply_queue_create(queue_id, flags, incarnation);
    queues_[queue_id].index = std::move(index);
}

void FileStore::queue_delete(uint64_t queue_id)
{
    QueueState &q = queue(queue_id);
    journal_.make_room();
    q.index->remove_file();
    index_dir_unsynced_ = true;
    uint8_t fixed[8];
    put_u64(fixed, queue_id);
    encode_state_entry(journal_.buffer(), StateEntryType::QueueDelete, fixed, sizeof fixed);
    apply_queue_delete(queue_id);
}

void FileStore::queue_list(ferry_storage_queue_sink sink, void *ctx) const
{
    std::vector<std::pair<uint64_t, uint32_t>> list;
    list.reserve(queues_.size());
    for (const auto &[id, q] : queues_)
        list.emplace_back(id, q.flags);
    std::sort(list.begin(), list.end());
    for (const auto &[id, flags] : list)
        if (sink(ctx, id, flags) != 0)
            return;
}

void FileStore::queue_bounds(uint64_t queue_id, uint64_t &low, uint64_t &next) const
{
    const QueueState &q = queue(queue_id);
    low = q.low;
    next = q.next;
}

// ================================================================================================================
// records
// ================================================================================================================

uint64_t FileStore::append(uint64_t queue_id, uint64_t store_time_ms, const uint8_t *head, size_t head_len,
                           const uint8_t *body, size_t body_len)
{
    QueueState &q = queue(queue_id);
    if ((head == nullptr && head_len != 0) || (body == nullptr && body_len != 0))
        throw Error(FERRY_E_INVALID_ARGUMENT, "null head or body with a non-zero length");
    if (q.index->next() != q.next)
        throw Error(FERRY_E_INTERNAL, queue_text(queue_id) + ": index out of step");
    RecordHeader h;
    h.incarnation = q.incarnation;
    h.queue_id = queue_id;
    h.queue_offset = q.next;
    h.store_time_ms = store_time_ms;
    const uint64_t size = kRecordHeaderBytes + static_cast<uint64_t>(head_len) + body_len;
    // Make room in the index first, so that once the record is in the log, indexing it cannot fail.
    q.index->make_room();
    const uint64_t position = log_.append(h, head, head_len, body, body_len);
    q.index->append(IndexEntry{position, static_cast<uint32_t>(size), store_time_ms});
    return q.next++;
}

void FileStore::read(uint64_t queue_id, uint64_t from_offset, uint32_t max_records, uint64_t max_bytes,
                     ferry_storage_record_sink sink, void *ctx) const
{
    const QueueState &q = queue(queue_id);
    if (sink == nullptr)
        throw Error(FERRY_E_INVALID_ARGUMENT, "read sink is NULL");
    ferry_storage_record record{};
    record.struct_size = sizeof record;
    record.queue_id = queue_id;
    uint64_t delivered = 0;
    uint64_t bytes = 0;
    for (uint64_t offset = q.acked.first_absent(std::max(from_offset, q.low)); offset < q.next;
         offset = q.acked.first_absent(offset + 1)) {
        const IndexEntry e = q.index->get(offset);
        if (e.length == 0)
            continue; // lost before recovery
        const uint64_t payload_len = e.length >= kRecordHeaderBytes ? e.length - kRecordHeaderBytes : 0;
        if (delivered > 0) {
            if (max_records != 0 && delivered >= max_records)
                break;
            if (max_bytes != 0 && bytes + payload_len > max_bytes)
                break;
        }
        std::string reason;
        const Segment *seg = nullptr;
        const uint8_t *data = log_.verified_payload(e.position, e.length, queue_id, offset, reason, &seg);
        if (data == nullptr)
            throw Error(FERRY_E_CORRUPT, queue_text(queue_id) + " offset " + std::to_string(offset) +
                                             ": record in segment file " +
                                             (seg != nullptr ? seg->file_name() : std::string("(missing)")) +
                                             " at position " + std::to_string(e.position) + " is corrupt (" + reason +
                                             ")");
        record.offset = offset;
        record.store_time_ms = e.store_time_ms;
        record.data = data;
        record.len = static_cast<size_t>(payload_len);
        if (sink(ctx, &record) != 0)
            return;
        ++delivered;
        bytes += payload_len;
    }
}

void FileStore::ack(uint64_t queue_id, uint64_t offset)
{
    QueueState &q = queue(queue_id);
    if (offset >= q.next)
        throw Error(FERRY_E_NOT_FOUND, queue_text(queue_id) + " has no record at offset " + std::to_string(offset) +
                                           " (next offset is " + std::to_string(q.next) + ")");
    if (offset < q.low || q.acked.contains(offset))
        return;
    journal_.make_room();
    uint8_t fixed[16];
    put_u64(fixed, queue_id);
    put_u64(fixed + 8, offset);
    encode_state_entry(journal_.buffer(), StateEntryType::Ack, fixed, sizeof fixed);
    apply_ack(q, offset);
}

void FileStore::truncate_prefix(uint64_t queue_id, uint64_t new_low)
{
    QueueState &q = queue(queue_id);
    new_low = std::min(new_low, q.next);
    if (new_low <= q.low)
        return;
    journal_.make_room();
    journal_truncate(q, new_low);
}

uint64_t FileStore::seek_time(uint64_t queue_id, uint64_t time_ms) const
{
    const QueueState &q = queue(queue_id);
    uint64_t offset = q.acked.first_absent(q.index->first_at_or_after_time(time_ms, q.low, q.next));
    while (offset < q.next && q.index->get(offset).length == 0)
        offset = q.acked.first_absent(offset + 1);
    return std::min(offset, q.next);
}

// ================================================================================================================
// consumer offsets and metadata
// ================================================================================================================

void FileStore::offset_set(std::string_view group, uint64_t queue_id, uint64_t offset)
{
    journal_.make_room();
    uint8_t fixed[16];
    put_u64(fixed, queue_id);
    put_u64(fixed + 8, offset);
    encode_state_entry(journal_.buffer(), StateEntryType::OffsetSet, fixed, sizeof fixed, group.data(), group.size());
    offsets_[OffsetKey(std::string(group), queue_id)] = offset;
}

bool FileStore::offset_get(std::string_view group, uint64_t queue_id, uint64_t &offset) const
{
    auto it = offsets_.find(OffsetKey(std::string(group), queue_id));
    if (it == offsets_.end())
        return false;
    offset = it->second;
    return true;
}

void FileStore::offset_list(ferry_storage_offset_sink sink, void *ctx) const
{
    for (const auto &[key, offset] : offsets_)
        if (sink(ctx, key.first.data(), key.first.size(), key.second, offset) != 0)
            return;
}

void FileStore::meta_put(std::string_view key, std::string_view value)
{
    if (key.size() > UINT32_MAX)
        throw Error(FERRY_E_TOO_LARGE, "metadata key longer than 4 GiB");
    journal_.make_room();
    uint8_t fixed[4];
    put_u32(fixed, static_cast<uint32_t>(key.size()));
    encode_state_entry(journal_.buffer(), StateEntryType::MetaPut, fixed, sizeof fixed, key.data(), key.size(),
                       value.data(), value.size());
    meta_[std::string(key)] = std::string(value);
}

bool FileStore::meta_get(std::string_view key, ferry_storage_kv_sink sink, void *ctx) const
{
    auto it = meta_.find(std::string(key));
    if (it == meta_.end())
        return false;
    sink(ctx, reinterpret_cast<const uint8_t *>(it->first.data()), it->first.size(),
         reinterpret_cast<const uint8_t *>(it->second.data()), it->second.size());
    return true;
}

bool FileStore::meta_delete(std::string_view key)
{
    auto it = meta_.find(std::string(key));
    if (it == meta_.end())
        return false;
    journal_.make_room();
    encode_state_entry(journal_.buffer(), StateEntryType::MetaDelete, key.data(), key.size());
    meta_.erase(it);
    return true;
}

void FileStore::meta_scan(std::string_view prefix, ferry_storage_kv_sink sink, void *ctx) const
{
    for (auto it = meta_.lower_bound(std::string(prefix)); it != meta_.end(); ++it) {
        if (it->first.compare(0, prefix.size(), prefix) != 0)
            break;
        if (sink(ctx, reinterpret_cast<const uint8_t *>(it->first.data()), it->first.size(),
                 reinterpret_cast<const uint8_t *>(it->second.data()), it->second.size()) != 0)
            return;
    }
}

// ================================================================================================================
// durability and housekeeping
// ================================================================================================================

void FileStore::sync()
{
    log_.sync();
    journal_.sync();
    if (log_.write_position() - checkpoint_position_ >= config_.checkpoint_bytes)
        write_checkpoint();
    maybe_compact_journal();
}

void FileStore::write_checkpoint()
{
    log_.sync();
    journal_.sync();
    Checkpoint checkpoint;
    checkpoint.position = log_.write_position();
    std::vector<uint64_t> ids;
    ids.reserve(queues_.size());
    for (const auto &[id, q] : queues_)
        ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (uint64_t id : ids) {
        QueueState &q = queues_.at(id);
        q.index->sync();
        checkpoint.queues.push_back({id, q.incarnation, q.next});
    }
    if (index_dir_unsynced_) {
        sync_directory(dir_ / "index");
        index_dir_unsynced_ = false;
    }
    for (const auto &seg : log_.segments())
        checkpoint.segments.push_back({seg->start, seg->end, seg->newest_store_time});
    write_checkpoint_file(dir_ / kCheckpointName, checkpoint);
    checkpoint_position_ = checkpoint.position;
}

void FileStore::encode_snapshot(std::vector<uint8_t> &out) const
{
    std::vector<uint64_t> ids;
    for (const auto &[id, q] : queues_)
        ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (uint64_t id : ids) {
        const QueueState &q = queues_.at(id);
        uint8_t fixed[16];
        put_u64(fixed, id);
        put_u32(fixed + 8, q.flags);
        put_u32(fixed + 12, q.incarnation);
        encode_state_entry(out, StateEntryType::QueueCreate, fixed, sizeof fixed);
        if (q.low > 0) {
            put_u64(fixed + 8, q.low);
            encode_state_entry(out, StateEntryType::Truncate, fixed, sizeof fixed);
        }
        q.acked.for_each([&](uint64_t offset) {
            put_u64(fixed + 8, offset);
            encode_state_entry(out, StateEntryType::Ack, fixed, sizeof fixed);
        });
    }
    for (const auto &[key, offset] : offsets_) {
        uint8_t fixed[16];
        put_u64(fixed, key.second);
        put_u64(fixed + 8, offset);
        encode_state_entry(out, StateEntryType::OffsetSet, fixed, sizeof fixed, key.first.data(), key.first.size());
    }
    for (const auto &[key, value] : meta_) {
        uint8_t fixed[4];
        put_u32(fixed, static_cast<uint32_t>(key.size()));
        encode_state_entry(out, StateEntryType::MetaPut, fixed, sizeof fixed, key.data(), key.size(), value.data(),
                           value.size());
    }
    uint8_t next[4];
    put_u32(next, next_incarnation_);
    encode_state_entry(out, StateEntryType::NextIncarnation, next, sizeof next);
}

void FileStore::maybe_compact_journal()
{
    if (journal_.journal_bytes() < config_.journal_compact_bytes ||
        journal_.journal_bytes() < 2 * journal_.snapshot_bytes())
        return;
    std::vector<uint8_t> entries;
    encode_snapshot(entries);
    journal_.compact(entries);
}

uint64_t FileStore::live_records_in(const QueueState &q, const Segment &seg) const
{
    const uint64_t from = std::max(q.low, q.index->base());
    const uint64_t first = q.index->first_at_or_after_position(seg.start, from, q.next);
    const uint64_t last = q.index->first_at_or_after_position(seg.end, first, q.next);
    return (last - first) - q.acked.count_in(first, last);
}

void FileStore::maintain(uint64_t now_ms)
{
    // Acks and truncations must be durable before the records they release disappear.
    sync();

    const auto &segments = log_.segments();
    std::vector<const Segment *> doomed;
    if (segments.size() > 1) {
        uint64_t total = log_.data_bytes();
        const auto protected_segment = [&](const Segment &seg) {
            for (const auto &[id, q] : queues_)
                if ((q.flags & FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED) != 0 && live_records_in(q, seg) > 0)
                    return true;
            return false;
        };
        // Age and size retention: from the oldest segment on, stopping at the first one that must stay.
        size_t i = 0;
        for (; i + 1 < segments.size(); ++i) {
            const Segment &seg = *segments[i];
            const bool too_old = retention_ms_ != 0 && now_ms > seg.newest_store_time &&
                                 now_ms - seg.newest_store_time > retention_ms_;
            const bool too_big = retention_bytes_ != 0 && total > retention_bytes_;
            if ((!too_old && !too_big) || protected_segment(seg))
                break;
            doomed.push_back(&seg);
            total -= seg.end - seg.start;
        }
        // Segments nobody can read any more, wherever they are.
        for (; i + 1 < segments.size(); ++i) {
            const Segment &seg = *segments[i];
            bool dead = true;
            for (const auto &[id, q] : queues_)
                if (live_records_in(q, seg) > 0) {
                    dead = false;
                    break;
                }
            if (dead)
                doomed.push_back(&seg);
        }
    }
    if (!doomed.empty()) {
        // The checkpoint must lie past every removed segment, so recovery never scans across the hole.
        write_checkpoint();
        for (const Segment *seg : doomed)
            log_.remove_segment(seg);
        log_.sync();
        for (auto &[id, q] : queues_)
            settle_low(q, true);
        journal_.sync();
    }

    // Rewrite index files that mostly describe truncated records.
    for (auto &[id, q] : queues_) {
        const uint64_t dead = q.low - q.index->base();
        if (dead >= kRebaseMinEntries && dead * 2 >= q.next - q.index->base())
            q.index->rebase(q.low);
    }
    maybe_compact_journal();
}

ferry_storage_stats FileStore::stats() const
{
    ferry_storage_stats s{};
    s.struct_size = sizeof s;
    s.bytes_on_disk = log_.data_bytes() + journal_.disk_bytes();
    s.queue_count = queues_.size();
    for (const auto &[id, q] : queues_) {
        s.bytes_on_disk += q.index->file_bytes();
        s.record_count += q.next - q.low - q.acked.count();
    }
    std::error_code ec;
    const auto checkpoint_size = std::filesystem::file_size(dir_ / kCheckpointName, ec);
    if (!ec)
        s.bytes_on_disk += checkpoint_size;
    return s;
}

} // namespace ferry::storage_file
