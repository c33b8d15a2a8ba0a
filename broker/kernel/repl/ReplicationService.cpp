#include "repl/ReplicationService.h"

#include "log/Logging.h"
#include "net/NetworkServer.h"
#include "plugin/PluginHost.h"
#include "queue/ConnectionLink.h"
#include "repl/ReplicationCodec.h"
#include "repl/ReplicationJournal.h"
#include "repl/ReplicationOverride.h"
#include "sched/Scheduler.h"

#include <spdlog/spdlog.h>
#include "storage/StorageEngine.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>
#include <vector>

namespace ferry {

const char *replicationRoleName(ReplicationRole role)
{
    switch (role) {
    case ReplicationRole::AsyncMaster:
        return "ASYNC_MASTER";
    case ReplicationRole::SyncMaster:
        return "SYNC_MASTER";
    case ReplicationRole::Slave:
        return "SLAVE";
    }
    return "?";
}

} // namespace ferry

namespace ferry::repl {

namespace {

constexpr uint64_t kTimerHeartbeat = 1;
constexpr uint64_t kTimerPump = 2;
constexpr uint32_t kHeartbeatMs = 1000;
constexpr size_t kSendChunkBytes = 1u << 20;       // journal bytes encoded per pump
constexpr uint64_t kCatchupChunkBytes = 4u << 20;  // records read per storage job during catch-up
constexpr uint32_t kCatchupChunkRecords = 8192;
constexpr uint32_t kReconnectMinMs = 500;
constexpr uint32_t kReconnectMaxMs = 5000;

uint64_t wallMs()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

// The kernel's built-in "replication" protocol: a LoadedPlugin that no library backs, so the NetworkServer serves it
// like any protocol plugin.
const ferry_listener_spec kListeners[] = {
    {sizeof(ferry_listener_spec), "listen", "0.0.0.0:10912", "replication listener"},
};

// A read-only view of one storage queue on the slave, for Hello.
QueueState localQueueState(StorageSession &s, uint64_t id, uint32_t flags)
{
    QueueState q;
    q.queueId = id;
    q.flags = flags;
    s.queueBounds(id, &q.low, &q.next);
    if (q.next > q.low) {
        s.read(id, q.next - 1, 1, 0, [&](const ferry_storage_record &rec) {
            if (rec.offset == q.next - 1) {
                q.hasCheck = true;
                q.checkOffset = rec.offset;
                q.checkHash = recordHash(rec.store_time_ms, rec.data, rec.len);
            }
            return false;
        });
    }
    return q;
}

// fn(record) for every readable record of queueId with an offset in [from, to), read in chunks.
ferry_status forEachRecord(StorageSession &s, uint64_t queueId, uint64_t from, uint64_t to,
                           const std::function<void(const ferry_storage_record &)> &fn)
{
    uint64_t at = from;
    while (at < to) {
        bool any = false;
        const ferry_status st =
            s.read(queueId, at, kCatchupChunkRecords, kCatchupChunkBytes, [&](const ferry_storage_record &rec) {
                if (rec.offset >= to)
                    return false;
                any = true;
                at = rec.offset + 1;
                fn(rec);
                return true;
            });
        if (st != FERRY_OK)
            return st;
        if (!any)
            break;
    }
    return FERRY_OK;
}

std::vector<std::pair<uint64_t, uint32_t>> listQueues(StorageSession &s)
{
    std::vector<std::pair<uint64_t, uint32_t>> out;
    auto sink = [](void *ctx, uint64_t id, uint32_t flags) -> int32_t {
        static_cast<std::vector<std::pair<uint64_t, uint32_t>> *>(ctx)->emplace_back(id, flags);
        return 0;
    };
    s.vt().queue_list(s.storage(), sink, &out, s.errBuf(), s.errCap());
    return out;
}

} // namespace

// ---- shared state -----------------------------------------------------------------------------------------------

struct SlaveView { // a master's view of one connected slave (status)
    std::string address;
    std::string listenAddress;
    uint64_t brokerId = 0;
    std::string state = "handshake"; // handshake, catching-up, streaming
    uint64_t ackedSeq = 0;
    uint64_t lastAckMs = 0;
    uint64_t connectedMs = 0;
    uint64_t ackedBytes = 0; // bytes acknowledged since connect (throughput)
};

struct MasterLink { // a slave's view of its master (status)
    std::string address;
    bool connected = false;
    std::string state = "disconnected"; // disconnected, connecting, catching-up, streaming, diverged
    uint64_t epoch = 0;
    uint64_t appliedSeq = 0;
    uint64_t masterSeq = 0;
    uint64_t lastHeartbeatMs = 0;
    uint64_t lastAppliedMs = 0;
    uint64_t appliedRecords = 0;
    uint64_t appliedBytes = 0;
    uint64_t snapshots = 0; // catch-ups from storage since start
    uint64_t resumes = 0;   // reconnections resumed from the master's in-memory backlog
    std::string lastError;
};

class Session;

struct ReplicationService::Impl {
    ReplicationSettings settings;
    StorageEngine &storage;
    Scheduler &scheduler;
    ReplicationService *owner = nullptr;
    std::unique_ptr<ReplicationJournal> journal;
    LoadedPlugin plugin;
    NetworkServer *network = nullptr;
    const ferry_protocol_host *host = nullptr;
    std::function<void(StorageSession &, const AppliedChanges &)> observer;
    std::function<void(const std::string &)> fatal;
    std::function<void(const std::string &)> restart;
    ReplicationService::AdminAuthenticator adminAuth;
    std::atomic<bool> fatalRaised{false};
    std::atomic<bool> restartRaised{false};
    std::atomic<bool> stopping{false};

    mutable std::mutex mutex; // guards everything below
    std::string listenAddress; // bound
    std::string hintedMaster;
    std::map<uint64_t, std::shared_ptr<SlaveView>> slaves; // conn id -> view
    MasterLink master;
    uint32_t reconnectDelayMs = kReconnectMinMs;
    uint64_t reconnectTimer = 0;
    bool slaveConnecting = false;
    uint64_t slaveConnId = 0;
    ConnectionLinkPtr slaveLink; // the connection to the master, while there is one

    // Slave applier state (storage thread only).
    std::unordered_map<uint64_t, uint64_t> nextCache;

    Impl(const ReplicationSettings &s, StorageEngine &st, Scheduler &sc) : settings(s), storage(st), scheduler(sc) {}

    ferry_protocol *instance() { return reinterpret_cast<ferry_protocol *>(this); }
    static Impl *from(ferry_protocol *p) { return reinterpret_cast<Impl *>(p); }

    void write(ferry_conn *conn, const std::string &bytes)
    {
        if (!bytes.empty())
            host->write(conn, reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
    }
    void updateInSync()
    {
        if (!journal)
            return;
        int n = 0;
        for (const auto &[id, v] : slaves)
            if (v->state == "streaming")
                ++n;
        journal->setInSyncSlaves(n);
    }
    void raiseFatal(const std::string &why)
    {
        if (fatalRaised.exchange(true))
            return;
        kernelLogger()->critical("replication: {}", why);
        if (fatal)
            fatal(why);
    }
    // mutex held by the caller
    std::string masterAddress() const { return !settings.master.empty() ? settings.master : hintedMaster; }
    AdminReply promote(const AdminRequest &request, const std::string &peer);
    AdminReply follow(const AdminRequest &request, const std::string &peer);
    void scheduleConnect(uint32_t delayMs);
    void connectToMaster();

    // Slave applier (storage thread).
    ferry_status applyOp(StorageSession &s, const OpRecord &op, AppliedChanges &changes, std::string *error);
    uint64_t cachedNext(StorageSession &s, uint64_t queueId);
};

// ---- sessions -------------------------------------------------------------------------------------------------

class Session {
public:
    Session(ReplicationService::Impl &svc, ferry_conn *conn) : svc_(svc), conn_(conn)
    {
        Connection *c = Connection::fromHandle(conn);
        link_ = std::make_shared<ConnectionLink>(c);
        c->addCloseHook([link = link_] { link->markClosed(); });
    }
    virtual ~Session() = default;

    ferry_status read(const uint8_t *data, size_t len, size_t *consumed)
    {
        // Frames may be larger than network.max_frame_bytes (one record each): keep partial frames here.
        *consumed = len;
        in_.append(reinterpret_cast<const char *>(data), len);
        FrameReader reader(reinterpret_cast<const uint8_t *>(in_.data()), in_.size());
        while (auto frame = reader.next()) {
            const ferry_status st = onFrame(*frame);
            if (st != FERRY_OK)
                return st;
            if (closing_)
                break;
        }
        if (!reader.error().empty())
            return protocolError(reader.error());
        in_.erase(0, reader.consumed());
        afterFrames();
        return FERRY_OK;
    }
    virtual void onTimer(uint64_t) {}
    virtual void onClose() {}
    ConnectionLinkPtr link() const { return link_; }

protected:
    virtual ferry_status onFrame(const Frame &frame) = 0;
    virtual void afterFrames() {}
    ferry_status protocolError(const std::string &why) { return sendError(ErrorCode::Protocol, why); }
    ferry_status sendError(ErrorCode code, const std::string &why)
    {
        std::string out;
        encodeError({code, why}, out);
        svc_.write(conn_, out);
        svc_.host->close(conn_, why.c_str());
        closing_ = true;
        return FERRY_OK;
    }
    bool writeBlocked() const { return Connection::fromHandle(conn_)->writeBlocked(); }

    ReplicationService::Impl &svc_;
    ferry_conn *conn_;
    ConnectionLinkPtr link_;
    std::string in_;
    bool closing_ = false;
};

// An accepted connection: a slave (Hello) or an admin client (Admin).
class InboundSession final : public Session {
public:
    InboundSession(ReplicationService::Impl &svc, ferry_conn *conn) : Session(svc, conn)
    {
        char buf[256] = {};
        svc.host->peer_address(conn, buf, sizeof buf);
        peer_ = buf;
    }

    ~InboundSession() override
    {
        if (listener_ && svc_.journal)
            svc_.journal->removeListener(listener_);
    }

    void onClose() override
    {
        if (!view_)
            return;
        std::lock_guard lock(svc_.mutex);
        svc_.slaves.erase(Connection::fromHandle(conn_)->id());
        svc_.updateInSync();
        kernelLogger()->info("replication: slave {} (broker.id {}) disconnected at seq {}", peer_, view_->brokerId,
                             view_->ackedSeq);
    }

    void onTimer(uint64_t id) override
    {
        if (id == kTimerHeartbeat) {
            if (phase_ == Phase::Live)
                sendHeartbeat();
            svc_.host->set_timer(conn_, kTimerHeartbeat, kHeartbeatMs);
        } else if (id == kTimerPump) {
            pumpPending_ = false;
            pump();
        }
    }

    // Sends what the slave lacks: catch-up records first, then live changes from the journal.
    void pump()
    {
        if (closing_ || phase_ == Phase::Handshake || phase_ == Phase::Snapshot)
            return;
        if (writeBlocked()) {
            if (!pumpPending_) {
                pumpPending_ = true;
                svc_.host->set_timer(conn_, kTimerPump, 2);
            }
            return;
        }
        if (phase_ == Phase::Records) {
            pumpRecords();
            return;
        }
        std::string out;
        uint64_t next = cursor_;
        if (!svc_.journal->encodeFrom(cursor_, kSendChunkBytes, out, &next)) {
            sendError(ErrorCode::FellBehind, "the slave fell behind the master's in-memory backlog "
                                             "(replication.buffer_bytes); reconnect to catch up from storage");
            return;
        }
        cursor_ = next;
        svc_.write(conn_, out);
        if (cursor_ <= svc_.journal->publishedSeq())
            link_->post([](Connection &c) { static_cast<InboundSession *>(sessionOf(c))->pump(); });
    }

    static Session *sessionOf(Connection &c) { return reinterpret_cast<Session *>(c.session()); }

    // Heartbeats go only to a streaming slave: before any snapshot, the first one tells a slave it was resumed.
    void sendHeartbeat()
    {
        std::string out;
        encodeHeartbeat({svc_.journal->publishedSeq(), wallMs()}, out);
        svc_.write(conn_, out);
    }

protected:
    ferry_status onFrame(const Frame &f) override
    {
        std::string error;
        switch (f.type) {
        case FrameType::Admin: {
            AdminRequest request;
            if (!decodeAdmin(f.payload, &request, &error))
                return protocolError("bad admin frame: " + error);
            AdminReply reply;
            if (request.command == "status") {
                reply.text = svc_.owner->statusJson();
            } else if (request.command == "digest") {
                sendDigest();
                return FERRY_OK;
            } else if (request.command == "promote" || request.command == "follow") {
                std::string why;
                if (!svc_.adminAuth) {
                    reply = {FERRY_E_ACCESS_DENIED, "this broker accepts no changing admin requests"};
                } else if (!svc_.adminAuth(request.user, request.password, peerHost(), &why)) {
                    kernelLogger()->warn("replication: refused '{}' from {}: {}", request.command, peer_, why);
                    reply = {FERRY_E_ACCESS_DENIED, why};
                } else {
                    reply = request.command == "promote" ? svc_.promote(request, peer_) : svc_.follow(request, peer_);
                }
            } else {
                reply.status = FERRY_E_UNSUPPORTED;
                reply.text = "unknown replication admin command '" + request.command +
                             "' (known: status, digest, promote, follow)";
            }
            std::string out;
            encodeAdminReply(reply, out);
            svc_.write(conn_, out);
            return FERRY_OK;
        }
        case FrameType::Hello:
            if (phase_ != Phase::Handshake)
                return protocolError("a second Hello");
            {
                Hello hello;
                if (!decodeHello(f.payload, &hello, &error))
                    return protocolError("bad Hello: " + error);
                return onHello(std::move(hello));
            }
        case FrameType::Ack: {
            uint64_t seq = 0;
            if (!view_ || !decodeAck(f.payload, &seq, &error))
                return protocolError(view_ ? "bad Ack: " + error : "Ack before Hello");
            if (seq > svc_.journal->recordedSeq())
                return protocolError("Ack for seq " + std::to_string(seq) + " beyond the last one sent");
            {
                std::lock_guard lock(svc_.mutex);
                uint64_t before = 0, now = 0;
                if (seq > view_->ackedSeq && view_->ackedSeq != 0 &&
                    svc_.journal->bytesThrough(view_->ackedSeq, &before) && svc_.journal->bytesThrough(seq, &now))
                    view_->ackedBytes += now - before;
                view_->ackedSeq = std::max(view_->ackedSeq, seq);
                view_->lastAckMs = wallMs();
            }
            if (phase_ == Phase::Live)
                svc_.journal->acknowledged(seq);
            return FERRY_OK;
        }
        default:
            return protocolError("unexpected frame type " + std::to_string(static_cast<int>(f.type)));
        }
    }

private:
    enum class Phase { Handshake, Snapshot, Records, Live };

    std::string peerHost() const
    {
        std::string host = peer_.substr(0, peer_.rfind(':'));
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
        return host;
    }

    // "digest": what this broker's storage holds, independent of the storage format (tests compare a master's
    // with its slaves'): per queue its bounds, readable records and a hash of them; hashes of metadata and offsets.
    void sendDigest()
    {
        auto text = std::make_shared<std::string>();
        svc_.storage.submit(
            [text](StorageSession &s) -> ferry_status {
                QJsonObject queues;
                for (const auto &[id, flags] : listQueues(s)) {
                    uint64_t low = 0, next = 0, records = 0, hash = 0;
                    s.queueBounds(id, &low, &next);
                    const ferry_status st =
                        forEachRecord(s, id, low, UINT64_MAX, [&](const ferry_storage_record &rec) {
                            ++records;
                            hash ^= recordHash(rec.store_time_ms, rec.data, rec.len) + rec.offset * 0x9e3779b97f4a7c15ull;
                        });
                    if (st != FERRY_OK && st != FERRY_E_CORRUPT)
                        return st;
                    queues.insert(QString::number(id),
                                  QJsonObject{{"flags", static_cast<qint64>(flags)},
                                              {"low", static_cast<qint64>(low)},
                                              {"next", static_cast<qint64>(next)},
                                              {"records", static_cast<qint64>(records)},
                                              {"hash", QString::number(hash, 16)}});
                }
                uint64_t metaHash = 0, metaKeys = 0;
                s.metaScan({}, [&](std::string_view k, std::string_view v) {
                    ++metaKeys;
                    const std::string kv = std::string(k) + '\0' + std::string(v);
                    metaHash ^= recordHash(0, reinterpret_cast<const uint8_t *>(kv.data()), kv.size());
                });
                struct Ctx {
                    uint64_t hash = 0, count = 0;
                } octx;
                auto sink = [](void *c, const char *g, size_t gl, uint64_t q, uint64_t off) -> int32_t {
                    auto *x = static_cast<Ctx *>(c);
                    const std::string kv = std::string(g, gl) + '\0' + std::to_string(q) + '\0' + std::to_string(off);
                    x->hash ^= recordHash(0, reinterpret_cast<const uint8_t *>(kv.data()), kv.size());
                    ++x->count;
                    return 0;
                };
                s.vt().offset_list(s.storage(), sink, &octx, s.errBuf(), s.errCap());
                *text = QJsonDocument(QJsonObject{{"queues", queues},
                                                  {"metaKeys", static_cast<qint64>(metaKeys)},
                                                  {"metaHash", QString::number(metaHash, 16)},
                                                  {"offsets", static_cast<qint64>(octx.count)},
                                                  {"offsetsHash", QString::number(octx.hash, 16)}})
                            .toJson(QJsonDocument::Compact)
                            .toStdString();
                return FERRY_OK;
            },
            [link = link_, text](ferry_status st, const std::string &err) {
                link->post([text, st, err](Connection &c) {
                    auto *self = static_cast<InboundSession *>(sessionOf(c));
                    std::string out;
                    encodeAdminReply({st, st == FERRY_OK ? *text : err}, out);
                    self->svc_.write(self->conn_, out);
                });
            },
            false);
    }

    ferry_status onHello(Hello hello)
    {
        if (hello.version != kProtocolVersion)
            return sendError(ErrorCode::Protocol, "replication protocol version " + std::to_string(hello.version) +
                                                      " is not supported (this broker speaks " +
                                                      std::to_string(kProtocolVersion) + ")");
        if (!svc_.journal)
            return sendError(ErrorCode::NotMaster, "broker '" + svc_.settings.brokerName + "' id " +
                                                       std::to_string(svc_.settings.brokerId) +
                                                       " is a SLAVE, not a master");
        if (hello.brokerName != svc_.settings.brokerName)
            return sendError(ErrorCode::WrongGroup, "this master is broker.name '" + svc_.settings.brokerName +
                                                        "', the slave is '" + hello.brokerName + "'");
        if (hello.brokerId == 0)
            return sendError(ErrorCode::WrongGroup, "a slave must have broker.id > 0");
        view_ = std::make_shared<SlaveView>();
        view_->address = peer_;
        view_->listenAddress = hello.listenAddress;
        view_->brokerId = hello.brokerId;
        view_->connectedMs = wallMs();
        {
            std::lock_guard lock(svc_.mutex);
            svc_.slaves[Connection::fromHandle(conn_)->id()] = view_;
        }
        svc_.host->set_timer(conn_, kTimerHeartbeat, kHeartbeatMs);
        auto wakeFlag = std::make_shared<std::atomic<bool>>(false);
        listener_ = svc_.journal->addListener([link = link_, wakeFlag] {
            if (wakeFlag->exchange(true))
                return;
            link->post([wakeFlag](Connection &c) {
                wakeFlag->store(false);
                static_cast<InboundSession *>(sessionOf(c))->pump();
            });
        });
        const uint64_t published = svc_.journal->publishedSeq();
        std::string probe;
        uint64_t probeNext = 0;
        if (hello.epoch == svc_.journal->epoch() && hello.appliedSeq <= published &&
            svc_.journal->encodeFrom(hello.appliedSeq + 1, 1, probe, &probeNext)) {
            kernelLogger()->info("replication: slave {} (broker.id {}) resumes from seq {}", peer_, hello.brokerId,
                                 hello.appliedSeq);
            cursor_ = hello.appliedSeq + 1;
            sendHeartbeat();
            goLive();
            return FERRY_OK;
        }
        kernelLogger()->info("replication: slave {} (broker.id {}) catches up from storage ({} queues on it{})", peer_,
                             hello.brokerId, hello.queues.size(), hello.reconcile ? ", reconcile" : "");
        phase_ = Phase::Snapshot;
        setState("catching-up");
        startSnapshot(std::move(hello));
        return FERRY_OK;
    }

    void setState(const char *state)
    {
        std::lock_guard lock(svc_.mutex);
        view_->state = state;
        svc_.updateInSync();
    }

    void goLive()
    {
        phase_ = Phase::Live;
        setState("streaming");
        pump();
    }

    struct PlanItem {
        uint64_t queueId, from, to;
    };

    // On the storage thread: compare the slave's queues with ours, build the snapshot, plan the records.
    void startSnapshot(Hello hello)
    {
        struct Result {
            std::string frames;
            std::vector<PlanItem> plan;
            uint64_t seq = 0;
            std::string diverged;
        };
        auto result = std::make_shared<Result>();
        ReplicationJournal *journal = svc_.journal.get();
        auto helloPtr = std::make_shared<Hello>(std::move(hello));
        svc_.storage.submit(
            [result, journal, helloPtr](StorageSession &s) -> ferry_status {
                const Hello &h = *helloPtr;
                std::map<uint64_t, QueueState> theirs;
                for (const QueueState &q : h.queues)
                    theirs[q.queueId] = q;
                result->seq = journal->recordedSeq();
                std::string &out = result->frames;
                encodeSnapshotBegin({journal->epoch(), result->seq}, out);
                ferry_status st = s.metaScan({}, [&](std::string_view k, std::string_view v) {
                    OpRecord op;
                    op.kind = OpRecord::Kind::MetaPut;
                    op.key.assign(k);
                    op.data.assign(v);
                    encodeOp(op, out);
                });
                if (st != FERRY_OK)
                    return st;
                struct OffCtx {
                    std::string *out;
                };
                OffCtx octx{&out};
                auto offSink = [](void *c, const char *g, size_t gl, uint64_t q, uint64_t off) -> int32_t {
                    OpRecord op;
                    op.kind = OpRecord::Kind::OffsetSet;
                    op.key.assign(g, gl);
                    op.queueId = q;
                    op.offset = off;
                    encodeOp(op, *static_cast<OffCtx *>(c)->out);
                    return 0;
                };
                if ((st = s.vt().offset_list(s.storage(), offSink, &octx, s.errBuf(), s.errCap())) != FERRY_OK)
                    return st;
                for (const auto &[id, flags] : listQueues(s)) {
                    SnapshotQueue sq;
                    sq.queueId = id;
                    sq.flags = flags;
                    if ((st = s.queueBounds(id, &sq.low, &sq.next)) != FERRY_OK)
                        return st;
                    uint64_t from = sq.low;
                    auto it = theirs.find(id);
                    if (it != theirs.end()) {
                        const QueueState &q = it->second;
                        std::string why;
                        if (q.next > sq.next)
                            why = "the slave's log of queue id " + std::to_string(id) + " ends at offset " +
                                  std::to_string(q.next) + ", beyond the master's " + std::to_string(sq.next);
                        else if (q.flags != flags)
                            sq.reset = true; // a different queue under the same id (an empty kernel store)
                        if (why.empty() && !sq.reset && q.hasCheck) {
                            bool found = false;
                            uint64_t hash = 0;
                            s.read(id, q.checkOffset, 1, 0, [&](const ferry_storage_record &rec) {
                                if (rec.offset == q.checkOffset) {
                                    found = true;
                                    hash = recordHash(rec.store_time_ms, rec.data, rec.len);
                                }
                                return false;
                            });
                            if (found && hash != q.checkHash)
                                why = "queue id " + std::to_string(id) + " holds a different message at offset " +
                                      std::to_string(q.checkOffset) + " on the slave than on the master";
                        }
                        if (!why.empty()) {
                            if (!h.reconcile) {
                                result->diverged = why;
                                return FERRY_OK;
                            }
                            sq.reset = true;
                        }
                        if (!sq.reset) {
                            from = std::max(q.next, sq.low);
                            if ((flags & FERRY_STORAGE_QUEUE_RETAIN_UNTIL_ACKED) && q.next > std::max(q.low, sq.low)) {
                                sq.hasLiveRuns = true;
                                sq.rangeFrom = std::max(q.low, sq.low);
                                sq.rangeTo = q.next;
                                st = forEachRecord(s, id, sq.rangeFrom, sq.rangeTo, [&](const ferry_storage_record &rec) {
                                    auto &runs = sq.liveRuns;
                                    if (!runs.empty() && runs.back().first + runs.back().second == rec.offset)
                                        ++runs.back().second;
                                    else
                                        runs.emplace_back(rec.offset, 1);
                                });
                                if (st != FERRY_OK)
                                    return st;
                            }
                        }
                    }
                    encodeSnapshotQueue(sq, out);
                    if (from < sq.next)
                        result->plan.push_back({id, from, sq.next});
                }
                encodeSnapshotEnd(out);
                return FERRY_OK;
            },
            [link = link_, result](ferry_status st, const std::string &err) {
                link->post([result, st, err](Connection &c) {
                    auto *self = static_cast<InboundSession *>(sessionOf(c));
                    if (st != FERRY_OK) {
                        self->sendError(ErrorCode::Refused, "the master could not read its storage: " + err);
                        return;
                    }
                    if (!result->diverged.empty()) {
                        kernelLogger()->error("replication: refusing slave {}: {}", self->peer_, result->diverged);
                        self->sendError(ErrorCode::Diverged, result->diverged);
                        return;
                    }
                    self->svc_.write(self->conn_, result->frames);
                    self->plan_ = std::move(result->plan);
                    self->snapshotSeq_ = result->seq;
                    self->cursor_ = result->seq + 1;
                    self->phase_ = Phase::Records;
                    self->pump();
                });
            },
            false);
    }

    // One storage job per chunk of records; the next is asked for once the chunk was written.
    void pumpRecords()
    {
        if (readPending_)
            return;
        while (!plan_.empty() && plan_.front().from >= plan_.front().to)
            plan_.erase(plan_.begin());
        if (plan_.empty()) {
            std::string out;
            encodeCatchupEnd(snapshotSeq_, out);
            svc_.write(conn_, out);
            kernelLogger()->info("replication: slave {} caught up to seq {}; streaming", peer_, snapshotSeq_);
            goLive();
            return;
        }
        readPending_ = true;
        const PlanItem item = plan_.front();
        auto chunk = std::make_shared<std::string>();
        auto reached = std::make_shared<uint64_t>(item.to);
        svc_.storage.submit(
            [item, chunk, reached](StorageSession &s) {
                uint64_t last = item.from;
                bool any = false;
                const ferry_status st = s.read(item.queueId, item.from, kCatchupChunkRecords, kCatchupChunkBytes,
                                               [&](const ferry_storage_record &rec) {
                                                   if (rec.offset >= item.to)
                                                       return false;
                                                   encodeAppendOp(0, item.queueId, rec.offset, rec.store_time_ms,
                                                                  std::string_view(reinterpret_cast<const char *>(
                                                                                       rec.data),
                                                                                   rec.len),
                                                                  {}, *chunk);
                                                   any = true;
                                                   last = rec.offset;
                                                   return true;
                                               });
                *reached = any ? last + 1 : item.to;
                return st;
            },
            [link = link_, chunk, reached](ferry_status st, const std::string &err) {
                link->post([chunk, reached, st, err](Connection &c) {
                    auto *self = static_cast<InboundSession *>(sessionOf(c));
                    self->readPending_ = false;
                    if (st != FERRY_OK && st != FERRY_E_CORRUPT) {
                        self->sendError(ErrorCode::Refused, "the master could not read its log: " + err);
                        return;
                    }
                    self->svc_.write(self->conn_, *chunk);
                    if (!self->plan_.empty())
                        self->plan_.front().from = *reached;
                    self->pump();
                });
            },
            false);
    }

    std::string peer_;
    std::shared_ptr<SlaveView> view_;
    uint64_t listener_ = 0;
    Phase phase_ = Phase::Handshake;
    uint64_t cursor_ = 1;
    uint64_t snapshotSeq_ = 0;
    std::vector<PlanItem> plan_;
    bool readPending_ = false;
    bool pumpPending_ = false;
};

// A slave's connection to its master.
class SlaveSession final : public Session {
public:
    SlaveSession(ReplicationService::Impl &svc, ferry_conn *conn) : Session(svc, conn) {}

    void start()
    {
        // Hello describes what our storage holds: built on the storage thread.
        auto hello = std::make_shared<Hello>();
        hello->brokerName = svc_.settings.brokerName;
        hello->brokerId = svc_.settings.brokerId;
        hello->reconcile = svc_.settings.reconcile;
        {
            std::lock_guard lock(svc_.mutex);
            hello->listenAddress = svc_.listenAddress;
            // Resume inside the same master process's backlog only when our storage holds all we applied.
            hello->epoch = svc_.master.epoch;
            hello->appliedSeq = svc_.master.appliedSeq;
        }
        svc_.storage.submit(
            [hello](StorageSession &s) {
                for (const auto &[id, flags] : listQueues(s))
                    hello->queues.push_back(localQueueState(s, id, flags));
                return FERRY_OK;
            },
            [link = link_, hello](ferry_status, const std::string &) {
                link->post([hello](Connection &c) {
                    auto *self = static_cast<SlaveSession *>(reinterpret_cast<Session *>(c.session()));
                    std::string out;
                    encodeHello(*hello, out);
                    self->svc_.write(self->conn_, out);
                });
            },
            false);
    }

    void onClose() override
    {
        std::lock_guard lock(svc_.mutex);
        svc_.master.connected = false;
        if (svc_.master.state != "diverged")
            svc_.master.state = "disconnected";
        svc_.slaveConnId = 0;
        svc_.slaveLink.reset();
        if (!svc_.stopping.load() && !svc_.fatalRaised.load())
            svc_.scheduleConnect(svc_.reconnectDelayMs);
    }

protected:
    ferry_status onFrame(const Frame &f) override
    {
        std::string error;
        switch (f.type) {
        case FrameType::SnapshotBegin: {
            SnapshotBegin b;
            if (!decodeSnapshotBegin(f.payload, &b, &error))
                return protocolError("bad SnapshotBegin: " + error);
            inSnapshot_ = true;
            sawFirst_ = true;
            {
                std::lock_guard lock(svc_.mutex);
                ++svc_.master.snapshots;
            }
            snapshot_ = std::make_shared<Snapshot>();
            snapshot_->epoch = b.epoch;
            snapshot_->seq = b.seq;
            setState("catching-up", b.epoch);
            return FERRY_OK;
        }
        case FrameType::SnapshotQueue: {
            SnapshotQueue q;
            if (!inSnapshot_ || !decodeSnapshotQueue(f.payload, &q, &error))
                return protocolError(inSnapshot_ ? "bad SnapshotQueue: " + error : "SnapshotQueue outside a snapshot");
            snapshot_->queues.push_back(std::move(q));
            return FERRY_OK;
        }
        case FrameType::SnapshotEnd:
            if (!inSnapshot_)
                return protocolError("SnapshotEnd outside a snapshot");
            inSnapshot_ = false;
            flushBatch();
            applySnapshot(std::move(snapshot_));
            return FERRY_OK;
        case FrameType::Op: {
            OpRecord op;
            if (!decodeOp(f.payload, &op, &error))
                return protocolError("bad Op: " + error);
            if (inSnapshot_) {
                if (op.kind == OpRecord::Kind::MetaPut)
                    snapshot_->meta.emplace(std::move(op.key), std::move(op.data));
                else if (op.kind == OpRecord::Kind::OffsetSet)
                    snapshot_->offsets.push_back(std::move(op));
                else
                    return protocolError("a change of kind " + std::to_string(int(op.kind)) + " inside a snapshot");
                return FERRY_OK;
            }
            if (!sawFirst_) {
                markResumed();
                lastSeq_ = op.seq - 1;
            }
            if (op.seq != 0) {
                if (op.seq != lastSeq_ + 1 && lastSeq_ != 0)
                    return protocolError("change seq " + std::to_string(op.seq) + " after " + std::to_string(lastSeq_));
                lastSeq_ = op.seq;
            }
            batchBytes_ += op.data.size();
            batch_.push_back(std::move(op));
            if (batchBytes_ >= (4u << 20))
                flushBatch();
            return FERRY_OK;
        }
        case FrameType::CatchupEnd: {
            uint64_t seq = 0;
            if (!decodeCatchupEnd(f.payload, &seq, &error))
                return protocolError("bad CatchupEnd: " + error);
            flushBatch();
            lastSeq_ = seq;
            ackAfterApply(seq, true);
            return FERRY_OK;
        }
        case FrameType::Heartbeat: {
            Heartbeat h;
            if (!decodeHeartbeat(f.payload, &h, &error))
                return protocolError("bad Heartbeat: " + error);
            if (!sawFirst_)
                markResumed();
            std::lock_guard lock(svc_.mutex);
            svc_.master.masterSeq = h.seq;
            svc_.master.lastHeartbeatMs = wallMs();
            return FERRY_OK;
        }
        case FrameType::Error: {
            ErrorFrame e;
            if (!decodeError(f.payload, &e, &error))
                return protocolError("bad Error frame: " + error);
            onMasterError(e);
            closing_ = true;
            return FERRY_OK;
        }
        default:
            return protocolError("unexpected frame type " + std::to_string(static_cast<int>(f.type)));
        }
    }

    void afterFrames() override { flushBatch(); }

private:
    struct Snapshot {
        uint64_t epoch = 0, seq = 0;
        std::map<std::string, std::string> meta;
        std::vector<OpRecord> offsets;
        std::vector<SnapshotQueue> queues;
    };

    // A snapshot starts a new numbering: the position is the snapshot's once it is applied.
    void setState(const char *state, uint64_t epoch)
    {
        std::lock_guard lock(svc_.mutex);
        svc_.master.state = state;
        svc_.master.epoch = epoch;
        svc_.master.appliedSeq = 0;
    }

    // The master's first frame was live (a change or a heartbeat), not a snapshot: it resumed us from its backlog.
    void markResumed()
    {
        sawFirst_ = true;
        std::lock_guard lock(svc_.mutex);
        ++svc_.master.resumes;
        svc_.master.state = "streaming";
        kernelLogger()->info("replication: resumed from master {} at seq {}", svc_.master.address,
                             svc_.master.appliedSeq);
    }

    void onMasterError(const ErrorFrame &e)
    {
        {
            std::lock_guard lock(svc_.mutex);
            svc_.master.lastError = e.text;
            if (e.code == ErrorCode::Diverged)
                svc_.master.state = "diverged";
        }
        if (e.code == ErrorCode::Diverged) {
            svc_.raiseFatal("this slave's data diverges from its master's (" + e.text +
                            "); it refuses to serve. Restart it with --reconcile to drop what the master does not "
                            "have and copy the master's instead");
            return;
        }
        kernelLogger()->error("replication: the master refused this slave: {}", e.text);
        if (e.code == ErrorCode::WrongGroup || e.code == ErrorCode::NotMaster) {
            std::lock_guard lock(svc_.mutex);
            svc_.reconnectDelayMs = kReconnectMaxMs;
        }
    }

    void flushBatch()
    {
        if (batch_.empty())
            return;
        auto ops = std::make_shared<std::vector<OpRecord>>(std::move(batch_));
        batch_.clear();
        batchBytes_ = 0;
        ReplicationService::Impl *svc = &svc_;
        const uint64_t seq = ops->back().seq;
        svc_.storage.submit(
            [svc, ops](StorageSession &s) -> ferry_status {
                AppliedChanges changes;
                uint64_t bytes = 0, records = 0;
                for (const OpRecord &op : *ops) {
                    std::string error;
                    const ferry_status st = svc->applyOp(s, op, changes, &error);
                    if (st != FERRY_OK) {
                        std::snprintf(s.errBuf(), s.errCap(), "%s", error.c_str());
                        return st;
                    }
                    if (op.kind == OpRecord::Kind::Append) {
                        bytes += op.data.size();
                        ++records;
                    }
                }
                {
                    std::lock_guard lock(svc->mutex);
                    svc->master.appliedBytes += bytes;
                    svc->master.appliedRecords += records;
                    svc->master.lastAppliedMs = wallMs();
                }
                if (svc->observer)
                    svc->observer(s, changes);
                return FERRY_OK;
            },
            [link = link_, svc, seq](ferry_status st, const std::string &err) {
                if (st != FERRY_OK) {
                    kernelLogger()->error("replication: applying the master's changes failed ({}): {}; reconnecting",
                                          st, err);
                    link->post([svc](Connection &c) { svc->host->close(c.handle(), "apply failed"); });
                    return;
                }
                if (seq != 0)
                    link->post([seq](Connection &c) {
                        static_cast<SlaveSession *>(reinterpret_cast<Session *>(c.session()))->sendAck(seq, false);
                    });
            },
            true);
    }

    // Once everything submitted so far is stored: acknowledge seq.
    void ackAfterApply(uint64_t seq, bool live)
    {
        svc_.storage.submit([](StorageSession &) { return FERRY_OK; },
                            [link = link_, seq, live](ferry_status, const std::string &) {
                                link->post([seq, live](Connection &c) {
                                    static_cast<SlaveSession *>(reinterpret_cast<Session *>(c.session()))
                                        ->sendAck(seq, live);
                                });
                            },
                            true);
    }

    void sendAck(uint64_t seq, bool nowLive)
    {
        {
            std::lock_guard lock(svc_.mutex);
            svc_.master.appliedSeq = std::max(svc_.master.appliedSeq, seq);
            if (nowLive) {
                svc_.master.state = "streaming";
                svc_.reconnectDelayMs = kReconnectMinMs;
                kernelLogger()->info("replication: caught up with master {} at seq {}; streaming",
                                     svc_.master.address, seq);
            }
        }
        std::string out;
        encodeAck(seq, out);
        svc_.write(conn_, out);
    }

    void applySnapshot(std::shared_ptr<Snapshot> snap)
    {
        ReplicationService::Impl *svc = &svc_;
        svc_.storage.submit(
            [svc, snap](StorageSession &s) -> ferry_status {
                svc->nextCache.clear();
                AppliedChanges changes;
                changes.queuesChanged = changes.topicsChanged = true;
                // Metadata: the master's, exactly.
                std::vector<std::string> stale;
                ferry_status st = s.metaScan({}, [&](std::string_view k, std::string_view) {
                    if (!snap->meta.count(std::string(k)))
                        stale.emplace_back(k);
                });
                if (st != FERRY_OK)
                    return st;
                for (const std::string &k : stale)
                    if ((st = s.metaDelete(k)) != FERRY_OK && st != FERRY_E_NOT_FOUND)
                        return st;
                for (const auto &[k, v] : snap->meta)
                    if ((st = s.metaPut(k, v)) != FERRY_OK)
                        return st;
                // Queues.
                std::map<uint64_t, uint32_t> local;
                for (const auto &[id, flags] : listQueues(s))
                    local[id] = flags;
                std::set<uint64_t> theirs;
                for (const SnapshotQueue &q : snap->queues) {
                    theirs.insert(q.queueId);
                    auto it = local.find(q.queueId);
                    if (it != local.end() && (q.reset || it->second != q.flags)) {
                        kernelLogger()->warn("replication: dropping this slave's copy of queue id {} to take the "
                                             "master's",
                                             q.queueId);
                        if ((st = s.queueDelete(q.queueId)) != FERRY_OK)
                            return st;
                        local.erase(it);
                        it = local.end();
                    }
                    if (it == local.end() && (st = s.queueCreate(q.queueId, q.flags)) != FERRY_OK)
                        return st;
                    if (q.hasLiveRuns) {
                        std::vector<uint64_t> toAck;
                        size_t run = 0;
                        st = forEachRecord(s, q.queueId, q.rangeFrom, q.rangeTo, [&](const ferry_storage_record &rec) {
                            while (run < q.liveRuns.size() &&
                                   q.liveRuns[run].first + q.liveRuns[run].second <= rec.offset)
                                ++run;
                            if (run >= q.liveRuns.size() || q.liveRuns[run].first > rec.offset)
                                toAck.push_back(rec.offset);
                        });
                        if (st != FERRY_OK)
                            return st;
                        for (uint64_t off : toAck)
                            if ((st = s.ack(q.queueId, off)) != FERRY_OK)
                                return st;
                    }
                    uint64_t low = 0, next = 0;
                    if (s.queueBounds(q.queueId, &low, &next) == FERRY_OK && low < q.low && next >= q.low)
                        s.vt().truncate_prefix(s.storage(), q.queueId, q.low, s.errBuf(), s.errCap());
                }
                for (const auto &[id, flags] : local)
                    if (!theirs.count(id) && (st = s.queueDelete(id)) != FERRY_OK && st != FERRY_E_NOT_FOUND)
                        return st;
                for (const OpRecord &o : snap->offsets)
                    if ((st = s.offsetSet(o.key, o.queueId, o.offset)) != FERRY_OK)
                        return st;
                for (const SnapshotQueue &q : snap->queues) {
                    uint64_t low = 0, next = 0;
                    if (s.queueBounds(q.queueId, &low, &next) == FERRY_OK)
                        changes.queueEnds[q.queueId] = next;
                }
                if (svc->observer)
                    svc->observer(s, changes);
                return FERRY_OK;
            },
            [link = link_, svc](ferry_status st, const std::string &err) {
                if (st != FERRY_OK) {
                    kernelLogger()->error("replication: applying the master's snapshot failed ({}): {}", st, err);
                    link->post([svc](Connection &c) { svc->host->close(c.handle(), "snapshot failed"); });
                }
            },
            true);
    }

    bool inSnapshot_ = false;
    bool sawFirst_ = false; // a SnapshotBegin or a first Op arrived on this connection
    std::shared_ptr<Snapshot> snapshot_;
    std::vector<OpRecord> batch_;
    size_t batchBytes_ = 0;
    uint64_t lastSeq_ = 0;
};

// ---- the slave applier (storage thread) -------------------------------------------------------------------------

uint64_t ReplicationService::Impl::cachedNext(StorageSession &s, uint64_t queueId)
{
    auto it = nextCache.find(queueId);
    if (it != nextCache.end())
        return it->second;
    uint64_t low = 0, next = 0;
    if (s.queueBounds(queueId, &low, &next) != FERRY_OK)
        return UINT64_MAX;
    nextCache[queueId] = next;
    return next;
}

ferry_status ReplicationService::Impl::applyOp(StorageSession &s, const OpRecord &op, AppliedChanges &changes,
                                               std::string *error)
{
    ferry_status st = FERRY_OK;
    switch (op.kind) {
    case OpRecord::Kind::Append: {
        uint64_t next = cachedNext(s, op.queueId);
        if (next == UINT64_MAX) {
            *error = "a record for queue id " + std::to_string(op.queueId) + ", which this slave does not have";
            return FERRY_E_NOT_FOUND;
        }
        if (next > op.offset)
            return FERRY_OK; // already here (a resumed stream repeats nothing, a catch-up may)
        // Offsets the master no longer has (acked, removed) become acked placeholders, so offsets stay the master's.
        while (next < op.offset) {
            uint64_t off = 0;
            if ((st = s.vt().append(s.storage(), op.queueId, op.storeTimeMs, nullptr, 0, nullptr, 0, &off, s.errBuf(),
                                    s.errCap())) != FERRY_OK ||
                (st = s.ack(op.queueId, off)) != FERRY_OK) {
                *error = s.error();
                return st;
            }
            next = off + 1;
        }
        uint64_t off = 0;
        st = s.vt().append(s.storage(), op.queueId, op.storeTimeMs, nullptr, 0,
                           reinterpret_cast<const uint8_t *>(op.data.data()), op.data.size(), &off, s.errBuf(),
                           s.errCap());
        if (st != FERRY_OK) {
            *error = s.error();
            return st;
        }
        if (off != op.offset) {
            *error = "queue id " + std::to_string(op.queueId) + ": the record landed at offset " + std::to_string(off) +
                     ", the master's is " + std::to_string(op.offset);
            return FERRY_E_CORRUPT;
        }
        nextCache[op.queueId] = off + 1;
        changes.queueEnds[op.queueId] = off + 1;
        return FERRY_OK;
    }
    case OpRecord::Kind::Ack:
        st = s.ack(op.queueId, op.offset);
        break;
    case OpRecord::Kind::OffsetSet:
        st = s.offsetSet(op.key, op.queueId, op.offset);
        break;
    case OpRecord::Kind::MetaPut:
        st = s.metaPut(op.key, op.data);
        changes.queuesChanged |= op.key.rfind("queue/", 0) == 0;
        changes.topicsChanged |= op.key.rfind("topic/", 0) == 0;
        break;
    case OpRecord::Kind::MetaDelete:
        st = s.metaDelete(op.key);
        if (st == FERRY_E_NOT_FOUND)
            st = FERRY_OK;
        changes.queuesChanged |= op.key.rfind("queue/", 0) == 0;
        changes.topicsChanged |= op.key.rfind("topic/", 0) == 0;
        break;
    case OpRecord::Kind::QueueCreate:
        st = s.queueCreate(op.queueId, op.flags);
        if (st == FERRY_E_ALREADY_EXISTS)
            st = FERRY_OK;
        nextCache.erase(op.queueId);
        changes.queuesChanged = true;
        break;
    case OpRecord::Kind::QueueDelete:
        st = s.queueDelete(op.queueId);
        if (st == FERRY_E_NOT_FOUND)
            st = FERRY_OK;
        nextCache.erase(op.queueId);
        changes.queuesChanged = true;
        break;
    }
    if (st != FERRY_OK)
        *error = s.error();
    return st;
}

// ---- admin requests that change the broker (event-loop thread of the admin connection) --------------------------

// "promote <role>[ force]": this slave becomes its group's master. The change is recorded in the override file, then
// the broker restarts in place (the restart handler), since every part of the kernel starts differently on a master.
AdminReply ReplicationService::Impl::promote(const AdminRequest &request, const std::string &peer)
{
    std::string role = request.argument;
    bool force = false;
    if (const size_t space = role.find(' '); space != std::string::npos) {
        force = role.substr(space + 1) == "force";
        if (!force)
            return {FERRY_E_INVALID_ARGUMENT, "promote: expected '<role>' or '<role> force', got '" + role + "'"};
        role.resize(space);
    }
    if (role != "SYNC_MASTER" && role != "ASYNC_MASTER")
        return {FERRY_E_INVALID_ARGUMENT, "promote: the new role must be SYNC_MASTER or ASYNC_MASTER, not '" + role + "'"};
    if (settings.role != ReplicationRole::Slave)
        return {FERRY_E_INVALID_ARGUMENT, "promote: broker '" + settings.brokerName + "' id " +
                                              std::to_string(settings.brokerId) + " is already a master (" +
                                              replicationRoleName(settings.role) + ")"};
    {
        std::lock_guard lock(mutex);
        if (!force && master.connected)
            return {FERRY_E_BUSY, "promote: the master " + master.address +
                                      " is alive (this slave is connected to it); promoting now would give the group "
                                      "two masters. Stop it first, or promote with force"};
    }
    std::string error;
    if (!updateReplicationOverride(settings.overrideFile,
                                   {{"broker.id", "0"}, {"replication.role", role}, {"replication.master", ""}},
                                   &error))
        return {FERRY_E_IO, "promote: " + error};
    const std::string why = "promoted to " + role + " by an admin request from " + peer + " (recorded in " +
                            settings.overrideFile.string() + ")";
    kernelLogger()->warn("replication: {}; restarting", why);
    // The reply goes out first; the restart follows on the scheduler.
    scheduler.after(200, [this, why] {
        if (!restartRaised.exchange(true) && restart)
            restart(why);
    });
    return {FERRY_OK, QJsonDocument(QJsonObject{{"promoted", true},
                                                {"role", QString::fromStdString(role)},
                                                {"restarting", true},
                                                {"overrideFile", QString::fromStdString(settings.overrideFile.string())}})
                          .toJson(QJsonDocument::Compact)
                          .toStdString()};
}

// "follow <host:port>": this slave follows another master from now on (and after a restart: the override file). It
// catches up from storage against the new master, which refuses it if its log diverges.
AdminReply ReplicationService::Impl::follow(const AdminRequest &request, const std::string &peer)
{
    const std::string &address = request.argument;
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
        return {FERRY_E_INVALID_ARGUMENT, "follow: expected the new master's host:port, got '" + address + "'"};
    if (settings.role != ReplicationRole::Slave)
        return {FERRY_E_INVALID_ARGUMENT, "follow: this broker is a master (" +
                                              std::string(replicationRoleName(settings.role)) +
                                              "); only a slave follows one"};
    std::string error;
    if (!updateReplicationOverride(settings.overrideFile, {{"replication.master", address}}, &error))
        return {FERRY_E_IO, "follow: " + error};
    ConnectionLinkPtr current;
    {
        std::lock_guard lock(mutex);
        if (address == listenAddress)
            return {FERRY_E_INVALID_ARGUMENT, "follow: " + address + " is this broker's own listener"};
        settings.master = address;
        master.epoch = 0; // another master's stream: catch up from storage
        master.appliedSeq = 0;
        master.lastError.clear();
        reconnectDelayMs = kReconnectMinMs;
        current = slaveLink;
        if (!current && reconnectTimer != 0) {
            scheduler.cancel(reconnectTimer);
            reconnectTimer = 0;
        }
    }
    kernelLogger()->warn("replication: following {} from now on, by an admin request from {} (recorded in {})",
                         address, peer, settings.overrideFile.string());
    if (current)
        current->post([this](Connection &c) { host->close(c.handle(), "this slave follows another master now"); });
    else
        connectToMaster();
    return {FERRY_OK, QJsonDocument(QJsonObject{{"following", QString::fromStdString(address)}})
                          .toJson(QJsonDocument::Compact)
                          .toStdString()};
}

// ---- the built-in protocol's hooks ------------------------------------------------------------------------------

namespace {

ferry_status onOpen(ferry_protocol *instance, ferry_conn *conn, uint32_t, ferry_session **out)
{
    auto *svc = ReplicationService::Impl::from(instance);
    *out = reinterpret_cast<ferry_session *>(static_cast<Session *>(new InboundSession(*svc, conn)));
    return FERRY_OK;
}

ferry_status onRead(ferry_session *session, const uint8_t *data, size_t len, size_t *consumed)
{
    return reinterpret_cast<Session *>(session)->read(data, len, consumed);
}

void onTimer(ferry_session *session, uint64_t id) { reinterpret_cast<Session *>(session)->onTimer(id); }

void onClose(ferry_session *session, int32_t)
{
    auto *s = reinterpret_cast<Session *>(session);
    s->onClose();
    delete s;
}

ferry_status onConnect(ferry_protocol *instance, ferry_conn *conn, uint64_t, ferry_status status, const char *text,
                       ferry_session **out)
{
    auto *svc = ReplicationService::Impl::from(instance);
    if (status != FERRY_OK) {
        std::lock_guard lock(svc->mutex);
        svc->slaveConnecting = false;
        svc->master.connected = false;
        svc->master.state = "disconnected";
        svc->master.lastError = std::string("cannot connect: ") + (text ? text : "");
        if (!svc->stopping.load())
            svc->scheduleConnect(svc->reconnectDelayMs);
        svc->reconnectDelayMs = std::min(svc->reconnectDelayMs * 2, kReconnectMaxMs);
        return FERRY_OK;
    }
    auto *session = new SlaveSession(*svc, conn);
    *out = reinterpret_cast<ferry_session *>(static_cast<Session *>(session));
    bool stale = false;
    {
        std::lock_guard lock(svc->mutex);
        svc->slaveConnecting = false;
        svc->master.connected = true;
        svc->master.state = "connected";
        svc->slaveConnId = Connection::fromHandle(conn)->id();
        svc->slaveLink = session->link();
        // "follow" named another master while this connection was being made.
        stale = svc->master.address != svc->masterAddress();
    }
    if (stale) {
        svc->host->close(conn, "this slave follows another master now");
        return FERRY_OK;
    }
    kernelLogger()->info("replication: connected to master {}", svc->master.address);
    session->start();
    return FERRY_OK;
}

} // namespace

void ReplicationService::Impl::scheduleConnect(uint32_t delayMs)
{
    // mutex held by the caller
    if (reconnectTimer != 0 || slaveConnecting || stopping.load())
        return;
    reconnectTimer = scheduler.after(delayMs, [this] {
        {
            std::lock_guard lock(mutex);
            reconnectTimer = 0;
        }
        connectToMaster();
    });
}

void ReplicationService::Impl::connectToMaster()
{
    std::string address;
    {
        std::lock_guard lock(mutex);
        if (stopping.load() || slaveConnecting || slaveConnId != 0 || settings.role != ReplicationRole::Slave)
            return;
        address = masterAddress();
        if (address.empty()) {
            master.state = "disconnected";
            master.lastError = "no master address yet (replication.master is empty and no name server named one)";
            scheduleConnect(1000);
            return;
        }
        slaveConnecting = true;
        master.address = address;
        master.state = "connecting";
    }
    ListenerSpec spec{address, &plugin, instance(), 0, "replication.master"};
    spec.connectTag = 1;
    network->connect(spec);
}

// ---- ReplicationService --------------------------------------------------------------------------------------------

ReplicationService::ReplicationService(const ReplicationSettings &settings, StorageEngine &storage,
                                       Scheduler &scheduler)
    : impl_(std::make_unique<Impl>(settings, storage, scheduler))
{
    Impl &d = *impl_;
    d.owner = this;
    if (settings.role != ReplicationRole::Slave)
        d.journal = std::make_unique<ReplicationJournal>(scheduler, settings.bufferBytes,
                                                         settings.role == ReplicationRole::SyncMaster,
                                                         settings.syncTimeoutMs);
    initBuiltinProtocol(d.plugin, "replication", "the kernel's replication protocol", kListeners, 1);
    d.plugin.protocol.on_open = onOpen;
    d.plugin.protocol.on_read = onRead;
    d.plugin.protocol.on_timer = onTimer;
    d.plugin.protocol.on_close = onClose;
    d.plugin.protocol.on_connect = onConnect;
}

ReplicationService::~ReplicationService() { stop(); }

ReplicationJournal *ReplicationService::journal() const { return impl_->journal.get(); }

void ReplicationService::setReplicaObserver(std::function<void(StorageSession &, const AppliedChanges &)> fn)
{
    impl_->observer = std::move(fn);
}

void ReplicationService::setFatalHandler(std::function<void(const std::string &)> fn) { impl_->fatal = std::move(fn); }

void ReplicationService::setRestartHandler(std::function<void(const std::string &)> fn)
{
    impl_->restart = std::move(fn);
}

void ReplicationService::setAdminAuthenticator(AdminAuthenticator fn) { impl_->adminAuth = std::move(fn); }

bool ReplicationService::start(NetworkServer &network, const ferry_protocol_host *host, std::string *error)
{
    Impl &d = *impl_;
    d.network = &network;
    d.host = host;
    d.stopping = false;
    if (!d.settings.listen.empty()) {
        ListenerSpec spec{d.settings.listen, &d.plugin, d.instance(), 0, "replication.listen"};
        if (!network.listen(spec, error))
            return false;
        for (const auto &[key, address] : network.boundAddresses())
            if (key == "replication.listen") {
                std::lock_guard lock(d.mutex);
                d.listenAddress = address;
            }
    }
    std::string following;
    {
        std::lock_guard lock(d.mutex);
        following = d.masterAddress();
    }
    kernelLogger()->info("replication: broker '{}' id {} runs as {}{}", d.settings.brokerName, d.settings.brokerId,
                         replicationRoleName(d.settings.role),
                         d.settings.role == ReplicationRole::Slave
                             ? (following.empty() ? std::string(", master address not known yet")
                                                  : ", following " + following)
                             : std::string());
    if (d.settings.role == ReplicationRole::Slave)
        d.connectToMaster();
    return true;
}

void ReplicationService::stop()
{
    Impl &d = *impl_;
    if (d.stopping.exchange(true))
        return;
    {
        std::lock_guard lock(d.mutex);
        if (d.reconnectTimer)
            d.scheduler.cancel(d.reconnectTimer);
        d.reconnectTimer = 0;
    }
    if (d.journal)
        d.journal->failHeld(FERRY_E_CLOSED, "the broker is stopping");
}

ReplicationRole ReplicationService::role() const { return impl_->settings.role; }

void ReplicationService::fillInfo(ferry_replication_info *out) const
{
    const Impl &d = *impl_;
    ferry_replication_info info{};
    info.struct_size = sizeof info;
    info.role = static_cast<int32_t>(d.settings.role);
    info.broker_id = d.settings.brokerId;
    std::snprintf(info.broker_name, sizeof info.broker_name, "%s", d.settings.brokerName.c_str());
    {
        std::lock_guard lock(d.mutex);
        std::snprintf(info.listen_address, sizeof info.listen_address, "%s", d.listenAddress.c_str());
        if (d.settings.role == ReplicationRole::Slave)
            std::snprintf(info.master_address, sizeof info.master_address, "%s", d.masterAddress().c_str());
    }
    const uint32_t size = std::min<uint32_t>(out->struct_size, sizeof info);
    info.struct_size = size;
    std::memcpy(out, &info, size);
}

void ReplicationService::masterHint(const std::string &address)
{
    Impl &d = *impl_;
    if (d.settings.role != ReplicationRole::Slave || address.empty())
        return;
    bool changed = false;
    {
        std::lock_guard lock(d.mutex);
        if (!d.settings.master.empty())
            return;
        changed = d.hintedMaster != address;
        d.hintedMaster = address;
    }
    if (changed) {
        kernelLogger()->info("replication: the name server names {} as this group's master", address);
        d.connectToMaster();
    }
}

std::pair<int32_t, std::string> ReplicationService::change(const std::string &command, const std::string &argument,
                                                           const std::string &requestedBy)
{
    const AdminRequest request{command, argument, {}, {}};
    AdminReply reply;
    if (command == "promote")
        reply = impl_->promote(request, requestedBy);
    else if (command == "follow")
        reply = impl_->follow(request, requestedBy);
    else
        reply = {FERRY_E_UNSUPPORTED, "unknown replication change '" + command + "' (known: promote, follow)"};
    return {reply.status, reply.text};
}

std::string ReplicationService::statusJson() const
{
    const Impl &d = *impl_;
    QJsonObject self{{"brokerName", QString::fromStdString(d.settings.brokerName)},
                     {"brokerId", static_cast<qint64>(d.settings.brokerId)},
                     {"role", replicationRoleName(d.settings.role)}};
    const uint64_t now = wallMs();
    std::lock_guard lock(d.mutex);
    self.insert("address", QString::fromStdString(d.listenAddress));
    if (d.journal) {
        const uint64_t published = d.journal->publishedSeq();
        self.insert("seq", static_cast<qint64>(published));
        self.insert("epoch", QString::number(d.journal->epoch(), 16));
        self.insert("inSyncSlaves", d.journal->inSyncSlaves());
        QJsonArray slaves;
        for (const auto &[id, v] : d.slaves) {
            uint64_t lagBytes = 0, lagMessages = 0;
            const bool known = d.journal->lagSince(v->ackedSeq, &lagBytes, &lagMessages);
            const double seconds = std::max<uint64_t>(1, now - v->connectedMs) / 1000.0;
            slaves.append(QJsonObject{
                {"brokerId", static_cast<qint64>(v->brokerId)},
                {"role", "SLAVE"},
                {"address", QString::fromStdString(v->listenAddress.empty() ? v->address : v->listenAddress)},
                {"peer", QString::fromStdString(v->address)},
                {"connected", true},
                {"state", QString::fromStdString(v->state)},
                {"inSync", v->state == "streaming"},
                {"replicatedSeq", static_cast<qint64>(v->ackedSeq)},
                {"lagKnown", known},
                {"lagBytes", static_cast<qint64>(lagBytes)},
                {"lagMessages", static_cast<qint64>(lagMessages)},
                {"lastAckMs", static_cast<qint64>(v->lastAckMs)},
                {"bytesPerSecond", static_cast<qint64>(v->ackedBytes / seconds)},
            });
        }
        self.insert("slaves", slaves);
    } else {
        const MasterLink &m = d.master;
        const uint64_t lag = m.masterSeq > m.appliedSeq ? m.masterSeq - m.appliedSeq : 0;
        self.insert("master", QJsonObject{
                                  {"brokerId", 0},
                                  {"epoch", QString::number(m.epoch, 16)},
                                  {"role", "MASTER"},
                                  {"address", QString::fromStdString(m.address)},
                                  {"connected", m.connected},
                                  {"state", QString::fromStdString(m.state)},
                                  {"inSync", m.state == "streaming" && lag == 0},
                                  {"appliedSeq", static_cast<qint64>(m.appliedSeq)},
                                  {"masterSeq", static_cast<qint64>(m.masterSeq)},
                                  {"lagChanges", static_cast<qint64>(lag)},
                                  {"lastHeartbeatMs", static_cast<qint64>(m.lastHeartbeatMs)},
                                  {"lastAppliedMs", static_cast<qint64>(m.lastAppliedMs)},
                                  {"appliedRecords", static_cast<qint64>(m.appliedRecords)},
                                  {"appliedBytes", static_cast<qint64>(m.appliedBytes)},
                                  {"snapshots", static_cast<qint64>(m.snapshots)},
                                  {"resumes", static_cast<qint64>(m.resumes)},
                                  {"lastError", QString::fromStdString(m.lastError)},
                              });
    }
    return QJsonDocument(self).toJson(QJsonDocument::Compact).toStdString();
}

} // namespace ferry::repl
