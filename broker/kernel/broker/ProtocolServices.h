// ProtocolServices: the kernel-core members of the ferry_protocol_host table: queues (declare, publish, subscribe,
// ack, pull, commit offsets, state), topics, and the ABI 1.1 instance services (wake another connection, outbound
// connections, instance timers, listener addresses). The per-connection members (write, close, timers, peer address,
// conn_id) come from the network layer (fillConnectionServices).
//
// Contract (ferry_protocol.h): members taking a ferry_conn are called on that connection's thread from inside one of
// its hooks; they never call a hook themselves; results and deliveries are posted to the connection (ConnectionLink)
// and arrive after the current hook returns. Members taking `void *ctx` (the plugin's ferry_host ctx) may be called
// from any thread. Per-connection state (subscriptions, a queue-name cache so the hot path takes no lock beyond the
// queue's) hangs off Connection::coreState and is released by a close hook.
#pragma once

#include <ferry/ferry_protocol.h>

#include <functional>

namespace ferry {
namespace repl {
class ReplicationService;
}

class NetworkServer;
class QueueRegistry;
class Scheduler;
class DelayedDelivery;
class PreparedStore;
class KeyIndex;
class Router;
class AuthRegistry;
class ResourceAlarms;
class StorageEngine;
class TopicRegistry;
struct LoadedPlugin;

struct KernelServices {
    QueueRegistry *queues = nullptr;
    TopicRegistry *topics = nullptr;
    StorageEngine *storage = nullptr;
    NetworkServer *network = nullptr;
    Scheduler *scheduler = nullptr;
    DelayedDelivery *delayed = nullptr;
    PreparedStore *prepared = nullptr;
    KeyIndex *keys = nullptr;
    Router *router = nullptr;
    AuthRegistry *auth = nullptr;
    ResourceAlarms *alarms = nullptr;
    repl::ReplicationService *replication = nullptr;
};

// Binds the services to the broker's parts (one broker per process) and fills the kernel-core members of table.
void fillKernelServices(ferry_protocol_host *table, const KernelServices &services);
// A protocol plugin about to be initialised: its host ctx is bound to it so instance services can find it.
void registerProtocolPlugin(const LoadedPlugin *plugin);
// After init returned the instance; after its listeners opened (listener_address answers from then on).
void setProtocolInstance(const LoadedPlugin *plugin, ferry_protocol *instance);
void setProtocolListenersOpen(const LoadedPlugin *plugin);
// fn(plugin, instance) for every protocol plugin whose init() returned (the admin API asks them). Any thread; fn runs
// under the services' lock and must not register plugins.
void forEachProtocolInstance(const std::function<void(const LoadedPlugin &, ferry_protocol *)> &fn);
// Unbinds (broker stop): instance timers are dropped; calls made afterwards return FERRY_E_CLOSED.
void clearKernelServices();

} // namespace ferry
