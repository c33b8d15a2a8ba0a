// plugin.cpp -- the C ABI surface of the amqp-protocol plugin: descriptor, config keys (section `amqp`), the
// listener and the ferry_protocol_vtable. Every hook body runs inside ferry::sdk::guard, so no exception crosses the
// ABI. Threading follows ferry_protocol.h (see Session.h).
#include "Session.h"

#include <ferry/ferry_protocol.h>
#include <ferry/sdk.hpp>

#include <cstdlib>
#include <memory>

struct ferry_protocol {
    ferry::amqp::Instance instance;
};

struct ferry_session {
    std::unique_ptr<ferry::amqp::Session> session;
};

namespace {

using SdkError = ferry::sdk::Error;
using ferry::sdk::guard;
using namespace ferry::amqp;

const ferry_config_key kConfigKeys[] = {
    {sizeof(ferry_config_key), "heartbeat", "60", "heartbeat interval proposed in connection.tune (seconds; 0: off)"},
    {sizeof(ferry_config_key), "frame_max", "131072", "largest frame proposed in connection.tune (4096 to 1048576)"},
    {sizeof(ferry_config_key), "channel_max", "2047", "most channels per connection proposed in connection.tune"},
    {sizeof(ferry_config_key), "max_message_bytes", "134217728",
     "largest message body accepted; a larger publish is refused with 406 (RabbitMQ's max_message_size; up to 512 MiB)"},
};

const ferry_listener_spec kListeners[] = {
    {sizeof(ferry_listener_spec), "listen", "0.0.0.0:5672", "AMQP 0-9-1"},
};

uint64_t configNumber(const ferry_host *host, const char *key, uint64_t minimum, uint64_t maximum)
{
    const std::string text = ferry::sdk::config(host, key);
    char *end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || text[0] == '-' || value < minimum || value > maximum)
        throw SdkError(FERRY_E_CONFIG, std::string("amqp.") + key + " must be a whole number in [" +
                                        std::to_string(minimum) + ", " + std::to_string(maximum) + "], not '" +
                                        text + "'");
    return value;
}

std::string serverProperties()
{
    FieldTable caps;
    for (const char *c : {"publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
                          "connection.blocked", "authentication_failure_close", "per_consumer_qos"})
        caps.add(c, FieldValue(true));
    caps.add("consumer_priorities", FieldValue(false));
    caps.add("direct_reply_to", FieldValue(true));
    FieldTable props;
    props.add("product", FieldValue::longString("Ferry"));
    props.add("version", FieldValue::longString("0.1.0"));
    props.add("platform", FieldValue::longString("C++"));
    props.add("copyright", FieldValue::longString("the Ferry authors"));
    props.add("information", FieldValue::longString("AMQP 0-9-1 as RabbitMQ speaks it"));
    props.add("cluster_name", FieldValue::longString("ferry"));
    props.add("capabilities", FieldValue(std::move(caps)));
    return props.encodeEntries();
}

ferry_status init(const ferry_protocol_host *host, ferry_protocol **out, char *err, size_t errCap)
{
    return guard(err, errCap, [&] {
        if (host->struct_size < offsetof(ferry_protocol_host, permission_check) + sizeof(void *))
            throw SdkError(FERRY_E_ABI_MISMATCH, "amqp needs the ABI 1.5 host services");
        auto p = std::make_unique<ferry_protocol>();
        p->instance.host = host;
        p->instance.counters = {{host->base, "connections_opened"}, {host->base, "channels_opened"},
                                {host->base, "messages_published"}, {host->base, "messages_delivered"},
                                {host->base, "connection_errors"}};
        // ABI 1.6 kernels raise resource alarms (connection.blocked); with an older kernel there are none.
        p->instance.hasAlarms = host->struct_size >= offsetof(ferry_protocol_host, set_read_paused) + sizeof(void *) &&
                                host->resource_alarms != nullptr && host->set_read_paused != nullptr;
        p->instance.heartbeat = static_cast<uint16_t>(configNumber(host->base, "heartbeat", 0, 65535));
        p->instance.frameMax = static_cast<uint32_t>(configNumber(host->base, "frame_max", 4096, 1048576));
        p->instance.channelMax = static_cast<uint16_t>(configNumber(host->base, "channel_max", 1, 65535));
        p->instance.maxMessageBytes = configNumber(host->base, "max_message_bytes", 1, 512ull << 20);
        p->instance.serverProperties = serverProperties();
        *out = p.release();
        return FERRY_OK;
    });
}

ferry_status onOpen(ferry_protocol *instance, ferry_conn *conn, uint32_t, ferry_session **out)
{
    return guard(nullptr, 0, [&] {
        auto s = std::make_unique<ferry_session>();
        s->session = std::make_unique<Session>(instance->instance, conn);
        *out = s.release();
        return FERRY_OK;
    });
}

ferry_status onRead(ferry_session *s, const uint8_t *data, size_t len, size_t *consumed)
{
    return guard(nullptr, 0, [&] { return s->session->onRead(data, len, consumed); });
}

void onDelivery(ferry_session *s, const ferry_delivery *d)
{
    guard(nullptr, 0, [&] {
        s->session->onDelivery(*d);
        return FERRY_OK;
    });
}

void onResult(ferry_session *s, const ferry_result *r)
{
    guard(nullptr, 0, [&] {
        s->session->onResult(*r);
        return FERRY_OK;
    });
}

void onTimer(ferry_session *s, uint64_t id)
{
    guard(nullptr, 0, [&] {
        s->session->onTimer(id);
        return FERRY_OK;
    });
}

void onSubscriptionEnd(ferry_session *s, uint64_t sub, int32_t)
{
    guard(nullptr, 0, [&] {
        s->session->onSubscriptionEnd(sub);
        return FERRY_OK;
    });
}

void onAlarm(ferry_session *s, uint32_t alarms)
{
    guard(nullptr, 0, [&] {
        s->session->onAlarm(alarms);
        return FERRY_OK;
    });
}

void onCloseRequest(ferry_session *s, const char *reason, size_t reasonLen)
{
    guard(nullptr, 0, [&] {
        s->session->onCloseRequest(std::string_view(reason, reasonLen));
        return FERRY_OK;
    });
}

void listChannels(ferry_session *s, ferry_channel_sink sink, void *sinkCtx)
{
    guard(nullptr, 0, [&] {
        s->session->listChannels(sink, sinkCtx);
        return FERRY_OK;
    });
}

void onWake(ferry_session *s, uint64_t token)
{
    guard(nullptr, 0, [&] {
        s->session->onWake(token);
        return FERRY_OK;
    });
}

void onClose(ferry_session *s, int32_t)
{
    guard(nullptr, 0, [&] {
        s->session->onClose();
        return FERRY_OK;
    });
    delete s;
}

void shutdown(ferry_protocol *instance) { delete instance; }

ferry_protocol_vtable makeVtable()
{
    ferry_protocol_vtable v{};
    v.struct_size = sizeof v;
    v.listeners = kListeners;
    v.listener_count = 1;
    v.init = init;
    v.on_open = onOpen;
    v.on_read = onRead;
    v.on_delivery = onDelivery;
    v.on_result = onResult;
    v.on_timer = onTimer;
    v.on_close = onClose;
    v.shutdown = shutdown;
    v.on_subscription_end = onSubscriptionEnd;
    v.on_wake = onWake;
    v.on_alarm = onAlarm;
    v.on_close_request = onCloseRequest;
    v.list_channels = listChannels;
    return v;
}

const ferry_protocol_vtable kVtable = makeVtable();

const ferry_plugin_descriptor kDescriptor = {
    sizeof(ferry_plugin_descriptor),
    FERRY_ABI_MAJOR,
    FERRY_ABI_MINOR,
    FERRY_PLUGIN_KIND_PROTOCOL,
    "amqp",
    "0.1.0",
    "Apache-2.0",
    "AMQP 0-9-1 with the RabbitMQ extensions (RabbitMQ clients)",
    kConfigKeys,
    sizeof kConfigKeys / sizeof kConfigKeys[0],
    &kVtable,
};

} // namespace

FERRY_PLUGIN_ENTRY
{
    return guard(err, err_cap, [&]() -> ferry_status {
        if (descriptor_out == nullptr)
            throw SdkError(FERRY_E_INVALID_ARGUMENT, "descriptor_out is NULL");
        *descriptor_out = nullptr;
        if (host != nullptr && (host->abi_major != FERRY_ABI_MAJOR || host->abi_minor < 5))
            throw SdkError(FERRY_E_ABI_MISMATCH, "amqp needs ABI " + std::to_string(FERRY_ABI_MAJOR) + ".5 or newer, the "
                                              "kernel offers " + std::to_string(host->abi_major) + "." +
                                              std::to_string(host->abi_minor));
        *descriptor_out = &kDescriptor;
        return FERRY_OK;
    });
}
