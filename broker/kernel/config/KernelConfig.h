// KernelConfig: the kernel's own config sections ([broker], [storage], [network], [log], [plugins]) and the typed
// readers that turn a Config into BrokerSettings, LogSettings and PluginSettings. Every key, its default and its
// meaning are documented in packaging/ferry.conf and docs/configuration.md; keep the three in step.
//
// Start-up order (ferry-broker): read the config -> checkKernelSections() (kernel keys only: plugin sections cannot
// be checked before plugins are loaded) -> readPluginSettings / readLogSettings -> logging -> load plugins ->
// checkPluginSections() -> readBrokerSettings().
// Every reader returns false and appends one error per bad value ("config: section.key: ..."); it never falls back to
// a default for a value that was set but is wrong.
#pragma once

#include "broker/BrokerSettings.h"
#include "config/Config.h"
#include "log/Logging.h"

#include <filesystem>
#include <string>
#include <vector>

namespace ferry {

class PluginHost;

struct PluginSettings {
    std::vector<std::filesystem::path> dirs; // plugins.dirs; empty: PluginHost::defaultDirectories()
    std::vector<std::string> disabled;       // plugins.disabled: plugin names whose section is not checked
};

// The placeholder log.file may contain; replaced by broker.data_dir.
inline constexpr const char *kDataDirPlaceholder = "${data_dir}";

// The kernel's sections with defaults and descriptions, in documentation order.
ConfigSchema kernelConfigSchema();
bool isKernelSection(std::string_view section);

// Adds one section per loaded plugin (named after it) with its declared keys; for protocol plugins each listener's
// config key is declared too (with its default address) if the plugin did not list it among its config keys.
void declarePluginSections(ConfigSchema &schema, const PluginHost &host);

// Before plugins load: unknown keys in kernel sections, and every kernel value parsed. Appends to *errors.
bool checkKernelSections(const Config &config, std::vector<std::string> *errors);
// After plugins load: every non-kernel section must belong to a loaded plugin (or to one named in plugins.disabled)
// and hold only declared keys; storage.plugin must name a loaded, not disabled, storage plugin.
bool checkPluginSections(const Config &config, const PluginHost &host, const PluginSettings &plugins,
                         std::vector<std::string> *errors);

// The raw value of a kernel key: the configured one, or the schema default.
std::string kernelValue(const Config &config, std::string_view section, std::string_view key);

std::filesystem::path readDataDir(const Config &config); // broker.data_dir (empty is refused by checkKernelSections)
bool readPluginSettings(const Config &config, PluginSettings *out, std::vector<std::string> *errors);
// log.file relative paths stay relative to the working directory; "${data_dir}" is replaced by dataDir.
bool readLogSettings(const Config &config, const std::filesystem::path &dataDir, LogSettings *out,
                     std::vector<std::string> *errors);
bool readBrokerSettings(const Config &config, BrokerSettings *out, std::vector<std::string> *errors);

} // namespace ferry
