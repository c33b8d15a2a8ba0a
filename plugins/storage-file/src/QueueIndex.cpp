#include "QueueIndex.h"

#include "FileIo.h"
#include "Format.h"

#include <algorithm>
#include <system_error>

namespace ferry::storage_file {
namespace {

constexpr uint64_t kInitialCapacity = 4096; // entries; the file is sparse, so unused capacity costs no disk

void encode_entry(uint8_t *p, const IndexEntry &e)
{
    put_u64(p, e.position);
    put_u32(p + 8, e.length);
    put_u32(p + 12, 0);
    put_u64(p + 16, e.store_time_ms);
}

IndexEntry decode_entry(const uint8_t *p)
{
    IndexEntry e;
    e.position = get_u64(p);
    e.length = get_u32(p + 8);
    e.store_time_ms = get_u64(p + 16);
    return e;
}

qint64 file_size_for(uint64_t capacity_entries)
{
    return static_cast<qint64>(kIndexHeaderBytes + capacity_entries * kIndexEntryBytes);
}

} // namespace

QueueIndex::QueueIndex(std::filesystem::path path, uint64_t queue_id, uint32_t incarnation)
    : path_(std::move(path)), queue_id_(queue_id), incarnation_(incarnation), mapper_(qpath(path_))
{
    pending_.reserve(kFlushEntries * kIndexEntryBytes);
}

QueueIndex::~QueueIndex()
{
    unmap_file();
}

void QueueIndex::unmap_file()
{
    if (map_ != nullptr) {
        mapper_.unmap(const_cast<uchar *>(map_));
        map_ = nullptr;
    }
    if (mapper_.isOpen())
        mapper_.close();
}

void QueueIndex::map_file(uint64_t capacity_entries)
{
    unmap_file();
    open_or_throw(mapper_, QIODevice::ReadOnly);
    uchar *p = mapper_.map(0, file_size_for(capacity_entries));
    if (p == nullptr)
        throw_file_error(mapper_, "map");
    mapper_.close(); // the mapping outlives the descriptor
    map_ = p;
    capacity_ = capacity_entries;
}

void QueueIndex::write_header(QFile &file, uint64_t base)
{
    uint8_t header[kIndexHeaderBytes] = {};
    put_u32(header, kIndexMagic);
    put_u32(header + 4, kIndexVersion);
    put_u64(header + 8, queue_id_);
    put_u32(header + 16, incarnation_);
    put_u64(header + 24, base);
    if (!file.seek(0))
        throw_file_error(file, "seek");
    write_all(file, header, sizeof header);
}

void QueueIndex::create(uint64_t base)
{
    unmap_file();
    {
        QFile file(qpath(path_));
        open_or_throw(file, QIODevice::ReadWrite | QIODevice::Truncate | QIODevice::Unbuffered);
        write_header(file, base);
        if (!file.resize(file_size_for(kInitialCapacity)))
            throw_file_error(file, "resize");
    }
    base_ = base;
    flushed_ = 0;
    pending_.clear();
    unsynced_ = true;
    map_file(kInitialCapacity);
}

bool QueueIndex::open_checkpointed(uint64_t next, std::string &why)
{
    unmap_file();
    QFile file(qpath(path_));
    if (!file.exists()) {
        why = "missing";
        return false;
    }
    open_or_throw(file, QIODevice::ReadWrite | QIODevice::Unbuffered);
    const qint64 size = file.size();
    uint8_t header[kIndexHeaderBytes];
    if (size < static_cast<qint64>(kIndexHeaderBytes) ||
        file.read(reinterpret_cast<char *>(header), sizeof header) != static_cast<qint64>(sizeof header)) {
        why = "shorter than its header";
        return false;
    }
    if (get_u32(header) != kIndexMagic || get_u32(header + 4) != kIndexVersion) {
        why = "bad magic or version";
        return false;
    }
    if (get_u64(header + 8) != queue_id_ || get_u32(header + 16) != incarnation_) {
        why = "belongs to another queue or incarnation";
        return false;
    }
    const uint64_t base = get_u64(header + 24);
    if (base > next) {
        why = "starts after the checkpointed next offset";
        return false;
    }
    const uint64_t count = next - base;
    const uint64_t capacity = (static_cast<uint64_t>(size) - kIndexHeaderBytes) / kIndexEntryBytes;
    if (count > capacity) {
        why = "holds fewer entries than the checkpoint promised";
        return false;
    }
    // Entries past `count` may have been written after the checkpoint; cut them so stale bytes never look valid.
    const uint64_t new_capacity = std::max(capacity, kInitialCapacity);
    if (!file.resize(file_size_for(count)) || !file.resize(file_size_for(new_capacity)))
        throw_file_error(file, "resize");
    file.close();
    base_ = base;
    flushed_ = count;
    pending_.clear();
    unsynced_ = true;
    map_file(new_capacity);
    return true;
}

uint64_t QueueIndex::file_bytes() const
{
    return kIndexHeaderBytes + (flushed_ + pending_count()) * kIndexEntryBytes;
}

void QueueIndex::make_room()
{
    if (pending_count() >= kFlushEntries)
        flush();
}

void QueueIndex::append(const IndexEntry &entry)
{
    make_room();
    const size_t at = pending_.size();
    pending_.resize(at + kIndexEntryBytes);
    encode_entry(pending_.data() + at, entry);
}

IndexEntry QueueIndex::get(uint64_t offset) const
{
    const uint64_t i = offset - base_;
    if (i < flushed_)
        return decode_entry(map_ + kIndexHeaderBytes + i * kIndexEntryBytes);
    return decode_entry(pending_.data() + (i - flushed_) * kIndexEntryBytes);
}

uint64_t QueueIndex::first_at_or_after_position(uint64_t position, uint64_t from, uint64_t to) const
{
    uint64_t lo = from, hi = to;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (get(mid).position < position)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t QueueIndex::first_at_or_after_time(uint64_t time_ms, uint64_t from, uint64_t to) const
{
    uint64_t lo = from, hi = to;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (get(mid).store_time_ms < time_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void QueueIndex::flush()
{
    if (pending_.empty())
        return;
    const uint64_t needed = flushed_ + pending_count();
    QFile file(qpath(path_));
    open_or_throw(file, QIODevice::ReadWrite | QIODevice::Unbuffered);
    if (needed > capacity_) {
        const uint64_t new_capacity = std::max(needed, capacity_ * 2);
        unmap_file(); // Windows cannot resize a mapped file
        if (!file.resize(file_size_for(new_capacity))) {
            map_file(capacity_);
            throw_file_error(file, "resize");
        }
        map_file(new_capacity);
    }
    if (!file.seek(static_cast<qint64>(kIndexHeaderBytes + flushed_ * kIndexEntryBytes)))
        throw_file_error(file, "seek");
    write_all(file, pending_.data(), pending_.size());
    flushed_ = needed;
    pending_.clear();
    unsynced_ = true;
}

void QueueIndex::sync()
{
    flush();
    if (!unsynced_)
        return;
    QFile file(qpath(path_));
    open_or_throw(file, QIODevice::ReadWrite | QIODevice::Unbuffered);
    sync_file(file);
    unsynced_ = false;
}

void QueueIndex::rebase(uint64_t new_base)
{
    const uint64_t next_offset = next();
    if (new_base < base_ || new_base > next_offset)
        throw sdk::Error(FERRY_E_INTERNAL, "index rebase outside [base, next]");
    const uint64_t count = next_offset - new_base;
    const uint64_t capacity = std::max(kInitialCapacity, count * 2);
    std::filesystem::path temp = path_;
    temp += ".tmp";
    {
        QFile file(qpath(temp));
        open_or_throw(file, QIODevice::ReadWrite | QIODevice::Truncate | QIODevice::Unbuffered);
        write_header(file, new_base);
        std::vector<uint8_t> block;
        block.reserve(64 * 1024);
        for (uint64_t offset = new_base; offset < next_offset; ++offset) {
            const size_t at = block.size();
            block.resize(at + kIndexEntryBytes);
            encode_entry(block.data() + at, get(offset));
            if (block.size() >= 64 * 1024 - kIndexEntryBytes) {
                write_all(file, block.data(), block.size());
                block.clear();
            }
        }
        write_all(file, block.data(), block.size());
        if (!file.resize(file_size_for(capacity)))
            throw_file_error(file, "resize");
        sync_file(file);
    }
    unmap_file(); // Windows cannot replace a mapped file
    std::error_code ec;
    std::filesystem::rename(temp, path_, ec);
    if (ec) {
        map_file(capacity_);
        throw sdk::Error(FERRY_E_IO, "rename " + display(temp) + " failed: " + ec.message());
    }
    sync_directory(path_.parent_path());
    base_ = new_base;
    flushed_ = count;
    pending_.clear();
    unsynced_ = false;
    map_file(capacity);
}

void QueueIndex::remove_file()
{
    unmap_file();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    if (ec)
        throw sdk::Error(FERRY_E_IO, "remove " + display(path_) + " failed: " + ec.message());
}

} // namespace ferry::storage_file
