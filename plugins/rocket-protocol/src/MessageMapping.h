// MessageMapping: how a RocketMQ message is carried by the kernel's protocol-neutral message, and back
// (docs/compatibility/rocketmq.md has the table).
//
//  - body: the body exactly as sent (a zlib-compressed body stays compressed; sysFlag says so).
//  - tag / keys: the TAGS property; the KEYS tokens and the UNIQ_KEY (the kernel indexes every token of `keys`, which
//    is what QUERY_MESSAGE searches); all of them also kept as properties.
//  - properties: every RocketMQ property, in order, as kernel property entries (key -> value bytes), plus the
//    RocketMQ-only header fields under private keys starting with "$rocketmq." (flag, sysFlag, born host,
//    reconsume times), which are never sent back as properties. Private keys of other protocols ("$amqp.props") and
//    of the kernel ("$ferry.death") are never shown to RocketMQ clients either.
//  - born_time_ms: bornTimestamp. Store time and id are the kernel's.
//
// Physical offsets ("commit log offsets", the 8 bytes inside an offset msgId) name a message without an index:
// (kernel queue id << kPhysicalQueueShift) | queue offset. They stay below 2^53, exact in JavaScript clients, while
// the kernel queue id is below 2^19 and the offset below 2^34 (17 billion messages per queue).
#pragma once

#include "codec/MessageFormat.h"

#include <ferry/ferry_protocol.h>
#include <ferry/properties.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rocket {

constexpr unsigned kPhysicalQueueShift = 34;
constexpr uint64_t kPhysicalOffsetMask = (uint64_t(1) << kPhysicalQueueShift) - 1;

inline int64_t physicalOffset(uint64_t kernelQueueId, uint64_t offset)
{
    return static_cast<int64_t>((kernelQueueId << kPhysicalQueueShift) | (offset & kPhysicalOffsetMask));
}
inline uint64_t physicalQueueId(int64_t physical) { return static_cast<uint64_t>(physical) >> kPhysicalQueueShift; }
inline uint64_t physicalQueueOffset(int64_t physical) { return static_cast<uint64_t>(physical) & kPhysicalOffsetMask; }

// A message as a RocketMQ producer sent it.
struct OutgoingFields {
    int32_t flag = 0;
    int32_t sysFlag = 0;
    int64_t bornTimestamp = 0;
    std::string bornHost; // "ip:port"
    int32_t reconsumeTimes = 0;
    std::string properties; // the raw property string
};

// Owns the bytes a ferry_message points into, for one publish call.
class KernelMessage {
public:
    KernelMessage(const OutgoingFields &fields, std::string_view body);
    const ferry_message &view() const { return message_; }
    // Hands the message to the kernel's delay store until this wall-clock time (0: deliver now).
    void setDeliverAt(uint64_t wallMs) { message_.deliver_at_ms = wallMs; }

private:
    std::string tag_;
    std::string keys_;
    std::string block_;
    ferry_message message_{};
};

// The RocketMQ fields of a delivered kernel message, ready to publish it again (retry, dead letter).
OutgoingFields outgoingFieldsOf(const ferry_delivery &delivery);

// Appends the stored-format record of a delivered kernel message (PULL_MESSAGE bodies and the like).
// kernelQueueId: the kernel queue the message came from; topic / queueId: its RocketMQ names.
// asHalf: the record as a half message (sysFlag PREPARED, TRAN_MSG=true), for CHECK_TRANSACTION_STATE.
void appendStoredRecord(const ferry_delivery &delivery, uint64_t kernelQueueId, const std::string &topic,
                        int32_t queueId, const HostPort &storeHost, std::string &out, bool asHalf = false);

// The TAGS of a delivered kernel message (its tag field).
std::string_view deliveryTag(const ferry_delivery &delivery);

// Property blocks are read and written with <ferry/properties.hpp> (ferry::sdk::append_property / for_each_property).

} // namespace rocket
