// Format.h -- on-disk constants and little-endian field helpers of the storage-file plugin.
//
// docs/storage-file-format.md is the normative description of every layout below; keep the two in step.
// All integers on disk are little-endian regardless of the host; the helpers encode byte by byte so the code is
// correct on any host and compiles to plain loads and stores on little-endian ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ferry::storage_file {

// ---- commit log record --------------------------------------------------------------------------------------
// 0 magic u32 | 4 crc32c u32 (bytes 8..end of payload) | 8 payload_len u32 | 12 incarnation u32 |
// 16 queue_id u64 | 24 queue_offset u64 | 32 store_time_ms u64 | 40 payload (head bytes then body bytes)
inline constexpr uint32_t kRecordMagic = 0x31435246u; // bytes "FRC1"
inline constexpr size_t kRecordHeaderBytes = 40;
inline constexpr size_t kRecordCrcFrom = 8; // the CRC covers header bytes [8, 40) and the payload

// ---- per-queue index file ------------------------------------------------------------------------------------
// header: 0 magic u32 | 4 version u32 | 8 queue_id u64 | 16 incarnation u32 | 20 reserved u32 | 24 base_offset u64
// entry i (offset base_offset + i) at 32 + 24*i: 0 position u64 | 8 record_len u32 | 12 reserved u32 | 16 store_time u64
inline constexpr uint32_t kIndexMagic = 0x31584946u; // "FIX1"
inline constexpr uint32_t kIndexVersion = 1;
inline constexpr size_t kIndexHeaderBytes = 32;
inline constexpr size_t kIndexEntryBytes = 24;

// ---- state journal and snapshot ------------------------------------------------------------------------------
// file header: 0 magic u32 | 4 version u32 | 8 generation u64
// entry: 0 crc32c u32 (bytes 4..end) | 4 payload_len u32 | 8 type u8 | 9 payload
inline constexpr uint32_t kJournalMagic = 0x314e4a46u;  // "FJN1"
inline constexpr uint32_t kSnapshotMagic = 0x314e5346u; // "FSN1"
inline constexpr uint32_t kStateVersion = 1;
inline constexpr size_t kStateFileHeaderBytes = 16;
inline constexpr size_t kStateEntryHeaderBytes = 9;

enum class StateEntryType : uint8_t {
    QueueCreate = 1,     // queue_id u64, flags u32, incarnation u32
    QueueDelete = 2,     // queue_id u64
    Truncate = 3,        // queue_id u64, new_low u64
    Ack = 4,             // queue_id u64, offset u64
    OffsetSet = 5,       // queue_id u64, offset u64, group bytes (rest)
    MetaPut = 6,         // key_len u32, key bytes, value bytes (rest)
    MetaDelete = 7,      // key bytes (all)
    NextIncarnation = 8, // next u32 (snapshot only)
    SnapshotEnd = 9,     // empty (snapshot only; marks a complete snapshot)
};

// ---- checkpoint ----------------------------------------------------------------------------------------------
// 0 magic u32 | 4 version u32 | 8 position u64 | 16 queue_count u32 | 20 segment_count u32 |
// queue_count x (queue_id u64, incarnation u32, reserved u32, next_offset u64) |
// segment_count x (start u64, end u64, newest_store_time u64) | crc32c u32 of everything before it
inline constexpr uint32_t kCheckpointMagic = 0x31504346u; // "FCP1"
inline constexpr uint32_t kCheckpointVersion = 1;
inline constexpr size_t kCheckpointHeaderBytes = 24;
inline constexpr size_t kCheckpointQueueBytes = 24;
inline constexpr size_t kCheckpointSegmentBytes = 24;

// ---- little-endian helpers ------------------------------------------------------------------------------------
inline void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
    p[2] = static_cast<uint8_t>(v >> 16);
    p[3] = static_cast<uint8_t>(v >> 24);
}

inline void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, static_cast<uint32_t>(v));
    put_u32(p + 4, static_cast<uint32_t>(v >> 32));
}

inline uint32_t get_u32(const uint8_t *p)
{
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
}

inline uint64_t get_u64(const uint8_t *p)
{
    return static_cast<uint64_t>(get_u32(p)) | (static_cast<uint64_t>(get_u32(p + 4)) << 32);
}

// The decoded fixed header of a commit-log record.
struct RecordHeader {
    uint32_t magic = 0;
    uint32_t crc = 0;
    uint32_t payload_len = 0;
    uint32_t incarnation = 0;
    uint64_t queue_id = 0;
    uint64_t queue_offset = 0;
    uint64_t store_time_ms = 0;
};

inline RecordHeader decode_record_header(const uint8_t *p)
{
    RecordHeader h;
    h.magic = get_u32(p);
    h.crc = get_u32(p + 4);
    h.payload_len = get_u32(p + 8);
    h.incarnation = get_u32(p + 12);
    h.queue_id = get_u64(p + 16);
    h.queue_offset = get_u64(p + 24);
    h.store_time_ms = get_u64(p + 32);
    return h;
}

// Writes every field except the CRC (left zero); the caller computes it over bytes [8, 40) plus the payload.
inline void encode_record_header(uint8_t *p, const RecordHeader &h)
{
    put_u32(p, h.magic);
    put_u32(p + 4, 0);
    put_u32(p + 8, h.payload_len);
    put_u32(p + 12, h.incarnation);
    put_u64(p + 16, h.queue_id);
    put_u64(p + 24, h.queue_offset);
    put_u64(p + 32, h.store_time_ms);
}

inline bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (p[i] != 0)
            return false;
    return true;
}

} // namespace ferry::storage_file
