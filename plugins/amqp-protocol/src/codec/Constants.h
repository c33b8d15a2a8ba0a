// AMQP 0-9-1 constants as RabbitMQ uses them: frame types, the frame end octet, reply codes with their names,
// class ids, the protocol header, and the Error value every decoder of this codec reports.
//
// Threading: constants and pure functions only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::amqp {

// --- Frames ---------------------------------------------------------------------------------------------------------

namespace frame_type {
constexpr uint8_t kMethod = 1;
constexpr uint8_t kHeader = 2; // content header
constexpr uint8_t kBody = 3;
constexpr uint8_t kHeartbeat = 8;
} // namespace frame_type

constexpr uint8_t kFrameEnd = 0xCE;
// type (1) + channel (2) + size (4) before the payload, the end octet after it.
constexpr size_t kFrameHeaderSize = 7;
constexpr size_t kFrameOverhead = kFrameHeaderSize + 1;
// The smallest frame-max a peer may negotiate (connection.tune); also the limit before tune-ok.
constexpr uint32_t kFrameMinSize = 4096;
// RabbitMQ (3.10, measured) accepts a payload one octet larger than frame-max - 8 and rejects the next size up;
// parseFrame() does the same so clients that relied on it keep working. Encoders never use the extra octet.
constexpr uint32_t kFrameMaxTolerance = 1;
// Nesting limit for field tables and arrays (the outermost table is depth 1).
constexpr int kMaxTableDepth = 64;

// "AMQP" 0 0 9 1: what a 0-9-1 client sends first, and what the server writes back before closing on any other.
constexpr char kProtocolHeaderBytes[8] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};
constexpr std::string_view kProtocolHeader(kProtocolHeaderBytes, sizeof kProtocolHeaderBytes);

// --- Classes ----------------------------------------------------------------------------------------------------------

namespace class_id {
constexpr uint16_t kConnection = 10;
constexpr uint16_t kChannel = 20;
constexpr uint16_t kAccess = 30;
constexpr uint16_t kExchange = 40;
constexpr uint16_t kQueue = 50;
constexpr uint16_t kBasic = 60;
constexpr uint16_t kConfirm = 85;
constexpr uint16_t kTx = 90;
} // namespace class_id

// --- Reply codes ----------------------------------------------------------------------------------------------------

namespace reply {
constexpr uint16_t kSuccess = 200;
// Soft errors: channel.close.
constexpr uint16_t kContentTooLarge = 311;
constexpr uint16_t kNoRoute = 312;
constexpr uint16_t kNoConsumers = 313;
constexpr uint16_t kAccessRefused = 403;
constexpr uint16_t kNotFound = 404;
constexpr uint16_t kResourceLocked = 405;
constexpr uint16_t kPreconditionFailed = 406;
// Hard errors: connection.close.
constexpr uint16_t kConnectionForced = 320;
constexpr uint16_t kInvalidPath = 402;
constexpr uint16_t kFrameError = 501;
constexpr uint16_t kSyntaxError = 502;
constexpr uint16_t kCommandInvalid = 503;
constexpr uint16_t kChannelError = 504;
constexpr uint16_t kUnexpectedFrame = 505;
constexpr uint16_t kResourceError = 506;
constexpr uint16_t kNotAllowed = 530;
constexpr uint16_t kNotImplemented = 540;
constexpr uint16_t kInternalError = 541;
} // namespace reply

// RabbitMQ's name of a reply code ("NOT_FOUND", "FRAME_ERROR", ...); nullptr for a code AMQP does not define.
const char *replyCodeName(uint16_t code);
// True for the codes that close the connection (320, 402, 5xx), false for soft errors and 200.
bool isHardError(uint16_t code);

// A reply text in RabbitMQ's style, "NAME - detail" ("NOT_FOUND - no queue 'q' in vhost '/'"), cut to the 255 octets
// a shortstr holds (at a UTF-8 character boundary). With an empty detail, just the name.
std::string replyText(uint16_t code, std::string_view detail);
// s cut to at most 255 octets without splitting a UTF-8 sequence: what a shortstr field can carry. Views s.
std::string_view truncateShortString(std::string_view s);

// --- Errors -----------------------------------------------------------------------------------------------------------

// What a decoder reports when the bytes are not acceptable: the reply code to close with, a reply text already in
// RabbitMQ's "NAME - detail" form (at most 255 octets, ready for connection.close), and the class and method that
// caused it when known (0 otherwise), for connection.close's class-id and method-id.
struct Error {
    uint16_t code = 0;
    std::string text;
    uint16_t classId = 0;
    uint16_t methodId = 0;
};

// An Error with replyText(code, detail).
Error makeError(uint16_t code, std::string_view detail, uint16_t classId = 0, uint16_t methodId = 0);

} // namespace ferry::amqp
