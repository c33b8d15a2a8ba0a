#include "StorageHarness.h"

#include <cstddef>
#include <cstring>
#include <functional>

namespace ferry::storagetest {

std::string statusName(ferry_status status)
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
    default: return "status " + std::to_string(status);
    }
}

std::string describe(const CallResult &result)
{
    std::string out = statusName(result.status);
    if (!result.text.empty())
        out += " (" + result.text + ")";
    return out;
}

// ---- command line ------------------------------------------------------------------------------------------------

SuiteOptions parseSuiteOptions(const std::vector<std::string> &arguments)
{
    SuiteOptions options;
    if (!arguments.empty())
        options.passThrough.push_back(arguments.front()); // program name, as QTest expects
    for (size_t i = 1; i < arguments.size(); ++i) {
        const std::string &arg = arguments[i];
        auto value = [&](std::string &out) {
            if (i + 1 >= arguments.size()) {
                options.error = arg + " needs a value";
                return false;
            }
            out = arguments[++i];
            return true;
        };
        auto number = [&](uint64_t &out) {
            std::string text;
            if (!value(text))
                return false;
            try {
                size_t used = 0;
                out = std::stoull(text, &used, 0);
                if (used != text.size())
                    throw std::invalid_argument(text);
            } catch (const std::exception &) {
                options.error = arg + ": not a number: " + text;
                return false;
            }
            return true;
        };
        std::string text;
        uint64_t n = 0;
        if (arg == "--plugin") {
            if (!value(text))
                break;
            options.plugins.emplace_back(pathFromUtf8(text));
        } else if (arg == "--seed") {
            if (!number(n))
                break;
            options.seeds.push_back(n);
        } else if (arg == "--ops") {
            if (!number(n))
                break;
            options.operations = static_cast<long>(n);
        } else if (arg == "--rounds") {
            if (!number(n))
                break;
            options.rounds = static_cast<int>(n);
        } else if (arg == "--writer") {
            if (!value(text))
                break;
            options.writer = pathFromUtf8(text);
        } else if (arg == "--config") {
            if (!value(text))
                break;
            const size_t eq = text.find('=');
            if (eq == std::string::npos || text.find('.') > eq) {
                options.error = "--config expects SECTION.KEY=VALUE, got " + text;
                break;
            }
            options.config[text.substr(0, eq)] = text.substr(eq + 1);
        } else {
            options.passThrough.push_back(arg);
        }
    }
    return options;
}

// ---- plugin loading ----------------------------------------------------------------------------------------------

namespace {

struct ProcessPluginHost {
    std::map<std::string, std::string> config;
    std::unique_ptr<PluginHost> host;
};

ProcessPluginHost &processHost(const std::map<std::string, std::string> &config)
{
    static ProcessPluginHost instance;
    if (!instance.host) {
        instance.config = config;
        instance.host = std::make_unique<PluginHost>(
            [](std::string_view section, std::string_view key) -> std::optional<std::string> {
                const std::string name = std::string(section) + "." + std::string(key);
                const auto it = instance.config.find(name);
                if (it == instance.config.end())
                    return std::nullopt;
                return it->second;
            });
    }
    return instance;
}

bool sameFile(const std::filesystem::path &a, const std::filesystem::path &b)
{
    std::error_code ec;
    if (std::filesystem::equivalent(a, b, ec))
        return true;
    return std::filesystem::absolute(a).lexically_normal() == std::filesystem::absolute(b).lexically_normal();
}

} // namespace

const LoadedPlugin *loadStoragePlugin(const std::filesystem::path &file,
                                      const std::map<std::string, std::string> &config, std::string *error)
{
    PluginHost &host = *processHost(config).host;
    for (const auto &plugin : host.plugins()) {
        if (sameFile(plugin->file, file))
            return plugin->kind == FERRY_PLUGIN_KIND_STORAGE ? plugin.get() : nullptr;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        if (error)
            *error = "plugin file not found: " + pathText(file);
        return nullptr;
    }
    const size_t refusalsBefore = host.refusals().size();
    if (!host.loadFile(file)) {
        if (error) {
            *error = "PluginHost refused " + pathText(file);
            if (host.refusals().size() > refusalsBefore)
                *error += ": " + host.refusals().back().reason;
        }
        return nullptr;
    }
    const LoadedPlugin *loaded = host.plugins().back().get();
    if (loaded->kind != FERRY_PLUGIN_KIND_STORAGE) {
        if (error)
            *error = pathText(file) + " is not a storage plugin (kind " + std::to_string(loaded->kind) + ")";
        return nullptr;
    }
    return loaded;
}

// ---- StorageInstance ---------------------------------------------------------------------------------------------

// Capacity handed to the plugin, followed by guard bytes that must stay untouched.
class StorageInstance::ErrorBuffer {
public:
    static constexpr size_t kCapacity = 512;
    static constexpr size_t kGuard = 32;
    static constexpr char kFill = '\x5a';

    explicit ErrorBuffer(bool null) : null_(null) { std::memset(bytes_, kFill, sizeof bytes_); }
    char *data() { return null_ ? nullptr : bytes_; }
    size_t capacity() const { return null_ ? 0 : kCapacity; }
    bool isNull() const { return null_; }

    bool guardIntact() const
    {
        for (size_t i = kCapacity; i < sizeof bytes_; ++i)
            if (bytes_[i] != kFill)
                return false;
        return true;
    }
    bool terminated() const { return std::memchr(bytes_, 0, kCapacity) != nullptr; }
    bool touched() const
    {
        for (size_t i = 0; i < kCapacity; ++i)
            if (bytes_[i] != kFill)
                return true;
        return false;
    }
    std::string text() const { return terminated() ? std::string(bytes_) : std::string(bytes_, kCapacity); }

private:
    bool null_;
    char bytes_[kCapacity + kGuard];
};

StorageInstance::StorageInstance(const LoadedPlugin &plugin, ferry_storage *storage)
    : plugin_(&plugin), vt_(&plugin.storage), storage_(storage)
{
}

StorageInstance::~StorageInstance()
{
    if (storage_ != nullptr)
        vt_->close(storage_);
}

CallResult StorageInstance::open(const LoadedPlugin &plugin, const std::filesystem::path &dataDir,
                                 const OpenOptions &options, std::unique_ptr<StorageInstance> &out)
{
    out.reset();
    const std::string dir = pathText(dataDir);
    ferry_storage_options opts{};
    opts.struct_size = sizeof opts;
    opts.data_dir = dir.c_str();
    opts.retention_ms = options.retentionMs;
    opts.retention_bytes = options.retentionBytes;
    ErrorBuffer buffer(false);
    ferry_storage *storage = nullptr;
    const ferry_status status = plugin.storage.open(plugin.host, &opts, &storage, buffer.data(), buffer.capacity());
    CallResult result{status, status == FERRY_OK ? std::string() : buffer.text()};
    if (status == FERRY_OK && storage == nullptr)
        return {FERRY_E_INTERNAL, "harness: open returned FERRY_OK but no instance"};
    if (status != FERRY_OK) {
        if (storage != nullptr)
            result.text += " [harness: open failed but set *storage_out]";
        return result;
    }
    out.reset(new StorageInstance(plugin, storage));
    if (!buffer.guardIntact())
        out->violation("open: error buffer overrun past err_cap");
    return result;
}

CallResult StorageInstance::finish(ErrorBuffer &buffer, ferry_status status, const char *call)
{
    CallResult result{status, {}};
    if (buffer.isNull())
        return result;
    if (!buffer.guardIntact())
        violation(std::string(call) + ": plugin wrote past err_cap in the error buffer");
    if (status != FERRY_OK) {
        if (!buffer.terminated())
            violation(std::string(call) + ": error text is not NUL-terminated within err_cap");
        result.text = buffer.text();
        if (result.text.empty())
            violation(std::string(call) + ": returned " + statusName(status) + " without error text");
    }
    return result;
}

std::string StorageInstance::takeViolation()
{
    if (violations_.empty())
        return {};
    std::string first = violations_.front();
    violations_.erase(violations_.begin());
    return first;
}

uint64_t StorageInstance::capabilities() { return vt_->capabilities(storage_); }

CallResult StorageInstance::queueCreate(uint64_t queueId, uint32_t flags)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->queue_create(storage_, queueId, flags, b.data(), b.capacity()), "queue_create");
}

CallResult StorageInstance::queueDelete(uint64_t queueId)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->queue_delete(storage_, queueId, b.data(), b.capacity()), "queue_delete");
}

namespace {

// Sink trampolines: sink_ctx points at a std::function that does the work.
using QueueFn = std::function<int32_t(uint64_t, uint32_t)>;
int32_t queueSink(void *ctx, uint64_t queueId, uint32_t flags) { return (*static_cast<QueueFn *>(ctx))(queueId, flags); }

using RecordFn = std::function<int32_t(const ferry_storage_record *)>;
int32_t recordSink(void *ctx, const ferry_storage_record *record) { return (*static_cast<RecordFn *>(ctx))(record); }

using OffsetFn = std::function<int32_t(const char *, size_t, uint64_t, uint64_t)>;
int32_t offsetSink(void *ctx, const char *group, size_t groupLen, uint64_t queueId, uint64_t offset)
{
    return (*static_cast<OffsetFn *>(ctx))(group, groupLen, queueId, offset);
}

using KvFn = std::function<int32_t(const uint8_t *, size_t, const uint8_t *, size_t)>;
int32_t kvSink(void *ctx, const uint8_t *key, size_t keyLen, const uint8_t *value, size_t valueLen)
{
    return (*static_cast<KvFn *>(ctx))(key, keyLen, value, valueLen);
}

std::string bytesOf(const void *data, size_t len)
{
    return len == 0 ? std::string() : std::string(static_cast<const char *>(data), len);
}

} // namespace

CallResult StorageInstance::queueList(std::vector<QueueInfo> &out)
{
    out.clear();
    QueueFn fn = [&](uint64_t id, uint32_t flags) -> int32_t {
        out.push_back({id, flags});
        return 0;
    };
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->queue_list(storage_, queueSink, &fn, b.data(), b.capacity()), "queue_list");
}

CallResult StorageInstance::queueBounds(uint64_t queueId, uint64_t &low, uint64_t &next)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->queue_bounds(storage_, queueId, &low, &next, b.data(), b.capacity()), "queue_bounds");
}

CallResult StorageInstance::append(uint64_t queueId, uint64_t storeTimeMs, std::string_view head, std::string_view body,
                                   uint64_t &offset)
{
    ErrorBuffer b(nullErrorBuffer_);
    // Empty parts are passed as a null pointer half of the time: "either may be empty".
    const auto *h = reinterpret_cast<const uint8_t *>(head.empty() && (storeTimeMs & 1) ? nullptr : head.data());
    const auto *d = reinterpret_cast<const uint8_t *>(body.empty() && (storeTimeMs & 2) ? nullptr : body.data());
    return finish(b,
                  vt_->append(storage_, queueId, storeTimeMs, h, head.size(), d, body.size(), &offset, b.data(),
                              b.capacity()),
                  "append");
}

CallResult StorageInstance::read(uint64_t queueId, uint64_t fromOffset, uint32_t maxRecords, uint64_t maxBytes,
                                 std::vector<RecordCopy> &out, size_t stopAfter)
{
    out.clear();
    bool stopped = false;
    RecordFn fn = [&](const ferry_storage_record *record) -> int32_t {
        if (stopped) {
            violation("read: sink called again after it returned non-zero");
            return 1;
        }
        if (record == nullptr) {
            violation("read: sink got a null record");
            return 1;
        }
        if (record->struct_size < offsetof(ferry_storage_record, len) + sizeof(size_t))
            violation("read: record struct_size " + std::to_string(record->struct_size) + " is too small");
        if (record->queue_id != queueId)
            violation("read: record of queue " + std::to_string(record->queue_id) + " while reading queue " +
                      std::to_string(queueId));
        if (record->data == nullptr && record->len > 0)
            violation("read: record with len > 0 and data == NULL");
        out.push_back({record->offset, record->store_time_ms, bytesOf(record->data, record->len)});
        if (stopAfter != 0 && out.size() >= stopAfter) {
            stopped = true;
            return 1;
        }
        return 0;
    };
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b,
                  vt_->read(storage_, queueId, fromOffset, maxRecords, maxBytes, recordSink, &fn, b.data(),
                            b.capacity()),
                  "read");
}

CallResult StorageInstance::ack(uint64_t queueId, uint64_t offset)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->ack(storage_, queueId, offset, b.data(), b.capacity()), "ack");
}

CallResult StorageInstance::truncatePrefix(uint64_t queueId, uint64_t newLow)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->truncate_prefix(storage_, queueId, newLow, b.data(), b.capacity()), "truncate_prefix");
}

CallResult StorageInstance::seekTime(uint64_t queueId, uint64_t timeMs, uint64_t &offset)
{
    if (vt_->seek_time == nullptr)
        return {FERRY_E_UNSUPPORTED, "harness: seek_time is NULL in the vtable"};
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->seek_time(storage_, queueId, timeMs, &offset, b.data(), b.capacity()), "seek_time");
}

CallResult StorageInstance::offsetSet(std::string_view group, uint64_t queueId, uint64_t offset)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->offset_set(storage_, group.data(), group.size(), queueId, offset, b.data(), b.capacity()),
                  "offset_set");
}

CallResult StorageInstance::offsetGet(std::string_view group, uint64_t queueId, uint64_t &offset)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->offset_get(storage_, group.data(), group.size(), queueId, &offset, b.data(), b.capacity()),
                  "offset_get");
}

CallResult StorageInstance::offsetList(std::vector<OffsetEntry> &out)
{
    out.clear();
    OffsetFn fn = [&](const char *group, size_t groupLen, uint64_t queueId, uint64_t offset) -> int32_t {
        if (group == nullptr && groupLen > 0)
            violation("offset_list: group == NULL with group_len > 0");
        out.push_back({bytesOf(group, groupLen), queueId, offset});
        return 0;
    };
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->offset_list(storage_, offsetSink, &fn, b.data(), b.capacity()), "offset_list");
}

CallResult StorageInstance::metaPut(std::string_view key, std::string_view value)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b,
                  vt_->meta_put(storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(),
                                reinterpret_cast<const uint8_t *>(value.data()), value.size(), b.data(), b.capacity()),
                  "meta_put");
}

CallResult StorageInstance::metaGet(std::string_view key, std::string &value, int &sinkCalls)
{
    value.clear();
    sinkCalls = 0;
    KvFn fn = [&](const uint8_t *k, size_t kLen, const uint8_t *v, size_t vLen) -> int32_t {
        ++sinkCalls;
        if ((k == nullptr && kLen > 0) || (v == nullptr && vLen > 0))
            violation("meta_get: sink got a NULL pointer with a non-zero length");
        if (bytesOf(k, kLen) != key)
            violation("meta_get: sink got key " + hex(bytesOf(k, kLen)) + " for key " + hex(key));
        value = bytesOf(v, vLen);
        return 0;
    };
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b,
                  vt_->meta_get(storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(), kvSink, &fn,
                                b.data(), b.capacity()),
                  "meta_get");
}

CallResult StorageInstance::metaDelete(std::string_view key)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b,
                  vt_->meta_delete(storage_, reinterpret_cast<const uint8_t *>(key.data()), key.size(), b.data(),
                                   b.capacity()),
                  "meta_delete");
}

CallResult StorageInstance::metaScan(std::string_view prefix, std::vector<KeyValue> &out)
{
    out.clear();
    KvFn fn = [&](const uint8_t *k, size_t kLen, const uint8_t *v, size_t vLen) -> int32_t {
        if ((k == nullptr && kLen > 0) || (v == nullptr && vLen > 0))
            violation("meta_scan: sink got a NULL pointer with a non-zero length");
        out.push_back({bytesOf(k, kLen), bytesOf(v, vLen)});
        return 0;
    };
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b,
                  vt_->meta_scan(storage_, reinterpret_cast<const uint8_t *>(prefix.data()), prefix.size(), kvSink,
                                 &fn, b.data(), b.capacity()),
                  "meta_scan");
}

CallResult StorageInstance::sync()
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->sync(storage_, b.data(), b.capacity()), "sync");
}

bool StorageInstance::hasMaintain() const { return vt_->maintain != nullptr; }

CallResult StorageInstance::maintain(uint64_t nowMs)
{
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->maintain(storage_, nowMs, b.data(), b.capacity()), "maintain");
}

CallResult StorageInstance::control(int32_t op, void *arg)
{
    if (vt_->control == nullptr)
        return {FERRY_E_UNSUPPORTED, "harness: control is NULL in the vtable"};
    ErrorBuffer b(nullErrorBuffer_);
    return finish(b, vt_->control(storage_, op, arg, b.data(), b.capacity()), "control");
}

// ---- small utilities ---------------------------------------------------------------------------------------------

std::string pathText(const std::filesystem::path &path)
{
    const std::u8string text = path.u8string();
    return std::string(reinterpret_cast<const char *>(text.data()), text.size());
}

std::filesystem::path pathFromUtf8(const std::string &text)
{
    return std::filesystem::path(std::u8string(reinterpret_cast<const char8_t *>(text.data()), text.size()));
}

std::string hex(std::string_view bytes, size_t maxBytes)
{
    static const char digits[] = "0123456789abcdef";
    std::string out;
    const size_t n = bytes.size() < maxBytes ? bytes.size() : maxBytes;
    out.reserve(n * 2 + 3);
    for (size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    if (n < bytes.size())
        out += "...(" + std::to_string(bytes.size()) + " bytes)";
    return out;
}

bool unhex(std::string_view text, std::string &out)
{
    out.clear();
    if (text.size() % 2 != 0)
        return false;
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        return -1;
    };
    for (size_t i = 0; i < text.size(); i += 2) {
        const int hi = digit(text[i]);
        const int lo = digit(text[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return true;
}

uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t Rng::next()
{
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
}

uint64_t Rng::below(uint64_t bound) { return bound <= 1 ? 0 : next() % bound; }

bool Rng::chance(double probability) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < probability; }

void Rng::fill(char *data, size_t len)
{
    // Little-endian byte order spelled out, so a seed yields the same bytes on every platform.
    uint64_t v = 0;
    for (size_t i = 0; i < len; ++i) {
        if (i % 8 == 0)
            v = next();
        data[i] = static_cast<char>(static_cast<unsigned char>(v >> (8 * (i % 8))));
    }
}

} // namespace ferry::storagetest
