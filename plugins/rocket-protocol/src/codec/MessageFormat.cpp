// RocketMQ message encodings: stored record, batch body, properties, offset msgId, tags hash, CRC-32.
// See MessageFormat.h for the contract and ../shared/protocols/rocketmq-remoting.md §3 for the layouts.
#include "codec/MessageFormat.h"

#include <array>
#include <charconv>
#include <limits>
#include <stdexcept>

namespace rocket {

namespace detail {

namespace {
bool isContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }
} // namespace

// Mirrors the JDK's String(byte[], UTF_8) decoder, including how many bytes each malformed sequence swallows: a
// lead byte whose continuation is wrong costs 1 (or 2 when the second byte was fine), an encoded surrogate is one
// U+FFFD for its 3 bytes, and a sequence cut by the end of the input is one U+FFFD for all that is left.
// Also used by RemotingCommand.cpp.
size_t nextCodePointJava(std::string_view s, size_t pos, char32_t *codePoint)
{
    constexpr char32_t kReplacement = 0xFFFD;
    const size_t n = s.size();
    const auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
    const uint8_t b1 = at(pos);

    if (b1 < 0x80) {
        *codePoint = b1;
        return pos + 1;
    }
    if (b1 >= 0xC2 && b1 <= 0xDF) {
        if (pos + 1 < n && isContinuation(at(pos + 1))) {
            *codePoint = (static_cast<char32_t>(b1 & 0x1F) << 6) | (at(pos + 1) & 0x3F);
            return pos + 2;
        }
        *codePoint = kReplacement;
        return pos + 1;
    }
    if ((b1 & 0xF0) == 0xE0) {
        // E0 followed by 80..9F would be an overlong form.
        const auto badSecond = [&](uint8_t b2) { return (b1 == 0xE0 && (b2 & 0xE0) == 0x80) || !isContinuation(b2); };
        if (pos + 2 < n) {
            const uint8_t b2 = at(pos + 1);
            const uint8_t b3 = at(pos + 2);
            if (badSecond(b2) || !isContinuation(b3)) {
                *codePoint = kReplacement;
                return pos + (badSecond(b2) ? 1 : 2);
            }
            const char32_t c =
                (static_cast<char32_t>(b1 & 0x0F) << 12) | (static_cast<char32_t>(b2 & 0x3F) << 6) | (b3 & 0x3F);
            *codePoint = (c >= 0xD800 && c <= 0xDFFF) ? kReplacement : c;
            return pos + 3;
        }
        *codePoint = kReplacement;
        if (pos + 1 < n && badSecond(at(pos + 1)))
            return pos + 1;
        return n;
    }
    if ((b1 & 0xF8) == 0xF0) {
        const auto badSecond = [&](uint8_t b2) {
            return (b1 == 0xF0 && (b2 < 0x90 || b2 > 0xBF)) || (b1 == 0xF4 && (b2 & 0xF0) != 0x80) ||
                   !isContinuation(b2);
        };
        if (pos + 3 < n) {
            const uint8_t b2 = at(pos + 1);
            const uint8_t b3 = at(pos + 2);
            const uint8_t b4 = at(pos + 3);
            const char32_t c = (static_cast<char32_t>(b1 & 0x07) << 18) | (static_cast<char32_t>(b2 & 0x3F) << 12) |
                               (static_cast<char32_t>(b3 & 0x3F) << 6) | (b4 & 0x3F);
            if (!isContinuation(b2) || !isContinuation(b3) || !isContinuation(b4) || c < 0x10000 || c > 0x10FFFF) {
                *codePoint = kReplacement;
                if (b1 > 0xF4 || badSecond(b2))
                    return pos + 1;
                return pos + (isContinuation(b3) ? 3 : 2);
            }
            *codePoint = c;
            return pos + 4;
        }
        *codePoint = kReplacement;
        if (b1 > 0xF4 || (pos + 1 < n && badSecond(at(pos + 1))))
            return pos + 1;
        if (pos + 2 < n && !isContinuation(at(pos + 2)))
            return pos + 2;
        return n;
    }
    *codePoint = kReplacement; // a stray continuation byte, C0, C1 or F8..FF
    return pos + 1;
}

} // namespace detail

namespace {

constexpr int32_t kBlankMagic = static_cast<int32_t>(0xCBD43194);
constexpr size_t kMaxProperties = static_cast<size_t>(std::numeric_limits<int16_t>::max());
constexpr size_t kMaxTopicV1 = static_cast<size_t>(std::numeric_limits<int8_t>::max());
constexpr size_t kMaxTopicV2 = static_cast<size_t>(std::numeric_limits<int16_t>::max());
constexpr size_t kMaxInt32 = static_cast<size_t>(std::numeric_limits<int32_t>::max());

// Stored record sizes without body, topic and properties: the fields up to PREPARED_TRANSACTION_OFFSET with both
// hosts IPv4 (84 bytes), plus BODYLEN (4), TOPICLEN (1 or 2) and PROPLEN (2).
constexpr size_t kStoredFixedV1 = 84 + 4 + 1 + 2;
constexpr size_t kStoredFixedV2 = 84 + 4 + 2 + 2;
// A batch item without body and properties: totalSize, magic, bodyCRC, flag, bodyLen, propLen.
constexpr size_t kBatchItemFixed = 4 + 4 + 4 + 4 + 4 + 2;

void appendBe16(std::string &out, uint16_t v)
{
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

void appendBe32(std::string &out, uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>(v >> shift));
}

void appendBe64(std::string &out, uint64_t v)
{
    for (int shift = 56; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>(v >> shift));
}

// Bounds-checked big-endian cursor. Reads past the end never happen: each read returns false instead and leaves
// the cursor failed, so a parser may check once after a group of reads.
class Reader {
public:
    Reader(const uint8_t *data, size_t size) : data_(data), size_(size) {}
    size_t position() const { return pos_; }
    size_t remaining() const { return size_ - pos_; }
    bool ok() const { return ok_; }

    bool take(size_t n, const uint8_t **p)
    {
        if (!ok_ || remaining() < n) {
            ok_ = false;
            return false;
        }
        *p = data_ + pos_;
        pos_ += n;
        return true;
    }
    uint64_t uint(size_t width)
    {
        const uint8_t *p = nullptr;
        if (!take(width, &p))
            return 0;
        uint64_t v = 0;
        for (size_t i = 0; i < width; ++i)
            v = (v << 8) | p[i];
        return v;
    }
    int8_t i8() { return static_cast<int8_t>(uint(1)); }
    int16_t i16() { return static_cast<int16_t>(uint(2)); }
    int32_t i32() { return static_cast<int32_t>(uint(4)); }
    int64_t i64() { return static_cast<int64_t>(uint(8)); }
    std::string_view bytes(size_t n)
    {
        const uint8_t *p = nullptr;
        if (!take(n, &p))
            return {};
        return {reinterpret_cast<const char *>(p), n};
    }

private:
    const uint8_t *data_;
    size_t size_;
    size_t pos_ = 0;
    bool ok_ = true;
};

void setError(std::string *error, std::string text)
{
    if (error)
        *error = std::move(text);
}

bool readHost(Reader &r, bool v6, HostPort *host)
{
    host->address = std::string(r.bytes(v6 ? 16 : 4));
    host->port = r.i32();
    return r.ok();
}

void appendHost(std::string &out, const HostPort &host)
{
    out.append(host.address);
    appendBe32(out, static_cast<uint32_t>(host.port));
}

// "0".."65535", digits only.
std::optional<int32_t> parsePort(std::string_view text)
{
    if (text.empty() || text.size() > 5)
        return std::nullopt;
    int32_t port = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), port);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || port < 0 || port > 65535 || text[0] == '-')
        return std::nullopt;
    return port;
}

// Dotted quad, four decimal parts of 1..3 digits each, 0..255.
bool parseIpv4(std::string_view text, std::string *out)
{
    std::string bytes;
    size_t start = 0;
    for (int part = 0; part < 4; ++part) {
        const size_t dot = part < 3 ? text.find('.', start) : text.size();
        if (dot == std::string_view::npos)
            return false;
        const std::string_view digits = text.substr(start, dot - start);
        if (digits.empty() || digits.size() > 3)
            return false;
        int value = 0;
        for (const char ch : digits) {
            if (ch < '0' || ch > '9')
                return false;
            value = value * 10 + (ch - '0');
        }
        if (value > 255)
            return false;
        bytes.push_back(static_cast<char>(value));
        start = dot + 1;
    }
    *out = std::move(bytes);
    return true;
}

int hexValue(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

// Colon-separated hex groups of one side of "::" (or the whole address). The last group may be a dotted quad when
// allowV4 is set; it counts as two groups.
bool parseIpv6Groups(std::string_view text, bool allowV4, std::vector<uint16_t> *groups)
{
    if (text.empty())
        return true;
    size_t start = 0;
    while (true) {
        const size_t colon = text.find(':', start);
        const std::string_view group = text.substr(start, colon == std::string_view::npos ? colon : colon - start);
        if (colon == std::string_view::npos && allowV4 && group.find('.') != std::string_view::npos) {
            std::string v4;
            if (!parseIpv4(group, &v4))
                return false;
            groups->push_back(static_cast<uint16_t>((static_cast<uint8_t>(v4[0]) << 8) | static_cast<uint8_t>(v4[1])));
            groups->push_back(static_cast<uint16_t>((static_cast<uint8_t>(v4[2]) << 8) | static_cast<uint8_t>(v4[3])));
            return true;
        }
        if (group.empty() || group.size() > 4)
            return false;
        uint16_t value = 0;
        for (const char ch : group) {
            const int h = hexValue(ch);
            if (h < 0)
                return false;
            value = static_cast<uint16_t>((value << 4) | h);
        }
        groups->push_back(value);
        if (colon == std::string_view::npos)
            return true;
        start = colon + 1;
    }
}

bool parseIpv6(std::string_view text, std::string *out)
{
    std::vector<uint16_t> head;
    std::vector<uint16_t> tail;
    const size_t gap = text.find("::");
    if (gap == std::string_view::npos) {
        if (!parseIpv6Groups(text, true, &head) || head.size() != 8)
            return false;
    } else {
        if (text.find("::", gap + 1) != std::string_view::npos)
            return false;
        if (!parseIpv6Groups(text.substr(0, gap), false, &head) || !parseIpv6Groups(text.substr(gap + 2), true, &tail))
            return false;
        if (head.size() + tail.size() > 7)
            return false;
        head.resize(8 - tail.size(), 0);
        head.insert(head.end(), tail.begin(), tail.end());
    }
    std::string bytes;
    for (const uint16_t g : head) {
        bytes.push_back(static_cast<char>(g >> 8));
        bytes.push_back(static_cast<char>(g));
    }
    *out = std::move(bytes);
    return true;
}

// RFC 5952: lowercase, no leading zeros, the longest run (first on a tie) of two or more zero groups as "::".
std::string formatIpv6(const std::string &address)
{
    std::array<uint16_t, 8> g{};
    for (size_t i = 0; i < 8; ++i)
        g[i] = static_cast<uint16_t>((static_cast<uint8_t>(address[2 * i]) << 8) | static_cast<uint8_t>(address[2 * i + 1]));
    size_t bestStart = 8, bestLen = 0;
    for (size_t i = 0; i < 8;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < 8 && g[j] == 0)
            ++j;
        if (j - i > bestLen && j - i >= 2) {
            bestStart = i;
            bestLen = j - i;
        }
        i = j;
    }
    std::string out;
    char buf[8];
    for (size_t i = 0; i < 8; ++i) {
        if (i == bestStart) {
            out.append("::");
            i += bestLen - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':')
            out.push_back(':');
        const auto r = std::to_chars(buf, buf + sizeof buf, g[i], 16);
        out.append(buf, r.ptr);
    }
    return out;
}

} // namespace

std::optional<HostPort> HostPort::parse(std::string_view text)
{
    HostPort host;
    if (!text.empty() && text.front() == '[') {
        const size_t close = text.find("]:");
        if (close == std::string_view::npos || !parseIpv6(text.substr(1, close - 1), &host.address))
            return std::nullopt;
        text.remove_prefix(close + 2);
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || !parseIpv4(text.substr(0, colon), &host.address))
            return std::nullopt;
        text.remove_prefix(colon + 1);
    }
    const std::optional<int32_t> port = parsePort(text);
    if (!port)
        return std::nullopt;
    host.port = *port;
    return host;
}

// An address that is neither 4 nor 16 bytes renders as "".
std::string HostPort::toString() const
{
    if (address.size() == 4) {
        std::string out;
        for (size_t i = 0; i < 4; ++i) {
            if (i)
                out.push_back('.');
            out.append(std::to_string(static_cast<uint8_t>(address[i])));
        }
        return out + ":" + std::to_string(port);
    }
    if (address.size() == 16)
        return "[" + formatIpv6(address) + "]:" + std::to_string(port);
    return {};
}

// Appends nothing and returns 0 when the message cannot be encoded: a host that is not 4 or 16 bytes, a topic over
// 32767 bytes, properties over 32767 bytes, or a record over 2 GiB.
size_t encodeStoredMessage(const StoredMessage &message, std::string &out)
{
    const size_t bornLen = message.bornHost.address.size();
    const size_t storeLen = message.storeHost.address.size();
    if ((bornLen != 4 && bornLen != 16) || (storeLen != 4 && storeLen != 16))
        return 0;
    if (message.topic.size() > kMaxTopicV2 || message.properties.size() > kMaxProperties ||
        message.body.size() > kMaxInt32)
        return 0;
    const bool v2 = message.topic.size() > kMaxTopicV1;
    const size_t total = (v2 ? kStoredFixedV2 : kStoredFixedV1) + (bornLen - 4) + (storeLen - 4) +
                         message.body.size() + message.topic.size() + message.properties.size();
    if (total > kMaxInt32)
        return 0;

    int32_t sysFlag = message.sysFlag & ~(sysflag::kBornHostV6 | sysflag::kStoreHostV6);
    if (bornLen == 16)
        sysFlag |= sysflag::kBornHostV6;
    if (storeLen == 16)
        sysFlag |= sysflag::kStoreHostV6;
    const uint32_t bodyCrc =
        crc32(reinterpret_cast<const uint8_t *>(message.body.data()), message.body.size()) & 0x7FFFFFFFu;

    out.reserve(out.size() + total);
    appendBe32(out, static_cast<uint32_t>(total));
    appendBe32(out, static_cast<uint32_t>(v2 ? kMessageMagicV2 : kMessageMagicV1));
    appendBe32(out, bodyCrc);
    appendBe32(out, static_cast<uint32_t>(message.queueId));
    appendBe32(out, static_cast<uint32_t>(message.flag));
    appendBe64(out, static_cast<uint64_t>(message.queueOffset));
    appendBe64(out, static_cast<uint64_t>(message.commitLogOffset));
    appendBe32(out, static_cast<uint32_t>(sysFlag));
    appendBe64(out, static_cast<uint64_t>(message.bornTimestamp));
    appendHost(out, message.bornHost);
    appendBe64(out, static_cast<uint64_t>(message.storeTimestamp));
    appendHost(out, message.storeHost);
    appendBe32(out, static_cast<uint32_t>(message.reconsumeTimes));
    appendBe64(out, static_cast<uint64_t>(message.preparedTransactionOffset));
    appendBe32(out, static_cast<uint32_t>(message.body.size()));
    out.append(message.body);
    if (v2)
        appendBe16(out, static_cast<uint16_t>(message.topic.size()));
    else
        out.push_back(static_cast<char>(message.topic.size()));
    out.append(message.topic);
    appendBe16(out, static_cast<uint16_t>(message.properties.size()));
    out.append(message.properties);
    return total;
}

// Valid means: v1 or v2 magic, TOTALSIZE within len and equal to the sum of the fields, no negative length, and a
// BODYCRC that matches the body. *message is written only when the record is valid.
size_t decodeStoredMessage(const uint8_t *data, size_t len, StoredMessage *message, std::string *error)
{
    if (len < 8) {
        setError(error, "stored message truncated: " + std::to_string(len) + " bytes");
        return 0;
    }
    Reader head(data, 8);
    const int32_t totalSize = head.i32();
    const int32_t magic = head.i32();
    if (magic == kBlankMagic) {
        setError(error, "blank record (end of a commit log file)");
        return 0;
    }
    if (magic != kMessageMagicV1 && magic != kMessageMagicV2) {
        setError(error, "bad stored message magic " + std::to_string(magic));
        return 0;
    }
    const bool v2 = magic == kMessageMagicV2;
    if (totalSize < static_cast<int32_t>(v2 ? kStoredFixedV2 : kStoredFixedV1)) {
        setError(error, "stored message TOTALSIZE " + std::to_string(totalSize) + " is below the fixed part");
        return 0;
    }
    const auto total = static_cast<size_t>(totalSize);
    if (total > len) {
        setError(error, "stored message truncated: TOTALSIZE " + std::to_string(total) + ", " + std::to_string(len) +
                            " bytes available");
        return 0;
    }

    Reader r(data, total);
    r.bytes(8);
    StoredMessage m;
    const auto bodyCrc = static_cast<uint32_t>(r.i32());
    m.queueId = r.i32();
    m.flag = r.i32();
    m.queueOffset = r.i64();
    m.commitLogOffset = r.i64();
    m.sysFlag = r.i32();
    m.bornTimestamp = r.i64();
    readHost(r, (m.sysFlag & sysflag::kBornHostV6) != 0, &m.bornHost);
    m.storeTimestamp = r.i64();
    readHost(r, (m.sysFlag & sysflag::kStoreHostV6) != 0, &m.storeHost);
    m.reconsumeTimes = r.i32();
    m.preparedTransactionOffset = r.i64();
    const int32_t bodyLen = r.i32();
    if (!r.ok() || bodyLen < 0 || static_cast<size_t>(bodyLen) > r.remaining()) {
        setError(error, "stored message BODYLEN " + std::to_string(bodyLen) + " overruns TOTALSIZE");
        return 0;
    }
    m.body = r.bytes(static_cast<size_t>(bodyLen));
    const int topicLen = v2 ? r.i16() : r.i8();
    if (!r.ok() || topicLen < 0 || static_cast<size_t>(topicLen) > r.remaining()) {
        setError(error, "stored message TOPICLEN " + std::to_string(topicLen) + " overruns TOTALSIZE");
        return 0;
    }
    m.topic = std::string(r.bytes(static_cast<size_t>(topicLen)));
    const int propLen = r.i16();
    if (!r.ok() || propLen < 0 || static_cast<size_t>(propLen) > r.remaining()) {
        setError(error, "stored message PROPLEN " + std::to_string(propLen) + " overruns TOTALSIZE");
        return 0;
    }
    m.properties = std::string(r.bytes(static_cast<size_t>(propLen)));
    if (r.remaining() != 0) {
        setError(error, "stored message TOTALSIZE " + std::to_string(total) + " but its fields end at " +
                            std::to_string(r.position()));
        return 0;
    }
    const uint32_t actualCrc = crc32(reinterpret_cast<const uint8_t *>(m.body.data()), m.body.size()) & 0x7FFFFFFFu;
    if (actualCrc != bodyCrc) {
        setError(error, "stored message BODYCRC " + std::to_string(bodyCrc) + " does not match the body's " +
                            std::to_string(actualCrc));
        return 0;
    }
    if (message)
        *message = std::move(m);
    return total;
}

// Like Java's broker, the items' totalSize, magic and bodyCRC values are not checked (clients write 0 for the last
// two), only that totalSize is not negative.
std::optional<std::vector<BatchItem>> decodeBatch(std::string_view body, std::string *error)
{
    std::vector<BatchItem> items;
    Reader r(reinterpret_cast<const uint8_t *>(body.data()), body.size());
    while (r.remaining() > 0) {
        const size_t at = r.position();
        const auto where = [&] { return " in the batch item at byte " + std::to_string(at); };
        const int32_t totalSize = r.i32();
        r.i32(); // magic
        r.i32(); // bodyCRC
        BatchItem item;
        item.flag = r.i32();
        const int32_t bodyLen = r.i32();
        if (!r.ok()) {
            setError(error, "batch item header cut" + where());
            return std::nullopt;
        }
        if (totalSize < 0 || bodyLen < 0) {
            setError(error, "negative length" + where());
            return std::nullopt;
        }
        if (static_cast<size_t>(bodyLen) > r.remaining()) {
            setError(error, "body length " + std::to_string(bodyLen) + " overruns the batch" + where());
            return std::nullopt;
        }
        item.body = r.bytes(static_cast<size_t>(bodyLen));
        const int16_t propLen = r.i16();
        if (!r.ok() || propLen < 0 || static_cast<size_t>(propLen) > r.remaining()) {
            setError(error, "properties length " + std::to_string(propLen) + " overruns the batch" + where());
            return std::nullopt;
        }
        item.properties = std::string(r.bytes(static_cast<size_t>(propLen)));
        items.push_back(std::move(item));
    }
    return items;
}

// Throws std::length_error for properties over 32767 bytes or a body over 2 GiB (the format cannot hold them).
std::string encodeBatch(const std::vector<BatchItem> &items)
{
    size_t size = 0;
    for (const BatchItem &item : items) {
        if (item.properties.size() > kMaxProperties || item.body.size() > kMaxInt32 - kBatchItemFixed - kMaxProperties)
            throw std::length_error("rocket::encodeBatch: item too large");
        size += kBatchItemFixed + item.body.size() + item.properties.size();
    }
    std::string out;
    out.reserve(size);
    for (const BatchItem &item : items) {
        appendBe32(out, static_cast<uint32_t>(kBatchItemFixed + item.body.size() + item.properties.size()));
        appendBe32(out, 0); // magic
        appendBe32(out, 0); // bodyCRC
        appendBe32(out, static_cast<uint32_t>(item.flag));
        appendBe32(out, static_cast<uint32_t>(item.body.size()));
        out.append(item.body);
        appendBe16(out, static_cast<uint16_t>(item.properties.size()));
        out.append(item.properties);
    }
    return out;
}

namespace {

// Calls visit(key, value) for each pair Java's parser would keep; see decodeProperties.
template <class Visit>
void forEachProperty(std::string_view text, Visit visit)
{
    size_t index = 0;
    while (index < text.size()) {
        size_t end = text.find('\x02', index);
        if (end == std::string_view::npos)
            end = text.size();
        const std::string_view segment = text.substr(index, end - index);
        const size_t sep = segment.find('\x01');
        if (sep != std::string_view::npos && sep > 0 && sep + 1 < segment.size())
            visit(segment.substr(0, sep), segment.substr(sep + 1));
        index = end + 1;
    }
}

} // namespace

// Duplicate keys are all returned, in order; Java's map (and findProperty) keeps the last.
std::vector<std::pair<std::string, std::string>> decodeProperties(std::string_view text)
{
    std::vector<std::pair<std::string, std::string>> out;
    forEachProperty(text, [&](std::string_view key, std::string_view value) {
        out.emplace_back(std::string(key), std::string(value));
    });
    return out;
}

// Written as Java does: key \x01 value \x02 for every pair, separators inside keys or values not escaped.
std::string encodeProperties(const std::vector<std::pair<std::string, std::string>> &properties)
{
    size_t size = 0;
    for (const auto &[key, value] : properties)
        size += key.size() + value.size() + 2;
    std::string out;
    out.reserve(size);
    for (const auto &[key, value] : properties) {
        out.append(key);
        out.push_back('\x01');
        out.append(value);
        out.push_back('\x02');
    }
    return out;
}

std::optional<std::string> findProperty(std::string_view text, std::string_view key)
{
    std::optional<std::string_view> found;
    forEachProperty(text, [&](std::string_view k, std::string_view v) {
        if (k == key)
            found = v;
    });
    if (!found)
        return std::nullopt;
    return std::string(*found);
}

// "" when the store host address is neither 4 nor 16 bytes.
std::string encodeOffsetMsgId(const HostPort &storeHost, int64_t commitLogOffset)
{
    if (storeHost.address.size() != 4 && storeHost.address.size() != 16)
        return {};
    std::string raw = storeHost.address;
    appendBe32(raw, static_cast<uint32_t>(storeHost.port));
    appendBe64(raw, static_cast<uint64_t>(commitLogOffset));
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(raw.size() * 2);
    for (const char ch : raw) {
        const auto b = static_cast<uint8_t>(ch);
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0xF]);
    }
    return out;
}

std::optional<std::pair<HostPort, int64_t>> decodeOffsetMsgId(std::string_view text)
{
    if (text.size() != 32 && text.size() != 56)
        return std::nullopt;
    std::string raw;
    raw.reserve(text.size() / 2);
    for (size_t i = 0; i < text.size(); i += 2) {
        const int hi = hexValue(text[i]);
        const int lo = hexValue(text[i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        raw.push_back(static_cast<char>((hi << 4) | lo));
    }
    const size_t addressLen = raw.size() - 12;
    Reader r(reinterpret_cast<const uint8_t *>(raw.data()) + addressLen, 12);
    HostPort host;
    host.address = raw.substr(0, addressLen);
    host.port = r.i32();
    const int64_t offset = r.i64();
    if (host.port < 0 || host.port > 65535)
        return std::nullopt;
    return std::make_pair(std::move(host), offset);
}

int32_t javaStringHash(std::string_view utf8)
{
    uint32_t h = 0;
    size_t i = 0;
    while (i < utf8.size()) {
        const auto b = static_cast<uint8_t>(utf8[i]);
        if (b < 0x80) {
            h = 31 * h + b;
            ++i;
            continue;
        }
        char32_t cp = 0;
        i = detail::nextCodePointJava(utf8, i, &cp);
        if (cp >= 0x10000) {
            const char32_t v = cp - 0x10000;
            h = 31 * h + static_cast<uint32_t>(0xD800 + (v >> 10));
            h = 31 * h + static_cast<uint32_t>(0xDC00 + (v & 0x3FF));
        } else {
            h = 31 * h + static_cast<uint32_t>(cp);
        }
    }
    return static_cast<int32_t>(h);
}

namespace {

constexpr uint32_t kCrcPolynomial = 0xEDB88320u; // IEEE 802.3, bit-reversed

using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

// tables[0] is the byte-at-a-time table; tables[k][b] is the CRC of byte b followed by k zero bytes, so eight input
// bytes fold with eight independent lookups.
constexpr CrcTables makeCrcTables()
{
    CrcTables t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit)
            c = (c & 1u) ? (c >> 1) ^ kCrcPolynomial : c >> 1;
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
        for (size_t k = 1; k < 8; ++k)
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
    return t;
}

constexpr CrcTables kCrcTables = makeCrcTables();

} // namespace

uint32_t crc32(const uint8_t *data, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    const uint8_t *p = data;
    while (len >= 8) {
        const uint32_t lo = (static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                             (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24)) ^
                            c;
        c = kCrcTables[7][lo & 0xFFu] ^ kCrcTables[6][(lo >> 8) & 0xFFu] ^ kCrcTables[5][(lo >> 16) & 0xFFu] ^
            kCrcTables[4][lo >> 24] ^ kCrcTables[3][p[4]] ^ kCrcTables[2][p[5]] ^ kCrcTables[1][p[6]] ^
            kCrcTables[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = (c >> 8) ^ kCrcTables[0][(c ^ *p) & 0xFFu];
        ++p;
        --len;
    }
    return ~c;
}

} // namespace rocket
