#include "Session.h"

#include "CrossProtocol.h"
#include "DeadLetterHeaders.h"

#include <ferry/properties.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <random>

namespace ferry::amqp {

namespace {
constexpr uint64_t kHeartbeatTimer = 1;
// The reserved property that carries a message's AMQP basic properties exactly as the publisher sent them.
constexpr std::string_view kReplyTo = "amq.rabbitmq.reply-to";

// A method frame carrying basic.publish (class 60, method 40), judged from its first four payload octets.
bool isPublishFrame(const Frame &f)
{
    const auto *p = reinterpret_cast<const uint8_t *>(f.payload.data());
    return f.type == frame_type::kMethod && f.payload.size() >= 4 && p[0] == 0 && p[1] == 60 && p[2] == 0 &&
           p[3] == 40;
}

uint64_t nowMs()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

// Table entries with a text form as a property block (binding arguments of headers exchanges).
std::string tableToBlock(const TableView &t)
{
    std::string block;
    std::string value;
    for (const auto &e : t)
        if (headerValueText(e.value, &value))
            ferry::sdk::append_property(block, e.key, value);
    return block;
}

// The AMQP type name RabbitMQ's errors use for a field value.
const char *typeName(FieldType t)
{
    switch (t) {
    case FieldType::Bool: return "bool";
    case FieldType::LongString: return "longstr";
    case FieldType::Table: return "table";
    case FieldType::Array: return "array";
    case FieldType::Void: return "void";
    case FieldType::Timestamp: return "timestamp";
    case FieldType::Float:
    case FieldType::Double: return "double";
    case FieldType::ByteArray: return "binary";
    case FieldType::Decimal: return "decimal";
    default: return "long";
    }
}

// Queue arguments as kernel options, checked as RabbitMQ checks them. Returns an empty string, or the reason of a
// 406 ("invalid arg 'x-max-length' for queue ...: {unacceptable_type,longstr}" without the queue part, added by
// the caller). dlx / dlrk own the strings the options point into.
std::string queueOptions(const TableView &args, ferry_queue_options *o, std::string *dlx, std::string *dlrk)
{
    *o = ferry_queue_options{};
    o->struct_size = sizeof *o;
    o->message_ttl_ms = o->expires_ms = o->max_length = o->max_length_bytes = -1;
    for (const auto &e : args) {
        const std::string key(e.key);
        auto bad = [&](const std::string &what) { return "invalid arg '" + key + "' for queue %Q: " + what; };
        auto integer = [&](int64_t min, int64_t *out) -> std::string {
            const auto i = e.value.asInt64();
            if (!i)
                return bad(std::string("{unacceptable_type,") + typeName(e.value.type()) + "}");
            if (*i < 0)
                return bad("{value_negative," + std::to_string(*i) + "}");
            if (*i < min)
                return bad("{value_zero," + std::to_string(*i) + "}");
            *out = *i;
            return {};
        };
        auto text = [&](std::string *out) -> std::string {
            const auto v = e.value.asString();
            if (!v)
                return bad(std::string("{unacceptable_type,") + typeName(e.value.type()) + "}");
            out->assign(*v);
            return {};
        };
        std::string err;
        if (key == "x-message-ttl")
            err = integer(0, &o->message_ttl_ms);
        else if (key == "x-expires")
            err = integer(1, &o->expires_ms);
        else if (key == "x-max-length")
            err = integer(0, &o->max_length);
        else if (key == "x-max-length-bytes")
            err = integer(0, &o->max_length_bytes);
        else if (key == "x-max-priority") {
            int64_t p = 0;
            err = integer(0, &p);
            if (err.empty() && p > 255)
                err = bad("{value_too_large," + std::to_string(p) + ",255}");
            o->max_priority = static_cast<uint32_t>(p);
        } else if (key == "x-single-active-consumer") {
            const auto b = e.value.asBool();
            if (!b)
                err = bad(std::string("{unacceptable_type,") + typeName(e.value.type()) + "}");
            else
                o->single_active_consumer = *b ? 1 : 0;
        } else if (key == "x-overflow") {
            std::string v;
            err = text(&v);
            if (err.empty()) {
                if (v == "drop-head")
                    o->overflow = FERRY_OVERFLOW_DROP_HEAD;
                else if (v == "reject-publish")
                    o->overflow = FERRY_OVERFLOW_REJECT_PUBLISH;
                else if (v == "reject-publish-dlx")
                    o->overflow = FERRY_OVERFLOW_REJECT_PUBLISH_DLX;
                else
                    err = bad("{unacceptable_value,<<\"" + v + "\">>}");
            }
        } else if (key == "x-dead-letter-exchange") {
            err = text(dlx);
            if (err.empty()) {
                o->dead_letter_exchange = dlx->data();
                o->dead_letter_exchange_len = dlx->size();
            }
        } else if (key == "x-dead-letter-routing-key") {
            err = text(dlrk);
            if (err.empty()) {
                o->dead_letter_routing_key = dlrk->data();
                o->dead_letter_routing_key_len = dlrk->size();
            }
        }
        if (!err.empty())
            return err;
    }
    if (o->dead_letter_routing_key && !o->dead_letter_exchange)
        return "invalid arg 'x-dead-letter-routing-key' for queue %Q: "
               "routing_key_but_no_dlx_defined";
    return {};
}

uint16_t codeFor(ferry_status st)
{
    switch (st) {
    case FERRY_E_NOT_FOUND:
        return reply::kNotFound;
    case FERRY_E_MISMATCH:
    case FERRY_E_BUSY:
        return reply::kPreconditionFailed;
    case FERRY_E_LOCKED:
        return reply::kResourceLocked;
    case FERRY_E_ACCESS_DENIED:
        return reply::kAccessRefused;
    case FERRY_E_INVALID_ARGUMENT:
        return reply::kPreconditionFailed;
    default:
        return reply::kInternalError;
    }
}
} // namespace

Session::Session(Instance &instance, ferry_conn *conn)
    : instance_(instance), host_(instance.host), conn_(conn), channelMax_(instance.channelMax),
      frameMax_(instance.frameMax)
{
    lastReadMs_ = lastWriteMs_ = nowMs();
    instance_.counters.connections.add();
    if (instance_.hasAlarms)
        alarms_ = host_->resource_alarms(host_->base->ctx);
}

void Session::sendBlockedState()
{
    if (phase_ != Phase::Running || !blockedCapability_)
        return;
    if (alarms_ != 0 && !blockedSent_) {
        ConnectionBlocked blocked;
        blocked.reason = "low on disk"; // FERRY_ALARM_DISK is the only alarm so far
        send(0, blocked);
        blockedSent_ = true;
    } else if (alarms_ == 0 && blockedSent_) {
        send(0, ConnectionUnblocked{});
        blockedSent_ = false;
    }
}

void Session::onAlarm(uint32_t alarms)
{
    alarms_ = alarms;
    if (phase_ == Phase::Closing)
        return;
    sendBlockedState();
    flush();
    if (alarms_ == 0 && readPaused_) {
        readPaused_ = false;
        lastReadMs_ = nowMs(); // the client's heartbeats were not read meanwhile
        host_->set_read_paused(conn_, 0);
    }
}

template <class M> void Session::send(uint16_t channel, const M &method)
{
    if (!appendMethodFrame(out_, channel, method))
        host_->base->log(host_->base->ctx, FERRY_LOG_ERROR, "a reply did not encode", 22);
}

void Session::flush()
{
    if (out_.empty())
        return;
    host_->write(conn_, reinterpret_cast<const uint8_t *>(out_.data()), out_.size());
    out_.clear();
    lastWriteMs_ = nowMs();
}

std::string Session::qualify(std::string_view name) const
{
    if (vhost_ == FERRY_DEFAULT_VHOST)
        return std::string(name);
    return vhost_ + FERRY_VHOST_SEPARATOR + std::string(name);
}

std::string Session::plain(std::string_view qualified) const
{
    const size_t sep = qualified.find(FERRY_VHOST_SEPARATOR);
    return std::string(sep == std::string_view::npos ? qualified : qualified.substr(sep + 1));
}

std::string Session::randomName(const char *prefix)
{
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string s = prefix;
    for (int i = 0; i < 22; ++i)
        s.push_back(alphabet[rng() % 64]);
    return s;
}

uint64_t Session::track(Pending p)
{
    const uint64_t id = nextCorrelation_++;
    pending_.emplace(id, std::move(p));
    return id;
}

void Session::sendStart()
{
    ConnectionStart start;
    start.serverProperties = TableView(instance_.serverProperties);
    start.mechanisms = "PLAIN AMQPLAIN";
    send(0, start);
    phase_ = Phase::StartOk;
}

void Session::reportIdentity()
{
    if (host_->struct_size < offsetof(ferry_protocol_host, set_conn_identity) + sizeof(void *) ||
        host_->set_conn_identity == nullptr)
        return; // a kernel before ABI 1.8
    ferry_conn_identity identity{};
    identity.struct_size = sizeof identity;
    identity.user = user_.data();
    identity.user_len = user_.size();
    identity.vhost = vhost_.data();
    identity.vhost_len = vhost_.size();
    identity.client = client_.data();
    identity.client_len = client_.size();
    identity.channels = static_cast<uint32_t>(channels_.size());
    host_->set_conn_identity(conn_, &identity);
}

void Session::listChannels(ferry_channel_sink sink, void *sinkCtx) const
{
    for (const auto &[number, c] : channels_) {
        ferry_channel_info info{};
        info.struct_size = sizeof info;
        info.number = number;
        info.consumers = static_cast<uint32_t>(c.consumers.size());
        info.unacked = static_cast<uint32_t>(c.unacked.size());
        info.prefetch = c.prefetch;
        info.global_prefetch = c.globalPrefetch;
        info.confirm = c.confirm ? 1 : 0;
        info.transactional = c.tx ? 1 : 0;
        for (const auto &[tag, state] : c.confirms)
            info.unconfirmed += state == 0 ? 1 : 0;
        sink(sinkCtx, &info);
    }
}

void Session::onCloseRequest(std::string_view reason)
{
    if (phase_ == Phase::Closing)
        return;
    hardError(reply::kConnectionForced, reason, 0, 0);
}

void Session::hardError(uint16_t code, std::string_view detail, uint16_t classId, uint16_t methodId)
{
    if (code != reply::kConnectionForced)
        instance_.counters.connectionErrors.add();
    ConnectionClose close;
    const std::string text = replyText(code, detail);
    close.replyCode = code;
    close.replyText = truncateShortString(text);
    close.classId = classId;
    close.methodId = methodId;
    send(0, close);
    flush();
    phase_ = Phase::Closing;
    host_->close(conn_, text.c_str());
}

void Session::softError(uint16_t ch, uint16_t code, std::string_view detail, uint16_t classId, uint16_t methodId)
{
    if (code == reply::kInternalError) // 541 is a connection exception in the spec
        return hardError(code, detail, classId, methodId);
    auto it = channels_.find(ch);
    if (it == channels_.end() || it->second.closing)
        return;
    ChannelClose close;
    const std::string text = replyText(code, detail);
    close.replyCode = code;
    close.replyText = truncateShortString(text);
    close.classId = classId;
    close.methodId = methodId;
    send(ch, close);
    closeChannel(ch, it->second);
    it->second.closing = true;
}

// Releases what the channel holds in the kernel: consumers (their unacked go back, redelivered) and get()s.
void Session::closeChannel(uint16_t, Channel &c)
{
    for (const auto &[tag, sub] : c.consumers) {
        host_->unsubscribe(conn_, sub);
        consumers_.erase(sub);
    }
    c.consumers.clear();
    for (const TxSettle &t : c.txSettles) // an open transaction is rolled back
        c.unacked[t.deliveryTag] = t.delivery;
    c.txSettles.clear();
    c.txPublishes.clear();
    std::map<uint64_t, std::vector<uint64_t>> bySub;
    for (const auto &[tag, u] : c.unacked)
        bySub[u.subscription].push_back(u.offset);
    for (const auto &[sub, offsets] : bySub)
        host_->settle_many(conn_, sub, offsets.data(), offsets.size(), FERRY_ACK_REQUEUE, 0);
    c.unacked.clear();
    c.assembling = false;
    if (!c.replyToken.empty()) {
        std::lock_guard lock(instance_.replyMutex);
        instance_.replyConsumers.erase(c.replyToken);
        c.replyToken.clear();
    }
}

bool Session::permitted(uint16_t ch, uint32_t what, std::string_view resource, std::string_view kind,
                        uint16_t classId, uint16_t methodId)
{
    if (host_->permission_check(host_->base->ctx, user_.data(), user_.size(), vhost_.data(), vhost_.size(), what,
                                resource.data(), resource.size()) == FERRY_OK)
        return true;
    static const char *names[] = {"", "configure", "write", "read"};
    softError(ch, reply::kAccessRefused,
              std::string("access to ") + std::string(kind) + " '" + std::string(resource) + "' in vhost '" + vhost_ +
                  "' refused for user '" + user_ + "' (" + names[what] + ")",
              classId, methodId);
    return false;
}

ferry_status Session::onRead(const uint8_t *data, size_t len, size_t *consumed)
{
    lastReadMs_ = nowMs();
    size_t used = 0;
    if (phase_ == Phase::Header) {
        const HeaderStatus hs = checkProtocolHeader(data, len);
        if (hs == HeaderStatus::NeedMore) {
            *consumed = 0;
            return FERRY_OK;
        }
        if (hs == HeaderStatus::Invalid) {
            host_->write(conn_, reinterpret_cast<const uint8_t *>(kProtocolHeader.data()), kProtocolHeader.size());
            host_->close(conn_, "not an AMQP 0-9-1 protocol header");
            *consumed = len;
            return FERRY_OK;
        }
        used = kProtocolHeader.size();
        sendStart();
    }
    while (used < len && phase_ != Phase::Closing) {
        Frame f;
        Error e;
        const FrameStatus st = parseFrame(data + used, len - used, frameMax_, f, e);
        if (st == FrameStatus::NeedMore)
            break;
        if (st == FrameStatus::Error) {
            hardError(e.code, e.text.substr(e.text.find(" - ") == std::string::npos ? 0 : e.text.find(" - ") + 3));
            used = len;
            break;
        }
        if (alarms_ != 0 && phase_ == Phase::Running && isPublishFrame(f)) {
            // Blocked: this publish and everything after it wait unread (in the kernel and the socket).
            readPaused_ = true;
            host_->set_read_paused(conn_, 1);
            break;
        }
        used += f.size;
        if (!handleFrame(f))
            break;
    }
    if (phase_ == Phase::Closing)
        used = len;
    *consumed = used;
    flush();
    return FERRY_OK;
}

bool Session::handleFrame(const Frame &f)
{
    if (f.type == frame_type::kHeartbeat) {
        if (f.channel == 0)
            return true;
        hardError(reply::kUnexpectedFrame,
                  "type 8, all octets = <<>>: heartbeat on channel " + std::to_string(f.channel));
        return false;
    }
    if (f.channel == 0) {
        if (f.type != frame_type::kMethod) {
            hardError(reply::kCommandInvalid, "content frame on channel 0");
            return false;
        }
        Method m;
        Error e;
        if (!decodeMethod(f.payload, m, e)) {
            hardError(e.code, e.text.substr(std::min(e.text.size(), e.text.find(" - ") + 3)), e.classId, e.methodId);
            return false;
        }
        return connectionMethod(m);
    }
    if (phase_ != Phase::Running) {
        hardError(reply::kChannelError, "channel " + std::to_string(f.channel) + " before connection.open");
        return false;
    }
    auto it = channels_.find(f.channel);
    if (f.type == frame_type::kMethod) {
        Method m;
        Error e;
        if (!decodeMethod(f.payload, m, e)) {
            hardError(e.code, e.text.substr(std::min(e.text.size(), e.text.find(" - ") + 3)), e.classId, e.methodId);
            return false;
        }
        const MethodInfo &info = methodInfo(m);
        if (!info.acceptedByServer) {
            hardError(reply::kCommandInvalid, "unimplemented method", info.classId, info.methodId);
            return false;
        }
        if (std::holds_alternative<ChannelOpen>(m)) {
            if (it != channels_.end()) {
                hardError(reply::kChannelError, "second 'channel.open' seen", info.classId, info.methodId);
                return false;
            }
            if (channelMax_ != 0 && channels_.size() >= channelMax_) {
                hardError(reply::kNotAllowed,
                          "number of channels opened (" + std::to_string(channels_.size()) +
                              ") has reached the negotiated channel_max (" + std::to_string(channelMax_) + ")",
                          info.classId, info.methodId);
                return false;
            }
            channels_[f.channel];
            instance_.counters.channels.add();
            send(f.channel, ChannelOpenOk{});
            reportIdentity();
            return true;
        }
        if (it == channels_.end()) {
            hardError(reply::kChannelError, "expected 'channel.open'", info.classId, info.methodId);
            return false;
        }
        Channel &c = it->second;
        if (c.closing) {
            if (std::holds_alternative<ChannelCloseOk>(m) || std::holds_alternative<ChannelClose>(m)) {
                if (std::holds_alternative<ChannelClose>(m))
                    send(f.channel, ChannelCloseOk{});
                channels_.erase(it);
                reportIdentity();
            }
            return true;
        }
        if (c.assembling) {
            hardError(reply::kUnexpectedFrame,
                      std::string("expected content header for class 60, got non content header frame instead"),
                      info.classId, info.methodId);
            return false;
        }
        channelMethod(f.channel, c, m);
        return phase_ != Phase::Closing;
    }
    if (it == channels_.end()) {
        hardError(reply::kChannelError, "content on a channel that is not open");
        return false;
    }
    Channel &c = it->second;
    if (c.closing)
        return true;
    if (!c.assembling) {
        hardError(reply::kUnexpectedFrame, "content frame without basic.publish");
        return false;
    }
    if (f.type == frame_type::kHeader) {
        if (c.haveHeader) {
            hardError(reply::kUnexpectedFrame, "second content header");
            return false;
        }
        ContentHeader h;
        Error e;
        if (!decodeContentHeader(f.payload, h, e)) {
            hardError(e.code, e.text.substr(std::min(e.text.size(), e.text.find(" - ") + 3)));
            return false;
        }
        if (h.bodySize > instance_.maxMessageBytes) {
            softError(f.channel, reply::kPreconditionFailed,
                      "message size " + std::to_string(h.bodySize) + " is larger than configured max size " +
                          std::to_string(instance_.maxMessageBytes),
                      60, 40);
            return true; // its body frames arrive on a closing channel and are dropped
        }
        c.haveHeader = true;
        c.bodySize = h.bodySize;
        c.rawProperties.assign(h.rawProperties);
        c.body.clear();
        c.body.reserve(static_cast<size_t>(std::min<uint64_t>(h.bodySize, 64u << 20)));
        if (c.bodySize == 0)
            finishPublish(f.channel, c);
        return true;
    }
    if (!c.haveHeader) {
        hardError(reply::kUnexpectedFrame, "body frame before the content header");
        return false;
    }
    c.body.append(f.payload);
    if (c.body.size() > c.bodySize) {
        hardError(reply::kFrameError, "body larger than the content header announced");
        return false;
    }
    if (c.body.size() == c.bodySize)
        finishPublish(f.channel, c);
    return true;
}

bool Session::connectionMethod(const Method &m)
{
    if (const auto *ok = std::get_if<ConnectionStartOk>(&m)) {
        if (phase_ != Phase::StartOk) {
            hardError(reply::kCommandInvalid, "connection.start-ok out of order", 10, 11);
            return false;
        }
        for (const char *key : {"product", "version"})
            if (auto v = ok->clientProperties.find(key))
                if (auto text = v->asString())
                    client_ += (client_.empty() ? "" : " ") + std::string(*text);
        if (auto caps = ok->clientProperties.find("capabilities"))
            if (auto t = caps->asTable()) {
                if (auto afc = t->find("authentication_failure_close"))
                    authFailureClose_ = afc->asBool().value_or(false);
                if (auto cb = t->find("connection.blocked"))
                    blockedCapability_ = cb->asBool().value_or(false);
            }
        std::string user, pass;
        if (ok->mechanism == "PLAIN") {
            const std::string_view r = ok->response;
            const size_t a = r.find('\0');
            const size_t b = a == std::string_view::npos ? a : r.find('\0', a + 1);
            if (b == std::string_view::npos) {
                hardError(reply::kSyntaxError, "PLAIN response is malformed", 10, 11);
                return false;
            }
            user.assign(r.substr(a + 1, b - a - 1));
            pass.assign(r.substr(b + 1));
        } else if (ok->mechanism == "AMQPLAIN") {
            TableView t;
            Error e;
            // AMQPLAIN's response is a field table without its length prefix.
            if (!validateTableEntries(ok->response, e)) {
                hardError(reply::kSyntaxError, "AMQPLAIN response is not a table", 10, 11);
                return false;
            }
            t = TableView(ok->response);
            const auto l = t.find("LOGIN");
            const auto p = t.find("PASSWORD");
            if (!l || !p || !l->asString() || !p->asString()) {
                hardError(reply::kSyntaxError, "AMQPLAIN response needs LOGIN and PASSWORD strings", 10, 11);
                return false;
            }
            user.assign(*l->asString());
            pass.assign(*p->asString());
        } else {
            // The spec: an unknown mechanism closes the socket without sending any further data.
            phase_ = Phase::Closing;
            const std::string why = "unsupported authentication mechanism '" + std::string(ok->mechanism) + "'";
            host_->base->log(host_->base->ctx, FERRY_LOG_WARN, why.data(), why.size());
            host_->close(conn_, why.c_str());
            return false;
        }
        char peer[128] = {};
        host_->peer_address(conn_, peer, sizeof peer);
        std::string peerHost = peer;
        if (const size_t colon = peerHost.rfind(':'); colon != std::string::npos)
            peerHost.resize(colon);
        if (!peerHost.empty() && peerHost.front() == '[')
            peerHost = peerHost.substr(1, peerHost.size() - 2);
        char err[256] = {};
        if (host_->authenticate(host_->base->ctx, user.data(), user.size(), pass.data(), pass.size(), peerHost.data(),
                                peerHost.size(), err, sizeof err) != FERRY_OK) {
            host_->base->log(host_->base->ctx, FERRY_LOG_WARN, err, std::strlen(err));
            if (authFailureClose_) {
                hardError(reply::kAccessRefused, "Login was refused using authentication mechanism " +
                                                          std::string(ok->mechanism) +
                                                          ". For details see the broker logfile.");
            } else {
                phase_ = Phase::Closing;
                host_->close(conn_, err);
            }
            return false;
        }
        user_ = user;
        ConnectionTune tune;
        tune.channelMax = instance_.channelMax;
        tune.frameMax = instance_.frameMax;
        tune.heartbeat = instance_.heartbeat;
        send(0, tune);
        phase_ = Phase::TuneOk;
        return true;
    }
    if (const auto *t = std::get_if<ConnectionTuneOk>(&m)) {
        if (phase_ != Phase::TuneOk) {
            hardError(reply::kCommandInvalid, "connection.tune-ok out of order", 10, 31);
            return false;
        }
        if ((t->frameMax != 0 && t->frameMax < kFrameMinSize) || t->frameMax > instance_.frameMax) {
            hardError(reply::kNotAllowed, "frame_max=" + std::to_string(t->frameMax) + " out of range", 10, 31);
            return false;
        }
        if (t->channelMax > instance_.channelMax || (t->channelMax == 0 && instance_.channelMax != 0)) {
            hardError(reply::kNotAllowed, "channel_max=" + std::to_string(t->channelMax) + " out of range", 10,
                      31);
            return false;
        }
        frameMax_ = t->frameMax == 0 ? instance_.frameMax : t->frameMax;
        channelMax_ = t->channelMax == 0 ? instance_.channelMax : t->channelMax;
        heartbeat_ = t->heartbeat;
        if (heartbeat_ > 0)
            host_->set_timer(conn_, kHeartbeatTimer, heartbeat_ * 500u);
        phase_ = Phase::Open;
        return true;
    }
    if (const auto *o = std::get_if<ConnectionOpen>(&m)) {
        if (phase_ != Phase::Open) {
            hardError(reply::kCommandInvalid, "connection.open out of order", 10, 40);
            return false;
        }
        const std::string vhost(o->virtualHost);
        const ferry_status st =
            host_->vhost_access(host_->base->ctx, user_.data(), user_.size(), vhost.data(), vhost.size());
        if (st == FERRY_E_NOT_FOUND) {
            hardError(reply::kNotAllowed, "vhost " + vhost + " not found", 10, 40);
            return false;
        }
        if (st != FERRY_OK) {
            hardError(reply::kNotAllowed, "access to vhost '" + vhost + "' refused for user '" + user_ + "'", 10,
                      40);
            return false;
        }
        // A slave is a read-only replica: AMQP clients belong on its master (ABI 1.7 hosts tell the role).
        if (host_->struct_size >= offsetof(ferry_protocol_host, replication_info) + sizeof(void *) &&
            host_->replication_info) {
            ferry_replication_info info{};
            info.struct_size = sizeof info;
            if (host_->replication_info(host_->base->ctx, &info) == FERRY_OK && info.role == FERRY_ROLE_SLAVE) {
                hardError(reply::kNotAllowed,
                          std::string("this broker is a read-only replica (replication.role SLAVE of group '") +
                              info.broker_name + "'); connect to its master" +
                              (info.master_address[0] ? std::string(" (replication address ") + info.master_address +
                                                            ")"
                                                      : std::string()),
                          10, 40);
                return false;
            }
        }
        vhost_ = vhost;
        send(0, ConnectionOpenOk{});
        phase_ = Phase::Running;
        reportIdentity();
        sendBlockedState(); // an alarm raised before this connection opened
        return true;
    }
    if (std::holds_alternative<ConnectionClose>(m)) {
        send(0, ConnectionCloseOk{});
        flush();
        phase_ = Phase::Closing;
        host_->close(conn_, "closed by the client");
        return false;
    }
    if (std::holds_alternative<ConnectionCloseOk>(m)) {
        phase_ = Phase::Closing;
        host_->close(conn_, "close-ok");
        return false;
    }
    if (std::holds_alternative<ConnectionUpdateSecret>(m)) {
        send(0, ConnectionUpdateSecretOk{});
        return true;
    }
    const MethodInfo &info = methodInfo(m);
    // A channel's method on channel 0 is a channel error, as RabbitMQ has it; a connection method out of place is not.
    hardError(info.classId == 10 ? reply::kCommandInvalid : reply::kChannelError,
              std::string("unexpected ") + info.name + " on channel 0", info.classId, info.methodId);
    return false;
}

void Session::channelMethod(uint16_t ch, Channel &c, const Method &m)
{
    const MethodInfo &info = methodInfo(m);
    const uint16_t cid = info.classId, mid = info.methodId;
    auto result = [&](Op op, std::string name = {}, bool noWait = false) {
        Pending p;
        p.op = op;
        p.channel = ch;
        p.classId = cid;
        p.methodId = mid;
        p.noWait = noWait;
        p.name = std::move(name);
        return track(std::move(p));
    };

    if (std::holds_alternative<ChannelClose>(m)) {
        closeChannel(ch, c);
        send(ch, ChannelCloseOk{});
        channels_.erase(ch);
        reportIdentity();
        return;
    }
    if (std::holds_alternative<ChannelCloseOk>(m))
        return;
    if (const auto *flow = std::get_if<ChannelFlow>(&m)) {
        for (const auto &[tag, sub] : c.consumers)
            host_->subscription_pause(conn_, sub, flow->active ? 0 : 1);
        ChannelFlowOk ok;
        ok.active = flow->active;
        send(ch, ok);
        return;
    }
    if (const auto *x = std::get_if<ExchangeDeclare>(&m)) {
        const std::string name(x->exchange);
        const bool predeclared = name == "amq.direct" || name == "amq.fanout" || name == "amq.topic" ||
                                 name == "amq.headers" || name == "amq.match";
        if (name.empty() || (name.rfind("amq.", 0) == 0 && !x->passive && !predeclared)) {
            softError(ch, reply::kAccessRefused,
                      name.empty() ? "operation not permitted on the default exchange"
                                   : "exchange name '" + name + "' contains reserved prefix 'amq.*'",
                      cid, mid);
            return;
        }
        if (name.find(FERRY_VHOST_SEPARATOR) != std::string::npos)
            return softError(ch, reply::kPreconditionFailed, "exchange name contains the reserved character 0x1F",
                             cid, mid);
        if (!permitted(ch, FERRY_PERMISSION_CONFIGURE, name, "exchange", cid, mid))
            return;
        std::string delayedType;
        if (auto d = x->arguments.find("x-delayed-type"))
            delayedType.assign(d->asString().value_or(""));
        if (x->type == "x-delayed-message" && !x->passive && delayedType != "direct" && delayedType != "fanout" &&
            delayedType != "topic" && delayedType != "headers") {
            softError(ch, reply::kPreconditionFailed,
                      "Invalid argument, 'x-delayed-type' must be an existing exchange type", cid, mid);
            return;
        }
        ferry_exchange_options o{};
        o.struct_size = sizeof o;
        o.flags = (x->durable ? FERRY_EXCHANGE_DURABLE : 0) | (x->autoDelete ? FERRY_EXCHANGE_AUTO_DELETE : 0) |
                  (x->internal ? FERRY_EXCHANGE_INTERNAL : 0) | (x->passive ? FERRY_EXCHANGE_PASSIVE : 0);
        o.type = x->type.data();
        o.type_len = x->type.size();
        o.delayed_type = delayedType.data();
        o.delayed_type_len = delayedType.size();
        const std::string q = qualify(name);
        host_->exchange_declare(conn_, result(Op::ExchangeDeclare, name, x->noWait), q.data(), q.size(), &o);
        return;
    }
    if (const auto *x = std::get_if<ExchangeDelete>(&m)) {
        const std::string name(x->exchange);
        if (name.empty() || name.rfind("amq.", 0) == 0) {
            softError(ch, reply::kAccessRefused,
                      "operation not permitted on exchange '" + name + "' in vhost '" + vhost_ + "'", cid, mid);
            return;
        }
        if (!permitted(ch, FERRY_PERMISSION_CONFIGURE, name, "exchange", cid, mid))
            return;
        const std::string q = qualify(name);
        host_->exchange_delete(conn_, result(Op::ExchangeDelete, name, x->noWait), q.data(), q.size(),
                               x->ifUnused ? FERRY_EXCHANGE_IF_UNUSED : 0);
        return;
    }
    auto bindCall = [&](bool bind, uint32_t kind, std::string_view source, std::string destination,
                        std::string_view key, const TableView &args, bool noWait, Op op) {
        if (source.empty()) {
            softError(ch, reply::kAccessRefused, "operation not permitted on the default exchange", cid, mid);
            return;
        }
        if (!permitted(ch, FERRY_PERMISSION_WRITE, destination, kind == FERRY_BIND_QUEUE ? "queue" : "exchange", cid,
                       mid) ||
            !permitted(ch, FERRY_PERMISSION_READ, source, "exchange", cid, mid))
            return;
        const std::string src = qualify(source), dst = qualify(destination), block = tableToBlock(args);
        ferry_binding b{};
        b.struct_size = sizeof b;
        b.destination_kind = kind;
        b.source = src.data();
        b.source_len = src.size();
        b.destination = dst.data();
        b.destination_len = dst.size();
        b.routing_key = key.data();
        b.routing_key_len = key.size();
        b.arguments = reinterpret_cast<const uint8_t *>(block.data());
        b.arguments_len = block.size();
        const uint64_t corr = result(op, destination, noWait);
        if (bind)
            host_->bind(conn_, corr, &b);
        else
            host_->unbind(conn_, corr, &b);
    };
    if (const auto *x = std::get_if<ExchangeBind>(&m))
        return bindCall(true, FERRY_BIND_EXCHANGE, x->source, std::string(x->destination), x->routingKey,
                        x->arguments, x->noWait, Op::ExchangeBind);
    if (const auto *x = std::get_if<ExchangeUnbind>(&m))
        return bindCall(false, FERRY_BIND_EXCHANGE, x->source, std::string(x->destination), x->routingKey,
                        x->arguments, x->noWait, Op::ExchangeUnbind);
    if (const auto *x = std::get_if<QueueBind>(&m))
        return bindCall(true, FERRY_BIND_QUEUE, x->exchange, x->queue.empty() ? c.lastQueue : std::string(x->queue),
                        x->routingKey, x->arguments, x->noWait, Op::QueueBind);
    if (const auto *x = std::get_if<QueueUnbind>(&m))
        return bindCall(false, FERRY_BIND_QUEUE, x->exchange, x->queue.empty() ? c.lastQueue : std::string(x->queue),
                        x->routingKey, x->arguments, false, Op::QueueUnbind);
    if (const auto *x = std::get_if<QueueDeclare>(&m)) {
        std::string name(x->queue);
        if (name.empty())
            name = randomName("amq.gen-");
        else if (name.rfind("amq.", 0) == 0 && !x->passive) {
            softError(ch, reply::kAccessRefused,
                      "queue name '" + name + "' contains reserved prefix 'amq.*'", cid, mid);
            return;
        }
        if (name.find(FERRY_VHOST_SEPARATOR) != std::string::npos)
            return softError(ch, reply::kPreconditionFailed, "queue name contains the reserved character 0x1F", cid,
                             mid);
        if (!permitted(ch, FERRY_PERMISSION_CONFIGURE, name, "queue", cid, mid))
            return;
        std::string dlx, dlrk;
        ferry_queue_options o;
        if (std::string err = queueOptions(x->arguments, &o, &dlx, &dlrk); !err.empty()) {
            err.replace(err.find("%Q"), 2, "'" + name + "' in vhost '" + vhost_ + "'");
            softError(ch, reply::kPreconditionFailed, err, cid, mid);
            return;
        }
        const uint32_t flags = (x->durable ? FERRY_QUEUE_DURABLE : 0) | (x->passive ? FERRY_QUEUE_PASSIVE : 0) |
                               (x->exclusive ? FERRY_QUEUE_EXCLUSIVE : 0) |
                               (x->autoDelete ? FERRY_QUEUE_AUTO_DELETE : 0);
        c.lastQueue = name;
        const std::string q = qualify(name);
        host_->queue_declare_ex(conn_, result(Op::QueueDeclare, name, x->noWait), q.data(), q.size(), flags, &o);
        return;
    }
    if (const auto *x = std::get_if<QueuePurge>(&m)) {
        const std::string name = x->queue.empty() ? c.lastQueue : std::string(x->queue);
        if (!permitted(ch, FERRY_PERMISSION_READ, name, "queue", cid, mid))
            return;
        const std::string q = qualify(name);
        host_->queue_purge(conn_, result(Op::QueuePurge, name, x->noWait), q.data(), q.size());
        return;
    }
    if (const auto *x = std::get_if<QueueDelete>(&m)) {
        const std::string name = x->queue.empty() ? c.lastQueue : std::string(x->queue);
        if (!permitted(ch, FERRY_PERMISSION_CONFIGURE, name, "queue", cid, mid))
            return;
        const std::string q = qualify(name);
        host_->queue_delete(conn_, result(Op::QueueDelete, name, x->noWait), q.data(), q.size(),
                            (x->ifUnused ? FERRY_QUEUE_IF_UNUSED : 0) | (x->ifEmpty ? FERRY_QUEUE_IF_EMPTY : 0));
        return;
    }
    if (const auto *x = std::get_if<BasicQos>(&m)) {
        if (x->prefetchSize != 0) {
            hardError(reply::kNotImplemented, "prefetch_size!=0 (" + std::to_string(x->prefetchSize) + ")", cid,
                      mid);
            return;
        }
        (x->global ? c.globalPrefetch : c.prefetch) = x->prefetchCount;
        send(ch, BasicQosOk{});
        return;
    }
    if (const auto *x = std::get_if<BasicConsume>(&m)) {
        const std::string name = x->queue.empty() ? c.lastQueue : std::string(x->queue);
        std::string tag(x->consumerTag);
        if (tag.empty())
            tag = randomName("amq.ctag-");
        if (c.consumers.count(tag) || tag == c.replyConsumerTag) {
            hardError(reply::kNotAllowed, "attempt to reuse consumer tag '" + tag + "'", cid, mid);
            return;
        }
        if (name == kReplyTo) {
            if (!x->noAck)
                return softError(ch, reply::kPreconditionFailed, "reply consumer cannot acknowledge", cid, mid);
            if (!c.replyToken.empty())
                return softError(ch, reply::kPreconditionFailed, "reply consumer already set", cid, mid);
            c.replyToken = randomName("");
            c.replyConsumerTag = tag;
            {
                std::lock_guard lock(instance_.replyMutex);
                instance_.replyConsumers[c.replyToken] = host_->conn_id(conn_);
            }
            if (!x->noWait) {
                BasicConsumeOk ok;
                ok.consumerTag = tag;
                send(ch, ok);
            }
            return;
        }
        if (!permitted(ch, FERRY_PERMISSION_READ, name, "queue", cid, mid))
            return;
        const std::string q = qualify(name);
        ferry_subscribe_options o{};
        o.struct_size = sizeof o;
        o.queue = q.data();
        o.queue_len = q.size();
        o.prefetch = x->noAck ? 0 : c.prefetch;
        o.flags = (x->noAck ? FERRY_SUBSCRIBE_AUTO_ACK : 0) | (x->exclusive ? FERRY_SUBSCRIBE_EXCLUSIVE : 0);
        if (c.globalPrefetch > 0 && !x->noAck) {
            o.credit_group = ch;
            o.credit_limit = c.globalPrefetch;
        }
        uint64_t sub = 0;
        const ferry_status st = host_->subscribe(conn_, &o, &sub);
        if (st == FERRY_E_NOT_FOUND)
            return softError(ch, reply::kNotFound, "no queue '" + name + "' in vhost '" + vhost_ + "'", cid,
                             mid);
        if (st == FERRY_E_ACCESS_DENIED)
            return softError(ch, reply::kAccessRefused,
                             "queue '" + name + "' in vhost '" + vhost_ + "' in exclusive use", cid, mid);
        if (st == FERRY_E_LOCKED)
            return softError(ch, reply::kResourceLocked,
                             "cannot obtain exclusive access to locked queue '" + name + "' in vhost '" + vhost_ +
                                 "'",
                             cid, mid);
        if (st != FERRY_OK)
            return softError(ch, reply::kInternalError, "subscribe failed", cid, mid);
        c.consumers[tag] = sub;
        consumers_[sub] = Consumer{ch, tag, x->noAck};
        if (!x->noWait) {
            BasicConsumeOk ok;
            ok.consumerTag = tag;
            send(ch, ok);
        }
        return;
    }
    if (const auto *x = std::get_if<BasicCancel>(&m)) {
        const std::string tag(x->consumerTag);
        if (!c.replyConsumerTag.empty() && tag == c.replyConsumerTag) {
            std::lock_guard lock(instance_.replyMutex);
            instance_.replyConsumers.erase(c.replyToken);
            c.replyToken.clear();
            c.replyConsumerTag.clear();
        }
        auto it = c.consumers.find(tag);
        if (it != c.consumers.end()) {
            host_->unsubscribe(conn_, it->second);
            consumers_.erase(it->second);
            // Deliveries of the cancelled consumer that are still unacked went back to the queue.
            for (auto u = c.unacked.begin(); u != c.unacked.end();)
                u = u->second.subscription == it->second ? c.unacked.erase(u) : std::next(u);
            c.consumers.erase(it);
        }
        if (!x->noWait) {
            BasicCancelOk ok;
            ok.consumerTag = tag;
            send(ch, ok);
        }
        return;
    }
    if (const auto *x = std::get_if<BasicPublish>(&m)) {
        if (x->immediate) {
            hardError(reply::kNotImplemented, "immediate=true", cid, mid);
            return;
        }
        c.assembling = true;
        c.haveHeader = false;
        c.exchange.assign(x->exchange);
        c.routingKey.assign(x->routingKey);
        c.mandatory = x->mandatory;
        return;
    }
    if (const auto *x = std::get_if<BasicGet>(&m)) {
        const std::string name = x->queue.empty() ? c.lastQueue : std::string(x->queue);
        if (!permitted(ch, FERRY_PERMISSION_READ, name, "queue", cid, mid))
            return;
        const std::string q = qualify(name);
        Pending p;
        p.op = Op::Get;
        p.channel = ch;
        p.classId = cid;
        p.methodId = mid;
        p.noAck = x->noAck;
        p.name = name;
        const uint64_t corr = track(std::move(p));
        const ferry_status st = host_->get(conn_, corr, q.data(), q.size(), x->noAck ? FERRY_SUBSCRIBE_AUTO_ACK : 0);
        if (st != FERRY_OK) {
            pending_.erase(corr);
            if (st == FERRY_E_LOCKED)
                return softError(ch, reply::kResourceLocked,
                                 "cannot obtain exclusive access to locked queue '" + name + "' in vhost '" + vhost_ +
                                     "'",
                                 cid, mid);
            softError(ch, reply::kNotFound, "no queue '" + name + "' in vhost '" + vhost_ + "'", cid, mid);
        }
        return;
    }
    if (const auto *x = std::get_if<BasicAck>(&m))
        return settle(ch, c, x->deliveryTag, x->multiple, true, false, cid, mid);
    if (const auto *x = std::get_if<BasicNack>(&m))
        return settle(ch, c, x->deliveryTag, x->multiple, false, x->requeue, cid, mid);
    if (const auto *x = std::get_if<BasicReject>(&m))
        return settle(ch, c, x->deliveryTag, false, false, x->requeue, cid, mid);
    if (std::holds_alternative<BasicRecover>(m) || std::holds_alternative<BasicRecoverAsync>(m)) {
        settle(ch, c, 0, true, false, true, cid, mid);
        if (std::holds_alternative<BasicRecover>(m))
            send(ch, BasicRecoverOk{});
        return;
    }
    if (std::holds_alternative<TxSelect>(m) || std::holds_alternative<TxCommit>(m) ||
        std::holds_alternative<TxRollback>(m))
        return txMethod(ch, c, m, cid, mid);
    if (const auto *x = std::get_if<ConfirmSelect>(&m)) {
        if (c.tx)
            return softError(ch, reply::kPreconditionFailed, "cannot switch from tx to confirm mode", cid, mid);
        c.confirm = true;
        if (!x->noWait)
            send(ch, ConfirmSelectOk{});
        return;
    }
    hardError(reply::kNotImplemented, std::string(info.name) + " is not implemented", cid, mid);
}

void Session::settle(uint16_t ch, Channel &c, uint64_t tag, bool multiple, bool ack, bool requeue, uint16_t classId,
                     uint16_t methodId)
{
    auto first = c.unacked.begin(), last = c.unacked.end();
    if (multiple) {
        last = tag == 0 ? c.unacked.end() : c.unacked.upper_bound(tag);
        if (first == last && tag != 0) {
            softError(ch, reply::kPreconditionFailed, "unknown delivery tag " + std::to_string(tag), classId,
                      methodId);
            return;
        }
    } else {
        first = c.unacked.find(tag);
        if (first == c.unacked.end()) {
            softError(ch, reply::kPreconditionFailed, "unknown delivery tag " + std::to_string(tag), classId,
                      methodId);
            return;
        }
        last = std::next(first);
    }
    if (c.tx) {
        for (auto it = first; it != last; ++it)
            c.txSettles.push_back({it->first, it->second, ack, requeue});
        c.unacked.erase(first, last);
        return;
    }
    std::map<uint64_t, std::vector<uint64_t>> bySub;
    for (auto it = first; it != last; ++it)
        bySub[it->second.subscription].push_back(it->second.offset);
    c.unacked.erase(first, last);
    for (const auto &[sub, offsets] : bySub)
        host_->settle_many(conn_, sub, offsets.data(), offsets.size(), requeue ? FERRY_ACK_REQUEUE : 0, ack ? 1 : 0);
}

void Session::finishPublish(uint16_t ch, Channel &c)
{
    instance_.counters.published.add();
    c.assembling = false;
    c.haveHeader = false;
    BasicProperties props;
    Error e;
    if (!decodeBasicProperties(c.rawProperties, props, e)) {
        hardError(e.code, "malformed content properties");
        return;
    }
    // Like RabbitMQ's channel, a few exchanges already found writable are remembered (the hot path skips the regex).
    if (std::find(c.writable.begin(), c.writable.end(), c.exchange) == c.writable.end()) {
        if (!permitted(ch, FERRY_PERMISSION_WRITE, c.exchange.empty() ? std::string_view("amq.default") : c.exchange,
                       "exchange", 60, 40))
            return;
        if (c.writable.size() >= 8)
            c.writable.erase(c.writable.begin());
        c.writable.push_back(c.exchange);
    }
    if (props.has(property::kUserId) && props.userId != user_) {
        softError(ch, reply::kPreconditionFailed,
                  "user_id property set to '" + std::string(props.userId) + "' but authenticated user was '" + user_ +
                      "'",
                  60, 40);
        return;
    }
    Publish p;
    if (props.has(property::kExpiration)) {
        const std::string exp(props.expiration);
        char *end = nullptr;
        const unsigned long long ttl = std::strtoull(exp.c_str(), &end, 10);
        if (exp.empty() || *end != '\0' || exp[0] == '-') {
            softError(ch, reply::kPreconditionFailed, "invalid expiration '" + exp + "'", 60, 40);
            return;
        }
        p.flags |= FERRY_MESSAGE_HAS_TTL;
        p.ttlMs = ttl;
    }
    p.publishTag = c.confirm ? c.nextPublishTag++ : 0;
    if (p.publishTag)
        c.confirms[p.publishTag] = 0;
    if (!c.tx && directReplyPublish(ch, c, props, p.publishTag))
        return;
    p.block = publishPropertyBlock(c.rawProperties, props);
    if (props.has(property::kMessageId))
        p.keys.assign(props.messageId);
    if (props.deliveryMode == 2)
        p.flags |= FERRY_MESSAGE_PERSISTENT;
    p.priority = props.priority;
    p.mandatory = c.mandatory;
    p.exchange = std::move(c.exchange);
    p.routingKey = std::move(c.routingKey);
    p.body = std::move(c.body);
    if (c.mandatory)
        p.rawProperties = c.rawProperties;
    if (c.tx)
        c.txPublishes.push_back(std::move(p));
    else
        routePublish(ch, p, false);
}

// Hands one publish to the kernel's router. A result is asked for when someone waits for it (a publisher confirm,
// mandatory's basic.return, a tx.commit); p's strings may be moved from. False after a channel error.
bool Session::routePublish(uint16_t ch, Publish &p, bool txCommit)
{
    ferry_message msg{};
    msg.struct_size = sizeof msg;
    msg.flags = p.flags;
    msg.body = reinterpret_cast<const uint8_t *>(p.body.data());
    msg.body_len = p.body.size();
    msg.routing_key = p.routingKey.data();
    msg.routing_key_len = p.routingKey.size();
    msg.keys = p.keys.data();
    msg.keys_len = p.keys.size();
    msg.properties = reinterpret_cast<const uint8_t *>(p.block.data());
    msg.properties_len = p.block.size();
    msg.priority = p.priority;
    msg.ttl_ms = p.ttlMs;
    const bool wantResult = p.publishTag != 0 || p.mandatory || txCommit;
    uint64_t corr = 0;
    if (wantResult) {
        Pending pending;
        pending.op = Op::Publish;
        pending.channel = ch;
        pending.classId = 60;
        pending.methodId = 40;
        pending.publishTag = p.publishTag;
        pending.mandatory = p.mandatory;
        pending.txCommit = txCommit;
        if (p.mandatory) { // for basic.return; the kernel has copied what it keeps once route() returns
            pending.exchange = p.exchange;
            pending.routingKey = p.routingKey;
            pending.rawProperties = std::move(p.rawProperties);
        }
        corr = track(std::move(pending));
    }
    const std::string exchange = qualify(p.exchange);
    const ferry_status st =
        host_->route(conn_, corr, exchange.data(), exchange.size(), &msg, wantResult ? 0 : FERRY_PUBLISH_NO_RESULT);
    if (st == FERRY_OK) {
        if (p.mandatory)
            pending_[corr].body = std::move(p.body);
        return true;
    }
    if (corr)
        pending_.erase(corr);
    if (st == FERRY_E_NOT_FOUND)
        softError(ch, reply::kNotFound, "no exchange '" + p.exchange + "' in vhost '" + vhost_ + "'", 60, 40);
    else if (st == FERRY_E_ACCESS_DENIED)
        softError(ch, reply::kAccessRefused,
                  "cannot publish to internal exchange '" + p.exchange + "' in vhost '" + vhost_ + "'", 60, 40);
    else
        softError(ch, reply::kInternalError, "publish failed", 60, 40);
    return false;
}

// tx.select / tx.commit / tx.rollback (RabbitMQ's semantics): publishes and settlements of the open transaction
// are held in the channel; commit routes the publishes, applies the settlements in order, and answers commit-ok
// once the kernel has taken every publish (stored, for persistent messages in durable queues); rollback drops the
// publishes and puts the settled deliveries back into unacked.
void Session::txMethod(uint16_t ch, Channel &c, const Method &m, uint16_t cid, uint16_t mid)
{
    if (std::holds_alternative<TxSelect>(m)) {
        if (c.confirm)
            return softError(ch, reply::kPreconditionFailed, "cannot switch from confirm to tx mode", cid, mid);
        c.tx = true;
        send(ch, TxSelectOk{});
        return;
    }
    if (!c.tx)
        return softError(ch, reply::kPreconditionFailed, "channel is not transactional", cid, mid);
    if (std::holds_alternative<TxRollback>(m)) {
        c.txPublishes.clear();
        if (c.confirm)
            c.confirms.clear();
        for (const TxSettle &t : c.txSettles)
            c.unacked[t.deliveryTag] = t.delivery;
        c.txSettles.clear();
        send(ch, TxRollbackOk{});
        return;
    }
    // tx.commit
    std::vector<Publish> publishes;
    publishes.swap(c.txPublishes);
    std::vector<TxSettle> settles;
    settles.swap(c.txSettles);
    for (Publish &p : publishes) {
        if (!routePublish(ch, p, true))
            return;
        ++c.txRouting;
    }
    for (const TxSettle &t : settles)
        host_->settle_many(conn_, t.delivery.subscription, &t.delivery.offset, 1, t.requeue ? FERRY_ACK_REQUEUE : 0,
                           t.ack ? 1 : 0);
    if (c.txRouting == 0)
        send(ch, TxCommitOk{});
}

void Session::txRouted(uint16_t ch)
{
    auto it = channels_.find(ch);
    if (it == channels_.end() || it->second.txRouting == 0)
        return;
    if (--it->second.txRouting == 0)
        send(ch, TxCommitOk{});
}

// Direct reply-to: a request's reply-to is rewritten to this channel's token; a reply to a token goes straight to
// its connection (host->wake), never through a queue. True when the publish was handled here.
bool Session::directReplyPublish(uint16_t ch, Channel &c, const BasicProperties &propsIn, uint64_t publishTag)
{
    if (propsIn.has(property::kReplyTo) && propsIn.replyTo == kReplyTo) {
        if (c.replyToken.empty()) {
            softError(ch, reply::kPreconditionFailed, "fast reply consumer does not exist", 60, 40);
            return true;
        }
        BasicProperties props = propsIn;
        const std::string replyTo = std::string(kReplyTo) + "." + c.replyToken;
        props.setReplyTo(replyTo);
        std::string raw;
        if (appendBasicProperties(raw, props))
            c.rawProperties = std::move(raw);
        return false; // routed as usual, with the rewritten reply-to
    }
    if (!c.exchange.empty() || c.routingKey.rfind(std::string(kReplyTo) + ".", 0) != 0)
        return false;
    const std::string token = c.routingKey.substr(kReplyTo.size() + 1);
    uint64_t target = 0;
    {
        std::lock_guard lock(instance_.replyMutex);
        auto it = instance_.replyConsumers.find(token);
        if (it != instance_.replyConsumers.end()) {
            target = it->second;
            instance_.replyMailboxes[target].push_back({token, c.routingKey, c.rawProperties, c.body});
        }
    }
    if (target != 0 && host_->wake(host_->base->ctx, target, 0) != FERRY_OK) {
        std::lock_guard lock(instance_.replyMutex);
        instance_.replyMailboxes.erase(target);
    }
    c.body.clear();
    if (publishTag)
        confirmDone(ch, publishTag, true);
    return true;
}

void Session::onWake(uint64_t)
{
    std::vector<DirectReply> replies;
    {
        std::lock_guard lock(instance_.replyMutex);
        auto it = instance_.replyMailboxes.find(host_->conn_id(conn_));
        if (it == instance_.replyMailboxes.end())
            return;
        replies.swap(it->second);
        instance_.replyMailboxes.erase(it);
    }
    for (const DirectReply &r : replies) {
        for (auto &[ch, c] : channels_) {
            if (c.closing || c.replyToken != r.token)
                continue;
            BasicDeliver del;
            del.consumerTag = c.replyConsumerTag;
            del.deliveryTag = c.nextDeliveryTag++;
            del.routingKey = r.routingKey;
            if (!appendDelivery(out_, ch, del, r.rawProperties, r.body, frameMax_))
                continue;
        }
    }
    flush();
}

void Session::onClose()
{
    std::lock_guard lock(instance_.replyMutex);
    for (const auto &[ch, c] : channels_)
        if (!c.replyToken.empty())
            instance_.replyConsumers.erase(c.replyToken);
    instance_.replyMailboxes.erase(host_->conn_id(conn_));
}

void Session::confirmDone(uint16_t ch, uint64_t tag, bool ack)
{
    auto it = channels_.find(ch);
    if (it == channels_.end() || it->second.closing)
        return;
    Channel &c = it->second;
    if (!ack) {
        BasicNack nack;
        nack.deliveryTag = tag;
        send(ch, nack);
        c.confirms.erase(tag);
        return;
    }
    c.confirms[tag] = 1;
    // Ack the longest settled prefix in one frame (multiple), then any settled tag alone.
    uint64_t last = 0;
    auto i = c.confirms.begin();
    while (i != c.confirms.end() && i->second == 1) {
        last = i->first;
        i = c.confirms.erase(i);
    }
    if (last != 0) {
        BasicAck a;
        a.deliveryTag = last;
        a.multiple = true;
        send(ch, a);
    }
}

void Session::onResult(const ferry_result &r)
{
    auto it = pending_.find(r.correlation_id);
    if (it == pending_.end())
        return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    if (phase_ == Phase::Closing)
        return;
    auto chIt = channels_.find(p.channel);
    if (chIt == channels_.end() || chIt->second.closing)
        return;
    const std::string text = r.text ? std::string(r.text, r.text_len) : std::string();
    if (p.op == Op::Publish) {
        if (p.mandatory && r.status == FERRY_OK && r.message_count == 0) {
            BasicReturn ret;
            ret.replyCode = reply::kNoRoute;
            ret.replyText = "NO_ROUTE";
            ret.exchange = p.exchange;
            ret.routingKey = p.routingKey;
            if (!appendDelivery(out_, p.channel, ret, p.rawProperties, p.body, frameMax_))
                return;
        }
        if (p.publishTag)
            confirmDone(p.channel, p.publishTag, r.status == FERRY_OK);
        if (p.txCommit)
            txRouted(p.channel);
        flush();
        return;
    }
    if (p.op == Op::Get) {
        if (r.status != FERRY_OK)
            softError(p.channel, codeFor(r.status), text, p.classId, p.methodId);
        else if (r.message_count == 0)
            send(p.channel, BasicGetEmpty{});
        flush();
        return;
    }
    if (r.status != FERRY_OK) {
        if (r.status == FERRY_E_INVALID_ARGUMENT && p.op == Op::ExchangeDeclare)
            hardError(reply::kCommandInvalid, text, p.classId, p.methodId); // unknown exchange type
        else if (p.op == Op::QueueDelete && r.status == FERRY_E_NOT_FOUND) {
            QueueDeleteOk ok; // RabbitMQ answers delete-ok for a queue that does not exist
            if (!p.noWait)
                send(p.channel, ok);
        } else if (p.op == Op::ExchangeDelete && r.status == FERRY_E_NOT_FOUND) {
            if (!p.noWait) // and for an exchange that does not exist
                send(p.channel, ExchangeDeleteOk{});
        } else
            softError(p.channel, codeFor(r.status), text, p.classId, p.methodId);
        flush();
        return;
    }
    if (p.noWait)
        return;
    switch (p.op) {
    case Op::ExchangeDeclare:
        send(p.channel, ExchangeDeclareOk{});
        break;
    case Op::ExchangeDelete:
        send(p.channel, ExchangeDeleteOk{});
        break;
    case Op::ExchangeBind:
        send(p.channel, ExchangeBindOk{});
        break;
    case Op::ExchangeUnbind:
        send(p.channel, ExchangeUnbindOk{});
        break;
    case Op::QueueBind:
        send(p.channel, QueueBindOk{});
        break;
    case Op::QueueUnbind:
        send(p.channel, QueueUnbindOk{});
        break;
    case Op::QueueDeclare: {
        QueueDeclareOk ok;
        ok.queue = p.name;
        ok.messageCount = static_cast<uint32_t>(r.message_count);
        ok.consumerCount = static_cast<uint32_t>(r.consumer_count);
        send(p.channel, ok);
        break;
    }
    case Op::QueuePurge: {
        QueuePurgeOk ok;
        ok.messageCount = static_cast<uint32_t>(r.message_count);
        send(p.channel, ok);
        break;
    }
    case Op::QueueDelete: {
        QueueDeleteOk ok;
        ok.messageCount = static_cast<uint32_t>(r.message_count);
        send(p.channel, ok);
        break;
    }
    default:
        break;
    }
    flush();
}

void Session::onDelivery(const ferry_delivery &d)
{
    instance_.counters.delivered.add();
    if (phase_ == Phase::Closing)
        return;
    const ferry_message &m = *d.message;
    bool own = false;
    std::string_view raw = ferry::sdk::find_property(m.properties, m.properties_len, kRawPropertiesKey, &own);
    std::string rendered;
    if (!own) {
        rendered = foreignBasicProperties(m); // another protocol's message (CrossProtocol.h)
        raw = rendered;
    }
    std::string withDeaths;
    if (renderDeadLetterHeaders(raw, m.properties, m.properties_len, &withDeaths))
        raw = withDeaths;
    const std::string exchange = plain(std::string_view(m.exchange ? m.exchange : "", m.exchange_len));
    const std::string_view routingKey = m.routing_key_len ? std::string_view(m.routing_key, m.routing_key_len)
                                                          : std::string_view(m.tag ? m.tag : "", m.tag_len);
    const std::string_view body(reinterpret_cast<const char *>(m.body), m.body_len);
    if (d.flags & FERRY_DELIVERY_GET) {
        auto it = pending_.find(d.correlation_id);
        if (it == pending_.end())
            return;
        auto chIt = channels_.find(it->second.channel);
        if (chIt == channels_.end() || chIt->second.closing)
            return;
        Channel &c = chIt->second;
        BasicGetOk ok;
        ok.deliveryTag = c.nextDeliveryTag++;
        ok.redelivered = (d.flags & FERRY_DELIVERY_REDELIVERED) != 0;
        ok.exchange = exchange;
        ok.routingKey = routingKey;
        ok.messageCount = static_cast<uint32_t>(d.ready_count);
        if (!it->second.noAck)
            c.unacked[ok.deliveryTag] = {d.subscription_id, d.offset};
        if (appendDelivery(out_, it->second.channel, ok, raw, body, frameMax_))
            flush();
        return;
    }
    auto cit = consumers_.find(d.subscription_id);
    if (cit == consumers_.end())
        return;
    auto chIt = channels_.find(cit->second.channel);
    if (chIt == channels_.end() || chIt->second.closing)
        return;
    Channel &c = chIt->second;
    BasicDeliver del;
    del.consumerTag = cit->second.tag;
    del.deliveryTag = c.nextDeliveryTag++;
    del.redelivered = (d.flags & FERRY_DELIVERY_REDELIVERED) != 0;
    del.exchange = exchange;
    del.routingKey = routingKey;
    if (!cit->second.noAck)
        c.unacked[del.deliveryTag] = {d.subscription_id, d.offset};
    if (appendDelivery(out_, cit->second.channel, del, raw, body, frameMax_))
        flush();
}

void Session::onSubscriptionEnd(uint64_t subscriptionId)
{
    auto it = consumers_.find(subscriptionId);
    if (it == consumers_.end())
        return;
    const Consumer consumer = it->second;
    consumers_.erase(it);
    auto chIt = channels_.find(consumer.channel);
    if (chIt == channels_.end())
        return;
    chIt->second.consumers.erase(consumer.tag);
    for (auto u = chIt->second.unacked.begin(); u != chIt->second.unacked.end();)
        u = u->second.subscription == subscriptionId ? chIt->second.unacked.erase(u) : std::next(u);
    if (!chIt->second.closing) {
        BasicCancel cancel; // consumer_cancel_notify
        cancel.consumerTag = consumer.tag;
        cancel.noWait = true;
        send(consumer.channel, cancel);
        flush();
    }
}

void Session::onTimer(uint64_t timerId)
{
    if (timerId != kHeartbeatTimer || heartbeat_ == 0 || phase_ == Phase::Closing)
        return;
    const uint64_t now = nowMs();
    if (readPaused_)
        lastReadMs_ = now; // not reading while blocked: the client's silence says nothing
    if (now - lastReadMs_ > 2000ull * heartbeat_) {
        phase_ = Phase::Closing;
        host_->close(conn_, "missed heartbeats from client");
        return;
    }
    if (now - lastWriteMs_ >= 500ull * heartbeat_) {
        appendHeartbeatFrame(out_);
        flush();
    }
    host_->set_timer(conn_, kHeartbeatTimer, heartbeat_ * 500u);
}

} // namespace ferry::amqp
