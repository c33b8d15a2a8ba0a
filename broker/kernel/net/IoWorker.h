// IoWorker and Acceptor: the per-thread side of the network layer. Internal to broker/kernel/net.
//
// IoWorker: one per event-loop thread, living on it. It adopts accepted socket descriptors (creating the QTcpSocket
// on its own thread, so the connection is pinned there for life), tracks its connections, and closes them all at
// shutdown. Every member runs on the worker's thread.
//
// Acceptor: a QTcpServer for one listener. It lives on the first worker's thread and never creates sockets itself:
// each accepted descriptor goes to the dispatch function, which hands it to a worker (round robin).
#pragma once

#include "net/NetworkServer.h"

#include <QObject>
#include <QTcpServer>

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
    // A connection accepted for `listener`: wrap it and call on_open. After closeAll() it is closed at once.
    void adopt(qintptr descriptor, std::shared_ptr<const ListenerSpec> listener);
    // An outbound connection (listener->outbound): connects the socket, then wraps it and calls on_connect; any
    // failure is reported through on_connect without a connection.
    void connectOut(std::shared_ptr<const ListenerSpec> listener);
    // Closes every connection of this thread (on_close(FERRY_CLOSE_SHUTDOWN)) and refuses later adoptions.
    void closeAll();
    // Called by a connection when it has finalized.
    void forget(TcpConnection *connection);

private:
    const std::shared_ptr<ServerContext> context_;
    const int index_;
    bool stopping_ = false;
    std::unordered_set<TcpConnection *> connections_;
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
