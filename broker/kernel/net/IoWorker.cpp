#include "net/IoWorker.h"

#include "net/NetLog.h"
#include "net/TcpConnection.h"

#include <QTcpSocket>

#include <vector>

namespace ferry::net {

IoWorker::IoWorker(std::shared_ptr<ServerContext> context, int index) : context_(std::move(context)), index_(index) {}

// Connections are QObject children of their worker: any still alive when the thread ends (closeAll() normally
// finalized them all) are deleted with it, on the worker's thread.
IoWorker::~IoWorker() = default;

void IoWorker::adopt(qintptr descriptor, std::shared_ptr<const ListenerSpec> listener)
{
    auto *socket = new QTcpSocket();
    if (!socket->setSocketDescriptor(descriptor)) {
        logger()->warn("{}: cannot adopt an accepted connection: {}", listener->configKey,
                       socket->errorString().toStdString());
        delete socket;
        return;
    }
    if (stopping_) { // accepted just before the listener closed, handed over after shutdown began
        socket->abort();
        delete socket;
        return;
    }
    auto *connection = new TcpConnection(this, context_, std::move(listener), socket);
    connections_.insert(connection);
    connection->open();
}

void IoWorker::closeAll()
{
    stopping_ = true;
    // Finalizing removes the connection from connections_ (forget), so iterate over a copy.
    const std::vector<TcpConnection *> open(connections_.begin(), connections_.end());
    for (TcpConnection *connection : open)
        connection->closeForShutdown();
}

void IoWorker::forget(TcpConnection *connection)
{
    connections_.erase(connection);
}

Acceptor::Acceptor(std::shared_ptr<const ListenerSpec> listener, Dispatch dispatch, QObject *parent)
    : QTcpServer(parent), listener_(std::move(listener)), dispatch_(std::move(dispatch))
{
}

void Acceptor::incomingConnection(qintptr descriptor)
{
    dispatch_(descriptor, listener_);
}

} // namespace ferry::net
