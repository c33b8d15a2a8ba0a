// libFuzzer target for the rocket codec (see README.md). One input is read every way the broker reads bytes:
// as a stream of remoting frames, as stored message records back to back, as a batch body, as a property string,
// and as the text of an offset msgId and a host:port. Every decoded value is re-encoded and decoded again, and the
// result must be equal; any difference, or a Malformed/0 answer without an error text, aborts.
//
// Linked with tests/fuzz/replay_main.cpp it gets a main() that runs each file of the directories (or files) given on
// the command line through the same function, for compilers without libFuzzer.
#include "codec/MessageFormat.h"
#include "codec/RemotingCommand.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

using rocket::DecodeStatus;
using rocket::RemotingCommand;

[[noreturn]] void fail(const char *what, const std::string &detail = {})
{
    std::fprintf(stderr, "fuzz_rocket_remoting: %s %s\n", what, detail.c_str());
    std::abort();
}

const uint8_t *bytesOf(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }

bool sameCommand(const RemotingCommand &a, const RemotingCommand &b)
{
    return a.code == b.code && a.opaque == b.opaque && a.flag == b.flag && a.version == b.version &&
           a.language == b.language && a.remark == b.remark && a.extFields == b.extFields && a.body == b.body;
}

// A re-encoded frame must decode whole, to the same command.
void checkFrame(const std::string &frame, const RemotingCommand &original, uint8_t expectedType)
{
    if (frame.size() - 4 > rocket::kMaxFrameLength)
        return; // a command decoded from a legal frame may re-encode larger (escaping); not our property
    RemotingCommand again;
    size_t used = 0;
    std::string error;
    if (rocket::decodeFrame(bytesOf(frame), frame.size(), &again, &used, &error) != DecodeStatus::Ok)
        fail("re-encoded frame does not decode:", error);
    if (used != frame.size())
        fail("re-encoded frame decodes to a different size");
    if (again.serializeType != expectedType)
        fail("re-encoded frame has another serialize type");
    if (!sameCommand(original, again))
        fail("re-encoded frame decodes to a different command");
}

void checkCommand(const RemotingCommand &command)
{
    std::string json;
    try {
        json = rocket::encodeFrame(command);
    } catch (const std::length_error &) {
        return;
    }
    checkFrame(json, command, rocket::kSerializeJson);
    if (rocket::encodeJsonHeader(command) != json.substr(8, json.size() - 8 - command.body.size()))
        fail("encodeJsonHeader differs from the header in encodeFrame");

    // A binary header holds what a binary header decoded to (an int16 code and version, names it knows).
    if (command.serializeType == rocket::kSerializeRocketMq) {
        std::string binary;
        try {
            binary = rocket::encodeBinaryFrame(command);
        } catch (const std::length_error &) {
            return;
        }
        checkFrame(binary, command, rocket::kSerializeRocketMq);
    }
}

void fuzzFrames(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        RemotingCommand command;
        size_t used = 0;
        std::string error;
        const DecodeStatus status = rocket::decodeFrame(data + pos, size - pos, &command, &used, &error);
        if (status == DecodeStatus::Malformed) {
            if (error.empty())
                fail("Malformed without an error text");
            return;
        }
        if (status == DecodeStatus::NeedMore) {
            if (used != 0 && used <= size - pos)
                fail("NeedMore asks for no more than it has");
            return;
        }
        if (used < 8 || used > size - pos)
            fail("Ok with an impossible frame size");
        checkCommand(command);
        pos += used;
    }
}

bool sameMessage(const rocket::StoredMessage &a, const rocket::StoredMessage &b)
{
    return a.queueId == b.queueId && a.flag == b.flag && a.queueOffset == b.queueOffset &&
           a.commitLogOffset == b.commitLogOffset && a.sysFlag == b.sysFlag && a.bornTimestamp == b.bornTimestamp &&
           a.bornHost.address == b.bornHost.address && a.bornHost.port == b.bornHost.port &&
           a.storeTimestamp == b.storeTimestamp && a.storeHost.address == b.storeHost.address &&
           a.storeHost.port == b.storeHost.port && a.reconsumeTimes == b.reconsumeTimes &&
           a.preparedTransactionOffset == b.preparedTransactionOffset && a.body == b.body && a.topic == b.topic &&
           a.properties == b.properties;
}

void fuzzStoredMessages(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        rocket::StoredMessage message;
        std::string error;
        const size_t used = rocket::decodeStoredMessage(data + pos, size - pos, &message, &error);
        if (used == 0) {
            if (error.empty())
                fail("decodeStoredMessage returned 0 without an error text");
            return;
        }
        if (used > size - pos)
            fail("decodeStoredMessage claims more bytes than it was given");
        std::string encoded;
        if (rocket::encodeStoredMessage(message, encoded) != encoded.size() || encoded.empty())
            fail("encodeStoredMessage size mismatch");
        // The encoder picks the magic from the topic length, so the bytes match when the input did the same.
        const bool v2 = static_cast<uint8_t>(data[pos + 7]) == 0xAB;
        if (v2 == (message.topic.size() > 127) &&
            std::string_view(encoded) != std::string_view(reinterpret_cast<const char *>(data + pos), used))
            fail("re-encoded stored message differs from its input");
        rocket::StoredMessage again;
        if (rocket::decodeStoredMessage(bytesOf(encoded), encoded.size(), &again, &error) != encoded.size())
            fail("re-encoded stored message does not decode:", error);
        if (!sameMessage(message, again))
            fail("re-encoded stored message decodes differently");
        pos += used;
    }
}

void fuzzBatch(std::string_view input)
{
    std::string error;
    const auto items = rocket::decodeBatch(input, &error);
    if (!items) {
        if (error.empty())
            fail("decodeBatch failed without an error text");
        return;
    }
    const std::string encoded = rocket::encodeBatch(*items);
    const auto again = rocket::decodeBatch(encoded, &error);
    if (!again || again->size() != items->size())
        fail("re-encoded batch does not decode:", error);
    for (size_t i = 0; i < items->size(); ++i) {
        const rocket::BatchItem &a = (*items)[i];
        const rocket::BatchItem &b = (*again)[i];
        if (a.flag != b.flag || a.body != b.body || a.properties != b.properties)
            fail("re-encoded batch decodes differently");
    }
}

void fuzzProperties(std::string_view input)
{
    const auto pairs = rocket::decodeProperties(input);
    if (rocket::decodeProperties(rocket::encodeProperties(pairs)) != pairs)
        fail("re-encoded properties decode differently");
    for (const auto &[key, value] : pairs) {
        if (key.empty() || value.empty())
            fail("decodeProperties kept an empty key or value");
        if (!rocket::findProperty(input, key))
            fail("findProperty misses a decoded key");
    }
    if (!pairs.empty() && rocket::findProperty(input, pairs.back().first) != pairs.back().second)
        fail("findProperty does not answer the last value of a key");
}

void fuzzText(std::string_view input)
{
    if (const auto id = rocket::decodeOffsetMsgId(input)) {
        std::string upper(input);
        for (char &ch : upper)
            if (ch >= 'a' && ch <= 'f')
                ch = static_cast<char>(ch - 'a' + 'A');
        if (rocket::encodeOffsetMsgId(id->first, id->second) != upper)
            fail("offset msgId does not re-encode to its input");
    }
    if (const auto host = rocket::HostPort::parse(input)) {
        const auto again = rocket::HostPort::parse(host->toString());
        if (!again || again->address != host->address || again->port != host->port)
            fail("HostPort does not survive toString and parse");
    }
    (void)rocket::javaStringHash(input);
    (void)rocket::crc32(reinterpret_cast<const uint8_t *>(input.data()), input.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string_view input(reinterpret_cast<const char *>(data), size);
    fuzzFrames(data, size);
    fuzzStoredMessages(data, size);
    fuzzBatch(input);
    fuzzProperties(input);
    fuzzText(input);
    return 0;
}
