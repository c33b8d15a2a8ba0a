// RemotingCommand codec: frames, JSON headers (decoded with Qt, encoded by hand) and ROCKETMQ binary headers.
// See RemotingCommand.h for the contract and ../shared/protocols/rocketmq-remoting.md §1 for the wire format.
#include "codec/RemotingCommand.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QString>

#include <array>
#include <charconv>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace rocket {

namespace detail {
// Defined in MessageFormat.cpp: decodes the code point at s[pos] the way Java's String(bytes, UTF_8) does (a
// malformed sequence yields U+FFFD) and returns the position after it.
size_t nextCodePointJava(std::string_view s, size_t pos, char32_t *codePoint);
} // namespace detail

namespace {

constexpr std::array<const char *, 14> kLanguages = {"JAVA", "CPP",  "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY",
                                                     "OTHER", "HTTP", "GO",     "PHP",    "OMS",    "RUST",   "NODE_JS"};
constexpr uint8_t kLanguageOther = 7;

// The fixed part of a binary header: code 2, language 1, version 2, opaque 4, flag 4, remark length 4, ext length 4.
constexpr size_t kBinaryHeaderFixed = 21;
constexpr uint32_t kMaxHeaderLength = 0xFFFFFFu; // 24 bits next to the serialize type

uint32_t loadBe32(const uint8_t *p)
{
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

void appendBe16(std::string &out, uint16_t v)
{
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

void appendBe32(std::string &out, uint32_t v)
{
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

void storeBe32(char *p, uint32_t v)
{
    p[0] = static_cast<char>(v >> 24);
    p[1] = static_cast<char>(v >> 16);
    p[2] = static_cast<char>(v >> 8);
    p[3] = static_cast<char>(v);
}

// Bounds-checked big-endian cursor over one header. Every read first asks has(); nothing reads past the end.
class Reader {
public:
    Reader(const uint8_t *data, size_t size) : data_(data), size_(size) {}
    size_t remaining() const { return size_ - pos_; }
    bool has(size_t n) const { return remaining() >= n; }
    uint8_t u8() { return data_[pos_++]; }
    uint16_t u16()
    {
        const uint16_t v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    uint32_t u32()
    {
        const uint32_t v = loadBe32(data_ + pos_);
        pos_ += 4;
        return v;
    }
    std::string_view bytes(size_t n)
    {
        const std::string_view v(reinterpret_cast<const char *>(data_ + pos_), n);
        pos_ += n;
        return v;
    }

private:
    const uint8_t *data_;
    size_t size_;
    size_t pos_ = 0;
};

// The text Java would hold after new String(bytes, UTF_8): valid UTF-8 is copied, each malformed sequence becomes
// U+FFFD. Keeps every decoded string valid UTF-8, so it re-encodes as JSON unchanged.
std::string javaUtf8(std::string_view bytes)
{
    std::string out;
    out.reserve(bytes.size());
    size_t i = 0;
    while (i < bytes.size()) {
        if (static_cast<uint8_t>(bytes[i]) < 0x80) {
            out.push_back(bytes[i++]);
            continue;
        }
        char32_t cp = 0;
        const size_t next = detail::nextCodePointJava(bytes, i, &cp);
        if (cp == 0xFFFD)
            out.append("\xEF\xBF\xBD");
        else
            out.append(bytes.substr(i, next - i));
        i = next;
    }
    return out;
}

// A JSON string literal (RFC 8259): quote and backslash escaped, control characters as \u00xx, invalid UTF-8
// replaced by U+FFFD so the output is always valid JSON.
void appendJsonString(std::string &out, std::string_view s)
{
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    size_t i = 0;
    while (i < s.size()) {
        size_t run = i;
        while (run < s.size()) {
            const auto c = static_cast<uint8_t>(s[run]);
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                break;
            ++run;
        }
        out.append(s.substr(i, run - i));
        i = run;
        if (i == s.size())
            break;
        const auto c = static_cast<uint8_t>(s[i]);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
            ++i;
        } else if (c < 0x20) {
            out.append("\\u00");
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
            ++i;
        } else {
            char32_t cp = 0;
            const size_t next = detail::nextCodePointJava(s, i, &cp);
            if (cp == 0xFFFD)
                out.append("\xEF\xBF\xBD");
            else
                out.append(s.substr(i, next - i));
            i = next;
        }
    }
    out.push_back('"');
}

void appendJsonKey(std::string &out, const char *key)
{
    out.push_back('"');
    out.append(key);
    out.append("\":");
}

void appendDecimal(std::string &out, int64_t v)
{
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void appendJsonHeader(std::string &out, const RemotingCommand &c)
{
    out.push_back('{');
    appendJsonKey(out, "code");
    appendDecimal(out, c.code);
    if (!c.extFields.empty()) {
        out.push_back(',');
        appendJsonKey(out, "extFields");
        out.push_back('{');
        bool first = true;
        for (const auto &[key, value] : c.extFields) {
            if (!first)
                out.push_back(',');
            first = false;
            appendJsonString(out, key);
            out.push_back(':');
            appendJsonString(out, value);
        }
        out.push_back('}');
    }
    out.push_back(',');
    appendJsonKey(out, "flag");
    appendDecimal(out, c.flag);
    out.push_back(',');
    appendJsonKey(out, "language");
    appendJsonString(out, c.language);
    out.push_back(',');
    appendJsonKey(out, "opaque");
    appendDecimal(out, c.opaque);
    if (c.remark) {
        out.push_back(',');
        appendJsonKey(out, "remark");
        appendJsonString(out, *c.remark);
    }
    out.append(",\"serializeTypeCurrentRPC\":\"JSON\",");
    appendJsonKey(out, "version");
    appendDecimal(out, c.version);
    out.push_back('}');
}

// QJsonValue keeps integers parsed from JSON exactly (int64) and doubles otherwise; toInteger() answers the default
// for anything that is not a whole number representable as int64, so two different defaults tell the cases apart.
std::optional<int64_t> jsonInteger(const QJsonValue &v)
{
    if (!v.isDouble())
        return std::nullopt;
    const qint64 a = v.toInteger(0);
    const qint64 b = v.toInteger(-1);
    if (a != b)
        return std::nullopt;
    return a;
}

bool jsonInt32(const QJsonObject &object, const char *key, int32_t *out, std::string *error)
{
    const QJsonValue v = object.value(QLatin1String(key));
    if (v.isUndefined())
        return true; // absent: keep the default, as fastjson does
    const std::optional<int64_t> n = jsonInteger(v);
    if (!n || *n < std::numeric_limits<int32_t>::min() || *n > std::numeric_limits<int32_t>::max()) {
        *error = std::string("JSON header field \"") + key + "\" is not a 32-bit integer";
        return false;
    }
    *out = static_cast<int32_t>(*n);
    return true;
}

// An extFields scalar as the string Java would hold: integers in decimal, other numbers in the shortest form that
// reads back to the same double, booleans as true/false.
std::string scalarText(const QJsonValue &v)
{
    if (v.isBool())
        return v.toBool() ? "true" : "false";
    if (const std::optional<int64_t> n = jsonInteger(v))
        return std::to_string(*n);
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v.toDouble());
    return r.ec == std::errc() ? std::string(buf, r.ptr) : std::string();
}

bool parseJsonHeader(std::string_view header, RemotingCommand *c, std::string *error)
{
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(
        QByteArray::fromRawData(header.data(), static_cast<qsizetype>(header.size())), &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        *error = "JSON header does not parse: " + parseError.errorString().toStdString() + " at offset " +
                 std::to_string(parseError.offset);
        return false;
    }
    if (!doc.isObject()) {
        *error = "JSON header is not an object";
        return false;
    }
    const QJsonObject object = doc.object();
    if (!jsonInt32(object, "code", &c->code, error) || !jsonInt32(object, "opaque", &c->opaque, error) ||
        !jsonInt32(object, "flag", &c->flag, error) || !jsonInt32(object, "version", &c->version, error))
        return false;

    const QJsonValue language = object.value(QLatin1String("language"));
    if (language.isString())
        c->language = language.toString().toStdString();
    const QJsonValue remark = object.value(QLatin1String("remark"));
    if (remark.isString())
        c->remark = remark.toString().toStdString();

    const QJsonValue ext = object.value(QLatin1String("extFields"));
    if (ext.isUndefined() || ext.isNull())
        return true;
    if (!ext.isObject()) {
        *error = "JSON header field \"extFields\" is not an object";
        return false;
    }
    const QJsonObject fields = ext.toObject();
    for (auto it = fields.begin(); it != fields.end(); ++it) {
        const QJsonValue v = it.value();
        if (v.isNull())
            continue;
        if (v.isArray() || v.isObject()) {
            *error = "extFields value \"" + it.key().toStdString() + "\" is not a scalar";
            return false;
        }
        c->extFields.insert_or_assign(it.key().toStdString(),
                                      v.isString() ? v.toString().toStdString() : scalarText(v));
    }
    return true;
}

// Strings are Java's: a zero length means null (remark) and bytes decode as UTF-8 with U+FFFD replacement. The
// extFields area is parsed entry by entry and must be used up exactly; bytes after it inside the header are
// ignored, as Java does.
bool parseBinaryHeader(const uint8_t *header, size_t size, RemotingCommand *c, std::string *error)
{
    Reader r(header, size);
    if (!r.has(kBinaryHeaderFixed - 4)) {
        *error = "binary header of " + std::to_string(size) + " bytes is shorter than its fixed part";
        return false;
    }
    c->code = static_cast<int16_t>(r.u16());
    const uint8_t language = r.u8();
    const char *name = languageName(language);
    c->language = name ? name : kLanguages[kLanguageOther];
    c->version = static_cast<int16_t>(r.u16());
    c->opaque = static_cast<int32_t>(r.u32());
    c->flag = static_cast<int32_t>(r.u32());

    const auto remarkLen = static_cast<int32_t>(r.u32());
    if (remarkLen < 0 || !r.has(static_cast<size_t>(remarkLen))) {
        *error = "binary header remark length " + std::to_string(remarkLen) + " overruns the header";
        return false;
    }
    if (remarkLen > 0)
        c->remark = javaUtf8(r.bytes(static_cast<size_t>(remarkLen)));

    if (!r.has(4)) {
        *error = "binary header ends before the extFields length";
        return false;
    }
    const auto extLen = static_cast<int32_t>(r.u32());
    if (extLen < 0 || !r.has(static_cast<size_t>(extLen))) {
        *error = "binary header extFields length " + std::to_string(extLen) + " overruns the header";
        return false;
    }
    const std::string_view ext = r.bytes(static_cast<size_t>(extLen));
    Reader e(reinterpret_cast<const uint8_t *>(ext.data()), ext.size());
    while (e.remaining() > 0) {
        if (!e.has(2)) {
            *error = "binary header extFields entry is cut in its key length";
            return false;
        }
        const auto keyLen = static_cast<int16_t>(e.u16());
        if (keyLen < 0 || !e.has(static_cast<size_t>(keyLen) + 4)) {
            *error = "binary header extFields key length " + std::to_string(keyLen) + " overruns the extFields";
            return false;
        }
        const std::string_view key = e.bytes(static_cast<size_t>(keyLen));
        const auto valueLen = static_cast<int32_t>(e.u32());
        if (valueLen < 0 || !e.has(static_cast<size_t>(valueLen))) {
            *error = "binary header extFields value length " + std::to_string(valueLen) + " overruns the extFields";
            return false;
        }
        c->extFields.insert_or_assign(javaUtf8(key), javaUtf8(e.bytes(static_cast<size_t>(valueLen))));
    }
    return true;
}

} // namespace

const std::string *RemotingCommand::field(std::string_view name) const
{
    const auto it = extFields.find(name);
    return it == extFields.end() ? nullptr : &it->second;
}

std::optional<int64_t> RemotingCommand::intField(std::string_view name) const
{
    const std::string *text = field(name);
    if (!text || text->empty())
        return std::nullopt;
    const char *begin = text->data();
    const char *end = begin + text->size();
    if (*begin == '+') { // Long.parseLong accepts a leading '+' (but not "+-1")
        ++begin;
        if (begin == end || *begin == '-')
            return std::nullopt;
    }
    int64_t value = 0;
    const auto r = std::from_chars(begin, end, value);
    if (r.ec != std::errc() || r.ptr != end)
        return std::nullopt;
    return value;
}

bool RemotingCommand::boolField(std::string_view name, bool fallback) const
{
    const std::string *text = field(name);
    if (!text)
        return fallback;
    if (text->size() != 4)
        return false;
    static constexpr char kTrue[] = "true";
    for (size_t i = 0; i < 4; ++i) {
        char ch = (*text)[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = static_cast<char>(ch - 'A' + 'a');
        if (ch != kTrue[i])
            return false;
    }
    return true;
}

RemotingCommand RemotingCommand::response(int32_t responseCode, std::optional<std::string> remarkText) const
{
    RemotingCommand r;
    r.code = responseCode;
    r.language = "JAVA";
    r.opaque = opaque;
    r.flag = kFlagResponse;
    r.remark = std::move(remarkText);
    return r;
}

DecodeStatus decodeFrame(const uint8_t *data, size_t len, RemotingCommand *out, size_t *frameBytes,
                         std::string *error)
{
    std::string scratch;
    std::string *why = error ? error : &scratch;
    if (frameBytes)
        *frameBytes = 0;
    if (len < 4)
        return DecodeStatus::NeedMore;

    const uint32_t length = loadBe32(data);
    if (length < 4 || length > kMaxFrameLength) {
        *why = "frame length " + std::to_string(static_cast<int32_t>(length)) + " is outside 4.." +
               std::to_string(kMaxFrameLength);
        return DecodeStatus::Malformed;
    }
    const size_t total = 4 + static_cast<size_t>(length);

    // The type byte and header length are checked as soon as they arrive, not after the whole frame.
    if (len >= 8) {
        const uint32_t word = loadBe32(data + 4);
        const uint8_t type = static_cast<uint8_t>(word >> 24);
        const uint32_t headerLen = word & kMaxHeaderLength;
        if (type != kSerializeJson && type != kSerializeRocketMq) {
            *why = "unknown serialize type " + std::to_string(type);
            return DecodeStatus::Malformed;
        }
        if (headerLen > length - 4) {
            *why = "header length " + std::to_string(headerLen) + " exceeds the frame's " +
                   std::to_string(length - 4) + " bytes";
            return DecodeStatus::Malformed;
        }
    }
    if (len < total) {
        if (frameBytes)
            *frameBytes = total;
        return DecodeStatus::NeedMore;
    }

    const uint32_t word = loadBe32(data + 4);
    const uint8_t type = static_cast<uint8_t>(word >> 24);
    const size_t headerLen = word & kMaxHeaderLength;
    const uint8_t *header = data + 8;

    RemotingCommand command;
    command.serializeType = type;
    const bool parsed =
        type == kSerializeJson
            ? parseJsonHeader(std::string_view(reinterpret_cast<const char *>(header), headerLen), &command, why)
            : parseBinaryHeader(header, headerLen, &command, why);
    if (!parsed)
        return DecodeStatus::Malformed;
    command.body.assign(reinterpret_cast<const char *>(header + headerLen), total - 8 - headerLen);

    if (out)
        *out = std::move(command);
    if (frameBytes)
        *frameBytes = total;
    return DecodeStatus::Ok;
}

std::string encodeJsonHeader(const RemotingCommand &command)
{
    std::string out;
    out.reserve(160 + command.extFields.size() * 32);
    appendJsonHeader(out, command);
    return out;
}

// Throws std::length_error when the header does not fit the 24-bit length or the frame the int32 length; neither
// can happen below kMaxFrameLength, which callers are expected to respect.
std::string encodeFrame(const RemotingCommand &command)
{
    std::string out;
    out.reserve(8 + 160 + command.extFields.size() * 32 + command.body.size());
    out.append(8, '\0');
    appendJsonHeader(out, command);
    const size_t headerLen = out.size() - 8;
    if (headerLen > kMaxHeaderLength ||
        4 + headerLen + command.body.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw std::length_error("rocket::encodeFrame: frame too large");
    out.append(command.body);
    storeBe32(out.data(), static_cast<uint32_t>(4 + headerLen + command.body.size()));
    storeBe32(out.data() + 4, static_cast<uint32_t>(headerLen)); // serialize type 0 in the top byte
    return out;
}

// code and version are written as int16 (truncated like Java's (short) cast); strings as raw bytes. Throws
// std::length_error when a key exceeds 32767 bytes or the header does not fit its 24-bit length.
std::string encodeBinaryFrame(const RemotingCommand &command)
{
    std::string header;
    header.reserve(kBinaryHeaderFixed + (command.remark ? command.remark->size() : 0) +
                   command.extFields.size() * 32);
    appendBe16(header, static_cast<uint16_t>(command.code));
    header.push_back(static_cast<char>(languageCode(command.language)));
    appendBe16(header, static_cast<uint16_t>(command.version));
    appendBe32(header, static_cast<uint32_t>(command.opaque));
    appendBe32(header, static_cast<uint32_t>(command.flag));
    const std::string_view remark = command.remark ? std::string_view(*command.remark) : std::string_view();
    if (remark.size() > kMaxHeaderLength)
        throw std::length_error("rocket::encodeBinaryFrame: remark too large");
    appendBe32(header, static_cast<uint32_t>(remark.size()));
    header.append(remark);

    const size_t extLenAt = header.size();
    appendBe32(header, 0);
    for (const auto &[key, value] : command.extFields) {
        if (key.size() > static_cast<size_t>(std::numeric_limits<int16_t>::max()) || value.size() > kMaxHeaderLength)
            throw std::length_error("rocket::encodeBinaryFrame: extFields entry too large");
        appendBe16(header, static_cast<uint16_t>(key.size()));
        header.append(key);
        appendBe32(header, static_cast<uint32_t>(value.size()));
        header.append(value);
    }
    if (header.size() > kMaxHeaderLength ||
        4 + header.size() + command.body.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw std::length_error("rocket::encodeBinaryFrame: frame too large");
    storeBe32(header.data() + extLenAt, static_cast<uint32_t>(header.size() - extLenAt - 4));

    std::string out;
    out.reserve(8 + header.size() + command.body.size());
    appendBe32(out, static_cast<uint32_t>(4 + header.size() + command.body.size()));
    appendBe32(out, (static_cast<uint32_t>(kSerializeRocketMq) << 24) | static_cast<uint32_t>(header.size()));
    out.append(header);
    out.append(command.body);
    return out;
}

const char *languageName(uint8_t code)
{
    return code < kLanguages.size() ? kLanguages[code] : nullptr;
}

uint8_t languageCode(std::string_view name)
{
    for (size_t i = 0; i < kLanguages.size(); ++i)
        if (name == kLanguages[i])
            return static_cast<uint8_t>(i);
    return 0;
}

} // namespace rocket
