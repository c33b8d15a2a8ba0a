#include "broker/Broker.h"

#include "auth/AuthRegistry.h"
#include "broker/ProtocolServices.h"
#include "broker/MemoryReclaimer.h"
#include "broker/ResourceAlarms.h"
#include "net/NetworkServer.h"
#include "plugin/PluginHost.h"
#include "queue/QueueRegistry.h"
#include "queue/TopicRegistry.h"
#include "route/Router.h"
#include "sched/DelayedDelivery.h"
#include "sched/Scheduler.h"
#include "storage/StorageEngine.h"
#include "txn/PreparedStore.h"
#include "index/KeyIndex.h"
#include "admin/AdminService.h"
#include "repl/ReplicationJournal.h"
#include "repl/ReplicationOverride.h"
#include "repl/ReplicationService.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace ferry {

namespace {
std::shared_ptr<spdlog::logger> log()
{
    auto l = spdlog::get("kernel");
    return l ? l : spdlog::default_logger();
}

std::string configValue(const LoadedPlugin &plugin, const char *key)
{
    char buf[1024];
    size_t len = 0;
    if (plugin.host->config_get(plugin.host->ctx, key, buf, sizeof buf, &len) != FERRY_OK)
        return {};
    return std::string(buf, len);
}
} // namespace

struct Broker::Impl {
    BrokerSettings settings;
    PluginHost &plugins;
    const uint64_t startTimeMs;
    std::unique_ptr<StorageEngine> storage;
    std::unique_ptr<Scheduler> scheduler;
    std::unique_ptr<QueueRegistry> queues;
    std::unique_ptr<TopicRegistry> topics;
    std::unique_ptr<AuthRegistry> auth;
    std::unique_ptr<Router> router;
    std::unique_ptr<DelayedDelivery> delayed;
    std::unique_ptr<PreparedStore> prepared;
    std::unique_ptr<KeyIndex> keys;
    ferry_protocol_host protocolHost{};
    std::unique_ptr<NetworkServer> network;
    std::unique_ptr<ResourceAlarms> alarms;
    std::unique_ptr<MemoryReclaimer> reclaimer;
    std::unique_ptr<repl::ReplicationService> replication;
    std::unique_ptr<admin::AdminService> admin;
    std::function<void(const std::string &)> fatal;
    std::function<void(const std::string &)> restart;
    std::vector<std::pair<const LoadedPlugin *, ferry_protocol *>> protocols;
    bool started = false;

    Impl(BrokerSettings s, PluginHost &p)
        : settings(std::move(s)), plugins(p),
          startTimeMs(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count()))
    {
    }
};

Broker::Broker(BrokerSettings settings, PluginHost &plugins) : impl_(std::make_unique<Impl>(std::move(settings), plugins))
{
}

Broker::~Broker() { stop(); }

QueueRegistry &Broker::queues() { return *impl_->queues; }
StorageEngine &Broker::storage() { return *impl_->storage; }

bool Broker::start(std::string *error)
{
    Impl &d = *impl_;
    // 1. Storage.
    const LoadedPlugin *storagePlugin = d.plugins.find(d.settings.storagePlugin);
    if (storagePlugin == nullptr || storagePlugin->kind != FERRY_PLUGIN_KIND_STORAGE) {
        std::string loaded;
        for (const auto &p : d.plugins.plugins())
            if (p->kind == FERRY_PLUGIN_KIND_STORAGE)
                loaded += (loaded.empty() ? "" : ", ") + p->name;
        *error = "storage.plugin: no storage plugin named '" + d.settings.storagePlugin + "' is loaded (loaded: " +
                 (loaded.empty() ? std::string("none") : loaded) + ")";
        return false;
    }
    d.storage = std::make_unique<StorageEngine>(*storagePlugin, d.settings);
    d.scheduler = std::make_unique<Scheduler>();
    d.settings.replication.overrideFile = repl::replicationOverridePath(d.settings.dataDir);
    d.replication = std::make_unique<repl::ReplicationService>(d.settings.replication, *d.storage, *d.scheduler);
    d.storage->setJournal(d.replication->journal());
    d.storage->setReadOnly(d.replication->readOnly());
    if (d.fatal)
        d.replication->setFatalHandler(d.fatal);
    if (d.restart)
        d.replication->setRestartHandler(d.restart);
    if (!d.storage->open(error))
        return false;

    // 2. Queues and metadata.
    d.queues = std::make_unique<QueueRegistry>(*d.storage, *d.scheduler, d.startTimeMs);
    if (!d.queues->restore(error)) {
        *error = "restoring queues from storage failed: " + *error;
        return false;
    }
    d.topics = std::make_unique<TopicRegistry>(*d.storage, *d.queues);
    if (!d.topics->restore(error)) {
        *error = "restoring topics from storage failed: " + *error;
        return false;
    }
    d.auth = std::make_unique<AuthRegistry>(*d.storage);
    if (!d.auth->restore(d.settings.auth, error)) {
        *error = "restoring users and vhosts from storage failed: " + *error;
        return false;
    }
    // Changing replication admin requests (promote, follow) need a user tagged administrator, as RabbitMQ's
    // management does; auth.loopback_users applies (guest only from this host).
    d.replication->setAdminAuthenticator([auth = d.auth.get()](const std::string &user, const std::string &password,
                                                               const std::string &peerHost, std::string *why) {
        if (auth->authenticate(user, password, peerHost, why) != FERRY_OK)
            return false;
        if (!auth->hasTag(user, "administrator")) {
            *why = "user '" + user + "' is not tagged administrator";
            return false;
        }
        return true;
    });
    d.router = std::make_unique<Router>(*d.storage, *d.queues, *d.topics);
    if (!d.router->restore(error)) {
        *error = "restoring exchanges and bindings from storage failed: " + *error;
        return false;
    }
    for (const std::string &vhost : d.auth->vhosts())
        d.router->ensureVhost(vhost);
    d.queues->setEvents(d.router.get());
    d.queues->setOnRemoved([router = d.router.get()](const std::string &name) { router->queueRemoved(name); });
    d.delayed = std::make_unique<DelayedDelivery>(*d.queues, *d.storage, *d.scheduler);
    d.delayed->setRouter(d.router.get());
    d.router->setDelayedDelivery(d.delayed.get());
    if (!d.delayed->restore(error)) {
        *error = "restoring the delay store failed: " + *error;
        return false;
    }
    // A slave delivers no delayed message: the master's delivery is replicated (a promoted slave restarts, and
    // its delay store is then live).
    if (d.replication->readOnly())
        d.delayed->stop();
    d.keys = std::make_unique<KeyIndex>(*d.queues, *d.storage, d.settings.retentionMs);
    if (!d.keys->restore(error)) {
        *error = "restoring the key index failed: " + *error;
        return false;
    }
    d.prepared = std::make_unique<PreparedStore>(*d.queues, *d.storage);
    if (!d.prepared->restore(error)) {
        *error = "restoring prepared messages failed: " + *error;
        return false;
    }

    // 3. Protocol host services and the network.
    d.protocolHost.struct_size = sizeof d.protocolHost;
    fillConnectionServices(&d.protocolHost);
    d.network = std::make_unique<NetworkServer>(d.settings.network, &d.protocolHost);
    d.network->start();
    d.alarms = std::make_unique<ResourceAlarms>(d.settings.dataDir, d.settings.diskFreeLimit, *d.scheduler,
                                                *d.network);
    d.alarms->start();
    d.reclaimer = std::make_unique<MemoryReclaimer>(*d.scheduler);
    d.reclaimer->start();
    fillKernelServices(&d.protocolHost,
                       KernelServices{d.queues.get(), d.topics.get(), d.storage.get(), d.network.get(), d.scheduler.get(),
                                      d.delayed.get(), d.prepared.get(), d.keys.get(), d.router.get(),
                                      d.auth.get(), d.alarms.get(), d.replication.get()});
    d.started = true;

    // 3b. Replication: a slave keeps the kernel's read model in step with what it applies.
    if (d.replication->readOnly()) {
        d.replication->setReplicaObserver([queues = d.queues.get(), topics = d.topics.get()](
                                              StorageSession &s, const repl::AppliedChanges &changes) {
            if (changes.queuesChanged)
                queues->replicaRefresh(s);
            if (changes.topicsChanged)
                topics->replicaRefresh(s);
            for (const auto &[id, next] : changes.queueEnds)
                if (QueuePtr q = queues->findById(id))
                    q->replicaAdvance(next);
        });
    }
    if (!d.replication->start(*d.network, &d.protocolHost, error))
        return false;
    // 3c. The admin API.
    admin::AdminContext adminContext;
    adminContext.settings = &d.settings;
    adminContext.queues = d.queues.get();
    adminContext.topics = d.topics.get();
    adminContext.keys = d.keys.get();
    adminContext.router = d.router.get();
    adminContext.auth = d.auth.get();
    adminContext.storage = d.storage.get();
    adminContext.network = d.network.get();
    adminContext.scheduler = d.scheduler.get();
    adminContext.replication = d.replication.get();
    adminContext.plugins = &d.plugins;
    adminContext.startTimeMs = d.startTimeMs;
    d.admin = std::make_unique<admin::AdminService>(adminContext);
    if (!d.admin->start(&d.protocolHost, error))
        return false;

    // 4. Protocol plugins and their listeners.
    for (const auto &plugin : d.plugins.plugins()) {
        if (plugin->kind != FERRY_PLUGIN_KIND_PROTOCOL)
            continue;
        ferry_protocol *instance = nullptr;
        char err[512] = {};
        // Each plugin gets the same services; `base` carries its own logging/config context, so the table is
        // copied per plugin. It lives for the process, as the ABI promises (plugins are never unloaded).
        auto *table = new ferry_protocol_host(d.protocolHost);
        table->base = plugin->host;
        registerProtocolPlugin(plugin.get());
        const ferry_status st = plugin->protocol.init(table, &instance, err, sizeof err);
        if (st != FERRY_OK) {
            *error = "protocol plugin '" + plugin->name + "' failed to initialise: " + err + " (status " +
                     std::to_string(st) + ")";
            return false;
        }
        d.protocols.emplace_back(plugin.get(), instance);
        setProtocolInstance(plugin.get(), instance);
        for (size_t i = 0; i < plugin->listeners.size(); ++i) {
            const ferry_listener_spec &spec = plugin->listeners[i];
            const std::string key = plugin->name + "." + spec.config_key;
            const std::string address = configValue(*plugin, spec.config_key);
            if (address.empty()) {
                log()->info("{} is empty: listener off", key);
                continue;
            }
            ListenerSpec ls{address, plugin.get(), instance, static_cast<uint32_t>(i), key};
            if (!d.network->listen(ls, error))
                return false;
        }
    }
    for (const auto &[plugin, instance] : d.protocols)
        setProtocolListenersOpen(plugin);
    for (const auto &[key, address] : d.network->boundAddresses())
        log()->info("listening {} {}", key, address);
    return true;
}

void Broker::stop()
{
    Impl &d = *impl_;
    if (!d.started && !d.storage)
        return;
    if (d.replication)
        d.replication->stop();
    if (d.admin)
        d.admin->stop();
    if (d.network) {
        d.network->stopAccepting();
        d.network->stop();
    }
    // No timer may fire into a plugin once it was shut down: the scheduler thread is joined first.
    if (d.delayed)
        d.delayed->stop();
    if (d.scheduler)
        d.scheduler->stop();
    for (auto &[plugin, instance] : d.protocols)
        if (plugin->protocol.shutdown)
            plugin->protocol.shutdown(instance);
    d.protocols.clear();
    clearKernelServices();
    if (d.queues && d.storage && !(d.replication && d.replication->readOnly()))
        d.queues->saveDeliveryMarks();
    if (d.storage)
        d.storage->close();
    d.network.reset();
    d.admin.reset(); // after the network: no session is left
    d.alarms.reset(); // after the scheduler stopped: no check is left to run
    d.reclaimer.reset();
    d.started = false;
    if (d.queues) {
        d.queues->setAppendObserver(nullptr);
        d.queues->setEvents(nullptr);
        d.queues->setOnRemoved({});
    }
    d.keys.reset();
    d.prepared.reset();
    d.delayed.reset();
    d.router.reset();
    d.auth.reset();
    d.topics.reset();
    d.storage.reset();
    d.replication.reset();
}

void Broker::setFatalHandler(std::function<void(const std::string &)> fn) { impl_->fatal = std::move(fn); }

void Broker::setRestartHandler(std::function<void(const std::string &)> fn) { impl_->restart = std::move(fn); }

std::vector<std::pair<std::string, std::string>> Broker::boundAddresses() const
{
    return impl_->network ? impl_->network->boundAddresses() : std::vector<std::pair<std::string, std::string>>{};
}

} // namespace ferry
