#include "CommitLog.h"

#include "Crc32c.h"
#include "FileIo.h"

#include <ferry/sdk.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <system_error>

namespace ferry::storage_file {
namespace {

constexpr const char *kSegmentSuffix = ".seg";

bool parse_segment_name(const std::string &name, uint64_t &start)
{
    if (name.size() != 20 + 4 || name.compare(20, 4, kSegmentSuffix) != 0)
        return false;
    uint64_t value = 0;
    for (size_t i = 0; i < 20; ++i) {
        const char c = name[i];
        if (c < '0' || c > '9')
            return false;
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    start = value;
    return true;
}

} // namespace

std::string Segment::file_name() const
{
    return display(path.filename());
}

CommitLog::~CommitLog()
{
    writer_.reset();
    sealed_unsynced_.clear();
    for (auto &seg : segments_)
        unmap_segment(*seg);
}

std::filesystem::path CommitLog::path_for(uint64_t start) const
{
    char name[32];
    std::snprintf(name, sizeof name, "%020" PRIu64 "%s", start, kSegmentSuffix);
    return dir_ / name;
}

void CommitLog::map_segment(Segment &seg)
{
    unmap_segment(seg);
    seg.mapper.setFileName(qpath(seg.path));
    open_or_throw(seg.mapper, QIODevice::ReadOnly);
    const qint64 size = seg.mapper.size();
    if (size <= 0)
        throw sdk::Error(FERRY_E_CORRUPT, "segment file " + seg.file_name() + " is empty");
    uchar *p = seg.mapper.map(0, size);
    if (p == nullptr)
        throw_file_error(seg.mapper, "map");
    seg.mapper.close(); // the mapping outlives the descriptor
    seg.map = p;
    seg.capacity = static_cast<uint64_t>(size);
}

void CommitLog::unmap_segment(Segment &seg)
{
    if (seg.map != nullptr) {
        seg.mapper.unmap(const_cast<uchar *>(seg.map));
        seg.map = nullptr;
    }
    if (seg.mapper.isOpen())
        seg.mapper.close();
}

void CommitLog::open(const std::filesystem::path &dir, uint64_t segment_bytes)
{
    dir_ = dir;
    segment_bytes_ = segment_bytes;
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec)
        throw sdk::Error(FERRY_E_IO, "cannot create " + display(dir_) + ": " + ec.message());
    std::vector<std::pair<uint64_t, std::filesystem::path>> found;
    for (const auto &entry : std::filesystem::directory_iterator(dir_)) {
        const std::string name = display(entry.path().filename());
        uint64_t start = 0;
        if (parse_segment_name(name, start))
            found.emplace_back(start, entry.path());
        else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0)
            std::filesystem::remove(entry.path(), ec);
    }
    std::sort(found.begin(), found.end());
    for (auto &[start, path] : found) {
        auto seg = std::make_unique<Segment>();
        seg->start = start;
        seg->end = start;
        seg->path = path;
        map_segment(*seg);
        segments_.push_back(std::move(seg));
    }
}

Segment *CommitLog::find(uint64_t position) const
{
    auto it = std::upper_bound(segments_.begin(), segments_.end(), position,
                               [](uint64_t pos, const std::unique_ptr<Segment> &s) { return pos < s->start; });
    if (it == segments_.begin())
        return nullptr;
    Segment *seg = std::prev(it)->get();
    return position < seg->start + seg->capacity ? seg : nullptr;
}

SlotState CommitLog::check_slot(const Segment &seg, uint64_t at, RecordHeader &header, std::string &reason) const
{
    if (at + kRecordHeaderBytes > seg.capacity)
        return SlotState::End;
    const uint8_t *p = seg.map + at;
    if (all_zero(p, kRecordHeaderBytes))
        return SlotState::End;
    header = decode_record_header(p);
    if (header.magic != kRecordMagic) {
        reason = "bad magic";
        return SlotState::Bad;
    }
    if (at + kRecordHeaderBytes + header.payload_len > seg.capacity) {
        reason = "length " + std::to_string(header.payload_len) + " runs past the end of the segment";
        return SlotState::Bad;
    }
    const uint32_t crc = crc32c(p + kRecordCrcFrom, kRecordHeaderBytes - kRecordCrcFrom + header.payload_len);
    if (crc != header.crc) {
        reason = "checksum mismatch";
        return SlotState::Bad;
    }
    return SlotState::Record;
}

void CommitLog::cut(uint64_t position)
{
    Segment *seg = nullptr;
    size_t index = 0;
    for (; index < segments_.size(); ++index) {
        Segment *s = segments_[index].get();
        if (s->start <= position && position <= s->start + s->capacity) {
            seg = s;
            break;
        }
    }
    if (seg == nullptr)
        throw sdk::Error(FERRY_E_INTERNAL, "cut position outside every segment");
    writer_.reset();
    unmap_segment(*seg);
    {
        QFile file(qpath(seg->path));
        open_or_throw(file, QIODevice::ReadWrite | QIODevice::Unbuffered);
        // Truncating and growing again turns everything after the cut into zeros (a hole where supported).
        if (!file.resize(static_cast<qint64>(position - seg->start)) || !file.resize(static_cast<qint64>(seg->capacity)))
            throw_file_error(file, "resize");
        sync_file(file);
    }
    map_segment(*seg);
    seg->end = position;
    seg->end_known = true;
    while (segments_.size() > index + 1) {
        Segment &last = *segments_.back();
        unmap_segment(last);
        std::error_code ec;
        std::filesystem::remove(last.path, ec);
        if (ec)
            throw sdk::Error(FERRY_E_IO, "remove " + display(last.path) + " failed: " + ec.message());
        segments_.pop_back();
    }
    sync_directory(dir_);
}

void CommitLog::start_writing(uint64_t fallback_start)
{
    if (segments_.empty()) {
        write_pos_ = fallback_start;
        auto seg = std::make_unique<Segment>();
        seg->start = fallback_start;
        seg->end = fallback_start;
        seg->end_known = true;
        seg->path = path_for(fallback_start);
        {
            QFile file(qpath(seg->path));
            open_or_throw(file, QIODevice::ReadWrite | QIODevice::Truncate | QIODevice::Unbuffered);
            if (!file.resize(static_cast<qint64>(segment_bytes_)))
                throw_file_error(file, "resize");
        }
        map_segment(*seg);
        segments_.push_back(std::move(seg));
        dir_unsynced_ = true;
    }
    Segment &active = *segments_.back();
    write_pos_ = active.end;
    writer_ = std::make_unique<QFile>(qpath(active.path));
    open_or_throw(*writer_, QIODevice::ReadWrite | QIODevice::Unbuffered);
    if (!writer_->seek(static_cast<qint64>(active.end - active.start)))
        throw_file_error(*writer_, "seek");
}

void CommitLog::roll()
{
    auto seg = std::make_unique<Segment>();
    seg->start = write_pos_;
    seg->end = write_pos_;
    seg->end_known = true;
    seg->path = path_for(write_pos_);
    auto writer = std::make_unique<QFile>(qpath(seg->path));
    open_or_throw(*writer, QIODevice::ReadWrite | QIODevice::Truncate | QIODevice::Unbuffered);
    if (!writer->resize(static_cast<qint64>(segment_bytes_))) {
        writer->close();
        std::error_code ec;
        std::filesystem::remove(seg->path, ec);
        throw_file_error(*writer, "resize");
    }
    map_segment(*seg);
    if (active_unsynced_)
        sealed_unsynced_.push_back(std::move(writer_));
    writer_ = std::move(writer);
    active_unsynced_ = false;
    segments_.push_back(std::move(seg));
    dir_unsynced_ = true;
}

uint64_t CommitLog::append(RecordHeader header, const uint8_t *head, size_t head_len, const uint8_t *body,
                           size_t body_len)
{
    const uint64_t payload = static_cast<uint64_t>(head_len) + body_len;
    const uint64_t size = kRecordHeaderBytes + payload;
    if (payload > std::numeric_limits<uint32_t>::max() || size > segment_bytes_)
        throw sdk::Error(FERRY_E_TOO_LARGE, "record of " + std::to_string(payload) +
                                                " bytes does not fit a segment of file.segment_bytes=" +
                                                std::to_string(segment_bytes_));
    Segment *active = segments_.back().get();
    if (write_pos_ - active->start + size > active->capacity) {
        roll();
        active = segments_.back().get();
    }
    header.magic = kRecordMagic;
    header.payload_len = static_cast<uint32_t>(payload);
    staging_.resize(kRecordHeaderBytes + head_len);
    uint8_t *p = staging_.data();
    encode_record_header(p, header);
    if (head_len > 0)
        std::memcpy(p + kRecordHeaderBytes, head, head_len);
    uint32_t crc = crc32c_extend(0, p + kRecordCrcFrom, kRecordHeaderBytes - kRecordCrcFrom + head_len);
    if (body_len > 0)
        crc = crc32c_extend(crc, body, body_len);
    put_u32(p + 4, crc);

    const qint64 at = static_cast<qint64>(write_pos_ - active->start);
    try {
        write_all(*writer_, p, staging_.size());
        write_all(*writer_, body, body_len);
    } catch (...) {
        // Best effort: wipe whatever part of the header reached the file so the slot reads as the clean end, and
        // put the file position back. write_pos_ is unchanged, so the next append overwrites the slot anyway.
        static const uint8_t zeros[kRecordHeaderBytes] = {};
        if (writer_->seek(at))
            (void)writer_->write(reinterpret_cast<const char *>(zeros), sizeof zeros);
        (void)writer_->seek(at);
        writer_->unsetError();
        throw;
    }
    const uint64_t position = write_pos_;
    write_pos_ += size;
    active->end = write_pos_;
    active->newest_store_time = std::max(active->newest_store_time, header.store_time_ms);
    active_unsynced_ = true;
    return position;
}

const uint8_t *CommitLog::verified_payload(uint64_t position, uint32_t length, uint64_t queue_id, uint64_t offset,
                                           std::string &reason, const Segment **segment_out) const
{
    const Segment *seg = find(position);
    *segment_out = seg;
    if (seg == nullptr) {
        reason = "its segment no longer exists";
        return nullptr;
    }
    const uint64_t at = position - seg->start;
    if (length < kRecordHeaderBytes || at + length > seg->capacity) {
        reason = "index entry points outside the segment";
        return nullptr;
    }
    const uint8_t *p = seg->map + at;
    const RecordHeader h = decode_record_header(p);
    if (h.magic != kRecordMagic || h.payload_len != length - kRecordHeaderBytes) {
        reason = "bad record header";
        return nullptr;
    }
    if (h.queue_id != queue_id || h.queue_offset != offset) {
        reason = "record header names queue " + std::to_string(h.queue_id) + " offset " +
                 std::to_string(h.queue_offset);
        return nullptr;
    }
    if (crc32c(p + kRecordCrcFrom, kRecordHeaderBytes - kRecordCrcFrom + h.payload_len) != h.crc) {
        reason = "checksum mismatch";
        return nullptr;
    }
    return p + kRecordHeaderBytes;
}

void CommitLog::sync()
{
    while (!sealed_unsynced_.empty()) {
        sync_file(*sealed_unsynced_.back());
        sealed_unsynced_.pop_back();
    }
    if (active_unsynced_) {
        sync_file(*writer_);
        active_unsynced_ = false;
    }
    if (dir_unsynced_) {
        sync_directory(dir_);
        dir_unsynced_ = false;
    }
}

void CommitLog::remove_segment(const Segment *segment)
{
    auto it = std::find_if(segments_.begin(), segments_.end(),
                           [segment](const std::unique_ptr<Segment> &s) { return s.get() == segment; });
    if (it == segments_.end() || std::next(it) == segments_.end())
        throw sdk::Error(FERRY_E_INTERNAL, "remove_segment of an unknown or the active segment");
    Segment &seg = **it;
    unmap_segment(seg);
    std::error_code ec;
    std::filesystem::remove(seg.path, ec);
    if (ec) {
        map_segment(seg);
        throw sdk::Error(FERRY_E_IO, "remove " + display(seg.path) + " failed: " + ec.message());
    }
    segments_.erase(it);
    dir_unsynced_ = true;
}

uint64_t CommitLog::data_bytes() const
{
    uint64_t total = 0;
    for (const auto &seg : segments_)
        total += seg->end - seg->start;
    return total;
}

} // namespace ferry::storage_file
