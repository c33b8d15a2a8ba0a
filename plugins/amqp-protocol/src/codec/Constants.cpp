#include "codec/Constants.h"

namespace ferry::amqp {

const char *replyCodeName(uint16_t code)
{
    switch (code) {
    case reply::kSuccess: return "REPLY_SUCCESS";
    case reply::kContentTooLarge: return "CONTENT_TOO_LARGE";
    case reply::kNoRoute: return "NO_ROUTE";
    case reply::kNoConsumers: return "NO_CONSUMERS";
    case reply::kAccessRefused: return "ACCESS_REFUSED";
    case reply::kNotFound: return "NOT_FOUND";
    case reply::kResourceLocked: return "RESOURCE_LOCKED";
    case reply::kPreconditionFailed: return "PRECONDITION_FAILED";
    case reply::kConnectionForced: return "CONNECTION_FORCED";
    case reply::kInvalidPath: return "INVALID_PATH";
    case reply::kFrameError: return "FRAME_ERROR";
    case reply::kSyntaxError: return "SYNTAX_ERROR";
    case reply::kCommandInvalid: return "COMMAND_INVALID";
    case reply::kChannelError: return "CHANNEL_ERROR";
    case reply::kUnexpectedFrame: return "UNEXPECTED_FRAME";
    case reply::kResourceError: return "RESOURCE_ERROR";
    case reply::kNotAllowed: return "NOT_ALLOWED";
    case reply::kNotImplemented: return "NOT_IMPLEMENTED";
    case reply::kInternalError: return "INTERNAL_ERROR";
    default: return nullptr;
    }
}

bool isHardError(uint16_t code)
{
    return code == reply::kConnectionForced || code == reply::kInvalidPath || (code >= 500 && code < 600);
}

std::string_view truncateShortString(std::string_view s)
{
    if (s.size() <= 255)
        return s;
    size_t n = 255;
    // Step back over continuation octets (10xxxxxx) so the cut lands before a character's first octet.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
        --n;
    return s.substr(0, n);
}

std::string replyText(uint16_t code, std::string_view detail)
{
    const char *name = replyCodeName(code);
    std::string text = name ? name : std::to_string(code);
    if (!detail.empty()) {
        text += " - ";
        text += detail;
    }
    if (text.size() > 255)
        text.resize(truncateShortString(text).size());
    return text;
}

Error makeError(uint16_t code, std::string_view detail, uint16_t classId, uint16_t methodId)
{
    Error e;
    e.code = code;
    e.text = replyText(code, detail);
    e.classId = classId;
    e.methodId = methodId;
    return e;
}

} // namespace ferry::amqp
