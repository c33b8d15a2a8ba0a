// Metrics: the Prometheus text exposition (format 0.0.4) served at /metrics: queues (depth, ready, unacked,
// consumers, published and delivered counters), topic queues (depth), consumer groups (lag, members), connections
// (per protocol, bytes), storage (bytes, syncs, appends), replication, and the plugins' own event counters.
// Threading: any thread; reads the kernel's registries.
#pragma once

#include <string>

namespace ferry::admin {

struct AdminContext;
struct GroupMetrics;
class RateSampler;

// groups: consumer-group lag and members (collectGroupMetrics, read from storage beforehand).
std::string renderMetrics(const AdminContext &context, const RateSampler &rates, const GroupMetrics &groups);

} // namespace ferry::admin
