// CrashProtocol: what storage_crash_writer (the child) and tst_storage_crash (the parent) agree on.
//
//  - Record content is a pure function of (seed, queue, offset): derivedRecord(). The parent can therefore check
//    every record it reads, including ones whose sync never completed, and spot torn or misplaced records.
//  - The child works in batches. Before a batch it prints "BATCH <seq> <op> <op> ..." listing what it is about to
//    do, in order; after the batch's sync() returned FERRY_OK it prints "SYNCED <seq>". Each line is written and
//    flushed whole. Everything in a batch followed by SYNCED is durable; a BATCH without SYNCED (the child was
//    killed in between) may have survived in any part.
//  - Ops in a BATCH line: A:<queue>:<first offset>:<count>  K:<queue>:<offset> (ack)  T:<queue>:<new low>
//    (truncate_prefix)  O:<group>:<queue>:<offset> (offset_set)  M:<hex key>:<hex value> (meta_put).
//  - Other lines: "READY" once the store is open; "ERROR <text>" when a call failed (the parent fails the test).
//  - Every line of the protocol starts with kLinePrefix; the parent ignores other stdout lines (kernel logging).
#pragma once

#include "StorageHarness.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace ferry::storagetest::crash {

inline const char kLinePrefix[] = "@crash@ ";

// Queues the parent creates before the first round; the child only writes to them.
inline const uint64_t kQueues[] = {11, 12, 13};

struct DerivedRecord {
    uint64_t storeTimeMs = 0;
    size_t headLen = 0;
    std::string bytes; // head followed by body
};

// Sizes: mostly 0..4 KiB, one in forty up to 64 KiB. Starts with readable text naming the record.
inline DerivedRecord derivedRecord(uint64_t seed, uint64_t queue, uint64_t offset)
{
    const uint64_t h = mix64(seed * 0x9e3779b97f4a7c15ULL ^ mix64(queue) ^ (offset * 0xd6e8feb86659fd93ULL));
    DerivedRecord r;
    r.storeTimeMs = 1'600'000'000'000ULL + offset * 3;
    const size_t len = (h % 40 == 0) ? static_cast<size_t>((h >> 8) % (64 * 1024)) : static_cast<size_t>((h >> 8) % 4097);
    std::string label = "q" + std::to_string(queue) + "o" + std::to_string(offset) + "|";
    r.bytes.resize(len);
    Rng rng(h);
    rng.fill(r.bytes.data(), len);
    r.bytes.replace(0, std::min(label.size(), len), label.substr(0, std::min(label.size(), len)));
    r.headLen = static_cast<size_t>((h >> 40) % (len + 1));
    return r;
}

struct CrashOp {
    char kind = 0; // 'A', 'K', 'T', 'O', 'M'
    uint64_t queue = 0;
    uint64_t a = 0; // A: first offset, K: offset, T: new low, O: offset
    uint64_t b = 0; // A: count
    std::string group;
    std::string key, value; // M
};

inline std::string formatOp(const CrashOp &op)
{
    switch (op.kind) {
    case 'A': return "A:" + std::to_string(op.queue) + ":" + std::to_string(op.a) + ":" + std::to_string(op.b);
    case 'K': return "K:" + std::to_string(op.queue) + ":" + std::to_string(op.a);
    case 'T': return "T:" + std::to_string(op.queue) + ":" + std::to_string(op.a);
    case 'O': return "O:" + op.group + ":" + std::to_string(op.queue) + ":" + std::to_string(op.a);
    case 'M': return "M:" + hex(op.key, SIZE_MAX) + ":" + hex(op.value, SIZE_MAX);
    default: return "?";
    }
}

inline std::vector<std::string> splitOn(const std::string &text, char sep)
{
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        const size_t at = text.find(sep, start);
        parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos)
            return parts;
        start = at + 1;
    }
}

// Parses one op token; false on malformed input. Groups never contain ':'.
inline bool parseOp(const std::string &token, CrashOp &op)
{
    const std::vector<std::string> f = splitOn(token, ':');
    if (f.empty() || f[0].size() != 1)
        return false;
    op = CrashOp{};
    op.kind = f[0][0];
    try {
        switch (op.kind) {
        case 'A':
            if (f.size() != 4)
                return false;
            op.queue = std::stoull(f[1]);
            op.a = std::stoull(f[2]);
            op.b = std::stoull(f[3]);
            return true;
        case 'K':
        case 'T':
            if (f.size() != 3)
                return false;
            op.queue = std::stoull(f[1]);
            op.a = std::stoull(f[2]);
            return true;
        case 'O':
            if (f.size() != 4)
                return false;
            op.group = f[1];
            op.queue = std::stoull(f[2]);
            op.a = std::stoull(f[3]);
            return true;
        case 'M':
            return f.size() == 3 && unhex(f[1], op.key) && unhex(f[2], op.value);
        default:
            return false;
        }
    } catch (const std::exception &) {
        return false;
    }
}

} // namespace ferry::storagetest::crash
