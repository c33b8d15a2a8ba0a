// NetworkServer: the kernel's listeners, connections and event-loop threads. Protocol plugins never see a socket.
//
// Contract:
//  - A fixed pool of `ioThreads` event-loop threads (QThread + Qt event loop). Each accepted connection lives on one
//    thread at a time (round robin at accept); every plugin hook for it runs on that thread, never concurrently and
//    never re-entrantly from inside a host service call. With `colocate`, a connection that receives nearly all of
//    its posted work from one other pool thread moves there between two hooks (see net/README.md, "Co-location").
//  - The protocol plugin is driven sans-I/O: on_open, on_read(bytes, &consumed) with the unconsumed tail kept and
//    offered again, on_timer, on_close. Deliveries and results from the kernel core reach the plugin through
//    Connection::post(), which hops onto the connection's thread.
//  - Limits (NetworkLimits): a connection whose unconsumed input exceeds maxFrameBytes is closed (FERRY_CLOSE_PROTOCOL);
//    one idle (no bytes received) for idleTimeoutMs is closed (FERRY_CLOSE_IDLE; 0 disables); while unsent output
//    exceeds maxPendingWriteBytes the connection is not read from (back-pressure), and reading resumes when it drains.
#pragma once

#include <ferry/ferry_protocol.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

namespace ferry {

struct LoadedPlugin;
class Connection;
namespace net {
struct TlsConfig;
}

struct NetworkLimits {
    uint32_t ioThreads = 2;
    uint64_t maxFrameBytes = 16u * 1024 * 1024;
    uint64_t maxPendingWriteBytes = 8u * 1024 * 1024;
    uint32_t idleTimeoutMs = 0;
    // How long a closing connection may take to flush its output before it is dropped (peer not reading).
    uint32_t closeFlushTimeoutMs = 5000;
    // network.colocate: move a connection to the pool thread that posts it nearly all of its work (a consumer to its
    // publisher's thread), while that thread has headroom. Saves a cross-thread wake-up per delivery.
    bool colocate = true;
};

struct ListenerSpec {
    std::string address;            // "host:port"; port 0 picks an ephemeral port
    const LoadedPlugin *plugin;     // kind PROTOCOL
    ferry_protocol *instance;       // from the plugin's init()
    uint32_t listenerIndex;         // index into the plugin's listeners
    std::string configKey;          // "<plugin>.<key>", for log lines
    bool outbound = false;          // an outbound connection (host->connect): on_connect instead of on_open
    uint64_t connectTag = 0;        // outbound: the plugin's tag, passed back in on_connect
    // Set: every accepted connection runs TLS with it (net/TlsConfig.h); the protocol sees plaintext.
    std::shared_ptr<const net::TlsConfig> tls = nullptr;
};

// Who is on a connection (host->set_conn_identity), kept by the network layer for the admin API.
struct ConnectionIdentity {
    std::string user, vhost, client;
    uint32_t channels = 0;
};

// One connection as the admin API lists it.
struct ConnectionSnapshot {
    uint64_t id = 0;
    std::string protocol;  // the plugin's name
    std::string listener;  // "<plugin>.<key>" of the listener that accepted it ("" for outbound)
    std::string peer;      // "host:port"
    std::string local;     // "host:port"
    bool outbound = false;
    bool tls = false;
    uint64_t connectedAtMs = 0; // wall clock
    uint64_t bytesIn = 0, bytesOut = 0;
    ConnectionIdentity identity;
};

// One channel of a connection (the protocol's list_channels), for the admin API.
struct ChannelSnapshot {
    uint64_t connectionId = 0;
    ferry_channel_info info{};
};

class NetworkServer {
public:
    NetworkServer(NetworkLimits limits, const ferry_protocol_host *protocolHost);
    ~NetworkServer();

    // Starts the event-loop threads. Call once before listen().
    void start();
    // Opens a listener; false with *error set (e.g. "amqp.listen: 0.0.0.0:5672: address in use").
    bool listen(const ListenerSpec &spec, std::string *error);
    // The bound "host:port" of every listener, in listen() order (ports resolved when 0 was asked).
    std::vector<std::pair<std::string, std::string>> boundAddresses() const; // (configKey, host:port)
    // Stops accepting new connections (shutdown step 1).
    void stopAccepting();
    // Closes every connection (on_close with FERRY_CLOSE_SHUTDOWN), waits for them, stops the threads.
    void stop();

    size_t connectionCount() const;
    // Every open connection (admin API). Any thread.
    std::vector<ConnectionSnapshot> connections() const;
    // An operator's close of connection id (TcpConnection::requestClose). false when there is none. Any thread.
    bool closeConnection(uint64_t id, const std::string &reason);
    // Asks every open connection whose protocol has list_channels, each on its own thread; done(channels) runs once
    // all answered (a connection that closes meanwhile drops out), on the thread of the last one. Any thread.
    void listChannels(std::function<void(std::vector<ChannelSnapshot>)> done);

    // Outbound connection for spec.plugin (spec.outbound is set here): connects to spec.address ("host:port", host
    // names resolved asynchronously) on one of the pool's threads, then calls on_connect there with the new
    // connection, or with the failure (refused, unresolvable, no answer within 10 s, shutting down). Any thread.
    void connect(ListenerSpec spec);
    // Runs on_wake(session, token) on connection connId's thread (after the hook running there, if any). false when
    // no open connection of that plugin has the id. Any thread.
    bool wake(uint64_t connId, const LoadedPlugin *plugin, uint64_t token);
    // Runs on_alarm(session, alarms) on every open connection's thread (resource alarms). Any thread.
    void broadcastAlarm(uint32_t alarms);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// One accepted connection. Lives on its event-loop thread; owned by the NetworkServer. The ferry_conn handle given to
// plugins is this object. Functions marked "any thread" are thread-safe; the rest must run on the connection thread.
class Connection {
public:
    static Connection *fromHandle(ferry_conn *conn) { return reinterpret_cast<Connection *>(conn); }
    ferry_conn *handle() { return reinterpret_cast<ferry_conn *>(this); }

    virtual ~Connection() = default;
    virtual uint64_t id() const = 0;                       // unique per process; any thread
    virtual const LoadedPlugin &plugin() const = 0;        // any thread
    virtual std::string peerAddress() const = 0;           // "host:port"; any thread
    // Runs fn on the connection's thread, after the current hook returns, if the connection is still open when it
    // gets there; otherwise fn is dropped (destroyed unrun). Any thread.
    virtual void post(std::function<void()> fn) = 0;
    // The plugin's session and vtable, for the kernel core to call on_delivery/on_result inside post().
    virtual ferry_session *session() const = 0;
    virtual const ferry_protocol_vtable &protocol() const = 0;
    // Runs on the connection thread right after on_close returned. The kernel core uses it to cancel subscriptions.
    virtual void addCloseHook(std::function<void()> fn) = 0;
    // True while output is backed up beyond maxPendingWriteBytes; the core may hold deliveries. Any thread.
    virtual bool writeBlocked() const = 0;

    // Kernel-core state attached to this connection (subscriptions, queue cache). Owned by the kernel core: set on
    // the connection's thread inside a hook, released by the core's close hook. The network layer never touches it.
    void *coreState = nullptr;
};

} // namespace ferry

namespace ferry {
// Fills the connection members of a ferry_protocol_host (write, close, set_timer, cancel_timer, peer_address) with
// the network layer's implementations. The kernel core fills the queue members.
void fillConnectionServices(ferry_protocol_host *table);
} // namespace ferry
