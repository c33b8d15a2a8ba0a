// IoWorker and Acceptor: the per-thread side of the network layer. Internal to broker/kernel/net.
//
// IoWorker: one per event-loop thread, living on it. It adopts accepted socket descriptors (creating the QTcpSocket
// on its own thread), tracks the connections that live on its thread (including ones that moved here, see
// TcpConnection::migrate), measures how busy its thread is, and closes its connections at shutdown. Every member
// runs on the worker's thread except current(), busyPermille() and thread().
//
// Acceptor: a QTcpServer for one listener. It lives on the first worker's thread and never creates sockets itself:
// each accepted descriptor goes to the dispatch function, which hands it to a worker (round robin).
#pragma once

#include "net/NetworkServer.h"

#include <QObject>
#include <QTcpServer>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <unordered_set>

namespace ferry::net {

struct ServerContext;
class TcpConnection;

class IoWorker final : public QObject {
public:
    IoWorker(std::shared_ptr<ServerContext> context, int index);
    ~IoWorker() override;

    int index() const { return index_; }
    // The worker whose thread is calling, or nullptr on any other thread (storage, scheduler, main). Any thread.
    static IoWorker *current();
    // Once, on the worker's thread, before anything else runs there: makes current() answer and starts measuring.
    void startOnThread();
    // Share of the last quarter second this thread spent on the CPU, 0..1000 (refreshed every quarter second). Any thread.
    uint32_t busyPermille() const { return busyPermille_.load(std::memory_order_relaxed); }
    // A connection accepted for `listener`: wrap it and call on_open. After closeAll() it is closed at once.
    void adopt(qintptr descriptor, std::shared_ptr<const ListenerSpec> listener);
    // An outbound connection (listener->outbound): connects the socket, then wraps it and calls on_connect; any
    // failure is reported through on_connect without a connection.
    void connectOut(std::shared_ptr<const ListenerSpec> listener);
    // Closes every connection of this thread (on_close(FERRY_CLOSE_SHUTDOWN)) and refuses later adoptions.
    void closeAll();
    // Called by a connection when it has finalized, or when it leaves for another worker's thread.
    void forget(TcpConnection *connection);
    // A connection that has moved to this thread (TcpConnection::migrate), or stayed when Qt refused the move. After
    // closeAll() it is closed at once.
    void adoptMigrated(TcpConnection *connection);
    bool stopping() const { return stopping_; }

private:
    void sampleLoad();

    const std::shared_ptr<ServerContext> context_;
    const int index_;
    bool stopping_ = false;
    std::unordered_set<TcpConnection *> connections_;

    // Load measurement (worker thread): the thread's CPU time against the wall clock, sampled by a timer.
    std::chrono::steady_clock::time_point sampleWall_{};
    std::chrono::nanoseconds sampleCpu_{};
    std::atomic<uint32_t> busyPermille_{0}; // a thread that has not been sampled yet has only just started
};

class Acceptor final : public QTcpServer {
public:
    using Dispatch = std::function<void(qintptr descriptor, const std::shared_ptr<const ListenerSpec> &listener)>;

    Acceptor(std::shared_ptr<const ListenerSpec> listener, Dispatch dispatch, QObject *parent);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    const std::shared_ptr<const ListenerSpec> listener_;
    const Dispatch dispatch_;
};

} // namespace ferry::net
