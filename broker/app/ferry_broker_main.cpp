// ferry-broker: the daemon. Reads the config, sets up logging, loads plugins, starts the Broker and runs the Qt event
// loop until SIGTERM/SIGINT (Ctrl+C, console close on Windows; under the Windows Service Control Manager with
// --service, its stop and shutdown controls). See README.md for the options and the start-up order.
//
// Output contract (scripts and tests rely on it): after a successful start, stdout carries one line per open listener
//   listening <plugin>.<key> <host>:<port>
// followed by one line `ready`. Errors go to stderr (and to the log once logging is set up). Exit codes: 0 after a
// clean stop or a successful one-shot command, 1 for a config or start-up error, 2 for a command-line usage error,
// 3 when a slave stopped because its data diverges from its master's (see --reconcile), 4 when a promoted slave
// running as a Windows service stopped so that the Service Control Manager starts it again (its recovery action).
// Otherwise a promoted slave restarts in place (same PID on POSIX) and prints its listening lines and `ready` again,
// with the same addresses.

#include "broker/Broker.h"
#include "config/KernelConfig.h"
#include "log/Logging.h"
#include "platform/ShutdownSignal.h"
#include "plugin/PluginHost.h"
#include "platform/ProcessRestart.h"
#include "platform/WindowsService.h"
#include "repl/ReplicationOverride.h"
#include "ReplicationAdmin.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QString>
#include <QStringList>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace ferry;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDiverged = 3; // a slave whose data diverges from its master's (see --reconcile)
constexpr int kExitServiceRestart = 4; // a promoted Windows service: the SCM's recovery action starts it again
constexpr int kLoopRestart = 75; // the event loop's code for "restart in place" (a promotion); never an exit code

// The Windows service: its key name and display name are the ones the installers and docs use.
constexpr char kServiceName[] = "ferry-broker";
constexpr char kServiceDisplayName[] = "Ferry message broker";
constexpr int kServiceStopTimeoutMs = 60000;

std::filesystem::path toPath(const QString &text)
{
    return std::filesystem::path(text.toStdU16String());
}

QString fromPath(const std::filesystem::path &path)
{
    return QString::fromStdU16String(path.u16string());
}

void printOut(const std::string &line)
{
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void printErr(const std::string &line)
{
    std::fputs(("ferry-broker: " + line + "\n").c_str(), stderr);
    std::fflush(stderr);
}

std::string versionLine()
{
    return std::string("ferry-broker ") + FERRY_VERSION + " (plugin ABI " + std::to_string(FERRY_ABI_MAJOR) + "." +
           std::to_string(FERRY_ABI_MINOR) + ")";
}

const char *kindName(int32_t kind)
{
    switch (kind) {
    case FERRY_PLUGIN_KIND_PROTOCOL: return "protocol";
    case FERRY_PLUGIN_KIND_STORAGE: return "storage";
    default: return "unknown";
    }
}

bool contains(const std::vector<std::string> &names, std::string_view name)
{
    return std::find(names.begin(), names.end(), name) != names.end();
}

struct Options {
    std::optional<std::filesystem::path> configFile; // --config, else FERRY_CONFIG, else none (built-in defaults)
    std::vector<std::string> overrides;              // --set, in order
    std::optional<std::filesystem::path> dataDir;    // --data-dir
    bool version = false;
    bool listPlugins = false;
    bool checkConfig = false;
    bool replicationStatus = false;    // --replication-status
    std::string replicationAddress;    // --replication-address
    bool reconcile = false;            // --reconcile
    bool promote = false;              // --promote
    std::string role = "ASYNC_MASTER"; // --role
    std::vector<std::string> repoint;  // --repoint
    bool force = false;                // --force
    std::string follow;                // --follow
    std::string adminUser = "guest";   // --admin-user
    std::string adminPassword = "guest"; // --admin-password
    bool service = false;              // --service (Windows)
    bool installService = false;       // --install-service (Windows)
    bool uninstallService = false;     // --uninstall-service (Windows)
};

// Parses the command line. Returns an exit code when the program should stop here (help, usage error).
std::optional<int> parseCommandLine(const QStringList &arguments, Options *options)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Ferry message broker. Prints 'listening <plugin>.<key> <host:port>' per listener and 'ready' on stdout once "
        "started; stops cleanly on SIGTERM/SIGINT.");
    // Every option --help lists is one the broker acts on (the man page is generated from this text). Hence not
    // addHelpOption(): its --help-all would be accepted and ignored, and the broker would start.
    const QCommandLineOption helpOption({"h", "help"}, "Print this help, then exit.");
    const QCommandLineOption configOption(
        "config", "Read the config from <file> (default: $FERRY_CONFIG, else built-in defaults).", "file");
    const QCommandLineOption setOption(
        "set", "Override one config value, e.g. --set storage.flush=async (repeatable; wins over the file).",
        "section.key=value");
    const QCommandLineOption dataDirOption("data-dir", "Data directory (overrides broker.data_dir).", "dir");
    const QCommandLineOption versionOption("version", "Print the version and the plugin ABI version, then exit.");
    const QCommandLineOption listPluginsOption(
        "list-plugins", "Load the plugins, print what loaded (and what was refused) with their config keys, exit.");
    const QCommandLineOption checkConfigOption(
        "check-config", "Load the config and the plugins, validate everything, print 'config ok' or the errors, exit.");
    const QCommandLineOption replicationStatusOption(
        "replication-status", "Ask a running broker for its replication state (role, members, offsets, lag) and print "
                              "it as JSON, then exit. The broker is the one at --replication-address, else the "
                              "config's replication.listen.");
    const QCommandLineOption replicationAddressOption(
        "replication-address", "host:port of the replication listener --replication-status, --promote and --follow "
                               "talk to (default: the config's replication.listen).", "host:port");
    const QCommandLineOption reconcileOption(
        "reconcile", "SLAVE: when this broker's data diverges from its master's (an old master rejoining), drop the "
                     "diverging queues and copy the master's instead of refusing to start.");
    const QCommandLineOption promoteOption(
        "promote", "Manual fail-over: make the running slave at --replication-address its group's master (it records "
                   "the change in its data dir and restarts in place), then make every --repoint slave follow it. "
                   "Prints a JSON summary, then exits.");
    const QCommandLineOption roleOption("role", "--promote: the new master's role (default ASYNC_MASTER).",
                                        "SYNC_MASTER|ASYNC_MASTER", "ASYNC_MASTER");
    const QCommandLineOption repointOption(
        "repoint", "--promote: the group's other slaves (their replication listeners), comma-separated.",
        "host:port[,host:port...]");
    const QCommandLineOption forceOption(
        "force", "--promote: go on although the master looks alive or another slave applied more of its changes.");
    const QCommandLineOption followOption(
        "follow", "Make the running slave at --replication-address follow the master at <host:port>, then exit.",
        "host:port");
    const QCommandLineOption adminUserOption("admin-user", "--promote, --follow: a user tagged administrator "
                                                           "(default guest, which works from the broker's host only).",
                                             "name", "guest");
    const QCommandLineOption adminPasswordOption("admin-password", "--promote, --follow: its password.", "password",
                                                 "guest");
    const QCommandLineOption serviceOption(
        "service", "Windows only: run as the Windows service ferry-broker, under the Service Control Manager (the "
                   "command line --install-service registers); stops cleanly on the service's stop and shutdown "
                   "controls.");
    const QCommandLineOption installServiceOption(
        "install-service", "Windows only, as administrator: register the service ferry-broker (\"Ferry message "
                           "broker\", automatic start) to run this program with --service, --config (default: "
                           "etc/ferry/ferry.conf in the install directory), --data-dir (default: %ProgramData%/Ferry) "
                           "and any --set given here, then exit. Does not start it.");
    const QCommandLineOption uninstallServiceOption(
        "uninstall-service", "Windows only, as administrator: stop the service ferry-broker if it runs, remove it, "
                             "exit. Data, config and logs stay.");
    parser.addOptions({helpOption, configOption, setOption, dataDirOption, versionOption, listPluginsOption, checkConfigOption,
                       replicationStatusOption, replicationAddressOption, reconcileOption, promoteOption, roleOption,
                       repointOption, forceOption, followOption, adminUserOption, adminPasswordOption, serviceOption,
                       installServiceOption, uninstallServiceOption});

    if (!parser.parse(arguments)) {
        printErr(parser.errorText().toStdString() + " (see --help)");
        return kExitUsage;
    }
    if (parser.isSet(helpOption)) {
        printOut(parser.helpText().toStdString());
        return kExitOk;
    }
    for (const QCommandLineOption *windowsOnly : {&serviceOption, &installServiceOption, &uninstallServiceOption}) {
        if (parser.isSet(*windowsOnly) && !platform::windowsServicesSupported()) {
            printErr("--" + windowsOnly->names().front().toStdString() +
                     ": Windows services exist only on Windows; on this system run ferry-broker under its service "
                     "manager (systemd: ferry-broker.service)");
            return kExitUsage;
        }
    }
    if (!parser.positionalArguments().isEmpty()) {
        printErr("unexpected argument '" + parser.positionalArguments().front().toStdString() + "' (see --help)");
        return kExitUsage;
    }
    if (parser.isSet(configOption)) {
        options->configFile = toPath(parser.value(configOption));
    } else if (const QString fromEnv = qEnvironmentVariable("FERRY_CONFIG"); !fromEnv.isEmpty()) {
        options->configFile = toPath(fromEnv);
    }
    for (const QString &assignment : parser.values(setOption))
        options->overrides.push_back(assignment.toStdString());
    if (parser.isSet(dataDirOption))
        options->dataDir = toPath(parser.value(dataDirOption));
    options->version = parser.isSet(versionOption);
    options->listPlugins = parser.isSet(listPluginsOption);
    options->checkConfig = parser.isSet(checkConfigOption);
    options->replicationStatus = parser.isSet(replicationStatusOption);
    options->replicationAddress = parser.value(replicationAddressOption).toStdString();
    options->reconcile = parser.isSet(reconcileOption);
    options->promote = parser.isSet(promoteOption);
    options->role = parser.value(roleOption).toStdString();
    for (const QString &address : parser.value(repointOption).split(QLatin1Char(','), Qt::SkipEmptyParts))
        options->repoint.push_back(address.trimmed().toStdString());
    options->force = parser.isSet(forceOption);
    options->follow = parser.value(followOption).toStdString();
    options->adminUser = parser.value(adminUserOption).toStdString();
    options->adminPassword = parser.value(adminPasswordOption).toStdString();
    if (options->promote && options->role != "SYNC_MASTER" && options->role != "ASYNC_MASTER") {
        printErr("--role must be SYNC_MASTER or ASYNC_MASTER, not '" + options->role + "'");
        return kExitUsage;
    }
    if (options->promote + options->replicationStatus + !options->follow.empty() > 1) {
        printErr("--replication-status, --promote and --follow are separate commands: give one");
        return kExitUsage;
    }
    options->service = parser.isSet(serviceOption);
    options->installService = parser.isSet(installServiceOption);
    options->uninstallService = parser.isSet(uninstallServiceOption);
    const int serviceCommands = options->service + options->installService + options->uninstallService;
    const int oneShotCommands = options->version + options->listPlugins + options->checkConfig +
                                options->replicationStatus + options->promote + !options->follow.empty();
    if (serviceCommands > 1 || (serviceCommands == 1 && oneShotCommands > 0)) {
        printErr("--service, --install-service and --uninstall-service are separate commands: give one, without "
                 "--version, --list-plugins, --check-config, --replication-status, --promote or --follow");
        return kExitUsage;
    }
    return std::nullopt;
}

// Builds the config: built-in defaults < file < --set (in order) < --data-dir. Kernel sections are checked here.
bool loadConfig(const Options &options, Config *config)
{
    std::string error;
    if (options.configFile && !config->loadFile(*options.configFile, &error)) {
        printErr(error);
        return false;
    }
    for (const std::string &assignment : options.overrides) {
        if (!config->applyOverride(assignment, &error)) {
            printErr(error);
            return false;
        }
    }
    if (options.dataDir)
        config->set("broker", "data_dir", options.dataDir->string(), "--data-dir");
    // A promotion or a re-pointing recorded in the data dir wins over the file and --set.
    const std::filesystem::path overrideFile = repl::replicationOverridePath(readDataDir(*config));
    std::error_code ec;
    if (std::filesystem::exists(overrideFile, ec) && !config->loadFile(overrideFile, &error)) {
        printErr(error);
        return false;
    }

    std::vector<std::string> errors;
    if (!checkKernelSections(*config, &errors)) {
        for (const std::string &e : errors)
            printErr(e);
        return false;
    }
    return true;
}

// The ConfigLookup PluginHost uses for ferry_host.config_get (and the Broker for listener addresses).
// A disabled plugin sees only its declared defaults, and its listener keys read as empty (listener off).
PluginHost::ConfigLookup makeConfigLookup(const Config &config, const PluginSettings &pluginSettings,
                                          const PluginHost *const *host)
{
    return [&config, &pluginSettings, host](std::string_view section,
                                            std::string_view key) -> std::optional<std::string> {
        if (contains(pluginSettings.disabled, section)) {
            const LoadedPlugin *plugin = *host ? (*host)->find(section) : nullptr;
            if (plugin) {
                for (const ferry_listener_spec &listener : plugin->listeners) {
                    if (listener.config_key && key == listener.config_key)
                        return std::string();
                }
            }
            return std::nullopt;
        }
        return config.value(section, key);
    };
}

std::vector<std::filesystem::path> pluginDirectories(const PluginSettings &settings)
{
    return settings.dirs.empty() ? PluginHost::defaultDirectories() : settings.dirs;
}

void printPluginTable(const PluginHost &host, const PluginSettings &pluginSettings)
{
    // NAME KIND VERSION ABI FILE, and NOTE ("disabled") when plugins.disabled names a loaded plugin.
    const bool anyDisabled = std::any_of(host.plugins().begin(), host.plugins().end(), [&](const auto &plugin) {
        return contains(pluginSettings.disabled, plugin->name);
    });
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"NAME", "KIND", "VERSION", "ABI", "FILE"});
    for (const auto &plugin : host.plugins()) {
        rows.push_back({plugin->name, kindName(plugin->kind), plugin->version,
                        std::to_string(plugin->abiMajor) + "." + std::to_string(plugin->abiMinor),
                        plugin->file.string()});
        if (anyDisabled)
            rows.back().push_back(contains(pluginSettings.disabled, plugin->name) ? "disabled" : "");
    }
    if (anyDisabled)
        rows.front().push_back("NOTE");
    std::vector<size_t> widths(rows.front().size(), 0);
    for (const auto &row : rows) {
        for (size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    }
    for (const auto &row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size())
                line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        printOut(line);
    }
    if (host.plugins().empty())
        printOut("(no plugins loaded)");

    if (!host.refusals().empty()) {
        printOut("");
        printOut("refused:");
        for (const PluginRefusal &refusal : host.refusals())
            printOut("  " + refusal.file.string() + ": " + refusal.reason);
    }

    // Each plugin's config section, ready to paste into a config file.
    ConfigSchema schema;
    declarePluginSections(schema, host);
    for (const auto &plugin : host.plugins()) {
        const std::vector<ConfigKeySpec> *keys = schema.section(plugin->name);
        printOut("");
        printOut("[" + plugin->name + "]" + (plugin->description.empty() ? "" : "  # " + plugin->description));
        if (!keys || keys->empty()) {
            printOut("# (no config keys)");
            continue;
        }
        for (const ConfigKeySpec &spec : *keys) {
            const bool isListener = std::any_of(plugin->listeners.begin(), plugin->listeners.end(),
                                                [&](const ferry_listener_spec &l) {
                                                    return l.config_key && spec.name == l.config_key;
                                                });
            std::string comment = isListener ? "listener (host:port; empty: off)" : "";
            if (!spec.description.empty())
                comment += (comment.empty() ? "" : ": ") + spec.description;
            printOut(spec.name + " = " + spec.defaultValue + (comment.empty() ? "" : "  # " + comment));
        }
    }
}

// One error line: through the logger when it writes to the console (so stderr gets it once), else straight to
// stderr and to the log file.
void reportError(const LogSettings &logSettings, const std::string &message)
{
    kernelLogger()->error(message);
    if (!logSettings.console)
        printErr(message);
    flushLogs();
}

// --install-service: the service runs this executable with absolute paths, since a service starts in the system
// directory. Only reached on Windows (parseCommandLine refuses the flag elsewhere).
int installWindowsService(const Options &options)
{
    const QString installDir = QDir(QCoreApplication::applicationDirPath() + QStringLiteral("/..")).absolutePath();
    const QString configFile = QFileInfo(options.configFile ? fromPath(*options.configFile)
                                                            : installDir + QStringLiteral("/" FERRY_INSTALL_SYSCONFDIR
                                                                                          "/ferry/ferry.conf"))
                                   .absoluteFilePath();
    if (!QFileInfo::exists(configFile)) {
        printErr("--install-service: no config file '" + QDir::toNativeSeparators(configFile).toStdString() +
                 "'; pass --config FILE");
        return kExitError;
    }
    const QString programData = qEnvironmentVariable("ProgramData", QStringLiteral("C:/ProgramData"));
    const QString dataDir =
        QDir(options.dataDir ? fromPath(*options.dataDir) : programData + QStringLiteral("/Ferry")).absolutePath();

    platform::ServiceDefinition service;
    service.name = kServiceName;
    service.displayName = kServiceDisplayName;
    service.description = "Ferry message broker (RocketMQ and AMQP 0-9-1). Config: " +
                          QDir::toNativeSeparators(configFile).toStdString() +
                          "; data and logs: " + QDir::toNativeSeparators(dataDir).toStdString();
    service.program = QDir::toNativeSeparators(QCoreApplication::applicationFilePath()).toStdString();
    service.arguments = {"--service", "--config", QDir::toNativeSeparators(configFile).toStdString(), "--data-dir",
                         QDir::toNativeSeparators(dataDir).toStdString()};
    for (const std::string &assignment : options.overrides) {
        service.arguments.push_back("--set");
        service.arguments.push_back(assignment);
    }
    std::string error;
    if (!platform::installService(service, &error)) {
        printErr("--install-service: " + error);
        return kExitError;
    }
    printOut(std::string("installed service ") + kServiceName + ": " +
             platform::windowsCommandLine(service.program, service.arguments));
    return kExitOk;
}

int uninstallWindowsService()
{
    std::string note, error;
    switch (platform::uninstallService(kServiceName, kServiceStopTimeoutMs, &note, &error)) {
    case platform::UninstallResult::Removed:
        printOut(std::string("removed service ") + kServiceName + (note.empty() ? "" : " (" + note + ")"));
        return kExitOk;
    case platform::UninstallResult::NotInstalled:
        printOut(std::string("service ") + kServiceName + " is not installed");
        return kExitOk;
    case platform::UninstallResult::Failed:
        break;
    }
    printErr("--uninstall-service: " + error);
    return kExitError;
}

// `service` is set when the process runs under the Windows Service Control Manager (--service): then the SCM's
// controls, not the console handler, request the stop.
int run(const Options &options, ShutdownSignal &shutdownSignal, platform::ServiceSession *service)
{
    Config config;
    if (!loadConfig(options, &config))
        return kExitError;
    const std::string configSource = options.configFile ? options.configFile->string() : "built-in defaults";

    if (options.replicationStatus || options.promote || !options.follow.empty()) {
        const std::string command =
            options.replicationStatus ? "--replication-status" : options.promote ? "--promote" : "--follow";
        std::string address = options.replicationAddress;
        if (address.empty()) {
            address = kernelValue(config, "replication", "listen");
            if (address.rfind("0.0.0.0:", 0) == 0)
                address = "127.0.0.1:" + address.substr(8);
        }
        if (address.empty()) {
            printErr(command + ": replication.listen is empty; pass --replication-address host:port");
            return kExitUsage;
        }
        std::string reply, error;
        bool ok = false;
        if (options.promote) {
            app::PromoteOptions promote;
            promote.target = address;
            promote.role = options.role;
            promote.repoint = options.repoint;
            promote.force = options.force;
            promote.user = options.adminUser;
            promote.password = options.adminPassword;
            ok = app::promoteSlave(promote, &reply, &error);
        } else if (options.replicationStatus) {
            ok = app::replicationRequest(address, {"status", {}, {}, {}}, &reply, &error);
        } else {
            ok = app::replicationRequest(address, {"follow", options.follow, options.adminUser, options.adminPassword},
                                         &reply, &error);
        }
        if (!ok) {
            printErr(command + ": " + error);
            return kExitError;
        }
        printOut(reply);
        return kExitOk;
    }

    PluginSettings pluginSettings;
    LogSettings logSettings;
    const std::filesystem::path dataDir = readDataDir(config);
    // Both succeed: checkKernelSections() parsed every kernel value already.
    readPluginSettings(config, &pluginSettings, nullptr);
    readLogSettings(config, dataDir, &logSettings, nullptr);

    const bool oneShot = options.listPlugins || options.checkConfig;
    // Installed early so a SIGTERM during start-up (e.g. a long storage recovery) still ends in a clean stop: it is
    // handled once the event loop runs, right after start(). A service has no console: the SCM's controls reach
    // shutdownSignal through `service` instead.
    std::string error;
    if (!oneShot && !service && !shutdownSignal.install(&error)) {
        printErr("cannot install the shutdown signal handler: " + error);
        return kExitError;
    }
    if (oneShot) {
        // One-shot commands write nothing to disk: console logging only, warnings and errors (plugin refusals).
        logSettings.file.clear();
        logSettings.console = true;
        logSettings.level = std::max(logSettings.level, spdlog::level::warn);
    } else {
        // Nobody reads a service's console: the log file is the log (unless log.file turns it off).
        if (service && !logSettings.file.empty())
            logSettings.console = false;
        std::error_code ec;
        std::filesystem::create_directories(dataDir, ec);
        if (ec) {
            printErr("cannot create data directory '" + dataDir.string() + "': " + ec.message());
            return kExitError;
        }
    }
    if (!setupLogging(logSettings, &error)) {
        printErr(error);
        return kExitError;
    }
    auto log = kernelLogger();
    if (!oneShot) {
        std::error_code ec;
        const std::filesystem::path absoluteDataDir = std::filesystem::absolute(dataDir, ec);
        log->info("{} starting; config: {}; data dir: {}; log file: {}", versionLine(), configSource,
                  (ec ? dataDir : absoluteDataDir).string(),
                  logSettings.file.empty() ? std::string("none") : logSettings.file.string());
    }

    // Plugins: their loggers take the sinks installed above.
    const PluginHost *hostForLookup = nullptr;
    PluginHost host(makeConfigLookup(config, pluginSettings, &hostForLookup));
    hostForLookup = &host;
    const std::vector<std::filesystem::path> dirs = pluginDirectories(pluginSettings);
    host.loadDirectories(dirs);
    for (const std::string &name : pluginSettings.disabled) {
        if (!host.find(name))
            log->warn("plugins.disabled names '{}', which is not loaded", name);
    }
    if (!oneShot) {
        std::string names;
        for (const auto &plugin : host.plugins()) {
            names += (names.empty() ? "" : ", ") + plugin->name + " " + plugin->version +
                     (contains(pluginSettings.disabled, plugin->name) ? " (disabled)" : "");
        }
        log->info("plugins loaded: {}", names.empty() ? std::string("none") : names);
    }

    if (options.listPlugins) {
        printPluginTable(host, pluginSettings);
        shutdownLogging();
        return kExitOk;
    }

    std::vector<std::string> errors;
    BrokerSettings settings;
    if (!checkPluginSections(config, host, pluginSettings, &errors) ||
        !readBrokerSettings(config, &settings, &errors)) {
        for (const std::string &e : errors)
            reportError(logSettings, e);
        shutdownLogging();
        return kExitError;
    }
    if (options.checkConfig) {
        printOut("config ok");
        shutdownLogging();
        return kExitOk;
    }

    QObject::connect(&shutdownSignal, &ShutdownSignal::requested, [log](const QString &name) {
        log->info("{} received, stopping", name.toStdString());
    });

    if (const Config::Entry *role = config.entry("replication", "role");
        role && role->origin.find(repl::replicationOverridePath(dataDir).filename().string()) != std::string::npos)
        log->warn("replication.role {} comes from {} (a promotion or a re-pointing); delete that file to use the "
                  "config file's replication settings",
                  role->value, role->origin);

    int exitCode = kExitOk;
    bool restart = false;
    std::vector<std::pair<std::string, std::string>> boundAddresses;
    {
        settings.replication.reconcile = options.reconcile;
        Broker broker(settings, host);
        // A diverged replica must not serve: stop with its own exit code.
        broker.setFatalHandler([](const std::string &why) {
            printErr("stopping: " + why);
            QMetaObject::invokeMethod(QCoreApplication::instance(), [] { QCoreApplication::exit(kExitDiverged); },
                                      Qt::QueuedConnection);
        });
        // A promoted slave starts over as a master (its new settings are in the override file).
        broker.setRestartHandler([](const std::string &) {
            QMetaObject::invokeMethod(QCoreApplication::instance(), [] { QCoreApplication::exit(kLoopRestart); },
                                      Qt::QueuedConnection);
        });
        if (!broker.start(&error)) {
            reportError(logSettings, "cannot start: " + error);
            broker.stop();
            exitCode = kExitError;
        } else {
            // Broker::start() logs each listener; stdout gets the machine-readable lines.
            for (const auto &[configKey, address] : broker.boundAddresses())
                printOut("listening " + configKey + " " + address);
            log->info("ready");
            printOut("ready");
            flushLogs();
            if (service)
                service->reportRunning();

            exitCode = QCoreApplication::exec();

            boundAddresses = broker.boundAddresses();
            broker.stop();
            restart = exitCode == kLoopRestart;
            log->info(restart ? "stopped; restarting with the promoted role" : "stopped");
            if (restart)
                exitCode = kExitOk;
        }
    }
    shutdownSignal.notifyStopped();
    if (restart && service) {
        // A service cannot replace its own process: it stops with a failure code, and the recovery action
        // installService() set starts it again, with the promoted role from the override file.
        kernelLogger()->info("the Service Control Manager starts the service again (recovery action)");
        shutdownLogging();
        return kExitServiceRestart;
    }
    shutdownLogging();
    if (restart) {
        // The same command line, with every listener pinned to the address it had (port 0 would pick a new one).
        std::vector<std::string> arguments;
        const QStringList original = QCoreApplication::arguments();
        for (qsizetype i = 1; i < original.size(); ++i)
            arguments.push_back(original[i].toStdString());
        for (const auto &[key, address] : boundAddresses) {
            arguments.push_back("--set");
            arguments.push_back(key + "=" + address);
        }
        if (!platform::restartProcess(QCoreApplication::applicationFilePath().toStdString(), arguments, &error)) {
            printErr(error);
            return kExitError;
        }
    }
    return exitCode;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("ferry-broker"));
    QCoreApplication::setApplicationVersion(QStringLiteral(FERRY_VERSION));

    Options options;
    if (const std::optional<int> exitCode = parseCommandLine(QCoreApplication::arguments(), &options))
        return *exitCode;
    if (options.version) {
        printOut(versionLine());
        return kExitOk;
    }
    if (options.installService)
        return installWindowsService(options);
    if (options.uninstallService)
        return uninstallWindowsService();

    ShutdownSignal shutdownSignal;
    if (!options.service)
        return run(options, shutdownSignal, nullptr);
    // First thing: the SCM waits at most 30 s for the dispatcher. Every outcome after that, a config error
    // included, ends as the service's stop status; the messages are in the log file or, before logging is set up,
    // only on a console run of the same command line without --service.
    platform::ServiceSession session;
    std::string error;
    if (!session.start(kServiceName, &shutdownSignal, &error)) {
        printErr("--service: " + error);
        return kExitUsage;
    }
    const int exitCode = run(options, shutdownSignal, &session);
    session.reportStopped(exitCode);
    return exitCode;
}
