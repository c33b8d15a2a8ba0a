// bench_amqp: AMQP 0-9-1 load against any broker (Ferry's amqp.listen, or RabbitMQ for the peer figures), through
// librabbitmq (rabbitmq-c), printed beside the machine's physical limits measured in the same run. A benchmark: it
// prints figures, checks message counts, and asserts nothing about speed.
//
//   bench_amqp [--url amqp://guest:guest@127.0.0.1:5672/] [--label NAME] [--seconds N | --messages M]
//              [--connections C] [--inflight W] [--consumers N] [--prefetch P] [--ack-every K] [--rate R]
//              [--prefill N] [--sizes 128,1024] [--only a,b] [--settle S] [--timeout S] [--dir DIR] [--json FILE]
//              [--no-reference]
//   bench_amqp --compare BASE.json [OTHER.json]      the side-by-side table of two --json runs, ratio OTHER/BASE
//
// Scenarios, for every body size (128 B and 1 KiB by default); each one starts on a freshly declared queue:
//   publish transient [confirm]    C connections publish delivery-mode 1 messages to a non-durable queue
//   publish persistent [confirm]   ... delivery-mode 2 messages to a durable queue; "confirm": publisher confirms,
//                                  a window of W unconfirmed messages per connection, latency = publish -> confirm
//   consume transient|persistent   N consumers drain a queue pre-filled (untimed) with --prefill messages:
//                                  basic.consume, manual acks, one multiple ack every K, basic.qos prefetch P
//   latency transient|persistent   one producer connection publishes at R msg/s, one consumer connection (its own
//                                  thread) consumes; each body carries its send time, latency = send -> delivered
// README.md says what each one measures and how to read the figures. Scenario keys (e.g.
// "publish-persistent-confirm-1024") do not depend on the broker or on the options, so two --json runs join on them.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr amqp_channel_t kChannel = 1;          // every bench connection uses one channel
constexpr int kFrameMax = 131072;               // what RabbitMQ offers by default
constexpr auto kNoProgress = 30s;               // no confirm / delivery / header for this long: the scenario fails
constexpr auto kDrain = 20s;                    // after the latency producer stops, what it sent has this long
const char *const kQueueTransient = "bench_amqp.transient";   // non-durable, not exclusive, not auto-delete
const char *const kQueuePersistent = "bench_amqp.persistent"; // durable

double msBetween(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double, std::milli>(b - a).count();
}
Clock::duration seconds(double s)
{
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}
std::string num(uint64_t v) { return std::to_string(v); }

// The first 16 bytes of every body: a sequence number (unique within a scenario) and the send time, this process's
// steady clock in nanoseconds. Bodies are never shorter.
struct Stamp {
    uint64_t seq = 0;
    int64_t sentNs = 0;
};
constexpr size_t kMinBody = sizeof(Stamp);

struct Options {
    std::string url = "amqp://guest:guest@127.0.0.1:5672/";
    std::string host, user, password, vhost;
    int port = 5672;
    QString label; // the broker's name in the output; default: the server's "product" property
    double seconds = 5;
    uint64_t messages = 0; // > 0: each publish and latency scenario sends this many messages instead
    int connections = 4, consumers = 1, inflight = 64, prefetch = 256, ackEvery = 64, rate = 2000;
    uint64_t prefill = 100000;
    std::vector<size_t> sizes{128, 1024};
    QStringList only;
    QString dir, json;
    bool reference = true;
    double timeout = 0; // seconds a scenario may take before the watchdog ends the process
    double settle = 1;  // seconds of pause before each scenario but the first (the last one's queue is deleted)
    QStringList compare;
};

// ---- the watchdog: a broker that stops answering must not hang the run ---------------------------------------------

std::atomic<int64_t> gDeadlineNs{0}; // 0: nothing running
std::string gRunning;                // the scenario the deadline is for (written before the deadline is set)

void armWatchdog(const std::string &what, double secondsFromNow)
{
    gDeadlineNs = 0;
    gRunning = what;
    gDeadlineNs = (Clock::now() + seconds(secondsFromNow)).time_since_epoch().count();
}
void disarmWatchdog() { gDeadlineNs = 0; }
void startWatchdog(double timeout)
{
    std::thread([timeout] {
        for (;;) {
            std::this_thread::sleep_for(200ms);
            const int64_t d = gDeadlineNs;
            if (d != 0 && Clock::now().time_since_epoch().count() > d) {
                std::fprintf(stderr,
                             "bench_amqp: %s did not finish within %.0f s (the broker stopped answering?); "
                             "giving up\n",
                             gRunning.c_str(), timeout);
                std::fflush(stdout);
                std::_Exit(3);
            }
        }
    }).detach();
}

// ---- one AMQP connection ------------------------------------------------------------------------------------------

std::string bytesText(amqp_bytes_t b) { return std::string(static_cast<const char *>(b.bytes), b.len); }

std::string describe(const amqp_rpc_reply_t &r)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return "ok";
    case AMQP_RESPONSE_NONE:
        return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const auto *m = static_cast<const amqp_connection_close_t *>(r.reply.decoded);
            return "connection.close " + num(m->reply_code) + " " + bytesText(m->reply_text);
        }
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const auto *m = static_cast<const amqp_channel_close_t *>(r.reply.decoded);
            return "channel.close " + num(m->reply_code) + " " + bytesText(m->reply_text);
        }
        return std::string("unexpected method ") + amqp_method_name(r.reply.id);
    }
    return "unknown reply type";
}

timeval toTimeval(Clock::duration d)
{
    const auto us = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    timeval tv{};
    tv.tv_sec = static_cast<decltype(tv.tv_sec)>(us / 1000000);
    tv.tv_usec = static_cast<decltype(tv.tv_usec)>(us % 1000000);
    return tv;
}

// A librabbitmq connection with channel 1 open, used from one thread. Every call that waits has a bound: connect
// 5 s, handshake 10 s, RPCs 30 s, frame waits as the caller says.
class Amqp {
public:
    enum class Got { Frame, Timeout, Failed };

    Amqp() = default;
    Amqp(const Amqp &) = delete;
    Amqp &operator=(const Amqp &) = delete;
    ~Amqp() { close(); }

    bool open(const Options &o)
    {
        conn = amqp_new_connection();
        amqp_socket_t *socket = conn ? amqp_tcp_socket_new(conn) : nullptr;
        if (!socket)
            return fail("cannot create a connection");
        timeval connectTimeout = toTimeval(5s), handshake = toTimeval(10s), rpc = toTimeval(30s);
        const int st = amqp_socket_open_noblock(socket, o.host.c_str(), o.port, &connectTimeout);
        if (st != AMQP_STATUS_OK)
            return fail("connect to " + o.host + ":" + std::to_string(o.port) + ": " + amqp_error_string2(st));
        amqp_set_handshake_timeout(conn, &handshake);
        amqp_set_rpc_timeout(conn, &rpc);
        const amqp_rpc_reply_t login = amqp_login(conn, o.vhost.c_str(), 0, kFrameMax, 0, AMQP_SASL_METHOD_PLAIN,
                                                  o.user.c_str(), o.password.c_str());
        if (login.reply_type != AMQP_RESPONSE_NORMAL)
            return fail("login to " + o.host + ":" + std::to_string(o.port) + ": " + describe(login));
        loggedIn_ = true;
        amqp_channel_open(conn, kChannel);
        return rpcOk("channel.open");
    }

    // After an RPC-style call: true if it succeeded, else notes why (and the channel is then unusable).
    bool rpcOk(const std::string &what)
    {
        const amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
        if (r.reply_type == AMQP_RESPONSE_NORMAL)
            return true;
        broken_ = true;
        return fail(what + ": " + describe(r));
    }

    bool publish(const std::string &queue, bool persistent, const std::string &body)
    {
        amqp_basic_properties_t props{};
        props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
        props.delivery_mode = persistent ? 2 : 1;
        const amqp_bytes_t bytes{body.size(), const_cast<char *>(body.data())};
        const int st = amqp_basic_publish(conn, kChannel, amqp_empty_bytes, amqp_cstring_bytes(queue.c_str()), 0, 0,
                                          &props, bytes);
        if (st == AMQP_STATUS_OK)
            return true;
        broken_ = true;
        return fail(std::string("basic.publish: ") + amqp_error_string2(st));
    }

    // The next frame, waiting at most `wait` (zero: only what is already buffered or readable). A connection.close
    // or channel.close from the broker is a failure that names its reply code and text.
    Got next(amqp_frame_t *f, Clock::duration wait)
    {
        timeval tv = toTimeval(wait);
        const int st = amqp_simple_wait_frame_noblock(conn, f, &tv);
        if (st == AMQP_STATUS_TIMEOUT)
            return Got::Timeout;
        if (st != AMQP_STATUS_OK) {
            broken_ = true;
            fail(std::string("connection lost: ") + amqp_error_string2(st));
            return Got::Failed;
        }
        if (f->frame_type == AMQP_FRAME_METHOD && (f->payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
                                                   f->payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)) {
            amqp_rpc_reply_t r{};
            r.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
            r.reply = f->payload.method;
            broken_ = true;
            fail("the broker closed: " + describe(r));
            return Got::Failed;
        }
        return Got::Frame;
    }
    bool buffered() const { return amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn); }

    // queue.declare with passive=1 as a round trip: the broker has processed everything this channel sent before.
    // Returns the queue's ready-message count, or -1. `wait` bounds this one call (the RPC timeout is 30 s).
    int64_t depth(const std::string &queue, Clock::duration wait = 30s)
    {
        timeval tv = toTimeval(wait), usual = toTimeval(30s);
        amqp_set_rpc_timeout(conn, &tv);
        const amqp_queue_declare_ok_t *ok =
            amqp_queue_declare(conn, kChannel, amqp_cstring_bytes(queue.c_str()), 1, 0, 0, 0, amqp_empty_table);
        amqp_set_rpc_timeout(conn, &usual);
        return rpcOk("queue.declare(passive) " + queue) && ok ? static_cast<int64_t>(ok->message_count) : -1;
    }

    // A fresh, empty queue: queue.delete, then queue.declare.
    bool reset(const std::string &queue, bool durable)
    {
        amqp_queue_delete(conn, kChannel, amqp_cstring_bytes(queue.c_str()), 0, 0);
        if (!rpcOk("queue.delete " + queue))
            return false;
        amqp_queue_declare(conn, kChannel, amqp_cstring_bytes(queue.c_str()), 0, durable, 0, 0, amqp_empty_table);
        return rpcOk("queue.declare " + queue);
    }
    bool remove(const std::string &queue)
    {
        amqp_queue_delete(conn, kChannel, amqp_cstring_bytes(queue.c_str()), 0, 0);
        return rpcOk("queue.delete " + queue);
    }

    // basic.qos (prefetch count) and basic.consume with manual acks.
    bool consume(const std::string &queue, int prefetch)
    {
        amqp_basic_qos(conn, kChannel, 0, static_cast<uint16_t>(prefetch), 0);
        if (!rpcOk("basic.qos"))
            return false;
        amqp_basic_consume(conn, kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 0, 0,
                           amqp_empty_table);
        return rpcOk("basic.consume " + queue);
    }

    bool ack(uint64_t tag, bool multiple)
    {
        const int st = amqp_basic_ack(conn, kChannel, tag, multiple);
        if (st == AMQP_STATUS_OK)
            return true;
        broken_ = true;
        return fail(std::string("basic.ack: ") + amqp_error_string2(st));
    }

    std::string serverProperty(const char *key) const
    {
        const amqp_table_t *t = conn ? amqp_get_server_properties(conn) : nullptr;
        for (int i = 0; t && i < t->num_entries; ++i)
            if (bytesText(t->entries[i].key) == key && (t->entries[i].value.kind == AMQP_FIELD_KIND_UTF8 ||
                                                        t->entries[i].value.kind == AMQP_FIELD_KIND_BYTES))
                return bytesText(t->entries[i].value.value.bytes);
        return {};
    }

    // channel.close and connection.close when the connection is still sound (5 s each at most), then frees it.
    void close()
    {
        if (!conn)
            return;
        if (loggedIn_ && !broken_) {
            timeval quick = toTimeval(5s);
            amqp_set_rpc_timeout(conn, &quick);
            if (amqp_channel_close(conn, kChannel, AMQP_REPLY_SUCCESS).reply_type == AMQP_RESPONSE_NORMAL)
                amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(conn);
        conn = nullptr;
    }

    amqp_connection_state_t conn = nullptr;
    std::string error; // the first failure

private:
    bool fail(const std::string &why)
    {
        if (error.empty())
            error = why;
        return false;
    }
    bool loggedIn_ = false, broken_ = false;
};

// One whole basic.deliver: method, content header and body frames. Only the Stamp is copied out of the body.
struct Delivery {
    uint64_t tag = 0, size = 0;
    bool redelivered = false;
    Stamp stamp;
};

// The next delivery on c; Timeout when no basic.deliver started within `wait` (the frames after it get 30 s).
// Frames other than deliveries (basic.consume-ok, basic.qos-ok late, ...) are skipped.
Amqp::Got readDelivery(Amqp &c, Delivery *d, Clock::duration wait)
{
    amqp_frame_t f;
    for (;;) {
        const Amqp::Got g = c.next(&f, wait);
        if (g != Amqp::Got::Frame)
            return g;
        if (f.frame_type == AMQP_FRAME_METHOD && f.payload.method.id == AMQP_BASIC_DELIVER_METHOD)
            break;
    }
    const auto *m = static_cast<const amqp_basic_deliver_t *>(f.payload.method.decoded);
    d->tag = m->delivery_tag;
    d->redelivered = m->redelivered != 0;
    const auto expect = [&](uint8_t type, const char *what) {
        const Amqp::Got g = c.next(&f, kNoProgress);
        if (g == Amqp::Got::Frame && f.frame_type != type)
            c.error = c.error.empty() ? std::string("expected a ") + what + " frame after basic.deliver" : c.error;
        else if (g == Amqp::Got::Timeout && c.error.empty())
            c.error = std::string("no ") + what + " frame within 30 s after basic.deliver";
        return g == Amqp::Got::Frame && f.frame_type == type;
    };
    if (!expect(AMQP_FRAME_HEADER, "content header"))
        return Amqp::Got::Failed;
    d->size = f.payload.properties.body_size;
    unsigned char head[sizeof(Stamp)] = {};
    size_t headLen = 0;
    for (uint64_t got = 0; got < d->size; got += f.payload.body_fragment.len) {
        if (!expect(AMQP_FRAME_BODY, "content body"))
            return Amqp::Got::Failed;
        const size_t n = std::min(sizeof head - headLen, f.payload.body_fragment.len);
        std::memcpy(head + headLen, f.payload.body_fragment.bytes, n);
        headLen += n;
    }
    std::memcpy(&d->stamp, head, sizeof head);
    amqp_maybe_release_buffers(c.conn);
    return Amqp::Got::Frame;
}

// ---- figures ------------------------------------------------------------------------------------------------------

// What one thread of a scenario measured. begin/end bound its measured part.
struct Tally {
    uint64_t messages = 0, bytes = 0, errors = 0, published = 0, confirmed = 0, nacked = 0, redelivered = 0;
    std::vector<float> latencyMs;
    std::vector<uint64_t> seqs; // consumers: the sequence number of every delivery, for the lost/duplicate check
    Clock::time_point begin = Clock::time_point::max(), end = Clock::time_point::min();
    std::string error;

    void note(const std::string &text)
    {
        if (error.empty() && !text.empty())
            error = text;
    }
};

struct Result {
    std::string scenario, key;
    size_t body = 0;
    std::string conns; // connections, for the table: "4", or "1+1" (producer + consumer)
    Tally total;
    double seconds = 0;
    double limitMBs = 0; // the loopback reference, for "of limit"; 0: none
    bool hasLatency = false;
    QJsonObject extra; // scenario-specific figures and checks for the JSON

    double msgsPerSec() const { return seconds > 0 ? total.messages / seconds : 0; }
    double mbPerSec() const { return seconds > 0 ? total.bytes / seconds / 1e6 : 0; }
    double percentile(double q) const // nearest rank
    {
        const auto &v = total.latencyMs;
        return v.empty() ? NAN : v[std::clamp<size_t>(static_cast<size_t>(std::ceil(q * v.size())), 1, v.size()) - 1];
    }
    void note(const std::string &text) { total.note(text); }
    void error(const std::string &text)
    {
        ++total.errors;
        total.note(text);
    }
};

std::string keyOf(const std::string &scenario, size_t body)
{
    std::string key = scenario;
    std::replace(key.begin(), key.end(), ' ', '-');
    return key + "-" + std::to_string(body);
}

Result merge(const std::string &scenario, size_t body, const std::string &conns, std::vector<Tally> &parts)
{
    Result r;
    r.scenario = scenario;
    r.key = keyOf(scenario, body);
    r.body = body;
    r.conns = conns;
    Tally &t = r.total;
    for (Tally &p : parts) {
        t.messages += p.messages;
        t.bytes += p.bytes;
        t.errors += p.errors;
        t.published += p.published;
        t.confirmed += p.confirmed;
        t.nacked += p.nacked;
        t.redelivered += p.redelivered;
        t.latencyMs.insert(t.latencyMs.end(), p.latencyMs.begin(), p.latencyMs.end());
        t.seqs.insert(t.seqs.end(), p.seqs.begin(), p.seqs.end());
        t.begin = std::min(t.begin, p.begin);
        t.end = std::max(t.end, p.end);
        t.note(p.error);
    }
    std::sort(t.latencyMs.begin(), t.latencyMs.end());
    r.seconds = t.end > t.begin ? msBetween(t.begin, t.end) / 1000 : 0;
    return r;
}

// Every sequence number in [0, expected) delivered exactly once? Counts lost and duplicated deliveries as errors.
void checkSequence(Result &r, uint64_t expected)
{
    std::vector<uint8_t> seen(expected, 0);
    uint64_t duplicates = 0, foreign = 0;
    for (const uint64_t s : r.total.seqs) {
        if (s >= expected)
            ++foreign;
        else if (seen[s]++)
            ++duplicates;
    }
    const uint64_t lost = static_cast<uint64_t>(std::count(seen.begin(), seen.end(), 0));
    r.extra["expected"] = qint64(expected);
    r.extra["lost"] = qint64(lost);
    r.extra["duplicates"] = qint64(duplicates);
    if (r.total.redelivered)
        r.extra["redelivered"] = qint64(r.total.redelivered);
    if (lost || duplicates || foreign) {
        r.total.errors += lost + duplicates + foreign;
        r.note(num(lost) + " of " + num(expected) + " messages lost, " + num(duplicates) + " duplicated" +
               (foreign ? ", " + num(foreign) + " unknown sequence numbers" : ""));
    }
}

// Runs fn(index, tally, go) on n threads. Each calls go() once set up; the measured parts start when all have. A
// thread that returns without calling go() counts as having called it, so a failure cannot hang the others.
std::vector<Tally> runThreads(int n, const std::function<void(int, Tally &, const std::function<void()> &)> &fn)
{
    std::vector<Tally> tallies(n);
    std::barrier<> start(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            bool started = false;
            const std::function<void()> go = [&] {
                if (!std::exchange(started, true))
                    start.arrive_and_wait();
            };
            fn(i, tallies[i], go);
            if (!started)
                start.arrive_and_drop();
        });
    for (std::thread &t : threads)
        t.join();
    return tallies;
}

// ---- scenarios ----------------------------------------------------------------------------------------------------

struct Plan {
    const Options *opt = nullptr;
    size_t body = 0;
    bool persistent = false;
    std::string queue() const { return persistent ? kQueuePersistent : kQueueTransient; }
    const char *durability() const { return persistent ? "persistent" : "transient"; }
};

std::string makeBody(size_t size) { return std::string(std::max(size, kMinBody), 'x'); }
void stamp(std::string &body, uint64_t seq)
{
    const Stamp s{seq, Clock::now().time_since_epoch().count()};
    std::memcpy(body.data(), &s, sizeof s);
}

// One connection's publishing: `quota` messages if set, else until `deadline`; sequence numbers firstSeq, firstSeq+1...
// Without confirms it ends with a round trip (queue.declare passive) that waits behind whatever this channel still
// has buffered in the broker (bounded by --timeout, not 30 s: after a flood that is the broker's whole backlog). With confirms it keeps at most `window` unconfirmed and ends when all are confirmed; latency is
// publish -> confirm (read by polling the socket every 16 publishes, or waiting when the window is full).
void publishLoop(Amqp &c, Tally &t, const Plan &plan, bool confirm, int window, std::optional<uint64_t> quota,
                 Clock::time_point deadline, uint64_t firstSeq)
{
    std::string body = makeBody(plan.body);
    const std::string queue = plan.queue();
    const auto done = [&](Clock::time_point now) { return quota ? t.published >= *quota : now >= deadline; };
    t.begin = Clock::now();
    if (!confirm) {
        while (!done(Clock::now())) {
            stamp(body, firstSeq + t.published);
            if (!c.publish(queue, plan.persistent, body))
                return t.note(c.error);
            ++t.published;
            t.bytes += body.size();
        }
        if (c.depth(queue, seconds(plan.opt->timeout)) < 0)
            return t.note(c.error);
        t.messages = t.published;
        t.end = Clock::now();
        return;
    }
    // Unconfirmed publishes in delivery-tag order: tag = firstTag + index; confirmed ones are popped from the front.
    std::deque<std::pair<Clock::time_point, bool>> pending;
    uint64_t firstTag = 1;
    bool stopped = false;
    const auto settle = [&](uint64_t tag, bool multiple, bool ok) {
        const auto now = Clock::now();
        if (multiple && tag == 0) // "everything so far"
            tag = firstTag + pending.size() - 1;
        if (tag < firstTag || tag >= firstTag + pending.size())
            return t.note("a confirm for unknown delivery tag " + num(tag));
        const size_t from = multiple ? 0 : tag - firstTag;
        for (size_t i = from; i <= tag - firstTag; ++i) {
            if (pending[i].second)
                continue;
            pending[i].second = true;
            (ok ? t.confirmed : t.nacked) += 1;
            t.latencyMs.push_back(static_cast<float>(msBetween(pending[i].first, now)));
            if (ok) {
                ++t.messages;
                t.bytes += body.size();
            } else {
                ++t.errors;
                t.note("basic.nack from the broker");
            }
        }
        while (!pending.empty() && pending.front().second) {
            pending.pop_front();
            ++firstTag;
        }
        t.end = now;
    };
    const auto handle = [&](const amqp_frame_t &f) {
        if (f.frame_type != AMQP_FRAME_METHOD)
            return;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            const auto *a = static_cast<const amqp_basic_ack_t *>(f.payload.method.decoded);
            settle(a->delivery_tag, a->multiple, true);
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            const auto *n = static_cast<const amqp_basic_nack_t *>(f.payload.method.decoded);
            settle(n->delivery_tag, n->multiple, false);
        }
    };
    for (;;) {
        const auto now = Clock::now();
        stopped = stopped || done(now);
        const bool full = static_cast<int>(pending.size()) >= window;
        if (!stopped && !full) {
            stamp(body, firstSeq + t.published);
            if (!c.publish(queue, plan.persistent, body))
                return t.note(c.error);
            ++t.published;
            pending.emplace_back(Clock::now(), false);
            if (t.published % 16 != 0 && !c.buffered())
                continue;
        } else if (pending.empty()) {
            break;
        }
        // Window full or publishing over: wait for a confirm. Otherwise take whatever confirms are readable now.
        const bool wait = stopped || static_cast<int>(pending.size()) >= window;
        amqp_frame_t f;
        Amqp::Got g = c.next(&f, wait ? Clock::duration(kNoProgress) : Clock::duration::zero());
        if (g == Amqp::Got::Timeout && wait)
            return t.note(num(pending.size()) + " publishes unconfirmed after 30 s");
        while (g == Amqp::Got::Frame) {
            handle(f);
            amqp_maybe_release_buffers(c.conn);
            g = c.buffered() ? c.next(&f, Clock::duration::zero()) : Amqp::Got::Timeout;
        }
        if (g == Amqp::Got::Failed)
            return t.note(c.error);
    }
}

// Publish throughput: --connections connections, each its share of --messages or until --seconds have passed.
Result runPublish(const Plan &plan, bool confirm)
{
    const Options &o = *plan.opt;
    const std::string name = std::string("publish ") + plan.durability() + (confirm ? " confirm" : "");
    Amqp setup;
    std::vector<Tally> none;
    if (!setup.open(o) || !setup.reset(plan.queue(), plan.persistent)) {
        Result r = merge(name, plan.body, std::to_string(o.connections), none);
        r.error(setup.error);
        return r;
    }
    auto tallies = runThreads(o.connections, [&](int index, Tally &t, const std::function<void()> &go) {
        Amqp c;
        if (!c.open(o))
            return t.note(c.error);
        if (confirm && (amqp_confirm_select(c.conn, kChannel), !c.rpcOk("confirm.select")))
            return t.note(c.error);
        const uint64_t quota = o.messages / o.connections + (static_cast<uint64_t>(index) < o.messages % o.connections);
        go();
        const auto deadline = Clock::now() + seconds(o.seconds);
        publishLoop(c, t, plan, confirm, o.inflight, o.messages ? std::optional(quota) : std::nullopt, deadline,
                    static_cast<uint64_t>(index) << 40);
    });
    Result r = merge(name, plan.body, std::to_string(o.connections), tallies);
    r.hasLatency = confirm;
    // Without confirms the producers' own round trips do not prove the queue has every message: RabbitMQ, for one,
    // answers queue.declare(passive) ahead of the publishes still in its queue process's mailbox. So the clock stops
    // when queue.declare(passive) counts them all (polled every 5 ms; given up after 30 s without progress).
    const uint64_t expected = r.total.published - r.total.nacked;
    int64_t depth = setup.depth(plan.queue());
    if (!confirm) {
        r.extra["client_seconds"] = r.seconds; // publishing and the producers' round trips
        for (auto progress = Clock::now(); depth >= 0 && static_cast<uint64_t>(depth) < expected &&
                                           Clock::now() - progress < kNoProgress;) {
            std::this_thread::sleep_for(5ms);
            const int64_t now = setup.depth(plan.queue());
            if (now != depth)
                progress = Clock::now();
            depth = now;
        }
        if (r.total.messages > 0 && depth >= 0) {
            r.total.end = std::max(r.total.end, Clock::now());
            r.seconds = msBetween(r.total.begin, r.total.end) / 1000;
        }
    }
    r.extra["published"] = qint64(r.total.published);
    r.extra["queue_depth"] = qint64(depth);
    if (confirm) {
        r.extra["confirmed"] = qint64(r.total.confirmed);
        r.extra["nacked"] = qint64(r.total.nacked);
        if (r.total.confirmed + r.total.nacked != r.total.published)
            r.error(num(r.total.published) + " published, " + num(r.total.confirmed) + " confirmed, " +
                    num(r.total.nacked) + " nacked");
    }
    if (depth < 0)
        r.error(setup.error);
    else if (static_cast<uint64_t>(depth) != expected)
        r.error("queue.declare(passive) counts " + num(depth) + " messages; " + num(expected) +
                " were published and not nacked");
    setup.remove(plan.queue());
    return r;
}

// Shared by the consumers of one scenario.
struct ConsumeState {
    std::atomic<uint64_t> target{0};     // stop once this many deliveries arrived (all consumers together)
    std::atomic<uint64_t> received{0};
    std::atomic<bool> producerDone{true}; // the latency scenario's producer still publishing: false
    std::atomic<int64_t> lastProgressNs{0};
};

// One consumer connection: basic.consume with manual acks, one multiple ack every K deliveries (and one for the rest
// at the end), until `state.target` deliveries have arrived across all consumers. With `latency`, every delivery's
// send-to-delivered time is recorded. `subscribed` is called once basic.consume-ok is in.
void consumeLoop(Amqp &c, Tally &t, const Plan &plan, ConsumeState &state, bool latency,
                 const std::function<void()> &subscribed)
{
    const Options &o = *plan.opt;
    t.begin = Clock::now();
    if (!c.consume(plan.queue(), o.prefetch))
        return t.note(c.error);
    subscribed();
    if (latency)
        t.begin = Clock::now();
    uint64_t unacked = 0, lastTag = 0;
    std::optional<Clock::time_point> drainUntil;
    while (!(state.producerDone && state.received >= state.target)) {
        if (latency && state.producerDone && !drainUntil)
            drainUntil = Clock::now() + kDrain;
        Delivery d;
        const Amqp::Got g = readDelivery(c, &d, 100ms);
        const auto now = Clock::now();
        if (g == Amqp::Got::Failed)
            return t.note(c.error);
        if (g == Amqp::Got::Timeout) {
            const auto last = Clock::time_point(Clock::duration(state.lastProgressNs.load()));
            if ((drainUntil && now > *drainUntil) || (!latency && now - last > kNoProgress)) {
                const uint64_t target = state.target, received = state.received;
                t.note(num(target - std::min(target, received)) + " messages never arrived");
                break;
            }
            continue;
        }
        if (latency)
            t.latencyMs.push_back(static_cast<float>(msBetween(Clock::time_point(Clock::duration(d.stamp.sentNs)),
                                                                now)));
        t.seqs.push_back(d.stamp.seq);
        t.redelivered += d.redelivered;
        ++t.messages;
        t.bytes += d.size;
        lastTag = d.tag;
        if (++unacked >= static_cast<uint64_t>(o.ackEvery)) {
            if (!c.ack(lastTag, true))
                return t.note(c.error);
            unacked = 0;
        }
        t.end = now;
        ++state.received;
        state.lastProgressNs = now.time_since_epoch().count();
    }
    if (unacked && !c.ack(lastTag, true))
        t.note(c.error);
    if (t.messages == 0)
        t.begin = Clock::time_point::max();
}

// Consume throughput: the queue is filled with --prefill messages first (one connection, confirms, untimed and
// checked), then --consumers connections drain it. Time runs from basic.consume to the last delivery.
Result runConsume(const Plan &plan)
{
    const Options &o = *plan.opt;
    const std::string name = std::string("consume ") + plan.durability();
    std::vector<Tally> none;
    Amqp setup;
    Tally fill;
    if (setup.open(o) && setup.reset(plan.queue(), plan.persistent) &&
        (amqp_confirm_select(setup.conn, kChannel), setup.rpcOk("confirm.select")))
        publishLoop(setup, fill, plan, true, std::max(o.inflight, 256), o.prefill, Clock::time_point::max(), 0);
    disarmWatchdog(); // the pre-fill is not timed; the drain gets a timeout of its own
    armWatchdog("scenario " + keyOf(name, plan.body) + " (after its pre-fill)", o.timeout);
    fill.note(setup.error);
    const int64_t depth = fill.error.empty() ? setup.depth(plan.queue()) : -1;
    if (!fill.error.empty() || fill.confirmed != o.prefill || depth != static_cast<int64_t>(o.prefill)) {
        Result r = merge(name, plan.body, std::to_string(o.consumers), none);
        r.error("pre-filling " + num(o.prefill) + " messages: " +
                (fill.error.empty() ? num(fill.confirmed) + " confirmed, queue depth " + std::to_string(depth)
                                    : fill.error));
        return r;
    }
    const double fillSeconds = msBetween(fill.begin, fill.end) / 1000;
    ConsumeState state;
    state.target = o.prefill;
    auto tallies = runThreads(o.consumers, [&](int, Tally &t, const std::function<void()> &go) {
        Amqp c;
        if (!c.open(o))
            return t.note(c.error);
        go();
        state.lastProgressNs = Clock::now().time_since_epoch().count();
        consumeLoop(c, t, plan, state, false, [] {});
    });
    Result r = merge(name, plan.body, std::to_string(o.consumers), tallies);
    checkSequence(r, o.prefill);
    r.extra["prefill_msgs_per_s"] = fillSeconds > 0 ? o.prefill / fillSeconds : 0;
    setup.remove(plan.queue());
    return r;
}

// End-to-end latency: thread 0 publishes at --rate msg/s (no confirms) for --seconds or --messages, thread 1
// consumes on its own connection, subscribed before the first publish. Latency = send time in the body -> the
// consumer has the whole delivery. Every message must arrive exactly once.
Result runLatency(const Plan &plan)
{
    const Options &o = *plan.opt;
    const std::string name = std::string("latency ") + plan.durability();
    std::vector<Tally> none;
    Amqp setup;
    if (!setup.open(o) || !setup.reset(plan.queue(), plan.persistent)) {
        Result r = merge(name, plan.body, "1+1", none);
        r.error(setup.error);
        return r;
    }
    ConsumeState state;
    state.target = 0;
    state.producerDone = false;
    std::atomic<uint64_t> published{0};
    double behind = 0; // ms the producer's last publish was late against its schedule
    auto tallies = runThreads(2, [&](int index, Tally &t, const std::function<void()> &go) {
        Amqp c;
        if (index == 1) {
            if (c.open(o))
                consumeLoop(c, t, plan, state, true, go);
            return t.note(c.error);
        }
        const auto finish = [&] {
            state.target = published.load();
            state.producerDone = true;
        };
        if (!c.open(o))
            return t.note(c.error), finish();
        std::string body = makeBody(plan.body);
        go();
        const auto start = Clock::now(), deadline = start + seconds(o.seconds);
        t.begin = start;
        for (uint64_t n = 0;; ++n) {
            const auto due = start + seconds(double(n) / o.rate);
            if (o.messages ? n >= o.messages : due >= deadline)
                break;
            std::this_thread::sleep_until(due);
            behind = msBetween(due, Clock::now());
            stamp(body, n);
            if (!c.publish(plan.queue(), plan.persistent, body))
                return t.note(c.error), finish();
            published = n + 1;
        }
        t.published = published;
        if (c.depth(plan.queue()) < 0)
            t.note(c.error);
        finish();
    });
    // The producer's tally counts no messages, so merge() spans producer start -> last delivery.
    Result r = merge(name, plan.body, "1+1", tallies);
    r.hasLatency = true;
    checkSequence(r, r.total.published);
    r.extra["published"] = qint64(r.total.published);
    r.extra["rate"] = o.rate;
    const double sendSeconds = o.messages ? double(o.messages) / o.rate : o.seconds;
    if (r.total.published < 0.95 * o.rate * sendSeconds)
        r.note("the producer published " + num(r.total.published) + " messages, fewer than its rate asks for");
    if (behind > 100)
        r.note("the producer ended " + std::to_string(static_cast<int>(behind)) + " ms behind its schedule");
    setup.remove(plan.queue());
    return r;
}

// ---- the physical reference --------------------------------------------------------------------------------------

// Forces what was written to `file` to stable storage: fdatasync on Linux, fsync elsewhere on POSIX,
// FlushFileBuffers through a second handle on Windows. The bench's only platform-specific code.
bool syncToDisk(QFile &file)
{
#ifdef _WIN32
    const std::wstring name = QDir::toNativeSeparators(file.fileName()).toStdWString();
    HANDLE h = CreateFileW(name.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE)
        return false;
    const BOOL ok = FlushFileBuffers(h);
    CloseHandle(h);
    return ok != 0;
#elif defined(__linux__)
    return ::fdatasync(file.handle()) == 0;
#else
    return ::fsync(file.handle()) == 0;
#endif
}

struct Reference {
    double loopbackMBs = 0; // one TCP stream through 127.0.0.1, in process
    double diskSeqMBs = 0;  // 256 MiB in 1 MiB writes, then one sync
    double syncsPerSec = 0; // 4 KiB appends each followed by a sync: the ceiling of durable writes not grouped
};

// Bytes/s through one loopback TCP stream: a receiving thread reads until it has `total` bytes.
double loopbackMBs(qint64 total, qint64 chunk)
{
    std::promise<quint16> listening;
    Clock::time_point finished{};
    qint64 received = 0;
    std::thread receiver([&] {
        QTcpServer server;
        listening.set_value(server.listen(QHostAddress::LocalHost, 0) ? server.serverPort() : 0);
        if (!server.waitForNewConnection(10000))
            return;
        QTcpSocket *peer = server.nextPendingConnection();
        std::vector<char> buffer(1 << 20);
        while (received < total && (peer->bytesAvailable() > 0 || peer->waitForReadyRead(10000)))
            received += peer->read(buffer.data(), static_cast<qint64>(buffer.size()));
        finished = Clock::now();
    });
    const quint16 port = listening.get_future().get();
    QTcpSocket sender;
    sender.connectToHost(QHostAddress::LocalHost, port);
    const bool connected = port != 0 && sender.waitForConnected(10000);
    const QByteArray block(static_cast<qsizetype>(chunk), 'x');
    const auto start = Clock::now();
    for (qint64 sent = 0; connected && sent < total; sent += chunk) {
        sender.write(block);
        if (sender.bytesToWrite() > 4 * chunk)
            sender.waitForBytesWritten(10000);
    }
    while (connected && sender.bytesToWrite() > 0 && sender.waitForBytesWritten(10000)) {
    }
    receiver.join();
    return received >= total ? total / (msBetween(start, finished) / 1000) / 1e6 : 0;
}

Reference measureReference(const QString &dir)
{
    Reference ref;
    ref.loopbackMBs = loopbackMBs(256ll << 20, 64 << 10);
    const auto mode = QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Unbuffered;
    QFile seq(QDir(dir).filePath("reference-seq.bin"));
    if (seq.open(mode)) {
        const QByteArray block(1 << 20, 'x');
        const auto start = Clock::now();
        bool ok = true;
        for (int i = 0; i < 256 && ok; ++i)
            ok = seq.write(block) == block.size();
        if (ok && syncToDisk(seq))
            ref.diskSeqMBs = 256.0 * block.size() / (msBetween(start, Clock::now()) / 1000) / 1e6;
        seq.remove();
    }
    QFile synced(QDir(dir).filePath("reference-sync.bin"));
    if (synced.open(mode)) {
        const QByteArray block(4096, 'x');
        const auto start = Clock::now();
        uint64_t n = 0;
        while (Clock::now() - start < 1s && synced.write(block) == block.size() && syncToDisk(synced))
            ++n;
        ref.syncsPerSec = n / (msBetween(start, Clock::now()) / 1000);
        synced.remove();
    }
    return ref;
}

// ---- output -------------------------------------------------------------------------------------------------------

std::string fixed(double v, int decimals = 2)
{
    if (std::isnan(v))
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

void printHeader()
{
    std::printf("%-27s %6s %5s %9s %7s %7s %7s %7s %7s %7s %8s  %s\n", "scenario", "body", "conns", "msgs/s", "MB/s",
                "p50", "p90", "p99", "p99.9", "max", "of limit", "check");
}

void printRow(const Result &r)
{
    const auto lat = [&](double q) { return r.hasLatency ? fixed(r.percentile(q)) : std::string("-"); };
    const std::string limit = r.limitMBs > 0 ? fixed(100 * r.mbPerSec() / r.limitMBs, 1) + "%" : "-";
    const std::string check = r.total.errors ? num(r.total.errors) + " errors" : r.total.error.empty() ? "ok" : "note";
    std::printf("%-27s %4zu B %5s %9.0f %7.2f %7s %7s %7s %7s %7s %8s  %s\n", r.scenario.c_str(), r.body,
                r.conns.c_str(), r.msgsPerSec(), r.mbPerSec(), lat(0.5).c_str(), lat(0.9).c_str(), lat(0.99).c_str(),
                lat(0.999).c_str(), lat(1.0).c_str(), limit.c_str(), check.c_str());
    if (!r.total.error.empty())
        std::printf("  ! %s\n", r.total.error.c_str());
    std::fflush(stdout);
}

QJsonObject toJson(const Result &r)
{
    QJsonObject o = r.extra;
    o["key"] = QString::fromStdString(r.key);
    o["scenario"] = QString::fromStdString(r.scenario);
    o["body_bytes"] = qint64(r.body);
    o["connections"] = QString::fromStdString(r.conns);
    o["messages"] = qint64(r.total.messages);
    o["errors"] = qint64(r.total.errors);
    o["seconds"] = r.seconds;
    o["msgs_per_s"] = r.msgsPerSec();
    o["mb_per_s"] = r.mbPerSec();
    if (r.limitMBs > 0)
        o["of_limit"] = r.mbPerSec() / r.limitMBs;
    if (r.hasLatency && !r.total.latencyMs.empty())
        o["latency_ms"] = QJsonObject{{"samples", qint64(r.total.latencyMs.size())}, {"p50", r.percentile(0.5)},
                                      {"p90", r.percentile(0.9)}, {"p99", r.percentile(0.99)},
                                      {"p99_9", r.percentile(0.999)}, {"max", r.percentile(1.0)}};
    if (!r.total.error.empty())
        o["first_error"] = QString::fromStdString(r.total.error);
    return o;
}

QJsonObject optionsJson(const Options &o)
{
    QJsonArray sizes;
    for (const size_t s : o.sizes)
        sizes.append(qint64(s));
    return QJsonObject{{"seconds", o.seconds},         {"messages", qint64(o.messages)},
                       {"connections", o.connections}, {"inflight", o.inflight},
                       {"consumers", o.consumers},     {"prefetch", o.prefetch},
                       {"ack_every", o.ackEvery},      {"rate", o.rate},
                       {"prefill", qint64(o.prefill)}, {"sizes", sizes},
                       {"settle", o.settle}};
}

// ---- --compare ----------------------------------------------------------------------------------------------------

std::optional<QJsonObject> readRun(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll());
    return doc.isObject() && doc.object().contains("results") ? std::optional(doc.object()) : std::nullopt;
}

// The table of two runs joined on the scenario key: throughput, p50 and p99 of both, and OTHER/BASE ratios.
// Without OTHER (its run failed), BASE's figures with "-" for the rest.
int printComparison(const QStringList &files)
{
    const std::optional<QJsonObject> base = readRun(files.value(0));
    if (!base) {
        std::fprintf(stderr, "bench_amqp: %s is not a bench_amqp --json file\n", qPrintable(files.value(0)));
        return 2;
    }
    std::optional<QJsonObject> other;
    if (files.size() > 1 && !(other = readRun(files[1])))
        std::printf("(%s: no figures; only %s is shown)\n", qPrintable(files[1]), qPrintable(files[0]));
    const QString baseName = base->value("label").toString();
    const QString otherName = other                ? other->value("label").toString()
                              : files.size() > 1 ? QFileInfo(files[1]).baseName() // its run left no figures
                                                 : QStringLiteral("-");
    std::printf("AMQP: %s %s vs %s %s; ratio = %s / %s\n", qPrintable(baseName),
                qPrintable(base->value("server_version").toString()), qPrintable(otherName),
                other ? qPrintable(other->value("server_version").toString()) : "", qPrintable(otherName),
                qPrintable(baseName));
    std::printf("msgs/s ratio > 1: %s is faster; latency ratio < 1: %s is faster. Latency in ms: publish -> confirm "
                "for the confirm rows, send -> delivered for the latency rows. ! = a run with errors (see its own "
                "table).\n",
                qPrintable(otherName), qPrintable(otherName));
    if (other && base->value("options").toObject() != other->value("options").toObject())
        std::printf("WARNING: the two runs used different options:\n  %s\n  %s\n",
                    QJsonDocument(base->value("options").toObject()).toJson(QJsonDocument::Compact).constData(),
                    QJsonDocument(other->value("options").toObject()).toJson(QJsonDocument::Compact).constData());
    std::map<QString, QJsonObject> otherRows;
    if (other)
        for (const QJsonValue &v : other->value("results").toArray())
            otherRows[v.toObject().value("key").toString()] = v.toObject();
    const QByteArray a = baseName.left(9).toUtf8(), b = otherName.left(9).toUtf8();
    std::printf("\n%-27s %6s | %9s %9s %6s | %9s %9s %6s | %9s %9s %6s\n", "", "", "msgs/s", "", "", "p50 ms", "", "",
                "p99 ms", "", "");
    std::printf("%-27s %6s | %9s %9s %6s | %9s %9s %6s | %9s %9s %6s\n", "scenario", "body", a.constData(),
                b.constData(), "ratio", a.constData(), b.constData(), "ratio", a.constData(), b.constData(), "ratio");
    const auto latency = [](const QJsonObject &row, const char *q) {
        return row.contains("latency_ms") ? row.value("latency_ms").toObject().value(q).toDouble(NAN) : NAN;
    };
    const auto ratio = [](double x, double y) { return x > 0 && y >= 0 ? fixed(y / x) : std::string("-"); };
    const auto cell = [](double v, int decimals) { return fixed(v, decimals); };
    for (const QJsonValue &v : base->value("results").toArray()) {
        const QJsonObject r = v.toObject();
        const QString key = r.value("key").toString();
        const auto it = otherRows.find(key);
        const bool has = it != otherRows.end();
        const QJsonObject o = has ? it->second : QJsonObject{};
        const double t1 = r.value("msgs_per_s").toDouble(), t2 = has ? o.value("msgs_per_s").toDouble() : NAN;
        const double p1 = latency(r, "p50"), p2 = has ? latency(o, "p50") : NAN;
        const double q1 = latency(r, "p99"), q2 = has ? latency(o, "p99") : NAN;
        const bool bad = r.value("errors").toInt() > 0 || (has && o.value("errors").toInt() > 0);
        const QByteArray name = (r.value("scenario").toString() + (bad ? " !" : "")).toUtf8();
        std::printf("%-27s %4lld B | %9s %9s %6s | %9s %9s %6s | %9s %9s %6s\n", name.constData(),
                    static_cast<long long>(r.value("body_bytes").toInteger()), cell(t1, 0).c_str(),
                    cell(t2, 0).c_str(), has ? ratio(t1, t2).c_str() : "-", cell(p1, 2).c_str(), cell(p2, 2).c_str(),
                    has && !std::isnan(p1) ? ratio(p1, p2).c_str() : "-", cell(q1, 2).c_str(), cell(q2, 2).c_str(),
                    has && !std::isnan(q1) ? ratio(q1, q2).c_str() : "-");
    }
    return other || files.size() < 2 ? 0 : 1;
}

// ---- options ------------------------------------------------------------------------------------------------------

std::optional<Options> parseOptions(const QCoreApplication &app)
{
    QCommandLineParser p;
    p.setApplicationDescription("AMQP 0-9-1 load (librabbitmq) against a running broker: publish, consume and "
                                "end-to-end latency, beside the machine's physical limits.");
    p.addHelpOption();
    p.addOptions({{"url", "Broker to load.", "amqp://user:pass@host:port/vhost", "amqp://guest:guest@127.0.0.1:5672/"},
                  {"label", "The broker's name in the output (default: its 'product' server property).", "name"},
                  {"seconds", "Duration of each publish and latency scenario.", "n", "5"},
                  {"messages", "Messages per publish and latency scenario instead of a duration.", "m", "0"},
                  {"connections", "Publishing connections.", "c", "4"},
                  {"inflight", "Publisher-confirm window: unconfirmed messages per connection.", "w", "64"},
                  {"consumers", "Consuming connections in the consume scenarios.", "n", "1"},
                  {"prefetch", "basic.qos prefetch count of every consumer.", "p", "256"},
                  {"ack-every", "One multiple basic.ack every K deliveries.", "k", "64"},
                  {"rate", "The latency producer's rate, messages/s.", "r", "2000"},
                  {"prefill", "Messages pre-filled for each consume scenario (default: --messages, else 100000).",
                   "n"},
                  {"sizes", "Body sizes in bytes, comma-separated (at least 16).", "list", "128,1024"},
                  {"only", "Run only the scenarios whose key contains one of these, comma-separated.", "list"},
                  {"dir", "Directory for the disk reference files (default: a fresh temporary one).", "dir"},
                  {"json", "Also write every figure as JSON to this file.", "file"},
                  {"no-reference", "Skip measuring the physical reference."},
                  {"settle", "Seconds of pause between scenarios (the broker cleans up the deleted queue).", "s",
                   "1"},
                  {"timeout", "Seconds a scenario may take before bench_amqp gives up (default: max(120, 20 x "
                              "--seconds)).",
                   "s"},
                  {"compare", "Print the table of two --json runs (BASE [OTHER] as arguments) and exit."}});
    p.addPositionalArgument("files", "With --compare: BASE.json [OTHER.json].", "[files...]");
    p.process(app);
    Options o;
    const char *bad = nullptr;
    if (p.isSet("compare")) {
        o.compare = p.positionalArguments();
        if (o.compare.isEmpty() || o.compare.size() > 2)
            bad = "--compare wants BASE.json and optionally OTHER.json";
        if (bad)
            std::fprintf(stderr, "bench_amqp: %s\n", bad);
        return bad ? std::nullopt : std::optional<Options>(o);
    }
    o.url = p.value("url").toStdString();
    std::vector<char> url(o.url.begin(), o.url.end());
    url.push_back('\0');
    amqp_connection_info info{};
    if (amqp_parse_url(url.data(), &info) != AMQP_STATUS_OK || info.ssl)
        bad = "--url wants amqp://user:password@host:port/vhost (no amqps)";
    else {
        o.host = info.host;
        o.port = info.port;
        o.user = info.user;
        o.password = info.password;
        o.vhost = *info.vhost ? info.vhost : "/"; // amqp://host:port/ means the default vhost here
    }
    o.label = p.value("label");
    o.seconds = p.value("seconds").toDouble();
    o.messages = p.value("messages").toULongLong();
    o.connections = p.value("connections").toInt();
    o.inflight = p.value("inflight").toInt();
    o.consumers = p.value("consumers").toInt();
    o.prefetch = p.value("prefetch").toInt();
    o.ackEvery = p.value("ack-every").toInt();
    o.rate = p.value("rate").toInt();
    o.prefill = p.isSet("prefill") ? p.value("prefill").toULongLong() : o.messages ? o.messages : 100000;
    o.sizes.clear();
    for (const QString &s : p.value("sizes").split(',', Qt::SkipEmptyParts))
        o.sizes.push_back(s.toULongLong());
    for (const QString &s : p.value("only").split(',', Qt::SkipEmptyParts))
        o.only.append(s.trimmed());
    o.dir = p.value("dir");
    o.json = p.value("json");
    o.reference = !p.isSet("no-reference");
    o.settle = p.value("settle").toDouble();
    o.timeout = p.isSet("timeout") ? p.value("timeout").toDouble() : std::max(120.0, 20 * o.seconds);
    if (bad) {
    } else if (o.connections < 1 || o.inflight < 1 || o.consumers < 1 || o.rate < 1 || o.prefill < 1 ||
               (o.seconds <= 0 && o.messages == 0) || o.timeout <= 0)
        bad = "--connections, --inflight, --consumers, --rate, --prefill, --timeout and --seconds (or --messages) "
              "must be positive";
    else if (o.prefetch < 1 || o.prefetch > 65535 || o.ackEvery < 1 || o.ackEvery > o.prefetch)
        bad = "--prefetch must be 1..65535 and --ack-every 1..prefetch (a consumer acking less often than its "
              "prefetch stalls)";
    else if (o.sizes.empty() || std::any_of(o.sizes.begin(), o.sizes.end(), [](size_t s) { return s < kMinBody; }))
        bad = "--sizes wants body sizes of at least 16 bytes (the sequence number and send time)";
    if (bad)
        std::fprintf(stderr, "bench_amqp: %s\n", bad);
    return bad ? std::nullopt : std::optional<Options>(o);
}

bool selected(const Options &o, const std::string &key)
{
    if (o.only.isEmpty())
        return true;
    return std::any_of(o.only.begin(), o.only.end(),
                       [&](const QString &s) { return QString::fromStdString(key).contains(s); });
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const std::optional<Options> parsed = parseOptions(app);
    if (!parsed)
        return 2;
    Options opt = *parsed;
    if (!opt.compare.isEmpty())
        return printComparison(opt.compare);
    startWatchdog(opt.timeout);

    // Who answers: one connection before anything else, so an unreachable broker fails at once.
    std::string product, version;
    {
        armWatchdog("connecting", opt.timeout);
        Amqp probe;
        if (!probe.open(opt)) {
            std::fprintf(stderr, "bench_amqp: %s\n", probe.error.c_str());
            return 1;
        }
        product = probe.serverProperty("product");
        version = probe.serverProperty("version");
        disarmWatchdog();
    }
    if (opt.label.isEmpty())
        opt.label = product.empty() ? QStringLiteral("broker") : QString::fromStdString(product);
    const std::string shownUrl = "amqp://" + opt.user + "@" + opt.host + ":" + std::to_string(opt.port) + "/" +
                                 (opt.vhost == "/" ? "" : opt.vhost);
    const QString amount =
        opt.messages ? QString::number(opt.messages) + " messages" : QString::number(opt.seconds) + " s";
    std::printf("bench_amqp: %s (%s %s, label %s), %d cores, %s per publish/latency scenario\n", shownUrl.c_str(),
                product.c_str(), version.c_str(), qPrintable(opt.label), QThread::idealThreadCount(),
                qPrintable(amount));
    std::printf("publish: %d connections, confirm window %d; consume: %d consumer(s), %llu pre-filled messages, "
                "prefetch %d, multiple ack every %d; latency: %d msg/s, 1 producer + 1 consumer\n",
                opt.connections, opt.inflight, opt.consumers, static_cast<unsigned long long>(opt.prefill),
                opt.prefetch, opt.ackEvery, opt.rate);

    Reference ref;
    if (opt.reference) { // the temp dir lives only this long, so a watchdog exit later leaves nothing behind
        QTemporaryDir temp(QDir::temp().filePath("ferry-bench-amqp-XXXXXX"));
        const QString root = opt.dir.isEmpty() ? temp.path() : opt.dir;
        QDir().mkpath(root);
        ref = measureReference(root);
        std::printf("physical reference (this run, disk in %s):\n", qPrintable(root));
        std::printf("  loopback TCP        %6.0f MB/s  (256 MiB in 64 KiB writes, one stream, in process)\n",
                    ref.loopbackMBs);
        std::printf("  disk sequential     %6.0f MB/s  (256 MiB in 1 MiB writes, then one sync)\n", ref.diskSeqMBs);
        std::printf("  disk synced writes  %6.0f /s    (4 KiB append + fdatasync each)\n", ref.syncsPerSec);
    }
    std::printf("MB/s counts message bodies; latency in ms (confirm rows: publish -> confirm; latency rows: send -> "
                "delivered); of limit = MB/s / loopback TCP\n\n");
    printHeader();

    QJsonArray rows;
    uint64_t errors = 0;
    // Per body size: the four publish scenarios, then consume and latency, transient before persistent.
    int ran = 0;
    const auto scenario = [&](const std::string &name, size_t body, const std::function<Result()> &run) {
        const std::string key = keyOf(name, body);
        if (!selected(opt, key))
            return;
        if (opt.settle > 0 && ran++)
            std::this_thread::sleep_for(seconds(opt.settle));
        armWatchdog("scenario " + key, opt.timeout);
        Result r = run();
        disarmWatchdog();
        if (name.rfind("latency", 0) != 0) // a paced producer: bandwidth is not what limits it
            r.limitMBs = ref.loopbackMBs;
        errors += r.total.errors;
        printRow(r);
        rows.append(toJson(r));
    };
    for (const size_t body : opt.sizes) {
        const Plan transient{&opt, body, false}, persistent{&opt, body, true};
        for (const Plan *plan : {&transient, &persistent}) {
            const std::string d = plan->durability();
            scenario("publish " + d, body, [&] { return runPublish(*plan, false); });
            scenario("publish " + d + " confirm", body, [&] { return runPublish(*plan, true); });
        }
        for (const Plan *plan : {&transient, &persistent})
            scenario(std::string("consume ") + plan->durability(), body, [&] { return runConsume(*plan); });
        for (const Plan *plan : {&transient, &persistent})
            scenario(std::string("latency ") + plan->durability(), body, [&] { return runLatency(*plan); });
    }

    int exitCode = errors ? 1 : 0;
    if (!opt.json.isEmpty()) {
        const QJsonObject doc{{"label", opt.label},
                              {"server_product", QString::fromStdString(product)},
                              {"server_version", QString::fromStdString(version)},
                              {"url", QString::fromStdString(shownUrl)},
                              {"cores", QThread::idealThreadCount()},
                              {"options", optionsJson(opt)},
                              {"reference", QJsonObject{{"loopback_mb_per_s", ref.loopbackMBs},
                                                        {"disk_sequential_mb_per_s", ref.diskSeqMBs},
                                                        {"disk_syncs_per_s", ref.syncsPerSec}}},
                              {"results", rows}};
        QFile out(opt.json);
        if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate) || out.write(QJsonDocument(doc).toJson()) < 0) {
            std::fprintf(stderr, "bench_amqp: cannot write %s\n", qPrintable(opt.json));
            exitCode = 1;
        }
    }
    return exitCode;
}
