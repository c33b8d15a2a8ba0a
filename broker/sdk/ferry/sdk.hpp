// ferry/sdk.hpp -- header-only C++ helpers for writing Ferry plugins over the C ABI.
//
// Nothing here changes the ABI: it only makes the C contract easy to keep from C++.
//  - ferry::sdk::guard() runs a hook body and turns any escaping exception into FERRY_E_INTERNAL with text,
//    because no exception may cross the ABI (ferry_plugin.h). Wrap every exported function body in it.
//  - ferry::sdk::Error carries a ferry_status and a message out of deep code to the guard.
//  - write_error() fills a caller-supplied (err, err_cap) buffer the way the ABI requires.
//  - copy_struct<T>() reads a struct that may come from an older or newer peer: min(struct_size, sizeof) bytes
//    into a zeroed T.
#ifndef FERRY_SDK_HPP
#define FERRY_SDK_HPP

#include <ferry/ferry_plugin.h>

#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace ferry::sdk {

// Copies text into the caller's buffer, NUL-terminated and truncated to fit. err may be null when err_cap is 0.
inline void write_error(char *err, size_t err_cap, std::string_view text) noexcept
{
    if (err == nullptr || err_cap == 0)
        return;
    const size_t n = text.size() < err_cap - 1 ? text.size() : err_cap - 1;
    if (n > 0)
        std::memcpy(err, text.data(), n);
    err[n] = '\0';
}

// An error with a status code, thrown inside plugin code and converted by guard().
class Error : public std::exception {
public:
    Error(ferry_status status, std::string message) : status_(status), message_(std::move(message)) {}
    ferry_status status() const noexcept { return status_; }
    const char *what() const noexcept override { return message_.c_str(); }

private:
    ferry_status status_;
    std::string message_;
};

// Runs body() (returning ferry_status) and converts exceptions: Error keeps its status, std::bad_alloc becomes
// FERRY_E_NO_MEMORY, anything else FERRY_E_INTERNAL. The message goes to (err, err_cap).
template <typename Body>
ferry_status guard(char *err, size_t err_cap, Body &&body) noexcept
{
    try {
        return std::forward<Body>(body)();
    } catch (const Error &e) {
        write_error(err, err_cap, e.what());
        return e.status();
    } catch (const std::bad_alloc &) {
        write_error(err, err_cap, "out of memory");
        return FERRY_E_NO_MEMORY;
    } catch (const std::exception &e) {
        write_error(err, err_cap, std::string("internal error: ") + e.what());
        return FERRY_E_INTERNAL;
    } catch (...) {
        write_error(err, err_cap, "internal error: unknown exception");
        return FERRY_E_INTERNAL;
    }
}

// For hooks that return void: exceptions are swallowed after being reported through the host log (when given).
template <typename Body>
void guard_void(const ferry_host *host, Body &&body) noexcept
{
    char text[512];
    const ferry_status st = guard(text, sizeof text, [&]() -> ferry_status {
        std::forward<Body>(body)();
        return FERRY_OK;
    });
    if (st != FERRY_OK && host != nullptr && host->log != nullptr)
        host->log(host->ctx, FERRY_LOG_ERROR, text, std::strlen(text));
}

// Reads a versioned struct from the other side of the ABI into a zeroed T (T must start with struct_size).
template <typename T>
T copy_struct(const T *from) noexcept
{
    T out;
    std::memset(&out, 0, sizeof out);
    if (from != nullptr) {
        const size_t n = from->struct_size < sizeof(T) ? from->struct_size : sizeof(T);
        std::memcpy(static_cast<void *>(&out), from, n);
    }
    out.struct_size = sizeof(T);
    return out;
}

// Logs through the host with printf-style formatting.
inline void log(const ferry_host *host, int32_t level, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
inline void log(const ferry_host *host, int32_t level, const char *format, ...)
{
    if (host == nullptr || host->log == nullptr)
        return;
    char text[1024];
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (n > 0)
        host->log(host->ctx, level, text, static_cast<size_t>(n) < sizeof text ? static_cast<size_t>(n) : sizeof text - 1);
}

// Reads a config value through the host (value or declared default). Throws Error when undeclared.
inline std::string config(const ferry_host *host, const char *key)
{
    char buf[4096];
    size_t len = 0;
    const ferry_status st = host->config_get(host->ctx, key, buf, sizeof buf, &len);
    if (st == FERRY_E_TOO_LARGE)
        throw Error(FERRY_E_CONFIG, std::string("config value too long: ") + key);
    if (st != FERRY_OK)
        throw Error(FERRY_E_CONFIG, std::string("undeclared config key: ") + key);
    return std::string(buf, len);
}

// An event counter (ABI 1.8, ferry_host.counter) that /metrics exports as ferry_plugin_events_total{plugin, event}.
// On an older kernel, or with a bad name, it counts nothing. add() is one relaxed atomic add: fine on the hot path.
class Counter {
public:
    Counter() = default;
    Counter(const ferry_host *host, const char *name)
    {
        if (host != nullptr && host->struct_size >= offsetof(ferry_host, counter_add) + sizeof(void *) &&
            host->counter != nullptr && host->counter_add != nullptr) {
            counter_ = host->counter(host->ctx, name, std::strlen(name));
            add_ = host->counter_add;
        }
    }
    void add(uint64_t delta = 1) const
    {
        if (counter_ != nullptr)
            add_(counter_, delta);
    }

private:
    ferry_counter *counter_ = nullptr;
    void (*add_)(ferry_counter *, uint64_t) = nullptr;
};

} // namespace ferry::sdk

#endif // FERRY_SDK_HPP
