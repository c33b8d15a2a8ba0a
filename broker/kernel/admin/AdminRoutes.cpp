#include "admin/AdminRoutes.h"

#include "admin/AdminHandlers.h"

#include "admin/Metrics.h"
#include "auth/AuthRegistry.h"
#include "broker/BrokerSettings.h"
#include "log/Logging.h"
#include "net/NetworkServer.h"
#include "plugin/PluginHost.h"
#include "queue/Queue.h"
#include "queue/QueueRegistry.h"
#include "queue/TopicRegistry.h"
#include "repl/ReplicationService.h"
#include "route/Router.h"
#include "storage/StorageEngine.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

namespace ferry::admin {

uint64_t wallMs()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

QString q(const std::string &s) { return QString::fromStdString(s); }

HttpResponse json(int status, const QJsonValue &value)
{
    HttpResponse r;
    r.status = status;
    r.body = (value.isArray() ? QJsonDocument(value.toArray()) : QJsonDocument(value.toObject()))
                 .toJson(QJsonDocument::Compact)
                 .toStdString();
    return r;
}

HttpResponse noContent(int status)
{
    HttpResponse r;
    r.status = status;
    return r;
}

// A kernel status as the HTTP answer RabbitMQ's API gives for the same failure.
HttpResponse statusError(ferry_status st, const std::string &what)
{
    switch (st) {
    case FERRY_E_NOT_FOUND:
        return jsonError(404, "not_found", what);
    case FERRY_E_ACCESS_DENIED:
        return jsonError(403, "access_refused", what);
    case FERRY_E_READ_ONLY:
        return jsonError(403, "read_only", what);
    case FERRY_E_LOCKED:
        return jsonError(405, "resource_locked", what);
    case FERRY_E_ALREADY_EXISTS:
    case FERRY_E_MISMATCH:
        return jsonError(400, "precondition_failed", what);
    case FERRY_E_BUSY:
        return jsonError(400, "precondition_failed", what);
    case FERRY_E_INVALID_ARGUMENT:
    case FERRY_E_CONFIG:
        return jsonError(400, "bad_request", what);
    default:
        return jsonError(500, "internal_error", what + " (status " + std::to_string(st) + ")");
    }
}

// The body as a JSON object; false (and the 400 answered) when it is not one. An empty body is an empty object.
bool bodyObject(AdminCall &call, QJsonObject *out)
{
    if (call.request.body.empty()) {
        *out = {};
        return true;
    }
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(call.request.body), &error);
    if (!doc.isObject()) {
        call.respond(jsonError(400, "bad_request",
                               "the body is not a JSON object" +
                                   (error.error != QJsonParseError::NoError
                                        ? ": " + error.errorString().toStdString() + " at offset " +
                                              std::to_string(error.offset)
                                        : std::string())));
        return false;
    }
    *out = doc.object();
    return true;
}

void logChange(const AdminCall &call, const std::string &what)
{
    kernelLogger()->info("admin: {} {} by user '{}' from {}: {}", call.request.method, call.request.target, call.user,
                         call.peer, what);
}

bool isAdministrator(const AdminRoutes &r, const AdminCall &call)
{
    return r.context().auth->hasTag(call.user, "administrator");
}

// Monitoring and administrator users see every vhost; management users the ones they have permissions on.
bool visible(const AdminRoutes &r, const AdminCall &call, const std::string &vhost)
{
    const AuthRegistry &auth = *r.context().auth;
    if (auth.hasTag(call.user, "administrator") || auth.hasTag(call.user, "monitoring"))
        return true;
    return auth.vhostAccess(call.user, vhost) == FERRY_OK;
}

// A change of a resource in vhost: administrators always, management users with the configure permission.
bool mayConfigure(const AdminRoutes &r, AdminCall &call, const std::string &vhost, const std::string &name)
{
    if (!r.context().auth->vhosts().empty()) {
        bool known = false;
        for (const std::string &v : r.context().auth->vhosts())
            known |= v == vhost;
        if (!known) {
            call.respond(jsonError(404, "not_found", "no vhost '" + vhost + "'"));
            return false;
        }
    }
    if (isAdministrator(r, call) ||
        r.context().auth->check(call.user, vhost, FERRY_PERMISSION_CONFIGURE, name) == FERRY_OK)
        return true;
    call.respond(jsonError(403, "access_refused",
                           "user '" + call.user + "' may not configure '" + name + "' in vhost '" + vhost + "'"));
    return false;
}

// The queues clients declare (not topic queues, not kernel stores).
bool knownVhost(const AdminRoutes &r, AdminCall &call, const std::string &vhost)
{
    for (const std::string &v : r.context().auth->vhosts())
        if (v == vhost && visible(r, call, v))
            return true;
    call.respond(jsonError(404, "not_found", "no vhost '" + vhost + "'"));
    return false;
}

bool isClientQueue(const QueuePtr &queue)
{
    return (queue->flags() & (Queue::kCursorQueue | Queue::kInternalStore)) == 0;
}

QueuePtr findClientQueue(const AdminRoutes &r, AdminCall &call)
{
    const std::string &vhost = call.params[0], &name = call.params[1];
    QueuePtr queue = r.context().queues->find(Router::qualify(vhost, name));
    if (!queue || !isClientQueue(queue) || !visible(r, call, vhost)) {
        call.respond(jsonError(404, "not_found", "no queue '" + name + "' in vhost '" + vhost + "'"));
        return nullptr;
    }
    return queue;
}


// ---- conversions ----------------------------------------------------------------------------------------------

QJsonObject queueArgumentsJson(const QueueArgs &a)
{
    QJsonObject o;
    if (a.messageTtlMs >= 0)
        o.insert("x-message-ttl", static_cast<qint64>(a.messageTtlMs));
    if (a.expiresMs >= 0)
        o.insert("x-expires", static_cast<qint64>(a.expiresMs));
    if (a.maxLength >= 0)
        o.insert("x-max-length", static_cast<qint64>(a.maxLength));
    if (a.maxLengthBytes >= 0)
        o.insert("x-max-length-bytes", static_cast<qint64>(a.maxLengthBytes));
    if (a.maxLength >= 0 || a.maxLengthBytes >= 0)
        o.insert("x-overflow", a.overflow == FERRY_OVERFLOW_REJECT_PUBLISH       ? "reject-publish"
                               : a.overflow == FERRY_OVERFLOW_REJECT_PUBLISH_DLX ? "reject-publish-dlx"
                                                                                 : "drop-head");
    if (a.maxPriority > 0)
        o.insert("x-max-priority", static_cast<qint64>(a.maxPriority));
    if (a.singleActiveConsumer)
        o.insert("x-single-active-consumer", true);
    if (a.hasDeadLetterExchange)
        o.insert("x-dead-letter-exchange", q(a.deadLetterExchange));
    if (a.hasDeadLetterRoutingKey)
        o.insert("x-dead-letter-routing-key", q(a.deadLetterRoutingKey));
    return o;
}

// RabbitMQ's queue arguments as JSON -> QueueArgs; false with *error for an unknown or ill-typed one.
bool queueArgumentsFromJson(const QJsonObject &o, QueueArgs *a, std::string *error)
{
    const auto number = [&](const QString &key, int64_t min, int64_t *out) {
        const QJsonValue v = o.value(key);
        if (!v.isDouble() || v.toDouble() != static_cast<double>(v.toInteger()) || v.toInteger() < min) {
            *error = key.toStdString() + " must be an integer >= " + std::to_string(min);
            return false;
        }
        *out = v.toInteger();
        return true;
    };
    for (auto it = o.begin(); it != o.end(); ++it) {
        const QString key = it.key();
        int64_t n = 0;
        if (key == "x-message-ttl") {
            if (!number(key, 0, &a->messageTtlMs))
                return false;
        } else if (key == "x-expires") {
            if (!number(key, 1, &a->expiresMs))
                return false;
        } else if (key == "x-max-length") {
            if (!number(key, 0, &a->maxLength))
                return false;
        } else if (key == "x-max-length-bytes") {
            if (!number(key, 0, &a->maxLengthBytes))
                return false;
        } else if (key == "x-max-priority") {
            if (!number(key, 0, &n) || n > 255) {
                *error = "x-max-priority must be an integer from 0 to 255";
                return false;
            }
            a->maxPriority = static_cast<uint32_t>(n);
        } else if (key == "x-overflow") {
            const QString v = it.value().toString();
            if (v == "drop-head")
                a->overflow = FERRY_OVERFLOW_DROP_HEAD;
            else if (v == "reject-publish")
                a->overflow = FERRY_OVERFLOW_REJECT_PUBLISH;
            else if (v == "reject-publish-dlx")
                a->overflow = FERRY_OVERFLOW_REJECT_PUBLISH_DLX;
            else {
                *error = "x-overflow must be drop-head, reject-publish or reject-publish-dlx";
                return false;
            }
        } else if (key == "x-single-active-consumer") {
            if (!it.value().isBool()) {
                *error = "x-single-active-consumer must be true or false";
                return false;
            }
            a->singleActiveConsumer = it.value().toBool();
        } else if (key == "x-dead-letter-exchange") {
            if (!it.value().isString()) {
                *error = "x-dead-letter-exchange must be a string";
                return false;
            }
            a->hasDeadLetterExchange = true;
            a->deadLetterExchange = it.value().toString().toStdString();
        } else if (key == "x-dead-letter-routing-key") {
            if (!it.value().isString()) {
                *error = "x-dead-letter-routing-key must be a string";
                return false;
            }
            a->hasDeadLetterRoutingKey = true;
            a->deadLetterRoutingKey = it.value().toString().toStdString();
        } else if (key == "x-queue-type") {
            if (it.value().toString() != "classic") {
                *error = "x-queue-type: only classic queues exist here";
                return false;
            }
        } else {
            *error = "unknown queue argument '" + key.toStdString() + "'";
            return false;
        }
    }
    return true;
}

// RabbitMQ's message_stats: counters with their rate.
QJsonObject messageStatsJson(const QueueTotals &totals, const RateSampler::Rates &rates)
{
    return QJsonObject{{"publish", static_cast<qint64>(totals.published)},
                       {"publish_details", QJsonObject{{"rate", rates.publish}}},
                       {"deliver_get", static_cast<qint64>(totals.delivered)},
                       {"deliver_get_details", QJsonObject{{"rate", rates.deliver}}}};
}

QJsonObject queueJson(const AdminRoutes &r, const QueuePtr &queue)
{
    const auto [vhost, name] = Router::split(queue->name());
    const QueueCounts c = queue->counts();
    const RateSampler::Rates rates = r.rates().queue(queue->name());
    return QJsonObject{
        {"name", q(name)},
        {"vhost", q(vhost)},
        {"type", "classic"},
        {"state", "running"},
        {"durable", queue->durable()},
        {"auto_delete", (queue->flags() & FERRY_QUEUE_AUTO_DELETE) != 0},
        {"exclusive", (queue->flags() & FERRY_QUEUE_EXCLUSIVE) != 0},
        {"arguments", queueArgumentsJson(queue->args())},
        {"messages", static_cast<qint64>(c.ready + c.unacked)},
        {"messages_ready", static_cast<qint64>(c.ready)},
        {"messages_unacknowledged", static_cast<qint64>(c.unacked)},
        {"consumers", static_cast<qint64>(c.consumers)},
        {"message_stats", messageStatsJson(queueTotals(*queue), rates)},
    };
}

QJsonObject exchangeJson(const ExchangeConfig &e)
{
    const auto [vhost, name] = Router::split(e.name);
    QJsonObject args;
    if (!e.delayedType.empty())
        args.insert("x-delayed-type", q(e.delayedType));
    return QJsonObject{{"name", q(name)},
                       {"vhost", q(vhost)},
                       {"type", q(e.type)},
                       {"durable", (e.flags & FERRY_EXCHANGE_DURABLE) != 0},
                       {"auto_delete", (e.flags & FERRY_EXCHANGE_AUTO_DELETE) != 0},
                       {"internal", (e.flags & FERRY_EXCHANGE_INTERNAL) != 0},
                       {"arguments", args}};
}

// RabbitMQ's properties_key: the routing key ("~" when empty), percent-encoded by the client when used in a path.

std::string propertiesKey(const BindingConfig &b)
{
    if (b.arguments.empty())
        return b.routingKey.empty() ? "~" : b.routingKey;
    uint32_t h = 2166136261u; // FNV-1a of the argument block: stable across runs and builds
    for (const unsigned char c : b.arguments)
        h = (h ^ c) * 16777619u;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", h);
    return b.routingKey + "~" + hex;
}

QJsonObject bindingArgumentsJson(const std::string &block)
{
    QJsonObject o;
    forEachProperty(block, [&](std::string_view k, std::string_view v) { o.insert(q(std::string(k)), q(std::string(v))); });
    return o;
}

bool scalarText(const QJsonValue &v, std::string *out)
{
    if (v.isString())
        *out = v.toString().toStdString();
    else if (v.isBool())
        *out = v.toBool() ? "true" : "false";
    else if (v.isDouble())
        *out = v.toDouble() == static_cast<double>(v.toInteger()) ? std::to_string(v.toInteger())
                                                                  : QString::number(v.toDouble(), 'g', 17).toStdString();
    else
        return false;
    return true;
}

bool bindingArgumentsFromJson(const QJsonValue &value, std::string *block, std::string *error)
{
    block->clear();
    if (value.isUndefined() || value.isNull())
        return true;
    if (!value.isObject()) {
        *error = "arguments must be an object";
        return false;
    }
    const QJsonObject o = value.toObject();
    for (auto it = o.begin(); it != o.end(); ++it) {
        const QJsonValue v = it.value();
        std::string text;
        if (!scalarText(v, &text)) {
            *error = "binding argument '" + it.key().toStdString() + "' must be a string, number or boolean";
            return false;
        }
        if (it.key().startsWith('$')) {
            *error = "binding argument names starting with '$' are reserved";
            return false;
        }
        appendProperty(*block, it.key().toStdString(), text);
    }
    return true;
}


QJsonObject bindingJson(const BindingConfig &b)
{
    const auto [vhost, source] = Router::split(b.source);
    const auto destination = Router::split(b.destination).second;
    return QJsonObject{{"source", q(source)},
                       {"vhost", q(vhost)},
                       {"destination", q(destination)},
                       {"destination_type", b.kind == FERRY_BIND_EXCHANGE ? "exchange" : "queue"},
                       {"routing_key", q(b.routingKey)},
                       {"arguments", bindingArgumentsJson(b.arguments)},
                       {"properties_key", q(propertiesKey(b))}};
}

QJsonArray tagsJson(const std::string &tags)
{
    QJsonArray out;
    for (const QString &t : q(tags).split(QRegularExpression("[, ]+"), Qt::SkipEmptyParts))
        out.append(t);
    return out;
}

uint64_t directoryBytes(const std::filesystem::path &dir)
{
    std::error_code ec;
    uint64_t total = 0;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code sizeError;
        if (it->is_regular_file(sizeError))
            total += it->file_size(sizeError);
    }
    return total;
}

namespace {

QJsonObject topicJson(const AdminRoutes &r, const TopicConfig &t)
{
    QJsonArray queues;
    uint64_t total = 0, published = 0;
    double publishRate = 0;
    for (uint32_t i = 0; i < t.queueCount(); ++i) {
        const std::string queueName = TopicRegistry::queueName(t.name, i);
        const QueuePtr queue = r.context().queues->find(queueName);
        const uint64_t low = queue ? queue->low() : 0, next = queue ? queue->next() : 0;
        total += next - low;
        if (queue)
            published += queueTotals(*queue).published;
        publishRate += r.rates().queue(queueName).publish;
        queues.append(QJsonObject{{"queue_id", static_cast<qint64>(i)},
                                  {"min_offset", static_cast<qint64>(low)},
                                  {"max_offset", static_cast<qint64>(next)},
                                  {"messages", static_cast<qint64>(next - low)}});
    }
    return QJsonObject{{"name", q(t.name)},
                       {"read_queue_nums", static_cast<qint64>(t.readQueues)},
                       {"write_queue_nums", static_cast<qint64>(t.writeQueues)},
                       {"perm", static_cast<qint64>(t.perm)},
                       {"messages", static_cast<qint64>(total)},
                       {"message_stats", QJsonObject{{"publish", static_cast<qint64>(published)},
                                                     {"publish_details", QJsonObject{{"rate", publishRate}}}}},
                       {"queues", queues}};
}

const char *kindName(int32_t kind)
{
    return kind == FERRY_PLUGIN_KIND_PROTOCOL ? "protocol" : kind == FERRY_PLUGIN_KIND_STORAGE ? "storage" : "unknown";
}

// ---- handlers ---------------------------------------------------------------------------------------------------

void overview(const AdminRoutes &r, AdminCall &call)
{
    const AdminContext &c = r.context();
    QJsonArray plugins;
    for (const auto &p : c.plugins->plugins())
        plugins.append(QJsonObject{{"name", q(p->name)},
                                   {"kind", kindName(p->kind)},
                                   {"version", q(p->version)},
                                   {"abi", q(std::to_string(p->abiMajor) + "." + std::to_string(p->abiMinor))}});
    QJsonArray listeners;
    for (const auto &[key, address] : c.network->boundAddresses())
        listeners.append(QJsonObject{{"key", q(key)}, {"address", q(address)}});
    uint64_t queues = 0, messages = 0, ready = 0, unacked = 0, consumers = 0;
    QueueTotals totals;
    for (const QueuePtr &queue : c.queues->list()) {
        if (!isClientQueue(queue))
            continue;
        ++queues;
        const QueueTotals t = queueTotals(*queue);
        totals.published += t.published;
        totals.delivered += t.delivered;
        const QueueCounts counts = queue->counts();
        ready += counts.ready;
        unacked += counts.unacked;
        consumers += counts.consumers;
    }
    messages = ready + unacked;
    const RateSampler::Rates total = r.rates().total();
    const uint64_t now = wallMs();
    call.respond(json(
        200, QJsonObject{
                 {"product_name", "Ferry"},
                 {"product_version", FERRY_VERSION},
                 {"abi", q(std::to_string(FERRY_ABI_MAJOR) + "." + std::to_string(FERRY_ABI_MINOR))},
                 {"broker_name", q(c.settings->replication.brokerName)},
                 {"broker_id", static_cast<qint64>(c.settings->replication.brokerId)},
                 {"role", replicationRoleName(c.replication->role())},
                 {"uptime_ms", static_cast<qint64>(now - c.startTimeMs)},
                 {"plugins", plugins},
                 {"listeners", listeners},
                 {"object_totals",
                  QJsonObject{{"queues", static_cast<qint64>(queues)},
                              {"exchanges", static_cast<qint64>(c.router->exchanges().size())},
                              {"topics", static_cast<qint64>(c.topics->list().size())},
                              {"connections", static_cast<qint64>(c.network->connectionCount())},
                              {"consumers", static_cast<qint64>(consumers)}}},
                 {"queue_totals", QJsonObject{{"messages", static_cast<qint64>(messages)},
                                              {"messages_ready", static_cast<qint64>(ready)},
                                              {"messages_unacknowledged", static_cast<qint64>(unacked)}}},
                 {"message_stats", messageStatsJson(totals, total)},
                 {"storage", QJsonObject{{"plugin", q(c.settings->storagePlugin)},
                                         {"data_dir", q(c.settings->dataDir.string())},
                                         {"bytes", static_cast<qint64>(directoryBytes(c.settings->dataDir))}}},
             }));
}

// ---- vhosts

void listVhosts(const AdminRoutes &r, AdminCall &call)
{
    QJsonArray out;
    for (const std::string &v : r.context().auth->vhosts())
        if (visible(r, call, v))
            out.append(QJsonObject{{"name", q(v)}});
    call.respond(json(200, out));
}

void getVhost(const AdminRoutes &r, AdminCall &call)
{
    const std::string &name = call.params[0];
    for (const std::string &v : r.context().auth->vhosts())
        if (v == name && visible(r, call, v)) {
            call.respond(json(200, QJsonObject{{"name", q(v)}}));
            return;
        }
    call.respond(jsonError(404, "not_found", "no vhost '" + name + "'"));
}

void putVhost(const AdminRoutes &r, AdminCall &call)
{
    const std::string &name = call.params[0];
    if (name.empty() || name.size() > 255 || name.find(FERRY_VHOST_SEPARATOR) != std::string::npos) {
        call.respond(jsonError(400, "bad_request", "a vhost name is 1 to 255 bytes without the unit separator"));
        return;
    }
    for (const std::string &v : r.context().auth->vhosts())
        if (v == name) {
            call.respond(noContent());
            return;
        }
    r.context().auth->putVhost(name);
    r.context().router->ensureVhost(name);
    logChange(call, "vhost created");
    call.respond(noContent(201));
}

// ---- queues

void listQueues(const AdminRoutes &r, AdminCall &call)
{
    const std::string *onlyVhost = call.params.empty() ? nullptr : &call.params[0];
    if (onlyVhost && !knownVhost(r, call, *onlyVhost))
        return;
    std::vector<QueuePtr> queues = r.context().queues->list();
    std::sort(queues.begin(), queues.end(), [](const QueuePtr &a, const QueuePtr &b) {
        return Router::split(a->name()) < Router::split(b->name());
    });
    QJsonArray out;
    for (const QueuePtr &queue : queues) {
        if (!isClientQueue(queue))
            continue;
        const std::string vhost = Router::split(queue->name()).first;
        if ((onlyVhost && vhost != *onlyVhost) || !visible(r, call, vhost))
            continue;
        out.append(queueJson(r, queue));
    }
    call.respond(json(200, out));
}

void getQueue(const AdminRoutes &r, AdminCall &call)
{
    if (QueuePtr queue = findClientQueue(r, call))
        call.respond(json(200, queueJson(r, queue)));
}

void putQueue(const AdminRoutes &r, AdminCall &call)
{
    const std::string &vhost = call.params[0], &name = call.params[1];
    QJsonObject body;
    if (!bodyObject(call, &body) || !mayConfigure(r, call, vhost, name))
        return;
    if (name.empty() || name.size() > 255 || name.rfind("amq.", 0) == 0) {
        call.respond(jsonError(400, "bad_request", "a queue name is 1 to 255 bytes and does not start with 'amq.'"));
        return;
    }
    QueueRegistry::DeclareRequest request;
    if (body.value("durable").toBool(true))
        request.flags |= FERRY_QUEUE_DURABLE;
    if (body.value("auto_delete").toBool(false))
        request.flags |= FERRY_QUEUE_AUTO_DELETE;
    request.strict = true;
    std::string error;
    if (!queueArgumentsFromJson(body.value("arguments").toObject(), &request.args, &error)) {
        call.respond(jsonError(400, "bad_request", error));
        return;
    }
    const bool existed = r.context().queues->find(Router::qualify(vhost, name)) != nullptr;
    auto respond = call.respond;
    logChange(call, "declare queue");
    r.context().queues->declare(Router::qualify(vhost, name), request,
                                [respond, existed](ferry_status st, const QueuePtr &, const std::string &err) {
                                    respond(st == FERRY_OK ? noContent(existed ? 204 : 201) : statusError(st, err));
                                });
}

void deleteQueue(const AdminRoutes &r, AdminCall &call)
{
    const std::string &vhost = call.params[0], &name = call.params[1];
    if (!findClientQueue(r, call) || !mayConfigure(r, call, vhost, name))
        return;
    uint32_t flags = 0;
    if (call.request.query.count("if-unused") && call.request.query.at("if-unused") == "true")
        flags |= FERRY_QUEUE_IF_UNUSED;
    if (call.request.query.count("if-empty") && call.request.query.at("if-empty") == "true")
        flags |= FERRY_QUEUE_IF_EMPTY;
    auto respond = call.respond;
    logChange(call, "delete queue");
    r.context().queues->remove(Router::qualify(vhost, name), flags,
                               [respond](ferry_status st, uint64_t, const std::string &err) {
                                   respond(st == FERRY_OK ? noContent() : statusError(st, err));
                               });
}

void purgeQueue(const AdminRoutes &r, AdminCall &call)
{
    const std::string &vhost = call.params[0], &name = call.params[1];
    QueuePtr queue = findClientQueue(r, call);
    if (!queue || !mayConfigure(r, call, vhost, name))
        return;
    const uint64_t purged = queue->purge();
    logChange(call, "purged " + std::to_string(purged) + " messages");
    call.respond(noContent());
}

// ---- exchanges

void listExchanges(const AdminRoutes &r, AdminCall &call)
{
    const std::string *onlyVhost = call.params.empty() ? nullptr : &call.params[0];
    if (onlyVhost && !knownVhost(r, call, *onlyVhost))
        return;
    std::vector<ExchangeConfig> exchanges = r.context().router->exchanges();
    std::sort(exchanges.begin(), exchanges.end(), [](const ExchangeConfig &a, const ExchangeConfig &b) {
        return Router::split(a.name) < Router::split(b.name);
    });
    QJsonArray out;
    for (const ExchangeConfig &e : exchanges) {
        const std::string vhost = Router::split(e.name).first;
        if (e.type == "x-rocketmq-topic" || (onlyVhost && vhost != *onlyVhost) || !visible(r, call, vhost))
            continue;
        out.append(exchangeJson(e));
    }
    call.respond(json(200, out));
}

void getExchange(const AdminRoutes &r, AdminCall &call)
{
    const std::string qualified = Router::qualify(call.params[0], call.params[1]);
    for (const ExchangeConfig &e : r.context().router->exchanges())
        if (e.name == qualified && e.type != "x-rocketmq-topic" && visible(r, call, call.params[0])) {
            call.respond(json(200, exchangeJson(e)));
            return;
        }
    call.respond(jsonError(404, "not_found", "no exchange '" + call.params[1] + "' in vhost '" + call.params[0] + "'"));
}

void putExchange(const AdminRoutes &r, AdminCall &call)
{
    const std::string &vhost = call.params[0], &name = call.params[1];
    QJsonObject body;
    if (!bodyObject(call, &body) || !mayConfigure(r, call, vhost, name))
        return;
    if (name.empty() || name.rfind("amq.", 0) == 0) {
        call.respond(jsonError(400, "bad_request", "an exchange name is not empty and does not start with 'amq.'"));
        return;
    }
    ExchangeConfig config;
    config.name = Router::qualify(vhost, name);
    config.type = body.value("type").toString().toStdString();
    if (config.type.empty()) {
        call.respond(jsonError(400, "bad_request", "'type' is required: direct, fanout, topic, headers or "
                                                   "x-delayed-message"));
        return;
    }
    config.delayedType = body.value("arguments").toObject().value("x-delayed-type").toString().toStdString();
    if (body.value("durable").toBool(true))
        config.flags |= FERRY_EXCHANGE_DURABLE;
    if (body.value("auto_delete").toBool(false))
        config.flags |= FERRY_EXCHANGE_AUTO_DELETE;
    if (body.value("internal").toBool(false))
        config.flags |= FERRY_EXCHANGE_INTERNAL;
    const bool existed = r.context().router->exchangeExists(config.name);
    std::string error;
    const ferry_status st = r.context().router->declareExchange(config, false, &error);
    if (st != FERRY_OK) {
        call.respond(statusError(st, error));
        return;
    }
    logChange(call, "declare exchange");
    call.respond(noContent(existed ? 204 : 201));
}

void deleteExchange(const AdminRoutes &r, AdminCall &call)
{
    const std::string &vhost = call.params[0], &name = call.params[1];
    if (!mayConfigure(r, call, vhost, name))
        return;
    if (name.empty() || name.rfind("amq.", 0) == 0) {
        call.respond(jsonError(403, "access_refused", "the default and amq.* exchanges cannot be deleted"));
        return;
    }
    const bool ifUnused = call.request.query.count("if-unused") && call.request.query.at("if-unused") == "true";
    std::string error;
    const ferry_status st = r.context().router->deleteExchange(Router::qualify(vhost, name), ifUnused, &error);
    if (st != FERRY_OK) {
        call.respond(statusError(st, error.empty() ? "no exchange '" + name + "' in vhost '" + vhost + "'" : error));
        return;
    }
    logChange(call, "delete exchange");
    call.respond(noContent());
}

// ---- bindings: /bindings[/{vhost}[/e/{source}/{q|e}/{destination}[/{props}]]]

void listBindings(const AdminRoutes &r, AdminCall &call)
{
    const std::string *onlyVhost = call.params.empty() ? nullptr : &call.params[0];
    if (onlyVhost && !knownVhost(r, call, *onlyVhost))
        return;
    const bool filtered = call.params.size() >= 3;
    const uint32_t kind = call.request.path.size() > 6 && call.request.path[6] == "e" ? FERRY_BIND_EXCHANGE
                                                                                     : FERRY_BIND_QUEUE;
    QJsonArray out;
    for (const BindingConfig &b : r.context().router->bindings()) {
        const std::string vhost = Router::split(b.source).first;
        if ((onlyVhost && vhost != *onlyVhost) || !visible(r, call, vhost))
            continue;
        if (filtered && (b.source != Router::qualify(call.params[0], call.params[1]) || b.kind != kind ||
                         b.destination != Router::qualify(call.params[0], call.params[2])))
            continue;
        if (Router::split(b.source).second.empty() && !filtered)
            continue; // the default exchange's implicit bindings are not listed
        out.append(bindingJson(b));
    }
    call.respond(json(200, out));
}

BindingConfig bindingFromPath(const AdminCall &call)
{
    BindingConfig b;
    b.source = Router::qualify(call.params[0], call.params[1]);
    b.kind = call.request.path[6] == "e" ? FERRY_BIND_EXCHANGE : FERRY_BIND_QUEUE;
    b.destination = Router::qualify(call.params[0], call.params[2]);
    return b;
}

void createBinding(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body) || !mayConfigure(r, call, call.params[0], call.params[2]))
        return;
    BindingConfig b = bindingFromPath(call);
    b.routingKey = body.value("routing_key").toString().toStdString();
    std::string argError;
    if (!bindingArgumentsFromJson(body.value("arguments"), &b.arguments, &argError)) {
        call.respond(jsonError(400, "bad_request", argError));
        return;
    }
    std::string error;
    const ferry_status st = r.context().router->bind(b, &error);
    if (st != FERRY_OK) {
        call.respond(statusError(st, error));
        return;
    }
    logChange(call, "bind");
    HttpResponse created = noContent(201);
    created.headers.emplace_back("Location", call.request.target + "/" + propertiesKey(b));
    call.respond(created);
}

void deleteBinding(const AdminRoutes &r, AdminCall &call)
{
    if (!mayConfigure(r, call, call.params[0], call.params[2]))
        return;
    const BindingConfig path = bindingFromPath(call);
    BindingConfig b;
    bool exists = false;
    for (const BindingConfig &existing : r.context().router->bindings())
        if (existing.source == path.source && existing.kind == path.kind && existing.destination == path.destination &&
            propertiesKey(existing) == call.params[3]) {
            b = existing;
            exists = true;
        }
    if (!exists) {
        call.respond(jsonError(404, "not_found", "no binding with properties key '" + call.params[3] + "'"));
        return;
    }
    std::string error;
    const ferry_status st = r.context().router->unbind(b, &error);
    if (st != FERRY_OK) {
        call.respond(statusError(st, error.empty() ? "no such binding" : error));
        return;
    }
    logChange(call, "unbind");
    call.respond(noContent());
}

// ---- users and permissions

void listUsers(const AdminRoutes &r, AdminCall &call)
{
    QJsonArray out;
    for (const AuthRegistry::UserView &u : r.context().auth->users())
        out.append(QJsonObject{{"name", q(u.name)}, {"tags", tagsJson(u.tags)}});
    call.respond(json(200, out));
}

void getUser(const AdminRoutes &r, AdminCall &call)
{
    for (const AuthRegistry::UserView &u : r.context().auth->users())
        if (u.name == call.params[0]) {
            call.respond(json(200, QJsonObject{{"name", q(u.name)}, {"tags", tagsJson(u.tags)}}));
            return;
        }
    call.respond(jsonError(404, "not_found", "no user '" + call.params[0] + "'"));
}

void putUser(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    const std::string &name = call.params[0];
    if (name.empty() || name.size() > 255) {
        call.respond(jsonError(400, "bad_request", "a user name is 1 to 255 bytes"));
        return;
    }
    if (!body.value("password").isString()) {
        call.respond(jsonError(400, "bad_request", "'password' (a string) is required"));
        return;
    }
    std::string tags;
    const QJsonValue t = body.value("tags");
    if (t.isArray()) {
        for (const QJsonValue &v : t.toArray())
            tags += (tags.empty() ? "" : ",") + v.toString().toStdString();
    } else {
        tags = t.toString().toStdString();
    }
    bool existed = false;
    for (const AuthRegistry::UserView &u : r.context().auth->users())
        existed |= u.name == name;
    r.context().auth->putUser(name, body.value("password").toString().toStdString(), tags);
    logChange(call, existed ? "user updated" : "user created");
    call.respond(noContent(existed ? 204 : 201));
}

QJsonObject permissionJson(const AuthRegistry::PermissionView &p)
{
    return QJsonObject{{"user", q(p.user)},
                       {"vhost", q(p.vhost)},
                       {"configure", q(p.configure)},
                       {"write", q(p.write)},
                       {"read", q(p.read)}};
}

void listPermissions(const AdminRoutes &r, AdminCall &call)
{
    QJsonArray out;
    for (const AuthRegistry::PermissionView &p : r.context().auth->permissions())
        out.append(permissionJson(p));
    call.respond(json(200, out));
}

void getPermission(const AdminRoutes &r, AdminCall &call)
{
    for (const AuthRegistry::PermissionView &p : r.context().auth->permissions())
        if (p.vhost == call.params[0] && p.user == call.params[1]) {
            call.respond(json(200, permissionJson(p)));
            return;
        }
    call.respond(jsonError(404, "not_found",
                           "user '" + call.params[1] + "' has no permissions in vhost '" + call.params[0] + "'"));
}

void putPermission(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    for (const char *key : {"configure", "write", "read"})
        if (!body.value(key).isString()) {
            call.respond(jsonError(400, "bad_request", std::string("'") + key + "' (a regular expression) is required"));
            return;
        }
    std::string error;
    const ferry_status st = r.context().auth->putPermission(
        call.params[1], call.params[0], body.value("configure").toString().toStdString(),
        body.value("write").toString().toStdString(), body.value("read").toString().toStdString(), &error);
    if (st != FERRY_OK) {
        call.respond(statusError(st, error));
        return;
    }
    logChange(call, "permissions set");
    call.respond(noContent(201));
}

// ---- topics (RocketMQ)

void listTopics(const AdminRoutes &r, AdminCall &call)
{
    std::vector<TopicConfig> topics = r.context().topics->list();
    std::sort(topics.begin(), topics.end(), [](const TopicConfig &a, const TopicConfig &b) { return a.name < b.name; });
    QJsonArray out;
    for (const TopicConfig &t : topics)
        out.append(topicJson(r, t));
    call.respond(json(200, out));
}

void getTopic(const AdminRoutes &r, AdminCall &call)
{
    if (auto t = r.context().topics->find(call.params[0]))
        call.respond(json(200, topicJson(r, *t)));
    else
        call.respond(jsonError(404, "not_found", "no topic '" + call.params[0] + "'"));
}

void putTopic(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    TopicConfig t;
    t.name = call.params[0];
    if (!TopicRegistry::validName(t.name)) {
        call.respond(jsonError(400, "bad_request", "'" + t.name + "' is not a valid topic name"));
        return;
    }
    const auto existing = r.context().topics->find(t.name);
    const auto count = [&](const char *key, uint32_t fallback, uint32_t *out) {
        const QJsonValue v = body.value(key);
        if (v.isUndefined()) {
            *out = fallback;
            return true;
        }
        if (!v.isDouble() || v.toInteger() < 1 || v.toInteger() > TopicRegistry::kMaxQueues) {
            call.respond(jsonError(400, "bad_request", std::string(key) + " must be an integer from 1 to " +
                                                           std::to_string(TopicRegistry::kMaxQueues)));
            return false;
        }
        *out = static_cast<uint32_t>(v.toInteger());
        return true;
    };
    if (!count("read_queue_nums", existing ? existing->readQueues : 8, &t.readQueues) ||
        !count("write_queue_nums", existing ? existing->writeQueues : 8, &t.writeQueues))
        return;
    const QJsonValue perm = body.value("perm");
    t.perm = existing ? existing->perm : (FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE);
    if (!perm.isUndefined()) {
        if (!perm.isDouble() || perm.toInteger() < 0 || perm.toInteger() > 7) {
            call.respond(jsonError(400, "bad_request", "perm is RocketMQ's permission bits: 0 to 7 (2 read, 4 write)"));
            return;
        }
        t.perm = static_cast<uint32_t>(perm.toInteger());
    }
    if (existing)
        t.flags = existing->flags;
    std::string error;
    const ferry_status st = r.context().topics->declare(t, 0, &error);
    if (st != FERRY_OK) {
        call.respond(statusError(st, error));
        return;
    }
    logChange(call, existing ? "topic updated" : "topic created");
    call.respond(noContent(existing ? 204 : 201));
}

void deleteTopic(const AdminRoutes &r, AdminCall &call)
{
    std::string error;
    const ferry_status st = r.context().topics->remove(call.params[0], &error);
    if (st != FERRY_OK) {
        call.respond(statusError(st, error.empty() ? "no topic '" + call.params[0] + "'" : error));
        return;
    }
    logChange(call, "topic deleted");
    call.respond(noContent());
}

// ---- replication

void replicationStatus(const AdminRoutes &r, AdminCall &call)
{
    HttpResponse out;
    out.body = r.context().replication->statusJson();
    call.respond(out);
}

void promote(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    const std::string role = body.value("role").toString("ASYNC_MASTER").toStdString();
    const bool force = body.value("force").toBool(false);
    const auto [st, text] = r.context().replication->change("promote", role + (force ? " force" : ""),
                                                            "user '" + call.user + "' at " + call.peer);
    if (st != FERRY_OK) {
        call.respond(statusError(st, text));
        return;
    }
    logChange(call, "promote to " + role);
    HttpResponse out;
    out.status = 202; // accepted: the broker restarts with its new role
    out.body = text;
    call.respond(out);
}

void follow(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    const auto [st, text] = r.context().replication->change("follow", body.value("master").toString().toStdString(),
                                                            "user '" + call.user + "' at " + call.peer);
    if (st != FERRY_OK) {
        call.respond(statusError(st, text));
        return;
    }
    logChange(call, "follow");
    HttpResponse out;
    out.body = text;
    call.respond(out);
}

void metrics(const AdminRoutes &r, AdminCall &call)
{
    const AdminContext *context = &r.context();
    const RateSampler *rates = &r.rates();
    collectGroupMetrics(r.context(), [context, rates, respond = call.respond](GroupMetrics groups) {
        HttpResponse out;
        out.contentType = "text/plain; version=0.0.4; charset=utf-8";
        out.body = renderMetrics(*context, *rates, groups);
        respond(out);
    });
}

std::vector<std::string> split(const std::string &pattern)
{
    std::vector<std::string> out;
    for (const QString &s : q(pattern).split('/', Qt::SkipEmptyParts))
        out.push_back(s.toStdString());
    return out;
}

} // namespace

HttpResponse jsonError(int status, const std::string &error, const std::string &reason)
{
    return json(status, QJsonObject{{"error", q(error)}, {"reason", q(reason)}});
}

// ---- rates ----------------------------------------------------------------------------------------------------------

QueueTotals queueTotals(const Queue &queue)
{
    const QueueCounts c = queue.counts();
    const uint64_t appended = queue.next();
    const uint64_t live = c.ready + c.unacked;
    return {appended, appended > live ? appended - live : 0};
}

void RateSampler::sample(const AdminContext &context)
{
    const uint64_t now = wallMs();
    std::map<std::string, Sample> next;
    Rates total;
    std::lock_guard lock(mutex_);
    for (const QueuePtr &queue : context.queues->list()) {
        Sample s;
        s.totals = queueTotals(*queue);
        s.atMs = now;
        auto it = queues_.find(queue->name());
        if (it != queues_.end() && now > it->second.atMs) {
            const double seconds = (now - it->second.atMs) / 1000.0;
            const QueueTotals &before = it->second.totals;
            if (s.totals.published >= before.published)
                s.rates.publish = (s.totals.published - before.published) / seconds;
            if (s.totals.delivered >= before.delivered)
                s.rates.deliver = (s.totals.delivered - before.delivered) / seconds;
        }
        total.publish += s.rates.publish;
        total.deliver += s.rates.deliver;
        next.emplace(queue->name(), s);
    }
    queues_ = std::move(next);
    total_ = total;
    std::map<uint64_t, ConnectionSample> connections;
    for (const ConnectionSnapshot &c : context.network->connections()) {
        ConnectionSample s{c.bytesIn, c.bytesOut, now, 0, 0};
        auto it = connections_.find(c.id);
        if (it != connections_.end() && now > it->second.atMs) {
            const double seconds = (now - it->second.atMs) / 1000.0;
            s.recvRate = (c.bytesIn - it->second.bytesIn) / seconds;
            s.sendRate = (c.bytesOut - it->second.bytesOut) / seconds;
        }
        connections.emplace(c.id, s);
    }
    connections_ = std::move(connections);
}

std::pair<double, double> RateSampler::connection(uint64_t id) const
{
    std::lock_guard lock(mutex_);
    auto it = connections_.find(id);
    return it == connections_.end() ? std::pair<double, double>{0, 0}
                                     : std::pair<double, double>{it->second.recvRate, it->second.sendRate};
}

RateSampler::Rates RateSampler::queue(const std::string &qualifiedName) const
{
    std::lock_guard lock(mutex_);
    auto it = queues_.find(qualifiedName);
    return it == queues_.end() ? Rates{} : it->second.rates;
}

RateSampler::Rates RateSampler::total() const
{
    std::lock_guard lock(mutex_);
    return total_;
}

// ---- the route table --------------------------------------------------------------------------------------------

AdminRoutes::AdminRoutes(const AdminContext &context, const RateSampler &rates) : context_(context), rates_(rates)
{
    const auto add = [this](const char *method, const char *pattern, Access access, void (*fn)(const AdminRoutes &,
                                                                                                AdminCall &)) {
        routes_.push_back({method, split(pattern), access, fn});
    };
    add("GET", "/api/v1/overview", Access::Read, overview);
    add("GET", "/api/v1/vhosts", Access::Read, listVhosts);
    add("GET", "/api/v1/vhosts/{}", Access::Read, getVhost);
    add("PUT", "/api/v1/vhosts/{}", Access::Administer, putVhost);
    add("GET", "/api/v1/queues", Access::Read, listQueues);
    add("GET", "/api/v1/queues/{}", Access::Read, listQueues);
    add("GET", "/api/v1/queues/{}/{}", Access::Read, getQueue);
    add("PUT", "/api/v1/queues/{}/{}", Access::Manage, putQueue);
    add("DELETE", "/api/v1/queues/{}/{}", Access::Manage, deleteQueue);
    add("DELETE", "/api/v1/queues/{}/{}/contents", Access::Manage, purgeQueue);
    add("GET", "/api/v1/exchanges", Access::Read, listExchanges);
    add("GET", "/api/v1/exchanges/{}", Access::Read, listExchanges);
    add("GET", "/api/v1/exchanges/{}/{}", Access::Read, getExchange);
    add("PUT", "/api/v1/exchanges/{}/{}", Access::Manage, putExchange);
    add("DELETE", "/api/v1/exchanges/{}/{}", Access::Manage, deleteExchange);
    add("GET", "/api/v1/bindings", Access::Read, listBindings);
    add("GET", "/api/v1/bindings/{}", Access::Read, listBindings);
    for (const char *kind : {"q", "e"}) {
        const std::string base = std::string("/api/v1/bindings/{}/e/{}/") + kind + "/{}";
        routes_.push_back({"GET", split(base), Access::Read, listBindings});
        routes_.push_back({"POST", split(base), Access::Manage, createBinding});
        routes_.push_back({"DELETE", split(base + "/{}"), Access::Manage, deleteBinding});
    }
    add("GET", "/api/v1/users", Access::Administer, listUsers);
    add("GET", "/api/v1/users/{}", Access::Administer, getUser);
    add("PUT", "/api/v1/users/{}", Access::Administer, putUser);
    add("GET", "/api/v1/permissions", Access::Administer, listPermissions);
    add("GET", "/api/v1/permissions/{}/{}", Access::Administer, getPermission);
    add("PUT", "/api/v1/permissions/{}/{}", Access::Administer, putPermission);
    add("GET", "/api/v1/topics", Access::Read, listTopics);
    add("GET", "/api/v1/topics/{}", Access::Read, getTopic);
    add("PUT", "/api/v1/topics/{}", Access::Administer, putTopic);
    add("DELETE", "/api/v1/topics/{}", Access::Administer, deleteTopic);
    add("GET", "/api/v1/replication", Access::Read, replicationStatus);
    add("POST", "/api/v1/replication/promote", Access::Administer, promote);
    add("POST", "/api/v1/replication/follow", Access::Administer, follow);
    add("GET", "/metrics", Access::Read, metrics);
    addMessageRoutes(add);
    addConnectionRoutes(add);
    addDefinitionRoutes(add);
    addGroupRoutes(add);
}

void AdminRoutes::dispatch(AdminCall call) const
{
    const std::vector<std::string> &path = call.request.path;
    bool pathKnown = false;
    std::string allowed;
    for (const Route &route : routes_) {
        if (route.pattern.size() != path.size())
            continue;
        std::vector<std::string> params;
        bool match = true;
        for (size_t i = 0; i < path.size() && match; ++i) {
            if (route.pattern[i] == "{}")
                params.push_back(path[i]);
            else
                match = route.pattern[i] == path[i];
        }
        if (!match)
            continue;
        pathKnown = true;
        if (route.method != call.request.method && !(call.request.method == "HEAD" && route.method == "GET")) {
            allowed += (allowed.empty() ? "" : ", ") + route.method;
            continue;
        }
        const AuthRegistry &auth = *context_.auth;
        const bool administrator = auth.hasTag(call.user, "administrator");
        const bool management = auth.hasTag(call.user, "management");
        const bool monitoring = auth.hasTag(call.user, "monitoring");
        const bool permitted = route.access == Access::Read         ? administrator || management || monitoring
                               : route.access == Access::Manage     ? administrator || management
                                                                    : administrator;
        if (!permitted) {
            call.respond(jsonError(403, "not_authorised",
                                   "user '" + call.user + "' lacks the " +
                                       (route.access == Access::Read
                                            ? std::string("administrator, management or monitoring tag")
                                        : route.access == Access::Manage ? std::string("administrator or management tag")
                                                                         : std::string("administrator tag")) +
                                       " for " + call.request.method + " " + call.request.target));
            return;
        }
        call.params = std::move(params);
        route.handler(*this, call);
        return;
    }
    if (pathKnown) {
        HttpResponse r = jsonError(405, "method_not_allowed", call.request.method + " is not allowed here (allowed: " +
                                                                  allowed + ")");
        r.headers.emplace_back("Allow", allowed);
        call.respond(r);
        return;
    }
    call.respond(jsonError(404, "not_found", "no resource at " + call.request.target));
}

} // namespace ferry::admin
