// ShutdownSignal: turns the operating system's "please stop" requests into a quit of the Qt main event loop.
//
//  - POSIX: SIGTERM and SIGINT. The async-signal handler only writes one byte into a self-pipe (a socketpair); a
//    QSocketNotifier on the main thread reads it and does the rest, so no Qt or spdlog code runs in signal context.
//    Each handler is installed with SA_RESETHAND: a second identical signal gets the default action (the process
//    ends at once), which is the way out when a graceful stop hangs. SIGPIPE is ignored (a peer closing a socket
//    must not kill the broker).
//  - Windows: SetConsoleCtrlHandler for Ctrl+C, Ctrl+Break, console close, logoff and shutdown. The handler runs on
//    a thread the system creates; it posts the request to the main thread. For close/logoff/shutdown it waits (up to
//    the time Windows allows) until notifyStopped() is called, since Windows ends the process when it returns.
//  - A Windows service does not install() (it has no console, and a console handler would stop it when any user
//    logs off): platform/WindowsService posts SERVICE_CONTROL_STOP / SERVICE_CONTROL_SHUTDOWN through post().
//
// Contract: create one instance on the main thread after QCoreApplication exists and before exec(); it calls
// QCoreApplication::quit() on the main thread when a request arrives, after emitting requested() with the signal's
// name ("SIGTERM", "SIGINT", "CTRL_C_EVENT", ...). Only one instance may exist at a time.
#pragma once

#include <QObject>

#include <memory>
#include <string>

namespace ferry {

class ShutdownSignal : public QObject {
    Q_OBJECT
public:
    explicit ShutdownSignal(QObject *parent = nullptr);
    ~ShutdownSignal() override;

    // false with *error when the handlers could not be installed.
    bool install(std::string *error);
    // Call once the broker has stopped (Windows waits on this before letting the process end; no-op elsewhere).
    void notifyStopped();
    // Acts as if a shutdown signal named `reason` arrived: emits requested(reason), then quits the main loop.
    // Main thread only. Later requests after the first are ignored.
    void request(const QString &reason);
    // Any thread: queues request(reason) to this object's (the main) thread and returns at once. The caller must
    // keep this object alive for the call; a request still queued when it is destroyed is dropped.
    // Used by the Windows console handler and by platform/WindowsService's control handler.
    void post(const QString &reason);

Q_SIGNALS:
    void requested(const QString &signalName);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    bool requested_ = false;
};

} // namespace ferry
