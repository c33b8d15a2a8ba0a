// plugin.cpp -- the C ABI surface of the rocket-protocol plugin: descriptor, config keys (section `rocket`),
// listeners and the ferry_protocol_vtable. Every hook body runs inside ferry::sdk::guard, so no exception crosses
// the ABI. Threading follows ferry_protocol.h (see RocketPlugin.h).
#include "MessageMapping.h"
#include "RocketPlugin.h"
#include "codec/MessageFormat.h"

#include <ferry/ferry_protocol.h>
#include <ferry/sdk.hpp>

#include <cctype>
#include <cstddef>
#include <cstdlib>
#include <memory>

struct ferry_protocol {
    std::unique_ptr<rocket::RocketPlugin> plugin;
};

struct ferry_session {
    std::unique_ptr<rocket::Session> session;
};

namespace {

using ferry::sdk::Error;
using ferry::sdk::guard;
using rocket::RocketPlugin;
using rocket::Session;
using rocket::SessionRole;
using rocket::Settings;

constexpr const char *kDefaultDelayLevels = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

const ferry_config_key kConfigKeys[] = {
    {sizeof(ferry_config_key), "namesrv_addr", "",
     "semicolon-separated name servers this broker registers with (RocketMQ's namesrvAddr); empty: its own"},
    {sizeof(ferry_config_key), "broker_name", "",
     "brokerName in routes and registrations; empty: the kernel's broker.name (set it only on a kernel before ABI 1.7, "
     "which has no broker.name; on a newer one it must equal broker.name)"},
    {sizeof(ferry_config_key), "cluster_name", "DefaultCluster", "clusterName in registrations"},
    {sizeof(ferry_config_key), "broker_id", "",
     "brokerId (0 = master, > 0 = slave); empty: the kernel's broker.id (as broker_name: only for a kernel before ABI 1.7)"},
    {sizeof(ferry_config_key), "advertised_address", "",
     "host:port put in routes and msgIds; empty: the broker listener's address (0.0.0.0 -> first IPv4 address)"},
    {sizeof(ferry_config_key), "auto_create_topic", "true",
     "create unknown topics on first send through TBW102 (autoCreateTopicEnable)"},
    {sizeof(ferry_config_key), "default_topic_queue_nums", "8", "queues of TBW102, the most an auto-created topic gets"},
    {sizeof(ferry_config_key), "register_interval_ms", "30000", "broker -> name server re-registration period"},
    {sizeof(ferry_config_key), "broker_expiry_ms", "120000", "name server: drop a broker silent this long"},
    {sizeof(ferry_config_key), "namesrv_scan_interval_ms", "10000", "name server: how often silent brokers are dropped"},
    {sizeof(ferry_config_key), "channel_expiry_ms", "120000", "broker: drop a consumer without a heartbeat this long"},
    {sizeof(ferry_config_key), "max_reconsume_times", "16", "deliveries before a message goes to %DLQ%<group>"},
    {sizeof(ferry_config_key), "max_message_bytes", "4194304", "largest message body accepted (maxMessageSize)"},
    {sizeof(ferry_config_key), "transaction_timeout_ms", "6000",
     "a half message unresolved this long is checked back with its producer group (transactionTimeOut)"},
    {sizeof(ferry_config_key), "transaction_check_interval_ms", "60000",
     "how often unresolved half messages are checked back (transactionCheckInterval)"},
    {sizeof(ferry_config_key), "transaction_check_max", "15",
     "checks before a half message is parked in TRANS_CHECK_MAX_TIME_TOPIC (transactionCheckMax)"},
    {sizeof(ferry_config_key), "delay_levels", kDefaultDelayLevels,
     "the delay levels 1..N (messageDelayLevel): numbers with ms, s, m, h or d"},
};

const ferry_listener_spec kListeners[] = {
    {sizeof(ferry_listener_spec), "namesrv_listen", "0.0.0.0:9876", "RocketMQ name server"},
    {sizeof(ferry_listener_spec), "broker_listen", "0.0.0.0:10911", "RocketMQ broker"},
};

std::string config(const ferry_host *host, const char *key) { return ferry::sdk::config(host, key); }

uint64_t configNumber(const ferry_host *host, const char *key, uint64_t minimum, uint64_t maximum)
{
    const std::string text = config(host, key);
    char *end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || text[0] == '-' || value < minimum || value > maximum)
        throw Error(FERRY_E_CONFIG, std::string("rocket.") + key + " must be a whole number in [" +
                                        std::to_string(minimum) + ", " + std::to_string(maximum) + "], not '" +
                                        text + "'");
    return value;
}

bool configBool(const ferry_host *host, const char *key)
{
    std::string text = config(host, key);
    for (char &c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (text == "true" || text == "yes" || text == "on" || text == "1")
        return true;
    if (text == "false" || text == "no" || text == "off" || text == "0")
        return false;
    throw Error(FERRY_E_CONFIG, std::string("rocket.") + key + " must be true or false, not '" + text + "'");
}

// "1s 5s 10s 30s 1m ..." -> milliseconds.
std::vector<uint64_t> parseDelayLevels(const std::string &text)
{
    std::vector<uint64_t> levels;
    size_t pos = 0;
    while (pos < text.size()) {
        while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos])))
            ++pos;
        if (pos >= text.size())
            break;
        size_t end = pos;
        while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])))
            ++end;
        const std::string token = text.substr(pos, end - pos);
        pos = end;
        size_t digits = 0;
        while (digits < token.size() && std::isdigit(static_cast<unsigned char>(token[digits])))
            ++digits;
        const std::string unit = token.substr(digits);
        uint64_t scale = 0;
        if (unit == "ms")
            scale = 1;
        else if (unit == "s")
            scale = 1000;
        else if (unit == "m")
            scale = 60'000;
        else if (unit == "h")
            scale = 3'600'000;
        else if (unit == "d")
            scale = 86'400'000;
        if (digits == 0 || digits > 9 || scale == 0)
            throw Error(FERRY_E_CONFIG, "rocket.delay_levels: '" + token + "' is not a duration such as 5s or 2h");
        levels.push_back(std::stoull(token.substr(0, digits)) * scale);
    }
    if (levels.empty() || levels.size() > 64)
        throw Error(FERRY_E_CONFIG, "rocket.delay_levels must list 1 to 64 durations");
    return levels;
}

// The group's name and this broker's id are the kernel's (broker.name, broker.id: ABI 1.7 replication_info), so one
// setting serves replication and the name server. rocket.broker_name / rocket.broker_id remain for older kernels;
// on a newer one they may only repeat the kernel's values.
void readIdentity(const ferry_protocol_host *host, Settings &s)
{
    const std::string name = config(host->base, "broker_name");
    const std::string id = config(host->base, "broker_id");
    ferry_replication_info info{};
    info.struct_size = sizeof info;
    const bool fromKernel = host->struct_size >= offsetof(ferry_protocol_host, replication_info) + sizeof(void *) &&
                            host->replication_info != nullptr &&
                            host->replication_info(host->base->ctx, &info) == FERRY_OK;
    if (fromKernel) {
        s.brokerName = info.broker_name;
        s.brokerId = static_cast<int64_t>(info.broker_id);
        if (!name.empty() && name != s.brokerName)
            throw Error(FERRY_E_CONFIG, "rocket.broker_name '" + name + "' differs from broker.name '" +
                                            s.brokerName + "': set broker.name (it names the group for replication "
                                            "and the name server) and leave rocket.broker_name empty");
        if (!id.empty() && id != std::to_string(s.brokerId))
            throw Error(FERRY_E_CONFIG, "rocket.broker_id " + id + " differs from broker.id " +
                                            std::to_string(s.brokerId) + ": set broker.id and leave rocket.broker_id empty");
        return;
    }
    s.brokerName = name.empty() ? "broker-a" : name;
    s.brokerId = id.empty() ? 0 : static_cast<int64_t>(configNumber(host->base, "broker_id", 0, 1024));
}

Settings readSettings(const ferry_protocol_host *protocolHost)
{
    const ferry_host *host = protocolHost->base;
    Settings s;
    readIdentity(protocolHost, s);
    s.clusterName = config(host, "cluster_name");
    if (s.clusterName.empty())
        throw Error(FERRY_E_CONFIG, "rocket.cluster_name must not be empty");
    s.advertisedAddress = config(host, "advertised_address");
    const std::string addrs = config(host, "namesrv_addr");
    size_t pos = 0;
    while (pos <= addrs.size()) {
        const size_t semi = addrs.find(';', pos);
        std::string a = addrs.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
        a.erase(0, a.find_first_not_of(" \t"));
        a.erase(a.find_last_not_of(" \t") + 1);
        if (!a.empty()) {
            if (a.rfind(':') == std::string::npos)
                throw Error(FERRY_E_CONFIG, "rocket.namesrv_addr: '" + a + "' is not host:port");
            s.namesrvAddrs.push_back(a);
        }
        if (semi == std::string::npos)
            break;
        pos = semi + 1;
    }
    s.autoCreateTopic = configBool(host, "auto_create_topic");
    s.defaultTopicQueueNums = static_cast<uint32_t>(configNumber(host, "default_topic_queue_nums", 1, 1024));
    s.registerIntervalMs = static_cast<uint32_t>(configNumber(host, "register_interval_ms", 100, 3'600'000));
    s.brokerExpiryMs = static_cast<uint32_t>(configNumber(host, "broker_expiry_ms", 100, 86'400'000));
    s.namesrvScanIntervalMs = static_cast<uint32_t>(configNumber(host, "namesrv_scan_interval_ms", 10, 3'600'000));
    s.channelExpiryMs = static_cast<uint32_t>(configNumber(host, "channel_expiry_ms", 100, 86'400'000));
    s.maxReconsumeTimes = static_cast<uint32_t>(configNumber(host, "max_reconsume_times", 0, 1000));
    s.maxMessageBytes = configNumber(host, "max_message_bytes", 1, 15u << 20);
    s.delayLevelsMs = parseDelayLevels(config(host, "delay_levels"));
    s.transactionTimeoutMs = static_cast<uint32_t>(configNumber(host, "transaction_timeout_ms", 0, 86'400'000));
    s.transactionCheckIntervalMs =
        static_cast<uint32_t>(configNumber(host, "transaction_check_interval_ms", 10, 86'400'000));
    s.transactionCheckMax = static_cast<uint32_t>(configNumber(host, "transaction_check_max", 0, 1000));
    return s;
}

// ---- hooks ----------------------------------------------------------------------------------------------------------

ferry_status init(const ferry_protocol_host *host, ferry_protocol **instance_out, char *err, size_t err_cap)
{
    return guard(err, err_cap, [&]() -> ferry_status {
        if (host == nullptr || instance_out == nullptr || host->base == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "init: host and instance_out are required");
        if (host->struct_size < offsetof(ferry_protocol_host, query_key) + sizeof host->query_key)
            throw Error(FERRY_E_ABI_MISMATCH, "rocket needs a kernel with ABI 1.1 protocol services (topics, wake, "
                                              "connect, instance timers)");
        auto instance = std::make_unique<ferry_protocol>();
        instance->plugin = std::make_unique<RocketPlugin>(host, readSettings(host));
        *instance_out = instance.release();
        return FERRY_OK;
    });
}

ferry_status onOpen(ferry_protocol *instance, ferry_conn *conn, uint32_t listenerIndex, ferry_session **session_out)
{
    return guard(nullptr, 0, [&]() -> ferry_status {
        const SessionRole role = listenerIndex == rocket::kNameServerListener ? SessionRole::NameServer
                                                                                : SessionRole::Broker;
        auto session = std::make_unique<ferry_session>();
        session->session = std::make_unique<Session>(*instance->plugin, conn, role);
        *session_out = session.release();
        return FERRY_OK;
    });
}

ferry_status onConnect(ferry_protocol *instance, ferry_conn *conn, uint64_t tag, ferry_status status, const char *text,
                       ferry_session **session_out)
{
    return guard(nullptr, 0, [&]() -> ferry_status {
        RocketPlugin &plugin = *instance->plugin;
        if (conn == nullptr || status != FERRY_OK) {
            plugin.log(FERRY_LOG_WARN, "cannot reach name server " + plugin.namesrvAddressFor(tag) + ": " +
                                           (text ? text : "status " + std::to_string(status)) + "; retrying");
            plugin.registrationClosed(tag);
            return FERRY_OK;
        }
        auto session = std::make_unique<ferry_session>();
        session->session = std::make_unique<Session>(plugin, conn, SessionRole::Registration, tag);
        *session_out = session.release();
        return FERRY_OK;
    });
}

ferry_status onRead(ferry_session *session, const uint8_t *data, size_t len, size_t *consumed)
{
    return guard(nullptr, 0, [&] { return session->session->onRead(data, len, consumed); });
}

void onDelivery(ferry_session *session, const ferry_delivery *delivery)
{
    guard(nullptr, 0, [&] {
        session->session->onDelivery(*delivery);
        return FERRY_OK;
    });
}

void onResult(ferry_session *session, const ferry_result *result)
{
    guard(nullptr, 0, [&] {
        session->session->onResult(*result);
        return FERRY_OK;
    });
}

void onTimer(ferry_session *session, uint64_t timerId)
{
    guard(nullptr, 0, [&] {
        session->session->onTimer(timerId);
        return FERRY_OK;
    });
}

void onWake(ferry_session *session, uint64_t token)
{
    guard(nullptr, 0, [&] {
        session->session->onWake(token);
        return FERRY_OK;
    });
}

void onClose(ferry_session *session, int32_t reason)
{
    guard(nullptr, 0, [&] {
        session->session->onClose(reason);
        return FERRY_OK;
    });
    delete session;
}

void onInstanceTimer(ferry_protocol *instance, uint64_t timerId)
{
    guard(nullptr, 0, [&] {
        instance->plugin->onInstanceTimer(timerId);
        return FERRY_OK;
    });
}

void listGroupMembers(ferry_protocol *instance, ferry_group_member_sink sink, void *sinkCtx)
{
    guard(nullptr, 0, [&] {
        instance->plugin->forEachGroupMember([&](const std::string &group, const rocket::GroupMember &member,
                                                 const std::string &model, const std::string &topics) {
            ferry_group_member_info info{};
            info.struct_size = sizeof info;
            info.group = group.data();
            info.group_len = group.size();
            info.client_id = member.clientId.data();
            info.client_id_len = member.clientId.size();
            info.conn_id = member.connId;
            info.model = model.data();
            info.model_len = model.size();
            info.topics = topics.data();
            info.topics_len = topics.size();
            sink(sinkCtx, &info);
        });
        return FERRY_OK;
    });
}

ferry_status resolveMessageId(ferry_protocol *, const char *id, size_t idLen, uint64_t *queueId, uint64_t *offset)
{
    return guard(nullptr, 0, [&] {
        const auto decoded = rocket::decodeOffsetMsgId(std::string_view(id, idLen));
        if (!decoded)
            return FERRY_E_NOT_FOUND;
        *queueId = rocket::physicalQueueId(decoded->second);
        *offset = rocket::physicalQueueOffset(decoded->second);
        return FERRY_OK;
    });
}

void shutdown(ferry_protocol *instance) { delete instance; }

ferry_protocol_vtable makeVtable()
{
    ferry_protocol_vtable v{};
    v.struct_size = sizeof v;
    v.listeners = kListeners;
    v.listener_count = sizeof kListeners / sizeof kListeners[0];
    v.init = init;
    v.on_open = onOpen;
    v.on_read = onRead;
    v.on_delivery = onDelivery;
    v.on_result = onResult;
    v.on_timer = onTimer;
    v.on_close = onClose;
    v.shutdown = shutdown;
    v.on_wake = onWake;
    v.on_connect = onConnect;
    v.on_instance_timer = onInstanceTimer;
    v.list_group_members = listGroupMembers;
    v.resolve_message_id = resolveMessageId;
    return v;
}

const ferry_protocol_vtable kVtable = makeVtable();

const ferry_plugin_descriptor kDescriptor = {
    sizeof(ferry_plugin_descriptor),
    FERRY_ABI_MAJOR,
    FERRY_ABI_MINOR,
    FERRY_PLUGIN_KIND_PROTOCOL,
    "rocket",
    "0.1.0",
    "Apache-2.0",
    "RocketMQ remoting protocol: name server and broker (RocketMQ 4.x clients)",
    kConfigKeys,
    sizeof kConfigKeys / sizeof kConfigKeys[0],
    &kVtable,
};

} // namespace

FERRY_PLUGIN_ENTRY
{
    return guard(err, err_cap, [&]() -> ferry_status {
        if (descriptor_out == nullptr)
            throw Error(FERRY_E_INVALID_ARGUMENT, "descriptor_out is NULL");
        *descriptor_out = nullptr;
        if (host != nullptr && (host->abi_major != FERRY_ABI_MAJOR || host->abi_minor < 4))
            throw Error(FERRY_E_ABI_MISMATCH, "rocket needs ABI " + std::to_string(FERRY_ABI_MAJOR) + ".4 or newer, "
                                              "the kernel offers " + std::to_string(host->abi_major) + "." +
                                              std::to_string(host->abi_minor));
        *descriptor_out = &kDescriptor;
        return FERRY_OK;
    });
}
