#include "MessageMapping.h"

#include <charconv>
#include <cstring>

namespace rocket {

namespace {
// The RocketMQ-only header fields, as private properties (<ferry/properties.hpp>: '$' keys are never shown to
// another protocol, and never accepted from a client).
constexpr std::string_view kFlagKey = "$rocketmq.flag";
constexpr std::string_view kSysFlagKey = "$rocketmq.sysflag";
constexpr std::string_view kBornHostKey = "$rocketmq.born-host";
constexpr std::string_view kReconsumeKey = "$rocketmq.reconsume-times";

int64_t parseInt(std::string_view text, int64_t fallback = 0)
{
    int64_t v = fallback;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    return r.ec == std::errc() ? v : fallback;
}
// Messages that came from another protocol carry no TAGS / KEYS properties: they are made from the kernel's fields
// (tag, or else the routing key; keys), as docs/compatibility/cross-protocol.md maps them.
void addNeutralFields(const ferry_message &m, std::vector<std::pair<std::string, std::string>> &props)
{
    bool hasTags = false, hasKeys = false;
    for (const auto &[k, v] : props) {
        hasTags = hasTags || k == "TAGS";
        hasKeys = hasKeys || k == "KEYS";
    }
    if (!hasTags && (m.tag_len || m.routing_key_len))
        props.emplace_back("TAGS", m.tag_len ? std::string(m.tag, m.tag_len)
                                             : std::string(m.routing_key, m.routing_key_len));
    if (!hasKeys && m.keys_len)
        props.emplace_back("KEYS", std::string(m.keys, m.keys_len));
}
} // namespace

KernelMessage::KernelMessage(const OutgoingFields &fields, std::string_view body)
{
    for (auto &[key, value] : decodeProperties(fields.properties)) {
        if (ferry::sdk::is_private_property(key))
            continue; // a client cannot forge private fields
        if (key == "TAGS")
            tag_ = value;
        else if (key == "KEYS")
            keys_ = keys_.empty() ? value : value + " " + keys_;
        else if (key == "UNIQ_KEY") // indexed too: QUERY_MESSAGE finds a message by its client id
            keys_ = keys_.empty() ? value : keys_ + " " + value;
        ferry::sdk::append_property(block_, key, value);
    }
    if (fields.flag != 0)
        ferry::sdk::append_property(block_, kFlagKey, std::to_string(fields.flag));
    if (fields.sysFlag != 0)
        ferry::sdk::append_property(block_, kSysFlagKey, std::to_string(fields.sysFlag));
    if (!fields.bornHost.empty())
        ferry::sdk::append_property(block_, kBornHostKey, fields.bornHost);
    if (fields.reconsumeTimes != 0)
        ferry::sdk::append_property(block_, kReconsumeKey, std::to_string(fields.reconsumeTimes));

    message_.struct_size = sizeof message_;
    message_.flags = FERRY_MESSAGE_PERSISTENT;
    message_.body = reinterpret_cast<const uint8_t *>(body.data());
    message_.body_len = body.size();
    message_.tag = tag_.data();
    message_.tag_len = tag_.size();
    message_.keys = keys_.data();
    message_.keys_len = keys_.size();
    message_.properties = reinterpret_cast<const uint8_t *>(block_.data());
    message_.properties_len = block_.size();
    message_.born_time_ms = fields.bornTimestamp > 0 ? static_cast<uint64_t>(fields.bornTimestamp) : 0;
}

OutgoingFields outgoingFieldsOf(const ferry_delivery &delivery)
{
    const ferry_message &m = *delivery.message;
    OutgoingFields f;
    f.bornTimestamp = static_cast<int64_t>(m.born_time_ms);
    std::vector<std::pair<std::string, std::string>> props;
    ferry::sdk::for_each_property(m.properties, m.properties_len, [&](std::string_view key, std::string_view value) {
        if (key == kFlagKey)
            f.flag = static_cast<int32_t>(parseInt(value));
        else if (key == kSysFlagKey)
            f.sysFlag = static_cast<int32_t>(parseInt(value));
        else if (key == kBornHostKey)
            f.bornHost = std::string(value);
        else if (key == kReconsumeKey)
            f.reconsumeTimes = static_cast<int32_t>(parseInt(value));
        else if (!ferry::sdk::is_private_property(key))
            props.emplace_back(std::string(key), std::string(value));
    });
    addNeutralFields(m, props);
    f.properties = encodeProperties(props);
    return f;
}

std::string_view deliveryTag(const ferry_delivery &delivery)
{
    const ferry_message *m = delivery.message;
    if (!m)
        return {};
    if (m->tag_len)
        return std::string_view(m->tag, m->tag_len);
    // Another protocol's message (AMQP): its routing key is the tag.
    return m->routing_key_len ? std::string_view(m->routing_key, m->routing_key_len) : std::string_view();
}

void appendStoredRecord(const ferry_delivery &delivery, uint64_t kernelQueueId, const std::string &topic,
                        int32_t queueId, const HostPort &storeHost, std::string &out, bool asHalf)
{
    const ferry_message &m = *delivery.message;
    StoredMessage s;
    s.queueId = queueId;
    s.queueOffset = static_cast<int64_t>(delivery.offset);
    s.commitLogOffset = physicalOffset(kernelQueueId, delivery.offset);
    s.bornTimestamp = static_cast<int64_t>(m.born_time_ms ? m.born_time_ms : m.store_time_ms);
    s.storeTimestamp = static_cast<int64_t>(m.store_time_ms);
    s.storeHost = storeHost;
    s.bornHost = storeHost;
    s.body = std::string_view(reinterpret_cast<const char *>(m.body), m.body_len);
    s.topic = topic;
    std::vector<std::pair<std::string, std::string>> props;
    ferry::sdk::for_each_property(m.properties, m.properties_len, [&](std::string_view key, std::string_view value) {
        if (key == kFlagKey)
            s.flag = static_cast<int32_t>(parseInt(value));
        else if (key == kSysFlagKey)
            s.sysFlag = static_cast<int32_t>(parseInt(value));
        else if (key == kBornHostKey) {
            if (auto host = HostPort::parse(value))
                s.bornHost = *host;
        } else if (key == kReconsumeKey)
            s.reconsumeTimes = static_cast<int32_t>(parseInt(value));
        else if (!ferry::sdk::is_private_property(key))
            props.emplace_back(std::string(key), std::string(value));
    });
    addNeutralFields(m, props);
    s.sysFlag &= ~(sysflag::kBornHostV6 | sysflag::kStoreHostV6); // set again from the host sizes
    if (asHalf) {
        s.sysFlag = (s.sysFlag & ~sysflag::kTransactionMask) | sysflag::kTransactionPrepared;
        props.emplace_back("TRAN_MSG", "true");
    }
    s.properties = encodeProperties(props);
    encodeStoredMessage(s, out);
}

} // namespace rocket
