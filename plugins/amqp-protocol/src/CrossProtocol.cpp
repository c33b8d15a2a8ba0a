#include "CrossProtocol.h"

#include <ferry/properties.hpp>

namespace ferry::amqp {

namespace {
constexpr std::string_view kContentTypeProperty = "content-type";
constexpr std::string_view kRocketUniqKey = "UNIQ_KEY";
constexpr std::string_view kRocketMsgIdHeader = "x-rocketmq-msg-id";
} // namespace

bool headerValueText(const FieldValueView &v, std::string *out)
{
    if (auto s = v.asString()) {
        out->assign(*s);
        return true;
    }
    if (v.type() == FieldType::Bool) {
        *out = *v.asBool() ? "true" : "false";
        return true;
    }
    if (auto i = v.asInt64()) {
        *out = std::to_string(*i);
        return true;
    }
    if (v.isVoid()) {
        out->clear();
        return true;
    }
    return false;
}

std::string publishPropertyBlock(std::string_view rawProperties, const BasicProperties &props)
{
    std::string block;
    block.reserve(rawProperties.size() + 16);
    ferry::sdk::append_property(block, kRawPropertiesKey, rawProperties);
    if (props.has(property::kContentType))
        ferry::sdk::append_property(block, kContentTypeProperty, props.contentType);
    if (props.has(property::kHeaders)) {
        std::string value;
        for (const auto &e : props.headers)
            if (!ferry::sdk::is_private_property(e.key) && headerValueText(e.value, &value))
                ferry::sdk::append_property(block, e.key, value);
    }
    return block;
}

std::string foreignBasicProperties(const ferry_message &m)
{
    BasicProperties props;
    FieldTable headers;
    std::string contentType;
    bool hasContentType = false;
    ferry::sdk::for_each_property(m.properties, m.properties_len, [&](std::string_view k, std::string_view v) {
        if (ferry::sdk::is_private_property(k))
            return;
        if (k == kContentTypeProperty) {
            contentType.assign(v);
            hasContentType = true;
        } else if (k == kRocketUniqKey) {
            headers.set(std::string(kRocketMsgIdHeader), FieldValue::longString(std::string(v)));
        } else {
            headers.set(std::string(k), FieldValue::longString(std::string(v)));
        }
    });
    if (hasContentType)
        props.setContentType(contentType);
    const std::string_view keys(m.keys ? m.keys : "", m.keys_len);
    static const char hex[] = "0123456789abcdef";
    char id[32];
    if (!keys.empty()) {
        props.setMessageId(keys.substr(0, keys.find(' ')));
    } else { // no keys: the kernel's message id, 32 lower-case hex digits
        for (int i = 0; i < 16; ++i) {
            id[2 * i] = hex[m.id[i] >> 4];
            id[2 * i + 1] = hex[m.id[i] & 15];
        }
        props.setMessageId(std::string_view(id, sizeof id));
    }
    props.setDeliveryMode((m.flags & FERRY_MESSAGE_PERSISTENT) ? 2 : 1);
    if (m.born_time_ms)
        props.setTimestamp(m.born_time_ms / 1000);
    const std::string entries = headers.encodeEntries();
    if (!headers.empty())
        props.setHeaders(TableView(entries));
    std::string out;
    if (!appendBasicProperties(out, props))
        out.clear(); // a value over the short-string limit: deliver without properties rather than not at all
    return out;
}

} // namespace ferry::amqp
