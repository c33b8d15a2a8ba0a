// PluginHost: finds, loads and validates plugins through the stable C ABI (Boost.DLL is only the loader).
//
// Contract:
//  - Plugins are never unloaded: a loaded library stays mapped until the process exits, so descriptors, vtables and
//    static strings handed out by plugins stay valid.
//  - A plugin that cannot be used is refused with exactly one log line (kernel logger, level warn) naming the file and
//    the reason, and recorded in refusals(); the host never crashes on a bad file.
//  - Refusal reasons: not a loadable shared library; no `ferry_plugin_query` symbol; query returned an error or no
//    descriptor; different ABI major; newer ABI minor than the kernel's; unknown kind; invalid name; a required
//    vtable member missing (named); a duplicate plugin name (the first one loaded wins).
//  - Each loaded plugin gets its own ferry_host table whose log() prefixes lines with the plugin's name and whose
//    config_get() answers from the plugin's config section through the ConfigLookup given to the constructor,
//    falling back to the defaults the plugin declared.
//  - Threading: load on one thread (start-up); afterwards the object is read-only and safe to read from any thread.
#pragma once

#include <ferry/ferry_plugin.h>
#include <ferry/ferry_protocol.h>
#include <ferry/ferry_storage.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

struct ConfigKeySpec {
    std::string name;
    std::string defaultValue;
    std::string description;
};

// One plugin that passed every check. Owned by PluginHost; the address is stable for the life of the host.
struct LoadedPlugin {
    std::filesystem::path file;
    std::string name;
    int32_t kind = 0; // FERRY_PLUGIN_KIND_*
    std::string version;
    std::string license;
    std::string description;
    uint16_t abiMajor = 0;
    uint16_t abiMinor = 0;
    std::vector<ConfigKeySpec> configKeys;        // declared keys, including protocol listener keys
    ferry_protocol_vtable protocol{};             // kind PROTOCOL: zeroed, then min(size) copied from the plugin
    ferry_storage_vtable storage{};               // kind STORAGE: likewise
    std::vector<ferry_listener_spec> listeners;   // kind PROTOCOL: copied listener specs
    const ferry_host *host = nullptr;             // the per-plugin host table given to ferry_plugin_query
};

// A protocol the kernel serves itself (replication, admin) as a LoadedPlugin that no library backs, so the
// NetworkServer runs it like any protocol plugin. The caller sets the hooks in `protocol`.
void initBuiltinProtocol(LoadedPlugin &plugin, const char *name, const char *description,
                         const ferry_listener_spec *listeners, size_t listenerCount);

// Every counter plugins registered (ferry_host.counter), for /metrics. Any thread.
struct PluginCounterValue {
    std::string plugin, event;
    uint64_t value = 0;
};
std::vector<PluginCounterValue> pluginCounters();

struct PluginRefusal {
    std::filesystem::path file;
    std::string reason;
};

class PluginHost {
public:
    // Returns the raw configured value of <section>.<key>, or nullopt when the config does not set it.
    using ConfigLookup = std::function<std::optional<std::string>(std::string_view section, std::string_view key)>;

    explicit PluginHost(ConfigLookup lookup);
    ~PluginHost();
    PluginHost(const PluginHost &) = delete;
    PluginHost &operator=(const PluginHost &) = delete;

    // Loads every regular file in each directory (not recursive, in name order). Missing directories are skipped
    // with a debug log line. Returns how many plugins were loaded by this call.
    int loadDirectories(const std::vector<std::filesystem::path> &dirs);
    // Loads one file; false (and a refusal recorded and logged) when it is refused.
    bool loadFile(const std::filesystem::path &file);

    const std::vector<std::unique_ptr<LoadedPlugin>> &plugins() const { return plugins_; }
    const std::vector<PluginRefusal> &refusals() const { return refusals_; }
    const LoadedPlugin *find(std::string_view name) const;

    // The default plugin directories: <exe dir>/../lib/ferry/plugins/v1 and <exe dir>/../<libdir>/ferry/plugins/v1.
    static std::vector<std::filesystem::path> defaultDirectories();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::vector<std::unique_ptr<LoadedPlugin>> plugins_;
    std::vector<PluginRefusal> refusals_;
};

} // namespace ferry
