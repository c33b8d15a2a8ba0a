// bench_rocket: RocketMQ remoting load against a real ferry-broker, printed beside the machine's physical limits
// measured in the same run (loopback TCP, sequential disk write, synced small writes), so each figure reads as a
// fraction of what the machine can do at all. A benchmark: it prints figures and asserts nothing about speed.
//
//   bench_rocket [--broker PATH | --broker-addr HOST:PORT] [--flush sync|async|both] [--seconds N | --messages M]
//                [--connections C] [--inflight K] [--rate R] [--dir DIR] [--json FILE]
//
// Scenarios, for bodies of 128 B and 1 KiB: sync send (SEND_MESSAGE_V2, one request in flight per connection),
// pipelined send (K in flight), batch send (SEND_BATCH_MESSAGE, 32 messages a request), pull consume of everything
// the sends stored, and long-poll consume while one producer sends at R msg/s (end-to-end latency). README.md says
// what each one measures, and the caveats.
//
// With its own broker, every scenario runs in a fresh broker process on the flush mode's data directory (so the pull
// scenario finds what the sends stored), and the storage sync count the broker logs when it stops gives that
// scenario's syncs/s. Client and broker share the machine's cores.
#include "codec/MessageFormat.h"
#include "codec/RemotingCommand.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
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
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
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
using rocket::RemotingCommand;
using namespace std::chrono_literals;

constexpr int kQueues = 4;     // read and write queues of every bench topic
constexpr int kBatchSize = 32; // messages per SEND_BATCH_MESSAGE
constexpr int kPullMax = 32;   // maxMsgNums of a pull
constexpr size_t kBodySizes[] = {128, 1024};

double msBetween(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double, std::milli>(b - a).count();
}
Clock::duration seconds(double s)
{
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

struct Options {
    QString brokerExe;
    QString brokerHost; // with brokerPort != 0: an external broker, never started or stopped here
    quint16 brokerPort = 0;
    QStringList flushModes;
    double seconds = 5;
    uint64_t messages = 0; // > 0: each scenario sends this many messages instead of running for `seconds`
    int connections = 4, inflight = 32;
    int rate = 2000; // long-poll producer, messages per second
    QString dir;     // data directories and reference files; empty: a fresh temporary directory
    QString json;
};

// Forces what was written to `file` onto stable storage the way the file storage plugin does (FileIo.cpp): fdatasync
// on Linux, fsync on other POSIX systems, FlushFileBuffers through a second handle on Windows. The bench's only
// platform-specific code.
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

// ---- one remoting connection -----------------------------------------------------------------------------------

// A client connection driven from one thread with blocking QTcpSocket calls (no event loop). send() only buffers;
// bytes leave on flush() or while receive() waits. Callers match responses to requests by opaque.
class Connection {
public:
    enum class Recv { Frame, Timeout, Failed };

    bool open(const QString &host, quint16 port, std::string *error)
    {
        socket_.connectToHost(host, port);
        if (!socket_.waitForConnected(10000)) {
            *error = "connect to " + host.toStdString() + ":" + std::to_string(port) + ": " +
                     socket_.errorString().toStdString();
            return false;
        }
        socket_.setSocketOption(QAbstractSocket::LowDelayOption, 1);
        return true;
    }

    // Buffers the request under a fresh opaque, which it returns.
    int32_t send(RemotingCommand &request)
    {
        request.opaque = nextOpaque_++;
        const std::string frame = rocket::encodeFrame(request);
        socket_.write(frame.data(), static_cast<qint64>(frame.size()));
        wireBytes += frame.size();
        return request.opaque;
    }
    void flush() { socket_.flush(); }

    // The next response frame (requests from the broker are skipped), waiting at most until `deadline`.
    Recv receive(RemotingCommand *out, Clock::time_point deadline)
    {
        for (;;) {
            while (pos_ < in_.size()) {
                size_t frameBytes = 0;
                std::string why;
                const auto st = rocket::decodeFrame(reinterpret_cast<const uint8_t *>(in_.data()) + pos_,
                                                    in_.size() - pos_, out, &frameBytes, &why);
                if (st == rocket::DecodeStatus::NeedMore)
                    break;
                if (st == rocket::DecodeStatus::Malformed) {
                    error = "malformed frame from the broker: " + why;
                    return Recv::Failed;
                }
                pos_ += frameBytes;
                if (out->isResponse())
                    return Recv::Frame;
            }
            in_.erase(0, pos_);
            pos_ = 0;
            if (socket_.bytesToWrite() > 0)
                socket_.flush();
            if (socket_.bytesAvailable() == 0) {
                // Whole milliseconds, rounded up, so a paced sender sleeps instead of spinning.
                const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
                if (left <= 0)
                    return Recv::Timeout;
                // Short waits, retried: waitForReadyRead may return false spuriously on Windows.
                if (!socket_.waitForReadyRead(static_cast<int>(std::min<long long>(left, 100)))) {
                    if (socket_.state() == QAbstractSocket::ConnectedState)
                        continue;
                    error = "connection lost: " + socket_.errorString().toStdString();
                    return Recv::Failed;
                }
            }
            const QByteArray chunk = socket_.readAll();
            in_.append(chunk.constData(), static_cast<size_t>(chunk.size()));
            wireBytes += static_cast<uint64_t>(chunk.size());
        }
    }

    // One request and its response; nullopt (with `error`) when none came within 10 s.
    std::optional<RemotingCommand> call(RemotingCommand request)
    {
        const int32_t opaque = send(request);
        const auto deadline = Clock::now() + 10s;
        RemotingCommand response;
        for (Recv r; (r = receive(&response, deadline)) == Recv::Frame;)
            if (response.opaque == opaque)
                return response;
        if (error.empty())
            error = "no answer to request code " + std::to_string(request.code);
        return std::nullopt;
    }

    uint64_t wireBytes = 0; // bytes written and read, whole frames
    std::string error;

private:
    QTcpSocket socket_;
    std::string in_; // received bytes; in_[0, pos_) are decoded already
    size_t pos_ = 0;
    int32_t nextOpaque_ = 1;
};

// ---- requests ------------------------------------------------------------------------------------------------

using Fields = std::initializer_list<std::pair<const char *, std::string>>;
std::string num(int64_t v) { return std::to_string(v); }

RemotingCommand request(int code, Fields fields)
{
    RemotingCommand c;
    c.code = code;
    c.language = "CPP";
    c.version = 401; // V4_9_4
    for (const auto &[key, value] : fields)
        c.set(key, value);
    return c;
}

// SEND_MESSAGE_V2 (310, header keys a..l), or SEND_BATCH_MESSAGE (320, the same header with m=true). queueId (e) and
// bornTimestamp (g) are set per send.
RemotingCommand sendRequest(const std::string &topic, bool batch)
{
    RemotingCommand c = request(batch ? 320 : 310, {{"a", "bench_producer"}, {"b", topic}, {"c", "TBW102"},
                                                    {"d", num(kQueues)}, {"e", "0"}, {"f", "0"}, {"g", "0"}, {"h", "0"},
                                                    {"j", "0"}, {"k", "false"}, {"l", "16"}});
    if (batch)
        c.set("m", "true");
    else
        c.set("i", rocket::encodeProperties({{"TAGS", "A"}}));
    return c;
}

// PULL_MESSAGE (11) with the request's own subscription "*"; a long poll adds SUSPEND and a 15 s suspend timeout.
RemotingCommand pullRequest(const std::string &topic, const char *group, int queueId, int64_t offset, int maxMsgs,
                            bool longPoll)
{
    return request(11, {{"consumerGroup", group}, {"topic", topic}, {"queueId", num(queueId)},
                        {"queueOffset", num(offset)}, {"maxMsgNums", num(maxMsgs)}, {"sysFlag", longPoll ? "6" : "4"},
                        {"commitOffset", "0"}, {"suspendTimeoutMillis", longPoll ? "15000" : "0"},
                        {"subscription", "*"}, {"subVersion", "0"}});
}

// UPDATE_AND_CREATE_TOPIC (17); succeeds on an existing topic too.
bool createTopic(Connection &c, const std::string &topic, std::string *error)
{
    const auto resp = c.call(request(17, {{"topic", topic}, {"defaultTopic", "TBW102"}, {"readQueueNums", num(kQueues)},
                                          {"writeQueueNums", num(kQueues)}, {"perm", "6"}, {"order", "false"},
                                          {"topicFilterType", "SINGLE_TAG"}, {"topicSysFlag", "0"}}));
    if (!resp || resp->code != rocket::code::kSuccess)
        *error = "creating topic " + topic + ": " + (resp ? "code " + num(resp->code) : c.error);
    return resp && resp->code == rocket::code::kSuccess;
}

// GET_MAX_OFFSET (30): the next offset the queue will write; -1 on failure.
int64_t maxOffset(Connection &c, const std::string &topic, int queueId)
{
    const auto resp = c.call(request(30, {{"topic", topic}, {"queueId", num(queueId)}}));
    return resp && resp->code == rocket::code::kSuccess ? resp->intField("offset").value_or(-1) : -1;
}

// Calls fn for each stored message of a pull body; returns how many, or -1 when a record does not decode.
int forEachMessage(const std::string &body, const std::function<void(const rocket::StoredMessage &)> &fn)
{
    int n = 0;
    for (size_t pos = 0; pos < body.size(); ++n) {
        rocket::StoredMessage m;
        std::string why;
        const size_t size = rocket::decodeStoredMessage(reinterpret_cast<const uint8_t *>(body.data()) + pos,
                                                        body.size() - pos, &m, &why);
        if (size == 0)
            return -1;
        fn(m);
        pos += size;
    }
    return n;
}

// ---- figures ------------------------------------------------------------------------------------------------

// What one thread of a scenario measured. begin/end bound its measured part; merged tallies span all threads.
struct Tally {
    uint64_t messages = 0, errors = 0, payloadBytes = 0, wireBytes = 0;
    std::vector<float> latencyMs;
    Clock::time_point begin = Clock::time_point::max(), end = Clock::time_point::min();
    std::string error; // the first failure or error answer, for the report

    void note(const std::string &text)
    {
        if (error.empty())
            error = text;
    }
    void failed(const RemotingCommand &r, int messagesLost)
    {
        errors += static_cast<uint64_t>(messagesLost);
        note("answer code " + num(r.code) + (r.remark ? ": " + *r.remark : ""));
    }
    // A SUCCESS pull answer must move nextBeginOffset exactly past the messages it carries (nothing is filtered here);
    // one that skips offsets it did not return loses messages, and counts as an error.
    void checkAdvance(const RemotingCommand &r, int64_t offset, int n)
    {
        const int64_t next = r.intField("nextBeginOffset").value_or(offset + n);
        if (next > offset + n) {
            ++errors;
            note("a SUCCESS pull answer at offset " + num(offset) + " carried " + num(n) +
                 " messages but set nextBeginOffset " + num(next));
        }
    }
};

struct Result {
    std::string scenario;
    size_t body = 0;
    int connections = 0, inflight = 0;
    Tally total;
    double seconds = 0;
    int64_t syncs = -1;  // broker storage syncs during the scenario; -1 unknown
    double limitMBs = 0; // the physical reference the body rate is compared with; 0 none
    bool stores = false; // its messages are stored during the scenario (so messages per sync means something)

    double msgsPerSec() const { return seconds > 0 ? total.messages / seconds : 0; }
    double mbPerSec() const { return seconds > 0 ? total.payloadBytes / seconds / 1e6 : 0; }
    double percentile(double q) const // nearest rank
    {
        const auto &v = total.latencyMs;
        return v.empty() ? NAN : v[std::clamp<size_t>(static_cast<size_t>(std::ceil(q * v.size())), 1, v.size()) - 1];
    }
};

Result merge(std::string scenario, size_t body, int connections, int inflight, std::vector<Tally> &parts)
{
    Result r;
    r.scenario = std::move(scenario);
    r.body = body;
    r.connections = connections;
    r.inflight = inflight;
    for (Tally &t : parts) {
        r.total.messages += t.messages;
        r.total.errors += t.errors;
        r.total.payloadBytes += t.payloadBytes;
        r.total.wireBytes += t.wireBytes;
        r.total.latencyMs.insert(r.total.latencyMs.end(), t.latencyMs.begin(), t.latencyMs.end());
        r.total.begin = std::min(r.total.begin, t.begin);
        r.total.end = std::max(r.total.end, t.end);
        r.total.note(t.error);
    }
    std::sort(r.total.latencyMs.begin(), r.total.latencyMs.end());
    r.seconds = r.total.end > r.total.begin ? msBetween(r.total.begin, r.total.end) / 1000 : 0;
    return r;
}

// Runs fn(index, tally, go) on n threads. Each calls go() once set up (connected); the measured parts start when all
// have. A thread that returns without calling go() counts as having called it, so a failure cannot hang the rest.
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

// The request loop every client thread runs: up to `inflight` requests outstanding on c. next(now, &wakeAt, &ctx)
// returns the next request (the caller's, read before next() is called again) and fills its context, or returns null
// when there is none to send now; a paced sender sets wakeAt to when to ask again. answered(response, ctx, sentAt)
// takes each answer. Ends when next() has nothing, nothing is outstanding
// and no wake-up is due, or on a failure (noted in t): an answer more than 30 s late, a lost connection.
template <class Ctx>
void closedLoop(Connection &c, Tally &t, int inflight,
                const std::function<RemotingCommand *(Clock::time_point, Clock::time_point *, Ctx *)> &next,
                const std::function<void(const RemotingCommand &, const Ctx &, Clock::time_point)> &answered)
{
    std::unordered_map<int32_t, std::pair<Ctx, Clock::time_point>> pending;
    t.begin = Clock::now();
    for (;;) {
        const auto now = Clock::now();
        auto wakeAt = Clock::time_point::max();
        while (static_cast<int>(pending.size()) < inflight) {
            Ctx ctx{};
            RemotingCommand *request = next(now, &wakeAt, &ctx);
            if (!request)
                break;
            pending.emplace(c.send(*request), std::pair{ctx, now});
        }
        if (pending.empty() && wakeAt == Clock::time_point::max())
            break;
        c.flush();
        RemotingCommand r;
        const auto st = c.receive(&r, std::min(wakeAt, now + 30s));
        if (st == Connection::Recv::Timeout && wakeAt != Clock::time_point::max())
            continue;
        if (st != Connection::Recv::Frame)
            return t.note(c.error.empty() ? "no answer within 30 s" : c.error);
        if (const auto it = pending.find(r.opaque); it != pending.end()) {
            t.end = Clock::now();
            answered(r, it->second.first, it->second.second);
            pending.erase(it);
        }
    }
}

// ---- scenarios ----------------------------------------------------------------------------------------------

struct Range { // of a queue's offsets, for a pull
    int queue = 0;
    int64_t offset = 0;
    int count = 0;
};

struct Plan {
    const Options *opt = nullptr;
    QString host;
    quint16 port = 0;
    size_t body = 0;
    std::string topic;   // sends and pulls
    std::string lpTopic; // long polling
};

// Sync (inflight 1), pipelined or batch send: a closed loop keeping `inflight` requests outstanding per connection,
// queues taken in turn, until --seconds have passed or this connection's share of --messages is sent.
Result runSend(const Plan &plan, const std::string &name, bool batch, int inflight)
{
    const Options &opt = *plan.opt;
    const int perRequest = batch ? kBatchSize : 1;
    auto tallies = runThreads(opt.connections, [&](int index, Tally &t, const std::function<void()> &go) {
        Connection c;
        if (!c.open(plan.host, plan.port, &t.error))
            return;
        RemotingCommand req = sendRequest(plan.topic, batch);
        const std::string body(plan.body, 'x');
        req.body = body;
        if (batch)
            req.body = rocket::encodeBatch(std::vector<rocket::BatchItem>(
                kBatchSize, rocket::BatchItem{0, body, rocket::encodeProperties({{"TAGS", "A"}})}));
        const uint64_t requests = (opt.messages + perRequest - 1) / perRequest; // this connection's share, if any
        const uint64_t quota = requests / opt.connections + (static_cast<uint64_t>(index) < requests % opt.connections);
        int queue = index % kQueues;
        uint64_t sent = 0;
        go();
        const auto deadline = Clock::now() + seconds(opt.seconds);
        closedLoop<int>(
            c, t, inflight,
            [&](Clock::time_point now, Clock::time_point *, int *) -> RemotingCommand * {
                if (opt.messages ? sent >= quota : now >= deadline)
                    return nullptr;
                ++sent;
                req.set("e", num(queue));
                queue = (queue + 1) % kQueues;
                req.set("g", num(QDateTime::currentMSecsSinceEpoch()));
                return &req;
            },
            [&](const RemotingCommand &r, int, Clock::time_point sentAt) {
                t.latencyMs.push_back(static_cast<float>(msBetween(sentAt, t.end)));
                if (r.code != rocket::code::kSuccess)
                    return t.failed(r, perRequest);
                t.messages += perRequest;
                t.payloadBytes += perRequest * plan.body;
            });
        t.wireBytes = c.wireBytes;
    });
    Result r = merge(name, plan.body, opt.connections, inflight, tallies);
    r.stores = true;
    return r;
}

// Pull consume of the topic from offset 0 to each queue's end (GET_MAX_OFFSET before the start). A connection owns the
// queues q with q % connections == index and keeps --inflight pulls out at consecutive offsets; a short answer leaves
// a gap that is asked for again. Latency is per pull request.
Result runPull(const Plan &plan)
{
    const Options &opt = *plan.opt;
    const int connections = std::min(opt.connections, kQueues);
    std::vector<int64_t> ends(kQueues, -1);
    Connection setup;
    std::string error; // a failed set-up shows as GET_MAX_OFFSET failing
    if (setup.open(plan.host, plan.port, &error))
        for (int q = 0; q < kQueues; ++q)
            ends[q] = maxOffset(setup, plan.topic, q);
    auto tallies = runThreads(connections, [&](int index, Tally &t, const std::function<void()> &go) {
        std::deque<Range> ranges; // gaps to fill, then the next strides of each owned queue in turn
        std::vector<int64_t> cursor(kQueues, 0);
        for (int q = index; q < kQueues; q += connections)
            if (ends[q] < 0)
                return t.note("GET_MAX_OFFSET failed");
        int turn = index;
        const auto nextRange = [&](Range *out) {
            for (int tried = 0; ranges.empty() && tried < kQueues; ++tried, turn = (turn + connections) % kQueues)
                if (turn % connections == index && cursor[turn] < ends[turn]) {
                    const int n = static_cast<int>(std::min<int64_t>(ends[turn] - cursor[turn], kPullMax));
                    ranges.push_back({turn, cursor[turn], n});
                    cursor[turn] += n;
                }
            if (ranges.empty())
                return false;
            *out = ranges.front();
            ranges.pop_front();
            return true;
        };
        Connection c;
        if (!c.open(plan.host, plan.port, &t.error))
            return;
        RemotingCommand req;
        go();
        closedLoop<Range>(
            c, t, opt.inflight,
            [&](Clock::time_point, Clock::time_point *, Range *range) -> RemotingCommand * {
                if (!nextRange(range))
                    return nullptr;
                req = pullRequest(plan.topic, "bench_pull", range->queue, range->offset, range->count, false);
                return &req;
            },
            [&](const RemotingCommand &r, const Range &range, Clock::time_point sentAt) {
                t.latencyMs.push_back(static_cast<float>(msBetween(sentAt, t.end)));
                int64_t next = range.offset;
                if (r.code == rocket::code::kSuccess) {
                    const int n = forEachMessage(
                        r.body, [&](const rocket::StoredMessage &m) { t.payloadBytes += m.body.size(); });
                    t.messages += std::max(n, 0);
                    if (n < 0)
                        t.note("a pulled record does not decode");
                    else
                        t.checkAdvance(r, range.offset, n);
                    next = r.intField("nextBeginOffset").value_or(range.offset + std::max(n, 0));
                } else {
                    t.failed(r, 1);
                }
                if (next < range.offset + range.count && t.errors < 100)
                    ranges.push_front({range.queue, next, static_cast<int>(range.offset + range.count - next)});
            });
        t.wireBytes = c.wireBytes;
    });
    return merge("pull", plan.body, connections, opt.inflight, tallies);
}

// Long-poll consume: consumers park one long-poll pull per queue at its end; one producer then sends at --rate msg/s
// (up to --inflight unanswered) for --seconds or --messages. Each body starts with its send time (steady clock, this
// process), so latency is send -> consumer decode, end to end. Thread 0 is the producer.
Result runLongPoll(const Plan &plan)
{
    const Options &opt = *plan.opt;
    const int consumers = std::min(opt.connections, kQueues);
    std::atomic<bool> producerDone{false};
    std::atomic<uint64_t> stored{0}, received{0};
    const auto produce = [&](Connection &c, Tally &t, const std::function<void()> &go) {
        RemotingCommand req = sendRequest(plan.lpTopic, false);
        req.body.assign(std::max(plan.body, sizeof(int64_t)), 'x');
        uint64_t sent = 0;
        go();
        const auto start = Clock::now(), deadline = start + seconds(opt.seconds);
        closedLoop<int>(
            c, t, opt.inflight,
            [&](Clock::time_point now, Clock::time_point *wakeAt, int *) -> RemotingCommand * {
                const auto due = start + seconds(double(sent) / opt.rate);
                if (opt.messages ? sent >= opt.messages : now >= deadline)
                    return nullptr;
                if (now < due) {
                    *wakeAt = due;
                    return nullptr;
                }
                const int64_t stamp = now.time_since_epoch().count();
                std::memcpy(req.body.data(), &stamp, sizeof stamp);
                req.set("e", num(sent++ % kQueues));
                req.set("g", num(QDateTime::currentMSecsSinceEpoch()));
                return &req;
            },
            [&](const RemotingCommand &r, int, Clock::time_point) {
                if (r.code == rocket::code::kSuccess)
                    ++stored;
                else
                    t.failed(r, 1);
            });
        t.wireBytes = c.wireBytes;
    };
    const auto consume = [&](Connection &c, Tally &t, const std::function<void()> &go, int index) {
        std::vector<int64_t> cursor(kQueues, -1);
        std::unordered_map<int32_t, int> pending; // opaque -> queue
        const auto poll = [&](int q) {
            RemotingCommand req = pullRequest(plan.lpTopic, "bench_longpoll", q, cursor[q], kPullMax, true);
            pending.emplace(c.send(req), q);
            c.flush();
        };
        for (int q = index; q < kQueues; q += consumers) {
            if ((cursor[q] = maxOffset(c, plan.lpTopic, q)) < 0)
                return t.note("GET_MAX_OFFSET failed");
            poll(q);
        }
        go();
        std::optional<Clock::time_point> drainUntil; // once the producer is done, what it stored has 20 s to arrive
        while (!(producerDone && received >= stored)) {
            if (producerDone && !drainUntil)
                drainUntil = Clock::now() + 20s;
            if (drainUntil && Clock::now() > *drainUntil)
                return t.note(num(stored - received) + " stored messages never arrived");
            RemotingCommand r;
            const auto st = c.receive(&r, Clock::now() + 50ms);
            if (st == Connection::Recv::Failed)
                return t.note(c.error);
            const auto it = st == Connection::Recv::Frame ? pending.find(r.opaque) : pending.end();
            if (it == pending.end())
                continue;
            const int q = it->second;
            pending.erase(it);
            if (r.code == rocket::code::kSuccess) {
                const auto now = Clock::now();
                const int n = forEachMessage(r.body, [&](const rocket::StoredMessage &m) {
                    int64_t stamp = 0;
                    std::memcpy(&stamp, m.body.data(), std::min(sizeof stamp, m.body.size()));
                    const Clock::time_point sentAt{Clock::duration(stamp)};
                    t.latencyMs.push_back(static_cast<float>(msBetween(sentAt, now)));
                    t.payloadBytes += m.body.size();
                });
                if (n < 0)
                    return t.note("a pulled record does not decode");
                t.messages += n;
                received += n;
                t.end = now;
                t.checkAdvance(r, cursor[q], n);
            } else if (r.code != rocket::code::kPullNotFound && r.code != rocket::code::kPullRetryImmediately &&
                       r.code != rocket::code::kPullOffsetMoved) {
                t.failed(r, 0);
            }
            cursor[q] = r.intField("nextBeginOffset").value_or(cursor[q]);
            poll(q);
        }
        t.wireBytes = c.wireBytes;
    };
    auto tallies = runThreads(1 + consumers, [&](int index, Tally &t, const std::function<void()> &go) {
        Connection c;
        if (c.open(plan.host, plan.port, &t.error))
            index == 0 ? produce(c, t, go) : consume(c, t, go, index - 1);
        if (index == 0)
            producerDone = true;
    });
    Result r = merge("long-poll " + num(opt.rate) + "/s", plan.body, consumers, 1, tallies);
    r.stores = true;
    return r;
}

// ---- the broker process and the physical reference ------------------------------------------------------------

// A ferry-broker child process. start() returns once it printed `ready`, with the port of its rocket.broker_listen
// line. stop() sends SIGTERM (QProcess::terminate; killed after 15 s) and returns the storage sync count the broker
// logged when it closed its storage, or -1 when that line is missing (killed, or another log format).
class BrokerProcess {
public:
    bool start(const QString &exe, const QString &dataDir, const QString &flush, std::string *error)
    {
        logFile_ = QDir(dataDir).filePath(QStringLiteral("logs/run-%1.log").arg(++runs_));
        process_.setProgram(exe);
        process_.setArguments({"--data-dir", dataDir, "--set", "log.console=false", "--set", "log.file=" + logFile_,
                               "--set", "rocket.namesrv_listen=127.0.0.1:0", "--set",
                               "rocket.broker_listen=127.0.0.1:0", "--set", "replication.listen=127.0.0.1:0", "--set", "admin.listen=127.0.0.1:0",
                               "--set", "storage.flush=" + flush});
        process_.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        process_.start();
        port = 0;
        for (const auto deadline = Clock::now() + 30s; process_.waitForStarted(10000) && Clock::now() < deadline;) {
            while (process_.canReadLine()) {
                const QString line = QString::fromUtf8(process_.readLine()).trimmed();
                if (line.startsWith(QLatin1String("listening rocket.broker_listen ")))
                    port = line.section(QLatin1Char(':'), -1).toUShort();
                else if (line == QLatin1String("ready") && port != 0)
                    return waitForAdvertisedAddress(), true;
            }
            if (process_.state() == QProcess::NotRunning)
                break;
            process_.waitForReadyRead(100);
        }
        *error = exe.toStdString() + " did not print rocket.broker_listen and ready (" +
                 process_.errorString().toStdString() + ")";
        process_.kill();
        process_.waitForFinished(5000);
        return false;
    }

    // `ready` comes a few milliseconds before the rocket plugin knows its advertised address (its start timer sets
    // it); pulls answered in between carry SUCCESS with an empty body and skip their messages (a broker bug, which
    // Tally::checkAdvance reports). So wait for the address line in the log (flushed at least every second), 5 s at
    // most.
    void waitForAdvertisedAddress()
    {
        for (const auto until = Clock::now() + 5s; Clock::now() < until; std::this_thread::sleep_for(50ms)) {
            QFile log(logFile_);
            if (log.open(QIODevice::ReadOnly) && log.readAll().contains(" advertises "))
                return;
        }
    }

    int64_t stop()
    {
        process_.terminate();
        if (!process_.waitForFinished(15000)) {
            process_.kill();
            process_.waitForFinished(5000);
            return -1;
        }
        QFile log(logFile_);
        static const QRegularExpression closed(QStringLiteral("closed after \\d+ appends and (\\d+) syncs"));
        int64_t syncs = -1;
        if (log.open(QIODevice::ReadOnly))
            for (auto it = closed.globalMatch(QString::fromUtf8(log.readAll())); it.hasNext();)
                syncs = it.next().captured(1).toLongLong();
        return syncs;
    }

    quint16 port = 0;

private:
    QProcess process_;
    QString logFile_;
    int runs_ = 0;
};

struct Reference {
    double loopbackMBs = 0; // one TCP stream over 127.0.0.1, in process
    double diskSeqMBs = 0;  // 256 MiB in 1 MiB writes, then one sync, on the data directory's file system
    double syncsPerSec = 0; // 4 KiB appends, each followed by a sync: the ceiling of unbatched durable writes
};

double loopbackMBs(qint64 total, qint64 chunk)
{
    std::promise<quint16> portReady;
    Clock::time_point doneAt{};
    qint64 received = 0;
    std::thread receiver([&] {
        QTcpServer server;
        portReady.set_value(server.listen(QHostAddress::LocalHost, 0) ? server.serverPort() : 0);
        if (!server.waitForNewConnection(10000))
            return;
        QTcpSocket *s = server.nextPendingConnection();
        std::vector<char> buf(1 << 20);
        while (received < total && (s->bytesAvailable() > 0 || s->waitForReadyRead(10000)))
            received += s->read(buf.data(), static_cast<qint64>(buf.size()));
        doneAt = Clock::now();
    });
    const quint16 port = portReady.get_future().get();
    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, port);
    const bool connected = port != 0 && client.waitForConnected(10000);
    const QByteArray block(static_cast<qsizetype>(chunk), 'x');
    const auto start = Clock::now();
    for (qint64 sent = 0; connected && sent < total; sent += chunk)
        if (client.write(block), client.bytesToWrite() > 4 * chunk)
            client.waitForBytesWritten(10000);
    while (connected && client.bytesToWrite() > 0 && client.waitForBytesWritten(10000)) {
    }
    receiver.join();
    return received >= total ? total / (msBetween(start, doneAt) / 1000) / 1e6 : 0;
}

Reference measureReference(const QString &dir)
{
    Reference ref;
    ref.loopbackMBs = loopbackMBs(512ll << 20, 64 << 10);
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
    QFile commits(QDir(dir).filePath("reference-sync.bin"));
    if (commits.open(mode)) {
        const QByteArray block(4096, 'x');
        const auto start = Clock::now();
        uint64_t n = 0;
        while (Clock::now() - start < 1s && commits.write(block) == block.size() && syncToDisk(commits))
            ++n;
        ref.syncsPerSec = n / (msBetween(start, Clock::now()) / 1000);
        commits.remove();
    }
    return ref;
}

// ---- output and options -------------------------------------------------------------------------------------------

void printRow(const Result &r)
{
    char limit[16] = "-", syncs[16] = "-", perSync[16] = "-", shape[24];
    if (r.limitMBs > 0)
        std::snprintf(limit, sizeof limit, "%.1f%%", 100 * r.mbPerSec() / r.limitMBs);
    if (r.syncs >= 0 && r.seconds > 0)
        std::snprintf(syncs, sizeof syncs, "%.0f", r.syncs / r.seconds);
    if (r.syncs > 0 && r.stores)
        std::snprintf(perSync, sizeof perSync, "%.1f", double(r.total.messages) / r.syncs);
    std::snprintf(shape, sizeof shape, "%dx%d", r.connections, r.inflight);
    std::printf("%-17s %4zu B %5s %9.0f %7.2f %6.2f %6.2f %6.2f %6.2f %7.2f %8s %7s %8s\n", r.scenario.c_str(), r.body,
                shape, r.msgsPerSec(), r.mbPerSec(), r.percentile(0.5), r.percentile(0.9), r.percentile(0.99),
                r.percentile(0.999), r.percentile(1.0), limit, syncs, perSync);
    if (r.total.errors > 0 || !r.total.error.empty())
        std::printf("  ! %llu errors; first: %s\n", static_cast<unsigned long long>(r.total.errors),
                    r.total.error.c_str());
    std::fflush(stdout);
}

QJsonObject toJson(const Result &r)
{
    QJsonObject o{{"scenario", QString::fromStdString(r.scenario)}, {"body_bytes", qint64(r.body)},
                  {"connections", r.connections}, {"inflight", r.inflight}, {"messages", qint64(r.total.messages)},
                  {"errors", qint64(r.total.errors)}, {"seconds", r.seconds}, {"msgs_per_s", r.msgsPerSec()},
                  {"mb_per_s", r.mbPerSec()},
                  {"wire_mb_per_s", r.seconds > 0 ? r.total.wireBytes / r.seconds / 1e6 : 0},
                  {"latency_ms", QJsonObject{{"p50", r.percentile(0.5)}, {"p90", r.percentile(0.9)},
                                             {"p99", r.percentile(0.99)}, {"p99_9", r.percentile(0.999)},
                                             {"max", r.percentile(1.0)}}}};
    if (r.limitMBs > 0)
        o["of_limit"] = r.mbPerSec() / r.limitMBs;
    if (r.syncs >= 0 && r.seconds > 0)
        o["syncs_per_s"] = r.syncs / r.seconds;
    if (r.syncs > 0 && r.stores)
        o["msgs_per_sync"] = double(r.total.messages) / r.syncs;
    if (!r.total.error.empty())
        o["first_error"] = QString::fromStdString(r.total.error);
    return o;
}

std::optional<Options> parseOptions(const QCoreApplication &app)
{
    QCommandLineParser p;
    p.setApplicationDescription("RocketMQ remoting load against ferry-broker, beside the machine's physical limits.");
    p.addHelpOption();
    p.addOptions({{"broker", "ferry-broker to start (default: the one next to bench_rocket).", "path"},
                  {"broker-addr", "Use a running broker instead (no flush modes, no sync counts).", "host:port"},
                  {"flush", "storage.flush of the started broker: sync, async or both.", "mode", "both"},
                  {"seconds", "Duration of each scenario.", "n", "5"},
                  {"messages", "Messages per scenario instead of a duration.", "m", "0"},
                  {"connections", "Concurrent connections.", "c", "4"},
                  {"inflight", "Pipelined requests per connection.", "k", "32"},
                  {"rate", "Long-poll producer rate, messages/s.", "r", "2000"},
                  {"dir", "Directory for data and reference files (default: a fresh temporary one).", "dir"},
                  {"json", "Also write the figures as JSON to this file.", "file"}});
    p.process(app);
    Options o;
    const QString appDir = QCoreApplication::applicationDirPath();
    o.brokerExe = p.isSet("broker") ? p.value("broker") : QStandardPaths::findExecutable("ferry-broker", {appDir});
    const QString addr = p.value("broker-addr"), flush = p.value("flush");
    o.brokerHost = addr.section(QLatin1Char(':'), 0, -2);
    o.brokerPort = addr.section(QLatin1Char(':'), -1).toUShort();
    o.flushModes = flush == "both" ? QStringList{"sync", "async"} : QStringList{flush};
    o.seconds = p.value("seconds").toDouble();
    o.messages = p.value("messages").toULongLong();
    o.connections = p.value("connections").toInt();
    o.inflight = p.value("inflight").toInt();
    o.rate = p.value("rate").toInt();
    o.dir = p.value("dir");
    o.json = p.value("json");
    const char *bad = nullptr;
    if (flush != "both" && flush != "sync" && flush != "async")
        bad = "--flush must be sync, async or both";
    else if (p.isSet("broker-addr") && (o.brokerHost.isEmpty() || o.brokerPort == 0))
        bad = "--broker-addr wants host:port";
    else if (!p.isSet("broker-addr") && o.brokerExe.isEmpty())
        bad = "no ferry-broker next to bench_rocket; pass --broker";
    else if (o.connections < 1 || o.inflight < 1 || o.rate < 1 || (o.seconds <= 0 && o.messages == 0))
        bad = "--connections, --inflight, --rate and --seconds (or --messages) must be positive";
    if (bad)
        std::fprintf(stderr, "bench_rocket: %s\n", bad);
    return bad ? std::nullopt : std::optional<Options>(o);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const std::optional<Options> parsed = parseOptions(app);
    if (!parsed)
        return 2;
    const Options &opt = *parsed;
    QTemporaryDir temp(QDir::temp().filePath("ferry-bench-rocket-XXXXXX"));
    const QString root = opt.dir.isEmpty() ? temp.path() : opt.dir;
    QDir().mkpath(root);
    const bool external = opt.brokerPort != 0;
    const QString target =
        external ? "broker at " + opt.brokerHost + ":" + QString::number(opt.brokerPort) : opt.brokerExe;
    const QString amount =
        opt.messages ? QString::number(opt.messages) + " messages" : QString::number(opt.seconds) + " s";
    std::printf("bench_rocket: %s, %d cores, %s per scenario, %d connections x %d in flight\n", qPrintable(target),
                QThread::idealThreadCount(), qPrintable(amount), opt.connections, opt.inflight);

    const Reference ref = measureReference(root);
    std::printf("physical reference (this run, in %s):\n", qPrintable(root));
    std::printf("  loopback TCP        %6.0f MB/s  (512 MiB in 64 KiB writes, one stream, in process)\n",
                ref.loopbackMBs);
    std::printf("  disk sequential     %6.0f MB/s  (256 MiB in 1 MiB writes, then one sync)\n", ref.diskSeqMBs);
    std::printf("  disk synced writes  %6.0f /s    (4 KiB append + fdatasync each)\n", ref.syncsPerSec);
    std::printf("MB/s counts message bodies; latency in ms; of limit = MB/s / loopback TCP;\n"
                "syncs/s = the broker's own storage sync count during the scenario (compare with disk synced writes);\n"
                "msg/sync = messages per sync\n");

    QJsonArray runs;
    int exitCode = 0;
    for (const QString &flush : external ? QStringList{"external"} : opt.flushModes) {
        std::printf("\nstorage.flush=%s\n%-17s %6s %5s %9s %7s %6s %6s %6s %6s %7s %8s %7s %8s\n", qPrintable(flush),
                    "scenario", "body", "CxK", "msgs/s", "MB/s", "p50", "p90", "p99", "p99.9", "max", "of limit",
                    "syncs/s", "msg/sync");
        const QString dataDir = QDir(root).filePath("data-" + flush);
        BrokerProcess broker;
        QJsonArray rows;
        for (const size_t body : kBodySizes) {
            Plan plan{&opt, external ? opt.brokerHost : QStringLiteral("127.0.0.1"), opt.brokerPort, body,
                      "bench_" + num(body), "bench_lp_" + num(body)};
            // One scenario, in a broker process of its own unless external; its topics are (re)declared first.
            const auto scenario = [&](const std::function<Result()> &run, bool vsLoopback) {
                std::string error;
                Connection setup;
                if (exitCode != 0)
                    return; // after a failure the remaining scenarios are skipped
                if (!external && !broker.start(opt.brokerExe, dataDir, flush, &error)) {
                    std::fprintf(stderr, "bench_rocket: %s\n", error.c_str());
                    exitCode = 1;
                    return;
                }
                plan.port = external ? opt.brokerPort : broker.port;
                const bool ready = setup.open(plan.host, plan.port, &error) && createTopic(setup, plan.topic, &error) &&
                                   createTopic(setup, plan.lpTopic, &error);
                std::optional<Result> r;
                if (ready)
                    r = run();
                const int64_t syncs = external ? -1 : broker.stop();
                if (!r) {
                    std::fprintf(stderr, "bench_rocket: %s\n", error.c_str());
                    exitCode = 1;
                    return;
                }
                r->syncs = syncs;
                r->limitMBs = vsLoopback ? ref.loopbackMBs : 0;
                printRow(*r);
                rows.append(toJson(*r));
            };
            scenario([&] { return runSend(plan, "sync send", false, 1); }, true);
            scenario([&] { return runSend(plan, "pipelined send", false, opt.inflight); }, true);
            scenario([&] { return runSend(plan, "batch send x32", true, opt.inflight); }, true);
            scenario([&] { return runPull(plan); }, true);
            scenario([&] { return runLongPoll(plan); }, false);
        }
        runs.append(QJsonObject{{"flush", flush}, {"results", rows}});
    }

    if (!opt.json.isEmpty()) {
        const QJsonObject doc{
            {"cores", QThread::idealThreadCount()},
            {"options", QJsonObject{{"seconds", opt.seconds}, {"messages", qint64(opt.messages)},
                                    {"connections", opt.connections}, {"inflight", opt.inflight}, {"rate", opt.rate}}},
            {"reference", QJsonObject{{"loopback_mb_per_s", ref.loopbackMBs},
                                      {"disk_sequential_mb_per_s", ref.diskSeqMBs},
                                      {"disk_syncs_per_s", ref.syncsPerSec}}},
            {"runs", runs}};
        QFile out(opt.json);
        if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate) || out.write(QJsonDocument(doc).toJson()) < 0) {
            std::fprintf(stderr, "bench_rocket: cannot write %s\n", qPrintable(opt.json));
            exitCode = 1;
        }
    }
    return exitCode;
}
