#include "admin/Metrics.h"

#include "admin/AdminHandlers.h"
#include "admin/AdminRoutes.h"
#include "broker/BrokerSettings.h"
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

#include <algorithm>
#include <array>
#include <map>
#include <filesystem>

namespace ferry::admin {

namespace {

std::string escapeLabel(const std::string &v)
{
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\', out += c;
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

class Writer {
public:
    // One metric family: HELP and TYPE once, then its samples.
    void family(const char *name, const char *type, const char *help)
    {
        out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
        name_ = name;
    }
    void sample(const std::vector<std::pair<std::string, std::string>> &labels, double value)
    {
        out_ += name_;
        if (!labels.empty()) {
            out_ += '{';
            for (size_t i = 0; i < labels.size(); ++i)
                out_ += (i ? "," : "") + labels[i].first + "=\"" + escapeLabel(labels[i].second) + "\"";
            out_ += '}';
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, " %.17g\n", value);
        out_ += buf;
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_, name_;
};

} // namespace

std::string renderMetrics(const AdminContext &c, const RateSampler &rates, const GroupMetrics &groups)
{
    Writer w;
    struct Row {
        std::string vhost, name;
        QueueCounts counts;
        QueueTotals totals;
        RateSampler::Rates rates;
    };
    std::vector<Row> rows;
    for (const QueuePtr &queue : c.queues->list()) {
        if (queue->flags() & (Queue::kCursorQueue | Queue::kInternalStore))
            continue;
        const auto [vhost, name] = Router::split(queue->name());
        rows.push_back({vhost, name, queue->counts(), queueTotals(*queue), rates.queue(queue->name())});
    }
    std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) {
        return std::tie(a.vhost, a.name) < std::tie(b.vhost, b.name);
    });
    const auto perQueue = [&](const char *name, const char *type, const char *help, auto value) {
        w.family(name, type, help);
        for (const Row &r : rows)
            w.sample({{"vhost", r.vhost}, {"queue", r.name}}, static_cast<double>(value(r)));
    };
    perQueue("ferry_queue_messages", "gauge", "Messages in the queue, ready and unacknowledged.",
             [](const Row &r) { return r.counts.ready + r.counts.unacked; });
    perQueue("ferry_queue_messages_ready", "gauge", "Messages ready for delivery.",
             [](const Row &r) { return r.counts.ready; });
    perQueue("ferry_queue_messages_unacked", "gauge", "Messages delivered and not yet acknowledged.",
             [](const Row &r) { return r.counts.unacked; });
    perQueue("ferry_queue_consumers", "gauge", "Consumers subscribed to the queue.",
             [](const Row &r) { return r.counts.consumers; });
    perQueue("ferry_queue_published_total", "counter", "Messages appended to the queue since it was created.",
             [](const Row &r) { return r.totals.published; });
    perQueue("ferry_queue_delivered_total", "counter",
             "Messages that left the queue (acknowledged, expired, dropped, purged) since it was created.",
             [](const Row &r) { return r.totals.delivered; });
    perQueue("ferry_queue_publish_rate", "gauge", "Messages appended per second, over the last sample interval.",
             [](const Row &r) { return r.rates.publish; });

    w.family("ferry_topic_queue_messages", "gauge", "Messages kept in one queue of a RocketMQ topic.");
    std::vector<TopicConfig> topics = c.topics->list();
    std::sort(topics.begin(), topics.end(), [](const TopicConfig &a, const TopicConfig &b) { return a.name < b.name; });
    for (const TopicConfig &t : topics)
        for (uint32_t i = 0; i < t.queueCount(); ++i)
            if (const QueuePtr queue = c.queues->find(TopicRegistry::queueName(t.name, i)))
                w.sample({{"topic", t.name}, {"queue_id", std::to_string(i)}},
                         static_cast<double>(queue->next() - queue->low()));

    w.family("ferry_consumer_group_lag", "gauge", "Messages a consumer group has yet to consume in one topic queue.");
    for (const GroupLagSample &g : groups.lag)
        w.sample({{"group", g.group}, {"topic", g.topic}, {"queue_id", std::to_string(g.queueId)}},
                 static_cast<double>(g.lag));
    w.family("ferry_consumer_group_members", "gauge", "Clients registered in a consumer group.");
    for (const auto &[group, members] : groups.members)
        w.sample({{"group", group}}, static_cast<double>(members));

    w.family("ferry_connections", "gauge", "Open client connections, every protocol.");
    w.sample({}, static_cast<double>(c.network->connectionCount()));
    std::map<std::string, std::array<uint64_t, 3>> perProtocol; // connections, bytes in, bytes out
    for (const ConnectionSnapshot &s : c.network->connections()) {
        auto &row = perProtocol[s.protocol];
        row[0] += 1;
        row[1] += s.bytesIn;
        row[2] += s.bytesOut;
    }
    w.family("ferry_protocol_connections", "gauge", "Open connections per protocol.");
    for (const auto &[protocol, row] : perProtocol)
        w.sample({{"protocol", protocol}}, static_cast<double>(row[0]));
    w.family("ferry_protocol_received_bytes", "gauge", "Bytes received on the open connections of a protocol.");
    for (const auto &[protocol, row] : perProtocol)
        w.sample({{"protocol", protocol}}, static_cast<double>(row[1]));
    w.family("ferry_protocol_sent_bytes", "gauge", "Bytes sent on the open connections of a protocol.");
    for (const auto &[protocol, row] : perProtocol)
        w.sample({{"protocol", protocol}}, static_cast<double>(row[2]));

    w.family("ferry_storage_syncs_total", "counter", "Group-commit syncs the storage engine performed.");
    w.sample({{"plugin", c.settings->storagePlugin}}, static_cast<double>(c.storage->syncCount()));
    w.family("ferry_storage_appends_total", "counter", "Records the storage engine appended.");
    w.sample({{"plugin", c.settings->storagePlugin}}, static_cast<double>(c.storage->appendCount()));
    w.family("ferry_storage_bytes", "gauge", "Bytes the data directory holds on disk.");
    w.sample({{"plugin", c.settings->storagePlugin}}, static_cast<double>(directoryBytes(c.settings->dataDir)));

    w.family("ferry_plugin_events_total", "counter", "Events a plugin counted (ferry_host.counter).");
    for (const PluginCounterValue &p : pluginCounters())
        w.sample({{"plugin", p.plugin}, {"event", p.event}}, static_cast<double>(p.value));
    w.family("ferry_uptime_seconds", "gauge", "Seconds since the broker started.");
    w.sample({}, static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count() -
                                     static_cast<int64_t>(c.startTimeMs)) /
                     1000.0);

    const QJsonObject repl = QJsonDocument::fromJson(QByteArray::fromStdString(c.replication->statusJson())).object();
    w.family("ferry_replication_role", "gauge", "1 for this broker's replication role.");
    w.sample({{"role", repl.value("role").toString().toStdString()},
              {"broker_name", repl.value("brokerName").toString().toStdString()}},
             1);
    if (repl.contains("slaves")) {
        const QJsonArray slaves = repl.value("slaves").toArray();
        w.family("ferry_replication_in_sync_slaves", "gauge", "Slaves that have everything this master shipped.");
        w.sample({}, repl.value("inSyncSlaves").toDouble());
        w.family("ferry_replication_slave_lag_bytes", "gauge", "Bytes a slave has yet to acknowledge.");
        for (const QJsonValue &s : slaves)
            w.sample({{"broker_id", std::to_string(s.toObject().value("brokerId").toInteger())}},
                     s.toObject().value("lagBytes").toDouble());
        w.family("ferry_replication_slave_lag_messages", "gauge", "Messages a slave has yet to acknowledge.");
        for (const QJsonValue &s : slaves)
            w.sample({{"broker_id", std::to_string(s.toObject().value("brokerId").toInteger())}},
                     s.toObject().value("lagMessages").toDouble());
    } else {
        const QJsonObject m = repl.value("master").toObject();
        w.family("ferry_replication_master_connected", "gauge", "1 while this slave is connected to its master.");
        w.sample({}, m.value("connected").toBool() ? 1 : 0);
        w.family("ferry_replication_lag_changes", "gauge", "Changes the master shipped that this slave has not applied.");
        w.sample({}, m.value("lagChanges").toDouble());
    }
    return w.take();
}

} // namespace ferry::admin
