#include "DeadLetterHeaders.h"

#include "codec/Codec.h"

#include <ferry/properties.hpp>

#include <cstdlib>
#include <vector>

namespace ferry::amqp {

namespace {
constexpr std::string_view kDeathKey = "$ferry.death";
constexpr std::string_view kFirstDeathKey = "$ferry.first-death";

struct Death {
    std::string_view reason, queue, exchange, routingKey, originalExpiration;
    uint64_t time = 0, count = 0;
    bool hasOriginalExpiration = false;
};

Death parseDeath(std::string_view entry)
{
    Death d;
    ferry::sdk::for_each_property(entry, [&](std::string_view k, std::string_view v) {
        if (k == "reason")
            d.reason = v;
        else if (k == "queue")
            d.queue = v;
        else if (k == "exchange")
            d.exchange = v;
        else if (k == "routing-key")
            d.routingKey = v;
        else if (k == "time")
            d.time = std::strtoull(std::string(v).c_str(), nullptr, 10);
        else if (k == "count")
            d.count = std::strtoull(std::string(v).c_str(), nullptr, 10);
        else if (k == "original-expiration") {
            d.originalExpiration = v;
            d.hasOriginalExpiration = true;
        }
    });
    return d;
}
} // namespace

bool renderDeadLetterHeaders(std::string_view rawProperties, const uint8_t *block, size_t blockLen,
                             std::string *rendered)
{
    std::vector<std::string_view> deaths;
    std::string_view firstDeath;
    ferry::sdk::for_each_property(block, blockLen, [&](std::string_view k, std::string_view v) {
        if (k == kDeathKey)
            deaths.push_back(v);
        else if (k == kFirstDeathKey)
            firstDeath = v;
    });
    if (deaths.empty())
        return false;

    BasicProperties props;
    Error error;
    if (!rawProperties.empty() && !decodeBasicProperties(rawProperties, props, error))
        props = BasicProperties{}; // stored by this plugin, so valid; never fail a delivery over it
    FieldTable headers = props.has(property::kHeaders) ? FieldTable::fromView(props.headers) : FieldTable();
    for (const char *key : {"x-death", "x-first-death-reason", "x-first-death-queue", "x-first-death-exchange"})
        headers.remove(key);

    FieldArray history;
    for (std::string_view entry : deaths) {
        const Death d = parseDeath(entry);
        FieldTable t;
        t.add("count", FieldValue::int64(static_cast<int64_t>(d.count)));
        t.add("reason", FieldValue::longString(std::string(d.reason)));
        t.add("queue", FieldValue::longString(std::string(d.queue)));
        t.add("time", FieldValue::timestamp(d.time));
        t.add("exchange", FieldValue::longString(std::string(d.exchange)));
        t.add("routing-keys", FieldValue(FieldArray{FieldValue::longString(std::string(d.routingKey))}));
        if (d.hasOriginalExpiration)
            t.add("original-expiration", FieldValue::longString(std::string(d.originalExpiration)));
        history.push_back(FieldValue(std::move(t)));
    }
    headers.set("x-death", FieldValue(std::move(history)));
    ferry::sdk::for_each_property(firstDeath, [&](std::string_view k, std::string_view v) {
        if (k == "reason" || k == "queue" || k == "exchange")
            headers.set("x-first-death-" + std::string(k), FieldValue::longString(std::string(v)));
    });

    const std::string entries = headers.encodeEntries();
    props.setHeaders(TableView(entries));
    props.flags &= static_cast<uint16_t>(~property::kExpiration);
    std::string out;
    if (!appendBasicProperties(out, props))
        return false;
    *rendered = std::move(out);
    return true;
}

} // namespace ferry::amqp
