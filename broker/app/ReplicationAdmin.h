// ReplicationAdmin: ferry-broker's one-shot replication commands, a client of a running broker's replication
// listener (docs/replication.md, "Admin requests"): --replication-status, --promote, --follow.
// Blocking (QTcpSocket waits with timeouts); main thread, before or without an event loop.
#pragma once

#include "repl/ReplicationCodec.h"

#include <ferry/ferry_plugin.h>

#include <string>
#include <vector>

namespace ferry::app {

// One request, one AdminReply. true with *reply on FERRY_OK; false with *error (the broker's text when it refused).
bool replicationRequest(const std::string &address, const repl::AdminRequest &request, std::string *reply,
                        std::string *error);

struct PromoteOptions {
    std::string target;               // the slave to promote: its replication listener host:port
    std::string role = "ASYNC_MASTER"; // SYNC_MASTER or ASYNC_MASTER
    std::vector<std::string> repoint; // the group's other slaves (their listeners), to follow the new master
    bool force = false;               // promote although the master looks alive / another slave applied more
    std::string user = "guest", password = "guest";
    int restartTimeoutMs = 60000;     // how long the promoted broker may take to come back as a master
};

// RocketMQ 4.x manual fail-over in one command:
//  1. the target must be a SLAVE; each slave to re-point must be a SLAVE of the same broker.name, and, unless force,
//     none may have applied more of the old master's stream than the target (it would be refused as diverged);
//  2. "promote" the target, then wait until it answers as a master (it restarts in place);
//  3. "follow" the target on every other slave.
// true with *summary (JSON); false with *error naming the step that failed.
bool promoteSlave(const PromoteOptions &options, std::string *summary, std::string *error);

} // namespace ferry::app
