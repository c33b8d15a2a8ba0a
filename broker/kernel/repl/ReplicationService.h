// ReplicationService: master/slave replication in the kernel, for every protocol and every storage plugin
// (docs/replication.md).
//
//  - A master (ASYNC_MASTER, SYNC_MASTER) records every durable storage change in its ReplicationJournal and serves
//    slaves on the replication listener (replication.listen): a slave that resumes inside the in-memory backlog
//    gets the changes it missed; any other catches up from storage (a snapshot of metadata, consumer offsets and
//    queue bounds, then the records it lacks), after its log was checked against the master's (divergence).
//  - A slave connects out to replication.master (or the address the RocketMQ name server gave), applies the
//    changes to its own storage in order with the master's offsets, acknowledges them once stored, and keeps the
//    kernel's read model (queues, topics, queue ends) current so RocketMQ consumers can read from it.
//  - Both answer the replication admin requests on the listener: "status" and "digest" (read-only), "promote" (a
//    slave becomes a master: the change is written to the override file, then the broker restarts in place) and
//    "follow" (a slave follows another master, at once). `ferry-broker --replication-status`, `--promote`,
//    `--follow`.
//
// The network is the kernel's: the replication protocol is a built-in protocol (sans-I/O sessions on the
// NetworkServer's event-loop threads); storage work runs on the storage thread. Threading: public members are
// thread-safe unless noted.
#pragma once

#include "broker/BrokerSettings.h"

#include <ferry/ferry_protocol.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace ferry {
class NetworkServer;
class Scheduler;
class StorageEngine;
class StorageSession;
} // namespace ferry

namespace ferry::repl {

class ReplicationJournal;

// What one applied batch changed on a slave, for the kernel's read model.
struct AppliedChanges {
    bool queuesChanged = false;            // queue metadata or logs created/deleted
    bool topicsChanged = false;            // topic metadata
    std::map<uint64_t, uint64_t> queueEnds; // queue id -> next offset, for queues that received records
};

class ReplicationService {
public:
    ReplicationService(const ReplicationSettings &settings, StorageEngine &storage, Scheduler &scheduler);
    ~ReplicationService();
    ReplicationService(const ReplicationService &) = delete;
    ReplicationService &operator=(const ReplicationService &) = delete;

    // A master's journal (set it on the storage engine before open); null on a slave.
    ReplicationJournal *journal() const;
    // A slave: fn(session, changes) on the storage thread after each applied batch. Set before start().
    void setReplicaObserver(std::function<void(StorageSession &, const AppliedChanges &)> fn);
    // Called once (any thread) when replication cannot go on safely (a diverged slave): the broker stops.
    void setFatalHandler(std::function<void(const std::string &why)> fn);
    // Called once (any thread) after a promotion was recorded: the broker must restart to run with its new role.
    void setRestartHandler(std::function<void(const std::string &why)> fn);
    // Checks the credentials of a changing admin request ("promote", "follow"): true for a user allowed to
    // administer this broker, else false with *why. Without one, changing requests are refused. Before start().
    using AdminAuthenticator = std::function<bool(const std::string &user, const std::string &password,
                                                  const std::string &peerHost, std::string *why)>;
    void setAdminAuthenticator(AdminAuthenticator fn);

    // Opens the listener (when replication.listen is set) and, on a slave, starts following the master.
    bool start(NetworkServer &network, const ferry_protocol_host *host, std::string *error);
    // Stops following; fails held completions. The listener closes with the network.
    void stop();

    ReplicationRole role() const;
    bool readOnly() const { return role() == ReplicationRole::Slave; }
    void fillInfo(ferry_replication_info *out) const;
    // A slave without replication.master learnt its master's address (RocketMQ haServerAddr).
    void masterHint(const std::string &address);
    // This broker's replication state as JSON (docs/replication.md, "Status").
    std::string statusJson() const;
    // "promote" or "follow" for a caller that authenticated the user itself (the admin API): (status, text), the
    // text JSON on FERRY_OK. requestedBy names who asked, for the log. Any thread.
    std::pair<int32_t, std::string> change(const std::string &command, const std::string &argument,
                                           const std::string &requestedBy);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace ferry::repl
