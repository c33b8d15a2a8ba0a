// BrokerRole: the broker's request handlers (fact sheet §2.2, §2.3, §2.5). Each handler answers at once from kernel
// state (topics, queue bounds) or starts kernel calls whose results (on_delivery / on_result, matched by correlation
// id through a PendingCall) complete the reply later on the same connection.
#include "BrokerRole.h"

#include "MessageMapping.h"
#include "RocketPlugin.h"

#include <cstddef>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace rocket {

namespace {

constexpr size_t kMaxPullBodyBytes = 8u << 20; // a pull reply stays well below the 16 MiB frame limit
constexpr uint32_t kPullSysFlagCommitOffset = 0x1;
constexpr uint32_t kPullSysFlagSuspend = 0x2;
constexpr uint32_t kPullSysFlagSubscription = 0x4;

std::string kernelQueue(const std::string &topic, int64_t queueId)
{
    return topic + FERRY_TOPIC_QUEUE_SEPARATOR + std::to_string(queueId);
}

std::string str(const RemotingCommand &c, std::string_view name)
{
    const std::string *v = c.field(name);
    return v ? *v : std::string();
}

// A field under its V1 name or, in a V2 header, its one-letter alias.
const std::string *sendField(const RemotingCommand &c, std::string_view v1, std::string_view v2)
{
    if (const std::string *v = c.field(v2))
        return v;
    return c.field(v1);
}

int64_t sendInt(const RemotingCommand &c, std::string_view v1, std::string_view v2, int64_t fallback)
{
    const std::string *v = sendField(c, v1, v2);
    if (!v)
        return fallback;
    int64_t out = fallback;
    const auto r = std::from_chars(v->data(), v->data() + v->size(), out);
    return r.ec == std::errc() ? out : fallback;
}

int sendErrorCode(ferry_status st)
{
    switch (st) {
    case FERRY_E_TOO_LARGE: return code::kMessageIllegal;
    case FERRY_E_NO_SPACE:
    case FERRY_E_CLOSED: return code::kServiceNotAvailable;
    case FERRY_E_BUSY: return code::kSystemBusy;
    case FERRY_E_REPLICA_TIMEOUT: return code::kFlushSlaveTimeout;
    case FERRY_E_NO_REPLICA: return code::kSlaveNotAvailable;
    case FERRY_E_READ_ONLY: return code::kServiceNotAvailable;
    case FERRY_E_TIMEOUT: return code::kFlushDiskTimeout;
    default: return code::kSystemError;
    }
}

std::string statusText(const ferry_result &r)
{
    return r.text_len ? std::string(r.text, r.text_len) : "kernel status " + std::to_string(r.status);
}

int64_t propertyInt(const std::string &properties, std::string_view key)
{
    const auto v = findProperty(properties, key);
    if (!v)
        return 0;
    int64_t out = 0;
    const auto r = std::from_chars(v->data(), v->data() + v->size(), out);
    return r.ec == std::errc() ? out : 0;
}

// The wall-clock delivery time a message asks for (0: now): DELAY level (1-based, clamped to the configured
// levels), v5 TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS, or ali-ons' __STARTDELIVERTIME. The properties
// that asked for it are removed, as RocketMQ clears them when it re-puts the message.
uint64_t takeDeliveryTime(std::string &properties, const std::vector<uint64_t> &levels, uint64_t nowMs)
{
    uint64_t at = 0;
    if (const int64_t level = propertyInt(properties, "DELAY"); level > 0 && !levels.empty())
        at = nowMs + levels[static_cast<size_t>(std::min<int64_t>(level, static_cast<int64_t>(levels.size())) - 1)];
    else if (const int64_t deliverMs = propertyInt(properties, "TIMER_DELIVER_MS"); deliverMs > 0)
        at = static_cast<uint64_t>(deliverMs);
    else if (const int64_t sec = propertyInt(properties, "TIMER_DELAY_SEC"); sec > 0)
        at = nowMs + static_cast<uint64_t>(sec) * 1000;
    else if (const int64_t ms = propertyInt(properties, "TIMER_DELAY_MS"); ms > 0)
        at = nowMs + static_cast<uint64_t>(ms);
    else if (const int64_t start = propertyInt(properties, "__STARTDELIVERTIME"); start > 0)
        at = static_cast<uint64_t>(start);
    if (at == 0)
        return 0;
    std::vector<std::pair<std::string, std::string>> kept;
    for (auto &[k, v] : decodeProperties(properties))
        if (k != "DELAY" && k != "TIMER_DELIVER_MS" && k != "TIMER_DELAY_SEC" && k != "TIMER_DELAY_MS" &&
            k != "__STARTDELIVERTIME")
            kept.emplace_back(std::move(k), std::move(v));
    properties = encodeProperties(kept);
    return at > nowMs ? at : 0;
}

std::set<std::string> parseTags(const std::string &subString)
{
    std::set<std::string> tags;
    if (subString.empty() || subString == "*")
        return tags;
    size_t pos = 0;
    while (pos <= subString.size()) {
        size_t bar = subString.find("||", pos);
        std::string tag = subString.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos);
        const auto first = tag.find_first_not_of(" \t");
        const auto last = tag.find_last_not_of(" \t");
        if (first != std::string::npos)
            tags.insert(tag.substr(first, last - first + 1));
        if (bar == std::string::npos)
            break;
        pos = bar + 2;
    }
    return tags;
}

bool tagMatches(const std::set<std::string> &tags, std::string_view tag)
{
    return tags.empty() || tags.count(std::string(tag)) > 0;
}

// Enum fields arrive as names (Java, ali-ons) or ordinals (the C++ client).
std::string enumName(const QJsonValue &v, std::initializer_list<const char *> names)
{
    if (v.isString())
        return v.toString().toStdString();
    if (v.isDouble()) {
        const int i = v.toInt(-1);
        if (i >= 0 && static_cast<size_t>(i) < names.size())
            return *(names.begin() + i);
    }
    return {};
}

int64_t jsonInt64(const QJsonValue &v)
{
    if (v.isDouble())
        return static_cast<int64_t>(v.toDouble());
    if (v.isString()) {
        const std::string s = v.toString().toStdString();
        int64_t out = 0;
        std::from_chars(s.data(), s.data() + s.size(), out);
        return out;
    }
    return 0;
}

// ---- pending kernel calls -------------------------------------------------------------------------------------------

// Shared state of one send; each publish's PendingCall points at it.
struct SendState {
    RemotingCommand response;
    uint64_t kernelQueueId = 0;
    int32_t queueId = 0;
    size_t remaining = 0;
    ferry_status failure = FERRY_OK;
    std::string failureText;
    std::vector<uint64_t> offsets; // in publish order
};

struct PublishCall final : PendingCall {
    std::shared_ptr<SendState> state;
    size_t index = 0;

    void result(Session &s, const ferry_result &r) override
    {
        SendState &st = *state;
        if (r.status != FERRY_OK && st.failure == FERRY_OK) {
            st.failure = r.status;
            st.failureText = statusText(r);
        }
        st.offsets[index] = r.offset;
        if (--st.remaining != 0)
            return;
        RemotingCommand &resp = st.response;
        // SYNC_MASTER stored the message but no slave has it: RocketMQ answers with the send result's header and
        // FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE, which clients report as the send status.
        const bool replicaOnly = st.failure == FERRY_E_REPLICA_TIMEOUT || st.failure == FERRY_E_NO_REPLICA;
        if (st.failure != FERRY_OK && !replicaOnly) {
            resp.code = sendErrorCode(st.failure);
            resp.remark = "storing the message failed: " + st.failureText;
            s.send(resp);
            return;
        }
        const auto host = s.plugin().storeHost().value_or(HostPort{});
        std::string ids;
        for (size_t i = 0; i < st.offsets.size(); ++i) {
            if (i)
                ids += ',';
            ids += encodeOffsetMsgId(host, physicalOffset(st.kernelQueueId, st.offsets[i]));
        }
        resp.code = st.failure == FERRY_E_REPLICA_TIMEOUT ? code::kFlushSlaveTimeout
                    : st.failure == FERRY_E_NO_REPLICA    ? code::kSlaveNotAvailable
                                                          : code::kSuccess;
        if (replicaOnly)
            resp.remark = st.failureText;
        resp.set("msgId", ids);
        resp.set("queueId", static_cast<int64_t>(st.queueId));
        resp.set("queueOffset", static_cast<int64_t>(*std::min_element(st.offsets.begin(), st.offsets.end())));
        resp.set("MSG_REGION", std::string("DefaultRegion"));
        resp.set("TRACE_ON", std::string("true"));
        s.send(resp);
    }
};

// A PULL_MESSAGE: collects the deliveries that pass the tag filter, then replies.
struct PullCall final : PendingCall {
    RemotingCommand response;
    std::string topic;
    int32_t queueId = 0;
    uint64_t kernelQueueId = 0;
    uint64_t requestOffset = 0;
    std::set<std::string> tags;
    HostPort storeHost;
    std::string body;
    uint32_t matched = 0;
    uint32_t seen = 0;
    std::optional<uint64_t> stopAt; // first offset left out because the body was full

    void delivery(Session &, const ferry_delivery &d) override
    {
        ++seen;
        if (stopAt)
            return;
        if (!tagMatches(tags, deliveryTag(d)))
            return;
        if (matched > 0 && body.size() + d.message->body_len + 256 > kMaxPullBodyBytes) {
            stopAt = d.offset;
            return;
        }
        const size_t before = body.size();
        appendStoredRecord(d, kernelQueueId, topic, queueId, storeHost, body);
        if (body.size() == before) { // not encodable (e.g. no store host): never skip it, stop here
            stopAt = d.offset;
            return;
        }
        ++matched;
    }

    void result(Session &s, const ferry_result &r) override
    {
        if (r.status != FERRY_OK) {
            response.code = code::kSystemError;
            response.remark = "pull failed: " + statusText(r);
            response.set("nextBeginOffset", static_cast<int64_t>(requestOffset));
            s.send(response);
            return;
        }
        const uint64_t next = stopAt ? *stopAt : r.offset;
        response.set("nextBeginOffset", static_cast<int64_t>(next));
        if (matched > 0) {
            response.code = code::kSuccess;
            response.body = std::move(body);
        } else if (seen > 0) {
            response.code = code::kPullRetryImmediately; // everything read was filtered out
        } else {
            response.code = code::kPullNotFound; // long poll ended without a message
            response.set("nextBeginOffset", static_cast<int64_t>(requestOffset));
        }
        s.send(response);
    }
};

// Replies with the result's offset in extField `offset`, or with a fixed code on a failure.
struct OffsetCall final : PendingCall {
    RemotingCommand response;
    std::function<void(Session &, RemotingCommand &, const ferry_result &)> finish;

    void result(Session &s, const ferry_result &r) override
    {
        finish(s, response, r);
        s.send(response);
    }
};

// GET_EARLIEST_MSG_STORETIME: the store time of the first message read.
struct StoreTimeCall final : PendingCall {
    RemotingCommand response;
    int64_t timestamp = 0;

    void delivery(Session &, const ferry_delivery &d) override
    {
        if (timestamp == 0)
            timestamp = static_cast<int64_t>(d.message->store_time_ms);
    }
    void result(Session &s, const ferry_result &r) override
    {
        response.code = r.status == FERRY_OK ? code::kSuccess : code::kSystemError;
        if (r.status != FERRY_OK)
            response.remark = statusText(r);
        response.set("timestamp", timestamp);
        s.send(response);
    }
};

// Replies 0 once a publish is stored, or an error.
struct ReplyOnPublish final : PendingCall {
    RemotingCommand response;
    void result(Session &s, const ferry_result &r) override
    {
        if (r.status != FERRY_OK) {
            response.code = sendErrorCode(r.status);
            response.remark = "storing the message failed: " + statusText(r);
        }
        s.send(response);
    }
};

// CONSUMER_SEND_MSG_BACK: reads the failed message, then republishes it to the group's retry or dead-letter topic.
struct SendBackCall final : PendingCall {
    RemotingCommand response;
    std::string group;
    std::string originTopic; // the topic of the queue the message was read from
    std::string originMsgId;
    int64_t delayLevel = 0;
    int64_t maxReconsumeTimes = 16;
    uint64_t offset = 0;
    std::optional<OutgoingFields> fields;
    std::string body;
    std::string offsetMsgId;

    void delivery(Session &, const ferry_delivery &d) override
    {
        if (d.offset != offset || fields)
            return;
        fields = outgoingFieldsOf(d);
        body.assign(reinterpret_cast<const char *>(d.message->body), d.message->body_len);
    }

    void result(Session &s, const ferry_result &r) override;
};

// Reads one message by queue and offset and hands its stored-format record to done.
struct RecordCall final : PendingCall {
    std::string topic;
    int32_t queueId = 0;
    uint64_t kernelQueueId = 0;
    uint64_t offset = 0;
    HostPort storeHost;
    std::string record;
    std::function<void(Session &, std::string)> done;

    void delivery(Session &, const ferry_delivery &d) override
    {
        if (d.offset == offset && record.empty())
            appendStoredRecord(d, kernelQueueId, topic, queueId, storeHost, record);
    }
    void result(Session &s, const ferry_result &) override { done(s, std::move(record)); }
};

// Nothing to reply (oneway commits and the like); failures are logged.
struct LogOnlyCall final : PendingCall {
    std::string what;
    void result(Session &s, const ferry_result &r) override
    {
        if (r.status != FERRY_OK)
            s.plugin().log(FERRY_LOG_WARN, what + " failed: " + statusText(r));
    }
};

void SendBackCall::result(Session &s, const ferry_result &r)
{
    RocketPlugin &plugin = s.plugin();
    if (r.status != FERRY_OK || !fields) {
        response.code = code::kSystemError;
        response.remark = "look message by offset failed, " + std::to_string(offset);
        s.send(response);
        return;
    }
    OutgoingFields f = *fields;
    auto props = decodeProperties(f.properties);
    const auto has = [&](std::string_view key) {
        return std::any_of(props.begin(), props.end(), [&](const auto &p) { return p.first == key; });
    };
    // The first topic and id the message ever had are kept across retries.
    if (!has("RETRY_TOPIC"))
        props.emplace_back("RETRY_TOPIC", originTopic);
    if (!has("ORIGIN_MESSAGE_ID"))
        props.emplace_back("ORIGIN_MESSAGE_ID", originMsgId.empty() ? offsetMsgId : originMsgId);
    std::string topic;
    uint64_t deliverAt = 0;
    const auto &levels = plugin.settings().delayLevelsMs;
    if (f.reconsumeTimes >= maxReconsumeTimes || delayLevel < 0) {
        topic = "%DLQ%" + group;
        std::string realTopic = originTopic;
        for (const auto &[k, v] : props)
            if (k == "RETRY_TOPIC")
                realTopic = v;
        props.emplace_back("DLQ_ORIGIN_TOPIC", realTopic);
        props.emplace_back("DLQ_ORIGIN_MESSAGE_ID", originMsgId.empty() ? offsetMsgId : originMsgId);
    } else {
        topic = "%RETRY%" + group;
        const int64_t level = delayLevel > 0 ? delayLevel : 3 + f.reconsumeTimes;
        if (!levels.empty())
            deliverAt = plugin.nowMs() +
                        levels[static_cast<size_t>(std::clamp<int64_t>(level, 1, static_cast<int64_t>(levels.size())) - 1)];
    }
    f.reconsumeTimes += 1;
    f.properties = encodeProperties(props);
    std::string storage;
    if (!plugin.topic(topic, &storage))
        plugin.declareTopic(topic, 1, 1, FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE, FERRY_TOPIC_SYSTEM);
    const std::string queue = topic + FERRY_TOPIC_QUEUE_SEPARATOR + "0";
    KernelMessage message(f, body);
    message.setDeliverAt(deliverAt);
    auto call = std::make_unique<ReplyOnPublish>();
    call->response = response;
    const uint64_t correlation = s.track(std::move(call));
    const ferry_status st = s.host()->publish(s.conn(), correlation, queue.data(), queue.size(), &message.view(), 0);
    if (st != FERRY_OK) {
        s.untrack(correlation);
        response.code = code::kSystemError;
        response.remark = "publishing to " + topic + " was refused (status " + std::to_string(st) + ")";
        s.send(response);
    }
}

} // namespace

// ---- BrokerRole -----------------------------------------------------------------------------------------------------

BrokerRole::BrokerRole(Session &session) : s_(session), plugin_(session.plugin()), host_(*session.host()) {}

void BrokerRole::handle(RemotingCommand &request)
{
    plugin_.counters().brokerRequests.add();
    switch (request.code) {
    case 10:  // SEND_MESSAGE
    case 310: // SEND_MESSAGE_V2
    case 320: // SEND_BATCH_MESSAGE
    case 324: // SEND_REPLY_MESSAGE
    case 325: // SEND_REPLY_MESSAGE_V2
        return sendMessage(request);
    case 11: return pullMessage(request);
    case 12: return queryMessage(request);
    case 14: return queryConsumerOffset(request);
    case 15: return updateConsumerOffset(request);
    case 17: return updateAndCreateTopic(request);
    case 21: return getAllTopicConfig(request);
    case 29: return searchOffsetByTimestamp(request);
    case 30: return queueOffsetBound(request, true);
    case 31: return queueOffsetBound(request, false);
    case 32: return earliestStoreTime(request);
    case 34: return heartbeat(request);
    case 35: return unregisterClient(request);
    case 38: return consumerList(request);
    case 33: return viewMessageById(request);
    case 36: return consumerSendMsgBack(request);
    case 37: return endTransaction(request);
    case 309: return consumeMessageDirectly(request);
    case 41: return lockBatch(request);
    case 42: return unlockBatch(request);
    case 215: return deleteTopic(request);
    default:
        reply(request, code::kRequestCodeNotSupported, std::to_string(request.code) + " request type not supported");
    }
}

void BrokerRole::reply(const RemotingCommand &request, int code, std::optional<std::string> remark)
{
    if (request.isOneway())
        return;
    s_.send(request.response(code, std::move(remark)));
}

std::optional<ferry_topic_info> BrokerRole::topicOrReply(const RemotingCommand &request, const std::string &topic,
                                                         std::string *nameStorage)
{
    auto info = plugin_.topic(topic, nameStorage);
    if (!info)
        reply(request, code::kTopicNotExist, "topic[" + topic + "] not exist, apply first please!");
    return info;
}

// SEND_MESSAGE 10 / V2 310 / batch 320 (§2.2).
void BrokerRole::sendMessage(RemotingCommand &request)
{
    const std::string *topicField = sendField(request, "topic", "b");
    const std::string *groupField = sendField(request, "producerGroup", "a");
    if (!topicField || topicField->empty() || !groupField) {
        reply(request, code::kSystemError, "the send header lacks " + std::string(!groupField ? "producerGroup" : "topic"));
        return;
    }
    std::string topic = *topicField;
    const std::string *batchField = sendField(request, "batch", "m");
    const bool batch = request.code == 320 || (batchField && *batchField == "true");
    OutgoingFields fields;
    fields.flag = static_cast<int32_t>(sendInt(request, "flag", "h", 0));
    fields.sysFlag = static_cast<int32_t>(sendInt(request, "sysFlag", "f", 0));
    fields.bornTimestamp = sendInt(request, "bornTimestamp", "g", 0);
    fields.reconsumeTimes = static_cast<int32_t>(sendInt(request, "reconsumeTimes", "j", 0));
    if (const std::string *p = sendField(request, "properties", "i"))
        fields.properties = *p;
    char peer[128] = {};
    if (host_.peer_address(s_.conn(), peer, sizeof peer) == FERRY_OK)
        fields.bornHost = peer;
    int64_t queueId = sendInt(request, "queueId", "e", -1);
    const int64_t maxReconsume = sendInt(request, "maxReconsumeTimes", "l", plugin_.settings().maxReconsumeTimes);

    if (request.body.size() > plugin_.settings().maxMessageBytes) {
        reply(request, code::kMessageIllegal,
              "the message body size " + std::to_string(request.body.size()) + " exceeds rocket.max_message_bytes = " +
                  std::to_string(plugin_.settings().maxMessageBytes));
        return;
    }

    // A retry-topic send past the reconsume limit goes to the group's dead-letter topic.
    if (topic.rfind("%RETRY%", 0) == 0 && fields.reconsumeTimes > maxReconsume) {
        if (batch) {
            reply(request, code::kMessageIllegal, "a batch cannot be sent to a retry topic");
            return;
        }
        topic = "%DLQ%" + topic.substr(7);
        plugin_.declareTopic(topic, 1, 1, FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE, FERRY_TOPIC_SYSTEM);
        queueId = 0;
    }

    std::string nameStorage;
    auto info = plugin_.topic(topic, &nameStorage);
    if (!info) {
        const std::string defaultTopic = str(request, request.field("c") ? "c" : "defaultTopic");
        std::string defaultStorage;
        auto def = plugin_.settings().autoCreateTopic && !defaultTopic.empty()
                       ? plugin_.topic(defaultTopic, &defaultStorage)
                       : std::nullopt;
        if (!def || !(def->perm & FERRY_TOPIC_PERM_INHERIT)) {
            reply(request, code::kTopicNotExist, "topic[" + topic + "] not exist, apply first please!");
            return;
        }
        const int64_t wanted = sendInt(request, "defaultTopicQueueNums", "d", 4);
        const uint32_t queues = static_cast<uint32_t>(std::clamp<int64_t>(wanted, 1, def->write_queues));
        const ferry_status st =
            plugin_.declareTopic(topic, queues, queues, FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE, 0);
        if (st != FERRY_OK) {
            reply(request, code::kSystemError, "creating topic " + topic + " failed (status " + std::to_string(st) + ")");
            return;
        }
        plugin_.log(FERRY_LOG_INFO, "auto-created topic " + topic + " with " + std::to_string(queues) + " queues");
        info = plugin_.topic(topic, &nameStorage);
        if (!info) {
            reply(request, code::kSystemError, "topic " + topic + " vanished while being created");
            return;
        }
    }
    if (!(info->perm & FERRY_TOPIC_PERM_WRITE)) {
        reply(request, code::kNoPermission, "the topic[" + topic + "] sending message is forbidden");
        return;
    }
    if (queueId < 0)
        queueId = static_cast<int64_t>(roundRobin_++ % info->write_queues);
    if (queueId >= static_cast<int64_t>(std::max(info->write_queues, info->read_queues))) {
        reply(request, code::kSystemError,
              "request queueId[" + std::to_string(queueId) + "] is illegal, topic:[" + topic +
                  "] topicConfig.writeQueueNums:[" + std::to_string(info->write_queues) + "]");
        return;
    }

    std::vector<BatchItem> items;
    if (batch) {
        std::string error;
        auto decoded = decodeBatch(request.body, &error);
        if (!decoded || decoded->empty()) {
            reply(request, code::kMessageIllegal, "malformed batch body: " + (decoded ? "no message" : error));
            return;
        }
        items = std::move(*decoded);
    }

    const std::string queue = kernelQueue(topic, queueId);
    ferry_queue_info qinfo{};
    qinfo.struct_size = sizeof qinfo;
    if (host_.queue_info(host_.base->ctx, queue.data(), queue.size(), &qinfo) != FERRY_OK) {
        reply(request, code::kSystemError, "queue " + queue + " is missing");
        return;
    }

    // Delayed delivery is for single, non-transactional messages (RocketMQ refuses it in batches).
    uint64_t deliverAt = 0;
    if (!batch && (fields.sysFlag & sysflag::kTransactionMask) == sysflag::kTransactionNot)
        deliverAt = takeDeliveryTime(fields.properties, plugin_.settings().delayLevelsMs, plugin_.nowMs());
    if (deliverAt != 0) {
        const std::string store = "$ferry.delayed";
        ferry_queue_info sinfo{};
        sinfo.struct_size = sizeof sinfo;
        if (host_.queue_info(host_.base->ctx, store.data(), store.size(), &sinfo) == FERRY_OK)
            qinfo.id = sinfo.id; // the reply's msgId names the message's place in the delay store
    }

    // A half message (sysFlag PREPARED): kept by the kernel, invisible until END_TRANSACTION. It is stored as it will
    // be delivered (sysFlag COMMIT, no TRAN_MSG); a check-back shows it as a half again.
    const bool prepared = !batch && (fields.sysFlag & sysflag::kTransactionMask) == sysflag::kTransactionPrepared;
    std::string preparedGroup;
    if (prepared) {
        preparedGroup = findProperty(fields.properties, "PGROUP").value_or(*groupField);
        std::vector<std::pair<std::string, std::string>> kept;
        for (auto &[k, v] : decodeProperties(fields.properties))
            if (k != "TRAN_MSG")
                kept.emplace_back(std::move(k), std::move(v));
        fields.properties = encodeProperties(kept);
        fields.sysFlag = (fields.sysFlag & ~sysflag::kTransactionMask) | sysflag::kTransactionCommit;
        if (const uint64_t store = plugin_.preparedStoreId())
            qinfo.id = store; // the reply's msgId names the half's place in the prepared store
    }

    auto state = std::make_shared<SendState>();
    state->response = request.response(code::kSuccess);
    if (prepared)
        if (auto key = findProperty(fields.properties, "UNIQ_KEY"))
            state->response.set("transactionId", *key);
    state->kernelQueueId = qinfo.id;
    state->queueId = static_cast<int32_t>(queueId);
    const size_t count = batch ? items.size() : 1;
    state->remaining = count;
    state->offsets.assign(count, 0);
    const bool oneway = request.isOneway();
    for (size_t i = 0; i < count; ++i) {
        OutgoingFields f = fields;
        std::string_view body = request.body;
        if (batch) {
            f.flag = items[i].flag;
            f.properties = items[i].properties;
            body = items[i].body;
        }
        KernelMessage message(f, body);
        message.setDeliverAt(deliverAt);
        uint64_t correlation = 0;
        if (!oneway) {
            auto call = std::make_unique<PublishCall>();
            call->state = state;
            call->index = i;
            correlation = s_.track(std::move(call));
        }
        const ferry_status st =
            prepared ? host_.publish_prepared(s_.conn(), correlation, queue.data(), queue.size(), &message.view(),
                                              preparedGroup.data(), preparedGroup.size())
                     : host_.publish(s_.conn(), correlation, queue.data(), queue.size(), &message.view(),
                                     oneway ? FERRY_PUBLISH_NO_RESULT : 0);
        if (st != FERRY_OK) {
            if (!oneway) {
                s_.untrack(correlation);
                state->remaining -= count - i; // later items are not sent
                if (state->remaining == 0) {
                    // Nothing pending: answer now.
                    reply(request, sendErrorCode(st), "publish refused (status " + std::to_string(st) + ")");
                } else {
                    state->failure = st;
                    state->failureText = "publish refused (status " + std::to_string(st) + ")";
                }
            }
            return;
        }
    }
}

// PULL_MESSAGE 11 (§2.3): the status table, tag filtering and long polling.
void BrokerRole::pullMessage(RemotingCommand &request)
{
    RemotingCommand response = request.response(code::kSuccess);
    response.set("suggestWhichBrokerId", int64_t(0));
    response.set("nextBeginOffset", request.intField("queueOffset").value_or(0));
    response.set("minOffset", int64_t(0));
    response.set("maxOffset", int64_t(0));
    // Java clients require the four offset fields on every answer, errors included.
    const auto fail = [&](int code, std::string remark) {
        response.code = code;
        response.remark = std::move(remark);
        s_.send(response);
    };
    const std::string group = str(request, "consumerGroup");
    const std::string topic = str(request, "topic");
    const auto queueId = request.intField("queueId");
    const auto queueOffset = request.intField("queueOffset");
    if (group.empty() || topic.empty() || !queueId || !queueOffset)
        return fail(code::kSystemError, "the pull header lacks consumerGroup, topic, queueId or queueOffset");
    std::string nameStorage;
    const auto info = plugin_.topic(topic, &nameStorage);
    if (!info)
        return fail(code::kTopicNotExist, "topic[" + topic + "] not exist, apply first please!");
    if (!(info->perm & FERRY_TOPIC_PERM_READ)) {
        fail(code::kNoPermission, "the topic[" + topic + "] pulling message is forbidden");
        return;
    }
    if (*queueId < 0 || *queueId >= static_cast<int64_t>(info->read_queues)) {
        fail(code::kSystemError,
              "queueId[" + std::to_string(*queueId) + "] is illegal, topic:[" + topic +
                  "] topicConfig.readQueueNums:[" + std::to_string(info->read_queues) + "]");
        return;
    }
    const int64_t sysFlag = request.intField("sysFlag").value_or(0);
    std::set<std::string> tags;
    if (sysFlag & kPullSysFlagSubscription) {
        tags = parseTags(str(request, "subscription"));
    } else if (auto sub = plugin_.subscription(group, topic)) {
        tags = sub->tags;
    } else {
        return fail(code::kSubscriptionNotExist, "the consumer's subscription not exist, group: " + group);
    }

    const std::string queue = kernelQueue(topic, *queueId);
    if ((sysFlag & kPullSysFlagCommitOffset) && request.intField("commitOffset").value_or(-1) >= 0) {
        const uint64_t commit = static_cast<uint64_t>(*request.intField("commitOffset"));
        host_.commit_offset(s_.conn(), 0, queue.data(), queue.size(), group.data(), group.size(), commit);
    }

    ferry_queue_info q{};
    q.struct_size = sizeof q;
    if (host_.queue_info(host_.base->ctx, queue.data(), queue.size(), &q) != FERRY_OK) {
        fail(code::kSystemError, "queue " + queue + " is missing");
        return;
    }
    response.set("minOffset", static_cast<int64_t>(q.low));
    response.set("maxOffset", static_cast<int64_t>(q.next));
    const uint64_t offset = static_cast<uint64_t>(std::max<int64_t>(0, *queueOffset));
    const bool suspend = (sysFlag & kPullSysFlagSuspend) != 0;
    const int64_t suspendMs = std::clamp<int64_t>(request.intField("suspendTimeoutMillis").value_or(0), 0, 60000);
    const auto answer = [&](int code, uint64_t next) {
        response.code = code;
        response.set("nextBeginOffset", static_cast<int64_t>(next));
        s_.send(response);
    };
    bool longPoll = false;
    if (q.next == 0) { // NO_MESSAGE_IN_QUEUE
        if (offset != 0)
            return answer(code::kPullOffsetMoved, 0);
        longPoll = true;
    } else if (offset < q.low) {
        return answer(code::kPullOffsetMoved, q.low); // OFFSET_TOO_SMALL
    } else if (offset == q.next) {
        longPoll = true; // OFFSET_OVERFLOW_ONE
    } else if (offset > q.next) {
        return answer(code::kPullOffsetMoved, q.next); // OFFSET_OVERFLOW_BADLY
    }
    if (longPoll && !(suspend && suspendMs > 0))
        return answer(code::kPullNotFound, offset);

    auto call = std::make_unique<PullCall>();
    call->response = response; // a copy: `fail` may still answer below
    call->topic = topic;
    call->queueId = static_cast<int32_t>(*queueId);
    call->kernelQueueId = q.id;
    call->requestOffset = offset;
    call->tags = std::move(tags);
    call->storeHost = plugin_.storeHost().value_or(HostPort{});
    const uint32_t maxMsgs = static_cast<uint32_t>(std::clamp<int64_t>(request.intField("maxMsgNums").value_or(32), 1, 1024));
    const uint64_t correlation = s_.track(std::move(call));
    const ferry_status st = host_.pull(s_.conn(), correlation, queue.data(), queue.size(), group.data(), group.size(),
                                       offset, maxMsgs, longPoll ? static_cast<uint32_t>(suspendMs) : 0);
    if (st != FERRY_OK) {
        s_.untrack(correlation);
        fail(code::kSystemError, "pull refused (status " + std::to_string(st) + ")");
    }
}

// QUERY_CONSUMER_OFFSET 14.
void BrokerRole::queryConsumerOffset(RemotingCommand &request)
{
    const std::string group = str(request, "consumerGroup");
    const std::string topic = str(request, "topic");
    const auto queueId = request.intField("queueId");
    if (group.empty() || topic.empty() || !queueId) {
        reply(request, code::kSystemError, "the header lacks consumerGroup, topic or queueId");
        return;
    }
    const std::string queue = kernelQueue(topic, *queueId);
    ferry_queue_info q{};
    q.struct_size = sizeof q;
    if (host_.queue_info(host_.base->ctx, queue.data(), queue.size(), &q) != FERRY_OK) {
        reply(request, code::kQueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first");
        return;
    }
    const bool zeroIfNotFound = request.boolField("setZeroIfNotFound", true);
    auto call = std::make_unique<OffsetCall>();
    call->response = request.response(code::kSuccess);
    const bool young = q.low == 0 && q.next > 0; // entry 0 still stored
    call->finish = [young, zeroIfNotFound](Session &, RemotingCommand &resp, const ferry_result &r) {
        if (r.status == FERRY_OK) {
            resp.set("offset", static_cast<int64_t>(r.offset));
            return;
        }
        // Never committed: a young queue (its first message still stored) starts at 0, as RocketMQ does.
        if (r.status == FERRY_E_NOT_FOUND && zeroIfNotFound && young) {
            resp.set("offset", int64_t(0));
            return;
        }
        resp.code = code::kQueryNotFound;
        resp.remark = "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first";
    };
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.offset_get(s_.conn(), correlation, queue.data(), queue.size(), group.data(), group.size()) != FERRY_OK) {
        s_.untrack(correlation);
        reply(request, code::kSystemError, "reading the offset was refused");
    }
}

// UPDATE_CONSUMER_OFFSET 15.
void BrokerRole::updateConsumerOffset(RemotingCommand &request)
{
    const std::string group = str(request, "consumerGroup");
    const std::string topic = str(request, "topic");
    const auto queueId = request.intField("queueId");
    const auto commit = request.intField("commitOffset");
    if (group.empty() || topic.empty() || !queueId || !commit) {
        reply(request, code::kSystemError, "the header lacks consumerGroup, topic, queueId or commitOffset");
        return;
    }
    if (*commit < 0) { // ali-ons sometimes sends -1: nothing to store
        reply(request, code::kSuccess);
        return;
    }
    const std::string queue = kernelQueue(topic, *queueId);
    std::unique_ptr<PendingCall> call;
    if (request.isOneway()) {
        auto log = std::make_unique<LogOnlyCall>();
        log->what = "storing the offset of " + group + " on " + queue;
        call = std::move(log);
    } else {
        auto off = std::make_unique<OffsetCall>();
        off->response = request.response(code::kSuccess);
        off->finish = [](Session &, RemotingCommand &resp, const ferry_result &r) {
            if (r.status != FERRY_OK) {
                resp.code = r.status == FERRY_E_NOT_FOUND ? code::kTopicNotExist : code::kSystemError;
                resp.remark = statusText(r);
            }
        };
        call = std::move(off);
    }
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.commit_offset(s_.conn(), correlation, queue.data(), queue.size(), group.data(), group.size(),
                            static_cast<uint64_t>(*commit)) != FERRY_OK) {
        s_.untrack(correlation);
        reply(request, code::kTopicNotExist, "no queue " + queue);
    }
}

// GET_MAX_OFFSET 30 / GET_MIN_OFFSET 31.
void BrokerRole::queueOffsetBound(RemotingCommand &request, bool max)
{
    const std::string topic = str(request, "topic");
    const auto queueId = request.intField("queueId");
    if (topic.empty() || !queueId) {
        reply(request, code::kSystemError, "the header lacks topic or queueId");
        return;
    }
    const std::string queue = kernelQueue(topic, *queueId);
    ferry_queue_info q{};
    q.struct_size = sizeof q;
    RemotingCommand resp = request.response(code::kSuccess);
    if (host_.queue_info(host_.base->ctx, queue.data(), queue.size(), &q) == FERRY_OK)
        resp.set("offset", static_cast<int64_t>(max ? q.next : q.low));
    else
        resp.set("offset", int64_t(0)); // RocketMQ answers 0 for an unknown queue
    if (!request.isOneway())
        s_.send(resp);
}

// GET_EARLIEST_MSG_STORETIME 32.
void BrokerRole::earliestStoreTime(RemotingCommand &request)
{
    const std::string topic = str(request, "topic");
    const auto queueId = request.intField("queueId");
    const std::string queue = kernelQueue(topic, queueId.value_or(0));
    ferry_queue_info q{};
    q.struct_size = sizeof q;
    if (topic.empty() || !queueId || host_.queue_info(host_.base->ctx, queue.data(), queue.size(), &q) != FERRY_OK) {
        reply(request, code::kSystemError, "no queue " + queue);
        return;
    }
    auto call = std::make_unique<StoreTimeCall>();
    call->response = request.response(code::kSuccess);
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.pull(s_.conn(), correlation, queue.data(), queue.size(), nullptr, 0, q.low, 1, 0) != FERRY_OK) {
        s_.untrack(correlation);
        reply(request, code::kSystemError, "reading " + queue + " was refused");
    }
}

// SEARCH_OFFSET_BY_TIMESTAMP 29: LOWER (default) = first offset stored at or after ts; UPPER = last at or before.
void BrokerRole::searchOffsetByTimestamp(RemotingCommand &request)
{
    const std::string topic = str(request, "topic");
    const auto queueId = request.intField("queueId");
    const auto timestamp = request.intField("timestamp");
    const std::string queue = kernelQueue(topic, queueId.value_or(0));
    ferry_queue_info q{};
    q.struct_size = sizeof q;
    if (topic.empty() || !queueId || !timestamp ||
        host_.queue_info(host_.base->ctx, queue.data(), queue.size(), &q) != FERRY_OK) {
        reply(request, code::kSystemError, "the header lacks topic, queueId or timestamp, or there is no queue " + queue);
        return;
    }
    const bool upper = str(request, "boundaryType") == "UPPER";
    auto call = std::make_unique<OffsetCall>();
    call->response = request.response(code::kSuccess);
    const uint64_t low = q.low, next = q.next;
    call->finish = [upper, low, next](Session &, RemotingCommand &resp, const ferry_result &r) {
        if (r.status != FERRY_OK) {
            resp.code = code::kSystemError;
            resp.remark = statusText(r);
            return;
        }
        uint64_t offset = r.offset;
        if (next == 0)
            offset = 0;
        else if (upper) // the first offset stored after ts, minus one
            offset = r.offset > low ? r.offset - 1 : 0;
        resp.set("offset", static_cast<int64_t>(offset));
    };
    const uint64_t when = static_cast<uint64_t>(std::max<int64_t>(0, *timestamp)) + (upper ? 1 : 0);
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.seek_time(s_.conn(), correlation, queue.data(), queue.size(), when) != FERRY_OK) {
        s_.untrack(correlation);
        reply(request, code::kSystemError, "time search refused");
    }
}

// HEART_BEAT 34: registers producers and consumers (names or ordinals), creates %RETRY%<group>.
void BrokerRole::heartbeat(RemotingCommand &request)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromRawData(request.body.data(),
                                                                              static_cast<qsizetype>(request.body.size())),
                                                      &error);
    if (!doc.isObject()) {
        reply(request, code::kSystemError, "the heartbeat body is not a JSON object: " + error.errorString().toStdString());
        return;
    }
    const QJsonObject body = doc.object();
    const std::string clientId = body.value("clientID").toString().toStdString();
    if (clientId.empty()) {
        reply(request, code::kSystemError, "the heartbeat has no clientID");
        return;
    }
    if (clientId != clientId_ && host_.struct_size >= offsetof(ferry_protocol_host, set_conn_identity) + sizeof(void *) &&
        host_.set_conn_identity != nullptr) {
        // The admin API lists the connection with the client's id (RocketMQ clients have no user or vhost).
        ferry_conn_identity identity{};
        identity.struct_size = sizeof identity;
        identity.client = clientId.data();
        identity.client_len = clientId.size();
        host_.set_conn_identity(s_.conn(), &identity);
    }
    clientId_ = clientId;
    for (const QJsonValue &p : body.value("producerDataSet").toArray()) {
        const std::string group = p.toObject().value("groupName").toString().toStdString();
        if (!group.empty())
            plugin_.heartbeatProducer(group, clientId, s_.connId());
    }
    std::vector<std::string> changed;
    for (const QJsonValue &c : body.value("consumerDataSet").toArray()) {
        const QJsonObject consumer = c.toObject();
        const std::string group = consumer.value("groupName").toString().toStdString();
        if (group.empty())
            continue;
        const std::string model = enumName(consumer.value("messageModel"), {"BROADCASTING", "CLUSTERING"});
        const std::string from = enumName(consumer.value("consumeFromWhere"),
                                          {"CONSUME_FROM_LAST_OFFSET", "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
                                           "CONSUME_FROM_MIN_OFFSET", "CONSUME_FROM_MAX_OFFSET",
                                           "CONSUME_FROM_FIRST_OFFSET", "CONSUME_FROM_TIMESTAMP"});
        std::vector<SubscriptionData> subs;
        for (const QJsonValue &sv : consumer.value("subscriptionDataSet").toArray()) {
            const QJsonObject so = sv.toObject();
            SubscriptionData sub;
            sub.topic = so.value("topic").toString().toStdString();
            sub.subString = so.value("subString").toString().toStdString();
            sub.subVersion = jsonInt64(so.value("subVersion"));
            for (const QJsonValue &t : so.value("tagsSet").toArray())
                if (!t.toString().isEmpty())
                    sub.tags.insert(t.toString().toStdString());
            if (sub.tags.empty())
                sub.tags = parseTags(sub.subString);
            if (!sub.topic.empty())
                subs.push_back(std::move(sub));
        }
        const std::string retry = "%RETRY%" + group;
        std::string storage;
        if (!plugin_.topic(retry, &storage))
            plugin_.declareTopic(retry, 1, 1, FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE, FERRY_TOPIC_SYSTEM);
        if (plugin_.heartbeatConsumer(group, clientId, s_.connId(), model.empty() ? "CLUSTERING" : model, from,
                                      std::move(subs)))
            changed.push_back(group);
    }
    RemotingCommand resp = request.response(code::kSuccess);
    if (!request.isOneway())
        s_.send(resp);
    for (const std::string &group : changed)
        plugin_.notifyConsumersChanged(group);
}

// UNREGISTER_CLIENT 35.
void BrokerRole::unregisterClient(RemotingCommand &request)
{
    const std::string clientId = str(request, "clientID");
    const auto changed = plugin_.unregisterClient(clientId, str(request, "producerGroup"), str(request, "consumerGroup"));
    reply(request, code::kSuccess);
    for (const std::string &group : changed)
        plugin_.notifyConsumersChanged(group);
}

// GET_CONSUMER_LIST_BY_GROUP 38.
void BrokerRole::consumerList(RemotingCommand &request)
{
    const std::string group = str(request, "consumerGroup");
    const auto ids = plugin_.consumerIds(group);
    if (ids.empty()) {
        reply(request, code::kSystemError, "no consumer for this group, " + group);
        return;
    }
    QJsonArray list;
    for (const std::string &id : ids)
        list.append(QString::fromStdString(id));
    RemotingCommand resp = request.response(code::kSuccess);
    resp.body = QJsonDocument(QJsonObject{{"consumerIdList", list}}).toJson(QJsonDocument::Compact).toStdString();
    if (!request.isOneway())
        s_.send(resp);
}

// UPDATE_AND_CREATE_TOPIC 17.
void BrokerRole::updateAndCreateTopic(RemotingCommand &request)
{
    const std::string topic = str(request, "topic");
    const int64_t read = request.intField("readQueueNums").value_or(plugin_.settings().defaultTopicQueueNums);
    const int64_t write = request.intField("writeQueueNums").value_or(plugin_.settings().defaultTopicQueueNums);
    const int64_t perm = request.intField("perm").value_or(6);
    if (topic.empty()) {
        reply(request, code::kSystemError, "the header lacks topic");
        return;
    }
    if (topic.size() > 127 || topic.find_first_not_of("%|abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                                  std::string::npos) {
        reply(request, code::kSystemError,
              "The specified topic[" + topic + "] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$ (at most 127)");
        return;
    }
    if (read <= 0 || write <= 0 || read > 1024 || write > 1024 || perm < 0 || perm > 15) {
        reply(request, code::kInvalidParameter, "readQueueNums and writeQueueNums must be 1..1024, perm 0..15");
        return;
    }
    const uint32_t flags = request.boolField("order") ? FERRY_TOPIC_ORDERED : 0u;
    const ferry_status st = plugin_.declareTopic(topic, static_cast<uint32_t>(read), static_cast<uint32_t>(write),
                                                 static_cast<uint32_t>(perm), flags);
    if (st != FERRY_OK) {
        reply(request, code::kSystemError, "creating topic " + topic + " failed (status " + std::to_string(st) + ")");
        return;
    }
    reply(request, code::kSuccess);
}

// DELETE_TOPIC_IN_BROKER 215.
void BrokerRole::deleteTopic(RemotingCommand &request)
{
    const std::string topic = str(request, "topic");
    const ferry_status st = plugin_.deleteTopic(topic);
    if (st != FERRY_OK && st != FERRY_E_NOT_FOUND) {
        reply(request, code::kSystemError, "deleting topic " + topic + " failed (status " + std::to_string(st) + ")");
        return;
    }
    reply(request, code::kSuccess);
}

// GET_ALL_TOPIC_CONFIG 21.
void BrokerRole::getAllTopicConfig(RemotingCommand &request)
{
    RemotingCommand resp = request.response(code::kSuccess);
    resp.body = plugin_.topicConfigJson();
    if (!request.isOneway())
        s_.send(resp);
}

// CONSUMER_SEND_MSG_BACK 36 (§2.3): to %RETRY%<group> with back-off, or past the limit to %DLQ%<group>.
void BrokerRole::consumerSendMsgBack(RemotingCommand &request)
{
    const auto physical = request.intField("offset");
    const std::string group = str(request, "group");
    if (!physical || group.empty()) {
        reply(request, code::kSystemError, "the header lacks offset or group");
        return;
    }
    const uint64_t kernelQueueId = physicalQueueId(*physical);
    const uint64_t offset = physicalQueueOffset(*physical);
    char name[512] = {};
    size_t nameLen = 0;
    if (host_.queue_name(host_.base->ctx, kernelQueueId, name, sizeof name, &nameLen) != FERRY_OK) {
        reply(request, code::kSystemError, "look message by offset failed, " + std::to_string(*physical));
        return;
    }
    const std::string queue(name, nameLen);
    auto call = std::make_unique<SendBackCall>();
    call->response = request.response(code::kSuccess);
    call->group = group;
    call->originTopic = queue.substr(0, queue.rfind(FERRY_TOPIC_QUEUE_SEPARATOR[0]));
    call->originMsgId = str(request, "originMsgId");
    call->delayLevel = request.intField("delayLevel").value_or(0);
    // Clients from V3_4_9 (version 121) on send their own limit.
    call->maxReconsumeTimes = request.version >= 121
                                  ? request.intField("maxReconsumeTimes").value_or(plugin_.settings().maxReconsumeTimes)
                                  : plugin_.settings().maxReconsumeTimes;
    call->offset = offset;
    call->offsetMsgId = encodeOffsetMsgId(plugin_.storeHost().value_or(HostPort{}), *physical);
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.pull(s_.conn(), correlation, queue.data(), queue.size(), nullptr, 0, offset, 1, 0) != FERRY_OK) {
        s_.untrack(correlation);
        reply(request, code::kSystemError, "reading " + queue + " was refused");
    }
}

void BrokerRole::readByPhysicalOffset(int64_t physical, std::function<void(Session &, std::string)> done,
                                      const RemotingCommand &request)
{
    char name[512] = {};
    size_t nameLen = 0;
    const std::string missing = "can not find message by the offset, " + std::to_string(physical);
    if (physical < 0 ||
        host_.queue_name(host_.base->ctx, physicalQueueId(physical), name, sizeof name, &nameLen) != FERRY_OK) {
        reply(request, code::kSystemError, missing);
        return;
    }
    const std::string queue(name, nameLen);
    const auto sep = queue.rfind(FERRY_TOPIC_QUEUE_SEPARATOR[0]);
    auto call = std::make_unique<RecordCall>();
    call->topic = sep == std::string::npos ? queue : queue.substr(0, sep);
    call->queueId = sep == std::string::npos ? 0 : std::atoi(queue.c_str() + sep + 1);
    call->kernelQueueId = physicalQueueId(physical);
    call->offset = physicalQueueOffset(physical);
    call->storeHost = plugin_.storeHost().value_or(HostPort{});
    call->done = std::move(done);
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.pull(s_.conn(), correlation, queue.data(), queue.size(), nullptr, 0, physicalQueueOffset(physical), 1,
                   0) != FERRY_OK) {
        s_.untrack(correlation);
        reply(request, code::kSystemError, missing);
    }
}

// VIEW_MESSAGE_BY_ID 33: header offset = the physical offset inside an offset msgId.
void BrokerRole::viewMessageById(RemotingCommand &request)
{
    const auto physical = request.intField("offset");
    if (!physical) {
        reply(request, code::kSystemError, "the header lacks offset");
        return;
    }
    RemotingCommand response = request.response(code::kSuccess);
    const int64_t offset = *physical;
    readByPhysicalOffset(
        offset,
        [response, offset](Session &s, std::string record) mutable {
            if (record.empty()) {
                response.code = code::kSystemError;
                response.remark = "can not find message by the offset, " + std::to_string(offset);
            }
            response.body = std::move(record);
            s.send(response);
        },
        request);
}

namespace {
// QUERY_MESSAGE: collects the found messages as stored-format records.
struct QueryCall final : PendingCall {
    RemotingCommand response;
    HostPort storeHost;
    std::string body;
    int64_t lastTimestamp = 0;
    int64_t lastPhysical = 0;
    ferry_protocol_host const *host = nullptr;

    void delivery(Session &s, const ferry_delivery &d) override
    {
        const std::string queue(d.queue, d.queue_len);
        const auto sep = queue.rfind(FERRY_TOPIC_QUEUE_SEPARATOR[0]);
        ferry_queue_info info{};
        info.struct_size = sizeof info;
        if (sep == std::string::npos ||
            s.host()->queue_info(s.host()->base->ctx, queue.data(), queue.size(), &info) != FERRY_OK)
            return;
        appendStoredRecord(d, info.id, queue.substr(0, sep), std::atoi(queue.c_str() + sep + 1), storeHost, body);
        lastTimestamp = std::max(lastTimestamp, static_cast<int64_t>(d.message->store_time_ms));
        lastPhysical = std::max(lastPhysical, physicalOffset(info.id, d.offset));
    }
    void result(Session &s, const ferry_result &r) override
    {
        if (r.status != FERRY_OK) {
            response.code = code::kSystemError;
            response.remark = statusText(r);
        } else if (body.empty()) {
            response.code = code::kQueryNotFound;
            response.remark = "can not find message, maybe time range not correct";
        } else {
            response.body = std::move(body);
        }
        response.set("indexLastUpdateTimestamp", lastTimestamp);
        response.set("indexLastUpdatePhyoffset", lastPhysical);
        s.send(response);
    }
};
} // namespace

// QUERY_MESSAGE 12: by KEYS token, or by UNIQ_KEY with _UNIQUE_KEY_QUERY=true, over [beginTimestamp, endTimestamp].
void BrokerRole::queryMessage(RemotingCommand &request)
{
    const std::string topic = str(request, "topic");
    const std::string key = str(request, "key");
    if (topic.empty() || key.empty()) {
        reply(request, code::kSystemError, "the header lacks topic or key");
        return;
    }
    const bool unique = request.boolField("_UNIQUE_KEY_QUERY");
    const int64_t maxNum = unique ? 32 : std::clamp<int64_t>(request.intField("maxNum").value_or(32), 1, 64);
    const uint64_t begin = static_cast<uint64_t>(std::max<int64_t>(0, request.intField("beginTimestamp").value_or(0)));
    const int64_t endField = request.intField("endTimestamp").value_or(INT64_MAX);
    const uint64_t end = endField < 0 ? 0 : static_cast<uint64_t>(endField);
    auto call = std::make_unique<QueryCall>();
    call->response = request.response(code::kSuccess);
    call->storeHost = plugin_.storeHost().value_or(HostPort{});
    const std::string prefix = topic + FERRY_TOPIC_QUEUE_SEPARATOR;
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.query_key(s_.conn(), correlation, key.data(), key.size(), prefix.data(), prefix.size(), begin, end,
                        static_cast<uint32_t>(maxNum)) != FERRY_OK) {
        s_.untrack(correlation);
        reply(request, code::kSystemError, "the query was refused");
    }
}

// END_TRANSACTION 37: commitOrRollback 8 commits, 12 rolls back, 0 (unknown) leaves the half for the check-back.
void BrokerRole::endTransaction(RemotingCommand &request)
{
    const auto physical = request.intField("commitLogOffset");
    const int64_t decision = request.intField("commitOrRollback").value_or(0);
    if (!physical || str(request, "producerGroup").empty()) {
        reply(request, code::kSystemError, "the header lacks commitLogOffset or producerGroup");
        return;
    }
    if (decision != sysflag::kTransactionCommit && decision != sysflag::kTransactionRollback) {
        reply(request, code::kSuccess); // NOT_TYPE: the producer does not know yet
        return;
    }
    const uint64_t store = plugin_.preparedStoreId();
    if (store == 0 || physicalQueueId(*physical) != store) {
        reply(request, code::kSystemError, "Find prepared transaction message failed");
        return;
    }
    const uint32_t flags = decision == sysflag::kTransactionCommit ? FERRY_PREPARED_COMMIT : FERRY_PREPARED_ROLLBACK;
    uint64_t correlation = 0;
    if (!request.isOneway()) {
        auto call = std::make_unique<OffsetCall>();
        call->response = request.response(code::kSuccess);
        call->finish = [](Session &, RemotingCommand &resp, const ferry_result &r) {
            if (r.status != FERRY_OK) {
                resp.code = code::kSystemError;
                resp.remark = r.status == FERRY_E_NOT_FOUND ? "Find prepared transaction message failed"
                                                            : "ending the transaction failed: " + statusText(r);
            }
        };
        correlation = s_.track(std::move(call));
    }
    if (host_.prepared_end(s_.conn(), correlation, physicalQueueOffset(*physical), flags, nullptr, 0) != FERRY_OK) {
        if (correlation)
            s_.untrack(correlation);
        reply(request, code::kSystemError, "ending the transaction was refused");
    }
}

namespace {
// CHECK_TRANSACTION_STATE: reads the half, then asks the producer about it.
struct CheckCall final : PendingCall {
    uint64_t storeId = 0;
    HostPort storeHost;
    std::string record;
    std::string topic;
    std::string uniqKey;

    void delivery(Session &, const ferry_delivery &d) override
    {
        const std::string queue(d.queue, d.queue_len);
        const auto sep = queue.rfind(FERRY_TOPIC_QUEUE_SEPARATOR[0]);
        topic = sep == std::string::npos ? queue : queue.substr(0, sep);
        const int32_t queueId = sep == std::string::npos ? 0 : std::atoi(queue.c_str() + sep + 1);
        appendStoredRecord(d, storeId, topic, queueId, storeHost, record, true);
        ferry::sdk::for_each_property(d.message->properties, d.message->properties_len, [&](std::string_view k, std::string_view v) {
            if (k == "UNIQ_KEY")
                uniqKey = std::string(v);
        });
        handle = d.offset;
    }
    void result(Session &s, const ferry_result &r) override
    {
        if (r.status != FERRY_OK || record.empty())
            return; // resolved meanwhile
        RemotingCommand check;
        check.code = 39;
        check.flag = kFlagOneway;
        check.opaque = s.plugin().nextOpaque();
        check.version = 401;
        const int64_t physical = physicalOffset(storeId, handle);
        check.set("topic", topic);
        check.set("tranStateTableOffset", static_cast<int64_t>(handle));
        check.set("commitLogOffset", physical);
        check.set("msgId", uniqKey);
        check.set("transactionId", uniqKey);
        check.set("offsetMsgId", encodeOffsetMsgId(storeHost, physical));
        check.body = std::move(record);
        s.send(check);
    }
    uint64_t handle = 0;
};
} // namespace

void BrokerRole::sendTransactionCheck(uint64_t handle)
{
    auto call = std::make_unique<CheckCall>();
    call->storeId = plugin_.preparedStoreId();
    call->storeHost = plugin_.storeHost().value_or(HostPort{});
    const uint64_t correlation = s_.track(std::move(call));
    if (host_.prepared_read(s_.conn(), correlation, handle) != FERRY_OK)
        s_.untrack(correlation);
}

// CONSUME_MESSAGE_DIRECTLY 309 (admin -> broker -> client): the message named by msgId is sent to the client, whose
// answer is relayed to the asker with the asker's opaque.
void BrokerRole::consumeMessageDirectly(RemotingCommand &request)
{
    const std::string group = str(request, "consumerGroup");
    const std::string clientId = str(request, "clientId");
    const auto decoded = decodeOffsetMsgId(str(request, "msgId"));
    if (!decoded) {
        reply(request, code::kSystemError, "msgId is not an offset msgId: " + str(request, "msgId"));
        return;
    }
    const uint64_t target = plugin_.memberConnection(group, clientId);
    if (target == 0) {
        reply(request, code::kSystemError,
              "The Consumer <" + clientId + "> <" + group + "> not online");
        return;
    }
    RemotingCommand forward = request;
    forward.flag = 0;
    forward.opaque = plugin_.nextOpaque();
    const int32_t askerOpaque = request.opaque;
    const uint64_t askerConn = s_.connId();
    readByPhysicalOffset(
        decoded->second,
        [forward, askerOpaque, askerConn, target, request](Session &s, std::string record) mutable {
            if (record.empty()) {
                s.send(request.response(code::kSystemError, "can not find message by the msgId"));
                return;
            }
            forward.body = std::move(record);
            s.plugin().expectForwardedReply(forward.opaque, askerConn, askerOpaque);
            if (!s.plugin().sendTo(target, encodeFrame(forward)))
                s.send(request.response(code::kSystemError, "the consumer's connection closed"));
        },
        request);
}

// LOCK_BATCH_MQ 41: grants the queues that are free, expired, or already this client's.
void BrokerRole::lockBatch(RemotingCommand &request)
{
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(request.body));
    if (!doc.isObject()) {
        reply(request, code::kSystemError, "the lock body is not a JSON object");
        return;
    }
    const QJsonObject body = doc.object();
    const std::string group = body.value("consumerGroup").toString().toStdString();
    const std::string clientId = body.value("clientId").toString().toStdString();
    std::vector<LockedQueue> wanted;
    for (const QJsonValue &v : body.value("mqSet").toArray()) {
        const QJsonObject mq = v.toObject();
        wanted.push_back({mq.value("topic").toString().toStdString(), mq.value("brokerName").toString().toStdString(),
                          mq.value("queueId").toInt()});
    }
    QJsonArray granted;
    for (const LockedQueue &mq : plugin_.lockQueues(group, clientId, wanted))
        granted.append(QJsonObject{{"topic", QString::fromStdString(mq.topic)},
                                   {"brokerName", QString::fromStdString(mq.brokerName)},
                                   {"queueId", mq.queueId}});
    RemotingCommand resp = request.response(code::kSuccess);
    resp.body = QJsonDocument(QJsonObject{{"lockOKMQSet", granted}}).toJson(QJsonDocument::Compact).toStdString();
    if (!request.isOneway())
        s_.send(resp);
}

// UNLOCK_BATCH_MQ 42.
void BrokerRole::unlockBatch(RemotingCommand &request)
{
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(request.body));
    if (doc.isObject()) {
        const QJsonObject body = doc.object();
        std::vector<LockedQueue> queues;
        for (const QJsonValue &v : body.value("mqSet").toArray()) {
            const QJsonObject mq = v.toObject();
            queues.push_back({mq.value("topic").toString().toStdString(),
                              mq.value("brokerName").toString().toStdString(), mq.value("queueId").toInt()});
        }
        plugin_.unlockQueues(body.value("consumerGroup").toString().toStdString(),
                             body.value("clientId").toString().toStdString(), queues);
    }
    reply(request, code::kSuccess);
}

} // namespace rocket
