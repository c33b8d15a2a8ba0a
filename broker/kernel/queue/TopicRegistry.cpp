#include "queue/TopicRegistry.h"

#include "log/Logging.h"
#include "queue/QueueRegistry.h"
#include "storage/StorageEngine.h"

#include <charconv>
#include <spdlog/spdlog.h>

#include <mutex>
#include <sstream>

namespace ferry {

namespace {
const std::string kTopicPrefix = "topic/";

std::string encodeTopicMeta(const TopicConfig &t)
{
    return "1 " + std::to_string(t.readQueues) + " " + std::to_string(t.writeQueues) + " " + std::to_string(t.perm) +
           " " + std::to_string(t.flags);
}

bool decodeTopicMeta(std::string_view value, TopicConfig *t)
{
    std::istringstream in{std::string(value)};
    int version = 0;
    in >> version >> t->readQueues >> t->writeQueues >> t->perm >> t->flags;
    return !in.fail() && version == 1;
}

void logDeclareFailure(const std::string &queue, ferry_status st, const std::string &err)
{
    if (st != FERRY_OK)
        kernelLogger()->error("creating topic queue '{}' failed (status {}): {}", queue, st, err);
}
} // namespace

TopicRegistry::TopicRegistry(StorageEngine &storage, QueueRegistry &queues) : storage_(storage), queues_(queues) {}

std::string TopicRegistry::queueName(const std::string &topic, uint32_t index)
{
    return topic + FERRY_TOPIC_QUEUE_SEPARATOR + std::to_string(index);
}

bool TopicRegistry::parseQueueName(const std::string &name, std::string *topic, uint32_t *index)
{
    const size_t colon = name.rfind(FERRY_TOPIC_QUEUE_SEPARATOR);
    if (colon == std::string::npos || colon == 0 || colon + 1 == name.size())
        return false;
    uint32_t value = 0;
    const char *first = name.data() + colon + 1, *last = name.data() + name.size();
    const auto [end, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || end != last)
        return false;
    *topic = name.substr(0, colon);
    *index = value;
    return true;
}

bool TopicRegistry::validName(const std::string &name)
{
    if (name.empty() || name.size() > 200 || name.find(FERRY_TOPIC_QUEUE_SEPARATOR) != std::string::npos)
        return false;
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f)
            return false;
    return true;
}

bool TopicRegistry::restore(std::string *error)
{
    std::vector<TopicConfig> found;
    const ferry_status st = storage_.call(
        [&](StorageSession &s) {
            return s.metaScan(kTopicPrefix, [&](std::string_view key, std::string_view value) {
                TopicConfig t;
                t.name = std::string(key.substr(kTopicPrefix.size()));
                if (!decodeTopicMeta(value, &t)) {
                    kernelLogger()->error("metadata for topic '{}' is unreadable; the topic is not restored", t.name);
                    return;
                }
                found.push_back(std::move(t));
            });
        },
        error);
    if (st != FERRY_OK)
        return false;
    std::unique_lock lock(mutex_);
    for (TopicConfig &t : found) {
        // A crash between the topic's metadata and one of its queues' leaves the queue to be created now.
        for (uint32_t i = 0; i < t.queueCount(); ++i) {
            const std::string q = queueName(t.name, i);
            if (!queues_.find(q))
                queues_.declare(
                    q, FERRY_QUEUE_DURABLE | QueueRegistry::kCursorQueue,
                    [q](ferry_status s, const QueuePtr &, const std::string &e) { logDeclareFailure(q, s, e); });
        }
        topics_[t.name] = std::move(t);
    }
    kernelLogger()->info("restored {} topics", topics_.size());
    return true;
}

void TopicRegistry::replicaRefresh(StorageSession &s)
{
    std::map<std::string, TopicConfig> found;
    s.metaScan(kTopicPrefix, [&](std::string_view key, std::string_view value) {
        TopicConfig t;
        t.name = std::string(key.substr(kTopicPrefix.size()));
        if (decodeTopicMeta(value, &t))
            found[t.name] = std::move(t);
    });
    std::unique_lock lock(mutex_);
    topics_.clear();
    for (auto &[name, t] : found)
        topics_[name] = std::move(t);
}

ferry_status TopicRegistry::declare(const TopicConfig &config, uint32_t flags, std::string *error)
{
    if (!validName(config.name)) {
        *error = "invalid topic name '" + config.name + "' (1 to 200 bytes, no '" FERRY_TOPIC_QUEUE_SEPARATOR
                 "', no control characters)";
        return FERRY_E_INVALID_ARGUMENT;
    }
    if (config.readQueues == 0 || config.writeQueues == 0 || config.readQueues > kMaxQueues ||
        config.writeQueues > kMaxQueues) {
        *error = "topic '" + config.name + "': queue counts must be 1 to " + std::to_string(kMaxQueues);
        return FERRY_E_INVALID_ARGUMENT;
    }
    std::unique_lock lock(mutex_);
    auto it = topics_.find(config.name);
    if (it != topics_.end() && (flags & FERRY_TOPIC_CREATE_ONLY)) {
        *error = "topic '" + config.name + "' exists";
        return FERRY_E_ALREADY_EXISTS;
    }
    // Queues first, then the metadata: both go through the storage thread in this order.
    for (uint32_t i = 0; i < config.queueCount(); ++i) {
        const std::string q = queueName(config.name, i);
        queues_.declare(q, FERRY_QUEUE_DURABLE | QueueRegistry::kCursorQueue,
                        [q](ferry_status s, const QueuePtr &, const std::string &e) { logDeclareFailure(q, s, e); });
    }
    const std::string key = kTopicPrefix + config.name;
    const std::string value = encodeTopicMeta(config);
    storage_.submit([key, value](StorageSession &s) { return s.metaPut(key, value); },
                    [name = config.name](ferry_status st, const std::string &err) {
                        if (st != FERRY_OK)
                            kernelLogger()->error("storing topic '{}' failed (status {}): {}", name, st, err);
                    },
                    true);
    topics_[config.name] = config;
    return FERRY_OK;
}

ferry_status TopicRegistry::remove(const std::string &name, std::string *error)
{
    std::unique_lock lock(mutex_);
    auto it = topics_.find(name);
    if (it == topics_.end()) {
        *error = "no topic '" + name + "'";
        return FERRY_E_NOT_FOUND;
    }
    const uint32_t count = it->second.queueCount();
    topics_.erase(it);
    storage_.submit([key = kTopicPrefix + name](StorageSession &s) {
        const ferry_status r = s.metaDelete(key);
        return r == FERRY_E_NOT_FOUND ? FERRY_OK : r;
    },
                    {}, true);
    for (uint32_t i = 0; i < count; ++i)
        queues_.remove(queueName(name, i), 0, [](ferry_status, uint64_t, const std::string &) {});
    return FERRY_OK;
}

std::optional<TopicConfig> TopicRegistry::find(const std::string &name) const
{
    std::shared_lock lock(mutex_);
    auto it = topics_.find(name);
    if (it == topics_.end())
        return std::nullopt;
    return it->second;
}

std::vector<TopicConfig> TopicRegistry::list() const
{
    std::shared_lock lock(mutex_);
    std::vector<TopicConfig> out;
    out.reserve(topics_.size());
    for (const auto &[name, t] : topics_)
        out.push_back(t);
    return out;
}

} // namespace ferry
