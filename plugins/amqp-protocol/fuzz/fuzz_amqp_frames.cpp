// libFuzzer target for the AMQP 0-9-1 codec (see README.md). One input is read every way the broker reads bytes:
// as a client's stream (protocol header, then frames under two frame-max values), as a method payload, as a content
// header payload, as a length-prefixed field table, and as a body to split into frames. Every value decoded is
// encoded again and the result compared; any difference, an error without a code or text, or a NeedMore that asks
// for no more than it has, aborts.
//
// Linked with tests/fuzz/replay_main.cpp it gets a main() that runs each file of the directories (or files) given on
// the command line through the same function, for compilers without libFuzzer.
#include "codec/Codec.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace ferry::amqp;

[[noreturn]] void fail(const char *what, const std::string &detail = {})
{
    std::fprintf(stderr, "fuzz_amqp_frames: %s %s\n", what, detail.c_str());
    std::abort();
}

void checkError(const Error &e, const char *where)
{
    if (e.code == 0 || !replyCodeName(e.code))
        fail(where, "error without a known reply code");
    if (e.text.empty() || e.text.size() > 255)
        fail(where, "error text empty or longer than a shortstr: " + e.text);
    if (e.text.rfind(replyCodeName(e.code), 0) != 0)
        fail(where, "error text does not start with the code's name: " + e.text);
}

bool sameDouble(std::optional<double> a, std::optional<double> b)
{
    if (a.has_value() != b.has_value())
        return false;
    return !a || *a == *b || (std::isnan(*a) && std::isnan(*b));
}

// The getters of a view and of its owned copy agree, and agree with the value's type.
void checkScalarGetters(const FieldValueView &view, const FieldValue &owned)
{
    if (view.asUInt64() != owned.asUInt64() || view.asBool() != owned.asBool() ||
        view.asTimestamp() != owned.asTimestamp() || !sameDouble(view.asDouble(), owned.asDouble()))
        fail("owned getters differ from the view's");
    const auto d1 = view.asDecimal();
    const auto d2 = owned.asDecimal();
    if (d1.has_value() != d2.has_value() || (d1 && (d1->scale != d2->scale || d1->value != d2->value)))
        fail("owned decimal differs");
    if (view.isInteger() != view.asInt64().has_value() && view.type() != FieldType::Timestamp)
        fail("asInt64 disagrees with isInteger");
    if (view.asBool().has_value() != (view.type() == FieldType::Bool))
        fail("asBool answers for another type");
    const FieldType t = view.type();
    if ((t == FieldType::Table || t == FieldType::Array || t == FieldType::LongString || t == FieldType::ByteArray) &&
        owned.encodedSize() != 1 + 4 + view.bytes().size())
        fail("owned value size differs from the view's");
    (void)describeValue(view);
}

// Owned copy of a validated table must encode to the very same octets, and the views must agree with it.
void checkTable(const TableView &t)
{
    const FieldTable owned = FieldTable::fromView(t);
    if (owned.encodeEntries() != t.entries())
        fail("table does not survive FieldTable::fromView + encodeEntries");
    if (owned.encodedSize() != t.encodedSize())
        fail("owned table size differs");
    if (owned.size() != t.size())
        fail("owned table has another entry count");
    size_t i = 0;
    for (const TableEntryView &e : t) {
        const FieldValue &v = owned.at(i++).value;
        if (v.type() != e.value.type() || v.asInt64() != e.value.asInt64() || v.asString() != e.value.asString())
            fail("owned value differs from its view");
        if (auto nested = e.value.asTable(); nested && nested->size() != v.asTable()->size())
            fail("nested table differs");
        if (auto arr = e.value.asArray(); arr && arr->size() != v.asArray()->size())
            fail("nested array differs");
        if (!t.find(e.key))
            fail("find misses a key the iteration shows");
        checkScalarGetters(e.value, v);
    }
    (void)describeTable(t);

    // Editing a copy: set replaces in place, remove takes every entry with the key.
    if (!owned.empty()) {
        FieldTable edit = owned;
        const std::string first = edit.at(0).key;
        edit.set(first, FieldValue::int64(-1));
        if (edit.size() != owned.size() || edit.find(first)->asInt64() != -1)
            fail("FieldTable::set did not replace the first entry");
        const size_t removed = edit.remove(first);
        if (removed == 0 || edit.size() != owned.size() - removed || edit.find(first))
            fail("FieldTable::remove left an entry");
        edit.add(first, FieldValue(true));
        if (edit.find(first)->asBool() != true)
            fail("FieldTable::add did not append");
    }
}

// Visits a decoded method's arguments and checks every table among them.
struct TableChecker {
    void octet(const char *, uint8_t) {}
    void u16(const char *, uint16_t) {}
    void u32(const char *, uint32_t) {}
    void u64(const char *, uint64_t) {}
    void bit(const char *, bool) {}
    void shortString(const char *, std::string_view s)
    {
        if (s.size() > 255)
            fail("decoded shortstr longer than 255");
    }
    void longString(const char *, std::string_view) {}
    void table(const char *, const TableView &t) { checkTable(t); }
};

void checkMethodPayload(std::string_view payload)
{
    Method m;
    Error error;
    if (!decodeMethod(payload, m, error)) {
        checkError(error, "decodeMethod");
        return;
    }
    const MethodInfo &info = methodInfo(m);
    uint16_t classId = 0;
    uint16_t methodId = 0;
    if (!peekMethodId(payload, classId, methodId) || classId != info.classId || methodId != info.methodId)
        fail("decoded method has other ids than its payload");
    std::visit([](const auto &method) {
        TableChecker checker;
        std::decay_t<decltype(method)>::fields(method, checker);
    }, m);

    // Re-encoding gives a payload of the same size that decodes to the same method; it differs from the input only
    // where the input had unused bits set in a bit octet, so a second round trip is exact.
    std::string again;
    if (!appendMethodPayload(again, m))
        fail("decoded method does not encode");
    if (again.size() != payload.size())
        fail("re-encoded method payload has another size", describeMethod(m));
    Method m2;
    if (!decodeMethod(again, m2, error))
        fail("re-encoded method does not decode:", error.text);
    if (describeMethod(m2) != describeMethod(m))
        fail("re-encoded method decodes differently", describeMethod(m));
    std::string third;
    if (!appendMethodPayload(third, m2) || third != again)
        fail("second round trip is not exact");
    for (size_t i = 0; i < payload.size(); ++i)
        if (again[i] != payload[i] && (static_cast<unsigned char>(again[i]) & ~static_cast<unsigned char>(payload[i])))
            fail("re-encoded method sets a bit the input did not");

    std::string frame;
    if (!appendMethodFrame(frame, 1, m) || frame.size() != payload.size() + kFrameOverhead)
        fail("method frame has the wrong size");
}

void checkContentHeaderPayload(std::string_view payload)
{
    ContentHeader h;
    Error error;
    if (!decodeContentHeader(payload, h, error)) {
        checkError(error, "decodeContentHeader");
        return;
    }
    if (h.rawProperties.data() != payload.data() + 12 || h.rawProperties.size() != payload.size() - 12)
        fail("raw properties are not the payload after the fixed part");
    if (h.properties.has(property::kHeaders))
        checkTable(h.properties.headers);

    // Raw properties are copied as they are: the frame holds the payload exactly (weight aside, written as 0).
    std::string raw;
    appendContentHeaderFrame(raw, 1, h.bodySize, h.rawProperties);
    if (h.weight == 0 && std::string_view(raw).substr(kFrameHeaderSize, payload.size()) != payload)
        fail("content header with raw properties differs from its input");
    // From the struct: exact when the input had one flags word; decodes the same in any case.
    std::string built;
    if (!appendContentHeaderFrame(built, 1, h.bodySize, h.properties))
        fail("decoded properties do not encode");
    const std::string_view builtPayload = std::string_view(built).substr(kFrameHeaderSize, built.size() - kFrameOverhead);
    const bool oneFlagsWord = (static_cast<unsigned char>(payload[13]) & 1u) == 0;
    if (h.weight == 0 && oneFlagsWord && builtPayload != payload)
        fail("content header from properties differs from its input");
    ContentHeader again;
    if (!decodeContentHeader(builtPayload, again, error))
        fail("re-encoded content header does not decode:", error.text);
    if (describeProperties(again.properties) != describeProperties(h.properties) || again.bodySize != h.bodySize)
        fail("re-encoded content header decodes differently");
    if (basicPropertiesSize(h.properties) != builtPayload.size() - 12)
        fail("basicPropertiesSize disagrees with the encoder");
}

// A delivery made from a decoded content method (a publish becomes a deliver) and a decoded header must split back
// into that method, the same header payload, and no body frame.
void checkDelivery(const Method &method, uint16_t channel, const ContentHeader &h, uint32_t frameMax)
{
    Method out = method;
    if (const auto *p = std::get_if<BasicPublish>(&method)) {
        BasicDeliver d;
        d.consumerTag = "ctag";
        d.deliveryTag = 1;
        d.exchange = p->exchange;
        d.routingKey = p->routingKey;
        out = d;
    }
    std::string bytes;
    if (!appendDelivery(bytes, channel, out, h.rawProperties, {}, frameMax))
        fail("delivery from decoded parts does not encode");
    std::string_view rest(bytes);
    Frame f;
    Error error;
    if (parseFrame(rest, 0, f, error) != FrameStatus::Ok || f.type != frame_type::kMethod)
        fail("delivery method frame does not parse");
    Method back;
    if (!decodeMethod(f.payload, back, error) || describeMethod(back) != describeMethod(out))
        fail("delivery method decodes differently");
    rest.remove_prefix(f.size);
    if (parseFrame(rest, 0, f, error) != FrameStatus::Ok || f.type != frame_type::kHeader)
        fail("delivery header frame does not parse");
    ContentHeader again;
    if (!decodeContentHeader(f.payload, again, error) || again.rawProperties != h.rawProperties ||
        again.bodySize != 0)
        fail("delivery header decodes differently");
    if (f.size != rest.size())
        fail("delivery of an empty body has a body frame");
}

void checkStream(std::string_view input, uint32_t frameMax)
{
    if (checkProtocolHeader(input) == HeaderStatus::Valid)
        input.remove_prefix(kProtocolHeader.size());
    std::optional<Method> contentMethod; // views into input, which outlives the loop
    uint16_t contentChannel = 0;
    while (!input.empty()) {
        Frame frame;
        Error error;
        const FrameStatus status = parseFrame(input, frameMax, frame, error);
        if (status == FrameStatus::Error) {
            checkError(error, "parseFrame");
            return;
        }
        if (status == FrameStatus::NeedMore) {
            if (frame.size != 0 && frame.size <= input.size())
                fail("NeedMore asks for no more than it has");
            if (frame.size == 0 && input.size() >= kFrameHeaderSize)
                fail("NeedMore without a size although the header is there");
            return;
        }
        if (frame.size != frame.payload.size() + kFrameOverhead || frame.size > input.size() ||
            frame.payload.data() != input.data() + kFrameHeaderSize)
            fail("Ok with an impossible frame size");
        if (frameMax != 0 && frame.payload.size() > frameMax - kFrameOverhead + kFrameMaxTolerance)
            fail("frame over frame-max accepted");
        std::string again;
        appendFrame(again, frame.type, frame.channel, frame.payload);
        if (again != input.substr(0, frame.size))
            fail("frame does not re-encode to its input");
        switch (frame.type) {
        case frame_type::kMethod: {
            checkMethodPayload(frame.payload);
            Method m;
            contentMethod.reset();
            if (decodeMethod(frame.payload, m, error) && methodInfo(m).hasContent) {
                contentMethod = m;
                contentChannel = frame.channel;
            }
            break;
        }
        case frame_type::kHeader: {
            checkContentHeaderPayload(frame.payload);
            ContentHeader h;
            if (contentMethod && frame.channel == contentChannel && decodeContentHeader(frame.payload, h, error))
                checkDelivery(*contentMethod, frame.channel, h, frameMax);
            contentMethod.reset();
            break;
        }
        case frame_type::kHeartbeat:
            if (!frame.payload.empty()) // a heartbeat on channel N is well-formed; the session refuses it
                fail("bad heartbeat accepted");
            break;
        default: break;
        }
        input.remove_prefix(frame.size);
    }
}

void checkBareTable(std::string_view input)
{
    TableView t;
    size_t used = 0;
    Error error;
    if (!decodeTable(input, t, used, error)) {
        checkError(error, "decodeTable");
        return;
    }
    if (used != t.encodedSize() || used > input.size())
        fail("decodeTable consumed a wrong size");
    checkTable(t);
    std::string out;
    appendTable(out, t);
    if (out != input.substr(0, used))
        fail("appendTable differs from its input");
}

void checkBody(std::string_view input)
{
    // Small frame-max values exercise many frames without allocating much.
    const uint32_t frameMax = kFrameMinSize + (input.empty() ? 0 : static_cast<unsigned char>(input[0]));
    std::string out;
    appendBodyFrames(out, 3, input, frameMax);
    if (out.size() != bodyFramesSize(input.size(), frameMax))
        fail("bodyFramesSize disagrees with appendBodyFrames");
    std::string joined;
    std::string_view rest(out);
    while (!rest.empty()) {
        Frame f;
        Error error;
        if (parseFrame(rest, frameMax, f, error) != FrameStatus::Ok || f.type != frame_type::kBody)
            fail("body frame does not parse");
        if (f.payload.empty())
            fail("empty body frame written");
        joined += f.payload;
        rest.remove_prefix(f.size);
    }
    if (joined != input)
        fail("body frames do not join to the body");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view input(reinterpret_cast<const char *>(data), size);
    (void)checkProtocolHeader(data, size);
    checkStream(input, 131072);
    checkStream(input, kFrameMinSize);
    checkMethodPayload(input);
    checkContentHeaderPayload(input);
    checkBareTable(input);
    checkBody(input);
    return 0;
}
