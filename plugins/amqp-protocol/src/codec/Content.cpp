#include "codec/Content.h"

#include "codec/ArgumentCodec.h"

#include <limits>

namespace ferry::amqp {

namespace {

constexpr size_t kHeaderFixed = 12; // class id, weight, body size

// Presents the present properties, in flag order, to an argument visitor (ArgumentReader/Writer/Sizer/Describer).
template <class Self, class Visitor> void propertyFields(Self &p, Visitor &v)
{
    using namespace property;
    if (p.flags & kContentType)
        v.shortString("content-type", p.contentType);
    if (p.flags & kContentEncoding)
        v.shortString("content-encoding", p.contentEncoding);
    if (p.flags & kHeaders)
        v.table("headers", p.headers);
    if (p.flags & kDeliveryMode)
        v.octet("delivery-mode", p.deliveryMode);
    if (p.flags & kPriority)
        v.octet("priority", p.priority);
    if (p.flags & kCorrelationId)
        v.shortString("correlation-id", p.correlationId);
    if (p.flags & kReplyTo)
        v.shortString("reply-to", p.replyTo);
    if (p.flags & kExpiration)
        v.shortString("expiration", p.expiration);
    if (p.flags & kMessageId)
        v.shortString("message-id", p.messageId);
    if (p.flags & kTimestamp)
        v.u64("timestamp", p.timestamp);
    if (p.flags & kType)
        v.shortString("type", p.type);
    if (p.flags & kUserId)
        v.shortString("user-id", p.userId);
    if (p.flags & kAppId)
        v.shortString("app-id", p.appId);
    if (p.flags & kClusterId)
        v.shortString("cluster-id", p.clusterId);
}

std::string hex16(uint16_t v)
{
    static const char digits[] = "0123456789abcdef";
    std::string s = "0x0000";
    for (int i = 0; i < 4; ++i)
        s[5 - i] = digits[(v >> (4 * i)) & 0xF];
    return s;
}

} // namespace

bool decodeBasicProperties(std::string_view raw, BasicProperties &out, Error &error)
{
    out = BasicProperties();
    if (raw.size() < 2) {
        error = makeError(reply::kSyntaxError, "content header property flags truncated");
        return false;
    }
    const uint16_t flags = wire::load16(raw.data());
    if (flags & 0x0002) {
        error = makeError(reply::kSyntaxError, "content header property flags " + hex16(flags) +
                                                   " name a property the basic class does not have");
        return false;
    }
    size_t pos = 2;
    for (uint16_t word = flags; word & property::kContinuation;) {
        if (raw.size() - pos < 2) {
            error = makeError(reply::kSyntaxError, "content header property flags truncated");
            return false;
        }
        word = wire::load16(raw.data() + pos);
        pos += 2;
        if (word & ~property::kContinuation) {
            error = makeError(reply::kSyntaxError, "content header property flags " + hex16(word) +
                                                       " name a property the basic class does not have");
            return false;
        }
    }
    out.flags = static_cast<uint16_t>(flags & property::kAll);
    detail::ArgumentReader reader(raw.substr(pos));
    propertyFields(out, reader);
    if (!reader.ok()) {
        error = makeError(reply::kSyntaxError, std::string("cannot decode content header: property '") +
                                                   reader.failedField() + "': " + reader.reason());
        out = BasicProperties();
        return false;
    }
    if (reader.left() != 0) {
        error = makeError(reply::kSyntaxError, "cannot decode content header: " + std::to_string(reader.left()) +
                                                   " unexpected octets after the properties");
        out = BasicProperties();
        return false;
    }
    return true;
}

bool decodeContentHeader(std::string_view payload, ContentHeader &out, Error &error)
{
    if (payload.size() < kHeaderFixed + 2) {
        error = makeError(reply::kSyntaxError, "content header of " + std::to_string(payload.size()) +
                                                   " octets is shorter than 14");
        return false;
    }
    out.classId = wire::load16(payload.data());
    if (out.classId != class_id::kBasic) {
        error = makeError(reply::kUnexpectedFrame, "expected content header for class 60, got one for class " +
                                                       std::to_string(out.classId) + " instead");
        return false;
    }
    out.weight = wire::load16(payload.data() + 2);
    out.bodySize = wire::load64(payload.data() + 4);
    out.rawProperties = payload.substr(kHeaderFixed);
    return decodeBasicProperties(out.rawProperties, out.properties, error);
}

size_t basicPropertiesSize(const BasicProperties &properties)
{
    BasicProperties masked = properties;
    masked.flags &= property::kAll;
    detail::ArgumentSizer sizer;
    propertyFields(masked, sizer);
    return sizer.ok() ? 2 + sizer.size() : 0;
}

bool appendBasicProperties(std::string &out, const BasicProperties &properties)
{
    BasicProperties masked = properties;
    masked.flags &= property::kAll;
    const size_t at = out.size();
    wire::append16(out, masked.flags);
    detail::ArgumentWriter writer(out);
    propertyFields(masked, writer);
    if (!writer.ok()) {
        out.resize(at);
        return false;
    }
    return true;
}

namespace {
size_t beginHeaderFrame(std::string &out, uint16_t channel, uint64_t bodySize)
{
    const size_t at = out.size();
    wire::append8(out, frame_type::kHeader);
    wire::append16(out, channel);
    wire::append32(out, 0);
    wire::append16(out, class_id::kBasic);
    wire::append16(out, 0);
    wire::append64(out, bodySize);
    return at;
}

void endFrame(std::string &out, size_t at)
{
    wire::store32(&out[at + 3], static_cast<uint32_t>(out.size() - at - kFrameHeaderSize));
    out.push_back(static_cast<char>(kFrameEnd));
}
} // namespace

bool appendContentHeaderFrame(std::string &out, uint16_t channel, uint64_t bodySize,
                              const BasicProperties &properties)
{
    const size_t at = beginHeaderFrame(out, channel, bodySize);
    if (!appendBasicProperties(out, properties)) {
        out.resize(at);
        return false;
    }
    endFrame(out, at);
    return true;
}

void appendContentHeaderFrame(std::string &out, uint16_t channel, uint64_t bodySize, std::string_view rawProperties)
{
    wire::reserveMore(out, detail::contentHeaderFrameSize(rawProperties.size()));
    const size_t at = beginHeaderFrame(out, channel, bodySize);
    if (rawProperties.size() < 2)
        wire::append16(out, 0);
    else
        out.append(rawProperties);
    endFrame(out, at);
}

uint32_t maxBodyFramePayload(uint32_t frameMax)
{
    if (frameMax == 0)
        return std::numeric_limits<uint32_t>::max();
    return (frameMax < kFrameMinSize ? kFrameMinSize : frameMax) - static_cast<uint32_t>(kFrameOverhead);
}

size_t bodyFramesSize(size_t bodySize, uint32_t frameMax)
{
    if (bodySize == 0)
        return 0;
    const size_t chunk = maxBodyFramePayload(frameMax);
    const size_t frames = (bodySize + chunk - 1) / chunk;
    return bodySize + frames * kFrameOverhead;
}

void appendBodyFrames(std::string &out, uint16_t channel, std::string_view body, uint32_t frameMax)
{
    if (body.empty())
        return;
    wire::reserveMore(out, bodyFramesSize(body.size(), frameMax));
    const size_t chunk = maxBodyFramePayload(frameMax);
    for (size_t pos = 0; pos < body.size(); pos += chunk) {
        const size_t n = body.size() - pos < chunk ? body.size() - pos : chunk;
        wire::append8(out, frame_type::kBody);
        wire::append16(out, channel);
        wire::append32(out, static_cast<uint32_t>(n));
        out.append(body.data() + pos, n);
        out.push_back(static_cast<char>(kFrameEnd));
    }
}

bool appendDelivery(std::string &out, uint16_t channel, const Method &method, std::string_view rawProperties,
                    std::string_view body, uint32_t frameMax)
{
    if (const auto *m = std::get_if<BasicDeliver>(&method))
        return appendDelivery(out, channel, *m, rawProperties, body, frameMax);
    if (const auto *m = std::get_if<BasicGetOk>(&method))
        return appendDelivery(out, channel, *m, rawProperties, body, frameMax);
    if (const auto *m = std::get_if<BasicReturn>(&method))
        return appendDelivery(out, channel, *m, rawProperties, body, frameMax);
    return false;
}

std::string describeProperties(const BasicProperties &properties)
{
    std::string out = "{";
    detail::ArgumentDescriber describer(out);
    propertyFields(properties, describer);
    out += '}';
    return out;
}

} // namespace ferry::amqp
