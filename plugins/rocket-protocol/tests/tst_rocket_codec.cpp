// Unit tests of the rocket codec (rocket_codec): remoting frames with JSON and binary headers, the stored message
// record, batch bodies, properties, offset msgIds, Java's String.hashCode and CRC-32. Expected bytes are written
// out by hand from ../shared/protocols/rocketmq-remoting.md, never produced by the code under test.
#include "codec/MessageFormat.h"
#include "codec/RemotingCommand.h"

#include <QtTest>

#include <string>
#include <vector>

using namespace rocket;

namespace {

QByteArray qb(const std::string &s) { return QByteArray(s.data(), static_cast<qsizetype>(s.size())); }
QByteArray qb(std::string_view s) { return QByteArray(s.data(), static_cast<qsizetype>(s.size())); }

std::string be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string be32(uint32_t v) { return be16(static_cast<uint16_t>(v >> 16)) + be16(static_cast<uint16_t>(v)); }
std::string be64(uint64_t v) { return be32(static_cast<uint32_t>(v >> 32)) + be32(static_cast<uint32_t>(v)); }

uint32_t readBe32(const std::string &s, size_t at)
{
    return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
           (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) | static_cast<uint8_t>(s[at + 3]);
}
uint64_t readBe64(const std::string &s, size_t at)
{
    return (static_cast<uint64_t>(readBe32(s, at)) << 32) | readBe32(s, at + 4);
}

// A frame assembled by hand: length | type << 24 | headerLen | header | body.
std::string frameOf(uint8_t type, const std::string &header, const std::string &body = {})
{
    return be32(static_cast<uint32_t>(4 + header.size() + body.size())) +
           be32((static_cast<uint32_t>(type) << 24) | static_cast<uint32_t>(header.size())) + header + body;
}

struct Decoded {
    DecodeStatus status = DecodeStatus::Malformed;
    RemotingCommand command;
    size_t used = 12345;
    std::string error;
};

Decoded decode(const std::string &bytes)
{
    Decoded d;
    d.status = decodeFrame(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), &d.command, &d.used,
                           &d.error);
    return d;
}

const char *statusName(DecodeStatus s)
{
    switch (s) {
    case DecodeStatus::Ok: return "Ok";
    case DecodeStatus::NeedMore: return "NeedMore";
    case DecodeStatus::Malformed: return "Malformed";
    }
    return "?";
}

// Java's String.hashCode over UTF-16 units, int32 wraparound.
int32_t hashOfUnits(std::initializer_list<uint16_t> units)
{
    uint32_t h = 0;
    for (const uint16_t u : units)
        h = 31 * h + u;
    return static_cast<int32_t>(h);
}

// Bit-at-a-time reference CRC-32 (reflected 0xEDB88320, init and xorout ~0).
uint32_t referenceCrc(const std::string &s)
{
    uint32_t c = 0xFFFFFFFFu;
    for (const char ch : s) {
        c ^= static_cast<uint8_t>(ch);
        for (int i = 0; i < 8; ++i)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

uint32_t crcOf(std::string_view s) { return crc32(reinterpret_cast<const uint8_t *>(s.data()), s.size()); }

HostPort v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, int32_t port)
{
    HostPort h;
    h.address = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
    h.port = port;
    return h;
}

StoredMessage sampleMessage()
{
    StoredMessage m;
    m.queueId = 3;
    m.flag = 0x11;
    m.queueOffset = 0x0102030405060708LL;
    m.commitLogOffset = 0x1112131415161718LL;
    m.sysFlag = sysflag::kMultiTags | sysflag::kTransactionCommit;
    m.bornTimestamp = 1700000000123LL;
    m.bornHost = v4(10, 0, 0, 7, 54321);
    m.storeTimestamp = 1700000000456LL;
    m.storeHost = v4(127, 0, 0, 1, 10911);
    m.reconsumeTimes = 2;
    m.preparedTransactionOffset = -1;
    m.body = "hello body";
    m.topic = "TopicTest";
    m.properties = encodeProperties({{"TAGS", "TagA"}, {"KEYS", "k1 k2"}});
    return m;
}

void compareMessages(const StoredMessage &a, const StoredMessage &b)
{
    QCOMPARE(a.queueId, b.queueId);
    QCOMPARE(a.flag, b.flag);
    QCOMPARE(a.queueOffset, b.queueOffset);
    QCOMPARE(a.commitLogOffset, b.commitLogOffset);
    QCOMPARE(a.sysFlag, b.sysFlag);
    QCOMPARE(a.bornTimestamp, b.bornTimestamp);
    QCOMPARE(qb(a.bornHost.address), qb(b.bornHost.address));
    QCOMPARE(a.bornHost.port, b.bornHost.port);
    QCOMPARE(a.storeTimestamp, b.storeTimestamp);
    QCOMPARE(qb(a.storeHost.address), qb(b.storeHost.address));
    QCOMPARE(a.storeHost.port, b.storeHost.port);
    QCOMPARE(a.reconsumeTimes, b.reconsumeTimes);
    QCOMPARE(a.preparedTransactionOffset, b.preparedTransactionOffset);
    QCOMPARE(qb(a.body), qb(b.body));
    QCOMPARE(qb(a.topic), qb(b.topic));
    QCOMPARE(qb(a.properties), qb(b.properties));
}

size_t decodeRecord(const std::string &bytes, StoredMessage *m, std::string *error)
{
    return decodeStoredMessage(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), m, error);
}

} // namespace

class TstRocketCodec : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // --- remoting frames
    void javaResponseHeaderExample();
    void aliOnsHeaderWithNumbersAndBooleans();
    void extFieldsNumberForms();
    void jsonHeaderDefaults();
    void headerLengthWord();
    void binaryHeaderExactBytes();
    void binaryHeaderDecodeDetails();
    void partialFramesNeedMore();
    void twoFramesInOneBuffer();
    void malformedFrames_data();
    void malformedFrames();
    void malformedDetectedBeforeTheWholeFrame();
    void frameSizeLimit();
    void jsonEscaping();
    void encoderReplacesInvalidUtf8();
    void fieldAccessors();
    void responseCommand();
    void languageNames();
    // --- stored messages
    void storedMessageRoundTrip();
    void storedMessageFixedLayout();
    void storedMessageBodyCrc();
    void storedMessageTopicV2();
    void storedMessageIpv6Hosts();
    void storedMessageBackToBack();
    void storedMessageTruncatedOrInvalid();
    void storedMessageEncodeRejects();
    // --- batch, properties, msgId, hashes
    void batchRoundTrip();
    void batchOverruns();
    void propertiesDecode();
    void propertiesEncode();
    void findPropertyLookups();
    void offsetMsgId();
    void hostPortParseAndFormat();
    void javaStringHashValues();
    void javaStringHashInvalidUtf8();
    void crc32Values();
};

// --------------------------------------------------------------------------------------------------------------
// Remoting frames

void TstRocketCodec::javaResponseHeaderExample()
{
    RemotingCommand c;
    c.code = 0;
    c.flag = kFlagResponse;
    c.opaque = 3;
    c.version = 479;
    c.set("msgId", "7F00000100002A9F0000000000000000");
    c.set("queueId", int64_t{1});
    c.set("queueOffset", int64_t{0});
    const std::string expected =
        R"({"code":0,"extFields":{"msgId":"7F00000100002A9F0000000000000000","queueId":"1","queueOffset":"0"},)"
        R"("flag":1,"language":"JAVA","opaque":3,"serializeTypeCurrentRPC":"JSON","version":479})";
    QCOMPARE(qb(encodeJsonHeader(c)), qb(expected));

    c.body = "body bytes";
    const std::string frame = encodeFrame(c);
    QCOMPARE(qb(frame), qb(frameOf(kSerializeJson, expected, "body bytes")));

    const Decoded d = decode(frame);
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.used, frame.size());
    QVERIFY(d.command.isResponse());
    QVERIFY(!d.command.isOneway());
    QCOMPARE(d.command.opaque, 3);
    QCOMPARE(d.command.version, 479);
    QCOMPARE(d.command.extFields.size(), size_t{3});
    QCOMPARE(qb(*d.command.field("msgId")), QByteArray("7F00000100002A9F0000000000000000"));
    QCOMPARE(qb(d.command.body), QByteArray("body bytes"));
    QCOMPARE(d.command.serializeType, kSerializeJson);
    QVERIFY(!d.command.remark);
}

void TstRocketCodec::aliOnsHeaderWithNumbersAndBooleans()
{
    const std::string header =
        R"({"code":310,"extFields":{"a":"PG","b":"T","e":0,"k":false,"g":1700000000123},"flag":0,"language":"JAVA",)"
        R"("opaque":7,"serializeTypeCurrentRPC":"JSON","version":121})";
    const Decoded d = decode(frameOf(kSerializeJson, header, "payload"));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.command.code, 310);
    QCOMPARE(d.command.opaque, 7);
    QCOMPARE(d.command.flag, 0);
    QCOMPARE(d.command.version, 121);
    QCOMPARE(qb(d.command.language), QByteArray("JAVA"));
    QCOMPARE(d.command.extFields.size(), size_t{5});
    QCOMPARE(qb(*d.command.field("a")), QByteArray("PG"));
    QCOMPARE(qb(*d.command.field("b")), QByteArray("T"));
    QCOMPARE(qb(*d.command.field("e")), QByteArray("0"));
    QCOMPARE(qb(*d.command.field("k")), QByteArray("false"));
    QCOMPARE(qb(*d.command.field("g")), QByteArray("1700000000123"));
    QCOMPARE(d.command.intField("g"), std::optional<int64_t>(1700000000123LL));
    QCOMPARE(d.command.intField("e"), std::optional<int64_t>(0));
    QCOMPARE(d.command.boolField("k", true), false);
    QCOMPARE(qb(d.command.body), QByteArray("payload"));

    // Re-encoded, the numbers and booleans are strings, keys in byte order.
    QCOMPARE(qb(encodeJsonHeader(d.command)),
             QByteArray(R"({"code":310,"extFields":{"a":"PG","b":"T","e":"0","g":"1700000000123","k":"false"},)"
                        R"("flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":121})"));
}

void TstRocketCodec::extFieldsNumberForms()
{
    const std::string header = R"({"code":1,"extFields":{)"
                               R"("neg":-1,"big":9007199254740993,"max":9223372036854775807,)"
                               R"("min":-9223372036854775808,"one":1.0,"half":1.5,"exp":1e3,"tenth":0.1,)"
                               R"("huge":1e300,"over":9223372036854775808,"third":0.3333333333333333,"t":true,"f":false,"nul":null,)"
                               R"("negzero":-0,"s":"text"}})";
    const Decoded d = decode(frameOf(kSerializeJson, header));
    QCOMPARE(statusName(d.status), "Ok");
    const auto f = [&](const char *k) { return d.command.field(k) ? qb(*d.command.field(k)) : QByteArray("<absent>"); };
    QCOMPARE(f("neg"), QByteArray("-1"));
    QCOMPARE(f("big"), QByteArray("9007199254740993"));
    QCOMPARE(f("max"), QByteArray("9223372036854775807"));
    QCOMPARE(f("min"), QByteArray("-9223372036854775808"));
    QCOMPARE(f("one"), QByteArray("1"));
    QCOMPARE(f("half"), QByteArray("1.5"));
    QCOMPARE(f("exp"), QByteArray("1000"));
    QCOMPARE(f("tenth"), QByteArray("0.1"));
    QCOMPARE(f("huge"), QByteArray("1e+300"));
    QCOMPARE(f("over"), QByteArray("9223372036854775808")); // a double (2^63), shortest form is fixed here
    QCOMPARE(f("third"), QByteArray("0.3333333333333333"));
    QCOMPARE(f("t"), QByteArray("true"));
    QCOMPARE(f("f"), QByteArray("false"));
    QCOMPARE(f("nul"), QByteArray("<absent>"));
    QCOMPARE(f("negzero"), QByteArray("0"));
    QCOMPARE(f("s"), QByteArray("text"));
    QCOMPARE(d.command.extFields.size(), size_t{15});
    QCOMPARE(d.command.intField("min"), std::optional<int64_t>(INT64_MIN));
    QCOMPARE(d.command.intField("half"), std::optional<int64_t>());
}

void TstRocketCodec::jsonHeaderDefaults()
{
    Decoded d = decode(frameOf(kSerializeJson, "{}"));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.command.code, 0);
    QCOMPARE(d.command.opaque, 0);
    QCOMPARE(d.command.flag, 0);
    QCOMPARE(d.command.version, 0);
    QCOMPARE(qb(d.command.language), QByteArray("JAVA"));
    QVERIFY(!d.command.remark);
    QVERIFY(d.command.extFields.empty());
    QVERIFY(d.command.body.empty());
    QCOMPARE(d.used, size_t{10});

    // cpp sends remark "" and ACL fields; null remark and null extFields are absent; unknown keys are ignored.
    d = decode(frameOf(kSerializeJson, R"( {"code":34,"language":"CPP","remark":"","extFields":null,"x":[1,{}]} )"));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(qb(d.command.language), QByteArray("CPP"));
    QVERIFY(d.command.remark.has_value());
    QCOMPARE(qb(*d.command.remark), QByteArray(""));
    QVERIFY(d.command.extFields.empty());
    d = decode(frameOf(kSerializeJson, R"({"remark":null,"extFields":{}})"));
    QCOMPARE(statusName(d.status), "Ok");
    QVERIFY(!d.command.remark);

    // A command without extFields or remark omits both keys.
    RemotingCommand c;
    c.code = 105;
    c.opaque = -5;
    QCOMPARE(qb(encodeJsonHeader(c)),
             QByteArray(R"({"code":105,"flag":0,"language":"JAVA","opaque":-5,"serializeTypeCurrentRPC":"JSON",)"
                        R"("version":0})"));
}

void TstRocketCodec::headerLengthWord()
{
    RemotingCommand c;
    c.code = 11;
    c.set("topic", "T");
    c.body = std::string(300, 'b');
    const std::string json = encodeFrame(c);
    const std::string header = encodeJsonHeader(c);
    QCOMPARE(readBe32(json, 0), static_cast<uint32_t>(4 + header.size() + 300));
    QCOMPARE(static_cast<uint8_t>(json[4]), uint8_t{0}); // type byte 0: JSON, always for replies
    QCOMPARE(readBe32(json, 4), static_cast<uint32_t>(header.size()));
    QCOMPARE(json.size(), 8 + header.size() + 300);

    const std::string binary = encodeBinaryFrame(c);
    QCOMPARE(static_cast<uint8_t>(binary[4]), uint8_t{1});
    const uint32_t binaryHeaderLen = readBe32(binary, 4) & 0xFFFFFF;
    QCOMPARE(readBe32(binary, 4), (1u << 24) | binaryHeaderLen);
    QCOMPARE(binaryHeaderLen, uint32_t{21 + 2 + 5 + 4 + 1}); // fixed part + one entry
    QCOMPARE(readBe32(binary, 0), 4 + binaryHeaderLen + 300);
}

void TstRocketCodec::binaryHeaderExactBytes()
{
    RemotingCommand c;
    c.code = 10;
    c.language = "CPP";
    c.version = 333;
    c.opaque = 0x01020304;
    c.flag = kFlagOneway;
    c.remark = "oops";
    c.set("k", "v");
    c.set("topic", "T");
    c.body = "BODY";
    const std::string header = be16(10) + std::string(1, '\x01') + be16(333) + be32(0x01020304) + be32(2) +
                               be32(4) + "oops" + be32(20) + be16(1) + "k" + be32(1) + "v" + be16(5) + "topic" +
                               be32(1) + "T";
    QCOMPARE(header.size(), size_t{45});
    const std::string expected = frameOf(kSerializeRocketMq, header, "BODY");
    QCOMPARE(qb(encodeBinaryFrame(c)), qb(expected));

    const Decoded d = decode(expected);
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.used, expected.size());
    QCOMPARE(d.command.serializeType, kSerializeRocketMq);
    QCOMPARE(d.command.code, 10);
    QCOMPARE(qb(d.command.language), QByteArray("CPP"));
    QCOMPARE(d.command.version, 333);
    QCOMPARE(d.command.opaque, 0x01020304);
    QCOMPARE(d.command.flag, 2);
    QVERIFY(d.command.isOneway());
    QCOMPARE(qb(d.command.remark.value_or("<null>")), QByteArray("oops"));
    QVERIFY(d.command.extFields == c.extFields);
    QCOMPARE(qb(d.command.body), QByteArray("BODY"));

    // Replies go out as JSON whatever the request used.
    const Decoded again = decode(encodeFrame(d.command));
    QCOMPARE(statusName(again.status), "Ok");
    QCOMPARE(again.command.serializeType, kSerializeJson);
    QVERIFY(again.command.extFields == c.extFields);
    QCOMPARE(again.command.code, 10);
    QCOMPARE(qb(again.command.body), QByteArray("BODY"));
}

void TstRocketCodec::binaryHeaderDecodeDetails()
{
    // Zero-length remark and extFields are null/empty; code and version are signed int16; an unknown language byte
    // becomes OTHER; empty entry strings are kept; bytes after the extFields area are ignored, as Java does.
    std::string header = be16(0xFFFF) + std::string(1, '\x63') + be16(0x8000) + be32(0xFFFFFFFF) + be32(1) +
                         be32(0) + be32(6) + be16(0) + be32(0) + "tail";
    Decoded d = decode(frameOf(kSerializeRocketMq, header));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.command.code, -1);
    QCOMPARE(d.command.version, -32768);
    QCOMPARE(d.command.opaque, -1);
    QCOMPARE(qb(d.command.language), QByteArray("OTHER"));
    QVERIFY(!d.command.remark);
    QCOMPARE(d.command.extFields.size(), size_t{1});
    QCOMPARE(qb(*d.command.field("")), QByteArray(""));

    // Strings decode like Java's new String(bytes, UTF_8): malformed bytes become U+FFFD.
    header = be16(1) + std::string(1, '\x0d') + be16(1) + be32(1) + be32(0) + be32(3) + "a\xFF" "b" + be32(0);
    d = decode(frameOf(kSerializeRocketMq, header));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(qb(d.command.language), QByteArray("NODE_JS"));
    QCOMPARE(qb(*d.command.remark), QByteArray("a\xEF\xBF\xBD" "b"));

    // Duplicate keys: the last one wins, like Java's HashMap.
    header = be16(1) + std::string(1, '\0') + be16(1) + be32(1) + be32(0) + be32(0) + be32(16) + be16(1) + "k" +
             be32(1) + "1" + be16(1) + "k" + be32(1) + "2";
    d = decode(frameOf(kSerializeRocketMq, header));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(qb(*d.command.field("k")), QByteArray("2"));
}

void TstRocketCodec::partialFramesNeedMore()
{
    RemotingCommand c;
    c.code = 310;
    c.opaque = 42;
    c.remark = "r";
    c.set("a", "PG");
    c.set("b", "TopicTest");
    c.body = "the message body";
    for (const std::string &frame : {encodeFrame(c), encodeBinaryFrame(c)}) {
        for (size_t k = 0; k < frame.size(); ++k) {
            const Decoded d = decode(frame.substr(0, k));
            QVERIFY2(d.status == DecodeStatus::NeedMore, qPrintable(QString("split at %1: %2 %3")
                                                                       .arg(k)
                                                                       .arg(statusName(d.status))
                                                                       .arg(QString::fromStdString(d.error))));
            QCOMPARE(d.used, k < 4 ? size_t{0} : frame.size());
        }
        const Decoded d = decode(frame);
        QCOMPARE(statusName(d.status), "Ok");
        QCOMPARE(d.used, frame.size());
        QCOMPARE(d.command.opaque, 42);
        QCOMPARE(qb(d.command.body), QByteArray("the message body"));
    }
    // A null buffer of length 0 is just "need more".
    size_t used = 99;
    QCOMPARE(statusName(decodeFrame(nullptr, 0, nullptr, &used, nullptr)), "NeedMore");
    QCOMPARE(used, size_t{0});
}

void TstRocketCodec::twoFramesInOneBuffer()
{
    RemotingCommand first;
    first.code = 34;
    first.opaque = 1;
    first.body = R"({"clientID":"ip@pid"})";
    RemotingCommand second;
    second.code = 11;
    second.opaque = 2;
    second.set("queueId", int64_t{3});
    const std::string a = encodeFrame(first);
    const std::string b = encodeBinaryFrame(second);
    const std::string stream = a + b + b.substr(0, 5);

    Decoded d = decode(stream);
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.used, a.size());
    QCOMPARE(d.command.opaque, 1);
    QCOMPARE(qb(d.command.body), qb(first.body));

    d = decode(stream.substr(a.size()));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.used, b.size());
    QCOMPARE(d.command.opaque, 2);
    QCOMPARE(d.command.intField("queueId"), std::optional<int64_t>(3));

    d = decode(stream.substr(a.size() + b.size()));
    QCOMPARE(statusName(d.status), "NeedMore");
    QCOMPARE(d.used, b.size());
}

void TstRocketCodec::malformedFrames_data()
{
    QTest::addColumn<QByteArray>("bytes");
    const auto row = [](const char *name, const std::string &bytes) { QTest::newRow(name) << qb(bytes); };
    const auto json = [&](const char *name, const std::string &header) { row(name, frameOf(0, header, "body")); };
    const auto bin = [&](const char *name, const std::string &header) { row(name, frameOf(1, header)); };
    const std::string fixed = be16(1) + std::string(1, '\0') + be16(1) + be32(1) + be32(0); // 13 bytes

    row("length 0", be32(0));
    row("length 3", be32(3) + "abc");
    row("length negative", be32(0xFFFFFFFF) + be32(0));
    row("length 16 MiB + 1", be32(kMaxFrameLength + 1) + be32(2) + "{}");
    row("header length beyond the frame", be32(4 + 2) + be32(3) + "{}");
    row("header length 24 bits beyond", be32(4 + 2) + be32(0x00FFFFFF) + "{}");
    row("serialize type 2", be32(4 + 2) + be32((2u << 24) | 2) + "{}");
    row("serialize type 0x80", be32(4 + 2) + be32((0x80u << 24) | 2) + "{}");

    json("empty JSON header", "");
    json("JSON array", "[]");
    json("JSON string", R"("x")");
    json("JSON number", "7");
    json("JSON truncated", R"({"code":1)");
    json("JSON trailing garbage", R"({"code":1}x)");
    json("JSON invalid UTF-8", "{\"remark\":\"\xFF\"}");
    json("JSON NUL inside", std::string("{\"code\":1,\0}", 12));
    json("code fraction", R"({"code":1.5})");
    json("code string", R"({"code":"10"})");
    json("code boolean", R"({"code":true})");
    json("code null", R"({"code":null})");
    json("code beyond int32", R"({"code":2147483648})");
    json("opaque beyond int32", R"({"opaque":-2147483649})");
    json("opaque exponent", R"({"opaque":1e20})");
    json("flag array", R"({"flag":[1]})");
    json("version object", R"({"version":{}})");
    json("extFields array", R"({"extFields":[]})");
    json("extFields string", R"({"extFields":"a=b"})");
    json("extFields number", R"({"extFields":5})");
    json("extFields value array", R"({"extFields":{"a":[1]}})");
    json("extFields value object", R"({"extFields":{"a":{"b":"c"}}})");

    bin("binary header empty", "");
    bin("binary header 16 bytes", fixed + std::string(3, '\0'));
    bin("binary header without ext length", fixed + be32(0));
    bin("binary remark overruns", fixed + be32(5) + "abc" + be32(0));
    bin("binary remark negative", fixed + be32(0xFFFFFFFF) + be32(0));
    bin("binary ext overruns", fixed + be32(0) + be32(9) + be16(1) + "k");
    bin("binary ext negative", fixed + be32(0) + be32(0x80000000));
    bin("binary key length cut", fixed + be32(0) + be32(1) + std::string(1, '\0'));
    bin("binary key overruns", fixed + be32(0) + be32(6) + be16(9) + "abcd");
    bin("binary key negative", fixed + be32(0) + be32(7) + be16(0x8000) + be32(0) + "x");
    bin("binary value length cut", fixed + be32(0) + be32(5) + be16(1) + "k" + std::string(2, '\0'));
    bin("binary value overruns", fixed + be32(0) + be32(9) + be16(1) + "k" + be32(3) + "ab");
    bin("binary value negative", fixed + be32(0) + be32(7) + be16(1) + "k" + be32(0xFFFFFFFE));
}

void TstRocketCodec::malformedFrames()
{
    QFETCH(QByteArray, bytes);
    const Decoded d = decode(bytes.toStdString());
    QCOMPARE(statusName(d.status), "Malformed");
    QVERIFY2(!d.error.empty(), "Malformed must say why");
}

void TstRocketCodec::malformedDetectedBeforeTheWholeFrame()
{
    // The length is judged with 4 bytes, the type and header length with 8, without waiting for the rest.
    Decoded d = decode(be32(kMaxFrameLength + 1));
    QCOMPARE(statusName(d.status), "Malformed");
    d = decode(be32(1000) + be32(3u << 24));
    QCOMPARE(statusName(d.status), "Malformed");
    QVERIFY(!d.error.empty());
    d = decode(be32(1000) + be32(997));
    QCOMPARE(statusName(d.status), "Malformed");
    d = decode(be32(1000) + be32(996));
    QCOMPARE(statusName(d.status), "NeedMore");
    QCOMPARE(d.used, size_t{1004});
}

void TstRocketCodec::frameSizeLimit()
{
    // The limit counts the length field's value: exactly 16 MiB is accepted, one more byte is not.
    RemotingCommand c;
    c.code = 11;
    const std::string header = encodeJsonHeader(c);
    c.body.assign(kMaxFrameLength - 4 - header.size(), 'x');
    std::string frame = encodeFrame(c);
    QCOMPARE(readBe32(frame, 0), kMaxFrameLength);
    Decoded d = decode(frame.substr(0, 100));
    QCOMPARE(statusName(d.status), "NeedMore");
    QCOMPARE(d.used, size_t{kMaxFrameLength} + 4);
    d = decode(frame);
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(d.command.body.size(), c.body.size());

    c.body.push_back('x');
    frame = encodeFrame(c);
    QCOMPARE(readBe32(frame, 0), kMaxFrameLength + 1);
    d = decode(frame);
    QCOMPARE(statusName(d.status), "Malformed");
    QVERIFY(!d.error.empty());
}

void TstRocketCodec::jsonEscaping()
{
    RemotingCommand c;
    c.code = 1;
    c.remark = std::string("say \"hi\" \\ \n\t\r\b\f\x01\x1f\x7f \xC3\xA9 /") + std::string(1, '\0');
    c.set("k\"ey", "a\rb\x02" "c");
    const std::string expected =
        R"({"code":1,"extFields":{"k\"ey":"a\u000db\u0002c"},"flag":0,"language":"JAVA","opaque":0,)"
        R"("remark":"say \"hi\" \\ \u000a\u0009\u000d\u0008\u000c\u0001\u001f)"
        "\x7f \xC3\xA9 /"
        R"(\u0000","serializeTypeCurrentRPC":"JSON","version":0})";
    QCOMPARE(qb(encodeJsonHeader(c)), qb(expected));

    // What the encoder escaped, the decoder restores.
    const Decoded d = decode(encodeFrame(c));
    QCOMPARE(statusName(d.status), "Ok");
    QCOMPARE(qb(*d.command.remark), qb(*c.remark));
    QVERIFY(d.command.extFields == c.extFields);

    // And escapes written by other encoders (short forms, \u with surrogate pairs, \/) decode too.
    const Decoded other = decode(frameOf(0, R"({"remark":"a\nb\/c\u00e9\ud83d\ude00\"","extFields":{"x\ty":"1"}})"));
    QCOMPARE(statusName(other.status), "Ok");
    QCOMPARE(qb(*other.command.remark), QByteArray("a\nb/c\xC3\xA9\xF0\x9F\x98\x80\""));
    QVERIFY(other.command.field("x\ty"));
}

void TstRocketCodec::encoderReplacesInvalidUtf8()
{
    // JSON cannot carry raw bytes: each malformed sequence goes out as U+FFFD, the way Java would have decoded it.
    RemotingCommand c;
    c.remark = std::string("a\xFF" "b\xC3" "c\xE2\x82" "d\xED\xA0\x80" "e\xF0\x9F\x98\x80");
    const std::string header = encodeJsonHeader(c);
    QVERIFY(header.find("\"remark\":\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d\xEF\xBF\xBD"
                        "e\xF0\x9F\x98\x80\"") != std::string::npos);
    const Decoded d = decode(encodeFrame(c));
    QCOMPARE(statusName(d.status), "Ok");
}

void TstRocketCodec::fieldAccessors()
{
    RemotingCommand c;
    c.set("neg", "-5");
    c.set("plus", "+7");
    c.set("plusminus", "+-7");
    c.set("word", "x1");
    c.set("empty", "");
    c.set("space", "1 ");
    c.set("over", "9223372036854775808");
    c.set("max", int64_t{INT64_MAX});
    c.set("T", "TRUE");
    c.set("t", "True");
    c.set("f", "false");
    c.set("yes", "yes");
    QCOMPARE(c.field("absent"), nullptr);
    QCOMPARE(qb(*c.field("max")), QByteArray("9223372036854775807"));
    QCOMPARE(c.intField("neg"), std::optional<int64_t>(-5));
    QCOMPARE(c.intField("plus"), std::optional<int64_t>(7));
    QCOMPARE(c.intField("plusminus"), std::optional<int64_t>());
    QCOMPARE(c.intField("word"), std::optional<int64_t>());
    QCOMPARE(c.intField("empty"), std::optional<int64_t>());
    QCOMPARE(c.intField("space"), std::optional<int64_t>());
    QCOMPARE(c.intField("over"), std::optional<int64_t>());
    QCOMPARE(c.intField("max"), std::optional<int64_t>(INT64_MAX));
    QCOMPARE(c.intField("absent"), std::optional<int64_t>());
    QCOMPARE(c.boolField("T"), true);
    QCOMPARE(c.boolField("t"), true);
    QCOMPARE(c.boolField("f", true), false);
    QCOMPARE(c.boolField("yes", true), false);
    QCOMPARE(c.boolField("empty", true), false);
    QCOMPARE(c.boolField("absent", true), true);
    QCOMPARE(c.boolField("absent"), false);
    c.set("neg", int64_t{12});
    QCOMPARE(c.intField("neg"), std::optional<int64_t>(12));
}

void TstRocketCodec::responseCommand()
{
    RemotingCommand request;
    request.code = 10;
    request.language = "CPP";
    request.version = 333;
    request.opaque = 9;
    request.flag = kFlagOneway;
    request.remark = "request remark";
    request.set("topic", "T");
    request.body = "body";
    request.serializeType = kSerializeRocketMq;

    const RemotingCommand r = request.response(code::kRequestCodeNotSupported, "10 request type not supported");
    QCOMPARE(r.code, 3);
    QCOMPARE(r.opaque, 9);
    QCOMPARE(r.flag, kFlagResponse);
    QVERIFY(r.isResponse());
    QVERIFY(!r.isOneway());
    QCOMPARE(qb(r.language), QByteArray("JAVA"));
    QCOMPARE(qb(r.remark.value_or("<null>")), QByteArray("10 request type not supported"));
    QVERIFY(r.extFields.empty());
    QVERIFY(r.body.empty());
    QCOMPARE(r.serializeType, kSerializeJson);
    QCOMPARE(qb(encodeJsonHeader(r)),
             QByteArray(R"({"code":3,"flag":1,"language":"JAVA","opaque":9,"remark":"10 request type not supported",)"
                        R"("serializeTypeCurrentRPC":"JSON","version":0})"));
    QVERIFY(!request.response(code::kSuccess).remark);
}

void TstRocketCodec::languageNames()
{
    const char *names[] = {"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY",
                           "OTHER", "HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS"};
    for (uint8_t i = 0; i < 14; ++i) {
        QCOMPARE(languageName(i), names[i]);
        QCOMPARE(languageCode(names[i]), i);
    }
    QCOMPARE(languageName(14), nullptr);
    QCOMPARE(languageName(255), nullptr);
    QCOMPARE(languageCode("java"), uint8_t{0});
    QCOMPARE(languageCode("COBOL"), uint8_t{0});
}

// --------------------------------------------------------------------------------------------------------------
// Stored messages

void TstRocketCodec::storedMessageRoundTrip()
{
    const StoredMessage m = sampleMessage();
    std::string buffer = "prefix";
    const size_t n = encodeStoredMessage(m, buffer);
    QCOMPARE(n, 91 + m.body.size() + m.topic.size() + m.properties.size());
    QCOMPARE(buffer.size(), 6 + n);
    const std::string record = buffer.substr(6);

    StoredMessage out;
    std::string error;
    QCOMPARE(decodeRecord(record, &out, &error), n);
    compareMessages(out, m);
    // The body points into the input.
    QVERIFY(out.body.data() >= record.data() && out.body.data() + out.body.size() <= record.data() + record.size());
}

void TstRocketCodec::storedMessageFixedLayout()
{
    const StoredMessage m = sampleMessage();
    std::string record;
    encodeStoredMessage(m, record);
    const uint32_t crc = referenceCrc(std::string(m.body)) & 0x7FFFFFFFu;
    const std::string expected = be32(static_cast<uint32_t>(record.size())) + be32(0xDAA320A7) + be32(crc) +
                                 be32(3) + be32(0x11) + be64(0x0102030405060708ULL) + be64(0x1112131415161718ULL) +
                                 be32(0x0A) + be64(1700000000123ULL) + std::string("\x0A\x00\x00\x07", 4) +
                                 be32(54321) + be64(1700000000456ULL) + std::string("\x7F\x00\x00\x01", 4) +
                                 be32(10911) + be32(2) + be64(0xFFFFFFFFFFFFFFFFULL) + be32(10) + "hello body" +
                                 std::string(1, '\x09') + "TopicTest" + be16(static_cast<uint16_t>(m.properties.size())) +
                                 m.properties;
    QCOMPARE(qb(record), qb(expected));
    QCOMPARE(readBe64(record, 20), uint64_t{0x0102030405060708ULL}); // QUEUEOFFSET
    QCOMPARE(readBe64(record, 28), uint64_t{0x1112131415161718ULL}); // PHYSICALOFFSET
    QCOMPARE(readBe32(record, 36), uint32_t{0x0A});                  // SYSFLAG
    QCOMPARE(readBe64(record, 56), uint64_t{1700000000456ULL});      // STORETIMESTAMP

    // With nothing variable, the record is its fixed part: 84 bytes of fields up to PREPARED_TRANSACTION_OFFSET plus
    // BODYLEN 4, TOPICLEN 1 and PROPLEN 2 = 91 with v1 magic (92 with v2's 2-byte topic length).
    StoredMessage empty;
    empty.bornHost = v4(1, 2, 3, 4, 5);
    empty.storeHost = v4(6, 7, 8, 9, 10);
    std::string bare;
    QCOMPARE(encodeStoredMessage(empty, bare), size_t{91});
    QCOMPARE(readBe32(bare, 84), uint32_t{0}); // BODYLEN
    QCOMPARE(static_cast<uint8_t>(bare[88]), uint8_t{0});
    StoredMessage out;
    std::string error;
    QCOMPARE(decodeRecord(bare, &out, &error), size_t{91});
}

void TstRocketCodec::storedMessageBodyCrc()
{
    StoredMessage m = sampleMessage();
    m.body = "123456789";
    std::string record;
    encodeStoredMessage(m, record);
    QCOMPARE(readBe32(record, 8), uint32_t{0x4BF43926}); // 0xCBF43926 & 0x7FFFFFFF

    // A body that no longer matches its CRC is not a valid record.
    record[88] ^= 1;
    StoredMessage out;
    std::string error;
    QCOMPARE(decodeRecord(record, &out, &error), size_t{0});
    QVERIFY(!error.empty());
}

void TstRocketCodec::storedMessageTopicV2()
{
    StoredMessage m = sampleMessage();
    m.topic = std::string(200, 't');
    std::string record;
    const size_t n = encodeStoredMessage(m, record);
    QCOMPARE(n, 92 + m.body.size() + 200 + m.properties.size());
    QCOMPARE(readBe32(record, 4), uint32_t{0xDAA320AB});
    const size_t topicAt = 88 + m.body.size();
    QCOMPARE(static_cast<uint8_t>(record[topicAt]), uint8_t{0x00});
    QCOMPARE(static_cast<uint8_t>(record[topicAt + 1]), uint8_t{200});
    StoredMessage out;
    std::string error;
    QCOMPARE(decodeRecord(record, &out, &error), n);
    compareMessages(out, m);

    // 127 bytes still fit v1's signed byte; 128 do not.
    for (const size_t len : {size_t{127}, size_t{128}}) {
        m.topic = std::string(len, 'x');
        record.clear();
        encodeStoredMessage(m, record);
        QCOMPARE(readBe32(record, 4), len == 127 ? uint32_t{0xDAA320A7} : uint32_t{0xDAA320AB});
        QCOMPARE(decodeRecord(record, &out, &error), record.size());
        QCOMPARE(out.topic.size(), len);
    }
}

void TstRocketCodec::storedMessageIpv6Hosts()
{
    StoredMessage m = sampleMessage();
    m.bornHost = *HostPort::parse("[2001:db8::7]:40000");
    m.sysFlag = sysflag::kStoreHostV6; // wrong on purpose: the encoder sets the bits from the host sizes
    std::string record;
    const size_t n = encodeStoredMessage(m, record);
    QCOMPARE(n, 91 + 12 + m.body.size() + m.topic.size() + m.properties.size());
    QCOMPARE(readBe32(record, 36), static_cast<uint32_t>(sysflag::kBornHostV6));
    StoredMessage out;
    std::string error;
    QCOMPARE(decodeRecord(record, &out, &error), n);
    m.sysFlag = sysflag::kBornHostV6;
    compareMessages(out, m);
    QCOMPARE(qb(out.bornHost.toString()), QByteArray("[2001:db8::7]:40000"));

    m.storeHost = *HostPort::parse("[::1]:10911");
    record.clear();
    QCOMPARE(encodeStoredMessage(m, record), n + 12);
    QCOMPARE(readBe32(record, 36), static_cast<uint32_t>(sysflag::kBornHostV6 | sysflag::kStoreHostV6));
    QCOMPARE(decodeRecord(record, &out, &error), n + 12);
    m.sysFlag |= sysflag::kStoreHostV6;
    compareMessages(out, m);
}

void TstRocketCodec::storedMessageBackToBack()
{
    StoredMessage a = sampleMessage();
    StoredMessage b = sampleMessage();
    b.queueOffset = a.queueOffset + 1;
    b.body = "second";
    b.properties.clear();
    std::string body;
    const size_t na = encodeStoredMessage(a, body);
    const size_t nb = encodeStoredMessage(b, body);
    std::vector<StoredMessage> seen;
    size_t pos = 0;
    while (pos < body.size()) {
        StoredMessage m;
        std::string error;
        const size_t used =
            decodeStoredMessage(reinterpret_cast<const uint8_t *>(body.data()) + pos, body.size() - pos, &m, &error);
        QVERIFY2(used > 0, error.c_str());
        seen.push_back(m);
        pos += used;
    }
    QCOMPARE(seen.size(), size_t{2});
    QCOMPARE(pos, na + nb);
    compareMessages(seen[0], a);
    compareMessages(seen[1], b);
}

void TstRocketCodec::storedMessageTruncatedOrInvalid()
{
    std::string record;
    encodeStoredMessage(sampleMessage(), record);
    StoredMessage out;
    std::string error;
    for (size_t k = 0; k < record.size(); ++k) {
        error.clear();
        QCOMPARE(decodeRecord(record.substr(0, k), &out, &error), size_t{0});
        QVERIFY(!error.empty());
    }
    QCOMPARE(decodeStoredMessage(nullptr, 0, &out, &error), size_t{0});

    const auto patched = [&](size_t at, const std::string &bytes) {
        std::string r = record;
        r.replace(at, bytes.size(), bytes);
        return r;
    };
    const auto rejects = [&](const std::string &r) {
        error.clear();
        return decodeRecord(r, &out, &error) == 0 && !error.empty();
    };
    QVERIFY(rejects(patched(4, be32(0x12345678))));                     // unknown magic
    QVERIFY(rejects(patched(4, be32(0xCBD43194))));                     // BLANK_MAGIC: end of a commit log file
    QVERIFY(rejects(patched(0, be32(90))));                             // TOTALSIZE below the fixed part
    QVERIFY(rejects(patched(0, be32(0x80000000))));                     // negative TOTALSIZE
    QVERIFY(rejects(patched(0, be32(static_cast<uint32_t>(record.size() - 1))))); // fields overrun TOTALSIZE
    QVERIFY(rejects(patched(84, be32(0xFFFFFFFF))));                    // negative BODYLEN
    QVERIFY(rejects(patched(84, be32(0x7FFFFFFF))));                    // BODYLEN overruns
    QVERIFY(rejects(patched(88 + 10, std::string(1, '\x80'))));         // negative v1 TOPICLEN
    QVERIFY(rejects(patched(88 + 10, std::string(1, '\x7F'))));         // TOPICLEN overruns
    QVERIFY(rejects(patched(88 + 10 + 1 + 9, be16(0x8000))));           // negative PROPLEN
    QVERIFY(rejects(patched(88 + 10 + 1 + 9, be16(0x7FFF))));           // PROPLEN overruns
    QVERIFY(rejects(patched(36, be32(sysflag::kBornHostV6))));          // v6 host size shifts every field after it

    // TOTALSIZE larger than the fields, with the bytes present, is not valid either.
    std::string padded = record + "pad";
    padded.replace(0, 4, be32(static_cast<uint32_t>(padded.size())));
    QVERIFY(rejects(padded));
    // The original still decodes, and a shorter record in a longer buffer takes only its own bytes.
    QCOMPARE(decodeRecord(record + "trailing", &out, &error), record.size());
}

void TstRocketCodec::storedMessageEncodeRejects()
{
    StoredMessage m = sampleMessage();
    std::string out = "keep";
    m.bornHost.address = "abc";
    QCOMPARE(encodeStoredMessage(m, out), size_t{0});
    m = sampleMessage();
    m.storeHost.address.clear();
    QCOMPARE(encodeStoredMessage(m, out), size_t{0});
    m = sampleMessage();
    m.topic = std::string(32768, 't');
    QCOMPARE(encodeStoredMessage(m, out), size_t{0});
    m = sampleMessage();
    m.properties = std::string(32768, 'p');
    QCOMPARE(encodeStoredMessage(m, out), size_t{0});
    QCOMPARE(qb(out), QByteArray("keep"));
    m.properties = std::string(32767, 'p');
    QVERIFY(encodeStoredMessage(m, out) > 0);
}

// --------------------------------------------------------------------------------------------------------------
// Batch, properties, msgId, hashes

void TstRocketCodec::batchRoundTrip()
{
    std::vector<BatchItem> items(3);
    items[0].flag = 1;
    items[0].body = "first";
    items[0].properties = encodeProperties({{"TAGS", "a"}, {"UNIQ_KEY", "7F0000016763"}});
    items[1].flag = 0;
    items[1].body = "";
    items[2].flag = -2;
    items[2].body = std::string_view("\0\x01\x02", 3);
    items[2].properties = "KEYS\x01k\x02";
    const std::string body = encodeBatch(items);

    const std::string first = be32(22 + 5 + 29) + be32(0) + be32(0) + be32(1) + be32(5) + "first" + be16(29) +
                              "TAGS\x01" "a\x02UNIQ_KEY\x01" "7F0000016763\x02";
    QCOMPARE(qb(body.substr(0, first.size())), qb(first));
    QCOMPARE(body.size(), first.size() + 22 + (22 + 3 + 7));

    std::string error;
    const auto decoded = decodeBatch(body, &error);
    QVERIFY2(decoded.has_value(), error.c_str());
    QCOMPARE(decoded->size(), size_t{3});
    for (size_t i = 0; i < 3; ++i) {
        QCOMPARE((*decoded)[i].flag, items[i].flag);
        QCOMPARE(qb((*decoded)[i].body), qb(items[i].body));
        QCOMPARE(qb((*decoded)[i].properties), qb(items[i].properties));
        QVERIFY((*decoded)[i].body.data() >= body.data() &&
                (*decoded)[i].body.data() + (*decoded)[i].body.size() <= body.data() + body.size());
    }
    const auto none = decodeBatch({}, &error);
    QVERIFY(none.has_value());
    QVERIFY(none->empty());

    // Like Java, the items' totalSize, magic and bodyCRC values are not checked.
    const std::string loose = be32(999) + be32(0xDAA320A7) + be32(0x1234) + be32(0) + be32(1) + "x" + be16(0);
    const auto parsed = decodeBatch(loose, &error);
    QVERIFY(parsed.has_value());
    QCOMPARE(qb(parsed->at(0).body), QByteArray("x"));
}

void TstRocketCodec::batchOverruns()
{
    const std::string good = be32(22 + 3 + 2) + be32(0) + be32(0) + be32(0) + be32(3) + "abc" + be16(2) + "pp";
    const auto fails = [](const std::string &bytes) {
        std::string error;
        const auto r = decodeBatch(bytes, &error);
        return !r.has_value() && !error.empty();
    };
    QVERIFY(!fails(good));
    QVERIFY(!fails(good + good));
    for (size_t k = 1; k < good.size(); ++k)
        QVERIFY2(fails(good + good.substr(0, k)), qPrintable(QString("cut at %1").arg(k)));
    QVERIFY(fails(be32(27) + be32(0) + be32(0) + be32(0) + be32(4) + "abc" + be16(2) + "pp"));      // body overruns
    QVERIFY(fails(be32(27) + be32(0) + be32(0) + be32(0) + be32(3) + "abc" + be16(3) + "pp"));      // props overrun
    QVERIFY(fails(be32(27) + be32(0) + be32(0) + be32(0) + be32(0xFFFFFFFF) + "abc" + be16(2) + "pp")); // negative
    QVERIFY(fails(be32(27) + be32(0) + be32(0) + be32(0) + be32(3) + "abc" + be16(0xFFFF) + "pp")); // negative props
    QVERIFY(fails(be32(0x80000000) + be32(0) + be32(0) + be32(0) + be32(3) + "abc" + be16(2) + "pp")); // negative total
}

void TstRocketCodec::propertiesDecode()
{
    // ali-ons' resent message: a bogus empty pair plus the client-added offsets.
    const std::string text = std::string("\x01\x02") + "TAGS\x01TagA\x02KEYS\x01k1 k2\x02MIN_OFFSET\x01" "0\x02" +
                             "MAX_OFFSET\x01" "12";
    const auto pairs = decodeProperties(text);
    QCOMPARE(pairs.size(), size_t{4});
    QCOMPARE(qb(pairs[0].first), QByteArray("TAGS"));
    QCOMPARE(qb(pairs[0].second), QByteArray("TagA"));
    QCOMPARE(qb(pairs[1].first), QByteArray("KEYS"));
    QCOMPARE(qb(pairs[1].second), QByteArray("k1 k2"));
    QCOMPARE(qb(pairs[2].first), QByteArray("MIN_OFFSET"));
    QCOMPARE(qb(pairs[2].second), QByteArray("0"));
    QCOMPARE(qb(pairs[3].first), QByteArray("MAX_OFFSET"));
    QCOMPARE(qb(pairs[3].second), QByteArray("12"));

    // Skipped like Java: empty key, empty value, no separator, too short; a later \x01 stays in the value.
    const auto odd = decodeProperties(std::string("\x01v\x02k\x01\x02novalue\x02\x02") + "a\x01" "b\x02" +
                                      "k\x01x\x01y\x02\x02\x02");
    QCOMPARE(odd.size(), size_t{2});
    QCOMPARE(qb(odd[0].first), QByteArray("a"));
    QCOMPARE(qb(odd[0].second), QByteArray("b"));
    QCOMPARE(qb(odd[1].first), QByteArray("k"));
    QCOMPARE(qb(odd[1].second), QByteArray("x\x01y"));
    QVERIFY(decodeProperties("").empty());
    QVERIFY(decodeProperties("\x01\x02").empty());

    // Duplicates are returned in order.
    const auto dup = decodeProperties("K\x01" "1\x02K\x01" "2\x02");
    QCOMPARE(dup.size(), size_t{2});
    QCOMPARE(qb(dup[1].second), QByteArray("2"));
}

void TstRocketCodec::propertiesEncode()
{
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"UNIQ_KEY", "7F000001676303BE2B397DE3922B0001"}, {"WAIT", "true"}, {"TAGS", "TagA"}};
    const std::string text = encodeProperties(pairs);
    QCOMPARE(qb(text), QByteArray("UNIQ_KEY\x01" "7F000001676303BE2B397DE3922B0001\x02WAIT\x01true\x02TAGS\x01TagA\x02"));
    QVERIFY(decodeProperties(text) == pairs);
    QCOMPARE(qb(encodeProperties({})), QByteArray());
}

void TstRocketCodec::findPropertyLookups()
{
    const std::string text = std::string("\x01\x02") + "TAGS\x01TagA\x02KEYS\x01k1\x02TAGS\x01TagB\x02" "E\x01\x02";
    QCOMPARE(findProperty(text, "KEYS"), std::optional<std::string>("k1"));
    QCOMPARE(findProperty(text, "TAGS"), std::optional<std::string>("TagB")); // the last one, like Java's map
    QCOMPARE(findProperty(text, "TAG"), std::optional<std::string>());
    QCOMPARE(findProperty(text, "AGS"), std::optional<std::string>());
    QCOMPARE(findProperty(text, "E"), std::optional<std::string>()); // empty value: skipped
    QCOMPARE(findProperty(text, ""), std::optional<std::string>());
    QCOMPARE(findProperty("", "TAGS"), std::optional<std::string>());
    QCOMPARE(findProperty("DELAY\x01" "3", "DELAY"), std::optional<std::string>("3"));
}

void TstRocketCodec::offsetMsgId()
{
    const HostPort local = v4(127, 0, 0, 1, 10911);
    QCOMPARE(qb(encodeOffsetMsgId(local, 0)), QByteArray("7F00000100002A9F0000000000000000"));
    QCOMPARE(qb(encodeOffsetMsgId(local, 0x0123456789ABCDEFLL)), QByteArray("7F00000100002A9F0123456789ABCDEF"));

    for (const char *text : {"7F00000100002A9F0000000000000000", "7f00000100002a9f0000000000000000"}) {
        const auto id = decodeOffsetMsgId(text);
        QVERIFY(id.has_value());
        QCOMPARE(qb(id->first.address), QByteArray("\x7F\x00\x00\x01", 4));
        QCOMPARE(id->first.port, 10911);
        QCOMPARE(id->second, int64_t{0});
        QCOMPARE(qb(id->first.toString()), QByteArray("127.0.0.1:10911"));
    }
    const auto big = decodeOffsetMsgId("0A0000070000270FFFFFFFFFFFFFFFFF");
    QVERIFY(big.has_value());
    QCOMPARE(big->second, int64_t{-1});
    QCOMPARE(big->first.port, 9999);

    const HostPort v6 = *HostPort::parse("[2001:db8::1]:10911");
    const std::string id6 = encodeOffsetMsgId(v6, 4096);
    QCOMPARE(qb(id6), QByteArray("20010DB800000000000000000000000100002A9F0000000000001000"));
    const auto back6 = decodeOffsetMsgId(id6);
    QVERIFY(back6.has_value());
    QCOMPARE(qb(back6->first.address), qb(v6.address));
    QCOMPARE(back6->second, int64_t{4096});

    for (const char *bad : {"", "7F00000100002A9F000000000000000", "7F00000100002A9F00000000000000000",
                            "7F00000100002A9F000000000000000G", "7F00000100002A9F00000000000000 0",
                            "7F000001FFFFFFFF0000000000000000", "7F00000100010000000000000000000"
                                                                "0"}) // port 65536
        QVERIFY2(!decodeOffsetMsgId(bad).has_value(), bad);
    HostPort broken;
    broken.address = "abc";
    QCOMPARE(qb(encodeOffsetMsgId(broken, 1)), QByteArray());
}

void TstRocketCodec::hostPortParseAndFormat()
{
    auto h = HostPort::parse("127.0.0.1:10911");
    QVERIFY(h.has_value());
    QCOMPARE(qb(h->address), QByteArray("\x7F\x00\x00\x01", 4));
    QCOMPARE(h->port, 10911);
    QCOMPARE(qb(h->toString()), QByteArray("127.0.0.1:10911"));

    h = HostPort::parse("[::1]:9876");
    QVERIFY(h.has_value());
    QCOMPARE(h->address.size(), size_t{16});
    QCOMPARE(static_cast<uint8_t>(h->address[15]), uint8_t{1});
    QCOMPARE(qb(h->toString()), QByteArray("[::1]:9876"));

    const std::pair<const char *, const char *> formats[] = {
        {"[2001:0DB8:0:0:0:0:0:1]:80", "[2001:db8::1]:80"},
        {"[::]:0", "[::]:0"},
        {"[1:0:0:2:0:0:0:3]:1", "[1:0:0:2::3]:1"},
        {"[1:0:2:3:4:5:6:7]:1", "[1:0:2:3:4:5:6:7]:1"},
        {"[::ffff:1.2.3.4]:65535", "[::ffff:102:304]:65535"},
        {"[1:2:3:4:5:6:7::]:1", "[1:2:3:4:5:6:7:0]:1"},
    };
    for (const auto &[in, out] : formats) {
        const auto p = HostPort::parse(in);
        QVERIFY2(p.has_value(), in);
        QCOMPARE(qb(p->toString()), QByteArray(out));
    }
    for (const char *bad : {"", "1.2.3.4", "1.2.3:1", "1.2.3.4.5:1", "256.0.0.1:1", "1.2.3.4:65536", "1.2.3.4:",
                            "1.2.3.4:-1", "1.2.3.4:+1", "host:1", "[::1]", "[::1]:", "[1::2::3]:1", "[1:2:3:4:5:6:7:8:9]:1",
                            "[12345::]:1", "[::g]:1", "[1.2.3.4::]:1", ":1", "[]:1", "1..2.3:1", "1.2.3.4:1x"})
        QVERIFY2(!HostPort::parse(bad).has_value(), bad);
    HostPort odd;
    odd.address = "xy";
    QCOMPARE(qb(odd.toString()), QByteArray());
}

void TstRocketCodec::javaStringHashValues()
{
    QCOMPARE(javaStringHash(""), 0);
    QCOMPARE(javaStringHash("TagA"), 2598919); // 84*31^3 + 97*31^2 + 103*31 + 65
    QCOMPARE(javaStringHash("TagA"), hashOfUnits({'T', 'a', 'g', 'A'}));
    QCOMPARE(javaStringHash("hello"), 99162322);
    QCOMPARE(javaStringHash("Hello World"), -862545276); // wraps around
    QCOMPARE(javaStringHash("\xC3\xA9"), 233);           // "é" is one UTF-16 unit, U+00E9
    QCOMPARE(javaStringHash("\xE6\xA0\x87\xE7\xAD\xBE"), hashOfUnits({0x6807, 0x7B7E})); // "标签"
    QCOMPARE(javaStringHash("\xE6\xA0\x87\xE7\xAD\xBE"), 857175);
    // "😀" U+1F600 is the surrogate pair D83D DE00: 0xD83D * 31 + 0xDE00 = 1772899.
    QCOMPARE(javaStringHash("\xF0\x9F\x98\x80"), hashOfUnits({0xD83D, 0xDE00}));
    QCOMPARE(javaStringHash("\xF0\x9F\x98\x80"), 1772899);
    QCOMPARE(javaStringHash("a\xF0\x9F\x98\x80" "b"), 57849694);
    QCOMPARE(javaStringHash("%RETRY%group"), 995971261);
}

void TstRocketCodec::javaStringHashInvalidUtf8()
{
    // Java's decoder replaces each malformed sequence with U+FFFD (65533); the byte counts follow the JDK.
    QCOMPARE(javaStringHash("\xFF"), 65533);
    QCOMPARE(javaStringHash("\x80"), 65533);
    QCOMPARE(javaStringHash("a\xC3"), hashOfUnits({'a', 0xFFFD}));                   // cut 2-byte sequence
    QCOMPARE(javaStringHash("\xC0\x80"), hashOfUnits({0xFFFD, 0xFFFD}));             // overlong: two bytes, two U+FFFD
    QCOMPARE(javaStringHash("\xE2\x82" "A"), hashOfUnits({0xFFFD, 'A'}));            // bad third byte: 2 bytes, one U+FFFD
    QCOMPARE(javaStringHash("\xE2" "AB"), hashOfUnits({0xFFFD, 'A', 'B'}));          // bad second byte: 1 byte
    QCOMPARE(javaStringHash("\xE2\x82"), hashOfUnits({0xFFFD}));                     // cut at the end: one U+FFFD
    QCOMPARE(javaStringHash("\xE0\x80\x80"), hashOfUnits({0xFFFD, 0xFFFD, 0xFFFD})); // overlong 3-byte
    QCOMPARE(javaStringHash("\xED\xA0\x80"), hashOfUnits({0xFFFD}));                 // encoded surrogate: one U+FFFD
    QCOMPARE(javaStringHash("\xF0\x9F\x98"), hashOfUnits({0xFFFD}));                 // cut 4-byte at the end
    QCOMPARE(javaStringHash("\xF0\x9F\x98" "A"), hashOfUnits({0xFFFD, 'A'}));        // bad fourth byte: 3 bytes
    QCOMPARE(javaStringHash("\xF0\x80\x80\x80"), hashOfUnits({0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD})); // overlong 4-byte
    QCOMPARE(javaStringHash("\xF4\x90\x80\x80"), hashOfUnits({0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD})); // above U+10FFFF
    QCOMPARE(javaStringHash("\xF8" "A"), hashOfUnits({0xFFFD, 'A'}));
    QCOMPARE(javaStringHash("\xEF\xBF\xBD"), 65533); // a real U+FFFD
}

void TstRocketCodec::crc32Values()
{
    QCOMPARE(crcOf("123456789"), uint32_t{0xCBF43926});
    QCOMPARE(crcOf(""), uint32_t{0});
    QCOMPARE(crc32(nullptr, 0), uint32_t{0});
    QCOMPARE(crcOf("a"), uint32_t{0xE8B7BE43});
    QCOMPARE(crcOf("The quick brown fox jumps over the lazy dog"), uint32_t{0x414FA339});
    // Every length and alignment around the 8-byte fast path agrees with the bitwise reference.
    std::string data;
    for (int i = 0; i < 300; ++i)
        data.push_back(static_cast<char>(i * 131 + 7));
    for (size_t start = 0; start < 9; ++start)
        for (size_t len = 0; len + start <= data.size(); len += 7)
            QCOMPARE(crcOf(std::string_view(data).substr(start, len)), referenceCrc(data.substr(start, len)));
}

QTEST_GUILESS_MAIN(TstRocketCodec)
#include "tst_rocket_codec.moc"
