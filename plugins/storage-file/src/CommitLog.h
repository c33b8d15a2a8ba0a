// CommitLog.h -- the shared commit log: every queue's records in one sequence of segment files
// commitlog/<20-digit start position>.seg.
//
// Positions are global byte addresses: a record at position p lives in the segment with start <= p < end, at byte
// p - start of that file. A segment is preallocated to its capacity with QFile::resize (sparse where the file system
// allows), so the bytes after the logical end read as zeros; a new segment starts at the previous one's logical end.
//
// Writes go through the active segment's file descriptor (one write for header + head, one for the body, straight
// from the caller's buffer); reads go through a read-only QFile::map of each whole segment, so bytes are readable
// through the map as soon as write() returns. Nothing is fsynced except by sync().
//
// Not thread-safe: the store calls it from one thread at a time.
#pragma once

#include "Format.h"

#include <ferry/ferry_plugin.h>

#include <QFile>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ferry::storage_file {

struct Segment {
    uint64_t start = 0;             // global position of byte 0
    uint64_t end = 0;               // logical end (exclusive); valid once known (see end_known)
    uint64_t capacity = 0;          // file size in bytes
    uint64_t newest_store_time = 0; // the largest store time among its records (0 when empty or unknown)
    bool end_known = false;
    std::filesystem::path path;
    QFile mapper;                   // owns map; closed after mapping
    const uint8_t *map = nullptr;   // the whole file, read-only

    std::string file_name() const;
};

// Result of checking one record slot during recovery.
enum class SlotState { Record, End, Bad };

class CommitLog {
public:
    CommitLog() = default;
    ~CommitLog();
    CommitLog(const CommitLog &) = delete;
    CommitLog &operator=(const CommitLog &) = delete;

    // Lists and maps the existing segments in dir (ends not yet known). Removes stray temporary files.
    void open(const std::filesystem::path &dir, uint64_t segment_bytes);
    const std::vector<std::unique_ptr<Segment>> &segments() const { return segments_; }
    // The segment whose file holds position (start <= position < start + capacity), or null.
    Segment *find(uint64_t position) const;

    // Checks the slot at byte `at` of seg: a valid record (header decoded, CRC checked), the clean end (not enough
    // room for a header, or an all-zero header), or a bad record (reason says why).
    SlotState check_slot(const Segment &seg, uint64_t at, RecordHeader &header, std::string &reason) const;

    // Cuts the log at position (inside or at the end of a segment's data): zeroes the rest of that segment durably
    // and deletes every later segment. Returns how many bytes of written data were discarded (best estimate).
    void cut(uint64_t position);

    // Makes the last segment the active one (its end must be known), creating a first segment at `fallback_start`
    // when there is none.
    void start_writing(uint64_t fallback_start);
    uint64_t write_position() const { return write_pos_; }
    const Segment *active() const { return segments_.empty() ? nullptr : segments_.back().get(); }

    // Appends one record (header fields except the CRC are taken from `header`; payload_len is set here).
    // Returns its position. On failure throws sdk::Error and leaves the log as it was.
    uint64_t append(RecordHeader header, const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len);

    // Verifies the record at position (length = header + payload) and returns its payload pointer (into the map),
    // or null with reason filled. Checks magic, length, CRC and that it belongs to (queue_id, offset).
    const uint8_t *verified_payload(uint64_t position, uint32_t length, uint64_t queue_id, uint64_t offset,
                                    std::string &reason, const Segment **segment_out) const;

    // fsyncs every segment written since the last sync and, when files were created or removed, the directory.
    void sync();
    bool has_unsynced_data() const { return active_unsynced_ || !sealed_unsynced_.empty(); }

    // Unmaps and deletes a non-active segment.
    void remove_segment(const Segment *segment);

    // Sum of the logical sizes of all segments.
    uint64_t data_bytes() const;
    uint64_t segment_bytes() const { return segment_bytes_; }

private:
    void map_segment(Segment &seg);
    void unmap_segment(Segment &seg);
    void roll();
    std::filesystem::path path_for(uint64_t start) const;

    std::filesystem::path dir_;
    uint64_t segment_bytes_ = 0;
    std::vector<std::unique_ptr<Segment>> segments_; // ascending start; the last one is active once writing
    std::unique_ptr<QFile> writer_;                  // open on the active segment, positioned at write_pos_
    std::vector<std::unique_ptr<QFile>> sealed_unsynced_; // writers of segments sealed since the last sync
    uint64_t write_pos_ = 0;
    bool active_unsynced_ = false;
    bool dir_unsynced_ = false;
    std::vector<uint8_t> staging_; // header + head of the record being appended (reused)
};

} // namespace ferry::storage_file
