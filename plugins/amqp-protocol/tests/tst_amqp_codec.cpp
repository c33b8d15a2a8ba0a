// Unit tests of the AMQP 0-9-1 codec (amqp_codec): the protocol header, frames, every method, content headers and
// bodies, field tables. Expected bytes are written out by hand from the protocol facts (../shared/protocols/
// amqp-0-9-1.md and RabbitMQ's definition), never produced by the code under test; error texts were checked against
// what RabbitMQ 3.10 answers where it answers at all. The real frames come from the fuzz seed corpus, captured from
// pika, amqplib and librabbitmq talking to RabbitMQ 3.10 (see ../fuzz/README.md).
#include "codec/Codec.h"

#include <QtTest>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace ferry::amqp;

namespace {

QByteArray qb(std::string_view s) { return QByteArray(s.data(), static_cast<qsizetype>(s.size())); }

std::string be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string be32(uint32_t v) { return be16(static_cast<uint16_t>(v >> 16)) + be16(static_cast<uint16_t>(v)); }
std::string be64(uint64_t v) { return be32(static_cast<uint32_t>(v >> 32)) + be32(static_cast<uint32_t>(v)); }
std::string oct(uint8_t v) { return std::string(1, static_cast<char>(v)); }
std::string ss(std::string_view s) { return oct(static_cast<uint8_t>(s.size())) + std::string(s); }
std::string ls(std::string_view s) { return be32(static_cast<uint32_t>(s.size())) + std::string(s); }

// "01 00 01 ce" -> bytes; spaces ignored.
std::string hex(const char *text)
{
    std::string out;
    int nibbles = 0;
    unsigned value = 0;
    for (const char *p = text; *p; ++p) {
        const char c = *p;
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            continue;
        value = (value << 4) | static_cast<unsigned>(d);
        if (++nibbles == 2) {
            out.push_back(static_cast<char>(value));
            nibbles = 0;
            value = 0;
        }
    }
    return out;
}

std::string frameOf(uint8_t type, uint16_t channel, const std::string &payload)
{
    return oct(type) + be16(channel) + be32(static_cast<uint32_t>(payload.size())) + payload + oct(0xCE);
}

std::string methodPayload(uint16_t classId, uint16_t methodId, const std::string &args = {})
{
    return be16(classId) + be16(methodId) + args;
}

std::string entry(std::string_view key, char type, const std::string &value)
{
    return ss(key) + std::string(1, type) + value;
}

// A corpus file's bytes, read once and kept for the whole run (decoded views point into them).
const std::string &corpus(const char *name)
{
    static std::map<std::string, std::string> files;
    auto it = files.find(name);
    if (it == files.end()) {
        std::ifstream in(std::string(AMQP_CORPUS_DIR) + "/" + name, std::ios::binary);
        it = files.emplace(name, std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()))
                 .first;
    }
    return it->second;
}

const char *statusName(FrameStatus s)
{
    switch (s) {
    case FrameStatus::Ok: return "Ok";
    case FrameStatus::NeedMore: return "NeedMore";
    case FrameStatus::Error: return "Error";
    }
    return "?";
}

const char *headerStatusName(HeaderStatus s)
{
    switch (s) {
    case HeaderStatus::NeedMore: return "NeedMore";
    case HeaderStatus::Valid: return "Valid";
    case HeaderStatus::Invalid: return "Invalid";
    }
    return "?";
}

struct Parsed {
    FrameStatus status = FrameStatus::Error;
    Frame frame;
    Error error;
};

Parsed parse(std::string_view bytes, uint32_t frameMax = 131072)
{
    Parsed p;
    p.status = parseFrame(bytes, frameMax, p.frame, p.error);
    return p;
}

// Every frame of a stream that may start with the protocol header; fails the test on anything but whole frames.
std::vector<Frame> splitFrames(std::string_view bytes, uint32_t frameMax = 131072)
{
    std::vector<Frame> frames;
    if (checkProtocolHeader(bytes) == HeaderStatus::Valid)
        bytes.remove_prefix(8);
    while (!bytes.empty()) {
        Parsed p = parse(bytes, frameMax);
        if (p.status != FrameStatus::Ok) {
            QTest::qFail(("frame does not parse: " + p.error.text).c_str(), __FILE__, __LINE__);
            return {};
        }
        frames.push_back(p.frame);
        bytes.remove_prefix(p.frame.size);
    }
    return frames;
}

// The decoded views borrow `storage`, a copy of the payload that lives as long as any copy of the result.
struct Decoded {
    std::shared_ptr<const std::string> storage;
    bool ok = false;
    Method method;
    Error error;
};

Decoded decode(std::string_view payload)
{
    Decoded d;
    d.storage = std::make_shared<const std::string>(payload);
    d.ok = decodeMethod(*d.storage, d.method, d.error);
    return d;
}

template <class M> const M &as(const Decoded &d)
{
    static const M empty{};
    const M *m = std::get_if<M>(&d.method);
    return m ? *m : empty;
}

struct DecodedHeader {
    std::shared_ptr<const std::string> storage;
    bool ok = false;
    ContentHeader header;
    Error error;
};

DecodedHeader decodeHeader(std::string_view payload)
{
    DecodedHeader d;
    d.storage = std::make_shared<const std::string>(payload);
    d.ok = decodeContentHeader(*d.storage, d.header, d.error);
    return d;
}

std::string encodeFrame(uint16_t channel, const Method &m)
{
    std::string out;
    if (!appendMethodFrame(out, channel, m))
        return "<unencodable>";
    return out;
}

std::string str(std::optional<std::string_view> v) { return v ? std::string(*v) : std::string("<none>"); }

// Gives every argument of a method a distinct value (field names as string values, a small table everywhere).
struct Filler {
    explicit Filler(bool allBits) : allBits_(allBits) {}
    void octet(const char *, uint8_t &v) { v = static_cast<uint8_t>(0x40 + ++n_); }
    void u16(const char *, uint16_t &v) { v = static_cast<uint16_t>(0x4100 + ++n_); }
    void u32(const char *, uint32_t &v) { v = 0x42000000u + static_cast<uint32_t>(++n_); }
    void u64(const char *, uint64_t &v) { v = 0x4300000000000000ull + static_cast<uint64_t>(++n_); }
    void bit(const char *, bool &v) { v = allBits_ || (++n_ % 2) == 1; }
    void shortString(const char *name, std::string_view &v) { v = name; }
    void longString(const char *name, std::string_view &v) { v = name; }
    void table(const char *, TableView &v) { v = TableView(tableBytes()); }

    static const std::string &tableBytes()
    {
        static const std::string bytes =
            FieldTable().add("k", "v").add("n", FieldValue::int32(-1)).add("t", true).encodeEntries();
        return bytes;
    }

private:
    bool allBits_;
    int n_ = 0;
};

// Round trip of one method type with every argument set; fails the current test on a mismatch.
template <class M> void checkMethodRoundTrip(bool allBits)
{
    M original{};
    Filler filler(allBits);
    M::fields(original, filler);

    std::string frame;
    QVERIFY(appendMethodFrame(frame, 7, original));
    const Parsed p = parse(frame);
    QCOMPARE(statusName(p.status), "Ok");
    QCOMPARE(p.frame.type, frame_type::kMethod);
    QCOMPARE(p.frame.channel, uint16_t{7});
    QCOMPARE(p.frame.size, frame.size());
    QCOMPARE(qb(p.frame.payload.substr(0, 4)), qb(be16(M::kClassId) + be16(M::kMethodId)));
    QCOMPARE(p.frame.payload.size(), methodPayloadSize(original));

    const Decoded d = decode(p.frame.payload);
    QVERIFY2(d.ok, d.error.text.c_str());
    QVERIFY(std::holds_alternative<M>(d.method));
    QCOMPARE(QString::fromStdString(describeMethod(d.method)), QString::fromStdString(describeMethod(original)));
    QCOMPARE(qb(encodeFrame(7, d.method)), qb(frame));

    const MethodInfo &info = methodInfo(d.method);
    QCOMPARE(info.classId, M::kClassId);
    QCOMPARE(info.methodId, M::kMethodId);
    QCOMPARE(QByteArray(info.name), QByteArray(M::kName));
    QCOMPARE(methodInfo(M::kClassId, M::kMethodId), &info);

    // Every shorter argument list is refused, and so is one octet more.
    const std::string payload(p.frame.payload);
    for (size_t len = 4; len < payload.size(); ++len) {
        const Decoded t = decode(std::string_view(payload).substr(0, len));
        QVERIFY2(!t.ok, (std::string(M::kName) + " truncated to " + std::to_string(len) + " decoded").c_str());
        QCOMPARE(t.error.code, reply::kSyntaxError);
        QCOMPARE(t.error.classId, M::kClassId);
        QCOMPARE(t.error.methodId, M::kMethodId);
        QVERIFY(t.error.text.rfind("SYNTAX_ERROR - cannot decode " + std::string(M::kName), 0) == 0);
    }
    const Decoded extra = decode(payload + "x");
    QVERIFY(!extra.ok);
    QCOMPARE(extra.error.code, reply::kSyntaxError);
}

template <size_t... I> void checkAllMethods(bool allBits, std::index_sequence<I...>)
{
    bool failed = false;
    ((failed = failed || QTest::currentTestFailed(),
      failed ? void() : checkMethodRoundTrip<std::variant_alternative_t<I, Method>>(allBits)),
     ...);
}

// A depth-level table (the outermost counts as 1): {k: {k: ... {}}}.
std::string nestedTable(int depth)
{
    std::string t = ls("");
    for (int i = 1; i < depth; ++i)
        t = ls(entry("k", 'F', t));
    return t;
}

std::string queueDeclareWithArgs(const std::string &table)
{
    return methodPayload(50, 10, be16(0) + ss("q") + oct(0) + table);
}

} // namespace

class TstAmqpCodec : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // --- protocol header and frames
    void protocolHeader();
    void heartbeatFrame();
    void framesBackToBack();
    void partialFramesNeedMore();
    void badFrameEnd();
    void frameMaxLimit();
    void unknownFrameType();
    void heartbeatErrors();
    void errorTextShowsAtMost16Octets();
    void appendFrames();
    // --- methods
    void everyMethodRoundTrip();
    void everyMethodRoundTripAllBitsSet();
    void methodTable();
    void queueDeclareExactBytes();
    void basicPublishBits();
    void basicNackAndDeliverBits();
    void connectionTuneExactBytes();
    void unusedBitsIgnored();
    void nineBitsUseTwoOctets();
    void methodDecodeErrors();
    void tooLongShortStringIsNotEncoded();
    void replyTexts();
    // --- field tables
    void everyFieldTypeDecodes();
    void ownedTableEncodesExactBytes();
    void integerGetters();
    void nestedTablesAndArrays();
    void xDeathBuild();
    void duplicateKeys();
    void tableDepthLimit();
    void tableErrors_data();
    void tableErrors();
    void ownedRoundTripKeepsOddValues();
    void tableKeyTooLong();
    void uncheckedViewStopsOnGarbage();
    // --- content
    void contentHeaderAllProperties();
    void contentHeaderNoProperties();
    void contentHeaderContinuationFlags();
    void contentHeaderErrors_data();
    void contentHeaderErrors();
    void bodySplitting_data();
    void bodySplitting();
    void appendDeliveryRawAndStruct();
    void appendDeliveryRefusals();
    // --- real frames
    void realHandshakePika();
    void realConnectionStartRabbitMq();
    void realQueueDeclarePika();
    void realPublishAllPropertiesPika();
    void realTypedHeadersAmqplib();
    void realSplitPublishAmqplib();
    void realDeliveryReencodesLikeRabbitMq();
    void realServerNotifications();
    void realLibrabbitmqPublish();
    void realCorpusReencodesExactly();
};

// --------------------------------------------------------------------------------------------------------------
// Protocol header and frames

void TstAmqpCodec::protocolHeader()
{
    const std::string good = hex("41 4d 51 50 00 00 09 01");
    QCOMPARE(qb(kProtocolHeader), qb(good));
    QCOMPARE(headerStatusName(checkProtocolHeader(good)), "Valid");
    QCOMPARE(headerStatusName(checkProtocolHeader(good + "trailing frames")), "Valid");
    for (size_t n = 0; n < 8; ++n)
        QCOMPARE(headerStatusName(checkProtocolHeader(good.substr(0, n))), "NeedMore");
    QCOMPARE(headerStatusName(checkProtocolHeader(hex("41 4d 51 50 00 00 09 02"))), "Invalid"); // 0-9-2
    QCOMPARE(headerStatusName(checkProtocolHeader(hex("41 4d 51 50 00 01 00 00"))), "Invalid"); // AMQP 1.0
    QCOMPARE(headerStatusName(checkProtocolHeader(hex("41 4d 51 50 01 01 00 09"))), "Invalid"); // 0-9 style
    QCOMPARE(headerStatusName(checkProtocolHeader("GET / HTTP/1.1\r\n")), "Invalid");
    QCOMPARE(headerStatusName(checkProtocolHeader("G")), "Invalid");  // refused at the first differing octet
    QCOMPARE(headerStatusName(checkProtocolHeader("AMQX")), "Invalid");
    const uint8_t raw[8] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};
    QCOMPARE(headerStatusName(checkProtocolHeader(raw, 8)), "Valid");
}

void TstAmqpCodec::heartbeatFrame()
{
    const std::string hb = hex("08 0000 00000000 ce");
    const Parsed p = parse(hb + "more");
    QCOMPARE(statusName(p.status), "Ok");
    QCOMPARE(p.frame.type, frame_type::kHeartbeat);
    QCOMPARE(p.frame.channel, uint16_t{0});
    QVERIFY(p.frame.payload.empty());
    QCOMPARE(p.frame.size, size_t{8});
    std::string out = "x";
    appendHeartbeatFrame(out);
    QCOMPARE(qb(out), qb("x" + hb));
}

void TstAmqpCodec::framesBackToBack()
{
    const std::string a = frameOf(1, 1, methodPayload(60, 80, be64(7) + oct(1)));
    const std::string b = frameOf(3, 65535, "body bytes");
    const std::string c = frameOf(2, 2, hex("003c 0000 0000000000000000 0000"));
    const std::string all = a + b + c;
    std::string_view rest(all);
    Parsed p = parse(rest);
    QCOMPARE(statusName(p.status), "Ok");
    QCOMPARE(p.frame.size, a.size());
    QCOMPARE(qb(p.frame.payload), qb(methodPayload(60, 80, be64(7) + oct(1))));
    QVERIFY(p.frame.payload.data() == all.data() + 7); // a view into the input, not a copy
    rest.remove_prefix(p.frame.size);
    p = parse(rest);
    QCOMPARE(statusName(p.status), "Ok");
    QCOMPARE(p.frame.type, frame_type::kBody);
    QCOMPARE(p.frame.channel, uint16_t{65535});
    QCOMPARE(qb(p.frame.payload), QByteArray("body bytes"));
    rest.remove_prefix(p.frame.size);
    p = parse(rest);
    QCOMPARE(statusName(p.status), "Ok");
    QCOMPARE(p.frame.type, frame_type::kHeader);
    QCOMPARE(p.frame.size, rest.size());
}

void TstAmqpCodec::partialFramesNeedMore()
{
    const std::string f = frameOf(1, 3, methodPayload(20, 10, ss("")));
    for (size_t n = 0; n < f.size(); ++n) {
        const Parsed p = parse(std::string_view(f).substr(0, n));
        QCOMPARE(statusName(p.status), "NeedMore");
        QCOMPARE(p.frame.size, n < 7 ? size_t{0} : f.size());
    }
    QCOMPARE(statusName(parse(f).status), "Ok");
    // With no frame-max, a 4 GiB frame just needs more bytes.
    const Parsed big = parse(hex("03 0001 ffffffff") + "abc", 0);
    QCOMPARE(statusName(big.status), "NeedMore");
    QCOMPARE(big.frame.size, size_t{0xFFFFFFFFu} + 8);
}

void TstAmqpCodec::badFrameEnd()
{
    // The bytes of RabbitMQ's own answer (probed): queue.declare with the end octet 0.
    std::string f = frameOf(1, 1, hex("0032 000a 0000 0171 00 00000000"));
    f.back() = 0;
    const Parsed p = parse(f);
    QCOMPARE(statusName(p.status), "Error");
    QCOMPARE(p.error.code, reply::kFrameError);
    QCOMPARE(QString::fromStdString(p.error.text),
             QString("FRAME_ERROR - type 1, all octets = <<0,50,0,10,0,0,1,113,0,0,0,0,0>>: "
                     "{invalid_frame_end_marker,0}"));
    f.back() = static_cast<char>(0xCD);
    QVERIFY(parse(f).error.text.find("{invalid_frame_end_marker,205}") != std::string::npos);
    // Until the end octet is there it is only NeedMore.
    QCOMPARE(statusName(parse(std::string_view(f).substr(0, f.size() - 1)).status), "NeedMore");
}

void TstAmqpCodec::frameMaxLimit()
{
    // RabbitMQ's text for a 131104-octet payload under frame-max 131072, refused from the header alone.
    const Parsed p = parse(hex("01 0001 00020020"));
    QCOMPARE(statusName(p.status), "Error");
    QCOMPARE(p.error.code, reply::kFrameError);
    QCOMPARE(QString::fromStdString(p.error.text),
             QString("FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,131104,131064}"));

    const uint32_t fm = 4096;
    const std::string atLimit = frameOf(3, 1, std::string(fm - 8, 'a'));
    QCOMPARE(statusName(parse(atLimit, fm).status), "Ok");
    // One octet over frame-max - 8 is accepted as RabbitMQ does (kFrameMaxTolerance)...
    const std::string tolerated = frameOf(3, 1, std::string(fm - 7, 'a'));
    QCOMPARE(statusName(parse(tolerated, fm).status), "Ok");
    // ... two are not.
    const Parsed over = parse(frameOf(3, 1, std::string(fm - 6, 'a')), fm);
    QCOMPARE(statusName(over.status), "Error");
    QCOMPARE(QString::fromStdString(over.error.text),
             QString("FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,4090,4088}"));
    // frame-max 0 means no limit.
    QCOMPARE(statusName(parse(frameOf(3, 1, std::string(200000, 'a')), 0).status), "Ok");
    QCOMPARE(statusName(parse(frameOf(3, 1, std::string(200000, 'a')), 131072).status), "Error");
}

void TstAmqpCodec::unknownFrameType()
{
    Parsed p = parse(frameOf(5, 1, "abc"));
    QCOMPARE(statusName(p.status), "Error");
    QCOMPARE(p.error.code, reply::kFrameError);
    QCOMPARE(QString::fromStdString(p.error.text), QString("FRAME_ERROR - type 5, all octets = <<\"abc\">>: unknown_frame"));
    p = parse(frameOf(4, 0, ""));
    QCOMPARE(QString::fromStdString(p.error.text), QString("FRAME_ERROR - type 4, all octets = <<>>: unknown_frame"));
    // Refused from the header, without waiting for the payload.
    p = parse(hex("00 0000 00001000"));
    QCOMPARE(statusName(p.status), "Error");
    QCOMPARE(p.error.code, reply::kFrameError);
}

void TstAmqpCodec::heartbeatErrors()
{
    Parsed p = parse(frameOf(8, 0, "xy"));
    QCOMPARE(statusName(p.status), "Error");
    QCOMPARE(p.error.code, reply::kFrameError);
    QCOMPARE(QString::fromStdString(p.error.text), QString("FRAME_ERROR - type 8, all octets = <<\"xy\">>: unknown_frame"));
    p = parse(frameOf(8, 1, "")); // well-formed; the session answers 505 UNEXPECTED_FRAME
    QCOMPARE(statusName(p.status), "Ok");
    QCOMPARE(p.frame.channel, uint16_t(1));
}

void TstAmqpCodec::errorTextShowsAtMost16Octets()
{
    const Parsed p = parse(frameOf(9, 0, std::string(40, '\x01')));
    QCOMPARE(QString::fromStdString(p.error.text),
             QString("FRAME_ERROR - type 9, all octets = <<1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,...>>: unknown_frame"));
    const Parsed q = parse(frameOf(9, 0, std::string(20, 'a')));
    QCOMPARE(QString::fromStdString(q.error.text),
             QString("FRAME_ERROR - type 9, all octets = <<\"aaaaaaaaaaaaaaaa\",...>>: unknown_frame"));
    const Parsed r = parse(frameOf(9, 0, "a\"b\\"));
    QCOMPARE(QString::fromStdString(r.error.text),
             QString("FRAME_ERROR - type 9, all octets = <<\"a\\\"b\\\\\">>: unknown_frame"));
}

void TstAmqpCodec::appendFrames()
{
    std::string out;
    appendFrame(out, frame_type::kBody, 0x0102, "xyz");
    QCOMPARE(qb(out), qb(hex("03 0102 00000003 78797a ce")));
    appendFrame(out, frame_type::kBody, 1, "");
    QCOMPARE(qb(out.substr(11)), qb(hex("03 0001 00000000 ce")));
}

// --------------------------------------------------------------------------------------------------------------
// Methods

void TstAmqpCodec::everyMethodRoundTrip()
{
    checkAllMethods(false, std::make_index_sequence<std::variant_size_v<Method>>{});
}

void TstAmqpCodec::everyMethodRoundTripAllBitsSet()
{
    checkAllMethods(true, std::make_index_sequence<std::variant_size_v<Method>>{});
}

void TstAmqpCodec::methodTable()
{
    // RabbitMQ's 0-9-1: 14 connection, 6 channel, 2 access, 8 exchange, 10 queue, 18 basic, 2 confirm, 6 tx.
    QCOMPARE(std::variant_size_v<Method>, size_t{66});
    QCOMPARE(kMethodCount, size_t{66});
    const struct {
        uint16_t c, m;
        const char *name;
        bool content, sync, server, client;
    } expected[] = {
        {10, 10, "connection.start", false, true, false, true},
        {10, 11, "connection.start-ok", false, false, true, false},
        {10, 20, "connection.secure", false, true, false, true},
        {10, 21, "connection.secure-ok", false, false, true, false},
        {10, 50, "connection.close", false, true, true, true},
        {10, 60, "connection.blocked", false, false, false, true},
        {10, 61, "connection.unblocked", false, false, false, true},
        {10, 70, "connection.update-secret", false, true, true, false},
        {10, 71, "connection.update-secret-ok", false, false, false, true},
        {20, 20, "channel.flow", false, true, true, true},
        {30, 10, "access.request", false, true, true, false},
        {40, 30, "exchange.bind", false, true, true, false},
        {40, 40, "exchange.unbind", false, true, true, false},
        {40, 51, "exchange.unbind-ok", false, false, false, true},
        {50, 11, "queue.declare-ok", false, false, false, true},
        {50, 50, "queue.unbind", false, true, true, false},
        {60, 30, "basic.cancel", false, true, true, true},
        {60, 40, "basic.publish", true, false, true, false},
        {60, 50, "basic.return", true, false, false, true},
        {60, 60, "basic.deliver", true, false, false, true},
        {60, 71, "basic.get-ok", true, false, false, true},
        {60, 80, "basic.ack", false, false, true, true},
        {60, 100, "basic.recover-async", false, false, true, false},
        {60, 110, "basic.recover", false, true, true, false},
        {60, 120, "basic.nack", false, false, true, true},
        {85, 10, "confirm.select", false, true, true, false},
        {90, 31, "tx.rollback-ok", false, false, false, true},
    };
    for (const auto &e : expected) {
        const MethodInfo *info = methodInfo(e.c, e.m);
        QVERIFY2(info, e.name);
        QCOMPARE(QByteArray(info->name), QByteArray(e.name));
        QCOMPARE(info->hasContent, e.content);
        QCOMPARE(info->synchronous, e.sync);
        QCOMPARE(info->acceptedByServer, e.server);
        QCOMPARE(info->acceptedByClient, e.client);
    }
    QVERIFY(!methodInfo(40, 50)); // exchange.unbind-ok is 51, there is no 50
    QVERIFY(!methodInfo(99, 10));
    QVERIFY(!methodInfo(60, 0));
    QCOMPARE(QByteArray(QueueDeclare::kName), QByteArray("queue.declare"));
    QCOMPARE(QueueDeclare::kClassId, class_id::kQueue);
    QCOMPARE(ConfirmSelect::kClassId, class_id::kConfirm);
    QCOMPARE(TxSelect::kClassId, class_id::kTx);
}

void TstAmqpCodec::queueDeclareExactBytes()
{
    const std::string table = FieldTable().add("x-message-ttl", FieldValue::int32(60000)).encodeEntries();
    QueueDeclare m;
    m.queue = "q1";
    m.passive = true;
    m.durable = false;
    m.exclusive = true;
    m.autoDelete = false;
    m.noWait = true;
    m.arguments = TableView(table);
    std::string out;
    QVERIFY(appendMethodFrame(out, 1, m));
    // passive (bit 0), exclusive (bit 2), nowait (bit 4): 0x15.
    QCOMPARE(qb(out), qb(hex("01 0001 00000021  0032 000a  0000  02 7131  15"
                             "00000013 0d 782d6d6573736167652d74746c 49 0000ea60  ce")));

    const Decoded d = decode(parse(out).frame.payload);
    QVERIFY(d.ok);
    const QueueDeclare &q = as<QueueDeclare>(d);
    QCOMPARE(qb(q.queue), QByteArray("q1"));
    QVERIFY(q.passive && !q.durable && q.exclusive && !q.autoDelete && q.noWait);
    QCOMPARE(q.arguments.find("x-message-ttl")->asInt64(), std::optional<int64_t>(60000));

    // Each bit alone lands in its own position.
    const char *names[] = {"passive", "durable", "exclusive", "auto-delete", "nowait"};
    for (int bit = 0; bit < 5; ++bit) {
        QueueDeclare one;
        bool *fields[] = {&one.passive, &one.durable, &one.exclusive, &one.autoDelete, &one.noWait};
        *fields[bit] = true;
        std::string payload;
        QVERIFY(appendMethodPayload(payload, one));
        QCOMPARE(qb(payload), qb(hex("0032 000a 0000 00") + oct(static_cast<uint8_t>(1u << bit)) + be32(0)));
        const Decoded back = decode(payload);
        QVERIFY2(describeMethod(back.method).find(std::string(names[bit]) + "=true") != std::string::npos, names[bit]);
    }
}

void TstAmqpCodec::basicPublishBits()
{
    BasicPublish p;
    p.exchange = "ex";
    p.routingKey = "rk";
    p.mandatory = true;
    std::string payload;
    QVERIFY(appendMethodPayload(payload, p));
    QCOMPARE(qb(payload), qb(hex("003c 0028 0000 02 6578 02 726b 01")));
    p.mandatory = false;
    p.immediate = true;
    payload.clear();
    QVERIFY(appendMethodPayload(payload, p));
    QCOMPARE(qb(payload), qb(hex("003c 0028 0000 02 6578 02 726b 02")));

    const Decoded d = decode(hex("003c 0028 0000 02 6578 02 726b 03"));
    QVERIFY(d.ok);
    QVERIFY(as<BasicPublish>(d).mandatory);
    QVERIFY(as<BasicPublish>(d).immediate);
    QCOMPARE(qb(as<BasicPublish>(d).exchange), QByteArray("ex"));
    QCOMPARE(qb(as<BasicPublish>(d).routingKey), QByteArray("rk"));
}

void TstAmqpCodec::basicNackAndDeliverBits()
{
    BasicNack n;
    n.deliveryTag = 5;
    n.multiple = true;
    n.requeue = true;
    std::string payload;
    QVERIFY(appendMethodPayload(payload, n));
    QCOMPARE(qb(payload), qb(hex("003c 0078 0000000000000005 03")));
    QVERIFY(BasicNack().requeue); // the definition's default
    QVERIFY(BasicReject().requeue);

    const Decoded d = decode(hex("003c 0078 0000000000000009 02"));
    QVERIFY(d.ok);
    QCOMPARE(as<BasicNack>(d).deliveryTag, uint64_t{9});
    QVERIFY(!as<BasicNack>(d).multiple);
    QVERIFY(as<BasicNack>(d).requeue);

    // basic.deliver: a lone bit between a longlong and a shortstr.
    BasicDeliver dl;
    dl.consumerTag = "ct";
    dl.deliveryTag = 1;
    dl.redelivered = true;
    dl.routingKey = "q";
    payload.clear();
    QVERIFY(appendMethodPayload(payload, dl));
    QCOMPARE(qb(payload), qb(hex("003c 003c 02 6374 0000000000000001 01 00 01 71")));
}

void TstAmqpCodec::connectionTuneExactBytes()
{
    ConnectionTune t;
    t.channelMax = 2047;
    t.frameMax = 131072;
    t.heartbeat = 60;
    std::string out;
    QVERIFY(appendMethodFrame(out, 0, t));
    QCOMPARE(qb(out), qb(hex("01 0000 0000000c 000a 001e 07ff 00020000 003c ce")));
    ConnectionStart s; // the definition's defaults: 0-9, PLAIN, en_US
    QCOMPARE(s.versionMajor, uint8_t{0});
    QCOMPARE(s.versionMinor, uint8_t{9});
    QCOMPARE(qb(s.mechanisms), QByteArray("PLAIN"));
    QCOMPARE(qb(s.locales), QByteArray("en_US"));
    QCOMPARE(qb(ExchangeDeclare().type), QByteArray("direct"));
}

void TstAmqpCodec::unusedBitsIgnored()
{
    // RabbitMQ ignores the unused high bits of a bit octet; so do we (and write them as 0).
    const Decoded d = decode(queueDeclareWithArgs(be32(0)).replace(8, 1, oct(0xE2)));
    QVERIFY2(d.ok, d.error.text.c_str());
    const QueueDeclare &q = as<QueueDeclare>(d);
    QVERIFY(!q.passive && q.durable && !q.exclusive && !q.autoDelete && !q.noWait);
    std::string payload;
    QVERIFY(appendMethodPayload(payload, d.method));
    QCOMPARE(static_cast<uint8_t>(payload[8]), uint8_t{0x02});
}

void TstAmqpCodec::nineBitsUseTwoOctets()
{
    // No method has more than 5 bits in a row; the packing rule (a ninth bit opens a new octet) is checked on the
    // argument writer and reader directly.
    std::string out;
    detail::ArgumentWriter w(out);
    const bool bits[9] = {true, false, false, false, false, false, false, true, true};
    for (bool b : bits)
        w.bit("b", b);
    w.octet("o", 0x55);
    w.bit("c", true);
    QCOMPARE(qb(out), qb(hex("81 01 55 01")));
    detail::ArgumentSizer sizer;
    for (bool b : bits)
        sizer.bit("b", b);
    sizer.octet("o", 0);
    sizer.bit("c", true);
    QCOMPARE(sizer.size(), size_t{4});
    detail::ArgumentReader r(out);
    bool got[9] = {};
    for (bool &b : got)
        r.bit("b", b);
    uint8_t o = 0;
    r.octet("o", o);
    bool c = false;
    r.bit("c", c);
    QVERIFY(r.ok());
    QCOMPARE(r.left(), size_t{0});
    for (int i = 0; i < 9; ++i)
        QCOMPARE(got[i], bits[i]);
    QCOMPARE(o, uint8_t{0x55});
    QVERIFY(c);
}

void TstAmqpCodec::methodDecodeErrors()
{
    Decoded d = decode(hex("0032"));
    QVERIFY(!d.ok);
    QCOMPARE(d.error.code, reply::kFrameError);
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("FRAME_ERROR - method frame payload of 2 octets has no class and method id"));
    QCOMPARE(decode("").error.code, reply::kFrameError);

    d = decode(methodPayload(99, 10));
    QCOMPARE(d.error.code, reply::kNotImplemented);
    QCOMPARE(QString::fromStdString(d.error.text), QString("NOT_IMPLEMENTED - unknown method 99/10"));
    QCOMPARE(d.error.classId, uint16_t{99});
    QCOMPARE(d.error.methodId, uint16_t{10});
    d = decode(methodPayload(50, 99));
    QCOMPARE(d.error.code, reply::kNotImplemented);
    QCOMPARE(QString::fromStdString(d.error.text), QString("NOT_IMPLEMENTED - unknown method 50/99"));

    // The truncated queue.declare RabbitMQ was probed with.
    d = decode(hex("0032 000a 0000 04 7171"));
    QCOMPARE(d.error.code, reply::kSyntaxError);
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("SYNTAX_ERROR - cannot decode queue.declare: field 'queue': shortstr of 4 octets runs past the "
                     "end of the frame"));
    QCOMPARE(d.error.classId, uint16_t{50});
    QCOMPARE(d.error.methodId, uint16_t{10});
    d = decode(hex("0032 000a 00"));
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("SYNTAX_ERROR - cannot decode queue.declare: field 'ticket': truncated"));
    d = decode(hex("0032 000a 0000 02 7071 00 00000000 6a756e6b"));
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("SYNTAX_ERROR - cannot decode queue.declare: 4 unexpected octets after the arguments"));
    d = decode(queueDeclareWithArgs(ls(entry("k", 'Z', oct(1)))));
    QCOMPARE(d.error.code, reply::kSyntaxError);
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("SYNTAX_ERROR - cannot decode queue.declare: field 'arguments': unknown field type 'Z' (0x5a) "
                     "for key 'k'"));
    d = decode(queueDeclareWithArgs(be32(1000) + hex("01 6b 74 01")));
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("SYNTAX_ERROR - cannot decode queue.declare: field 'arguments': field table length 1000 exceeds "
                     "the 4 octets left"));
    d = decode(methodPayload(10, 11, be32(0) + ss("PLAIN") + be32(100) + "short"));
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("SYNTAX_ERROR - cannot decode connection.start-ok: field 'response': longstr of 100 octets runs "
                     "past the end of the frame"));
    // A method with no arguments and octets after the ids.
    d = decode(methodPayload(90, 10, "x"));
    QCOMPARE(d.error.code, reply::kSyntaxError);
    QCOMPARE(d.error.classId, uint16_t{90});
}

void TstAmqpCodec::tooLongShortStringIsNotEncoded()
{
    const std::string name(256, 'q');
    QueueDeclare m;
    m.queue = name;
    std::string out = "keep";
    QVERIFY(!appendMethodFrame(out, 1, m));
    QCOMPARE(qb(out), QByteArray("keep"));
    QCOMPARE(methodPayloadSize(m), size_t{0});
    m.queue = std::string_view(name).substr(0, 255);
    QVERIFY(appendMethodFrame(out, 1, m));
    QCOMPARE(out.size(), size_t{4 + 8 + 4 + 2 + 256 + 1 + 4});

    ChannelClose c;
    const std::string text = "NOT_FOUND - no queue '" + name + "' in vhost '/'";
    c.replyText = text;
    QVERIFY(!appendMethodPayload(out, c));
    c.replyText = truncateShortString(text);
    QVERIFY(appendMethodPayload(out, c));
}

void TstAmqpCodec::replyTexts()
{
    QCOMPARE(QByteArray(replyCodeName(reply::kNotFound)), QByteArray("NOT_FOUND"));
    QCOMPARE(QByteArray(replyCodeName(reply::kPreconditionFailed)), QByteArray("PRECONDITION_FAILED"));
    QCOMPARE(QByteArray(replyCodeName(reply::kFrameError)), QByteArray("FRAME_ERROR"));
    QCOMPARE(QByteArray(replyCodeName(reply::kNotImplemented)), QByteArray("NOT_IMPLEMENTED"));
    QCOMPARE(QByteArray(replyCodeName(reply::kInternalError)), QByteArray("INTERNAL_ERROR"));
    QCOMPARE(QByteArray(replyCodeName(reply::kSuccess)), QByteArray("REPLY_SUCCESS"));
    QVERIFY(!replyCodeName(999));
    const uint16_t all[] = {200, 311, 312, 313, 320, 402, 403, 404, 405, 406, 501, 502, 503, 504, 505, 506, 530, 540, 541};
    for (const uint16_t code : all)
        QVERIFY(replyCodeName(code));
    QVERIFY(isHardError(reply::kConnectionForced));
    QVERIFY(isHardError(reply::kInvalidPath));
    QVERIFY(isHardError(reply::kChannelError));
    QVERIFY(!isHardError(reply::kNotFound));
    QVERIFY(!isHardError(reply::kSuccess));

    QCOMPARE(QString::fromStdString(replyText(reply::kNotFound, "no queue 'q' in vhost '/'")),
             QString("NOT_FOUND - no queue 'q' in vhost '/'"));
    QCOMPARE(QString::fromStdString(replyText(reply::kNoRoute, "")), QString("NO_ROUTE"));
    const std::string longText = replyText(reply::kNotFound, std::string(300, 'x'));
    QCOMPARE(longText.size(), size_t{255});
    // A cut never splits a UTF-8 character: 'é' is 2 octets.
    std::string accents;
    for (int i = 0; i < 200; ++i)
        accents += "\xc3\xa9";
    const std::string_view cut = truncateShortString(accents);
    QCOMPARE(cut.size(), size_t{254});
    QCOMPARE(truncateShortString("short"), std::string_view("short"));
    const Error e = makeError(reply::kSyntaxError, "detail", 60, 40);
    QCOMPARE(QString::fromStdString(e.text), QString("SYNTAX_ERROR - detail"));
    QCOMPARE(e.classId, uint16_t{60});
    QCOMPARE(e.methodId, uint16_t{40});
}

// --------------------------------------------------------------------------------------------------------------
// Field tables

void TstAmqpCodec::everyFieldTypeDecodes()
{
    const std::string entries = entry("t", 't', oct(1)) + entry("b", 'b', oct(0x80)) + entry("B", 'B', oct(0xFF)) +
                                entry("s", 's', be16(0x8000)) + entry("u", 'u', be16(0xFFFF)) +
                                entry("I", 'I', be32(0x80000000u)) + entry("i", 'i', be32(0xFFFFFFFFu)) +
                                entry("l", 'l', be64(0x8000000000000000ull)) + entry("f", 'f', be32(0x3FC00000u)) +
                                entry("d", 'd', be64(0xBFB999999999999Aull)) + entry("D", 'D', oct(2) + be32(314)) +
                                entry("S", 'S', ls("h\xc3\xa9llo")) + entry("x", 'x', ls(std::string("\0\1\xff", 3))) +
                                entry("A", 'A', ls(std::string("I") + be32(7) + "S" + ls("two") + "V")) +
                                entry("T", 'T', be64(1700000000)) + entry("F", 'F', ls(entry("in", 't', oct(0)))) +
                                entry("V", 'V', "");
    TableView t;
    size_t used = 0;
    Error error;
    const std::string wire = ls(entries);
    QVERIFY2(decodeTable(wire, t, used, error), error.text.c_str());
    QCOMPARE(used, wire.size());
    QCOMPARE(t.size(), size_t{17});
    QCOMPARE(t.encodedSize(), wire.size());

    QCOMPARE(t.find("t")->type(), FieldType::Bool);
    QCOMPARE(t.find("t")->asBool(), std::optional<bool>(true));
    QCOMPARE(t.find("b")->asInt64(), std::optional<int64_t>(-128));
    QCOMPARE(t.find("B")->asInt64(), std::optional<int64_t>(255));
    QCOMPARE(t.find("s")->asInt64(), std::optional<int64_t>(-32768));
    QCOMPARE(t.find("u")->asInt64(), std::optional<int64_t>(65535));
    QCOMPARE(t.find("I")->asInt64(), std::optional<int64_t>(std::numeric_limits<int32_t>::min()));
    QCOMPARE(t.find("i")->asInt64(), std::optional<int64_t>(4294967295LL));
    QCOMPARE(t.find("l")->asInt64(), std::optional<int64_t>(std::numeric_limits<int64_t>::min()));
    QCOMPARE(t.find("f")->type(), FieldType::Float);
    QCOMPARE(t.find("f")->asDouble(), std::optional<double>(1.5));
    QCOMPARE(t.find("d")->asDouble(), std::optional<double>(-0.1));
    QCOMPARE(t.find("D")->asDecimal()->scale, uint8_t{2});
    QCOMPARE(t.find("D")->asDecimal()->value, int32_t{314});
    QCOMPARE(str(t.find("S")->asString()), std::string("h\xc3\xa9llo"));
    QCOMPARE(t.find("x")->type(), FieldType::ByteArray);
    QCOMPARE(str(t.find("x")->asString()), std::string("\0\1\xff", 3));
    const ArrayView a = *t.find("A")->asArray();
    QCOMPARE(a.size(), size_t{3});
    auto it = a.begin();
    QCOMPARE(it->asInt64(), std::optional<int64_t>(7));
    ++it;
    QCOMPARE(str(it->asString()), std::string("two"));
    ++it;
    QVERIFY(it->isVoid());
    ++it;
    QVERIFY(it == a.end());
    QCOMPARE(t.find("T")->asTimestamp(), std::optional<uint64_t>(1700000000));
    QCOMPARE(t.find("F")->asTable()->find("in")->asBool(), std::optional<bool>(false));
    QVERIFY(t.find("V")->isVoid());
    QVERIFY(!t.find("missing"));
    QVERIFY(t.contains("V"));

    std::string keys;
    for (const TableEntryView &e : t)
        keys += std::string(e.key) + static_cast<char>(e.value.type());
    QCOMPARE(qb(keys), QByteArray("tt bb BB ss uu II ii ll ff dd DD SS xx AA TT FF VV").replace(" ", ""));

    QCOMPARE(QString::fromStdString(describeTable(t)),
             QString("{t: true, b: -128, B: 255, s: -32768, u: 65535, I: -2147483648, i: 4294967295, "
                     "l: -9223372036854775808, f: 1.5f, d: -0.10000000000000001, D: decimal(2, 314), "
                     "S: \"h\\xc3\\xa9llo\", x: x\"\\x00\\x01\\xff\", A: [7, \"two\", void], T: timestamp(1700000000), "
                     "F: {in: false}, V: void}"));

    std::string back;
    appendTable(back, t);
    QCOMPARE(qb(back), qb(wire));
    QCOMPARE(qb(FieldTable::fromView(t).encodeEntries()), qb(entries));
}

void TstAmqpCodec::ownedTableEncodesExactBytes()
{
    FieldTable t;
    t.add("t", true)
        .add("b", FieldValue::int8(-128))
        .add("B", FieldValue::uint8(255))
        .add("s", FieldValue::int16(-32768))
        .add("u", FieldValue::uint16(65535))
        .add("I", FieldValue::int32(std::numeric_limits<int32_t>::min()))
        .add("i", FieldValue::uint32(4294967295u))
        .add("l", FieldValue::int64(std::numeric_limits<int64_t>::max()))
        .add("f", FieldValue::float32(1.5f))
        .add("d", FieldValue::float64(-0.0))
        .add("D", FieldValue::decimal(255, -1))
        .add("S", "text")
        .add("x", FieldValue::bytes(std::string("\0z", 2)))
        .add("A", FieldArray{FieldValue::int8(1), FieldValue("a"), FieldArray{}})
        .add("T", FieldValue::timestamp(std::numeric_limits<uint64_t>::max()))
        .add("F", FieldTable().add("k", FieldValue()))
        .add("V", FieldValue::voidValue());
    const std::string expected =
        entry("t", 't', oct(1)) + entry("b", 'b', oct(0x80)) + entry("B", 'B', oct(0xFF)) +
        entry("s", 's', be16(0x8000)) + entry("u", 'u', be16(0xFFFF)) + entry("I", 'I', be32(0x80000000u)) +
        entry("i", 'i', be32(0xFFFFFFFFu)) + entry("l", 'l', be64(0x7FFFFFFFFFFFFFFFull)) +
        entry("f", 'f', be32(0x3FC00000u)) + entry("d", 'd', be64(0x8000000000000000ull)) +
        entry("D", 'D', oct(255) + be32(0xFFFFFFFFu)) + entry("S", 'S', ls("text")) +
        entry("x", 'x', ls(std::string("\0z", 2))) +
        entry("A", 'A', ls(std::string("b\x01") + "S" + ls("a") + "A" + be32(0))) +
        entry("T", 'T', be64(0xFFFFFFFFFFFFFFFFull)) + entry("F", 'F', ls(entry("k", 'V', ""))) + entry("V", 'V', "");
    QCOMPARE(qb(t.encodeEntries()), qb(expected));
    std::string out = "pre";
    t.appendTo(out);
    QCOMPARE(qb(out), qb("pre" + ls(expected)));
    QCOMPARE(t.encodedSize(), expected.size() + 4);
    QCOMPARE(t.size(), size_t{17});

    // And back: the decoded view converts to an equal owned table.
    TableView v;
    size_t used = 0;
    Error error;
    const std::string wire = out.substr(3);
    QVERIFY(decodeTable(wire, v, used, error));
    QVERIFY(FieldTable::fromView(v) == t);
    QCOMPARE(FieldTable::fromView(v).find("D")->asDecimal()->value, int32_t{-1});
    QCOMPARE(FieldTable::fromView(v).find("D")->asDecimal()->scale, uint8_t{255});
    QVERIFY(std::signbit(*FieldTable::fromView(v).find("d")->asDouble()));
    QCOMPARE(*t.find("l")->asInt64(), std::numeric_limits<int64_t>::max());
    QCOMPARE(str(t.find("x")->asString()), std::string("\0z", 2));
    QCOMPARE(t.find("A")->asArray()->size(), size_t{3});
    QVERIFY(t.find("F")->asTable()->find("k")->isVoid());
    QVERIFY(!t.find("S")->asTable());
}

void TstAmqpCodec::integerGetters()
{
    QCOMPARE(FieldValue::uint32(4294967295u).asInt64(), std::optional<int64_t>(4294967295LL));
    QCOMPARE(FieldValue::int8(-5).asInt64(), std::optional<int64_t>(-5));
    QCOMPARE(FieldValue::int8(-5).asUInt64(), std::optional<uint64_t>());
    QCOMPARE(FieldValue::int16(300).asUInt64(), std::optional<uint64_t>(300));
    QCOMPARE(FieldValue::int64(-1).asUInt64(), std::optional<uint64_t>());
    QCOMPARE(FieldValue::timestamp(42).asInt64(), std::optional<int64_t>(42));
    QCOMPARE(FieldValue::timestamp(0x8000000000000000ull).asInt64(), std::optional<int64_t>());
    QCOMPARE(FieldValue::timestamp(0x8000000000000000ull).asUInt64(), std::optional<uint64_t>(0x8000000000000000ull));
    QCOMPARE(FieldValue::uint16(7).asDouble(), std::optional<double>(7.0));
    QCOMPARE(FieldValue::int32(-7).asDouble(), std::optional<double>(-7.0));
    QVERIFY(FieldValue::int32(1).isInteger());
    QVERIFY(!FieldValue::timestamp(1).isInteger());
    QVERIFY(!FieldValue::float64(1.0).isInteger());
    QCOMPARE(FieldValue::float64(1.0).asInt64(), std::optional<int64_t>());
    QCOMPARE(FieldValue("60000").asInt64(), std::optional<int64_t>()); // strings are not numbers
    QCOMPARE(FieldValue(true).asInt64(), std::optional<int64_t>());
    QCOMPARE(FieldValue::int32(1).asBool(), std::optional<bool>());
    QCOMPARE(FieldValue::int32(1).asString(), std::optional<std::string_view>());
    QCOMPARE(FieldValue::float32(2.5f).asDouble(), std::optional<double>(2.5));
    QVERIFY(FieldValue().isVoid());
    QCOMPARE(FieldValue(std::string("s")).type(), FieldType::LongString);
    QCOMPARE(FieldValue(std::string_view("s")).type(), FieldType::LongString);
    QCOMPARE(FieldValue::longString("s").type(), FieldType::LongString);
}

void TstAmqpCodec::nestedTablesAndArrays()
{
    FieldTable inner;
    inner.add("deep", FieldArray{FieldTable().add("deeper", FieldArray{FieldValue(true)})});
    FieldTable t;
    t.add("arr", FieldArray{FieldValue::int8(1), FieldValue("two"), FieldArray{}, FieldTable(), FieldArray{inner}});
    const std::string bytes = t.encodeEntries();
    Error error;
    QVERIFY(validateTableEntries(bytes, error));
    const TableView v(bytes);
    QCOMPARE(QString::fromStdString(describeTable(v)),
             QString("{arr: [1, \"two\", [], {}, [{deep: [{deeper: [true]}]}]]}"));
    const ArrayView arr = *v.find("arr")->asArray();
    QCOMPARE(arr.size(), size_t{5});
    auto it = arr.begin();
    std::advance(it, 4);
    const ArrayView last = *it->asArray();
    const TableView innerView = *last.begin()->asTable();
    const ArrayView deep = *innerView.find("deep")->asArray();
    QCOMPARE(deep.begin()->asTable()->find("deeper")->asArray()->begin()->asBool(), std::optional<bool>(true));
    QVERIFY(FieldTable::fromView(v) == t);
    QCOMPARE(qb(FieldTable::fromView(v).encodeEntries()), qb(bytes));

    // Editing a decoded table: copy, change, encode.
    FieldTable edit = FieldTable::fromView(v);
    edit.find("arr")->asArray()->push_back(FieldValue::int64(99));
    edit.set("new", "value");
    const std::string edited = edit.encodeEntries();
    QCOMPARE(TableView(edited).find("arr")->asArray()->size(), size_t{6});
    QCOMPARE(str(TableView(edited).find("new")->asString()), std::string("value"));
}

void TstAmqpCodec::xDeathBuild()
{
    FieldTable death;
    death.add("count", FieldValue::int64(1))
        .add("reason", "expired")
        .add("queue", "q")
        .add("time", FieldValue::timestamp(1700000000))
        .add("exchange", "")
        .add("routing-keys", FieldArray{FieldValue("rk")});
    FieldTable headers;
    headers.add("app", "x");
    headers.set("x-death", FieldArray{death});
    headers.set("x-first-death-reason", "expired");
    const std::string bytes = headers.encodeEntries();
    const std::string expectedDeath =
        entry("count", 'l', be64(1)) + entry("reason", 'S', ls("expired")) + entry("queue", 'S', ls("q")) +
        entry("time", 'T', be64(1700000000)) + entry("exchange", 'S', ls("")) +
        entry("routing-keys", 'A', ls("S" + ls("rk")));
    QCOMPARE(qb(bytes), qb(entry("app", 'S', ls("x")) + entry("x-death", 'A', ls("F" + ls(expectedDeath))) +
                          entry("x-first-death-reason", 'S', ls("expired"))));
    const TableView v(bytes);
    const TableView first = *v.find("x-death")->asArray()->begin()->asTable();
    QCOMPARE(first.find("count")->asInt64(), std::optional<int64_t>(1));
    QCOMPARE(str(first.find("reason")->asString()), std::string("expired"));
}

void TstAmqpCodec::duplicateKeys()
{
    const std::string bytes = entry("k", 'b', oct(1)) + entry("other", 'V', "") + entry("k", 'b', oct(2));
    const TableView v(bytes);
    QCOMPARE(v.size(), size_t{3});
    QCOMPARE(v.find("k")->asInt64(), std::optional<int64_t>(1)); // the first, as RabbitMQ's lookup
    FieldTable t = FieldTable::fromView(v);
    QCOMPARE(t.size(), size_t{3});
    QCOMPARE(qb(t.encodeEntries()), qb(bytes));
    t.set("k", FieldValue::int8(9));
    QCOMPARE(t.at(0).value.asInt64(), std::optional<int64_t>(9));
    QCOMPARE(t.at(2).value.asInt64(), std::optional<int64_t>(2));
    QCOMPARE(t.remove("k"), size_t{2});
    QCOMPARE(t.size(), size_t{1});
    QCOMPARE(t.remove("k"), size_t{0});
    QVERIFY(!t.find("k"));
}

void TstAmqpCodec::tableDepthLimit()
{
    Error error;
    QVERIFY(validateTableEntries(nestedTable(kMaxTableDepth).substr(4), error));
    QVERIFY(!validateTableEntries(nestedTable(kMaxTableDepth + 1).substr(4), error));
    QCOMPARE(error.code, reply::kSyntaxError);
    QCOMPARE(QString::fromStdString(error.text), QString("SYNTAX_ERROR - field table nested deeper than 64 levels"));

    Decoded d = decode(queueDeclareWithArgs(nestedTable(64)));
    QVERIFY2(d.ok, d.error.text.c_str());
    d = decode(queueDeclareWithArgs(nestedTable(65)));
    QVERIFY(!d.ok);
    QCOMPARE(QString::fromStdString(d.error.text),
             QString("SYNTAX_ERROR - cannot decode queue.declare: field 'arguments': field table nested deeper than 64 "
                     "levels"));

    // Arrays count as levels too: table (1) > array (2) > ... > array (65).
    std::string arr = be32(0);
    for (int i = 0; i < 62; ++i)
        arr = ls("A" + arr);
    QVERIFY(validateTableEntries(entry("a", 'A', arr), error));
    QVERIFY(!validateTableEntries(entry("a", 'A', ls("A" + arr)), error));
    QCOMPARE(error.code, reply::kSyntaxError);
}

void TstAmqpCodec::tableErrors_data()
{
    QTest::addColumn<QByteArray>("entries");
    QTest::addColumn<QString>("text");
    auto row = [](const char *name, const std::string &bytes, const char *text) {
        QTest::newRow(name) << qb(bytes) << QString(text);
    };
    row("unknown type", entry("k", 'Z', oct(1)), "SYNTAX_ERROR - unknown field type 'Z' (0x5a) for key 'k'");
    row("unknown type, unprintable", entry("k", '\x01', ""), "SYNTAX_ERROR - unknown field type 0x01 for key 'k'");
    row("spec-only type", entry("k", 'U', be16(1)), "SYNTAX_ERROR - unknown field type 'U' (0x55) for key 'k'");
    row("string overrun", entry("k", 'S', be32(50) + "short"),
        "SYNTAX_ERROR - field value 'S' (0x53) for key 'k' runs past the end of its table");
    row("int32 truncated", entry("n", 'I', be16(1)),
        "SYNTAX_ERROR - field value 'I' (0x49) for key 'n' runs past the end of its table");
    row("length truncated", entry("n", 'x', be16(0)),
        "SYNTAX_ERROR - field value 'x' (0x78) for key 'n' runs past the end of its table");
    row("key overrun", hex("09 6162"), "SYNTAX_ERROR - field table entry truncated");
    row("key without type", ss("k"), "SYNTAX_ERROR - field table entry truncated");
    row("array unknown type", entry("a", 'A', ls("Q" + oct(0))), "SYNTAX_ERROR - unknown field type 'Q' (0x51) in an array");
    row("array value overrun", entry("a", 'A', ls("l" + be32(1))),
        "SYNTAX_ERROR - array value 'l' (0x6c) runs past the end of its array");
    row("nested table length overrun", entry("t", 'F', be32(99) + "ab"),
        "SYNTAX_ERROR - field value 'F' (0x46) for key 't' runs past the end of its table");
    row("error inside nested", entry("t", 'F', ls(entry("in", '?', ""))),
        "SYNTAX_ERROR - unknown field type '?' (0x3f) for key 'in'");
}

void TstAmqpCodec::tableErrors()
{
    QFETCH(QByteArray, entries);
    QFETCH(QString, text);
    const std::string bytes(entries.constData(), static_cast<size_t>(entries.size()));
    Error error;
    QVERIFY(!validateTableEntries(bytes, error));
    QCOMPARE(error.code, reply::kSyntaxError);
    QCOMPARE(QString::fromStdString(error.text), text);
    TableView v;
    size_t used = 0;
    QVERIFY(!decodeTable(ls(bytes), v, used, error));
    QCOMPARE(QString::fromStdString(error.text), text);

    // Length fields of the table itself.
    QVERIFY(!decodeTable(hex("000000"), v, used, error));
    QCOMPARE(QString::fromStdString(error.text), QString("SYNTAX_ERROR - field table length truncated"));
    QVERIFY(!decodeTable(be32(10) + "abc", v, used, error));
    QCOMPARE(QString::fromStdString(error.text),
             QString("SYNTAX_ERROR - field table length 10 exceeds the 3 octets left"));
    QVERIFY(decodeTable(be32(0) + "rest", v, used, error));
    QCOMPARE(used, size_t{4});
    QVERIFY(v.empty());
}

void TstAmqpCodec::ownedRoundTripKeepsOddValues()
{
    // A bool octet other than 0/1, a signalling NaN's payload, negative zero: all come back bit for bit.
    const std::string bytes = entry("b", 't', oct(2)) + entry("nan", 'f', be32(0x7FA00001u)) +
                              entry("dnan", 'd', be64(0xFFF8000000000123ull)) + entry("z", 'd', be64(1ull << 63)) +
                              entry("", 'V', "");
    Error error;
    QVERIFY(validateTableEntries(bytes, error));
    const FieldTable t = FieldTable::fromView(TableView(bytes));
    QCOMPARE(qb(t.encodeEntries()), qb(bytes));
    QCOMPARE(t.find("b")->asBool(), std::optional<bool>(true));
    QVERIFY(std::isnan(*t.find("nan")->asDouble()));
    QVERIFY(t.find(""));
    FieldTable copy = t;
    QVERIFY(copy == t);
    copy.set("b", true);
    QVERIFY(copy != t); // octet 1 is not octet 2
}

void TstAmqpCodec::tableKeyTooLong()
{
    FieldTable t;
    QVERIFY_THROWS_EXCEPTION(std::length_error, t.add(std::string(256, 'k'), true));
    t.add(std::string(255, 'k'), true);
    QCOMPARE(t.size(), size_t{1});
    QCOMPARE(t.encodedSize(), size_t{4 + 1 + 255 + 2});
}

void TstAmqpCodec::uncheckedViewStopsOnGarbage()
{
    // The unchecked constructor trusts its caller; iterating bad bytes still stays in bounds and stops.
    const std::string bytes = entry("ok", 'b', oct(1)) + entry("bad", 'S', be32(1000));
    const TableView v(bytes);
    QCOMPARE(v.size(), size_t{1});
    QVERIFY(!v.find("bad"));
    const std::string arrayBytes = "I" + be32(1) + "Z";
    QCOMPARE(ArrayView(arrayBytes).size(), size_t{1});
    QCOMPARE(TableView(std::string_view("\x05", 1)).size(), size_t{0});
}

// --------------------------------------------------------------------------------------------------------------
// Content

namespace {
const std::string &headersTable()
{
    static const std::string t = entry("x-delay", 'I', be32(500)) + entry("app", 'S', ls("v"));
    return t;
}

std::string allPropertiesRaw()
{
    return be16(0xFFFC) + ss("text/plain") + ss("gzip") + ls(headersTable()) + oct(2) + oct(9) + ss("corr") +
           ss("reply.q") + ss("60000") + ss("mid") + be64(1700000000) + ss("kind") + ss("guest") + ss("app") +
           ss("cluster");
}
} // namespace

void TstAmqpCodec::contentHeaderAllProperties()
{
    const std::string raw = allPropertiesRaw();
    const std::string payload = be16(60) + be16(0) + be64(1234) + raw;
    const DecodedHeader d = decodeHeader(payload);
    QVERIFY2(d.ok, d.error.text.c_str());
    QCOMPARE(d.header.classId, uint16_t{60});
    QCOMPARE(d.header.weight, uint16_t{0});
    QCOMPARE(d.header.bodySize, uint64_t{1234});
    QCOMPARE(qb(d.header.rawProperties), qb(raw));
    QVERIFY(d.header.rawProperties.data() == d.storage->data() + 12); // a view
    const BasicProperties &p = d.header.properties;
    QCOMPARE(p.flags, property::kAll);
    QCOMPARE(qb(p.contentType), QByteArray("text/plain"));
    QCOMPARE(qb(p.contentEncoding), QByteArray("gzip"));
    QCOMPARE(p.headers.find("x-delay")->asInt64(), std::optional<int64_t>(500));
    QCOMPARE(p.deliveryMode, uint8_t{2});
    QCOMPARE(p.priority, uint8_t{9});
    QCOMPARE(qb(p.correlationId), QByteArray("corr"));
    QCOMPARE(qb(p.replyTo), QByteArray("reply.q"));
    QCOMPARE(qb(p.expiration), QByteArray("60000"));
    QCOMPARE(qb(p.messageId), QByteArray("mid"));
    QCOMPARE(p.timestamp, uint64_t{1700000000});
    QCOMPARE(qb(p.type), QByteArray("kind"));
    QCOMPARE(qb(p.userId), QByteArray("guest"));
    QCOMPARE(qb(p.appId), QByteArray("app"));
    QCOMPARE(qb(p.clusterId), QByteArray("cluster"));
    for (uint16_t bit = 0x8000; bit >= 0x0004; bit = static_cast<uint16_t>(bit >> 1))
        QVERIFY(p.has(bit));

    // The same bytes from the setters, in any call order.
    BasicProperties built;
    built.setClusterId("cluster").setAppId("app").setUserId("guest").setType("kind").setTimestamp(1700000000);
    built.setMessageId("mid").setExpiration("60000").setReplyTo("reply.q").setCorrelationId("corr").setPriority(9);
    built.setDeliveryMode(2).setHeaders(TableView(headersTable())).setContentEncoding("gzip").setContentType("text/plain");
    std::string out;
    QVERIFY(appendContentHeaderFrame(out, 3, 1234, built));
    QCOMPARE(qb(out), qb(frameOf(2, 3, payload)));
    QCOMPARE(basicPropertiesSize(built), raw.size());
    std::string rawOut;
    QVERIFY(appendBasicProperties(rawOut, d.header.properties));
    QCOMPARE(qb(rawOut), qb(raw));
    std::string viaRaw;
    appendContentHeaderFrame(viaRaw, 3, 1234, d.header.rawProperties);
    QCOMPARE(qb(viaRaw), qb(out));

    QCOMPARE(QString::fromStdString(describeProperties(p)),
             QString("{content-type='text/plain', content-encoding='gzip', headers={x-delay: 500, app: \"v\"}, "
                     "delivery-mode=2, priority=9, correlation-id='corr', reply-to='reply.q', expiration='60000', "
                     "message-id='mid', timestamp=1700000000, type='kind', user-id='guest', app-id='app', "
                     "cluster-id='cluster'}"));

    // Every single property alone.
    const struct {
        uint16_t flag;
        std::string value;
    } singles[] = {{property::kContentType, ss("a")},      {property::kContentEncoding, ss("b")},
                   {property::kHeaders, ls("")},           {property::kDeliveryMode, oct(1)},
                   {property::kPriority, oct(0)},          {property::kCorrelationId, ss("c")},
                   {property::kReplyTo, ss("")},           {property::kExpiration, ss("1")},
                   {property::kMessageId, ss("m")},        {property::kTimestamp, be64(5)},
                   {property::kType, ss("t")},             {property::kUserId, ss("u")},
                   {property::kAppId, ss("p")},            {property::kClusterId, ss("k")}};
    for (const auto &s : singles) {
        const DecodedHeader one = decodeHeader(be16(60) + be16(0) + be64(0) + be16(s.flag) + s.value);
        QVERIFY2(one.ok, one.error.text.c_str());
        QCOMPARE(one.header.properties.flags, s.flag);
        std::string again;
        QVERIFY(appendBasicProperties(again, one.header.properties));
        QCOMPARE(qb(again), qb(be16(s.flag) + s.value));
    }
}

void TstAmqpCodec::contentHeaderNoProperties()
{
    const std::string payload = hex("003c 0000 0000000000000000 0000");
    const DecodedHeader d = decodeHeader(payload);
    QVERIFY(d.ok);
    QCOMPARE(d.header.bodySize, uint64_t{0});
    QCOMPARE(d.header.properties.flags, uint16_t{0});
    QCOMPARE(qb(d.header.rawProperties), qb(hex("0000")));
    QVERIFY(d.header.properties.headers.empty());
    std::string out;
    QVERIFY(appendContentHeaderFrame(out, 1, 0, BasicProperties()));
    QCOMPARE(qb(out), qb(frameOf(2, 1, payload)));
    out.clear();
    appendContentHeaderFrame(out, 1, 0, std::string_view()); // empty raw: flags 0
    QCOMPARE(qb(out), qb(frameOf(2, 1, payload)));
    QCOMPARE(QString::fromStdString(describeProperties(d.header.properties)), QString("{}"));

    // Flags the struct has beyond the 14 properties are not written.
    BasicProperties odd;
    odd.flags = 0x0003;
    std::string raw;
    QVERIFY(appendBasicProperties(raw, odd));
    QCOMPARE(qb(raw), qb(hex("0000")));
}

void TstAmqpCodec::contentHeaderContinuationFlags()
{
    // A continuation word with no property bits is accepted and kept as received.
    const std::string raw = be16(0x1001) + be16(0x0000) + oct(2);
    const DecodedHeader d = decodeHeader(be16(60) + be16(0) + be64(1) + raw);
    QVERIFY2(d.ok, d.error.text.c_str());
    QCOMPARE(d.header.properties.flags, property::kDeliveryMode);
    QCOMPARE(d.header.properties.deliveryMode, uint8_t{2});
    QCOMPARE(qb(d.header.rawProperties), qb(raw));
    // Chained continuation words.
    QVERIFY(decodeHeader(be16(60) + be16(0) + be64(1) + be16(0x0001) + be16(0x0001) + be16(0)).ok);
    // Property bits in a continuation word name properties basic does not have.
    const DecodedHeader bad = decodeHeader(be16(60) + be16(0) + be64(1) + be16(0x0001) + be16(0x8000));
    QVERIFY(!bad.ok);
    QCOMPARE(bad.error.code, reply::kSyntaxError);
    QCOMPARE(QString::fromStdString(bad.error.text),
             QString("SYNTAX_ERROR - content header property flags 0x8000 name a property the basic class does not have"));
    // The continuation word missing.
    const DecodedHeader cut = decodeHeader(be16(60) + be16(0) + be64(1) + be16(0x0001));
    QVERIFY(!cut.ok);
    QCOMPARE(QString::fromStdString(cut.error.text), QString("SYNTAX_ERROR - content header property flags truncated"));
}

void TstAmqpCodec::contentHeaderErrors_data()
{
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("text");
    const std::string fixed = be16(60) + be16(0) + be64(1);
    auto row = [](const char *name, const std::string &p, int code, const char *text) {
        QTest::newRow(name) << qb(p) << code << QString(text);
    };
    row("class 50", be16(50) + be16(0) + be64(1) + be16(0), 505,
        "UNEXPECTED_FRAME - expected content header for class 60, got one for class 50 instead");
    row("13 octets", fixed + oct(0), 502, "SYNTAX_ERROR - content header of 13 octets is shorter than 14");
    row("empty", "", 502, "SYNTAX_ERROR - content header of 0 octets is shorter than 14");
    row("flag bit 1", fixed + be16(0x0002), 502,
        "SYNTAX_ERROR - content header property flags 0x0002 name a property the basic class does not have");
    row("shortstr overrun", fixed + be16(0x8000) + hex("10 6162"), 502,
        "SYNTAX_ERROR - cannot decode content header: property 'content-type': shortstr of 16 octets runs past the "
        "end of the frame");
    row("property missing", fixed + be16(0x1000), 502,
        "SYNTAX_ERROR - cannot decode content header: property 'delivery-mode': truncated");
    row("timestamp truncated", fixed + be16(0x0040) + be32(1), 502,
        "SYNTAX_ERROR - cannot decode content header: property 'timestamp': truncated");
    row("trailing octets", fixed + be16(0x1000) + oct(2) + "junk", 502,
        "SYNTAX_ERROR - cannot decode content header: 4 unexpected octets after the properties");
    row("no flags, trailing", fixed + be16(0) + "x", 502,
        "SYNTAX_ERROR - cannot decode content header: 1 unexpected octets after the properties");
    row("bad headers table", fixed + be16(0x2000) + ls(entry("k", '?', "")), 502,
        "SYNTAX_ERROR - cannot decode content header: property 'headers': unknown field type '?' (0x3f) for key 'k'");
    row("headers length overrun", fixed + be16(0x2000) + be32(9), 502,
        "SYNTAX_ERROR - cannot decode content header: property 'headers': field table length 9 exceeds the 0 octets "
        "left");
}

void TstAmqpCodec::contentHeaderErrors()
{
    QFETCH(QByteArray, payload);
    QFETCH(int, code);
    QFETCH(QString, text);
    const DecodedHeader d = decodeHeader(std::string_view(payload.constData(), static_cast<size_t>(payload.size())));
    QVERIFY(!d.ok);
    QCOMPARE(int(d.error.code), code);
    QCOMPARE(QString::fromStdString(d.error.text), text);
}

void TstAmqpCodec::bodySplitting_data()
{
    QTest::addColumn<uint>("frameMax");
    QTest::addColumn<qsizetype>("bodySize");
    QTest::addColumn<QList<qsizetype>>("frames");
    QTest::newRow("empty body: no frame") << 4096u << qsizetype(0) << QList<qsizetype>{};
    QTest::newRow("one octet") << 4096u << qsizetype(1) << QList<qsizetype>{1};
    QTest::newRow("exactly frame-max - 8") << 4096u << qsizetype(4088) << QList<qsizetype>{4088};
    QTest::newRow("frame-max - 8 + 1") << 4096u << qsizetype(4089) << QList<qsizetype>{4088, 1};
    QTest::newRow("two full frames") << 4096u << qsizetype(8176) << QList<qsizetype>{4088, 4088};
    QTest::newRow("two full frames + 1") << 4096u << qsizetype(8177) << QList<qsizetype>{4088, 4088, 1};
    QTest::newRow("RabbitMQ's 131072") << 131072u << qsizetype(300000) << QList<qsizetype>{131064, 131064, 37872};
    QTest::newRow("amqplib's 8192") << 8192u << qsizetype(20000) << QList<qsizetype>{8184, 8184, 3632};
    QTest::newRow("no limit") << 0u << qsizetype(300000) << QList<qsizetype>{300000};
    QTest::newRow("below the minimum counts as 4096") << 100u << qsizetype(5000) << QList<qsizetype>{4088, 912};
}

void TstAmqpCodec::bodySplitting()
{
    QFETCH(uint, frameMax);
    QFETCH(qsizetype, bodySize);
    QFETCH(QList<qsizetype>, frames);
    std::string body;
    for (qsizetype i = 0; i < bodySize; ++i)
        body.push_back(static_cast<char>('a' + i % 26));
    std::string out = "prefix";
    appendBodyFrames(out, 5, body, frameMax);
    QCOMPARE(out.size() - 6, bodyFramesSize(body.size(), frameMax));
    QCOMPARE(bodyFramesSize(body.size(), frameMax), body.empty() ? size_t{0} : body.size() + 8 * size_t(frames.size()));
    std::string_view rest = std::string_view(out).substr(6);
    std::string joined;
    for (const qsizetype expected : frames) {
        const Parsed p = parse(rest, 0);
        QCOMPARE(statusName(p.status), "Ok");
        QCOMPARE(p.frame.type, frame_type::kBody);
        QCOMPARE(p.frame.channel, uint16_t{5});
        QCOMPARE(qsizetype(p.frame.payload.size()), expected);
        joined += p.frame.payload;
        rest.remove_prefix(p.frame.size);
    }
    QVERIFY(rest.empty());
    QCOMPARE(qb(joined), qb(body));
    QCOMPARE(maxBodyFramePayload(0), std::numeric_limits<uint32_t>::max());
    QCOMPARE(maxBodyFramePayload(131072), uint32_t{131064});
}

void TstAmqpCodec::appendDeliveryRawAndStruct()
{
    BasicDeliver dl;
    dl.consumerTag = "ctag";
    dl.deliveryTag = 42;
    dl.redelivered = true;
    dl.exchange = "ex";
    dl.routingKey = "rk";
    const std::string raw = allPropertiesRaw();
    const std::string body(4089, 'z');

    std::string expected;
    QVERIFY(appendMethodFrame(expected, 9, dl));
    appendContentHeaderFrame(expected, 9, body.size(), raw);
    appendBodyFrames(expected, 9, body, 4096);
    QCOMPARE(qb(expected.substr(expected.size() - 9 - 8 - 4088, 8)), qb(hex("03 0009 00000ff8") + "z"));

    std::string out = "earlier bytes";
    QVERIFY(appendDelivery(out, 9, dl, std::string_view(raw), body, 4096));
    QCOMPARE(qb(out), qb("earlier bytes" + expected));

    BasicProperties props;
    Error error;
    QVERIFY(decodeBasicProperties(raw, props, error));
    std::string viaStruct;
    QVERIFY(appendDelivery(viaStruct, 9, dl, props, body, 4096));
    QCOMPARE(qb(viaStruct), qb(expected));

    std::string viaVariant;
    QVERIFY(appendDelivery(viaVariant, 9, Method(dl), raw, body, 4096));
    QCOMPARE(qb(viaVariant), qb(expected));

    // An empty body: method + header, no body frame.
    BasicGetOk ok;
    ok.deliveryTag = 1;
    ok.messageCount = 3;
    std::string empty;
    QVERIFY(appendDelivery(empty, 1, ok, std::string_view(hex("0000")), "", 131072));
    const std::vector<Frame> frames = splitFrames(empty);
    QCOMPARE(frames.size(), size_t{2});
    QCOMPARE(frames[0].type, frame_type::kMethod);
    QCOMPARE(frames[1].type, frame_type::kHeader);
    QCOMPARE(qb(frames[1].payload), qb(hex("003c 0000 0000000000000000 0000")));

    // basic.return goes the same way.
    BasicReturn ret;
    ret.replyCode = reply::kNoRoute;
    ret.replyText = "NO_ROUTE";
    ret.exchange = "x";
    ret.routingKey = "nowhere";
    std::string returned;
    QVERIFY(appendDelivery(returned, 1, ret, std::string_view(), "unroutable", 131072));
    QCOMPARE(splitFrames(returned).size(), size_t{3});
}

void TstAmqpCodec::appendDeliveryRefusals()
{
    const std::string longTag(300, 't');
    BasicDeliver dl;
    dl.consumerTag = longTag;
    std::string out = "keep";
    QVERIFY(!appendDelivery(out, 1, dl, std::string_view(), "body", 4096));
    QCOMPARE(qb(out), QByteArray("keep"));
    BasicProperties props;
    props.setContentType(longTag);
    dl.consumerTag = "ok";
    QVERIFY(!appendDelivery(out, 1, dl, props, "body", 4096));
    QCOMPARE(qb(out), QByteArray("keep"));
    QVERIFY(!appendContentHeaderFrame(out, 1, 4, props));
    QCOMPARE(qb(out), QByteArray("keep"));
    QCOMPARE(basicPropertiesSize(props), size_t{0});
    // A Method that carries no content is refused.
    QVERIFY(!appendDelivery(out, 1, Method(BasicAck()), std::string_view(), "body", 4096));
    QCOMPARE(qb(out), QByteArray("keep"));
}

// --------------------------------------------------------------------------------------------------------------
// Real frames (captured from clients talking to RabbitMQ 3.10; see ../fuzz/README.md)

void TstAmqpCodec::realHandshakePika()
{
    const std::string &bytes = corpus("pika_handshake");
    QVERIFY(!bytes.empty());
    QCOMPARE(headerStatusName(checkProtocolHeader(bytes)), "Valid");
    const std::vector<Frame> frames = splitFrames(bytes);
    QCOMPARE(frames.size(), size_t{3});

    Decoded d = decode(frames[0].payload);
    QVERIFY2(d.ok, d.error.text.c_str());
    const ConnectionStartOk &so = as<ConnectionStartOk>(d);
    QCOMPARE(str(so.clientProperties.find("product")->asString()), std::string("Pika Python Client Library"));
    QCOMPARE(str(so.clientProperties.find("connection_name")->asString()), std::string("codec-capture"));
    const TableView caps = *so.clientProperties.find("capabilities")->asTable();
    QCOMPARE(caps.find("authentication_failure_close")->asBool(), std::optional<bool>(true));
    QCOMPARE(caps.find("consumer_cancel_notify")->asBool(), std::optional<bool>(true));
    QCOMPARE(qb(so.mechanism), QByteArray("PLAIN"));
    QCOMPARE(qb(so.response), qb(std::string("\0guest\0guest", 12)));
    QCOMPARE(qb(so.locale), QByteArray("en_US"));

    d = decode(frames[1].payload);
    QCOMPARE(as<ConnectionTuneOk>(d).channelMax, uint16_t{2047});
    QCOMPARE(as<ConnectionTuneOk>(d).frameMax, uint32_t{131072});
    QCOMPARE(as<ConnectionTuneOk>(d).heartbeat, uint16_t{30});
    d = decode(frames[2].payload);
    QCOMPARE(qb(as<ConnectionOpen>(d).virtualHost), QByteArray("/"));
    QVERIFY(as<ConnectionOpen>(d).insist);
}

void TstAmqpCodec::realConnectionStartRabbitMq()
{
    const std::vector<Frame> frames = splitFrames(corpus("rabbitmq_to_pika_connection_start"));
    QCOMPARE(frames.size(), size_t{1});
    const Decoded d = decode(frames[0].payload);
    QVERIFY2(d.ok, d.error.text.c_str());
    const ConnectionStart &s = as<ConnectionStart>(d);
    QCOMPARE(s.versionMajor, uint8_t{0});
    QCOMPARE(s.versionMinor, uint8_t{9});
    QCOMPARE(qb(s.mechanisms), QByteArray("PLAIN AMQPLAIN"));
    QCOMPARE(qb(s.locales), QByteArray("en_US"));
    QCOMPARE(str(s.serverProperties.find("product")->asString()), std::string("RabbitMQ"));
    QCOMPARE(str(s.serverProperties.find("version")->asString()), std::string("3.10.8"));
    const TableView caps = *s.serverProperties.find("capabilities")->asTable();
    const char *expected[] = {"publisher_confirms",   "exchange_exchange_bindings", "basic.nack",
                              "consumer_cancel_notify", "connection.blocked",       "consumer_priorities",
                              "authentication_failure_close", "per_consumer_qos",   "direct_reply_to"};
    for (const char *name : expected)
        QCOMPARE(caps.find(name)->asBool(), std::optional<bool>(true));
    QCOMPARE(caps.size(), size_t{9});

    // Building the same server-properties shape gives a table RabbitMQ's clients read the same way.
    FieldTable capabilities;
    for (const char *name : expected)
        capabilities.add(name, true);
    FieldTable props;
    props.add("capabilities", capabilities).add("product", "Ferry").add("version", "0.1.0");
    const std::string encoded = props.encodeEntries();
    ConnectionStart ours;
    ours.serverProperties = TableView(encoded);
    ours.mechanisms = "PLAIN AMQPLAIN";
    std::string frame;
    QVERIFY(appendMethodFrame(frame, 0, ours));
    const Decoded back = decode(splitFrames(frame).at(0).payload);
    QCOMPARE(as<ConnectionStart>(back).serverProperties.find("capabilities")->asTable()->size(), size_t{9});
}

void TstAmqpCodec::realQueueDeclarePika()
{
    const std::vector<Frame> frames = splitFrames(corpus("pika_queue_declare"));
    QCOMPARE(frames.size(), size_t{1});
    QCOMPARE(frames[0].channel, uint16_t{1});
    const Decoded d = decode(frames[0].payload);
    QVERIFY2(d.ok, d.error.text.c_str());
    const QueueDeclare &q = as<QueueDeclare>(d);
    QCOMPARE(qb(q.queue), QByteArray("cap.q"));
    QVERIFY(!q.passive && q.durable && !q.exclusive && !q.autoDelete && !q.noWait);
    QCOMPARE(q.arguments.find("x-message-ttl")->asInt64(), std::optional<int64_t>(60000));
    QCOMPARE(q.arguments.find("x-max-priority")->asInt64(), std::optional<int64_t>(9));
    QCOMPARE(str(q.arguments.find("x-dead-letter-exchange")->asString()), std::string("cap.dlx"));
    QCOMPARE(q.arguments.size(), size_t{4});
}

void TstAmqpCodec::realPublishAllPropertiesPika()
{
    const std::vector<Frame> frames = splitFrames(corpus("pika_publish_all_properties"));
    QCOMPARE(frames.size(), size_t{3});
    const Decoded d = decode(frames[0].payload);
    QVERIFY(d.ok);
    const BasicPublish &pub = as<BasicPublish>(d);
    QCOMPARE(qb(pub.exchange), QByteArray("cap.x"));
    QCOMPARE(qb(pub.routingKey), QByteArray("a.b"));
    QVERIFY(pub.mandatory);
    QVERIFY(!pub.immediate);

    QCOMPARE(frames[1].type, frame_type::kHeader);
    const DecodedHeader h = decodeHeader(frames[1].payload);
    QVERIFY2(h.ok, h.error.text.c_str());
    QCOMPARE(h.header.bodySize, uint64_t{17});
    const BasicProperties &p = h.header.properties;
    QCOMPARE(p.flags, property::kAll);
    QCOMPARE(qb(p.contentType), QByteArray("application/json"));
    QCOMPARE(qb(p.contentEncoding), QByteArray("utf-8"));
    QCOMPARE(p.deliveryMode, uint8_t{2});
    QCOMPARE(p.priority, uint8_t{5});
    QCOMPARE(qb(p.correlationId), QByteArray("corr-1"));
    QCOMPARE(qb(p.replyTo), QByteArray("cap.reply"));
    QCOMPARE(qb(p.expiration), QByteArray("60000"));
    QCOMPARE(qb(p.messageId), QByteArray("msg-1"));
    QCOMPARE(p.timestamp, uint64_t{1700000000});
    QCOMPARE(qb(p.type), QByteArray("capture.type"));
    QCOMPARE(qb(p.userId), QByteArray("guest"));
    QCOMPARE(qb(p.appId), QByteArray("pika-capture"));
    QCOMPARE(qb(p.clusterId), QByteArray("cluster-1"));
    const TableView &hd = p.headers;
    QCOMPARE(hd.find("i")->type(), FieldType::Int32);
    QCOMPARE(hd.find("i")->asInt64(), std::optional<int64_t>(42));
    QCOMPARE(hd.find("neg")->asInt64(), std::optional<int64_t>(-7));
    QCOMPARE(hd.find("big")->type(), FieldType::Int64);
    QCOMPARE(hd.find("big")->asInt64(), std::optional<int64_t>(1099511627776LL));
    QCOMPARE(hd.find("d")->asDecimal()->value, int32_t{314});
    QCOMPARE(hd.find("ts")->type(), FieldType::Timestamp);
    QVERIFY(hd.find("n")->isVoid());
    QCOMPARE(str(hd.find("b")->asString()), std::string("\0\1\xff", 3));
    QCOMPARE(hd.find("tbl")->asTable()->find("nested")->asTable()->find("x")->asInt64(), std::optional<int64_t>(1));
    QCOMPARE(hd.find("arr")->asArray()->size(), size_t{4});

    QCOMPARE(frames[2].type, frame_type::kBody);
    QCOMPARE(qb(frames[2].payload), QByteArray("{\"hello\":\"world\"}"));
}

void TstAmqpCodec::realTypedHeadersAmqplib()
{
    const std::vector<Frame> frames = splitFrames(corpus("amqplib_publish_typed_headers"));
    QCOMPARE(frames.size(), size_t{3});
    const DecodedHeader h = decodeHeader(frames[1].payload);
    QVERIFY2(h.ok, h.error.text.c_str());
    const TableView &t = h.header.properties.headers;
    QCOMPARE(t.find("i8")->type(), FieldType::Int8);
    QCOMPARE(t.find("i8")->asInt64(), std::optional<int64_t>(-128));
    QCOMPARE(t.find("u8")->type(), FieldType::UInt8);
    QCOMPARE(t.find("u8")->asInt64(), std::optional<int64_t>(255));
    QCOMPARE(t.find("i16")->type(), FieldType::Int16);
    QCOMPARE(t.find("i16")->asInt64(), std::optional<int64_t>(-32768));
    QCOMPARE(t.find("u16")->type(), FieldType::UInt16);
    QCOMPARE(t.find("u16")->asInt64(), std::optional<int64_t>(65535));
    QCOMPARE(t.find("i32")->type(), FieldType::Int32);
    QCOMPARE(t.find("u32")->type(), FieldType::UInt32);
    QCOMPARE(t.find("u32")->asUInt64(), std::optional<uint64_t>(4294967295u));
    QCOMPARE(t.find("i64")->type(), FieldType::Int64);
    QCOMPARE(t.find("i64")->asInt64(), std::optional<int64_t>(std::numeric_limits<int64_t>::min()));
    QCOMPARE(t.find("f")->type(), FieldType::Float);
    QCOMPARE(t.find("f")->asDouble(), std::optional<double>(1.5));
    QCOMPARE(t.find("d")->type(), FieldType::Double);
    QCOMPARE(t.find("d")->asDouble(), std::optional<double>(-0.1));
    QCOMPARE(t.find("dec")->asDecimal()->scale, uint8_t{2});
    QCOMPARE(t.find("ts")->asTimestamp(), std::optional<uint64_t>(1700000000));
    QCOMPARE(t.find("t")->asBool(), std::optional<bool>(true));
    QCOMPARE(t.find("fl")->asBool(), std::optional<bool>(false));
    QCOMPARE(str(t.find("s")->asString()), std::string("h\xc3\xa9llo"));
    QCOMPARE(t.find("x")->type(), FieldType::ByteArray);
    QVERIFY(t.find("v")->isVoid());
    QCOMPARE(str(t.find("empty")->asString()), std::string());
    QCOMPARE(QString::fromStdString(describeValue(*t.find("arr"))),
             QString("[1, \"two\", [], {}, [[{deep: {deeper: [true]}}]]]"));
    QCOMPARE(str(t.find("tbl")->asTable()->find("a")->asTable()->find("b")->asTable()->find("c")->asString()),
             std::string("d"));
    // Copy to the owned model and back: the same octets.
    QCOMPARE(qb(FieldTable::fromView(t).encodeEntries()), qb(t.entries()));
    QCOMPARE(h.header.properties.flags,
             uint16_t(property::kContentType | property::kHeaders | property::kDeliveryMode | property::kPriority |
                      property::kMessageId | property::kTimestamp));
}

void TstAmqpCodec::realSplitPublishAmqplib()
{
    // amqplib negotiated frame-max 8192 and split a 20000-octet body 8184 + 8184 + 3632.
    const std::string &bytes = corpus("amqplib_publish_20000_split_8192");
    const std::vector<Frame> frames = splitFrames(bytes, 8192);
    QCOMPARE(frames.size(), size_t{5});
    const DecodedHeader h = decodeHeader(frames[1].payload);
    QVERIFY(h.ok);
    QCOMPARE(h.header.bodySize, uint64_t{20000});
    std::string body;
    for (size_t i = 2; i < frames.size(); ++i) {
        QCOMPARE(frames[i].type, frame_type::kBody);
        body += frames[i].payload;
    }
    QCOMPARE(body, std::string(20000, 'a'));
    // Our encoders produce the client's bytes exactly.
    Decoded d = decode(frames[0].payload);
    std::string out;
    QVERIFY(appendMethodFrame(out, 1, d.method));
    appendContentHeaderFrame(out, 1, body.size(), h.header.rawProperties);
    appendBodyFrames(out, 1, body, 8192);
    QCOMPARE(qb(out), qb(bytes));
    // The frames are over frame-max 4096: a server that negotiated 4096 refuses the first body frame.
    std::string_view rest(bytes);
    rest.remove_prefix(frames[0].size + frames[1].size);
    QCOMPARE(statusName(parse(rest, 4096).status), "Error");
}

void TstAmqpCodec::realDeliveryReencodesLikeRabbitMq()
{
    // RabbitMQ's own deliveries, re-encoded from the decoded method, the stored raw properties and the body.
    const struct {
        const char *file;
        uint32_t frameMax;
        size_t frames;
    } cases[] = {{"rabbitmq_to_amqplib_deliver_20000_split_8192", 8192, 5},
                 {"rabbitmq_to_pika_get_ok_all_properties", 131072, 3},
                 {"rabbitmq_to_pika_return_no_route", 131072, 3},
                 {"rabbitmq_to_pika_basic_get_ok_2", 131072, 2}, // empty body: no body frame
                 {"rabbitmq_to_librabbitmq_basic_deliver", 131072, 3}};
    for (const auto &c : cases) {
        const std::string &bytes = corpus(c.file);
        const std::vector<Frame> frames = splitFrames(bytes, c.frameMax);
        QCOMPARE(frames.size(), c.frames);
        const Decoded d = decode(frames[0].payload);
        QVERIFY2(d.ok, c.file);
        QVERIFY(methodInfo(d.method).hasContent);
        const DecodedHeader h = decodeHeader(frames[1].payload);
        QVERIFY2(h.ok, c.file);
        std::string body;
        for (size_t i = 2; i < frames.size(); ++i)
            body += frames[i].payload;
        QCOMPARE(body.size(), size_t(h.header.bodySize));
        std::string raw;
        QVERIFY(appendDelivery(raw, frames[0].channel, d.method, h.header.rawProperties, body, c.frameMax));
        QVERIFY2(raw == bytes, c.file);
        // The properties struct re-encodes to the same octets as well.
        std::string rebuilt;
        QVERIFY(appendContentHeaderFrame(rebuilt, frames[1].channel, h.header.bodySize, h.header.properties));
        QVERIFY2(std::string_view(rebuilt) == std::string_view(bytes).substr(frames[0].size, frames[1].size), c.file);
    }
    const Decoded deliver = decode(splitFrames(corpus("rabbitmq_to_amqplib_deliver_20000_split_8192"), 8192)[0].payload);
    QCOMPARE(qb(as<BasicDeliver>(deliver).consumerTag), QByteArray("amq.ctag-iy68C9UkO12hbSCnnJLjcA"));
    QCOMPARE(as<BasicDeliver>(deliver).deliveryTag, uint64_t{2});
    QCOMPARE(qb(as<BasicDeliver>(deliver).exchange), QByteArray("al.x"));
}

void TstAmqpCodec::realServerNotifications()
{
    Decoded d = decode(splitFrames(corpus("rabbitmq_to_pika_connection_blocked"))[0].payload);
    QCOMPARE(qb(as<ConnectionBlocked>(d).reason), QByteArray("low on memory"));
    d = decode(splitFrames(corpus("rabbitmq_to_pika_connection_unblocked"))[0].payload);
    QVERIFY(std::holds_alternative<ConnectionUnblocked>(d.method));
    // Consumer cancel notify: basic.cancel from the server, nowait set.
    d = decode(splitFrames(corpus("rabbitmq_to_pika_basic_cancel"))[0].payload);
    QCOMPARE(qb(as<BasicCancel>(d).consumerTag), QByteArray("ex-consumer"));
    QVERIFY(as<BasicCancel>(d).noWait);
    d = decode(splitFrames(corpus("rabbitmq_to_pika_channel_close"))[0].payload);
    QCOMPARE(as<ChannelClose>(d).replyCode, reply::kNotFound);
    QCOMPARE(qb(as<ChannelClose>(d).replyText), QByteArray("NOT_FOUND - no queue 'cap.missing' in vhost '/'"));
    QCOMPARE(as<ChannelClose>(d).classId, uint16_t{50});
    QCOMPARE(as<ChannelClose>(d).methodId, uint16_t{10});
    d = decode(splitFrames(corpus("amqplib_connection_update_secret"))[0].payload);
    QCOMPARE(qb(as<ConnectionUpdateSecret>(d).newSecret), QByteArray("guest"));
    QCOMPARE(qb(as<ConnectionUpdateSecret>(d).reason), QByteArray("refresh"));
    const std::vector<Frame> hb = splitFrames(corpus("rabbitmq_to_amqplib_heartbeat"));
    QCOMPARE(hb.size(), size_t{1});
    QCOMPARE(hb[0].type, frame_type::kHeartbeat);
    std::string ours;
    appendHeartbeatFrame(ours);
    QCOMPARE(qb(ours), qb(corpus("amqplib_heartbeat")));
}

void TstAmqpCodec::realLibrabbitmqPublish()
{
    const std::vector<Frame> frames = splitFrames(corpus("librabbitmq_publish_persistent_headers"));
    QCOMPARE(frames.size(), size_t{3});
    const Decoded d = decode(frames[0].payload);
    QCOMPARE(qb(as<BasicPublish>(d).exchange), QByteArray(""));
    QCOMPARE(qb(as<BasicPublish>(d).routingKey), QByteArray("tools.q"));
    const DecodedHeader h = decodeHeader(frames[1].payload);
    QVERIFY(h.ok);
    QCOMPARE(qb(h.header.properties.contentType), QByteArray("text/plain"));
    QCOMPARE(qb(h.header.properties.contentEncoding), QByteArray("gzip"));
    QCOMPARE(h.header.properties.deliveryMode, uint8_t{2});
    QCOMPARE(str(h.header.properties.headers.find("X-Tool")->asString()), std::string("amqp-publish"));
    QCOMPARE(qb(frames[2].payload), QByteArray("from amqp-tools"));
}

void TstAmqpCodec::realCorpusReencodesExactly()
{
    // Every frame of every real capture decodes, and its method or content header re-encodes to the same octets.
    QDir dir(QStringLiteral(AMQP_CORPUS_DIR));
    const QStringList files = dir.entryList(QDir::Files, QDir::Name);
    int checkedFiles = 0;
    int checkedMethods = 0;
    int checkedHeaders = 0;
    for (const QString &name : files) {
        if (name.startsWith(QLatin1String("edge_")))
            continue;
        const std::string &bytes = corpus(name.toStdString().c_str());
        const std::vector<Frame> frames = splitFrames(bytes, 0);
        QVERIFY2(!frames.empty(), qPrintable(name));
        for (const Frame &f : frames) {
            if (f.type == frame_type::kMethod) {
                const Decoded d = decode(f.payload);
                QVERIFY2(d.ok, qPrintable(name + ": " + QString::fromStdString(d.error.text)));
                std::string payload;
                QVERIFY(appendMethodPayload(payload, d.method));
                QVERIFY2(payload == f.payload, qPrintable(name));
                ++checkedMethods;
            } else if (f.type == frame_type::kHeader) {
                const DecodedHeader h = decodeHeader(f.payload);
                QVERIFY2(h.ok, qPrintable(name + ": " + QString::fromStdString(h.error.text)));
                std::string frame;
                QVERIFY(appendContentHeaderFrame(frame, f.channel, h.header.bodySize, h.header.properties));
                QVERIFY2(std::string_view(frame).substr(7, f.payload.size()) == f.payload, qPrintable(name));
                ++checkedHeaders;
            }
        }
        ++checkedFiles;
    }
    QVERIFY(checkedFiles >= 100);
    QVERIFY(checkedMethods >= 120);
    QVERIFY(checkedHeaders >= 20);
}

QTEST_APPLESS_MAIN(TstAmqpCodec)
#include "tst_amqp_codec.moc"
