#include "queue/Message.h"

#include <algorithm>

#include <ferry/ferry_protocol.h>
#include <ferry/properties.hpp>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <random>

namespace ferry {

namespace {

constexpr uint8_t kRecordVersion = 2;

void putU32(std::string &out, uint32_t v)
{
    char b[4];
    for (int i = 0; i < 4; ++i)
        b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    out.append(b, 4);
}

void putU64(std::string &out, uint64_t v)
{
    char b[8];
    for (int i = 0; i < 8; ++i)
        b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    out.append(b, 8);
}

void putField(std::string &out, const std::string &field)
{
    putU32(out, static_cast<uint32_t>(field.size()));
    out.append(field);
}

// Bounds-checked little-endian reader over a record.
struct Reader {
    const uint8_t *p;
    size_t left;
    bool ok = true;

    uint64_t uint(int bytes)
    {
        if (left < static_cast<size_t>(bytes)) {
            ok = false;
            return 0;
        }
        uint64_t v = 0;
        for (int i = 0; i < bytes; ++i)
            v |= static_cast<uint64_t>(p[i]) << (8 * i);
        p += bytes;
        left -= bytes;
        return v;
    }
    std::string field()
    {
        const uint64_t n = uint(4);
        if (!ok || left < n) {
            ok = false;
            return {};
        }
        std::string s(reinterpret_cast<const char *>(p), n);
        p += n;
        left -= n;
        return s;
    }
};

} // namespace

bool Message::persistent() const { return (flags & FERRY_MESSAGE_PERSISTENT) != 0; }

void Message::fillView(ferry_message *view) const
{
    std::memset(view, 0, sizeof *view);
    view->struct_size = sizeof *view;
    view->flags = flags;
    view->body = reinterpret_cast<const uint8_t *>(body.data());
    view->body_len = body.size();
    view->routing_key = routingKey.data();
    view->routing_key_len = routingKey.size();
    view->tag = tag.data();
    view->tag_len = tag.size();
    view->keys = keys.data();
    view->keys_len = keys.size();
    view->properties = reinterpret_cast<const uint8_t *>(properties.data());
    view->properties_len = properties.size();
    view->born_time_ms = bornTimeMs;
    view->store_time_ms = storeTimeMs;
    std::memcpy(view->id, id.data(), id.size());
    view->origin_protocol = originProtocol.c_str();
    view->priority = priority;
    view->ttl_ms = ttlMs;
    view->exchange = exchange.data();
    view->exchange_len = exchange.size();
}

MessageId newMessageId(uint64_t nowMs)
{
    static const uint32_t node = [] {
        std::random_device rd;
        return static_cast<uint32_t>(rd());
    }();
    static std::atomic<uint64_t> counter{0};
    const uint64_t seq = counter.fetch_add(1, std::memory_order_relaxed);
    MessageId id{};
    for (int i = 0; i < 6; ++i)
        id[i] = static_cast<uint8_t>((nowMs >> (8 * (5 - i))) & 0xFF);
    for (int i = 0; i < 4; ++i)
        id[6 + i] = static_cast<uint8_t>((node >> (8 * (3 - i))) & 0xFF);
    for (int i = 0; i < 6; ++i)
        id[10 + i] = static_cast<uint8_t>((seq >> (8 * (5 - i))) & 0xFF);
    return id;
}

std::string messageIdHex(const MessageId &id)
{
    static const char digits[] = "0123456789ABCDEF";
    std::string s;
    s.reserve(32);
    for (uint8_t b : id) {
        s.push_back(digits[b >> 4]);
        s.push_back(digits[b & 0xF]);
    }
    return s;
}

void appendProperty(std::string &block, std::string_view key, std::string_view value)
{
    sdk::append_property(block, key, value);
}

void forEachProperty(std::string_view block, const std::function<void(std::string_view, std::string_view)> &fn)
{
    sdk::for_each_property(block, fn);
}

std::string takeProperties(const std::string &block, std::string_view prefix,
                           const std::function<void(std::string_view key, std::string_view value)> &fn)
{
    std::string kept;
    forEachProperty(block, [&](std::string_view key, std::string_view value) {
        if (key.substr(0, prefix.size()) == prefix)
            fn(key, value);
        else
            appendProperty(kept, key, value);
    });
    return kept;
}

std::string toHex(std::string_view bytes)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xF]);
    }
    return out;
}

bool fromHex(std::string_view hex, std::string *out)
{
    if (hex.size() % 2)
        return false;
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    out->clear();
    out->reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        const int hi = val(hex[i]), lo = val(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->push_back(static_cast<char>(hi * 16 + lo));
    }
    return true;
}

std::shared_ptr<Message> messageFromView(const ferry_message &view, std::string_view originProtocol)
{
    auto m = std::make_shared<Message>();
    m->flags = view.flags;
    m->bornTimeMs = view.born_time_ms;
    if (view.routing_key_len)
        m->routingKey.assign(view.routing_key, view.routing_key_len);
    if (view.tag_len)
        m->tag.assign(view.tag, view.tag_len);
    if (view.keys_len)
        m->keys.assign(view.keys, view.keys_len);
    if (view.properties_len)
        m->properties.assign(reinterpret_cast<const char *>(view.properties), view.properties_len);
    if (view.body_len)
        m->body.assign(reinterpret_cast<const char *>(view.body), view.body_len);
    m->originProtocol.assign(originProtocol);
    // ABI 1.5 members: read only when the plugin's struct has them.
    if (view.struct_size >= offsetof(ferry_message, exchange_len) + sizeof(size_t)) {
        m->priority = view.priority > 255 ? 255 : view.priority;
        m->ttlMs = view.ttl_ms;
    } else {
        m->flags &= ~static_cast<uint32_t>(FERRY_MESSAGE_HAS_TTL);
    }
    return m;
}

std::string MessageCodec::encodeHead(const Message &m)
{
    std::string head;
    head.reserve(64 + m.routingKey.size() + m.tag.size() + m.keys.size() + m.properties.size() +
                 m.originProtocol.size());
    putU32(head, 0); // head_len, patched below
    head.push_back(static_cast<char>(kRecordVersion));
    putU32(head, m.flags);
    putU64(head, m.bornTimeMs);
    head.append(reinterpret_cast<const char *>(m.id.data()), m.id.size());
    putField(head, m.routingKey);
    putField(head, m.tag);
    putField(head, m.keys);
    putField(head, m.properties);
    putField(head, m.originProtocol);
    putU32(head, m.priority);
    putU64(head, m.ttlMs);
    putField(head, m.exchange);
    const uint32_t n = static_cast<uint32_t>(head.size());
    for (int i = 0; i < 4; ++i)
        head[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    return head;
}

bool MessageCodec::flagsOf(const uint8_t *data, size_t len, uint32_t *flags)
{
    Reader r{data, len};
    const uint64_t headLen = r.uint(4);
    if (!r.ok || headLen > len || headLen < 4 + 1 + 4 + 8 + 16)
        return false;
    const uint64_t version = r.uint(1);
    if (version != 1 && version != 2)
        return false;
    *flags = static_cast<uint32_t>(r.uint(4));
    return r.ok;
}

std::shared_ptr<Message> MessageCodec::decode(const uint8_t *data, size_t len, uint64_t storeTimeMs)
{
    Reader r{data, len};
    const uint64_t headLen = r.uint(4);
    if (!r.ok || headLen > len || headLen < 4 + 1 + 4 + 8 + 16)
        return nullptr;
    Reader h{data + 4, static_cast<size_t>(headLen) - 4};
    const uint64_t version = h.uint(1);
    if (version != 1 && version != 2)
        return nullptr;
    auto m = std::make_shared<Message>();
    m->flags = static_cast<uint32_t>(h.uint(4));
    m->bornTimeMs = h.uint(8);
    if (h.left < 16)
        return nullptr;
    std::memcpy(m->id.data(), h.p, 16);
    h.p += 16;
    h.left -= 16;
    m->routingKey = h.field();
    m->tag = h.field();
    m->keys = h.field();
    m->properties = h.field();
    m->originProtocol = h.field();
    if (version >= 2) {
        m->priority = static_cast<uint32_t>(h.uint(4));
        m->ttlMs = h.uint(8);
        m->exchange = h.field();
    }
    if (!h.ok)
        return nullptr;
    m->storeTimeMs = storeTimeMs;
    m->body.assign(reinterpret_cast<const char *>(data + headLen), len - headLen);
    return m;
}

} // namespace ferry
