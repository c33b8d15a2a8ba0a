// Fuzz target for the replication codec (broker/kernel/repl/ReplicationCodec): cuts frames from arbitrary bytes,
// decodes each by its type and checks that what decodes re-encodes to a frame that decodes to the same values.
// Any input must end in a clean refusal, never a crash, a hang or a failed round trip.
#include "repl/ReplicationCodec.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace ferry::repl;

namespace {

void check(bool ok)
{
    if (!ok)
        std::abort();
}

// Decodes the single frame in bytes; its payload must equal want.
std::string_view onlyPayload(const std::string &bytes, FrameType type)
{
    FrameReader r(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
    auto f = r.next();
    check(f.has_value() && f->type == type && r.consumed() == bytes.size());
    return f->payload;
}

void roundTrip(const Frame &f)
{
    std::string error, out;
    switch (f.type) {
    case FrameType::Hello: {
        Hello h, again;
        if (!decodeHello(f.payload, &h, &error))
            return;
        encodeHello(h, out);
        check(decodeHello(onlyPayload(out, f.type), &again, &error));
        check(again.brokerName == h.brokerName && again.queues.size() == h.queues.size() &&
              again.appliedSeq == h.appliedSeq);
        return;
    }
    case FrameType::SnapshotQueue: {
        SnapshotQueue q, again;
        if (!decodeSnapshotQueue(f.payload, &q, &error))
            return;
        encodeSnapshotQueue(q, out);
        check(decodeSnapshotQueue(onlyPayload(out, f.type), &again, &error));
        check(again.liveRuns == q.liveRuns && again.next == q.next && again.reset == q.reset);
        return;
    }
    case FrameType::Op: {
        OpRecord op, again;
        if (!decodeOp(f.payload, &op, &error))
            return;
        encodeOp(op, out);
        check(decodeOp(onlyPayload(out, f.type), &again, &error));
        check(again.kind == op.kind && again.key == op.key && again.data == op.data && again.offset == op.offset);
        return;
    }
    case FrameType::Admin: {
        AdminRequest c, again;
        if (!decodeAdmin(f.payload, &c, &error))
            return;
        encodeAdmin(c, out);
        check(decodeAdmin(onlyPayload(out, f.type), &again, &error) && again.command == c.command &&
              again.argument == c.argument && again.user == c.user && again.password == c.password);
        return;
    }
    case FrameType::AdminReply: {
        AdminReply a, again;
        if (!decodeAdminReply(f.payload, &a, &error))
            return;
        encodeAdminReply(a, out);
        check(decodeAdminReply(onlyPayload(out, f.type), &again, &error) && again.text == a.text &&
              again.status == a.status);
        return;
    }
    case FrameType::SnapshotBegin: {
        SnapshotBegin b, again;
        if (decodeSnapshotBegin(f.payload, &b, &error)) {
            encodeSnapshotBegin(b, out);
            check(decodeSnapshotBegin(onlyPayload(out, f.type), &again, &error) && again.seq == b.seq);
        }
        return;
    }
    case FrameType::Heartbeat: {
        Heartbeat h, again;
        if (decodeHeartbeat(f.payload, &h, &error)) {
            encodeHeartbeat(h, out);
            check(decodeHeartbeat(onlyPayload(out, f.type), &again, &error) && again.seq == h.seq);
        }
        return;
    }
    case FrameType::Ack:
    case FrameType::CatchupEnd: {
        uint64_t seq = 0, again = 0;
        if (f.type == FrameType::Ack ? decodeAck(f.payload, &seq, &error) : decodeCatchupEnd(f.payload, &seq, &error)) {
            f.type == FrameType::Ack ? encodeAck(seq, out) : encodeCatchupEnd(seq, out);
            check((f.type == FrameType::Ack ? decodeAck(onlyPayload(out, f.type), &again, &error)
                                            : decodeCatchupEnd(onlyPayload(out, f.type), &again, &error)) &&
                  again == seq);
        }
        return;
    }
    case FrameType::Error: {
        ErrorFrame e, again;
        if (decodeError(f.payload, &e, &error)) {
            encodeError(e, out);
            check(decodeError(onlyPayload(out, f.type), &again, &error) && again.text == e.text);
        }
        return;
    }
    default:
        return;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FrameReader reader(data, size);
    while (auto frame = reader.next())
        roundTrip(*frame);
    check(reader.consumed() <= size);
    return 0;
}
