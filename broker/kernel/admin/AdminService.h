// AdminService: the kernel's HTTP + JSON admin API (docs/admin-api.md) and the Prometheus /metrics page, served on
// admin.listen by a built-in protocol on the kernel's NetworkServer (the kernel owns the sockets). HTTP is Boost.Beast's
// (HttpCodec); routes and resources are AdminRoutes; every request is authenticated against the kernel's users.
//
// Threading: sessions run on event-loop threads; handlers read the kernel's registries (thread-safe) and answer on
// any thread (the answer hops back to the connection). start() and stop() on the main thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ferry/ferry_protocol.h>

namespace ferry {
class AuthRegistry;
class KeyIndex;
class NetworkServer;
class PluginHost;
class QueueRegistry;
class Router;
class Scheduler;
class StorageEngine;
class TopicRegistry;
struct BrokerSettings;
namespace repl {
class ReplicationService;
}
} // namespace ferry

namespace ferry::admin {

// What the admin API reads and changes. Everything outlives the service.
struct AdminContext {
    const BrokerSettings *settings = nullptr;
    QueueRegistry *queues = nullptr;
    TopicRegistry *topics = nullptr;
    KeyIndex *keys = nullptr;
    Router *router = nullptr;
    AuthRegistry *auth = nullptr;
    StorageEngine *storage = nullptr;
    NetworkServer *network = nullptr;
    Scheduler *scheduler = nullptr;
    repl::ReplicationService *replication = nullptr;
    const PluginHost *plugins = nullptr;
    uint64_t startTimeMs = 0;
};

class AdminService {
public:
    explicit AdminService(AdminContext context);
    ~AdminService();
    AdminService(const AdminService &) = delete;
    AdminService &operator=(const AdminService &) = delete;

    // Opens admin.listen (nothing when it is empty) and starts the rate sampler.
    bool start(const ferry_protocol_host *host, std::string *error);
    void stop();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace ferry::admin
