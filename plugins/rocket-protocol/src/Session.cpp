// Session: one connection of the rocket-protocol plugin: framing, dispatch to the role, pending kernel calls, the
// outbox other threads fill, and (registration connections) the periodic REGISTER_BROKER.
#include "BrokerRole.h"
#include "RocketPlugin.h"

namespace rocket {

Session::Session(RocketPlugin &plugin, ferry_conn *conn, SessionRole role, uint64_t registrationIndex)
    : plugin_(plugin), conn_(conn), role_(role), registrationIndex_(registrationIndex),
      connId_(plugin.host()->conn_id(conn)), outbox_(std::make_shared<Outbox>())
{
    plugin_.attachOutbox(connId_, outbox_);
    if (role_ == SessionRole::Broker)
        broker_ = std::make_unique<BrokerRole>(*this);
    if (role_ == SessionRole::Registration) {
        plugin_.registrationConnected(registrationIndex_, connId_);
        sendRegistration();
        host()->set_timer(conn_, kTimerRegister, plugin_.settings().registerIntervalMs);
    }
}

Session::~Session() = default;

ferry_status Session::onRead(const uint8_t *data, size_t len, size_t *consumed)
{
    size_t used = 0;
    while (used < len && !closed_) {
        RemotingCommand command;
        size_t frameBytes = 0;
        std::string error;
        const DecodeStatus st = decodeFrame(data + used, len - used, &command, &frameBytes, &error);
        if (st == DecodeStatus::NeedMore)
            break;
        if (st == DecodeStatus::Malformed) {
            char peer[128] = {};
            host()->peer_address(conn_, peer, sizeof peer);
            plugin_.log(FERRY_LOG_WARN, std::string("malformed frame from ") + peer + ": " + error +
                                            "; closing the connection");
            *consumed = used;
            return FERRY_E_PROTOCOL;
        }
        used += frameBytes;
        dispatch(command);
    }
    *consumed = used;
    return FERRY_OK;
}

void Session::dispatch(RemotingCommand &command)
{
    if (command.isResponse()) {
        // Replies to what this side sent: registrations (logged when refused); client replies are not awaited.
        if (role_ == SessionRole::Broker) {
            if (auto asker = plugin_.takeForwardedReply(command.opaque)) {
                command.opaque = asker->second;
                plugin_.sendTo(asker->first, encodeFrame(command));
            }
            return;
        }
        if (role_ == SessionRole::Registration && command.code != code::kSuccess)
            plugin_.log(FERRY_LOG_WARN, "name server " + plugin_.namesrvAddressFor(registrationIndex_) +
                                            " refused the registration: code " + std::to_string(command.code) + " " +
                                            command.remark.value_or(""));
        else if (role_ == SessionRole::Registration)
            plugin_.onRegistered(command); // a slave learns its master's haServerAddr here
        return;
    }
    switch (role_) {
    case SessionRole::NameServer:
        plugin_.counters().namesrvRequests.add();
        if (auto response = plugin_.nameServer().handle(command, connId_, plugin_.monotonicMs()))
            send(*response);
        return;
    case SessionRole::Broker:
        broker_->handle(command);
        return;
    case SessionRole::Registration:
        if (!command.isOneway())
            send(command.response(code::kRequestCodeNotSupported,
                                  std::to_string(command.code) + " request type not supported"));
        return;
    }
}

bool Session::send(const RemotingCommand &command)
{
    const std::string frame = encodeFrame(command);
    return host()->write(conn_, reinterpret_cast<const uint8_t *>(frame.data()), frame.size()) == FERRY_OK;
}

void Session::sendRaw(const std::string &frame)
{
    host()->write(conn_, reinterpret_cast<const uint8_t *>(frame.data()), frame.size());
}

uint64_t Session::track(std::unique_ptr<PendingCall> call)
{
    const uint64_t id = nextCorrelation_++;
    pending_.emplace(id, std::move(call));
    return id;
}

void Session::untrack(uint64_t correlationId) { pending_.erase(correlationId); }

void Session::onDelivery(const ferry_delivery &delivery)
{
    auto it = pending_.find(delivery.correlation_id);
    if (it != pending_.end())
        it->second->delivery(*this, delivery);
}

void Session::onResult(const ferry_result &result)
{
    auto it = pending_.find(result.correlation_id);
    if (it == pending_.end())
        return;
    std::unique_ptr<PendingCall> call = std::move(it->second);
    pending_.erase(it);
    call->result(*this, result);
}

void Session::onTimer(uint64_t timerId)
{
    if (timerId == kTimerRegister && role_ == SessionRole::Registration) {
        sendRegistration();
        host()->set_timer(conn_, kTimerRegister, plugin_.settings().registerIntervalMs);
    }
}

void Session::onWake(uint64_t token)
{
    if (token == kWakeRegister && role_ == SessionRole::Registration) {
        sendRegistration();
        return;
    }
    if (token == kWakeCheck && broker_) {
        std::deque<uint64_t> handles;
        {
            std::lock_guard lock(outbox_->mutex);
            handles.swap(outbox_->transactionChecks);
        }
        for (uint64_t h : handles)
            broker_->sendTransactionCheck(h);
        return;
    }
    if (token == kWakeOutbox) {
        std::deque<std::string> frames;
        {
            std::lock_guard lock(outbox_->mutex);
            frames.swap(outbox_->frames);
        }
        for (const std::string &f : frames)
            sendRaw(f);
    }
}

void Session::sendRegistration() { send(plugin_.registerRequest(plugin_.nextOpaque())); }

void Session::onClose(int32_t)
{
    closed_ = true;
    plugin_.detachOutbox(connId_);
    switch (role_) {
    case SessionRole::NameServer:
        plugin_.nameServer().connectionClosed(connId_);
        break;
    case SessionRole::Broker:
        for (const std::string &group : plugin_.connectionClosed(connId_))
            plugin_.notifyConsumersChanged(group);
        break;
    case SessionRole::Registration:
        plugin_.registrationClosed(registrationIndex_);
        break;
    }
}

} // namespace rocket
