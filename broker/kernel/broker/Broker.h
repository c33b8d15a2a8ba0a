// Broker: wires the kernel together. Owns the storage engine, the queue registry, the network server and the
// protocol host services table; starts and stops them in order.
//
// Start: open storage (storage.plugin) -> restore metadata and queues -> init every protocol plugin -> open each
// listener whose `<plugin>.<key>` is not empty. Stop: stop accepting -> close connections -> sync storage -> close.
// Threading: construct, start and stop on the main thread (the one running the Qt event loop).
#pragma once

#include "broker/BrokerSettings.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ferry {

class PluginHost;
class QueueRegistry;
class StorageEngine;

class Broker {
public:
    Broker(BrokerSettings settings, PluginHost &plugins);
    ~Broker();

    // false with *error naming what failed (config key, plugin, address).
    bool start(std::string *error);
    // Idempotent. Stop accepting, close every connection, flush storage, close it.
    void stop();

    // (config key, bound host:port) for every open listener, e.g. ("amqp.listen", "127.0.0.1:5672").
    std::vector<std::pair<std::string, std::string>> boundAddresses() const;

    // Called (any thread) when the broker cannot go on safely (a diverged replica): the app stops it. Before start().
    void setFatalHandler(std::function<void(const std::string &why)> fn);
    // Called once (any thread) when the broker must restart to take a new role (a promoted slave; its new settings
    // are in the replication override file): the app stops it and starts it again. Before start().
    void setRestartHandler(std::function<void(const std::string &why)> fn);

    QueueRegistry &queues();
    StorageEngine &storage();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace ferry
