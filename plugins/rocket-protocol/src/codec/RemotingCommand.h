// RemotingCommand: one RocketMQ remoting frame (request or response) and its codec. Sans-I/O and allocation-light:
// decodeFrame() looks at a byte buffer and says how much of it is one whole frame; the parsed command borrows
// nothing from the input (strings are copied), so the caller may drop the bytes afterwards.
//
// Wire format (../shared/protocols/rocketmq-remoting.md §1), big-endian:
//   int32 length = 4 + headerLen + bodyLen | int32 (serializeType << 24 | headerLen) | header | body
// serializeType 0 = JSON header, 1 = ROCKETMQ binary header. Replies are always encoded as JSON (type byte 0).
//
// extFields values arrive as JSON strings, numbers or booleans (real clients send all three); they are kept as
// strings: integers in decimal (int64), booleans as "true"/"false", other numbers in the shortest decimal form.
//
// Threading: plain values and pure functions; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rocket {

// Response codes used by the broker and name server (fact sheet §2.1).
namespace code {
constexpr int kSuccess = 0;
constexpr int kSystemError = 1;
constexpr int kSystemBusy = 2;
constexpr int kRequestCodeNotSupported = 3;
constexpr int kTransactionFailed = 4;
constexpr int kFlushDiskTimeout = 10;
constexpr int kSlaveNotAvailable = 11;
constexpr int kFlushSlaveTimeout = 12;
constexpr int kMessageIllegal = 13;
constexpr int kServiceNotAvailable = 14;
constexpr int kVersionNotSupported = 15;
constexpr int kNoPermission = 16;
constexpr int kTopicNotExist = 17;
constexpr int kTopicExistAlready = 18;
constexpr int kPullNotFound = 19;
constexpr int kPullRetryImmediately = 20;
constexpr int kPullOffsetMoved = 21;
constexpr int kQueryNotFound = 22;
constexpr int kSubscriptionParseFailed = 23;
constexpr int kSubscriptionNotExist = 24;
constexpr int kSubscriptionNotLatest = 25;
constexpr int kSubscriptionGroupNotExist = 26;
constexpr int kInvalidParameter = 29;
} // namespace code

// Flag bits (fact sheet §1).
constexpr int32_t kFlagResponse = 1;
constexpr int32_t kFlagOneway = 2;

// Serialize types.
constexpr uint8_t kSerializeJson = 0;
constexpr uint8_t kSerializeRocketMq = 1;

// Largest frame accepted (Netty's default, 16 MiB), counted as the length field's value.
constexpr uint32_t kMaxFrameLength = 16u * 1024 * 1024;

struct RemotingCommand {
    int32_t code = 0;
    std::string language = "JAVA"; // enum name; binary headers carry a byte code, mapped to the name (§1)
    int32_t version = 0;
    int32_t opaque = 0;
    int32_t flag = 0;
    std::optional<std::string> remark;
    std::map<std::string, std::string, std::less<>> extFields;
    std::string body;
    uint8_t serializeType = kSerializeJson; // as received; encode() always writes JSON

    bool isResponse() const { return (flag & kFlagResponse) != 0; }
    bool isOneway() const { return (flag & kFlagOneway) != 0; }

    // extFields access. field() returns nullptr when absent.
    const std::string *field(std::string_view name) const;
    // The field parsed as a (signed, decimal) int64; nullopt when absent or not an integer.
    std::optional<int64_t> intField(std::string_view name) const;
    // "true" (any case) -> true; absent -> fallback; anything else -> false.
    bool boolField(std::string_view name, bool fallback = false) const;
    void set(std::string name, std::string value) { extFields[std::move(name)] = std::move(value); }
    void set(std::string name, int64_t value) { extFields[std::move(name)] = std::to_string(value); }

    // A response to this request: same opaque, RESPONSE flag, the given code and remark, language JAVA.
    RemotingCommand response(int32_t responseCode, std::optional<std::string> remarkText = std::nullopt) const;
};

enum class DecodeStatus {
    Ok,         // one frame decoded; *frameBytes says how many input bytes it took
    NeedMore,   // not a whole frame yet; *frameBytes is the total size needed when the length is known, else 0
    Malformed,  // the bytes cannot be a valid frame; *error says why (the connection must be closed)
};

// Decodes the first frame in data[0..len). On Ok, *out holds the command and *frameBytes = 4 + length.
// Malformed covers: length < 4 or > kMaxFrameLength, headerLen > length - 4, an unknown serialize type, a JSON header
// that is not an object or has a non-integer code/opaque/flag/version, extFields that is not an object of scalars, a
// binary header whose lengths overrun it.
DecodeStatus decodeFrame(const uint8_t *data, size_t len, RemotingCommand *out, size_t *frameBytes,
                         std::string *error);

// The whole frame (length, type byte 0 + header length, JSON header, body), ready to write.
// JSON keys: code, extFields (omitted when empty), flag, language, opaque, remark (omitted when null),
// serializeTypeCurrentRPC ("JSON"), version. Strings are escaped per RFC 8259 (control characters as \u00XX).
std::string encodeFrame(const RemotingCommand &command);

// Only the header part (serialized JSON object), for tests and the fuzzer.
std::string encodeJsonHeader(const RemotingCommand &command);
// A frame with a ROCKETMQ binary header (serializeType 1). The server never sends these; tests and benches do.
std::string encodeBinaryFrame(const RemotingCommand &command);

// language enum names in code order 0..13 (§1); nullptr for an unknown code.
const char *languageName(uint8_t code);
// The code of a language name; 0 (JAVA) when unknown.
uint8_t languageCode(std::string_view name);

} // namespace rocket
