#include "codec/Frame.h"

#include "codec/Wire.h"

namespace ferry::amqp {

namespace {

// Octets as Erlang prints a binary, which is how RabbitMQ's error texts show them: <<"abc">> when every octet is
// printable ASCII, <<0,50,255>> otherwise; at most 16 octets, then "...".
std::string erlangBinary(std::string_view octets)
{
    constexpr size_t kMax = 16;
    const bool cut = octets.size() > kMax;
    if (cut)
        octets = octets.substr(0, kMax);
    bool printable = !octets.empty();
    for (const char c : octets) {
        const auto u = static_cast<unsigned char>(c);
        printable = printable && u >= 0x20 && u < 0x7F;
    }
    std::string out = "<<";
    if (printable) {
        out += '"';
        for (const char c : octets) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
        if (cut)
            out += ",...";
    } else {
        bool first = true;
        for (const char c : octets) {
            if (!first)
                out += ',';
            first = false;
            out += std::to_string(static_cast<unsigned char>(c));
        }
        if (cut)
            out += ",...";
    }
    out += ">>";
    return out;
}

Error frameError(uint8_t type, std::string_view octets, const std::string &what)
{
    return makeError(reply::kFrameError,
                     "type " + std::to_string(type) + ", all octets = " + erlangBinary(octets) + ": " + what);
}

} // namespace

HeaderStatus checkProtocolHeader(const uint8_t *data, size_t size)
{
    const size_t n = size < sizeof kProtocolHeaderBytes ? size : sizeof kProtocolHeaderBytes;
    for (size_t i = 0; i < n; ++i)
        if (data[i] != static_cast<uint8_t>(kProtocolHeaderBytes[i]))
            return HeaderStatus::Invalid;
    return n == sizeof kProtocolHeaderBytes ? HeaderStatus::Valid : HeaderStatus::NeedMore;
}

FrameStatus parseFrame(const uint8_t *data, size_t size, uint32_t frameMax, Frame &frame, Error &error)
{
    frame.size = 0;
    if (size < kFrameHeaderSize)
        return FrameStatus::NeedMore;
    const char *p = reinterpret_cast<const char *>(data);
    const uint8_t type = wire::load8(p);
    const uint16_t channel = wire::load16(p + 1);
    const uint32_t payloadSize = wire::load32(p + 3);
    const size_t available = size - kFrameHeaderSize;
    const std::string_view seen(p + kFrameHeaderSize, available < payloadSize ? available : payloadSize);

    if (frameMax != 0) {
        const uint64_t limit = frameMax > kFrameOverhead ? frameMax - kFrameOverhead : 0;
        if (payloadSize > limit + kFrameMaxTolerance) {
            error = frameError(type, {},
                               "{frame_too_large," + std::to_string(payloadSize) + "," + std::to_string(limit) + "}");
            return FrameStatus::Error;
        }
    }
    switch (type) {
    case frame_type::kMethod:
    case frame_type::kHeader:
    case frame_type::kBody: break;
    case frame_type::kHeartbeat:
        if (payloadSize != 0) {
            error = frameError(type, seen, "unknown_frame");
            return FrameStatus::Error;
        }
        break;
    default: error = frameError(type, seen, "unknown_frame"); return FrameStatus::Error;
    }

    const uint64_t whole = static_cast<uint64_t>(payloadSize) + kFrameOverhead;
    if (size < whole) {
        frame.size = static_cast<size_t>(whole);
        return FrameStatus::NeedMore;
    }
    const uint8_t end = wire::load8(p + kFrameHeaderSize + payloadSize);
    if (end != kFrameEnd) {
        error = frameError(type, seen, "{invalid_frame_end_marker," + std::to_string(end) + "}");
        return FrameStatus::Error;
    }
    frame.type = type;
    frame.channel = channel;
    frame.payload = seen;
    frame.size = static_cast<size_t>(whole);
    return FrameStatus::Ok;
}

void appendFrame(std::string &out, uint8_t type, uint16_t channel, std::string_view payload)
{
    wire::reserveMore(out, payload.size() + kFrameOverhead);
    wire::append8(out, type);
    wire::append16(out, channel);
    wire::append32(out, static_cast<uint32_t>(payload.size()));
    out.append(payload);
    out.push_back(static_cast<char>(kFrameEnd));
}

void appendHeartbeatFrame(std::string &out)
{
    static constexpr char kHeartbeat[8] = {8, 0, 0, 0, 0, 0, 0, static_cast<char>(kFrameEnd)};
    out.append(kHeartbeat, sizeof kHeartbeat);
}

} // namespace ferry::amqp
