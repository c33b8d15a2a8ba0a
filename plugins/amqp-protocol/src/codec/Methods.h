// Method frames: decode a method frame's payload into the typed struct of its method (MethodStructs.h), encode a
// struct into a method frame, and look up what is known about a (class id, method id).
//
// Ownership: decoded string and table arguments are views into the payload passed to decodeMethod(); the Method
// must not outlive that buffer (copy what has to stay, e.g. FieldTable::fromView or std::string(view)). Decoding
// allocates nothing on success.
//
// Threading: pure functions over values; no shared state.
#pragma once

#include "codec/ArgumentCodec.h"
#include "codec/Constants.h"
#include "codec/MethodStructs.h"
#include "codec/Wire.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace ferry::amqp {

struct MethodInfo {
    uint16_t classId;
    uint16_t methodId;
    const char *name; // "queue.declare"
    bool hasContent;  // followed by a content header and body frames (basic.publish, return, deliver, get-ok)
    bool synchronous; // expects a reply method
    bool acceptedByServer;
    bool acceptedByClient;
};

// The method with these ids; nullptr for one AMQP 0-9-1 (as RabbitMQ extends it) does not define.
const MethodInfo *methodInfo(uint16_t classId, uint16_t methodId);
// The method a Method holds.
const MethodInfo &methodInfo(const Method &method);

// Class and method id from the first 4 octets of a method payload; false when it is shorter.
bool peekMethodId(std::string_view payload, uint16_t &classId, uint16_t &methodId);

// Decodes a method frame's payload (class id, method id, arguments) into *out. Errors, with the method's ids in
// error.classId/methodId when known:
//   501 FRAME_ERROR      payload shorter than the 4 octets of the ids (as RabbitMQ answers);
//   540 NOT_IMPLEMENTED  ids of no method ("NOT_IMPLEMENTED - unknown method 99/10");
//   502 SYNTAX_ERROR     truncated or malformed arguments, a bad field table (unknown type, bad length, nested
//                        deeper than kMaxTableDepth), or octets left over after the last argument
//                        ("SYNTAX_ERROR - cannot decode queue.declare: field 'arguments': unknown field type ...").
// Whether the server may receive the method at all (503 COMMAND_INVALID otherwise, as RabbitMQ answers a client
// that sends e.g. queue.declare-ok) is the caller's check: methodInfo(out).acceptedByServer.
bool decodeMethod(std::string_view payload, Method &out, Error &error);

// Octets of the method's payload (ids + arguments); 0 when a string argument is too long to encode.
template <class M> size_t methodPayloadSize(const M &method)
{
    detail::ArgumentSizer sizer;
    M::fields(method, sizer);
    return sizer.ok() ? 4 + sizer.size() : 0;
}

// Appends the payload (class id, method id, arguments) without frame header or end octet.
// False, with out unchanged, when a shortstr argument exceeds 255 octets (truncateShortString() makes a reply text
// fit) or a longstr 4 GiB - 1.
template <class M> [[nodiscard]] bool appendMethodPayload(std::string &out, const M &method)
{
    const size_t at = out.size();
    wire::append16(out, M::kClassId);
    wire::append16(out, M::kMethodId);
    detail::ArgumentWriter writer(out);
    M::fields(method, writer);
    if (!writer.ok()) {
        out.resize(at);
        return false;
    }
    return true;
}

// Appends a whole method frame: type 1, channel, size, payload, frame end. Same failure as appendMethodPayload().
// The caller keeps the payload within the peer's frame-max (every method but connection.start/start-ok with large
// property tables is far below the 4096-octet minimum).
template <class M> [[nodiscard]] bool appendMethodFrame(std::string &out, uint16_t channel, const M &method)
{
    const size_t at = out.size();
    wire::append8(out, frame_type::kMethod);
    wire::append16(out, channel);
    wire::append32(out, 0);
    if (!appendMethodPayload(out, method)) {
        out.resize(at);
        return false;
    }
    wire::store32(&out[at + 3], static_cast<uint32_t>(out.size() - at - kFrameHeaderSize));
    out.push_back(static_cast<char>(kFrameEnd));
    return true;
}

// The same for whichever method a Method holds.
[[nodiscard]] bool appendMethodFrame(std::string &out, uint16_t channel, const Method &method);
[[nodiscard]] bool appendMethodPayload(std::string &out, const Method &method);

// "queue.declare(ticket=0, queue='q', passive=false, ...)": every argument by its protocol name, for logs and tests.
template <class M> std::string describeMethod(const M &method)
{
    std::string out = M::kName;
    out += '(';
    detail::ArgumentDescriber describer(out);
    M::fields(method, describer);
    out += ')';
    return out;
}
std::string describeMethod(const Method &method);

} // namespace ferry::amqp
