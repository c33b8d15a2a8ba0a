// ProcessRestart: runs this program again with the given arguments, in place of the current process. The broker
// uses it after a promotion (repl/ReplicationService): a slave that becomes a master starts over with its new role.
//
// POSIX: execv(2), so the process keeps its PID, its parent and its standard streams, and a service manager
// (systemd) keeps tracking it. Windows has no exec: a new process is started with the same standard handles and this
// one must then exit (the caller returns from main); a service manager sees its process end.
// Call it from the main thread once everything is stopped and closed: file and socket handles that are not
// close-on-exec would otherwise outlive the restart.
#pragma once

#include <string>
#include <vector>

namespace ferry::platform {

// Returns false with *error when the new run could not be started (POSIX: only then does it return at all); true
// on Windows once the new process runs.
bool restartProcess(const std::string &program, const std::vector<std::string> &arguments, std::string *error);

} // namespace ferry::platform
