// TopicRegistry: RocketMQ-style topics, each a named set of durable queues "<topic>:<i>" (FERRY_TOPIC_QUEUE_SEPARATOR)
// with read/write queue counts and permissions. A topic is recorded in the storage plugin's metadata space
// (key "topic/<name>", value "1 <read> <write> <perm> <flags>") beside its queues, so a restart restores it.
//
// Declaring is synchronous for the caller: the topic and its queues exist in memory when declare() returns, and the
// metadata writes are queued on the storage thread ahead of any later append (so a message confirmed durable implies
// its topic is durable too). Topic queues are cursor-consumed: storage retention removes their records by age and
// size whether or not they were consumed.
// Threading: thread-safe; never calls back into the caller.
#pragma once

#include <ferry/ferry_protocol.h>

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace ferry {

class QueueRegistry;
class StorageEngine;
class StorageSession;

struct TopicConfig {
    std::string name;
    uint32_t readQueues = 0;
    uint32_t writeQueues = 0;
    uint32_t perm = FERRY_TOPIC_PERM_READ | FERRY_TOPIC_PERM_WRITE;
    uint32_t flags = 0;

    uint32_t queueCount() const { return readQueues > writeQueues ? readQueues : writeQueues; }
};

class TopicRegistry {
public:
    static constexpr uint32_t kMaxQueues = 1024;

    TopicRegistry(StorageEngine &storage, QueueRegistry &queues);

    // Start-up, after QueueRegistry::restore: reads topics from storage. Blocking.
    bool restore(std::string *error);
    // A slave: replication changed topic metadata under the kernel; re-reads every topic from the session's
    // storage (their queues come with the queue metadata). Storage thread (inside the replication applier).
    void replicaRefresh(StorageSession &session);

    // Creates or updates; see ferry_protocol_host.topic_declare. *error says why on failure.
    ferry_status declare(const TopicConfig &config, uint32_t flags, std::string *error);
    ferry_status remove(const std::string &name, std::string *error);
    std::optional<TopicConfig> find(const std::string &name) const;
    std::vector<TopicConfig> list() const;

    // "<topic>:<index>"
    static std::string queueName(const std::string &topic, uint32_t index);
    // The inverse of queueName: false when name is not "<topic>:<index>".
    static bool parseQueueName(const std::string &name, std::string *topic, uint32_t *index);
    // True when name is a valid topic name: 1..200 bytes, no separator, no control characters.
    static bool validName(const std::string &name);

private:
    StorageEngine &storage_;
    QueueRegistry &queues_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, TopicConfig> topics_;
};

} // namespace ferry
