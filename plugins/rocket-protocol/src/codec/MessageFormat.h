// MessageFormat: RocketMQ's message encodings (fact sheet §3): the stored/pulled record (MessageDecoder format, what
// PULL_MESSAGE, VIEW_MESSAGE_BY_ID and QUERY_MESSAGE bodies hold back to back), the batch send body, the property
// string (key \x01 value \x02 ...), the offset msgId, and Java's String.hashCode used as the tags code.
//
// Only the forms real clients decode are written: magic v1 (1-byte topic length, so topics <= 127 bytes) and IPv4
// hosts. Decoders accept v1 and v2 magic and IPv4/IPv6 hosts. All integers big-endian.
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rocket {

constexpr int32_t kMessageMagicV1 = static_cast<int32_t>(0xDAA320A7);
constexpr int32_t kMessageMagicV2 = static_cast<int32_t>(0xDAA320AB);

// sysFlag bits (§3).
namespace sysflag {
constexpr int32_t kCompressed = 0x1;
constexpr int32_t kMultiTags = 0x2;
constexpr int32_t kTransactionMask = 0xC;
constexpr int32_t kTransactionNot = 0x0;
constexpr int32_t kTransactionPrepared = 0x4;
constexpr int32_t kTransactionCommit = 0x8;
constexpr int32_t kTransactionRollback = 0xC;
constexpr int32_t kBornHostV6 = 0x10;
constexpr int32_t kStoreHostV6 = 0x20;
} // namespace sysflag

// An IPv4 (4 bytes) or IPv6 (16 bytes) address and a port, as the stored format carries it.
struct HostPort {
    std::string address; // 4 or 16 raw bytes
    int32_t port = 0;

    // "a.b.c.d:port" or "[v6]:port" -> HostPort; nullopt when unparsable. Host names are not resolved.
    static std::optional<HostPort> parse(std::string_view text);
    std::string toString() const;
};

// One stored message (MessageExt), as encoded in a pull body.
struct StoredMessage {
    int32_t queueId = 0;
    int32_t flag = 0;
    int64_t queueOffset = 0;
    int64_t commitLogOffset = 0;
    int32_t sysFlag = 0;
    int64_t bornTimestamp = 0;
    HostPort bornHost;
    int64_t storeTimestamp = 0;
    HostPort storeHost;
    int32_t reconsumeTimes = 0;
    int64_t preparedTransactionOffset = 0;
    std::string_view body;       // borrowed by encode; points into the input after decode
    std::string topic;
    std::string properties;      // the raw property string (§3), see encodeProperties
};

// Appends the encoded record to out. BODYCRC is computed here (CRC32 of body & 0x7FFFFFFF); SYSFLAG's host-v6 bits
// are set from the host sizes. A topic longer than 127 bytes uses magic v2 (2-byte topic length).
// Returns the number of bytes appended.
size_t encodeStoredMessage(const StoredMessage &message, std::string &out);

// Decodes one record at data[0..len). Returns the record's TOTALSIZE, or 0 when the bytes are not a whole valid
// record (*error says why). message.body points into data.
size_t decodeStoredMessage(const uint8_t *data, size_t len, StoredMessage *message, std::string *error);

// One message of a batch send body (§3, "Batch body").
struct BatchItem {
    int32_t flag = 0;
    std::string_view body;  // points into the batch body
    std::string properties; // raw property string
};
// Splits a batch body; nullopt with *error when an item overruns the body or a length is negative.
std::optional<std::vector<BatchItem>> decodeBatch(std::string_view body, std::string *error);
// Encodes a batch body (tests, benches).
std::string encodeBatch(const std::vector<BatchItem> &items);

// Property string <-> pairs. Decoding follows Java: pairs split on \x02, key/value on the first \x01; segments with
// no \x01, an empty key or an empty value are skipped (this tolerates ali-ons' bogus "\x01\x02"). Order is kept.
std::vector<std::pair<std::string, std::string>> decodeProperties(std::string_view text);
std::string encodeProperties(const std::vector<std::pair<std::string, std::string>> &properties);
// The value of one property; nullopt when absent.
std::optional<std::string> findProperty(std::string_view text, std::string_view key);

// Offset msgId: uppercase hex of store host address + port (int32) + commit log offset (int64); 32 hex characters
// for IPv4, 56 for IPv6.
std::string encodeOffsetMsgId(const HostPort &storeHost, int64_t commitLogOffset);
// nullopt when the text is not 32 or 56 hex characters (either case) or the port is outside 0..65535.
std::optional<std::pair<HostPort, int64_t>> decodeOffsetMsgId(std::string_view text);

// Java's String.hashCode over the UTF-16 code units of a UTF-8 string (the ConsumeQueue tags code).
int32_t javaStringHash(std::string_view utf8);

// CRC-32 (IEEE 802.3, zlib's crc32) of data.
uint32_t crc32(const uint8_t *data, size_t len);

} // namespace rocket
