// Logging: sets up spdlog for the whole process. Every line carries time, level and the logger's name in brackets:
//   2025-01-31 12:00:00.123 info  [kernel] storage opened: plugin file, data/storage
//   2025-01-31 12:00:00.125 info  [file] recovered 3 queues
// The kernel logs through the logger named "kernel", which is spdlog's default logger (spdlog::info(...) works).
// PluginHost creates one logger per plugin, named after the plugin, over the default logger's sinks, so call
// setupLogging() BEFORE loading plugins.
//
// Contract:
//  - Sinks: the console (stderr; coloured when stderr is a terminal) and/or a size-rotating file. Both are thread-safe
//    sinks: any thread may log.
//  - Lines at warn and above are flushed at once; the rest at least every second and by flushLogs()/shutdownLogging().
//  - setupLogging() may be called again (e.g. console-only first, then with the configured file); it installs a new
//    "kernel" default logger over new sinks. Loggers created earlier keep the old sinks, so call it with the final
//    settings before plugins are loaded.
//  - Threading: setupLogging() and shutdownLogging() run on the main thread while no other thread logs.
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace ferry {

struct LogSettings {
    spdlog::level::level_enum level = spdlog::level::info; // log.level
    std::filesystem::path file;                            // log.file; empty: no log file
    uint64_t maxFileBytes = 10ull * 1024 * 1024;           // log.max_file_bytes: rotate when the file reaches this
    uint32_t maxFiles = 5;                                 // log.max_files: rotated files kept besides the current
    bool console = true;                                   // log.console: also log to stderr
};

// The line pattern used by every sink (spdlog pattern syntax).
inline constexpr const char *kLogPattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v";

// Installs the sinks and the "kernel" default logger. Creates the log file's parent directory. false with *error when
// the file cannot be created (the previous logging setup is then left in place).
bool setupLogging(const LogSettings &settings, std::string *error);

// The "kernel" logger (the spdlog default logger once setupLogging() ran).
std::shared_ptr<spdlog::logger> kernelLogger();

// Flushes every sink of the default logger (shared with plugin loggers).
void flushLogs();

// Flushes and drops all loggers. Call once at the end of main(); no logging afterwards.
void shutdownLogging();

} // namespace ferry
