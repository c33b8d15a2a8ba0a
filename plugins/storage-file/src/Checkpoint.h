// Checkpoint.h -- the `checkpoint` file: a commit-log position up to which every queue's index file was fsynced,
// with each queue's next offset at that moment and each segment's logical end and newest store time.
//
// Written atomically (temp file, fsync, rename, directory fsync) by the store at close, every checkpoint_bytes of
// appended log and before retention deletes segments. Recovery trusts index entries below `position` and rebuilds the
// rest by scanning the commit log from there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ferry::storage_file {

struct Checkpoint {
    struct Queue {
        uint64_t queue_id = 0;
        uint32_t incarnation = 0;
        uint64_t next = 0;
    };
    struct SegmentInfo {
        uint64_t start = 0;
        uint64_t end = 0;
        uint64_t newest_store_time = 0;
    };
    uint64_t position = 0;
    std::vector<Queue> queues;
    std::vector<SegmentInfo> segments;
};

// Returns false when there is no checkpoint file. Throws sdk::Error(FERRY_E_CORRUPT) when it is damaged.
bool load_checkpoint(const std::filesystem::path &path, Checkpoint &out);
void write_checkpoint_file(const std::filesystem::path &path, const Checkpoint &checkpoint);

} // namespace ferry::storage_file
