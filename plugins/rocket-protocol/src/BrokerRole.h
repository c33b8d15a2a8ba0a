// BrokerRole: the broker role's request handlers, bound to one broker-listener Session (see BrokerRole.cpp).
// PendingCall: what an asynchronous kernel call was for; the Session routes on_delivery / on_result to it by
// correlation id, and drops it after its on_result.
#pragma once

#include "codec/RemotingCommand.h"

#include <ferry/ferry_protocol.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace rocket {

class RocketPlugin;
class Session;

struct PendingCall {
    virtual ~PendingCall() = default;
    virtual void delivery(Session &, const ferry_delivery &) {}
    virtual void result(Session &, const ferry_result &) = 0;
};

class BrokerRole {
public:
    explicit BrokerRole(Session &session);

    void handle(RemotingCommand &request);
    // Sends CHECK_TRANSACTION_STATE for a prepared message to this (producer) connection.
    void sendTransactionCheck(uint64_t handle);
    // The clientID the peer announced in its last heartbeat (empty before).
    const std::string &clientId() const { return clientId_; }

private:
    void reply(const RemotingCommand &request, int code, std::optional<std::string> remark = std::nullopt);
    std::optional<ferry_topic_info> topicOrReply(const RemotingCommand &request, const std::string &topic,
                                                 std::string *nameStorage);

    void sendMessage(RemotingCommand &request);
    void pullMessage(RemotingCommand &request);
    void queryConsumerOffset(RemotingCommand &request);
    void updateConsumerOffset(RemotingCommand &request);
    void queueOffsetBound(RemotingCommand &request, bool max);
    void earliestStoreTime(RemotingCommand &request);
    void searchOffsetByTimestamp(RemotingCommand &request);
    void heartbeat(RemotingCommand &request);
    void unregisterClient(RemotingCommand &request);
    void consumerList(RemotingCommand &request);
    void updateAndCreateTopic(RemotingCommand &request);
    void deleteTopic(RemotingCommand &request);
    void getAllTopicConfig(RemotingCommand &request);
    void lockBatch(RemotingCommand &request);
    void consumerSendMsgBack(RemotingCommand &request);
    void viewMessageById(RemotingCommand &request);
    void endTransaction(RemotingCommand &request);
    void queryMessage(RemotingCommand &request);
    void consumeMessageDirectly(RemotingCommand &request);
    // Reads the message a physical offset names and calls done(record bytes) (empty when it is gone).
    void readByPhysicalOffset(int64_t physical, std::function<void(Session &, std::string)> done,
                              const RemotingCommand &request);
    void unlockBatch(RemotingCommand &request);

    Session &s_;
    RocketPlugin &plugin_;
    const ferry_protocol_host &host_;
    std::string clientId_;
    uint64_t roundRobin_ = 0;
};

} // namespace rocket
