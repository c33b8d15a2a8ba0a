#include "repl/ReplicationCodec.h"

#include <cstring>

namespace ferry::repl {

namespace {

// ---- writing ----------------------------------------------------------------------------------------------------
class FrameWriter {
public:
    FrameWriter(std::string &out, FrameType type) : out_(out), start_(out.size())
    {
        out_.append(4, '\0');
        u8(static_cast<uint8_t>(type));
    }
    ~FrameWriter()
    {
        const uint32_t len = static_cast<uint32_t>(out_.size() - start_ - 4);
        for (int i = 0; i < 4; ++i)
            out_[start_ + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xff);
    }
    FrameWriter(const FrameWriter &) = delete;
    FrameWriter &operator=(const FrameWriter &) = delete;

    void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u16(uint16_t v) { be(v, 2); }
    void u32(uint32_t v) { be(v, 4); }
    void u64(uint64_t v) { be(v, 8); }
    void bytes(std::string_view v)
    {
        u32(static_cast<uint32_t>(v.size()));
        out_.append(v);
    }

private:
    void be(uint64_t v, int n)
    {
        for (int i = n - 1; i >= 0; --i)
            out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    std::string &out_;
    size_t start_;
};

// ---- reading ----------------------------------------------------------------------------------------------------
class PayloadReader {
public:
    PayloadReader(std::string_view p, std::string *error) : p_(p), error_(error) {}

    bool u8(uint8_t *v) { return be(v, 1); }
    bool u16(uint16_t *v) { return be(v, 2); }
    bool u32(uint32_t *v) { return be(v, 4); }
    bool u64(uint64_t *v) { return be(v, 8); }
    bool flag(bool *v)
    {
        uint8_t b = 0;
        if (!u8(&b))
            return false;
        if (b > 1)
            return fail("a flag byte is " + std::to_string(b) + ", expected 0 or 1");
        *v = b == 1;
        return true;
    }
    bool bytes(std::string *v)
    {
        uint32_t n = 0;
        if (!u32(&n))
            return false;
        if (p_.size() - pos_ < n)
            return fail("a " + std::to_string(n) + "-byte field runs past the end of its frame");
        v->assign(p_.substr(pos_, n));
        pos_ += n;
        return true;
    }
    // A count of items each at least minItemBytes long: refuses counts the payload cannot hold.
    bool count(uint32_t *n, size_t minItemBytes)
    {
        if (!u32(n))
            return false;
        if (minItemBytes > 0 && *n > (p_.size() - pos_) / minItemBytes)
            return fail("a count of " + std::to_string(*n) + " items does not fit in its frame");
        return true;
    }
    bool atEnd() const { return pos_ == p_.size(); }
    bool end()
    {
        if (pos_ != p_.size())
            return fail(std::to_string(p_.size() - pos_) + " unexpected bytes at the end of a frame");
        return true;
    }
    bool fail(const std::string &why)
    {
        if (error_ && error_->empty())
            *error_ = why;
        return false;
    }

private:
    template <typename T> bool be(T *v, size_t n)
    {
        if (p_.size() - pos_ < n)
            return fail("frame ends early");
        uint64_t x = 0;
        for (size_t i = 0; i < n; ++i)
            x = (x << 8) | static_cast<uint8_t>(p_[pos_ + i]);
        pos_ += n;
        *v = static_cast<T>(x);
        return true;
    }
    std::string_view p_;
    size_t pos_ = 0;
    std::string *error_;
};

} // namespace

// ---- encoders -----------------------------------------------------------------------------------------------------

void encodeHello(const Hello &h, std::string &out)
{
    FrameWriter w(out, FrameType::Hello);
    w.u16(h.version);
    w.bytes(h.brokerName);
    w.u64(h.brokerId);
    w.u8(h.reconcile ? 1 : 0);
    w.u64(h.epoch);
    w.u64(h.appliedSeq);
    w.bytes(h.listenAddress);
    w.u32(static_cast<uint32_t>(h.queues.size()));
    for (const QueueState &q : h.queues) {
        w.u64(q.queueId);
        w.u32(q.flags);
        w.u64(q.low);
        w.u64(q.next);
        w.u8(q.hasCheck ? 1 : 0);
        w.u64(q.checkOffset);
        w.u64(q.checkHash);
    }
}

void encodeAdmin(const AdminRequest &r, std::string &out)
{
    FrameWriter w(out, FrameType::Admin);
    w.bytes(r.command);
    if (r.argument.empty() && r.user.empty() && r.password.empty())
        return; // the short form
    w.bytes(r.argument);
    w.bytes(r.user);
    w.bytes(r.password);
}

void encodeAdminReply(const AdminReply &r, std::string &out)
{
    FrameWriter w(out, FrameType::AdminReply);
    w.u32(static_cast<uint32_t>(r.status));
    w.bytes(r.text);
}

void encodeSnapshotBegin(const SnapshotBegin &b, std::string &out)
{
    FrameWriter w(out, FrameType::SnapshotBegin);
    w.u64(b.epoch);
    w.u64(b.seq);
}

void encodeSnapshotQueue(const SnapshotQueue &q, std::string &out)
{
    FrameWriter w(out, FrameType::SnapshotQueue);
    w.u64(q.queueId);
    w.u32(q.flags);
    w.u64(q.low);
    w.u64(q.next);
    w.u8(q.reset ? 1 : 0);
    w.u8(q.hasLiveRuns ? 1 : 0);
    w.u64(q.rangeFrom);
    w.u64(q.rangeTo);
    w.u32(static_cast<uint32_t>(q.liveRuns.size()));
    for (const auto &[first, n] : q.liveRuns) {
        w.u64(first);
        w.u64(n);
    }
}

void encodeSnapshotEnd(std::string &out) { FrameWriter w(out, FrameType::SnapshotEnd); }

void encodeCatchupEnd(uint64_t seq, std::string &out)
{
    FrameWriter w(out, FrameType::CatchupEnd);
    w.u64(seq);
}

void encodeOp(const OpRecord &op, std::string &out)
{
    FrameWriter w(out, FrameType::Op);
    w.u64(op.seq);
    w.u8(static_cast<uint8_t>(op.kind));
    w.u64(op.queueId);
    w.u64(op.offset);
    w.u64(op.storeTimeMs);
    w.u32(op.flags);
    w.bytes(op.key);
    w.bytes(op.data);
}

void encodeAppendOp(uint64_t seq, uint64_t queueId, uint64_t offset, uint64_t storeTimeMs, std::string_view head,
                    std::string_view body, std::string &out)
{
    FrameWriter w(out, FrameType::Op);
    w.u64(seq);
    w.u8(static_cast<uint8_t>(OpRecord::Kind::Append));
    w.u64(queueId);
    w.u64(offset);
    w.u64(storeTimeMs);
    w.u32(0);
    w.bytes({});
    w.u32(static_cast<uint32_t>(head.size() + body.size()));
    out.append(head);
    out.append(body);
}

void encodeHeartbeat(const Heartbeat &h, std::string &out)
{
    FrameWriter w(out, FrameType::Heartbeat);
    w.u64(h.seq);
    w.u64(h.timeMs);
}

void encodeAck(uint64_t seq, std::string &out)
{
    FrameWriter w(out, FrameType::Ack);
    w.u64(seq);
}

void encodeError(const ErrorFrame &e, std::string &out)
{
    FrameWriter w(out, FrameType::Error);
    w.u32(static_cast<uint32_t>(e.code));
    w.bytes(e.text);
}

// ---- decoders -----------------------------------------------------------------------------------------------------

std::optional<Frame> FrameReader::next()
{
    if (!error_.empty() || len_ - pos_ < 4)
        return std::nullopt;
    const uint8_t *p = data_ + pos_;
    const uint32_t len = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
    if (len == 0 || len > kMaxFrameBytes) {
        error_ = "frame length " + std::to_string(len) + " is out of range (1 to " + std::to_string(kMaxFrameBytes) +
                 ")";
        return std::nullopt;
    }
    if (len_ - pos_ - 4 < len)
        return std::nullopt;
    Frame f{static_cast<FrameType>(p[4]), std::string_view(reinterpret_cast<const char *>(p + 5), len - 1)};
    pos_ += 4 + size_t(len);
    return f;
}

bool decodeHello(std::string_view payload, Hello *h, std::string *error)
{
    PayloadReader r(payload, error);
    uint32_t n = 0;
    if (!r.u16(&h->version) || !r.bytes(&h->brokerName) || !r.u64(&h->brokerId) || !r.flag(&h->reconcile) ||
        !r.u64(&h->epoch) || !r.u64(&h->appliedSeq) || !r.bytes(&h->listenAddress) || !r.count(&n, 45))
        return false;
    h->queues.resize(n);
    for (QueueState &q : h->queues)
        if (!r.u64(&q.queueId) || !r.u32(&q.flags) || !r.u64(&q.low) || !r.u64(&q.next) || !r.flag(&q.hasCheck) ||
            !r.u64(&q.checkOffset) || !r.u64(&q.checkHash))
            return false;
    for (const QueueState &q : h->queues)
        if (q.low > q.next)
            return r.fail("queue " + std::to_string(q.queueId) + " has low " + std::to_string(q.low) +
                          " above next " + std::to_string(q.next));
    return r.end();
}

bool decodeAdmin(std::string_view payload, AdminRequest *out, std::string *error)
{
    PayloadReader r(payload, error);
    *out = {};
    if (!r.bytes(&out->command))
        return false;
    if (r.atEnd())
        return true;
    return r.bytes(&out->argument) && r.bytes(&out->user) && r.bytes(&out->password) && r.end();
}

bool decodeAdminReply(std::string_view payload, AdminReply *out, std::string *error)
{
    PayloadReader r(payload, error);
    uint32_t st = 0;
    if (!r.u32(&st) || !r.bytes(&out->text) || !r.end())
        return false;
    out->status = static_cast<int32_t>(st);
    return true;
}

bool decodeSnapshotBegin(std::string_view payload, SnapshotBegin *out, std::string *error)
{
    PayloadReader r(payload, error);
    return r.u64(&out->epoch) && r.u64(&out->seq) && r.end();
}

bool decodeSnapshotQueue(std::string_view payload, SnapshotQueue *q, std::string *error)
{
    PayloadReader r(payload, error);
    uint32_t n = 0;
    if (!r.u64(&q->queueId) || !r.u32(&q->flags) || !r.u64(&q->low) || !r.u64(&q->next) || !r.flag(&q->reset) ||
        !r.flag(&q->hasLiveRuns) || !r.u64(&q->rangeFrom) || !r.u64(&q->rangeTo) || !r.count(&n, 16))
        return false;
    q->liveRuns.resize(n);
    for (auto &[first, count] : q->liveRuns)
        if (!r.u64(&first) || !r.u64(&count))
            return false;
    if (q->low > q->next || q->rangeFrom > q->rangeTo)
        return r.fail("queue " + std::to_string(q->queueId) + ": bounds out of order");
    uint64_t prevEnd = q->rangeFrom;
    for (const auto &[first, count] : q->liveRuns) {
        if (count == 0 || first < prevEnd || first > q->rangeTo || q->rangeTo - first < count)
            return r.fail("queue " + std::to_string(q->queueId) + ": live runs out of order or out of range");
        prevEnd = first + count;
    }
    return r.end();
}

bool decodeCatchupEnd(std::string_view payload, uint64_t *seq, std::string *error)
{
    PayloadReader r(payload, error);
    return r.u64(seq) && r.end();
}

bool decodeOp(std::string_view payload, OpRecord *op, std::string *error)
{
    PayloadReader r(payload, error);
    uint8_t kind = 0;
    if (!r.u64(&op->seq) || !r.u8(&kind) || !r.u64(&op->queueId) || !r.u64(&op->offset) || !r.u64(&op->storeTimeMs) ||
        !r.u32(&op->flags) || !r.bytes(&op->key) || !r.bytes(&op->data))
        return false;
    if (kind < 1 || kind > 7)
        return r.fail("unknown change kind " + std::to_string(kind));
    op->kind = static_cast<OpRecord::Kind>(kind);
    return r.end();
}

bool decodeHeartbeat(std::string_view payload, Heartbeat *out, std::string *error)
{
    PayloadReader r(payload, error);
    return r.u64(&out->seq) && r.u64(&out->timeMs) && r.end();
}

bool decodeAck(std::string_view payload, uint64_t *seq, std::string *error)
{
    PayloadReader r(payload, error);
    return r.u64(seq) && r.end();
}

bool decodeError(std::string_view payload, ErrorFrame *out, std::string *error)
{
    PayloadReader r(payload, error);
    uint32_t code = 0;
    if (!r.u32(&code) || !r.bytes(&out->text) || !r.end())
        return false;
    out->code = static_cast<ErrorCode>(code);
    return true;
}

uint64_t recordHash(uint64_t storeTimeMs, const uint8_t *data, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](uint8_t b) {
        h ^= b;
        h *= 0x100000001b3ull;
    };
    for (int i = 0; i < 8; ++i)
        mix(static_cast<uint8_t>(storeTimeMs >> (8 * i)));
    for (size_t i = 0; i < len; ++i)
        mix(data[i]);
    return h;
}

} // namespace ferry::repl
