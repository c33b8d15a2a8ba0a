// ReplicationCodec: the frames of Ferry's replication protocol (master <-> slave, and the replication admin
// requests), sans-I/O: encode appends whole frames to a byte string, FrameReader cuts whole frames out of a byte
// stream. No sockets, no threads, no kernel state, so it is fuzzed on its own (tests/repl/fuzz).
//
// Wire format: every frame is  u32 length (big-endian, counts the bytes after it) | u8 type | payload.
// Integers are big-endian; a string or byte block is u32 length + bytes. docs/replication.md lists every frame.
// The stream carries storage-level changes (appends with their offsets, acks, consumer offsets, metadata puts and
// deletes, queue creation and deletion), so it does not depend on either side's storage format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::repl {

inline constexpr uint16_t kProtocolVersion = 1;
// Largest frame accepted (a record is one frame: this bounds the largest replicable message).
inline constexpr uint32_t kMaxFrameBytes = 1u << 30;

enum class FrameType : uint8_t {
    Hello = 1,         // slave -> master: who I am and what I hold
    Admin = 2,         // admin client -> any broker: a command ("status", "promote", ...)
    AdminReply = 3,    // broker -> admin client
    SnapshotBegin = 10, // master -> slave: catch-up from storage starts; the snapshot is as of `seq`
    SnapshotQueue = 11, // master -> slave: one queue's state (bounds, live offsets in the slave's range)
    SnapshotEnd = 12,   // master -> slave: metadata, offsets and queues of the snapshot are complete
    CatchupEnd = 13,    // master -> slave: every record up to the snapshot was sent; live changes follow
    Op = 20,            // master -> slave: one change (seq 0: part of a catch-up)
    Heartbeat = 21,     // master -> slave: the master's last seq and clock, once a second when idle
    Ack = 30,           // slave -> master: applied (and stored) through seq
    Error = 40,         // either way, then the sender closes
};

// Error frame codes.
enum class ErrorCode : uint32_t {
    Protocol = 1,  // malformed or unexpected frame
    WrongGroup = 2, // the slave's broker.name differs from the master's
    NotMaster = 3,  // the broker the slave connected to is not a master
    Diverged = 4,   // the slave holds data the master does not have (or has differently)
    FellBehind = 5, // the slave fell out of the master's in-memory backlog during catch-up
    Refused = 6,    // an admin command was refused
};

// One storage-level change.
struct OpRecord {
    enum class Kind : uint8_t {
        Append = 1,      // queueId, offset, storeTimeMs, data = the record (head + body, as stored)
        Ack = 2,         // queueId, offset
        OffsetSet = 3,   // key = group, queueId, offset
        MetaPut = 4,     // key, data = value
        MetaDelete = 5,  // key
        QueueCreate = 6, // queueId, flags
        QueueDelete = 7, // queueId
    };
    uint64_t seq = 0;
    Kind kind = Kind::Append;
    uint64_t queueId = 0;
    uint64_t offset = 0;
    uint64_t storeTimeMs = 0;
    uint32_t flags = 0;
    std::string key;
    std::string data;
};

// One queue as the slave holds it (Hello).
struct QueueState {
    uint64_t queueId = 0;
    uint32_t flags = 0; // storage queue flags
    uint64_t low = 0;
    uint64_t next = 0;
    // The highest readable record below next, for divergence detection; absent when none is readable.
    bool hasCheck = false;
    uint64_t checkOffset = 0;
    uint64_t checkHash = 0;
};

struct Hello {
    uint16_t version = kProtocolVersion;
    std::string brokerName;
    uint64_t brokerId = 0;
    bool reconcile = false;
    // Where the slave stopped in this master's stream, to resume from memory: the master's epoch and the last seq
    // applied (0, 0: unknown, catch up from storage).
    uint64_t epoch = 0;
    uint64_t appliedSeq = 0;
    std::string listenAddress; // the slave's own replication listener (status)
    std::vector<QueueState> queues;
};

struct SnapshotBegin {
    uint64_t epoch = 0;
    uint64_t seq = 0;
};

struct SnapshotQueue {
    uint64_t queueId = 0;
    uint32_t flags = 0;
    uint64_t low = 0;  // the master's low bound
    uint64_t next = 0; // the master's next offset at the snapshot
    bool reset = false; // the slave's copy diverged and reconcile was asked: drop it and take the master's
    // Live (not acked) offsets in [rangeFrom, rangeTo) as (first, count) runs; the slave acks the rest of that range.
    bool hasLiveRuns = false;
    uint64_t rangeFrom = 0;
    uint64_t rangeTo = 0;
    std::vector<std::pair<uint64_t, uint64_t>> liveRuns;
};

struct Heartbeat {
    uint64_t seq = 0;
    uint64_t timeMs = 0;
};

struct ErrorFrame {
    ErrorCode code = ErrorCode::Protocol;
    std::string text;
};

// An admin request. "status" and "digest" only read and need no credentials; "promote" and "follow" change the
// broker and need a user tagged administrator (docs/replication.md, "Admin requests"). A request that is the
// command alone (the short form) decodes with the other fields empty.
struct AdminRequest {
    std::string command;  // "status", "digest", "promote", "follow"
    std::string argument; // promote: "<role>[ force]"; follow: the new master's host:port
    std::string user;
    std::string password;
};

struct AdminReply {
    int32_t status = 0; // FERRY_OK or a FERRY_E_* code
    std::string text;   // JSON for status, else a sentence
};

// ---- encoding: each appends one whole frame to out ------------------------------------------------------------
void encodeHello(const Hello &hello, std::string &out);
void encodeAdmin(const AdminRequest &request, std::string &out);
void encodeAdminReply(const AdminReply &reply, std::string &out);
void encodeSnapshotBegin(const SnapshotBegin &begin, std::string &out);
void encodeSnapshotQueue(const SnapshotQueue &queue, std::string &out);
void encodeSnapshotEnd(std::string &out);
void encodeCatchupEnd(uint64_t seq, std::string &out);
void encodeOp(const OpRecord &op, std::string &out);
// The same as encodeOp for an append whose head and body live apart (no joined copy is made).
void encodeAppendOp(uint64_t seq, uint64_t queueId, uint64_t offset, uint64_t storeTimeMs, std::string_view head,
                    std::string_view body, std::string &out);
void encodeHeartbeat(const Heartbeat &heartbeat, std::string &out);
void encodeAck(uint64_t seq, std::string &out);
void encodeError(const ErrorFrame &error, std::string &out);

// ---- decoding ----------------------------------------------------------------------------------------------------
// A frame cut from the stream; payload borrows the reader's input.
struct Frame {
    FrameType type;
    std::string_view payload;
};

// Cuts whole frames from the front of a byte stream. next() returns the next frame, nullopt when more bytes are
// needed (consumed() tells how far the whole frames reach), or sets error() for a malformed stream (a length
// of 0 or above kMaxFrameBytes); nothing after an error is returned.
class FrameReader {
public:
    FrameReader(const uint8_t *data, size_t len) : data_(data), len_(len) {}
    std::optional<Frame> next();
    size_t consumed() const { return pos_; }
    const std::string &error() const { return error_; }

private:
    const uint8_t *data_;
    size_t len_;
    size_t pos_ = 0;
    std::string error_;
};

// Each returns false (with *error) when the payload is malformed: short, trailing bytes, out-of-range values.
bool decodeHello(std::string_view payload, Hello *out, std::string *error);
bool decodeAdmin(std::string_view payload, AdminRequest *out, std::string *error);
bool decodeAdminReply(std::string_view payload, AdminReply *out, std::string *error);
bool decodeSnapshotBegin(std::string_view payload, SnapshotBegin *out, std::string *error);
bool decodeSnapshotQueue(std::string_view payload, SnapshotQueue *out, std::string *error);
bool decodeCatchupEnd(std::string_view payload, uint64_t *seq, std::string *error);
bool decodeOp(std::string_view payload, OpRecord *out, std::string *error);
bool decodeHeartbeat(std::string_view payload, Heartbeat *out, std::string *error);
bool decodeAck(std::string_view payload, uint64_t *seq, std::string *error);
bool decodeError(std::string_view payload, ErrorFrame *out, std::string *error);

// FNV-1a 64 over a record's store time and bytes: how master and slave compare one record (divergence checks).
uint64_t recordHash(uint64_t storeTimeMs, const uint8_t *data, size_t len);

} // namespace ferry::repl
