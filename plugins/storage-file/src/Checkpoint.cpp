#include "Checkpoint.h"

#include "Crc32c.h"
#include "FileIo.h"
#include "Format.h"

#include <ferry/sdk.hpp>

namespace ferry::storage_file {

bool load_checkpoint(const std::filesystem::path &path, Checkpoint &out)
{
    std::string bytes;
    if (!read_whole_file(path, bytes))
        return false;
    const auto *p = reinterpret_cast<const uint8_t *>(bytes.data());
    const auto damaged = [&](const char *why) {
        return sdk::Error(FERRY_E_CORRUPT, "checkpoint " + display(path) + " is damaged: " + why);
    };
    if (bytes.size() < kCheckpointHeaderBytes + 4)
        throw damaged("too short");
    if (get_u32(p) != kCheckpointMagic || get_u32(p + 4) != kCheckpointVersion)
        throw damaged("bad magic or version");
    const uint64_t queue_count = get_u32(p + 16);
    const uint64_t segment_count = get_u32(p + 20);
    const uint64_t expected =
        kCheckpointHeaderBytes + queue_count * kCheckpointQueueBytes + segment_count * kCheckpointSegmentBytes + 4;
    if (bytes.size() != expected)
        throw damaged("wrong size");
    if (crc32c(p, bytes.size() - 4) != get_u32(p + bytes.size() - 4))
        throw damaged("checksum mismatch");
    out.position = get_u64(p + 8);
    out.queues.clear();
    out.segments.clear();
    const uint8_t *q = p + kCheckpointHeaderBytes;
    for (uint64_t i = 0; i < queue_count; ++i, q += kCheckpointQueueBytes)
        out.queues.push_back({get_u64(q), get_u32(q + 8), get_u64(q + 16)});
    for (uint64_t i = 0; i < segment_count; ++i, q += kCheckpointSegmentBytes)
        out.segments.push_back({get_u64(q), get_u64(q + 8), get_u64(q + 16)});
    return true;
}

void write_checkpoint_file(const std::filesystem::path &path, const Checkpoint &checkpoint)
{
    std::vector<uint8_t> bytes(kCheckpointHeaderBytes + checkpoint.queues.size() * kCheckpointQueueBytes +
                               checkpoint.segments.size() * kCheckpointSegmentBytes + 4);
    uint8_t *p = bytes.data();
    put_u32(p, kCheckpointMagic);
    put_u32(p + 4, kCheckpointVersion);
    put_u64(p + 8, checkpoint.position);
    put_u32(p + 16, static_cast<uint32_t>(checkpoint.queues.size()));
    put_u32(p + 20, static_cast<uint32_t>(checkpoint.segments.size()));
    uint8_t *q = p + kCheckpointHeaderBytes;
    for (const auto &queue : checkpoint.queues) {
        put_u64(q, queue.queue_id);
        put_u32(q + 8, queue.incarnation);
        put_u32(q + 12, 0);
        put_u64(q + 16, queue.next);
        q += kCheckpointQueueBytes;
    }
    for (const auto &seg : checkpoint.segments) {
        put_u64(q, seg.start);
        put_u64(q + 8, seg.end);
        put_u64(q + 16, seg.newest_store_time);
        q += kCheckpointSegmentBytes;
    }
    put_u32(q, crc32c(p, bytes.size() - 4));
    write_file_atomically(path, bytes.data(), bytes.size());
}

} // namespace ferry::storage_file
