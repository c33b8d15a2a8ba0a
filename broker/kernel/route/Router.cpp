#include "route/Router.h"

#include "log/Logging.h"
#include "queue/QueueRegistry.h"
#include "queue/TopicRegistry.h"
#include "sched/DelayedDelivery.h"
#include "storage/StorageEngine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string_view>

namespace ferry {

namespace {
const std::string kExchangePrefix = "exchange/";
const std::string kBindingPrefix = "binding/";
constexpr int kMaxRouteDepth = 32; // exchange-to-exchange hops

uint64_t wallMs()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

void putLen(std::string &out, std::string_view s)
{
    const uint32_t n = static_cast<uint32_t>(s.size());
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>(n >> shift));
    out.append(s);
}

bool takeLen(std::string_view &in, std::string *out)
{
    if (in.size() < 4)
        return false;
    const auto *p = reinterpret_cast<const uint8_t *>(in.data());
    const size_t n = (size_t(p[0]) << 24) | (size_t(p[1]) << 16) | (size_t(p[2]) << 8) | p[3];
    if (in.size() < 4 + n)
        return false;
    out->assign(in.data() + 4, n);
    in.remove_prefix(4 + n);
    return true;
}

std::string bindingKey(const BindingConfig &b)
{
    std::string id;
    putLen(id, b.source);
    putLen(id, std::to_string(b.kind));
    putLen(id, b.destination);
    putLen(id, b.routingKey);
    putLen(id, b.arguments);
    return kBindingPrefix + toHex(id);
}

bool decodeBindingKey(std::string_view hexId, BindingConfig *b)
{
    std::string raw;
    if (!fromHex(hexId, &raw))
        return false;
    std::string_view in(raw);
    std::string kind;
    if (!takeLen(in, &b->source) || !takeLen(in, &kind) || !takeLen(in, &b->destination) ||
        !takeLen(in, &b->routingKey) || !takeLen(in, &b->arguments) || !in.empty())
        return false;
    b->kind = kind == "1" ? FERRY_BIND_EXCHANGE : FERRY_BIND_QUEUE;
    return true;
}

std::string encodeExchangeMeta(const ExchangeConfig &e)
{
    return "1 " + e.type + " " + std::to_string(e.flags) + " x" + toHex(e.delayedType);
}

bool decodeExchangeMeta(std::string_view value, ExchangeConfig *e)
{
    std::istringstream in{std::string(value)};
    int version = 0;
    std::string delayed;
    in >> version >> e->type >> e->flags >> delayed;
    if (in.fail() || version != 1 || delayed.empty() || delayed[0] != 'x')
        return false;
    return fromHex(std::string_view(delayed).substr(1), &e->delayedType);
}

bool knownType(const std::string &t)
{
    return t == "direct" || t == "fanout" || t == "topic" || t == "headers";
}

// Property block entries (ferry_protocol.h) as (key, value) views into block.
std::vector<std::pair<std::string_view, std::string_view>> parseBlock(std::string_view block)
{
    std::vector<std::pair<std::string_view, std::string_view>> out;
    forEachProperty(block, [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
    return out;
}

// RabbitMQ's headers-exchange match of binding arguments against a message's properties.
bool headersMatch(const std::string &bindingArgs,
                  const std::vector<std::pair<std::string_view, std::string_view>> &props)
{
    const auto args = parseBlock(bindingArgs);
    std::string_view mode = "all";
    for (const auto &[k, v] : args)
        if (k == "x-match")
            mode = v;
    const bool any = mode == "any" || mode == "any-with-x";
    const bool withX = mode == "all-with-x" || mode == "any-with-x";
    size_t considered = 0, matched = 0;
    for (const auto &[k, v] : args) {
        if (k == "x-match" || (!withX && k.substr(0, 2) == "x-"))
            continue;
        ++considered;
        for (const auto &[pk, pv] : props)
            if (pk == k && pv == v) {
                ++matched;
                break;
            }
    }
    if (any)
        return matched > 0;
    return matched == considered;
}

bool isDefaultExchange(const std::string &qualified)
{
    return qualified.empty() || (qualified.back() == FERRY_VHOST_SEPARATOR[0] &&
                                 qualified.find(FERRY_VHOST_SEPARATOR) == qualified.size() - 1);
}

const std::string kTopicExchangeType = "x-rocketmq-topic";
} // namespace

Router::Router(StorageEngine &storage, QueueRegistry &queues, TopicRegistry &topics)
    : storage_(storage), queues_(queues), topics_(topics)
{
}

std::string Router::qualify(const std::string &vhost, const std::string &name)
{
    if (vhost == FERRY_DEFAULT_VHOST)
        return name;
    return vhost + FERRY_VHOST_SEPARATOR + name;
}

std::pair<std::string, std::string> Router::split(const std::string &qualified)
{
    const size_t sep = qualified.find(FERRY_VHOST_SEPARATOR);
    if (sep == std::string::npos)
        return {FERRY_DEFAULT_VHOST, qualified};
    return {qualified.substr(0, sep), qualified.substr(sep + 1)};
}

bool Router::topicMatch(const std::string &pattern, const std::string &key)
{
    // Word-wise match with backtracking over '#'; both sides split on '.'.
    auto words = [](const std::string &s) {
        std::vector<std::string_view> w;
        size_t start = 0;
        for (;;) {
            const size_t dot = s.find('.', start);
            w.emplace_back(
                std::string_view(s).substr(start, dot == std::string::npos ? std::string::npos : dot - start));
            if (dot == std::string::npos)
                break;
            start = dot + 1;
        }
        return w;
    };
    const auto p = words(pattern);
    const auto k = key.empty() ? std::vector<std::string_view>{} : words(key);
    // dp over (pattern index, key index)
    std::vector<std::vector<char>> memo(p.size() + 1, std::vector<char>(k.size() + 1, -1));
    std::function<bool(size_t, size_t)> match = [&](size_t i, size_t j) -> bool {
        char &m = memo[i][j];
        if (m != -1)
            return m != 0;
        bool r;
        if (i == p.size())
            r = j == k.size();
        else if (p[i] == "#")
            r = match(i + 1, j) || (j < k.size() && match(i, j + 1));
        else
            r = j < k.size() && (p[i] == "*" || p[i] == k[j]) && match(i + 1, j + 1);
        m = r ? 1 : 0;
        return r;
    };
    return match(0, 0);
}

bool Router::restore(std::string *error)
{
    std::vector<ExchangeConfig> found;
    std::vector<BindingConfig> bindings;
    const ferry_status st = storage_.call(
        [&](StorageSession &s) {
            ferry_status r = s.metaScan(kExchangePrefix, [&](std::string_view key, std::string_view value) {
                ExchangeConfig e;
                e.name = std::string(key.substr(kExchangePrefix.size()));
                if (!decodeExchangeMeta(value, &e)) {
                    kernelLogger()->error("metadata for exchange '{}' is unreadable; not restored", e.name);
                    return;
                }
                found.push_back(std::move(e));
            });
            if (r != FERRY_OK)
                return r;
            return s.metaScan(kBindingPrefix, [&](std::string_view key, std::string_view) {
                BindingConfig b;
                if (!decodeBindingKey(key.substr(kBindingPrefix.size()), &b)) {
                    kernelLogger()->error("a binding's metadata is unreadable; not restored");
                    return;
                }
                bindings.push_back(std::move(b));
            });
        },
        error);
    if (st != FERRY_OK)
        return false;
    {
        std::unique_lock lock(mutex_);
        for (ExchangeConfig &e : found) {
            auto ex = std::make_shared<Exchange>();
            ex->config = std::move(e);
            exchanges_[ex->config.name] = ex;
        }
    }
    size_t restored = 0;
    for (const BindingConfig &b : bindings) {
        std::string err;
        if (bind(b, &err) == FERRY_OK)
            ++restored;
        else
            kernelLogger()->warn("binding {} -> {} not restored: {}", b.source, b.destination, err);
    }
    kernelLogger()->info("restored {} exchanges and {} bindings", found.size(), restored);
    return true;
}

void Router::ensureVhost(const std::string &vhost)
{
    static const std::pair<const char *, const char *> predeclared[] = {
        {"", "direct"},          {"amq.direct", "direct"},   {"amq.fanout", "fanout"},
        {"amq.topic", "topic"},  {"amq.headers", "headers"}, {"amq.match", "headers"},
    };
    for (const auto &[name, type] : predeclared) {
        ExchangeConfig e;
        e.name = qualify(vhost, name);
        e.type = type;
        e.flags = FERRY_EXCHANGE_DURABLE;
        std::string err;
        const ferry_status st = declareExchange(e, false, &err);
        if (st != FERRY_OK)
            kernelLogger()->error("predeclaring exchange '{}' in vhost '{}' failed: {}", name, vhost, err);
    }
}

Router::ExchangePtr Router::findLocked(const std::string &name) const
{
    auto it = exchanges_.find(name);
    if (it != exchanges_.end())
        return it->second;
    auto t = topicExchanges_.find(name);
    if (t != topicExchanges_.end())
        return t->second;
    if (name.compare(0, std::strlen(FERRY_TOPIC_EXCHANGE_PREFIX), FERRY_TOPIC_EXCHANGE_PREFIX) == 0) {
        const std::string topic = name.substr(std::strlen(FERRY_TOPIC_EXCHANGE_PREFIX));
        if (topics_.find(topic)) {
            auto ex = std::make_shared<Exchange>();
            ex->config.name = name;
            ex->config.type = kTopicExchangeType;
            ex->config.flags = FERRY_EXCHANGE_DURABLE;
            return ex; // not kept until something binds to it
        }
    }
    return nullptr;
}

bool Router::exchangeExists(const std::string &name) const
{
    std::shared_lock lock(mutex_);
    return findLocked(name) != nullptr;
}

ferry_status Router::declareExchange(const ExchangeConfig &config, bool passive, std::string *error)
{
    const auto [vhost, plain] = split(config.name);
    std::unique_lock lock(mutex_);
    if (ExchangePtr ex = findLocked(config.name)) {
        if (passive || ex->config.type == kTopicExchangeType)
            return FERRY_OK;
        auto text = [&, vhost = vhost, plain = plain](const std::string &arg, const std::string &received,
                                                      const std::string &current) {
            *error = "inequivalent arg '" + arg + "' for exchange '" + plain + "' in vhost '" + vhost +
                     "': received '" + received + "' but current is '" + current + "'";
            return FERRY_E_MISMATCH;
        };
        auto flag = [](uint32_t flags, uint32_t bit) { return std::string((flags & bit) ? "true" : "false"); };
        if (ex->config.type != config.type)
            return text("type", config.type, ex->config.type);
        for (const auto &[bit, name] : {std::pair{FERRY_EXCHANGE_DURABLE, "durable"},
                                        std::pair{FERRY_EXCHANGE_AUTO_DELETE, "auto_delete"},
                                        std::pair{FERRY_EXCHANGE_INTERNAL, "internal"}})
            if ((ex->config.flags & bit) != (config.flags & bit))
                return text(name, flag(config.flags, bit), flag(ex->config.flags, bit));
        if (ex->config.delayedType != config.delayedType)
            return text("x-delayed-type", config.delayedType, ex->config.delayedType);
        return FERRY_OK;
    }
    if (passive) {
        *error = "no exchange '" + plain + "' in vhost '" + vhost + "'";
        return FERRY_E_NOT_FOUND;
    }
    if (config.type == "x-delayed-message") {
        if (!knownType(config.delayedType)) {
            *error = "Invalid argument, 'x-delayed-type' must be an existing exchange type";
            return FERRY_E_INVALID_ARGUMENT;
        }
    } else if (!knownType(config.type)) {
        *error = "unknown exchange type '" + config.type + "'";
        return FERRY_E_INVALID_ARGUMENT;
    }
    auto ex = std::make_shared<Exchange>();
    ex->config = config;
    ex->config.flags &= FERRY_EXCHANGE_DURABLE | FERRY_EXCHANGE_AUTO_DELETE | FERRY_EXCHANGE_INTERNAL;
    exchanges_[config.name] = ex;
    if (ex->config.flags & FERRY_EXCHANGE_DURABLE) {
        storage_.submit([key = kExchangePrefix + config.name, value = encodeExchangeMeta(ex->config)](
                            StorageSession &s) { return s.metaPut(key, value); },
                        [name = config.name](ferry_status st, const std::string &err) {
                            if (st != FERRY_OK)
                                kernelLogger()->error("storing exchange '{}' failed ({}): {}", name, st, err);
                        },
                        true);
    }
    return FERRY_OK;
}

ferry_status Router::deleteExchange(const std::string &name, bool ifUnused, std::string *error)
{
    const auto [vhost, plain] = split(name);
    std::unique_lock lock(mutex_);
    if (ExchangePtr topic = findLocked(name); topic && topic->config.type == kTopicExchangeType) {
        *error = "exchange '" + plain + "' is RocketMQ topic '" +
                 plain.substr(std::strlen(FERRY_TOPIC_EXCHANGE_PREFIX)) + "'; it goes when the topic is deleted";
        return FERRY_E_ACCESS_DENIED;
    }
    auto it = exchanges_.find(name);
    if (it == exchanges_.end()) {
        *error = "no exchange '" + plain + "' in vhost '" + vhost + "'";
        return FERRY_E_NOT_FOUND;
    }
    ExchangePtr ex = it->second;
    if (ifUnused && !ex->bindings.empty()) {
        *error = "exchange '" + plain + "' in vhost '" + vhost + "' in use";
        return FERRY_E_BUSY;
    }
    for (const BindingConfig &b : ex->bindings)
        if (bindingDurable(b))
            storeBinding(b, false);
    exchanges_.erase(it);
    std::vector<std::string> emptied;
    dropBindingsToLocked(FERRY_BIND_EXCHANGE, name, emptied);
    if (ex->config.flags & FERRY_EXCHANGE_DURABLE)
        storage_.submit([key = kExchangePrefix + name](StorageSession &s) {
            const ferry_status r = s.metaDelete(key);
            return r == FERRY_E_NOT_FOUND ? FERRY_OK : r;
        },
                        {}, true);
    autoDeleteLocked(std::move(emptied));
    return FERRY_OK;
}

bool Router::bindingDurable(const BindingConfig &b) const
{
    auto src = findLocked(b.source);
    if (!src || !(src->config.flags & FERRY_EXCHANGE_DURABLE))
        return false;
    if (b.kind == FERRY_BIND_QUEUE) {
        QueuePtr q = queues_.find(b.destination);
        return q && q->durable();
    }
    auto dst = findLocked(b.destination);
    return dst && (dst->config.flags & FERRY_EXCHANGE_DURABLE);
}

void Router::storeBinding(const BindingConfig &b, bool put)
{
    storage_.submit(
        [key = bindingKey(b), put](StorageSession &s) {
            if (put)
                return s.metaPut(key, "1");
            const ferry_status r = s.metaDelete(key);
            return r == FERRY_E_NOT_FOUND ? FERRY_OK : r;
        },
        [](ferry_status st, const std::string &err) {
            if (st != FERRY_OK)
                kernelLogger()->error("storing a binding failed ({}): {}", st, err);
        },
        true);
}

ferry_status Router::bind(const BindingConfig &binding, std::string *error)
{
    const auto [vhost, plain] = split(binding.source);
    std::unique_lock lock(mutex_);
    ExchangePtr src = findLocked(binding.source);
    if (!src) {
        *error = "no exchange '" + plain + "' in vhost '" + vhost + "'";
        return FERRY_E_NOT_FOUND;
    }
    if (binding.kind == FERRY_BIND_QUEUE) {
        if (!queues_.find(binding.destination)) {
            const auto [dv, dp] = split(binding.destination);
            *error = "no queue '" + dp + "' in vhost '" + dv + "'";
            return FERRY_E_NOT_FOUND;
        }
    } else if (!findLocked(binding.destination)) {
        const auto [dv, dp] = split(binding.destination);
        *error = "no exchange '" + dp + "' in vhost '" + dv + "'";
        return FERRY_E_NOT_FOUND;
    }
    if (src->config.type == kTopicExchangeType)
        topicExchanges_.emplace(binding.source, src); // keep the virtual exchange now that it has a binding
    if (std::find(src->bindings.begin(), src->bindings.end(), binding) != src->bindings.end())
        return FERRY_OK;
    src->bindings.push_back(binding);
    if (bindingDurable(binding))
        storeBinding(binding, true);
    return FERRY_OK;
}

ferry_status Router::unbind(const BindingConfig &binding, std::string *error)
{
    const auto [vhost, plain] = split(binding.source);
    std::unique_lock lock(mutex_);
    ExchangePtr src = findLocked(binding.source);
    if (!src) {
        *error = "no exchange '" + plain + "' in vhost '" + vhost + "'";
        return FERRY_E_NOT_FOUND;
    }
    if (binding.kind == FERRY_BIND_QUEUE && !queues_.find(binding.destination)) {
        const auto [dv, dp] = split(binding.destination);
        *error = "no queue '" + dp + "' in vhost '" + dv + "'";
        return FERRY_E_NOT_FOUND;
    }
    auto it = std::find(src->bindings.begin(), src->bindings.end(), binding);
    if (it == src->bindings.end())
        return FERRY_OK; // RabbitMQ answers unbind-ok for a binding that does not exist
    if (bindingDurable(binding))
        storeBinding(binding, false);
    src->bindings.erase(it);
    if (src->bindings.empty())
        autoDeleteLocked({binding.source});
    return FERRY_OK;
}

void Router::dropBindingsToLocked(uint32_t kind, const std::string &destination, std::vector<std::string> &emptied)
{
    auto sweep = [&](std::map<std::string, ExchangePtr> &table) {
        for (auto &[name, ex] : table) {
            const size_t before = ex->bindings.size();
            for (auto it = ex->bindings.begin(); it != ex->bindings.end();) {
                if (it->kind == kind && it->destination == destination) {
                    storeBinding(*it, false);
                    it = ex->bindings.erase(it);
                } else {
                    ++it;
                }
            }
            if (before > 0 && ex->bindings.empty())
                emptied.push_back(name);
        }
    };
    sweep(exchanges_);
    sweep(topicExchanges_);
}

void Router::autoDeleteLocked(std::vector<std::string> names)
{
    while (!names.empty()) {
        const std::string name = names.back();
        names.pop_back();
        auto it = exchanges_.find(name);
        if (it == exchanges_.end() || !(it->second->config.flags & FERRY_EXCHANGE_AUTO_DELETE) ||
            !it->second->bindings.empty())
            continue;
        if (it->second->config.flags & FERRY_EXCHANGE_DURABLE)
            storage_.submit([key = kExchangePrefix + name](StorageSession &s) {
                const ferry_status r = s.metaDelete(key);
                return r == FERRY_E_NOT_FOUND ? FERRY_OK : r;
            },
                            {}, true);
        exchanges_.erase(it);
        dropBindingsToLocked(FERRY_BIND_EXCHANGE, name, names);
    }
}

void Router::queueRemoved(const std::string &name)
{
    std::unique_lock lock(mutex_);
    std::vector<std::string> emptied;
    dropBindingsToLocked(FERRY_BIND_QUEUE, name, emptied);
    autoDeleteLocked(std::move(emptied));
}

std::vector<ExchangeConfig> Router::exchanges() const
{
    std::shared_lock lock(mutex_);
    std::vector<ExchangeConfig> out;
    for (const auto &[name, ex] : exchanges_)
        out.push_back(ex->config);
    return out;
}

std::vector<BindingConfig> Router::bindings() const
{
    std::shared_lock lock(mutex_);
    std::vector<BindingConfig> out;
    for (const auto *table : {&exchanges_, &topicExchanges_})
        for (const auto &[name, ex] : *table)
            out.insert(out.end(), ex->bindings.begin(), ex->bindings.end());
    return out;
}

void Router::collectLocked(const Exchange &ex, const std::string &typeIn, const Message &m,
                           std::vector<QueuePtr> &queues, std::vector<std::string> &visited, int depth) const
{
    if (depth > kMaxRouteDepth || std::find(visited.begin(), visited.end(), ex.config.name) != visited.end())
        return;
    visited.push_back(ex.config.name);
    auto add = [&](QueuePtr q) {
        if (q && std::find(queues.begin(), queues.end(), q) == queues.end())
            queues.push_back(std::move(q));
    };
    const std::string &key = m.routingKey.empty() ? m.tag : m.routingKey;
    if (isDefaultExchange(ex.config.name)) {
        add(queues_.find(qualify(split(ex.config.name).first, m.routingKey)));
        return;
    }
    const std::string &type = typeIn == "x-delayed-message" ? ex.config.delayedType : typeIn;
    if (type == kTopicExchangeType) {
        const std::string topic = ex.config.name.substr(std::strlen(FERRY_TOPIC_EXCHANGE_PREFIX));
        if (auto t = topics_.find(topic); t && t->writeQueues > 0) {
            const uint64_t n = topicRoundRobin_.fetch_add(1, std::memory_order_relaxed);
            add(queues_.find(TopicRegistry::queueName(topic, static_cast<uint32_t>(n % t->writeQueues))));
        }
    }
    std::vector<std::pair<std::string_view, std::string_view>> props;
    bool propsParsed = false;
    for (const BindingConfig &b : ex.bindings) {
        bool match = false;
        if (type == "fanout")
            match = true;
        else if (type == "direct")
            match = b.routingKey == key;
        else if (type == "topic" || type == kTopicExchangeType)
            match = topicMatch(b.routingKey, key);
        else if (type == "headers") {
            if (!propsParsed) {
                props = parseBlock(m.properties);
                propsParsed = true;
            }
            match = headersMatch(b.arguments, props);
        }
        if (!match)
            continue;
        if (b.kind == FERRY_BIND_QUEUE) {
            add(queues_.find(b.destination));
        } else if (ExchangePtr next = findLocked(b.destination)) {
            collectLocked(*next, next->config.type, m, queues, visited, depth + 1);
        }
    }
}

ferry_status Router::route(const std::string &exchange, std::shared_ptr<Message> message, RouteDone done,
                           std::string *error)
{
    std::vector<QueuePtr> queues;
    {
        std::shared_lock lock(mutex_);
        ExchangePtr ex = findLocked(exchange);
        if (!ex) {
            const auto [vhost, plain] = split(exchange);
            *error = "no exchange '" + plain + "' in vhost '" + vhost + "'";
            return FERRY_E_NOT_FOUND;
        }
        if (ex->config.flags & FERRY_EXCHANGE_INTERNAL) {
            const auto [vhost, plain] = split(exchange);
            *error = "cannot publish to internal exchange '" + plain + "' in vhost '" + vhost + "'";
            return FERRY_E_ACCESS_DENIED;
        }
        message->storeTimeMs = wallMs();
        message->id = newMessageId(message->storeTimeMs);
        if (message->bornTimeMs == 0)
            message->bornTimeMs = message->storeTimeMs;
        message->exchange = exchange;
        if (ex->config.type == "x-delayed-message" && delayed_ != nullptr) {
            int64_t delay = 0;
            for (const auto &[k, v] : parseBlock(message->properties))
                if (k == kDelayProperty) {
                    try {
                        delay = std::stoll(std::string(v));
                    } catch (...) {
                        delay = 0;
                    }
                }
            if (delay > 0) {
                lock.unlock();
                const uint64_t due = message->storeTimeMs + static_cast<uint64_t>(delay);
                delayed_->scheduleRoute(std::move(message), exchange, due,
                                        [done](ferry_status st, uint64_t, const std::string &err) {
                                            if (done)
                                                done(st, st == FERRY_OK ? 1 : 0, err);
                                        });
                return FERRY_OK;
            }
        }
        std::vector<std::string> visited;
        collectLocked(*ex, ex->config.type, *message, queues, visited, 0);
    }
    deliver(std::move(queues), std::move(message), std::move(done));
    return FERRY_OK;
}

void Router::routeDue(const std::string &exchange, std::shared_ptr<Message> message, RouteDone done)
{
    std::vector<QueuePtr> queues;
    {
        std::shared_lock lock(mutex_);
        ExchangePtr ex = findLocked(exchange);
        if (!ex) {
            lock.unlock();
            if (done)
                done(FERRY_OK, 0, {}); // the exchange went away meanwhile: nothing to route to
            return;
        }
        message->storeTimeMs = wallMs();
        message->exchange = exchange;
        std::vector<std::string> visited;
        collectLocked(*ex, ex->config.type, *message, queues, visited, 0);
    }
    deliver(std::move(queues), std::move(message), std::move(done));
}

void Router::routeTopicCopies(const std::string &topic, const MessagePtr &message)
{
    std::vector<QueuePtr> queues;
    {
        std::shared_lock lock(mutex_);
        if (topicExchanges_.empty())
            return;
        auto it = topicExchanges_.find(FERRY_TOPIC_EXCHANGE_PREFIX + topic);
        if (it == topicExchanges_.end() || it->second->bindings.empty())
            return;
        // The topic's own queue already has the message: only the bindings, as a topic exchange.
        Exchange copy;
        copy.config = it->second->config;
        copy.config.type = "topic";
        copy.bindings = it->second->bindings;
        std::vector<std::string> visited;
        collectLocked(copy, "topic", *message, queues, visited, 0);
    }
    if (queues.empty())
        return;
    // The copies name the exchange they came through (AMQP's basic.deliver shows it): one copy of the message for
    // all of them, made only when something is bound.
    auto stamped = std::make_shared<Message>(*message);
    stamped->exchange = FERRY_TOPIC_EXCHANGE_PREFIX + topic;
    deliver(std::move(queues), std::move(stamped), {});
}

void Router::deliver(std::vector<QueuePtr> queues, MessagePtr message, RouteDone done)
{
    if (queues.empty()) {
        if (done)
            done(FERRY_OK, 0, {});
        return;
    }
    if (!done) {
        for (const QueuePtr &q : queues)
            q->append(message, {});
        return;
    }
    struct Tally {
        std::mutex mutex;
        size_t remaining;
        uint64_t taken = 0;
        ferry_status status = FERRY_OK;
        std::string error;
        RouteDone done;
    };
    auto tally = std::make_shared<Tally>();
    tally->remaining = queues.size();
    tally->done = std::move(done);
    for (const QueuePtr &q : queues) {
        q->append(message, [tally](ferry_status st, uint64_t, const std::string &err) {
            std::unique_lock lock(tally->mutex);
            if (st == FERRY_OK)
                ++tally->taken;
            else if (tally->status == FERRY_OK || st == FERRY_E_NO_SPACE) {
                tally->status = st;
                tally->error = err;
            }
            if (--tally->remaining > 0)
                return;
            lock.unlock();
            tally->done(tally->status, tally->taken, tally->error);
        });
    }
}

void Router::deadLetter(const std::shared_ptr<Queue> &queue, const MessagePtr &message, DeadLetterReason reason)
{
    const QueueArgs &args = queue->args();
    if (!args.hasDeadLetterExchange)
        return;
    auto copy = std::make_shared<Message>(*message);
    const auto [vhost, queueName] = split(queue->name());
    const std::string exchangeName = split(message->exchange).second;
    const std::string reasonName = deadLetterReasonName(reason);
    const uint64_t nowSec = wallMs() / 1000;

    // The history: the entry for (queue, reason) moves to the front with its count increased; others keep order.
    std::string deaths, firstDeath;
    uint64_t count = 1;
    std::string existingEntry;
    std::string rest =
        takeProperties(message->properties, "$ferry.", [&](std::string_view key, std::string_view value) {
            if (key == kFirstDeathProperty) {
                firstDeath.assign(value);
                return;
            }
            if (key != kDeathProperty)
                return;
            std::string_view r, q;
            uint64_t c = 0;
            for (const auto &[k, v] : parseBlock(value)) {
                if (k == "reason")
                    r = v;
                else if (k == "queue")
                    q = v;
                else if (k == "count")
                    c = std::strtoull(std::string(v).c_str(), nullptr, 10);
            }
            if (r == reasonName && q == queueName && existingEntry.empty()) {
                count = c + 1;
                existingEntry.assign(value);
            } else {
                appendProperty(deaths, kDeathProperty, value);
            }
        });
    std::string entry;
    if (!existingEntry.empty()) {
        // Keep everything but the count.
        for (const auto &[k, v] : parseBlock(existingEntry)) {
            if (k == "count")
                appendProperty(entry, k, std::to_string(count));
            else
                appendProperty(entry, k, v);
        }
    } else {
        appendProperty(entry, "reason", reasonName);
        appendProperty(entry, "queue", queueName);
        appendProperty(entry, "exchange", exchangeName);
        appendProperty(entry, "routing-key", message->routingKey);
        appendProperty(entry, "time", std::to_string(nowSec));
        appendProperty(entry, "count", "1");
        if (message->flags & FERRY_MESSAGE_HAS_TTL)
            appendProperty(entry, "original-expiration", std::to_string(message->ttlMs));
    }
    std::string props = rest;
    appendProperty(props, kDeathProperty, entry);
    props += deaths;
    if (firstDeath.empty()) {
        appendProperty(firstDeath, "reason", reasonName);
        appendProperty(firstDeath, "queue", queueName);
        appendProperty(firstDeath, "exchange", exchangeName);
    }
    appendProperty(props, kFirstDeathProperty, firstDeath);
    copy->properties = std::move(props);
    copy->flags &= ~static_cast<uint32_t>(FERRY_MESSAGE_HAS_TTL);
    copy->ttlMs = 0;
    if (args.hasDeadLetterRoutingKey)
        copy->routingKey = args.deadLetterRoutingKey;
    std::string error;
    const ferry_status st = route(args.deadLetterExchange, std::move(copy), {}, &error);
    if (st != FERRY_OK)
        kernelLogger()->debug("dead letter from queue '{}' dropped: {}", queue->name(), error);
}

void Router::deleteUnused(const std::shared_ptr<Queue> &queue)
{
    queues_.remove(queue->name(), 0, [](ferry_status, uint64_t, const std::string &) {});
}

} // namespace ferry
