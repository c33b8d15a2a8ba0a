// tst_network_server: the kernel network layer (broker/kernel/net) driving a small line protocol plugin that lives in
// this binary (a static vtable and instance; the LoadedPlugin is built by hand, no library is loaded), with real
// QTcpSocket clients on 127.0.0.1, ephemeral ports.
//
// The line protocol: one '\n'-terminated command per on_read call (the plugin consumes exactly one line, so the
// kernel must call again while bytes remain):
//   echo <text>     -> "<text>\n"             peer          -> "<peer address>\n"
//   bad             -> "error\n", on_read returns FERRY_E_PROTOCOL
//   quit            -> "bye\n", host->close   (then write/set_timer/cancel_timer are tried and their status recorded)
//   timer <id> <ms> -> set_timer; on_timer writes "timer <id>\n"
//   cancel <id>     -> cancel_timer, "cancelled <id>\n"
//   flood <n>       -> n bytes 'x' then "\n"  floodquit <n>  -> flood, then host->close
//   postinside      -> post() from inside the hook; postclose -> post() then host->close
//   follow          -> "ok": this connection may move to another thread (co-location); its hooks record each move
//   relay <id> <from> <n> -> posts n functions to connection <id> (from this connection's thread), each writing
//                      "r <from+i>\n" there; then "relayed\n" here
// Every hook checks it runs on the connection's thread (for a "follow" connection: on one thread at a time, moves
// counted) and never concurrently with another hook of that connection.
#include "net/NetworkServer.h"
#include "plugin/PluginHost.h"

#include <QHostAddress>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QThread>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// What the plugin saw on one connection. Fields set in on_open are read-only afterwards; the rest under g_mutex.
struct Record {
    uint64_t connectionId = 0;
    ferry::Connection *connection = nullptr; // valid until the record's `closed` (or `closeHookRan`) is set
    std::thread::id thread; // the thread of on_open; for a mayMove record, of its latest hook (under g_mutex)
    ferry_session *session = nullptr; // valid until closed
    bool mayMove = false;
    int moves = 0;
    std::string peer;
    uint32_t listenerIndex = 0;
    bool refused = false;
    Clock::time_point openedAt;

    std::vector<std::pair<size_t, size_t>> reads; // (bytes offered, bytes consumed) per on_read
    std::vector<std::string> events;              // "open", "read", "timer <id>", "close <reason>", "closehook", ...
    int wrongThread = 0;
    int concurrent = 0;
    int closeCount = 0;
    int32_t closeReason = 0;
    Clock::time_point closedAt;
    bool closeHookRan = false;
    std::thread::id closeHookThread;
    ferry_status writeAfterClose = 1, setTimerAfterClose = 1, cancelTimerAfterClose = 1;
    bool postedRan = false;
    bool postedRanInsideHook = false;
    std::weak_ptr<int> droppedSentinel; // a posted function that must be destroyed unrun
    std::weak_ptr<int> closeHookSentinel;
};

std::mutex g_mutex;
std::vector<std::shared_ptr<Record>> g_records;
ferry_protocol_host g_host{};

} // namespace

struct ferry_protocol {
    uint32_t refusedListenerIndex; // on_open refuses connections on this listener
};

struct ferry_session {
    ferry_conn *conn = nullptr;
    std::shared_ptr<Record> record;
    std::atomic<int> active{0};
};

namespace {

ferry_protocol g_instance{1};

// Checks the threading contract on entry to every hook.
class HookCheck {
public:
    explicit HookCheck(ferry_session *s) : s_(s)
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (std::this_thread::get_id() != s_->record->thread) {
            if (s_->record->mayMove) {
                ++s_->record->moves;
                s_->record->thread = std::this_thread::get_id();
            } else {
                ++s_->record->wrongThread;
            }
        }
        if (s_->active.exchange(1) != 0)
            ++s_->record->concurrent;
    }
    ~HookCheck() { s_->active.store(0); }

private:
    ferry_session *s_;
};

void event(ferry_session *s, std::string text)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    s->record->events.push_back(std::move(text));
}

ferry_status writeText(ferry_session *s, const std::string &text)
{
    return g_host.write(s->conn, reinterpret_cast<const uint8_t *>(text.data()), text.size());
}

void flood(ferry_session *s, size_t n)
{
    const std::string chunk(64 * 1024, 'x');
    while (n > 0) {
        const size_t part = std::min(n, chunk.size());
        g_host.write(s->conn, reinterpret_cast<const uint8_t *>(chunk.data()), part);
        n -= part;
    }
    writeText(s, "\n");
}

void closeAndProbe(ferry_session *s, const char *why)
{
    g_host.close(s->conn, why);
    const ferry_status w = writeText(s, "too late\n");
    const ferry_status t = g_host.set_timer(s->conn, 99, 10);
    const ferry_status c = g_host.cancel_timer(s->conn, 99);
    std::lock_guard<std::mutex> lock(g_mutex);
    s->record->writeAfterClose = w;
    s->record->setTimerAfterClose = t;
    s->record->cancelTimerAfterClose = c;
}

ferry_status testOnOpen(ferry_protocol *instance, ferry_conn *conn, uint32_t listenerIndex, ferry_session **out)
{
    auto record = std::make_shared<Record>();
    record->connection = ferry::Connection::fromHandle(conn);
    record->connectionId = record->connection->id();
    record->thread = std::this_thread::get_id();
    record->listenerIndex = listenerIndex;
    record->openedAt = Clock::now();
    char peer[80];
    if (g_host.peer_address(conn, peer, sizeof peer) == FERRY_OK)
        record->peer = peer;
    record->refused = listenerIndex == instance->refusedListenerIndex;
    record->events.push_back("open");

    // A close hook that records where it ran and tries to post (which must be dropped: the connection is closed).
    auto hookSentinel = std::make_shared<int>(0);
    record->closeHookSentinel = hookSentinel;
    std::weak_ptr<Record> weak = record;
    ferry::Connection *connection = record->connection;
    connection->addCloseHook([weak, connection, hookSentinel]() mutable {
        if (auto r = weak.lock()) {
            connection->post([hookSentinel, weak] {
                if (auto r2 = weak.lock()) {
                    std::lock_guard<std::mutex> lock(g_mutex);
                    r2->events.push_back("posted-from-close-hook");
                }
            });
            hookSentinel.reset();
            std::lock_guard<std::mutex> lock(g_mutex);
            r->closeHookRan = true;
            r->closeHookThread = std::this_thread::get_id();
            r->events.push_back("closehook");
        }
    });
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_records.push_back(record);
    }
    if (record->refused)
        return FERRY_E_ACCESS_DENIED;
    auto *session = new ferry_session;
    session->conn = conn;
    session->record = record;
    record->session = session;
    *out = session;
    return FERRY_OK;
}

ferry_status testOnRead(ferry_session *s, const uint8_t *data, size_t len, size_t *consumed)
{
    HookCheck check(s);
    const auto *newline = static_cast<const uint8_t *>(std::memchr(data, '\n', len));
    *consumed = newline == nullptr ? 0 : static_cast<size_t>(newline - data) + 1;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        s->record->reads.emplace_back(len, *consumed);
        s->record->events.push_back("read");
    }
    if (newline == nullptr)
        return FERRY_OK;
    const std::string line(reinterpret_cast<const char *>(data), static_cast<size_t>(newline - data));
    const auto arg = [&line](size_t from) { return line.size() > from ? line.substr(from) : std::string(); };

    if (line.rfind("echo ", 0) == 0) {
        writeText(s, arg(5) + "\n");
    } else if (line == "peer") {
        char peer[80];
        g_host.peer_address(s->conn, peer, sizeof peer);
        writeText(s, std::string(peer) + "\n");
    } else if (line == "peertiny") { // truncated into a 6-byte buffer
        char tiny[6];
        const ferry_status status = g_host.peer_address(s->conn, tiny, sizeof tiny);
        writeText(s, std::string(tiny) + " " + std::to_string(status) + "\n");
    } else if (line == "bad") {
        writeText(s, "error\n");
        return FERRY_E_PROTOCOL;
    } else if (line == "quit") {
        writeText(s, "bye\n");
        closeAndProbe(s, "client said quit");
    } else if (line.rfind("timer ", 0) == 0) {
        std::istringstream in(arg(6));
        uint64_t id = 0;
        uint32_t ms = 0;
        in >> id >> ms;
        g_host.set_timer(s->conn, id, ms);
    } else if (line.rfind("cancel ", 0) == 0) {
        const uint64_t id = std::stoull(arg(7));
        g_host.cancel_timer(s->conn, id);
        writeText(s, "cancelled " + std::to_string(id) + "\n");
    } else if (line.rfind("flood ", 0) == 0) {
        flood(s, std::stoull(arg(6)));
    } else if (line.rfind("floodquit ", 0) == 0) {
        flood(s, std::stoull(arg(10)));
        closeAndProbe(s, "flood then quit");
    } else if (line == "postinside") {
        std::weak_ptr<Record> weak = s->record;
        s->record->connection->post([weak, s] {
            if (auto r = weak.lock()) {
                std::lock_guard<std::mutex> lock(g_mutex);
                r->postedRan = true;
                r->postedRanInsideHook = s->active.load() != 0;
                r->events.push_back("posted");
            }
        });
        event(s, "after-post");
        writeText(s, "posted\n");
    } else if (line == "postclose") {
        auto sentinel = std::make_shared<int>(0);
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            s->record->droppedSentinel = sentinel;
        }
        std::weak_ptr<Record> weak = s->record;
        s->record->connection->post([weak, sentinel] {
            if (auto r = weak.lock()) {
                std::lock_guard<std::mutex> lock(g_mutex);
                r->events.push_back("posted-after-close");
            }
        });
        g_host.close(s->conn, "postclose");
    } else if (line == "follow") {
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            s->record->mayMove = true;
        }
        writeText(s, "ok\n");
    } else if (line.rfind("relay ", 0) == 0) {
        std::istringstream in(arg(6));
        uint64_t id = 0, from = 0, n = 0;
        in >> id >> from >> n;
        std::shared_ptr<Record> target;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            for (const auto &r : g_records)
                if (r->connectionId == id && r->closeCount == 0)
                    target = r;
        }
        if (!target) {
            writeText(s, "no such connection\n");
            return FERRY_OK;
        }
        for (uint64_t i = 0; i < n; ++i) {
            ferry_session *other = target->session;
            target->connection->post([other, k = from + i] {
                HookCheck check(other);
                writeText(other, "r " + std::to_string(k) + "\n");
            });
        }
        writeText(s, "relayed\n");
    } else {
        writeText(s, "unknown\n");
    }
    return FERRY_OK;
}

void testOnTimer(ferry_session *s, uint64_t timerId)
{
    HookCheck check(s);
    event(s, "timer " + std::to_string(timerId));
    writeText(s, "timer " + std::to_string(timerId) + "\n");
}

void testOnClose(ferry_session *s, int32_t reason)
{
    {
        HookCheck check(s);
        std::lock_guard<std::mutex> lock(g_mutex);
        s->record->closeCount++;
        s->record->closeReason = reason;
        s->record->closedAt = Clock::now();
        s->record->events.push_back("close " + std::to_string(reason));
    }
    delete s;
}

void testOnDelivery(ferry_session *, const ferry_delivery *) {}
void testOnResult(ferry_session *, const ferry_result *) {}

const ferry_listener_spec g_listenerSpecs[] = {
    {sizeof(ferry_listener_spec), "listen", "127.0.0.1:0", "the line protocol"},
    {sizeof(ferry_listener_spec), "refusing_listen", "127.0.0.1:0", "every connection refused in on_open"},
};

ferry_protocol_vtable makeVtable()
{
    ferry_protocol_vtable v{};
    v.struct_size = sizeof v;
    v.listeners = g_listenerSpecs;
    v.listener_count = 2;
    v.on_open = &testOnOpen;
    v.on_read = &testOnRead;
    v.on_delivery = &testOnDelivery;
    v.on_result = &testOnResult;
    v.on_timer = &testOnTimer;
    v.on_close = &testOnClose;
    return v;
}

std::shared_ptr<Record> findRecord(const QTcpSocket &client)
{
    // The local port is kept as a property by connectClient(): localPort() reads 0 once the socket is closed.
    const std::string peer = "127.0.0.1:" + std::to_string(client.property("port").toUInt());
    std::lock_guard<std::mutex> lock(g_mutex);
    for (const auto &r : g_records)
        if (r->peer == peer)
            return r;
    return nullptr;
}

// Reads one '\n'-terminated line (without the '\n') within timeoutMs.
bool readLineWithin(QTcpSocket &socket, QByteArray *line, int timeoutMs = 5000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!socket.canReadLine()) {
        if (deadline.hasExpired())
            return false;
        if (!socket.waitForReadyRead(static_cast<int>(std::max<qint64>(1, deadline.remainingTime()))) &&
            !socket.canReadLine() && socket.state() != QAbstractSocket::ConnectedState)
            return false;
    }
    *line = socket.readLine();
    line->chop(1);
    return true;
}

int countOf(const std::vector<std::string> &events, const std::string &text)
{
    return static_cast<int>(std::count(events.begin(), events.end(), text));
}

template <typename T>
T locked(const std::shared_ptr<Record> &r, T Record::*member)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    return (*r).*member;
}

} // namespace

class TestNetworkServer : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> logRing_;
    ferry::LoadedPlugin plugin_;
    std::unique_ptr<ferry::NetworkServer> server_;
    quint16 port_ = 0;
    std::vector<std::unique_ptr<QTcpSocket>> clients_;

    bool startServer(ferry::NetworkLimits limits, uint32_t listenerIndex = 0)
    {
        server_ = std::make_unique<ferry::NetworkServer>(limits, &g_host);
        server_->start();
        std::string error;
        ferry::ListenerSpec spec{"127.0.0.1:0", &plugin_, &g_instance, listenerIndex, "test.listen"};
        if (!server_->listen(spec, &error)) {
            qWarning("listen failed: %s", error.c_str());
            return false;
        }
        const auto bound = server_->boundAddresses();
        if (bound.size() != 1)
            return false;
        port_ = static_cast<quint16>(std::stoi(bound[0].second.substr(bound[0].second.rfind(':') + 1)));
        return port_ != 0;
    }

    QTcpSocket *connectClient()
    {
        auto socket = std::make_unique<QTcpSocket>();
        socket->connectToHost(QHostAddress::LocalHost, port_);
        if (!socket->waitForConnected(5000))
            return nullptr;
        socket->setProperty("port", socket->localPort());
        clients_.push_back(std::move(socket));
        return clients_.back().get();
    }

    bool logContains(const std::vector<std::string> &needles) const
    {
        for (const auto &line : logRing_->last_formatted()) {
            bool all = true;
            for (const auto &n : needles)
                all = all && line.find(n) != std::string::npos;
            if (all)
                return true;
        }
        return false;
    }

    static size_t recordCount()
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        return g_records.size();
    }

private Q_SLOTS:
    void initTestCase()
    {
        logRing_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000);
        auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        console->set_level(spdlog::level::warn);
        auto kernel = std::make_shared<spdlog::logger>("kernel", spdlog::sinks_init_list{logRing_, console});
        kernel->set_level(spdlog::level::debug);
        spdlog::register_logger(kernel);

        g_host.struct_size = sizeof g_host;
        ferry::fillConnectionServices(&g_host);
        QVERIFY(g_host.write && g_host.close && g_host.set_timer && g_host.cancel_timer && g_host.peer_address);
        QVERIFY(g_host.publish == nullptr); // queue members are the kernel core's

        plugin_.name = "test";
        plugin_.kind = FERRY_PLUGIN_KIND_PROTOCOL;
        plugin_.protocol = makeVtable();
        plugin_.listeners.assign(std::begin(g_listenerSpecs), std::end(g_listenerSpecs));
    }

    void cleanup()
    {
        if (server_)
            server_->stop();
        server_.reset();
        clients_.clear();
        std::lock_guard<std::mutex> lock(g_mutex);
        for (const auto &r : g_records) {
            QCOMPARE(r->wrongThread, 0);
            QCOMPARE(r->concurrent, 0);
            QVERIFY(r->closeCount <= 1);
        }
        g_records.clear();
    }

    void listenAddresses()
    {
        ferry::NetworkServer server(ferry::NetworkLimits{}, &g_host);
        std::string error;
        ferry::ListenerSpec spec{"127.0.0.1:0", &plugin_, &g_instance, 0, "test.listen"};
        QVERIFY(!server.listen(spec, &error)); // not started
        QVERIFY(error.rfind("test.listen: 127.0.0.1:0: ", 0) == 0);
        server.start();

        QVERIFY2(server.listen(spec, &error), error.c_str());
        spec.address = "localhost:0";
        spec.configKey = "test.second";
        QVERIFY2(server.listen(spec, &error), error.c_str());
        auto bound = server.boundAddresses();
        QCOMPARE(bound.size(), size_t(2));
        QCOMPARE(bound[0].first, std::string("test.listen"));
        QCOMPARE(bound[1].first, std::string("test.second"));
        QVERIFY(bound[0].second.rfind("127.0.0.1:", 0) == 0);
        QVERIFY(bound[1].second.rfind("127.0.0.1:", 0) == 0);
        const std::string firstPort = bound[0].second.substr(10);
        QVERIFY(firstPort != "0" && std::stoi(firstPort) > 0);

        // IPv6 loopback, when this host has it.
        QTcpServer probe;
        const bool haveIPv6 = probe.listen(QHostAddress::LocalHostIPv6, 0);
        probe.close();
        spec.address = "[::1]:0";
        spec.configKey = "test.v6";
        const bool v6 = server.listen(spec, &error);
        QCOMPARE(v6, haveIPv6);
        if (v6)
            QVERIFY(server.boundAddresses().back().second.rfind("[::1]:", 0) == 0);
        else
            QVERIFY(error.rfind("test.v6: [::1]:0: ", 0) == 0);

        // The same port twice: a clear error naming the key and the address.
        spec.address = "127.0.0.1:" + firstPort;
        spec.configKey = "test.again";
        QVERIFY(!server.listen(spec, &error));
        QCOMPARE(error, "test.again: 127.0.0.1:" + firstPort + ": address in use");

        for (const char *bad : {"127.0.0.1", "127.0.0.1:70000", "127.0.0.1:x", "127.0.0.1:", "::1:0", "[::1:0",
                                "[127.0.0.1]:0", ""}) {
            spec.address = bad;
            spec.configKey = "test.bad";
            error.clear();
            QVERIFY2(!server.listen(spec, &error), bad);
            QVERIFY2(error.rfind("test.bad: " + std::string(bad) + ": ", 0) == 0, error.c_str());
        }

        // A client reaches the second listener.
        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, static_cast<quint16>(std::stoi(bound[1].second.substr(10))));
        QVERIFY(client.waitForConnected(5000));
        client.write("echo v4\n");
        QByteArray line;
        QVERIFY(readLineWithin(client, &line));
        QCOMPARE(line, QByteArray("v4"));

        server.stopAccepting();
        QVERIFY(server.boundAddresses().empty());
        server.stop();
        QTRY_COMPARE_WITH_TIMEOUT(client.state(), QAbstractSocket::UnconnectedState, 5000);
    }

    void echoRoundTrip()
    {
        QVERIFY(startServer(ferry::NetworkLimits{}));
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        client->write("echo hello\n");
        QByteArray line;
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("hello"));
        client->write("peer\n");
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line.toStdString(), "127.0.0.1:" + std::to_string(client->localPort()));
        client->write("peertiny\n");
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line.toStdString(), "127.0 " + std::to_string(FERRY_E_TOO_LARGE));

        auto record = findRecord(*client);
        QVERIFY(record);
        QCOMPARE(record->listenerIndex, 0u);
        QVERIFY(record->thread != std::this_thread::get_id());
        QCOMPARE(record->connection->peerAddress(), record->peer);
        QCOMPARE(record->connection->plugin().name, std::string("test"));
        QCOMPARE(server_->connectionCount(), size_t(1));

        client->disconnectFromHost();
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::closeCount), 1, 5000);
        QCOMPARE(locked(record, &Record::closeReason), FERRY_CLOSE_PEER);
        QTRY_VERIFY_WITH_TIMEOUT(locked(record, &Record::closeHookRan), 5000);
        QVERIFY(locked(record, &Record::closeHookThread) == record->thread);
        QTRY_COMPARE_WITH_TIMEOUT(server_->connectionCount(), size_t(0), 5000);
        const auto events = locked(record, &Record::events);
        QVERIFY(events.size() >= 3);
        QCOMPARE(events.front(), std::string("open"));
        QCOMPARE(events[events.size() - 2], "close " + std::to_string(FERRY_CLOSE_PEER));
        QCOMPARE(events.back(), std::string("closehook"));
        // The close hook's post() was dropped: its function was destroyed unrun.
        QTRY_VERIFY_WITH_TIMEOUT(locked(record, &Record::closeHookSentinel).expired(), 5000);
        QTest::qWait(50);
        const auto after = locked(record, &Record::events);
        QCOMPARE(countOf(after, "posted-from-close-hook"), 0);
    }

    void partialFrames()
    {
        QVERIFY(startServer(ferry::NetworkLimits{}));
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        QTRY_VERIFY_WITH_TIMEOUT(findRecord(*client) != nullptr, 5000);
        auto record = findRecord(*client);

        client->write("ec");
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::reads).size(), size_t(1), 5000);
        client->write("ho hel");
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::reads).size(), size_t(2), 5000);
        client->write("lo\n");
        QByteArray line;
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("hello"));
        auto reads = locked(record, &Record::reads);
        QCOMPARE(reads.size(), size_t(3)); // the unconsumed tail is offered again only with new bytes
        QCOMPARE(reads[0], std::make_pair(size_t(2), size_t(0)));
        QCOMPARE(reads[1], std::make_pair(size_t(8), size_t(0)));
        QCOMPARE(reads[2], std::make_pair(size_t(11), size_t(11)));

        // Three frames and half of a fourth in one write: the plugin consumes one per call, the kernel calls again
        // while bytes remain and keeps the half frame.
        client->write("echo a\necho b\necho c\nech");
        for (const char *expected : {"a", "b", "c"}) {
            QVERIFY(readLineWithin(*client, &line));
            QCOMPARE(line, QByteArray(expected));
        }
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::reads).size(), size_t(7), 5000);
        reads = locked(record, &Record::reads);
        QCOMPARE(reads[3], std::make_pair(size_t(24), size_t(7)));
        QCOMPARE(reads[4], std::make_pair(size_t(17), size_t(7)));
        QCOMPARE(reads[5], std::make_pair(size_t(10), size_t(7)));
        QCOMPARE(reads[6], std::make_pair(size_t(3), size_t(0)));
        client->write("o d\n");
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("d"));
        reads = locked(record, &Record::reads);
        QCOMPARE(reads.size(), size_t(8));
        QCOMPARE(reads[7], std::make_pair(size_t(7), size_t(7)));
    }

    void manyConnectionsPinnedToThreads()
    {
        ferry::NetworkLimits limits;
        limits.ioThreads = 3;
        QVERIFY(startServer(limits));
        constexpr int connections = 12;
        constexpr int rounds = 20;
        std::vector<QTcpSocket *> clients;
        for (int i = 0; i < connections; ++i) {
            QTcpSocket *c = connectClient();
            QVERIFY(c);
            clients.push_back(c);
        }
        QTRY_COMPARE_WITH_TIMEOUT(server_->connectionCount(), size_t(connections), 5000);
        // Interleave traffic over all connections, with timers firing between reads.
        for (int round = 0; round < rounds; ++round)
            for (int i = 0; i < connections; ++i)
                clients[i]->write(QByteArray("timer 7 1\necho ") + QByteArray::number(i) + " " +
                                  QByteArray::number(round) + "\n");
        for (int i = 0; i < connections; ++i) {
            int echoes = 0;
            int timers = 0;
            QByteArray line;
            while (echoes < rounds || timers < 1) {
                QVERIFY2(readLineWithin(*clients[i], &line), "reply missing");
                if (line.startsWith("timer"))
                    ++timers;
                else
                    QCOMPARE(line, QByteArray::number(i) + " " + QByteArray::number(echoes++));
            }
        }

        std::map<std::thread::id, int> perThread;
        for (QTcpSocket *c : clients) {
            auto record = findRecord(*c);
            QVERIFY(record);
            QVERIFY(record->thread != std::this_thread::get_id());
            perThread[record->thread]++;
        }
        QCOMPARE(perThread.size(), size_t(3));
        for (const auto &entry : perThread)
            QCOMPARE(entry.second, connections / 3); // round robin
        for (QTcpSocket *c : clients)
            c->disconnectFromHost();
        QTRY_COMPARE_WITH_TIMEOUT(server_->connectionCount(), size_t(0), 5000);
        std::lock_guard<std::mutex> lock(g_mutex);
        for (const auto &r : g_records) {
            QCOMPARE(r->wrongThread, 0); // also checked in cleanup(); here with the count of hooks that ran
            QCOMPARE(r->concurrent, 0);
            QCOMPARE(r->closeCount, 1);
            QVERIFY(r->reads.size() >= size_t(2 * rounds));
        }
    }

    // One "relay" of perRound lines from `feeder` to `fed`; false unless every line arrives, in order. *next is the
    // next number `fed` expects.
    bool relayOnce(QTcpSocket *feeder, QTcpSocket *fed, uint64_t fedId, uint64_t *next, int perRound)
    {
        feeder->write("relay " + QByteArray::number(qulonglong(fedId)) + " " + QByteArray::number(qulonglong(*next)) +
                      " " + QByteArray::number(perRound) + "\n");
        QByteArray line;
        if (!readLineWithin(*feeder, &line) || line != "relayed")
            return false;
        for (int i = 0; i < perRound; ++i) {
            if (!readLineWithin(*fed, &line) || line != "r " + QByteArray::number(qulonglong((*next)++))) {
                qWarning("relayed line out of order or missing: '%s'", line.constData());
                return false;
            }
        }
        return true;
    }

    // Relays until `done` holds, at most maxRounds times; false on a lost or reordered line or if `done` never held.
    bool relayRounds(QTcpSocket *feeder, QTcpSocket *fed, uint64_t fedId, uint64_t *next, int perRound, int maxRounds,
                     const std::function<bool()> &done)
    {
        for (int round = 0; round < maxRounds && !done(); ++round)
            if (!relayOnce(feeder, fed, fedId, next, perRound))
                return false;
        return done();
    }

    // Starts a two-thread server (colocate as given) and connects two clients, which round robin puts on different
    // threads; b, and a too when bothFollow, is told "follow" (its hooks may move; the other's must not). Fails the
    // test on any Qt warning (Qt refusing a move).
    void startFollowingPair(bool colocate, bool bothFollow, QTcpSocket **a, QTcpSocket **b,
                            std::shared_ptr<Record> *ra, std::shared_ptr<Record> *rb)
    {
        QTest::failOnWarning(QRegularExpression("QObject|QSocketNotifier|QTimer"));
        ferry::NetworkLimits limits;
        limits.ioThreads = 2;
        limits.colocate = colocate;
        QVERIFY(startServer(limits));
        *a = connectClient();
        *b = connectClient();
        QVERIFY(*a && *b);
        QTRY_VERIFY_WITH_TIMEOUT(findRecord(**a) && findRecord(**b), 5000);
        *ra = findRecord(**a);
        *rb = findRecord(**b);
        QVERIFY((*ra)->thread != (*rb)->thread);
        QByteArray line;
        for (QTcpSocket *c : {*a, *b}) {
            if (c == *a && !bothFollow)
                continue;
            c->write("follow\n");
            QVERIFY(readLineWithin(*c, &line));
            QCOMPARE(line, QByteArray("ok"));
        }
    }

    // Co-location: a connection that receives nearly all of its work from another pool thread moves there, keeps its
    // order, timers and socket, and runs on one thread at a time.
    void colocateMovesAFedConnection()
    {
        QTcpSocket *feeder = nullptr, *fed = nullptr;
        std::shared_ptr<Record> feederRecord, fedRecord;
        startFollowingPair(true, false, &feeder, &fed, &feederRecord, &fedRecord);
        if (QTest::currentTestFailed())
            return;
        QByteArray line;
        fed->write("timer 5 1500\n");

        uint64_t next = 0;
        const auto moved = [&] { return locked(fedRecord, &Record::moves) > 0; };
        QVERIFY(relayRounds(feeder, fed, fedRecord->connectionId, &next, 100, 200, moved));
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            QCOMPARE(fedRecord->moves, 1);
            QVERIFY(fedRecord->thread == feederRecord->thread);
        }
        QVERIFY(logContains({"moves from event-loop thread"}));
        // After the move: more relays in order, the timer set before it fires, echo answers.
        const uint64_t until = next + 1000;
        QVERIFY(relayRounds(feeder, fed, fedRecord->connectionId, &next, 100, 10, [&] { return next >= until; }));
        fed->write("echo still here\n");
        bool timer = false, echo = false;
        while (!(timer && echo)) {
            QVERIFY2(readLineWithin(*fed, &line), "timer or echo missing after the move");
            timer = timer || line == "timer 5";
            echo = echo || line == "still here";
        }
        QCOMPARE(locked(fedRecord, &Record::moves), 1); // stays put: its work now comes from its own thread
        QCOMPARE(server_->connectionCount(), size_t(2));
        fed->disconnectFromHost();
        QTRY_COMPARE_WITH_TIMEOUT(locked(fedRecord, &Record::closeCount), 1, 5000);
        QVERIFY(locked(fedRecord, &Record::closeHookRan));
        QVERIFY(locked(fedRecord, &Record::closeHookThread) == feederRecord->thread);
    }

    // Two connections feeding each other end up on one thread without moving back and forth.
    void colocateMutualFeedSettles()
    {
        QTcpSocket *a = nullptr, *b = nullptr;
        std::shared_ptr<Record> ra, rb;
        startFollowingPair(true, true, &a, &b, &ra, &rb);
        if (QTest::currentTestFailed())
            return;
        uint64_t nextA = 0, nextB = 0;
        for (int round = 0; round < 60; ++round) {
            QVERIFY(relayOnce(a, b, rb->connectionId, &nextB, 50));
            QVERIFY(relayOnce(b, a, ra->connectionId, &nextA, 50));
        }
        QCOMPARE(nextA, uint64_t(3000));
        QCOMPARE(nextB, uint64_t(3000));
        std::lock_guard<std::mutex> lock(g_mutex);
        QVERIFY(ra->thread == rb->thread);
        QCOMPARE(ra->moves + rb->moves, 1); // one of them moved, once: no swap, no going back and forth
    }

    // network.colocate = false: nothing moves.
    void colocateOff()
    {
        QTcpSocket *feeder = nullptr, *fed = nullptr;
        std::shared_ptr<Record> feederRecord, fedRecord;
        startFollowingPair(false, false, &feeder, &fed, &feederRecord, &fedRecord);
        if (QTest::currentTestFailed())
            return;
        const auto before = fedRecord->thread;
        uint64_t next = 0;
        QTest::qWait(600); // past the first load sample, so only the setting can keep it in place
        QVERIFY(relayRounds(feeder, fed, fedRecord->connectionId, &next, 100, 30, [&] { return next >= 3000; }));
        std::lock_guard<std::mutex> lock(g_mutex);
        QCOMPARE(fedRecord->moves, 0);
        QVERIFY(fedRecord->thread == before);
    }

    void readErrorClosesOnlyThatConnection()
    {
        QVERIFY(startServer(ferry::NetworkLimits{}));
        QTcpSocket *bad = connectClient();
        QTcpSocket *good = connectClient();
        QVERIFY(bad && good);
        bad->write("bad\n");
        QByteArray line;
        QVERIFY(readLineWithin(*bad, &line));
        QCOMPARE(line, QByteArray("error")); // written before the error: flushed before the close
        QTRY_COMPARE_WITH_TIMEOUT(bad->state(), QAbstractSocket::UnconnectedState, 5000);
        auto record = findRecord(*bad);
        QVERIFY(record);
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::closeReason), FERRY_CLOSE_PROTOCOL, 5000);
        QVERIFY(logContains({"test connection", record->peer, "FERRY_E_PROTOCOL"}));

        good->write("echo still here\n");
        QVERIFY(readLineWithin(*good, &line));
        QCOMPARE(line, QByteArray("still here"));
        QCOMPARE(server_->connectionCount(), size_t(1));
        QCOMPARE(locked(findRecord(*good), &Record::closeCount), 0);
    }

    void openRefusedClosesWithoutOnClose()
    {
        QVERIFY(startServer(ferry::NetworkLimits{}, 1)); // listener index 1: on_open refuses
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), QAbstractSocket::UnconnectedState, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(recordCount(), size_t(1), 5000);
        std::shared_ptr<Record> record;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            record = g_records.front();
        }
        QVERIFY(record->refused);
        QCOMPARE(record->listenerIndex, 1u);
        QTRY_VERIFY_WITH_TIMEOUT(locked(record, &Record::closeHookRan), 5000); // kernel cleanup still runs
        QCOMPARE(locked(record, &Record::closeCount), 0);                      // no session, no on_close
        QTRY_COMPARE_WITH_TIMEOUT(server_->connectionCount(), size_t(0), 5000);
        QVERIFY(logContains({"refused by on_open", "FERRY_E_ACCESS_DENIED"}));
    }

    void maxFrameBytes()
    {
        ferry::NetworkLimits limits;
        limits.maxFrameBytes = 1024;
        QVERIFY(startServer(limits));
        QTcpSocket *client = connectClient();
        QVERIFY(client);

        // A frame of exactly the limit is fine.
        const QByteArray text(1024 - 6, 'a');
        client->write("echo " + text + "\n");
        QByteArray line;
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, text);

        // An unfinished frame below the limit stays open...
        auto record = findRecord(*client);
        QVERIFY(record);
        const size_t readsBefore = locked(record, &Record::reads).size();
        client->write(QByteArray(1000, 'b'));
        QTRY_VERIFY_WITH_TIMEOUT(locked(record, &Record::reads).size() > readsBefore, 5000);
        QCOMPARE(locked(record, &Record::closeCount), 0);
        // ...and one that grows past it is closed with FERRY_CLOSE_PROTOCOL.
        client->write(QByteArray(5000, 'b'));
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::closeCount), 1, 5000);
        QCOMPARE(locked(record, &Record::closeReason), FERRY_CLOSE_PROTOCOL);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), QAbstractSocket::UnconnectedState, 5000);
        QVERIFY(logContains({"network.max_frame_bytes", record->peer}));
        for (const auto &read : locked(record, &Record::reads))
            QVERIFY(read.first <= 1025); // never more than limit + 1 buffered
    }

    void idleTimeout()
    {
        ferry::NetworkLimits limits;
        limits.idleTimeoutMs = 300;
        QVERIFY(startServer(limits));
        QTcpSocket *silent = connectClient();
        QTcpSocket *chatty = connectClient();
        QVERIFY(silent && chatty);
        QTRY_VERIFY_WITH_TIMEOUT(findRecord(*chatty) != nullptr, 5000);
        auto chattyRecord = findRecord(*chatty);

        // The chatty client sends every 100 ms for 900 ms: never idle.
        QByteArray line;
        for (int i = 0; i < 9; ++i) {
            chatty->write("echo tick\n");
            QVERIFY(readLineWithin(*chatty, &line));
            QTest::qWait(100);
        }
        QCOMPARE(locked(chattyRecord, &Record::closeCount), 0);

        auto silentRecord = findRecord(*silent);
        QVERIFY(silentRecord);
        QTRY_COMPARE_WITH_TIMEOUT(locked(silentRecord, &Record::closeCount), 1, 5000);
        QCOMPARE(locked(silentRecord, &Record::closeReason), FERRY_CLOSE_IDLE);
        const auto idleFor = locked(silentRecord, &Record::closedAt) - silentRecord->openedAt;
        QVERIFY(idleFor >= 250ms);
        QTRY_COMPARE_WITH_TIMEOUT(silent->state(), QAbstractSocket::UnconnectedState, 5000);
        QVERIFY(logContains({"network.idle_timeout_ms", silentRecord->peer}));

        // Once it stops talking, the chatty one goes idle too.
        QTRY_COMPARE_WITH_TIMEOUT(locked(chattyRecord, &Record::closeReason), FERRY_CLOSE_IDLE, 5000);
    }

    void timers()
    {
        QVERIFY(startServer(ferry::NetworkLimits{}));
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        QByteArray line;

        client->write("timer 1 50\n");
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("timer 1"));

        // Cancelled before it fires; re-armed (3 moves from 100 to 400 ms); 4 is a later sentinel.
        const auto start = Clock::now();
        client->write("timer 2 150\ncancel 2\ntimer 3 100\ntimer 3 400\ntimer 4 600\n");
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("cancelled 2"));
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("timer 3"));
        QVERIFY(Clock::now() - start >= 350ms);
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("timer 4"));
        auto record = findRecord(*client);
        QVERIFY(record);
        const auto events = locked(record, &Record::events);
        QCOMPARE(countOf(events, "timer 3"), 1);
        QCOMPARE(countOf(events, "timer 2"), 0);

        // No timer fires after close; services on a closing connection report FERRY_E_CLOSED.
        client->write("timer 5 100\nquit\n");
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("bye"));
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), QAbstractSocket::UnconnectedState, 5000);
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::closeCount), 1, 5000);
        QCOMPARE(locked(record, &Record::closeReason), FERRY_CLOSE_REQUESTED);
        QCOMPARE(locked(record, &Record::writeAfterClose), FERRY_E_CLOSED);
        QCOMPARE(locked(record, &Record::setTimerAfterClose), FERRY_E_CLOSED);
        QCOMPARE(locked(record, &Record::cancelTimerAfterClose), FERRY_E_CLOSED);
        QTest::qWait(300);
        const auto after = locked(record, &Record::events);
        QCOMPARE(countOf(after, "timer 5"), 0);
        QCOMPARE(countOf(after, "timer 99"), 0);
    }

    void postFromOtherThreads()
    {
        ferry::NetworkLimits limits;
        limits.ioThreads = 2;
        QVERIFY(startServer(limits));
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        QTRY_VERIFY_WITH_TIMEOUT(findRecord(*client) != nullptr, 5000);
        auto record = findRecord(*client);

        // From the test's main thread and from a plain std::thread: runs on the connection thread.
        std::atomic<int> ran{0};
        std::atomic<int> onConnectionThread{0};
        const auto probe = [&] {
            ran++;
            if (std::this_thread::get_id() == record->thread)
                onConnectionThread++;
        };
        record->connection->post(probe);
        std::thread other([&] {
            for (int i = 0; i < 10; ++i)
                record->connection->post(probe);
        });
        other.join();
        QTRY_COMPARE_WITH_TIMEOUT(ran.load(), 11, 5000);
        QCOMPARE(onConnectionThread.load(), 11);
        QVERIFY(!record->connection->writeBlocked());

        // Posted from inside a hook: runs after the hook returned, never inside it.
        client->write("postinside\n");
        QByteArray line;
        QVERIFY(readLineWithin(*client, &line));
        QCOMPARE(line, QByteArray("posted"));
        QTRY_VERIFY_WITH_TIMEOUT(locked(record, &Record::postedRan), 5000);
        QVERIFY(!locked(record, &Record::postedRanInsideHook));
        auto events = locked(record, &Record::events);
        const auto after = std::find(events.begin(), events.end(), "after-post");
        const auto posted = std::find(events.begin(), events.end(), "posted");
        QVERIFY(after != events.end() && posted != events.end() && after < posted);

        // Posted, then the connection closes before it runs: dropped (destroyed unrun).
        client->write("postclose\n");
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::closeCount), 1, 5000);
        QCOMPARE(locked(record, &Record::closeReason), FERRY_CLOSE_REQUESTED);
        QTRY_VERIFY_WITH_TIMEOUT(locked(record, &Record::droppedSentinel).expired(), 5000);
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), QAbstractSocket::UnconnectedState, 5000);
        events = locked(record, &Record::events);
        QCOMPARE(countOf(events, "posted-after-close"), 0);
    }

    void requestedCloseFlushesOutput()
    {
        QVERIFY(startServer(ferry::NetworkLimits{}));
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        constexpr qint64 size = 3 * 1024 * 1024;
        qint64 received = 0;
        QByteArray tail;
        QObject scope; // disconnects the reader below when the test returns
        connect(client, &QTcpSocket::readyRead, &scope, [&] {
            const QByteArray chunk = client->readAll();
            received += chunk.size();
            tail = (tail + chunk).right(8);
        });
        client->write("floodquit " + QByteArray::number(size) + "\n");
        QTRY_COMPARE_WITH_TIMEOUT(client->state(), QAbstractSocket::UnconnectedState, 10000);
        QCOMPARE(received, size + 1); // everything written before close reached the peer
        QVERIFY(tail.endsWith("x\n"));
        auto record = findRecord(*client);
        QVERIFY(record);
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::closeReason), FERRY_CLOSE_REQUESTED, 5000);
        QCOMPARE(locked(record, &Record::writeAfterClose), FERRY_E_CLOSED);
    }

    void closeFlushIsBounded()
    {
        // The plugin writes a lot then closes, and the peer never reads: the close must not wait forever.
        ferry::NetworkLimits limits;
        limits.closeFlushTimeoutMs = 300;
        QVERIFY(startServer(limits));
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        client->setReadBufferSize(16 * 1024);
        const auto start = Clock::now();
        client->write("floodquit " + QByteArray::number(24 * 1024 * 1024) + "\n");
        QTRY_VERIFY_WITH_TIMEOUT(findRecord(*client) != nullptr, 5000);
        auto record = findRecord(*client);
        QTRY_COMPARE_WITH_TIMEOUT(locked(record, &Record::closeCount), 1, 5000);
        QCOMPARE(locked(record, &Record::closeReason), FERRY_CLOSE_REQUESTED);
        QVERIFY(locked(record, &Record::closedAt) - start >= 250ms);
        QTRY_COMPARE_WITH_TIMEOUT(server_->connectionCount(), size_t(0), 5000);
        QVERIFY(logContains({"not flushed within 300 ms", record->peer}));
    }

    void backPressure()
    {
        ferry::NetworkLimits limits;
        limits.maxPendingWriteBytes = 256 * 1024;
        QVERIFY(startServer(limits));
        QTcpSocket *client = connectClient();
        QVERIFY(client);
        QTRY_VERIFY_WITH_TIMEOUT(findRecord(*client) != nullptr, 5000);
        auto record = findRecord(*client);

        client->setReadBufferSize(16 * 1024); // the client reads (almost) nothing: kernel buffers fill up
        constexpr qint64 size = 24 * 1024 * 1024;
        qint64 received = 0;
        QByteArray tail;
        bool draining = false;
        QObject scope; // disconnects the reader below when the test returns
        connect(client, &QTcpSocket::readyRead, &scope, [&] {
            if (!draining)
                return;
            const QByteArray chunk = client->readAll();
            received += chunk.size();
            tail = (tail + chunk).right(16);
        });
        client->write("flood " + QByteArray::number(size) + "\n");
        QTRY_VERIFY_WITH_TIMEOUT(record->connection->writeBlocked(), 5000);
        const size_t readsWhileBlocked = locked(record, &Record::reads).size();

        // Input sent now is not read while the output is backed up.
        client->write("echo after\n");
        QTest::qWait(400);
        QVERIFY(record->connection->writeBlocked());
        QCOMPARE(locked(record, &Record::reads).size(), readsWhileBlocked);

        // The client reads: output drains, reading resumes, the echo comes after the flood.
        draining = true;
        client->setReadBufferSize(0);
        received += client->bytesAvailable();
        client->readAll();
        QTRY_COMPARE_WITH_TIMEOUT(received, size + 1 + 6, 20000);
        QVERIFY2(tail.endsWith("x\nafter\n"), tail.constData());
        QTRY_VERIFY_WITH_TIMEOUT(!record->connection->writeBlocked(), 5000);
        QCOMPARE(locked(record, &Record::reads).size(), readsWhileBlocked + 1);
        QCOMPARE(locked(record, &Record::closeCount), 0);
    }

    void stopClosesEverything()
    {
        ferry::NetworkLimits limits;
        limits.ioThreads = 2;
        QVERIFY(startServer(limits));
        std::vector<QTcpSocket *> clients;
        for (int i = 0; i < 5; ++i) {
            QTcpSocket *c = connectClient();
            QVERIFY(c);
            clients.push_back(c);
            c->write("timer 1 60000\n"); // a pending timer must not outlive the server
        }
        QTRY_COMPARE_WITH_TIMEOUT(server_->connectionCount(), size_t(5), 5000);
        QTRY_COMPARE_WITH_TIMEOUT(recordCount(), size_t(5), 5000);
        const auto started = Clock::now();
        server_->stop();
        QVERIFY(Clock::now() - started < 5s);
        QCOMPARE(server_->connectionCount(), size_t(0));
        QVERIFY(server_->boundAddresses().empty());
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            for (const auto &r : g_records) {
                QCOMPARE(r->closeCount, 1);
                QCOMPARE(r->closeReason, FERRY_CLOSE_SHUTDOWN);
                QVERIFY(r->closeHookRan);
                QVERIFY(r->closeHookThread == r->thread);
            }
        }
        for (QTcpSocket *c : clients)
            QTRY_COMPARE_WITH_TIMEOUT(c->state(), QAbstractSocket::UnconnectedState, 5000);
        // Nothing listens any more.
        QTcpSocket late;
        late.connectToHost(QHostAddress::LocalHost, port_);
        QVERIFY(!late.waitForConnected(2000));
        server_->stop(); // idempotent
    }
};

QTEST_GUILESS_MAIN(TestNetworkServer)
#include "tst_network_server.moc"
