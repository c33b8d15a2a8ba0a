// The admin API's messages and dead letters (docs/admin-api.md, "Messages" and "Dead letters"): browse a queue or a
// topic queue without consuming (Queue::browse: by offset, paged, optionally within a store-time range), search by
// key or id (the kernel's KeyIndex), publish a test message (the Router, as a client's publish), resend stored
// messages to their origin or elsewhere with a result per message, and the dead-letter queues of both protocols.
//
// Resend copies: the source keeps its message (a RocketMQ queue is a log; an AMQP queue's message may be held by a
// consumer), the copy gets a new id and store time. The origin of a message is
//   - AMQP, dead-lettered: the queue it first died in (x-first-death-queue), through the vhost's default exchange;
//   - AMQP, otherwise: the exchange and routing key it was published with;
//   - RocketMQ, from a %DLQ%<group> topic: %RETRY%<group>, so only the group that gave up on it gets it again
//     (its consumers subscribe to their retry topic; RETRY_TOPIC names the real topic);
//   - RocketMQ, otherwise: its topic (DLQ_ORIGIN_TOPIC or RETRY_TOPIC when present).
#include "admin/AdminHandlers.h"

#include "auth/AuthRegistry.h"
#include "broker/ProtocolServices.h"
#include "index/KeyIndex.h"
#include "log/Logging.h"
#include "plugin/PluginHost.h"
#include "queue/QueueRegistry.h"
#include "queue/TopicRegistry.h"
#include "route/Router.h"

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QStringDecoder>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <memory>
#include <mutex>
#include <optional>

namespace ferry::admin {

namespace {

constexpr uint32_t kDefaultPage = 20;
constexpr uint32_t kMaxPage = 1000;
constexpr uint32_t kMaxResend = 10000;
constexpr const char *kDlqPrefix = "%DLQ%";
constexpr const char *kRetryPrefix = "%RETRY%";
// The rocket plugin's private reconsume counter (plugins/rocket-protocol/src/MessageMapping.cpp): a dead letter
// resent to its group starts again from 0, as after a resend from RocketMQ's console; otherwise the consumer drops
// it at once (reconsumeTimes above maxReconsumeTimes).
constexpr const char *kRocketReconsumeProperty = "$rocketmq.reconsume-times";

// ---- where messages are read from

struct Source {
    QueuePtr queue;
    std::string vhost, name; // a client queue
    std::string topic;       // a topic queue: topic and queue id
    uint32_t queueId = 0;

    bool isTopic() const { return !topic.empty(); }
    QJsonObject json() const
    {
        if (isTopic())
            return QJsonObject{{"topic", q(topic)}, {"queue_id", static_cast<qint64>(queueId)}};
        return QJsonObject{{"vhost", q(vhost)}, {"queue", q(name)}};
    }
};

bool utf8(const std::string &bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = decoder.decode(QByteArrayView(bytes.data(), static_cast<qsizetype>(bytes.size())));
    return !decoder.hasError();
}

// Text as a JSON string when it is UTF-8, else base64 (with the encoding named in encodingKey).
void putBytes(QJsonObject &o, const char *key, const char *encodingKey, const std::string &bytes)
{
    if (utf8(bytes)) {
        o.insert(key, q(bytes));
        o.insert(encodingKey, "string");
    } else {
        o.insert(key, QString::fromLatin1(QByteArray::fromStdString(bytes).toBase64()));
        o.insert(encodingKey, "base64");
    }
}

// The first value of key in a property block (a message's, or a nested one such as a dead-letter entry).
std::string nestedValue(std::string_view block, std::string_view key)
{
    std::string out;
    forEachProperty(block, [&](std::string_view k, std::string_view v) {
        if (k == key && out.empty())
            out.assign(v);
    });
    return out;
}

std::string propertyValue(const Message &m, std::string_view key) { return nestedValue(m.properties, key); }

// Where a stored message is, for answers that do not name their source: {"vhost","queue"} for a client queue,
// {"topic","queue_id"} for a topic queue.
void insertLocation(QJsonObject &o, const QueuePtr &queue)
{
    std::string topic;
    uint32_t index = 0;
    if ((queue->flags() & Queue::kCursorQueue) && TopicRegistry::parseQueueName(queue->name(), &topic, &index)) {
        o.insert("topic", q(topic));
        o.insert("queue_id", static_cast<qint64>(index));
        return;
    }
    const auto [vhost, plain] = Router::split(queue->name());
    o.insert("vhost", q(vhost));
    o.insert("queue", q(plain));
}

QJsonObject messageJson(uint64_t offset, const Message &m)
{
    QJsonObject properties;
    QJsonArray deaths;
    forEachProperty(m.properties, [&](std::string_view k, std::string_view v) {
        if (k == Router::kDeathProperty) {
            QJsonObject death;
            QJsonArray keys;
            forEachProperty(v, [&](std::string_view dk, std::string_view dv) {
                if (dk == "routing-key")
                    keys.append(q(std::string(dv)));
                else if (dk == "count" || dk == "time")
                    death.insert(q(std::string(dk)), static_cast<qint64>(std::strtoull(std::string(dv).c_str(), nullptr, 10)));
                else
                    death.insert(q(std::string(dk)), q(std::string(dv)));
            });
            death.insert("routing-keys", keys);
            deaths.append(death);
            return;
        }
        if (k.empty() || k.front() == '$')
            return; // protocol-private (the AMQP basic properties as published, kernel bookkeeping)
        const std::string value(v);
        properties.insert(q(std::string(k)),
                          utf8(value) ? q(value) : QString::fromLatin1(QByteArray::fromStdString(value).toBase64()));
    });
    QJsonObject o{{"offset", static_cast<qint64>(offset)},
                  {"id", q(messageIdHex(m.id))},
                  {"exchange", q(Router::split(m.exchange).second)},
                  {"routing_key", q(m.routingKey)},
                  {"tags", q(m.tag)},
                  {"keys", q(m.keys)},
                  {"properties", properties},
                  {"persistent", m.persistent()},
                  {"priority", static_cast<qint64>(m.priority)},
                  {"born_time", static_cast<qint64>(m.bornTimeMs)},
                  {"store_time", static_cast<qint64>(m.storeTimeMs)},
                  {"origin_protocol", q(m.originProtocol)},
                  {"payload_bytes", static_cast<qint64>(m.body.size())}};
    if (!deaths.isEmpty())
        o.insert("x_death", deaths);
    putBytes(o, "payload", "payload_encoding", m.body);
    return o;
}

// A query parameter as an unsigned integer: absent -> fallback; malformed -> false (and 400 answered).
bool queryNumber(AdminCall &call, const char *key, uint64_t fallback, uint64_t *out)
{
    auto it = call.request.query.find(key);
    if (it == call.request.query.end() || it->second.empty()) {
        *out = fallback;
        return true;
    }
    const std::string &text = it->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    if (ec != std::errc() || end != text.data() + text.size()) {
        call.respond(jsonError(400, "bad_request", std::string(key) + " must be an unsigned integer, not '" + text + "'"));
        return false;
    }
    return true;
}

bool hasQuery(const AdminCall &call, const char *key)
{
    auto it = call.request.query.find(key);
    return it != call.request.query.end() && !it->second.empty();
}

// The topic queue named by the topic and the queue_id query parameter (default 0); 404 / 400 answered otherwise.
bool topicSource(const AdminRoutes &r, AdminCall &call, const std::string &topic, Source *out)
{
    const auto config = r.context().topics->find(topic);
    if (!config) {
        call.respond(jsonError(404, "not_found", "no topic '" + topic + "'"));
        return false;
    }
    uint64_t queueId = 0;
    if (!queryNumber(call, "queue_id", 0, &queueId))
        return false;
    if (queueId >= config->queueCount()) {
        call.respond(jsonError(400, "bad_request", "queue_id " + std::to_string(queueId) + " is out of range: topic '" +
                                                       topic + "' has queues 0.." +
                                                       std::to_string(config->queueCount() - 1)));
        return false;
    }
    out->topic = topic;
    out->queueId = static_cast<uint32_t>(queueId);
    out->queue = r.context().queues->find(TopicRegistry::queueName(topic, out->queueId));
    if (!out->queue) {
        call.respond(jsonError(404, "not_found", "topic '" + topic + "' has no queue " + std::to_string(queueId)));
        return false;
    }
    return true;
}

bool clientQueueSource(const AdminRoutes &r, AdminCall &call, Source *out)
{
    out->queue = findClientQueue(r, call);
    if (!out->queue)
        return false;
    out->vhost = call.params[0];
    out->name = call.params[1];
    return true;
}

// ---- browsing

// Reads the messages of queue from `from` up to (not including) `end`, page by page: each(offset, message) returns
// false to stop; then done(status, error). Callbacks run on the storage thread or the caller's.
void readAll(QueuePtr queue, uint64_t from, uint64_t end, std::function<bool(uint64_t, const MessagePtr &)> each,
             std::function<void(ferry_status, const std::string &)> done)
{
    queue->browse(from, kMaxPage, [queue, end, each, done](ferry_status st,
                                                         std::vector<std::pair<uint64_t, MessagePtr>> messages,
                                                         uint64_t nextOffset, const std::string &err) {
        if (st != FERRY_OK) {
            done(st, err);
            return;
        }
        for (const auto &[offset, m] : messages)
            if (offset >= end || !each(offset, m)) {
                done(FERRY_OK, {});
                return;
            }
        if (messages.empty() || nextOffset >= end) {
            done(FERRY_OK, {});
            return;
        }
        readAll(queue, nextOffset, end, each, done);
    });
}

// One page: ?offset (default the queue's first) &count (default 20, at most 1000) &begin &end (store time, ms).
// With begin and no offset the page starts at the first message stored at or after begin; messages stored after
// end end the page (next_offset is then the queue's end, so paging stops).
void browsePage(AdminCall &call, const Source &source)
{
    uint64_t offset = 0, count = 0, begin = 0, end = 0;
    const QueuePtr queue = source.queue;
    const uint64_t low = queue->low(), next = queue->next();
    if (!queryNumber(call, "offset", low, &offset) || !queryNumber(call, "count", kDefaultPage, &count) ||
        !queryNumber(call, "begin", 0, &begin) || !queryNumber(call, "end", UINT64_MAX, &end))
        return;
    if (count == 0 || count > kMaxPage) {
        call.respond(jsonError(400, "bad_request", "count must be 1 to " + std::to_string(kMaxPage) + " (page with offset)"));
        return;
    }
    if (hasQuery(call, "offset") && (offset < low || offset > next)) {
        call.respond(jsonError(400, "bad_request", "offset " + std::to_string(offset) + " is out of range: the queue holds offsets " +
                                                       std::to_string(low) + " to " + std::to_string(next)));
        return;
    }
    if (begin > end) {
        call.respond(jsonError(400, "bad_request", "begin is after end"));
        return;
    }
    auto respond = call.respond;
    const QJsonObject sourceJson = source.json();
    auto page = [queue, respond, count, end, low, next, sourceJson](uint64_t from) {
        queue->browse(from, static_cast<uint32_t>(count),
                      [respond, end, low, next, sourceJson](ferry_status st,
                                                           std::vector<std::pair<uint64_t, MessagePtr>> messages,
                                                           uint64_t nextOffset, const std::string &err) {
                          if (st != FERRY_OK) {
                              respond(statusError(st, err));
                              return;
                          }
                          QJsonArray out;
                          bool pastEnd = false;
                          for (const auto &[offset, m] : messages) {
                              if (m->storeTimeMs > end) {
                                  pastEnd = true;
                                  break;
                              }
                              out.append(messageJson(offset, *m));
                          }
                          QJsonObject o = sourceJson;
                          o.insert("messages", out);
                          o.insert("next_offset", static_cast<qint64>(pastEnd ? std::max(next, nextOffset) : nextOffset));
                          o.insert("min_offset", static_cast<qint64>(low));
                          o.insert("max_offset", static_cast<qint64>(next));
                          respond(json(200, o));
                      });
    };
    if (hasQuery(call, "begin") && !hasQuery(call, "offset")) {
        queue->seekTime(begin, [page, respond](ferry_status st, uint64_t from, const std::string &err) {
            if (st != FERRY_OK)
                respond(statusError(st, "time search: " + err));
            else
                page(from);
        });
        return;
    }
    page(offset);
}

void browseQueue(const AdminRoutes &r, AdminCall &call)
{
    Source source;
    if (clientQueueSource(r, call, &source))
        browsePage(call, source);
}

void browseTopic(const AdminRoutes &r, AdminCall &call)
{
    Source source;
    if (topicSource(r, call, call.params[0], &source))
        browsePage(call, source);
}

// ---- search by key and id

// Every stored message indexed under key (RocketMQ keys and message ids), newest first, paged by ?offset (an index
// into the hits) &count; ?topic narrows to one topic, ?begin/&end to a store-time range.
void searchByKey(const AdminRoutes &r, AdminCall &call, const std::string &key, bool first)
{
    uint64_t offset = 0, count = 0, begin = 0, end = 0;
    if (!queryNumber(call, "offset", 0, &offset) || !queryNumber(call, "count", kDefaultPage, &count) ||
        !queryNumber(call, "begin", 0, &begin) || !queryNumber(call, "end", UINT64_MAX, &end))
        return;
    if (count == 0 || count > kMaxPage) {
        call.respond(jsonError(400, "bad_request", "count must be 1 to " + std::to_string(kMaxPage)));
        return;
    }
    const auto topicIt = call.request.query.find("topic");
    const std::string topic = topicIt == call.request.query.end() ? std::string() : topicIt->second;
    struct Found {
        QueuePtr queue;
        std::string topic;
        uint32_t queueId = 0;
        uint64_t offset = 0;
    };
    std::vector<Found> hits;
    for (const KeyIndex::Hit &hit : r.context().keys->find(key, begin, end, SIZE_MAX)) {
        QueuePtr queue = r.context().queues->findById(hit.queueId);
        if (!queue)
            continue;
        Found f{queue, {}, 0, hit.offset};
        if (!TopicRegistry::parseQueueName(queue->name(), &f.topic, &f.queueId))
            f.topic = queue->name(); // only topic queues are indexed
        if (!topic.empty() && f.topic != topic)
            continue;
        hits.push_back(std::move(f));
    }
    const size_t total = hits.size();
    const size_t from = std::min<size_t>(offset, total), to = std::min<size_t>(from + count, total);
    std::vector<Found> page(hits.begin() + static_cast<ptrdiff_t>(from), hits.begin() + static_cast<ptrdiff_t>(to));
    if (page.empty()) {
        if (first)
            call.respond(jsonError(404, "not_found", "no stored message with id or key '" + key + "'"));
        else
            call.respond(json(200, QJsonObject{{"messages", QJsonArray{}}, {"total", static_cast<qint64>(total)},
                                               {"next_offset", static_cast<qint64>(to)}}));
        return;
    }
    // Read each hit (an entry whose message is gone, removed by retention, is left out).
    auto respond = call.respond;
    auto slots = ResultSlots::create(page.size(), [respond, first, total, to](std::vector<QJsonObject> found) {
        QJsonArray out;
        for (const QJsonObject &o : found)
            if (!o.isEmpty())
                out.append(o);
        if (first) {
            respond(out.isEmpty() ? jsonError(404, "not_found", "the message was removed") : json(200, out.first()));
            return;
        }
        respond(json(200, QJsonObject{{"messages", out},
                                      {"total", static_cast<qint64>(total)},
                                      {"next_offset", static_cast<qint64>(to)}}));
    });
    for (size_t i = 0; i < page.size(); ++i) {
        const Found f = page[i];
        f.queue->browse(f.offset, 1, [slots, i, f](ferry_status st, std::vector<std::pair<uint64_t, MessagePtr>> messages,
                                                   uint64_t, const std::string &) {
            QJsonObject o;
            if (st == FERRY_OK && !messages.empty() && messages.front().first == f.offset) {
                o = messageJson(f.offset, *messages.front().second);
                o.insert("topic", q(f.topic));
                o.insert("queue_id", static_cast<qint64>(f.queueId));
            }
            slots->set(i, o);
        });
    }
}

void search(const AdminRoutes &r, AdminCall &call)
{
    const auto it = call.request.query.find("key");
    if (it == call.request.query.end() || it->second.empty()) {
        call.respond(jsonError(400, "bad_request",
                               "search needs ?key= (for a time range without a key, browse a queue or topic with "
                               "?begin=&end=)"));
        return;
    }
    searchByKey(r, call, it->second, false);
}

// A kernel message id (32 hex digits, the "id" of browse) begins with the millisecond it was stamped, which is also
// its store time (Queue::publish, Router::route): every queue the user may see is read from the first offset stored
// at that millisecond (the storage time index), one page each. *ms: that millisecond; false for any other id.
bool kernelIdTime(const std::string &id, uint64_t *ms)
{
    if (id.size() != 32 || !std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
        return false;
    *ms = std::strtoull(id.substr(0, 12).c_str(), nullptr, 16);
    return true;
}

void getByKernelId(const AdminRoutes &r, AdminCall &call, std::string id, uint64_t ms)
{
    std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    std::vector<QueuePtr> queues;
    for (const QueuePtr &queue : r.context().queues->list()) {
        if (queue->flags() & Queue::kInternalStore)
            continue;
        if (isClientQueue(queue) && !visible(r, call, Router::split(queue->name()).first))
            continue;
        queues.push_back(queue);
    }
    // The last callback to finish drops the last reference; State's destructor answers, or, when no queue holds the
    // id, looks it up as a key (a RocketMQ message id has 32 hex digits too).
    struct State {
        std::mutex mutex;
        QJsonObject found;
        const AdminRoutes *routes = nullptr;
        AdminCall call;
        ~State()
        {
            if (!found.isEmpty())
                call.respond(json(200, found));
            else
                searchByKey(*routes, call, call.params[0], true);
        }
    };
    auto state = std::make_shared<State>();
    state->routes = &r;
    state->call = call;
    for (const QueuePtr &queue : queues) {
        const auto page = [state, queue, id](uint64_t from) {
            queue->browse(from, kMaxPage, [state, queue, id](ferry_status st,
                                                           std::vector<std::pair<uint64_t, MessagePtr>> messages,
                                                           uint64_t, const std::string &) {
                if (st != FERRY_OK)
                    return;
                for (const auto &[offset, m] : messages) {
                    if (messageIdHex(m->id) != id)
                        continue;
                    QJsonObject o = messageJson(offset, *m);
                    insertLocation(o, queue);
                    std::lock_guard lock(state->mutex);
                    if (state->found.isEmpty())
                        state->found = o;
                    return;
                }
            });
        };
        if (!queue->durable()) {
            page(queue->low()); // in memory: no time index
            continue;
        }
        queue->seekTime(ms, [page](ferry_status st, uint64_t from, const std::string &) {
            if (st == FERRY_OK)
                page(from);
        });
    }
}

// The message a protocol plugin's own id names (resolve_message_id: RocketMQ's offset msgId), if any plugin knows it.
std::optional<std::pair<QueuePtr, uint64_t>> resolveProtocolId(const AdminRoutes &r, const std::string &id)
{
    std::optional<std::pair<QueuePtr, uint64_t>> found;
    forEachProtocolInstance([&](const LoadedPlugin &plugin, ferry_protocol *instance) {
        uint64_t queueId = 0, offset = 0;
        if (found || plugin.protocol.resolve_message_id == nullptr ||
            plugin.protocol.resolve_message_id(instance, id.data(), id.size(), &queueId, &offset) != FERRY_OK)
            return;
        if (QueuePtr queue = r.context().queues->findById(queueId); queue && !(queue->flags() & Queue::kInternalStore))
            found.emplace(queue, offset);
    });
    return found;
}

// GET /api/v1/messages/{id}: a protocol's own id (RocketMQ's offset msgId), else a kernel id (32 hex digits), else a
// key or RocketMQ client message id (UNIQ_KEY; the key index): the first that names a stored message.
void getMessage(const AdminRoutes &r, AdminCall &call)
{
    const std::string id = call.params[0];
    const auto byKernelIdOrKey = [&r](AdminCall &c, const std::string &text) {
        uint64_t ms = 0;
        if (kernelIdTime(text, &ms))
            getByKernelId(r, c, text, ms);
        else
            searchByKey(r, c, text, true);
    };
    const auto resolved = resolveProtocolId(r, id);
    if (!resolved) {
        byKernelIdOrKey(call, id);
        return;
    }
    const auto [queue, offset] = *resolved;
    auto keep = std::make_shared<AdminCall>(call);
    queue->browse(offset, 1, [keep, queue, offset = offset, byKernelIdOrKey, id](
                                 ferry_status st, std::vector<std::pair<uint64_t, MessagePtr>> messages, uint64_t,
                                 const std::string &) {
        if (st != FERRY_OK || messages.empty() || messages.front().first != offset) {
            byKernelIdOrKey(*keep, id);
            return;
        }
        QJsonObject o = messageJson(offset, *messages.front().second);
        insertLocation(o, queue);
        keep->respond(json(200, o));
    });
}

// ---- publishing

// A test message from a JSON body: payload (+ payload_encoding "string" | "base64"), routing_key, and RabbitMQ's
// properties (delivery_mode, content_type, message_id, priority, expiration, headers). false with *error.
bool messageFromJson(const QJsonObject &body, const char *payloadKey, std::shared_ptr<Message> *out, std::string *error)
{
    auto m = std::make_shared<Message>();
    const QJsonValue payload = body.value(payloadKey);
    if (!payload.isString()) {
        *error = std::string(payloadKey) + " must be a string";
        return false;
    }
    const QString encoding = body.value("payload_encoding").toString("string");
    if (encoding == "base64") {
        const auto decoded = QByteArray::fromBase64Encoding(payload.toString().toLatin1(),
                                                            QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded) {
            *error = std::string(payloadKey) + " is not valid base64";
            return false;
        }
        m->body = decoded.decoded.toStdString();
    } else if (encoding == "string") {
        m->body = payload.toString().toStdString();
    } else {
        *error = "payload_encoding must be string or base64";
        return false;
    }
    m->routingKey = body.value("routing_key").toString().toStdString();
    m->tag = body.value("tags").toString().toStdString();
    m->keys = body.value("keys").toString().toStdString();
    const QJsonObject props = body.value("properties").toObject();
    if (props.value("delivery_mode").toInt(2) == 2)
        m->flags |= FERRY_MESSAGE_PERSISTENT;
    if (props.contains("priority"))
        m->priority = static_cast<uint32_t>(std::clamp(props.value("priority").toInt(), 0, 255));
    if (props.contains("expiration")) {
        bool ok = false;
        const qulonglong ttl = props.value("expiration").toString().toULongLong(&ok);
        if (!ok) {
            *error = "properties.expiration must be a string of milliseconds, as in AMQP";
            return false;
        }
        m->flags |= FERRY_MESSAGE_HAS_TTL;
        m->ttlMs = ttl;
    }
    if (props.contains("message_id") && m->keys.empty())
        m->keys = props.value("message_id").toString().toStdString();
    if (props.contains("content_type"))
        appendProperty(m->properties, "content-type", props.value("content_type").toString().toStdString());
    const QJsonObject headers = props.value("headers").toObject();
    for (auto it = headers.begin(); it != headers.end(); ++it) {
        const QJsonValue v = it.value();
        std::string text;
        if (!scalarText(v, &text)) {
            *error = "header '" + it.key().toStdString() + "' must be a string, number or boolean";
            return false;
        }
        appendProperty(m->properties, it.key().toStdString(), text);
    }
    m->bornTimeMs = wallMs();
    m->originProtocol = "admin";
    *out = std::move(m);
    return true;
}

bool mayWrite(const AdminRoutes &r, AdminCall &call, const std::string &vhost, const std::string &exchange)
{
    if (isAdministrator(r, call) || r.context().auth->check(call.user, vhost, FERRY_PERMISSION_WRITE, exchange) == FERRY_OK)
        return true;
    call.respond(jsonError(403, "access_refused", "user '" + call.user + "' may not write to '" + exchange +
                                                      "' in vhost '" + vhost + "'"));
    return false;
}

void routeMessage(const AdminRoutes &r, AdminCall &call, const std::string &qualifiedExchange,
                  std::shared_ptr<Message> message)
{
    auto respond = call.respond;
    const std::shared_ptr<const Message> kept = message;
    std::string error;
    const ferry_status st = r.context().router->route(
        qualifiedExchange, std::move(message),
        [respond, kept](ferry_status st, uint64_t queues, const std::string &err) {
            if (st != FERRY_OK && queues == 0) {
                respond(statusError(st, err));
                return;
            }
            respond(json(200, QJsonObject{{"routed", queues > 0},
                                          {"queues", static_cast<qint64>(queues)},
                                          {"id", q(messageIdHex(kept->id))}}));
        },
        &error);
    if (st != FERRY_OK)
        respond(statusError(st, error));
}

// POST /api/v1/exchanges/{vhost}/{name}/publish: RabbitMQ's body and answer ({"routed": bool}).
void publishToExchange(const AdminRoutes &r, AdminCall &call)
{
    const std::string &vhost = call.params[0], &name = call.params[1];
    QJsonObject body;
    if (!bodyObject(call, &body) || !mayWrite(r, call, vhost, name))
        return;
    const std::string exchange = name == "amq.default" ? std::string() : name;
    if (!exchange.empty() && !r.context().router->exchangeExists(Router::qualify(vhost, exchange))) {
        call.respond(jsonError(404, "not_found", "no exchange '" + name + "' in vhost '" + vhost + "'"));
        return;
    }
    std::shared_ptr<Message> message;
    std::string error;
    if (!messageFromJson(body, "payload", &message, &error)) {
        call.respond(jsonError(400, "bad_request", error));
        return;
    }
    logChange(call, "publish a test message");
    routeMessage(r, call, Router::qualify(vhost, exchange), std::move(message));
}

// POST /api/v1/topics/{topic}/publish: body {"body", "tags", "keys", "properties"}; the topic's write queues take
// it in turn, as from a producer.
void publishToTopic(const AdminRoutes &r, AdminCall &call)
{
    const std::string &topic = call.params[0];
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    if (!r.context().topics->find(topic)) {
        call.respond(jsonError(404, "not_found", "no topic '" + topic + "'"));
        return;
    }
    std::shared_ptr<Message> message;
    std::string error;
    if (!messageFromJson(body, "body", &message, &error)) {
        call.respond(jsonError(400, "bad_request", error));
        return;
    }
    logChange(call, "publish a test message");
    routeMessage(r, call, std::string(FERRY_TOPIC_EXCHANGE_PREFIX) + topic, std::move(message));
}

// ---- resending

struct Destination {
    std::string exchange; // qualified; "" with vhost: the default exchange
    std::string routingKey;
    bool keepRoutingKey = false;
    bool resetAttempts = false; // a dead letter's new chance (kRocketReconsumeProperty)
    std::string describe;
};

// Where a message goes back to when no destination is given (see the file comment).
Destination originOf(const Source &source, const Message &m)
{
    Destination d;
    if (source.isTopic()) {
        std::string topic = source.topic;
        if (topic.rfind(kDlqPrefix, 0) == 0) {
            topic = kRetryPrefix + topic.substr(std::char_traits<char>::length(kDlqPrefix));
            d.resetAttempts = true;
        } else if (std::string t = propertyValue(m, "DLQ_ORIGIN_TOPIC"); !t.empty()) {
            topic = t;
        } else if (std::string t2 = propertyValue(m, "RETRY_TOPIC"); !t2.empty() && topic.rfind(kRetryPrefix, 0) != 0) {
            topic = t2;
        }
        d.exchange = std::string(FERRY_TOPIC_EXCHANGE_PREFIX) + topic;
        d.keepRoutingKey = true;
        d.describe = "topic '" + topic + "'";
        return d;
    }
    const std::string firstDeath = propertyValue(m, Router::kFirstDeathProperty);
    if (!firstDeath.empty()) {
        const std::string queue = nestedValue(firstDeath, "queue");
        d.exchange = Router::qualify(source.vhost, "");
        d.routingKey = queue;
        d.describe = "queue '" + queue + "'";
        return d;
    }
    d.exchange = m.exchange.empty() ? Router::qualify(source.vhost, "") : m.exchange;
    d.keepRoutingKey = true;
    const std::string exchange = Router::split(d.exchange).second;
    d.describe = exchange.empty() ? "queue '" + m.routingKey + "'" : "exchange '" + exchange + "'";
    return d;
}

// The explicit destination of a resend body: {"vhost", "exchange", "routing_key"} or {"topic"}.
bool destinationFromJson(const AdminRoutes &r, const QJsonObject &o, Destination *d, std::string *error)
{
    if (o.contains("topic")) {
        const std::string topic = o.value("topic").toString().toStdString();
        if (!r.context().topics->find(topic)) {
            *error = "no topic '" + topic + "'";
            return false;
        }
        d->exchange = std::string(FERRY_TOPIC_EXCHANGE_PREFIX) + topic;
        d->keepRoutingKey = true;
        d->describe = "topic '" + topic + "'";
        return true;
    }
    const std::string vhost = o.value("vhost").toString("/").toStdString();
    const std::string exchange = o.value("exchange").toString().toStdString();
    d->exchange = Router::qualify(vhost, exchange);
    if (!exchange.empty() && !r.context().router->exchangeExists(d->exchange)) {
        *error = "no exchange '" + exchange + "' in vhost '" + vhost + "'";
        return false;
    }
    d->keepRoutingKey = !o.contains("routing_key");
    d->routingKey = o.value("routing_key").toString().toStdString();
    d->describe = exchange.empty() ? "queue '" + d->routingKey + "'" : "exchange '" + exchange + "'";
    return true;
}

// Resends the messages at offsets (in order) of source, each to destination or its origin; answers
// {"results": [{"offset", "ok", "destination" | "error"}], "resent": n, "failed": n}.
void resendOffsets(const AdminRoutes &r, AdminCall &call, const Source &source, std::vector<uint64_t> offsets,
                   std::optional<Destination> destination)
{
    auto respond = call.respond;
    Router *router = r.context().router;
    auto slots = ResultSlots::create(offsets.size(), [respond](std::vector<QJsonObject> results) {
        QJsonArray out;
        qint64 ok = 0;
        for (const QJsonObject &o : results) {
            ok += o.value("ok").toBool() ? 1 : 0;
            out.append(o);
        }
        respond(json(200, QJsonObject{{"results", out}, {"resent", ok}, {"failed", out.size() - ok}}));
    });
    const auto finishOne = [slots](size_t i, QJsonObject result) { slots->set(i, std::move(result)); };
    for (size_t i = 0; i < offsets.size(); ++i) {
        const uint64_t offset = offsets[i];
        source.queue->browse(offset, 1, [=](ferry_status st, std::vector<std::pair<uint64_t, MessagePtr>> messages,
                                            uint64_t, const std::string &err) {
            QJsonObject result{{"offset", static_cast<qint64>(offset)}};
            if (st != FERRY_OK || messages.empty() || messages.front().first != offset) {
                result.insert("ok", false);
                result.insert("error", q(st != FERRY_OK ? err : "no message at offset " + std::to_string(offset)));
                finishOne(i, result);
                return;
            }
            const Message &stored = *messages.front().second;
            const Destination d = destination ? *destination : originOf(source, stored);
            auto copy = std::make_shared<Message>(stored);
            copy->storeTimeMs = 0;
            if (!d.keepRoutingKey)
                copy->routingKey = d.routingKey;
            if (d.resetAttempts)
                copy->properties = takeProperties(copy->properties, kRocketReconsumeProperty, [](auto, auto) {});
            std::string error;
            const ferry_status rs = router->route(
                d.exchange, std::move(copy),
                [finishOne, i, result, d](ferry_status st2, uint64_t queues, const std::string &err2) mutable {
                    const bool ok = st2 == FERRY_OK && queues > 0;
                    result.insert("ok", ok);
                    result.insert("destination", q(d.describe));
                    if (!ok)
                        result.insert("error", q(st2 != FERRY_OK ? err2 : d.describe + " routed it to no queue"));
                    finishOne(i, result);
                },
                &error);
            if (rs != FERRY_OK) {
                result.insert("ok", false);
                result.insert("error", q(error));
                finishOne(i, result);
            }
        });
    }
}

// The offsets of a resend body: {"offsets": [..]} or {"all": true} (every message the source holds now).
void resendFromBody(const AdminRoutes &r, AdminCall &call, const Source &source, const QJsonObject &body)
{
    std::optional<Destination> destination;
    if (body.contains("destination")) {
        Destination d;
        std::string error;
        if (!body.value("destination").isObject() || !destinationFromJson(r, body.value("destination").toObject(), &d, &error)) {
            call.respond(jsonError(400, "bad_request", error.empty() ? "destination must be an object" : error));
            return;
        }
        destination = d;
    }
    logChange(call, "resend messages");
    if (body.value("all").toBool(false)) {
        // Every message from the first offset to the current end, then resent.
        auto offsets = std::make_shared<std::vector<uint64_t>>();
        auto keep = std::make_shared<AdminCall>(call);
        const AdminRoutes *routes = &r;
        readAll(
            source.queue, source.queue->low(), source.queue->next(),
            [offsets](uint64_t offset, const MessagePtr &) {
                offsets->push_back(offset);
                return offsets->size() < kMaxResend;
            },
            [offsets, keep, routes, source, destination](ferry_status st, const std::string &err) {
                if (st != FERRY_OK)
                    keep->respond(statusError(st, err));
                else
                    resendOffsets(*routes, *keep, source, *offsets, destination);
            });
        return;
    }
    const QJsonValue list = body.value("offsets");
    if (!list.isArray() || list.toArray().isEmpty() || list.toArray().size() > static_cast<qsizetype>(kMaxResend)) {
        call.respond(jsonError(400, "bad_request", "the body needs \"offsets\": [1 to " + std::to_string(kMaxResend) +
                                                       " offsets] or \"all\": true"));
        return;
    }
    std::vector<uint64_t> offsets;
    for (const QJsonValue &v : list.toArray()) {
        if (!v.isDouble() || v.toDouble() < 0 || v.toDouble() != static_cast<double>(v.toInteger())) {
            call.respond(jsonError(400, "bad_request", "offsets must be unsigned integers"));
            return;
        }
        offsets.push_back(static_cast<uint64_t>(v.toInteger()));
    }
    resendOffsets(r, call, source, std::move(offsets), destination);
}

// POST /api/v1/messages/resend: {"source": {"vhost", "queue"} | {"topic", "queue_id"}, "offsets" | "all",
// "destination"?}.
void resend(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    const QJsonObject src = body.value("source").toObject();
    Source source;
    if (src.contains("topic")) {
        call.request.query["queue_id"] = std::to_string(src.value("queue_id").toInteger(0));
        if (!topicSource(r, call, src.value("topic").toString().toStdString(), &source))
            return;
    } else if (src.contains("queue")) {
        call.params = {src.value("vhost").toString("/").toStdString(), src.value("queue").toString().toStdString()};
        if (!clientQueueSource(r, call, &source))
            return;
    } else {
        call.respond(jsonError(400, "bad_request", "the body needs \"source\": {\"vhost\", \"queue\"} or {\"topic\", \"queue_id\"}"));
        return;
    }
    if (!isAdministrator(r, call)) {
        call.respond(jsonError(403, "not_authorised", "resending needs the administrator tag"));
        return;
    }
    resendFromBody(r, call, source, body);
}

// ---- dead letters

struct DeadLetterQueue {
    std::string kind; // "amqp" | "rocketmq"
    std::string vhost, name;
    QueuePtr queue;               // amqp
    std::vector<std::string> from; // amqp: the queues that dead-letter into it; rocketmq: the group
};

// AMQP: every queue a queue's dead-letter exchange routes to (bound to that exchange, or named by the dead-letter
// routing key on the default exchange). RocketMQ: every %DLQ%<group> topic.
std::vector<DeadLetterQueue> deadLetterQueues(const AdminRoutes &r)
{
    std::map<std::string, DeadLetterQueue> found; // by qualified name
    const auto bindings = r.context().router->bindings();
    for (const QueuePtr &queue : r.context().queues->list()) {
        if (!isClientQueue(queue) || !queue->args().hasDeadLetterExchange)
            continue;
        const auto [vhost, name] = Router::split(queue->name());
        const QueueArgs &a = queue->args();
        std::vector<std::string> targets;
        if (a.deadLetterExchange.empty()) {
            if (a.hasDeadLetterRoutingKey)
                targets.push_back(Router::qualify(vhost, a.deadLetterRoutingKey));
        } else {
            const std::string exchange = Router::qualify(vhost, a.deadLetterExchange);
            for (const BindingConfig &b : bindings)
                if (b.source == exchange && b.kind == FERRY_BIND_QUEUE)
                    targets.push_back(b.destination);
        }
        for (const std::string &t : targets) {
            QueuePtr target = r.context().queues->find(t);
            if (!target || !isClientQueue(target))
                continue;
            DeadLetterQueue &d = found[t];
            d.kind = "amqp";
            d.vhost = vhost;
            d.name = Router::split(t).second;
            d.queue = target;
            if (std::find(d.from.begin(), d.from.end(), name) == d.from.end())
                d.from.push_back(name);
        }
    }
    std::vector<DeadLetterQueue> out;
    for (auto &[key, d] : found)
        out.push_back(std::move(d));
    for (const TopicConfig &t : r.context().topics->list())
        if (t.name.rfind(kDlqPrefix, 0) == 0)
            out.push_back({"rocketmq", "/", t.name, nullptr, {t.name.substr(std::char_traits<char>::length(kDlqPrefix))}});
    return out;
}

void listDeadLetters(const AdminRoutes &r, AdminCall &call)
{
    QJsonArray out;
    for (const DeadLetterQueue &d : deadLetterQueues(r)) {
        if (!visible(r, call, d.vhost))
            continue;
        QJsonObject o{{"kind", q(d.kind)}, {"name", q(d.name)}, {"vhost", q(d.vhost)}};
        if (d.kind == "amqp") {
            const QueueCounts c = d.queue->counts();
            o.insert("messages", static_cast<qint64>(c.ready + c.unacked));
            QJsonArray from;
            for (const std::string &s : d.from)
                from.append(q(s));
            o.insert("dead_lettered_from", from);
        } else {
            uint64_t total = 0;
            if (const auto config = r.context().topics->find(d.name))
                for (uint32_t i = 0; i < config->queueCount(); ++i)
                    if (QueuePtr tq = r.context().queues->find(TopicRegistry::queueName(d.name, i)))
                        total += tq->next() - tq->low();
            o.insert("messages", static_cast<qint64>(total));
            o.insert("group", q(d.from.front()));
        }
        out.append(o);
    }
    call.respond(json(200, out));
}

// The DLQ named by the path: /dead-letters/amqp/{vhost}/{queue}/... or /dead-letters/rocketmq/{topic}/...
bool deadLetterSource(const AdminRoutes &r, AdminCall &call, bool amqp, Source *out)
{
    if (amqp) {
        if (!clientQueueSource(r, call, out))
            return false;
        for (const DeadLetterQueue &d : deadLetterQueues(r))
            if (d.kind == "amqp" && d.queue == out->queue)
                return true;
        call.respond(jsonError(404, "not_found", "queue '" + out->name + "' in vhost '" + out->vhost +
                                                     "' is no queue's dead-letter queue"));
        return false;
    }
    const std::string &topic = call.params[0];
    if (topic.rfind(kDlqPrefix, 0) != 0) {
        call.respond(jsonError(404, "not_found", "'" + topic + "' is not a dead-letter topic (%DLQ%<group>)"));
        return false;
    }
    return topicSource(r, call, topic, out);
}

void browseAmqpDlq(const AdminRoutes &r, AdminCall &call)
{
    Source s;
    if (deadLetterSource(r, call, true, &s))
        browsePage(call, s);
}

void browseRocketDlq(const AdminRoutes &r, AdminCall &call)
{
    Source s;
    if (deadLetterSource(r, call, false, &s))
        browsePage(call, s);
}

void resendDlq(const AdminRoutes &r, AdminCall &call, bool amqp)
{
    QJsonObject body;
    Source s;
    if (!bodyObject(call, &body) || !deadLetterSource(r, call, amqp, &s))
        return;
    resendFromBody(r, call, s, body);
}

void resendAmqpDlq(const AdminRoutes &r, AdminCall &call) { resendDlq(r, call, true); }
void resendRocketDlq(const AdminRoutes &r, AdminCall &call) { resendDlq(r, call, false); }

QString csvField(const QString &s)
{
    if (!s.contains(QRegularExpression("[\",\r\n]")))
        return s;
    QString quoted = s;
    quoted.replace("\"", "\"\"");
    return "\"" + quoted + "\"";
}

// GET .../export?format=json|csv: every message the DLQ holds, read page by page. JSON: an array of messages as in
// browse; CSV: offset,id,store_time,routing_key,tags,keys,dead_lettered_from,reason,payload_encoding,payload.
void exportDlq(const AdminRoutes &r, AdminCall &call, bool amqp)
{
    Source s;
    if (!deadLetterSource(r, call, amqp, &s))
        return;
    const auto it = call.request.query.find("format");
    const std::string format = it == call.request.query.end() ? "json" : it->second;
    if (format != "json" && format != "csv") {
        call.respond(jsonError(400, "bad_request", "format must be json or csv"));
        return;
    }
    auto rows = std::make_shared<QJsonArray>();
    auto respond = call.respond;
    readAll(
        s.queue, s.queue->low(), s.queue->next(),
        [rows](uint64_t offset, const MessagePtr &m) {
            rows->append(messageJson(offset, *m));
            return true;
        },
        [rows, respond, format](ferry_status st, const std::string &err) {
            if (st != FERRY_OK) {
                respond(statusError(st, err));
                return;
            }
            if (format == "json") {
                HttpResponse res = json(200, *rows);
                res.headers.emplace_back("Content-Disposition", "attachment; filename=\"dead-letters.json\"");
                respond(std::move(res));
                return;
            }
            QString csv = "offset,id,store_time,routing_key,tags,keys,dead_lettered_from,reason,payload_encoding,payload\r\n";
            for (const QJsonValue &v : *rows) {
                const QJsonObject o = v.toObject();
                const QJsonObject death = o.value("x_death").toArray().first().toObject();
                QString from = death.value("queue").toString();
                if (from.isEmpty())
                    from = o.value("properties").toObject().value("DLQ_ORIGIN_TOPIC").toString();
                const QStringList fields{QString::number(o.value("offset").toInteger()),
                                         o.value("id").toString(),
                                         QString::number(o.value("store_time").toInteger()),
                                         o.value("routing_key").toString(),
                                         o.value("tags").toString(),
                                         o.value("keys").toString(),
                                         from,
                                         death.value("reason").toString(),
                                         o.value("payload_encoding").toString(),
                                         o.value("payload").toString()};
                QStringList quoted;
                for (const QString &f : fields)
                    quoted.append(csvField(f));
                csv += quoted.join(',') + "\r\n";
            }
            HttpResponse res;
            res.status = 200;
            res.contentType = "text/csv; charset=utf-8";
            res.body = csv.toStdString();
            res.headers.emplace_back("Content-Disposition", "attachment; filename=\"dead-letters.csv\"");
            respond(std::move(res));
        });
}

void exportAmqpDlq(const AdminRoutes &r, AdminCall &call) { exportDlq(r, call, true); }
void exportRocketDlq(const AdminRoutes &r, AdminCall &call) { exportDlq(r, call, false); }

} // namespace

void addMessageRoutes(const AddRoute &add)
{
    add("GET", "/api/v1/queues/{}/{}/messages", Access::Read, browseQueue);
    add("GET", "/api/v1/topics/{}/messages", Access::Read, browseTopic);
    add("GET", "/api/v1/messages", Access::Read, search);
    add("GET", "/api/v1/messages/{}", Access::Read, getMessage);
    add("POST", "/api/v1/messages/resend", Access::Manage, resend);
    add("POST", "/api/v1/exchanges/{}/{}/publish", Access::Manage, publishToExchange);
    add("POST", "/api/v1/topics/{}/publish", Access::Administer, publishToTopic);
    add("GET", "/api/v1/dead-letters", Access::Read, listDeadLetters);
    add("GET", "/api/v1/dead-letters/amqp/{}/{}/messages", Access::Read, browseAmqpDlq);
    add("POST", "/api/v1/dead-letters/amqp/{}/{}/resend", Access::Administer, resendAmqpDlq);
    add("GET", "/api/v1/dead-letters/amqp/{}/{}/export", Access::Read, exportAmqpDlq);
    add("GET", "/api/v1/dead-letters/rocketmq/{}/messages", Access::Read, browseRocketDlq);
    add("POST", "/api/v1/dead-letters/rocketmq/{}/resend", Access::Administer, resendRocketDlq);
    add("GET", "/api/v1/dead-letters/rocketmq/{}/export", Access::Read, exportRocketDlq);
}

} // namespace ferry::admin
