// NetworkServer: the event-loop thread pool, the listeners and the shutdown sequence. See README.md.
//
// Control-thread contract: start(), listen(), stopAccepting(), stop() and the destructor are called from one thread
// that is not one of the pool's threads (they block on the pool). boundAddresses() and connectionCount() may be called
// from any thread.
#include "net/NetworkServer.h"

#include "net/IoWorker.h"
#include "net/NetLog.h"
#include "net/TcpConnection.h"
#include "plugin/PluginHost.h"

#include <QHostAddress>
#include <QHostInfo>
#include <QMetaObject>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <mutex>
#include <tuple>

namespace ferry {

namespace {

struct ParsedAddress {
    QHostAddress host;
    quint16 port = 0;
};

std::string trimmed(const std::string &text)
{
    const auto notSpace = [](unsigned char c) { return std::isspace(c) == 0; };
    const auto first = std::find_if(text.begin(), text.end(), notSpace);
    const auto last = std::find_if(text.rbegin(), text.rend(), notSpace).base();
    return first < last ? std::string(first, last) : std::string();
}

// Parses "host:port": IPv4 ("127.0.0.1:5672"), IPv6 in brackets ("[::1]:5672"), a hostname ("localhost:5672",
// resolved now), or "*:port" / ":port" for every interface (IPv4 and IPv6). Port 0 asks for an ephemeral port.
bool parseListenAddress(const std::string &spec, ParsedAddress *out, std::string *why)
{
    const std::string text = trimmed(spec);
    if (text.empty()) {
        *why = "empty address (expected host:port)";
        return false;
    }
    std::string host;
    std::string port;
    bool bracketed = false;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            *why = "expected [IPv6 address]:port";
            return false;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        bracketed = true;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos) {
            *why = "expected host:port";
            return false;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string::npos) {
            *why = "an IPv6 address must be written in brackets, e.g. [::1]:5672";
            return false;
        }
    }

    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c) != 0; }) ||
        std::stoul(port) > 65535) {
        *why = "invalid port '" + port + "' (expected 0..65535)";
        return false;
    }
    out->port = static_cast<quint16>(std::stoul(port));

    if (bracketed) {
        if (!out->host.setAddress(QString::fromStdString(host)) ||
            out->host.protocol() != QAbstractSocket::IPv6Protocol) {
            *why = "invalid IPv6 address '" + host + "'";
            return false;
        }
        return true;
    }
    if (host.empty() || host == "*") {
        out->host = QHostAddress(QHostAddress::Any);
        return true;
    }
    if (host == "localhost") {
        out->host = QHostAddress(QHostAddress::LocalHost);
        return true;
    }
    if (out->host.setAddress(QString::fromStdString(host)))
        return true;
    const QHostInfo info = QHostInfo::fromName(QString::fromStdString(host)); // blocking; start-up only
    if (info.error() != QHostInfo::NoError || info.addresses().isEmpty()) {
        *why = "cannot resolve host '" + host + "'" +
               (info.errorString().isEmpty() ? std::string() : ": " + info.errorString().toStdString());
        return false;
    }
    out->host = info.addresses().front();
    return true;
}

std::string describeListenError(QAbstractSocket::SocketError error, const QString &qtText)
{
    switch (error) {
    case QAbstractSocket::AddressInUseError: return "address in use";
    case QAbstractSocket::SocketAccessError: return "permission denied";
    case QAbstractSocket::SocketAddressNotAvailableError: return "address not available on this host";
    case QAbstractSocket::UnsupportedSocketOperationError: return "address family not supported";
    default: return qtText.toStdString();
    }
}

} // namespace

struct NetworkServer::Impl {
    Impl(NetworkLimits limits, const ferry_protocol_host *host)
        : protocolHost(host), context(std::make_shared<net::ServerContext>())
    {
        context->limits = limits;
    }

    // Runs fn on the acceptor thread (the first worker's) and waits for it.
    template <typename Fn>
    void onAcceptorThread(Fn &&fn)
    {
        QMetaObject::invokeMethod(workers.front(), std::forward<Fn>(fn), Qt::BlockingQueuedConnection);
    }

    // Acceptor thread: hands an accepted descriptor to the next worker, round robin. The QTcpSocket is created there.
    void dispatch(qintptr descriptor, const std::shared_ptr<const ListenerSpec> &listener)
    {
        const size_t index = nextWorker.fetch_add(1, std::memory_order_relaxed) % workers.size();
        net::IoWorker *worker = workers[index];
        QMetaObject::invokeMethod(
            worker, [worker, descriptor, listener] { worker->adopt(descriptor, listener); }, Qt::QueuedConnection);
    }

    const ferry_protocol_host *protocolHost; // kept for the kernel core; connections do not need it
    std::shared_ptr<net::ServerContext> context;
    std::vector<QThread *> threads;
    std::vector<net::IoWorker *> workers; // fixed between start() and stop()
    std::atomic<size_t> nextWorker{0};
    std::vector<net::Acceptor *> acceptors; // touched on the acceptor thread only
    bool started = false;
    bool accepting = false;
    bool stopped = false;

    // Guards posting outbound connects to the workers against stop() tearing them down.
    std::mutex connectMutex;
    bool connectsRefused = false;

    mutable std::mutex boundMutex;
    std::vector<std::pair<std::string, std::string>> bound;
};

NetworkServer::NetworkServer(NetworkLimits limits, const ferry_protocol_host *protocolHost)
    : impl_(std::make_unique<Impl>(limits, protocolHost))
{
}

NetworkServer::~NetworkServer()
{
    stop();
}

void NetworkServer::start()
{
    if (impl_->started)
        return;
    impl_->started = true;
    impl_->accepting = true;
    const uint32_t count = std::max<uint32_t>(1, impl_->context->limits.ioThreads);
    for (uint32_t i = 0; i < count; ++i) {
        auto *thread = new QThread();
        thread->setObjectName(QStringLiteral("ferry-io-%1").arg(i));
        auto *worker = new net::IoWorker(impl_->context, static_cast<int>(i));
        worker->moveToThread(thread);
        // QThread deletes deferred objects on its own thread as it finishes: the worker and any connection left.
        QObject::connect(thread, &QThread::finished, worker, &QObject::deleteLater);
        thread->start();
        QMetaObject::invokeMethod(worker, [worker] { worker->startOnThread(); }, Qt::QueuedConnection);
        impl_->threads.push_back(thread);
        impl_->workers.push_back(worker);
    }
    // Read by connections choosing a thread to move to (TcpConnection::migrate); fixed until every connection is
    // gone. The first accepted connection happens after this assignment (listen() comes after start()).
    impl_->context->workers = impl_->workers;
    net::logger()->debug("network: {} event-loop threads started", count);
}

bool NetworkServer::listen(const ListenerSpec &spec, std::string *error)
{
    const auto fail = [&](const std::string &why) {
        if (error != nullptr)
            *error = spec.configKey + ": " + spec.address + ": " + why;
        return false;
    };
    if (!impl_->started || impl_->stopped || !impl_->accepting)
        return fail("the network server is not accepting connections (not started, or stopping)");
    if (spec.plugin == nullptr || spec.plugin->kind != FERRY_PLUGIN_KIND_PROTOCOL)
        return fail("not a protocol plugin");
    const ferry_protocol_vtable &vtable = spec.plugin->protocol;
    if (vtable.on_open == nullptr || vtable.on_read == nullptr || vtable.on_close == nullptr)
        return fail("plugin '" + spec.plugin->name + "' lacks on_open, on_read or on_close");

    ParsedAddress address;
    std::string why;
    if (!parseListenAddress(spec.address, &address, &why))
        return fail(why);

    auto listener = std::make_shared<const ListenerSpec>(spec);
    Impl *impl = impl_.get();
    bool listening = false;
    std::string boundText;
    impl->onAcceptorThread([&] {
        auto *acceptor = new net::Acceptor(
            listener,
            [impl](qintptr descriptor, const std::shared_ptr<const ListenerSpec> &l) { impl->dispatch(descriptor, l); },
            impl->workers.front());
        if (!acceptor->listen(address.host, address.port)) {
            why = describeListenError(acceptor->serverError(), acceptor->errorString());
            delete acceptor;
            return;
        }
        boundText = net::formatHostPort(acceptor->serverAddress(), acceptor->serverPort(), false);
        impl->acceptors.push_back(acceptor);
        listening = true;
    });
    if (!listening)
        return fail(why);
    {
        std::lock_guard<std::mutex> lock(impl_->boundMutex);
        impl_->bound.emplace_back(spec.configKey, boundText);
    }
    net::logger()->info("{}: listening on {}", spec.configKey, boundText);
    return true;
}

std::vector<std::pair<std::string, std::string>> NetworkServer::boundAddresses() const
{
    std::lock_guard<std::mutex> lock(impl_->boundMutex);
    return impl_->bound;
}

void NetworkServer::stopAccepting()
{
    if (!impl_->started || !impl_->accepting)
        return;
    impl_->accepting = false;
    Impl *impl = impl_.get();
    impl->onAcceptorThread([impl] {
        for (net::Acceptor *acceptor : impl->acceptors) {
            acceptor->close();
            delete acceptor;
        }
        impl->acceptors.clear();
    });
    std::lock_guard<std::mutex> lock(impl_->boundMutex);
    impl_->bound.clear();
}

void NetworkServer::stop()
{
    if (!impl_->started || impl_->stopped)
        return;
    stopAccepting();
    {
        std::lock_guard lock(impl_->connectMutex);
        impl_->connectsRefused = true;
    }
    impl_->stopped = true;
    // Descriptors accepted before stopAccepting() returned were queued to their workers before the calls below, so
    // each worker adopts them first and closes them with the rest (event order on one thread is FIFO).
    for (net::IoWorker *worker : impl_->workers)
        QMetaObject::invokeMethod(worker, [worker] { worker->closeAll(); }, Qt::BlockingQueuedConnection);
    for (QThread *thread : impl_->threads) {
        thread->quit();
        thread->wait();
        delete thread;
    }
    impl_->threads.clear();
    impl_->workers.clear(); // deleted on their threads as those finished
    net::logger()->debug("network: stopped; {} connections left", impl_->context->connectionCount.load());
}

void NetworkServer::connect(ListenerSpec spec)
{
    spec.outbound = true;
    auto listener = std::make_shared<const ListenerSpec>(std::move(spec));
    std::unique_lock lock(impl_->connectMutex);
    if (!impl_->started || impl_->connectsRefused || impl_->workers.empty()) {
        lock.unlock();
        if (const auto onConnect = listener->plugin->protocol.on_connect)
            onConnect(listener->instance, nullptr, listener->connectTag, FERRY_E_CLOSED, "the broker is stopping",
                      nullptr);
        return;
    }
    const size_t index = impl_->nextWorker.fetch_add(1, std::memory_order_relaxed) % impl_->workers.size();
    net::IoWorker *worker = impl_->workers[index];
    QMetaObject::invokeMethod(worker, [worker, listener] { worker->connectOut(listener); }, Qt::QueuedConnection);
}

bool NetworkServer::wake(uint64_t connId, const LoadedPlugin *plugin, uint64_t token)
{
    std::lock_guard lock(impl_->context->registryMutex);
    const auto it = impl_->context->registry.find(connId);
    if (it == impl_->context->registry.end() || &it->second->plugin() != plugin)
        return false;
    it->second->wake(token);
    return true;
}

void NetworkServer::broadcastAlarm(uint32_t alarms)
{
    std::lock_guard lock(impl_->context->registryMutex);
    for (const auto &[id, connection] : impl_->context->registry)
        connection->alarm(alarms);
}

size_t NetworkServer::connectionCount() const
{
    return impl_->context->connectionCount.load(std::memory_order_acquire);
}

std::vector<ConnectionSnapshot> NetworkServer::connections() const
{
    std::vector<ConnectionSnapshot> out;
    std::lock_guard lock(impl_->context->registryMutex);
    out.reserve(impl_->context->registry.size());
    for (const auto &[id, connection] : impl_->context->registry)
        out.push_back(connection->snapshot());
    std::sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.id < b.id; });
    return out;
}

void NetworkServer::listChannels(std::function<void(std::vector<ChannelSnapshot>)> done)
{
    // Every posted request holds the collector; the last one to run (or to be dropped unrun by a closing
    // connection) destroys it, and its destructor answers.
    struct Collector {
        std::mutex mutex;
        std::vector<ChannelSnapshot> channels;
        std::function<void(std::vector<ChannelSnapshot>)> done;
        ~Collector()
        {
            std::sort(channels.begin(), channels.end(), [](const ChannelSnapshot &a, const ChannelSnapshot &b) {
                return std::tie(a.connectionId, a.info.number) < std::tie(b.connectionId, b.info.number);
            });
            done(std::move(channels));
        }
    };
    auto collector = std::make_shared<Collector>();
    collector->done = std::move(done);
    std::lock_guard lock(impl_->context->registryMutex);
    for (const auto &[id, connection] : impl_->context->registry) {
        if (connection->protocol().list_channels == nullptr)
            continue;
        Connection *c = connection;
        c->post([c, collector] {
            struct Sink {
                Collector *collector;
                uint64_t id;
            } sink{collector.get(), c->id()};
            c->protocol().list_channels(
                c->session(),
                [](void *ctx, const ferry_channel_info *info) {
                    auto *s = static_cast<Sink *>(ctx);
                    ChannelSnapshot snapshot;
                    snapshot.connectionId = s->id;
                    std::memcpy(&snapshot.info, info, std::min<size_t>(info->struct_size, sizeof snapshot.info));
                    std::lock_guard guard(s->collector->mutex);
                    s->collector->channels.push_back(snapshot);
                },
                &sink);
        });
    }
}

bool NetworkServer::closeConnection(uint64_t id, const std::string &reason)
{
    std::lock_guard lock(impl_->context->registryMutex);
    const auto it = impl_->context->registry.find(id);
    if (it == impl_->context->registry.end())
        return false;
    it->second->requestClose(reason);
    return true;
}

} // namespace ferry
