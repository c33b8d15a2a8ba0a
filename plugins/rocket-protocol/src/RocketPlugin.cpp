// RocketPlugin: instance-wide state (topics as the kernel keeps them, consumer and producer groups, ordered-consumption
// locks, outboxes) and the broker's registration with name servers. See RocketPlugin.h for the threading rules.
#include "RocketPlugin.h"

#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkInterface>

#include <algorithm>
#include <cstddef>

namespace rocket {

namespace {

constexpr uint64_t kInstanceTimerStart = 3; // listeners open: derive addresses, create system topics, register
constexpr uint32_t kReconnectDelayMs = 1000;
constexpr uint32_t kChannelScanIntervalMs = 10000;
constexpr uint64_t kLockLifetimeMs = 60000;

int32_t collectTopic(void *ctx, const ferry_topic_info *t)
{
    auto *out = static_cast<std::vector<std::pair<std::string, ferry_topic_info>> *>(ctx);
    out->emplace_back(std::string(t->name, t->name_len), *t);
    return 0;
}

// "0.0.0.0:port" / "[::]:port" name no reachable host: advertise the first non-loopback IPv4 address instead.
std::string reachable(const std::string &bound)
{
    const auto colon = bound.rfind(':');
    if (colon == std::string::npos)
        return bound;
    std::string host = bound.substr(0, colon);
    const std::string port = bound.substr(colon + 1);
    if (host != "0.0.0.0" && host != "[::]" && host != "::")
        return bound;
    std::string chosen = "127.0.0.1";
    for (const QHostAddress &a : QNetworkInterface::allAddresses()) {
        if (a.protocol() == QAbstractSocket::IPv4Protocol && !a.isLoopback()) {
            chosen = a.toString().toStdString();
            break;
        }
    }
    return chosen + ":" + port;
}

} // namespace

RocketPlugin::RocketPlugin(const ferry_protocol_host *host, Settings settings)
    : host_(host), settings_(std::move(settings)),
      counters_{{host->base, "broker_requests"}, {host->base, "namesrv_requests"}}
{
    host_->set_instance_timer(host_->base->ctx, kInstanceTimerStart, 0);
}

void RocketPlugin::log(int32_t level, const std::string &text) const
{
    host_->base->log(host_->base->ctx, level, text.data(), text.size());
}

uint64_t RocketPlugin::nowMs() const { return host_->base->now_ms(host_->base->ctx); }
uint64_t RocketPlugin::monotonicMs() const { return host_->base->monotonic_ms(host_->base->ctx); }

std::string RocketPlugin::brokerAddress()
{
    std::lock_guard lock(addressMutex_);
    if (brokerAddress_.empty()) {
        // Requests can arrive before the start timer ran: derive the address now from the open listener.
        char buf[256] = {};
        if (host_->listener_address(host_->base->ctx, kBrokerListener, buf, sizeof buf) == FERRY_OK)
            brokerAddress_ = settings_.advertisedAddress.empty() ? reachable(buf) : settings_.advertisedAddress;
    }
    return brokerAddress_;
}

std::optional<HostPort> RocketPlugin::storeHost()
{
    return HostPort::parse(brokerAddress());
}

// ---- start-up and registration ---------------------------------------------------------------------------------------

void RocketPlugin::onInstanceTimer(uint64_t timerId)
{
    const ferry_host *base = host_->base;
    if (timerId == kInstanceTimerStart) {
        char buf[256] = {};
        const ferry_status st = host_->listener_address(base->ctx, kBrokerListener, buf, sizeof buf);
        if (st == FERRY_E_BUSY) { // the kernel is still opening listeners
            host_->set_instance_timer(base->ctx, kInstanceTimerStart, 20);
            return;
        }
        char ns[256] = {};
        const bool nameServerOn = host_->listener_address(base->ctx, kNameServerListener, ns, sizeof ns) == FERRY_OK;
        if (nameServerOn)
            host_->set_instance_timer(base->ctx, kInstanceTimerScan, settings_.namesrvScanIntervalMs);
        if (st != FERRY_OK)
            return; // name server only
        {
            std::lock_guard lock(addressMutex_);
            if (brokerAddress_.empty())
                brokerAddress_ = settings_.advertisedAddress.empty() ? reachable(buf) : settings_.advertisedAddress;
            if (settings_.namesrvAddrs.empty() && nameServerOn)
                settings_.namesrvAddrs.push_back(reachable(ns));
        }
        log(FERRY_LOG_INFO, "broker " + settings_.brokerName + " (id " + std::to_string(settings_.brokerId) +
                                ") advertises " + brokerAddress());
        ensureSystemTopics();
        host_->set_instance_timer(base->ctx, kInstanceTimerChannelScan, kChannelScanIntervalMs);
        host_->set_instance_timer(base->ctx, kInstanceTimerTransactionCheck, settings_.transactionCheckIntervalMs);
        startRegistration();
        return;
    }
    if (timerId == kInstanceTimerScan) {
        std::vector<std::string> dropped;
        nameServer_.scan(monotonicMs(), settings_.brokerExpiryMs, &dropped);
        for (const std::string &b : dropped)
            log(FERRY_LOG_WARN, "name server: broker " + b + " silent for more than " +
                                    std::to_string(settings_.brokerExpiryMs) + " ms; removed");
        host_->set_instance_timer(base->ctx, kInstanceTimerScan, settings_.namesrvScanIntervalMs);
        return;
    }
    if (timerId == kInstanceTimerTransactionCheck) {
        checkTransactions();
        host_->set_instance_timer(base->ctx, kInstanceTimerTransactionCheck, settings_.transactionCheckIntervalMs);
        return;
    }
    if (timerId == kInstanceTimerChannelScan) {
        const uint64_t now = monotonicMs();
        std::vector<std::string> changed;
        {
            std::lock_guard lock(groupsMutex_);
            for (auto &[name, group] : consumerGroups_) {
                bool any = false;
                for (auto it = group.members.begin(); it != group.members.end();) {
                    if (now - it->second.lastHeartbeatMs > settings_.channelExpiryMs) {
                        it = group.members.erase(it);
                        any = true;
                    } else {
                        ++it;
                    }
                }
                if (any)
                    changed.push_back(name);
            }
        }
        for (const std::string &g : changed) {
            log(FERRY_LOG_INFO, "consumer group " + g + ": members without a heartbeat for " +
                                    std::to_string(settings_.channelExpiryMs) + " ms removed");
            notifyConsumersChanged(g);
        }
        host_->set_instance_timer(base->ctx, kInstanceTimerChannelScan, kChannelScanIntervalMs);
        return;
    }
    if (timerId >= kInstanceTimerConnectBase && timerId < kInstanceTimerConnectBase + namesrvCount()) {
        const uint64_t index = timerId - kInstanceTimerConnectBase;
        const std::string addr = namesrvAddressFor(index);
        if (host_->connect(base->ctx, addr.data(), addr.size(), index) != FERRY_OK)
            host_->set_instance_timer(base->ctx, timerId, kReconnectDelayMs);
    }
}

size_t RocketPlugin::namesrvCount() const { return settings_.namesrvAddrs.size(); }

std::string RocketPlugin::namesrvAddressFor(uint64_t index) const
{
    return index < settings_.namesrvAddrs.size() ? settings_.namesrvAddrs[index] : std::string();
}

void RocketPlugin::startRegistration()
{
    {
        std::lock_guard lock(registrationMutex_);
        registrationConns_.assign(namesrvCount(), 0);
    }
    if (namesrvCount() == 0) {
        log(FERRY_LOG_WARN, "no name server to register with (rocket.namesrv_addr is empty and the embedded name "
                            "server is off): clients will not find this broker");
        return;
    }
    for (uint64_t i = 0; i < namesrvCount(); ++i)
        host_->set_instance_timer(host_->base->ctx, kInstanceTimerConnectBase + i, 0);
}

void RocketPlugin::registrationConnected(uint64_t index, uint64_t connId)
{
    std::lock_guard lock(registrationMutex_);
    if (index < registrationConns_.size())
        registrationConns_[index] = connId;
}

void RocketPlugin::registrationClosed(uint64_t index)
{
    {
        std::lock_guard lock(registrationMutex_);
        if (index < registrationConns_.size())
            registrationConns_[index] = 0;
    }
    host_->set_instance_timer(host_->base->ctx, kInstanceTimerConnectBase + index, kReconnectDelayMs);
}

void RocketPlugin::requestRegistration()
{
    dataVersion_.fetch_add(1);
    std::vector<uint64_t> conns;
    {
        std::lock_guard lock(registrationMutex_);
        conns = registrationConns_;
    }
    for (uint64_t c : conns)
        if (c != 0)
            host_->wake(host_->base->ctx, c, kWakeRegister);
}

RemotingCommand RocketPlugin::registerRequest(int32_t opaque)
{
    RemotingCommand r;
    r.code = 103;
    r.opaque = opaque;
    r.version = 401;
    const std::string addr = brokerAddress();
    std::string ha = addr;
    if (const auto colon = addr.rfind(':'); colon != std::string::npos)
        ha = addr.substr(0, colon + 1) + std::to_string(std::stoi(addr.substr(colon + 1)) + 1);
    r.set("brokerName", settings_.brokerName);
    r.set("brokerAddr", addr);
    r.set("clusterName", settings_.clusterName);
    // ABI 1.7: the kernel's replication listener is the HA address (settings_ already hold broker.name, broker.id).
    if (const auto info = replicationInfo()) {
        std::string listen = info->listen_address;
        if (listen.rfind("0.0.0.0:", 0) == 0 && addr.rfind(':') != std::string::npos)
            listen = addr.substr(0, addr.rfind(':')) + listen.substr(7);
        ha = listen;
    }
    r.set("haServerAddr", ha);
    r.set("brokerId", settings_.brokerId);
    r.set("compressed", std::string("false"));
    r.body = "{\"topicConfigSerializeWrapper\":" + topicConfigJson() + ",\"filterServerList\":[]}";
    return r;
}

std::optional<ferry_replication_info> RocketPlugin::replicationInfo() const
{
    if (host_->struct_size < offsetof(ferry_protocol_host, replication_info) + sizeof(void *) ||
        host_->replication_info == nullptr)
        return std::nullopt;
    ferry_replication_info info{};
    info.struct_size = sizeof info;
    if (host_->replication_info(host_->base->ctx, &info) != FERRY_OK)
        return std::nullopt;
    return info;
}

void RocketPlugin::onRegistered(const RemotingCommand &answer)
{
    const auto info = replicationInfo();
    if (!info || info->role != FERRY_ROLE_SLAVE || host_->replication_master_hint == nullptr)
        return;
    if (const std::string *ha = answer.field("haServerAddr"); ha && !ha->empty())
        host_->replication_master_hint(host_->base->ctx, ha->data(), ha->size());
}

// ---- topics -------------------------------------------------------------------------------------------------------

void RocketPlugin::ensureSystemTopics()
{
    if (systemTopicsDone_.exchange(true))
        return;
    const uint32_t all = FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE | FERRY_TOPIC_PERM_INHERIT;
    std::string storage;
    if (settings_.autoCreateTopic && !topic("TBW102", &storage))
        declareTopic("TBW102", settings_.defaultTopicQueueNums, settings_.defaultTopicQueueNums, all,
                     FERRY_TOPIC_SYSTEM);
    for (const std::string &t : {settings_.brokerName, settings_.clusterName})
        if (!topic(t, &storage))
            declareTopic(t, 1, 1, all, FERRY_TOPIC_SYSTEM);
}

std::optional<ferry_topic_info> RocketPlugin::topic(const std::string &name, std::string *nameStorage) const
{
    std::vector<std::pair<std::string, ferry_topic_info>> found;
    if (host_->topic_get(host_->base->ctx, name.data(), name.size(), &collectTopic, &found) != FERRY_OK ||
        found.empty())
        return std::nullopt;
    *nameStorage = found.front().first;
    ferry_topic_info info = found.front().second;
    info.name = nameStorage->data();
    return info;
}

ferry_status RocketPlugin::declareTopic(const std::string &name, uint32_t readQueues, uint32_t writeQueues,
                                        uint32_t perm, uint32_t flags)
{
    ferry_topic_info t{};
    t.struct_size = sizeof t;
    t.name = name.data();
    t.name_len = name.size();
    t.read_queues = readQueues;
    t.write_queues = writeQueues;
    t.perm = perm;
    t.flags = flags;
    const ferry_status st = host_->topic_declare(host_->base->ctx, &t, 0);
    if (st == FERRY_OK)
        requestRegistration();
    return st;
}

ferry_status RocketPlugin::deleteTopic(const std::string &name)
{
    const ferry_status st = host_->topic_delete(host_->base->ctx, name.data(), name.size());
    if (st == FERRY_OK)
        requestRegistration();
    return st;
}

std::string RocketPlugin::topicConfigJson()
{
    std::vector<std::pair<std::string, ferry_topic_info>> topics;
    host_->topic_list(host_->base->ctx, &collectTopic, &topics);
    QJsonObject table;
    for (const auto &[name, t] : topics) {
        const QString n = QString::fromStdString(name);
        table.insert(n, QJsonObject{{"topicName", n},
                                    {"readQueueNums", static_cast<int>(t.read_queues)},
                                    {"writeQueueNums", static_cast<int>(t.write_queues)},
                                    {"perm", static_cast<int>(t.perm)},
                                    {"topicFilterType", "SINGLE_TAG"},
                                    {"topicSysFlag", 0},
                                    {"order", (t.flags & FERRY_TOPIC_ORDERED) != 0},
                                    {"attributes", QJsonObject{}}});
    }
    const QJsonObject version{{"stateVersion", 0},
                              {"timestamp", static_cast<double>(nowMs())},
                              {"counter", static_cast<double>(dataVersion_.load())}};
    return QJsonDocument(QJsonObject{{"topicConfigTable", table}, {"dataVersion", version}})
        .toJson(QJsonDocument::Compact)
        .toStdString();
}

// ---- groups ---------------------------------------------------------------------------------------------------------

bool RocketPlugin::heartbeatConsumer(const std::string &group, const std::string &clientId, uint64_t connId,
                                     const std::string &messageModel, const std::string &consumeFromWhere,
                                     std::vector<SubscriptionData> subscriptions)
{
    std::lock_guard lock(groupsMutex_);
    ConsumerGroup &g = consumerGroups_[group];
    g.messageModel = messageModel;
    g.consumeFromWhere = consumeFromWhere;
    for (SubscriptionData &s : subscriptions)
        g.subscriptions[s.topic] = std::move(s);
    auto [it, added] = g.members.try_emplace(clientId);
    const bool changed = added || it->second.connId != connId;
    it->second.clientId = clientId;
    it->second.connId = connId;
    it->second.lastHeartbeatMs = monotonicMs();
    return changed;
}

void RocketPlugin::forEachGroupMember(
    const std::function<void(const std::string &, const GroupMember &, const std::string &, const std::string &)> &fn)
{
    std::lock_guard lock(groupsMutex_);
    for (const auto &[name, group] : consumerGroups_) {
        std::string topics;
        for (const auto &[topic, sub] : group.subscriptions)
            topics += (topics.empty() ? "" : " ") + topic;
        for (const auto &[clientId, member] : group.members)
            fn(name, member, group.messageModel, topics);
    }
}

void RocketPlugin::heartbeatProducer(const std::string &group, const std::string &clientId, uint64_t connId)
{
    std::lock_guard lock(groupsMutex_);
    producerGroups_[group][clientId] = ProducerMember{clientId, connId};
}

std::vector<std::string> RocketPlugin::unregisterClient(const std::string &clientId, const std::string &producerGroup,
                                                        const std::string &consumerGroup)
{
    std::vector<std::string> changed;
    std::lock_guard lock(groupsMutex_);
    if (!producerGroup.empty()) {
        auto p = producerGroups_.find(producerGroup);
        if (p != producerGroups_.end())
            p->second.erase(clientId);
    }
    if (!consumerGroup.empty()) {
        auto c = consumerGroups_.find(consumerGroup);
        if (c != consumerGroups_.end() && c->second.members.erase(clientId))
            changed.push_back(consumerGroup);
    }
    return changed;
}

std::vector<std::string> RocketPlugin::connectionClosed(uint64_t connId)
{
    std::vector<std::string> changed;
    std::lock_guard lock(groupsMutex_);
    for (auto &[name, group] : consumerGroups_) {
        const size_t before = group.members.size();
        std::erase_if(group.members, [connId](const auto &m) { return m.second.connId == connId; });
        if (group.members.size() != before)
            changed.push_back(name);
    }
    for (auto &[name, members] : producerGroups_)
        std::erase_if(members, [connId](const auto &m) { return m.second.connId == connId; });
    return changed;
}

std::vector<std::string> RocketPlugin::consumerIds(const std::string &group)
{
    std::vector<std::string> ids;
    std::lock_guard lock(groupsMutex_);
    auto it = consumerGroups_.find(group);
    if (it != consumerGroups_.end())
        for (const auto &[id, m] : it->second.members)
            ids.push_back(id);
    return ids;
}

std::optional<SubscriptionData> RocketPlugin::subscription(const std::string &group, const std::string &topic)
{
    std::lock_guard lock(groupsMutex_);
    auto g = consumerGroups_.find(group);
    if (g == consumerGroups_.end())
        return std::nullopt;
    auto s = g->second.subscriptions.find(topic);
    if (s == g->second.subscriptions.end())
        return std::nullopt;
    return s->second;
}

void RocketPlugin::notifyConsumersChanged(const std::string &group)
{
    std::vector<uint64_t> conns;
    {
        std::lock_guard lock(groupsMutex_);
        auto it = consumerGroups_.find(group);
        if (it == consumerGroups_.end())
            return;
        for (const auto &[id, m] : it->second.members)
            conns.push_back(m.connId);
    }
    for (uint64_t c : conns) {
        RemotingCommand notify;
        notify.code = 40; // NOTIFY_CONSUMER_IDS_CHANGED
        notify.flag = kFlagOneway;
        notify.opaque = nextOpaque();
        notify.version = 401;
        notify.set("consumerGroup", group);
        sendTo(c, encodeFrame(notify));
    }
}

// ---- locks ----------------------------------------------------------------------------------------------------------

std::vector<LockedQueue> RocketPlugin::lockQueues(const std::string &group, const std::string &clientId,
                                                  const std::vector<LockedQueue> &wanted)
{
    std::vector<LockedQueue> granted;
    const uint64_t now = monotonicMs();
    std::lock_guard lock(locksMutex_);
    auto &table = locks_[group];
    for (const LockedQueue &mq : wanted) {
        auto [it, added] = table.try_emplace(mq);
        LockHolder &h = it->second;
        if (added || h.clientId == clientId || now - h.lastMs > kLockLifetimeMs) {
            h.clientId = clientId;
            h.lastMs = now;
            granted.push_back(mq);
        }
    }
    return granted;
}

void RocketPlugin::unlockQueues(const std::string &group, const std::string &clientId,
                                const std::vector<LockedQueue> &queues)
{
    std::lock_guard lock(locksMutex_);
    auto g = locks_.find(group);
    if (g == locks_.end())
        return;
    for (const LockedQueue &mq : queues) {
        auto it = g->second.find(mq);
        if (it != g->second.end() && it->second.clientId == clientId)
            g->second.erase(it);
    }
}

// ---- transactions ---------------------------------------------------------------------------------------------------

uint64_t RocketPlugin::preparedStoreId()
{
    uint64_t id = preparedStoreId_.load();
    if (id != 0)
        return id;
    const std::string store = "$ferry.prepared";
    ferry_queue_info info{};
    info.struct_size = sizeof info;
    if (host_->queue_info(host_->base->ctx, store.data(), store.size(), &info) == FERRY_OK)
        preparedStoreId_.store(id = info.id);
    return id;
}

namespace {
struct PendingHalf {
    uint64_t handle;
    std::string group;
    uint64_t storeTimeMs;
};
int32_t collectHalf(void *ctx, uint64_t handle, const char *, size_t, const char *group, size_t groupLen,
                    uint64_t storeTimeMs)
{
    static_cast<std::vector<PendingHalf> *>(ctx)->push_back({handle, std::string(group, groupLen), storeTimeMs});
    return 0;
}
} // namespace

void RocketPlugin::checkTransactions()
{
    std::vector<PendingHalf> halves;
    host_->prepared_list(host_->base->ctx, &collectHalf, &halves);
    const uint64_t now = nowMs();
    std::vector<PendingHalf> toCheck, toPark;
    {
        std::lock_guard lock(transactionMutex_);
        std::map<uint64_t, uint32_t> kept;
        for (const PendingHalf &h : halves) {
            uint32_t &count = kept[h.handle] = checkCounts_.count(h.handle) ? checkCounts_[h.handle] : 0;
            if (now < h.storeTimeMs + settings_.transactionTimeoutMs)
                continue;
            if (count >= settings_.transactionCheckMax) {
                toPark.push_back(h);
                kept.erase(h.handle);
                continue;
            }
            ++count;
            toCheck.push_back(h);
        }
        checkCounts_.swap(kept); // resolved halves drop out
    }
    for (const PendingHalf &h : toPark) {
        const std::string topic = "TRANS_CHECK_MAX_TIME_TOPIC";
        std::string storage;
        if (!this->topic(topic, &storage))
            declareTopic(topic, 1, 1, FERRY_TOPIC_PERM_READ, FERRY_TOPIC_SYSTEM);
        const std::string queue = topic + FERRY_TOPIC_QUEUE_SEPARATOR + "0";
        host_->prepared_end(nullptr, 0, h.handle, FERRY_PREPARED_COMMIT, queue.data(), queue.size());
        log(FERRY_LOG_WARN, "half message " + std::to_string(h.handle) + " of producer group " + h.group +
                                " unresolved after " + std::to_string(settings_.transactionCheckMax) +
                                " checks; parked in " + topic);
    }
    for (const PendingHalf &h : toCheck) {
        uint64_t conn = 0;
        {
            std::lock_guard lock(groupsMutex_);
            auto g = producerGroups_.find(h.group);
            if (g != producerGroups_.end() && !g->second.empty())
                conn = g->second.begin()->second.connId; // any member can answer for its group
        }
        OutboxPtr box;
        {
            std::lock_guard lock(outboxMutex_);
            auto it = outboxes_.find(conn);
            if (it != outboxes_.end())
                box = it->second;
        }
        if (!box)
            continue; // no producer of the group is connected: try again next round
        {
            std::lock_guard lock(box->mutex);
            box->transactionChecks.push_back(h.handle);
        }
        host_->wake(host_->base->ctx, conn, kWakeCheck);
    }
}

// ---- forwarded requests ----------------------------------------------------------------------------------------------

uint64_t RocketPlugin::memberConnection(const std::string &group, const std::string &clientId)
{
    std::lock_guard lock(groupsMutex_);
    auto g = consumerGroups_.find(group);
    if (g == consumerGroups_.end())
        return 0;
    auto m = g->second.members.find(clientId);
    return m == g->second.members.end() ? 0 : m->second.connId;
}

void RocketPlugin::expectForwardedReply(int32_t opaque, uint64_t replyConnId, int32_t replyOpaque)
{
    std::lock_guard lock(forwardMutex_);
    forwards_[opaque] = {replyConnId, replyOpaque};
    while (forwards_.size() > 10000) // clients that never answer must not grow the table without bound
        forwards_.erase(forwards_.begin());
}

std::optional<std::pair<uint64_t, int32_t>> RocketPlugin::takeForwardedReply(int32_t opaque)
{
    std::lock_guard lock(forwardMutex_);
    auto it = forwards_.find(opaque);
    if (it == forwards_.end())
        return std::nullopt;
    auto value = it->second;
    forwards_.erase(it);
    return value;
}

// ---- outboxes -------------------------------------------------------------------------------------------------------

void RocketPlugin::attachOutbox(uint64_t connId, OutboxPtr outbox)
{
    std::lock_guard lock(outboxMutex_);
    outboxes_[connId] = std::move(outbox);
}

void RocketPlugin::detachOutbox(uint64_t connId)
{
    std::lock_guard lock(outboxMutex_);
    outboxes_.erase(connId);
}

bool RocketPlugin::sendTo(uint64_t connId, std::string frame)
{
    OutboxPtr box;
    {
        std::lock_guard lock(outboxMutex_);
        auto it = outboxes_.find(connId);
        if (it == outboxes_.end())
            return false;
        box = it->second;
    }
    {
        std::lock_guard lock(box->mutex);
        box->frames.push_back(std::move(frame));
    }
    return host_->wake(host_->base->ctx, connId, kWakeOutbox) == FERRY_OK;
}

} // namespace rocket
