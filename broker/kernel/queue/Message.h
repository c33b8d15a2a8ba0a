// Message: the kernel's protocol-neutral message, immutable once published and shared (by MessagePtr) between
// queues, storage writes and deliveries, so a body is copied once on publish (out of the plugin's borrowed bytes) and
// not again until it is written to storage or to a socket.
//
// MessageCodec turns a message into the storage record a storage plugin keeps (head bytes, then the body) and back.
// Record layout (little-endian), documented in docs/kernel-record-format.md:
//   u32 head_len | u8 version(=1) | u32 flags | u64 born_time_ms | u8 id[16] |
//   u32 len + routing key | u32 len + tag | u32 len + keys | u32 len + properties | u32 len + origin protocol |
//   version 2 adds: u32 priority | u64 ttl_ms | u32 len + exchange |
//   body (the rest of the record)
// Version 1 records (written before ABI 1.5) are still read.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

struct ferry_message;

namespace ferry {

using MessageId = std::array<uint8_t, 16>;

// Counts the messages alive in the process (a member of Message, so Message keeps its implicit copy and move).
// Relaxed atomics: a figure for housekeeping (MemoryReclaimer), not for synchronisation.
class LiveMessageCount {
public:
    LiveMessageCount() { live_.fetch_add(1, std::memory_order_relaxed); }
    LiveMessageCount(const LiveMessageCount &) : LiveMessageCount() {}
    LiveMessageCount &operator=(const LiveMessageCount &) { return *this; }
    ~LiveMessageCount() { live_.fetch_sub(1, std::memory_order_relaxed); }
    static int64_t now() { return live_.load(std::memory_order_relaxed); }

private:
    static inline std::atomic<int64_t> live_{0};
};

struct Message {
    MessageId id{};
    uint32_t flags = 0; // FERRY_MESSAGE_*
    uint64_t bornTimeMs = 0;
    uint64_t storeTimeMs = 0;
    std::string routingKey;
    std::string tag;
    std::string keys;
    std::string properties; // property block, see ferry_protocol.h
    std::string originProtocol;
    std::string exchange; // the exchange it was routed through (vhost-qualified); "" when none
    uint32_t priority = 0;
    uint64_t ttlMs = 0; // meaningful with FERRY_MESSAGE_HAS_TTL
    std::string body;
    LiveMessageCount counted;

    bool persistent() const;
    // The borrowed view handed to a plugin's on_delivery; valid while this Message lives.
    void fillView(ferry_message *view) const;
};

using MessagePtr = std::shared_ptr<const Message>;

// A new unique 128-bit id: 48-bit milliseconds, 32-bit per-process random node, 48-bit counter.
MessageId newMessageId(uint64_t nowMs);
std::string messageIdHex(const MessageId &id);

// Copies a plugin's borrowed ferry_message into a new Message (the one body copy on the publish path).
std::shared_ptr<Message> messageFromView(const ferry_message &view, std::string_view originProtocol);

// Lower-case hex of bytes, and back (false for odd length or a non-hex digit). For metadata texts.
std::string toHex(std::string_view bytes);
bool fromHex(std::string_view hex, std::string *out);

// Property block helpers (the block format is in ferry_protocol.h).
// fn(key, value) for each entry in order (views into block); a malformed tail is ignored.
void forEachProperty(std::string_view block, const std::function<void(std::string_view, std::string_view)> &fn);
void appendProperty(std::string &block, std::string_view key, std::string_view value);
// The block without the entries whose key starts with prefix; fn(key, value) is called for each one taken out.
// A malformed tail is dropped.
std::string takeProperties(const std::string &block, std::string_view prefix,
                           const std::function<void(std::string_view key, std::string_view value)> &fn);

namespace MessageCodec {
// The head bytes written before the body in a storage record.
std::string encodeHead(const Message &message);
// Parses a whole record (head + body). Returns null when the bytes are not a valid record.
std::shared_ptr<Message> decode(const uint8_t *data, size_t len, uint64_t storeTimeMs);
// Only the flags word of a record (FERRY_MESSAGE_*), without decoding the rest. False when it is not a record.
bool flagsOf(const uint8_t *data, size_t len, uint32_t *flags);
} // namespace MessageCodec

} // namespace ferry
