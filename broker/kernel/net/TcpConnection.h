// TcpConnection: the kernel's implementation of ferry::Connection over a QTcpSocket, driving one protocol plugin
// session sans-I/O. Internal to broker/kernel/net; the rest of the kernel sees only ferry::Connection.
//
// Threading: created on an event-loop thread (IoWorker::adopt) and used only on the thread it lives on, except the
// members that ferry::Connection marks "any thread" (id, plugin, peerAddress, post, writeBlocked). With
// NetworkLimits::colocate it may move to another pool thread between two hooks (migrate(), README "Co-location");
// it never runs on two threads at once.
// Lifetime: deletes itself (deleteLater) on its thread after on_close and the close hooks ran; a thread that keeps
// a Connection pointer must drop it in a close hook (see README.md).
//
// States: Opening (inside on_open) -> Open -> Closing (close decided, output flushing) -> Closed (on_close done).
// Every plugin hook runs inside a HookScope; a host service called from inside a hook never calls a hook itself:
// whatever would (closing, resuming input) is deferred through the event loop.
#pragma once

#include "net/NetworkServer.h"

#include <QByteArray>
#include <QObject>
#include <QAbstractSocket>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

class QTcpSocket;
class QThread;
class QTimer;

namespace ferry::net {

class IoWorker;
class TcpConnection;

// State shared by the server and all its connections. Outlives every connection (held by shared_ptr).
struct ServerContext {
    NetworkLimits limits;
    std::atomic<size_t> connectionCount{0};
    // Every connection not yet finalized, by id, for wake(). A connection removes itself (under the mutex) before it
    // can be deleted, so a pointer found under the mutex may be posted to while the mutex is held.
    std::mutex registryMutex;
    std::unordered_map<uint64_t, TcpConnection *> registry;
    // The pool, in index order; set by NetworkServer::start() before any connection exists, fixed afterwards.
    std::vector<IoWorker *> workers;
};

class TcpConnection final : public QObject, public Connection {
public:
    // socket: connected, created on the current thread; ownership passes to the connection. Call open() next.
    TcpConnection(IoWorker *worker, std::shared_ptr<ServerContext> context,
                  std::shared_ptr<const ListenerSpec> listener, QTcpSocket *socket);
    ~TcpConnection() override;

    // Calls on_open; refused (non-OK) connections are closed at once without on_close.
    void open();
    // Shutdown: on_close(FERRY_CLOSE_SHUTDOWN) now (or the reason already decided when it was closing), best-effort
    // flush, socket dropped. Connection thread, never from inside a hook.
    void closeForShutdown();
    // Runs on_wake(session, token) from the event loop, if the plugin has the hook. Any thread (holds no lock).
    void wake(uint64_t token);
    // Runs on_alarm(session, alarms) from the event loop, if the plugin has the hook. Any thread (holds no lock).
    void alarm(uint32_t alarms);
    bool outbound() const { return listener_->outbound; }
    // What the admin API lists. Any thread, under context->registryMutex (the connection outlives the call).
    ConnectionSnapshot snapshot() const;
    // An operator's close (admin API): on_close_request when the plugin has it, else (or when still open 5 s later)
    // closed with FERRY_CLOSE_ADMIN. Any thread (posts).
    void requestClose(const std::string &reason);

    // ---- ferry::Connection ----
    uint64_t id() const override { return id_; }
    const LoadedPlugin &plugin() const override { return *listener_->plugin; }
    std::string peerAddress() const override { return peer_; }
    void post(std::function<void()> fn) override;
    ferry_session *session() const override { return session_; }
    const ferry_protocol_vtable &protocol() const override;
    void addCloseHook(std::function<void()> fn) override;
    bool writeBlocked() const override { return writeBlocked_.load(std::memory_order_acquire); }

    // ---- host services (ConnectionServices.cpp); connection thread, from inside a hook ----
    bool onOwnThread() const;
    ferry_status serviceWrite(const uint8_t *data, size_t len);
    void serviceClose(const char *reason);
    ferry_status serviceSetTimer(uint64_t timerId, uint32_t delayMs);
    ferry_status serviceSetReadPaused(bool paused);
    ferry_status serviceCancelTimer(uint64_t timerId);
    ferry_status servicePeerAddress(char *buf, size_t cap) const;
    ferry_status serviceSetIdentity(const ferry_conn_identity &identity);

private:
    enum class State { Opening, Open, Closing, Closed };

    // Marks "a plugin hook (or a posted function) is running" for the re-entrancy rule.
    class HookScope {
    public:
        explicit HookScope(TcpConnection &c) : c_(c), previous_(c.inHook_), outer_(inHookOnThisThread)
        {
            c_.inHook_ = true;
            inHookOnThisThread = &c;
        }
        ~HookScope()
        {
            c_.inHook_ = previous_;
            inHookOnThisThread = outer_;
        }
        HookScope(const HookScope &) = delete;
        HookScope &operator=(const HookScope &) = delete;

    private:
        TcpConnection &c_;
        bool previous_;
        TcpConnection *outer_;
    };
    // The connection whose hook runs on the calling thread (nullptr outside hooks): who posts, for co-location.
    static thread_local TcpConnection *inHookOnThisThread;

    bool accepting() const { return state_ == State::Opening || state_ == State::Open; }
    std::string describe() const; // "<plugin> connection <id> from <peer>", for log lines

    // Input path.
    void onReadyRead();
    void processInput();         // drains the socket into input_ and offers it, honouring limits and back-pressure
    void offerInput();           // calls on_read over input_ while it consumes and nothing stops it
    void queueProcessInput();    // processInput() from the event loop

    // Output / back-pressure.
    void onBytesWritten();
    void updateWriteBlocked();

    // Timers.
    void onPluginTimer(uint64_t timerId);
    void dropPluginTimers();
    void restartIdleTimer();
    void onIdleTimeout();

    // Closing.
    void beginClose(int32_t reason); // Open/Opening -> Closing; the rest happens from the event loop
    void finishClose();              // flush then disconnect, or finalize at once
    void onDisconnected();
    void onSocketError(QAbstractSocket::SocketError error);
    void finalize();                 // on_close (when a session exists), close hooks, socket dropped, deleteLater

    void runPosted(const std::function<void()> &fn);

    // Co-location (connection thread). notePostedFrom counts which pool thread (and which connection's hook) posted
    // each piece of work; at the end of a window, when one other thread posted >= 90% of it, that thread is under
    // half busy and the back-off has passed, mayMoveTo() settles it with the feeding connection (under the registry
    // mutex, so two connections feeding each other never swap threads) and migrate() is queued. migrate() moves this
    // object (socket, timers, queued events) to that thread.
    void notePostedFrom(IoWorker *from, uint64_t fromConnection);
    bool mayMoveTo(IoWorker *target, uint64_t feeder);
    void migrate(IoWorker *target);

    IoWorker *worker_; // the worker whose thread this lives on; changes only in migrate()
    const std::shared_ptr<ServerContext> context_;
    const std::shared_ptr<const ListenerSpec> listener_;
    QTcpSocket *const socket_; // child of this
    const uint64_t id_;
    std::atomic<QThread *> thread_; // worker_'s thread; read by onOwnThread() from any thread
    std::string peer_; // set in the constructor, read-only afterwards
    std::string local_; // likewise
    uint64_t connectedAtMs_ = 0; // likewise
    // For the admin API: counted on the connection thread, read from any.
    std::atomic<uint64_t> bytesIn_{0}, bytesOut_{0};
    mutable std::mutex identityMutex_; // guards identity_ (set on the connection thread, read by snapshot())
    ConnectionIdentity identity_;

    State state_ = State::Opening;
    bool inHook_ = false;
    bool sessionOpen_ = false;
    ferry_session *session_ = nullptr;
    int32_t closeReason_ = 0;
    std::atomic<bool> acceptPosts_{true};
    std::atomic<bool> writeBlocked_{false};
    bool readPaused_ = false; // host->set_read_paused; connection thread
    // Not reading from the socket nor offering input: output back-pressure or the plugin's pause.
    bool readStopped() const { return writeBlocked() || readPaused_; }

    QByteArray input_;         // bytes received and not yet consumed by the plugin
    size_t stalledInputSize_ = 0; // input_.size() when on_read last consumed nothing of it (0: not stalled)
    bool processQueued_ = false;

    std::unordered_map<uint64_t, QTimer *> pluginTimers_; // children of this; removed when fired or cancelled
    QTimer *idleTimer_ = nullptr;
    QTimer *closeFlushTimer_ = nullptr;
    std::vector<std::function<void()>> closeHooks_;

    // Co-location state (connection thread).
    std::vector<uint32_t> postsFrom_; // this window's posts per worker index (sized on first use)
    uint32_t windowPosts_ = 0;
    uint32_t windowLength_ = 0; // varies per window, so two connections feeding each other do not decide in step
    uint32_t moves_ = 0;
    uint64_t jitter_ = 0;
    std::chrono::steady_clock::time_point nextMoveAllowed_{};
    uint64_t feederCandidate_ = 0; // Boyer-Moore majority vote over this window's posting connections
    uint32_t feederVotes_ = 0;
    // Read by other connections' mayMoveTo() under context_->registryMutex.
    std::atomic<uint64_t> feeder_{0};            // the connection that posted most of the last window's work
    std::atomic<IoWorker *> movingTo_{nullptr};  // set from the decision until migrate() has run
};

} // namespace ferry::net
