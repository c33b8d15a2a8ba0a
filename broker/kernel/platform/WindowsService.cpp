#include "platform/WindowsService.h"

#include "platform/ShutdownSignal.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <QString>

#include <iterator>
#include <mutex>
#include <thread>
#include <type_traits>
#endif

namespace ferry::platform {

namespace {

// The MSVC runtime's and CommandLineToArgvW's rules: inside quotes, backslashes are literal unless they precede a
// quote; 2n backslashes + quote give n backslashes and end the quoting, 2n+1 give n backslashes and a literal quote.
std::string quoteArgument(const std::string &argument)
{
    if (!argument.empty() && argument.find_first_of(" \t\n\v\"") == std::string::npos)
        return argument;
    std::string quoted = "\"";
    size_t backslashes = 0;
    for (const char c : argument) {
        if (c == '\\') {
            ++backslashes;
            continue;
        }
        quoted.append(c == '"' ? backslashes * 2 + 1 : backslashes, '\\');
        backslashes = 0;
        quoted.push_back(c);
    }
    quoted.append(backslashes * 2, '\\'); // the closing quote must stay a quote
    quoted.push_back('"');
    return quoted;
}

} // namespace

std::string windowsCommandLine(const std::string &program, const std::vector<std::string> &arguments)
{
    // The program name is parsed without backslash escapes, and a path cannot contain '"': quoting it always avoids
    // the unquoted-path problem (C:\Program Files\... read as C:\Program).
    std::string line = "\"" + program + "\"";
    for (const std::string &argument : arguments)
        line += " " + quoteArgument(argument);
    return line;
}

#ifdef _WIN32

namespace {

std::wstring wide(const std::string &utf8) { return QString::fromStdString(utf8).toStdWString(); }

std::string lastErrorText(const char *what, DWORD code = GetLastError())
{
    wchar_t *buffer = nullptr;
    const DWORD length = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                            FORMAT_MESSAGE_IGNORE_INSERTS,
                                        nullptr, code, 0, reinterpret_cast<LPWSTR>(&buffer), 0, nullptr);
    QString message = length ? QString::fromWCharArray(buffer, static_cast<qsizetype>(length)).trimmed()
                             : QStringLiteral("error %1").arg(code);
    if (buffer)
        LocalFree(buffer);
    std::string text = std::string(what) + ": " + message.toStdString();
    if (code == ERROR_ACCESS_DENIED)
        text += " (run it from an elevated, administrator prompt)";
    return text;
}

struct ServiceHandleCloser {
    void operator()(SC_HANDLE handle) const { CloseServiceHandle(handle); }
};
using ServiceHandle = std::unique_ptr<std::remove_pointer_t<SC_HANDLE>, ServiceHandleCloser>;

constexpr DWORD kPendingWaitHintMs = 10000;
constexpr DWORD kCheckpointIntervalMs = 2000;
constexpr DWORD kRestartDelayMs = 5000;

} // namespace

bool windowsServicesSupported() { return true; }

bool installService(const ServiceDefinition &definition, std::string *error)
{
    ServiceHandle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE));
    if (!manager) {
        *error = lastErrorText("cannot open the Service Control Manager");
        return false;
    }
    const std::wstring name = wide(definition.name);
    const std::wstring displayName = wide(definition.displayName);
    const std::wstring commandLine = wide(windowsCommandLine(definition.program, definition.arguments));
    // Account nullptr: LocalSystem.
    ServiceHandle service(CreateServiceW(manager.get(), name.c_str(), displayName.c_str(), SERVICE_ALL_ACCESS,
                                         SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                         commandLine.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr));
    if (!service && GetLastError() == ERROR_SERVICE_EXISTS) {
        service.reset(OpenServiceW(manager.get(), name.c_str(), SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG));
        if (!service) {
            *error = lastErrorText("cannot open the existing service");
            return false;
        }
        if (!ChangeServiceConfigW(service.get(), SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                  commandLine.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr,
                                  displayName.c_str())) {
            *error = lastErrorText("cannot update the existing service");
            return false;
        }
    } else if (!service) {
        *error = lastErrorText("cannot create the service");
        return false;
    }

    std::wstring description = wide(definition.description);
    SERVICE_DESCRIPTIONW descriptionInfo{description.data()};
    SC_ACTION restart{SC_ACTION_RESTART, kRestartDelayMs};
    SC_ACTION restarts[] = {restart, restart, restart};
    SERVICE_FAILURE_ACTIONSW failureActions{};
    failureActions.dwResetPeriod = 24 * 60 * 60; // seconds without a failure after which the count starts over
    failureActions.cActions = static_cast<DWORD>(std::size(restarts));
    failureActions.lpsaActions = restarts;
    // A stop with a non-zero exit code counts as a failure too (a promoted slave stops so that it restarts).
    SERVICE_FAILURE_ACTIONS_FLAG failureOnExitCode{TRUE};
    if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_DESCRIPTION, &descriptionInfo) ||
        !ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failureActions) ||
        !ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &failureOnExitCode)) {
        *error = lastErrorText("cannot set the service's description and recovery actions");
        return false;
    }
    return true;
}

UninstallResult uninstallService(const std::string &name, int stopTimeoutMs, std::string *note, std::string *error)
{
    ServiceHandle manager(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
    if (!manager) {
        *error = lastErrorText("cannot open the Service Control Manager");
        return UninstallResult::Failed;
    }
    ServiceHandle service(OpenServiceW(manager.get(), wide(name).c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
    if (!service) {
        if (GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST)
            return UninstallResult::NotInstalled;
        *error = lastErrorText("cannot open the service");
        return UninstallResult::Failed;
    }
    SERVICE_STATUS status{};
    if (ControlService(service.get(), SERVICE_CONTROL_STOP, &status) || GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
        const ULONGLONG deadline = GetTickCount64() + static_cast<ULONGLONG>(stopTimeoutMs);
        while (QueryServiceStatus(service.get(), &status) && status.dwCurrentState != SERVICE_STOPPED &&
               GetTickCount64() < deadline)
            Sleep(250);
        if (status.dwCurrentState != SERVICE_STOPPED)
            *note = "the service did not stop within " + std::to_string(stopTimeoutMs / 1000) +
                    " s; it is removed once it stops";
    }
    if (!DeleteService(service.get()) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE) {
        *error = lastErrorText("cannot delete the service");
        return UninstallResult::Failed;
    }
    return UninstallResult::Removed;
}

namespace {

// State shared by the main thread (ServiceSession's methods) and the dispatcher thread (the service main function and,
// on the same thread, the control handler). `mutex` guards statusHandle, status, shutdown and stopReported;
// startError, dispatcherFailed and statusHandle are written before `registered` is set and read after it.
struct SessionState {
    std::wstring name;
    std::thread dispatcher;
    HANDLE registered = nullptr; // set once serviceMain registered the handler, or the dispatcher failed
    HANDLE stopped = nullptr;    // set by reportStopped(): serviceMain returns, then the dispatcher
    DWORD startError = NO_ERROR;
    bool dispatcherFailed = false; // StartServiceCtrlDispatcherW itself failed: the thread ends at once

    std::mutex mutex;
    bool stopReported = false;
    SERVICE_STATUS_HANDLE statusHandle = nullptr;
    SERVICE_STATUS status{};
    ShutdownSignal *shutdown = nullptr; // cleared by reportStopped()

    void setStatusLocked(DWORD state, DWORD controlsAccepted)
    {
        status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
        status.dwCurrentState = state;
        status.dwControlsAccepted = controlsAccepted;
        const bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
        status.dwWaitHint = pending ? kPendingWaitHintMs : 0;
        status.dwCheckPoint = pending ? status.dwCheckPoint + 1 : 0;
        SetServiceStatus(statusHandle, &status);
    }
};

// One service per process: the SCM's service main function takes no context pointer.
SessionState *g_session = nullptr;

const char *controlName(DWORD control)
{
    return control == SERVICE_CONTROL_STOP ? "SERVICE_CONTROL_STOP" : "SERVICE_CONTROL_SHUTDOWN";
}

// Runs on the dispatcher thread.
DWORD WINAPI onServiceControl(DWORD control, DWORD, LPVOID, LPVOID context)
{
    auto *session = static_cast<SessionState *>(context);
    switch (control) {
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN: {
        const std::lock_guard lock(session->mutex);
        if (session->status.dwCurrentState != SERVICE_RUNNING)
            return NO_ERROR;
        session->setStatusLocked(SERVICE_STOP_PENDING, 0);
        if (session->shutdown)
            session->shutdown->post(QString::fromLatin1(controlName(control)));
        return NO_ERROR;
    }
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

// Runs on the dispatcher thread, called by the SCM; returns once reportStopped() was called.
void WINAPI serviceMain(DWORD, LPWSTR *)
{
    SessionState *session = g_session;
    {
        const std::lock_guard lock(session->mutex);
        session->statusHandle = RegisterServiceCtrlHandlerExW(session->name.c_str(), onServiceControl, session);
        if (!session->statusHandle)
            session->startError = GetLastError();
        else
            session->setStatusLocked(SERVICE_START_PENDING, 0);
    }
    SetEvent(session->registered);
    if (!session->statusHandle)
        return;
    // A pending state needs a moving checkpoint within its wait hint, or the SCM takes the service for hung: start-up
    // (storage recovery) and stopping (the last flush) may take longer than one hint.
    while (WaitForSingleObject(session->stopped, kCheckpointIntervalMs) == WAIT_TIMEOUT) {
        const std::lock_guard lock(session->mutex);
        const DWORD state = session->status.dwCurrentState;
        if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING)
            session->setStatusLocked(state, 0);
    }
}

} // namespace

struct ServiceSession::Impl : SessionState {};

ServiceSession::ServiceSession() : impl_(std::make_unique<Impl>()) {}

ServiceSession::~ServiceSession()
{
    if (!impl_->dispatcher.joinable())
        return;
    // statusHandle and dispatcherFailed were written before `registered` was set, which start() waited for.
    if (impl_->statusHandle || impl_->dispatcherFailed) {
        reportStopped(1); // no-op when the caller reported already, or when nothing registered
        impl_->dispatcher.join();
        CloseHandle(impl_->registered);
        CloseHandle(impl_->stopped);
        g_session = nullptr;
    } else {
        // Connected, but the handler did not register: the dispatcher returns only when the SCM gives up on the
        // start. Its state stays allocated (the process is ending anyway).
        impl_->dispatcher.detach();
        static_cast<void>(impl_.release());
    }
}

bool ServiceSession::start(const std::string &name, ShutdownSignal *shutdown, std::string *error)
{
    if (g_session) {
        *error = "a service session is already running in this process";
        return false;
    }
    g_session = impl_.get();
    impl_->name = wide(name);
    impl_->registered = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    impl_->stopped = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    impl_->dispatcher = std::thread([session = static_cast<SessionState *>(impl_.get())] {
        SERVICE_TABLE_ENTRYW table[] = {{session->name.data(), serviceMain}, {nullptr, nullptr}};
        // Blocks until the service reported SERVICE_STOPPED and serviceMain returned.
        if (!StartServiceCtrlDispatcherW(table)) {
            session->startError = GetLastError();
            session->dispatcherFailed = true;
            SetEvent(session->registered);
        }
    });
    WaitForSingleObject(impl_->registered, INFINITE);
    if (impl_->startError != NO_ERROR) {
        *error = impl_->startError == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
                     ? std::string("not started by the Service Control Manager (install the service with "
                                   "--install-service, then start it with `sc start ") +
                           name + "`; to run in a console, leave out --service)"
                     : lastErrorText("cannot connect to the Service Control Manager", impl_->startError);
        return false;
    }
    const std::lock_guard lock(impl_->mutex);
    impl_->shutdown = shutdown;
    return true;
}

void ServiceSession::reportRunning()
{
    const std::lock_guard lock(impl_->mutex);
    if (impl_->statusHandle && impl_->status.dwCurrentState == SERVICE_START_PENDING)
        impl_->setStatusLocked(SERVICE_RUNNING, SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN);
}

void ServiceSession::reportStopped(int exitCode)
{
    {
        const std::lock_guard lock(impl_->mutex);
        if (!impl_->statusHandle || impl_->stopReported)
            return;
        impl_->stopReported = true;
        impl_->shutdown = nullptr;
        impl_->status.dwWin32ExitCode = exitCode == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
        impl_->status.dwServiceSpecificExitCode = static_cast<DWORD>(exitCode);
        impl_->setStatusLocked(SERVICE_STOPPED, 0);
    }
    SetEvent(impl_->stopped);
}

#else // not Windows: the API exists so the app needs no #ifdef; nothing here can succeed.

namespace {
const char kNotSupported[] = "Windows services exist only on Windows";
}

bool windowsServicesSupported() { return false; }

bool installService(const ServiceDefinition &, std::string *error)
{
    *error = kNotSupported;
    return false;
}

UninstallResult uninstallService(const std::string &, int, std::string *, std::string *error)
{
    *error = kNotSupported;
    return UninstallResult::Failed;
}

struct ServiceSession::Impl {};

ServiceSession::ServiceSession() : impl_(std::make_unique<Impl>()) {}
ServiceSession::~ServiceSession() = default;

bool ServiceSession::start(const std::string &, ShutdownSignal *, std::string *error)
{
    *error = kNotSupported;
    return false;
}

void ServiceSession::reportRunning() {}
void ServiceSession::reportStopped(int) {}

#endif

} // namespace ferry::platform
