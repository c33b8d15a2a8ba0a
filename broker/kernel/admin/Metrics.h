// Metrics: the Prometheus text exposition (format 0.0.4) served at /metrics: queues (depth, ready, unacked,
// consumers, published and delivered counters), topic queues (depth), connections, storage, replication.
// Threading: any thread; reads the kernel's registries.
#pragma once

#include <string>

namespace ferry::admin {

struct AdminContext;
class RateSampler;

std::string renderMetrics(const AdminContext &context, const RateSampler &rates);

} // namespace ferry::admin
