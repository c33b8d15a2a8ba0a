// Content: the content header frame that follows basic.publish / return / deliver / get-ok, its 14 basic
// properties, body frames, and a one-call encoder for a whole delivery (method frame + header + body frames).
//
// Content header payload: class id (2) = 60 | weight (2) = 0 | body size (8) | property flags (2, more words while
// bit 0, the continuation bit, is set) | the present properties in flag order:
//   content-type, content-encoding, headers, delivery-mode, priority, correlation-id, reply-to, expiration,
//   message-id, timestamp, type, user-id, app-id, cluster-id (flag bits 15 down to 2).
//
// Raw properties: the octets from the first flags word to the end of the payload, exactly as the publisher sent
// them. The broker stores those and writes them back on delivery (appendContentHeaderFrame / appendDelivery with a
// string_view), so properties are never re-encoded on the hot path.
//
// Ownership: every view in ContentHeader and BasicProperties borrows the decoded payload. Encoders copy what they
// are given into the output before returning.
// Threading: pure functions over values; no shared state.
#pragma once

#include "codec/Constants.h"
#include "codec/FieldTable.h"
#include "codec/Methods.h"
#include "codec/Wire.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::amqp {

// Presence bits of the first property flags word.
namespace property {
constexpr uint16_t kContentType = 0x8000;
constexpr uint16_t kContentEncoding = 0x4000;
constexpr uint16_t kHeaders = 0x2000;
constexpr uint16_t kDeliveryMode = 0x1000;
constexpr uint16_t kPriority = 0x0800;
constexpr uint16_t kCorrelationId = 0x0400;
constexpr uint16_t kReplyTo = 0x0200;
constexpr uint16_t kExpiration = 0x0100;
constexpr uint16_t kMessageId = 0x0080;
constexpr uint16_t kTimestamp = 0x0040;
constexpr uint16_t kType = 0x0020;
constexpr uint16_t kUserId = 0x0010;
constexpr uint16_t kAppId = 0x0008;
constexpr uint16_t kClusterId = 0x0004;
constexpr uint16_t kAll = 0xFFFC;
constexpr uint16_t kContinuation = 0x0001;
} // namespace property

// The basic class's properties. `flags` says which are present (property::k*); a field whose flag is clear is
// neither meaningful nor encoded. The setters set the field and its flag.
struct BasicProperties {
    uint16_t flags = 0;
    std::string_view contentType;
    std::string_view contentEncoding;
    TableView headers;
    uint8_t deliveryMode = 0; // 1 transient, 2 persistent
    uint8_t priority = 0;
    std::string_view correlationId;
    std::string_view replyTo;
    std::string_view expiration; // per-message TTL in milliseconds, as decimal text
    std::string_view messageId;
    uint64_t timestamp = 0; // seconds since the epoch
    std::string_view type;
    std::string_view userId;
    std::string_view appId;
    std::string_view clusterId;

    bool has(uint16_t flag) const { return (flags & flag) != 0; }

    BasicProperties &setContentType(std::string_view v) { return setString(contentType, v, property::kContentType); }
    BasicProperties &setContentEncoding(std::string_view v)
    {
        return setString(contentEncoding, v, property::kContentEncoding);
    }
    BasicProperties &setHeaders(TableView v)
    {
        headers = v;
        flags |= property::kHeaders;
        return *this;
    }
    BasicProperties &setDeliveryMode(uint8_t v)
    {
        deliveryMode = v;
        flags |= property::kDeliveryMode;
        return *this;
    }
    BasicProperties &setPriority(uint8_t v)
    {
        priority = v;
        flags |= property::kPriority;
        return *this;
    }
    BasicProperties &setCorrelationId(std::string_view v)
    {
        return setString(correlationId, v, property::kCorrelationId);
    }
    BasicProperties &setReplyTo(std::string_view v) { return setString(replyTo, v, property::kReplyTo); }
    BasicProperties &setExpiration(std::string_view v) { return setString(expiration, v, property::kExpiration); }
    BasicProperties &setMessageId(std::string_view v) { return setString(messageId, v, property::kMessageId); }
    BasicProperties &setTimestamp(uint64_t v)
    {
        timestamp = v;
        flags |= property::kTimestamp;
        return *this;
    }
    BasicProperties &setType(std::string_view v) { return setString(type, v, property::kType); }
    BasicProperties &setUserId(std::string_view v) { return setString(userId, v, property::kUserId); }
    BasicProperties &setAppId(std::string_view v) { return setString(appId, v, property::kAppId); }
    BasicProperties &setClusterId(std::string_view v) { return setString(clusterId, v, property::kClusterId); }

private:
    BasicProperties &setString(std::string_view &field, std::string_view v, uint16_t flag)
    {
        field = v;
        flags |= flag;
        return *this;
    }
};

struct ContentHeader {
    uint16_t classId = class_id::kBasic;
    uint16_t weight = 0;
    uint64_t bodySize = 0;
    std::string_view rawProperties; // flags word(s) + property list, as received
    BasicProperties properties;     // decoded from rawProperties
};

// Decodes a content header frame's payload. Errors:
//   505 UNEXPECTED_FRAME  class id other than 60 (RabbitMQ's text: "expected content header for class 60, got one
//                         for class 50 instead");
//   502 SYNTAX_ERROR      shorter than 14 octets, a property that runs past the end, a bad headers table, flag bits
//                         of properties basic does not have (bit 1, or any in a continuation word), octets left
//                         after the last property.
bool decodeContentHeader(std::string_view payload, ContentHeader &out, Error &error);
// Decodes raw properties (as kept from ContentHeader::rawProperties) on their own; same 502 errors.
bool decodeBasicProperties(std::string_view rawProperties, BasicProperties &out, Error &error);

// Octets of the raw properties encodeBasicProperties() writes (one flags word, no continuation); 0 when a shortstr
// property is longer than 255 octets.
size_t basicPropertiesSize(const BasicProperties &properties);
// Appends the raw properties (flags word + present properties). False, with out unchanged, when a shortstr property
// is longer than 255 octets. Flag bits other than the 14 properties' are not written.
[[nodiscard]] bool appendBasicProperties(std::string &out, const BasicProperties &properties);

// Appends a content header frame (class 60, weight 0) with the properties from a struct. Same failure as
// appendBasicProperties().
[[nodiscard]] bool appendContentHeaderFrame(std::string &out, uint16_t channel, uint64_t bodySize,
                                            const BasicProperties &properties);
// The same with raw properties copied as they are (at least the 2-octet flags word; an empty view is written as
// flags 0, no properties).
void appendContentHeaderFrame(std::string &out, uint16_t channel, uint64_t bodySize, std::string_view rawProperties);

// Largest body frame payload for a frame-max: frameMax - 8; 0 (no limit) gives 4 GiB - 1. A frame-max below the
// 4096 minimum is taken as 4096.
uint32_t maxBodyFramePayload(uint32_t frameMax);
// Octets appendBodyFrames() writes: 8 per frame plus the body; 0 for an empty body (it has no frame).
size_t bodyFramesSize(size_t bodySize, uint32_t frameMax);
// Appends the body in frames of at most maxBodyFramePayload(frameMax) octets each; nothing for an empty body.
void appendBodyFrames(std::string &out, uint16_t channel, std::string_view body, uint32_t frameMax);

namespace detail {
inline size_t contentHeaderFrameSize(size_t rawPropertiesSize)
{
    return kFrameOverhead + 12 + (rawPropertiesSize < 2 ? 2 : rawPropertiesSize);
}
} // namespace detail

// Appends a whole delivery to out in one go: the method frame (basic.deliver, basic.get-ok or basic.return), the
// content header with the raw properties as stored, and the body split into body frames (none for an empty body).
// The total size is computed first so out grows at most once. False, with out unchanged, when a method argument is
// too long to encode.
template <class M>
[[nodiscard]] bool appendDelivery(std::string &out, uint16_t channel, const M &method, std::string_view rawProperties,
                                  std::string_view body, uint32_t frameMax)
{
    static_assert(M::kHasContent, "appendDelivery takes a method that carries content");
    const size_t methodPayload = methodPayloadSize(method);
    if (methodPayload == 0)
        return false;
    wire::reserveMore(out, kFrameOverhead + methodPayload + detail::contentHeaderFrameSize(rawProperties.size()) +
                               bodyFramesSize(body.size(), frameMax));
    if (!appendMethodFrame(out, channel, method))
        return false;
    appendContentHeaderFrame(out, channel, body.size(), rawProperties);
    appendBodyFrames(out, channel, body, frameMax);
    return true;
}

// The same with properties from a struct (encoded once into the output). False, with out unchanged, when a method
// argument or a property is too long to encode.
template <class M>
[[nodiscard]] bool appendDelivery(std::string &out, uint16_t channel, const M &method,
                                  const BasicProperties &properties, std::string_view body, uint32_t frameMax)
{
    static_assert(M::kHasContent, "appendDelivery takes a method that carries content");
    const size_t methodPayload = methodPayloadSize(method);
    const size_t propertiesSize = basicPropertiesSize(properties);
    if (methodPayload == 0 || propertiesSize == 0)
        return false;
    wire::reserveMore(out, kFrameOverhead + methodPayload + detail::contentHeaderFrameSize(propertiesSize) +
                               bodyFramesSize(body.size(), frameMax));
    const size_t at = out.size();
    if (!appendMethodFrame(out, channel, method) ||
        !appendContentHeaderFrame(out, channel, body.size(), properties)) {
        out.resize(at);
        return false;
    }
    appendBodyFrames(out, channel, body, frameMax);
    return true;
}

// Same as above for a Method that holds basic.deliver, basic.get-ok or basic.return; false for any other method.
[[nodiscard]] bool appendDelivery(std::string &out, uint16_t channel, const Method &method,
                                  std::string_view rawProperties, std::string_view body, uint32_t frameMax);

// "{content-type='text/plain', delivery-mode=2, headers={...}}" for logs and tests (present properties only).
std::string describeProperties(const BasicProperties &properties);

} // namespace ferry::amqp
