// The replication override file, <broker.data_dir>/replication-override.conf: what a promotion ("promote") or a
// re-pointing ("follow") changed in this broker's replication settings, so that the change outlives a restart.
//
// It is an ordinary config file (INI, sections [broker] and [replication], keys broker.id, replication.role,
// replication.master) that ferry-broker reads after the config file and every --set, so its values win; the start-up
// log names it. Delete it to go back to what the config file says. Written atomically (QSaveFile: a crash leaves the
// old file or the new one, never half of one). Threading: free functions, no shared state.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace ferry::repl {

std::filesystem::path replicationOverridePath(const std::filesystem::path &dataDir);

// Sets the given "section.key" -> value entries in the file, keeping any other entry it holds. false with *error.
bool updateReplicationOverride(const std::filesystem::path &file, const std::map<std::string, std::string> &values,
                               std::string *error);

} // namespace ferry::repl
