// WindowsService: the broker as a Windows service, run and registered through the Service Control Manager (SCM).
//
// Only Windows builds do anything here. Elsewhere windowsServicesSupported() is false and every other function fails
// with an error saying so (the app checks windowsServicesSupported() first and refuses the flags as a usage error),
// so the app calls this API without #ifdefs of its own.
//
//  - ServiceSession runs this process as an already installed service: StartServiceCtrlDispatcherW on a thread of
//    its own (it blocks for the service's lifetime), so the Qt event loop keeps the main thread. SERVICE_CONTROL_STOP
//    and SERVICE_CONTROL_SHUTDOWN become ShutdownSignal::post(<control name>), the same clean-stop path as SIGTERM
//    or Ctrl+C: the main loop quits, the caller stops the broker and then calls reportStopped().
//  - installService() / uninstallService() register and remove the service (CreateServiceW / DeleteServiceW); they
//    need an elevated (administrator) process.
//
// Strings are UTF-8 in and out.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace ferry {
class ShutdownSignal;
}

namespace ferry::platform {

// True when this build can run and register Windows services (a Windows build).
bool windowsServicesSupported();

// What installService() registers.
struct ServiceDefinition {
    std::string name;                   // the service's key name (`sc start <name>`)
    std::string displayName;            // shown in services.msc
    std::string description;            // shown in services.msc
    std::string program;                // absolute path of the executable the SCM starts
    std::vector<std::string> arguments; // its arguments, quoted by windowsCommandLine()
};

// Registers the service: own process, automatic start, the LocalSystem account, and a restart by the SCM 5 s after
// the process ends or the service stops with a non-zero exit code (the failure actions). When a service of that name
// exists already its command line, display name and start type are updated instead (an upgrade). Does not start it.
// Returns false with *error (access denied: not an administrator) otherwise.
bool installService(const ServiceDefinition &definition, std::string *error);

enum class UninstallResult { Removed, NotInstalled, Failed };
// Stops the service if it runs (waits up to stopTimeoutMs for it to report stopped), then deletes it. A service that
// does not stop in time is still marked for deletion (the SCM removes it once it stops); *note then says so.
// Failed comes with *error.
UninstallResult uninstallService(const std::string &name, int stopTimeoutMs, std::string *note, std::string *error);

// The command line CreateServiceW stores: each argument quoted when needed so that CommandLineToArgvW (and the MSVC
// runtime) split it back into the same arguments. Pure string work, available on every platform (tested on Linux).
std::string windowsCommandLine(const std::string &program, const std::vector<std::string> &arguments);

// One per process, on the main thread. Lifetime: the ShutdownSignal given to start() must outlive this object.
class ServiceSession {
public:
    ServiceSession();
    // Reports the service stopped with exit code 1 if reportStopped() was not called, then waits for the dispatcher
    // thread to end.
    ~ServiceSession();
    ServiceSession(const ServiceSession &) = delete;
    ServiceSession &operator=(const ServiceSession &) = delete;

    // Connects to the SCM and blocks until the SCM has called the service's main function (or refused): the service
    // is then START_PENDING, accepting no controls yet. From reportRunning() on, STOP and SHUTDOWN are posted to
    // `shutdown` (from the dispatcher thread; ShutdownSignal::post is thread-safe). Returns false with *error when the
    // process was not started by the SCM (run from a console) or the handler could not be registered.
    // The SCM expects this within 30 s of the process start: call it before any slow start-up work.
    bool start(const std::string &name, ShutdownSignal *shutdown, std::string *error);
    // The broker is serving: RUNNING, accepting STOP and SHUTDOWN.
    void reportRunning();
    // The last thing the process does before it returns from main: the SCM may end the process as soon as this
    // returns. exitCode 0 is a clean stop; any other value is reported as a service-specific error code, which
    // makes the SCM apply its failure actions (installService(): restart).
    void reportStopped(int exitCode);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace ferry::platform
