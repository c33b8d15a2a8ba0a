// AdminRoutes: the admin API's resources (docs/admin-api.md). A route is a method, a path pattern whose "{}"
// segments become parameters, the access it needs, and a handler. Where RabbitMQ's management API has the same
// resource, the path and the field names are RabbitMQ's.
//
// Access (RabbitMQ's user tags): reading needs administrator, monitoring or management; changing queues, exchanges
// and bindings needs administrator, or management with the configure permission on that vhost; users, vhosts,
// permissions and replication need administrator.
// Threading: dispatch() on the session's thread; a handler answers through call.respond exactly once, from any
// thread.
#pragma once

#include "admin/AdminService.h"
#include "admin/HttpCodec.h"

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace ferry {
class Queue;
}

namespace ferry::admin {

enum class Access { Read, Manage, Administer };

struct AdminCall {
    HttpRequest request;
    std::string user;                // authenticated
    std::string peer;                // "host:port", for the log
    std::vector<std::string> params; // the pattern's "{}" segments, in order
    std::function<void(HttpResponse)> respond;
};

// A queue's message counters, read live: every offset ever appended, and those that left again (acked, expired,
// dropped, purged): offsets start at 0, so what left is the end offset minus what is still there.
struct QueueTotals {
    uint64_t published = 0, delivered = 0;
};
QueueTotals queueTotals(const Queue &queue);

// Message rates, sampled every few seconds from the queues' counters (RabbitMQ's "*_details.rate").
class RateSampler {
public:
    struct Rates {
        double publish = 0, deliver = 0; // per second over the last interval
    };
    void sample(const AdminContext &context); // scheduler thread
    Rates queue(const std::string &qualifiedName) const;
    Rates total() const;
    // A connection's bytes per second over the last interval (recv, send).
    std::pair<double, double> connection(uint64_t id) const;

private:
    struct Sample {
        QueueTotals totals;
        uint64_t atMs = 0;
        Rates rates;
    };
    mutable std::mutex mutex_;
    std::map<std::string, Sample> queues_;
    Rates total_;
    struct ConnectionSample {
        uint64_t bytesIn = 0, bytesOut = 0, atMs = 0;
        double recvRate = 0, sendRate = 0;
    };
    std::map<uint64_t, ConnectionSample> connections_;
};

class AdminRoutes {
public:
    AdminRoutes(const AdminContext &context, const RateSampler &rates);
    // Routes the call: 404 for an unknown path, 405 for a known path with another method, 403 for missing access.
    void dispatch(AdminCall call) const;

    using Handler = std::function<void(const AdminRoutes &, AdminCall &)>;
    struct Route {
        std::string method;
        std::vector<std::string> pattern; // segments; "{}" matches one
        Access access;
        Handler handler;
    };

    const AdminContext &context() const { return context_; }
    const RateSampler &rates() const { return rates_; }

private:
    const AdminContext &context_;
    const RateSampler &rates_;
    std::vector<Route> routes_;
};

// {"error": error, "reason": reason}, RabbitMQ's error body.
HttpResponse jsonError(int status, const std::string &error, const std::string &reason);

} // namespace ferry::admin
