// ferry/properties.hpp -- header-only helpers for a message's property block (ferry_message.properties).
//
// The block's format is part of the ABI (ferry_protocol.h): a sequence of entries, each
//   u16 key length (big-endian) | key bytes | u32 value length (big-endian) | value bytes
// Keys repeat when a protocol needs a list (the kernel's dead-letter history does). The kernel, the protocol plugins
// and third-party plugins all read and write blocks with these three functions; nothing here allocates except
// append_property's growth of the caller's string.
#ifndef FERRY_PROPERTIES_HPP
#define FERRY_PROPERTIES_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace ferry::sdk {

// Private keys start with '$': "$ferry." for the kernel (dead-letter history), "$<protocol>." for what a protocol
// plugin keeps for itself ("$amqp.props": AMQP's basic properties as published; "$rocketmq.flag" and the like).
// They are never shown to another protocol's clients, and a plugin never copies a key a client sent that starts with
// '$' into a block. Every other entry is a plain string property that every protocol shows its clients (AMQP as a
// header, RocketMQ as a user property); docs/compatibility/cross-protocol.md has the whole mapping.
inline bool is_private_property(std::string_view key) { return !key.empty() && key.front() == '$'; }

// Appends one entry. Keys longer than 65535 bytes are cut to that length; values must stay below 4 GiB.
inline void append_property(std::string &block, std::string_view key, std::string_view value)
{
    const size_t k = key.size() < 0xFFFF ? key.size() : 0xFFFF;
    const uint32_t v = static_cast<uint32_t>(value.size());
    const char head[2] = {static_cast<char>(k >> 8), static_cast<char>(k)};
    const char len[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
    block.append(head, 2);
    block.append(key.data(), k);
    block.append(len, 4);
    block.append(value.data(), value.size());
}

// Calls fn(key, value) for every entry in order; the views point into data. When fn returns bool, false stops the
// walk early. Returns false when the block is malformed (the entries before the damage have been seen).
template <typename Fn>
bool for_each_property(const uint8_t *data, size_t len, Fn &&fn)
{
    size_t i = 0;
    while (i < len) {
        if (len - i < 2)
            return false;
        const size_t keyLen = (size_t(data[i]) << 8) | data[i + 1];
        i += 2;
        if (len - i < keyLen + 4)
            return false;
        const std::string_view key(reinterpret_cast<const char *>(data + i), keyLen);
        i += keyLen;
        const size_t valueLen =
            (size_t(data[i]) << 24) | (size_t(data[i + 1]) << 16) | (size_t(data[i + 2]) << 8) | data[i + 3];
        i += 4;
        if (len - i < valueLen)
            return false;
        const std::string_view value(reinterpret_cast<const char *>(data + i), valueLen);
        i += valueLen;
        if constexpr (std::is_same_v<decltype(fn(key, value)), bool>) {
            if (!fn(key, value))
                return true;
        } else {
            fn(key, value);
        }
    }
    return true;
}

template <typename Fn>
bool for_each_property(std::string_view block, Fn &&fn)
{
    return for_each_property(reinterpret_cast<const uint8_t *>(block.data()), block.size(), static_cast<Fn &&>(fn));
}

// The value of the first entry named key, or an empty view (absent and empty values look alike; *found tells).
inline std::string_view find_property(const uint8_t *data, size_t len, std::string_view key, bool *found = nullptr)
{
    std::string_view hit;
    bool seen = false;
    for_each_property(data, len, [&](std::string_view k, std::string_view v) {
        if (k != key)
            return true;
        hit = v;
        seen = true;
        return false;
    });
    if (found)
        *found = seen;
    return hit;
}

} // namespace ferry::sdk

#endif
