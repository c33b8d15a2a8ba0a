// The admin API's consumer groups (docs/admin-api.md, "Consumer groups"): RocketMQ-style groups that consume topic
// queues by offset. Members come from the protocol plugins that keep them (vtable list_group_members: RocketMQ's
// heartbeats); offsets from the storage plugin (every committed (group, queue, offset)). Per topic queue: the broker
// offset (the queue's end), the consumer offset (committed; -1 when never), and the lag (end minus the committed
// offset, or minus the queue's first offset when nothing was committed).
//
// Resetting a group's offset commits a new one for every queue of a topic (or one queue): to an offset (clamped to
// the queue's bounds) or to the first message stored at or after a time. Clients that keep offsets in memory
// (ali-ons persists its own every few seconds) overwrite a reset while they run: stop the group's consumers first.
#include "admin/AdminHandlers.h"

#include "broker/ProtocolServices.h"
#include "net/NetworkServer.h"
#include "plugin/PluginHost.h"
#include "queue/QueueRegistry.h"
#include "queue/TopicRegistry.h"
#include "storage/StorageEngine.h"

#include <QJsonArray>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace ferry::admin {

namespace {

struct Member {
    std::string group, clientId, model, protocol, address;
    uint64_t connId = 0;
    std::vector<std::string> topics;
};

struct QueueOffset {
    std::string topic;
    uint32_t queueId = 0;
    QueuePtr queue;
    int64_t committed = -1;
};

struct GroupView {
    std::vector<Member> members;
    std::map<std::pair<std::string, uint32_t>, QueueOffset> offsets; // (topic, queue id)
};

std::vector<Member> groupMembers(const AdminContext &c)
{
    std::vector<Member> out;
    std::map<uint64_t, std::string> addresses;
    for (const ConnectionSnapshot &s : c.network->connections())
        addresses[s.id] = s.peer;
    forEachProtocolInstance([&](const LoadedPlugin &plugin, ferry_protocol *instance) {
        if (plugin.protocol.list_group_members == nullptr)
            return;
        struct Sink {
            std::vector<Member> *out;
            const std::string *protocol;
            const std::map<uint64_t, std::string> *addresses;
        } sink{&out, &plugin.name, &addresses};
        plugin.protocol.list_group_members(
            instance,
            [](void *ctx, const ferry_group_member_info *m) {
                auto *s = static_cast<Sink *>(ctx);
                const auto text = [](const char *p, size_t n) { return p ? std::string(p, n) : std::string(); };
                Member member{text(m->group, m->group_len), text(m->client_id, m->client_id_len),
                              text(m->model, m->model_len), *s->protocol, {}, m->conn_id, {}};
                if (auto it = s->addresses->find(m->conn_id); it != s->addresses->end())
                    member.address = it->second;
                for (const QString &t : q(text(m->topics, m->topics_len)).split(' ', Qt::SkipEmptyParts))
                    member.topics.push_back(t.toStdString());
                s->out->push_back(std::move(member));
            },
            &sink);
    });
    return out;
}

// The topic and queue id of a topic queue's kernel name ("T:i"); false for any other queue.
bool topicQueue(const AdminContext &c, const QueuePtr &queue, std::string *topic, uint32_t *queueId)
{
    if (!(queue->flags() & Queue::kCursorQueue) || (queue->flags() & Queue::kInternalStore))
        return false;
    return TopicRegistry::parseQueueName(queue->name(), topic, queueId) && c.topics->find(*topic).has_value();
}

// Reads every committed offset (storage thread), then done(groups) on the storage thread.
void collectGroups(const AdminContext &c, std::function<void(ferry_status, std::map<std::string, GroupView>, const std::string &)> done)
{
    auto groups = std::make_shared<std::map<std::string, GroupView>>();
    for (Member &m : groupMembers(c))
        (*groups)[m.group].members.push_back(std::move(m));
    auto committed = std::make_shared<std::vector<std::tuple<std::string, uint64_t, uint64_t>>>();
    const AdminContext *context = &c;
    c.storage->submit(
        [committed](StorageSession &s) {
            return s.offsetList([&](std::string_view group, uint64_t queueId, uint64_t offset) {
                committed->emplace_back(std::string(group), queueId, offset);
            });
        },
        [groups, committed, context, done = std::move(done)](ferry_status st, const std::string &err) {
            if (st != FERRY_OK) {
                done(st, {}, err);
                return;
            }
            for (const auto &[group, queueId, offset] : *committed) {
                if (group.empty() || group.front() == '$')
                    continue; // the kernel's own cursors
                QueuePtr queue = context->queues->findById(queueId);
                std::string topic;
                uint32_t index = 0;
                if (!queue || !topicQueue(*context, queue, &topic, &index))
                    continue;
                (*groups)[group].offsets[{topic, index}] = QueueOffset{topic, index, queue, static_cast<int64_t>(offset)};
            }
            // The subscribed topics' queues with no committed offset yet.
            for (auto &[name, view] : *groups)
                for (const Member &m : view.members)
                    for (const std::string &topic : m.topics)
                        if (const auto config = context->topics->find(topic))
                            for (uint32_t i = 0; i < config->queueCount(); ++i)
                                if (!view.offsets.count({topic, i}))
                                    if (QueuePtr queue = context->queues->find(TopicRegistry::queueName(topic, i)))
                                        view.offsets[{topic, i}] = QueueOffset{topic, i, queue, -1};
            done(FERRY_OK, std::move(*groups), {});
        },
        false);
}

uint64_t lagOf(const QueueOffset &o)
{
    const uint64_t next = o.queue->next(), low = o.queue->low();
    const uint64_t from = o.committed >= 0 ? static_cast<uint64_t>(o.committed) : low;
    return next > from ? next - from : 0;
}

QJsonObject groupSummary(const std::string &name, const GroupView &g)
{
    std::set<std::string> topics;
    uint64_t lag = 0;
    for (const auto &[key, o] : g.offsets) {
        topics.insert(o.topic);
        lag += lagOf(o);
    }
    QJsonArray topicList;
    for (const std::string &t : topics)
        topicList.append(q(t));
    return QJsonObject{{"group", q(name)},
                       {"protocol", q(g.members.empty() ? std::string() : g.members.front().protocol)},
                       {"model", q(g.members.empty() ? std::string() : g.members.front().model)},
                       {"members", static_cast<qint64>(g.members.size())},
                       {"topics", topicList},
                       {"lag", static_cast<qint64>(lag)}};
}

QJsonObject groupDetail(const std::string &name, const GroupView &g)
{
    QJsonObject o = groupSummary(name, g);
    QJsonArray members, offsets;
    for (const Member &m : g.members) {
        QJsonArray topics;
        for (const std::string &t : m.topics)
            topics.append(q(t));
        members.append(QJsonObject{{"client_id", q(m.clientId)},
                                   {"address", q(m.address)},
                                   {"connection", static_cast<qint64>(m.connId)},
                                   {"model", q(m.model)},
                                   {"topics", topics}});
    }
    for (const auto &[key, q0] : g.offsets)
        offsets.append(QJsonObject{{"topic", q(q0.topic)},
                                   {"queue_id", static_cast<qint64>(q0.queueId)},
                                   {"min_offset", static_cast<qint64>(q0.queue->low())},
                                   {"broker_offset", static_cast<qint64>(q0.queue->next())},
                                   {"consumer_offset", static_cast<qint64>(q0.committed)},
                                   {"lag", static_cast<qint64>(lagOf(q0))}});
    o.insert("members", members);
    o.insert("member_count", static_cast<qint64>(g.members.size()));
    o.insert("offsets", offsets);
    return o;
}

void listGroups(const AdminRoutes &r, AdminCall &call)
{
    auto respond = call.respond;
    collectGroups(r.context(), [respond](ferry_status st, std::map<std::string, GroupView> groups, const std::string &err) {
        if (st != FERRY_OK) {
            respond(statusError(st, err));
            return;
        }
        QJsonArray out;
        for (const auto &[name, g] : groups)
            out.append(groupSummary(name, g));
        respond(json(200, out));
    });
}

void getGroup(const AdminRoutes &r, AdminCall &call)
{
    auto respond = call.respond;
    const std::string name = call.params[0];
    collectGroups(r.context(), [respond, name](ferry_status st, std::map<std::string, GroupView> groups,
                                               const std::string &err) {
        if (st != FERRY_OK) {
            respond(statusError(st, err));
            return;
        }
        auto it = groups.find(name);
        if (it == groups.end()) {
            respond(jsonError(404, "not_found", "no consumer group '" + name + "' (no member and no committed offset)"));
            return;
        }
        respond(json(200, groupDetail(name, it->second)));
    });
}

// POST /api/v1/consumer-groups/{group}/reset-offset: {"topic", "timestamp" (ms) | "offset", "queue_id"?}.
void resetOffset(const AdminRoutes &r, AdminCall &call)
{
    QJsonObject body;
    if (!bodyObject(call, &body))
        return;
    const std::string group = call.params[0];
    const std::string topic = body.value("topic").toString().toStdString();
    const auto config = r.context().topics->find(topic);
    if (!config) {
        call.respond(jsonError(404, "not_found", "no topic '" + topic + "'"));
        return;
    }
    const bool byTime = body.contains("timestamp"), byOffset = body.contains("offset");
    const QJsonValue target = byTime ? body.value("timestamp") : body.value("offset");
    if (byTime == byOffset || !target.isDouble() || target.toDouble() < 0 ||
        target.toDouble() != static_cast<double>(target.toInteger())) {
        call.respond(jsonError(400, "bad_request", "give exactly one of \"timestamp\" (ms since the epoch) or "
                                                   "\"offset\", as an unsigned integer"));
        return;
    }
    if (group.empty() || group.front() == '$') {
        call.respond(jsonError(400, "bad_request", "not a client consumer group: '" + group + "'"));
        return;
    }
    std::vector<uint32_t> ids;
    if (body.contains("queue_id")) {
        const qint64 id = body.value("queue_id").toInteger(-1);
        if (id < 0 || id >= static_cast<qint64>(config->queueCount())) {
            call.respond(jsonError(400, "bad_request", "queue_id is out of range: topic '" + topic + "' has queues 0.." +
                                                           std::to_string(config->queueCount() - 1)));
            return;
        }
        ids.push_back(static_cast<uint32_t>(id));
    } else {
        for (uint32_t i = 0; i < config->queueCount(); ++i)
            ids.push_back(i);
    }
    logChange(call, "reset offsets of group '" + group + "' on topic '" + topic + "'");
    auto respond = call.respond;
    auto slots = ResultSlots::create(ids.size(), [respond](std::vector<QJsonObject> results) {
        QJsonArray out;
        qint64 failed = 0;
        for (const QJsonObject &o : results) {
            failed += o.value("ok").toBool() ? 0 : 1;
            out.append(o);
        }
        if (failed == 0)
            respond(json(200, QJsonObject{{"results", out}}));
        else
            respond(json(500, QJsonObject{{"error", "internal_error"},
                                          {"reason", q(std::to_string(failed) + " of " + std::to_string(out.size()) +
                                                       " queues were not reset")},
                                          {"results", out}}));
    });
    const uint64_t value = static_cast<uint64_t>(target.toInteger());
    for (size_t i = 0; i < ids.size(); ++i) {
        const uint32_t id = ids[i];
        QueuePtr queue = r.context().queues->find(TopicRegistry::queueName(topic, id));
        const auto finishOne = [slots, i](QJsonObject result) { slots->set(i, std::move(result)); };
        if (!queue) {
            finishOne(QJsonObject{{"queue_id", static_cast<qint64>(id)}, {"ok", false}, {"error", "no such queue"}});
            continue;
        }
        const auto commit = [queue, group, id, finishOne](uint64_t offset) {
            const uint64_t clamped = std::clamp(offset, queue->low(), queue->next());
            queue->commitOffset(group, clamped, [id, clamped, finishOne](ferry_status st, const std::string &err) {
                QJsonObject o{{"queue_id", static_cast<qint64>(id)}, {"offset", static_cast<qint64>(clamped)},
                              {"ok", st == FERRY_OK}};
                if (st != FERRY_OK)
                    o.insert("error", q(err));
                finishOne(o);
            });
        };
        if (byTime)
            queue->seekTime(value, [commit, id, finishOne](ferry_status st, uint64_t offset, const std::string &err) {
                if (st != FERRY_OK)
                    finishOne(QJsonObject{{"queue_id", static_cast<qint64>(id)}, {"ok", false}, {"error", q(err)}});
                else
                    commit(offset);
            });
        else
            commit(value);
    }
}

} // namespace

void collectGroupMetrics(const AdminContext &context, std::function<void(GroupMetrics)> done)
{
    collectGroups(context, [done](ferry_status, std::map<std::string, GroupView> groups, const std::string &) {
        GroupMetrics m;
        for (const auto &[name, g] : groups) {
            m.members.emplace_back(name, g.members.size());
            for (const auto &[key, o] : g.offsets)
                m.lag.push_back({name, o.topic, o.queueId, lagOf(o)});
        }
        done(std::move(m));
    });
}

void addGroupRoutes(const AddRoute &add)
{
    add("GET", "/api/v1/consumer-groups", Access::Read, listGroups);
    add("GET", "/api/v1/consumer-groups/{}", Access::Read, getGroup);
    add("POST", "/api/v1/consumer-groups/{}/reset-offset", Access::Administer, resetOffset);
}

} // namespace ferry::admin
