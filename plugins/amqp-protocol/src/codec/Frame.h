// The protocol header and frames: recognise a client's "AMQP" 0 0 9 1, split a byte stream into frames, and
// append frames to an output buffer. Sans-I/O: the caller owns the buffers and hands over whatever bytes it has.
//
// Frame: type (1) | channel (2) | payload size (4) | payload | 0xCE.
//
// Ownership: Frame::payload views the caller's input; it is valid while that buffer is unchanged.
// Threading: pure functions; no shared state.
#pragma once

#include "codec/Constants.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::amqp {

enum class HeaderStatus {
    NeedMore, // fewer than 8 octets, and they agree with "AMQP" 0 0 9 1 so far
    Valid,    // the first 8 octets are "AMQP" 0 0 9 1
    Invalid,  // anything else: write kProtocolHeader and close the connection
};

// Looks at the first octets a client sent. Invalid is reported as soon as one octet differs.
HeaderStatus checkProtocolHeader(const uint8_t *data, size_t size);
inline HeaderStatus checkProtocolHeader(std::string_view input)
{
    return checkProtocolHeader(reinterpret_cast<const uint8_t *>(input.data()), input.size());
}

enum class FrameStatus {
    Ok,       // one frame parsed; Frame::size octets of the input belong to it
    NeedMore, // not a whole frame yet; Frame::size is the octets the whole frame needs (0 while the 7-octet header
              // is incomplete)
    Error,    // the connection must be closed with error.code (501 FRAME_ERROR)
};

struct Frame {
    uint8_t type = 0; // frame_type::k*
    uint16_t channel = 0;
    std::string_view payload; // views the input
    size_t size = 0;          // see FrameStatus
};

// Parses the frame at the start of data[0, size). frameMax is the negotiated frame-max (0: no limit); a payload
// larger than frameMax - 8 (+ kFrameMaxTolerance, as RabbitMQ) is refused as soon as the header is there, without
// waiting for the payload. Errors (all 501 FRAME_ERROR, texts as RabbitMQ words them):
//   frame type other than 1, 2, 3, 8        "FRAME_ERROR - type 5, all octets = <<\"abc\">>: unknown_frame"
//   payload over the limit                  "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,131104,131064}"
//   heartbeat with a payload                "FRAME_ERROR - type 8, all octets = <<\"xy\">>: unknown_frame"
//   end octet not 0xCE                      "FRAME_ERROR - type 1, all octets = <<...>>: {invalid_frame_end_marker,0}"
// (octets shown: at most the first 16 of the payload.) Allocates only for an error text. A heartbeat on a channel
// other than 0 is a well-formed frame; the session refuses it (505 UNEXPECTED_FRAME, as RabbitMQ's reader does).
FrameStatus parseFrame(const uint8_t *data, size_t size, uint32_t frameMax, Frame &frame, Error &error);
inline FrameStatus parseFrame(std::string_view input, uint32_t frameMax, Frame &frame, Error &error)
{
    return parseFrame(reinterpret_cast<const uint8_t *>(input.data()), input.size(), frameMax, frame, error);
}

// Appends one frame. The caller keeps the payload under 4 GiB and within the peer's frame-max.
void appendFrame(std::string &out, uint8_t type, uint16_t channel, std::string_view payload);
// Appends the 8-octet heartbeat frame (type 8, channel 0, empty payload).
void appendHeartbeatFrame(std::string &out);

} // namespace ferry::amqp
