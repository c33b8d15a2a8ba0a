// PluginHost: see PluginHost.h for the contract. This file adds the lifetime rules of what it hands to plugins:
//  - Libraries: every library that was opened (accepted or refused after opening) is kept in a registry that is
//    allocated once and deliberately leaked, so no destructor ever unloads a plugin, not even after main() returns.
//  - Host tables: each ferry_host table and the context behind it are allocated per query call and kept in that
//    same registry, because a plugin may keep the pointer for the life of the process (ferry_plugin.h). When the
//    PluginHost is destroyed the context is detached from its ConfigLookup; config_get then answers declared
//    defaults only, and log() keeps working.
#include "plugin/PluginHost.h"
#include "log/Logging.h"

#include <ferry/sdk.hpp>

#include <QCoreApplication>
#include <QString>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <type_traits>

namespace ferry {

namespace {

constexpr size_t kErrorBufferBytes = 1024;

std::string pathText(const std::filesystem::path &path)
{
    const std::u8string text = path.u8string();
    return std::string(reinterpret_cast<const char *>(text.data()), text.size());
}

std::string abiText(unsigned major, unsigned minor)
{
    return std::to_string(major) + "." + std::to_string(minor);
}

// A logger named after the plugin, so a sink pattern with %n puts the plugin's name on every line it writes. An
// existing logger of that name (registered by the log module) is reused; otherwise a new one shares the default
// logger's sinks and level and is registered without touching the sinks' formatters.
std::shared_ptr<spdlog::logger> pluginLogger(const std::string &name)
{
    if (auto existing = spdlog::get(name))
        return existing;
    const auto fallback = spdlog::default_logger();
    if (!fallback)
        return nullptr;
    auto logger = std::make_shared<spdlog::logger>(name, fallback->sinks().begin(), fallback->sinks().end());
    logger->set_level(fallback->level());
    logger->flush_on(fallback->flush_level());
    try {
        spdlog::register_logger(logger);
    } catch (const spdlog::spdlog_ex &) {
        // Registered meanwhile by someone else: theirs wins.
        if (auto existing = spdlog::get(name))
            return existing;
    }
    return logger;
}

spdlog::level::level_enum spdlogLevel(int32_t level)
{
    switch (level) {
    case FERRY_LOG_TRACE:
        return spdlog::level::trace;
    case FERRY_LOG_DEBUG:
        return spdlog::level::debug;
    case FERRY_LOG_INFO:
        return spdlog::level::info;
    case FERRY_LOG_WARN:
        return spdlog::level::warn;
    case FERRY_LOG_ERROR:
        return spdlog::level::err;
    default:
        return level < FERRY_LOG_TRACE ? spdlog::level::trace : spdlog::level::critical;
    }
}

const char *statusName(ferry_status status)
{
    switch (status) {
    case FERRY_OK: return "FERRY_OK";
    case FERRY_E_INVALID_ARGUMENT: return "FERRY_E_INVALID_ARGUMENT";
    case FERRY_E_NOT_FOUND: return "FERRY_E_NOT_FOUND";
    case FERRY_E_ALREADY_EXISTS: return "FERRY_E_ALREADY_EXISTS";
    case FERRY_E_IO: return "FERRY_E_IO";
    case FERRY_E_CORRUPT: return "FERRY_E_CORRUPT";
    case FERRY_E_UNSUPPORTED: return "FERRY_E_UNSUPPORTED";
    case FERRY_E_NO_SPACE: return "FERRY_E_NO_SPACE";
    case FERRY_E_TOO_LARGE: return "FERRY_E_TOO_LARGE";
    case FERRY_E_CLOSED: return "FERRY_E_CLOSED";
    case FERRY_E_ABI_MISMATCH: return "FERRY_E_ABI_MISMATCH";
    case FERRY_E_INTERNAL: return "FERRY_E_INTERNAL";
    case FERRY_E_PROTOCOL: return "FERRY_E_PROTOCOL";
    case FERRY_E_ACCESS_DENIED: return "FERRY_E_ACCESS_DENIED";
    case FERRY_E_BUSY: return "FERRY_E_BUSY";
    case FERRY_E_NO_MEMORY: return "FERRY_E_NO_MEMORY";
    case FERRY_E_TIMEOUT: return "FERRY_E_TIMEOUT";
    case FERRY_E_CONFIG: return "FERRY_E_CONFIG";
    default: return "unknown status";
    }
}

bool isValidPluginName(std::string_view name)
{
    if (name.empty())
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::string textOrEmpty(const char *text)
{
    return text != nullptr ? std::string(text) : std::string();
}

// Why the system loader refused a file. Boost.DLL reports only a generic code on POSIX (it clears dlerror()), so the
// file's first bytes tell a file that is no shared library at all from a library the loader could not bind.
std::string loaderRefusalReason(const std::filesystem::path &file, const boost::dll::fs::error_code &loadError)
{
    unsigned char magic[4] = {};
    std::ifstream in(file, std::ios::binary);
    in.read(reinterpret_cast<char *>(magic), sizeof magic);
    const auto got = in.gcount();
    auto starts = [&](std::initializer_list<unsigned char> prefix) {
        return got >= static_cast<std::streamsize>(prefix.size()) && std::equal(prefix.begin(), prefix.end(), magic);
    };
    const bool elf = starts({0x7f, 'E', 'L', 'F'});
    const bool pe = starts({'M', 'Z'});
    const bool machO = starts({0xfe, 0xed, 0xfa, 0xce}) || starts({0xfe, 0xed, 0xfa, 0xcf}) ||
                       starts({0xce, 0xfa, 0xed, 0xfe}) || starts({0xcf, 0xfa, 0xed, 0xfe}) ||
                       starts({0xca, 0xfe, 0xba, 0xbe});
    if (!elf && !pe && !machO)
        return "not a loadable shared library: not an ELF, PE or Mach-O file";
    std::string reason = "not a loadable shared library: the system loader refused it (wrong platform or "
                         "architecture, a missing dependency or an unresolved symbol)";
#ifdef _WIN32
    // Only Windows' loader error (GetLastError) says more than "failed".
    reason += ": " + loadError.message();
#else
    (void)loadError;
#endif
    return reason;
}

// ---- What lives as long as the process -------------------------------------------------------------------------

struct HostContext;

// Libraries and host contexts, kept until the process exits. The registry is allocated once and deliberately
// leaked (never destroyed): destroying a shared_library would unload it, and plugins are never unloaded; a plugin
// may keep its host table for the life of the process. Holding them here also keeps them reachable, so leak checkers
// (LeakSanitizer) do not report them. Guarded by its mutex because PluginHost objects may live on different threads.
struct ProcessLifetimeRegistry {
    std::mutex mutex;
    std::vector<boost::dll::shared_library *> libraries; // each allocated with new, never deleted
    std::vector<HostContext *> hostContexts;             // likewise
};

ProcessLifetimeRegistry &processLifetimeRegistry()
{
    static ProcessLifetimeRegistry *registry = new ProcessLifetimeRegistry(); // leaked on purpose, see above
    return *registry;
}

// ---- Per-plugin host tables ------------------------------------------------------------------------------------

// Everything behind one ferry_host table. Allocated with new and never deleted (see the top of this file); the
// table's ctx points back here. All members but `table` are guarded by `mutex` because the table's functions may be
// called from any thread.
struct HostContext {
    ferry_host table{};
    std::mutex mutex;
    std::string displayName; // the file name until the descriptor is accepted, then the plugin's name
    std::string section;     // the config section (the plugin's name); empty until accepted
    bool accepted = false;
    std::shared_ptr<spdlog::logger> logger;                  // null until accepted: lines go to the kernel logger
    std::shared_ptr<const PluginHost::ConfigLookup> lookup;  // reset when the PluginHost is destroyed
    std::vector<ConfigKeySpec> declaredKeys;                 // set when accepted
};

void hostLog(void *ctx, int32_t level, const char *text, size_t textLen) noexcept
{
    auto *context = static_cast<HostContext *>(ctx);
    if (context == nullptr || (text == nullptr && textLen > 0))
        return;
    try {
        std::shared_ptr<spdlog::logger> logger;
        std::string displayName;
        {
            std::lock_guard lock(context->mutex);
            logger = context->logger;
            displayName = context->displayName;
        }
        const std::string_view message(text != nullptr ? text : "", textLen);
        if (logger) {
            logger->log(spdlogLevel(level), "{}", message);
        } else if (auto kernel = kernelLogger()) {
            kernel->log(spdlogLevel(level), "[{}] {}", displayName, message);
        }
    } catch (...) {
        // Logging must never throw into plugin code; a line that cannot be written is dropped.
    }
}

ferry_status hostConfigGet(void *ctx, const char *key, char *valueBuf, size_t valueCap, size_t *valueLen) noexcept
{
    auto *context = static_cast<HostContext *>(ctx);
    if (context == nullptr || key == nullptr || (valueBuf == nullptr && valueCap > 0))
        return FERRY_E_INVALID_ARGUMENT;
    try {
        std::shared_ptr<const PluginHost::ConfigLookup> lookup;
        std::string section;
        std::optional<std::string> defaultValue;
        {
            std::lock_guard lock(context->mutex);
            // Inside ferry_plugin_query nothing is declared yet (and the section is unknown): every key is undeclared.
            if (!context->accepted)
                return FERRY_E_NOT_FOUND;
            for (const ConfigKeySpec &spec : context->declaredKeys) {
                if (spec.name == key) {
                    defaultValue = spec.defaultValue;
                    break;
                }
            }
            lookup = context->lookup;
            section = context->section;
        }
        if (!defaultValue)
            return FERRY_E_NOT_FOUND;

        std::string value = *defaultValue;
        if (lookup && *lookup) {
            if (std::optional<std::string> configured = (*lookup)(section, key))
                value = std::move(*configured);
        }
        if (valueLen != nullptr)
            *valueLen = value.size();
        if (valueCap == 0)
            return FERRY_E_TOO_LARGE;
        const size_t copied = std::min(value.size(), valueCap - 1);
        if (copied > 0)
            std::memcpy(valueBuf, value.data(), copied);
        valueBuf[copied] = '\0';
        return copied == value.size() ? FERRY_OK : FERRY_E_TOO_LARGE;
    } catch (const std::exception &e) {
        if (auto kernel = kernelLogger())
            kernel->error("config_get({}) for a plugin failed: {}", key, e.what());
        return FERRY_E_INTERNAL;
    } catch (...) {
        return FERRY_E_INTERNAL;
    }
}

uint64_t hostNowMs(void *) noexcept
{
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

} // namespace
} // namespace ferry

// The opaque ferry_counter of the ABI: leaked on purpose (plugins keep the handles for the life of the process).
struct ferry_counter {
    std::string plugin, event;
    std::atomic<uint64_t> value{0};
};

namespace ferry {
namespace {

struct CounterRegistry {
    std::mutex mutex;
    std::map<std::pair<std::string, std::string>, ferry_counter *> counters; // each allocated with new, never deleted
};

CounterRegistry &counterRegistry()
{
    static CounterRegistry *registry = new CounterRegistry(); // leaked on purpose, like ProcessLifetimeRegistry
    return *registry;
}

ferry_counter *hostCounter(void *ctx, const char *name, size_t nameLen) noexcept
{
    auto *context = static_cast<HostContext *>(ctx);
    if (context == nullptr || name == nullptr || nameLen == 0 || nameLen > 64)
        return nullptr;
    for (size_t i = 0; i < nameLen; ++i) {
        const char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return nullptr;
    }
    try {
        std::string plugin;
        {
            std::lock_guard lock(context->mutex);
            plugin = context->accepted ? context->section : context->displayName;
        }
        CounterRegistry &registry = counterRegistry();
        std::lock_guard lock(registry.mutex);
        ferry_counter *&slot = registry.counters[{plugin, std::string(name, nameLen)}];
        if (slot == nullptr) {
            slot = new ferry_counter();
            slot->plugin = plugin;
            slot->event.assign(name, nameLen);
        }
        return slot;
    } catch (...) {
        return nullptr;
    }
}

void hostCounterAdd(ferry_counter *counter, uint64_t delta) noexcept
{
    if (counter != nullptr)
        counter->value.fetch_add(delta, std::memory_order_relaxed);
}

uint64_t hostMonotonicMs(void *) noexcept
{
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

// Reads element `index` of a plugin's static array whose stride is the first element's struct_size.
template <typename T>
T readArrayElement(const T *first, uint32_t stride, uint32_t index)
{
    const auto *bytes = reinterpret_cast<const unsigned char *>(first) + static_cast<size_t>(stride) * index;
    return sdk::copy_struct(reinterpret_cast<const T *>(bytes));
}

// Names of required function pointers that are null, in declaration order.
std::vector<std::string> missingStorageMembers(const ferry_storage_vtable &v)
{
    std::vector<std::string> missing;
    auto require = [&missing](const void *member, const char *name) {
        if (member == nullptr)
            missing.emplace_back(name);
    };
    require(reinterpret_cast<const void *>(v.open), "open");
    require(reinterpret_cast<const void *>(v.close), "close");
    require(reinterpret_cast<const void *>(v.capabilities), "capabilities");
    require(reinterpret_cast<const void *>(v.queue_create), "queue_create");
    require(reinterpret_cast<const void *>(v.queue_delete), "queue_delete");
    require(reinterpret_cast<const void *>(v.queue_list), "queue_list");
    require(reinterpret_cast<const void *>(v.queue_bounds), "queue_bounds");
    require(reinterpret_cast<const void *>(v.append), "append");
    require(reinterpret_cast<const void *>(v.read), "read");
    require(reinterpret_cast<const void *>(v.ack), "ack");
    require(reinterpret_cast<const void *>(v.truncate_prefix), "truncate_prefix");
    require(reinterpret_cast<const void *>(v.offset_set), "offset_set");
    require(reinterpret_cast<const void *>(v.offset_get), "offset_get");
    require(reinterpret_cast<const void *>(v.offset_list), "offset_list");
    require(reinterpret_cast<const void *>(v.meta_put), "meta_put");
    require(reinterpret_cast<const void *>(v.meta_get), "meta_get");
    require(reinterpret_cast<const void *>(v.meta_delete), "meta_delete");
    require(reinterpret_cast<const void *>(v.meta_scan), "meta_scan");
    require(reinterpret_cast<const void *>(v.sync), "sync");
    return missing; // seek_time, maintain and control are optional
}

std::vector<std::string> missingProtocolMembers(const ferry_protocol_vtable &v)
{
    std::vector<std::string> missing;
    auto require = [&missing](const void *member, const char *name) {
        if (member == nullptr)
            missing.emplace_back(name);
    };
    require(reinterpret_cast<const void *>(v.init), "init");
    require(reinterpret_cast<const void *>(v.on_open), "on_open");
    require(reinterpret_cast<const void *>(v.on_read), "on_read");
    require(reinterpret_cast<const void *>(v.on_delivery), "on_delivery");
    require(reinterpret_cast<const void *>(v.on_result), "on_result");
    require(reinterpret_cast<const void *>(v.on_timer), "on_timer");
    require(reinterpret_cast<const void *>(v.on_close), "on_close");
    return missing; // shutdown is optional
}

std::string joined(const std::vector<std::string> &items)
{
    std::string out;
    for (const std::string &item : items) {
        if (!out.empty())
            out += ", ";
        out += item;
    }
    return out;
}

// "required vtable member(s) missing: a, b (storage vtable struct_size N)". vtable: the plugin's, starting with
// its struct_size.
std::string missingMembersReason(const char *kind, const std::vector<std::string> &missing, const void *vtable)
{
    const uint32_t declaredSize = *static_cast<const uint32_t *>(vtable);
    return std::string(missing.size() == 1 ? "required vtable member missing: " : "required vtable members missing: ") +
           joined(missing) + " (" + kind + " vtable struct_size " + std::to_string(declaredSize) + ")";
}

} // namespace

struct PluginHost::Impl {
    std::shared_ptr<const ConfigLookup> lookup;
    // Created by this host, kept by the ProcessLifetimeRegistry; detached from `lookup` in ~PluginHost.
    std::vector<HostContext *> contexts;
};

PluginHost::PluginHost(ConfigLookup lookup) : impl_(std::make_unique<Impl>())
{
    impl_->lookup = std::make_shared<const ConfigLookup>(std::move(lookup));
}

PluginHost::~PluginHost()
{
    for (HostContext *context : impl_->contexts) {
        std::lock_guard lock(context->mutex);
        context->lookup.reset();
    }
}

const LoadedPlugin *PluginHost::find(std::string_view name) const
{
    for (const auto &plugin : plugins_) {
        if (plugin->name == name)
            return plugin.get();
    }
    return nullptr;
}

int PluginHost::loadDirectories(const std::vector<std::filesystem::path> &dirs)
{
    int loaded = 0;
    for (const std::filesystem::path &dir : dirs) {
        std::error_code ec;
        if (!std::filesystem::is_directory(dir, ec)) {
            if (auto kernel = kernelLogger())
                kernel->debug("plugin directory {} does not exist or is not a directory, skipped", pathText(dir));
            continue;
        }
        std::vector<std::filesystem::path> files;
        std::filesystem::directory_iterator it(dir, ec);
        for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
            std::error_code typeEc;
            if (it->is_regular_file(typeEc))
                files.push_back(it->path());
        }
        if (ec) {
            if (auto kernel = kernelLogger())
                kernel->warn("cannot list plugin directory {}: {}", pathText(dir), ec.message());
        }
        std::sort(files.begin(), files.end(), [](const auto &a, const auto &b) { return a.filename() < b.filename(); });
        for (const std::filesystem::path &file : files) {
            if (loadFile(file))
                ++loaded;
        }
    }
    return loaded;
}

bool PluginHost::loadFile(const std::filesystem::path &fileArg)
{
    std::error_code ec;
    std::filesystem::path file = std::filesystem::absolute(fileArg, ec);
    if (ec)
        file = fileArg;

    auto refuse = [this, &file](const std::string &reason) {
        refusals_.push_back(PluginRefusal{file, reason});
        if (auto kernel = kernelLogger())
            kernel->warn("refusing plugin {}: {}", pathText(file), reason);
        return false;
    };

    try {
        // ---- open the library ----
        if (!std::filesystem::exists(file, ec))
            return refuse("not a loadable shared library: the file does not exist");
        if (!std::filesystem::is_regular_file(file, ec))
            return refuse("not a loadable shared library: not a regular file");

        auto opened = std::make_unique<boost::dll::shared_library>();
        boost::dll::fs::error_code loadError;
        // rtld_now: unresolved symbols are found here, not as a process abort at the first call into the plugin.
        opened->load(boost::dll::fs::path(file.native()),
                     boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, loadError);
        if (loadError || !opened->is_loaded())
            return refuse(loaderRefusalReason(file, loadError));
        // From here on the library is never unloaded, whatever the verdict: its code may already have run.
        boost::dll::shared_library &library = *opened;
        {
            ProcessLifetimeRegistry &registry = processLifetimeRegistry();
            std::lock_guard lock(registry.mutex);
            registry.libraries.reserve(registry.libraries.size() + 1);
            registry.libraries.push_back(opened.release());
        }

        // ---- find the entry point ----
        if (!library.has(FERRY_PLUGIN_ENTRY_SYMBOL))
            return refuse("no `" FERRY_PLUGIN_ENTRY_SYMBOL "` symbol (not a Ferry plugin, or built without "
                          "FERRY_PLUGIN_ENTRY)");
        using QueryFunction = std::remove_pointer_t<ferry_plugin_query_fn>;
        QueryFunction *query = &library.get<QueryFunction>(FERRY_PLUGIN_ENTRY_SYMBOL);

        // ---- ask the plugin about itself ----
        HostContext *context = nullptr;
        {
            // Kept for the life of the process (see ProcessLifetimeRegistry): the plugin may keep the table.
            auto created = std::make_unique<HostContext>();
            ProcessLifetimeRegistry &registry = processLifetimeRegistry();
            std::lock_guard lock(registry.mutex);
            registry.hostContexts.reserve(registry.hostContexts.size() + 1);
            context = created.release();
            registry.hostContexts.push_back(context);
        }
        impl_->contexts.push_back(context);
        context->displayName = pathText(file.filename());
        context->lookup = impl_->lookup;
        context->table.struct_size = sizeof(ferry_host);
        context->table.abi_major = FERRY_ABI_MAJOR;
        context->table.abi_minor = FERRY_ABI_MINOR;
        context->table.ctx = context;
        context->table.log = &hostLog;
        context->table.config_get = &hostConfigGet;
        context->table.now_ms = &hostNowMs;
        context->table.monotonic_ms = &hostMonotonicMs;
        context->table.counter = &hostCounter;
        context->table.counter_add = &hostCounterAdd;

        char err[kErrorBufferBytes] = {};
        const ferry_plugin_descriptor *rawDescriptor = nullptr;
        ferry_status status = FERRY_E_INTERNAL;
        try {
            status = query(&context->table, &rawDescriptor, err, sizeof err);
        } catch (...) {
            // The ABI forbids this; a C++ plugin that breaks the rule is refused instead of taking the kernel down.
            return refuse("ferry_plugin_query threw a C++ exception across the C ABI");
        }
        err[sizeof err - 1] = '\0';
        const std::string errText = err[0] != '\0' ? std::string(err) : std::string("no message");
        if (status == FERRY_E_ABI_MISMATCH)
            return refuse("the plugin refused this kernel's ABI " + abiText(FERRY_ABI_MAJOR, FERRY_ABI_MINOR) + ": " +
                          errText);
        if (status != FERRY_OK)
            return refuse("ferry_plugin_query failed with " + std::string(statusName(status)) + " (" +
                          std::to_string(status) + "): " + errText);
        if (rawDescriptor == nullptr)
            return refuse("ferry_plugin_query returned FERRY_OK but no descriptor");

        // ---- validate the descriptor ----
        constexpr size_t versionEnd = offsetof(ferry_plugin_descriptor, abi_minor) + sizeof(uint16_t);
        if (rawDescriptor->struct_size < versionEnd)
            return refuse("descriptor struct_size " + std::to_string(rawDescriptor->struct_size) +
                          " is too small to carry an ABI version");
        const ferry_plugin_descriptor descriptor = sdk::copy_struct(rawDescriptor);
        const std::string builtFor = "built for ABI " + abiText(descriptor.abi_major, descriptor.abi_minor) +
                                     ", this kernel has ABI " + abiText(FERRY_ABI_MAJOR, FERRY_ABI_MINOR);
        if (descriptor.abi_major != FERRY_ABI_MAJOR)
            return refuse("different ABI major: " + builtFor);
        if (descriptor.abi_minor > FERRY_ABI_MINOR)
            return refuse("newer ABI minor: " + builtFor);
        if (descriptor.kind != FERRY_PLUGIN_KIND_PROTOCOL && descriptor.kind != FERRY_PLUGIN_KIND_STORAGE)
            return refuse("unknown plugin kind " + std::to_string(descriptor.kind));
        if (descriptor.name == nullptr)
            return refuse("invalid name: the descriptor has no name");
        const std::string name = descriptor.name;
        if (!isValidPluginName(name))
            return refuse("invalid name \"" + name + "\": a plugin name must match [a-z0-9_-]+");

        auto plugin = std::make_unique<LoadedPlugin>();
        plugin->file = file;
        plugin->name = name;
        plugin->kind = descriptor.kind;
        plugin->version = textOrEmpty(descriptor.version);
        plugin->license = textOrEmpty(descriptor.license);
        plugin->description = textOrEmpty(descriptor.description);
        plugin->abiMajor = descriptor.abi_major;
        plugin->abiMinor = descriptor.abi_minor;
        plugin->host = &context->table;

        if (descriptor.config_key_count > 0) {
            if (descriptor.config_keys == nullptr)
                return refuse("malformed descriptor: config_keys is NULL but config_key_count is " +
                              std::to_string(descriptor.config_key_count));
            const uint32_t stride = descriptor.config_keys[0].struct_size;
            if (stride < offsetof(ferry_config_key, name) + sizeof(const char *))
                return refuse("malformed descriptor: config_keys[0].struct_size " + std::to_string(stride) +
                              " is too small");
            for (uint32_t i = 0; i < descriptor.config_key_count; ++i) {
                const ferry_config_key key = readArrayElement(descriptor.config_keys, stride, i);
                if (key.name == nullptr || key.name[0] == '\0')
                    return refuse("malformed descriptor: config_keys[" + std::to_string(i) + "] has no name");
                plugin->configKeys.push_back(
                    ConfigKeySpec{key.name, textOrEmpty(key.default_value), textOrEmpty(key.description)});
            }
        }

        // ---- validate the vtable ----
        if (descriptor.vtable == nullptr)
            return refuse("the descriptor has no vtable");
        if (descriptor.kind == FERRY_PLUGIN_KIND_STORAGE) {
            plugin->storage = sdk::copy_struct(static_cast<const ferry_storage_vtable *>(descriptor.vtable));
            const std::vector<std::string> missing = missingStorageMembers(plugin->storage);
            if (!missing.empty())
                return refuse(missingMembersReason("storage", missing, descriptor.vtable));
        } else {
            plugin->protocol = sdk::copy_struct(static_cast<const ferry_protocol_vtable *>(descriptor.vtable));
            const std::vector<std::string> missing = missingProtocolMembers(plugin->protocol);
            if (!missing.empty())
                return refuse(missingMembersReason("protocol", missing, descriptor.vtable));
            const ferry_protocol_vtable &vtable = plugin->protocol;
            if (vtable.listener_count > 0) {
                if (vtable.listeners == nullptr)
                    return refuse("malformed protocol vtable: listeners is NULL but listener_count is " +
                                  std::to_string(vtable.listener_count));
                const uint32_t stride = vtable.listeners[0].struct_size;
                if (stride < offsetof(ferry_listener_spec, config_key) + sizeof(const char *))
                    return refuse("malformed protocol vtable: listeners[0].struct_size " + std::to_string(stride) +
                                  " is too small");
                for (uint32_t i = 0; i < vtable.listener_count; ++i) {
                    const ferry_listener_spec spec = readArrayElement(vtable.listeners, stride, i);
                    if (spec.config_key == nullptr || spec.config_key[0] == '\0')
                        return refuse("malformed protocol vtable: listeners[" + std::to_string(i) +
                                      "] has no config_key");
                    plugin->listeners.push_back(spec);
                    plugin->configKeys.push_back(ConfigKeySpec{spec.config_key, textOrEmpty(spec.default_address),
                                                               textOrEmpty(spec.description)});
                }
            }
        }

        // ---- unique name: the first one loaded wins ----
        if (const LoadedPlugin *first = find(name))
            return refuse("duplicate plugin name \"" + name + "\": already loaded from " + pathText(first->file));

        {
            std::lock_guard lock(context->mutex);
            context->displayName = name;
            context->section = name;
            context->declaredKeys = plugin->configKeys;
            context->logger = pluginLogger(name);
            context->accepted = true;
        }
        if (auto kernel = kernelLogger())
            kernel->info("loaded {} plugin {} {} (ABI {}) from {}",
                         descriptor.kind == FERRY_PLUGIN_KIND_STORAGE ? "storage" : "protocol", name, plugin->version,
                         abiText(plugin->abiMajor, plugin->abiMinor), pathText(file));
        plugins_.push_back(std::move(plugin));
        return true;
    } catch (const std::exception &e) {
        return refuse(std::string("internal error while loading: ") + e.what());
    }
}

std::vector<std::filesystem::path> PluginHost::defaultDirectories()
{
    std::filesystem::path exeDir;
    if (QCoreApplication::instance() != nullptr) {
        exeDir = std::filesystem::path(QCoreApplication::applicationDirPath().toStdU16String());
    } else {
        boost::dll::fs::error_code ec;
        const boost::dll::fs::path program = boost::dll::program_location(ec);
        if (!ec)
            exeDir = std::filesystem::path(program.parent_path().native());
    }
    if (exeDir.empty())
        return {};

    const std::filesystem::path abiDir = std::filesystem::path(FERRY_PLUGIN_ABI_DIR);
    std::vector<std::filesystem::path> dirs;
    const std::filesystem::path libDirs[] = {std::filesystem::path("lib"), std::filesystem::path(FERRY_INSTALL_LIBDIR)};
    for (const std::filesystem::path &libDir : libDirs) {
        std::filesystem::path dir = libDir.is_absolute() ? libDir / abiDir : (exeDir / ".." / libDir / abiDir);
        dir = dir.lexically_normal();
        if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end())
            dirs.push_back(std::move(dir));
    }
    return dirs;
}

std::vector<PluginCounterValue> pluginCounters()
{
    CounterRegistry &registry = counterRegistry();
    std::lock_guard lock(registry.mutex);
    std::vector<PluginCounterValue> out;
    for (const auto &[key, counter] : registry.counters)
        out.push_back({counter->plugin, counter->event, counter->value.load(std::memory_order_relaxed)});
    return out;
}

void initBuiltinProtocol(LoadedPlugin &plugin, const char *name, const char *description,
                         const ferry_listener_spec *listeners, size_t listenerCount)
{
    plugin.name = name;
    plugin.kind = FERRY_PLUGIN_KIND_PROTOCOL;
    plugin.version = FERRY_VERSION;
    plugin.description = description;
    plugin.abiMajor = FERRY_ABI_MAJOR;
    plugin.abiMinor = FERRY_ABI_MINOR;
    plugin.protocol.struct_size = sizeof plugin.protocol;
    plugin.protocol.listeners = listeners;
    plugin.protocol.listener_count = static_cast<uint32_t>(listenerCount);
    plugin.listeners.assign(listeners, listeners + listenerCount);
}

} // namespace ferry
