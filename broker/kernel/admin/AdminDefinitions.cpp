// The admin API's definitions (docs/admin-api.md, "Definitions"): RabbitMQ's definitions file (users with their
// password hashes, vhosts, permissions, queues, exchanges, bindings) plus Ferry's RocketMQ topics, exported and
// imported; and deleting users and vhosts (a vhost goes with its queues and exchanges, as in RabbitMQ).
//
// Import checks the whole file first (400 naming every bad entry, nothing applied), then applies it in dependency
// order: vhosts, users, permissions, exchanges, topics, queues (asynchronous: declared in storage), bindings. An
// entry the broker refuses while applying (a queue that exists with other arguments) is reported and the rest
// applied, as RabbitMQ does.
#include "admin/AdminHandlers.h"

#include "auth/AuthRegistry.h"
#include "queue/QueueRegistry.h"
#include "queue/TopicRegistry.h"
#include "route/Router.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <atomic>
#include <memory>
#include <mutex>

namespace ferry::admin {

namespace {

constexpr const char *kHashingAlgorithm = "rabbit_password_hashing_sha256";

// The exchanges every vhost has (not exported: importing them is a no-op anyway).
bool predeclared(const std::string &name) { return name.empty() || name.rfind("amq.", 0) == 0; }

void exportDefinitions(const AdminRoutes &r, AdminCall &call)
{
    const AdminContext &c = r.context();
    QJsonArray users, vhosts, permissions, queues, exchanges, bindings, topics;
    for (const AuthRegistry::UserView &u : c.auth->users())
        users.append(QJsonObject{{"name", q(u.name)},
                                 {"password_hash", q(u.passwordHash)},
                                 {"hashing_algorithm", kHashingAlgorithm},
                                 {"tags", tagsJson(u.tags)}});
    for (const std::string &v : c.auth->vhosts())
        vhosts.append(QJsonObject{{"name", q(v)}});
    for (const AuthRegistry::PermissionView &p : c.auth->permissions())
        permissions.append(QJsonObject{{"user", q(p.user)},
                                       {"vhost", q(p.vhost)},
                                       {"configure", q(p.configure)},
                                       {"write", q(p.write)},
                                       {"read", q(p.read)}});
    for (const QueuePtr &queue : c.queues->list()) {
        // Durable client queues, as RabbitMQ exports them; exclusive and transient ones die with their owner anyway.
        if (!isClientQueue(queue) || !queue->durable() || (queue->flags() & FERRY_QUEUE_EXCLUSIVE))
            continue;
        const auto [vhost, name] = Router::split(queue->name());
        queues.append(QJsonObject{{"name", q(name)},
                                  {"vhost", q(vhost)},
                                  {"durable", true},
                                  {"auto_delete", (queue->flags() & FERRY_QUEUE_AUTO_DELETE) != 0},
                                  {"arguments", queueArgumentsJson(queue->args())}});
    }
    for (const ExchangeConfig &e : c.router->exchanges())
        if (e.type != "x-rocketmq-topic" && !predeclared(Router::split(e.name).second) &&
            (e.flags & FERRY_EXCHANGE_DURABLE))
            exchanges.append(exchangeJson(e));
    for (const BindingConfig &b : c.router->bindings()) {
        QJsonObject o = bindingJson(b);
        o.remove("properties_key");
        bindings.append(o);
    }
    for (const TopicConfig &t : c.topics->list())
        if (!(t.flags & FERRY_TOPIC_SYSTEM))
            topics.append(QJsonObject{{"name", q(t.name)},
                                      {"read_queue_nums", static_cast<qint64>(t.readQueues)},
                                      {"write_queue_nums", static_cast<qint64>(t.writeQueues)},
                                      {"perm", static_cast<qint64>(t.perm)}});
    HttpResponse res = json(200, QJsonObject{{"product_name", "Ferry"},
                                             {"product_version", FERRY_VERSION},
                                             {"users", users},
                                             {"vhosts", vhosts},
                                             {"permissions", permissions},
                                             {"queues", queues},
                                             {"exchanges", exchanges},
                                             {"bindings", bindings},
                                             {"topics", topics}});
    if (call.request.query.count("download"))
        res.headers.emplace_back("Content-Disposition", "attachment; filename=\"ferry-definitions.json\"");
    call.respond(std::move(res));
}

struct Plan {
    std::vector<std::string> vhosts;
    struct User {
        std::string name, hash, tags;
    };
    std::vector<User> users;
    std::vector<AuthRegistry::PermissionView> permissions;
    std::vector<ExchangeConfig> exchanges;
    std::vector<TopicConfig> topics;
    struct QueueEntry {
        std::string qualified;
        QueueRegistry::DeclareRequest request;
    };
    std::vector<QueueEntry> queues;
    std::vector<BindingConfig> bindings;
};

QString tagsText(const QJsonValue &v)
{
    if (v.isArray()) {
        QStringList parts;
        for (const QJsonValue &t : v.toArray())
            parts.append(t.toString());
        return parts.join(',');
    }
    return v.toString();
}

// Reads every section; each bad entry adds a sentence to errors.
Plan planFrom(const QJsonObject &doc, std::vector<std::string> &errors)
{
    Plan plan;
    const auto section = [&](const char *name) {
        const QJsonValue v = doc.value(name);
        if (!v.isUndefined() && !v.isArray())
            errors.push_back(std::string(name) + " must be an array");
        return v.toArray();
    };
    const auto text = [](const QJsonObject &o, const char *key, const char *fallback = "") {
        return o.value(key).toString(fallback).toStdString();
    };
    int i = 0;
    for (const QJsonValue &v : section("vhosts")) {
        const std::string name = text(v.toObject(), "name");
        if (name.empty() || name.find(FERRY_VHOST_SEPARATOR) != std::string::npos)
            errors.push_back("vhosts[" + std::to_string(i) + "]: a vhost needs a name (1 to 255 bytes)");
        else
            plan.vhosts.push_back(name);
        ++i;
    }
    i = 0;
    for (const QJsonValue &v : section("users")) {
        const QJsonObject o = v.toObject();
        const std::string where = "users[" + std::to_string(i++) + "]";
        Plan::User u{text(o, "name"), text(o, "password_hash"), tagsText(o.value("tags")).toStdString()};
        const std::string algorithm = text(o, "hashing_algorithm", kHashingAlgorithm);
        if (u.name.empty())
            errors.push_back(where + ": no name");
        else if (algorithm != kHashingAlgorithm)
            errors.push_back(where + " '" + u.name + "': hashing_algorithm " + algorithm + " is not supported (only " +
                             kHashingAlgorithm + ")");
        else if (o.contains("password") && u.hash.empty())
            u.hash = AuthRegistry::hashPassword(text(o, "password"));
        if (!u.name.empty() && u.hash.empty())
            errors.push_back(where + " '" + u.name + "': needs password_hash (or password)");
        plan.users.push_back(u);
    }
    i = 0;
    for (const QJsonValue &v : section("permissions")) {
        const QJsonObject o = v.toObject();
        AuthRegistry::PermissionView p{text(o, "user"), text(o, "vhost", "/"), text(o, "configure"), text(o, "write"),
                                       text(o, "read")};
        if (p.user.empty())
            errors.push_back("permissions[" + std::to_string(i) + "]: no user");
        plan.permissions.push_back(p);
        ++i;
    }
    i = 0;
    for (const QJsonValue &v : section("exchanges")) {
        const QJsonObject o = v.toObject();
        const std::string name = text(o, "name"), vhost = text(o, "vhost", "/");
        ExchangeConfig e;
        e.name = Router::qualify(vhost, name);
        e.type = text(o, "type");
        e.delayedType = o.value("arguments").toObject().value("x-delayed-type").toString().toStdString();
        if (o.value("durable").toBool(true))
            e.flags |= FERRY_EXCHANGE_DURABLE;
        if (o.value("auto_delete").toBool(false))
            e.flags |= FERRY_EXCHANGE_AUTO_DELETE;
        if (o.value("internal").toBool(false))
            e.flags |= FERRY_EXCHANGE_INTERNAL;
        if (name.empty() || e.type.empty())
            errors.push_back("exchanges[" + std::to_string(i) + "]: needs name and type");
        else if (!predeclared(name))
            plan.exchanges.push_back(e);
        ++i;
    }
    i = 0;
    for (const QJsonValue &v : section("topics")) {
        const QJsonObject o = v.toObject();
        TopicConfig t;
        t.name = text(o, "name");
        t.readQueues = static_cast<uint32_t>(o.value("read_queue_nums").toInteger(8));
        t.writeQueues = static_cast<uint32_t>(o.value("write_queue_nums").toInteger(8));
        t.perm = static_cast<uint32_t>(o.value("perm").toInteger(6));
        if (!TopicRegistry::validName(t.name) || t.queueCount() == 0 || t.queueCount() > TopicRegistry::kMaxQueues ||
            t.perm > 7)
            errors.push_back("topics[" + std::to_string(i) + "] '" + t.name +
                             "': a valid name, 1 to 1024 queues and perm 0 to 7");
        else
            plan.topics.push_back(t);
        ++i;
    }
    i = 0;
    for (const QJsonValue &v : section("queues")) {
        const QJsonObject o = v.toObject();
        const std::string name = text(o, "name"), vhost = text(o, "vhost", "/");
        const std::string where = "queues[" + std::to_string(i++) + "] '" + name + "'";
        Plan::QueueEntry entry;
        entry.qualified = Router::qualify(vhost, name);
        if (o.value("durable").toBool(true))
            entry.request.flags |= FERRY_QUEUE_DURABLE;
        if (o.value("auto_delete").toBool(false))
            entry.request.flags |= FERRY_QUEUE_AUTO_DELETE;
        entry.request.strict = true;
        std::string error;
        if (name.empty() || name.rfind("amq.", 0) == 0)
            errors.push_back(where + ": a queue name is not empty and does not start with 'amq.'");
        else if (!queueArgumentsFromJson(o.value("arguments").toObject(), &entry.request.args, &error))
            errors.push_back(where + ": " + error);
        else
            plan.queues.push_back(std::move(entry));
    }
    i = 0;
    for (const QJsonValue &v : section("bindings")) {
        const QJsonObject o = v.toObject();
        const std::string vhost = text(o, "vhost", "/");
        const std::string where = "bindings[" + std::to_string(i++) + "]";
        BindingConfig b;
        b.source = Router::qualify(vhost, text(o, "source"));
        b.destination = Router::qualify(vhost, text(o, "destination"));
        const std::string type = text(o, "destination_type", "queue");
        b.kind = type == "exchange" ? FERRY_BIND_EXCHANGE : FERRY_BIND_QUEUE;
        b.routingKey = text(o, "routing_key");
        std::string error;
        if (type != "queue" && type != "exchange")
            errors.push_back(where + ": destination_type must be queue or exchange");
        else if (text(o, "destination").empty())
            errors.push_back(where + ": no destination");
        else if (!bindingArgumentsFromJson(o.value("arguments"), &b.arguments, &error))
            errors.push_back(where + ": " + error);
        else
            plan.bindings.push_back(b);
    }
    return plan;
}

HttpResponse importAnswer(const std::vector<std::string> &errors, const QJsonObject &counts)
{
    if (errors.empty())
        return json(200, QJsonObject{{"imported", counts}});
    std::string reason = std::to_string(errors.size()) + " definitions were refused: ";
    QJsonArray list;
    for (size_t i = 0; i < errors.size(); ++i) {
        reason += (i ? "; " : "") + errors[i];
        list.append(q(errors[i]));
    }
    HttpResponse r = json(400, QJsonObject{{"error", "bad_request"}, {"reason", q(reason)}, {"errors", list},
                                           {"imported", counts}});
    return r;
}

void importDefinitions(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject doc;
    if (!bodyObject(call, &doc))
        return;
    std::vector<std::string> errors;
    Plan plan = planFrom(doc, errors);
    if (!errors.empty()) {
        call.respond(importAnswer(errors, QJsonObject{}));
        return;
    }
    logChange(call, "import definitions");
    const AdminContext &c = r.context();
    for (const std::string &v : plan.vhosts) {
        c.auth->putVhost(v);
        c.router->ensureVhost(v);
    }
    for (const Plan::User &u : plan.users)
        if (!c.auth->putUserHash(u.name, u.hash, u.tags))
            errors.push_back("user '" + u.name + "': password_hash is not a rabbit_password_hashing_sha256 hash");
    for (const auto &p : plan.permissions) {
        std::string error;
        if (c.auth->putPermission(p.user, p.vhost, p.configure, p.write, p.read, &error) != FERRY_OK)
            errors.push_back("permission of '" + p.user + "' on '" + p.vhost + "': " + error);
    }
    for (const ExchangeConfig &e : plan.exchanges) {
        std::string error;
        if (c.router->declareExchange(e, false, &error) != FERRY_OK)
            errors.push_back("exchange '" + Router::split(e.name).second + "': " + error);
    }
    for (TopicConfig &t : plan.topics) {
        if (const auto existing = c.topics->find(t.name))
            t.flags = existing->flags;
        std::string error;
        if (c.topics->declare(t, 0, &error) != FERRY_OK)
            errors.push_back("topic '" + t.name + "': " + error);
    }
    const QJsonObject counts{{"vhosts", static_cast<qint64>(plan.vhosts.size())},
                             {"users", static_cast<qint64>(plan.users.size())},
                             {"permissions", static_cast<qint64>(plan.permissions.size())},
                             {"exchanges", static_cast<qint64>(plan.exchanges.size())},
                             {"topics", static_cast<qint64>(plan.topics.size())},
                             {"queues", static_cast<qint64>(plan.queues.size())},
                             {"bindings", static_cast<qint64>(plan.bindings.size())}};
    // Queues are declared through storage; bindings follow once every queue answered.
    struct State {
        std::mutex mutex;
        std::vector<std::string> errors;
        std::atomic<size_t> left{0};
    };
    auto state = std::make_shared<State>();
    state->errors = std::move(errors);
    auto bindings = std::make_shared<std::vector<BindingConfig>>(std::move(plan.bindings));
    auto respond = call.respond;
    Router *router = c.router;
    const auto finish = [state, bindings, respond, router, counts] {
        for (const BindingConfig &b : *bindings) {
            std::string error;
            if (const ferry_status st = router->bind(b, &error); st != FERRY_OK && st != FERRY_E_ALREADY_EXISTS)
                state->errors.push_back("binding " + Router::split(b.source).second + " -> " +
                                        Router::split(b.destination).second + ": " + error);
        }
        respond(importAnswer(state->errors, counts));
    };
    if (plan.queues.empty()) {
        finish();
        return;
    }
    state->left = plan.queues.size();
    for (const Plan::QueueEntry &entry : plan.queues)
        c.queues->declare(entry.qualified, entry.request,
                          [state, finish, name = entry.qualified](ferry_status st, const QueuePtr &, const std::string &err) {
                              if (st != FERRY_OK) {
                                  std::lock_guard lock(state->mutex);
                                  state->errors.push_back("queue '" + Router::split(name).second + "': " + err);
                              }
                              if (state->left.fetch_sub(1) == 1)
                                  finish();
                          });
}

void deleteUser(const AdminRoutes &r, AdminCall &call)
{
    const std::string &name = call.params[0];
    if (name == call.user) {
        call.respond(jsonError(400, "bad_request", "a user cannot delete itself"));
        return;
    }
    if (!r.context().auth->deleteUser(name)) {
        call.respond(jsonError(404, "not_found", "no user '" + name + "'"));
        return;
    }
    logChange(call, "user deleted");
    call.respond(noContent());
}

// Deletes the vhost's queues and exchanges, then the vhost and its permissions.
void deleteVhost(const AdminRoutes &r, AdminCall &call)
{
    const std::string vhost = call.params[0];
    const AdminContext &c = r.context();
    bool known = false;
    for (const std::string &v : c.auth->vhosts())
        known |= v == vhost;
    if (!known) {
        call.respond(jsonError(404, "not_found", "no vhost '" + vhost + "'"));
        return;
    }
    logChange(call, "vhost deleted");
    c.auth->deleteVhost(vhost);
    std::vector<std::string> queues;
    for (const QueuePtr &queue : c.queues->list())
        if (isClientQueue(queue) && Router::split(queue->name()).first == vhost && !queue->name().empty())
            queues.push_back(queue->name());
    const auto finish = [c, vhost, respond = call.respond] {
        for (const ExchangeConfig &e : c.router->exchanges())
            if (Router::split(e.name).first == vhost && e.type != "x-rocketmq-topic") {
                std::string error;
                c.router->deleteExchange(e.name, false, &error);
            }
        respond(noContent());
    };
    if (queues.empty()) {
        finish();
        return;
    }
    auto left = std::make_shared<std::atomic<size_t>>(queues.size());
    for (const std::string &name : queues)
        c.queues->remove(name, 0, [left, finish](ferry_status, uint64_t, const std::string &) {
            if (left->fetch_sub(1) == 1)
                finish();
        });
}

} // namespace

void addDefinitionRoutes(const AddRoute &add)
{
    add("GET", "/api/v1/definitions", Access::Administer, exportDefinitions);
    add("POST", "/api/v1/definitions", Access::Administer, importDefinitions);
    add("DELETE", "/api/v1/users/{}", Access::Administer, deleteUser);
    add("DELETE", "/api/v1/vhosts/{}", Access::Administer, deleteVhost);
}

} // namespace ferry::admin
