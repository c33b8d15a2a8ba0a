// ProtocolServices: the queue members of the ferry_protocol_host table (declare, publish, subscribe, ack, pull,
// commit offsets), implemented over the QueueRegistry. The connection members come from the network layer
// (fillConnectionServices).
//
// Contract (ferry_protocol.h): these functions are called on a connection's thread from inside one of its hooks;
// they never call a hook themselves; results and deliveries are posted to the connection (ConnectionLink) and arrive
// after the current hook returns. Per-connection state (subscriptions, a queue-name cache so the hot path takes no
// lock beyond the queue's) hangs off Connection::coreState and is released by a close hook.
#pragma once

#include <ferry/ferry_protocol.h>

namespace ferry {

class QueueRegistry;

// Binds the services to a registry (one broker per process) and fills the queue members of table.
void fillQueueServices(ferry_protocol_host *table, QueueRegistry *registry);
// Unbinds (broker stop). Calls made afterwards return FERRY_E_CLOSED.
void clearQueueServices();

} // namespace ferry
