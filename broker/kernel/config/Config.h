// Config: Ferry's configuration as raw text values, the schema that says which sections and keys exist, and the
// typed value parsers every reader of the config uses.
//
// Contract:
//  - Format (INI): `[section]` headers, `key = value` lines, comment lines starting with `#` or `;`, blank lines.
//    Names and values are trimmed of surrounding whitespace; a value may be empty (for a listener key that turns
//    the listener off). A `#` or `;` after a value is part of the value (only whole lines are comments).
//    A key outside any section, a malformed line or the same key twice in one source is an error naming file:line.
//  - Overrides (`--set section.key=value`): the section is everything before the FIRST dot (plugin names have no
//    dots); an override replaces whatever the file said. Later overrides replace earlier ones.
//  - Raw values are never silently dropped: validate() reports every section or key the schema does not declare,
//    and the typed parsers report every bad value, each error naming `section.key` and where the value came from.
//  - Error texts start with "config: " so a user can tell them from runtime errors.
//  - Threading: not synchronised. Build and validate at start-up on one thread; afterwards it is only read, which
//    is safe from any thread (the PluginHost config lookup reads it from plugin threads).
#pragma once

#include "plugin/PluginHost.h" // ConfigKeySpec

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class Config {
public:
    struct Entry {
        std::string value;
        std::string origin; // "<file>:<line>" or "--set"
    };

    // Reads and parses an INI file; adds its values to this config. false with *error ("config: <file>:<line>: ...").
    bool loadFile(const std::filesystem::path &file, std::string *error);
    // Parses INI text; sourceName is used in origins and error messages.
    bool loadText(std::string_view text, const std::string &sourceName, std::string *error);
    // Applies one "section.key=value" override. false with *error when the text has no '.', no '=' or an empty name.
    bool applyOverride(std::string_view assignment, std::string *error);
    // Sets a value directly (replacing any previous one).
    void set(const std::string &section, const std::string &key, std::string value, std::string origin);

    // The configured raw value, or nullopt when neither the file nor an override set it.
    std::optional<std::string> value(std::string_view section, std::string_view key) const;
    const Entry *entry(std::string_view section, std::string_view key) const;
    bool hasSection(std::string_view section) const;
    // Every section that appeared (a `[section]` header with no keys still counts), in name order.
    std::vector<std::string> sections() const;
    // The keys set in one section, in name order.
    std::vector<std::string> keys(std::string_view section) const;
    // Where a section was first mentioned ("<file>:<line>" or "--set"); empty when unknown.
    std::string sectionOrigin(std::string_view section) const;

private:
    struct Section {
        std::string origin;
        std::map<std::string, Entry, std::less<>> keys;
    };
    std::map<std::string, Section, std::less<>> sections_;
};

// Which sections and keys exist, with their defaults and one-line descriptions. The kernel declares its own sections
// (see KernelConfig.h); each loaded plugin's section is declared from its LoadedPlugin::configKeys.
class ConfigSchema {
public:
    // Declares (or replaces) a section. Keys keep their given order (used for documentation output).
    void declareSection(const std::string &section, std::vector<ConfigKeySpec> keys);
    bool hasSection(std::string_view section) const;
    const std::vector<ConfigKeySpec> *section(std::string_view section) const;
    const ConfigKeySpec *key(std::string_view section, std::string_view key) const;
    // Section names in declaration order.
    const std::vector<std::string> &sectionNames() const { return order_; }

private:
    std::vector<std::string> order_;
    std::map<std::string, std::vector<ConfigKeySpec>, std::less<>> sections_;
};

// Checks that every section and key in `config` is declared in `schema`. Sections listed in `ignoredSections` are not
// checked (the sections of plugins named in plugins.disabled). Returns one error per problem, e.g.
//   "config: storage.flsh: unknown key (ferry.conf:7); [storage] has: plugin, flush, ..."
//   "config: amqpp.listen: unknown section [amqpp] (ferry.conf:20): no kernel section or loaded plugin has that name"
std::vector<std::string> validateConfig(const Config &config, const ConfigSchema &schema,
                                        const std::vector<std::string> &ignoredSections = {});

// Typed value parsers. Each returns nullopt and sets *error to "config: <section>.<key>: <what was expected>, got
// '<value>' (<origin>)" when the value is not acceptable. `name` is "section.key"; `origin` may be empty.
struct ConfigValueRef {
    std::string name;   // "section.key"
    std::string value;  // raw text
    std::string origin; // "<file>:<line>", "--set", or "" for a built-in default
};

std::optional<uint64_t> parseUnsigned(const ConfigValueRef &ref, uint64_t min, uint64_t max, std::string *error);
std::optional<bool> parseBool(const ConfigValueRef &ref, std::string *error); // true/false, yes/no, on/off, 1/0
// One of `choices`, compared exactly (lower case is the documented spelling). Returns the index into choices.
std::optional<size_t> parseEnum(const ConfigValueRef &ref, const std::vector<std::string> &choices, std::string *error);
// A duration: a whole number in `defaultUnitMs` units (e.g. 3600000 for a key named *_hours), or a whole number with
// a unit suffix: ms, s, m (minutes), h, d. Result in milliseconds, checked against [minMs, maxMs].
std::optional<uint64_t> parseDurationMs(const ConfigValueRef &ref, uint64_t defaultUnitMs, uint64_t minMs,
                                        uint64_t maxMs, std::string *error);
// A comma- (or semicolon-) separated list; items are trimmed and empty items dropped.
std::vector<std::string> splitList(std::string_view text, char separator);

} // namespace ferry
