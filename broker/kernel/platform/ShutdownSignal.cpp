#include "platform/ShutdownSignal.h"

#include <QCoreApplication>
#include <QMetaObject>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <QSocketNotifier>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <atomic>

namespace ferry {

#ifdef _WIN32

namespace {
// The one installed instance; the console handler runs on a system thread and only reads these.
std::atomic<ShutdownSignal *> g_instance{nullptr};
HANDLE g_stoppedEvent = nullptr;

const char *consoleEventName(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT: return "CTRL_C_EVENT";
    case CTRL_BREAK_EVENT: return "CTRL_BREAK_EVENT";
    case CTRL_CLOSE_EVENT: return "CTRL_CLOSE_EVENT";
    case CTRL_LOGOFF_EVENT: return "CTRL_LOGOFF_EVENT";
    case CTRL_SHUTDOWN_EVENT: return "CTRL_SHUTDOWN_EVENT";
    default: return "console event";
    }
}

BOOL WINAPI onConsoleEvent(DWORD type)
{
    ShutdownSignal *instance = g_instance.load();
    if (!instance)
        return FALSE;
    instance->post(QString::fromLatin1(consoleEventName(type)));
    if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT) {
        // Windows ends the process as soon as this returns: wait for the graceful stop (Windows allows ~5 s).
        if (g_stoppedEvent)
            WaitForSingleObject(g_stoppedEvent, 4500);
    }
    return TRUE;
}
} // namespace

struct ShutdownSignal::Impl {
    bool installed = false;
};

ShutdownSignal::ShutdownSignal(QObject *parent) : QObject(parent), impl_(std::make_unique<Impl>()) {}

ShutdownSignal::~ShutdownSignal()
{
    if (impl_->installed) {
        SetConsoleCtrlHandler(onConsoleEvent, FALSE);
        g_instance.store(nullptr);
        if (g_stoppedEvent) {
            CloseHandle(g_stoppedEvent);
            g_stoppedEvent = nullptr;
        }
    }
}

bool ShutdownSignal::install(std::string *error)
{
    ShutdownSignal *expected = nullptr;
    if (!g_instance.compare_exchange_strong(expected, this)) {
        if (error)
            *error = "a shutdown signal handler is already installed";
        return false;
    }
    g_stoppedEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (!SetConsoleCtrlHandler(onConsoleEvent, TRUE)) {
        if (error)
            *error = "SetConsoleCtrlHandler failed (error " + std::to_string(GetLastError()) + ")";
        g_instance.store(nullptr);
        return false;
    }
    impl_->installed = true;
    return true;
}

void ShutdownSignal::notifyStopped()
{
    if (g_stoppedEvent)
        SetEvent(g_stoppedEvent);
}

#else // POSIX

namespace {
// Write end of the self-pipe, read by the signal handler (async-signal-safe: only write(2) is called).
volatile sig_atomic_t g_wakeFd = -1;

extern "C" void onShutdownSignal(int signalNumber)
{
    const int savedErrno = errno;
    const unsigned char byte = static_cast<unsigned char>(signalNumber);
    if (g_wakeFd >= 0) {
        // Non-blocking: if the pipe is somehow full, a request is already pending, which is enough.
        [[maybe_unused]] const ssize_t written = ::write(g_wakeFd, &byte, 1);
    }
    errno = savedErrno;
}

const int kShutdownSignals[] = {SIGTERM, SIGINT};
} // namespace

struct ShutdownSignal::Impl {
    int fds[2] = {-1, -1}; // [0]: written by the handler, [1]: read on the main thread
    QSocketNotifier *notifier = nullptr;
    bool installed = false;
};

ShutdownSignal::ShutdownSignal(QObject *parent) : QObject(parent), impl_(std::make_unique<Impl>()) {}

ShutdownSignal::~ShutdownSignal()
{
    if (impl_->installed) {
        struct sigaction action;
        std::memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        sigemptyset(&action.sa_mask);
        for (int sig : kShutdownSignals)
            ::sigaction(sig, &action, nullptr);
        g_wakeFd = -1;
    }
    delete impl_->notifier;
    for (int fd : impl_->fds) {
        if (fd >= 0)
            ::close(fd);
    }
}

bool ShutdownSignal::install(std::string *error)
{
    const auto fail = [&](const char *what) {
        if (error)
            *error = std::string(what) + ": " + std::strerror(errno);
        return false;
    };
    if (g_wakeFd >= 0) {
        if (error)
            *error = "a shutdown signal handler is already installed";
        return false;
    }
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, impl_->fds) != 0)
        return fail("socketpair");
    for (int fd : impl_->fds) {
        if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
            return fail("fcntl");
    }

    impl_->notifier = new QSocketNotifier(impl_->fds[1], QSocketNotifier::Read);
    QObject::connect(impl_->notifier, &QSocketNotifier::activated, this, [this]() {
        unsigned char bytes[16];
        const ssize_t n = ::read(impl_->fds[1], bytes, sizeof bytes);
        for (ssize_t i = 0; i < n; ++i) {
            const int sig = bytes[i];
            request(QString::fromLatin1(sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal"));
        }
    });

    g_wakeFd = impl_->fds[0];
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_handler = onShutdownSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART | SA_RESETHAND; // a second signal of the same kind ends the process at once
    for (int sig : kShutdownSignals) {
        if (::sigaction(sig, &action, nullptr) != 0)
            return fail("sigaction");
    }
    ::signal(SIGPIPE, SIG_IGN);
    impl_->installed = true;
    return true;
}

void ShutdownSignal::notifyStopped() {}

#endif

void ShutdownSignal::post(const QString &reason)
{
    // `this` as the context object: Qt drops the queued call if the object is gone by then.
    QMetaObject::invokeMethod(this, [this, reason]() { request(reason); }, Qt::QueuedConnection);
}

void ShutdownSignal::request(const QString &reason)
{
    if (requested_)
        return;
    requested_ = true;
    Q_EMIT requested(reason);
    QCoreApplication::quit();
}

} // namespace ferry
