// BrokerSettings: the kernel's typed settings, parsed from the config by the app (every key is documented in
// packaging/ferry.conf and docs/configuration.md). Plugin sections are read by plugins through ferry_host.config_get.
#pragma once

#include "auth/AuthRegistry.h"
#include "net/NetworkServer.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace ferry {

enum class FlushMode { Sync, Async };

// replication.role, RocketMQ's brokerRole names. Values are the ABI's FERRY_ROLE_*.
enum class ReplicationRole { AsyncMaster = 1, SyncMaster = 2, Slave = 3 };
const char *replicationRoleName(ReplicationRole role); // "ASYNC_MASTER", "SYNC_MASTER", "SLAVE"

// The broker's place in its replication group (docs/replication.md).
struct ReplicationSettings {
    std::string brokerName = "broker-a";          // broker.name: brokers sharing it form a group
    uint64_t brokerId = 0;                        // broker.id: 0 the master, > 0 a slave
    ReplicationRole role = ReplicationRole::AsyncMaster; // replication.role
    std::string listen = "0.0.0.0:10912";         // replication.listen ("" : off)
    std::string master;                           // replication.master: host:port of the master's listener
    uint32_t syncTimeoutMs = 3000;                // replication.sync_timeout_ms (SYNC_MASTER)
    uint64_t bufferBytes = 64ull * 1024 * 1024;   // replication.buffer_bytes: the master's in-memory backlog
    bool reconcile = false;                       // --reconcile: a slave drops what diverges from its master
    std::filesystem::path overrideFile;           // where promote/follow record their change (repl/ReplicationOverride.h)
};

struct AdminSettings {
    std::string listen = "127.0.0.1:15680"; // admin.listen ("" : off)
    uint64_t maxBodyBytes = 16ull << 20;    // admin.max_body_bytes
    std::string tlsCertFile;                // admin.tls_cert_file (PEM); with admin.tls_key_file: HTTPS only
    std::string tlsKeyFile;                 // admin.tls_key_file (PEM, unencrypted)
};

struct BrokerSettings {
    std::filesystem::path dataDir = "data";   // broker.data_dir / --data-dir
    std::string storagePlugin = "file";       // storage.plugin: name of a loaded storage plugin ("file", "sqlite")
    FlushMode flush = FlushMode::Sync;        // storage.flush
    uint32_t flushIntervalMs = 200;           // storage.flush_interval_ms (async mode)
    uint64_t retentionMs = 72ull * 3600 * 1000; // storage.retention_hours
    uint64_t retentionBytes = 0;              // storage.retention_bytes (0: unlimited)
    uint32_t maintainIntervalMs = 10000;      // storage.maintain_interval_ms
    uint32_t maxBatch = 1024;                 // storage.max_batch: operations per group commit
    uint64_t diskFreeLimit = 50000000;        // storage.disk_free_limit (bytes; 0: no disk alarm)
    NetworkLimits network;                    // network.io_threads, max_frame_bytes, max_pending_write_bytes,
                                              // idle_timeout_ms
    AuthSettings auth;                        // auth.*
    ReplicationSettings replication;          // broker.name, broker.id, replication.*
    AdminSettings admin;                      // admin.*
};

} // namespace ferry
