// tst_line_protocol: drives the clang-built example plugin (line-protocol) with no network and no broker.
//
// The plugin is sans-I/O, so the test plays the kernel: it loads the module the way the kernel does (resolve
// ferry_plugin_query, check the descriptor), gives it a fake protocol host that records every service call and
// every byte written, feeds bytes through on_read with the kernel's "unconsumed bytes are offered again" rule, and
// answers asynchronous calls through on_result/on_delivery when the test decides. That pins the protocol exactly:
// reply formats, reply order, escapes, ack numbering, framing errors and the limits.
//
// FERRY_EXAMPLE_PLUGIN (environment) is the module's path, produced by the examples.sdk_build_example fixture.
#include <ferry/ferry_protocol.h>

#include <QByteArray>
#include <QLibrary>
#include <QList>
#include <QString>
#include <QTest>

#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>

namespace {

// One recorded host service call.
struct Call {
    std::string op; // "declare", "publish", "subscribe", "unsubscribe", "ack", "nack", "pull", "commit"
    uint64_t correlationId = 0;
    QByteArray queue;
    QByteArray group;
    QByteArray body;
    uint32_t flags = 0;
    uint32_t messageFlags = 0;
    uint64_t subscriptionId = 0;
    uint64_t offset = 0;
    uint32_t count = 0; // prefetch (subscribe) or max_messages (pull)
    uint32_t waitMs = 0;
};

// A fake connection: everything the plugin writes, and whether it asked to close.
struct FakeConn {
    QByteArray written;
    bool closeRequested = false;
    QByteArray closeReason;
};

// The fake kernel state behind the host table. One per test function (tests run on one thread).
struct FakeKernel {
    std::deque<Call> calls;
    QByteArray maxLineBytes = "65536";
    ferry_status nextStatus = FERRY_OK; // synchronous return of the next queue service call
    uint64_t nextSubscriptionId = 42;
    QList<QByteArray> logLines;
};

FakeKernel *g_kernel = nullptr;

FakeConn *fake(ferry_conn *conn) { return reinterpret_cast<FakeConn *>(conn); }

ferry_status takeStatus()
{
    const ferry_status status = g_kernel->nextStatus;
    g_kernel->nextStatus = FERRY_OK;
    return status;
}

void hostLog(void *, int32_t, const char *text, size_t len) { g_kernel->logLines.append(QByteArray(text, qsizetype(len))); }

ferry_status hostConfigGet(void *, const char *key, char *buf, size_t cap, size_t *len)
{
    if (std::strcmp(key, "max_line_bytes") != 0)
        return FERRY_E_NOT_FOUND;
    const QByteArray &value = g_kernel->maxLineBytes;
    if (len != nullptr)
        *len = size_t(value.size());
    if (size_t(value.size()) + 1 > cap)
        return FERRY_E_TOO_LARGE;
    std::memcpy(buf, value.constData(), size_t(value.size()) + 1);
    return FERRY_OK;
}

uint64_t hostNow(void *) { return 1700000000000ull; }

ferry_status hostWrite(ferry_conn *conn, const uint8_t *data, size_t len)
{
    if (fake(conn)->closeRequested)
        return FERRY_E_CLOSED;
    fake(conn)->written.append(reinterpret_cast<const char *>(data), qsizetype(len));
    return FERRY_OK;
}

void hostClose(ferry_conn *conn, const char *reason)
{
    fake(conn)->closeRequested = true;
    fake(conn)->closeReason = reason;
}

ferry_status hostSetTimer(ferry_conn *, uint64_t, uint32_t) { return FERRY_OK; }
ferry_status hostCancelTimer(ferry_conn *, uint64_t) { return FERRY_OK; }
ferry_status hostPeerAddress(ferry_conn *, char *buf, size_t cap)
{
    std::snprintf(buf, cap, "127.0.0.1:1");
    return FERRY_OK;
}

ferry_status hostDeclare(ferry_conn *, uint64_t correlationId, const char *name, size_t len, uint32_t flags)
{
    Call call;
    call.op = "declare";
    call.correlationId = correlationId;
    call.queue = QByteArray(name, qsizetype(len));
    call.flags = flags;
    g_kernel->calls.push_back(call);
    return takeStatus();
}

ferry_status hostDelete(ferry_conn *, uint64_t, const char *, size_t, uint32_t) { return FERRY_E_UNSUPPORTED; }

ferry_status hostPublish(ferry_conn *, uint64_t correlationId, const char *queue, size_t queueLen,
                         const ferry_message *message, uint32_t flags)
{
    Call call;
    call.op = "publish";
    call.correlationId = correlationId;
    call.queue = QByteArray(queue, qsizetype(queueLen));
    call.body = QByteArray(reinterpret_cast<const char *>(message->body), qsizetype(message->body_len));
    call.flags = flags;
    call.messageFlags = message->flags;
    if (message->struct_size < sizeof(ferry_message))
        call.op = "publish-with-short-struct";
    g_kernel->calls.push_back(call);
    return takeStatus();
}

ferry_status hostSubscribe(ferry_conn *, const ferry_subscribe_options *options, uint64_t *subscriptionId)
{
    Call call;
    call.op = "subscribe";
    call.queue = QByteArray(options->queue, qsizetype(options->queue_len));
    call.count = options->prefetch;
    call.flags = options->flags;
    g_kernel->calls.push_back(call);
    const ferry_status status = takeStatus();
    if (status == FERRY_OK)
        *subscriptionId = g_kernel->nextSubscriptionId++;
    return status;
}

ferry_status hostUnsubscribe(ferry_conn *, uint64_t subscriptionId)
{
    Call call;
    call.op = "unsubscribe";
    call.subscriptionId = subscriptionId;
    g_kernel->calls.push_back(call);
    return takeStatus();
}

ferry_status recordAck(const char *op, uint64_t subscriptionId, uint64_t offset, uint32_t flags)
{
    Call call;
    call.op = op;
    call.subscriptionId = subscriptionId;
    call.offset = offset;
    call.flags = flags;
    g_kernel->calls.push_back(call);
    return takeStatus();
}

ferry_status hostAck(ferry_conn *, uint64_t sub, uint64_t offset, uint32_t flags) { return recordAck("ack", sub, offset, flags); }
ferry_status hostNack(ferry_conn *, uint64_t sub, uint64_t offset, uint32_t flags) { return recordAck("nack", sub, offset, flags); }

ferry_status hostPull(ferry_conn *, uint64_t correlationId, const char *queue, size_t queueLen, const char *group,
                      size_t groupLen, uint64_t fromOffset, uint32_t maxMessages, uint32_t waitMs)
{
    Call call;
    call.op = "pull";
    call.correlationId = correlationId;
    call.queue = QByteArray(queue, qsizetype(queueLen));
    call.group = QByteArray(group, qsizetype(groupLen));
    call.offset = fromOffset;
    call.count = maxMessages;
    call.waitMs = waitMs;
    g_kernel->calls.push_back(call);
    return takeStatus();
}

ferry_status hostCommit(ferry_conn *, uint64_t correlationId, const char *queue, size_t queueLen, const char *group,
                        size_t groupLen, uint64_t offset)
{
    Call call;
    call.op = "commit";
    call.correlationId = correlationId;
    call.queue = QByteArray(queue, qsizetype(queueLen));
    call.group = QByteArray(group, qsizetype(groupLen));
    call.offset = offset;
    g_kernel->calls.push_back(call);
    return takeStatus();
}

ferry_host makeBaseHost()
{
    ferry_host host{};
    host.struct_size = sizeof host;
    host.abi_major = FERRY_ABI_MAJOR;
    host.abi_minor = FERRY_ABI_MINOR;
    host.log = hostLog;
    host.config_get = hostConfigGet;
    host.now_ms = hostNow;
    host.monotonic_ms = hostNow;
    return host;
}

const ferry_host g_baseHost = makeBaseHost();

ferry_protocol_host makeProtocolHost()
{
    ferry_protocol_host host{};
    host.struct_size = sizeof host;
    host.base = &g_baseHost;
    host.write = hostWrite;
    host.close = hostClose;
    host.set_timer = hostSetTimer;
    host.cancel_timer = hostCancelTimer;
    host.peer_address = hostPeerAddress;
    host.queue_declare = hostDeclare;
    host.queue_delete = hostDelete;
    host.publish = hostPublish;
    host.subscribe = hostSubscribe;
    host.unsubscribe = hostUnsubscribe;
    host.ack = hostAck;
    host.nack = hostNack;
    host.pull = hostPull;
    host.commit_offset = hostCommit;
    return host;
}

const ferry_protocol_host g_protocolHost = makeProtocolHost();

} // namespace

class TestLineProtocol : public QObject {
    Q_OBJECT

private:
    QLibrary library_;
    const ferry_plugin_descriptor *descriptor_ = nullptr;
    const ferry_protocol_vtable *vtable_ = nullptr;
    std::unique_ptr<FakeKernel> kernel_;
    ferry_protocol *instance_ = nullptr;

    // One connection as the kernel sees it: the fake conn, the plugin's session and the unconsumed input. Like the
    // kernel, it always ends with on_close, also when a failed check leaves the test function early.
    struct Connection {
        const ferry_protocol_vtable *vtable = nullptr;
        FakeConn conn;
        ferry_session *session = nullptr;
        QByteArray unconsumed;
        bool closed = false;
        ~Connection()
        {
            if (!closed && session != nullptr)
                vtable->on_close(session, FERRY_CLOSE_SHUTDOWN);
        }
    };

    std::unique_ptr<Connection> open()
    {
        auto c = std::make_unique<Connection>();
        c->vtable = vtable_;
        const ferry_status status = vtable_->on_open(instance_, reinterpret_cast<ferry_conn *>(&c->conn), 0, &c->session);
        if (status != FERRY_OK || c->session == nullptr)
            return nullptr;
        return c;
    }

    void close(Connection &c, int32_t reason = FERRY_CLOSE_PEER)
    {
        if (!c.closed)
            vtable_->on_close(c.session, reason);
        c.closed = true;
    }

    // Appends bytes to the connection's input and calls on_read the way the kernel does. Returns its status.
    ferry_status feed(Connection &c, const QByteArray &bytes)
    {
        c.unconsumed.append(bytes);
        size_t consumed = 0;
        const ferry_status status = vtable_->on_read(c.session, reinterpret_cast<const uint8_t *>(c.unconsumed.constData()),
                                                     size_t(c.unconsumed.size()), &consumed);
        if (consumed > size_t(c.unconsumed.size()))
            qFatal("on_read consumed %zu of %lld bytes", consumed, static_cast<long long>(c.unconsumed.size()));
        c.unconsumed.remove(0, qsizetype(consumed));
        return status;
    }

    QByteArray takeOutput(Connection &c)
    {
        QByteArray out = c.conn.written;
        c.conn.written.clear();
        return out;
    }

    Call takeCall()
    {
        if (kernel_->calls.empty())
            return Call{};
        Call call = kernel_->calls.front();
        kernel_->calls.pop_front();
        return call;
    }

    void result(Connection &c, uint64_t correlationId, ferry_status status, uint64_t offset = 0, uint64_t messages = 0,
                uint64_t consumers = 0, const char *text = nullptr)
    {
        ferry_result r{};
        r.struct_size = sizeof r;
        r.correlation_id = correlationId;
        r.status = status;
        r.text = text;
        r.text_len = text != nullptr ? std::strlen(text) : 0;
        r.offset = offset;
        r.message_count = messages;
        r.consumer_count = consumers;
        vtable_->on_result(c.session, &r);
    }

    void deliver(Connection &c, uint64_t subscriptionId, uint64_t correlationId, const QByteArray &queue,
                 uint64_t offset, const QByteArray &body, bool redelivered = false)
    {
        ferry_message m{};
        m.struct_size = sizeof m;
        m.body = reinterpret_cast<const uint8_t *>(body.constData());
        m.body_len = size_t(body.size());
        m.origin_protocol = "line";
        ferry_delivery d{};
        d.struct_size = sizeof d;
        d.flags = redelivered ? FERRY_DELIVERY_REDELIVERED : 0;
        d.subscription_id = subscriptionId;
        d.correlation_id = correlationId;
        d.queue = queue.constData();
        d.queue_len = size_t(queue.size());
        d.offset = offset;
        d.delivery_count = redelivered ? 2 : 1;
        d.message = &m;
        vtable_->on_delivery(c.session, &d);
    }

private Q_SLOTS:
    void initTestCase()
    {
        const QString path = qEnvironmentVariable("FERRY_EXAMPLE_PLUGIN");
        QVERIFY2(!path.isEmpty(), "FERRY_EXAMPLE_PLUGIN is not set (run through CTest)");
        library_.setFileName(path);
        QVERIFY2(library_.load(), qPrintable(library_.errorString()));
        auto query = reinterpret_cast<ferry_plugin_query_fn>(library_.resolve(FERRY_PLUGIN_ENTRY_SYMBOL));
        QVERIFY2(query != nullptr, "no ferry_plugin_query in the module");

        char err[256] = "";
        ferry_host wrongMajor = g_baseHost;
        wrongMajor.abi_major = FERRY_ABI_MAJOR + 1;
        const ferry_plugin_descriptor *refused = nullptr;
        QCOMPARE(query(&wrongMajor, &refused, err, sizeof err), FERRY_E_ABI_MISMATCH);
        QVERIFY2(std::strstr(err, "ABI") != nullptr, err);
        QVERIFY(refused == nullptr);

        QCOMPARE(query(&g_baseHost, &descriptor_, err, sizeof err), FERRY_OK);
        QVERIFY(descriptor_ != nullptr);
        QCOMPARE(descriptor_->struct_size, uint32_t(sizeof(ferry_plugin_descriptor)));
        QCOMPARE(descriptor_->abi_major, uint16_t(FERRY_ABI_MAJOR));
        QCOMPARE(descriptor_->abi_minor, uint16_t(FERRY_ABI_MINOR));
        QCOMPARE(descriptor_->kind, FERRY_PLUGIN_KIND_PROTOCOL);
        QCOMPARE(QByteArray(descriptor_->name), QByteArray("line"));
        QCOMPARE(descriptor_->config_key_count, 1u);
        QCOMPARE(QByteArray(descriptor_->config_keys[0].name), QByteArray("max_line_bytes"));
        QCOMPARE(QByteArray(descriptor_->config_keys[0].default_value), QByteArray("65536"));

        vtable_ = static_cast<const ferry_protocol_vtable *>(descriptor_->vtable);
        QVERIFY(vtable_ != nullptr);
        QCOMPARE(vtable_->struct_size, uint32_t(sizeof(ferry_protocol_vtable)));
        QCOMPARE(vtable_->listener_count, 1u);
        QCOMPARE(QByteArray(vtable_->listeners[0].config_key), QByteArray("listen"));
        QCOMPARE(QByteArray(vtable_->listeners[0].default_address), QByteArray("127.0.0.1:7878"));
        QVERIFY(vtable_->init && vtable_->on_open && vtable_->on_read && vtable_->on_delivery && vtable_->on_result &&
                vtable_->on_timer && vtable_->on_close && vtable_->shutdown);
    }

    void init()
    {
        kernel_ = std::make_unique<FakeKernel>();
        g_kernel = kernel_.get();
        char err[256] = "";
        QCOMPARE(vtable_->init(&g_protocolHost, &instance_, err, sizeof err), FERRY_OK);
        QVERIFY(instance_ != nullptr);
    }

    void cleanup()
    {
        if (instance_ != nullptr)
            vtable_->shutdown(instance_);
        instance_ = nullptr;
        g_kernel = nullptr;
        kernel_.reset();
    }

    void initRejectsBadConfig()
    {
        for (const QByteArray &bad : {QByteArray("abc"), QByteArray("10"), QByteArray("99999999999"), QByteArray("")}) {
            kernel_->maxLineBytes = bad;
            ferry_protocol *other = nullptr;
            char err[256] = "";
            QCOMPARE(vtable_->init(&g_protocolHost, &other, err, sizeof err), FERRY_E_CONFIG);
            QVERIFY2(std::strstr(err, "max_line_bytes") != nullptr, err);
            QVERIFY(other == nullptr);
        }
        // A host table missing a service the plugin calls is refused with a message, not a crash later.
        ferry_protocol_host partial = g_protocolHost;
        partial.pull = nullptr;
        kernel_->maxLineBytes = "65536";
        ferry_protocol *other = nullptr;
        char err[256] = "";
        QCOMPARE(vtable_->init(&partial, &other, err, sizeof err), FERRY_E_ABI_MISMATCH);
        QVERIFY(std::strlen(err) > 0);
    }

    void declare()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "DECLARE jobs durable\nDECLARE temp\n"), FERRY_OK);
        QVERIFY(c->unconsumed.isEmpty());
        Call first = takeCall(), second = takeCall();
        QCOMPARE(QByteArray(first.op.c_str()), QByteArray("declare"));
        QCOMPARE(first.queue, QByteArray("jobs"));
        QCOMPARE(first.flags, uint32_t(FERRY_QUEUE_DURABLE));
        QVERIFY(first.correlationId != 0);
        QCOMPARE(second.queue, QByteArray("temp"));
        QCOMPARE(second.flags, 0u);
        QVERIFY(second.correlationId != first.correlationId && second.correlationId != 0);
        QCOMPARE(takeOutput(*c), QByteArray()); // nothing before the results
        result(*c, first.correlationId, FERRY_OK, 0, 3, 1);
        result(*c, second.correlationId, FERRY_E_NOT_FOUND, 0, 0, 0, "no such\nqueue");
        QCOMPARE(takeOutput(*c), QByteArray("OK 3 1\nERR -2 no such\\nqueue\n"));
        QCOMPARE(feed(*c, "declare q sometimes\nDECLARE\n"), FERRY_OK);
        QCOMPARE(takeOutput(*c), QByteArray("ERR -1 usage: DECLARE <queue> [durable]\n"
                                            "ERR -1 usage: DECLARE <queue> [durable]\n"));
        QVERIFY(kernel_->calls.empty());
        close(*c);
    }

    void publishRepliesInCommandOrder()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "PUB a first message\r\nPUB b second\n"), FERRY_OK);
        Call first = takeCall(), second = takeCall();
        QCOMPARE(QByteArray(first.op.c_str()), QByteArray("publish"));
        QCOMPARE(first.queue, QByteArray("a"));
        QCOMPARE(first.body, QByteArray("first message"));
        QVERIFY(first.messageFlags & FERRY_MESSAGE_PERSISTENT);
        QCOMPARE(first.flags, 0u);
        QCOMPARE(second.body, QByteArray("second"));
        result(*c, second.correlationId, FERRY_OK, 5);
        QCOMPARE(takeOutput(*c), QByteArray()); // held behind the first reply
        result(*c, first.correlationId, FERRY_OK, 7);
        QCOMPARE(takeOutput(*c), QByteArray("OK 7\nOK 5\n"));
        // A result for an unknown correlation id is ignored.
        result(*c, 999999, FERRY_OK, 1);
        QCOMPARE(takeOutput(*c), QByteArray());
        close(*c);
    }

    void publishEscapesAndEmptyBody()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "PUB q a\\nb\\x00c\\\\d\\te\\r\nPUB q\nPUB q  two spaces\n"), FERRY_OK);
        Call escaped = takeCall(), empty = takeCall(), spaces = takeCall();
        QCOMPARE(escaped.body, QByteArray("a\nb\0c\\d\te\r", 10));
        QCOMPARE(empty.op, std::string("publish"));
        QCOMPARE(empty.body, QByteArray());
        QCOMPARE(spaces.body, QByteArray(" two spaces"));
        QCOMPARE(feed(*c, "PUB q bad\\q\nPUB q trailing\\\nPUB q \\x4\n"), FERRY_OK);
        QVERIFY(kernel_->calls.empty());
        result(*c, escaped.correlationId, FERRY_OK, 0);
        result(*c, empty.correlationId, FERRY_OK, 1);
        result(*c, spaces.correlationId, FERRY_OK, 2);
        const QByteArray bad = "ERR -1 bad escape in text\n";
        QCOMPARE(takeOutput(*c), "OK 0\nOK 1\nOK 2\n" + bad + bad + bad);
        close(*c);
    }

    void synchronousRejection()
    {
        auto c = open();
        QVERIFY(c);
        kernel_->nextStatus = FERRY_E_ACCESS_DENIED;
        QCOMPARE(feed(*c, "PUB secret x\nDECLARE q\n"), FERRY_OK);
        Call rejected = takeCall(), declared = takeCall();
        QCOMPARE(rejected.op, std::string("publish"));
        QCOMPARE(takeOutput(*c), QByteArray("ERR -13 access denied\n"));
        result(*c, rejected.correlationId, FERRY_OK, 1); // no result follows a rejection; a stray one is ignored
        result(*c, declared.correlationId, FERRY_OK, 0, 0, 0);
        QCOMPARE(takeOutput(*c), QByteArray("OK 0 0\n"));
        close(*c);
    }

    void subscribeDeliverAckNack()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "SUB jobs 5\n"), FERRY_OK);
        Call sub = takeCall();
        QCOMPARE(sub.op, std::string("subscribe"));
        QCOMPARE(sub.queue, QByteArray("jobs"));
        QCOMPARE(sub.count, 5u);
        QCOMPARE(sub.flags, 0u); // explicit acks
        QCOMPARE(takeOutput(*c), QByteArray("OK 42\n"));

        deliver(*c, 42, 0, "jobs", 10, "hello world");
        deliver(*c, 42, 0, "jobs", 11, QByteArray("bin\x01\xff\n\\", 7), true);
        deliver(*c, 42, 0, "jobs", 12, "third");
        QCOMPARE(takeOutput(*c), QByteArray("MSG 1 jobs 10 0 hello world\n"
                                            "MSG 2 jobs 11 1 bin\\x01\\xFF\\n\\\\\n"
                                            "MSG 3 jobs 12 0 third\n"));

        QCOMPARE(feed(*c, "ACK 1\nACK 1\nNACK 2 requeue\nNACK 3\nACK 99\nACK x\nNACK 3 later\n"), FERRY_OK);
        Call ack = takeCall(), nackRequeue = takeCall(), nack = takeCall();
        QCOMPARE(ack.op, std::string("ack"));
        QCOMPARE(ack.subscriptionId, uint64_t(42));
        QCOMPARE(ack.offset, uint64_t(10));
        QCOMPARE(ack.flags, 0u);
        QCOMPARE(nackRequeue.op, std::string("nack"));
        QCOMPARE(nackRequeue.offset, uint64_t(11));
        QCOMPARE(nackRequeue.flags, uint32_t(FERRY_ACK_REQUEUE));
        QCOMPARE(nack.offset, uint64_t(12));
        QCOMPARE(nack.flags, 0u);
        QVERIFY(kernel_->calls.empty());
        QCOMPARE(takeOutput(*c), QByteArray("OK\n"
                                            "ERR -2 no unacked delivery with that number\n"
                                            "OK\n"
                                            "OK\n"
                                            "ERR -2 no unacked delivery with that number\n"
                                            "ERR -1 usage: ACK <n>\n"
                                            "ERR -1 usage: NACK <n> [requeue]\n"));

        // A failed ack keeps the number usable; UNSUB forgets the subscription's numbers.
        deliver(*c, 42, 0, "jobs", 13, "fourth");
        QCOMPARE(takeOutput(*c), QByteArray("MSG 4 jobs 13 0 fourth\n"));
        kernel_->nextStatus = FERRY_E_CLOSED;
        QCOMPARE(feed(*c, "ACK 4\n"), FERRY_OK);
        QCOMPARE(takeCall().op, std::string("ack"));
        QCOMPARE(takeOutput(*c), QByteArray("ERR -9 closed\n"));
        QCOMPARE(feed(*c, "UNSUB 42\nACK 4\n"), FERRY_OK);
        Call unsub = takeCall();
        QCOMPARE(unsub.op, std::string("unsubscribe"));
        QCOMPARE(unsub.subscriptionId, uint64_t(42));
        QVERIFY(kernel_->calls.empty());
        QCOMPARE(takeOutput(*c), QByteArray("OK\nERR -2 no unacked delivery with that number\n"));

        kernel_->nextStatus = FERRY_E_NOT_FOUND;
        QCOMPARE(feed(*c, "SUB missing\nSUB q notanumber\n"), FERRY_OK);
        QCOMPARE(takeCall().op, std::string("subscribe"));
        QCOMPARE(takeOutput(*c), QByteArray("ERR -2 not found\nERR -1 usage: SUB <queue> [prefetch]\n"));
        close(*c);
    }

    void manyDeliveriesKeepNumbering()
    {
        // Enough deliveries and acks to make the tag table compact itself several times.
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "SUB q\n"), FERRY_OK);
        takeCall();
        takeOutput(*c);
        for (int i = 1; i <= 2000; ++i) {
            deliver(*c, 42, 0, "q", uint64_t(1000 + i), "m");
            if (i % 3 != 0) {
                QCOMPARE(feed(*c, "ACK " + QByteArray::number(i) + "\n"), FERRY_OK);
                const Call ack = takeCall();
                QCOMPARE(ack.offset, uint64_t(1000 + i));
            }
        }
        // The unacked ones (every third) still map to their offsets.
        for (int i = 3; i <= 2000; i += 3) {
            QCOMPARE(feed(*c, "NACK " + QByteArray::number(i) + " requeue\n"), FERRY_OK);
            const Call nack = takeCall();
            QCOMPARE(nack.op, std::string("nack"));
            QCOMPARE(nack.offset, uint64_t(1000 + i));
        }
        QVERIFY(!takeOutput(*c).contains("ERR"));
        close(*c);
    }

    void pullAndCommit()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "PULL log g1 2\nPULL log g1\n"), FERRY_OK);
        Call pull = takeCall(), pullDefault = takeCall();
        QCOMPARE(pull.op, std::string("pull"));
        QCOMPARE(pull.queue, QByteArray("log"));
        QCOMPARE(pull.group, QByteArray("g1"));
        QCOMPARE(pull.offset, uint64_t(FERRY_OFFSET_COMMITTED));
        QCOMPARE(pull.count, 2u);
        QCOMPARE(pull.waitMs, 0u);
        QCOMPARE(pullDefault.count, 32u);
        deliver(*c, 0, pull.correlationId, "log", 0, "a");
        deliver(*c, 0, pull.correlationId, "log", 1, "b");
        deliver(*c, 0, pullDefault.correlationId, "log", 0, "a");
        QCOMPARE(takeOutput(*c), QByteArray());
        result(*c, pullDefault.correlationId, FERRY_OK, 1, 1);
        QCOMPARE(takeOutput(*c), QByteArray());
        result(*c, pull.correlationId, FERRY_OK, 2, 2);
        QCOMPARE(takeOutput(*c), QByteArray("MSG 0 log 0 0 a\nMSG 0 log 1 0 b\nEND 2\nMSG 0 log 0 0 a\nEND 1\n"));

        QCOMPARE(feed(*c, "COMMIT log g1 2\nCOMMIT log g1\nPULL log\nPULL log g 0\nPULL log g 5000\n"), FERRY_OK);
        Call commit = takeCall();
        QCOMPARE(commit.op, std::string("commit"));
        QCOMPARE(commit.offset, uint64_t(2));
        QCOMPARE(commit.group, QByteArray("g1"));
        QVERIFY(kernel_->calls.empty());
        QCOMPARE(takeOutput(*c), QByteArray());
        result(*c, commit.correlationId, FERRY_OK, 2);
        QCOMPARE(takeOutput(*c), QByteArray("OK\n"
                                            "ERR -1 usage: COMMIT <queue> <group> <offset>\n"
                                            "ERR -1 usage: PULL <queue> <group> [max 1..4096]\n"
                                            "ERR -1 usage: PULL <queue> <group> [max 1..4096]\n"
                                            "ERR -1 usage: PULL <queue> <group> [max 1..4096]\n"));
        close(*c);
    }

    void deliveriesWaitBehindPendingReplies()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "SUB q\nDECLARE q\n"), FERRY_OK);
        takeCall();
        Call declare = takeCall();
        QCOMPARE(takeOutput(*c), QByteArray("OK 42\n"));
        deliver(*c, 42, 0, "q", 0, "early");
        QCOMPARE(takeOutput(*c), QByteArray()); // DECLARE's reply comes first
        result(*c, declare.correlationId, FERRY_OK, 0, 0, 1);
        QCOMPARE(takeOutput(*c), QByteArray("OK 0 1\nMSG 1 q 0 0 early\n"));
        close(*c);
    }

    void partialLinesAndCaseInsensitivity()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "dec"), FERRY_OK);
        QCOMPARE(c->unconsumed, QByteArray("dec"));
        QCOMPARE(feed(*c, "lare q DURABLE\r"), FERRY_OK);
        QVERIFY(kernel_->calls.empty());
        QCOMPARE(feed(*c, "\n\n   \nsub"), FERRY_OK);
        QCOMPARE(c->unconsumed, QByteArray("sub"));
        Call declare = takeCall();
        QCOMPARE(declare.queue, QByteArray("q"));
        QCOMPARE(declare.flags, uint32_t(FERRY_QUEUE_DURABLE));
        QVERIFY(kernel_->calls.empty());
        close(*c);
    }

    void unknownCommandKeepsConnection()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "HELLO there\nDECLARE q\n"), FERRY_OK);
        QCOMPARE(takeOutput(*c),
                 QByteArray("ERR -6 unknown command (DECLARE PUB SUB UNSUB ACK NACK PULL COMMIT QUIT)\n"));
        QCOMPARE(takeCall().op, std::string("declare"));
        QVERIFY(!c->conn.closeRequested);
        close(*c);
    }

    void framingErrors_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QByteArray>("reason");
        QTest::newRow("control byte") << QByteArray("PUB q a\x01z\n") << QByteArray("control byte 0x01 at column 8");
        QTest::newRow("nul byte") << QByteArray("PUB q a\0z\n", 10) << QByteArray("control byte 0x00 at column 8");
        QTest::newRow("lone cr") << QByteArray("PUB q a\rz\n") << QByteArray("control byte 0x0D at column 8");
        QTest::newRow("escape byte") << QByteArray("\x1b[2J\n") << QByteArray("control byte 0x1B at column 1");
        QTest::newRow("del") << QByteArray("PUB q \x7f\n") << QByteArray("control byte 0x7F at column 7");
        QTest::newRow("invalid utf-8") << QByteArray("PUB q \xff\n") << QByteArray("invalid UTF-8 at column 7");
        QTest::newRow("overlong utf-8") << QByteArray("PUB q \xc0\xaf\n") << QByteArray("invalid UTF-8 at column 7");
        QTest::newRow("surrogate") << QByteArray("PUB q \xed\xa0\x80\n") << QByteArray("invalid UTF-8 at column 7");
        QTest::newRow("truncated utf-8") << QByteArray("PUB q \xe2\x82\n") << QByteArray("invalid UTF-8 at column 7");
    }

    void framingErrors()
    {
        QFETCH(QByteArray, input);
        QFETCH(QByteArray, reason);
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "DECLARE ok\n"), FERRY_OK);
        Call declare = takeCall();
        result(*c, declare.correlationId, FERRY_OK, 0, 0, 0);
        QCOMPARE(feed(*c, input), FERRY_E_PROTOCOL);
        QVERIFY(kernel_->calls.empty()); // nothing of the bad line reached the kernel
        QCOMPARE(takeOutput(*c), "OK 0 0\nERR -12 " + reason + "\n");
        close(*c, FERRY_CLOSE_PROTOCOL);
    }

    void validUtf8AndTabsPass()
    {
        auto c = open();
        QVERIFY(c);
        const QByteArray text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\xa2\tend";
        QCOMPARE(feed(*c, "PUB q " + text + "\n"), FERRY_OK);
        Call pub = takeCall();
        QCOMPARE(pub.body, text);
        QCOMPARE(takeOutput(*c), QByteArray());
        deliver(*c, 7, 0, "q", 0, text); // unknown subscription numbers are still shown; text is not escaped
        QVERIFY(takeOutput(*c).isEmpty()); // held behind the pending PUB
        result(*c, pub.correlationId, FERRY_OK, 0);
        QCOMPARE(takeOutput(*c), "OK 0\nMSG 1 q 0 0 " + text + "\n");
        close(*c);
    }

    void lineLengthLimit()
    {
        auto c = open();
        QVERIFY(c);
        // Exactly 65536 bytes of line (plus CRLF) is accepted, delivered in pieces.
        const QByteArray prefix = "PUB q ";
        const QByteArray longest = prefix + QByteArray(65536 - prefix.size(), 'x');
        for (qsizetype at = 0; at < longest.size(); at += 1000)
            QCOMPARE(feed(*c, longest.mid(at, 1000)), FERRY_OK);
        QCOMPARE(feed(*c, "\r"), FERRY_OK);
        QCOMPARE(feed(*c, "\n"), FERRY_OK);
        Call pub = takeCall();
        QCOMPARE(pub.body.size(), 65536 - prefix.size());
        result(*c, pub.correlationId, FERRY_OK, 0);
        QCOMPARE(takeOutput(*c), QByteArray("OK 0\n"));

        // One more byte is refused as soon as it cannot be a valid line, before any newline arrives.
        QCOMPARE(feed(*c, longest), FERRY_OK);
        QCOMPARE(feed(*c, "x"), FERRY_OK); // 65537 bytes: could still be 65536 + "\r"
        QCOMPARE(feed(*c, "y"), FERRY_E_PROTOCOL);
        QCOMPARE(takeOutput(*c), QByteArray("ERR -12 line longer than 65536 bytes\n"));
        QVERIFY(kernel_->calls.empty());
        close(*c, FERRY_CLOSE_PROTOCOL);

        // With a newline in the same read.
        auto d = open();
        QVERIFY(d);
        QCOMPARE(feed(*d, longest + "x\n"), FERRY_E_PROTOCOL);
        QCOMPARE(takeOutput(*d), QByteArray("ERR -12 line longer than 65536 bytes\n"));
        close(*d, FERRY_CLOSE_PROTOCOL);
    }

    void configuredLineLimit()
    {
        cleanup();
        kernel_ = std::make_unique<FakeKernel>();
        g_kernel = kernel_.get();
        kernel_->maxLineBytes = "64";
        char err[256] = "";
        QCOMPARE(vtable_->init(&g_protocolHost, &instance_, err, sizeof err), FERRY_OK);
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "PUB q " + QByteArray(58, 'a') + "\n"), FERRY_OK);
        QCOMPARE(takeCall().body.size(), qsizetype(58));
        QCOMPARE(feed(*c, "PUB q " + QByteArray(59, 'a') + "\n"), FERRY_E_PROTOCOL);
        QCOMPARE(takeOutput(*c), QByteArray("ERR -12 line longer than 64 bytes\n"));
        close(*c, FERRY_CLOSE_PROTOCOL);
    }

    void quitWaitsForPendingReplies()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "DECLARE q\nQUIT\nPUB q after quit\n"), FERRY_OK);
        QVERIFY(c->unconsumed.isEmpty());
        Call declare = takeCall();
        QVERIFY(kernel_->calls.empty()); // nothing after QUIT runs
        QVERIFY(!c->conn.closeRequested);
        QCOMPARE(takeOutput(*c), QByteArray());
        result(*c, declare.correlationId, FERRY_OK, 0, 2, 0);
        QCOMPARE(takeOutput(*c), QByteArray("OK 2 0\nBYE\n"));
        QVERIFY(c->conn.closeRequested);
        QCOMPARE(feed(*c, "PUB q more\n"), FERRY_OK); // bytes racing the close are ignored
        QVERIFY(kernel_->calls.empty());
        deliver(*c, 42, 0, "q", 0, "late");
        QCOMPARE(takeOutput(*c), QByteArray());
        close(*c, FERRY_CLOSE_REQUESTED);
    }

    void quitAlone()
    {
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "quit\n"), FERRY_OK);
        QCOMPARE(takeOutput(*c), QByteArray("BYE\n"));
        QVERIFY(c->conn.closeRequested);
        close(*c, FERRY_CLOSE_REQUESTED);
    }

    void pipeliningLimit()
    {
        auto c = open();
        QVERIFY(c);
        QByteArray many;
        for (int i = 0; i < 1024; ++i)
            many += "PUB q m\n";
        QCOMPARE(feed(*c, many), FERRY_OK);
        QCOMPARE(kernel_->calls.size(), size_t(1024));
        QCOMPARE(feed(*c, "PUB q one too many\n"), FERRY_E_BUSY);
        QCOMPARE(kernel_->calls.size(), size_t(1024));
        QCOMPARE(takeOutput(*c), QByteArray("ERR -14 too many commands in flight\n"));
        close(*c, FERRY_CLOSE_PROTOCOL); // frees 1024 pending slots
    }

    void closeWithPendingWorkFreesEverything()
    {
        // Meant to be run under valgrind/ASan too: every allocation must be released by on_close and shutdown.
        auto c = open();
        QVERIFY(c);
        QCOMPARE(feed(*c, "SUB q\nPUB q x\nPULL q g\nDECLARE q\nCOMMIT q g 1\npartial"), FERRY_OK);
        Call pull;
        for (const Call &call : kernel_->calls)
            if (call.op == "pull")
                pull = call;
        deliver(*c, 42, 0, "q", 0, "unacked");
        deliver(*c, 0, pull.correlationId, "q", 0, "pulled");
        close(*c, FERRY_CLOSE_SHUTDOWN);
        QVERIFY(c->closed);
    }
};

QTEST_APPLESS_MAIN(TestLineProtocol)
#include "tst_line_protocol.moc"
