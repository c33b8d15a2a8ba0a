#include "net/IoWorker.h"

#include "net/NetLog.h"
#include "net/TcpConnection.h"
#include "net/TlsConfigImpl.h"
#include "platform/ThreadCpuTime.h"
#include "plugin/PluginHost.h"

#include <QSslSocket>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <vector>

namespace ferry::net {

namespace {
thread_local IoWorker *currentWorker = nullptr;
constexpr std::chrono::milliseconds kLoadSample{250};
} // namespace

IoWorker::IoWorker(std::shared_ptr<ServerContext> context, int index) : context_(std::move(context)), index_(index) {}

// Connections are QObject children of their worker: any still alive when the thread ends (closeAll() normally
// finalized them all) are deleted with it, on the worker's thread.
IoWorker::~IoWorker() = default;

IoWorker *IoWorker::current()
{
    return currentWorker;
}

void IoWorker::startOnThread()
{
    currentWorker = this;
    sampleWall_ = std::chrono::steady_clock::now();
    sampleCpu_ = platform::currentThreadCpuTime();
    auto *timer = new QTimer(this);
    QObject::connect(timer, &QTimer::timeout, this, [this] { sampleLoad(); });
    timer->start(kLoadSample);
}

void IoWorker::sampleLoad()
{
    const auto wall = std::chrono::steady_clock::now();
    const auto cpu = platform::currentThreadCpuTime();
    const double elapsed = double(std::chrono::duration_cast<std::chrono::nanoseconds>(wall - sampleWall_).count());
    const double used = double((cpu - sampleCpu_).count());
    busyPermille_.store(elapsed > 0 ? static_cast<uint32_t>(std::clamp(used / elapsed, 0.0, 1.0) * 1000.0) : 1000,
                        std::memory_order_relaxed);
    sampleWall_ = wall;
    sampleCpu_ = cpu;
}

void IoWorker::adopt(qintptr descriptor, std::shared_ptr<const ListenerSpec> listener)
{
    QTcpSocket *socket = nullptr;
    if (listener->tls) {
        auto *ssl = new QSslSocket();
        ssl->setSslConfiguration(listener->tls->configuration);
        socket = ssl;
    } else {
        socket = new QTcpSocket();
    }
    if (!socket->setSocketDescriptor(descriptor)) {
        logger()->warn("{}: cannot adopt an accepted connection: {}", listener->configKey,
                       socket->errorString().toStdString());
        delete socket;
        return;
    }
    if (auto *ssl = qobject_cast<QSslSocket *>(socket)) {
        // A failed handshake closes the connection through errorOccurred, like any socket error.
        QObject::connect(ssl, &QSslSocket::sslErrors, ssl, [ssl, key = listener->configKey](const QList<QSslError> &errors) {
            logger()->info("{}: TLS: {}", key, errors.isEmpty() ? std::string("error") : errors.front().errorString().toStdString());
        });
        ssl->startServerEncryption();
    }
    // Messaging is request/response with small frames: Nagle's algorithm would hold a reply until the peer's
    // delayed ACK (tens of milliseconds). Every broker disables it.
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    if (stopping_) { // accepted just before the listener closed, handed over after shutdown began
        socket->abort();
        delete socket;
        return;
    }
    auto *connection = new TcpConnection(this, context_, std::move(listener), socket);
    connections_.insert(connection);
    connection->open();
}

namespace {
// "host:port" or "[v6]:port" -> (host, port); false when malformed.
bool splitHostPort(const std::string &text, QString *host, quint16 *port)
{
    std::string h, p;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return false;
        h = text.substr(1, close - 1);
        p = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0)
            return false;
        h = text.substr(0, colon);
        p = text.substr(colon + 1);
    }
    bool ok = false;
    const uint value = QString::fromStdString(p).toUInt(&ok);
    if (!ok || value == 0 || value > 65535)
        return false;
    *host = QString::fromStdString(h);
    *port = static_cast<quint16>(value);
    return true;
}

constexpr int kConnectTimeoutMs = 10000;
} // namespace

void IoWorker::connectOut(std::shared_ptr<const ListenerSpec> listener)
{
    const auto fail = [listener](ferry_status status, const std::string &why) {
        logger()->info("{}: connecting to {} failed: {}", listener->configKey, listener->address, why);
        if (const auto onConnect = listener->plugin->protocol.on_connect)
            onConnect(listener->instance, nullptr, listener->connectTag, status, why.c_str(), nullptr);
    };
    if (stopping_)
        return fail(FERRY_E_CLOSED, "the broker is stopping");
    QString host;
    quint16 port = 0;
    if (!splitHostPort(listener->address, &host, &port))
        return fail(FERRY_E_INVALID_ARGUMENT, "invalid address '" + listener->address + "' (expected host:port)");

    auto *socket = new QTcpSocket();
    auto *timer = new QTimer(socket);
    timer->setSingleShot(true);
    // Exactly one of connected / error / timeout settles the attempt; settling disconnects the others.
    auto settle = [this, socket, timer, listener, fail](bool connected, const std::string &why) {
        timer->stop();
        QObject::disconnect(socket, nullptr, this, nullptr);
        QObject::disconnect(timer, nullptr, this, nullptr);
        if (connected && !stopping_) {
            delete timer;
            auto *connection = new TcpConnection(this, context_, listener, socket);
            connections_.insert(connection);
            connection->open();
            return;
        }
        socket->abort();
        socket->deleteLater();
        fail(connected ? FERRY_E_CLOSED : (why.find("refused") != std::string::npos ? FERRY_E_IO : FERRY_E_IO),
             connected ? "the broker is stopping" : why);
    };
    QObject::connect(socket, &QTcpSocket::connected, this, [settle, socket] {
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        settle(true, {});
    });
    QObject::connect(socket, &QTcpSocket::errorOccurred, this, [settle, socket](QAbstractSocket::SocketError) {
        settle(false, socket->errorString().toStdString());
    });
    QObject::connect(timer, &QTimer::timeout, this,
                     [settle] { settle(false, "no answer within " + std::to_string(kConnectTimeoutMs) + " ms"); });
    timer->start(kConnectTimeoutMs);
    socket->connectToHost(host, port);
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

void IoWorker::adoptMigrated(TcpConnection *connection)
{
    connection->setParent(this);
    connections_.insert(connection);
    if (stopping_)
        connection->closeForShutdown();
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
