// NameServer: the name server role's table and request handlers (fact sheet §2.4). State is in memory, as in
// RocketMQ: brokers re-register every 30 s, so a restarted name server is complete again within one interval.
// Threading: every public member takes the table's mutex; it calls no host service.
#include "RocketPlugin.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <set>

namespace rocket {

namespace {

std::string str(const RemotingCommand &c, std::string_view name)
{
    const std::string *v = c.field(name);
    return v ? *v : std::string();
}

std::string compact(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact).toStdString();
}

QString q(const std::string &s) { return QString::fromStdString(s); }

} // namespace

std::optional<RemotingCommand> NameServer::handle(const RemotingCommand &request, uint64_t connId, uint64_t nowMs)
{
    RemotingCommand response;
    switch (request.code) {
    case 103: response = registerBroker(request, connId, nowMs); break;
    case 104: response = unregisterBroker(request); break;
    case 105: response = routeInfo(request); break;
    case 106: response = clusterInfo(request); break;
    case 206: response = topicList(request, nullptr); break; // GET_ALL_TOPIC_LIST_FROM_NAMESERVER
    case 224: {                                              // GET_TOPICS_BY_CLUSTER
        const std::string cluster = str(request, "cluster");
        response = topicList(request, &cluster);
        break;
    }
    case 216: response = deleteTopic(request); break; // DELETE_TOPIC_IN_NAMESRV
    case 100:                                         // PUT_KV_CONFIG
    case 101:                                         // GET_KV_CONFIG
    case 102:                                         // DELETE_KV_CONFIG
    case 219:                                         // GET_KVLIST_BY_NAMESPACE
        response = kvConfig(request);
        break;
    case 322: // QUERY_DATA_VERSION: always "changed", so the broker registers in full
        response = request.response(code::kSuccess);
        response.set("changed", std::string("true"));
        break;
    default:
        response = request.response(code::kRequestCodeNotSupported,
                                    std::to_string(request.code) + " request type not supported");
    }
    if (request.isOneway())
        return std::nullopt;
    return response;
}

// REGISTER_BROKER 103: header brokerName, brokerAddr, clusterName, haServerAddr, brokerId; body RegisterBrokerBody.
RemotingCommand NameServer::registerBroker(const RemotingCommand &request, uint64_t connId, uint64_t nowMs)
{
    RegisteredBroker b;
    b.brokerName = str(request, "brokerName");
    b.brokerAddr = str(request, "brokerAddr");
    b.cluster = str(request, "clusterName");
    b.haServerAddr = str(request, "haServerAddr");
    b.brokerId = request.intField("brokerId").value_or(0);
    b.lastUpdateMs = nowMs;
    b.connId = connId;
    if (b.brokerName.empty() || b.brokerAddr.empty())
        return request.response(code::kSystemError, "REGISTER_BROKER lacks brokerName or brokerAddr");
    if (request.boolField("compressed"))
        return request.response(code::kSystemError, "compressed registration bodies are not supported; "
                                                    "register with compressed=false");
    if (!request.body.empty()) {
        QJsonParseError error{};
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(request.body), &error);
        if (!doc.isObject())
            return request.response(code::kSystemError,
                                    "the registration body is not a JSON object: " + error.errorString().toStdString());
        const QJsonObject table =
            doc.object().value("topicConfigSerializeWrapper").toObject().value("topicConfigTable").toObject();
        for (auto it = table.begin(); it != table.end(); ++it) {
            const QJsonObject t = it.value().toObject();
            TopicQueueData d;
            d.readQueueNums = static_cast<uint32_t>(t.value("readQueueNums").toInt());
            d.writeQueueNums = static_cast<uint32_t>(t.value("writeQueueNums").toInt());
            d.perm = static_cast<uint32_t>(t.value("perm").toInt());
            d.topicSysFlag = static_cast<uint32_t>(t.value("topicSysFlag").toInt());
            b.topics[it.key().toStdString()] = d;
        }
    }
    RemotingCommand response = request.response(code::kSuccess);
    std::lock_guard lock(mutex_);
    // A broker address belongs to one broker: a re-registration under another name replaces it. And a broker id
    // belongs to one address per group (RocketMQ's brokerAddrs map): a slave promoted to broker.id 0 replaces the
    // old master's entry, even before the old master's registration expired.
    for (auto it = brokers_.begin(); it != brokers_.end();)
        it = it->first != b.brokerAddr && it->second.brokerName == b.brokerName && it->second.brokerId == b.brokerId
                 ? brokers_.erase(it)
                 : std::next(it);
    brokers_[b.brokerAddr] = b;
    response.set("haServerAddr", std::string());
    response.set("masterAddr", std::string());
    if (b.brokerId != 0) {
        for (const auto &[addr, other] : brokers_) {
            if (other.brokerName == b.brokerName && other.brokerId == 0) {
                response.set("haServerAddr", other.haServerAddr);
                response.set("masterAddr", other.brokerAddr);
            }
        }
    }
    QJsonObject orderConf;
    for (const auto &[key, value] : kv_["ORDER_TOPIC_CONFIG"])
        orderConf.insert(q(key), q(value));
    response.body = compact(QJsonObject{{"table", orderConf}});
    return response;
}

// UNREGISTER_BROKER 104.
RemotingCommand NameServer::unregisterBroker(const RemotingCommand &request)
{
    const std::string addr = str(request, "brokerAddr");
    std::lock_guard lock(mutex_);
    brokers_.erase(addr);
    return request.response(code::kSuccess);
}

// GET_ROUTEINFO_BY_TOPIC 105: queue data from the masters, every registered address of those brokers.
RemotingCommand NameServer::routeInfo(const RemotingCommand &request)
{
    const std::string topic = str(request, "topic");
    std::lock_guard lock(mutex_);
    QJsonArray queueDatas;
    std::set<std::string> brokerNames;
    // Queue data comes from each group's master; a group whose master is gone keeps being routed through its
    // lowest-id slave (RocketMQ keeps a brokerName's queue data while any of its brokers is registered), so consumers
    // read from the slave.
    std::map<std::string, const RegisteredBroker *> source;
    for (const auto &[addr, b] : brokers_) {
        const RegisteredBroker *&best = source[b.brokerName];
        if (best == nullptr || b.brokerId < best->brokerId)
            best = &b;
    }
    for (const auto &[name, bp] : source) {
        const RegisteredBroker &b = *bp;
        auto t = b.topics.find(topic);
        if (t == b.topics.end())
            continue;
        queueDatas.append(QJsonObject{{"brokerName", q(b.brokerName)},
                                      {"readQueueNums", static_cast<int>(t->second.readQueueNums)},
                                      {"writeQueueNums", static_cast<int>(t->second.writeQueueNums)},
                                      {"perm", static_cast<int>(t->second.perm)},
                                      {"topicSysFlag", static_cast<int>(t->second.topicSysFlag)}});
        brokerNames.insert(b.brokerName);
    }
    if (queueDatas.isEmpty())
        return request.response(code::kTopicNotExist, "No topic route info in name server for the topic: " + topic);
    QJsonArray brokerDatas;
    for (const std::string &name : brokerNames) {
        QJsonObject addrs;
        std::string cluster;
        for (const auto &[addr, b] : brokers_) {
            if (b.brokerName != name)
                continue;
            addrs.insert(QString::number(b.brokerId), q(b.brokerAddr));
            cluster = b.cluster;
        }
        brokerDatas.append(QJsonObject{{"cluster", q(cluster)},
                                       {"brokerName", q(name)},
                                       {"brokerAddrs", addrs},
                                       {"enableActingMaster", false},
                                       {"zoneName", QJsonValue::Null}});
    }
    RemotingCommand response = request.response(code::kSuccess);
    QJsonValue orderConf = QJsonValue::Null;
    auto ns = kv_.find("ORDER_TOPIC_CONFIG");
    if (ns != kv_.end()) {
        auto v = ns->second.find(topic);
        if (v != ns->second.end())
            orderConf = q(v->second);
    }
    response.body = compact(QJsonObject{{"orderTopicConf", orderConf},
                                        {"queueDatas", queueDatas},
                                        {"brokerDatas", brokerDatas},
                                        {"filterServerTable", QJsonObject{}}});
    return response;
}

// GET_BROKER_CLUSTER_INFO 106.
RemotingCommand NameServer::clusterInfo(const RemotingCommand &request)
{
    std::lock_guard lock(mutex_);
    std::map<std::string, QJsonObject> addrsByName;
    std::map<std::string, std::string> clusterByName;
    std::map<std::string, std::set<std::string>> namesByCluster;
    for (const auto &[addr, b] : brokers_) {
        addrsByName[b.brokerName].insert(QString::number(b.brokerId), q(b.brokerAddr));
        clusterByName[b.brokerName] = b.cluster;
        namesByCluster[b.cluster].insert(b.brokerName);
    }
    QJsonObject brokerAddrTable;
    for (const auto &[name, addrs] : addrsByName)
        brokerAddrTable.insert(q(name), QJsonObject{{"cluster", q(clusterByName[name])},
                                                    {"brokerName", q(name)},
                                                    {"brokerAddrs", addrs},
                                                    {"enableActingMaster", false}});
    QJsonObject clusterAddrTable;
    for (const auto &[cluster, names] : namesByCluster) {
        QJsonArray list;
        for (const std::string &n : names)
            list.append(q(n));
        clusterAddrTable.insert(q(cluster), list);
    }
    RemotingCommand response = request.response(code::kSuccess);
    response.body = compact(QJsonObject{{"brokerAddrTable", brokerAddrTable}, {"clusterAddrTable", clusterAddrTable}});
    return response;
}

// GET_ALL_TOPIC_LIST_FROM_NAMESERVER 206 / GET_TOPICS_BY_CLUSTER 224.
RemotingCommand NameServer::topicList(const RemotingCommand &request, const std::string *cluster)
{
    std::lock_guard lock(mutex_);
    std::set<std::string> topics;
    for (const auto &[addr, b] : brokers_)
        if (!cluster || b.cluster == *cluster)
            for (const auto &[topic, d] : b.topics)
                topics.insert(topic);
    QJsonArray list;
    for (const std::string &t : topics)
        list.append(q(t));
    RemotingCommand response = request.response(code::kSuccess);
    response.body = compact(QJsonObject{{"topicList", list}});
    return response;
}

// DELETE_TOPIC_IN_NAMESRV 216.
RemotingCommand NameServer::deleteTopic(const RemotingCommand &request)
{
    const std::string topic = str(request, "topic");
    std::lock_guard lock(mutex_);
    for (auto &[addr, b] : brokers_)
        b.topics.erase(topic);
    return request.response(code::kSuccess);
}

// PUT_KV_CONFIG 100 / GET_KV_CONFIG 101 / DELETE_KV_CONFIG 102 / GET_KVLIST_BY_NAMESPACE 219.
RemotingCommand NameServer::kvConfig(const RemotingCommand &request)
{
    const std::string ns = str(request, "namespace");
    const std::string key = str(request, "key");
    std::lock_guard lock(mutex_);
    switch (request.code) {
    case 100:
        if (ns.empty() || key.empty())
            return request.response(code::kSystemError, "PUT_KV_CONFIG needs namespace and key");
        kv_[ns][key] = str(request, "value");
        return request.response(code::kSuccess);
    case 101: {
        auto n = kv_.find(ns);
        if (n != kv_.end()) {
            auto v = n->second.find(key);
            if (v != n->second.end()) {
                RemotingCommand response = request.response(code::kSuccess);
                response.set("value", v->second);
                return response;
            }
        }
        return request.response(code::kQueryNotFound, "No config item, Namespace: " + ns + " Key: " + key);
    }
    case 102: {
        auto n = kv_.find(ns);
        if (n != kv_.end())
            n->second.erase(key);
        return request.response(code::kSuccess);
    }
    default: { // 219
        auto n = kv_.find(ns);
        if (n == kv_.end() || n->second.empty())
            return request.response(code::kQueryNotFound, "No config item, Namespace: " + ns);
        QJsonObject table;
        for (const auto &[k, v] : n->second)
            table.insert(q(k), q(v));
        RemotingCommand response = request.response(code::kSuccess);
        response.body = compact(QJsonObject{{"table", table}});
        return response;
    }
    }
}

size_t NameServer::scan(uint64_t nowMs, uint64_t expiryMs, std::vector<std::string> *dropped)
{
    std::lock_guard lock(mutex_);
    size_t count = 0;
    for (auto it = brokers_.begin(); it != brokers_.end();) {
        if (nowMs - it->second.lastUpdateMs > expiryMs) {
            if (dropped)
                dropped->push_back(it->second.brokerName + "@" + it->first);
            it = brokers_.erase(it);
            ++count;
        } else {
            ++it;
        }
    }
    return count;
}

void NameServer::connectionClosed(uint64_t connId)
{
    std::lock_guard lock(mutex_);
    for (auto it = brokers_.begin(); it != brokers_.end();)
        it = it->second.connId == connId ? brokers_.erase(it) : std::next(it);
}

} // namespace rocket
