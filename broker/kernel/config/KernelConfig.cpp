#include "config/KernelConfig.h"

#include "auth/AuthRegistry.h"
#include "plugin/PluginHost.h"

#include <algorithm>
#include <limits>

namespace ferry {

namespace {

constexpr uint64_t kSecondMs = 1000;
constexpr uint64_t kHourMs = 3600 * kSecondMs;
constexpr uint64_t kDayMs = 24 * kHourMs;

struct KernelKey {
    const char *section;
    const char *name;
    const char *defaultValue;
    const char *description;
};

// The one list of kernel keys. packaging/ferry.conf and docs/configuration.md document the same keys and defaults;
// tests/broker/tst_config checks that ferry.conf matches this table.
const KernelKey kKernelKeys[] = {
    {"broker", "data_dir", "data",
     "directory for storage and logs; relative paths are relative to the working directory (--data-dir overrides)"},
    {"broker", "name", "broker-a", "replication group: brokers with the same name are one master and its slaves"},
    {"broker", "id", "0", "0: the group's master; 1 and up: a slave (must agree with replication.role)"},

    {"storage", "plugin", "file", "storage plugin to use: file, sqlite or any loaded storage plugin's name"},
    {"storage", "flush", "sync", "sync: a persistent message is on disk before it is confirmed; async: flushed every "
                                 "flush_interval_ms"},
    {"storage", "flush_interval_ms", "200", "async flush period (1ms to 60s)"},
    {"storage", "retention_hours", "72", "messages older than this are deleted (hours, or with a unit: 30m, 7d)"},
    {"storage", "retention_bytes", "0", "per-queue size above which the oldest messages are deleted; 0: unlimited"},
    {"storage", "maintain_interval_ms", "10000", "how often retention and compaction run (10ms to 24h)"},
    {"storage", "max_batch", "1024", "most operations written in one group commit (1 to 1048576)"},
    {"storage", "disk_free_limit", "50000000",
     "bytes of free disk space (where data_dir lives) below which the disk alarm blocks publishers; 0: no alarm"},

    {"network", "io_threads", "2", "event-loop threads serving connections (1 to 64)"},
    {"network", "max_frame_bytes", "16777216", "unconsumed input above which a connection is closed (4096 to 1 GiB)"},
    {"network", "max_pending_write_bytes", "8388608",
     "unsent output above which a connection is not read from (4096 to 4 GiB)"},
    {"network", "idle_timeout_ms", "0", "close a connection that sent nothing for this long; 0: never"},
    {"network", "colocate", "true",
     "move a connection to the event-loop thread that feeds it nearly all its deliveries (a consumer to its "
     "publisher's), while that thread is less than half busy (true or false)"},

    {"replication", "role", "ASYNC_MASTER",
     "ASYNC_MASTER: confirm once stored here, ship to slaves after; SYNC_MASTER: confirm once a slave has it too; "
     "SLAVE: read-only replica of replication.master"},
    {"replication", "listen", "0.0.0.0:10912", "replication listener (slaves and replication admin connect here); "
                                                "empty: off"},
    {"replication", "master", "",
     "SLAVE: the master's replication listener host:port; empty: learnt from the RocketMQ name server"},
    {"replication", "sync_timeout_ms", "3000",
     "SYNC_MASTER: how long a write waits for a slave before it fails with FLUSH_SLAVE_TIMEOUT (1ms to 10min)"},
    {"replication", "buffer_bytes", "67108864",
     "recent changes a master keeps in memory for slaves that fall behind or reconnect (1 MiB to 16 GiB)"},

    {"admin", "listen", "127.0.0.1:15680",
     "admin API (HTTP + JSON, docs/admin-api.md) and Prometheus /metrics; empty: off"},
    {"admin", "max_body_bytes", "16777216", "largest admin request body accepted (1 KiB to 1 GiB)"},
    {"admin", "tls_cert_file", "", "PEM certificate chain for admin.listen; with admin.tls_key_file the admin API "
                                   "is served over TLS only (HTTPS); empty: plain HTTP"},
    {"admin", "tls_key_file", "", "PEM private key (RSA or EC, unencrypted) for admin.tls_cert_file"},

    {"log", "level", "info", "trace, debug, info, warn or error"},
    {"log", "file", "${data_dir}/logs/ferry.log", "log file (rotated by size); empty: no log file"},
    {"log", "max_file_bytes", "10485760", "rotate the log file when it reaches this size (at least 1024)"},
    {"log", "max_files", "5", "rotated log files kept besides the current one (0 to 1000)"},
    {"log", "console", "true", "also log to stderr (true or false)"},

    {"auth", "vhosts", "/", "semicolon-separated virtual hosts created at start-up (kept in storage)"},
    {"auth", "users", "", "semicolon-separated name:password pairs created or updated at start-up (stored hashed)"},
    {"auth", "permissions", "",
     "semicolon-separated user@vhost=configure,write,read regular expressions (RabbitMQ's permission model)"},
    {"auth", "loopback_users", "guest", "comma-separated users that may log in only from a loopback address"},
    {"auth", "default_user", "guest",
     "user created with full permissions on / when storage holds no user yet (a fresh data dir); empty: none"},
    {"auth", "default_pass", "guest", "password of auth.default_user"},

    {"plugins", "dirs", "",
     "semicolon-separated plugin directories; empty: <exe dir>/../lib/ferry/plugins/v1 and the install libdir"},
    {"plugins", "disabled", "", "comma-separated plugin names whose config sections are not checked and whose "
                                "listeners stay closed"},
};

const char *const kKernelSections[] = {"broker", "storage", "network", "replication", "admin", "log", "auth",
                                       "plugins"};

const KernelKey &kernelKey(std::string_view section, std::string_view key)
{
    for (const KernelKey &k : kKernelKeys) {
        if (section == k.section && key == k.name)
            return k;
    }
    // Only reached by a typo inside this file; every caller below names a key from kKernelKeys.
    std::abort();
}

// The value to parse for a kernel key, with its name and origin for error messages.
ConfigValueRef kernelRef(const Config &config, std::string_view section, std::string_view key)
{
    ConfigValueRef ref;
    ref.name = std::string(section) + "." + std::string(key);
    if (const Config::Entry *entry = config.entry(section, key)) {
        ref.value = entry->value;
        ref.origin = entry->origin;
    } else {
        ref.value = kernelKey(section, key).defaultValue;
        ref.origin = "built-in default";
    }
    return ref;
}

// Collects errors while reading several values: each reader call either yields a value or records its error.
class Reader {
public:
    Reader(const Config &config, std::vector<std::string> *errors) : config_(config), errors_(errors) {}

    template <typename T>
    void unsignedValue(std::string_view section, std::string_view key, uint64_t min, uint64_t max, T *out)
    {
        std::string error;
        if (auto v = parseUnsigned(kernelRef(config_, section, key), min, max, &error))
            *out = static_cast<T>(*v);
        else
            fail(error);
    }

    template <typename T>
    void durationMs(std::string_view section, std::string_view key, uint64_t unitMs, uint64_t minMs, uint64_t maxMs,
                    T *out)
    {
        std::string error;
        if (auto v = parseDurationMs(kernelRef(config_, section, key), unitMs, minMs, maxMs, &error))
            *out = static_cast<T>(*v);
        else
            fail(error);
    }

    void boolValue(std::string_view section, std::string_view key, bool *out)
    {
        std::string error;
        if (auto v = parseBool(kernelRef(config_, section, key), &error))
            *out = *v;
        else
            fail(error);
    }

    std::optional<size_t> enumValue(std::string_view section, std::string_view key,
                                    const std::vector<std::string> &choices)
    {
        std::string error;
        auto v = parseEnum(kernelRef(config_, section, key), choices, &error);
        if (!v)
            fail(error);
        return v;
    }

    void fail(std::string error)
    {
        ok_ = false;
        if (errors_)
            errors_->push_back(std::move(error));
    }

    bool ok() const { return ok_; }

private:
    const Config &config_;
    std::vector<std::string> *errors_;
    bool ok_ = true;
};

bool isValidPluginName(std::string_view name)
{
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

} // namespace

ConfigSchema kernelConfigSchema()
{
    ConfigSchema schema;
    for (const char *section : kKernelSections) {
        std::vector<ConfigKeySpec> keys;
        for (const KernelKey &k : kKernelKeys) {
            if (std::string_view(k.section) == section)
                keys.push_back(ConfigKeySpec{k.name, k.defaultValue, k.description});
        }
        schema.declareSection(section, std::move(keys));
    }
    return schema;
}

bool isKernelSection(std::string_view section)
{
    return std::any_of(std::begin(kKernelSections), std::end(kKernelSections),
                       [&](const char *name) { return section == name; });
}

void declarePluginSections(ConfigSchema &schema, const PluginHost &host)
{
    for (const auto &plugin : host.plugins()) {
        std::vector<ConfigKeySpec> keys = plugin->configKeys;
        for (const ferry_listener_spec &listener : plugin->listeners) {
            if (!listener.config_key)
                continue;
            const std::string_view key = listener.config_key;
            const bool declared =
                std::any_of(keys.begin(), keys.end(), [&](const ConfigKeySpec &spec) { return spec.name == key; });
            if (!declared) {
                keys.push_back(ConfigKeySpec{std::string(key),
                                             listener.default_address ? listener.default_address : "",
                                             listener.description ? listener.description : ""});
            }
        }
        schema.declareSection(plugin->name, std::move(keys));
    }
}

std::string kernelValue(const Config &config, std::string_view section, std::string_view key)
{
    return kernelRef(config, section, key).value;
}

std::filesystem::path readDataDir(const Config &config)
{
    return std::filesystem::path(kernelValue(config, "broker", "data_dir"));
}

bool readPluginSettings(const Config &config, PluginSettings *out, std::vector<std::string> *errors)
{
    Reader reader(config, errors);
    PluginSettings settings;
    for (const std::string &dir : splitList(kernelValue(config, "plugins", "dirs"), ';'))
        settings.dirs.emplace_back(dir);
    const ConfigValueRef disabled = kernelRef(config, "plugins", "disabled");
    for (const std::string &name : splitList(disabled.value, ',')) {
        if (!isValidPluginName(name))
            reader.fail("config: plugins.disabled: '" + name + "' is not a plugin name (a-z, 0-9, '_', '-') (" +
                        disabled.origin + ")");
        else
            settings.disabled.push_back(name);
    }
    if (reader.ok() && out)
        *out = std::move(settings);
    return reader.ok();
}

bool readLogSettings(const Config &config, const std::filesystem::path &dataDir, LogSettings *out,
                     std::vector<std::string> *errors)
{
    Reader reader(config, errors);
    LogSettings settings;
    static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    static const spdlog::level::level_enum kLevelValues[] = {spdlog::level::trace, spdlog::level::debug,
                                                            spdlog::level::info, spdlog::level::warn,
                                                            spdlog::level::err};
    if (auto level = reader.enumValue("log", "level", kLevels))
        settings.level = kLevelValues[*level];

    std::string file = kernelValue(config, "log", "file");
    const std::string placeholder = kDataDirPlaceholder;
    for (size_t at = file.find(placeholder); at != std::string::npos; at = file.find(placeholder, at)) {
        const std::string replacement = dataDir.generic_string();
        file.replace(at, placeholder.size(), replacement);
        at += replacement.size();
    }
    settings.file = std::filesystem::path(file).lexically_normal();
    if (file.empty())
        settings.file.clear();

    reader.unsignedValue("log", "max_file_bytes", 1024, std::numeric_limits<uint64_t>::max(), &settings.maxFileBytes);
    reader.unsignedValue("log", "max_files", 0, 1000, &settings.maxFiles);
    reader.boolValue("log", "console", &settings.console);
    if (reader.ok() && out)
        *out = std::move(settings);
    return reader.ok();
}

bool readBrokerSettings(const Config &config, BrokerSettings *out, std::vector<std::string> *errors)
{
    Reader reader(config, errors);
    BrokerSettings settings;

    const ConfigValueRef dataDir = kernelRef(config, "broker", "data_dir");
    if (dataDir.value.empty())
        reader.fail("config: broker.data_dir: expected a directory, got '' (" + dataDir.origin + ")");
    settings.dataDir = dataDir.value;

    const ConfigValueRef storagePlugin = kernelRef(config, "storage", "plugin");
    if (!isValidPluginName(storagePlugin.value))
        reader.fail("config: storage.plugin: expected a plugin name (a-z, 0-9, '_', '-'), got '" +
                    storagePlugin.value + "' (" + storagePlugin.origin + ")");
    settings.storagePlugin = storagePlugin.value;

    if (auto flush = reader.enumValue("storage", "flush", {"sync", "async"}))
        settings.flush = *flush == 0 ? FlushMode::Sync : FlushMode::Async;
    reader.durationMs("storage", "flush_interval_ms", 1, 1, 60 * kSecondMs, &settings.flushIntervalMs);
    reader.durationMs("storage", "retention_hours", kHourMs, kSecondMs, 100 * 365 * kDayMs, &settings.retentionMs);
    reader.unsignedValue("storage", "retention_bytes", 0, std::numeric_limits<uint64_t>::max(),
                         &settings.retentionBytes);
    reader.durationMs("storage", "maintain_interval_ms", 1, 10, kDayMs, &settings.maintainIntervalMs);
    reader.unsignedValue("storage", "max_batch", 1, 1u << 20, &settings.maxBatch);
    reader.unsignedValue("storage", "disk_free_limit", 0, std::numeric_limits<uint64_t>::max(),
                         &settings.diskFreeLimit);

    reader.unsignedValue("network", "io_threads", 1, 64, &settings.network.ioThreads);
    reader.unsignedValue("network", "max_frame_bytes", 4096, 1ull << 30, &settings.network.maxFrameBytes);
    reader.unsignedValue("network", "max_pending_write_bytes", 4096, 1ull << 32,
                         &settings.network.maxPendingWriteBytes);
    reader.durationMs("network", "idle_timeout_ms", 1, 0, kDayMs, &settings.network.idleTimeoutMs);
    reader.boolValue("network", "colocate", &settings.network.colocate);

    ReplicationSettings &repl = settings.replication;
    repl.brokerName = kernelRef(config, "broker", "name").value;
    if (repl.brokerName.empty() || repl.brokerName.size() > 255)
        reader.fail("config: broker.name: expected 1 to 255 bytes, got '" + repl.brokerName + "'");
    reader.unsignedValue("broker", "id", 0, 1024, &repl.brokerId);
    if (auto role = reader.enumValue("replication", "role", {"ASYNC_MASTER", "SYNC_MASTER", "SLAVE"}))
        repl.role = static_cast<ReplicationRole>(*role + 1);
    repl.listen = kernelRef(config, "replication", "listen").value;
    repl.master = kernelRef(config, "replication", "master").value;
    reader.durationMs("replication", "sync_timeout_ms", 1, 1, 600 * kSecondMs, &repl.syncTimeoutMs);
    reader.unsignedValue("replication", "buffer_bytes", 1ull << 20, 16ull << 30, &repl.bufferBytes);
    if (reader.ok() && (repl.role == ReplicationRole::Slave) != (repl.brokerId != 0))
        reader.fail(std::string("config: broker.id ") + std::to_string(repl.brokerId) + " does not fit replication.role " +
                    replicationRoleName(repl.role) + ": the master of a group has broker.id 0, a slave 1 or more");

    settings.admin.listen = kernelRef(config, "admin", "listen").value;
    reader.unsignedValue("admin", "max_body_bytes", 1024, 1ull << 30, &settings.admin.maxBodyBytes);
    settings.admin.tlsCertFile = kernelRef(config, "admin", "tls_cert_file").value;
    settings.admin.tlsKeyFile = kernelRef(config, "admin", "tls_key_file").value;
    if (settings.admin.tlsCertFile.empty() != settings.admin.tlsKeyFile.empty())
        reader.fail("config: admin.tls_cert_file and admin.tls_key_file go together: set both for TLS, or neither");

    settings.auth.vhosts = kernelRef(config, "auth", "vhosts").value;
    settings.auth.users = kernelRef(config, "auth", "users").value;
    settings.auth.permissions = kernelRef(config, "auth", "permissions").value;
    settings.auth.loopbackUsers = kernelRef(config, "auth", "loopback_users").value;
    settings.auth.defaultUser = kernelRef(config, "auth", "default_user").value;
    settings.auth.defaultPass = kernelRef(config, "auth", "default_pass").value;
    std::vector<std::string> authErrors;
    if (!AuthRegistry::validate(settings.auth, &authErrors))
        for (std::string &e : authErrors)
            reader.fail(std::move(e));

    if (reader.ok() && out)
        *out = std::move(settings);
    return reader.ok();
}

bool checkKernelSections(const Config &config, std::vector<std::string> *errors)
{
    std::vector<std::string> nonKernel;
    for (const std::string &section : config.sections()) {
        if (!isKernelSection(section))
            nonKernel.push_back(section);
    }
    std::vector<std::string> found = validateConfig(config, kernelConfigSchema(), nonKernel);
    // Parse every kernel value once, so a bad value is reported before anything starts.
    readPluginSettings(config, nullptr, &found);
    readLogSettings(config, readDataDir(config), nullptr, &found);
    readBrokerSettings(config, nullptr, &found);
    const bool ok = found.empty();
    if (errors)
        errors->insert(errors->end(), found.begin(), found.end());
    return ok;
}

bool checkPluginSections(const Config &config, const PluginHost &host, const PluginSettings &plugins,
                         std::vector<std::string> *errors)
{
    ConfigSchema schema = kernelConfigSchema();
    declarePluginSections(schema, host);
    std::vector<std::string> found = validateConfig(config, schema, plugins.disabled);

    const ConfigValueRef storage = kernelRef(config, "storage", "plugin");
    const LoadedPlugin *plugin = host.find(storage.value);
    const bool disabled =
        std::find(plugins.disabled.begin(), plugins.disabled.end(), storage.value) != plugins.disabled.end();
    if (!plugin || plugin->kind != FERRY_PLUGIN_KIND_STORAGE || disabled) {
        std::string loaded;
        for (const auto &p : host.plugins()) {
            const bool pDisabled =
                std::find(plugins.disabled.begin(), plugins.disabled.end(), p->name) != plugins.disabled.end();
            if (p->kind == FERRY_PLUGIN_KIND_STORAGE && !pDisabled)
                loaded += (loaded.empty() ? "" : ", ") + p->name;
        }
        const std::string why = disabled ? "is listed in plugins.disabled"
                                : plugin ? "is not a storage plugin"
                                         : "is not loaded";
        found.push_back("config: storage.plugin: '" + storage.value + "' " + why + " (" + storage.origin +
                        "); storage plugins loaded: " + (loaded.empty() ? std::string("none") : loaded));
    }
    const bool ok = found.empty();
    if (errors)
        errors->insert(errors->end(), found.begin(), found.end());
    return ok;
}

} // namespace ferry
