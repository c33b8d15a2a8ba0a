#include "log/Logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <system_error>
#include <vector>

namespace ferry {

namespace {
constexpr const char *kKernelLoggerName = "kernel";
}

bool setupLogging(const LogSettings &settings, std::string *error)
{
    std::vector<spdlog::sink_ptr> sinks;
    if (settings.console) {
        // Colour only when stderr is a terminal (spdlog checks isatty / the Windows console).
        sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic));
    }
    if (!settings.file.empty()) {
        std::error_code ec;
        const std::filesystem::path parent = settings.file.parent_path();
        if (!parent.empty())
            std::filesystem::create_directories(parent, ec);
        if (ec) {
            if (error)
                *error = "cannot create log directory '" + parent.string() + "': " + ec.message();
            return false;
        }
        try {
            sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
                settings.file.string(), static_cast<size_t>(settings.maxFileBytes), settings.maxFiles));
        } catch (const spdlog::spdlog_ex &e) {
            if (error)
                *error = "cannot open log file '" + settings.file.string() + "': " + e.what();
            return false;
        }
    }

    auto logger = std::make_shared<spdlog::logger>(kKernelLoggerName, sinks.begin(), sinks.end());
    logger->set_pattern(kLogPattern); // sets the formatter on each sink, so plugin loggers over them share it
    logger->set_level(settings.level);
    logger->flush_on(spdlog::level::warn);

    spdlog::drop(kKernelLoggerName);
    spdlog::set_default_logger(logger); // also registers it under its name
    // Loggers registered later (plugin loggers, if PluginHost registers them) inherit these.
    spdlog::set_level(settings.level);
    spdlog::flush_on(spdlog::level::warn);
    spdlog::flush_every(std::chrono::seconds(1));
    return true;
}

std::shared_ptr<spdlog::logger> kernelLogger()
{
    if (auto logger = spdlog::get(kKernelLoggerName))
        return logger;
    return spdlog::default_logger();
}

void flushLogs()
{
    if (auto logger = spdlog::default_logger())
        logger->flush();
}

void shutdownLogging()
{
    flushLogs();
    spdlog::shutdown();
}

} // namespace ferry
